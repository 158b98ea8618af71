//! The floors of the crate, checked on its source text (a test, like the store's "no statement
//! from outside the store"): who may name whom.
//!
//! - `http` names no other module of mesure: it is the vocabulary below every handler.
//! - Only `server` itself, `app` and `main` name `server` (the route table is the only importer
//!   of the handlers).
//! - The handler floors `ingest`, `web` and `api` name none of each other.
//! - Nothing below them (the stages, the settings, the engine, the store) names them or `server`.
//!
//! Test code (`tests.rs` files and `mod tests` blocks) may assemble floors and is not checked.

/// The handler floors.
const HANDLERS: [&str; 3] = ["ingest", "web", "api"];
/// The floors below the handlers.
const BELOW: [&str; 16] = [
    "live",
    "sites",
    "config",
    "pipeline",
    "privacy",
    "enrich",
    "query",
    "store",
    "sink",
    "summary",
    "telemetry",
    "visits",
    "event",
    "clock",
    "catalog",
    "erasure",
];

/// The top-level module a source file belongs to (`src/api/plausible/v2.rs` → `api`).
fn floor_of(path: &str) -> &str {
    let inside = path.strip_prefix("src/").unwrap_or(path);
    let first = inside.split('/').next().unwrap_or(inside);
    first.strip_suffix(".rs").unwrap_or(first)
}

/// The modules a line of code names: `crate::x` (and `mesure::x` from the binary).
fn named(line: &str) -> Vec<&str> {
    let code = line.split("//").next().unwrap_or("");
    let mut out = Vec::new();
    for prefix in ["crate::", "mesure::"] {
        let mut rest = code;
        while let Some(at) = rest.find(prefix) {
            let after = &rest[at + prefix.len()..];
            let end = after.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(after.len());
            out.push(&after[..end]);
            rest = &after[end..];
        }
    }
    out
}

/// Why `floor` may not name `target`, if it may not.
fn forbidden(floor: &str, target: &str) -> Option<&'static str> {
    if floor == target {
        return None;
    }
    if floor == "http" {
        return Some("http names nothing else of mesure");
    }
    if target == "server" && !matches!(floor, "app" | "main") {
        return Some("only app and main name server");
    }
    if HANDLERS.contains(&floor) && HANDLERS.contains(&target) {
        return Some("ingest, web and api name none of each other");
    }
    if BELOW.contains(&floor) && (HANDLERS.contains(&target) || target == "server") {
        return Some("the floors below the handlers name none of them");
    }
    None
}

/// Every violation in these files, as `path:line: why: the line`.
fn violations<'a>(files: impl IntoIterator<Item = (&'a str, &'a str)>) -> Vec<String> {
    let mut found = Vec::new();
    for (path, text) in files {
        if path.ends_with("/tests.rs") || path.ends_with("/fuzz.rs") || path.ends_with("/layers.rs") {
            continue;
        }
        let floor = floor_of(path);
        let code = text.split("#[cfg(test)]\nmod tests").next().unwrap_or(text);
        for (n, line) in code.lines().enumerate() {
            for target in named(line) {
                if let Some(why) = forbidden(floor, target) {
                    found.push(format!("{path}:{}: {why}: {}", n + 1, line.trim()));
                }
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `.rs` file under `src/`, as (path from the crate root, text).
    fn sources() -> Vec<(String, String)> {
        let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let mut files = Vec::new();
        let mut dirs = vec![root.join("src")];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let relative = path.strip_prefix(&root).unwrap().to_string_lossy().into_owned();
                    files.push((relative, std::fs::read_to_string(&path).unwrap()));
                }
            }
        }
        files
    }

    #[test]
    fn every_floor_names_only_what_is_below_it() {
        let files = sources();
        assert!(files.len() > 50, "the sources were found");
        let found = violations(files.iter().map(|(p, t)| (p.as_str(), t.as_str())));
        assert!(found.is_empty(), "layering violations:\n{}", found.join("\n"));
    }

    #[test]
    fn a_planted_violation_is_found_with_its_file_and_line() {
        let planted = [
            ("src/http/body.rs", "use bytes::Bytes;\nuse crate::config::LimitsConfig;\n"),
            ("src/query/stats.rs", "// crate::web is only a comment here\nfn f() { crate::api::own::refuse(); }\n"),
            ("src/web/optout.rs", "use crate::ingest::MAX_BODY_BYTES;\n"),
            ("src/sink/writer.rs", "use crate::server::Routes;\n"),
            ("src/app.rs", "use crate::server::Routes;\nuse crate::api::Access;\n"),
            ("src/main.rs", "use mesure::server::Listener;\n"),
            ("src/api/tests.rs", "use crate::ingest::Ingest;\n"),
        ];
        let found = violations(planted);
        assert_eq!(found.len(), 4, "{found:#?}");
        assert!(found[0].starts_with("src/http/body.rs:2: http names nothing else of mesure"), "{}", found[0]);
        assert!(found[1].starts_with("src/query/stats.rs:2: the floors below"), "{}", found[1]);
        assert!(found[2].starts_with("src/web/optout.rs:1: ingest, web and api"), "{}", found[2]);
        assert!(found[3].starts_with("src/sink/writer.rs:1: only app and main name server"), "{}", found[3]);
    }
}
