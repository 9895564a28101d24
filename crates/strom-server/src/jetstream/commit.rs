//! A stream's commit thread: the second stage of its writer's pipeline. The writer appends a
//! batch and hands over the fsync that covers it ([`strom_store::SyncJob`]) with the batch's
//! PubAcks and republished copies, then goes on appending the next batch; this thread runs
//! the fsyncs in order and only then sends each batch's acknowledgements. The disk and the
//! appends overlap, and group commit stays whole.
//!
//! **Invariant:** a batch's PubAcks and republished copies leave only after its own fsync
//! (and every earlier one) returned. After a failed fsync the stream is broken: nothing
//! appended since is acknowledged, every later batch's acks are errors.

use std::sync::mpsc::{Receiver, SyncSender};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;

use super::errors::JsError;
use super::ingest::Context;
use super::stream::Stream;

/// Batches waiting for their fsync at most; the writer waits beyond that.
pub const DEPTH: usize = 4;

/// A PubAck to send: the reply subject and what the message's check or store said.
pub struct Reply {
    pub to: Bytes,
    pub body: Result<(u64, bool), JsError>,
    /// When the stream captured the message, for the publish latency.
    pub captured: Option<std::time::Instant>,
}

/// One batch on its way to the disk.
pub struct Batch {
    /// The fsync covering the batch (none when nothing needs syncing now), and the stream's
    /// last sequence it covers.
    pub job: Option<(Result<strom_store::SyncJob, strom_store::StoreError>, u64)>,
    pub replies: Vec<Reply>,
    /// Republished copies: subject, headers, payload.
    pub outgoing: Vec<(Vec<u8>, Vec<u8>, Bytes)>,
}

/// The writer's end of the pipeline.
pub struct Committer {
    tx: Option<SyncSender<Batch>>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// Set once an fsync failed; the writer refuses new messages after it.
    pub broken: Arc<Mutex<Option<String>>>,
}

impl Committer {
    pub fn start(stream: Arc<Stream>, ctx: Context) -> Committer {
        let (tx, rx) = std::sync::mpsc::sync_channel(DEPTH);
        // The stream's own record: health checks read it.
        let broken = stream.write_error.clone();
        let b = broken.clone();
        let name = stream.name.clone();
        let thread = std::thread::Builder::new()
            .name(format!("strom-commit-{name}"))
            .spawn(move || run(stream, ctx, rx, b))
            .map_err(|e| crate::error!("Could not start the commits of stream {name}: {e}"))
            .ok();
        Committer {
            tx: Some(tx),
            thread,
            broken,
        }
    }

    /// Queues a batch (waiting while [`DEPTH`] are queued). Without a commit thread the
    /// batch is committed right here.
    pub fn send(&self, stream: &Arc<Stream>, ctx: &Context, batch: Batch) {
        let batch = match &self.tx {
            Some(tx) if self.thread.is_some() => match tx.send(batch) {
                Ok(()) => return,
                Err(e) => e.0,
            },
            _ => batch,
        };
        commit(stream, ctx, &self.broken, batch);
    }

    /// Waits until every queued batch is committed, and ends the thread.
    pub fn finish(&mut self) {
        self.tx.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Committer {
    fn drop(&mut self) {
        self.finish();
    }
}

fn run(stream: Arc<Stream>, ctx: Context, rx: Receiver<Batch>, broken: Arc<Mutex<Option<String>>>) {
    while let Ok(mut batch) = rx.recv() {
        // Batches that queued up during the last fsync share the next one: group commit
        // across batches.
        while let Ok(later) = rx.try_recv() {
            batch = merge(batch, later);
        }
        commit(&stream, &ctx, &broken, batch);
    }
}

/// One batch of two, in order: one fsync covering both.
fn merge(mut first: Batch, later: Batch) -> Batch {
    first.job = match (first.job, later.job) {
        (Some((Ok(mut a), _)), Some((Ok(b), last))) => {
            a.absorb(b);
            Some((Ok(a), last))
        }
        (Some((Err(e), last)), _) | (_, Some((Err(e), last))) => Some((Err(e), last)),
        (a, None) => a,
        (None, b) => b,
    };
    first.replies.extend(later.replies);
    first.outgoing.extend(later.outgoing);
    first
}

/// Runs a batch's fsync, then sends its acknowledgements and republished copies.
fn commit(stream: &Arc<Stream>, ctx: &Context, broken: &Mutex<Option<String>>, batch: Batch) {
    let mut failed = broken.lock().clone();
    if let (None, Some((job, last))) = (&failed, batch.job) {
        match job.and_then(strom_store::SyncJob::run) {
            Ok(()) => stream.stored(last),
            Err(e) => {
                crate::error!(
                    "JetStream stream '{}' sync failed: {e}; it takes no more messages \
                     until the server restarts",
                    stream.name
                );
                *broken.lock() = Some(e.to_string());
                failed = Some(e.to_string());
            }
        }
    }
    if batch.replies.is_empty() && batch.outgoing.is_empty() {
        return;
    }
    let Some(server) = ctx.server.upgrade() else {
        return;
    };
    let mut out = crate::client::ServerBatch::new(&server);
    if failed.is_none() {
        for (subject, hdr, payload) in &batch.outgoing {
            out.publish(&stream.account, subject, None, Some(hdr), payload);
        }
    }
    let mut captured = Vec::with_capacity(batch.replies.len());
    for r in batch.replies {
        captured.extend(r.captured);
        let body = match (&failed, r.body) {
            (Some(e), Ok(_)) => ack_json(stream, ctx, Err(JsError::StoreFailed(e.clone()))),
            (_, b) => ack_json(stream, ctx, b),
        };
        out.publish(&stream.account, &r.to, None, None, &body);
    }
    // Counted before the PubAcks go, so a publisher that has its ack sees it counted.
    stream
        .publish_latency
        .observe(captured.into_iter(), std::time::Instant::now());
    out.flush();
}

/// A PubAck's JSON, as nats-server writes it.
pub fn ack_json(stream: &Stream, ctx: &Context, r: Result<(u64, bool), JsError>) -> Vec<u8> {
    let name = &stream.name;
    let mut out = Vec::with_capacity(64);
    match r {
        Ok((seq, dup)) => {
            out.extend_from_slice(b"{\"stream\":");
            out.extend_from_slice(&serde_json::to_vec(name).unwrap_or_default());
            if let Some(d) = &ctx.domain {
                out.extend_from_slice(b",\"domain\":");
                out.extend_from_slice(&serde_json::to_vec(d).unwrap_or_default());
            }
            out.extend_from_slice(format!(",\"seq\":{seq}").as_bytes());
            if dup {
                out.extend_from_slice(b",\"duplicate\": true");
            }
            out.push(b'}');
        }
        Err(e) => {
            out.extend_from_slice(b"{\"error\":");
            out.extend_from_slice(&serde_json::to_vec(&e.api()).unwrap_or_default());
            out.extend_from_slice(b",\"stream\":");
            out.extend_from_slice(&serde_json::to_vec(name).unwrap_or_default());
            out.extend_from_slice(b",\"seq\":0}");
        }
    }
    out
}
