//! ClickHouse: [`Store`], the one owner of every statement mesure sends.
//!
//! A `Store` holds the client (configured once with what 18.16 needs: validation off, since the
//! crate's schema check uses a `DESCRIBE` setting and a format 18.16 lacks; values bound with
//! `.bind()`, never sent as server-side parameters), the cluster mode and the server's
//! [`Dialect`]. Its client is private: the rest of the crate asks the store by intent (the salt
//! of a period, a visitor's rows, a retention plan…), and every statement behind those methods
//! is declared in [`statements`], which the SQL catalog ([`crate::catalog`]) renders, so each
//! one is checked on a current ClickHouse and on the tests' server.
//!
//! - [`statements`]: the fixed statements; [`sql`]: statements built at run time (stats);
//! - [`migrations`]: the numbered schema files and the ledger;
//! - [`retention`]: the retention plan and its enforcement;
//! - [`tokens`]: API tokens;
//! - [`cluster`], [`dialect`]: how statements differ by mode and server version;
//! - [`rows`]: the row types.
//!
//! The store knows tables and statements, not what they are for: salt agreement lives in
//! [`crate::privacy::salts`], erasure in [`crate::erasure`], stats in [`crate::query`].

pub mod cluster;
pub mod dialect;
pub mod migrations;
pub mod retention;
pub mod rows;
pub mod sql;
pub mod statements;
pub mod tokens;

use std::borrow::Cow;
use std::time::Duration;

use clickhouse::insert_formatted::InsertFormatted;
use clickhouse::query::Query;
use clickhouse::{Client, RowOwned, RowRead, RowWrite};

use crate::config::ClickHouseConfig;
use cluster::Cluster;
use dialect::Dialect;
use sql::{Param, Sql};
use statements::{Kind, Needs, Sample, Statement};

pub use clickhouse::error::{Error, Result};

/// The ClickHouse mesure stores into, and every statement it sends.
#[derive(Clone)]
pub struct Store {
    /// Bound to the configured database.
    client: Client,
    /// The stats queries' client: the read user if there is one, bound to the database; the
    /// read budget is added to each query ([`Store::reader`]).
    reader: Client,
    read_budget: ReadBudget,
    /// Whether `reader` is a separate user whose profile sets `readonly` itself.
    separate_reader: bool,
    /// No database selected: `CREATE DATABASE` (in [`migrations`]).
    server: Client,
    database: String,
    cluster: Option<Cluster>,
    dialect: Dialect,
}

/// What one stats query may take of ClickHouse (`[limits]` `stats_*`).
#[derive(Debug, Clone, Copy)]
pub struct ReadBudget {
    pub max_execution_time: std::time::Duration,
    pub max_memory_usage: u64,
    pub max_rows_to_read: u64,
}

impl From<&crate::config::LimitsConfig> for ReadBudget {
    fn from(limits: &crate::config::LimitsConfig) -> ReadBudget {
        ReadBudget {
            max_execution_time: limits.stats_timeout,
            max_memory_usage: limits.stats_max_memory,
            max_rows_to_read: limits.stats_max_rows_to_read,
        }
    }
}

impl Store {
    /// A store for `config`. It assumes the oldest server until [`Store::detect_dialect`] asks.
    pub fn new(config: &ClickHouseConfig) -> Store {
        let server = Client::default()
            .with_url(&config.url)
            .with_user(&config.user)
            .with_password(&config.password)
            .with_validation(false);
        let server = if config.cluster.is_some() {
            // An INSERT is acknowledged once every shard has its rows (the spool may then let
            // them go); `IN (subquery)` runs shard by shard, where a visit's rows all are.
            server.with_setting("insert_distributed_sync", "1").with_setting("distributed_product_mode", "local")
        } else {
            server
        };
        let reader = match &config.read_user {
            Some(user) => server.clone().with_user(user).with_password(&config.read_password),
            None => server.clone(),
        };
        Store {
            client: server.clone().with_database(&config.database),
            reader: reader.with_database(&config.database),
            read_budget: ReadBudget::from(&crate::config::LimitsConfig::default()),
            separate_reader: config.read_user.is_some(),
            server,
            database: config.database.clone(),
            cluster: Cluster::of(config),
            dialect: Dialect::from_version(""),
        }
    }

    /// The same store with another read budget.
    pub fn with_read_budget(mut self, budget: ReadBudget) -> Store {
        self.read_budget = budget;
        self
    }

    /// The client of one stats query: read-only, bounded in time, memory and rows read, and
    /// cancelled by ClickHouse (from 20.1) when we hang up.
    fn reader(&self) -> Client {
        let budget = &self.read_budget;
        let mut reader = self.reader.clone();
        if !self.separate_reader {
            // Reads only; settings may still be set (readonly = 1 would refuse the ones below).
            reader = reader.with_setting("readonly", "2");
        }
        reader = reader
            .with_setting("max_execution_time", budget.max_execution_time.as_secs().max(1).to_string())
            .with_setting("max_memory_usage", budget.max_memory_usage.to_string())
            .with_setting("max_rows_to_read", budget.max_rows_to_read.to_string());
        if self.dialect.cancel_on_hang_up {
            reader = reader.with_setting("cancel_http_readonly_queries_on_client_close", "1");
        }
        reader
    }

    /// A store that never connects, for a server of `dialect`: it renders the SQL catalog.
    pub(crate) fn offline(dialect: Dialect) -> Store {
        let client = Client::default().with_validation(false);
        Store {
            client: client.clone(),
            reader: client.clone(),
            read_budget: ReadBudget::from(&crate::config::LimitsConfig::default()),
            separate_reader: false,
            server: client,
            database: "mesure".into(),
            cluster: None,
            dialect,
        }
    }

    /// Asks the server its version and adopts its dialect.
    pub(crate) async fn detect_dialect(mut self) -> Result<Store> {
        let version: String = self.query(&statements::SERVER_VERSION).fetch_one().await?;
        self.dialect = Dialect::from_version(&version);
        Ok(self)
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    pub fn cluster(&self) -> Option<&Cluster> {
        self.cluster.as_ref()
    }

    /// A statement's text for this store's mode (`{alter:T}` resolved).
    pub fn text(&self, statement: &Statement) -> Cow<'static, str> {
        match statement.kind {
            Kind::Query(text) if text.contains("{alter:") => {
                let mut out = String::with_capacity(text.len() + 32);
                let mut rest = text;
                while let Some(at) = rest.find("{alter:") {
                    out.push_str(&rest[..at]);
                    let after = &rest[at + "{alter:".len()..];
                    let end = after.find('}').expect("a closed {alter:T} placeholder");
                    out.push_str(&cluster::alter_target(&after[..end], self.cluster.as_ref()));
                    rest = &after[end + 1..];
                }
                out.push_str(rest);
                Cow::Owned(out)
            }
            Kind::Query(text) => Cow::Borrowed(text),
            Kind::Insert { table, columns } => Cow::Owned(format!("INSERT INTO {table}({columns}) FORMAT RowBinary")),
        }
    }

    /// Whether the connected server can run `statement`.
    pub(crate) fn supports(&self, statement: &Statement) -> bool {
        match statement.needs {
            Needs::Nothing => true,
            Needs::TableTtl => self.dialect.table_ttl,
        }
    }

    /// The one way a fixed statement becomes a query.
    fn query(&self, statement: &Statement) -> Query {
        debug_assert!(matches!(statement.kind, Kind::Query(_)), "{} is an insert", statement.name);
        self.client.query(&self.text(statement))
    }

    /// Writes `rows` with an insert statement (RowBinary in the request body).
    async fn insert<T: RowOwned + RowWrite>(&self, statement: &Statement, rows: &[T]) -> Result<()> {
        let Kind::Insert { table, .. } = statement.kind else { panic!("{} is not an insert", statement.name) };
        let mut insert = self.client.insert::<T>(table).await?;
        for row in rows {
            insert.write(row).await?;
        }
        insert.end().await
    }

    /// A statement built at run time (the stats queries), its values bound.
    fn built(&self, sql: &Sql) -> Query {
        let mut query = self.reader().query(&sql.text);
        for param in &sql.params {
            query = match param {
                Param::U32(v) => query.bind(*v),
                Param::Str(v) => query.bind(v.as_str()),
            };
        }
        query
    }

    /// A fixed statement with its sample values bound, as the server would receive it (the SQL
    /// catalog). Inserts become an `INSERT … SELECT` of no rows, which checks the columns.
    pub(crate) fn sample_text(&self, statement: &Statement) -> String {
        match statement.kind {
            Kind::Insert { table, columns } => {
                format!("INSERT INTO {table} ({columns}) SELECT {columns} FROM {table} LIMIT 0")
            }
            Kind::Query(_) => {
                let mut query = self.query(statement);
                for sample in statement.sample {
                    query = match *sample {
                        Sample::U32(v) => query.bind(v),
                        Sample::U64(v) => query.bind(v),
                        Sample::Str(v) => query.bind(v),
                    };
                }
                query.sql_display().to_string().replace("?fields", "*")
            }
        }
    }

    /// A built statement with its values bound, as the server would receive it.
    pub(crate) fn built_text(&self, sql: &Sql) -> String {
        self.built(sql).sql_display().to_string()
    }

    // --- events ----------------------------------------------------------------------------

    /// An INSERT of events streamed as RowBinary rows of [`crate::event::COLUMNS`] (the spool's
    /// records, unchanged). Its column list pins the layout; columns added later by a migration
    /// take their defaults.
    pub fn insert_events(&self, send_timeout: Duration, end_timeout: Duration) -> InsertFormatted {
        self.client
            .insert_formatted_with(self.text(&statements::EVENTS_INSERT).into_owned())
            .with_timeouts(Some(send_timeout), Some(end_timeout))
    }

    // --- salts (docs/privacy.md B2, B3) ------------------------------------------------------

    /// The smallest candidate salt of `period` (hex), if any.
    pub(crate) async fn smallest_salt(&self, period: u32) -> Result<Option<String>> {
        self.query(&statements::SALT_SMALLEST).bind(period).fetch_optional().await
    }

    /// Adds a candidate salt (hex) for `period`, in the request body.
    pub(crate) async fn insert_salt(&self, period: u32, salt_hex: String, created_at: u32) -> Result<()> {
        self.insert(&statements::SALT_INSERT, &[rows::SaltRow { period, salt: salt_hex, created_at }]).await
    }

    /// The periods that have salts before `oldest_kept` or after `current`, each with the
    /// creation time of its first candidate.
    pub(crate) async fn salt_periods_outside(&self, oldest_kept: u32, current: u32) -> Result<Vec<(u32, u32)>> {
        self.query(&statements::SALT_PERIODS_OUTSIDE).bind(oldest_kept).bind(current).fetch_all().await
    }

    /// Adds candidate salts (hex) for several periods in one body.
    pub(crate) async fn insert_salts(&self, candidates: Vec<(u32, String)>, created_at: u32) -> Result<()> {
        let rows: Vec<_> =
            candidates.into_iter().map(|(period, salt)| rows::SaltRow { period, salt, created_at }).collect();
        self.insert(&statements::SALT_INSERT, &rows).await
    }

    /// The agreed back-dated salt of `period` (hex; candidates created at or after `since`) and
    /// when its first candidate was created, if there is one.
    pub(crate) async fn backdated_salt(&self, period: u32, since: u32) -> Result<Option<(String, u32)>> {
        let (salt, created): (String, u32) =
            self.query(&statements::SALT_BACKDATED).bind(period).bind(since).fetch_one().await?;
        Ok((!salt.is_empty()).then_some((salt, created)))
    }

    /// Deletes every salt of `period` (its partition).
    pub(crate) async fn drop_salt_period(&self, period: u32) -> Result<()> {
        self.query(&statements::SALT_DROP_PERIOD).bind(period).execute().await
    }

    /// Deletes the candidates of `period` that lost (all but the smallest) and are older than
    /// `cutoff`; returns how many there were. The winner is named by a 64-bit fingerprint that
    /// ClickHouse computes, so no salt is ever written into query text.
    pub(crate) async fn delete_losing_salts(&self, period: u32, cutoff: u32) -> Result<u64> {
        let Some(winner) =
            self.query(&statements::SALT_AGREED_FINGERPRINT).bind(period).fetch_optional::<u64>().await?
        else {
            return Ok(0);
        };
        let losers: u64 =
            self.query(&statements::SALT_LOSERS).bind(period).bind(cutoff).bind(winner).fetch_one().await?;
        if losers > 0 {
            self.query(&statements::SALT_DELETE_LOSERS).bind(period).bind(cutoff).bind(winner).execute().await?;
        }
        Ok(losers)
    }

    // --- cookie keys (docs/privacy.md B5) ------------------------------------------------------

    /// The smallest candidate key of a cookie-mode site (hex), if any.
    pub(crate) async fn cookie_key(&self, site_id: u32) -> Result<Option<String>> {
        self.query(&statements::COOKIE_KEY).bind(site_id).fetch_optional().await
    }

    /// Adds a candidate key (hex) for a site, in the request body.
    pub(crate) async fn insert_cookie_key(&self, site_id: u32, key_hex: String, created_at: u32) -> Result<()> {
        self.insert(&statements::COOKIE_KEY_INSERT, &[rows::KeyRow { site_id, key: key_hex, created_at }]).await
    }

    // --- one visitor's rows (docs/privacy.md E4) ------------------------------------------------

    /// One visitor's rows, oldest first.
    pub(crate) async fn visitor_rows<T: RowOwned + RowRead>(&self, site_id: u32, visitor_id: u64) -> Result<Vec<T>> {
        self.query(&statements::VISITOR_ROWS).bind(site_id).bind(visitor_id).fetch_all().await
    }

    /// Deletes one visitor's rows from every table that has a visitor id; returns how many.
    pub(crate) async fn delete_visitor_rows(&self, site_id: u32, visitor_id: u64) -> Result<u64> {
        let count: u64 = self.query(&statements::VISITOR_ROWS_COUNT).bind(site_id).bind(visitor_id).fetch_one().await?;
        if count > 0 {
            self.query(&statements::VISITOR_ROWS_DELETE).bind(site_id).bind(visitor_id).execute().await?;
        }
        Ok(count)
    }

    /// Records an erasure in the ledger.
    pub(crate) async fn record_erasure(&self, site_id: u32, visitor_id: u64, erased_at: u32) -> Result<()> {
        self.insert(&statements::ERASURE_INSERT, &[rows::ErasureRow { site_id, visitor_id, erased_at }]).await
    }

    /// Every (site, visitor) the ledger holds.
    pub(crate) async fn erasure_ledger(&self) -> Result<Vec<(u32, u64)>> {
        self.query(&statements::ERASURE_LEDGER).fetch_all().await
    }

    /// Waits until ClickHouse has finished every mutation of the database (18.16 has no
    /// `mutations_sync`); `false` if some were still running after `within`.
    pub async fn wait_for_mutations(&self, within: Duration) -> Result<bool> {
        let deadline = std::time::Instant::now() + within;
        loop {
            let pending: u64 = self.query(&statements::PENDING_MUTATIONS).fetch_one().await?;
            if pending == 0 {
                return Ok(true);
            }
            if std::time::Instant::now() > deadline {
                return Ok(false);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    // --- stats (read side) ----------------------------------------------------------------------

    /// Per site with rows: the events since `since` and the last hit's time.
    pub async fn site_activity(&self, since: u64) -> Result<Vec<rows::SiteActivity>> {
        self.query(&statements::SITE_ACTIVITY).bind(since.min(u64::from(u32::MAX)) as u32).fetch_all().await
    }

    /// The calendar day (`YYYY-MM-DD`) of `now` in a time zone.
    pub(crate) async fn local_date(&self, now: u32, time_zone: &str) -> Result<String> {
        self.query(&statements::STATS_TODAY).bind(now).bind(time_zone).fetch_one().await
    }

    /// Two local midnights (`YYYY-MM-DD 00:00:00` in `time_zone`) as Unix seconds.
    pub(crate) async fn local_midnights(&self, from: &str, to: &str, time_zone: &str) -> Result<(u32, u32)> {
        self.query(&statements::STATS_MIDNIGHTS).bind(from).bind(time_zone).bind(to).bind(time_zone).fetch_one().await
    }

    /// A built stats query's rows as TabSeparated text.
    ///
    /// The query runs under a random id. Should the caller stop waiting (its deadline, or its
    /// client gone), the query is killed on the server, which otherwise could work on for the
    /// rest of its budget; an answer over `max_bytes` is refused ([`AnswerTooLarge`]) as it
    /// arrives, never held whole.
    pub(crate) async fn fetch_tab_separated(&self, sql: &Sql, max_bytes: usize) -> Result<Vec<u8>> {
        let id = read_query_id();
        let mut guard = KillOnDrop { store: self, id: Some(id.clone()) };
        let query = self.built(sql).with_setting("query_id", id);
        let mut cursor = query.fetch_bytes("TabSeparated")?;
        let mut answer = Vec::new();
        while let Some(chunk) = cursor.next().await? {
            if answer.len() + chunk.len() > max_bytes {
                // Dropping the cursor hangs up; the guard kills what the server still runs.
                return Err(clickhouse::error::Error::Custom(format!("{ANSWER_TOO_LARGE}: over {max_bytes} bytes")));
            }
            answer.extend_from_slice(&chunk);
        }
        guard.id = None;
        Ok(answer)
    }

    /// A built query's one row.
    pub(crate) async fn fetch_one<T: RowOwned + RowRead>(&self, sql: &Sql) -> Result<T> {
        self.built(sql).fetch_one().await
    }
}

/// What an answer too large for its cap is refused with (the error's text starts with it).
pub(crate) const ANSWER_TOO_LARGE: &str = "answer too large";

/// A random id for one stats query (`mesure-read-` and 32 hex digits): nothing from the
/// request is in it.
fn read_query_id() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the OS random number generator is available");
    format!("mesure-read-{}", hex::encode(bytes))
}

/// Kills the query of `id` on the server when dropped armed (the caller stopped waiting).
struct KillOnDrop<'a> {
    store: &'a Store,
    id: Option<String>,
}

impl Drop for KillOnDrop<'_> {
    fn drop(&mut self) {
        let Some(id) = self.id.take() else { return };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        let kill = self.store.query(&statements::KILL_QUERY).bind(id);
        runtime.spawn(async move {
            // Best effort, bounded: the server's own max_execution_time ends the query anyway.
            if let Ok(Err(error)) = tokio::time::timeout(Duration::from_secs(5), kill.execute()).await {
                tracing::debug!(%error, "could not kill an abandoned stats query");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alter_targets_follow_the_mode() {
        let single = Store::offline(Dialect::from_version("18.16.1"));
        assert_eq!(single.text(&statements::SALT_DROP_PERIOD), "ALTER TABLE salts DROP PARTITION ?");
        let mut cluster = single.clone();
        cluster.cluster = Some(Cluster { name: "c".into(), database: "db".into() });
        assert_eq!(
            cluster.text(&statements::RETENTION_DELETE_ROWS),
            "ALTER TABLE `db`.events_local ON CLUSTER `c` DELETE WHERE site_id = ? AND retention_days = ? AND \
             timestamp < toDateTime(?)"
        );
        assert_eq!(
            single.text(&statements::EVENTS_INSERT),
            format!("INSERT INTO events({}) FORMAT RowBinary", crate::event::COLUMNS)
        );
    }

    /// Outside this module nothing sends SQL text of its own: every `.query(` that takes text,
    /// and every INSERT, is in `src/store/`. (A new statement therefore goes through
    /// [`statements`], and the catalog checks it.)
    #[test]
    fn no_statement_is_sent_from_outside_the_store() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/src");
        let mut offenders = Vec::new();
        let mut dirs = vec![std::path::PathBuf::from(root)];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    if !path.ends_with("store") {
                        dirs.push(path);
                    }
                    continue;
                }
                if path.extension().is_none_or(|e| e != "rs") {
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap();
                for (n, line) in text.lines().enumerate() {
                    let sends = line.contains(".query(\"")
                        || line.contains(".query(&")
                        || line.contains(".insert::<")
                        || line.contains("insert_formatted_with(")
                        || line.contains("clickhouse::Client");
                    if sends {
                        offenders.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
                    }
                }
            }
        }
        assert!(offenders.is_empty(), "SQL sent from outside the store:\n{}", offenders.join("\n"));
    }
}
