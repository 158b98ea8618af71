//! A site's goals (`[[sites]] goals`): a custom event's name (`Signup`), or a page goal named as
//! Plausible names them, `Visit /contact/thanks*`: a page view whose path matches, where `*`
//! stands for any characters but `/` and `**` for any characters at all. Matomo's goal hits
//! (`idgoal`) are goals whatever the list says.

/// One configured goal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Goal<'a> {
    /// A custom event of this name.
    Event(&'a str),
    /// A page view whose path matches `pattern` (a whole-path regular expression); `name` is
    /// the goal as configured, which reports show.
    Page { name: &'a str, pattern: String },
}

/// The prefix of a page goal's name.
const PAGE_PREFIX: &str = "Visit /";

/// What a configured goal is.
pub(crate) fn parse(goal: &str) -> Goal<'_> {
    match goal.strip_prefix("Visit ") {
        Some(path) if goal.starts_with(PAGE_PREFIX) => Goal::Page { name: goal, pattern: pattern(path.trim()) },
        _ => Goal::Event(goal),
    }
}

/// A path with Plausible's wildcards as an anchored regular expression (re2 syntax).
fn pattern(path: &str) -> String {
    let mut out = String::from("^");
    let mut chars = path.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' if chars.peek() == Some(&'*') => {
                chars.next();
                out.push_str(".*");
            }
            '*' => out.push_str("[^/]*"),
            c if c.is_ascii_alphanumeric() || c == '/' || c == '-' || c == '_' => out.push(c),
            c => {
                out.push('\\');
                out.push(c);
            }
        }
    }
    out.push('$');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(goal: &str, path: &str) -> bool {
        let Goal::Page { pattern, .. } = parse(goal) else { panic!("{goal} is not a page goal") };
        regex::Regex::new(&pattern).unwrap().is_match(path)
    }

    #[test]
    fn page_goals_match_as_plausibles_wildcards_do() {
        assert_eq!(parse("Signup"), Goal::Event("Signup"));
        assert_eq!(parse("Visit the shop"), Goal::Event("Visit the shop"));
        assert!(matches("Visit /contact/thanks", "/contact/thanks"));
        assert!(!matches("Visit /contact/thanks", "/contact/thanks/again"));
        assert!(matches("Visit /contact/thanks*", "/contact/thanks-you"));
        assert!(!matches("Visit /contact/thanks*", "/contact/thanks/x"));
        assert!(matches("Visit /blog/**", "/blog/2026/12/a"));
        assert!(matches("Visit /a.b(c)", "/a.b(c)"));
        assert!(!matches("Visit /a.b", "/axb"));
    }
}
