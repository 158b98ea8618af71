//! Plausible's Stats API v1 GET reports (`/api/v1/stats/aggregate`, `timeseries`, `breakdown`
//! and `realtime/visitors`): its parameters (`site_id` the domain, or our numeric id; `period`,
//! `date`, `metrics`, `filters` in its `key==a|b;key!=c` syntax with `*` wildcards, `compare`,
//! `interval`, `property`, `limit`, `page`) and its answer shapes.

use hyper::StatusCode;
use serde_json::{Map, Value, json};

use super::names::{parse_dimension, regex_escape, shown_value, stored_value};
use super::{invalid, refuse};
use crate::api::access::{Caller, NO_SITE};
use crate::api::number;
use crate::api::{Access, Credential};
use crate::http::{self, Params, Request, Response};
use crate::query::ResultRow;
use crate::query::period::{Unit, date_text, day_of, days_ending, is_date, periods_ending, time_labels};
use crate::query::request::{
    DateRange, Dimension, Filter, FilterTree, Format, MAX_FILTER_VALUE_BYTES, MAX_FILTER_VALUES, MAX_LIMIT, Metric,
    Operator, StatsRequest, TimeBucket,
};

/// One of the v1 reports (the route table reads it from the path).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Report {
    Aggregate,
    Timeseries,
    Breakdown,
    Realtime,
}

impl Report {
    fn name(self) -> &'static str {
        match self {
            Report::Aggregate => "aggregate",
            Report::Timeseries => "timeseries",
            Report::Breakdown => "breakdown",
            Report::Realtime => "realtime/visitors",
        }
    }
}

/// `GET /api/v1/stats/{report}`.
pub async fn report(access: &Access, request: &Request, report: Report, caller: Caller) -> Response {
    let report = report.name();
    let now = access.clock.now();
    let live = access.live.current();
    let sites = &live.sites;
    let params = match Params::parse(request.uri().query().unwrap_or("")) {
        Ok(p) => p,
        Err(e) => return invalid(format!("Invalid query string: {e}")),
    };
    let get = |key: &str| params.get(key).map(str::trim).filter(|v| !v.is_empty());
    let Some(site_id) = get("site_id") else {
        return invalid("Missing site ID. Please provide the required site_id parameter with your request.");
    };
    // The domain, or our numeric id.
    let by_id = site_id.parse().ok().and_then(|id| sites.get(id));
    let site_id = sites.by_domain(&site_id.to_ascii_lowercase()).or(by_id).map_or(NO_SITE, |s| s.id);
    // Authorised before the rest is read (as Plausible does): an unknown site and a private
    // one are refused alike, whatever else the request says.
    let grant = match access.authorize(&Credential::of(request.headers(), None, caller), site_id).await {
        Ok(grant) => grant,
        Err(refusal) => return refuse(&refusal),
    };
    let site = grant.site();
    let realtime = report == "realtime/visitors";
    let date_range = if realtime {
        // Plausible's current visitors: the last 5 minutes.
        DateRange::Instants(now.saturating_sub(300), now + 1)
    } else {
        match v1_period(get("period").unwrap_or("30d"), get("date")) {
            Ok(range) => range,
            Err(message) => return invalid(message),
        }
    };
    let names: Vec<&str> = if realtime {
        vec!["visitors"]
    } else {
        get("metrics").unwrap_or("visitors").split(',').map(str::trim).collect()
    };
    let mut metrics = Vec::new();
    for name in &names {
        if metrics.iter().any(|(n, _)| n == name) {
            return invalid("Metrics cannot be queried multiple times.");
        }
        let metric = match *name {
            "events" => None,
            n => match Metric::parse(n) {
                Some(m) => Some(m),
                None => {
                    return invalid(format!(
                        "The metric `{n}` is not recognized. Find valid metrics from the documentation: https://plausible.io/docs/stats-api#metrics"
                    ));
                }
            },
        };
        metrics.push((name.to_string(), metric));
    }
    let filters = match get("filters").map(v1_filters).transpose() {
        Ok(f) => f.unwrap_or_default(),
        Err(message) => return invalid(message),
    };
    let (dimension, key) = match report {
        "timeseries" => {
            let interval = match get("interval") {
                None => match date_range {
                    DateRange::LastMonths(n) if n > 1 => TimeBucket::Month,
                    DateRange::Today => TimeBucket::Hour,
                    _ => TimeBucket::Day,
                },
                Some("day" | "date") => TimeBucket::Day,
                Some("month") => TimeBucket::Month,
                Some(other) => {
                    return invalid(format!(
                        "Error parsing `interval` parameter: invalid interval `{other}`. Valid intervals are `day`, `month`"
                    ));
                }
            };
            (Some(Dimension::Time(interval)), "date".to_string())
        }
        "breakdown" => {
            let Some(property) = get("property") else {
                return invalid(
                    "The `property` parameter is required. Please provide at least one property to show a breakdown by.",
                );
            };
            let dimension = match parse_dimension(property, &date_range) {
                Ok(d) if !matches!(d, Dimension::Time(_)) => d,
                _ => {
                    return invalid(format!(
                        "Invalid property '{property}'. Please provide a valid property for the breakdown endpoint: https://plausible.io/docs/stats-api#properties"
                    ));
                }
            };
            let key = property
                .strip_prefix("event:props:")
                .unwrap_or_else(|| property.split_once(':').map_or(property, |(_, k)| k));
            (Some(dimension), key.to_string())
        }
        _ => (None, String::new()),
    };
    let limit = match get("limit").map(str::parse::<u32>) {
        None => 100,
        Some(Ok(l)) if (1..=1000).contains(&l) => l,
        Some(_) => return invalid("Please provide limit as a number between 1 and 1000."),
    };
    let page = match get("page").map(str::parse::<u32>) {
        None => 1,
        Some(Ok(p)) if p > 0 => p,
        Some(_) => return invalid("Please provide page as a positive number."),
    };
    let mut engine: Vec<Metric> = Vec::new();
    for (_, metric) in &metrics {
        let needed: Vec<Metric> = match metric {
            Some(m) => vec![*m],
            None => vec![Metric::Pageviews, Metric::Events],
        };
        for m in needed {
            if !engine.contains(&m) {
                engine.push(m);
            }
        }
    }
    let comparison = get("compare") == Some("previous_period") && report == "aggregate";
    let stats = StatsRequest {
        site_id: site.id,
        metrics: engine.clone(),
        date_range: date_range.clone(),
        dimensions: dimension.clone().into_iter().collect(),
        filters,
        order_by: Vec::new(),
        limit: match report {
            "breakdown" => limit,
            "timeseries" => MAX_LIMIT,
            _ => 1,
        },
        offset: if report == "breakdown" { (page - 1).saturating_mul(limit) } else { 0 },
        comparison,
        format: Format::Json,
        total_rows: false,
        time_labels: false,
    };
    let answer = match super::pages::run(&grant, &stats).await {
        Ok(answer) => answer,
        Err(refusal) => return refuse(&refusal),
    };
    let at = |m: Metric| engine.iter().position(|e| *e == m).expect("requested");
    let values = |row: &[f64]| -> Map<String, Value> {
        metrics
            .iter()
            .map(|(name, metric)| {
                let v = match metric {
                    None => row[at(Metric::Pageviews)] + row[at(Metric::Events)],
                    // Plausible's v1 rounds these two to whole numbers.
                    Some(m @ (Metric::BounceRate | Metric::VisitDuration)) => row[at(*m)].round(),
                    Some(m) => row[at(*m)],
                };
                (name.clone(), number(v))
            })
            .collect()
    };
    let zero = vec![0.0; engine.len()];
    let body = match report {
        "realtime/visitors" => json!(answer.rows.first().map_or(0.0, |r| r.metrics[0]) as u64),
        "aggregate" => {
            let now = values(answer.rows.first().map_or(&zero, |r| &r.metrics));
            let mut results = Map::new();
            for (name, value) in now {
                let mut entry = json!({ "value": value });
                if let Some((_, rows)) = &answer.previous {
                    let before = values(rows.first().map_or(&zero, |r| &r.metrics));
                    let (now_v, then_v) = (value.as_f64().unwrap_or(0.0), before[&name].as_f64().unwrap_or(0.0));
                    let change = if name == "bounce_rate" {
                        number(now_v - then_v)
                    } else if then_v == 0.0 {
                        if now_v == 0.0 { json!(0) } else { json!(100) }
                    } else {
                        number(((now_v - then_v) / then_v * 100.0).round())
                    };
                    entry["comparison_value"] = before[&name].clone();
                    entry["change"] = change;
                }
                results.insert(name, entry);
            }
            json!({ "results": results })
        }
        "timeseries" => {
            let bucket = match dimension {
                Some(Dimension::Time(b)) => b,
                _ => TimeBucket::Day,
            };
            let by_label: std::collections::HashMap<&str, &ResultRow> =
                answer.rows.iter().map(|r| (r.dimensions[0].as_str(), r)).collect();
            let results: Vec<Value> = time_labels(&answer.span, bucket)
                .into_iter()
                .map(|label| {
                    let mut entry = values(by_label.get(label.as_str()).map_or(&zero, |r| &r.metrics));
                    entry.insert("date".into(), json!(label));
                    Value::Object(entry)
                })
                .collect();
            json!({ "results": results })
        }
        _ => {
            let dimension = dimension.expect("a breakdown has a property");
            let results: Vec<Value> = answer
                .rows
                .iter()
                .map(|row| {
                    let mut entry = values(&row.metrics);
                    entry.insert(key.clone(), json!(shown_value(&dimension, &row.dimensions[0])));
                    Value::Object(entry)
                })
                .collect();
            json!({ "results": results })
        }
    };
    http::json(StatusCode::OK, &body)
}

/// A v1 `period` (and `date`: the day the period ends on, or `FROM,TO` for `custom`).
fn v1_period(period: &str, date: Option<&str>) -> Result<DateRange, String> {
    if period == "custom" {
        let Some(date) = date else {
            return Err("The `date` parameter is required when using a custom period. See https://plausible.io/docs/stats-api#time-periods".into());
        };
        return match date.split_once(',').map(|(a, b)| (a.trim(), b.trim())) {
            Some((from, to)) if is_date(from) && is_date(to) && from <= to => Ok(DateRange::Custom(from.into(), to.into())),
            _ => Err("Invalid format for `date` parameter. When using a custom period, please include two ISO-8601 formatted dates joined by a comma. See https://plausible.io/docs/stats-api#time-periods".into()),
        };
    }
    let relative = |end: i64| -> Option<(i64, i64)> {
        Some(match period {
            "day" => (end, end),
            "7d" => days_ending(7, end),
            "30d" => days_ending(31, end),
            "month" => periods_ending(Unit::Month, 1, end),
            "6mo" => periods_ending(Unit::Month, 6, end),
            "12mo" => periods_ending(Unit::Month, 12, end),
            _ => return None,
        })
    };
    let invalid_period = || {
        format!(
            "Error parsing `period` parameter: invalid period `{period}`. Please find accepted values in our docs: https://plausible.io/docs/stats-api#time-periods"
        )
    };
    match date {
        Some(date) => {
            let end = day_of(date).ok_or_else(|| {
                format!("Error parsing `date` parameter: invalid date `{date}`. Please specify a valid date in ISO-8601 format.")
            })?;
            let (first, last) = relative(end).ok_or_else(invalid_period)?;
            Ok(DateRange::Custom(date_text(first), date_text(last)))
        }
        None => Ok(match period {
            "day" => DateRange::Today,
            "7d" => DateRange::LastDays(7),
            "30d" => DateRange::LastDays(31),
            "month" => DateRange::LastMonths(1),
            "6mo" => DateRange::LastMonths(6),
            "12mo" => DateRange::LastMonths(12),
            _ => return Err(invalid_period()),
        }),
    }
}

/// v1 filters: `visit:country==FR|DE;event:page!=/admin/**` (`;` is AND, `|` an unescaped
/// OR of values, `*` a wildcard within a path segment and `**` across segments).
fn v1_filters(text: &str) -> Result<Vec<FilterTree>, String> {
    let mut trees = Vec::new();
    for part in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let (key, value, negated) = match (part.split_once("!="), part.split_once("==")) {
            (Some((k, v)), _) => (k.trim(), v.trim(), true),
            (None, Some((k, v))) => (k.trim(), v.trim(), false),
            _ => return Err(format!("Invalid filter expression '{part}'")),
        };
        let dimension = match parse_dimension(key, &DateRange::Today) {
            Ok(d) if !matches!(d, Dimension::Time(_)) => d,
            _ => {
                return Err(format!(
                    "Invalid filter property '{key}'. Please provide a valid filter property: https://plausible.io/docs/stats-api#properties"
                ));
            }
        };
        // Values split on unescaped pipes; `\|` is a literal pipe.
        let mut values = vec![String::new()];
        let mut chars = value.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\\' if chars.peek() == Some(&'|') => {
                    values.last_mut().expect("one").push(chars.next().expect("peeked"))
                }
                '|' => values.push(String::new()),
                c => values.last_mut().expect("one").push(c),
            }
        }
        let wildcard = values.iter().any(|v| v.contains('*'));
        let values: Vec<String> = if wildcard {
            values
                .iter()
                .map(|v| {
                    let pattern: String = v
                        .split("**")
                        .map(|part| part.split('*').map(regex_escape).collect::<Vec<_>>().join("[^/]*"))
                        .collect::<Vec<_>>()
                        .join(".*");
                    format!("^{pattern}$")
                })
                .collect()
        } else {
            values.into_iter().map(|v| stored_value(&dimension, v)).collect()
        };
        if values.len() > MAX_FILTER_VALUES || values.iter().any(|v| v.len() > MAX_FILTER_VALUE_BYTES) {
            return Err(format!("Too many or too long values in filter '{key}'"));
        }
        let operator = match (wildcard, negated) {
            (true, false) => Operator::Matches,
            (true, true) => Operator::MatchesNot,
            (false, false) => Operator::Is,
            (false, true) => Operator::IsNot,
        };
        trees.push(FilterTree::Leaf(Filter { operator, dimension, values, case_sensitive: true }));
    }
    Ok(trees)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_filters_read_plausible_syntax() {
        let trees =
            v1_filters("visit:country==FR|DE;event:page!=/blog/**;visit:source==Direct / None;event:props:a==x\\|y")
                .unwrap();
        let leaves: Vec<(Operator, Vec<String>)> =
            trees.iter().flat_map(|t| t.leaves()).map(|f| (f.operator, f.values.clone())).collect();
        assert_eq!(
            leaves,
            vec![
                (Operator::Is, vec!["FR".to_string(), "DE".to_string()]),
                (Operator::MatchesNot, vec!["^/blog/.*$".to_string()]),
                (Operator::Is, vec![String::new()]),
                (Operator::Is, vec!["x|y".to_string()]),
            ]
        );
        let wild = v1_filters("event:page==/a*/b.c").unwrap();
        assert_eq!(wild[0].leaves()[0].values, vec!["^/a[^/]*/b\\.c$".to_string()]);
        assert!(v1_filters("visit:nose==big").is_err());
        assert!(v1_filters("visit:country").is_err());
    }

    #[test]
    fn v1_periods_end_on_the_date_given() {
        let custom = |a: &str, b: &str| DateRange::Custom(a.into(), b.into());
        assert_eq!(v1_period("7d", Some("2024-03-10")), Ok(custom("2024-03-04", "2024-03-10")));
        assert_eq!(v1_period("30d", Some("2024-03-10")), Ok(custom("2024-02-09", "2024-03-10")));
        assert_eq!(v1_period("month", Some("2024-02-10")), Ok(custom("2024-02-01", "2024-02-29")));
        assert_eq!(v1_period("6mo", Some("2024-02-10")), Ok(custom("2023-09-01", "2024-02-29")));
        assert_eq!(v1_period("custom", Some("2024-01-01,2024-01-31")), Ok(custom("2024-01-01", "2024-01-31")));
        assert!(v1_period("custom", None).is_err());
        assert!(v1_period("fortnight", None).unwrap_err().contains("invalid period `fortnight`"));
    }
}
