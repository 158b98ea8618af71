//! The settings that change while the collector runs: the configuration as last loaded and its
//! sites. One snapshot ([`Live`]) is shared ([`LiveSettings`]); a request takes the current one
//! once and keeps it to its end, so a reload never changes the settings under a request. The
//! snapshot holds settings only: what a handler renders from them (Matomo's script prelude) is
//! the handler's to cache, keyed by [`Live::generation`].
//!
//! `SIGHUP` (or `mesure reload`) re-reads the file ([`LiveSettings::reload`]): the whole file is
//! validated first, and an invalid one changes nothing (every error is logged). Sites, domains,
//! retention, `keep_query`, goals, rounding, public and share settings, Matomo tokens and the
//! privacy settings apply at once, without touching live visits or connections. Settings the
//! running process cannot change (listeners, ClickHouse, spool, limits, geo database, proxies,
//! a site entering or leaving cookie mode, the live-visit cap) keep their running value and are
//! logged as needing a restart.

use std::path::PathBuf;
use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::config::Config;
use crate::sites::Sites;

/// One snapshot of the changeable settings.
pub struct Live {
    pub config: Config,
    pub sites: Sites,
    /// Which snapshot this is: 0 at start, one more at each reload.
    pub generation: u64,
}

impl Live {
    pub fn new(config: Config) -> Live {
        Live::of_generation(config, 0)
    }

    fn of_generation(config: Config, generation: u64) -> Live {
        let sites = Sites::new(&config.sites);
        Live { config, sites, generation }
    }
}

/// The current snapshot, and where it was loaded from.
pub struct LiveSettings {
    current: ArcSwap<Live>,
    path: Option<PathBuf>,
}

/// What a reload did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Reloaded {
    /// What changed and now applies, in words (one entry per change).
    pub applied: Vec<String>,
    /// Settings that changed in the file but keep their running value until a restart.
    pub need_restart: Vec<String>,
}

impl LiveSettings {
    /// Settings loaded from `path` (`None`: built in memory, nothing to reload from).
    pub fn new(config: Config, path: Option<PathBuf>) -> LiveSettings {
        LiveSettings { current: ArcSwap::from_pointee(Live::new(config)), path }
    }

    /// The current snapshot: take it once per request.
    pub fn current(&self) -> Arc<Live> {
        self.current.load_full()
    }

    /// Re-reads the file and applies what can change; the errors of an invalid file (nothing
    /// changed then).
    pub fn reload(&self, env: impl IntoIterator<Item = (String, String)>) -> Result<Reloaded, String> {
        let Some(path) = &self.path else { return Err("no configuration file to reload from".into()) };
        let new = Config::load(path, env).map_err(|errors| errors.to_string())?;
        let old = self.current();
        let (config, reloaded) = merge(&old.config, new);
        self.current.store(Arc::new(Live::of_generation(config, old.generation + 1)));
        Ok(reloaded)
    }
}

/// The new configuration with what cannot change live taken from the running one, and what
/// changed.
///
/// Every setting is classified here, by name, as applied live or kept until a restart: the
/// destructuring below names every field of [`Config`] without `..`, so a new setting does not
/// compile until it is classified. A live setting must be read from the snapshot by each
/// request or job (never copied at start), or it would be reported applied and not be.
fn merge(old: &Config, mut new: Config) -> (Config, Reloaded) {
    let Config {
        // Live: read from the current snapshot.
        public_url: _,
        privacy: _,
        sites: _,
        // Restart only: copied into the listeners, the store, the spool, the writer and the
        // pipeline at start.
        listen: _,
        admin_listen: _,
        admin_networks: _,
        trusted_proxies: _,
        client_ip_header: _,
        clickhouse: _,
        geo: _,
        spool: _,
        ingest: _,
        sink: _,
        limits: _,
        shutdown_timeout: _,
    } = &new;
    let mut reloaded = Reloaded::default();
    // Settings only a restart applies: keep the running value, say so.
    macro_rules! keep {
        ($($field:ident).+) => {
            if format!("{:?}", old.$($field).+) != format!("{:?}", new.$($field).+) {
                reloaded.need_restart.push(stringify!($($field).+).to_string());
                new.$($field).+ = old.$($field).+.clone();
            }
        };
    }
    keep!(listen);
    keep!(admin_listen);
    keep!(admin_networks);
    keep!(trusted_proxies);
    keep!(client_ip_header);
    keep!(clickhouse);
    keep!(geo);
    keep!(spool);
    keep!(ingest);
    keep!(sink);
    keep!(limits);
    keep!(shutdown_timeout);
    keep!(privacy.max_live_visits);
    // A site's cookie mode needs its key, loaded at start: a site entering or leaving cookie
    // mode (or a new cookie-mode site) keeps running as it was until a restart.
    let mut kept_sites = Vec::new();
    for site in &mut new.sites {
        let before = old.sites.iter().find(|s| s.id == site.id);
        let running_cookie_mode = before.is_some_and(|s| s.cookie_mode);
        if site.cookie_mode != running_cookie_mode {
            reloaded.need_restart.push(format!("sites[id = {}].cookie_mode", site.id));
            if before.is_none() {
                kept_sites.push(site.id);
                continue;
            }
            site.cookie_mode = running_cookie_mode;
        }
    }
    // A new site in cookie mode waits for the restart as a whole.
    new.sites.retain(|s| !kept_sites.contains(&s.id));
    for site in &new.sites {
        match old.sites.iter().find(|s| s.id == site.id) {
            None => reloaded.applied.push(format!("site {} added ({})", site.id, site.domains.join(", "))),
            Some(before) if format!("{before:?}") != format!("{site:?}") => {
                reloaded.applied.push(format!("site {} changed", site.id))
            }
            Some(_) => {}
        }
    }
    for site in &old.sites {
        if !new.sites.iter().any(|s| s.id == site.id) && !kept_sites.contains(&site.id) {
            reloaded.applied.push(format!("site {} removed", site.id));
        }
    }
    if format!("{:?}", old.privacy) != format!("{:?}", new.privacy) {
        reloaded.applied.push("privacy settings changed".into());
    }
    if old.public_url != new.public_url {
        reloaded.applied.push("public_url changed".into());
    }
    (new, reloaded)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
        listen = "127.0.0.1:8080"
        [[sites]]
        id = 1
        domains = ["example.org"]
        [[sites]]
        id = 2
        domains = ["shop.example.net"]
        cookie_mode = true
    "#;

    fn config(text: &str) -> Config {
        Config::from_toml(text, std::iter::empty()).unwrap()
    }

    #[test]
    fn sites_apply_and_restart_only_settings_keep_their_running_value() {
        let old = config(BASE);
        let text = BASE.replace("127.0.0.1:8080", "127.0.0.1:9090").replace(
            "domains = [\"example.org\"]",
            "domains = [\"example.org\", \"www.example.org\"]\nkeep_query = [\"q\"]",
        ) + "\n[[sites]]\nid = 3\ndomains = [\"new.example\"]\n";
        let (merged, reloaded) = merge(&old, config(&text));
        assert_eq!(merged.listen, old.listen, "the listener keeps running where it is");
        assert_eq!(reloaded.need_restart, vec!["listen".to_string()]);
        assert_eq!(reloaded.applied, vec!["site 1 changed".to_string(), "site 3 added (new.example)".to_string()]);
        assert_eq!(merged.sites[0].keep_query, vec!["q".to_string()]);
    }

    #[test]
    fn cookie_mode_changes_wait_for_a_restart() {
        let old = config(BASE);
        let text = BASE.replace("cookie_mode = true", "cookie_mode = false")
            + "\n[[sites]]\nid = 4\ndomains = [\"c.example\"]\ncookie_mode = true\n";
        let (merged, reloaded) = merge(&old, config(&text));
        assert!(merged.sites.iter().find(|s| s.id == 2).unwrap().cookie_mode, "site 2 stays in cookie mode");
        assert!(merged.sites.iter().all(|s| s.id != 4), "a new cookie-mode site waits for the restart");
        assert_eq!(
            reloaded.need_restart,
            vec!["sites[id = 2].cookie_mode".to_string(), "sites[id = 4].cookie_mode".to_string()]
        );
    }
}
