//! One mirror or source of a stream: where it stands in its origin (nats-server's
//! `sourceInfo`), and the receiver of its origin consumer's deliveries.
//!
//! Deliveries arrive on the publishing thread of the origin's consumers. Each is checked
//! against the link's position (a gap the origin's consumer did not count means lost
//! deliveries: the link asks its worker to start again), its headers edited, and handed to
//! the stream's writer with what the writer needs to store it ([`Origin`]). Control
//! messages go to the worker (heartbeats) or through the writer (flow-control answers, so
//! that the origin sends more only once what came before is stored).

use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use parking_lot::Mutex;
use strom_proto::headers;

use super::frames;
use super::Cmd;
use crate::jetstream::errors::ApiError;
use crate::jetstream::ingest::{Inbound, Work};
use crate::jetstream::source_config::StreamSource;
use crate::subscription::Internal;
use crate::transform::Transform;

/// How a message reached the writer when it came from an origin.
pub enum Origin {
    /// Mirrored: stored at the origin's sequence and time. `gap` says the origin's consumer
    /// skipped nothing on the way, so missing sequences were deleted at the origin.
    Mirror {
        link: Arc<Link>,
        seq: u64,
        ts: i64,
        gap: bool,
    },
    /// Sourced: stored at the stream's next sequence. `before` is the link's position
    /// (origin, consumer sequence) before this message, to go back to if it is refused.
    Source {
        link: Arc<Link>,
        seq: u64,
        ident: String,
        before: (u64, u64),
    },
    /// A flow-control request from the origin, answered once what came before it is stored
    /// and durable, with where the link stood when it arrived (consumer, origin sequence).
    Flow {
        link: Arc<Link>,
        reply: Bytes,
        at: (u64, u64),
    },
}

/// Where a link stands (nats-server's `sourceInfo`).
#[derive(Default)]
pub struct LinkState {
    /// The origin consumer's name, once it answered.
    pub cname: String,
    /// The origin's identity, as its consumer create answer said (sources only).
    pub ident: String,
    /// The last origin sequence taken, and the last consumer sequence.
    pub sseq: u64,
    pub dseq: u64,
    pub lag: u64,
    /// The last message or heartbeat from the origin (or the consumer's creation).
    pub last: Option<Instant>,
    pub error: Option<ApiError>,
    pub fails: u32,
    /// When the last consumer create request was sent.
    pub lreq: Option<Instant>,
    /// When the next setup is due; `None` while set up or waiting for an answer.
    pub due: Option<Instant>,
    /// The request waiting for an answer: its number and deadline.
    pub waiting: Option<(u64, Instant)>,
    /// The origin was recreated: start again from its beginning.
    pub recreated: bool,
    /// Incremented at every setup; deliveries of an older setup are ignored.
    pub generation: u64,
    /// A mirror came within 10 messages of its origin (told to the stream once).
    pub caught_up: bool,
    /// The origin's consumer is durable: it outlives a restart of the link, and goes only
    /// when the link does.
    pub durable: bool,
    /// Nothing arrived since the consumer was set up: its sequences are taken as they come
    /// (a durable consumer goes on counting from where it was).
    pub fresh: bool,
}

/// A mirror or one source of a stream.
pub struct Link {
    pub source: StreamSource,
    pub iname: String,
    pub mirror: bool,
    /// The source's subject transforms, applied in order, the first that matches wins.
    transforms: Vec<(String, Option<Transform>)>,
    pub state: Mutex<LinkState>,
    worker: Sender<Cmd>,
}

impl Link {
    pub fn new(source: StreamSource, mirror: bool, worker: Sender<Cmd>) -> Link {
        let transforms = source
            .subject_transforms
            .iter()
            .map(|t| {
                let src = if t.src.is_empty() { ">" } else { &t.src };
                let tr = (!t.dest.is_empty())
                    .then(|| Transform::new(src, &t.dest).ok())
                    .flatten();
                (src.to_string(), tr)
            })
            .collect();
        Link {
            iname: source.iname(),
            source,
            mirror,
            transforms,
            state: Mutex::new(LinkState::default()),
            worker,
        }
    }

    /// The subject a message is stored under: the first transform whose source matches.
    fn subject_for(&self, subject: &[u8]) -> Bytes {
        for (src, tr) in &self.transforms {
            if !strom_proto::subject::matches(src.as_bytes(), subject) {
                continue;
            }
            if let Some(out) = tr.as_ref().and_then(|t| t.apply(subject)) {
                return Bytes::from(out);
            }
            break;
        }
        Bytes::copy_from_slice(subject)
    }

    /// Asks the worker to set the consumer up again, from where the link stands.
    pub fn retry(&self) {
        let _ = self.worker.send(Cmd::Retry(self.iname.clone()));
    }

    /// A message the writer refused: the link goes back to before it and starts again there.
    pub fn refused(&self, before: (u64, u64)) {
        {
            let mut st = self.state.lock();
            st.sseq = before.0;
            st.dseq = before.1;
        }
        self.retry();
    }

    /// The mirror's stored sequence did not line up: start again after `last`.
    pub fn realign(&self, last: u64) {
        {
            let mut st = self.state.lock();
            st.sseq = last;
        }
        self.retry();
    }
}

impl Link {
    /// Where a flow-control answer may say the link stands: where it stood when the request
    /// came, unless a message before it was refused since (the link went back to before it,
    /// and the origin must not take the answer as an acknowledgement of that message).
    pub fn answerable(&self, at: (u64, u64)) -> (u64, u64) {
        let st = self.state.lock();
        if st.sseq < at.1 {
            (st.dseq, st.sseq)
        } else {
            at
        }
    }
}

/// The headers of a flow-control answer: the last consumer and origin sequences taken.
pub fn flow_answer((dseq, sseq): (u64, u64)) -> Vec<u8> {
    headers::Builder::new()
        .add("Nats-Last-Consumer", dseq.to_string().as_bytes())
        .add("Nats-Last-Stream", sseq.to_string().as_bytes())
        .finish()
}

/// The receiver of one setup's deliveries.
pub struct Deliveries {
    pub link: Arc<Link>,
    pub generation: u64,
    /// The stream's writer.
    pub writer: Sender<Work>,
}

impl Deliveries {
    fn control(&self, reply: Option<&[u8]>, hdr: &[u8]) {
        if let Some(reply) = reply {
            // A flow-control request: what came before it is queued ahead of it.
            let at = {
                let st = self.link.state.lock();
                (st.dseq, st.sseq)
            };
            let _ = self.writer.send(Work::Msg(Inbound::sourced(Origin::Flow {
                link: self.link.clone(),
                reply: Bytes::copy_from_slice(reply),
                at,
            })));
            return;
        }
        let last_consumer = frames::header_u64(hdr, b"Nats-Last-Consumer").unwrap_or(0);
        let stalled = headers::get(hdr, b"Nats-Consumer-Stalled").map(Bytes::copy_from_slice);
        let missed = {
            let mut st = self.link.state.lock();
            if st.fresh {
                st.fresh = false;
                st.dseq = last_consumer;
            }
            last_consumer > 0 && last_consumer != st.dseq
        };
        if missed {
            self.link.retry();
        } else if let Some(to) = stalled {
            let _ = self.link.worker.send(Cmd::Unstall(to));
        }
    }

    fn data(&self, subject: &[u8], reply: &[u8], hdr: &[u8], payload: &[u8]) {
        let Some(ack) = frames::ack_reply(reply) else {
            return;
        };
        if ack.delivered > 1 {
            return;
        }
        let link = &self.link;
        let mut st = link.state.lock();
        if ack.consumer != st.cname {
            return;
        }
        if st.fresh {
            st.fresh = false;
            st.dseq = ack.consumer_seq.saturating_sub(1);
        }
        let before = (st.sseq, st.dseq);
        let mut gap = false;
        if ack.stream_seq <= st.sseq {
            if ack.consumer_seq == st.dseq + 1 {
                st.dseq += 1;
            }
            return;
        } else if link.mirror && ack.stream_seq == st.sseq + 1 {
            st.dseq = ack.consumer_seq;
            st.sseq = ack.stream_seq;
        } else if ack.consumer_seq == st.dseq + 1 {
            // The origin's consumer skipped nothing: the missing origin sequences are deleted
            // messages (a mirror) or messages outside the filter (a source).
            gap = true;
            st.dseq += 1;
            st.sseq = ack.stream_seq;
        } else {
            drop(st);
            link.retry();
            return;
        }
        st.lag = ack.pending.saturating_sub(1);
        if link.mirror && ack.pending < 10 && !st.caught_up {
            st.caught_up = true;
            let _ = link.worker.send(Cmd::CaughtUp);
        }
        let ident = st.ident.clone();
        drop(st);
        let stored_subject = link.subject_for(subject);
        let (hdr, origin) = if link.mirror {
            let hdr = if hdr.is_empty() {
                Vec::new()
            } else {
                frames::strip(hdr, false)
            };
            (
                hdr,
                Origin::Mirror {
                    link: link.clone(),
                    seq: ack.stream_seq,
                    ts: ack.ts,
                    gap,
                },
            )
        } else {
            let kept = frames::strip(hdr, true);
            let value = frames::source_header(&link.iname, ack.stream_seq, subject, &ident);
            let hdr = headers::Builder::extend(&kept)
                .add("Nats-Stream-Source", &value)
                .finish();
            (
                hdr,
                Origin::Source {
                    link: link.clone(),
                    seq: ack.stream_seq,
                    ident,
                    before,
                },
            )
        };
        let mut m = Inbound::sourced(origin);
        m.subject = stored_subject;
        m.headers = (!hdr.is_empty()).then(|| Bytes::from(hdr));
        m.payload = Bytes::copy_from_slice(payload);
        if self.writer.send(Work::Msg(m)).is_err() {
            self.link.retry();
        }
    }
}

impl Internal for Deliveries {
    fn deliver(
        &self,
        _from: u64,
        subject: &[u8],
        reply: Option<&[u8]>,
        hdr: Option<&[u8]>,
        payload: &[u8],
    ) -> bool {
        {
            let mut st = self.link.state.lock();
            if st.generation != self.generation {
                return true;
            }
            st.last = Some(Instant::now());
        }
        if frames::is_control(hdr, payload) {
            self.control(reply, hdr.unwrap_or(&[]));
        } else if let Some(reply) = reply {
            self.data(subject, reply, hdr.unwrap_or(&[]), payload);
        }
        true
    }
}
