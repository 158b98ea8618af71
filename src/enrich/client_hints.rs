//! Client hints → the browser, OS and device class the user agent no longer tells.
//!
//! Chromium freezes its user agent: Windows 11 says `Windows NT 10.0`, every Android says
//! `Android 10; K`, macOS says `10_15_7`. The real values come as client hints, in two forms:
//! - Matomo's tracker sends `uadata`, the JSON of `navigator.userAgentData.getHighEntropyValues`
//!   (`platform`, `platformVersion`, `mobile`, `model`, `fullVersionList` or `brands`);
//! - Chromium sends the `Sec-CH-UA`, `Sec-CH-UA-Mobile` and `Sec-CH-UA-Platform` headers with
//!   every secure request, and `Sec-CH-UA-Platform-Version` / `Sec-CH-UA-Full-Version-List`
//!   when a page delegates them.
//!
//! Hints only refine what the user agent said about the same platform (a Windows user agent
//! with Windows hints becomes Windows 11); they never contradict it, so made-up hints cannot
//! turn one browser into another family. Nothing of the hints is stored but the refined
//! browser, OS version and device class (the model is never read).

use hyper::HeaderMap;
use serde::Deserialize;

use super::names;
use super::user_agent::UaVerdict;

/// Longest `uadata` parsed (real ones are under 400 bytes).
const MAX_UADATA_BYTES: usize = 2048;
/// Most brands read from a list (real lists have three).
const MAX_BRANDS: usize = 8;

/// The hints of one hit that refine a user-agent verdict.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientHints {
    platform: Option<String>,
    platform_version: Option<String>,
    mobile: Option<bool>,
    /// The browser's brand and full version, GREASE brands and plain "Chromium" left out when
    /// a more specific one is present.
    brand: Option<(String, String)>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UaData {
    platform: Option<String>,
    platform_version: Option<String>,
    mobile: Option<bool>,
    full_version_list: Option<Vec<Brand>>,
    brands: Option<Vec<Brand>>,
}

#[derive(Deserialize)]
struct Brand {
    brand: String,
    version: String,
}

impl ClientHints {
    /// Matomo's `uadata` parameter; `None` when it is too long or not its JSON.
    pub fn from_uadata(json: &str) -> Option<ClientHints> {
        if json.len() > MAX_UADATA_BYTES {
            return None;
        }
        let data: UaData = serde_json::from_str(json).ok()?;
        let brands = data.full_version_list.or(data.brands).unwrap_or_default();
        let brands = brands.iter().take(MAX_BRANDS).map(|b| (b.brand.as_str(), b.version.as_str()));
        Some(ClientHints {
            platform: data.platform.filter(|p| !p.is_empty()),
            platform_version: data.platform_version.filter(|v| !v.is_empty()),
            mobile: data.mobile,
            brand: main_brand(brands),
        })
    }

    /// The `Sec-CH-UA*` request headers; `None` when there are none.
    pub fn from_headers(headers: &HeaderMap) -> Option<ClientHints> {
        let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let platform = get("sec-ch-ua-platform").map(unquote).filter(|p| !p.is_empty());
        let brands = get("sec-ch-ua-full-version-list").or_else(|| get("sec-ch-ua"));
        let mobile = get("sec-ch-ua-mobile").and_then(|m| match m.trim() {
            "?1" => Some(true),
            "?0" => Some(false),
            _ => None,
        });
        if platform.is_none() && brands.is_none() && mobile.is_none() {
            return None;
        }
        Some(ClientHints {
            platform: platform.map(str::to_owned),
            platform_version: get("sec-ch-ua-platform-version")
                .map(unquote)
                .filter(|v| !v.is_empty())
                .map(str::to_owned),
            mobile,
            brand: brands.and_then(|list| main_brand(brand_list(list))),
        })
    }

    /// Fills what `self` lacks from `other` (the `uadata` a tracker sent comes first, the
    /// headers after).
    pub fn or(self, other: Option<ClientHints>) -> ClientHints {
        let Some(other) = other else { return self };
        ClientHints {
            platform: self.platform.or(other.platform),
            platform_version: self.platform_version.or(other.platform_version),
            mobile: self.mobile.or(other.mobile),
            brand: self.brand.or(other.brand),
        }
    }

    /// `verdict` refined by the hints, or `None` when they change nothing.
    pub fn refine(&self, verdict: &UaVerdict) -> Option<UaVerdict> {
        let mut refined = verdict.clone();
        if let Some(platform) = self.platform.as_deref() {
            let (os, version) = os_of(platform, self.platform_version.as_deref());
            // Only for the platform the user agent itself names (or none).
            if let Some(os) = os
                && (verdict.os.is_empty() || same_os(&verdict.os, os))
            {
                if verdict.os.is_empty() {
                    refined.os = os.to_string();
                }
                if let Some(version) = version {
                    refined.os_version = version;
                }
                if os == "Android" && verdict.device != "other" {
                    match self.mobile {
                        Some(true) => refined.device = "mobile",
                        Some(false) => refined.device = "tablet",
                        None => {}
                    }
                }
            }
        }
        if self.mobile == Some(true) && verdict.device == "desktop" {
            refined.device = "mobile";
        }
        // A product built on Chromium names itself (Edge, Brave, Opera…) only in the hints.
        // Chrome and Chromium keep the user agent's name and version (Chrome Mobile, WebView),
        // as browsers without hints are named from theirs.
        if let Some((brand, version)) = &self.brand
            && brand != "Chrome"
            && brand != "Chromium"
            && is_chromium_based(&verdict.browser)
            // A brand is the browser's own text: only a name of the closed list is kept.
            && !names::browser(brand).is_empty()
        {
            let major = version.split('.').next().unwrap_or("");
            refined.browser = brand.clone();
            refined.browser_version = if !major.is_empty() && major.bytes().all(|b| b.is_ascii_digit()) {
                major.to_string()
            } else {
                String::new()
            };
        }
        (refined != *verdict).then_some(refined)
    }
}

/// The OS name (as the user-agent parser names it) and version a platform hint gives.
fn os_of(platform: &str, version: Option<&str>) -> (Option<&'static str>, Option<String>) {
    let mut parts = version.unwrap_or("").split('.').map(|p| p.parse::<u32>().ok());
    let (major, minor) = (parts.next().flatten(), parts.next().flatten());
    match platform {
        // Microsoft's mapping: 0.1/0.2/0.3 are 7/8/8.1, 1 to 10 are Windows 10, 13 and up 11.
        "Windows" => {
            let name = match (major, minor) {
                (Some(0), Some(1)) => Some("7"),
                (Some(0), Some(2)) => Some("8"),
                (Some(0), Some(3)) => Some("8.1"),
                (Some(1..=10), _) => Some("10"),
                (Some(13..=99), _) => Some("11"),
                _ => None,
            };
            (Some("Windows"), name.map(str::to_owned))
        }
        "Android" => (Some("Android"), major.filter(|m| (1..=99).contains(m)).map(|m| m.to_string())),
        "macOS" => (Some("Mac OS X"), major.filter(|m| (10..=99).contains(m)).map(|m| m.to_string())),
        "Chrome OS" | "Chromium OS" => (Some("Chrome OS"), None),
        _ => (None, None),
    }
}

fn same_os(parsed: &str, hinted: &str) -> bool {
    parsed == hinted || (hinted == "Mac OS X" && parsed == "Mac OS")
}

/// Browsers whose hints are their own (Firefox and Safari send none).
fn is_chromium_based(browser: &str) -> bool {
    browser.is_empty()
        || browser.starts_with("Chrome")
        || matches!(
            browser,
            "Chromium"
                | "Edge"
                | "Edge Mobile"
                | "Opera"
                | "Opera Mobile"
                | "Brave"
                | "Samsung Internet"
                | "Vivaldi"
                | "Yandex Browser"
        )
}

/// The browser a brand list names: not a GREASE brand ("Not A(Brand"), and not plain
/// "Chromium" when a product built on it is listed.
/// Allocates only the brand it returns: it runs on every hit from a Chromium browser.
fn main_brand<'a>(brands: impl Iterator<Item = (&'a str, &'a str)>) -> Option<(String, String)> {
    let has =
        |text: &str, word: &str| text.as_bytes().windows(word.len()).any(|w| w.eq_ignore_ascii_case(word.as_bytes()));
    let mut chromium = None;
    let mut pick = None;
    for (brand, version) in brands {
        if brand.is_empty() || (has(brand, "not") && has(brand, "brand")) {
            continue;
        }
        if brand != "Chromium" {
            pick = Some((brand, version));
            break;
        }
        chromium = chromium.or(Some((brand, version)));
    }
    let pick = pick.or(chromium)?;
    let name = match pick.0 {
        "Google Chrome" => "Chrome",
        "Microsoft Edge" => "Edge",
        "Opera" | "Opera GX" => "Opera",
        "Yandex" | "YaBrowser" => "Yandex Browser",
        other => other,
    };
    Some((name.chars().take(64).collect(), pick.1.chars().take(32).collect()))
}

/// `"Brand";v="1.2", "Other";v="3"` → (brand, version) pairs (a structured-field list).
fn brand_list(list: &str) -> impl Iterator<Item = (&str, &str)> + '_ {
    split_outside_quotes(list, ',').take(MAX_BRANDS).filter_map(|item| {
        let mut parts = split_outside_quotes(item, ';');
        let brand = unquote(parts.next()?);
        let version = parts.find_map(|p| p.trim().strip_prefix("v=")).map(unquote).unwrap_or("");
        Some((brand, version))
    })
}

fn split_outside_quotes(s: &str, separator: char) -> impl Iterator<Item = &str> {
    let mut quoted = false;
    s.split(move |c: char| {
        if c == '"' {
            quoted = !quoted;
        }
        c == separator && !quoted
    })
}

fn unquote(s: &str) -> &str {
    let s = s.trim();
    s.strip_prefix('"').and_then(|s| s.strip_suffix('"')).unwrap_or(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(browser: &str, version: &str, os: &str, os_version: &str, device: &'static str) -> UaVerdict {
        UaVerdict {
            browser: browser.into(),
            browser_version: version.into(),
            os: os.into(),
            os_version: os_version.into(),
            device,
            bot: None,
        }
    }

    /// What Chromium 131 on Windows 11 gives matomo.js (`getHighEntropyValues`).
    const WINDOWS_11: &str = r#"{"fullVersionList":[{"brand":"Google Chrome","version":"131.0.6778.85"},{"brand":"Chromium","version":"131.0.6778.85"},{"brand":"Not_A Brand","version":"24.0.0.0"}],"mobile":false,"model":"","platform":"Windows","platformVersion":"15.0.0"}"#;

    #[test]
    fn windows_11_and_android_14_behind_reduced_user_agents() {
        let windows = verdict("Chrome", "131", "Windows", "10", "desktop");
        let refined = ClientHints::from_uadata(WINDOWS_11).unwrap().refine(&windows).unwrap();
        assert_eq!(refined, verdict("Chrome", "131", "Windows", "11", "desktop"));
        let android = verdict("Chrome Mobile", "131", "Android", "10", "mobile");
        let hints = r#"{"brands":[{"brand":"Chromium","version":"131"},{"brand":"Google Chrome","version":"131"}],"mobile":true,"model":"Pixel 8","platform":"Android","platformVersion":"14.0.0"}"#;
        let refined = ClientHints::from_uadata(hints).unwrap().refine(&android).unwrap();
        assert_eq!(refined, verdict("Chrome Mobile", "131", "Android", "14", "mobile"));
        // An Android tablet: not mobile.
        let tablet = r#"{"mobile":false,"platform":"Android","platformVersion":"13"}"#;
        assert_eq!(ClientHints::from_uadata(tablet).unwrap().refine(&android).unwrap().device, "tablet");
    }

    #[test]
    fn windows_versions_follow_microsofts_mapping() {
        for (version, name) in [("0.1.0", "7"), ("0.3.0", "8.1"), ("10.0.0", "10"), ("13.0.0", "11"), ("19.0.0", "11")]
        {
            assert_eq!(os_of("Windows", Some(version)).1.as_deref(), Some(name), "{version}");
        }
        assert_eq!(os_of("Windows", Some("11.0.0")).1, None, "11 and 12 are not used");
        assert_eq!(os_of("Windows", None), (Some("Windows"), None));
    }

    #[test]
    fn headers_and_their_lists() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "sec-ch-ua",
            r#""Microsoft Edge";v="131", "Chromium";v="131", "Not_A Brand";v="24""#.parse().unwrap(),
        );
        headers.insert("sec-ch-ua-mobile", "?0".parse().unwrap());
        headers.insert("sec-ch-ua-platform", r#""Windows""#.parse().unwrap());
        let hints = ClientHints::from_headers(&headers).unwrap();
        assert_eq!(hints.brand, Some(("Edge".into(), "131".into())));
        // Without the platform version, Windows stays as the user agent says; the brand is Edge.
        let chrome_ua = verdict("Chrome", "131", "Windows", "10", "desktop");
        assert_eq!(hints.refine(&chrome_ua).unwrap(), verdict("Edge", "131", "Windows", "10", "desktop"));
        headers.insert("sec-ch-ua-platform-version", r#""15.0.0""#.parse().unwrap());
        let hints = ClientHints::from_headers(&headers).unwrap();
        assert_eq!(hints.refine(&chrome_ua).unwrap().os_version, "11");
        assert_eq!(ClientHints::from_headers(&HeaderMap::new()), None);
    }

    /// A brand is the browser's own text (docs/privacy.md D3): a name off the closed list is
    /// never stored as the browser.
    #[test]
    fn a_made_up_brand_is_not_a_browser() {
        let mut headers = HeaderMap::new();
        headers.insert("sec-ch-ua", r#""Jean Dupont 0612345678";v="131", "Chromium";v="131""#.parse().unwrap());
        let hints = ClientHints::from_headers(&headers).unwrap();
        let chrome_ua = verdict("Chrome", "131", "Windows", "10", "desktop");
        assert_eq!(hints.refine(&chrome_ua), None, "the user agent's verdict stands");
    }

    #[test]
    fn hints_never_contradict_the_user_agent() {
        let hints = ClientHints::from_uadata(WINDOWS_11).unwrap();
        // Firefox on Linux, with made-up Windows/Chrome hints: unchanged.
        assert_eq!(hints.refine(&verdict("Firefox", "133", "Linux", "", "desktop")), None);
        // Nothing new: no copy.
        let plain =
            ClientHints::from_uadata(r#"{"brands":[{"brand":"Google Chrome","version":"131"}],"platform":"Linux"}"#);
        assert_eq!(plain.unwrap().refine(&verdict("Chrome", "131", "Linux", "", "desktop")), None);
        // Not JSON, or too long: no hints.
        assert_eq!(ClientHints::from_uadata("{"), None);
        assert_eq!(ClientHints::from_uadata(&format!("{{\"platform\":\"{}\"}}", "x".repeat(4096))), None);
    }

    #[test]
    fn grease_brands_are_skipped() {
        let list = r#""Not?A_Brand";v="8.0.0.0", "Chromium";v="120.0.6099.109", "Brave";v="120.0.0.0""#;
        assert_eq!(main_brand(brand_list(list)), Some(("Brave".into(), "120.0.0.0".into())));
        assert_eq!(main_brand(brand_list(r#""Chromium";v="120""#)), Some(("Chromium".into(), "120".into())));
        // Chromium's own brand does not rename a Chrome user agent.
        let chromium =
            ClientHints::from_uadata(r#"{"brands":[{"brand":"Chromium","version":"142"}],"platform":"Linux"}"#);
        assert_eq!(chromium.unwrap().refine(&verdict("Chrome", "131", "Linux", "", "desktop")), None);
    }
}
