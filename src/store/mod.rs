//! ClickHouse: the client every stage shares, schema migrations, and readiness checks.
//!
//! The client is configured once here so that every caller gets the settings 18.16 needs
//! (validation off: the crate's schema check uses a `DESCRIBE` setting and a format that 18.16
//! lacks; values are bound with `.bind()`, never sent as server-side parameters).

pub mod catalog;
pub mod cluster;
pub mod dialect;
pub mod erasure;
pub mod migrations;
pub mod retention;
pub mod tokens;

use crate::config::ClickHouseConfig;

/// A client bound to the configured database.
pub fn client(config: &ClickHouseConfig) -> clickhouse::Client {
    server_client(config).with_database(&config.database)
}

/// A client with no database selected (for `CREATE DATABASE` and server-wide checks).
pub fn server_client(config: &ClickHouseConfig) -> clickhouse::Client {
    let client = clickhouse::Client::default()
        .with_url(&config.url)
        .with_user(&config.user)
        .with_password(&config.password)
        .with_validation(false);
    if config.cluster.is_some() {
        // An INSERT is acknowledged once every shard has its rows (the spool may then let them
        // go); `IN (subquery)` runs shard by shard, where a visit's rows all are.
        client.with_setting("insert_distributed_sync", "1").with_setting("distributed_product_mode", "local")
    } else {
        client
    }
}

/// The server's version string, e.g. `18.16.1` or `26.9.1.1`.
pub async fn server_version(client: &clickhouse::Client) -> clickhouse::error::Result<String> {
    client.query("SELECT version()").fetch_one::<String>().await
}
