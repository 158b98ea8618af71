//! URL minimisation (docs/privacy.md D1, D2).
//!
//! A page URL is stored as host + path; its fragment is always dropped; its query string is
//! dropped except for the parameters the site allows (`keep_query`), and known identifiers are
//! dropped even when allowed. A referrer is stored as its host only.
//!
//! Parsing: a URL made only of plain characters (no escapes to add, no dot segments, an ASCII
//! host name) is split by hand; anything else goes through the `url` crate's WHATWG parser. The
//! split gives exactly what the parser would (a differential test checks), at a fraction of
//! the cost: parsing the page and referrer URLs was the largest share of a hit's own work.

use std::borrow::Cow;

use url::Url;

/// Query parameters that identify a person or a click; never stored, whatever a site allows.
pub(crate) const IDENTIFYING_PARAMS: &[&str] = &[
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

/// Longest host kept (DNS names have at most 253 bytes: a longer one is no host).
const MAX_HOST_BYTES: usize = 253;
/// Longest path kept (characters; with the kept parameters and the hash route). Longer paths
/// are cut: one hit cannot store an arbitrary amount of text.
pub(crate) const MAX_PATH_CHARS: usize = 1024;

/// A page URL reduced to what may be stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageUrl {
    /// Lower-case host, without port.
    pub host: String,
    /// Path, plus `?k=v` for allowed parameters (in the order given).
    pub path: String,
}

/// Parses a page URL; `None` when it is not an absolute http(s) URL with a host.
pub(crate) fn clean_page_url(raw: &str, keep_query: &[String]) -> Option<PageUrl> {
    clean(&parse_http(raw)?, keep_query, false)
}

/// Reduces a parsed URL to what may be stored. With `hash_route` (a single-page app that routes
/// on the fragment, Plausible's `hashMode`), the fragment's path part is kept as the route:
/// `/app#/orders?id=3` → `/app#/orders`.
pub(crate) fn clean(url: &HttpUrl<'_>, keep_query: &[String], hash_route: bool) -> Option<PageUrl> {
    if url.host().len() > MAX_HOST_BYTES {
        return None;
    }
    let host = url.host().to_string();
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
    if let Some((at, _)) = path.char_indices().nth(MAX_PATH_CHARS) {
        path.truncate(at);
    }
    Some(PageUrl { host, path })
}

/// An outlink's or download's target, minimised like a page URL (no query, no fragment):
/// `host/path`, or empty when it is not an http(s) URL.
pub(crate) fn link_target(raw: &str) -> String {
    clean_page_url(raw, &[]).map(|u| format!("{}{}", u.host, u.path)).unwrap_or_default()
}

/// The host of a referrer URL, or `""` when there is none, it is not http(s) or its host is
/// longer than a host can be.
pub fn referrer_host(raw: &str) -> String {
    parse_http(raw).map(|u| u.host().to_string()).filter(|h| h.len() <= MAX_HOST_BYTES).unwrap_or_default()
}

/// Whether a parameter name is a known identifier.
pub(crate) fn is_identifying(key: &str) -> bool {
    IDENTIFYING_PARAMS.iter().any(|p| p.eq_ignore_ascii_case(key))
}

/// The parts of an absolute http(s) URL that mesure reads, as the WHATWG parser gives them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HttpUrl<'a> {
    /// Lower-case, without port, IPv6 without brackets.
    host: Cow<'a, str>,
    path: Cow<'a, str>,
    query: Option<Cow<'a, str>>,
    fragment: Option<Cow<'a, str>>,
}

impl HttpUrl<'_> {
    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    pub fn query(&self) -> Option<&str> {
        self.query.as_deref()
    }

    pub fn fragment(&self) -> Option<&str> {
        self.fragment.as_deref()
    }

    /// The query's decoded pairs (as `Url::query_pairs`).
    pub(crate) fn query_pairs(&self) -> form_urlencoded::Parse<'_> {
        form_urlencoded::parse(self.query().unwrap_or("").as_bytes())
    }
}

/// An absolute http(s) URL with a host, or `None`.
pub(crate) fn parse_http(raw: &str) -> Option<HttpUrl<'_>> {
    let raw = raw.trim();
    if let Some(url) = split_plain(raw) {
        return Some(url);
    }
    parse_whatwg(raw)
}

/// An app's page URL as Plausible's Events API takes it: any scheme (`app://…`,
/// `com.example.app://screen/…`), the host when there is one, else none; a string without a
/// scheme is a path. `None` for http(s) URLs that [`parse_http`] refused, and for `data:`
/// (which Plausible refuses too) and `javascript:` (never a page, and a script in a report).
pub(crate) fn parse_app(raw: &str) -> Option<HttpUrl<'static>> {
    let raw = raw.trim();
    match Url::parse(raw) {
        Ok(url) if matches!(url.scheme(), "http" | "https" | "data" | "javascript") => None,
        Ok(url) => {
            let host = url.host_str().unwrap_or("").trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
            let path = if url.cannot_be_a_base() { format!("/{}", url.path()) } else { url.path().to_string() };
            Some(HttpUrl {
                host: Cow::Owned(host),
                path: Cow::Owned(if path.is_empty() { "/".into() } else { path }),
                query: url.query().map(|q| Cow::Owned(q.to_string())),
                fragment: url.fragment().map(|f| Cow::Owned(f.to_string())),
            })
        }
        Err(url::ParseError::RelativeUrlWithoutBase) if !raw.is_empty() => {
            let (rest, fragment) = raw.split_once('#').map_or((raw, None), |(r, f)| (r, Some(f)));
            let (path, query) = rest.split_once('?').map_or((rest, None), |(p, q)| (p, Some(q)));
            let path = if path.starts_with('/') { path.to_string() } else { format!("/{path}") };
            Some(HttpUrl {
                host: Cow::Borrowed(""),
                path: Cow::Owned(path),
                query: query.map(|q| Cow::Owned(q.to_string())),
                fragment: fragment.map(|f| Cow::Owned(f.to_string())),
            })
        }
        Err(_) => None,
    }
}

/// The full WHATWG parse (the `url` crate), in [`HttpUrl`]'s terms: the fallback of
/// [`parse_http`], and the reference its hand split is tested against.
fn parse_whatwg(raw: &str) -> Option<HttpUrl<'static>> {
    let url = Url::parse(raw).ok()?;
    if !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    let host = url.host_str().filter(|h| !h.is_empty())?;
    Some(HttpUrl {
        host: Cow::Owned(host.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase()),
        path: Cow::Owned(url.path().to_string()),
        query: url.query().map(|q| Cow::Owned(q.to_string())),
        fragment: url.fragment().map(|f| Cow::Owned(f.to_string())),
    })
}

/// The hand split for plain URLs; `None` sends the URL to the full parser. Plain means: scheme
/// `http`/`https` in lower case; only characters the parser leaves as they are (no space,
/// quote, `<>`, backtick, braces, backslash, control or non-ASCII character); no dot segment
/// (`/.`, or `%2e` anywhere); a host of letters, digits, dots and dashes whose last label does
/// not start with a digit (which the parser may read as an IPv4 address) and no `xn--` label
/// (which it validates), with at most a numeric port.
fn split_plain(raw: &str) -> Option<HttpUrl<'_>> {
    let rest = raw.strip_prefix("https://").or_else(|| raw.strip_prefix("http://"))?;
    let bytes = rest.as_bytes();
    // One pass: every byte plain, no `/.`, no `%2e`; and where the authority ends.
    let mut authority_end = bytes.len();
    for (i, &b) in bytes.iter().enumerate() {
        if !PLAIN[b as usize] {
            return None;
        }
        match b {
            b'/' | b'?' | b'#' if authority_end == bytes.len() => authority_end = i,
            _ => {}
        }
        let next = bytes.get(i + 1).copied();
        if (b == b'/' && next == Some(b'.'))
            || (b == b'%' && next == Some(b'2') && bytes.get(i + 2).is_some_and(|c| c.eq_ignore_ascii_case(&b'e')))
        {
            return None;
        }
    }
    let (authority, tail) = rest.split_at(authority_end);
    let host = match authority.split_once(':') {
        Some((host, port)) if port.parse::<u16>().is_ok() && port.bytes().all(|b| b.is_ascii_digit()) => host,
        Some(_) => return None,
        None => authority,
    };
    let labels_ok = host.split('.').all(|label| {
        !label.is_empty()
            && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("xn--"))
    });
    let last_starts_with_digit =
        host.rsplit('.').next().and_then(|l| l.bytes().next()).is_some_and(|b| b.is_ascii_digit());
    if host.is_empty() || host.len() > 253 || !labels_ok || last_starts_with_digit {
        return None;
    }
    let (before_fragment, fragment) = match tail.split_once('#') {
        Some((before, fragment)) => (before, Some(Cow::Borrowed(fragment))),
        None => (tail, None),
    };
    let (path, query) = match before_fragment.split_once('?') {
        Some((path, query)) => (path, Some(Cow::Borrowed(query))),
        None => (before_fragment, None),
    };
    let host = if host.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(host.to_ascii_lowercase())
    } else {
        Cow::Borrowed(host)
    };
    let path = Cow::Borrowed(if path.is_empty() { "/" } else { path });
    Some(HttpUrl { host, path, query, fragment })
}

/// The bytes [`split_plain`] accepts: letters, digits and `-._~!$&()*+,;=:@/?#%`.
const PLAIN: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = (b as u8).is_ascii_alphanumeric();
        b += 1;
    }
    let extra = b"-._~!$&()*+,;=:@/?#%";
    let mut i = 0;
    while i < extra.len() {
        table[extra[i] as usize] = true;
        i += 1;
    }
    table
};

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
    fn app_urls_as_plausible_takes_them() {
        let parts = |raw: &str| parse_app(raw).map(|u| (u.host().to_string(), u.path().to_string()));
        assert_eq!(parts("app://localhost/screen/orders?x=1"), Some(("localhost".into(), "/screen/orders".into())));
        assert_eq!(parts("com.example.shop://Home/Cart"), Some(("home".into(), "/Cart".into())));
        assert_eq!(parts("myapp:settings"), Some(("".into(), "/settings".into())));
        assert_eq!(parts("screen/orders"), Some(("".into(), "/screen/orders".into())));
        assert_eq!(parts("data:text/html,<b>hi</b>"), None, "Plausible refuses data: URLs");
        assert_eq!(parts("JavaScript:alert(1)"), None);
        assert_eq!(parts("https://example.org/"), None, "http(s) URLs are parse_http's");
        assert_eq!(parts(""), None);
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

    fn by_the_parser(raw: &str) -> Option<HttpUrl<'static>> {
        parse_whatwg(raw.trim())
    }

    /// The hand split agrees with the `url` crate on every URL it accepts: random URLs built
    /// from pieces chosen to hit the parser's special cases.
    #[test]
    fn the_hand_split_agrees_with_the_whatwg_parser() {
        let schemes = ["http://", "https://", "HTTP://", "https:/", "ftp://", "http:"];
        let hosts = [
            "example.org",
            "Example.ORG",
            "a.b-c.example",
            "localhost",
            "127.0.0.1",
            "0x7f.1",
            "010.0.0.1",
            "1.2.3",
            "example.123",
            "xn--bcher-kva.example",
            "EXAMPLE",
            "ex..ample",
            ".example",
            "example.",
            "[2001:db8::1]",
            "user@host",
            "user:pw@host",
            "ho st",
            "hôte.example",
            "-x.example",
            "x_y.example",
            "",
        ];
        let ports = ["", ":8080", ":443", ":80", ":", ":99999", ":0080", ":x"];
        let paths = [
            "",
            "/",
            "/a/b",
            "/a/./b",
            "/a/../b",
            "/.",
            "/..",
            "/a/%2e/b",
            "/a/%2E%2E/b",
            "/.well-known",
            "/a b",
            "/a%20b",
            "/a\\b",
            "/é",
            "/a%zz",
            "//double",
            "/a;b=c",
            "/~user",
            "/{x}",
            "/a|b",
            "/a'b",
            "/a\"b",
            "/a`b",
            "/a^b",
            "/\tx",
        ];
        let queries =
            ["", "?", "?q=1", "?a=1&b=2", "?q=a b", "?q='x'", "?q=%41", "?q=<x>", "?q=é", "?a=/./b", "?q=1?2"];
        let fragments = ["", "#", "#f", "#/route?x=1", "#a b", "#a#b", "#<x>", "#`x`", "#é"];
        let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
        let mut pick = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        let (mut split, mut total) = (0, 0);
        for _ in 0..40_000 {
            let raw = format!(
                "{}{}{}{}{}{}",
                schemes[pick(schemes.len())],
                hosts[pick(hosts.len())],
                ports[pick(ports.len())],
                paths[pick(paths.len())],
                queries[pick(queries.len())],
                fragments[pick(fragments.len())]
            );
            total += 1;
            if let Some(fast) = split_plain(&raw) {
                split += 1;
                assert_eq!(Some(fast), by_the_parser(&raw), "{raw}");
            }
            assert_eq!(parse_http(&raw), by_the_parser(&raw), "{raw}");
        }
        // Most pieces are tricky on purpose; a few hundred plain ones still come out.
        assert!(split > 100, "the hand split took only {split} of {total}");
        let typical = "https://www.example.org/articles/2026/ma-page?utm_source=x&id=3#top";
        assert!(split_plain(typical).is_some());
    }

    #[test]
    fn hosts_and_paths_are_bounded() {
        let long_path = format!("https://example.org/{}", "é".repeat(5000));
        let page = clean_page_url(&long_path, &[]).unwrap();
        assert_eq!(page.path.chars().count(), MAX_PATH_CHARS);
        let long_host = format!("https://{}.example.org/", "a".repeat(300));
        assert_eq!(clean_page_url(&long_host, &[]), None);
        assert_eq!(referrer_host(&long_host), "");
        assert_eq!(link_target(&long_path).chars().count(), "example.org".len() + MAX_PATH_CHARS);
    }

    #[test]
    fn referrer_is_host_only() {
        assert_eq!(referrer_host("https://www.Google.com/search?q=secret"), "www.google.com");
        assert_eq!(referrer_host("http://[2001:db8::1]:8080/x"), "2001:db8::1");
        assert_eq!(referrer_host("android-app://com.x"), "");
        assert_eq!(referrer_host("not a url"), "");
    }
}
