//! A client's interest in a subject, optionally in a queue group, optionally with a message limit.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;

use crate::account::Account;
use crate::client::ClientHandle;
use crate::permissions::Permissions;

/// A receiver inside the server (a JetStream stream, the JetStream API): it takes each message
/// it matches straight from the publisher, and must not block. Returns whether it took the
/// message (a receiver that declines counts as nobody, for no-responders).
pub trait Internal: Send + Sync {
    /// `from` is the publishing client's id (0 for the server itself).
    fn deliver(
        &self,
        from: u64,
        subject: &[u8],
        reply: Option<&[u8]>,
        headers: Option<&[u8]>,
        payload: &[u8],
    ) -> bool;
}

/// Who holds a subscription.
pub enum Owner {
    Client(Arc<ClientHandle>),
    Internal(Arc<dyn Internal>),
}

/// One `SUB`, or an internal subscription of the server. Shared between the owning client's
/// subscription map, the sublist, and match results cached by publishers.
pub struct Subscription {
    pub owner: Owner,
    /// The account whose sublist holds this subscription.
    pub account: Arc<Account>,
    pub subject: Bytes,
    pub queue: Option<Bytes>,
    pub sid: Bytes,
    /// Set for a wildcard subscription whose owner has subscribe deny rules: messages on denied
    /// subjects are withheld at delivery, as nats-server does.
    pub deny_filter: Option<Arc<Permissions>>,
    /// Auto-unsubscribe limit from `UNSUB sid max`; 0 means none.
    max: AtomicU64,
    delivered: AtomicU64,
    closed: AtomicBool,
}

/// What a delivery attempt decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// Deliver; more may follow.
    Deliver,
    /// Deliver; this was the last one allowed, so remove the subscription.
    DeliverLast,
    /// Do not deliver: unsubscribed or over its limit.
    Skip,
}

impl Subscription {
    pub fn new(
        client: Arc<ClientHandle>,
        account: Arc<Account>,
        subject: Bytes,
        queue: Option<Bytes>,
        sid: Bytes,
    ) -> Self {
        Subscription {
            owner: Owner::Client(client),
            account,
            subject,
            queue,
            sid,
            deny_filter: None,
            max: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
            closed: AtomicBool::new(false),
        }
    }

    /// A subscription of the server itself on `subject`.
    pub fn internal(account: Arc<Account>, subject: Bytes, sink: Arc<dyn Internal>) -> Self {
        Subscription {
            owner: Owner::Internal(sink),
            account,
            subject,
            queue: None,
            sid: Bytes::new(),
            deny_filter: None,
            max: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
            closed: AtomicBool::new(false),
        }
    }

    /// Makes this (internal) subscription a member of the queue group `queue`.
    pub fn in_queue(mut self, queue: &str) -> Self {
        self.queue = Some(Bytes::copy_from_slice(queue.as_bytes()));
        self
    }

    /// The client holding this subscription; `None` for the server's own.
    #[inline]
    pub fn client(&self) -> Option<&Arc<ClientHandle>> {
        match &self.owner {
            Owner::Client(c) => Some(c),
            Owner::Internal(_) => None,
        }
    }

    /// The id of the client holding it; 0 for the server's own.
    #[inline]
    pub fn client_id(&self) -> u64 {
        self.client().map_or(0, |c| c.id)
    }

    /// Withholds denied subjects from this (wildcard) subscription.
    pub fn with_deny_filter(mut self, perms: Option<Arc<Permissions>>) -> Self {
        self.deny_filter = perms;
        self
    }

    /// Claims one delivery, counting it against the auto-unsubscribe limit.
    #[inline]
    pub fn claim(&self) -> Claim {
        if self.closed.load(Ordering::Acquire) {
            return Claim::Skip;
        }
        let n = self.delivered.fetch_add(1, Ordering::AcqRel) + 1;
        let max = self.max.load(Ordering::Acquire);
        if max == 0 {
            return Claim::Deliver;
        }
        match n.cmp(&max) {
            std::cmp::Ordering::Less => Claim::Deliver,
            std::cmp::Ordering::Equal => Claim::DeliverLast,
            std::cmp::Ordering::Greater => Claim::Skip,
        }
    }

    /// Sets the auto-unsubscribe limit. Returns true when the subscription has already had that many
    /// messages and must go now.
    pub fn set_max(&self, max: u64) -> bool {
        self.max.store(max, Ordering::Release);
        max == 0 || self.delivered.load(Ordering::Acquire) >= max
    }

    /// Marks the subscription gone; returns false when it already was.
    pub fn close(&self) -> bool {
        !self.closed.swap(true, Ordering::AcqRel)
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// The auto-unsubscribe limit; 0 when there is none.
    pub fn max(&self) -> u64 {
        self.max.load(Ordering::Relaxed)
    }

    /// Number of messages delivered so far.
    pub fn delivered(&self) -> u64 {
        self.delivered.load(Ordering::Relaxed)
    }
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("cid", &self.client_id())
            .field("subject", &String::from_utf8_lossy(&self.subject))
            .field(
                "queue",
                &self.queue.as_ref().map(|q| String::from_utf8_lossy(q)),
            )
            .field("sid", &String::from_utf8_lossy(&self.sid))
            .finish()
    }
}
