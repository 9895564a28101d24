//! A stream's consumer thread. Everything that moves a consumer arrives here as an event —
//! an ack, a pull request, a flow-control reply, "new messages are durable" — and the thread
//! works in rounds: it applies a round's acks and journals them, makes the journals durable
//! with one fsync per consumer (group commit, under the default sync policy), and only then
//! answers the acks, removes acknowledged messages of interest and work-queue streams, and
//! delivers what is now due: redeliveries, pull requests, push deliveries, heartbeats.
//!
//! **Invariant:** under the default sync policy, no ack is answered, and no message is removed
//! for it, before the fsync covering its journal record has returned.

use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;
use strom_proto::headers;

use super::priority;
use super::pull::{self, Parsed, PullRequest};
use super::state::{self, Acked};
use super::{journal, Consumer, Inner};
use crate::client::ServerBatch;
use crate::jetstream::consumer_config::{AckPolicy, ConsumerConfig, ReplayPolicy};
use crate::jetstream::stream::Stream;
use crate::jetstream::stream_config::Retention;
use crate::jetstream::wire::now_nanos;
use crate::jetstream::{advisory, ingest};
use crate::options::SyncPolicy;
use crate::subscription::{Internal, Subscription};

/// Most events one round takes.
const ROUND: usize = 4096;
/// Most messages one consumer delivers in a round, so others get their turn.
const DELIVER_BUDGET: usize = 8192;
/// Unbound push consumers, inactivity and waiting requests' requesters are looked at this
/// often.
const TICK: Duration = Duration::from_millis(100);
/// Longest sleep when nothing needs looking at (events wake the thread).
const IDLE: Duration = Duration::from_secs(5);

pub enum Event {
    Ack {
        consumer: Arc<Consumer>,
        subject: Bytes,
        reply: Option<Bytes>,
        payload: Bytes,
    },
    Next {
        consumer: Arc<Consumer>,
        reply: Bytes,
        payload: Bytes,
    },
    FlowControl {
        consumer: Arc<Consumer>,
        subject: Bytes,
    },
    /// Something changed (new messages, a consumer added or updated): look again.
    Wake,
    Stop,
}

/// The running thread and the subscriptions that feed it.
pub struct Pump {
    pub tx: Sender<Event>,
    thread: Option<std::thread::JoinHandle<()>>,
    subs: Vec<Arc<Subscription>>,
}

#[derive(Clone, Copy)]
enum Route {
    Ack,
    Next,
    FlowControl,
}

/// The subscriptions' receiver: finds the consumer a subject names and queues the event.
struct Sink {
    stream: Weak<Stream>,
    tx: Sender<Event>,
    route: Route,
}

impl Internal for Sink {
    fn deliver(
        &self,
        _from: u64,
        subject: &[u8],
        reply: Option<&[u8]>,
        _headers: Option<&[u8]>,
        payload: &[u8],
    ) -> bool {
        let Some(stream) = self.stream.upgrade() else {
            return false;
        };
        let mut tokens = subject.split(|b| *b == b'.');
        let name = match self.route {
            // `$JS.ACK.<stream>.<consumer>.…` and `$JS.FC.<stream>.<consumer>.<id>`.
            Route::Ack | Route::FlowControl => tokens.nth(3),
            // `…CONSUMER.MSG.NEXT.<stream>.<consumer>`.
            Route::Next => subject.rsplit(|b| *b == b'.').next(),
        };
        let Some(consumer) = name
            .and_then(|n| std::str::from_utf8(n).ok())
            .and_then(|n| stream.consumers.read().get(n).cloned())
        else {
            return false;
        };
        let ev = match self.route {
            Route::Ack => Event::Ack {
                consumer,
                subject: Bytes::copy_from_slice(subject),
                reply: reply.map(Bytes::copy_from_slice),
                payload: Bytes::copy_from_slice(payload),
            },
            Route::Next => {
                let Some(reply) = reply else {
                    return true;
                };
                Event::Next {
                    consumer,
                    reply: Bytes::copy_from_slice(reply),
                    payload: Bytes::copy_from_slice(payload),
                }
            }
            Route::FlowControl => Event::FlowControl {
                consumer,
                subject: Bytes::copy_from_slice(subject),
            },
        };
        self.tx.send(ev).is_ok()
    }
}

impl Pump {
    /// Starts the thread of `stream` and subscribes its ack, pull-request and flow-control
    /// subjects.
    pub fn start(stream: &Arc<Stream>, ctx: ingest::Context) -> Pump {
        let (tx, rx) = mpsc::channel();
        let name = stream.name.clone();
        let mut subjects = vec![
            (format!("$JS.ACK.{name}.>"), Route::Ack),
            (format!("$JS.FC.{name}.>"), Route::FlowControl),
            (format!("$JS.API.CONSUMER.MSG.NEXT.{name}.*"), Route::Next),
        ];
        if let Some(d) = &ctx.domain {
            subjects.push((
                format!("$JS.{d}.API.CONSUMER.MSG.NEXT.{name}.*"),
                Route::Next,
            ));
        }
        let subs = subjects
            .into_iter()
            .map(|(s, route)| {
                let sink: Arc<dyn Internal> = Arc::new(Sink {
                    stream: Arc::downgrade(stream),
                    tx: tx.clone(),
                    route,
                });
                let sub = Arc::new(Subscription::internal(
                    stream.account.clone(),
                    Bytes::from(s.into_bytes()),
                    sink,
                ));
                stream.account.sublist.insert(sub.clone());
                sub
            })
            .collect();
        let runner = Runner {
            stream: stream.clone(),
            ctx,
            last_sync: Instant::now(),
            busy: std::cell::Cell::new(false),
        };
        let thread = std::thread::Builder::new()
            .name(format!("strom-consumers-{name}"))
            .spawn(move || runner.run(rx))
            .map_err(|e| crate::error!("Could not start the consumers of stream {name}: {e}"))
            .ok();
        Pump { tx, thread, subs }
    }

    /// Unsubscribes, ends the thread (which syncs every journal) and waits for it.
    pub fn stop(mut self, stream: &Stream) {
        for sub in self.subs.drain(..) {
            sub.close();
            stream.account.sublist.remove(&sub);
        }
        let _ = self.tx.send(Event::Stop);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Frames of a round, published once the round's acks are durable.
#[derive(Default)]
struct Replies {
    /// Ack replies and status frames: subject, headers.
    frames: Vec<(Bytes, Option<Vec<u8>>)>,
    /// Messages acknowledged in interest and work-queue streams.
    acked: Vec<u64>,
}

struct Runner {
    stream: Arc<Stream>,
    ctx: ingest::Context,
    last_sync: Instant,
    /// A consumer stopped at its delivery budget with more to send.
    busy: std::cell::Cell<bool>,
}

/// A parsed acknowledgement body.
enum AckKind<'a> {
    Ack,
    Next(&'a [u8]),
    Nak(&'a [u8]),
    Progress,
    Term(&'a [u8]),
    Other,
}

fn ack_kind(body: &[u8]) -> AckKind<'_> {
    if body.is_empty() || body == b"+ACK" || body == b"+OK" {
        AckKind::Ack
    } else if let Some(rest) = body.strip_prefix(b"+NXT") {
        AckKind::Next(rest)
    } else if let Some(rest) = body.strip_prefix(b"-NAK") {
        AckKind::Nak(rest)
    } else if body == b"+WPI" {
        AckKind::Progress
    } else if let Some(rest) = body.strip_prefix(b"+TERM") {
        AckKind::Term(rest)
    } else {
        AckKind::Other
    }
}

/// `(delivery count, stream sequence, consumer sequence)` of an ack subject
/// `$JS.ACK.<stream>.<consumer>.<dc>.<sseq>.<dseq>.<ts>.<pending>`.
fn ack_info(subject: &[u8]) -> Option<(u64, u64, u64)> {
    let t: Vec<&[u8]> = subject.split(|b| *b == b'.').collect();
    let n = |i: usize| -> Option<u64> { std::str::from_utf8(t.get(i)?).ok()?.parse().ok() };
    if t.len() == 9 {
        Some((n(4)?, n(5)?, n(6)?))
    } else if t.len() >= 11 {
        // `$JS.ACK.<domain>.<account hash>.<stream>.<consumer>.<dc>.<sseq>.<dseq>.…`.
        Some((n(6)?, n(7)?, n(8)?))
    } else {
        None
    }
}

/// A Go duration (`500ms`) or nanoseconds in JSON (`{"delay":…}`) after `-NAK`.
fn nak_delay(arg: &[u8]) -> Option<i64> {
    let arg = arg.trim_ascii();
    if arg.is_empty() {
        return None;
    }
    if arg[0] == b'{' {
        #[derive(serde::Deserialize)]
        struct Delay {
            #[serde(default)]
            delay: i64,
        }
        return serde_json::from_slice::<Delay>(arg).ok().map(|d| d.delay);
    }
    let s = std::str::from_utf8(arg).ok()?;
    strom_conf::parse_duration(s)
        .ok()
        .map(|d| d.as_nanos() as i64)
}

impl Runner {
    fn run(mut self, rx: Receiver<Event>) {
        let mut events: Vec<Event> = Vec::new();
        let mut stop = false;
        while !stop {
            let wait = self.next_wake();
            match rx.recv_timeout(wait) {
                Ok(Event::Stop) | Err(RecvTimeoutError::Disconnected) => stop = true,
                Ok(e) => events.push(e),
                Err(RecvTimeoutError::Timeout) => {}
            }
            while !stop && events.len() < ROUND {
                match rx.try_recv() {
                    Ok(Event::Stop) => stop = true,
                    Ok(e) => events.push(e),
                    Err(_) => break,
                }
            }
            self.round(&mut events);
        }
        for c in self.consumers() {
            let mut inner = c.inner.lock();
            if let Some(j) = inner.journal.as_mut() {
                if let Err(e) = j.sync() {
                    crate::error!("Consumer '{}' state could not be synced: {e}", c.name);
                }
            }
        }
    }

    fn consumers(&self) -> Vec<Arc<Consumer>> {
        self.stream
            .consumers
            .read()
            .values()
            .filter(|c| !c.closed.load(Ordering::Acquire))
            .cloned()
            .collect()
    }

    /// How long the thread may sleep: until the earliest timer of any consumer.
    fn next_wake(&self) -> Duration {
        if self.busy.replace(false) {
            return Duration::ZERO;
        }
        let now = Instant::now();
        let now_ns = now_nanos();
        let mut wake = IDLE;
        for c in self.consumers() {
            let (pause_until, polled) = {
                let cfg = c.config.read();
                let pause = cfg
                    .pause_until
                    .as_deref()
                    .and_then(crate::jetstream::wire::parse_time);
                // Interest in a deliver subject and inactivity have no event: they are looked
                // at every tick. Idle pull consumers need nothing until something arrives.
                (pause, cfg.is_push() || cfg.inactive_threshold > 0)
            };
            if polled {
                wake = wake.min(TICK);
            }
            if let Some(t) = pause_until.filter(|t| *t > now_ns) {
                wake = wake.min(Duration::from_nanos((t - now_ns) as u64));
            }
            let inner = c.inner.lock();
            if !inner.waiting.is_empty() {
                wake = wake.min(TICK);
            }
            if let Some(at) = inner.redeliver_at {
                let d = Duration::from_nanos(at.saturating_sub(now_ns).max(0) as u64);
                wake = wake.min(d);
            }
            for r in &inner.waiting {
                for t in [r.expires, r.next_heartbeat].into_iter().flatten() {
                    wake = wake.min(t.saturating_duration_since(now));
                }
            }
            if let Some(t) = inner.heartbeat_at {
                wake = wake.min(t.saturating_duration_since(now));
            }
            let pin = inner.pin.as_ref().map(|p| p.expires);
            for t in [inner.replay_due, inner.rate_due, pin]
                .into_iter()
                .flatten()
            {
                wake = wake.min(t.saturating_duration_since(now));
            }
        }
        wake
    }

    fn round(&mut self, events: &mut Vec<Event>) {
        let Some(server) = self.ctx.server.upgrade() else {
            events.clear();
            return;
        };
        let mut replies = Replies::default();
        let mut nexts: Vec<(Arc<Consumer>, Bytes, Bytes)> = Vec::new();
        let now = now_nanos();
        let retention = self.stream.config.read().retention;
        // 1. Acks: applied and journaled.
        for ev in events.drain(..) {
            match ev {
                Event::Ack {
                    consumer,
                    subject,
                    reply,
                    payload,
                } => {
                    if let Some(next) = self.ack(
                        &server,
                        &consumer,
                        &subject,
                        reply,
                        &payload,
                        now,
                        &mut replies,
                    ) {
                        nexts.push((consumer, next.0, next.1));
                    }
                }
                Event::Next {
                    consumer,
                    reply,
                    payload,
                } => nexts.push((consumer, reply, payload)),
                Event::FlowControl { consumer, subject } => {
                    let mut inner = consumer.inner.lock();
                    if inner
                        .flow
                        .outstanding
                        .as_ref()
                        .is_some_and(|(s, _)| *s == subject)
                    {
                        if let Some((_, covered)) = inner.flow.outstanding.take() {
                            inner.flow.bytes = (inner.flow.bytes - covered).max(0);
                        }
                        inner.flow.window = (inner.flow.window * 2).min(super::FLOW_CONTROL_MAX);
                    }
                }
                Event::Wake | Event::Stop => {}
            }
        }
        // 2. Group commit of the acks.
        self.sync_journals();
        // 3. Now act on them.
        let mut out = ServerBatch::new(&server);
        for (to, hdr) in replies.frames.drain(..) {
            out.publish(&self.stream.account, &to, None, hdr.as_deref(), &[]);
        }
        if retention != Retention::Limits && !replies.acked.is_empty() {
            self.remove_acked(retention, &replies.acked);
        }
        replies.acked.clear();
        // 4. Pull requests.
        for (c, reply, body) in nexts {
            self.pull_request(&c, reply, &body, &mut out);
        }
        // 5. Timers and deliveries.
        self.stream.note_removals();
        let upto = self.stream.durable_last();
        for c in self.consumers() {
            self.tend(&server, &c, upto, &mut out, &mut replies);
        }
        // Journals of deliveries reach the kernel (no fsync needed: a lost delivery record
        // means a redelivery).
        for c in self.consumers() {
            let mut inner = c.inner.lock();
            if let Some(j) = inner.journal.as_mut() {
                let _ = j.write();
            }
        }
        if retention != Retention::Limits && !replies.acked.is_empty() {
            self.remove_acked(retention, &replies.acked);
        }
        out.flush();
    }

    /// One ack: applied to the consumer's state and journaled; its reply queued. Returns the
    /// pull request an `+NXT` carries.
    #[allow(clippy::too_many_arguments)]
    fn ack(
        &self,
        server: &Arc<crate::server::Shared>,
        c: &Arc<Consumer>,
        subject: &[u8],
        reply: Option<Bytes>,
        body: &[u8],
        now: i64,
        replies: &mut Replies,
    ) -> Option<(Bytes, Bytes)> {
        let (dc, sseq, dseq) = ack_info(subject)?;
        // Only what an ack needs: this runs for every ack.
        let (policy, ack_wait, freq) = {
            let cfg = c.config.read();
            let freq: u64 = cfg.sample_freq.trim_end_matches('%').parse().unwrap_or(0);
            (cfg.ack_policy, cfg.ack_wait, freq)
        };
        let mut inner = c.inner.lock();
        let mut answer = true;
        let mut next = None;
        let mut apply_ack = |inner: &mut Inner, sample: bool| -> bool {
            let delivered_at = inner.state.pending.get(&sseq).map(|p| p.ts);
            let done: Acked = inner.state.ack(sseq, dseq, policy, now);
            if !done.seqs.is_empty() {
                let rec = state::record::acked(inner.state.ack_floor, &done.seqs);
                journal(inner, &rec);
                inner.unsynced = true;
                replies.acked.extend_from_slice(&done.seqs);
                if sample && freq > 0 {
                    let took = now - delivered_at.unwrap_or(inner.state.last_delivered);
                    self.sample(server, c, freq, inner, (dseq, sseq, dc), took);
                }
            }
            sseq < inner.state.next || !inner.skip.is_empty()
        };
        match ack_kind(body) {
            AckKind::Ack => answer = apply_ack(&mut inner, true),
            AckKind::Next(rest) => {
                apply_ack(&mut inner, true);
                answer = false;
                if let Some(r) = &reply {
                    next = Some((r.clone(), Bytes::copy_from_slice(rest)));
                }
            }
            AckKind::Term(rest) => {
                answer = apply_ack(&mut inner, false);
                let reason = String::from_utf8_lossy(rest.trim_ascii()).into_owned();
                advisory::consumer_terminated(
                    server,
                    &self.ctx,
                    &self.stream,
                    &c.name,
                    (dseq, sseq, dc),
                    &reason,
                );
            }
            AckKind::Nak(rest) => {
                if inner.state.is_pending(sseq, dseq) {
                    advisory::consumer_nak(
                        server,
                        &self.ctx,
                        &self.stream,
                        &c.name,
                        (dseq, sseq, dc),
                    );
                    match nak_delay(rest) {
                        Some(d) => {
                            inner.state.redeliver.remove(&sseq);
                            if let Some(p) = inner.state.pending.get_mut(&sseq) {
                                p.ts = now - ack_wait + d;
                            }
                            let at = now + d;
                            inner.redeliver_at = Some(inner.redeliver_at.map_or(at, |t| t.min(at)));
                        }
                        None => {
                            inner.state.redeliver.insert(sseq);
                        }
                    }
                }
            }
            AckKind::Progress => {
                if let Some(p) = inner.state.pending.get_mut(&sseq) {
                    p.ts = now;
                }
            }
            AckKind::Other => {}
        }
        if sseq == 0 {
            answer = false;
        }
        if answer {
            if let Some(r) = reply {
                replies.frames.push((r, None));
            }
        }
        next
    }

    /// `$JS.EVENT.METRIC.CONSUMER.ACK` for a sampled share (`freq` percent) of acks; `took` is
    /// the time from delivery to ack.
    fn sample(
        &self,
        server: &Arc<crate::server::Shared>,
        c: &Consumer,
        freq: u64,
        inner: &mut Inner,
        (dseq, sseq, dc): (u64, u64, u64),
        took: i64,
    ) {
        inner.acks_seen += 1;
        if freq < 100 && rand::random::<u64>() % 100 >= freq {
            return;
        }
        advisory::consumer_ack_metric(
            server,
            &self.ctx,
            &self.stream,
            &c.name,
            (dseq, sseq, dc),
            took.max(0),
        );
    }

    /// Makes every journal with new ack records durable (under the default policy; with
    /// `sync_interval`, on that timer).
    fn sync_journals(&mut self) {
        let due = match self.ctx.sync {
            SyncPolicy::Always => true,
            SyncPolicy::Every(d) => self.last_sync.elapsed() >= d,
        };
        for c in self.consumers() {
            let mut inner = c.inner.lock();
            if !inner.unsynced && !due {
                continue;
            }
            let Some(j) = inner.journal.as_mut() else {
                inner.unsynced = false;
                continue;
            };
            let r = if due { j.sync() } else { j.write() };
            if let Err(e) = r {
                crate::error!("Consumer '{}' state could not be written: {e}", c.name);
            }
            inner.unsynced = false;
        }
        if due {
            self.last_sync = Instant::now();
        }
    }

    /// Removes acknowledged messages: from a work-queue stream at once, from an interest
    /// stream once no consumer that wants it still has to deliver or see it acknowledged.
    fn remove_acked(&self, retention: Retention, seqs: &[u64]) {
        let consumers = self.consumers();
        // Lock order: a consumer's state before the store, so subjects are read first.
        let subjects: Vec<(u64, Bytes)> = {
            let store = self.stream.store.lock();
            seqs.iter()
                .filter_map(|&s| match store.get(s) {
                    Ok(Some(m)) => Some((s, m.subject)),
                    _ => None,
                })
                .collect()
        };
        let gone: Vec<u64> = subjects
            .into_iter()
            .filter(|(seq, subject)| {
                retention == Retention::Workqueue
                    || consumers.iter().all(|c| {
                        if !c.wants(subject) {
                            return true;
                        }
                        let inner = c.inner.lock();
                        *seq < inner.state.next && !inner.state.pending.contains_key(seq)
                    })
            })
            .map(|(s, _)| s)
            .collect();
        if gone.is_empty() {
            return;
        }
        let bytes = {
            let mut store = self.stream.store.lock();
            for s in gone {
                let _ = store.delete(s);
            }
            store.state().bytes
        };
        self.stream.account_bytes(bytes);
    }

    /// A pull request: refused with a status, or queued.
    fn pull_request(&self, c: &Arc<Consumer>, reply: Bytes, body: &[u8], out: &mut ServerBatch) {
        let cfg = c.config.read().clone();
        let account = &self.stream.account;
        let refuse = |out: &mut ServerBatch, code: u16, text: &str| {
            out.publish(
                account,
                &reply,
                None,
                Some(&pull::status(code, text, "")),
                &[],
            );
        };
        if cfg.is_push() {
            return refuse(out, 409, "Consumer is push based");
        }
        let mut req = match PullRequest::parse(reply.clone(), body, Instant::now()) {
            Parsed::Request(r) => *r,
            Parsed::Refuse(code, text) => return refuse(out, code, &text),
        };
        if cfg.max_batch > 0 && req.batch > cfg.max_batch {
            return refuse(
                out,
                409,
                &format!("Exceeded MaxRequestBatch of {}", cfg.max_batch),
            );
        }
        if let Some(exp) = req.expires {
            if cfg.max_expires > 0
                && exp > Instant::now() + Duration::from_nanos(cfg.max_expires as u64)
            {
                return refuse(
                    out,
                    409,
                    &format!(
                        "Exceeded MaxRequestExpires of {}",
                        crate::jetstream::wire::go_duration_ns(cfg.max_expires)
                    ),
                );
            }
        }
        if req.max_bytes > 0 && cfg.max_bytes > 0 && req.max_bytes > cfg.max_bytes {
            return refuse(
                out,
                409,
                &format!("Exceeded MaxRequestMaxBytes of {}", cfg.max_bytes),
            );
        }
        let mut inner = c.inner.lock();
        if let Some((code, text)) = priority::check(&cfg, &mut inner, &req, Instant::now()) {
            drop(inner);
            return refuse(out, code, &text);
        }
        inner.active_at = Instant::now();
        if req.no_wait {
            {
                let store = self.stream.store.lock();
                c.refresh_pending(&mut inner, &**store, self.stream.durable_last());
            }
            let available = Consumer::num_pending(&inner) + inner.state.redeliver.len() as u64;
            if available == 0 && req.expires.is_none() {
                drop(inner);
                return refuse(out, 404, "No Messages");
            }
        }
        if inner.waiting.len() as i64 >= cfg.max_waiting.max(1) {
            // Drop requests whose requester is gone before refusing.
            let sl = &account.sublist;
            inner.waiting.retain(|r| !sl.matches(&r.reply).is_empty());
            if inner.waiting.len() as i64 >= cfg.max_waiting.max(1) {
                drop(inner);
                if req.heartbeat.is_none() {
                    refuse(out, 409, "Exceeded MaxWaiting");
                }
                return;
            }
        }
        if req.batch <= 0 {
            req.batch = req.batch.max(0);
        }
        priority::enqueue(&cfg, &mut inner, req);
    }

    /// One consumer's round: redelivery deadlines, request expiry and heartbeats, deliveries,
    /// push heartbeats.
    fn tend(
        &self,
        server: &Arc<crate::server::Shared>,
        c: &Arc<Consumer>,
        upto: u64,
        out: &mut ServerBatch,
        replies: &mut Replies,
    ) {
        let cfg = c.config.read().clone();
        let now = now_nanos();
        let instant = Instant::now();
        let mut inner = c.inner.lock();
        if inner.redeliver_at.is_some_and(|t| t <= now) {
            self.check_pending(server, c, &cfg, &mut inner, now);
        }
        let paused = cfg
            .pause_until
            .as_deref()
            .and_then(crate::jetstream::wire::parse_time)
            .is_some_and(|t| t > now);
        // A pause that ran out is advised, as nats-server's pause timer does (a resume by
        // request cleared `pause_until` and was advised by the API).
        let pause_ended = if paused {
            inner.paused = true;
            None
        } else if std::mem::take(&mut inner.paused) {
            cfg.pause_until.clone()
        } else {
            None
        };
        if !cfg.is_push() {
            self.expire_requests(c, &mut inner, instant, out);
            if let Some(group) = priority::expire(&mut inner, instant) {
                advisory::consumer_unpinned(
                    server,
                    &self.ctx,
                    &self.stream,
                    &c.name,
                    &group,
                    "timeout",
                );
            }
        }
        if !paused {
            self.deliver(c, &cfg, &mut inner, upto, out, replies);
        }
        if cfg.is_push() {
            self.push_heartbeat(c, &cfg, &mut inner, instant, out);
        }
        drop(inner);
        if let Some(until) = pause_ended {
            advisory::consumer_pause(server, &self.ctx, &self.stream, &c.name, false, &until);
        }
        self.check_inactive(server, c, &cfg, instant);
    }

    /// nats-server's `checkPending`: messages whose ack wait (or backoff step) has passed go
    /// to the redelivery queue, or — at `max_deliver` — are given up with an advisory.
    fn check_pending(
        &self,
        server: &Arc<crate::server::Shared>,
        c: &Consumer,
        cfg: &ConsumerConfig,
        inner: &mut Inner,
        now: i64,
    ) {
        inner.redeliver_at = None;
        if cfg.ack_policy == AckPolicy::None || inner.state.pending.is_empty() {
            return;
        }
        let mut next_at = i64::MAX;
        let mut expired = Vec::new();
        for (&seq, p) in &inner.state.pending {
            if inner.state.redeliver.contains(&seq) {
                continue;
            }
            let deadline = match cfg.backoff.len() {
                0 => cfg.ack_wait,
                n => {
                    let i = (inner.state.delivery_count(seq) - 1).min(n as u64 - 1);
                    cfg.backoff[i as usize]
                }
            };
            if now - p.ts >= deadline {
                expired.push(seq);
            } else {
                next_at = next_at.min(p.ts + deadline);
            }
        }
        for seq in expired {
            let dc = inner.state.delivery_count(seq);
            if cfg.max_deliver > 0 && dc >= cfg.max_deliver as u64 {
                inner.state.give_up(seq, dc);
                let rec = state::record::acked(inner.state.ack_floor, &[seq]);
                journal(inner, &rec);
                advisory::consumer_max_deliveries(
                    server,
                    &self.ctx,
                    &self.stream,
                    &c.name,
                    seq,
                    dc,
                );
            } else {
                inner.state.redeliver.insert(seq);
            }
        }
        if next_at != i64::MAX {
            inner.redeliver_at = Some(next_at);
        }
    }

    /// Ends pull requests that expired (408), sends their heartbeats, drops those whose
    /// requester is gone.
    fn expire_requests(
        &self,
        c: &Consumer,
        inner: &mut Inner,
        now: Instant,
        out: &mut ServerBatch,
    ) {
        let account = &self.stream.account;
        let (dseq, sseq) = (inner.state.dseq, inner.state.next.saturating_sub(1));
        let mut keep = std::collections::VecDeque::with_capacity(inner.waiting.len());
        while let Some(mut r) = inner.waiting.pop_front() {
            if r.expires.is_some_and(|t| t <= now) {
                let hdr = pull::status(408, "Request Timeout", &r.pending_headers());
                out.publish(account, &r.reply, None, Some(&hdr), &[]);
                continue;
            }
            if let (Some(at), Some(hb)) = (r.next_heartbeat, r.heartbeat) {
                if at <= now {
                    let hdr = heartbeat_frame(dseq, sseq, None);
                    out.publish(account, &r.reply, None, Some(&hdr), &[]);
                    r.next_heartbeat = Some(now + hb);
                }
            }
            keep.push_back(r);
        }
        inner.waiting = keep;
        let _ = c;
    }

    /// Delivers what is due: redeliveries first, then new messages; to waiting pull requests
    /// (one message each in turn) or to the push subject.
    fn deliver(
        &self,
        c: &Arc<Consumer>,
        cfg: &ConsumerConfig,
        inner: &mut Inner,
        upto: u64,
        out: &mut ServerBatch,
        replies: &mut Replies,
    ) {
        let account = &self.stream.account;
        inner.replay_due = None;
        if cfg.is_push() {
            let group = (!cfg.deliver_group.is_empty()).then_some(cfg.deliver_group.as_bytes());
            if inner
                .route
                .get(account, cfg.deliver_subject.as_bytes(), group)
                .is_empty()
            {
                return;
            }
            inner.active_at = Instant::now();
        } else if inner.waiting.is_empty() {
            return;
        }
        if inner.recount || upto > inner.counted_to {
            // Pending counts follow the stream (ack subjects and overflow requests use them).
            let store = self.stream.store.lock();
            c.refresh_pending(inner, &**store, upto);
        }
        let retention = self.stream.config.read().retention;
        let mut budget = DELIVER_BUDGET;
        let mut floor_moved = false;
        let replay = cfg.replay_policy == ReplayPolicy::Original;
        if replay && inner.replay_until.is_none() {
            inner.replay_until = Some(upto);
        }
        let mut ack_reply = String::with_capacity(128);
        // nats-server's burst for a rate limit: the largest message the stream takes.
        let burst = match self.stream.config.read().max_msg_size {
            n if n > 0 => n as usize,
            _ => 1024 * 1024,
        };
        inner.rate_due = None;
        while budget > 0 && self.can_send(c, cfg, inner, out) {
            let Some((msg, dc)) = self.next_message(c, cfg, inner, upto) else {
                break;
            };
            if replay && self.replay_wait(inner, &msg, dc) {
                break;
            }
            let weight = msg.subject.len() + msg.headers.len() + msg.payload.len();
            if cfg.rate_limit_bps > 0 && rate_wait(cfg.rate_limit_bps, burst, inner, weight) {
                if dc > 1 {
                    inner.state.redeliver.insert(msg.seq);
                }
                break;
            }
            budget -= 1;
            let now = now_nanos();
            let cseq = inner.state.deliver(msg.seq, dc, cfg.ack_policy, now);
            count_delivery(inner, msg.seq, dc);
            write_ack_reply(
                &mut ack_reply,
                (&self.stream.name, &c.name),
                [
                    dc,
                    msg.seq,
                    cseq,
                    msg.ts as u64,
                    Consumer::num_pending(inner),
                ],
            );
            let only_headers;
            let pin = inner
                .pin
                .as_ref()
                .filter(|_| !cfg.is_push())
                .map(|p| p.id.clone());
            let (hdr, payload): (Option<&[u8]>, &[u8]) = if cfg.headers_only || pin.is_some() {
                let mut b = headers::Builder::extend(&msg.headers);
                if cfg.headers_only {
                    b = b.add("Nats-Msg-Size", msg.payload.len().to_string().as_bytes());
                }
                if let Some(id) = &pin {
                    b = b.add("Nats-Pin-Id", id.as_bytes());
                }
                only_headers = b.finish();
                let body: &[u8] = if cfg.headers_only { &[] } else { &msg.payload };
                (Some(&only_headers), body)
            } else {
                (
                    (!msg.headers.is_empty()).then_some(&msg.headers[..]),
                    &msg.payload,
                )
            };
            let size =
                (msg.subject.len() + ack_reply.len() + hdr.map_or(0, <[u8]>::len) + payload.len())
                    as i64;
            let frame = (&msg.subject[..], Some(ack_reply.as_bytes()), hdr, payload);
            if cfg.is_push() {
                self.send_push(c, cfg, inner, frame, size, out);
            } else if !self.send_pull(inner, frame, size, out) {
                self.undo(inner, msg.seq, dc);
                continue;
            }
            // Journal the delivery (ack none: where it stands, once per round).
            if cfg.ack_policy == AckPolicy::None {
                floor_moved = true;
                if retention != Retention::Limits {
                    replies.acked.push(msg.seq);
                }
            } else {
                let rec = state::record::delivered(msg.seq, cseq, dc, now, inner.state.next);
                journal(inner, &rec);
                let wait = match cfg.backoff.len() {
                    0 => cfg.ack_wait,
                    n => cfg.backoff[((dc - 1) as usize).min(n - 1)],
                };
                let at = now + wait;
                inner.redeliver_at = Some(inner.redeliver_at.map_or(at, |t| t.min(at)));
            }
            if replay {
                inner.replay_last = Some((msg.ts, Instant::now()));
            }
        }
        if budget == 0 {
            // More to do: the thread goes round again at once.
            self.busy.set(true);
        }
        if floor_moved {
            let rec = state::record::acked(inner.state.ack_floor, &[]);
            journal(inner, &rec);
        }
        // No-wait requests end at the end of what there is (not while a replay waits).
        if !cfg.is_push() && budget > 0 && inner.replay_due.is_none() {
            let mut keep = std::collections::VecDeque::with_capacity(inner.waiting.len());
            while let Some(r) = inner.waiting.pop_front() {
                if r.no_wait && (r.expires.is_none() || r.delivered > 0) {
                    let hdr = pull::status(404, "No Messages", "");
                    out.publish(account, &r.reply, None, Some(&hdr), &[]);
                } else {
                    keep.push_back(r);
                }
            }
            inner.waiting = keep;
        }
    }

    /// Whether a message may go now: push within its flow-control window, pull with a
    /// request waiting (requests whose requester is gone are dropped on the way).
    fn can_send(
        &self,
        c: &Consumer,
        cfg: &ConsumerConfig,
        inner: &mut Inner,
        out: &mut ServerBatch,
    ) -> bool {
        if cfg.is_push() {
            return !cfg.flow_control || inner.flow.bytes <= inner.flow.window;
        }
        let account = &self.stream.account;
        let now = Instant::now();
        // Each request is looked at once: passed-over ones go to the back.
        let mut looked = 0;
        while looked < inner.waiting.len() {
            let Some(r) = inner.waiting.front_mut() else {
                return false;
            };
            if r.batch <= 0 {
                if r.delivered > 0 {
                    inner.waiting.pop_front();
                    continue;
                }
                return false;
            }
            if r.route.get(account, &r.reply, None).is_empty() {
                inner.waiting.pop_front();
                continue;
            }
            let mut pinned = None;
            match priority::verdict(cfg, inner, now, &mut pinned) {
                priority::Verdict::Serve => {
                    if let (Some(pin), Some(server)) = (pinned, self.ctx.server.upgrade()) {
                        advisory::consumer_pinned(&server, &self.ctx, &self.stream, c, &pin);
                    }
                    return true;
                }
                priority::Verdict::PassOver => {
                    looked += 1;
                    if let Some(r) = inner.waiting.pop_front() {
                        inner.waiting.push_back(r);
                    }
                }
                priority::Verdict::End(code, text) => {
                    if let Some(r) = inner.waiting.pop_front() {
                        let hdr = pull::status(code, text, &r.pending_headers());
                        out.publish(account, &r.reply, None, Some(&hdr), &[]);
                    }
                }
            }
        }
        false
    }

    /// A push delivery, with its flow-control accounting and request.
    fn send_push(
        &self,
        c: &Consumer,
        cfg: &ConsumerConfig,
        inner: &mut Inner,
        frame: crate::client::Frame<'_>,
        size: i64,
        out: &mut ServerBatch,
    ) {
        let account = &self.stream.account;
        let group = (!cfg.deliver_group.is_empty()).then_some(cfg.deliver_group.as_bytes());
        out.deliver_matched(
            inner
                .route
                .get(account, cfg.deliver_subject.as_bytes(), group),
            frame,
        );
        if cfg.idle_heartbeat > 0 {
            inner.heartbeat_at =
                Some(Instant::now() + Duration::from_nanos(cfg.idle_heartbeat as u64));
        }
        if !cfg.flow_control {
            return;
        }
        inner.flow.bytes += size;
        if inner.flow.outstanding.is_none() && inner.flow.bytes > inner.flow.window / 2 {
            let id = format!(
                "$JS.FC.{}.{}.{}",
                self.stream.name,
                c.name,
                crate::jetstream::wire::random_token(4)
            );
            let id = Bytes::from(id.into_bytes());
            inner.flow.outstanding = Some((id.clone(), inner.flow.bytes));
            out.publish(
                account,
                cfg.deliver_subject.as_bytes(),
                Some(&id),
                Some(b"NATS/1.0 100 FlowControl Request\r\n\r\n"),
                &[],
            );
        }
    }

    /// A delivery to the request at the head of the queue, which goes to the back while it
    /// wants more; `false` (and the request ended with a 409) when the message is larger
    /// than the bytes it has left.
    fn send_pull(
        &self,
        inner: &mut Inner,
        frame: crate::client::Frame<'_>,
        size: i64,
        out: &mut ServerBatch,
    ) -> bool {
        let account = &self.stream.account;
        let Some(mut r) = inner.waiting.pop_front() else {
            return false;
        };
        if r.max_bytes > 0 {
            if size > r.max_bytes {
                let hdr = pull::status(409, "Message Size Exceeds MaxBytes", &r.pending_headers());
                out.publish(account, &r.reply, None, Some(&hdr), &[]);
                return false;
            }
            r.max_bytes -= size;
            if r.max_bytes == 0 {
                r.batch = 1;
            }
        }
        out.deliver_matched(r.route.get(account, &r.reply, None), frame);
        r.batch -= 1;
        r.delivered += 1;
        if let Some(hb) = r.heartbeat {
            r.next_heartbeat = Some(Instant::now() + hb);
        }
        if r.batch > 0 {
            inner.waiting.push_back(r);
        }
        true
    }

    /// `replay_policy: original`: whether `msg`, just taken by `next_message`, must wait to
    /// be as far from the last delivery as it is from the last message in time (nats-server
    /// waits when that is over a millisecond, until the replay has caught up). If so, it is
    /// put back and the consumer is woken when it is due.
    fn replay_wait(&self, inner: &mut Inner, msg: &strom_store::StoredMsg, dc: u64) -> bool {
        if inner
            .replay_until
            .is_none_or(|until| inner.state.next > until)
        {
            return false;
        }
        let Some((last_ts, sent)) = inner.replay_last else {
            return false;
        };
        let gap = msg.ts.saturating_sub(last_ts);
        if gap <= 1_000_000 {
            return false;
        }
        let due = sent + Duration::from_nanos(gap as u64);
        if Instant::now() >= due {
            return false;
        }
        // A new message is simply found again; a redelivery goes back in its queue.
        if dc > 1 {
            inner.state.redeliver.insert(msg.seq);
        }
        inner.replay_due = Some(due);
        true
    }

    /// Takes back a delivery that could not go out.
    fn undo(&self, inner: &mut Inner, seq: u64, dc: u64) {
        inner.state.dseq -= 1;
        if dc > 1 {
            inner.state.redeliver.insert(seq);
        } else {
            inner.state.pending.remove(&seq);
            inner.state.next = seq;
            inner.recount = true;
        }
    }

    /// The next message to deliver and its delivery count: a redelivery, the next of the
    /// `last_per_subject` list, or the next new message matching the filters (up to `upto`).
    fn next_message(
        &self,
        c: &Consumer,
        cfg: &ConsumerConfig,
        inner: &mut Inner,
        upto: u64,
    ) -> Option<(strom_store::StoredMsg, u64)> {
        let store = self.stream.store.lock();
        while let Some(seq) = inner.state.redeliver.pop_first() {
            if !inner.state.pending.contains_key(&seq) {
                continue;
            }
            match store.get(seq) {
                Ok(Some(m)) => return Some((m, inner.state.delivery_count(seq) + 1)),
                _ => {
                    // Gone from the stream meanwhile.
                    inner.state.drop_pending(seq);
                }
            }
        }
        if cfg.ack_policy != AckPolicy::None
            && cfg.max_ack_pending > 0
            && inner.state.pending.len() as i64 >= cfg.max_ack_pending
        {
            return None;
        }
        while let Some(&seq) = inner.skip.front() {
            match store.get(seq) {
                Ok(Some(m)) => return Some((m, 1)),
                _ => {
                    inner.skip.pop_front();
                }
            }
        }
        if inner.state.next < inner.resume {
            inner.state.next = inner.resume;
        }
        loop {
            let from = inner.state.next;
            if from > upto {
                return None;
            }
            let mut found = None;
            let filters = c.filters.read();
            store.scan(from, &mut |seq, subject| {
                if seq > upto {
                    return false;
                }
                if filters.is_empty()
                    || filters
                        .iter()
                        .any(|f| strom_proto::subject::matches(f, subject))
                {
                    found = Some(seq);
                    return false;
                }
                true
            });
            drop(filters);
            let Some(seq) = found else {
                // Nothing matches up to `upto`: skip ahead, as nats-server does.
                inner.state.next = upto + 1;
                if inner.state.pending.is_empty() && cfg.ack_policy != AckPolicy::None {
                    inner.state.ack_floor.1 = inner.state.ack_floor.1.max(upto);
                }
                return None;
            };
            match store.get(seq) {
                Ok(Some(m)) => return Some((m, 1)),
                _ => inner.state.next = seq + 1,
            }
        }
    }

    /// A push consumer's idle heartbeat when nothing went out for `idle_heartbeat`.
    fn push_heartbeat(
        &self,
        _c: &Consumer,
        cfg: &ConsumerConfig,
        inner: &mut Inner,
        now: Instant,
        out: &mut ServerBatch,
    ) {
        if cfg.idle_heartbeat <= 0 {
            return;
        }
        let every = Duration::from_nanos(cfg.idle_heartbeat as u64);
        match inner.heartbeat_at {
            None => inner.heartbeat_at = Some(now + every),
            Some(at) if at <= now => {
                let stalled = inner.flow.outstanding.as_ref().map(|(s, _)| s.clone());
                let hdr = heartbeat_frame(
                    inner.state.dseq,
                    inner.state.next.saturating_sub(1),
                    stalled.as_deref(),
                );
                out.publish(
                    &self.stream.account,
                    cfg.deliver_subject.as_bytes(),
                    None,
                    Some(&hdr),
                    &[],
                );
                inner.heartbeat_at = Some(now + every);
            }
            Some(_) => {}
        }
    }

    /// Deletes a consumer idle past its `inactive_threshold` (ephemerals always have one).
    fn check_inactive(
        &self,
        server: &Arc<crate::server::Shared>,
        c: &Arc<Consumer>,
        cfg: &ConsumerConfig,
        now: Instant,
    ) {
        if cfg.inactive_threshold <= 0 {
            return;
        }
        let threshold = Duration::from_nanos(cfg.inactive_threshold as u64);
        let idle = {
            let mut inner = c.inner.lock();
            let active = if cfg.is_push() {
                super::stream_interest(&self.stream, cfg)
            } else {
                !inner.waiting.is_empty()
            };
            if active {
                inner.active_at = now;
            }
            now.duration_since(inner.active_at) >= threshold
        };
        if idle {
            self.stream.remove_consumer(&c.name);
            c.delete_files();
            self.stream.drop_acknowledged();
            advisory::consumer_action(server, &self.ctx, &self.stream, &c.name, "delete");
        }
    }
}

/// `rate_limit_bps` as a token bucket of bytes (full, `burst` deep, at the start, as Go's
/// `rate.Limiter`): whether a message of `size` bytes must wait; if so, when it may go is in
/// `inner.rate_due`.
fn rate_wait(bps: u64, burst: usize, inner: &mut Inner, size: usize) -> bool {
    let per_sec = (bps as f64 / 8.0).max(1.0);
    let now = Instant::now();
    let (tokens, at) = inner.rate.unwrap_or((burst as f64, now));
    let tokens = (tokens + now.duration_since(at).as_secs_f64() * per_sec).min(burst as f64);
    if tokens >= size as f64 || (size > burst && tokens >= burst as f64) {
        inner.rate = Some(((tokens - size as f64).max(0.0), now));
        return false;
    }
    inner.rate = Some((tokens, now));
    let missing = size.min(burst) as f64 - tokens;
    inner.rate_due = Some(now + Duration::from_secs_f64(missing / per_sec));
    true
}

/// Keeps `num_pending` and the `last_per_subject` list in step with a delivery.
fn count_delivery(inner: &mut Inner, seq: u64, dc: u64) {
    if dc != 1 {
        return;
    }
    if inner.skip.front() == Some(&seq) {
        inner.skip.pop_front();
        if inner.skip.is_empty() {
            inner.state.next = inner.state.next.max(inner.resume);
            inner.recount = true;
        }
    } else if seq <= inner.counted_to {
        inner.num_pending = inner.num_pending.saturating_sub(1);
    }
}

/// `$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<ts>.<pending>`,
/// written into `out` without the formatting machinery (it is built for every delivery).
fn write_ack_reply(out: &mut String, (stream, consumer): (&str, &str), numbers: [u64; 5]) {
    out.clear();
    out.push_str("$JS.ACK.");
    out.push_str(stream);
    out.push('.');
    out.push_str(consumer);
    for n in numbers {
        out.push('.');
        push_u64(out, n);
    }
}

fn push_u64(out: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for d in &digits[i..] {
        out.push(char::from(*d));
    }
}

/// `NATS/1.0 100 Idle Heartbeat` with the last consumer and stream sequences, and the
/// outstanding flow-control subject while stalled.
fn heartbeat_frame(dseq: u64, sseq: u64, stalled: Option<&[u8]>) -> Vec<u8> {
    let mut s = format!(
        "NATS/1.0 100 Idle Heartbeat\r\nNats-Last-Consumer: {dseq}\r\nNats-Last-Stream: {sseq}\r\n"
    );
    if let Some(fc) = stalled {
        s.push_str("Nats-Consumer-Stalled: ");
        s.push_str(&String::from_utf8_lossy(fc));
        s.push_str("\r\n");
    }
    s.push_str("\r\n");
    s.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ack_subjects_and_bodies() {
        assert_eq!(
            ack_info(b"$JS.ACK.S.C.2.10.12.1700000000.3"),
            Some((2, 10, 12))
        );
        assert_eq!(
            ack_info(b"$JS.ACK.dom.hash.S.C.1.5.5.1700000000.0.tok"),
            Some((1, 5, 5))
        );
        assert_eq!(ack_info(b"$JS.ACK.S.C.x"), None);
        assert!(matches!(ack_kind(b""), AckKind::Ack));
        assert!(matches!(ack_kind(b"+NXT {\"batch\":2}"), AckKind::Next(_)));
        assert!(matches!(ack_kind(b"-NAK"), AckKind::Nak(_)));
        assert!(matches!(ack_kind(b"+TERM bad"), AckKind::Term(_)));
        assert!(matches!(ack_kind(b"+FOO"), AckKind::Other));
        assert_eq!(nak_delay(b" 500ms"), Some(500_000_000));
        assert_eq!(nak_delay(b" {\"delay\":2000}"), Some(2000));
        assert_eq!(nak_delay(b""), None);
    }

    #[test]
    fn ack_replies_are_written_like_format() {
        let mut s = String::new();
        write_ack_reply(&mut s, ("S", "C"), [1, 20, 300, 1_700_000_000_123, 0]);
        assert_eq!(s, "$JS.ACK.S.C.1.20.300.1700000000123.0");
        write_ack_reply(&mut s, ("S", "C"), [u64::MAX, 9, 10, 0, 7]);
        assert_eq!(s, format!("$JS.ACK.S.C.{}.9.10.0.7", u64::MAX));
    }

    #[test]
    fn heartbeats_carry_the_last_sequences() {
        assert_eq!(
            heartbeat_frame(3, 7, None),
            b"NATS/1.0 100 Idle Heartbeat\r\nNats-Last-Consumer: 3\r\nNats-Last-Stream: 7\r\n\r\n"
                .to_vec()
        );
    }
}
