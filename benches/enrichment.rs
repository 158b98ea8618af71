//! The enrichment stage per event, as the request path runs it once the request is decoded:
//! city look-up + user-agent verdict from a warm cache (with the bot verdict) + landing URL,
//! referrer channel and campaign + salted visitor hash + visit assignment.
//! Also the cold user-agent parse (a user agent seen for the first time).
//!
//!   cargo bench --bench enrichment
//!
//! Uses geo/GeoLite2-City.mmdb when present (geo/fetch-city-db.sh), else the small test database.

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use mesure::config::SiteConfig;
use mesure::enrich::{Enricher, RawPage};
use mesure::event::{Acquisition, Event};
use mesure::privacy::client_ip::ClientIp;
use mesure::privacy::geo::Geo;
use mesure::privacy::salts::Salt;
use mesure::privacy::visits::Visits;
use mesure::privacy::{VisitorKey, visitor_id};

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

fn enrichment(c: &mut Criterion) {
    let geo = geo();
    let enricher = Enricher::new(10_000);
    let salt = Salt::generate(20_000);
    let visits = Visits::new(1_000_000);
    let site = site();
    for ua in AGENTS {
        enricher.user_agents.verdict(ua); // warm the cache
    }
    let mut i = 0usize;
    c.bench_function("enrich one event (geo + warm UA + bot + referrer + campaign + hash + visit)", |b| {
        b.iter(|| {
            i = i.wrapping_add(1);
            let ua = AGENTS[i % AGENTS.len()];
            let ip = ClientIp::new(ADDRESSES[i % ADDRESSES.len()].parse().unwrap());
            let mut event = Event::default();
            let verdict = enricher.user_agents.verdict(black_box(ua));
            assert!(verdict.bot.is_none());
            verdict.apply(&mut event);
            let raw = RawPage {
                url: black_box("https://www.example.org/articles/42?utm_source=newsletter&utm_medium=email&gclid=x"),
                referrer: Some(black_box("https://www.google.fr/search?q=private")),
                ..RawPage::default()
            };
            enricher.landing(&site, raw).unwrap().apply(&mut event, true);
            let place = geo.locate(&ip);
            event.visitor_id = visitor_id(&salt, site.id, &ip, &VisitorKey::UserAgent(ua));
            let visit =
                visits.visit(event.visitor_id, None, 1_700_000_000 + (i as u64 % 1000), Acquisition::take(&mut event));
            visit.acquisition.apply(&mut event);
            event.visit_id = visit.id;
            event.city = place.city;
            black_box(event)
        })
    });

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
