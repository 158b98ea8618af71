//! The built-in dashboard, in headless Chromium: the top-line numbers equal the API's; clicking
//! a country filters the whole dashboard as the API says; screenshots are saved as test
//! artifacts (`target/test-artifacts/dashboard*.png`). Also: the panel definitions only use
//! metrics and dimensions the API accepts.

use std::path::Path;
use std::process::Command;

use mesure::query::request::{Dimension, Metric};
use serde_json::{Value, json};

use crate::common::{REPO, http};
use crate::stats::{seed_with, sha256};

const SECRET: &str = "dashboard-share-secret";

/// Runs a browser script of `tests/clients` with these arguments; its JSON output.
async fn run_script(script: &'static str, args: Vec<String>) -> Value {
    let out = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(script)
            .args(&args)
            .current_dir(Path::new(REPO).join("tests/clients"))
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(out.status.success(), "{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

async fn api_numbers(url: &str, filters: Value) -> Vec<String> {
    let body =
        json!({"site_id": 1, "metrics": ["visitors", "visits", "pageviews"], "date_range": "7d", "filters": filters});
    let v: Value = http().post(url).bearer_auth(SECRET).json(&body).send().await.unwrap().json().await.unwrap();
    v["results"][0]["metrics"].as_array().unwrap().iter().map(|n| n.to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_shows_what_the_api_says() {
    let sites =
        format!("[[sites]]\nid = 1\ndomains = [\"example.org\"]\nshare_secret_sha256 = \"{}\"\n", sha256(SECRET));
    let s = seed_with(&sites).await;
    let api = s.collector.url("/api/v1/query");
    let before = api_numbers(&api, json!([])).await;
    let after = api_numbers(&api, json!([["is", "visit:country", ["FR"]]])).await;
    assert_ne!(before, after, "the filter must change the numbers for this test to mean anything");

    let artifacts = Path::new(REPO).join("target/test-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let page = s.collector.url(&format!("/share/{SECRET}"));
    let dir = artifacts.display().to_string();
    let shown = run_script("dashboard.mjs", vec![page, dir, "France".into()]).await;
    assert_eq!(shown["errors"], json!([]), "JavaScript errors in the page");
    let read = |v: &Value| -> Vec<String> {
        ["visitors", "visits", "pageviews"].iter().map(|m| v[m].as_str().unwrap().replace(',', "")).collect()
    };
    assert_eq!(read(&shown["before"]), before);
    assert_eq!(read(&shown["after"]), after);
    assert!(shown["filters"].as_str().unwrap().contains("France"));
    // The load-time tab shows each page's median load time as the API gives it.
    let body = json!({"site_id": 1, "metrics": ["pageviews", "load_time"], "date_range": "7d", "dimensions": ["event:page"], "limit": 10});
    let v: Value = http().post(&api).bearer_auth(SECRET).json(&body).send().await.unwrap().json().await.unwrap();
    let expected: Vec<Vec<String>> = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let ms = r["metrics"][1].as_f64().unwrap();
            let shown = if ms == 0.0 { "–".to_string() } else { format!("{ms} ms") };
            vec![r["dimensions"][0].as_str().unwrap().to_string(), r["metrics"][0].to_string(), shown]
        })
        .collect();
    assert!(expected.iter().any(|row| row[2].ends_with(" ms")), "the seed has load times: {v}");
    let speed: Vec<Vec<String>> = serde_json::from_value(shown["speed"].clone()).unwrap();
    let speed: Vec<Vec<String>> =
        speed.into_iter().map(|row| row.into_iter().map(|cell| cell.replace(',', "")).collect()).collect();
    assert_eq!(speed, expected);
    for shot in ["dashboard.png", "dashboard-filtered.png", "dashboard-load-time.png"] {
        assert!(artifacts.join(shot).is_file(), "{shot}");
    }
}

#[test]
fn panels_use_only_what_the_api_accepts() {
    let panels: Value = serde_json::from_str(mesure::web::dashboard::PANELS).unwrap();
    let metric = |m: &Value| Metric::parse(m.as_str().unwrap()).is_some();
    assert!(panels["top_line"].as_array().unwrap().iter().all(metric));
    let mut tabs = 0;
    for panel in panels["panels"].as_array().unwrap() {
        assert!(panel["title"]["en"].is_string() && panel["title"]["fr"].is_string());
        for tab in panel["tabs"].as_array().unwrap() {
            tabs += 1;
            let dimension = tab["dimension"].as_str().unwrap();
            assert!(Dimension::parse(dimension).is_some(), "{dimension}");
            assert!(tab["metrics"].as_array().unwrap().iter().all(metric), "{tab}");
            assert!(tab["label"]["en"].is_string() && tab["label"]["fr"].is_string());
        }
    }
    assert!(tabs >= 15);
}

/// The chart is right for every kind of period (issue 17): every bucket of the period is
/// there, zero when empty; the axis spans exactly the period; the previous period is a second
/// series when comparison is on; the arrows, a custom range and a bookmarked address work.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chart_spans_every_period() {
    let sites =
        format!("[[sites]]\nid = 1\ndomains = [\"example.org\"]\nshare_secret_sha256 = \"{}\"\n", sha256(SECRET));
    let s = seed_with(&sites).await;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let date = |days_ago: u64| {
        let out =
            Command::new("date").arg("-u").arg("-d").arg(format!("@{}", now - days_ago * 86_400)).arg("+%F").output();
        String::from_utf8(out.unwrap().stdout).unwrap().trim().to_string()
    };
    let today = date(0);
    let artifacts = Path::new(REPO).join("target/test-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let page = s.collector.url(&format!("/share/{SECRET}"));
    let dir = artifacts.display().to_string();
    // A custom range of 7 days ending on day 2 (yesterday): data on its last two days only.
    let (from, to) = (date(7), date(1));
    let shown = run_script("dashboard-periods.mjs", vec![page, dir, from, to]).await;
    assert_eq!(shown["errors"], json!([]), "JavaScript errors in the page");
    let check = |step: &str, bucket: &str, buckets: u64, first: &str, last: &str| {
        let c = &shown[step];
        assert_eq!(c["bucket"], bucket, "{step}: {c}");
        assert_eq!(c["buckets"], buckets, "{step}: {c}");
        assert_eq!((c["first"].as_str().unwrap(), c["last"].as_str().unwrap()), (first, last), "{step}: {c}");
        // The axis runs from the first bucket to the last, no further.
        let instant = |label: &str| {
            if label.len() == 10 {
                format!("{label}T00:00:00.000Z")
            } else {
                format!("{}.000Z", label.replace(' ', "T"))
            }
        };
        assert_eq!(
            (c["min"].as_str().unwrap(), c["max"].as_str().unwrap()),
            (instant(first).as_str(), instant(last).as_str()),
            "{step}: {c}"
        );
    };
    // The last 7 days: 7 daily buckets, data on 3 of them (days 1 and 2, and today's visitor).
    check("7d", "time:day", 7, &date(6), &today);
    assert_eq!(shown["7d"]["zeros"], 4, "{shown}");
    assert_eq!(shown["7d"]["previous"], "7", "the previous 7 days as a second series");
    // Today by hour: 24 buckets, one of them with the live visitor.
    check("today", "time:hour", 24, &format!("{today} 00:00:00"), &format!("{today} 23:00:00"));
    assert_eq!(shown["today"]["zeros"], 23, "{shown}");
    check("30d", "time:day", 30, &date(29), &today);
    let month_start = format!("{}-01", &today[..7]);
    let days_in = today[8..].parse::<u64>().unwrap();
    check("month", "time:day", days_in, &month_start, &today);
    let months = today[5..7].parse::<u64>().unwrap();
    check("year", "time:month", months, &format!("{}-01-01", &today[..4]), &format!("{}-01", &today[..7]));
    // The custom range typed in: 7 days, zero on the 5 before day 1.
    check("custom", "time:day", 7, &date(7), &date(1));
    assert_eq!(shown["custom"]["zeros"], 5, "{shown}");
    assert!(shown["custom"]["url"].as_str().unwrap().contains(&format!("from={}&to={}", date(7), date(1))), "{shown}");
    // The arrow before "last 7 days": the 7 days before them.
    check("previous", "time:day", 7, &date(13), &date(7));
    assert_eq!(shown["previous"]["range"], "custom");
    assert_eq!(shown["uncompared"]["previous"], "", "no comparison series once switched off");
    assert!(shown["uncompared"]["url"].as_str().unwrap().contains("compare=0"));
    // A bookmarked address opens the same view.
    check("bookmarked", "time:day", 30, &date(29), &today);
    assert_eq!((&shown["bookmarked"]["range"], &shown["bookmarked"]["compare"]), (&json!("30d"), &json!(false)));
    // Hovering the last day shows its date and its visitors (today: 1), and the week before.
    let hover = shown["hover"].as_str().unwrap();
    let day_of_month = today[8..].trim_start_matches('0');
    assert!(hover.contains("Visitors1") && hover.contains("Previous period0 ("), "{hover}");
    assert!(hover.contains(&format!(" {day_of_month}, {}", &today[..4])), "the bucket's date: {hover}");
    // One current visitor, in the singular.
    assert_eq!(shown["live"], "● 1 current visitor", "{shown}");
    for step in ["7d", "today", "30d", "month", "year", "custom", "previous"] {
        assert!(artifacts.join(format!("dashboard-period-{step}.png")).is_file(), "{step}");
    }
}

/// Signing in (issue 17): a pasted token becomes an HttpOnly, SameSite=Strict session cookie that
/// is not the token; a reload stays signed in; signing out ends it; revoking the token ends its
/// sessions; a one-time sign-in link signs in once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_in_with_a_token_and_a_one_time_link() {
    let s = seed_with("[[sites]]\nid = 1\ndomains = [\"example.org\"]\n").await;
    let token = crate::stats::token(&s, 1);
    let base = s.collector.url("").trim_end_matches('/').to_string();
    let artifacts = Path::new(REPO).join("target/test-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let node = |args: Vec<String>| {
        let mut all = vec![base.clone(), artifacts.display().to_string()];
        all.extend(args);
        run_script("dashboard-signin.mjs", all)
    };
    let shown = node(vec!["sign-in".into(), token.clone()]).await;
    assert_eq!(shown["errors"], json!([]), "{shown}");
    assert_eq!(shown["login_at_first"], true, "{shown}");
    assert_eq!(shown["login_after_reload"], false, "a reload stays signed in: {shown}");
    assert_eq!(shown["signout_shown"], true, "{shown}");
    assert_eq!(shown["login_after_signout"], true, "{shown}");
    assert!(
        !shown["cookies_after_signout"].as_array().unwrap().iter().any(|c| c["name"] == "mesure_session"),
        "signing out removes the cookie: {shown}"
    );
    let cookie = &shown["cookie"];
    assert_eq!(
        (&cookie["httpOnly"], &cookie["sameSite"], &cookie["secure"]),
        (&json!(true), &json!("Strict"), &json!(false)),
        "{shown}"
    );
    let value = cookie["value"].as_str().unwrap();
    assert!(
        value.len() == 64 && !token.contains(value) && !value.contains(&token[4..]),
        "the cookie carries no token: {value}"
    );

    // The API takes the session cookie; it refuses a sign-in that is not JSON, or a bad token.
    let session = format!("mesure_session={value}");
    let query = json!({"site_id": 1, "metrics": ["visitors"], "date_range": "7d"});
    let r = http().post(s.collector.url("/api/v1/query")).header("cookie", &session).json(&query).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = http()
        .post(s.collector.url("/api/v1/session"))
        .body(format!("{{\"token\":\"{token}\"}}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415, "a sign-in must be JSON (no cross-site form can send it)");
    let r = http().post(s.collector.url("/api/v1/session")).json(&json!({"token": "mst_nope"})).send().await.unwrap();
    assert_eq!(r.status(), 401);

    // Revoking the token ends the sessions opened with it (within the 10 s verdict cache).
    let id = &sha256(&token)[..12];
    let config = s.collector.dir.join("mesure.toml");
    let revoke = Command::new(env!("CARGO_BIN_EXE_mesure"))
        .args(["token", "revoke", "--id", id, "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(revoke.status.success(), "{}", String::from_utf8_lossy(&revoke.stderr));
    let shown = node(vec!["revoked".into(), cookie.to_string()]).await;
    assert_eq!(shown["login_after_revoke"], true, "a revoked token's session still works: {shown}");

    // A one-time sign-in link: it signs in once, then says it was used.
    let created = Command::new(env!("CARGO_BIN_EXE_mesure"))
        .args(["token", "create", "--site", "1", "--name", "link", "--sign-in-link", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    let text = String::from_utf8(created.stdout).unwrap();
    let code = text.split("/signin?code=").nth(1).expect("a sign-in link").lines().next().unwrap().to_string();
    let shown = node(vec!["link".into(), format!("{base}/signin?code={code}")]).await;
    assert_eq!(shown["landed"], "/?site=1&period=7d", "{shown}");
    assert_eq!(shown["login_after_link"], false, "{shown}");
    assert_eq!(shown["second_use"]["status"], 400, "{shown}");
    assert!(shown["second_use"]["text"].as_str().unwrap().contains("already used"), "{shown}");
}
