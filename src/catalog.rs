//! The SQL catalog: every statement mesure sends, rendered with sample values, for checking the
//! SQL on another server version (`mesure sql-catalog`, run through `chdb-core` by
//! `scripts/chdb_check.py` on ClickHouse 26.x, and by a test on the tests' 18.16).
//!
//! It is generated from the [`Store`]: the migration files, then every statement of
//! [`crate::store::statements::ALL`] the server supports, then sample stats queries of each
//! shape the query builder makes. A statement added to the store is in it without anyone
//! remembering to add it.

use crate::config::SiteConfig;
use crate::query::metrics::Metric;
use crate::query::request::{BadRequest, FilterTree, Operator, StatsRequest, dimension_names};
use crate::query::{Scope, totals_query};
use crate::store::dialect::Dialect;
use crate::store::migrations::{self, LEDGER_DDL, MIGRATIONS};
use crate::store::{Store, statements};

/// One statement: where it comes from, and its text with sample values bound.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Statement {
    pub name: String,
    pub sql: String,
}

/// The stats requests whose SQL the catalog samples: every metric, filter operator and
/// dimension kind, both query shapes.
const STATS_SAMPLES: [&str; 13] = [
    r#"{"site_id": 1, "metrics": ["visitors", "visits", "pageviews", "views_per_visit", "bounce_rate", "visit_duration", "events", "conversions", "conversion_rate"], "date_range": "7d",
        "filters": [["is", "visit:country", ["FR"]], ["is_not", "visit:browser", ["Chrome"]], ["contains", "event:page", ["/blog"]], ["is", "visit:entry_page", ["/"]]]}"#,
    r#"{"site_id": 1, "metrics": ["visitors", "pageviews", "events", "conversions"], "date_range": "30d", "dimensions": ["event:page", "event:props:plan"], "filters": [["contains", "visit:source", ["goo"]]], "order_by": [["pageviews", "desc"]]}"#,
    r#"{"site_id": 1, "metrics": ["visits", "bounce_rate"], "date_range": "month", "dimensions": ["visit:exit_page", "time:week"]}"#,
    r#"{"site_id": 1, "metrics": ["visitors"], "date_range": "year", "dimensions": ["time:hour", "time:month", "visit:channel"]}"#,
    r#"{"site_id": 1, "metrics": ["visitors", "conversions"], "date_range": "7d", "dimensions": ["event:goal"]}"#,
    r#"{"site_id": 1, "metrics": ["orders", "total_revenue", "average_revenue", "bounce_rate"], "date_range": "30d", "dimensions": ["visit:source"]}"#,
    r#"{"site_id": 1, "metrics": ["orders", "total_revenue", "average_revenue"], "date_range": "7d", "dimensions": ["event:page"], "filters": [["matches", "event:page", ["^/shop/[0-9]+$"]], ["contains_not", "event:name", ["test"]], ["matches_not", "visit:source", ["spam|junk"]]]}"#,
    r#"{"site_id": 1, "metrics": ["load_time", "quantity", "impressions", "interactions", "bounce_rate"], "date_range": "7d", "filters": [["is", "event:product_sku", ["S1"]], ["contains", "event:product_name", ["sho"]]]}"#,
    r#"{"site_id": 1, "metrics": ["pageviews", "orders", "quantity", "total_revenue", "average_revenue", "load_time"], "date_range": "7d", "dimensions": ["event:product_category"], "filters": [["is_not", "event:product_sku", ["S1"]]]}"#,
    r#"{"site_id": 1, "metrics": ["impressions", "interactions"], "date_range": "7d", "dimensions": ["event:content_name", "event:content_piece", "event:content_target"]}"#,
    r#"{"site_id": 1, "metrics": ["pageviews", "load_time", "quantity"], "date_range": "7d", "dimensions": ["event:page"], "filters": [["contains", "event:product_category", ["a", "b"]]]}"#,
    r#"{"site_id": 1, "metrics": ["visitors", "scroll_depth", "time_on_page"], "date_range": "7d", "dimensions": ["event:page", "visit:country", "time:day"], "filters": [["is", "visit:entry_page", ["/"]], ["contains", "event:product_name", ["x"]]]}"#,
    r#"{"site_id": 1, "metrics": ["visits", "pageviews", "page_time", "visitors"], "date_range": "7d", "dimensions": ["event:page"], "filters": [["contains", "event:page", ["/a"]]]}"#,
];

/// The statements for a server of `dialect`, in an order that runs on an empty database:
/// schema first, then a sample row for the statements that change rows to work on.
pub fn statements(dialect: Dialect) -> Vec<Statement> {
    let store = Store::offline(dialect);
    let mut out = Vec::new();
    let mut add = |name: &str, sql: String| out.push(Statement { name: name.to_string(), sql });
    add("migrations: ledger", LEDGER_DDL.to_string());
    for migration in MIGRATIONS {
        for (i, sql) in migrations::split_statements(migration.sql).into_iter().enumerate() {
            add(&format!("{} #{}", migration.name, i + 1), sql);
        }
    }
    // An old row (2020-09-13, which the retention samples delete) and a recent one.
    add(
        "sample row",
        "INSERT INTO events (site_id, timestamp, retention_days, visitor_id, visit_id, event_type, url_path) \
         VALUES (1, toDateTime(1600000000), 180, 42, 7, 'pageview', '/old'), \
                (1, now(), 180, 43, 8, 'pageview', '/new')"
            .to_string(),
    );
    for statement in statements::ALL.iter().filter(|s| store.supports(s)) {
        add(&format!("store: {}", statement.name), store.sample_text(statement));
    }
    // A site with an event goal and a page goal: every conversion and goal statement carries both.
    let site = SiteConfig {
        timezone: "Europe/Paris".into(),
        goals: vec!["Signup".into(), "Visit /contact/thanks*".into(), "Visit /blog/**".into()],
        ..SiteConfig::with_defaults(1, "example.org")
    };
    let now = 1_790_000_000;
    add("stats: totals", store.built_text(&totals_query(&Scope::new(&site, 0, now, now))));
    let scope = Scope::new(&site, now - 86_400 * 7, now, now);
    for (i, body) in STATS_SAMPLES.iter().enumerate() {
        let request = StatsRequest::from_json(body.as_bytes()).expect("a valid sample request");
        let sql = crate::query::sql::build(&request, &site, &scope).expect("a sample the engine computes");
        add(&format!("stats: sample request {}", i + 1), store.built_text(&sql));
    }
    for (name, request) in combinations() {
        if let Ok(sql) =
            request.map_err(|_| ()).and_then(|r| crate::query::sql::build(&r, &site, &scope).map_err(|_| ()))
        {
            add(&format!("stats: {name}"), store.built_text(&sql));
        }
    }
    out
}

/// The combination table: every metric alone, every pair of metrics, every metric by every
/// dimension (alone and beside a time bucket), every filter operator on every dimension,
/// case-sensitive and not, under a visit-level, an event-level and a per-visit metric, and
/// every dimension filtered by itself under a per-visit and a per-page-visit metric. Each is a
/// request the engine either builds (then its SQL is in the catalog, run on both servers) or
/// refuses with a message.
pub fn combinations() -> Vec<(String, Result<StatsRequest, BadRequest>)> {
    let metrics: Vec<&str> = Metric::all().map(Metric::name).collect();
    let dimensions: Vec<&str> = dimension_names().chain(["event:props:plan"]).collect();
    let request = |metrics: &[&str], dimensions: &[&str], filters: serde_json::Value| {
        let body = serde_json::json!({"site_id": 1, "metrics": metrics, "date_range": "7d", "dimensions": dimensions, "filters": filters});
        StatsRequest::from_json(body.to_string().as_bytes())
    };
    let none = serde_json::json!([]);
    let mut out = Vec::new();
    for (i, m) in metrics.iter().enumerate() {
        out.push((m.to_string(), request(&[m], &[], none.clone())));
        for other in &metrics[i + 1..] {
            out.push((format!("{m}, {other}"), request(&[m, other], &[], none.clone())));
        }
        for d in &dimensions {
            out.push((format!("{m} by {d}"), request(&[m], &[d], none.clone())));
            out.push((format!("{m} by {d} and time:day"), request(&[m], &[d, "time:day"], none.clone())));
        }
    }
    for (op, _) in Operator::ALL {
        for d in dimensions.iter().filter(|d| !d.starts_with("time")) {
            // Values with re2 syntax and a `?`, which must stay bound values.
            let filter = serde_json::json!([[op, d, ["a(b)?c", "/x?"]]]);
            for m in ["visitors", "pageviews", "bounce_rate"] {
                out.push((format!("{m} where {op} {d}"), request(&[m], &[], filter.clone())));
            }
            let mut any_case = request(&["visitors"], &["event:page"], filter.clone());
            if let Ok(r) = &mut any_case {
                for tree in &mut r.filters {
                    if let FilterTree::Leaf(leaf) = tree {
                        leaf.case_sensitive = false;
                    }
                }
            }
            out.push((format!("visitors by event:page where {op} {d}, any case"), any_case));
        }
    }
    // A dimension filtered by itself, over visits and over page visits: the grouping
    // subqueries carry the dimension's column under another name than the one the filter reads.
    for d in dimensions.iter().filter(|d| !d.starts_with("time")) {
        let filter = serde_json::json!([["is", d, ["x"]]]);
        for m in ["bounce_rate", "scroll_depth"] {
            out.push((format!("{m} by {d} where is {d}"), request(&[m], &[d], filter.clone())));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every statement of the store is in the catalog of a server that supports it.
    #[test]
    fn the_catalog_has_every_store_statement() {
        let old = statements(Dialect::from_version("18.16.1"));
        let new = statements(Dialect::from_version("26.9.1"));
        for statement in statements::ALL {
            let name = format!("store: {}", statement.name);
            assert!(new.iter().any(|s| s.name == name), "{name} missing from the catalog");
            let on_old = old.iter().any(|s| s.name == name);
            assert_eq!(on_old, statement.needs == statements::Needs::Nothing, "{name} on 18.16");
        }
        // Every combination is built or refused with a message; every metric is answered alone
        // and every dimension splits visitors.
        let site = SiteConfig::with_defaults(1, "example.org");
        let scope = Scope::new(&site, 1_789_000_000, 1_790_000_000, 1_790_000_000);
        let mut built = std::collections::HashSet::new();
        for (name, request) in combinations() {
            let outcome = request.and_then(|r| crate::query::sql::build(&r, &site, &scope));
            match outcome {
                Ok(_) => {
                    built.insert(name);
                }
                Err(refusal) => assert!(!refusal.message.is_empty(), "{name}: refused without a message"),
            }
        }
        for metric in Metric::all() {
            assert!(built.contains(metric.name()), "{} alone is refused", metric.name());
        }
        for d in dimension_names() {
            assert!(built.contains(&format!("visitors by {d}")), "visitors by {d} is refused");
        }
        // No statement of the catalog writes a placeholder the client did not fill.
        for s in &new {
            assert!(!s.sql.contains("{alter:") && !outside_literals(&s.sql).contains('?'), "{}: {}", s.name, s.sql);
        }
    }

    /// The text of `sql` outside its single-quoted literals (where bound values land).
    fn outside_literals(sql: &str) -> String {
        let (mut out, mut quoted, mut escaped) = (String::new(), false, false);
        for c in sql.chars() {
            match (quoted, escaped, c) {
                (true, true, _) => escaped = false,
                (true, false, '\\') => escaped = true,
                (_, false, '\'') => quoted = !quoted,
                (false, _, c) => out.push(c),
                _ => {}
            }
        }
        out
    }

    #[test]
    fn literals_are_told_from_text() {
        assert_eq!(outside_literals(r"match(x, 'a?\'?') AND y = ?"), "match(x, ) AND y = ?");
    }
}
