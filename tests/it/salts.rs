//! Salts and visits with an injected clock against a real ClickHouse (docs/privacy.md B1–B4), and
//! two real collectors agreeing on one salt.

use std::sync::Arc;
use std::time::Duration;

use mesure::clock::{DAY, ManualClock};
use mesure::config::ClickHouseConfig;
use mesure::privacy::client_ip::ClientIp;
use mesure::privacy::cookie_keys::CookieKeys;
use mesure::privacy::geo::Geo;
use mesure::privacy::salts::SaltKeeper;
use mesure::privacy::{Privacy, VisitorKey};
use mesure::store::Store;
use mesure::visits::Visits;

use crate::common::{ClickHouse, Collector, CollectorConfig, clickhouse, enc, eventually, unique_database};

const D: u64 = 20_500; // a day number (2026-02-16)
const SETTLE: Duration = Duration::from_millis(100);

fn at(day: u64, h: u64, m: u64) -> u64 {
    day * DAY + h * 3600 + m * 60
}

async fn database(ch: &ClickHouse, prefix: &str) -> ClickHouseConfig {
    ch.migrated(prefix).await
}

/// The privacy stage and the visits after it, as the hit pipeline chains them.
struct Stages {
    privacy: Privacy,
    salts: Arc<SaltKeeper>,
    visits: Visits,
}

/// A visitor's id and visit.
struct Seen {
    visitor_id: u64,
    visit_id: u64,
}

async fn privacy(config: &ClickHouseConfig, clock: Arc<ManualClock>) -> Stages {
    let salts = SaltKeeper::start(Store::new(config), clock, SETTLE).await.unwrap();
    let privacy = Privacy { geo: Arc::new(Geo::disabled()), salts: salts.clone(), cookie_keys: Default::default() };
    Stages { privacy, salts, visits: Visits::new(10_000) }
}

fn identify(p: &Stages, site: u32, ip: &str, ua: &str, now: u64) -> Seen {
    let identity =
        p.privacy.identify(site, ClientIp::new(ip.parse().unwrap()), VisitorKey::UserAgent(ua), now).unwrap();
    let visit = p.visits.visit(identity.visitor_id, identity.previous_id, now, Default::default());
    Seen { visitor_id: identity.visitor_id, visit_id: visit.id }
}

async fn stored_salts(ch: &ClickHouse, db: &str) -> Vec<String> {
    let text = ch.query(&format!("SELECT period, length(salt) FROM {db}.salts ORDER BY period FORMAT TSV")).await;
    text.lines().map(str::to_string).collect()
}

/// B1 and B4: ids differ by site and by day; a visit crossing midnight continues only within
/// 30 minutes.
#[tokio::test]
async fn ids_change_by_site_and_day_and_visits_cross_midnight() {
    let ch = clickhouse();
    let config = database(ch, "salts_b1b4").await;
    let clock = ManualClock::new(at(D, 23, 59));
    let p = privacy(&config, clock.clone()).await;

    let a = identify(&p, 1, "203.0.113.45", "UA", clock.now_secs());
    let same = identify(&p, 1, "203.0.113.45", "UA", clock.now_secs());
    let other_site = identify(&p, 2, "203.0.113.45", "UA", clock.now_secs());
    let other_ua = identify(&p, 1, "203.0.113.45", "UA2", clock.now_secs());
    let other_ip = identify(&p, 1, "203.0.113.46", "UA", clock.now_secs());
    assert_eq!(a.visitor_id, same.visitor_id);
    assert_eq!(a.visit_id, same.visit_id);
    for other in [&other_site, &other_ua, &other_ip] {
        assert_ne!(a.visitor_id, other.visitor_id);
    }
    // A second visitor seen at 23:59 too, who comes back at 00:45.
    let late = identify(&p, 1, "198.51.100.9", "UA", clock.now_secs());

    clock.set(at(D + 1, 0, 1));
    assert!(p.salts.tick().await.unwrap(), "the period changed: the salt rotates");
    let after = identify(&p, 1, "203.0.113.45", "UA", clock.now_secs());
    assert_ne!(after.visitor_id, a.visitor_id, "same inputs on two days → different ids");
    assert_eq!(after.visit_id, a.visit_id, "23:59 and 00:01 → one visit");

    clock.set(at(D + 1, 0, 45));
    p.salts.tick().await.unwrap();
    let back = identify(&p, 1, "198.51.100.9", "UA", clock.now_secs());
    assert_ne!(back.visit_id, late.visit_id, "23:59 and 00:45 → two visits");
}

/// B3: only the current and previous salt exist, in memory and in ClickHouse; the previous one
/// only during the grace after a rotation.
#[tokio::test]
async fn only_current_and_previous_salts_exist() {
    let ch = clickhouse();
    let config = database(ch, "salts_b3").await;
    let db = &config.database;
    let clock = ManualClock::new(at(D, 12, 0));
    let p = privacy(&config, clock.clone()).await;
    assert_eq!(stored_salts(ch, db).await, vec![format!("{D}\t64")], "one 256-bit salt, hex");

    for day in [D + 1, D + 2] {
        clock.set(at(day, 0, 0));
        assert!(p.salts.tick().await.unwrap());
        let set = p.salts.salts();
        assert_eq!(set.current.period() as u64, day);
        assert_eq!(set.previous.as_ref().map(|s| s.period() as u64), Some(day - 1));
        drop(set);
        assert_eq!(stored_salts(ch, db).await, vec![format!("{}\t64", day - 1), format!("{day}\t64")]);
    }
    // After the grace, the previous salt is gone from memory and from storage.
    clock.set(at(D + 2, 0, 36));
    assert!(!p.salts.tick().await.unwrap());
    assert!(p.salts.salts().previous.is_none());
    assert_eq!(stored_salts(ch, db).await, vec![format!("{}\t64", D + 2)]);
    // The in-memory salt set never prints its key.
    let printed = format!("{:?}", p.salts.salts());
    assert!(!printed.contains("key") || printed.contains(".."), "{printed}");
}

/// B6: a back-dated hit is hashed with a salt of its own day, never today's: one person's hits
/// on three days are three visitors, and twice the same on one day. Two collectors agree on a
/// day's back-dated salt; it is gone from memory and storage a day after it was made, and a
/// day's salt is never brought back once its grace ended.
#[tokio::test]
async fn back_dated_hits_are_hashed_with_their_own_days_salt() {
    let ch = clickhouse();
    let config = database(ch, "salts_b6").await;
    let db = &config.database;
    let clock = ManualClock::new(at(D, 10, 0));
    let (p, other) = tokio::join!(privacy(&config, clock.clone()), privacy(&config, clock.clone()));
    let seen = |p: &Stages, when: u64| {
        let ip = ClientIp::new("203.0.113.45".parse().unwrap());
        p.privacy.identify(1, ip, VisitorKey::UserAgent("UA"), when).map(|identity| identity.visitor_id)
    };
    let days = [D - 40, D - 3, D - 1];
    assert_eq!(seen(&p, at(D - 3, 9, 0)), None, "no salt yet for an earlier day");
    let periods: Vec<u32> = days.iter().map(|d| *d as u32).collect();
    tokio::join!(p.salts.prepare(&periods), other.salts.prepare(&periods[1..2]));
    let today = seen(&p, at(D, 9, 0)).unwrap();
    let mut ids: Vec<u64> = days.iter().map(|d| seen(&p, at(*d, 9, 0)).unwrap()).collect();
    assert_eq!(seen(&p, at(D - 3, 22, 0)), Some(ids[1]), "one visitor all day");
    assert_eq!(seen(&other, at(D - 3, 22, 0)), Some(ids[1]), "the other collector agrees");
    ids.push(today);
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 4, "four days, four ids");
    let periods_stored = |ch: &'static ClickHouse| async move {
        let sql = format!("SELECT DISTINCT period FROM {db}.salts ORDER BY period FORMAT TSV");
        ch.query(&sql).await.lines().map(|l| l.parse::<u64>().unwrap()).collect::<Vec<_>>()
    };
    assert_eq!(periods_stored(ch).await, vec![D - 40, D - 3, D - 1, D]);

    // A day later the back-dated salts are gone; asking again makes new ones.
    clock.set(at(D + 1, 10, 1));
    assert!(p.salts.tick().await.unwrap());
    assert!(p.salts.salts().backdated.is_empty());
    assert_eq!(periods_stored(ch).await, vec![D + 1]);
    p.salts.prepare(&[(D - 3) as u32]).await;
    assert_ne!(seen(&p, at(D - 3, 9, 0)), Some(ids[1]), "a new salt, never the old one");
    // Yesterday (after the grace) is back-dated too, never today's salt.
    p.salts.prepare(&[D as u32]).await;
    assert_ne!(seen(&p, at(D, 9, 0)), Some(today));
    assert_ne!(seen(&p, at(D, 9, 0)), seen(&p, at(D + 1, 9, 0)));
}

/// B2: salts are random, not derived from the date or the configuration: two deployments on the
/// same day hash the same input differently.
#[tokio::test]
async fn salts_are_random() {
    let ch = clickhouse();
    let clock = ManualClock::new(at(D, 9, 0));
    let one = privacy(&database(ch, "salts_b2a").await, clock.clone()).await;
    let two = privacy(&database(ch, "salts_b2b").await, clock.clone()).await;
    let a = identify(&one, 1, "203.0.113.45", "UA", clock.now_secs());
    let b = identify(&two, 1, "203.0.113.45", "UA", clock.now_secs());
    assert_ne!(a.visitor_id, b.visitor_id);
}

/// B3 "every collector uses the same salt": keepers starting at once converge, and the losing
/// candidates are deleted.
#[tokio::test]
async fn keepers_starting_at_once_agree() {
    let ch = clickhouse();
    let config = database(ch, "salts_agree").await;
    let clock = ManualClock::new(at(D, 10, 0));
    let (one, two) = tokio::join!(privacy(&config, clock.clone()), privacy(&config, clock.clone()));
    let a = identify(&one, 1, "203.0.113.45", "UA", clock.now_secs());
    let b = identify(&two, 1, "203.0.113.45", "UA", clock.now_secs());
    assert_eq!(a.visitor_id, b.visitor_id);
    clock.advance(60);
    one.salts.tick().await.unwrap();
    two.salts.tick().await.unwrap();
    let db = &config.database;
    let single = eventually(Duration::from_secs(10), || async {
        (ch.count(&format!("SELECT count() FROM {db}.salts")).await == 1).then_some(())
    })
    .await;
    assert!(single.is_some(), "losing candidates were not deleted: {:?}", stored_salts(ch, db).await);
    let c = identify(&one, 1, "203.0.113.45", "UA", clock.now_secs());
    assert_eq!(c.visitor_id, a.visitor_id);
}

/// B2: on a ClickHouse that logs the text of every query (as current releases do by default),
/// no salt and no cookie key ever appears in a logged query: through two keepers agreeing on a
/// salt, the deletion of the losing candidate, a rotation, the end of the grace (the old
/// period's partition dropped) and the creation of a cookie-mode site's key.
#[tokio::test]
async fn no_salt_or_key_is_ever_written_into_query_text() {
    let ch = ClickHouse::start_logging_queries();
    let clock = ManualClock::new(at(D, 23, 50));
    let stored = |ch: &ClickHouse, db: String| {
        let ch = ch.url();
        async move {
            let client = reqwest::Client::new();
            let mut out = Vec::new();
            for table in ["salts", "cookie_keys"] {
                let column = if table == "salts" { "salt" } else { "key" };
                let sql = format!("SELECT {column} FROM {db}.{table} FORMAT TSV");
                let text = client.post(&ch).body(sql).send().await.unwrap().text().await.unwrap();
                out.extend(text.lines().map(str::to_string));
            }
            out
        }
    };
    // Two keepers starting at once each insert a candidate, unless one's look-up comes after
    // the other's insert (a race a busy machine sometimes loses): try on a fresh database until
    // both did, so that the losing candidate's deletion is exercised too.
    let mut attempt = 0;
    let (config, one, two) = loop {
        attempt += 1;
        let config = ch.migrated(&format!("salts_query_log_{attempt}")).await;
        let (one, two) = tokio::join!(
            SaltKeeper::start(Store::new(&config), clock.clone(), SETTLE),
            SaltKeeper::start(Store::new(&config), clock.clone(), SETTLE)
        );
        if stored(&ch, config.database.clone()).await.len() == 2 || attempt == 5 {
            break (config, one.unwrap(), two.unwrap());
        }
    };
    let db = config.database.clone();
    let mut secrets = std::collections::BTreeSet::new();
    let stored = |ch: &ClickHouse| stored(ch, db.clone());
    let mut cookie_site = mesure::config::SiteConfig::with_defaults(5, "shop.example.net");
    cookie_site.cookie_mode = true;
    CookieKeys::load(&Store::new(&config), &[cookie_site], clock.now_secs(), SETTLE).await.unwrap();
    secrets.extend(stored(&ch).await);
    // The losing candidate goes, a minute later.
    clock.advance(60);
    one.tick().await.unwrap();
    two.tick().await.unwrap();
    secrets.extend(stored(&ch).await);
    // Rotation, then the end of the grace: the old period's salt is dropped.
    clock.set(at(D + 1, 0, 1));
    assert!(one.tick().await.unwrap());
    secrets.extend(stored(&ch).await);
    clock.set(at(D + 1, 0, 40));
    one.tick().await.unwrap();
    // Back-dated salts: made by two keepers for earlier days, agreed, then dropped a day later.
    tokio::join!(one.prepare(&[(D - 3) as u32, (D - 5) as u32]), two.prepare(&[(D - 3) as u32]));
    secrets.extend(stored(&ch).await);
    clock.set(at(D + 2, 0, 41));
    one.tick().await.unwrap();
    assert!(secrets.len() >= 6, "two candidates, the next day's salt and a cookie key: {}", secrets.len());
    assert!(secrets.iter().all(|s| s.len() == 64), "{secrets:?}");

    // The log works: a literal in a query shows up in it (a query's entry is queued as it
    // finishes, possibly after its answer: flush until it is there).
    ch.query("SELECT 'query-log-canary' FORMAT TSV").await;
    let logged = eventually(Duration::from_secs(20), || async {
        ch.query("SYSTEM FLUSH LOGS").await;
        let logged = ch.query("SELECT query FROM system.query_log FORMAT TSV").await;
        logged.contains("query-log-canary").then_some(logged)
    })
    .await
    .expect("the query log does not record queries");
    assert!(logged.contains("FROM salts"), "the salt statements were not logged");
    for secret in &secrets {
        assert!(!logged.contains(secret.as_str()), "a salt or key is in the query log");
    }
    ch.stop();
}

/// Two real collectors started at the same moment on one ClickHouse give the same visitor id for
/// the same input.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_collectors_give_the_same_visitor_id() {
    let ch = clickhouse();
    let db = unique_database("two_collectors");
    let (config_one, config_two) = (CollectorConfig::new(ch, &db), CollectorConfig::new(ch, &db));
    let (one, two) = tokio::join!(Collector::start(&config_one), Collector::start(&config_two));
    let client = crate::common::http();
    for (collector, path) in [(&one, "one"), (&two, "two")] {
        let url =
            collector.url(&format!("/matomo.php?idsite=1&rec=1&url={}", enc(&format!("https://example.org/{path}"))));
        let r =
            client.get(url).header("x-forwarded-for", "203.0.113.45").header("user-agent", "UA").send().await.unwrap();
        assert_eq!(r.status(), 200);
    }
    let ids = eventually(Duration::from_secs(15), || async {
        let text = ch.query(&format!("SELECT visitor_id FROM {db}.events ORDER BY url_path FORMAT TSV")).await;
        let ids: Vec<String> = text.lines().map(str::to_string).collect();
        (ids.len() == 2).then_some(ids)
    })
    .await
    .expect("both hits stored");
    assert_eq!(ids[0], ids[1]);
    assert_ne!(ids[0], "0");
}
