//! Matomo's Reporting API (`index.php?module=API&method=…`, and `POST /` as Matomo's log
//! importer sends it): the endpoint as Matomo serves it, and the dispatch of its methods.
//! Parameters come from the query string and the form body together (the body wins);
//! `token_auth` in either (`anonymous`: only public sites); answers are JSON; an error is HTTP
//! 200 with `{"result":"error","message":…}` in Matomo's words, which clients test for.
//!
//! Here: the version, the sites a credential reads (`SitesManager.*`), bulk requests,
//! `VisitsSummary.*`, the totals methods (`Actions.get`, `Referrers.get`, `Goals.get`,
//! `PagePerformance.get`),
//! `MultiSites.getAll`, `Live.getCounters`, and running a report of `reports` for each period
//! (`periods`) and site asked, through `segments` and `filters`; `meta` shapes the metadata
//! answers. The visitor log and profiles are declined as a disabled plugin (no
//! per-visitor record is kept, by design); any other method gets Matomo's "does not exist"
//! error, never a 404 or a page. docs/stats-api.md lists every method.

mod filters;
mod formats;
mod labels;
mod meta;
mod periods;
mod reports;
mod segments;

use hyper::StatusCode;
use serde_json::{Value, json};

use super::access::{Caller, Credential, Grant};
use super::{Access, Refusal};
use crate::config::SiteConfig;
use crate::http::{self, Params, Request, Response};
use crate::query::metrics::Metric;
use crate::query::period::{DateRange, date_text, day_of};
use crate::query::request::{Dimension, FilterTree, Format, OrderKey, StatsRequest};
use periods::Periods;

/// The Matomo version we answer as: clients check only that it is recent (Looker reads the
/// major and minor, the mobile app wants at least 2.0).
pub(crate) const MATOMO_VERSION: &str = "5.2.0";

/// Plugins whose methods are declined as disabled: they list visits and visitors one by one,
/// or read what we do not store by design (a screen's exact resolution, a fingerprint).
const DISABLED_PLUGINS: [&str; 4] = ["Live", "UserId", "Heatmaps", "Resolution"];

/// `GET|POST /index.php?module=API…` and `POST /` (`module=API` in the body).
pub async fn handle(access: &Access, request: &Request, caller: Caller) -> Response {
    let body = std::str::from_utf8(request.body()).unwrap_or("");
    let mut params = match Params::parse(request.uri().query().unwrap_or("")) {
        Ok(params) => params,
        Err(error) => return matomo_error(&format!("malformed query string: {error}")),
    };
    if let Err(error) = params.extend_from(body) {
        return matomo_error(&format!("malformed request body: {error}"));
    }
    if params.get("module") != Some("API") {
        return http::plain(StatusCode::NOT_FOUND, "not found\n");
    }
    let format = match formats::Format::of(&params) {
        Ok(format) => format,
        Err(message) => return matomo_error(&message),
    };
    let token = params.non_empty("token_auth").filter(|t| *t != "anonymous");
    let credential = Credential::of(request.headers(), token, caller);
    let mut outcome = answer(access, &params, &credential).await;
    if params.get("format_metrics").map(str::trim) == Some("0")
        && let Ok(value) = &mut outcome
    {
        formats::raw_rates(value);
    }
    // Bulk answers stay JSON: each call in them has its own format.
    let format = if params.get("method") == Some("API.getBulkRequest") { formats::Format::Json } else { format };
    format.answer(outcome, &keys_of(access, &params), &params)
}

/// Which levels an answer to `params` may be keyed by (several sites, several periods).
fn keys_of(access: &Access, params: &Params<'_>) -> formats::Keys {
    let ids = params.non_empty("idSite").or(params.non_empty("idsite")).unwrap_or("");
    let today = (access.clock.now() / 86_400) as i64;
    let periods = periods::parse(params.get("period").unwrap_or(""), params.get("date").unwrap_or(""), today);
    formats::Keys {
        sites: ids.trim() == "all" || ids.contains(','),
        periods: matches!(periods, Ok(Periods::Several(_))),
    }
}

/// Matomo's error answer: HTTP 200, `{"result":"error","message":…}`.
fn matomo_error(message: &str) -> Response {
    http::json(StatusCode::OK, &json!({"result": "error", "message": message}))
}

async fn answer(access: &Access, params: &Params<'_>, credential: &Credential<'_>) -> Result<Value, String> {
    let method = params.non_empty("method").ok_or("Please specify a value for 'method'.")?;
    let (module, name) = method.split_once('.').unwrap_or((method, ""));
    let per_site = module == "VisitsSummary" || reports::find(module, name).is_some();
    if per_site && let Some(ids) = several_sites(access, params, credential).await? {
        // Each site and period is a query: bounded together.
        let today = (access.clock.now() / 86_400) as i64;
        let spans = periods::parse(params.get("period").unwrap_or(""), params.get("date").unwrap_or(""), today)
            .map_or(1, |p| p.spans().len());
        if ids.len() * spans > MAX_SITE_PERIODS {
            return Err(format!("at most {MAX_SITE_PERIODS} sites × periods in one request"));
        }
        // Matomo answers each site's, keyed by its id.
        let mut keyed = serde_json::Map::new();
        for id in ids {
            let one = params.with("idSite", id.to_string());
            let value = Box::pin(answer(access, &one, credential)).await?;
            // One number per site is bare in the keyed answer, as for several periods.
            let value = match value {
                Value::Object(mut single) if single.len() == 1 && single.contains_key("value") => {
                    single.remove("value").unwrap_or(Value::Null)
                }
                other => other,
            };
            keyed.insert(id.to_string(), value);
        }
        return Ok(Value::Object(keyed));
    }
    match (module, name) {
        ("API", "getMatomoVersion" | "getPiwikVersion") => Ok(json!({"value": MATOMO_VERSION})),
        ("SitesManager", "getSiteFromId") => {
            let id = params.non_empty("idSite").or(params.non_empty("idsite")).and_then(|v| v.parse::<u32>().ok());
            let id = id.ok_or("Please specify a value for 'idSite'.")?;
            let grant = access.authorize(credential, id).await.map_err(|refusal| refused(&refusal, id))?;
            Ok(site_object(grant.site()))
        }
        // Matomo's getAllSites is for super users; here every site the credential reads.
        (
            "SitesManager",
            "getSitesWithAtLeastViewAccess" | "getSitesIdWithAtLeastViewAccess" | "getAllSites" | "getAllSitesId",
        ) => {
            let readable = readable_sites(access, credential).await?;
            Ok(if name.contains("SitesId") {
                json!(readable.iter().map(|s| s.id).collect::<Vec<_>>())
            } else {
                json!(readable.iter().map(site_object).collect::<Vec<_>>())
            })
        }
        ("SitesManager", "getSitesIdFromSiteUrl") => {
            let url = params.non_empty("url").ok_or("Please specify a value for 'url'.")?;
            let host = url::Url::parse(url).ok().and_then(|u| u.host_str().map(str::to_ascii_lowercase));
            let host = host.unwrap_or_else(|| url.trim().to_ascii_lowercase());
            let bare = host.strip_prefix("www.").unwrap_or(&host);
            let readable = readable_sites(access, credential).await?;
            let matching = readable.iter().filter(|site| {
                site.domains.iter().any(|d| d.strip_prefix("www.").unwrap_or(d).eq_ignore_ascii_case(bare))
            });
            Ok(json!(matching.map(|site| json!({"idsite": site.id.to_string()})).collect::<Vec<_>>()))
        }
        ("VisitsSummary", "get") => visits_summary(access, params, credential, None).await,
        ("VisitsSummary", variant) if SUMMARY_VALUES.iter().any(|(name, _)| *name == variant) => {
            let column = SUMMARY_VALUES.iter().find(|(name, _)| *name == variant).map(|(_, column)| *column);
            visits_summary(access, params, credential, column).await
        }
        (module, name) if reports::find(module, name).is_some() => {
            let found = reports::find(module, name).expect("just found");
            report(access, params, credential, found).await
        }
        ("API", "getBulkRequest") => bulk(access, params, credential).await,
        // Matomo's API.get adds other plugins' totals to these; here it is the visits summary.
        ("API", "get") => visits_summary(access, params, credential, None).await,
        ("API", "getReportMetadata") => Ok(meta::report_metadata(params.get("idSite").unwrap_or(""))),
        ("API", "getMetadata") => {
            let (module, action) = api_report(params)?;
            Ok(match reports::find(module, action) {
                Some(report) => json!([meta::metadata(report, params.get("idSite").unwrap_or(""))]),
                None => meta::report_metadata(params.get("idSite").unwrap_or(""))
                    .as_array()
                    .and_then(|list| list.first().cloned())
                    .map_or(json!([]), |first| json!([first])),
            })
        }
        ("API", "getProcessedReport") => processed_report(access, params, credential).await,
        ("MultiSites", "getAll") => all_sites(access, params, credential).await,
        ("Actions", "get") => actions_totals(access, params, credential).await,
        ("Referrers", "get") => referrer_totals(access, params, credential).await,
        ("Goals", "get") => goal_totals(access, params, credential).await,
        ("PagePerformance", "get") => page_performance(access, params, credential).await,
        ("Goals", "getGoals") => {
            let id = site_param(params)?;
            let grant = access.authorize(credential, id).await.map_err(|refusal| refused(&refusal, id))?;
            Ok(Value::Array(
                grant.site().goals.iter().enumerate().map(|(i, name)| goal_object(id, i + 1, name)).collect(),
            ))
        }
        ("Actions", "getPageUrl") => {
            let url = params.non_empty("pageUrl").ok_or("Please specify a value for 'pageUrl'.")?;
            let path = url::Url::parse(url).map_or_else(|_| url.to_string(), |u| u.path().to_string());
            let one = params.with("label", path);
            let pages = reports::find("Actions", "getPageUrls").expect("in the table");
            report(access, &one, credential, pages).await
        }
        ("Live", "getCounters") => live_counters(access, params, credential).await,
        ("SegmentEditor", "getAll") | ("Dashboard", "getDashboards") => Ok(json!([])),
        ("UsersManager", "getUserPreference") => Ok(meta::user_preference(params.get("preferenceName").unwrap_or(""))),
        (plugin, _) if DISABLED_PLUGINS.contains(&plugin) => Err(format!(
            "The plugin {plugin} is not enabled. You can activate the plugin on Settings > Plugins page in Matomo."
        )),
        _ => Err(format!(
            "The method '{name}' does not exist or is not available in the module '\\Piwik\\Plugins\\{module}\\API'."
        )),
    }
}

/// The most calls one `API.getBulkRequest` makes.
pub(crate) const MAX_BULK_CALLS: usize = 50;

/// `API.getBulkRequest`: `urls[0]`, `urls[1]`, … each an encoded query string of one call
/// (`method=VisitsSummary.get&idSite=1&…`), answered in order as an array, an error in its
/// place for a call that fails. Each call runs with the outer request's credential; a bulk
/// request inside a bulk request is refused.
async fn bulk(access: &Access, params: &Params<'_>, credential: &Credential<'_>) -> Result<Value, String> {
    let mut calls: Vec<(usize, &str)> = params
        .iter()
        .filter_map(|(key, value)| {
            let index = key.strip_prefix("urls[")?.strip_suffix(']')?.parse::<usize>().ok()?;
            Some((index, value))
        })
        .collect();
    calls.sort_by_key(|(index, _)| *index);
    calls.dedup_by_key(|(index, _)| *index);
    if calls.len() > MAX_BULK_CALLS {
        return Err(format!("at most {MAX_BULK_CALLS} calls in one API.getBulkRequest"));
    }
    let mut answers = Vec::with_capacity(calls.len());
    for (_, call) in calls {
        let answer = match Params::parse(call.strip_prefix('?').unwrap_or(call)) {
            Err(error) => Err(format!("malformed call: {error}")),
            Ok(inner) if inner.get("method") == Some("API.getBulkRequest") => {
                Err("API.getBulkRequest cannot be called inside itself".to_string())
            }
            Ok(inner) => Box::pin(answer(access, &inner, credential)).await,
        };
        answers.push(answer.unwrap_or_else(|message| json!({"result": "error", "message": message})));
    }
    Ok(Value::Array(answers))
}

/// The metrics of `VisitsSummary.get`, in the order [`summary`] reads them.
const SUMMARY: [Metric; 6] = [
    Metric::Visitors,
    Metric::Visits,
    Metric::Actions,
    Metric::Bounces,
    Metric::TotalVisitDuration,
    Metric::Conversions,
];

/// `VisitsSummary.getVisits` and the other one-value variants: the column each answers.
const SUMMARY_VALUES: [(&str, &str); 6] = [
    ("getUniqueVisitors", "nb_uniq_visitors"),
    ("getVisits", "nb_visits"),
    ("getActions", "nb_actions"),
    ("getBounceCount", "bounce_count"),
    ("getSumVisitsLength", "sum_visit_length"),
    ("getVisitsConverted", "nb_visits_converted"),
];

/// A query of `metrics` by `dimensions` over the days `first..=last` of site `site_id`.
fn stats_request(
    site_id: u32,
    metrics: Vec<Metric>,
    dimensions: Vec<Dimension>,
    filters: Vec<FilterTree>,
    (first, last): (i64, i64),
) -> StatsRequest {
    let limit = if dimensions.is_empty() { 1 } else { MAX_REPORT_ROWS };
    // The first metric, then the labels: the same order on every call, so that a client
    // paging with filter_offset sees each row once.
    let mut order_by: Vec<(OrderKey, bool)> =
        metrics.first().map(|m| (OrderKey::Metric(*m), true)).into_iter().collect();
    order_by.extend((0..dimensions.len()).map(|i| (OrderKey::Dimension(i), false)));
    StatsRequest {
        site_id,
        metrics,
        date_range: DateRange::Custom(date_text(first), date_text(last)),
        dimensions,
        filters,
        order_by,
        limit,
        offset: 0,
        comparison: false,
        format: Format::Json,
        total_rows: false,
        time_labels: false,
    }
}

/// The most rows a report reads before Matomo's filters (the query layer's own bound).
const MAX_REPORT_ROWS: u32 = 10_000;

/// What a per-period method answers for: the site's grant and the periods named.
async fn periods_of<'a>(
    access: &'a Access,
    params: &Params<'_>,
    credential: &Credential<'_>,
) -> Result<(Grant<'a>, Periods), String> {
    let id = site_param(params)?;
    let period = params.non_empty("period").ok_or("Please specify a value for 'period'.")?;
    let date = params.non_empty("date").ok_or("Please specify a value for 'date'.")?;
    let grant = access.authorize(credential, id).await.map_err(|refusal| refused(&refusal, id))?;
    let now = access.clock.now();
    let today = access
        .store
        .local_date(now as u32, &grant.site().timezone)
        .await
        .map_err(|_| refused(&Refusal::Failed, None))?;
    let today = today.get(..10).and_then(day_of).unwrap_or((now / 86_400) as i64);
    Ok((grant, periods::parse(period, date, today)?))
}

/// The answers of each period as Matomo gives them: the one period's, or an object keyed by
/// period label for several.
fn keyed(periods: &Periods, mut answers: Vec<Value>) -> Value {
    match periods {
        Periods::One(_) => answers.pop().unwrap_or(json!([])),
        Periods::Several(list) => {
            Value::Object(list.iter().map(|p| p.label.clone()).zip(answers).collect::<serde_json::Map<_, _>>())
        }
    }
}

/// The most site × period answers one request over several sites gives.
const MAX_SITE_PERIODS: usize = 200;

/// The sites of `idSite=all` (those the credential reads) or `idSite=1,2`; `None` for one site.
async fn several_sites(
    access: &Access,
    params: &Params<'_>,
    credential: &Credential<'_>,
) -> Result<Option<Vec<u32>>, String> {
    let Some(ids) = params.non_empty("idSite").or(params.non_empty("idsite")) else { return Ok(None) };
    if ids.trim() == "all" {
        return Ok(Some(readable_sites(access, credential).await?.iter().map(|s| s.id).collect()));
    }
    if !ids.contains(',') {
        return Ok(None);
    }
    let ids: Option<Vec<u32>> = ids.split(',').map(|id| id.trim().parse().ok()).collect();
    ids.map(Some).ok_or_else(|| "The idSite parameter must be a number, a list of numbers, or 'all'.".to_string())
}

/// `idSite` (Matomo's clients also write `idsite`).
fn site_param(params: &Params<'_>) -> Result<u32, String> {
    let id = params.non_empty("idSite").or(params.non_empty("idsite"));
    id.and_then(|v| v.trim().parse::<u32>().ok()).ok_or_else(|| "Please specify a value for 'idSite'.".to_string())
}

/// `VisitsSummary.get` (one object a period, `[]` for a period without visits), or one of its
/// one-value variants (`{"value": N}`).
async fn visits_summary(
    access: &Access,
    params: &Params<'_>,
    credential: &Credential<'_>,
    value: Option<&str>,
) -> Result<Value, String> {
    let segment = segments::filters(params.get("segment"))?;
    let (grant, periods) = periods_of(access, params, credential).await?;
    let mut answers = Vec::new();
    for days in periods.spans() {
        let request = stats_request(grant.site().id, SUMMARY.to_vec(), Vec::new(), segment.clone(), days);
        let answer = grant.run(&request).await.map_err(|refusal| refused(&refusal, grant.site().id))?;
        let row = answer.rows.first().map_or(json!([]), |row| summary(&row.metrics));
        answers.push(match value {
            // One number: `{"value": N}` for one period, the bare number in a keyed answer.
            Some(column) => {
                let number = row.get(column).cloned().unwrap_or(json!(0));
                if matches!(periods, Periods::One(_)) { json!({"value": number}) } else { number }
            }
            None => {
                let mut one = [row];
                filters::select_columns(params, &mut one);
                let [row] = one;
                row
            }
        });
    }
    Ok(keyed(&periods, answers))
}

/// A period's `VisitsSummary.get` object from [`SUMMARY`]'s values (an empty period is `[]`,
/// as Matomo answers it); the rates and averages are Matomo's, from the exact counts.
fn summary(values: &[f64]) -> Value {
    let [visitors, visits, actions, bounces, duration, converted] = values[..] else { return json!([]) };
    if visits == 0.0 {
        return json!([]);
    }
    json!({
        "nb_uniq_visitors": visitors as u64,
        "nb_visits": visits as u64,
        "nb_actions": actions as u64,
        "nb_visits_converted": converted as u64,
        "bounce_count": bounces as u64,
        "sum_visit_length": duration as u64,
        "bounce_rate": reports::percent(bounces, visits, 0),
        "nb_actions_per_visit": (actions / visits * 10.0).round() / 10.0,
        "avg_time_on_site": (duration / visits).round() as u64,
    })
}

/// A report method ([`reports::REPORTS`]): its rows per period, through Matomo's filters.
async fn report(
    access: &Access,
    params: &Params<'_>,
    credential: &Credential<'_>,
    report: &reports::Report,
) -> Result<Value, String> {
    let french = params.get("language").is_some_and(|l| l.to_ascii_lowercase().starts_with("fr"));
    let mut filters = report.filters();
    filters.extend(segments::filters(params.get("segment"))?);
    let (grant, periods) = periods_of(access, params, credential).await?;
    let site = grant.site();
    let host = site.domains.first().map(String::as_str).unwrap_or("");
    let metrics: Vec<Metric> = report.columns.metrics().iter().map(|(metric, _)| *metric).collect();
    let mut answers = Vec::new();
    for days in periods.spans() {
        let request = stats_request(site.id, metrics.clone(), report.dimensions.to_vec(), filters.clone(), days);
        let answer = grant.run(&request).await.map_err(|refusal| refused(&refusal, site.id))?;
        let mut rows: Vec<Value> =
            answer.rows.iter().filter_map(|row| report.row(&row.dimensions, &row.metrics, host, french)).collect();
        if report.label == reports::Label::PageUrl && report.columns == reports::Columns::Pages {
            add_entries_and_exits(&grant, &filters, days, &mut rows).await?;
        }
        // Outlinks and downloads: grouped by domain unless flat, or one domain's subtable.
        let rows = match (report.label, params.non_empty("idSubtable").and_then(|id| id.parse().ok())) {
            (reports::Label::Link, Some(id)) => reports::subtable(rows, id),
            (reports::Label::Link, None) if params.get("flat") != Some("1") => {
                reports::by_domain(rows, params.get("expanded") == Some("1"))
            }
            (reports::Label::Hour, _) => reports::all_hours(report, rows),
            (reports::Label::Continent, _) => reports::by_continent(rows),
            _ => rows,
        };
        answers.push(Value::Array(filters::apply(params, rows)?));
    }
    Ok(keyed(&periods, answers))
}

/// Matomo's entry, exit and time figures on page rows: `entry_nb_visits`, `entry_bounce_count`,
/// `exit_nb_visits`, and from them the page's `bounce_rate` (bounces of the visits that entered
/// there, over those visits) and `exit_rate` (the page's visits that left there); `sum_time_spent`
/// (the gaps from the page's hits to the visit's next hit) and `avg_time_on_page` (that sum
/// over the page's views, Matomo's rounding to whole seconds).
async fn add_entries_and_exits(
    grant: &Grant<'_>,
    filters: &[FilterTree],
    days: (i64, i64),
    rows: &mut [Value],
) -> Result<(), String> {
    let entries = rows_of(grant, &[Metric::Visits, Metric::Bounces], &[Dimension::EntryPage], filters, days).await?;
    let exits = rows_of(grant, &[Metric::Visits], &[Dimension::ExitPage], filters, days).await?;
    let times = rows_of(grant, &[Metric::PageTime], &[Dimension::Page], filters, days).await?;
    let of = |list: &[crate::query::ResultRow], page: &str, i: usize| {
        list.iter().find(|r| r.dimensions[0] == page).map_or(0.0, |r| r.metrics[i])
    };
    for row in rows.iter_mut() {
        let page = row["label"].as_str().unwrap_or("").to_string();
        let visits = row["nb_visits"].as_f64().unwrap_or(0.0);
        let (entered, bounced, left) = (of(&entries, &page, 0), of(&entries, &page, 1), of(&exits, &page, 0));
        let (spent, hits) = (of(&times, &page, 0), row["nb_hits"].as_f64().unwrap_or(0.0));
        row["entry_nb_visits"] = reports::number(entered);
        row["entry_bounce_count"] = reports::number(bounced);
        row["exit_nb_visits"] = reports::number(left);
        row["bounce_rate"] = json!(reports::percent(bounced, entered, 0));
        row["exit_rate"] = json!(reports::percent(left, visits, 0));
        row["sum_time_spent"] = reports::number(spent);
        row["avg_time_on_page"] = json!(if hits > 0.0 { (spent / hits).round() as u64 } else { 0 });
    }
    Ok(())
}

/// `apiModule` and `apiAction` of the metadata methods.
fn api_report<'p>(params: &'p Params<'_>) -> Result<(&'p str, &'p str), String> {
    let module = params.non_empty("apiModule").ok_or("Please specify a value for 'apiModule'.")?;
    let action = params.non_empty("apiAction").ok_or("Please specify a value for 'apiAction'.")?;
    Ok((module, action))
}

/// `API.getProcessedReport`: a report (or the visits summary) with its metadata and columns,
/// as the mobile app and Looker read it.
async fn processed_report(access: &Access, params: &Params<'_>, credential: &Credential<'_>) -> Result<Value, String> {
    let (module, action) = api_report(params)?;
    let found = reports::find(module, action);
    let rows = match (module, action, found) {
        (_, _, Some(found)) => report(access, params, credential, found).await?,
        ("VisitsSummary", "get", None) => visits_summary(access, params, credential, None).await?,
        // The mobile app's all-websites screen.
        ("MultiSites", "getAll", None) => {
            let rows = all_sites(access, params, credential).await?;
            let label = format!("{} {}", params.get("period").unwrap_or(""), params.get("date").unwrap_or(""));
            return Ok(meta::processed_all_sites(&label, rows));
        }
        _ => {
            return Err(format!(
                "The method '{action}' does not exist or is not available in the module '\\Piwik\\Plugins\\{module}\\API'."
            ));
        }
    };
    let id = site_param(params)?;
    let live = access.live.current();
    let name = live.sites.get(id).and_then(|s| s.domains.first().cloned()).unwrap_or_default();
    let label = format!("{} {}", params.get("period").unwrap_or(""), params.get("date").unwrap_or(""));
    Ok(meta::processed(found, &name, &label, rows))
}

/// The rows of one query for a grant's site over `days` (with the request's segment).
async fn rows_of(
    grant: &Grant<'_>,
    metrics: &[Metric],
    dimensions: &[Dimension],
    filters: &[FilterTree],
    days: (i64, i64),
) -> Result<Vec<crate::query::ResultRow>, String> {
    let request = stats_request(grant.site().id, metrics.to_vec(), dimensions.to_vec(), filters.to_vec(), days);
    Ok(grant.run(&request).await.map_err(|refusal| refused(&refusal, grant.site().id))?.rows)
}

/// `Actions.get`: page views, downloads, outlinks and site searches of each period (unique
/// downloads and outlinks are, as in Matomo, the visits that made each, added up over URLs).
async fn actions_totals(access: &Access, params: &Params<'_>, credential: &Credential<'_>) -> Result<Value, String> {
    let segment = segments::filters(params.get("segment"))?;
    let (grant, periods) = periods_of(access, params, credential).await?;
    let mut answers = Vec::new();
    for days in periods.spans() {
        let totals = rows_of(&grant, &[Metric::Pageviews], &[], &segment, days).await?;
        let pageviews = totals.first().map_or(0.0, |row| row.metrics[0]);
        let mut sums = Vec::new();
        for dimension in [Dimension::Download, Dimension::Outlink, Dimension::SearchKeyword] {
            let rows = rows_of(&grant, &[Metric::Actions, Metric::Visits], &[dimension], &segment, days).await?;
            let hits: f64 = rows.iter().map(|row| row.metrics[0]).sum();
            let visits: f64 = rows.iter().map(|row| row.metrics[1]).sum();
            sums.push((hits, visits, rows.len()));
        }
        answers.push(json!({
            "nb_pageviews": reports::number(pageviews),
            "nb_downloads": reports::number(sums[0].0),
            "nb_uniq_downloads": reports::number(sums[0].1),
            "nb_outlinks": reports::number(sums[1].0),
            "nb_uniq_outlinks": reports::number(sums[1].1),
            "nb_searches": reports::number(sums[2].0),
            "nb_keywords": sums[2].2,
        }));
    }
    Ok(keyed(&periods, answers))
}

/// `PagePerformance.get`: for each period, the mean of each of the tracker's page timings over
/// the page views that carried timings, and their sum (the mean page load time), in seconds to
/// the hundredth as Matomo answers them.
async fn page_performance(access: &Access, params: &Params<'_>, credential: &Credential<'_>) -> Result<Value, String> {
    const TIMINGS: [(Metric, &str); 6] = [
        (Metric::NetworkTime, "avg_time_network"),
        (Metric::ServerTime, "avg_time_server"),
        (Metric::TransferTime, "avg_time_transfer"),
        (Metric::DomProcessingTime, "avg_time_dom_processing"),
        (Metric::DomCompletionTime, "avg_time_dom_completion"),
        (Metric::OnLoadTime, "avg_time_on_load"),
    ];
    let segment = segments::filters(params.get("segment"))?;
    let (grant, periods) = periods_of(access, params, credential).await?;
    let metrics: Vec<Metric> = TIMINGS.iter().map(|(metric, _)| *metric).collect();
    let seconds = |ms: f64| json!((ms / 10.0).round() / 100.0);
    let mut answers = Vec::new();
    for days in periods.spans() {
        let totals = rows_of(&grant, &metrics, &[], &segment, days).await?;
        let means = totals.first().map_or(vec![0.0; TIMINGS.len()], |row| row.metrics.clone());
        let mut answer = serde_json::Map::new();
        for ((_, column), mean) in TIMINGS.iter().zip(&means) {
            answer.insert(column.to_string(), seconds(*mean));
        }
        // Every mean is over the same page views, so their sum is the mean of the sums.
        answer.insert("avg_page_load_time".into(), seconds(means.iter().sum()));
        answers.push(Value::Object(answer));
    }
    Ok(keyed(&periods, answers))
}

/// `Referrers.get`: visits by referrer type, and how many distinct search engines, social
/// networks, websites and campaigns sent them, for each period.
async fn referrer_totals(access: &Access, params: &Params<'_>, credential: &Credential<'_>) -> Result<Value, String> {
    let segment = segments::filters(params.get("segment"))?;
    let (grant, periods) = periods_of(access, params, credential).await?;
    let mut answers = Vec::new();
    for days in periods.spans() {
        let rows = rows_of(&grant, &[Metric::Visits], &[Dimension::Channel, Dimension::Source], &segment, days).await?;
        let campaigns = rows_of(&grant, &[Metric::Visits], &[Dimension::UtmCampaign], &segment, days).await?;
        let (mut visits, mut distinct) = (serde_json::Map::new(), serde_json::Map::new());
        let types = [
            ("direct", "DirectEntry", ""),
            ("search", "SearchEngines", "SearchEngines"),
            ("social", "SocialNetworks", "SocialNetworks"),
            ("website", "Websites", "Websites"),
            ("campaign", "Campaigns", ""),
        ];
        for (segment_value, name, distinct_name) in types {
            let of_type = rows.iter().filter(|row| labels::referrer_type(&row.dimensions[0]).1 == segment_value);
            let of_type: Vec<_> = of_type.collect();
            let sum: f64 = of_type.iter().map(|row| row.metrics[0]).sum();
            visits.insert(format!("Referrers_visitorsFrom{name}"), reports::number(sum));
            if !distinct_name.is_empty() {
                let sources = of_type.iter().filter(|row| !row.dimensions[1].is_empty()).count();
                distinct.insert(format!("Referrers_distinct{distinct_name}"), json!(sources));
            }
        }
        let named_campaigns = campaigns.iter().filter(|row| !row.dimensions[0].is_empty()).count();
        distinct.insert("Referrers_distinctCampaigns".into(), json!(named_campaigns));
        visits.extend(distinct);
        answers.push(Value::Object(visits));
    }
    Ok(keyed(&periods, answers))
}

/// A configured goal as `Goals.getGoals` lists it: its id is its place in the site's `goals`.
fn goal_object(site: u32, id: usize, name: &str) -> Value {
    // A page goal matches the page's path with its pattern; an event goal the event's name.
    let (attribute, pattern, kind) = match crate::query::goals::parse(name) {
        crate::query::goals::Goal::Page { pattern, .. } => ("url", pattern, "regex"),
        crate::query::goals::Goal::Event(event) => ("event_name", event.to_string(), "exact"),
    };
    json!({
        "idsite": site.to_string(),
        "idgoal": id.to_string(),
        "name": name,
        "description": "",
        "match_attribute": attribute,
        "pattern": pattern,
        "pattern_type": kind,
        "case_sensitive": "0",
        "allow_multiple": "0",
        "revenue": "0",
        "deleted": "0",
    })
}

/// `Goals.get`: conversions, converted visits, revenue and conversion rate of each period, of
/// every goal or of `idGoal` (a Matomo goal id, or the place of a name in the site's `goals`).
/// A goal converts once a visit, as Matomo's goals do by default.
async fn goal_totals(access: &Access, params: &Params<'_>, credential: &Credential<'_>) -> Result<Value, String> {
    let segment = segments::filters(params.get("segment"))?;
    let goal = params.non_empty("idGoal").and_then(|g| g.trim().parse::<usize>().ok()).filter(|g| *g > 0);
    let (grant, periods) = periods_of(access, params, credential).await?;
    let wanted: Option<Vec<String>> = goal.map(|id| {
        let mut labels = vec![format!("Goal {id}")];
        labels.extend(grant.site().goals.get(id - 1).cloned());
        labels
    });
    let mut answers = Vec::new();
    for days in periods.spans() {
        let goals =
            rows_of(&grant, &[Metric::Visits, Metric::TotalRevenue], &[Dimension::Goal], &segment, days).await?;
        let totals =
            rows_of(&grant, &[Metric::Visits, Metric::Conversions, Metric::TotalRevenue], &[], &segment, days).await?;
        let total = |i: usize| totals.first().map_or(0.0, |row| row.metrics[i]);
        let chosen: Vec<_> = goals
            .iter()
            .filter(|row| wanted.as_ref().is_none_or(|labels| labels.contains(&row.dimensions[0])))
            .collect();
        let conversions: f64 = chosen.iter().map(|row| row.metrics[0]).sum();
        let (converted, revenue) = match wanted {
            Some(_) => (conversions, chosen.iter().map(|row| row.metrics[1]).sum()),
            None => (total(1), total(2)),
        };
        answers.push(json!({
            "nb_conversions": reports::number(conversions),
            "nb_visits_converted": reports::number(converted),
            "revenue": reports::number((revenue * 100.0).round() / 100.0),
            "conversion_rate": reports::percent(converted, total(0), 2),
        }));
    }
    Ok(keyed(&periods, answers))
}

/// The metrics of `MultiSites.getAll`, in the order its rows read them.
const ALL_SITES_METRICS: [Metric; 4] = [Metric::Visits, Metric::Actions, Metric::Pageviews, Metric::TotalRevenue];

/// `MultiSites.getAll`: one row per site the credential reads, with `enhanced=1` the
/// evolution of each figure against the period of the same length just before.
async fn all_sites(access: &Access, params: &Params<'_>, credential: &Credential<'_>) -> Result<Value, String> {
    let enhanced = params.get("enhanced") == Some("1");
    let segment = segments::filters(params.get("segment"))?;
    let sites = readable_sites(access, credential).await?;
    if sites.len() > MAX_SITE_PERIODS {
        return Err(format!("at most {MAX_SITE_PERIODS} sites in one request"));
    }
    let mut rows = Vec::new();
    for site in sites {
        let one = params.with("idSite", site.id.to_string());
        let (grant, periods) = periods_of(access, &one, credential).await?;
        let spans = periods.spans();
        let (first, last) = (spans.first().map_or(0, |s| s.0), spans.last().map_or(0, |s| s.1));
        let figures = async |days: (i64, i64)| -> Result<Vec<f64>, String> {
            let request = stats_request(site.id, ALL_SITES_METRICS.to_vec(), Vec::new(), segment.clone(), days);
            let answer = grant.run(&request).await.map_err(|refusal| refused(&refusal, site.id))?;
            Ok(answer.rows.first().map_or(vec![0.0; 4], |row| row.metrics.clone()))
        };
        let now = figures((first, last)).await?;
        let domain = site.domains.first().cloned().unwrap_or_default();
        let mut row = json!({
            "label": domain,
            "idsite": site.id,
            "main_url": format!("https://{domain}"),
            "nb_visits": reports::number(now[0]),
            "nb_actions": reports::number(now[1]),
            "nb_pageviews": reports::number(now[2]),
            "revenue": reports::number(now[3]),
        });
        if enhanced {
            let length = last - first + 1;
            let before = figures((first - length, first - 1)).await?;
            for (i, name) in
                ["visits_evolution", "actions_evolution", "pageviews_evolution", "revenue_evolution"].iter().enumerate()
            {
                row[*name] = json!(meta::evolution(now[i], before[i]));
            }
        }
        rows.push(row);
    }
    Ok(Value::Array(filters::apply(params, rows)?))
}

/// `Live.getCounters`: visits, actions, visitors and converted visits of the last
/// `lastMinutes` minutes (at most [`meta::MAX_LIVE_MINUTES`]), as `[{…}]`.
async fn live_counters(access: &Access, params: &Params<'_>, credential: &Credential<'_>) -> Result<Value, String> {
    let id = site_param(params)?;
    let minutes = params.non_empty("lastMinutes").ok_or("Please specify a value for 'lastMinutes'.")?;
    let minutes = minutes.trim().parse::<u64>().ok().filter(|m| (1..=meta::MAX_LIVE_MINUTES).contains(m));
    let minutes = minutes.ok_or(format!("lastMinutes: 1 to {}", meta::MAX_LIVE_MINUTES))?;
    let grant = access.authorize(credential, id).await.map_err(|refusal| refused(&refusal, id))?;
    let now = access.clock.now();
    let request = StatsRequest {
        date_range: DateRange::Instants(now.saturating_sub(minutes * 60), now + 1),
        ..stats_request(id, LIVE.to_vec(), Vec::new(), segments::filters(params.get("segment"))?, (0, 0))
    };
    let answer = grant.run(&request).await.map_err(|refusal| refused(&refusal, id))?;
    let values = answer.rows.first().map_or(vec![0.0; 4], |row| row.metrics.clone());
    Ok(json!([{
        "visits": reports::number(values[0]),
        "actions": reports::number(values[1]),
        "visitors": reports::number(values[2]),
        "visitsConverted": reports::number(values[3]),
    }]))
}

/// The metrics of `Live.getCounters`, in its order.
const LIVE: [Metric; 4] = [Metric::Visits, Metric::Actions, Metric::Visitors, Metric::Conversions];

/// A refusal in Matomo's words (a busy or failing store is said as such), about `site` when
/// one was asked for.
fn refused(refusal: &Refusal, site: impl Into<Option<u32>>) -> String {
    match (refusal, site.into()) {
        (Refusal::Unauthenticated | Refusal::Forbidden, Some(site)) => {
            format!("You can't access this resource as it requires 'view' access for the website id = {site}.")
        }
        (Refusal::Unauthenticated | Refusal::Forbidden, None) => {
            "You can't access this resource as it requires 'view' access.".to_string()
        }
        (other, _) => format!("{}: {}", other.parameter(), other.message()),
    }
}

/// The sites `credential` may read: the public ones and its own.
async fn readable_sites(access: &Access, credential: &Credential<'_>) -> Result<Vec<SiteConfig>, String> {
    let scope = access.credential_scope(credential).await.map_err(|refusal| refused(&refusal, None))?;
    let live = access.live.current();
    Ok(live.sites.iter().filter(|s| s.public || scope.as_ref().is_some_and(|c| c.covers(s.id))).cloned().collect())
}

/// A site as `SitesManager` gives it (the fields clients read; values are strings, as Matomo's).
fn site_object(site: &SiteConfig) -> Value {
    let domain = site.domains.first().map(String::as_str).unwrap_or("");
    json!({
        "idsite": site.id.to_string(),
        "name": domain,
        "main_url": format!("https://{domain}"),
        "timezone": site.timezone,
        "currency": "EUR",
        "ecommerce": "1",
        "sitesearch": "1",
        "type": "website",
        "excluded_ips": "",
        "excluded_parameters": "",
        "excluded_user_agents": "",
        "group": "",
    })
}
