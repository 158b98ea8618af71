//! Plausible's Stats API v2 (`POST /api/v2/query`) and v1 GET reports over the hand-computed
//! data set of `stats.rs` (site 1, `example.org`, days 1 and 2): each request as a Plausible
//! client sends it, the exact `results` (and `meta` or `query` where they say something), the
//! errors, and a third-party client run unchanged.
//!
//! The data set, days 1 and 2: visitors 1–4 in visits 11, 21, 22, 31, 41; 8 page views (/a ×4,
//! /b ×3, /c ×1) and one custom event `Signup`; FR (visitors 1, 3), DE (2), GB (4); Google (1, 3),
//! direct (2 on day 1, 4), Mastodon (2 on day 2); desktop (1, 3), mobile (2), tablet (4). Today,
//! visitor 5 on /live.

use serde_json::{Value, json};

use crate::common::http;
use crate::stats::{Seeded, seed_with, sha256, token};

async fn v2(s: &Seeded, bearer: Option<&str>, body: &Value) -> (u16, Value) {
    crate::stats::post(s, "/api/v2/query", bearer, body).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_api_v2_answers_as_plausible_does() {
    let sites = format!(
        "[[sites]]\nid = 1\ndomains = [\"example.org\"]\n\n[[sites]]\nid = 2\ndomains = [\"shared.example.org\"]\nshare_secret_sha256 = \"{}\"\n",
        sha256("another-site")
    );
    let s = seed_with(&sites).await;
    let token_1 = token(&s, 1);
    let t = Some(token_1.as_str());
    let (d1, d2) = (s.day1.clone(), s.day2.clone());
    let range = json!([d1, d2]);
    let q = |extra: Value| {
        let mut body = json!({"site_id": "example.org", "metrics": ["visitors"], "date_range": range});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    let rows = |pairs: &[(&[&str], &[f64])]| -> Value {
        Value::Array(
            pairs
                .iter()
                .map(|(d, m)| {
                    let metrics: Vec<Value> =
                        m.iter().map(|v| if v.fract() == 0.0 { json!(*v as i64) } else { json!(v) }).collect();
                    json!({"metrics": metrics, "dimensions": d})
                })
                .collect(),
        )
    };
    let country = |filter: Value| q(json!({"filters": [filter]}));

    // (request, expected results)
    let cases: Vec<(Value, Value)> = vec![
        (q(json!({})), rows(&[(&[], &[4.0])])),
        (
            q(
                json!({"metrics": ["visitors", "visits", "pageviews", "views_per_visit", "bounce_rate", "visit_duration", "events"]}),
            ),
            rows(&[(&[], &[4.0, 5.0, 8.0, 1.6, 40.0, 164.0, 9.0])]),
        ),
        (q(json!({"dimensions": ["visit:country"]})), rows(&[(&["FR"], &[2.0]), (&["DE"], &[1.0]), (&["GB"], &[1.0])])),
        (
            q(json!({"metrics": ["visitors", "percentage"], "dimensions": ["visit:country"]})),
            rows(&[(&["FR"], &[2.0, 50.0]), (&["DE"], &[1.0, 25.0]), (&["GB"], &[1.0, 25.0])]),
        ),
        (
            q(json!({"metrics": ["visitors", "pageviews"], "dimensions": ["event:page"]})),
            rows(&[(&["/a"], &[3.0, 4.0]), (&["/b"], &[3.0, 3.0]), (&["/c"], &[1.0, 1.0])]),
        ),
        (country(json!(["is", "visit:country", ["FR"]])), rows(&[(&[], &[2.0])])),
        (country(json!(["is", "visit:country", ["FR", "GB"]])), rows(&[(&[], &[3.0])])),
        (country(json!(["is_not", "visit:country", ["FR"]])), rows(&[(&[], &[2.0])])),
        (country(json!(["is", "visit:country", ["fr"]])), rows(&[(&[], &[0.0])])),
        (country(json!(["is", "visit:country", ["fr"], {"case_sensitive": false}])), rows(&[(&[], &[2.0])])),
        (country(json!(["contains", "event:page", ["a"]])), rows(&[(&[], &[3.0])])),
        (country(json!(["contains", "event:page", ["A"]])), rows(&[(&[], &[0.0])])),
        (country(json!(["contains", "event:page", ["A"], {"case_sensitive": false}])), rows(&[(&[], &[3.0])])),
        (
            q(json!({"metrics": ["pageviews"], "filters": [["contains_not", "event:page", ["/a"]]]})),
            rows(&[(&[], &[4.0])]),
        ),
        (
            q(json!({"metrics": ["pageviews"], "filters": [["matches", "event:page", ["^/(a|c)$"]]]})),
            rows(&[(&[], &[5.0])]),
        ),
        (
            q(json!({"metrics": ["pageviews"], "filters": [["matches", "event:page", ["^/(A|C)$"]]]})),
            rows(&[(&[], &[0.0])]),
        ),
        // Case-insensitive, as Plausible's schema allows it: re2's flag in the pattern (a bound
        // value: the `?` in it is no placeholder).
        (
            q(json!({"metrics": ["pageviews"], "filters": [["matches", "event:page", ["(?i)^/(A|C)$"]]]})),
            rows(&[(&[], &[5.0])]),
        ),
        (
            q(json!({"metrics": ["pageviews"], "filters": [["matches_not", "event:page", ["(?i)^/A"]]]})),
            rows(&[(&[], &[4.0])]),
        ),
        (
            q(json!({"metrics": ["pageviews"], "filters": [["matches_not", "event:page", ["^/a"]]]})),
            rows(&[(&[], &[4.0])]),
        ),
        (
            country(json!(["or", [["is", "visit:country", ["FR"]], ["is", "visit:country", ["GB"]]]])),
            rows(&[(&[], &[3.0])]),
        ),
        (country(json!(["not", ["is", "visit:country", ["FR"]]])), rows(&[(&[], &[2.0])])),
        (
            country(json!(["and", [["is", "visit:country", ["FR"]], ["is", "event:page", ["/b"]]]])),
            rows(&[(&[], &[2.0])]),
        ),
        (
            q(json!({"dimensions": ["visit:device"]})),
            rows(&[(&["Desktop"], &[2.0]), (&["Mobile"], &[1.0]), (&["Tablet"], &[1.0])]),
        ),
        (country(json!(["is", "visit:device", ["Mobile"]])), rows(&[(&[], &[1.0])])),
        (
            q(json!({"dimensions": ["visit:source"]})),
            rows(&[(&["Direct / None"], &[2.0]), (&["Google"], &[2.0]), (&["Mastodon"], &[1.0])]),
        ),
        (country(json!(["is", "visit:source", ["Direct / None"]])), rows(&[(&[], &[2.0])])),
        (q(json!({"dimensions": ["time:day"]})), rows(&[(&[d1.as_str()], &[2.0]), (&[d2.as_str()], &[3.0])])),
        (q(json!({"dimensions": ["time"]})), rows(&[(&[d1.as_str()], &[2.0]), (&[d2.as_str()], &[3.0])])),
        (
            q(json!({"dimensions": ["visit:country"], "pagination": {"limit": 1, "offset": 1}})),
            rows(&[(&["DE"], &[1.0])]),
        ),
        (
            q(json!({"dimensions": ["visit:country"], "order_by": [["visit:country", "asc"]]})),
            rows(&[(&["DE"], &[1.0]), (&["FR"], &[2.0]), (&["GB"], &[1.0])]),
        ),
        (
            q(json!({"dimensions": ["visit:country"], "order_by": [["visitors", "asc"]]})),
            rows(&[(&["DE"], &[1.0]), (&["GB"], &[1.0]), (&["FR"], &[2.0])]),
        ),
        (q(json!({"metrics": ["events"], "filters": [["is", "event:name", ["Signup"]]]})), rows(&[(&[], &[1.0])])),
        (q(json!({"dimensions": ["event:goal"]})), rows(&[(&["Signup"], &[1.0])])),
        (
            q(json!({"metrics": ["visitors", "group_conversion_rate"], "dimensions": ["event:goal"]})),
            rows(&[(&["Signup"], &[1.0, 25.0])]),
        ),
        (
            q(
                json!({"dimensions": ["visit:browser", "visit:device"], "filters": [["is_not", "visit:browser", ["Safari"]]]}),
            ),
            rows(&[(&["Firefox", "Desktop"], &[2.0]), (&["Chrome", "Mobile"], &[1.0])]),
        ),
        (q(json!({"date_range": "all"})), rows(&[(&[], &[5.0])])),
        (q(json!({"date_range": "day"})), rows(&[(&[], &[1.0])])),
        (q(json!({"date_range": "12mo"})), rows(&[(&[], &[5.0])])),
        (q(json!({"date_range": [format!("{d2}T00:00:00Z"), format!("{d2}T23:59:59Z")]})), rows(&[(&[], &[3.0])])),
        (
            q(json!({"date_range": [format!("{d2}T01:00:00+01:00"), format!("{d2}T00:30:00+00:00")]})),
            rows(&[(&[], &[2.0])]),
        ),
        // Plausible's conversion rate: the goal's visitors over all visitors (1 of 4).
        (
            q(json!({"metrics": ["visitors", "conversion_rate"], "filters": [["is", "event:goal", ["Signup"]]]})),
            rows(&[(&[], &[1.0, 25.0])]),
        ),
        (
            q(json!({"metrics": ["visitors", "conversion_rate"], "dimensions": ["event:goal"]})),
            rows(&[(&["Signup"], &[1.0, 25.0])]),
        ),
        (
            q(
                json!({"metrics": ["visitors", "conversion_rate", "percentage"], "dimensions": ["visit:source"], "filters": [["is", "event:goal", ["Signup"]]]}),
            ),
            rows(&[(&["Mastodon"], &[1.0, 25.0, 100.0])]),
        ),
        // Plausible's group conversion rate: the goal's visitors of a group over that group's
        // visitors (Mastodon: 1 of 1; by day: day 2 had 3 visitors).
        (
            q(
                json!({"metrics": ["visitors", "group_conversion_rate"], "dimensions": ["visit:source"], "filters": [["is", "event:goal", ["Signup"]]]}),
            ),
            rows(&[(&["Mastodon"], &[1.0, 100.0])]),
        ),
        (
            q(json!({"metrics": ["visitors", "group_conversion_rate"], "dimensions": ["time:day", "event:goal"]})),
            rows(&[(&[d2.as_str(), "Signup"], &[1.0, 33.3])]),
        ),
    ];
    // Plausible's named ranges: 7d and 30d run to today; month and year are whole.
    let today = std::process::Command::new("date").args(["-u", "+%F"]).output().unwrap().stdout;
    let today = String::from_utf8(today).unwrap().trim().to_string();
    let in_month = |day: &str| day[..7] == today[..7];
    let month_visitors = 1 + if in_month(&d2) { 3 } else { 0 } + if in_month(&d1) && !in_month(&d2) { 2 } else { 0 };
    let month_visitors = if in_month(&d1) && in_month(&d2) { 5 } else { month_visitors };
    let mut cases = cases;
    cases.push((q(json!({"date_range": "7d"})), rows(&[(&[], &[5.0])])));
    cases.push((q(json!({"date_range": "30d"})), rows(&[(&[], &[5.0])])));
    cases.push((q(json!({"date_range": "month"})), rows(&[(&[], &[f64::from(month_visitors)])])));
    assert!(cases.len() >= 40);
    // Every request and how we answered it, checked against Plausible's schema at the end.
    let mut answered: Vec<(Value, u16)> = Vec::new();
    for (request, expected) in &cases {
        let (status, v) = v2(&s, t, request).await;
        assert_eq!(status, 200, "{request}: {v}");
        assert_eq!(&v["results"], expected, "{request}");
        answered.push((request.clone(), status));
    }

    // The whole answer of the simplest request: the query as run, dates resolved.
    let (_, v) = v2(&s, t, &q(json!({}))).await;
    assert_eq!(
        v,
        json!({
            "results": [{"metrics": [4], "dimensions": []}],
            "meta": {},
            "query": {
                "site_id": "example.org", "metrics": ["visitors"],
                "date_range": [format!("{d1}T00:00:00Z"), format!("{d2}T23:59:59Z")],
                "filters": [], "dimensions": [], "order_by": [["visitors", "desc"]], "include": {},
                "pagination": {"limit": 10000, "offset": 0}
            }
        })
    );
    // include: time labels, total rows before pagination, imports (none exist here).
    let (_, v) = v2(
        &s,
        t,
        &q(json!({"dimensions": ["time:day"], "include": {"time_labels": true, "total_rows": true, "imports": true}, "pagination": {"limit": 1}})),
    )
    .await;
    assert_eq!(v["meta"], json!({"time_labels": [d1, d2], "total_rows": 2, "imports_included": false}), "{v}");
    assert_eq!(v["results"], rows(&[(&[d1.as_str()], &[2.0])]));
    assert_eq!(v["query"]["order_by"], json!([["time:day", "asc"]]));
    // `month` is the whole calendar month, `year` the whole year.
    let (_, v) = v2(&s, t, &q(json!({"date_range": "month"}))).await;
    let last_day = std::process::Command::new("date")
        .args(["-u", "-d", &format!("{}-01 +1 month -1 day", &today[..7]), "+%F"])
        .output()
        .unwrap()
        .stdout;
    let last_day = String::from_utf8(last_day).unwrap().trim().to_string();
    assert_eq!(
        v["query"]["date_range"],
        json!([format!("{}-01T00:00:00Z", &today[..7]), format!("{last_day}T23:59:59Z")])
    );
    let (_, v) = v2(&s, t, &q(json!({"date_range": "year"}))).await;
    assert_eq!(
        v["query"]["date_range"],
        json!([format!("{}-01-01T00:00:00Z", &today[..4]), format!("{}-12-31T23:59:59Z", &today[..4])])
    );

    // Invalid requests: 400 with a message that names what is wrong.
    let invalid = [
        (q(json!({"metrics": ["hugs"]})), "Invalid metric \"hugs\""),
        (q(json!({"date_range": "fortnight"})), "Invalid date range"),
        (q(json!({"date_range": [d2, d1]})), "Invalid date range"),
        (q(json!({"filters": [["like", "visit:country", ["FR"]]]})), "Invalid filter operator \"like\""),
        (q(json!({"metrics": ["percentage"]})), "non-empty dimensions"),
        (q(json!({"metrics": ["conversion_rate"]})), "event:goal"),
        (q(json!({"metrics": ["group_conversion_rate"], "dimensions": ["visit:source"]})), "event:goal"),
        (q(json!({"filters": [["has_done", ["is", "event:name", ["Signup"]]]]})), "behavioural"),
        (q(json!({"include": {"time_labels": true}})), "requires a time dimension"),
        (q(json!({"sql": "DROP TABLE events"})), "unknown property \"sql\""),
        (q(json!({"pagination": {"limit": 0}})), "#/pagination/limit"),
        (q(json!({"dimensions": ["visit:shoe_size"]})), "Invalid dimension \"visit:shoe_size\""),
        (q(json!({"dimensions": ["visit:country"], "order_by": [["pageviews", "desc"]]})), "not listed"),
        (q(json!({"filters": [["is", "time", ["2024-01-01"]]]})), "filter time with date_range"),
        (q(json!({"filters": [["is_not", "event:goal", ["Signup"]]]})), "event:goal takes is or contains"),
        (q(json!({"filters": [["is", "visit:country", ["France"]]]})), "2-letter country code"),
    ];
    // An unknown site is refused as another's is: nothing tells them apart.
    let no_access = json!({"error": "Invalid API key or site ID. Please make sure you're using a valid API key with access to the site you've requested."});
    for site in ["unknown.example", "shared.example.org"] {
        let request = q(json!({"site_id": site}));
        assert_eq!(v2(&s, t, &request).await, (401, no_access.clone()), "{request}");
        answered.push((request, 401));
    }
    for (request, message) in invalid {
        let (status, v) = v2(&s, t, &request).await;
        assert_eq!(status, 400, "{request}: {v}");
        let error = v["error"].as_str().unwrap_or_default();
        assert!(error.contains(message), "{request}: {error:?} lacks {message:?}");
        answered.push((request, status));
    }
    // Requests the schema rejects, each refused by us too.
    let schema_invalid = [
        json!({"site_id": "example.org", "metrics": [], "date_range": "7d"}),
        json!({"site_id": "example.org", "metrics": ["visitors"]}),
        json!({"site_id": "example.org", "metrics": ["visitors"], "date_range": ["2024-01-01"]}),
        json!({"site_id": "example.org", "metrics": ["visitors", "visitors"], "date_range": "7d"}),
        json!({"site_id": "example.org", "metrics": ["visitors"], "date_range": "7d", "filters": [["is", "event:page"]]}),
        json!({"site_id": "example.org", "metrics": ["visitors"], "date_range": "7d", "filters": [["is", "event:page", ["/a"], {"regex": true}]]}),
        json!({"site_id": "example.org", "metrics": ["visitors"], "date_range": "7d", "filters": [["and", []]]}),
        json!({"site_id": "example.org", "metrics": ["visitors"], "date_range": "7d", "include": {"colour": true}}),
        json!({"site_id": "example.org", "metrics": ["visitors"], "date_range": "7d", "order_by": [["visitors", "up"]]}),
        json!({"site_id": "example.org", "metrics": ["visitors"], "date_range": "7d", "pagination": {"limit": 10001}}),
        json!({"site_id": "example.org", "metrics": ["visitors"], "date_range": "realtime"}),
        json!({"site_id": "example.org", "metrics": ["visitors"], "date_range": "7d", "filters": [["matches", "event:page", ["^/a"], {"case_sensitive": false}]]}),
    ];
    for request in schema_invalid {
        let (status, v) = v2(&s, t, &request).await;
        assert_eq!(status, 400, "{request}: {v}");
        answered.push((request, status));
    }
    // Plausible's published schema (vendored, tests/data/plausible) agrees: what we answer is
    // valid, what it rejects we refused. (Some valid requests are refused for what they ask,
    // as Plausible's parser does after the schema: an unknown site, a missing goal filter.)
    let requests: Vec<&Value> = answered.iter().map(|(r, _)| r).collect();
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), serde_json::to_string(&requests).unwrap()).unwrap();
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/plausible_schema_check.py");
    let out = std::process::Command::new("python3").arg(script).arg(file.path()).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let valid: Vec<bool> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(valid.len(), answered.len());
    let mut schema_rejected = 0;
    for ((request, status), valid) in answered.iter().zip(valid) {
        // 28d and 91d are newer than the vendored schema.
        let newer = ["28d", "91d"].iter().any(|r| request["date_range"] == *r);
        if *status == 200 && !newer {
            assert!(valid, "answered but invalid by Plausible's schema: {request}");
        }
        if !valid {
            assert_eq!(*status, 400, "invalid by Plausible's schema but answered: {request}");
            schema_rejected += 1;
        }
    }
    assert!(schema_rejected >= 15, "only {schema_rejected} requests exercise the schema's rules");
    // Revenue sent with Plausible custom events (today): total and average per event.
    for amount in ["10", "20.5"] {
        let body = format!(
            r#"{{"n":"Purchase","u":"https://example.org/shop","d":"example.org","$":{{"amount":"{amount}","currency":"EUR"}}}}"#
        );
        let r = http()
            .post(s.collector.url("/api/event"))
            .header("user-agent", "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202);
    }
    let revenue = q(json!({"date_range": "day", "metrics": ["total_revenue", "average_revenue"]}));
    let mut answer = Value::Null;
    for _ in 0..60 {
        answer = v2(&s, t, &revenue).await.1;
        if answer["results"][0]["metrics"] == json!([30.5, 15.25]) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    assert_eq!(answer["results"], rows(&[(&[], &[30.5, 15.25])]), "{answer}");

    // As Plausible answers: no token, or another site's, is 401.
    assert_eq!(v2(&s, None, &q(json!({}))).await.0, 401);
    assert_eq!(v2(&s, t, &q(json!({"site_id": "shared.example.org"}))).await.0, 401);
}

/// Plausible's v1 GET reports: its parameters, filter syntax and answer shapes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_api_v1_get_reports_answer_as_plausible_does() {
    let s = seed_with("[[sites]]\nid = 1\ndomains = [\"example.org\"]\n").await;
    let token_1 = token(&s, 1);
    let (d1, d2) = (s.day1.clone(), s.day2.clone());
    let get = |path: String| {
        let url = s.collector.url(&path);
        let token = token_1.clone();
        async move {
            let r = http().get(url).bearer_auth(token).send().await.unwrap();
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap())
        }
    };
    let days = format!("site_id=example.org&period=custom&date={d1},{d2}");
    let cases = [
        (
            format!(
                "/api/v1/stats/aggregate?{days}&metrics=visitors,pageviews,bounce_rate,visit_duration,events,visits"
            ),
            json!({"results": {"visitors": {"value": 4}, "pageviews": {"value": 8}, "bounce_rate": {"value": 40}, "visit_duration": {"value": 164}, "events": {"value": 9}, "visits": {"value": 5}}}),
        ),
        (
            format!("/api/v1/stats/aggregate?{days}&compare=previous_period"),
            json!({"results": {"visitors": {"value": 4, "comparison_value": 0, "change": 100}}}),
        ),
        (
            format!("/api/v1/stats/aggregate?{days}&filters=visit:country%3D%3DFR%7CGB"),
            json!({"results": {"visitors": {"value": 3}}}),
        ),
        (
            format!("/api/v1/stats/aggregate?{days}&filters=event:page%3D%3D/a*"),
            json!({"results": {"visitors": {"value": 3}}}),
        ),
        (
            format!("/api/v1/stats/aggregate?{days}&metrics=pageviews&filters=event:page!%3D/a;visit:country%3D%3DFR"),
            json!({"results": {"pageviews": {"value": 2}}}),
        ),
        (
            format!("/api/v1/stats/timeseries?{days}"),
            json!({"results": [{"date": d1, "visitors": 2}, {"date": d2, "visitors": 3}]}),
        ),
        (
            format!("/api/v1/stats/breakdown?{days}&property=visit:source"),
            json!({"results": [{"source": "Direct / None", "visitors": 2}, {"source": "Google", "visitors": 2}, {"source": "Mastodon", "visitors": 1}]}),
        ),
        (
            format!("/api/v1/stats/breakdown?{days}&property=event:page&metrics=visitors,pageviews&limit=1&page=2"),
            json!({"results": [{"page": "/b", "visitors": 3, "pageviews": 3}]}),
        ),
        (
            format!("/api/v1/stats/breakdown?{days}&property=visit:device&filters=visit:device%3D%3DMobile"),
            json!({"results": [{"device": "Mobile", "visitors": 1}]}),
        ),
        ("/api/v1/stats/realtime/visitors?site_id=example.org".to_string(), json!(1)),
    ];
    for (path, expected) in cases {
        let (status, v) = get(path.clone()).await;
        assert_eq!(status, 200, "{path}: {v}");
        assert_eq!(v, expected, "{path}");
    }
    // A week ending on day 2: seven buckets, zero where nothing happened.
    let (_, v) = get(format!("/api/v1/stats/timeseries?site_id=example.org&period=7d&date={d2}")).await;
    let buckets = v["results"].as_array().unwrap();
    assert_eq!(buckets.len(), 7, "{v}");
    assert_eq!(buckets[6], json!({"date": d2, "visitors": 3}));
    assert_eq!(buckets[0]["visitors"], 0);

    // A third-party Plausible API client from PyPI (plausible-mcp), its host set to ours.
    let base = s.collector.url("");
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/plausible_api_client.py");
    let home = tempfile::tempdir().unwrap();
    let out = std::process::Command::new("python3")
        .arg(script)
        .args([base.trim_end_matches('/'), token_1.as_str(), "example.org", d1.as_str(), d2.as_str()])
        .env("HOME", home.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let client: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        client["aggregate"]["totals"],
        json!({"visitors": 4, "visits": 5, "pageviews": 8, "bounce_rate": 40, "visit_duration": 164}),
        "{client}"
    );
    assert_eq!(
        client["breakdown"]["results"],
        json!([{"country": "FR", "visitors": 2}, {"country": "DE", "visitors": 1}, {"country": "GB", "visitors": 1}]),
        "{client}"
    );
    assert_eq!(
        client["pages"]["results"],
        json!([{"page": "/a", "visitors": 3}, {"page": "/b", "visitors": 3}]),
        "{client}"
    );
    assert_eq!(
        client["timeseries"]["timeseries"],
        json!([{"date": d1, "visitors": 2}, {"date": d2, "visitors": 3}]),
        "{client}"
    );
    assert_eq!(client["realtime"]["realtime_visitors"], 1, "{client}");
    // The client reads an unknown site's 401 as Plausible's own answer to a key without access.
    assert!(client["unknown_site"]["error"].as_str().unwrap_or_default().contains("HTTP 401"), "{client}");

    let invalid = [
        ("aggregate?site_id=example.org&period=fortnight", "invalid period `fortnight`"),
        ("aggregate?site_id=example.org&period=custom", "The `date` parameter is required"),
        ("breakdown?site_id=example.org&period=7d", "The `property` parameter is required"),
        ("breakdown?site_id=example.org&period=7d&property=visit:nose", "Invalid property 'visit:nose'"),
        ("aggregate?site_id=example.org&metrics=hugs", "The metric `hugs` is not recognized"),
        ("breakdown?site_id=example.org&property=visit:os&limit=0", "between 1 and 1000"),
        ("timeseries?site_id=example.org&interval=week", "invalid interval `week`"),
        ("aggregate?site_id=example.org&filters=visit:nose%3D%3Dbig", "Invalid filter property 'visit:nose'"),
    ];
    for site in ["unknown.example", "shared.example.org"] {
        let (status, v) = get(format!("/api/v1/stats/aggregate?site_id={site}")).await;
        assert_eq!(status, 401, "{site}: {v}");
        assert!(v["error"].as_str().unwrap_or_default().contains("Invalid API key or site ID"), "{site}: {v}");
    }
    for (path, message) in invalid {
        let (status, v) = get(format!("/api/v1/stats/{path}")).await;
        assert_eq!(status, 400, "{path}: {v}");
        assert!(v["error"].as_str().unwrap_or_default().contains(message), "{path}: {v}");
    }
}
