//! Hostile clients against the real binary over loopback: each attack is bounded in time and
//! count and stops by itself, asserts the promised outcome, and checks that an ordinary visitor
//! on another address keeps being answered quickly meanwhile.
//!
//! Loopback is 127.0.0.0/8 on Linux: attackers connect from 127.0.0.1 and 127.0.0.3–9, the
//! ordinary visitor from 127.0.0.2, so the per-client cap tells them apart.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::common::{BROWSER_UA, Collector, CollectorConfig, clickhouse, eventually, unique_database};

/// The ordinary visitor's address.
const VISITOR: &str = "127.0.0.2";

/// A collector with short deadlines and small caps (the defaults are in the README).
async fn collector(name: &str, limits: &str) -> Collector {
    let ch = clickhouse();
    let db = unique_database(name);
    let mut config = CollectorConfig::new(ch, &db);
    // No trusted proxy: every loopback address is a client of its own.
    config.head = String::new();
    config.extra.push_str(&format!("\n[limits]\n{limits}\n"));
    Collector::start(&config).await
}

/// A TCP connection to the collector from `source`.
async fn connect(collector: &Collector, source: &str) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(source.parse::<IpAddr>().unwrap(), 0)).unwrap();
    socket.connect(SocketAddr::from(([127, 0, 0, 1], collector.port))).await.unwrap()
}

/// How long until the server closes `stream` (reading and discarding what it sends), or `None`
/// if it is still open after `within`.
async fn closed_after(mut stream: impl tokio::io::AsyncRead + Unpin, within: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut buf = [0u8; 4096];
    tokio::time::timeout(within, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return started.elapsed(),
                Ok(_) => {}
            }
        }
    })
    .await
    .ok()
}

/// The ordinary visitor: a page view over a fresh connection from [`VISITOR`]; returns the
/// status and how long the answer took.
async fn visit(collector: &Collector) -> (u16, Duration) {
    let client = reqwest::Client::builder()
        .user_agent(BROWSER_UA)
        .local_address(VISITOR.parse::<IpAddr>().unwrap())
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let started = Instant::now();
    let url = collector.url("/matomo.php?idsite=1&rec=1&url=https%3A%2F%2Fexample.org%2Fhostile");
    let status = client.get(url).send().await.map(|r| r.status().as_u16()).unwrap_or(0);
    (status, started.elapsed())
}

/// Visits every 100 ms for `period`, asserting each is answered 200 within `bound`.
async fn keeps_answering(collector: &Collector, period: Duration, bound: Duration) -> usize {
    let started = Instant::now();
    let mut visits = 0;
    while started.elapsed() < period {
        let (status, took) = visit(collector).await;
        assert_eq!(status, 200, "an ordinary visit was refused during the attack");
        assert!(took < bound, "an ordinary visit took {took:?} during the attack (bound {bound:?})");
        visits += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    visits
}

/// Whether the server closes `stream` within `within` (what it sends is read and discarded).
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 4096];
    tokio::time::timeout(within, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .is_ok()
}

/// The value of a metric series (`name{labels}`), 0 when absent (read from an address of its
/// own, so no attacker's cap applies).
async fn metric(collector: &Collector, series: &str) -> f64 {
    let client = reqwest::Client::builder().local_address("127.0.0.10".parse::<IpAddr>().unwrap()).build().unwrap();
    let text = client.get(collector.url("/metrics")).send().await.unwrap().text().await.unwrap();
    text.lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0.0)
}

/// Slowloris (headers trickled a line at a time), connections that never speak, and an idle
/// keep-alive connection: each is closed by its deadline, and visitors are served meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_idle_connections_are_closed_by_their_deadlines() {
    let collector = collector(
        "hostile_slow",
        "header_read_timeout = \"1s\"\nidle_timeout = \"1s\"\nmax_connections_per_client = 64",
    )
    .await;
    let mut watchers = Vec::new();
    // 20 slowloris connections: a request line, then one header line every 200 ms, forever.
    for _ in 0..20 {
        let mut stream = connect(&collector, "127.0.0.1").await;
        stream.write_all(b"GET /matomo.php?idsite=1&rec=1 HTTP/1.1\r\nHost: example.org\r\n").await.unwrap();
        let (read, mut write) = stream.into_split();
        tokio::spawn(async move {
            for i in 0..50 {
                tokio::time::sleep(Duration::from_millis(200)).await;
                if write.write_all(format!("X-Slow-{i}: y\r\n").as_bytes()).await.is_err() {
                    return;
                }
            }
        });
        watchers.push(tokio::spawn(closed_after(read, Duration::from_secs(6))));
    }
    // 20 connections that never send a byte.
    for _ in 0..20 {
        let stream = connect(&collector, "127.0.0.3").await;
        watchers.push(tokio::spawn(closed_after(stream, Duration::from_secs(6))));
    }
    // One keep-alive connection: a complete request, then silence.
    let mut kept = connect(&collector, "127.0.0.4").await;
    let request = format!(
        "GET /matomo.php?idsite=1&rec=1&url=https%3A%2F%2Fexample.org%2F HTTP/1.1\r\nHost: example.org\r\nUser-Agent: {BROWSER_UA}\r\n\r\n"
    );
    kept.write_all(request.as_bytes()).await.unwrap();
    let mut answer = [0u8; 12];
    kept.read_exact(&mut answer).await.unwrap();
    assert_eq!(&answer, b"HTTP/1.1 200");
    watchers.push(tokio::spawn(closed_after(kept, Duration::from_secs(6))));

    let visits = keeps_answering(&collector, Duration::from_millis(2500), Duration::from_millis(500)).await;
    assert!(visits >= 10);
    for watcher in watchers {
        let closed = watcher.await.unwrap().expect("a connection outlived its deadline by far");
        assert!(closed < Duration::from_secs(4), "closed after {closed:?} (deadline 1 s)");
    }
    assert!(metric(&collector, "mesure_connections_idle_closed_total").await >= 20.0);
}

/// A flood of connections: past the per-client cap, one address's extra connections are closed
/// at accept while other addresses are served; past the overall cap, every new connection is,
/// until the flood's connections idle out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_flood_hits_the_caps_and_passes() {
    let collector = collector(
        "hostile_flood",
        "idle_timeout = \"4s\"\nheader_read_timeout = \"4s\"\nmax_connections = 64\nmax_connections_per_client = 16",
    )
    .await;
    // 40 connections from one address: 16 held, 24 closed at once.
    let mut streams = Vec::new();
    for _ in 0..40 {
        streams.push(connect(&collector, "127.0.0.1").await);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut held = Vec::new();
    let mut refused = 0;
    for mut stream in streams {
        if closed_within(&mut stream, Duration::from_millis(50)).await {
            refused += 1;
        } else {
            held.push(stream);
        }
    }
    assert_eq!((held.len(), refused), (16, 24), "the per-client cap");
    assert_eq!(metric(&collector, "mesure_connections_rejected_total{reason=\"per_client\"}").await, 24.0);
    // Meanwhile, another address is served.
    keeps_answering(&collector, Duration::from_millis(300), Duration::from_millis(500)).await;

    // Six more addresses with 10 connections each fill the overall cap (64).
    let mut streams = Vec::new();
    for source in ["127.0.0.3", "127.0.0.4", "127.0.0.5", "127.0.0.6", "127.0.0.7", "127.0.0.8"] {
        for _ in 0..10 {
            streams.push(connect(&collector, source).await);
        }
    }
    // The overall cap is reached: a visitor's connection is closed at accept too.
    assert_eq!(visit(&collector).await.0, 0, "the overall cap lets connections in");
    // The flood's connections idle out (4 s) and visitors are served again.
    let served =
        eventually(Duration::from_secs(8), || async { (visit(&collector).await.0 == 200).then_some(()) }).await;
    assert!(served.is_some(), "visitors never served again after the flood");
    assert!(metric(&collector, "mesure_connections_rejected_total{reason=\"max_connections\"}").await >= 1.0);
    drop((streams, held));
}

/// One HTTP/2 frame: type, flags, stream id, payload.
fn h2_frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len() as u32;
    let mut frame = vec![(len >> 16) as u8, (len >> 8) as u8, len as u8, kind, flags];
    frame.extend_from_slice(&stream.to_be_bytes());
    frame.extend_from_slice(payload);
    frame
}

/// Reads frames until one of `kind` arrives (returns its payload) or the connection ends.
async fn h2_until(stream: &mut TcpStream, kind: u8, within: Duration) -> Option<Vec<u8>> {
    tokio::time::timeout(within, async {
        loop {
            let mut head = [0u8; 9];
            stream.read_exact(&mut head).await.ok()?;
            let len = (usize::from(head[0]) << 16) | (usize::from(head[1]) << 8) | usize::from(head[2]);
            let mut payload = vec![0u8; len];
            stream.read_exact(&mut payload).await.ok()?;
            if head[3] == kind {
                return Some(payload);
            }
        }
    })
    .await
    .ok()
    .flatten()
}

const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const SETTINGS: u8 = 0x4;
const HEADERS: u8 = 0x1;
const RST_STREAM: u8 = 0x3;
const GOAWAY: u8 = 0x7;

/// HTTP/2 (cleartext, prior knowledge): the server announces its stream and header-list
/// limits, and a client that opens and cancels streams in a burst (the "rapid reset" attack)
/// is sent away with GOAWAY, while visitors are served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_limits_are_announced_and_rapid_reset_is_sent_away() {
    let collector = collector("hostile_h2", "http2_max_streams = 50\nmax_header_bytes = 16384").await;
    let mut stream = connect(&collector, "127.0.0.1").await;
    stream.write_all(H2_PREFACE).await.unwrap();
    stream.write_all(&h2_frame(SETTINGS, 0, 0, &[])).await.unwrap();
    let settings = h2_until(&mut stream, SETTINGS, Duration::from_secs(2)).await.expect("the server's SETTINGS");
    let announced: Vec<(u16, u32)> = settings
        .chunks(6)
        .map(|c| (u16::from_be_bytes([c[0], c[1]]), u32::from_be_bytes([c[2], c[3], c[4], c[5]])))
        .collect();
    assert!(announced.contains(&(0x3, 50)), "SETTINGS_MAX_CONCURRENT_STREAMS: {announced:?}");
    assert!(announced.contains(&(0x6, 16384)), "SETTINGS_MAX_HEADER_LIST_SIZE: {announced:?}");

    // 1,000 streams opened (GET /healthz) and cancelled at once.
    let mut burst = Vec::new();
    // :method GET, :scheme http, :path /healthz (literal, indexed name), :authority example.org.
    let mut headers = vec![0x82, 0x86, 0x04, 8];
    headers.extend_from_slice(b"/healthz");
    headers.extend_from_slice(&[0x01, 11]);
    headers.extend_from_slice(b"example.org");
    for i in 0..1000u32 {
        let id = 1 + 2 * i;
        burst.extend(h2_frame(HEADERS, 0x4 | 0x1, id, &headers));
        burst.extend(h2_frame(RST_STREAM, 0, id, &8u32.to_be_bytes()));
    }
    let writer = tokio::spawn(async move {
        let _ = stream.write_all(&burst).await;
        stream
    });
    let visits = keeps_answering(&collector, Duration::from_millis(500), Duration::from_millis(500)).await;
    assert!(visits >= 3);
    let mut stream = writer.await.unwrap();
    let goaway = h2_until(&mut stream, GOAWAY, Duration::from_secs(3)).await;
    let code = goaway.as_ref().map(|p| u32::from_be_bytes([p[4], p[5], p[6], p[7]]));
    assert_eq!(code, Some(0xb), "GOAWAY with ENHANCE_YOUR_CALM");
    assert!(closed_within(&mut stream, Duration::from_secs(3)).await, "the connection stays open after the burst");
}

/// A request body that trickles in (slowloris on the body): answered 408 at the body deadline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_does_not_arrive_is_answered_408() {
    let collector = collector("hostile_body", "body_read_timeout = \"1s\"").await;
    let mut stream = connect(&collector, "127.0.0.1").await;
    let head = format!(
        "POST /matomo.php HTTP/1.1\r\nHost: example.org\r\nUser-Agent: {BROWSER_UA}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\nidsite=1&rec=1"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    let (read, mut write) = stream.into_split();
    let trickle = tokio::spawn(async move {
        for _ in 0..30 {
            tokio::time::sleep(Duration::from_millis(200)).await;
            if write.write_all(b"&x=y").await.is_err() {
                return;
            }
        }
    });
    let mut answer = [0u8; 12];
    let mut read = read;
    tokio::time::timeout(Duration::from_secs(4), read.read_exact(&mut answer)).await.expect("an answer").unwrap();
    assert_eq!(&answer, b"HTTP/1.1 408");
    assert!(started.elapsed() < Duration::from_secs(3), "answered after {:?}", started.elapsed());
    trickle.abort();
}

/// Stats queries on a public site: too many filters are refused, a query over its ClickHouse
/// budget is stopped with a clear answer, a burst of queries is limited (429 with Retry-After)
/// while tracking answers quickly, and guessed tokens stop costing look-ups.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_queries_keep_to_their_budget() {
    use mesure::event::{Event, EventType};
    let ch = clickhouse();
    let db = unique_database("hostile_stats");
    let mut config = CollectorConfig::new(ch, &db);
    config.head = String::new();
    config.extra = config.extra.replacen("id = 1\n", "id = 1\npublic = true\n", 1);
    config.extra.push_str(
        "\n[limits]\nstats_max_filters = 5\nstats_max_rows_to_read = 1000\nstats_max_concurrent = 2\nstats_max_concurrent_per_site = 1\n",
    );
    let collector = Collector::start(&config).await;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as u32;
    let client = ch.client(&ch.config(&db));
    let mut insert = client.insert::<Event>("events").await.unwrap();
    for i in 0..5000u32 {
        let event = Event {
            site_id: 1,
            timestamp: now - 3600 - i,
            retention_days: 180,
            visitor_id: u64::from(i),
            visit_id: u64::from(i),
            event_type: EventType::Pageview,
            url_host: "example.org".into(),
            url_path: format!("/p{}", i % 50),
            ..Event::default()
        };
        insert.write(&event).await.unwrap();
    }
    insert.end().await.unwrap();
    let http = crate::common::http();
    let ask = |body: serde_json::Value, bearer: Option<String>| {
        let request = http.post(collector.url("/api/v1/query")).json(&body);
        let request = match bearer {
            Some(token) => request.bearer_auth(token),
            None => request,
        };
        async move {
            let r = request.send().await.unwrap();
            let retry_after = r.headers().get("retry-after").map(|v| v.to_str().unwrap().to_string());
            (r.status().as_u16(), retry_after, r.text().await.unwrap())
        }
    };

    // A filter bomb.
    let filters: Vec<serde_json::Value> =
        (0..6).map(|i| serde_json::json!(["is_not", "visit:entry_page", [format!("/x{i}")]])).collect();
    let (status, _, text) =
        ask(serde_json::json!({"site_id": 1, "metrics": ["visitors"], "date_range": "7d", "filters": filters}), None)
            .await;
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("at most 5 filters"), "{text}");
    // Over the rows budget (5,000 rows, 1,000 allowed).
    let (status, _, text) =
        ask(serde_json::json!({"site_id": 1, "metrics": ["visitors"], "date_range": "7d"}), None).await;
    assert_eq!(status, 503, "{text}");
    assert!(text.contains("over its budget"), "{text}");

    // A burst of 100 breakdowns at once: one runs at a time for the site, 64 may wait; the rest
    // get 429 with Retry-After at once. Tracking keeps answering meanwhile.
    let burst = (0..100).map(|_| {
        ask(
            serde_json::json!({"site_id": 1, "metrics": ["pageviews"], "date_range": "7d", "dimensions": ["event:page"]}),
            None,
        )
    });
    let (answers, visits) = tokio::join!(
        futures_join_all(burst),
        keeps_answering(&collector, Duration::from_millis(500), Duration::from_millis(500))
    );
    assert!(visits >= 3);
    let refused: Vec<_> = answers.iter().filter(|(status, _, _)| *status == 429).collect();
    assert!(!refused.is_empty(), "no 429 in a burst of 100");
    assert!(refused.iter().all(|(_, retry, _)| retry.as_deref() == Some("1")), "429 without Retry-After");
    assert!(metric(&collector, "mesure_stats_queries_rejected_total{reason=\"busy\"}").await >= refused.len() as f64);

    // Guessing tokens (site 2 is not public) from one address: 40 at once. Each waits for a
    // token index loaded after it asked (one load for all), the first 20 are wrong (401), the
    // rest are over the guesser's budget (429).
    let valid = crate::stats::token_for(&collector, 2);
    let guesses = (0..40).map(|i| {
        let body = serde_json::json!({"site_id": 2, "metrics": ["visitors"], "date_range": "7d"});
        ask(body, Some(format!("mst_{i:064x}")))
    });
    let started = Instant::now();
    let statuses: Vec<u16> = futures_join_all(guesses).await.into_iter().map(|(status, _, _)| status).collect();
    // The budget refills at 10 a second while the guesses wait their turn.
    let refill = (started.elapsed().as_secs_f64() * 10.0).ceil() as usize;
    let wrong = statuses.iter().filter(|s| **s == 401).count();
    assert!((20..=20 + refill).contains(&wrong) && wrong < 40, "{wrong} wrong guesses answered: {statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 40 - wrong, "{statuses:?}");
    assert!(metric(&collector, "mesure_auth_failures_total").await >= 40.0);
    // Nobody else is locked out: the valid token works from another address, and from the
    // guesser's own (a valid token needs no budget), while the guesser's next guess is refused.
    // (`/api/v1/sites` lists site 2 only for its credential.)
    let analyst = reqwest::Client::builder().local_address(VISITOR.parse::<IpAddr>().unwrap()).build().unwrap();
    let sites_with = |client: reqwest::Client, bearer: String| {
        let url = collector.url("/api/v1/sites");
        async move {
            let r = client.get(url).bearer_auth(bearer).send().await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let (status, text) = sites_with(analyst.clone(), valid.clone()).await;
    assert_eq!(status, 200, "the analyst was locked out by someone else's guesses: {text}");
    assert!(text.contains("\"id\":2"), "{text}");
    let (status, text) = sites_with(http.clone(), valid.clone()).await;
    assert!(status == 200 && text.contains("\"id\":2"), "{status} {text}");
    // Guessing again at once: the guesser is refused, a wrong token from another address is
    // still only wrong.
    let again = (0..30).map(|i| sites_with(http.clone(), format!("mst_again{i}")));
    let (guesser, other) = tokio::join!(futures_join_all(again), sites_with(analyst, "mst_guess".into()));
    assert!(guesser.iter().any(|(status, _)| *status == 429), "{guesser:?}");
    assert_eq!(other.0, 401, "another address has its own budget");
}

/// Awaits every future (the test crate has no `futures` dependency).
async fn futures_join_all<F>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::new();
    for handle in handles {
        out.push(handle.await.unwrap());
    }
    out
}

/// Another site cannot change a visitor's opt-out (the form's POST from elsewhere is refused and
/// sets nothing); every page and script says `nosniff`; the dashboard has a strict policy and
/// the opt-out page may be framed by the site's domains only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_site_opt_out_is_refused_and_pages_carry_their_policies() {
    let collector = collector("hostile_csrf", "").await;
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    for path in ["/optout", "/index.php?module=CoreAdminHome&action=optOut"] {
        for (fetch_site, origin) in [("cross-site", "https://evil.example"), ("same-site", "https://sub.example.org")] {
            let r = http
                .post(collector.url(path))
                .header("sec-fetch-site", fetch_site)
                .header("origin", origin)
                .header("content-type", "application/x-www-form-urlencoded")
                .body("action=in")
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 403, "{path} from {origin}");
            assert!(r.headers().get("set-cookie").is_none(), "{path} from {origin} set a cookie");
        }
        // The page's own form still works.
        let r = http
            .post(collector.url(path))
            .header("sec-fetch-site", "same-origin")
            .header("content-type", "application/x-www-form-urlencoded")
            .body("action=out")
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success() || r.status().is_redirection(), "{path}: {}", r.status());
        assert!(r.headers().get("set-cookie").is_some(), "{path}: the choice was not set");
    }
    for path in [
        "/",
        "/matomo.js",
        "/mesure.js",
        "/optout?site=1",
        "/index.php?module=CoreAdminHome&action=optOut&idsite=1",
        "/nope",
    ] {
        let r = http.get(collector.url(path)).send().await.unwrap();
        assert_eq!(r.headers().get("x-content-type-options").map(|v| v.to_str().unwrap()), Some("nosniff"), "{path}");
    }
    let policy = |r: &reqwest::Response| r.headers()["content-security-policy"].to_str().unwrap().to_string();
    let dashboard = policy(&http.get(collector.url("/")).send().await.unwrap());
    assert!(dashboard.contains("default-src 'none'") && dashboard.contains("script-src 'self'"), "{dashboard}");
    let opt_out = policy(&http.get(collector.url("/optout?site=1")).send().await.unwrap());
    let ancestors = opt_out.split("frame-ancestors").nth(1).unwrap();
    assert!(ancestors.contains("https://example.org:*") && !ancestors.contains("shop.example.net"), "{opt_out}");
}

/// `/metrics` and `/readyz` are for the operator: on the public listener only for
/// `admin_networks` (default loopback and the trusted proxies; a visitor through the proxy is
/// not the proxy), on the admin listener only when there is one. Liveness stays public.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_pages_answer_only_the_operator() {
    let get = |url: String, source: &'static str, forwarded: Option<&'static str>| async move {
        let client = reqwest::Client::builder().local_address(source.parse::<IpAddr>().unwrap()).build().unwrap();
        let mut request = client.get(url);
        if let Some(address) = forwarded {
            request = request.header("x-forwarded-for", address);
        }
        request.send().await.unwrap().status().as_u16()
    };
    let ch = clickhouse();
    let mut config = CollectorConfig::new(ch, &unique_database("hostile_admin"));
    config.head = "trusted_proxies = [\"127.0.0.1\"]\nadmin_networks = [\"127.0.0.1/32\", \"127.0.0.3/32\"]\n".into();
    let collector = Collector::start(&config).await;
    for path in ["/metrics", "/readyz"] {
        assert_eq!(get(collector.url(path), "127.0.0.3", None).await, 200, "{path} for the operator");
        assert_eq!(get(collector.url(path), "127.0.0.2", None).await, 404, "{path} for an outsider");
        assert_eq!(get(collector.url(path), "127.0.0.1", Some("203.0.113.9")).await, 404, "{path} through the proxy");
        assert_eq!(get(collector.url(path), "127.0.0.1", None).await, 200, "{path} from the proxy host itself");
    }
    assert_eq!(get(collector.url("/healthz"), "127.0.0.2", None).await, 200, "liveness is public");
    drop(collector);

    // An admin listener: the admin pages there and only there.
    let admin_port = crate::common::free_port();
    let mut config = CollectorConfig::new(ch, &unique_database("hostile_admin2"));
    config.head = format!("admin_listen = \"127.0.0.1:{admin_port}\"\n");
    let collector = Collector::start(&config).await;
    let admin = |path: &str| format!("http://127.0.0.1:{admin_port}{path}");
    assert_eq!(get(collector.url("/metrics"), "127.0.0.1", None).await, 404, "metrics on the public listener");
    assert_eq!(get(admin("/metrics"), "127.0.0.1", None).await, 200);
    assert_eq!(get(admin("/readyz"), "127.0.0.1", None).await, 200);
    assert_eq!(
        get(admin("/matomo.php?idsite=1&rec=1"), "127.0.0.1", None).await,
        404,
        "tracking on the admin listener"
    );
    assert_eq!(get(collector.url("/healthz"), "127.0.0.2", None).await, 200);
}

/// On a public site, anyone reads the figures but not the few people on it now: a breakdown or
/// a filter finer than the country needs a span of a day or more (on the hour), and leaves out
/// the last half hour, in every dialect; the site's token reads everything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_public_sites_recent_visitors_stay_in_the_crowd() {
    let s = crate::stats::seed_with("[[sites]]\nid = 1\ndomains = [\"example.org\"]\npublic = true\n").await;
    let token = crate::stats::token_for(&s.collector, 1);
    let http = crate::common::http();
    let post = |path: &'static str, bearer: Option<&str>, body: serde_json::Value| {
        let mut request = http.post(s.collector.url(path)).json(&body);
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        async move {
            let r = request.send().await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let own = |date_range: serde_json::Value, dimensions: serde_json::Value, filters: serde_json::Value| serde_json::json!({"site_id": 1, "metrics": ["visitors"], "date_range": date_range, "dimensions": dimensions, "filters": filters});
    // Realtime: in total and by country, for anyone; by page or filtered by browser, refused.
    let (status, _) = post(
        "/api/v1/query",
        None,
        own("realtime".into(), serde_json::json!(["visit:country"]), serde_json::json!([])),
    )
    .await;
    assert_eq!(status, 200);
    for (dimensions, filters) in [
        (serde_json::json!(["event:page"]), serde_json::json!([])),
        (serde_json::json!(["visit:country"]), serde_json::json!([["is", "visit:browser", ["Firefox"]]])),
    ] {
        let (status, text) = post("/api/v1/query", None, own("realtime".into(), dimensions, filters)).await;
        assert_eq!(status, 400, "{text}");
        assert!(text.contains("visit:country or by time at most"), "{text}");
    }
    // Plausible's v2, the last five minutes by page, browser and device: refused to anyone, and
    // answered (the visitor of a minute ago included) to the site's token.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let instant = |t: u64| {
        let (day, second) = ((t / 86_400) as i64, t % 86_400);
        let date = mesure::query::period::date_text(day);
        format!("{date}T{:02}:{:02}:{:02}Z", second / 3600, second / 60 % 60, second % 60)
    };
    let five_minutes = serde_json::json!({
        "site_id": "example.org", "metrics": ["visitors"], "date_range": [instant(now - 300), instant(now + 60)],
        "dimensions": ["event:page", "visit:browser", "visit:device"],
    });
    let (status, text) = post("/api/v2/query", None, five_minutes.clone()).await;
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("under a day"), "{text}");
    let (status, text) = post("/api/v2/query", Some(&token), five_minutes).await;
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("/live"), "{text}");
    // A day by page: anyone sees the settled pages, not the page of a minute ago; the token sees it.
    let week = || own("7d".into(), serde_json::json!(["event:page"]), serde_json::json!([]));
    let (status, text) = post("/api/v1/query", None, week()).await;
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("\"/a\"") && !text.contains("/live"), "{text}");
    let (_, text) = post("/api/v1/query", Some(&token), week()).await;
    assert!(text.contains("/live"), "{text}");
    // Plausible's v1 breakdown of today's pages, as anyone: the page of a minute ago is not there.
    let r = http
        .get(s.collector.url("/api/v1/stats/breakdown?site_id=example.org&period=7d&property=event:page"))
        .send()
        .await
        .unwrap();
    let (status, text) = (r.status().as_u16(), r.text().await.unwrap());
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("\"/a\"") && !text.contains("/live"), "{text}");
}

/// Rows of `db` for a condition (polling until `expected` are there).
async fn rows_where(db: &str, condition: &str, expected: u64) -> u64 {
    let ch = clickhouse();
    let sql = format!("SELECT count() FROM {db}.events WHERE {condition}");
    eventually(Duration::from_secs(10), || async { (ch.count(&sql).await >= expected).then_some(()) }).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    ch.count(&sql).await
}

/// One request makes a bounded number of events: Plausible's domain list is de-duplicated and
/// capped, Matomo's bulk is capped; and an oversized page path is stored cut, not whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_request_amplifies_and_no_field_is_unbounded() {
    let ch = clickhouse();
    let db = unique_database("hostile_amplify");
    let mut config = CollectorConfig::new(ch, &db);
    config.head = String::new();
    let collector = Collector::start(&config).await;
    let http = crate::common::http();
    let plausible = |domain: String, path: &str| {
        let body = serde_json::json!({"n": "pageview", "u": format!("https://example.org{path}"), "d": domain});
        http.post(collector.url("/api/event")).json(&body).send()
    };
    // The same site ten times (and its www. alias): one event.
    let ten = ["example.org"; 9].join(",") + ",www.example.org";
    assert_eq!(plausible(ten, "/ten").await.unwrap().status().as_u16(), 202);
    // Eleven names: refused whole.
    let eleven = ["example.org"; 11].join(",");
    assert_eq!(plausible(eleven, "/eleven").await.unwrap().status().as_u16(), 400);
    // A bulk request over the cap (100 items): refused whole.
    let items: Vec<String> =
        (0..101).map(|i| format!("?idsite=1&rec=1&url=https%3A%2F%2Fexample.org%2Fbulk{i}")).collect();
    let r = http.post(collector.url("/matomo.php")).json(&serde_json::json!({"requests": items})).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 400);
    // A 5,000-character path is stored cut at 1,024 characters.
    let long = format!("/{}", "x".repeat(5000));
    assert_eq!(plausible("example.org".into(), &long).await.unwrap().status().as_u16(), 202);

    assert_eq!(rows_where(&db, "url_path = '/ten'", 1).await, 1, "ten names of one site make one event");
    assert_eq!(rows_where(&db, "url_path IN ('/eleven') OR url_path LIKE '/bulk%'", 0).await, 0);
    assert_eq!(rows_where(&db, "url_path LIKE '/xxx%' AND length(url_path) = 1024", 1).await, 1);
}

/// A flood of made-up visitors (bulk requests, each item with its own user agent) fills the
/// live-visit table: the idlest visits are evicted, and a visitor who arrives once it is full
/// and keeps browsing stays in one visit (new visits are not refused).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visit_table_flood_evicts_the_idlest_not_the_active() {
    let ch = clickhouse();
    let db = unique_database("hostile_visits");
    let mut config = CollectorConfig::new(ch, &db);
    config.head = String::new();
    config.extra.push_str("\n[privacy]\nmax_live_visits = 1000\n");
    let collector = Collector::start(&config).await;
    let http = crate::common::http();
    let mut pages = 0;
    for round in 0..30 {
        let items: Vec<String> = (0..100)
            .map(|i| {
                let ua = crate::common::enc(&format!(
                    "Mozilla/5.0 (X11; Linux x86_64; rv:{round}.{i}) Gecko/20100101 Firefox/133.0"
                ));
                format!("?idsite=1&rec=1&url=https%3A%2F%2Fexample.org%2Fflood&ua={ua}")
            })
            .collect();
        let r =
            http.post(collector.url("/matomo.php")).json(&serde_json::json!({"requests": items})).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200);
        if round < 15 {
            continue;
        }
        // The table is full (1,500 made-up visitors for 1,000 places): a real visitor, from
        // another address, arrives and keeps browsing.
        let (status, _) = visit(&collector).await;
        assert_eq!(status, 200);
        pages += 1;
    }
    assert_eq!(rows_where(&db, "url_path = '/hostile'", pages).await, pages);
    let visits = ch.count(&format!("SELECT uniqExact(visit_id) FROM {db}.events WHERE url_path = '/hostile'")).await;
    assert_eq!(visits, 1, "the active visitor's visit was split by the flood");
    assert!(metric(&collector, "mesure_visits_evicted_total").await > 0.0);
}

/// Sessions and sign-in links against others: a link opened twice at once signs in once; a
/// browser already signed in is asked to confirm a link (a cross-site confirmation is refused),
/// and a stream of share-link sign-ins ends no token holder's session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_and_sign_in_links_cannot_be_taken_over() {
    let secret = "a-share-link-secret";
    let ch = clickhouse();
    let db = unique_database("hostile_sessions");
    let mut config = CollectorConfig::new(ch, &db);
    config.head = String::new();
    let shared = format!("id = 2\nshare_secret_sha256 = \"{}\"\n", crate::stats::sha256(secret));
    config.extra = config.extra.replacen("id = 2\n", &shared, 1);
    let collector = Collector::start(&config).await;
    let no_redirects = || reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let link = || {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_mesure"))
            .args(["token", "create", "--site", "1", "--name", "link", "--sign-in-link", "--config"])
            .arg(collector.dir.join("mesure.toml"))
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8(out.stdout).unwrap();
        text.split("/signin?code=").nth(1).expect("a sign-in link").lines().next().unwrap().to_string()
    };
    let session_of = |r: &reqwest::Response| {
        r.headers().get("set-cookie").map(|c| c.to_str().unwrap().split(';').next().unwrap().to_string())
    };

    // The same link opened eight times at once: one session.
    let code = link();
    let opens = (0..8).map(|_| {
        let url = collector.url(&format!("/signin?code={code}"));
        async move { no_redirects().get(url).send().await.unwrap().status().as_u16() }
    });
    let statuses = futures_join_all(opens).await;
    assert_eq!(statuses.iter().filter(|s| **s == 303).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 400).count(), 7, "{statuses:?}");

    // A signed-in browser following someone else's link is asked first; nothing changes until
    // it confirms on this origin.
    let analyst = no_redirects();
    let mine = analyst.get(collector.url(&format!("/signin?code={}", link()))).send().await.unwrap();
    let cookie = session_of(&mine).expect("a session");
    let theirs = link();
    let asked =
        analyst.get(collector.url(&format!("/signin?code={theirs}"))).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(asked.status(), 200);
    assert!(session_of(&asked).is_none(), "signed in without confirming");
    assert_eq!(asked.headers()["x-frame-options"], "DENY");
    let page = asked.text().await.unwrap();
    assert!(page.contains("method=\"post\"") && page.contains(&theirs), "{page}");
    let confirm = |origin: &'static str, site: &'static str| {
        analyst
            .post(collector.url("/signin"))
            .header("cookie", &cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("origin", origin)
            .header("sec-fetch-site", site)
            .body(format!("code={theirs}"))
            .send()
    };
    let cross = confirm("https://evil.example", "cross-site").await.unwrap();
    assert_eq!(cross.status(), 403);
    assert!(session_of(&cross).is_none());
    let host = format!("http://127.0.0.1:{}", collector.port);
    let origin: &'static str = Box::leak(host.into_boxed_str());
    let confirmed = confirm(origin, "same-origin").await.unwrap();
    assert_eq!(confirmed.status(), 303, "a confirmation from this origin signs in");
    assert!(session_of(&confirmed).is_some());

    // 200 sign-ins with the share link (anyone who has it can): the token's session lives on.
    let sites = |cookie: String| {
        let url = collector.url("/api/v1/sites");
        async move { crate::common::http().get(url).header("cookie", cookie).send().await.unwrap().text().await.unwrap() }
    };
    let token_session = session_of(&confirmed).unwrap();
    assert!(sites(token_session.clone()).await.contains("\"id\":1"));
    for _ in 0..200 {
        let r = crate::common::http()
            .post(collector.url("/api/v1/session"))
            .json(&serde_json::json!({"token": secret}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    assert!(sites(token_session).await.contains("\"id\":1"), "a share-link sign-in ended a token's session");
}

/// `mesure reload` signals only the collector that owns the spool: with the collector stopped,
/// a pid file naming another process (here a `sleep` of ours) is refused and that process lives
/// on; a second collector on a running one's spool refuses to start; the pid file is private.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_signals_only_the_spools_owner() {
    use std::os::unix::fs::PermissionsExt;
    let ch = clickhouse();
    let config = CollectorConfig::new(ch, &unique_database("hostile_reload"));
    let mut collector = Collector::start(&config).await;
    collector.keep_dir = true;
    let dir = collector.dir.clone();
    let reload = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_mesure"))
            .args(["reload", "--config"])
            .arg(dir.join("mesure.toml"))
            .output()
            .unwrap()
    };
    let pid_file = dir.join("spool").join("mesure.pid");
    assert_eq!(std::fs::metadata(&pid_file).unwrap().permissions().mode() & 0o777, 0o600);
    assert!(reload().status.success(), "the running owner is signalled");
    // A second collector on the same files: refused at start.
    let second = std::process::Command::new(env!("CARGO_BIN_EXE_mesure"))
        .args(["serve", "--config"])
        .arg(dir.join("mesure.toml"))
        .output()
        .unwrap();
    assert!(!second.status.success());
    assert!(String::from_utf8_lossy(&second.stderr).contains("another mesure serve"), "{second:?}");
    assert!(collector.terminate(Duration::from_secs(30)).await.success());
    // Stopped; a pid file naming an unrelated process is left (stale, or written by someone).
    let mut bystander = std::process::Command::new("sleep").arg("30").spawn().unwrap();
    std::fs::write(&pid_file, format!("{}\n", bystander.id())).unwrap();
    let out = reload();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no mesure serve is running"), "{out:?}");
    std::thread::sleep(Duration::from_millis(200));
    assert!(bystander.try_wait().unwrap().is_none(), "the bystander was not signalled");
    let _ = bystander.kill();
    let _ = bystander.wait();
    let _ = std::fs::remove_dir_all(&dir);
}

/// A stats query the collector stops waiting for (its client hung up) is killed on ClickHouse,
/// which before 19.x goes on with a query after its HTTP client leaves: the server does not
/// keep working for nobody until the query's own time budget ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abandoned_stats_query_is_killed_on_the_server() {
    let ch = clickhouse();
    let db = unique_database("hostile_abandon");
    let mut config = CollectorConfig::new(ch, &db);
    config.extra.push_str("\n[limits]\nstats_timeout = \"120s\"\nstats_max_rows_to_read = 1000000000\n");
    let collector = Collector::start(&config).await;
    // 2 million paths, each searched for 2,000 strings: many seconds of ClickHouse.
    ch.query(&format!(
        "INSERT INTO {db}.events (site_id, retention_days, timestamp, visitor_id, visit_id, event_type, url_path) \
         SELECT 1, 180, toDateTime(toUInt32(now()) - 7200 + number % 3600), number, number, 'pageview', concat('/page/', toString(number % 200000)) \
         FROM system.numbers LIMIT 2000000"
    ))
    .await;
    let token = crate::stats::token_for(&collector, 1);
    // Within every bound: 20 filters of 100 values (the caps), each a search in every path.
    let filter = |f: usize| {
        let values: Vec<String> = (0..100).map(|v| format!("/p/{f}-{v}-{}", "x".repeat(12))).collect();
        serde_json::json!(["contains_not", "event:page", values])
    };
    let filters: Vec<serde_json::Value> = (0..20).map(filter).collect();
    let body = serde_json::json!({
        "site_id": 1, "metrics": ["visitors", "pageviews"], "date_range": "day",
        "dimensions": ["event:page"], "filters": filters,
    });
    let request = format!(
        "POST /api/v1/query HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.to_string().len()
    );
    let running = "SELECT count() FROM system.processes WHERE query_id LIKE 'mesure-read-%'";
    let mut client = TcpStream::connect(("127.0.0.1", collector.port)).await.unwrap();
    client.write_all(request.as_bytes()).await.unwrap();
    let seen = eventually(Duration::from_secs(5), || async { (ch.count(running).await > 0).then_some(()) }).await;

    assert!(seen.is_some(), "the query runs on the server");
    drop(client);
    let gone = eventually(Duration::from_secs(5), || async { (ch.count(running).await == 0).then_some(()) }).await;
    assert!(gone.is_some(), "the query still runs on the server after its client left");
}

/// One request cannot take the collector down: the widest range (year 1 to 9999) is answered
/// from the site's data, small and fast, in every dialect, and v2's 2,000 dimensions are refused
/// before ClickHouse sees them; an analyst's ordinary query is answered meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_widest_range_and_the_most_dimensions_are_bounded() {
    let ch = clickhouse();
    let mut config = CollectorConfig::new(ch, &unique_database("hostile_ranges"));
    config.extra = config.extra.replacen("id = 1\n", "id = 1\npublic = true\n", 1);
    let collector = Collector::start(&config).await;
    let http = crate::common::http();
    let widest = [
        "/api/v1/stats/timeseries?site_id=example.org&period=custom&date=0001-01-01,9999-12-30".to_string(),
        "/api/v1/stats/timeseries?site_id=example.org&period=custom&date=0001-01-01,9999-12-30&interval=date".into(),
    ];
    let attacks = widest.iter().map(|path| {
        let request = http.get(collector.url(path));
        async move {
            let started = Instant::now();
            let r = request.send().await.unwrap();
            let status = r.status().as_u16();
            let body = r.bytes().await.unwrap();
            assert_eq!(status, 200, "{path}: {}", String::from_utf8_lossy(&body[..body.len().min(300)]));
            (body.len(), started.elapsed())
        }
    });
    let v2_widest = serde_json::json!({
        "site_id": "example.org", "metrics": ["visitors"],
        "date_range": ["0001-01-01", "9999-12-30"], "dimensions": ["time:day"],
    });
    let many: Vec<String> = (0..2000).map(|i| format!("event:props:p{i}")).collect();
    let v2_many =
        serde_json::json!({"site_id": "example.org", "metrics": ["visitors"], "date_range": "7d", "dimensions": many});
    let ordinary = serde_json::json!({"site_id": 1, "metrics": ["visitors"], "date_range": "7d"});
    let (answers, widest_v2, many_v2, analyst) = tokio::join!(
        async {
            let mut answers = Vec::new();
            for attack in attacks {
                answers.push(attack.await);
            }
            answers
        },
        http.post(collector.url("/api/v2/query")).json(&v2_widest).send(),
        http.post(collector.url("/api/v2/query")).json(&v2_many).send(),
        http.post(collector.url("/api/v1/query")).json(&ordinary).send(),
    );
    for (bytes, took) in answers {
        // 400 days around the data at most, by day: under a megabyte, in well under 10 s.
        assert!(bytes < 1 << 20, "{bytes} bytes");
        assert!(took < Duration::from_secs(10), "{took:?}");
    }
    let widest_v2 = widest_v2.unwrap();
    assert_eq!(widest_v2.status().as_u16(), 200);
    assert!(widest_v2.bytes().await.unwrap().len() < 1 << 20);
    let many_v2 = many_v2.unwrap();
    assert_eq!(many_v2.status().as_u16(), 400);
    assert!(many_v2.text().await.unwrap().contains("at most 3 dimensions"));
    assert_eq!(analyst.unwrap().status().as_u16(), 200);
}

/// No web page learns through the Plausible endpoint whether its visitor was on a site here in
/// the last 30 minutes (an engagement without a live visit is dropped) or opted out: a request
/// with an `Origin` is answered alike, header for header, whatever became of its event. A
/// server (no `Origin`) still gets `X-Plausible-Dropped`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_web_page_learns_what_became_of_its_event() {
    let ch = clickhouse();
    let collector = Collector::start(&CollectorConfig::new(ch, &unique_database("hostile_oracle"))).await;
    let http = crate::common::http();
    let send = |event: &'static str, agent: &'static str, cookie: Option<&'static str>, origin: bool| {
        let mut request = http
            .post(collector.url("/api/event"))
            .header("content-type", "text/plain")
            .header("user-agent", agent)
            .body(event);
        if origin {
            request = request.header("origin", "https://elsewhere.example");
        }
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        async move {
            let r = request.send().await.unwrap();
            let mut headers: Vec<(String, String)> = r
                .headers()
                .iter()
                .filter(|(name, _)| *name != "date")
                .map(|(n, v)| (n.to_string(), v.to_str().unwrap().to_string()))
                .collect();
            headers.sort();
            (r.status().as_u16(), headers, r.text().await.unwrap())
        }
    };
    let pageview = r#"{"n":"pageview","u":"https://example.org/","d":"example.org"}"#;
    let engagement = r#"{"n":"engagement","u":"https://example.org/","d":"example.org","sd":50,"e":2000}"#;
    let (visited, stranger) = (BROWSER_UA, "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0");
    let recorded = send(pageview, visited, None, true).await;
    let engaged = send(engagement, visited, None, true).await;
    let without_visit = send(engagement, stranger, None, true).await;
    let opted_out = send(pageview, stranger, Some("mesure_optout=1"), true).await;
    assert_eq!(recorded.0, 202);
    for other in [&engaged, &without_visit, &opted_out] {
        assert_eq!(&recorded, other);
    }
    // A server's own event: told it was dropped.
    let (_, headers, _) = send(engagement, stranger, None, false).await;
    assert!(headers.iter().any(|(n, v)| n == "x-plausible-dropped" && v == "1"), "{headers:?}");
}
