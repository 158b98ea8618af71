//! Campaign parameters of a landing URL: `utm_*`, Matomo's `mtm_*` / `pk_*` and `_rcn`/`_rck`,
//! and click ids. Click ids only mark the visit as paid; they are never stored (docs/privacy.md D1).
//! Whether campaign values are stored is a per-site switch (`store_campaigns`).

/// Click ids that mark a paid click.
pub(crate) const CLICK_IDS: &[&str] = &["gclid", "gbraid", "wbraid", "fbclid", "msclkid", "ttclid"];
/// Longest campaign value kept (characters).
const MAX_VALUE_CHARS: usize = 100;

/// Campaign values, lower-cased and bounded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Campaign {
    pub source: String,
    pub medium: String,
    pub name: String,
    pub term: String,
    pub content: String,
    /// The first click id present (its name only).
    pub click_id: Option<&'static str>,
}

impl Campaign {
    /// Reads the campaign from `(key, value)` pairs of a landing URL's query string.
    pub(crate) fn from_query<K: AsRef<str>, V: AsRef<str>>(pairs: impl IntoIterator<Item = (K, V)>) -> Campaign {
        let mut c = Campaign::default();
        for (key, value) in pairs {
            let (key, value) = (key.as_ref().to_ascii_lowercase(), value.as_ref());
            if let Some(id) = CLICK_IDS.iter().find(|id| **id == key) {
                c.click_id.get_or_insert(id);
                continue;
            }
            let slot = match key.as_str() {
                "utm_source" | "mtm_source" | "pk_source" | "ref" => &mut c.source,
                "utm_medium" | "mtm_medium" | "pk_medium" => &mut c.medium,
                "utm_campaign" | "mtm_campaign" | "pk_campaign" | "mtm_cid" | "pk_cid" => &mut c.name,
                "utm_term" | "mtm_keyword" | "mtm_kwd" | "pk_keyword" | "pk_kwd" => &mut c.term,
                "utm_content" | "mtm_content" | "pk_content" => &mut c.content,
                _ => continue,
            };
            if slot.is_empty() {
                *slot = normalise(value);
            }
        }
        c
    }

    /// Matomo's `_rcn` (campaign name) and `_rck` (keyword), sent by the JS tracker.
    pub(crate) fn with_matomo_fallback(mut self, rcn: Option<&str>, rck: Option<&str>) -> Campaign {
        if self.name.is_empty()
            && let Some(v) = rcn
        {
            self.name = normalise(v);
        }
        if self.term.is_empty()
            && let Some(v) = rck
        {
            self.term = normalise(v);
        }
        self
    }

    pub fn is_present(&self) -> bool {
        !(self.source.is_empty() && self.medium.is_empty() && self.name.is_empty())
    }

    pub fn is_paid(&self) -> bool {
        matches!(
            self.medium.as_str(),
            "cpc"
                | "ppc"
                | "paid"
                | "paidsearch"
                | "paid_search"
                | "paid-search"
                | "cpm"
                | "display"
                | "paid_social"
                | "paidsocial"
                | "paid-social"
        )
    }
}

fn normalise(value: &str) -> String {
    value.trim().to_lowercase().chars().take(MAX_VALUE_CHARS).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utm_mtm_pk_and_click_ids() {
        let c = Campaign::from_query([
            ("utm_source", "Newsletter"),
            ("utm_medium", "Email"),
            ("utm_campaign", "Spring"),
            ("gclid", "abc"),
        ]);
        assert_eq!(
            (c.source.as_str(), c.medium.as_str(), c.name.as_str(), c.click_id),
            ("newsletter", "email", "spring", Some("gclid"))
        );
        let c = Campaign::from_query([("mtm_campaign", "a"), ("pk_kwd", "k")]);
        assert_eq!((c.name.as_str(), c.term.as_str()), ("a", "k"));
        let c = Campaign::default().with_matomo_fallback(Some("From JS"), Some("kw"));
        assert_eq!((c.name.as_str(), c.term.as_str()), ("from js", "kw"));
        assert!(!Campaign::from_query([("q", "x")]).is_present());
        assert_eq!(Campaign::from_query([("utm_source", "x".repeat(300).as_str())]).source.len(), 100);
    }
}
