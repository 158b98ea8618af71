//! Dashboard sign-in sessions: a token pasted once (or a one-time sign-in link) becomes an
//! `HttpOnly`, `SameSite=Strict` cookie (`Secure` over https), so a reload stays signed in.
//!
//! The cookie carries a random session id, never the token. The collector keeps, per session,
//! only the SHA-256 of its id, the hash of the credential it was opened with and the site: every
//! request through a session checks that credential again (a revoked token ends its sessions
//! within the verdict cache's 10 s). Sessions live in memory: a restart signs everyone out.
//! At most [`MAX_SESSIONS`]; one idle for [`IDLE`] ends.
//!
//! The handlers: `POST /api/v1/session` ([`sign_in`]), `DELETE /api/v1/session` ([`sign_out`])
//! and `GET /signin?code=…` ([`sign_in_link`]).

use std::collections::HashMap;
use std::sync::Mutex;

use hyper::header::{CONTENT_TYPE, HeaderValue, SET_COOKIE};
use hyper::{HeaderMap, StatusCode};
use serde_json::{Value, json};

use super::own::refuse;
use super::{Access, Refusal};
use crate::http::{self, Request, Response};
use crate::store::tokens::{self, hash};

/// The cookie's name.
pub(crate) const COOKIE_NAME: &str = "mesure_session";

/// Open sessions at most (the oldest is ended for a new one past it).
pub(crate) const MAX_SESSIONS: usize = 10_000;

/// A session unused this long ends (seconds).
pub(crate) const IDLE: u64 = 7 * 86_400;

/// What a session stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Session {
    /// The SHA-256 of the token (or share secret) it was opened with.
    pub credential: String,
    pub site_id: u32,
    last_used: u64,
}

/// The open sessions, by the SHA-256 of their id.
#[derive(Debug, Default)]
pub(crate) struct Sessions {
    open: Mutex<HashMap<String, Session>>,
}

impl Sessions {
    /// Opens a session for a checked credential; returns its id (for the cookie only).
    pub(crate) fn open(&self, credential: &str, site_id: u32, now: u64) -> String {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).expect("the OS random number generator is available");
        let id = hex::encode(bytes);
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        open.retain(|_, s| now.saturating_sub(s.last_used) < IDLE);
        if open.len() >= MAX_SESSIONS
            && let Some(oldest) = open.iter().min_by_key(|(_, s)| s.last_used).map(|(k, _)| k.clone())
        {
            open.remove(&oldest);
        }
        open.insert(hash(&id), Session { credential: credential.to_string(), site_id, last_used: now });
        id
    }

    /// The session of an id, if it is open (and now used).
    pub(crate) fn get(&self, id: &str, now: u64) -> Option<Session> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let key = hash(id);
        match open.get_mut(&key) {
            Some(s) if now.saturating_sub(s.last_used) < IDLE => {
                s.last_used = now;
                Some(s.clone())
            }
            Some(_) => {
                open.remove(&key);
                None
            }
            None => None,
        }
    }

    /// Ends a session.
    pub(crate) fn end(&self, id: &str) {
        self.open.lock().unwrap_or_else(|e| e.into_inner()).remove(&hash(id));
    }
}

/// The session id a request's cookie carries.
pub(crate) fn id_of(headers: &HeaderMap) -> Option<&str> {
    http::cookies::cookie(headers, COOKIE_NAME)
}

/// The `Set-Cookie` value that opens a session (a browser-session cookie: no expiry).
pub(crate) fn cookie(id: &str, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!("{COOKIE_NAME}={id}; Path=/; HttpOnly; SameSite=Strict{secure}"))
        .expect("a hex id is a valid header value")
}

/// The `Set-Cookie` value that removes it.
pub(crate) fn removal(secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!("{COOKIE_NAME}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict{secure}"))
        .expect("a valid header value")
}

/// `POST /api/v1/session` `{"token": "..."}`: a valid token (or share secret) opens a session
/// whose cookie signs the dashboard in. JSON only: a cross-site form cannot send it without a
/// CORS preflight. `secure`: the request came over https.
pub async fn sign_in(access: &Access, request: &Request, secure: bool) -> Response {
    let json_body = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !json_body {
        let mut response = refuse(&Refusal::invalid("content-type", "application/json"));
        *response.status_mut() = StatusCode::UNSUPPORTED_MEDIA_TYPE;
        return response;
    }
    let token =
        serde_json::from_slice::<Value>(request.body()).ok().and_then(|v| v["token"].as_str().map(str::to_owned));
    let Some(token) = token.filter(|t| !t.trim().is_empty()) else {
        return refuse(&Refusal::invalid("token", "required: {\"token\": \"...\"}"));
    };
    let digest = tokens::hash(&token);
    match access.site_of(&digest).await {
        Ok(Some(site)) => {
            if let Some(old) = id_of(request.headers()) {
                access.sessions.end(old);
            }
            let id = access.sessions.open(&digest, site, access.clock.now());
            let mut response = http::json(StatusCode::OK, &json!({ "signed_in": true, "site_id": site }));
            response.headers_mut().insert(SET_COOKIE, cookie(&id, secure));
            response
        }
        Ok(None) => {
            let mut response = refuse(&Refusal::invalid("token", "unknown or revoked token"));
            *response.status_mut() = StatusCode::UNAUTHORIZED;
            response
        }
        Err(refusal) => refuse(&refusal),
    }
}

/// `DELETE /api/v1/session`: ends the session and removes its cookie.
pub fn sign_out(access: &Access, request: &Request, secure: bool) -> Response {
    if let Some(id) = id_of(request.headers()) {
        access.sessions.end(id);
    }
    let mut response = http::json(StatusCode::OK, &json!({ "signed_in": false }));
    response.headers_mut().insert(SET_COOKIE, removal(secure));
    response
}

/// `GET /signin?code=…`: a one-time sign-in link opens a session and goes to the site's
/// dashboard; a used, expired or unknown link says so.
pub async fn sign_in_link(access: &Access, request: &Request, secure: bool) -> Response {
    let query = request.uri().query().unwrap_or("");
    let code = form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == "code").map(|(_, v)| v.into_owned());
    let Some(code) = code.filter(|c| !c.is_empty() && c.len() <= 128) else {
        return http::no_store(http::plain(StatusCode::BAD_REQUEST, "This sign-in link is incomplete.\n"));
    };
    let code_digest = tokens::hash(&code);
    if let super::budget::Known::OverBudget = access.credentials.known(&code_digest) {
        access.metrics.auth_failures.inc();
        return refuse(&Refusal::TooManyGuesses);
    }
    let now = access.clock.now();
    let redeemed = match access.store.redeem_sign_in_link(&code, now).await {
        Ok(found) => found,
        Err(e) => {
            tracing::warn!(error = %e, "sign-in link check failed");
            return refuse(&Refusal::Failed);
        }
    };
    let site = match &redeemed {
        Some((token_hash, site)) => match access.site_of(token_hash).await {
            Ok(Some(valid)) if valid == *site => Some(valid),
            _ => None,
        },
        None => None,
    };
    let (Some((token_hash, _)), Some(site)) = (redeemed, site) else {
        access.credentials.looked_up(&code_digest, None);
        access.metrics.auth_failures.inc();
        return http::no_store(http::plain(
            StatusCode::BAD_REQUEST,
            "This sign-in link was already used, has expired, or its token was revoked. \
             Ask for a new one: mesure token create --site N --sign-in-link\n",
        ));
    };
    let id = access.sessions.open(&token_hash, site, now);
    let location = HeaderValue::from_str(&format!("/?site={site}")).expect("a valid location");
    let mut response = http::see_other(location);
    response.headers_mut().insert(SET_COOKIE, cookie(&id, secure));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_stands_for_its_credential_until_ended_or_idle() {
        let sessions = Sessions::default();
        let id = sessions.open("digest", 3, 1_000);
        assert_eq!(id.len(), 64);
        let session = sessions.get(&id, 2_000).unwrap();
        assert_eq!((session.credential.as_str(), session.site_id), ("digest", 3));
        assert!(sessions.get("not-an-id", 2_000).is_none());
        // Idle for a week: gone.
        assert!(sessions.get(&id, 2_000 + IDLE).is_none());
        let id = sessions.open("digest", 3, 10_000);
        sessions.end(&id);
        assert!(sessions.get(&id, 10_001).is_none());
        // Only hashes of ids are kept.
        let open = sessions.open.lock().unwrap();
        assert!(open.keys().all(|k| k.len() == 64 && *k != id));
    }

    #[test]
    fn the_cookie_is_http_only_strict_and_secure_over_https() {
        use hyper::header::COOKIE;
        let set = cookie("abc", true);
        assert_eq!(set, "mesure_session=abc; Path=/; HttpOnly; SameSite=Strict; Secure");
        assert_eq!(cookie("abc", false), "mesure_session=abc; Path=/; HttpOnly; SameSite=Strict");
        let mut headers = HeaderMap::new();
        headers.insert(COOKIE, HeaderValue::from_static("a=b; mesure_session=abc; c=d"));
        assert_eq!(id_of(&headers), Some("abc"));
        headers.insert(COOKIE, HeaderValue::from_static("xmesure_session=abc"));
        assert_eq!(id_of(&headers), None);
    }
}
