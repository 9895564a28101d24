//! Accounts: isolated subject spaces. Every client belongs to exactly one; messages never cross
//! from one account's sublist to another's except through imports and exports.

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
}

impl Account {
    pub fn new(name: impl Into<String>) -> Self {
        Account {
            name: name.into(),
            sublist: Sublist::new(),
            links: Links::default(),
        }
    }
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account").field("name", &self.name).finish()
    }
}
