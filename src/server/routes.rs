//! THE path table: every path the collector answers is matched here and nowhere else, each with
//! the handler that answers it, the metric label it is counted under, and what of the request
//! the router reads for it (the body's cap, the query string's cap). Matomo's `index.php` is
//! dispatched by its `module` parameter, as Matomo dispatches it.
//!
//! The router reads the body within the route's cap before the handler runs (one reader for
//! every route, [`crate::http::read_body`]), so every handler is a function of a
//! `Request<Bytes>` and can be called in a test without a socket. A body error is answered in
//! the route's own dialect ([`Errors`]).

use hyper::Method;

use crate::api::plausible::v1::Report;
use crate::http::{HttpError, Params, Response};
use crate::ingest::{MAX_AUTHENTICATED_BULK_BYTES, MAX_BODY_BYTES, MAX_QUERY_BYTES};

/// Largest body of a stats query (bytes).
pub(crate) const MAX_QUERY_BODY_BYTES: usize = 64 * 1024;
/// Largest body of a sign-in (bytes): a token.
pub(crate) const MAX_SIGN_IN_BYTES: usize = 4 * 1024;

/// Who answers a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Handler {
    /// Matomo's HTTP Tracking API: single, bulk and the CORS preflight.
    MatomoTracking,
    /// Matomo's own `matomo.js`.
    MatomoScript,
    /// Plausible's Events API.
    PlausibleEvent,
    /// Piano Analytics' collection endpoint (`/event`).
    PianoEvent,
    /// Piano's own SDK.
    PianoScript,
    /// AT Internet's classic hits (`/hit.xiti`).
    XitiHit,
    /// Our tracker under its own and Plausible's script names.
    TrackerScript,
    /// A site's machine-readable privacy notice.
    PrivacyNotice,
    /// Our stats API's query.
    OwnQuery,
    /// Our stats API's list of readable sites.
    OwnSites,
    /// The OpenAPI document of the stats endpoints (`docs/openapi.json`).
    OpenApi,
    /// Plausible's Stats API v1 reports.
    PlausibleV1(Report),
    /// Plausible's Stats API v2.
    PlausibleV2,
    /// Matomo's Reporting API (`module=API`).
    MatomoApi,
    /// Dashboard sign-in with a token, sign-out, and sign-in by one-time link.
    SignIn,
    SignOut,
    SignInLink,
    /// The dashboard's page and files.
    Dashboard,
    /// Matomo's opt-out iframe and script (`index.php?module=CoreAdminHome`).
    MatomoOptOut,
    /// Our opt-out page.
    OptOut,
    /// Liveness, readiness, Prometheus.
    Health,
    Ready,
    Metrics,
    /// A path under our stats API that does not exist (answered in its shape).
    NoSuchApi,
    /// A Plausible v1 report that does not exist (answered in its shape).
    NoSuchPlausibleReport,
    NotFound,
    /// A handler that panics, for the router's own test.
    #[cfg(test)]
    Panic,
}

/// How a route answers what the router could not read (a body too large or too slow).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Errors {
    Plain,
    Own,
    Plausible,
}

/// One row of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Route {
    pub handler: Handler,
    /// The `endpoint` label of `mesure_http_requests_total`.
    pub endpoint: &'static str,
    /// The largest body read for it (0: the body is not read).
    pub body_cap: usize,
    /// The largest body it takes when one declares its length, within a shared memory budget
    /// ([`crate::http::read_large_body`]); 0: none larger than `body_cap`.
    pub large_body_cap: usize,
    /// The longest query string taken.
    pub query_cap: usize,
    pub errors: Errors,
}

impl Route {
    const fn new(handler: Handler, endpoint: &'static str) -> Route {
        Route { handler, endpoint, body_cap: 0, large_body_cap: 0, query_cap: usize::MAX, errors: Errors::Plain }
    }

    const fn body(mut self, cap: usize) -> Route {
        self.body_cap = cap;
        self
    }

    const fn large_body(mut self, cap: usize) -> Route {
        self.large_body_cap = cap;
        self
    }

    const fn query(mut self, cap: usize) -> Route {
        self.query_cap = cap;
        self
    }

    const fn errors(mut self, errors: Errors) -> Route {
        self.errors = errors;
        self
    }

    /// `/healthz`, `/readyz` and `/metrics`: the only pages of the admin listener.
    pub(crate) fn is_admin_page(&self) -> bool {
        matches!(self.handler, Handler::Health | Handler::Ready | Handler::Metrics)
    }

    /// `/readyz` and `/metrics` tell which sites exist and how the collector fares: admins only.
    pub(crate) fn is_admin_only(&self) -> bool {
        matches!(self.handler, Handler::Ready | Handler::Metrics)
    }

    /// The answer to what the router could not read, in the route's dialect.
    pub(crate) fn refuse(&self, error: &HttpError) -> Response {
        let mut response = match self.errors {
            Errors::Plain => return error.to_plain(),
            Errors::Own => crate::api::own::refuse(&error.into()),
            Errors::Plausible => crate::api::plausible::refuse(&error.into()),
        };
        *response.status_mut() = error.status();
        response
    }
}

const MATOMO: Route = Route::new(Handler::MatomoTracking, "matomo")
    .body(MAX_BODY_BYTES)
    .large_body(MAX_AUTHENTICATED_BULK_BYTES)
    .query(MAX_QUERY_BYTES);
const MATOMO_SCRIPT: Route = Route::new(Handler::MatomoScript, "script");
const TRACKER_SCRIPT: Route = Route::new(Handler::TrackerScript, "script");
const PLAUSIBLE_EVENT: Route = Route::new(Handler::PlausibleEvent, "plausible").body(MAX_BODY_BYTES);
const PIANO_EVENT: Route = Route::new(Handler::PianoEvent, "piano").body(MAX_BODY_BYTES).query(MAX_QUERY_BYTES);
const DASHBOARD: Route = Route::new(Handler::Dashboard, "dashboard");
const OPT_OUT_BODY: usize = crate::web::optout::MAX_CHOICE_BYTES;
const NOT_FOUND: Route = Route::new(Handler::NotFound, "other");
const MATOMO_API: Route = Route::new(Handler::MatomoApi, "matomo_api").body(MAX_QUERY_BODY_BYTES);

/// The route of a request.
pub(crate) fn find(method: &Method, path: &str, query: Option<&str>) -> Route {
    let api = |handler| Route::new(handler, "api").errors(Errors::Own);
    match path {
        "/matomo.php" | "/piwik.php" => MATOMO,
        "/matomo.js" | "/piwik.js" => MATOMO_SCRIPT,
        // Matomo's tracker proxy: the script when asked for it, the tracking endpoint otherwise.
        "/js/" | "/js/tracker.php" if method == Method::GET && query.is_none_or(str::is_empty) => MATOMO_SCRIPT,
        "/js/" | "/js/tracker.php" => MATOMO,
        "/api/event" => PLAUSIBLE_EVENT,
        "/event" => PIANO_EVENT,
        "/piano-analytics.js" => Route::new(Handler::PianoScript, "script"),
        "/hit.xiti" => Route::new(Handler::XitiHit, "piano").query(MAX_QUERY_BYTES),
        // mesure.js, and Plausible's script names (/js/script.hash.js, /js/pa-….js).
        "/mesure.js" => TRACKER_SCRIPT,
        p if p.starts_with("/js/") && p.ends_with(".js") => TRACKER_SCRIPT,
        "/privacy.json" => Route::new(Handler::PrivacyNotice, "notice"),
        "/api/v1/query" if method == Method::POST => api(Handler::OwnQuery).body(MAX_QUERY_BODY_BYTES),
        "/api/v2/query" if method == Method::POST => {
            api(Handler::PlausibleV2).body(MAX_QUERY_BODY_BYTES).errors(Errors::Plausible)
        }
        "/api/v1/sites" if method == Method::GET => api(Handler::OwnSites),
        "/api/openapi.json" if method == Method::GET => api(Handler::OpenApi),
        "/api/v1/session" if method == Method::POST => api(Handler::SignIn).body(MAX_SIGN_IN_BYTES),
        "/api/v1/session" if method == Method::DELETE => api(Handler::SignOut),
        "/signin" if method == Method::GET => api(Handler::SignInLink),
        "/signin" if method == Method::POST => api(Handler::SignInLink).body(MAX_SIGN_IN_BYTES),
        p if method == Method::GET && p.starts_with("/api/v1/stats/") => {
            let handler = match &p["/api/v1/stats/".len()..] {
                "aggregate" => Handler::PlausibleV1(Report::Aggregate),
                "timeseries" => Handler::PlausibleV1(Report::Timeseries),
                "breakdown" => Handler::PlausibleV1(Report::Breakdown),
                "realtime/visitors" => Handler::PlausibleV1(Report::Realtime),
                _ => Handler::NoSuchPlausibleReport,
            };
            api(handler).errors(Errors::Plausible)
        }
        p if p.starts_with("/api/v1/") || p == "/api/v2/query" || p == "/signin" => api(Handler::NoSuchApi),
        // Matomo's log importer posts its API calls to `/` (`module=API` in the form body).
        "/" if method == Method::POST => MATOMO_API,
        "/" if module(query) == Some("API") => MATOMO_API,
        "/" => DASHBOARD,
        p if p.starts_with("/share/") || p.starts_with("/assets/") => DASHBOARD,
        // Matomo serves everything from index.php and tells its parts apart by `module`.
        "/index.php" => match module(query) {
            Some("CoreAdminHome") => Route::new(Handler::MatomoOptOut, "optout").body(OPT_OUT_BODY),
            Some("API") => MATOMO_API,
            // The mobile app puts every parameter, `module` included, in the body.
            None if method == Method::POST => MATOMO_API,
            _ => NOT_FOUND,
        },
        "/optout" => Route::new(Handler::OptOut, "optout").body(OPT_OUT_BODY),
        "/healthz" => Route::new(Handler::Health, "healthz"),
        "/readyz" => Route::new(Handler::Ready, "readyz"),
        "/metrics" if method == Method::GET => Route::new(Handler::Metrics, "metrics"),
        #[cfg(test)]
        "/test/panic" => Route::new(Handler::Panic, "other"),
        _ => NOT_FOUND,
    }
}

/// Matomo's `module` parameter.
fn module(query: Option<&str>) -> Option<&str> {
    // Borrowed from the query when it needs no decoding (it never does for a module name).
    let params = Params::parse(query?).ok()?;
    match params.get("module")? {
        "CoreAdminHome" => Some("CoreAdminHome"),
        "API" => Some("API"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(method: Method, target: &str) -> Route {
        let (path, query) = target.split_once('?').map_or((target, None), |(p, q)| (p, Some(q)));
        find(&method, path, query)
    }

    #[test]
    fn every_path_has_one_row() {
        use Handler::*;
        let table = [
            (Method::GET, "/matomo.php?idsite=1&rec=1", MatomoTracking),
            (Method::POST, "/piwik.php", MatomoTracking),
            (Method::GET, "/js/", MatomoScript),
            (Method::GET, "/js/?idsite=1&rec=1", MatomoTracking),
            (Method::POST, "/js/tracker.php", MatomoTracking),
            (Method::GET, "/piwik.js", MatomoScript),
            (Method::POST, "/api/event", PlausibleEvent),
            (Method::POST, "/event?s=123456&idclient=x", PianoEvent),
            (Method::GET, "/piano-analytics.js", PianoScript),
            (Method::GET, "/hit.xiti?s=123456&p=accueil", XitiHit),
            (Method::GET, "/js/script.outbound-links.js", TrackerScript),
            (Method::GET, "/mesure.js", TrackerScript),
            (Method::GET, "/privacy.json?site=1", PrivacyNotice),
            (Method::POST, "/api/v1/query", OwnQuery),
            (Method::GET, "/api/v1/query", NoSuchApi),
            (Method::POST, "/api/v2/query", PlausibleV2),
            (Method::GET, "/api/v1/sites", OwnSites),
            (Method::GET, "/api/openapi.json", OpenApi),
            (Method::POST, "/api/v1/session", SignIn),
            (Method::DELETE, "/api/v1/session", SignOut),
            (Method::GET, "/signin?code=x", SignInLink),
            (Method::POST, "/signin", SignInLink),
            (Method::GET, "/api/v1/stats/aggregate?site_id=a", PlausibleV1(Report::Aggregate)),
            (Method::GET, "/api/v1/stats/realtime/visitors", PlausibleV1(Report::Realtime)),
            (Method::GET, "/api/v1/stats/nope", NoSuchPlausibleReport),
            (Method::GET, "/", Dashboard),
            (Method::GET, "/share/abc", Dashboard),
            (Method::GET, "/index.php?module=CoreAdminHome&action=optOut", MatomoOptOut),
            (Method::GET, "/index.php?module=Widgetize", NotFound),
            (Method::GET, "/index.php", NotFound),
            (Method::GET, "/index.php?module=API&method=API.getMatomoVersion", MatomoApi),
            (Method::POST, "/index.php", MatomoApi),
            (Method::POST, "/", MatomoApi),
            (Method::GET, "/?module=API&method=API.getMatomoVersion", MatomoApi),
            (Method::POST, "/optout", OptOut),
            (Method::GET, "/healthz", Health),
            (Method::GET, "/readyz", Ready),
            (Method::GET, "/metrics", Metrics),
            (Method::POST, "/metrics", NotFound),
            (Method::GET, "/wp-login.php", NotFound),
        ];
        for (method, target, handler) in table {
            assert_eq!(at(method.clone(), target).handler, handler, "{method} {target}");
        }
    }

    #[test]
    fn each_route_reads_only_what_it_needs() {
        let matomo = at(Method::GET, "/matomo.php");
        assert_eq!((matomo.body_cap, matomo.query_cap), (MAX_BODY_BYTES, MAX_QUERY_BYTES));
        assert_eq!(at(Method::POST, "/optout").body_cap, 1024);
        assert_eq!(at(Method::POST, "/api/v1/session").body_cap, 4096);
        assert_eq!(at(Method::GET, "/matomo.js").body_cap, 0, "a script's request body is never read");
        assert_eq!(at(Method::POST, "/api/v2/query").errors, Errors::Plausible);
        assert!(at(Method::GET, "/metrics").is_admin_only() && !at(Method::GET, "/healthz").is_admin_only());
    }

    #[test]
    fn body_errors_are_answered_in_the_routes_dialect() {
        let too_large = HttpError::BodyTooLarge(4096);
        let own = at(Method::POST, "/api/v1/session").refuse(&too_large);
        assert_eq!(own.status(), 413);
        assert_eq!(own.headers()["content-type"], "application/json");
        let plain = at(Method::POST, "/matomo.php").refuse(&HttpError::BodyTimeout);
        assert_eq!(plain.status(), 408);
        assert!(plain.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    }
}
