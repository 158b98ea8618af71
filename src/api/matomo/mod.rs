//! Matomo's Reporting API (`index.php?module=API&method=…`, and `POST /` as Matomo's log
//! importer sends it): the endpoint as Matomo serves it, and its first methods. Parameters come
//! from the query string and the form body together (the body wins); `token_auth` in either
//! (`anonymous`: only public sites); answers are JSON; an error is HTTP 200 with
//! `{"result":"error","message":…}` in Matomo's words, which clients test for.
//!
//! Answered so far: `API.getMatomoVersion` / `API.getPiwikVersion`, the sites a credential
//! reads (`SitesManager.getSiteFromId`, `getSitesWithAtLeastViewAccess`,
//! `getSitesIdWithAtLeastViewAccess`, `getSitesIdFromSiteUrl`), and `VisitsSummary.get` for any `period` and `date`
//! Matomo takes ([`periods`]). The visitor log and profiles are declined as a disabled
//! plugin (no per-visitor record is kept, by design); any other method gets Matomo's "does not
//! exist" error, never a 404 or a page.

mod periods;

use hyper::StatusCode;
use serde_json::{Value, json};

use super::access::{Caller, Credential};
use super::{Access, Refusal};
use crate::config::SiteConfig;
use crate::http::{self, Params, Request, Response};
use crate::query::period::{DateRange, date_text, day_of};
use crate::query::request::{Format, Metric, StatsRequest};
use periods::Periods;

/// The Matomo version we answer as: clients check only that it is recent (Looker reads the
/// major and minor, the mobile app wants at least 2.0).
pub(crate) const MATOMO_VERSION: &str = "5.2.0";

/// Plugins whose methods are declined as disabled: they list visits and visitors one by one.
const DISABLED_PLUGINS: [&str; 3] = ["Live", "UserId", "Heatmaps"];

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
    let token = params.non_empty("token_auth").filter(|t| *t != "anonymous");
    let credential = Credential::of(request.headers(), token, caller);
    match answer(access, &params, &credential).await {
        Ok(value) => http::json(StatusCode::OK, &value),
        Err(message) => matomo_error(&message),
    }
}

/// Matomo's error answer: HTTP 200, `{"result":"error","message":…}`.
fn matomo_error(message: &str) -> Response {
    http::json(StatusCode::OK, &json!({"result": "error", "message": message}))
}

async fn answer(access: &Access, params: &Params<'_>, credential: &Credential<'_>) -> Result<Value, String> {
    let method = params.non_empty("method").ok_or("Please specify a value for 'method'.")?;
    let (module, name) = method.split_once('.').unwrap_or((method, ""));
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
        ("VisitsSummary", "get") => visits_summary(access, params, credential).await,
        ("API", "getBulkRequest") => bulk(access, params, credential).await,
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
const SUMMARY: [Metric; 6] =
    [Metric::Visitors, Metric::Visits, Metric::Pageviews, Metric::Events, Metric::BounceRate, Metric::VisitDuration];

/// `VisitsSummary.get`: one object for one period, or an object keyed by period label.
async fn visits_summary(access: &Access, params: &Params<'_>, credential: &Credential<'_>) -> Result<Value, String> {
    let id =
        params.non_empty("idSite").and_then(|v| v.parse::<u32>().ok()).ok_or("Please specify a value for 'idSite'.")?;
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
    let one = |first: i64, last: i64| StatsRequest {
        site_id: id,
        metrics: SUMMARY.to_vec(),
        date_range: DateRange::Custom(date_text(first), date_text(last)),
        dimensions: Vec::new(),
        filters: Vec::new(),
        order_by: Vec::new(),
        limit: 1,
        offset: 0,
        comparison: false,
        format: Format::Json,
        total_rows: false,
        time_labels: false,
    };
    let run = async |first: i64, last: i64| -> Result<Value, String> {
        let answer = grant.run(&one(first, last)).await.map_err(|refusal| refused(&refusal, id))?;
        Ok(answer.rows.first().map_or(json!([]), |row| summary(&row.metrics)))
    };
    match periods::parse(period, date, today)? {
        Periods::One(p) => run(p.first_day, p.last_day).await,
        Periods::Several(list) => {
            let mut keyed = serde_json::Map::new();
            for p in list {
                keyed.insert(p.label.clone(), run(p.first_day, p.last_day).await?);
            }
            Ok(Value::Object(keyed))
        }
    }
}

/// A period's `VisitsSummary.get` object from [`SUMMARY`]'s values (an empty period is `[]`,
/// as Matomo answers it). Matomo's actions also count downloads, outlinks and searches; here
/// they are page views and custom events.
fn summary(values: &[f64]) -> Value {
    let [visitors, visits, pageviews, events, bounce_rate, duration] = values[..] else { return json!([]) };
    if visits == 0.0 {
        return json!([]);
    }
    let actions = pageviews + events;
    json!({
        "nb_uniq_visitors": visitors as u64,
        "nb_visits": visits as u64,
        "nb_actions": actions as u64,
        "nb_actions_per_visit": (actions / visits * 10.0).round() / 10.0,
        "bounce_rate": format!("{}%", bounce_rate.round()),
        "avg_time_on_site": duration.round() as u64,
    })
}

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
