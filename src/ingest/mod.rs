//! The HTTP edge of the tracking endpoints: size caps, decoding, protocol interpretation, and
//! hand-off to the writer without waiting for it.
//!
//! Answers: the tracker gets the same 43-byte GIF (or 204 with `send_image=0`) whether its hit
//! was stored or filtered, so it cannot learn what was filtered. Only structurally malformed
//! requests get 400 (undecodable), 413 (body over 64 KiB, refused before it is read whole) or
//! 414 (query over 8 KiB), and overload gets 503 with `Retry-After`.

pub mod matomo;
pub mod params;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{
    ACCEPT_LANGUAGE, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, HeaderName, REFERER, RETRY_AFTER, USER_AGENT,
};
use hyper::{HeaderMap, Method, Request, Response, StatusCode};
use ipnet::IpNet;
use tokio::sync::mpsc;

use crate::clock::Clock;
use crate::config::{Config, PrivacyConfig, SiteConfig};
use crate::event::Event;
use crate::privacy::client_ip::{self, ClientIp};
use crate::privacy::{Privacy, VisitorKey, gate};
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

/// State shared by every tracking request.
pub struct Ingest {
    sites: HashMap<u32, SiteConfig>,
    privacy_config: PrivacyConfig,
    trusted_proxies: Vec<IpNet>,
    privacy: Arc<Privacy>,
    clock: Arc<dyn Clock>,
    events: mpsc::Sender<Event>,
    metrics: Metrics,
}

impl Ingest {
    pub fn new(
        config: &Config,
        privacy: Arc<Privacy>,
        clock: Arc<dyn Clock>,
        events: mpsc::Sender<Event>,
        metrics: Metrics,
    ) -> Ingest {
        Ingest {
            sites: config.sites.iter().map(|s| (s.id, s.clone())).collect(),
            privacy_config: config.privacy.clone(),
            trusted_proxies: config.trusted_proxies.clone(),
            privacy,
            clock,
            events,
            metrics,
        }
    }

    /// Handles `GET`/`POST` on `/matomo.php` and `/piwik.php`.
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
        // Matomo reads the query string and a form body together; the body wins on conflicts.
        let mut params = match Params::parse(parts.uri.query().unwrap_or("")) {
            Ok(p) => p,
            Err(e) => return plain(StatusCode::BAD_REQUEST, &format!("malformed query string: {e}\n")),
        };
        if let Err(e) = params.extend_from(body.trim()) {
            return plain(StatusCode::BAD_REQUEST, &format!("malformed request body: {e}\n"));
        }
        let answer = if matomo::wants_image(&params) { gif } else { no_content };

        // The gate comes before any work on the hit's content; a declined hit looks the same.
        if let Some(reason) = gate::objection(&parts.headers, &self.privacy_config) {
            self.metrics.declined(reason);
            return answer();
        }
        let headers = matomo::Headers {
            referer: header_str(&parts.headers, REFERER),
            accept_language: header_str(&parts.headers, ACCEPT_LANGUAGE),
        };
        let hit = match matomo::interpret(&params, headers, &self.sites, self.clock.now()) {
            Ok(hit) => hit,
            Err(reason) => {
                self.metrics.declined(reason);
                return answer();
            }
        };
        let client_ip = match hit.client_ip {
            Some(ip) => ClientIp::new(ip),
            None => client_ip::resolve(peer, &parts.headers, &self.trusted_proxies),
        };
        let user_agent = hit.user_agent.or(header_str(&parts.headers, USER_AGENT)).unwrap_or("");
        let key = match hit.visitor_id {
            Some(id) => VisitorKey::ServerId(id),
            None => VisitorKey::UserAgent(user_agent),
        };
        let mut event = hit.event;
        // The address is moved into the privacy stage and dropped there.
        let identity = self.privacy.identify(event.site_id, client_ip, key, hit.time);
        event.visitor_id = identity.visitor_id;
        event.visit_id = identity.visit_id;
        event.country_code = identity.place.country_code;
        event.region_code = identity.place.region_code;
        event.region_name = identity.place.region_name;
        event.city = identity.place.city;
        if !self.enqueue(event) {
            return overloaded();
        }
        answer()
    }

    /// Queues an accepted event for the writer; `false` when the queue is full (or closing for
    /// shutdown), which the caller answers with 503: refused explicitly, never dropped silently.
    fn enqueue(&self, event: Event) -> bool {
        if self.events.try_send(event).is_ok() {
            self.metrics.events_accepted.inc();
            true
        } else {
            self.metrics.declined(DeclineReason::Overload);
            false
        }
    }
}

fn header_str(headers: &HeaderMap, name: HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
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

/// 503 with `Retry-After`: the queue to the writer is full.
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
