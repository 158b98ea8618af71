//! Matomo's methods about the reports and the sites rather than one report: the report
//! metadata the mobile app and Looker build their screens from (`API.getReportMetadata`,
//! `API.getProcessedReport`), the all-sites dashboard (`MultiSites.getAll`), the live counters
//! (`Live.getCounters`), and the per-user lists we keep none of (`SegmentEditor.getAll`,
//! `Dashboard.getDashboards`, `UsersManager.getUserPreference`).

use serde_json::{Map, Value, json};

use super::reports::{Columns, REPORTS, Report};

/// The most minutes `Live.getCounters` looks back (Matomo's clients ask 30, 60 or 1440).
pub(crate) const MAX_LIVE_MINUTES: u64 = 2880;

/// What each Matomo column means, as the metadata names it.
fn column_name(column: &str) -> &'static str {
    match column.trim_start_matches("entry_").trim_start_matches("exit_") {
        "nb_uniq_visitors" => "Unique visitors",
        "nb_visits" => "Visits",
        "nb_actions" => "Actions",
        "nb_hits" => "Pageviews",
        "nb_events" => "Events",
        "sum_visit_length" => "Total time spent by visitors (in seconds)",
        "bounce_count" => "Bounces",
        "nb_visits_converted" => "Visits converted",
        "nb_impressions" => "Impressions",
        "nb_interactions" => "Interactions",
        "revenue" => "Product revenue",
        "quantity" => "Quantity",
        "orders" => "Unique purchases",
        _ => "Value",
    }
}

/// How a column is formatted, as Matomo's `metricTypes` say (Looker formats fields by it).
fn column_type(column: &str) -> &'static str {
    match column.trim_start_matches("entry_").trim_start_matches("exit_") {
        "sum_visit_length" | "avg_time_on_site" => "duration_s",
        "revenue" | "avg_price" => "money",
        "bounce_rate" => "percent",
        _ => "number",
    }
}

/// The dimension's name in a report's metadata.
fn dimension_name(report: &Report) -> &'static str {
    match (report.module, report.method) {
        ("Actions", "getPageTitles") => "Page title",
        ("Actions", "getOutlinks") => "Outlink",
        ("Actions", "getDownloads") => "Download",
        ("Actions", "getSiteSearchKeywords" | "getSiteSearchNoResultKeywords") => "Keyword",
        ("Actions", "getSiteSearchCategories") => "Search category",
        ("Actions", _) => "Page URL",
        ("Referrers", "getReferrerType") => "Channel type",
        ("Referrers", "getCampaigns") => "Campaign",
        ("Referrers", "getKeywords") => "Keyword",
        ("Referrers", _) => "Referrer",
        ("UserCountry", "getCountry") => "Country",
        ("UserCountry", "getRegion") => "Region",
        ("UserCountry", _) => "City",
        ("DevicesDetection", "getType") => "Device type",
        ("DevicesDetection", "getOsFamilies" | "getOsVersions") => "Operating system",
        ("DevicesDetection", _) => "Browser",
        ("UserLanguage", _) => "Language",
        ("Events", "getCategory") => "Event category",
        ("Events", "getAction") => "Event action",
        ("Events", _) => "Event name",
        ("VisitTime", _) => "Server time",
        ("Goals", "getItemsSku") => "Product SKU",
        ("Goals", "getItemsName") => "Product name",
        ("Goals", _) => "Product category",
        _ => "Content",
    }
}

/// The category Matomo files a report under.
fn category(report: &Report) -> &'static str {
    match (report.module, report.columns) {
        ("Actions", _) => "Actions",
        ("Referrers", _) => "Referrers",
        ("Events", _) | ("Contents", _) => "Behaviour",
        ("Goals", _) => "Goals",
        (_, Columns::Visits) => "Visitors",
        _ => "Actions",
    }
}

/// A report's metadata (the fields the mobile app and Looker read).
pub(crate) fn metadata(report: &Report, id_site: &str) -> Value {
    let metrics: Map<String, Value> = report
        .columns
        .metrics()
        .iter()
        .map(|(_, column)| ((*column).to_string(), json!(column_name(column))))
        .collect();
    let types: Map<String, Value> = metrics.keys().map(|column| (column.clone(), json!(column_type(column)))).collect();
    json!({
        "metricTypes": types,
        "category": category(report),
        "name": match report.method {
            "getSiteSearchNoResultKeywords" => "Actions - Keywords with no results".to_string(),
            _ => format!("{} - {}", report.module, dimension_name(report)),
        },
        "module": report.module,
        "action": report.method,
        "dimension": dimension_name(report),
        "metrics": metrics,
        "processedMetrics": {},
        "metricsDocumentation": {},
        "uniqueId": format!("{}_{}", report.module, report.method),
        "parameters": {},
        "imageGraphUrl": "",
        "idSite": id_site,
    })
}

/// `VisitsSummary.get`'s metadata, listed first as Matomo lists it.
fn visits_summary_metadata(id_site: &str) -> Value {
    let columns =
        ["nb_uniq_visitors", "nb_visits", "nb_actions", "nb_visits_converted", "bounce_count", "sum_visit_length"];
    let metrics: Map<String, Value> = columns.iter().map(|c| ((*c).to_string(), json!(column_name(c)))).collect();
    let processed = ["bounce_rate", "nb_actions_per_visit", "avg_time_on_site"];
    let types: Map<String, Value> =
        columns.iter().chain(processed.iter()).map(|c| ((*c).to_string(), json!(column_type(c)))).collect();
    json!({
        "metricTypes": types,
        "category": "Visitors",
        "name": "Visits Summary",
        "module": "VisitsSummary",
        "action": "get",
        "metrics": metrics,
        "processedMetrics": {"bounce_rate": "Bounce Rate", "nb_actions_per_visit": "Actions per Visit", "avg_time_on_site": "Avg. Visit Duration (in seconds)"},
        "metricsDocumentation": {},
        "uniqueId": "VisitsSummary_get",
        "parameters": {},
        "imageGraphUrl": "",
        "idSite": id_site,
    })
}

/// `API.getReportMetadata`: every report answered here, and no other.
pub(crate) fn report_metadata(id_site: &str) -> Value {
    let mut list = vec![visits_summary_metadata(id_site)];
    list.extend(REPORTS.iter().map(|report| metadata(report, id_site)));
    Value::Array(list)
}

/// `API.getProcessedReport`'s answer around a report's rows.
pub(crate) fn processed(report: Option<&Report>, site_name: &str, period_label: &str, rows: Value) -> Value {
    let (metadata, mut columns) = match report {
        Some(report) => {
            let columns: Map<String, Value> = std::iter::once(("label".to_string(), json!(dimension_name(report))))
                .chain(report.columns.metrics().iter().map(|(_, c)| ((*c).to_string(), json!(column_name(c)))))
                .collect();
            (metadata(report, ""), columns)
        }
        None => (visits_summary_metadata(""), Map::new()),
    };
    if report.is_none()
        && let Value::Object(row) = &rows
    {
        columns.extend(row.keys().map(|key| (key.clone(), json!(column_name(key)))));
    }
    envelope(site_name, period_label, metadata, Value::Object(columns), rows, |_| json!({}))
}

/// `API.getProcessedReport`'s answer: the rows with their report's metadata and columns, and
/// `row_metadata` of each row.
fn envelope(
    site_name: &str,
    period_label: &str,
    metadata: Value,
    columns: Value,
    rows: Value,
    row_metadata: impl Fn(&Value) -> Value,
) -> Value {
    let row_metadata = match &rows {
        Value::Array(list) => Value::Array(list.iter().map(row_metadata).collect()),
        _ => json!([]),
    };
    json!({
        "website": site_name,
        "prettyDate": period_label,
        "metadata": metadata,
        "columns": columns,
        "reportData": rows,
        "reportMetadata": row_metadata,
        "reportTotal": {},
    })
}

/// `API.getProcessedReport` of `MultiSites.getAll` (the mobile app's all-websites screen).
pub(crate) fn processed_all_sites(period_label: &str, rows: Value) -> Value {
    let columns = json!({
        "label": "Website",
        "nb_visits": "Visits",
        "nb_actions": "Actions",
        "nb_pageviews": "Pageviews",
        "revenue": "Revenue",
    });
    let metadata = json!({
        "category": "All Websites",
        "name": "All Websites dashboard",
        "module": "MultiSites",
        "action": "getAll",
        "dimension": "Website",
        "metrics": {"nb_visits": "Visits", "nb_actions": "Actions", "nb_pageviews": "Pageviews", "revenue": "Revenue"},
        "metricTypes": {"nb_visits": "number", "nb_actions": "number", "nb_pageviews": "number", "revenue": "money"},
        "processedMetrics": {},
        "uniqueId": "MultiSites_getAll",
    });
    envelope(
        "",
        period_label,
        metadata,
        columns,
        rows,
        |row| json!({"idsite": row["idsite"], "main_url": row["main_url"]}),
    )
}

/// `UsersManager.getUserPreference`: Matomo's defaults (nobody's preferences are kept).
pub(crate) fn user_preference(name: &str) -> Value {
    match name {
        "defaultReport" => json!({"value": "MultiSites"}),
        "defaultReportDate" => json!({"value": "yesterday"}),
        _ => json!({"value": false}),
    }
}

/// Matomo's evolution of a value against the previous period's: `"12.5%"`, `"-100%"`, `"0%"`.
pub(crate) fn evolution(now: f64, before: f64) -> String {
    if before == 0.0 {
        return if now == 0.0 { "0%".to_string() } else { "100%".to_string() };
    }
    let change = ((now - before) / before * 1000.0).round() / 10.0;
    format!("{change}%")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_lists_what_is_answered_and_evolutions_read_as_matomos() {
        let list = report_metadata("1");
        let list = list.as_array().unwrap();
        assert_eq!(list.len(), REPORTS.len() + 1);
        assert_eq!(list[0]["uniqueId"], "VisitsSummary_get");
        let country = list.iter().find(|r| r["action"] == "getCountry").unwrap();
        assert_eq!(country["module"], "UserCountry");
        assert_eq!(country["metrics"]["nb_visits"], "Visits");
        assert_eq!(country["metricTypes"]["sum_visit_length"], "duration_s");
        assert_eq!(evolution(150.0, 100.0), "50%");
        assert_eq!(evolution(0.0, 4.0), "-100%");
        assert_eq!(evolution(1.0, 3.0), "-66.7%");
        assert_eq!(evolution(0.0, 0.0), "0%");
        assert_eq!(user_preference("defaultReportDate"), json!({"value": "yesterday"}));
    }
}
