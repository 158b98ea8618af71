//! The Piano Analytics (AT Internet) collection adapter: `POST /event?s=SITE&idclient=ID` with a
//! JSON body `{"events": [{"name": "page.display", "data": {…}}, …]}`, as piano-analytics-js
//! sends it (as `text/plain`, by `sendBeacon` or `fetch`) → one protocol-neutral [`Hit`] per
//! event (no enrichment here: the [`crate::pipeline`] does that).
//!
//! The site is the one whose `piano_site_ids` holds `s`, and the event's page must be on one of
//! its domains. Piano's privacy modes come first: `optout`, `extended-optout` and `no-consent`
//! events are not stored; an `exempt` event is read only through the properties Piano's own
//! exempt list allows ([`EXEMPT_PROPERTIES`]), and only the five events that list allows. The
//! `idclient` visitor id is never stored: a cookie-mode site counts with it as with Matomo's
//! `_id` (hashed with the day's salt), any other site with its rotating salts.
//!
//! The mapping (docs/tracking.md#piano):
//! - `page.display`: a page view of `event_url_full` (or `page_url`), titled `page_title_html`
//!   (or the `page` name), referred by `previous_url`, its chapters `page_chapter1..3` kept as
//!   properties, `pageview_id` tying the page's later events to it;
//! - `click.exit`, `click.download`: an outlink, a download, to `click_url` or else `click` (a
//!   path is read on the page's host);
//! - `click.action`, `click.navigation`: a custom event named by `click` (or the event's name),
//!   its category the event's name, its chapters `click_chapter1..3` as properties;
//! - `internal_search_result.display`: a site search of `ise_keyword`;
//! - any other name: a custom event with its own properties (bounded as Plausible's are).
//!
//! Screen width, browser language, campaign properties (`utm_*`, Piano's `src_*`) and the
//! client hints (`ch_ua*`) are read as every endpoint reads them; every other property the SDK
//! adds (times, sizes, ids) is dropped.

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::enrich::RawPage;
use crate::event::EventType;
use crate::ingest::matomo::screen_class;
use crate::ingest::{MAX_TITLE_CHARS, bounded, page_view_id};
use crate::pipeline::{Action, Hit, VisitorInput};
use crate::sites::Sites;
use crate::telemetry::metrics::DeclineReason;

/// Most events one request may carry (the SDK sends one, or a page's queue).
pub(crate) const MAX_EVENTS: usize = 50;
/// Custom properties kept at most on one event, and the longest key and value kept (characters).
const MAX_PROPERTIES: usize = 30;
const MAX_KEY_CHARS: usize = 120;
const MAX_VALUE_CHARS: usize = 500;
const MAX_NAME_CHARS: usize = 120;

/// The properties Piano's `exempt` mode allows (piano-analytics-js 6.17.0's list, in its
/// order), the only ones read from an exempt event, besides the client hints and the privacy
/// fields every mode allows. Not the browser's language, for one.
pub(crate) const EXEMPT_PROPERTIES: &[&str] = &[
    "app_crash",
    "app_crash_class",
    "app_crash_screen",
    "app_version",
    "browser",
    "browser_cookie_acceptance",
    "browser_group",
    "browser_version",
    "click",
    "click_chapter1",
    "click_chapter2",
    "click_chapter3",
    "click_full_name",
    "connection_monitor",
    "connection_organisation",
    "cookie_creation_date",
    "date",
    "date_day",
    "date_daynumber",
    "date_month",
    "date_monthnumber",
    "date_week",
    "date_year",
    "date_yearofweek",
    "device_brand",
    "device_display_height",
    "device_display_width",
    "device_name",
    "device_name_tech",
    "device_screen_diagonal",
    "device_screen_height",
    "device_screen_width",
    "device_type",
    "event_collection_platform",
    "event_collection_version",
    "event_hour",
    "event_id",
    "event_minute",
    "event_position",
    "event_second",
    "event_time",
    "event_time_utc",
    "event_url",
    "event_url_domain",
    "event_url_full",
    "exclusion_cause",
    "exclusion_type",
    "geo_city",
    "geo_continent",
    "geo_country",
    "geo_metro",
    "geo_region",
    "goal_type",
    "hit_time_utc",
    "os",
    "os_group",
    "os_version",
    "os_version_name",
    "page",
    "page_chapter1",
    "page_chapter2",
    "page_chapter3",
    "page_duration",
    "page_full_name",
    "page_position",
    "page_title_html",
    "page_url",
    "pageview_id",
    "previous_url",
    "privacy_status",
    "site",
    "site_env",
    "site_id",
    "site_platform",
    "src",
    "src_detail",
    "src_direct_access",
    "src_organic",
    "src_organic_detail",
    "src_portal_domain",
    "src_portal_site",
    "src_portal_site_id",
    "src_portal_url",
    "src_referrer_site_domain",
    "src_referrer_site_url",
    "src_referrer_url",
    "src_se",
    "src_se_category",
    "src_se_country",
    "src_type",
    "src_url",
    "src_url_domain",
    "src_webmail",
];
/// The events Piano's `exempt` mode allows.
const EXEMPT_EVENTS: [&str; 5] = ["page.display", "click.exit", "click.download", "click.action", "click.navigation"];

/// Properties the SDK adds to every event that are read here (or deliberately not), never
/// kept as an event's own properties.
const STANDARD_PROPERTIES: &[&str] = &[
    "event_url_full",
    "event_url",
    "page_url",
    "page_title_html",
    "previous_url",
    "pageview_id",
    "device_screen_width",
    "device_screen_height",
    "device_display_width",
    "device_display_height",
    "browser_language",
    "browser_language_local",
    "device_timestamp_utc",
    "device_local_hour",
    "device_hour",
    "event_collection_platform",
    "event_collection_version",
    "event_collection_auto",
    "cookie_creation_date",
    "has_access",
    "visitor_privacy_consent",
    "visitor_privacy_mode",
    "user_id",
    "user_category",
    "user_recognition",
    "connection_type",
];

/// A body that is not Piano's: answered 400 with this message.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub(crate) struct BadBody(pub String);

#[derive(Deserialize)]
struct Body {
    events: Vec<Value>,
}

/// One event, with what the hits borrow from it decoded once.
struct Event {
    name: String,
    data: Map<String, Value>,
    /// `browser_language` and `browser_language_local` as one tag (`fr-FR`).
    language: Option<String>,
    /// The `ch_ua*` client hints as a user-agent data object (JSON).
    client_hints: Option<String>,
    /// The page's URL with the event's campaign ([`page_url`]).
    url: Option<String>,
}

/// A decoded request body.
pub struct Decoded(Vec<Event>);

/// Decodes a body (`{"events": […]}`) and checks its shape: at most [`MAX_EVENTS`] events, each
/// `{"name": …, "data": {…}}`.
pub(crate) fn decode(body: &[u8]) -> Result<Decoded, BadBody> {
    let body: Body = serde_json::from_slice(body).map_err(|e| BadBody(format!("body is not Piano's events: {e}")))?;
    if body.events.len() > MAX_EVENTS {
        return Err(BadBody(format!("{} events in one request; at most {MAX_EVENTS} allowed", body.events.len())));
    }
    let mut events = Vec::with_capacity(body.events.len());
    for (i, event) in body.events.into_iter().enumerate() {
        let Value::Object(mut event) = event else { return Err(BadBody(format!("events[{i}] is not an object"))) };
        let name = match event.remove("name") {
            Some(Value::String(name)) if !name.trim().is_empty() => name.trim().to_string(),
            _ => return Err(BadBody(format!("events[{i}].name is required"))),
        };
        let mut data = match event.remove("data") {
            Some(Value::Object(data)) => data,
            None => Map::new(),
            Some(_) => return Err(BadBody(format!("events[{i}].data is not an object"))),
        };
        if mode(&data) == "exempt" {
            data.retain(|key, _| EXEMPT_PROPERTIES.contains(&key.as_str()) || key.starts_with("ch_ua"));
            data.insert("visitor_privacy_mode".into(), Value::String("exempt".into()));
        }
        let language = match text(&data, "browser_language") {
            Some(primary) => Some(match text(&data, "browser_language_local") {
                Some(region) => bounded(&format!("{primary}-{region}"), 35),
                None => bounded(primary, 35),
            }),
            // Not the `Accept-Language` header either: exempt mode reads no language at all.
            None if mode(&data) == "exempt" => Some(String::new()),
            None => None,
        };
        let client_hints = client_hints(&data);
        let url = page_url(&data);
        events.push(Event { name, data, language, client_hints, url });
    }
    Ok(Decoded(events))
}

/// An event's privacy mode (`optin` when it says none, as the SDK's default).
fn mode(data: &Map<String, Value>) -> &str {
    text(data, "visitor_privacy_mode").unwrap_or("optin")
}

/// A string property, trimmed; `None` when absent, not a string, or empty.
fn text<'d>(data: &'d Map<String, Value>, key: &str) -> Option<&'d str> {
    data.get(key).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty())
}

/// A scalar property as an owned string (`None` for nested or empty values).
fn scalar(value: &Value) -> Option<String> {
    let text = match value {
        Value::String(s) => s.trim().to_string(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => return None,
    };
    (!text.is_empty()).then_some(text)
}

/// Campaign properties and the `utm_*` parameter each stands for: the SDK reads the page URL's
/// `utm_*` (and Piano's `at_*`, as `src_*`) into properties, and sends the URL without its query.
const CAMPAIGN_PROPERTIES: [(&str, &str); 8] = [
    ("utm_source", "utm_source"),
    ("utm_medium", "utm_medium"),
    ("utm_campaign", "utm_campaign"),
    ("utm_term", "utm_term"),
    ("utm_content", "utm_content"),
    ("src_platform", "utm_source"),
    ("src_medium", "utm_medium"),
    ("src_campaign", "utm_campaign"),
];

/// The page's URL (`event_url_full`, or `page_url`) with the event's campaign properties put
/// back as `utm_*` parameters, where the campaign rules read them (and where URL minimisation
/// drops them from the stored URL, as for every tracker).
fn page_url(data: &Map<String, Value>) -> Option<String> {
    let mut url = url::Url::parse(text(data, "event_url_full").or(text(data, "page_url"))?).ok()?;
    let mut given: Vec<&str> = Vec::new();
    for (property, parameter) in CAMPAIGN_PROPERTIES {
        if let Some(value) = text(data, property)
            && !given.contains(&parameter)
        {
            url.query_pairs_mut().append_pair(parameter, &bounded(value, 255));
            given.push(parameter);
        }
    }
    Some(url.into())
}

/// The `ch_ua*` properties (`ch_ua` brands, `ch_ua_full_version_list`, `ch_ua_mobile`,
/// `ch_ua_model`, `ch_ua_platform`, `ch_ua_platform_version`) as the user-agent data object our
/// client-hint rules read (Matomo's `uadata` shape).
fn client_hints(data: &Map<String, Value>) -> Option<String> {
    let platform = text(data, "ch_ua_platform")?;
    let mut hints = Map::new();
    for (from, to) in [("ch_ua", "brands"), ("ch_ua_full_version_list", "fullVersionList")] {
        if let Some(Value::Array(brands)) = data.get(from) {
            hints.insert(to.into(), Value::Array(brands.iter().take(10).cloned().collect()));
        }
    }
    hints.insert("platform".into(), Value::String(bounded(platform, 40)));
    if let Some(version) = text(data, "ch_ua_platform_version") {
        hints.insert("platformVersion".into(), Value::String(bounded(version, 40)));
    }
    hints.insert("mobile".into(), Value::Bool(data.get("ch_ua_mobile").and_then(Value::as_bool).unwrap_or(false)));
    hints.insert("model".into(), Value::String(bounded(text(data, "ch_ua_model").unwrap_or(""), 60)));
    Some(Value::Object(hints).to_string())
}

/// Ids the SDK sends in the place of a visitor id when it has none to send.
const NO_VISITOR_IDS: [&str; 4] = ["OPT-OUT", "no-consent", "no-storage", "Consent-NO"];

/// Whether a Piano privacy mode (`visitor_privacy_mode`, or a classic hit's `vm`) refuses
/// measurement: Piano's own opt-out and refusal, of which nothing is stored.
pub(crate) fn refuses(mode: &str) -> bool {
    matches!(mode, "optout" | "extended-optout" | "no-consent")
}

/// How a Piano or AT Internet visitor is counted: by its `idclient` on a cookie-mode site (as
/// Matomo's `_id`, hashed, never stored), with the rotating salts everywhere else or when the
/// SDK sent a placeholder (`OPT-OUT`, …).
pub(crate) fn visitor<'a>(site: &crate::config::SiteConfig, idclient: Option<&'a str>) -> VisitorInput<'a> {
    match idclient.map(str::trim) {
        Some(id) if site.cookie_mode && !id.is_empty() && !NO_VISITOR_IDS.contains(&id) => VisitorInput::Cookie(id),
        _ => VisitorInput::Cookieless,
    }
}

/// One hit per event (received at `now` for Piano site `site_number`, visitor `idclient`), or
/// the reason it is not stored.
pub fn interpret<'a>(
    decoded: &'a Decoded,
    site_number: Option<&str>,
    idclient: Option<&'a str>,
    sites: &'a Sites,
    now: u64,
) -> Vec<Result<Hit<'a>, DeclineReason>> {
    let site = site_number.and_then(|s| s.trim().parse::<u32>().ok()).and_then(|n| sites.by_piano_id(n));
    decoded.0.iter().map(|event| hit(event, site, idclient, now)).collect()
}

fn hit<'a>(
    event: &'a Event,
    site: Option<&'a crate::config::SiteConfig>,
    idclient: Option<&'a str>,
    now: u64,
) -> Result<Hit<'a>, DeclineReason> {
    let data = &event.data;
    let mode = mode(data);
    if refuses(mode) {
        return Err(DeclineReason::OptOut);
    }
    if mode == "exempt" && !EXEMPT_EVENTS.contains(&event.name.as_str()) {
        return Err(DeclineReason::OptOut);
    }
    let site = site.ok_or(DeclineReason::UnknownSite)?;
    let url = event.url.as_deref().ok_or(DeclineReason::Invalid)?;
    let page_url = url::Url::parse(url).map_err(|_| DeclineReason::Invalid)?;
    let host = page_url.host_str().unwrap_or("").trim_start_matches("www.").to_ascii_lowercase();
    if !site.domains.iter().any(|d| d.trim_start_matches("www.") == host) {
        return Err(DeclineReason::UnknownSite);
    }
    let mut action = Action {
        screen_class: data.get("device_screen_width").and_then(scalar).map_or("", |w| screen_class(&w)),
        page_view_id: page_view_id(text(data, "pageview_id")),
        ..Action::default()
    };
    let keep = |action: &mut Action, key: &str| {
        if let Some(value) = data.get(key).and_then(scalar) {
            action.prop_keys.push(key.to_string());
            action.prop_values.push(bounded(&value, MAX_VALUE_CHARS));
        }
    };
    match event.name.as_str() {
        "page.display" => {
            action.kind = EventType::Pageview;
            let title = text(data, "page_title_html").or(text(data, "page")).unwrap_or("");
            action.title = bounded(title, MAX_TITLE_CHARS);
            for key in ["page_chapter1", "page_chapter2", "page_chapter3"] {
                keep(&mut action, key);
            }
        }
        "click.exit" | "click.download" => {
            action.kind = if event.name == "click.exit" { EventType::Outlink } else { EventType::Download };
            action.name = event.name.clone();
            let target = text(data, "click_url").or(text(data, "click")).unwrap_or("");
            // A path (the SDK's own download tracking sends one) is on the page's host.
            let absolute = page_url.join(target).map(String::from).unwrap_or_default();
            action.link_target = Some(absolute);
        }
        "click.action" | "click.navigation" => {
            action.kind = EventType::Event;
            action.category = event.name.clone();
            action.name = bounded(text(data, "click").unwrap_or(&event.name), MAX_NAME_CHARS);
            for key in ["click_chapter1", "click_chapter2", "click_chapter3"] {
                keep(&mut action, key);
            }
        }
        "internal_search_result.display" => {
            action.kind = EventType::Search;
            action.search_keyword = bounded(text(data, "ise_keyword").unwrap_or(""), 100).to_lowercase();
            if action.search_keyword.is_empty() {
                return Err(DeclineReason::Invalid);
            }
        }
        other => {
            action.kind = EventType::Event;
            action.name = bounded(other, MAX_NAME_CHARS);
            let own = data.iter().filter(|(key, _)| {
                !STANDARD_PROPERTIES.contains(&key.as_str())
                    && !["ch_ua", "src_", "utm_"].iter().any(|prefix| key.starts_with(prefix))
            });
            for (key, value) in own.take(MAX_PROPERTIES) {
                if let Some(value) = scalar(value) {
                    action.prop_keys.push(bounded(key, MAX_KEY_CHARS));
                    action.prop_values.push(bounded(&value, MAX_VALUE_CHARS));
                }
            }
        }
    }
    let visitor = visitor(site, idclient);
    let page = RawPage { url, referrer: text(data, "previous_url"), ..RawPage::default() };
    Ok(Hit {
        site,
        time: now,
        page,
        action,
        client_ip: None,
        visitor,
        user_agent: None,
        ua_data: event.client_hints.as_deref(),
        language: event.language.as_deref(),
        server_side: false,
        new_visit: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Event as Row;
    use crate::pipeline::tests::{Harness, browser, hits};

    /// The rows the whole pipeline makes of one body for Piano site 123456 (`example.org`).
    fn run(body: &str) -> Vec<Result<Row, DeclineReason>> {
        Harness::new().piano("123456", Some("mx5rf323sbinatb7"), body, &browser(&[])).map(hits).unwrap()
    }

    fn one(name: &str, data: &str) -> String {
        format!(
            r#"{{"events":[{{"name":"{name}","data":{{"event_url_full":"https://example.org/services","visitor_privacy_mode":"optin",{data}}}}}]}}"#
        )
    }

    #[test]
    fn a_page_display_is_a_page_view_with_its_chapters() {
        let body = one(
            "page.display",
            r#""page":"accueil","page_chapter1":"services","page_title_html":"Accueil Services","previous_url":"https://www.qwant.com/","pageview_id":"abc123","device_screen_width":1280,"browser_language":"fr","browser_language_local":"FR","device_timestamp_utc":1700000000.5"#,
        );
        let row = run(&body).remove(0).unwrap();
        assert_eq!(
            (row.event_type, row.url_path.as_str(), row.page_title.as_str()),
            (EventType::Pageview, "/services", "Accueil Services")
        );
        assert_eq!(
            (row.prop_keys.clone(), row.prop_values.clone()),
            (vec!["page_chapter1".to_string()], vec!["services".to_string()])
        );
        assert_eq!(
            (row.screen_class.as_str(), row.language.as_str(), row.page_view_id.as_str()),
            ("laptop", "fr", "abc123")
        );
        assert_eq!((row.channel.as_str(), row.referrer_host.as_str()), ("search", "www.qwant.com"));
    }

    #[test]
    fn clicks_searches_and_custom_events_are_mapped() {
        let rows = run(r#"{"events":[
            {"name":"click.download","data":{"event_url_full":"https://example.org/docs","click":"/files/guide.pdf"}},
            {"name":"click.exit","data":{"event_url_full":"https://example.org/docs","click":"https://www.service-public.fr/particuliers?id=42"}},
            {"name":"click.action","data":{"event_url_full":"https://example.org/docs","click":"Imprimer","click_chapter1":"outils"}},
            {"name":"internal_search_result.display","data":{"event_url_full":"https://example.org/recherche","ise_keyword":"Horaires"}},
            {"name":"form.submit","data":{"event_url_full":"https://example.org/contact","form_name":"contact","device_hour":14,"nested":{"x":1}}}
        ]}"#);
        let rows: Vec<Row> = rows.into_iter().map(Result::unwrap).collect();
        assert_eq!(
            (rows[0].event_type, rows[0].link_url.as_str()),
            (EventType::Download, "example.org/files/guide.pdf")
        );
        assert_eq!(
            (rows[1].event_type, rows[1].link_url.as_str()),
            (EventType::Outlink, "www.service-public.fr/particuliers")
        );
        assert_eq!(
            (rows[2].event_type, rows[2].event_name.as_str(), rows[2].event_category.as_str()),
            (EventType::Event, "Imprimer", "click.action")
        );
        assert_eq!(rows[2].prop_values, vec!["outils".to_string()]);
        assert_eq!((rows[3].event_type, rows[3].search_keyword.as_str()), (EventType::Search, "horaires"));
        assert_eq!(rows[3].search_count, crate::event::SEARCH_COUNT_UNKNOWN);
        // A custom event keeps its own properties, not the SDK's (device_hour) nor nested ones.
        assert_eq!(
            (rows[4].event_name.as_str(), rows[4].prop_keys.clone()),
            ("form.submit", vec!["form_name".to_string()])
        );
    }

    #[test]
    fn campaigns_and_client_hints_are_read_as_everywhere() {
        let body = one(
            "page.display",
            r#""page":"a","utm_source":"lettre","utm_medium":"email","src_campaign":"rentree","ch_ua_platform":"Windows","ch_ua_platform_version":"15.0.0","ch_ua":[{"brand":"Google Chrome","version":"131"}],"ch_ua_mobile":false"#,
        );
        let harness = Harness::new();
        let windows = [(
            "user-agent",
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
        )];
        let row = harness.piano("123456", None, &body, &browser(&windows)).map(hits).unwrap().remove(0).unwrap();
        assert_eq!(
            (row.utm_source.as_str(), row.utm_medium.as_str(), row.utm_campaign.as_str()),
            ("lettre", "email", "rentree")
        );
        assert_eq!((row.channel.as_str(), row.url_path.as_str()), ("email", "/services"));
        assert_eq!((row.os.as_str(), row.os_version.as_str()), ("Windows", "11"));
    }

    #[test]
    fn privacy_modes_decide_what_is_stored() {
        for refused in ["optout", "no-consent", "extended-optout"] {
            let body = one("page.display", &format!(r#""visitor_privacy_mode":"{refused}""#))
                .replace(r#""visitor_privacy_mode":"optin","#, "");
            assert_eq!(run(&body), vec![Err(DeclineReason::OptOut)], "{refused}");
        }
        // Exempt: Piano's list only (no language), and only its five events.
        let exempt =
            r#""visitor_privacy_mode":"exempt","page_chapter1":"services","browser_language":"fr","custom":"x""#;
        let body = one("page.display", exempt).replace(r#""visitor_privacy_mode":"optin","#, "");
        let row = run(&body).remove(0).unwrap();
        assert_eq!((row.language.as_str(), row.prop_keys.clone()), ("", vec!["page_chapter1".to_string()]));
        let custom =
            one("form.submit", r#""visitor_privacy_mode":"exempt""#).replace(r#""visitor_privacy_mode":"optin","#, "");
        assert_eq!(run(&custom), vec![Err(DeclineReason::OptOut)]);
    }

    #[test]
    fn do_not_track_and_gpc_apply_as_everywhere() {
        let harness = Harness::new();
        let body = one("page.display", r#""page":"a""#);
        for (header, reason) in [("dnt", DeclineReason::Dnt), ("sec-gpc", DeclineReason::Gpc)] {
            let outcome = harness.piano("123456", None, &body, &browser(&[(header, "1")])).unwrap();
            assert!(matches!(outcome, crate::pipeline::Outcome::Objected(r) if r == reason), "{header}");
        }
    }

    #[test]
    fn the_site_is_its_piano_number_and_its_domains() {
        let harness = Harness::new();
        let body = one("page.display", r#""page":"a""#);
        let elsewhere = body.replace("https://example.org/", "https://evil.example/");
        let run = |site: &str, body: &str| harness.piano(site, None, body, &browser(&[])).map(hits).unwrap();
        assert!(run("123456", &body)[0].is_ok());
        assert_eq!(run("999", &body), vec![Err(DeclineReason::UnknownSite)]);
        assert_eq!(run("123456", &elsewhere), vec![Err(DeclineReason::UnknownSite)]);
        // The visitor id counts only on a cookie-mode site (site 2, Piano 654321).
        let shop = body.replace("https://example.org/", "https://shop.example.net/");
        let ids = |idclient: &str| {
            let rows = harness.piano("654321", Some(idclient), &shop, &browser(&[])).map(hits).unwrap();
            rows[0].as_ref().unwrap().visitor_id
        };
        assert_eq!(ids("visitor-a"), ids("visitor-a"));
        assert_ne!(ids("visitor-a"), ids("visitor-b"));
    }

    #[test]
    fn bodies_that_are_not_pianos_are_refused() {
        let harness = Harness::new();
        let refuse = |body: &str| harness.piano("123456", None, body, &browser(&[])).err().map(|e| e.0);
        assert!(refuse("{").unwrap().contains("not Piano's events"));
        assert!(refuse(r#"{"events":[{"data":{}}]}"#).unwrap().contains("name is required"));
        let many = format!(r#"{{"events":[{}]}}"#, vec![r#"{"name":"x"}"#; 51].join(","));
        assert!(refuse(&many).unwrap().contains("at most 50"));
    }
}
