//! Rounding small counts (docs/privacy.md F2), for sites that ask for it (`round_counts`): the
//! engine computes what rounding needs ([`with_rounding_inputs`]) and rounds the rows it reads
//! ([`round_rows`]) before any dialect sees them.
//!
//! A threshold alone ("rows under 10 visitors are hidden") does not hide one visitor: whoever
//! can send hits can pad a row with 9 made-up visitors and watch it appear when the tenth, real
//! one comes. So every count gets calibrated noise first ([`Noise`]), and the threshold and the
//! rounding read the noisy count: a row of 10 visitors and the same row without one of them are
//! answered alike with probabilities within a factor e^ε of each other (ε = [`EPSILON`]), except
//! for a chance under δ = [`DELTA`] (the noise is bounded by [`NOISE_BOUND`]). That is
//! (ε, δ)-differential privacy for each count of each row, for one visitor's presence.
//!
//! The noise is a discrete Laplace (two-sided geometric) variable, drawn from an HMAC of the
//! question (site, span, dimensions, filters, the row's values and the metric) under a key
//! random to this process: asking the same question again gives the same answer, so repeating
//! it does not average the noise away. Different questions draw independent noise; what many
//! differing questions about one row compose to is documented in docs/privacy.md F2.

use std::sync::OnceLock;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::query::ResultRow;
use crate::query::metrics::Metric;
use crate::query::period::Span;
use crate::query::request::StatsRequest;

/// The privacy loss of one count of one row for one visitor's presence.
pub(crate) const EPSILON: f64 = 1.0;
/// The largest noise added to a count (either way).
pub(crate) const NOISE_BOUND: i64 = 5;
/// The chance that one count of one row tells a visitor's presence outright: the mass of the
/// noise at its bound (where a count with the visitor and one without no longer overlap).
pub(crate) const DELTA: f64 = 0.0031;

/// The noise of one question's counts: an HMAC key random to this process, fed the question.
pub(crate) struct Noise {
    question: Hmac<Sha256>,
}

fn process_key() -> &'static [u8; 32] {
    static KEY: OnceLock<[u8; 32]> = OnceLock::new();
    KEY.get_or_init(|| {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).expect("the OS random number generator is available");
        key
    })
}

impl Noise {
    /// The noise of `request` over `span` (its dimensions and filters, not its metrics' order,
    /// limit or dialect: the same question through any API draws the same noise).
    pub(crate) fn of(request: &StatsRequest, span: &Span) -> Noise {
        Noise::keyed(process_key(), request, span)
    }

    fn keyed(key: &[u8], request: &StatsRequest, span: &Span) -> Noise {
        let mut question = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
        let names: Vec<String> = request.dimensions.iter().map(|d| d.name()).collect();
        let shape = format!("{}|{}|{}|{:?}|{:?}", request.site_id, span.from, span.to, names, request.filters);
        question.update(shape.as_bytes());
        Noise { question }
    }

    /// The noise of `metric` in the row of these dimension values: an integer in
    /// `[-NOISE_BOUND, NOISE_BOUND]`, of probability proportional to e^(-ε·|k|).
    fn draw(&self, dimensions: &[String], metric: Metric) -> i64 {
        let mut mac = self.question.clone();
        for value in dimensions {
            mac.update(&(value.len() as u64).to_le_bytes());
            mac.update(value.as_bytes());
        }
        mac.update(metric.name().as_bytes());
        let bytes = mac.finalize().into_bytes();
        let word = u64::from_le_bytes(bytes[..8].try_into().expect("a SHA-256 output has 8 bytes"));
        // A uniform in [0, 1) with 53 bits, then the inverse of the noise's distribution.
        let uniform = (word >> 11) as f64 / (1u64 << 53) as f64;
        discrete_laplace(uniform)
    }
}

/// The value at `uniform` (in `[0, 1)`) of the discrete Laplace distribution of parameter
/// [`EPSILON`] bounded to `[-NOISE_BOUND, NOISE_BOUND]`.
fn discrete_laplace(uniform: f64) -> i64 {
    let weight = |k: i64| (-EPSILON * k.abs() as f64).exp();
    let total: f64 = (-NOISE_BOUND..=NOISE_BOUND).map(weight).sum();
    let mut below = 0.0;
    for k in -NOISE_BOUND..NOISE_BOUND {
        below += weight(k) / total;
        if uniform < below {
            return k;
        }
    }
    NOISE_BOUND
}

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

/// docs/privacy.md F2 on the rows of `computed` metrics: every count gets its noise; a row of
/// fewer than [`SMALL_COUNT`] visitors (noisy) is left out; every count is rounded to the
/// nearest 10; views per visit and conversion rate are computed from the rounded counts (so no
/// exact count can be worked back). Returns rows with exactly the `requested` metrics.
pub(crate) fn round_rows(
    rows: Vec<ResultRow>,
    computed: &[Metric],
    requested: &[Metric],
    noise: &Noise,
) -> Vec<ResultRow> {
    let at = |metric: Metric| computed.iter().position(|m| *m == metric).expect("the rounding inputs are computed");
    let noisy = |row: &ResultRow, metric: Metric| {
        (row.metrics[at(metric)] + noise.draw(&row.dimensions, metric) as f64).max(0.0)
    };
    let rounded = |v: f64| (v / 10.0).round() * 10.0;
    rows.into_iter()
        .filter(|row| noisy(row, Metric::Visitors) >= SMALL_COUNT)
        .map(|row| {
            let count = |metric: Metric| rounded(noisy(&row, metric));
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

    fn request(dimensions: &str) -> StatsRequest {
        let json = format!(
            r#"{{"site_id": 1, "metrics": ["pageviews", "views_per_visit", "conversion_rate", "bounce_rate"], "date_range": "7d", "dimensions": {dimensions}}}"#
        );
        StatsRequest::from_json(json.as_bytes()).unwrap()
    }

    const SPAN: Span = Span { from: 86_400, to: 2 * 86_400, first_day: 1, last_day: 1 };

    #[test]
    fn rounding_suppresses_small_rows_and_derives_from_rounded_counts() {
        use Metric::*;
        // bounce_rate is per visit: no breakdown by page; use the aggregate form.
        assert!(
            StatsRequest::from_json(
                br#"{"site_id": 1, "metrics": ["bounce_rate"], "date_range": "7d", "dimensions": ["event:page"]}"#
            )
            .is_err()
        );
        let request = request(r#"["visit:country"]"#);
        let computed = with_rounding_inputs(&request);
        assert_eq!(
            computed.metrics,
            vec![Pageviews, ViewsPerVisit, ConversionRate, BounceRate, Visitors, Visits, Conversions]
        );
        let row =
            |country: &str, values: [f64; 7]| ResultRow { dimensions: vec![country.into()], metrics: values.to_vec() };
        for key in 0..50u8 {
            let noise = Noise::keyed(&[key; 32], &request, &SPAN);
            let rows = vec![
                // 37 page views by 14 visitors in 16 visits, 3 converted.
                row("FR", [37.0, 2.31, 18.8, 40.0, 14.0, 16.0, 3.0]),
                // 3 visitors: under 10 whatever the noise.
                row("BE", [9.0, 3.0, 0.0, 0.0, 3.0, 3.0, 0.0]),
            ];
            let out = round_rows(rows, &computed.metrics, &request.metrics, &noise);
            assert!(out.iter().all(|r| r.dimensions == ["FR"]), "the row of 3 visitors is left out");
            let Some(fr) = out.first() else { continue };
            let [pageviews, per_visit, conversion, bounce] = fr.metrics[..] else { panic!("four metrics") };
            assert!(pageviews == 30.0 || pageviews == 40.0, "{pageviews}");
            assert_eq!(bounce, 40.0, "a rate is not a count");
            assert!([0.0, 50.0, 100.0].contains(&conversion), "from the rounded counts: {conversion}");
            assert!([1.5, 2.0, 3.0, 4.0].contains(&per_visit), "from the rounded counts: {per_visit}");
        }
    }

    #[test]
    fn the_same_question_gets_the_same_noise() {
        let (by_country, by_page) = (request(r#"["visit:country"]"#), request("[]"));
        let draws =
            |noise: &Noise| (0..64).map(|i| noise.draw(&[format!("v{i}")], Metric::Visitors)).collect::<Vec<_>>();
        assert_eq!(draws(&Noise::of(&by_country, &SPAN)), draws(&Noise::of(&by_country, &SPAN)));
        assert_ne!(draws(&Noise::of(&by_country, &SPAN)), draws(&Noise::of(&by_page, &SPAN)));
        let all = draws(&Noise::of(&by_country, &SPAN));
        assert!(all.iter().all(|k| k.abs() <= NOISE_BOUND));
    }

    /// The padding attack: 9 made-up visitors in a row, and the row appears when a real tenth
    /// comes. With the noise, the row of 10 and the row of 9 are each shown or hidden by chance,
    /// with probabilities within e^ε of each other.
    #[test]
    fn padding_a_row_does_not_reveal_its_last_visitor() {
        let request = request(r#"["visit:country"]"#);
        let computed = with_rounding_inputs(&request);
        let visitors = computed.metrics.iter().position(|m| *m == Metric::Visitors).unwrap();
        let noise = Noise::keyed(b"a fixed key for the test", &request, &SPAN);
        let shown = |count: f64| {
            let rows: Vec<ResultRow> = (0..4000)
                .map(|i| {
                    let mut metrics = vec![0.0; computed.metrics.len()];
                    metrics[visitors] = count;
                    ResultRow { dimensions: vec![format!("row {i}")], metrics }
                })
                .collect();
            round_rows(rows, &computed.metrics, &request.metrics, &noise).len() as f64 / 4000.0
        };
        let (with_the_visitor, without) = (shown(10.0), shown(9.0));
        assert!(without > 0.2 && with_the_visitor < 0.8, "neither answer is certain: {with_the_visitor} {without}");
        assert!(with_the_visitor / without < EPSILON.exp() * 1.15, "{with_the_visitor} / {without}");
        assert_eq!(shown(4.0), 0.0, "4 visitors never reach 10");
    }

    #[test]
    fn the_noise_is_the_bounded_discrete_laplace_and_delta_its_bound() {
        let histogram = |k: i64| (0..100_000).filter(|i| discrete_laplace(*i as f64 / 100_000.0) == k).count() as f64;
        for k in 0..NOISE_BOUND {
            let ratio = histogram(k) / histogram(k + 1);
            assert!((ratio - EPSILON.exp()).abs() < 0.1, "{k}: {ratio}");
        }
        let at_bound = histogram(NOISE_BOUND) / 100_000.0;
        assert!((at_bound - DELTA).abs() < 0.0002, "{at_bound}");
        assert!((histogram(NOISE_BOUND) - histogram(-NOISE_BOUND)).abs() <= 1.0, "symmetric");
    }
}
