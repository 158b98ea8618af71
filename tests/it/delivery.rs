//! Lossless delivery, proven with faults against real processes: ClickHouse stopped during a
//! load, the collector killed with SIGKILL, a damaged spool, a full spool, data errors, and the
//! exact movement of the counters.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use mesure::event::Event;
use mesure::sink::spool;

use crate::common::{ClickHouse, Collector, CollectorConfig, clickhouse, enc, eventually, http, unique_database};

fn hit_url(collector: &Collector, path: &str) -> String {
    collector.url(&format!("/matomo.php?idsite=1&rec=1&url={}", enc(&format!("https://example.org{path}"))))
}

async fn send(client: &reqwest::Client, url: String) -> Option<reqwest::StatusCode> {
    client.get(url).timeout(Duration::from_secs(5)).send().await.ok().map(|r| r.status())
}

async fn wait_rows(ch: &ClickHouse, db: &str, expected: u64, within: Duration) -> u64 {
    let sql = format!("SELECT count() FROM {db}.events");
    eventually(within, || async { (ch.count(&sql).await >= expected).then_some(()) }).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    ch.count(&sql).await
}

async fn metrics(collector: &Collector) -> String {
    http().get(collector.url("/metrics")).send().await.unwrap().text().await.unwrap()
}

/// ClickHouse stopped in the middle of a load and restarted 30 seconds later: exactly N rows
/// afterwards, no loss and no duplicates; `/readyz` says degraded meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clickhouse_down_for_thirty_seconds_loses_nothing() {
    let ch = ClickHouse::start();
    let db = unique_database("outage");
    let collector = Collector::start(&CollectorConfig::new(&ch, &db)).await;
    let client = http();
    let mut sent = 0;
    let mut batch = |from: usize, to: usize| {
        let urls: Vec<String> = (from..to).map(|i| hit_url(&collector, &format!("/outage/{i}"))).collect();
        sent += urls.len();
        let client = client.clone();
        async move {
            for url in urls {
                assert_eq!(send(&client, url).await, Some(reqwest::StatusCode::OK));
            }
        }
    };
    batch(0, 500).await;
    ch.stop();
    let stopped = Instant::now();
    batch(500, 1000).await;
    let degraded = eventually(Duration::from_secs(20), || async {
        let r = http().get(collector.url("/readyz")).send().await.ok()?;
        (r.status() == 503).then_some(r.text().await.unwrap_or_default())
    })
    .await;
    assert!(degraded.is_some_and(|t| t.contains("degraded")), "/readyz never reported degraded");
    tokio::time::sleep(Duration::from_secs(30).saturating_sub(stopped.elapsed())).await;
    ch.start_again();
    batch(1000, 1500).await;

    let rows = wait_rows(&ch, &db, sent as u64, Duration::from_secs(60)).await;
    assert_eq!(rows, 1500);
    assert_eq!(ch.count(&format!("SELECT uniqExact(url_path) FROM {db}.events")).await, 1500, "duplicates");
    let m = metrics(&collector).await;
    assert!(!m.contains("mesure_insert_failures_total{class=\"data\"} 1"), "nothing was dead-lettered");
    let ready = http().get(collector.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
}

/// SIGKILL during a load, then a restart on the same spool: every answered hit is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_loses_no_answered_hit() {
    let ch = clickhouse();
    let db = unique_database("sigkill");
    let config = CollectorConfig::new(ch, &db);
    let mut collector = Collector::start(&config).await;
    collector.keep_dir = true;
    let dir = collector.dir.clone();
    let answered = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let next = Arc::new(AtomicU32::new(0));
    let mut senders = Vec::new();
    for _ in 0..4 {
        let (answered, stop, next, client) = (answered.clone(), stop.clone(), next.clone(), http());
        let base = collector.url("/matomo.php");
        senders.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let path = format!("/kill/{}", next.fetch_add(1, Ordering::Relaxed));
                let url = format!("{base}?idsite=1&rec=1&url={}", enc(&format!("https://example.org{path}")));
                match send(&client, url).await {
                    Some(s) if s.is_success() => answered.lock().unwrap().push(path),
                    Some(_) => {}
                    None => break, // the collector is gone
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    collector.signal("KILL");
    stop.store(true, Ordering::Relaxed);
    for s in senders {
        s.await.unwrap();
    }
    let answered = answered.lock().unwrap().clone();
    assert!(answered.len() > 100, "only {} hits answered before the kill", answered.len());
    drop(collector);

    let restarted = Collector::start_in(&config, dir).await;
    let expected: HashSet<String> = answered.iter().cloned().collect();
    let stored = eventually(Duration::from_secs(30), || async {
        let text = ch.query(&format!("SELECT DISTINCT url_path FROM {db}.events FORMAT TSV")).await;
        let stored: HashSet<String> = text.lines().map(str::to_string).collect();
        expected.is_subset(&stored).then_some(stored)
    })
    .await;
    let stored = match stored {
        Some(s) => s,
        None => {
            let text = ch.query(&format!("SELECT DISTINCT url_path FROM {db}.events FORMAT TSV")).await;
            text.lines().map(str::to_string).collect()
        }
    };
    let lost: Vec<&String> = expected.difference(&stored).collect();
    let rows = ch.count(&format!("SELECT count() FROM {db}.events")).await;
    println!(
        "SIGKILL: {} hits answered, {} stored ({} rows), {} answered hits lost — the measured loss window for a process crash",
        answered.len(),
        stored.len(),
        rows,
        lost.len()
    );
    assert!(lost.is_empty(), "answered hits lost after SIGKILL: {lost:?}");
    drop(restarted);
}

fn spooled_event(i: u32) -> Event {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as u32;
    Event {
        site_id: 1,
        timestamp: now,
        retention_days: 180,
        url_host: "example.org".into(),
        url_path: format!("/spooled/{i}"),
        ..Event::default()
    }
}

/// A segment cut in the middle of a record: start-up succeeds, the records before the damage are
/// delivered, the damage is counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncated_segment_delivers_what_precedes_the_damage() {
    let ch = clickhouse();
    let db = unique_database("truncated");
    let config = CollectorConfig::new(ch, &db);
    let dir = tempfile::Builder::new().prefix("mesure-collector-").tempdir().unwrap().keep();
    let events: Vec<Event> = (0..10).map(spooled_event).collect();
    let path = spool::write_segment(&dir.join("spool"), 1, &events).unwrap();
    let full = std::fs::read(&path).unwrap();
    // Cut inside record 8: the end of record 7 plus a few bytes.
    let record_7_end = spool::encode(&events[..7]).len();
    std::fs::write(&path, &full[..record_7_end + 11]).unwrap();

    let collector = Collector::start_in(&config, dir).await;
    assert_eq!(wait_rows(ch, &db, 7, Duration::from_secs(15)).await, 7);
    let paths = ch.query(&format!("SELECT url_path FROM {db}.events ORDER BY url_path FORMAT TSV")).await;
    assert_eq!(paths.lines().collect::<Vec<_>>(), (0..7).map(|i| format!("/spooled/{i}")).collect::<Vec<_>>());
    let m = metrics(&collector).await;
    assert!(m.contains("mesure_spool_corrupt_records_total 1"), "{m}");
    assert!(collector.stderr().contains("damaged spool record"));
}

/// A full spool: 503 with `Retry-After`, counted; every accepted event is delivered once
/// ClickHouse is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_spool_answers_503_and_loses_nothing_accepted() {
    let ch = ClickHouse::start();
    let db = unique_database("full");
    let mut config = CollectorConfig::new(&ch, &db);
    config.spool = "max_bytes = 65536\nsegment_bytes = 8192\n".into();
    let collector = Collector::start(&config).await;
    ch.stop();
    let client = http();
    let (mut accepted, mut refused) = (0u64, 0u64);
    for i in 0..3000 {
        let r = client.get(hit_url(&collector, &format!("/full/{i}"))).send().await.unwrap();
        match r.status().as_u16() {
            200 => accepted += 1,
            503 => {
                assert_eq!(r.headers()["retry-after"], "1");
                refused += 1;
                if refused >= 50 {
                    break;
                }
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert!(refused >= 50 && accepted > 100, "accepted {accepted}, refused {refused}");
    let m = metrics(&collector).await;
    assert!(m.contains(&format!("mesure_events_declined_total{{reason=\"overload\"}} {refused}")), "{m}");
    ch.start_again();
    assert_eq!(wait_rows(&ch, &db, accepted, Duration::from_secs(60)).await, accepted);
    assert_eq!(ch.count(&format!("SELECT uniqExact(url_path) FROM {db}.events")).await, accepted);
}

/// After a scripted mix of hits, the counters moved by exactly the expected amounts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_a_scripted_mix_exactly() {
    let ch = clickhouse();
    let db = unique_database("metrics");
    let collector = Collector::start(&CollectorConfig::new(ch, &db)).await;
    let client = http();
    let page = enc("https://example.org/m");
    let get = |query: String, headers: &[(&'static str, &'static str)]| {
        let mut request = client.get(collector.url(&format!("/matomo.php?{query}")));
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        request.send()
    };
    for _ in 0..3 {
        assert_eq!(get(format!("idsite=1&rec=1&url={page}"), &[]).await.unwrap().status(), 200);
    }
    get(format!("idsite=1&rec=1&url={page}"), &[("dnt", "1")]).await.unwrap();
    get(format!("idsite=1&rec=1&url={page}"), &[("sec-gpc", "1")]).await.unwrap();
    get(format!("idsite=1&rec=1&url={page}"), &[("user-agent", "Googlebot/2.1 (+http://www.google.com/bot.html)")])
        .await
        .unwrap();
    get(format!("idsite=42&rec=1&url={page}"), &[]).await.unwrap();
    get(format!("idsite=1&url={page}"), &[]).await.unwrap();
    assert_eq!(get(format!("idsite=1&rec=1&url={page}&x=%zz"), &[]).await.unwrap().status(), 400);
    assert_eq!(wait_rows(ch, &db, 3, Duration::from_secs(15)).await, 3);

    let m = metrics(&collector).await;
    for line in [
        "mesure_events_accepted_total 3",
        "mesure_events_written_total 3",
        "mesure_events_declined_total{reason=\"dnt\"} 1",
        "mesure_events_declined_total{reason=\"gpc\"} 1",
        "mesure_events_declined_total{reason=\"bot\"} 1",
        "mesure_events_declined_total{reason=\"unknown_site\"} 1",
        "mesure_events_declined_total{reason=\"invalid\"} 1",
        "mesure_events_declined_total{reason=\"optout\"} 0",
        "mesure_events_declined_total{reason=\"overload\"} 0",
        "mesure_bots_declined_total{detector=\"isbot\"} 1",
        "mesure_http_requests_total{endpoint=\"matomo\",status=\"200\"} 8",
        "mesure_http_requests_total{endpoint=\"matomo\",status=\"400\"} 1",
        "mesure_spool_corrupt_records_total 0",
        "mesure_dead_letter_rows_total 0",
    ] {
        assert!(m.lines().any(|l| l == line), "{line} missing in:\n{m}");
    }
    for forbidden in ["203.0.113", "example.org/m", "/m\""] {
        assert!(!m.contains(forbidden), "a metric carries {forbidden}");
    }
}

/// A stand-in for ClickHouse that answers INSERTs from a script, to prove what the writer does
/// with each kind of failure (the real server cannot be made to return these on demand).
struct FakeClickHouse {
    url: String,
    inserts: Arc<AtomicU32>,
}

/// How the stand-in answers one INSERT: from its number and its (compressed) body.
type Respond = dyn Fn(usize, &[u8]) -> (u16, String) + Send + Sync;

impl FakeClickHouse {
    async fn start(script: Vec<(u16, &'static str)>) -> FakeClickHouse {
        FakeClickHouse::answering(Arc::new(move |n, _| {
            let (status, body) = script.get(n).copied().unwrap_or((200, ""));
            (status, body.to_string())
        }))
        .await
    }

    async fn answering(respond: Arc<Respond>) -> FakeClickHouse {
        use http_body_util::{BodyExt, Full};
        use hyper::service::service_fn;
        use hyper_util::rt::TokioIo;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let inserts = Arc::new(AtomicU32::new(0));
        let count = inserts.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { return };
                let (count, respond) = (count.clone(), respond.clone());
                tokio::spawn(async move {
                    let service = service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                        let (count, respond) = (count.clone(), respond.clone());
                        async move {
                            let body = request.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                            let n = count.fetch_add(1, Ordering::SeqCst) as usize;
                            let (status, text) = respond(n, &body);
                            let mut response = hyper::Response::new(Full::new(bytes::Bytes::from(text)));
                            *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
                            Ok::<_, std::convert::Infallible>(response)
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        FakeClickHouse { url, inserts }
    }
}

/// The rows of an INSERT body: ClickHouse's compressed frames (16-byte checksum, method, sizes,
/// an LZ4 block) around RowBinary event rows.
fn rows_of(mut body: &[u8]) -> Vec<Event> {
    let mut raw = Vec::new();
    while body.len() >= 25 {
        let compressed = u32::from_le_bytes(body[17..21].try_into().unwrap()) as usize;
        let size = u32::from_le_bytes(body[21..25].try_into().unwrap()) as usize;
        raw.extend(lz4_flex::block::decompress(&body[25..16 + compressed], size).unwrap());
        body = &body[16 + compressed..];
    }
    let mut input = raw.as_slice();
    let mut rows = Vec::new();
    while !input.is_empty() {
        rows.push(Event::read_row_binary(&mut input).unwrap());
    }
    rows
}

/// Runs a writer over a fresh spool holding `n` events against `server`; returns its report,
/// the metrics and the spool directory.
async fn deliver(
    server: &FakeClickHouse,
    n: u32,
) -> (mesure::sink::writer::WriterReport, mesure::telemetry::metrics::Metrics, tempfile::TempDir) {
    deliver_events(server, (0..n).map(spooled_event).collect()).await
}

async fn deliver_events(
    server: &FakeClickHouse,
    events: Vec<Event>,
) -> (mesure::sink::writer::WriterReport, mesure::telemetry::metrics::Metrics, tempfile::TempDir) {
    use mesure::config::SinkConfig;
    use mesure::sink::spool::{SpoolSettings, SpoolStats};
    use mesure::sink::{DeliveryHealth, Writer};
    let dir = tempfile::tempdir().unwrap();
    let settings = SpoolSettings {
        dir: dir.path().to_path_buf(),
        max_bytes: 1 << 20,
        segment_bytes: 1 << 20,
        fsync_interval: Duration::from_millis(10),
    };
    let stats = Arc::new(SpoolStats::default());
    let (appender, written, start, task) = spool::open(&settings, stats.clone()).unwrap();
    appender.append(&events).unwrap();
    appender.close();
    task.await.unwrap();
    let metrics = mesure::telemetry::metrics::Metrics::new();
    let store = mesure::store::Store::new(&mesure::config::ClickHouseConfig {
        url: server.url.clone(),
        database: "default".into(),
        user: "default".into(),
        password: String::new(),
        cluster: None,
        read_user: None,
        read_password: String::new(),
    });
    let limits =
        SinkConfig { batch_max_rows: 1000, batch_max_bytes: 1 << 20, batch_period: Duration::from_millis(100) };
    let writer = Writer::new(
        store,
        limits,
        metrics.clone(),
        dir.path().to_path_buf(),
        stats,
        start,
        written,
        Arc::new(DeliveryHealth::default()),
    );
    let report = tokio::time::timeout(Duration::from_secs(20), writer.run()).await.expect("the writer finished");
    (report, metrics, dir)
}

/// A data error: no retry loop, a dead-letter file, a counter.
#[tokio::test]
async fn data_errors_are_dead_lettered_not_retried() {
    let server = FakeClickHouse::start(vec![(500, "Code: 117. DB::Exception: Unexpected data in RowBinary")]).await;
    let (report, metrics, dir) = deliver(&server, 3).await;
    assert_eq!(report.dead_lettered, 3);
    assert_eq!(report.written, 0);
    assert_eq!(server.inserts.load(Ordering::SeqCst), 1, "a data error is not retried");
    assert_eq!(metrics.insert_failures.with_label_values(&["data"]).get(), 1);
    assert_eq!(metrics.dead_letter_rows.get(), 3);
    let dead: Vec<_> = std::fs::read_dir(dir.path().join("dead-letter")).unwrap().collect();
    assert_eq!(dead.len(), 1);
    let text = std::fs::read_to_string(dead[0].as_ref().unwrap().path()).unwrap();
    assert_eq!(text.lines().count(), 3);
    assert!(text.contains("/spooled/2"));
}

/// Transient failures are retried with back-off until ClickHouse takes the rows.
#[tokio::test]
async fn transient_errors_are_retried_until_delivered() {
    let server = FakeClickHouse::start(vec![
        (
            500,
            "Code: 252. DB::Exception: Too many parts (300). Merges are processing significantly slower than inserts",
        ),
        (503, "Service Unavailable"),
    ])
    .await;
    let (report, metrics, dir) = deliver(&server, 5).await;
    assert_eq!(report.written, 5);
    assert_eq!(report.dead_lettered, 0);
    assert_eq!(server.inserts.load(Ordering::SeqCst), 3);
    assert_eq!(metrics.insert_failures.with_label_values(&["too_many_parts"]).get(), 1);
    assert_eq!(metrics.insert_failures.with_label_values(&["server"]).get(), 1);
    assert_eq!(metrics.insert_retries.get(), 2);
    assert!(!dir.path().join("dead-letter").exists());
}

/// A back-dated import over 250 days in one batch, against a server that (like ClickHouse from
/// 19.x, `max_partitions_per_insert_block = 100`) refuses an INSERT spanning more than 100
/// partitions: the writer delivers it split by partition, every row once, and does not wedge.
#[tokio::test]
async fn a_batch_over_the_partition_limit_is_delivered_split() {
    let stored = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let kept = stored.clone();
    let server = FakeClickHouse::answering(Arc::new(move |_, body| {
        let rows = rows_of(body);
        let mut partitions: Vec<(u16, u32)> = rows.iter().map(|r| (r.retention_days, r.timestamp / 86_400)).collect();
        partitions.sort_unstable();
        partitions.dedup();
        if partitions.len() > 100 {
            let refusal = "Code: 252. DB::Exception: Too many partitions for single INSERT block (more than 100). \
                           The limit is controlled by 'max_partitions_per_insert_block' setting.";
            return (500, refusal.to_string());
        }
        kept.lock().unwrap().extend(rows.into_iter().map(|r| r.url_path));
        (200, String::new())
    }))
    .await;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as u32;
    let events: Vec<Event> = (0..250).map(|i| Event { timestamp: now - i * 86_400, ..spooled_event(i) }).collect();
    let (report, metrics, _dir) = deliver_events(&server, events).await;
    assert_eq!(report.written, 250);
    assert_eq!(metrics.insert_failures.with_label_values(&["too_many_partitions"]).get(), 1);
    let mut paths = stored.lock().unwrap().clone();
    assert_eq!(paths.len(), 250, "every row once");
    paths.sort();
    paths.dedup();
    assert_eq!(paths.len(), 250, "no row twice");
    // One refused INSERT, then five of at most 50 partitions.
    assert_eq!(server.inserts.load(Ordering::SeqCst), 6);
}
