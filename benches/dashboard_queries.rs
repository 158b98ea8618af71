//! Times every query the built-in dashboard sends (from `dashboards/panels.json`), for one site
//! over the last 30 days, through the same code the stats API runs; prints the median of 5 runs.
//!
//!   cargo run --release --example dashboard_queries -- --url http://127.0.0.1:8123 --database mesure --site 1

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use mesure::config::{ClickHouseConfig, Retention, SiteConfig};
use mesure::query::request::StatsRequest;
use mesure::query::stats;
use serde_json::{Value, json};

fn arg(name: &str, default: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1).cloned()).unwrap_or_else(|| default.to_string())
}

#[tokio::main]
async fn main() {
    let config = ClickHouseConfig {
        url: arg("--url", "http://127.0.0.1:8123"),
        database: arg("--database", "mesure"),
        user: "default".into(),
        password: String::new(),
        cluster: None,
        read_user: None,
        read_password: String::new(),
    };
    let site_id: u32 = arg("--site", "1").parse().unwrap();
    let range = arg("--range", "30d");
    let runs: usize = arg("--runs", "5").parse().unwrap();
    let store = mesure::store::Store::new(&config);
    let site = SiteConfig {
        retention: Retention::Months(13),
        timezone: "Europe/Paris".into(),
        public: true,
        ..SiteConfig::with_defaults(site_id, "example.org")
    };
    let panels: Value = serde_json::from_str(mesure::web::dashboard::PANELS).unwrap();
    let mut queries: Vec<(String, Value)> = vec![
        (
            "top line + comparison".into(),
            json!({"metrics": panels["top_line"], "include": {"comparison": "previous_period"}}),
        ),
        (
            "chart (visitors by day)".into(),
            json!({"metrics": ["visitors"], "dimensions": ["time:day"], "limit": 10000}),
        ),
        ("realtime visitors".into(), json!({"metrics": ["visitors"], "date_range": "realtime"})),
    ];
    for panel in panels["panels"].as_array().unwrap() {
        for tab in panel["tabs"].as_array().unwrap() {
            queries.push((
                format!("{} / {}", panel["title"]["en"].as_str().unwrap(), tab["label"]["en"].as_str().unwrap()),
                json!({"metrics": tab["metrics"], "dimensions": [tab["dimension"]], "limit": 10}),
            ));
        }
    }
    let scope = mesure::query::Scope { site_id, from: 0, to: u64::from(u32::MAX) };
    let rows = mesure::query::totals(&store, &scope).await.unwrap().pageviews;
    println!("{rows} page views of site {site_id} in {}.events; {range}, median of {runs} runs\n", config.database);
    println!("| query | median ms |\n|---|---|");
    let mut worst = 0.0f64;
    for (name, mut body) in queries {
        body["site_id"] = json!(site_id);
        if body.get("date_range").is_none() {
            body["date_range"] = json!(range);
        }
        let request = StatsRequest::from_json(body.to_string().as_bytes()).unwrap();
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
        let mut times = Vec::new();
        for _ in 0..runs {
            let t = Instant::now();
            stats::run(&store, &request, &site, now, stats::Audience::Owner).await.unwrap();
            times.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        times.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let median = times[times.len() / 2];
        worst = worst.max(median);
        println!("| {name} | {median:.0} |");
    }
    println!("\nslowest median: {worst:.0} ms (budget 500 ms)");
}
