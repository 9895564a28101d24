//! A consumer's upkeep each round: pull requests queued or refused with their statuses,
//! request expiry and heartbeats, redelivery deadlines and `max_deliver`, push heartbeats,
//! pauses running out, and the deletion of consumers idle past their inactive threshold.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::pull::{self, Parsed, PullRequest};
use super::pump::{Replies, Runner};
use super::state::{self};
use super::{journal, priority, Consumer, Inner};
use crate::client::ServerBatch;
use crate::jetstream::advisory;
use crate::jetstream::consumer_config::{AckPolicy, ConsumerConfig};
use crate::jetstream::wire::now_nanos;

impl Runner {
    /// A pull request: refused with a status, or queued.
    pub(super) fn pull_request(
        &self,
        c: &Arc<Consumer>,
        reply: Bytes,
        body: &[u8],
        out: &mut ServerBatch,
    ) {
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
        // A request for nothing would wait at the head of the queue for ever, holding up
        // everyone behind it: it asks for one.
        if req.batch <= 0 {
            req.batch = 1;
        }
        priority::enqueue(&cfg, &mut inner, req);
    }

    /// One consumer's round: redelivery deadlines, request expiry and heartbeats, deliveries,
    /// push heartbeats.
    pub(super) fn tend(
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
            self.check_pending(c, &cfg, &mut inner, now);
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
    pub(super) fn check_pending(
        &self,
        c: &Consumer,
        cfg: &ConsumerConfig,
        inner: &mut Inner,
        now: i64,
    ) {
        inner.redeliver_at = None;
        // A sourcing consumer's messages are acknowledged by flow control, never redelivered.
        if matches!(cfg.ack_policy, AckPolicy::None | AckPolicy::FlowControl)
            || inner.state.pending.is_empty()
        {
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
                self.give_up(c, inner, seq, dc);
            } else {
                inner.state.redeliver.insert(seq);
            }
        }
        if next_at != i64::MAX {
            inner.redeliver_at = Some(next_at);
        }
    }

    /// Gives up on `seq` after `deliveries` deliveries (`max_deliver`): out of pending,
    /// journaled, and the MAX_DELIVERIES advisory.
    pub(super) fn give_up(&self, c: &Consumer, inner: &mut Inner, seq: u64, deliveries: u64) {
        inner.state.give_up(seq, deliveries);
        let rec = state::record::gave_up(seq, deliveries);
        journal(inner, &rec);
        if let Some(server) = self.ctx.server.upgrade() {
            advisory::consumer_max_deliveries(
                &server,
                &self.ctx,
                &self.stream,
                &c.name,
                seq,
                deliveries,
            );
        }
    }

    /// Ends pull requests that expired (408), sends their heartbeats, drops those whose
    /// requester is gone.
    pub(super) fn expire_requests(
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
                // The request is over: its route back through an import goes too.
                account.links.forget_answer(&r.reply);
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

    /// A push consumer's idle heartbeat when nothing went out for `idle_heartbeat`.
    pub(super) fn push_heartbeat(
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
                // Idle with messages unacknowledged: ask for the acknowledging answer.
                if cfg.ack_policy == AckPolicy::FlowControl
                    && !inner.state.pending.is_empty()
                    && inner.flow.outstanding.is_none()
                {
                    self.request_flow(_c, cfg, inner, out);
                }
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
    pub(super) fn check_inactive(
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
    fn heartbeats_carry_the_last_sequences() {
        assert_eq!(
            heartbeat_frame(3, 7, None),
            b"NATS/1.0 100 Idle Heartbeat\r\nNats-Last-Consumer: 3\r\nNats-Last-Stream: 7\r\n\r\n"
                .to_vec()
        );
    }
}
