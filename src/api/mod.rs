//! The stats API dialects over [`crate::query`]: our own `/api/v1` ([`own`]) and Plausible's
//! Stats API v1 and v2 ([`plausible`]), with who may read what in [`access`], the limits in
//! [`budget`] and the dashboard's sign-in sessions in [`session`].
//!
//! A dialect only translates: its parameters into the one [`crate::query::request::StatsRequest`],
//! the engine's rows and the [`Refusal`]s of [`access`] into its own shapes. The numbers come from
//! one place, so the dialects and the dashboard always agree. Nothing here reads a path: the
//! route table (`server::routes`) picks the handler and hands it the request with its body read.

pub mod access;
pub(crate) mod budget;
pub mod matomo;
pub mod own;
pub mod plausible;
pub mod session;

pub use access::{Access, Credential, Grant};

use hyper::StatusCode;
use serde_json::{Value, json};

use crate::query::request::BadRequest;

/// Why the read side will not answer a request. Each dialect renders it in its own shape
/// (ours: `{"error": "parameter: message", "parameter": …}`; Plausible's: `{"error": …}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The request is wrong: which parameter, and why (400).
    Invalid { parameter: String, message: String },
    /// No credential, or an unknown, revoked or ended one (401), whether the site exists or not.
    Unauthenticated,
    /// A valid credential for another site, or for a site that does not exist (403).
    Forbidden,
    /// Too many unknown credentials lately: no look-up is made (429).
    TooManyGuesses,
    /// Too many stats queries at once (429).
    Busy,
    /// ClickHouse stopped the query for its budget: time, memory or rows (503).
    OverBudget,
    /// The query took longer than the collector waits (503).
    TimedOut,
    /// ClickHouse could not run the query (503).
    Failed,
}

impl Refusal {
    pub fn invalid(parameter: &str, message: impl Into<String>) -> Refusal {
        Refusal::Invalid { parameter: parameter.to_string(), message: message.into() }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Refusal::Invalid { .. } => StatusCode::BAD_REQUEST,
            Refusal::Unauthenticated => StatusCode::UNAUTHORIZED,
            Refusal::Forbidden => StatusCode::FORBIDDEN,
            Refusal::TooManyGuesses | Refusal::Busy => StatusCode::TOO_MANY_REQUESTS,
            Refusal::OverBudget | Refusal::TimedOut | Refusal::Failed => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The parameter (or the part of the service) the refusal is about.
    pub fn parameter(&self) -> &str {
        match self {
            Refusal::Invalid { parameter, .. } => parameter,
            Refusal::Forbidden => "site_id",
            Refusal::Unauthenticated => "authorization",
            Refusal::TooManyGuesses | Refusal::Busy => "limits",
            Refusal::OverBudget | Refusal::TimedOut => "query",
            Refusal::Failed => "clickhouse",
        }
    }

    pub fn message(&self) -> &str {
        match self {
            Refusal::Invalid { message, .. } => message,
            Refusal::Unauthenticated => "a valid API token or share link is needed",
            Refusal::Forbidden => "this credential is for another site",
            Refusal::TooManyGuesses => "too many unknown credentials lately; try again",
            Refusal::Busy => "too many stats queries at once; try again",
            Refusal::OverBudget => {
                "the query is over its budget (time, memory or rows); narrow the period or the filters"
            }
            Refusal::TimedOut => "the query took too long",
            Refusal::Failed => "the query could not run; try again",
        }
    }

    /// 429s ask the client to come back in a second.
    pub(crate) fn retry_after(&self) -> bool {
        self.status() == StatusCode::TOO_MANY_REQUESTS
    }
}

impl From<BadRequest> for Refusal {
    fn from(e: BadRequest) -> Refusal {
        Refusal::Invalid { parameter: e.parameter, message: e.message }
    }
}

impl From<&crate::http::HttpError> for Refusal {
    fn from(e: &crate::http::HttpError) -> Refusal {
        Refusal::invalid("body", e.to_string())
    }
}

/// The OpenAPI document of the stats endpoints we serve (ours and Plausible's), `GET
/// /api/openapi.json`: what schemathesis fuzzes the running collector against in the tests.
pub(crate) fn openapi() -> crate::http::Response {
    const DOCUMENT: &str = include_str!("../../docs/openapi.json");
    let mut response = hyper::Response::new(http_body_util::Full::new(bytes::Bytes::from_static(DOCUMENT.as_bytes())));
    response
        .headers_mut()
        .insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static("application/json"));
    response
}

/// A JSON number, whole when it is.
pub(crate) fn number(v: f64) -> Value {
    if v.fract() == 0.0 && v.abs() < 9e15 { json!(v as i64) } else { json!(v) }
}

/// Sets `Retry-After: 1` on the answer to a refusal that asks for it.
pub(crate) fn with_retry_after(mut response: crate::http::Response, refusal: &Refusal) -> crate::http::Response {
    if refusal.retry_after() {
        response.headers_mut().insert(hyper::header::RETRY_AFTER, hyper::header::HeaderValue::from_static("1"));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_refusal_has_a_status_a_parameter_and_a_message() {
        let all = [
            Refusal::invalid("metrics", "unknown"),
            Refusal::Unauthenticated,
            Refusal::Forbidden,
            Refusal::TooManyGuesses,
            Refusal::Busy,
            Refusal::OverBudget,
            Refusal::TimedOut,
            Refusal::Failed,
        ];
        for refusal in &all {
            assert!(refusal.status().is_client_error() || refusal.status().is_server_error());
            assert!(!refusal.parameter().is_empty() && !refusal.message().is_empty());
        }
        assert!(Refusal::Busy.retry_after() && !Refusal::Forbidden.retry_after());
    }
}
