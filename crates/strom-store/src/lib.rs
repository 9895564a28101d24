//! The JetStream storage engine: a stream's messages in order, by sequence, with per-subject
//! lookups, behind one [`Store`] trait with a file backend ([`FileStore`]) and a memory backend
//! ([`MemStore`]). No networking: the server drives it.
//!
//! The file store writes checksummed records ([`record`]) to append-only segment files and
//! makes them durable on [`Store::sync`]: the caller appends a batch, syncs once (group commit)
//! and only then acknowledges. Recovery ([`FileStore::open`]) replays the segments, truncates a
//! torn or corrupted tail, and reports what it did.

pub mod crypto;
mod file;
mod file_index;
mod index;
pub mod journal;
mod limits;
mod memory;
pub mod record;

pub use crypto::{CipherKind, Crypto};
pub use file::{FileStore, Recovery};
pub use index::{file_msg_size, mem_msg_size};
pub use journal::Journal;
pub use limits::{enforce, Limits};
pub use memory::MemStore;

use bytes::Bytes;
use thiserror::Error;

/// One stored message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMsg {
    pub seq: u64,
    /// Nanoseconds since the Unix epoch.
    pub ts: i64,
    pub subject: Bytes,
    pub headers: Bytes,
    pub payload: Bytes,
}

/// A stream's numbers, as JetStream's stream state reports them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamState {
    pub msgs: u64,
    pub bytes: u64,
    /// The lowest sequence held, or `last_seq + 1` when empty.
    pub first_seq: u64,
    pub last_seq: u64,
    pub num_subjects: u64,
}

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("store I/O on {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("message too large for a record: {0} bytes")]
    TooLarge(usize),
    #[error("stored record at sequence {seq} is damaged: {reason}")]
    Damaged { seq: u64, reason: &'static str },
}

/// The fsyncs that make a batch durable: data files first, then directories whose entries
/// changed.
#[derive(Debug, Default)]
pub struct SyncJob {
    files: Vec<(std::fs::File, std::path::PathBuf)>,
    /// Files to remove once the data is durable (segments without messages): removed only
    /// after the records that make them unneeded are on disk.
    unlink: Vec<std::path::PathBuf>,
    dirs: Vec<std::path::PathBuf>,
}

impl SyncJob {
    /// Takes in a later job, so that one run covers both: each file is synced once, then
    /// every removal, then every directory.
    pub fn absorb(&mut self, later: SyncJob) {
        for (f, path) in later.files {
            if !self.files.iter().any(|(_, p)| *p == path) {
                self.files.push((f, path));
            }
        }
        self.unlink.extend(later.unlink);
        for d in later.dirs {
            if !self.dirs.contains(&d) {
                self.dirs.push(d);
            }
        }
    }

    /// Runs the fsyncs.
    ///
    /// # Errors
    /// The first I/O error; nothing the job covers may then be acknowledged.
    pub fn run(self) -> Result<(), StoreError> {
        for (f, path) in &self.files {
            f.sync_data().map_err(|source| StoreError::Io {
                path: path.display().to_string(),
                source,
            })?;
        }
        for path in &self.unlink {
            match std::fs::remove_file(path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => {
                    return Err(StoreError::Io {
                        path: path.display().to_string(),
                        source,
                    })
                }
            }
        }
        for d in &self.dirs {
            std::fs::File::open(d)
                .and_then(|f| f.sync_all())
                .map_err(|source| StoreError::Io {
                    path: d.display().to_string(),
                    source,
                })?;
        }
        Ok(())
    }

    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty() && self.dirs.is_empty() && self.unlink.is_empty()
    }
}

/// What every backend does.
pub trait Store: Send {
    /// Appends a message and returns its sequence. Not durable until [`Store::sync`].
    ///
    /// # Errors
    /// I/O errors, or [`StoreError::TooLarge`].
    fn append(
        &mut self,
        subject: &[u8],
        headers: &[u8],
        payload: &[u8],
        ts: i64,
    ) -> Result<u64, StoreError>;

    /// Makes every append and delete so far durable (fsync of data and of any new directory
    /// entry). One call covers a whole batch: that is group commit.
    ///
    /// # Errors
    /// The I/O error; the caller must not acknowledge anything appended since the last success.
    fn sync(&mut self) -> Result<(), StoreError> {
        self.begin_sync()?.run()
    }

    /// Syncs, and leaves what makes the next open fast (the file store's index snapshot).
    /// The store may still be used afterwards, but the next open only benefits if nothing
    /// changed.
    ///
    /// # Errors
    /// The I/O error.
    fn close(&mut self) -> Result<(), StoreError> {
        self.sync()
    }

    /// Hands buffered appends to the kernel and returns the fsyncs that make them durable, so
    /// that the caller can run them without holding the store: readers go on meanwhile, and
    /// what [`SyncJob::run`] covers is exactly what was appended before this call.
    ///
    /// # Errors
    /// The I/O error writing the buffer.
    fn begin_sync(&mut self) -> Result<SyncJob, StoreError>;

    /// The message at `seq`, if held.
    ///
    /// # Errors
    /// I/O errors, or [`StoreError::Damaged`] when the bytes read fail their checksum.
    fn get(&self, seq: u64) -> Result<Option<StoredMsg>, StoreError>;

    /// The newest message on exactly `subject`.
    ///
    /// # Errors
    /// As [`Store::get`].
    fn last_by_subject(&self, subject: &[u8]) -> Result<Option<StoredMsg>, StoreError>;

    /// Removes one message; returns whether it was held.
    ///
    /// # Errors
    /// I/O errors writing the deletion.
    fn delete(&mut self, seq: u64) -> Result<bool, StoreError>;

    /// Compresses the payloads of messages appended from now on, where that makes them
    /// smaller (JetStream's `compression: s2`; the codec is the store's choice). Memory
    /// stores ignore it.
    fn set_compression(&mut self, _on: bool) {}

    /// Removes one message and overwrites its bytes where they are stored, so that the
    /// payload cannot be read back from the files (JetStream's delete without `no_erase`).
    ///
    /// # Errors
    /// I/O errors writing the deletion.
    fn erase(&mut self, seq: u64) -> Result<bool, StoreError> {
        self.delete(seq)
    }

    /// Removes every message; returns how many. Sequences continue after the last one.
    ///
    /// # Errors
    /// I/O errors.
    fn purge(&mut self) -> Result<u64, StoreError>;

    /// Removes every message below `seq`; when `seq` is past the last sequence, the next
    /// append gets `seq`. Returns how many messages went.
    ///
    /// # Errors
    /// I/O errors writing the removals.
    fn compact(&mut self, seq: u64) -> Result<u64, StoreError>;

    /// Makes `seq` the next sequence when it is past the last one, keeping every message.
    ///
    /// # Errors
    /// I/O errors writing the marker.
    fn skip_to(&mut self, seq: u64) -> Result<(), StoreError>;

    fn state(&self) -> StreamState;

    /// The oldest message held: its sequence and time.
    fn first(&self) -> Option<(u64, i64)>;

    /// The newest message held: its sequence and time.
    fn last(&self) -> Option<(u64, i64)>;

    /// The time of the last message stored, kept when it is deleted or purged (nats-server's
    /// `LastTime`); 0 when nothing was stored, or when it is no longer known (a store written
    /// by an older version).
    fn last_time(&self) -> i64 {
        self.last().map_or(0, |(_, ts)| ts)
    }

    /// Visits held messages from sequence `from` upwards, in order, with their subjects,
    /// until `visit` returns false. Reads only the index, never message bytes.
    fn scan(&self, from: u64, visit: &mut dyn FnMut(u64, &[u8]) -> bool);

    /// Visits held messages from the newest down, until `visit` returns false.
    fn scan_back(&self, visit: &mut dyn FnMut(u64, &[u8]) -> bool);

    /// Every subject held and how many messages it has.
    fn subjects(&self) -> Vec<(Bytes, u64)>;

    /// The sequence of the newest message on exactly `subject`, from the index.
    fn last_seq_for(&self, subject: &[u8]) -> Option<u64>;

    /// How many messages `subject` has, and the sequence of the oldest.
    fn subject_count(&self, subject: &[u8]) -> (u64, Option<u64>);

    /// The highest sequence removed (deleted, erased, purged, compacted away) since the last
    /// call, or 0 — what tells a stream's consumers whether their pending counts moved.
    fn take_removed_high(&mut self) -> u64;
}
