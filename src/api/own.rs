//! Our own stats API, used by the dashboard: `POST /api/v1/query` (JSON in, JSON or CSV out)
//! and `GET /api/v1/sites`. Errors are `{"error": "parameter: message", "parameter": …}`.

use bytes::Bytes;
use http_body_util::Full;
use hyper::StatusCode;
use hyper::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use serde_json::{Value, json};

use std::collections::HashMap;

use super::access::Caller;
use super::{Access, Credential, Refusal, number, with_retry_after};
use crate::config::SiteConfig;
use crate::http::{self, Request, Response};
use crate::query::ResultRow;
use crate::query::period::{date_text, time_labels};
use crate::query::request::{Dimension, Format, StatsRequest};
use crate::query::stats::Answer;

/// A refusal in our shape.
pub fn refuse(refusal: &Refusal) -> Response {
    let (parameter, message) = (refusal.parameter(), refusal.message());
    let body = json!({ "error": format!("{parameter}: {message}"), "parameter": parameter });
    with_retry_after(http::json(refusal.status(), &body), refusal)
}

/// `POST /api/v1/query`.
pub async fn query(access: &Access, request: &Request, caller: Caller) -> Response {
    match answer(access, request, caller).await {
        Ok(response) => response,
        Err(refusal) => refuse(&refusal),
    }
}

async fn answer(access: &Access, request: &Request, caller: Caller) -> Result<Response, Refusal> {
    let query = StatsRequest::from_json(request.body())?;
    let grant = access.authorize(&Credential::of(request.headers(), None, caller), query.site_id).await?;
    let answer = grant.run(&query).await?;
    Ok(match query.format {
        Format::Json => http::json(StatusCode::OK, &to_json(&answer, &query, grant.site())),
        Format::Csv => {
            let mut response = hyper::Response::new(Full::new(Bytes::from(to_csv(&answer, &query))));
            let h = response.headers_mut();
            h.insert(CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
            h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
    })
}

/// `GET /api/v1/sites`: the sites this request may read (public ones and the credential's).
pub async fn sites(access: &Access, request: &Request, caller: Caller) -> Response {
    let scope = match access.credential_scope(&Credential::of(request.headers(), None, caller)).await {
        Ok(scope) => scope,
        Err(refusal) => return refuse(&refusal),
    };
    let live = access.live.current();
    let sites: Vec<Value> = live
        .sites
        .iter()
        .filter(|s| s.public || scope.as_ref().is_some_and(|c| c.covers(s.id)))
        .map(|s| json!({"id": s.id, "domain": s.domains[0], "time_zone": s.timezone, "public": s.public}))
        .collect();
    http::json(StatusCode::OK, &json!({ "sites": sites }))
}

/// The JSON answer, shaped like Plausible's v2.
fn to_json(answer: &Answer, request: &StatsRequest, site: &SiteConfig) -> Value {
    let previous: HashMap<&Vec<String>, &ResultRow> =
        answer.previous.iter().flat_map(|(_, rows)| rows.iter().map(|r| (&r.dimensions, r))).collect();
    let results: Vec<Value> = answer
        .rows
        .iter()
        .map(|row| {
            let mut value = json!({
                "dimensions": row.dimensions,
                "metrics": row.metrics.iter().map(|v| number(*v)).collect::<Vec<_>>(),
            });
            if answer.previous.is_some() {
                let before = previous
                    .get(&row.dimensions)
                    .map(|r| r.metrics.clone())
                    .unwrap_or_else(|| vec![0.0; row.metrics.len()]);
                let change: Vec<Value> = row
                    .metrics
                    .iter()
                    .zip(&before)
                    .zip(&request.metrics)
                    .map(|((now, then), metric)| {
                        if metric.is_ratio() {
                            number(((now - then) * 10.0).round() / 10.0)
                        } else if *then == 0.0 {
                            Value::Null
                        } else {
                            number(((now - then) / then * 100.0).round())
                        }
                    })
                    .collect();
                value["comparison"] = json!({
                    "metrics": before.iter().map(|v| number(*v)).collect::<Vec<_>>(),
                    "change": change,
                });
            }
            value
        })
        .collect();
    let mut meta = json!({
        "site_id": site.id,
        "metrics": request.metrics.iter().map(|m| m.name()).collect::<Vec<_>>(),
        "dimensions": request.dimensions.iter().map(|d| d.name()).collect::<Vec<_>>(),
        "date_range": [crate::clock::utc_text(answer.span.from), crate::clock::utc_text(answer.span.to)],
        "time_zone": site.timezone,
        "rounded": site.round_counts,
    });
    if site.round_counts {
        // The noise counts get before rounding (docs/privacy.md F2), for the analyst to know.
        use crate::query::rounding::{DELTA, EPSILON, NOISE_BOUND};
        meta["noise"] = json!({"epsilon": EPSILON, "delta": DELTA, "bound": NOISE_BOUND});
    }
    // The range's calendar days in the site's time zone (what a chart's axis spans).
    meta["dates"] = json!([date_text(answer.span.first_day), date_text(answer.span.last_day)]);
    let bucket = request.dimensions.iter().find_map(|d| match d {
        Dimension::Time(bucket) => Some(*bucket),
        _ => None,
    });
    if let (true, Some(bucket)) = (request.time_labels, bucket) {
        meta["time_labels"] = json!(time_labels(&answer.span, bucket));
    }
    if let Some((span, _)) = &answer.previous {
        meta["comparison_date_range"] = json!([crate::clock::utc_text(span.from), crate::clock::utc_text(span.to)]);
        meta["comparison_dates"] = json!([date_text(span.first_day), date_text(span.last_day)]);
    }
    json!({ "results": results, "meta": meta })
}

/// A CSV cell: quoted when it holds a separator, a quote or a line break; and a value that a
/// spreadsheet would run as a formula (it starts with `=`, `+`, `-`, `@`, a tab or a carriage
/// return: visitor-controlled text such as a page path or a property) gets a leading `'`.
pub(crate) fn csv_cell(value: &str) -> String {
    let neutral;
    let value = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        neutral = format!("'{value}");
        neutral.as_str()
    } else {
        value
    };
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_string()
    }
}

/// The CSV answer: a header of dimension and metric names, then one line per row.
fn to_csv(answer: &Answer, request: &StatsRequest) -> String {
    let field = csv_cell;
    let mut header: Vec<String> = request.dimensions.iter().map(|d| d.name()).collect();
    header.extend(request.metrics.iter().map(|m| m.name().to_string()));
    if answer.previous.is_some() {
        header.extend(request.metrics.iter().map(|m| format!("{}_previous", m.name())));
    }
    let previous: HashMap<&Vec<String>, &ResultRow> =
        answer.previous.iter().flat_map(|(_, rows)| rows.iter().map(|r| (&r.dimensions, r))).collect();
    let mut out = header.iter().map(|h| field(h)).collect::<Vec<_>>().join(",");
    out.push('\n');
    for row in &answer.rows {
        let mut cells: Vec<String> = row.dimensions.iter().map(|d| field(d)).collect();
        cells.extend(row.metrics.iter().map(|v| number(*v).to_string()));
        if answer.previous.is_some() {
            let before = previous
                .get(&row.dimensions)
                .map(|r| r.metrics.clone())
                .unwrap_or_else(|| vec![0.0; row.metrics.len()]);
            cells.extend(before.iter().map(|v| number(*v).to_string()));
        }
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_never_start_a_formula() {
        assert_eq!(csv_cell("=HYPERLINK(\"http://x\")"), "\"'=HYPERLINK(\"\"http://x\"\")\"");
        assert_eq!(csv_cell("+1"), "'+1");
        assert_eq!(csv_cell("-2"), "'-2");
        assert_eq!(csv_cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_cell("\tx"), "'\tx");
        assert_eq!(csv_cell("\rx"), "\"'\rx\"");
        assert_eq!(csv_cell("/a,b"), "\"/a,b\"");
        assert_eq!(csv_cell("/plain"), "/plain");
    }
}
