//! `mesure check-config`: all mistakes at once, or the summary; `mesure sites`.

use std::process::Command;

fn check_config(text: &str) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mesure.toml");
    std::fs::write(&path, text).unwrap();
    Command::new(env!("CARGO_BIN_EXE_mesure"))
        .arg("check-config")
        .arg("--config")
        .arg(&path)
        .env_remove("MESURE_LISTEN")
        .output()
        .unwrap()
}

#[test]
fn three_mistakes_are_all_reported() {
    let out = check_config(
        r#"
listen = "not-an-address"
[clickhouse]
url = "http://127.0.0.1:8123"
databse = "typo"
[[sites]]
id = 1
domains = ["example.org"]
retention = "3y"
"#,
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("3 error(s)"), "{stderr}");
    assert!(stderr.contains("listen: \"not-an-address\" is not an address:port"), "{stderr}");
    assert!(stderr.contains("clickhouse.databse: unknown key"), "{stderr}");
    assert!(stderr.contains("sites[0].retention:"), "{stderr}");
}

#[test]
fn a_valid_file_prints_the_summary() {
    let out = check_config(
        r#"
[[sites]]
id = 1
domains = ["example.org"]
retention = "13mo"
"#,
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("configuration OK"), "{stdout}");
    assert!(stdout.contains("site 1 (example.org)\n  retention: 13 months (then deleted)"), "{stdout}");
    assert!(stdout.contains("Do-Not-Track: honoured"), "{stdout}");
}

/// `mesure sites`: each configured site with its retention, identifier, the events of the last
/// 24 hours, the last hit, and its privacy notice; as text and as JSON.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sites_lists_each_site_with_its_activity() {
    use crate::common::{Collector, CollectorConfig, clickhouse, eventually, http, unique_database};
    let ch = clickhouse();
    let db = unique_database("sites_cli");
    let collector = Collector::start(&CollectorConfig::new(ch, &db)).await;
    for path in ["/a", "/b"] {
        let url = collector.url(&format!("/matomo.php?idsite=1&rec=1&url=https://example.org{path}"));
        let ua = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
        assert!(http().get(url).header("user-agent", ua).send().await.unwrap().status().is_success());
    }
    let stored = eventually(std::time::Duration::from_secs(15), || async {
        (ch.count(&format!("SELECT count() FROM {db}.events")).await == 2).then_some(())
    })
    .await;
    assert!(stored.is_some(), "the two hits were not stored");
    let sites = |json: bool| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_mesure"));
        command.arg("sites").arg("--config").arg(collector.dir.join("mesure.toml"));
        if json {
            command.arg("--json");
        }
        let out = command.output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let listed: serde_json::Value = serde_json::from_str(&sites(true)).unwrap();
    let site = |id: u64| listed["sites"].as_array().unwrap().iter().find(|s| s["id"] == id).unwrap().clone();
    let (one, two) = (site(1), site(2));
    assert_eq!((one["events_last_24h"].as_u64(), one["retention_days"].as_u64()), (Some(2), Some(180)), "{listed}");
    assert_eq!(one["identifier"], "cookieless");
    assert!(one["last_hit"].as_str().is_some_and(|t| t.ends_with('Z')), "{listed}");
    assert_eq!(one["privacy"]["retention"]["days"], 180, "the site's /privacy.json notice: {listed}");
    assert_eq!((two["events_last_24h"].as_u64(), two["last_hit"].is_null()), (Some(0), true), "{listed}");
    assert_eq!(two["retention_days"], 395);
    let text = sites(false);
    assert!(text.contains("site 1  example.org"), "{text}");
    assert!(text.contains("last 24 hours  2 events"), "{text}");
    let site_two = text.split("site 2").nth(1).unwrap();
    assert!(site_two.contains("last hit       never"), "{text}");
    assert!(site_two.contains("retention      13 months (395 days)"), "{text}");
}
