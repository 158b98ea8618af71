//! Pages and files for people and browsers: the visitor opt-out page ([`optout`]), our tracker
//! script (`mesure.js`), the stats API ([`api`], its limits in [`budget`]) and the built-in
//! dashboard ([`dashboard`]).

pub mod api;
pub(crate) mod budget;
pub mod dashboard;
pub mod matomo_js;
pub mod matomo_optout;
pub mod optout;
pub(crate) mod security;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{ACCESS_CONTROL_ALLOW_ORIGIN, CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use hyper::{Response, StatusCode};

use crate::ingest::Body;

/// `mesure.js`, our first-party tracker (under 2 KB gzipped; a test checks it).
pub const TRACKER_SCRIPT: &str = include_str!("assets/mesure.js");

/// `GET /mesure.js`.
pub(crate) fn tracker_script() -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from_static(TRACKER_SCRIPT.as_bytes())));
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/javascript; charset=utf-8"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
    headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    response
}
