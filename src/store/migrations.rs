//! Numbered SQL migrations from `schema/`, embedded in the binary.
//!
//! [`Store::migrate`] creates the database and the `schema_migrations` ledger if needed, then runs every
//! migration not yet recorded, in order, and records it. Statements use `IF NOT EXISTS`, so two
//! collectors migrating at once converge; re-running is a no-op. A failing migration stops with
//! an error naming its file.

use super::{Result, Store, cluster, statements};

/// One migration file.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub version: u32,
    pub name: &'static str,
    pub sql: &'static str,
}

macro_rules! migration {
    ($version:literal, $file:literal) => {
        Migration { version: $version, name: $file, sql: include_str!(concat!("../../schema/", $file)) }
    };
}

/// Every migration, in order. A unit test checks that this list matches `schema/`.
pub const MIGRATIONS: &[Migration] = &[
    migration!(1, "0001_events.sql"),
    migration!(2, "0002_salts.sql"),
    migration!(3, "0003_non_interactive.sql"),
    migration!(4, "0004_erasure.sql"),
    migration!(5, "0005_api_tokens.sql"),
    migration!(6, "0006_ecommerce.sql"),
    migration!(7, "0007_content.sql"),
    migration!(8, "0008_page_details.sql"),
    migration!(9, "0009_engagement.sql"),
    migration!(10, "0010_sign_in_links.sql"),
];

#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    #[error("ClickHouse unreachable or refused the migration ledger: {0}")]
    Ledger(#[source] clickhouse::error::Error),
    #[error("migration {file} failed: {source}")]
    Failed {
        file: &'static str,
        #[source]
        source: clickhouse::error::Error,
    },
}

/// What `apply` did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Applied {
    pub newly_applied: Vec<&'static str>,
    pub already_applied: usize,
}

pub const LEDGER_DDL: &str = "CREATE TABLE IF NOT EXISTS schema_migrations \
    (version UInt32, name String, applied_at DateTime DEFAULT now()) \
    ENGINE = MergeTree ORDER BY version";

impl Store {
    /// Applies `migrations` (normally [`MIGRATIONS`]) to the configured database.
    pub async fn migrate(&self, migrations: &[Migration]) -> std::result::Result<Applied, MigrationError> {
        // The database name was validated as [A-Za-z0-9_]+ by the config, so quoting it is safe.
        let cluster = self.cluster.as_ref();
        self.server
            .query(&cluster::create_database(&self.database, cluster))
            .execute()
            .await
            .map_err(MigrationError::Ledger)?;
        for statement in cluster::migration(LEDGER_DDL, cluster) {
            self.client.query(&statement).execute().await.map_err(MigrationError::Ledger)?;
        }
        let done = self.applied_migrations().await.map_err(MigrationError::Ledger)?;
        let mut applied = Applied::default();
        for migration in migrations {
            if done.contains(&migration.version) {
                applied.already_applied += 1;
                continue;
            }
            self.run_migration(migration)
                .await
                .map_err(|source| MigrationError::Failed { file: migration.name, source })?;
            tracing::info!(migration = migration.name, "applied schema migration");
            applied.newly_applied.push(migration.name);
        }
        Ok(applied)
    }

    /// Whether every migration is recorded (for `/readyz`).
    pub(crate) async fn all_migrations_applied(&self) -> Result<bool> {
        let done = self.applied_migrations().await?;
        Ok(MIGRATIONS.iter().all(|m| done.contains(&m.version)))
    }

    async fn applied_migrations(&self) -> Result<Vec<u32>> {
        self.query(&statements::MIGRATIONS_DONE).fetch_all().await
    }

    async fn run_migration(&self, migration: &Migration) -> Result<()> {
        let cluster = self.cluster.as_ref();
        let rewritten =
            split_statements(migration.sql).iter().flat_map(|s| cluster::migration(s, cluster)).collect::<Vec<_>>();
        for statement in rewritten {
            match self.client.query(&statement).execute().await {
                Ok(()) => {}
                // Another collector migrating at the same moment added it first (18.16 has no
                // `ADD COLUMN IF NOT EXISTS`).
                Err(e) if e.to_string().contains("Code: 44") && e.to_string().contains("already exists") => {}
                Err(e) => return Err(e),
            }
        }
        self.query(&statements::MIGRATION_RECORD).bind(migration.version).bind(migration.name).execute().await
    }
}

/// Splits a file into statements: `--` comment lines are dropped, a `;` ending a line ends a
/// statement. (The ClickHouse HTTP interface takes one statement per request.)
pub(crate) fn split_statements(sql: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in sql.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("--") || trimmed.is_empty() {
            continue;
        }
        current.push_str(line);
        current.push('\n');
        if trimmed.ends_with(';') {
            let statement = current.trim().trim_end_matches(';').trim().to_string();
            if !statement.is_empty() {
                out.push(statement);
            }
            current.clear();
        }
    }
    if !current.trim().is_empty() {
        out.push(current.trim().to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_schema_file_is_listed_in_order() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/schema");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.ends_with(".sql"))
            .collect();
        files.sort();
        let listed: Vec<&str> = MIGRATIONS.iter().map(|m| m.name).collect();
        assert_eq!(files, listed);
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version as usize, i + 1);
            assert!(m.name.starts_with(&format!("{:04}_", m.version)));
        }
    }

    #[test]
    fn statements_split_on_line_ending_semicolons() {
        let sql = "-- comment; not a statement\nCREATE TABLE a (x String DEFAULT ';')\nENGINE = Log;\n\nALTER TABLE a ADD COLUMN y UInt8;\n";
        assert_eq!(
            split_statements(sql),
            vec!["CREATE TABLE a (x String DEFAULT ';')\nENGINE = Log", "ALTER TABLE a ADD COLUMN y UInt8"]
        );
    }
}
