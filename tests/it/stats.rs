//! The stats API on a small seeded data set whose answers are computed by hand here, and its
//! access rules (docs/privacy.md F1, F2).

use std::process::Command;

use mesure::event::{Event, EventType};
use serde_json::{Value, json};

use crate::common::{Collector, CollectorConfig, clickhouse, http, unique_database};

const DAY: u64 = 86_400;
const SHARE_SECRET: &str = "s3cr3t-share-link";

pub fn sha256(text: &str) -> String {
    let out = Command::new("sh").arg("-c").arg(format!("printf %s '{text}' | sha256sum")).output().unwrap();
    String::from_utf8(out.stdout).unwrap().split_whitespace().next().unwrap().to_string()
}

fn sites() -> String {
    format!(
        r#"
[[sites]]
id = 1
domains = ["example.org"]

[[sites]]
id = 2
domains = ["shared.example.org"]
share_secret_sha256 = "{}"

[[sites]]
id = 3
domains = ["small.example.org"]
round_counts = true

[[sites]]
id = 4
domains = ["open.example.org"]
public = true
"#,
        sha256(SHARE_SECRET)
    )
}

struct Hit {
    visitor: u64,
    visit: u64,
    at: u64,
    kind: EventType,
    path: &'static str,
    name: &'static str,
    channel: &'static str,
    source: &'static str,
    country: &'static str,
    browser: &'static str,
    device: &'static str,
}

fn row(site: u32, h: &Hit) -> Event {
    Event {
        site_id: site,
        timestamp: h.at as u32,
        retention_days: 180,
        visitor_id: h.visitor,
        visit_id: h.visit,
        event_type: h.kind,
        event_name: h.name.into(),
        url_host: "example.org".into(),
        url_path: h.path.into(),
        channel: h.channel.into(),
        source: h.source.into(),
        country_code: h.country.into(),
        browser: h.browser.into(),
        device: h.device.into(),
        // Page load times for the dashboard's speed tab (no stats answer here depends on them).
        perf_on_load_ms: if h.kind == EventType::Pageview { 100 + (h.at % 7) as u32 * 50 } else { 0 },
        ..Event::default()
    }
}

pub struct Seeded {
    pub collector: Collector,
    pub day1: String,
    pub day2: String,
    pub db: String,
}

/// Two days ago (day 1) and yesterday (day 2), UTC:
/// - A (visit 11, day 1): /a, then /b 100 s later; search/Google, FR, Firefox desktop.
/// - B (visit 21, day 1): /a only (a bounce); direct, DE, Chrome mobile.
/// - B (visit 22, day 2): /c, then the custom event Signup 120 s later; social/Mastodon, DE.
/// - C (visit 31, day 2): /a, /a at +300 s, /b at +600 s; search/Google, FR, Firefox desktop.
/// - D (visit 41, day 2): /b only (a bounce); direct, GB, Safari tablet.
/// - E (visit 51): /live a minute ago (realtime). An expired row (200 days old) and rows of
///   other sites must never show.
async fn seed() -> Seeded {
    seed_with(&sites()).await
}

/// Seeds the data set under the given `[[sites]]` configuration.
pub async fn seed_with(sites_toml: &str) -> Seeded {
    let ch = clickhouse();
    let db = unique_database("stats");
    let mut config = CollectorConfig::new(ch, &db);
    config.extra = sites_toml.to_string();
    let collector = Collector::start(&config).await;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let today = now / DAY * DAY;
    let (d1, d2) = (today - 2 * DAY, today - DAY);
    let h = |visitor, visit, at, kind, path, name, channel, source, country, browser, device| Hit {
        visitor,
        visit,
        at,
        kind,
        path,
        name,
        channel,
        source,
        country,
        browser,
        device,
    };
    use EventType::{Event as Custom, Pageview};
    let hits = [
        h(1, 11, d1 + 36_000, Pageview, "/a", "", "search", "Google", "FR", "Firefox", "desktop"),
        h(1, 11, d1 + 36_100, Pageview, "/b", "", "search", "Google", "FR", "Firefox", "desktop"),
        h(2, 21, d1 + 39_600, Pageview, "/a", "", "direct", "", "DE", "Chrome", "mobile"),
        h(2, 22, d2 + 600, Pageview, "/c", "", "social", "Mastodon", "DE", "Chrome", "mobile"),
        h(2, 22, d2 + 720, Custom, "/c", "Signup", "social", "Mastodon", "DE", "Chrome", "mobile"),
        h(3, 31, d2 + 1200, Pageview, "/a", "", "search", "Google", "FR", "Firefox", "desktop"),
        h(3, 31, d2 + 1500, Pageview, "/a", "", "search", "Google", "FR", "Firefox", "desktop"),
        h(3, 31, d2 + 1800, Pageview, "/b", "", "search", "Google", "FR", "Firefox", "desktop"),
        h(4, 41, d2 + 2400, Pageview, "/b", "", "direct", "", "GB", "Safari", "tablet"),
        h(5, 51, now - 60, Pageview, "/live", "", "direct", "", "FR", "Firefox", "desktop"),
        h(6, 61, now - 200 * DAY, Pageview, "/expired", "", "direct", "", "FR", "Firefox", "desktop"),
    ];
    let mut rows: Vec<Event> = hits.iter().map(|h| row(1, h)).collect();
    rows.push(row(2, &hits[0]));
    rows.push(row(4, &hits[0]));
    for v in 0..13 {
        rows.push(row(
            3,
            &h(100 + v, 1000 + v, d2 + 3600, Pageview, "/s", "", "direct", "", "FR", "Firefox", "desktop"),
        ));
    }
    // Three visitors on a rare page of site 3: too few to be listed.
    for v in 0..3 {
        rows.push(row(
            3,
            &h(200 + v, 2000 + v, d2 + 3600, Pageview, "/rare", "", "direct", "", "FR", "Firefox", "desktop"),
        ));
    }
    let client = ch.client(&ch.config(&db));
    let mut insert = client.insert::<Event>("events").await.unwrap();
    for r in &rows {
        insert.write(r).await.unwrap();
    }
    insert.end().await.unwrap();
    let date = |t: u64| {
        let out = Command::new("date").arg("-u").arg("-d").arg(format!("@{t}")).arg("+%F").output().unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    Seeded { collector, day1: date(d1), day2: date(d2), db }
}

pub fn token(s: &Seeded, site: u32) -> String {
    token_for(&s.collector, site)
}

/// A new API token for `site` of `collector` (`mesure token create`).
pub fn token_for(collector: &Collector, site: u32) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_mesure"))
        .args(["token", "create", "--site", &site.to_string(), "--name", "tests", "--config"])
        .arg(collector.dir.join("mesure.toml"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    text.lines().last().unwrap().trim().to_string()
}

async fn query(s: &Seeded, bearer: Option<&str>, body: Value) -> (u16, Value) {
    post(s, "/api/v1/query", bearer, &body).await
}

/// POSTs a JSON body to a path of the seeded collector: the status and the JSON answer (or the
/// text, when it is not JSON).
pub async fn post(s: &Seeded, path: &str, bearer: Option<&str>, body: &Value) -> (u16, Value) {
    let mut request = http().post(s.collector.url(path)).json(body);
    if let Some(b) = bearer {
        request = request.bearer_auth(b);
    }
    let r = request.send().await.unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

fn rows(v: &Value) -> Vec<(Vec<String>, Vec<f64>)> {
    v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let dims = r["dimensions"].as_array().unwrap().iter().map(|d| d.as_str().unwrap().to_string()).collect();
            let metrics = r["metrics"].as_array().unwrap().iter().map(|m| m.as_f64().unwrap()).collect();
            (dims, metrics)
        })
        .collect()
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_answers_match_the_hand_computed_ones() {
    let s = seed().await;
    let token_1 = token(&s, 1);
    let t = Some(token_1.as_str());
    let range = json!([s.day1, s.day2]);
    let all = [
        "visitors",
        "visits",
        "pageviews",
        "views_per_visit",
        "bounce_rate",
        "visit_duration",
        "events",
        "conversions",
        "conversion_rate",
    ];

    // Totals: 4 visitors, 5 visits, 8 page views, 1.6 per visit, 2 bounces of 5, mean duration
    // (100 + 0 + 120 + 600 + 0) / 5 = 164 s, 1 custom event, 1 converting visit of 5.
    let (status, v) = query(&s, t, json!({"site_id": 1, "metrics": all, "date_range": range})).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(rows(&v), vec![(vec![], vec![4.0, 5.0, 8.0, 1.6, 40.0, 164.0, 1.0, 1.0, 20.0])]);
    assert_eq!(v["meta"]["metrics"], json!(all));

    let breakdown = |dimension: &str, metrics: Value| json!({"site_id": 1, "metrics": metrics, "date_range": range, "dimensions": [dimension]});
    let (_, v) =
        query(&s, t, breakdown("visit:country", json!(["visitors", "visits", "pageviews", "bounce_rate"]))).await;
    assert_eq!(
        rows(&v),
        vec![
            (strings(&["FR"]), vec![2.0, 2.0, 5.0, 0.0]),
            (strings(&["DE"]), vec![1.0, 2.0, 2.0, 50.0]),
            (strings(&["GB"]), vec![1.0, 1.0, 1.0, 100.0]),
        ]
    );
    let (_, v) = query(&s, t, breakdown("event:page", json!(["visitors", "pageviews"]))).await;
    assert_eq!(
        rows(&v),
        vec![
            (strings(&["/a"]), vec![3.0, 4.0]),
            (strings(&["/b"]), vec![3.0, 3.0]),
            (strings(&["/c"]), vec![1.0, 1.0])
        ]
    );
    let (_, v) = query(&s, t, breakdown("visit:entry_page", json!(["visits"]))).await;
    assert_eq!(
        rows(&v),
        vec![(strings(&["/a"]), vec![3.0]), (strings(&["/b"]), vec![1.0]), (strings(&["/c"]), vec![1.0])]
    );
    let (_, v) = query(&s, t, breakdown("visit:exit_page", json!(["visits"]))).await;
    assert_eq!(
        rows(&v),
        vec![(strings(&["/b"]), vec![3.0]), (strings(&["/a"]), vec![1.0]), (strings(&["/c"]), vec![1.0])]
    );
    let (_, v) = query(&s, t, breakdown("visit:channel", json!(["visits", "visit_duration"]))).await;
    assert_eq!(
        rows(&v),
        vec![
            (strings(&["direct"]), vec![2.0, 0.0]),
            (strings(&["search"]), vec![2.0, 350.0]),
            (strings(&["social"]), vec![1.0, 120.0]),
        ]
    );
    let (_, v) = query(&s, t, breakdown("visit:source", json!(["visitors"]))).await;
    assert_eq!(
        rows(&v),
        vec![(strings(&[""]), vec![2.0]), (strings(&["Google"]), vec![2.0]), (strings(&["Mastodon"]), vec![1.0])]
    );
    let (_, v) = query(&s, t, breakdown("visit:device", json!(["visitors"]))).await;
    assert_eq!(
        rows(&v),
        vec![(strings(&["desktop"]), vec![2.0]), (strings(&["mobile"]), vec![1.0]), (strings(&["tablet"]), vec![1.0])]
    );
    let (_, v) = query(&s, t, breakdown("event:name", json!(["visitors", "events"]))).await;
    assert_eq!(rows(&v), vec![(strings(&["Signup"]), vec![1.0, 1.0])]);
    let (_, v) = query(&s, t, breakdown("event:goal", json!(["visitors", "conversions"]))).await;
    assert_eq!(rows(&v), vec![(strings(&["Signup"]), vec![1.0, 1.0])]);

    // Time series by day.
    let (_, v) = query(&s, t, breakdown("time:day", json!(["visitors", "visits", "pageviews"]))).await;
    assert_eq!(
        rows(&v),
        vec![(vec![s.day1.clone()], vec![2.0, 2.0, 3.0]), (vec![s.day2.clone()], vec![3.0, 3.0, 5.0])]
    );

    // Filters: is, is_not, contains; an event-level filter on a per-visit metric means "visits
    // that include it".
    let filtered = |filters: Value, metrics: Value| json!({"site_id": 1, "metrics": metrics, "date_range": range, "filters": filters});
    let (_, v) = query(
        &s,
        t,
        filtered(json!([["is", "visit:country", ["FR"]]]), json!(["visitors", "pageviews", "bounce_rate"])),
    )
    .await;
    assert_eq!(rows(&v), vec![(vec![], vec![2.0, 5.0, 0.0])]);
    let (_, v) =
        query(&s, t, filtered(json!([["is_not", "visit:country", ["FR", "GB"]]]), json!(["visitors", "visits"]))).await;
    assert_eq!(rows(&v), vec![(vec![], vec![1.0, 2.0])]);
    let (_, v) = query(&s, t, filtered(json!([["contains", "event:page", ["B"]]]), json!(["pageviews"]))).await;
    assert_eq!(rows(&v), vec![(vec![], vec![3.0])]);
    let (_, v) = query(&s, t, filtered(json!([["is", "event:page", ["/c"]]]), json!(["visits", "bounce_rate"]))).await;
    assert_eq!(rows(&v), vec![(vec![], vec![1.0, 0.0])]);
    let (_, v) = query(
        &s,
        t,
        filtered(json!([["is", "visit:channel", ["search"]], ["is", "visit:entry_page", ["/a"]]]), json!(["visits"])),
    )
    .await;
    assert_eq!(rows(&v), vec![(vec![], vec![2.0])]);

    // Comparison with the previous period: yesterday (3 visitors, bounce 33 %) against the day
    // before (2 visitors, bounce 50 %).
    let (_, v) = query(
        &s,
        t,
        json!({"site_id": 1, "metrics": ["visitors", "bounce_rate"], "date_range": "yesterday", "include": {"comparison": "previous_period"}}),
    )
    .await;
    let result = &v["results"][0];
    assert_eq!(result["metrics"], json!([3, 33]));
    assert_eq!(result["comparison"]["metrics"], json!([2, 50]));
    assert_eq!(result["comparison"]["change"], json!([50, -17]));
    assert!(v["meta"]["comparison_date_range"].is_array());

    // Realtime: the last 30 minutes.
    let (_, v) = query(&s, t, json!({"site_id": 1, "metrics": ["visitors"], "date_range": "realtime"})).await;
    assert_eq!(rows(&v), vec![(vec![], vec![1.0])]);

    // CSV.
    let r = http()
        .post(s.collector.url("/api/v1/query"))
        .bearer_auth(&token_1)
        .json(&json!({"site_id": 1, "metrics": ["visitors", "pageviews"], "date_range": range, "dimensions": ["visit:country"], "format": "csv"}))
        .send()
        .await
        .unwrap();
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    assert_eq!(r.text().await.unwrap(), "visit:country,visitors,pageviews\nFR,2,5\nDE,1,2\nGB,1,1\n");

    // Plausible's v1 GET reports (more in plausible_api.rs), by our numeric id too.
    let url = s.collector.url(&format!(
        "/api/v1/stats/breakdown?site_id=1&period=custom&date={},{}&property=visit:browser&metrics=visitors",
        s.day1, s.day2
    ));
    let v: Value = http().get(url).bearer_auth(&token_1).send().await.unwrap().json().await.unwrap();
    assert_eq!(
        v,
        json!({"results": [{"browser": "Firefox", "visitors": 2}, {"browser": "Chrome", "visitors": 1}, {"browser": "Safari", "visitors": 1}]})
    );

    // Invalid parameters: 400 naming the parameter.
    let (status, v) = query(&s, t, json!({"site_id": 1, "metrics": ["visitors"], "date_range": "someday"})).await;
    assert_eq!((status, v["parameter"].as_str()), (400, Some("date_range")));
    let (status, v) =
        query(&s, t, json!({"site_id": 1, "metrics": ["visitors"], "date_range": "7d", "dimensions": ["visit:nose"]}))
            .await;
    assert_eq!((status, v["parameter"].as_str()), (400, Some("dimensions")));

    // Small-count rounding (site 3: 16 visitors, 13 on /s and 3 on /rare, one page view each):
    // every count to the nearest 10, views per visit from the rounded counts, and the page with
    // fewer than 10 visitors not listed at all.
    let t3 = token(&s, 3);
    let (_, v) = query(
        &s,
        Some(&t3),
        json!({"site_id": 3, "metrics": ["visitors", "visits", "pageviews", "views_per_visit"], "date_range": "yesterday"}),
    )
    .await;
    // 16 of each, and noise of at most 5 either way (docs/privacy.md F2): 10 or 20.
    let total = &rows(&v)[0].1;
    assert!(total[..3].iter().all(|c| [10.0, 20.0].contains(c)), "{total:?}");
    assert_eq!(total[3], total[2] / total[1], "views per visit from the rounded counts");
    assert_eq!(v["meta"]["rounded"], json!(true));
    assert_eq!(v["meta"]["noise"], json!({"epsilon": 1.0, "delta": 0.0031, "bound": 5}));
    let (_, v) = query(
        &s,
        Some(&t3),
        json!({"site_id": 3, "metrics": ["pageviews"], "date_range": "yesterday", "dimensions": ["event:page"]}),
    )
    .await;
    // /s: 13 visitors, noisy 8 to 18: rounded to 10 or 20, or (under 10) left out; /rare: 3
    // visitors, noisy at most 8: never listed.
    let pages = rows(&v);
    assert!(
        pages.iter().all(|(page, counts)| page == &strings(&["/s"]) && [10.0, 20.0].contains(&counts[0])),
        "{pages:?}"
    );
    let _ = &s.db;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_needs_the_right_credential() {
    let s = seed().await;
    let body = |site: u32| json!({"site_id": site, "metrics": ["visitors"], "date_range": "7d"});
    // No credential: 401; a public site needs none.
    assert_eq!(query(&s, None, body(1)).await.0, 401);
    assert_eq!(query(&s, None, body(4)).await.0, 200);
    assert_eq!(query(&s, Some("mst_not_a_real_token"), body(1)).await.0, 401);
    // A token for site 1: 200 on site 1, 403 on site 2.
    let t1 = token(&s, 1);
    assert_eq!(query(&s, Some(&t1), body(1)).await.0, 200);
    assert_eq!(query(&s, Some(&t1), body(2)).await.0, 403);
    // The share link of site 2 reads site 2 only.
    assert_eq!(query(&s, Some(SHARE_SECRET), body(2)).await.0, 200);
    assert_eq!(query(&s, Some(SHARE_SECRET), body(1)).await.0, 403);
    // /api/v1/sites lists what a credential reads.
    let sites: Value =
        http().get(s.collector.url("/api/v1/sites")).bearer_auth(&t1).send().await.unwrap().json().await.unwrap();
    let ids: Vec<u64> = sites["sites"].as_array().unwrap().iter().map(|x| x["id"].as_u64().unwrap()).collect();
    assert_eq!(ids, vec![1, 4]);
    // Revoked: 401.
    let config = s.collector.dir.join("mesure.toml");
    let list = Command::new(env!("CARGO_BIN_EXE_mesure"))
        .args(["token", "list", "--site", "1", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let listing = String::from_utf8(list.stdout).unwrap();
    let id = listing.split_whitespace().next().expect("a token is listed").to_string();
    assert!(!listing.contains(&t1), "the token itself is never shown again");
    let revoke = Command::new(env!("CARGO_BIN_EXE_mesure"))
        .args(["token", "revoke", "--id", &id, "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(revoke.status.success(), "{}", String::from_utf8_lossy(&revoke.stderr));
    // A valid token's verdict is reused for 10 s: the revoked token stops working within that.
    let refused = crate::common::eventually(std::time::Duration::from_secs(15), || async {
        (query(&s, Some(&t1), body(1)).await.0 == 401).then_some(())
    })
    .await;
    assert!(refused.is_some(), "a revoked token still works");
    let stored = clickhouse().query(&format!("SELECT token_hash FROM {}.api_tokens FORMAT TSV", s.db)).await;
    assert!(!stored.contains(&t1), "tokens are stored hashed");
}

/// A collector with one public site (1, example.org) and `events` stored: the data set of a
/// hand-computed test.
async fn public_site_with(name: &str, events: &[Event]) -> Seeded {
    let ch = clickhouse();
    let db = unique_database(name);
    let mut config = CollectorConfig::new(ch, &db);
    config.extra = "[[sites]]\nid = 1\ndomains = [\"example.org\"]\npublic = true\n".into();
    let collector = Collector::start(&config).await;
    let client = ch.client(&ch.config(&db));
    let mut insert = client.insert::<Event>("events").await.unwrap();
    for e in events {
        insert.write(e).await.unwrap();
    }
    insert.end().await.unwrap();
    Seeded { collector, day1: String::new(), day2: String::new(), db }
}

/// The answer to `body` (site 1, the last 7 days) from `s`.
async fn last_week(s: &Seeded, mut body: Value) -> (u16, Value) {
    body["site_id"] = json!(1);
    body["date_range"] = json!("7d");
    query(s, None, body).await
}

/// Shop, content and speed (Matomo's ecommerce, content tracking and page timings), yesterday:
/// - visit 1: /shoe viewing product SKU-1 (loaded in 300 ms), /cart (no timings), a cart update
///   with SKU-1, an order of 2 × SKU-1 at 50 and 3 × SKU-2 at 5 (revenue 117.5);
/// - visit 2: /shoe viewing SKU-1 (500 ms), an impression of and an interaction with the
///   "Banner" content block, /home (900 ms);
/// - visit 3: /home (100 ms), an order of 1 × SKU-2 at 5 (revenue 5).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shop_content_and_speed_answers_match_the_hand_computed_ones() {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let at = (now / DAY * DAY - DAY + 36_000) as u32;
    let base = |visit: u64, offset: u32, kind: EventType, path: &str| Event {
        site_id: 1,
        timestamp: at + offset,
        retention_days: 180,
        visitor_id: visit,
        visit_id: visit,
        event_type: kind,
        url_host: "example.org".into(),
        url_path: path.into(),
        ..Event::default()
    };
    let product_view = |visit, offset, network, server| Event {
        product_sku: "SKU-1".into(),
        product_name: "Shoe".into(),
        product_category: "Shoes".into(),
        perf_network_ms: network,
        perf_server_ms: server,
        ..base(visit, offset, EventType::Pageview, "/shoe")
    };
    let timed =
        |visit, offset, load, path| Event { perf_on_load_ms: load, ..base(visit, offset, EventType::Pageview, path) };
    let items = |kind, visit, offset, revenue, list: &[(&str, &str, &str, f64, u32)]| Event {
        revenue,
        ec_item_skus: list.iter().map(|i| i.0.to_string()).collect(),
        ec_item_names: list.iter().map(|i| i.1.to_string()).collect(),
        ec_item_categories: list.iter().map(|i| i.2.to_string()).collect(),
        ec_item_prices: list.iter().map(|i| i.3).collect(),
        ec_item_quantities: list.iter().map(|i| i.4).collect(),
        ..base(visit, offset, kind, "/checkout")
    };
    let content = |kind, offset| Event {
        event_name: "Banner".into(),
        content_piece: "img.png".into(),
        content_target: "example.org/sale".into(),
        ..base(2, offset, kind, "/shoe")
    };
    let events = [
        product_view(1, 0, 100, 200),
        base(1, 10, EventType::Pageview, "/cart"),
        items(EventType::Cart, 1, 20, 50.0, &[("SKU-1", "Shoe", "Shoes", 50.0, 1)]),
        items(
            EventType::Order,
            1,
            30,
            117.5,
            &[("SKU-1", "Shoe", "Shoes", 50.0, 2), ("SKU-2", "Sock", "Socks", 5.0, 3)],
        ),
        product_view(2, 0, 0, 500),
        content(EventType::ContentImpression, 5),
        content(EventType::ContentInteraction, 6),
        timed(2, 10, 900, "/home"),
        timed(3, 0, 100, "/home"),
        items(EventType::Order, 3, 10, 5.0, &[("SKU-2", "Sock", "Socks", 5.0, 1)]),
    ];
    let s = public_site_with("shop", &events).await;
    let ask = |body: Value| {
        let s = &s;
        async move {
            let (status, answer) = last_week(s, body.clone()).await;
            assert_eq!(status, 200, "{body}: {answer}");
            rows(&answer)
        }
    };
    let row = |dims: &[&str], metrics: &[f64]| (strings(dims), metrics.to_vec());

    // The median of 300, 500, 900 and 100 ms (the upper middle value of an even count); pages
    // without timings do not count.
    assert_eq!(
        ask(json!({"metrics": ["load_time", "orders", "quantity", "total_revenue"]})).await,
        vec![row(&[], &[500.0, 2.0, 6.0, 122.5])]
    );
    assert_eq!(
        ask(json!({"metrics": ["load_time", "bounce_rate", "visits"]})).await,
        vec![row(&[], &[500.0, 0.0, 3.0])]
    );
    assert_eq!(
        ask(json!({"metrics": ["pageviews", "load_time"], "dimensions": ["event:page"], "order_by": [["pageviews", "desc"], ["event:page", "asc"]]}))
            .await,
        vec![row(&["/home"], &[2.0, 900.0]), row(&["/shoe"], &[2.0, 500.0]), row(&["/cart"], &[1.0, 0.0]), row(&["/checkout"], &[0.0, 0.0])]
    );
    // Each timing's mean over the 4 timed page views: network (100 + 0 + 0 + 0) / 4, server
    // (200 + 500) / 4, onload (900 + 100) / 4; over visits too, and by page.
    assert_eq!(
        ask(json!({"metrics": ["network_time", "server_time", "transfer_time", "on_load_time"]})).await,
        vec![row(&[], &[25.0, 175.0, 0.0, 250.0])]
    );
    assert_eq!(ask(json!({"metrics": ["server_time", "bounce_rate"]})).await, vec![row(&[], &[175.0, 0.0])]);
    assert_eq!(
        ask(json!({"metrics": ["network_time", "on_load_time"], "dimensions": ["event:page"], "filters": [["is", "event:page", ["/shoe", "/home"]]], "order_by": [["event:page", "asc"]]}))
            .await,
        vec![row(&["/home"], &[0.0, 500.0]), row(&["/shoe"], &[50.0, 0.0])]
    );
    let performance = crate::common::json_of(
        http()
            .get(s.collector.url(
                "/index.php?module=API&method=PagePerformance.get&idSite=1&period=day&date=yesterday&format=json",
            )),
    )
    .await;
    assert_eq!(
        performance,
        json!({"avg_time_network": 0.03, "avg_time_server": 0.18, "avg_time_transfer": 0.0, "avg_time_dom_processing": 0.0,
               "avg_time_dom_completion": 0.0, "avg_time_on_load": 0.25, "avg_page_load_time": 0.45})
    );
    // Products: viewed on their page, and ordered as items (revenue = price × quantity).
    assert_eq!(
        ask(json!({"metrics": ["pageviews", "orders", "quantity", "total_revenue"], "dimensions": ["event:product_sku"]})).await,
        vec![row(&["SKU-1"], &[2.0, 1.0, 2.0, 100.0]), row(&["SKU-2"], &[0.0, 2.0, 4.0, 20.0])]
    );
    assert_eq!(
        ask(json!({"metrics": ["quantity"], "dimensions": ["event:product_category"], "filters": [["contains", "event:product_name", ["soc"]]]}))
            .await,
        vec![row(&["Socks"], &[4.0])]
    );
    // A product filter without a product dimension keeps the orders that hold the product.
    assert_eq!(
        ask(json!({"metrics": ["orders", "total_revenue"], "filters": [["is", "event:product_category", ["Socks"]]]}))
            .await,
        vec![row(&[], &[2.0, 122.5])]
    );
    assert_eq!(
        ask(json!({"metrics": ["visits", "bounce_rate"], "filters": [["is", "event:product_sku", ["SKU-1"]]]})).await,
        vec![row(&[], &[2.0, 0.0])]
    );
    // Content blocks.
    for (dimension, value) in [
        ("event:content_name", "Banner"),
        ("event:content_piece", "img.png"),
        ("event:content_target", "example.org/sale"),
    ] {
        assert_eq!(
            ask(json!({"metrics": ["impressions", "interactions"], "dimensions": [dimension]})).await,
            vec![row(&[value], &[1.0, 1.0])],
            "{dimension}"
        );
    }
    // The same items through Matomo's ecommerce item report (a public site: no token).
    let items = crate::common::json_of(http().get(s.collector.url(
        "/index.php?module=API&method=Goals.getItemsSku&idSite=1&period=day&date=yesterday&format=json&filter_sort_column=label&filter_sort_order=asc",
    )))
    .await;
    assert_eq!(
        items,
        json!([
            {"label": "SKU-1", "revenue": 100, "quantity": 2, "orders": 1, "nb_visits": 2, "avg_price": 50, "avg_quantity": 2},
            {"label": "SKU-2", "revenue": 20, "quantity": 4, "orders": 2, "nb_visits": 2, "avg_price": 5, "avg_quantity": 2},
        ])
    );
}

/// Plausible's engagement metrics and Matomo's time on page, yesterday: visit 1 reads /a (engagements: 40 % for 3 s, then
/// 80 % for 2 s) and /b (100 % for 10 s); visit 2 reads /a (60 %, 1 s); visit 3 only views /a.
/// Page visits that reported engagement: (1, /a) 80 % 5 s, (1, /b) 100 % 10 s, (2, /a) 60 % 1 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engagement_answers_match_the_hand_computed_ones() {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let at = (now / DAY * DAY - DAY + 36_000) as u32;
    let row = |visit: u64, offset: u32, kind: EventType, path: &str, depth: u8, ms: u32| Event {
        site_id: 1,
        timestamp: at + offset,
        retention_days: 180,
        visitor_id: visit,
        visit_id: visit,
        event_type: kind,
        url_host: "example.org".into(),
        url_path: path.into(),
        scroll_depth: depth,
        engaged_ms: ms,
        ..Event::default()
    };
    use EventType::{Engagement, Pageview};
    let events = [
        row(1, 0, Pageview, "/a", 0, 0),
        row(1, 5, Engagement, "/a", 40, 3000),
        row(1, 9, Engagement, "/a", 80, 2000),
        row(1, 10, Pageview, "/b", 0, 0),
        row(1, 30, Engagement, "/b", 100, 10_000),
        row(2, 0, Pageview, "/a", 0, 0),
        row(2, 2, Engagement, "/a", 60, 1000),
        row(3, 0, Pageview, "/a", 0, 0),
    ];
    let s = public_site_with("engagement", &events).await;
    let ask = |body: Value| last_week(&s, body);
    let (status, v) = ask(json!({"metrics": ["visitors", "scroll_depth", "time_on_page"]})).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(rows(&v), vec![(vec![], vec![3.0, 80.0, 5.0])]);
    let (_, v) =
        ask(json!({"metrics": ["visitors", "scroll_depth", "time_on_page"], "dimensions": ["event:page"]})).await;
    assert_eq!(rows(&v), vec![(strings(&["/a"]), vec![3.0, 70.0, 3.0]), (strings(&["/b"]), vec![1.0, 100.0, 10.0])]);
    // Counts that add up over page visits go with them: 4 page views in 3 visits.
    let (status, v) = ask(json!({"metrics": ["scroll_depth", "pageviews", "visits"]})).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(rows(&v), vec![(vec![], vec![80.0, 4.0, 3.0])]);
    // Matomo's time on page, to the visit's next hit (engagement hits are hits): visit 1 spends
    // 5 + 4 + 1 s on /a and 20 s on /b (its last hit adds nothing), visit 2 2 s on /a.
    let (_, v) = ask(json!({"metrics": ["visitors", "page_time"], "dimensions": ["event:page"]})).await;
    assert_eq!(rows(&v), vec![(strings(&["/a"]), vec![3.0, 12.0]), (strings(&["/b"]), vec![1.0, 20.0])]);
    let (_, v) = ask(json!({"metrics": ["page_time", "visits"]})).await;
    assert_eq!(rows(&v), vec![(vec![], vec![32.0, 3.0])]);
    // They are per page visit: no mixing with per-visit rates or per-hit dimensions.
    let (status, v) = ask(json!({"metrics": ["scroll_depth", "bounce_rate"]})).await;
    assert_eq!((status, v["parameter"].as_str()), (400, Some("metrics")));
    let (status, v) = ask(json!({"metrics": ["time_on_page"], "dimensions": ["event:name"]})).await;
    assert_eq!((status, v["parameter"].as_str()), (400, Some("dimensions")));
}
