//! Every SQL statement mesure sends, rendered with sample values, for checking the SQL on
//! another server version (`mesure sql-catalog`, run through `chdb-core` by
//! `scripts/chdb_check.py`: ClickHouse 26.x, where the tests' server is 18.16).

use crate::config::SiteConfig;
use crate::query::request::StatsRequest;
use crate::query::{Scope, stats, totals_query};
use crate::store::dialect::Dialect;
use crate::store::{erasure, migrations, retention};

/// One statement: where it comes from, and its text with sample values bound.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Statement {
    pub name: String,
    pub sql: String,
}

/// The statements, in an order that runs on an empty database: schema first.
pub fn statements(dialect: Dialect) -> Vec<Statement> {
    let client = clickhouse::Client::default();
    let mut out = Vec::new();
    let mut add = |name: &str, sql: String| out.push(Statement { name: name.to_string(), sql });
    add("migrations: ledger", migrations::LEDGER_DDL.to_string());
    for migration in migrations::MIGRATIONS {
        for (i, sql) in migrations::statements(migration.sql).into_iter().enumerate() {
            add(&format!("{} #{}", migration.name, i + 1), sql);
        }
    }
    add(
        "sample row",
        "INSERT INTO events (site_id, timestamp, retention_days, visitor_id, visit_id, event_type, url_path) \
         VALUES (1, toDateTime(1600000000), 180, 42, 7, 'pageview', '/old'), \
                (1, now(), 180, 43, 8, 'pageview', '/new')"
            .to_string(),
    );
    if let Some(ttl) = dialect.retention_ttl(395, None) {
        add("retention TTL (second guard)", ttl);
    }
    let site = SiteConfig { timezone: "Europe/Paris".into(), ..SiteConfig::with_defaults(1, "example.org") };
    let now = 1_790_000_000;
    add("stats: totals", totals_query(&client, &Scope::new(&site, 0, now, now)).sql_display().to_string());
    let stats_requests = [
        r#"{"site_id": 1, "metrics": ["visitors", "visits", "pageviews", "views_per_visit", "bounce_rate", "visit_duration", "events", "conversions", "conversion_rate"], "date_range": "7d",
            "filters": [["is", "visit:country", ["FR"]], ["is_not", "visit:browser", ["Chrome"]], ["contains", "event:page", ["/blog"]], ["is", "visit:entry_page", ["/"]]]}"#,
        r#"{"site_id": 1, "metrics": ["visitors", "pageviews", "events", "conversions"], "date_range": "30d", "dimensions": ["event:page", "event:props:plan"], "filters": [["contains", "visit:source", ["goo"]]], "order_by": [["pageviews", "desc"]]}"#,
        r#"{"site_id": 1, "metrics": ["visits", "bounce_rate"], "date_range": "month", "dimensions": ["visit:exit_page", "time:week"]}"#,
        r#"{"site_id": 1, "metrics": ["visitors"], "date_range": "year", "dimensions": ["time:hour", "time:month", "visit:channel"]}"#,
        r#"{"site_id": 1, "metrics": ["visitors", "conversions"], "date_range": "7d", "dimensions": ["event:goal"]}"#,
    ];
    for (i, body) in stats_requests.iter().enumerate() {
        let request = StatsRequest::from_json(body.as_bytes()).expect("a valid sample request");
        let sql = stats::build(&request, &site, &Scope::new(&site, now - 86_400 * 7, now, now));
        add(&format!("stats: sample request {}", i + 1), sql.query(&client).sql_display().to_string());
    }
    add(
        "stats: calendar day in the site's time zone",
        client.query(stats::TODAY_SQL).bind(now as u32).bind("Europe/Paris").sql_display().to_string(),
    );
    add(
        "stats: local midnights to UTC",
        client
            .query(stats::MIDNIGHTS_SQL)
            .bind("2026-01-01 00:00:00")
            .bind("Europe/Paris")
            .bind("2026-01-08 00:00:00")
            .bind("Europe/Paris")
            .sql_display()
            .to_string(),
    );
    add("retention: plan", retention::PLAN_SQL.to_string());
    let drop = retention::PartitionDrop { retention_days: 180, day: 20200913, rows: 1 };
    add("retention: drop partition", retention::drop_partition_sql(&drop, None));
    let deletion = retention::RowDeletion { site_id: 1, retention_days: 180, before: 1_700_000_000, rows: 1 };
    add("retention: scoped mutation", retention::deletion(&client, &deletion, None).sql_display().to_string());
    for table in erasure::VISITOR_TABLES {
        add("erasure: count", bind_visitor(&client, &erasure::count_sql(table)));
        add("erasure: delete", bind_visitor(&client, &erasure::delete_sql(table, None)));
    }
    add("erasure: export", bind_visitor(&client, &erasure::EXPORT_SQL.replace("?fields", "*")));
    add("erasure: ledger", erasure::LEDGER_SQL.to_string());
    add("erasure: pending mutations", erasure::PENDING_MUTATIONS_SQL.to_string());
    out
}

fn bind_visitor(client: &clickhouse::Client, sql: &str) -> String {
    client.query(sql).bind(1u32).bind(42u64).sql_display().to_string()
}
