//! A stats request, validated. The JSON shape follows Plausible's Stats API v2 where it fits:
//!
//! ```json
//! {"site_id": 1, "metrics": ["visitors", "pageviews"], "date_range": "7d",
//!  "dimensions": ["visit:source"], "filters": [["is", "visit:country", ["FR"]]],
//!  "order_by": [["visitors", "desc"]], "limit": 100,
//!  "include": {"comparison": "previous_period"}, "format": "json"}
//! ```
//!
//! Every name is checked against a closed list here, so the SQL builder only ever sees known
//! metrics and dimensions; user values travel as bound parameters. An invalid request is a
//! [`BadRequest`] naming the parameter.

use serde::Deserialize;
use serde_json::Value;

pub use super::metrics::Metric;
pub use super::period::{DateRange, is_date};

/// A request error: which parameter, and why. Answered 400.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{parameter}: {message}")]
pub struct BadRequest {
    pub parameter: String,
    pub message: String,
}

fn bad(parameter: impl Into<String>, message: impl Into<String>) -> BadRequest {
    BadRequest { parameter: parameter.into(), message: message.into() }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeBucket {
    Hour,
    Day,
    Week,
    Month,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dimension {
    Time(TimeBucket),
    /// The hour of the day (`0`..`23`) in the site's time zone: of the hit, or of the visit's
    /// start in a visit-level query (Matomo's VisitTime).
    HourOfDay,
    Page,
    EntryPage,
    ExitPage,
    Hostname,
    Channel,
    Source,
    Referrer,
    UtmSource,
    UtmMedium,
    UtmCampaign,
    UtmTerm,
    UtmContent,
    Country,
    Region,
    City,
    Browser,
    BrowserVersion,
    Os,
    OsVersion,
    Device,
    Screen,
    Language,
    EventName,
    /// A custom event's category, action and name (Matomo's `e_c`, `e_a`, `e_n`; GA's label).
    EventCategory,
    EventAction,
    EventLabel,
    /// A page view's title.
    PageTitle,
    /// An outlink's or a download's target (host + path).
    Outlink,
    Download,
    /// A site search's keyword and category, and its result count as the tracker sent it
    /// (none: no value).
    SearchKeyword,
    SearchCategory,
    SearchResults,
    Goal,
    /// The name of a content block (impressions and interactions).
    ContentName,
    ContentPiece,
    ContentTarget,
    /// A product: of a product page view, or of an item in an order or a cart update.
    ProductSku,
    ProductName,
    ProductCategory,
    /// A custom property (`event:props:NAME`).
    Prop(String),
}

/// Where a dimension's values come from, which decides the query shape it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// A time bucket (of the hit, or of the visit's start in a visit-level query).
    Time,
    /// Differs between the events of one visit (page, event name, goal, props): visit-level
    /// metrics cannot be split by it.
    Event,
    /// The same on every hit of a visit (acquisition, place, device): a column carried through
    /// the per-visit subquery.
    Visit,
    /// Computed by the per-visit aggregation (entry and exit page).
    VisitDerived,
    /// A product: one row per product page view and per item of an order or cart update (the
    /// items are spread into rows with `ARRAY JOIN`). Event-level too.
    Item,
}

/// One dimension of the stats API: its API name, the SQL over `events` rows that reads it, and
/// its level. The single table every part of the query layer reads (parsing, naming, SQL).
struct DimensionSpec {
    name: &'static str,
    dimension: Dimension,
    /// A column or expression over `events` (empty for time buckets and props, built apart).
    sql: &'static str,
    level: Level,
    /// For products: the array column of order and cart items that `sql` has a value among.
    items: &'static str,
}

const fn spec(name: &'static str, dimension: Dimension, sql: &'static str, level: Level) -> DimensionSpec {
    DimensionSpec { name, dimension, sql, level, items: "" }
}

const fn product(name: &'static str, dimension: Dimension, sql: &'static str, items: &'static str) -> DimensionSpec {
    DimensionSpec { name, dimension, sql, level: Level::Item, items }
}

/// Every dimension with a fixed name (`event:props:NAME` is the one family outside it).
const DIMENSIONS: &[DimensionSpec] = &[
    spec("time:hour", Dimension::Time(TimeBucket::Hour), "", Level::Time),
    spec("time:day", Dimension::Time(TimeBucket::Day), "", Level::Time),
    spec("time:week", Dimension::Time(TimeBucket::Week), "", Level::Time),
    spec("time:month", Dimension::Time(TimeBucket::Month), "", Level::Time),
    spec("time:hour_of_day", Dimension::HourOfDay, "", Level::Time),
    spec("event:page", Dimension::Page, "url_path", Level::Event),
    spec("visit:entry_page", Dimension::EntryPage, "entry_page", Level::VisitDerived),
    spec("visit:exit_page", Dimension::ExitPage, "exit_page", Level::VisitDerived),
    spec("event:hostname", Dimension::Hostname, "url_host", Level::Event),
    spec("visit:channel", Dimension::Channel, "channel", Level::Visit),
    spec("visit:source", Dimension::Source, "source", Level::Visit),
    spec("visit:referrer", Dimension::Referrer, "referrer_host", Level::Visit),
    spec("visit:utm_source", Dimension::UtmSource, "utm_source", Level::Visit),
    spec("visit:utm_medium", Dimension::UtmMedium, "utm_medium", Level::Visit),
    spec("visit:utm_campaign", Dimension::UtmCampaign, "utm_campaign", Level::Visit),
    spec("visit:utm_term", Dimension::UtmTerm, "utm_term", Level::Visit),
    spec("visit:utm_content", Dimension::UtmContent, "utm_content", Level::Visit),
    spec("visit:country", Dimension::Country, "country_code", Level::Visit),
    spec("visit:region", Dimension::Region, "region_name", Level::Visit),
    spec("visit:city", Dimension::City, "city", Level::Visit),
    spec("visit:browser", Dimension::Browser, "browser", Level::Visit),
    spec("visit:browser_version", Dimension::BrowserVersion, "browser_version", Level::Visit),
    spec("visit:os", Dimension::Os, "os", Level::Visit),
    spec("visit:os_version", Dimension::OsVersion, "os_version", Level::Visit),
    spec("visit:device", Dimension::Device, "device", Level::Visit),
    spec("visit:screen", Dimension::Screen, "screen_class", Level::Visit),
    spec("visit:language", Dimension::Language, "language", Level::Visit),
    spec("event:name", Dimension::EventName, "event_name", Level::Event),
    spec("event:category", Dimension::EventCategory, "if(event_type = 'event', event_category, '')", Level::Event),
    spec("event:action", Dimension::EventAction, "if(event_type = 'event', event_action, '')", Level::Event),
    spec("event:label", Dimension::EventLabel, "if(event_type = 'event', event_name, '')", Level::Event),
    spec("event:page_title", Dimension::PageTitle, "if(event_type = 'pageview', page_title, '')", Level::Event),
    spec("event:outlink", Dimension::Outlink, "if(event_type = 'outlink', link_url, '')", Level::Event),
    spec("event:download", Dimension::Download, "if(event_type = 'download', link_url, '')", Level::Event),
    spec(
        "event:search_keyword",
        Dimension::SearchKeyword,
        "if(event_type = 'search', search_keyword, '')",
        Level::Event,
    ),
    spec(
        "event:search_category",
        Dimension::SearchCategory,
        "if(event_type = 'search', search_category, '')",
        Level::Event,
    ),
    spec(
        "event:search_results",
        Dimension::SearchResults,
        "if(event_type = 'search' AND search_count != 4294967295, toString(search_count), '')",
        Level::Event,
    ),
    spec(
        "event:goal",
        Dimension::Goal,
        "if(event_type = 'goal', concat('Goal ', toString(goal_id)), event_name)",
        Level::Event,
    ),
    spec(
        "event:content_name",
        Dimension::ContentName,
        "if(event_type IN ('content_impression', 'content_interaction'), event_name, '')",
        Level::Event,
    ),
    spec("event:content_piece", Dimension::ContentPiece, "content_piece", Level::Event),
    spec("event:content_target", Dimension::ContentTarget, "content_target", Level::Event),
    product("event:product_sku", Dimension::ProductSku, "product_sku", "ec_item_skus"),
    product("event:product_name", Dimension::ProductName, "product_name", "ec_item_names"),
    product("event:product_category", Dimension::ProductCategory, "product_category", "ec_item_categories"),
];

/// The names of every fixed dimension, in the table's order.
pub(crate) fn dimension_names() -> impl Iterator<Item = &'static str> {
    DIMENSIONS.iter().map(|spec| spec.name)
}

/// The prefix of the custom-property dimensions.
const PROPS_PREFIX: &str = "event:props:";

impl Dimension {
    pub fn parse(name: &str) -> Option<Dimension> {
        if name == "time" {
            return Some(Dimension::Time(TimeBucket::Day));
        }
        if let Some(spec) = DIMENSIONS.iter().find(|s| s.name == name) {
            return Some(spec.dimension.clone());
        }
        let key = name.strip_prefix(PROPS_PREFIX)?;
        (!key.is_empty() && key.len() <= 64).then(|| Dimension::Prop(key.to_string()))
    }

    fn spec(&self) -> Option<&'static DimensionSpec> {
        DIMENSIONS.iter().find(|s| s.dimension == *self)
    }

    pub fn name(&self) -> String {
        match self {
            Dimension::Prop(key) => format!("{PROPS_PREFIX}{key}"),
            other => other.spec().expect("every fixed dimension is in the table").name.to_string(),
        }
    }

    pub fn level(&self) -> Level {
        match self {
            Dimension::Prop(_) => Level::Event,
            other => other.spec().expect("every fixed dimension is in the table").level,
        }
    }

    /// The column or expression over `events` rows (`None` for time buckets and props, which
    /// the query builder writes with bound values).
    pub fn column(&self) -> Option<&'static str> {
        self.spec().map(|s| s.sql).filter(|sql| !sql.is_empty())
    }

    /// For products: the array column of order and cart items (see [`Level::Item`]).
    pub(crate) fn items_column(&self) -> Option<&'static str> {
        self.spec().map(|s| s.items).filter(|sql| !sql.is_empty())
    }

    /// Differs between the events of one visit (so visit-level metrics cannot be split by it).
    pub(crate) fn is_event_level(&self) -> bool {
        matches!(self.level(), Level::Event | Level::Item)
    }

    /// Applies to some events only: the others (an empty value) form no group of their own.
    pub(crate) fn skips_empty(&self) -> bool {
        self.level() == Level::Item
            || matches!(
                self,
                Dimension::EventName
                    | Dimension::EventCategory
                    | Dimension::EventAction
                    | Dimension::EventLabel
                    | Dimension::PageTitle
                    | Dimension::Outlink
                    | Dimension::Download
                    | Dimension::SearchKeyword
                    | Dimension::SearchCategory
                    | Dimension::SearchResults
                    | Dimension::ContentName
                    | Dimension::ContentPiece
                    | Dimension::ContentTarget
            )
    }

    /// Needs the per-visit aggregation to compute.
    pub(crate) fn is_visit_derived(&self) -> bool {
        self.level() == Level::VisitDerived
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    Is,
    IsNot,
    Contains,
    ContainsNot,
    /// A regular expression (re2 syntax).
    Matches,
    MatchesNot,
}

impl Operator {
    pub const ALL: [(&'static str, Operator); 6] = [
        ("is", Operator::Is),
        ("is_not", Operator::IsNot),
        ("contains", Operator::Contains),
        ("contains_not", Operator::ContainsNot),
        ("matches", Operator::Matches),
        ("matches_not", Operator::MatchesNot),
    ];

    pub fn parse(name: &str) -> Option<Operator> {
        Operator::ALL.iter().find(|(n, _)| *n == name).map(|(_, o)| *o)
    }

    /// `is_not`, `contains_not`, `matches_not`: the row passes when no value passes the
    /// positive test.
    pub fn is_negative(self) -> bool {
        matches!(self, Operator::IsNot | Operator::ContainsNot | Operator::MatchesNot)
    }
}

/// One condition on a dimension: the row passes when any value passes (none, for a negative
/// operator).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    pub operator: Operator,
    pub dimension: Dimension,
    pub values: Vec<String>,
    pub case_sensitive: bool,
}

/// Filters combined: the request's list is an AND of trees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilterTree {
    Leaf(Filter),
    And(Vec<FilterTree>),
    Or(Vec<FilterTree>),
    Not(Box<FilterTree>),
}

impl FilterTree {
    /// Every leaf of the tree.
    pub fn leaves(&self) -> Vec<&Filter> {
        match self {
            FilterTree::Leaf(f) => vec![f],
            FilterTree::Not(inner) => inner.leaves(),
            FilterTree::And(trees) | FilterTree::Or(trees) => trees.iter().flat_map(|t| t.leaves()).collect(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Csv,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderKey {
    Metric(Metric),
    Dimension(usize),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatsRequest {
    pub site_id: u32,
    pub metrics: Vec<Metric>,
    pub date_range: DateRange,
    pub dimensions: Vec<Dimension>,
    pub filters: Vec<FilterTree>,
    pub order_by: Vec<(OrderKey, bool)>,
    /// The most rows; 0 for no limit (internal: counting every row).
    pub limit: u32,
    /// Rows skipped before the first returned.
    pub offset: u32,
    pub comparison: bool,
    pub format: Format,
    /// Also count every row before `limit` and `offset` ([`crate::query::stats::Answer::total_rows`]).
    pub total_rows: bool,
    /// List every bucket of the range in the answer (with a time dimension).
    pub time_labels: bool,
}

/// The shapes the engine computes, whatever the dialect asked (checked for every request,
/// again when it runs: [`StatsRequest::check_shape`]): at most [`MAX_DIMENSIONS`] dimensions;
/// per-visit metrics not split by what differs within a visit; per-page-visit metrics with
/// visitors, visits and page views only, split by time, page, hostname or a visit's columns.
fn check_shape(metrics: &[Metric], dimensions: &[Dimension]) -> Result<(), BadRequest> {
    if dimensions.len() > MAX_DIMENSIONS {
        return Err(bad("dimensions", format!("at most {MAX_DIMENSIONS}")));
    }
    if let (Some(metric), Some(dimension)) =
        (metrics.iter().find(|m| m.is_visit_level()), dimensions.iter().find(|d| d.is_event_level()))
    {
        return Err(bad(
            "metrics",
            format!("{} is per visit and cannot be broken down by {}", metric.name(), dimension.name()),
        ));
    }
    if let Some(metric) = metrics.iter().find(|m| m.is_page_visit_level()) {
        if let Some(other) = metrics.iter().find(|m| !m.is_page_visit_level() && m.spec().over_page_visits.is_empty()) {
            return Err(bad(
                "metrics",
                format!(
                    "{} goes with visitors, visits, pageviews, scroll_depth, time_on_page and page_time only, not {}",
                    metric.name(),
                    other.name()
                ),
            ));
        }
        let fits = |d: &Dimension| {
            matches!(d, Dimension::Time(_) | Dimension::HourOfDay | Dimension::Page | Dimension::Hostname)
                || d.level() == Level::Visit
        };
        if let Some(dimension) = dimensions.iter().find(|d| !fits(d)) {
            return Err(bad(
                "dimensions",
                format!("{} is per page visit and cannot be broken down by {}", metric.name(), dimension.name()),
            ));
        }
    }
    Ok(())
}

/// Values in one filter, and the longest value (bytes).
pub(crate) const MAX_FILTER_VALUES: usize = 100;
pub(crate) const MAX_FILTER_VALUE_BYTES: usize = 1000;

/// The most dimensions of one request, in every dialect (each one multiplies the groups
/// ClickHouse builds).
pub(crate) const MAX_DIMENSIONS: usize = 3;

/// The most rows a breakdown returns.
pub(crate) const MAX_LIMIT: u32 = 10_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    site_id: Option<Value>,
    metrics: Option<Vec<String>>,
    date_range: Option<Value>,
    #[serde(default)]
    dimensions: Vec<String>,
    #[serde(default)]
    filters: Vec<Value>,
    #[serde(default)]
    order_by: Vec<Value>,
    limit: Option<u32>,
    include: Option<Value>,
    format: Option<String>,
}

impl StatsRequest {
    /// Refuses a shape the engine does not compute ([`check_shape`]): our API refuses it as it
    /// parses, and the engine checks it again for requests a dialect built itself.
    pub fn check_shape(&self) -> Result<(), BadRequest> {
        check_shape(&self.metrics, &self.dimensions)
    }

    /// Parses and validates a JSON request body.
    pub fn from_json(body: &[u8]) -> Result<StatsRequest, BadRequest> {
        let raw: Raw = serde_json::from_slice(body).map_err(|e| bad("body", format!("not a valid query: {e}")))?;
        let site_id = match raw.site_id {
            Some(Value::Number(n)) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
            Some(Value::String(s)) => s.parse().ok(),
            _ => None,
        }
        .ok_or_else(|| bad("site_id", "required: the site's numeric id"))?;
        let names = raw.metrics.ok_or_else(|| bad("metrics", "required: at least one metric"))?;
        if names.is_empty() {
            return Err(bad("metrics", "at least one metric"));
        }
        let mut metrics = Vec::new();
        for name in &names {
            let metric = Metric::parse(name).ok_or_else(|| {
                let known: Vec<&str> = Metric::all().map(Metric::name).collect();
                bad("metrics", format!("unknown metric {name:?} (known: {})", known.join(", ")))
            })?;
            if !metrics.contains(&metric) {
                metrics.push(metric);
            }
        }
        let date_range = parse_range(raw.date_range.as_ref().ok_or_else(|| bad("date_range", "required"))?)?;
        let mut dimensions = Vec::new();
        for name in &raw.dimensions {
            let d = Dimension::parse(name).ok_or_else(|| bad("dimensions", format!("unknown dimension {name:?}")))?;
            if dimensions.contains(&d) {
                return Err(bad("dimensions", format!("{name:?} is given twice")));
            }
            dimensions.push(d);
        }
        check_shape(&metrics, &dimensions)?;
        let filters =
            raw.filters.iter().map(|f| parse_filter(f).map(FilterTree::Leaf)).collect::<Result<Vec<_>, _>>()?;
        let mut order_by = Vec::new();
        for item in &raw.order_by {
            let pair = item.as_array().filter(|a| a.len() == 2);
            let (Some(Value::String(key)), Some(Value::String(direction))) =
                (pair.and_then(|a| a.first()), pair.and_then(|a| a.get(1)))
            else {
                return Err(bad("order_by", "each entry is [\"metric or dimension\", \"asc\" | \"desc\"]"));
            };
            let descending = match direction.as_str() {
                "desc" => true,
                "asc" => false,
                other => return Err(bad("order_by", format!("direction {other:?} is not asc or desc"))),
            };
            let key = if let Some(m) = metrics.iter().find(|m| m.name() == key) {
                OrderKey::Metric(*m)
            } else if let Some(i) = dimensions.iter().position(|d| d.name() == *key) {
                OrderKey::Dimension(i)
            } else {
                return Err(bad("order_by", format!("{key:?} is not one of the requested metrics or dimensions")));
            };
            order_by.push((key, descending));
        }
        let limit = raw.limit.unwrap_or(if dimensions.is_empty() { 1 } else { 100 });
        if limit == 0 || limit > MAX_LIMIT {
            return Err(bad("limit", format!("between 1 and {MAX_LIMIT}")));
        }
        let comparison = match raw.include.as_ref().and_then(|i| i.get("comparison")) {
            None | Some(Value::Null) => false,
            Some(Value::String(s)) if s == "previous_period" => true,
            Some(_) => return Err(bad("include.comparison", "only \"previous_period\" is supported")),
        };
        let time_labels = match raw.include.as_ref().and_then(|i| i.get("time_labels")) {
            None | Some(Value::Null) | Some(Value::Bool(false)) => false,
            Some(Value::Bool(true)) if dimensions.iter().any(|d| matches!(d, Dimension::Time(_))) => true,
            Some(_) => return Err(bad("include.time_labels", "true with a time dimension")),
        };
        let format = match raw.format.as_deref() {
            None | Some("json") => Format::Json,
            Some("csv") => Format::Csv,
            Some(other) => return Err(bad("format", format!("{other:?} is not json or csv"))),
        };
        Ok(StatsRequest {
            site_id,
            metrics,
            date_range,
            dimensions,
            filters,
            order_by,
            limit,
            offset: 0,
            comparison,
            format,
            total_rows: false,
            time_labels,
        })
    }
}

fn parse_range(value: &Value) -> Result<DateRange, BadRequest> {
    match value {
        Value::String(s) => Ok(match s.as_str() {
            "day" | "today" => DateRange::Today,
            "yesterday" => DateRange::Yesterday,
            "7d" => DateRange::LastDays(7),
            "30d" => DateRange::LastDays(30),
            "month" => DateRange::Month,
            "year" => DateRange::Year,
            "realtime" => DateRange::Realtime,
            other => {
                let days =
                    other.strip_suffix('d').and_then(|n| n.parse::<u32>().ok()).filter(|n| (1..=800).contains(n));
                DateRange::LastDays(days.ok_or_else(|| {
                    bad(
                        "date_range",
                        format!("{other:?}: use today, yesterday, 7d, 30d, Nd, month, year, realtime or [from, to]"),
                    )
                })?)
            }
        }),
        Value::Array(pair) if pair.len() == 2 => {
            let date = |v: &Value| v.as_str().filter(|s| is_date(s)).map(str::to_owned);
            match (date(&pair[0]), date(&pair[1])) {
                (Some(from), Some(to)) if from <= to => Ok(DateRange::Custom(from, to)),
                (Some(_), Some(_)) => Err(bad("date_range", "the first date is after the second")),
                _ => Err(bad("date_range", "custom ranges are [\"YYYY-MM-DD\", \"YYYY-MM-DD\"]")),
            }
        }
        _ => Err(bad("date_range", "a period name or [\"YYYY-MM-DD\", \"YYYY-MM-DD\"]")),
    }
}

fn parse_filter(value: &Value) -> Result<Filter, BadRequest> {
    let items = value.as_array().filter(|a| a.len() == 3).ok_or_else(|| {
        bad("filters", "each filter is [\"is\" | \"is_not\" | \"contains\", \"dimension\", [\"value\", ...]]")
    })?;
    let operator = items[0].as_str().and_then(Operator::parse).ok_or_else(|| {
        let known: Vec<&str> = Operator::ALL.iter().map(|(n, _)| *n).collect();
        bad("filters", format!("unknown operator {} ({})", items[0], known.join(", ")))
    })?;
    let name = items[1].as_str().unwrap_or("");
    let dimension = Dimension::parse(name).ok_or_else(|| bad("filters", format!("unknown dimension {name:?}")))?;
    if matches!(dimension, Dimension::Time(_) | Dimension::HourOfDay) {
        return Err(bad("filters", "filter time with date_range"));
    }
    let values: Vec<String> = match &items[2] {
        Value::Array(values) => values.iter().map(|v| v.as_str().map(str::to_owned)).collect::<Option<_>>(),
        Value::String(s) => Some(vec![s.clone()]),
        _ => None,
    }
    .filter(|v: &Vec<String>| !v.is_empty() && v.len() <= MAX_FILTER_VALUES)
    .filter(|v: &Vec<String>| v.iter().all(|value| value.len() <= MAX_FILTER_VALUE_BYTES))
    .ok_or_else(|| {
        bad(
            "filters",
            format!(
                "the values of the {name} filter are 1 to {MAX_FILTER_VALUES} strings of at most {MAX_FILTER_VALUE_BYTES} bytes"
            ),
        )
    })?;
    // Our v1 API: `contains` ignores case, every other operator does not.
    let case_sensitive = !matches!(operator, Operator::Contains | Operator::ContainsNot);
    Ok(Filter { operator, dimension, values, case_sensitive })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_results_leave_out_the_unknown_count() {
        // The dimension's SQL is a constant: it must name the sentinel the pipeline stores.
        let sql = Dimension::SearchResults.column().unwrap();
        assert!(sql.contains(&format!("search_count != {}", crate::event::SEARCH_COUNT_UNKNOWN)), "{sql}");
    }

    /// The dimension table round-trips: each name parses to its dimension and back.
    #[test]
    fn the_dimension_table_round_trips() {
        let mut names = std::collections::HashSet::new();
        for spec in DIMENSIONS {
            assert!(names.insert(spec.name), "{} twice", spec.name);
            assert_eq!(Dimension::parse(spec.name), Some(spec.dimension.clone()));
            assert_eq!(spec.dimension.name(), spec.name);
            assert_eq!(spec.dimension.column().is_none(), spec.level == Level::Time, "{}", spec.name);
            assert_eq!(spec.dimension.items_column().is_some(), spec.level == Level::Item, "{}", spec.name);
        }
        assert_eq!(Dimension::parse("time"), Some(Dimension::Time(TimeBucket::Day)));
        let prop = Dimension::parse("event:props:plan").unwrap();
        assert_eq!((prop.name().as_str(), prop.level()), ("event:props:plan", Level::Event));
        assert_eq!(Dimension::parse("event:props:"), None);
        assert_eq!(Dimension::parse("visit:nope"), None);
    }

    fn parse(json: &str) -> Result<StatsRequest, BadRequest> {
        StatsRequest::from_json(json.as_bytes())
    }

    #[test]
    fn a_full_request() {
        let r = parse(r#"{"site_id": 1, "metrics": ["visitors", "bounce_rate"], "date_range": ["2026-01-01", "2026-01-31"],
            "dimensions": ["visit:source"], "filters": [["is", "visit:country", ["FR", "BE"]], ["contains", "event:page", ["/blog"]]],
            "order_by": [["visitors", "desc"]], "limit": 10, "include": {"comparison": "previous_period"}, "format": "csv"}"#)
        .unwrap();
        assert_eq!(r.metrics, vec![Metric::Visitors, Metric::BounceRate]);
        assert_eq!(r.date_range, DateRange::Custom("2026-01-01".into(), "2026-01-31".into()));
        assert_eq!(r.dimensions, vec![Dimension::Source]);
        assert_eq!(r.filters.len(), 2);
        assert_eq!(r.order_by, vec![(OrderKey::Metric(Metric::Visitors), true)]);
        assert!(r.comparison);
        assert_eq!(r.format, Format::Csv);
    }

    #[test]
    fn errors_name_the_parameter() {
        let cases = [
            (r#"{"metrics": ["visitors"], "date_range": "7d"}"#, "site_id"),
            (r#"{"site_id": 1, "metrics": ["hugs"], "date_range": "7d"}"#, "metrics"),
            (r#"{"site_id": 1, "metrics": ["visitors"], "date_range": "fortnight"}"#, "date_range"),
            (r#"{"site_id": 1, "metrics": ["visitors"], "date_range": ["2026-02-01", "2026-01-01"]}"#, "date_range"),
            (
                r#"{"site_id": 1, "metrics": ["visitors"], "date_range": "7d", "dimensions": ["visit:shoe_size"]}"#,
                "dimensions",
            ),
            (
                r#"{"site_id": 1, "metrics": ["visitors"], "date_range": "7d", "filters": [["like", "visit:os", ["x"]]]}"#,
                "filters",
            ),
            (
                r#"{"site_id": 1, "metrics": ["visitors"], "date_range": "7d", "order_by": [["pageviews", "desc"]]}"#,
                "order_by",
            ),
            (r#"{"site_id": 1, "metrics": ["visitors"], "date_range": "7d", "limit": 0}"#, "limit"),
            (
                r#"{"site_id": 1, "metrics": ["bounce_rate"], "date_range": "7d", "dimensions": ["event:page"]}"#,
                "metrics",
            ),
            (r#"{"site_id": 1, "metrics": ["visitors"], "date_range": "7d", "sql": "DROP TABLE"}"#, "body"),
        ];
        for (json, parameter) in cases {
            assert_eq!(parse(json).unwrap_err().parameter, parameter, "{json}");
        }
    }
}
