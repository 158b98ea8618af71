//! Scale-out: several collectors on a ClickHouse cluster (ZooKeeper, 2 shards × 2 replicas of
//! Debian's 18.16, started by `scripts/cluster.sh`).

use std::time::Duration;

use serde_json::{Value, json};

use crate::common::{
    ClickHouse, Cluster, Collector, CollectorConfig, clickhouse, enc, eventually, http, unique_database,
};

const TOKEN_FREE_SITES: &str = "[[sites]]\nid = 1\ndomains = [\"example.org\"]\npublic = true\n";

fn config(node: &ClickHouse, db: &str, cluster: bool) -> CollectorConfig {
    let mut c = CollectorConfig::new(node, db);
    c.extra = TOKEN_FREE_SITES.to_string();
    if cluster {
        c.clickhouse_extra = "cluster = \"mesure\"\n".into();
    }
    c
}

async fn hit(collector: &Collector, client: u32, page: u32) -> u16 {
    let url =
        collector.url(&format!("/matomo.php?idsite=1&rec=1&url={}", enc(&format!("https://example.org/p/{page}"))));
    http().get(url).header("x-forwarded-for", format!("203.0.113.{client}")).send().await.unwrap().status().as_u16()
}

async fn totals(collector: &Collector) -> Value {
    let body = json!({"site_id": 1, "metrics": ["visitors", "visits", "pageviews"], "date_range": "7d"});
    let v: Value = http().post(collector.url("/api/v1/query")).json(&body).send().await.unwrap().json().await.unwrap();
    v["results"][0]["metrics"].clone()
}

async fn local_rows(node: &ClickHouse, db: &str, condition: &str) -> u64 {
    node.count(&format!("SELECT count() FROM {db}.events_local WHERE {condition}")).await
}

/// Two collectors on two nodes, clients sticky to one each, give the numbers one collector on
/// one node gives for the same hits; a replica stopped during the load loses nothing and catches
/// up; retention deletes expired rows on every shard.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collectors_on_a_cluster() {
    let cluster = Cluster::start();
    let db = unique_database("cluster");
    let (s1r1, s1r2, s2r1, s2r2) =
        (cluster.node("s1r1"), cluster.node("s1r2"), cluster.node("s2r1"), cluster.node("s2r2"));
    let a = Collector::start(&config(&s1r1, &db, true)).await;
    let b = Collector::start(&config(&s2r1, &db, true)).await;
    let single_db = unique_database("single");
    let single = Collector::start(&config(clickhouse(), &single_db, false)).await;

    // 20 clients, 3 pages each; the load balancer is sticky by address: even → a, odd → b.
    // Shard 1's second replica stops half way and comes back at the end.
    let mut accepted = 0;
    for round in 0..3 {
        if round == 1 {
            cluster.stop_node("s1r2");
        }
        for client in 0..20u32 {
            let collector = if client % 2 == 0 { &a } else { &b };
            assert_eq!(hit(collector, client, round * 100 + client).await, 200);
            assert_eq!(hit(&single, client, round * 100 + client).await, 200);
            accepted += 1;
        }
    }
    cluster.start_node("s1r2");

    let expected = json!([20, 20, 60]);
    let single_totals = eventually(Duration::from_secs(20), || async {
        let t = totals(&single).await;
        (t == expected).then_some(t)
    })
    .await;
    assert_eq!(single_totals, Some(expected.clone()), "the single-node run");
    for collector in [&a, &b] {
        let t = eventually(Duration::from_secs(30), || async {
            let t = totals(collector).await;
            (t == expected).then_some(t)
        })
        .await;
        assert_eq!(t, Some(expected.clone()), "a collector on the cluster");
    }
    // Both shards hold rows, and the replica that was down caught up.
    let (shard1, shard2) = (local_rows(&s1r1, &db, "1").await, local_rows(&s2r1, &db, "1").await);
    assert!(shard1 > 0 && shard2 > 0, "rows on both shards: {shard1} / {shard2}");
    assert_eq!(shard1 + shard2, accepted);
    let caught_up = eventually(Duration::from_secs(60), || async {
        (local_rows(&s1r2, &db, "1").await == shard1 && local_rows(&s2r2, &db, "1").await == shard2).then_some(())
    })
    .await;
    assert!(caught_up.is_some(), "replicas did not converge");

    // Retention on the cluster: rows 200 days old, on both shards, are deleted everywhere.
    let old = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() - 200 * 86_400;
    let values: Vec<String> = (0..20).map(|v| format!("(1, {old}, 180, {v}, {v}, 'pageview', '/old')")).collect();
    let insert = format!(
        "INSERT INTO {db}.events (site_id, timestamp, retention_days, visitor_id, visit_id, event_type, url_path) VALUES {}",
        values.join(", ")
    );
    let r = http().post(format!("{}/?insert_distributed_sync=1", s1r1.url())).body(insert).send().await.unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    let old_rows = |node: &ClickHouse| {
        let node = ClickHouse { dir: node.dir.clone(), http_port: node.http_port, tcp_port: node.tcp_port };
        let db = db.clone();
        async move { local_rows(&node, &db, "url_path = '/old'").await }
    };
    let spread = eventually(Duration::from_secs(30), || async {
        let shard1 = old_rows(&s1r1).await.max(old_rows(&s1r2).await);
        let shard2 = old_rows(&s2r1).await.max(old_rows(&s2r2).await);
        (shard1 > 0 && shard2 > 0 && shard1 + shard2 == 20).then_some(())
    })
    .await;
    assert!(spread.is_some(), "old rows on both shards");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mesure"))
        .args(["retention", "--config"])
        .arg(a.dir.join("mesure.toml"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let gone = eventually(Duration::from_secs(30), || async {
        let mut left = 0;
        for node in [&s1r1, &s1r2, &s2r1, &s2r2] {
            left += old_rows(node).await;
        }
        (left == 0).then_some(())
    })
    .await;
    assert!(gone.is_some(), "expired rows left on a shard");
    assert_eq!(totals(&a).await, expected, "the recent rows are kept");

    // The same visitor through either collector gets the same visitor id (one salt for all).
    // (Different pages: two identical one-row INSERTs would be one block to the replicated
    // table's deduplication, which is what makes retried INSERTs safe.)
    for (collector, page) in [(&a, "same-a"), (&b, "same-b")] {
        let url =
            collector.url(&format!("/matomo.php?idsite=1&rec=1&url={}", enc(&format!("https://example.org/{page}"))));
        let r = http().get(url).header("x-forwarded-for", "198.51.100.77").send().await.unwrap();
        assert_eq!(r.status(), 200);
    }
    let same = eventually(Duration::from_secs(20), || async {
        let text = s1r1
            .query(&format!(
                "SELECT count(), uniqExact(visitor_id) FROM {db}.events WHERE url_path LIKE '/same-%' FORMAT TSV"
            ))
            .await;
        (text.trim() == "2\t1").then_some(())
    })
    .await;
    if same.is_none() {
        let ids = s1r1
            .query(&format!("SELECT visitor_id, visit_id FROM {db}.events WHERE url_path LIKE '/same-%' FORMAT TSV"))
            .await;
        let salts =
            s1r1.query(&format!("SELECT period, substring(salt, 1, 6), created_at FROM {db}.salts FORMAT TSV")).await;
        let local: Vec<String> = [&s1r1, &s1r2, &s2r1, &s2r2].iter().map(|n| n.http_port.to_string()).collect();
        panic!("two collectors gave one visitor two ids:\n{ids}\nsalts:\n{salts}\nnodes {local:?}");
    }
}
