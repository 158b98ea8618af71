//! Matomo's opt-out, at Matomo's URLs, so a privacy page that embeds it keeps working when the
//! tracker's host changes (docs/privacy.md C3):
//!
//! - `index.php?module=CoreAdminHome&action=optOut`: the page a privacy page shows in an
//!   iframe. Matomo's parameters (`language`, `backgroundColor`, `fontColor`, `fontSize`,
//!   `fontFamily`, `showIntro`, `applyStyling`) and its visible result: an introduction and one
//!   checkbox, "checked" meaning counted. It works without JavaScript: the checkbox and a Save
//!   button post the form to a new window (as Matomo does, so the choice is stored as a
//!   first-party cookie on the collector's host even where browsers block cookies in frames).
//!   With JavaScript, ticking the box submits it. The choice is the collector's own opt-out
//!   cookie, which the gate honours.
//! - `index.php?module=CoreAdminHome&action=optOutJS`: the script that renders the opt-out into
//!   a `<div>` of the site's own page (`divId`, `language=auto`, `showIntro`,
//!   `useCookiesIfNoTracker`, `useCookiesTimeout`, `useSecureCookies`, `cookiePath`,
//!   `cookieDomain`). It records the choice where Matomo's tracker reads it, on the site's own
//!   domain: through the tracker (`optUserOut`, `forgetUserOptOut`) when `matomo.js` is on the
//!   page, else the `mtm_consent_removed` cookie directly. An opted-out `matomo.js` sends
//!   nothing at all.
//!
//! The texts are ours, in French and English; the script is ours too (it does what Matomo's
//! does, with the same parameters and cookies).

use std::fmt::Write as _;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use hyper::{Method, StatusCode};
use serde_json::json;

use crate::http::{Params, Request, Response, plain};
use crate::privacy::gate;
use crate::summary::{Lang, SiteFacts};
use crate::web::optout::{language_of, read_choice, set_choice};
use crate::web::security::SUBMIT_ON_CHANGE;

/// The visitor-facing texts of Matomo's opt-out, in our words.
struct Texts {
    counted_intro: &'static str,
    opted_out_intro: &'static str,
    not_opted_out: &'static str,
    opted_out: &'static str,
    save: &'static str,
    signal: &'static str,
    saved: &'static str,
    no_cookies: &'static str,
    not_https: &'static str,
    no_tracker: &'static str,
}

const EN: Texts = Texts {
    counted_intro: "You may choose not to have your visits to this website counted.",
    opted_out_intro: "Opt-out complete: visits from this browser to this website are not recorded. The choice is kept in a cookie; if you delete your cookies, you will need to opt out again.",
    not_opted_out: "Your visits are counted. Uncheck this box to opt out.",
    opted_out: "You are opted out. Check this box to opt back in.",
    save: "Save",
    signal: "Your browser sends a Do-Not-Track or Global Privacy Control signal, so your visits are not recorded in any case.",
    saved: "Your choice is saved.",
    no_cookies: "The opt-out needs cookies, and this browser does not accept them.",
    not_https: "This page is not served over HTTPS: the opt-out may not be kept.",
    no_tracker: "The opt-out could not find the audience-measurement tracker on this page.",
};

const FR: Texts = Texts {
    counted_intro: "Vous pouvez choisir que vos visites sur ce site ne soient pas comptées.",
    opted_out_intro: "Opposition enregistrée : les visites de ce navigateur sur ce site ne sont pas enregistrées. Ce choix est conservé dans un cookie ; si vous effacez vos cookies, il faudra vous opposer à nouveau.",
    not_opted_out: "Vos visites sont comptées. Décochez cette case pour vous y opposer.",
    opted_out: "Vous vous êtes opposé à la mesure d'audience. Cochez cette case pour l'accepter à nouveau.",
    save: "Enregistrer",
    signal: "Votre navigateur envoie un signal Do-Not-Track ou Global Privacy Control : vos visites ne sont de toute façon pas enregistrées.",
    saved: "Votre choix est enregistré.",
    no_cookies: "L'opposition a besoin des cookies, que ce navigateur refuse.",
    not_https: "Cette page n'est pas servie en HTTPS : l'opposition risque de ne pas être conservée.",
    no_tracker: "L'opposition n'a pas trouvé l'outil de mesure d'audience sur cette page.",
};

fn texts(lang: Lang) -> &'static Texts {
    if lang == Lang::Fr { &FR } else { &EN }
}

/// `index.php?module=CoreAdminHome&action=…` (the route table dispatches `index.php` by its
/// `module`): Matomo's opt-out page and script; any other action Matomo serves there does not
/// exist here.
pub fn handle(request: &Request, secure: bool, facts: &SiteFacts) -> Response {
    let query = request.uri().query().unwrap_or("");
    let Ok(params) = Params::parse(query) else { return plain(StatusCode::BAD_REQUEST, "malformed query string\n") };
    match params.get("action") {
        Some("optOut") => iframe(request, &params, secure, facts),
        Some("optOutJS") => script(request, &params),
        _ => plain(StatusCode::NOT_FOUND, "not found\n"),
    }
}

/// The styling parameters, checked as Matomo checks them (so they can go into CSS as they are).
fn styling(params: &Params<'_>) -> Result<String, String> {
    let mut css = String::new();
    for (key, property) in [("fontColor", "color"), ("backgroundColor", "background-color")] {
        if let Some(value) = params.non_empty(key) {
            if !(matches!(value.len(), 3 | 6) && value.bytes().all(|b| b.is_ascii_hexdigit())) {
                return Err(format!("{key}: {value:?} is not a colour such as ffffff or fff"));
            }
            let _ = write!(css, "{property}: #{value}; ");
        }
    }
    if let Some(size) = params.non_empty("fontSize") {
        let number = size.trim_end_matches(|c: char| c.is_ascii_alphabetic() || c == '%');
        let unit = &size[number.len()..];
        let numeric = !number.is_empty()
            && number.bytes().next().is_some_and(|b| b.is_ascii_digit())
            && number.bytes().all(|b| b.is_ascii_digit() || b == b'.')
            && number.matches('.').count() <= 1;
        if !numeric || !matches!(unit, "px" | "pt" | "em" | "rem" | "%") {
            return Err(format!("fontSize: {size:?} is not a size such as 15pt, 1.2em or 13px"));
        }
        let _ = write!(css, "font-size: {size}; ");
    }
    if let Some(family) = params.non_empty("fontFamily") {
        if !family.bytes().all(|b| b.is_ascii_alphanumeric() || b" -,'\"".contains(&b)) {
            return Err(format!("fontFamily: {family:?} is not a font list such as sans-serif or Monaco, monospace"));
        }
        let _ = write!(css, "font-family: {family}; ");
    }
    Ok(css)
}

/// The iframe page (`GET`), and the choice posted from it (`POST`, in a new window).
fn iframe(request: &Request, params: &Params<'_>, secure: bool, facts: &SiteFacts) -> Response {
    let lang = language_of(request, "language");
    let t = texts(lang);
    let apply_styling = params.get("applyStyling") != Some("0");
    let css = match styling(params) {
        Ok(css) if apply_styling => css,
        Ok(_) => String::new(),
        Err(message) => return plain(StatusCode::BAD_REQUEST, &format!("{message}\n")),
    };
    let show_intro = params.get("showIntro") != Some("0");
    let headers = request.headers().clone();
    let signal = gate::dnt(&headers) || gate::gpc(&headers);
    // The form posts back here with the same parameters.
    let mut action = String::from("index.php?module=CoreAdminHome&amp;action=optOut");
    for key in ["language", "backgroundColor", "fontColor", "fontSize", "fontFamily", "showIntro", "applyStyling"] {
        if let Some(value) = params.non_empty(key) {
            let encoded: String = form_urlencoded::byte_serialize(value.as_bytes()).collect();
            let _ = write!(action, "&amp;{key}={encoded}");
        }
    }
    // The choice posted (`Some(opt_out)`), if any; a ticked box means "count my visits", as in
    // Matomo's form.
    let posted = match *request.method() {
        Method::GET | Method::HEAD => None,
        Method::POST => match read_choice(request) {
            Ok(form) => Some(!form.contains_key("trackVisits")),
            Err(bad) => return bad.answer(),
        },
        _ => return plain(StatusCode::METHOD_NOT_ALLOWED, "use GET or POST\n"),
    };
    let (opted_out, saved) = match posted {
        Some(opt_out) => (opt_out, true),
        None => (gate::has_optout_cookie(&headers), false),
    };
    let mut html = String::new();
    let code = if lang == Lang::Fr { "fr" } else { "en" };
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"{code}\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"robots\" content=\"noindex\">\n\
         <style>body {{ margin: 0; padding: .5em; font-family: sans-serif; {css}}} label {{ cursor: pointer; }}</style>\n</head>\n<body>\n"
    );
    if signal {
        let _ = writeln!(html, "<p>{}</p>", t.signal);
    } else {
        if saved {
            let _ = writeln!(html, "<p id=\"saved\" role=\"status\">{}</p>", t.saved);
        }
        if show_intro {
            let intro = if opted_out {
                t.opted_out_intro.to_string()
            } else {
                format!("{} {}", t.counted_intro, facts.counted_sentence(lang))
            };
            let _ = writeln!(html, "<p id=\"intro\">{intro}</p>");
        }
        let _ = write!(
            html,
            "<form method=\"post\" action=\"{action}\" target=\"_blank\">\n\
             <input type=\"checkbox\" id=\"trackVisits\" name=\"trackVisits\"{checked} onchange=\"{SUBMIT_ON_CHANGE}\">\n\
             <label for=\"trackVisits\"><strong>{label}</strong></label>\n\
             <noscript><button type=\"submit\">{save}</button></noscript>\n</form>\n",
            checked = if opted_out { "" } else { " checked" },
            label = if opted_out { t.opted_out } else { t.not_opted_out },
            save = t.save,
        );
    }
    html.push_str("</body>\n</html>\n");
    let mut response = hyper::Response::new(Full::new(Bytes::from(html)));
    if let Some(opt_out) = posted {
        set_choice(response.headers_mut(), opt_out, secure);
    }
    crate::web::security::opt_out_policy(response.headers_mut(), facts, Some(SUBMIT_ON_CHANGE));
    with_headers(response, "text/html; charset=utf-8")
}

/// The script that renders the opt-out into the site's own page.
fn script(request: &Request, params: &Params<'_>) -> Response {
    let lang = language_of(request, "language");
    let t = texts(lang);
    let flag = |key: &str, default: bool| params.get(key).map_or(default, |v| v.trim() != "0");
    let number = |key: &str, default: u64| params.get(key).and_then(|v| v.trim().parse().ok()).unwrap_or(default);
    let css = match styling(params) {
        Ok(css) => css,
        Err(message) => return plain(StatusCode::BAD_REQUEST, &format!("{message}\n")),
    };
    // Every value reaches the script as JSON: text from the query cannot become code.
    let settings = json!({
        "divId": params.non_empty("divId").unwrap_or("matomo-opt-out"),
        "showIntro": flag("showIntro", true),
        "useCookiesIfNoTracker": flag("useCookiesIfNoTracker", true),
        "useCookiesTimeout": number("useCookiesTimeout", 10).min(60),
        "useSecureCookies": flag("useSecureCookies", true),
        "cookiePath": params.non_empty("cookiePath"),
        "cookieDomain": params.non_empty("cookieDomain"),
        "css": css,
        "text": {
            "countedIntro": t.counted_intro,
            "optedOutIntro": t.opted_out_intro,
            "notOptedOut": t.not_opted_out,
            "optedOut": t.opted_out,
            "noCookies": t.no_cookies,
            "notHttps": t.not_https,
            "noTracker": t.no_tracker,
        },
    });
    let body = OPT_OUT_JS.replace("SETTINGS", &settings.to_string().replace("</", "<\\/"));
    let mut response =
        with_headers(hyper::Response::new(Full::new(Bytes::from(body))), "application/javascript; charset=utf-8");
    response.headers_mut().insert("access-control-allow-origin", HeaderValue::from_static("*"));
    response
}

fn with_headers(mut response: Response, content_type: &'static str) -> Response {
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The opt-out script; `SETTINGS` is replaced by the request's settings as JSON.
const OPT_OUT_JS: &str = r#"(function () {
  var settings = SETTINGS, t = settings.text, tries = 0;
  var REMOVED = 'mtm_consent_removed', GIVEN = 'mtm_consent';
  function cookie(name) {
    var match = new RegExp('(^|;)[ ]*' + name + '=([^;]*)').exec(document.cookie);
    return match ? decodeURIComponent(match[2]) : '';
  }
  function setCookie(name, value, ms) {
    var expires = new Date(new Date().getTime() + ms);
    document.cookie = name + '=' + encodeURIComponent(value) + ';expires=' + expires.toUTCString() +
      ';path=' + (settings.cookiePath || '/') + (settings.cookieDomain ? ';domain=' + settings.cookieDomain : '') +
      (settings.useSecureCookies && location.protocol === 'https:' ? ';secure' : '') + ';SameSite=Lax';
  }
  var direct = {
    optedOut: function (done) { done(!!cookie(REMOVED)); },
    out: function () { setCookie(GIVEN, '', -1); setCookie(REMOVED, new Date().getTime(), 946080000000); },
    back: function () { setCookie(REMOVED, '', -1); }
  };
  var tracker = {
    optedOut: function (done) { window._paq.push([function () { done(this.isUserOptedOut()); }]); },
    out: function () { window._paq.push(['optUserOut']); },
    back: function () { window._paq.push(['forgetUserOptOut']); }
  };
  function error(div, text) {
    div.innerHTML = '';
    var p = document.createElement('p');
    p.style.cssText = 'color: red; font-weight: bold;';
    p.textContent = text;
    div.appendChild(p);
  }
  function show(div, way, optedOut) {
    if (!navigator.cookieEnabled) { error(div, t.noCookies); return; }
    div.innerHTML = '';
    if (location.protocol !== 'https:') {
      var warning = document.createElement('p');
      warning.style.cssText = 'color: red; font-weight: bold;';
      warning.textContent = t.notHttps;
      div.appendChild(warning);
    }
    if (settings.showIntro) {
      var intro = document.createElement('p');
      intro.textContent = optedOut ? t.optedOutIntro : t.countedIntro;
      div.appendChild(intro);
    }
    var box = document.createElement('input');
    box.type = 'checkbox';
    box.id = settings.divId + '-trackVisits';
    box.checked = !optedOut;
    box.onclick = function () {
      if (box.checked) { way.back(); } else { way.out(); }
      show(div, way, !box.checked);
    };
    var label = document.createElement('label');
    label.htmlFor = box.id;
    var strong = document.createElement('strong');
    strong.textContent = optedOut ? t.optedOut : t.notOptedOut;
    label.appendChild(strong);
    div.appendChild(box);
    div.appendChild(label);
  }
  function start() {
    var div = document.getElementById(settings.divId);
    if (!div) { console.log('opt-out: no element with id "' + settings.divId + '"'); return; }
    div.style.cssText += settings.css;
    (function wait() {
      if (typeof window._paq !== 'undefined') {
        tracker.optedOut(function (optedOut) { show(div, tracker, optedOut); });
      } else if (tries++ < settings.useCookiesTimeout * 4) {
        setTimeout(wait, 250);
      } else if (settings.useCookiesIfNoTracker) {
        direct.optedOut(function (optedOut) { show(div, direct, optedOut); });
      } else {
        error(div, t.noTracker);
      }
    })();
  }
  if (document.readyState === 'loading') { document.addEventListener('DOMContentLoaded', start); } else { start(); }
})();
"#;

#[cfg(test)]
mod tests {
    use super::*;

    fn css(query: &str) -> Result<String, String> {
        styling(&Params::parse(query).unwrap())
    }

    #[test]
    fn styling_is_checked_as_matomo_checks_it() {
        assert_eq!(
            css("backgroundColor=fff&fontColor=1a1a1a&fontSize=13px&fontFamily=Monaco,%20monospace").unwrap(),
            "color: #1a1a1a; background-color: #fff; font-size: 13px; font-family: Monaco, monospace; "
        );
        assert_eq!(css("fontSize=1.2em").unwrap(), "font-size: 1.2em; ");
        assert_eq!(css("").unwrap(), "");
        for bad in [
            "fontColor=red",
            "backgroundColor=ffff",
            "fontSize=12",
            "fontSize=12vh",
            "fontSize=1..2em",
            "fontFamily=x%3B%7D%3C%2Fstyle%3E",
        ] {
            assert!(css(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_script_carries_its_settings_as_json() {
        assert!(OPT_OUT_JS.contains("var settings = SETTINGS,"));
        let settings = json!({"divId": "x</script><script>alert(1)"}).to_string().replace("</", "<\\/");
        assert!(!settings.contains("</script>"));
    }
}
