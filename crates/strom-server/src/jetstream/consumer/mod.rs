//! JetStream consumers: a stream's readers, pulled from or pushing to a subject, whose
//! deliveries are acknowledged, redelivered and remembered across restarts.
//!
//! - [`Consumer`]: one consumer — its configuration, its [`state::State`] (delivered, ack
//!   floor, pending acks, redeliveries), its waiting pull requests, its journal.
//! - [`pump`]: the stream's consumer thread: acks, pull requests, flow control replies and new
//!   messages are events; it journals acks and makes them durable (group commit) before it acts
//!   on them, then delivers.
//! - [`pull`]: pull request forms and status frames; [`state`]: the ack bookkeeping.
//!
//! On disk (durable consumers of file streams): `<stream>/obs/<name>/{meta.json,state.log}`.

mod ack;
mod deliver;
pub mod priority;
pub mod pull;
pub mod pump;
pub mod state;
mod upkeep;

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use parking_lot::{Mutex, RwLock};
use serde::{Deserialize, Serialize};
use strom_store::{Journal, Store};

use super::consumer_config::{AckPolicy, ConsumerConfig, DeliverPolicy};
use super::errors::JsError;
use super::stream::Stream;
use super::wire;
use pull::PullRequest;
use state::State;

/// Consumers' directory inside a stream's directory (nats-server's name).
pub const CONSUMERS_DIR: &str = "obs";
const META_FILE: &str = "meta.json";
const JOURNAL_FILE: &str = "state.log";
/// A journal is rewritten as one snapshot once it grows past this (plus its last snapshot).
const JOURNAL_COMPACT: u64 = 1 << 20;

/// Flow control of a push consumer (nats-server's `maxpb`/`pbytes`/`fcid`).
#[derive(Debug)]
pub struct FlowControl {
    /// The window: a request goes out past half of it, delivery stalls past it.
    pub window: i64,
    pub bytes: i64,
    /// The reply subject of the outstanding request, and the bytes it covers.
    pub outstanding: Option<(Bytes, i64)>,
}

/// The subscriptions a consumer delivers to (an inbox, a deliver subject), matched once and
/// kept while the account's sublist is unchanged.
#[derive(Default)]
pub struct Route {
    generation: u64,
    matched: Option<crate::sublist::SubResult>,
}

impl Route {
    /// The match of `to` (only `group`'s members, with a deliver group).
    pub fn get(
        &mut self,
        account: &crate::account::Account,
        to: &[u8],
        group: Option<&[u8]>,
    ) -> &crate::sublist::SubResult {
        let generation = account.sublist.generation();
        if self.generation != generation || self.matched.is_none() {
            let mut r = account.sublist.matches(to);
            if let Some(g) = group {
                r.psubs.clear();
                r.qsubs.retain(|(name, _)| &name[..] == g);
            }
            self.generation = generation;
            self.matched = Some(r);
        }
        self.matched.get_or_insert_with(Default::default)
    }
}

/// nats-server's `JsFlowControlMaxPending`.
pub const FLOW_CONTROL_MAX: i64 = 32 * 1024 * 1024;

/// What changes as a consumer runs.
pub struct Inner {
    pub state: State,
    pub journal: Option<Journal>,
    /// Journal size after its last rewrite.
    pub journal_base: u64,
    pub waiting: VecDeque<PullRequest>,
    /// Messages matching the filters from `state.next` up to `counted_to`.
    pub num_pending: u64,
    pub counted_to: u64,
    /// Messages were removed where they count: count again.
    pub recount: bool,
    /// `last_per_subject`: the last message of each subject, delivered first; then `resume`.
    pub skip: VecDeque<u64>,
    pub resume: u64,
    /// When pending messages must next be checked for redelivery (nanoseconds).
    pub redeliver_at: Option<i64>,
    /// Push: who the deliver subject reaches, and since when nobody (clients often create
    /// a push consumer first and subscribe its deliver subject right after).
    pub route: Route,
    pub unbound_since: Option<Instant>,
    /// Last sign of life (a pull request, interest in the deliver subject).
    pub active_at: Instant,
    pub flow: FlowControl,
    /// Push: when the next idle heartbeat is due.
    pub heartbeat_at: Option<Instant>,
    /// Acks journaled since the last sync.
    pub unsynced: bool,
    /// Acks counted for `sample_freq`.
    pub acks_seen: u64,
    /// The consumer thread last saw it paused: the end of the pause is to be advised.
    pub paused: bool,
    /// `replay_policy: original` (nats-server's `o.replay`): messages go out as far apart as
    /// they were stored, up to the stream's last sequence when delivery began (`replay_until`);
    /// the time of the last message delivered and when it went out; when the next is due.
    pub replay_until: Option<u64>,
    pub replay_last: Option<(i64, Instant)>,
    pub replay_due: Option<Instant>,
    /// `rate_limit_bps`: bytes the consumer may send now, as of when; and when the next
    /// message may go once they ran out.
    pub rate: Option<(f64, Instant)>,
    pub rate_due: Option<Instant>,
    /// `pinned_client`: the requester served.
    pub pin: Option<priority::Pin>,
}

pub struct Consumer {
    pub name: String,
    pub created: i64,
    pub config: RwLock<ConsumerConfig>,
    /// Filter subjects, as bytes.
    pub filters: RwLock<Vec<Bytes>>,
    pub inner: Mutex<Inner>,
    /// `obs/<name>` for a durable consumer of a file stream.
    pub dir: Option<PathBuf>,
    pub closed: AtomicBool,
}

#[derive(Serialize, Deserialize)]
struct Meta {
    config: ConsumerConfig,
    created: i64,
}

fn store_failed(e: impl std::fmt::Display) -> JsError {
    JsError::Text(
        500,
        10104,
        format!("error creating store for consumer: {e}"),
    )
}

impl Consumer {
    /// Whether this is a mirror's or sourcing stream's internal consumer.
    pub fn is_sourcing(&self) -> bool {
        self.config.read().is_sourcing()
    }

    /// A new consumer of `stream` with a checked configuration (defaults filled in).
    ///
    /// # Errors
    /// When its files cannot be created.
    pub fn create(
        stream: &Stream,
        name: String,
        config: ConsumerConfig,
    ) -> Result<Arc<Consumer>, JsError> {
        let created = wire::now_nanos();
        let dir = consumer_dir(stream, &name, &config);
        let journal = match &dir {
            Some(d) => {
                let _ = std::fs::remove_dir_all(d);
                super::meta::create_dir_durable(d).map_err(store_failed)?;
                save_meta(d, &config, created, stream.crypto()).map_err(store_failed)?;
                let (j, _) = Journal::open(&d.join(JOURNAL_FILE), stream.crypto().cloned())
                    .map_err(store_failed)?;
                super::meta::sync_dir(d).map_err(store_failed)?;
                Some(j)
            }
            None => None,
        };
        let (start, skip, resume) = start_position(stream, &config);
        let consumer = Consumer::assemble(
            name,
            config,
            created,
            dir,
            journal,
            State::starting_at(start),
        );
        {
            let mut inner = consumer.inner.lock();
            inner.skip = skip;
            inner.resume = resume;
            inner.recount = true;
            // Where it starts is part of its state: a restart must not work it out again
            // from a stream that has moved on.
            let first = start_records(&inner);
            if let Some(j) = inner.journal.as_mut() {
                for r in &first {
                    j.append(r);
                }
                j.sync().map_err(store_failed)?;
            }
        }
        Ok(consumer)
    }

    /// Reopens a durable consumer from its directory.
    ///
    /// # Errors
    /// What is wrong with its files.
    pub fn recover(stream: &Stream, dir: &Path) -> Result<Arc<Consumer>, String> {
        let crypto = stream.crypto();
        let meta = load_meta(dir, crypto)?;
        let (journal, records) =
            Journal::open(&dir.join(JOURNAL_FILE), crypto.cloned()).map_err(|e| e.to_string())?;
        // A consumer's journal starts with its start position (see `create`); one without
        // records starts where a new one would.
        let mut st = if records.is_empty() {
            let (start, _, _) = start_position(stream, &meta.config);
            State::starting_at(start)
        } else {
            State::default()
        };
        let mut bad = 0usize;
        let mut skip = (0, Vec::new());
        for r in &records {
            if let Some(list) = state::record::skip_list(r) {
                skip = list;
            } else if !state::record::apply(&mut st, r) {
                bad += 1;
            }
        }
        if bad > 0 {
            crate::warn!(
                "Consumer {} has {bad} unreadable state records; they were skipped",
                dir.display()
            );
        }
        // Deliveries that were in flight are due again from now on.
        let now = wire::now_nanos();
        for p in st.pending.values_mut() {
            p.ts = now;
        }
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let c = Consumer::assemble(
            name,
            meta.config,
            meta.created,
            Some(dir.to_path_buf()),
            Some(journal),
            st,
        );
        {
            let mut inner = c.inner.lock();
            inner.recount = true;
            inner.redeliver_at = Some(now);
            // What is left of a last_per_subject list: what was not delivered yet.
            let next = inner.state.next;
            inner.resume = skip.0;
            inner.skip = skip.1.into_iter().filter(|s| *s >= next).collect();
            let recs = start_records(&inner);
            if let Some(j) = inner.journal.as_mut() {
                // Start the journal afresh from the recovered state.
                if j.rewrite(&recs).is_ok() {
                    inner.journal_base = inner.journal.as_ref().map_or(0, Journal::len);
                }
            }
        }
        Ok(c)
    }

    fn assemble(
        name: String,
        config: ConsumerConfig,
        created: i64,
        dir: Option<PathBuf>,
        journal: Option<Journal>,
        state: State,
    ) -> Arc<Consumer> {
        let filters = config
            .filters()
            .into_iter()
            .map(|f| Bytes::from(f.into_bytes()))
            .collect();
        let journal_base = journal.as_ref().map_or(0, Journal::len);
        Arc::new(Consumer {
            name,
            created,
            config: RwLock::new(config),
            filters: RwLock::new(filters),
            inner: Mutex::new(Inner {
                state,
                journal,
                journal_base,
                waiting: VecDeque::new(),
                num_pending: 0,
                counted_to: 0,
                recount: true,
                skip: VecDeque::new(),
                resume: 0,
                redeliver_at: None,
                route: Route::default(),
                unbound_since: None,
                active_at: Instant::now(),
                flow: FlowControl {
                    window: FLOW_CONTROL_MAX / 16,
                    bytes: 0,
                    outstanding: None,
                },
                heartbeat_at: None,
                unsynced: false,
                acks_seen: 0,
                paused: false,
                replay_until: None,
                replay_last: None,
                replay_due: None,
                rate: None,
                rate_due: None,
                pin: None,
            }),
            dir,
            closed: AtomicBool::new(false),
        })
    }

    /// Whether `subject` is one this consumer delivers.
    pub fn wants(&self, subject: &[u8]) -> bool {
        let f = self.filters.read();
        f.is_empty() || f.iter().any(|f| strom_proto::subject::matches(f, subject))
    }

    /// Applies an accepted update.
    ///
    /// # Errors
    /// When the new configuration cannot be stored.
    pub fn update(&self, stream: &Stream, config: ConsumerConfig) -> Result<(), JsError> {
        if let Some(d) = &self.dir {
            save_meta(d, &config, self.created, stream.crypto()).map_err(store_failed)?;
        }
        let filters = config
            .filters()
            .into_iter()
            .map(|f| Bytes::from(f.into_bytes()))
            .collect();
        *self.filters.write() = filters;
        *self.config.write() = config;
        let mut inner = self.inner.lock();
        inner.recount = true;
        inner.redeliver_at = Some(0);
        inner.route = Route::default();
        Ok(())
    }

    /// Forgets what was delivered and not acknowledged: the next delivery is the first
    /// message after the ack floor (a sourcing stream set its consumer up again).
    pub fn restart_after_ack_floor(&self) {
        let mut inner = self.inner.lock();
        let (dseq, sseq) = inner.state.ack_floor;
        inner.state.pending.clear();
        inner.state.redelivered.clear();
        inner.state.redeliver.clear();
        inner.state.dseq = dseq;
        inner.state.next = sseq + 1;
        inner.flow.outstanding = None;
        inner.flow.bytes = 0;
        inner.recount = true;
    }

    /// Stops the consumer and removes its files.
    pub fn delete_files(&self) {
        self.closed.store(true, Ordering::Release);
        if let Some(d) = &self.dir {
            self.inner.lock().journal = None;
            let _ = std::fs::remove_dir_all(d);
            if let Some(parent) = d.parent() {
                let _ = super::meta::sync_dir(parent);
            }
        }
    }

    /// Ends the pull requests waiting on a deleted consumer with nats-server's 409 "Consumer
    /// Deleted" (async-nats's ordered consumer recreates its consumer on it).
    pub fn release_waiting(&self, server: &crate::server::Shared, stream: &Stream) {
        let waiting = std::mem::take(&mut self.inner.lock().waiting);
        let mut out = crate::client::ServerBatch::new(server);
        for r in waiting {
            let hdr = pull::status(409, "Consumer Deleted", "");
            out.publish(&stream.account, &r.reply, None, Some(&hdr), &[]);
        }
    }

    /// Counts the messages this consumer has yet to deliver, up to stream sequence `upto`.
    pub fn refresh_pending(&self, inner: &mut Inner, store: &dyn Store, upto: u64) {
        let from = if inner.recount {
            inner.num_pending = 0;
            inner.recount = false;
            inner.state.next.max(inner.resume)
        } else {
            (inner.counted_to + 1).max(inner.state.next.max(inner.resume))
        };
        if from <= upto {
            let filters = self.filters.read();
            let mut n = 0u64;
            store.scan(from, &mut |seq, subject| {
                if seq > upto {
                    return false;
                }
                if filters.is_empty()
                    || filters
                        .iter()
                        .any(|f| strom_proto::subject::matches(f, subject))
                {
                    n += 1;
                }
                true
            });
            inner.num_pending += n;
        }
        inner.counted_to = inner.counted_to.max(upto);
    }

    /// `num_pending` as INFO and ack subjects report it.
    pub fn num_pending(inner: &Inner) -> u64 {
        inner.num_pending + inner.skip.len() as u64
    }

    /// The consumer's info, in nats-server's field order.
    pub fn info(&self, stream: &Stream, kind: Option<&'static str>) -> InfoJson {
        let cfg = self.config.read().clone();
        stream.note_removals();
        let upto = stream.durable_last();
        let mut inner = self.inner.lock();
        {
            let store = stream.store.lock();
            self.refresh_pending(&mut inner, &**store, upto);
        }
        let st = &inner.state;
        let last = |ts: i64| (ts != 0).then(|| wire::time_json(ts));
        let paused = cfg
            .pause_until
            .as_deref()
            .and_then(wire::parse_time)
            .filter(|t| *t > wire::now_nanos());
        let push_bound = if cfg.is_push() {
            stream_interest(stream, &cfg).then_some(true)
        } else {
            None
        };
        InfoJson {
            kind,
            stream_name: stream.name.clone(),
            name: self.name.clone(),
            created: wire::time_json(self.created),
            config: Some(cfg.clone().with_server_metadata()),
            delivered: SeqInfo {
                consumer_seq: st.dseq,
                stream_seq: st.next.saturating_sub(1),
                last_active: last(st.last_delivered),
            },
            ack_floor: SeqInfo {
                consumer_seq: st.ack_floor.0,
                stream_seq: st.ack_floor.1,
                last_active: if cfg.ack_policy == AckPolicy::None {
                    None
                } else {
                    last(st.last_acked)
                },
            },
            num_ack_pending: st.pending.len() as u64,
            num_redelivered: st.redelivered.len() as u64,
            num_waiting: inner.waiting.len() as u64,
            num_pending: Consumer::num_pending(&inner),
            paused: paused.map(|_| true),
            pause_remaining: paused.map(|t| t - wire::now_nanos()),
            push_bound,
            ts: wire::format_time(chrono::Utc::now()),
            priority_groups: priority::info(&cfg, &inner),
        }
    }
}

/// The subscriptions of other accounts that import `subject` from `account` as a stream
/// (with the subject each sees): where a push consumer's deliveries also go. Empty, without
/// looking, in an account that has no links.
pub fn imported_matches(
    account: &crate::account::Account,
    subject: &[u8],
) -> Vec<crate::sublist::SubResult> {
    if !account.links.any() {
        return Vec::new();
    }
    account
        .links
        .imported(subject)
        .into_iter()
        .map(|(to, mapped)| to.sublist.matches(&mapped))
        .filter(|r| !r.is_empty())
        .collect()
}

/// Whether a push consumer's deliver subject has the interest it needs (a member of its
/// deliver group, when it has one).
pub fn stream_interest(stream: &Stream, cfg: &ConsumerConfig) -> bool {
    let r = stream
        .account
        .sublist
        .matches(cfg.deliver_subject.as_bytes());
    if cfg.deliver_group.is_empty() {
        !r.is_empty()
            || !imported_matches(&stream.account, cfg.deliver_subject.as_bytes()).is_empty()
    } else {
        r.qsubs
            .iter()
            .any(|(g, _)| &g[..] == cfg.deliver_group.as_bytes())
    }
}

#[derive(Serialize)]
pub struct SeqInfo {
    pub consumer_seq: u64,
    pub stream_seq: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_active: Option<String>,
}

/// `ConsumerInfo` (with the response `type` for CREATE and INFO; none in LIST).
#[derive(Serialize)]
pub struct InfoJson {
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<&'static str>,
    pub stream_name: String,
    pub name: String,
    pub created: String,
    /// Left out only where nats-server leaves it out (`/jsz` without `config`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<ConsumerConfig>,
    pub delivered: SeqInfo,
    pub ack_floor: SeqInfo,
    pub num_ack_pending: u64,
    pub num_redelivered: u64,
    pub num_waiting: u64,
    pub num_pending: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paused: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pause_remaining: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub push_bound: Option<bool>,
    pub ts: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority_groups: Option<Vec<priority::GroupState>>,
}

fn consumer_dir(stream: &Stream, name: &str, config: &ConsumerConfig) -> Option<PathBuf> {
    if !config.is_durable() || config.mem_storage {
        return None;
    }
    stream
        .dir
        .as_ref()
        .filter(|_| stream.storage == super::stream_config::Storage::File)
        .map(|d| d.join(CONSUMERS_DIR).join(name))
}

/// Where a new consumer starts (nats-server's `selectStartingSeqNo`): the first stream
/// sequence to consider, and for `last_per_subject` the sequences to deliver first and where
/// to go on after them.
fn start_position(stream: &Stream, cfg: &ConsumerConfig) -> (u64, VecDeque<u64>, u64) {
    let store = stream.store.lock();
    let st = store.state();
    let first = st.first_seq;
    let last = st.last_seq;
    let filters: Vec<String> = cfg.filters();
    let matches = |subj: &[u8]| {
        filters.is_empty()
            || filters
                .iter()
                .any(|f| strom_proto::subject::matches(f.as_bytes(), subj))
    };
    let mut skip = VecDeque::new();
    let mut resume = 0;
    let mut seq = if cfg.opt_start_seq > 0 {
        cfg.opt_start_seq as u64
    } else {
        match cfg.deliver_policy {
            DeliverPolicy::All => first,
            DeliverPolicy::Last => {
                let mut found = 0;
                store.scan_back(&mut |s, subj| {
                    if matches(subj) {
                        found = s;
                        return false;
                    }
                    true
                });
                if found == 0 {
                    last
                } else {
                    found
                }
            }
            DeliverPolicy::LastPerSubject => {
                let mut lasts: Vec<u64> = store
                    .subjects()
                    .into_iter()
                    .filter(|(s, _)| matches(s))
                    .filter_map(|(s, _)| store.last_seq_for(&s))
                    .collect();
                lasts.sort_unstable();
                resume = last + 1;
                let start = lasts.first().copied().unwrap_or(last + 1);
                skip = lasts.into_iter().collect();
                start
            }
            DeliverPolicy::ByStartTime => {
                let t = cfg
                    .opt_start_time
                    .as_deref()
                    .and_then(wire::parse_time)
                    .unwrap_or(0);
                let mut found = last + 1;
                store.scan(first, &mut |s, _| {
                    if let Ok(Some(m)) = store.get(s) {
                        if m.ts >= t {
                            found = s;
                            return false;
                        }
                    }
                    true
                });
                found
            }
            DeliverPolicy::New | DeliverPolicy::ByStartSequence => last + 1,
        }
    };
    if st.msgs == 0 && st.last_seq == 0 && cfg.opt_start_seq == 0 {
        seq = 1;
    } else if seq > last && cfg.opt_start_seq == 0 {
        seq = last + 1;
    } else if seq < first {
        seq = first;
    }
    (seq.max(1), skip, resume)
}

fn save_meta(
    dir: &Path,
    config: &ConsumerConfig,
    created: i64,
    crypto: Option<&Arc<strom_store::Crypto>>,
) -> std::io::Result<()> {
    let meta = Meta {
        config: config.clone(),
        created,
    };
    super::meta::save_json(dir, META_FILE, &meta, crypto.map(|c| &**c))
}

fn load_meta(dir: &Path, crypto: Option<&Arc<strom_store::Crypto>>) -> Result<Meta, String> {
    super::meta::load_json(dir, META_FILE, crypto.map(|c| &**c))
}

/// The records a journal starts with: the whole state, and the `last_per_subject` list while
/// one is being delivered.
fn start_records(inner: &Inner) -> Vec<Vec<u8>> {
    let mut recs = vec![state::record::snapshot(&inner.state)];
    if !inner.skip.is_empty() {
        recs.push(state::record::skip(inner.resume, &inner.skip));
    }
    recs
}

/// Journals a record for a consumer (durable ones only), rewriting the journal as one
/// snapshot when it has grown large.
pub fn journal(inner: &mut Inner, rec: &[u8]) {
    let Some(j) = inner.journal.as_mut() else {
        return;
    };
    j.append(rec);
    if j.len() > inner.journal_base + JOURNAL_COMPACT {
        let recs = start_records(inner);
        if let Some(j) = inner.journal.as_mut() {
            match j.rewrite(&recs) {
                Ok(()) => inner.journal_base = j.len(),
                Err(e) => crate::warn!("Consumer journal could not be compacted: {e}"),
            }
        }
    }
}
