//! The [`Event`]: what one accepted hit becomes, and the only thing that crosses from the
//! request path to the sink.
//!
//! An `Event` holds no IP address and no raw user agent (docs/privacy.md A1, D3): those stay in the
//! request handler. Its fields are in the exact column order of the `events` table
//! (`schema/0001_events.sql`) because RowBinary, the format the ClickHouse client writes, is
//! positional and unchecked; `tests/it/storage.rs` writes and reads back every column.

use clickhouse::Row;
use serde::{Deserialize, Serialize};
use serde_repr::{Deserialize_repr, Serialize_repr};

/// What a hit records. Stored as ClickHouse `Enum8`; the numbers are part of the schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize_repr, Deserialize_repr)]
#[repr(i8)]
pub enum EventType {
    #[default]
    Pageview = 1,
    /// A custom event (Matomo `e_c`/`e_a`, Plausible's named events).
    Event = 2,
    Outlink = 3,
    Download = 4,
    /// A site-search result page.
    Search = 5,
    /// A goal conversion (Matomo `idgoal`).
    Goal = 6,
    /// A heartbeat: extends the visit, is not a pageview.
    Ping = 7,
    /// An ecommerce order (Matomo `idgoal=0` with `ec_id`). Migration 0006.
    Order = 8,
    /// An ecommerce cart update (Matomo `idgoal=0` without `ec_id`).
    Cart = 9,
    /// A content block was shown (Matomo `c_n` without `c_i`). Migration 0007.
    ContentImpression = 10,
    /// A content block was interacted with (Matomo `c_n` with `c_i`).
    ContentInteraction = 11,
    /// How far a page was read and for how long (Plausible `engagement`). Migration 0009.
    Engagement = 12,
}

/// One row of the `events` table.
#[derive(Debug, Clone, Default, PartialEq, Row, Serialize, Deserialize)]
pub struct Event {
    pub site_id: u32,
    /// Seconds since the Unix epoch, UTC (ClickHouse `DateTime`).
    pub timestamp: u32,
    /// The site's retention when the row was written; part of the partition key.
    pub retention_days: u16,
    /// Salted, rotating visitor hash (docs/privacy.md B1); 0 when not computed.
    pub visitor_id: u64,
    /// Visit (session) id.
    pub visit_id: u64,
    pub event_type: EventType,
    pub event_name: String,
    pub url_host: String,
    /// Path, plus only the query parameters the site allows.
    pub url_path: String,
    pub page_title: String,
    /// Referrer host only (docs/privacy.md D2).
    pub referrer_host: String,
    pub channel: String,
    pub source: String,
    pub utm_source: String,
    pub utm_medium: String,
    pub utm_campaign: String,
    pub utm_term: String,
    pub utm_content: String,
    pub country_code: String,
    pub region_code: String,
    pub region_name: String,
    pub city: String,
    pub browser: String,
    pub browser_version: String,
    pub os: String,
    pub os_version: String,
    pub device: String,
    pub screen_class: String,
    pub language: String,
    pub event_category: String,
    pub event_action: String,
    pub event_value: f64,
    pub goal_id: u32,
    pub revenue: f64,
    pub search_keyword: String,
    pub search_category: String,
    /// A site search's result count as the tracker sent it; [`SEARCH_COUNT_UNKNOWN`] when it
    /// sent none (0 is a search without results).
    pub search_count: u32,
    pub link_url: String,
    pub prop_keys: Vec<String>,
    pub prop_values: Vec<String>,
    /// 1 for events that do not count as interaction (do not end a bounce). Migration 0003.
    pub non_interactive: u8,
    /// Ecommerce (migration 0006): the order's id, its amounts, and its items (or the cart's),
    /// one array per item field, in the same order.
    pub ec_order_id: String,
    pub ec_subtotal: f64,
    pub ec_tax: f64,
    pub ec_shipping: f64,
    pub ec_discount: f64,
    pub ec_item_skus: Vec<String>,
    pub ec_item_names: Vec<String>,
    pub ec_item_categories: Vec<String>,
    pub ec_item_prices: Vec<f64>,
    pub ec_item_quantities: Vec<u32>,
    /// Content tracking (migration 0007): the block's piece and its target (host + path).
    pub content_piece: String,
    pub content_target: String,
    /// Migration 0008: the tracker's page-view id (which the page's later actions carry), the
    /// product or category a shop page shows, and the page's performance timings (ms).
    pub page_view_id: String,
    pub product_sku: String,
    pub product_name: String,
    pub product_category: String,
    pub product_price: f64,
    /// `pf_net`, `pf_srv`, `pf_tfr`, `pf_dm1`, `pf_dm2`, `pf_onl`.
    pub perf_network_ms: u32,
    pub perf_server_ms: u32,
    pub perf_transfer_ms: u32,
    pub perf_dom_processing_ms: u32,
    pub perf_dom_completion_ms: u32,
    pub perf_on_load_ms: u32,
    /// Migration 0009: an engagement's scroll depth (0-100 %, 255 unknown) and engaged time,
    /// and a revenue's currency (ISO 4217, as sent).
    pub scroll_depth: u8,
    pub engaged_ms: u32,
    pub revenue_currency: String,
}

impl Event {
    /// The performance timings, in column order.
    fn perf_ms(&mut self) -> [&mut u32; 6] {
        [
            &mut self.perf_network_ms,
            &mut self.perf_server_ms,
            &mut self.perf_transfer_ms,
            &mut self.perf_dom_processing_ms,
            &mut self.perf_dom_completion_ms,
            &mut self.perf_on_load_ms,
        ]
    }
}

/// How a visit arrived: stamped on every event of the visit from its first hit, so reports by
/// channel, source or campaign count visits, not page loads (later pages of a visit have the
/// site itself as referrer).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Acquisition {
    pub referrer_host: String,
    pub channel: String,
    pub source: String,
    pub utm_source: String,
    pub utm_medium: String,
    pub utm_campaign: String,
    pub utm_term: String,
    pub utm_content: String,
}

impl Acquisition {
    /// Writes the acquisition columns of `event`.
    pub fn apply(&self, event: &mut Event) {
        event.referrer_host.clone_from(&self.referrer_host);
        event.channel.clone_from(&self.channel);
        event.source.clone_from(&self.source);
        event.utm_source.clone_from(&self.utm_source);
        event.utm_medium.clone_from(&self.utm_medium);
        event.utm_campaign.clone_from(&self.utm_campaign);
        event.utm_term.clone_from(&self.utm_term);
        event.utm_content.clone_from(&self.utm_content);
    }
}

/// The columns [`Event::write_row_binary`] writes, in order (for `INSERT INTO events(...)`).
/// The `search_count` of a site search whose result count was not sent (Matomo's NULL).
pub const SEARCH_COUNT_UNKNOWN: u32 = u32::MAX;

pub(crate) const COLUMNS: &str = "site_id, timestamp, retention_days, visitor_id, visit_id, event_type, event_name, url_host, \
     url_path, page_title, referrer_host, channel, source, utm_source, utm_medium, utm_campaign, utm_term, \
     utm_content, country_code, region_code, region_name, city, browser, browser_version, os, os_version, device, \
     screen_class, language, event_category, event_action, event_value, goal_id, revenue, search_keyword, \
     search_category, search_count, link_url, prop_keys, prop_values, non_interactive, ec_order_id, ec_subtotal, \
     ec_tax, ec_shipping, ec_discount, ec_item_skus, ec_item_names, ec_item_categories, ec_item_prices, \
     ec_item_quantities, content_piece, content_target, page_view_id, product_sku, product_name, product_category, \
     product_price, perf_network_ms, perf_server_ms, perf_transfer_ms, perf_dom_processing_ms, perf_dom_completion_ms, \
     perf_on_load_ms, scroll_depth, engaged_ms, revenue_currency";

/// Why bytes are not a RowBinary event row.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an event row: {0}")]
pub struct RowBinaryError(&'static str);

/// The `String` columns from `event_name` to `event_action`, in column order, borrowed with
/// `&` or `&mut`: one list for the writer and the reader.
macro_rules! text_columns {
    ($event:ident, $($borrow:tt)+) => {
        [
            $($borrow)+ $event.event_name,
            $($borrow)+ $event.url_host,
            $($borrow)+ $event.url_path,
            $($borrow)+ $event.page_title,
            $($borrow)+ $event.referrer_host,
            $($borrow)+ $event.channel,
            $($borrow)+ $event.source,
            $($borrow)+ $event.utm_source,
            $($borrow)+ $event.utm_medium,
            $($borrow)+ $event.utm_campaign,
            $($borrow)+ $event.utm_term,
            $($borrow)+ $event.utm_content,
            $($borrow)+ $event.country_code,
            $($borrow)+ $event.region_code,
            $($borrow)+ $event.region_name,
            $($borrow)+ $event.city,
            $($borrow)+ $event.browser,
            $($borrow)+ $event.browser_version,
            $($borrow)+ $event.os,
            $($borrow)+ $event.os_version,
            $($borrow)+ $event.device,
            $($borrow)+ $event.screen_class,
            $($borrow)+ $event.language,
            $($borrow)+ $event.event_category,
            $($borrow)+ $event.event_action,
        ]
    };
}

impl Event {
    /// Appends this event as one RowBinary row of [`COLUMNS`]: the bytes ClickHouse takes, and
    /// the spool's record format, so the writer streams spooled bytes into an INSERT without
    /// decoding them. (A field left out fails `the_column_list_names_every_field_in_order` or
    /// the round trips here and in `tests/it/storage.rs`.)
    pub fn write_row_binary(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.site_id.to_le_bytes());
        out.extend_from_slice(&self.timestamp.to_le_bytes());
        out.extend_from_slice(&self.retention_days.to_le_bytes());
        out.extend_from_slice(&self.visitor_id.to_le_bytes());
        out.extend_from_slice(&self.visit_id.to_le_bytes());
        out.push(self.event_type as i8 as u8);
        for text in text_columns!(self, &) {
            write_string(out, text);
        }
        out.extend_from_slice(&self.event_value.to_le_bytes());
        out.extend_from_slice(&self.goal_id.to_le_bytes());
        out.extend_from_slice(&self.revenue.to_le_bytes());
        write_string(out, &self.search_keyword);
        write_string(out, &self.search_category);
        out.extend_from_slice(&self.search_count.to_le_bytes());
        write_string(out, &self.link_url);
        for array in [&self.prop_keys, &self.prop_values] {
            write_length(out, array.len());
            for text in array {
                write_string(out, text);
            }
        }
        out.push(self.non_interactive);
        write_string(out, &self.ec_order_id);
        for amount in [self.ec_subtotal, self.ec_tax, self.ec_shipping, self.ec_discount] {
            out.extend_from_slice(&amount.to_le_bytes());
        }
        for array in [&self.ec_item_skus, &self.ec_item_names, &self.ec_item_categories] {
            write_length(out, array.len());
            for text in array {
                write_string(out, text);
            }
        }
        write_length(out, self.ec_item_prices.len());
        for price in &self.ec_item_prices {
            out.extend_from_slice(&price.to_le_bytes());
        }
        write_length(out, self.ec_item_quantities.len());
        for quantity in &self.ec_item_quantities {
            out.extend_from_slice(&quantity.to_le_bytes());
        }
        write_string(out, &self.content_piece);
        write_string(out, &self.content_target);
        for text in [&self.page_view_id, &self.product_sku, &self.product_name, &self.product_category] {
            write_string(out, text);
        }
        out.extend_from_slice(&self.product_price.to_le_bytes());
        for ms in [
            self.perf_network_ms,
            self.perf_server_ms,
            self.perf_transfer_ms,
            self.perf_dom_processing_ms,
            self.perf_dom_completion_ms,
            self.perf_on_load_ms,
        ] {
            out.extend_from_slice(&ms.to_le_bytes());
        }
        out.push(self.scroll_depth);
        out.extend_from_slice(&self.engaged_ms.to_le_bytes());
        write_string(out, &self.revenue_currency);
    }

    /// Reads one RowBinary row written by [`Event::write_row_binary`] from the front of `input`
    /// and advances it (for dead-letter files and tests; the hot path never decodes).
    pub fn read_row_binary(input: &mut &[u8]) -> Result<Event, RowBinaryError> {
        let mut r = RowReader(input);
        let mut event = Event {
            site_id: r.u32()?,
            timestamp: r.u32()?,
            retention_days: u16::from_le_bytes(r.array()?),
            visitor_id: r.u64()?,
            visit_id: r.u64()?,
            event_type: EventType::from_i8(r.array::<1>()?[0] as i8).ok_or(RowBinaryError("unknown event type"))?,
            ..Event::default()
        };
        for text in text_columns!(event, &mut) {
            *text = r.string()?;
        }
        event.event_value = f64::from_le_bytes(r.array()?);
        event.goal_id = r.u32()?;
        event.revenue = f64::from_le_bytes(r.array()?);
        event.search_keyword = r.string()?;
        event.search_category = r.string()?;
        event.search_count = r.u32()?;
        event.link_url = r.string()?;
        for array in [&mut event.prop_keys, &mut event.prop_values] {
            let count = r.length()?;
            for _ in 0..count {
                array.push(r.string()?);
            }
        }
        event.non_interactive = r.array::<1>()?[0];
        event.ec_order_id = r.string()?;
        for amount in [&mut event.ec_subtotal, &mut event.ec_tax, &mut event.ec_shipping, &mut event.ec_discount] {
            *amount = f64::from_le_bytes(r.array()?);
        }
        for array in [&mut event.ec_item_skus, &mut event.ec_item_names, &mut event.ec_item_categories] {
            let count = r.length()?;
            for _ in 0..count {
                array.push(r.string()?);
            }
        }
        let count = r.length()?;
        for _ in 0..count {
            event.ec_item_prices.push(f64::from_le_bytes(r.array()?));
        }
        let count = r.length()?;
        for _ in 0..count {
            event.ec_item_quantities.push(r.u32()?);
        }
        event.content_piece = r.string()?;
        event.content_target = r.string()?;
        for text in
            [&mut event.page_view_id, &mut event.product_sku, &mut event.product_name, &mut event.product_category]
        {
            *text = r.string()?;
        }
        event.product_price = f64::from_le_bytes(r.array()?);
        for ms in event.perf_ms() {
            *ms = r.u32()?;
        }
        event.scroll_depth = r.array::<1>()?[0];
        event.engaged_ms = r.u32()?;
        event.revenue_currency = r.string()?;
        Ok(event)
    }
}

impl EventType {
    fn from_i8(value: i8) -> Option<EventType> {
        use EventType::*;
        [
            Pageview,
            Event,
            Outlink,
            Download,
            Search,
            Goal,
            Ping,
            Order,
            Cart,
            ContentImpression,
            ContentInteraction,
            Engagement,
        ]
        .into_iter()
        .find(|t| *t as i8 == value)
    }
}

/// RowBinary's length prefix: unsigned LEB128.
fn write_length(out: &mut Vec<u8>, mut len: usize) {
    while len >= 0x80 {
        out.push((len as u8) | 0x80);
        len >>= 7;
    }
    out.push(len as u8);
}

fn write_string(out: &mut Vec<u8>, text: &str) {
    write_length(out, text.len());
    out.extend_from_slice(text.as_bytes());
}

struct RowReader<'a, 'b>(&'a mut &'b [u8]);

impl RowReader<'_, '_> {
    fn bytes(&mut self, n: usize) -> Result<&[u8], RowBinaryError> {
        if self.0.len() < n {
            return Err(RowBinaryError("truncated"));
        }
        let (head, rest) = self.0.split_at(n);
        *self.0 = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], RowBinaryError> {
        Ok(self.bytes(N)?.try_into().expect("N bytes"))
    }

    fn u32(&mut self) -> Result<u32, RowBinaryError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    fn u64(&mut self) -> Result<u64, RowBinaryError> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    fn length(&mut self) -> Result<usize, RowBinaryError> {
        let mut len = 0usize;
        for shift in (0..64).step_by(7) {
            let byte = self.array::<1>()?[0];
            len |= usize::from(byte & 0x7f) << shift;
            if byte < 0x80 {
                return Ok(len);
            }
        }
        Err(RowBinaryError("length prefix too long"))
    }

    fn string(&mut self) -> Result<String, RowBinaryError> {
        let len = self.length()?;
        let bytes = self.bytes(len)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| RowBinaryError("a string is not UTF-8"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every field set, every text column to a value of its own.
    fn full_event() -> Event {
        let mut event = Event {
            site_id: 7,
            timestamp: 1_790_000_000,
            retention_days: 180,
            visitor_id: u64::MAX,
            visit_id: 42,
            event_type: EventType::Goal,
            url_path: "/é".repeat(100),
            city: "Lyon".into(),
            event_value: -1.5,
            goal_id: 3,
            revenue: 9.75,
            search_count: 2,
            prop_keys: vec!["a".into(), String::new()],
            prop_values: vec!["1".into(), "x".repeat(300)],
            non_interactive: 1,
            ec_order_id: "A-10".into(),
            ec_subtotal: 25.5,
            ec_tax: 4.25,
            ec_shipping: 5.0,
            ec_discount: 1.5,
            ec_item_skus: vec!["SKU1".into(), "SKU2".into()],
            ec_item_names: vec!["Mug".into(), "Tea".into()],
            ec_item_categories: vec!["Kitchen".into(), "Food/Tea".into()],
            ec_item_prices: vec![12.5, 6.5],
            ec_item_quantities: vec![1, 2],
            content_piece: "banner.png".into(),
            content_target: "example.org/sale".into(),
            page_view_id: "a1b2c3".into(),
            product_sku: "SKU1".into(),
            product_name: "Mug".into(),
            product_category: "Kitchen".into(),
            product_price: 12.5,
            perf_network_ms: 1,
            perf_server_ms: 2,
            perf_transfer_ms: 3,
            perf_dom_processing_ms: 4,
            perf_dom_completion_ms: 5,
            perf_on_load_ms: 6,
            scroll_depth: 73,
            engaged_ms: 12_345,
            revenue_currency: "EUR".into(),
            search_keyword: "kw".into(),
            search_category: "cat".into(),
            link_url: "example.org/x".into(),
            ..Event::default()
        };
        for (i, text) in text_columns!(event, &mut).into_iter().enumerate() {
            if text.is_empty() {
                *text = format!("column {i}");
            }
        }
        event
    }

    #[test]
    fn row_binary_round_trips_and_reads_rows_back_to_back() {
        let (a, b) = (full_event(), Event { site_id: 1, ..Event::default() });
        let mut bytes = Vec::new();
        a.write_row_binary(&mut bytes);
        b.write_row_binary(&mut bytes);
        let mut rest = bytes.as_slice();
        assert_eq!(Event::read_row_binary(&mut rest), Ok(a));
        assert_eq!(Event::read_row_binary(&mut rest), Ok(b));
        assert!(rest.is_empty());
    }

    #[test]
    fn row_binary_lengths_are_leb128_and_damage_is_an_error() {
        let mut out = Vec::new();
        write_length(&mut out, 300);
        assert_eq!(out, [0xac, 0x02]);
        let mut bytes = Vec::new();
        full_event().write_row_binary(&mut bytes);
        bytes.pop();
        assert_eq!(Event::read_row_binary(&mut bytes.as_slice()), Err(RowBinaryError("truncated")));
        let mut bad_type = Vec::new();
        full_event().write_row_binary(&mut bad_type);
        bad_type[26] = 99;
        assert_eq!(Event::read_row_binary(&mut bad_type.as_slice()), Err(RowBinaryError("unknown event type")));
    }

    #[test]
    fn the_column_list_names_every_field_in_order() {
        let named: Vec<&str> = COLUMNS.split(',').map(str::trim).collect();
        assert_eq!(named, <Event as clickhouse::Row>::COLUMN_NAMES);
    }
}
