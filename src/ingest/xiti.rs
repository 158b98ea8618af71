//! AT Internet's classic hits (`GET /hit.xiti?s=SITE&p=…`), as the legacy SmartTag and AT
//! Internet's app SDKs send them (the format read from the SDKs' public sources:
//! `atinternet-android-sdk`'s `Hit.HitParam` and `Gesture.Action`) → one protocol-neutral
//! [`Hit`] (no enrichment here: the [`crate::pipeline`] does that).
//!
//! A classic hit names its page by a label, `p=chapter1::chapter2::chapter3::name`, not by a
//! URL: the page is stored as the path of that label on the site's first domain
//! (`/chapter1/chapter2/name`), its chapters as the properties `page_chapter1..3`, as for Piano
//! Analytics' events. A click (`type=click`, `click=` `A` action, `N` navigation, `S` exit, `T`
//! download) is an event, an outlink or a download named by its own label, on the page
//! `pclick` names; a hit with `mc=` is a site search. `ref` is the referrer, `r` the screen
//! (its class), `lng` the language. The privacy mode `vm` comes first, as Piano's: `optout`,
//! `extended-optout` and `no-consent` store nothing; `exempt` reads no language and no search.
//! `idclient` is never stored (a cookie-mode site counts with it, as with Matomo's `_id`).

use crate::enrich::RawPage;
use crate::event::EventType;
use crate::http::Params;
use crate::ingest::matomo::screen_class;
use crate::ingest::{MAX_TITLE_CHARS, bounded, piano};
use crate::pipeline::{Action, Hit};
use crate::sites::Sites;
use crate::telemetry::metrics::DeclineReason;

/// The longest label part (chapter or name) kept, characters; at most three chapters.
const MAX_LABEL_CHARS: usize = 255;

/// A hit's page and click labels, split into chapters and a name.
struct Label<'p> {
    chapters: Vec<&'p str>,
    name: &'p str,
}

impl<'p> Label<'p> {
    fn of(text: &'p str) -> Label<'p> {
        let mut parts: Vec<&str> = text.split("::").map(str::trim).filter(|p| !p.is_empty()).collect();
        let name = parts.pop().unwrap_or("");
        parts.truncate(3);
        Label { chapters: parts, name }
    }

    /// The label as a path: `/chapter1/chapter2/name`.
    fn path(&self) -> String {
        let parts = self.chapters.iter().chain(std::iter::once(&self.name)).filter(|p| !p.is_empty());
        let parts: Vec<String> = parts.map(|p| bounded(p, MAX_LABEL_CHARS)).collect();
        format!("/{}", parts.join("/"))
    }
}

/// The page URLs the hits of a request are stored under, made before the pipeline borrows them.
pub struct Decoded {
    url: String,
}

/// The page URL of a hit for the site with Piano number `s` (`None` when no site has it).
pub(crate) fn decode(params: &Params<'_>, sites: &Sites) -> Option<Decoded> {
    let site = params.get("s").and_then(|s| s.trim().parse::<u32>().ok()).and_then(|n| sites.by_piano_id(n))?;
    let clicked = params.get("type") == Some("click");
    let page = if clicked { params.get("pclick").unwrap_or("") } else { params.get("p").unwrap_or("") };
    let host = site.domains.first().map(String::as_str).unwrap_or("");
    let mut url = url::Url::parse(&format!("https://{host}/")).ok()?;
    url.set_path(&Label::of(page).path());
    Some(Decoded { url: url.into() })
}

/// The hit of one request (received at `now`), or the reason it is not stored.
pub fn interpret<'a>(
    params: &'a Params<'a>,
    decoded: Option<&'a Decoded>,
    sites: &'a Sites,
    now: u64,
) -> Result<Hit<'a>, DeclineReason> {
    let mode = params.get("vm").unwrap_or("optin");
    if piano::refuses(mode) || params.get("idclient") == Some("OPT-OUT") {
        return Err(DeclineReason::OptOut);
    }
    let exempt = mode == "exempt";
    let site = params.get("s").and_then(|s| s.trim().parse::<u32>().ok()).and_then(|n| sites.by_piano_id(n));
    let (site, decoded) = site.zip(decoded).ok_or(DeclineReason::UnknownSite)?;
    let mut action = Action { screen_class: params.get("r").map_or("", screen_class), ..Action::default() };
    let label = Label::of(params.get("p").unwrap_or(""));
    let clicked = params.get("type") == Some("click");
    if clicked {
        let kind = params.get("click").or(params.get("clic")).unwrap_or("A");
        match kind {
            "S" | "T" => {
                action.kind = if kind == "S" { EventType::Outlink } else { EventType::Download };
                action.name = if kind == "S" { "click.exit" } else { "click.download" }.to_string();
                // A link's label is its URL when the site tags it so; else the label on the site.
                let target = match url::Url::parse(label.name) {
                    Ok(url) if matches!(url.scheme(), "http" | "https") => url.to_string(),
                    _ => url::Url::parse(&decoded.url)
                        .and_then(|u| u.join(&label.path()))
                        .map(String::from)
                        .unwrap_or_default(),
                };
                action.link_target = Some(target);
            }
            _ => {
                action.kind = EventType::Event;
                action.category = if kind == "N" { "click.navigation" } else { "click.action" }.to_string();
                action.name = bounded(label.name, MAX_LABEL_CHARS);
                for (i, chapter) in label.chapters.iter().enumerate() {
                    action.prop_keys.push(format!("click_chapter{}", i + 1));
                    action.prop_values.push(bounded(chapter, MAX_LABEL_CHARS));
                }
            }
        }
    } else if let Some(keyword) = params.non_empty("mc") {
        if exempt {
            return Err(DeclineReason::OptOut);
        }
        action.kind = EventType::Search;
        action.search_keyword = bounded(keyword, 100).to_lowercase();
    } else {
        action.kind = EventType::Pageview;
        action.title = bounded(label.name, MAX_TITLE_CHARS);
        for (i, chapter) in label.chapters.iter().enumerate() {
            action.prop_keys.push(format!("page_chapter{}", i + 1));
            action.prop_values.push(bounded(chapter, MAX_LABEL_CHARS));
        }
    }
    let visitor = piano::visitor(site, params.non_empty("idclient"));
    // Only its host is kept (the SmartTag writes its `&` as `$`, which changes no host).
    let referrer = params.non_empty("ref");
    Ok(Hit {
        site,
        time: now,
        page: RawPage { url: &decoded.url, referrer, ..RawPage::default() },
        action,
        client_ip: None,
        visitor,
        user_agent: None,
        ua_data: None,
        // Exempt: no language, not even `Accept-Language`.
        language: if exempt { Some("") } else { params.non_empty("lng") },
        server_side: false,
        new_visit: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Event;
    use crate::pipeline::tests::{Harness, browser, single};

    /// What AT Internet's Android SDK puts on every hit (`Core.addContextVariables`), with the
    /// privacy fields of `Privacy`, for Piano site 123456 (`example.org`).
    const CONTEXT: &str = "s=123456&vtag=2.23.0&ptag=android&lng=fr-FR&mfmd=%5Bandroid%5D-%5Bsamsung%20SM-G991B%5D&manufacturer=samsung&model=SM-G991B&os=%5Bandroid%5D-%5B13%5D&apid=fr.gouv.demarches&apvr=%5B4.2%5D&hl=14x5x2&r=1080x2400&dg=6.20&car=Orange&cn=wifi&ts=1733330000000&dls=Google%20Play&idclient=3f2c1a9e-8b7d-4c6e-9f0a-1b2c3d4e5f60&vm=optin&vc=1&na=1";

    fn run(hit: &str) -> Result<Event, DeclineReason> {
        single(Harness::new().xiti(&format!("{CONTEXT}&{hit}"), &browser(&[])))
    }

    #[test]
    fn a_screen_is_a_page_view_under_its_label() {
        let row = run("p=services::etat-civil::accueil&s2=3&ref=https://www.qwant.com/?q=x$y").unwrap();
        assert_eq!(
            (row.event_type, row.url_host.as_str(), row.url_path.as_str()),
            (EventType::Pageview, "example.org", "/services/etat-civil/accueil")
        );
        assert_eq!(row.page_title, "accueil");
        assert_eq!(row.prop_keys, vec!["page_chapter1".to_string(), "page_chapter2".to_string()]);
        assert_eq!(row.prop_values, vec!["services".to_string(), "etat-civil".to_string()]);
        assert_eq!(
            (row.language.as_str(), row.referrer_host.as_str(), row.channel.as_str()),
            ("fr", "www.qwant.com", "search")
        );
    }

    #[test]
    fn gestures_and_searches_are_mapped() {
        // `Gesture.Action`: A touch, N navigate, S exit, T download (`type=click`, `click=`).
        let exit =
            run("type=click&click=S&p=https://www.service-public.fr/particuliers&pclick=services::accueil").unwrap();
        assert_eq!(
            (exit.event_type, exit.link_url.as_str(), exit.url_path.as_str()),
            (EventType::Outlink, "www.service-public.fr/particuliers", "/services/accueil")
        );
        let download = run("type=click&click=T&p=guides::guide.pdf").unwrap();
        assert_eq!(
            (download.event_type, download.link_url.as_str()),
            (EventType::Download, "example.org/guides/guide.pdf")
        );
        let touch = run("type=click&click=A&p=outils::Imprimer&pclick=accueil").unwrap();
        assert_eq!(
            (touch.event_type, touch.event_category.as_str(), touch.event_name.as_str()),
            (EventType::Event, "click.action", "Imprimer")
        );
        assert_eq!(touch.prop_values, vec!["outils".to_string()]);
        let navigate = run("type=click&click=N&p=menu").unwrap();
        assert_eq!(navigate.event_category, "click.navigation");
        // `InternalSearch`: the keyword `mc`, the results page `np`.
        let search = run("p=recherche&mc=Horaires%20mairie&np=1").unwrap();
        assert_eq!((search.event_type, search.search_keyword.as_str()), (EventType::Search, "horaires mairie"));
    }

    #[test]
    fn privacy_modes_and_unknown_sites() {
        for refused in ["vm=optout", "vm=no-consent", "idclient=OPT-OUT"] {
            let query = format!(
                "{}&p=accueil",
                CONTEXT.replace("vm=optin", "").replace("idclient=3f2c1a9e-8b7d-4c6e-9f0a-1b2c3d4e5f60", refused)
            );
            assert_eq!(single(Harness::new().xiti(&query, &browser(&[]))), Err(DeclineReason::OptOut), "{refused}");
        }
        let exempt = CONTEXT.replace("vm=optin", "vm=exempt");
        let row = single(Harness::new().xiti(&format!("{exempt}&p=accueil"), &browser(&[("accept-language", "fr")])))
            .unwrap();
        assert_eq!(row.language, "", "exempt reads no language");
        assert_eq!(
            single(Harness::new().xiti(&format!("{exempt}&p=r&mc=x"), &browser(&[]))),
            Err(DeclineReason::OptOut)
        );
        let elsewhere = CONTEXT.replace("s=123456", "s=999");
        assert_eq!(
            single(Harness::new().xiti(&format!("{elsewhere}&p=a"), &browser(&[]))),
            Err(DeclineReason::UnknownSite)
        );
    }
}
