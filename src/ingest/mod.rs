//! The HTTP edge of the tracking endpoints: size caps, decoding, protocol interpretation
//! ([`matomo`], [`plausible`]), then the stages every hit goes through in order (gate →
//! protocol → bot verdict → privacy), and the append to the spool (never a wait for ClickHouse).
//!
//! Answers: the tracker gets the same 43-byte GIF (or 204 with `send_image=0`) whether its hit
//! was stored or filtered, so it cannot learn what was filtered. Only structurally malformed
//! requests get 400 (undecodable), 413 (body over 64 KiB, refused before it is read whole) or
//! 414 (query over 8 KiB), and overload gets 503 with `Retry-After`.

pub mod matomo;
pub mod params;
pub mod plausible;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{
    ACCEPT_LANGUAGE, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, HeaderName, HeaderValue, REFERER, RETRY_AFTER,
    USER_AGENT,
};
use hyper::{HeaderMap, Method, Request, Response, StatusCode};
use ipnet::IpNet;
use serde::Deserialize;

use crate::clock::Clock;
use crate::config::{Config, PrivacyConfig, SiteConfig};
use crate::enrich::Enricher;
use crate::enrich::user_agent::BotReason;
use crate::event::{Acquisition, Event};
use crate::privacy::client_ip::{self, ClientIp};
use crate::privacy::{Privacy, VisitorKey, gate};
use crate::sink::spool::Appender;
use crate::telemetry::metrics::{DeclineReason, Metrics};
use params::Params;

/// Longest query string accepted (bytes).
pub const MAX_QUERY_BYTES: usize = 8 * 1024;
/// Largest request body accepted (bytes).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The transparent 1×1 GIF every tracking pixel answers with (43 bytes).
pub const TRANSPARENT_GIF: [u8; 43] = [
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff,
    0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x02,
    0x02, 0x44, 0x01, 0x00, 0x3b,
];

pub type Body = Full<Bytes>;

/// A hit a protocol accepted, before the user-agent and privacy stages.
#[derive(Debug)]
pub struct Hit<'p> {
    /// The event with the protocol's and the landing's fields filled in.
    pub event: Event,
    /// When the hit happened (Unix seconds): now, or an authorised back-dated time.
    pub time: u64,
    /// The visitor's address as the site's server saw it (Matomo `cip`, authorised).
    pub client_ip: Option<IpAddr>,
    pub visitor: VisitorInput<'p>,
    /// A user agent given as a parameter (Matomo `ua`), replacing the header.
    pub user_agent: Option<&'p str>,
}

/// What identifies the visitor besides the address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VisitorInput<'p> {
    /// IP + user agent, the default.
    Cookieless,
    /// Matomo `cid` from the site's server (authorised).
    ServerId(&'p str),
    /// Matomo `_id` on a cookie-mode site.
    Cookie(&'p str),
}

/// `s` trimmed and cut to `max` characters.
pub fn bounded(s: &str, max: usize) -> String {
    let s = s.trim();
    match s.char_indices().nth(max) {
        Some((at, _)) => s[..at].to_string(),
        None => s.to_string(),
    }
}

/// State shared by every tracking request.
pub struct Ingest {
    sites: HashMap<u32, SiteConfig>,
    /// Every site domain → site id (the Plausible API names sites by domain).
    domains: HashMap<String, u32>,
    privacy_config: PrivacyConfig,
    trusted_proxies: Vec<IpNet>,
    bulk_max_requests: usize,
    privacy: Arc<Privacy>,
    enricher: Arc<Enricher>,
    clock: Arc<dyn Clock>,
    spool: Appender,
    metrics: Metrics,
}

/// The parts of the tracking stages a request needs (built once by the app).
pub struct Stages {
    pub privacy: Arc<Privacy>,
    pub enricher: Arc<Enricher>,
    pub clock: Arc<dyn Clock>,
}

#[derive(Deserialize)]
struct BulkRequest {
    requests: Vec<String>,
    token_auth: Option<String>,
}

impl Ingest {
    pub fn new(config: &Config, stages: Stages, spool: Appender, metrics: Metrics) -> Ingest {
        let domains = config.sites.iter().flat_map(|s| s.domains.iter().map(move |d| (d.clone(), s.id))).collect();
        Ingest {
            sites: config.sites.iter().map(|s| (s.id, s.clone())).collect(),
            domains,
            privacy_config: config.privacy.clone(),
            trusted_proxies: config.trusted_proxies.clone(),
            bulk_max_requests: config.ingest.bulk_max_requests,
            privacy: stages.privacy,
            enricher: stages.enricher,
            clock: stages.clock,
            spool,
            metrics,
        }
    }

    /// Handles `GET`/`POST` on `/matomo.php` and `/piwik.php`, single or bulk.
    pub async fn matomo(&self, request: Request<Incoming>, peer: SocketAddr) -> Response<Body> {
        if !matches!(*request.method(), Method::GET | Method::POST) {
            return plain(StatusCode::METHOD_NOT_ALLOWED, "use GET or POST\n");
        }
        if request.uri().query().is_some_and(|q| q.len() > MAX_QUERY_BYTES) {
            return plain(StatusCode::URI_TOO_LONG, "query string over 8 KiB\n");
        }
        let (parts, body) = request.into_parts();
        let body = match read_body(&parts.headers, body).await {
            Ok(body) => body,
            Err(status) => return plain(status, "request body over 64 KiB or unreadable\n"),
        };
        let Ok(body) = std::str::from_utf8(&body) else {
            return plain(StatusCode::BAD_REQUEST, "request body is not UTF-8\n");
        };
        let body = body.trim();
        if body.starts_with('{') {
            return self.matomo_bulk(body, &parts.headers, peer).await;
        }
        // Matomo reads the query string and a form body together; the body wins on conflicts.
        let mut params = match Params::parse(parts.uri.query().unwrap_or("")) {
            Ok(p) => p,
            Err(e) => return plain(StatusCode::BAD_REQUEST, &format!("malformed query string: {e}\n")),
        };
        if let Err(e) = params.extend_from(body) {
            return plain(StatusCode::BAD_REQUEST, &format!("malformed request body: {e}\n"));
        }
        let answer = if matomo::wants_image(&params) { gif } else { no_content };

        // The gate comes before any work on the hit's content; a declined hit looks the same.
        if let Some(reason) = gate::objection(&parts.headers, &self.privacy_config) {
            self.metrics.declined(reason);
            return answer();
        }
        match matomo::interpret(
            &params,
            self.matomo_headers(&parts.headers),
            None,
            &self.sites,
            &self.enricher,
            self.clock.now(),
        ) {
            Ok(hit) => {
                if let Some(event) = self.process(hit, &parts.headers, peer)
                    && !self.enqueue(vec![event])
                {
                    return overloaded();
                }
            }
            Err(reason) => self.metrics.declined(reason),
        }
        answer()
    }

    /// Matomo bulk tracking: `{"requests": ["?idsite=1&rec=1&...", ...], "token_auth": "..."}`.
    /// Each item is handled like a single request with this request's headers; the answer
    /// counts them as Matomo does (filtered hits count as tracked: the tracker learns nothing).
    async fn matomo_bulk(&self, body: &str, headers: &HeaderMap, peer: SocketAddr) -> Response<Body> {
        let bulk: BulkRequest = match serde_json::from_str(body) {
            Ok(b) => b,
            Err(e) => return plain(StatusCode::BAD_REQUEST, &format!("malformed bulk request: {e}\n")),
        };
        if bulk.requests.len() > self.bulk_max_requests {
            let message = format!(
                "{} requests in one bulk request; at most {} allowed\n",
                bulk.requests.len(),
                self.bulk_max_requests
            );
            return plain(StatusCode::BAD_REQUEST, &message);
        }
        let objection = gate::objection(headers, &self.privacy_config);
        let now = self.clock.now();
        let (mut tracked, mut invalid_indices, mut events) = (0usize, Vec::new(), Vec::new());
        for (index, item) in bulk.requests.iter().enumerate() {
            let query = item
                .trim()
                .trim_start_matches(['?', '/'])
                .trim_start_matches("matomo.php?")
                .trim_start_matches("piwik.php?");
            let Ok(params) = Params::parse(query) else {
                invalid_indices.push(index);
                continue;
            };
            if let Some(reason) = objection {
                self.metrics.declined(reason);
                tracked += 1;
                continue;
            }
            match matomo::interpret(
                &params,
                self.matomo_headers(headers),
                bulk.token_auth.as_deref(),
                &self.sites,
                &self.enricher,
                now,
            ) {
                Ok(hit) => {
                    tracked += 1;
                    events.extend(self.process(hit, headers, peer));
                }
                Err(reason) => {
                    self.metrics.declined(reason);
                    match reason {
                        DeclineReason::Invalid | DeclineReason::UnknownSite | DeclineReason::Unauthorized => {
                            invalid_indices.push(index)
                        }
                        _ => tracked += 1,
                    }
                }
            }
        }
        if !self.enqueue(events) {
            return overloaded();
        }
        self.metrics.bulk_items.with_label_values(&["tracked"]).inc_by(tracked as u64);
        self.metrics.bulk_items.with_label_values(&["invalid"]).inc_by(invalid_indices.len() as u64);
        let answer = serde_json::json!({
            "status": "success",
            "tracked": tracked,
            "invalid": invalid_indices.len(),
            "invalid_indices": invalid_indices,
        });
        json(StatusCode::OK, &answer)
    }

    /// Handles `POST /api/event` (Plausible Events API) and its CORS preflight.
    pub async fn plausible(&self, request: Request<Incoming>, peer: SocketAddr) -> Response<Body> {
        match *request.method() {
            Method::OPTIONS => return with_cors(no_content()),
            Method::POST => {}
            _ => return with_cors(plain(StatusCode::METHOD_NOT_ALLOWED, "use POST\n")),
        }
        let (parts, body) = request.into_parts();
        let body = match read_body(&parts.headers, body).await {
            Ok(body) => body,
            Err(status) => return with_cors(plain(status, "request body over 64 KiB or unreadable\n")),
        };
        let accepted = || with_cors(plain(StatusCode::ACCEPTED, "ok"));
        let hits = match plausible::interpret(&body, &self.domains, &self.sites, &self.enricher, self.clock.now()) {
            Ok(hits) => hits,
            Err(error) => return with_cors(json(StatusCode::BAD_REQUEST, &serde_json::json!({ "error": error.0 }))),
        };
        if let Some(reason) = gate::objection(&parts.headers, &self.privacy_config) {
            for _ in &hits {
                self.metrics.declined(reason);
            }
            return accepted();
        }
        let mut events = Vec::new();
        for hit in hits {
            match hit {
                Ok(hit) => events.extend(self.process(hit, &parts.headers, peer)),
                Err(reason) => self.metrics.declined(reason),
            }
        }
        if !self.enqueue(events) {
            return with_cors(overloaded());
        }
        accepted()
    }

    fn matomo_headers<'h>(&self, headers: &'h HeaderMap) -> matomo::Headers<'h> {
        matomo::Headers { referer: header_str(headers, REFERER), accept_language: header_str(headers, ACCEPT_LANGUAGE) }
    }

    /// The user-agent and privacy stages: the bot verdict first (cheap, cached), then the
    /// address is turned into a place and a visitor id and dropped. `None` when declined.
    fn process(&self, hit: Hit<'_>, headers: &HeaderMap, peer: SocketAddr) -> Option<Event> {
        if is_prefetch(headers) {
            self.metrics.bot(BotReason::Prefetch);
            return None;
        }
        let user_agent = hit.user_agent.or(header_str(headers, USER_AGENT)).unwrap_or("");
        let verdict = self.enricher.user_agents.verdict(user_agent);
        if let Some(reason) = verdict.bot {
            self.metrics.bot(reason);
            return None;
        }
        let mut event = hit.event;
        verdict.apply(&mut event);
        let client_ip = match hit.client_ip {
            Some(ip) => ClientIp::new(ip),
            None => client_ip::resolve(peer, headers, &self.trusted_proxies),
        };
        let key = match hit.visitor {
            VisitorInput::Cookieless => VisitorKey::UserAgent(user_agent),
            VisitorInput::ServerId(id) => VisitorKey::ServerId(id),
            VisitorInput::Cookie(id) => VisitorKey::Cookie(id),
        };
        // The address is moved into the privacy stage and dropped there.
        let identity = self.privacy.identify(event.site_id, client_ip, key, hit.time, Acquisition::take(&mut event));
        identity.acquisition.apply(&mut event);
        event.visitor_id = identity.visitor_id;
        event.visit_id = identity.visit_id;
        event.country_code = identity.place.country_code;
        event.region_code = identity.place.region_code;
        event.region_name = identity.place.region_name;
        event.city = identity.place.city;
        Some(event)
    }

    /// Appends accepted events to the durable spool, all or none; `false` when the spool is full,
    /// failing or closing for shutdown, which the caller answers with 503: refused explicitly,
    /// never dropped silently.
    fn enqueue(&self, events: Vec<Event>) -> bool {
        if events.is_empty() {
            return true;
        }
        let count = events.len() as u64;
        match self.spool.append(&events) {
            Ok(()) => {
                self.metrics.events_accepted.inc_by(count);
                true
            }
            Err(error) => {
                tracing::debug!(%error, "append refused");
                self.metrics.events_declined.with_label_values(&[DeclineReason::Overload.as_str()]).inc_by(count);
                false
            }
        }
    }
}

/// Headers by which browsers mark a prefetch. Constants: a look-up by `&str` parses the name
/// each time.
const PREFETCH_HEADERS: [HeaderName; 4] = [
    HeaderName::from_static("purpose"),
    HeaderName::from_static("sec-purpose"),
    HeaderName::from_static("x-purpose"),
    HeaderName::from_static("x-moz"),
];

/// `Purpose: prefetch` / `Sec-Purpose: prefetch`: the browser is guessing, nobody looked.
fn is_prefetch(headers: &HeaderMap) -> bool {
    PREFETCH_HEADERS.iter().any(|name| {
        headers.get_all(name).iter().any(|v| v.as_bytes().windows(8).any(|w| w.eq_ignore_ascii_case(b"prefetch")))
    })
}

fn header_str(headers: &HeaderMap, name: HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn with_cors(mut response: Response<Body>) -> Response<Body> {
    let headers = response.headers_mut();
    headers.insert("access-control-allow-origin", HeaderValue::from_static("*"));
    headers.insert("access-control-allow-methods", HeaderValue::from_static("POST, OPTIONS"));
    headers.insert("access-control-allow-headers", HeaderValue::from_static("Content-Type"));
    headers.insert("access-control-max-age", HeaderValue::from_static("86400"));
    response
}

/// A JSON answer.
pub fn json(status: StatusCode, value: &serde_json::Value) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from(value.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// Reads a request body of at most [`MAX_BODY_BYTES`]. A declared length over the cap is refused
/// before anything is read; a chunked body is cut off as soon as it passes the cap.
async fn read_body(headers: &HeaderMap, body: Incoming) -> Result<Bytes, StatusCode> {
    let declared = headers.get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return Err(StatusCode::PAYLOAD_TOO_LARGE);
    }
    if declared == Some(0) {
        return Ok(Bytes::new());
    }
    match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(StatusCode::PAYLOAD_TOO_LARGE),
        Err(_) => Err(StatusCode::BAD_REQUEST),
    }
}

/// The pixel answer.
pub fn gif() -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from_static(&TRANSPARENT_GIF)));
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, hyper::header::HeaderValue::from_static("image/gif"));
    headers.insert(CACHE_CONTROL, hyper::header::HeaderValue::from_static("no-store"));
    response
}

pub fn no_content() -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = StatusCode::NO_CONTENT;
    response.headers_mut().insert(CACHE_CONTROL, hyper::header::HeaderValue::from_static("no-store"));
    response
}

/// 503 with `Retry-After`: the spool cannot take the event (full, failing or closing).
pub fn overloaded() -> Response<Body> {
    let mut response = plain(StatusCode::SERVICE_UNAVAILABLE, "overloaded, retry later\n");
    response.headers_mut().insert(RETRY_AFTER, hyper::header::HeaderValue::from_static("1"));
    response
}

/// A short plain-text answer.
pub fn plain(status: StatusCode, text: &str) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from(text.to_owned())));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, hyper::header::HeaderValue::from_static("text/plain; charset=utf-8"));
    response
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_gif_is_a_43_byte_gif89a() {
        assert_eq!(super::TRANSPARENT_GIF.len(), 43);
        assert_eq!(&super::TRANSPARENT_GIF[..6], b"GIF89a");
    }
}
