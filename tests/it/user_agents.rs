//! The user-agent stage against third-party fixtures: uap-core's own test cases, the
//! crawler-user-agents examples, and real browser user agents: `tests/data/browsers-sample.txt`
//! is 6,000 lines drawn at random (seed 42) from the isbot crate's `fixtures/browsers.txt` (MIT,
//! `tests/data/isbot-LICENSE`), less one Splash line (a headless rendering service for scrapers,
//! which the crawler list rightly calls a bot).

use std::sync::OnceLock;

use mesure::enrich::user_agent::UserAgents;
use serde::Deserialize;

fn user_agents() -> &'static UserAgents {
    static UA: OnceLock<UserAgents> = OnceLock::new();
    UA.get_or_init(|| UserAgents::new(100_000))
}

#[derive(Deserialize)]
struct UapCases {
    test_cases: Vec<UapCase>,
}

#[derive(Deserialize)]
struct UapCase {
    user_agent_string: String,
    family: String,
    major: Option<String>,
}

#[test]
fn uap_core_test_cases_give_the_browser_family() {
    let cases: UapCases =
        serde_json::from_str(include_str!("../data/uap_test_ua.json")).expect("vendored uap-core tests");
    assert!(cases.test_cases.len() >= 1400);
    let (mut wrong, mut unknown) = (Vec::new(), 0);
    for case in &cases.test_cases {
        let v = user_agents().parse(&case.user_agent_string);
        let family = if case.family == "Other" { "" } else { case.family.as_str() };
        // A version is its digits, or nothing (a captured version is text too).
        let major = case.major.as_deref().filter(|m| m.bytes().all(|b| b.is_ascii_digit())).unwrap_or("");
        // Names come from a closed list (docs/privacy.md D3): where uap-core hands back the user
        // agent's own text as the family (an iOS app's name before `CFNetwork`, a tool's or a
        // crawler's), the browser is unknown. Every other case is uap-core's family and version.
        if v.browser.is_empty() && v.browser_version.is_empty() && !family.is_empty() {
            unknown += 1;
            continue;
        }
        if v.browser != family || v.browser_version != major {
            wrong.push(format!(
                "{:?}: {}/{} instead of {family}/{major}",
                case.user_agent_string, v.browser, v.browser_version
            ));
        }
    }
    assert!(wrong.is_empty(), "{} of {} wrong:\n{}", wrong.len(), cases.test_cases.len(), wrong.join("\n"));
    // 591 of 1,460 on uap-core's own cases, which are mostly apps, tools and crawlers.
    assert!(unknown < 650, "{unknown} unknown");
}

/// A user agent cannot write its own text into `browser` or `os` (docs/privacy.md D3): the
/// rules that capture free text (an app's name before `CFNetwork` or `-iPhone`) give unknown,
/// and so does a client hint's made-up brand; real browsers keep their names.
#[test]
fn free_text_in_a_user_agent_never_becomes_a_name() {
    let ua = user_agents();
    for crafted in [
        "Jean Dupont 0612345678/1.0 CFNetwork/1410.0.3 Darwin/22.6.0",
        "jean.dupont@example.fr-iPhone/2.1",
        "<script>alert(1)</script>-iPad/3.0 CFNetwork/548.1.4 Darwin/11.0.0",
    ] {
        let v = ua.parse(crafted);
        for stored in [&v.browser, &v.browser_version, &v.os, &v.os_version] {
            let lower = stored.to_lowercase();
            assert!(
                !["jean", "dupont", "0612", "script", "<"].iter().any(|t| lower.contains(t)),
                "{crafted}: {stored}"
            );
        }
    }
    let sample = include_str!("../data/browsers-sample.txt");
    let browsers: Vec<&str> = sample.lines().filter(|l| !l.trim().is_empty()).collect();
    let unnamed = browsers.iter().filter(|b| ua.parse(b).browser.is_empty()).count();
    assert!(unnamed * 100 < browsers.len(), "{unnamed} of {} real browsers unnamed", browsers.len());
}

#[derive(Deserialize)]
struct Crawler {
    #[serde(default)]
    instances: Vec<String>,
}

#[test]
fn crawler_list_examples_are_bots() {
    let crawlers: Vec<Crawler> =
        serde_json::from_str(include_str!("../../src/enrich/data/crawler-user-agents/crawler-user-agents.json"))
            .unwrap();
    let instances: Vec<&String> = crawlers.iter().flat_map(|c| &c.instances).collect();
    assert!(instances.len() > 2000);
    let missed: Vec<&&String> = instances.iter().filter(|ua| user_agents().parse(ua).bot.is_none()).collect();
    let rate = 1.0 - missed.len() as f64 / instances.len() as f64;
    assert!(rate >= 0.99, "only {:.2} % flagged; missed e.g. {:?}", rate * 100.0, &missed[..missed.len().min(10)]);
}

#[test]
fn real_browsers_are_not_bots() {
    let sample = include_str!("../data/browsers-sample.txt");
    let browsers: Vec<&str> = sample.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(browsers.len() >= 5000);
    let flagged: Vec<String> = browsers
        .iter()
        .filter_map(|ua| user_agents().parse(ua).bot.map(|reason| format!("{} ← {ua}", reason.as_str())))
        .collect();
    assert!(flagged.is_empty(), "{} false positives:\n{}", flagged.len(), flagged.join("\n"));
}
