//! The [`Event`]: what one accepted hit becomes, and the only thing that crosses from the
//! request path to the sink.
//!
//! An `Event` holds no IP address and no raw user agent (PRIVACY.md A1, D3): those stay in the
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
}

/// One row of the `events` table.
#[derive(Debug, Clone, Default, PartialEq, Row, Serialize, Deserialize)]
pub struct Event {
    pub site_id: u32,
    /// Seconds since the Unix epoch, UTC (ClickHouse `DateTime`).
    pub timestamp: u32,
    /// The site's retention when the row was written; part of the partition key.
    pub retention_days: u16,
    /// Salted, rotating visitor hash (PRIVACY.md B1); 0 when not computed.
    pub visitor_id: u64,
    /// Visit (session) id.
    pub visit_id: u64,
    pub event_type: EventType,
    pub event_name: String,
    pub url_host: String,
    /// Path, plus only the query parameters the site allows.
    pub url_path: String,
    pub page_title: String,
    /// Referrer host only (PRIVACY.md D2).
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
    pub search_count: u32,
    pub link_url: String,
    pub prop_keys: Vec<String>,
    pub prop_values: Vec<String>,
    /// 1 for events that do not count as interaction (do not end a bounce). Migration 0003.
    pub non_interactive: u8,
}

/// How a visit arrived: stamped on every event of the visit from its first hit, so reports by
/// channel, source or campaign count visits, not page loads (later pages of a visit have the
/// site itself as referrer).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
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
    /// Moves the acquisition columns out of `event` (no copies; they are written back with
    /// [`Acquisition::apply`]).
    pub fn take(event: &mut Event) -> Acquisition {
        use std::mem::take;
        Acquisition {
            referrer_host: take(&mut event.referrer_host),
            channel: take(&mut event.channel),
            source: take(&mut event.source),
            utm_source: take(&mut event.utm_source),
            utm_medium: take(&mut event.utm_medium),
            utm_campaign: take(&mut event.utm_campaign),
            utm_term: take(&mut event.utm_term),
            utm_content: take(&mut event.utm_content),
        }
    }

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
