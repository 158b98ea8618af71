//! The writer: spool → `clickhouse::inserter::Inserter` → the `events` table.
//!
//! It reads records from the spool up to what the appender has published, streams them into
//! the current INSERT (ended at the row, byte or period limit), and after ClickHouse has
//! acknowledged an INSERT it moves the spool's cursor past those rows, which deletes finished
//! segments. When an INSERT fails, [`retry::classify`] decides: a retryable failure rewinds the
//! reader to the acknowledged position and tries again after a capped, fully jittered
//! back-off (the rows wait on disk; `/readyz` says degraded meanwhile); a data error sends the
//! batch to a dead-letter file under `spool.dir/dead-letter/` and moves on, counted.
//!
//! The writer stops once the appender has closed (shutdown) and every spooled row is delivered.
//! Rows it could not deliver stay in the spool for the next start.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clickhouse::inserter::Inserter;
use tokio::sync::watch;

use crate::config::SinkConfig;
use crate::event::Event;
use crate::sink::retry::{self, Failure};
use crate::sink::spool::{self, Position, Reader, SpoolStats, Written};
use crate::telemetry::metrics::Metrics;

/// Records read from the spool per step. Small, and the writer yields between steps: it shares
/// the runtime with the request handlers, and a long step showed as p99 latency.
const READ_CHUNK: usize = 256;
/// First and longest pause between two attempts at a failed INSERT.
const BACKOFF_START: Duration = Duration::from_millis(100);
const BACKOFF_CAP: Duration = Duration::from_secs(10);

/// Whether delivery is currently failing (for `/readyz`).
#[derive(Debug, Default)]
pub struct DeliveryHealth {
    failing: AtomicBool,
}

impl DeliveryHealth {
    pub fn is_failing(&self) -> bool {
        self.failing.load(Ordering::Relaxed)
    }
}

/// What the writer did before it stopped.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct WriterReport {
    pub written: u64,
    pub dead_lettered: u64,
}

pub struct Writer {
    client: clickhouse::Client,
    limits: SinkConfig,
    metrics: Metrics,
    spool_dir: PathBuf,
    stats: Arc<SpoolStats>,
    reader: Reader,
    written: watch::Receiver<Written>,
    health: Arc<DeliveryHealth>,
}

impl Writer {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        client: clickhouse::Client,
        limits: SinkConfig,
        metrics: Metrics,
        spool_dir: PathBuf,
        stats: Arc<SpoolStats>,
        start: Position,
        written: watch::Receiver<Written>,
        health: Arc<DeliveryHealth>,
    ) -> Writer {
        let reader = Reader::new(&spool_dir, start, stats.clone());
        Writer { client, limits, metrics, spool_dir, stats, reader, written, health }
    }

    fn new_inserter(&self) -> Inserter<Event> {
        self.client
            .inserter::<Event>("events")
            .with_max_rows(self.limits.batch_max_rows)
            .with_max_bytes(self.limits.batch_max_bytes)
            .with_period(Some(self.limits.batch_period))
            .with_timeouts(Some(Duration::from_secs(10)), Some(Duration::from_secs(30)))
    }

    /// Delivers until the spool is closed and empty.
    pub async fn run(mut self) -> WriterReport {
        let mut inserter = self.new_inserter();
        let mut acknowledged = self.reader.position();
        let mut report = WriterReport::default();
        let mut attempt: u32 = 0;
        loop {
            let written = *self.written.borrow_and_update();
            // Reads hit the page cache (the appender wrote them moments ago): cheap enough to do
            // on this task.
            let events = self.reader.read(READ_CHUNK, written);
            let caught_up = self.reader.position() >= written.end;
            let finishing = written.closed && caught_up;
            let mut outcome = Ok(());
            for event in &events {
                if let Err(e) = inserter.write(event).await {
                    outcome = Err(e);
                    break;
                }
            }
            if !events.is_empty() {
                tokio::task::yield_now().await;
            }
            if events.is_empty() && !finishing {
                let idle = inserter.time_left().unwrap_or(self.limits.batch_period);
                tokio::select! {
                    changed = self.written.changed() => {
                        if changed.is_err() {
                            // The appender thread is gone: nothing new will come; do not spin.
                            tokio::time::sleep(idle).await;
                        }
                    }
                    _ = tokio::time::sleep(idle) => {}
                }
            }
            let outcome = match outcome {
                Ok(()) => self.end_insert(&mut inserter, finishing).await,
                Err(e) => Err(e),
            };
            match outcome {
                Ok(rows) => {
                    if rows > 0 {
                        // The INSERT that ended carried every row read so far.
                        acknowledged = self.reader.position();
                        report.written += rows;
                        self.acknowledge(acknowledged);
                    }
                    if attempt > 0 {
                        tracing::info!(attempts = attempt, "ClickHouse accepts rows again");
                        attempt = 0;
                    }
                    self.health.failing.store(false, Ordering::Relaxed);
                    if finishing {
                        break;
                    }
                }
                Err(error) => {
                    let failure = retry::classify(&error);
                    self.metrics.insert_failures.with_label_values(&[failure.label()]).inc();
                    inserter = self.new_inserter();
                    match failure {
                        Failure::DeadLetter => {
                            let pending = self.reader.position();
                            let rows = self.dead_letter(acknowledged, pending, &error.to_string());
                            report.dead_lettered += rows;
                            acknowledged = pending;
                            self.acknowledge(acknowledged);
                        }
                        Failure::Retry(class) => {
                            self.health.failing.store(true, Ordering::Relaxed);
                            let pause = backoff(attempt, jitter_seed());
                            tracing::warn!(%error, class, attempt, pause_ms = pause.as_millis() as u64, "INSERT failed; the rows wait in the spool");
                            attempt = attempt.saturating_add(1);
                            self.metrics.insert_retries.inc();
                            self.reader.seek(acknowledged);
                            tokio::time::sleep(pause).await;
                            continue;
                        }
                    }
                }
            }
        }
        if let Err(error) = inserter.end().await {
            tracing::warn!(%error, "ending the last (empty) INSERT failed");
        }
        report
    }

    /// Ends the current INSERT if a limit is reached (or `force`); returns the rows it carried.
    async fn end_insert(&self, inserter: &mut Inserter<Event>, force: bool) -> clickhouse::error::Result<u64> {
        if inserter.pending().rows == 0 {
            // Let the period restart rather than sending an empty INSERT.
            inserter.commit().await?;
            return Ok(0);
        }
        let started = Instant::now();
        let quantities = if force { inserter.force_commit().await? } else { inserter.commit().await? };
        if quantities.rows > 0 {
            self.metrics.insert_duration.observe(started.elapsed().as_secs_f64());
            self.metrics.insert_batch_rows.observe(quantities.rows as f64);
            self.metrics.events_written.inc_by(quantities.rows);
        }
        Ok(quantities.rows)
    }

    fn acknowledge(&self, position: Position) {
        if let Err(error) = spool::acknowledge(&self.spool_dir, position, &self.stats) {
            // The rows are in ClickHouse; only the clean-up failed. It is retried next time.
            tracing::warn!(%error, "cannot record delivery progress in the spool");
        }
    }

    /// Writes the records between `from` and `to` to a dead-letter file; returns how many.
    fn dead_letter(&mut self, from: Position, to: Position, reason: &str) -> u64 {
        self.reader.seek(from);
        let mut rows = Vec::new();
        while self.reader.position() < to {
            let batch = self.reader.read(READ_CHUNK, Written { end: to, closed: true });
            if batch.is_empty() {
                break;
            }
            rows.extend(batch);
        }
        let dir = self.spool_dir.join("dead-letter");
        let path = dir.join(format!("{:020}-{:012}.jsonl", from.segment, from.offset));
        let mut text = String::new();
        for row in &rows {
            text.push_str(&serde_json::to_string(row).expect("events serialise"));
            text.push('\n');
        }
        let saved = std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&path, text));
        match saved {
            Ok(()) => {
                tracing::error!(rows = rows.len(), file = %path.display(), reason, "ClickHouse refused the rows as bad data; dead-lettered, not retried")
            }
            Err(error) => {
                tracing::error!(rows = rows.len(), %error, reason, "ClickHouse refused the rows as bad data and the dead-letter file could not be written")
            }
        }
        self.metrics.dead_letter_rows.inc_by(rows.len() as u64);
        rows.len() as u64
    }
}

/// Capped exponential back-off with full jitter: a pause drawn from `[0, min(cap, start·2^n)]`.
/// `seed` supplies the randomness (any u64), which keeps this a pure function for tests.
pub fn backoff(attempt: u32, seed: u64) -> Duration {
    let ceiling = BACKOFF_START.saturating_mul(1u32 << attempt.min(16)).min(BACKOFF_CAP);
    let fraction = (seed % 1_000_001) as f64 / 1_000_000.0;
    ceiling.mul_f64(fraction).max(Duration::from_millis(10))
}

fn jitter_seed() -> u64 {
    // Not security-relevant: only spreads retries of several collectors apart.
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    u64::from(nanos).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 11
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_capped_and_jittered() {
        for attempt in 0..40 {
            for seed in [0, 1, 500_000, 1_000_000, u64::MAX] {
                let pause = backoff(attempt, seed);
                assert!(pause <= BACKOFF_CAP, "attempt {attempt}: {pause:?}");
                assert!(pause >= Duration::from_millis(10));
            }
        }
        assert_eq!(backoff(0, 1_000_000), BACKOFF_START);
        assert_eq!(backoff(30, 1_000_000), BACKOFF_CAP);
        assert!(backoff(5, 250_000) < backoff(5, 750_000));
    }
}
