//! Routing one published message: match its subject, queue a frame for each interested client,
//! pick one member of each queue group, and answer "no responders" when nobody was there.

use std::sync::Arc;

use bytes::Bytes;
use strom_proto::encode::{write_msg, write_msg_head};

use super::handle::ClientHandle;
use super::outbound::Push;
use super::reader::Conn;
use crate::links::Hop;
use crate::server::Shared;
use crate::sublist::SubResult;
use crate::subscription::{Claim, Owner, Subscription};

/// Queues larger than this are left to the receiver's writer rather than written by a publisher.
const INLINE_FLUSH_MAX: usize = 256 * 1024;

/// Payloads at least this large, going to more than one receiver, are copied once and shared
/// instead of copied into every receiver's queue.
const SHARE_PAYLOAD_MIN: usize = 1024;

/// Most subject match results a connection caches.
const CACHE_MAX: usize = 1024;

/// The header nats-server sends for "no responders": status 503 and the subject nobody answered.
fn no_responders_header(subject: &[u8]) -> Vec<u8> {
    let mut h = Vec::with_capacity(40 + subject.len());
    h.extend_from_slice(b"NATS/1.0 503\r\nNats-Subject: ");
    h.extend_from_slice(subject);
    h.extend_from_slice(b"\r\n\r\n");
    h
}

/// A message being routed.
pub(crate) struct Msg<'a> {
    /// The payload copied once into a shared buffer, when it is large and goes to several
    /// receivers; `None` means every receiver gets its own copy.
    pub shared: Option<Bytes>,
    pub subject: &'a [u8],
    pub reply: Option<&'a [u8]>,
    pub headers: Option<&'a [u8]>,
    pub payload: &'a [u8],
    /// The publishing client's id; 0 for the server itself.
    pub from: u64,
}

impl Conn {
    /// The subscriptions matching `subject`, from this connection's cache when it is current.
    fn lookup(&mut self, subject: &[u8]) -> Arc<SubResult> {
        let generation = self.account.sublist.generation();
        if generation != self.cache_gen {
            self.cache.clear();
            self.cache_gen = generation;
        } else if let Some(r) = self.cache.get(subject) {
            return r.clone();
        }
        let result = Arc::new(self.account.sublist.matches(subject));
        if self.cache.len() >= CACHE_MAX {
            self.cache.clear();
        }
        self.cache.insert(subject.into(), result.clone());
        result
    }

    /// Routes one message; returns whether anyone received it.
    pub(super) fn route(&mut self, msg: &mut Msg<'_>) -> bool {
        let result = self.lookup(msg.subject);
        if msg.payload.len() >= SHARE_PAYLOAD_MIN && result.psubs.len() + result.qsubs.len() > 1 {
            msg.shared = Some(Bytes::copy_from_slice(msg.payload));
        }
        let msg = &*msg;
        let mut delivered = self.deliver_to_all(&result, msg);
        if self.account.links.any() {
            for hop in self.account.links.hops(msg.subject, msg.reply) {
                delivered |= self.route_into(&hop, msg);
            }
        }
        delivered
    }

    /// Delivers a message into another account (an import), under that account's subject.
    fn route_into(&mut self, hop: &Hop, msg: &Msg<'_>) -> bool {
        let result = hop.account.sublist.matches(&hop.subject);
        let crossed = Msg {
            shared: msg.shared.clone(),
            subject: &hop.subject,
            reply: hop.reply.as_deref(),
            headers: msg.headers,
            payload: msg.payload,
            from: msg.from,
        };
        self.deliver_to_all(&result, &crossed)
    }

    /// Every plain subscription, and one member of each queue group; returns whether anyone
    /// took the message.
    fn deliver_to_all(&mut self, result: &SubResult, msg: &Msg<'_>) -> bool {
        // With echo off, a client's own messages skip its own subscriptions.
        let skip = (!self.opts.echo).then_some(self.handle.id);
        let rng = &mut self.rng;
        deliver_all(
            &self.server,
            result,
            msg,
            skip,
            |n| rng.below(n),
            &mut self.pending_flush,
        )
    }

    /// Sends the 503 status message (the caller decides that nobody answered) to this client's own subscription on the reply subject.
    pub(super) fn no_responders(&mut self, subject: &[u8], reply: &[u8]) {
        let result = self.account.sublist.matches(reply);
        let own = result
            .psubs
            .iter()
            .rev()
            .find(|s| s.client_id() == self.handle.id)
            .cloned();
        let Some(sub) = own else {
            return;
        };
        let header = no_responders_header(subject);
        let handle = self.handle.clone();
        let push = handle.out.push_msg(0, |buf| {
            write_msg(buf, reply, &sub.sid, None, Some(&header), &[])
        });
        // nats-server queues this reply without tracing it.
        if let Push::Queued { first: true } = push {
            self.flush_later(&handle);
        }
    }

    /// Remembers to wake `client`'s writer once this read has been processed.
    #[inline]
    pub(super) fn flush_later(&mut self, client: &Arc<ClientHandle>) {
        self.pending_flush.push(client.clone());
    }

    /// Hands the frames queued during this read to the kernel (see [`flush_client`]).
    pub(super) fn flush_pending(&mut self) {
        for c in self.pending_flush.drain(..) {
            flush_client(&c);
        }
    }
}

/// Offers a message to every plain subscription in `result` and to one member of each queue
/// group (starting at the member `pick(n)` chooses, then the next that takes it). `skip` is a
/// client that must not receive it (the publisher, with echo off). Receivers whose queues now
/// need a flush are pushed onto `wake`. Returns whether anyone took the message.
pub(crate) fn deliver_all(
    server: &Shared,
    result: &SubResult,
    msg: &Msg<'_>,
    skip: Option<u64>,
    mut pick: impl FnMut(usize) -> usize,
    wake: &mut Vec<Arc<ClientHandle>>,
) -> bool {
    let mut take = |sub: &Arc<Subscription>| {
        if skip == Some(sub.client_id()) {
            return false;
        }
        match offer(server, sub, msg) {
            Offered::Queued { wake: w } => {
                if w {
                    if let Some(c) = sub.client() {
                        wake.push(c.clone());
                    }
                }
                true
            }
            Offered::Refused => false,
        }
    };
    let mut delivered = false;
    for sub in &result.psubs {
        delivered |= take(sub);
    }
    for (_, members) in &result.qsubs {
        let n = members.len();
        let start = pick(n);
        for i in 0..n {
            if take(&members[(start + i) % n]) {
                delivered = true;
                break;
            }
        }
    }
    delivered
}

/// Publishes a message from the server itself (system messages, JetStream replies and
/// acknowledgements) into `account`, and across its imports; hands the frames to the kernel
/// before returning. Returns whether anyone received it.
pub(crate) fn publish_from_server(
    server: &Shared,
    account: &crate::account::Account,
    subject: &[u8],
    reply: Option<&[u8]>,
    headers: Option<&[u8]>,
    payload: &[u8],
) -> bool {
    let mut batch = ServerBatch::new(server);
    let delivered = batch.publish(account, subject, reply, headers, payload);
    batch.flush();
    delivered
}

thread_local! {
    /// While a reader processes one read: receivers that deliveries made by the server inline
    /// (direct-get replies) queued frames for, flushed by the reader with its own.
    static DEFERRED: std::cell::RefCell<Option<Vec<Arc<ClientHandle>>>> =
        const { std::cell::RefCell::new(None) };
}

/// Starts deferring server-made flushes on this thread (a reader about to process a read).
pub(crate) fn defer_flushes() {
    // A list left over (a reader that panicked mid-read) is flushed, not lost.
    let stale = DEFERRED.with(|d| d.borrow_mut().replace(Vec::new()));
    for c in stale.into_iter().flatten() {
        flush_client(&c);
    }
}

/// Stops deferring; the receivers to flush. Called before the reader next awaits.
pub(crate) fn take_deferred() -> Vec<Arc<ClientHandle>> {
    DEFERRED.with(|d| d.borrow_mut().take().unwrap_or_default())
}

/// A message's parts as a delivery frame carries them: subject, reply, headers, payload.
pub(crate) type Frame<'a> = (&'a [u8], Option<&'a [u8]>, Option<&'a [u8]>, &'a [u8]);

/// Many messages from the server (a batch of PubAcks): every receiver's queue is handed to
/// the kernel once, at [`ServerBatch::flush`], rather than once per message.
pub(crate) struct ServerBatch<'a> {
    server: &'a Shared,
    wake: Vec<Arc<ClientHandle>>,
    rng: rand::rngs::ThreadRng,
}

impl<'a> ServerBatch<'a> {
    pub(crate) fn new(server: &'a Shared) -> Self {
        ServerBatch {
            server,
            wake: Vec::new(),
            rng: rand::thread_rng(),
        }
    }

    /// Queues one message; returns whether anyone received it.
    pub(crate) fn publish(
        &mut self,
        account: &crate::account::Account,
        subject: &[u8],
        reply: Option<&[u8]>,
        headers: Option<&[u8]>,
        payload: &[u8],
    ) -> bool {
        let msg = Msg {
            shared: None,
            subject,
            reply,
            headers,
            payload,
            from: 0,
        };
        let rng = &mut self.rng;
        let mut pick = |n: usize| rand::Rng::gen_range(rng, 0..n);
        let result = account.sublist.matches(subject);
        let mut delivered =
            deliver_all(self.server, &result, &msg, None, &mut pick, &mut self.wake);
        if account.links.any() {
            for hop in account.links.hops(subject, reply) {
                let result = hop.account.sublist.matches(&hop.subject);
                let crossed = Msg {
                    shared: None,
                    subject: &hop.subject,
                    reply: hop.reply.as_deref(),
                    headers,
                    payload,
                    from: 0,
                };
                delivered |= deliver_all(
                    self.server,
                    &result,
                    &crossed,
                    None,
                    &mut pick,
                    &mut self.wake,
                );
            }
        }
        delivered
    }

    /// Queues one message for the subscriptions of `route` (the match of a consumer's inbox
    /// or deliver subject, which the consumer keeps), with the stream message's subject on
    /// its `MSG` line; `stored` is the payload as the store holds it, when it can be shared.
    /// Returns whether anyone received it.
    pub(crate) fn deliver_matched(
        &mut self,
        route: &crate::sublist::SubResult,
        msg: Frame<'_>,
        stored: Option<&Bytes>,
    ) -> bool {
        let (subject, reply, headers, payload) = msg;
        let msg = Msg {
            // A large payload read from the store goes out from the store's own buffer
            // (vectored writes), not copied into the receiver's queue.
            shared: stored.filter(|b| b.len() >= SHARE_PAYLOAD_MIN).cloned(),
            subject,
            reply,
            headers,
            payload,
            from: 0,
        };
        let rng = &mut self.rng;
        let mut pick = |n: usize| rand::Rng::gen_range(rng, 0..n);
        deliver_all(self.server, route, &msg, None, &mut pick, &mut self.wake)
    }

    /// Hands every receiver's queued frames to the kernel — or, inside a reader's processing
    /// of a read (replies made inline, such as direct gets), leaves that to the reader, which
    /// flushes them with its own once the whole read is processed.
    pub(crate) fn flush(&mut self) {
        let deferred = DEFERRED.with(|d| match d.borrow_mut().as_mut() {
            Some(list) => {
                list.append(&mut self.wake);
                true
            }
            None => false,
        });
        if deferred {
            return;
        }
        for c in self.wake.drain(..) {
            flush_client(&c);
        }
    }
}

impl Drop for ServerBatch<'_> {
    fn drop(&mut self) {
        self.flush();
    }
}

/// Whether a subscription took a message.
pub(crate) enum Offered {
    /// Queued; `wake` when the receiver's queue was empty and it needs a flush.
    Queued { wake: bool },
    /// Not queued: withheld, over its limit, closing, or a slow consumer now.
    Refused,
}

/// Offers a message to one subscription: the receiver's deny filter, the auto-unsubscribe
/// count, its queue (with the slow-consumer rule), and `allow_responses` grants. The one path
/// every delivery takes, from clients and from the server itself.
#[inline]
pub(crate) fn offer(server: &Shared, sub: &Arc<Subscription>, msg: &Msg<'_>) -> Offered {
    let client = match &sub.owner {
        Owner::Client(c) => c,
        Owner::Internal(sink) => {
            if sub.claim() == Claim::Skip {
                return Offered::Refused;
            }
            return if sink.deliver(msg.from, msg.subject, msg.reply, msg.headers, msg.payload) {
                Offered::Queued { wake: false }
            } else {
                Offered::Refused
            };
        }
    };
    if let Some(filter) = &sub.deny_filter {
        if filter.withholds(&sub.subject, msg.subject) {
            return Offered::Refused;
        }
    }
    let claim = sub.claim();
    if claim == Claim::Skip {
        return Offered::Refused;
    }
    if claim == Claim::DeliverLast {
        crate::client_log!(
            Debug,
            client,
            "Auto-unsubscribe limit of {} reached for sid '{}'",
            sub.max(),
            String::from_utf8_lossy(&sub.sid)
        );
    }
    let headers = if client.headers() { msg.headers } else { None };
    let payload_len = msg.payload.len() + headers.map_or(0, <[u8]>::len);
    let push = match &msg.shared {
        Some(shared) => client.out.push_shared(
            payload_len,
            |buf| write_msg_head(buf, msg.subject, &sub.sid, msg.reply, headers, shared.len()),
            shared,
        ),
        None => client.out.push_msg(payload_len, |buf| {
            write_msg(buf, msg.subject, &sub.sid, msg.reply, headers, msg.payload)
        }),
    };
    if crate::log::enabled(crate::log::Level::Trace) && matches!(push, Push::Queued { .. }) {
        client.trace_delivery(msg.subject, &sub.sid, msg.reply, headers, msg.payload);
    }
    if claim == Claim::DeliverLast {
        if !sub.is_closed() {
            client.trace_delsub(&sub.sid);
        }
        server.remove_subscription(sub);
    }
    if let Some(reply) = msg.reply {
        client.grant_response(reply);
    }
    match push {
        Push::Queued { first } => Offered::Queued { wake: first },
        Push::SlowConsumer => {
            crate::client_log!(
                Info,
                client,
                "Slow Consumer Detected: MaxPending of {} Exceeded",
                server.opts.max_pending
            );
            server.count_slow_consumer();
            if let Some(account) = server.account_named(&client.account_name()) {
                account
                    .departed
                    .slow_consumers
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            client.out.wake();
            Offered::Refused
        }
        Push::Closed => Offered::Refused,
    }
}

/// Hands a receiver's queued frames to the kernel: directly, when its writer is idle, or by
/// waking the writer.
pub(crate) fn flush_client(c: &ClientHandle) {
    if !c.out.flush_inline(INLINE_FLUSH_MAX) {
        c.out.wake();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_responders_header_matches_nats_server() {
        let h = no_responders_header(b"nobody");
        assert_eq!(&h[..], b"NATS/1.0 503\r\nNats-Subject: nobody\r\n\r\n");
        assert_eq!(h.len(), 38);
    }
}
