//! The effective-configuration and privacy summary that `mesure check-config` prints: short
//! sentences a privacy notice can quote (PRIVACY.md G1), then the technical settings.

use std::fmt::Write;

use crate::config::Config;

/// Renders the summary for a valid configuration.
pub fn render(config: &Config) -> String {
    let mut out = String::new();
    let yes_no = |b: bool| if b { "honoured" } else { "NOT honoured" };
    let _ = writeln!(out, "configuration OK\n");
    let _ = writeln!(out, "privacy summary");
    let _ = writeln!(
        out,
        "  IP address: used only to find the visitor's city{}, then discarded; never stored or logged",
        if config.geo.mask_before_lookup { " (after masking to /24 or /48)" } else { "" }
    );
    if config.geo.database.is_none() {
        let _ = writeln!(out, "  geolocation: off (no geo.database configured)");
    }
    let _ = writeln!(
        out,
        "  identifier: cookieless; a hash of site, IP and user agent with a random salt that changes every day"
    );
    let _ = writeln!(
        out,
        "  Do-Not-Track: {}; Global Privacy Control: {}",
        yes_no(config.privacy.honor_dnt),
        yes_no(config.privacy.honor_gpc)
    );
    let _ = writeln!(out, "  opt-out: /optout on the collector's host");
    let _ = writeln!(out, "  profile: {:?}", config.privacy.profile);
    for site in &config.sites {
        let _ = writeln!(
            out,
            "  site {} ({}): statistics kept {} then deleted; query strings {}",
            site.id,
            site.domains.join(", "),
            site.retention,
            if site.keep_query.is_empty() {
                "dropped".to_string()
            } else {
                format!("dropped except {}", site.keep_query.join(", "))
            }
        );
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
    let _ = writeln!(out, "  spool.dir = {}", config.spool.dir.display());
    let _ = writeln!(
        out,
        "  sink: batches of up to {} rows / {} bytes / {:?}; channel capacity {}",
        config.sink.batch_max_rows,
        config.sink.batch_max_bytes,
        config.sink.batch_period,
        config.ingest.channel_capacity
    );
    let _ = writeln!(out, "  shutdown_timeout = {:?}", config.shutdown_timeout);
    out
}
