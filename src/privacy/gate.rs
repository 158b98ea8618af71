//! The gate (docs/privacy.md C1–C4): before any other work on a tracking request, decide whether the
//! visitor objected. Order: the opt-out flag, then `DNT`, then `Sec-GPC`.
//!
//! A declined request is answered exactly like a counted one, stores nothing, sets no cookie and
//! logs nothing; the caller only moves a process-wide counter.

use hyper::HeaderMap;

use crate::config::PrivacyConfig;
use crate::http::cookies::cookies;
use crate::telemetry::metrics::DeclineReason;

const SEC_GPC: hyper::header::HeaderName = hyper::header::HeaderName::from_static("sec-gpc");

/// Name of the first-party opt-out cookie on the collector's host.
pub(crate) const OPTOUT_COOKIE: &str = "mesure_optout";

/// Why the visitor's hit must not be recorded, if they objected.
pub fn objection(headers: &HeaderMap, privacy: &PrivacyConfig) -> Option<DeclineReason> {
    if has_optout_cookie(headers) {
        return Some(DeclineReason::OptOut);
    }
    if privacy.honor_dnt && dnt(headers) {
        return Some(DeclineReason::Dnt);
    }
    if privacy.honor_gpc && gpc(headers) {
        return Some(DeclineReason::Gpc);
    }
    None
}

/// `DNT` whose value starts with `1` (the W3C TPE allows extensions after the `1`).
pub fn dnt(headers: &HeaderMap) -> bool {
    headers.get_all(hyper::header::DNT).iter().any(|v| v.as_bytes().trim_ascii_start().starts_with(b"1"))
}

/// `Sec-GPC: 1`, exactly (the GPC specification: any other value is to be ignored).
pub fn gpc(headers: &HeaderMap) -> bool {
    headers.get_all(SEC_GPC).iter().any(|v| v.as_bytes().trim_ascii() == b"1")
}

/// The cookies earlier Matomo opt-outs left on the tracker's host: Matomo treats their mere
/// presence as an objection, and so do we, so a visitor who opted out there stays opted out.
pub(crate) const MATOMO_OPTOUT_COOKIES: [&str; 2] = ["piwik_ignore", "matomo_ignore"];

/// Whether the request carries `mesure_optout=1`, or one of Matomo's opt-out cookies.
pub(crate) fn has_optout_cookie(headers: &HeaderMap) -> bool {
    cookies(headers)
        .any(|(name, value)| (name == OPTOUT_COOKIE && value == "1") || MATOMO_OPTOUT_COOKIES.contains(&name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PrivacyProfile;
    use hyper::header::HeaderValue;

    fn with(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(*k, HeaderValue::from_static(v));
        }
        map
    }

    const ON: PrivacyConfig =
        PrivacyConfig { profile: PrivacyProfile::Strict, honor_dnt: true, honor_gpc: true, max_live_visits: 1000 };

    #[test]
    fn dnt_values() {
        for (value, declined) in [
            ("1", true),
            ("1 ", true),
            (" 1", true),
            ("1xyz", true),
            ("0", false),
            ("", false),
            ("yes", false),
            ("null", false),
        ] {
            let headers = with(&[("dnt", Box::leak(value.to_string().into_boxed_str()))]);
            assert_eq!(objection(&headers, &ON), declined.then_some(DeclineReason::Dnt), "DNT: {value:?}");
        }
        assert_eq!(objection(&HeaderMap::new(), &ON), None);
    }

    #[test]
    fn gpc_values() {
        for (value, declined) in [("1", true), (" 1 ", true), ("0", false), ("true", false), ("11", false), ("", false)]
        {
            let headers = with(&[("sec-gpc", Box::leak(value.to_string().into_boxed_str()))]);
            assert_eq!(objection(&headers, &ON), declined.then_some(DeclineReason::Gpc), "Sec-GPC: {value:?}");
        }
    }

    #[test]
    fn order_is_optout_then_dnt_then_gpc() {
        let all = with(&[("cookie", "a=b; mesure_optout=1"), ("dnt", "1"), ("sec-gpc", "1")]);
        assert_eq!(objection(&all, &ON), Some(DeclineReason::OptOut));
        let two = with(&[("dnt", "1"), ("sec-gpc", "1")]);
        assert_eq!(objection(&two, &ON), Some(DeclineReason::Dnt));
        assert_eq!(objection(&with(&[("cookie", "mesure_optout=0")]), &ON), None);
        assert_eq!(objection(&with(&[("cookie", "xmesure_optout=1")]), &ON), None);
        // Earlier Matomo opt-outs count, whatever their value.
        assert_eq!(objection(&with(&[("cookie", "a=b; matomo_ignore=*")]), &ON), Some(DeclineReason::OptOut));
        assert_eq!(objection(&with(&[("cookie", "piwik_ignore=x")]), &ON), Some(DeclineReason::OptOut));
    }

    #[test]
    fn custom_profile_may_switch_dnt_off() {
        let off = PrivacyConfig {
            profile: PrivacyProfile::Custom,
            honor_dnt: false,
            honor_gpc: false,
            max_live_visits: 1000,
        };
        assert_eq!(objection(&with(&[("dnt", "1"), ("sec-gpc", "1")]), &off), None);
        // The visitor's own opt-out is never switchable.
        assert_eq!(objection(&with(&[("cookie", "mesure_optout=1")]), &off), Some(DeclineReason::OptOut));
    }
}
