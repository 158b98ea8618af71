//! The durable spool: every accepted event is appended here before its request is answered,
//! and the writer delivers from here to ClickHouse.
//!
//! On disk, `spool.dir` holds numbered segment files (`00000000000000000001.seg`, ...) of
//! records, each `[payload length: u32 LE][CRC-32 of the payload: u32 LE][payload]`, the payload
//! being one [`Event`] as a RowBinary row ([`Event::write_row_binary`]: exactly the bytes
//! ClickHouse takes, so the writer copies them into its INSERT without decoding); `cursor`, the
//! position up to which ClickHouse has acknowledged every row; and `format`, naming the record
//! layout (see [`check_format`]). A segment is deleted once the cursor has passed it.
//!
//! - **Appending** ([`Appender::append`]): the request handler encodes its events and writes them
//!   to the current segment itself, under a mutex held for one `write` call (a copy into the page
//!   cache, well under a microsecond for an event here), so an answer never waits for another
//!   task. A sync task runs `fsync` at most every `fsync_interval` (group commit), also for
//!   segments finished since its last run. A process crash (even SIGKILL) loses nothing that
//!   was answered: the data is in the OS page cache. A machine crash loses at most the last
//!   `fsync_interval`. When the segments exceed `max_bytes`, appends are refused (the caller
//!   answers 503). (An earlier design queued appends for one appender task and woke the
//!   handlers after its write: the hand-off cost more than the write and showed as p99 latency.)
//! - **Reading** ([`Reader`]): the writer reads records up to the position the appender has
//!   published. A start-up always opens a new segment, so older segments never change again; a
//!   truncated or corrupt record in one (a crash mid-write) ends that segment: the records before
//!   it are delivered, the damage is counted and logged, and start-up never fails because of it.

use std::fs::{self, File};

use crate::sink::files;
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, watch};

use crate::event::Event;

const HEADER_BYTES: usize = 8;
/// A record larger than this is damage, not an event (events are a few hundred bytes).
const MAX_RECORD_BYTES: u32 = 1 << 20;
const SEGMENT_SUFFIX: &str = ".seg";
const CURSOR_FILE: &str = "cursor";
/// Names the record format and row layout the segments were written in (see [`check_format`]).
const FORMAT_FILE: &str = "format";

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
}

/// The counters the spool keeps (they belong to the metrics module, which reads them).
pub use crate::telemetry::metrics::SpoolStats;

/// Why an append was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AppendError {
    #[error("the spool is full")]
    Full,
    #[error("the spool is closed")]
    Closed,
    #[error("the spool could not write")]
    Io,
}

/// The segment being written, and what the sync task still owes the disk.
struct Active {
    file: File,
    segment: u64,
    offset: u64,
    /// Written since the last fsync.
    dirty: bool,
    /// Segments finished since the last fsync (they still need theirs), and whether the
    /// directory gained a file.
    retired: Vec<File>,
    new_entry: bool,
    closed: bool,
}

struct Shared {
    settings: SpoolSettings,
    stats: Arc<SpoolStats>,
    active: Mutex<Active>,
    /// Tells the sync task to run now (at close).
    wake: Notify,
    publish: watch::Sender<Written>,
}

/// The request handlers' side: appends encoded events to the current segment.
#[derive(Clone)]
pub struct Appender {
    shared: Arc<Shared>,
}

/// Encodes events as spool records.
pub fn encode(events: &[Event]) -> Vec<u8> {
    let mut out = Vec::with_capacity(events.len() * 400);
    for event in events {
        let start = out.len();
        out.extend_from_slice(&[0; HEADER_BYTES]);
        event.write_row_binary(&mut out);
        let len = (out.len() - start - HEADER_BYTES) as u32;
        let crc = crc32fast::hash(&out[start + HEADER_BYTES..]);
        out[start..start + 4].copy_from_slice(&len.to_le_bytes());
        out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
    }
    out
}

impl Appender {
    /// Appends `events` (all or none) to the spool: when this returns `Ok`, they are in a file
    /// (not necessarily fsynced) and the writer has been told.
    pub fn append(&self, events: &[Event]) -> Result<(), AppendError> {
        let records = encode(events);
        let shared = &self.shared;
        let mut active = shared.active.lock().unwrap_or_else(|e| e.into_inner());
        if active.closed {
            return Err(AppendError::Closed);
        }
        if shared.stats.bytes.load(Ordering::Relaxed) + records.len() as u64 > shared.settings.max_bytes {
            return Err(AppendError::Full);
        }
        if let Err(error) = active.file.write_all(&records) {
            tracing::error!(%error, "spool write failed; the request is answered 503");
            // Part of the records may be in the file: finish this segment there, so the reader
            // meets the damage at the end of a finished segment and skips it.
            self.rotate(&mut active);
            return Err(AppendError::Io);
        }
        active.offset += records.len() as u64;
        active.dirty = true;
        shared.stats.bytes.fetch_add(records.len() as u64, Ordering::Relaxed);
        if active.offset >= shared.settings.segment_bytes {
            self.rotate(&mut active);
        }
        // Published under the lock, so the writer only ever sees the end move forward.
        let end = Position { segment: active.segment, offset: active.offset };
        shared.publish.send_modify(|w| w.end = end);
        Ok(())
    }

    /// Starts a new segment; the finished one is fsynced by the sync task. On failure the
    /// current segment stays in use.
    fn rotate(&self, active: &mut Active) {
        let next = active.segment + 1;
        match open_segment(&self.shared.settings.dir, next) {
            Ok(file) => {
                let finished = std::mem::replace(&mut active.file, file);
                active.retired.push(finished);
                active.new_entry = true;
                active.segment = next;
                active.offset = 0;
                self.shared.stats.segments.fetch_add(1, Ordering::Relaxed);
                self.shared.publish.send_modify(|w| w.end = Position { segment: next, offset: 0 });
            }
            Err(error) => {
                tracing::error!(%error, "cannot open a new spool segment; continuing in the current one")
            }
        }
    }

    /// Stops taking appends; the sync task syncs what was written and ends.
    pub fn close(&self) {
        self.shared.active.lock().unwrap_or_else(|e| e.into_inner()).closed = true;
        self.shared.wake.notify_one();
    }
}

/// Opens the spool directory: starts the sync task on a new segment, and returns the handlers'
/// side, the published write position, the position to start reading from, and the sync task
/// (it ends after [`Appender::close`]). Must run inside the Tokio runtime.
pub fn open(
    settings: &SpoolSettings,
    stats: Arc<SpoolStats>,
) -> io::Result<(Appender, watch::Receiver<Written>, Position, tokio::task::JoinHandle<()>)> {
    files::private_dir(&settings.dir)?;
    let segments = list_segments(&settings.dir)?;
    let cursor = read_cursor(&settings.dir).unwrap_or_default();
    check_format(&settings.dir, &segments, cursor)?;
    // Start reading at the cursor, or at the oldest segment left if the cursor's is gone.
    let start = match segments.iter().find(|s| **s >= cursor.segment) {
        Some(&s) if s == cursor.segment => cursor,
        Some(&s) => Position { segment: s, offset: 0 },
        None => Position { segment: segments.last().map_or(1, |s| s + 1), offset: 0 },
    };
    let first_new = segments.last().map_or(1, |s| s + 1).max(start.segment);
    let (publish, written) = watch::channel(Written { end: Position { segment: first_new, offset: 0 }, closed: false });
    let (bytes, count) = spool_size(&settings.dir)?;
    stats.bytes.store(bytes, Ordering::Relaxed);
    stats.segments.store(count + 1, Ordering::Relaxed);
    let file = open_segment(&settings.dir, first_new)?;
    let active = Active {
        file,
        segment: first_new,
        offset: 0,
        dirty: false,
        retired: Vec::new(),
        new_entry: true,
        closed: false,
    };
    let shared = Arc::new(Shared {
        settings: settings.clone(),
        stats,
        active: Mutex::new(active),
        wake: Notify::new(),
        publish,
    });
    let task = tokio::spawn(sync_task(shared.clone()));
    Ok((Appender { shared }, written, start, task))
}

/// Every `fsync_interval`, fsyncs what was written since the last time; after
/// [`Appender::close`], a last time, then publishes that the spool is closed.
async fn sync_task(shared: Arc<Shared>) {
    loop {
        tokio::select! {
            () = shared.wake.notified() => {}
            () = tokio::time::sleep(shared.settings.fsync_interval) => {}
        }
        if sync(&shared).await {
            break;
        }
    }
    shared.publish.send_modify(|w| w.closed = true);
}

/// One group commit: fsync on the blocking pool (it can take milliseconds), through second
/// handles, so appends go on meanwhile. Returns whether the spool is closed.
async fn sync(shared: &Shared) -> bool {
    let (files, new_entry, closed) = {
        let mut active = shared.active.lock().unwrap_or_else(|e| e.into_inner());
        let mut files = std::mem::take(&mut active.retired);
        if std::mem::take(&mut active.dirty) {
            match active.file.try_clone() {
                Ok(file) => files.push(file),
                Err(error) => tracing::error!(%error, "spool fsync failed"),
            }
        }
        (files, std::mem::take(&mut active.new_entry), active.closed)
    };
    if files.is_empty() && !new_entry {
        return closed;
    }
    let dir = shared.settings.dir.clone();
    let synced = tokio::task::spawn_blocking(move || {
        for file in files {
            file.sync_data()?;
        }
        if new_entry {
            // A new segment's directory entry must be durable too.
            File::open(&dir)?.sync_all()?;
        }
        Ok::<(), io::Error>(())
    })
    .await
    .map_err(io::Error::other)
    .and_then(|r| r);
    if let Err(error) = synced {
        tracing::error!(%error, "spool fsync failed");
    }
    shared.stats.fsyncs.fetch_add(1, Ordering::Relaxed);
    closed
}

fn format_text() -> String {
    format!("mesure spool 2: CRC-checked RowBinary rows of events({})\n", crate::event::COLUMNS)
}

/// The writer copies records into INSERTs unread, so records in another layout (an older
/// mesure's, or a build with other columns) would be stored as garbage. If undelivered records
/// exist and the format file does not name this build's layout, opening fails and says what to
/// do; otherwise the format file is (re)written.
fn check_format(dir: &Path, segments: &[u64], cursor: Position) -> io::Result<()> {
    let expected = format_text();
    if fs::read_to_string(dir.join(FORMAT_FILE)).ok().as_deref() == Some(expected.as_str()) {
        return Ok(());
    }
    let undelivered = segments.iter().any(|&segment| {
        segment > cursor.segment
            || (segment == cursor.segment
                && fs::metadata(segment_path(dir, segment)).is_ok_and(|m| m.len() > cursor.offset))
    });
    if undelivered {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "{} holds undelivered events in another record format or column layout (written by another \
                 version of mesure); deliver them with that version, or move the directory away, before starting \
                 this one",
                dir.display()
            ),
        ));
    }
    let tmp = dir.join("format.tmp");
    files::write_private(&tmp, expected)?;
    fs::rename(&tmp, dir.join(FORMAT_FILE))
}

fn segment_path(dir: &Path, segment: u64) -> PathBuf {
    dir.join(format!("{segment:020}{SEGMENT_SUFFIX}"))
}

fn open_segment(dir: &Path, segment: u64) -> io::Result<File> {
    files::append_private(&segment_path(dir, segment))
}

/// Segment numbers present in `dir`, ascending.
pub(crate) fn list_segments(dir: &Path) -> io::Result<Vec<u64>> {
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
pub(crate) fn acknowledge(dir: &Path, position: Position, stats: &SpoolStats) -> io::Result<u64> {
    let tmp = dir.join("cursor.tmp");
    files::write_private(&tmp, format!("{} {}\n", position.segment, position.offset))?;
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
pub(crate) struct Reader {
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
    pub(crate) fn seek(&mut self, position: Position) {
        self.position = position;
        self.file = None;
    }

    /// Reads up to `max` records, stopping at `written`, and appends their payloads (RowBinary
    /// rows) to `out`; returns how many. Damage in a finished segment is counted and skipped.
    pub(crate) fn read_into(&mut self, max: usize, written: Written, out: &mut Vec<u8>) -> usize {
        let mut records = 0;
        while records < max {
            let end = written.end;
            if self.position.segment > end.segment
                || (self.position.segment == end.segment && self.position.offset >= end.offset)
            {
                break;
            }
            // The segment being written is read only up to the published offset; older ones
            // to their end.
            let limit = (self.position.segment == end.segment).then_some(end.offset);
            match self.read_one(limit, out) {
                Ok(true) => records += 1,
                Ok(false) => self.next_segment(end),
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
        records
    }

    /// Reads up to `max` records as events (for dead-letter files and tests). A record that
    /// passed its checksum but does not decode is counted as damage and left out.
    pub fn read(&mut self, max: usize, written: Written) -> Vec<Event> {
        let mut bytes = Vec::new();
        let count = self.read_into(max, written, &mut bytes);
        let mut rest = bytes.as_slice();
        let mut events = Vec::with_capacity(count);
        while !rest.is_empty() {
            match Event::read_row_binary(&mut rest) {
                Ok(event) => events.push(event),
                Err(damage) => {
                    self.stats.corrupt_records.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(%damage, "undecodable spool record");
                    break;
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

    /// One record appended to `out`, `Ok(false)` at the clean end of what may be read. On
    /// damage `out` is left as it was.
    fn read_one(&mut self, limit: Option<u64>, out: &mut Vec<u8>) -> Result<bool, String> {
        if self.file.is_none() {
            let path = segment_path(&self.dir, self.position.segment);
            let mut file = match File::open(&path) {
                Ok(f) => f,
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
                Err(e) => return Err(format!("cannot open {}: {e}", path.display())),
            };
            file.seek(SeekFrom::Start(self.position.offset)).map_err(|e| e.to_string())?;
            self.file = Some(BufReader::with_capacity(256 * 1024, file));
        }
        let file = self.file.as_mut().expect("opened above");
        let mut header = [0u8; HEADER_BYTES];
        match read_exact_or_eof(file, &mut header) {
            Ok(0) => return Ok(false),
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
        let start = out.len();
        out.resize(start + len as usize, 0);
        let damage = match read_exact_or_eof(file, &mut out[start..]) {
            Ok(n) if n < len as usize => Some(format!("truncated record ({n} of {len} bytes)")),
            Ok(_) if crc32fast::hash(&out[start..]) != crc => Some("checksum mismatch".into()),
            Ok(_) => None,
            Err(e) => Some(e.to_string()),
        };
        if let Some(damage) = damage {
            out.truncate(start);
            return Err(damage);
        }
        self.position.offset = end;
        Ok(true)
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
    files::private_dir(dir)?;
    files::write_private(&dir.join(FORMAT_FILE), format_text())?;
    let path = segment_path(dir, segment);
    files::write_private(&path, encode(events))?;
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
        }
    }

    #[tokio::test]
    async fn appended_events_are_read_back_in_order_across_segments() {
        let dir = tempfile::tempdir().unwrap();
        let stats = Arc::new(SpoolStats::default());
        let (appender, written, start, task) = open(&settings(dir.path()), stats.clone()).unwrap();
        for i in 0..200 {
            appender.append(&[event(i)]).unwrap();
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
            if appender.append(&[event(i)]) == Err(AppendError::Full) {
                refused += 1;
            }
        }
        assert!(refused > 50, "{refused}");
    }

    #[tokio::test]
    async fn undelivered_records_in_another_layout_stop_the_start() {
        let dir = tempfile::tempdir().unwrap();
        write_segment(dir.path(), 1, &[event(1)]).unwrap();
        // An older build's spool: same records, another column list in the format file.
        fs::write(dir.path().join(FORMAT_FILE), "mesure spool 2: CRC-checked RowBinary rows of events(site_id)\n")
            .unwrap();
        let error = open(&settings(dir.path()), Arc::new(SpoolStats::default())).err().expect("refused");
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
        assert!(error.to_string().contains("undelivered events"), "{error}");
        // Once they are delivered (the cursor past them), the spool opens and takes the new format.
        let end = fs::metadata(segment_path(dir.path(), 1)).unwrap().len();
        acknowledge(dir.path(), Position { segment: 1, offset: end }, &SpoolStats::default()).unwrap();
        let (_appender, _written, _start, _task) =
            open(&settings(dir.path()), Arc::new(SpoolStats::default())).unwrap();
        assert_eq!(fs::read_to_string(dir.path().join(FORMAT_FILE)).unwrap(), format_text());
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
