//! The Matomo pixel endpoint end to end: hits in, rows out.

use std::time::Duration;

use crate::common::{Collector, CollectorConfig, clickhouse, enc, eventually, unique_database};

const GIF_LEN: usize = 43;

fn hit_query(i: usize) -> String {
    format!(
        "idsite=1&rec=1&rand={i}&url={}&action_name={}&urlref={}",
        enc(&format!("https://www.example.org/page/{i}?secret=x#frag")),
        enc(&format!("Page {i}")),
        enc(&format!("https://ref{}.example.com/some/path?q=private", i % 7)),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_pixel_hits_become_thousand_rows() {
    let ch = clickhouse();
    let db = unique_database("e2e");
    let collector = Collector::start(&CollectorConfig::new(ch, &db)).await;
    let client = crate::common::http();

    let mut tasks = Vec::new();
    for worker in 0..8 {
        let client = client.clone();
        let base = collector.url("");
        tasks.push(tokio::spawn(async move {
            for i in (worker..1000).step_by(8) {
                // Every combination of method and path, in equal parts.
                let path = if i % 2 == 0 { "/matomo.php" } else { "/piwik.php" };
                let response = if (i / 2) % 2 == 0 {
                    client.get(format!("{base}{path}?{}", hit_query(i))).send().await.unwrap()
                } else {
                    client
                        .post(format!("{base}{path}"))
                        .header("content-type", "application/x-www-form-urlencoded")
                        .body(hit_query(i))
                        .send()
                        .await
                        .unwrap()
                };
                assert_eq!(response.status(), 200);
                assert_eq!(response.headers()["content-type"], "image/gif");
                assert_eq!(response.headers()["cache-control"], "no-store");
                assert_eq!(response.bytes().await.unwrap().len(), GIF_LEN);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }

    let rows = eventually(Duration::from_secs(20), || async {
        let n = ch.count(&format!("SELECT count() FROM {db}.events")).await;
        (n >= 1000).then_some(n)
    })
    .await;
    // Give a straggling duplicate a chance to show before asserting "exactly".
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(rows, Some(1000));
    assert_eq!(ch.count(&format!("SELECT count() FROM {db}.events")).await, 1000);

    let checks = ch
        .query(&format!(
            "SELECT countIf(site_id = 1), countIf(url_host = 'www.example.org'), \
             countIf(url_path = concat('/page/', toString(toUInt32(substring(page_title, 6))))), \
             countIf(referrer_host LIKE 'ref%.example.com'), uniqExact(url_path), \
             countIf(event_type = 'pageview'), countIf(abs(toInt64(timestamp) - toInt64(now())) < 120) \
             FROM {db}.events FORMAT TSV"
        ))
        .await;
    assert_eq!(checks.trim(), "1000\t1000\t1000\t1000\t1000\t1000\t1000");
    let status = collector.terminate(Duration::from_secs(20)).await;
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filtered_hits_store_nothing_and_look_the_same() {
    let ch = clickhouse();
    let db = unique_database("filtered");
    let collector = Collector::start(&CollectorConfig::new(ch, &db)).await;
    let client = crate::common::http();
    let page = enc("https://example.org/");
    let filtered = [
        format!("idsite=99&rec=1&url={page}"),
        format!("idsite=1&url={page}"),
        format!("idsite=1&rec=1&url={}", enc("javascript:alert(1)")),
        format!("idsite=1&rec=1&url={}", enc("ftp://example.org/file")),
    ];
    for query in &filtered {
        let response = client.get(collector.url(&format!("/matomo.php?{query}"))).send().await.unwrap();
        assert_eq!(response.status(), 200, "{query}");
        assert_eq!(response.headers()["content-type"], "image/gif");
        assert_eq!(response.bytes().await.unwrap().len(), GIF_LEN);
    }
    // send_image=0 → 204 whatever happened.
    let response = client
        .get(collector.url(&format!("/matomo.php?idsite=99&rec=1&send_image=0&url={page}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);

    // One accepted hit afterwards: when it has landed, the earlier ones would have too.
    let response =
        client.get(collector.url(&format!("/matomo.php?idsite=1&rec=1&send_image=0&url={page}"))).send().await.unwrap();
    assert_eq!(response.status(), 204);
    let landed = eventually(Duration::from_secs(10), || async {
        (ch.count(&format!("SELECT count() FROM {db}.events")).await > 0).then_some(())
    })
    .await;
    assert!(landed.is_some());
    assert_eq!(ch.count(&format!("SELECT count() FROM {db}.events")).await, 1);

    let metrics = client.get(collector.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("mesure_events_declined_total{reason=\"unknown_site\"} 2"), "{metrics}");
    assert!(metrics.contains("mesure_events_declined_total{reason=\"invalid\"} 3"), "{metrics}");
    assert!(metrics.contains("mesure_events_accepted_total 1"), "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_and_oversized_requests_are_refused() {
    let ch = clickhouse();
    let db = unique_database("malformed");
    let collector = Collector::start(&CollectorConfig::new(ch, &db)).await;
    // No connection reuse: the server closes a connection whose oversized body it did not read.
    let client = crate::common::browser().pool_max_idle_per_host(0).build().unwrap();
    let page = enc("https://example.org/");

    // Undecodable query and body: 400.
    let r = client
        .get(collector.url(&format!("/matomo.php?idsite=1&rec=1&url={page}&action_name=%zz")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = client
        .get(collector.url(&format!("/matomo.php?idsite=1&rec=1&url={page}&action_name=%ff")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = client.post(collector.url("/matomo.php")).body(vec![b'i', b'd', b'=', 0xff, 0xfe]).send().await.unwrap();
    assert_eq!(r.status(), 400);

    // Query over 8 KiB: 414.
    let long_title = "a".repeat(9 * 1024);
    let r = client
        .get(collector.url(&format!("/matomo.php?idsite=1&rec=1&url={page}&action_name={long_title}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 414);

    // Body over 64 KiB, declared: 413 without reading it.
    let big = format!("idsite=1&rec=1&url={page}&action_name={}", "b".repeat(70 * 1024));
    let r = client.post(collector.url("/matomo.php")).body(big.clone()).send().await.unwrap();
    assert_eq!(r.status(), 413);
    // ...and streamed without a length (chunked): cut off at the cap.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = big.as_bytes().chunks(4096).map(|c| Ok(c.to_vec())).collect();
    let body = reqwest::Body::wrap_stream(futures_stream(chunks));
    let r = client.post(collector.url("/piwik.php")).body(body).send().await.unwrap();
    assert_eq!(r.status(), 413);

    // A good hit still works afterwards, and nothing from the bad ones was stored.
    let r = client.get(collector.url(&format!("/matomo.php?idsite=1&rec=1&url={page}"))).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let status = collector.terminate(Duration::from_secs(20)).await;
    assert!(status.success());
    assert_eq!(ch.count(&format!("SELECT count() FROM {db}.events")).await, 1);
}

/// A stream over ready chunks (reqwest's `wrap_stream` sends it chunked).
fn futures_stream(
    chunks: Vec<Result<Vec<u8>, std::io::Error>>,
) -> impl futures_core::Stream<Item = Result<Vec<u8>, std::io::Error>> + Send + Sync + 'static {
    struct Chunks(std::vec::IntoIter<Result<Vec<u8>, std::io::Error>>);
    impl futures_core::Stream for Chunks {
        type Item = Result<Vec<u8>, std::io::Error>;
        fn poll_next(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Self::Item>> {
            std::task::Poll::Ready(self.0.next())
        }
    }
    Chunks(chunks.into_iter())
}
