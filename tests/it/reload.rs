//! Configuration changes without a restart (issue 17): while hits flow, `mesure reload`
//! (SIGHUP) adds a site and changes another's `keep_query`. No answered hit is lost, the live
//! visit goes on (the reload does not split it), the new site's hits land, the new `keep_query`
//! applies; an invalid file changes nothing and is reported.

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use crate::common::{Collector, CollectorConfig, clickhouse, eventually, http, unique_database};

const UA: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";

fn reload(collector: &Collector) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_mesure"))
        .args(["reload", "--config"])
        .arg(collector.dir.join("mesure.toml"))
        .output()
        .unwrap()
}

async fn reloads(collector: &Collector, result: &str) -> u64 {
    let text = http().get(collector.url("/metrics")).send().await.unwrap().text().await.unwrap();
    let line = format!("mesure_config_reloads_total{{result=\"{result}\"}} ");
    text.lines().find_map(|l| l.strip_prefix(&line)).map_or(0, |v| v.trim().parse().unwrap())
}

async fn hit(collector: &Collector, query: &str) -> bool {
    let r = http().get(collector.url(&format!("/matomo.php?rec=1&{query}"))).header("user-agent", UA).send().await;
    r.is_ok_and(|r| r.status().is_success())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_under_load_applies_sites_and_loses_nothing() {
    let ch = clickhouse();
    let db = unique_database("reload");
    let collector = Arc::new(Collector::start(&CollectorConfig::new(ch, &db)).await);
    let path = collector.dir.join("mesure.toml");
    let original = std::fs::read_to_string(&path).unwrap();

    // One visitor keeps browsing site 1 while the configuration changes.
    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicU64::new(0));
    let load = {
        let (collector, stop, answered) = (collector.clone(), stop.clone(), answered.clone());
        tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) && i < 2000 {
                i += 1;
                if hit(&collector, &format!("idsite=1&url=https%3A%2F%2Fexample.org%2Fload%2F{i}")).await {
                    answered.fetch_add(1, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(15)).await;
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Unknown before the reload: site 3.
    assert!(hit(&collector, "idsite=3&url=https%3A%2F%2Fnew.example%2Fbefore").await);

    // Add site 3, keep `q` on site 2.
    let changed = original.replace("retention = \"13mo\"", "retention = \"13mo\"\nkeep_query = [\"q\"]")
        + "\n[[sites]]\nid = 3\ndomains = [\"new.example\"]\n";
    assert_ne!(changed, original);
    std::fs::write(&path, &changed).unwrap();
    let out = reload(&collector);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let applied =
        eventually(Duration::from_secs(10), || async { (reloads(&collector, "ok").await == 1).then_some(()) }).await;
    assert!(applied.is_some(), "the reload was not applied:\n{}", collector.stderr());
    assert!(hit(&collector, "idsite=3&url=https%3A%2F%2Fnew.example%2Fafter").await);
    assert!(hit(&collector, "idsite=2&url=https%3A%2F%2Fshop.example.net%2Fsearch%3Fq%3Dshoes%26session%3Dabc").await);
    tokio::time::sleep(Duration::from_millis(300)).await;

    // An invalid file: `mesure reload` prints its errors and sends nothing; a SIGHUP sent
    // anyway is refused and reported by the collector, and nothing changes (site 3 still counts).
    std::fs::write(&path, changed.replace("retention = \"13mo\"", "retention = \"3y\"")).unwrap();
    let out = reload(&collector);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("sites[1].retention"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pid = collector.child.id().to_string();
    assert!(Command::new("kill").args(["-HUP", &pid]).status().unwrap().success());
    let refused =
        eventually(Duration::from_secs(10), || async { (reloads(&collector, "failed").await == 1).then_some(()) })
            .await;
    assert!(refused.is_some(), "the invalid file was not reported:\n{}", collector.stderr());
    let log = collector.stderr();
    assert!(log.contains("configuration reload refused") && log.contains("sites[1].retention"), "{log}");
    assert!(log.contains("site 3 added (new.example)") && log.contains("site 2 changed"), "{log}");
    assert!(hit(&collector, "idsite=3&url=https%3A%2F%2Fnew.example%2Fstill").await);

    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    load.await.unwrap();
    let answered = answered.load(Ordering::Relaxed);
    assert!(answered > 20, "the load ran: {answered} hits");

    // Every answered hit of the visitor is a row, all in one visit.
    let count = |sql: String| {
        let ch = clickhouse();
        async move { ch.count(&sql).await }
    };
    let all = eventually(Duration::from_secs(15), || {
        let sql = format!("SELECT count() FROM {db}.events WHERE site_id = 1 AND url_path LIKE '/load/%'");
        async move { (count(sql).await == answered).then_some(()) }
    })
    .await;
    assert!(
        all.is_some(),
        "answered {answered} hits, stored {}",
        count(format!("SELECT count() FROM {db}.events WHERE site_id = 1")).await
    );
    let visits =
        count(format!("SELECT uniqExact(visit_id) FROM {db}.events WHERE site_id = 1 AND url_path LIKE '/load/%'"))
            .await;
    assert_eq!(visits, 1, "the reload split the live visit");
    // Site 3 counts from the reload on (the hit before it was declined); site 2 keeps `q`.
    let site3 = clickhouse()
        .query(&format!("SELECT url_path FROM {db}.events WHERE site_id = 3 ORDER BY url_path FORMAT TSV"))
        .await;
    assert_eq!(site3, "/after\n/still\n");
    let site2 = clickhouse().query(&format!("SELECT url_path FROM {db}.events WHERE site_id = 2 FORMAT TSV")).await;
    assert_eq!(site2, "/search?q=shoes\n", "keep_query applies from the reload on");
}
