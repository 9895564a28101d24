//! The memory backend: messages kept in the index itself. Nothing survives a restart, as
//! JetStream's memory storage promises.

use crate::index::{mem_msg_size, Entry, Index};
use crate::{Store, StoreError, StoredMsg, StreamState, SyncJob};
use bytes::Bytes;

#[derive(Debug, Default)]
pub struct MemStore {
    index: Index<StoredMsg>,
    removed_high: u64,
    /// The time of the last message appended.
    last_ts: i64,
}

impl MemStore {
    pub fn new() -> Self {
        Self::default()
    }
}

impl Store for MemStore {
    fn append(
        &mut self,
        subject: &[u8],
        headers: &[u8],
        payload: &[u8],
        ts: i64,
    ) -> Result<u64, StoreError> {
        let seq = self.index.last_seq + 1;
        self.last_ts = ts;
        let msg = StoredMsg {
            seq,
            ts,
            subject: Bytes::copy_from_slice(subject),
            headers: Bytes::copy_from_slice(headers),
            payload: Bytes::copy_from_slice(payload),
        };
        self.index.insert(
            seq,
            Entry {
                subject: msg.subject.clone(),
                size: mem_msg_size(subject, headers, payload),
                ts,
                loc: msg,
            },
        );
        Ok(seq)
    }

    fn begin_sync(&mut self) -> Result<SyncJob, StoreError> {
        Ok(SyncJob::default())
    }

    fn get(&self, seq: u64) -> Result<Option<StoredMsg>, StoreError> {
        Ok(self.index.by_seq.get(&seq).map(|e| e.loc.clone()))
    }

    fn last_by_subject(&self, subject: &[u8]) -> Result<Option<StoredMsg>, StoreError> {
        match self.index.last_for(subject) {
            Some(seq) => self.get(seq),
            None => Ok(None),
        }
    }

    fn delete(&mut self, seq: u64) -> Result<bool, StoreError> {
        let held = self.index.remove(seq).is_some();
        if held {
            self.removed_high = self.removed_high.max(seq);
        }
        Ok(held)
    }

    fn purge(&mut self) -> Result<u64, StoreError> {
        self.removed_high = self.removed_high.max(self.index.last_seq);
        Ok(self.index.clear())
    }

    fn compact(&mut self, seq: u64) -> Result<u64, StoreError> {
        let below: Vec<u64> = self.index.by_seq.range(..seq).map(|(s, _)| *s).collect();
        for s in &below {
            self.index.remove(*s);
            self.removed_high = self.removed_high.max(*s);
        }
        self.skip_to(seq)?;
        Ok(below.len() as u64)
    }

    fn skip_to(&mut self, seq: u64) -> Result<(), StoreError> {
        self.index.last_seq = self.index.last_seq.max(seq.saturating_sub(1));
        Ok(())
    }

    fn state(&self) -> StreamState {
        self.index.state()
    }

    fn first(&self) -> Option<(u64, i64)> {
        self.index.first()
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

    fn last(&self) -> Option<(u64, i64)> {
        self.index.last()
    }

    fn last_time(&self) -> i64 {
        self.last_ts
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
