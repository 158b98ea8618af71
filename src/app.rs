//! Wires the stages together and owns start-up and shutdown order.
//!
//! Start: migrate → start the writer → bind → serve.
//! Stop (SIGTERM/SIGINT, or the `shutdown` future in tests): stop accepting → finish requests in
//! flight → close the channel → flush the writer → return. All of it under
//! `shutdown_timeout`; a missed deadline is logged and reported as an error.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::config::Config;
use crate::ingest::Ingest;
use crate::server::{Routes, serve};
use crate::sink::Writer;
use crate::store;
use crate::telemetry::metrics::Metrics;

/// Runs the collector on an already bound `listener` until `shutdown` resolves.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let applied = store::migrations::apply(&config.clickhouse, store::migrations::MIGRATIONS)
        .await
        .context("applying schema migrations")?;
    tracing::info!(
        new = applied.newly_applied.len(),
        already = applied.already_applied,
        "schema up to date"
    );

    let metrics = Metrics::new();
    let client = store::client(&config.clickhouse);
    let (events_tx, events_rx) = mpsc::channel(config.ingest.channel_capacity);
    let (writer, writer_handle) = Writer::new(
        client.clone(),
        config.sink.clone(),
        metrics.clone(),
        events_rx,
    );
    let deadline = config.shutdown_timeout;
    let writer_task = tokio::spawn(writer.run(deadline));

    let routes = Arc::new(Routes {
        ingest: Ingest::new(&config, events_tx, metrics.clone()),
        metrics,
        clickhouse: client,
    });
    tracing::info!(address = %listener.local_addr()?, sites = config.sites.len(), "listening");

    let started_stopping = std::cell::Cell::new(None);
    let stopping = async {
        shutdown.await;
        started_stopping.set(Some(Instant::now()));
        tracing::info!("shutdown requested");
    };
    let drained = serve(listener, routes.clone(), stopping, deadline).await;
    let elapsed = started_stopping
        .get()
        .map(|t| t.elapsed())
        .unwrap_or_default();

    // The connections are gone; dropping the routes drops the last sender, and the writer
    // drains whatever is queued.
    drop(routes);
    writer_handle.drain();
    let remaining = deadline.saturating_sub(elapsed);
    let report = match tokio::time::timeout(
        remaining + std::time::Duration::from_secs(1),
        writer_task,
    )
    .await
    {
        Ok(joined) => joined.context("writer task panicked")?,
        Err(_) => {
            anyhow::bail!("shutdown deadline of {deadline:?} missed while flushing to ClickHouse")
        }
    };
    if report.undelivered > 0 || !drained {
        anyhow::bail!(
            "shutdown deadline of {deadline:?} missed: {} accepted events not delivered",
            report.undelivered
        );
    }
    tracing::info!(written = report.written, "stopped cleanly");
    Ok(())
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
