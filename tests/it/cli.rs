//! `mesure check-config`: all mistakes at once, or the summary.

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
