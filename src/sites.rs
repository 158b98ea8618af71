//! The registry of configured sites: one read-only value built from the configuration, part of
//! the current [`crate::live::Live`] snapshot that the hit pipeline, the stats API, the privacy
//! notice and the retention job read, so every part of the collector sees the same sites (a
//! reload replaces the whole snapshot).
//!
//! It owns look-ups only; what a site *is* (retention, identifier mode, domains…) stays in
//! [`SiteConfig`], validated by [`crate::config`].

use std::collections::HashMap;

use crate::config::SiteConfig;

/// The time zone named `name` from the system's zone files; UTC (with a warning) if there is
/// no such file.
fn zone(name: &str) -> tz::TimeZone {
    if name == "UTC" {
        return tz::TimeZone::utc();
    }
    tz::TimeZone::from_posix_tz(name).unwrap_or_else(|_| {
        tracing::warn!(timezone = name, "no zone file for this time zone; visits split at midnight UTC");
        tz::TimeZone::utc()
    })
}

/// Every configured site, by id and by domain, in configuration order.
#[derive(Debug, Default)]
pub struct Sites {
    /// Each site's time zone, read from the system's zone files (UTC when it has none).
    zones: HashMap<u32, tz::TimeZone>,
    /// In configuration order (listings and reports keep it).
    list: Vec<SiteConfig>,
    /// Site id → index in `list`.
    by_id: HashMap<u32, usize>,
    /// Every domain of every site (lower case) → index in `list`.
    by_domain: HashMap<String, usize>,
    /// Every Piano site number → index in `list`.
    by_piano_id: HashMap<u32, usize>,
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
        let by_piano_id =
            list.iter().enumerate().flat_map(|(i, s)| s.piano_site_ids.iter().map(move |p| (*p, i))).collect();
        let zones = list.iter().map(|s| (s.id, zone(&s.timezone))).collect();
        Sites { zones, list, by_id, by_domain, by_piano_id }
    }

    /// The start (Unix seconds) of the day that contains `at` in the site's time zone: Matomo
    /// starts a new visit there.
    pub fn local_midnight(&self, site_id: u32, at: u64) -> u64 {
        let offset =
            |zone: &tz::TimeZone, t: i64| zone.find_local_time_type(t).map_or(0, |local| i64::from(local.ut_offset()));
        let Some(zone) = self.zones.get(&site_id) else { return at - at % 86_400 };
        let at = at as i64;
        let local = at + offset(zone, at);
        let local_midnight = local - local.rem_euclid(86_400);
        // The offset at midnight itself (a daylight-saving change happens in the night).
        let midnight = local_midnight - offset(zone, local_midnight - offset(zone, at));
        midnight.max(0) as u64
    }

    /// The site with this id.
    pub fn get(&self, id: u32) -> Option<&SiteConfig> {
        self.by_id.get(&id).map(|&i| &self.list[i])
    }

    /// The site one of whose domains is exactly `domain` (lower case).
    pub(crate) fn by_domain(&self, domain: &str) -> Option<&SiteConfig> {
        self.by_domain.get(domain).map(|&i| &self.list[i])
    }

    /// The site with this Piano site number.
    pub(crate) fn by_piano_id(&self, piano: u32) -> Option<&SiteConfig> {
        self.by_piano_id.get(&piano).map(|&i| &self.list[i])
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

    #[test]
    fn a_sites_day_starts_at_its_own_midnight() {
        let mut paris = SiteConfig::with_defaults(1, "example.fr");
        paris.timezone = "Europe/Paris".into();
        let mut nowhere = SiteConfig::with_defaults(3, "example.net");
        nowhere.timezone = "Mars/Olympus_Mons".into();
        let sites = Sites::new(&[paris, SiteConfig::with_defaults(2, "example.org"), nowhere]);
        let winter_noon = 1_767_614_400; // 2026-01-05 12:00 UTC
        assert_eq!(sites.local_midnight(1, winter_noon), 1_767_567_600, "23:00 UTC the day before");
        assert_eq!(sites.local_midnight(1, 1_767_567_599), 1_767_567_600 - 86_400);
        let summer_noon = 1_783_339_200; // 2026-07-06 12:00 UTC
        assert_eq!(sites.local_midnight(1, summer_noon), 1_783_288_800, "22:00 UTC the day before");
        // 2026-03-29, the night Paris moves to summer time: the day began at 23:00 UTC.
        assert_eq!(sites.local_midnight(1, 1_774_785_600), 1_774_738_800);
        assert_eq!(sites.local_midnight(2, winter_noon), 1_767_571_200, "UTC");
        assert_eq!(sites.local_midnight(3, winter_noon), 1_767_571_200, "no zone file: UTC");
        assert_eq!(sites.local_midnight(9, winter_noon), 1_767_571_200, "unknown site: UTC");
    }
}
