//! Running a stats request: its span, its SQL (and the previous period's, and the row count,
//! at the same time), the rows read back, rounded where the site asks for it. Dialects render
//! the [`Answer`]; this module knows no HTTP and no answer shape.

use crate::config::{SiteConfig, read_floor};
use crate::query::period::{DateRange, Span, resolve};
use crate::query::public::public_span;
use crate::query::request::{BadRequest, Dimension, StatsRequest, TimeBucket};
use crate::query::rounding::{Noise, round_rows, with_rounding_inputs};
use crate::query::sql::build;
use crate::query::{ResultRow, Scope};
use crate::store::Store;
use crate::store::sql::Sql;

/// How far a span may reach past the data a site can have: before its retention floor and
/// after now. Whole calendar periods (a year, twelve months) still fit, with their empty
/// buckets; year 1 to 9999 does not (its buckets were the memory of the collector).
pub(crate) const SPAN_MARGIN_DAYS: u64 = 400;
/// The most buckets a time dimension may have (24 per day by the hour).
pub(crate) const MAX_TIME_BUCKETS: i64 = 10_000;

/// The most bytes one query's rows may take as ClickHouse sends them (tab-separated): a larger
/// answer is refused as over budget while it arrives (the server's query is killed), never held
/// whole. A page of 10,000 rows of 3 dimensions of 1,000 bytes fits.
pub(crate) const MAX_ANSWER_BYTES: usize = 32 << 20;

/// `span` within [`SPAN_MARGIN_DAYS`] of the data: from the retention `floor` less the margin
/// to `now` plus it. Rows are read from the floor on in any case ([`Scope`]).
fn bounded(mut span: Span, floor: u64, now: u64) -> Span {
    let margin = SPAN_MARGIN_DAYS * 86_400;
    let (earliest, latest) = (floor.saturating_sub(margin), now.saturating_add(margin));
    if span.from < earliest {
        span.from = earliest;
        span.first_day = (earliest / 86_400) as i64;
    }
    if span.to > latest {
        span.to = latest;
        span.last_day = ((latest - 1) / 86_400) as i64;
    }
    // The calendar days too, on their own: a date past what ClickHouse's DateTime holds (year
    // 9999) comes back from its time-zone conversion as some other instant, so the instants
    // alone cannot be trusted to bound the days.
    span.first_day = span.first_day.max((earliest / 86_400) as i64);
    span.last_day = span.last_day.min(((latest - 1) / 86_400) as i64);
    span.to = span.to.max(span.from);
    span.last_day = span.last_day.max(span.first_day - 1);
    span
}

/// Refuses a time dimension of more than [`MAX_TIME_BUCKETS`] buckets over `span`.
fn check_buckets(request: &StatsRequest, span: &Span) -> Result<(), BadRequest> {
    let days = span.last_day - span.first_day + 1;
    for dimension in &request.dimensions {
        if let Dimension::Time(bucket) = dimension {
            let buckets = match bucket {
                TimeBucket::Hour => days * 24,
                TimeBucket::Day => days,
                TimeBucket::Week => days / 7 + 1,
                TimeBucket::Month => days / 28 + 1,
            };
            if buckets > MAX_TIME_BUCKETS {
                return Err(BadRequest {
                    parameter: "dimensions".into(),
                    message: format!(
                        "{} over this range makes {buckets} buckets, more than {MAX_TIME_BUCKETS}: ask for a shorter range or a longer bucket",
                        dimension.name()
                    ),
                });
            }
        }
    }
    Ok(())
}

/// Why a request could not be answered.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The request asks for what the engine cannot compute.
    #[error("{0}")]
    Invalid(#[from] BadRequest),
    /// ClickHouse could not answer (or stopped the query for its budget).
    #[error(transparent)]
    Store(#[from] crate::store::Error),
}

/// Runs the SQL and reads its rows.
pub async fn fetch(store: &Store, sql: &Sql, dimensions: usize) -> crate::store::Result<Vec<ResultRow>> {
    let bytes = store.fetch_tab_separated(sql, MAX_ANSWER_BYTES).await?;
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

/// A finished answer: rows, with the previous period's when asked for.
pub struct Answer {
    pub rows: Vec<ResultRow>,
    pub previous: Option<(Span, Vec<ResultRow>)>,
    pub span: Span,
    /// Every row before the limit and offset, when the request asked for it.
    pub total_rows: Option<u64>,
}

/// Who reads: the site's own credential reads everything; anyone else reads a public site's
/// settled figures ([`crate::query::public`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    Owner,
    Public,
}

/// Runs `request` for `site` at `now`, as `audience` may read it.
pub async fn run(
    store: &Store,
    request: &StatsRequest,
    site: &SiteConfig,
    now: u64,
    audience: Audience,
) -> Result<Answer, QueryError> {
    // Every dialect's request meets the same shapes (Plausible's are built by its dialect).
    request.check_shape()?;
    let mut span = resolve(store, &request.date_range, &site.timezone, now).await?;
    if request.date_range == DateRange::All {
        // Everything kept: the span starts where retention does.
        span.from = Scope::new(site, span.from, span.to, now).from;
        span.first_day = (span.from / 86_400) as i64;
    }
    let mut span = bounded(span, read_floor(site.retention.days(), now), now);
    if audience == Audience::Public {
        span = public_span(request, span, now)?;
    }
    check_buckets(request, &span)?;
    let rounding = site.round_counts.then(|| with_rounding_inputs(request));
    let computed = rounding.as_ref().unwrap_or(request);
    let scope = Scope::new(site, span.from, span.to, now);
    let current_sql = build(computed, site, &scope)?;
    let current = fetch(store, &current_sql, request.dimensions.len());
    // The previous period runs at the same time: a comparison costs no extra latency.
    let before = span.previous();
    let before_scope = Scope::new(site, before.from, before.to, now);
    let before_sql = build(computed, site, &before_scope)?;
    let previous = async {
        if request.comparison { fetch(store, &before_sql, request.dimensions.len()).await.map(Some) } else { Ok(None) }
    };
    let count_sql = {
        let mut all = computed.clone();
        (all.limit, all.offset) = (0, 0);
        let mut sql = Sql::default();
        sql.push("SELECT count() FROM (").append(build(&all, site, &scope)?).push(")");
        sql
    };
    let total = async {
        if request.total_rows && !request.dimensions.is_empty() {
            store
                .fetch_tab_separated(&count_sql, 64)
                .await
                .map(|b| String::from_utf8_lossy(&b).trim().parse::<u64>().ok())
        } else {
            Ok(None)
        }
    };
    let (rows, previous, total_rows) = tokio::join!(current, previous, total);
    let privacy = |rows: Vec<ResultRow>, span: &Span| match &rounding {
        Some(computed) => round_rows(rows, &computed.metrics, &request.metrics, &Noise::of(request, span)),
        None => rows,
    };
    let rows = privacy(rows?, &span);
    let previous = previous?.map(|rows| (before, privacy(rows, &before)));
    // With rounding, rows under the small-count floor are left out: the total counts those
    // returned rounding-wise only when everything fits on one page.
    let total_rows = match (total_rows?, &rounding) {
        (Some(_), Some(_)) => Some(rows.len() as u64 + u64::from(request.offset)),
        (total, _) => total,
    };
    Ok(Answer { rows, previous, span, total_rows })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_span_reaches_at_most_a_margin_past_the_data() {
        let day = 86_400;
        let (floor, now) = (1_000 * day, 1_180 * day);
        let whole = Span { from: 0, to: 4_000_000 * day, first_day: 0, last_day: 4_000_000 };
        let kept = bounded(whole, floor, now);
        assert_eq!((kept.first_day, kept.last_day), (600, 1_579));
        // A year inside the margin is kept whole.
        let year = Span { from: 900 * day, to: 1_265 * day, first_day: 900, last_day: 1_264 };
        assert_eq!(bounded(year, floor, now), year);
        // Entirely in the far future: empty.
        let later = Span { from: 9_000_000 * day, to: 9_000_001 * day, first_day: 9_000_000, last_day: 9_000_000 };
        let empty = bounded(later, floor, now);
        assert!(empty.from == empty.to && empty.last_day < empty.first_day);
        // Year 1 to 9999 with instants ClickHouse got wrong (9999 wrapped to an early date):
        // the days are bounded all the same.
        let wrapped = Span { from: 0, to: 10 * day, first_day: -719_162, last_day: 2_932_896 };
        let kept = bounded(wrapped, floor, now);
        assert_eq!((kept.first_day, kept.last_day), (600, 1_579));
        assert!(crate::query::period::time_labels(&empty, TimeBucket::Day).is_empty());
    }

    #[test]
    fn too_many_time_buckets_are_refused() {
        let request = StatsRequest::from_json(
            br#"{"site_id": 1, "metrics": ["visitors"], "date_range": "7d", "dimensions": ["time:hour"]}"#,
        )
        .unwrap();
        let days = |n: i64| Span { from: 0, to: 0, first_day: 0, last_day: n - 1 };
        assert!(check_buckets(&request, &days(400)).is_ok());
        let error = check_buckets(&request, &days(500)).unwrap_err();
        assert!(error.message.contains("12000 buckets"), "{}", error.message);
    }

    #[test]
    fn tsv_fields_are_unescaped() {
        assert_eq!(unescape("a\\tb\\\\c"), "a\tb\\c");
        assert_eq!(unescape("plain"), "plain");
    }
}
