//! The answers every floor builds: plain text, JSON, empty, a redirect, and `no-store`.

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderName, HeaderValue, LOCATION};
use hyper::{HeaderMap, StatusCode};

/// Every answer's body: whole, in memory (no answer of ours streams).
pub type Body = Full<Bytes>;
pub type Response = hyper::Response<Body>;

/// A short plain-text answer.
pub fn plain(status: StatusCode, text: &str) -> Response {
    let mut response = hyper::Response::new(Full::new(Bytes::from(text.to_owned())));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    response
}

/// A JSON answer.
pub fn json(status: StatusCode, value: &serde_json::Value) -> Response {
    let mut response = hyper::Response::new(Full::new(Bytes::from(value.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// 204, never cached.
pub fn empty() -> Response {
    let mut response = hyper::Response::new(Full::new(Bytes::new()));
    *response.status_mut() = StatusCode::NO_CONTENT;
    response.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// 303 to `location`, never cached.
pub fn see_other(location: HeaderValue) -> Response {
    let mut response = hyper::Response::new(Full::new(Bytes::new()));
    *response.status_mut() = StatusCode::SEE_OTHER;
    response.headers_mut().insert(LOCATION, location);
    no_store(response)
}

/// The answer, never cached (a choice, a sign-in, a page a link led to).
pub fn no_store(mut response: Response) -> Response {
    response.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A header's value as text, if it is there and visible ASCII.
pub fn header_str(headers: &HeaderMap, name: HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}
