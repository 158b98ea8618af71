//! `mesure migrate`: a fresh database gets every table; a second run changes nothing; a failing
//! migration names its file.

use std::process::Command;

use mesure::store::migrations::{MIGRATIONS, Migration};

use crate::common::{ClickHouse, CollectorConfig, clickhouse, unique_database};

fn migrate(ch: &ClickHouse, db: &str) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mesure.toml");
    std::fs::write(&path, CollectorConfig::new(ch, db).render(dir.path())).unwrap();
    Command::new(env!("CARGO_BIN_EXE_mesure")).arg("migrate").arg("--config").arg(&path).output().unwrap()
}

#[tokio::test]
async fn fresh_database_gets_every_table_and_rerun_is_a_no_op() {
    let ch = clickhouse();
    let db = unique_database("migrate");
    let first = migrate(ch, &db);
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let out = String::from_utf8_lossy(&first.stdout);
    assert!(out.contains(&format!("{} migration(s) applied, 0 already present", MIGRATIONS.len())), "{out}");

    let tables = ch.query(&format!("SELECT name FROM system.tables WHERE database = '{db}' ORDER BY name")).await;
    assert_eq!(
        tables.lines().collect::<Vec<_>>(),
        vec![
            "api_token_revocations",
            "api_tokens",
            "cookie_keys",
            "erasures",
            "events",
            "salts",
            "schema_migrations",
            "sign_in_link_uses",
            "sign_in_links",
        ]
    );
    let schema_before = ch
        .query(&format!("SELECT name, create_table_query FROM system.tables WHERE database = '{db}' ORDER BY name"))
        .await;
    let ledger_before = ch.count(&format!("SELECT count() FROM {db}.schema_migrations")).await;
    assert_eq!(ledger_before, MIGRATIONS.len() as u64);

    let second = migrate(ch, &db);
    assert!(second.status.success());
    let out = String::from_utf8_lossy(&second.stdout);
    assert!(out.contains(&format!("0 migration(s) applied, {} already present", MIGRATIONS.len())), "{out}");
    let schema_after = ch
        .query(&format!("SELECT name, create_table_query FROM system.tables WHERE database = '{db}' ORDER BY name"))
        .await;
    assert_eq!(schema_before, schema_after);
    assert_eq!(ch.count(&format!("SELECT count() FROM {db}.schema_migrations")).await, ledger_before);
}

#[tokio::test]
async fn a_failing_migration_names_its_file() {
    let ch = clickhouse();
    let db = unique_database("badmigration");
    let config = ch.config(&db);
    let broken = [
        MIGRATIONS[0],
        Migration { version: 2, name: "0002_broken.sql", sql: "ALTER TABLE events ADD COLUMN oops NoSuchType;" },
    ];
    let error = mesure::store::Store::new(&config).migrate(&broken).await.unwrap_err();
    let message = error.to_string();
    assert!(message.contains("0002_broken.sql"), "{message}");
    // The good one was applied and recorded; the broken one was not.
    let versions = ch.query(&format!("SELECT version FROM {db}.schema_migrations ORDER BY version")).await;
    assert_eq!(versions.trim(), "1");
}

/// Every statement of the SQL catalog (the one chdb runs on 26.x) also runs on this server.
#[tokio::test]
async fn the_sql_catalog_runs_on_this_server() {
    let ch = clickhouse();
    let db = unique_database("catalog");
    ch.query(&format!("CREATE DATABASE {db}")).await;
    let version = ch.query("SELECT version() FORMAT TSV").await;
    let dialect = mesure::store::dialect::Dialect::from_version(version.trim());
    let statements = mesure::catalog::statements(dialect);
    assert!(statements.len() > 20);
    let client = reqwest::Client::new();
    let mut failed = Vec::new();
    for statement in statements {
        let r = client.post(format!("{}/?database={db}", ch.url())).body(statement.sql.clone()).send().await.unwrap();
        if !r.status().is_success() {
            let error = r.text().await.unwrap();
            failed.push(format!("{}: {}\n{}", statement.name, error.lines().next().unwrap_or(""), statement.sql));
        }
    }
    assert!(failed.is_empty(), "{} statements failed on {}:\n{}", failed.len(), version.trim(), failed.join("\n\n"));
}
