//! Plausible's Stats API v2, `POST /api/v2/query`: the request read as Plausible reads it (its
//! JSON schema's shape; `site_id` is the site's domain; `case_sensitive` defaults to true), the
//! answer shaped as Plausible's: `results` of `{metrics, dimensions}`, `meta`, and `query` (the
//! request as run, dates resolved in the site's time zone).

use std::collections::HashMap;

use hyper::StatusCode;
use serde_json::{Map, Value, json};

use super::names::{parse_dimension, parse_tree, shown_value};
use super::{invalid, refuse};
use crate::api::access::{Caller, Grant, NO_SITE};
use crate::api::number;
use crate::api::{Access, Credential, Refusal};
use crate::http::{self, Request, Response};
use crate::query::ResultRow;
use crate::query::period::is_date;
use crate::query::request::{
    DateRange, Dimension, FilterTree, Format, MAX_DIMENSIONS, MAX_LIMIT, Metric, OrderKey, StatsRequest, TimeBucket,
};
use crate::query::stats::Answer;

/// How one requested metric is read from the engine's rows.
#[derive(Debug, Clone, Copy)]
enum Output {
    /// The engine's metric at this index.
    Direct(usize),
    /// Plausible's `events`: page views plus custom events (indexes of both).
    Events(usize, usize),
    /// Visitors of the row (index of visitors) over the visitors of the whole, in %: the
    /// whole with every filter (`percentage`), or without the goal filters (conversion rates).
    Share(usize, Whole),
    /// Visitors of the row over the visitors of its group without the goal filters (the row's
    /// values of its dimensions but `event:goal`), in % (`group_conversion_rate`).
    GroupShare(usize),
}

/// Which whole a share is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Whole {
    Filtered = 0,
    WithoutGoals = 1,
}

/// A parsed v2 request.
struct Query {
    stats: StatsRequest,
    outputs: Vec<Output>,
    /// The denominators of [`Output::Share`]: the same request without dimensions, with every
    /// filter and without goal filters (when asked for).
    wholes: [Option<StatsRequest>; 2],
    /// The denominators of [`Output::GroupShare`]: visitors per group without goal filters,
    /// and which of the request's dimensions make the group.
    groups: Option<(StatsRequest, Vec<usize>)>,
    echo: Map<String, Value>,
    time_labels: bool,
    imports: bool,
}

/// `POST /api/v2/query`.
pub async fn handle(access: &Access, request: &Request, caller: Caller) -> Response {
    let raw: Value = match serde_json::from_slice(request.body()) {
        Ok(value @ Value::Object(_)) => value,
        Ok(_) => return invalid("Invalid request body: expected a JSON object"),
        Err(e) => return invalid(format!("Invalid JSON: {e}")),
    };
    let Some(domain) = raw.get("site_id").and_then(Value::as_str) else {
        return invalid("#/site_id: required, the site's domain");
    };
    let site_id = access.live.current().sites.by_domain(&domain.to_ascii_lowercase()).map_or(NO_SITE, |s| s.id);
    // Authorised before the rest is read (as Plausible does): an unknown site and a private
    // one are refused alike, whatever else the request says.
    let grant = match access.authorize(&Credential::of(request.headers(), None, caller), site_id).await {
        Ok(grant) => grant,
        Err(refusal) => return refuse(&refusal),
    };
    let query = match parse(&raw, site_id) {
        Ok(query) => query,
        Err(message) => return invalid(message),
    };
    match run(&grant, &query).await {
        Ok((answer, wholes, groups)) => http::json(StatusCode::OK, &respond(&query, &answer, wholes, &groups)),
        Err(refusal) => refuse(&refusal),
    }
}

/// The request's queries, all under one grant: the rows, the wholes of the shares and the
/// groups of the group conversion rate.
async fn run(grant: &Grant<'_>, query: &Query) -> Result<(Answer, [f64; 2], HashMap<Vec<String>, f64>), Refusal> {
    let answer = super::pages::run(grant, &query.stats).await?;
    let mut wholes = [0.0; 2];
    for (value, whole) in wholes.iter_mut().zip(&query.wholes) {
        if let Some(whole) = whole {
            let total = grant.run(whole).await?;
            *value = total.rows.first().map_or(0.0, |row| row.metrics[0]);
        }
    }
    let mut groups = HashMap::new();
    if let Some((per_group, _)) = &query.groups {
        let per_group = grant.run(per_group).await?;
        groups.extend(per_group.rows.into_iter().map(|row| (row.dimensions, row.metrics[0])));
    }
    Ok((answer, wholes, groups))
}

fn parse(raw: &Value, site_id: u32) -> Result<Query, String> {
    let object = raw.as_object().expect("checked by the caller");
    const KEYS: [&str; 8] =
        ["site_id", "metrics", "date_range", "dimensions", "filters", "order_by", "include", "pagination"];
    if let Some(key) = object.keys().find(|k| !KEYS.contains(&k.as_str())) {
        return Err(format!("Invalid request: unknown property \"{key}\""));
    }
    let domain = object.get("site_id").and_then(Value::as_str).unwrap_or_default();
    let names = match object.get("metrics") {
        Some(Value::Array(names)) if !names.is_empty() => names,
        _ => return Err("#/metrics: required, a non-empty list of metrics".into()),
    };
    let date_range = parse_date_range(object.get("date_range").ok_or("#/date_range: required")?)?;
    let dimension_names: Vec<&str> = match object.get("dimensions") {
        None => Vec::new(),
        Some(Value::Array(d)) => {
            d.iter().map(|v| v.as_str().ok_or("#/dimensions: a list of strings")).collect::<Result<_, _>>()?
        }
        Some(_) => return Err("#/dimensions: a list of strings".into()),
    };
    if dimension_names.len() > MAX_DIMENSIONS {
        return Err(format!("#/dimensions: at most {MAX_DIMENSIONS} dimensions"));
    }
    let mut dimensions = Vec::new();
    for name in &dimension_names {
        let dimension = parse_dimension(name, &date_range)?;
        if dimensions.contains(&dimension) {
            return Err(format!("#/dimensions: \"{name}\" is given twice"));
        }
        dimensions.push(dimension);
    }
    let filters = match object.get("filters") {
        None => Vec::new(),
        Some(Value::Array(trees)) => trees.iter().map(|t| parse_tree(t, &date_range)).collect::<Result<_, _>>()?,
        Some(_) => return Err("#/filters: a list of filters".into()),
    };
    let has_goal_filter = filters.iter().flat_map(FilterTree::leaves).any(|f| f.dimension == Dimension::Goal);

    let mut metrics: Vec<Metric> = Vec::new();
    let index = |metric: Metric, metrics: &mut Vec<Metric>| match metrics.iter().position(|m| *m == metric) {
        Some(i) => i,
        None => {
            metrics.push(metric);
            metrics.len() - 1
        }
    };
    let mut outputs = Vec::new();
    let mut wholes_needed = [false; 2];
    let mut seen = Vec::new();
    for name in names {
        let name = name.as_str().ok_or("#/metrics: a list of metric names")?;
        if seen.contains(&name) {
            return Err(format!("#/metrics: \"{name}\" is given twice"));
        }
        seen.push(name);
        let output = match name {
            "events" => Output::Events(index(Metric::Pageviews, &mut metrics), index(Metric::Events, &mut metrics)),
            "percentage" => {
                if dimensions.is_empty() {
                    return Err("Metric `percentage` can only be queried with non-empty dimensions".into());
                }
                wholes_needed[Whole::Filtered as usize] = true;
                Output::Share(index(Metric::Visitors, &mut metrics), Whole::Filtered)
            }
            "group_conversion_rate" if has_goal_filter || dimensions.contains(&Dimension::Goal) => {
                Output::GroupShare(index(Metric::Visitors, &mut metrics))
            }
            "group_conversion_rate" => {
                return Err(
                    "Metric `group_conversion_rate` can only be queried with event:goal filters or dimensions".into()
                );
            }
            // Plausible's conversion rate: the visitors who reached the goal(s) over all
            // visitors (the same filters but the goal's, over the whole range).
            "conversion_rate" if has_goal_filter || dimensions.contains(&Dimension::Goal) => {
                wholes_needed[Whole::WithoutGoals as usize] = true;
                Output::Share(index(Metric::Visitors, &mut metrics), Whole::WithoutGoals)
            }
            "conversion_rate" => {
                return Err("Metric `conversion_rate` can only be queried with event:goal filters or dimensions".into());
            }
            other => {
                let metric = Metric::parse(other)
                    .ok_or_else(|| format!("#/metrics/{}: Invalid metric \"{other}\"", seen.len() - 1))?;
                Output::Direct(index(metric, &mut metrics))
            }
        };
        outputs.push(output);
    }

    let (limit, offset) = match object.get("pagination") {
        None => (MAX_LIMIT, 0),
        Some(Value::Object(p)) => {
            let number = |key: &str, default: u64| match p.get(key) {
                None => Ok(default),
                Some(v) => v.as_u64().ok_or(format!("#/pagination/{key}: a whole number")),
            };
            let (limit, offset) = (number("limit", u64::from(MAX_LIMIT))?, number("offset", 0)?);
            if limit == 0 || limit > u64::from(MAX_LIMIT) {
                return Err(format!("#/pagination/limit: between 1 and {MAX_LIMIT}"));
            }
            (limit as u32, u32::try_from(offset).map_err(|_| "#/pagination/offset: too large")?)
        }
        Some(_) => return Err("#/pagination: an object with limit and offset".into()),
    };
    let include = match object.get("include") {
        None => Map::new(),
        Some(Value::Object(i)) => i.clone(),
        Some(_) => return Err("#/include: an object".into()),
    };
    let flag = |key: &str| match include.get(key) {
        None => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(format!("#/include/{key}: true or false")),
    };
    if let Some(key) = include.keys().find(|k| !["imports", "time_labels", "total_rows"].contains(&k.as_str())) {
        return Err(format!("#/include: unknown property \"{key}\""));
    }
    let (imports, time_labels, total_rows) = (flag("imports")?, flag("time_labels")?, flag("total_rows")?);
    if time_labels && !dimensions.iter().any(|d| matches!(d, Dimension::Time(_))) {
        return Err("Invalid include.time_labels: requires a time dimension".into());
    }

    let mut order_by = Vec::new();
    let mut order_echo = Vec::new();
    if let Some(entries) = object.get("order_by") {
        let entries = entries.as_array().ok_or("#/order_by: a list of [name, direction]")?;
        for entry in entries {
            let pair = entry.as_array().filter(|p| p.len() == 2);
            let (Some(key), Some(direction)) = (
                pair.and_then(|p| p[0].as_str()),
                pair.and_then(|p| p[1].as_str()).filter(|d| *d == "asc" || *d == "desc"),
            ) else {
                return Err(format!("#/order_by: Invalid entry {entry}"));
            };
            let order = if let Some(i) = seen.iter().position(|m| *m == key) {
                match outputs[i] {
                    Output::Direct(m) | Output::Share(m, _) | Output::GroupShare(m) | Output::Events(m, _) => {
                        OrderKey::Metric(metrics[m])
                    }
                }
            } else if let Some(i) = dimension_names.iter().position(|d| *d == key) {
                OrderKey::Dimension(i)
            } else {
                return Err(format!("Invalid order_by entry '{key}': not listed in metrics or dimensions"));
            };
            order_by.push((order, direction == "desc"));
            order_echo.push(json!([key, direction]));
        }
    } else if let Some(time) = dimension_names.iter().find(|d| d.starts_with("time")) {
        order_echo.push(json!([time, "asc"]));
    } else {
        order_echo.push(json!([seen[0], "desc"]));
    }

    let stats = StatsRequest {
        site_id,
        metrics,
        date_range,
        dimensions: dimensions.clone(),
        filters,
        order_by,
        limit: if dimensions.is_empty() { 1 } else { limit },
        offset: if dimensions.is_empty() { 0 } else { offset },
        comparison: false,
        format: Format::Json,
        total_rows,
        time_labels,
    };
    let whole = |kind: Whole| {
        let mut whole = stats.clone();
        (whole.metrics, whole.dimensions, whole.order_by, whole.limit, whole.offset) =
            (vec![Metric::Visitors], Vec::new(), Vec::new(), 1, 0);
        whole.total_rows = false;
        if kind == Whole::WithoutGoals {
            whole.filters.retain(|t| t.leaves().iter().all(|f| f.dimension != Dimension::Goal));
        }
        whole
    };
    let wholes = [
        wholes_needed[Whole::Filtered as usize].then(|| whole(Whole::Filtered)),
        wholes_needed[Whole::WithoutGoals as usize].then(|| whole(Whole::WithoutGoals)),
    ];
    // A goal group's denominator: the visitors of the same values of the other dimensions.
    let groups = outputs.iter().any(|o| matches!(o, Output::GroupShare(_))).then(|| {
        let mut per_group = whole(Whole::WithoutGoals);
        let keep: Vec<usize> =
            (0..stats.dimensions.len()).filter(|&i| stats.dimensions[i] != Dimension::Goal).collect();
        per_group.dimensions = keep.iter().map(|&i| stats.dimensions[i].clone()).collect();
        per_group.limit = if per_group.dimensions.is_empty() { 1 } else { MAX_LIMIT };
        (per_group, keep)
    });
    let mut echo = Map::new();
    echo.insert("site_id".into(), json!(domain));
    echo.insert("metrics".into(), json!(seen));
    echo.insert("date_range".into(), Value::Null);
    echo.insert("filters".into(), object.get("filters").cloned().unwrap_or(json!([])));
    echo.insert("dimensions".into(), json!(dimension_names));
    echo.insert("order_by".into(), json!(order_echo));
    echo.insert("include".into(), Value::Object(include.clone()));
    echo.insert("pagination".into(), json!({"limit": limit, "offset": offset}));
    Ok(Query { stats, outputs, wholes, groups, echo, time_labels, imports })
}

fn parse_date_range(value: &Value) -> Result<DateRange, String> {
    let fail = || format!("#/date_range: Invalid date range {value}");
    match value {
        Value::String(name) => Ok(match name.as_str() {
            // As Plausible reads them: `7d` is today and the 6 days before, `30d` today and
            // the 30 days before; `month`, `6mo`, `12mo` and `year` run to the end of this
            // month or year.
            "day" => DateRange::Today,
            "7d" => DateRange::LastDays(7),
            "28d" => DateRange::LastDays(28),
            "30d" => DateRange::LastDays(31),
            "91d" => DateRange::LastDays(91),
            "month" => DateRange::LastMonths(1),
            "6mo" => DateRange::LastMonths(6),
            "12mo" => DateRange::LastMonths(12),
            "year" => DateRange::WholeYear,
            "all" => DateRange::All,
            _ => return Err(fail()),
        }),
        Value::Array(pair) if pair.len() == 2 => {
            let (Some(from), Some(to)) = (pair[0].as_str(), pair[1].as_str()) else { return Err(fail()) };
            if is_date(from) && is_date(to) {
                return if from <= to { Ok(DateRange::Custom(from.into(), to.into())) } else { Err(fail()) };
            }
            match (instant(from), instant(to)) {
                // Plausible's datetime ranges include their last second.
                (Some(from), Some(to)) if from <= to => Ok(DateRange::Instants(from, to + 1)),
                _ => Err(fail()),
            }
        }
        _ => Err(fail()),
    }
}

/// Unix seconds of an ISO 8601 date-time with an offset (`2024-01-01T10:00:00+03:00`, `…Z`,
/// optional fraction of a second).
fn instant(s: &str) -> Option<u64> {
    let (date, rest) = s.split_once('T')?;
    // Only ASCII can be a date-time: everything below cuts by byte.
    if !s.is_ascii() || !is_date(date) || rest.len() < 9 {
        return None;
    }
    let number = |t: &str| t.parse::<i64>().ok().filter(|_| t.len() == 2 && t.bytes().all(|b| b.is_ascii_digit()));
    let (hour, minute, second) = (number(&rest[0..2])?, number(&rest[3..5])?, number(&rest[6..8])?);
    if &rest[2..3] != ":" || &rest[5..6] != ":" || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut zone = &rest[8..];
    if let Some(fraction) = zone.strip_prefix('.') {
        zone = fraction.trim_start_matches(|c: char| c.is_ascii_digit());
    }
    let offset = match zone {
        "Z" | "z" => 0,
        z if z.len() == 6 && (z.starts_with('+') || z.starts_with('-')) && &z[3..4] == ":" => {
            let minutes = number(&z[1..3])? * 60 + number(&z[4..6])?;
            if z.starts_with('-') { -minutes * 60 } else { minutes * 60 }
        }
        _ => return None,
    };
    let days =
        crate::clock::days_from_civil(date[0..4].parse().ok()?, date[5..7].parse().ok()?, date[8..10].parse().ok()?);
    u64::try_from(days * 86_400 + hour * 3600 + minute * 60 + second - offset).ok()
}

/// `2024-01-31T23:59:59+01:00` of Unix seconds `ts` at a UTC offset (seconds).
fn local_iso(ts: u64, offset: i64) -> String {
    let local = ts as i64 + offset;
    let (y, m, d) = crate::clock::civil_from_days(local.div_euclid(86_400));
    let s = local.rem_euclid(86_400);
    let zone = if offset == 0 {
        "Z".to_string()
    } else {
        let sign = if offset < 0 { '-' } else { '+' };
        format!("{sign}{:02}:{:02}", offset.abs() / 3600, offset.abs() / 60 % 60)
    };
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}{zone}", s / 3600, s / 60 % 60, s % 60)
}

fn respond(query: &Query, answer: &Answer, wholes: [f64; 2], groups: &HashMap<Vec<String>, f64>) -> Value {
    let percent =
        |part: f64, whole: f64| number(if whole > 0.0 { (part / whole * 1000.0).round() / 10.0 } else { 0.0 });
    let value = |row: &ResultRow, output: Output| match output {
        Output::Direct(i) => number(row.metrics[i]),
        Output::Events(pageviews, events) => number(row.metrics[pageviews] + row.metrics[events]),
        Output::Share(visitors, kind) => percent(row.metrics[visitors], wholes[kind as usize]),
        Output::GroupShare(visitors) => {
            let keep = query.groups.as_ref().map_or(&[][..], |(_, keep)| keep.as_slice());
            let group: Vec<String> = keep.iter().map(|&i| row.dimensions[i].clone()).collect();
            percent(row.metrics[visitors], groups.get(&group).copied().unwrap_or(0.0))
        }
    };
    let results: Vec<Value> = answer
        .rows
        .iter()
        .map(|row| {
            let dimensions: Vec<String> =
                row.dimensions.iter().zip(&query.stats.dimensions).map(|(v, d)| shown_value(d, v)).collect();
            json!({
                "metrics": query.outputs.iter().map(|o| value(row, *o)).collect::<Vec<_>>(),
                "dimensions": dimensions,
            })
        })
        .collect();
    let mut meta = Map::new();
    if query.imports {
        // No imported data exists in this collector.
        meta.insert("imports_included".into(), json!(false));
    }
    if query.time_labels {
        let bucket = query.stats.dimensions.iter().find_map(|d| match d {
            Dimension::Time(bucket) => Some(*bucket),
            _ => None,
        });
        meta.insert(
            "time_labels".into(),
            json!(crate::query::period::time_labels(&answer.span, bucket.unwrap_or(TimeBucket::Day))),
        );
    }
    if let Some(total) = answer.total_rows {
        meta.insert("total_rows".into(), json!(total));
    } else if query.stats.total_rows {
        meta.insert("total_rows".into(), json!(answer.rows.len()));
    }
    let span = &answer.span;
    let start_offset = span.first_day * 86_400 - span.from as i64;
    let end_offset = (span.last_day + 1) * 86_400 - span.to as i64;
    let (start_offset, end_offset) = match query.stats.date_range {
        DateRange::Instants(..) | DateRange::Realtime => (0, 0),
        _ => (start_offset, end_offset),
    };
    let mut echo = query.echo.clone();
    echo.insert(
        "date_range".into(),
        json!([local_iso(span.from, start_offset), local_iso(span.to.saturating_sub(1), end_offset)]),
    );
    json!({ "results": results, "meta": meta, "query": echo })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_read_their_offsets() {
        assert_eq!(instant("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(instant("1970-01-01T03:00:00+03:00"), Some(0));
        assert_eq!(instant("1970-01-01T00:00:01.250-00:30"), Some(1801));
        assert_eq!(instant("2024-01-01T00:00:00"), None, "an offset is required");
        assert_eq!(instant("2024-01-01T25:00:00Z"), None);
        assert_eq!(instant("2024-01-01Té0:00:00Z"), None, "a multi-byte character is refused, not a panic");
        assert_eq!(instant("2024-01-01T00:00:00+0é:00"), None);
    }

    #[test]
    fn local_iso_names_its_offset() {
        assert_eq!(local_iso(0, 0), "1970-01-01T00:00:00Z");
        assert_eq!(local_iso(0, 3600), "1970-01-01T01:00:00+01:00");
        assert_eq!(local_iso(3600, -5400), "1969-12-31T23:30:00-01:30");
    }
}
