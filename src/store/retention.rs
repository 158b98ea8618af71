//! Retention (docs/privacy.md E1, E2): data past its site's limit is deleted by this job, which runs
//! at start and daily in `serve`, and on demand with `mesure retention [--dry-run]`.
//!
//! Rows are partitioned by `(retention_days, day)`, so a partition holds one day of rows that
//! were written under one retention. For every partition the job asks which sites have rows
//! in it and whether that whole day is past each site's *current* retention:
//! - every site's day is past its limit: the partition is dropped whole (instant, no rewrite);
//! - only some are (sites sharing a retention value, one of which changed its retention): the
//!   expired sites' rows are removed with a mutation scoped to site, retention and time.
//!
//! Only whole days are deleted, so a row is physically gone at most 24 hours after it expires;
//! reads never see it before that, because the query layer bounds every read by the site's
//! retention ([`read_floor`]). A site no longer configured keeps the retention its rows were
//! written with. Idempotent: several collectors may run it.

use std::collections::BTreeMap;

use crate::clock::DAY;
use crate::config::{SiteConfig, read_floor};
use crate::store::rows::PartitionRows;
use crate::store::{Result, Store, statements};

/// A partition to drop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionDrop {
    pub retention_days: u16,
    /// `YYYYMMDD`.
    pub day: u32,
    pub rows: u64,
}

/// Rows of one site to delete with a mutation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowDeletion {
    pub site_id: u32,
    pub retention_days: u16,
    /// Delete rows with `timestamp` before this (a day boundary).
    pub before: u64,
    pub rows: u64,
}

/// What one site loses in a run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SiteSummary {
    pub partitions_dropped: u64,
    pub rows_in_dropped_partitions: u64,
    pub rows_deleted_by_mutation: u64,
}

/// Everything a run deletes (or, dry, would delete).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub drops: Vec<PartitionDrop>,
    pub deletions: Vec<RowDeletion>,
    pub per_site: BTreeMap<u32, SiteSummary>,
}

impl Plan {
    pub fn rows(&self) -> u64 {
        self.drops.iter().map(|d| d.rows).sum::<u64>() + self.deletions.iter().map(|d| d.rows).sum::<u64>()
    }

    /// The per-site report `mesure retention` prints.
    pub fn report(&self, dry_run: bool) -> String {
        let verb = if dry_run { "would delete" } else { "deleted" };
        let mut out = String::new();
        if self.per_site.is_empty() {
            out.push_str("nothing past its retention\n");
        }
        for (site, s) in &self.per_site {
            out.push_str(&format!(
                "site {site}: {verb} {} rows ({} in {} dropped partitions, {} by mutation)\n",
                s.rows_in_dropped_partitions + s.rows_deleted_by_mutation,
                s.rows_in_dropped_partitions,
                s.partitions_dropped,
                s.rows_deleted_by_mutation
            ));
        }
        out.push_str(&format!(
            "total: {} partitions dropped, {} mutations, {} rows{}\n",
            self.drops.len(),
            self.deletions.len(),
            self.rows(),
            if dry_run { " (dry run: nothing deleted)" } else { "" }
        ));
        out
    }
}

/// `YYYYMMDD` → Unix seconds at 00:00 UTC.
fn day_start(day: u32) -> u64 {
    let days = crate::clock::days_from_civil(i64::from(day / 10_000), i64::from(day / 100 % 100), i64::from(day % 100));
    (days.max(0) as u64) * DAY
}

fn plan_from(rows: &[PartitionRows], sites: &[SiteConfig], now: u64) -> Plan {
    let retention_of = |site_id: u32, row_retention: u16| {
        sites.iter().find(|s| s.id == site_id).map_or(u32::from(row_retention), |s| s.retention.days())
    };
    let expired = |day: u32, retention: u32| day_start(day) + DAY <= read_floor(retention, now);
    let mut plan = Plan::default();
    let mut partitions: BTreeMap<(u16, u32), Vec<&PartitionRows>> = BTreeMap::new();
    for row in rows {
        partitions.entry((row.retention_days, row.day)).or_default().push(row);
    }
    let mut deletions: BTreeMap<(u32, u16), RowDeletion> = BTreeMap::new();
    for ((retention_days, day), members) in partitions {
        let gone: Vec<&&PartitionRows> =
            members.iter().filter(|r| expired(day, retention_of(r.site_id, r.retention_days))).collect();
        if gone.is_empty() {
            continue;
        }
        if gone.len() == members.len() {
            let total = members.iter().map(|r| r.rows).sum();
            plan.drops.push(PartitionDrop { retention_days, day, rows: total });
            for r in &members {
                let s = plan.per_site.entry(r.site_id).or_default();
                s.partitions_dropped += 1;
                s.rows_in_dropped_partitions += r.rows;
            }
        } else {
            for r in gone {
                let retention = retention_of(r.site_id, r.retention_days);
                let before = read_floor(retention, now) / DAY * DAY;
                let d = deletions.entry((r.site_id, retention_days)).or_insert(RowDeletion {
                    site_id: r.site_id,
                    retention_days,
                    before,
                    rows: 0,
                });
                d.rows += r.rows;
                plan.per_site.entry(r.site_id).or_default().rows_deleted_by_mutation += r.rows;
            }
        }
    }
    plan.deletions = deletions.into_values().collect();
    plan
}

impl Store {
    /// Works out what is past its retention at `now`.
    pub(crate) async fn retention_plan(&self, sites: &[SiteConfig], now: u64) -> Result<Plan> {
        let rows: Vec<PartitionRows> = self.query(&statements::RETENTION_PLAN).fetch_all().await?;
        Ok(plan_from(&rows, sites, now))
    }

    /// Carries out a plan (on every shard in cluster mode).
    pub(crate) async fn apply_retention(&self, plan: &Plan) -> Result<()> {
        for drop in &plan.drops {
            self.query(&statements::RETENTION_DROP_PARTITION)
                .bind(drop.retention_days)
                .bind(drop.day)
                .execute()
                .await?;
        }
        for d in &plan.deletions {
            self.query(&statements::RETENTION_DELETE_ROWS)
                .bind(d.site_id)
                .bind(d.retention_days)
                .bind(d.before as u32)
                .execute()
                .await?;
        }
        Ok(())
    }

    /// Plans and (unless `dry_run`) applies; logs and returns what it did.
    pub async fn enforce_retention(&self, sites: &[SiteConfig], now: u64, dry_run: bool) -> Result<Plan> {
        let plan = self.retention_plan(sites, now).await?;
        if !dry_run {
            self.apply_retention(&plan).await?;
        }
        for (site, s) in &plan.per_site {
            tracing::info!(
                site,
                dry_run,
                partitions_dropped = s.partitions_dropped,
                rows_in_dropped_partitions = s.rows_in_dropped_partitions,
                rows_deleted_by_mutation = s.rows_deleted_by_mutation,
                "retention"
            );
        }
        Ok(plan)
    }

    /// The second guard of retention (docs/privacy.md E1): a table TTL a day past the longest
    /// retention of any site, so that even if the job stopped running nothing outlives every
    /// site's limit. Returns the TTL in days, or `None` where the server has no table TTL
    /// (18.16: the job alone enforces).
    pub(crate) async fn set_retention_ttl(&self, longest_retention_days: u32) -> Result<Option<u32>> {
        if !self.supports(&statements::RETENTION_TTL) {
            return Ok(None);
        }
        let days = longest_retention_days + 1;
        self.query(&statements::RETENTION_TTL).bind(days).execute().await?;
        Ok(Some(days))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Retention;

    fn site(id: u32, retention: Retention) -> SiteConfig {
        SiteConfig { retention, ..SiteConfig::with_defaults(id, &format!("s{id}.example")) }
    }

    #[test]
    fn day_starts() {
        assert_eq!(day_start(19700101), 0);
        assert_eq!(day_start(20231114), 1_699_920_000);
        assert_eq!(day_start(20240301), 1_709_251_200);
    }

    #[test]
    fn whole_partitions_or_scoped_mutations() {
        let now = day_start(20260601) + 12 * 3600;
        // Site 1 and 2 both wrote rows with 180 days; site 2 now keeps 13 months.
        let sites = [site(1, Retention::Days(180)), site(2, Retention::Months(13)), site(3, Retention::Days(180))];
        let rows = [
            PartitionRows { retention_days: 180, day: 20251101, site_id: 1, rows: 5 },
            PartitionRows { retention_days: 180, day: 20251101, site_id: 2, rows: 7 },
            PartitionRows { retention_days: 180, day: 20251102, site_id: 3, rows: 2 },
            PartitionRows { retention_days: 180, day: 20260101, site_id: 1, rows: 9 },
            PartitionRows { retention_days: 395, day: 20250401, site_id: 2, rows: 4 },
            // A site removed from the configuration keeps its rows' retention.
            PartitionRows { retention_days: 30, day: 20260401, site_id: 9, rows: 1 },
        ];
        let plan = plan_from(&rows, &sites, now);
        assert_eq!(
            plan.drops,
            vec![
                PartitionDrop { retention_days: 30, day: 20260401, rows: 1 },
                PartitionDrop { retention_days: 180, day: 20251102, rows: 2 },
                PartitionDrop { retention_days: 395, day: 20250401, rows: 4 },
            ]
        );
        assert_eq!(
            plan.deletions,
            vec![RowDeletion { site_id: 1, retention_days: 180, before: read_floor(180, now) / DAY * DAY, rows: 5 }]
        );
        assert_eq!(plan.per_site[&1].rows_deleted_by_mutation, 5);
        assert_eq!(plan.per_site[&2].rows_in_dropped_partitions, 4);
        assert!(!plan.per_site.contains_key(&4));
        assert_eq!(plan.rows(), 12);
        assert!(plan.report(true).contains("would delete"));
    }
}
