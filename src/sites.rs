//! The registry of configured sites: one read-only value built from the configuration, part of
//! the current [`crate::live::Live`] snapshot that the hit pipeline, the stats API, the privacy
//! notice and the retention job read, so every part of the collector sees the same sites (a
//! reload replaces the whole snapshot).
//!
//! It owns look-ups only; what a site *is* (retention, identifier mode, domains…) stays in
//! [`SiteConfig`], validated by [`crate::config`].

use std::collections::HashMap;

use crate::config::SiteConfig;

/// Every configured site, by id and by domain, in configuration order.
#[derive(Debug, Default)]
pub struct Sites {
    /// In configuration order (listings and reports keep it).
    list: Vec<SiteConfig>,
    /// Site id → index in `list`.
    by_id: HashMap<u32, usize>,
    /// Every domain of every site (lower case) → index in `list`.
    by_domain: HashMap<String, usize>,
}

impl Sites {
    pub fn new(sites: &[SiteConfig]) -> Sites {
        let list = sites.to_vec();
        let by_id = list.iter().enumerate().map(|(i, s)| (s.id, i)).collect();
        let by_domain = list
            .iter()
            .enumerate()
            .flat_map(|(i, s)| s.domains.iter().map(move |d| (d.to_ascii_lowercase(), i)))
            .collect();
        Sites { list, by_id, by_domain }
    }

    /// The site with this id.
    pub fn get(&self, id: u32) -> Option<&SiteConfig> {
        self.by_id.get(&id).map(|&i| &self.list[i])
    }

    /// The site one of whose domains is exactly `domain` (lower case).
    pub(crate) fn by_domain(&self, domain: &str) -> Option<&SiteConfig> {
        self.by_domain.get(domain).map(|&i| &self.list[i])
    }

    /// Every site, in configuration order.
    pub fn iter(&self) -> std::slice::Iter<'_, SiteConfig> {
        self.list.iter()
    }

    pub fn as_slice(&self) -> &[SiteConfig] {
        &self.list
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn look_ups_by_id_and_domain_keep_the_configuration_order() {
        let mut one = SiteConfig::with_defaults(7, "example.org");
        one.domains.push("WWW.example.org".into());
        let sites = Sites::new(&[one, SiteConfig::with_defaults(3, "shop.example.net")]);
        assert_eq!(sites.get(3).map(|s| s.id), Some(3));
        assert!(sites.get(4).is_none());
        assert_eq!(sites.by_domain("www.example.org").map(|s| s.id), Some(7));
        assert!(sites.by_domain("other.example").is_none());
        assert_eq!(sites.iter().map(|s| s.id).collect::<Vec<_>>(), vec![7, 3]);
        assert_eq!(sites.len(), 2);
    }
}
