//! Piano Analytics' own SDK, `piano-analytics.js` (piano-analytics-js's browser build, MIT,
//! vendored in `assets/piano/` with its licence and version; `scripts/update-piano-sdk.sh`
//! updates it), served unchanged at `/piano-analytics.js` so that a Piano site loads the SDK
//! from its collector and changes only hosts. Its events come back to [`crate::ingest::piano`].

use bytes::Bytes;
use http_body_util::Full;
use hyper::StatusCode;
use hyper::header::{ACCESS_CONTROL_ALLOW_ORIGIN, CACHE_CONTROL, CONTENT_TYPE, HeaderValue};

use crate::http::Response;

/// The SDK, compiled in.
const SDK: &str = include_str!("assets/piano/piano-analytics.js");

/// `GET /piano-analytics.js`.
pub(crate) fn serve() -> Response {
    let mut response = hyper::Response::new(Full::new(Bytes::from_static(SDK.as_bytes())));
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/javascript; charset=utf-8"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
    headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    response
}
