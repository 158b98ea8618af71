//! User agent → browser, OS and device class, plus the bot verdict (docs/privacy.md D3: the raw user
//! agent is never stored, only this verdict).
//!
//! Parsing is uap-core's `regexes.yaml` (vendored as JSON in `data/uap-core/`, Apache-2.0)
//! through the `ua-parser` crate, about 20 µs per string, so the whole verdict is cached per
//! distinct user agent in a bounded concurrent cache. Of uap-core's device rules only what the
//! verdict reads is computed ([`DeviceRules`]): whether the device is a `Spider`, or Puffin's
//! `iPad`. A user agent is a bot when any of three
//! detectors says so (none covers the others' fixtures alone): the `isbot` crate, the
//! crawler-user-agents pattern list (vendored JSON in `data/crawler-user-agents/`, MIT, compiled
//! into one `RegexSet`), and uap-core's `Spider` device.

use std::sync::Arc;

use prometheus::IntCounter;

use regex::RegexSet;
use serde::Deserialize;

use super::names;

pub(crate) const UAP_REGEXES: &str = include_str!("data/uap-core/regexes.json");
const CRAWLER_PATTERNS: &str = include_str!("data/crawler-user-agents/crawler-user-agents.json");
/// Longest user agent looked at; longer ones are cut (real ones are under 512 bytes).
const MAX_UA_BYTES: usize = 1024;

/// Which detector called a user agent a bot. The strings are metric label values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BotReason {
    EmptyUserAgent,
    IsBot,
    CrawlerList,
    UapSpider,
    /// `Purpose: prefetch` / `Sec-Purpose: prefetch` (decided from headers, not the UA).
    Prefetch,
}

impl BotReason {
    pub const ALL: [BotReason; 5] = [
        BotReason::EmptyUserAgent,
        BotReason::IsBot,
        BotReason::CrawlerList,
        BotReason::UapSpider,
        BotReason::Prefetch,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            BotReason::EmptyUserAgent => "empty_user_agent",
            BotReason::IsBot => "isbot",
            BotReason::CrawlerList => "crawler_list",
            BotReason::UapSpider => "uap_spider",
            BotReason::Prefetch => "prefetch",
        }
    }
}

/// Everything derived from one user-agent string.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UaVerdict {
    pub browser: String,
    /// Major version only.
    pub browser_version: String,
    pub os: String,
    pub os_version: String,
    /// `desktop`, `mobile`, `tablet` or `other`.
    pub device: &'static str,
    pub bot: Option<BotReason>,
}

#[derive(Deserialize)]
struct CrawlerEntry {
    pattern: String,
}

/// uap-core's device rules, read for the two families the verdict uses: `Spider` (a bot) and
/// `iPad` (a tablet). The whole list (633 rules) cost as much as the browser, OS and bot rules
/// together on an uncached user agent, for two answers. uap-core takes the first rule that
/// matches; the rules that can yield either family are its first six (all `Spider`) and two
/// late ones (Puffin's `iPad`, the catch-all `Spider`), and a rule that captures the family
/// (`(iPad)`) needs `iPad` in the user agent, which [`device_class`] reads itself. So: a first
/// rule matching is the answer; no rule of either family matching means neither; a late one
/// matching asks the whole list, which alone knows whether an earlier rule came first (a Kindle's
/// `Silk` is a device, not the catch-all's spider). The answers are the whole list's, exactly.
struct DeviceRules {
    /// The leading rules of the list that yield `Spider` or `iPad`.
    first: ua_parser::device::Extractor<'static>,
    /// The later rules that yield either.
    late: ua_parser::device::Extractor<'static>,
    /// Every rule.
    all: ua_parser::device::Extractor<'static>,
}

impl DeviceRules {
    /// The device families the verdict reads.
    const FAMILIES: [&'static str; 2] = ["Spider", "iPad"];

    fn new() -> DeviceRules {
        let rules = || {
            serde_json::from_str::<ua_parser::Regexes<'static>>(UAP_REGEXES)
                .expect("vendored uap-core regexes are valid JSON")
                .device_parsers
        };
        let read = |rule: &ua_parser::device::Parser<'_>| {
            rule.device_replacement.as_deref().is_some_and(|family| Self::FAMILIES.contains(&family))
        };
        let leading = rules().iter().take_while(|rule| read(rule)).count();
        let build = |keep: &dyn Fn(usize, &ua_parser::device::Parser<'_>) -> bool| {
            let kept = rules().into_iter().enumerate().filter(|(i, rule)| keep(*i, rule)).map(|(_, rule)| rule);
            let builder =
                ua_parser::device::Builder::new().push_all(kept).expect("vendored uap-core device rules parse");
            builder.build().expect("vendored uap-core device rules compile")
        };
        DeviceRules {
            first: build(&|i, _| i < leading),
            late: build(&|i, rule| i >= leading && read(rule)),
            all: build(&|_, _| true),
        }
    }

    /// The device family of `user_agent` when it is one the verdict reads, else `""`.
    fn family(&self, user_agent: &str) -> String {
        let family = if let Some(device) = self.first.extract(user_agent) {
            device.device
        } else if self.late.extract(user_agent).is_some() {
            match self.all.extract(user_agent) {
                Some(device) => device.device,
                None => return String::new(),
            }
        } else {
            return String::new();
        };
        if Self::FAMILIES.contains(&family.as_ref()) { family.into_owned() } else { String::new() }
    }
}

/// The user-agent stage: parser, bot detectors and the verdict cache.
pub struct UserAgents {
    /// uap-core's browser and OS rules.
    browsers: ua_parser::user_agent::Extractor<'static>,
    systems: ua_parser::os::Extractor<'static>,
    devices: DeviceRules,
    isbot: isbot::Bots,
    crawlers: RegexSet,
    cache: quick_cache::sync::Cache<String, Arc<UaVerdict>>,
    /// `mesure_user_agent_cache_hits_total` / `..._misses_total` (registered by `Metrics`).
    pub cache_hits: IntCounter,
    pub cache_misses: IntCounter,
}

impl UserAgents {
    /// Compiles the vendored lists (a few hundred milliseconds: done once at start).
    pub fn new(cache_capacity: usize) -> UserAgents {
        let regexes: ua_parser::Regexes<'static> =
            serde_json::from_str(UAP_REGEXES).expect("vendored uap-core regexes are valid JSON");
        let browsers = ua_parser::user_agent::Builder::new().push_all(regexes.user_agent_parsers);
        let browsers = browsers.expect("vendored uap-core browser rules parse").build();
        let browsers = browsers.expect("vendored uap-core browser rules compile");
        let systems = ua_parser::os::Builder::new().push_all(regexes.os_parsers);
        let systems =
            systems.expect("vendored uap-core OS rules parse").build().expect("vendored uap-core OS rules compile");
        let entries: Vec<CrawlerEntry> =
            serde_json::from_str(CRAWLER_PATTERNS).expect("vendored crawler-user-agents is valid JSON");
        // A pattern the regex crate cannot compile (look-around, say) is left out rather than
        // failing start-up; the crawler-list test measures the coverage that remains.
        let patterns: Vec<String> =
            entries.into_iter().map(|e| e.pattern).filter(|p| regex::Regex::new(p).is_ok()).collect();
        let crawlers = RegexSet::new(&patterns).expect("each pattern compiled on its own");
        UserAgents {
            browsers,
            systems,
            devices: DeviceRules::new(),
            isbot: isbot::Bots::default(),
            crawlers,
            cache: quick_cache::sync::Cache::new(cache_capacity),
            cache_hits: IntCounter::new("mesure_user_agent_cache_hits_total", "User-agent verdicts found in the cache")
                .expect("valid metric"),
            cache_misses: IntCounter::new(
                "mesure_user_agent_cache_misses_total",
                "User agents parsed because their verdict was not cached",
            )
            .expect("valid metric"),
        }
    }

    /// The verdict for `user_agent`, from the cache when it was seen before.
    pub fn verdict(&self, user_agent: &str) -> Arc<UaVerdict> {
        let user_agent = cut(user_agent.trim(), MAX_UA_BYTES);
        if let Some(verdict) = self.cache.get(user_agent) {
            self.cache_hits.inc();
            return verdict;
        }
        self.cache_misses.inc();
        let verdict = Arc::new(self.parse(user_agent));
        self.cache.insert(user_agent.to_string(), verdict.clone());
        verdict
    }

    /// (cache hits, cache misses) since start (the metrics read the counters themselves).
    #[cfg(test)]
    fn cache_counts(&self) -> (u64, u64) {
        (self.cache_hits.get(), self.cache_misses.get())
    }

    /// The full, uncached parse.
    pub fn parse(&self, user_agent: &str) -> UaVerdict {
        if user_agent.is_empty() {
            return UaVerdict { device: "other", bot: Some(BotReason::EmptyUserAgent), ..UaVerdict::default() };
        }
        let (browser, os) = (self.browsers.extract(user_agent), self.systems.extract(user_agent));
        let device_family = self.devices.family(user_agent);
        let device_family = device_family.as_str();
        let bot = if self.isbot.is_bot(user_agent) {
            Some(BotReason::IsBot)
        } else if self.crawlers.is_match(user_agent) {
            Some(BotReason::CrawlerList)
        } else if device_family == "Spider" {
            Some(BotReason::UapSpider)
        } else {
            None
        };
        // Names from the closed lists only ("Other" is not on them): a rule may hand back the
        // visitor's own text as a name (docs/privacy.md D3).
        let os_name = os.as_ref().map(|o| names::os(&o.os)).unwrap_or_default();
        let browser_name = browser.as_ref().map(|b| names::browser(&b.family)).unwrap_or_default();
        let version_of = |known: &str, version: Option<&str>| {
            if known.is_empty() { String::new() } else { names::version(version.unwrap_or("")) }
        };
        UaVerdict {
            browser_version: version_of(&browser_name, browser.as_ref().and_then(|b| b.major)),
            browser: browser_name,
            os_version: version_of(&os_name, os.as_ref().and_then(|o| o.major.as_deref())),
            device: device_class(user_agent, &os_name, device_family),
            os: os_name,
            bot,
        }
    }
}

/// Desktop, mobile, tablet or other, from the OS and the markers browsers put in their UA.
fn device_class(ua: &str, os: &str, device_family: &str) -> &'static str {
    let has = |needle: &str| ua.contains(needle);
    if device_family == "iPad" || has("iPad") || has("Tablet") || (os == "Android" && !has("Mobile")) || has("Kindle") {
        return "tablet";
    }
    if has("Mobi") || has("iPhone") || has("iPod") || os == "Android" || has("Windows Phone") || has("BlackBerry") {
        return "mobile";
    }
    if has("SmartTV") || has("SMART-TV") || has("PlayStation") || has("Xbox") || has("Nintendo") || has("CrKey") {
        return "other";
    }
    match os {
        "Windows" | "Mac OS X" | "Linux" | "Ubuntu" | "Fedora" | "Debian" | "Chrome OS" | "FreeBSD" | "OpenBSD"
        | "NetBSD" | "Solaris" | "Mac OS" => "desktop",
        _ => "other",
    }
}

fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::OnceLock;

    pub fn shared() -> &'static UserAgents {
        static UA: OnceLock<UserAgents> = OnceLock::new();
        UA.get_or_init(|| UserAgents::new(10_000))
    }

    #[test]
    fn common_browsers() {
        let v = shared().parse("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36");
        assert_eq!(
            (v.browser.as_str(), v.browser_version.as_str(), v.os.as_str(), v.os_version.as_str(), v.device),
            ("Chrome", "131", "Windows", "10", "desktop")
        );
        assert_eq!(v.bot, None);
        let v = shared().parse("Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1");
        assert_eq!(
            (v.browser.as_str(), v.os.as_str(), v.os_version.as_str(), v.device),
            ("Mobile Safari", "iOS", "18", "mobile")
        );
        let v = shared().parse("Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1");
        assert_eq!(v.device, "tablet");
        let v = shared().parse("Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36");
        assert_eq!((v.os.as_str(), v.device), ("Android", "tablet"));
        let v = shared().parse("Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0");
        assert_eq!(
            (v.browser.as_str(), v.browser_version.as_str(), v.os.as_str(), v.device),
            ("Firefox", "133", "Linux", "desktop")
        );
    }

    #[test]
    fn bots_by_each_detector() {
        assert_eq!(shared().parse("Googlebot/2.1 (+http://www.google.com/bot.html)").bot, Some(BotReason::IsBot));
        assert_eq!(shared().parse("").bot, Some(BotReason::EmptyUserAgent));
        assert!(
            shared().parse("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)").bot.is_some()
        );
        assert!(shared().parse("curl/8.5.0").bot.is_some());
    }

    /// The device rules read in part give the whole list's answer, as the verdict reads it (a
    /// spider; an iPad, by family or by name), for every user agent we have: real browsers,
    /// uap-core's own test cases and the crawler list's examples.
    #[test]
    fn device_rules_read_in_part_answer_as_the_whole_list() {
        let rules = &shared().devices;
        let whole = |ua: &str| {
            let family = rules.all.extract(ua).map(|d| d.device.into_owned()).unwrap_or_default();
            if DeviceRules::FAMILIES.contains(&family.as_str()) { family } else { String::new() }
        };
        let mut agents: Vec<String> =
            include_str!("../../tests/data/browsers-sample.txt").lines().map(str::to_owned).collect();
        let uap: serde_json::Value = serde_json::from_str(include_str!("../../tests/data/uap_test_ua.json")).unwrap();
        agents.extend(
            uap["test_cases"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|c| c["user_agent_string"].as_str())
                .map(str::to_owned),
        );
        let crawlers: serde_json::Value = serde_json::from_str(CRAWLER_PATTERNS).unwrap();
        for entry in crawlers.as_array().unwrap() {
            agents.extend(
                entry["instances"].as_array().into_iter().flatten().filter_map(|i| i.as_str()).map(str::to_owned),
            );
        }
        // Each of the late rules' cases, and a device rule that comes before the catch-all.
        agents.push("Mozilla/5.0 (X11; U; Linux x86_64; en-US) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/91.0 Safari/537.36 Puffin/9.0.0.50263IT".into());
        agents.push("Mozilla/5.0 (Linux; Android 9; KFTRWI) AppleWebKit/537.36 (KHTML, like Gecko) Silk/96.3.6 like Chrome/96.0.4664.92 Safari/537.36".into());
        let read = |family: &str, ua: &str| (family == "Spider", family == "iPad" || ua.contains("iPad"));
        let (mut spiders, mut ipads) = (0, 0);
        for ua in &agents {
            let family = rules.family(ua);
            assert_eq!(read(&family, ua), read(&whole(ua), ua), "{ua}");
            spiders += usize::from(family == "Spider");
            ipads += usize::from(family == "iPad");
        }
        assert!(
            agents.len() > 8000 && spiders > 100 && ipads > 0,
            "{} agents, {spiders} spiders, {ipads} iPads",
            agents.len()
        );
    }

    #[test]
    fn the_cache_answers_repeats() {
        let ua = UserAgents::new(100);
        let a = ua.verdict("Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0");
        let b = ua.verdict("Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0");
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(ua.cache_counts(), (1, 1));
    }
}
