//! The durable spool: every accepted event is appended here before its request is answered,
//! and the writer delivers from here to ClickHouse.
//!
//! On disk, `spool.dir` holds numbered segment files (`00000000000000000001.seg`, ...) of
//! records, each `[payload length: u32 LE][CRC-32 of the payload: u32 LE][payload]`, the payload
//! being one [`Event`] in postcard encoding; and `cursor`, the position up to which ClickHouse
//! has acknowledged every row. A segment is deleted once the cursor has passed it.
//!
//! - **Appending** ([`Appender`]): request handlers encode their events, copy them into a shared
//!   buffer (bounded: `queue` appends) and wait for the write. One appender task writes whatever
//!   has gathered in one `write` call and wakes them all; `fsync` runs at most every
//!   `fsync_interval` (group commit), and at each segment switch. A process crash (even SIGKILL)
//!   loses nothing that was answered: the data is in the OS page cache. A machine crash loses at
//!   most the last `fsync_interval`. When the segments exceed `max_bytes`, appends are refused
//!   (the caller answers 503).
//! - **Reading** ([`Reader`]): the writer reads records up to the position the appender has
//!   published. A start-up always opens a new segment, so older segments never change again; a
//!   truncated or corrupt record in one (a crash mid-write) ends that segment: the records before
//!   it are delivered, the damage is counted and logged, and start-up never fails because of it.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, watch};

use crate::event::Event;

const HEADER_BYTES: usize = 8;
/// A record larger than this is damage, not an event (events are a few hundred bytes).
const MAX_RECORD_BYTES: u32 = 1 << 20;
const SEGMENT_SUFFIX: &str = ".seg";
const CURSOR_FILE: &str = "cursor";

/// A place in the spool: a segment and a byte offset in it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    pub segment: u64,
    pub offset: u64,
}

/// What the appender has written: every byte before `end` is in a file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Written {
    pub end: Position,
    /// The appender has stopped (shutdown): nothing will be written after `end`.
    pub closed: bool,
}

/// Spool settings (from `[spool]`).
#[derive(Debug, Clone)]
pub struct SpoolSettings {
    pub dir: PathBuf,
    pub max_bytes: u64,
    pub segment_bytes: u64,
    pub fsync_interval: Duration,
    /// Appends that may wait for the appender at once (the bound between ingest and spool).
    pub queue: usize,
}

/// Counters the spool keeps; the metrics module reads them.
#[derive(Debug, Default)]
pub struct SpoolStats {
    /// Appends waiting for the appender task.
    pub queued: AtomicU64,
    pub bytes: AtomicU64,
    pub segments: AtomicU64,
    pub corrupt_records: AtomicU64,
    pub fsyncs: AtomicU64,
}

/// Why an append was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AppendError {
    #[error("the spool is full")]
    Full,
    #[error("the spool queue is full")]
    Busy,
    #[error("the spool is closed")]
    Closed,
    #[error("the spool could not write")]
    Io,
}

/// Records waiting to be written, and how many appends they hold.
#[derive(Default)]
struct Pending {
    bytes: Vec<u8>,
    /// Sequence number of the last append put in `bytes`.
    last: u64,
    /// Appends waiting (for the `queue` bound).
    waiting: usize,
}

/// What the appender has written so far, for the appends waiting on it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Progress {
    /// Every append up to this sequence number has been handled.
    done: u64,
    /// Appends in `(failed_after, failed_through]` could not be written.
    failed_after: u64,
    failed_through: u64,
}

struct Shared {
    settings: SpoolSettings,
    stats: Arc<SpoolStats>,
    pending: Mutex<Pending>,
    wake: Notify,
    progress: watch::Sender<Progress>,
    closed: AtomicBool,
}

/// The request handlers' side: hands encoded events to the appender task.
#[derive(Clone)]
pub struct Appender {
    shared: Arc<Shared>,
}

/// Encodes events as spool records.
pub fn encode(events: &[Event]) -> Vec<u8> {
    let mut out = Vec::with_capacity(events.len() * 300);
    for event in events {
        let start = out.len();
        out.extend_from_slice(&[0; HEADER_BYTES]);
        out = postcard::to_extend(event, out).expect("an event always encodes");
        let len = (out.len() - start - HEADER_BYTES) as u32;
        let crc = crc32fast::hash(&out[start + HEADER_BYTES..]);
        out[start..start + 4].copy_from_slice(&len.to_le_bytes());
        out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
    }
    out
}

impl Appender {
    /// Appends `events` and waits until they are written (not necessarily fsynced). Handlers
    /// only copy bytes into a shared buffer; the appender task writes whatever has gathered in
    /// one `write` and wakes them all, so a busy collector makes one system call for many hits.
    pub async fn append(&self, events: &[Event]) -> Result<(), AppendError> {
        let records = encode(events);
        let shared = &self.shared;
        if shared.closed.load(Ordering::Acquire) {
            return Err(AppendError::Closed);
        }
        let mut progress = shared.progress.subscribe();
        let sequence = {
            let mut pending = shared.pending.lock().unwrap_or_else(|e| e.into_inner());
            if pending.waiting >= shared.settings.queue {
                return Err(AppendError::Busy);
            }
            let on_disk = shared.stats.bytes.load(Ordering::Relaxed);
            if on_disk + (pending.bytes.len() + records.len()) as u64 > shared.settings.max_bytes {
                return Err(AppendError::Full);
            }
            pending.bytes.extend_from_slice(&records);
            pending.waiting += 1;
            pending.last += 1;
            shared.stats.queued.store(pending.waiting as u64, Ordering::Relaxed);
            pending.last
        };
        shared.wake.notify_one();
        loop {
            let now = *progress.borrow_and_update();
            if now.done >= sequence {
                let failed = sequence > now.failed_after && sequence <= now.failed_through;
                return if failed { Err(AppendError::Io) } else { Ok(()) };
            }
            if progress.changed().await.is_err() {
                return Err(AppendError::Closed);
            }
        }
    }

    /// Stops taking appends; the appender task writes what is pending, syncs, and ends.
    pub fn close(&self) {
        self.shared.closed.store(true, Ordering::Release);
        self.shared.wake.notify_one();
    }
}

/// Opens the spool directory: starts the appender task on a new segment, and returns the
/// handlers' side, the published write position, the position to start reading from, and the
/// task (it ends after [`Appender::close`]). Must run inside the Tokio runtime.
pub fn open(
    settings: &SpoolSettings,
    stats: Arc<SpoolStats>,
) -> io::Result<(Appender, watch::Receiver<Written>, Position, tokio::task::JoinHandle<()>)> {
    fs::create_dir_all(&settings.dir)?;
    let segments = list_segments(&settings.dir)?;
    let cursor = read_cursor(&settings.dir).unwrap_or_default();
    // Start reading at the cursor, or at the oldest segment left if the cursor's is gone.
    let start = match segments.iter().find(|s| **s >= cursor.segment) {
        Some(&s) if s == cursor.segment => cursor,
        Some(&s) => Position { segment: s, offset: 0 },
        None => Position { segment: segments.last().map_or(1, |s| s + 1), offset: 0 },
    };
    let first_new = segments.last().map_or(1, |s| s + 1).max(start.segment);
    let (publish, written) = watch::channel(Written { end: Position { segment: first_new, offset: 0 }, closed: false });
    let shared = Arc::new(Shared {
        settings: settings.clone(),
        stats: stats.clone(),
        pending: Mutex::new(Pending::default()),
        wake: Notify::new(),
        progress: watch::channel(Progress::default()).0,
        closed: AtomicBool::new(false),
    });
    let (bytes, count) = spool_size(&settings.dir)?;
    stats.bytes.store(bytes, Ordering::Relaxed);
    stats.segments.store(count, Ordering::Relaxed);
    let file = create_segment(&settings.dir, first_new)?;
    stats.segments.fetch_add(1, Ordering::Relaxed);
    let task = AppenderTask { shared: shared.clone(), file, segment: first_new, offset: 0, dirty: false, publish };
    let handle = tokio::spawn(task.run());
    Ok((Appender { shared }, written, start, handle))
}

struct AppenderTask {
    shared: Arc<Shared>,
    file: File,
    segment: u64,
    offset: u64,
    dirty: bool,
    publish: watch::Sender<Written>,
}

impl AppenderTask {
    async fn run(mut self) {
        let interval = self.shared.settings.fsync_interval;
        let mut last_fsync = Instant::now();
        loop {
            let wait =
                if self.dirty { interval.saturating_sub(last_fsync.elapsed()) } else { Duration::from_secs(3600) };
            tokio::select! {
                () = self.shared.wake.notified() => {}
                () = tokio::time::sleep(wait) => {}
            }
            let (bytes, last) = {
                let mut pending = self.shared.pending.lock().unwrap_or_else(|e| e.into_inner());
                pending.waiting = 0;
                self.shared.stats.queued.store(0, Ordering::Relaxed);
                (std::mem::take(&mut pending.bytes), pending.last)
            };
            if !bytes.is_empty() {
                self.write(&bytes, last).await;
            }
            if self.dirty && last_fsync.elapsed() >= interval {
                self.fsync().await;
                last_fsync = Instant::now();
            }
            let drained = self.shared.pending.lock().unwrap_or_else(|e| e.into_inner()).bytes.is_empty();
            if self.shared.closed.load(Ordering::Acquire) && drained {
                break;
            }
        }
        self.fsync().await;
        self.publish.send_modify(|w| w.closed = true);
    }

    /// Writes one batch (a page-cache copy: microseconds) and tells its appends.
    async fn write(&mut self, bytes: &[u8], last: u64) {
        let previous = *self.shared.progress.borrow();
        match self.file.write_all(bytes) {
            Ok(()) => {
                self.offset += bytes.len() as u64;
                self.dirty = true;
                self.shared.stats.bytes.fetch_add(bytes.len() as u64, Ordering::Relaxed);
                let end = Position { segment: self.segment, offset: self.offset };
                self.publish.send_modify(|w| w.end = end);
                self.shared.progress.send_replace(Progress { done: last, ..previous });
            }
            Err(error) => {
                tracing::error!(%error, "spool write failed; those requests are answered 503");
                self.shared.progress.send_replace(Progress {
                    done: last,
                    failed_after: previous.done,
                    failed_through: last,
                });
            }
        }
        if self.offset >= self.shared.settings.segment_bytes
            && let Err(error) = self.rotate().await
        {
            tracing::error!(%error, "cannot open a new spool segment; continuing in the current one");
        }
    }

    async fn rotate(&mut self) -> io::Result<()> {
        self.fsync().await;
        let next = self.segment + 1;
        let dir = self.shared.settings.dir.clone();
        self.file =
            tokio::task::spawn_blocking(move || create_segment(&dir, next)).await.map_err(io::Error::other)??;
        self.segment = next;
        self.offset = 0;
        self.shared.stats.segments.fetch_add(1, Ordering::Relaxed);
        self.publish.send_modify(|w| w.end = Position { segment: next, offset: 0 });
        Ok(())
    }

    /// fsync on the blocking pool (it can take milliseconds), through a second handle.
    async fn fsync(&mut self) {
        if !self.dirty {
            return;
        }
        self.dirty = false;
        let synced = match self.file.try_clone() {
            Ok(file) => {
                tokio::task::spawn_blocking(move || file.sync_data()).await.map_err(io::Error::other).and_then(|r| r)
            }
            Err(e) => Err(e),
        };
        if let Err(error) = synced {
            tracing::error!(%error, "spool fsync failed");
        }
        self.shared.stats.fsyncs.fetch_add(1, Ordering::Relaxed);
    }
}

fn segment_path(dir: &Path, segment: u64) -> PathBuf {
    dir.join(format!("{segment:020}{SEGMENT_SUFFIX}"))
}

fn create_segment(dir: &Path, segment: u64) -> io::Result<File> {
    let file = OpenOptions::new().create(true).append(true).open(segment_path(dir, segment))?;
    // Make the new file's directory entry durable too.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(file)
}

/// Segment numbers present in `dir`, ascending.
pub fn list_segments(dir: &Path) -> io::Result<Vec<u64>> {
    let mut segments: Vec<u64> = fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str()?.strip_suffix(SEGMENT_SUFFIX)?.parse().ok())
        .collect();
    segments.sort_unstable();
    Ok(segments)
}

fn spool_size(dir: &Path) -> io::Result<(u64, u64)> {
    let mut bytes = 0;
    let segments = list_segments(dir)?;
    for s in &segments {
        bytes += fs::metadata(segment_path(dir, *s)).map(|m| m.len()).unwrap_or(0);
    }
    Ok((bytes, segments.len() as u64))
}

fn read_cursor(dir: &Path) -> Option<Position> {
    let text = fs::read_to_string(dir.join(CURSOR_FILE)).ok()?;
    let (segment, offset) = text.trim().split_once(' ')?;
    Some(Position { segment: segment.parse().ok()?, offset: offset.parse().ok()? })
}

/// Records `position` as acknowledged and deletes the segments before it. Returns the bytes freed.
pub fn acknowledge(dir: &Path, position: Position, stats: &SpoolStats) -> io::Result<u64> {
    let tmp = dir.join("cursor.tmp");
    fs::write(&tmp, format!("{} {}\n", position.segment, position.offset))?;
    fs::rename(&tmp, dir.join(CURSOR_FILE))?;
    let mut freed = 0;
    for segment in list_segments(dir)?.into_iter().filter(|s| *s < position.segment) {
        let path = segment_path(dir, segment);
        freed += fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        fs::remove_file(&path)?;
        stats.segments.fetch_sub(1, Ordering::Relaxed);
    }
    stats.bytes.fetch_sub(freed.min(stats.bytes.load(Ordering::Relaxed)), Ordering::Relaxed);
    Ok(freed)
}

/// Reads records in order from a position, never past what the appender has published.
pub struct Reader {
    dir: PathBuf,
    stats: Arc<SpoolStats>,
    position: Position,
    file: Option<BufReader<File>>,
}

impl Reader {
    pub fn new(dir: &Path, start: Position, stats: Arc<SpoolStats>) -> Reader {
        Reader { dir: dir.to_path_buf(), stats, position: start, file: None }
    }

    /// The position after the last record read.
    pub fn position(&self) -> Position {
        self.position
    }

    /// Goes back to `position` (after a failed delivery) to read those records again.
    pub fn seek(&mut self, position: Position) {
        self.position = position;
        self.file = None;
    }

    /// Reads up to `max` records, stopping at `written`. Damage in a finished segment is
    /// counted and skipped.
    pub fn read(&mut self, max: usize, written: Written) -> Vec<Event> {
        let mut events = Vec::new();
        while events.len() < max {
            let end = written.end;
            if self.position.segment > end.segment
                || (self.position.segment == end.segment && self.position.offset >= end.offset)
            {
                break;
            }
            // The segment being written is read only up to the published offset; older ones
            // to their end.
            let limit = (self.position.segment == end.segment).then_some(end.offset);
            match self.read_one(limit) {
                Ok(Some(event)) => events.push(event),
                Ok(None) => self.next_segment(end),
                Err(damage) => {
                    self.stats.corrupt_records.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(segment = self.position.segment, offset = self.position.offset, %damage, "damaged spool record: skipping the rest of the segment");
                    if limit.is_some() {
                        // Should not happen in the live segment; do not spin on it.
                        break;
                    }
                    self.next_segment(end);
                }
            }
        }
        events
    }

    fn next_segment(&mut self, end: Position) {
        let next = list_segments(&self.dir)
            .ok()
            .and_then(|all| all.into_iter().find(|s| *s > self.position.segment))
            .unwrap_or(end.segment)
            .min(end.segment);
        if next > self.position.segment {
            self.position = Position { segment: next, offset: 0 };
            self.file = None;
        } else {
            // Nothing after this segment yet.
            self.position.offset = self.position.offset.max(end.offset);
        }
    }

    /// One record, `Ok(None)` at the clean end of what may be read.
    fn read_one(&mut self, limit: Option<u64>) -> Result<Option<Event>, String> {
        if self.file.is_none() {
            let path = segment_path(&self.dir, self.position.segment);
            let mut file = match File::open(&path) {
                Ok(f) => f,
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(format!("cannot open {}: {e}", path.display())),
            };
            file.seek(SeekFrom::Start(self.position.offset)).map_err(|e| e.to_string())?;
            self.file = Some(BufReader::with_capacity(256 * 1024, file));
        }
        let file = self.file.as_mut().expect("opened above");
        let mut header = [0u8; HEADER_BYTES];
        match read_exact_or_eof(file, &mut header) {
            Ok(0) => return Ok(None),
            Ok(n) if n < HEADER_BYTES => return Err(format!("truncated header ({n} of {HEADER_BYTES} bytes)")),
            Ok(_) => {}
            Err(e) => return Err(e.to_string()),
        }
        let len = u32::from_le_bytes(header[..4].try_into().expect("4 bytes"));
        let crc = u32::from_le_bytes(header[4..].try_into().expect("4 bytes"));
        if len == 0 || len > MAX_RECORD_BYTES {
            return Err(format!("impossible record length {len}"));
        }
        let end = self.position.offset + HEADER_BYTES as u64 + u64::from(len);
        if limit.is_some_and(|l| end > l) {
            return Err("record beyond the written end".into());
        }
        let mut payload = vec![0u8; len as usize];
        match read_exact_or_eof(file, &mut payload) {
            Ok(n) if n < payload.len() => return Err(format!("truncated record ({n} of {len} bytes)")),
            Ok(_) => {}
            Err(e) => return Err(e.to_string()),
        }
        if crc32fast::hash(&payload) != crc {
            return Err("checksum mismatch".into());
        }
        let event: Event = postcard::from_bytes(&payload).map_err(|e| format!("undecodable record: {e}"))?;
        self.position.offset = end;
        Ok(Some(event))
    }
}

/// Like `read_exact`, but returns how many bytes were read when the file ends first.
fn read_exact_or_eof(file: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Writes `events` as a finished segment numbered `segment` (for tools and tests).
pub fn write_segment(dir: &Path, segment: u64, events: &[Event]) -> io::Result<PathBuf> {
    fs::create_dir_all(dir)?;
    let path = segment_path(dir, segment);
    fs::write(&path, encode(events))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(i: u32) -> Event {
        Event { site_id: 1, timestamp: i, url_path: format!("/p/{i}"), ..Event::default() }
    }

    fn settings(dir: &Path) -> SpoolSettings {
        SpoolSettings {
            dir: dir.to_path_buf(),
            max_bytes: 1 << 30,
            segment_bytes: 4096,
            fsync_interval: Duration::from_millis(10),
            queue: 1024,
        }
    }

    #[tokio::test]
    async fn appended_events_are_read_back_in_order_across_segments() {
        let dir = tempfile::tempdir().unwrap();
        let stats = Arc::new(SpoolStats::default());
        let (appender, written, start, task) = open(&settings(dir.path()), stats.clone()).unwrap();
        for i in 0..200 {
            appender.append(&[event(i)]).await.unwrap();
        }
        appender.close();
        task.await.unwrap();
        let written = *written.borrow();
        assert!(written.closed);
        assert!(list_segments(dir.path()).unwrap().len() > 1, "the segments rotated");
        let mut reader = Reader::new(dir.path(), start, stats.clone());
        let events = reader.read(1000, written);
        assert_eq!(events.len(), 200);
        assert!(events.iter().enumerate().all(|(i, e)| e.timestamp == i as u32));
        assert_eq!(reader.position(), written.end);
        // Acknowledging deletes every finished segment.
        acknowledge(dir.path(), reader.position(), &stats).unwrap();
        assert_eq!(list_segments(dir.path()).unwrap(), vec![written.end.segment]);
        assert_eq!(read_cursor(dir.path()), Some(written.end));
    }

    #[test]
    fn a_truncated_record_ends_its_segment_and_is_counted() {
        let dir = tempfile::tempdir().unwrap();
        let events: Vec<Event> = (0..10).map(event).collect();
        let path = write_segment(dir.path(), 1, &events).unwrap();
        write_segment(dir.path(), 2, &[event(100)]).unwrap();
        // Cut record 8 (0-based 7) in the middle.
        let bytes = fs::read(&path).unwrap();
        let mut offset = 0;
        for _ in 0..7 {
            let len = u32::from_le_bytes(bytes[offset..offset + 4].try_into().unwrap()) as usize;
            offset += HEADER_BYTES + len;
        }
        fs::write(&path, &bytes[..offset + 5]).unwrap();
        let stats = Arc::new(SpoolStats::default());
        let mut reader = Reader::new(dir.path(), Position { segment: 1, offset: 0 }, stats.clone());
        let all = reader.read(100, Written { end: Position { segment: 3, offset: 0 }, closed: true });
        let stamps: Vec<u32> = all.iter().map(|e| e.timestamp).collect();
        assert_eq!(stamps, vec![0, 1, 2, 3, 4, 5, 6, 100]);
        assert_eq!(stats.corrupt_records.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn a_flipped_byte_is_caught_by_the_checksum() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_segment(dir.path(), 1, &[event(1), event(2)]).unwrap();
        let mut bytes = fs::read(&path).unwrap();
        let last = bytes.len() - 3;
        bytes[last] ^= 0xff;
        fs::write(&path, bytes).unwrap();
        let stats = Arc::new(SpoolStats::default());
        let mut reader = Reader::new(dir.path(), Position { segment: 1, offset: 0 }, stats.clone());
        let all = reader.read(10, Written { end: Position { segment: 2, offset: 0 }, closed: true });
        assert_eq!(all.len(), 1);
        assert_eq!(stats.corrupt_records.load(Ordering::Relaxed), 1);
    }

    #[tokio::test]
    async fn a_full_spool_refuses() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = settings(dir.path());
        s.max_bytes = 2000;
        let stats = Arc::new(SpoolStats::default());
        let (appender, _written, _start, _task) = open(&s, stats).unwrap();
        let mut refused = 0;
        for i in 0..100 {
            if appender.append(&[event(i)]).await == Err(AppendError::Full) {
                refused += 1;
            }
        }
        assert!(refused > 50, "{refused}");
    }

    #[tokio::test]
    async fn reading_resumes_from_the_cursor_after_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let stats = SpoolStats::default();
        write_segment(dir.path(), 1, &[event(1), event(2)]).unwrap();
        write_segment(dir.path(), 2, &[event(3)]).unwrap();
        acknowledge(dir.path(), Position { segment: 2, offset: 0 }, &stats).unwrap();
        let (_appender, written, start, _thread) =
            open(&settings(dir.path()), Arc::new(SpoolStats::default())).unwrap();
        assert_eq!(start, Position { segment: 2, offset: 0 });
        assert_eq!(written.borrow().end.segment, 3, "a start-up writes to a new segment");
        let mut reader = Reader::new(dir.path(), start, Arc::new(SpoolStats::default()));
        let events = reader.read(10, *written.borrow());
        assert_eq!(events.iter().map(|e| e.timestamp).collect::<Vec<_>>(), vec![3]);
    }
}
