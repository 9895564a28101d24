//! `STREAM.SNAPSHOT` and `STREAM.RESTORE`, with nats-server's flow: a snapshot is streamed as
//! chunks to the requester's deliver subject, each with a reply subject
//! (`$JS.SNAPSHOT.ACK.<stream>.<id>.<len>.<index>`) the client acknowledges, a window of
//! chunks in flight, and a final empty message with a `204` status; a restore answers with a
//! deliver subject (`$JS.SNAPSHOT.RESTORE.<stream>.<id>`), acknowledges every chunk sent
//! there, and answers the final empty chunk with the restored stream's info.
//!
//! The archive is Strom's own: `STRMSNP1`, the stream configuration (length-prefixed JSON),
//! then every message as a plain record (`strom_store::record`), then a delete marker for the
//! last sequence so that numbering continues after a restore. Every record is checksummed.

use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Weak};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use serde::Deserialize;
use strom_store::record::{self, Decoded, Kind};

use super::errors::JsError;
use super::stream::Stream;
use super::stream_config::{null_as_default, Storage, StreamConfig};
use super::{wire, JetStream, JsAccount};
use crate::account::Account;
use crate::server::Shared;
use crate::subscription::{Internal, Subscription};

const MAGIC: &[u8] = b"STRMSNP1";
const DEFAULT_CHUNK: usize = 128 * 1024;
const DEFAULT_WINDOW: usize = 8 * 1024 * 1024;
/// How long a snapshot waits for an acknowledgement, and a restore for the next chunk.
const IDLE: Duration = Duration::from_secs(5);

pub const SNAPSHOT: &str = "io.nats.jetstream.api.v1.stream_snapshot_response";
pub const RESTORE: &str = "io.nats.jetstream.api.v1.stream_restore_response";

#[derive(Deserialize, Default)]
struct SnapshotRequest {
    #[serde(default, deserialize_with = "null_as_default")]
    deliver_subject: String,
    #[serde(default, deserialize_with = "null_as_default")]
    #[allow(dead_code)]
    no_consumers: bool,
    #[serde(default, deserialize_with = "null_as_default")]
    chunk_size: usize,
    #[serde(default, deserialize_with = "null_as_default")]
    window_size: usize,
    #[serde(default, deserialize_with = "null_as_default")]
    #[allow(dead_code)]
    jsck: bool,
}

/// Forwards what an internal subscription receives into a channel.
struct Forward {
    tx: Sender<(Option<Bytes>, Bytes)>,
}

impl Internal for Forward {
    fn deliver(
        &self,
        _from: u64,
        _subject: &[u8],
        reply: Option<&[u8]>,
        _headers: Option<&[u8]>,
        payload: &[u8],
    ) -> bool {
        self.tx
            .send((
                reply.map(Bytes::copy_from_slice),
                Bytes::copy_from_slice(payload),
            ))
            .is_ok()
    }
}

fn subscribe(
    account: &Arc<Account>,
    subject: String,
) -> (Arc<Subscription>, Receiver<(Option<Bytes>, Bytes)>) {
    let (tx, rx) = mpsc::channel();
    let sub = Arc::new(Subscription::internal(
        account.clone(),
        Bytes::from(subject.into_bytes()),
        Arc::new(Forward { tx }),
    ));
    account.sublist.insert(sub.clone());
    (sub, rx)
}

fn unsubscribe(sub: &Arc<Subscription>) {
    sub.close();
    sub.account.sublist.remove(sub);
}

/// A NUID-like token for subjects.
fn token() -> String {
    crate::system::event_id()
}

fn publish(
    server: &Weak<Shared>,
    account: &Account,
    subject: &[u8],
    reply: Option<&[u8]>,
    headers: Option<&[u8]>,
    payload: &[u8],
) {
    if let Some(s) = server.upgrade() {
        crate::client::publish_from_server(&s, account, subject, reply, headers, payload);
    }
}

/// Answers a snapshot request (the response body), and starts streaming the archive.
pub fn snapshot(
    js: &Arc<JetStream>,
    jsa: &JsAccount,
    name: &str,
    body: &[u8],
) -> Result<Vec<u8>, JsError> {
    if super::api::is_empty_request(body) {
        return Err(JsError::BadRequest);
    }
    let stream = jsa
        .streams
        .read()
        .get(name)
        .cloned()
        .ok_or(JsError::StreamNotFound)?;
    let req: SnapshotRequest =
        serde_json::from_slice(body).map_err(|e| JsError::InvalidJson(e.to_string()))?;
    if !strom_proto::subject::is_valid_literal_subject(req.deliver_subject.as_bytes()) {
        return Err(JsError::SnapshotDeliverSubjectInvalid);
    }
    let chunk = if req.chunk_size == 0 {
        DEFAULT_CHUNK
    } else {
        req.chunk_size
    }
    .clamp(1024, 1024 * 1024);
    let window = if req.window_size == 0 {
        DEFAULT_WINDOW
    } else {
        req.window_size
    }
    .clamp(1024, 32 * 1024 * 1024)
    .max(chunk);
    let archive = archive(&stream).map_err(|e| JsError::SnapshotFailed(e.to_string()))?;
    let info = stream.info(None, false);
    #[derive(serde::Serialize)]
    struct Response<'a> {
        #[serde(rename = "type")]
        kind: &'static str,
        config: &'a StreamConfig,
        state: &'a wire::StateJson,
    }
    let response = serde_json::to_vec(&Response {
        kind: SNAPSHOT,
        config: &info.config,
        state: &info.state,
    })
    .unwrap_or_default();
    let server = js.server.clone();
    let account = jsa.account.clone();
    let name = name.to_string();
    let deliver = req.deliver_subject;
    // The response goes out first: the chunks wait until the API worker has published it.
    let answered = super::api::after_answer();
    let spawned = std::thread::Builder::new()
        .name(format!("strom-snapshot-{name}"))
        .spawn(move || {
            if answered.recv().is_err() {
                return;
            }
            let started = std::time::Instant::now();
            match send_chunks(
                &server,
                &account,
                &name,
                &deliver,
                &archive,
                chunk,
                window / chunk,
            ) {
                Ok(()) => crate::info!(
                    "Completed snapshot of {} bytes for stream '{} > {}' in {:?}",
                    archive.len(),
                    account.name,
                    name,
                    started.elapsed()
                ),
                Err(e) => crate::warn!(
                    "Snapshot for stream '{} > {}' failed: {e}",
                    account.name,
                    name
                ),
            }
        });
    spawned.map_err(|e| JsError::SnapshotFailed(e.to_string()))?;
    Ok(response)
}

/// The archive of a stream as it is now.
fn archive(stream: &Stream) -> Result<Vec<u8>, strom_store::StoreError> {
    let cfg = serde_json::to_vec(&*stream.config.read()).unwrap_or_default();
    let mut out = Vec::with_capacity(64 + cfg.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(cfg.len() as u32).to_le_bytes());
    out.extend_from_slice(&cfg);
    let store = stream.store.lock();
    let mut seqs = Vec::new();
    store.scan(0, &mut |seq, _| {
        seqs.push(seq);
        true
    });
    for seq in seqs {
        if let Some(m) = store.get(seq)? {
            record::encode(
                &mut out,
                Kind::Message,
                m.seq,
                m.ts,
                &m.subject,
                &m.headers,
                &m.payload,
            );
        }
    }
    let last = store.state().last_seq;
    record::encode(&mut out, Kind::Delete, last, 0, &[], &[], &[]);
    Ok(out)
}

fn send_chunks(
    server: &Weak<Shared>,
    account: &Arc<Account>,
    name: &str,
    deliver: &str,
    archive: &[u8],
    chunk: usize,
    window: usize,
) -> Result<(), String> {
    let ack = format!("$JS.SNAPSHOT.ACK.{name}.{}", token());
    let (sub, acks) = subscribe(account, format!("{ack}.>"));
    let mut inflight = 0usize;
    let mut result = Ok(());
    for (i, piece) in archive.chunks(chunk).enumerate() {
        while inflight >= window.max(1) {
            match acks.recv_timeout(IDLE) {
                Ok(_) => inflight -= 1,
                Err(_) => {
                    result = Err("no flow response".to_string());
                    break;
                }
            }
        }
        if result.is_err() {
            break;
        }
        let reply = format!("{ack}.{}.{}", piece.len(), i + 1);
        publish(
            server,
            account,
            deliver.as_bytes(),
            Some(reply.as_bytes()),
            None,
            piece,
        );
        inflight += 1;
    }
    let end: &[u8] = if result.is_ok() {
        b"NATS/1.0 204\r\n\r\n"
    } else {
        b"NATS/1.0 408 No Flow Response\r\n\r\n"
    };
    publish(server, account, deliver.as_bytes(), None, Some(end), &[]);
    unsubscribe(&sub);
    result
}

#[derive(Deserialize)]
struct RestoreRequest {
    config: serde_json::Value,
}

/// Answers a restore request with the subject to send the archive to, and waits for it on a
/// thread of its own.
pub fn restore(
    js: &Arc<JetStream>,
    jsa: &Arc<JsAccount>,
    name: &str,
    body: &[u8],
) -> Result<Vec<u8>, JsError> {
    if super::api::is_empty_request(body) {
        return Err(JsError::BadRequest);
    }
    let req: RestoreRequest =
        serde_json::from_slice(body).map_err(|e| JsError::InvalidJson(e.to_string()))?;
    let mut config = req.config;
    if config
        .get("name")
        .and_then(|n| n.as_str())
        .unwrap_or("")
        .is_empty()
    {
        config["name"] = serde_json::Value::from(name);
    }
    let cfg = StreamConfig::for_restore(config.to_string().as_bytes(), name)?
        .checked(&super::api::stream_configs(jsa))?;
    if jsa.streams.read().contains_key(name) {
        return Err(JsError::StreamNameExistRestore);
    }
    super::api::check_placement(js, jsa, &cfg, None)?;
    // The name is taken from now until the restore ends, so that a create or another restore
    // of it cannot open the same files meanwhile.
    if !jsa.restoring.lock().insert(name.to_string()) {
        return Err(JsError::StreamNameExistRestore);
    }
    let subject = format!("$JS.SNAPSHOT.RESTORE.{name}.{}", token());
    let (sub, chunks) = subscribe(&jsa.account, subject.clone());
    let js2 = js.clone();
    let jsa2 = jsa.clone();
    let name2 = name.to_string();
    std::thread::Builder::new()
        .name(format!("strom-restore-{name}"))
        .spawn(move || {
            receive(&js2, &jsa2, &name2, cfg, &chunks);
            unsubscribe(&sub);
            jsa2.restoring.lock().remove(&name2);
        })
        .map_err(|e| {
            jsa.restoring.lock().remove(name);
            JsError::RestoreFailed(e.to_string())
        })?;
    #[derive(serde::Serialize)]
    struct Response {
        #[serde(rename = "type")]
        kind: &'static str,
        deliver_subject: String,
    }
    Ok(serde_json::to_vec(&Response {
        kind: RESTORE,
        deliver_subject: subject,
    })
    .unwrap_or_default())
}

/// Takes the archive's chunks, acknowledging each, and builds the stream; answers the final
/// empty chunk with the stream's info or the error.
fn receive(
    js: &Arc<JetStream>,
    jsa: &Arc<JsAccount>,
    name: &str,
    cfg: StreamConfig,
    chunks: &Receiver<(Option<Bytes>, Bytes)>,
) {
    let account = jsa.account.clone();
    let mut buf = BytesMut::new();
    let last_reply = loop {
        match chunks.recv_timeout(IDLE) {
            Ok((reply, data)) if data.is_empty() => break reply,
            Ok((reply, data)) => {
                buf.extend_from_slice(&data);
                if let Some(r) = reply {
                    publish(&js.server, &account, &r, None, None, &[]);
                }
            }
            Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => {
                crate::warn!(
                    "Restore of stream '{} > {name}' stopped: no data",
                    account.name
                );
                return;
            }
        }
    };
    let result = build(js, jsa, name, cfg, buf.freeze());
    let body = match &result {
        Ok(stream) => {
            let mut info = stream.info(None, false);
            info.cluster = None;
            serde_json::to_vec(&wire::InfoResponse {
                kind: wire::STREAM_CREATE,
                paged: None,
                info: &info,
                did_create: false,
            })
            .unwrap_or_default()
        }
        Err(e) => wire::error_json(wire::STREAM_CREATE, e),
    };
    if let Some(r) = last_reply {
        publish(&js.server, &account, &r, None, None, &body);
    }
}

/// Creates the stream from an archive.
fn build(
    js: &Arc<JetStream>,
    jsa: &Arc<JsAccount>,
    name: &str,
    mut cfg: StreamConfig,
    data: Bytes,
) -> Result<Arc<Stream>, JsError> {
    let bad = |why: &str| JsError::RestoreFailed(why.to_string());
    let rest = data
        .strip_prefix(MAGIC)
        .ok_or_else(|| bad("not a Strom stream snapshot"))?;
    let len = rest
        .get(..4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
        .ok_or_else(|| bad("snapshot cut short"))?;
    let at = MAGIC.len() + 4 + len;
    if data.len() < at {
        return Err(bad("snapshot cut short"));
    }
    // The request's configuration wins; the archive's is a check that it is the same stream.
    let archived: StreamConfig = serde_json::from_slice(&data[MAGIC.len() + 4..at])
        .map_err(|_| bad("snapshot configuration unreadable"))?;
    if archived.storage != cfg.storage {
        cfg.storage = archived.storage;
    }
    if jsa.streams.read().contains_key(name) {
        return Err(JsError::StreamNameExistRestore);
    }
    let dir = (cfg.storage == Storage::File).then(|| jsa.dir.join(name));
    let first_seq = cfg.first_seq;
    cfg.first_seq = 0;
    let stream = Stream::create(
        jsa.account.clone(),
        cfg,
        dir,
        js.crypto.clone(),
        jsa.usage.clone(),
    )?;
    if let Err(e) = fill(&stream, data.slice(at..), first_seq) {
        // Nothing of a failed restore stays on disk to come back at the next start.
        let _ = stream.delete();
        return Err(e);
    }
    stream.refresh_usage();
    stream.start(js.ingest_context());
    jsa.streams.write().insert(name.to_string(), stream.clone());
    Ok(stream)
}

/// Appends an archive's records to a new stream.
fn fill(stream: &Arc<Stream>, data: Bytes, first_seq: i64) -> Result<(), JsError> {
    let bad = |why: &str| JsError::RestoreFailed(why.to_string());
    let mut records = data;
    {
        let mut store = stream.store.lock();
        let failed = |e: strom_store::StoreError| JsError::RestoreFailed(e.to_string());
        while !records.is_empty() {
            match record::decode(&records) {
                Decoded::Record(r, n) => {
                    match r.kind {
                        Kind::Message => {
                            if r.seq > i64::MAX as u64 {
                                return Err(bad("snapshot sequence out of range"));
                            }
                            // Deleted messages leave gaps: the restored ones keep their
                            // sequences.
                            store.skip_to(r.seq).map_err(failed)?;
                            store
                                .append(&r.subject, &r.headers, &r.payload, r.ts)
                                .map_err(failed)?;
                        }
                        // The last sequence of the stream, so that numbering continues.
                        Kind::Delete => {
                            let next = r
                                .seq
                                .checked_add(1)
                                .filter(|n| *n <= i64::MAX as u64)
                                .ok_or_else(|| bad("snapshot sequence out of range"))?;
                            store.skip_to(next).map_err(failed)?
                        }
                        // Archives hold plain messages only.
                        Kind::Compressed | Kind::Purge | Kind::LastSeq => {
                            return Err(bad("snapshot holds an unexpected record"));
                        }
                    }
                    records = records.slice(n..);
                }
                _ => return Err(bad("snapshot damaged")),
            }
        }
        store.sync().map_err(failed)?;
    }
    if first_seq != 0 {
        let cfg = {
            let mut c = stream.config.write();
            c.first_seq = first_seq;
            c.clone()
        };
        stream.save_config(&cfg)?;
    }
    Ok(())
}
