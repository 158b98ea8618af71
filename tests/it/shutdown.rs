//! SIGTERM right after the last answer: every answered hit is in ClickHouse.

use std::time::Duration;

use crate::common::{Collector, CollectorConfig, clickhouse, enc, unique_database};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_flushes_every_answered_hit() {
    let ch = clickhouse();
    let db = unique_database("shutdown");
    let mut config = CollectorConfig::new(ch, &db);
    // A long batch period: nothing is written before the signal, so the rows that land are
    // the shutdown flush's doing.
    config.batch_period = "10m".into();
    let collector = Collector::start(&config).await;
    let client = crate::common::http();

    let mut tasks = Vec::new();
    for worker in 0..4 {
        let client = client.clone();
        let base = collector.url("/matomo.php");
        tasks.push(tokio::spawn(async move {
            let mut answered = 0u64;
            for i in 0..250 {
                let url = enc(&format!("https://example.org/s/{worker}/{i}"));
                let r = client.get(format!("{base}?idsite=1&rec=1&url={url}")).send().await.unwrap();
                assert_eq!(r.status(), 200);
                answered += 1;
            }
            answered
        }));
    }
    let mut answered = 0;
    for t in tasks {
        answered += t.await.unwrap();
    }
    assert_eq!(ch.count(&format!("SELECT count() FROM {db}.events")).await, 0, "written before the signal");

    let status = collector.terminate(Duration::from_secs(25)).await;
    assert!(status.success(), "exit status {status}");
    assert_eq!(ch.count(&format!("SELECT count() FROM {db}.events")).await, answered);
}
