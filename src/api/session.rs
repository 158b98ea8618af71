//! Dashboard sign-in sessions: a token pasted once (or a one-time sign-in link) becomes an
//! `HttpOnly`, `SameSite=Strict` cookie, so a reload stays signed in. Over https the cookie is
//! `__Host-mesure_session` (`Secure`, host-only, `Path=/`: a sibling host cannot set or shadow
//! it); over plain http (a local test) it is `mesure_session`.
//!
//! The cookie carries a random session id, never the token. The collector keeps, per session,
//! only the SHA-256 of its id, the hash of the credential it was opened with and the site: every
//! request through a session checks that credential again (a revoked token ends its sessions
//! within the token index's 10 s). Sessions live in memory: a restart signs everyone out.
//!
//! Caps: at most [`PER_CREDENTIAL`] sessions per credential (a new one ends that credential's
//! least recently used), so signing in with one token or share link never ends a session of
//! another; at most [`MAX_SESSIONS`] in all, past which a sign-in is refused, never another's
//! session ended. One idle for [`IDLE`] ends.
//!
//! The handlers: `POST /api/v1/session` ([`sign_in`]), `DELETE /api/v1/session` ([`sign_out`]),
//! `GET /signin?code=…` and its confirmation `POST /signin` ([`sign_in_link`]). A link is
//! redeemed once, even when opened twice at the same moment; a browser already signed in is
//! asked to confirm first (a link sent by someone else would otherwise swap its session for
//! theirs).

use std::collections::HashMap;
use std::sync::Mutex;

use hyper::header::{CONTENT_TYPE, HeaderValue, SET_COOKIE};
use hyper::{HeaderMap, StatusCode};
use serde_json::{Value, json};

use super::access::{Caller, Scope};
use super::own::refuse;
use super::{Access, Refusal};
use crate::http::{self, Request, Response};
use crate::store::tokens::{self, hash};

/// The cookie's name over plain http, and over https.
pub(crate) const COOKIE_NAME: &str = "mesure_session";
pub(crate) const SECURE_COOKIE_NAME: &str = "__Host-mesure_session";

/// Open sessions at most, in all (a sign-in past it is refused).
pub(crate) const MAX_SESSIONS: usize = 10_000;
/// Open sessions at most per credential (its least recently used ends for a new one).
pub(crate) const PER_CREDENTIAL: usize = 64;

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
    /// Taken while a sign-in link is redeemed (found unused, then marked used).
    pub(crate) redeeming: tokio::sync::Mutex<()>,
}

impl Sessions {
    /// Opens a session for a checked credential; returns its id (for the cookie only), or
    /// `None` when [`MAX_SESSIONS`] are open.
    pub(crate) fn open(&self, credential: &str, site_id: u32, now: u64) -> Option<String> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).expect("the OS random number generator is available");
        let id = hex::encode(bytes);
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        open.retain(|_, s| now.saturating_sub(s.last_used) < IDLE);
        let same: Vec<(&String, u64)> =
            open.iter().filter(|(_, s)| s.credential == credential).map(|(k, s)| (k, s.last_used)).collect();
        if same.len() >= PER_CREDENTIAL {
            let oldest = same.iter().min_by_key(|(_, used)| *used).map(|(k, _)| (*k).clone());
            if let Some(oldest) = oldest {
                open.remove(&oldest);
            }
        } else if open.len() >= MAX_SESSIONS {
            return None;
        }
        open.insert(hash(&id), Session { credential: credential.to_string(), site_id, last_used: now });
        Some(id)
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

/// The session id a request's cookie carries (over https, only the `__Host-` cookie counts).
pub(crate) fn id_of(headers: &HeaderMap, https: bool) -> Option<&str> {
    http::cookies::cookie(headers, cookie_name(https))
}

fn cookie_name(secure: bool) -> &'static str {
    if secure { SECURE_COOKIE_NAME } else { COOKIE_NAME }
}

/// The `Set-Cookie` value that opens a session (a browser-session cookie: no expiry).
pub(crate) fn cookie(id: &str, secure: bool) -> HeaderValue {
    let (name, secure) = (cookie_name(secure), if secure { "; Secure" } else { "" });
    HeaderValue::from_str(&format!("{name}={id}; Path=/; HttpOnly; SameSite=Strict{secure}"))
        .expect("a hex id is a valid header value")
}

/// The `Set-Cookie` value that removes it.
pub(crate) fn removal(secure: bool) -> HeaderValue {
    let (name, secure) = (cookie_name(secure), if secure { "; Secure" } else { "" });
    HeaderValue::from_str(&format!("{name}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict{secure}"))
        .expect("a valid header value")
}

/// A new session's answer: `answer` with its cookie, or 503 when no session can be opened.
fn with_session(access: &Access, credential: &str, site: u32, secure: bool, answer: Response) -> Response {
    let Some(id) = access.sessions.open(credential, site, access.clock.now()) else {
        let mut full = refuse(&Refusal::invalid("session", "too many dashboard sessions are open; try again later"));
        *full.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
        return full;
    };
    let mut answer = answer;
    answer.headers_mut().insert(SET_COOKIE, cookie(&id, secure));
    answer
}

/// `POST /api/v1/session` `{"token": "..."}`: a valid token (or share secret) opens a session
/// whose cookie signs the dashboard in. JSON only: a cross-site form cannot send it without a
/// CORS preflight.
pub async fn sign_in(access: &Access, request: &Request, caller: Caller) -> Response {
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
    // A token of several sites signs in to the first of them; the dashboard reads them all.
    let live = access.live.current();
    let first = |scope: &Scope| live.sites.iter().map(|s| s.id).find(|id| scope.covers(*id));
    match access.scope_of(&digest, caller.client).await.map(|scope| scope.as_ref().and_then(first)) {
        Ok(Some(site)) => {
            if let Some(old) = id_of(request.headers(), caller.https) {
                access.sessions.end(old);
            }
            let answer = http::json(StatusCode::OK, &json!({ "signed_in": true, "site_id": site }));
            with_session(access, &digest, site, caller.https, answer)
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
pub fn sign_out(access: &Access, request: &Request, caller: Caller) -> Response {
    if let Some(id) = id_of(request.headers(), caller.https) {
        access.sessions.end(id);
    }
    let mut response = http::json(StatusCode::OK, &json!({ "signed_in": false }));
    response.headers_mut().insert(SET_COOKIE, removal(caller.https));
    response
}

/// The length of a sign-in link's code: 24 random bytes in hex.
const CODE_LEN: usize = 48;

/// `GET /signin?code=…`: a one-time sign-in link opens a session and goes to the site's
/// dashboard; a used, expired or unknown link says so. A browser already signed in is asked to
/// confirm, with a form that posts the code to `POST /signin` from this origin.
pub async fn sign_in_link(access: &Access, request: &Request, caller: Caller) -> Response {
    let confirmed = request.method() == hyper::Method::POST;
    let code = if confirmed {
        // The confirmation's form, from our own page only (a cross-site form could sign a
        // browser into someone else's session).
        if !same_origin(request.headers()) {
            return http::no_store(http::plain(
                StatusCode::FORBIDDEN,
                "This sign-in must be confirmed on this site.\n",
            ));
        }
        form_urlencoded::parse(request.body()).find(|(k, _)| k == "code").map(|(_, v)| v.into_owned())
    } else {
        let query = request.uri().query().unwrap_or("");
        form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == "code").map(|(_, v)| v.into_owned())
    };
    let Some(code) = code.filter(|c| c.len() == CODE_LEN && c.bytes().all(|b| b.is_ascii_hexdigit())) else {
        return http::no_store(http::plain(StatusCode::BAD_REQUEST, "This sign-in link is incomplete.\n"));
    };
    if !access.credentials.may_guess(caller.client) {
        return refuse(&access.wrong_guess(caller.client));
    }
    let now = access.clock.now();
    let signed_in = id_of(request.headers(), caller.https).filter(|id| access.sessions.get(id, now).is_some());
    if signed_in.is_some() && !confirmed {
        return confirmation(&code);
    }
    let redeemed = {
        // One redemption at a time: two requests with the same link cannot both find it unused.
        let _turn = access.sessions.redeeming.lock().await;
        access.store.redeem_sign_in_link(&code, now).await
    };
    let redeemed = match redeemed {
        Ok(found) => found,
        Err(e) => {
            tracing::warn!(error = %e, "sign-in link check failed");
            return refuse(&Refusal::Failed);
        }
    };
    let valid = match &redeemed {
        Some((token_hash, site)) => {
            matches!(access.scope_of(token_hash, caller.client).await, Ok(Some(scope)) if scope.covers(*site))
        }
        None => false,
    };
    let (Some((token_hash, site)), true) = (redeemed, valid) else {
        access.wrong_guess(caller.client);
        return http::no_store(http::plain(
            StatusCode::BAD_REQUEST,
            "This sign-in link was already used, has expired, or its token was revoked. \
             Ask for a new one: mesure token create --site N --sign-in-link\n",
        ));
    };
    if let Some(old) = signed_in {
        access.sessions.end(old);
    }
    let location = HeaderValue::from_str(&format!("/?site={site}")).expect("a valid location");
    with_session(access, &token_hash, site, caller.https, http::see_other(location))
}

/// Whether a form post comes from this collector's own page: the browser says so
/// (`Sec-Fetch-Site: same-origin`), or its `Origin` names the host it was sent to.
fn same_origin(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        return site.as_bytes() == b"same-origin";
    }
    let host = headers.get(hyper::header::HOST).and_then(|h| h.to_str().ok());
    let origin = headers.get(hyper::header::ORIGIN).and_then(|o| o.to_str().ok());
    match (origin, host) {
        (Some(origin), Some(host)) => {
            origin.strip_prefix("https://").or_else(|| origin.strip_prefix("http://")) == Some(host)
        }
        _ => false,
    }
}

/// The page that asks a signed-in browser to confirm a sign-in link. It cannot be framed (a
/// hidden frame could have the button clicked) and sends no referrer (the code is in the URL).
fn confirmation(code: &str) -> Response {
    let page = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Confirm sign-in</title>\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"></head><body><main>\
         <h1>Confirm sign-in</h1><p>This browser is already signed in to a dashboard. \
         This link signs it in with another token, ending the current session.</p>\
         <form method=\"post\" action=\"/signin\"><input type=\"hidden\" name=\"code\" value=\"{code}\">\
         <button type=\"submit\">Sign in with this link</button></form>\
         <p><a href=\"/\">Keep the current session</a></p></main></body></html>"
    );
    let mut response = hyper::Response::new(http::Body::from(page));
    let h = response.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    h.insert(
        "content-security-policy",
        HeaderValue::from_static("default-src 'none'; form-action 'self'; frame-ancestors 'none'"),
    );
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    http::no_store(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_stands_for_its_credential_until_ended_or_idle() {
        let sessions = Sessions::default();
        let id = sessions.open("digest", 3, 1_000).unwrap();
        assert_eq!(id.len(), 64);
        let session = sessions.get(&id, 2_000).unwrap();
        assert_eq!((session.credential.as_str(), session.site_id), ("digest", 3));
        assert!(sessions.get("not-an-id", 2_000).is_none());
        // Idle for a week: gone.
        assert!(sessions.get(&id, 2_000 + IDLE).is_none());
        let id = sessions.open("digest", 3, 10_000).unwrap();
        sessions.end(&id);
        assert!(sessions.get(&id, 10_001).is_none());
        // Only hashes of ids are kept.
        let open = sessions.open.lock().unwrap();
        assert!(open.keys().all(|k| k.len() == 64 && *k != id));
    }

    #[test]
    fn signing_in_with_one_credential_never_ends_another_credentials_session() {
        let sessions = Sessions::default();
        let analyst = sessions.open("token", 1, 1_000).unwrap();
        // Anyone with a share link signs in far more often than the caps.
        for i in 0..3 * PER_CREDENTIAL as u64 {
            sessions.open("share link", 1, 2_000 + i).unwrap();
        }
        assert!(sessions.get(&analyst, 10_000).is_some(), "the analyst's session survives");
        let open = sessions.open.lock().unwrap();
        assert_eq!(open.values().filter(|s| s.credential == "share link").count(), PER_CREDENTIAL);
        drop(open);
        // Full: a new sign-in is refused, nobody's session is ended.
        let mut open = sessions.open.lock().unwrap();
        for i in 0..MAX_SESSIONS {
            open.insert(format!("filler{i}"), Session { credential: format!("c{i}"), site_id: 1, last_used: 10_000 });
        }
        drop(open);
        assert!(sessions.open("another", 1, 10_001).is_none());
        assert!(sessions.get(&analyst, 10_002).is_some());
    }

    #[test]
    fn the_cookie_is_host_only_and_secure_over_https_and_plain_over_http() {
        use hyper::header::COOKIE;
        let set = cookie("abc", true);
        assert_eq!(set, "__Host-mesure_session=abc; Path=/; HttpOnly; SameSite=Strict; Secure");
        assert_eq!(cookie("abc", false), "mesure_session=abc; Path=/; HttpOnly; SameSite=Strict");
        let mut headers = HeaderMap::new();
        headers.insert(COOKIE, HeaderValue::from_static("a=b; mesure_session=abc; c=d"));
        assert_eq!(id_of(&headers, false), Some("abc"));
        // Over https only the host-only cookie counts: a sibling host may have set the other.
        assert_eq!(id_of(&headers, true), None);
        headers.insert(COOKIE, HeaderValue::from_static("__Host-mesure_session=def; mesure_session=abc"));
        assert_eq!(id_of(&headers, true), Some("def"));
        headers.insert(COOKIE, HeaderValue::from_static("xmesure_session=abc"));
        assert_eq!(id_of(&headers, false), None);
    }

    #[test]
    fn a_confirmation_comes_from_this_origin_only() {
        let with = |pairs: &[(&'static str, &'static str)]| {
            let mut h = HeaderMap::new();
            for (k, v) in pairs {
                h.insert(*k, HeaderValue::from_static(v));
            }
            same_origin(&h)
        };
        assert!(with(&[("sec-fetch-site", "same-origin")]));
        assert!(!with(&[
            ("sec-fetch-site", "cross-site"),
            ("origin", "https://stats.example"),
            ("host", "stats.example")
        ]));
        assert!(with(&[("origin", "https://stats.example"), ("host", "stats.example")]));
        assert!(!with(&[("origin", "https://evil.example"), ("host", "stats.example")]));
        assert!(!with(&[("host", "stats.example")]), "no origin: not shown to be ours");
    }
}
