//! Enrichment: turning what a tracker sent into the columns analysts break down by, keeping
//! only what the privacy rules allow. This stage never sees the IP address.
//!
//! - [`url`]: page URL → host + path (query and fragment dropped), referrer → host;
//! - [`campaign`]: `utm_*`, `mtm_*`, `pk_*`, click ids;
//! - [`referrer`]: channel and source, from our own list (`data/sources.toml`);
//! - [`user_agent`]: browser, OS, device class and the bot verdict, cached per user agent;
//! - [`client_hints`]: what Chromium's frozen user agent no longer says (Windows 11, the
//!   Android version), from Matomo's `uadata` or the `Sec-CH-UA*` headers;
//! - [`language`]: primary language subtag.

pub mod campaign;
pub mod client_hints;
pub mod language;
pub(crate) mod names;
pub mod referrer;
pub mod url;
pub mod user_agent;

use std::sync::Arc;

use crate::config::SiteConfig;
use crate::event::{Acquisition, Event};
use campaign::Campaign;
use referrer::{Attribution, Sources};
use url::PageUrl;
use user_agent::{UaVerdict, UserAgents};

/// The enrichment stage's state: compiled lists and the user-agent cache.
pub struct Enricher {
    pub user_agents: UserAgents,
    pub sources: Sources,
}

/// `s` trimmed and cut to `max` characters.
pub(crate) fn bounded(s: &str, max: usize) -> String {
    let s = s.trim();
    match s.char_indices().nth(max) {
        Some((at, _)) => s[..at].to_string(),
        None => s.to_string(),
    }
}

/// Longest site-search keyword kept (characters), as for explicit searches.
const MAX_SEARCH_KEYWORD_CHARS: usize = 256;

/// The enrichment the hit pipeline asks for. A trait only so that the pipeline's tests can spy
/// on it (a declined hit must never be enriched); [`Enricher`] is the one implementation.
pub trait Enrich: Send + Sync {
    /// Browser, OS, device class and the bot verdict of a user agent (cached per string).
    fn user_agent(&self, user_agent: &str) -> Arc<UaVerdict>;
    /// Page, referrer, channel and campaign of a hit; `None` when the URL is not http(s).
    fn landing(&self, site: &SiteConfig, raw: RawPage<'_>) -> Option<Landing>;
}

impl Enrich for Enricher {
    fn user_agent(&self, user_agent: &str) -> Arc<UaVerdict> {
        self.user_agents.verdict(user_agent)
    }

    fn landing(&self, site: &SiteConfig, raw: RawPage<'_>) -> Option<Landing> {
        Enricher::landing(self, site, raw)
    }
}

/// What a page view's URL and referrer say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Landing {
    pub page: PageUrl,
    pub referrer_host: String,
    pub attribution: Attribution,
    pub campaign: Campaign,
    /// A site search the page's URL shows (the value of one of the site's
    /// `search_parameters`, lower-cased and bounded), which Matomo counts as a search, not a
    /// page view.
    pub site_search: Option<String>,
}

/// The raw page context a tracker sent.
#[derive(Debug, Default, Clone, Copy)]
pub struct RawPage<'a> {
    pub url: &'a str,
    pub referrer: Option<&'a str>,
    /// Keep the fragment's route (single-page apps routing on the hash).
    pub hash_route: bool,
    /// Take an app's non-http URL too ([`url::parse_app`]; Plausible's Events API).
    pub app_url: bool,
    /// Matomo's `_rcn` / `_rck` campaign name and keyword.
    pub campaign_name: Option<&'a str>,
    pub campaign_keyword: Option<&'a str>,
}

impl Enricher {
    pub fn new(user_agent_cache: usize) -> Enricher {
        Enricher { user_agents: UserAgents::new(user_agent_cache), sources: Sources::default() }
    }

    /// Page, referrer, channel and campaign of a hit; `None` when the URL is not http(s) (or
    /// an app's, when `raw.app_url`).
    pub fn landing(&self, site: &SiteConfig, raw: RawPage<'_>) -> Option<Landing> {
        let url = match url::parse_http(raw.url) {
            Some(url) => url,
            None if raw.app_url => url::parse_app(raw.url)?,
            None => return None,
        };
        let page = url::clean(&url, &site.keep_query, raw.hash_route)?;
        let campaign =
            Campaign::from_query(url.query_pairs()).with_matomo_fallback(raw.campaign_name, raw.campaign_keyword);
        let referrer_host = raw.referrer.map(url::referrer_host).unwrap_or_default();
        let attribution = self.sources.attribute(&referrer_host, &site.domains, &campaign);
        let site_search = match url.query() {
            Some(_) if !site.search_parameters.is_empty() => url
                .query_pairs()
                .find(|(key, value)| !value.trim().is_empty() && site.search_parameters.iter().any(|p| p == key))
                .map(|(_, value)| bounded(&value, MAX_SEARCH_KEYWORD_CHARS).to_lowercase()),
            _ => None,
        };
        Some(Landing { page, referrer_host, attribution, campaign, site_search })
    }
}

impl Landing {
    /// The page, and how this hit arrived: campaign values only if the site stores them.
    pub fn into_parts(self, store_campaigns: bool) -> (PageUrl, Acquisition) {
        let mut acquisition = Acquisition {
            referrer_host: self.referrer_host,
            channel: self.attribution.channel.to_string(),
            source: self.attribution.source,
            ..Acquisition::default()
        };
        if store_campaigns {
            acquisition.utm_source = self.campaign.source;
            acquisition.utm_medium = self.campaign.medium;
            acquisition.utm_campaign = self.campaign.name;
            acquisition.utm_term = self.campaign.term;
            acquisition.utm_content = self.campaign.content;
        } else if !self.campaign.source.is_empty() && acquisition.source == self.campaign.source {
            // The source column would leak the campaign's utm_source: keep the channel only.
            acquisition.source.clear();
        }
        (self.page, acquisition)
    }
}

impl UaVerdict {
    /// Writes browser, OS and device class into `event`.
    pub(crate) fn apply(&self, event: &mut Event) {
        event.browser.clone_from(&self.browser);
        event.browser_version.clone_from(&self.browser_version);
        event.os.clone_from(&self.os);
        event.os_version.clone_from(&self.os_version);
        event.device = self.device.to_string();
    }
}
