//! The Matomo HTTP Tracking API: decoded parameters → an [`Event`] or a decline reason.
//!
//! Handled here: `idsite`, `rec`, `url`, `action_name`, `urlref`, `send_image` (and `rand`,
//! which only defeats caches and is ignored). Pure and synchronous: the HTTP edge
//! (`ingest::server`) does size caps and decoding, this decides.

use std::collections::HashMap;

use crate::config::SiteConfig;
use crate::enrich::url::{clean_page_url, referrer_host};
use crate::event::{Event, EventType};
use crate::ingest::params::Params;
use crate::telemetry::metrics::DeclineReason;

/// Longest page title kept (characters); Matomo truncates too.
const MAX_TITLE_CHARS: usize = 512;

/// What a tracking request amounts to.
#[derive(Debug, PartialEq)]
pub enum Outcome {
    Accepted(Box<Event>),
    Declined(DeclineReason),
}

/// How the tracker wants its answer.
pub fn wants_image(params: &Params<'_>) -> bool {
    params.get("send_image") != Some("0")
}

/// Interprets one Matomo hit received at `now` (Unix seconds). `referer_header` is the HTTP
/// `Referer` of the request: a plain `<img>` pixel cannot send `url`, and then the page that
/// embeds it is the page viewed.
pub fn interpret(
    params: &Params<'_>,
    referer_header: Option<&str>,
    sites: &HashMap<u32, SiteConfig>,
    now: u32,
) -> Outcome {
    if params.get("rec") != Some("1") {
        return Outcome::Declined(DeclineReason::Invalid);
    }
    let Some(site) = params
        .get("idsite")
        .and_then(|s| s.trim().parse::<u32>().ok())
        .and_then(|id| sites.get(&id))
    else {
        return Outcome::Declined(DeclineReason::UnknownSite);
    };
    let page_url = params.non_empty("url").or(referer_header);
    let Some(page) = page_url.and_then(|u| clean_page_url(u, &site.keep_query)) else {
        return Outcome::Declined(DeclineReason::Invalid);
    };
    let page_title = params
        .get("action_name")
        .map(|t| truncate_chars(t.trim(), MAX_TITLE_CHARS))
        .unwrap_or_default();
    let event = Event {
        site_id: site.id,
        timestamp: now,
        retention_days: site.retention.days().min(u32::from(u16::MAX)) as u16,
        event_type: EventType::Pageview,
        url_host: page.host,
        url_path: page.path,
        page_title,
        referrer_host: params.get("urlref").map(referrer_host).unwrap_or_default(),
        ..Event::default()
    };
    Outcome::Accepted(Box::new(event))
}

fn truncate_chars(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((at, _)) => s[..at].to_string(),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Retention;

    fn sites() -> HashMap<u32, SiteConfig> {
        let site = SiteConfig {
            id: 7,
            domains: vec!["example.org".into()],
            retention: Retention::Months(13),
            keep_query: vec![],
        };
        HashMap::from([(7, site)])
    }

    fn run(query: &str) -> Outcome {
        interpret(
            &Params::parse(query).unwrap(),
            None,
            &sites(),
            1_700_000_000,
        )
    }

    #[test]
    fn a_pageview_becomes_an_event() {
        let Outcome::Accepted(e) = run(
            "idsite=7&rec=1&url=https%3A%2F%2Fexample.org%2Fa%3Fq%3D1&action_name=Home&urlref=https%3A%2F%2Fduckduckgo.com%2F%3Fq%3Dx&rand=42",
        ) else {
            panic!("declined")
        };
        assert_eq!(
            (e.site_id, e.timestamp, e.retention_days),
            (7, 1_700_000_000, 395)
        );
        assert_eq!(
            (e.url_host.as_str(), e.url_path.as_str()),
            ("example.org", "/a")
        );
        assert_eq!(e.page_title, "Home");
        assert_eq!(e.referrer_host, "duckduckgo.com");
        assert_eq!(e.event_type, EventType::Pageview);
    }

    #[test]
    fn declines_with_the_right_reason() {
        assert_eq!(
            run("idsite=7&url=https%3A%2F%2Fexample.org%2F"),
            Outcome::Declined(DeclineReason::Invalid)
        );
        assert_eq!(
            run("idsite=7&rec=0&url=https%3A%2F%2Fexample.org%2F"),
            Outcome::Declined(DeclineReason::Invalid)
        );
        assert_eq!(
            run("idsite=8&rec=1&url=https%3A%2F%2Fexample.org%2F"),
            Outcome::Declined(DeclineReason::UnknownSite)
        );
        assert_eq!(
            run("idsite=x&rec=1&url=https%3A%2F%2Fexample.org%2F"),
            Outcome::Declined(DeclineReason::UnknownSite)
        );
        assert_eq!(
            run("idsite=7&rec=1&url=ftp%3A%2F%2Fexample.org%2F"),
            Outcome::Declined(DeclineReason::Invalid)
        );
        assert_eq!(
            run("idsite=7&rec=1"),
            Outcome::Declined(DeclineReason::Invalid)
        );
    }

    #[test]
    fn a_pixel_without_url_uses_the_referer_header() {
        let params = Params::parse("idsite=7&rec=1").unwrap();
        let Outcome::Accepted(e) = interpret(
            &params,
            Some("https://example.org/from/img?x=1"),
            &sites(),
            1,
        ) else {
            panic!("declined")
        };
        assert_eq!(e.url_path, "/from/img");
        let params =
            Params::parse("idsite=7&rec=1&url=https%3A%2F%2Fexample.org%2Fexplicit").unwrap();
        let Outcome::Accepted(e) =
            interpret(&params, Some("https://example.org/header"), &sites(), 1)
        else {
            panic!("declined")
        };
        assert_eq!(e.url_path, "/explicit");
    }

    #[test]
    fn titles_are_bounded() {
        let long = "é".repeat(600);
        let Outcome::Accepted(e) = run(&format!(
            "idsite=7&rec=1&url=http%3A%2F%2Fx%2F&action_name={long}"
        )) else {
            panic!()
        };
        assert_eq!(e.page_title.chars().count(), MAX_TITLE_CHARS);
    }

    #[test]
    fn send_image_zero_means_204() {
        assert!(wants_image(&Params::parse("rec=1").unwrap()));
        assert!(!wants_image(&Params::parse("rec=1&send_image=0").unwrap()));
    }
}
