//! Deliveries: redeliveries first, then the next messages matching the filters; one at a
//! time to each waiting pull request in turn, or to a push subject within its flow-control
//! window; paced by `replay_policy: original` and `rate_limit_bps`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use strom_proto::headers;

use super::pull::{self};
use super::pump::{Replies, Runner, DELIVER_BUDGET};
use super::state::{self};
use super::{imported_matches, journal, priority, Consumer, Inner};
use crate::client::ServerBatch;
use crate::jetstream::advisory;
use crate::jetstream::consumer_config::{AckPolicy, ConsumerConfig, ReplayPolicy};
use crate::jetstream::stream_config::Retention;
use crate::jetstream::wire::now_nanos;

impl Runner {
    /// Delivers what is due: redeliveries first, then new messages; to waiting pull requests
    /// (one message each in turn) or to the push subject.
    pub(super) fn deliver(
        &self,
        c: &Arc<Consumer>,
        cfg: &ConsumerConfig,
        inner: &mut Inner,
        upto: u64,
        out: &mut ServerBatch,
        replies: &mut Replies,
    ) {
        let account = &self.stream.account;
        inner.replay_due = None;
        if cfg.is_push() {
            let group = (!cfg.deliver_group.is_empty()).then_some(cfg.deliver_group.as_bytes());
            if inner
                .route
                .get(account, cfg.deliver_subject.as_bytes(), group)
                .is_empty()
                && imported_matches(account, cfg.deliver_subject.as_bytes()).is_empty()
            {
                inner.unbound_since.get_or_insert_with(Instant::now);
                return;
            }
            inner.unbound_since = None;
            inner.active_at = Instant::now();
        } else if inner.waiting.is_empty() {
            return;
        }
        if inner.recount || upto > inner.counted_to {
            // Pending counts follow the stream (ack subjects and overflow requests use them).
            let store = self.stream.store.lock();
            c.refresh_pending(inner, &**store, upto);
        }
        let retention = self.stream.config.read().retention;
        let mut budget = DELIVER_BUDGET;
        let mut floor_moved = false;
        let replay = cfg.replay_policy == ReplayPolicy::Original;
        if replay && inner.replay_until.is_none() {
            inner.replay_until = Some(upto);
        }
        let mut ack_reply = String::with_capacity(128);
        // nats-server's burst for a rate limit: the largest message the stream takes.
        let burst = match self.stream.config.read().max_msg_size {
            n if n > 0 => n as usize,
            _ => 1024 * 1024,
        };
        inner.rate_due = None;
        while budget > 0 && self.can_send(c, cfg, inner, out) {
            let Some((msg, dc)) = self.next_message(c, cfg, inner, upto) else {
                break;
            };
            if replay && self.replay_wait(inner, &msg, dc) {
                break;
            }
            let weight = msg.subject.len() + msg.headers.len() + msg.payload.len();
            if cfg.rate_limit_bps > 0 && rate_wait(cfg.rate_limit_bps, burst, inner, weight) {
                if dc > 1 {
                    inner.state.redeliver.insert(msg.seq);
                }
                break;
            }
            budget -= 1;
            let now = now_nanos();
            let cseq = inner.state.deliver(msg.seq, dc, cfg.ack_policy, now);
            let counted = count_delivery(inner, msg.seq, dc);
            write_ack_reply(
                &mut ack_reply,
                (&self.stream.name, &c.name),
                [
                    dc,
                    msg.seq,
                    cseq,
                    msg.ts as u64,
                    Consumer::num_pending(inner),
                ],
            );
            let only_headers;
            let pin = inner
                .pin
                .as_ref()
                .filter(|_| !cfg.is_push())
                .map(|p| p.id.clone());
            let (hdr, payload): (Option<&[u8]>, &[u8]) = if cfg.headers_only || pin.is_some() {
                let mut b = headers::Builder::extend(&msg.headers);
                if cfg.headers_only {
                    b = b.add("Nats-Msg-Size", msg.payload.len().to_string().as_bytes());
                }
                if let Some(id) = &pin {
                    b = b.add("Nats-Pin-Id", id.as_bytes());
                }
                only_headers = b.finish();
                let body: &[u8] = if cfg.headers_only { &[] } else { &msg.payload };
                (Some(&only_headers), body)
            } else {
                (
                    (!msg.headers.is_empty()).then_some(&msg.headers[..]),
                    &msg.payload,
                )
            };
            let size =
                (msg.subject.len() + ack_reply.len() + hdr.map_or(0, <[u8]>::len) + payload.len())
                    as i64;
            let frame = (&msg.subject[..], Some(ack_reply.as_bytes()), hdr, payload);
            let stored = (!cfg.headers_only).then_some(&msg.payload);
            let msg_out = Outgoing {
                frame,
                stored,
                size,
            };
            if cfg.is_push() {
                self.send_push(c, cfg, inner, msg_out, out);
            } else if !self.send_pull(inner, msg_out, out) {
                self.undo(inner, (msg.seq, dc), counted, cfg.ack_policy);
                continue;
            }
            // Journal the delivery (ack none: where it stands, once per round).
            if cfg.ack_policy == AckPolicy::None {
                floor_moved = true;
                if retention != Retention::Limits {
                    replies.acked.push((c.clone(), msg.seq));
                }
            } else {
                let rec = state::record::delivered(msg.seq, cseq, dc, now, inner.state.next);
                journal(inner, &rec);
                let wait = match cfg.backoff.len() {
                    0 => cfg.ack_wait,
                    n => cfg.backoff[((dc - 1) as usize).min(n - 1)],
                };
                let at = now + wait;
                inner.redeliver_at = Some(inner.redeliver_at.map_or(at, |t| t.min(at)));
            }
            if replay {
                inner.replay_last = Some((msg.ts, Instant::now()));
            }
        }
        if budget == 0 {
            // More to do: the thread goes round again at once.
            self.busy.set(true);
        }
        if floor_moved {
            let rec = state::record::acked(inner.state.ack_floor, &[]);
            journal(inner, &rec);
        }
        // No-wait requests end at the end of what there is (not while a replay waits).
        if !cfg.is_push() && budget > 0 && inner.replay_due.is_none() {
            let mut keep = std::collections::VecDeque::with_capacity(inner.waiting.len());
            while let Some(r) = inner.waiting.pop_front() {
                if r.no_wait && (r.expires.is_none() || r.delivered > 0) {
                    let hdr = pull::status(404, "No Messages", "");
                    out.publish(account, &r.reply, None, Some(&hdr), &[]);
                } else {
                    keep.push_back(r);
                }
            }
            inner.waiting = keep;
        }
    }

    /// Whether a message may go now: push within its flow-control window, pull with a
    /// request waiting (requests whose requester is gone are dropped on the way).
    pub(super) fn can_send(
        &self,
        c: &Consumer,
        cfg: &ConsumerConfig,
        inner: &mut Inner,
        out: &mut ServerBatch,
    ) -> bool {
        if cfg.is_push() {
            return !cfg.flow_control || inner.flow.bytes <= inner.flow.window;
        }
        let account = &self.stream.account;
        let now = Instant::now();
        // Each request is looked at once: passed-over ones go to the back.
        let mut looked = 0;
        while looked < inner.waiting.len() {
            let Some(r) = inner.waiting.front_mut() else {
                return false;
            };
            if r.batch <= 0 {
                if r.delivered > 0 {
                    inner.waiting.pop_front();
                    continue;
                }
                return false;
            }
            if !reachable(account, &mut r.route, &r.reply) {
                inner.waiting.pop_front();
                continue;
            }
            let mut pinned = None;
            match priority::verdict(cfg, inner, now, &mut pinned) {
                priority::Verdict::Serve => {
                    if let (Some(pin), Some(server)) = (pinned, self.ctx.server.upgrade()) {
                        advisory::consumer_pinned(&server, &self.ctx, &self.stream, c, &pin);
                    }
                    return true;
                }
                priority::Verdict::PassOver => {
                    looked += 1;
                    if let Some(r) = inner.waiting.pop_front() {
                        inner.waiting.push_back(r);
                    }
                }
                priority::Verdict::End(code, text) => {
                    if let Some(r) = inner.waiting.pop_front() {
                        let hdr = pull::status(code, text, &r.pending_headers());
                        out.publish(account, &r.reply, None, Some(&hdr), &[]);
                    }
                }
            }
        }
        false
    }

    /// A push delivery, with its flow-control accounting and request.
    pub(super) fn send_push(
        &self,
        c: &Consumer,
        cfg: &ConsumerConfig,
        inner: &mut Inner,
        msg: Outgoing<'_>,
        out: &mut ServerBatch,
    ) {
        let Outgoing {
            frame,
            stored,
            size,
        } = msg;
        let account = &self.stream.account;
        let group = (!cfg.deliver_group.is_empty()).then_some(cfg.deliver_group.as_bytes());
        out.deliver_matched(
            inner
                .route
                .get(account, cfg.deliver_subject.as_bytes(), group),
            frame,
            stored,
        );
        // Another account importing the deliver subject (a stream sourced across accounts).
        for matched in imported_matches(account, cfg.deliver_subject.as_bytes()) {
            out.deliver_matched(&matched, frame, stored);
        }
        if cfg.idle_heartbeat > 0 {
            inner.heartbeat_at =
                Some(Instant::now() + Duration::from_nanos(cfg.idle_heartbeat as u64));
        }
        if !cfg.flow_control {
            return;
        }
        inner.flow.bytes += size;
        let acks_due = cfg.ack_policy == AckPolicy::FlowControl
            && cfg.max_ack_pending > 0
            && inner.state.pending.len() as i64 >= cfg.max_ack_pending;
        if inner.flow.outstanding.is_none()
            && (inner.flow.bytes > inner.flow.window / 2 || acks_due)
        {
            self.request_flow(c, cfg, inner, out);
        }
    }

    /// Sends a flow-control request on the deliver subject and notes it outstanding.
    pub(super) fn request_flow(
        &self,
        c: &Consumer,
        cfg: &ConsumerConfig,
        inner: &mut Inner,
        out: &mut ServerBatch,
    ) {
        let id = format!(
            "$JS.FC.{}.{}.{}",
            self.stream.name,
            c.name,
            crate::jetstream::wire::random_token(4)
        );
        let id = Bytes::from(id.into_bytes());
        inner.flow.outstanding = Some((id.clone(), inner.flow.bytes));
        out.publish(
            &self.stream.account,
            cfg.deliver_subject.as_bytes(),
            Some(&id),
            Some(b"NATS/1.0 100 FlowControl Request\r\n\r\n"),
            &[],
        );
    }

    /// A delivery to the request at the head of the queue, which goes to the back while it
    /// wants more; `false` (and the request ended with a 409) when the message is larger
    /// than the bytes it has left.
    pub(super) fn send_pull(
        &self,
        inner: &mut Inner,
        msg: Outgoing<'_>,
        out: &mut ServerBatch,
    ) -> bool {
        let Outgoing {
            frame,
            stored,
            size,
        } = msg;
        let account = &self.stream.account;
        let Some(mut r) = inner.waiting.pop_front() else {
            return false;
        };
        if r.max_bytes > 0 {
            if size > r.max_bytes {
                let hdr = pull::status(409, "Message Size Exceeds MaxBytes", &r.pending_headers());
                out.publish(account, &r.reply, None, Some(&hdr), &[]);
                return false;
            }
            r.max_bytes -= size;
            if r.max_bytes == 0 {
                r.batch = 1;
            }
        }
        if r.reply.starts_with(b"_R_.") {
            // A request that came through a service import: the answer crosses back to the
            // requester's account (once for a single-answer export, as nats-server).
            if let Some((to, inbox)) = account.links.answer_route(&r.reply, true) {
                let matched = to.sublist.matches(&inbox);
                out.deliver_matched(&matched, frame, stored);
            }
        } else {
            out.deliver_matched(r.route.get(account, &r.reply, None), frame, stored);
        }
        r.batch -= 1;
        r.delivered += 1;
        if let Some(hb) = r.heartbeat {
            r.next_heartbeat = Some(Instant::now() + hb);
        }
        if r.batch > 0 {
            inner.waiting.push_back(r);
        } else {
            // The request is served: its route back through an import goes too.
            account.links.forget_answer(&r.reply);
        }
        true
    }

    /// `replay_policy: original`: whether `msg`, just taken by `next_message`, must wait to
    /// be as far from the last delivery as it is from the last message in time (nats-server
    /// waits when that is over a millisecond, until the replay has caught up). If so, it is
    /// put back and the consumer is woken when it is due.
    pub(super) fn replay_wait(
        &self,
        inner: &mut Inner,
        msg: &strom_store::StoredMsg,
        dc: u64,
    ) -> bool {
        if inner
            .replay_until
            .is_none_or(|until| inner.state.next > until)
        {
            return false;
        }
        let Some((last_ts, sent)) = inner.replay_last else {
            return false;
        };
        let gap = msg.ts.saturating_sub(last_ts);
        if gap <= 1_000_000 {
            return false;
        }
        let due = sent + Duration::from_nanos(gap as u64);
        if Instant::now() >= due {
            return false;
        }
        // A new message is simply found again; a redelivery goes back in its queue.
        if dc > 1 {
            inner.state.redeliver.insert(msg.seq);
        }
        inner.replay_due = Some(due);
        true
    }

    /// Takes back a delivery that could not go out.
    pub(super) fn undo(
        &self,
        inner: &mut Inner,
        (seq, dc): (u64, u64),
        counted: Counted,
        ack: AckPolicy,
    ) {
        inner.state.dseq -= 1;
        if dc > 1 {
            // Back in the queue with the delivery count it had.
            inner.state.redeliver.insert(seq);
            if dc > 2 {
                inner.state.redelivered.insert(seq, dc - 2);
            } else {
                inner.state.redelivered.remove(&seq);
            }
            return;
        }
        inner.state.pending.remove(&seq);
        inner.state.next = seq;
        if ack == AckPolicy::None {
            inner.state.ack_floor = (inner.state.dseq, seq - 1);
        }
        match counted {
            Counted::Skip => inner.skip.push_front(seq),
            Counted::Pending => inner.num_pending += 1,
            Counted::Nothing => {}
        }
    }

    /// The next message to deliver and its delivery count: a redelivery, the next of the
    /// `last_per_subject` list, or the next new message matching the filters (up to `upto`).
    pub(super) fn next_message(
        &self,
        c: &Consumer,
        cfg: &ConsumerConfig,
        inner: &mut Inner,
        upto: u64,
    ) -> Option<(strom_store::StoredMsg, u64)> {
        let store = self.stream.store.lock();
        while let Some(seq) = inner.state.redeliver.pop_first() {
            if !inner.state.pending.contains_key(&seq) {
                continue;
            }
            let dc = inner.state.delivery_count(seq) + 1;
            if cfg.max_deliver > 0 && dc > cfg.max_deliver as u64 {
                // NAKed past its last allowed delivery: given up, as a missed ack wait is.
                self.give_up(c, inner, seq, dc - 1);
                continue;
            }
            match store.get(seq) {
                Ok(Some(m)) => return Some((m, dc)),
                _ => {
                    // Gone from the stream meanwhile.
                    inner.state.drop_pending(seq);
                }
            }
        }
        if cfg.ack_policy != AckPolicy::None
            && cfg.max_ack_pending > 0
            && inner.state.pending.len() as i64 >= cfg.max_ack_pending
        {
            return None;
        }
        while let Some(&seq) = inner.skip.front() {
            if seq > upto {
                // Not durable yet: consumers see only what is.
                return None;
            }
            match store.get(seq) {
                Ok(Some(m)) => return Some((m, 1)),
                _ => {
                    inner.skip.pop_front();
                }
            }
        }
        if inner.state.next < inner.resume {
            inner.state.next = inner.resume;
        }
        loop {
            let from = inner.state.next;
            if from > upto {
                return None;
            }
            let mut found = None;
            let filters = c.filters.read();
            store.scan(from, &mut |seq, subject| {
                if seq > upto {
                    return false;
                }
                if filters.is_empty()
                    || filters
                        .iter()
                        .any(|f| strom_proto::subject::matches(f, subject))
                {
                    found = Some(seq);
                    return false;
                }
                true
            });
            drop(filters);
            let Some(seq) = found else {
                // Nothing matches up to `upto`: skip ahead, as nats-server does.
                inner.state.next = upto + 1;
                if inner.state.pending.is_empty() && cfg.ack_policy != AckPolicy::None {
                    inner.state.ack_floor.1 = inner.state.ack_floor.1.max(upto);
                }
                return None;
            };
            match store.get(seq) {
                Ok(Some(m)) => return Some((m, 1)),
                _ => inner.state.next = seq + 1,
            }
        }
    }
}

/// `rate_limit_bps` as a token bucket of bytes (full, `burst` deep, at the start, as Go's
/// `rate.Limiter`): whether a message of `size` bytes must wait; if so, when it may go is in
/// `inner.rate_due`.
fn rate_wait(bps: u64, burst: usize, inner: &mut Inner, size: usize) -> bool {
    let per_sec = (bps as f64 / 8.0).max(1.0);
    let now = Instant::now();
    let (tokens, at) = inner.rate.unwrap_or((burst as f64, now));
    let tokens = (tokens + now.duration_since(at).as_secs_f64() * per_sec).min(burst as f64);
    if tokens >= size as f64 || (size > burst && tokens >= burst as f64) {
        inner.rate = Some(((tokens - size as f64).max(0.0), now));
        return false;
    }
    inner.rate = Some((tokens, now));
    let missing = size.min(burst) as f64 - tokens;
    inner.rate_due = Some(now + Duration::from_secs_f64(missing / per_sec));
    true
}

/// A delivery on its way: the frame, the payload as the store holds it (sent from the
/// store's buffer when large), and its size as max_bytes and flow control count it.
pub(super) struct Outgoing<'a> {
    frame: crate::client::Frame<'a>,
    stored: Option<&'a Bytes>,
    size: i64,
}

/// Keeps `num_pending` and the `last_per_subject` list in step with a delivery.
fn count_delivery(inner: &mut Inner, seq: u64, dc: u64) -> Counted {
    if dc != 1 {
        return Counted::Nothing;
    }
    if inner.skip.front() == Some(&seq) {
        inner.skip.pop_front();
        if inner.skip.is_empty() {
            inner.state.next = inner.state.next.max(inner.resume);
            inner.recount = true;
        }
        Counted::Skip
    } else if seq <= inner.counted_to {
        inner.num_pending = inner.num_pending.saturating_sub(1);
        Counted::Pending
    } else {
        Counted::Nothing
    }
}

/// What [`count_delivery`] took off, for an undo to put back.
#[derive(Clone, Copy)]
pub(super) enum Counted {
    Skip,
    Pending,
    Nothing,
}

/// `$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<ts>.<pending>`,
/// written into `out` without the formatting machinery (it is built for every delivery).
fn write_ack_reply(out: &mut String, (stream, consumer): (&str, &str), numbers: [u64; 5]) {
    out.clear();
    out.push_str("$JS.ACK.");
    out.push_str(stream);
    out.push('.');
    out.push_str(consumer);
    for n in numbers {
        out.push('.');
        push_u64(out, n);
    }
}

fn push_u64(out: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for d in &digits[i..] {
        out.push(char::from(*d));
    }
}

/// Whether a pull request's reply subject still reaches someone: a subscription in the
/// stream's account, or, for a request that came through a service import (`_R_.…`), a live
/// route back to the requester's account.
fn reachable(account: &crate::account::Account, route: &mut super::Route, reply: &[u8]) -> bool {
    if reply.starts_with(b"_R_.") {
        return account
            .links
            .answer_route(reply, false)
            .is_some_and(|(to, inbox)| !to.sublist.matches(&inbox).is_empty());
    }
    !route.get(account, reply, None).is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ack_replies_are_written_like_format() {
        let mut s = String::new();
        write_ack_reply(&mut s, ("S", "C"), [1, 20, 300, 1_700_000_000_123, 0]);
        assert_eq!(s, "$JS.ACK.S.C.1.20.300.1700000000123.0");
        write_ack_reply(&mut s, ("S", "C"), [u64::MAX, 9, 10, 0, 7]);
        assert_eq!(s, format!("$JS.ACK.S.C.{}.9.10.0.7", u64::MAX));
    }
}
