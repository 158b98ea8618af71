//! The one place that decides what a ClickHouse server can be sent, by its version (the
//! statements that need a feature say so in [`super::statements`]).
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
    /// `cancel_http_readonly_queries_on_client_close` (a read stops when its client hangs up):
    /// not in 18.16; sent from 20.1.
    pub cancel_on_hang_up: bool,
}

impl Dialect {
    /// From `SELECT version()` (`18.16.1`, `26.9.1.1`...). Unparseable → the oldest we know.
    pub fn from_version(version: &str) -> Dialect {
        let mut parts = version.trim().split('.').map(|p| p.parse::<u32>().unwrap_or(0));
        let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
        Dialect { major, minor, table_ttl: (major, minor) >= (19, 6), cancel_on_hang_up: major >= 20 }
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
        assert!(!Dialect::from_version("garbage").table_ttl);
    }
}
