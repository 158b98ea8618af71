//! The names and value formats Plausible's v1 and v2 share: its dimension names as ours, its
//! filter trees, and values as Plausible shows them (`Direct / None`, `(none)`, `Desktop`).

use serde_json::Value;

use crate::query::request::{
    DateRange, Dimension, Filter, FilterTree, MAX_FILTER_VALUE_BYTES, MAX_FILTER_VALUES, Operator, TimeBucket,
};

/// A Plausible dimension name as ours. `time` takes the bucket Plausible picks for the range.
pub(crate) fn parse_dimension(name: &str, range: &DateRange) -> Result<Dimension, String> {
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
pub(crate) fn parse_tree(value: &Value, range: &DateRange) -> Result<FilterTree, String> {
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
            if matches!(dimension, Dimension::Time(_) | Dimension::HourOfDay) {
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
                // Plausible's schema gives a pattern no modifiers: re2's `(?i)` goes in the pattern.
                Some(_) if matches!(operator, Operator::Matches | Operator::MatchesNot) => {
                    return Err(format!("#/filters: {value}: {op} takes no modifiers (write (?i) in the pattern)"));
                }
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
pub(crate) fn shown_value(dimension: &Dimension, value: &str) -> String {
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
pub(crate) fn stored_value(dimension: &Dimension, value: String) -> String {
    match (dimension, value.as_str()) {
        (Dimension::Source, "Direct / None") | (_, "(none)") => String::new(),
        (Dimension::Device, _) => value.to_lowercase(),
        _ => value,
    }
}

/// `text` with the characters re2 treats specially escaped.
pub(crate) fn regex_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\.+?()[]{}|^$*".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
