//! The router and its handlers in process, without a socket or ClickHouse: requests go through
//! [`Routes::route`] as the listener hands them over, with the real pipeline (fixed salt, no geo
//! database), a real spool in a temporary directory and real settings loaded from a file.

use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::StatusCode;
use sha2::Digest;

use super::*;
use crate::config::Config;
use crate::live::LiveSettings;
use crate::pipeline::Pipeline;
use crate::sink::spool::{self, SpoolSettings, SpoolStats};

const PEER: &str = "198.51.100.7:4242";
const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
const SHARE_SECRET: &str = "share-secret-of-site-2";

/// The settings file: site 1 private, site 2 public with a share secret.
fn settings(public_url: &str) -> String {
    let share = hex::encode(sha2::Sha256::digest(SHARE_SECRET.as_bytes()));
    format!(
        "{public_url}\n[clickhouse]\nurl = \"http://127.0.0.1:1\"\n\
         [[sites]]\nid = 1\ndomains = [\"example.org\"]\n\
         [[sites]]\nid = 2\ndomains = [\"public.example.net\"]\npublic = true\nshare_secret_sha256 = \"{share}\"\n"
    )
}

struct Collector {
    routes: Routes,
    file: tempfile::NamedTempFile,
    _spool: tempfile::TempDir,
}

impl Collector {
    fn new() -> Collector {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(settings("").as_bytes()).unwrap();
        let config = Config::load(file.path(), std::iter::empty()).unwrap();
        let spool_dir = tempfile::tempdir().unwrap();
        let spool_settings = SpoolSettings {
            dir: spool_dir.path().join("spool"),
            max_bytes: 1 << 20,
            segment_bytes: 1 << 16,
            fsync_interval: std::time::Duration::from_millis(50),
        };
        let (appender, _, _, _) = spool::open(&spool_settings, Arc::new(SpoolStats::default())).unwrap();
        let metrics = Metrics::new();
        let live = Arc::new(LiveSettings::new(config.clone(), Some(file.path().to_path_buf())));
        let store = crate::store::Store::new(&config.clickhouse);
        let clock = crate::clock::ManualClock::new(crate::pipeline::tests::NOW);
        let pipeline = Pipeline::new(crate::pipeline::tests::fixed_stages(metrics.clone()));
        let routes = Routes {
            ingest: Ingest::new(pipeline, live.clone(), Default::default(), appender, metrics.clone()),
            api: Access::new(live.clone(), store.clone(), clock, &config.limits, metrics.clone()),
            live,
            metrics,
            store,
            delivery: Default::default(),
            proxies: Default::default(),
            limits: config.limits.clone(),
            admin_networks: Vec::new(),
            separate_admin: false,
            matomo_scripts: Default::default(),
        };
        Collector { routes, file, _spool: spool_dir }
    }

    async fn send(&self, request: hyper::Request<Full<Bytes>>) -> (StatusCode, hyper::HeaderMap, String) {
        let peer: SocketAddr = PEER.parse().unwrap();
        let response = self.routes.route(request, peer, Listener::Public).await;
        let (parts, body) = response.into_parts();
        let body = body.collect().await.unwrap().to_bytes();
        (parts.status, parts.headers, String::from_utf8_lossy(&body).into_owned())
    }

    fn accepted(&self) -> u64 {
        self.routes.metrics.events_accepted.get()
    }
}

fn get(target: &str) -> hyper::http::request::Builder {
    hyper::Request::get(target).header("user-agent", FIREFOX)
}

fn post(target: &str) -> hyper::http::request::Builder {
    hyper::Request::post(target).header("user-agent", FIREFOX)
}

fn body(text: &str) -> Full<Bytes> {
    Full::new(Bytes::from(text.to_owned()))
}

const PAGE: &str = "idsite=1&rec=1&url=https%3A%2F%2Fexample.org%2Fa";

#[tokio::test]
async fn matomo_single_and_bulk() {
    let collector = Collector::new();
    let (status, headers, _) = collector.send(get(&format!("/matomo.php?{PAGE}")).body(body("")).unwrap()).await;
    assert_eq!((status, headers["content-type"].to_str().unwrap()), (StatusCode::OK, "image/gif"));
    assert_eq!(collector.accepted(), 1);
    // A form body joins the query string; send_image=0 answers 204.
    let request = post("/matomo.php?send_image=0").header("origin", "https://example.org").body(body(PAGE)).unwrap();
    let (status, headers, _) = collector.send(request).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(headers["access-control-allow-origin"], "https://example.org");
    assert_eq!(collector.accepted(), 2);
    let bulk = format!(r#"{{"requests": ["?{PAGE}", "?idsite=99&rec=1", "?{PAGE}&action_name=B"]}}"#);
    let (status, _, answer) = collector.send(post("/matomo.php").body(body(&bulk)).unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    let answer: serde_json::Value = serde_json::from_str(&answer).unwrap();
    assert_eq!((answer["tracked"].as_u64(), answer["invalid_indices"].clone()), (Some(2), serde_json::json!([1])));
    assert_eq!(collector.accepted(), 4);
    // Items as objects of parameters, as Matomo's log importer sends them (numbers and strings);
    // an item that is neither a string nor an object is invalid.
    let objects = r#"{"requests": [{"idsite": 1, "rec": 1, "url": "https://example.org/imported", "action_name": "A"}, [1, 2], {"idsite": "1", "rec": "1", "url": "https://example.org/b"}]}"#;
    let (status, _, answer) = collector.send(post("/matomo.php").body(body(objects)).unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let answer: serde_json::Value = serde_json::from_str(&answer).unwrap();
    assert_eq!((answer["tracked"].as_u64(), answer["invalid_indices"].clone()), (Some(2), serde_json::json!([1])));
    assert_eq!(collector.accepted(), 6);
    // Over the route's caps: refused before the handler runs, nothing accepted.
    let long = format!("/matomo.php?{PAGE}&x={}", "a".repeat(9000));
    assert_eq!(collector.send(get(&long).body(body("")).unwrap()).await.0, StatusCode::URI_TOO_LONG);
    let big = post("/matomo.php").body(body(&"a".repeat(70_000))).unwrap();
    assert_eq!(collector.send(big).await.0, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(collector.accepted(), 6);
}

#[tokio::test]
async fn plausible_events_carry_cors_and_say_when_dropped() {
    let collector = Collector::new();
    let event = r#"{"n":"pageview","u":"https://example.org/","d":"example.org"}"#;
    let request = post("/api/event").header("origin", "https://example.org").body(body(event)).unwrap();
    let (status, headers, _) = collector.send(request).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(headers["access-control-allow-origin"], "https://example.org");
    assert_eq!(headers["access-control-allow-credentials"], "true");
    assert!(headers.get("x-plausible-dropped").is_none());
    assert_eq!(collector.accepted(), 1);
    // A server sending an event for a visitor with GPC: the same 202, marked dropped, nothing
    // stored.
    let request = post("/api/event").header("sec-gpc", "1").body(body(event)).unwrap();
    let (status, headers, _) = collector.send(request).await;
    assert_eq!((status, headers["x-plausible-dropped"].to_str().unwrap()), (StatusCode::ACCEPTED, "1"));
    assert_eq!(headers["access-control-allow-origin"], "*");
    assert_eq!(collector.accepted(), 1);
    // A web page (any origin) learns nothing of what became of its event: a dropped engagement
    // (no visit in the last 30 minutes), a GPC visitor and a recorded page view are answered
    // alike, header for header.
    let from_a_page = |event: &str, gpc: bool| {
        // A visitor of their own (their user agent): the engagement has no visit to belong to.
        let agent =
            if event.contains("engagement") { FIREFOX.replace("Firefox", "LibreWolf") } else { FIREFOX.to_string() };
        let mut request = hyper::Request::post("/api/event")
            .header("origin", "https://elsewhere.example")
            .header("user-agent", agent);
        if gpc {
            request = request.header("sec-gpc", "1");
        }
        request.body(body(event)).unwrap()
    };
    let engagement = r#"{"n":"engagement","u":"https://example.org/","d":"example.org","sd":10,"e":1000}"#;
    let (recorded, recorded_headers, recorded_body) = collector.send(from_a_page(event, false)).await;
    assert_eq!(collector.accepted(), 2);
    for (event, gpc) in [(engagement, false), (event, true)] {
        let (status, headers, answer) = collector.send(from_a_page(event, gpc)).await;
        assert_eq!((status, &headers, &answer), (recorded, &recorded_headers, &recorded_body), "{event} {gpc}");
    }
    assert_eq!(collector.accepted(), 2, "neither was recorded");
    let (status, _, answer) = collector.send(post("/api/event").body(body("{")).unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(answer.contains("error"), "{answer}");
}

#[tokio::test]
async fn the_opt_out_takes_a_choice_from_its_own_page_only() {
    let collector = Collector::new();
    let same = post("/optout").header("sec-fetch-site", "same-origin").body(body("action=out&lang=fr")).unwrap();
    let (status, headers, _) = collector.send(same).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers["location"], "optout?lang=fr");
    let cookie = headers["set-cookie"].to_str().unwrap();
    assert!(cookie.starts_with("mesure_optout=1;") && !cookie.contains("Secure"), "{cookie}");
    let cross = post("/optout")
        .header("sec-fetch-site", "cross-site")
        .header("origin", "https://evil.example")
        .body(body("action=out"))
        .unwrap();
    let (status, headers, _) = collector.send(cross).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(headers.get("set-cookie").is_none(), "another site cannot change the choice");
    // Matomo's iframe form, posted from its own page.
    let matomo = post("/index.php?module=CoreAdminHome&action=optOut")
        .header("sec-fetch-site", "same-origin")
        .body(body(""))
        .unwrap();
    let (status, headers, _) = collector.send(matomo).await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers["set-cookie"].to_str().unwrap().starts_with("mesure_optout=1;"));
}

#[tokio::test]
async fn a_reloaded_https_public_url_makes_the_cookies_secure() {
    let collector = Collector::new();
    let choice = || post("/optout").header("sec-fetch-site", "same-origin").body(body("action=out")).unwrap();
    let (_, headers, _) = collector.send(choice()).await;
    assert!(!headers["set-cookie"].to_str().unwrap().contains("Secure"));
    std::fs::write(collector.file.path(), settings("public_url = \"https://stats.example.org\"")).unwrap();
    let reloaded = collector.routes.live.reload(std::iter::empty()).unwrap();
    assert_eq!(reloaded.applied, vec!["public_url changed".to_string()]);
    let (_, headers, _) = collector.send(choice()).await;
    assert!(headers["set-cookie"].to_str().unwrap().ends_with("; Secure"), "applied as reported");
}

#[tokio::test]
async fn sign_in_with_a_share_secret_opens_a_session() {
    let collector = Collector::new();
    let sign_in = |token: &str| {
        post("/api/v1/session")
            .header("content-type", "application/json")
            .body(body(&serde_json::json!({ "token": token }).to_string()))
            .unwrap()
    };
    let (status, headers, answer) = collector.send(sign_in(SHARE_SECRET)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(serde_json::from_str::<serde_json::Value>(&answer).unwrap()["site_id"], 2);
    let cookie = headers["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.contains("HttpOnly; SameSite=Strict"), "{cookie}");
    let session = cookie.split(';').next().unwrap().to_string();
    let sites = get("/api/v1/sites").header("cookie", &session).body(body("")).unwrap();
    let (status, _, answer) = collector.send(sites).await;
    assert_eq!(status, StatusCode::OK);
    assert!(answer.contains("public.example.net"), "{answer}");
    // A form cannot sign in (no preflight), and a body over 4 KiB is not read.
    let form = post("/api/v1/session").header("content-type", "text/plain").body(body("{}")).unwrap();
    assert_eq!(collector.send(form).await.0, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let (status, _, answer) = collector.send(sign_in(&"x".repeat(5000))).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(serde_json::from_str::<serde_json::Value>(&answer).unwrap()["parameter"], "body");
}

#[tokio::test]
async fn a_refused_v2_query_is_answered_in_plausibles_shape() {
    let collector = Collector::new();
    let query = r#"{"site_id": "public.example.net", "metrics": ["nose_length"], "date_range": "7d"}"#;
    let (status, _, answer) = collector.send(post("/api/v2/query").body(body(query)).unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let answer: serde_json::Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(answer, serde_json::json!({"error": "#/metrics/0: Invalid metric \"nose_length\""}));
    // A private site without a credential: 401, still Plausible's shape, before the rest of
    // the request is read; an unknown site is answered the same, so neither can be told apart.
    let mut answers = Vec::new();
    for site in ["example.org", "unknown.example", "EXAMPLE.ORG"] {
        for metric in ["visitors", "nose_length"] {
            let query = format!(r#"{{"site_id": "{site}", "metrics": ["{metric}"], "date_range": "7d"}}"#);
            let (status, _, answer) = collector.send(post("/api/v2/query").body(body(&query)).unwrap()).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{query}");
            answers.push(answer);
        }
    }
    assert!(answers.iter().all(|a| *a == answers[0]), "{answers:?}");
    let answer: serde_json::Value = serde_json::from_str(&answers[0]).unwrap();
    assert_eq!(answer.as_object().unwrap().keys().collect::<Vec<_>>(), vec!["error"]);
    // The same in v1 and in our own API.
    let v1 =
        |site: &str| get(&format!("/api/v1/stats/aggregate?site_id={site}&period=fortnight")).body(body("")).unwrap();
    let (private, _, private_answer) = collector.send(v1("example.org")).await;
    let (unknown, _, unknown_answer) = collector.send(v1("unknown.example")).await;
    assert_eq!((private, unknown), (StatusCode::UNAUTHORIZED, StatusCode::UNAUTHORIZED));
    assert_eq!(private_answer, unknown_answer);
    let own = |site: u32| {
        let query = format!(r#"{{"site_id": {site}, "metrics": ["visitors"], "date_range": "7d"}}"#);
        post("/api/v1/query").header("content-type", "application/json").body(body(&query)).unwrap()
    };
    let (private, _, private_answer) = collector.send(own(1)).await;
    let (unknown, _, unknown_answer) = collector.send(own(999)).await;
    assert_eq!((private, unknown), (StatusCode::UNAUTHORIZED, StatusCode::UNAUTHORIZED));
    assert_eq!(private_answer, unknown_answer);
}

#[tokio::test]
async fn a_public_sites_realtime_is_by_country_at_most() {
    let collector = Collector::new();
    let realtime = |dimensions: &str| {
        let query = format!(
            r#"{{"site_id": 2, "metrics": ["visitors"], "date_range": "realtime", "dimensions": {dimensions}}}"#
        );
        post("/api/v1/query").body(body(&query)).unwrap()
    };
    let (status, _, answer) = collector.send(realtime(r#"["visit:browser"]"#)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    let answer: serde_json::Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(answer["parameter"], "date_range");
    // With the site's share secret the same question is answered (here: ClickHouse is absent,
    // so the refusal is the store's, not the rule's).
    let with_secret = {
        let query =
            r#"{"site_id": 2, "metrics": ["visitors"], "date_range": "realtime", "dimensions": ["visit:browser"]}"#;
        post("/api/v1/query").header("authorization", format!("Bearer {SHARE_SECRET}")).body(body(query)).unwrap()
    };
    let (status, _, answer) = collector.send(with_secret).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{answer}");
}

#[tokio::test]
async fn unknown_paths_and_the_admin_pages() {
    let collector = Collector::new();
    let (status, headers, _) = collector.send(get("/wp-login.php").body(body("")).unwrap()).await;
    assert_eq!((status, headers["x-content-type-options"].to_str().unwrap()), (StatusCode::NOT_FOUND, "nosniff"));
    // Not from an admin network: /metrics does not exist.
    assert_eq!(collector.send(get("/metrics").body(body("")).unwrap()).await.0, StatusCode::NOT_FOUND);
    assert_eq!(collector.send(get("/healthz").body(body("")).unwrap()).await.0, StatusCode::OK);
    let (status, _, answer) =
        collector.send(get("/api/v1/stats/nope?site_id=example.org").body(body("")).unwrap()).await;
    assert_eq!((status, answer.as_str()), (StatusCode::NOT_FOUND, r#"{"error":"Not found"}"#));
}

#[tokio::test]
async fn a_handler_that_panics_is_answered_500_and_counted() {
    let collector = Collector::new();
    let (status, _, answer) = collector.send(get("/test/panic?secret=value").body(body("")).unwrap()).await;
    assert_eq!((status, answer.as_str()), (StatusCode::INTERNAL_SERVER_ERROR, "internal error\n"));
    assert_eq!(collector.routes.metrics.panics.get(), 1);
    // The next request on the same router is answered as usual.
    assert_eq!(collector.send(get("/healthz").body(body("")).unwrap()).await.0, StatusCode::OK);
}
