//! Logs and metrics. Logging goes to stderr through `tracing`; our crate logs at the level
//! `RUST_LOG` asks for (default `info`), dependencies at `warn`. Log lines carry decisions and
//! counts, never an IP address, a salt or a full user agent.

pub mod metrics;

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. Safe to call once per process.
pub fn init_logging() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn,mesure=info"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false).init();
}
