//! `dashboards/` uses only metric names the collector exports.

use std::collections::BTreeSet;

use mesure::enrich::user_agent::UserAgents;
use mesure::telemetry::metrics::Metrics;

/// Every metric family name the registry exports once each labelled family has a series.
fn exported_names() -> BTreeSet<String> {
    let metrics = Metrics::new();
    metrics.register_user_agent_cache(&UserAgents::new(16));
    metrics.register_visits(&mesure::visits::Visits::new(1000));
    metrics.http_requests.with_label_values(&["matomo", "200"]).inc();
    metrics.bulk_items.with_label_values(&["tracked"]).inc();
    let mut names = BTreeSet::new();
    for family in metrics.registry.gather() {
        let name = family.name().to_string();
        if family.get_field_type() == prometheus::proto::MetricType::HISTOGRAM {
            for suffix in ["_bucket", "_sum", "_count"] {
                names.insert(format!("{name}{suffix}"));
            }
        }
        names.insert(name);
    }
    names
}

fn used_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(at) = text[i..].find("mesure_") {
        let start = i + at;
        let mut end = start;
        while end < bytes.len() && (bytes[end].is_ascii_alphanumeric() || bytes[end] == b'_') {
            end += 1;
        }
        // Skip the dashboard's own uid ("mesure-operations" has a dash, so it never matches).
        names.insert(text[start..end].to_string());
        i = end;
    }
    names
}

#[test]
fn the_operations_dashboard_uses_only_exported_metrics() {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/dashboards/grafana/mesure-operations.json"))
            .unwrap();
    let dashboard: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    assert!(dashboard["panels"].as_array().is_some_and(|p| p.len() >= 10));
    let exported = exported_names();
    let used = used_names(&text);
    assert!(used.len() >= 15, "{used:?}");
    let unknown: Vec<&String> = used.difference(&exported).collect();
    assert!(unknown.is_empty(), "the dashboard uses metrics mesure does not export: {unknown:?}");
    for needed in [
        "mesure_events_accepted_total",
        "mesure_events_declined_total",
        "mesure_insert_duration_seconds_bucket",
        "mesure_spool_bytes",
        "mesure_insert_failures_total",
    ] {
        assert!(used.contains(needed), "the dashboard does not show {needed}");
    }
}

/// The analysts' Grafana dashboard (ClickHouse data source): every query runs on our
/// ClickHouse once the Grafana macros are expanded, and agrees with the stats API's totals.
#[tokio::test]
async fn the_analytics_dashboard_queries_run() {
    let ch = crate::common::clickhouse();
    let db = crate::common::unique_database("grafana");
    let config = ch.config(&db);
    mesure::store::Store::new(&config).migrate(mesure::store::migrations::MIGRATIONS).await.unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as u32;
    ch.query(&format!(
        "INSERT INTO {db}.events (site_id, timestamp, retention_days, visitor_id, visit_id, event_type, url_path, country_code) VALUES \
         (1, {now}, 180, 1, 10, 'pageview', '/a', 'FR'), (1, {now}, 180, 1, 10, 'pageview', '/b', 'FR'), (1, {now}, 180, 2, 20, 'pageview', '/a', 'DE'), \
         (1, {old}, 180, 3, 30, 'pageview', '/expired', 'FR')",
        old = now - 200 * 86_400
    ))
    .await;
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/dashboards/grafana/mesure-analytics.json"))
            .unwrap();
    let dashboard: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut answers = std::collections::HashMap::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        let sql = panel["targets"][0]["rawSql"].as_str().unwrap();
        let expanded = sql
            .replace("mesure.events", &format!("{db}.events"))
            .replace("${site}", "1")
            .replace("${retention_days}", "180")
            .replace("$__timeFilter(timestamp)", "timestamp >= toDateTime(0)")
            .replace("$__timeInterval(timestamp)", "toStartOfHour(timestamp)");
        assert!(!expanded.contains('$'), "unexpanded macro in {expanded}");
        let out = ch.query(&format!("{expanded} FORMAT TSV")).await;
        answers.insert(panel["title"].as_str().unwrap().to_string(), out);
    }
    // Same definitions as the API: 2 visitors, 2 visits, 3 page views, 1 bounce of 2, the
    // expired row left out.
    assert_eq!(answers["Visitors"].trim(), "2");
    assert_eq!(answers["Visits"].trim(), "2");
    assert_eq!(answers["Page views"].trim(), "3");
    assert_eq!(answers["Bounce rate"].trim(), "50");
    assert!(answers["Top pages"].starts_with("/a\t2\t2"), "{}", answers["Top pages"]);
}
