//! What mesure does with a site's visitors, as one value per site ([`SiteFacts`]), and every
//! rendering of it: the summary `mesure check-config` prints (docs/privacy.md G1), the
//! machine-readable notice at `/privacy.json?site=N` (G2) and the sentences of the opt-out page.
//! The facts are computed here once, from the configuration, so the three cannot disagree.

use std::fmt::Write;

use serde_json::{Value, json};

use crate::config::{Config, Retention, SiteConfig};

/// The languages the visitor-facing texts exist in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lang {
    En,
    Fr,
}

/// How visitors are told apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Identifier {
    /// A hash of the site, the address and the user agent with a salt that changes daily.
    Cookieless,
    /// The tracker's first-party cookie, hashed with a per-site key (cookie-mode sites).
    FirstPartyCookie { lifetime_days: u32 },
    /// No one site is meant (the opt-out page without `?site=`), and the sites differ.
    DependsOnSite,
}

/// What happens to the visitor's IP address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressUse {
    /// Only hashed into the visitor id (no geo database).
    HashOnly,
    /// Looked up in the local city database (first masked to its /24 or /48 network if
    /// `masked`), hashed, then discarded.
    CityAndHash { masked: bool },
}

/// The privacy facts of one site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteFacts {
    pub site_id: Option<u32>,
    pub domains: Vec<String>,
    pub retention: Option<Retention>,
    pub identifier: Identifier,
    pub address: AddressUse,
    pub dnt_honoured: bool,
    pub gpc_honoured: bool,
    pub opt_out_url: String,
    pub query_parameters_kept: Vec<String>,
    pub campaign_values_stored: bool,
    pub small_counts_rounded: bool,
}

impl SiteFacts {
    /// The facts of `site` under `config`.
    pub fn of(config: &Config, site: &SiteConfig) -> SiteFacts {
        SiteFacts {
            site_id: Some(site.id),
            domains: site.domains.clone(),
            retention: Some(site.retention),
            identifier: if site.cookie_mode {
                Identifier::FirstPartyCookie { lifetime_days: site.cookie_lifetime_days }
            } else {
                Identifier::Cookieless
            },
            query_parameters_kept: site.keep_query.clone(),
            campaign_values_stored: site.store_campaigns,
            small_counts_rounded: site.round_counts,
            ..SiteFacts::collector(config)
        }
    }

    /// What holds for every site of `config` (the opt-out page when no site is named).
    pub fn collector(config: &Config) -> SiteFacts {
        let identifier =
            if config.sites.iter().any(|s| s.cookie_mode) { Identifier::DependsOnSite } else { Identifier::Cookieless };
        SiteFacts {
            site_id: None,
            // The collector's own pages speak for every site (the opt-out may be framed by each).
            domains: config.sites.iter().flat_map(|s| s.domains.iter().cloned()).collect(),
            retention: None,
            identifier,
            address: match config.geo.database {
                Some(_) => AddressUse::CityAndHash { masked: config.geo.mask_before_lookup },
                None => AddressUse::HashOnly,
            },
            dnt_honoured: config.privacy.honor_dnt,
            gpc_honoured: config.privacy.honor_gpc,
            opt_out_url: config.public_url.as_ref().map(|u| format!("{u}/optout")).unwrap_or_else(|| "/optout".into()),
            query_parameters_kept: Vec::new(),
            campaign_values_stored: false,
            small_counts_rounded: false,
        }
    }

    /// The identifier, in a sentence for the summary.
    fn identifier_summary(&self) -> String {
        match self.identifier {
            Identifier::Cookieless => {
                "no cookie; a hash of the site, the IP address and the browser's user agent with a \
                 random salt that changes every day at 00:00 UTC, so a visitor cannot be recognised from one day to \
                 the next; old salts are deleted"
                    .to_string()
            }
            Identifier::FirstPartyCookie { lifetime_days } => format!(
                "the tracker's first-party cookie (Matomo's _pk_id), kept at most {lifetime_days} days from its \
                 creation; its value is hashed with a random per-site key and never stored"
            ),
            Identifier::DependsOnSite => "depends on the site (see each site)".to_string(),
        }
    }

    fn address_summary(&self) -> &'static str {
        match self.address {
            AddressUse::HashOnly => "not used for geolocation (no geo.database); never stored or logged",
            AddressUse::CityAndHash { masked: false } => {
                "used only to find the visitor's city (local database), then discarded; never stored or logged"
            }
            AddressUse::CityAndHash { masked: true } => {
                "masked to /24 (IPv4) or /48 (IPv6), used only to find the visitor's city (local database), then \
                 discarded; never stored or logged"
            }
        }
    }

    /// The opt-out page's sentence for a browser that is counted.
    pub(crate) fn counted_sentence(&self, lang: Lang) -> String {
        let (lead, address, identifier) = match lang {
            Lang::En => (
                "Visits from this browser are counted anonymously:",
                match self.address {
                    AddressUse::HashOnly => "your IP address is never stored",
                    AddressUse::CityAndHash { masked: false } => {
                        "your IP address is used only to find your city and is then discarded"
                    }
                    AddressUse::CityAndHash { masked: true } => {
                        "your IP address is shortened, used only to find your city and then discarded"
                    }
                },
                match self.identifier {
                    Identifier::Cookieless => ", and you cannot be recognised from one day to the next.",
                    Identifier::FirstPartyCookie { .. } => {
                        ", and a first-party cookie of this site (kept at most 13 months) recognises your browser's return visits; its value is never stored."
                    }
                    Identifier::DependsOnSite => ".",
                },
            ),
            Lang::Fr => (
                "Les visites de ce navigateur sont comptées de façon anonyme :",
                match self.address {
                    AddressUse::HashOnly => "votre adresse IP n'est jamais enregistrée",
                    AddressUse::CityAndHash { masked: false } => {
                        "votre adresse IP ne sert qu'à trouver votre ville puis est effacée"
                    }
                    AddressUse::CityAndHash { masked: true } => {
                        "votre adresse IP est tronquée, ne sert qu'à trouver votre ville puis est effacée"
                    }
                },
                match self.identifier {
                    Identifier::Cookieless => ", et vous ne pouvez pas être reconnu d'un jour à l'autre.",
                    Identifier::FirstPartyCookie { .. } => {
                        ", et un cookie propre à ce site (conservé 13 mois au plus) reconnaît les visites suivantes de votre navigateur ; sa valeur n'est jamais enregistrée."
                    }
                    Identifier::DependsOnSite => ".",
                },
            ),
        };
        format!("{lead} {address}{identifier}")
    }

    /// The machine-readable notice (`/privacy.json`).
    pub fn notice(&self) -> Value {
        let identifier = match self.identifier {
            Identifier::FirstPartyCookie { lifetime_days } => json!({
                "kind": "first-party-cookie",
                "description": "the tracker's own first-party cookie, hashed with a per-site key; the cookie value is never stored",
                "cookie_lifetime_days": lifetime_days,
            }),
            Identifier::Cookieless => json!({
                "kind": "cookieless",
                "description": "a hash of the site, the IP address and the user agent with a random salt",
                "salt_rotation": "daily at 00:00 UTC; a salt is deleted within 48 hours",
            }),
            Identifier::DependsOnSite => json!({ "kind": "depends-on-site" }),
        };
        let geolocation = matches!(self.address, AddressUse::CityAndHash { .. });
        json!({
            "site_id": self.site_id,
            "domains": self.domains,
            "retention": self.retention.map(|r| json!({ "days": r.days(), "text": r.to_string() })),
            "identifier": identifier,
            "ip_address": {
                "stored": false,
                "logged": false,
                "used_for": if geolocation { "city-level geolocation and the visitor hash, then discarded" } else { "the visitor hash, then discarded" },
                "geolocation": if geolocation { "city" } else { "none" },
                "masked_before_lookup": matches!(self.address, AddressUse::CityAndHash { masked: true }),
            },
            "do_not_track_honoured": self.dnt_honoured,
            "global_privacy_control_honoured": self.gpc_honoured,
            "opt_out_url": self.opt_out_url,
            "query_string_parameters_kept": self.query_parameters_kept,
            "campaign_values_stored": self.campaign_values_stored,
            "small_counts_rounded": self.small_counts_rounded,
            "raw_user_agent_stored": false,
            "data_sent_to_third_parties": false,
        })
    }
}

/// Renders the summary for a valid configuration.
pub fn render(config: &Config) -> String {
    let mut out = String::new();
    let honoured = |b: bool| if b { "honoured" } else { "NOT honoured (privacy.profile = \"custom\")" };
    let _ = writeln!(out, "configuration OK\n");
    let _ = writeln!(out, "privacy summary (quote it in your privacy notice)");
    for site in &config.sites {
        let facts = SiteFacts::of(config, site);
        let _ = writeln!(out, "\nsite {} ({})", site.id, facts.domains.join(", "));
        let _ = writeln!(out, "  retention: {} (then deleted)", site.retention);
        let _ = writeln!(out, "  identifier: {}", facts.identifier_summary());
        let _ = writeln!(out, "  IP address: {}", facts.address_summary());
        let _ = writeln!(
            out,
            "  stored: pages (without query string{}) and titles, referrer host, country/region/city, language",
            if facts.query_parameters_kept.is_empty() {
                String::new()
            } else {
                format!(" except {}", facts.query_parameters_kept.join(", "))
            }
        );
        let _ = writeln!(
            out,
            "  Do-Not-Track: {}; Global Privacy Control: {}",
            honoured(facts.dnt_honoured),
            honoured(facts.gpc_honoured)
        );
        let opt_out = if config.public_url.is_some() {
            facts.opt_out_url.clone()
        } else {
            "/optout on the collector's host (set public_url for the full link)".to_string()
        };
        let _ = writeln!(out, "  opt-out: {opt_out}");
    }
    let _ = writeln!(out, "\neffective settings");
    let _ = writeln!(out, "  listen = {}", config.listen);
    let proxies: Vec<String> = config.trusted_proxies.iter().map(|p| p.to_string()).collect();
    let _ = writeln!(out, "  trusted_proxies = [{}]", proxies.join(", "));
    let _ = writeln!(
        out,
        "  clickhouse = {} database {} user {}",
        config.clickhouse.url, config.clickhouse.database, config.clickhouse.user
    );
    let _ = writeln!(
        out,
        "  geo.database = {}",
        config.geo.database.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| "(none)".into())
    );
    let _ = writeln!(out, "  privacy.profile = {:?}", config.privacy.profile);
    let _ = writeln!(
        out,
        "  spool: {} (at most {} bytes, fsync every {:?})",
        config.spool.dir.display(),
        config.spool.max_bytes,
        config.spool.fsync_interval
    );
    let _ = writeln!(
        out,
        "  sink: batches of up to {} rows / {} bytes / {:?}",
        config.sink.batch_max_rows, config.sink.batch_max_bytes, config.sink.batch_period
    );
    let _ = writeln!(out, "  shutdown_timeout = {:?}", config.shutdown_timeout);
    out
}

/// `mesure sites`: one block per configured site for operators: retention, identifier mode,
/// events in the last 24 hours and the last hit (from `activity`), and what its
/// `/privacy.json` says. `now` is Unix seconds.
pub fn sites_report(config: &Config, activity: &[crate::store::rows::SiteActivity], now: u64) -> String {
    let mut out = String::new();
    for site in &config.sites {
        let facts = SiteFacts::of(config, site);
        let seen = activity.iter().find(|a| a.site_id == site.id);
        let _ = writeln!(out, "site {}  {}", site.id, site.domains.join(", "));
        let _ = writeln!(out, "  retention      {} ({} days)", site.retention, site.retention.days());
        let identifier = match facts.identifier {
            Identifier::FirstPartyCookie { lifetime_days } => format!("first-party cookie ({lifetime_days} days)"),
            _ => "cookieless (daily salt)".to_string(),
        };
        let _ = writeln!(out, "  identifier     {identifier}");
        let _ = writeln!(out, "  last 24 hours  {} events", seen.map_or(0, |a| a.recent));
        let last = match seen {
            Some(a) => format!("{} ({} ago)", crate::clock::utc_text(u64::from(a.last_hit)), ago(now, a.last_hit)),
            None => "never".to_string(),
        };
        let _ = writeln!(out, "  last hit       {last}");
        let _ = writeln!(out, "  privacy.json   {}\n", facts.notice());
    }
    out
}

/// The same as JSON: one object per site, the notice included.
pub fn sites_json(config: &Config, activity: &[crate::store::rows::SiteActivity]) -> Value {
    let sites: Vec<Value> = config
        .sites
        .iter()
        .map(|site| {
            let seen = activity.iter().find(|a| a.site_id == site.id);
            json!({
                "id": site.id,
                "domains": site.domains,
                "retention_days": site.retention.days(),
                "identifier": if site.cookie_mode { "first-party-cookie" } else { "cookieless" },
                "events_last_24h": seen.map_or(0, |a| a.recent),
                "last_hit": seen.map(|a| crate::clock::utc_text(u64::from(a.last_hit))),
                "privacy": SiteFacts::of(config, site).notice(),
            })
        })
        .collect();
    json!({ "sites": sites })
}

/// "3 min", "2 h", "5 days": how long ago `then` was at `now`.
fn ago(now: u64, then: u32) -> String {
    let seconds = now.saturating_sub(u64::from(then));
    match seconds {
        s if s < 120 => format!("{s} s"),
        s if s < 7200 => format!("{} min", s / 60),
        s if s < 2 * 86_400 => format!("{} h", s / 3600),
        s => format!("{} days", s / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = r#"
        public_url = "https://stats.example.org"
        [geo]
        database = "geo/test-data/GeoIP2-City-Test.mmdb"
        [[sites]]
        id = 1
        domains = ["example.org"]
        [[sites]]
        id = 2
        domains = ["shop.example.net"]
        cookie_mode = true
        retention = "13mo"
    "#;

    /// A cookie-mode site is described as one, the same way in all three renderings.
    #[test]
    fn a_cookie_mode_site_is_described_as_one_everywhere() {
        let config = Config::from_toml(CONFIG, std::iter::empty()).unwrap();
        let summary = render(&config);
        let (cookieless, cookie) = summary.split_once("site 2").unwrap();
        assert!(cookieless.contains("identifier: no cookie"), "{summary}");
        assert!(cookie.contains("identifier: the tracker's first-party cookie"), "{summary}");
        assert!(!cookie.contains("no cookie"), "{summary}");

        let facts = SiteFacts::of(&config, config.site(2).unwrap());
        assert_eq!(facts.notice()["identifier"]["kind"], "first-party-cookie");
        assert_eq!(facts.notice()["identifier"]["cookie_lifetime_days"], crate::config::COOKIE_LIFETIME_DAYS);
        assert!(facts.counted_sentence(Lang::En).contains("first-party cookie"));
        assert!(!facts.counted_sentence(Lang::En).contains("cannot be recognised"));
        assert!(facts.counted_sentence(Lang::Fr).contains("cookie"));

        let facts = SiteFacts::of(&config, config.site(1).unwrap());
        assert_eq!(facts.notice()["identifier"]["kind"], "cookieless");
        assert!(facts.counted_sentence(Lang::En).contains("cannot be recognised from one day to the next"));
        // Without a site, the opt-out page claims only what holds for every site.
        let all = SiteFacts::collector(&config);
        assert_eq!(all.identifier, Identifier::DependsOnSite);
        assert!(!all.counted_sentence(Lang::En).contains("recognise"));
    }
}
