//! Every fixed SQL statement mesure sends, by name, with sample values for the SQL catalog.
//!
//! [`super::Store`] sends nothing else: its client is private, and each of its methods runs one
//! of these (plus the migration files, and the stats queries built by [`crate::query`] as
//! [`super::sql::Sql`], whose shapes the catalog samples). The [`statements!`] macro that
//! declares them also lists them in [`ALL`], which [`crate::catalog`] renders, so a statement
//! added here is checked on a current ClickHouse (`scripts/chdb_check.py`) and on the tests'
//! server without anyone remembering to add it.
//!
//! `{alter:T}` in a text stands for the table an `ALTER` that changes `T`'s rows goes to: `T`
//! on a single node, `` `db`.T_local ON CLUSTER `c` `` on a cluster.
//!
//! Nothing secret is ever a value here: salts and keys travel only in RowBinary INSERT bodies,
//! never in query text (ClickHouse logs query text; docs/privacy.md B2).

/// One statement.
#[derive(Debug, Clone, Copy)]
pub struct Statement {
    pub name: &'static str,
    pub kind: Kind,
    /// Values for the catalog, one per `?` (a statement that takes no values has none).
    pub sample: &'static [Sample],
    /// What the server must support for this statement to be sent at all.
    pub needs: Needs,
}

/// What a statement is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// SQL text with `?` placeholders, bound by the client.
    Query(&'static str),
    /// Rows written in RowBinary: `INSERT INTO table(columns) FORMAT RowBinary`.
    Insert { table: &'static str, columns: &'static str },
}

/// A sample value for the catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sample {
    U32(u32),
    U64(u64),
    Str(&'static str),
}

/// A server feature a statement depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    Nothing,
    /// `ALTER TABLE … MODIFY TTL` (from 19.6; see [`super::dialect`]).
    TableTtl,
}

macro_rules! statements {
    ($($(#[$doc:meta])* $name:ident = $kind:expr, [$($sample:expr),*] $(, $needs:expr)?;)*) => {
        $(
            $(#[$doc])*
            pub const $name: Statement = Statement {
                name: stringify!($name),
                kind: $kind,
                sample: &[$($sample),*],
                needs: statements!(@needs $($needs)?),
            };
        )*
        /// Every statement above, in an order that runs on a database that has just been
        /// migrated (the catalog's order).
        pub const ALL: &[Statement] = &[$($name),*];
    };
    (@needs) => { Needs::Nothing };
    (@needs $needs:expr) => { $needs };
}

use Kind::{Insert, Query};
use Sample::{Str, U32, U64};

statements! {
    /// The server's version, which picks the [`super::dialect::Dialect`].
    SERVER_VERSION = Query("SELECT version()"), [];
    /// Migrations recorded in the ledger.
    MIGRATIONS_DONE = Query("SELECT DISTINCT version FROM schema_migrations"), [];
    /// Records an applied migration.
    MIGRATION_RECORD = Query("INSERT INTO schema_migrations (version, name) VALUES (?, ?)"), [U32(999), Str("0999_sample.sql")];

    /// The events the writer delivers (the spool's RowBinary rows, streamed unchanged).
    EVENTS_INSERT = Insert { table: "events", columns: crate::event::COLUMNS }, [];

    /// The salt every collector uses for a period: the smallest candidate.
    SALT_SMALLEST = Query("SELECT salt FROM salts WHERE period = ? ORDER BY salt LIMIT 1"), [U32(20_000)];
    /// A period's candidate salt.
    SALT_INSERT = Insert { table: "salts", columns: "period, salt, created_at" }, [];
    /// The periods outside the ones in use, each with its first candidate's creation time (a
    /// back-dated period's salt is kept for a day from then).
    SALT_PERIODS_OUTSIDE = Query("SELECT period, min(created_at) FROM salts WHERE period < ? OR period > ? GROUP BY period"), [U32(19_999), U32(20_000)];
    /// A back-dated period's agreed salt (the smallest candidate created at or after the given
    /// time, the end of that period) and its first candidate's creation time; empty and 0 when
    /// there is none.
    SALT_BACKDATED = Query("SELECT min(salt), min(created_at) FROM salts WHERE period = ? AND created_at >= ?"), [U32(19_990), U32(1_727_000_000)];
    /// Drops a period's salts.
    SALT_DROP_PERIOD = Query("ALTER TABLE {alter:salts} DROP PARTITION ?"), [U32(19_990)];
    /// A fingerprint of the agreed salt of a period, to name the losing candidates without
    /// writing a salt into query text.
    SALT_AGREED_FINGERPRINT = Query("SELECT sipHash64(salt) FROM salts WHERE period = ? ORDER BY salt LIMIT 1"), [U32(20_000)];
    /// Losing candidates of a period older than a cut-off.
    SALT_LOSERS = Query("SELECT count() FROM salts WHERE period = ? AND created_at < ? AND sipHash64(salt) != ?"), [U32(20_000), U32(1_700_000_000), U64(42)];
    /// Deletes them.
    SALT_DELETE_LOSERS = Query("ALTER TABLE {alter:salts} DELETE WHERE period = ? AND created_at < ? AND sipHash64(salt) != ?"), [U32(20_000), U32(1_700_000_000), U64(42)];

    /// A cookie-mode site's key: the smallest candidate.
    COOKIE_KEY = Query("SELECT key FROM cookie_keys WHERE site_id = ? ORDER BY key LIMIT 1"), [U32(1)];
    /// A site's candidate key.
    COOKIE_KEY_INSERT = Insert { table: "cookie_keys", columns: "site_id, key, created_at" }, [];

    /// A new API token (its hash).
    TOKEN_INSERT = Insert { table: "api_tokens", columns: "token_hash, site_id, name, created_at" }, [];
    /// A revocation.
    TOKEN_REVOCATION_INSERT = Insert { table: "api_token_revocations", columns: "token_hash, revoked_at" }, [];
    /// Token hashes by id (hash prefix).
    TOKENS_BY_ID = Query("SELECT DISTINCT token_hash FROM api_tokens WHERE startsWith(token_hash, ?)"), [Str("0123abcd")];
    /// The tokens of one site (or all with 0), newest first.
    TOKEN_LIST = Query(
        "SELECT substring(token_hash, 1, 12) AS id, site_id, name, toUInt32(created_at) AS created_at, \
         toUInt8(token_hash IN (SELECT token_hash FROM api_token_revocations)) AS revoked \
         FROM api_tokens WHERE ? = 0 OR site_id = ? OR site_id = 0 ORDER BY created_at DESC"
    ), [U32(0), U32(0)];
    /// The site a token reads, unless revoked.
    TOKEN_INDEX = Query(
        "SELECT token_hash, site_id FROM api_tokens \
         WHERE token_hash NOT IN (SELECT token_hash FROM api_token_revocations) LIMIT ?"
    ), [U32(100_000)];

    /// Per site: events since a time, and the last hit's time (`mesure sites`).
    SITE_ACTIVITY = Query(
        "SELECT site_id, countIf(timestamp >= toDateTime(?)) AS recent, toUInt32(max(timestamp)) AS last_hit \
         FROM events GROUP BY site_id ORDER BY site_id"
    ), [U32(1_790_000_000)];

    /// Stops a stats query the collector gave up waiting for (its random id; ClickHouse before
    /// 19.x goes on with a query after its HTTP client hangs up).
    KILL_QUERY = Query("KILL QUERY WHERE query_id = ? ASYNC"), [Str("mesure-read-00000000000000000000000000000000")];

    /// A one-time sign-in link (its code's hash).
    SIGN_IN_LINK_INSERT = Insert { table: "sign_in_links", columns: "code_hash, token_hash, site_id, expires_at" }, [];
    /// A sign-in link's use.
    SIGN_IN_LINK_USE_INSERT = Insert { table: "sign_in_link_uses", columns: "code_hash, used_at" }, [];
    /// The token and site of a sign-in link not used and not expired at a time.
    SIGN_IN_LINK_FIND = Query(
        "SELECT token_hash, site_id FROM sign_in_links WHERE code_hash = ? AND expires_at > toDateTime(?) \
         AND code_hash NOT IN (SELECT code_hash FROM sign_in_link_uses) LIMIT 1"
    ), [Str("00"), U32(1_790_000_000)];

    /// Today's date in a time zone.
    STATS_TODAY = Query("SELECT toString(toDate(toDateTime(?), ?))"), [U32(1_790_000_000), Str("Europe/Paris")];
    /// Two local midnights (`YYYY-MM-DD 00:00:00` in a time zone) as Unix seconds.
    STATS_MIDNIGHTS = Query("SELECT toUnixTimestamp(toDateTime(?, ?)), toUnixTimestamp(toDateTime(?, ?))"),
        [Str("2026-01-01 00:00:00"), Str("Europe/Paris"), Str("2026-01-08 00:00:00"), Str("Europe/Paris")];

    /// One visitor's rows (the right of access); `?fields` is the row type's column list.
    VISITOR_ROWS = Query("SELECT ?fields FROM events WHERE site_id = ? AND visitor_id = ? ORDER BY timestamp"), [U32(1), U64(42)];
    /// How many rows one visitor has.
    VISITOR_ROWS_COUNT = Query("SELECT count() FROM events WHERE site_id = ? AND visitor_id = ?"), [U32(1), U64(42)];
    /// Deletes them.
    VISITOR_ROWS_DELETE = Query("ALTER TABLE {alter:events} DELETE WHERE site_id = ? AND visitor_id = ?"), [U32(1), U64(42)];
    /// Records an erasure in the ledger.
    ERASURE_INSERT = Insert { table: "erasures", columns: "site_id, visitor_id, erased_at" }, [];
    /// The ledger, for a replay.
    ERASURE_LEDGER = Query("SELECT DISTINCT site_id, visitor_id FROM erasures ORDER BY site_id, visitor_id"), [];
    /// Mutations not finished yet (18.16 has no `mutations_sync`).
    PENDING_MUTATIONS = Query("SELECT count() FROM system.mutations WHERE database = currentDatabase() AND is_done = 0"), [];

    /// Rows per (partition, site): what the retention plan is made from.
    RETENTION_PLAN = Query(
        "SELECT retention_days, toYYYYMMDD(timestamp) AS day, site_id, count() AS rows \
         FROM events GROUP BY retention_days, day, site_id ORDER BY retention_days, day, site_id"
    ), [];
    /// Drops one `(retention_days, day)` partition.
    RETENTION_DROP_PARTITION = Query("ALTER TABLE {alter:events} DROP PARTITION (?, ?)"), [U32(180), U32(20_200_913)];
    /// Expired rows of one site in partitions shared with sites that keep them.
    RETENTION_DELETE_ROWS = Query(
        "ALTER TABLE {alter:events} DELETE WHERE site_id = ? AND retention_days = ? AND timestamp < toDateTime(?)"
    ), [U32(1), U32(180), U32(1_700_000_000)];
    /// The second guard of retention: a table TTL past the longest retention.
    RETENTION_TTL = Query("ALTER TABLE {alter:events} MODIFY TTL timestamp + INTERVAL ? DAY"), [U32(396)], Needs::TableTtl;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The placeholders of each statement match its sample values, and names are unique.
    #[test]
    fn every_statement_has_a_sample_per_placeholder() {
        let mut names = std::collections::HashSet::new();
        for statement in ALL {
            assert!(names.insert(statement.name), "{} declared twice", statement.name);
            if let Kind::Query(text) = statement.kind {
                let placeholders = text.matches('?').count() - text.matches("?fields").count();
                assert_eq!(placeholders, statement.sample.len(), "{}", statement.name);
            }
        }
    }

    /// The insert column lists are the row types' fields, in order (RowBinary is positional).
    #[test]
    fn insert_columns_match_the_row_types() {
        use super::super::rows::*;
        use clickhouse::Row;
        fn columns<T: Row>() -> String {
            T::COLUMN_NAMES.join(", ")
        }
        for (statement, fields) in [
            (SALT_INSERT, columns::<SaltRow>()),
            (COOKIE_KEY_INSERT, columns::<KeyRow>()),
            (TOKEN_INSERT, columns::<TokenRow>()),
            (TOKEN_REVOCATION_INSERT, columns::<RevocationRow>()),
            (ERASURE_INSERT, columns::<ErasureRow>()),
            (SIGN_IN_LINK_INSERT, columns::<SignInLinkRow>()),
            (SIGN_IN_LINK_USE_INSERT, columns::<SignInUseRow>()),
        ] {
            let Kind::Insert { columns, .. } = statement.kind else { panic!("{} is an insert", statement.name) };
            assert_eq!(columns, fields, "{}", statement.name);
        }
    }
}
