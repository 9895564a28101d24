//! A journal: an append-only file of small checksummed records, replayed in order on open —
//! what a JetStream consumer keeps its delivery and acknowledgement state in.
//!
//! Each record is `[u32 length][u32 CRC-32 of the body][body]` (little-endian), the body sealed
//! when the journal is encrypted. Replay stops at the first record that is short or fails its
//! checksum (a torn tail after a crash) and cuts the file there, so later appends follow valid
//! records. [`Journal::rewrite`] replaces the whole file with a compact set of records — a temp
//! file, fsync, rename, directory fsync — so a crash leaves either the old journal or the new.
//!
//! A journal holds no file descriptor between writes: a stream may have thousands of
//! consumers, and each opens its file only to write or sync it.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::{Crypto, StoreError};

const FRAME: usize = 8;
/// A record larger than this is damage, not data.
const MAX_RECORD: usize = 64 << 20;

pub struct Journal {
    path: PathBuf,
    /// Records appended but not yet written to the file.
    buf: Vec<u8>,
    /// Bytes in the file, written or not.
    len: u64,
    /// Bytes known written whole to the file.
    written: u64,
    /// Written since the last fsync.
    unsynced: bool,
    crypto: Option<Arc<Crypto>>,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.display().to_string(),
        source,
    }
}

impl Journal {
    /// Opens (or creates) the journal at `path` and returns the bodies of its valid records,
    /// in order; a damaged tail is cut off.
    ///
    /// # Errors
    /// I/O errors.
    pub fn open(
        path: &Path,
        crypto: Option<Arc<Crypto>>,
    ) -> Result<(Journal, Vec<Vec<u8>>), StoreError> {
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .map_err(io(path))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(io(path))?;
        let (records, valid) = parse(&bytes, crypto.as_deref()).ok_or(StoreError::Damaged {
            seq: 0,
            reason: "journal record cannot be decrypted with the configured key",
        })?;
        if valid < bytes.len() {
            file.set_len(valid as u64).map_err(io(path))?;
            file.sync_all().map_err(io(path))?;
        }
        drop(file);
        Ok((
            Journal {
                path: path.to_path_buf(),
                buf: Vec::new(),
                len: valid as u64,
                written: valid as u64,
                unsynced: false,
                crypto,
            },
            records,
        ))
    }

    /// Queues one record; it reaches the file with the next [`Journal::write`] or
    /// [`Journal::sync`].
    pub fn append(&mut self, body: &[u8]) {
        let start = self.buf.len();
        self.buf.extend_from_slice(&[0; FRAME]);
        match &self.crypto {
            Some(c) => c.seal(body, &mut self.buf),
            None => self.buf.extend_from_slice(body),
        }
        let sealed_len = self.buf.len() - start - FRAME;
        let crc = crc32fast::hash(&self.buf[start + FRAME..]);
        self.buf[start..start + 4].copy_from_slice(&(sealed_len as u32).to_le_bytes());
        self.buf[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
        self.len += (sealed_len + FRAME) as u64;
    }

    /// Hands queued records to the kernel (they survive the process, not a power cut).
    ///
    /// # Errors
    /// The I/O error.
    pub fn write(&mut self) -> Result<(), StoreError> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let mut file = OpenOptions::new()
            .write(true)
            .open(&self.path)
            .map_err(io(&self.path))?;
        // At the end of what is known whole: a write that failed part way is overwritten,
        // never followed.
        let done = file
            .seek(std::io::SeekFrom::Start(self.written))
            .and_then(|_| file.write_all(&self.buf))
            .and_then(|()| file.set_len(self.written + self.buf.len() as u64));
        done.map_err(io(&self.path))?;
        self.written += self.buf.len() as u64;
        self.buf.clear();
        self.unsynced = true;
        Ok(())
    }

    /// Writes queued records and makes everything written durable.
    ///
    /// # Errors
    /// The I/O error; nothing appended since the last success may be taken as durable.
    pub fn sync(&mut self) -> Result<(), StoreError> {
        self.write()?;
        if self.unsynced {
            // Any descriptor of the file makes its written pages durable.
            File::open(&self.path)
                .and_then(|f| f.sync_data())
                .map_err(io(&self.path))?;
            self.unsynced = false;
        }
        Ok(())
    }

    /// Whether records were appended or written since the last sync.
    pub fn dirty(&self) -> bool {
        self.unsynced || !self.buf.is_empty()
    }

    /// The journal's size in bytes, queued records included.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Replaces the journal with `bodies`, durably and atomically.
    ///
    /// # Errors
    /// The I/O error of any step; the old journal is then still intact and in use.
    pub fn rewrite(&mut self, bodies: &[Vec<u8>]) -> Result<(), StoreError> {
        let tmp = self.path.with_extension("tmp");
        let mut bytes = Vec::new();
        let mut len = 0u64;
        {
            let mut fresh = Journal {
                path: tmp.clone(),
                buf: Vec::new(),
                len: 0,
                written: 0,
                unsynced: false,
                crypto: self.crypto.clone(),
            };
            for b in bodies {
                fresh.append(b);
            }
            std::mem::swap(&mut bytes, &mut fresh.buf);
            len += fresh.len;
        }
        let mut f = File::create(&tmp).map_err(io(&tmp))?;
        f.write_all(&bytes).map_err(io(&tmp))?;
        f.sync_all().map_err(io(&tmp))?;
        drop(f);
        std::fs::rename(&tmp, &self.path).map_err(io(&self.path))?;
        if let Some(dir) = self.path.parent() {
            File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(io(dir))?;
        }
        // Records queued but not written are in no file now: they are dropped with the old
        // journal, as the caller's snapshot covers them.
        self.buf.clear();
        self.len = len;
        self.written = len;
        self.unsynced = false;
        Ok(())
    }
}

/// The valid records of a journal's bytes, and how many bytes they take; `None` when a record
/// whose checksum holds cannot be decrypted (a wrong key: nothing may be cut off then).
fn parse(bytes: &[u8], crypto: Option<&Crypto>) -> Option<(Vec<Vec<u8>>, usize)> {
    let mut out = Vec::new();
    let mut at = 0;
    while bytes.len() - at >= FRAME {
        let len =
            u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]) as usize;
        let crc = u32::from_le_bytes([bytes[at + 4], bytes[at + 5], bytes[at + 6], bytes[at + 7]]);
        if len > MAX_RECORD || bytes.len() - at - FRAME < len {
            break;
        }
        let body = &bytes[at + FRAME..at + FRAME + len];
        if crc32fast::hash(body) != crc {
            break;
        }
        let plain = match crypto {
            Some(c) => c.open(body)?,
            None => body.to_vec(),
        };
        out.push(plain);
        at += FRAME + len;
    }
    Some((out, at))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("strom-journal-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        dir.join("j")
    }

    #[test]
    fn replays_what_was_written_and_cuts_a_torn_tail() {
        let path = temp("torn");
        {
            let (mut j, recs) = Journal::open(&path, None).expect("open");
            assert!(recs.is_empty());
            j.append(b"one");
            j.append(b"two");
            j.sync().expect("sync");
            j.append(b"three");
            j.write().expect("write");
        }
        let len = std::fs::metadata(&path).expect("meta").len();
        // A torn last record: half of it missing.
        let f = OpenOptions::new().write(true).open(&path).expect("open");
        f.set_len(len - 3).expect("truncate");
        let (mut j, recs) = Journal::open(&path, None).expect("reopen");
        assert_eq!(recs, vec![b"one".to_vec(), b"two".to_vec()]);
        j.append(b"four");
        j.sync().expect("sync");
        let (_, recs) = Journal::open(&path, None).expect("reopen");
        assert_eq!(recs.len(), 3);
        assert_eq!(recs[2], b"four");
    }

    #[test]
    fn rewrite_replaces_everything_and_encryption_round_trips() {
        let path = temp("rewrite");
        let c = Arc::new(Crypto::new(crate::CipherKind::ChaCha20Poly1305, "secret"));
        let (mut j, _) = Journal::open(&path, Some(c.clone())).expect("open");
        for i in 0..100u32 {
            j.append(&i.to_le_bytes());
        }
        j.sync().expect("sync");
        j.rewrite(&[b"snap".to_vec()]).expect("rewrite");
        j.append(b"after");
        j.sync().expect("sync");
        let (_, recs) = Journal::open(&path, Some(c)).expect("reopen");
        assert_eq!(recs, vec![b"snap".to_vec(), b"after".to_vec()]);
        let raw = std::fs::read(&path).expect("read");
        assert!(!raw.windows(5).any(|w| w == b"after"), "sealed on disk");
        // A wrong key is an error, and cuts nothing off.
        let wrong = Arc::new(Crypto::new(crate::CipherKind::ChaCha20Poly1305, "other"));
        assert!(Journal::open(&path, Some(wrong)).is_err());
        assert_eq!(std::fs::read(&path).expect("read"), raw);
    }
}
