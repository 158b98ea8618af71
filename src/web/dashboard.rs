//! The built-in dashboard: one page and its assets, embedded in the binary (no CDN). `/` and
//! `/share/SECRET` serve the page; the page reads `/assets/panels.json` (the panel definitions,
//! from `dashboards/panels.json`) and asks the stats API for everything it shows.

use bytes::Bytes;
use http_body_util::Full;
use hyper::StatusCode;
use hyper::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue};

use crate::http::{Response, plain};

const PAGE: &str = include_str!("assets/dashboard.html");

/// (path, content type, body)
const ASSETS: &[(&str, &str, &str)] = &[
    ("/assets/dashboard.js", "application/javascript; charset=utf-8", include_str!("assets/dashboard.js")),
    ("/assets/dashboard.css", "text/css; charset=utf-8", include_str!("assets/dashboard.css")),
    (
        "/assets/uPlot.iife.min.js",
        "application/javascript; charset=utf-8",
        include_str!("assets/vendor/uplot/uPlot.iife.min.js"),
    ),
    ("/assets/uPlot.min.css", "text/css; charset=utf-8", include_str!("assets/vendor/uplot/uPlot.min.css")),
    ("/assets/panels.json", "application/json", include_str!("../../dashboards/panels.json")),
];

/// The panel definitions the page reads.
pub const PANELS: &str = include_str!("../../dashboards/panels.json");

/// Answers `/`, `/share/...` and `/assets/...`; `None` for other paths.
pub fn serve(path: &str) -> Option<Response> {
    if path == "/" || path.starts_with("/share/") {
        let mut page = respond(PAGE, "text/html; charset=utf-8", "no-store");
        page.headers_mut().insert(
            hyper::header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(crate::web::security::DASHBOARD_POLICY),
        );
        return Some(page);
    }
    if path.starts_with("/assets/") {
        return Some(match ASSETS.iter().find(|(p, _, _)| *p == path) {
            Some((_, kind, body)) => respond(body, kind, "public, max-age=300"),
            None => plain(StatusCode::NOT_FOUND, "not found\n"),
        });
    }
    None
}

fn respond(body: &'static str, kind: &'static str, cache: &'static str) -> Response {
    let mut response = hyper::Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(kind));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static(cache));
    // The page is only ever framed by itself; the opt-out page is the one meant for iframes.
    headers.insert("x-frame-options", HeaderValue::from_static("SAMEORIGIN"));
    headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    response
}
