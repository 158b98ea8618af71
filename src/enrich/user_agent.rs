//! User agent → browser, OS and device class, plus the bot verdict (docs/privacy.md D3: the raw user
//! agent is never stored, only this verdict).
//!
//! Parsing is uap-core's `regexes.yaml` (vendored as JSON in `data/uap-core/`, Apache-2.0)
//! through the `ua-parser` crate, about 20 µs per string, so the whole verdict is cached per
//! distinct user agent in a bounded concurrent cache. A user agent is a bot when any of three
//! detectors says so (none covers the others' fixtures alone): the `isbot` crate, the
//! crawler-user-agents pattern list (vendored JSON in `data/crawler-user-agents/`, MIT, compiled
//! into one `RegexSet`), and uap-core's `Spider` device.

use std::sync::Arc;

use prometheus::IntCounter;

use regex::RegexSet;
use serde::Deserialize;

const UAP_REGEXES: &str = include_str!("data/uap-core/regexes.json");
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

/// The user-agent stage: parser, bot detectors and the verdict cache.
pub struct UserAgents {
    parser: ua_parser::Extractor<'static>,
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
        let parser = ua_parser::Extractor::try_from(regexes).expect("vendored uap-core regexes compile");
        let entries: Vec<CrawlerEntry> =
            serde_json::from_str(CRAWLER_PATTERNS).expect("vendored crawler-user-agents is valid JSON");
        // A pattern the regex crate cannot compile (look-around, say) is left out rather than
        // failing start-up; the crawler-list test measures the coverage that remains.
        let patterns: Vec<String> =
            entries.into_iter().map(|e| e.pattern).filter(|p| regex::Regex::new(p).is_ok()).collect();
        let crawlers = RegexSet::new(&patterns).expect("each pattern compiled on its own");
        UserAgents {
            parser,
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
        let (browser, os, device) = self.parser.extract(user_agent);
        let device_family = device.as_ref().map(|d| d.device.as_ref()).unwrap_or("");
        let bot = if self.isbot.is_bot(user_agent) {
            Some(BotReason::IsBot)
        } else if self.crawlers.is_match(user_agent) {
            Some(BotReason::CrawlerList)
        } else if device_family == "Spider" {
            Some(BotReason::UapSpider)
        } else {
            None
        };
        let known = |s: &str| if s == "Other" { String::new() } else { s.to_string() };
        let os_name = os.as_ref().map(|o| known(&o.os)).unwrap_or_default();
        UaVerdict {
            browser: browser.as_ref().map(|b| known(&b.family)).unwrap_or_default(),
            browser_version: browser.as_ref().and_then(|b| b.major).unwrap_or("").to_string(),
            os_version: os.as_ref().and_then(|o| o.major.as_deref()).unwrap_or("").to_string(),
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

    #[test]
    fn the_cache_answers_repeats() {
        let ua = UserAgents::new(100);
        let a = ua.verdict("Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0");
        let b = ua.verdict("Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0");
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(ua.cache_counts(), (1, 1));
    }
}
