//! Matomo's report methods (`UserCountry.getCountry`, `Actions.getPageUrls`, …): which of our
//! dimensions each breaks down by, under which fixed filter, and how its rows are labelled and
//! named as Matomo names them. One table, [`REPORTS`]; the rows then go through Matomo's generic
//! filters ([`super::filters`]).
//!
//! Page URLs are flat, as Matomo answers with `flat=1`, whatever `flat` says: paths
//! (`/articles/42`), not a tree of folders. Outlinks and downloads are grouped by domain as
//! Matomo groups them, each domain's URLs in its subtable (`idsubdatatable`; `expanded=1`
//! embeds them, `idSubtable=N` answers one), or flat (`host/path`) with `flat=1`.

use serde_json::{Map, Value, json};

use super::labels;
use crate::query::metrics::Metric;
use crate::query::request::{Dimension, Filter, FilterTree, Operator};

/// Which Matomo columns a report's rows have, and from which of our metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Columns {
    /// Visits grouped by something the same on every hit of a visit (place, device, source).
    Visits,
    /// Page views grouped by their page or title.
    Pages,
    /// Hits of one kind grouped by what they name (a keyword, a link).
    Hits,
    /// Custom events grouped by category, action or name.
    Events,
    /// Visits grouped by their first page.
    Entry,
    /// Visits grouped by their last page.
    Exit,
    /// Content blocks: impressions and interactions.
    Contents,
    /// Ecommerce items: what orders held.
    Items,
}

impl Columns {
    /// Our metrics and the Matomo columns they fill, in order.
    pub(crate) fn metrics(self) -> &'static [(Metric, &'static str)] {
        match self {
            Columns::Visits => &[
                (Metric::Visitors, "nb_uniq_visitors"),
                (Metric::Visits, "nb_visits"),
                (Metric::Actions, "nb_actions"),
                (Metric::TotalVisitDuration, "sum_visit_length"),
                (Metric::Bounces, "bounce_count"),
                (Metric::Conversions, "nb_visits_converted"),
            ],
            Columns::Pages => {
                &[(Metric::Visitors, "nb_uniq_visitors"), (Metric::Visits, "nb_visits"), (Metric::Pageviews, "nb_hits")]
            }
            // The dimension keeps one kind of hit, so its actions are those hits.
            Columns::Hits => {
                &[(Metric::Visitors, "nb_uniq_visitors"), (Metric::Visits, "nb_visits"), (Metric::Actions, "nb_hits")]
            }
            Columns::Events => {
                &[(Metric::Visitors, "nb_uniq_visitors"), (Metric::Visits, "nb_visits"), (Metric::Actions, "nb_events")]
            }
            Columns::Entry => &[
                (Metric::Visitors, "entry_nb_uniq_visitors"),
                (Metric::Visits, "entry_nb_visits"),
                (Metric::Actions, "entry_nb_actions"),
                (Metric::TotalVisitDuration, "entry_sum_visit_length"),
                (Metric::Bounces, "entry_bounce_count"),
            ],
            Columns::Exit => &[(Metric::Visitors, "exit_nb_uniq_visitors"), (Metric::Visits, "exit_nb_visits")],
            Columns::Contents => &[
                (Metric::Visitors, "nb_uniq_visitors"),
                (Metric::Impressions, "nb_impressions"),
                (Metric::Interactions, "nb_interactions"),
            ],
            Columns::Items => &[
                (Metric::TotalRevenue, "revenue"),
                (Metric::Quantity, "quantity"),
                (Metric::Orders, "orders"),
                (Metric::Visits, "nb_visits"),
            ],
        }
    }
}

/// How a row's label (and the columns beside it) is made from its dimension values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Label {
    /// The value as stored.
    Plain,
    /// A page path, with its full `url`.
    PageUrl,
    /// A link's `host/path`, grouped by domain unless flat.
    Link,
    /// A country code: the country's name, and `code`.
    Country,
    /// Region and country code: `Region, Country`.
    Region,
    /// City, region and country code: `City, Region, Country`.
    City,
    /// A channel: Matomo's referrer type (`Search Engines`, `Websites`, …).
    ReferrerType,
    /// Channel and source: the source, and its `referer_type`.
    ReferrerAndType,
    /// A device type: Matomo's (`Desktop`, `Smartphone`, `Tablet`).
    Device,
    /// A browser or an OS name and its version: `Firefox 140.0`.
    WithVersion,
    /// An OS name: Matomo's family (`GNU/Linux`, `Mac`, …).
    OsFamily,
    /// An hour of the day, with its `segment`.
    Hour,
    /// Search-engine visits, whose keyword no engine sends: Matomo's "Keyword not defined".
    UndefinedKeyword,
    /// A country code: its continent's name (also its `code`, as Matomo answers); the rows of a
    /// continent's countries are then added up ([`by_continent`]).
    Continent,
}

/// One report method.
pub(crate) struct Report {
    pub module: &'static str,
    pub method: &'static str,
    pub dimensions: &'static [Dimension],
    /// Only the rows with one of these values of this dimension (a channel's visits, the
    /// searches without results).
    pub only: Option<(Dimension, &'static [&'static str])>,
    pub columns: Columns,
    pub label: Label,
}

const fn report(
    module: &'static str,
    method: &'static str,
    dimensions: &'static [Dimension],
    columns: Columns,
    label: Label,
) -> Report {
    Report { module, method, dimensions, only: None, columns, label }
}

/// A report of only the rows with one of `values` of `dimension`.
const fn report_of(
    dimension: Dimension,
    values: &'static [&'static str],
    (module, method): (&'static str, &'static str),
    dimensions: &'static [Dimension],
    columns: Columns,
    label: Label,
) -> Report {
    Report { module, method, dimensions, only: Some((dimension, values)), columns, label }
}

/// Every report method answered.
pub(crate) static REPORTS: &[Report] = &[
    report("Actions", "getPageUrls", &[Dimension::Page], Columns::Pages, Label::PageUrl),
    report("Actions", "getPageTitles", &[Dimension::PageTitle], Columns::Pages, Label::Plain),
    report("Actions", "getEntryPageUrls", &[Dimension::EntryPage], Columns::Entry, Label::PageUrl),
    report("Actions", "getExitPageUrls", &[Dimension::ExitPage], Columns::Exit, Label::PageUrl),
    report("Actions", "getOutlinks", &[Dimension::Outlink], Columns::Hits, Label::Link),
    report("Actions", "getDownloads", &[Dimension::Download], Columns::Hits, Label::Link),
    report("Actions", "getSiteSearchKeywords", &[Dimension::SearchKeyword], Columns::Hits, Label::Plain),
    report_of(
        Dimension::SearchResults,
        &["0"],
        ("Actions", "getSiteSearchNoResultKeywords"),
        &[Dimension::SearchKeyword],
        Columns::Hits,
        Label::Plain,
    ),
    report("Actions", "getSiteSearchCategories", &[Dimension::SearchCategory], Columns::Hits, Label::Plain),
    report("Referrers", "getReferrerType", &[Dimension::Channel], Columns::Visits, Label::ReferrerType),
    report("Referrers", "getAll", &[Dimension::Channel, Dimension::Source], Columns::Visits, Label::ReferrerAndType),
    report_of(
        Dimension::Channel,
        &["website"],
        ("Referrers", "getWebsites"),
        &[Dimension::Referrer],
        Columns::Visits,
        Label::Plain,
    ),
    report_of(
        Dimension::Channel,
        &["search"],
        ("Referrers", "getSearchEngines"),
        &[Dimension::Source],
        Columns::Visits,
        Label::Plain,
    ),
    report_of(
        Dimension::Channel,
        &["social"],
        ("Referrers", "getSocials"),
        &[Dimension::Source],
        Columns::Visits,
        Label::Plain,
    ),
    report_of(
        Dimension::Channel,
        &["search"],
        ("Referrers", "getKeywords"),
        &[Dimension::Channel],
        Columns::Visits,
        Label::UndefinedKeyword,
    ),
    report("Referrers", "getCampaigns", &[Dimension::UtmCampaign], Columns::Visits, Label::Plain),
    report("UserCountry", "getCountry", &[Dimension::Country], Columns::Visits, Label::Country),
    report("UserCountry", "getContinent", &[Dimension::Country], Columns::Visits, Label::Continent),
    report("UserCountry", "getRegion", &[Dimension::Region, Dimension::Country], Columns::Visits, Label::Region),
    report(
        "UserCountry",
        "getCity",
        &[Dimension::City, Dimension::Region, Dimension::Country],
        Columns::Visits,
        Label::City,
    ),
    report("DevicesDetection", "getType", &[Dimension::Device], Columns::Visits, Label::Device),
    report("DevicesDetection", "getBrowsers", &[Dimension::Browser], Columns::Visits, Label::Plain),
    report(
        "DevicesDetection",
        "getBrowserVersions",
        &[Dimension::Browser, Dimension::BrowserVersion],
        Columns::Visits,
        Label::WithVersion,
    ),
    report("DevicesDetection", "getOsFamilies", &[Dimension::Os], Columns::Visits, Label::OsFamily),
    report(
        "DevicesDetection",
        "getOsVersions",
        &[Dimension::Os, Dimension::OsVersion],
        Columns::Visits,
        Label::WithVersion,
    ),
    report("UserLanguage", "getLanguageCode", &[Dimension::Language], Columns::Visits, Label::Plain),
    report("UserLanguage", "getLanguage", &[Dimension::Language], Columns::Visits, Label::Plain),
    report("Events", "getCategory", &[Dimension::EventCategory], Columns::Events, Label::Plain),
    report("Events", "getAction", &[Dimension::EventAction], Columns::Events, Label::Plain),
    report("Events", "getName", &[Dimension::EventLabel], Columns::Events, Label::Plain),
    report("Contents", "getContentNames", &[Dimension::ContentName], Columns::Contents, Label::Plain),
    report("Contents", "getContentPieces", &[Dimension::ContentPiece], Columns::Contents, Label::Plain),
    report("VisitTime", "getVisitInformationPerServerTime", &[Dimension::HourOfDay], Columns::Visits, Label::Hour),
    report("Goals", "getItemsSku", &[Dimension::ProductSku], Columns::Items, Label::Plain),
    report("Goals", "getItemsName", &[Dimension::ProductName], Columns::Items, Label::Plain),
    report("Goals", "getItemsCategory", &[Dimension::ProductCategory], Columns::Items, Label::Plain),
];

/// The report of `Module.method`, if it is one.
pub(crate) fn find(module: &str, method: &str) -> Option<&'static Report> {
    REPORTS.iter().find(|r| r.module == module && r.method == method)
}

impl Report {
    /// The fixed filter of the report, if any.
    pub(crate) fn filters(&self) -> Vec<FilterTree> {
        let Some((dimension, values)) = &self.only else { return Vec::new() };
        vec![FilterTree::Leaf(Filter {
            operator: Operator::Is,
            dimension: dimension.clone(),
            values: values.iter().map(|c| c.to_string()).collect(),
            case_sensitive: true,
        })]
    }

    /// One Matomo row from a row of our answer (`None`: a row Matomo would not show, such as
    /// an empty campaign).
    pub(crate) fn row(&self, dimensions: &[String], metrics: &[f64], host: &str, french: bool) -> Option<Value> {
        let first = dimensions.first().map(String::as_str).unwrap_or("");
        if first.is_empty() && !matches!(self.label, Label::ReferrerType | Label::Device) {
            return None;
        }
        let mut row = Map::new();
        let country = |code: &str| labels::country_name(code, french).unwrap_or(code).to_string();
        let label = match self.label {
            Label::Plain => first.to_string(),
            Label::PageUrl => {
                row.insert("url".into(), json!(format!("https://{host}{first}")));
                first.to_string()
            }
            Label::Link => {
                row.insert("url".into(), json!(format!("https://{first}")));
                first.to_string()
            }
            Label::Country => {
                row.insert("code".into(), json!(first.to_ascii_lowercase()));
                row.insert("segment".into(), json!(format!("countryCode=={}", first.to_ascii_lowercase())));
                country(first)
            }
            Label::Region => format!("{first}, {}", country(dimensions.get(1)?)),
            Label::City => {
                let (region, code) = (dimensions.get(1)?, dimensions.get(2)?);
                row.insert("city_name".into(), json!(first));
                row.insert("region_name".into(), json!(region));
                row.insert("country_code".into(), json!(code.to_ascii_lowercase()));
                row.insert("country_name".into(), json!(country(code)));
                [first, region.as_str(), &country(code)]
                    .iter()
                    .filter(|s| !s.is_empty())
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            }
            Label::ReferrerType => {
                let (name, segment) = labels::referrer_type(first);
                row.insert("segment".into(), json!(format!("referrerType=={segment}")));
                name.to_string()
            }
            Label::ReferrerAndType => {
                let (name, segment) = labels::referrer_type(first);
                row.insert("referer_type".into(), json!(segment));
                row.insert("referrer_type_name".into(), json!(name));
                let source = dimensions.get(1).map(String::as_str).unwrap_or("");
                if source.is_empty() { name.to_string() } else { source.to_string() }
            }
            Label::Device => labels::device_type(first).to_string(),
            Label::WithVersion => match dimensions.get(1).map(String::as_str) {
                Some(version) if !version.is_empty() => format!("{first} {version}"),
                _ => format!("{first} (unknown version)"),
            },
            Label::OsFamily => labels::os_family(first).to_string(),
            Label::Hour => {
                row.insert("segment".into(), json!(format!("visitServerHour=={first}")));
                first.to_string()
            }
            Label::Continent => {
                let name = labels::continent_name(first, french)?;
                row.insert("code".into(), json!(name));
                name.to_string()
            }
            // No `segment`: we keep no keyword to segment by.
            Label::UndefinedKeyword => (if french { "Mot clef indéfini" } else { "Keyword not defined" }).to_string(),
        };
        row.insert("label".into(), json!(label));
        for ((_, column), value) in self.columns.metrics().iter().zip(metrics) {
            row.insert((*column).into(), number(*value));
        }
        if let (Columns::Items, [revenue, quantity, orders, _]) = (self.columns, metrics) {
            let ratio = |a: f64, b: f64, scale: f64| if b == 0.0 { 0.0 } else { (a / b * scale).round() / scale };
            row.insert("avg_price".into(), number(ratio(*revenue, *quantity, 100.0)));
            row.insert("avg_quantity".into(), number(ratio(*quantity, *orders, 10.0)));
        }
        Some(Value::Object(row))
    }
}

/// Every hour of the day in order, as Matomo answers its time reports: an hour without visits
/// is a row of zeros.
pub(crate) fn all_hours(report: &Report, rows: Vec<Value>) -> Vec<Value> {
    (0..24)
        .map(|hour| {
            let label = hour.to_string();
            rows.iter().find(|row| row["label"] == label.as_str()).cloned().unwrap_or_else(|| {
                let zeros = vec![0.0; report.columns.metrics().len()];
                report.row(std::slice::from_ref(&label), &zeros, "", false).unwrap_or(Value::Null)
            })
        })
        .collect()
}

/// Country rows added up by continent (their label), in the order each continent first
/// appears; every number is a sum, as Matomo groups them.
pub(crate) fn by_continent(rows: Vec<Value>) -> Vec<Value> {
    let mut continents: Vec<Map<String, Value>> = Vec::new();
    for row in rows {
        let Value::Object(fields) = row else { continue };
        match continents.iter_mut().find(|c| c.get("label") == fields.get("label")) {
            Some(continent) => add_numbers(continent, &fields),
            None => continents.push(fields),
        }
    }
    continents.into_iter().map(Value::Object).collect()
}

/// Adds the numbers of `from` to those of `into`, column by column (a column `into` lacks
/// starts at 0).
fn add_numbers(into: &mut Map<String, Value>, from: &Map<String, Value>) {
    for (column, value) in from {
        if let Some(n) = value.as_f64() {
            let sum = into.get(column).and_then(Value::as_f64).unwrap_or(0.0) + n;
            into.insert(column.clone(), number(sum));
        }
    }
}

/// The id of a domain's subtable: stable for the domain, so a client can ask for it again.
pub(crate) fn subtable_id(domain: &str) -> u32 {
    crc32fast::hash(domain.as_bytes()) & 0x7fff_ffff
}

/// Link rows grouped by domain as Matomo groups outlinks and downloads: one row per domain
/// (its figures added up) with `idsubdatatable`, its URLs in `subtable` when `expanded`.
pub(crate) fn by_domain(rows: Vec<Value>, expanded: bool) -> Vec<Value> {
    let mut domains: Vec<(String, Map<String, Value>, Vec<Value>)> = Vec::new();
    for row in rows {
        let label = row["label"].as_str().unwrap_or("");
        let domain = label.split('/').next().unwrap_or(label).to_string();
        let index = match domains.iter().position(|(d, _, _)| *d == domain) {
            Some(index) => index,
            None => {
                let mut top = Map::new();
                top.insert("label".into(), json!(domain));
                top.insert("idsubdatatable".into(), json!(subtable_id(&domain)));
                domains.push((domain, top, Vec::new()));
                domains.len() - 1
            }
        };
        let (_, top, urls) = &mut domains[index];
        if let Value::Object(fields) = &row {
            add_numbers(top, fields);
        }
        urls.push(row);
    }
    domains
        .into_iter()
        .map(|(_, mut top, urls)| {
            // The id was summed with the figures: set it again.
            let domain = top["label"].as_str().unwrap_or("").to_string();
            top.insert("idsubdatatable".into(), json!(subtable_id(&domain)));
            if expanded {
                top.insert("subtable".into(), Value::Array(urls));
            }
            Value::Object(top)
        })
        .collect()
}

/// The URLs of the domain whose subtable id is `id`.
pub(crate) fn subtable(rows: Vec<Value>, id: u32) -> Vec<Value> {
    rows.into_iter()
        .filter(|row| {
            let label = row["label"].as_str().unwrap_or("");
            subtable_id(label.split('/').next().unwrap_or(label)) == id
        })
        .collect()
}

/// `part` of `whole` as Matomo writes a rate: `"33%"`, or `"33.33%"` with `decimals` 2; `"0%"`
/// when `whole` is 0.
pub(crate) fn percent(part: f64, whole: f64, decimals: i32) -> String {
    let scale = 10f64.powi(decimals);
    let rate = if whole == 0.0 { 0.0 } else { (100.0 * part / whole * scale).round() / scale };
    // `+ 0.0`: a rate of nothing can be -0.0 (an empty sum of floats is), which prints as "-0".
    format!("{}%", rate + 0.0)
}

/// A count as an integer, anything else as it is (Matomo's JSON has integers for counts).
pub(crate) fn number(value: f64) -> Value {
    if value.fract() == 0.0 && value.abs() < 9.0e15 { json!(value as i64) } else { json!(value) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_report_is_found_by_its_name_and_labels_its_rows_as_matomo_does() {
        for report in REPORTS {
            assert!(std::ptr::eq(find(report.module, report.method).unwrap(), report), "{}", report.method);
        }
        let country = find("UserCountry", "getCountry").unwrap();
        let row = country.row(&["FR".into()], &[3.0, 4.0, 9.0, 600.0, 1.0, 0.0], "example.org", false).unwrap();
        assert_eq!(
            row,
            json!({"label": "France", "code": "fr", "segment": "countryCode==fr", "nb_uniq_visitors": 3,
                   "nb_visits": 4, "nb_actions": 9, "sum_visit_length": 600, "bounce_count": 1, "nb_visits_converted": 0})
        );
        let german = country.row(&["DE".into()], &[1.0; 6], "example.org", true).unwrap();
        assert_eq!(german["label"], "Allemagne");
        let city = find("UserCountry", "getCity").unwrap();
        let row = city.row(&["Lyon".into(), "Auvergne-Rhône-Alpes".into(), "FR".into()], &[1.0; 6], "", false);
        assert_eq!(row.unwrap()["label"], "Lyon, Auvergne-Rhône-Alpes, France");
        let pages = find("Actions", "getPageUrls").unwrap();
        let row = pages.row(&["/a".into()], &[2.0, 2.0, 3.0], "example.org", false).unwrap();
        assert_eq!(
            row,
            json!({"label": "/a", "url": "https://example.org/a", "nb_uniq_visitors": 2, "nb_visits": 2, "nb_hits": 3})
        );
        let types = find("Referrers", "getReferrerType").unwrap();
        assert_eq!(types.row(&["search".into()], &[1.0; 6], "", false).unwrap()["label"], "Search Engines");
        // An empty campaign is no row; an empty channel is direct entry.
        assert!(find("Referrers", "getCampaigns").unwrap().row(&["".into()], &[1.0; 6], "", false).is_none());
        let links = vec![
            json!({"label": "docs.example.net/a", "nb_hits": 2}),
            json!({"label": "other.example/x", "nb_hits": 1}),
            json!({"label": "docs.example.net/b", "nb_hits": 3}),
        ];
        let grouped = by_domain(links.clone(), true);
        assert_eq!(grouped.len(), 2);
        assert_eq!(grouped[0]["label"], "docs.example.net");
        assert_eq!(grouped[0]["nb_hits"], 5);
        assert_eq!(grouped[0]["idsubdatatable"], subtable_id("docs.example.net"));
        assert_eq!(grouped[0]["subtable"].as_array().map(Vec::len), Some(2));
        assert!(by_domain(links.clone(), false)[0].get("subtable").is_none());
        assert_eq!(
            subtable(links, subtable_id("other.example")),
            vec![json!({"label": "other.example/x", "nb_hits": 1})]
        );
        assert_eq!(
            (percent(1.0, 3.0, 0), percent(1.0, 3.0, 2), percent(-0.0, 3.0, 2)),
            ("33%".into(), "33.33%".into(), "0%".into())
        );
        assert_eq!(percent(5.0, 0.0, 0), "0%");
        // Continents: Mexico is North America, Guatemala Central America (as Matomo splits
        // them), France Europe; a continent's countries are added up.
        let continents = find("UserCountry", "getContinent").unwrap();
        let rows: Vec<Value> = [("US", 3.0), ("FR", 2.0), ("GT", 1.0), ("MX", 4.0)]
            .iter()
            .map(|(code, n)| continents.row(&[code.to_string()], &[*n; 6], "", false).unwrap())
            .collect();
        let grouped = by_continent(rows);
        let labels: Vec<(&str, &str, u64)> = grouped
            .iter()
            .map(|r| (r["label"].as_str().unwrap(), r["code"].as_str().unwrap(), r["nb_visits"].as_u64().unwrap()))
            .collect();
        assert_eq!(
            labels,
            [("North America", "North America", 7), ("Europe", "Europe", 2), ("Central America", "Central America", 1)]
        );
        assert_eq!(continents.row(&["GF".into()], &[1.0; 6], "", true).unwrap()["label"], "Amérique du Sud");
        let versions = find("DevicesDetection", "getBrowserVersions").unwrap();
        assert_eq!(
            versions.row(&["Firefox".into(), "140".into()], &[1.0; 6], "", false).unwrap()["label"],
            "Firefox 140"
        );
    }
}
