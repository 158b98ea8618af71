//! Plausible's Stats API, drop-in: v2 (`POST /api/v2/query`, [`v2`]) and the v1 GET reports
//! (`/api/v1/stats/…`, [`v1`]), with the names and value formats both share in [`names`]. A
//! Plausible reporting script or integration changes its host and keeps its token header.
//!
//! Both read a request as Plausible reads it, turn it into our own
//! [`crate::query::request::StatsRequest`], run it through the same grant as our own API, and
//! answer in Plausible's shapes. Refusals are `{"error": "..."}`. What we cannot compute
//! honestly is refused with a 400 that says so, never answered with a made-up figure.

pub(crate) mod names;
pub(crate) mod pages;
pub mod v1;
pub mod v2;

use hyper::StatusCode;
use serde_json::json;

use super::{Refusal, with_retry_after};
use crate::http::{self, Response};

/// Plausible's answer to a key that cannot read the site asked for: the same 401 whether the key
/// is missing, wrong or another site's, and whether the site exists.
pub(crate) const NO_ACCESS: &str = "Invalid API key or site ID. Please make sure you're using a valid API key with access to the site you've requested.";

/// A refusal in Plausible's shape: `{"error": "..."}` with its status.
pub fn refuse(refusal: &Refusal) -> Response {
    let (status, message) = match refusal {
        Refusal::Invalid { message, .. } => (refusal.status(), message.clone()),
        Refusal::Unauthenticated | Refusal::Forbidden => (StatusCode::UNAUTHORIZED, NO_ACCESS.to_string()),
        other => (other.status(), format!("{}: {}", other.parameter(), other.message())),
    };
    with_retry_after(http::json(status, &json!({ "error": message })), refusal)
}

/// A request Plausible would refuse: 400 with its message.
pub(crate) fn invalid(message: impl Into<String>) -> Response {
    http::json(StatusCode::BAD_REQUEST, &json!({ "error": message.into() }))
}
