//! The JetStream API: requests on `$JS.API.>` (and `$JS.<domain>.API.>`) answered in
//! nats-server's JSON. Requests run on one worker thread, off the publish path; direct gets
//! are answered inline by the stream's own subscription ([`direct`]).

use std::sync::mpsc::{Receiver, Sender};
use std::sync::Arc;

use bytes::Bytes;
use serde::Deserialize;

use super::errors::JsError;
use super::stream::Stream;
use super::stream_config::{null_as_default, Storage, StreamConfig};
use super::wire::{self, Paged};
use super::{JetStream, JsAccount};

pub mod consumer;
pub mod direct;

/// Most names `STREAM.NAMES` returns per page, and infos `STREAM.LIST` returns.
const NAMES_LIMIT: usize = 1024;
const LIST_LIMIT: usize = 256;
/// Most subjects a stream info with `subjects_filter` reports.
const SUBJECTS_LIMIT: usize = 100_000;

/// One API request, queued for the worker.
pub struct Request {
    pub account: String,
    /// The requesting client's id.
    pub from: u64,
    pub subject: Bytes,
    pub reply: Bytes,
    pub headers: Option<Bytes>,
    pub payload: Bytes,
}

/// The API subscription's receiver: queues requests that have a reply subject.
/// What the API worker's queue carries.
pub enum Work {
    Request(Request),
    /// End the worker (JetStream shuts down; the sinks' senders may outlive it in
    /// publishers' caches, so the queue closing cannot be waited for).
    Stop,
}

pub struct Sink {
    pub tx: Option<Sender<Work>>,
    pub account: String,
}

impl crate::subscription::Internal for Sink {
    fn deliver(
        &self,
        from: u64,
        subject: &[u8],
        reply: Option<&[u8]>,
        headers: Option<&[u8]>,
        payload: &[u8],
    ) -> bool {
        // Direct gets are answered by each stream's own subscription; here they are nobody's,
        // so a stream without allow_direct answers "no responders" as nats-server does.
        // So are pull requests, by the stream's consumers' thread.
        if api_path(subject)
            .is_some_and(|p| p.starts_with(b"DIRECT.") || p.starts_with(b"CONSUMER.MSG.NEXT."))
        {
            return false;
        }
        let (Some(tx), Some(reply)) = (&self.tx, reply) else {
            return true;
        };
        let _ = tx.send(Work::Request(Request {
            account: self.account.clone(),
            from,
            subject: Bytes::copy_from_slice(subject),
            reply: Bytes::copy_from_slice(reply),
            headers: headers.map(Bytes::copy_from_slice),
            payload: Bytes::copy_from_slice(payload),
        }));
        true
    }
}

/// What follows `$JS.API.` or `$JS.<domain>.API.`.
pub fn api_path(subject: &[u8]) -> Option<&[u8]> {
    let rest = subject.strip_prefix(b"$JS.")?;
    if let Some(p) = rest.strip_prefix(b"API.") {
        return Some(p);
    }
    let dot = rest.iter().position(|&b| b == b'.')?;
    rest[dot + 1..].strip_prefix(b"API.")
}

thread_local! {
    /// Headers the answer to the request being handled carries (a sourcing consumer's
    /// `Nats-Stream-Identity`), set by its handler on the API worker.
    static ANSWER_HEADERS: std::cell::RefCell<Option<Vec<u8>>> = const { std::cell::RefCell::new(None) };
    /// Work a handler starts only once its answer is out (a snapshot's chunks follow its
    /// response): released by the worker right after it publishes the answer.
    static AFTER_ANSWER: std::cell::RefCell<Vec<Sender<()>>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Returns a receiver that fires once the answer to the request being handled is published
/// (or is dropped, if there is none). Only for handlers running on the API worker.
pub(crate) fn after_answer() -> std::sync::mpsc::Receiver<()> {
    let (tx, rx) = std::sync::mpsc::channel();
    AFTER_ANSWER.with(|a| a.borrow_mut().push(tx));
    rx
}

/// Makes the answer to the request being handled carry `headers`. Only for handlers
/// running on the API worker.
pub(crate) fn answer_headers(headers: Vec<u8>) {
    ANSWER_HEADERS.with(|h| *h.borrow_mut() = Some(headers));
}

/// The worker: answers requests until the channel closes.
pub fn run(js: Arc<JetStream>, rx: Receiver<Work>) {
    while let Ok(Work::Request(req)) = rx.recv() {
        let Some(server) = js.server.upgrade() else {
            return;
        };
        let Some(account) = server.account(if req.account == crate::account::GLOBAL_ACCOUNT {
            None
        } else {
            Some(&req.account)
        }) else {
            continue;
        };
        let answer = match js.account(&req.account) {
            Some(jsa) => handle(&js, &jsa, &req),
            None => not_enabled(&req),
        };
        let waiting: Vec<Sender<()>> = AFTER_ANSWER.with(|a| a.borrow_mut().drain(..).collect());
        let headers = ANSWER_HEADERS.with(|h| h.borrow_mut().take());
        if let Some((body, error)) = answer {
            js.count_api(error);
            crate::client::publish_from_server(
                &server,
                &account,
                &req.reply,
                None,
                headers.as_deref(),
                &body,
            );
            for w in waiting {
                let _ = w.send(());
            }
            // nats-server audits every request but successful message gets.
            let get = api_path(&req.subject).is_some_and(|p| p.starts_with(b"STREAM.MSG.GET."));
            if error || !get {
                super::advisory::api_audit(
                    &server,
                    &js,
                    &account,
                    req.from,
                    &req.subject,
                    &req.payload,
                    &body,
                );
            }
        }
    }
}

/// The answer to an account without JetStream.
fn not_enabled(req: &Request) -> Option<(Vec<u8>, bool)> {
    let kind = response_type(api_path(&req.subject)?)?;
    Some((wire::error_json(kind, &JsError::NotEnabledForAccount), true))
}

/// The response `type` for an API path, or `None` for paths nats-server does not answer.
fn response_type(path: &[u8]) -> Option<&'static str> {
    let s = std::str::from_utf8(path).ok()?;
    let t: Vec<&str> = s.split('.').collect();
    Some(match t.as_slice() {
        ["INFO"] => wire::ACCOUNT_INFO,
        ["STREAM", "CREATE", _] => wire::STREAM_CREATE,
        ["STREAM", "UPDATE", _] => wire::STREAM_UPDATE,
        ["STREAM", "INFO", _] => wire::STREAM_INFO,
        ["STREAM", "DELETE", _] => wire::STREAM_DELETE,
        ["STREAM", "PURGE", _] => wire::STREAM_PURGE,
        ["STREAM", "NAMES"] => wire::STREAM_NAMES,
        ["STREAM", "LIST"] => wire::STREAM_LIST,
        ["STREAM", "MSG", "GET", _] => wire::MSG_GET,
        ["STREAM", "MSG", "DELETE", _] => wire::MSG_DELETE,
        ["STREAM", "SNAPSHOT", _] => super::snapshot::SNAPSHOT,
        ["STREAM", "RESTORE", _] => super::snapshot::RESTORE,
        ["CONSUMER", rest @ ..] => return consumer::response_type(rest),
        _ => return None,
    })
}

/// Answers one request: the body and whether it is an error; `None` when nats-server would
/// not answer at all.
fn handle(js: &Arc<JetStream>, jsa: &Arc<JsAccount>, req: &Request) -> Option<(Vec<u8>, bool)> {
    let path = std::str::from_utf8(api_path(&req.subject)?).ok()?;
    let t: Vec<&str> = path.split('.').collect();
    let body = &req.payload[..];
    let kind = response_type(path.as_bytes())?;
    let result = match t.as_slice() {
        ["INFO"] => Ok(account_info(js, jsa)),
        ["STREAM", "CREATE", name] => create(js, jsa, name, body),
        ["STREAM", "UPDATE", name] => update(js, jsa, name, body),
        ["STREAM", "INFO", name] => stream_info(js, jsa, name, body),
        ["STREAM", "DELETE", name] => delete(js, jsa, name),
        ["STREAM", "PURGE", name] => purge(jsa, name, body),
        ["STREAM", "NAMES"] => names(jsa, body),
        ["STREAM", "LIST"] => list(jsa, body),
        ["STREAM", "MSG", "GET", name] => msg_get(jsa, name, body),
        ["STREAM", "MSG", "DELETE", name] => msg_delete(jsa, name, body),
        ["STREAM", "SNAPSHOT", name] => super::snapshot::snapshot(js, jsa, name, body),
        ["STREAM", "RESTORE", name] => super::snapshot::restore(js, jsa, name, body),
        ["CONSUMER", rest @ ..] => consumer::handle(js, jsa, rest, body, req.headers.as_deref()),
        _ => return None,
    };
    Some(match result {
        Ok(b) => (b, false),
        Err(e) => (error_body(kind, &e), true),
    })
}

/// An error response with the fields nats-server always includes for that response.
fn error_body(kind: &str, e: &JsError) -> Vec<u8> {
    let mut v = wire::error_json(kind, e);
    let extra: &[u8] = match kind {
        wire::STREAM_INFO => b",\"total\":0,\"offset\":0,\"limit\":0",
        wire::STREAM_LIST => b",\"total\":0,\"offset\":0,\"limit\":0,\"streams\":[]",
        wire::STREAM_NAMES => b",\"total\":0,\"offset\":0,\"limit\":0,\"streams\":null",
        wire::STREAM_PURGE => b",\"purged\":0",
        k => consumer::error_extra(k),
    };
    if !extra.is_empty() && v.last() == Some(&b'}') {
        v.pop();
        v.extend_from_slice(extra);
        v.push(b'}');
    }
    v
}

/// nats-server's `isEmptyRequest`: no body, or a JSON object without fields.
pub(crate) fn is_empty_request(body: &[u8]) -> bool {
    if body.iter().all(u8::is_ascii_whitespace) {
        return true;
    }
    matches!(
        serde_json::from_slice::<serde_json::Value>(body),
        Ok(serde_json::Value::Object(m)) if m.is_empty()
    )
}

fn json<T: serde::Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).unwrap_or_default()
}

/// Parses an optional request body; empty means all defaults.
fn parse<T: for<'de> Deserialize<'de> + Default>(body: &[u8]) -> Result<T, JsError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice::<Option<T>>(body)
        .map(Option::unwrap_or_default)
        .map_err(|e| JsError::InvalidJson(e.to_string()))
}

fn find(jsa: &JsAccount, name: &str) -> Result<Arc<Stream>, JsError> {
    jsa.streams
        .read()
        .get(name)
        .cloned()
        .ok_or(JsError::StreamNotFound)
}

fn account_info(js: &JetStream, jsa: &JsAccount) -> Vec<u8> {
    let (memory, storage) = jsa.usage();
    let streams = jsa.streams.read().len();
    let l = &jsa.limits;
    json(&wire::AccountInfoResponse {
        kind: wire::ACCOUNT_INFO,
        memory,
        storage,
        reserved_memory: 0,
        reserved_storage: 0,
        streams,
        consumers: jsa.consumer_count(),
        limits: wire::LimitsJson {
            max_memory: l.max_memory,
            max_storage: l.max_file,
            max_streams: l.max_streams,
            max_consumers: l.max_consumers,
            max_ack_pending: l.max_ack_pending,
            memory_max_stream_bytes: -1,
            storage_max_stream_bytes: -1,
            max_bytes_required: l.max_bytes_required,
        },
        domain: js.domain.clone(),
        api: wire::ApiStatsJson {
            level: crate::identity::API_LEVEL,
            total: js.api_total.load(std::sync::atomic::Ordering::Relaxed),
            errors: js.api_errors.load(std::sync::atomic::Ordering::Relaxed),
        },
    })
}

/// The account's streams' configurations by name, for the checks that involve other streams
/// (a mirror's origin, cycles through sources). Each lookup takes the locks only for itself.
pub(crate) fn stream_configs(jsa: &JsAccount) -> impl Fn(&str) -> Option<StreamConfig> + '_ {
    move |name| {
        jsa.streams
            .read()
            .get(name)
            .map(|s| s.config.read().clone())
    }
}

/// Checks a new or changed configuration against the account's limits and other streams, in
/// nats-server's order: limits, a new stream's mirror and source filters, subject overlap.
pub(crate) fn check_placement(
    js: &JetStream,
    jsa: &JsAccount,
    cfg: &StreamConfig,
    replacing: Option<&str>,
) -> Result<(), JsError> {
    let streams = jsa.streams.read();
    if replacing.is_none()
        && jsa.limits.max_streams >= 0
        && streams.len() as i64 >= jsa.limits.max_streams
    {
        return Err(JsError::MaxStreams);
    }
    if jsa.limits.max_bytes_required && cfg.max_bytes <= 0 {
        return Err(JsError::MaxBytesRequired);
    }
    // Reservations: max_bytes of every stream of the same storage against the limits.
    let file = cfg.storage == Storage::File;
    let reserved: i64 = streams
        .iter()
        .filter(|(n, _)| Some(n.as_str()) != replacing && **n != cfg.name)
        .map(|(_, s)| s.config.read().clone())
        .filter(|c| (c.storage == Storage::File) == file && c.max_bytes > 0)
        .map(|c| c.max_bytes)
        .sum();
    let want = cfg.max_bytes.max(0);
    let (account_max, server_max) = if file {
        (jsa.limits.max_file, js.max_file)
    } else {
        (jsa.limits.max_memory, js.max_memory)
    };
    let exceeded = |max: i64| max >= 0 && (reserved + want > max || (want == 0 && max == 0));
    if exceeded(account_max) || (want > 0 && exceeded(server_max)) {
        return Err(if file {
            JsError::StorageExceeded
        } else {
            JsError::MemoryExceeded
        });
    }
    if replacing.is_none() {
        super::source_config::check_filters(cfg)?;
    }
    for (name, other) in streams.iter() {
        if Some(name.as_str()) == replacing || *name == cfg.name {
            continue;
        }
        let oc = other.config.read();
        for a in &cfg.subjects {
            if oc
                .subjects
                .iter()
                .any(|b| strom_proto::subject::overlaps(a.as_bytes(), b.as_bytes()))
            {
                return Err(JsError::SubjectOverlap);
            }
        }
    }
    Ok(())
}

fn create_response(info: &wire::StreamInfo) -> Vec<u8> {
    let mut info = info.clone();
    info.cluster = None;
    json(&wire::InfoResponse {
        kind: wire::STREAM_CREATE,
        paged: None,
        info: &info,
        did_create: true,
    })
}

fn create(
    js: &Arc<JetStream>,
    jsa: &JsAccount,
    name: &str,
    body: &[u8],
) -> Result<Vec<u8>, JsError> {
    let cfg = StreamConfig::for_create(body, name)?.checked(&stream_configs(jsa))?;
    if jsa.restoring.lock().contains(name) {
        return Err(JsError::StreamNameInUse);
    }
    if let Some(existing) = jsa.streams.read().get(name).cloned() {
        if *existing.config.read() == cfg {
            return Ok(create_response(&existing.info(None, false)));
        }
        return Err(JsError::StreamNameInUse);
    }
    check_placement(js, jsa, &cfg, None)?;
    let dir = (cfg.storage == Storage::File).then(|| jsa.dir.join(name));
    let stream = Stream::create(
        jsa.account.clone(),
        cfg,
        dir,
        js.crypto.clone(),
        jsa.usage.clone(),
    )?;
    stream.start(js.ingest_context());
    jsa.streams.write().insert(name.to_string(), stream.clone());
    // Mirrors and sources waiting for this stream to exist try again now.
    let others: Vec<Arc<Stream>> = jsa.streams.read().values().cloned().collect();
    for s in others {
        s.origin_created();
    }
    super::advisory::stream_action(js, &jsa.account, name, "create");
    Ok(create_response(&stream.info(None, false)))
}

fn update(
    js: &Arc<JetStream>,
    jsa: &JsAccount,
    name: &str,
    body: &[u8],
) -> Result<Vec<u8>, JsError> {
    let stream = find(jsa, name);
    // nats-server checks the new configuration before it looks the stream up.
    let new = StreamConfig::for_update(body, name)?.checked(&stream_configs(jsa))?;
    let stream = stream?;
    let old = stream.config.read().clone();
    let cfg = old.updated_to(new)?;
    check_placement(js, jsa, &cfg, Some(name))?;
    stream.save_config(&cfg)?;
    let resubscribe = cfg.subjects != old.subjects
        || cfg.allow_direct != old.allow_direct
        || cfg.mirror_direct != old.mirror_direct
        || cfg.mirror != old.mirror;
    let limits = super::ingest::limits_of(&cfg);
    let compress = cfg.compression == super::stream_config::Compression::S2;
    *stream.config.write() = cfg;
    stream.store.lock().set_compression(compress);
    if resubscribe {
        stream.subscribe();
    }
    stream.reconfigure_sourcing();
    // Lowered limits apply now, not at the next publish.
    {
        let mut store = stream.store.lock();
        let now = wire::now_nanos();
        let mut removed = strom_store::enforce(&mut **store, &limits, now, None)
            .map_err(|e| JsError::StoreFailed(e.to_string()))?;
        if limits.max_msgs_per_subject.is_some() {
            for (subject, _) in store.subjects() {
                removed += strom_store::enforce(&mut **store, &limits, now, Some(&subject))
                    .map_err(|e| JsError::StoreFailed(e.to_string()))?;
            }
        }
        if removed > 0 {
            let job = store
                .begin_sync()
                .map_err(|e| JsError::StoreFailed(e.to_string()))?;
            drop(store);
            // The fsync runs without the store lock, as the writer's do.
            job.run().map_err(|e| JsError::StoreFailed(e.to_string()))?;
        }
    }
    stream.refresh_usage();
    super::advisory::stream_action(js, &jsa.account, name, "modify");
    let mut info = stream.info(None, false);
    info.cluster = None;
    Ok(json(&wire::InfoResponse {
        kind: wire::STREAM_UPDATE,
        paged: None,
        info: &info,
        did_create: false,
    }))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct InfoRequest {
    #[serde(default, deserialize_with = "null_as_default")]
    offset: usize,
    #[serde(default, deserialize_with = "null_as_default")]
    deleted_details: bool,
    #[serde(default, deserialize_with = "null_as_default")]
    subjects_filter: String,
}

fn stream_info(
    js: &JetStream,
    jsa: &JsAccount,
    name: &str,
    body: &[u8],
) -> Result<Vec<u8>, JsError> {
    let req: InfoRequest = parse(body)?;
    let stream = find(jsa, name)?;
    let filter = (!req.subjects_filter.is_empty()).then_some(req.subjects_filter.as_str());
    let mut info = stream.info(filter, req.deleted_details);
    info.domain = js.domain.clone();
    info.cluster = Some(wire::ClusterJson {
        leader: js
            .server
            .upgrade()
            .map(|s| s.server_name.clone())
            .unwrap_or_default(),
    });
    let mut paged = Paged {
        total: 0,
        offset: 0,
        limit: 0,
    };
    if let Some(subjects) = info.state.subjects.take() {
        paged.total = subjects.len();
        paged.offset = req.offset.min(subjects.len());
        paged.limit = SUBJECTS_LIMIT;
        let page: std::collections::BTreeMap<String, u64> = subjects
            .into_iter()
            .skip(paged.offset)
            .take(SUBJECTS_LIMIT)
            .collect();
        info.state.subjects = (!page.is_empty()).then_some(page);
    }
    Ok(json(&wire::InfoResponse {
        kind: wire::STREAM_INFO,
        paged: Some(paged),
        info: &info,
        did_create: false,
    }))
}

fn delete(js: &Arc<JetStream>, jsa: &JsAccount, name: &str) -> Result<Vec<u8>, JsError> {
    let stream = jsa
        .streams
        .write()
        .remove(name)
        .ok_or(JsError::StreamNotFound)?;
    stream.delete()?;
    let others: Vec<Arc<Stream>> = jsa.streams.read().values().cloned().collect();
    for s in others {
        s.origin_deleted(name);
    }
    super::advisory::stream_action(js, &jsa.account, name, "delete");
    Ok(json(&wire::SuccessResponse {
        kind: wire::STREAM_DELETE,
        success: true,
    }))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct PurgeRequest {
    #[serde(default, deserialize_with = "null_as_default")]
    seq: u64,
    #[serde(default, deserialize_with = "null_as_default")]
    filter: String,
    #[serde(default, deserialize_with = "null_as_default")]
    keep: u64,
}

fn purge(jsa: &JsAccount, name: &str, body: &[u8]) -> Result<Vec<u8>, JsError> {
    let stream = find(jsa, name);
    let req: PurgeRequest = parse(body)?;
    let stream = stream?;
    // Sequences are bounded by what fits in Go's int64 on the wire; anything past that is
    // no purge a client can mean (and would wrap the stream's numbering).
    if (req.seq > 0 && req.keep > 0) || req.seq > i64::MAX as u64 {
        return Err(JsError::BadRequest);
    }
    if stream.config.read().sealed {
        return Err(JsError::Sealed);
    }
    if stream.config.read().deny_purge {
        return Err(JsError::PurgeFailed("stream purge not permitted".into()));
    }
    let failed = |e: strom_store::StoreError| JsError::PurgeFailed(e.to_string());
    let mut store = stream.store.lock();
    // The messages about to go say where the sources stand: that is saved first.
    stream.save_sources_state(store.state().last_seq + 1);
    let purged = if req.filter.is_empty() && req.keep == 0 && req.seq == 0 {
        store.purge().map_err(failed)?
    } else if req.filter.is_empty() && req.keep == 0 {
        store.compact(req.seq).map_err(failed)?
    } else {
        let filter = if req.filter.is_empty() {
            ">"
        } else {
            &req.filter
        };
        let mut seqs = Vec::new();
        store.scan(0, &mut |seq, subject| {
            if req.seq > 0 && seq >= req.seq {
                return false;
            }
            if strom_proto::subject::matches(filter.as_bytes(), subject) {
                seqs.push(seq);
            }
            true
        });
        if req.keep > 0 {
            let keep = (req.keep as usize).min(seqs.len());
            seqs.truncate(seqs.len() - keep);
        }
        for s in &seqs {
            store.delete(*s).map_err(failed)?;
        }
        seqs.len() as u64
    };
    let job = store.begin_sync().map_err(failed)?;
    let bytes = store.state().bytes;
    drop(store);
    job.run().map_err(failed)?;
    stream.account_bytes(bytes);
    stream.forget_removed(!req.filter.is_empty());
    Ok(json(&wire::PurgeResponse {
        kind: wire::STREAM_PURGE,
        success: true,
        purged,
    }))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct NamesRequest {
    #[serde(default, deserialize_with = "null_as_default")]
    offset: usize,
    #[serde(default, deserialize_with = "null_as_default")]
    subject: String,
}

/// The account's streams (by name order) whose subjects overlap `filter`, if given.
fn matching(jsa: &JsAccount, filter: &str) -> Vec<Arc<Stream>> {
    jsa.streams
        .read()
        .values()
        .filter(|s| {
            filter.is_empty()
                || s.config
                    .read()
                    .subjects
                    .iter()
                    .any(|x| strom_proto::subject::overlaps(x.as_bytes(), filter.as_bytes()))
        })
        .cloned()
        .collect()
}

fn names(jsa: &JsAccount, body: &[u8]) -> Result<Vec<u8>, JsError> {
    let req: NamesRequest = parse(body)?;
    let all = matching(jsa, &req.subject);
    let offset = req.offset.min(all.len());
    let page: Vec<String> = all
        .iter()
        .skip(offset)
        .take(NAMES_LIMIT)
        .map(|s| s.name.clone())
        .collect();
    #[derive(serde::Serialize)]
    struct Names {
        #[serde(rename = "type")]
        kind: &'static str,
        total: usize,
        offset: usize,
        limit: usize,
        streams: Option<Vec<String>>,
    }
    Ok(json(&Names {
        kind: wire::STREAM_NAMES,
        total: all.len(),
        offset,
        limit: NAMES_LIMIT,
        streams: (!page.is_empty()).then_some(page),
    }))
}

fn list(jsa: &JsAccount, body: &[u8]) -> Result<Vec<u8>, JsError> {
    let req: NamesRequest = parse(body)?;
    let all = matching(jsa, &req.subject);
    let offset = req.offset.min(all.len());
    let streams: Vec<wire::StreamInfo> = all
        .iter()
        .skip(offset)
        .take(LIST_LIMIT)
        .map(|s| {
            let mut i = s.info(None, false);
            i.cluster = None;
            // nats-server lists only the requested API level in metadata.
            i.config.metadata.retain(|k, _| k == "_nats.req.level");
            i
        })
        .collect();
    Ok(json(&wire::ListResponse {
        kind: wire::STREAM_LIST,
        paged: Paged {
            total: all.len(),
            offset,
            limit: LIST_LIMIT,
        },
        streams,
    }))
}

/// `STREAM.MSG.GET` and direct get requests.
#[derive(Deserialize, Default, Debug)]
pub struct GetRequest {
    #[serde(default, deserialize_with = "null_as_default")]
    pub seq: u64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub last_by_subj: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub next_by_subj: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub batch: usize,
    #[serde(default, deserialize_with = "null_as_default")]
    pub max_bytes: usize,
    #[serde(default, deserialize_with = "null_as_default")]
    pub multi_last: Vec<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub up_to_seq: u64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub no_hdr: bool,
}

/// The message a single get names: by sequence, last on a subject, or next on a subject
/// (wildcards allowed) at or after a sequence.
pub fn lookup(
    store: &dyn strom_store::Store,
    req: &GetRequest,
) -> Result<Option<strom_store::StoredMsg>, strom_store::StoreError> {
    if !req.last_by_subj.is_empty() {
        if strom_proto::subject::has_wildcard(req.last_by_subj.as_bytes()) {
            let mut found = None;
            store.scan_back(&mut |seq, subject| {
                if strom_proto::subject::matches(req.last_by_subj.as_bytes(), subject) {
                    found = Some(seq);
                    return false;
                }
                true
            });
            return found.map_or(Ok(None), |s| store.get(s));
        }
        return store.last_by_subject(req.last_by_subj.as_bytes());
    }
    if !req.next_by_subj.is_empty() {
        let mut found = None;
        store.scan(req.seq, &mut |seq, subject| {
            if strom_proto::subject::matches(req.next_by_subj.as_bytes(), subject) {
                found = Some(seq);
                return false;
            }
            true
        });
        return found.map_or(Ok(None), |s| store.get(s));
    }
    store.get(req.seq)
}

fn msg_get(jsa: &JsAccount, name: &str, body: &[u8]) -> Result<Vec<u8>, JsError> {
    let stream = find(jsa, name)?;
    if is_empty_request(body) {
        return Err(JsError::BadRequest);
    }
    let req: GetRequest = parse(body)?;
    let modes = (req.seq > 0 && req.next_by_subj.is_empty()) as u8
        + (!req.last_by_subj.is_empty()) as u8
        + (!req.next_by_subj.is_empty()) as u8;
    if modes != 1 {
        return Err(JsError::BadRequest);
    }
    let store = stream.store.lock();
    let msg = lookup(&**store, &req)
        .map_err(|_| JsError::NoMessageFound)?
        .ok_or(JsError::NoMessageFound)?;
    Ok(json(&wire::MsgGetResponse {
        kind: wire::MSG_GET,
        message: wire::StoredMsgJson::from(&msg),
    }))
}

#[derive(Deserialize, Default)]
struct DeleteRequest {
    #[serde(default, deserialize_with = "null_as_default")]
    seq: u64,
    #[serde(default, deserialize_with = "null_as_default")]
    no_erase: bool,
}

fn msg_delete(jsa: &JsAccount, name: &str, body: &[u8]) -> Result<Vec<u8>, JsError> {
    let stream = find(jsa, name)?;
    let req: DeleteRequest = parse(body)?;
    if req.seq == 0 {
        return Err(JsError::BadRequest);
    }
    {
        let cfg = stream.config.read();
        if cfg.sealed {
            return Err(JsError::Sealed);
        }
        if cfg.deny_delete {
            return Err(JsError::MsgDeleteFailed(
                "message delete not permitted".into(),
            ));
        }
    }
    let mut store = stream.store.lock();
    if req.seq > store.state().last_seq {
        return Err(JsError::MsgDeleteFailed("stream store EOF".into()));
    }
    let held = if req.no_erase {
        store.delete(req.seq)
    } else {
        store.erase(req.seq)
    }
    .map_err(|e| JsError::MsgDeleteFailed(e.to_string()))?;
    if !held {
        return Err(JsError::SequenceNotFound(req.seq));
    }
    let job = store
        .begin_sync()
        .map_err(|e| JsError::MsgDeleteFailed(e.to_string()))?;
    let bytes = store.state().bytes;
    drop(store);
    job.run()
        .map_err(|e| JsError::MsgDeleteFailed(e.to_string()))?;
    stream.account_bytes(bytes);
    Ok(json(&wire::SuccessResponse {
        kind: wire::MSG_DELETE,
        success: true,
    }))
}
