//! The writer: spool → `INSERT INTO events FORMAT RowBinary` → ClickHouse.
//!
//! It reads records from the spool up to the end the spool has published and streams their
//! bytes, unchanged, into the current INSERT: a spool record already is a RowBinary row, so
//! delivery decodes nothing and allocates nothing per event. An INSERT ends at the row, byte or
//! period limit (`[sink]`); after ClickHouse has
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

use clickhouse::insert_formatted::InsertFormatted;
use tokio::sync::watch;

use crate::config::SinkConfig;
use crate::event::Event;
use crate::sink::files;
use crate::sink::retry::{self, Failure};
use crate::sink::spool::{self, Position, Reader, SpoolStats, Written};
use crate::store::Store;
use crate::telemetry::metrics::Metrics;

/// Records read from the spool per step. The writer yields between steps: it shares the runtime
/// with the request handlers, and a long step shows as their p99 latency.
const READ_CHUNK: usize = 64;
/// Bytes handed to the INSERT at once. Compressing and queueing a chunk runs in one go on the
/// request runtime, so chunks stay small (runs of 0.4 ms at 128 KiB showed in the half-load tail;
/// LZ4 still finds its matches in 32 KiB).
const SEND_CHUNK_BYTES: usize = 32 * 1024;
/// First and longest pause between two attempts at a failed INSERT.
const BACKOFF_START: Duration = Duration::from_millis(100);
const BACKOFF_CAP: Duration = Duration::from_secs(10);

/// Whether delivery is currently failing (for `/readyz`).
#[derive(Debug, Default)]
pub struct DeliveryHealth {
    failing: AtomicBool,
}

impl DeliveryHealth {
    pub(crate) fn is_failing(&self) -> bool {
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
    store: Store,
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
        store: Store,
        limits: SinkConfig,
        metrics: Metrics,
        spool_dir: PathBuf,
        stats: Arc<SpoolStats>,
        start: Position,
        written: watch::Receiver<Written>,
        health: Arc<DeliveryHealth>,
    ) -> Writer {
        let reader = Reader::new(&spool_dir, start, stats.clone());
        Writer { store, limits, metrics, spool_dir, stats, reader, written, health }
    }

    /// The INSERT for a new batch ([`Store::insert_events`]).
    fn new_batch(&self) -> Batch {
        let insert = self.store.insert_events(Duration::from_secs(10), Duration::from_secs(30));
        Batch { insert, rows: 0, bytes: 0, started: Instant::now() }
    }

    /// Delivers until the spool is closed and empty.
    pub async fn run(mut self) -> WriterReport {
        let mut batch: Option<Batch> = None;
        // Rows read but not yet handed to the INSERT.
        let mut buffer = Vec::with_capacity(SEND_CHUNK_BYTES + 4096);
        let mut acknowledged = self.reader.position();
        let mut report = WriterReport::default();
        let mut attempt: u32 = 0;
        loop {
            let written = *self.written.borrow_and_update();
            // Reads hit the page cache (the appender wrote them moments ago): cheap enough to do
            // on this task.
            let before = buffer.len();
            let read = self.reader.read_into(READ_CHUNK, written, &mut buffer);
            let finishing = written.closed && self.reader.position() >= written.end;
            if read > 0 {
                let open = batch.get_or_insert_with(|| self.new_batch());
                open.rows += read as u64;
                open.bytes += (buffer.len() - before) as u64;
            }
            let due = batch.as_ref().is_some_and(|b| finishing || b.is_due(&self.limits));
            let mut outcome = Ok(0);
            if let Some(open) = batch.as_mut()
                && (buffer.len() >= SEND_CHUNK_BYTES || due)
                && !buffer.is_empty()
            {
                let chunk = std::mem::replace(&mut buffer, Vec::with_capacity(SEND_CHUNK_BYTES + 4096));
                outcome = open.insert.send(chunk.into()).await.map(|()| 0);
            }
            if outcome.is_ok() && due {
                outcome = self.end_batch(batch.take().expect("a due batch is open")).await;
            }
            if read > 0 {
                tokio::task::yield_now().await;
            } else if !finishing && outcome.is_ok() && !due {
                // Caught up: wait for new records, or for the open batch's period to run out.
                let idle = batch.as_ref().map_or(self.limits.batch_period, |b| b.time_left(&self.limits));
                tokio::select! {
                    changed = self.written.changed() => {
                        if changed.is_err() {
                            // The spool is gone: nothing new will come; do not spin.
                            tokio::time::sleep(idle).await;
                        }
                    }
                    _ = tokio::time::sleep(idle) => {}
                }
            }
            match outcome {
                Ok(rows) => {
                    if rows > 0 {
                        // The INSERT that ended carried every row read so far.
                        acknowledged = self.reader.position();
                        report.written += rows;
                        self.acknowledge(acknowledged).await;
                    }
                    if attempt > 0 {
                        tracing::info!(attempts = attempt, "ClickHouse accepts rows again");
                        attempt = 0;
                    }
                    self.health.failing.store(false, Ordering::Relaxed);
                    if finishing && batch.is_none() {
                        break;
                    }
                }
                Err(error) => {
                    let failure = retry::classify(&error);
                    self.metrics.insert_failures.with_label_values(&[failure.label()]).inc();
                    // Dropping an unfinished INSERT aborts it: ClickHouse stores none of it.
                    batch = None;
                    buffer.clear();
                    match failure {
                        Failure::DeadLetter => {
                            let pending = self.reader.position();
                            let rows = self.dead_letter(acknowledged, pending, &error.to_string());
                            report.dead_lettered += rows;
                            acknowledged = pending;
                            self.acknowledge(acknowledged).await;
                        }
                        Failure::SplitByPartition => {
                            let pending = self.reader.position();
                            let (rows, reached, result) = self.deliver_by_partition(acknowledged, pending).await;
                            report.written += rows;
                            acknowledged = reached;
                            if let Err(error) = result {
                                // Whatever failed now is retried as usual, from where the split got.
                                let failure = retry::classify(&error);
                                self.metrics.insert_failures.with_label_values(&[failure.label()]).inc();
                                tracing::warn!(%error, "INSERT of a partition group failed; the rows wait in the spool");
                                self.reader.seek(acknowledged);
                                tokio::time::sleep(backoff(attempt, jitter_seed())).await;
                                attempt = attempt.saturating_add(1);
                            }
                            continue;
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
        report
    }

    /// Ends an INSERT (ClickHouse answers once the rows are stored); returns the rows it carried.
    async fn end_batch(&self, batch: Batch) -> clickhouse::error::Result<u64> {
        let started = Instant::now();
        batch.insert.end().await?;
        self.metrics.insert_duration.observe(started.elapsed().as_secs_f64());
        self.metrics.insert_batch_rows.observe(batch.rows as f64);
        self.metrics.events_written.inc_by(batch.rows);
        Ok(batch.rows)
    }

    /// Records delivery progress and deletes finished segments, on the blocking pool: renaming
    /// over the old cursor and deleting a segment free disk blocks, which waits for the device
    /// on a filesystem mounted with `discard` (seen here: milliseconds that stalled every
    /// request on the runtime).
    async fn acknowledge(&self, position: Position) {
        let (dir, stats) = (self.spool_dir.clone(), self.stats.clone());
        let done = tokio::task::spawn_blocking(move || spool::acknowledge(&dir, position, &stats)).await;
        if let Err(error) = done.map_err(std::io::Error::other).and_then(|r| r) {
            // The rows are in ClickHouse; only the clean-up failed. It is retried next time.
            tracing::warn!(%error, "cannot record delivery progress in the spool");
        }
    }

    /// Delivers the records between `from` and `to` in INSERTs of at most
    /// [`PARTITIONS_PER_INSERT`] partitions each, in spool order, acknowledging each one: a
    /// failure part-way loses nothing and duplicates nothing. Returns the rows written, the
    /// position acknowledged, and the failure if there was one.
    async fn deliver_by_partition(
        &mut self,
        from: Position,
        to: Position,
    ) -> (u64, Position, clickhouse::error::Result<()>) {
        self.reader.seek(from);
        let (mut written, mut acknowledged) = (0, from);
        let mut rows: Vec<Event> = Vec::new();
        let mut partitions: Vec<(u16, u32)> = Vec::new();
        loop {
            let before = self.reader.position();
            let next = if before < to { self.reader.read(1, Written { end: to, closed: true }) } else { Vec::new() };
            let partition = next.first().map(|e| (e.retention_days, e.timestamp / 86_400));
            let full = partition.is_some_and(|p| !partitions.contains(&p) && partitions.len() >= PARTITIONS_PER_INSERT);
            if (next.is_empty() || full) && !rows.is_empty() {
                let mut body = Vec::new();
                for row in &rows {
                    row.write_row_binary(&mut body);
                }
                let mut insert = self.store.insert_events(Duration::from_secs(10), Duration::from_secs(30));
                let sent = match insert.send(body.into()).await {
                    Ok(()) => insert.end().await,
                    Err(error) => Err(error),
                };
                if let Err(error) = sent {
                    return (written, acknowledged, Err(error));
                }
                self.metrics.events_written.inc_by(rows.len() as u64);
                written += rows.len() as u64;
                acknowledged = before;
                self.acknowledge(acknowledged).await;
                rows.clear();
                partitions.clear();
            }
            let Some(partition) = partition else { break };
            if !partitions.contains(&partition) {
                partitions.push(partition);
            }
            rows.extend(next);
        }
        tracing::info!(rows = written, "a batch over ClickHouse's partition limit was delivered split by partition");
        (written, acknowledged, Ok(()))
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
        let dir = self.spool_dir.join(files::DEAD_LETTER_DIR);
        let path = dir.join(format!("{:020}-{:012}.jsonl", from.segment, from.offset));
        let mut text = String::new();
        for row in &rows {
            text.push_str(&serde_json::to_string(row).expect("events serialise"));
            text.push('\n');
        }
        let saved = files::private_dir(&dir).and_then(|()| files::write_private(&path, text));
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

/// Partitions (retention × UTC day) in one INSERT when a batch is split: half ClickHouse's
/// default `max_partitions_per_insert_block` (100), since the server's days may not be UTC's.
const PARTITIONS_PER_INSERT: usize = 50;

/// One INSERT in progress and what it carries so far.
struct Batch {
    insert: InsertFormatted,
    rows: u64,
    /// RowBinary bytes, before compression.
    bytes: u64,
    started: Instant,
}

impl Batch {
    fn is_due(&self, limits: &SinkConfig) -> bool {
        self.rows >= limits.batch_max_rows || self.bytes >= limits.batch_max_bytes || self.time_left(limits).is_zero()
    }

    fn time_left(&self, limits: &SinkConfig) -> Duration {
        limits.batch_period.saturating_sub(self.started.elapsed())
    }
}

/// Capped exponential back-off with full jitter: a pause drawn from `[0, min(cap, start·2^n)]`.
/// `seed` supplies the randomness (any u64), which keeps this a pure function for tests.
pub(crate) fn backoff(attempt: u32, seed: u64) -> Duration {
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
