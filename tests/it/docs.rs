//! The repository documents itself: `docs/privacy.md` maps every privacy invariant to the code
//! that keeps it and to tests that exist; nothing a user reads points outside the repository.

use std::collections::BTreeMap;
use std::path::Path;

use crate::common::REPO;

/// The invariants docs/privacy.md must cover, each with at least one test.
const INVARIANTS: &[&str] = &[
    "A1", "A2", "A3", "A4", "A5", "A6", "B1", "B2", "B3", "B4", "B5", "B6", "C1", "C2", "C3", "C4", "C5", "C6", "D1",
    "D2", "D3", "D4", "D5", "E1", "E2", "E3", "E4", "F1", "F2", "F3", "G1", "G2",
];

/// An invariant's `Enforced by` and `Proven by` entries.
#[derive(Default, Debug)]
struct Entry {
    enforced_by: Vec<String>,
    proven_by: Vec<String>,
}

/// The backquoted items of a list line.
fn items(line: &str) -> Vec<String> {
    line.split('`').skip(1).step_by(2).map(str::to_string).collect()
}

fn parse(text: &str) -> BTreeMap<String, Entry> {
    let mut map: BTreeMap<String, Entry> = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        if let Some(heading) = line.strip_prefix("### ") {
            let id = heading.split('.').next().unwrap_or("").to_string();
            map.entry(id.clone()).or_default();
            current = Some(id);
        } else if let Some(id) = &current {
            let entry = map.get_mut(id).unwrap();
            if let Some(rest) = line.strip_prefix("- Enforced by:") {
                entry.enforced_by.extend(items(rest));
            } else if let Some(rest) = line.strip_prefix("- Proven by:") {
                entry.proven_by.extend(items(rest));
            }
        }
    }
    map
}

/// Whether `file` holds a test named `name` (`compile_fail`: a compile-fail doc test).
fn has_test(file: &str, name: &str) -> bool {
    if name == "compile_fail" {
        return file.contains("```compile_fail");
    }
    let Some(at) = file.find(&format!("fn {name}(")) else { return false };
    // The attributes right above the function.
    let before = &file[..at];
    let start = before.rfind("\n\n").unwrap_or(0);
    let attributes = &before[start..];
    attributes.contains("#[test]") || attributes.contains("#[tokio::test")
}

#[test]
fn every_privacy_invariant_is_mapped_to_code_and_to_tests_that_exist() {
    let text = std::fs::read_to_string(Path::new(REPO).join("docs/privacy.md")).unwrap();
    let map = parse(&text);
    let mut problems = Vec::new();
    for id in INVARIANTS {
        match map.get(*id) {
            None => problems.push(format!("{id}: not in docs/privacy.md")),
            Some(entry) if entry.proven_by.is_empty() => problems.push(format!("{id}: no test")),
            Some(entry) if entry.enforced_by.is_empty() => problems.push(format!("{id}: no code named")),
            Some(_) => {}
        }
    }
    for (id, entry) in &map {
        if !INVARIANTS.contains(&id.as_str()) {
            problems.push(format!("{id}: not a known invariant (add it to INVARIANTS)"));
        }
        for path in &entry.enforced_by {
            if !Path::new(REPO).join(path).exists() {
                problems.push(format!("{id}: enforced by {path}, which does not exist"));
            }
        }
        for test in &entry.proven_by {
            let Some((path, name)) = test.split_once("::") else {
                problems.push(format!("{id}: {test} is not path::test_name"));
                continue;
            };
            match std::fs::read_to_string(Path::new(REPO).join(path)) {
                Ok(file) if has_test(&file, name) => {}
                Ok(_) => problems.push(format!("{id}: {path} has no test {name}")),
                Err(_) => problems.push(format!("{id}: {path} does not exist")),
            }
        }
    }
    assert!(problems.is_empty(), "docs/privacy.md:\n{}", problems.join("\n"));
}

/// The checker itself: a missing test, a missing file and an invariant without proof are caught.
#[test]
fn the_invariant_map_checker_catches_what_it_should() {
    let file = "#[test]\nfn real_one() {}\n\nfn helper() {}\n";
    assert!(has_test(file, "real_one"));
    assert!(!has_test(file, "helper"), "a helper is not a test");
    assert!(!has_test(file, "absent"));
    let map = parse(
        "### A1. x\n- Enforced by: `a.rs`\n- Proven by: `b.rs::t`, `c.rs::u`\n### A2. y\n- Enforced by: `a.rs`\n",
    );
    assert_eq!(map["A1"].proven_by, vec!["b.rs::t", "c.rs::u"]);
    assert!(map["A2"].proven_by.is_empty());
}

/// What a user reads (README, docs/, code comments) points only inside the repository.
#[test]
fn nothing_points_outside_the_repository() {
    let mut offenders = Vec::new();
    let mut pending =
        vec![Path::new(REPO).join("README.md"), Path::new(REPO).join("docs"), Path::new(REPO).join("src")];
    while let Some(path) = pending.pop() {
        if path.is_dir() {
            pending.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&path) else { continue };
        for (n, line) in text.lines().enumerate() {
            if line.contains("../shared") || line.contains("DESIGN.md") || line.contains("PRIVACY.md") {
                offenders.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(offenders.is_empty(), "references outside the repository:\n{}", offenders.join("\n"));
}

/// The relative links of a Markdown text: (target file, anchor), skipping web addresses.
fn links(text: &str) -> Vec<(String, Option<String>)> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("](") {
        let after = &rest[at + 2..];
        let Some(end) = after.find(')') else { break };
        let target = &after[..end];
        rest = &after[end..];
        if target.contains("://") || target.starts_with("mailto:") || target.contains(' ') {
            continue;
        }
        let (file, anchor) = match target.split_once('#') {
            Some((file, anchor)) => (file.to_string(), Some(anchor.to_string())),
            None => (target.to_string(), None),
        };
        found.push((file, anchor));
    }
    found
}

/// A heading's anchor, as Markdown renderers make it: lower case, punctuation dropped, spaces
/// as hyphens.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// Every broken link of the file at `path` (text `text`): a missing file, or an anchor that no
/// heading of its target has.
fn broken_links(path: &Path, text: &str) -> Vec<String> {
    let mut broken = Vec::new();
    for (file, anchor) in links(text) {
        let target = if file.is_empty() { path.to_path_buf() } else { path.parent().unwrap().join(&file) };
        let Ok(target_text) =
            std::fs::read_to_string(&target).or_else(|e| if target.is_dir() { Ok(String::new()) } else { Err(e) })
        else {
            broken.push(format!("{}: {file} does not exist", path.display()));
            continue;
        };
        if let Some(anchor) = anchor {
            let headings: Vec<String> =
                target_text.lines().filter(|l| l.starts_with('#')).map(|l| slug(l.trim_start_matches('#'))).collect();
            if !headings.contains(&anchor) {
                broken.push(format!("{}: {file}#{anchor}: no such heading", path.display()));
            }
        }
    }
    broken
}

/// Every link of the README and of docs/ leads somewhere: the file exists, and so does the
/// heading it names.
#[test]
fn every_link_of_the_documentation_resolves() {
    let mut files = vec![Path::new(REPO).join("README.md")];
    for entry in std::fs::read_dir(Path::new(REPO).join("docs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            files.push(path);
        }
    }
    let mut broken = Vec::new();
    let mut count = 0;
    for path in &files {
        let text = std::fs::read_to_string(path).unwrap();
        count += links(&text).len();
        broken.extend(broken_links(path, &text));
    }
    assert!(count > 20, "the links were found ({count})");
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

/// The link checker itself: a missing file and a missing heading are caught.
#[test]
fn the_link_checker_catches_what_it_should() {
    assert_eq!(slug(" Our script, `mesure.js`"), "our-script-mesurejs");
    assert_eq!(slug(" Switching a Plausible site"), "switching-a-plausible-site");
    let readme = Path::new(REPO).join("README.md");
    let text = "[a](docs/privacy.md) [b](docs/nope.md) [c](docs/tracking.md#matomo) [d](docs/tracking.md#nope) [e](https://example.org/x)";
    let broken = broken_links(&readme, text);
    assert_eq!(broken.len(), 2, "{broken:?}");
    assert!(broken[0].contains("docs/nope.md does not exist"));
    assert!(broken[1].contains("docs/tracking.md#nope: no such heading"));
}

/// The README is a newcomer's page: short, with the two commands and the switch guides; the
/// reference lives in docs/, and user documentation speaks of capabilities, not of issues.
#[test]
fn the_readme_is_a_newcomers_page() {
    let readme = std::fs::read_to_string(Path::new(REPO).join("README.md")).unwrap();
    assert!(readme.len() <= 25 * 1024, "README.md is {} bytes", readme.len());
    for needed in
        ["scripts/run-local.sh", "scripts/test.sh", "## Switching a Matomo site", "## Switching a Plausible site"]
    {
        assert!(readme.contains(needed), "README.md lacks {needed}");
    }
    let mut texts = vec![readme];
    for entry in std::fs::read_dir(Path::new(REPO).join("docs")).unwrap() {
        texts.push(std::fs::read_to_string(entry.unwrap().path()).unwrap());
    }
    for text in &texts {
        let lower = text.to_lowercase();
        for word in ["issue ", "issues "] {
            for (at, _) in lower.match_indices(word) {
                let next = lower[at + word.len()..].chars().next().unwrap_or(' ');
                assert!(
                    !next.is_ascii_digit(),
                    "an issue number in the documentation: {}",
                    &text[at..(at + 20).min(text.len())]
                );
            }
        }
    }
}
