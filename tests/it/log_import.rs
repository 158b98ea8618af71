//! Matomo's log importer (`import_logs.py`, vendored unchanged in
//! `tests/clients/matomo-log-analytics/`) replaying a generated web-server log into a real
//! collector: what it reports imported is what was stored, and the stored rows count visitors
//! and visits as the log's days and Matomo's rules do (docs/privacy.md B6).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::common::{Collector, CollectorConfig, REPO, clickhouse, eventually, unique_database};

const TOKEN: &str = "log-import-token";
const DAY: u64 = 86_400;
/// Paris is an hour ahead of UTC in December (and the log's days are in December or earlier).
const BROWSERS: [&str; 4] = [
    "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.6 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.5 Safari/605.1.15",
];

/// One line the importer sends: who, when, what.
struct Sent {
    ip: String,
    ua: &'static str,
    at: u64,
}

/// A small deterministic generator (no randomness between runs).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % below
    }
}

/// `10/Nov/2026:13:55:36 +0000`.
fn clf_time(at: u64) -> String {
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let date = mesure::query::period::date_text((at / DAY) as i64);
    let (y, m, d) = (&date[..4], date[5..7].parse::<usize>().unwrap(), &date[8..10]);
    let s = at % DAY;
    format!("{d}/{}/{y}:{:02}:{:02}:{:02} +0000", MONTHS[m - 1], s / 3600, s % 3600 / 60, s % 60)
}

/// A combined-format log over three days ending a few days ago: 120 visitors (some back on
/// later days, some with a pause over 30 minutes, some across the site's midnight), plus what
/// the importer skips itself: a crawler, static files, an error, a redirect. Returns the log and
/// the lines the importer sends.
fn access_log(now: u64) -> (String, Vec<Sent>) {
    let first_day = now / DAY - 6;
    let mut rng = Lcg(7);
    let mut lines: Vec<(u64, String)> = Vec::new();
    let mut sent = Vec::new();
    let line = |ip: &str, at: u64, path: &str, status: u16, referrer: &str, ua: &str| {
        format!("{ip} - - [{}] \"GET {path} HTTP/1.1\" {status} 5120 \"{referrer}\" \"{ua}\"", clf_time(at))
    };
    for visitor in 0..120u64 {
        let ip = format!("198.51.{}.{}", 100 + visitor / 200, 1 + visitor % 200);
        let ua = BROWSERS[(visitor % 4) as usize];
        // Every visitor comes on one day; a third come back on each later day.
        for day in 0..3u64 {
            if day > 0 && rng.next(3) != 0 {
                continue;
            }
            let mut at = (first_day + day) * DAY + 6 * 3600 + rng.next(16 * 3600);
            // A few visits end just before the site's midnight (23:00 UTC) and go on after it.
            if visitor % 17 == 0 {
                at = (first_day + day) * DAY + 22 * 3600 + 50 * 60;
            }
            for page in 0..(1 + rng.next(5)) {
                let path = format!("/articles/{}", rng.next(40));
                let referrer = if page == 0 { "https://www.qwant.com/" } else { "https://www.example.org/" };
                lines.push((at, line(&ip, at, &path, 200, referrer, ua)));
                sent.push(Sent { ip: ip.clone(), ua, at });
                // What the importer drops itself: the page's stylesheet and image.
                lines.push((at, line(&ip, at, "/static/site.css", 200, "", ua)));
                lines.push((at, line(&ip, at, "/static/logo.png", 200, "", ua)));
                // Usually a minute or two to the next page; sometimes a pause that ends the visit.
                at += if rng.next(7) == 0 { 45 * 60 } else { 20 + rng.next(180) };
            }
        }
    }
    let noon = (first_day + 1) * DAY + 12 * 3600;
    let crawler = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";
    lines.push((noon, line("66.249.66.1", noon, "/articles/1", 200, "", crawler)));
    lines.push((noon, line("203.0.113.9", noon, "/missing", 404, "", BROWSERS[0])));
    lines.push((noon, line("203.0.113.9", noon, "/old", 301, "", BROWSERS[0])));
    lines.sort_by_key(|(at, _)| *at);
    let text = lines.into_iter().map(|(_, l)| l + "\n").collect::<String>();
    sent.sort_by_key(|s| s.at);
    (text, sent)
}

/// Visits as Matomo's rules count them: a visitor's hits in time order, a new visit after 30
/// minutes without one, at the site's midnight, and (the id being a day's) at midnight UTC.
fn expected_visits(sent: &[Sent], utc_offset: u64) -> usize {
    let mut by_visitor: HashMap<(&str, &str), Vec<u64>> = HashMap::new();
    for s in sent {
        by_visitor.entry((&s.ip, s.ua)).or_default().push(s.at);
    }
    let mut visits = 0;
    for times in by_visitor.values_mut() {
        times.sort_unstable();
        let mut last: Option<u64> = None;
        for &at in times.iter() {
            let same_visit = last.is_some_and(|last| {
                at - last <= 30 * 60 && (at + utc_offset) / DAY == (last + utc_offset) / DAY && at / DAY == last / DAY
            });
            if !same_visit {
                visits += 1;
            }
            last = Some(at);
        }
    }
    visits
}

/// `import_logs.py` run unchanged against a collector: its Reporting API calls are answered, its
/// bulk requests of 200 object items (two recorders) are taken whole, and what it says it
/// imported (less the lines it lists as invalid) is exactly what was stored. Per UTC day, the
/// stored visitors are the log's distinct address and user-agent pairs; no visitor id spans two
/// days; visits are Matomo's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn matomo_log_importer_replays_a_log_unchanged() {
    let ch = clickhouse();
    let db = unique_database("log_import");
    let mut config = CollectorConfig::new(ch, &db);
    let digest = crate::stats::sha256(TOKEN);
    config.extra = config.extra.replacen(
        "domains = [\"example.org\", \"www.example.org\"]",
        &format!(
            "domains = [\"example.org\", \"www.example.org\"]\ntimezone = \"Europe/Paris\"\ntoken_auth_sha256 = \"{digest}\""
        ),
        1,
    );
    let collector = Collector::start(&config).await;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let (log, sent) = access_log(now);
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("access.log");
    std::fs::write(&log_path, &log).unwrap();
    let url = collector.url("");
    let importer = Path::new(REPO).join("tests/clients/matomo-log-analytics/import_logs.py");
    let out = tokio::task::spawn_blocking(move || {
        Command::new("timeout")
            .arg("300")
            .arg("python3")
            .arg(&importer)
            .arg(format!("--url={url}"))
            .arg(format!("--token-auth={TOKEN}"))
            .arg("--idsite=1")
            .arg("--recorders=2")
            .arg(&log_path)
            .output()
    })
    .await
    .unwrap()
    .expect("python3 runs the importer");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "the importer failed:\n{stdout}\n{stderr}\n{}", collector.stderr());
    let number_before = |text: &str, words: &str| -> u64 {
        let line = text.lines().find(|l| l.contains(words)).unwrap_or_else(|| panic!("no '{words}' in:\n{text}"));
        line.split_whitespace().next().unwrap().parse().unwrap()
    };
    let imported = number_before(&stdout, "requests imported successfully");
    let invalid = if stdout.contains("Invalid log lines") {
        let block = stdout.split("Invalid log lines").nth(1).unwrap().split("Logs import summary").next().unwrap();
        block.split(|c: char| !c.is_ascii_digit()).filter(|w| !w.is_empty()).count() as u64
    } else {
        0
    };
    assert_eq!(imported, sent.len() as u64, "the importer sent every page line:\n{stdout}");
    assert_eq!(number_before(&stdout, "HTTP errors"), 1, "{stdout}");
    assert_eq!(number_before(&stdout, "HTTP redirects"), 1, "{stdout}");

    let stored = eventually(Duration::from_secs(20), || async {
        let n = ch.count(&format!("SELECT count() FROM {db}.events WHERE site_id = 1")).await;
        (n >= imported - invalid).then_some(n)
    })
    .await;
    assert_eq!(stored, Some(imported - invalid), "stored rows = imported - invalid:\n{stdout}");
    assert_eq!(invalid, 0, "every page line is a page view:\n{stdout}");

    // Per UTC day, visitors are the distinct address + user agent pairs of that day.
    let mut expected: BTreeMap<u64, BTreeSet<(&str, &str)>> = BTreeMap::new();
    for s in &sent {
        expected.entry(s.at / DAY).or_default().insert((&s.ip, s.ua));
    }
    let expected: Vec<String> = expected.iter().map(|(day, pairs)| format!("{}\t{}", day, pairs.len())).collect();
    let per_day = ch
        .query(&format!(
            "SELECT intDiv(toUInt32(timestamp), 86400) AS day, uniqExact(visitor_id) FROM {db}.events \
             WHERE site_id = 1 GROUP BY day ORDER BY day FORMAT TSV"
        ))
        .await;
    assert_eq!(per_day.lines().collect::<Vec<_>>(), expected, "visitors per day");
    let linked = ch
        .count(&format!(
            "SELECT count() FROM (SELECT visitor_id FROM {db}.events WHERE site_id = 1 GROUP BY visitor_id \
             HAVING uniqExact(intDiv(toUInt32(timestamp), 86400)) > 1)"
        ))
        .await;
    assert_eq!(linked, 0, "a visitor id spans two days");
    let visits = ch.count(&format!("SELECT uniqExact(visit_id) FROM {db}.events WHERE site_id = 1")).await;
    assert_eq!(visits as usize, expected_visits(&sent, 3600), "visits as Matomo counts them");
    assert!(!collector.stderr().contains("198.51.100."), "an address in the collector's log");

    // The importer's large bulk requests were taken because they carried the token; the same
    // size without it, or more items than a browser's queue, is refused before any hit is read.
    let big = |token: Option<&str>, items: usize, url_chars: usize| {
        let item =
            serde_json::json!({"idsite": 1, "rec": 1, "url": format!("https://example.org/{}", "x".repeat(url_chars))});
        let mut body = serde_json::json!({"requests": vec![item; items]});
        if let Some(token) = token {
            body["token_auth"] = serde_json::json!(token);
        }
        crate::common::http().post(collector.url("/matomo.php")).body(body.to_string()).send()
    };
    assert_eq!(big(None, 90, 900).await.unwrap().status().as_u16(), 413, "over 64 KiB without a token");
    assert_eq!(big(Some("not-a-token"), 90, 900).await.unwrap().status().as_u16(), 413, "with a wrong token");
    assert_eq!(big(None, 101, 10).await.unwrap().status().as_u16(), 400, "over 100 items without a token");
    assert_eq!(big(Some(TOKEN), 1001, 10).await.unwrap().status().as_u16(), 400, "over 1000 items even with the token");
    assert_eq!(big(Some(TOKEN), 1000, 1100).await.unwrap().status().as_u16(), 413, "over 1 MiB even with the token");
}
