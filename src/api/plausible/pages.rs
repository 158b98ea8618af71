//! Plausible's page breakdown with per-visit metrics: `bounce_rate`, `visit_duration` and
//! `views_per_visit` by `event:page` are the figures of the visits that *entered* on each page
//! (Plausible computes them so: a visit has many pages but one entry). Our engine refuses a
//! per-visit metric split by an event-level dimension, so the dialects ask two questions under
//! one grant (the page rows with the other metrics, then the per-visit metrics by entry page)
//! and join them on the page.

use std::collections::HashMap;

use crate::api::Refusal;
use crate::api::access::Grant;
use crate::query::ResultRow;
use crate::query::request::{Dimension, Metric, OrderKey, StatsRequest};
use crate::query::stats::Answer;

/// Runs `request` under `grant`, joining per-visit metrics by entry page into page rows when
/// it asks for them by `event:page`; any other request runs as it is.
pub(crate) async fn run(grant: &Grant<'_>, request: &StatsRequest) -> Result<Answer, Refusal> {
    let page_at = request.dimensions.iter().position(|d| *d == Dimension::Page);
    let other_event_level = request.dimensions.iter().any(|d| d.is_event_level() && *d != Dimension::Page);
    let per_visit = request.metrics.iter().any(|m| m.is_visit_level());
    let (Some(page_at), false, true) = (page_at, other_event_level, per_visit) else {
        return grant.run(request).await;
    };
    if request.order_by.iter().any(|(key, _)| matches!(key, OrderKey::Metric(m) if m.is_visit_level())) {
        return Err(Refusal::invalid(
            "order_by",
            "pages cannot be ordered by a per-visit metric (it is their entry visits'); order by visitors or pageviews",
        ));
    }
    let mut pages = request.clone();
    pages.metrics.retain(|m| !m.is_visit_level());
    if pages.metrics.is_empty() {
        pages.metrics.push(Metric::Visitors);
    }
    let mut entries = request.clone();
    entries.metrics.retain(|m| m.is_visit_level());
    entries.dimensions[page_at] = Dimension::EntryPage;
    (entries.limit, entries.offset, entries.total_rows, entries.order_by) = (0, 0, false, Vec::new());
    let (on_pages, by_entry) = (grant.run(&pages).await?, grant.run(&entries).await?);
    let join = |page_rows: Vec<ResultRow>, entry_rows: Vec<ResultRow>| -> Vec<ResultRow> {
        let by_values: HashMap<Vec<String>, Vec<f64>> =
            entry_rows.into_iter().map(|row| (row.dimensions, row.metrics)).collect();
        page_rows
            .into_iter()
            .map(|row| {
                let entered = by_values.get(&row.dimensions);
                let (mut from_pages, mut from_entries) = (0, 0);
                let metrics = request
                    .metrics
                    .iter()
                    .map(|metric| {
                        if metric.is_visit_level() {
                            from_entries += 1;
                            entered.map_or(0.0, |values| values[from_entries - 1])
                        } else {
                            from_pages += 1;
                            row.metrics[from_pages - 1]
                        }
                    })
                    .collect();
                ResultRow { dimensions: row.dimensions, metrics }
            })
            .collect()
    };
    let previous = match (on_pages.previous, by_entry.previous) {
        (Some((span, page_rows)), Some((_, entry_rows))) => Some((span, join(page_rows, entry_rows))),
        _ => None,
    };
    Ok(Answer {
        rows: join(on_pages.rows, by_entry.rows),
        previous,
        span: on_pages.span,
        total_rows: on_pages.total_rows,
    })
}
