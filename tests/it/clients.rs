//! Real tracking clients, not written by us, against a running collector: the official Matomo
//! Node client, and in headless Chromium the official Plausible tracker and our `mesure.js`
//! (also with GPC and DNT set, when it must send nothing). The Node programs are in
//! `tests/clients/` (installed with `npm ci` there by scripts/test.sh).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::common::{Collector, CollectorConfig, REPO, clickhouse, eventually, unique_database};

fn node(script: &str, args: &[&str]) -> String {
    let dir = Path::new(REPO).join("tests/clients");
    assert!(dir.join("node_modules").is_dir(), "run `npm ci` in tests/clients first (scripts/test.sh does)");
    let out = Command::new("node").arg(script).args(args).current_dir(&dir).output().expect("node is installed");
    assert!(
        out.status.success(),
        "{script} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

async fn rows_where(db: &str, query: &str, expected: usize) -> Vec<String> {
    let ch = clickhouse();
    let sql = format!("{query} FORMAT TSV").replace("{db}", db);
    let lines = eventually(Duration::from_secs(15), || async {
        let text = ch.query(&sql).await;
        let lines: Vec<String> = text.lines().map(str::to_string).collect();
        (lines.len() >= expected).then_some(lines)
    })
    .await;
    lines.unwrap_or_else(|| panic!("fewer than {expected} rows for {sql}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_matomo_node_client() {
    let ch = clickhouse();
    let db = unique_database("matomo_client");
    let collector = Collector::start(&CollectorConfig::new(ch, &db)).await;
    let base = collector.url("");
    let answer = tokio::task::spawn_blocking(move || node("matomo.mjs", &[&base])).await.unwrap();
    let answer: serde_json::Value = serde_json::from_str(&answer).expect("bulk answer is JSON");
    assert_eq!(answer["status"], "success");
    assert_eq!(answer["tracked"], 4);
    assert_eq!(answer["invalid"], 0);

    let rows = rows_where(
        &db,
        "SELECT url_path, event_type, page_title, event_category, event_action, event_name, search_keyword, channel, source, browser FROM {db}.events ORDER BY url_path",
        7,
    )
    .await;
    assert_eq!(
        rows,
        vec![
            "/node/bulk/1\tpageview\tBulk 1\t\t\t\t\tdirect\t\tChrome",
            "/node/bulk/2\tpageview\tBulk 2\t\t\t\t\tdirect\t\tChrome",
            "/node/bulk/3\tpageview\tBulk 3\t\t\t\t\tdirect\t\tChrome",
            "/node/bulk/4\tpageview\tBulk 4\t\t\t\t\tdirect\t\tChrome",
            "/node/event\tevent\t\tVideo\tPlay\tIntro\t\tdirect\t\tChrome",
            "/node/search\tsearch\t\t\t\t\topening hours\tdirect\t\tChrome",
            "/node/single\tpageview\tNode single\t\t\t\t\tsearch\tQwant\tFirefox",
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plausible_tracker_and_mesure_js_in_chromium() {
    let ch = clickhouse();
    let db = unique_database("browser_clients");
    let collector = Collector::start(&CollectorConfig::new(ch, &db)).await;
    let artifacts = Path::new(REPO).join("target/test-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let base = collector.url("");
    let dir = artifacts.display().to_string();
    let sent = tokio::task::spawn_blocking(move || node("browser.mjs", &[&base, &dir])).await.unwrap();
    let sent: serde_json::Value = serde_json::from_str(&sent).expect("scenario counts are JSON");

    // With GPC or DNT set, our script sends nothing at all.
    assert_eq!(sent["mesure_gpc"], 0, "{sent}");
    assert_eq!(sent["mesure_dnt"], 0, "{sent}");
    assert_eq!(sent["mesure"], 5, "pageview, SPA pageview, custom event, outbound link, download: {sent}");

    let mesure = rows_where(
        &db,
        "SELECT url_path, event_type, event_name, link_url, arrayStringConcat(arrayMap((k, v) -> concat(k, '=', v), prop_keys, prop_values), ',') FROM {db}.events WHERE url_path LIKE '/mesure/%' ORDER BY event_type, url_path",
        5,
    )
    .await;
    let host = "127.0.0.1";
    assert_eq!(
        mesure,
        vec![
            "/mesure/index.html\tpageview\t\t\t".to_string(),
            "/mesure/second\tpageview\t\t\t".to_string(),
            "/mesure/second\tevent\tSignup\t\tplan=pro".to_string(),
            "/mesure/second\toutlink\tOutbound Link: Click\toutbound.example/page\t".to_string(),
            format!("/mesure/second\tdownload\tFile Download\t{host}/files/report.pdf\t"),
        ]
    );

    let plausible = rows_where(
        &db,
        "SELECT url_path, event_type, event_name, link_url FROM {db}.events WHERE url_path LIKE '/plausible/%' AND event_type != 'ping' ORDER BY event_type, url_path",
        5,
    )
    .await;
    assert_eq!(
        plausible,
        vec![
            "/plausible/index.html\tpageview\t\t".to_string(),
            "/plausible/second\tpageview\t\t".to_string(),
            "/plausible/second\tevent\tPurchase\t".to_string(),
            "/plausible/second\toutlink\tOutbound Link: Click\toutbound.example/page".to_string(),
            format!("/plausible/second\tdownload\tFile Download\t{host}/files/report.pdf"),
        ]
    );
    let none = ch
        .count(&format!("SELECT count() FROM {db}.events WHERE url_path IN ('/mesure/gpc.html', '/mesure/dnt.html')"))
        .await;
    assert_eq!(none, 0);
    // Every browser row carries the parsed user agent, never the raw one.
    let browsers = ch.query(&format!("SELECT DISTINCT browser, os, device FROM {db}.events FORMAT TSV")).await;
    assert_eq!(browsers.trim(), "Chrome\tLinux\tdesktop");
}

/// Matomo's own `matomo.js`, served by the collector and loaded by Matomo's standard snippet
/// with only the host changed, in headless Chromium with real clicks: page views, outlinks and
/// downloads, a custom event; no cookie on a cookieless site, the visitor cookie with the
/// collector's lifetime on a cookie-mode site; the XHR path without duplicates; and a browser
/// that opted out with an earlier Matomo install stores nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn matomo_js_from_the_collector_in_chromium() {
    let ch = clickhouse();
    let db = unique_database("matomo_js");
    let mut config = CollectorConfig::new(ch, &db);
    config.extra = config.extra.replace("retention = \"13mo\"", "retention = \"13mo\"\ncookie_mode = true");
    assert!(config.extra.contains("cookie_mode = true"));
    let collector = Collector::start(&config).await;
    let artifacts = Path::new(REPO).join("target/test-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let base = collector.url("");
    let dir = artifacts.display().to_string();
    let seen = tokio::task::spawn_blocking(move || node("matomo-browser.mjs", &[&base, &dir])).await.unwrap();
    let seen: serde_json::Value = serde_json::from_str(&seen).expect("scenario results are JSON");

    for scenario in ["cookieless", "cookie_mode", "xhr", "ignored"] {
        assert_eq!(seen[scenario]["script"], 200, "{scenario}: matomo.js not served: {seen}");
        assert_eq!(seen[scenario]["failures"], serde_json::json!([]), "{scenario}: failed requests: {seen}");
    }
    // A cookieless site: matomo.js sets no cookie at all.
    assert_eq!(seen["cookieless"]["cookies"], serde_json::json!([]), "{seen}");
    assert_eq!(seen["ignored"]["cookies"], serde_json::json!([]), "{seen}");
    // A cookie-mode site: the visitor cookie lives as long as the collector honours it.
    let cookies = seen["cookie_mode"]["cookies"].as_array().unwrap();
    let id = cookies.iter().find(|c| c["name"].as_str().unwrap().starts_with("_pk_id.2.")).expect("the visitor cookie");
    let days = id["days"].as_i64().unwrap();
    assert!((394..=396).contains(&days), "visitor cookie kept {days} days: {seen}");
    // The XHR path: POSTs that succeed (no image fallback, hence no duplicate).
    assert_eq!(seen["xhr"]["requests"], serde_json::json!(["POST", "POST"]), "{seen}");

    let rows = rows_where(
        &db,
        "SELECT site_id, url_path, event_type, page_title, event_category, event_action, event_name, link_url FROM {db}.events ORDER BY site_id, url_path, event_type",
        7,
    )
    .await;
    assert_eq!(
        rows,
        vec![
            "1\t/matomo/index.html\tpageview\tMatomo\t\t\t\t",
            "1\t/matomo/index.html\tevent\t\tVideo\tPlay\tIntro\t",
            "1\t/matomo/index.html\toutlink\t\t\t\t\toutbound.example/page",
            "1\t/matomo/index.html\tdownload\t\t\t\t\t127.0.0.1/files/report.pdf",
            "1\t/matomo/xhr.html\tpageview\tXHR\t\t\t\t",
            "1\t/matomo/xhr.html\tevent\t\tVideo\tPlay\tXHR\t",
            "2\t/matomo/cookie.html\tpageview\tCookie site\t\t\t\t",
        ]
    );
}

/// Matomo's opt-out at Matomo's URLs, embedded as Matomo's privacy settings give it, with only
/// the host changed: the iframe (untick → that browser's hits store nothing; tick → counted
/// again; styled by its parameters; in French), the same page without JavaScript (a Save
/// button), and optOutJS next to `matomo.js` (the tracker itself then sends nothing).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn matomo_opt_out_in_chromium() {
    let ch = clickhouse();
    let db = unique_database("matomo_optout");
    let collector = Collector::start(&CollectorConfig::new(ch, &db)).await;
    let artifacts = Path::new(REPO).join("target/test-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let base = collector.url("");
    let dir = artifacts.display().to_string();
    let seen = tokio::task::spawn_blocking(move || node("matomo-optout.mjs", &[&base, &dir])).await.unwrap();
    let seen: serde_json::Value = serde_json::from_str(&seen).expect("scenario results are JSON");
    let text = |key: &str| seen[key].as_str().unwrap_or_else(|| panic!("{key} missing: {seen}")).to_string();

    // The iframe: French, styled, ticked while counted.
    assert!(text("iframe_intro").contains("Vous pouvez choisir"), "{seen}");
    assert_eq!(seen["iframe_checked_before"], true, "{seen}");
    assert_eq!(seen["iframe_background"], "rgb(255, 238, 221)", "{seen}");
    assert!(text("iframe_font").contains("Arial"), "{seen}");
    assert!(text("iframe_confirmation").contains("Votre choix est enregistré"), "{seen}");
    assert_eq!(seen["iframe_checked_after"], false, "{seen}");
    assert_eq!(seen["iframe_checked_back"], true, "{seen}");
    // Without JavaScript: a Save button, and the collector's own opt-out cookie.
    assert_eq!(seen["nojs_save_visible"], true, "{seen}");
    assert!(text("nojs_confirmation").contains("You are opted out"), "{seen}");
    assert!(seen["nojs_cookies"].as_array().unwrap().iter().any(|c| c == "mesure_optout"), "{seen}");
    // optOutJS: the browser's language, Matomo's own consent-removed state, and matomo.js then
    // sends nothing at all.
    assert!(text("js_text_before").contains("Vos visites sont comptées"), "{seen}");
    assert_eq!(seen["js_checked_before"], true, "{seen}");
    assert!(text("js_text_opted_out").contains("Opposition enregistrée"), "{seen}");
    assert_eq!(seen["js_hits_after"], 0, "{seen}");
    assert_eq!(seen["js_checked_after"], false, "{seen}");
    assert_eq!(seen["js_cookies_after"], serde_json::json!(["mtm_consent_removed"]), "{seen}");
    assert_eq!(seen["js_hits_on_opt_in"], 1, "{seen}");
    assert_eq!(seen["js_hits_back"], 1, "{seen}");

    // Stored: the visits before opting out and after opting back in, nothing in between.
    let rows = rows_where(&db, "SELECT url_path FROM {db}.events ORDER BY url_path", 5).await;
    assert_eq!(
        rows,
        vec!["/iframe/back.html", "/iframe/before.html", "/js/again.html", "/js/back.html", "/js/before.html"]
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    let all = ch.count(&format!("SELECT count() FROM {db}.events")).await;
    assert_eq!(all, 5, "a hit of an opted-out browser was stored");
}
