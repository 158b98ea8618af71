//! The HTTP edge of the tracking endpoints: size caps and decoding, then the hit
//! [`crate::pipeline`] (which owns the order: gate → protocol adapter → … → `Event`), then the
//! append to the spool (never a wait for ClickHouse) and the answer. The protocol adapters are
//! [`matomo`], [`plausible`], [`piano`] and [`xiti`] (AT Internet's classic hits).
//!
//! Answers: the tracker gets the same 43-byte GIF (or 204 with `send_image=0`) whether its hit
//! was stored or filtered, so it cannot learn what was filtered. Only structurally malformed
//! requests get 400 (undecodable), 413 (body over [`MAX_BODY_BYTES`], refused by the route
//! table before it is read whole) or 414 (query over [`MAX_QUERY_BYTES`]), and overload gets 503
//! with `Retry-After`. The handlers get the request with its body read, so a test can call them.

pub mod matomo;
pub mod piano;
pub mod plausible;
pub mod xiti;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{
    ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, CACHE_CONTROL, CONTENT_TYPE, HeaderValue, ORIGIN, REFERER, RETRY_AFTER,
};
use hyper::{Method, StatusCode};
use serde::Deserialize;

use crate::event::Event;
use crate::http::{Params, Request, Response, empty as no_content, header_str, json, plain};
use crate::live::{Live, LiveSettings};
use crate::pipeline::{Hit, Origin, Outcome, Pipeline};
use crate::sink::spool::Appender;
use crate::sites::Sites;
use crate::telemetry::metrics::{DeclineReason, Metrics};

/// Longest query string accepted (bytes).
pub(crate) const MAX_QUERY_BYTES: usize = 8 * 1024;
/// Largest request body accepted (bytes).
pub(crate) const MAX_BODY_BYTES: usize = 64 * 1024;
/// Largest Matomo bulk body accepted when it carries a site's `token_auth` (a server, Matomo's
/// log importer), read within the shared budget of large bodies.
pub(crate) const MAX_AUTHENTICATED_BULK_BYTES: usize = 1024 * 1024;

/// The transparent 1×1 GIF every tracking pixel answers with (43 bytes).
pub(crate) const TRANSPARENT_GIF: [u8; 43] = [
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff,
    0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x02,
    0x02, 0x44, 0x01, 0x00, 0x3b,
];

pub(crate) use crate::enrich::bounded;

/// Longest page title kept (characters), whatever the protocol; Matomo truncates too.
pub(crate) const MAX_TITLE_CHARS: usize = 512;
/// Longest page-view id kept (Matomo's are 6 alphanumerics, Piano's 16).
const MAX_PAGE_VIEW_ID_CHARS: usize = 32;

/// A tracker's page-view id if it looks like one (alphanumerics, at most 32), else none: it
/// only ties a page's events together, so anything else is not kept.
pub(crate) fn page_view_id(raw: Option<&str>) -> String {
    raw.map(str::trim)
        .filter(|id| id.len() <= MAX_PAGE_VIEW_ID_CHARS && id.bytes().all(|b| b.is_ascii_alphanumeric()))
        .unwrap_or_default()
        .to_string()
}

/// State shared by every tracking request.
pub struct Ingest {
    pipeline: Pipeline,
    live: Arc<LiveSettings>,
    bulk: BulkLimits,
    spool: Appender,
    metrics: Metrics,
}

#[derive(Deserialize)]
struct BulkRequest {
    /// Each a query string (`?idsite=…`, a path or a tracker URL with one), or, as Matomo's log
    /// importer sends them, an object of parameters.
    requests: Vec<serde_json::Value>,
    token_auth: Option<String>,
}

/// The most items in one Matomo bulk request: from anyone (a browser's queue), and with a
/// site's `token_auth`.
#[derive(Debug, Clone, Copy)]
pub struct BulkLimits {
    pub anonymous: usize,
    pub authenticated: usize,
}

impl Default for BulkLimits {
    fn default() -> BulkLimits {
        BulkLimits {
            anonymous: crate::config::DEFAULT_BULK_MAX_REQUESTS as usize,
            authenticated: crate::config::DEFAULT_BULK_MAX_REQUESTS_AUTHENTICATED as usize,
        }
    }
}

/// The token of a bulk body, read without building its items (a large body is only parsed
/// whole once it is known to carry a site's token).
#[derive(Deserialize)]
struct BulkToken {
    token_auth: Option<String>,
}

impl Ingest {
    pub fn new(
        pipeline: Pipeline,
        live: Arc<LiveSettings>,
        bulk: BulkLimits,
        spool: Appender,
        metrics: Metrics,
    ) -> Ingest {
        Ingest { pipeline, live, bulk, spool, metrics }
    }

    /// Handles `/matomo.php`, `/piwik.php` and the tracker-proxy paths: `GET`/`POST`, single or
    /// bulk, and the CORS preflight of `matomo.js`'s XHR requests. Answers to `POST` carry the
    /// CORS headers Matomo sends (the requesting origin, with credentials), so the tracker's XHR
    /// succeeds instead of falling back to an image request that would send the hit again.
    pub async fn matomo(&self, request: &Request, peer: SocketAddr) -> Response {
        match *request.method() {
            Method::OPTIONS => matomo_preflight(),
            Method::POST => {
                let origin = request.headers().get(ORIGIN).cloned();
                let mut response = self.matomo_hit(request, peer).await;
                let headers = response.headers_mut();
                headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin.unwrap_or(HeaderValue::from_static("*")));
                headers.insert(ACCESS_CONTROL_ALLOW_CREDENTIALS, HeaderValue::from_static("true"));
                response
            }
            Method::GET => self.matomo_hit(request, peer).await,
            _ => plain(StatusCode::METHOD_NOT_ALLOWED, "use GET or POST\n"),
        }
    }

    async fn matomo_hit(&self, request: &Request, peer: SocketAddr) -> Response {
        let Ok(body) = std::str::from_utf8(request.body()) else {
            return plain(StatusCode::BAD_REQUEST, "request body is not UTF-8\n");
        };
        let body = body.trim();
        let origin = Origin { headers: request.headers(), peer };
        if body.starts_with('{') {
            return self.matomo_bulk(body, origin).await;
        }
        if body.len() > MAX_BODY_BYTES {
            return too_large();
        }
        // Matomo reads the query string and a form body together; the body wins on conflicts.
        let mut params = match Params::parse(request.uri().query().unwrap_or("")) {
            Ok(p) => p,
            Err(e) => return plain(StatusCode::BAD_REQUEST, &format!("malformed query string: {e}\n")),
        };
        if let Err(e) = params.extend_from(body) {
            return plain(StatusCode::BAD_REQUEST, &format!("malformed request body: {e}\n"));
        }
        let answer = if matomo::wants_image(&params) { gif } else { no_content };
        let referer = header_str(request.headers(), REFERER);
        let live = self.live.current();
        let Ok(tracked) = self
            .track(&live, origin, |sites, now| {
                Ok::<_, Infallible>(vec![matomo::interpret(&params, referer, None, sites, now)])
            })
            .await;
        match tracked {
            Tracked::Spooled(_) => answer(),
            Tracked::Overloaded => overloaded(),
        }
    }

    /// Matomo bulk tracking: `{"requests": ["?idsite=1&rec=1&...", ...], "token_auth": "..."}`.
    /// Each item is handled like a single request with this request's headers.
    ///
    /// From anyone (a browser's queue), at most `ingest.bulk_max_requests` items in 64 KiB, and
    /// the answer counts filtered hits as tracked, as Matomo does: the page learns nothing. With
    /// a site's `token_auth` (a server, Matomo's log importer), up to
    /// `ingest.bulk_max_requests_authenticated` items in 1 MiB, and the answer is exact:
    /// `tracked` counts what was stored, `invalid_indices` everything else, so the importer's
    /// report adds up.
    async fn matomo_bulk(&self, body: &str, origin: Origin<'_>) -> Response {
        let live = self.live.current();
        let is_sites =
            |token: &Option<String>| token.as_deref().is_some_and(|t| matomo::token_of_a_site(&live.sites, t));
        // A large body is parsed whole only once it is known to carry a site's token.
        if body.len() > MAX_BODY_BYTES {
            match serde_json::from_str::<BulkToken>(body) {
                Ok(BulkToken { token_auth }) if is_sites(&token_auth) => {}
                Ok(_) => return too_large(),
                Err(e) => return plain(StatusCode::BAD_REQUEST, &format!("malformed bulk request: {e}\n")),
            }
        }
        let bulk: BulkRequest = match serde_json::from_str(body) {
            Ok(b) => b,
            Err(e) => return plain(StatusCode::BAD_REQUEST, &format!("malformed bulk request: {e}\n")),
        };
        let authenticated = is_sites(&bulk.token_auth);
        let max = if authenticated { self.bulk.authenticated } else { self.bulk.anonymous };
        if bulk.requests.len() > max {
            let message = format!("{} requests in one bulk request; at most {max} allowed\n", bulk.requests.len());
            return plain(StatusCode::BAD_REQUEST, &message);
        }
        // Decoding only (which items are readable at all); their content is the adapter's.
        let mut invalid_indices = Vec::new();
        let texts: Vec<Option<std::borrow::Cow<'_, str>>> = bulk.requests.iter().map(bulk_item_query).collect();
        let mut items = Vec::with_capacity(bulk.requests.len());
        for (index, query) in texts.iter().enumerate() {
            let Some(query) = query else {
                invalid_indices.push(index);
                continue;
            };
            match Params::parse(query) {
                Ok(params) => items.push((index, params)),
                Err(_) => invalid_indices.push(index),
            }
        }
        let referer = header_str(origin.headers, REFERER);
        let token = bulk.token_auth.as_deref();
        let outcome = self
            .pipeline
            .run(&live.sites, &live.config.privacy, origin, |sites, now| {
                Ok::<_, Infallible>(
                    items.iter().map(|(_, params)| matomo::interpret(params, referer, token, sites, now)).collect(),
                )
            })
            .await;
        let Ok(outcome) = outcome;
        let mut tracked = 0usize;
        let mut events = Vec::new();
        match outcome {
            Outcome::Objected(_) if authenticated => invalid_indices.extend(items.iter().map(|(index, _)| *index)),
            Outcome::Objected(_) => tracked = items.len(),
            Outcome::Hits(results) => {
                for ((index, _), result) in items.iter().zip(results) {
                    match result {
                        Ok(event) => {
                            tracked += 1;
                            events.push(event);
                        }
                        Err(DeclineReason::Invalid | DeclineReason::UnknownSite | DeclineReason::Unauthorized) => {
                            invalid_indices.push(*index)
                        }
                        Err(_) if authenticated => invalid_indices.push(*index),
                        Err(_) => tracked += 1,
                    }
                }
            }
        }
        invalid_indices.sort_unstable();
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
    pub async fn plausible(&self, request: &Request, peer: SocketAddr) -> Response {
        let origin = request.headers().get(ORIGIN).cloned();
        let from_a_page = origin.is_some();
        with_cors(self.plausible_event(request, peer, from_a_page).await, origin)
    }

    async fn plausible_event(&self, request: &Request, peer: SocketAddr, from_a_page: bool) -> Response {
        match *request.method() {
            Method::OPTIONS => return no_content(),
            Method::POST => {}
            _ => return plain(StatusCode::METHOD_NOT_ALLOWED, "use POST\n"),
        }
        let (live, mut decoded) = (self.live.current(), None);
        let tracked = self
            .track(&live, Origin { headers: request.headers(), peer }, |sites, now| {
                let event = decoded.insert(plausible::decode(request.body())?);
                Ok::<_, plausible::BadEvent>(plausible::interpret(event, sites, now))
            })
            .await;
        match tracked {
            Ok(Tracked::Spooled(stored)) => {
                let mut response = plain(StatusCode::ACCEPTED, "ok");
                // Plausible's answer to an event it did not record (for any reason: which one is
                // not said); to servers and apps only. A web page's request (browsers send an
                // Origin with every cross-origin POST) must not learn whether its visitor had a
                // visit here in the last 30 minutes (an engagement without one is dropped), nor
                // whether they opted out.
                if stored == 0 && !from_a_page {
                    response.headers_mut().insert(X_PLAUSIBLE_DROPPED, HeaderValue::from_static("1"));
                }
                response
            }
            Ok(Tracked::Overloaded) => overloaded(),
            Err(error) => json(StatusCode::BAD_REQUEST, &serde_json::json!({ "error": error.0 })),
        }
    }

    /// Handles `POST /event?s=SITE&idclient=ID` (Piano Analytics' collection endpoint, as
    /// piano-analytics-js sends its events) and its CORS preflight: 204 whatever became of the
    /// events (the page learns nothing of it), 400 for a body that is not Piano's.
    pub async fn piano(&self, request: &Request, peer: SocketAddr) -> Response {
        let origin = request.headers().get(ORIGIN).cloned();
        let response = match *request.method() {
            Method::OPTIONS => no_content(),
            Method::POST => self.piano_events(request, peer).await,
            _ => plain(StatusCode::METHOD_NOT_ALLOWED, "use POST\n"),
        };
        with_cors(response, origin)
    }

    async fn piano_events(&self, request: &Request, peer: SocketAddr) -> Response {
        let params = match Params::parse(request.uri().query().unwrap_or("")) {
            Ok(p) => p,
            Err(e) => return plain(StatusCode::BAD_REQUEST, &format!("malformed query string: {e}\n")),
        };
        let (live, mut decoded) = (self.live.current(), None);
        let tracked = self
            .track(&live, Origin { headers: request.headers(), peer }, |sites, now| {
                let events = decoded.insert(piano::decode(request.body())?);
                Ok::<_, piano::BadBody>(piano::interpret(events, params.get("s"), params.get("idclient"), sites, now))
            })
            .await;
        match tracked {
            Ok(Tracked::Spooled(_)) => no_content(),
            Ok(Tracked::Overloaded) => overloaded(),
            Err(error) => plain(StatusCode::BAD_REQUEST, &format!("{error}\n")),
        }
    }

    /// Handles `GET /hit.xiti` (AT Internet's classic hits, from the legacy SmartTag and the app
    /// SDKs): the pixel whatever became of the hit, 400 for an undecodable query.
    pub async fn xiti(&self, request: &Request, peer: SocketAddr) -> Response {
        if request.method() != Method::GET {
            return plain(StatusCode::METHOD_NOT_ALLOWED, "use GET\n");
        }
        let params = match Params::parse(request.uri().query().unwrap_or("")) {
            Ok(p) => p,
            Err(e) => return plain(StatusCode::BAD_REQUEST, &format!("malformed query string: {e}\n")),
        };
        let live = self.live.current();
        let decoded = xiti::decode(&params, &live.sites);
        let Ok(tracked) = self
            .track(&live, Origin { headers: request.headers(), peer }, |sites, now| {
                Ok::<_, Infallible>(vec![xiti::interpret(&params, decoded.as_ref(), sites, now)])
            })
            .await;
        match tracked {
            Tracked::Spooled(_) => gif(),
            Tracked::Overloaded => overloaded(),
        }
    }

    /// Runs a protocol adapter through the hit pipeline (with `live`'s sites and privacy
    /// settings) and spools the events it accepts: the adapter's error, or what became of them.
    /// A new protocol's handler is its decoding, this call and its answer.
    async fn track<'a, E>(
        &self,
        live: &'a Live,
        origin: Origin<'_>,
        adapter: impl FnOnce(&'a Sites, u64) -> Result<Vec<Result<Hit<'a>, DeclineReason>>, E>,
    ) -> Result<Tracked, E> {
        let outcome = self.pipeline.run(&live.sites, &live.config.privacy, origin, adapter).await?;
        let events = accepted_events(outcome);
        let stored = events.len();
        Ok(if self.enqueue(events) { Tracked::Spooled(stored) } else { Tracked::Overloaded })
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

/// The query string of one bulk item: a string's parameters (what follows its first `?`: an
/// item is `?idsite=…`, a path `/matomo.php?idsite=…` or, from the PHP tracker, an absolute
/// tracker URL), or an object's (Matomo's log importer: `{"idsite": 1, "rec": 1, …}`, values
/// strings, numbers or booleans) encoded as one; `None` for anything else.
fn bulk_item_query(item: &serde_json::Value) -> Option<std::borrow::Cow<'_, str>> {
    use serde_json::Value;
    match item {
        Value::String(text) => {
            let text = text.trim();
            Some(std::borrow::Cow::Borrowed(text.split_once('?').map_or(text, |(_, query)| query)))
        }
        Value::Object(fields) => {
            let mut query = form_urlencoded::Serializer::new(String::new());
            for (key, value) in fields {
                match value {
                    Value::String(text) => query.append_pair(key, text),
                    Value::Number(number) => query.append_pair(key, &number.to_string()),
                    Value::Bool(flag) => query.append_pair(key, if *flag { "1" } else { "0" }),
                    Value::Null => &mut query,
                    _ => return None,
                };
            }
            Some(std::borrow::Cow::Owned(query.finish()))
        }
        _ => None,
    }
}

/// What became of the events a request's hits made.
enum Tracked {
    /// Spooled (this many; none when every hit was declined).
    Spooled(usize),
    /// The spool cannot take them: answered 503.
    Overloaded,
}

/// The answer to a CORS preflight on the Matomo tracking paths, as Matomo gives it.
/// 413 for a body over [`MAX_BODY_BYTES`] that only a site's token makes acceptable.
fn too_large() -> Response {
    plain(
        StatusCode::PAYLOAD_TOO_LARGE,
        "request body over 64 KiB: only a bulk request with a site's token_auth may be larger\n",
    )
}

fn matomo_preflight() -> Response {
    let mut response = no_content();
    let headers = response.headers_mut();
    headers.insert(ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("GET, POST"));
    headers.insert(ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static("*"));
    headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    response
}

/// The events of an outcome that the pipeline accepted (its declines are counted already).
fn accepted_events(outcome: Outcome) -> Vec<Event> {
    match outcome {
        Outcome::Objected(_) => Vec::new(),
        Outcome::Hits(results) => results.into_iter().flatten().collect(),
    }
}

/// Plausible's mark on the answer to an event it did not record.
const X_PLAUSIBLE_DROPPED: &str = "x-plausible-dropped";

fn with_cors(mut response: Response, origin: Option<HeaderValue>) -> Response {
    let headers = response.headers_mut();
    // The requesting origin with credentials, so that a tracker's fetch may send the collector's
    // opt-out cookie and still read the answer (for plausible()'s callback).
    match origin {
        Some(origin) => {
            headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin);
            headers.insert(ACCESS_CONTROL_ALLOW_CREDENTIALS, HeaderValue::from_static("true"));
            headers.insert(hyper::header::VARY, HeaderValue::from_static("Origin"));
        }
        None => {
            headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
        }
    }
    headers.insert(ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("POST, OPTIONS"));
    headers.insert("access-control-allow-headers", HeaderValue::from_static("Content-Type"));
    headers.insert("access-control-max-age", HeaderValue::from_static("86400"));
    response
}

/// The pixel answer.
pub fn gif() -> Response {
    let mut response = hyper::Response::new(Full::new(Bytes::from_static(&TRANSPARENT_GIF)));
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("image/gif"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// 503 with `Retry-After`: the spool cannot take the event (full, failing or closing).
pub(crate) fn overloaded() -> Response {
    let mut response = plain(StatusCode::SERVICE_UNAVAILABLE, "overloaded, retry later\n");
    response.headers_mut().insert(RETRY_AFTER, HeaderValue::from_static("1"));
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
