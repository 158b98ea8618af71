//! The tracking protocols over real HTTP: bots, Matomo bulk, the Plausible Events API, the
//! tracker script, channels and the campaign switch.

use std::time::Duration;

use crate::common::{
    BROWSER_UA, Collector, CollectorConfig, DEMO_SITES, clickhouse, enc, eventually, http, test_geo_db, unique_database,
};

async fn wait_count(db: &str, expected: u64) {
    let ch = clickhouse();
    let sql = format!("SELECT count() FROM {db}.events");
    let reached =
        eventually(Duration::from_secs(15), || async { (ch.count(&sql).await >= expected).then_some(()) }).await;
    assert!(reached.is_some(), "expected {expected} rows, have {}", ch.count(&sql).await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(ch.count(&sql).await, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bots_are_never_stored_and_counted_by_detector() {
    let ch = clickhouse();
    let db = unique_database("bots");
    let collector = Collector::start(&CollectorConfig::new(ch, &db)).await;
    let client = reqwest::Client::new(); // no User-Agent header at all
    let url = |p: &str| {
        collector.url(&format!("/matomo.php?idsite=1&rec=1&url={}", enc(&format!("https://example.org/{p}"))))
    };
    let cases: &[(&str, &[(&str, &str)])] = &[
        ("googlebot", &[("user-agent", "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)")]),
        ("empty", &[]),
        ("curl", &[("user-agent", "curl/8.5.0")]),
        ("prefetch", &[("user-agent", BROWSER_UA), ("sec-purpose", "prefetch")]),
        ("human", &[("user-agent", BROWSER_UA)]),
    ];
    let mut bodies = Vec::new();
    for (path, headers) in cases {
        let mut request = client.get(url(path));
        for (k, v) in *headers {
            request = request.header(*k, *v);
        }
        let r = request.send().await.unwrap();
        assert_eq!(r.status(), 200);
        bodies.push(r.bytes().await.unwrap());
    }
    assert!(bodies.windows(2).all(|w| w[0] == w[1]), "a bot learns nothing from the answer");
    wait_count(&db, 1).await;
    assert_eq!(ch.query(&format!("SELECT url_path FROM {db}.events FORMAT TSV")).await, "/human\n");
    let metrics = http().get(collector.url("/metrics")).send().await.unwrap().text().await.unwrap();
    for line in [
        "mesure_events_declined_total{reason=\"bot\"} 4",
        "mesure_bots_declined_total{detector=\"empty_user_agent\"} 1",
        "mesure_bots_declined_total{detector=\"prefetch\"} 1",
        "mesure_bots_declined_total{detector=\"isbot\"} 2",
    ] {
        assert!(metrics.contains(line), "{line} missing:\n{metrics}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn matomo_bulk_requests() {
    let ch = clickhouse();
    let db = unique_database("bulk");
    let mut config = CollectorConfig::new(ch, &db);
    config.extra = format!("[ingest]\nbulk_max_requests = 5\n{}", config.extra);
    let collector = Collector::start(&config).await;
    let page = |p: &str| format!("?idsite=1&rec=1&url={}", enc(&format!("https://example.org/{p}")));
    let body = serde_json::json!({"requests": [
        page("a"), page("b"), "?idsite=99&rec=1&url=https%3A%2F%2Fexample.org%2F", "?idsite=1&rec=1&action_name=%zz", page("c"),
    ]});
    let r = http().post(collector.url("/matomo.php")).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let answer: serde_json::Value = r.json().await.unwrap();
    assert_eq!(answer, serde_json::json!({"status": "success", "tracked": 3, "invalid": 2, "invalid_indices": [2, 3]}));
    wait_count(&db, 3).await;

    let too_many = serde_json::json!({"requests": (0..6).map(|i| page(&i.to_string())).collect::<Vec<_>>()});
    let r = http().post(collector.url("/matomo.php")).json(&too_many).send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("at most 5"));
    let r = http().post(collector.url("/matomo.php")).body("{\"requests\": 3}").send().await.unwrap();
    assert_eq!(r.status(), 400);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(ch.count(&format!("SELECT count() FROM {db}.events")).await, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plausible_events_api() {
    let ch = clickhouse();
    let db = unique_database("plausible_api");
    let collector = Collector::start(&CollectorConfig::new(ch, &db)).await;
    let endpoint = collector.url("/api/event");

    let preflight = http()
        .request(reqwest::Method::OPTIONS, &endpoint)
        .header("origin", "https://example.org")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success());
    // The requesting origin, with credentials: a tracker's fetch carries the collector's opt-out
    // cookie and may read the answer.
    assert_eq!(preflight.headers()["access-control-allow-origin"], "https://example.org");
    assert_eq!(preflight.headers()["access-control-allow-credentials"], "true");

    let send = |body: &'static str| {
        let endpoint = endpoint.clone();
        async move {
            http()
                .post(endpoint)
                .header("content-type", "text/plain")
                .header("x-forwarded-for", "81.2.69.142")
                .body(body)
                .send()
                .await
                .unwrap()
        }
    };
    let r = send(r#"{"n":"pageview","u":"https://example.org/pricing?utm_source=newsletter&utm_medium=email","d":"example.org","r":"https://mail.google.com/"}"#).await;
    assert_eq!(r.status(), 202);
    assert_eq!(r.headers()["access-control-allow-origin"], "*");
    let r = send(r#"{"name":"Signup","url":"https://example.org/pricing","domain":"example.org","props":{"plan":"pro"},"revenue":{"currency":"EUR","amount":"49"}}"#).await;
    assert_eq!(r.status(), 202);
    let r = send(r#"{"n":"pageview","u":"https://example.org/","d":"unknown.example"}"#).await;
    assert_eq!(r.status(), 202, "an unknown domain is not revealed");
    let r = send(r#"{"n":"pageview","d":"example.org"}"#).await;
    assert_eq!(r.status(), 400);
    let error: serde_json::Value = r.json().await.unwrap();
    assert_eq!(error["error"], "url is required");

    wait_count(&db, 2).await;
    let rows = ch
        .query(&format!("SELECT event_type, url_path, channel, source, utm_source, utm_medium, city, revenue FROM {db}.events ORDER BY event_type FORMAT TSV"))
        .await;
    // The event belongs to the visit the newsletter brought: it carries the visit's acquisition.
    assert_eq!(
        rows,
        "pageview\t/pricing\temail\tnewsletter\tnewsletter\temail\tLondon\t0\nevent\t/pricing\temail\tnewsletter\tnewsletter\temail\tLondon\t49\n"
    );

    // A mobile app's screens, as Plausible takes them: any scheme but data: (and javascript:).
    let r = send(r#"{"n":"pageview","u":"app://localhost/screen/orders?tab=2","d":"example.org"}"#).await;
    assert_eq!((r.status().as_u16(), r.headers().get("x-plausible-dropped")), (202, None));
    let r = send(r#"{"n":"pageview","u":"data:text/html,hello","d":"example.org"}"#).await;
    assert_eq!(r.headers()["x-plausible-dropped"], "1");
    wait_count(&db, 3).await;
    let app = ch
        .query(&format!("SELECT url_host, url_path FROM {db}.events WHERE url_path LIKE '/screen/%' FORMAT TSV"))
        .await;
    assert_eq!(app, "localhost\t/screen/orders\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channels_and_the_campaign_switch() {
    let ch = clickhouse();
    let db = unique_database("channels");
    let mut config = CollectorConfig::new(ch, &db);
    config.extra = format!(
        "[geo]\ndatabase = \"{}\"\n{DEMO_SITES}\n[[sites]]\nid = 4\ndomains = [\"private.example.org\"]\nstore_campaigns = false\n",
        test_geo_db().display()
    );
    let collector = Collector::start(&config).await;
    let hit = |site: u32, url: &str, referrer: &str| {
        collector.url(&format!("/matomo.php?idsite={site}&rec=1&url={}&urlref={}", enc(url), enc(referrer)))
    };
    // Each hit from another address, so each starts its own visit (a visit keeps the
    // acquisition of its first hit).
    for (i, url) in [
        hit(1, "https://example.org/a", "https://www.google.fr/"),
        hit(1, "https://example.org/b", "https://www.example.org/a"),
        hit(1, "https://example.org/c?gclid=abc123", "https://www.google.com/"),
        hit(1, "https://example.org/d", "https://news.ycombinator.com/item?id=1"),
        hit(4, "https://private.example.org/e?utm_source=partner&utm_campaign=Spring", ""),
    ]
    .into_iter()
    .enumerate()
    {
        let r = http().get(url).header("x-forwarded-for", format!("198.51.100.{i}")).send().await.unwrap();
        assert_eq!(r.status(), 200);
    }
    wait_count(&db, 5).await;
    let rows = ch
        .query(&format!(
            "SELECT url_path, channel, source, utm_source, utm_campaign FROM {db}.events ORDER BY url_path FORMAT TSV"
        ))
        .await;
    assert_eq!(
        rows,
        "/a\tsearch\tGoogle\t\t\n/b\tinternal\t\t\t\n/c\tpaid\tGoogle\t\t\n/d\tsocial\tHacker News\t\t\n/e\tcampaign\t\t\t\n"
    );
    let dump = ch.query(&format!("SELECT * FROM {db}.events FORMAT TSV")).await;
    assert!(!dump.contains("abc123") && !dump.contains("gclid"), "click ids are never stored");
}

/// `mesure.js` and every Plausible script name (each combination of extensions) are served,
/// and each stays under 2 KB gzipped; unknown extensions are not found.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_tracker_script_is_served_and_small() {
    let ch = clickhouse();
    let collector = Collector::start(&CollectorConfig::new(ch, &unique_database("script"))).await;
    let fetch = |path: String| {
        let url = collector.url(&path);
        async move {
            let r = http().get(url).send().await.unwrap();
            assert_eq!(r.status(), 200, "{path}");
            assert!(r.headers()["content-type"].to_str().unwrap().starts_with("application/javascript"));
            r.bytes().await.unwrap()
        }
    };
    let script = fetch("/mesure.js".into()).await;
    assert_eq!(&script[..], mesure::web::tracker::Features::mesure().render().as_bytes());
    let mut largest = (gzipped_len(&script), "/mesure.js".to_string());
    let mut distinct = std::collections::BTreeSet::from([script.clone()]);
    // Every combination of Plausible's extensions but `compat` (which changes nothing), under
    // both base names, in the order given and reversed.
    let extensions: Vec<&str> =
        mesure::web::tracker::PLAUSIBLE_EXTENSIONS.iter().copied().filter(|&e| e != "compat").collect();
    for mask in 0u32..(1 << extensions.len()) {
        let chosen: Vec<&str> =
            extensions.iter().enumerate().filter(|(i, _)| mask & (1 << i) != 0).map(|(_, e)| *e).collect();
        let name = |base: &str, parts: &[&str]| {
            parts.iter().fold(format!("/js/{base}"), |path, part| format!("{path}.{part}")) + ".js"
        };
        let script = fetch(name("script", &chosen)).await;
        if mask.count_ones() > 1 {
            let reversed: Vec<&str> = chosen.iter().rev().copied().collect();
            assert_eq!(script, fetch(name("plausible", &reversed)).await, "the order of extensions matters not");
        }
        let size = gzipped_len(&script);
        distinct.insert(script);
        if size > largest.0 {
            largest = (size, name("script", &chosen));
        }
    }
    let per_site = fetch("/js/pa-AbC123_x-Y.js".into()).await;
    distinct.insert(per_site.clone());
    if gzipped_len(&per_site) > largest.0 {
        largest = (gzipped_len(&per_site), "/js/pa-AbC123_x-Y.js".into());
    }
    assert!(largest.0 < 2048, "{} is {} bytes gzipped", largest.1, largest.0);
    eprintln!("largest tracker script: {} at {} bytes gzipped", largest.1, largest.0);
    for missing in ["/js/script.unknown.js", "/js/script.hash", "/js/other.js", "/js/pa-.js", "/js/pa-a.b.js"] {
        assert_eq!(http().get(collector.url(missing)).send().await.unwrap().status(), 404, "{missing}");
    }
    // Every distinct script is valid JavaScript (compiled by Node, not run).
    let scripts: Vec<String> = distinct.iter().map(|s| String::from_utf8(s.to_vec()).unwrap()).collect();
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), serde_json::to_string(&scripts).unwrap()).unwrap();
    let check = std::process::Command::new("node")
        .args([
            "-e",
            "for (const s of JSON.parse(require('fs').readFileSync(process.argv[1], 'utf8'))) new Function(s)",
        ])
        .arg(file.path())
        .output()
        .unwrap();
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stderr));
    assert!(scripts.len() > 100, "{} distinct scripts", scripts.len());
    let script = String::from_utf8(script.to_vec()).unwrap();
    for promise in [
        "doNotTrack",
        "globalPrivacyControl",
        "mesure_optout",
        "plausible_ignore",
        "sendBeacon",
        "keepalive",
        "pushState",
    ] {
        assert!(script.contains(promise), "{promise}");
    }
    assert!(!script.contains("document.cookie ="), "the script never sets a cookie");
}

fn gzipped_len(bytes: &[u8]) -> usize {
    let mut gzip = std::process::Command::new("gzip")
        .arg("-9c")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    gzip.stdin.take().unwrap().write_all(bytes).unwrap();
    gzip.wait_with_output().unwrap().stdout.len()
}
