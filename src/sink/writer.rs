//! The writer: bounded channel → `clickhouse::inserter::Inserter` → the `events` table.
//!
//! Rows are written into the current INSERT as they arrive (the Inserter streams them), and
//! also kept in `unacknowledged` until the INSERT that carries them has ended successfully. If
//! ending it fails (ClickHouse down, network error), the writer starts a fresh INSERT with every
//! unacknowledged row after a capped, jittered back-off, so nothing accepted is lost while the
//! process lives. While it retries it reads nothing from the channel, and ingest answers 503
//! once the channel is full: overload is explicit (the request path never waits for us).
//!
//! Shutdown: [`WriterHandle::drain`] closes the channel; the writer takes what is queued,
//! ends the INSERT and returns how many rows it could not deliver.

use std::time::{Duration, Instant};

use clickhouse::inserter::Inserter;
use tokio::sync::{mpsc, oneshot};

use crate::config::SinkConfig;
use crate::event::Event;
use crate::telemetry::metrics::Metrics;

/// Events read from the channel per wake-up.
const RECV_CHUNK: usize = 1024;
/// First and longest pause between two attempts at a failed INSERT.
const BACKOFF_START: Duration = Duration::from_millis(100);
const BACKOFF_CAP: Duration = Duration::from_secs(10);

pub struct Writer {
    client: clickhouse::Client,
    limits: SinkConfig,
    metrics: Metrics,
    events: mpsc::Receiver<Event>,
    drain: oneshot::Receiver<()>,
}

/// Held by the app to stop the writer.
pub struct WriterHandle {
    drain: oneshot::Sender<()>,
}

impl WriterHandle {
    /// Asks the writer to stop reading new events once the channel is empty, and to flush.
    pub fn drain(self) {
        let _ = self.drain.send(());
    }
}

/// What the writer left behind when it stopped.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct WriterReport {
    pub written: u64,
    pub undelivered: usize,
}

impl Writer {
    pub fn new(
        client: clickhouse::Client,
        limits: SinkConfig,
        metrics: Metrics,
        events: mpsc::Receiver<Event>,
    ) -> (Writer, WriterHandle) {
        let (drain_tx, drain_rx) = oneshot::channel();
        (Writer { client, limits, metrics, events, drain: drain_rx }, WriterHandle { drain: drain_tx })
    }

    fn new_inserter(&self) -> Inserter<Event> {
        self.client
            .inserter::<Event>("events")
            .with_max_rows(self.limits.batch_max_rows)
            .with_max_bytes(self.limits.batch_max_bytes)
            .with_period(Some(self.limits.batch_period))
            .with_timeouts(Some(Duration::from_secs(10)), Some(Duration::from_secs(30)))
    }

    /// Runs until drained. `deadline_after_drain` bounds how long a flush may keep retrying once
    /// shutdown has begun.
    pub async fn run(mut self, deadline_after_drain: Duration) -> WriterReport {
        let mut inserter = self.new_inserter();
        let mut unacknowledged: Vec<Event> = Vec::new();
        let mut incoming: Vec<Event> = Vec::with_capacity(RECV_CHUNK);
        let mut report = WriterReport::default();
        let mut flush_deadline: Option<Instant> = None;
        let mut input_open = true;

        while input_open || !unacknowledged.is_empty() {
            if input_open {
                let idle = inserter.time_left().unwrap_or(self.limits.batch_period);
                tokio::select! {
                    received = self.events.recv_many(&mut incoming, RECV_CHUNK) => {
                        if received == 0 {
                            input_open = false;
                        }
                    }
                    _ = &mut self.drain, if flush_deadline.is_none() => {
                        // Senders may still hold the channel; closing it lets recv_many return 0
                        // once the queue is empty.
                        self.events.close();
                        flush_deadline = Some(Instant::now() + deadline_after_drain);
                        continue;
                    }
                    _ = tokio::time::sleep(idle) => {}
                }
            }
            self.metrics.channel_depth.set(self.events.len() as i64);

            let mut outcome = Ok(());
            for event in incoming.drain(..) {
                if outcome.is_ok() {
                    outcome = inserter.write(&event).await;
                }
                unacknowledged.push(event);
            }
            let outcome = match outcome {
                Ok(()) if !input_open => self.end_insert(&mut inserter, true).await,
                Ok(()) => self.end_insert(&mut inserter, false).await,
                Err(e) => Err(e),
            };
            match outcome {
                Ok(rows) if rows > 0 => {
                    // The INSERT that ended carried every unacknowledged row.
                    report.written += rows;
                    unacknowledged.clear();
                }
                Ok(_) => {}
                Err(error) => {
                    self.metrics.insert_failures.inc();
                    tracing::warn!(%error, rows = unacknowledged.len(), "INSERT failed; keeping the rows and retrying");
                    match self.retry(&mut inserter, &unacknowledged, flush_deadline).await {
                        Some(rows) => {
                            report.written += rows;
                            unacknowledged.clear();
                        }
                        None => {
                            report.undelivered = unacknowledged.len() + self.events.len();
                            tracing::error!(
                                undelivered = report.undelivered,
                                "shutdown deadline passed before ClickHouse took every event"
                            );
                            return report;
                        }
                    }
                }
            }
            if let Some(deadline) = flush_deadline
                && Instant::now() > deadline
                && input_open
            {
                // Past the deadline and still receiving: stop reading, deliver what we hold.
                input_open = false;
            }
        }
        match inserter.end().await {
            Ok(q) if q.rows > 0 => report.written += q.rows,
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "ending the last (empty) INSERT failed"),
        }
        report
    }

    /// Ends the current INSERT if a limit is reached (or `force`); returns the rows it carried.
    async fn end_insert(&self, inserter: &mut Inserter<Event>, force: bool) -> clickhouse::error::Result<u64> {
        if !force && inserter.pending().rows == 0 {
            // Let the period restart rather than firing an empty INSERT.
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

    /// Re-sends `rows` in fresh INSERTs until one succeeds; `None` if the deadline passes first.
    async fn retry(&self, inserter: &mut Inserter<Event>, rows: &[Event], deadline: Option<Instant>) -> Option<u64> {
        let mut attempt: u32 = 0;
        loop {
            let pause = backoff(attempt, jitter_seed());
            if let Some(deadline) = deadline
                && Instant::now() + pause > deadline
            {
                return None;
            }
            tokio::time::sleep(pause).await;
            attempt = attempt.saturating_add(1);
            *inserter = self.new_inserter();
            let mut result = Ok(());
            for row in rows {
                result = inserter.write(row).await;
                if result.is_err() {
                    break;
                }
            }
            let result = match result {
                Ok(()) => self.end_insert(inserter, true).await,
                Err(e) => Err(e),
            };
            match result {
                Ok(written) => {
                    tracing::info!(rows = written, attempts = attempt, "INSERT succeeded after retrying");
                    return Some(written);
                }
                Err(error) => {
                    self.metrics.insert_failures.inc();
                    tracing::warn!(%error, attempt, "INSERT retry failed");
                }
            }
        }
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
