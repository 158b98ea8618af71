//! Writes a realistic event set straight into ClickHouse, for tests and benchmarks:
//! N events over M days for several sites, with returning visitors, visits of a few pages,
//! Zipf-distributed pages, sources and places, daily and weekly rhythms, custom events and goals.
//!
//!   cargo run --release --example generate -- --url http://127.0.0.1:8123 --database mesure \
//!       --events 10000000 --days 60 --sites 3
//!
//! The schema must exist (`mesure migrate`). Deterministic for a given `--seed`.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use mesure::config::ClickHouseConfig;
use mesure::event::{Event, EventType};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*: fast and good enough for synthetic data.
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Samples ranks 0..n with probability ∝ 1 / (rank + 1)^s.
struct Zipf(Vec<f64>);

impl Zipf {
    fn new(n: usize, s: f64) -> Zipf {
        let mut total = 0.0;
        let mut cdf: Vec<f64> = (0..n)
            .map(|k| {
                total += 1.0 / ((k + 1) as f64).powf(s);
                total
            })
            .collect();
        for c in &mut cdf {
            *c /= total;
        }
        Zipf(cdf)
    }

    fn sample(&self, rng: &mut Rng) -> usize {
        let u = rng.unit();
        self.0.partition_point(|c| *c < u).min(self.0.len() - 1)
    }
}

const SOURCES: &[(&str, &str, &str)] = &[
    ("direct", "", ""),
    ("search", "Google", "www.google.com"),
    ("search", "Bing", "www.bing.com"),
    ("search", "DuckDuckGo", "duckduckgo.com"),
    ("social", "Mastodon", "mastodon.social"),
    ("search", "Qwant", "www.qwant.com"),
    ("social", "LinkedIn", "www.linkedin.com"),
    ("website", "lemonde.fr", "www.lemonde.fr"),
    ("email", "newsletter", ""),
    ("ai", "ChatGPT", "chatgpt.com"),
    ("social", "Reddit", "www.reddit.com"),
    ("website", "service-public.fr", "www.service-public.fr"),
];
const PLACES: &[(&str, &str, &str, &str)] = &[
    ("FR", "IDF", "Île-de-France", "Paris"),
    ("FR", "ARA", "Auvergne-Rhône-Alpes", "Lyon"),
    ("FR", "PAC", "Provence-Alpes-Côte d'Azur", "Marseille"),
    ("FR", "OCC", "Occitanie", "Toulouse"),
    ("BE", "BRU", "Brussels Capital", "Brussels"),
    ("DE", "BE", "Land Berlin", "Berlin"),
    ("CH", "GE", "Geneva", "Geneva"),
    ("CA", "QC", "Quebec", "Montreal"),
    ("GB", "ENG", "England", "London"),
    ("US", "NY", "New York", "New York"),
    ("ES", "MD", "Madrid", "Madrid"),
    ("IT", "25", "Lombardy", "Milan"),
];
const BROWSERS: &[(&str, &str, &str, &str, &str)] = &[
    ("Chrome", "131", "Windows", "10", "desktop"),
    ("Mobile Safari", "18", "iOS", "18", "mobile"),
    ("Chrome Mobile", "131", "Android", "14", "mobile"),
    ("Firefox", "133", "Windows", "10", "desktop"),
    ("Safari", "18", "Mac OS X", "10", "desktop"),
    ("Edge", "131", "Windows", "10", "desktop"),
    ("Firefox", "133", "Linux", "", "desktop"),
    ("Mobile Safari", "17", "iOS", "17", "tablet"),
];

fn arg(name: &str, default: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1).cloned()).unwrap_or_else(|| default.to_string())
}

#[tokio::main]
async fn main() {
    let events: u64 = arg("--events", "1000000").parse().expect("--events N");
    let days: u64 = arg("--days", "30").parse().expect("--days M");
    let sites: u32 = arg("--sites", "3").parse().expect("--sites K");
    let seed: u64 = arg("--seed", "42").parse().expect("--seed S");
    let config = ClickHouseConfig {
        url: arg("--url", "http://127.0.0.1:8123"),
        database: arg("--database", "mesure"),
        user: arg("--user", "default"),
        password: arg("--password", ""),
        cluster: None,
        read_user: None,
        read_password: String::new(),
    };
    // A data generator, not the collector: it writes straight into the table with its own client.
    let client = clickhouse::Client::default()
        .with_url(&config.url)
        .with_user(&config.user)
        .with_password(&config.password)
        .with_database(&config.database)
        .with_validation(false);
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    let start = (now / 86_400 - days + 1) * 86_400;
    let mut rng = Rng(seed.max(1));
    let pages = Zipf::new(500, 1.1);
    let sources = Zipf::new(SOURCES.len(), 1.0);
    let places = Zipf::new(PLACES.len(), 1.0);
    let browsers = Zipf::new(BROWSERS.len(), 0.9);
    let visitors_pool = (events / 6).max(10);
    let mut inserter =
        client.inserter::<Event>("events").with_max_rows(200_000).with_period(Some(std::time::Duration::from_secs(5)));
    let began = Instant::now();
    let mut written = 0u64;
    let mut visit_seq = 0u64;
    while written < events {
        // One visit.
        visit_seq += 1;
        let site_id = 1 + (rng.below(100) as u32 * sites / 100).min(sites - 1);
        let visitor_id = rng.next() % visitors_pool + 1;
        let day = rng.below(days as usize) as u64;
        // Busier in the day and on weekdays.
        let hour = (7.0 + 14.0 * rng.unit().powf(0.8)) as u64 % 24;
        let mut at = start + day * 86_400 + hour * 3600 + rng.below(3600) as u64;
        if at > now {
            at = now - rng.below(3600) as u64;
        }
        let source = SOURCES[sources.sample(&mut rng)];
        let place = PLACES[places.sample(&mut rng)];
        let browser = BROWSERS[browsers.sample(&mut rng)];
        let campaign = if source.0 == "email" { "spring-newsletter" } else { "" };
        let pageviews = 1 + (-(rng.unit().max(1e-9)).ln() * 1.6) as u32;
        let base = Event {
            site_id,
            retention_days: 180,
            visitor_id,
            visit_id: visit_seq.wrapping_mul(0x9E37_79B9_7F4A_7C15),
            url_host: format!("site{site_id}.example.org"),
            referrer_host: source.2.into(),
            channel: source.0.into(),
            source: source.1.into(),
            utm_campaign: campaign.into(),
            utm_source: if campaign.is_empty() { String::new() } else { "newsletter".into() },
            utm_medium: if campaign.is_empty() { String::new() } else { "email".into() },
            country_code: place.0.into(),
            region_code: place.1.into(),
            region_name: place.2.into(),
            city: place.3.into(),
            browser: browser.0.into(),
            browser_version: browser.1.into(),
            os: browser.2.into(),
            os_version: browser.3.into(),
            device: browser.4.into(),
            language: "fr".into(),
            ..Event::default()
        };
        for n in 0..pageviews {
            let page = pages.sample(&mut rng);
            let mut e = base.clone();
            e.timestamp = (at + u64::from(n) * (20 + rng.below(120) as u64)) as u32;
            e.event_type = EventType::Pageview;
            e.url_path = if page == 0 { "/".into() } else { format!("/page/{page}") };
            e.page_title = format!("Page {page}");
            inserter.write(&e).await.expect("write");
            written += 1;
            if rng.unit() < 0.08 {
                let mut custom = e.clone();
                custom.event_type = EventType::Event;
                custom.event_name = ["Download brochure", "Contact", "Play video"][rng.below(3)].into();
                custom.prop_keys = vec!["plan".into()];
                custom.prop_values = vec![["free", "pro"][rng.below(2)].into()];
                inserter.write(&custom).await.expect("write");
                written += 1;
            }
        }
        if rng.unit() < 0.03 {
            let mut goal = base.clone();
            goal.timestamp = (at + 300) as u32;
            goal.event_type = EventType::Goal;
            goal.goal_id = 1 + rng.below(3) as u32;
            goal.url_path = "/merci".into();
            inserter.write(&goal).await.expect("write");
            written += 1;
        }
        inserter.commit().await.expect("commit");
    }
    inserter.end().await.expect("end");
    let secs = began.elapsed().as_secs_f64();
    println!(
        "wrote {written} events ({visit_seq} visits, {sites} sites, {days} days) in {secs:.1} s ({:.0} events/s)",
        written as f64 / secs
    );
}
