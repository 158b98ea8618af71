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
    let mut wrong = Vec::new();
    for case in &cases.test_cases {
        let v = user_agents().parse(&case.user_agent_string);
        let family = if case.family == "Other" { "" } else { case.family.as_str() };
        let major = case.major.as_deref().unwrap_or("");
        if v.browser != family || v.browser_version != major {
            wrong.push(format!(
                "{:?}: {}/{} instead of {family}/{major}",
                case.user_agent_string, v.browser, v.browser_version
            ));
        }
    }
    assert!(wrong.is_empty(), "{} of {} wrong:\n{}", wrong.len(), cases.test_cases.len(), wrong.join("\n"));
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
