//! The stats API: `POST /api/v1/query` (JSON in, JSON or CSV out; Plausible's v2 at
//! `/api/v2/query`, [`crate::web::plausible_api`]), the GET conveniences
//! `/api/v1/stats/aggregate`, `/timeseries` and `/breakdown`, and `/api/v1/sites`.
//!
//! Access (docs/privacy.md F1): `Authorization: Bearer TOKEN` with a site's API token or share
//! secret; a public site needs none. No credential, or an unknown or revoked one: 401. A valid
//! credential for another site: 403. Reports are aggregates only (F2): no endpoint lists hits or
//! visitors.

use std::sync::Arc;
use std::time::Duration;

use crate::server::RequestBody;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, HeaderValue, RETRY_AFTER, SET_COOKIE};
use hyper::{HeaderMap, Method, Request, Response, StatusCode};
use serde_json::{Value, json};

use crate::clock::Clock;
use crate::config::{LimitsConfig, SiteConfig};
use crate::ingest::{Body, json as json_response};
use crate::live::LiveSettings;
use crate::query::request::{BadRequest, DateRange, Dimension, Format, StatsRequest};
use crate::query::stats;
use crate::store::{Store, tokens};
use crate::telemetry::metrics::Metrics;
use crate::web::budget::{Credentials, Known, QUEUE_WAIT, QueryGate};
use crate::web::session::{self, Sessions};

/// Largest request body (bytes).
const MAX_BODY: usize = 64 * 1024;

pub struct Api {
    live: Arc<LiveSettings>,
    store: Store,
    clock: Arc<dyn Clock>,
    limits: LimitsConfig,
    gate: QueryGate,
    credentials: Credentials,
    sessions: Sessions,
    metrics: Metrics,
}

/// How a request reads a site.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    /// With the site's API token or share secret.
    Credential,
    /// As anyone: the site is public.
    Public,
}

/// Why a request may not read a site.
enum Denied {
    Unauthenticated,
    Forbidden,
    /// Too many unknown credentials lately: no look-up is made (429).
    TooMany,
}

impl Api {
    pub fn new(
        live: Arc<LiveSettings>,
        store: Store,
        clock: Arc<dyn Clock>,
        limits: &LimitsConfig,
        metrics: Metrics,
    ) -> Api {
        let gate = QueryGate::new(limits.stats_max_concurrent, limits.stats_max_concurrent_per_site);
        let credentials = Credentials::new();
        Api { live, store, clock, limits: limits.clone(), gate, credentials, sessions: Sessions::default(), metrics }
    }

    /// The stats API; `secure`: the request came over https (for the session cookie).
    pub async fn handle(&self, request: Request<RequestBody>, secure: bool) -> Response<Body> {
        let path = request.uri().path().to_string();
        let method = request.method().clone();
        match (method, path.as_str()) {
            (Method::POST, "/api/v1/session") => {
                let headers = request.headers().clone();
                // JSON only: a cross-site form cannot send it without a CORS preflight.
                let json = headers
                    .get(CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v.starts_with("application/json"));
                if !json {
                    return error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "content-type", "application/json");
                }
                match Limited::new(request.into_body(), 4096).collect().await {
                    Ok(body) => self.sign_in(&headers, &body.to_bytes(), secure).await,
                    Err(_) => error(StatusCode::PAYLOAD_TOO_LARGE, "body", "over 4 KiB"),
                }
            }
            (Method::DELETE, "/api/v1/session") => {
                if let Some(id) = session::id_of(request.headers()) {
                    self.sessions.end(id);
                }
                let mut response = json_response(StatusCode::OK, &json!({ "signed_in": false }));
                response.headers_mut().insert(SET_COOKIE, session::removal(secure));
                response
            }
            (Method::GET, "/signin") => self.sign_in_link(request.uri().query().unwrap_or(""), secure).await,
            (Method::POST, path @ ("/api/v1/query" | "/api/v2/query")) => {
                let v2 = path == "/api/v2/query";
                let headers = request.headers().clone();
                let body = match Limited::new(request.into_body(), MAX_BODY).collect().await {
                    Ok(b) => b.to_bytes(),
                    Err(e) if e.is::<crate::server::limits::BodyTimeout>() => {
                        return error(StatusCode::REQUEST_TIMEOUT, "body", "did not arrive in time");
                    }
                    Err(_) => return error(StatusCode::PAYLOAD_TOO_LARGE, "body", "over 64 KiB"),
                };
                if v2 {
                    return crate::web::plausible_api::handle(self, &self.live.current().sites, &headers, &body).await;
                }
                match StatsRequest::from_json(&body) {
                    Ok(query) => self.answer(&headers, query).await,
                    Err(e) => bad_request(&e),
                }
            }
            (Method::GET, "/api/v1/sites") => self.sites(request.headers()).await,
            (Method::GET, p) if p.starts_with("/api/v1/stats/") => {
                let report = p.trim_start_matches("/api/v1/stats/");
                let query = request.uri().query().unwrap_or("");
                let now = self.clock.now();
                let live = self.live.current();
                crate::web::plausible_api::v1(self, &live.sites, request.headers(), report, query, now).await
            }
            _ => error(StatusCode::NOT_FOUND, "path", "no such endpoint"),
        }
    }

    async fn answer(&self, headers: &HeaderMap, query: StatsRequest) -> Response<Body> {
        let (answer, site) = match self.execute(headers, &query).await {
            Ok(done) => done,
            Err(refused) => return refused,
        };
        match query.format {
            Format::Json => json_response(StatusCode::OK, &stats::to_json(&answer, &query, &site)),
            Format::Csv => {
                let mut response = Response::new(Full::new(Bytes::from(stats::to_csv(&answer, &query))));
                let h = response.headers_mut();
                h.insert(CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
                h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
                response
            }
        }
    }

    /// Checks access and limits, then runs `query` within its budget: the answer and the site,
    /// or the refusal to send (401, 403, 400, 429, 503).
    pub(crate) async fn execute(
        &self,
        headers: &HeaderMap,
        query: &StatsRequest,
    ) -> Result<(stats::Answer, SiteConfig), Response<Body>> {
        let live = self.live.current();
        let Some(site) = live.sites.get(query.site_id) else {
            return Err(error(StatusCode::BAD_REQUEST, "site_id", "no such site"));
        };
        let answer = self.execute_checked(headers, query, site).await?;
        Ok((answer, site.clone()))
    }

    async fn execute_checked(
        &self,
        headers: &HeaderMap,
        query: &StatsRequest,
        site: &SiteConfig,
    ) -> Result<stats::Answer, Response<Body>> {
        let access = match self.authorize(headers, site).await {
            Ok(access) => access,
            Err(Denied::Unauthenticated) => {
                return Err(error(
                    StatusCode::UNAUTHORIZED,
                    "authorization",
                    "a valid API token or share link is needed",
                ));
            }
            Err(Denied::Forbidden) => {
                return Err(error(StatusCode::FORBIDDEN, "site_id", "this credential is for another site"));
            }
            Err(Denied::TooMany) => return Err(too_many("too many unknown credentials lately; try again")),
        };
        // Anyone may read a public site: its last 30 minutes are a handful of people, so they
        // are shown by country at most.
        if access == Access::Public
            && query.date_range == DateRange::Realtime
            && query.dimensions.iter().any(|d| *d != Dimension::Country)
        {
            let message = "a public site's realtime figures are broken down by visit:country at most";
            return Err(error(StatusCode::BAD_REQUEST, "dimensions", message));
        }
        if query.filters.iter().map(|t| t.leaves().len()).sum::<usize>() > self.limits.stats_max_filters {
            let message = format!("at most {} filters", self.limits.stats_max_filters);
            return Err(error(StatusCode::BAD_REQUEST, "filters", &message));
        }
        let Some(_running) = self.gate.enter(site.id, QUEUE_WAIT).await else {
            self.metrics.stats_rejected.with_label_values(&["busy"]).inc();
            return Err(too_many("too many stats queries at once; try again"));
        };
        // ClickHouse stops the query at `stats_timeout` (max_execution_time); this bounds the
        // wait for its answer too.
        let deadline = self.limits.stats_timeout + Duration::from_secs(2);
        let run = tokio::time::timeout(deadline, stats::run(&self.store, query, site, self.clock.now()));
        match run.await {
            Ok(Ok(a)) => Ok(a),
            Ok(Err(e)) if over_budget(&e) => {
                self.metrics.stats_rejected.with_label_values(&["timeout"]).inc();
                let message = "the query is over its budget (time, memory or rows); narrow the period or the filters";
                Err(error(StatusCode::SERVICE_UNAVAILABLE, "query", message))
            }
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "stats query failed");
                Err(error(StatusCode::SERVICE_UNAVAILABLE, "clickhouse", "the query could not run; try again"))
            }
            Err(_) => {
                self.metrics.stats_rejected.with_label_values(&["timeout"]).inc();
                Err(error(StatusCode::SERVICE_UNAVAILABLE, "query", "the query took too long"))
            }
        }
    }

    /// How this request may read `site`: with the site's own credential, or as anyone when
    /// the site is public (a credential for another site, or none, then).
    async fn authorize(&self, headers: &HeaderMap, site: &SiteConfig) -> Result<Access, Denied> {
        let verdict = match self.credential_site(headers).await? {
            Some(id) if id == site.id => Ok(Access::Credential),
            Some(_) => Err(Denied::Forbidden),
            None => Err(Denied::Unauthenticated),
        };
        match verdict {
            Err(Denied::Unauthenticated | Denied::Forbidden) if site.public => Ok(Access::Public),
            other => other,
        }
    }

    /// The site a request's credential reads: its bearer token or share secret, else its
    /// sign-in session (whose credential is checked again). `Ok(None)`: no credential at all;
    /// `Err(Unauthenticated)`: one that is unknown, revoked or ended.
    async fn credential_site(&self, headers: &HeaderMap) -> Result<Option<u32>, Denied> {
        if let Some(secret) = bearer(headers) {
            return self.site_of(&tokens::hash(secret)).await?.map(Some).ok_or(Denied::Unauthenticated);
        }
        let Some(id) = session::id_of(headers) else { return Ok(None) };
        let Some(open) = self.sessions.get(id, self.clock.now()) else { return Err(Denied::Unauthenticated) };
        match self.site_of(&open.credential).await? {
            Some(site) if site == open.site_id => Ok(Some(site)),
            _ => {
                self.sessions.end(id);
                Err(Denied::Unauthenticated)
            }
        }
    }

    /// The site the credential of this SHA-256 reads (a share secret or an API token; `None`:
    /// neither). A token is looked up in ClickHouse at most once per
    /// [`crate::web::budget::VERDICT_TTL`], and unknown ones only within the look-up budget.
    async fn site_of(&self, digest: &str) -> Result<Option<u32>, Denied> {
        let live = self.live.current();
        let shared = live.sites.iter().find(|s| s.share_secret_sha256.is_some_and(|h| hex::encode(h) == digest));
        if let Some(site) = shared {
            return Ok(Some(site.id));
        }
        match self.credentials.known(digest) {
            Known::Site(site) => return Ok(Some(site)),
            Known::OverBudget => {
                self.metrics.auth_failures.inc();
                return Err(Denied::TooMany);
            }
            Known::LookUp => {}
        }
        let site = match self.store.token_site(digest).await {
            Ok(site) => site,
            Err(e) => {
                tracing::warn!(error = %e, "token check failed");
                None
            }
        };
        self.credentials.looked_up(digest, site);
        if site.is_none() {
            self.metrics.auth_failures.inc();
        }
        Ok(site)
    }

    /// `POST /api/v1/session` `{"token": "..."}`: a valid token (or share secret) opens a
    /// session whose cookie signs the dashboard in.
    async fn sign_in(&self, headers: &HeaderMap, body: &[u8], secure: bool) -> Response<Body> {
        let token = serde_json::from_slice::<Value>(body).ok().and_then(|v| v["token"].as_str().map(str::to_owned));
        let Some(token) = token.filter(|t| !t.trim().is_empty()) else {
            return error(StatusCode::BAD_REQUEST, "token", "required: {\"token\": \"...\"}");
        };
        let digest = tokens::hash(&token);
        match self.site_of(&digest).await {
            Ok(Some(site)) => {
                if let Some(old) = session::id_of(headers) {
                    self.sessions.end(old);
                }
                let id = self.sessions.open(&digest, site, self.clock.now());
                let mut response = json_response(StatusCode::OK, &json!({ "signed_in": true, "site_id": site }));
                response.headers_mut().insert(SET_COOKIE, session::cookie(&id, secure));
                response
            }
            Ok(None) => error(StatusCode::UNAUTHORIZED, "token", "unknown or revoked token"),
            Err(_) => too_many("too many unknown credentials lately; try again"),
        }
    }

    /// `GET /signin?code=…`: a one-time sign-in link opens a session and goes to the site's
    /// dashboard; a used, expired or unknown link says so.
    async fn sign_in_link(&self, query: &str, secure: bool) -> Response<Body> {
        let code = form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == "code").map(|(_, v)| v.into_owned());
        let Some(code) = code.filter(|c| !c.is_empty() && c.len() <= 128) else {
            return no_store(crate::ingest::plain(StatusCode::BAD_REQUEST, "This sign-in link is incomplete.\n"));
        };
        let code_digest = tokens::hash(&code);
        if let Known::OverBudget = self.credentials.known(&code_digest) {
            self.metrics.auth_failures.inc();
            return too_many("too many unknown credentials lately; try again");
        }
        let now = self.clock.now();
        let redeemed = match self.store.redeem_sign_in_link(&code, now).await {
            Ok(found) => found,
            Err(e) => {
                tracing::warn!(error = %e, "sign-in link check failed");
                return error(StatusCode::SERVICE_UNAVAILABLE, "clickhouse", "try again");
            }
        };
        let site = match &redeemed {
            Some((token_hash, site)) => match self.site_of(token_hash).await {
                Ok(Some(valid)) if valid == *site => Some(valid),
                _ => None,
            },
            None => None,
        };
        let (Some((token_hash, _)), Some(site)) = (redeemed, site) else {
            self.credentials.looked_up(&code_digest, None);
            self.metrics.auth_failures.inc();
            return no_store(crate::ingest::plain(
                StatusCode::BAD_REQUEST,
                "This sign-in link was already used, has expired, or its token was revoked. \
                 Ask for a new one: mesure token create --site N --sign-in-link\n",
            ));
        };
        let id = self.sessions.open(&token_hash, site, now);
        let mut response = Response::new(Full::new(Bytes::new()));
        *response.status_mut() = StatusCode::SEE_OTHER;
        let location = HeaderValue::from_str(&format!("/?site={site}")).expect("a valid location");
        response.headers_mut().insert(hyper::header::LOCATION, location);
        response.headers_mut().insert(SET_COOKIE, session::cookie(&id, secure));
        response.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }

    /// The sites this request may read: public ones and the credential's.
    async fn sites(&self, headers: &HeaderMap) -> Response<Body> {
        let credential_site = match self.credential_site(headers).await {
            Ok(site) => site,
            Err(Denied::TooMany) => return too_many("too many unknown credentials lately; try again"),
            Err(_) => return error(StatusCode::UNAUTHORIZED, "authorization", "unknown or revoked credential"),
        };
        let live = self.live.current();
        let sites: Vec<Value> = live
            .sites
            .iter()
            .filter(|s| s.public || Some(s.id) == credential_site)
            .map(|s| json!({"id": s.id, "domain": s.domains[0], "time_zone": s.timezone, "public": s.public}))
            .collect();
        json_response(StatusCode::OK, &json!({ "sites": sites }))
    }
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let token = value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer "))?.trim();
    (!token.is_empty()).then_some(token)
}

/// 429 with `Retry-After: 1`.
fn too_many(message: &str) -> Response<Body> {
    let mut response = error(StatusCode::TOO_MANY_REQUESTS, "limits", message);
    response.headers_mut().insert(RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

/// Whether ClickHouse stopped a query for its budget: time (159), rows (158) or memory (241).
fn over_budget(error: &crate::store::Error) -> bool {
    let text = error.to_string();
    ["Code: 159", "Code: 158", "Code: 241", "TIMEOUT_EXCEEDED", "TOO_MANY_ROWS", "MEMORY_LIMIT_EXCEEDED"]
        .iter()
        .any(|code| text.contains(code))
}

fn bad_request(e: &BadRequest) -> Response<Body> {
    error(StatusCode::BAD_REQUEST, &e.parameter, &e.message)
}

fn error(status: StatusCode, parameter: &str, message: &str) -> Response<Body> {
    json_response(status, &json!({ "error": format!("{parameter}: {message}"), "parameter": parameter }))
}

/// The answer, never cached (a page a sign-in link led to).
fn no_store(mut response: Response<Body>) -> Response<Body> {
    response.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
