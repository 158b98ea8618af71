//! The effective-configuration and privacy summary that `mesure check-config` prints: sentences
//! a privacy notice can quote (PRIVACY.md G1), per site, then the technical settings.

use std::fmt::Write;

use crate::config::Config;

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
