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

    // Read to the end for 3.5 s, then left: a page view, then one engagement report of the
    // whole depth and at least 3 s, in the page view's visit.
    let long = rows_where(
        &db,
        "SELECT event_type, scroll_depth, engaged_ms >= 3000, visit_id FROM {db}.events WHERE url_path = '/mesure/long.html' ORDER BY event_type",
        2,
    )
    .await;
    let long: Vec<Vec<&str>> = long.iter().map(|l| l.split('\t').collect()).collect();
    assert_eq!(long.len(), 2, "{long:?}");
    assert_eq!(&long[0][..3], ["pageview", "0", "0"], "{long:?}");
    assert_eq!(&long[1][..3], ["engagement", "100", "1"], "{long:?}");
    assert_eq!(long[0][3], long[1][3], "the engagement is in the page view's visit");
    // With GPC or DNT set, our script sends nothing at all.
    assert_eq!(sent["mesure_gpc"], 0, "{sent}");
    assert_eq!(sent["mesure_dnt"], 0, "{sent}");
    assert_eq!(sent["mesure"], 5, "pageview, SPA pageview, custom event, outbound link, download: {sent}");

    let mesure = rows_where(
        &db,
        "SELECT url_path, event_type, event_name, link_url, arrayStringConcat(arrayMap((k, v) -> concat(k, '=', v), prop_keys, prop_values), ',') FROM {db}.events WHERE url_path LIKE '/mesure/%' AND url_path != '/mesure/long.html' ORDER BY event_type, url_path",
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

    // Plausible's own tracker (npm) with page views, SPA navigation, a custom event with props
    // and revenue, outbound link and download clicks, tagged clicks.
    let projection = "SELECT url_path, event_type, event_name, link_url, arrayStringConcat(arraySort(arrayMap((k, v) -> concat(k, '=', v), prop_keys, prop_values)), ','), revenue, revenue_currency FROM {db}.events";
    let plausible = rows_where(
        &db,
        &format!("{projection} WHERE url_path LIKE '/plausible/%' AND url_path != '/plausible/long.html' AND event_type != 'engagement' ORDER BY event_type, url_path, event_name"),
        7,
    )
    .await;
    let page_port =
        plausible.iter().find_map(|r| r.split("127.0.0.1:").nth(1)).map(|p| p[..p.find('/').unwrap()].to_string());
    let page_port = page_port.expect("the tagged link's url prop names the page's host");
    assert_eq!(
        plausible,
        vec![
            "/plausible/index.html\tpageview\t\t\t\t0\t".to_string(),
            "/plausible/second\tpageview\t\t\t\t0\t".to_string(),
            "/plausible/second\tevent\tSignup\t\tplan=pro\t12.5\tEUR".to_string(),
            "/plausible/second\tevent\tTagged Click\t\tcolor=blue\t0\t".to_string(),
            format!("/plausible/second\tevent\tTagged Link\t\turl=http://127.0.0.1:{page_port}/pl/terms\t0\t"),
            "/plausible/second\toutlink\tOutbound Link: Click\toutbound.example/page\t\t0\t".to_string(),
            format!("/plausible/second\tdownload\tFile Download\t{host}/files/report.pdf\t\t0\t"),
        ]
    );
    // Plausible's tracker reports engagement when a page is left (SPA navigation, page hide):
    // stored as engagements of those pages, in the visit of their page views, with a scroll
    // depth (known or 255) and never as page views.
    let engagement = ch
        .query(&format!(
            "SELECT groupUniqArray(url_path), countIf(visit_id NOT IN (SELECT visit_id FROM {db}.events WHERE event_type = 'pageview')), countIf(scroll_depth > 100 AND scroll_depth != 255) FROM {db}.events WHERE url_path LIKE '/plausible/%' AND event_type = 'engagement' FORMAT TSV"
        ))
        .await;
    let fields: Vec<&str> = engagement.trim().split('\t').collect();
    assert!(fields[0].contains("/plausible/index.html"), "no engagement for the first page: {engagement}");
    assert_eq!(&fields[1..], ["0", "0"], "an engagement outside its page's visit, or a bad depth: {engagement}");
    let none = ch
        .count(&format!("SELECT count() FROM {db}.events WHERE url_path IN ('/mesure/gpc.html', '/mesure/dnt.html')"))
        .await;
    assert_eq!(none, 0);
    // Plausible's tracker sends with DNT or GPC (it does not read them), the collector stores
    // nothing; with plausible_ignore the tracker sends nothing.
    assert!(
        sent["plausible_dnt"].as_u64().unwrap() > 0 && sent["plausible_gpc_header"].as_u64().unwrap() > 0,
        "{sent}"
    );
    assert_eq!(sent["plausible_ignored"], 0, "{sent}");
    let none = ch
        .count(&format!("SELECT count() FROM {db}.events WHERE url_path LIKE '/plausible/%' AND url_path NOT IN ('/plausible/index.html', '/plausible/second', '/plausible/long.html')"))
        .await;
    assert_eq!(none, 0, "a hit from a browser with DNT or GPC was stored");
    // Engagement with real scrolling, with Plausible's tracker and with our script under its
    // name: the whole depth and over 3 s, in the page view's visit.
    for path in ["/plausible/long.html", "/pl/long.html"] {
        let long = rows_where(
            &db,
            &format!("SELECT event_type, scroll_depth, engaged_ms >= 3000, visit_id FROM {{db}}.events WHERE url_path = '{path}' AND event_type IN ('pageview', 'engagement') ORDER BY event_type, engaged_ms DESC"),
            2,
        )
        .await;
        let long: Vec<Vec<&str>> = long.iter().map(|l| l.split('\t').collect()).collect();
        assert_eq!(&long[0][..1], ["pageview"], "{path}: {long:?}");
        assert_eq!(&long[1][..3], ["engagement", "100", "1"], "{path}: {long:?}");
        assert_eq!(long[0][3], long[1][3], "{path}: the engagement is in the page view's visit");
    }

    // Our script under Plausible's names, loaded by Plausible's snippets: the same rows as
    // Plausible's own tracker for the same clicks, plus what the extensions add (the queued
    // call, pageview props from event-* attributes).
    assert_eq!(sent["variant"], 8, "{sent}");
    let variant = rows_where(
        &db,
        &format!("{projection} WHERE url_path LIKE '/pl/%' AND event_type != 'engagement' AND url_path NOT IN ('/pl/secret.html', '/pl/manual.html', '/pl/virtual', '/pl/site.html', '/pl/long.html') ORDER BY event_type, url_path, event_name"),
        8,
    )
    .await;
    let same_as_plausible: Vec<String> = variant
        .iter()
        .filter(|r| !r.contains("\tQueued\t"))
        .map(|r| {
            r.replace("/pl/", "/plausible/")
                .replace("/plausible/terms", "/pl/terms")
                .replace("example.org:", "127.0.0.1:")
                .replace("example.org/", &format!("{host}/"))
                .replace("author=Ada,", "")
                .replace("author=Ada", "")
        })
        .collect();
    assert_eq!(same_as_plausible, plausible, "the same clicks make the same rows with either script");
    let port =
        variant.iter().find_map(|r| r.split("example.org:").nth(1)).map(|p| p[..p.find('/').unwrap()].to_string());
    let port = port.expect("the tagged link's url prop names the page's host");
    assert_eq!(
        variant,
        vec![
            "/pl/index.html\tpageview\t\t\tauthor=Ada\t0\t".to_string(),
            "/pl/second\tpageview\t\t\tauthor=Ada\t0\t".to_string(),
            "/pl/index.html\tevent\tQueued\t\tauthor=Ada,early=yes\t0\t".to_string(),
            "/pl/second\tevent\tSignup\t\tauthor=Ada,plan=pro\t12.5\tEUR".to_string(),
            "/pl/second\tevent\tTagged Click\t\tauthor=Ada,color=blue\t0\t".to_string(),
            format!("/pl/second\tevent\tTagged Link\t\tauthor=Ada,url=http://example.org:{port}/pl/terms\t0\t"),
            "/pl/second\toutlink\tOutbound Link: Click\toutbound.example/page\tauthor=Ada\t0\t".to_string(),
            "/pl/second\tdownload\tFile Download\texample.org/files/report.pdf\tauthor=Ada\t0\t".to_string(),
        ]
    );
    // data-exclude: no page view on an excluded path (a custom event still goes); plausible_ignore,
    // GPC and a page on localhost: nothing at all.
    assert_eq!(sent["excluded"], 1, "{sent}");
    let excluded =
        rows_where(&db, "SELECT event_type, event_name FROM {db}.events WHERE url_path = '/pl/secret.html'", 1).await;
    assert_eq!(excluded, vec!["event\tQueued".to_string()]);
    assert_eq!(
        (&sent["ignored"], &sent["plausible_gpc"], &sent["localhost"]),
        (&0.into(), &0.into(), &0.into()),
        "{sent}"
    );
    // script.manual.js: no automatic page view; plausible("pageview", {u}) sends the URL given.
    assert_eq!(sent["manual"], 2, "{sent}");
    let manual = rows_where(&db, "SELECT url_path, event_type, event_name FROM {db}.events WHERE url_path IN ('/pl/manual.html', '/pl/virtual') ORDER BY event_type", 2).await;
    assert_eq!(manual, vec!["/pl/virtual\tpageview\t".to_string(), "/pl/manual.html\tevent\tQueued".to_string()]);
    // The per-site script with plausible.init({customProperties}): the page's host is the site,
    // the callback gets the answer's status.
    assert_eq!(sent["per_site"], 2, "{sent}");
    assert_eq!(sent["per_site_callback"], serde_json::json!({"status": 202}), "{sent}");
    let per_site = rows_where(
        &db,
        "SELECT site_id, event_type, event_name, arrayStringConcat(arrayMap((k, v) -> concat(k, '=', v), prop_keys, prop_values), ',') FROM {db}.events WHERE url_path = '/pl/site.html' ORDER BY event_type",
        2,
    )
    .await;
    assert_eq!(per_site, vec!["1\tpageview\t\ttier=gold".to_string(), "1\tevent\tCallback\ttier=gold".to_string()]);
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
    // Site 1's stats are public here, to read the shop's figures from the stats API.
    config.extra = config.extra.replacen("id = 1\n", "id = 1\npublic = true\n", 1);
    let collector = Collector::start(&config).await;
    let artifacts = Path::new(REPO).join("target/test-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let base = collector.url("");
    let dir = artifacts.display().to_string();
    let seen = tokio::task::spawn_blocking(move || node("matomo-browser.mjs", &[&base, &dir])).await.unwrap();
    let seen: serde_json::Value = serde_json::from_str(&seen).expect("scenario results are JSON");

    for scenario in
        ["cookieless", "cookie_mode", "xhr", "ignored", "actions", "shop", "windows", "android", "heartbeat"]
    {
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
        "SELECT site_id, url_path, event_type, page_title, event_category, event_action, event_name, link_url FROM {db}.events WHERE url_path NOT IN ('/matomo/actions.html', '/matomo/spa.html', '/matomo/second.html', '/matomo/shop.html', '/matomo/windows.html', '/matomo/android.html', '/matomo/heartbeat.html', '/matomo/product.html') ORDER BY site_id, url_path, event_type",
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

    // `pv_id`: the event and the clicks on the first page carry its page view's id; its
    // performance timings came with it.
    let ids = ch
        .query(&format!(
            "SELECT uniqExact(page_view_id), countIf(page_view_id = ''), max(perf_network_ms + perf_server_ms + perf_transfer_ms + perf_dom_processing_ms + perf_dom_completion_ms + perf_on_load_ms) FROM {db}.events WHERE url_path = '/matomo/index.html' FORMAT TSV"
        ))
        .await;
    let fields: Vec<u64> = ids.split_whitespace().map(|f| f.parse().unwrap()).collect();
    assert_eq!(&fields[..2], &[1, 0], "one page-view id for the page and its actions: {ids}");
    assert!(fields[2] > 0, "no performance timings: {ids}");
    // The search results page is a search; the content block's impression and the click on it
    // are content rows; the SPA page view carries its custom dimension; the explicit search and
    // the goal are what they are; the second page, loaded by a real click, is a page view; the
    // Media Analytics request is not stored (not yet supported), and counted.
    let actions = rows_where(
        &db,
        "SELECT url_path, event_type, page_title, search_keyword, search_category, search_count, goal_id, revenue, arrayStringConcat(arrayMap((k, v) -> concat(k, '=', v), prop_keys, prop_values), ',') FROM {db}.events WHERE url_path IN ('/matomo/actions.html', '/matomo/spa.html', '/matomo/second.html') ORDER BY url_path, event_type",
        8,
    )
    .await;
    assert_eq!(
        actions,
        vec![
            // The click on the content block's link: an outlink and a content interaction.
            "/matomo/actions.html\toutlink\t\t\t\t0\t0\t0\t",
            // A search sent without a result count: the count is unknown (u32::MAX), not 0.
            "/matomo/actions.html\tsearch\tActions\topening hours\t\t4294967295\t0\t0\t",
            "/matomo/actions.html\tcontent_impression\t\t\t\t0\t0\t0\t",
            "/matomo/actions.html\tcontent_interaction\t\t\t\t0\t0\t0\t",
            "/matomo/second.html\tpageview\tSecond\t\t\t0\t0\t0\t",
            "/matomo/spa.html\tpageview\tSPA\t\t\t0\t0\t0\tdimension1=gold",
            // matomo.js sends no title with a search or a goal, and the dimension with each.
            "/matomo/spa.html\tsearch\t\thoraires\tpages\t3\t0\t0\tdimension1=gold",
            "/matomo/spa.html\tgoal\t\t\t\t0\t3\t19.9\tdimension1=gold",
        ]
    );
    let content = rows_where(
        &db,
        "SELECT event_type, event_name, event_action, content_piece, content_target, non_interactive FROM {db}.events WHERE event_type IN ('content_impression', 'content_interaction') ORDER BY event_type",
        2,
    )
    .await;
    assert_eq!(
        content,
        vec![
            "content_impression\tSpring banner\t\tspring.png\texample.org/sale\t1",
            "content_interaction\tSpring banner\tclick\tspring.png\texample.org/sale\t0",
        ]
    );
    let metrics = crate::common::http().get(collector.url("/metrics")).send().await.unwrap().text().await.unwrap();
    let unsupported = metrics
        .lines()
        .find(|l| l.starts_with("mesure_events_declined_total{reason=\"unsupported\"}"))
        .and_then(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .unwrap_or(0);
    assert!(unsupported >= 1, "the Media Analytics request was not counted: {metrics}");

    // A product page: one page view carrying the product it shows.
    let product = rows_where(
        &db,
        "SELECT event_type, page_title, product_sku, product_name, product_category, product_price FROM {db}.events WHERE url_path = '/matomo/product.html'",
        1,
    )
    .await;
    assert_eq!(product, vec!["pageview\tProduct\tSKU1\tMug\tKitchen\t12.5"]);
    // Client hints (matomo.js's `uadata`, Chromium's Sec-CH-UA headers): Windows 11 and
    // Android 14, which the frozen user agents report as Windows 10 and Android 10.
    let hinted = rows_where(
        &db,
        "SELECT url_path, event_type, browser, browser_version, os, os_version, device FROM {db}.events WHERE url_path IN ('/matomo/windows.html', '/matomo/android.html') ORDER BY url_path",
        2,
    )
    .await;
    assert_eq!(
        hinted,
        vec![
            "/matomo/android.html	pageview	Chrome Mobile	131	Android	14	mobile",
            "/matomo/windows.html	pageview	Chrome	131	Windows	11	desktop",
        ]
    );
    // The heartbeat: leaving the page after 6 s sends a ping, which extends the page's visit
    // and is no page view.
    let beats = rows_where(
        &db,
        "SELECT event_type, visit_id, timestamp FROM {db}.events WHERE url_path = '/matomo/heartbeat.html' ORDER BY timestamp, event_type",
        2,
    )
    .await;
    let beats: Vec<Vec<&str>> = beats.iter().map(|l| l.split('\t').collect()).collect();
    assert_eq!(beats.iter().map(|b| b[0]).collect::<Vec<_>>(), ["pageview", "ping"], "{beats:?}");
    assert_eq!(beats[0][1], beats[1][1], "the ping belongs to the page's visit: {beats:?}");
    assert!(beats[1][2] > beats[0][2], "the ping extends the visit: {beats:?}");

    // The shop: the cart update and the order are what they are, with their items; neither is
    // a page view.
    let shop = rows_where(
        &db,
        "SELECT event_type, revenue, ec_order_id, ec_subtotal, ec_tax, ec_shipping, ec_discount, arrayStringConcat(arrayMap((s, n, c, p, q) -> concat(s, ':', n, ':', c, ':', toString(p), ':', toString(q)), ec_item_skus, ec_item_names, ec_item_categories, ec_item_prices, ec_item_quantities), ',') FROM {db}.events WHERE url_path = '/matomo/shop.html' ORDER BY event_type",
        3,
    )
    .await;
    assert_eq!(
        shop,
        vec![
            "pageview\t0\t\t0\t0\t0\t0\t",
            "order\t30.5\tA-10\t25.5\t4.25\t5\t1.5\tSKU1:Mug:Kitchen:12.5:1,SKU2:Tea:Food/Tea:6.5:2",
            "cart\t25.5\t\t0\t0\t0\t0\tSKU1:Mug:Kitchen:12.5:1,SKU2:Tea:Food/Tea:6.5:2",
        ]
    );
    // The stats API: one order, and the revenue of the order and of the goal above.
    let answer: serde_json::Value = crate::common::http()
        .post(collector.url("/api/v1/query"))
        .json(&serde_json::json!({"site_id": 1, "metrics": ["orders", "total_revenue"], "date_range": "day"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["results"][0]["metrics"], serde_json::json!([1, 50.4]), "{answer}");
}

/// Matomo's opt-out at Matomo's URLs, embedded as Matomo's privacy settings give it, with only
/// the host changed: the iframe (untick → that browser's hits store nothing; tick → counted
/// again; styled by its parameters; in French), the same page without JavaScript (a Save
/// button), and optOutJS next to `matomo.js` (the tracker itself then sends nothing).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn matomo_opt_out_in_chromium() {
    let ch = clickhouse();
    let db = unique_database("matomo_optout");
    let mut config = CollectorConfig::new(ch, &db);
    // The site's privacy page is served from 127.0.0.1 here: the opt-out may only be framed by
    // the site's own domains.
    config.extra = config.extra.replacen(
        "domains = [\"example.org\", \"www.example.org\"]",
        "domains = [\"example.org\", \"www.example.org\", \"127.0.0.1\"]",
        1,
    );
    assert!(config.extra.contains("\"127.0.0.1\""));
    let collector = Collector::start(&config).await;
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

/// Matomo's official PHP tracker (vendored unchanged in `tests/clients/php/`, run with
/// `php-cli`): single hits, `setVisitorId`, site search, bulk tracking (whose items are absolute
/// tracker URLs), and with the site's token the visitor's address, a back-dated hit and no user
/// agent, single and bulk.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_matomo_php_tracker() {
    const TOKEN: &str = "php-server-token";
    let ch = clickhouse();
    let db = unique_database("php_tracker");
    let mut config = CollectorConfig::new(ch, &db);
    let digest = crate::stats::sha256(TOKEN);
    config.extra = config.extra.replacen(
        "domains = [\"example.org\", \"www.example.org\"]",
        &format!("domains = [\"example.org\", \"www.example.org\"]\ntoken_auth_sha256 = \"{digest}\""),
        1,
    );
    let collector = Collector::start(&config).await;
    let base = collector.url("/matomo.php");
    let dir = Path::new(REPO).join("tests/clients");
    let out = tokio::task::spawn_blocking(move || {
        Command::new("php").arg("php-tracker.php").arg(&base).arg(TOKEN).current_dir(&dir).output()
    })
    .await
    .unwrap()
    .expect("php-cli is installed (scripts/test.sh installs it)");
    assert!(out.status.success(), "{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let answers: serde_json::Value = serde_json::from_slice(&out.stdout).expect("the answers are JSON");
    // Single hits get the 43-byte GIF; bulk requests Matomo's answer.
    for single in ["single", "event", "search", "server"] {
        assert_eq!(answers[single], 43, "{single}: {answers}");
    }
    assert_eq!(answers["bulk"]["status"], "success", "{answers}");
    assert_eq!((answers["bulk"]["tracked"].as_u64(), answers["bulk"]["invalid"].as_u64()), (Some(3), Some(0)));
    assert_eq!(answers["server_bulk"]["tracked"], 1, "{answers}");
    let rows = rows_where(
        &db,
        "SELECT url_path, event_type, page_title, event_category, event_action, event_name, search_keyword, channel, source, browser, city FROM {db}.events ORDER BY url_path",
        8,
    )
    .await;
    // One visitor (same address and browser): every hit carries the visit's first referrer.
    assert_eq!(
        rows,
        vec![
            "/php/bulk/1\tpageview\tBulk 1\t\t\t\t\tsearch\tQwant\tFirefox\t",
            "/php/bulk/2\tpageview\tBulk 2\t\t\t\t\tsearch\tQwant\tFirefox\t",
            "/php/bulk/3\tpageview\tBulk 3\t\t\t\t\tsearch\tQwant\tFirefox\t",
            "/php/event\tevent\t\tVideo\tPlay\tIntro\t\tsearch\tQwant\tFirefox\t",
            "/php/search\tsearch\t\t\t\t\topening hours\tsearch\tQwant\tFirefox\t",
            "/php/server\tpageview\tServer side\t\t\t\t\tdirect\t\t\tLondon",
            "/php/server-bulk\tpageview\tServer bulk\t\t\t\t\tdirect\t\t\tLondon",
            "/php/single\tpageview\tPHP single\t\t\t\t\tsearch\tQwant\tFirefox\t",
        ]
    );
    // The back-dated hits kept their time (two hours ago, not now).
    let back_dated = ch
        .count(&format!(
            "SELECT count() FROM {db}.events WHERE url_path LIKE '/php/server%' AND timestamp < now() - 3600"
        ))
        .await;
    assert_eq!(back_dated, 2);
}

/// Percent-encodes `value`, leaving alone the bytes `keep` says.
fn encode_with(value: &str, keep: impl Fn(u8) -> bool, space: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b' ' => space.to_string(),
            b if b.is_ascii_alphanumeric() || keep(b) => (b as char).to_string(),
            b => format!("%{b:02X}"),
        })
        .collect()
}

/// `java.net.URLEncoder` then `replaceAll("\\+", "%20")`, as the Android SDK's Event.java does.
fn android_encode(value: &str) -> String {
    encode_with(value, |b| b".-*_".contains(&b), "%20")
}

/// `addingPercentEncoding(withAllowedCharacters: .urlQueryParameterAllowed)`, as the iOS SDK's
/// EventAPISerializer.swift does: `urlQueryAllowed` less `&/?;',+"!^()=@*$`.
fn ios_encode(value: &str) -> String {
    encode_with(value, |b| b"-._~:".contains(&b), "%20")
}

fn query_of(pairs: &[(&str, String)], encode: fn(&str) -> String) -> String {
    let items: Vec<String> = pairs.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect();
    format!("?{}", items.join("&"))
}

/// Request forms of the official mobile SDKs, built exactly as their code builds them, land:
/// - Android, matomo-org/matomo-sdk-android at b11fe80: `Tracker.java` (`injectBaseParams`:
///   `cdt` as `yyyy-MM-dd HH:mm:ssZ`, `send_image=0`, `ua` = the system's `http.agent`, a
///   Dalvik string), `dispatcher/Event.java` (URLEncoder, spaces as `%20`) and
///   `dispatcher/PacketFactory.java` (one event: GET of the API URL and the query; several:
///   POST `{"requests": ["?…", …]}`, at most 20);
/// - iOS, matomo-org/matomo-sdk-ios at 32c2353: `EventAPISerializer.swift` (always POST
///   `{"requests": ["?…"]}`, `cdt` as ISO 8601 with milliseconds in UTC, `cid` when the app
///   forces a visitor id, no token) and `URLSessionDispatcher.swift` / `UserAgent.swift` (the
///   `User-Agent` header `Darwin/… (…) MatomoTrackerSDK/… App/…`).
///
/// Each queues hits and sends them later with their own time, within Matomo's 24 hours.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn matomo_mobile_sdk_request_forms() {
    let ch = clickhouse();
    let db = unique_database("mobile_sdks");
    let collector = Collector::start(&CollectorConfig::new(ch, &db)).await;
    let client = crate::common::http();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let civil = |t: u64| {
        let out = Command::new("date").arg("-u").arg("-d").arg(format!("@{t}")).arg("+%F %T").output().unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    // Android: "yyyy-MM-dd HH:mm:ssZ" in the device's zone (here UTC+1).
    let android_cdt = |t: u64| format!("{}+0100", civil(t + 3600));
    let dalvik = "Dalvik/2.1.0 (Linux; U; Android 13; Pixel 7 Build/TQ3A.230805.001)".to_string();
    let android = |path: &str, extra: &[(&str, String)], t: u64| {
        let mut pairs = vec![
            ("idsite", "1".to_string()),
            ("rec", "1".to_string()),
            ("apiv", "1".to_string()),
            ("r", "48213".to_string()),
            ("cdt", android_cdt(t)),
            ("send_image", "0".to_string()),
            ("_id", "5ba8a0b47cf9f6e1".to_string()),
            ("res", "1080x2400".to_string()),
            ("ua", dalvik.clone()),
            ("lang", "fr".to_string()),
            ("url", format!("https://org.example.app{path}")),
            ("_idts", (now - 86_400).to_string()),
            ("_idvc", "2".to_string()),
        ];
        pairs.extend(extra.iter().cloned());
        query_of(&pairs, android_encode)
    };
    // One event: a GET.
    let single = android("/screen/main", &[("action_name", "Main".to_string()), ("new_visit", "1".to_string())], now);
    let r = client.get(collector.url(&format!("/matomo.php{single}"))).send().await.unwrap();
    assert_eq!(r.status(), 204, "send_image=0");
    // A queued batch, sent later: a POST of the queries, one of them two hours old.
    let batch = serde_json::json!({"requests": [
        android("/screen/list", &[("action_name", "List".to_string())], now - 2 * 3600),
        android("/screen/list", &[("e_c", "Sync".to_string()), ("e_a", "Done".to_string()), ("e_n", "Articles".to_string())], now - 2 * 3600 + 5),
    ]});
    let r = client.post(collector.url("/matomo.php")).json(&batch).send().await.unwrap();
    let answer: serde_json::Value = r.json().await.unwrap();
    assert_eq!((answer["tracked"].as_u64(), answer["invalid"].as_u64()), (Some(2), Some(0)), "{answer}");

    // iOS: always a bulk POST, with the SDK's own User-Agent header.
    let ios_cdt = |t: u64| format!("{}.123Z", civil(t).replace(' ', "T"));
    let ios = |path: &str, extra: &[(&str, String)], t: u64| {
        let mut pairs = vec![
            ("idsite", "1".to_string()),
            ("rec", "1".to_string()),
            ("_id", "0fd8c8f4a2b7c1d3".to_string()),
            ("cid", "a1b2c3d4e5f60718".to_string()),
            ("_idvc", "3".to_string()),
            ("_viewts", (now - 3600).to_string()),
            ("_idts", (now - 7 * 86_400).to_string()),
            ("url", format!("http://org.example.ios{path}")),
            ("lang", "fr-FR".to_string()),
            ("h", "10".to_string()),
            ("m", "5".to_string()),
            ("s", "12".to_string()),
            ("cdt", ios_cdt(t)),
            ("res", "390x844".to_string()),
        ];
        pairs.extend(extra.iter().cloned());
        query_of(&pairs, ios_encode)
    };
    let bulk = serde_json::json!({"requests": [
        ios("/home", &[("action_name", "Home".to_string()), ("new_visit", "1".to_string())], now - 600),
        ios("/search", &[("search", "Horaires d'ouverture".to_string()), ("search_count", "4".to_string())], now - 590),
    ]});
    let r = client
        .post(collector.url("/matomo.php"))
        .header("user-agent", "Darwin/23.0.0 (iPhone15,2; iOS 17.0) MatomoTrackerSDK/7.5.2 Example/1.0")
        .header("content-type", "application/json; charset=utf-8")
        .body(bulk.to_string())
        .send()
        .await
        .unwrap();
    let answer: serde_json::Value = r.json().await.unwrap();
    assert_eq!((answer["tracked"].as_u64(), answer["invalid"].as_u64()), (Some(2), Some(0)), "{answer}");

    let rows = rows_where(
        &db,
        "SELECT url_host, url_path, event_type, page_title, event_name, search_keyword, language, toUInt32(timestamp) FROM {db}.events ORDER BY url_host, url_path, event_type",
        5,
    )
    .await;
    let at = |row: &str| row.rsplit('\t').next().unwrap().parse::<u64>().unwrap();
    let strip = |row: &String| row.rsplit_once('\t').unwrap().0.to_string();
    assert_eq!(
        rows.iter().map(strip).collect::<Vec<_>>(),
        vec![
            "org.example.app\t/screen/list\tpageview\tList\t\t\tfr",
            "org.example.app\t/screen/list\tevent\t\tArticles\t\tfr",
            "org.example.app\t/screen/main\tpageview\tMain\t\t\tfr",
            "org.example.ios\t/home\tpageview\tHome\t\t\tfr",
            "org.example.ios\t/search\tsearch\t\t\thoraires d\\'ouverture\tfr",
        ]
    );
    // Each hit kept the time the app gave it (zone offsets and milliseconds read right).
    assert!(at(&rows[0]).abs_diff(now - 2 * 3600) <= 2, "{rows:?}");
    assert!(at(&rows[2]).abs_diff(now) <= 5, "{rows:?}");
    assert!(at(&rows[3]).abs_diff(now - 600) <= 2, "{rows:?}");
}

/// Piano Analytics' own SDK (piano-analytics-js 6.17.0, loaded from the collector's
/// `/piano-analytics.js`) in headless Chromium, configured as Piano documents it with only
/// `collectDomain` changed: a page display with chapters, a download, an exit, an action, a
/// search and a custom event with properties, each stored as docs/tracking.md maps it; the
/// `exempt` mode keeps Piano's exempt properties only (no custom event, no language); the
/// `optout` mode and a Do-Not-Track browser store nothing, though the SDK sent their events.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn piano_analytics_sdk_in_chromium() {
    let ch = clickhouse();
    let db = unique_database("piano");
    let mut config = CollectorConfig::new(ch, &db);
    config.extra = config.extra.replacen("id = 1\n", "id = 1\npiano_site_ids = [123456]\n", 1);
    let collector = Collector::start(&config).await;
    let base = collector.url("");
    let seen = tokio::task::spawn_blocking(move || node("piano-browser.mjs", &[&base])).await.unwrap();
    let seen: serde_json::Value = serde_json::from_str(&seen).expect("scenario results are JSON");
    // The SDK sent every event, to /event with the site's number, and no request failed.
    for (scenario, events) in [("optin", 6), ("exempt", 2), ("optout", 2), ("dnt", 2)] {
        assert_eq!(seen[scenario]["failures"], serde_json::json!([]), "{scenario}: {seen}");
        let sent = seen[scenario]["sent"].as_array().unwrap();
        let names: usize = sent.iter().map(|r| r["body"]["events"].as_array().map_or(0, Vec::len)).sum();
        assert!(names >= events, "{scenario}: {names} events sent: {seen}");
        assert!(sent.iter().all(|r| r["url"].as_str().unwrap().contains("/event?s=123456")), "{seen}");
    }
    let rows = rows_where(
        &db,
        "SELECT url_path, event_type, page_title, event_category, event_name, link_url, search_keyword, arrayStringConcat(arrayMap((k, v) -> concat(k, '=', v), prop_keys, prop_values), ','), language FROM {db}.events ORDER BY url_path, event_type, event_name",
        8,
    )
    .await;
    assert_eq!(
        rows,
        vec![
            "/piano/exempt.html\tpageview\tExempt\t\t\t\t\tpage_chapter1=services,page_chapter2=etat-civil\t",
            "/piano/exempt.html\tdownload\t\t\tclick.download\texample.org/files/guide.pdf\t\t\t",
            "/piano/optin.html\tpageview\tAccueil Services\t\t\t\t\tpage_chapter1=services,page_chapter2=etat-civil\ten",
            "/piano/optin.html\tevent\t\tclick.action\tImprimer\t\t\tclick_chapter1=outils\ten",
            "/piano/optin.html\tevent\t\t\tform.submit\t\t\tform_name=contact,form_step=2\ten",
            "/piano/optin.html\toutlink\t\t\tclick.exit\twww.service-public.fr/particuliers\t\t\ten",
            "/piano/optin.html\tdownload\t\t\tclick.download\texample.org/files/guide.pdf\t\t\ten",
            "/piano/optin.html\tsearch\t\t\t\t\thoraires\t\ten",
        ],
        "{seen}"
    );
    // Nothing of the opted-out or Do-Not-Track visitors, and no visitor id (idclient) stored.
    let idclient =
        seen["optin"]["sent"][0]["url"].as_str().unwrap().split("idclient=").nth(1).unwrap_or("").to_string();
    if !idclient.is_empty() {
        let text = ch.query(&format!("SELECT count() FROM {db}.events WHERE positionCaseInsensitive(toString(tuple(*)), '{idclient}') > 0 FORMAT TSV")).await;
        assert_eq!(text.trim(), "0", "the idclient was stored");
    }
    // The chapters are a breakdown in the stats API.
    let token = crate::stats::token_for(&collector, 1);
    let chapters = crate::common::json_of(
        crate::common::http()
            .post(collector.url("/api/v1/query"))
            .bearer_auth(&token)
            .json(&serde_json::json!({"site_id": 1, "metrics": ["pageviews"], "date_range": "day", "dimensions": ["event:props:page_chapter1"]})),
    )
    .await;
    assert_eq!(chapters["results"][0]["dimensions"], serde_json::json!(["services"]), "{chapters}");
    assert_eq!(chapters["results"][0]["metrics"], serde_json::json!([2]), "{chapters}");
    // AT Internet's classic hit, as its Android SDK sends it (`Core.addContextVariables`, a
    // screen with chapters): the pixel, and a page view under the screen's label.
    let hit = "/hit.xiti?s=123456&vtag=2.23.0&ptag=android&lng=fr-FR&os=%5Bandroid%5D-%5B13%5D&r=1080x2400&idclient=3f2c1a9e&vm=optin&vc=1&na=1&p=demarches::carte-identite::formulaire&s2=3";
    let answer = crate::common::http()
        .get(collector.url(hit))
        .header("user-agent", "Dalvik/2.1.0 (Linux; U; Android 13; SM-G991B Build/TP1A.220624.014)")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 200);
    assert_eq!(answer.headers()["content-type"], "image/gif");
    let classic = rows_where(
        &db,
        "SELECT url_path, event_type, page_title, arrayStringConcat(prop_values, ',') FROM {db}.events WHERE url_path LIKE '/demarches/%'",
        1,
    )
    .await;
    assert_eq!(classic, vec!["/demarches/carte-identite/formulaire\tpageview\tformulaire\tdemarches,carte-identite"]);
}
