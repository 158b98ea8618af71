//! Matomo's Reporting API, as its clients call it: `index.php?module=API` by GET and by POST
//! (every parameter in the form body, as the mobile app sends them), and `POST /` (Matomo's log
//! importer); `token_auth` in either; errors in Matomo's words with HTTP 200.

use serde_json::{Value, json};

use crate::common::{Collector, CollectorConfig, clickhouse, unique_database};

async fn call(collector: &Collector, path: &str, form: Option<String>) -> Value {
    let http = crate::common::http();
    let request = match form {
        Some(body) => {
            http.post(collector.url(path)).header("content-type", "application/x-www-form-urlencoded").body(body)
        }
        None => http.get(collector.url(path)),
    };
    let r = request.send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200, "{path}");
    r.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reporting_api_answers_as_matomo_does() {
    let ch = clickhouse();
    let collector = Collector::start(&CollectorConfig::new(ch, &unique_database("matomo_api"))).await;
    let token = crate::stats::token_for(&collector, 1);
    // The version, by GET on index.php and by POST on / (the log importer's form).
    let version = call(&collector, "/index.php?module=API&method=API.getMatomoVersion&format=json", None).await;
    assert_eq!(version, json!({"value": "5.2.0"}));
    let form =
        format!("module=API&format=json&filter_limit=-1&method=SitesManager.getSiteFromId&idSite=1&token_auth={token}");
    let site = call(&collector, "/", Some(form.clone())).await;
    assert_eq!(site["idsite"], "1");
    assert_eq!(site["main_url"], "https://example.org");
    assert_eq!(site["timezone"], "UTC");
    // The mobile app: everything in the body of a POST to index.php.
    let site = call(&collector, "/index.php", Some(form)).await;
    assert_eq!(site["idsite"], "1");
    let ids = call(
        &collector,
        &format!(
            "/index.php?module=API&method=SitesManager.getSitesIdWithAtLeastViewAccess&format=json&token_auth={token}"
        ),
        None,
    )
    .await;
    assert_eq!(ids, json!([1]));
    let sites = call(
        &collector,
        "/index.php",
        Some(format!("module=API&method=SitesManager.getSitesWithAtLeastViewAccess&format=json&token_auth={token}")),
    )
    .await;
    assert_eq!(sites.as_array().map(Vec::len), Some(1));
    // Matomo's log importer finds a site by its URL (with or without www.).
    let by_url = |url: &str| {
        format!("/index.php?module=API&method=SitesManager.getSitesIdFromSiteUrl&url={url}&token_auth={token}")
    };
    assert_eq!(call(&collector, &by_url("https%3A%2F%2Fwww.example.org%2Fpath"), None).await, json!([{"idsite": "1"}]));
    assert_eq!(
        call(&collector, &by_url("https%3A%2F%2Fshop.example.net"), None).await,
        json!([]),
        "not the token's site"
    );
    // Errors: HTTP 200 and Matomo's words, never a page.
    let error = |v: &Value| (v["result"].as_str().map(String::from), v["message"].as_str().unwrap_or("").to_string());
    let other_site = call(
        &collector,
        &format!("/index.php?module=API&method=SitesManager.getSiteFromId&idSite=2&token_auth={token}"),
        None,
    )
    .await;
    assert_eq!(error(&other_site).0.as_deref(), Some("error"));
    assert!(error(&other_site).1.contains("requires 'view' access for the website id = 2"), "{other_site}");
    let anonymous =
        call(&collector, "/index.php?module=API&method=SitesManager.getSiteFromId&idSite=1&token_auth=anonymous", None)
            .await;
    assert!(error(&anonymous).1.contains("requires 'view' access"), "{anonymous}");
    let unknown = call(&collector, "/index.php?module=API&method=Foo.bar&format=json", None).await;
    assert!(error(&unknown).1.contains("does not exist"), "{unknown}");
    let visitor_log = call(
        &collector,
        &format!("/index.php?module=API&method=Live.getLastVisitsDetails&idSite=1&token_auth={token}"),
        None,
    )
    .await;
    assert!(error(&visitor_log).1.starts_with("The plugin Live is not enabled"), "{visitor_log}");
    // A screen's exact resolution is not stored (a screen class is): declined the same way.
    let resolution = call(
        &collector,
        &format!(
            "/index.php?module=API&method=Resolution.getResolution&idSite=1&period=day&date=today&token_auth={token}"
        ),
        None,
    )
    .await;
    assert!(error(&resolution).1.starts_with("The plugin Resolution is not enabled"), "{resolution}");
    // The dashboard is still the page at `/`.
    let page = crate::common::http().get(collector.url("/")).send().await.unwrap();
    assert!(page.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
}

/// `VisitsSummary.get` over the stats tests' hand-computed data set (tests/it/stats.rs): one
/// period, a range, and several days keyed by date, with Matomo's names and value formats.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn visits_summary_answers_the_hand_computed_figures() {
    let s = crate::stats::seed_with("[[sites]]\nid = 1\ndomains = [\"example.org\"]\n").await;
    let token = crate::stats::token_for(&s.collector, 1);
    let ask = |period: &str, date: &str| {
        format!(
            "/index.php?module=API&method=VisitsSummary.get&idSite=1&period={period}&date={date}&format=json&token_auth={token}"
        )
    };
    // Yesterday: B (/c, then Signup 120 s later), C (/a, /a, /b over 600 s), D (/b, a bounce).
    let yesterday = json!({"nb_uniq_visitors": 3, "nb_visits": 3, "nb_actions": 6, "nb_visits_converted": 1, "bounce_count": 1, "sum_visit_length": 720, "nb_actions_per_visit": 2.0, "bounce_rate": "33%", "avg_time_on_site": 240});
    assert_eq!(call(&s.collector, &ask("day", "yesterday"), None).await, yesterday);
    assert_eq!(call(&s.collector, &ask("day", &s.day2), None).await, yesterday);
    // The two days: 4 visitors, 5 visits, 8 page views and a custom event.
    let both = json!({"nb_uniq_visitors": 4, "nb_visits": 5, "nb_actions": 9, "nb_visits_converted": 1, "bounce_count": 2, "sum_visit_length": 820, "nb_actions_per_visit": 1.8, "bounce_rate": "40%", "avg_time_on_site": 164});
    assert_eq!(call(&s.collector, &ask("range", "previous2"), None).await, both);
    assert_eq!(call(&s.collector, &ask("range", &format!("{},{}", s.day1, s.day2)), None).await, both);
    // Several days: keyed by date; today holds the visitor of a minute ago.
    let days = call(&s.collector, &ask("day", "last3"), None).await;
    let object = days.as_object().expect("keyed by date");
    assert_eq!(object.keys().cloned().collect::<Vec<_>>()[..2], [s.day1.clone(), s.day2.clone()]);
    assert_eq!(
        days[&s.day1],
        json!({"nb_uniq_visitors": 2, "nb_visits": 2, "nb_actions": 3, "nb_visits_converted": 0, "bounce_count": 1, "sum_visit_length": 100, "nb_actions_per_visit": 1.5, "bounce_rate": "50%", "avg_time_on_site": 50})
    );
    assert_eq!(days[&s.day2], yesterday);
    assert_eq!(object.len(), 3);
    // API.getBulkRequest as WP-Matomo and the mobile app send it: calls encoded as urls[i],
    // answered in order, an error in the place of a call that fails.
    let encode = |call: &str| call.replace('=', "%3D").replace('&', "%26");
    let form = format!(
        "module=API&method=API.getBulkRequest&format=json&token_auth={token}&urls%5B0%5D={}&urls%5B1%5D={}&urls%5B2%5D={}",
        encode("method=VisitsSummary.get&idSite=1&period=day&date=yesterday"),
        encode("method=Foo.bar"),
        encode("method=API.getMatomoVersion"),
    );
    let answers = call(&s.collector, "/index.php", Some(form)).await;
    assert_eq!(answers[0], yesterday);
    assert_eq!(answers[1]["result"], "error");
    assert_eq!(answers[2], json!({"value": "5.2.0"}));
    // One-value variants, and the columns a monitoring check asks for.
    assert_eq!(
        call(&s.collector, &ask("day", "yesterday").replace("VisitsSummary.get", "VisitsSummary.getVisits"), None)
            .await,
        json!({"value": 3})
    );
    let shown =
        call(&s.collector, &format!("{}&showColumns=nb_visits,bounce_rate", ask("range", "previous2")), None).await;
    assert_eq!(shown, json!({"nb_visits": 5, "bounce_rate": "40%"}));
    // Raw values (Looker's format_metrics=0): rates as fractions.
    let raw =
        call(&s.collector, &format!("{}&showColumns=bounce_rate&format_metrics=0", ask("day", "yesterday")), None)
            .await;
    assert_eq!(raw, json!({"bounce_rate": 0.33}));
    // A day without visits is Matomo's empty table; a bad date is Matomo's error.
    assert_eq!(call(&s.collector, &ask("day", "2026-01-01"), None).await, json!([]));
    let bad = call(&s.collector, &ask("day", "someday"), None).await;
    assert_eq!(bad["result"], "error");
    assert!(bad["message"].as_str().unwrap().contains("is not a correct date"), "{bad}");
    // The same answers as XML, CSV and TSV, as Matomo writes them.
    let raw = |path: String| {
        let url = s.collector.url(&path);
        async move {
            let r = crate::common::http().get(url).send().await.unwrap();
            let kind = r.headers()["content-type"].to_str().unwrap().to_string();
            (kind, r.bytes().await.unwrap().to_vec())
        }
    };
    let as_format = |period: &str, date: &str, format: &str| ask(period, date).replace("format=json", format);
    let (kind, xml) = raw(as_format("day", "yesterday", "format=XML")).await;
    assert!(kind.starts_with("text/xml"), "{kind}");
    let xml = String::from_utf8(xml).unwrap();
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\" ?>\n<result>\n\t<nb_uniq_visitors>3</nb_uniq_visitors>\n\t<nb_visits>3</nb_visits>"), "{xml}");
    assert!(xml.contains("\t<bounce_rate>33%</bounce_rate>\n") && xml.ends_with("</result>"), "{xml}");
    let (_, days) = raw(as_format("day", "last3", "format=xml")).await;
    let days = String::from_utf8(days).unwrap();
    assert!(
        days.contains(&format!(
            "<results>\n\t<result date=\"{}\">\n\t\t<nb_uniq_visitors>2</nb_uniq_visitors>",
            s.day1
        )),
        "{days}"
    );
    // CSV in UTF-8 on request: a header line, a line per period with its date.
    let (kind, csv) =
        raw(as_format("day", "last3", "format=csv&convertToUnicode=0&showColumns=nb_visits,bounce_rate")).await;
    assert!(kind.starts_with("application/vnd.ms-excel"), "{kind}");
    let csv = String::from_utf8(csv).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[..3],
        ["date,nb_visits,bounce_rate".to_string(), format!("{},2,50%", s.day1), format!("{},3,33%", s.day2)]
    );
    // TSV by default in UTF-16LE after a byte order mark, as spreadsheets read it.
    let (_, tsv) = raw(as_format("range", "previous2", "format=tsv&showColumns=nb_visits,nb_actions")).await;
    assert_eq!(tsv[..2], [0xff, 0xfe]);
    let units: Vec<u16> = tsv[2..].chunks(2).map(|pair| u16::from_le_bytes([pair[0], pair[1]])).collect();
    assert_eq!(String::from_utf16(&units).unwrap(), "nb_visits\tnb_actions\n5\t9");
    // Errors in each format's words.
    let (_, error) = raw(as_format("day", "someday", "format=xml")).await;
    let error = String::from_utf8(error).unwrap();
    assert!(error.contains("<error message=\"The date &apos;someday&apos; is not a correct date.\" />"), "{error}");
    let (_, error) = raw(as_format("day", "someday", "format=csv")).await;
    assert_eq!(String::from_utf8(error).unwrap(), "Error: The date 'someday' is not a correct date.");
    let unknown = call(&s.collector, &as_format("day", "yesterday", "format=php"), None).await;
    assert!(unknown["message"].as_str().unwrap().contains("not supported"), "{unknown}");
}

/// A token for several sites, or all (`mesure token create --sites 1,2` / `--all-sites`), read
/// by a Matomo client as its `token_auth`: the multi-site methods answer every site it reads,
/// and each site's reports too; a single-site token still reads its site only. A site's
/// tracking `token_auth` reads that site (the log importer's one token).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_of_several_sites_read_each_of_them() {
    let ch = clickhouse();
    let mut config = CollectorConfig::new(ch, &unique_database("matomo_tokens"));
    config.extra.push_str(&format!(
        "\n[[sites]]\nid = 3\ndomains = [\"mairie.example.fr\"]\ntoken_auth_sha256 = \"{}\"\n",
        crate::stats::sha256("tracking-secret")
    ));
    let collector = Collector::start(&config).await;
    let create = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_mesure"))
            .args(["token", "create"])
            .args(args)
            .arg("--config")
            .arg(collector.dir.join("mesure.toml"))
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8(out.stdout).unwrap();
        (text.lines().next().unwrap().to_string(), text.lines().last().unwrap().trim().to_string())
    };
    let (said, two) = create(&["--sites", "1,2"]);
    assert!(said.starts_with("token for sites 1, 2"), "{said}");
    let (said, all) = create(&["--all-sites"]);
    assert!(said.starts_with("token for every site"), "{said}");
    let one = crate::stats::token_for(&collector, 2);
    let ids = |token: &str| {
        format!(
            "/index.php?module=API&method=SitesManager.getSitesIdWithAtLeastViewAccess&format=json&token_auth={token}"
        )
    };
    assert_eq!(call(&collector, &ids(&two), None).await, json!([1, 2]));
    assert_eq!(call(&collector, &ids(&all), None).await, json!([1, 2, 3]));
    assert_eq!(call(&collector, &ids(&one), None).await, json!([2]));
    assert_eq!(call(&collector, &ids("tracking-secret"), None).await, json!([3]));
    let all_sites = call(
        &collector,
        &format!("/index.php?module=API&method=SitesManager.getAllSitesId&format=json&token_auth={two}"),
        None,
    )
    .await;
    assert_eq!(all_sites, json!([1, 2]));
    let summary = |site: u32, token: &str| {
        format!(
            "/index.php?module=API&method=VisitsSummary.get&idSite={site}&period=day&date=today&format=json&token_auth={token}"
        )
    };
    for site in [1, 2] {
        assert_eq!(call(&collector, &summary(site, &two), None).await, json!([]), "site {site}: no visits, no error");
    }
    let refused = call(&collector, &summary(3, &two), None).await;
    assert_eq!(refused["result"], "error", "{refused}");
    assert_eq!(call(&collector, &summary(3, &all), None).await, json!([]));
    assert_eq!(call(&collector, &summary(3, "tracking-secret"), None).await, json!([]));
    assert_eq!(call(&collector, &summary(1, "tracking-secret"), None).await["result"], "error");
    // Our own API lists the same sites for the token.
    let listed: Value =
        crate::common::json_of(crate::common::http().get(collector.url("/api/v1/sites")).bearer_auth(&two)).await;
    let listed: Vec<u64> = listed["sites"].as_array().unwrap().iter().map(|s| s["id"].as_u64().unwrap()).collect();
    assert_eq!(listed, [1, 2]);
}

/// Matomo's report methods over the same hand-computed data set: rows labelled and named as
/// Matomo's, our numbers, Matomo's generic filters, French labels, several periods keyed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_answer_the_hand_computed_rows() {
    let s = crate::stats::seed_with("[[sites]]\nid = 1\ndomains = [\"example.org\"]\n").await;
    let token = crate::stats::token_for(&s.collector, 1);
    let ask = |method: &str, period: &str, date: &str, extra: &str| {
        format!(
            "/index.php?module=API&method={method}&idSite=1&period={period}&date={date}&format=json&token_auth={token}{extra}"
        )
    };
    // Yesterday: B from DE (/c and Signup, 120 s, converted), C from FR (3 views, 600 s), D from
    // GB (a bounce).
    let countries =
        call(&s.collector, &ask("UserCountry.getCountry", "day", "yesterday", "&filter_sort_column=nb_actions"), None)
            .await;
    assert_eq!(
        countries,
        json!([
            {"label": "France", "code": "fr", "segment": "countryCode==fr", "nb_uniq_visitors": 1, "nb_visits": 1, "nb_actions": 3, "sum_visit_length": 600, "bounce_count": 0, "nb_visits_converted": 0},
            {"label": "Germany", "code": "de", "segment": "countryCode==de", "nb_uniq_visitors": 1, "nb_visits": 1, "nb_actions": 2, "sum_visit_length": 120, "bounce_count": 0, "nb_visits_converted": 1},
            {"label": "United Kingdom", "code": "gb", "segment": "countryCode==gb", "nb_uniq_visitors": 1, "nb_visits": 1, "nb_actions": 1, "sum_visit_length": 0, "bounce_count": 1, "nb_visits_converted": 0},
        ])
    );
    let french = call(
        &s.collector,
        &ask("UserCountry.getCountry", "day", "yesterday", "&language=fr&filter_pattern=^all"),
        None,
    )
    .await;
    assert_eq!(french[0]["label"], "Allemagne");
    assert_eq!(french.as_array().unwrap().len(), 1);
    // Every country of both days is in Europe: FR (A, C), DE (B twice), GB (D), added up.
    let continents = call(&s.collector, &ask("UserCountry.getContinent", "range", "previous2", ""), None).await;
    assert_eq!(
        continents,
        json!([{"label": "Europe", "code": "Europe", "nb_uniq_visitors": 4, "nb_visits": 5, "nb_actions": 9,
                "sum_visit_length": 820, "bounce_count": 2, "nb_visits_converted": 1}])
    );
    // Both days' pages: /a seen 4 times in 3 visits, /b 3 in 3, /c once. Time on page, to the
    // visit's next hit: /a 100 s (A) + 300 + 300 s (C); /c 120 s to B's Signup; /b always last.
    let pages =
        call(&s.collector, &ask("Actions.getPageUrls", "range", "previous2", "&filter_sort_column=nb_hits"), None)
            .await;
    assert_eq!(
        pages,
        json!([
            {"label": "/a", "url": "https://example.org/a", "nb_uniq_visitors": 3, "nb_visits": 3, "nb_hits": 4,
             "entry_nb_visits": 3, "entry_bounce_count": 1, "exit_nb_visits": 1, "bounce_rate": "33%", "exit_rate": "33%",
             "sum_time_spent": 700, "avg_time_on_page": 175},
            {"label": "/b", "url": "https://example.org/b", "nb_uniq_visitors": 3, "nb_visits": 3, "nb_hits": 3,
             "entry_nb_visits": 1, "entry_bounce_count": 1, "exit_nb_visits": 3, "bounce_rate": "100%", "exit_rate": "100%",
             "sum_time_spent": 0, "avg_time_on_page": 0},
            {"label": "/c", "url": "https://example.org/c", "nb_uniq_visitors": 1, "nb_visits": 1, "nb_hits": 1,
             "entry_nb_visits": 1, "entry_bounce_count": 0, "exit_nb_visits": 1, "bounce_rate": "0%", "exit_rate": "100%",
             "sum_time_spent": 120, "avg_time_on_page": 120},
        ])
    );
    let limited = call(
        &s.collector,
        &ask(
            "Actions.getPageUrls",
            "range",
            "previous2",
            "&filter_sort_column=nb_hits&filter_limit=1&showColumns=nb_hits",
        ),
        None,
    )
    .await;
    assert_eq!(limited, json!([{"label": "/a", "nb_hits": 4}]));
    // Entry pages of both days: /a for A, B (day 1) and C; /c for B (day 2); /b for D.
    let entries = call(
        &s.collector,
        &ask(
            "Actions.getEntryPageUrls",
            "range",
            "previous2",
            "&filter_sort_column=entry_nb_visits&showColumns=entry_nb_visits,entry_bounce_count",
        ),
        None,
    )
    .await;
    assert_eq!(entries[0], json!({"label": "/a", "entry_nb_visits": 3, "entry_bounce_count": 1}));
    // Yesterday's referrer types, browsers and events.
    let types = call(
        &s.collector,
        &ask(
            "Referrers.getReferrerType",
            "day",
            "yesterday",
            "&filter_sort_column=label&filter_sort_order=asc&showColumns=nb_visits",
        ),
        None,
    )
    .await;
    assert_eq!(
        types,
        json!([
            {"label": "Direct Entry", "nb_visits": 1},
            {"label": "Search Engines", "nb_visits": 1},
            {"label": "Social Networks", "nb_visits": 1},
        ])
    );
    let engines =
        call(&s.collector, &ask("Referrers.getSearchEngines", "range", "previous2", "&showColumns=nb_visits"), None)
            .await;
    assert_eq!(engines, json!([{"label": "Google", "nb_visits": 2}]));
    // No engine sends a keyword: its visits (A's and C's) are Matomo's "Keyword not defined".
    let keywords = call(&s.collector, &ask("Referrers.getKeywords", "range", "previous2", ""), None).await;
    assert_eq!(
        keywords,
        json!([{"label": "Keyword not defined", "nb_uniq_visitors": 2, "nb_visits": 2, "nb_actions": 5,
                "sum_visit_length": 700, "bounce_count": 0, "nb_visits_converted": 0}])
    );
    let french = call(&s.collector, &ask("Referrers.getKeywords", "day", "yesterday", "&language=fr"), None).await;
    assert_eq!((french[0]["label"].as_str(), french[0]["nb_visits"].as_u64()), (Some("Mot clef indéfini"), Some(1)));
    let browsers = call(
        &s.collector,
        &ask(
            "DevicesDetection.getBrowsers",
            "day",
            "yesterday",
            "&filter_sort_column=label&filter_sort_order=asc&showColumns=nb_visits",
        ),
        None,
    )
    .await;
    assert_eq!(
        browsers,
        json!([{"label": "Chrome", "nb_visits": 1}, {"label": "Firefox", "nb_visits": 1}, {"label": "Safari", "nb_visits": 1}])
    );
    let devices = call(
        &s.collector,
        &ask(
            "DevicesDetection.getType",
            "range",
            "previous2",
            "&filter_sort_column=label&filter_sort_order=asc&showColumns=nb_visits",
        ),
        None,
    )
    .await;
    assert_eq!(
        devices,
        json!([{"label": "Desktop", "nb_visits": 2}, {"label": "Smartphone", "nb_visits": 2}, {"label": "Tablet", "nb_visits": 1}])
    );
    let events = call(&s.collector, &ask("Events.getName", "day", "yesterday", ""), None).await;
    assert_eq!(events, json!([{"label": "Signup", "nb_uniq_visitors": 1, "nb_visits": 1, "nb_events": 1}]));
    // Several periods: keyed by date, each with its own rows (an empty day is an empty table).
    let by_day = call(&s.collector, &ask("Events.getName", "day", "last3", "&showColumns=nb_events"), None).await;
    assert_eq!(by_day[&s.day1], json!([]));
    assert_eq!(by_day[&s.day2], json!([{"label": "Signup", "nb_events": 1}]));
    // Totals of actions over both days, referrer types yesterday, and one page by its URL.
    let actions = call(&s.collector, &ask("Actions.get", "range", "previous2", ""), None).await;
    assert_eq!(
        actions,
        json!({"nb_pageviews": 8, "nb_downloads": 0, "nb_uniq_downloads": 0, "nb_outlinks": 0, "nb_uniq_outlinks": 0, "nb_searches": 0, "nb_keywords": 0})
    );
    let referrers = call(&s.collector, &ask("Referrers.get", "day", "yesterday", ""), None).await;
    assert_eq!(
        referrers,
        json!({"Referrers_visitorsFromDirectEntry": 1, "Referrers_visitorsFromSearchEngines": 1, "Referrers_visitorsFromSocialNetworks": 1,
               "Referrers_visitorsFromWebsites": 0, "Referrers_visitorsFromCampaigns": 0, "Referrers_distinctSearchEngines": 1,
               "Referrers_distinctSocialNetworks": 1, "Referrers_distinctWebsites": 0, "Referrers_distinctCampaigns": 0})
    );
    let page = call(
        &s.collector,
        &ask("Actions.getPageUrl", "range", "previous2", "&pageUrl=https%3A%2F%2Fexample.org%2Fb"),
        None,
    )
    .await;
    assert_eq!(
        page,
        json!([{"label": "/b", "url": "https://example.org/b", "nb_uniq_visitors": 3, "nb_visits": 3, "nb_hits": 3,
                "entry_nb_visits": 1, "entry_bounce_count": 1, "exit_nb_visits": 3, "bounce_rate": "100%", "exit_rate": "100%",
                "sum_time_spent": 0, "avg_time_on_page": 0}])
    );
    // A bad pattern is Matomo's error.
    let bad = call(&s.collector, &ask("Actions.getPageUrls", "day", "yesterday", "&filter_pattern=("), None).await;
    assert_eq!(bad["result"], "error");
}

/// Two Reporting API clients from the registries, run unchanged against the hand-computed data
/// set: `matomo-api` (PyPI; GET on `/` with its parameters) and `piwik-client` (npm; the client
/// of a ministry's dashboards, GET on `/index.php`). Their answers are Matomo's shapes with our
/// numbers, and a refusal reaches them as Matomo's error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn third_party_reporting_clients_run_unchanged() {
    let s = crate::stats::seed_with("[[sites]]\nid = 1\ndomains = [\"example.org\"]\n").await;
    let token = crate::stats::token_for(&s.collector, 1);
    let base = s.collector.url("");
    let dir = std::path::Path::new(crate::common::REPO).join("tests/clients");
    let run = |program: &'static str, script: &'static str| {
        let (base, token, dir) = (base.clone(), token.clone(), dir.clone());
        tokio::task::spawn_blocking(move || {
            let out = std::process::Command::new("timeout")
                .args(["60", program, script, &base, &token])
                .current_dir(&dir)
                .output()
                .expect("the client runs");
            let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
            assert!(out.status.success(), "{script}: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
            serde_json::from_str::<Value>(&stdout).unwrap_or_else(|e| panic!("{script}: {e}: {stdout}"))
        })
    };
    let (python, node) = tokio::join!(run("python3", "matomo_api_client.py"), run("node", "piwik-client.mjs"));
    let (python, node) = (python.unwrap(), node.unwrap());
    // matomo-api (Python).
    assert_eq!(python["version"], json!({"value": "5.2.0"}));
    assert_eq!(python["summary"]["nb_visits"], 5, "{python}");
    assert_eq!(python["summary"]["bounce_count"], 2);
    assert_eq!(python["days"][&s.day1], 2, "several periods: bare numbers keyed by date");
    assert_eq!(python["days"][&s.day2], 3);
    // Each country had one visit yesterday: in any order, named in French.
    let mut countries: Vec<String> = python["countries"].as_array().unwrap().iter().map(Value::to_string).collect();
    countries.sort();
    let expected = [("Allemagne", 1), ("France", 1), ("Royaume-Uni", 1)];
    let expected: Vec<String> = expected.iter().map(|(l, n)| json!({"label": l, "nb_visits": n}).to_string()).collect();
    assert_eq!(countries, expected);
    assert_eq!(python["pages"], json!([{"label": "/a", "nb_hits": 4}, {"label": "/b", "nb_hits": 3}]));
    assert!(python["visitor_log"]["message"].as_str().unwrap().contains("Live is not enabled"), "{python}");
    // piwik-client (npm).
    assert_eq!(node["summary"]["nb_visits"], 3, "{node}");
    assert_eq!(node["summary"]["sum_visit_length"], 720);
    assert_eq!(node["bulk"][0]["nb_visits"], 5);
    assert_eq!(node["bulk"][1].as_array().map(Vec::len), Some(3), "{node}");
    assert!(node["refused"]["error"].as_str().unwrap().contains("requires 'view' access"), "{node}");
}

/// The methods the mobile app, Looker and WP-Matomo build their screens from, over the same
/// data set: report metadata listing what is answered, a processed report, the all-websites
/// dashboard with evolutions, the live counters, segments, and the empty per-user lists.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_multisites_live_counters_and_segments() {
    let s = crate::stats::seed_with("[[sites]]\nid = 1\ndomains = [\"example.org\"]\n").await;
    let token = crate::stats::token_for(&s.collector, 1);
    let api = |query: &str| format!("/index.php?module=API&format=json&token_auth={token}&{query}");
    let metadata =
        call(&s.collector, &api("method=API.getReportMetadata&idSite=1&period=day&date=yesterday"), None).await;
    let listed: Vec<String> = metadata
        .as_array()
        .unwrap()
        .iter()
        .map(|r| format!("{}.{}", r["module"].as_str().unwrap(), r["action"].as_str().unwrap()))
        .collect();
    assert!(
        listed.contains(&"VisitsSummary.get".to_string()) && listed.contains(&"UserCountry.getCountry".to_string())
    );
    // Every listed report answers (never "does not exist").
    for method in &listed {
        let answer =
            call(&s.collector, &api(&format!("method={method}&idSite=1&period=day&date=yesterday")), None).await;
        assert_ne!(answer["result"], "error", "{method}: {answer}");
    }
    let processed = call(
        &s.collector,
        &api("method=API.getProcessedReport&idSite=1&period=day&date=yesterday&apiModule=UserCountry&apiAction=getCountry&filter_sort_column=nb_actions"),
        None,
    )
    .await;
    assert_eq!(processed["website"], "example.org");
    assert_eq!(processed["columns"]["label"], "Country");
    assert_eq!(processed["reportData"][0]["label"], "France");
    assert_eq!(processed["reportMetadata"].as_array().map(Vec::len), Some(3));
    // The all-websites dashboard: yesterday's 3 visits against the day before's 2.
    let all = call(&s.collector, &api("method=MultiSites.getAll&period=day&date=yesterday&enhanced=1"), None).await;
    assert_eq!(all[0]["idsite"], 1, "{all}");
    assert_eq!((all[0]["nb_visits"].as_u64(), all[0]["nb_pageviews"].as_u64()), (Some(3), Some(5)));
    assert_eq!(all[0]["visits_evolution"], "50%");
    // Live counters: E's visit of a minute ago.
    let live = call(&s.collector, &api("method=Live.getCounters&idSite=1&lastMinutes=30"), None).await;
    assert_eq!(live, json!([{"visits": 1, "actions": 1, "visitors": 1, "visitsConverted": 0}]));
    // Segments: yesterday's visitors from France, or on a smartphone; one we cannot answer.
    let segment =
        |s: &str| api(&format!("method=VisitsSummary.getVisits&idSite=1&period=day&date=yesterday&segment={s}"));
    assert_eq!(call(&s.collector, &segment("countryCode%3D%3Dfr"), None).await, json!({"value": 1}));
    assert_eq!(
        call(&s.collector, &segment("countryCode%3D%3Dfr,countryCode%3D%3Dgb"), None).await,
        json!({"value": 2})
    );
    assert_eq!(
        call(&s.collector, &segment("referrerType%3D%3Dsearch;browserName%3D%3DFirefox"), None).await,
        json!({"value": 1})
    );
    let refused = call(&s.collector, &segment("visitorId%3D%3Dabc"), None).await;
    assert!(refused["message"].as_str().unwrap().contains("not supported"), "{refused}");
    for empty in ["method=SegmentEditor.getAll", "method=Dashboard.getDashboards"] {
        assert_eq!(call(&s.collector, &api(empty), None).await, json!([]));
    }
    let preference =
        call(&s.collector, &api("method=UsersManager.getUserPreference&preferenceName=defaultReportDate"), None).await;
    assert_eq!(preference, json!({"value": "yesterday"}));
    // Several sites at once: keyed by id.
    let keyed =
        call(&s.collector, &api("method=VisitsSummary.getVisits&idSite=all&period=day&date=yesterday"), None).await;
    assert_eq!(keyed, json!({"1": 3}));
}

/// Outlinks, downloads, site search, page titles and custom events, tracked through Matomo's
/// endpoint by two visitors and read back through Matomo's reports: grouped by domain with
/// subtables as Matomo groups links, and the same figures in our own API.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_searches_titles_and_events_are_reported() {
    let ch = clickhouse();
    let db = unique_database("matomo_actions");
    let collector = Collector::start(&CollectorConfig::new(ch, &db)).await;
    let token = crate::stats::token_for(&collector, 1);
    let http = crate::common::http();
    let hit = |ip: &'static str, query: String| {
        let request = http
            .get(collector.url(&format!("/matomo.php?idsite=1&rec=1&url=https%3A%2F%2Fexample.org%2Fdocs&{query}")))
            .header("user-agent", "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0")
            .header("x-forwarded-for", ip);
        async move { assert!(request.send().await.unwrap().status().is_success()) }
    };
    for (ip, extra) in [("198.51.100.20", true), ("198.51.100.21", false)] {
        hit(ip, "action_name=Docs".into()).await;
        hit(ip, format!("link=https%3A%2F%2Fdocs.example.net%2F{}", if extra { "a" } else { "b" })).await;
        // The first search found nothing; the second sent no result count.
        hit(ip, format!("search=Imp%C3%B4ts&search_cat=aide{}", if extra { "&search_count=0" } else { "" })).await;
        if extra {
            hit(ip, "download=https%3A%2F%2Fexample.org%2Ffiles%2Freport.pdf".into()).await;
            hit(ip, "e_c=Video&e_a=Play&e_n=Intro".into()).await;
        } else {
            hit(ip, "link=https%3A%2F%2Fother.example%2Fx".into()).await;
            hit(ip, "search=Horaires&search_count=4".into()).await;
        }
    }
    let stored = crate::common::eventually(std::time::Duration::from_secs(15), || async {
        (ch.count(&format!("SELECT count() FROM {db}.events")).await >= 10).then_some(())
    })
    .await;
    assert!(stored.is_some(), "the hits were not stored");
    let ask = |method: &str, extra: &str| {
        format!(
            "/index.php?module=API&method={method}&idSite=1&period=day&date=today&format=json&token_auth={token}{extra}"
        )
    };
    let outlinks = call(&collector, &ask("Actions.getOutlinks", "&expanded=1&filter_sort_column=nb_hits"), None).await;
    assert_eq!(outlinks[0]["label"], "docs.example.net", "{outlinks}");
    assert_eq!((outlinks[0]["nb_hits"].as_u64(), outlinks[0]["nb_visits"].as_u64()), (Some(2), Some(2)));
    let urls: Vec<&str> =
        outlinks[0]["subtable"].as_array().unwrap().iter().map(|r| r["label"].as_str().unwrap()).collect();
    assert_eq!(urls.len(), 2);
    assert!(urls.contains(&"docs.example.net/a") && urls.contains(&"docs.example.net/b"), "{urls:?}");
    assert_eq!(outlinks[1]["label"], "other.example");
    let id = outlinks[1]["idsubdatatable"].as_u64().unwrap();
    let sub = call(&collector, &ask("Actions.getOutlinks", &format!("&idSubtable={id}")), None).await;
    assert_eq!(
        sub,
        json!([{"label": "other.example/x", "url": "https://other.example/x", "nb_uniq_visitors": 1, "nb_visits": 1, "nb_hits": 1}])
    );
    let flat = call(&collector, &ask("Actions.getOutlinks", "&flat=1"), None).await;
    assert_eq!(flat.as_array().map(Vec::len), Some(3));
    let downloads = call(&collector, &ask("Actions.getDownloads", "&expanded=1"), None).await;
    assert_eq!(downloads[0]["label"], "example.org");
    assert_eq!(downloads[0]["subtable"][0]["label"], "example.org/files/report.pdf");
    let keywords = call(&collector, &ask("Actions.getSiteSearchKeywords", ""), None).await;
    assert_eq!(
        keywords,
        json!([{"label": "impôts", "nb_uniq_visitors": 2, "nb_visits": 2, "nb_hits": 2},
               {"label": "horaires", "nb_uniq_visitors": 1, "nb_visits": 1, "nb_hits": 1}])
    );
    // Only the search that reported no result: one without a count is not one.
    let nothing_found = call(&collector, &ask("Actions.getSiteSearchNoResultKeywords", ""), None).await;
    assert_eq!(nothing_found, json!([{"label": "impôts", "nb_uniq_visitors": 1, "nb_visits": 1, "nb_hits": 1}]));
    let categories = call(&collector, &ask("Actions.getSiteSearchCategories", "&showColumns=nb_hits"), None).await;
    assert_eq!(categories, json!([{"label": "aide", "nb_hits": 2}]));
    let titles = call(&collector, &ask("Actions.getPageTitles", "&showColumns=nb_hits,nb_visits"), None).await;
    assert_eq!(titles, json!([{"label": "Docs", "nb_visits": 2, "nb_hits": 2}]));
    let categories = call(&collector, &ask("Events.getCategory", "&showColumns=nb_events"), None).await;
    assert_eq!(categories, json!([{"label": "Video", "nb_events": 1}]));
    let actions = call(&collector, &ask("Events.getAction", "&showColumns=nb_events"), None).await;
    assert_eq!(actions, json!([{"label": "Play", "nb_events": 1}]));
    // The same figures through our own API's new dimensions.
    let ours = crate::common::json_of(
        http
        .post(collector.url("/api/v1/query"))
        .bearer_auth(&token)
        .json(&json!({"site_id": 1, "metrics": ["visitors", "actions"], "date_range": "today", "dimensions": ["event:search_keyword"]}))
    )
    .await;
    assert_eq!(ours["results"][0]["dimensions"], json!(["impôts"]), "{ours}");
    assert_eq!(ours["results"][0]["metrics"], json!([2, 2]));
    let counts = crate::common::json_of(
        http
        .post(collector.url("/api/v1/query"))
        .bearer_auth(&token)
        .json(&json!({"site_id": 1, "metrics": ["actions"], "date_range": "today", "dimensions": ["event:search_results"], "order_by": [["event:search_results", "asc"]]}))
    )
    .await;
    let counts: Vec<(Value, Value)> =
        counts["results"].as_array().unwrap().iter().map(|r| (r["dimensions"].clone(), r["metrics"].clone())).collect();
    assert_eq!(counts, [(json!(["0"]), json!([1])), (json!(["4"]), json!([1]))]);
}

/// The request forms of the official Looker Studio connector (matomo-org/looker-studio-connector,
/// `src/api.ts`, `src/config.ts`, `src/data.ts`): a POST to `index.php?` with every parameter in
/// the body (`format=JSON`, `fromLooker=1`, the token last); the report list from
/// `API.getReportMetadata`, which must carry `metricTypes` and `metrics`; a data request with
/// `flat=1`, `format_metrics=0`, `filter_limit`/`filter_offset` paging, `showColumns`,
/// `idGoal=0`; and a date dimension, which asks per day and reads a date-keyed answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_looker_studio_connectors_requests_are_answered() {
    let s = crate::stats::seed_with("[[sites]]\nid = 1\ndomains = [\"example.org\"]\n").await;
    let token = crate::stats::token_for(&s.collector, 1);
    let looker = |method: &str, params: &str| {
        Some(format!("module=API&method={method}&format=JSON&{params}&fromLooker=1&token_auth={token}"))
    };
    let version = call(&s.collector, "/index.php?", looker("API.getMatomoVersion", "x=1")).await;
    let major_minor: Vec<&str> = version["value"].as_str().unwrap().split('.').take(2).collect();
    assert!(major_minor[0].parse::<u32>().unwrap() >= 5, "{version}");
    let sites = call(&s.collector, "/index.php?", looker("SitesManager.getSitesWithAtLeastViewAccess", "x=1")).await;
    assert_eq!(sites[0]["currency"], "EUR");
    let metadata = call(
        &s.collector,
        "/index.php?",
        looker("API.getReportMetadata", "idSite=1&period=day&date=yesterday&filter_limit=-1&language=fr"),
    )
    .await;
    let reports = metadata.as_array().unwrap();
    assert!(reports.iter().any(|r| r["metricTypes"].is_object()), "without metricTypes Looker warns of an old Matomo");
    assert!(reports.iter().all(|r| r["metrics"].is_object() && r["category"].is_string() && r["name"].is_string()));
    // A data request as data.ts builds it for the countries report over a date range.
    let range = format!("{},{}", s.day1, s.day2);
    let page = |offset: u32| {
        looker(
            "UserCountry.getCountry",
            &format!(
                "idSite=1&period=range&date={range}&format_metrics=0&flat=1&filter_limit=2&filter_offset={offset}&showColumns=label,nb_visits&idGoal=0&filter_update_columns_when_show_all_goals=1"
            ),
        )
    };
    let first = call(&s.collector, "/index.php?", page(0)).await;
    let second = call(&s.collector, "/index.php?", page(2)).await;
    assert_eq!(first.as_array().map(Vec::len), Some(2), "{first}");
    assert_eq!(second.as_array().map(Vec::len), Some(1), "{second}: fewer than the limit ends the paging");
    let total: u64 = first
        .as_array()
        .unwrap()
        .iter()
        .chain(second.as_array().unwrap())
        .map(|r| r["nb_visits"].as_u64().unwrap())
        .sum();
    assert_eq!(total, 5, "every visit of both days, once");
    assert!(first[0].get("nb_actions").is_none(), "showColumns keeps only the fields asked for");
    // With a date dimension: per day, keyed by date, each day's rows.
    let by_day = call(
        &s.collector,
        "/index.php?",
        looker(
            "DevicesDetection.getType",
            &format!("idSite=1&period=day&date={range}&format_metrics=0&flat=1&filter_limit=1000&filter_offset=0&showColumns=label,nb_visits"),
        ),
    )
    .await;
    let day2: u64 = by_day[&s.day2].as_array().unwrap().iter().map(|r| r["nb_visits"].as_u64().unwrap()).sum();
    assert_eq!(day2, 3);
    // Its final errors: a disabled plugin and an unknown method are not retried.
    let live =
        call(&s.collector, "/index.php?", looker("Live.getLastVisitsDetails", "idSite=1&period=day&date=yesterday"))
            .await;
    assert!(live["message"].as_str().unwrap().contains("is not enabled"));
    let unknown = call(
        &s.collector,
        "/index.php?",
        looker("VisitorInterest.getNumberOfVisitsPerVisitDuration", "idSite=1&period=day&date=yesterday"),
    )
    .await;
    assert!(unknown["message"].as_str().unwrap().contains("does not exist"));
}

/// `VisitTime.getVisitInformationPerServerTime` over the hand-computed data set: all 24 hours
/// of the site's time zone, in order, the hour of each visit's start holding it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn visits_by_hour_of_the_day() {
    let s = crate::stats::seed_with("[[sites]]\nid = 1\ndomains = [\"example.org\"]\n").await;
    let token = crate::stats::token_for(&s.collector, 1);
    let hours = call(
        &s.collector,
        &format!("/index.php?module=API&method=VisitTime.getVisitInformationPerServerTime&idSite=1&period=range&date=previous2&format=json&token_auth={token}&showColumns=nb_visits"),
        None,
    )
    .await;
    let hours = hours.as_array().unwrap();
    assert_eq!(hours.len(), 24);
    let labels: Vec<&str> = hours.iter().map(|h| h["label"].as_str().unwrap()).collect();
    assert_eq!(labels[..3], ["0", "1", "2"]);
    let visits: u64 = hours.iter().map(|h| h["nb_visits"].as_u64().unwrap()).sum();
    assert_eq!(visits, 5, "every visit of both days in the hour it started: {hours:?}");
    // The same through our own API's dimension.
    let ours: Value = crate::common::json_of(crate::common::http()
        .post(s.collector.url("/api/v1/query"))
        .bearer_auth(&token)
        .json(&json!({"site_id": 1, "metrics": ["visits"], "date_range": [s.day1, s.day2], "dimensions": ["time:hour_of_day"]}))).await;
    let ours: u64 = ours["results"].as_array().unwrap().iter().map(|r| r["metrics"][0].as_u64().unwrap()).sum();
    assert_eq!(ours, 5);
}

/// `Goals.getGoals` and `Goals.get` over the hand-computed data set with the site's goal
/// `Signup`: yesterday B converted (1 of 3 visits); a goal id that names no goal converts
/// nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn goals_are_listed_and_counted() {
    let goals = "goals = [\"Signup\", \"Visit /b\"]";
    let s = crate::stats::seed_with(&format!("[[sites]]\nid = 1\ndomains = [\"example.org\"]\n{goals}\n")).await;
    let token = crate::stats::token_for(&s.collector, 1);
    let api = |query: &str| format!("/index.php?module=API&format=json&idSite=1&token_auth={token}&{query}");
    let goals = call(&s.collector, &api("method=Goals.getGoals"), None).await;
    assert_eq!((goals[0]["idgoal"].as_str(), goals[0]["name"].as_str()), (Some("1"), Some("Signup")));
    assert_eq!(
        (goals[1]["name"].as_str(), goals[1]["match_attribute"].as_str(), goals[1]["pattern"].as_str()),
        (Some("Visit /b"), Some("url"), Some("^/b$"))
    );
    // Yesterday: B signed up; C and D viewed /b (a page goal): three visits of three converted.
    let all = call(&s.collector, &api("method=Goals.get&period=day&date=yesterday"), None).await;
    assert_eq!(all, json!({"nb_conversions": 3, "nb_visits_converted": 3, "revenue": 0, "conversion_rate": "100%"}));
    let signup = call(&s.collector, &api("method=Goals.get&period=day&date=yesterday&idGoal=1"), None).await;
    assert_eq!(signup["nb_conversions"], 1);
    let page = call(&s.collector, &api("method=Goals.get&period=day&date=yesterday&idGoal=2"), None).await;
    assert_eq!(page["nb_conversions"], 2);
    let other = call(&s.collector, &api("method=Goals.get&period=day&date=yesterday&idGoal=7"), None).await;
    assert_eq!(other, json!({"nb_conversions": 0, "nb_visits_converted": 0, "revenue": 0, "conversion_rate": "0%"}));
    // Two days ago A viewed /b too.
    let days =
        call(&s.collector, &api("method=Goals.get&period=day&date=last3&showColumns=nb_conversions"), None).await;
    assert_eq!(days[&s.day1]["nb_conversions"], 1);
    assert_eq!(days[&s.day2]["nb_conversions"], 3);
    // The same goals in our API: by goal, and a goal as a filter.
    let (status, by_goal) = crate::stats::post(
        &s,
        "/api/v1/query",
        Some(&token),
        &json!({"site_id": 1, "metrics": ["visitors", "conversions"], "date_range": "7d", "dimensions": ["event:goal"]}),
    )
    .await;
    assert_eq!(status, 200, "{by_goal}");
    let rows: Vec<(Value, Value)> = by_goal["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["dimensions"].clone(), r["metrics"].clone()))
        .collect();
    assert_eq!(rows, [(json!(["Visit /b"]), json!([3, 3])), (json!(["Signup"]), json!([1, 1]))]);
    let (_, filtered) = crate::stats::post(
        &s,
        "/api/v1/query",
        Some(&token),
        &json!({"site_id": 1, "metrics": ["visits"], "date_range": "7d", "filters": [["is", "event:goal", ["Visit /b"]]]}),
    )
    .await;
    assert_eq!(filtered["results"][0]["metrics"], json!([3]), "{filtered}");
}

/// The Matomo mobile app's request forms (matomo-mobile-2: every parameter in the body of a
/// POST to `index.php`, `segment` also in the URL; its start-up bulk of report metadata,
/// dashboards and the default-report preference; the all-websites screen and a report screen
/// through `API.getProcessedReport`; the live counters through a bulk, read as
/// `response[0][0]`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mobile_apps_requests_are_answered() {
    let s = crate::stats::seed_with("[[sites]]\nid = 1\ndomains = [\"example.org\"]\n").await;
    let token = crate::stats::token_for(&s.collector, 1);
    let encode = |call: &str| call.replace('=', "%3D").replace('&', "%26");
    let body = |rest: &str| Some(format!("module=API&format=json&token_auth={token}&{rest}"));
    let start = call(
        &s.collector,
        "/index.php",
        body(&format!(
            "method=API.getBulkRequest&urls%5B0%5D={}&urls%5B1%5D={}&urls%5B2%5D={}",
            encode("method=API.getReportMetadata&idSite=1&period=day&date=today&hideMetricsDoc=1&showSubtableReports=0&filter_limit=-1"),
            encode("method=Dashboard.getDashboards"),
            encode("method=UsersManager.getUserPreference&preferenceName=defaultReport"),
        )),
    )
    .await;
    assert!(start[0].as_array().is_some_and(|reports| reports.len() > 10), "{start}");
    assert_eq!(start[1], json!([]));
    assert_eq!(start[2], json!({"value": "MultiSites"}));
    let websites = call(
        &s.collector,
        "/index.php",
        body("method=API.getProcessedReport&apiModule=MultiSites&apiAction=getAll&period=day&date=yesterday&enhanced=1&filter_sort_column=nb_visits&filter_limit=-1"),
    )
    .await;
    assert_eq!(websites["reportData"][0]["nb_visits"], 3, "{websites}");
    assert_eq!(websites["reportMetadata"][0]["idsite"], 1);
    assert_eq!(websites["columns"]["nb_visits"], "Visits");
    let segment = "countryCode%3D%3Dfr";
    let countries = call(
        &s.collector,
        &format!("/index.php?segment={segment}"),
        body(&format!("method=API.getProcessedReport&idSite=1&apiModule=UserCountry&apiAction=getCountry&period=day&date=yesterday&filter_limit=40&format_metrics=1&hideMetricsDoc=1&showTimer=0&language=fr&segment={segment}")),
    )
    .await;
    let rows = countries["reportData"].as_array().unwrap_or_else(|| panic!("{countries}\n{}", s.collector.stderr()));
    assert_eq!(rows.len(), 1, "the segment keeps France only: {countries}");
    assert_eq!(rows[0]["label"], "France");
    let live = call(
        &s.collector,
        "/index.php",
        body(&format!(
            "method=API.getBulkRequest&urls%5B0%5D={}&urls%5B1%5D={}",
            encode("method=Live.getCounters&idSite=1&lastMinutes=30"),
            encode("method=Live.getCounters&idSite=1&lastMinutes=1440"),
        )),
    )
    .await;
    assert_eq!(live[0][0]["visits"], 1, "{live}");
    assert!(live[1][0]["visits"].as_u64().unwrap() >= 1);
}
