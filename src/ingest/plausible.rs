//! The Plausible Events API adapter: `POST /api/event` with a JSON body → one protocol-neutral
//! [`Hit`] per site named (no enrichment here: the [`crate::pipeline`] does that).
//!
//! Accepts the long and short keys of Plausible's trackers (`name`/`n`, `url`/`u`,
//! `domain`/`d`, `referrer`/`r`, `props`/`p` and the legacy `meta`/`m`, `revenue`/`$`,
//! `hashMode`/`h`, `interactive`/`i`, `sd` and `e` of an engagement, and the legacy `w` window
//! width), a `props` or `revenue` given as an object or as a JSON-encoded string, and a
//! comma-separated `domain` (the same event for several sites; without one, the URL's host, as
//! Plausible does). The site is found by domain. Props are bounded as Plausible bounds them
//! (docs/privacy.md D5). Plausible's special events `Outbound Link: Click` and `File Download`
//! become our outlink and download types, with the link minimised like a page URL; its
//! `engagement` event is stored with its scroll depth and engaged time, and like a heartbeat
//! only extends a live visit.

use serde::Deserialize;
use serde_json::Value;

use crate::enrich::RawPage;
use crate::event::EventType;
use crate::ingest::bounded;
use crate::ingest::matomo::screen_class;
use crate::pipeline::{Action, Hit, VisitorInput};
use crate::sites::Sites;
use crate::telemetry::metrics::DeclineReason;

/// Props kept at most, and the longest key and value (bytes), as Plausible's own limits: a
/// longer one refuses the event, as Plausible does.
pub(crate) const MAX_PROPS: usize = 30;
const MAX_PROP_KEY_BYTES: usize = 300;
const MAX_PROP_VALUE_BYTES: usize = 2000;
const MAX_NAME_CHARS: usize = 120;
/// An engagement's scroll depth when the tracker gave none (Plausible's value).
const NO_SCROLL_DEPTH: u8 = 255;
/// Engaged time past which a value is a bug of an old tracker (30 days, as Plausible).
const MAX_ENGAGED_MS: u64 = 30 * 24 * 3600 * 1000;

#[derive(Deserialize)]
struct Payload {
    #[serde(alias = "n")]
    name: Option<String>,
    #[serde(alias = "u")]
    url: Option<String>,
    #[serde(alias = "d")]
    domain: Option<String>,
    #[serde(alias = "r")]
    referrer: Option<String>,
    #[serde(alias = "p", alias = "meta", alias = "m")]
    props: Option<Value>,
    #[serde(rename = "revenue", alias = "$")]
    revenue: Option<Value>,
    #[serde(rename = "hashMode", alias = "h")]
    hash_mode: Option<Value>,
    #[serde(alias = "i")]
    interactive: Option<bool>,
    /// Legacy tracker: the window's inner width.
    w: Option<u32>,
    /// An engagement's scroll depth (%) and engaged time (ms).
    sd: Option<Value>,
    e: Option<Value>,
}

/// A body that is not an event: answered 400 with this message (it names the field).
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub(crate) struct BadEvent(pub String);

/// A decoded event body, borrowed by the hits made from it.
pub struct Decoded(Payload, Vec<(String, String)>);

/// Decodes one event body and checks its required fields.
pub(crate) fn decode(body: &[u8]) -> Result<Decoded, BadEvent> {
    let payload: Payload =
        serde_json::from_slice(body).map_err(|e| BadEvent(format!("body is not an event object: {e}")))?;
    if payload.name.as_deref().is_none_or(|n| n.trim().is_empty()) {
        return Err(BadEvent("name is required".into()));
    }
    if payload.url.as_deref().is_none_or(str::is_empty) {
        return Err(BadEvent("url is required".into()));
    }
    match payload.domain.as_deref() {
        None if url_host(payload.url.as_deref().unwrap_or("")).is_none() => {
            return Err(BadEvent("domain is required".into()));
        }
        None => {}
        Some(d) if d.trim().is_empty() => return Err(BadEvent("domain is required".into())),
        Some(d) if d.split(',').count() > MAX_DOMAINS => {
            return Err(BadEvent(format!("at most {MAX_DOMAINS} comma-separated domains")));
        }
        Some(_) => {}
    }
    // Read once here: the hits made from the event share them.
    let props = props(payload.props.as_ref());
    if props.iter().any(|(k, v)| k.len() > MAX_PROP_KEY_BYTES || v.len() > MAX_PROP_VALUE_BYTES) {
        return Err(BadEvent(format!(
            "props: keys should have at most {MAX_PROP_KEY_BYTES} bytes and values {MAX_PROP_VALUE_BYTES} bytes"
        )));
    }
    if payload.name.as_deref().map(str::trim) == Some("engagement")
        && scroll_depth(payload.sd.as_ref()) == NO_SCROLL_DEPTH
        && engaged_ms(payload.e.as_ref()) == 0
    {
        return Err(BadEvent(
            "engagement event requires a valid integer value for at least one of 'sd' or 'e' fields".into(),
        ));
    }
    Ok(Decoded(payload, props))
}

/// The host of a URL of any scheme (`app://localhost/x` too), without `www.`.
fn url_host(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url.trim()).ok()?;
    let host = parsed.host_str().filter(|h| !h.is_empty())?;
    Some(host.trim_start_matches("www.").to_ascii_lowercase())
}

/// An engagement's `sd`: an integer 0-100 (or its string), above 100 is 100; else unknown.
fn scroll_depth(value: Option<&Value>) -> u8 {
    let number = match value {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.parse::<i64>().ok(),
        _ => None,
    };
    match number {
        Some(n @ 0..=100) => n as u8,
        Some(101..) => 100,
        _ => NO_SCROLL_DEPTH,
    }
}

/// An engagement's `e` in ms: a non-negative integer (or its string) under 30 days; else 0.
fn engaged_ms(value: Option<&Value>) -> u32 {
    let number = match value {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.parse::<u64>().ok(),
        _ => None,
    };
    number.filter(|ms| *ms < MAX_ENGAGED_MS).map_or(0, |ms| ms.min(u64::from(u32::MAX)) as u32)
}

/// Most sites one event may name (`domain` is a comma-separated list): one request makes at
/// most this many events.
pub(crate) const MAX_DOMAINS: usize = 10;

/// One hit per site the event names (received at `now`), or the reason it was declined. A site
/// named twice (`example.org,www.example.org`) gets one hit.
pub fn interpret<'a>(event: &'a Decoded, sites: &'a Sites, now: u64) -> Vec<Result<Hit<'a>, DeclineReason>> {
    let payload = &event.0;
    let (Some(name), Some(url)) = (payload.name.as_deref().map(str::trim), payload.url.as_deref()) else {
        unreachable!("decode checked the required fields")
    };
    // Without a domain, the URL's host names the site (decode checked there is one).
    let from_url;
    let domain_list = match payload.domain.as_deref() {
        Some(list) => list,
        None => {
            from_url = url_host(url).unwrap_or_default();
            from_url.as_str()
        }
    };
    let hash_route = match &payload.hash_mode {
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_u64().is_some_and(|n| n > 0),
        _ => false,
    };
    let props = &event.1;
    let (revenue, revenue_currency) = payload.revenue.as_ref().and_then(revenue_amount).unwrap_or_default();

    let mut hits = Vec::new();
    let mut named = Vec::new();
    for domain in domain_list.split(',').map(|d| d.trim().trim_start_matches("www.").to_ascii_lowercase()) {
        let site = sites.by_domain(&domain).or_else(|| sites.by_domain(&format!("www.{domain}")));
        let Some(site) = site else {
            hits.push(Err(DeclineReason::UnknownSite));
            continue;
        };
        if named.contains(&site.id) {
            continue;
        }
        named.push(site.id);
        let mut action = Action {
            non_interactive: payload.interactive == Some(false),
            screen_class: payload.w.map(|w| screen_class(&w.to_string())).unwrap_or_default(),
            revenue,
            revenue_currency: revenue_currency.clone(),
            ..Action::default()
        };
        match name {
            "pageview" => action.kind = EventType::Pageview,
            // How far the page was read and for how long: extends the visit like a heartbeat,
            // is neither a page view nor an interaction.
            "engagement" => {
                action.kind = EventType::Engagement;
                action.non_interactive = true;
                action.scroll_depth = scroll_depth(payload.sd.as_ref());
                action.engaged_ms = engaged_ms(payload.e.as_ref());
            }
            "Outbound Link: Click" | "File Download" => {
                action.kind = if name == "File Download" { EventType::Download } else { EventType::Outlink };
                action.name = name.to_string();
                action.link_target =
                    Some(props.iter().find(|(k, _)| k == "url").map(|(_, v)| v.clone()).unwrap_or_default());
            }
            other => {
                action.kind = EventType::Event;
                action.name = bounded(other, MAX_NAME_CHARS);
            }
        }
        for (key, value) in props {
            // The outbound link's full URL is reduced to the link target.
            if key == "url" && matches!(action.kind, EventType::Outlink | EventType::Download) {
                continue;
            }
            action.prop_keys.push(key.clone());
            action.prop_values.push(value.clone());
        }
        let page =
            RawPage { url, referrer: payload.referrer.as_deref(), hash_route, app_url: true, ..RawPage::default() };
        hits.push(Ok(Hit {
            site,
            time: now,
            page,
            action,
            client_ip: None,
            visitor: VisitorInput::Cookieless,
            user_agent: None,
            ua_data: None,
            language: None,
            server_side: false,
            new_visit: false,
        }));
    }
    hits
}

/// Props as bounded `(key, value)` strings; nested values are dropped.
fn props(value: Option<&Value>) -> Vec<(String, String)> {
    let parsed;
    let object = match value {
        Some(Value::Object(map)) => map,
        Some(Value::String(text)) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(map)) => {
                parsed = map;
                &parsed
            }
            _ => return Vec::new(),
        },
        _ => return Vec::new(),
    };
    object
        .iter()
        .filter_map(|(k, v)| {
            let value = match v {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                _ => return None,
            };
            let key = k.trim().to_string();
            (!key.is_empty() && !value.trim().is_empty()).then_some((key, value))
        })
        .take(MAX_PROPS)
        .collect()
}

/// `{"currency": "EUR", "amount": "12.50"}` (or that object JSON-encoded) → (12.5, "EUR").
fn revenue_amount(value: &Value) -> Option<(f64, String)> {
    let object = match value {
        Value::Object(map) => map.clone(),
        Value::String(text) => serde_json::from_str::<serde_json::Map<String, Value>>(text).ok()?,
        _ => return None,
    };
    let amount = match object.get("amount")? {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse().ok()?,
        _ => return None,
    };
    let currency = match object.get("currency") {
        Some(Value::String(code)) => bounded(&code.to_ascii_uppercase(), 8),
        _ => String::new(),
    };
    amount.is_finite().then_some((amount, currency))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Event;
    use crate::pipeline::tests::{Harness, browser, hits};

    /// The events the whole pipeline makes of a body (sites `example.org` and
    /// `shop.example.net`).
    fn run(body: &str) -> Result<Vec<Result<Event, DeclineReason>>, BadEvent> {
        Harness::new().plausible(body, &browser(&[])).map(hits)
    }

    #[test]
    fn long_and_short_keys() {
        let long = run(r#"{"name":"pageview","url":"https://example.org/a?utm_source=x","domain":"example.org","referrer":"https://www.google.com/"}"#).unwrap();
        let short = run(r#"{"n":"pageview","u":"https://example.org/a?utm_source=x","d":"example.org","r":"https://www.google.com/","v":22}"#).unwrap();
        assert_eq!(long, short);
        let e = long[0].as_ref().unwrap();
        assert_eq!(
            (e.site_id, e.event_type, e.url_path.as_str(), e.referrer_host.as_str()),
            (1, EventType::Pageview, "/a", "www.google.com")
        );
        assert_eq!((e.channel.as_str(), e.utm_source.as_str()), ("campaign", "x"));
    }

    #[test]
    fn custom_events_props_revenue_and_interactivity() {
        let hits = run(r#"{"n":"Signup","u":"https://example.org/","d":"example.org","p":{"plan":"pro","seats":3,"trial":true,"nested":{"x":1}},"$":{"currency":"EUR","amount":"12.50"},"i":false}"#).unwrap();
        let e = hits[0].as_ref().unwrap();
        assert_eq!(
            (e.event_type, e.event_name.as_str(), e.revenue, e.non_interactive),
            (EventType::Event, "Signup", 12.5, 1)
        );
        assert_eq!(e.prop_keys, vec!["plan", "seats", "trial"]);
        assert_eq!(e.prop_values, vec!["pro", "3", "true"]);
        // Legacy trackers send props as a JSON string.
        let hits =
            run(r#"{"n":"Signup","u":"https://example.org/","d":"example.org","p":"{\"plan\":\"pro\"}"}"#).unwrap();
        assert_eq!(hits[0].as_ref().unwrap().prop_values, vec!["pro"]);
    }

    #[test]
    fn outbound_links_and_downloads() {
        let hits = run(r#"{"n":"Outbound Link: Click","u":"https://example.org/","d":"example.org","p":{"url":"https://other.org/x?token=1"}}"#).unwrap();
        let e = hits[0].as_ref().unwrap();
        assert_eq!((e.event_type, e.link_url.as_str(), e.prop_keys.len()), (EventType::Outlink, "other.org/x", 0));
        let hits = run(r#"{"n":"File Download","u":"https://example.org/","d":"example.org","p":{"url":"https://example.org/f.pdf"}}"#).unwrap();
        assert_eq!(hits[0].as_ref().unwrap().event_type, EventType::Download);
    }

    #[test]
    fn several_domains_and_unknown_ones() {
        let hits =
            run(r#"{"n":"pageview","u":"https://example.org/","d":"example.org,shop.example.net,nope.example"}"#)
                .unwrap();
        assert_eq!(hits.len(), 3);
        assert_eq!(hits[1].as_ref().unwrap().site_id, 2);
        assert_eq!(hits[2], Err(DeclineReason::UnknownSite));
        // A site named many times is one event; more than MAX_DOMAINS names is refused.
        let repeated = ["example.org"; MAX_DOMAINS].join(",");
        let hits = run(&format!(r#"{{"n":"pageview","u":"https://example.org/","d":"{repeated},www.example.org"}}"#));
        assert!(hits.is_err(), "11 domains");
        let hits = run(&format!(r#"{{"n":"pageview","u":"https://example.org/","d":"{repeated}"}}"#)).unwrap();
        assert_eq!(hits.len(), 1);
        let hits =
            run(r#"{"n":"pageview","u":"https://example.org/app#/orders?id=1","d":"www.example.org","h":1}"#).unwrap();
        assert_eq!(hits[0].as_ref().unwrap().url_path, "/app#/orders");
    }

    #[test]
    fn bad_bodies_name_the_field() {
        assert_eq!(run(r#"{"u":"https://example.org/","d":"example.org"}"#).unwrap_err().0, "name is required");
        assert_eq!(run(r#"{"n":"pageview","d":"example.org"}"#).unwrap_err().0, "url is required");
        // No domain and no host in the URL to take it from.
        assert_eq!(run(r#"{"n":"pageview","u":"mailto:someone"}"#).unwrap_err().0, "domain is required");
        let engagement = run(r#"{"n":"engagement","u":"https://example.org/","d":"example.org","sd":"far"}"#);
        assert!(engagement.unwrap_err().0.contains("at least one of 'sd' or 'e'"));
        assert!(run("not json").is_err());
        assert_eq!(
            run(r#"{"n":"pageview","u":"javascript:x","d":"example.org"}"#).unwrap()[0],
            Err(DeclineReason::Invalid)
        );
    }

    #[test]
    fn props_are_bounded() {
        // Up to Plausible's limits: 30 props, values of 2,000 bytes, kept whole.
        let many: Vec<String> = (0..50).map(|i| format!("\"k{i}\":\"{}\"", "v".repeat(MAX_PROP_VALUE_BYTES))).collect();
        let body = format!(r#"{{"n":"E","u":"https://example.org/","d":"example.org","p":{{{}}}}}"#, many.join(","));
        let hits = run(&body).unwrap();
        let e = hits[0].as_ref().unwrap();
        assert_eq!(e.prop_keys.len(), MAX_PROPS);
        assert!(e.prop_values.iter().all(|v| v.len() == MAX_PROP_VALUE_BYTES));
        // Past them, the event is refused with Plausible's message.
        let long_value = format!("\"{}\"", "v".repeat(MAX_PROP_VALUE_BYTES + 1));
        let body = format!(r#"{{"n":"E","u":"https://example.org/","d":"example.org","p":{{"k":{long_value}}}}}"#);
        assert!(run(&body).unwrap_err().0.contains("values 2000 bytes"));
        let long_key = "k".repeat(MAX_PROP_KEY_BYTES + 1);
        let body = format!(r#"{{"n":"E","u":"https://example.org/","d":"example.org","m":{{"{long_key}":"v"}}}}"#);
        assert!(run(&body).unwrap_err().0.contains("at most 300 bytes"));
    }

    #[test]
    fn an_engagement_is_stored_with_its_depth_and_time_and_never_opens_a_visit() {
        let harness = Harness::new();
        let engagement = r#"{"n":"engagement","u":"https://example.org/a","d":"example.org","sd":140,"e":"5300"}"#;
        // Alone, it opens no visit.
        assert_eq!(hits(harness.plausible(engagement, &browser(&[])).unwrap()), vec![Err(DeclineReason::NoVisit)]);
        let page = hits(
            harness
                .plausible(r#"{"n":"pageview","u":"https://example.org/a","d":"example.org"}"#, &browser(&[]))
                .unwrap(),
        );
        let visit = page[0].as_ref().unwrap().visit_id;
        let after = hits(harness.plausible(engagement, &browser(&[])).unwrap());
        let e = after[0].as_ref().unwrap();
        assert_eq!(
            (e.event_type, e.scroll_depth, e.engaged_ms, e.non_interactive, e.visit_id),
            (EventType::Engagement, 100, 5300, 1, visit)
        );
        let unknown_depth = r#"{"n":"engagement","u":"https://example.org/a","d":"example.org","e":10}"#;
        assert_eq!(
            hits(harness.plausible(unknown_depth, &browser(&[])).unwrap())[0].as_ref().unwrap().scroll_depth,
            255
        );
    }

    #[test]
    fn plausible_s_events_api_details() {
        // No domain: the URL's host (without www.) names the site.
        let hits = run(r#"{"n":"pageview","u":"https://www.example.org/a"}"#).unwrap();
        assert_eq!(hits[0].as_ref().unwrap().site_id, 1);
        // The legacy `m`/`meta` props keys.
        let hits = run(r#"{"n":"Signup","u":"https://example.org/","d":"example.org","meta":{"plan":"pro"}}"#).unwrap();
        assert_eq!(hits[0].as_ref().unwrap().prop_keys, vec!["plan"]);
        // Revenue with its currency.
        let hits = run(
            r#"{"n":"Purchase","u":"https://example.org/","d":"example.org","$":{"amount":"12.5","currency":"eur"}}"#,
        )
        .unwrap();
        let purchase = hits[0].as_ref().unwrap();
        assert_eq!((purchase.revenue, purchase.revenue_currency.as_str()), (12.5, "EUR"));
    }
}
