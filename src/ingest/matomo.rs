//! The Matomo HTTP Tracking API: decoded parameters → a [`Hit`] or a decline reason.
//!
//! Handled here: `idsite`, `rec`, `url`, `action_name`, `urlref`, `send_image`, `rand` (ignored:
//! it only defeats caches), the overrides `ua` and `lang` (treated like the headers they
//! replace), and the server-side parameters `cip`, `cid` and `cdt`, honoured only with the
//! site's `token_auth` (PRIVACY.md D4). `uid` is never read, so never stored. Pure and
//! synchronous: the HTTP edge does size caps and decoding, the privacy stage the identity.

use std::collections::HashMap;
use std::net::IpAddr;

use sha2::{Digest, Sha256};

use crate::config::SiteConfig;
use crate::enrich::language::primary_language;
use crate::enrich::url::{clean_page_url, referrer_host};
use crate::event::{Event, EventType};
use crate::ingest::params::Params;
use crate::telemetry::metrics::DeclineReason;

/// Longest page title kept (characters); Matomo truncates too.
const MAX_TITLE_CHARS: usize = 512;
/// A `cdt` older than this needs the token (seconds).
pub const CDT_TOLERANCE: u64 = 5 * 60;
/// A `cdt` this far in the future is refused (clock skew allowance, seconds).
const CDT_FUTURE_TOLERANCE: u64 = 60;

/// An accepted hit: the event (identity not yet filled in) and what the privacy stage needs.
#[derive(Debug)]
pub struct Hit<'p> {
    pub event: Event,
    /// When the hit happened (Unix seconds): now, or an authorised `cdt`.
    pub time: u64,
    /// `cip`, authorised: the visitor's address as the site's server saw it.
    pub client_ip: Option<IpAddr>,
    /// `cid`, authorised: a visitor id from the site's server.
    pub visitor_id: Option<&'p str>,
    /// `ua`, replacing the `User-Agent` header.
    pub user_agent: Option<&'p str>,
}

/// How the tracker wants its answer.
pub fn wants_image(params: &Params<'_>) -> bool {
    params.get("send_image") != Some("0")
}

/// What the request's headers add to the parameters.
#[derive(Debug, Default, Clone, Copy)]
pub struct Headers<'h> {
    /// `Referer`: a plain `<img>` pixel cannot send `url`; then the embedding page is the page.
    pub referer: Option<&'h str>,
    pub accept_language: Option<&'h str>,
}

/// Interprets one Matomo hit received at `now` (Unix seconds).
pub fn interpret<'p>(
    params: &'p Params<'_>,
    headers: Headers<'_>,
    sites: &HashMap<u32, SiteConfig>,
    now: u64,
) -> Result<Hit<'p>, DeclineReason> {
    if params.get("rec") != Some("1") {
        return Err(DeclineReason::Invalid);
    }
    let site = params
        .get("idsite")
        .and_then(|s| s.trim().parse::<u32>().ok())
        .and_then(|id| sites.get(&id))
        .ok_or(DeclineReason::UnknownSite)?;
    let page_url = params.non_empty("url").or(headers.referer);
    let page = page_url.and_then(|u| clean_page_url(u, &site.keep_query)).ok_or(DeclineReason::Invalid)?;

    let authorised = params.non_empty("token_auth").is_some_and(|token| token_matches(site, token));
    let client_ip = match params.non_empty("cip") {
        None => None,
        Some(_) if !authorised => return Err(DeclineReason::Unauthorized),
        Some(text) => Some(text.trim().parse::<IpAddr>().map_err(|_| DeclineReason::Invalid)?),
    };
    let visitor_id = match params.non_empty("cid") {
        None => None,
        Some(_) if !authorised => return Err(DeclineReason::Unauthorized),
        Some(cid) if cid.len() <= 64 && cid.bytes().all(|b| b.is_ascii_alphanumeric()) => Some(cid),
        Some(_) => return Err(DeclineReason::Invalid),
    };
    let time = match params.non_empty("cdt") {
        None => now,
        Some(text) => {
            let at = parse_cdt(text).ok_or(DeclineReason::Invalid)?;
            if at > now + CDT_FUTURE_TOLERANCE {
                return Err(DeclineReason::Invalid);
            }
            if at + CDT_TOLERANCE < now && !authorised {
                return Err(DeclineReason::Unauthorized);
            }
            if at + u64::from(site.retention.days()) * 86_400 < now {
                // Already past the site's retention: storing it would break the promise.
                return Err(DeclineReason::Invalid);
            }
            at.min(now)
        }
    };

    let page_title = params.get("action_name").map(|t| truncate_chars(t.trim(), MAX_TITLE_CHARS)).unwrap_or_default();
    let language = params.non_empty("lang").or(headers.accept_language).map(primary_language).unwrap_or_default();
    let event = Event {
        site_id: site.id,
        timestamp: time as u32,
        retention_days: site.retention.days().min(u32::from(u16::MAX)) as u16,
        event_type: EventType::Pageview,
        url_host: page.host,
        url_path: page.path,
        page_title,
        referrer_host: params.get("urlref").map(referrer_host).unwrap_or_default(),
        language,
        ..Event::default()
    };
    Ok(Hit { event, time, client_ip, visitor_id, user_agent: params.get("ua") })
}

fn token_matches(site: &SiteConfig, token: &str) -> bool {
    let Some(expected) = &site.token_auth_sha256 else { return false };
    let digest = Sha256::digest(token.as_bytes());
    // Compare every byte so the time taken does not tell how much matched.
    digest.iter().zip(expected.iter()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

/// `cdt`: Unix seconds (optionally with a fraction) or `YYYY-MM-DD HH:MM:SS` in UTC.
pub fn parse_cdt(text: &str) -> Option<u64> {
    let text = text.trim();
    if let Some(secs) = text.split('.').next().filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())) {
        return secs.parse().ok();
    }
    let (date, time) = text.split_once([' ', 'T'])?;
    let mut d = date.split('-').map(|p| p.parse::<i64>().ok());
    let (year, month, day) = (d.next()??, d.next()??, d.next()??);
    let mut t = time.trim_end_matches('Z').split(':').map(|p| p.parse::<i64>().ok());
    let (hour, minute, second) = (t.next()??, t.next()??, t.next().unwrap_or(Some(0))?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    u64::try_from(days * 86_400 + hour * 3600 + minute * 60 + second).ok()
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
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

    const NOW: u64 = 1_700_000_000;

    fn sites() -> HashMap<u32, SiteConfig> {
        let site = SiteConfig {
            id: 7,
            domains: vec!["example.org".into()],
            retention: Retention::Months(13),
            keep_query: vec![],
            token_auth_sha256: Some(Sha256::digest(b"secret-token").into()),
        };
        HashMap::from([(7, site)])
    }

    fn run(query: &str) -> Result<Event, DeclineReason> {
        let params = Params::parse(query).unwrap();
        interpret(&params, Headers::default(), &sites(), NOW).map(|hit| hit.event)
    }

    #[test]
    fn a_pageview_becomes_an_event() {
        let e = run("idsite=7&rec=1&url=https%3A%2F%2Fexample.org%2Fa%3Fq%3D1&action_name=Home&urlref=https%3A%2F%2Fduckduckgo.com%2F%3Fq%3Dx&rand=42&lang=fr-FR").unwrap();
        assert_eq!((e.site_id, u64::from(e.timestamp), e.retention_days), (7, NOW, 395));
        assert_eq!((e.url_host.as_str(), e.url_path.as_str()), ("example.org", "/a"));
        assert_eq!(e.page_title, "Home");
        assert_eq!(e.referrer_host, "duckduckgo.com");
        assert_eq!(e.event_type, EventType::Pageview);
        assert_eq!(e.language, "fr");
    }

    #[test]
    fn declines_with_the_right_reason() {
        use DeclineReason::*;
        assert_eq!(run("idsite=7&url=https%3A%2F%2Fexample.org%2F"), Err(Invalid));
        assert_eq!(run("idsite=7&rec=0&url=https%3A%2F%2Fexample.org%2F"), Err(Invalid));
        assert_eq!(run("idsite=8&rec=1&url=https%3A%2F%2Fexample.org%2F"), Err(UnknownSite));
        assert_eq!(run("idsite=x&rec=1&url=https%3A%2F%2Fexample.org%2F"), Err(UnknownSite));
        assert_eq!(run("idsite=7&rec=1&url=ftp%3A%2F%2Fexample.org%2F"), Err(Invalid));
        assert_eq!(run("idsite=7&rec=1"), Err(Invalid));
    }

    #[test]
    fn server_side_parameters_need_the_token() {
        use DeclineReason::*;
        let base = "idsite=7&rec=1&url=https%3A%2F%2Fexample.org%2F";
        assert_eq!(run(&format!("{base}&cip=203.0.113.45")).unwrap_err(), Unauthorized);
        assert_eq!(run(&format!("{base}&cip=203.0.113.45&token_auth=wrong")).unwrap_err(), Unauthorized);
        assert_eq!(run(&format!("{base}&cid=0123456789abcdef")).unwrap_err(), Unauthorized);
        assert_eq!(run(&format!("{base}&cdt={}", NOW - 3600)).unwrap_err(), Unauthorized);
        // A recent cdt is fine without it; a future one never is.
        assert_eq!(u64::from(run(&format!("{base}&cdt={}", NOW - 60)).unwrap().timestamp), NOW - 60);
        assert_eq!(run(&format!("{base}&cdt={}", NOW + 3600)).unwrap_err(), Invalid);

        let params = Params::parse("idsite=7&rec=1&url=https%3A%2F%2Fexample.org%2F&cip=203.0.113.45&cid=0123456789abcdef&cdt=2023-11-14%2020:13:20&token_auth=secret-token").unwrap();
        let hit = interpret(&params, Headers::default(), &sites(), NOW).unwrap();
        assert_eq!(hit.client_ip, Some("203.0.113.45".parse().unwrap()));
        assert_eq!(hit.visitor_id, Some("0123456789abcdef"));
        assert_eq!(hit.time, 1_699_992_800);
        // Older than the site's retention: refused even with the token.
        assert_eq!(run(&format!("{base}&cdt={}&token_auth=secret-token", NOW - 400 * 86_400)).unwrap_err(), Invalid);
    }

    #[test]
    fn cdt_formats() {
        assert_eq!(parse_cdt("1700000000"), Some(1_700_000_000));
        assert_eq!(parse_cdt("1700000000.123"), Some(1_700_000_000));
        assert_eq!(parse_cdt("2023-11-14 22:13:20"), Some(1_700_000_000));
        assert_eq!(parse_cdt("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_cdt("2024-02-30 00:00:00"), Some(1_709_251_200), "day overflow rolls like PHP's");
        assert_eq!(parse_cdt("yesterday"), None);
        assert_eq!(parse_cdt("2023-13-01 00:00:00"), None);
    }

    #[test]
    fn a_pixel_without_url_uses_the_referer_header() {
        let params = Params::parse("idsite=7&rec=1").unwrap();
        let headers = Headers { referer: Some("https://example.org/from/img?x=1"), accept_language: Some("de-DE,de") };
        let hit = interpret(&params, headers, &sites(), NOW).unwrap();
        assert_eq!(hit.event.url_path, "/from/img");
        assert_eq!(hit.event.language, "de");
        let params = Params::parse("idsite=7&rec=1&url=https%3A%2F%2Fexample.org%2Fexplicit").unwrap();
        assert_eq!(interpret(&params, headers, &sites(), NOW).unwrap().event.url_path, "/explicit");
    }

    #[test]
    fn titles_are_bounded() {
        let long = "é".repeat(600);
        let e = run(&format!("idsite=7&rec=1&url=http%3A%2F%2Fx%2F&action_name={long}")).unwrap();
        assert_eq!(e.page_title.chars().count(), MAX_TITLE_CHARS);
    }

    #[test]
    fn send_image_zero_means_204() {
        assert!(wants_image(&Params::parse("rec=1").unwrap()));
        assert!(!wants_image(&Params::parse("rec=1&send_image=0").unwrap()));
    }
}
