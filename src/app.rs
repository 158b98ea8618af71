//! Wires the stages together and owns start-up and shutdown order.
//!
//! Start: the store (migrate, then ask the server's version) → retention TTL where the server
//! has it → geo database → salts and cookie keys → the live settings (sites; reloaded on
//! `SIGHUP`), the visit table and the hit pipeline → background tasks (salt rotation, geo
//! reload, visit sweep, retention, configuration reload) → spool and writer → serve.
//! Stop (SIGTERM/SIGINT, or the `shutdown` future in tests): stop accepting → finish requests in
//! flight → close and sync the spool → let the writer deliver what is left → return. All of it
//! under `shutdown_timeout`; a missed deadline is logged, and what was not delivered stays in the
//! spool for the next start.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::api::Access;
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::enrich::Enricher;
use crate::ingest::{BulkLimits, Ingest};
use crate::live::LiveSettings;
use crate::pipeline::{Pipeline, Stages};
use crate::privacy::Privacy;
use crate::privacy::client_ip::TrustedProxies;
use crate::privacy::cookie_keys::CookieKeys;
use crate::privacy::geo::Geo;
use crate::privacy::salts::SaltKeeper;
use crate::server::{Listener, Routes, serve};
use crate::sink::owner::SpoolOwner;
use crate::sink::spool::{self, SpoolSettings, SpoolStats};
use crate::sink::{DeliveryHealth, Writer};
use crate::store::migrations::MIGRATIONS;
use crate::store::{ReadBudget, Store};
use crate::telemetry::metrics::Metrics;
use crate::visits::Visits;

/// How long a collector that creates a period's salt waits for others doing the same.
const SALT_SETTLE: Duration = Duration::from_secs(2);
/// How often the geo database file is checked for replacement.
const GEO_RELOAD_EVERY: Duration = Duration::from_secs(10);
/// How often the retention job runs (it also runs at start).
const RETENTION_EVERY: Duration = Duration::from_secs(24 * 3600);

/// Runs the collector on an already bound `listener` until `shutdown` resolves.
/// `config_path`: the file `config` was loaded from, re-read on `SIGHUP` (`None`: no reload);
/// `owner`: this process's hold on the spool directory (released when the run ends).
pub async fn run(
    config: Config,
    config_path: Option<std::path::PathBuf>,
    owner: SpoolOwner,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    quiet_panics();
    let open_files = crate::server::limits::raise_open_files_limit();
    // Spool segments, ClickHouse connections, the geo database and the log take a few more.
    if open_files < config.limits.max_connections as u64 + 256 {
        tracing::warn!(
            open_files,
            max_connections = config.limits.max_connections,
            "the open-files limit is below limits.max_connections + 256: connections past it fail at accept; raise LimitNOFILE or lower max_connections"
        );
    }
    let store = Store::new(&config.clickhouse).with_read_budget(ReadBudget::from(&config.limits));
    let applied = store.migrate(MIGRATIONS).await.context("applying schema migrations")?;
    tracing::info!(new = applied.newly_applied.len(), already = applied.already_applied, "schema up to date");
    let store = store.detect_dialect().await.context("asking ClickHouse its version")?;
    let metrics = Metrics::new();
    let longest = config.sites.iter().map(|s| s.retention.days()).max().unwrap_or(0);
    let version = (store.dialect().major, store.dialect().minor);
    match store.set_retention_ttl(longest).await.context("setting the retention TTL")? {
        Some(ttl_days) => {
            tracing::info!(?version, ttl_days, "ClickHouse has table TTL: added as a second retention guard")
        }
        None => {
            tracing::info!(?version, "ClickHouse has no table TTL: the retention job alone enforces retention")
        }
    }
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let (stop_background, background_stopped) = watch::channel(false);

    let geo = Arc::new(Geo::open(config.geo.database.as_deref(), config.geo.mask_before_lookup)?);
    match geo.database_type() {
        Some(kind) => tracing::info!(kind, build_epoch = geo.build_epoch(), "geo database loaded"),
        None => tracing::warn!("no geo.database configured: country, region and city stay empty"),
    }
    let salts = SaltKeeper::start(store.clone(), clock.clone(), SALT_SETTLE)
        .await
        .context("loading the visitor salts from ClickHouse")?;
    let enricher = Arc::new(Enricher::new(config.ingest.user_agent_cache));
    metrics.register_user_agent_cache(&enricher.user_agents);
    let cookie_keys = CookieKeys::load(&store, &config.sites, clock.now(), SALT_SETTLE)
        .await
        .context("loading the cookie-mode keys from ClickHouse")?;
    let live = Arc::new(LiveSettings::new(config.clone(), config_path));
    let visits = Arc::new(Visits::new(config.privacy.max_live_visits));
    metrics.register_visits(&visits);
    let privacy = Privacy { geo: geo.clone(), salts: salts.clone(), cookie_keys };
    tokio::spawn(salts.run(background_stopped.clone(), metrics.salt_rotations.clone()));
    metrics.geo_build_time.set(geo.build_epoch().unwrap_or(0) as i64);
    tokio::spawn(reload_geo(geo, metrics.clone(), background_stopped.clone()));
    tokio::spawn(sweep_visits(visits.clone(), clock.clone(), background_stopped.clone()));
    tokio::spawn(enforce_retention(
        store.clone(),
        live.clone(),
        clock.clone(),
        metrics.clone(),
        config.spool.dir.join(crate::sink::files::DEAD_LETTER_DIR),
        background_stopped.clone(),
    ));

    // The durable spool, then the writer that delivers from it (replaying what a previous run
    // left first).
    let spool_stats = Arc::new(SpoolStats::default());
    metrics.watch_spool(spool_stats.clone());
    let spool_settings = SpoolSettings {
        dir: config.spool.dir.clone(),
        max_bytes: config.spool.max_bytes,
        segment_bytes: config.spool.segment_bytes,
        fsync_interval: config.spool.fsync_interval,
    };
    let (appender, written, start, spool_task) = spool::open(&spool_settings, spool_stats.clone())
        .with_context(|| format!("opening the spool in {}", config.spool.dir.display()))?;
    tracing::info!(dir = %config.spool.dir.display(), replay_from_segment = start.segment, "spool open");
    let health = Arc::new(DeliveryHealth::default());
    let writer = Writer::new(
        store.clone(),
        config.sink.clone(),
        metrics.clone(),
        config.spool.dir.clone(),
        spool_stats,
        start,
        written,
        health.clone(),
    );
    let writer_task = tokio::spawn(writer.run());
    let deadline = config.shutdown_timeout;

    let proxies = TrustedProxies::new(config.trusted_proxies.clone()).with_header(config.client_ip_header.clone());
    let pipeline = Pipeline::new(Stages {
        proxies: proxies.clone(),
        enricher,
        privacy,
        visits,
        clock: clock.clone(),
        metrics: metrics.clone(),
    });
    tokio::spawn(reload_on_hangup(live.clone(), store.clone(), metrics.clone(), background_stopped.clone()));
    let bulk = BulkLimits {
        anonymous: config.ingest.bulk_max_requests,
        authenticated: config.ingest.bulk_max_requests_authenticated,
    };
    let routes = Arc::new(Routes {
        live: live.clone(),
        api: Access::new(live.clone(), store.clone(), clock.clone(), &config.limits, metrics.clone()),
        ingest: Ingest::new(pipeline, live, bulk, appender.clone(), metrics.clone()),
        metrics,
        store,
        delivery: health,
        proxies,
        limits: config.limits.clone(),
        admin_networks: config.admin_networks.clone(),
        separate_admin: config.admin_listen.is_some(),
        matomo_scripts: Default::default(),
    });
    // The admin listener, when there is one: health, readiness and metrics, until shutdown.
    let (stop_admin, admin_stopped) = tokio::sync::oneshot::channel::<()>();
    if let Some(address) = config.admin_listen {
        let admin = TcpListener::bind(address).await.with_context(|| format!("binding admin_listen {address}"))?;
        tracing::info!(address = %admin.local_addr()?, "admin pages listening");
        let stopped = async {
            let _ = admin_stopped.await;
        };
        tokio::spawn(serve(admin, Listener::Admin, routes.clone(), stopped, Duration::from_secs(1)));
    }
    tracing::info!(address = %listener.local_addr()?, sites = config.sites.len(), "listening");

    let started_stopping = std::cell::Cell::new(None);
    let stopping = async {
        shutdown.await;
        started_stopping.set(Some(Instant::now()));
        tracing::info!("shutdown requested");
    };
    let drained = serve(listener, Listener::Public, routes.clone(), stopping, deadline).await;
    let _ = stop_admin.send(());
    let elapsed = started_stopping.get().map(|t| t.elapsed()).unwrap_or_default();

    // The connections are gone: the spool writes what is pending, syncs and closes, and the
    // writer delivers what is left.
    drop(routes);
    drop(owner);
    let _ = stop_background.send(true);
    appender.close();
    let _ = spool_task.await;
    let remaining = deadline.saturating_sub(elapsed);
    match tokio::time::timeout(remaining + Duration::from_secs(1), writer_task).await {
        Ok(joined) => {
            let report = joined.context("writer task panicked")?;
            tracing::info!(written = report.written, dead_lettered = report.dead_lettered, drained, "stopped cleanly");
        }
        Err(_) => {
            // Nothing is lost: the rest waits in the spool and is delivered at the next start.
            tracing::warn!(timeout = ?deadline, dir = %config.spool.dir.display(), "shutdown deadline missed before ClickHouse took every event; the rest stays in the spool for the next start");
        }
    }
    Ok(())
}

/// Re-opens the geo database when its file is replaced.
async fn reload_geo(geo: Arc<Geo>, metrics: Metrics, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(GEO_RELOAD_EVERY) => {}
            _ = stop.changed() => return,
        }
        match geo.reload_if_changed() {
            Ok(true) => {
                metrics.geo_build_time.set(geo.build_epoch().unwrap_or(0) as i64);
                tracing::info!(kind = geo.database_type(), build_epoch = geo.build_epoch(), "geo database reloaded")
            }
            Ok(false) => {}
            Err(error) => tracing::warn!(%error, "geo database changed but cannot be read; keeping the previous one"),
        }
    }
}

/// Runs the retention job at start and then every day (docs/privacy.md E2), with the sites of
/// the moment.
async fn enforce_retention(
    store: Store,
    live: Arc<LiveSettings>,
    clock: Arc<dyn Clock>,
    metrics: Metrics,
    dead_letters: std::path::PathBuf,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let sites = live.current();
        // Dead letters hold events too: none outlives the longest retention of any site.
        let longest = sites.sites.iter().map(|s| s.retention.days()).max().unwrap_or(0);
        let dead_letter_age = Duration::from_secs(u64::from(longest) * crate::clock::DAY);
        match store.enforce_retention(sites.sites.as_slice(), clock.now(), false).await {
            Ok(plan) => metrics.retention(&plan),
            // The next run catches up; reads are bounded by retention meanwhile.
            Err(error) => tracing::warn!(%error, "retention run failed; retrying in an hour"),
        }
        match crate::sink::files::expire_dead_letters(&dead_letters, dead_letter_age) {
            Ok(0) => {}
            Ok(removed) => tracing::info!(removed, "dead-letter files past the longest retention deleted"),
            Err(error) => tracing::warn!(%error, "cannot expire dead-letter files"),
        }
        let pause = if metrics.retention_runs.get() > 0 { RETENTION_EVERY } else { Duration::from_secs(3600) };
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = stop.changed() => return,
        }
    }
}

/// Re-reads the configuration on `SIGHUP` ([`LiveSettings::reload`]): logs what changed, what
/// needs a restart, or every error of an invalid file (which changes nothing); counts reloads.
async fn reload_on_hangup(live: Arc<LiveSettings>, store: Store, metrics: Metrics, mut stop: watch::Receiver<bool>) {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut hangups) = signal(SignalKind::hangup()) else {
        tracing::warn!("cannot listen for SIGHUP: configuration reloads are off");
        return;
    };
    loop {
        tokio::select! {
            _ = hangups.recv() => {}
            _ = stop.changed() => return,
        }
        let before = live.current().sites.iter().map(|s| s.retention.days()).max().unwrap_or(0);
        match live.reload(std::env::vars()) {
            Ok(reloaded) => {
                metrics.config_reloads.with_label_values(&["ok"]).inc();
                for change in &reloaded.applied {
                    tracing::info!(change = %change, "configuration reloaded");
                }
                if reloaded.applied.is_empty() {
                    tracing::info!("configuration reloaded: nothing changed");
                }
                for setting in &reloaded.need_restart {
                    tracing::warn!(setting = %setting, "changed in the file, but only a restart applies it; still running with the old value");
                }
                // A longer retention needs a later table TTL (the second guard) before its rows
                // get that old.
                let longest = live.current().sites.iter().map(|s| s.retention.days()).max().unwrap_or(0);
                if longest != before
                    && let Err(error) = store.set_retention_ttl(longest).await
                {
                    tracing::warn!(%error, "cannot move the retention TTL to the new longest retention");
                }
            }
            Err(errors) => {
                metrics.config_reloads.with_label_values(&["failed"]).inc();
                tracing::error!(errors = %errors, "configuration reload refused: the file is invalid; still running with the previous configuration");
            }
        }
    }
}

/// Forgets visits idle for more than 30 minutes, once a minute.
async fn sweep_visits(visits: Arc<Visits>, clock: Arc<dyn Clock>, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(60)) => {}
            _ = stop.changed() => return,
        }
        let removed = visits.sweep(clock.now());
        tracing::debug!(removed, live = visits.len(), "swept idle visits");
    }
}

/// Makes every panic log where it happened and nothing of what it said, unless that is a
/// fixed text of the code: a formatted message may quote a request (a string sliced at the
/// wrong place, a value unwrapped), and requests reach no log line. A handler's panic is
/// answered 500 by the router ([`crate::http::CatchUnwind`]).
fn quiet_panics() {
    std::panic::set_hook(Box::new(|info| {
        let location = info.location().map(|l| format!("{}:{}", l.file(), l.line())).unwrap_or_default();
        match info.payload().downcast_ref::<&'static str>() {
            Some(fixed) => tracing::error!(%location, message = fixed, "panic"),
            None => tracing::error!(%location, "panic (its message is not logged: it may quote a request)"),
        }
    }));
}

/// Resolves on SIGTERM or SIGINT.
pub async fn termination_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("install SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("install SIGINT handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}
