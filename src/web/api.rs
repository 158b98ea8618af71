//! The stats API: `POST /api/v1/query` (JSON in, JSON or CSV out), the GET conveniences
//! `/api/v1/stats/aggregate`, `/timeseries` and `/breakdown`, and `/api/v1/sites`.
//!
//! Access (docs/privacy.md F1): `Authorization: Bearer TOKEN` with a site's API token or share
//! secret; a public site needs none. No credential, or an unknown or revoked one: 401. A valid
//! credential for another site: 403. Reports are aggregates only (F2): no endpoint lists hits or
//! visitors.

use std::sync::Arc;

use crate::server::RequestBody;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use hyper::{HeaderMap, Method, Request, Response, StatusCode};
use serde_json::{Value, json};

use crate::clock::Clock;
use crate::config::SiteConfig;
use crate::ingest::params::Params;
use crate::ingest::{Body, json as json_response};
use crate::query::request::{BadRequest, Format, StatsRequest};
use crate::query::stats;
use crate::sites::Sites;
use crate::store::{Store, tokens};

/// Largest request body (bytes).
const MAX_BODY: usize = 64 * 1024;

pub struct Api {
    sites: Arc<Sites>,
    store: Store,
    clock: Arc<dyn Clock>,
}

/// Why a request may not read a site.
enum Denied {
    Unauthenticated,
    Forbidden,
}

impl Api {
    pub fn new(sites: Arc<Sites>, store: Store, clock: Arc<dyn Clock>) -> Api {
        Api { sites, store, clock }
    }

    pub async fn handle(&self, request: Request<RequestBody>) -> Response<Body> {
        let path = request.uri().path().to_string();
        let method = request.method().clone();
        match (method, path.as_str()) {
            (Method::POST, "/api/v1/query") => {
                let headers = request.headers().clone();
                let body = match Limited::new(request.into_body(), MAX_BODY).collect().await {
                    Ok(b) => b.to_bytes(),
                    Err(e) if e.is::<crate::server::limits::BodyTimeout>() => {
                        return error(StatusCode::REQUEST_TIMEOUT, "body", "did not arrive in time");
                    }
                    Err(_) => return error(StatusCode::PAYLOAD_TOO_LARGE, "body", "over 64 KiB"),
                };
                match StatsRequest::from_json(&body) {
                    Ok(query) => self.answer(&headers, query).await,
                    Err(e) => bad_request(&e),
                }
            }
            (Method::GET, "/api/v1/sites") => self.sites(request.headers()).await,
            (Method::GET, p) if p.starts_with("/api/v1/stats/") => {
                let kind = p.trim_start_matches("/api/v1/stats/").to_string();
                let query = request.uri().query().unwrap_or("").to_string();
                match convenience(&kind, &query) {
                    Ok(q) => self.answer(request.headers(), q).await,
                    Err(e) => bad_request(&e),
                }
            }
            _ => error(StatusCode::NOT_FOUND, "path", "no such endpoint"),
        }
    }

    async fn answer(&self, headers: &HeaderMap, query: StatsRequest) -> Response<Body> {
        let Some(site) = self.sites.get(query.site_id) else {
            return error(StatusCode::BAD_REQUEST, "site_id", "no such site");
        };
        match self.authorize(headers, site).await {
            Ok(()) => {}
            Err(Denied::Unauthenticated) => {
                return error(StatusCode::UNAUTHORIZED, "authorization", "a valid API token or share link is needed");
            }
            Err(Denied::Forbidden) => {
                return error(StatusCode::FORBIDDEN, "site_id", "this credential is for another site");
            }
        }
        let answer = match stats::run(&self.store, &query, site, self.clock.now()).await {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = %e, "stats query failed");
                return error(StatusCode::SERVICE_UNAVAILABLE, "clickhouse", "the query could not run; try again");
            }
        };
        match query.format {
            Format::Json => json_response(StatusCode::OK, &stats::to_json(&answer, &query, site)),
            Format::Csv => {
                let mut response = Response::new(Full::new(Bytes::from(stats::to_csv(&answer, &query))));
                let h = response.headers_mut();
                h.insert(CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
                h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
                response
            }
        }
    }

    async fn authorize(&self, headers: &HeaderMap, site: &SiteConfig) -> Result<(), Denied> {
        if site.public {
            return Ok(());
        }
        let secret = bearer(headers).ok_or(Denied::Unauthenticated)?;
        match self.site_of(secret).await {
            Some(id) if id == site.id => Ok(()),
            Some(_) => Err(Denied::Forbidden),
            None => Err(Denied::Unauthenticated),
        }
    }

    /// The site a share secret or API token reads.
    async fn site_of(&self, secret: &str) -> Option<u32> {
        let digest = tokens::hash(secret);
        let shared = self.sites.iter().find(|s| s.share_secret_sha256.is_some_and(|h| hex::encode(h) == digest));
        if let Some(site) = shared {
            return Some(site.id);
        }
        match self.store.token_site(secret).await {
            Ok(site) => site,
            Err(e) => {
                tracing::warn!(error = %e, "token check failed");
                None
            }
        }
    }

    /// The sites this request may read: public ones and the credential's.
    async fn sites(&self, headers: &HeaderMap) -> Response<Body> {
        let credential_site = match bearer(headers) {
            Some(secret) => self.site_of(secret).await,
            None => None,
        };
        if bearer(headers).is_some() && credential_site.is_none() {
            return error(StatusCode::UNAUTHORIZED, "authorization", "unknown or revoked credential");
        }
        let sites: Vec<Value> = self
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

/// The GET conveniences, as Plausible's v1 API names them:
/// `aggregate?site_id=1&period=30d&metrics=visitors,pageviews&compare=previous_period`,
/// `timeseries?...&interval=day`, `breakdown?...&property=visit:source&limit=10`; `date=FROM,TO`
/// with `period=custom`, `filters` as the JSON array of the POST form, `format=csv`.
fn convenience(kind: &str, query: &str) -> Result<StatsRequest, BadRequest> {
    let params = Params::parse(query).map_err(|e| BadRequest { parameter: "query".into(), message: e.to_string() })?;
    let metrics: Vec<&str> = params.get("metrics").unwrap_or("visitors").split(',').map(str::trim).collect();
    let period = params.get("period").unwrap_or("30d");
    let date_range = if period == "custom" {
        let dates: Vec<&str> = params.get("date").unwrap_or("").split(',').collect();
        json!(dates)
    } else {
        json!(period)
    };
    let filters: Value = match params.get("filters") {
        Some(text) => serde_json::from_str(text)
            .map_err(|e| BadRequest { parameter: "filters".into(), message: format!("not a JSON array: {e}") })?,
        None => json!([]),
    };
    let dimensions = match kind {
        "aggregate" => json!([]),
        "timeseries" => json!([format!("time:{}", params.get("interval").unwrap_or("day"))]),
        "breakdown" => json!([params
            .get("property")
            .ok_or(BadRequest { parameter: "property".into(), message: "required for a breakdown".into() })?]),
        other => return Err(BadRequest { parameter: "path".into(), message: format!("no report {other:?}") }),
    };
    let mut body = json!({
        "site_id": params.get("site_id").unwrap_or(""),
        "metrics": metrics,
        "date_range": date_range,
        "dimensions": dimensions,
        "filters": filters,
        "format": params.get("format").unwrap_or("json"),
    });
    if let Some(limit) = params.get("limit").and_then(|l| l.parse::<u32>().ok()) {
        body["limit"] = json!(limit);
    } else if kind == "timeseries" {
        body["limit"] = json!(10_000);
    }
    if params.get("compare") == Some("previous_period") {
        body["include"] = json!({"comparison": "previous_period"});
    }
    StatsRequest::from_json(body.to_string().as_bytes())
}

fn bad_request(e: &BadRequest) -> Response<Body> {
    error(StatusCode::BAD_REQUEST, &e.parameter, &e.message)
}

fn error(status: StatusCode, parameter: &str, message: &str) -> Response<Body> {
    json_response(status, &json!({ "error": format!("{parameter}: {message}"), "parameter": parameter }))
}
