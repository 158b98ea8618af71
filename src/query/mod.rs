//! The read side's engine: a validated request ([`request`], its metrics in [`metrics`], its
//! periods in [`period`]) becomes SQL ([`sql`]), runs ([`stats`]) and is rounded where the site
//! asks for it ([`rounding`]). It knows no HTTP: the dialects of [`crate::api`] translate.
//!
//! Every stats query goes through a [`Scope`], which bounds it to one site and to the part of
//! the requested time range that is inside the site's retention. Expired rows are therefore
//! never returned, even before the retention job has deleted them (docs/privacy.md E1).

pub(crate) mod goals;
pub mod metrics;
pub mod period;
pub(crate) mod public;
pub mod request;
pub(crate) mod rounding;
pub mod sql;
pub mod stats;

use clickhouse::Row;
use serde::Deserialize;

use crate::config::{SiteConfig, read_floor};
use crate::store::Store;
use crate::store::sql::Sql;

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

    /// The condition every read of `events` carries, its values bound.
    pub fn condition(&self) -> Sql {
        let mut sql = Sql::default();
        sql.push("site_id = ").bind_u32(self.site_id);
        sql.push(" AND timestamp >= toDateTime(").bind_u32(self.from as u32);
        sql.push(") AND timestamp < toDateTime(").bind_u32(self.to.min(u64::from(u32::MAX)) as u32).push(")");
        sql
    }
}

/// One row of a result: its dimensions' values and its metrics, in the request's order (read
/// by [`stats`], rounded by [`rounding`], rendered by the dialects).
#[derive(Debug, Clone, PartialEq)]
pub struct ResultRow {
    pub dimensions: Vec<String>,
    pub metrics: Vec<f64>,
}

/// Headline numbers of a scope.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Row, Deserialize)]
pub struct Totals {
    pub visitors: u64,
    pub visits: u64,
    pub pageviews: u64,
}

/// Visitors, visits and page views in a scope.
pub(crate) fn totals_query(scope: &Scope) -> Sql {
    let mut sql = Sql::default();
    sql.push(
        "SELECT uniqExact(visitor_id) AS visitors, uniqExact(visit_id) AS visits, \
         countIf(event_type = 'pageview') AS pageviews FROM events WHERE ",
    );
    sql.append(scope.condition());
    sql
}

pub async fn totals(store: &Store, scope: &Scope) -> crate::store::Result<Totals> {
    store.fetch_one(&totals_query(scope)).await
}
