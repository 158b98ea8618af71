//! Every column of `events` written the way the writer writes it (the spool's RowBinary bytes,
//! `Event::write_row_binary`) and read back through the `clickhouse` crate's `Event` row:
//! RowBinary is positional, so a column out of order in the encoder, the struct or the schema
//! fails here.

use mesure::event::{Event, EventType};
use std::time::Duration;

use mesure::store::Store;
use mesure::store::migrations::MIGRATIONS;

use crate::common::{clickhouse, unique_database};

#[tokio::test]
async fn events_round_trip_every_column() {
    let ch = clickhouse();
    let db = unique_database("roundtrip");
    let config = ch.config(&db);
    let store = Store::new(&config);
    store.migrate(MIGRATIONS).await.unwrap();

    let mut i = 0u32;
    let mut s = |name: &str| {
        i += 1;
        format!("{name}-{i}")
    };
    let event = Event {
        site_id: 3,
        timestamp: 1_790_000_000,
        retention_days: 395,
        visitor_id: u64::MAX - 1,
        visit_id: 1234567890123,
        event_type: EventType::Download,
        event_name: s("name"),
        url_host: s("host"),
        url_path: s("/path"),
        page_title: s("title é"),
        referrer_host: s("ref"),
        channel: s("channel"),
        source: s("source"),
        utm_source: s("us"),
        utm_medium: s("um"),
        utm_campaign: s("uc"),
        utm_term: s("ut"),
        utm_content: s("uco"),
        country_code: "FR".into(),
        region_code: s("rc"),
        region_name: s("rn"),
        city: s("city"),
        browser: s("browser"),
        browser_version: s("bv"),
        os: s("os"),
        os_version: s("ov"),
        device: s("device"),
        screen_class: s("screen"),
        language: s("lang"),
        event_category: s("cat"),
        event_action: s("act"),
        event_value: 1.5,
        goal_id: 9,
        revenue: 12.25,
        search_keyword: s("kw"),
        search_category: s("scat"),
        search_count: 17,
        link_url: s("link"),
        prop_keys: vec!["a".into(), "b".into()],
        prop_values: vec!["1".into(), "2".into()],
        non_interactive: 1,
        ec_order_id: s("order"),
        ec_subtotal: 25.5,
        ec_tax: 4.25,
        ec_shipping: 5.0,
        ec_discount: 1.5,
        ec_item_skus: vec![s("sku1"), s("sku2")],
        ec_item_names: vec![s("name1"), s("name2")],
        ec_item_categories: vec![s("cat1"), s("cat2")],
        ec_item_prices: vec![12.5, 6.5],
        ec_item_quantities: vec![1, 2],
        content_piece: s("piece"),
        content_target: s("target"),
        page_view_id: s("pv"),
        product_sku: s("sku"),
        product_name: s("product"),
        product_category: s("category"),
        product_price: 9.5,
        perf_network_ms: 10,
        perf_server_ms: 20,
        perf_transfer_ms: 30,
        perf_dom_processing_ms: 40,
        perf_dom_completion_ms: 50,
        perf_on_load_ms: 60,
        scroll_depth: 64,
        engaged_ms: 4_200,
        revenue_currency: "EUR".into(),
    };
    // Written as the writer writes it (our encoder, the store's INSERT), read back with the
    // crate's decoder.
    let mut rows = Vec::new();
    event.write_row_binary(&mut rows);
    let mut insert = store.insert_events(Duration::from_secs(10), Duration::from_secs(30));
    insert.send(rows.into()).await.unwrap();
    insert.end().await.unwrap();
    let client = ch.client(&config);

    let back: Vec<Event> = client.query("SELECT ?fields FROM events").fetch_all().await.unwrap();
    let city = event.city.clone();
    assert_eq!(back, vec![event]);
    let kind = ch.query(&format!("SELECT event_type, city FROM {db}.events FORMAT TSV")).await;
    assert_eq!(kind.trim(), format!("download\t{city}"));
}
