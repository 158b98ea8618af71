//! Matomo's generic filters, applied to a report's rows as Matomo applies them: `label`,
//! `filter_pattern` (on `filter_column`, `label` by default; a case-insensitive regular
//! expression), `filter_sort_column` / `filter_sort_order`, `filter_truncate` (the rest summed
//! into an `Others` row), `filter_offset` / `filter_limit` (100 by default, `-1` for all), and
//! `showColumns` / `hideColumns`.

use serde_json::{Map, Value};

use crate::http::Params;

/// The longest regular expression `filter_pattern` takes (compiled size is bounded too).
const MAX_PATTERN_CHARS: usize = 512;

/// Matomo's default `filter_limit` for API requests.
const DEFAULT_LIMIT: usize = 100;

/// The rows after the request's generic filters, or Matomo's message for a bad parameter.
pub(crate) fn apply(params: &Params<'_>, mut rows: Vec<Value>) -> Result<Vec<Value>, String> {
    if let Some(labels) = params.non_empty("label") {
        let wanted: Vec<&str> = labels.split(',').collect();
        rows.retain(|row| row["label"].as_str().is_some_and(|label| wanted.contains(&label)));
    }
    if let Some(pattern) = params.non_empty("filter_pattern") {
        if pattern.chars().count() > MAX_PATTERN_CHARS {
            return Err(format!("filter_pattern: at most {MAX_PATTERN_CHARS} characters"));
        }
        let regex = regex::RegexBuilder::new(pattern)
            .case_insensitive(true)
            .size_limit(1 << 20)
            .build()
            .map_err(|_| format!("filter_pattern: '{pattern}' is not a valid regular expression"))?;
        let column = params.non_empty("filter_column").unwrap_or("label");
        rows.retain(|row| regex.is_match(&text(&row[column])));
    }
    if let Some(column) = params.non_empty("filter_sort_column") {
        let ascending = params.get("filter_sort_order") == Some("asc");
        rows.sort_by(|a, b| {
            let order = compare(&a[column], &b[column]);
            if ascending { order } else { order.reverse() }
        });
    }
    if let Some(keep) = params.non_empty("filter_truncate").and_then(|n| n.parse::<usize>().ok())
        && rows.len() > keep
    {
        let others = rows.split_off(keep);
        rows.push(summed(others));
    }
    let offset = params.non_empty("filter_offset").and_then(|n| n.parse::<usize>().ok()).unwrap_or(0);
    let limit = match params.non_empty("filter_limit").map(|n| n.trim().parse::<i64>()) {
        None => DEFAULT_LIMIT,
        Some(Ok(n)) if n < 0 => usize::MAX,
        Some(Ok(n)) => n as usize,
        Some(Err(_)) => return Err("filter_limit: a number, or -1 for every row".to_string()),
    };
    let mut rows: Vec<Value> = rows.into_iter().skip(offset).take(limit).collect();
    select_columns(params, &mut rows);
    Ok(rows)
}

/// `showColumns` / `hideColumns` alone (for answers that are one row, not a table).
pub(crate) fn select_columns(params: &Params<'_>, rows: &mut [Value]) {
    if let Some(columns) = params.non_empty("showColumns") {
        let shown: Vec<&str> = columns.split(',').collect();
        for row in rows.iter_mut() {
            if let Value::Object(map) = row {
                map.retain(|key, _| key == "label" || shown.contains(&key.as_str()));
            }
        }
    }
    if let Some(columns) = params.non_empty("hideColumns") {
        let hidden: Vec<&str> = columns.split(',').collect();
        for row in rows.iter_mut() {
            if let Value::Object(map) = row {
                map.retain(|key, _| !hidden.contains(&key.as_str()));
            }
        }
    }
}

/// A value as the text a pattern is matched against.
fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Numbers by value, text by text, a missing value first.
fn compare(a: &Value, b: &Value) -> std::cmp::Ordering {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x.total_cmp(&y),
        _ => text(a).cmp(&text(b)),
    }
}

/// Matomo's `Others` row: the numeric columns of `rows` added up.
fn summed(rows: Vec<Value>) -> Value {
    let mut total = Map::new();
    total.insert("label".into(), Value::from("Others"));
    for row in rows {
        let Value::Object(map) = row else { continue };
        for (key, value) in map {
            if let Some(n) = value.as_f64() {
                let sum = total.get(&key).and_then(Value::as_f64).unwrap_or(0.0) + n;
                total.insert(key, super::reports::number(sum));
            }
        }
    }
    Value::Object(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rows() -> Vec<Value> {
        (1..=5).map(|i| json!({"label": format!("/page/{i}"), "nb_visits": i * 10, "nb_hits": 6 - i})).collect()
    }

    fn run(query: &str) -> Result<Vec<Value>, String> {
        apply(&Params::parse(query).unwrap(), rows())
    }

    #[test]
    fn generic_filters_as_matomo_applies_them() {
        assert_eq!(run("").unwrap().len(), 5);
        assert_eq!(run("filter_limit=2").unwrap().len(), 2);
        assert_eq!(run("filter_limit=-1&filter_offset=3").unwrap()[0]["label"], "/page/4");
        let sorted = run("filter_sort_column=nb_visits&filter_sort_order=desc").unwrap();
        assert_eq!(sorted[0]["label"], "/page/5");
        let ascending = run("filter_sort_column=nb_hits&filter_sort_order=asc").unwrap();
        assert_eq!(ascending[0]["label"], "/page/5");
        assert_eq!(run("filter_pattern=PAGE/[23]").unwrap().len(), 2, "case-insensitive");
        assert_eq!(run("label=/page/2,/page/4").unwrap().len(), 2);
        let truncated = run("filter_truncate=2").unwrap();
        assert_eq!(truncated.len(), 3);
        assert_eq!(truncated[2], json!({"label": "Others", "nb_visits": 120, "nb_hits": 6}));
        assert_eq!(run("showColumns=nb_hits").unwrap()[0], json!({"label": "/page/1", "nb_hits": 5}));
        assert_eq!(run("hideColumns=nb_hits,label").unwrap()[0], json!({"nb_visits": 10}));
        assert!(run("filter_pattern=(").unwrap_err().contains("not a valid regular expression"));
        assert!(run("filter_limit=many").is_err());
    }
}
