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

use super::Consumer;
use crate::client::ServerBatch;
use crate::jetstream::consumer_config::AckPolicy;
use crate::jetstream::ingest;
use crate::jetstream::stream::Stream;
use crate::jetstream::stream_config::Retention;
use crate::jetstream::wire::now_nanos;
use crate::options::SyncPolicy;
use crate::subscription::{Internal, Subscription};

/// Most events one round takes.
const ROUND: usize = 4096;
/// Most messages one consumer delivers in a round, so others get their turn.
pub(super) const DELIVER_BUDGET: usize = 8192;
/// Unbound push consumers, inactivity and waiting requests' requesters are looked at this
/// often.
const TICK: Duration = Duration::from_millis(100);
/// How often, and for how long, a push consumer without a subscriber is looked at closely.
const BIND_POLL: Duration = Duration::from_millis(2);
const BIND_WINDOW: Duration = Duration::from_secs(2);
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
        headers: Option<Bytes>,
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
        headers: Option<&[u8]>,
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
                headers: headers.map(Bytes::copy_from_slice),
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
pub(super) struct Replies {
    /// Ack replies: the consumer whose journal must be durable first, subject, headers.
    pub(super) frames: Vec<(Arc<Consumer>, Bytes, Option<Vec<u8>>)>,
    /// Messages acknowledged in interest and work-queue streams.
    pub(super) acked: Vec<(Arc<Consumer>, u64)>,
}

pub(super) struct Runner {
    pub(super) stream: Arc<Stream>,
    pub(super) ctx: ingest::Context,
    pub(super) last_sync: Instant,
    /// A consumer stopped at its delivery budget with more to send.
    pub(super) busy: std::cell::Cell<bool>,
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

    pub(super) fn consumers(&self) -> Vec<Arc<Consumer>> {
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
            // A push consumer that just lost (or never had) its subscriber is looked at
            // often for a while: interest in a subject has no event.
            if inner
                .unbound_since
                .is_some_and(|t| now.duration_since(t) < BIND_WINDOW)
            {
                wake = wake.min(BIND_POLL);
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
                Event::FlowControl {
                    consumer,
                    subject,
                    headers,
                } => {
                    // A sourcing consumer's answer acknowledges up to the sequence it names.
                    let acked = headers
                        .as_deref()
                        .filter(|_| consumer.config.read().ack_policy == AckPolicy::FlowControl);
                    if let Some((sseq, dseq)) = acked.and_then(flow_acked) {
                        let ack = format!(
                            "$JS.ACK.{}.{}.1.{sseq}.{dseq}.0.0",
                            self.stream.name, consumer.name
                        );
                        self.ack(
                            &server,
                            &consumer,
                            ack.as_bytes(),
                            None,
                            b"",
                            now,
                            &mut replies,
                        );
                    }
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
        let failed = self.sync_journals();
        // 3. Now act on them — not on those whose journal could not be made durable: their
        // acks go unanswered (clients retry) and their messages stay.
        let durable = |c: &Arc<Consumer>| !failed.iter().any(|f| Arc::ptr_eq(f, c));
        let mut out = ServerBatch::new(&server);
        for (c, to, hdr) in replies.frames.drain(..) {
            if durable(&c) {
                out.publish(&self.stream.account, &to, None, hdr.as_deref(), &[]);
            }
        }
        if retention != Retention::Limits && !replies.acked.is_empty() {
            let seqs: Vec<u64> = replies
                .acked
                .iter()
                .filter(|(c, _)| durable(c))
                .map(|(_, s)| *s)
                .collect();
            self.remove_acked(retention, &seqs);
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
            let seqs: Vec<u64> = replies.acked.iter().map(|(_, s)| *s).collect();
            self.remove_acked(retention, &seqs);
        }
        out.flush();
    }

    /// Makes every journal with new ack records durable (under the default policy; with
    /// `sync_interval`, on that timer).
    /// The consumers whose journal failed: nothing of theirs may be acted on this round.
    fn sync_journals(&mut self) -> Vec<Arc<Consumer>> {
        let due = match self.ctx.sync {
            SyncPolicy::Always => true,
            SyncPolicy::Every(d) => self.last_sync.elapsed() >= d,
        };
        let mut failed = Vec::new();
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
            match r {
                Ok(()) => inner.unsynced = false,
                Err(e) => {
                    crate::error!("Consumer '{}' state could not be written: {e}", c.name);
                    drop(inner);
                    failed.push(c);
                }
            }
        }
        if due {
            self.last_sync = Instant::now();
        }
        failed
    }

    /// Removes acknowledged messages: from a work-queue stream at once, from an interest
    /// stream once no consumer that wants it still has to deliver or see it acknowledged.
    pub(super) fn remove_acked(&self, retention: Retention, seqs: &[u64]) {
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
}

/// The stream and consumer sequences a flow-control answer names (`Nats-Last-Stream`,
/// `Nats-Last-Consumer`).
fn flow_acked(headers: &[u8]) -> Option<(u64, u64)> {
    let num = |name: &[u8]| -> Option<u64> {
        std::str::from_utf8(strom_proto::headers::get(headers, name)?)
            .ok()?
            .parse()
            .ok()
    };
    Some((num(b"Nats-Last-Stream")?, num(b"Nats-Last-Consumer")?)).filter(|(s, _)| *s > 0)
}
