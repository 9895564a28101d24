//! `allow_responses`: a responder may publish to the reply subject of a request it received, a
//! limited number of times and for a limited time, even where its publish rules say no.

use std::time::{Duration, Instant};

use bytes::Bytes;
use rustc_hash::FxHashMap;

use crate::permissions::ResponsePermission;

/// Reply subjects a client may answer, and how many answers each has left.
#[derive(Debug)]
pub struct ResponseGrants {
    limits: ResponsePermission,
    grants: FxHashMap<Bytes, (u32, Option<Instant>)>,
    /// Size at which the next sweep runs.
    next_sweep: usize,
}

/// Grants kept before expired ones are first swept.
const SWEEP_AT: usize = 1024;
/// Grants kept at most.
const MAX_GRANTS: usize = 16 * 1024;

impl ResponseGrants {
    pub fn new(limits: ResponsePermission) -> Self {
        ResponseGrants {
            limits,
            grants: FxHashMap::default(),
            next_sweep: SWEEP_AT,
        }
    }

    /// A request with `reply` was delivered: allow answering it.
    pub fn grant(&mut self, reply: &[u8], now: Instant) {
        if self.grants.len() >= self.next_sweep {
            self.grants
                .retain(|_, (_, exp)| exp.is_none_or(|e| e > now));
            // Without an expiry, requests nobody answers would pile up for ever: past the cap,
            // forget an arbitrary half (their requesters have long given up).
            if self.grants.len() >= MAX_GRANTS {
                let mut keep = false;
                self.grants.retain(|_, _| {
                    keep = !keep;
                    keep
                });
            }
            // Sweep again only when the map has doubled: amortized O(1) per grant.
            self.next_sweep = (self.grants.len() * 2).clamp(SWEEP_AT, MAX_GRANTS);
        }
        let expires = (self.limits.expires > Duration::ZERO).then(|| now + self.limits.expires);
        self.grants.insert(
            Bytes::copy_from_slice(reply),
            (self.limits.max.max(1), expires),
        );
    }

    /// Uses one answer to `subject`, if one is allowed.
    pub fn take(&mut self, subject: &[u8], now: Instant) -> bool {
        let Some((left, expires)) = self.grants.get_mut(subject) else {
            return false;
        };
        if expires.is_some_and(|e| e <= now) {
            self.grants.remove(subject);
            return false;
        }
        *left -= 1;
        if *left == 0 {
            self.grants.remove(subject);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_reply_per_request_by_default() {
        let mut g = ResponseGrants::new(ResponsePermission::default());
        let now = Instant::now();
        g.grant(b"_INBOX.a", now);
        assert!(g.take(b"_INBOX.a", now));
        assert!(!g.take(b"_INBOX.a", now));
        assert!(!g.take(b"_INBOX.b", now));
    }

    #[test]
    fn unanswered_grants_without_expiry_stay_bounded() {
        let mut g = ResponseGrants::new(ResponsePermission::default());
        let now = Instant::now();
        for i in 0..100_000u32 {
            g.grant(format!("_INBOX.{i}").as_bytes(), now);
        }
        assert!(g.grants.len() <= MAX_GRANTS, "{}", g.grants.len());
        assert!(g.take(b"_INBOX.99999", now), "the newest grant is kept");
    }

    #[test]
    fn max_and_expiry() {
        let mut g = ResponseGrants::new(ResponsePermission {
            max: 2,
            expires: Duration::from_millis(10),
        });
        let now = Instant::now();
        g.grant(b"r", now);
        assert!(g.take(b"r", now));
        assert!(!g.take(b"r", now + Duration::from_millis(20)));
    }
}
