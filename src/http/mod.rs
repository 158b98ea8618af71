//! The HTTP vocabulary every handler speaks, below all of them: the body type and the common
//! answers ([`answer`]), one error type ([`HttpError`]), the capped and deadlined body reader
//! ([`body`]), strict form decoding ([`params`]), cookies ([`cookies`]) and the catch that
//! turns a handler's panic into an answer ([`unwind`]).
//!
//! It imports nothing else of mesure (a layering test says so): a handler of any floor may use
//! it, and it never learns what a site, a hit or a stats query is.

pub mod answer;
pub mod body;
pub mod cookies;
pub mod params;
pub mod unwind;

pub use answer::{Body, Response, empty, header_str, json, no_store, plain, see_other};
pub use body::{BodyTimeout, DeadlineBody, LargeBody, read_body, read_large_body};
pub use params::Params;
pub use unwind::{CatchUnwind, Panicked};

use hyper::StatusCode;

/// A request as the handlers see it: its body already read (within its route's cap).
pub type Request = hyper::Request<bytes::Bytes>;

/// Why a request could not be read at the HTTP level. Each dialect renders it in its own shape
/// (plain text for trackers and pages, JSON for the stats APIs); the status is the same.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    /// The body is larger than the route takes (declared or sent).
    #[error("request body over {}", bytes_text(*.0))]
    BodyTooLarge(usize),
    /// The body did not arrive within `limits.body_read_timeout`.
    #[error("request body did not arrive in time")]
    BodyTimeout,
    /// The connection failed while the body was read.
    #[error("request body unreadable")]
    BodyUnreadable,
    /// The query string is longer than the route takes.
    #[error("query string over {}", bytes_text(*.0))]
    QueryTooLong(usize),
    /// A large body would take more memory than large bodies may take at once.
    #[error("too many large requests at once; retry in a few seconds")]
    LargeBodiesBusy,
}

impl HttpError {
    pub fn status(&self) -> StatusCode {
        match self {
            HttpError::BodyTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            HttpError::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            HttpError::BodyUnreadable => StatusCode::BAD_REQUEST,
            HttpError::QueryTooLong(_) => StatusCode::URI_TOO_LONG,
            HttpError::LargeBodiesBusy => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The plain-text answer (trackers and pages).
    pub fn to_plain(&self) -> Response {
        plain(self.status(), &format!("{self}\n"))
    }
}

/// `64 KiB`, `1 KiB`, `500 bytes`.
fn bytes_text(n: usize) -> String {
    if n >= 1024 && n.is_multiple_of(1024) { format!("{} KiB", n / 1024) } else { format!("{n} bytes") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_say_their_cap_and_map_to_their_status() {
        assert_eq!(HttpError::BodyTooLarge(64 * 1024).to_string(), "request body over 64 KiB");
        assert_eq!(HttpError::QueryTooLong(8 * 1024).to_string(), "query string over 8 KiB");
        assert_eq!(HttpError::BodyTooLarge(100).to_string(), "request body over 100 bytes");
        assert_eq!(HttpError::BodyTimeout.status(), StatusCode::REQUEST_TIMEOUT);
        assert_eq!(HttpError::BodyUnreadable.status(), StatusCode::BAD_REQUEST);
        assert_eq!(HttpError::QueryTooLong(1).to_plain().status(), StatusCode::URI_TOO_LONG);
    }
}
