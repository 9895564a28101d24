//! The file backend: append-only segment files of checksummed records.
//!
//! A stream directory holds `NNNNNNNNNNNNNNNNNNNN.seg` files, numbered in the order they were
//! created, which is the order their records must be replayed in. Appends go to the last segment through a buffer; [`Store::sync`]
//! writes the buffer, fsyncs the segment, and — when a segment was created since the last sync —
//! fsyncs the directory too, because a file whose directory entry is not durable is lost by a
//! power cut. Deletes and purges are records too, so a replay of the segments rebuilds the
//! exact state.
//!
//! **Invariant:** nothing is acknowledged by the caller before `sync` returns, and `sync`
//! returns only after data and directory entries are durable.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use bytes::Bytes;

use std::cell::Cell;

use crate::file_index::{FileIndex, Loc};
use crate::record::{self, Decoded, Kind};
use crate::{Store, StoreError, StoredMsg, StreamState, SyncJob};

/// Payloads shorter than this are stored as they are even when compression is on.
const COMPRESS_MIN: usize = 64;

/// The index snapshot written at a clean close.
const SNAPSHOT: &str = "index.snap";
/// Version 2 adds the last message time; a version-1 snapshot is ignored (replayed).
const SNAPSHOT_MAGIC: &[u8] = b"STRMIDX2";
const SNAPSHOT_MAGIC_SEALED: &[u8] = b"STRMIDXE";

/// Segments are allocated this far ahead of their records: an fsync after an append then
/// mostly flushes data, not the file's size and block allocation, which makes synchronous
/// publishes faster. Recovery reads eight zero bytes where a record would start as the clean
/// end of the data.
const PREALLOC: u64 = 4 * 1024 * 1024;
const PREALLOC_MIN: u64 = 64 * 1024;

/// A segment is closed and a new one started past this size.
const SEGMENT_MAX: u64 = 64 * 1024 * 1024;

struct Segment {
    path: PathBuf,
    file: File,
    /// Bytes of records (written, maybe not yet synced); the end of the data.
    len: u64,
    /// Bytes of the file: records, then zeros written ahead of them (see [`PREALLOC`]).
    alloc: u64,
}

/// What opening a store found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recovery {
    pub segments: usize,
    pub records: u64,
    /// Damage found: the segment, the offset where valid data ends, and why.
    pub damage: Vec<(PathBuf, u64, &'static str)>,
    /// Bytes cut off at damaged or torn tails.
    pub truncated_bytes: u64,
    /// The index came from the snapshot of a clean close; only later records were read.
    pub from_snapshot: bool,
}

pub struct FileStore {
    dir: PathBuf,
    /// Segments by file number (replay order); a segment whose messages are all gone is
    /// removed, so deletes free space.
    segments: BTreeMap<u64, Segment>,
    index: FileIndex,
    /// The oldest message's sequence and time, read from its record when first needed.
    first_cache: Cell<Option<(u64, i64)>>,
    /// Encoded records not yet written to the active segment.
    pending: Vec<u8>,
    /// A segment was created since the last sync: the directory needs an fsync.
    dir_dirty: bool,
    /// Segments written since the last sync, by number.
    unsynced: Vec<u64>,
    /// Segment files to remove with the next sync, after the records that make them unneeded
    /// are durable.
    doomed: Vec<PathBuf>,
    /// The number the next segment file gets.
    next_segment: u64,
    /// Encryption at rest, when configured.
    crypto: Option<std::sync::Arc<crate::Crypto>>,
    /// A segment is closed past this size ([`SEGMENT_MAX`] unless a test sets it).
    segment_max: u64,
    /// Compress payloads of new messages where that shrinks them.
    compress: bool,
    /// The highest sequence removed since [`Store::take_removed_high`] last asked.
    removed_high: u64,
    /// Read-ahead for sequential reads (a consumer going through the stream).
    ahead: std::cell::RefCell<ReadAhead>,
}

/// Bytes of one segment read ahead of a sequential reader, and where the last read ended.
#[derive(Default)]
struct ReadAhead {
    segment: u64,
    start: u64,
    bytes: Bytes,
    last_end: Option<(u64, u64)>,
}

/// How much a sequential read fetches at once: at least this, and a few records, up to
/// [`READ_AHEAD_MAX`].
const READ_AHEAD: u64 = 256 * 1024;
const READ_AHEAD_MAX: u64 = 4 * 1024 * 1024;

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Allocates `len` bytes of `file` from `offset` (reading as zeros). Where the file system
/// cannot, the file simply grows with its writes.
fn allocate(file: &File, offset: u64, len: u64) {
    use std::os::fd::AsRawFd;
    let (Ok(offset), Ok(len)) = (i64::try_from(offset), i64::try_from(len)) else {
        return;
    };
    // SAFETY: fallocate only reads its integer arguments; the descriptor is open for writing.
    let _ = unsafe { libc::fallocate(file.as_raw_fd(), 0, offset, len) };
}

fn segment_name(id: u64) -> String {
    format!("{id:020}.seg")
}

fn segment_id(path: &Path) -> Option<u64> {
    path.file_stem()?.to_str()?.parse().ok()
}

impl FileStore {
    /// Opens (or creates) the store in `dir`, replaying its segments.
    ///
    /// # Errors
    /// I/O errors reading or repairing the directory.
    pub fn open(dir: impl AsRef<Path>) -> Result<(FileStore, Recovery), StoreError> {
        Self::open_with(dir, None)
    }

    /// Opens (or creates) the store in `dir`, every record sealed with `crypto` when given.
    /// Records that do not open with the key are damage, as a bad checksum is: the caller
    /// checks the key before (see the server's key check).
    ///
    /// # Errors
    /// I/O errors reading or repairing the directory.
    pub fn open_with(
        dir: impl AsRef<Path>,
        crypto: Option<std::sync::Arc<crate::Crypto>>,
    ) -> Result<(FileStore, Recovery), StoreError> {
        let dir = dir.as_ref().to_path_buf();
        fs::create_dir_all(&dir).map_err(io(&dir))?;
        let mut names: Vec<PathBuf> = fs::read_dir(&dir)
            .map_err(io(&dir))?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "seg") && segment_id(p).is_some())
            .collect();
        names.sort();
        let next_segment = names
            .last()
            .and_then(|p| segment_id(p))
            .map_or(1, |id| id + 1);
        let mut store = FileStore {
            dir,
            segments: BTreeMap::new(),
            index: FileIndex::default(),
            first_cache: Cell::new(None),
            pending: Vec::new(),
            dir_dirty: false,
            unsynced: Vec::new(),
            doomed: Vec::new(),
            next_segment,
            crypto,
            segment_max: SEGMENT_MAX,
            compress: false,
            removed_high: 0,
            ahead: std::cell::RefCell::new(ReadAhead::default()),
        };
        store.index.overhead = store.overhead();
        let mut recovery = Recovery::default();
        let mut rest: &[PathBuf] = &names;
        if let Some((index, covered)) = store.load_snapshot(&names) {
            // The snapshot covers every listed segment up to its recorded length: only what
            // was appended after it is read.
            store.index = index;
            store.index.overhead = store.overhead();
            for (i, (path, len)) in names.iter().zip(&covered).enumerate() {
                if i + 1 < covered.len() {
                    let file = OpenOptions::new()
                        .read(true)
                        .write(true)
                        .open(path)
                        .map_err(io(path))?;
                    let alloc = file.metadata().map_err(io(path))?.len();
                    let id = segment_id(path).unwrap_or(0);
                    store.segments.insert(
                        id,
                        Segment {
                            path: path.clone(),
                            file,
                            len: *len,
                            alloc,
                        },
                    );
                } else {
                    store.replay(path.clone(), *len, &mut recovery)?;
                }
            }
            rest = &names[covered.len()..];
            recovery.from_snapshot = true;
        }
        // A snapshot describes the store as it was closed; from now on it would not.
        let snap = store.dir.join(SNAPSHOT);
        if snap.exists() {
            fs::remove_file(&snap).map_err(io(&snap))?;
            File::open(&store.dir)
                .and_then(|d| d.sync_all())
                .map_err(io(&store.dir))?;
        }
        for path in rest {
            store.replay(path.clone(), 0, &mut recovery)?;
        }
        // Segments at the front left without messages (deleted, or purged before a crash
        // that kept their files) go now.
        store.drop_empty_front()?;
        if store.dir_dirty || !store.doomed.is_empty() {
            store.sync()?;
        }
        recovery.segments = store.segments.len();
        if store.segments.is_empty() {
            store.new_segment()?;
            store.sync()?;
        }
        Ok((store, recovery))
    }

    /// Closes segments past `bytes` instead of 64 MiB, so that tests see many segments.
    #[doc(hidden)]
    pub fn set_segment_max(&mut self, bytes: u64) {
        self.segment_max = bytes;
    }

    /// Segment files on disk now.
    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }

    /// The index snapshot written at the last clean close, with the segment lengths it
    /// covers, if it is intact and the segments are as it describes them.
    fn load_snapshot(&self, names: &[PathBuf]) -> Option<(FileIndex, Vec<u64>)> {
        let mut bytes = fs::read(self.dir.join(SNAPSHOT)).ok()?;
        if let Some(c) = &self.crypto {
            bytes = c.open(bytes.strip_prefix(SNAPSHOT_MAGIC_SEALED)?)?;
        }
        let body = bytes.strip_prefix(SNAPSHOT_MAGIC)?;
        let (body, crc) = body.split_at(body.len().checked_sub(4)?);
        if crc32fast::hash(body).to_le_bytes() != crc {
            return None;
        }
        let n = u64::from_le_bytes(body.get(..8)?.try_into().ok()?) as usize;
        if n == 0 || n > names.len() {
            return None;
        }
        let mut covered = Vec::with_capacity(n);
        let mut at = 8;
        for path in names.iter().take(n) {
            let id = u64::from_le_bytes(body.get(at..at + 8)?.try_into().ok()?);
            let len = u64::from_le_bytes(body.get(at + 8..at + 16)?.try_into().ok()?);
            at += 16;
            let on_disk = fs::metadata(path).ok()?.len();
            // Every covered segment still holds what it held: files only grow (records
            // appended to the last one, space allocated ahead of the records).
            if segment_id(path) != Some(id) || on_disk < len {
                return None;
            }
            covered.push(len);
        }
        let (index, rest) = FileIndex::read_from(body.get(at..)?)?;
        rest.is_empty().then_some((index, covered))
    }

    /// Writes the index snapshot (after a sync): a temporary file, fsynced, renamed over the
    /// old one, and the directory fsynced.
    fn write_snapshot(&self) -> Result<(), StoreError> {
        let mut out = Vec::with_capacity(1024 + self.index.state().msgs as usize * 12);
        out.extend_from_slice(SNAPSHOT_MAGIC);
        let start = out.len();
        out.extend_from_slice(&(self.segments.len() as u64).to_le_bytes());
        for (id, seg) in &self.segments {
            out.extend_from_slice(&id.to_le_bytes());
            out.extend_from_slice(&seg.len.to_le_bytes());
        }
        self.index.write_to(&mut out);
        let crc = crc32fast::hash(&out[start..]);
        out.extend_from_slice(&crc.to_le_bytes());
        if let Some(c) = &self.crypto {
            let mut sealed = SNAPSHOT_MAGIC_SEALED.to_vec();
            c.seal(&out, &mut sealed);
            out = sealed;
        }
        let tmp = self.dir.join(format!("{SNAPSHOT}.tmp"));
        let path = self.dir.join(SNAPSHOT);
        {
            let mut f = File::create(&tmp).map_err(io(&tmp))?;
            std::io::Write::write_all(&mut f, &out).map_err(io(&tmp))?;
            f.sync_all().map_err(io(&tmp))?;
        }
        fs::rename(&tmp, &path).map_err(io(&path))?;
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(io(&self.dir))
    }

    /// Reads one segment into the index from byte `start` on, truncating it where valid
    /// records end.
    fn replay(
        &mut self,
        path: PathBuf,
        start: u64,
        recovery: &mut Recovery,
    ) -> Result<(), StoreError> {
        let data = {
            let mut f = File::open(&path).map_err(io(&path))?;
            std::io::Seek::seek(&mut f, std::io::SeekFrom::Start(start)).map_err(io(&path))?;
            let mut v = Vec::new();
            std::io::Read::read_to_end(&mut f, &mut v).map_err(io(&path))?;
            Bytes::from(v)
        };
        let segment = segment_id(&path).unwrap_or(0);
        let mut at = 0usize;
        let mut clean_end = false;
        while at < data.len() {
            if data[at..data.len().min(at + 8)].iter().all(|&b| b == 0) {
                // Zeros where a record would start: the end of the data, if only zeros follow.
                if data[at..].iter().all(|&b| b == 0) {
                    clean_end = true;
                } else {
                    recovery.damage.push((
                        path.clone(),
                        start + at as u64,
                        "data after the end of the records",
                    ));
                }
                break;
            }
            match record::decode_with(&data.slice(at..), self.crypto.as_deref()) {
                Decoded::Record(r, n) => {
                    match r.kind {
                        Kind::Message | Kind::Compressed => {
                            if r.seq > self.index.last_seq {
                                self.index.last_ts = r.ts;
                            }
                            self.index.insert(
                                r.seq,
                                Loc {
                                    segment,
                                    offset: start + at as u64,
                                    len: n as u32,
                                },
                                !r.headers.is_empty(),
                                &r.subject,
                            );
                        }
                        Kind::Delete => {
                            self.index.remove(r.seq);
                            self.index.last_seq = self.index.last_seq.max(r.seq);
                        }
                        Kind::Purge => {
                            self.index.clear();
                            self.index.last_seq = self.index.last_seq.max(r.seq);
                            if r.ts != 0 {
                                self.index.last_ts = r.ts;
                            }
                        }
                        Kind::LastSeq => {
                            self.index.last_seq = self.index.last_seq.max(r.seq);
                            if r.ts != 0 {
                                self.index.last_ts = r.ts;
                            }
                        }
                    }
                    recovery.records += 1;
                    at += n;
                }
                Decoded::Torn => {
                    recovery.damage.push((
                        path.clone(),
                        start + at as u64,
                        "torn write at the tail",
                    ));
                    break;
                }
                Decoded::Corrupt(why) => {
                    recovery.damage.push((path.clone(), start + at as u64, why));
                    break;
                }
            }
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(io(&path))?;
        let mut alloc = start + data.len() as u64;
        if at < data.len() && !clean_end {
            recovery.truncated_bytes += (data.len() - at) as u64;
            file.set_len(start + at as u64).map_err(io(&path))?;
            file.sync_all().map_err(io(&path))?;
            alloc = start + at as u64;
        }
        self.segments.insert(
            segment,
            Segment {
                path,
                file,
                len: start + at as u64,
                alloc,
            },
        );
        Ok(())
    }

    /// The active segment: the newest.
    fn active(&mut self) -> (u64, &mut Segment) {
        let (id, seg) = self
            .segments
            .iter_mut()
            .next_back()
            .expect("a store always has an active segment");
        (*id, seg)
    }

    /// Removes a closed segment that holds no message any more: its file is unlinked, and the
    /// directory synced with the next sync.
    fn drop_segment(&mut self, id: u64) -> Result<(), StoreError> {
        if let Some(seg) = self.segments.remove(&id) {
            self.doomed.push(seg.path);
            self.unsynced.retain(|u| *u != id);
            self.dir_dirty = true;
        }
        Ok(())
    }

    /// Drops the oldest segments while they hold no message (never the active one). Only
    /// from the front: a segment's delete records concern messages of its own or older
    /// segments, so nothing still held depends on a dropped one. A marker of the last
    /// sequence goes to the active segment first, in case a dropped one held it.
    fn drop_empty_front(&mut self) -> Result<(), StoreError> {
        let mut marked = false;
        loop {
            let (Some(first), Some(active)) = (
                self.segments.keys().next().copied(),
                self.segments.keys().next_back().copied(),
            ) else {
                return Ok(());
            };
            if first == active || self.index.segment_live(first) > 0 {
                return Ok(());
            }
            if !marked {
                let (last, ts) = (self.index.last_seq, self.index.last_ts);
                self.append_record(Kind::LastSeq, last, ts, &[], &[], &[])?;
                marked = true;
            }
            self.drop_segment(first)?;
        }
    }

    fn new_segment(&mut self) -> Result<(), StoreError> {
        let id = self.next_segment;
        let path = self.dir.join(segment_name(id));
        self.next_segment += 1;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .map_err(io(&path))?;
        self.segments.insert(
            id,
            Segment {
                path,
                file,
                len: 0,
                alloc: 0,
            },
        );
        self.dir_dirty = true;
        Ok(())
    }

    /// Writes buffered records to the active segment (not yet durable).
    fn write_pending(&mut self) -> Result<(), StoreError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let pending = std::mem::take(&mut self.pending);
        let (active, seg) = self.active();
        let at = seg.len - pending.len() as u64;
        if seg.len > seg.alloc {
            // Space ahead of the records is allocated in one step (fallocate: zeros to
            // readers, no data written); it doubles with the segment, up to PREALLOC, so
            // small streams stay small.
            let grow = seg.alloc.clamp(PREALLOC_MIN, PREALLOC);
            let alloc = (seg.len + grow).div_ceil(PREALLOC_MIN) * PREALLOC_MIN;
            allocate(&seg.file, seg.alloc, alloc - seg.alloc);
            seg.alloc = alloc;
        }
        let written = seg.file.write_all_at(&pending, at).map_err(io(&seg.path));
        self.pending = pending;
        written?;
        self.pending.clear();
        if self.unsynced.last() != Some(&active) {
            self.unsynced.push(active);
        }
        Ok(())
    }

    fn append_record(
        &mut self,
        kind: Kind,
        seq: u64,
        ts: i64,
        subject: &[u8],
        headers: &[u8],
        payload: &[u8],
    ) -> Result<Loc, StoreError> {
        let size = record::HEADER_LEN
            + subject.len()
            + headers.len()
            + payload.len()
            + self.overhead() as usize;
        if size > record::MAX_RECORD || subject.len() > u16::MAX as usize {
            return Err(StoreError::TooLarge(size));
        }
        let max = self.segment_max;
        let (_, active) = self.active();
        if active.len > 0 && active.len + size as u64 > max {
            self.write_pending()?;
            self.new_segment()?;
        }
        let (seg_id, seg) = self.active();
        let offset = seg.len;
        seg.len += size as u64;
        match &self.crypto {
            Some(c) => record::encode_sealed(
                &mut self.pending,
                c,
                kind,
                seq,
                ts,
                subject,
                headers,
                payload,
            ),
            None => record::encode(&mut self.pending, kind, seq, ts, subject, headers, payload),
        }
        Ok(Loc {
            segment: seg_id,
            offset,
            len: size as u32,
        })
    }

    /// A record's bytes from its segment file: from the read-ahead when it holds them; a read
    /// that follows on from the last one fetches [`READ_AHEAD`] bytes at once, so a
    /// sequential reader makes one system call per many records.
    fn read_disk(&self, seg: &Segment, loc: Loc, on_disk: u64) -> Result<Bytes, StoreError> {
        let mut ahead = self.ahead.borrow_mut();
        let end = loc.offset + u64::from(loc.len);
        if ahead.segment == loc.segment
            && loc.offset >= ahead.start
            && end <= ahead.start + ahead.bytes.len() as u64
        {
            let at = (loc.offset - ahead.start) as usize;
            ahead.last_end = Some((loc.segment, end));
            return Ok(ahead.bytes.slice(at..at + loc.len as usize));
        }
        let sequential = ahead
            .last_end
            .is_some_and(|(s, e)| s == loc.segment && loc.offset >= e && loc.offset - e < 4096);
        ahead.last_end = Some((loc.segment, end));
        let want = if sequential {
            // At least a few records ahead, large ones (object chunks) included.
            let ahead = READ_AHEAD.max(4 * u64::from(loc.len)).min(READ_AHEAD_MAX);
            (on_disk - loc.offset).min(ahead).max(u64::from(loc.len))
        } else {
            u64::from(loc.len)
        };
        let mut buf = vec![0u8; want as usize];
        seg.file
            .read_exact_at(&mut buf, loc.offset)
            .map_err(io(&seg.path))?;
        let bytes = Bytes::from(buf);
        if sequential {
            ahead.segment = loc.segment;
            ahead.start = loc.offset;
            ahead.bytes = bytes.clone();
        }
        Ok(bytes.slice(..loc.len as usize))
    }

    fn read(&self, seq: u64, loc: Loc) -> Result<StoredMsg, StoreError> {
        let seg = self.segments.get(&loc.segment).ok_or(StoreError::Damaged {
            seq,
            reason: "segment of the record is gone",
        })?;
        // Records still in the write buffer are served from it.
        let on_disk = seg.len - self.pending_in(loc.segment);
        let bytes = if loc.offset >= on_disk {
            let start = (loc.offset - on_disk) as usize;
            Bytes::copy_from_slice(&self.pending[start..start + loc.len as usize])
        } else {
            self.read_disk(seg, loc, on_disk)?
        };
        match record::decode_with(&bytes, self.crypto.as_deref()) {
            Decoded::Record(r, _) if r.seq == seq && r.kind == Kind::Message => Ok(StoredMsg {
                seq,
                ts: r.ts,
                subject: r.subject,
                headers: r.headers,
                payload: r.payload,
            }),
            Decoded::Record(r, _) if r.seq == seq && r.kind == Kind::Compressed => {
                let payload = lz4_flex::decompress_size_prepended(&r.payload).map_err(|_| {
                    StoreError::Damaged {
                        seq,
                        reason: "compressed payload does not decompress",
                    }
                })?;
                Ok(StoredMsg {
                    seq,
                    ts: r.ts,
                    subject: r.subject,
                    headers: r.headers,
                    payload: Bytes::from(payload),
                })
            }
            Decoded::Record(..) => Err(StoreError::Damaged {
                seq,
                reason: "record holds another message",
            }),
            Decoded::Torn => Err(StoreError::Damaged {
                seq,
                reason: "record cut short",
            }),
            Decoded::Corrupt(reason) => Err(StoreError::Damaged { seq, reason }),
        }
    }

    /// Bytes each record has beyond the plain record.
    fn overhead(&self) -> u32 {
        if self.crypto.is_some() {
            record::SEALED_OVERHEAD as u32
        } else {
            0
        }
    }

    /// Bytes of `segment` still in the write buffer.
    fn pending_in(&self, segment: u64) -> u64 {
        if self.segments.keys().next_back() == Some(&segment) {
            self.pending.len() as u64
        } else {
            0
        }
    }
}

impl Store for FileStore {
    fn append(
        &mut self,
        subject: &[u8],
        headers: &[u8],
        payload: &[u8],
        ts: i64,
    ) -> Result<u64, StoreError> {
        let seq = self.index.last_seq + 1;
        let compressed = (self.compress && payload.len() >= COMPRESS_MIN)
            .then(|| lz4_flex::compress_prepend_size(payload))
            .filter(|c| c.len() < payload.len());
        let loc = match &compressed {
            Some(c) => self.append_record(Kind::Compressed, seq, ts, subject, headers, c)?,
            None => self.append_record(Kind::Message, seq, ts, subject, headers, payload)?,
        };
        self.index.insert(seq, loc, !headers.is_empty(), subject);
        self.index.last_ts = ts;
        Ok(seq)
    }

    fn close(&mut self) -> Result<(), StoreError> {
        self.sync()?;
        self.write_snapshot()
    }

    fn begin_sync(&mut self) -> Result<SyncJob, StoreError> {
        self.write_pending()?;
        let mut job = SyncJob::default();
        for i in std::mem::take(&mut self.unsynced) {
            // Purge replaces the segment list; indexes from before it are gone.
            if let Some(seg) = self.segments.get(&i) {
                let f = seg.file.try_clone().map_err(io(&seg.path))?;
                job.files.push((f, seg.path.clone()));
            }
        }
        job.unlink = std::mem::take(&mut self.doomed);
        if self.dir_dirty || !job.unlink.is_empty() {
            job.dirs.push(self.dir.clone());
            self.dir_dirty = false;
        }
        Ok(job)
    }

    fn get(&self, seq: u64) -> Result<Option<StoredMsg>, StoreError> {
        match self.index.get(seq) {
            Some(loc) => self.read(seq, loc).map(Some),
            None => Ok(None),
        }
    }

    fn last_by_subject(&self, subject: &[u8]) -> Result<Option<StoredMsg>, StoreError> {
        match self.index.last_for(subject) {
            Some(seq) => self.get(seq),
            None => Ok(None),
        }
    }

    fn delete(&mut self, seq: u64) -> Result<bool, StoreError> {
        if !self.index.contains(seq) {
            return Ok(false);
        }
        if self.first_cache.get().is_some_and(|(s, _)| s == seq) {
            self.first_cache.set(None);
        }
        let segment = self.index.get(seq).map(|l| l.segment);
        self.append_record(Kind::Delete, seq, 0, &[], &[], &[])?;
        self.index.remove(seq);
        self.removed_high = self.removed_high.max(seq);
        // Closed segments at the front without messages free their space.
        if segment.is_some_and(|id| Some(&id) == self.segments.keys().next()) {
            self.drop_empty_front()?;
        }
        Ok(true)
    }

    fn set_compression(&mut self, on: bool) {
        self.compress = on;
    }

    fn erase(&mut self, seq: u64) -> Result<bool, StoreError> {
        let Some(loc) = self.index.get(seq) else {
            return Ok(false);
        };
        // A delete record of exactly the message's length, written over it: replay sees the
        // sequence deleted, and the message's bytes are gone from the file.
        let fill = loc.len as usize - record::HEADER_LEN - self.overhead() as usize;
        let zeros = vec![0u8; fill];
        let mut over = Vec::with_capacity(loc.len as usize);
        match &self.crypto {
            Some(c) => record::encode_sealed(&mut over, c, Kind::Delete, seq, 0, &[], &[], &zeros),
            None => record::encode(&mut over, Kind::Delete, seq, 0, &[], &[], &zeros),
        }
        debug_assert_eq!(over.len(), loc.len as usize);
        let in_pending = self.pending_in(loc.segment);
        let seg = self.segments.get(&loc.segment).ok_or(StoreError::Damaged {
            seq,
            reason: "segment of the record is gone",
        })?;
        let on_disk = seg.len - in_pending;
        if loc.offset >= on_disk {
            let start = (loc.offset - on_disk) as usize;
            self.pending[start..start + over.len()].copy_from_slice(&over);
        } else {
            *self.ahead.borrow_mut() = ReadAhead::default();
            seg.file
                .write_all_at(&over, loc.offset)
                .map_err(io(&seg.path))?;
            if !self.unsynced.contains(&loc.segment) {
                self.unsynced.insert(0, loc.segment);
            }
        }
        self.delete(seq)
    }

    fn purge(&mut self) -> Result<u64, StoreError> {
        self.removed_high = self.removed_high.max(self.index.last_seq);
        let n = self.index.clear();
        self.first_cache.set(None);
        // A new segment starting with a purge marker, made durable before the old files go:
        // after a crash at any point, replay ends with everything up to the marker gone, and
        // sequences continue after it.
        self.write_pending()?;
        let (last, ts) = (self.index.last_seq, self.index.last_ts);
        let old: Vec<u64> = self.segments.keys().copied().collect();
        self.new_segment()?;
        self.append_record(Kind::Purge, last, ts, &[], &[], &[])?;
        for id in old {
            self.drop_segment(id)?;
        }
        self.sync()?;
        Ok(n)
    }

    fn compact(&mut self, seq: u64) -> Result<u64, StoreError> {
        let mut below: Vec<u64> = Vec::new();
        self.index.scan(0, &mut |s, _| {
            if s >= seq {
                return false;
            }
            below.push(s);
            true
        });
        for s in &below {
            self.delete(*s)?;
        }
        self.skip_to(seq)?;
        Ok(below.len() as u64)
    }

    fn skip_to(&mut self, seq: u64) -> Result<(), StoreError> {
        if seq > self.index.last_seq + 1 {
            // A marker for the sequence before `seq`: replay raises the last sequence to it.
            self.append_record(Kind::Delete, seq - 1, 0, &[], &[], &[])?;
            self.index.last_seq = seq - 1;
        }
        Ok(())
    }

    fn state(&self) -> StreamState {
        self.index.state()
    }

    fn first(&self) -> Option<(u64, i64)> {
        let seq = self.index.first_seq()?;
        if let Some((s, ts)) = self.first_cache.get() {
            if s == seq {
                return Some((s, ts));
            }
        }
        let ts = self.get(seq).ok().flatten().map_or(0, |m| m.ts);
        self.first_cache.set(Some((seq, ts)));
        Some((seq, ts))
    }

    fn last_seq_for(&self, subject: &[u8]) -> Option<u64> {
        self.index.last_for(subject)
    }

    fn subject_count(&self, subject: &[u8]) -> (u64, Option<u64>) {
        self.index.subject_count(subject)
    }

    fn take_removed_high(&mut self) -> u64 {
        std::mem::take(&mut self.removed_high)
    }

    fn last_time(&self) -> i64 {
        self.index.last_ts
    }

    fn last(&self) -> Option<(u64, i64)> {
        let seq = self.index.last_held()?;
        let ts = self.get(seq).ok().flatten().map_or(0, |m| m.ts);
        Some((seq, ts))
    }

    fn scan(&self, from: u64, visit: &mut dyn FnMut(u64, &[u8]) -> bool) {
        self.index.scan(from, visit);
    }

    fn scan_back(&self, visit: &mut dyn FnMut(u64, &[u8]) -> bool) {
        self.index.scan_back(visit);
    }

    fn subjects(&self) -> Vec<(Bytes, u64)> {
        self.index.subjects()
    }
}
