//! Matomo's own tracker, `matomo.js`, served where a Matomo server serves it (`/matomo.js`,
//! `/piwik.js`, `/js/`, `/js/tracker.php`), so that a site changes only the tracker's host.
//!
//! The script is Matomo's, unchanged (BSD-3-Clause, vendored in `assets/matomo/` with its
//! licence and version; `scripts/update-matomo-js.sh` updates it). In front of it the collector
//! puts a short prelude that applies its privacy settings through Matomo's own command queue
//! (`_paq`), which `matomo.js` runs before anything it tracks:
//! - on a cookieless site (every site not in `cookie_mode`), `disableCookies`: the tracker sets
//!   no cookie at all (docs/privacy.md B5);
//! - on a cookie-mode site, `setVisitorCookieTimeout` with the site's `cookie_lifetime`, so the
//!   browser keeps the visitor cookie no longer than the collector honours it.
//!
//! The site is the one the page's snippet names with `setSiteId` before the script loads (the
//! standard snippet does); a page that names none, or names it later, gets `disableCookies`.
//!
//! Cached like Matomo's: public, revalidated (`ETag`, `304 Not Modified`), ten days. The
//! rendering is this module's own: [`MatomoScripts`] keeps one per settings snapshot, made on
//! the first request after a reload.

use bytes::Bytes;
use http_body_util::Full;
use hyper::StatusCode;
use hyper::header::{
    ACCESS_CONTROL_ALLOW_ORIGIN, CACHE_CONTROL, CONTENT_TYPE, ETAG, HeaderMap, HeaderValue, IF_NONE_MATCH, VARY,
};
use sha2::{Digest, Sha256};

use crate::http::Response;
use crate::live::Live;
use crate::sites::Sites;

/// Matomo's tracker, as released (see `assets/matomo/VERSION`).
pub const MATOMO_JS: &str = include_str!("assets/matomo/matomo.js");
/// The Matomo release it comes from.
pub const MATOMO_VERSION: &str = include_str!("assets/matomo/VERSION");

/// Matomo serves its tracker with a ten-day expiry and revalidation.
const CACHE_CONTROL_VALUE: &str = "public, max-age=864000, must-revalidate";

/// The script of the current settings snapshot, rendered once per snapshot.
#[derive(Default)]
pub struct MatomoScripts {
    /// The snapshot's generation and its script.
    rendered: arc_swap::ArcSwapOption<(u64, MatomoScript)>,
}

impl MatomoScripts {
    /// The script for `live`'s sites, or `304 Not Modified` (see [`MatomoScript::serve`]).
    pub fn serve(&self, live: &Live, request: &HeaderMap) -> Response {
        if let Some(rendered) = &*self.rendered.load()
            && rendered.0 == live.generation
        {
            return rendered.1.serve(request);
        }
        let rendered = std::sync::Arc::new((live.generation, MatomoScript::new(&live.sites)));
        self.rendered.store(Some(rendered.clone()));
        rendered.1.serve(request)
    }
}

/// The served script: the prelude for the configured sites, then Matomo's tracker.
pub struct MatomoScript {
    body: Bytes,
    etag: HeaderValue,
}

impl MatomoScript {
    pub fn new(sites: &Sites) -> MatomoScript {
        let mut body = prelude(sites);
        body.push_str(MATOMO_JS);
        let digest = Sha256::digest(body.as_bytes());
        let etag = format!("\"{}\"", hex::encode(&digest[..12]));
        MatomoScript {
            body: Bytes::from(body),
            etag: HeaderValue::from_str(&etag).expect("a hex ETag is a valid header value"),
        }
    }

    /// The script, or `304 Not Modified` when the browser's copy (`If-None-Match`) is current.
    pub fn serve(&self, request: &HeaderMap) -> Response {
        let current = request.get_all(IF_NONE_MATCH).iter().any(|value| {
            value.to_str().is_ok_and(|v| v.split(',').any(|tag| tag.trim() == self.etag || tag.trim() == "*"))
        });
        let mut response = if current {
            let mut response = hyper::Response::new(Full::new(Bytes::new()));
            *response.status_mut() = StatusCode::NOT_MODIFIED;
            response
        } else {
            hyper::Response::new(Full::new(self.body.clone()))
        };
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/javascript; charset=utf-8"));
        headers.insert(CACHE_CONTROL, HeaderValue::from_static(CACHE_CONTROL_VALUE));
        headers.insert(ETAG, self.etag.clone());
        headers.insert(VARY, HeaderValue::from_static("Accept-Encoding"));
        headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
        response
    }
}

/// The commands pushed onto `_paq` before Matomo's tracker runs.
fn prelude(sites: &Sites) -> String {
    let cookie_sites: Vec<String> = sites
        .iter()
        .filter(|s| s.cookie_mode)
        .map(|s| format!("\"{}\":{}", s.id, u64::from(s.cookie_lifetime_days) * 86_400))
        .collect();
    format!(
        "/* mesure: this collector's privacy settings, applied through Matomo's own commands */\n\
         (function(){{var w=window,q=w._paq=w._paq||[],lifetimes={{{}}},site=null,i;\
         for(i=0;i<q.length;i++){{if(q[i]&&q[i][0]==='setSiteId'){{site=String(q[i][1]);}}}}\
         if(site!==null&&Object.prototype.hasOwnProperty.call(lifetimes,site)){{q.push(['setVisitorCookieTimeout',lifetimes[site]]);}}\
         else{{q.push(['disableCookies']);}}}})();\n",
        cookie_sites.join(",")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SiteConfig;

    fn sites() -> Sites {
        let mut cookie = SiteConfig::with_defaults(2, "shop.example.net");
        cookie.cookie_mode = true;
        Sites::new(&[SiteConfig::with_defaults(1, "example.org"), cookie])
    }

    #[test]
    fn the_prelude_names_the_cookie_mode_sites_and_disables_cookies_elsewhere() {
        let text = prelude(&sites());
        assert!(text.contains("lifetimes={\"2\":34128000}"), "{text}");
        assert!(text.contains("['disableCookies']"));
        let none = prelude(&Sites::new(&[SiteConfig::with_defaults(1, "example.org")]));
        assert!(none.contains("lifetimes={}"), "{none}");
    }

    #[test]
    fn the_script_is_matomos_behind_the_prelude_and_revalidates() {
        let script = MatomoScript::new(&sites());
        let response = script.serve(&HeaderMap::new());
        assert_eq!(response.status(), StatusCode::OK);
        let etag = response.headers()[ETAG].clone();
        assert!(response.headers()[CACHE_CONTROL].to_str().unwrap().contains("must-revalidate"));
        assert!(script.body.ends_with(MATOMO_JS.as_bytes()));
        assert!(MATOMO_JS.contains("BSD-3-Clause"), "the licence header stays");
        let mut again = HeaderMap::new();
        again.insert(IF_NONE_MATCH, etag.clone());
        assert_eq!(script.serve(&again).status(), StatusCode::NOT_MODIFIED);
        again.insert(IF_NONE_MATCH, HeaderValue::from_static("\"stale\""));
        assert_eq!(script.serve(&again).status(), StatusCode::OK);
        // Another configuration is another script, hence another ETag.
        let other = MatomoScript::new(&Sites::new(&[SiteConfig::with_defaults(1, "example.org")]));
        assert_ne!(other.etag, etag);
    }
}
