//! What anyone may read of a public site (docs/privacy.md F2): its figures, but not the few
//! people who are on it right now, nor any short window in which one visitor stands alone.
//!
//! A breakdown or a filter by anything finer than the country ("identifying": a page, a
//! browser, a city…) is answered for a public reader only over a span of a day or more that
//! (for a range of date-times) starts and ends on the hour, and never over the last half hour: the span ends at the last
//! whole hour that is at least [`SETTLED_AFTER`] old. Totals, and figures by country or by time
//! bucket, are answered for any span (realtime included). The site's own credential reads
//! everything. Asking through any dialect (our API, Plausible's v1 or v2) meets the same rule,
//! because every dialect runs its queries through [`crate::api::access::Grant::run`].

use crate::query::period::{DateRange, Span};
use crate::query::request::{BadRequest, Dimension, StatsRequest};

/// How old the newest data a public reader sees broken down finely is (at least).
pub(crate) const SETTLED_AFTER: u64 = 30 * 60;
/// The shortest span a public reader may break down finely.
pub(crate) const SHORTEST_SPAN: u64 = 86_400;
const HOUR: u64 = 3_600;

/// Whether `request` breaks down or filters by anything finer than the country.
fn identifying(request: &StatsRequest) -> bool {
    let coarse = |d: &Dimension| matches!(d, Dimension::Country | Dimension::Time(_));
    request.dimensions.iter().any(|d| !coarse(d))
        || request.filters.iter().flat_map(|t| t.leaves()).any(|f| f.dimension != Dimension::Country)
}

/// The span a public reader's `request` reads at `now`: `span` itself, or cut back to settled
/// data; refused when the question is finer than the country over a span under a day or not on
/// the hour.
pub(crate) fn public_span(request: &StatsRequest, mut span: Span, now: u64) -> Result<Span, BadRequest> {
    if !identifying(request) {
        return Ok(span);
    }
    let refuse = |message: &str| BadRequest {
        parameter: "date_range".into(),
        message: format!(
            "a public site's figures {message} are given in total, by visit:country or by time at most (a lone visitor would stand out); a site's API token reads them all"
        ),
    };
    if span.to.saturating_sub(span.from) < SHORTEST_SPAN {
        return Err(refuse("of the last 30 minutes, or of any range under a day,"));
    }
    // A range of instants (Plausible's date-times) is the reader's choice to the second; calendar
    // ranges start at the site's midnight, which may be off the UTC hour (India's is).
    let instants = matches!(request.date_range, DateRange::Instants(..));
    if instants && (!span.from.is_multiple_of(HOUR) || !span.to.is_multiple_of(HOUR)) {
        return Err(refuse("of a range that does not start and end on the hour"));
    }
    let settled = now.saturating_sub(SETTLED_AFTER) / HOUR * HOUR;
    if span.to > settled {
        span.to = settled.max(span.from);
    }
    Ok(span)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(dimensions: &str, filters: &str) -> StatsRequest {
        let json = format!(
            r#"{{"site_id": 1, "metrics": ["visitors"], "date_range": "7d", "dimensions": {dimensions}, "filters": {filters}}}"#
        );
        StatsRequest::from_json(json.as_bytes()).unwrap()
    }

    const NOW: u64 = 1_800_000_000;

    fn span(from: u64, to: u64) -> Span {
        Span { from, to, first_day: (from / 86_400) as i64, last_day: ((to - 1) / 86_400) as i64 }
    }

    #[test]
    fn totals_countries_and_time_are_answered_for_any_span() {
        let five_minutes = span(NOW - 300, NOW + 1);
        for (dimensions, filters) in [
            ("[]", "[]"),
            (r#"["visit:country"]"#, "[]"),
            (r#"["visit:country", "time:hour"]"#, r#"[["is", "visit:country", ["FR"]]]"#),
        ] {
            assert_eq!(public_span(&request(dimensions, filters), five_minutes, NOW), Ok(five_minutes));
        }
    }

    #[test]
    fn finer_questions_need_a_settled_day_on_the_hour() {
        let by_page = request(r#"["event:page"]"#, "[]");
        let filtered = request(r#"["visit:country"]"#, r#"[["is", "visit:browser", ["Firefox"]]]"#);
        let five_minutes = span(NOW - 300, NOW + 1);
        for question in [&by_page, &filtered] {
            let error = public_span(question, five_minutes, NOW).unwrap_err();
            assert!(error.message.contains("under a day"), "{}", error.message);
        }
        let mut instants = by_page.clone();
        instants.date_range = DateRange::Instants(NOW - 86_400 - 60, NOW - 60);
        let day_off_the_hour = span(NOW - 86_400 - 60, NOW - 60);
        assert!(public_span(&instants, day_off_the_hour, NOW).unwrap_err().message.contains("on the hour"));
        // Today, on the hour: cut back to the last whole hour half an hour old.
        let hour = 3_600;
        let midnight = NOW / 86_400 * 86_400;
        let today = span(midnight, midnight + 86_400);
        let now = midnight + 10 * hour + 20 * 60; // 10:20
        assert_eq!(public_span(&by_page, today, now).unwrap().to, midnight + 9 * hour);
        let now = midnight + 10 * hour + 40 * 60; // 10:40
        assert_eq!(public_span(&by_page, today, now).unwrap().to, midnight + 10 * hour);
        // Yesterday is settled: unchanged.
        let yesterday = span(midnight - 86_400, midnight);
        assert_eq!(public_span(&by_page, yesterday, now), Ok(yesterday));
    }
}
