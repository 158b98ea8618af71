//! The effective-configuration and privacy summary that `mesure check-config` prints: sentences
//! a privacy notice can quote (PRIVACY.md G1), per site, then the technical settings.

use std::fmt::Write;

use serde_json::{Value, json};

use crate::config::{Config, SiteConfig};

/// Renders the summary for a valid configuration.
pub fn render(config: &Config) -> String {
    let mut out = String::new();
    let honoured = |b: bool| if b { "honoured" } else { "NOT honoured (privacy.profile = \"custom\")" };
    let ip = match (&config.geo.database, config.geo.mask_before_lookup) {
        (None, _) => "not used for geolocation (no geo.database); never stored or logged".to_string(),
        (Some(_), false) => {
            "used only to find the visitor's city (local database), then discarded; never stored or logged".to_string()
        }
        (Some(_), true) => "masked to /24 (IPv4) or /48 (IPv6), used only to find the visitor's city (local \
                            database), then discarded; never stored or logged"
            .to_string(),
    };
    let optout = match &config.public_url {
        Some(base) => format!("{base}/optout"),
        None => "/optout on the collector's host (set public_url for the full link)".to_string(),
    };
    let _ = writeln!(out, "configuration OK\n");
    let _ = writeln!(out, "privacy summary (quote it in your privacy notice)");
    for site in &config.sites {
        let _ = writeln!(out, "\nsite {} ({})", site.id, site.domains.join(", "));
        let _ = writeln!(out, "  retention: {} (then deleted)", site.retention);
        let _ = writeln!(
            out,
            "  identifier: no cookie; a hash of the site, the IP address and the browser's user agent with a \
             random salt that changes every day at 00:00 UTC, so a visitor cannot be recognised from one day to \
             the next; old salts are deleted"
        );
        let _ = writeln!(out, "  IP address: {ip}");
        let _ = writeln!(
            out,
            "  stored: pages (without query string{}) and titles, referrer host, country/region/city, language",
            if site.keep_query.is_empty() { String::new() } else { format!(" except {}", site.keep_query.join(", ")) }
        );
        let _ = writeln!(
            out,
            "  Do-Not-Track: {}; Global Privacy Control: {}",
            honoured(config.privacy.honor_dnt),
            honoured(config.privacy.honor_gpc)
        );
        let _ = writeln!(out, "  opt-out: {optout}");
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

/// The machine-readable notice of one site (PRIVACY.md G2), served at `/privacy.json?site=N` so
/// a privacy page can show what the collector really does.
pub fn notice(config: &Config, site: &SiteConfig) -> Value {
    let identifier = if site.cookie_mode {
        json!({
            "kind": "first-party-cookie",
            "description": "the tracker's own first-party cookie, hashed with a per-site key; the cookie value is never stored",
            "cookie_lifetime_days": 395,
        })
    } else {
        json!({
            "kind": "cookieless",
            "description": "a hash of the site, the IP address and the user agent with a random salt",
            "salt_rotation": "daily at 00:00 UTC; a salt is deleted within 48 hours",
        })
    };
    json!({
        "site_id": site.id,
        "domains": site.domains,
        "retention": { "days": site.retention.days(), "text": site.retention.to_string() },
        "identifier": identifier,
        "ip_address": {
            "stored": false,
            "logged": false,
            "used_for": if config.geo.database.is_some() { "city-level geolocation and the visitor hash, then discarded" } else { "the visitor hash, then discarded" },
            "geolocation": if config.geo.database.is_some() { "city" } else { "none" },
            "masked_before_lookup": config.geo.mask_before_lookup,
        },
        "do_not_track_honoured": config.privacy.honor_dnt,
        "global_privacy_control_honoured": config.privacy.honor_gpc,
        "opt_out_url": config.public_url.as_ref().map(|u| format!("{u}/optout")).unwrap_or_else(|| "/optout".into()),
        "query_string_parameters_kept": site.keep_query,
        "campaign_values_stored": site.store_campaigns,
        "small_counts_rounded": site.round_counts,
        "raw_user_agent_stored": false,
        "data_sent_to_third_parties": false,
    })
}
