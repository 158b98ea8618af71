//! Plausible's Stats API v2, `POST /api/v2/query`, drop-in: a Plausible reporting script or
//! integration changes its host and keeps its token header.
//!
//! A request is read as Plausible reads it (its JSON schema's shape; `site_id` is the site's
//! domain; `case_sensitive` defaults to true), turned into our own [`StatsRequest`] and run by
//! the same engine, access checks and budget as `/api/v1/query`; the answer is shaped as
//! Plausible's: `results` of `{metrics, dimensions}`, `meta`, and `query` (the request as run,
//! dates resolved in the site's time zone). What we cannot compute honestly is refused with a
//! 400 that says so, never answered with a made-up figure.

use std::collections::HashMap;

use hyper::{HeaderMap, Response, StatusCode};
use serde_json::{Map, Value, json};

use crate::ingest::{Body, json as json_response};
use crate::query::request::is_date;
use crate::query::request::{
    DateRange, Dimension, Filter, FilterTree, Format, MAX_FILTER_VALUE_BYTES, MAX_FILTER_VALUES, MAX_LIMIT, Metric,
    Operator, OrderKey, StatsRequest, TimeBucket,
};
use crate::query::stats::{Answer, ResultRow, number};
use crate::sites::Sites;
use crate::web::api::Api;

/// A refusal in Plausible's shape: `{"error": "..."}` with 400.
fn invalid(message: impl Into<String>) -> Response<Body> {
    json_response(StatusCode::BAD_REQUEST, &json!({ "error": message.into() }))
}

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
pub(crate) async fn handle(api: &Api, sites: &Sites, headers: &HeaderMap, body: &[u8]) -> Response<Body> {
    let raw: Value = match serde_json::from_slice(body) {
        Ok(value @ Value::Object(_)) => value,
        Ok(_) => return invalid("Invalid request body: expected a JSON object"),
        Err(e) => return invalid(format!("Invalid JSON: {e}")),
    };
    let query = match parse(&raw, sites) {
        Ok(query) => query,
        Err(message) => return invalid(message),
    };
    let (answer, _) = match api.execute(headers, &query.stats).await {
        Ok(done) => done,
        Err(refused) => return refused,
    };
    let mut wholes = [0.0; 2];
    for (value, whole) in wholes.iter_mut().zip(&query.wholes) {
        if let Some(whole) = whole {
            match api.execute(headers, whole).await {
                Ok((total, _)) => *value = total.rows.first().map_or(0.0, |row| row.metrics[0]),
                Err(refused) => return refused,
            }
        }
    }
    let mut groups = HashMap::new();
    if let Some((request, _)) = &query.groups {
        match api.execute(headers, request).await {
            Ok((per_group, _)) => groups.extend(per_group.rows.into_iter().map(|row| (row.dimensions, row.metrics[0]))),
            Err(refused) => return refused,
        }
    }
    json_response(StatusCode::OK, &respond(&query, &answer, wholes, &groups))
}

fn parse(raw: &Value, sites: &Sites) -> Result<Query, String> {
    let object = raw.as_object().expect("checked by the caller");
    const KEYS: [&str; 8] =
        ["site_id", "metrics", "date_range", "dimensions", "filters", "order_by", "include", "pagination"];
    if let Some(key) = object.keys().find(|k| !KEYS.contains(&k.as_str())) {
        return Err(format!("Invalid request: unknown property \"{key}\""));
    }
    let domain = object.get("site_id").and_then(Value::as_str).ok_or("#/site_id: required, the site's domain")?;
    let site = sites.by_domain(&domain.to_ascii_lowercase()).ok_or_else(|| {
        // The same answer whether the site is unknown or another's: nothing to learn.
        format!("Site not found: \"{domain}\"")
    })?;
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
                let metric = Metric::ALL
                    .into_iter()
                    .find(|m| m.name() == other)
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
        site_id: site.id,
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
    if !is_date(date) || rest.len() < 9 {
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

/// A Plausible dimension name as ours. `time` takes the bucket Plausible picks for the range.
fn parse_dimension(name: &str, range: &DateRange) -> Result<Dimension, String> {
    let unsupported = |what: &str| Err(format!("Invalid dimension \"{name}\": {what}"));
    match name {
        "time" => Ok(Dimension::Time(match range {
            DateRange::Today | DateRange::Realtime | DateRange::Instants(..) => TimeBucket::Hour,
            DateRange::LastMonths(n) if *n > 1 => TimeBucket::Month,
            DateRange::WholeYear | DateRange::Year | DateRange::All => TimeBucket::Month,
            _ => TimeBucket::Day,
        })),
        "visit:region_name" => Ok(Dimension::Region),
        "visit:city_name" => Ok(Dimension::City),
        "visit:region" | "visit:city" | "visit:country_name" => unsupported(
            "this collector stores country codes and region and city names (visit:country, visit:region_name, visit:city_name)",
        ),
        "visit:entry_page_hostname" | "visit:exit_page_hostname" => unsupported("not computed by this collector"),
        "event:goal" => Ok(Dimension::Goal),
        _ => match Dimension::parse(name) {
            Some(Dimension::Time(_)) if !name.starts_with("time") => unsupported("unknown"),
            Some(d) => Ok(d),
            None => unsupported("unknown"),
        },
    }
}

/// A filter tree: `[op, dimension, clauses, {case_sensitive}]`, `["and" | "or", [trees]]` or
/// `["not", tree]`.
fn parse_tree(value: &Value, range: &DateRange) -> Result<FilterTree, String> {
    let fail = || format!("#/filters: Invalid filter {value}");
    let items = value.as_array().ok_or_else(fail)?;
    match items.first().and_then(Value::as_str) {
        Some(logic @ ("and" | "or")) if items.len() == 2 => {
            let trees = items[1].as_array().filter(|t| !t.is_empty()).ok_or_else(fail)?;
            let trees = trees.iter().map(|t| parse_tree(t, range)).collect::<Result<Vec<_>, _>>()?;
            Ok(if logic == "and" { FilterTree::And(trees) } else { FilterTree::Or(trees) })
        }
        Some("not") if items.len() == 2 => Ok(FilterTree::Not(Box::new(parse_tree(&items[1], range)?))),
        Some("has_done" | "has_not_done") => Err(format!("#/filters: {value}: behavioural filters are not supported")),
        Some(op) if (3..=4).contains(&items.len()) => {
            let operator = Operator::parse(op).ok_or_else(|| format!("#/filters: Invalid filter operator \"{op}\""))?;
            let name = items[1].as_str().ok_or_else(fail)?;
            if name == "segment" {
                return Err("#/filters: segments are not supported".into());
            }
            let dimension = parse_dimension(name, range)?;
            if matches!(dimension, Dimension::Time(_)) {
                return Err(format!("Invalid filter dimension \"{name}\": filter time with date_range"));
            }
            if dimension == Dimension::Goal && !matches!(operator, Operator::Is | Operator::Contains) {
                return Err(format!("Invalid filter {value}: event:goal takes is or contains"));
            }
            let clauses = items[2].as_array().ok_or_else(fail)?;
            if dimension == Dimension::Country
                && matches!(operator, Operator::Is | Operator::IsNot)
                && clauses.iter().any(|c| c.as_str().is_none_or(|s| s.chars().count() != 2))
            {
                return Err(
                    "Invalid visit:country filter, visit:country needs to be a valid 2-letter country code.".into()
                );
            }
            let mut values = Vec::new();
            for clause in clauses {
                let value = match clause {
                    Value::String(s) => s.clone(),
                    Value::Number(n) if n.is_i64() || n.is_u64() => n.to_string(),
                    _ => return Err(fail()),
                };
                values.push(stored_value(&dimension, value));
            }
            if values.is_empty()
                || values.len() > MAX_FILTER_VALUES
                || values.iter().any(|v| v.len() > MAX_FILTER_VALUE_BYTES)
            {
                return Err(format!(
                    "#/filters: the clauses of {name} are 1 to {MAX_FILTER_VALUES} values of at most {MAX_FILTER_VALUE_BYTES} bytes"
                ));
            }
            let case_sensitive = match items.get(3) {
                None => true,
                Some(Value::Object(m)) if m.keys().all(|k| k == "case_sensitive") => match m.get("case_sensitive") {
                    None => true,
                    Some(Value::Bool(b)) => *b,
                    Some(_) => return Err(fail()),
                },
                Some(_) => return Err(fail()),
            };
            Ok(FilterTree::Leaf(Filter { operator, dimension, values, case_sensitive }))
        }
        _ => Err(fail()),
    }
}

/// A dimension's value as Plausible shows it, from ours: devices capitalised, a direct visit's
/// source `Direct / None`, a missing value `(none)`.
fn shown_value(dimension: &Dimension, value: &str) -> String {
    match dimension {
        Dimension::Time(_) => value.to_string(),
        Dimension::Source if value.is_empty() => "Direct / None".into(),
        _ if value.is_empty() => "(none)".into(),
        Dimension::Device => {
            let mut chars = value.chars();
            chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
        }
        _ => value.to_string(),
    }
}

/// The inverse of [`shown_value`] for filter clauses.
fn stored_value(dimension: &Dimension, value: String) -> String {
    match (dimension, value.as_str()) {
        (Dimension::Source, "Direct / None") | (_, "(none)") => String::new(),
        (Dimension::Device, _) => value.to_lowercase(),
        _ => value,
    }
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
            json!(crate::query::stats::time_labels(&answer.span, bucket.unwrap_or(TimeBucket::Day))),
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

/// Plausible's Stats API v1 (`GET /api/v1/stats/aggregate`, `timeseries`, `breakdown` and
/// `realtime/visitors`): its parameters (`site_id` the domain, or our numeric id; `period`,
/// `date`, `metrics`, `filters` in its `key==a|b;key!=c` syntax with `*` wildcards, `compare`,
/// `interval`, `property`, `limit`, `page`) and its answer shapes.
pub(crate) async fn v1(
    api: &Api,
    sites: &Sites,
    headers: &HeaderMap,
    report: &str,
    query: &str,
    now: u64,
) -> Response<Body> {
    let params = match crate::ingest::params::Params::parse(query) {
        Ok(p) => p,
        Err(e) => return invalid(format!("Invalid query string: {e}")),
    };
    let get = |key: &str| params.get(key).map(str::trim).filter(|v| !v.is_empty());
    let Some(site_id) = get("site_id") else {
        return invalid("Missing site ID. Please provide the required site_id parameter with your request.");
    };
    // The domain, or our numeric id.
    let by_id = site_id.parse().ok().and_then(|id| sites.get(id));
    let Some(site) = sites.by_domain(&site_id.to_ascii_lowercase()).or(by_id) else {
        return invalid(format!("Site not found: \"{site_id}\""));
    };
    let report = match report {
        "aggregate" | "timeseries" | "breakdown" | "realtime/visitors" => report,
        _ => return json_response(StatusCode::NOT_FOUND, &json!({"error": "Not found"})),
    };
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
            n => match Metric::ALL.into_iter().find(|m| m.name() == n) {
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
    let (answer, _) = match api.execute(headers, &stats).await {
        Ok(done) => done,
        Err(refused) => return refused,
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
            let results: Vec<Value> = crate::query::stats::time_labels(&answer.span, bucket)
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
    json_response(StatusCode::OK, &body)
}

/// A v1 `period` (and `date`: the day the period ends on, or `FROM,TO` for `custom`).
fn v1_period(period: &str, date: Option<&str>) -> Result<DateRange, String> {
    let day_number = |d: &str| {
        is_date(d).then(|| {
            crate::clock::days_from_civil(
                d[0..4].parse().unwrap_or(0),
                d[5..7].parse().unwrap_or(0),
                d[8..10].parse().unwrap_or(0),
            )
        })
    };
    let date_string = |days: i64| {
        let (y, m, d) = crate::clock::civil_from_days(days);
        format!("{y:04}-{m:02}-{d:02}")
    };
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
            "7d" => (end - 6, end),
            "30d" => (end - 30, end),
            "month" => crate::query::stats::last_months(1, end),
            "6mo" => crate::query::stats::last_months(6, end),
            "12mo" => crate::query::stats::last_months(12, end),
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
            let end = day_number(date).ok_or_else(|| {
                format!("Error parsing `date` parameter: invalid date `{date}`. Please specify a valid date in ISO-8601 format.")
            })?;
            let (first, last) = relative(end).ok_or_else(invalid_period)?;
            Ok(DateRange::Custom(date_string(first), date_string(last)))
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

/// `text` with the characters re2 treats specially escaped.
fn regex_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\.+?()[]{}|^$*".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
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

    #[test]
    fn instants_read_their_offsets() {
        assert_eq!(instant("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(instant("1970-01-01T03:00:00+03:00"), Some(0));
        assert_eq!(instant("1970-01-01T00:00:01.250-00:30"), Some(1801));
        assert_eq!(instant("2024-01-01T00:00:00"), None, "an offset is required");
        assert_eq!(instant("2024-01-01T25:00:00Z"), None);
    }

    #[test]
    fn local_iso_names_its_offset() {
        assert_eq!(local_iso(0, 0), "1970-01-01T00:00:00Z");
        assert_eq!(local_iso(0, 3600), "1970-01-01T01:00:00+01:00");
        assert_eq!(local_iso(3600, -5400), "1969-12-31T23:30:00-01:30");
    }
}
