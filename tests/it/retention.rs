//! Retention (docs/privacy.md E1–E3) and erasure (E4) against a real ClickHouse.

use std::process::Command;
use std::time::Duration;

use mesure::config::{ClickHouseConfig, Retention, SiteConfig};
use mesure::event::{Event, EventType};
use mesure::query::{Scope, totals};
use mesure::store::Store;

use crate::common::{ClickHouse, Collector, CollectorConfig, clickhouse, enc, eventually, http, unique_database};

const DAY: u64 = 86_400;

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

fn site(id: u32, retention: Retention) -> SiteConfig {
    SiteConfig { retention, ..SiteConfig::with_defaults(id, &format!("s{id}.example.org")) }
}

fn event(site: u32, stored_retention: u32, age_days: u64, now: u64, label: &str) -> Event {
    Event {
        site_id: site,
        timestamp: (now - age_days * DAY) as u32,
        retention_days: stored_retention as u16,
        visitor_id: u64::from(site) * 1000 + age_days,
        visit_id: u64::from(site) * 1000 + age_days,
        event_type: EventType::Pageview,
        url_host: format!("s{site}.example.org"),
        url_path: format!("/{label}"),
        ..Event::default()
    }
}

async fn database(ch: &ClickHouse, prefix: &str) -> (ClickHouseConfig, Store) {
    let config = ch.migrated(prefix).await;
    let store = Store::new(&config);
    (config, store)
}

async fn insert(client: &clickhouse::Client, events: &[Event]) {
    let mut insert = client.insert::<Event>("events").await.unwrap();
    for e in events {
        insert.write(e).await.unwrap();
    }
    insert.end().await.unwrap();
}

async fn paths(ch: &ClickHouse, db: &str, site: u32) -> Vec<String> {
    let text = ch
        .query(&format!("SELECT url_path FROM {db}.events WHERE site_id = {site} ORDER BY url_path FORMAT TSV"))
        .await;
    text.lines().map(str::to_string).collect()
}

/// A 180-day site and a 13-month site, each with events 179 days, 181 days, 12 months and 14
/// months old: queries exclude the expired ones at once; the dry run deletes nothing and
/// reports what the real run then deletes; afterwards exactly the expired rows are gone. A third
/// site whose rows were written under 13 months and who now keeps 180 days shares partitions
/// with the 13-month site: its expired rows go by a scoped mutation.
#[tokio::test]
async fn expired_rows_are_never_read_and_then_deleted() {
    let ch = clickhouse();
    let (config, store) = database(ch, "retention").await;
    let db = &config.database;
    let now = now();
    let sites = [site(1, Retention::Days(180)), site(2, Retention::Months(13)), site(3, Retention::Days(180))];
    let ages = [(179, "d179"), (181, "d181"), (365, "m12"), (426, "m14")];
    let mut events = Vec::new();
    for (age, label) in ages {
        events.push(event(1, 180, age, now, label));
        events.push(event(2, 395, age, now, label));
        events.push(event(3, 395, age, now, label)); // written before site 3 shortened its retention
    }
    insert(&ch.client(&config), &events).await;

    // Before any deletion, reads already stop at each site's retention.
    for (site, expected_visitors) in [(&sites[0], 1), (&sites[1], 3), (&sites[2], 1)] {
        let scope = Scope::new(site, 0, now + 1, now);
        let t = totals(&store, &scope).await.unwrap();
        assert_eq!((t.pageviews, t.visitors), (expected_visitors, expected_visitors), "site {}", site.id);
    }

    let dry = store.enforce_retention(&sites, now, true).await.unwrap();
    assert_eq!(ch.count(&format!("SELECT count() FROM {db}.events")).await, 12, "a dry run deletes nothing");
    let report = dry.report(true);
    assert!(report.contains("site 1: would delete 3 rows"), "{report}");
    assert!(report.contains("site 2: would delete 1 rows"), "{report}");
    assert!(report.contains("site 3: would delete 3 rows"), "{report}");

    let real = store.enforce_retention(&sites, now, false).await.unwrap();
    assert_eq!(real, dry, "the real run deletes what the dry run reported");
    assert!(!real.deletions.is_empty() && !real.drops.is_empty(), "both methods were exercised: {real:?}");
    assert!(store.wait_for_mutations(Duration::from_secs(60)).await.unwrap());

    assert_eq!(paths(ch, db, 1).await, vec!["/d179"]);
    assert_eq!(paths(ch, db, 2).await, vec!["/d179", "/d181", "/m12"]);
    assert_eq!(paths(ch, db, 3).await, vec!["/d179"]);
    // A second run finds nothing left to do.
    assert_eq!(store.enforce_retention(&sites, now, false).await.unwrap().rows(), 0);
}

/// `mesure retention --dry-run` and `mesure retention` print per site what they (would) delete.
#[tokio::test]
async fn the_retention_command_reports_per_site() {
    let ch = clickhouse();
    let (config, _) = database(ch, "retention_cli").await;
    let now = now();
    insert(
        &ch.client(&config),
        &[event(1, 180, 200, now, "old"), event(1, 180, 10, now, "new"), event(2, 395, 200, now, "kept")],
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mesure.toml");
    let collector_config = CollectorConfig::new(ch, &config.database);
    std::fs::write(&path, collector_config.render(dir.path())).unwrap();
    let run = |dry: bool| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_mesure"));
        command.arg("retention").arg("--config").arg(&path);
        if dry {
            command.arg("--dry-run");
        }
        let out = command.output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let dry = run(true);
    assert!(dry.contains("site 1: would delete 1 rows (1 in 1 dropped partitions, 0 by mutation)"), "{dry}");
    assert!(dry.contains("dry run: nothing deleted"), "{dry}");
    assert_eq!(ch.count(&format!("SELECT count() FROM {}.events", config.database)).await, 3);
    let real = run(false);
    assert!(real.contains("site 1: deleted 1 rows"), "{real}");
    assert_eq!(ch.count(&format!("SELECT count() FROM {}.events", config.database)).await, 2);
}

/// ClickHouse's own log tables are off in the configuration the scripts and tests use (E3).
#[tokio::test]
async fn clickhouse_keeps_no_query_log() {
    let ch = clickhouse();
    ch.query("SELECT 'a query that must not be logged'").await;
    let logs = ch
        .query("SELECT name FROM system.tables WHERE database = 'system' AND name IN ('query_log', 'query_thread_log', 'part_log', 'text_log', 'trace_log') FORMAT TSV")
        .await;
    assert_eq!(logs, "", "ClickHouse log tables exist: {logs}");
    let setting = ch.query("SELECT value FROM system.settings WHERE name = 'log_queries' FORMAT TSV").await;
    assert_eq!(setting.trim(), "0");
}

fn mesure(args: &[&str], config: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_mesure")).args(args).arg("--config").arg(config).output().unwrap()
}

/// Erasure on a cookie-mode site removes exactly that visitor's rows and records it; the ledger
/// replay removes them again after they come back (a backup restore); export gives one
/// visitor's rows; a cookieless site explains why it cannot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erasure_export_and_ledger_replay() {
    let ch = clickhouse();
    let db = unique_database("erasure");
    let mut config = CollectorConfig::new(ch, &db);
    config.extra =
        format!("{}\n[[sites]]\nid = 5\ndomains = [\"cookies.example.org\"]\ncookie_mode = true\n", config.extra);
    let collector = Collector::start(&config).await;
    let (alice, bob) = ("a1b2c3d4e5f60718", "0f1e2d3c4b5a6978");
    for (cookie, n) in [(alice, 3), (bob, 2)] {
        for i in 0..n {
            let url = collector.url(&format!(
                "/matomo.php?idsite=5&rec=1&_id={cookie}&url={}",
                enc(&format!("https://cookies.example.org/{cookie}/{i}"))
            ));
            assert_eq!(http().get(url).send().await.unwrap().status(), 200);
        }
    }
    let sql = format!("SELECT count() FROM {db}.events");
    eventually(Duration::from_secs(15), || async { (ch.count(&sql).await == 5).then_some(()) }).await.expect("5 rows");
    // One cookie, one visitor id, whatever the address.
    assert_eq!(ch.count(&format!("SELECT uniqExact(visitor_id) FROM {db}.events")).await, 2);
    let path = collector.dir.join("mesure.toml");

    let export = mesure(&["export", "--site", "5", "--visitor-id", alice], &path);
    assert!(export.status.success(), "{}", String::from_utf8_lossy(&export.stderr));
    let rows: Vec<Event> =
        String::from_utf8(export.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rows.len(), 3);
    assert!(rows.iter().all(|r| r.url_path.starts_with(&format!("/{alice}/"))));

    let erase = mesure(&["erase", "--site", "5", "--visitor-id", alice], &path);
    assert!(erase.status.success(), "{}", String::from_utf8_lossy(&erase.stderr));
    assert!(String::from_utf8_lossy(&erase.stdout).contains("erased 3 rows"));
    assert_eq!(ch.count(&sql).await, 2, "exactly that visitor's rows are gone");
    assert_eq!(ch.count(&format!("SELECT count() FROM {db}.events WHERE url_path LIKE '/{bob}/%'")).await, 2);
    assert_eq!(ch.count(&format!("SELECT count() FROM {db}.erasures")).await, 1);
    let ledger = ch.query(&format!("SELECT * FROM {db}.erasures FORMAT TSV")).await;
    assert!(!ledger.contains(alice), "the ledger holds the hashed id only");

    // A backup restore brings the rows back; the replay erases them again.
    insert(&ch.client(&ch.config(&db)), &rows).await;
    assert_eq!(ch.count(&sql).await, 5);
    let replay = mesure(&["erase", "--replay"], &path);
    assert!(replay.status.success(), "{}", String::from_utf8_lossy(&replay.stderr));
    assert!(String::from_utf8_lossy(&replay.stdout).contains("replayed 1 erasures from the ledger: 3 rows deleted"));
    assert_eq!(ch.count(&sql).await, 2);

    // A cookieless site cannot identify anyone, and says so.
    let cookieless = mesure(&["erase", "--site", "1", "--visitor-id", alice], &path);
    assert_eq!(cookieless.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&cookieless.stdout).contains("GDPR art. 11"));
    let cookieless = mesure(&["export", "--site", "1", "--visitor-id", alice], &path);
    assert_eq!(cookieless.status.code(), Some(3));
}
