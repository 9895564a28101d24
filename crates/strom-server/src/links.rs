//! Exports and imports between accounts: the only ways a message crosses from one account's
//! subject space into another's.
//!
//! - A **stream import** copies messages published in the exporting account on the exported
//!   subjects into the importing account, under a prefix or another subject.
//! - A **service import** forwards requests published in the importing account to the exporting
//!   account. The reply subject is replaced by a one-time `_R_.…` subject in the exporter; the
//!   responder's answer to it is carried back to the requester's original reply subject in the
//!   importer, as nats-server does.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::{Mutex, RwLock};
use rand::Rng;
use rustc_hash::FxHashMap;
use strom_proto::subject::matches;

use crate::account::Account;

/// What a configuration declares, by account name; wired into accounts at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Import {
    Stream {
        exporter: String,
        importer: String,
        /// The subjects imported, as the exporter names them.
        subject: String,
        /// `prefix: p` puts `p.` before every subject.
        prefix: Option<String>,
        /// `to: s` delivers a literal import under another literal subject.
        to: Option<String>,
    },
    Service {
        exporter: String,
        importer: String,
        /// The exporter's subject.
        subject: String,
        /// The subject requesters use in the importing account (the exporter's by default).
        to: Option<String>,
    },
}

/// One `exports` entry of an account's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Export {
    /// `stream` or `service`.
    pub kind: &'static str,
    /// The exporting account.
    pub account: String,
    pub subject: String,
    /// The accounts allowed to import it; `None` is everyone.
    pub accounts: Option<Vec<String>>,
    /// How many answers a service request may get, as nats-server names it: `Singleton`
    /// (one, the default), `Streamed` or `Chunked` (many).
    pub response: &'static str,
}

impl Export {
    /// Whether a request may get many answers.
    pub fn streamed(&self) -> bool {
        self.response != "Singleton"
    }
}

/// A stream import, seen from the exporting account.
pub struct StreamOut {
    filter: Vec<u8>,
    to: Weak<Account>,
    prefix: Option<Vec<u8>>,
    rename: Option<Vec<u8>>,
}

impl StreamOut {
    /// The subject the importer sees a message on `subject` under.
    fn mapped(&self, subject: &[u8]) -> Bytes {
        match (&self.rename, &self.prefix) {
            (Some(to), _) => Bytes::copy_from_slice(to),
            (None, Some(p)) => Bytes::from([p.as_slice(), b".", subject].concat()),
            (None, None) => Bytes::copy_from_slice(subject),
        }
    }
}

/// A service import, seen from the importing account.
pub struct ServiceIn {
    local: Vec<u8>,
    exporter: Weak<Account>,
    remote: Vec<u8>,
    /// Answers may be many (a streamed export).
    streamed: bool,
}

/// A pending answer to a forwarded request.
struct Response {
    to: Weak<Account>,
    reply: Bytes,
    expires: Instant,
    /// Kept for more answers until it expires, rather than used once.
    streamed: bool,
}

/// Pending answers kept at most per account.
const MAX_RESPONSES: usize = 64 * 1024;

/// Responses nobody sent are forgotten after this long.
const RESPONSE_TTL: Duration = Duration::from_secs(120);

/// An account's links to others.
#[derive(Default)]
pub struct Links {
    /// Whether any link exists: publishes in unlinked accounts skip everything here.
    any: AtomicBool,
    streams_out: RwLock<Vec<StreamOut>>,
    services_in: RwLock<Vec<ServiceIn>>,
    responses: Mutex<FxHashMap<Bytes, Response>>,
    /// The account these links belong to, for answers that must find their way back.
    owner: RwLock<Weak<Account>>,
    /// Pending answers at which the next sweep runs (0 until the first answer is expected).
    next_sweep: AtomicUsize,
}

/// Where a message goes in another account.
pub struct Hop {
    pub account: Arc<Account>,
    pub subject: Bytes,
    pub reply: Option<Bytes>,
}

impl Links {
    #[inline]
    pub fn any(&self) -> bool {
        self.any.load(Ordering::Relaxed)
    }

    /// The accounts importing `subject` as a stream from this one, with the subject each
    /// sees it under.
    pub fn imported(&self, subject: &[u8]) -> Vec<(Arc<Account>, Bytes)> {
        self.streams_out
            .read()
            .iter()
            .filter(|s| matches(&s.filter, subject))
            .filter_map(|s| Some((s.to.upgrade()?, s.mapped(subject))))
            .collect()
    }

    /// Where else a message published in this account on `subject` goes.
    pub fn hops(&self, subject: &[u8], reply: Option<&[u8]>) -> Vec<Hop> {
        let mut out = Vec::new();
        for s in self.streams_out.read().iter() {
            if !matches(&s.filter, subject) {
                continue;
            }
            let Some(account) = s.to.upgrade() else {
                continue;
            };
            out.push(Hop {
                account,
                subject: s.mapped(subject),
                reply: reply.map(Bytes::copy_from_slice),
            });
        }
        for s in self.services_in.read().iter() {
            if !matches(&s.local, subject) {
                continue;
            }
            let Some(account) = s.exporter.upgrade() else {
                continue;
            };
            let remote = if strom_proto::subject::has_wildcard(&s.remote) {
                Bytes::copy_from_slice(subject)
            } else {
                Bytes::copy_from_slice(&s.remote)
            };
            let reply = reply.map(|r| account.links.expect_response(r, self, s.streamed));
            out.push(Hop {
                account,
                subject: remote,
                reply,
            });
        }
        if subject.starts_with(b"_R_.") {
            if let Some((account, subject)) = self.answer_route(subject, true) {
                out.push(Hop {
                    account,
                    subject,
                    reply: None,
                });
            }
        }
        out
    }

    /// Forgets the route of a request that is over (a streamed export keeps routes until
    /// they expire otherwise); nothing for other subjects.
    pub fn forget_answer(&self, subject: &[u8]) {
        if subject.starts_with(b"_R_.") && self.any() {
            self.responses.lock().remove(subject);
        }
    }

    /// Where an answer on the one-time reply subject `subject` goes: the requester's account
    /// and reply subject. `using` spends a single-answer route (a streamed one stays until it
    /// expires); without it this only looks.
    pub fn answer_route(&self, subject: &[u8], using: bool) -> Option<(Arc<Account>, Bytes)> {
        let mut responses = self.responses.lock();
        let r = responses.get(subject)?;
        let live = r.expires > Instant::now();
        let found = live
            .then(|| r.to.upgrade().map(|a| (a, r.reply.clone())))
            .flatten();
        if !live || (using && !r.streamed) {
            responses.remove(subject);
        }
        found
    }

    /// Registers a one-time reply subject in this (exporting) account that leads back to
    /// `reply` in the account whose links are `importer`.
    fn expect_response(&self, reply: &[u8], importer: &Links, streamed: bool) -> Bytes {
        let mut rng = rand::thread_rng();
        let token: String = (0..16)
            .map(|_| {
                char::from(
                    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
                        [rng.gen_range(0..62)],
                )
            })
            .collect();
        let subject = Bytes::from(format!("_R_.{token}"));
        let now = Instant::now();
        let mut responses = self.responses.lock();
        // Forget answers that never came: at most every time the map doubles (amortized O(1)),
        // and never more than MAX_RESPONSES at once.
        if responses.len() >= self.next_sweep.load(Ordering::Relaxed) {
            responses.retain(|_, r| r.expires > now);
            if responses.len() >= MAX_RESPONSES {
                // Still too many: the oldest half goes (those nearest their expiry).
                let mut by_age: Vec<Instant> = responses.values().map(|r| r.expires).collect();
                by_age.sort_unstable();
                let cut = by_age[by_age.len() / 2];
                responses.retain(|_, r| r.expires > cut);
            }
            self.next_sweep.store(
                (responses.len() * 2).clamp(1024, MAX_RESPONSES),
                Ordering::Relaxed,
            );
        }
        responses.insert(
            subject.clone(),
            Response {
                to: importer.owner.read().clone(),
                reply: Bytes::copy_from_slice(reply),
                expires: now + RESPONSE_TTL,
                streamed,
            },
        );
        self.any.store(true, Ordering::Relaxed);
        subject
    }
}

/// Why an import cannot be wired.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("import from unknown account \"{0}\"")]
    UnknownAccount(String),
}

/// Wires `imports` into `accounts` (by name).
///
/// # Errors
/// [`LinkError::UnknownAccount`] when an import names an account that does not exist.
pub fn wire(
    imports: &[Import],
    exports: &[Export],
    account: impl Fn(&str) -> Option<Arc<Account>>,
) -> Result<(), LinkError> {
    let get = |n: &str| account(n).ok_or_else(|| LinkError::UnknownAccount(n.to_string()));
    for import in imports {
        match import {
            Import::Stream {
                exporter,
                importer,
                subject,
                prefix,
                to,
            } => {
                let (exp, imp) = (get(exporter)?, get(importer)?);
                exp.links.streams_out.write().push(StreamOut {
                    filter: subject.as_bytes().to_vec(),
                    to: Arc::downgrade(&imp),
                    prefix: prefix.as_ref().map(|p| p.as_bytes().to_vec()),
                    rename: to.as_ref().map(|t| t.as_bytes().to_vec()),
                });
                exp.links.any.store(true, Ordering::Relaxed);
            }
            Import::Service {
                exporter,
                importer,
                subject,
                to,
            } => {
                let (exp, imp) = (get(exporter)?, get(importer)?);
                *exp.links.owner.write() = Arc::downgrade(&exp);
                *imp.links.owner.write() = Arc::downgrade(&imp);
                let streamed = exports.iter().any(|e| {
                    e.kind == "service"
                        && e.account == *exporter
                        && e.streamed()
                        && matches(e.subject.as_bytes(), subject.as_bytes())
                });
                imp.links.services_in.write().push(ServiceIn {
                    local: to.as_deref().unwrap_or(subject).as_bytes().to_vec(),
                    exporter: Arc::downgrade(&exp),
                    remote: subject.as_bytes().to_vec(),
                    streamed,
                });
                imp.links.any.store(true, Ordering::Relaxed);
            }
        }
    }
    Ok(())
}
