//! The Matomo HTTP Tracking API adapter: decoded parameters → a protocol-neutral [`Hit`] or a
//! decline reason. No enrichment here: the [`crate::pipeline`] does that, after the gate.
//!
//! Handled: page views (`action_name`, `url`, `urlref`), events (`e_c`, `e_a`, `e_n`, `e_v`),
//! site search (`search`, `search_cat`, `search_count`), outlinks and downloads (`link`,
//! `download`), goals (`idgoal`, `revenue`), heartbeats (`ping=1`: extends the visit, is not a
//! page view), `res` (reduced to a screen class), `lang` (primary language), custom dimensions
//! `dimensionN` (bounded), campaigns (`_rcn`, `_rck` and the URL's `utm_*`/`mtm_*`/`pk_*`), the
//! visitor cookie `_id` (cookie-mode sites only), the overrides `ua` and `lang` (treated like the
//! headers they replace), and the server-side parameters `cip`, `cid` and `cdt`, honoured only
//! with the site's `token_auth` (docs/privacy.md D4). `uid` is never read, so never stored.
//! `rand` only defeats caches. Pure and synchronous.

use sha2::{Digest, Sha256};

use crate::config::SiteConfig;
use crate::enrich::RawPage;
use crate::event::EventType;
use crate::http::Params;
use crate::ingest::{MAX_TITLE_CHARS, bounded, page_view_id};
use crate::pipeline::{Action, Ecommerce, EcommerceItem, Hit, VisitorInput};
use crate::privacy::client_ip::ClientIp;
use crate::sites::Sites;
use crate::telemetry::metrics::DeclineReason;

/// Longest event category / action / name, search keyword (characters).
const MAX_LABEL_CHARS: usize = 256;
/// Custom dimensions kept at most, and their longest value (docs/privacy.md D5).
const MAX_DIMENSIONS: usize = 20;
const MAX_DIMENSION_CHARS: usize = 255;
/// Items of one order or cart kept at most.
const MAX_ECOMMERCE_ITEMS: usize = 100;
/// A performance timing over this (an hour, in ms) is not believed.
const MAX_TIMING_MS: u32 = 3_600_000;
/// A `cdt` older than this needs the token (seconds): Matomo's default
/// (`tracking_requests_require_authentication_when_custom_timestamp_newer_than`), so that apps
/// that send their queue later, with the time of each hit, keep working.
pub(crate) const CDT_TOLERANCE: u64 = 24 * 3600;

/// How the tracker wants its answer.
pub(crate) fn wants_image(params: &Params<'_>) -> bool {
    params.get("send_image") != Some("0")
}

/// Interprets one Matomo hit received at `now` (Unix seconds). `referer` is the request's
/// `Referer` header: a plain `<img>` pixel cannot send `url`, and then the embedding page is the
/// page. `bulk_token` is the `token_auth` of the bulk request that carried this one, if any.
pub fn interpret<'a>(
    params: &'a Params<'_>,
    referer: Option<&'a str>,
    bulk_token: Option<&str>,
    sites: &'a Sites,
    now: u64,
) -> Result<Hit<'a>, DeclineReason> {
    if params.get("rec") != Some("1") {
        return Err(DeclineReason::Invalid);
    }
    let site = params
        .get("idsite")
        .and_then(|s| s.trim().parse::<u32>().ok())
        .and_then(|id| sites.get(id))
        .ok_or(DeclineReason::UnknownSite)?;
    let page = RawPage {
        url: params.non_empty("url").or(referer).ok_or(DeclineReason::Invalid)?,
        referrer: params.non_empty("urlref"),
        hash_route: false,
        app_url: false,
        campaign_name: params.non_empty("_rcn"),
        campaign_keyword: params.non_empty("_rck"),
    };

    let token = params.non_empty("token_auth").or(bulk_token);
    let authorised = token.is_some_and(|token| token_matches(site, token));
    let client_ip = match params.non_empty("cip") {
        None => None,
        Some(_) if !authorised => return Err(DeclineReason::Unauthorized),
        // Parsed straight into the type that keeps the address in request scope.
        Some(text) => Some(ClientIp::parse(text).ok_or(DeclineReason::Invalid)?),
    };
    let time = hit_time(params, site, authorised, now)?;
    let visitor = visitor(params, site, authorised, time)?;

    let mut action = Action {
        title: params.get("action_name").map(|t| bounded(t, MAX_TITLE_CHARS)).unwrap_or_default(),
        screen_class: params.get("res").map(screen_class).unwrap_or_default(),
        ..Action::default()
    };
    describe_action(params, &mut action)?;
    describe_page(params, &mut action);
    add_dimensions(params, &mut action);
    Ok(Hit {
        site,
        time,
        page,
        action,
        client_ip,
        visitor,
        user_agent: params.get("ua"),
        ua_data: params.non_empty("uadata"),
        language: params.non_empty("lang"),
        server_side: authorised,
        new_visit: params.get("new_visit") == Some("1"),
    })
}

/// What identifies the visitor besides the address. A `cid` with the site's token is the
/// site's server naming its visitor. Without the token (the mobile SDKs send one) the hit is
/// never lost for it: a cookie-mode site takes it like the visitor cookie (hashed, never
/// stored), a cookieless site ignores it and counts the visitor without an identifier, as
/// every other. On a cookie-mode site the tracker's `_id` counts while its first visit
/// (`_idts`) is within the site's cookie lifetime.
fn visitor<'p>(
    params: &'p Params<'_>,
    site: &SiteConfig,
    authorised: bool,
    time: u64,
) -> Result<VisitorInput<'p>, DeclineReason> {
    match params.non_empty("cid") {
        Some(cid) if authorised && is_visitor_id(cid) => return Ok(VisitorInput::ServerId(cid)),
        Some(_) if authorised => return Err(DeclineReason::Invalid),
        Some(cid) if site.cookie_mode && is_visitor_id(cid) => return Ok(VisitorInput::Cookie(cid)),
        _ => {}
    }
    if site.cookie_mode
        && let Some(id) = params.non_empty("_id").filter(|id| is_visitor_id(id))
    {
        let first_visit = params.get("_idts").and_then(|t| t.parse::<u64>().ok());
        let lifetime = u64::from(site.cookie_lifetime_days) * 86_400;
        if first_visit.is_none_or(|first| first + lifetime >= time) {
            return Ok(VisitorInput::Cookie(id));
        }
    }
    Ok(VisitorInput::Cookieless)
}

/// Sets the action's type and fields from the action parameters.
/// Requests of a kind not stored yet are declined as [`DeclineReason::Unsupported`] rather than
/// stored as page views: a "custom action" (`ca=1`) that is none of the above (the Media, Crash
/// and heatmap plugins' requests).
fn describe_action(params: &Params<'_>, action: &mut Action) -> Result<(), DeclineReason> {
    let label = |key: &str| params.get(key).map(|v| bounded(v, MAX_LABEL_CHARS)).unwrap_or_default();
    let number = |key: &str| params.get(key).and_then(|v| v.trim().parse::<f64>().ok()).filter(|v| v.is_finite());
    if params.get("ping") == Some("1") {
        action.kind = EventType::Ping;
    } else if params.non_empty("e_c").is_some() && params.non_empty("e_a").is_some() {
        action.kind = EventType::Event;
        action.category = label("e_c");
        action.action = label("e_a");
        action.name = params.non_empty("e_n").map(|_| label("e_n")).unwrap_or_else(|| label("e_a"));
        action.value = number("e_v").unwrap_or(0.0);
    } else if let Some(goal) = params.get("idgoal").and_then(|g| g.trim().parse::<u32>().ok()).filter(|g| *g > 0) {
        action.kind = EventType::Goal;
        action.goal_id = goal;
        action.revenue = number("revenue").unwrap_or(0.0);
    } else if params.get("idgoal").is_some_and(|g| g.trim() == "0") {
        // Ecommerce: an order when it has an id, else a cart update.
        let order_id = params.non_empty("ec_id").map(|id| bounded(id, MAX_LABEL_CHARS));
        action.kind = if order_id.is_some() { EventType::Order } else { EventType::Cart };
        action.revenue = number("revenue").unwrap_or(0.0);
        action.ecommerce = Some(Ecommerce {
            order_id: order_id.unwrap_or_default(),
            subtotal: number("ec_st").unwrap_or(0.0),
            tax: number("ec_tx").unwrap_or(0.0),
            shipping: number("ec_sh").unwrap_or(0.0),
            discount: number("ec_dt").unwrap_or(0.0),
            items: params.get("ec_items").map(ecommerce_items).unwrap_or_default(),
        });
    } else if let Some((kind, target)) = params
        .non_empty("link")
        .map(|l| (EventType::Outlink, l))
        .or(params.non_empty("download").map(|d| (EventType::Download, d)))
    {
        action.kind = kind;
        action.link_target = Some(target.to_string());
    } else if params.get("search").is_some() {
        action.kind = EventType::Search;
        action.search_keyword = label("search").to_lowercase();
        action.search_category = label("search_cat");
        // Without a count Matomo stores NULL: such a search is not a search without results.
        let count = params.get("search_count").and_then(|c| c.trim().parse::<u32>().ok());
        action.search_count = count.map(|c| c.min(crate::event::SEARCH_COUNT_UNKNOWN - 1));
    } else if params.non_empty("c_n").is_some() {
        // Content tracking: a block shown, or (with `c_i`) interacted with. An impression is
        // not an interaction (it does not end a bounce).
        action.name = label("c_n");
        action.content_piece = label("c_p");
        action.content_target = params.non_empty("c_t").map(str::to_string);
        match params.non_empty("c_i") {
            Some(_) => {
                action.kind = EventType::ContentInteraction;
                action.action = label("c_i");
            }
            None => {
                action.kind = EventType::ContentImpression;
                action.non_interactive = true;
            }
        }
    } else if params.get("ca") == Some("1") {
        return Err(DeclineReason::Unsupported);
    } else {
        action.kind = EventType::Pageview;
    }
    Ok(())
}

/// What the tracker says about the page besides the action: its page-view id (`pv_id`, which
/// the page's later actions carry), the product or category a shop page shows (`_pks`, `_pkn`,
/// `_pkc`, `_pkp`), and its performance timings (`pf_*`, milliseconds, at most an hour each).
fn describe_page(params: &Params<'_>, action: &mut Action) {
    action.page_view_id = page_view_id(params.non_empty("pv_id"));
    let label = |key: &str| params.get(key).map(|v| bounded(v, MAX_LABEL_CHARS)).unwrap_or_default();
    if ["_pks", "_pkn", "_pkc"].iter().any(|key| params.non_empty(key).is_some()) {
        // A category may come as a JSON list (up to five), as `ec_items` categories do.
        let category = match params.get("_pkc").map(str::trim) {
            Some(list) if list.starts_with('[') => serde_json::from_str::<Vec<String>>(list)
                .map(|parts| {
                    bounded(&parts.iter().take(5).map(|p| p.trim()).collect::<Vec<_>>().join("/"), MAX_LABEL_CHARS)
                })
                .unwrap_or_default(),
            _ => label("_pkc"),
        };
        let price = params.get("_pkp").and_then(|p| p.trim().parse::<f64>().ok()).filter(|p| p.is_finite());
        action.product = Some((label("_pks"), label("_pkn"), category, price.unwrap_or(0.0)));
    }
    for (slot, key) in action.perf_ms.iter_mut().zip(["pf_net", "pf_srv", "pf_tfr", "pf_dm1", "pf_dm2", "pf_onl"]) {
        *slot =
            params.get(key).and_then(|v| v.trim().parse::<u32>().ok()).filter(|ms| *ms <= MAX_TIMING_MS).unwrap_or(0);
    }
}

/// `ec_items`: `[[sku, name, category, price, quantity], …]` as Matomo's trackers send it (a
/// category may be a list of up to five, joined with `/`; prices and quantities numbers or
/// strings). Bounded in count and length; an item that cannot be read is skipped.
fn ecommerce_items(text: &str) -> Vec<EcommerceItem> {
    let Ok(serde_json::Value::Array(items)) = serde_json::from_str::<serde_json::Value>(text) else {
        return Vec::new();
    };
    let text_of = |value: Option<&serde_json::Value>| match value {
        Some(serde_json::Value::String(s)) => bounded(s, MAX_LABEL_CHARS),
        Some(serde_json::Value::Number(n)) => n.to_string(),
        Some(serde_json::Value::Array(parts)) => {
            let parts: Vec<String> =
                parts.iter().take(5).filter_map(|p| p.as_str()).map(str::trim).map(String::from).collect();
            bounded(&parts.join("/"), MAX_LABEL_CHARS)
        }
        _ => String::new(),
    };
    let number_of = |value: Option<&serde_json::Value>| match value {
        Some(serde_json::Value::Number(n)) => n.as_f64(),
        Some(serde_json::Value::String(s)) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    items
        .iter()
        .filter_map(|item| {
            let fields = item.as_array()?;
            let sku = text_of(fields.first());
            (!sku.is_empty()).then(|| EcommerceItem {
                sku,
                name: text_of(fields.get(1)),
                category: text_of(fields.get(2)),
                price: number_of(fields.get(3)).filter(|p| p.is_finite()).unwrap_or(0.0),
                quantity: number_of(fields.get(4))
                    .filter(|q| q.is_finite() && *q >= 0.0)
                    .map_or(1, |q| q.min(1e6) as u32),
            })
        })
        .take(MAX_ECOMMERCE_ITEMS)
        .collect()
}

/// `dimension1`..`dimensionN` as custom properties, bounded in count and length (D5).
fn add_dimensions(params: &Params<'_>, action: &mut Action) {
    for (key, value) in params.iter() {
        if action.prop_keys.len() >= MAX_DIMENSIONS {
            break;
        }
        let is_dimension = key
            .strip_prefix("dimension")
            .is_some_and(|n| !n.is_empty() && n.len() <= 3 && n.bytes().all(|b| b.is_ascii_digit()));
        if is_dimension && !value.is_empty() && !action.prop_keys.iter().any(|k| k == key) {
            action.prop_keys.push(key.to_string());
            action.prop_values.push(bounded(value, MAX_DIMENSION_CHARS));
        }
    }
}

/// When the hit happened, as Matomo decides it: `cdt` (a time), `cdo` (seconds ago, also
/// subtracted from `cdt`), else now. A time that cannot be read, or lies in the future, means
/// now; one older than [`CDT_TOLERANCE`] needs the site's token; one past the site's retention
/// is refused (storing it would break the promise).
fn hit_time(params: &Params<'_>, site: &SiteConfig, authorised: bool, now: u64) -> Result<u64, DeclineReason> {
    let offset = params.non_empty("cdo").and_then(|o| o.trim().parse::<i64>().ok()).map(i64::unsigned_abs);
    let custom = match (params.non_empty("cdt"), offset) {
        (Some(text), offset) => parse_cdt(text).map(|at| at.saturating_sub(offset.unwrap_or(0))),
        (None, Some(offset)) => Some(now.saturating_sub(offset)),
        (None, None) => return Ok(now),
    };
    let Some(at) = custom.filter(|at| *at <= now && *at > 0) else { return Ok(now) };
    if at + CDT_TOLERANCE < now && !authorised {
        return Err(DeclineReason::Unauthorized);
    }
    if at + u64::from(site.retention.days()) * 86_400 < now {
        return Err(DeclineReason::Invalid);
    }
    Ok(at)
}

/// Matomo visitor ids are 16 hex digits; accept up to 64 alphanumerics.
fn is_visitor_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// `res=1920x1080` → a screen class by width, as Plausible buckets them.
pub fn screen_class(res: &str) -> &'static str {
    let width = res.split(['x', 'X']).next().and_then(|w| w.trim().parse::<u32>().ok());
    match width {
        None | Some(0) => "",
        Some(w) if w < 576 => "mobile",
        Some(w) if w < 992 => "tablet",
        Some(w) if w < 1440 => "laptop",
        Some(_) => "desktop",
    }
}

/// Whether `token` is some configured site's `token_auth`.
pub(crate) fn token_of_a_site(sites: &Sites, token: &str) -> bool {
    sites.iter().any(|site| token_matches(site, token))
}

fn token_matches(site: &SiteConfig, token: &str) -> bool {
    let Some(expected) = &site.token_auth_sha256 else { return false };
    let digest = Sha256::digest(token.as_bytes());
    // Compare every byte so the time taken does not tell how much matched.
    digest.iter().zip(expected.iter()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

/// `cdt`: Unix seconds (optionally with a fraction), or a date and time: `YYYY-MM-DD HH:MM:SS`
/// (UTC, the PHP tracker), with a zone offset (`+0100`, `+01:00`: the Android SDK), or ISO 8601
/// with `T`, fractions and `Z` (the iOS SDK).
pub(crate) fn parse_cdt(text: &str) -> Option<u64> {
    let text = text.trim();
    if let Some(secs) = text.split('.').next().filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())) {
        return secs.parse().ok();
    }
    let (date, rest) = text.split_once([' ', 'T'])?;
    let (time, offset) = split_zone(rest.trim())?;
    let mut d = date.split('-').map(|p| p.parse::<i64>().ok());
    let (year, month, day) = (d.next()??, d.next()??, d.next()??);
    let mut t = time.split(':');
    let hour = t.next()?.parse::<i64>().ok()?;
    let minute = t.next()?.parse::<i64>().ok()?;
    let second = match t.next() {
        None => 0,
        Some(s) => s.split('.').next()?.parse::<i64>().ok()?,
    };
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let days = crate::clock::days_from_civil(year, month, day);
    u64::try_from(days * 86_400 + hour * 3600 + minute * 60 + second - offset).ok()
}

/// A time and its zone: `Z`, `±HH`, `±HHMM` or `±HH:MM` (seconds east of UTC), none for UTC.
fn split_zone(text: &str) -> Option<(&str, i64)> {
    if let Some(time) = text.strip_suffix(['Z', 'z']) {
        return Some((time, 0));
    }
    let Some(at) = text.rfind(['+', '-']) else { return Some((text, 0)) };
    let (time, zone) = text.split_at(at);
    let sign = if zone.starts_with('-') { -1 } else { 1 };
    let digits: String = zone[1..].chars().filter(|c| *c != ':').collect();
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (hours, minutes) = match digits.len() {
        2 => (digits.parse::<i64>().ok()?, 0),
        4 => (digits[..2].parse::<i64>().ok()?, digits[2..].parse::<i64>().ok()?),
        _ => return None,
    };
    Some((time.trim_end(), sign * (hours * 3600 + minutes * 60)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Retention;
    use crate::event::Event;
    use crate::pipeline::tests::{Harness, NOW, browser, single};

    fn site(id: u32, cookie_mode: bool) -> SiteConfig {
        SiteConfig {
            retention: Retention::Months(13),
            token_auth_sha256: Some(Sha256::digest(b"secret-token").into()),
            cookie_mode,
            ..SiteConfig::with_defaults(id, "example.org")
        }
    }

    fn sites() -> Sites {
        Sites::new(&[site(7, false), site(8, true)])
    }

    /// What the adapter hands on: (time, whether an address was given, the visitor input).
    fn hit(query: &str) -> Result<(u64, bool, String), DeclineReason> {
        let params = Params::parse(query).unwrap();
        let sites = sites();
        interpret(&params, None, None, &sites, NOW).map(|h| (h.time, h.client_ip.is_some(), format!("{:?}", h.visitor)))
    }

    /// The event the whole pipeline makes of a hit on the harness's site 1 (`idsite=7` here is
    /// the harness's 1).
    fn run(query: &str) -> Result<Event, DeclineReason> {
        if query.contains("cip=") || query.contains("cid=") || query.contains("cdt=") {
            let params = Params::parse(query).unwrap();
            let sites = sites();
            let hit = interpret(&params, None, None, &sites, NOW)?;
            return Ok(Event { timestamp: hit.time as u32, ..Event::default() });
        }
        single(Harness::new().matomo(&query.replace("idsite=7", "idsite=1"), &browser(&[])))
    }

    const PAGE: &str = "idsite=7&rec=1&url=https%3A%2F%2Fexample.org%2Fa";

    #[test]
    fn a_pageview_becomes_an_event() {
        let e = run("idsite=7&rec=1&url=https%3A%2F%2Fexample.org%2Fa%3Fx%3D1%26utm_source%3DNews%26utm_medium%3Demail&action_name=Home&urlref=https%3A%2F%2Fduckduckgo.com%2F%3Fq%3Dx&rand=42&lang=fr-FR&res=1280x800").unwrap();
        assert_eq!((e.site_id, u64::from(e.timestamp), e.retention_days), (1, NOW, 180));
        assert_eq!((e.url_host.as_str(), e.url_path.as_str()), ("example.org", "/a"));
        assert_eq!(e.page_title, "Home");
        assert_eq!(e.referrer_host, "duckduckgo.com");
        assert_eq!(e.event_type, EventType::Pageview);
        assert_eq!((e.language.as_str(), e.screen_class.as_str()), ("fr", "laptop"));
        assert_eq!((e.channel.as_str(), e.source.as_str(), e.utm_medium.as_str()), ("email", "news", "email"));
    }

    /// A page whose URL carries one of the site's search parameters is a site search, as in
    /// Matomo; the query string itself is still not stored.
    #[test]
    fn site_search_from_the_page_url() {
        let e = run("idsite=7&rec=1&url=https%3A%2F%2Fexample.org%2Fsearch%3Fq%3DHoraires%2Bd%27ouverture%26page%3D2&action_name=Results").unwrap();
        assert_eq!((e.event_type, e.search_keyword.as_str()), (EventType::Search, "horaires d'ouverture"));
        assert_eq!((e.url_path.as_str(), e.page_title.as_str()), ("/search", "Results"));
        assert_eq!(
            run("idsite=7&rec=1&url=https%3A%2F%2Fexample.org%2Fsearch%3Fq%3D").unwrap().event_type,
            EventType::Pageview
        );
        // Explicit events keep their type.
        let e = run("idsite=7&rec=1&url=https%3A%2F%2Fexample.org%2F%3Fq%3Dx&e_c=A&e_a=B").unwrap();
        assert_eq!(e.event_type, EventType::Event);
    }

    /// Ecommerce: an order with its amounts and items, a cart update; never a page view.
    #[test]
    fn ecommerce_orders_and_carts() {
        let items = "%5B%5B%22SKU1%22%2C%22Mug%22%2C%22Kitchen%22%2C12.5%2C1%5D%2C%5B%22SKU2%22%2C%22Tea%22%2C%5B%22Food%22%2C%22Tea%22%5D%2C%226.50%22%2C%222%22%5D%2C%5B%5D%5D";
        let e = run(&format!(
            "{PAGE}&idgoal=0&ec_id=A-10&revenue=30.5&ec_st=25.5&ec_tx=4.25&ec_sh=5&ec_dt=1.5&ec_items={items}"
        ))
        .unwrap();
        assert_eq!((e.event_type, e.ec_order_id.as_str(), e.revenue), (EventType::Order, "A-10", 30.5));
        assert_eq!((e.ec_subtotal, e.ec_tax, e.ec_shipping, e.ec_discount), (25.5, 4.25, 5.0, 1.5));
        assert_eq!(e.ec_item_skus, vec!["SKU1", "SKU2"]);
        assert_eq!(e.ec_item_names, vec!["Mug", "Tea"]);
        assert_eq!(e.ec_item_categories, vec!["Kitchen", "Food/Tea"]);
        assert_eq!((e.ec_item_prices.clone(), e.ec_item_quantities.clone()), (vec![12.5, 6.5], vec![1, 2]));
        let cart = run(&format!("{PAGE}&idgoal=0&revenue=12.5&ec_items={items}")).unwrap();
        assert_eq!((cart.event_type, cart.revenue, cart.ec_order_id.as_str()), (EventType::Cart, 12.5, ""));
        let many: Vec<String> = (0..150).map(|i| format!("[\"S{i}\",\"N\",\"C\",1,1]")).collect();
        let query = format!(
            "{PAGE}&idgoal=0&ec_id=B&ec_items={}",
            form_urlencoded::byte_serialize(format!("[{}]", many.join(",")).as_bytes()).collect::<String>()
        );
        assert_eq!(run(&query).unwrap().ec_item_skus.len(), MAX_ECOMMERCE_ITEMS);
    }

    /// The page's id, the product it shows and its timings are kept with the page view.
    #[test]
    fn page_view_details() {
        let e = run(&format!("{PAGE}&pv_id=a1B2c3&_pks=SKU1&_pkn=Mug&_pkc=%5B%22Kitchen%22%2C%22Mugs%22%5D&_pkp=12.5&pf_net=10&pf_srv=20&pf_tfr=3&pf_dm1=400&pf_dm2=50&pf_onl=6")).unwrap();
        assert_eq!(e.page_view_id, "a1B2c3");
        assert_eq!(
            (e.product_sku.as_str(), e.product_name.as_str(), e.product_category.as_str(), e.product_price),
            ("SKU1", "Mug", "Kitchen/Mugs", 12.5)
        );
        assert_eq!((e.perf_network_ms, e.perf_server_ms, e.perf_transfer_ms), (10, 20, 3));
        assert_eq!((e.perf_dom_processing_ms, e.perf_dom_completion_ms, e.perf_on_load_ms), (400, 50, 6));
        let e = run(&format!("{PAGE}&pv_id=not%20an%20id&pf_net=99999999&_pkc=Mugs")).unwrap();
        assert_eq!((e.page_view_id.as_str(), e.perf_network_ms, e.product_category.as_str()), ("", 0, "Mugs"));
    }

    #[test]
    fn every_action_type() {
        let e = run(&format!("{PAGE}&e_c=Video&e_a=Play&e_n=Intro&e_v=12.5")).unwrap();
        assert_eq!(
            (e.event_type, e.event_category.as_str(), e.event_action.as_str(), e.event_name.as_str(), e.event_value),
            (EventType::Event, "Video", "Play", "Intro", 12.5)
        );
        let e = run(&format!("{PAGE}&search=Rust+Books&search_cat=shop&search_count=12")).unwrap();
        assert_eq!(
            (e.event_type, e.search_keyword.as_str(), e.search_category.as_str(), e.search_count),
            (EventType::Search, "rust books", "shop", 12)
        );
        let e = run(&format!("{PAGE}&link=https%3A%2F%2Fother.org%2Fx%3Ftoken%3Dy")).unwrap();
        assert_eq!((e.event_type, e.link_url.as_str()), (EventType::Outlink, "other.org/x"));
        let e = run(&format!("{PAGE}&download=https%3A%2F%2Fexample.org%2Ff.pdf")).unwrap();
        assert_eq!((e.event_type, e.link_url.as_str()), (EventType::Download, "example.org/f.pdf"));
        let e = run(&format!("{PAGE}&idgoal=3&revenue=19.90")).unwrap();
        assert_eq!((e.event_type, e.goal_id, e.revenue), (EventType::Goal, 3, 19.9));
        // A heartbeat extends a visit and never opens one.
        assert_eq!(run(&format!("{PAGE}&ping=1")), Err(DeclineReason::NoVisit));
        let harness = Harness::new();
        let page_view = PAGE.replace("idsite=7", "idsite=1");
        let page = single(harness.matomo(&page_view, &browser(&[]))).unwrap();
        let e = single(harness.matomo(&format!("{page_view}&ping=1"), &browser(&[]))).unwrap();
        assert_eq!((e.event_type, e.visit_id), (EventType::Ping, page.visit_id));
        // Matomo's "custom action" events (the PHP tracker sends ca=1 with them) are events.
        assert_eq!(run(&format!("{PAGE}&ca=1&e_c=Video&e_a=Play")).unwrap().event_type, EventType::Event);
        // Kinds not stored yet are dropped, never stored as page views.
        // Content: an impression (not an interaction) and an interaction.
        let e = run(&format!("{PAGE}&ca=1&c_n=Banner&c_p=spring.png&c_t=https%3A%2F%2Fexample.org%2Fsale%3Fref%3Dx"))
            .unwrap();
        assert_eq!(
            (e.event_type, e.event_name.as_str(), e.non_interactive),
            (EventType::ContentImpression, "Banner", 1)
        );
        assert_eq!((e.content_piece.as_str(), e.content_target.as_str()), ("spring.png", "example.org/sale"));
        let e = run(&format!("{PAGE}&ca=1&c_n=Banner&c_p=spring.png&c_i=click")).unwrap();
        assert_eq!(
            (e.event_type, e.event_action.as_str(), e.non_interactive),
            (EventType::ContentInteraction, "click", 0)
        );
        for unsupported in ["&ca=1&ma_id=video1&ma_ti=Intro&ma_st=10", "&ca=1&cra=TypeError"] {
            assert_eq!(run(&format!("{PAGE}{unsupported}")), Err(DeclineReason::Unsupported), "{unsupported}");
        }
        let e = run(&format!("{PAGE}&dimension1=gold&dimension2=&dimension33=x&dimensionx=no")).unwrap();
        assert_eq!(
            (e.prop_keys, e.prop_values),
            (vec!["dimension1".to_string(), "dimension33".into()], vec!["gold".to_string(), "x".into()])
        );
    }

    #[test]
    fn declines_with_the_right_reason() {
        use DeclineReason::*;
        assert_eq!(run("idsite=7&url=https%3A%2F%2Fexample.org%2F"), Err(Invalid));
        assert_eq!(run("idsite=7&rec=0&url=https%3A%2F%2Fexample.org%2F"), Err(Invalid));
        assert_eq!(run("idsite=9&rec=1&url=https%3A%2F%2Fexample.org%2F"), Err(UnknownSite));
        assert_eq!(run("idsite=3&rec=1&url=https%3A%2F%2Fexample.org%2F"), Err(UnknownSite));
        assert_eq!(run("idsite=x&rec=1&url=https%3A%2F%2Fexample.org%2F"), Err(UnknownSite));
        assert_eq!(run("idsite=7&rec=1&url=ftp%3A%2F%2Fexample.org%2F"), Err(Invalid));
        assert_eq!(run("idsite=7&rec=1"), Err(Invalid));
    }

    #[test]
    fn server_side_parameters_need_the_token() {
        use DeclineReason::*;
        assert_eq!(run(&format!("{PAGE}&cip=203.0.113.45")).unwrap_err(), Unauthorized);
        assert_eq!(run(&format!("{PAGE}&cip=203.0.113.45&token_auth=wrong")).unwrap_err(), Unauthorized);
        // Matomo's 24-hour rule: a back-dated hit needs the token only when it is older; a time
        // in the future, or one that cannot be read, means now.
        assert_eq!(u64::from(run(&format!("{PAGE}&cdt={}", NOW - 3600)).unwrap().timestamp), NOW - 3600);
        assert_eq!(run(&format!("{PAGE}&cdt={}", NOW - 25 * 3600)).unwrap_err(), Unauthorized);
        assert_eq!(u64::from(run(&format!("{PAGE}&cdt={}", NOW + 3600)).unwrap().timestamp), NOW);
        assert_eq!(u64::from(run(&format!("{PAGE}&cdt=yesterday")).unwrap().timestamp), NOW);
        assert_eq!(u64::from(run(&format!("{PAGE}&cdo=90")).unwrap().timestamp), NOW - 90);
        assert_eq!(u64::from(run(&format!("{PAGE}&cdt={}&cdo=-30", NOW - 60)).unwrap().timestamp), NOW - 90);

        let (time, has_ip, visitor) = hit(&format!(
            "{PAGE}&cip=203.0.113.45&cid=0123456789abcdef&cdt=2023-11-14%2020:13:20&token_auth=secret-token"
        ))
        .unwrap();
        assert!(has_ip, "the authorised cip is handed on (as a ClientIp, never readable here)");
        assert_eq!(visitor, "ServerId(\"0123456789abcdef\")");
        assert_eq!(time, 1_699_992_800);
        assert_eq!(hit(&format!("{PAGE}&cip=not-an-address&token_auth=secret-token")).unwrap_err(), Invalid);
        // Older than the site's retention: refused even with the token.
        assert_eq!(hit(&format!("{PAGE}&cdt={}&token_auth=secret-token", NOW - 400 * 86_400)).unwrap_err(), Invalid);
        // The bulk request's token counts for its items.
        let query = format!("{PAGE}&cip=203.0.113.45");
        let params = Params::parse(&query).unwrap();
        assert!(interpret(&params, None, Some("secret-token"), &sites(), NOW).is_ok());
    }

    #[test]
    fn the_visitor_cookie_counts_only_in_cookie_mode_and_for_13_months() {
        let cookie = "&_id=0123456789abcdef";
        assert_eq!(hit(&format!("{PAGE}{cookie}")).unwrap().2, "Cookieless");
        let cookie_site = PAGE.replace("idsite=7", "idsite=8");
        assert_eq!(hit(&format!("{cookie_site}{cookie}")).unwrap().2, "Cookie(\"0123456789abcdef\")");
        let old = NOW - 400 * 86_400;
        assert_eq!(hit(&format!("{cookie_site}{cookie}&_idts={old}")).unwrap().2, "Cookieless");
        // A site's own, shorter lifetime.
        let mut short = site(9, true);
        short.cookie_lifetime_days = 30;
        let sites = Sites::new(&[short]);
        let query = format!("idsite=9&rec=1&url=https%3A%2F%2Fexample.org%2F{cookie}&_idts={}", NOW - 31 * 86_400);
        let params = Params::parse(&query).unwrap();
        assert_eq!(format!("{:?}", interpret(&params, None, None, &sites, NOW).unwrap().visitor), "Cookieless");
    }

    /// `cid` without the token never loses the hit: a cookie-mode site takes it like the visitor
    /// cookie, a cookieless site ignores it. With the token it is the server's visitor id.
    #[test]
    fn cid_without_the_token_keeps_the_hit() {
        let cid = "&cid=0123456789abcdef&_id=fedcba9876543210";
        assert_eq!(hit(&format!("{PAGE}{cid}")).unwrap().2, "Cookieless");
        let cookie_site = PAGE.replace("idsite=7", "idsite=8");
        assert_eq!(hit(&format!("{cookie_site}{cid}")).unwrap().2, "Cookie(\"0123456789abcdef\")");
        assert_eq!(hit(&format!("{PAGE}{cid}&token_auth=secret-token")).unwrap().2, "ServerId(\"0123456789abcdef\")");
        assert_eq!(hit(&format!("{PAGE}&cid=not%20an%20id")).unwrap().2, "Cookieless");
        assert_eq!(
            hit(&format!("{PAGE}&cid=not%20an%20id&token_auth=secret-token")).unwrap_err(),
            DeclineReason::Invalid
        );
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
        // The Android SDK: "yyyy-MM-dd HH:mm:ssZ" (RFC 822 zone).
        assert_eq!(parse_cdt("2023-11-14 23:13:20+0100"), Some(1_700_000_000));
        assert_eq!(parse_cdt("2023-11-14 17:13:20-0500"), Some(1_700_000_000));
        assert_eq!(parse_cdt("2023-11-14T23:13:20+01:00"), Some(1_700_000_000));
        // The iOS SDK: "yyyy-MM-dd'T'HH:mm:ss.SSSXXXXX" in UTC.
        assert_eq!(parse_cdt("2023-11-14T22:13:20.123Z"), Some(1_700_000_000));
        assert_eq!(parse_cdt("2023-11-14 22:13"), Some(1_699_999_980));
        assert_eq!(parse_cdt("2023-11-14 22:13:20+1"), None);
    }

    #[test]
    fn a_pixel_without_url_uses_the_referer_header() {
        let harness = Harness::new();
        let headers = browser(&[("referer", "https://example.org/from/img?x=1"), ("accept-language", "de-DE,de")]);
        let event = single(harness.matomo("idsite=1&rec=1", &headers)).unwrap();
        assert_eq!(event.url_path, "/from/img");
        assert_eq!(event.language, "de");
        let explicit = single(harness.matomo("idsite=1&rec=1&url=https%3A%2F%2Fexample.org%2Fexplicit", &headers));
        assert_eq!(explicit.unwrap().url_path, "/explicit");
    }

    #[test]
    fn titles_are_bounded() {
        let long = "é".repeat(600);
        let e = run(&format!("idsite=7&rec=1&url=http%3A%2F%2Fx%2F&action_name={long}")).unwrap();
        assert_eq!(e.page_title.chars().count(), MAX_TITLE_CHARS);
    }

    #[test]
    fn screen_classes() {
        assert_eq!(screen_class("375x812"), "mobile");
        assert_eq!(screen_class("768x1024"), "tablet");
        assert_eq!(screen_class("1366x768"), "laptop");
        assert_eq!(screen_class("2560x1440"), "desktop");
        assert_eq!(screen_class("garbage"), "");
    }

    #[test]
    fn send_image_zero_means_204() {
        assert!(wants_image(&Params::parse("rec=1").unwrap()));
        assert!(!wants_image(&Params::parse("rec=1&send_image=0").unwrap()));
    }
}
