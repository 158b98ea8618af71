//! The one place that decides which SQL a ClickHouse server gets, by its version.
//!
//! Tests run on Debian's 18.16 and, through `chdb-core`, on 26.x; production runs current
//! releases. Everything else in the project is written to run on both; only what is listed
//! here differs.

/// What the connected server can do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dialect {
    pub major: u32,
    pub minor: u32,
    /// Table TTL (`ALTER TABLE ... MODIFY TTL`), from 19.6.
    pub table_ttl: bool,
}

impl Dialect {
    /// From `SELECT version()` (`18.16.1`, `26.9.1.1`...). Unparseable → the oldest we know.
    pub fn from_version(version: &str) -> Dialect {
        let mut parts = version.trim().split('.').map(|p| p.parse::<u32>().unwrap_or(0));
        let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
        Dialect { major, minor, table_ttl: (major, minor) >= (19, 6) }
    }

    /// The second guard of retention (PRIVACY.md E1): a table TTL a day past the longest
    /// retention of any site, so that even if the job stopped running nothing outlives every
    /// site's limit. `None` where the server has no TTL (18.16: the job alone enforces).
    pub fn retention_ttl(
        &self,
        longest_retention_days: u32,
        cluster: Option<&crate::store::cluster::Cluster>,
    ) -> Option<String> {
        self.table_ttl.then(|| {
            format!(
                "ALTER TABLE {} MODIFY TTL timestamp + INTERVAL {} DAY",
                crate::store::cluster::alter_target("events", cluster),
                longest_retention_days + 1
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert!(!Dialect::from_version("18.16.1").table_ttl);
        assert!(Dialect::from_version("19.6.2.11").table_ttl);
        assert!(Dialect::from_version("26.9.1.1").table_ttl);
        assert_eq!(Dialect::from_version("18.16.1").retention_ttl(395, None), None);
        assert_eq!(
            Dialect::from_version("24.3.1").retention_ttl(395, None).unwrap(),
            "ALTER TABLE events MODIFY TTL timestamp + INTERVAL 396 DAY"
        );
        assert!(!Dialect::from_version("garbage").table_ttl);
    }
}
