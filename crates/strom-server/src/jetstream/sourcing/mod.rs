//! Mirrors and sources: a stream that copies another stream's messages (its origin), as
//! nats-server's do (see `docs/design/mirrors-and-sources.md`).
//!
//! Each mirror or source is a [`Link`]. A stream with links has a worker thread that asks
//! each origin, through the JetStream API, for a push consumer delivering to a subject the
//! stream subscribes; retries with nats-server's throttle and backoff when that fails; and
//! starts again when deliveries stall or were missed. The deliveries themselves go from the
//! origin's consumer thread straight to the stream's writer ([`link::Deliveries`]).
//!
//! **Invariant:** a mirror stores each origin message at the origin's sequence, or not at
//! all; a source stores each origin message at most once per position (a restart resumes
//! after the last one stored, from [`state`]).

pub mod frames;
pub mod link;
pub mod request;
pub mod state;

use std::collections::HashMap;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::Mutex;
use serde::Serialize;

use self::link::{Deliveries, Link};
use self::request::{Asker, Start};
use super::errors::ApiError;
use super::source_config::{ExternalStream, StreamSource, SubjectTransformConfig};
use super::stream::Stream;
use crate::subscription::{Internal, Subscription};

/// Requests within this long of the last one wait (nats-server's retry threshold).
const THROTTLE: Duration = Duration::from_secs(2);
/// How long an answer to a consumer create request is waited for.
const ANSWER_WAIT: Duration = Duration::from_secs(30);
/// Without a message or heartbeat for this long, the consumer is set up again.
const STALL: Duration = Duration::from_secs(10);
/// The longest backoff between failed attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(120);

/// What the worker's queue carries.
pub enum Cmd {
    /// Set the named link's consumer up again.
    Retry(String),
    /// An origin consumer stalled on flow control: nudge it.
    Unstall(Bytes),
    /// The answer to a consumer create request.
    Answer {
        iname: String,
        id: u64,
        headers: Option<Bytes>,
        payload: Bytes,
    },
    /// A stream was created in the account: links waiting for their origin try now.
    Kick,
    /// A stream of the account was deleted: links taking from it start again (and learn
    /// that it is gone) instead of waiting for their stall check.
    OriginGone(String),
    /// The stream's configuration changed: add and remove links, then say so.
    Reconfigure(Sender<()>),
    /// The mirror came within a few messages of its origin.
    CaughtUp,
    /// End the worker; `true` also deletes the origins' durable consumers (the stream is
    /// being deleted), which a restart keeps.
    Stop(bool),
}

/// A stream's mirror or sources, and their worker.
pub struct Sourcing {
    tx: Sender<Cmd>,
    pub links: Arc<Mutex<Vec<Arc<Link>>>>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl Sourcing {
    /// Starts the worker of a stream that has a mirror or sources.
    pub fn start(stream: &Arc<Stream>) -> Option<Sourcing> {
        let (tx, rx) = mpsc::channel();
        let links = Arc::new(Mutex::new(Vec::new()));
        let mut worker = Worker {
            stream: stream.clone(),
            links: links.clone(),
            tx: tx.clone(),
            subs: HashMap::new(),
            next_id: 0,
        };
        // The links exist before the stream's info is next read (the create answer).
        worker.reconfigure();
        let handle = std::thread::Builder::new()
            .name(format!("strom-sourcing-{}", stream.name))
            .spawn(move || worker.run(rx));
        match handle {
            Ok(h) => Some(Sourcing {
                tx,
                links,
                thread: Mutex::new(Some(h)),
            }),
            Err(e) => {
                crate::error!("Could not start sourcing of stream {}: {e}", stream.name);
                None
            }
        }
    }

    pub fn send(&self, cmd: Cmd) {
        let _ = self.tx.send(cmd);
    }

    /// Adds and removes links after a configuration change, before returning (so that the
    /// update's answer shows them).
    pub fn reconfigure(&self) {
        let (done, wait) = mpsc::channel();
        if self.tx.send(Cmd::Reconfigure(done)).is_ok() {
            let _ = wait.recv_timeout(Duration::from_secs(5));
        }
    }

    /// Stops the worker, which deletes its origin consumers (durable ones only when
    /// `delete`: the stream is going away).
    pub fn stop(&self, delete: bool) {
        let _ = self.tx.send(Cmd::Stop(delete));
        if let Some(h) = self.thread.lock().take() {
            let _ = h.join();
        }
    }

    /// The `mirror` block of stream info.
    pub fn mirror_info(&self) -> Option<SourceInfo> {
        let links = self.links.lock();
        links
            .iter()
            .find(|l| l.mirror)
            .map(|l| SourceInfo::of(l, None))
    }

    /// The `sources` blocks of stream info, with each source's stored position.
    pub fn sources_info(&self, positions: &state::Positions) -> Vec<SourceInfo> {
        let links = self.links.lock();
        links
            .iter()
            .filter(|l| !l.mirror)
            .map(|l| SourceInfo::of(l, positions.get(&l.iname).map(|p| p.seq)))
            .collect()
    }
}

/// nats-server's `StreamSourceInfo`.
#[derive(Debug, Clone, Serialize)]
pub struct SourceInfo {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external: Option<ExternalStream>,
    pub lag: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub seq: u64,
    /// Nanoseconds since the origin was last heard from; -1 when never.
    pub active: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub filter_subject: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub subject_transforms: Vec<SubjectTransformConfig>,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

impl SourceInfo {
    fn of(link: &Link, seq: Option<u64>) -> SourceInfo {
        let st = link.state.lock();
        SourceInfo {
            name: link.source.name.clone(),
            external: link.source.external.clone(),
            lag: st.lag,
            seq: seq.unwrap_or(0),
            active: st
                .last
                .map_or(-1, |t| t.elapsed().as_nanos().min(i64::MAX as u128) as i64),
            error: st.error.clone(),
            filter_subject: link.source.filter_subject.clone(),
            subject_transforms: link.source.subject_transforms.clone(),
        }
    }
}

/// Receives the answer to one consumer create request.
struct AnswerSink {
    tx: Sender<Cmd>,
    iname: String,
    id: u64,
}

impl Internal for AnswerSink {
    fn deliver(
        &self,
        _from: u64,
        _subject: &[u8],
        _reply: Option<&[u8]>,
        headers: Option<&[u8]>,
        payload: &[u8],
    ) -> bool {
        let _ = self.tx.send(Cmd::Answer {
            iname: self.iname.clone(),
            id: self.id,
            headers: headers.map(Bytes::copy_from_slice),
            payload: Bytes::copy_from_slice(payload),
        });
        true
    }
}

/// A link's subscriptions: the answer inbox while waiting, the deliveries once set up.
#[derive(Default)]
struct LinkSubs {
    answer: Option<Arc<Subscription>>,
    deliveries: Option<Arc<Subscription>>,
}

struct Worker {
    stream: Arc<Stream>,
    links: Arc<Mutex<Vec<Arc<Link>>>>,
    tx: Sender<Cmd>,
    subs: HashMap<String, LinkSubs>,
    next_id: u64,
}

/// nats-server's `calculateRetryBackoff`: 10 s per failure, at most 2 minutes.
fn backoff(fails: u32) -> Duration {
    (Duration::from_secs(10) * fails).min(MAX_BACKOFF)
}

fn jitter() -> Duration {
    Duration::from_millis(100 + rand::random::<u64>() % 100)
}

impl Worker {
    fn run(mut self, rx: Receiver<Cmd>) {
        let delete = loop {
            let wait = self.next_wake().saturating_duration_since(Instant::now());
            match rx.recv_timeout(wait) {
                Ok(Cmd::Stop(delete)) => break delete,
                Err(RecvTimeoutError::Disconnected) => break false,
                Ok(cmd) => self.handle(cmd),
                Err(RecvTimeoutError::Timeout) => {}
            }
            self.tick();
        };
        let links: Vec<Arc<Link>> = self.links.lock().clone();
        for l in links {
            self.cancel(&l, delete);
        }
    }

    fn handle(&mut self, cmd: Cmd) {
        match cmd {
            Cmd::Retry(iname) => {
                if let Some(l) = self.link(&iname) {
                    self.cancel(&l, false);
                    let mut st = l.state.lock();
                    st.due = Some(Instant::now());
                }
            }
            Cmd::Unstall(to) => self.publish(&to, None, None, b""),
            Cmd::Answer {
                iname,
                id,
                headers,
                payload,
            } => self.answered(&iname, id, headers.as_deref(), &payload),
            Cmd::Kick => {
                for l in self.links.lock().iter() {
                    let mut st = l.state.lock();
                    if st.error.is_some() && st.waiting.is_none() {
                        st.due = Some(Instant::now());
                    }
                }
            }
            Cmd::OriginGone(name) => {
                let links: Vec<Arc<Link>> = self.links.lock().clone();
                for l in links
                    .iter()
                    .filter(|l| l.source.external.is_none() && l.source.name == name)
                {
                    self.cancel(l, false);
                    l.state.lock().due = Some(Instant::now());
                }
            }
            Cmd::Reconfigure(done) => {
                self.reconfigure();
                let _ = done.send(());
            }
            Cmd::CaughtUp => self.stream.mirror_caught_up(),
            Cmd::Stop(_) => {}
        }
    }

    fn link(&self, iname: &str) -> Option<Arc<Link>> {
        self.links.lock().iter().find(|l| l.iname == iname).cloned()
    }

    /// The earliest moment something is due (at most a second away, for stall checks).
    fn next_wake(&self) -> Instant {
        let mut at = Instant::now() + Duration::from_secs(1);
        for l in self.links.lock().iter() {
            let st = l.state.lock();
            if let Some(d) = st.due {
                at = at.min(d);
            }
            if let Some((_, d)) = st.waiting {
                at = at.min(d);
            }
        }
        at
    }

    /// Sets up links that are due, gives up on unanswered requests, restarts stalled links.
    fn tick(&mut self) {
        let now = Instant::now();
        let links: Vec<Arc<Link>> = self.links.lock().clone();
        for l in links {
            let (due, timed_out, stalled) = {
                let st = l.state.lock();
                (
                    st.due.is_some_and(|d| d <= now),
                    st.waiting.is_some_and(|(_, d)| d <= now),
                    st.due.is_none()
                        && st.waiting.is_none()
                        && st.last.is_some_and(|t| now.duration_since(t) > STALL),
                )
            };
            if timed_out || stalled {
                self.cancel(&l, false);
                l.state.lock().due = Some(now);
                continue;
            }
            if due {
                self.setup(&l);
            }
        }
    }

    /// Brings the links in line with the stream's configuration: new ones start from where
    /// the stream's messages say they stood; removed ones stop and delete their consumer.
    fn reconfigure(&mut self) {
        let (mirror, sources) = {
            let c = self.stream.config.read();
            (c.mirror.clone(), c.sources.clone())
        };
        let wanted: Vec<(StreamSource, bool)> = match mirror {
            Some(m) => vec![(m, true)],
            None => sources.into_iter().map(|s| (s, false)).collect(),
        };
        let current: Vec<Arc<Link>> = self.links.lock().clone();
        for l in &current {
            if !wanted
                .iter()
                .any(|(s, m)| *m == l.mirror && s.iname() == l.iname)
            {
                self.cancel(l, true);
                self.links.lock().retain(|x| !Arc::ptr_eq(x, l));
                self.subs.remove(&l.iname);
            }
        }
        let added: Vec<Arc<Link>> = wanted
            .into_iter()
            .filter(|(s, m)| {
                !current
                    .iter()
                    .any(|l| l.mirror == *m && l.iname == s.iname())
            })
            .map(|(s, m)| Arc::new(Link::new(s, m, self.tx.clone())))
            .collect();
        if added.is_empty() {
            return;
        }
        let inames: Vec<String> = added
            .iter()
            .filter(|l| !l.mirror)
            .map(|l| l.iname.clone())
            .collect();
        let positions = self.stream.source_positions(&inames);
        for l in added {
            {
                let mut st = l.state.lock();
                if let Some(p) = positions.get(&l.iname) {
                    st.sseq = p.seq;
                    st.ident = p.ident.clone();
                }
                st.due = Some(Instant::now() + jitter());
            }
            self.links.lock().push(l);
        }
    }

    /// Stops a link's deliveries and deletes its origin consumer (best effort) — a durable
    /// one only when `delete`, since it keeps the link's place in an interest or work-queue
    /// origin.
    fn cancel(&mut self, l: &Arc<Link>, delete: bool) {
        let subs = self.subs.remove(&l.iname).unwrap_or_default();
        for s in [subs.answer, subs.deliveries].into_iter().flatten() {
            s.close();
            self.stream.account.sublist.remove(&s);
        }
        let cname = {
            let mut st = l.state.lock();
            st.generation += 1;
            st.waiting = None;
            let cname = std::mem::take(&mut st.cname);
            if st.durable && !delete {
                String::new()
            } else {
                cname
            }
        };
        if !cname.is_empty() {
            let subject = format!(
                "{}.CONSUMER.DELETE.{}.{cname}",
                request::api_prefix(l),
                l.source.name
            );
            let reply = format!("$JSC.R.{}", super::wire::random_token(8));
            self.publish(subject.as_bytes(), Some(reply.as_bytes()), None, b"");
        }
    }

    fn publish(&self, subject: &[u8], reply: Option<&[u8]>, headers: Option<&[u8]>, body: &[u8]) {
        let Some(ctx) = self.stream.context() else {
            return;
        };
        let Some(server) = ctx.server.upgrade() else {
            return;
        };
        crate::client::publish_from_server(
            &server,
            &self.stream.account,
            subject,
            reply,
            headers,
            body,
        );
    }

    /// Sends a consumer create request for the link, unless one went out too recently.
    fn setup(&mut self, l: &Arc<Link>) {
        let now = Instant::now();
        let (start, ident) = {
            let mut st = l.state.lock();
            if let Some(t) = st.lreq {
                if now.duration_since(t) < THROTTLE {
                    st.due = Some(t + THROTTLE + jitter());
                    return;
                }
            }
            st.due = None;
            st.lreq = Some(now);
            st.error = None;
            (self.start_of(l, &st), st.ident.clone())
        };
        let Some(ctx) = self.stream.context() else {
            return;
        };
        let account = self.stream.account.name.clone();
        let same_origin = self
            .links
            .lock()
            .iter()
            .filter(|x| !x.mirror && x.source.name == l.source.name)
            .count();
        let asker = Asker {
            stream: &self.stream.name,
            account: &account,
            domain: ctx.domain.as_deref(),
            same_origin,
        };
        let req = request::build(l, &asker, start, &ident);
        self.next_id += 1;
        let id = self.next_id;
        let inbox = format!("$JSC.R.{}", super::wire::random_token(8));
        let sink: Arc<dyn Internal> = Arc::new(AnswerSink {
            tx: self.tx.clone(),
            iname: l.iname.clone(),
            id,
        });
        let sub = Arc::new(Subscription::internal(
            self.stream.account.clone(),
            Bytes::from(inbox.clone().into_bytes()),
            sink,
        ));
        self.stream.account.sublist.insert(sub.clone());
        self.subs.entry(l.iname.clone()).or_default().answer = Some(sub);
        l.state.lock().waiting = Some((id, now + ANSWER_WAIT));
        let Some(server) = ctx.server.upgrade() else {
            return;
        };
        let heard = crate::client::publish_from_server(
            &server,
            &self.stream.account,
            req.subject.as_bytes(),
            Some(inbox.as_bytes()),
            Some(&req.headers),
            &req.body,
        );
        if !heard {
            // Nobody serves that API (an external prefix nobody imports yet): try later.
            self.failed(l, None);
        }
    }

    /// Where the link's consumer starts (nats-server's rules for mirrors and sources).
    fn start_of(&self, l: &Link, st: &link::LinkState) -> Start {
        let src = &l.source;
        if l.mirror {
            let state = self.stream.store.lock().state();
            if state.msgs == 0 && state.last_seq == 0 {
                if src.opt_start_seq > 0 {
                    return Start::Seq(src.opt_start_seq);
                }
                if let Some(t) = &src.opt_start_time {
                    return Start::Time(t.clone());
                }
                return Start::All;
            }
            return Start::Seq(state.last_seq + 1);
        }
        let seq = st.sseq + 1;
        if seq > 1 {
            return Start::Seq(seq);
        }
        if src.opt_start_seq > 0 {
            return Start::Seq(src.opt_start_seq);
        }
        let (first, last_ts) = {
            let store = self.stream.store.lock();
            let st = store.state();
            (st.first_seq, store.last_time())
        };
        if let Some(t) = &src.opt_start_time {
            let from = src.opt_start_nanos().unwrap_or(0).max(last_ts);
            return if from == src.opt_start_nanos().unwrap_or(0) {
                Start::Time(t.clone())
            } else {
                Start::Time(super::wire::time_json(from))
            };
        }
        if first > 1 && last_ts > 0 && !st.recreated {
            // The stream lost track (nats-server: start from our last message's time).
            return Start::Time(super::wire::time_json(last_ts));
        }
        Start::All
    }

    /// A create request failed: note the error (if any) and schedule the next attempt.
    fn failed(&mut self, l: &Arc<Link>, error: Option<ApiError>) {
        if let Some(s) = self.subs.get_mut(&l.iname).and_then(|s| s.answer.take()) {
            s.close();
            self.stream.account.sublist.remove(&s);
        }
        let mut st = l.state.lock();
        st.waiting = None;
        st.error = error;
        st.fails += 1;
        st.due = Some(Instant::now() + backoff(st.fails) + jitter());
    }

    fn answered(&mut self, iname: &str, id: u64, headers: Option<&[u8]>, payload: &[u8]) {
        let Some(l) = self.link(iname) else {
            return;
        };
        if l.state.lock().waiting.map(|(w, _)| w) != Some(id) {
            return;
        }
        let answer: request::Answer = serde_json::from_slice(payload).unwrap_or_default();
        let (name, deliver, delivered, durable) = match (&answer.error, &answer.config) {
            (None, Some(c)) if !answer.name.is_empty() => (
                answer.name.clone(),
                c.deliver_subject.clone(),
                answer.delivered.as_ref().map_or(0, |d| d.stream_seq),
                !c.durable_name.is_empty(),
            ),
            (Some(e), _) if e.err_code == 10225 && !l.mirror => {
                // The origin was deleted and created again: take it from its beginning.
                crate::warn!(
                    "JetStream source stream \"{}\" for stream '{} > {}' was recreated, resetting source state",
                    l.source.name,
                    self.stream.account.name,
                    self.stream.name
                );
                {
                    let mut st = l.state.lock();
                    st.sseq = 0;
                    st.dseq = 0;
                    st.ident.clear();
                    st.recreated = true;
                }
                self.stream.forget_source(iname);
                self.failed(&l, None);
                let mut st = l.state.lock();
                st.fails = st.fails.saturating_sub(1);
                st.due = Some(Instant::now() + jitter());
                return;
            }
            (e, _) => {
                let err = e.as_ref().map(|e| e.api());
                if let Some(e) = &err {
                    crate::warn!(
                        "JetStream error response for stream '{} > {}' {} consumer {}: {}",
                        self.stream.account.name,
                        self.stream.name,
                        if l.mirror { "mirror" } else { "source" },
                        l.source.name,
                        e.description
                    );
                }
                self.failed(&l, err);
                return;
            }
        };
        if let Some(s) = self.subs.get_mut(iname).and_then(|s| s.answer.take()) {
            s.close();
            self.stream.account.sublist.remove(&s);
        }
        let ident = headers
            .and_then(|h| strom_proto::headers::get(h, b"Nats-Stream-Identity"))
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .unwrap_or_default();
        if l.mirror {
            self.align_mirror(delivered);
        }
        let generation = {
            let mut st = l.state.lock();
            if l.mirror {
                let last = self.stream.store.lock().state().last_seq;
                st.sseq = delivered.max(last);
            } else {
                let recreated = st.recreated
                    || (!ident.is_empty() && !st.ident.is_empty() && st.ident != ident);
                if recreated && !st.recreated {
                    crate::warn!(
                        "JetStream source stream \"{}\" for stream '{} > {}' was recreated, resetting source state",
                        l.source.name,
                        self.stream.account.name,
                        self.stream.name
                    );
                    st.sseq = 0;
                }
                st.ident = ident;
                st.recreated = false;
                st.sseq = st.sseq.max(delivered);
            }
            st.cname = name;
            st.durable = durable;
            st.fresh = true;
            st.dseq = 0;
            st.last = Some(Instant::now());
            st.fails = 0;
            st.waiting = None;
            st.generation += 1;
            st.generation
        };
        let Some(writer) = self.stream.writer() else {
            return;
        };
        let sink: Arc<dyn Internal> = Arc::new(Deliveries {
            link: l.clone(),
            generation,
            writer,
        });
        let sub = Arc::new(Subscription::internal(
            self.stream.account.clone(),
            Bytes::from(deliver.into_bytes()),
            sink,
        ));
        self.stream.account.sublist.insert(sub.clone());
        self.subs.entry(iname.to_string()).or_default().deliveries = Some(sub);
    }

    /// A mirror's consumer starts past what the mirror holds (its start position, or
    /// messages the origin no longer has): the mirror's next sequence moves there.
    fn align_mirror(&self, delivered: u64) {
        let mut store = self.stream.store.lock();
        let st = store.state();
        if st.last_seq >= delivered {
            return;
        }
        let moved = if st.msgs == 0 {
            store.compact(delivered + 1).map(|_| ())
        } else {
            store.skip_to(delivered + 1)
        };
        if let Err(e) = moved {
            crate::error!(
                "JetStream mirror '{} > {}' could not move to sequence {}: {e}",
                self.stream.account.name,
                self.stream.name,
                delivered + 1
            );
        }
    }
}
