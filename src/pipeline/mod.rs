//! The hit pipeline: the one owner of the order every tracking hit goes through.
//!
//! ```text
//!  request ─► gate ─► adapter ─► cheap refusals ─► enrichment ─► identify ─► visit ─► Event
//!  headers    opt-out  Matomo,     prefetch,         URL, referrer, address →   session   built
//!  + peer     DNT,GPC  Plausible   bot verdict       campaign,     place + id,            here
//!                      → Hit       (cached UA)       user agent    address dropped
//! ```
//!
//! Protocol adapters ([`crate::ingest::matomo`], [`crate::ingest::plausible`]) turn a decoded
//! request into protocol-neutral [`Hit`]s and do no enrichment. [`Pipeline::run`] calls the
//! adapter only after the gate, so the hit of a visitor who objected is never parsed (docs/
//! privacy.md C4), then takes each hit through the fixed order and returns an [`Event`] or the
//! reason it was declined. Every decline is counted here, and only here.
//!
//! The HTTP edge ([`crate::ingest`]) owns what comes before (size caps, decoding) and after
//! (the append to the spool and the answer).

use std::net::SocketAddr;
use std::sync::Arc;

use hyper::HeaderMap;
use hyper::header::{ACCEPT_LANGUAGE, HeaderName, USER_AGENT};

use crate::clock::Clock;
use crate::config::{PrivacyConfig, SiteConfig};
use crate::enrich::client_hints::ClientHints;
use crate::enrich::language::primary_language;
use crate::enrich::url::link_target;
use crate::enrich::user_agent::BotReason;
use crate::enrich::{Enrich, RawPage};
use crate::event::{Event, EventType};
use crate::privacy::client_ip::{ClientIp, TrustedProxies};
use crate::privacy::salts::period_of;
use crate::privacy::{Privacy, VisitorKey, gate};
use crate::sites::Sites;
use crate::telemetry::metrics::{DeclineReason, Metrics};
use crate::visits::{Moment, Visits};

/// One hit as a protocol adapter hands it over: what the tracker said, bounded but not
/// enriched. No `Debug`: it may hold the visitor's address.
pub struct Hit<'a> {
    pub site: &'a SiteConfig,
    /// When the hit happened (Unix seconds): now, or an authorised back-dated time.
    pub time: u64,
    /// The page and referrer as sent.
    pub page: RawPage<'a>,
    pub action: Action,
    /// The visitor's address as the site's server saw it (Matomo `cip`, authorised); otherwise
    /// the pipeline takes it from the connection.
    pub client_ip: Option<ClientIp>,
    pub visitor: VisitorInput<'a>,
    /// A user agent given as a parameter (Matomo `ua`), replacing the header (and then the
    /// request's client-hint headers, which describe the sender, not the visitor).
    pub user_agent: Option<&'a str>,
    /// Client hints given as a parameter (Matomo `uadata`, JSON).
    pub ua_data: Option<&'a str>,
    /// A language given as a parameter (Matomo `lang`), replacing `Accept-Language`; an empty
    /// one stores no language at all (Piano's exempt mode reads none).
    pub language: Option<&'a str>,
    /// Sent by the site's own server with its token: a missing user agent is then no sign of a
    /// bot (server-side trackers often send none).
    pub server_side: bool,
    /// The tracker says this hit starts a new visit (Matomo `new_visit=1`).
    pub new_visit: bool,
}

/// What the visitor did, in the protocol's words: every field bounded by the adapter.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Action {
    pub kind: EventType,
    pub name: String,
    pub title: String,
    pub category: String,
    pub action: String,
    pub value: f64,
    pub goal_id: u32,
    pub revenue: f64,
    pub search_keyword: String,
    pub search_category: String,
    /// A site search's result count, when the tracker sent one.
    pub search_count: Option<u32>,
    /// An outlink's or download's target as sent (minimised by enrichment).
    pub link_target: Option<String>,
    pub prop_keys: Vec<String>,
    pub prop_values: Vec<String>,
    pub screen_class: &'static str,
    /// Does not count as an interaction (does not end a bounce).
    pub non_interactive: bool,
    /// An ecommerce order or cart update.
    pub ecommerce: Option<Ecommerce>,
    /// A content block's piece (bounded) and target as sent (minimised by enrichment).
    pub content_piece: String,
    pub content_target: Option<String>,
    /// The tracker's page-view id, which the page's later actions carry.
    pub page_view_id: String,
    /// The product (or category) a shop page shows: SKU, name, category, price.
    pub product: Option<(String, String, String, f64)>,
    /// The page's performance timings in ms: network, server, transfer, DOM processing, DOM
    /// completion, on-load.
    pub perf_ms: [u32; 6],
    /// An engagement's scroll depth (0-100 %, 255 unknown) and engaged time.
    pub scroll_depth: u8,
    pub engaged_ms: u32,
    /// The currency of `revenue` (ISO 4217 as sent, bounded).
    pub revenue_currency: String,
}

/// An ecommerce order (with its id) or cart update, bounded by the adapter.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Ecommerce {
    pub order_id: String,
    pub subtotal: f64,
    pub tax: f64,
    pub shipping: f64,
    pub discount: f64,
    pub items: Vec<EcommerceItem>,
}

/// One item of an order or cart.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EcommerceItem {
    pub sku: String,
    pub name: String,
    pub category: String,
    pub price: f64,
    pub quantity: u32,
}

/// What identifies the visitor besides the address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VisitorInput<'a> {
    /// IP + user agent, the default.
    Cookieless,
    /// Matomo `cid` from the site's server (authorised).
    ServerId(&'a str),
    /// Matomo `_id` on a cookie-mode site.
    Cookie(&'a str),
}

/// The request a batch of hits came in: its headers and the connection's peer.
#[derive(Clone, Copy)]
pub struct Origin<'r> {
    pub headers: &'r HeaderMap,
    pub peer: SocketAddr,
}

/// What the pipeline made of a request.
#[derive(Debug)]
pub enum Outcome {
    /// The visitor objected (opt-out, DNT, GPC): nothing of the request was read.
    Objected(DeclineReason),
    /// One result per hit the adapter found, in order.
    Hits(Vec<Result<Event, DeclineReason>>),
}

/// The stages a hit goes through, and their state.
pub struct Pipeline {
    proxies: TrustedProxies,
    enricher: Arc<dyn Enrich>,
    privacy: Privacy,
    visits: Arc<Visits>,
    clock: Arc<dyn Clock>,
    metrics: Metrics,
}

/// Everything [`Pipeline::new`] needs (built once by the app).
pub struct Stages {
    pub proxies: TrustedProxies,
    pub enricher: Arc<dyn Enrich>,
    pub privacy: Privacy,
    pub visits: Arc<Visits>,
    pub clock: Arc<dyn Clock>,
    pub metrics: Metrics,
}

/// Headers by which browsers mark a prefetch. Constants: a look-up by `&str` parses the name
/// each time.
const PREFETCH_HEADERS: [HeaderName; 4] = [
    HeaderName::from_static("purpose"),
    HeaderName::from_static("sec-purpose"),
    HeaderName::from_static("x-purpose"),
    HeaderName::from_static("x-moz"),
];

impl Pipeline {
    pub fn new(stages: Stages) -> Pipeline {
        let Stages { proxies, enricher, privacy, visits, clock, metrics } = stages;
        Pipeline { proxies, enricher, privacy, visits, clock, metrics }
    }

    /// Takes the hits of one request through the fixed order, under the settings the request
    /// took (`sites`, `privacy`: one snapshot of [`crate::live`]). `adapter` is the protocol: it
    /// gets the sites and the time, and returns the request's hits (or why each was declined),
    /// or an error for a request it cannot read at all (`E`, answered 400 by the edge). It is
    /// not called when the visitor objected.
    ///
    /// Back-dated hits of a day whose salt is gone wait for a back-dated salt to be made
    /// ([`crate::privacy::SaltSource::prepare`]); every other request runs straight through.
    pub async fn run<'a, E>(
        &self,
        sites: &'a Sites,
        privacy: &PrivacyConfig,
        origin: Origin<'_>,
        adapter: impl FnOnce(&'a Sites, u64) -> Result<Vec<Result<Hit<'a>, DeclineReason>>, E>,
    ) -> Result<Outcome, E> {
        // The gate, before anything reads the hit's content.
        if let Some(reason) = gate::objection(origin.headers, privacy) {
            self.metrics.declined(reason);
            return Ok(Outcome::Objected(reason));
        }
        let arrived = self.clock.now();
        let hits = adapter(sites, arrived)?;
        let today = period_of(arrived);
        let earlier: Vec<u32> = hits.iter().flatten().map(|hit| period_of(hit.time)).filter(|p| *p != today).collect();
        if !earlier.is_empty() {
            self.privacy.salts.prepare(&earlier).await;
        }
        let results = hits
            .into_iter()
            .map(|hit| {
                let result = hit.and_then(|hit| self.process(hit, origin, sites, arrived));
                if let Err(reason) = result {
                    self.metrics.declined(reason);
                }
                result
            })
            .collect();
        Ok(Outcome::Hits(results))
    }

    /// One hit, after the gate: cheap refusals, enrichment, identity, visit, the `Event`.
    fn process(&self, hit: Hit<'_>, origin: Origin<'_>, sites: &Sites, arrived: u64) -> Result<Event, DeclineReason> {
        let headers = origin.headers;
        // Cheap refusals first: the browser is only guessing, or the (cached) verdict is a bot.
        if is_prefetch(headers) {
            self.metrics.bot_detected(BotReason::Prefetch);
            return Err(DeclineReason::Bot);
        }
        let user_agent = hit.user_agent.or_else(|| header_str(headers, USER_AGENT)).unwrap_or("");
        let verdict = self.enricher.user_agent(user_agent);
        if let Some(reason) = verdict.bot
            && !(hit.server_side && reason == BotReason::EmptyUserAgent)
        {
            self.metrics.bot_detected(reason);
            return Err(DeclineReason::Bot);
        }
        // Enrichment.
        let mut landing = self.enricher.landing(hit.site, hit.page).ok_or(DeclineReason::Invalid)?;
        let mut action = hit.action;
        if action.kind == EventType::Pageview
            && let Some(keyword) = landing.site_search.take()
        {
            action.kind = EventType::Search;
            action.search_keyword = keyword;
        }
        let (page, acquisition) = landing.into_parts(hit.site.store_campaigns);
        let language = hit.language.or_else(|| header_str(headers, ACCEPT_LANGUAGE)).map(primary_language);
        let link_url = action.link_target.as_deref().map(link_target);
        let content_target = action.content_target.as_deref().map(link_target);
        // Identity: the address goes in and does not come out.
        let client_ip = hit.client_ip.unwrap_or_else(|| self.proxies.client(origin.peer, headers));
        let key = match hit.visitor {
            VisitorInput::Cookieless => VisitorKey::UserAgent(user_agent),
            VisitorInput::ServerId(id) => VisitorKey::ServerId(id),
            VisitorInput::Cookie(id) => VisitorKey::Cookie(id),
        };
        // No salt for the hit's day: only past the bound on back-dated salts.
        let identity = self.privacy.identify(hit.site.id, client_ip, key, hit.time).ok_or(DeclineReason::Invalid)?;

        // The event, built here and nowhere else.
        let mut event = Event {
            site_id: hit.site.id,
            timestamp: hit.time as u32,
            retention_days: hit.site.retention.days().min(u32::from(u16::MAX)) as u16,
            visitor_id: identity.visitor_id,
            event_type: action.kind,
            event_name: action.name,
            url_host: page.host,
            url_path: page.path,
            page_title: action.title,
            country_code: identity.place.country_code,
            region_code: identity.place.region_code,
            region_name: identity.place.region_name,
            city: identity.place.city,
            screen_class: action.screen_class.to_string(),
            language: language.unwrap_or_default(),
            event_category: action.category,
            event_action: action.action,
            event_value: action.value,
            goal_id: action.goal_id,
            revenue: action.revenue,
            search_keyword: action.search_keyword,
            search_category: action.search_category,
            search_count: match (action.kind, action.search_count) {
                (_, Some(count)) => count,
                (EventType::Search, None) => crate::event::SEARCH_COUNT_UNKNOWN,
                _ => 0,
            },
            link_url: link_url.unwrap_or_default(),
            prop_keys: action.prop_keys,
            prop_values: action.prop_values,
            non_interactive: u8::from(action.non_interactive),
            content_piece: action.content_piece,
            content_target: content_target.unwrap_or_default(),
            page_view_id: action.page_view_id,
            perf_network_ms: action.perf_ms[0],
            perf_server_ms: action.perf_ms[1],
            perf_transfer_ms: action.perf_ms[2],
            perf_dom_processing_ms: action.perf_ms[3],
            perf_dom_completion_ms: action.perf_ms[4],
            perf_on_load_ms: action.perf_ms[5],
            scroll_depth: action.scroll_depth,
            engaged_ms: action.engaged_ms,
            revenue_currency: action.revenue_currency,
            ..Event::default()
        };
        if let Some((sku, name, category, price)) = action.product {
            (event.product_sku, event.product_name, event.product_category, event.product_price) =
                (sku, name, category, price);
        }
        if let Some(ecommerce) = action.ecommerce {
            event.ec_order_id = ecommerce.order_id;
            (event.ec_subtotal, event.ec_tax) = (ecommerce.subtotal, ecommerce.tax);
            (event.ec_shipping, event.ec_discount) = (ecommerce.shipping, ecommerce.discount);
            for item in ecommerce.items {
                event.ec_item_skus.push(item.sku);
                event.ec_item_names.push(item.name);
                event.ec_item_categories.push(item.category);
                event.ec_item_prices.push(item.price);
                event.ec_item_quantities.push(item.quantity);
            }
        }
        // Client hints refine the (cached) user-agent verdict: Windows 11, the Android version.
        let header_hints = if hit.user_agent.is_none() { ClientHints::from_headers(headers) } else { None };
        let hints = match hit.ua_data.and_then(ClientHints::from_uadata) {
            Some(hints) => Some(hints.or(header_hints)),
            None => header_hints,
        };
        match hints.and_then(|hints| hints.refine(&verdict)) {
            Some(refined) => refined.apply(&mut event),
            None => verdict.apply(&mut event),
        }
        // The visit: every hit carries the acquisition of the visit's first hit. A heartbeat or
        // an engagement only extends a live visit: alone (after 30 idle minutes, or a restart)
        // it is no visit, and would count a visitor who did nothing.
        let when = Moment { at: hit.time, arrived, day_start: sites.local_midnight(hit.site.id, hit.time) };
        let visit = if matches!(event.event_type, EventType::Ping | EventType::Engagement) {
            self.visits.extend(identity.visitor_id, identity.previous_id, when).ok_or(DeclineReason::NoVisit)?
        } else if hit.new_visit {
            self.visits.start(identity.visitor_id, when, acquisition)
        } else {
            self.visits.visit(identity.visitor_id, identity.previous_id, when, acquisition)
        };
        visit.acquisition.apply(&mut event);
        event.visit_id = visit.id;
        Ok(event)
    }
}

/// `Purpose: prefetch` / `Sec-Purpose: prefetch`: the browser is guessing, nobody looked.
fn is_prefetch(headers: &HeaderMap) -> bool {
    PREFETCH_HEADERS.iter().any(|name| {
        headers.get_all(name).iter().any(|v| v.as_bytes().windows(8).any(|w| w.eq_ignore_ascii_case(b"prefetch")))
    })
}

fn header_str(headers: &HeaderMap, name: HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

#[cfg(test)]
pub(crate) mod tests;
