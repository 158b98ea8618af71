//! The read side: every stats query goes through a [`Scope`], which bounds it to one site and to
//! the part of the requested time range that is inside the site's retention. Expired rows are
//! therefore never returned, even before the retention job has deleted them (PRIVACY.md E1).

pub mod request;
pub mod stats;

use clickhouse::Row;
use clickhouse::query::Query;
use serde::Deserialize;

use crate::config::SiteConfig;
use crate::store::retention::read_floor;

/// One site and a half-open time range `[from, to)` in Unix seconds, clamped to retention.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scope {
    pub site_id: u32,
    pub from: u64,
    pub to: u64,
}

impl Scope {
    /// The range `[from, to)` of `site`, starting no earlier than its retention allows at `now`.
    pub fn new(site: &SiteConfig, from: u64, to: u64, now: u64) -> Scope {
        let floor = read_floor(site.retention.days(), now);
        let from = from.max(floor);
        Scope { site_id: site.id, from, to: to.max(from) }
    }

    /// The condition every read of `events` carries; bind it with [`Scope::bind`].
    pub const CONDITION: &'static str = "site_id = ? AND timestamp >= toDateTime(?) AND timestamp < toDateTime(?)";

    pub fn bind(&self, query: Query) -> Query {
        query.bind(self.site_id).bind(self.from as u32).bind(self.to.min(u64::from(u32::MAX)) as u32)
    }
}

/// Headline numbers of a scope.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Row, Deserialize)]
pub struct Totals {
    pub visitors: u64,
    pub visits: u64,
    pub pageviews: u64,
}

/// Visitors, visits and page views in a scope.
pub fn totals_query(client: &clickhouse::Client, scope: &Scope) -> Query {
    let sql = format!(
        "SELECT uniqExact(visitor_id) AS visitors, uniqExact(visit_id) AS visits, \
         countIf(event_type = 'pageview') AS pageviews FROM events WHERE {}",
        Scope::CONDITION
    );
    scope.bind(client.query(&sql))
}

pub async fn totals(client: &clickhouse::Client, scope: &Scope) -> clickhouse::error::Result<Totals> {
    totals_query(client, scope).fetch_one().await
}
