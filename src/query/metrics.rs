//! Every metric of the stats API in one table ([`METRICS`]): its name, the query shape it needs,
//! whether rounding applies to it and whether its change is a difference, and its SQL in each
//! shape that can compute it. Adding a metric is one row (and its variant).
//!
//! Definitions (docs/stats-api.md repeats them):
//! - **visitors**: distinct visitor ids; **visits**: distinct visits (a visit ends after 30
//!   minutes without a hit); **pageviews**: page-view hits; **events**: custom-event hits;
//! - **views_per_visit**: page views / visits;
//! - **bounce_rate**: % of visits with one page view and no interactive event (custom event,
//!   outlink, download, site search or goal not marked non-interactive);
//! - **visit_duration**: mean of (last hit − first hit) per visit, in seconds;
//! - **conversions**: visits that reached a goal (a Matomo goal hit, a custom event whose name
//!   is one of the site's `goals`, every custom event when none are set, or a page view of one
//!   of its page goals, [`crate::query::goals`]);
//!   **conversion_rate**: conversions / visits, %.
//! - **orders**, **quantity**, **total_revenue**: ecommerce orders, their items, their revenue
//!   (with goals'); **average_revenue**: revenue per hit that earned some; **load_time**: median
//!   page load time (ms); **impressions**, **interactions**: content tracking;
//! - **scroll_depth**, **time_on_page** (Plausible's engagement): over page visits (a visit's
//!   rows of one page), the mean deepest scroll (%) and the mean engaged time (s) of those that
//!   reported them;
//! - **page_time** (Matomo's time on page): over page visits, the time from each of the page's
//!   hits to the visit's next hit, added up (the visit's last hit adds nothing), seconds;
//! - **network_time** … **on_load_time** (Matomo's page performance): the mean of each timing
//!   over the page views that carried timings, ms to a tenth; together they add up to the mean
//!   page load time.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    Visitors,
    Visits,
    Pageviews,
    ViewsPerVisit,
    BounceRate,
    VisitDuration,
    Events,
    Conversions,
    ConversionRate,
    /// Ecommerce orders.
    Orders,
    /// Revenue of orders and goals (Plausible's name); of the product's items under a product
    /// dimension.
    TotalRevenue,
    /// Revenue per hit that carried revenue (Plausible's `average_revenue`).
    AverageRevenue,
    /// Ordered items (sum of quantities).
    Quantity,
    /// Median page load time in milliseconds (sum of the six timings Matomo's tracker sends), over
    /// the page views that carried timings.
    LoadTime,
    /// Content impressions (Matomo content tracking).
    Impressions,
    /// Content interactions.
    Interactions,
    /// Plausible's scroll depth, %.
    ScrollDepth,
    /// Plausible's time on page, seconds.
    TimeOnPage,
    /// Matomo's actions: page views, custom events, outlinks, downloads and site searches.
    Actions,
    /// Visits of a single page view and no interaction (what `bounce_rate` is the share of).
    Bounces,
    /// The visits' durations added up, seconds (Matomo's `sum_visit_length`).
    TotalVisitDuration,
    /// Matomo's time on page added up (`sum_time_spent`), seconds.
    PageTime,
    /// The mean of one of Matomo's page timings (`pf_net`, `pf_srv`, `pf_tfr`, `pf_dm1`,
    /// `pf_dm2`, `pf_onl`) over the page views that carried timings, ms.
    NetworkTime,
    ServerTime,
    TransferTime,
    DomProcessingTime,
    DomCompletionTime,
    OnLoadTime,
}

/// The hits Matomo counts as actions.
macro_rules! action {
    () => {
        "event_type IN ('pageview', 'event', 'outlink', 'download', 'search')"
    };
}

/// The narrowest query shape a metric can be computed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricLevel {
    /// Over hits (and over visits too): splits by any dimension.
    Event,
    /// Over visits only: cannot be split by a dimension that differs within a visit.
    Visit,
    /// Over page visits (a visit's views of one page): with visitors only.
    PageVisit,
}

/// A metric's SQL over hits (`events` rows), by what it depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OverHits {
    /// Not computed over hits (a visit- or page-visit-level metric).
    No,
    /// The same expression whatever the query.
    Fixed(&'static str),
    /// Another expression when orders and carts are spread into one row per item (a product
    /// dimension): then it reads the item (`item`).
    Spread { whole: &'static str, per_item: &'static str },
    /// Distinct visits with a conversion: built with the site's goals, bound.
    Conversions,
}

/// One row of the table.
pub(crate) struct MetricSpec {
    pub metric: Metric,
    pub name: &'static str,
    pub level: MetricLevel,
    /// A count: rounded when the site rounds small counts (docs/privacy.md F2).
    pub roundable: bool,
    /// A rate or an average: its change is a difference, not a percentage.
    pub ratio: bool,
    pub over_hits: OverHits,
    /// Over the per-visit subquery's rows (empty: not computed over visits). They read its
    /// columns ([`crate::query::sql`]): `pageviews`, `events`, `orders`, `revenue_total`,
    /// `revenue_hits`, `quantity`, `impressions`, `interactions`, `load_times`, `timed_views`
    /// and a `<timing column>_total` per [`TIMINGS`], `bounced`, `converted`, `duration`.
    pub over_visits: &'static str,
    /// Over the page-visit subquery's rows (empty: not computed over page visits).
    pub over_page_visits: &'static str,
}

const fn count(metric: Metric, name: &'static str, over_hits: &'static str, over_visits: &'static str) -> MetricSpec {
    MetricSpec {
        metric,
        name,
        level: MetricLevel::Event,
        roundable: true,
        ratio: false,
        over_hits: OverHits::Fixed(over_hits),
        over_visits,
        over_page_visits: "",
    }
}

const fn per_visit(metric: Metric, name: &'static str, over_visits: &'static str, ratio: bool) -> MetricSpec {
    MetricSpec {
        metric,
        name,
        level: MetricLevel::Visit,
        roundable: false,
        ratio,
        over_hits: OverHits::No,
        over_visits,
        over_page_visits: "",
    }
}

const fn per_page_visit(metric: Metric, name: &'static str, over_page_visits: &'static str) -> MetricSpec {
    MetricSpec {
        metric,
        name,
        level: MetricLevel::PageVisit,
        roundable: false,
        ratio: true,
        over_hits: OverHits::No,
        over_visits: "",
        over_page_visits,
    }
}

/// A hit that earned revenue: an order, a goal, or a custom event sent with revenue
/// (Plausible's `$`); a cart update carries a cart's value, not revenue.
macro_rules! earned {
    () => {
        "event_type IN ('order', 'goal', 'event') AND revenue != 0"
    };
}
pub(crate) const EARNED: &str = earned!();

/// The revenue earned.
macro_rules! revenue {
    () => {
        "round(sumIf(revenue, event_type IN ('order', 'goal', 'event')), 2)"
    };
}
pub(crate) const REVENUE: &str = revenue!();

/// The items ordered.
pub(crate) const QUANTITY: &str = "sumIf(arraySum(ec_item_quantities), event_type = 'order')";

/// A page's load time: the sum of the timings Matomo's tracker measures.
macro_rules! load_time {
    () => {
        "(perf_network_ms + perf_server_ms + perf_transfer_ms + perf_dom_processing_ms + perf_dom_completion_ms + perf_on_load_ms)"
    };
}
pub(crate) const LOAD_TIME: &str = load_time!();

/// A page view that carried timings (the tracker sends them with a page's first view only).
macro_rules! timed_page_view {
    () => {
        concat!("event_type = 'pageview' AND ", load_time!(), " > 0")
    };
}
pub(crate) const TIMED_PAGE_VIEW: &str = timed_page_view!();

/// The mean of one timing column over the page views that carried timings (a timing the
/// tracker left out of such a view counts as 0), ms to a tenth; over visits it reads the
/// per-visit sums `<column>_total` and `timed_views`.
macro_rules! timing_mean {
    ($metric:expr, $name:literal, $column:literal) => {
        MetricSpec {
            roundable: false,
            ratio: true,
            ..count(
                $metric,
                $name,
                concat!(
                    "if(countIf(",
                    timed_page_view!(),
                    ") = 0, 0, round(sumIf(",
                    $column,
                    ", ",
                    timed_page_view!(),
                    ") / countIf(",
                    timed_page_view!(),
                    "), 1))"
                ),
                concat!("if(sum(timed_views) = 0, 0, round(sum(", $column, "_total) / sum(timed_views), 1))"),
            )
        }
    };
}

/// The timing columns, in the order of [`Metric::NetworkTime`] and the ones after it.
pub(crate) const TIMINGS: [&str; 6] = [
    "perf_network_ms",
    "perf_server_ms",
    "perf_transfer_ms",
    "perf_dom_processing_ms",
    "perf_dom_completion_ms",
    "perf_on_load_ms",
];

/// The revenue of the spread items of orders.
macro_rules! item_revenue {
    () => {
        "sumIf(ec_item_prices[item] * ec_item_quantities[item], event_type = 'order')"
    };
}

/// Every metric.
pub(crate) const METRICS: &[MetricSpec] = &[
    MetricSpec {
        over_page_visits: "toFloat64(uniqExact(visitor_id))",
        ..count(Metric::Visitors, "visitors", "toFloat64(uniqExact(visitor_id))", "toFloat64(uniqExact(visitor_id))")
    },
    MetricSpec {
        over_page_visits: "toFloat64(uniqExact(visit_id))",
        ..count(Metric::Visits, "visits", "toFloat64(uniqExact(visit_id))", "toFloat64(count())")
    },
    MetricSpec {
        over_page_visits: "toFloat64(sum(page_views))",
        ..count(
            Metric::Pageviews,
            "pageviews",
            "toFloat64(countIf(event_type = 'pageview'))",
            "toFloat64(sum(pageviews))",
        )
    },
    per_visit(Metric::ViewsPerVisit, "views_per_visit", "if(count() = 0, 0, round(sum(pageviews) / count(), 2))", true),
    per_visit(Metric::BounceRate, "bounce_rate", "if(count() = 0, 0, round(100 * sum(bounced) / count()))", true),
    per_visit(Metric::VisitDuration, "visit_duration", "if(count() = 0, 0, round(avg(duration)))", true),
    count(Metric::Events, "events", "toFloat64(countIf(event_type = 'event'))", "toFloat64(sum(events))"),
    MetricSpec {
        over_hits: OverHits::Conversions,
        ..count(Metric::Conversions, "conversions", "", "toFloat64(sum(converted))")
    },
    per_visit(
        Metric::ConversionRate,
        "conversion_rate",
        "if(count() = 0, 0, round(100 * sum(converted) / count(), 1))",
        true,
    ),
    count(Metric::Orders, "orders", "toFloat64(countIf(event_type = 'order'))", "toFloat64(sum(orders))"),
    MetricSpec {
        roundable: false,
        over_hits: OverHits::Spread { whole: revenue!(), per_item: concat!("round(", item_revenue!(), ", 2)") },
        ..count(Metric::TotalRevenue, "total_revenue", "", "round(sum(revenue_total), 2)")
    },
    MetricSpec {
        roundable: false,
        ratio: true,
        over_hits: OverHits::Spread {
            whole: concat!(
                "if(countIf(",
                earned!(),
                ") = 0, 0, round(sumIf(revenue, ",
                earned!(),
                ") / countIf(",
                earned!(),
                "), 2))"
            ),
            per_item: concat!(
                "if(countIf(event_type = 'order') = 0, 0, round(",
                item_revenue!(),
                " / countIf(event_type = 'order'), 2))"
            ),
        },
        ..count(
            Metric::AverageRevenue,
            "average_revenue",
            "",
            "if(sum(revenue_hits) = 0, 0, round(sum(revenue_total) / sum(revenue_hits), 2))",
        )
    },
    MetricSpec {
        over_hits: OverHits::Spread {
            whole: "toFloat64(sumIf(arraySum(ec_item_quantities), event_type = 'order'))",
            per_item: "toFloat64(sumIf(ec_item_quantities[item], event_type = 'order'))",
        },
        ..count(Metric::Quantity, "quantity", "", "toFloat64(sum(quantity))")
    },
    MetricSpec {
        roundable: false,
        ..count(
            Metric::LoadTime,
            "load_time",
            concat!(
                "toFloat64(quantileExactIf(0.5)(",
                load_time!(),
                ", event_type = 'pageview' AND ",
                load_time!(),
                " > 0))"
            ),
            "toFloat64(quantileExactArray(0.5)(load_times))",
        )
    },
    count(
        Metric::Impressions,
        "impressions",
        "toFloat64(countIf(event_type = 'content_impression'))",
        "toFloat64(sum(impressions))",
    ),
    count(
        Metric::Interactions,
        "interactions",
        "toFloat64(countIf(event_type = 'content_interaction'))",
        "toFloat64(sum(interactions))",
    ),
    per_page_visit(
        Metric::ScrollDepth,
        "scroll_depth",
        "if(countIf(scrolled) = 0, 0, round(avgIf(page_scroll, scrolled)))",
    ),
    per_page_visit(
        Metric::TimeOnPage,
        "time_on_page",
        "if(countIf(engaged) = 0, 0, round(sumIf(page_engaged_ms, engaged) / countIf(engaged) / 1000))",
    ),
    count(Metric::Actions, "actions", concat!("toFloat64(countIf(", action!(), "))"), "toFloat64(sum(actions))"),
    MetricSpec { roundable: true, ..per_visit(Metric::Bounces, "bounces", "toFloat64(sum(bounced))", false) },
    per_visit(Metric::TotalVisitDuration, "total_visit_duration", "toFloat64(sum(duration))", false),
    MetricSpec { ratio: false, ..per_page_visit(Metric::PageTime, "page_time", "toFloat64(sum(page_time))") },
    timing_mean!(Metric::NetworkTime, "network_time", "perf_network_ms"),
    timing_mean!(Metric::ServerTime, "server_time", "perf_server_ms"),
    timing_mean!(Metric::TransferTime, "transfer_time", "perf_transfer_ms"),
    timing_mean!(Metric::DomProcessingTime, "dom_processing_time", "perf_dom_processing_ms"),
    timing_mean!(Metric::DomCompletionTime, "dom_completion_time", "perf_dom_completion_ms"),
    timing_mean!(Metric::OnLoadTime, "on_load_time", "perf_on_load_ms"),
];

/// The SQL condition of a hit that Matomo counts as an action.
pub(crate) const ACTION: &str = action!();

impl Metric {
    /// Every metric, in the table's order.
    pub fn all() -> impl Iterator<Item = Metric> {
        METRICS.iter().map(|s| s.metric)
    }

    /// The metric of an API name.
    pub fn parse(name: &str) -> Option<Metric> {
        METRICS.iter().find(|s| s.name == name).map(|s| s.metric)
    }

    pub(crate) fn spec(self) -> &'static MetricSpec {
        // The table is in the enum's order (a test says so).
        &METRICS[self as usize]
    }

    pub fn name(self) -> &'static str {
        self.spec().name
    }

    pub fn level(self) -> MetricLevel {
        self.spec().level
    }

    /// Needs the per-visit aggregation (cannot be split by an event-level dimension).
    pub(crate) fn is_visit_level(self) -> bool {
        self.level() == MetricLevel::Visit
    }

    /// Read per page visit (a visit's views of one page, with their engagement).
    pub(crate) fn is_page_visit_level(self) -> bool {
        self.level() == MetricLevel::PageVisit
    }

    /// A count (rounded when the site asks for it, docs/privacy.md F2).
    pub(crate) fn is_roundable(self) -> bool {
        self.spec().roundable
    }

    /// A rate or an average: its change is a difference, not a percentage.
    pub(crate) fn is_ratio(self) -> bool {
        self.spec().ratio
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_in_the_enums_order_and_every_shape_it_claims_has_sql() {
        for (i, spec) in METRICS.iter().enumerate() {
            assert_eq!(spec.metric as usize, i, "{} is out of place", spec.name);
            assert_eq!(Metric::parse(spec.name), Some(spec.metric));
            match spec.level {
                // A metric is computed in its own shape and every wider one.
                MetricLevel::Event => {
                    assert_ne!(spec.over_hits, OverHits::No, "{}", spec.name);
                    assert!(!spec.over_visits.is_empty(), "{}", spec.name);
                }
                MetricLevel::Visit => assert!(!spec.over_visits.is_empty(), "{}", spec.name),
                MetricLevel::PageVisit => assert!(!spec.over_page_visits.is_empty(), "{}", spec.name),
            }
            assert!(!(spec.roundable && spec.ratio), "{}: a count or a ratio", spec.name);
        }
        let names: std::collections::HashSet<_> = METRICS.iter().map(|s| s.name).collect();
        assert_eq!(names.len(), METRICS.len());
        assert_eq!(Metric::all().count(), METRICS.len());
        assert_eq!(Metric::parse("hugs"), None);
    }
}
