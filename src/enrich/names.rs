//! The closed lists of browser and OS names (docs/privacy.md D3): what `browser` and `os` may
//! hold. A user agent is the visitor's own text, and some of uap-core's rules hand part of it
//! back as the name (`^(.{0,200})/(\d+) CFNetwork` names an iOS app by whatever precedes its
//! version; `(.*)-iPhone/1.0` likewise), as a client hint's brand would: stored as is, any
//! visitor could write free text into the database. So a name is kept only when uap-core's rules
//! spell it out: a rule's literal replacement (`"family_replacement": "Firefox Mobile"`), or a
//! captured group made only of literal alternatives (`(Chimera|SeaMonkey|Camino|Waterfox)`),
//! each with the rule's replacement applied. Anything else is an unknown browser or OS.

use std::collections::HashSet;
use std::sync::OnceLock;

use serde::Deserialize;

#[derive(Deserialize)]
struct Rules {
    user_agent_parsers: Vec<Rule>,
    os_parsers: Vec<Rule>,
}

#[derive(Deserialize)]
struct Rule {
    regex: String,
    #[serde(alias = "os_replacement")]
    family_replacement: Option<String>,
}

/// Every browser and OS name uap-core's rules can give without copying free text.
struct Names {
    browsers: HashSet<String>,
    systems: HashSet<String>,
}

fn names() -> &'static Names {
    static NAMES: OnceLock<Names> = OnceLock::new();
    NAMES.get_or_init(|| {
        let rules: Rules =
            serde_json::from_str(super::user_agent::UAP_REGEXES).expect("vendored uap-core regexes are valid JSON");
        let closed = |rules: &[Rule]| rules.iter().flat_map(spelled_out).collect::<HashSet<String>>();
        let mut browsers = closed(&rules.user_agent_parsers);
        // The names client hints give to browsers built on Chromium (src/enrich/client_hints.rs).
        browsers.extend(["Chrome", "Edge", "Opera", "Brave", "Vivaldi", "Yandex Browser"].map(String::from));
        Names { browsers, systems: closed(&rules.os_parsers) }
    })
}

/// The names a rule can give: its literal replacement, or the literal alternatives of its first
/// group (in its replacement, when that reads `$1`); none when the group matches free text.
fn spelled_out(rule: &Rule) -> Vec<String> {
    match rule.family_replacement.as_deref() {
        Some(literal) if !literal.contains('$') => vec![literal.to_string()],
        replacement => {
            let Some(alternatives) = first_group(&rule.regex).and_then(literal_alternatives) else { return Vec::new() };
            alternatives.into_iter().map(|name| replacement.map_or(name.clone(), |r| r.replace("$1", &name))).collect()
        }
    }
}

/// The text of the first capturing group of `regex` (an unescaped `(` not followed by `?`, up
/// to its matching `)`).
fn first_group(regex: &str) -> Option<&str> {
    let bytes = regex.as_bytes();
    let (mut i, mut start) = (0, None);
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 1,
            b'(' if bytes.get(i + 1) != Some(&b'?') => {
                start = Some(i + 1);
                break;
            }
            _ => {}
        }
        i += 1;
    }
    let start = start?;
    let mut depth = 0;
    let mut j = start;
    while j < bytes.len() {
        match bytes[j] {
            b'\\' => j += 1,
            b'(' => depth += 1,
            b')' if depth == 0 => return Some(&regex[start..j]),
            b')' => depth -= 1,
            _ => {}
        }
        j += 1;
    }
    None
}

/// The plain-text alternatives of a group (`A|B C|(?:Free|Open|\b)BSD` → `A`, `B C`,
/// `FreeBSD`, `OpenBSD`, `BSD`): letters, digits, space, `.`, `-`, `_`, with one level of
/// non-capturing alternatives spelled out. An alternative that a pattern (a class, a repetition,
/// an escape) could widen gives no name; `None` when none is plain.
fn literal_alternatives(group: &str) -> Option<Vec<String>> {
    let mut names = Vec::new();
    for alternative in top_level(group, '|') {
        if let Some(name) = literal(alternative).filter(|n| !n.is_empty()) {
            names.push(name);
        } else if let Some((before, rest)) = alternative.split_once("(?:")
            && let Some((inner, after)) = rest.split_once(')')
            && let (Some(before), Some(after)) = (literal(before), literal(after))
        {
            for option in inner.split('|') {
                let option = option.strip_prefix("\\b").unwrap_or(option);
                if let Some(option) = literal(option) {
                    let name = format!("{before}{option}{after}");
                    if !name.is_empty() {
                        names.push(name);
                    }
                }
            }
        }
    }
    (!names.is_empty()).then_some(names)
}

/// The text a pattern matches when it matches only one: letters, digits, space, `_`, `-`, `!`,
/// `'`, `,`, `&`, `:`, `;`, `@` and escaped punctuation (`\.`, `\/`, `\+`…); `None` for a
/// pattern that could match more (a class, a repetition, `.`, `\d`).
fn literal(pattern: &str) -> Option<String> {
    let mut text = String::with_capacity(pattern.len());
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next()? {
                e if e.is_ascii_punctuation() || e == ' ' => text.push(e),
                _ => return None,
            },
            c if c.is_ascii_alphanumeric() || " _-!',&:;@".contains(c) => text.push(c),
            _ => return None,
        }
    }
    Some(text)
}

/// `text` split at `separator` outside parentheses.
fn top_level(text: &str, separator: char) -> Vec<&str> {
    let (mut parts, mut depth, mut start) = (Vec::new(), 0i32, 0);
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '(' => depth += 1,
            ')' => depth -= 1,
            c if c == separator && depth == 0 => {
                parts.push(&text[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

/// `name` when it is a browser name of the closed list, else the empty name (unknown).
pub(crate) fn browser(name: &str) -> String {
    if names().browsers.contains(name) { name.to_string() } else { String::new() }
}

/// `name` when it is an OS name of the closed list, else the empty name (unknown).
pub(crate) fn os(name: &str) -> String {
    if names().systems.contains(name) { name.to_string() } else { String::new() }
}

/// A version as stored: its digits (at most 8), else nothing (a captured version is text too).
pub(crate) fn version(text: &str) -> String {
    if !text.is_empty() && text.len() <= 8 && text.bytes().all(|b| b.is_ascii_digit()) {
        text.to_string()
    } else {
        String::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rule_spells_out_its_names_or_gives_none() {
        let rule = |regex: &str, replacement: Option<&str>| Rule {
            regex: regex.into(),
            family_replacement: replacement.map(String::from),
        };
        assert_eq!(spelled_out(&rule(r"(Firefox)/(\d+)", None)), ["Firefox"]);
        assert_eq!(spelled_out(&rule(r"(?:Mobile )?(Chimera|SeaMonkey)/(\d+)", None)), ["Chimera", "SeaMonkey"]);
        assert_eq!(spelled_out(&rule(r"(Fennec)/(\d+)", Some("$1 Mobile"))), ["Fennec Mobile"]);
        assert_eq!(spelled_out(&rule(r"anything (.*)", Some("Firefox iOS"))), ["Firefox iOS"]);
        assert!(spelled_out(&rule(r"^(.{0,200})/(\d+) CFNetwork", None)).is_empty());
        assert!(spelled_out(&rule(r"^(.{0,200})-iPhone/(\d+)", None)).is_empty());
        assert!(spelled_out(&rule(r"([A-z]+[Bb]ot)", None)).is_empty());
        assert_eq!(spelled_out(&rule(r"(Kindle|[A-z]+OS)/(\d+)", None)), ["Kindle"], "the free alternative gives none");
        assert_eq!(spelled_out(&rule(r"(Ubuntu|(?:Free|Open|\b)BSD)", None)), ["Ubuntu", "FreeBSD", "OpenBSD", "BSD"]);
        assert!(spelled_out(&rule(r"\(escaped\) (Lynx)/(\d+)", None)) == ["Lynx"]);
        assert_eq!(spelled_out(&rule(r"(UP\.Browser|The Bat!)/(\d+)", None)), ["UP.Browser", "The Bat!"]);
        assert!(spelled_out(&rule(r"(Fire.ox)", None)).is_empty(), "an unescaped dot matches anything");
    }

    #[test]
    fn the_lists_hold_the_common_names_and_no_captured_text() {
        for name in
            ["Firefox", "Chrome", "Chrome Mobile", "Safari", "Mobile Safari", "Edge", "Opera", "Samsung Internet"]
        {
            assert_eq!(browser(name), name);
        }
        for name in ["Windows", "Mac OS X", "iOS", "Android", "Linux", "Ubuntu", "Chrome OS"] {
            assert_eq!(os(name), name);
        }
        assert_eq!(browser("<script>alert(1)</script>"), "");
        assert_eq!(browser("Jean Dupont 06 12 34 56 78"), "");
        assert_eq!(version("131"), "131");
        assert_eq!(version("1x"), "");
        assert!(names().browsers.len() > 200, "{}", names().browsers.len());
    }
}
