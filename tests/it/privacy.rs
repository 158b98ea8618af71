//! The privacy invariants of `docs/privacy.md`, sections A–D, against the real binary and a
//! real ClickHouse. Each test fails when its promise breaks.

use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use crate::common::{
    ClickHouse, Collector, CollectorConfig, DEMO_SITES, REPO, clickhouse, enc, eventually, test_geo_db, unique_database,
};

const CANARY_V4: &str = "203.0.113.45";
const CANARY_V6: &str = "2001:db8:85a3:8d3:1319:8a2e:370:7348";
const MARKER_UA: &str = "Mozilla/5.0 (X11) PrivacyCanary/42.0";
const TOKEN: &str = "server-token-for-tests";

/// Every written form of the canary addresses, and the marker.
fn forbidden_strings() -> Vec<String> {
    let v4: std::net::Ipv4Addr = CANARY_V4.parse().unwrap();
    let v6: std::net::Ipv6Addr = CANARY_V6.parse().unwrap();
    let v4_int = u32::from(v4);
    let full_v6 = v6.segments().iter().map(|s| format!("{s:04x}")).collect::<Vec<_>>().join(":");
    vec![
        CANARY_V4.to_string(),
        v4_int.to_string(),
        format!("{v4_int:08x}"),
        format!("::ffff:{CANARY_V4}"),
        "::ffff:cb00:712d".to_string(),
        CANARY_V6.to_string(),
        full_v6.clone(),
        full_v6.replace(':', ""),
        u128::from(v6).to_string(),
        "PrivacyCanary".to_string(),
    ]
}

/// The canary addresses as raw bytes (both byte orders for IPv4, as an integer column would hold it).
fn forbidden_bytes() -> Vec<Vec<u8>> {
    let v4: std::net::Ipv4Addr = CANARY_V4.parse().unwrap();
    let v6: std::net::Ipv6Addr = CANARY_V6.parse().unwrap();
    let mut le = v4.octets();
    le.reverse();
    vec![v4.octets().to_vec(), le.to_vec(), v6.octets().to_vec()]
}

fn find_leaks(text: &[u8]) -> Vec<String> {
    let lower = String::from_utf8_lossy(text).to_lowercase();
    let mut leaks: Vec<String> =
        forbidden_strings().into_iter().filter(|f| lower.contains(&f.to_lowercase())).collect();
    for bytes in forbidden_bytes() {
        if text.windows(bytes.len()).any(|w| w == bytes.as_slice()) {
            leaks.push(format!("raw bytes {bytes:?}"));
        }
    }
    leaks
}

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (k, v) in pairs {
        map.append(HeaderName::from_bytes(k.as_bytes()).unwrap(), HeaderValue::from_str(v).unwrap());
    }
    map
}

fn site_with_token() -> String {
    let digest = sha256_hex(TOKEN);
    format!(
        "[geo]\ndatabase = \"{}\"\n{DEMO_SITES}\n[[sites]]\nid = 3\ndomains = [\"keep.example.org\"]\nkeep_query = [\"q\"]\ntoken_auth_sha256 = \"{digest}\"\n",
        test_geo_db().display()
    )
}

fn sha256_hex(text: &str) -> String {
    let out =
        std::process::Command::new("sh").arg("-c").arg(format!("printf %s '{text}' | sha256sum")).output().unwrap();
    String::from_utf8(out.stdout).unwrap().split_whitespace().next().unwrap().to_string()
}

async fn rows(ch: &ClickHouse, db: &str) -> u64 {
    ch.count(&format!("SELECT count() FROM {db}.events")).await
}

async fn wait_rows(ch: &ClickHouse, db: &str, expected: u64) {
    let reached =
        eventually(Duration::from_secs(15), || async { (rows(ch, db).await >= expected).then_some(()) }).await;
    assert!(reached.is_some(), "expected {expected} rows, have {}", rows(ch, db).await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(rows(ch, db).await, expected);
}

/// A1: after hits from the canary addresses with the marker user agent, at the most verbose log
/// level, no table, no ClickHouse log table, no log line and no spool file holds them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn privacy_canary_no_ip_or_user_agent_anywhere() {
    let ch = clickhouse();
    let db = unique_database("canary");
    let mut config = CollectorConfig::new(ch, &db);
    config.extra = site_with_token();
    config.log = "trace".into();
    let collector = Collector::start(&config).await;
    let client = crate::common::http();
    let page = enc("https://example.org/canary");
    let url = collector.url(&format!("/matomo.php?idsite=1&rec=1&url={page}"));

    let sent = [
        headers(&[("x-forwarded-for", CANARY_V4), ("user-agent", MARKER_UA)]),
        headers(&[("x-forwarded-for", CANARY_V6), ("user-agent", MARKER_UA)]),
        headers(&[("forwarded", &format!("for=\"[{CANARY_V6}]:4711\"")), ("user-agent", MARKER_UA)]),
        headers(&[("x-real-ip", CANARY_V4), ("user-agent", MARKER_UA)]),
    ];
    for h in sent {
        assert_eq!(client.get(&url).headers(h).send().await.unwrap().status(), 200);
    }
    // Server-side: the address and user agent as parameters, with the site's token.
    let server_side = format!(
        "/matomo.php?idsite=3&rec=1&url={}&cip={CANARY_V4}&ua={}&token_auth={TOKEN}",
        enc("https://keep.example.org/x"),
        enc(MARKER_UA)
    );
    assert_eq!(client.get(collector.url(&server_side)).send().await.unwrap().status(), 200);
    // Declined ones must not be logged either.
    for h in [
        headers(&[("x-forwarded-for", CANARY_V4), ("user-agent", MARKER_UA), ("dnt", "1")]),
        headers(&[("x-forwarded-for", CANARY_V6), ("user-agent", MARKER_UA), ("sec-gpc", "1")]),
    ] {
        assert_eq!(client.get(&url).headers(h).send().await.unwrap().status(), 200);
    }
    let bad_cip = format!("/matomo.php?idsite=1&rec=1&url={page}&cip={CANARY_V4}");
    assert_eq!(client.get(collector.url(&bad_cip)).send().await.unwrap().status(), 200);

    wait_rows(ch, &db, 5).await;
    let dir = collector.dir.clone();
    let spool = dir.join("spool");
    let stdout = collector.stdout();
    let stderr_before = collector.stderr();
    let status = collector.terminate(Duration::from_secs(20)).await;
    assert!(status.success());
    let stderr = std::fs::read_to_string(dir.join("stderr.log")).unwrap_or(stderr_before);
    assert!(stderr.contains("TRACE") || stderr.contains("DEBUG"), "the collector did not log verbosely:\n{stderr}");

    // Every column of every table of the database.
    let tables = ch.query(&format!("SELECT name FROM system.tables WHERE database = '{db}'")).await;
    assert!(tables.lines().count() >= 3, "{tables}");
    for table in tables.lines() {
        for format in ["TabSeparated", "RowBinary"] {
            let dump = raw_query(ch, &format!("SELECT * FROM {db}.{table} FORMAT {format}")).await;
            assert!(find_leaks(&dump).is_empty(), "{db}.{table} ({format}) holds {:?}", find_leaks(&dump));
        }
    }
    // ClickHouse's own log tables, where they exist.
    let log_tables =
        ch.query("SELECT name FROM system.tables WHERE database = 'system' AND name LIKE '%\\_log%'").await;
    for table in log_tables.lines() {
        let dump = raw_query(ch, &format!("SELECT * FROM system.{table} FORMAT TabSeparated")).await;
        assert!(find_leaks(&dump).is_empty(), "system.{table} holds {:?}", find_leaks(&dump));
    }
    // The collector's output, at trace level.
    assert!(find_leaks(stdout.as_bytes()).is_empty(), "stdout holds {:?}", find_leaks(stdout.as_bytes()));
    assert!(find_leaks(stderr.as_bytes()).is_empty(), "stderr holds {:?}", find_leaks(stderr.as_bytes()));
    // The spool, if anything was written there.
    for file in walk(&spool) {
        let bytes = std::fs::read(&file).unwrap();
        assert!(find_leaks(&bytes).is_empty(), "{} holds {:?}", file.display(), find_leaks(&bytes));
    }
    let _ = std::fs::remove_dir_all(dir);
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                out.extend(walk(&path));
            } else {
                out.push(path);
            }
        }
    }
    out
}

async fn raw_query(ch: &ClickHouse, sql: &str) -> Vec<u8> {
    let response = crate::common::http().post(ch.url()).body(sql.to_string()).send().await.unwrap();
    assert!(response.status().is_success(), "{sql}");
    response.bytes().await.unwrap().to_vec()
}

/// A3: the documented addresses of the official test database give the documented places, through
/// the whole pipeline; no column could hold anything finer or an address or a user agent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn geolocation_is_city_level_through_the_pipeline() {
    let ch = clickhouse();
    let db = unique_database("geo");
    let collector = Collector::start(&CollectorConfig::new(ch, &db)).await;
    let client = crate::common::http();
    for (ip, path) in
        [("81.2.69.142", "london"), ("2001:218::1", "japan"), ("89.160.20.128", "linkoping"), (CANARY_V4, "unknown")]
    {
        let url =
            collector.url(&format!("/matomo.php?idsite=1&rec=1&url={}", enc(&format!("https://example.org/{path}"))));
        let r = client.get(url).header("x-forwarded-for", ip).send().await.unwrap();
        assert_eq!(r.status(), 200);
    }
    wait_rows(ch, &db, 4).await;
    let places = ch
        .query(&format!(
            "SELECT url_path, country_code, region_code, region_name, city FROM {db}.events ORDER BY url_path FORMAT TSV"
        ))
        .await;
    assert_eq!(
        places,
        "/japan\tJP\t\t\t\n/linkoping\tSE\tE\tÖstergötland County\tLinköping\n/london\tGB\tENG\tEngland\tLondon\n/unknown\t\t\t\t\n"
    );
    let columns = ch.query(&format!("SELECT name FROM system.columns WHERE database = '{db}'")).await;
    for forbidden in [
        "latitude",
        "longitude",
        "lat",
        "lon",
        "lng",
        "location",
        "postal_code",
        "postcode",
        "accuracy_radius",
        "metro_code",
        "asn",
        "isp",
        "ip",
        "ip_address",
        "client_ip",
        "user_agent",
        "ua",
    ] {
        assert!(!columns.lines().any(|c| c == forbidden), "a column named {forbidden} exists");
    }
}

/// The sockets a process holds: (local port, remote port, state) from `/proc`, IPv4 and IPv6.
fn sockets_of(pid: u32) -> Vec<(u16, u16, String)> {
    let inodes: std::collections::HashSet<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter_map(|link| {
            let link = link.to_string_lossy().to_string();
            link.strip_prefix("socket:[")?.strip_suffix(']').map(str::to_string)
        })
        .collect();
    let port = |endpoint: &str| u16::from_str_radix(endpoint.rsplit(':').next().unwrap(), 16).unwrap();
    let mut out = Vec::new();
    for table in ["tcp", "tcp6", "udp", "udp6"] {
        let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/net/{table}")) else { continue };
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() > 9 && inodes.contains(fields[9]) {
                out.push((port(fields[1]), port(fields[2]), format!("{table}/{}", fields[3])));
            }
        }
    }
    out
}

/// A4, F3: while it handles hits (from a visitor with an address the geo database knows, and
/// external referrers), the collector's only connections are the ones its clients opened and
/// the ones it opened to ClickHouse: the address is looked up locally and nothing is sent
/// anywhere else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_collector_connects_only_to_clickhouse() {
    let ch = clickhouse();
    let db = unique_database("outbound");
    let collector = Collector::start(&CollectorConfig::new(ch, &db)).await;
    let client = crate::common::http();
    for i in 0..20 {
        let url = collector.url(&format!(
            "/matomo.php?idsite=1&rec=1&url={}&urlref={}",
            enc(&format!("https://example.org/out/{i}")),
            enc("https://www.google.com/search?q=x")
        ));
        let r = client.get(url).header("x-forwarded-for", "81.2.69.142").send().await.unwrap();
        assert_eq!(r.status(), 200);
    }
    wait_rows(ch, &db, 20).await;
    let sockets = sockets_of(collector.child.id());
    assert!(
        sockets.iter().any(|(_, remote, _)| *remote == ch.http_port),
        "no connection to ClickHouse seen: {sockets:?}"
    );
    let stray: Vec<_> = sockets
        .iter()
        .filter(|(local, remote, state)| {
            let listening = state.ends_with("/0A") || *remote == 0;
            !listening && *local != collector.port && *remote != ch.http_port
        })
        .collect();
    assert!(stray.is_empty(), "connections to something other than ClickHouse or a client: {stray:?}");
}

/// A6: forwarding headers count only from trusted proxies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_addresses_count_only_from_trusted_proxies() {
    let ch = clickhouse();
    let db = unique_database("proxies");
    let mut config = CollectorConfig::new(ch, &db);
    config.head = "trusted_proxies = [\"10.0.0.0/8\"]\n".into(); // loopback is not trusted here
    let collector = Collector::start(&config).await;
    let url = collector.url(&format!("/matomo.php?idsite=1&rec=1&url={}", enc("https://example.org/")));
    let r = crate::common::http().get(url).header("x-forwarded-for", "81.2.69.142").send().await.unwrap();
    assert_eq!(r.status(), 200);
    wait_rows(ch, &db, 1).await;
    // The claimed London address was ignored: the peer (loopback) is not in the database.
    assert_eq!(ch.query(&format!("SELECT city FROM {db}.events FORMAT TSV")).await, "\n");
}

/// C1, C2, C4: DNT and GPC, table-driven over header values. A declined hit gets exactly the
/// answer a counted one gets, and no cookie.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dnt_and_gpc_are_honoured_and_invisible() {
    let ch = clickhouse();
    let db = unique_database("dntgpc");
    let collector = Collector::start(&CollectorConfig::new(ch, &db)).await;
    let client = crate::common::http();
    let cases: &[(&str, &str, bool)] = &[
        ("dnt", "1", false),
        ("dnt", "1 (extension)", false),
        ("dnt", "0", true),
        ("dnt", "", true),
        ("dnt", "yes", true),
        ("sec-gpc", "1", false),
        ("sec-gpc", "0", true),
        ("sec-gpc", "true", true),
        ("sec-gpc", "11", true),
        ("x-none", "1", true),
    ];
    let mut answers = Vec::new();
    for (i, (name, value, stored)) in cases.iter().enumerate() {
        let url =
            collector.url(&format!("/matomo.php?idsite=1&rec=1&url={}", enc(&format!("https://example.org/case/{i}"))));
        let r = client
            .get(url)
            .headers(headers(&[(name, value), ("x-forwarded-for", "81.2.69.142")]))
            .send()
            .await
            .unwrap();
        assert!(r.headers().get("set-cookie").is_none(), "{name}: {value:?} set a cookie");
        let mut h: Vec<(String, String)> = r
            .headers()
            .iter()
            .filter(|(k, _)| *k != "date")
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_string()))
            .collect();
        h.sort();
        answers.push((r.status(), h, r.bytes().await.unwrap(), *stored));
    }
    let first = &answers[0];
    for a in &answers {
        assert_eq!(
            (a.0, &a.1, &a.2),
            (first.0, &first.1, &first.2),
            "answers differ between declined and counted hits"
        );
    }
    let expected: Vec<String> =
        cases.iter().enumerate().filter(|(_, c)| c.2).map(|(i, _)| format!("/case/{i}")).collect();
    wait_rows(ch, &db, expected.len() as u64).await;
    let stored = ch.query(&format!("SELECT url_path FROM {db}.events ORDER BY url_path FORMAT TSV")).await;
    let mut expected_sorted = expected.clone();
    expected_sorted.sort();
    assert_eq!(stored.lines().collect::<Vec<_>>(), expected_sorted);
    let metrics = client.get(collector.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("mesure_events_declined_total{reason=\"dnt\"} 2"), "{metrics}");
    assert!(metrics.contains("mesure_events_declined_total{reason=\"gpc\"} 1"), "{metrics}");
}

/// C3: the opt-out link over real HTTP with a cookie jar: opt out → hits store nothing → opt back
/// in → hits are stored. Works without JavaScript (a plain form), in French and English.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opt_out_and_back_in() {
    let ch = clickhouse();
    let db = unique_database("optout");
    let collector = Collector::start(&CollectorConfig::new(ch, &db)).await;
    let browser = crate::common::browser().cookie_store(true).build().unwrap();
    let hit = |n: &str| {
        collector.url(&format!("/matomo.php?idsite=1&rec=1&url={}", enc(&format!("https://example.org/{n}"))))
    };

    let page = browser.get(collector.url("/optout")).header("accept-language", "en-GB,en").send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let html = page.text().await.unwrap();
    assert!(html.contains("counted anonymously") && html.contains("name=\"action\" value=\"out\""), "{html}");
    assert!(!html.contains("<script"), "the page must work without JavaScript");

    browser.get(hit("before")).send().await.unwrap();

    // Opt out: a plain form POST, answered 303 with the cookie, back to the page.
    let no_redirect = crate::common::browser().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let r = no_redirect.post(collector.url("/optout")).form(&[("action", "out"), ("lang", "en")]).send().await.unwrap();
    assert_eq!(r.status(), 303);
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
    for attribute in ["mesure_optout=1", "HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=34128000"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "no Secure flag over plain HTTP");

    let r = browser.post(collector.url("/optout")).form(&[("action", "out"), ("lang", "fr")]).send().await.unwrap();
    assert_eq!(r.status(), 200, "the redirect leads back to the page");
    let html = r.text().await.unwrap();
    assert!(html.contains("lang=\"fr\"") && html.contains("Vous vous êtes opposé"), "{html}");
    assert!(html.contains("name=\"action\" value=\"in\""));

    // Another site cannot undo the choice: a cross-site form post is refused, the cookie stays.
    for (name, value) in [("sec-fetch-site", "cross-site"), ("origin", "https://evil.example")] {
        let r =
            browser.post(collector.url("/optout")).header(name, value).form(&[("action", "in")]).send().await.unwrap();
        assert_eq!(r.status(), 403, "{name}: {value}");
        assert!(r.headers().get("set-cookie").is_none());
    }
    // (the hit below is still declined: the refused posts changed nothing)
    browser.get(hit("while-opted-out")).send().await.unwrap();

    let r = browser.post(collector.url("/optout")).form(&[("action", "in")]).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("value=\"out\""));
    browser.get(hit("after")).send().await.unwrap();

    wait_rows(ch, &db, 2).await;
    let stored = ch.query(&format!("SELECT url_path FROM {db}.events ORDER BY url_path FORMAT TSV")).await;
    assert_eq!(stored, "/after\n/before\n");
    let metrics = browser.get(collector.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("mesure_events_declined_total{reason=\"optout\"} 1"), "{metrics}");
}

/// D1, D2, D4: URLs minimised, referrer as host, `cip` needs the token, `uid` never stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn urls_are_minimised_and_server_parameters_need_the_token() {
    let ch = clickhouse();
    let db = unique_database("minimise");
    let mut config = CollectorConfig::new(ch, &db);
    config.extra = site_with_token();
    let collector = Collector::start(&config).await;
    let client = crate::common::http();
    let send = |query: String| {
        let client = client.clone();
        let url = collector.url(&format!("/matomo.php?{query}"));
        async move {
            let r = client.get(url).header("x-forwarded-for", "81.2.69.142").send().await.unwrap();
            assert_eq!(r.status(), 200);
        }
    };
    let secret_url = |host: &str| enc(&format!("https://{host}/p?email=a@b.c&q=x&sid=42#frag"));
    send(format!(
        "idsite=1&rec=1&url={}&urlref={}&uid=user-4711",
        secret_url("example.org"),
        enc("https://www.google.com/search?q=private+words")
    ))
    .await;
    send(format!("idsite=3&rec=1&url={}", secret_url("keep.example.org"))).await;
    // cip without the token (and with a wrong one): refused.
    send(format!("idsite=3&rec=1&url={}&cip=89.160.20.128", enc("https://keep.example.org/cip-no-token"))).await;
    send(format!(
        "idsite=3&rec=1&url={}&cip=89.160.20.128&token_auth=wrong",
        enc("https://keep.example.org/cip-bad-token")
    ))
    .await;
    // With the token: honoured (the place is cip's, not the peer's).
    send(format!(
        "idsite=3&rec=1&url={}&cip=89.160.20.128&token_auth={TOKEN}",
        enc("https://keep.example.org/cip-token")
    ))
    .await;

    wait_rows(ch, &db, 3).await;
    let stored = ch
        .query(&format!(
            "SELECT site_id, url_path, referrer_host, city FROM {db}.events ORDER BY site_id, url_path FORMAT TSV"
        ))
        .await;
    assert_eq!(stored, "1\t/p\twww.google.com\tLondon\n3\t/cip-token\t\tLinköping\n3\t/p?q=x\t\tLondon\n");
    let dump = raw_query(ch, &format!("SELECT * FROM {db}.events FORMAT TabSeparated")).await;
    let dump = String::from_utf8_lossy(&dump);
    for secret in ["user-4711", "a@b.c", "email", "frag", "private", "sid"] {
        assert!(!dump.contains(secret), "{secret} was stored");
    }
    let metrics = client.get(collector.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("mesure_events_declined_total{reason=\"unauthorized\"} 2"), "{metrics}");
}

/// The summary a privacy notice can quote.
#[test]
fn check_config_prints_the_privacy_summary() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mesure.toml");
    std::fs::write(
        &path,
        format!("public_url = \"https://stats.example.org\"\n[geo]\ndatabase = \"{REPO}/geo/test-data/GeoIP2-City-Test.mmdb\"\nmask_before_lookup = true\n{DEMO_SITES}"),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mesure"))
        .arg("check-config")
        .arg("--config")
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    for expected in [
        "site 2 (shop.example.net)",
        "retention: 13 months",
        "salt that changes every day at 00:00 UTC",
        "masked to /24 (IPv4) or /48 (IPv6)",
        "Do-Not-Track: honoured",
        "Global Privacy Control: honoured",
        "opt-out: https://stats.example.org/optout",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
}

/// G2: a machine-readable notice per site, public, that matches the configuration.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_site_serves_a_machine_readable_notice() {
    let ch = clickhouse();
    let db = unique_database("notice");
    let mut config = CollectorConfig::new(ch, &db);
    config.head.push_str("public_url = \"https://stats.example.org\"\n");
    config.extra = format!(
        "[geo]\ndatabase = \"{}\"\nmask_before_lookup = true\n{DEMO_SITES}\n[[sites]]\nid = 5\ndomains = [\"c.example.org\"]\ncookie_mode = true\nkeep_query = [\"q\"]\nstore_campaigns = false\n",
        test_geo_db().display()
    );
    let collector = Collector::start(&config).await;
    let get = |site: u32| crate::common::http().get(collector.url(&format!("/privacy.json?site={site}"))).send();
    let r = get(2).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["access-control-allow-origin"], "*");
    let notice: serde_json::Value = r.json().await.unwrap();
    assert_eq!(notice["retention"]["days"], 395);
    assert_eq!(notice["retention"]["text"], "13 months");
    assert_eq!(notice["identifier"]["kind"], "cookieless");
    assert_eq!(notice["ip_address"]["stored"], false);
    assert_eq!(notice["ip_address"]["geolocation"], "city");
    assert_eq!(notice["ip_address"]["masked_before_lookup"], true);
    assert_eq!(notice["do_not_track_honoured"], true);
    assert_eq!(notice["global_privacy_control_honoured"], true);
    assert_eq!(notice["opt_out_url"], "https://stats.example.org/optout");
    assert_eq!(notice["data_sent_to_third_parties"], false);
    let cookie: serde_json::Value = get(5).await.unwrap().json().await.unwrap();
    assert_eq!(cookie["identifier"]["kind"], "first-party-cookie");
    assert_eq!(cookie["identifier"]["cookie_lifetime_days"], 395);
    assert_eq!(cookie["query_string_parameters_kept"], serde_json::json!(["q"]));
    assert_eq!(cookie["campaign_values_stored"], false);
    assert_eq!(get(99).await.unwrap().status(), 404);
}
