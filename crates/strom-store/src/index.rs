//! The in-memory index both backends keep: sequence → where the message is (and its size),
//! subject → its sequences, and the stream's counters.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use rustc_hash::FxHashMap;

use crate::StreamState;

/// One held message, with `L` saying where its bytes are.
#[derive(Debug, Clone)]
pub struct Entry<L> {
    pub subject: Bytes,
    pub size: u64,
    /// Nanoseconds since the Unix epoch, for age limits.
    pub ts: i64,
    pub loc: L,
}

#[derive(Debug)]
pub struct Index<L> {
    pub by_seq: BTreeMap<u64, Entry<L>>,
    by_subject: FxHashMap<Bytes, BTreeSet<u64>>,
    bytes: u64,
    pub last_seq: u64,
}

impl<L> Default for Index<L> {
    fn default() -> Self {
        Index {
            by_seq: BTreeMap::new(),
            by_subject: FxHashMap::default(),
            bytes: 0,
            last_seq: 0,
        }
    }
}

impl<L> Index<L> {
    pub fn insert(&mut self, seq: u64, entry: Entry<L>) {
        self.bytes += entry.size;
        self.by_subject
            .entry(entry.subject.clone())
            .or_default()
            .insert(seq);
        self.by_seq.insert(seq, entry);
        self.last_seq = self.last_seq.max(seq);
    }

    pub fn remove(&mut self, seq: u64) -> Option<Entry<L>> {
        let entry = self.by_seq.remove(&seq)?;
        self.bytes -= entry.size;
        if let Some(set) = self.by_subject.get_mut(&entry.subject) {
            set.remove(&seq);
            if set.is_empty() {
                self.by_subject.remove(&entry.subject);
            }
        }
        Some(entry)
    }

    pub fn clear(&mut self) -> u64 {
        let n = self.by_seq.len() as u64;
        self.by_seq.clear();
        self.by_subject.clear();
        self.bytes = 0;
        n
    }

    /// The oldest message held: its sequence and time.
    pub fn first(&self) -> Option<(u64, i64)> {
        self.by_seq.iter().next().map(|(s, e)| (*s, e.ts))
    }

    /// The newest message held: its sequence and time.
    pub fn last(&self) -> Option<(u64, i64)> {
        self.by_seq.iter().next_back().map(|(s, e)| (*s, e.ts))
    }

    pub fn scan(&self, from: u64, visit: &mut dyn FnMut(u64, &[u8]) -> bool) {
        for (seq, e) in self.by_seq.range(from..) {
            if !visit(*seq, &e.subject) {
                break;
            }
        }
    }

    pub fn scan_back(&self, visit: &mut dyn FnMut(u64, &[u8]) -> bool) {
        for (seq, e) in self.by_seq.iter().rev() {
            if !visit(*seq, &e.subject) {
                break;
            }
        }
    }

    pub fn subjects(&self) -> Vec<(Bytes, u64)> {
        self.by_subject
            .iter()
            .map(|(s, seqs)| (s.clone(), seqs.len() as u64))
            .collect()
    }

    /// How many messages `subject` has, and the oldest of them.
    pub fn subject_count(&self, subject: &[u8]) -> (u64, Option<u64>) {
        self.by_subject
            .get(subject)
            .map_or((0, None), |s| (s.len() as u64, s.first().copied()))
    }

    pub fn last_for(&self, subject: &[u8]) -> Option<u64> {
        self.by_subject.get(subject).and_then(|s| s.last().copied())
    }

    pub fn state(&self) -> StreamState {
        StreamState {
            msgs: self.by_seq.len() as u64,
            bytes: self.bytes,
            first_seq: self
                .by_seq
                .keys()
                .next()
                .copied()
                .unwrap_or(self.last_seq + 1),
            last_seq: self.last_seq,
            num_subjects: self.by_subject.len() as u64,
        }
    }
}

/// The size nats-server's file store accounts for a message: its record overhead, subject,
/// headers and payload (stream info `bytes` and `max_bytes` count this).
pub fn file_msg_size(subject: &[u8], headers: &[u8], payload: &[u8]) -> u64 {
    let base = 22 + subject.len() + payload.len() + 8;
    if headers.is_empty() {
        base as u64
    } else {
        (base + 4 + headers.len()) as u64
    }
}

/// The size nats-server's memory store accounts for a message.
pub fn mem_msg_size(subject: &[u8], headers: &[u8], payload: &[u8]) -> u64 {
    (subject.len() + headers.len() + payload.len() + 16) as u64
}
