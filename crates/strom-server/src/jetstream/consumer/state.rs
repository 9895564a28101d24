//! A consumer's delivery and acknowledgement state, with nats-server's rules for ack floors,
//! redelivery counts and the redelivery queue — pure data, no I/O — and its journal records.
//!
//! Sequences follow nats-server: `dseq` is the last consumer sequence handed out, `next` the
//! next stream sequence to look at; the ack floor is the highest (consumer, stream) pair below
//! which everything is acknowledged.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::super::consumer_config::AckPolicy;

/// A message delivered and not yet acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pending {
    /// The consumer sequence of its first delivery.
    pub cseq: u64,
    /// When it was last delivered (or its redelivery deadline was moved), in nanoseconds.
    pub ts: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct State {
    /// The last consumer sequence delivered.
    pub dseq: u64,
    /// The next stream sequence to consider.
    pub next: u64,
    /// (consumer sequence, stream sequence) at and below which everything is acknowledged.
    pub ack_floor: (u64, u64),
    pub pending: BTreeMap<u64, Pending>,
    /// Times each message was redelivered (delivery count minus one), while it matters.
    pub redelivered: HashMap<u64, u64>,
    /// Messages waiting to be redelivered, lowest first.
    pub redeliver: BTreeSet<u64>,
    /// When something was last delivered and last acknowledged (nanoseconds; 0 never).
    pub last_delivered: i64,
    pub last_acked: i64,
}

/// What an acknowledgement did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Acked {
    /// Stream sequences now acknowledged (for interest and work-queue retention).
    pub seqs: Vec<u64>,
    /// Whether it was one nats-server counts (for the ack reply and the sampled metric).
    pub counted: bool,
}

impl State {
    /// A state starting at stream sequence `start`.
    pub fn starting_at(start: u64) -> State {
        State {
            next: start.max(1),
            ack_floor: (0, start.max(1) - 1),
            ..State::default()
        }
    }

    /// The delivery count a redelivery of `seq` would have.
    pub fn delivery_count(&self, seq: u64) -> u64 {
        self.redelivered.get(&seq).copied().unwrap_or(0) + 1
    }

    /// Records a delivery of `seq` (a first delivery when `dc` is 1) at time `now`; returns
    /// the consumer sequence it goes out with.
    pub fn deliver(&mut self, seq: u64, dc: u64, ack: AckPolicy, now: i64) -> u64 {
        self.dseq += 1;
        if dc == 1 && seq >= self.next {
            self.next = seq + 1;
        }
        if dc > 1 {
            self.redelivered.insert(seq, dc - 1);
        }
        self.last_delivered = now;
        if ack == AckPolicy::None {
            self.ack_floor = (self.dseq, seq);
        } else {
            let cseq = self.dseq;
            self.pending
                .entry(seq)
                .and_modify(|p| p.ts = now)
                .or_insert(Pending { cseq, ts: now });
        }
        self.dseq
    }

    /// nats-server's `moveAckFloor` after the message (`cseq`, `seq`) left pending.
    fn move_ack_floor(&mut self, cseq: u64, seq: u64) {
        if self.pending.is_empty() {
            self.ack_floor = (self.dseq, self.next - 1);
        } else if cseq == self.ack_floor.0 + 1 {
            self.ack_floor = (cseq, seq);
            if let Some((s, p)) = self.pending.range(seq + 1..).next() {
                if p.cseq > 0 {
                    self.ack_floor = (p.cseq - 1, s - 1);
                }
            }
        }
    }

    /// An acknowledgement of stream sequence `seq` delivered as consumer sequence `dseq`.
    pub fn ack(&mut self, seq: u64, dseq: u64, policy: AckPolicy, now: i64) -> Acked {
        if seq >= self.next {
            return Acked::default();
        }
        match policy {
            AckPolicy::Explicit => {
                let mut done = Acked {
                    counted: true,
                    ..Acked::default()
                };
                if let Some(p) = self.pending.remove(&seq) {
                    self.move_ack_floor(p.cseq, seq);
                    done.seqs.push(seq);
                    self.last_acked = now;
                }
                self.redelivered.remove(&seq);
                self.redeliver.remove(&seq);
                done
            }
            AckPolicy::All | AckPolicy::FlowControl => {
                if dseq <= self.ack_floor.0 || seq <= self.ack_floor.1 {
                    return Acked {
                        counted: true,
                        ..Acked::default()
                    };
                }
                self.ack_floor = (dseq, seq);
                let below: Vec<u64> = self.pending.range(..=seq).map(|(s, _)| *s).collect();
                for s in &below {
                    self.pending.remove(s);
                    self.redelivered.remove(s);
                    self.redeliver.remove(s);
                }
                if self.pending.is_empty() {
                    self.ack_floor = (self.dseq, self.next - 1);
                }
                self.last_acked = now;
                Acked {
                    seqs: below,
                    counted: true,
                }
            }
            AckPolicy::None => Acked::default(),
        }
    }

    /// Whether `seq`/`dseq` is a delivery still waiting for its ack (a NAK or progress
    /// applies to it).
    pub fn is_pending(&self, seq: u64, dseq: u64) -> bool {
        dseq > self.ack_floor.0 && dseq <= self.dseq && self.pending.contains_key(&seq)
    }

    /// Gives up on `seq` (max deliveries reached, or the message is gone): out of pending,
    /// floors moved as for an ack; the redelivery count is kept.
    pub fn drop_pending(&mut self, seq: u64) {
        self.redeliver.remove(&seq);
        if let Some(p) = self.pending.remove(&seq) {
            self.move_ack_floor(p.cseq, seq);
        }
    }

    /// Gives up on `seq` after its last allowed delivery: out of pending, the ack floor left
    /// where it is (nats-server 2.15 moves it only with the next ack).
    pub fn give_up(&mut self, seq: u64, deliveries: u64) {
        self.redeliver.remove(&seq);
        self.pending.remove(&seq);
        self.redelivered.insert(seq, deliveries);
    }

    /// Forgets what is below the stream's first sequence (`first`) after messages left it.
    pub fn forget_below(&mut self, first: u64) {
        let gone: Vec<u64> = self.pending.range(..first).map(|(s, _)| *s).collect();
        for s in gone {
            self.pending.remove(&s);
            self.redeliver.remove(&s);
            if s > self.ack_floor.1 {
                self.ack_floor.1 = s;
            }
        }
        self.redelivered.retain(|s, _| *s >= first);
        if self.pending.is_empty() && self.dseq > 0 {
            self.ack_floor = (self.dseq, self.next - 1);
        }
        if self.next < first {
            self.next = first;
            if self.pending.is_empty() {
                self.ack_floor.1 = first - 1;
            }
        }
    }
}

/// Journal records (the first byte says which).
pub mod record {
    use super::{Pending, State};

    const DELIVERED: u8 = 1;
    const ACKED: u8 = 2;
    const SNAPSHOT: u8 = 3;
    const SKIP: u8 = 4;
    const GAVE_UP: u8 = 5;

    fn put(out: &mut Vec<u8>, v: u64) {
        out.extend_from_slice(&v.to_le_bytes());
    }

    struct Reader<'a>(&'a [u8]);

    impl Reader<'_> {
        fn u64(&mut self) -> Option<u64> {
            let (head, rest) = self.0.split_first_chunk::<8>()?;
            self.0 = rest;
            Some(u64::from_le_bytes(*head))
        }
    }

    /// A delivery: stream and consumer sequence, delivery count, time; and where `next` stood.
    pub fn delivered(seq: u64, dseq: u64, dc: u64, ts: i64, next: u64) -> Vec<u8> {
        let mut out = vec![DELIVERED];
        for v in [seq, dseq, dc, ts as u64, next] {
            put(&mut out, v);
        }
        out
    }

    /// An acknowledgement (or a message given up on): the state's ack floor and the sequences
    /// that left pending.
    pub fn acked(floor: (u64, u64), seqs: &[u64]) -> Vec<u8> {
        let mut out = vec![ACKED];
        put(&mut out, floor.0);
        put(&mut out, floor.1);
        put(&mut out, seqs.len() as u64);
        for s in seqs {
            put(&mut out, *s);
        }
        out
    }

    /// A message given up on after `deliveries` deliveries: out of pending, its redelivery
    /// count kept (as `num_redelivered` shows it until it is acknowledged or forgotten).
    pub fn gave_up(seq: u64, deliveries: u64) -> Vec<u8> {
        let mut out = vec![GAVE_UP];
        put(&mut out, seq);
        put(&mut out, deliveries);
        out
    }

    /// The whole state.
    pub fn snapshot(st: &State) -> Vec<u8> {
        let mut out = vec![SNAPSHOT];
        for v in [
            st.dseq,
            st.next,
            st.ack_floor.0,
            st.ack_floor.1,
            st.last_delivered as u64,
            st.last_acked as u64,
            st.pending.len() as u64,
        ] {
            put(&mut out, v);
        }
        for (s, p) in &st.pending {
            put(&mut out, *s);
            put(&mut out, p.cseq);
            put(&mut out, p.ts as u64);
        }
        put(&mut out, st.redelivered.len() as u64);
        for (s, n) in &st.redelivered {
            put(&mut out, *s);
            put(&mut out, *n);
        }
        out
    }

    /// `last_per_subject`: the sequences to deliver first and where to go on after them.
    pub fn skip(resume: u64, seqs: &std::collections::VecDeque<u64>) -> Vec<u8> {
        let mut out = vec![SKIP];
        put(&mut out, resume);
        put(&mut out, seqs.len() as u64);
        for s in seqs {
            put(&mut out, *s);
        }
        out
    }

    /// The list a [`skip`] record holds, if `rec` is one.
    pub fn skip_list(rec: &[u8]) -> Option<(u64, Vec<u64>)> {
        let (&kind, body) = rec.split_first()?;
        if kind != SKIP {
            return None;
        }
        let mut r = Reader(body);
        let resume = r.u64()?;
        let n = r.u64()?;
        let mut seqs = Vec::with_capacity(n.min(1 << 20) as usize);
        for _ in 0..n {
            seqs.push(r.u64()?);
        }
        Some((resume, seqs))
    }

    /// Applies one record; `false` when it is not one (damage that passed the checksum).
    /// Skip lists are the caller's ([`skip_list`]).
    pub fn apply(st: &mut State, rec: &[u8]) -> bool {
        let Some((&kind, body)) = rec.split_first() else {
            return false;
        };
        let mut r = Reader(body);
        let done = match kind {
            DELIVERED => (|| {
                let (seq, dseq, dc, ts, next) = (r.u64()?, r.u64()?, r.u64()?, r.u64()?, r.u64()?);
                st.dseq = st.dseq.max(dseq);
                st.next = st.next.max(next);
                st.last_delivered = ts as i64;
                if dc > 1 {
                    st.redelivered.insert(seq, dc - 1);
                }
                if seq > st.ack_floor.1 {
                    st.pending
                        .entry(seq)
                        .and_modify(|p| p.ts = ts as i64)
                        .or_insert(Pending {
                            cseq: dseq,
                            ts: ts as i64,
                        });
                }
                Some(())
            })(),
            ACKED => (|| {
                st.ack_floor = (r.u64()?, r.u64()?);
                st.dseq = st.dseq.max(st.ack_floor.0);
                st.next = st.next.max(st.ack_floor.1 + 1);
                let n = r.u64()?;
                for _ in 0..n {
                    let s = r.u64()?;
                    st.pending.remove(&s);
                    st.redelivered.remove(&s);
                }
                let floor = st.ack_floor.1;
                st.pending.retain(|s, _| *s > floor);
                Some(())
            })(),
            SNAPSHOT => (|| {
                let mut fresh = State {
                    dseq: r.u64()?,
                    next: r.u64()?,
                    ack_floor: (r.u64()?, r.u64()?),
                    last_delivered: r.u64()? as i64,
                    last_acked: r.u64()? as i64,
                    ..State::default()
                };
                let n = r.u64()?;
                for _ in 0..n {
                    let (s, cseq, ts) = (r.u64()?, r.u64()?, r.u64()?);
                    fresh.pending.insert(
                        s,
                        Pending {
                            cseq,
                            ts: ts as i64,
                        },
                    );
                }
                let n = r.u64()?;
                for _ in 0..n {
                    let (s, c) = (r.u64()?, r.u64()?);
                    fresh.redelivered.insert(s, c);
                }
                *st = fresh;
                Some(())
            })(),
            GAVE_UP => (|| {
                let (seq, deliveries) = (r.u64()?, r.u64()?);
                st.give_up(seq, deliveries);
                Some(())
            })(),
            SKIP => Some(()),
            _ => None,
        };
        done.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ack_floor_moves_like_nats_server() {
        let mut st = State::starting_at(1);
        for seq in 1..=5 {
            st.deliver(seq, 1, AckPolicy::Explicit, 0);
        }
        st.ack(3, 3, AckPolicy::Explicit, 1);
        assert_eq!(st.ack_floor, (0, 0));
        st.ack(1, 1, AckPolicy::Explicit, 1);
        assert_eq!(st.ack_floor, (1, 1));
        st.ack(2, 2, AckPolicy::Explicit, 1);
        assert_eq!(st.ack_floor, (3, 3));
        st.ack(5, 5, AckPolicy::Explicit, 1);
        st.ack(4, 4, AckPolicy::Explicit, 1);
        assert_eq!(st.ack_floor, (5, 5));
        assert!(st.pending.is_empty());
    }

    #[test]
    fn ack_all_acks_everything_below() {
        let mut st = State::starting_at(1);
        for seq in 1..=4 {
            st.deliver(seq, 1, AckPolicy::All, 0);
        }
        let done = st.ack(3, 3, AckPolicy::All, 1);
        assert_eq!(done.seqs, vec![1, 2, 3]);
        assert_eq!(st.ack_floor, (3, 3));
        assert_eq!(st.pending.len(), 1);
    }

    #[test]
    fn redelivery_keeps_the_first_consumer_sequence() {
        let mut st = State::starting_at(1);
        st.deliver(1, 1, AckPolicy::Explicit, 0);
        st.deliver(2, 1, AckPolicy::Explicit, 0);
        let c = st.deliver(1, 2, AckPolicy::Explicit, 5);
        assert_eq!(c, 3);
        assert_eq!(st.pending[&1].cseq, 1);
        assert_eq!(st.delivery_count(1), 2);
        st.ack(1, 3, AckPolicy::Explicit, 6);
        assert_eq!(st.ack_floor, (1, 1));
        assert!(st.redelivered.is_empty());
    }

    #[test]
    fn a_message_given_up_on_keeps_its_redelivery_count_after_replay() {
        let mut st = State::starting_at(1);
        let mut log = Vec::new();
        st.deliver(1, 1, AckPolicy::Explicit, 0);
        log.push(record::delivered(1, 1, 1, 0, 2));
        st.deliver(1, 2, AckPolicy::Explicit, 5);
        log.push(record::delivered(1, 2, 2, 5, 2));
        st.give_up(1, 2);
        log.push(record::gave_up(1, 2));
        let mut replayed = State::default();
        for rec in &log {
            assert!(record::apply(&mut replayed, rec));
        }
        assert_eq!(replayed.redelivered.get(&1), Some(&2), "{replayed:?}");
        assert!(replayed.pending.is_empty());
        assert_eq!(replayed, st);
    }

    #[test]
    fn journal_replays_to_the_same_state() {
        let mut st = State::starting_at(1);
        let mut log = Vec::new();
        for seq in 1..=6 {
            let d = st.deliver(seq, 1, AckPolicy::Explicit, seq as i64);
            log.push(record::delivered(seq, d, 1, seq as i64, st.next));
        }
        let d = st.deliver(2, 2, AckPolicy::Explicit, 9);
        log.push(record::delivered(2, d, 2, 9, st.next));
        for seq in [1, 4] {
            let done = st.ack(seq, seq, AckPolicy::Explicit, 10);
            log.push(record::acked(st.ack_floor, &done.seqs));
        }
        let mut replayed = State::starting_at(1);
        for r in &log {
            assert!(record::apply(&mut replayed, r));
        }
        assert_eq!(replayed.pending, st.pending);
        assert_eq!(replayed.ack_floor, st.ack_floor);
        assert_eq!((replayed.dseq, replayed.next), (st.dseq, st.next));
        assert_eq!(replayed.redelivered, st.redelivered);
        let mut from_snap = State::default();
        assert!(record::apply(&mut from_snap, &record::snapshot(&st)));
        assert_eq!(from_snap.pending, st.pending);
        assert_eq!(from_snap.ack_floor, st.ack_floor);
        assert!(!record::apply(&mut from_snap, &[9, 1, 2]));
    }
}
