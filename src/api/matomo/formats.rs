//! Matomo's output formats (`format=json|xml|csv|tsv`, any case; JSON by default): one answer,
//! already built as JSON, written as Matomo's renderers write it.
//!
//! - XML: `<result>` around the rows (`<row>`, one element per column), the fields of a single
//!   row, or a bare value; answers of several periods or sites are `<results>` of
//!   `<result date="…">` / `<result idSite="…">`; an error is `<error message="…" />`.
//! - CSV and TSV: a header line then a line per row; Matomo's row metadata (`url`, `segment`,
//!   `code`, …) after the columns, named `metadata_…`; answers of several periods or sites start
//!   each line with the period or the site (`date`, `idSite`); nested tables are left out; a
//!   text that a spreadsheet would run as a formula is prefixed with `'`. UTF-16LE with a byte
//!   order mark, as Matomo sends it for spreadsheets, unless `convertToUnicode=0` (UTF-8). An
//!   error is `Error: …` as text.
//!
//! `format_metrics=0` answers rates as fractions ([`raw_rates`]), as Matomo's raw values are.

use bytes::Bytes;
use http_body_util::Full;
use hyper::StatusCode;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use serde_json::{Map, Value};

use crate::http::{Params, Response};

/// How an answer is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Json,
    Xml,
    Csv,
    Tsv,
}

/// The fields Matomo keeps as a row's metadata rather than its columns.
const METADATA: [&str; 5] = ["url", "segment", "code", "logo", "referer_type"];

/// Which levels an answer may be keyed by, outermost first: sites (`idSite=all` or a list) and
/// periods (several asked).
pub(crate) struct Keys {
    pub sites: bool,
    pub periods: bool,
}

impl Format {
    /// `format`, or Matomo-like words for a format we do not write.
    pub(crate) fn of(params: &Params<'_>) -> Result<Format, String> {
        match params.non_empty("format").map(str::to_ascii_lowercase).as_deref() {
            None | Some("json") => Ok(Format::Json),
            Some("xml") => Ok(Format::Xml),
            Some("csv") => Ok(Format::Csv),
            Some("tsv") => Ok(Format::Tsv),
            Some(other) => Err(format!("Format '{other}' is not supported: use json, xml, csv or tsv.")),
        }
    }

    /// The answer (or Matomo's error) written in this format.
    pub(crate) fn answer(self, outcome: Result<Value, String>, keys: &Keys, params: &Params<'_>) -> Response {
        let unicode = params.get("convertToUnicode").is_none_or(|v| v.trim() != "0");
        let (text, content_type) = match (self, outcome) {
            (Format::Json, Ok(value)) => return crate::http::json(StatusCode::OK, &value),
            (Format::Json, Err(message)) => return super::matomo_error(&message),
            (Format::Xml, Ok(value)) => (xml(&value, keys), "text/xml; charset=utf-8"),
            (Format::Xml, Err(message)) => (
                format!(
                    "<?xml version=\"1.0\" encoding=\"utf-8\" ?>\n<result>\n\t<error message=\"{}\" />\n</result>",
                    escape(&message)
                ),
                "text/xml; charset=utf-8",
            ),
            (Format::Csv | Format::Tsv, Err(message)) => (format!("Error: {message}"), "text/plain; charset=utf-8"),
            (Format::Csv | Format::Tsv, Ok(value)) => {
                let separator = if self == Format::Csv { ',' } else { '\t' };
                let text = separated(&value, keys, separator);
                return spreadsheet(&text, unicode);
            }
        };
        with_type(Bytes::from(text), content_type)
    }
}

/// `format_metrics=0`: rates (`"33%"`) as Matomo's raw fractions (`0.33`), which Looker Studio's
/// connector reads for its percent fields. Labels are left as they are.
pub(crate) fn raw_rates(value: &mut Value) {
    match value {
        Value::Array(list) => list.iter_mut().for_each(raw_rates),
        Value::Object(map) => {
            for (key, field) in map.iter_mut() {
                let rate = field.as_str().and_then(|text| text.strip_suffix('%')).and_then(|n| n.parse::<f64>().ok());
                match rate {
                    Some(percent) if key != "label" => {
                        *field = serde_json::json!((percent * 100.0).round() / 10_000.0);
                    }
                    _ => raw_rates(field),
                }
            }
        }
        _ => {}
    }
}

fn with_type(body: Bytes, content_type: &'static str) -> Response {
    let mut response = hyper::Response::new(Full::new(body));
    *response.status_mut() = StatusCode::OK;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// A CSV or TSV text as Matomo sends it: UTF-16LE after a byte order mark, or UTF-8.
fn spreadsheet(text: &str, unicode: bool) -> Response {
    if !unicode {
        return with_type(Bytes::from(text.to_owned()), "application/vnd.ms-excel; charset=utf-8");
    }
    let mut bytes = vec![0xff, 0xfe];
    bytes.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    with_type(Bytes::from(bytes), "application/vnd.ms-excel")
}

/// The levels of `value` that are keyed, outermost first, each with its key name.
fn levels<'v>(value: &'v Value, keys: &Keys) -> Vec<&'static str> {
    let mut levels = Vec::new();
    let mut inner: Option<&'v Value> = Some(value);
    if keys.sites {
        if let Some(Value::Object(by_site)) = inner
            && by_site.keys().all(|k| k.parse::<u32>().is_ok())
        {
            levels.push("idSite");
            inner = by_site.values().next();
        } else {
            return levels;
        }
    }
    // Periods key tables, rows and numbers; an object of texts is one record (a site's).
    if let (true, Some(Value::Object(by_period))) = (keys.periods, inner)
        && !by_period.is_empty()
        && by_period.values().all(|v| !v.is_string())
    {
        levels.push("date");
    }
    levels
}

/// The rows of an answer, each with the keys that lead to it (site, period).
fn rows(value: &Value, levels: &[&str], prefix: &mut Vec<String>, out: &mut Vec<(Vec<String>, Map<String, Value>)>) {
    if !levels.is_empty()
        && let Value::Object(keyed) = value
    {
        for (key, inner) in keyed {
            prefix.push(key.clone());
            rows(inner, &levels[1..], prefix, out);
            prefix.pop();
        }
        return;
    }
    let bare = |v: &Value| Map::from_iter([("value".to_string(), v.clone())]);
    match value {
        Value::Array(list) => {
            for item in list {
                let row = match item {
                    Value::Object(fields) => fields.clone(),
                    other => bare(other),
                };
                out.push((prefix.clone(), row));
            }
        }
        Value::Object(fields) => out.push((prefix.clone(), fields.clone())),
        other => out.push((prefix.clone(), bare(other))),
    }
}

/// CSV (`,`) or TSV (`\t`) as Matomo writes it; "No data available" when there is no row.
fn separated(value: &Value, keys: &Keys, separator: char) -> String {
    let levels = levels(value, keys);
    let mut found = Vec::new();
    rows(value, &levels, &mut Vec::new(), &mut found);
    if found.is_empty() {
        return "No data available".to_string();
    }
    // Columns in the order they first appear, the metadata after them; nested tables left out.
    let mut columns: Vec<&str> = Vec::new();
    let mut metadata: Vec<&str> = Vec::new();
    for (_, row) in &found {
        for (name, field) in row {
            let list = if METADATA.contains(&name.as_str()) { &mut metadata } else { &mut columns };
            if !field.is_array() && !field.is_object() && !list.contains(&name.as_str()) {
                list.push(name);
            }
        }
    }
    let sep = separator.to_string();
    let header: Vec<String> = levels
        .iter()
        .map(|l| l.to_string())
        .chain(columns.iter().map(|c| c.to_string()))
        .chain(metadata.iter().map(|m| format!("metadata_{m}")))
        .map(|name| cell(&Value::String(name), separator))
        .collect();
    let mut lines = vec![header.join(&sep)];
    for (prefix, row) in &found {
        let cells = prefix
            .iter()
            .map(|key| cell(&Value::String(key.clone()), separator))
            .chain(columns.iter().chain(&metadata).map(|c| cell(row.get(*c).unwrap_or(&Value::Null), separator)));
        lines.push(cells.collect::<Vec<_>>().join(&sep));
    }
    lines.join("\n")
}

/// One cell: numbers as they are, text quoted when it holds a quote or a separator, and a
/// leading `=`, `+`, `-` or `@` of a text that is not a number made harmless with `'`.
fn cell(value: &Value, separator: char) -> String {
    let text = match value {
        Value::Null => return String::new(),
        Value::Bool(b) => return u8::from(*b).to_string(),
        Value::Number(n) => return n.to_string(),
        Value::String(s) => s.replace('\t', " "),
        other => other.to_string(),
    };
    let number_like = text.replacen('%', "", 1).trim().parse::<f64>().is_ok();
    let text = if !number_like && text.starts_with(['=', '+', '-', '@']) { format!("'{text}") } else { text };
    if text.contains(['"', ',', ';', separator]) { format!("\"{}\"", text.replace('"', "\"\"")) } else { text }
}

/// XML as Matomo writes it.
fn xml(value: &Value, keys: &Keys) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"utf-8\" ?>\n");
    let levels = levels(value, keys);
    if levels.is_empty() {
        result(&mut out, value, "", 0);
    } else {
        out.push_str("<results>\n");
        keyed(&mut out, value, &levels, 1);
        out.push_str("</results>");
    }
    out
}

/// The `<result KEY="…">` elements of a keyed answer, nested for sites and periods.
fn keyed(out: &mut String, value: &Value, levels: &[&str], depth: usize) {
    let Value::Object(map) = value else { return };
    for (key, inner) in map {
        let attribute = format!(" {}=\"{}\"", levels[0], escape(key));
        if levels.len() > 1 {
            out.push_str(&format!("{}<result{attribute}>\n", tabs(depth)));
            keyed(out, inner, &levels[1..], depth + 1);
            out.push_str(&format!("{}</result>\n", tabs(depth)));
        } else {
            result(out, inner, &attribute, depth);
            out.push('\n');
        }
    }
}

/// One `<result>`: rows, a row's fields, or a bare value (`{"value": …}` included).
fn result(out: &mut String, value: &Value, attribute: &str, depth: usize) {
    let pad = tabs(depth);
    match value {
        Value::Array(list) if list.is_empty() => out.push_str(&format!("{pad}<result{attribute} />")),
        Value::Object(map) if map.is_empty() => out.push_str(&format!("{pad}<result{attribute} />")),
        Value::Object(map) if map.len() == 1 && map.contains_key("value") && !map["value"].is_object() => {
            out.push_str(&format!("{pad}<result{attribute}>{}</result>", scalar(&map["value"])));
        }
        Value::Array(list) => {
            out.push_str(&format!("{pad}<result{attribute}>\n"));
            for item in list {
                element(out, "row", item, depth + 1);
            }
            out.push_str(&format!("{pad}</result>"));
        }
        Value::Object(map) => {
            out.push_str(&format!("{pad}<result{attribute}>\n"));
            for (name, field) in map {
                element(out, name, field, depth + 1);
            }
            out.push_str(&format!("{pad}</result>"));
        }
        other => out.push_str(&format!("{pad}<result{attribute}>{}</result>", scalar(other))),
    }
}

/// `<name>…</name>` at `depth`: a value, the elements of an object, or an array's `<row>`s.
fn element(out: &mut String, name: &str, value: &Value, depth: usize) {
    let (pad, tag) = (tabs(depth), tag_name(name));
    match value {
        Value::Array(list) => {
            out.push_str(&format!("{pad}<{tag}>\n"));
            for item in list {
                element(out, "row", item, depth + 1);
            }
            out.push_str(&format!("{pad}</{tag}>\n"));
        }
        Value::Object(map) => {
            out.push_str(&format!("{pad}<{tag}>\n"));
            for (field, inner) in map {
                element(out, field, inner, depth + 1);
            }
            out.push_str(&format!("{pad}</{tag}>\n"));
        }
        other => out.push_str(&format!("{pad}<{tag}>{}</{tag}>\n", scalar(other))),
    }
}

fn scalar(value: &Value) -> String {
    match value {
        Value::String(s) => escape(s),
        Value::Null => String::new(),
        Value::Bool(b) => u8::from(*b).to_string(),
        other => other.to_string(),
    }
}

/// A key as an XML element name: letters, digits, `_` and `-`, never starting with a digit.
fn tag_name(name: &str) -> String {
    let mut tag: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '_' }).collect();
    if !tag.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        tag.insert(0, '_');
    }
    tag
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&apos;")
}

fn tabs(depth: usize) -> String {
    "\t".repeat(depth)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ONE: Keys = Keys { sites: false, periods: false };

    fn utf8(text: &Value, keys: &Keys, separator: char) -> String {
        separated(text, keys, separator)
    }

    #[test]
    fn rows_are_written_as_matomo_writes_them() {
        let rows = json!([
            {"label": "/a", "url": "https://example.org/a", "nb_visits": 3, "subtable": [{"label": "x"}]},
            {"label": "=HYPERLINK(\"x\")", "url": "https://example.org/b", "nb_visits": 1},
            {"label": "-5", "nb_visits": 0},
        ]);
        assert_eq!(
            utf8(&rows, &ONE, ','),
            "label,nb_visits,metadata_url\n/a,3,https://example.org/a\n\"'=HYPERLINK(\"\"x\"\")\",1,https://example.org/b\n-5,0,"
        );
        assert_eq!(utf8(&json!([]), &ONE, '\t'), "No data available");
        assert_eq!(utf8(&json!({"value": "5.2.0"}), &ONE, ','), "value\n5.2.0");
        let days = Keys { sites: false, periods: true };
        let keyed = json!({"2026-12-01": {"nb_visits": 2}, "2026-12-02": []});
        assert_eq!(utf8(&keyed, &days, '\t'), "date\tnb_visits\n2026-12-01\t2");
        let sites = Keys { sites: true, periods: true };
        let both = json!({"1": {"2026-12-01": 4}, "2": {"2026-12-01": 5}});
        assert_eq!(utf8(&both, &sites, ','), "idSite,date,value\n1,2026-12-01,4\n2,2026-12-01,5");
        // A record of texts is not keyed, whatever the dates asked.
        assert_eq!(utf8(&json!({"idsite": "1", "name": "a"}), &days, ','), "idsite,name\n1,a");
    }

    #[test]
    fn xml_is_written_as_matomo_writes_it() {
        let head = "<?xml version=\"1.0\" encoding=\"utf-8\" ?>\n";
        assert_eq!(xml(&json!({"value": "5.2.0"}), &ONE), format!("{head}<result>5.2.0</result>"));
        assert_eq!(
            xml(&json!([{"label": "a & <b>", "nb_visits": 2}]), &ONE),
            format!(
                "{head}<result>\n\t<row>\n\t\t<label>a &amp; &lt;b&gt;</label>\n\t\t<nb_visits>2</nb_visits>\n\t</row>\n</result>"
            )
        );
        let days = Keys { sites: false, periods: true };
        assert_eq!(
            xml(&json!({"2026-12-01": {"nb_visits": 2}, "2026-12-02": []}), &days),
            format!(
                "{head}<results>\n\t<result date=\"2026-12-01\">\n\t\t<nb_visits>2</nb_visits>\n\t</result>\n\t<result date=\"2026-12-02\" />\n</results>"
            )
        );
        assert_eq!(tag_name("2x y"), "_2x_y");
    }

    #[test]
    fn raw_rates_are_fractions() {
        let mut value = json!({"2026-12-01": [{"label": "50%", "bounce_rate": "33%", "conversion_rate": "33.33%", "nb_visits": 3}]});
        raw_rates(&mut value);
        assert_eq!(
            value,
            json!({"2026-12-01": [{"label": "50%", "bounce_rate": 0.33, "conversion_rate": 0.3333, "nb_visits": 3}]})
        );
    }
}
