//! Direct get (`$JS.API.DIRECT.GET.<stream>` and `…DIRECT.GET.<stream>.<subject>`), answered
//! inline by the stream's own subscription, as nats-server does: the message comes back as
//! itself, with `Nats-Stream`, `Nats-Subject`, `Nats-Sequence` and `Nats-Time-Stamp` headers,
//! and problems are status replies (`404 Message Not Found`, `408 Bad Request`, ...).

use std::sync::{Arc, Weak};

use bytes::Bytes;
use strom_proto::headers::Builder;
use strom_store::{Store, StoredMsg};

use super::{api_path, lookup, GetRequest};
use crate::jetstream::stream::Stream;
use crate::jetstream::wire::time_json;
use crate::server::Shared;

/// Most messages one multi-last request may return.
const MAX_MULTI: usize = 1024;

/// The direct-get subscription's receiver.
pub struct Direct {
    pub stream: Weak<Stream>,
    pub server: Weak<Shared>,
    /// The stream name the requests carry: the stream's own, or its origin's when a mirror
    /// answers for it (`mirror_direct`).
    pub name: String,
}

/// One reply message: headers and payload.
type Reply = (Vec<u8>, Bytes);

fn status(code: u16, text: &str) -> Reply {
    (Builder::with_status(code, text).finish(), Bytes::new())
}

impl crate::subscription::Internal for Direct {
    fn deliver(
        &self,
        _from: u64,
        subject: &[u8],
        reply: Option<&[u8]>,
        _headers: Option<&[u8]>,
        payload: &[u8],
    ) -> bool {
        let (Some(stream), Some(server)) = (self.stream.upgrade(), self.server.upgrade()) else {
            return false;
        };
        let Some(reply) = reply else {
            return true;
        };
        for (h, p) in answer(
            &stream,
            &self.name,
            subject,
            payload,
            server.opts.max_pending,
        ) {
            // An empty header block goes out as a plain MSG, as nats-server sends it.
            let headers = (!h.is_empty()).then_some(&h[..]);
            crate::client::publish_from_server(&server, &stream.account, reply, None, headers, &p);
        }
        true
    }
}

/// The replies to one direct get request.
fn answer(
    stream: &Stream,
    name: &str,
    subject: &[u8],
    payload: &[u8],
    max_pending: usize,
) -> Vec<Reply> {
    // DIRECT.GET.<stream>[.<subject>]
    let path = api_path(subject).unwrap_or_default();
    let prefix = b"DIRECT.GET.".len() + name.len();
    let key = path.get(prefix + 1..).filter(|k| !k.is_empty());
    let empty = payload.iter().all(u8::is_ascii_whitespace);
    let req: GetRequest = match (key, empty) {
        (Some(_), true) => GetRequest::default(),
        (None, true) => return vec![status(408, "Empty Request")],
        _ => match serde_json::from_slice(payload) {
            Ok(r) => r,
            Err(_) => return vec![status(408, "Malformed Request")],
        },
    };
    let mut req = req;
    if let Some(k) = key {
        if !req.last_by_subj.is_empty()
            || !req.next_by_subj.is_empty()
            || !req.multi_last.is_empty()
            || req.seq != 0
            || req.batch != 0
        {
            return vec![status(408, "Bad Request")];
        }
        req.last_by_subj = String::from_utf8_lossy(k).into_owned();
    }
    if req.seq == 0
        && req.last_by_subj.is_empty()
        && req.next_by_subj.is_empty()
        && req.multi_last.is_empty()
    {
        return vec![status(408, "Empty Request")];
    }
    if (req.seq > 0 && !req.last_by_subj.is_empty())
        || (!req.last_by_subj.is_empty() && !req.next_by_subj.is_empty())
        || (!req.last_by_subj.is_empty() && req.batch > 0)
        || (!req.last_by_subj.is_empty() && !req.multi_last.is_empty())
        || (!req.next_by_subj.is_empty() && !req.multi_last.is_empty())
    {
        return vec![status(408, "Bad Request")];
    }
    let max_bytes = if req.max_bytes > 0 {
        req.max_bytes
    } else {
        max_pending
    };
    let store = stream.store.lock();
    if !req.multi_last.is_empty() {
        return multi_last(stream, &**store, &req, max_bytes);
    }
    if req.batch > 0 {
        return batch(stream, &**store, &req, max_bytes);
    }
    match lookup(&**store, &req) {
        Ok(Some(m)) => vec![message(stream, &m, None, req.no_hdr)],
        _ => vec![status(404, "Message Not Found")],
    }
}

/// A stored message as a direct get returns it; `pending` adds the batch headers
/// (`Nats-Num-Pending`, `Nats-Last-Sequence`).
fn message(stream: &Stream, m: &StoredMsg, pending: Option<(u64, u64)>, no_hdr: bool) -> Reply {
    if no_hdr {
        return (Vec::new(), m.payload.clone());
    }
    let mut b = Builder::extend(&m.headers)
        .add("Nats-Stream", stream.name.as_bytes())
        .add("Nats-Subject", &m.subject)
        .add("Nats-Sequence", m.seq.to_string().as_bytes())
        .add("Nats-Time-Stamp", time_json(m.ts).as_bytes());
    if let Some((np, last)) = pending {
        b = b
            .add("Nats-Num-Pending", np.to_string().as_bytes())
            .add("Nats-Last-Sequence", last.to_string().as_bytes());
    }
    (b.finish(), m.payload.clone())
}

fn batch(stream: &Stream, store: &dyn Store, req: &GetRequest, max_bytes: usize) -> Vec<Reply> {
    let filter = if req.next_by_subj.is_empty() {
        ">"
    } else {
        req.next_by_subj.as_str()
    };
    let mut seqs = Vec::new();
    store.scan(req.seq, &mut |seq, subject| {
        if strom_proto::subject::matches(filter.as_bytes(), subject) {
            seqs.push(seq);
        }
        true
    });
    if seqs.is_empty() {
        return vec![status(404, "Message Not Found")];
    }
    let mut out = Vec::new();
    let mut last = 0u64;
    let mut sent_bytes = 0usize;
    let mut sent = 0usize;
    for (i, seq) in seqs.iter().enumerate() {
        if sent >= req.batch {
            break;
        }
        let Ok(Some(m)) = store.get(*seq) else {
            continue;
        };
        let np = (seqs.len() - i - 1) as u64;
        out.push(message(stream, &m, Some((np, last)), req.no_hdr));
        last = m.seq;
        sent += 1;
        sent_bytes += m.subject.len() + m.headers.len() + m.payload.len();
        if sent_bytes >= max_bytes {
            break;
        }
    }
    let np = (seqs.len() - sent) as u64;
    let eob = Builder::with_status(204, "EOB")
        .add("Nats-Num-Pending", np.to_string().as_bytes())
        .add("Nats-Last-Sequence", last.to_string().as_bytes())
        .finish();
    out.push((eob, Bytes::new()));
    out
}

fn multi_last(
    stream: &Stream,
    store: &dyn Store,
    req: &GetRequest,
    max_bytes: usize,
) -> Vec<Reply> {
    let up_to = if req.up_to_seq > 0 {
        req.up_to_seq
    } else {
        store.state().last_seq
    };
    // The last message of each subject matching any filter, at or below `up_to`.
    let mut last: std::collections::HashMap<Bytes, u64> = std::collections::HashMap::new();
    store.scan(req.seq, &mut |seq, subject| {
        if seq > up_to {
            return false;
        }
        if req
            .multi_last
            .iter()
            .any(|f| strom_proto::subject::matches(f.as_bytes(), subject))
        {
            last.insert(Bytes::copy_from_slice(subject), seq);
        }
        true
    });
    if last.is_empty() {
        return vec![status(404, "No Results")];
    }
    if last.len() > MAX_MULTI {
        return vec![status(413, "Too Many Results")];
    }
    let mut seqs: Vec<u64> = last.into_values().collect();
    seqs.sort_unstable();
    let mut out = Vec::new();
    let mut prev = 0u64;
    let mut sent_bytes = 0usize;
    for (i, seq) in seqs.iter().enumerate() {
        if req.batch > 0 && i >= req.batch {
            break;
        }
        let Ok(Some(m)) = store.get(*seq) else {
            return vec![status(404, "Message Not Found")];
        };
        let np = (seqs.len() - i - 1) as u64;
        out.push(message(stream, &m, Some((np, prev)), req.no_hdr));
        prev = m.seq;
        sent_bytes += m.subject.len() + m.headers.len() + m.payload.len();
        if sent_bytes >= max_bytes {
            break;
        }
    }
    let np = (seqs.len() - out.len()) as u64;
    let eob = Builder::with_status(204, "EOB")
        .add("Nats-Num-Pending", np.to_string().as_bytes())
        .add("Nats-Last-Sequence", prev.to_string().as_bytes())
        .add("Nats-UpTo-Sequence", up_to.to_string().as_bytes())
        .finish();
    out.push((eob, Bytes::new()));
    out
}

/// The direct-get subjects of a stream.
pub fn subjects(name: &str, domain: Option<&str>) -> Vec<String> {
    let mut v = vec![
        format!("$JS.API.DIRECT.GET.{name}"),
        format!("$JS.API.DIRECT.GET.{name}.>"),
    ];
    if let Some(d) = domain {
        v.push(format!("$JS.{d}.API.DIRECT.GET.{name}"));
        v.push(format!("$JS.{d}.API.DIRECT.GET.{name}.>"));
    }
    v
}

/// A new receiver for `stream`'s direct gets.
pub fn sink(stream: &Arc<Stream>, server: Weak<Shared>) -> Arc<dyn crate::subscription::Internal> {
    sink_for(stream, server, &stream.name)
}

/// A receiver answering, from `stream`, the direct gets addressed to the stream `name`.
pub fn sink_for(
    stream: &Arc<Stream>,
    server: Weak<Shared>,
    name: &str,
) -> Arc<dyn crate::subscription::Internal> {
    Arc::new(Direct {
        stream: Arc::downgrade(stream),
        server,
        name: name.to_string(),
    })
}

/// The queue group every direct-get subscription joins, so that an origin and the mirrors
/// answering for it (`mirror_direct`) share the requests (nats-server's `_sys_`).
pub const QUEUE: &str = "_sys_";
