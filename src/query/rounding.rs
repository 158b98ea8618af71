//! Rounding small counts (docs/privacy.md F2), for sites that ask for it (`round_counts`): the
//! engine computes what rounding needs ([`with_rounding_inputs`]) and rounds the rows it reads
//! ([`round_rows`]) before any dialect sees them.

use crate::query::ResultRow;
use crate::query::metrics::Metric;
use crate::query::request::StatsRequest;

/// Distinct visitors a row needs to be listed on a site that rounds small counts.
pub(crate) const SMALL_COUNT: f64 = 10.0;

/// The request as the SQL computes it on a site that rounds small counts (docs/privacy.md F2):
/// the requested metrics, then the counts that suppression (visitors) and the rates derived
/// from rounded counts (views per visit, conversion rate) need.
pub(crate) fn with_rounding_inputs(request: &StatsRequest) -> StatsRequest {
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
pub(crate) fn round_rows(rows: Vec<ResultRow>, computed: &[Metric], requested: &[Metric]) -> Vec<ResultRow> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
