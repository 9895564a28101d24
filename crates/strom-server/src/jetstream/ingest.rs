//! A stream's writer: one thread per stream that takes the messages its subscriptions
//! captured, checks each against the stream's rules (expected-* headers, deduplication,
//! size, limits, rollups, TTLs), appends the batch to the store, and hands the fsync that
//! makes it durable (group commit) to the stream's commit thread ([`super::commit`]), which
//! sends the acknowledgements once it returned.
//!
//! **Invariant:** under the default sync policy, no PubAck leaves before the `sync` covering
//! its message has returned.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;
use strom_proto::headers;
use strom_store::Store;

use super::commit::{Batch, Committer, Reply};
use super::errors::JsError;
use super::sourcing::link::Origin;
use super::stream::Stream;
use super::stream_config::{Discard, Storage, StreamConfig};
use super::wire::now_nanos;
use crate::options::SyncPolicy;
use crate::server::Shared;

/// Most messages one batch takes before it is synced and acknowledged.
const MAX_BATCH: usize = 8192;

/// How often a writer wakes to expire messages when nothing arrives.
const TICK: Duration = Duration::from_millis(250);

pub const MSG_ID: &[u8] = b"Nats-Msg-Id";
pub const EXPECTED_STREAM: &[u8] = b"Nats-Expected-Stream";
pub const EXPECTED_LAST_SEQ: &[u8] = b"Nats-Expected-Last-Sequence";
pub const EXPECTED_LAST_SUBJ_SEQ: &[u8] = b"Nats-Expected-Last-Subject-Sequence";
pub const EXPECTED_LAST_SUBJ_SEQ_SUBJECT: &[u8] = b"Nats-Expected-Last-Subject-Sequence-Subject";
pub const EXPECTED_LAST_MSG_ID: &[u8] = b"Nats-Expected-Last-Msg-Id";
pub const ROLLUP: &[u8] = b"Nats-Rollup";
pub const TTL: &[u8] = b"Nats-TTL";
pub const STREAM_SOURCE: &[u8] = b"Nats-Stream-Source";

/// A message a stream captured.
pub struct Inbound {
    pub subject: Bytes,
    pub reply: Option<Bytes>,
    pub headers: Option<Bytes>,
    pub payload: Bytes,
    /// When the stream captured it, for the publish latency; set when it has a reply.
    pub captured: Option<Instant>,
    /// Set when it came from a mirror's or source's origin (or is a flow-control answer).
    pub origin: Option<Box<Origin>>,
}

impl Inbound {
    /// A message from an origin, without subject or contents yet.
    pub fn sourced(origin: Origin) -> Inbound {
        Inbound {
            subject: Bytes::new(),
            reply: None,
            headers: None,
            payload: Bytes::new(),
            captured: None,
            origin: Some(Box::new(origin)),
        }
    }
}

/// What a writer's queue carries.
pub enum Work {
    Msg(Inbound),
    /// Sync what is held and end. (Senders may outlive the stream: publishers cache match
    /// results that hold the stream's subscriptions.)
    Stop,
}

/// What a writer needs from the server.
#[derive(Clone)]
pub struct Context {
    pub server: Weak<Shared>,
    pub sync: SyncPolicy,
    pub domain: Option<String>,
}

/// Recently seen `Nats-Msg-Id`s, for the duplicate window.
#[derive(Default)]
struct Dedupe {
    ids: HashMap<Bytes, u64>,
    order: VecDeque<(i64, Bytes)>,
}

impl Dedupe {
    fn expire(&mut self, now: i64, window: i64) {
        while let Some((ts, _)) = self.order.front() {
            if *ts > now - window {
                break;
            }
            if let Some((_, id)) = self.order.pop_front() {
                self.ids.remove(&id);
            }
        }
    }

    fn insert(&mut self, id: Bytes, seq: u64, ts: i64) {
        self.ids.insert(id.clone(), seq);
        self.order.push_back((ts, id));
    }
}

struct Writer {
    stream: Arc<Stream>,
    ctx: Context,
    dedupe: Dedupe,
    last_msg_id: Bytes,
    /// Messages with a TTL: (expiry in nanoseconds, sequence).
    ttls: BTreeSet<(i64, u64)>,
    /// Appends not yet synced (lazy policy only).
    dirty: bool,
    /// The store's bytes when this batch began, as counted in the account's usage.
    batch_base: u64,
    /// The stream's subject transform and republish directive, as of this batch.
    transform: Option<crate::transform::Transform>,
    republish: Option<(crate::transform::Transform, bool)>,
    /// Messages to republish once the batch is durable: subject, headers, payload.
    outgoing: Vec<(Vec<u8>, Vec<u8>, Bytes)>,
    /// The commit thread: fsyncs batches in order, then sends their acknowledgements.
    committer: Committer,
    /// Set when an fsync failed (as of this batch): what was appended since may or may not
    /// be on disk, so the stream takes nothing more until it is reopened from disk.
    broken: Option<String>,
    last_sync: Instant,
}

pub fn run(stream: Arc<Stream>, rx: Receiver<Work>, ctx: Context) {
    let mut w = Writer {
        stream: stream.clone(),
        ctx: ctx.clone(),
        dedupe: Dedupe::default(),
        last_msg_id: Bytes::new(),
        ttls: BTreeSet::new(),
        dirty: false,
        batch_base: 0,
        transform: None,
        republish: None,
        outgoing: Vec::new(),
        committer: Committer::start(stream.clone(), ctx.clone()),
        broken: None,
        last_sync: Instant::now(),
    };
    w.rebuild();
    let mut batch: Vec<Inbound> = Vec::new();
    let mut stop = false;
    while !stop {
        match rx.recv_timeout(TICK) {
            Ok(Work::Msg(m)) => batch.push(m),
            Ok(Work::Stop) | Err(RecvTimeoutError::Disconnected) => stop = true,
            Err(RecvTimeoutError::Timeout) => {}
        }
        while !stop && batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(Work::Msg(m)) => batch.push(m),
                Ok(Work::Stop) => stop = true,
                Err(_) => break,
            }
        }
        w.process(&mut batch);
    }
    // A clean stop: every batch committed, then sync, and leave the index snapshot that
    // makes the next start fast.
    w.committer.finish();
    let stream = w.stream.clone();
    let closed = stream.store.lock().close();
    if let Err(e) = closed {
        crate::error!(
            "JetStream stream '{}' could not close cleanly: {e}",
            stream.name
        );
    }
}

fn parse_u64(v: &[u8]) -> Option<u64> {
    std::str::from_utf8(v).ok()?.trim().parse().ok()
}

/// `Nats-TTL`: seconds (or a Go duration of at least a second); `never` is -1.
pub fn parse_ttl(v: &[u8]) -> Result<i64, JsError> {
    let s = std::str::from_utf8(v).map_err(|_| JsError::TtlInvalid)?;
    if s.eq_ignore_ascii_case("never") {
        return Ok(-1);
    }
    if let Ok(d) = strom_conf::parse_duration(s) {
        if d < Duration::from_secs(1) {
            return Err(JsError::TtlInvalid);
        }
        return Ok(d.as_secs() as i64);
    }
    s.parse::<i64>()
        .ok()
        .filter(|n| *n >= 0)
        .ok_or(JsError::TtlInvalid)
}

impl Writer {
    /// Rebuilds the duplicate window, the last message id and the TTL set from the store,
    /// reading only the messages that can matter: those inside the window, the newest, and
    /// (when the stream allows TTLs) those with headers.
    fn rebuild(&mut self) {
        let (window, allow_ttl) = {
            let c = self.stream.config.read();
            (c.duplicate_window, c.allow_msg_ttl)
        };
        let now = now_nanos();
        let store = self.stream.store.lock();
        // Newest first, until a message older than the window.
        let mut recent = Vec::new();
        store.scan_back(&mut |seq, _| match store.get(seq) {
            Ok(Some(m)) => {
                let keep = recent.is_empty() || m.ts > now - window;
                if keep {
                    recent.push(m);
                }
                keep
            }
            _ => true,
        });
        for (i, m) in recent.iter().rev().enumerate() {
            if let Some(id) = headers::get(&m.headers, MSG_ID) {
                let id = Bytes::copy_from_slice(id);
                if i + 1 == recent.len() {
                    self.last_msg_id = id.clone();
                }
                if m.ts > now - window {
                    self.dedupe.insert(id, m.seq, m.ts);
                }
            }
        }
        if allow_ttl {
            let mut all = Vec::new();
            store.scan(0, &mut |seq, _| {
                all.push(seq);
                true
            });
            for seq in all {
                let Ok(Some(m)) = store.get(seq) else {
                    continue;
                };
                if let Some(Ok(ttl)) = headers::get(&m.headers, TTL).map(parse_ttl) {
                    if ttl > 0 {
                        self.ttls.insert((m.ts + ttl * 1_000_000_000, seq));
                    }
                }
            }
        }
    }

    fn process(&mut self, batch: &mut Vec<Inbound>) {
        let mut replies: Vec<Reply> = Vec::new();
        let now = now_nanos();
        let cfg = self.stream.config.read().clone();
        let stream = self.stream.clone();
        self.broken = self.committer.broken.lock().clone();
        // Checked when the configuration was accepted; a bad one here only disables them.
        self.transform = cfg.transform().ok().flatten();
        self.republish = cfg.republish().ok().flatten();
        // Appends under the store lock; the fsync runs on the commit thread, without the
        // lock, while this thread goes on with the next batch.
        let job = {
            let mut store = stream.store.lock();
            self.batch_base = store.state().bytes;
            stream.account_bytes(self.batch_base);
            for mut m in batch.drain(..) {
                if let Some(origin) = m.origin.take() {
                    self.store_sourced(&mut **store, &cfg, m, *origin, now);
                    continue;
                }
                let body = self.store_one(&mut **store, &cfg, &m, now, false);
                if let Some(to) = m.reply {
                    if !cfg.no_ack {
                        replies.push(Reply {
                            to,
                            body,
                            captured: m.captured,
                        });
                    }
                }
            }
            self.expire(&mut **store, &cfg, now);
            stream.account_bytes(store.state().bytes);
            let sync_now = match self.ctx.sync {
                SyncPolicy::Always => true,
                SyncPolicy::Every(d) => self.last_sync.elapsed() >= d,
            };
            let last = store.state().last_seq;
            if sync_now && self.dirty {
                self.dirty = false;
                self.last_sync = Instant::now();
                (Some((store.begin_sync(), last)), None)
            } else {
                (None, Some(last))
            }
        };
        let (job, visible) = job;
        if let (Some(last), SyncPolicy::Every(_)) = (visible, self.ctx.sync) {
            // The operator chose speed over durability: consumers see it at once (told
            // outside the store lock: waking them takes the consumers' lock).
            stream.stored(last);
        }
        if job.is_none() && replies.is_empty() && self.outgoing.is_empty() {
            return;
        }
        let outgoing = std::mem::take(&mut self.outgoing);
        self.committer.send(
            &stream,
            &self.ctx,
            Batch {
                job,
                replies,
                outgoing,
            },
        );
    }

    /// Checks and stores one message: `(sequence, duplicate)` or the error to answer.
    fn store_one(
        &mut self,
        store: &mut dyn Store,
        cfg: &StreamConfig,
        m: &Inbound,
        now: i64,
        sourced: bool,
    ) -> Result<(u64, bool), JsError> {
        let hdr: &[u8] = m.headers.as_deref().unwrap_or(&[]);
        if let Some(e) = &self.broken {
            return Err(JsError::StoreFailed(format!("stream store failed: {e}")));
        }
        if cfg.sealed {
            return Err(JsError::Sealed);
        }
        // The subject the message is stored under (subject_transform), which the
        // expectations about a subject are checked against, as in nats-server.
        let transformed = self.transform.as_ref().and_then(|t| t.apply(&m.subject));
        let subject: &[u8] = transformed.as_deref().unwrap_or(&m.subject);
        let mut ttl = 0i64;
        let mut rollup: Option<&[u8]> = None;
        let mut msg_id: Option<&[u8]> = None;
        if !hdr.is_empty() {
            if !sourced && headers::get(hdr, STREAM_SOURCE).is_some() {
                return Err(JsError::Text(
                    400,
                    10227,
                    "message stream source header is not allowed".into(),
                ));
            }
            if let Some(s) = headers::get(hdr, EXPECTED_STREAM) {
                if s != cfg.name.as_bytes() {
                    return Err(JsError::StreamNotMatch);
                }
            }
            if let Some(v) = headers::get(hdr, TTL) {
                let t = parse_ttl(v);
                if sourced {
                    // Copied from an origin: its TTL counts here only if this stream
                    // allows TTLs, and is never a reason to refuse the message.
                    ttl = t.ok().filter(|_| cfg.allow_msg_ttl).unwrap_or(0);
                } else {
                    if !cfg.allow_msg_ttl && !matches!(t, Ok(0)) {
                        return Err(JsError::TtlDisabled);
                    }
                    ttl = t?;
                }
            }
            if let Some(v) = headers::get(hdr, EXPECTED_LAST_SUBJ_SEQ).and_then(parse_u64) {
                let on: &[u8] = headers::get(hdr, EXPECTED_LAST_SUBJ_SEQ_SUBJECT)
                    .filter(|s| !s.is_empty())
                    .unwrap_or(subject);
                let last = store.last_seq_for(on).unwrap_or(0);
                if last != v {
                    return Err(JsError::WrongLastSequence(last));
                }
            }
            if let Some(v) = headers::get(hdr, EXPECTED_LAST_SEQ).and_then(parse_u64) {
                let last = store.state().last_seq;
                if v != last {
                    return Err(JsError::WrongLastSequence(last));
                }
            }
            msg_id = headers::get(hdr, MSG_ID).filter(|id| !id.is_empty());
            if let Some(id) = msg_id {
                self.dedupe.expire(now, cfg.duplicate_window);
                if let Some(seq) = self.dedupe.ids.get(id) {
                    return Ok((*seq, true));
                }
            }
            if let Some(want) = headers::get(hdr, EXPECTED_LAST_MSG_ID) {
                if want != &self.last_msg_id[..] {
                    return Err(JsError::WrongLastMsgId(
                        String::from_utf8_lossy(&self.last_msg_id).into_owned(),
                    ));
                }
            }
            if let Some(r) = headers::get(hdr, ROLLUP).filter(|_| {
                // A copied rollup applies only where this stream allows rollups.
                !sourced || (cfg.allow_rollup_hdrs && !cfg.deny_purge)
            }) {
                if !cfg.allow_rollup_hdrs {
                    return Err(JsError::RollupFailed("rollup not permitted".into()));
                }
                if r == b"sub" || r == b"all" {
                    rollup = Some(r);
                } else if !sourced {
                    return Err(JsError::RollupFailed(format!(
                        "rollup value invalid: {:?}",
                        String::from_utf8_lossy(r)
                    )));
                }
            }
        }
        if cfg.max_msg_size >= 0 && (hdr.len() + m.payload.len()) as i64 > cfg.max_msg_size {
            return Err(JsError::MessageTooLarge);
        }
        if cfg.discard == Discard::New {
            self.check_discard_new(store, cfg, subject, hdr, &m.payload)?;
        }
        let size = match cfg.storage {
            Storage::File => strom_store::file_msg_size(subject, hdr, &m.payload),
            Storage::Memory => strom_store::mem_msg_size(subject, hdr, &m.payload),
        };
        let pending = store.state().bytes as i64 - self.batch_base as i64;
        if self.stream.usage.would_exceed(cfg.storage, pending, size) {
            return Err(JsError::AccountResourcesExceeded);
        }
        let previous = self
            .republish
            .as_ref()
            .and_then(|_| store.last_seq_for(subject))
            .unwrap_or(0);
        let seq = store
            .append(subject, hdr, &m.payload, now)
            .map_err(|e| JsError::StoreFailed(e.to_string()))?;
        self.republish_one(subject, hdr, &m.payload, seq, now, previous);
        self.dirty = true;
        // nats-server: the last message id is that of the last message stored, even none.
        match msg_id {
            Some(id) => {
                let id = Bytes::copy_from_slice(id);
                self.last_msg_id = id.clone();
                self.dedupe.insert(id, seq, now);
            }
            None => self.last_msg_id = Bytes::new(),
        }
        if ttl > 0 {
            self.ttls.insert((now + ttl * 1_000_000_000, seq));
        }
        match rollup {
            Some(b"all") => {
                store
                    .compact(seq)
                    .map_err(|e| JsError::StoreFailed(e.to_string()))?;
            }
            Some(_) => self.rollup_subject(store, subject, seq),
            None => {}
        }
        let limits = limits_of(cfg);
        strom_store::enforce(store, &limits, now, Some(subject))
            .map_err(|e| JsError::StoreFailed(e.to_string()))?;
        // An interest stream keeps a message only while some consumer wants it.
        if cfg.retention == super::stream_config::Retention::Interest
            && !self
                .stream
                .consumers
                .read()
                .values()
                .any(|c| c.wants(subject))
        {
            let _ = store.delete(seq);
        }
        Ok((seq, false))
    }

    /// Stores a message from a mirror's or source's origin, or answers a flow-control
    /// request once what came before it is stored.
    fn store_sourced(
        &mut self,
        store: &mut dyn Store,
        cfg: &StreamConfig,
        m: Inbound,
        origin: Origin,
        now: i64,
    ) {
        match origin {
            // Answered with the batch's republished copies, once it is durable: an origin may
            // take the answer as an acknowledgement of everything before it.
            Origin::Flow { link, reply, at } => self.outgoing.push((
                reply.to_vec(),
                super::sourcing::link::flow_answer(link.answerable(at)),
                Bytes::new(),
            )),
            Origin::Source {
                link,
                seq,
                ident,
                before,
            } => match self.store_one(store, cfg, &m, now, true) {
                Ok((_, false)) => self.stream.note_sourced(&link.iname, seq, &ident),
                Ok((_, true)) => {}
                Err(e) => {
                    if !matches!(e, JsError::StoreFailed(_)) || self.broken.is_some() {
                        crate::warn!(
                            "Error processing inbound source \"{}\" for '{} > {}': {}",
                            link.iname,
                            self.stream.account.name,
                            self.stream.name,
                            e.api().description
                        );
                    }
                    link.refused(before);
                }
            },
            Origin::Mirror { link, seq, ts, gap } => {
                if let Err(e) = self.store_mirrored(store, cfg, &m, seq, ts, gap) {
                    let last = store.state().last_seq;
                    if let Some(e) = e {
                        crate::warn!(
                            "Error processing inbound mirror message for '{}' > '{}': {}",
                            self.stream.account.name,
                            self.stream.name,
                            e.api().description
                        );
                    }
                    link.realign(last);
                }
            }
        }
    }

    /// Stores a mirrored message at the origin's sequence `seq` and time `ts`. `Err(None)`:
    /// the sequence does not follow the mirror's last (the link starts again after it).
    fn store_mirrored(
        &mut self,
        store: &mut dyn Store,
        cfg: &StreamConfig,
        m: &Inbound,
        seq: u64,
        ts: i64,
        gap: bool,
    ) -> Result<(), Option<JsError>> {
        if let Some(e) = &self.broken {
            return Err(Some(JsError::StoreFailed(format!(
                "stream store failed: {e}"
            ))));
        }
        if cfg.sealed {
            return Err(Some(JsError::Sealed));
        }
        let st = store.state();
        if st.last_seq + 1 != seq {
            let moved = if st.last_seq >= seq {
                // Already held: a delivery of an earlier setup got here first.
                return Ok(());
            } else if st.msgs == 0 && (st.last_seq == 0 || gap) {
                store.compact(seq).map(|_| ())
            } else if gap {
                store.skip_to(seq)
            } else {
                return Err(None);
            };
            moved.map_err(|e| Some(JsError::StoreFailed(e.to_string())))?;
        }
        let transformed = self.transform.as_ref().and_then(|t| t.apply(&m.subject));
        let subject: &[u8] = transformed.as_deref().unwrap_or(&m.subject);
        let hdr: &[u8] = m.headers.as_deref().unwrap_or(&[]);
        if cfg.discard == Discard::New {
            self.check_discard_new(store, cfg, subject, hdr, &m.payload)
                .map_err(Some)?;
        }
        let previous = self
            .republish
            .as_ref()
            .and_then(|_| store.last_seq_for(subject))
            .unwrap_or(0);
        let stored = store
            .append(subject, hdr, &m.payload, ts)
            .map_err(|e| Some(JsError::StoreFailed(e.to_string())))?;
        self.republish_one(subject, hdr, &m.payload, stored, ts, previous);
        self.dirty = true;
        self.last_msg_id = Bytes::new();
        if cfg.allow_rollup_hdrs && !cfg.deny_purge {
            match headers::get(hdr, ROLLUP) {
                Some(b"all") => {
                    let _ = store.compact(stored);
                }
                Some(b"sub") => self.rollup_subject(store, subject, stored),
                _ => {}
            }
        }
        let limits = limits_of(cfg);
        strom_store::enforce(store, &limits, now_nanos(), Some(subject))
            .map_err(|e| Some(JsError::StoreFailed(e.to_string())))?;
        Ok(())
    }

    /// Removes the older messages of `subject` below `seq` (`Nats-Rollup: sub`).
    fn rollup_subject(&self, store: &mut dyn Store, subject: &[u8], seq: u64) {
        let mut older = Vec::new();
        store.scan(0, &mut |s, subj| {
            if s >= seq {
                return false;
            }
            if subj == subject {
                older.push(s);
            }
            true
        });
        for s in older {
            let _ = store.delete(s);
        }
    }

    /// Queues the republished copy of a stored message (sent once the batch is durable), with
    /// nats-server's headers.
    fn republish_one(
        &mut self,
        subject: &[u8],
        hdr: &[u8],
        payload: &Bytes,
        seq: u64,
        ts: i64,
        previous: u64,
    ) {
        let Some((t, headers_only)) = &self.republish else {
            return;
        };
        let Some(to) = t.apply(subject) else {
            return;
        };
        let mut b = headers::Builder::extend(hdr)
            .add("Nats-Stream", self.stream.name.as_bytes())
            .add("Nats-Subject", subject)
            .add("Nats-Sequence", seq.to_string().as_bytes())
            .add("Nats-Time-Stamp", super::wire::time_json(ts).as_bytes())
            .add("Nats-Last-Sequence", previous.to_string().as_bytes());
        let body = if *headers_only {
            b = b.add("Nats-Msg-Size", payload.len().to_string().as_bytes());
            Bytes::new()
        } else {
            payload.clone()
        };
        self.outgoing.push((to, b.finish(), body));
    }

    /// With `discard: new`, a full stream refuses new messages instead of dropping old ones.
    fn check_discard_new(
        &self,
        store: &dyn Store,
        cfg: &StreamConfig,
        subject: &[u8],
        hdr: &[u8],
        payload: &[u8],
    ) -> Result<(), JsError> {
        let st = store.state();
        let msg_size = |s: &[u8], h: &[u8], p: &[u8]| match cfg.storage {
            Storage::File => strom_store::file_msg_size(s, h, p),
            Storage::Memory => strom_store::mem_msg_size(s, h, p),
        };
        let size = msg_size(subject, hdr, payload);
        // At its subject's limit, the message replaces the subject's oldest (nats-server's
        // `asl`): the stream does not grow by a message, and by bytes only if it is larger.
        let (count, oldest) = store.subject_count(subject);
        let at_subject_limit =
            cfg.max_msgs_per_subject > 0 && count >= cfg.max_msgs_per_subject as u64;
        if at_subject_limit && cfg.discard_new_per_subject && headers::get(hdr, ROLLUP).is_none() {
            return Err(JsError::StoreFailed(
                "maximum messages per subject exceeded".into(),
            ));
        }
        if cfg.max_msgs > 0 && st.msgs >= cfg.max_msgs as u64 && !at_subject_limit {
            return Err(JsError::StoreFailed("maximum messages exceeded".into()));
        }
        if cfg.max_bytes > 0 && st.bytes + size > cfg.max_bytes as u64 {
            let replaced = oldest
                .filter(|_| at_subject_limit)
                .and_then(|seq| store.get(seq).ok().flatten())
                .map(|m| msg_size(&m.subject, &m.headers, &m.payload));
            if replaced.is_none_or(|r| r < size) {
                return Err(JsError::StoreFailed("maximum bytes exceeded".into()));
            }
        }
        Ok(())
    }

    /// Removes messages past `max_age` (unless their `Nats-TTL` says never) and past their
    /// own TTL. With `subject_delete_marker_ttl`, the last message of a subject is replaced
    /// by a delete marker (`Nats-Marker-Reason: MaxAge`, itself expiring after that TTL), as
    /// nats-server does, so that watchers learn the subject is gone.
    fn expire(&mut self, store: &mut dyn Store, cfg: &StreamConfig, now: i64) {
        let mut expired: Vec<strom_store::StoredMsg> = Vec::new();
        if cfg.max_age > 0 {
            let cutoff = now - cfg.max_age;
            if store.first().is_some_and(|(_, ts)| ts <= cutoff) {
                let mut seqs = Vec::new();
                store.scan(0, &mut |seq, _| {
                    seqs.push(seq);
                    seqs.len() < MAX_BATCH
                });
                for seq in seqs {
                    let Ok(Some(m)) = store.get(seq) else {
                        continue;
                    };
                    if m.ts > cutoff {
                        break;
                    }
                    let never = cfg.allow_msg_ttl
                        && headers::get(&m.headers, TTL).map(parse_ttl) == Some(Ok(-1));
                    if !never {
                        expired.push(m);
                    }
                }
            }
        }
        while let Some(&(at, seq)) = self.ttls.first() {
            if at > now {
                break;
            }
            self.ttls.pop_first();
            if let Ok(Some(m)) = store.get(seq) {
                expired.push(m);
            }
        }
        let marker_ttl = cfg.subject_delete_marker_ttl / 1_000_000_000;
        for m in expired {
            let is_marker = headers::get(&m.headers, MARKER_REASON).is_some();
            let last = store.subject_count(&m.subject).0 == 1;
            if marker_ttl > 0 && last && !is_marker {
                let hdr = headers::Builder::new()
                    .add("Nats-Marker-Reason", b"MaxAge")
                    .add("Nats-TTL", go_duration(marker_ttl).as_bytes())
                    .add("Nats-Rollup", b"sub")
                    .finish();
                if let Ok(seq) = store.append(&m.subject, &hdr, &[], now) {
                    self.ttls.insert((now + marker_ttl * 1_000_000_000, seq));
                    self.last_msg_id = Bytes::new();
                }
            }
            if let Ok(true) = store.delete(m.seq) {
                self.dirty = true;
            }
        }
    }
}

/// The header naming why the server placed a marker message.
pub const MARKER_REASON: &[u8] = b"Nats-Marker-Reason";

/// Whole seconds as Go prints a `time.Duration` (`30s`, `5m0s`, `1h0m0s`).
pub fn go_duration(secs: i64) -> String {
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    if h > 0 {
        format!("{h}h{m}m{s}s")
    } else if m > 0 {
        format!("{m}m{s}s")
    } else {
        format!("{s}s")
    }
}

/// The limits a stream's store enforces on append (`discard: old`).
pub fn limits_of(cfg: &StreamConfig) -> strom_store::Limits {
    let pos = |n: i64| (n > 0).then_some(n as u64);
    let old = cfg.discard == Discard::Old;
    strom_store::Limits {
        max_msgs: if old { pos(cfg.max_msgs) } else { None },
        max_bytes: if old { pos(cfg.max_bytes) } else { None },
        // Age is the writer's to expire (see `Writer::expire`): it knows about markers and
        // messages that never expire.
        max_age: None,
        max_msgs_per_subject: if cfg.discard_new_per_subject {
            None
        } else {
            pos(cfg.max_msgs_per_subject)
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_values() {
        assert_eq!(parse_ttl(b"never"), Ok(-1));
        assert_eq!(parse_ttl(b"5"), Ok(5));
        assert_eq!(parse_ttl(b"2s"), Ok(2));
        assert_eq!(parse_ttl(b"1m"), Ok(60));
        assert_eq!(parse_ttl(b"500ms"), Err(JsError::TtlInvalid));
        assert_eq!(parse_ttl(b"-3"), Err(JsError::TtlInvalid));
        assert_eq!(parse_ttl(b"soon"), Err(JsError::TtlInvalid));
        assert_eq!(parse_ttl(b"5m0s"), Ok(300));
    }

    #[test]
    fn durations_print_like_go() {
        assert_eq!(go_duration(1), "1s");
        assert_eq!(go_duration(300), "5m0s");
        assert_eq!(go_duration(3661), "1h1m1s");
    }
}
