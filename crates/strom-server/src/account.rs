//! Accounts: isolated subject spaces. Every client belongs to exactly one; messages never cross
//! from one account's sublist to another's except through imports and exports.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::links::Links;
use crate::sublist::Sublist;

/// The account clients land in when no accounts are configured, as in nats-server.
pub const GLOBAL_ACCOUNT: &str = "$G";

/// One account and its subscriptions.
pub struct Account {
    pub name: String,
    pub sublist: Sublist,
    /// Exports and imports connecting this account to others.
    pub links: Links,
    /// Traffic of this account's clients that have gone, and its slow consumers, for
    /// `/accstatz`: live clients' counts are added when asked.
    pub departed: Departed,
    /// An account connections event is due shortly (events coalesce: see
    /// `system::account_conns_changed`).
    pub conns_event_due: std::sync::atomic::AtomicBool,
}

/// Counters an account keeps for clients that are no longer connected.
#[derive(Default)]
pub struct Departed {
    pub in_msgs: AtomicU64,
    pub in_bytes: AtomicU64,
    pub out_msgs: AtomicU64,
    pub out_bytes: AtomicU64,
    pub slow_consumers: AtomicU64,
}

impl Departed {
    /// Adds a departing client's received and sent counts.
    pub fn add(&self, (in_msgs, in_bytes): (u64, u64), (out_msgs, out_bytes): (u64, u64)) {
        self.in_msgs.fetch_add(in_msgs, Ordering::Relaxed);
        self.in_bytes.fetch_add(in_bytes, Ordering::Relaxed);
        self.out_msgs.fetch_add(out_msgs, Ordering::Relaxed);
        self.out_bytes.fetch_add(out_bytes, Ordering::Relaxed);
    }
}

impl Account {
    pub fn new(name: impl Into<String>) -> Self {
        Account {
            name: name.into(),
            sublist: Sublist::new(),
            links: Links::default(),
            departed: Departed::default(),
            conns_event_due: std::sync::atomic::AtomicBool::new(false),
        }
    }
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account").field("name", &self.name).finish()
    }
}
