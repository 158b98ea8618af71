//! The pipeline without ClickHouse: fixed salts, no geo database, a spy enricher and the real
//! protocol adapters. Also the harness the adapters' own tests use.

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use arc_swap::ArcSwap;
use hyper::HeaderMap;
use hyper::header::HeaderValue;
use sha2::Digest;

use super::*;
use crate::clock::ManualClock;
use crate::config::{PrivacyProfile, Retention};
use crate::enrich::user_agent::UaVerdict;
use crate::enrich::{Enricher, Landing};
use crate::http::Params;
use crate::ingest::{matomo, piano, plausible, xiti};
use crate::privacy::SaltSource;
use crate::privacy::geo::Geo;
use crate::privacy::salts::{Backdated, Salt, SaltSet};

/// The time every harness hit arrives at.
pub(crate) const NOW: u64 = 1_700_000_000;
/// The user agent of harness requests that set none.
pub(crate) const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";

/// The real enricher, counting the calls made to it.
struct SpyEnricher {
    calls: AtomicUsize,
}

fn shared_enricher() -> &'static Enricher {
    static ENRICHER: OnceLock<Enricher> = OnceLock::new();
    ENRICHER.get_or_init(|| Enricher::new(1000))
}

impl Enrich for SpyEnricher {
    fn user_agent(&self, user_agent: &str) -> Arc<UaVerdict> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        shared_enricher().user_agents.verdict(user_agent)
    }

    fn landing(&self, site: &SiteConfig, raw: RawPage<'_>) -> Option<Landing> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        shared_enricher().landing(site, raw)
    }
}

/// Fixed salts, counting how often they are read (each read is a visitor id being made).
struct CountingSalts {
    set: ArcSwap<SaltSet>,
    reads: AtomicUsize,
}

impl SaltSource for CountingSalts {
    fn salts(&self) -> arc_swap::Guard<Arc<SaltSet>> {
        self.reads.fetch_add(1, Ordering::Relaxed);
        self.set.load()
    }

    /// A fixed back-dated salt for each earlier day asked for (another for each day).
    fn prepare<'a>(&'a self, periods: &'a [u32]) -> crate::privacy::Preparing<'a> {
        let set = self.set.load();
        let mut backdated: Vec<Backdated> =
            set.backdated.iter().map(|b| Backdated { salt: fixed_salt(b.salt.period()), expires: b.expires }).collect();
        for &period in periods {
            if set.for_period(period).is_none() && !backdated.iter().any(|b| b.salt.period() == period) {
                backdated.push(Backdated { salt: fixed_salt(period), expires: u64::MAX });
            }
        }
        let previous = set.previous.as_ref().map(|p| fixed_salt(p.period()));
        self.set.store(Arc::new(SaltSet { current: fixed_salt(set.current.period()), previous, backdated }));
        Box::pin(std::future::ready(()))
    }
}

/// The test salt of `period`: fixed, and different for every day.
fn fixed_salt(period: u32) -> Salt {
    Salt::from_hex(period, &format!("{:064x}", u64::from(period) * 0x0101_0101)).unwrap()
}

/// Runs a pipeline future to its end: the fixed salts never make it wait, so one poll does.
pub(crate) fn block_on<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    match future.as_mut().poll(&mut std::task::Context::from_waker(std::task::Waker::noop())) {
        std::task::Poll::Ready(output) => output,
        std::task::Poll::Pending => panic!("the pipeline waited with fixed salts"),
    }
}

/// A pipeline over two sites: 1 (`example.org`, `www.example.org`, with a server token) and 2
/// (`shop.example.net`, cookie mode, keeps `item`, 13 months).
pub(crate) struct Harness {
    pipeline: Pipeline,
    enricher: Arc<SpyEnricher>,
    salts: Arc<CountingSalts>,
    sites: Sites,
    privacy_config: PrivacyConfig,
}

impl Harness {
    pub(crate) fn new() -> Harness {
        let mut one = SiteConfig::with_defaults(1, "example.org");
        one.domains.push("www.example.org".into());
        one.token_auth_sha256 = Some(sha2::Sha256::digest(b"secret-token").into());
        one.piano_site_ids = vec![123_456];
        let two = SiteConfig {
            piano_site_ids: vec![654_321],
            cookie_mode: true,
            keep_query: vec!["item".into()],
            retention: Retention::Months(13),
            ..SiteConfig::with_defaults(2, "shop.example.net")
        };
        let enricher = Arc::new(SpyEnricher { calls: AtomicUsize::new(0) });
        let salts = Arc::new(CountingSalts {
            // A fixed salt: two harnesses give the same ids for the same hit.
            set: ArcSwap::from_pointee(SaltSet::new(Salt::from_hex(19_675, &"0f".repeat(32)).unwrap(), None)),
            reads: AtomicUsize::new(0),
        });
        let privacy_config =
            PrivacyConfig { profile: PrivacyProfile::Strict, honor_dnt: true, honor_gpc: true, max_live_visits: 1000 };
        let pipeline = Pipeline::new(Stages {
            proxies: TrustedProxies::default(),
            enricher: enricher.clone(),
            privacy: Privacy { geo: Arc::new(Geo::disabled()), salts: salts.clone(), cookie_keys: Default::default() },
            visits: Arc::new(Visits::new(1000)),
            clock: ManualClock::new(NOW),
            metrics: Metrics::new(),
        });
        Harness { pipeline, enricher, salts, sites: Sites::new(&[one, two]), privacy_config }
    }

    /// A single Matomo request, as the HTTP edge hands it to the pipeline.
    pub(crate) fn matomo(&self, query: &str, headers: &HeaderMap) -> Outcome {
        let params = Params::parse(query).expect("a decodable query");
        let referer = headers.get(hyper::header::REFERER).and_then(|v| v.to_str().ok());
        let origin = Origin { headers, peer: "198.51.100.7:4242".parse().unwrap() };
        let Ok(outcome) = block_on(self.pipeline.run(&self.sites, &self.privacy_config, origin, |sites, now| {
            Ok::<_, Infallible>(vec![matomo::interpret(&params, referer, None, sites, now)])
        }));
        outcome
    }

    /// A Matomo bulk request's items with the bulk token.
    pub(crate) fn matomo_bulk(&self, items: &[&str], token: Option<&str>, headers: &HeaderMap) -> Outcome {
        let params: Vec<Params<'_>> = items.iter().map(|q| Params::parse(q).unwrap()).collect();
        let origin = Origin { headers, peer: "198.51.100.7:4242".parse().unwrap() };
        let Ok(outcome) = block_on(self.pipeline.run(&self.sites, &self.privacy_config, origin, |sites, now| {
            Ok::<_, Infallible>(params.iter().map(|p| matomo::interpret(p, None, token, sites, now)).collect())
        }));
        outcome
    }

    /// A Plausible event body.
    pub(crate) fn plausible(&self, body: &str, headers: &HeaderMap) -> Result<Outcome, plausible::BadEvent> {
        let origin = Origin { headers, peer: "198.51.100.7:4242".parse().unwrap() };
        let mut decoded = None;
        block_on(self.pipeline.run(&self.sites, &self.privacy_config, origin, |sites, now| {
            let event = decoded.insert(plausible::decode(body.as_bytes())?);
            Ok::<_, plausible::BadEvent>(plausible::interpret(event, sites, now))
        }))
    }

    /// A Piano Analytics request: its `s` and `idclient` and its body.
    pub(crate) fn piano(
        &self,
        site: &str,
        idclient: Option<&str>,
        body: &str,
        headers: &HeaderMap,
    ) -> Result<Outcome, piano::BadBody> {
        let origin = Origin { headers, peer: "198.51.100.7:4242".parse().unwrap() };
        let mut decoded = None;
        block_on(self.pipeline.run(&self.sites, &self.privacy_config, origin, |sites, now| {
            let events = decoded.insert(piano::decode(body.as_bytes())?);
            Ok::<_, piano::BadBody>(piano::interpret(events, Some(site), idclient, sites, now))
        }))
    }

    /// An AT Internet classic hit (`/hit.xiti?…`).
    pub(crate) fn xiti(&self, query: &str, headers: &HeaderMap) -> Outcome {
        let params = Params::parse(query).expect("a decodable query");
        let decoded = xiti::decode(&params, &self.sites);
        let origin = Origin { headers, peer: "198.51.100.7:4242".parse().unwrap() };
        let Ok(outcome) = block_on(self.pipeline.run(&self.sites, &self.privacy_config, origin, |sites, now| {
            Ok::<_, Infallible>(vec![xiti::interpret(&params, decoded.as_ref(), sites, now)])
        }));
        outcome
    }

    fn enrichments(&self) -> usize {
        self.enricher.calls.load(Ordering::Relaxed)
    }

    fn salt_reads(&self) -> usize {
        self.salts.reads.load(Ordering::Relaxed)
    }
}

/// The stages of a collector without ClickHouse or a geo database: the real enricher, a fixed
/// salt, the clock at [`NOW`] (for the in-process router tests).
pub(crate) fn fixed_stages(metrics: Metrics) -> Stages {
    let salts = Arc::new(CountingSalts {
        set: ArcSwap::from_pointee(SaltSet::new(Salt::from_hex(19_675, &"0f".repeat(32)).unwrap(), None)),
        reads: AtomicUsize::new(0),
    });
    Stages {
        proxies: TrustedProxies::default(),
        enricher: Arc::new(SpyEnricher { calls: AtomicUsize::new(0) }),
        privacy: Privacy { geo: Arc::new(Geo::disabled()), salts, cookie_keys: Default::default() },
        visits: Arc::new(Visits::new(1000)),
        clock: ManualClock::new(NOW),
        metrics,
    }
}

/// Headers of a browser request, plus `extra`.
pub(crate) fn browser(extra: &[(&'static str, &str)]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(hyper::header::USER_AGENT, HeaderValue::from_static(FIREFOX));
    for (name, value) in extra {
        headers.insert(*name, HeaderValue::from_str(value).unwrap());
    }
    headers
}

/// The hits of an outcome (panics on an objection).
pub(crate) fn hits(outcome: Outcome) -> Vec<Result<Event, DeclineReason>> {
    match outcome {
        Outcome::Hits(hits) => hits,
        Outcome::Objected(reason) => panic!("objected: {reason:?}"),
    }
}

/// The one hit of a single request.
pub(crate) fn single(outcome: Outcome) -> Result<Event, DeclineReason> {
    let mut hits = hits(outcome);
    assert_eq!(hits.len(), 1);
    hits.remove(0)
}

const PAGE: &str = "idsite=1&rec=1&url=https%3A%2F%2Fexample.org%2Fa";
const EVENT: &str = r#"{"n":"pageview","u":"https://example.org/","d":"example.org"}"#;

/// A visitor who objected is neither parsed nor enriched nor identified, by any adapter.
#[test]
fn a_declined_hit_is_never_parsed_nor_enriched() {
    let objections: [(&'static str, &str, DeclineReason); 3] = [
        ("dnt", "1", DeclineReason::Dnt),
        ("sec-gpc", "1", DeclineReason::Gpc),
        ("cookie", "mesure_optout=1", DeclineReason::OptOut),
    ];
    for (name, value, reason) in objections {
        let harness = Harness::new();
        let headers = browser(&[(name, value)]);
        let mut parsed = false;
        let origin = Origin { headers: &headers, peer: "198.51.100.7:1".parse().unwrap() };
        let outcome = block_on(harness.pipeline.run(&harness.sites, &harness.privacy_config, origin, |_, _| {
            parsed = true;
            Ok::<_, Infallible>(Vec::new())
        }));
        assert!(matches!(outcome, Ok(Outcome::Objected(r)) if r == reason), "{name}");
        assert!(!parsed, "{name}: the adapter ran for a visitor who objected");

        assert!(matches!(harness.matomo(PAGE, &headers), Outcome::Objected(r) if r == reason));
        assert!(matches!(harness.matomo_bulk(&[PAGE, PAGE], None, &headers), Outcome::Objected(r) if r == reason));
        assert!(matches!(harness.plausible(EVENT, &headers), Ok(Outcome::Objected(r)) if r == reason));
        // Not even a malformed body is read: the answer is the one a counted hit gets.
        assert!(matches!(harness.plausible("not json", &headers), Ok(Outcome::Objected(_))));
        assert_eq!(harness.enrichments(), 0, "{name}: a declined hit was enriched");
        assert_eq!(harness.salt_reads(), 0, "{name}: a declined hit was identified");
    }
    // The same requests without the objection are parsed, enriched and identified.
    let harness = Harness::new();
    assert!(single(harness.matomo(PAGE, &browser(&[]))).is_ok());
    assert!(harness.enrichments() > 0 && harness.salt_reads() == 1);
}

/// Bots and prefetches are refused from the cached verdict, before any identification.
#[test]
fn a_bot_never_reaches_identify() {
    let harness = Harness::new();
    let googlebot = browser(&[("user-agent", "Googlebot/2.1 (+http://www.google.com/bot.html)")]);
    assert_eq!(single(harness.matomo(PAGE, &googlebot)), Err(DeclineReason::Bot));
    let empty = browser(&[("user-agent", "")]);
    assert_eq!(single(harness.matomo(PAGE, &empty)), Err(DeclineReason::Bot));
    let prefetch = browser(&[("sec-purpose", "prefetch")]);
    assert_eq!(single(harness.matomo(PAGE, &prefetch)), Err(DeclineReason::Bot));
    let bot_event = harness.plausible(EVENT, &googlebot).unwrap();
    assert_eq!(hits(bot_event), vec![Err(DeclineReason::Bot)]);
    assert_eq!(harness.salt_reads(), 0, "a bot hit was identified");
    // A bot is refused from its verdict alone: the page is not enriched either.
    assert_eq!(harness.enrichments(), 3, "only the user-agent verdicts (googlebot twice, empty)");
}

/// Each adapter's hit yields the Event the adapters made before the pipeline owned the order:
/// `cases.json` holds the inputs, `golden.json` what the earlier code stored for each (visitor,
/// visit and place left out: they depend on the salt and the geo database). Changed on purpose
/// since: a heartbeat or an engagement alone (each case is its visit's first hit) opens no
/// visit, so those two cases are now declined `no_visit`.
#[test]
fn each_adapter_yields_the_same_event_as_before() {
    let cases: Vec<serde_json::Value> = serde_json::from_str(include_str!("cases.json")).unwrap();
    let golden: Vec<serde_json::Value> = serde_json::from_str(include_str!("golden.json")).unwrap();
    assert_eq!(cases.len(), golden.len());
    for (case, expected) in cases.iter().zip(&golden) {
        // A new pipeline per case: every hit is then its visit's first.
        let harness = Harness::new();
        let mut extra: Vec<(&'static str, &str)> = Vec::new();
        for (key, header) in
            [("user_agent", "user-agent"), ("referer", "referer"), ("accept_language", "accept-language")]
        {
            if let Some(value) = case[key].as_str() {
                extra.push((header, value));
            }
        }
        let headers = browser(&extra);
        let results = match case["protocol"].as_str().unwrap() {
            "matomo" => hits(harness.matomo(case["query"].as_str().unwrap(), &headers)),
            _ => hits(harness.plausible(case["body"].as_str().unwrap(), &headers).unwrap()),
        };
        let outcomes: Vec<serde_json::Value> = results
            .into_iter()
            .map(|result| match result {
                Ok(mut event) => {
                    assert_ne!(event.visitor_id, 0, "{case}: no visitor id");
                    assert_ne!(event.visit_id, 0, "{case}: no visit id");
                    (event.visitor_id, event.visit_id) = (0, 0);
                    let mut value = serde_json::to_value(&event).unwrap();
                    // Columns added after the golden was captured: at their defaults here.
                    let map = value.as_object_mut().unwrap();
                    map.retain(|key, column| {
                        let captured = golden_columns().contains(key);
                        let default = matches!(column, serde_json::Value::String(s) if s.is_empty())
                            || column.as_f64() == Some(0.0)
                            || column.as_array().is_some_and(Vec::is_empty);
                        // A revenue's currency was read (and dropped) before it had a column.
                        let explained = key == "revenue_currency";
                        assert!(captured || default || explained, "{case}: new column {key} is set: {column}");
                        captured
                    });
                    serde_json::json!({ "event": value })
                }
                Err(DeclineReason::Bot) => serde_json::json!({ "declined": "IsBot" }),
                Err(reason) => serde_json::json!({ "declined": reason.as_str() }),
            })
            .collect();
        assert_eq!(&serde_json::Value::Array(outcomes), expected, "case {case}");
    }
}

/// The columns the golden file was captured with.
fn golden_columns() -> Vec<String> {
    let golden: Vec<serde_json::Value> = serde_json::from_str(include_str!("golden.json")).unwrap();
    golden[0][0]["event"].as_object().unwrap().keys().cloned().collect()
}

/// Every hit of a visit carries the visit's first acquisition, whatever the adapter.
#[test]
fn later_hits_carry_the_visits_acquisition() {
    let harness = Harness::new();
    let headers = browser(&[]);
    let first = single(
        harness
            .matomo("idsite=1&rec=1&url=https%3A%2F%2Fexample.org%2F&urlref=https%3A%2F%2Fwww.google.fr%2F", &headers),
    )
    .unwrap();
    let second =
        single(harness.matomo(
            "idsite=1&rec=1&url=https%3A%2F%2Fexample.org%2Fnext&urlref=https%3A%2F%2Fexample.org%2F",
            &headers,
        ))
        .unwrap();
    assert_eq!((first.visit_id, first.channel.as_str()), (second.visit_id, "search"));
    assert_eq!(second.referrer_host, "www.google.fr");
}

/// A server-side hit with the site's token and no user agent is tracked; without the token the
/// same request is a bot.
#[test]
fn server_side_hits_without_a_user_agent_are_not_bots() {
    let harness = Harness::new();
    let no_agent = HeaderMap::new();
    assert_eq!(single(harness.matomo(PAGE, &no_agent)), Err(DeclineReason::Bot));
    let event = single(harness.matomo(&format!("{PAGE}&token_auth=secret-token"), &no_agent)).unwrap();
    assert_eq!((event.url_path.as_str(), event.browser.as_str()), ("/a", ""));
    // A known bot stays a bot, token or not.
    let googlebot = browser(&[("user-agent", "Googlebot/2.1 (+http://www.google.com/bot.html)")]);
    assert_eq!(single(harness.matomo(&format!("{PAGE}&token_auth=secret-token"), &googlebot)), Err(DeclineReason::Bot));
}

/// Matomo's `new_visit=1` starts a visit; the hits after it continue that one.
#[test]
fn new_visit_starts_a_visit() {
    let harness = Harness::new();
    let headers = browser(&[]);
    let first = single(harness.matomo(PAGE, &headers)).unwrap();
    let started = single(harness.matomo(&format!("{PAGE}&new_visit=1"), &headers)).unwrap();
    let next = single(harness.matomo(PAGE, &headers)).unwrap();
    assert_ne!(first.visit_id, started.visit_id);
    assert_eq!(started.visit_id, next.visit_id);
    assert_eq!(first.visitor_id, started.visitor_id);
}
