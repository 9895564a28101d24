//! One stream: its configuration, its store, the internal subscriptions that capture its
//! subjects, and the writer thread that appends what they capture (see [`super::ingest`]).

use std::path::PathBuf;
use std::sync::mpsc;
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::{Mutex, RwLock};
use strom_store::{FileStore, MemStore, Store, StoreError};

use std::sync::atomic::{AtomicU64, Ordering};

use super::consumer::pump::{Event, Pump};
use super::consumer::Consumer;
use super::errors::JsError;
use super::ingest::{self, Inbound, Work};
use super::meta::{self, Meta};
use super::sourcing::{self, Sourcing};
use super::stream_config::{Storage, StreamConfig};
use super::wire::{self, StateJson};
use crate::account::Account;
use crate::subscription::{Internal, Subscription};

/// Where a file stream keeps its messages, inside its directory.
const MSGS_DIR: &str = "msgs";

pub struct Stream {
    pub name: String,
    pub config: RwLock<StreamConfig>,
    /// Creation time, nanoseconds since the epoch.
    pub created: i64,
    pub store: Mutex<Box<dyn Store>>,
    /// The stream's directory; `None` for memory storage.
    pub dir: Option<PathBuf>,
    pub account: Arc<Account>,
    subs: Mutex<Vec<Arc<Subscription>>>,
    /// The writer's queue; dropped to stop the writer.
    tx: Mutex<Option<mpsc::Sender<Work>>>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// What the writer and direct gets need from the server, once started.
    ctx: Mutex<Option<ingest::Context>>,
    /// Encryption of the stream's files.
    crypto: Option<Arc<strom_store::Crypto>>,
    /// The account's usage, and the bytes of this stream counted in it.
    pub usage: Arc<super::usage::Usage>,
    accounted: std::sync::atomic::AtomicU64,
    /// The storage type (fixed for a stream's life).
    pub storage: Storage,
    /// Consumers by name.
    pub consumers: RwLock<std::collections::BTreeMap<String, Arc<Consumer>>>,
    /// The consumers' thread, once the stream has a consumer.
    pump: Mutex<Option<Pump>>,
    /// The last sequence consumers may see: durable under the default sync policy.
    durable_last: AtomicU64,
    /// Why the stream takes no more messages: a failed fsync (until the server restarts).
    pub write_error: Arc<Mutex<Option<String>>>,
    /// From capture to PubAck, for `/metrics`.
    pub publish_latency: super::latency::PublishLatency,
    /// The mirror or sources, while the stream has them and runs.
    sourcing: Mutex<Option<Arc<Sourcing>>>,
    /// Where each source stands in its origin (the last origin sequence stored).
    sources_state: Mutex<sourcing::state::Positions>,
    /// A mirror came within a few messages of its origin: with `mirror_direct`, it answers
    /// the origin's direct gets from then on.
    mirror_caught_up: std::sync::atomic::AtomicBool,
}

/// The internal subscription's receiver: hands each captured message to the writer.
struct Capture {
    tx: mpsc::Sender<Work>,
}

impl Internal for Capture {
    fn deliver(
        &self,
        _from: u64,
        subject: &[u8],
        reply: Option<&[u8]>,
        headers: Option<&[u8]>,
        payload: &[u8],
    ) -> bool {
        self.tx
            .send(Work::Msg(Inbound {
                subject: Bytes::copy_from_slice(subject),
                reply: reply.map(Bytes::copy_from_slice),
                headers: headers.map(Bytes::copy_from_slice),
                payload: Bytes::copy_from_slice(payload),
                // Only a message that may be acknowledged is timed.
                captured: reply.map(|_| std::time::Instant::now()),
                origin: None,
            }))
            .is_ok()
    }
}

fn store_failed(e: impl std::fmt::Display) -> JsError {
    JsError::StreamCreateFailed(format!("error creating store for stream: {e}"))
}

impl Stream {
    /// Creates a new stream's store (and, for file storage, its directory and metadata).
    ///
    /// # Errors
    /// [`JsError::StreamCreateFailed`] when the store cannot be created.
    pub fn create(
        account: Arc<Account>,
        config: StreamConfig,
        dir: Option<PathBuf>,
        crypto: Option<Arc<strom_store::Crypto>>,
        usage: Arc<super::usage::Usage>,
    ) -> Result<Arc<Stream>, JsError> {
        let created = wire::now_nanos();
        let store: Box<dyn Store> = match (&config.storage, &dir) {
            (Storage::File, Some(d)) => {
                meta::create_dir_durable(d).map_err(store_failed)?;
                meta::save(
                    d,
                    &Meta {
                        config: config.clone(),
                        created,
                    },
                    crypto.as_deref(),
                )
                .map_err(store_failed)?;
                let (store, _) =
                    FileStore::open_with(d.join(MSGS_DIR), crypto.clone()).map_err(store_failed)?;
                meta::sync_dir(d).map_err(store_failed)?;
                Box::new(store)
            }
            _ => Box::new(MemStore::new()),
        };
        let stream = Stream::assemble(account, config, created, store, dir, crypto, usage);
        if stream.config.read().first_seq > 1 {
            let first = stream.config.read().first_seq as u64;
            let mut store = stream.store.lock();
            store.compact(first).map_err(store_failed)?;
            store.sync().map_err(store_failed)?;
        }
        Ok(stream)
    }

    /// Reopens a file stream from its directory after a restart.
    ///
    /// # Errors
    /// What is wrong with its metadata or store.
    pub fn recover(
        account: Arc<Account>,
        dir: PathBuf,
        crypto: Option<Arc<strom_store::Crypto>>,
        usage: Arc<super::usage::Usage>,
    ) -> Result<(Arc<Stream>, strom_store::Recovery), String> {
        let meta = meta::load(&dir, crypto.as_deref())?;
        let (store, recovery) = FileStore::open_with(dir.join(MSGS_DIR), crypto.clone())
            .map_err(|e: StoreError| e.to_string())?;
        let stream = Stream::assemble(
            account,
            meta.config,
            meta.created,
            Box::new(store),
            Some(dir),
            crypto,
            usage,
        );
        stream.refresh_usage();
        Ok((stream, recovery))
    }

    fn assemble(
        account: Arc<Account>,
        config: StreamConfig,
        created: i64,
        store: Box<dyn Store>,
        dir: Option<PathBuf>,
        crypto: Option<Arc<strom_store::Crypto>>,
        usage: Arc<super::usage::Usage>,
    ) -> Arc<Stream> {
        let mut store = store;
        store.set_compression(config.compression == super::stream_config::Compression::S2);
        let storage = config.storage;
        Arc::new(Stream {
            name: config.name.clone(),
            config: RwLock::new(config),
            created,
            store: Mutex::new(store),
            dir,
            account,
            subs: Mutex::new(Vec::new()),
            tx: Mutex::new(None),
            writer: Mutex::new(None),
            ctx: Mutex::new(None),
            crypto,
            usage,
            accounted: std::sync::atomic::AtomicU64::new(0),
            storage,
            consumers: RwLock::new(std::collections::BTreeMap::new()),
            pump: Mutex::new(None),
            durable_last: AtomicU64::new(0),
            write_error: Arc::new(Mutex::new(None)),
            publish_latency: super::latency::PublishLatency::default(),
            sourcing: Mutex::new(None),
            sources_state: Mutex::new(Default::default()),
            mirror_caught_up: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// The write error that stopped the stream, if one did.
    pub fn write_error(&self) -> Option<String> {
        self.write_error.lock().clone()
    }

    /// The encryption of the stream's files.
    pub fn crypto(&self) -> Option<&Arc<strom_store::Crypto>> {
        self.crypto.as_ref()
    }

    /// The last sequence consumers may deliver: what is durable (or, under `sync_interval`,
    /// stored).
    pub fn durable_last(&self) -> u64 {
        self.durable_last.load(Ordering::Acquire)
    }

    /// The writer made messages up to `seq` durable: consumers may deliver them.
    pub fn stored(&self, seq: u64) {
        let old = self.durable_last.fetch_max(seq, Ordering::AcqRel);
        if seq > old {
            self.wake_consumers();
        }
    }

    /// Asks the consumers' thread to look again.
    pub fn wake_consumers(&self) {
        if let Some(p) = self.pump.lock().as_ref() {
            let _ = p.tx.send(Event::Wake);
        }
    }

    /// Tells consumers whose pending counts covered removed messages to count again.
    pub fn note_removals(&self) {
        let high = self.store.lock().take_removed_high();
        if high == 0 {
            return;
        }
        let consumers: Vec<Arc<Consumer>> = self.consumers.read().values().cloned().collect();
        for c in consumers {
            let mut inner = c.inner.lock();
            if high >= inner.state.next.max(inner.resume) || !inner.skip.is_empty() {
                inner.recount = true;
            }
        }
    }

    /// Adds a consumer and starts the consumers' thread if it is the first.
    pub fn add_consumer(self: &Arc<Self>, consumer: Arc<Consumer>) {
        self.consumers
            .write()
            .insert(consumer.name.clone(), consumer);
        let mut pump = self.pump.lock();
        if pump.is_none() {
            if let Some(ctx) = self.ctx.lock().clone() {
                *pump = Some(Pump::start(self, ctx));
            }
        }
        if let Some(p) = pump.as_ref() {
            let _ = p.tx.send(Event::Wake);
        }
    }

    /// Takes a consumer out (its files are the caller's to remove).
    pub fn remove_consumer(&self, name: &str) -> Option<Arc<Consumer>> {
        let c = self.consumers.write().remove(name);
        if let Some(c) = &c {
            c.closed.store(true, Ordering::Release);
        }
        c
    }

    /// After a purge: consumers forget deliveries of messages that are gone (their ack floors
    /// move over them, as nats-server's consumer purge does) and start no lower than the
    /// stream's first message. A purge of some subjects only changes what is pending, as in
    /// nats-server: deliveries of purged messages stay pending until they would be redelivered.
    pub fn forget_removed(&self, filtered: bool) {
        let consumers: Vec<Arc<Consumer>> = self.consumers.read().values().cloned().collect();
        for c in consumers {
            let mut inner = c.inner.lock();
            inner.recount = true;
            if filtered {
                continue;
            }
            let (gone, first) = {
                let store = self.store.lock();
                let gone: Vec<u64> = inner
                    .state
                    .pending
                    .keys()
                    .copied()
                    .filter(|&s| {
                        let mut held = false;
                        store.scan(s, &mut |at, _| {
                            held = at == s;
                            false
                        });
                        !held
                    })
                    .collect();
                (gone, store.state().first_seq)
            };
            for s in &gone {
                inner.state.drop_pending(*s);
            }
            inner.state.forget_below(first);
            inner.state.last_acked = super::wire::now_nanos();
            let rec = super::consumer::state::record::acked(inner.state.ack_floor, &gone);
            super::consumer::journal(&mut inner, &rec);
        }
        self.wake_consumers();
    }

    /// Removes the messages acknowledged under interest or work-queue retention that are
    /// still held: after a consumer of an interest stream went (nats-server's
    /// `cleanupNoInterestMessages`), and after a restart, when removals made for acks whose
    /// journal records were durable had not reached the disk yet. An interest stream keeps a
    /// message while any consumer that wants it has yet to deliver or see it acknowledged; a
    /// work-queue stream drops it once the consumer that takes it has it acknowledged.
    pub fn drop_acknowledged(&self) {
        let retention = self.config.read().retention;
        if retention == super::stream_config::Retention::Limits {
            return;
        }
        let consumers: Vec<Arc<Consumer>> = self.consumers.read().values().cloned().collect();
        let mut held: Vec<(u64, Bytes)> = Vec::new();
        self.store.lock().scan(0, &mut |seq, subject| {
            held.push((seq, Bytes::copy_from_slice(subject)));
            true
        });
        // Where each consumer stands: (next to deliver, pending), read once.
        let states: Vec<(Arc<Consumer>, u64, std::collections::BTreeSet<u64>)> = consumers
            .into_iter()
            .map(|c| {
                let inner = c.inner.lock();
                let next = inner.state.next;
                let pending = inner.state.pending.keys().copied().collect();
                drop(inner);
                (c, next, pending)
            })
            .collect();
        let unwanted: Vec<u64> = held
            .into_iter()
            .filter(|(seq, subject)| {
                let mut wanted_by = 0;
                let mut needed = false;
                for (c, next, pending) in &states {
                    if !c.wants(subject) {
                        continue;
                    }
                    wanted_by += 1;
                    needed |= *seq >= *next || pending.contains(seq);
                }
                match retention {
                    super::stream_config::Retention::Workqueue => wanted_by > 0 && !needed,
                    _ => !needed,
                }
            })
            .map(|(s, _)| s)
            .collect();
        if unwanted.is_empty() {
            return;
        }
        let bytes = {
            let mut store = self.store.lock();
            for s in unwanted {
                let _ = store.delete(s);
            }
            store.state().bytes
        };
        self.account_bytes(bytes);
    }

    /// Reopens the durable consumers stored in the stream's directory; whether all came back.
    fn recover_consumers(self: &Arc<Self>) -> bool {
        let Some(dir) = self
            .dir
            .as_ref()
            .map(|d| d.join(super::consumer::CONSUMERS_DIR))
        else {
            return true;
        };
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return true;
        };
        let mut dirs: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_dir())
            .collect();
        dirs.sort();
        let mut all = true;
        for d in dirs {
            match Consumer::recover(self, &d) {
                Ok(c) => self.add_consumer(c),
                Err(e) => {
                    all = false;
                    crate::error!(
                        "  Error recovering consumer in {}: {e}; left on disk untouched",
                        d.display()
                    );
                }
            }
        }
        all
    }

    /// Starts the writer and subscribes to the stream's subjects.
    pub fn start(self: &Arc<Self>, ctx: ingest::Context) {
        let last = self.store.lock().state().last_seq;
        self.durable_last.store(last, Ordering::Release);
        let (tx, rx) = mpsc::channel();
        *self.tx.lock() = Some(tx);
        *self.ctx.lock() = Some(ctx.clone());
        let stream = self.clone();
        let handle = std::thread::Builder::new()
            .name(format!("strom-stream-{}", self.name))
            .spawn(move || ingest::run(stream, rx, ctx));
        match handle {
            Ok(h) => *self.writer.lock() = Some(h),
            Err(e) => crate::error!("Could not start the writer of stream {}: {e}", self.name),
        }
        self.subscribe();
        self.reconfigure_sourcing();
        // Only when every consumer came back: one that did not may still need messages.
        if self.recover_consumers() && self.consumer_count() > 0 {
            self.drop_acknowledged();
        }
    }

    /// Subscribes to the configured subjects (and, with `allow_direct`, the direct-get
    /// subjects), replacing earlier subscriptions.
    pub fn subscribe(self: &Arc<Self>) {
        self.unsubscribe();
        let Some(tx) = self.tx.lock().clone() else {
            return;
        };
        let Some(ctx) = self.ctx.lock().clone() else {
            return;
        };
        let capture: Arc<dyn Internal> = Arc::new(Capture { tx });
        let (subjects, direct, mirror_direct) = {
            let c = self.config.read();
            let origin = c
                .mirror
                .as_ref()
                .filter(|m| c.mirror_direct && m.external.is_none())
                .map(|m| m.name.clone());
            (c.subjects.clone(), c.allow_direct, origin)
        };
        let mut wanted: Vec<(String, Arc<dyn Internal>, bool)> = subjects
            .into_iter()
            .map(|s| (s, capture.clone(), false))
            .collect();
        if direct {
            let sink = super::api::direct::sink(self, ctx.server.clone());
            for s in super::api::direct::subjects(&self.name, ctx.domain.as_deref()) {
                wanted.push((s, sink.clone(), true));
            }
        }
        // A mirror answers its origin's direct gets once it has caught up.
        if let Some(origin) =
            mirror_direct.filter(|_| self.mirror_caught_up.load(Ordering::Acquire))
        {
            let sink = super::api::direct::sink_for(self, ctx.server.clone(), &origin);
            for s in super::api::direct::subjects(&origin, ctx.domain.as_deref()) {
                wanted.push((s, sink.clone(), true));
            }
        }
        let mut subs = self.subs.lock();
        for (s, sink, direct) in wanted {
            let sub =
                Subscription::internal(self.account.clone(), Bytes::from(s.into_bytes()), sink);
            let sub = Arc::new(if direct {
                sub.in_queue(super::api::direct::QUEUE)
            } else {
                sub
            });
            self.account.sublist.insert(sub.clone());
            subs.push(sub);
        }
    }

    fn unsubscribe(&self) {
        for sub in self.subs.lock().drain(..) {
            sub.close();
            self.account.sublist.remove(&sub);
        }
    }

    /// Stops capturing and ends the writer (which syncs what it holds) and the consumers'
    /// thread (which syncs their journals).
    pub fn stop(&self) {
        self.unsubscribe();
        let sourcing = self.sourcing.lock().take();
        if let Some(s) = sourcing {
            s.stop(false);
        }
        // Taken out first: the consumers' thread is joined without the pump lock held (the
        // writer's `stored` takes it to wake the thread).
        let pump = self.pump.lock().take();
        if let Some(p) = pump {
            p.stop(self);
        }
        if let Some(tx) = self.tx.lock().take() {
            let _ = tx.send(Work::Stop);
        }
        if let Some(h) = self.writer.lock().take() {
            let _ = h.join();
            let next = self.store.lock().state().last_seq + 1;
            self.save_sources_state(next);
        }
    }

    /// What the writer and the sourcing worker need from the server, once started.
    pub fn context(&self) -> Option<ingest::Context> {
        self.ctx.lock().clone()
    }

    /// The writer's queue, while it runs.
    pub fn writer(&self) -> Option<mpsc::Sender<Work>> {
        self.tx.lock().clone()
    }

    /// Starts, updates or stops the mirror and sources after a (re)start or an update.
    pub fn reconfigure_sourcing(self: &Arc<Self>) {
        let wanted = {
            let c = self.config.read();
            c.mirror.is_some() || !c.sources.is_empty()
        };
        let mut current = self.sourcing.lock();
        match (&*current, wanted) {
            (Some(s), true) => s.reconfigure(),
            (None, true) if self.tx.lock().is_some() => {
                *current = Sourcing::start(self).map(Arc::new);
            }
            (Some(_), false) => {
                if let Some(s) = current.take() {
                    drop(current);
                    s.stop(true);
                }
            }
            _ => {}
        }
    }

    /// A stream was created in the account: a mirror or source waiting for it tries now.
    pub fn origin_created(&self) {
        if let Some(s) = self.sourcing.lock().as_ref() {
            s.send(sourcing::Cmd::Kick);
        }
    }

    /// The mirror is within a few messages of its origin (nats-server: fewer than 10
    /// pending): with `mirror_direct` it starts answering the origin's direct gets.
    pub fn mirror_caught_up(self: &Arc<Self>) {
        if !self.mirror_caught_up.swap(true, Ordering::AcqRel) && self.config.read().mirror_direct {
            self.subscribe();
        }
    }

    /// A stream of the account was deleted: a mirror or source taking from it learns now.
    pub fn origin_deleted(&self, name: &str) {
        if let Some(s) = self.sourcing.lock().as_ref() {
            s.send(sourcing::Cmd::OriginGone(name.to_string()));
        }
    }

    /// The writer stored a message from the source `iname`, origin sequence `seq`.
    pub fn note_sourced(&self, iname: &str, seq: u64, ident: &str) {
        let mut st = self.sources_state.lock();
        let p = st.entry(iname.to_string()).or_default();
        p.seq = seq;
        if p.ident != ident {
            p.ident = ident.to_string();
        }
    }

    /// The source `iname`'s origin was recreated: its position is gone.
    pub fn forget_source(&self, iname: &str) {
        self.sources_state.lock().remove(iname);
    }

    /// Where the sources `inames` stand: as the writer noted, else as saved and stored.
    pub fn source_positions(&self, inames: &[String]) -> sourcing::state::Positions {
        let missing: Vec<String> = {
            let st = self.sources_state.lock();
            inames
                .iter()
                .filter(|n| !st.contains_key(*n))
                .cloned()
                .collect()
        };
        if !missing.is_empty() {
            let found = {
                let store = self.store.lock();
                sourcing::state::recover(
                    self.dir.as_deref(),
                    &**store,
                    &missing,
                    self.crypto.as_deref(),
                )
            };
            let mut st = self.sources_state.lock();
            for (k, v) in found {
                st.entry(k).or_insert(v);
            }
        }
        let st = self.sources_state.lock();
        inames
            .iter()
            .filter_map(|n| st.get(n).map(|p| (n.clone(), p.clone())))
            .collect()
    }

    /// Saves where the sources stand, covering every message below `next` (at a stop, and
    /// before a purge removes the messages that say it; the caller holds the store lock then,
    /// so that nothing is stored between).
    pub fn save_sources_state(&self, next: u64) {
        let Some(dir) = self.dir.as_ref() else {
            return;
        };
        let positions = self.sources_state.lock().clone();
        let file = dir.join(sourcing::state::FILE);
        if positions.is_empty() && !file.exists() {
            return;
        }
        if let Err(e) = sourcing::state::save(dir, &positions, next, self.crypto.as_deref()) {
            crate::error!(
                "JetStream stream '{} > {}' could not save its sourcing state: {e}",
                self.account.name,
                self.name
            );
        }
    }

    /// Brings the account's usage up to date with what the store holds now.
    pub fn refresh_usage(&self) {
        let bytes = self.store.lock().state().bytes;
        self.account_bytes(bytes);
    }

    /// Counts `bytes` (the store's size now) in the account's usage.
    pub fn account_bytes(&self, bytes: u64) {
        use std::sync::atomic::Ordering;
        let old = self.accounted.swap(bytes, Ordering::Relaxed);
        // The storage type cannot change; kept apart so that this never takes the config
        // lock (callers may hold the store's).
        self.usage.add(self.storage, bytes as i64 - old as i64);
    }

    /// Stops the stream and removes its files.
    pub fn delete(&self) -> Result<(), JsError> {
        // The origins' consumers of its mirror or sources go with it.
        let sourcing = self.sourcing.lock().take();
        if let Some(s) = sourcing {
            s.stop(true);
        }
        self.stop();
        self.account_bytes(0);
        if let Some(dir) = &self.dir {
            std::fs::remove_dir_all(dir).map_err(|e| JsError::StreamDeleteFailed(e.to_string()))?;
            if let Some(parent) = dir.parent() {
                let _ = meta::sync_dir(parent);
            }
        }
        Ok(())
    }

    /// Persists a changed configuration.
    pub fn save_config(&self, config: &StreamConfig) -> Result<(), JsError> {
        if let (Storage::File, Some(d)) = (&config.storage, &self.dir) {
            meta::save(
                d,
                &Meta {
                    config: config.clone(),
                    created: self.created,
                },
                self.crypto.as_deref(),
            )
            .map_err(|e| JsError::InvalidStreamConfig(e.to_string()))?;
        }
        Ok(())
    }

    /// The state as stream info reports it.
    pub fn state(&self, subjects_filter: Option<&str>, deleted_details: bool) -> StateJson {
        let consumers = self.consumer_count() as u64;
        let store = self.store.lock();
        let mut st = state_of(&**store, subjects_filter, deleted_details);
        st.consumer_count = consumers;
        st
    }

    pub fn info(&self, subjects_filter: Option<&str>, deleted_details: bool) -> wire::StreamInfo {
        let sourcing = self.sourcing.lock().clone();
        let (mirror, sources) = match &sourcing {
            Some(s) => {
                let positions = self.sources_state.lock().clone();
                (s.mirror_info(), s.sources_info(&positions))
            }
            None => (None, Vec::new()),
        };
        wire::StreamInfo {
            mirror,
            sources,
            config: self.config.read().clone(),
            created: wire::time_json(self.created),
            state: self.state(subjects_filter, deleted_details),
            domain: None,
            cluster: None,
            ts: wire::format_time(chrono::Utc::now()),
        }
    }
}

/// A store's state in the API's terms.
pub fn state_of(
    store: &dyn Store,
    subjects_filter: Option<&str>,
    deleted_details: bool,
) -> StateJson {
    let st = store.state();
    let first = store.first();
    let last = store.last();
    let (first_seq, first_ts) = match first {
        Some((s, t)) => (s, t),
        // An empty stream: nats-server reports the next sequence, or 0 when nothing was ever
        // stored.
        None if st.last_seq == 0 => (0, 0),
        None => (st.last_seq + 1, 0),
    };
    // As nats-server, the last message's time stays after it is deleted or purged.
    let last_ts = match store.last_time() {
        0 => last.map_or(0, |(_, t)| t),
        t => t,
    };
    let span = if st.msgs > 0 {
        st.last_seq + 1 - first_seq
    } else {
        0
    };
    let num_deleted = span.saturating_sub(st.msgs);
    let deleted = (deleted_details && num_deleted > 0).then(|| {
        let mut gaps = Vec::with_capacity(num_deleted as usize);
        let mut expect = first_seq;
        store.scan(first_seq, &mut |seq, _| {
            gaps.extend(expect..seq);
            expect = seq + 1;
            true
        });
        gaps
    });
    let subjects = subjects_filter.map(|f| {
        store
            .subjects()
            .into_iter()
            .filter(|(s, _)| strom_proto::subject::matches(f.as_bytes(), s))
            .map(|(s, n)| (String::from_utf8_lossy(&s).into_owned(), n))
            .collect()
    });
    StateJson {
        messages: st.msgs,
        bytes: st.bytes,
        first_seq,
        first_ts: wire::time_json(first_ts),
        last_seq: st.last_seq,
        last_ts: wire::time_json(last_ts),
        num_subjects: st.num_subjects,
        subjects,
        num_deleted,
        deleted,
        consumer_count: 0,
    }
}

impl Stream {
    /// How many consumers the stream has (the internal ones of mirrors and sources aside).
    pub fn consumer_count(&self) -> usize {
        self.consumers
            .read()
            .values()
            .filter(|c| !c.is_sourcing())
            .count()
    }

    /// The stream's identity: a hash of its creation time, which tells a sourcing stream that
    /// its origin was deleted and created again.
    pub fn identity(&self) -> String {
        super::source_config::get_hash(&wire::time_json(self.created))
    }
}
