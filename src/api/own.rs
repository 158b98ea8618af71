//! Our own stats API, used by the dashboard: `POST /api/v1/query` (JSON in, JSON or CSV out)
//! and `GET /api/v1/sites`. Errors are `{"error": "parameter: message", "parameter": …}`.

use bytes::Bytes;
use http_body_util::Full;
use hyper::StatusCode;
use hyper::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use serde_json::{Value, json};

use super::{Access, Credential, Refusal, with_retry_after};
use crate::http::{self, Request, Response};
use crate::query::request::{Format, StatsRequest};
use crate::query::stats;

/// A refusal in our shape.
pub fn refuse(refusal: &Refusal) -> Response {
    let (parameter, message) = (refusal.parameter(), refusal.message());
    let body = json!({ "error": format!("{parameter}: {message}"), "parameter": parameter });
    with_retry_after(http::json(refusal.status(), &body), refusal)
}

/// `POST /api/v1/query`.
pub async fn query(access: &Access, request: &Request) -> Response {
    match answer(access, request).await {
        Ok(response) => response,
        Err(refusal) => refuse(&refusal),
    }
}

async fn answer(access: &Access, request: &Request) -> Result<Response, Refusal> {
    let query = StatsRequest::from_json(request.body())?;
    let grant = access.authorize(&Credential::of(request.headers(), None), query.site_id).await?;
    let answer = grant.run(&query).await?;
    Ok(match query.format {
        Format::Json => http::json(StatusCode::OK, &stats::to_json(&answer, &query, grant.site())),
        Format::Csv => {
            let mut response = hyper::Response::new(Full::new(Bytes::from(stats::to_csv(&answer, &query))));
            let h = response.headers_mut();
            h.insert(CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
            h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
    })
}

/// `GET /api/v1/sites`: the sites this request may read (public ones and the credential's).
pub async fn sites(access: &Access, request: &Request) -> Response {
    let credential_site = match access.credential_site(&Credential::of(request.headers(), None)).await {
        Ok(site) => site,
        Err(refusal) => return refuse(&refusal),
    };
    let live = access.live.current();
    let sites: Vec<Value> = live
        .sites
        .iter()
        .filter(|s| s.public || Some(s.id) == credential_site)
        .map(|s| json!({"id": s.id, "domain": s.domains[0], "time_zone": s.timezone, "public": s.public}))
        .collect();
    http::json(StatusCode::OK, &json!({ "sites": sites }))
}
