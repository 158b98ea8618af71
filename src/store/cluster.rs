//! Cluster mode (`clickhouse.cluster = "NAME"`): where the schema and the statements that
//! change data differ from single-node mode. ClickHouse is the distributed engine; mesure only
//! names the tables right.
//!
//! Every table `T` of `schema/` becomes a `ReplicatedMergeTree` table `T_local` on every node
//! (ZooKeeper path `/clickhouse/tables/{shard}/DATABASE/T`, replica `{replica}`) and a
//! `Distributed` table `T` in front of it, both created `ON CLUSTER`. Reads and inserts use `T`
//! (a visitor's events stay on one shard: `events` is sharded by `cityHash64(site_id,
//! visitor_id)`); statements that change stored rows (partition drops, mutations, TTL) go to
//! `T_local ON CLUSTER`, so they run on every shard. Single-node mode is unchanged.

/// A cluster and the database mesure uses on it. Tables are named with their database in
/// `ON CLUSTER` statements: the other nodes run them in their own default database otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cluster {
    pub name: String,
    pub database: String,
}

impl Cluster {
    /// The cluster of a configuration, if it names one.
    pub fn of(config: &crate::config::ClickHouseConfig) -> Option<Cluster> {
        config.cluster.as_ref().map(|name| Cluster { name: name.clone(), database: config.database.clone() })
    }
}

/// The sharding key of a table's distributed table.
fn sharding_key(table: &str) -> &'static str {
    match table {
        "events" => "cityHash64(site_id, visitor_id)",
        _ => "rand()",
    }
}

/// The table an `ALTER` that changes stored rows goes to.
pub(crate) fn alter_target(table: &str, cluster: Option<&Cluster>) -> String {
    match cluster {
        None => table.to_string(),
        Some(c) => format!("`{}`.{table}_local ON CLUSTER `{}`", c.database, c.name),
    }
}

/// `CREATE DATABASE` for the mode.
pub(crate) fn create_database(database: &str, cluster: Option<&Cluster>) -> String {
    match cluster {
        None => format!("CREATE DATABASE IF NOT EXISTS `{database}`"),
        Some(c) => format!("CREATE DATABASE IF NOT EXISTS `{database}` ON CLUSTER `{}`", c.name),
    }
}

/// Rewrites one migration statement for the mode (single node: unchanged).
pub fn migration(statement: &str, cluster: Option<&Cluster>) -> Vec<String> {
    let Some(cl) = cluster else { return vec![statement.to_string()] };
    let (c, database) = (cl.name.as_str(), cl.database.as_str());
    const CREATE: &str = "CREATE TABLE IF NOT EXISTS ";
    if let Some(rest) = statement.strip_prefix(CREATE)
        && statement.contains("ENGINE = MergeTree")
    {
        let table: String = rest.chars().take_while(|ch| ch.is_ascii_alphanumeric() || *ch == '_').collect();
        let local = statement
            .replacen(&format!("{CREATE}{table}"), &format!("{CREATE}`{database}`.{table}_local ON CLUSTER `{c}`"), 1)
            .replacen(
                "ENGINE = MergeTree",
                &format!(
                    "ENGINE = ReplicatedMergeTree('/clickhouse/tables/{{shard}}/{database}/{table}', '{{replica}}')"
                ),
                1,
            );
        return vec![local, distributed(&table, database, c)];
    }
    if let Some(rest) = statement.strip_prefix("ALTER TABLE ") {
        let table: String = rest.chars().take_while(|ch| ch.is_ascii_alphanumeric() || *ch == '_').collect();
        let action = &rest[table.len()..];
        // A distributed table takes new columns by being created again over its local table.
        return vec![
            format!("ALTER TABLE `{database}`.{table}_local ON CLUSTER `{c}`{action}"),
            format!("DROP TABLE IF EXISTS `{database}`.{table} ON CLUSTER `{c}`"),
            distributed(&table, database, c),
        ];
    }
    vec![statement.to_string()]
}

fn distributed(table: &str, database: &str, cluster: &str) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS `{database}`.{table} ON CLUSTER `{cluster}` AS `{database}`.{table}_local \
         ENGINE = Distributed(`{cluster}`, `{database}`, {table}_local, {})",
        sharding_key(table)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_node_is_unchanged() {
        let sql = "CREATE TABLE IF NOT EXISTS events (a UInt8) ENGINE = MergeTree ORDER BY a";
        assert_eq!(migration(sql, None), vec![sql.to_string()]);
        assert_eq!(alter_target("events", None), "events");
    }

    #[test]
    fn cluster_tables_are_replicated_behind_distributed_ones() {
        let c = Cluster { name: "mesure".into(), database: "db".into() };
        let sql = "CREATE TABLE IF NOT EXISTS events\n(\n    a UInt8\n)\nENGINE = MergeTree\nORDER BY a";
        let out = migration(sql, Some(&c));
        assert_eq!(out.len(), 2);
        assert!(
            out[0].starts_with("CREATE TABLE IF NOT EXISTS `db`.events_local ON CLUSTER `mesure`\n("),
            "{}",
            out[0]
        );
        assert!(out[0].contains("ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/db/events', '{replica}')"));
        assert_eq!(
            out[1],
            "CREATE TABLE IF NOT EXISTS `db`.events ON CLUSTER `mesure` AS `db`.events_local ENGINE = Distributed(`mesure`, `db`, events_local, cityHash64(site_id, visitor_id))"
        );
        let alter = migration("ALTER TABLE events ADD COLUMN x UInt8 DEFAULT 0", Some(&c));
        assert_eq!(alter[0], "ALTER TABLE `db`.events_local ON CLUSTER `mesure` ADD COLUMN x UInt8 DEFAULT 0");
        assert_eq!(alter[1], "DROP TABLE IF EXISTS `db`.events ON CLUSTER `mesure`");
        assert_eq!(alter_target("salts", Some(&c)), "`db`.salts_local ON CLUSTER `mesure`");
    }
}
