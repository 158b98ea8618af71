//! Our tracker script under every name a site may load it by: `/mesure.js`, and Plausible's
//! `/js/script.js` and `/js/plausible.js` with their extensions joined by dots in any order
//! (`script.outbound-links.file-downloads.hash.js`), and the per-site `/js/pa-….js`.
//!
//! All of them come from one source, `assets/tracker.js`, whose `//#if feature` blocks are kept
//! only in the scripts with that feature, so that a variant carries only what it uses (each
//! stays under 2 KB gzipped; a test measures every one). Comment lines and indentation are left
//! out of what is served.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use bytes::Bytes;
use http_body_util::Full;
use hyper::StatusCode;
use hyper::header::{ACCESS_CONTROL_ALLOW_ORIGIN, CACHE_CONTROL, CONTENT_TYPE, HeaderValue};

use crate::http::Response;

/// The tracker's source, with every feature block.
const SOURCE: &str = include_str!("assets/tracker.js");

/// Plausible's script extensions, by the names its script URLs use. `compat` (the script found
/// by `id="plausible"` where `document.currentScript` is missing) is always on.
pub const PLAUSIBLE_EXTENSIONS: [&str; 10] = [
    "hash",
    "outbound-links",
    "file-downloads",
    "tagged-events",
    "manual",
    "revenue",
    "pageview-props",
    "local",
    "exclusions",
    "compat",
];

/// Which blocks of the source a script keeps: feature names as in the source's `//#if` lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Features(Vec<&'static str>);

impl Features {
    /// `mesure.js`: our own name and queue (`mesure(…)`, `mesure.q`), outbound links and
    /// downloads, hash routing when the tag says `data-hash-mode`, pages on localhost counted.
    pub fn mesure() -> Features {
        Features(vec!["mesure", "outbound-links", "file-downloads"])
    }

    /// The features of a script path, or `None` when the path names no script of ours.
    pub fn of_path(path: &str) -> Option<Features> {
        if path == "/mesure.js" {
            return Some(Features::mesure());
        }
        let name = path.strip_prefix("/js/")?.strip_suffix(".js")?;
        if let Some(id) = name.strip_prefix("pa-") {
            // Plausible's per-site script: its settings come from `plausible.init({…})`.
            let valid = !id.is_empty() && id.len() <= 64;
            let valid = valid && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            return valid
                .then(|| Features(vec!["config", "outbound-links", "file-downloads", "tagged-events", "revenue"]));
        }
        let mut parts = name.split('.');
        if !matches!(parts.next(), Some("script" | "plausible")) {
            return None;
        }
        let mut features = Vec::new();
        for part in parts {
            let known = PLAUSIBLE_EXTENSIONS.iter().find(|&&e| e == part)?;
            if !features.contains(known) {
                features.push(*known);
            }
        }
        Some(Features(features))
    }

    fn has_any(&self, names: &str) -> bool {
        names.split_whitespace().any(|name| self.0.contains(&name))
    }

    /// The script with these features.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(SOURCE.len());
        // One entry per open `//#if`: whether its lines are kept.
        let mut open: Vec<bool> = Vec::new();
        let mut short = Vec::new();
        for line in SOURCE.lines() {
            let line = line.trim();
            if let Some(names) = line.strip_prefix("//#short ") {
                short.extend(names.split_whitespace());
            } else if let Some(names) = line.strip_prefix("//#if ") {
                let outer = open.last().copied().unwrap_or(true);
                open.push(outer && self.has_any(names));
            } else if line == "//#else" {
                let outer = open.len() < 2 || open[open.len() - 2];
                if let Some(kept) = open.last_mut() {
                    *kept = outer && !*kept;
                }
            } else if line == "//#endif" {
                open.pop();
            } else if open.last().copied().unwrap_or(true) && !line.is_empty() && !line.starts_with("//") {
                out.push_str(line);
                out.push('\n');
            }
        }
        debug_assert!(open.is_empty(), "unbalanced //#if in tracker.js");
        compact(&out, &short)
    }
}

/// The script without the spaces JavaScript does not need, and with the local names in
/// `short` renamed to one or two letters ([`short_name`]; the source uses no such name of its
/// own).
/// Strings and regular expressions are copied as they are; a name after `.` (a property) or
/// before `:` after `{` or `,` (an object key) is kept. A line break stays where leaving it
/// out could join two statements.
fn compact(js: &str, short: &[&str]) -> String {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '$';
    let mut out = String::with_capacity(js.len());
    let mut chars = js.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            c if word(c) && !out.ends_with(word) => {
                let mut name = String::from(c);
                while let Some(&next) = chars.peek().filter(|&&n| word(n)) {
                    name.push(next);
                    chars.next();
                }
                let key = chars.peek() == Some(&':') && out.ends_with(['{', ',']);
                match short.iter().position(|&s| s == name) {
                    Some(i) if !out.ends_with('.') && !key => out.push_str(&short_name(i)),
                    _ => out.push_str(&name),
                }
            }
            '"' | '\'' => {
                out.push(c);
                copy_literal(&mut chars, &mut out, c);
            }
            '/' if chars.peek() == Some(&'*') => {
                // A block comment (the licence line) is kept as it is.
                out.push(c);
                while let Some(c) = chars.next() {
                    out.push(c);
                    if c == '*' && chars.peek() == Some(&'/') {
                        out.extend(chars.next());
                        break;
                    }
                }
            }
            '/' if out.ends_with(|p: char| "(,=:[!&|?{};".contains(p)) || out.ends_with("return") => {
                // A regular expression literal (after an operator), not a division.
                out.push(c);
                copy_literal(&mut chars, &mut out, '/');
            }
            c if c.is_whitespace() => {
                let mut newline = c == '\n';
                while let Some(&next) = chars.peek().filter(|n| n.is_whitespace()) {
                    newline |= next == '\n';
                    chars.next();
                }
                let (Some(prev), Some(&next)) = (out.chars().last(), chars.peek()) else { continue };
                if word(prev) && word(next) || (prev == next && "+-".contains(prev)) {
                    out.push(if newline { '\n' } else { ' ' });
                } else if newline && (word(prev) || ")]}\"'".contains(prev)) && (word(next) || "([{\"'".contains(next))
                {
                    out.push('\n');
                }
            }
            c => out.push(c),
        }
    }
    out
}

/// The `i`th short name: a capital letter, then `j`, `k`, `u`, `v`, `x`, `y`, `z` (single
/// lower-case letters the source leaves free), then `A1`, `B1`, ….
fn short_name(i: usize) -> String {
    const LETTERS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZjkuvxyz";
    match LETTERS.get(i) {
        Some(&letter) => (letter as char).to_string(),
        None => {
            let j = i - LETTERS.len();
            format!("{}{}", LETTERS[j % 26] as char, j / 26 + 1)
        }
    }
}

/// Copies a string or regular expression body up to its unescaped closing `end` (a `/` inside
/// a character class does not close a regular expression).
fn copy_literal(chars: &mut std::iter::Peekable<std::str::Chars>, out: &mut String, end: char) {
    let mut class = false;
    while let Some(c) = chars.next() {
        out.push(c);
        match c {
            '\\' => out.extend(chars.next()),
            '[' if end == '/' => class = true,
            ']' if end == '/' => class = false,
            c if c == end && !class => return,
            _ => {}
        }
    }
}

/// `GET` of a tracker script path, or `None` when the path names none. Each script is rendered
/// once and kept: there are at most 1,024 feature sets (Plausible's ten extensions, `compat`
/// changing nothing, and ours), so the cache is bounded by construction.
pub(crate) fn serve(path: &str) -> Option<Response> {
    static RENDERED: OnceLock<Mutex<HashMap<Vec<&'static str>, Bytes>>> = OnceLock::new();
    let mut features = Features::of_path(path)?;
    features.0.sort_unstable();
    let script = {
        let mut cache = RENDERED.get_or_init(Mutex::default).lock().unwrap_or_else(|e| e.into_inner());
        cache.entry(features.0.clone()).or_insert_with(|| Bytes::from(features.render())).clone()
    };
    let mut response = hyper::Response::new(Full::new(script));
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/javascript; charset=utf-8"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
    headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    Some(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_names_map_to_features_in_any_order() {
        let a = Features::of_path("/js/script.outbound-links.file-downloads.hash.js").unwrap();
        let b = Features::of_path("/js/plausible.hash.file-downloads.outbound-links.js").unwrap();
        assert_eq!(a.render(), b.render());
        assert_eq!(Features::of_path("/js/script.js"), Some(Features(vec![])));
        assert_eq!(Features::of_path("/js/script.nonsense.js"), None);
        assert_eq!(Features::of_path("/js/other.js"), None);
        assert_eq!(Features::of_path("/js/"), None, "Matomo's tracker proxy path stays Matomo's");
        assert_eq!(Features::of_path("/js/pa-"), None);
        assert_eq!(Features::of_path("/js/pa-a/b.js"), None);
        assert!(Features::of_path("/js/pa-XyZ_09-a.js").unwrap().has_any("config"));
    }

    #[test]
    fn short_names_are_distinct() {
        let names: std::collections::HashSet<String> = (0..200).map(short_name).collect();
        assert_eq!(names.len(), 200);
    }

    #[test]
    fn compacting_keeps_strings_regular_expressions_and_statement_breaks() {
        assert_eq!(compact("var a = b / 2,  c = \"x  y\";", &[]), "var a=b/2,c=\"x  y\";");
        assert_eq!(compact("f(/a b[/]\\/ /g, 'q\\' r')", &[]), "f(/a b[/]\\/ /g,'q\\' r')");
        assert_eq!(compact("a = b\nc()\nreturn /x y/.test(s)", &[]), "a=b\nc()\nreturn/x y/.test(s)");
        assert_eq!(compact("a + +b - -c", &[]), "a+ +b- -c");
        let short = ["url", "track"];
        assert_eq!(
            compact("function track(url) { return {url: url, u: o.url, x: a ? url : 1, s: \"url\"}; }", &short),
            "function B(A){return{url:A,u:o.url,x:a?A:1,s:\"url\"};}"
        );
        assert_eq!(compact("if (x) {\n  y();\n}\nz = 1;", &[]), "if(x){y();}\nz=1;");
    }

    #[test]
    fn blocks_are_kept_only_with_their_feature() {
        let plain = Features::of_path("/js/script.js").unwrap().render();
        assert!(!plain.contains("plausible-(") && !plain.contains("Outbound") && !plain.contains("data-exclude"));
        assert!(plain.contains("var g=\"plausible\""), "{plain}");
        assert!(!plain.contains("//") && !plain.contains("\n  "), "comments and indentation are left out: {plain}");
        let tagged = Features::of_path("/js/script.tagged-events.js").unwrap().render();
        assert!(tagged.contains("plausible-(event|revenue)-") && !tagged.contains("a.revenue="));
        assert!(!tagged.contains("Outbound"), "the click handler keeps only tagged elements");
        let revenue = Features::of_path("/js/script.revenue.tagged-events.js").unwrap().render();
        assert!(revenue.contains("a.revenue="));
        let mesure = Features::mesure().render();
        assert!(mesure.contains("var g=\"mesure\"") && !mesure.contains("var g=\"plausible\""));
        assert!(mesure.contains("Outbound Link: Click") && mesure.contains("File Download"));
    }
}
