//! The hit pipeline per event, as the request path runs it once the request is decoded: the
//! real [`Pipeline`] with the Matomo adapter: gate + adapter + user-agent verdict from a warm
//! cache (with the bot verdict) + landing URL, referrer channel and campaign + city look-up +
//! salted visitor hash + visit assignment + the `Event`. Also the cold user-agent parse (a user
//! agent seen for the first time).
//!
//!   cargo bench --bench enrichment
//!
//! Uses geo/GeoLite2-City.mmdb when present (geo/fetch-city-db.sh), else the small test database.

use std::convert::Infallible;
use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;

use arc_swap::ArcSwap;
use criterion::{Criterion, criterion_group, criterion_main};
use hyper::HeaderMap;
use hyper::header::{HeaderValue, USER_AGENT};
use mesure::clock::ManualClock;
use mesure::config::{Config, SiteConfig};
use mesure::enrich::Enricher;
use mesure::http::Params;
use mesure::ingest::matomo;
use mesure::pipeline::{Origin, Outcome, Pipeline, Stages};
use mesure::privacy::Privacy;
use mesure::privacy::client_ip::TrustedProxies;
use mesure::privacy::geo::Geo;
use mesure::privacy::salts::{Salt, SaltSet};
use mesure::sites::Sites;
use mesure::telemetry::metrics::Metrics;
use mesure::visits::Visits;

const AGENTS: [&str; 4] = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
];
const ADDRESSES: [&str; 4] = ["81.2.69.142", "89.160.20.128", "2.125.160.216", "175.16.199.37"];

fn geo() -> Geo {
    let real = Path::new(env!("CARGO_MANIFEST_DIR")).join("geo/GeoLite2-City.mmdb");
    let path = if real.is_file() {
        real
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("geo/test-data/GeoIP2-City-Test.mmdb")
    };
    eprintln!("geo database: {}", path.display());
    Geo::open(Some(&path), false).unwrap()
}

fn site() -> SiteConfig {
    SiteConfig {
        domains: vec!["example.org".into(), "www.example.org".into()],
        ..SiteConfig::with_defaults(1, "example.org")
    }
}

/// A pipeline run to its end in one poll: with a fixed salt set it never waits.
fn at_once<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    match future.as_mut().poll(&mut std::task::Context::from_waker(std::task::Waker::noop())) {
        std::task::Poll::Ready(output) => output,
        std::task::Poll::Pending => panic!("the pipeline waited with a fixed salt"),
    }
}

fn pipeline() -> Pipeline {
    let enricher = Arc::new(Enricher::new(10_000));
    for ua in AGENTS {
        enricher.user_agents.verdict(ua); // warm the cache
    }
    Pipeline::new(Stages {
        proxies: TrustedProxies::default(),
        enricher,
        privacy: Privacy {
            geo: Arc::new(geo()),
            salts: Arc::new(ArcSwap::from_pointee(SaltSet::new(Salt::generate(19_675), None))),
            cookie_keys: Default::default(),
        },
        visits: Arc::new(Visits::new(1_000_000)),
        clock: ManualClock::new(1_700_000_000),
        metrics: Metrics::new(),
    })
}

fn enrichment(c: &mut Criterion) {
    let pipeline = pipeline();
    let config = Config::from_toml("[[sites]]\nid = 1\ndomains = [\"example.org\"]", std::iter::empty()).unwrap();
    let sites = Sites::new(&[site()]);
    let enricher = Enricher::new(10_000);
    let headers: Vec<HeaderMap> = AGENTS
        .iter()
        .map(|ua| {
            let mut headers = HeaderMap::new();
            headers.insert(USER_AGENT, HeaderValue::from_static(ua));
            headers
        })
        .collect();
    let query = "idsite=1&rec=1&url=https%3A%2F%2Fwww.example.org%2Farticles%2F42%3Futm_source%3Dnewsletter%26utm_medium%3Demail%26gclid%3Dx&urlref=https%3A%2F%2Fwww.google.fr%2Fsearch%3Fq%3Dprivate";
    let params = Params::parse(query).unwrap();
    let peers: Vec<std::net::SocketAddr> = ADDRESSES.iter().map(|a| format!("{a}:4242").parse().unwrap()).collect();
    let mut i = 0usize;
    c.bench_function(
        "pipeline, one event (gate + adapter + warm UA + bot + referrer + campaign + geo + hash + visit)",
        |b| {
            b.iter(|| {
                i = i.wrapping_add(1);
                let origin = Origin { headers: &headers[i % headers.len()], peer: peers[i % peers.len()] };
                let Ok(outcome) = at_once(pipeline.run(&sites, &config.privacy, origin, |sites, now| {
                    Ok::<_, Infallible>(vec![matomo::interpret(black_box(&params), None, None, sites, now)])
                }));
                let Outcome::Hits(mut hits) = outcome else { panic!("no objection was sent") };
                black_box(hits.pop().unwrap().unwrap())
            })
        },
    );

    let mut n = 0u64;
    c.bench_function("user agent, cold (full parse + bot detectors)", |b| {
        b.iter(|| {
            n += 1;
            // A version number makes every string new to any cache; parse() bypasses it anyway.
            let ua = format!("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{n}.0.0.0 Safari/537.36");
            black_box(enricher.user_agents.parse(&ua))
        })
    });
}

criterion_group!(benches, enrichment);
criterion_main!(benches);
