//! The file store's in-memory index, kept small so that a stream of millions of messages
//! costs tens of bytes per message and rebuilds quickly: where each message's record is
//! (12 bytes per slot), subjects interned once, and per-subject counts with the first and
//! last sequence.
//!
//! Sequences are grouped in runs of consecutive slots (a run per segment, and a new run after a
//! large jump in sequence numbers); a slot whose length is 0 holds no message (deleted, or a
//! sequence that was skipped).

use std::collections::VecDeque;

use bytes::Bytes;
use rustc_hash::FxHashMap;

use crate::record::HEADER_LEN;
use crate::StreamState;

/// A jump in sequence numbers larger than this starts a new run instead of empty slots.
const MAX_GAP: u64 = 1024;

/// The top bit of a slot's length: the message has headers.
const HAS_HEADERS: u32 = 1 << 31;

#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    offset: u32,
    /// Record length, with [`HAS_HEADERS`]; 0 means no message.
    len: u32,
    subject: u32,
}

#[derive(Debug)]
struct Run {
    base: u64,
    segment: u64,
    slots: Vec<Slot>,
    live: u64,
    /// Every slot before this one is empty: scans from the front start here.
    head: usize,
}

impl Run {
    fn end(&self) -> u64 {
        self.base + self.slots.len() as u64
    }
}

/// Where a message's record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Loc {
    /// The segment's file number.
    pub segment: u64,
    pub offset: u64,
    pub len: u32,
}

#[derive(Debug, Clone, Copy, Default)]
struct SubjectState {
    count: u64,
    first: u64,
    last: u64,
}

#[derive(Debug, Default)]
pub struct FileIndex {
    runs: VecDeque<Run>,
    names: Vec<Bytes>,
    ids: FxHashMap<Bytes, u32>,
    subjects: Vec<SubjectState>,
    live_subjects: u64,
    msgs: u64,
    bytes: u64,
    pub last_seq: u64,
    /// The time of the last message stored (kept through deletes and purges).
    pub last_ts: i64,
    /// Bytes each record carries beyond the plain record (encryption), left out of sizes.
    pub overhead: u32,
}

/// The size nats-server accounts for a message, from its record length.
fn size_of(slot: &Slot, overhead: u32) -> u64 {
    let len = ((slot.len & !HAS_HEADERS) - overhead) as u64;
    let hdr = if slot.len & HAS_HEADERS != 0 { 4 } else { 0 };
    30 + len - HEADER_LEN as u64 + hdr
}

impl FileIndex {
    fn intern(&mut self, subject: &[u8]) -> u32 {
        if let Some(id) = self.ids.get(subject) {
            return *id;
        }
        let id = self.names.len() as u32;
        let b = Bytes::copy_from_slice(subject);
        self.names.push(b.clone());
        self.ids.insert(b, id);
        self.subjects.push(SubjectState::default());
        id
    }

    /// Records a message appended at `loc`; `seq` is above every sequence held.
    pub fn insert(&mut self, seq: u64, loc: Loc, has_headers: bool, subject: &[u8]) {
        let id = self.intern(subject);
        let slot = Slot {
            offset: loc.offset as u32,
            len: loc.len | if has_headers { HAS_HEADERS } else { 0 },
            subject: id,
        };
        let extend = self.runs.back().is_some_and(|r| {
            r.segment == loc.segment && seq >= r.end() && seq - r.end() <= MAX_GAP
        });
        if !extend {
            self.runs.push_back(Run {
                base: seq,
                segment: loc.segment,
                slots: Vec::new(),
                live: 0,
                head: 0,
            });
        }
        let run = self.runs.back_mut().expect("a run was just ensured");
        while run.end() < seq {
            run.slots.push(Slot::default());
        }
        run.slots.push(slot);
        run.live += 1;
        self.msgs += 1;
        self.bytes += size_of(&slot, self.overhead);
        let s = &mut self.subjects[id as usize];
        if s.count == 0 {
            s.first = seq;
            self.live_subjects += 1;
        }
        s.count += 1;
        s.last = seq;
        self.last_seq = self.last_seq.max(seq);
    }

    /// The run holding `seq`, by position.
    fn run_of(&self, seq: u64) -> Option<usize> {
        let i = self.runs.partition_point(|r| r.base <= seq);
        let i = i.checked_sub(1)?;
        (seq < self.runs[i].end()).then_some(i)
    }

    fn slot(&self, seq: u64) -> Option<(usize, Slot)> {
        let r = self.run_of(seq)?;
        let run = &self.runs[r];
        let slot = run.slots[(seq - run.base) as usize];
        (slot.len != 0).then_some((r, slot))
    }

    pub fn get(&self, seq: u64) -> Option<Loc> {
        let (r, slot) = self.slot(seq)?;
        Some(Loc {
            segment: self.runs[r].segment,
            offset: slot.offset as u64,
            len: slot.len & !HAS_HEADERS,
        })
    }

    pub fn contains(&self, seq: u64) -> bool {
        self.slot(seq).is_some()
    }

    /// Forgets a message; returns whether it was held.
    pub fn remove(&mut self, seq: u64) -> bool {
        let Some((r, slot)) = self.slot(seq) else {
            return false;
        };
        let run = &mut self.runs[r];
        let i = (seq - run.base) as usize;
        run.slots[i].len = 0;
        run.live -= 1;
        if i == run.head {
            while run.head < run.slots.len() && run.slots[run.head].len == 0 {
                run.head += 1;
            }
        }
        self.msgs -= 1;
        self.bytes -= size_of(&slot, self.overhead);
        let id = slot.subject;
        let s = self.subjects[id as usize];
        let mut s = SubjectState {
            count: s.count - 1,
            ..s
        };
        if s.count == 0 {
            s = SubjectState::default();
            self.live_subjects -= 1;
        } else if s.count == 1 {
            // One left: it is both the first and the last.
            let other = if s.first == seq { s.last } else { s.first };
            s.first = other;
            s.last = other;
        } else {
            if s.first == seq {
                s.first = self.next_of(id, seq + 1).unwrap_or(s.last);
            }
            if s.last == seq {
                s.last = self.prev_of(id, seq).unwrap_or(s.first);
            }
        }
        self.subjects[id as usize] = s;
        // Drop runs emptied at the front, so that memory follows what is held.
        while self.runs.front().is_some_and(|r| r.live == 0) && self.runs.len() > 1 {
            self.runs.pop_front();
        }
        true
    }

    /// The first held sequence at or after `from` on subject `id`.
    fn next_of(&self, id: u32, from: u64) -> Option<u64> {
        let mut found = None;
        self.visit(from, &mut |seq, slot| {
            if slot.subject == id {
                found = Some(seq);
                return false;
            }
            true
        });
        found
    }

    /// The last held sequence below `below` on subject `id`.
    fn prev_of(&self, id: u32, below: u64) -> Option<u64> {
        let mut found = None;
        self.visit_back(&mut |seq, slot| {
            if seq < below && slot.subject == id {
                found = Some(seq);
                return false;
            }
            true
        });
        found
    }

    fn visit(&self, from: u64, f: &mut dyn FnMut(u64, &Slot) -> bool) {
        let start = self.runs.partition_point(|r| r.end() <= from);
        for run in self.runs.iter().skip(start) {
            let skip = (from.saturating_sub(run.base) as usize).max(run.head);
            for (i, slot) in run.slots.iter().enumerate().skip(skip) {
                if slot.len != 0 && !f(run.base + i as u64, slot) {
                    return;
                }
            }
        }
    }

    fn visit_back(&self, f: &mut dyn FnMut(u64, &Slot) -> bool) {
        for run in self.runs.iter().rev() {
            for (i, slot) in run.slots.iter().enumerate().rev() {
                if slot.len != 0 && !f(run.base + i as u64, slot) {
                    return;
                }
            }
        }
    }

    pub fn scan(&self, from: u64, visit: &mut dyn FnMut(u64, &[u8]) -> bool) {
        self.visit(from, &mut |seq, slot| {
            visit(seq, &self.names[slot.subject as usize])
        });
    }

    pub fn scan_back(&self, visit: &mut dyn FnMut(u64, &[u8]) -> bool) {
        self.visit_back(&mut |seq, slot| visit(seq, &self.names[slot.subject as usize]));
    }

    /// Forgets every message; sequences continue after the last one.
    pub fn clear(&mut self) -> u64 {
        let n = self.msgs;
        let (last, last_ts, overhead) = (self.last_seq, self.last_ts, self.overhead);
        *self = FileIndex::default();
        self.last_seq = last;
        self.last_ts = last_ts;
        self.overhead = overhead;
        n
    }

    /// Messages held in segment `id`.
    pub fn segment_live(&self, id: u64) -> u64 {
        self.runs
            .iter()
            .filter(|r| r.segment == id)
            .map(|r| r.live)
            .sum()
    }

    pub fn first_seq(&self) -> Option<u64> {
        let mut first = None;
        self.visit(0, &mut |seq, _| {
            first = Some(seq);
            false
        });
        first
    }

    pub fn last_held(&self) -> Option<u64> {
        let mut last = None;
        self.visit_back(&mut |seq, _| {
            last = Some(seq);
            false
        });
        last
    }

    fn id(&self, subject: &[u8]) -> Option<&SubjectState> {
        let id = self.ids.get(subject)?;
        let s = &self.subjects[*id as usize];
        (s.count > 0).then_some(s)
    }

    pub fn subject_count(&self, subject: &[u8]) -> (u64, Option<u64>) {
        self.id(subject)
            .map_or((0, None), |s| (s.count, Some(s.first)))
    }

    pub fn last_for(&self, subject: &[u8]) -> Option<u64> {
        self.id(subject).map(|s| s.last)
    }

    pub fn subjects(&self) -> Vec<(Bytes, u64)> {
        self.subjects
            .iter()
            .enumerate()
            .filter(|(_, s)| s.count > 0)
            .map(|(i, s)| (self.names[i].clone(), s.count))
            .collect()
    }

    pub fn state(&self) -> StreamState {
        StreamState {
            msgs: self.msgs,
            bytes: self.bytes,
            first_seq: self.first_seq().unwrap_or(self.last_seq + 1),
            last_seq: self.last_seq,
            num_subjects: self.live_subjects,
        }
    }
}

/// A little-endian reader over a snapshot; every read is bounds-checked.
struct Reader<'a> {
    buf: &'a [u8],
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        if self.buf.len() < n {
            return None;
        }
        let (a, b) = self.buf.split_at(n);
        self.buf = b;
        Some(a)
    }

    fn u32(&mut self) -> Option<u32> {
        self.take(4)?.try_into().ok().map(u32::from_le_bytes)
    }

    fn u64(&mut self) -> Option<u64> {
        self.take(8)?.try_into().ok().map(u64::from_le_bytes)
    }

    /// A count of items of at least `min_item` bytes each, refused if the rest cannot hold
    /// that many (so a damaged count never allocates wildly).
    fn count(&mut self, min_item: usize) -> Option<usize> {
        let n = usize::try_from(self.u64()?).ok()?;
        (n.checked_mul(min_item)? <= self.buf.len()).then_some(n)
    }
}

impl FileIndex {
    /// Appends the index in its snapshot form.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        let u64s = |out: &mut Vec<u8>, v: &[u64]| {
            for x in v {
                out.extend_from_slice(&x.to_le_bytes());
            }
        };
        u64s(
            out,
            &[
                self.msgs,
                self.bytes,
                self.last_seq,
                self.live_subjects,
                self.last_ts as u64,
            ],
        );
        u64s(out, &[self.names.len() as u64]);
        for (name, st) in self.names.iter().zip(&self.subjects) {
            out.extend_from_slice(&(name.len() as u32).to_le_bytes());
            out.extend_from_slice(name);
            u64s(out, &[st.count, st.first, st.last]);
        }
        u64s(out, &[self.runs.len() as u64]);
        for run in &self.runs {
            u64s(
                out,
                &[
                    run.base,
                    run.segment,
                    run.live,
                    run.head as u64,
                    run.slots.len() as u64,
                ],
            );
            for slot in &run.slots {
                out.extend_from_slice(&slot.offset.to_le_bytes());
                out.extend_from_slice(&slot.len.to_le_bytes());
                out.extend_from_slice(&slot.subject.to_le_bytes());
            }
        }
    }

    /// Reads an index written by [`FileIndex::write_to`]; `None` if the bytes do not hold one.
    /// Returns the index and the bytes after it.
    pub fn read_from(buf: &[u8]) -> Option<(FileIndex, &[u8])> {
        let mut r = Reader { buf };
        let mut ix = FileIndex {
            msgs: r.u64()?,
            bytes: r.u64()?,
            last_seq: r.u64()?,
            live_subjects: r.u64()?,
            last_ts: r.u64()? as i64,
            ..FileIndex::default()
        };
        let names = r.count(28)?;
        for _ in 0..names {
            let len = r.u32()? as usize;
            let name = Bytes::copy_from_slice(r.take(len)?);
            let st = SubjectState {
                count: r.u64()?,
                first: r.u64()?,
                last: r.u64()?,
            };
            ix.ids.insert(name.clone(), ix.names.len() as u32);
            ix.names.push(name);
            ix.subjects.push(st);
        }
        let runs = r.count(40)?;
        for _ in 0..runs {
            let base = r.u64()?;
            let segment = r.u64()?;
            let live = r.u64()?;
            let head = usize::try_from(r.u64()?).ok()?;
            let n = r.count(12)?;
            let mut slots = Vec::with_capacity(n);
            for _ in 0..n {
                let slot = Slot {
                    offset: r.u32()?,
                    len: r.u32()?,
                    subject: r.u32()?,
                };
                if slot.len != 0 && slot.subject as usize >= ix.names.len() {
                    return None;
                }
                slots.push(slot);
            }
            ix.runs.push_back(Run {
                base,
                segment,
                slots,
                live,
                head,
            });
        }
        Some((ix, r.buf))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loc(segment: u64, offset: u64) -> Loc {
        Loc {
            segment,
            offset,
            len: 100,
        }
    }

    #[test]
    fn runs_gaps_and_subjects() {
        let mut ix = FileIndex::default();
        ix.insert(1, loc(0, 0), false, b"a");
        ix.insert(2, loc(0, 100), true, b"b");
        ix.insert(5, loc(0, 200), false, b"a");
        ix.insert(10_000, loc(0, 300), false, b"a");
        ix.insert(10_001, loc(1, 0), false, b"b");
        assert_eq!(ix.runs.len(), 3);
        assert_eq!(ix.get(5).map(|l| l.offset), Some(200));
        assert!(ix.get(3).is_none());
        assert_eq!(ix.subject_count(b"a"), (3, Some(1)));
        assert_eq!(ix.last_for(b"b"), Some(10_001));
        assert!(ix.remove(1));
        assert_eq!(ix.subject_count(b"a"), (2, Some(5)));
        assert!(ix.remove(10_000));
        assert_eq!(ix.last_for(b"a"), Some(5));
        assert!(!ix.remove(10_000));
        let st = ix.state();
        assert_eq!(
            (st.msgs, st.first_seq, st.last_seq, st.num_subjects),
            (3, 2, 10_001, 2)
        );
        let mut snap = Vec::new();
        ix.write_to(&mut snap);
        let (back, rest) = FileIndex::read_from(&snap).expect("reads back");
        assert!(rest.is_empty());
        assert_eq!(back.state(), ix.state());
        assert_eq!(back.get(5), ix.get(5));
        assert_eq!(back.subject_count(b"a"), ix.subject_count(b"a"));
        for cut in [0, 10, snap.len() / 2, snap.len() - 1] {
            assert!(FileIndex::read_from(&snap[..cut]).is_none());
        }
        let mut seen = Vec::new();
        ix.scan(3, &mut |s, subj| {
            seen.push((s, subj.to_vec()));
            true
        });
        assert_eq!(seen, vec![(5, b"a".to_vec()), (10_001, b"b".to_vec())]);
    }
}
