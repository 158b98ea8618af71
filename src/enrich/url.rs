//! URL minimisation (PRIVACY.md D1, D2).
//!
//! A page URL is stored as host + path; its fragment is always dropped; its query string is
//! dropped except for the parameters the site allows (`keep_query`), and known identifiers are
//! dropped even when allowed. A referrer is stored as its host only.

use url::Url;

/// Query parameters that identify a person or a click; never stored, whatever a site allows.
pub const IDENTIFYING_PARAMS: &[&str] = &[
    "email",
    "e-mail",
    "mail",
    "token",
    "access_token",
    "auth",
    "session",
    "sessionid",
    "session_id",
    "sid",
    "phpsessid",
    "jsessionid",
    "password",
    "pass",
    "pwd",
    "key",
    "api_key",
    "apikey",
    "uid",
    "user_id",
    "userid",
    "gclid",
    "gbraid",
    "wbraid",
    "fbclid",
    "msclkid",
    "ttclid",
    "dclid",
    "yclid",
    "mc_eid",
];

/// A page URL reduced to what may be stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageUrl {
    /// Lower-case host, without port.
    pub host: String,
    /// Path, plus `?k=v` for allowed parameters (in the order given).
    pub path: String,
}

/// Parses a page URL; `None` when it is not an absolute http(s) URL with a host.
pub fn clean_page_url(raw: &str, keep_query: &[String]) -> Option<PageUrl> {
    clean(&parse_http(raw)?, keep_query, false)
}

/// Reduces a parsed URL to what may be stored. With `hash_route` (a single-page app that routes
/// on the fragment, Plausible's `hashMode`), the fragment's path part is kept as the route:
/// `/app#/orders?id=3` → `/app#/orders`.
pub fn clean(url: &Url, keep_query: &[String], hash_route: bool) -> Option<PageUrl> {
    let host = url.host_str()?.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
    let mut path = url.path().to_string();
    if !keep_query.is_empty() && url.query().is_some() {
        let mut kept = form_urlencoded::Serializer::new(String::new());
        let mut any = false;
        for (key, value) in url.query_pairs() {
            if keep_query.iter().any(|k| *k == key) && !is_identifying(&key) {
                kept.append_pair(&key, &value);
                any = true;
            }
        }
        if any {
            path.push('?');
            path.push_str(&kept.finish());
        }
    }
    if hash_route
        && let Some(route) = url.fragment().map(|f| f.split(['?', '&']).next().unwrap_or("")).filter(|r| !r.is_empty())
    {
        path.push('#');
        path.push_str(route);
    }
    Some(PageUrl { host, path })
}

/// The host of a referrer URL, or `""` when there is none or it is not http(s).
pub fn referrer_host(raw: &str) -> String {
    parse_http(raw)
        .and_then(|u| u.host_str().map(|h| h.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase()))
        .unwrap_or_default()
}

/// Whether a parameter name is a known identifier.
pub fn is_identifying(key: &str) -> bool {
    IDENTIFYING_PARAMS.iter().any(|p| p.eq_ignore_ascii_case(key))
}

/// An absolute http(s) URL with a host, or `None`.
pub fn parse_http(raw: &str) -> Option<Url> {
    let url = Url::parse(raw.trim()).ok()?;
    matches!(url.scheme(), "http" | "https").then_some(url).filter(|u| u.host_str().is_some_and(|h| !h.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keep(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn query_and_fragment_are_dropped_by_default() {
        let u = clean_page_url("https://Site.example/p?email=a@b.c&q=x#frag", &[]).unwrap();
        assert_eq!(u, PageUrl { host: "site.example".into(), path: "/p".into() });
    }

    #[test]
    fn allowed_parameters_are_kept_but_never_identifiers() {
        let u = clean_page_url("https://site/p?email=a@b.c&q=x#frag", &keep(&["q"])).unwrap();
        assert_eq!(u.path, "/p?q=x");
        let u = clean_page_url("https://site/p?email=a@b.c&q=x", &keep(&["q", "email"])).unwrap();
        assert_eq!(u.path, "/p?q=x");
        let u = clean_page_url("https://site/p?other=1", &keep(&["q"])).unwrap();
        assert_eq!(u.path, "/p");
    }

    #[test]
    fn only_http_urls_with_a_host() {
        assert!(clean_page_url("ftp://site/p", &[]).is_none());
        assert!(clean_page_url("javascript:alert(1)", &[]).is_none());
        assert!(clean_page_url("/relative", &[]).is_none());
        assert!(clean_page_url("", &[]).is_none());
        assert_eq!(clean_page_url("http://site:8080", &[]).unwrap().path, "/");
    }

    #[test]
    fn hash_routes_keep_only_the_route() {
        let url = parse_http("https://site/app?x=1#/orders?id=3").unwrap();
        assert_eq!(clean(&url, &[], true).unwrap().path, "/app#/orders");
        assert_eq!(clean(&url, &[], false).unwrap().path, "/app");
    }

    #[test]
    fn referrer_is_host_only() {
        assert_eq!(referrer_host("https://www.Google.com/search?q=secret"), "www.google.com");
        assert_eq!(referrer_host("http://[2001:db8::1]:8080/x"), "2001:db8::1");
        assert_eq!(referrer_host("android-app://com.x"), "");
        assert_eq!(referrer_host("not a url"), "");
    }
}
