//! The SQL of a validated stats request, with every user value bound.
//!
//! Three query shapes: over hits (rows are `events`) for breakdowns by page, hostname, event
//! name, goal, content, product or custom property (a product dimension spreads orders and carts
//! into one row per item, [`ITEM_JOIN`]); over visits (rows are visits, aggregated per
//! `visit_id` in a subquery) when a per-visit metric or the entry/exit page is asked for; over
//! page visits (a visit's rows of one page) for scroll depth and time on page. Acquisition,
//! place and device columns are the same on every hit of a visit, so they serve every shape.
//! Each metric's SQL in each shape is its row of [`crate::query::metrics::METRICS`].

use std::fmt::Write as _;

use crate::config::SiteConfig;
use crate::query::Scope;
use crate::query::goals;
use crate::query::metrics::{ACTION, EARNED, LOAD_TIME, Metric, OverHits, QUANTITY, REVENUE, TIMED_PAGE_VIEW, TIMINGS};
use crate::query::request::{
    BadRequest, Dimension, Filter, FilterTree, Level, Operator, OrderKey, StatsRequest, TimeBucket,
};
use crate::store::sql::Sql;

/// The time zone and goals a query needs from the site.
struct Context<'a> {
    time_zone: &'a str,
    goals: &'a [String],
}

/// The condition "this hit is a conversion": a Matomo goal hit, a custom event of one of the
/// site's goals (every custom event when it has none), or a page view of one of its page goals
/// ([`goals`]).
fn conversion(ctx: &Context<'_>) -> Sql {
    let mut sql = Sql::default();
    if ctx.goals.is_empty() {
        sql.push("event_type IN ('goal', 'event')");
        return sql;
    }
    let (events, pages) = site_goals(ctx);
    sql.push("(event_type = 'goal'");
    if !events.is_empty() {
        sql.push(" OR (event_type = 'event' AND event_name IN (").bind_list(&events, ", ").push("))");
    }
    if !pages.is_empty() {
        sql.push(" OR (event_type = 'pageview' AND (");
        for (i, (_, pattern)) in pages.iter().enumerate() {
            sql.push(if i == 0 { "match(url_path, " } else { " OR match(url_path, " }).bind_str(pattern).push(")");
        }
        sql.push("))");
    }
    sql.push(")");
    sql
}

/// The site's event goals (names) and page goals (name, path pattern).
fn site_goals<'c>(ctx: &Context<'c>) -> (Vec<String>, Vec<(&'c str, String)>) {
    let (mut events, mut pages) = (Vec::new(), Vec::new());
    for goal in ctx.goals {
        match goals::parse(goal) {
            goals::Goal::Event(name) => events.push(name.to_string()),
            goals::Goal::Page { name, pattern } => pages.push((name, pattern)),
        }
    }
    (events, pages)
}

/// The goal a hit reached: `Goal N` for Matomo's goal N, the first page goal a page view
/// matches, or the custom event's name (the conversion condition keeps only goals' rows).
fn goal_expr(ctx: &Context<'_>) -> Sql {
    let (_, pages) = site_goals(ctx);
    let mut sql = Sql::default();
    sql.push("multiIf(event_type = 'goal', concat('Goal ', toString(goal_id)), ");
    if !pages.is_empty() {
        sql.push("event_type = 'pageview', multiIf(");
        for (name, pattern) in &pages {
            sql.push("match(url_path, ").bind_str(pattern).push("), ").bind_str(name).push(", ");
        }
        sql.push("''), ");
    }
    sql.push("event_name)");
    sql
}

/// The SQL expression of a dimension over `events` rows (or, for the time buckets of a
/// visit-level query, over the visit's `start`). A product reads the spread item (`item`, see
/// [`ITEM_JOIN`]): the page's product when it is 0, else that item of the order or cart.
fn dimension_expr(d: &Dimension, ctx: &Context<'_>, time_column: &str) -> Sql {
    let mut sql = Sql::default();
    match d {
        Dimension::Time(bucket) => {
            let f = match bucket {
                TimeBucket::Hour => "toString(toStartOfHour(",
                TimeBucket::Day => "toString(toDate(",
                TimeBucket::Week => "toString(toMonday(toDate(",
                TimeBucket::Month => "toString(toStartOfMonth(toDate(",
            };
            sql.push(f).push(time_column).push(", ").bind_str(ctx.time_zone);
            sql.push(if matches!(bucket, TimeBucket::Week | TimeBucket::Month) { ")))" } else { "))" });
        }
        Dimension::HourOfDay => {
            sql.push("toString(toHour(").push(time_column).push(", ").bind_str(ctx.time_zone).push("))");
        }
        Dimension::Prop(key) => {
            sql.push("prop_values[indexOf(prop_keys, ").bind_str(key).push(")]");
        }
        Dimension::Goal => {
            sql.append(goal_expr(ctx));
        }
        other => {
            let column = other.column().expect("a fixed dimension has a column");
            match other.items_column() {
                Some(items) => sql.push(&format!("if(item = 0, {column}, {items}[item])")),
                None => sql.push(column),
            };
        }
    }
    sql
}

/// Spreads each order and cart update into one row per item (`item` = 1, 2, …); every other
/// event stays one row with `item` = 0. Used when a product is a dimension.
const ITEM_JOIN: &str =
    " ARRAY JOIN if(event_type IN ('order', 'cart'), arrayEnumerate(ec_item_skus), [toUInt32(0)]) AS item";

/// A filter on a product over unspread rows: the event's product, or any of its items, passes
/// (for a negative operator: none of them matches the positive test).
fn product_condition(filter: &Filter) -> Sql {
    let column = filter.dimension.column().expect("a product has a column");
    let items = filter.dimension.items_column().expect("a product has items");
    let mut x = Sql::default();
    x.push("x");
    let mut sql = Sql::default();
    sql.push(if filter.operator.is_negative() { "NOT arrayExists(x -> " } else { "arrayExists(x -> " });
    sql.append(matches_any(filter, x)).push(&format!(", arrayPushFront({items}, {column}))"));
    sql
}

/// A filter on an event-level or visit-level dimension over rows of `events`, spread into items
/// (`spread`) or not.
fn row_condition(filter: &Filter, ctx: &Context<'_>, spread: bool) -> Sql {
    if filter.dimension.level() == Level::Item && !spread {
        product_condition(filter)
    } else {
        condition(filter, dimension_expr(&filter.dimension, ctx, "timestamp"))
    }
}

/// The name a column carried through a grouping subquery has there. Not the column's own:
/// ClickHouse reads an alias wherever its name appears in the query, so `any(country_code) AS
/// country_code` would turn a filter on `country_code` in the same subquery's WHERE into an
/// aggregate.
fn carried_alias(column: &str) -> String {
    format!("v_{column}")
}

/// A dimension as the query over a grouping subquery reads it: a carried column by its alias
/// there (page visits also carry their host), anything else as over `events` rows (time
/// buckets of the group's `start`).
fn over_groups(d: &Dimension, ctx: &Context<'_>, grouping: Grouping) -> Sql {
    let host = (grouping == Grouping::PageVisit && *d == Dimension::Hostname).then_some("url_host");
    match visit_column(d).or(host) {
        Some(column) => {
            let mut sql = Sql::default();
            sql.push(&carried_alias(column));
            sql
        }
        None => dimension_expr(d, ctx, "start"),
    }
}

/// The visit-level column a visit-level dimension reads (carried through the subquery).
fn visit_column(d: &Dimension) -> Option<&'static str> {
    (d.level() == Level::Visit).then(|| d.column()).flatten()
}

/// Whether `expr` passes `filter`.
fn condition(filter: &Filter, expr: Sql) -> Sql {
    let mut sql = Sql::default();
    if filter.operator.is_negative() {
        sql.push("NOT ");
    }
    sql.append(matches_any(filter, expr));
    sql
}

/// Whether `expr` passes the positive form of `filter`'s operator for any of its values: equal
/// (`is`, `is_not`), holds (`contains`, `contains_not`) or matches the regular expression
/// (`matches`, `matches_not`; ClickHouse's re2, linear in time), case-insensitively unless
/// `case_sensitive`. Values are always bound.
fn matches_any(filter: &Filter, expr: Sql) -> Sql {
    let mut sql = Sql::default();
    sql.push("(");
    for (i, v) in filter.values.iter().enumerate() {
        if i > 0 {
            sql.push(" OR ");
        }
        match (filter.operator, filter.case_sensitive) {
            (Operator::Is | Operator::IsNot, true) => {
                sql.append(expr.clone()).push(" = ").bind_str(v);
            }
            (Operator::Is | Operator::IsNot, false) => {
                sql.push("lowerUTF8(").append(expr.clone()).push(") = lowerUTF8(").bind_str(v).push(")");
            }
            (Operator::Contains | Operator::ContainsNot, true) => {
                sql.push("positionUTF8(").append(expr.clone()).push(", ").bind_str(v).push(") > 0");
            }
            (Operator::Contains | Operator::ContainsNot, false) => {
                sql.push("positionCaseInsensitiveUTF8(").append(expr.clone()).push(", ").bind_str(v).push(") > 0");
            }
            (Operator::Matches | Operator::MatchesNot, sensitive) => {
                // re2's case-insensitive flag is part of the bound pattern: a `?` in the text
                // would be read as a placeholder.
                sql.push("match(").append(expr.clone()).push(", ");
                if sensitive {
                    sql.bind_str(v);
                } else {
                    sql.bind_str(&format!("(?i){v}"));
                }
                sql.push(")");
            }
        }
    }
    sql.push(")");
    sql
}

/// The condition of a filter tree, each leaf's given by `leaf`.
fn tree_condition(tree: &FilterTree, leaf: &dyn Fn(&Filter) -> Sql) -> Sql {
    let mut sql = Sql::default();
    match tree {
        FilterTree::Leaf(filter) => {
            sql.append(leaf(filter));
        }
        FilterTree::Not(inner) => {
            sql.push("NOT (").append(tree_condition(inner, leaf)).push(")");
        }
        FilterTree::And(trees) | FilterTree::Or(trees) => {
            let joint = if matches!(tree, FilterTree::And(_)) { " AND " } else { " OR " };
            sql.push("(");
            for (i, t) in trees.iter().enumerate() {
                if i > 0 {
                    sql.push(joint);
                }
                sql.append(tree_condition(t, leaf));
            }
            sql.push(")");
        }
    }
    sql
}

/// Visits (ids) whose entry or exit page passes `filter`.
fn visits_by_landing(filter: &Filter, scope: &Scope) -> Sql {
    let column = if filter.dimension == Dimension::EntryPage { "entry_page" } else { "exit_page" };
    let mut sql = Sql::default();
    sql.push("visit_id IN (SELECT visit_id FROM (SELECT visit_id, ");
    sql.push("argMinIf(url_path, timestamp, event_type = 'pageview') AS entry_page, ");
    sql.push("argMaxIf(url_path, timestamp, event_type = 'pageview') AS exit_page FROM events WHERE ");
    sql.append(scope.condition()).push(" GROUP BY visit_id) WHERE ");
    let mut expr = Sql::default();
    expr.push(column);
    sql.append(condition(filter, expr)).push(")");
    sql
}

/// Visits (ids) with a hit passing an event-level filter.
fn visits_with_event(filter: &Filter, scope: &Scope, ctx: &Context<'_>) -> Sql {
    let mut sql = Sql::default();
    sql.push("visit_id IN (SELECT visit_id FROM events WHERE ").append(scope.condition()).push(" AND ");
    sql.append(row_condition(filter, ctx, false)).push(")");
    sql
}

/// A metric over hits (`events` rows), spread into items (`spread`) or not.
fn over_hits(metric: Metric, ctx: &Context<'_>, spread: bool) -> Result<Sql, BadRequest> {
    let mut sql = Sql::default();
    match metric.spec().over_hits {
        OverHits::Fixed(expr) => sql.push(expr),
        OverHits::Spread { whole, per_item } => sql.push(if spread { per_item } else { whole }),
        OverHits::Conversions => sql.push("toFloat64(uniqExactIf(visit_id, ").append(conversion(ctx)).push("))"),
        OverHits::No => return Err(not_in_shape(metric, "hits")),
    };
    Ok(sql)
}

/// A metric over the per-visit subquery's rows.
fn over_visits(metric: Metric) -> Result<&'static str, BadRequest> {
    Some(metric.spec().over_visits).filter(|s| !s.is_empty()).ok_or_else(|| not_in_shape(metric, "visits"))
}

/// A metric over the page-visit subquery's rows ([`page_visits`]).
fn over_page_visits(metric: Metric) -> Result<&'static str, BadRequest> {
    Some(metric.spec().over_page_visits).filter(|s| !s.is_empty()).ok_or_else(|| not_in_shape(metric, "page visits"))
}

/// The refusal of a combination the shape cannot compute (the request's checks refuse it first,
/// with a better message; this is the floor under them).
fn not_in_shape(metric: Metric, shape: &str) -> BadRequest {
    BadRequest {
        parameter: "metrics".into(),
        message: format!(
            "{} cannot be computed over {shape} together with the other metrics and dimensions asked",
            metric.name()
        ),
    }
}

/// The page visits in `scope` (a visit's rows of one page: its views and their engagement),
/// with what the page-visit metrics and the allowed dimensions read: the deepest scroll any
/// engagement reported, the engaged time, and the visit-level columns carried through.
fn page_visits(request: &StatsRequest, scope: &Scope, ctx: &Context<'_>) -> Sql {
    let mut sql = Sql::default();
    sql.push("(SELECT visit_id, url_path, any(visitor_id) AS visitor_id, any(url_host) AS v_url_host, ");
    sql.push("min(timestamp) AS start, ");
    sql.push("maxIf(scroll_depth, event_type = 'engagement' AND scroll_depth <= 100) AS page_scroll, ");
    sql.push("countIf(event_type = 'engagement' AND scroll_depth <= 100) > 0 AS scrolled, ");
    sql.push("sumIf(engaged_ms, event_type = 'engagement') AS page_engaged_ms, ");
    sql.push("countIf(event_type = 'engagement' AND engaged_ms > 0) > 0 AS engaged, ");
    sql.push("countIf(event_type = 'pageview') AS page_views");
    sql.append(carried_and_filtered(request, scope, ctx, Grouping::PageVisit));
    sql.push(" GROUP BY visit_id, url_path)");
    if !request.metrics.contains(&Metric::PageTime) {
        return sql;
    }
    let mut joined = Sql::default();
    // Current servers want joined subqueries named.
    joined.push("(SELECT * FROM ").append(sql).push(" AS page_visit ANY LEFT JOIN ").append(page_times(scope));
    joined.push(" AS page_gaps USING (visit_id, url_path))");
    joined
}

/// Matomo's time on page in `scope`: per visit and page (`visit_id`, `url_path`), `page_time`,
/// the seconds from each of the page's hits to the visit's next hit, added up. Over every hit
/// of the visit, whatever the request's filters keep (a filtered-out hit still ends the time
/// on the page before it). Ties in time keep the visit's order of pages by name; the visit's
/// last hit adds nothing (Matomo's rule without heartbeats; a heartbeat is a hit).
fn page_times(scope: &Scope) -> Sql {
    let mut sql = Sql::default();
    sql.push("(SELECT visit_id, tupleElement(hit, 1) AS url_path, sum(tupleElement(hit, 2)) AS page_time ");
    sql.push("FROM (SELECT visit_id, arraySort(groupArray((toUInt32(timestamp), url_path))) AS hits ");
    sql.push("FROM events WHERE ").append(scope.condition()).push(" GROUP BY visit_id) ");
    sql.push("ARRAY JOIN arrayMap(i -> (tupleElement(hits[i], 2), if(i < length(hits), ");
    sql.push("tupleElement(hits[i + 1], 1) - tupleElement(hits[i], 1), 0)), arrayEnumerate(hits)) AS hit ");
    sql.push("GROUP BY visit_id, url_path)");
    sql
}

/// What a per-visit or per-page-visit subquery groups.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Grouping {
    Visit,
    PageVisit,
}

/// The tail of a grouping subquery: the visit-level columns the dimensions read (the same on
/// every row of a group), then `FROM events WHERE` the scope and the filters. An event-level
/// filter keeps whole visits that include a matching hit when grouping by visit, and the
/// matching rows when grouping by page visit (the page is part of the group).
fn carried_and_filtered(request: &StatsRequest, scope: &Scope, ctx: &Context<'_>, grouping: Grouping) -> Sql {
    let mut sql = Sql::default();
    let mut carried: Vec<&str> = request.dimensions.iter().filter_map(visit_column).collect();
    carried.dedup();
    for column in carried {
        sql.push(&format!(", any({column}) AS {}", carried_alias(column)));
    }
    sql.push(" FROM events WHERE ").append(scope.condition());
    let leaf = |f: &Filter| {
        if f.dimension.is_visit_derived() {
            visits_by_landing(f, scope)
        } else if f.dimension.is_event_level() && grouping == Grouping::Visit {
            visits_with_event(f, scope, ctx)
        } else {
            row_condition(f, ctx, false)
        }
    };
    for tree in &request.filters {
        sql.push(" AND ").append(tree_condition(tree, &leaf));
    }
    sql
}

/// The SQL of a request over `scope`.
pub fn build(request: &StatsRequest, site: &SiteConfig, scope: &Scope) -> Result<Sql, BadRequest> {
    let ctx = Context { time_zone: &site.timezone, goals: &site.goals };
    let visit_level =
        request.metrics.iter().any(|m| m.is_visit_level()) || request.dimensions.iter().any(|d| d.is_visit_derived());
    let page_visit_level = request.metrics.iter().any(|m| m.is_page_visit_level());
    let mut sql = Sql::default();
    sql.push("SELECT ");
    if page_visit_level {
        for (i, d) in request.dimensions.iter().enumerate() {
            sql.append(over_groups(d, &ctx, Grouping::PageVisit)).push(&format!(" AS d{i}, "));
        }
        for (i, m) in request.metrics.iter().enumerate() {
            sql.push(over_page_visits(*m)?).push(&format!(" AS m{i}"));
            sql.push(if i + 1 < request.metrics.len() { ", " } else { " " });
        }
        sql.push("FROM ").append(page_visits(request, scope, &ctx));
    } else if visit_level {
        for (i, d) in request.dimensions.iter().enumerate() {
            sql.append(over_groups(d, &ctx, Grouping::Visit)).push(&format!(" AS d{i}, "));
        }
        for (i, m) in request.metrics.iter().enumerate() {
            sql.push(over_visits(*m)?).push(&format!(" AS m{i}"));
            sql.push(if i + 1 < request.metrics.len() { ", " } else { " " });
        }
        sql.push("FROM (SELECT visit_id, any(visitor_id) AS visitor_id, min(timestamp) AS start, ");
        sql.push("max(timestamp) - min(timestamp) AS duration, countIf(event_type = 'pageview') AS pageviews, ");
        sql.push("countIf(event_type = 'event') AS events, countIf(event_type = 'order') AS orders, ");
        sql.push(REVENUE).push(" AS revenue_total, ").push(QUANTITY).push(" AS quantity, ");
        sql.push(&format!("countIf({EARNED}) AS revenue_hits, "));
        sql.push("countIf(event_type = 'content_impression') AS impressions, ");
        sql.push("countIf(event_type = 'content_interaction') AS interactions, ");
        sql.push(&format!("countIf({ACTION}) AS actions, "));
        sql.push(&format!("groupArrayIf({LOAD_TIME}, {TIMED_PAGE_VIEW}) AS load_times, "));
        sql.push(&format!("countIf({TIMED_PAGE_VIEW}) AS timed_views, "));
        for column in TIMINGS {
            sql.push(&format!("sumIf({column}, {TIMED_PAGE_VIEW}) AS {column}_total, "));
        }
        sql.push("countIf(event_type = 'pageview') = 1 AND countIf(event_type IN ('event', 'outlink', 'download', 'search', 'goal', 'order', 'cart', 'content_interaction') AND non_interactive = 0) = 0 AS bounced, ");
        sql.push("countIf(").append(conversion(&ctx)).push(") > 0 AS converted, ");
        sql.push("argMinIf(url_path, timestamp, event_type = 'pageview') AS entry_page, ");
        sql.push("argMaxIf(url_path, timestamp, event_type = 'pageview') AS exit_page");
        sql.append(carried_and_filtered(request, scope, &ctx, Grouping::Visit));
        sql.push(" GROUP BY visit_id)");
    } else {
        let spread = request.dimensions.iter().any(|d| d.level() == Level::Item);
        for (i, d) in request.dimensions.iter().enumerate() {
            sql.append(dimension_expr(d, &ctx, "timestamp")).push(&format!(" AS d{i}, "));
        }
        for (i, m) in request.metrics.iter().enumerate() {
            sql.append(over_hits(*m, &ctx, spread)?).push(&format!(" AS m{i}"));
            sql.push(if i + 1 < request.metrics.len() { ", " } else { " " });
        }
        sql.push("FROM events");
        if spread {
            sql.push(ITEM_JOIN);
        }
        sql.push(" WHERE ").append(scope.condition());
        let leaf = |f: &Filter| {
            if f.dimension.is_visit_derived() { visits_by_landing(f, scope) } else { row_condition(f, &ctx, spread) }
        };
        for tree in &request.filters {
            sql.push(" AND ").append(tree_condition(tree, &leaf));
        }
        // Rows a dimension does not apply to would form an empty group.
        for d in &request.dimensions {
            if *d == Dimension::Goal {
                sql.push(" AND ").append(conversion(&ctx));
            } else if let Dimension::Prop(key) = d {
                sql.push(" AND has(prop_keys, ").bind_str(key).push(")");
            } else if d.skips_empty() {
                sql.push(" AND ").append(dimension_expr(d, &ctx, "timestamp")).push(" != ''");
            }
        }
    }
    if !request.dimensions.is_empty() {
        let groups: Vec<String> = (0..request.dimensions.len()).map(|i| format!("d{i}")).collect();
        sql.push(" GROUP BY ").push(&groups.join(", "));
        let mut order: Vec<String> = request
            .order_by
            .iter()
            .map(|(key, desc)| {
                let column = match key {
                    OrderKey::Metric(m) => format!("m{}", request.metrics.iter().position(|x| x == m).unwrap_or(0)),
                    OrderKey::Dimension(i) => format!("d{i}"),
                };
                format!("{column} {}", if *desc { "DESC" } else { "ASC" })
            })
            .collect();
        if order.is_empty() {
            if request.dimensions.iter().any(|d| matches!(d, Dimension::Time(_))) {
                order.extend(
                    request
                        .dimensions
                        .iter()
                        .enumerate()
                        .filter(|(_, d)| matches!(d, Dimension::Time(_)))
                        .map(|(i, _)| format!("d{i} ASC")),
                );
            } else {
                order.push("m0 DESC".into());
            }
        }
        order.extend(groups.iter().map(|g| format!("{g} ASC")));
        sql.push(" ORDER BY ").push(&order.join(", "));
        if request.limit > 0 {
            let _ = write!(sql.text, " LIMIT {}, {}", request.offset, request.limit);
        }
    }
    Ok(sql)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site() -> SiteConfig {
        SiteConfig { timezone: "Europe/Paris".into(), ..SiteConfig::with_defaults(1, "example.org") }
    }

    #[test]
    fn user_values_are_bound_never_spliced() {
        let request = StatsRequest::from_json(
            br#"{"site_id": 1, "metrics": ["visitors", "bounce_rate"], "date_range": "7d", "dimensions": ["visit:source"],
                "filters": [["is", "visit:country", ["FR'); DROP TABLE events; --"]], ["contains", "event:page", ["/blog"]]]}"#,
        )
        .unwrap();
        let sql = build(&request, &site(), &Scope { site_id: 1, from: 0, to: 100 }).unwrap();
        assert!(!sql.text.contains("DROP"), "{}", sql.text);
        assert!(!sql.text.contains("/blog"), "{}", sql.text);
        assert!(sql.params.contains(&crate::store::sql::Param::Str("FR'); DROP TABLE events; --".into())));
        assert_eq!(sql.text.matches('?').count(), sql.params.len());
    }

    #[test]
    fn a_metric_outside_its_shape_is_refused_not_a_panic() {
        // Plausible's v2 reads its own requests: the engine itself must refuse this one.
        let mut request =
            StatsRequest::from_json(br#"{"site_id": 1, "metrics": ["visitors", "scroll_depth"], "date_range": "7d"}"#)
                .unwrap();
        request.metrics.push(Metric::BounceRate);
        let error = build(&request, &site(), &Scope { site_id: 1, from: 0, to: 100 }).unwrap_err();
        assert_eq!(error.parameter, "metrics");
        assert!(error.message.starts_with("bounce_rate cannot be computed over page visits"), "{}", error.message);
    }
}
