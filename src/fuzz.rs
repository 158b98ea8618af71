//! Property-based fuzzing (proptest) of every parser on the request path: Matomo parameters,
//! single and bulk, Plausible events, `cdt`, the forwarding headers, client hints, stats
//! requests and CSV cells. Inputs are both raw (any string) and structured (real parameter
//! names with hostile values), so the fuzzer reaches past the first "unknown key".
//!
//! Each property says what must hold for every input: no panic, and the promises that make the
//! request path safe: one request makes a bounded number of events, every stored string is
//! bounded, user values never reach SQL text. `cargo test` runs 256 cases per property;
//! `scripts/test.sh` runs more (`PROPTEST_CASES`). A failure is saved by proptest under
//! `proptest-regressions/` and replayed first on every later run: commit that file with the fix.

use std::net::SocketAddr;

use hyper::HeaderMap;
use hyper::header::HeaderValue;
use proptest::prelude::*;

use crate::enrich::client_hints::ClientHints;
use crate::event::Event;
use crate::http::Params;
use crate::pipeline::Outcome;
use crate::pipeline::tests::{FIREFOX, Harness};
use crate::privacy::client_ip::{ClientIpHeader, TrustedProxies};
use crate::query::request::StatsRequest;

/// Parameter names of Matomo's tracking API (and a few that are not).
const MATOMO_KEYS: &str = "idsite rec url urlref action_name _id _idts cid cdt cdo cip token_auth ua uadata lang res e_c \
     e_a e_n e_v idgoal revenue ec_id ec_st ec_tx ec_sh ec_dt ec_items search search_cat \
     search_count link download c_n c_p c_t c_i ping new_visit pv_id _pks _pkn _pkc _pkp pf_net \
     pf_srv pf_tfr pf_dm1 pf_dm2 pf_onl dimension1 dimension999 cvar _cvar ca ma_id bots send_image \
     nonsense";

/// Values that reach corners: empty, huge, numbers at their limits, JSON, URLs, Unicode.
fn hostile_value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        Just(String::new()),
        Just("1".to_string()),
        Just("0".to_string()),
        Just("-1".to_string()),
        Just("18446744073709551616".to_string()),
        Just("1e308".to_string()),
        Just("NaN".to_string()),
        Just("https://example.org/a?b=c#d".to_string()),
        Just("https://shop.example.net/".to_string()),
        Just("[[\"SKU\",\"name\",[\"a\",\"b\"],12.5,2]]".to_string()),
        Just("{\"platform\":\"Windows\",\"platformVersion\":\"15.0.0\"}".to_string()),
        Just("2026-11-30T10:00:00.123Z".to_string()),
        (0usize..5000).prop_map(|n| "é".repeat(n)),
        (0usize..5000).prop_map(|n| format!("https://example.org/{}", "a/".repeat(n))),
    ]
}

fn encode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// A Matomo query string of real parameter names with hostile values.
fn matomo_query() -> impl Strategy<Value = String> {
    prop::collection::vec(
        (prop::sample::select(MATOMO_KEYS.split_whitespace().collect::<Vec<_>>()), hostile_value()),
        0..24,
    )
    .prop_map(|pairs| {
        let mut query = String::from("rec=1&idsite=1&url=https%3A%2F%2Fexample.org%2F");
        for (key, value) in pairs {
            query.push('&');
            query.push_str(key);
            query.push('=');
            query.push_str(&encode(&value));
        }
        query
    })
}

fn browser_headers() -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("user-agent", HeaderValue::from_static(FIREFOX));
    headers
}

/// What every stored event must respect, whatever the request said.
fn bounded(event: &Event) {
    assert!(event.url_host.len() <= 253, "host of {} bytes", event.url_host.len());
    assert!(event.url_path.chars().count() <= 1024 + 512, "path of {} chars", event.url_path.chars().count());
    assert!(event.link_url.chars().count() <= 253 + 1024);
    assert!(event.page_title.chars().count() <= 512);
    for text in [&event.event_name, &event.event_category, &event.event_action, &event.search_keyword] {
        assert!(text.chars().count() <= 512, "{} chars", text.chars().count());
    }
    assert!(event.prop_keys.len() <= 30 && event.prop_keys.len() == event.prop_values.len());
    assert!(event.ec_item_skus.len() <= 100);
}

fn events(outcome: Outcome) -> Vec<Event> {
    match outcome {
        Outcome::Objected(_) => Vec::new(),
        Outcome::Hits(results) => results.into_iter().flatten().collect(),
    }
}

proptest! {
    #[test]
    fn any_query_string_parses_or_is_refused(query in any::<String>()) {
        if let Ok(params) = Params::parse(&query) {
            for (key, value) in params.iter() {
                prop_assert!(key.len() + value.len() <= query.len() * 3 + 3);
            }
        }
    }

    #[test]
    fn any_matomo_request_makes_at_most_one_bounded_event(query in matomo_query()) {
        let harness = Harness::new();
        if Params::parse(&query).is_ok() {
            let made = events(harness.matomo(&query, &browser_headers()));
            prop_assert!(made.len() <= 1);
            made.iter().for_each(bounded);
        }
    }

    #[test]
    fn any_bulk_request_makes_at_most_one_event_per_item(items in prop::collection::vec(matomo_query(), 0..20), token in prop::option::of(hostile_value())) {
        let harness = Harness::new();
        let items: Vec<&str> = items.iter().map(String::as_str).filter(|q| Params::parse(q).is_ok()).collect();
        let made = events(harness.matomo_bulk(&items, token.as_deref(), &browser_headers()));
        prop_assert!(made.len() <= items.len());
        made.iter().for_each(bounded);
    }

    #[test]
    fn any_plausible_body_makes_at_most_ten_bounded_events(
        name in hostile_value(), url in hostile_value(), domain in hostile_value(), referrer in hostile_value(),
        props in prop::collection::vec((hostile_value(), hostile_value()), 0..40), revenue in hostile_value(),
        repeated in 0usize..30,
    ) {
        let harness = Harness::new();
        let props: serde_json::Map<String, serde_json::Value> =
            props.into_iter().map(|(k, v)| (k, serde_json::Value::String(v))).collect();
        let domain = if repeated > 0 { vec!["example.org"; repeated].join(",") } else { domain };
        let body = serde_json::json!({"n": name, "u": url, "d": domain, "r": referrer, "p": props, "$": revenue}).to_string();
        if let Ok(outcome) = harness.plausible(&body, &browser_headers()) {
            let made = events(outcome);
            prop_assert!(made.len() <= crate::ingest::plausible::MAX_DOMAINS);
            made.iter().for_each(bounded);
        }
    }

    #[test]
    fn any_plausible_bytes_are_refused_or_bounded(body in any::<String>()) {
        let harness = Harness::new();
        if let Ok(outcome) = harness.plausible(&body, &browser_headers()) {
            events(outcome).iter().for_each(bounded);
        }
    }

    #[test]
    fn any_piano_body_makes_at_most_one_bounded_event_per_event(
        names in prop::collection::vec(hostile_value(), 0..8),
        props in prop::collection::vec((hostile_value(), hostile_value()), 0..36),
        url in hostile_value(), site in hostile_value(), idclient in prop::option::of(hostile_value()),
    ) {
        let harness = Harness::new();
        let mut data: serde_json::Map<String, serde_json::Value> =
            props.into_iter().map(|(k, v)| (k, serde_json::Value::String(v))).collect();
        data.insert("event_url_full".into(), serde_json::Value::String(url));
        let events_sent: Vec<serde_json::Value> =
            names.iter().map(|name| serde_json::json!({"name": name, "data": data})).collect();
        let body = serde_json::json!({"events": events_sent}).to_string();
        if let Ok(outcome) = harness.piano(&site, idclient.as_deref(), &body, &browser_headers()) {
            let made = events(outcome);
            prop_assert!(made.len() <= names.len().min(crate::ingest::piano::MAX_EVENTS));
            made.iter().for_each(bounded);
        }
    }

    #[test]
    fn any_xiti_query_is_refused_or_bounded(query in matomo_query(), label in hostile_value()) {
        let harness = Harness::new();
        let query = format!("s=123456&p={}&{query}", form_urlencoded::byte_serialize(label.as_bytes()).collect::<String>());
        if Params::parse(&query).is_ok() {
            events(harness.xiti(&query, &browser_headers())).iter().for_each(bounded);
        }
    }

    #[test]
    fn any_cdt_is_a_time_or_nothing(text in prop_oneof![any::<String>(), hostile_value()]) {
        if let Some(time) = crate::ingest::matomo::parse_cdt(&text) {
            prop_assert!(time < 1 << 40, "{text:?} → {time}");
        }
    }

    #[test]
    fn any_forwarding_header_leaves_an_address(values in prop::collection::vec(hostile_value(), 0..6), which in 0usize..3) {
        let names = ["x-forwarded-for", "forwarded", "cf-connecting-ip"];
        let header = match which {
            0 => ClientIpHeader::XForwardedFor,
            1 => ClientIpHeader::Forwarded,
            _ => ClientIpHeader::parse("cf-connecting-ip").unwrap(),
        };
        let mut headers = HeaderMap::new();
        for (i, value) in values.iter().enumerate() {
            if let Ok(value) = HeaderValue::from_str(value) {
                headers.append(names[(which + i) % 3], value);
            }
        }
        let proxies = TrustedProxies::new(vec!["127.0.0.0/8".parse().unwrap()]).with_header(header);
        let peer: SocketAddr = "127.0.0.1:1".parse().unwrap();
        // Any value: an address comes out (the peer's when the header says nothing usable).
        let _ = proxies.client(peer, &headers);
        prop_assert!(proxies.client_within(peer, &headers, &["0.0.0.0/0".parse().unwrap(), "::/0".parse().unwrap()]));
    }

    #[test]
    fn any_client_hints_are_read_or_ignored(json in prop_oneof![any::<String>(), hostile_value()], platform in hostile_value(), brands in hostile_value()) {
        let _ = ClientHints::from_uadata(&json);
        let mut headers = HeaderMap::new();
        if let (Ok(platform), Ok(brands)) = (HeaderValue::from_str(&platform), HeaderValue::from_str(&brands)) {
            headers.insert("sec-ch-ua-platform", platform);
            headers.insert("sec-ch-ua", brands);
        }
        let _ = ClientHints::from_headers(&headers);
    }

    #[test]
    fn any_stats_request_is_refused_or_built_with_bound_values(
        metrics in prop::collection::vec(prop::sample::select(vec!["visitors", "bounce_rate", "load_time", "total_revenue", "quantity", "nope"]), 0..4),
        dimensions in prop::collection::vec(prop::sample::select(vec!["event:page", "visit:country", "event:product_sku", "time:day", "event:props:x", "visit:entry_page", "nope"]), 0..4),
        filters in prop::collection::vec((prop::sample::select(vec!["is", "is_not", "contains", "like"]), prop::sample::select(vec!["event:page", "visit:source", "event:product_name", "visit:exit_page", "event:props:y"]), prop::collection::vec(hostile_value(), 0..3)), 0..6),
        range in prop_oneof![Just(serde_json::json!("7d")), Just(serde_json::json!("realtime")), hostile_value().prop_map(serde_json::Value::String)],
        raw in any::<String>(),
    ) {
        let _ = StatsRequest::from_json(raw.as_bytes());
        let filters: Vec<serde_json::Value> = filters.iter().map(|(op, d, v)| serde_json::json!([op, d, v])).collect();
        let body = serde_json::json!({"site_id": 1, "metrics": metrics, "dimensions": dimensions, "filters": filters, "date_range": range});
        if let Ok(request) = StatsRequest::from_json(body.to_string().as_bytes()) {
            let site = crate::config::SiteConfig::with_defaults(1, "example.org");
            let scope = crate::query::Scope { site_id: 1, from: 0, to: 100 };
            let sql = crate::query::sql::build(&request, &site, &scope).expect("a parsed request is computed");
            prop_assert_eq!(sql.text.matches('?').count(), sql.params.len());
            // Every filter value travels as a bound parameter.
            for filter in request.filters.iter().flat_map(|t| t.leaves()) {
                for value in &filter.values {
                    prop_assert!(sql.params.contains(&crate::store::sql::Param::Str(value.clone())), "{value:?} not bound");
                }
            }
        }
    }

    #[test]
    fn any_csv_cell_is_inert(value in prop_oneof![any::<String>(), hostile_value()]) {
        let cell = crate::api::own::csv_cell(&value);
        // What a spreadsheet reads: the cell unquoted.
        let read = match cell.strip_prefix('"').and_then(|c| c.strip_suffix('"')) {
            Some(quoted) => quoted.replace("\"\"", "\""),
            None => cell.clone(),
        };
        prop_assert!(!read.starts_with(['=', '+', '-', '@', '\t', '\r']), "{cell:?}");
        prop_assert!(read == value || read == format!("'{value}"), "{value:?} became {read:?}");
    }
}
