//! Referrer → channel and source (docs/privacy.md D2: only the referrer's host is kept).
//!
//! Channels, in the order they are decided:
//! 1. `paid`: the landing URL has a click id (`gclid`, `fbclid`, ...) or a paid `utm_medium`;
//! 2. `email` / `social` / `campaign`: campaign parameters say so;
//! 3. `direct`: no referrer;
//! 4. `internal`: the referrer has the same registrable domain as one of the site's domains
//!    (public suffix list via `psl`; IP-literal referrers only when equal to a site domain);
//! 5. `search`, `social`, `email`, `ai`: the referrer is in our list (`data/sources.toml`);
//! 6. `website`: any other site.

use std::collections::HashMap;
use std::net::IpAddr;

use serde::Deserialize;

use crate::enrich::campaign::Campaign;

const SOURCES: &str = include_str!("data/sources.toml");

/// Channel names, stored as is.
pub mod channel {
    pub(crate) const DIRECT: &str = "direct";
    pub(crate) const INTERNAL: &str = "internal";
    pub(crate) const SEARCH: &str = "search";
    pub(crate) const SOCIAL: &str = "social";
    pub(crate) const EMAIL: &str = "email";
    pub(crate) const AI: &str = "ai";
    pub(crate) const PAID: &str = "paid";
    pub(crate) const CAMPAIGN: &str = "campaign";
    pub(crate) const WEBSITE: &str = "website";
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribution {
    pub channel: &'static str,
    /// A known source's name (`Google`), a campaign's `utm_source`, the referring site's host
    /// for other websites, or `""`.
    pub source: String,
}

#[derive(Deserialize)]
struct SourceFile {
    source: Vec<SourceEntry>,
}

#[derive(Deserialize)]
struct SourceEntry {
    name: String,
    channel: String,
    hosts: Vec<String>,
}

struct Known {
    name: String,
    channel: &'static str,
}

/// The source list, indexed.
pub struct Sources {
    known: Vec<Known>,
    /// Domain → source, for "domain" patterns.
    by_domain: HashMap<String, usize>,
    /// Registrable name (without the public suffix) → source, for "name.*" patterns.
    by_name: HashMap<String, usize>,
}

impl Default for Sources {
    fn default() -> Self {
        Sources::parse(SOURCES).expect("the vendored source list is valid")
    }
}

impl Sources {
    pub fn parse(text: &str) -> Result<Sources, String> {
        let file: SourceFile = toml::from_str(text).map_err(|e| e.to_string())?;
        let mut sources = Sources { known: Vec::new(), by_domain: HashMap::new(), by_name: HashMap::new() };
        for entry in file.source {
            let channel = match entry.channel.as_str() {
                "search" => channel::SEARCH,
                "social" => channel::SOCIAL,
                "email" => channel::EMAIL,
                "ai" => channel::AI,
                other => return Err(format!("{}: unknown channel {other:?}", entry.name)),
            };
            let index = sources.known.len();
            for host in &entry.hosts {
                let host = host.to_ascii_lowercase();
                let previous = match host.strip_suffix(".*") {
                    Some(name) => sources.by_name.insert(name.to_string(), index),
                    None => sources.by_domain.insert(host.clone(), index),
                };
                if previous.is_some() {
                    return Err(format!("{host} is listed twice"));
                }
            }
            sources.known.push(Known { name: entry.name, channel });
        }
        Ok(sources)
    }

    /// The listed source of a referrer host, if any.
    fn lookup(&self, host: &str) -> Option<&Known> {
        let host = host.trim_end_matches('.');
        // Longest domain first: the host itself, then each parent.
        let mut candidate = host;
        loop {
            if let Some(&i) = self.by_domain.get(candidate) {
                return Some(&self.known[i]);
            }
            match candidate.split_once('.') {
                Some((_, parent)) if parent.contains('.') || !parent.is_empty() => candidate = parent,
                _ => break,
            }
            if !candidate.contains('.') {
                break;
            }
        }
        let registrable = psl::domain_str(host)?;
        let suffix = psl::suffix_str(host)?;
        let name = registrable.strip_suffix(suffix)?.trim_end_matches('.');
        self.by_name.get(name).map(|&i| &self.known[i])
    }

    /// Attributes a visit's hit to a channel and source.
    pub fn attribute(&self, referrer_host: &str, site_domains: &[String], campaign: &Campaign) -> Attribution {
        if campaign.click_id.is_some() || campaign.is_paid() {
            let source = if !campaign.source.is_empty() {
                campaign.source.clone()
            } else if let Some(known) = self.lookup(referrer_host) {
                known.name.clone()
            } else {
                campaign.click_id.map(click_id_source).unwrap_or_default().to_string()
            };
            return Attribution { channel: channel::PAID, source };
        }
        if campaign.is_present() {
            let channel = match campaign.medium.as_str() {
                "email" | "e-mail" | "newsletter" | "mail" => channel::EMAIL,
                "social" | "social-network" | "social-media" | "sm" => channel::SOCIAL,
                _ => channel::CAMPAIGN,
            };
            return Attribution { channel, source: campaign.source.clone() };
        }
        if referrer_host.is_empty() {
            return Attribution { channel: channel::DIRECT, source: String::new() };
        }
        if is_internal(referrer_host, site_domains) {
            return Attribution { channel: channel::INTERNAL, source: String::new() };
        }
        if let Some(known) = self.lookup(referrer_host) {
            return Attribution { channel: known.channel, source: known.name.clone() };
        }
        let source = referrer_host.strip_prefix("www.").unwrap_or(referrer_host).to_string();
        Attribution { channel: channel::WEBSITE, source }
    }
}

fn click_id_source(click_id: &str) -> &'static str {
    match click_id {
        "gclid" | "gbraid" | "wbraid" => "Google",
        "fbclid" => "Facebook",
        "msclkid" => "Bing",
        "ttclid" => "TikTok",
        _ => "",
    }
}

/// Same registrable domain as one of the site's domains.
fn is_internal(host: &str, site_domains: &[String]) -> bool {
    if host.parse::<IpAddr>().is_ok() || !host.contains('.') {
        // psl would see "192.168.1.1" as the domain "1.1": IP literals and single labels
        // (localhost) only match exactly.
        return site_domains.iter().any(|d| d == host);
    }
    let Some(registrable) = psl::domain_str(host) else { return site_domains.iter().any(|d| d == host) };
    site_domains.iter().any(|d| d == host || psl::domain_str(d) == Some(registrable))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attribute(referrer: &str, campaign: Campaign) -> (String, String) {
        let sources = Sources::default();
        let site = vec!["www.example.org".to_string(), "192.0.2.10".to_string(), "localhost".to_string()];
        let host = crate::enrich::url::referrer_host(referrer);
        let a = sources.attribute(&host, &site, &campaign);
        (a.channel.to_string(), a.source)
    }

    #[test]
    fn referrer_table() {
        let none = Campaign::default;
        let table: &[(&str, &str, &str)] = &[
            ("", "direct", ""),
            ("https://www.example.org/other", "internal", ""),
            ("https://blog.example.org/post", "internal", ""),
            ("http://192.0.2.10/page", "internal", ""),
            ("http://localhost:8080/", "internal", ""),
            ("http://192.0.2.99/page", "website", "192.0.2.99"),
            ("http://[2001:db8::1]/x", "website", "2001:db8::1"),
            ("https://www.google.com/", "search", "Google"),
            ("https://www.google.co.uk/search?q=x", "search", "Google"),
            ("https://google.fr/", "search", "Google"),
            ("https://www.bing.com/search?q=x", "search", "Bing"),
            ("https://duckduckgo.com/", "search", "DuckDuckGo"),
            ("https://www.qwant.com/?q=x", "search", "Qwant"),
            ("https://www.ecosia.org/search", "search", "Ecosia"),
            ("https://yandex.ru/search", "search", "Yandex"),
            ("https://www.baidu.com/s?wd=x", "search", "Baidu"),
            ("https://search.brave.com/search?q=x", "search", "Brave"),
            ("https://www.startpage.com/do/search", "search", "Startpage"),
            ("https://mail.google.com/mail/u/0/", "email", "Gmail"),
            ("https://gemini.google.com/app", "ai", "Gemini"),
            ("https://chatgpt.com/", "ai", "ChatGPT"),
            ("https://www.perplexity.ai/search", "ai", "Perplexity"),
            ("https://m.facebook.com/", "social", "Facebook"),
            ("https://l.facebook.com/l.php?u=x", "social", "Facebook"),
            ("https://t.co/abc", "social", "X"),
            ("https://x.com/someone", "social", "X"),
            ("https://www.linkedin.com/feed", "social", "LinkedIn"),
            ("https://old.reddit.com/r/rust", "social", "Reddit"),
            ("https://www.youtube.com/watch?v=x", "social", "YouTube"),
            ("https://l.instagram.com/", "social", "Instagram"),
            ("https://www.pinterest.fr/pin/1", "social", "Pinterest"),
            ("https://www.tiktok.com/@x", "social", "TikTok"),
            ("https://mastodon.social/@someone", "social", "Mastodon"),
            ("https://piaille.fr/@someone", "social", "Mastodon"),
            ("https://news.ycombinator.com/item?id=1", "social", "Hacker News"),
            ("https://www.lemonde.fr/article", "website", "lemonde.fr"),
            ("https://blog.rust-lang.org/", "website", "blog.rust-lang.org"),
        ];
        for (referrer, channel, source) in table {
            assert_eq!(attribute(referrer, none()), (channel.to_string(), source.to_string()), "{referrer}");
        }
    }

    #[test]
    fn campaigns_and_click_ids() {
        let paid = Campaign { click_id: Some("gclid"), ..Campaign::default() };
        assert_eq!(attribute("https://www.google.com/", paid), ("paid".into(), "Google".into()));
        let paid = Campaign { click_id: Some("fbclid"), ..Campaign::default() };
        assert_eq!(attribute("", paid), ("paid".into(), "Facebook".into()));
        let cpc = Campaign { source: "newsletter-ads".into(), medium: "cpc".into(), ..Campaign::default() };
        assert_eq!(attribute("", cpc), ("paid".into(), "newsletter-ads".into()));
        let mail = Campaign { source: "march".into(), medium: "email".into(), ..Campaign::default() };
        assert_eq!(attribute("https://mail.google.com/", mail), ("email".into(), "march".into()));
        let other = Campaign { source: "partner".into(), name: "spring".into(), ..Campaign::default() };
        assert_eq!(attribute("https://www.lemonde.fr/", other), ("campaign".into(), "partner".into()));
    }

    #[test]
    fn the_list_has_no_duplicates_and_parses() {
        let sources = Sources::default();
        assert!(sources.known.len() > 40);
        assert!(Sources::parse("[[source]]\nname = \"A\"\nchannel = \"tv\"\nhosts = [\"a.com\"]").is_err());
        assert!(
            Sources::parse("[[source]]\nname = \"A\"\nchannel = \"search\"\nhosts = [\"a.com\", \"a.com\"]").is_err()
        );
    }
}
