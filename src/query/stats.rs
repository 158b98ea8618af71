//! Validated stats request → SQL with bound values → rows → JSON or CSV.
//!
//! Metric definitions (the README repeats them):
//! - **visitors**: distinct visitor ids; **visits**: distinct visits (a visit ends after 30
//!   minutes without a hit); **pageviews**: page-view hits; **events**: custom-event hits;
//! - **views_per_visit**: page views / visits;
//! - **bounce_rate**: % of visits with one page view and no interactive event (custom event,
//!   outlink, download, site search or goal not marked non-interactive);
//! - **visit_duration**: mean of (last hit − first hit) per visit, in seconds;
//! - **conversions**: visits that reached a goal (a Matomo goal hit, or a custom event whose name
//!   is one of the site's `goals`; every custom event when none are set);
//!   **conversion_rate**: conversions / visits, %.
//! - **orders**, **quantity**, **total_revenue**: ecommerce orders, their items, their revenue
//!   (with goals'); **load_time**: median page load time (ms); **impressions**,
//!   **interactions**: content tracking;
//! - **scroll_depth**, **time_on_page** (Plausible's engagement): over page visits (a visit's
//!   rows of one page, [`page_visits`]), the mean deepest scroll (%) and the mean engaged time
//!   (s) of those that reported them.
//!
//! Two query shapes: event-level (rows are hits) for breakdowns by page, hostname, event name,
//! goal, content, product or custom property (a product dimension spreads orders and carts into
//! one row per item, [`ITEM_JOIN`]); visit-level (rows are visits, aggregated per `visit_id` in a
//! subquery) when a per-visit metric or the entry/exit page is asked for. Acquisition, place and
//! device columns are the same on every hit of a visit, so they serve both shapes. A third,
//! page-visit shape (rows are a visit's views of one page) serves scroll depth and time on page.

use std::collections::HashMap;
use std::fmt::Write as _;

use serde_json::{Value, json};

use crate::config::SiteConfig;
use crate::query::Scope;
use crate::query::request::{
    DateRange, Dimension, Filter, FilterTree, Level, Metric, Operator, OrderKey, StatsRequest, TimeBucket,
};
use crate::store::Store;
use crate::store::sql::Sql;

/// A resolved range: Unix seconds `[from, to)`, and its label in the site's time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub from: u64,
    pub to: u64,
    /// The first and last calendar day (days since 1970-01-01) in the site's time zone.
    pub first_day: i64,
    pub last_day: i64,
}

/// Turns a date range into UTC seconds, reading calendar days in the site's time zone (asked
/// of ClickHouse, which has the time-zone database).
pub(crate) async fn resolve(store: &Store, range: &DateRange, time_zone: &str, now: u64) -> crate::store::Result<Span> {
    let utc = |from: u64, to: u64| Span {
        from,
        to,
        first_day: (from / 86_400) as i64,
        last_day: (to.saturating_sub(1) / 86_400) as i64,
    };
    match range {
        DateRange::Realtime => return Ok(utc(now.saturating_sub(30 * 60), now + 1)),
        DateRange::Instants(from, to) => return Ok(utc(*from, *to)),
        _ => {}
    }
    let today = store.local_date(now as u32, time_zone).await?;
    let today = day_number(&today).unwrap_or((now / 86_400) as i64);
    let (first, last) = match range {
        DateRange::Today => (today, today),
        DateRange::Yesterday => (today - 1, today - 1),
        DateRange::LastDays(n) => (today - i64::from(*n) + 1, today),
        DateRange::Month => {
            let (y, m, _) = crate::clock::civil_from_days(today);
            (crate::clock::days_from_civil(y, m, 1), today)
        }
        DateRange::Year => {
            let (y, _, _) = crate::clock::civil_from_days(today);
            (crate::clock::days_from_civil(y, 1, 1), today)
        }
        DateRange::LastMonths(n) => last_months(i64::from(*n), today),
        DateRange::WholeYear => {
            let (y, _, _) = crate::clock::civil_from_days(today);
            (crate::clock::days_from_civil(y, 1, 1), crate::clock::days_from_civil(y, 12, 31))
        }
        DateRange::All => (0, today),
        DateRange::Custom(from, to) => (day_number(from).unwrap_or(today), day_number(to).unwrap_or(today)),
        DateRange::Realtime | DateRange::Instants(..) => unreachable!("handled above"),
    };
    let (from, to) = store
        .local_midnights(
            &format!("{} 00:00:00", date_string(first)),
            &format!("{} 00:00:00", date_string(last + 1)),
            time_zone,
        )
        .await?;
    Ok(Span { from: u64::from(from), to: u64::from(to), first_day: first, last_day: last })
}

/// The first and last day (days since 1970-01-01) of the `n` calendar months ending with the
/// month of `day`, that month whole.
pub(crate) fn last_months(n: i64, day: i64) -> (i64, i64) {
    let (y, m, _) = crate::clock::civil_from_days(day);
    let this_month = y * 12 + m - 1;
    let first_day_of = |months: i64| crate::clock::days_from_civil(months.div_euclid(12), months.rem_euclid(12) + 1, 1);
    (first_day_of(this_month - (n - 1)), first_day_of(this_month + 1) - 1)
}

fn day_number(date: &str) -> Option<i64> {
    let (y, rest) = date.split_once('-')?;
    let (m, d) = rest.split_once('-')?;
    Some(crate::clock::days_from_civil(y.parse().ok()?, m.parse().ok()?, d.get(..2)?.parse().ok()?))
}

fn date_string(days: i64) -> String {
    let (y, m, d) = crate::clock::civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

/// The time zone and goals a query needs from the site.
struct Context<'a> {
    time_zone: &'a str,
    goals: &'a [String],
}

/// The condition "this hit is a conversion".
fn conversion(ctx: &Context<'_>) -> Sql {
    let mut sql = Sql::default();
    if ctx.goals.is_empty() {
        sql.push("event_type IN ('goal', 'event')");
    } else {
        sql.push("(event_type = 'goal' OR (event_type = 'event' AND event_name IN (");
        sql.bind_list(ctx.goals, ", ").push(")))");
    }
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
        Dimension::Prop(key) => {
            sql.push("prop_values[indexOf(prop_keys, ").bind_str(key).push(")]");
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
                sql.push("match(").append(expr.clone()).push(", ");
                if sensitive {
                    sql.bind_str(v);
                } else {
                    sql.push("concat('(?i)', ").bind_str(v).push(")");
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

fn metric_expr_events(m: Metric, ctx: &Context<'_>, spread: bool) -> Sql {
    let mut sql = Sql::default();
    match m {
        Metric::Visitors => {
            sql.push("toFloat64(uniqExact(visitor_id))");
        }
        Metric::Visits => {
            sql.push("toFloat64(uniqExact(visit_id))");
        }
        Metric::Pageviews => {
            sql.push("toFloat64(countIf(event_type = 'pageview'))");
        }
        Metric::Events => {
            sql.push("toFloat64(countIf(event_type = 'event'))");
        }
        Metric::Conversions => {
            sql.push("toFloat64(uniqExactIf(visit_id, ").append(conversion(ctx)).push("))");
        }
        Metric::Orders => {
            sql.push("toFloat64(countIf(event_type = 'order'))");
        }
        Metric::TotalRevenue if spread => {
            sql.push("round(sumIf(ec_item_prices[item] * ec_item_quantities[item], event_type = 'order'), 2)");
        }
        Metric::TotalRevenue => {
            sql.push(REVENUE);
        }
        Metric::AverageRevenue if spread => {
            sql.push("if(countIf(event_type = 'order') = 0, 0, round(sumIf(ec_item_prices[item] * ec_item_quantities[item], event_type = 'order') / countIf(event_type = 'order'), 2))");
        }
        Metric::AverageRevenue => {
            sql.push(&format!("if(countIf({EARNED}) = 0, 0, round(sumIf(revenue, {EARNED}) / countIf({EARNED}), 2))"));
        }
        Metric::Quantity if spread => {
            sql.push("toFloat64(sumIf(ec_item_quantities[item], event_type = 'order'))");
        }
        Metric::Quantity => {
            sql.push("toFloat64(").push(QUANTITY).push(")");
        }
        Metric::LoadTime => {
            sql.push(&format!("toFloat64(quantileExactIf(0.5)({LOAD_TIME}, {TIMED_PAGE_VIEW}))"));
        }
        Metric::Impressions => {
            sql.push("toFloat64(countIf(event_type = 'content_impression'))");
        }
        Metric::Interactions => {
            sql.push("toFloat64(countIf(event_type = 'content_interaction'))");
        }
        _ => unreachable!("per-visit metrics use the visit-level shape"),
    }
    sql
}

fn metric_expr_visits(m: Metric) -> &'static str {
    match m {
        Metric::Visitors => "toFloat64(uniqExact(visitor_id))",
        Metric::Visits => "toFloat64(count())",
        Metric::Pageviews => "toFloat64(sum(pageviews))",
        Metric::Events => "toFloat64(sum(events))",
        Metric::ViewsPerVisit => "if(count() = 0, 0, round(sum(pageviews) / count(), 2))",
        Metric::BounceRate => "if(count() = 0, 0, round(100 * sum(bounced) / count()))",
        Metric::VisitDuration => "if(count() = 0, 0, round(avg(duration)))",
        Metric::Conversions => "toFloat64(sum(converted))",
        Metric::ConversionRate => "if(count() = 0, 0, round(100 * sum(converted) / count(), 1))",
        Metric::Orders => "toFloat64(sum(orders))",
        Metric::TotalRevenue => "round(sum(revenue_total), 2)",
        Metric::AverageRevenue => "if(sum(revenue_hits) = 0, 0, round(sum(revenue_total) / sum(revenue_hits), 2))",
        Metric::Quantity => "toFloat64(sum(quantity))",
        Metric::LoadTime => "toFloat64(quantileExactArray(0.5)(load_times))",
        Metric::Impressions => "toFloat64(sum(impressions))",
        Metric::Interactions => "toFloat64(sum(interactions))",
        Metric::ScrollDepth | Metric::TimeOnPage => unreachable!("page-visit metrics use their own shape"),
    }
}

/// A metric over page visits (the rows of [`page_visits`]).
fn metric_expr_page_visits(m: Metric) -> &'static str {
    match m {
        Metric::Visitors => "toFloat64(uniqExact(visitor_id))",
        Metric::ScrollDepth => "if(countIf(scrolled) = 0, 0, round(avgIf(page_scroll, scrolled)))",
        Metric::TimeOnPage => {
            "if(countIf(engaged) = 0, 0, round(sumIf(page_engaged_ms, engaged) / countIf(engaged) / 1000))"
        }
        _ => unreachable!("the request checked page-visit metrics go with visitors only"),
    }
}

/// The page visits in `scope` (a visit's rows of one page: its views and their engagement),
/// with what the page-visit metrics and the allowed dimensions read: the deepest scroll any
/// engagement reported, the engaged time, and the visit-level columns carried through.
fn page_visits(request: &StatsRequest, scope: &Scope, ctx: &Context<'_>) -> Sql {
    let mut sql = Sql::default();
    sql.push("(SELECT visit_id, url_path, any(visitor_id) AS visitor_id, any(url_host) AS url_host, ");
    sql.push("min(timestamp) AS start, ");
    sql.push("maxIf(scroll_depth, event_type = 'engagement' AND scroll_depth <= 100) AS page_scroll, ");
    sql.push("countIf(event_type = 'engagement' AND scroll_depth <= 100) > 0 AS scrolled, ");
    sql.push("sumIf(engaged_ms, event_type = 'engagement') AS page_engaged_ms, ");
    sql.push("countIf(event_type = 'engagement' AND engaged_ms > 0) > 0 AS engaged");
    sql.append(carried_and_filtered(request, scope, ctx, Grouping::PageVisit));
    sql.push(" GROUP BY visit_id, url_path)");
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
        sql.push(&format!(", any({column}) AS {column}"));
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

/// A hit that earned revenue: an order, a goal, or a custom event sent with revenue
/// (Plausible's `$`); a cart update carries a cart's value, not revenue.
const EARNED: &str = "event_type IN ('order', 'goal', 'event') AND revenue != 0";

/// The revenue earned.
const REVENUE: &str = "round(sumIf(revenue, event_type IN ('order', 'goal', 'event')), 2)";

/// The items ordered.
const QUANTITY: &str = "sumIf(arraySum(ec_item_quantities), event_type = 'order')";

/// A page's load time: the sum of the timings Matomo's tracker measures.
const LOAD_TIME: &str = "(perf_network_ms + perf_server_ms + perf_transfer_ms + perf_dom_processing_ms + perf_dom_completion_ms + perf_on_load_ms)";

/// A page view that carried timings (the tracker sends them with a page's first view only).
const TIMED_PAGE_VIEW: &str = "event_type = 'pageview' AND (perf_network_ms + perf_server_ms + perf_transfer_ms + perf_dom_processing_ms + perf_dom_completion_ms + perf_on_load_ms) > 0";

/// The SQL of a request over `scope`.
pub fn build(request: &StatsRequest, site: &SiteConfig, scope: &Scope) -> Sql {
    let ctx = Context { time_zone: &site.timezone, goals: &site.goals };
    let visit_level =
        request.metrics.iter().any(|m| m.is_visit_level()) || request.dimensions.iter().any(|d| d.is_visit_derived());
    let page_visit_level = request.metrics.iter().any(|m| m.is_page_visit_level());
    let mut sql = Sql::default();
    sql.push("SELECT ");
    if page_visit_level {
        for (i, d) in request.dimensions.iter().enumerate() {
            sql.append(dimension_expr(d, &ctx, "start")).push(&format!(" AS d{i}, "));
        }
        for (i, m) in request.metrics.iter().enumerate() {
            sql.push(metric_expr_page_visits(*m)).push(&format!(" AS m{i}"));
            sql.push(if i + 1 < request.metrics.len() { ", " } else { " " });
        }
        sql.push("FROM ").append(page_visits(request, scope, &ctx));
    } else if visit_level {
        for (i, d) in request.dimensions.iter().enumerate() {
            sql.append(dimension_expr(d, &ctx, "start")).push(&format!(" AS d{i}, "));
        }
        for (i, m) in request.metrics.iter().enumerate() {
            sql.push(metric_expr_visits(*m)).push(&format!(" AS m{i}"));
            sql.push(if i + 1 < request.metrics.len() { ", " } else { " " });
        }
        sql.push("FROM (SELECT visit_id, any(visitor_id) AS visitor_id, min(timestamp) AS start, ");
        sql.push("max(timestamp) - min(timestamp) AS duration, countIf(event_type = 'pageview') AS pageviews, ");
        sql.push("countIf(event_type = 'event') AS events, countIf(event_type = 'order') AS orders, ");
        sql.push(REVENUE).push(" AS revenue_total, ").push(QUANTITY).push(" AS quantity, ");
        sql.push(&format!("countIf({EARNED}) AS revenue_hits, "));
        sql.push("countIf(event_type = 'content_impression') AS impressions, ");
        sql.push("countIf(event_type = 'content_interaction') AS interactions, ");
        sql.push(&format!("groupArrayIf({LOAD_TIME}, {TIMED_PAGE_VIEW}) AS load_times, "));
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
            sql.append(metric_expr_events(*m, &ctx, spread)).push(&format!(" AS m{i}"));
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
    sql
}

/// One row of a result.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultRow {
    pub dimensions: Vec<String>,
    pub metrics: Vec<f64>,
}

/// Runs the SQL and reads its rows.
pub async fn fetch(store: &Store, sql: &Sql, dimensions: usize) -> crate::store::Result<Vec<ResultRow>> {
    let bytes = store.fetch_tab_separated(sql).await?;
    let text = String::from_utf8_lossy(&bytes);
    Ok(text
        .lines()
        .filter(|l| !l.is_empty())
        .map(|line| {
            let fields: Vec<&str> = line.split('\t').collect();
            let (dims, metrics) = fields.split_at(dimensions.min(fields.len()));
            ResultRow {
                dimensions: dims.iter().map(|d| unescape(d)).collect(),
                metrics: metrics
                    .iter()
                    .map(|m| m.parse::<f64>().ok().filter(|v| v.is_finite()).unwrap_or(0.0))
                    .collect(),
            }
        })
        .collect())
}

fn unescape(field: &str) -> String {
    if !field.contains('\\') {
        return field.to_string();
    }
    let mut out = String::with_capacity(field.len());
    let mut chars = field.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('0') => out.push('\0'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

/// Distinct visitors a row needs to be listed on a site that rounds small counts.
pub(crate) const SMALL_COUNT: f64 = 10.0;

/// The request as the SQL computes it on a site that rounds small counts (docs/privacy.md F2):
/// the requested metrics, then the counts that suppression (visitors) and the rates derived
/// from rounded counts (views per visit, conversion rate) need.
fn with_rounding_inputs(request: &StatsRequest) -> StatsRequest {
    let mut computed = request.clone();
    let mut needed = vec![Metric::Visitors];
    if request.metrics.contains(&Metric::ViewsPerVisit) {
        needed.extend([Metric::Visits, Metric::Pageviews]);
    }
    if request.metrics.contains(&Metric::ConversionRate) {
        needed.extend([Metric::Visits, Metric::Conversions]);
    }
    for metric in needed {
        if !computed.metrics.contains(&metric) {
            computed.metrics.push(metric);
        }
    }
    computed
}

/// docs/privacy.md F2 on the rows of `computed` metrics: a row of fewer than [`SMALL_COUNT`]
/// visitors is left out; every count is rounded to the nearest 10; views per visit and
/// conversion rate are computed from the rounded counts (so no exact count can be worked back).
/// Returns rows with exactly the `requested` metrics.
fn round_rows(rows: Vec<ResultRow>, computed: &[Metric], requested: &[Metric]) -> Vec<ResultRow> {
    let at = |metric: Metric| computed.iter().position(|m| *m == metric).expect("the rounding inputs are computed");
    let rounded = |v: f64| (v / 10.0).round() * 10.0;
    rows.into_iter()
        .filter(|row| row.metrics[at(Metric::Visitors)] >= SMALL_COUNT)
        .map(|row| {
            let count = |metric: Metric| rounded(row.metrics[at(metric)]);
            let ratio = |over: f64, under: f64, scale: f64, digits: i32| {
                let factor = 10f64.powi(digits);
                if under == 0.0 { 0.0 } else { (scale * over / under * factor).round() / factor }
            };
            let metrics = requested
                .iter()
                .map(|metric| match metric {
                    m if m.is_roundable() => count(*m),
                    Metric::ViewsPerVisit => ratio(count(Metric::Pageviews), count(Metric::Visits), 1.0, 2),
                    Metric::ConversionRate => ratio(count(Metric::Conversions), count(Metric::Visits), 100.0, 1),
                    m => row.metrics[at(*m)],
                })
                .collect();
            ResultRow { dimensions: row.dimensions, metrics }
        })
        .collect()
}

/// A finished answer: rows, with the previous period's when asked for.
pub struct Answer {
    pub rows: Vec<ResultRow>,
    pub previous: Option<(Span, Vec<ResultRow>)>,
    pub span: Span,
    /// Every row before the limit and offset, when the request asked for it.
    pub total_rows: Option<u64>,
}

/// Runs `request` for `site` at `now`.
pub async fn run(store: &Store, request: &StatsRequest, site: &SiteConfig, now: u64) -> crate::store::Result<Answer> {
    let mut span = resolve(store, &request.date_range, &site.timezone, now).await?;
    if request.date_range == DateRange::All {
        // Everything kept: the span starts where retention does.
        span.from = Scope::new(site, span.from, span.to, now).from;
        span.first_day = (span.from / 86_400) as i64;
    }
    let rounding = site.round_counts.then(|| with_rounding_inputs(request));
    let computed = rounding.as_ref().unwrap_or(request);
    let scope = Scope::new(site, span.from, span.to, now);
    let current_sql = build(computed, site, &scope);
    let current = fetch(store, &current_sql, request.dimensions.len());
    // The previous period runs at the same time: a comparison costs no extra latency.
    let length = span.to - span.from;
    let days = span.last_day - span.first_day + 1;
    let before = Span {
        from: span.from.saturating_sub(length),
        to: span.from,
        first_day: span.first_day - days,
        last_day: span.first_day - 1,
    };
    let before_scope = Scope::new(site, before.from, before.to, now);
    let before_sql = build(computed, site, &before_scope);
    let previous = async {
        if request.comparison { fetch(store, &before_sql, request.dimensions.len()).await.map(Some) } else { Ok(None) }
    };
    let count_sql = {
        let mut all = computed.clone();
        (all.limit, all.offset) = (0, 0);
        let mut sql = Sql::default();
        sql.push("SELECT count() FROM (").append(build(&all, site, &scope)).push(")");
        sql
    };
    let total = async {
        if request.total_rows && !request.dimensions.is_empty() {
            store.fetch_tab_separated(&count_sql).await.map(|b| String::from_utf8_lossy(&b).trim().parse::<u64>().ok())
        } else {
            Ok(None)
        }
    };
    let (rows, previous, total_rows) = tokio::join!(current, previous, total);
    let privacy = |rows: Vec<ResultRow>| match &rounding {
        Some(computed) => round_rows(rows, &computed.metrics, &request.metrics),
        None => rows,
    };
    let rows = privacy(rows?);
    let previous = previous?.map(|rows| (before, privacy(rows)));
    // With rounding, rows under the small-count floor are left out: the total counts those
    // returned rounding-wise only when everything fits on one page.
    let total_rows = match (total_rows?, &rounding) {
        (Some(_), Some(_)) => Some(rows.len() as u64 + u64::from(request.offset)),
        (total, _) => total,
    };
    Ok(Answer { rows, previous, span, total_rows })
}

/// A JSON number, whole when it is.
pub(crate) fn number(v: f64) -> Value {
    if v.fract() == 0.0 && v.abs() < 9e15 { json!(v as i64) } else { json!(v) }
}

/// Every bucket of the span, as the time dimension's values read.
pub(crate) fn time_labels(span: &Span, bucket: TimeBucket) -> Vec<String> {
    let date = |day: i64| {
        let (y, m, d) = crate::clock::civil_from_days(day);
        format!("{y:04}-{m:02}-{d:02}")
    };
    let mut labels = Vec::new();
    for day in span.first_day..=span.last_day {
        let (_, _, d) = crate::clock::civil_from_days(day);
        match bucket {
            TimeBucket::Hour => labels.extend((0..24).map(|h| format!("{} {h:02}:00:00", date(day)))),
            TimeBucket::Day => labels.push(date(day)),
            // Monday of the week (1970-01-05 was a Monday), the first one may start before.
            TimeBucket::Week if day == span.first_day || (day - 4).rem_euclid(7) == 0 => {
                labels.push(date(day - (day - 4).rem_euclid(7)))
            }
            TimeBucket::Month if day == span.first_day || d == 1 => labels.push(date(day - d + 1)),
            _ => {}
        }
    }
    labels
}

/// The JSON answer, shaped like Plausible's v2.
pub(crate) fn to_json(answer: &Answer, request: &StatsRequest, site: &SiteConfig) -> Value {
    let previous: HashMap<&Vec<String>, &ResultRow> =
        answer.previous.iter().flat_map(|(_, rows)| rows.iter().map(|r| (&r.dimensions, r))).collect();
    let results: Vec<Value> = answer
        .rows
        .iter()
        .map(|row| {
            let mut value = json!({
                "dimensions": row.dimensions,
                "metrics": row.metrics.iter().map(|v| number(*v)).collect::<Vec<_>>(),
            });
            if answer.previous.is_some() {
                let before = previous
                    .get(&row.dimensions)
                    .map(|r| r.metrics.clone())
                    .unwrap_or_else(|| vec![0.0; row.metrics.len()]);
                let change: Vec<Value> = row
                    .metrics
                    .iter()
                    .zip(&before)
                    .zip(&request.metrics)
                    .map(|((now, then), metric)| {
                        if metric.is_ratio() {
                            number(((now - then) * 10.0).round() / 10.0)
                        } else if *then == 0.0 {
                            Value::Null
                        } else {
                            number(((now - then) / then * 100.0).round())
                        }
                    })
                    .collect();
                value["comparison"] = json!({
                    "metrics": before.iter().map(|v| number(*v)).collect::<Vec<_>>(),
                    "change": change,
                });
            }
            value
        })
        .collect();
    let mut meta = json!({
        "site_id": site.id,
        "metrics": request.metrics.iter().map(|m| m.name()).collect::<Vec<_>>(),
        "dimensions": request.dimensions.iter().map(|d| d.name()).collect::<Vec<_>>(),
        "date_range": [crate::clock::utc_text(answer.span.from), crate::clock::utc_text(answer.span.to)],
        "time_zone": site.timezone,
        "rounded": site.round_counts,
    });
    // The range's calendar days in the site's time zone (what a chart's axis spans).
    meta["dates"] = json!([date_string(answer.span.first_day), date_string(answer.span.last_day)]);
    let bucket = request.dimensions.iter().find_map(|d| match d {
        Dimension::Time(bucket) => Some(*bucket),
        _ => None,
    });
    if let (true, Some(bucket)) = (request.time_labels, bucket) {
        meta["time_labels"] = json!(time_labels(&answer.span, bucket));
    }
    if let Some((span, _)) = &answer.previous {
        meta["comparison_date_range"] = json!([crate::clock::utc_text(span.from), crate::clock::utc_text(span.to)]);
        meta["comparison_dates"] = json!([date_string(span.first_day), date_string(span.last_day)]);
    }
    json!({ "results": results, "meta": meta })
}

/// A CSV cell: quoted when it holds a separator, a quote or a line break; and a value that a
/// spreadsheet would run as a formula (it starts with `=`, `+`, `-`, `@`, a tab or a carriage
/// return: visitor-controlled text such as a page path or a property) gets a leading `'`.
pub(crate) fn csv_cell(value: &str) -> String {
    let neutral;
    let value = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        neutral = format!("'{value}");
        neutral.as_str()
    } else {
        value
    };
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_string()
    }
}

/// The CSV answer: a header of dimension and metric names, then one line per row.
pub(crate) fn to_csv(answer: &Answer, request: &StatsRequest) -> String {
    let field = csv_cell;
    let mut header: Vec<String> = request.dimensions.iter().map(|d| d.name()).collect();
    header.extend(request.metrics.iter().map(|m| m.name().to_string()));
    if answer.previous.is_some() {
        header.extend(request.metrics.iter().map(|m| format!("{}_previous", m.name())));
    }
    let previous: HashMap<&Vec<String>, &ResultRow> =
        answer.previous.iter().flat_map(|(_, rows)| rows.iter().map(|r| (&r.dimensions, r))).collect();
    let mut out = header.iter().map(|h| field(h)).collect::<Vec<_>>().join(",");
    out.push('\n');
    for row in &answer.rows {
        let mut cells: Vec<String> = row.dimensions.iter().map(|d| field(d)).collect();
        cells.extend(row.metrics.iter().map(|v| number(*v).to_string()));
        if answer.previous.is_some() {
            let before = previous
                .get(&row.dimensions)
                .map(|r| r.metrics.clone())
                .unwrap_or_else(|| vec![0.0; row.metrics.len()]);
            cells.extend(before.iter().map(|v| number(*v).to_string()));
        }
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    out
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
        let sql = build(&request, &site(), &Scope { site_id: 1, from: 0, to: 100 });
        assert!(!sql.text.contains("DROP"), "{}", sql.text);
        assert!(!sql.text.contains("/blog"), "{}", sql.text);
        assert!(sql.params.contains(&crate::store::sql::Param::Str("FR'); DROP TABLE events; --".into())));
        assert_eq!(sql.text.matches('?').count(), sql.params.len());
    }

    #[test]
    fn csv_cells_never_start_a_formula() {
        assert_eq!(csv_cell("=HYPERLINK(\"http://x\")"), "\"'=HYPERLINK(\"\"http://x\"\")\"");
        assert_eq!(csv_cell("+1"), "'+1");
        assert_eq!(csv_cell("-2"), "'-2");
        assert_eq!(csv_cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_cell("\tx"), "'\tx");
        assert_eq!(csv_cell("\rx"), "\"'\rx\"");
        assert_eq!(csv_cell("/a,b"), "\"/a,b\"");
        assert_eq!(csv_cell("/plain"), "/plain");
    }

    #[test]
    fn rounding_suppresses_small_rows_and_derives_from_rounded_counts() {
        use Metric::*;
        let request = StatsRequest::from_json(
            br#"{"site_id": 1, "metrics": ["pageviews", "views_per_visit", "conversion_rate", "bounce_rate"], "date_range": "7d", "dimensions": ["event:page"]}"#,
        );
        // bounce_rate is per visit: no breakdown by page; use the aggregate form.
        assert!(request.is_err());
        let request = StatsRequest::from_json(
            br#"{"site_id": 1, "metrics": ["pageviews", "views_per_visit", "conversion_rate", "bounce_rate"], "date_range": "7d", "dimensions": ["visit:country"]}"#,
        )
        .unwrap();
        let computed = with_rounding_inputs(&request);
        assert_eq!(
            computed.metrics,
            vec![Pageviews, ViewsPerVisit, ConversionRate, BounceRate, Visitors, Visits, Conversions]
        );
        let row =
            |country: &str, values: [f64; 7]| ResultRow { dimensions: vec![country.into()], metrics: values.to_vec() };
        let rows = vec![
            // 37 page views by 14 visitors in 16 visits, 3 converted.
            row("FR", [37.0, 2.31, 18.8, 40.0, 14.0, 16.0, 3.0]),
            row("BE", [9.0, 3.0, 0.0, 0.0, 3.0, 3.0, 0.0]),
        ];
        let out = round_rows(rows, &computed.metrics, &request.metrics);
        assert_eq!(out.len(), 1, "the row of 3 visitors is left out");
        assert_eq!(out[0].metrics, vec![40.0, 2.0, 0.0, 40.0]);
    }

    #[test]
    fn tsv_fields_are_unescaped() {
        assert_eq!(unescape("a\\tb\\\\c"), "a\tb\\c");
        assert_eq!(unescape("plain"), "plain");
    }

    #[test]
    fn time_labels_cover_the_span() {
        // 2024-01-30 (a Tuesday) to 2024-02-02.
        let first = crate::clock::days_from_civil(2024, 1, 30);
        let span = Span { from: 0, to: 0, first_day: first, last_day: first + 3 };
        assert_eq!(time_labels(&span, TimeBucket::Day), ["2024-01-30", "2024-01-31", "2024-02-01", "2024-02-02"]);
        assert_eq!(time_labels(&span, TimeBucket::Week), ["2024-01-29"]);
        assert_eq!(time_labels(&span, TimeBucket::Month), ["2024-01-01", "2024-02-01"]);
        assert_eq!(time_labels(&span, TimeBucket::Hour).len(), 96);
    }

    #[test]
    fn iso_dates() {
        assert_eq!(crate::clock::utc_text(0), "1970-01-01T00:00:00Z");
        assert_eq!(crate::clock::utc_text(1_700_000_000), "2023-11-14T22:13:20Z");
    }
}
