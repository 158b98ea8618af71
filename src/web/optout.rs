//! The opt-out page (docs/privacy.md C3): works without JavaScript, in French or English.
//!
//! `GET /optout` says whether this browser is opted out and offers one button; `POST /optout`
//! (`action=out` or `action=in`) sets or clears the flag and redirects back (303) to the page.
//! The flag is a first-party cookie on the collector's host: `mesure_optout=1`, `HttpOnly`,
//! `SameSite=Lax`, `Secure` over HTTPS, kept 13 months (the longest CNIL allows). While it is
//! set, the gate declines this browser's hits.

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{ACCEPT_LANGUAGE, CACHE_CONTROL, CONTENT_TYPE, HOST, HeaderValue, ORIGIN, SET_COOKIE};
use hyper::{HeaderMap, Method, StatusCode};

use crate::http::{Params, Request, Response, plain, see_other};
use crate::privacy::gate::{self, OPTOUT_COOKIE};
use crate::summary::{Lang, SiteFacts};

/// 13 months, in seconds (395 days).
const COOKIE_MAX_AGE: u64 = 395 * 86_400;

fn code(lang: Lang) -> &'static str {
    match lang {
        Lang::En => "en",
        Lang::Fr => "fr",
    }
}

struct Texts {
    title: &'static str,
    opted_out: &'static str,
    button_out: &'static str,
    button_in: &'static str,
    dnt: &'static str,
    explain: &'static str,
    other_language: &'static str,
}

const EN: Texts = Texts {
    title: "Audience measurement: your choice",
    opted_out: "You are opted out. Visits from this browser are not recorded.",
    button_out: "Opt out: do not count my visits",
    button_in: "Opt back in",
    dnt: "Your browser sends a Do-Not-Track or Global Privacy Control signal, so your visits are not recorded in any case.",
    explain: "Your choice is kept in a cookie on this browser for 13 months. If you delete your cookies, you will need to opt out again.",
    other_language: "Version française",
};

const FR: Texts = Texts {
    title: "Mesure d'audience : votre choix",
    opted_out: "Vous vous êtes opposé à la mesure d'audience. Les visites de ce navigateur ne sont pas enregistrées.",
    button_out: "M'opposer : ne pas compter mes visites",
    button_in: "Accepter à nouveau la mesure",
    dnt: "Votre navigateur envoie un signal Do-Not-Track ou Global Privacy Control : vos visites ne sont de toute façon pas enregistrées.",
    explain: "Votre choix est conservé dans un cookie de ce navigateur pendant 13 mois. Si vous effacez vos cookies, il faudra vous opposer à nouveau.",
    other_language: "English version",
};

/// Handles `GET` and `POST` on `/optout`. `secure` says whether the visitor reached us over HTTPS;
/// `facts` are those of the site the page was opened for (`?site=N`), or of every site.
pub fn handle(request: &Request, secure: bool, facts: &SiteFacts) -> Response {
    let lang = language(request);
    match *request.method() {
        Method::GET | Method::HEAD => page(request, lang, facts),
        Method::POST => {
            let form = match read_choice(request) {
                Ok(form) => form,
                Err(bad) => return bad.answer(),
            };
            let lang = match form.get("lang").map(String::as_str) {
                Some("fr") => Lang::Fr,
                Some("en") => Lang::En,
                _ => lang,
            };
            let opt_out = match form.get("action").map(String::as_str) {
                Some("out") => true,
                Some("in") => false,
                _ => return plain(StatusCode::BAD_REQUEST, "action must be \"out\" or \"in\"\n"),
            };
            let back = if lang == Lang::Fr { "optout?lang=fr" } else { "optout?lang=en" };
            let mut response = see_other(HeaderValue::from_static(back));
            set_choice(response.headers_mut(), opt_out, secure);
            response
        }
        _ => plain(StatusCode::METHOD_NOT_ALLOWED, "use GET or POST\n"),
    }
}

/// Largest form of a visitor's choice (bytes): the route table reads no more.
pub(crate) const MAX_CHOICE_BYTES: usize = 1024;

/// Why a posted choice is not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BadChoice {
    /// Posted from another site (see [`same_origin`]): 403.
    CrossSite,
    /// Not UTF-8, or not a form: 400.
    Malformed,
}

impl BadChoice {
    pub(crate) fn answer(self) -> Response {
        match self {
            BadChoice::CrossSite => plain(StatusCode::FORBIDDEN, "the choice can only be made on this page\n"),
            BadChoice::Malformed => plain(StatusCode::BAD_REQUEST, "malformed form\n"),
        }
    }
}

/// The form of a visitor's choice as owned pairs, unless it came from another site or is
/// malformed.
pub(crate) fn read_choice(request: &Request) -> Result<std::collections::HashMap<String, String>, BadChoice> {
    if !same_origin(request.headers()) {
        return Err(BadChoice::CrossSite);
    }
    let text = std::str::from_utf8(request.body()).map_err(|_| BadChoice::Malformed)?;
    let form = Params::parse(text).map_err(|_| BadChoice::Malformed)?;
    Ok(form.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
}

/// Whether a form was posted from the collector's own pages: another site cannot change a
/// visitor's choice (docs/privacy.md C3). Browsers say where a request comes from with
/// `Sec-Fetch-Site`, or else `Origin`; a client that sends neither is not a browser form.
pub(crate) fn same_origin(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        return matches!(site.as_bytes(), b"same-origin" | b"none");
    }
    match (headers.get(ORIGIN), headers.get(HOST)) {
        (Some(origin), Some(host)) => {
            let origin = origin.to_str().unwrap_or("");
            origin.split_once("://").is_some_and(|(_, authority)| authority.as_bytes() == host.as_bytes())
        }
        (Some(_), None) => false,
        (None, _) => true,
    }
}

/// Sets the opt-out cookie (`opt_out`) or clears it, and with it the opt-out cookies an earlier
/// Matomo install left here, so that opting back in works whichever page was used.
pub(crate) fn set_choice(headers: &mut HeaderMap, opt_out: bool, secure: bool) {
    let cookie = if opt_out {
        format!("{OPTOUT_COOKIE}=1; Path=/; Max-Age={COOKIE_MAX_AGE}; HttpOnly; SameSite=Lax")
    } else {
        format!("{OPTOUT_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax")
    };
    let cookie = if secure { format!("{cookie}; Secure") } else { cookie };
    headers.insert(SET_COOKIE, HeaderValue::from_str(&cookie).expect("cookie text is ASCII"));
    if !opt_out {
        for name in gate::MATOMO_OPTOUT_COOKIES {
            let clear = format!("{name}=; Path=/; Max-Age=0");
            headers.append(SET_COOKIE, HeaderValue::from_str(&clear).expect("cookie text is ASCII"));
        }
    }
}

/// `?lang=fr|en`, else the first of French or English in `Accept-Language`, else English.
pub(crate) fn language(request: &Request) -> Lang {
    language_of(request, "lang")
}

/// The language the query parameter `param` names (`fr`, `fr-FR`, `en`…; `auto` or anything
/// else: the browser's), else the first of French or English in `Accept-Language`, else English.
pub(crate) fn language_of(request: &Request, param: &str) -> Lang {
    let asked = request.uri().query().and_then(|q| Params::parse(q).ok()?.get(param).map(str::to_string));
    let from_browser = request.headers().get(ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()).unwrap_or("");
    for tag in asked.iter().map(String::as_str).chain(from_browser.split(',')) {
        match crate::enrich::language::primary_language(tag).as_str() {
            "fr" => return Lang::Fr,
            "en" => return Lang::En,
            _ => {}
        }
    }
    Lang::En
}

fn page(request: &Request, lang: Lang, facts: &SiteFacts) -> Response {
    let t = if lang == Lang::Fr { &FR } else { &EN };
    let opted_out = gate::has_optout_cookie(request.headers());
    let signal = gate::dnt(request.headers()) || gate::gpc(request.headers());
    let (state, action, button) = if opted_out {
        (t.opted_out.to_string(), "in", t.button_in)
    } else {
        (facts.counted_sentence(lang), "out", t.button_out)
    };
    let other = if lang == Lang::Fr { "en" } else { "fr" };
    let dnt = if signal { format!("<p class=\"signal\">{}</p>", t.dnt) } else { String::new() };
    let html = format!(
        r#"<!doctype html>
<html lang="{code}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font: 1rem/1.5 system-ui, sans-serif; max-width: 36rem; margin: 1.5rem auto; padding: 0 1rem; color: #1a1a1a; background: #fff; }}
h1 {{ font-size: 1.3rem; }}
p.state {{ padding: .75rem 1rem; border-left: .3rem solid {accent}; background: #f4f4f4; }}
button {{ font: inherit; padding: .6rem 1.1rem; border: 2px solid #1a1a1a; border-radius: .3rem; background: #fff; cursor: pointer; }}
button:focus-visible, a:focus-visible {{ outline: 3px solid #0b57d0; outline-offset: 2px; }}
.small {{ font-size: .9rem; color: #444; }}
</style>
</head>
<body>
<main>
<h1>{title}</h1>
<p class="state" id="state" role="status">{state}</p>
{dnt}<form method="post" action="optout">
<input type="hidden" name="action" value="{action}">
<input type="hidden" name="lang" value="{code}">
<button type="submit">{button}</button>
</form>
<p class="small">{explain}</p>
<p class="small"><a href="optout?lang={other}" lang="{other}">{other_language}</a></p>
</main>
</body>
</html>
"#,
        code = code(lang),
        title = t.title,
        accent = if opted_out { "#b3261e" } else { "#146c2e" },
        explain = t.explain,
        other_language = t.other_language,
    );
    let mut response = hyper::Response::new(Full::new(Bytes::from(html)));
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    crate::web::security::opt_out_policy(headers, facts, None);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, HeaderValue::from_static(v));
        }
        map
    }

    #[test]
    fn only_the_collectors_own_pages_may_post_a_choice() {
        assert!(same_origin(&headers(&[("sec-fetch-site", "same-origin")])));
        assert!(same_origin(&headers(&[("sec-fetch-site", "none")])));
        assert!(!same_origin(&headers(&[("sec-fetch-site", "cross-site"), ("origin", "http://stats.example.org")])));
        assert!(!same_origin(&headers(&[("sec-fetch-site", "same-site")])));
        assert!(same_origin(&headers(&[("origin", "https://stats.example.org"), ("host", "stats.example.org")])));
        assert!(!same_origin(&headers(&[("origin", "https://evil.example"), ("host", "stats.example.org")])));
        assert!(!same_origin(&headers(&[("origin", "null"), ("host", "stats.example.org")])));
        assert!(same_origin(&HeaderMap::new()), "not a browser form");
    }
}
