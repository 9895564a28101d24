//! The last connections that closed, kept for `/connz?state=closed`: what they were, why they
//! ended and what they had done, as nats-server keeps them (`max_closed_clients`, 10,000 by
//! default). Each record is a snapshot; nothing of the live connection is held.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use parking_lot::Mutex;

use super::ClientHandle;

/// A subscription as it stood when its connection closed (or as it stands now).
#[derive(Debug, Clone)]
pub struct SubSnapshot {
    pub subject: String,
    pub queue: Option<String>,
    pub sid: String,
    pub msgs: u64,
    pub max: u64,
}

impl SubSnapshot {
    /// Every subscription of `client`, ordered by subject then sid.
    pub fn of(client: &ClientHandle) -> Vec<SubSnapshot> {
        let mut v: Vec<SubSnapshot> = client
            .subs
            .lock()
            .values()
            .map(|s| SubSnapshot {
                subject: String::from_utf8_lossy(&s.subject).into_owned(),
                queue: s
                    .queue
                    .as_ref()
                    .map(|q| String::from_utf8_lossy(q).into_owned()),
                sid: String::from_utf8_lossy(&s.sid).into_owned(),
                msgs: s.delivered(),
                max: s.max(),
            })
            .collect();
        v.sort_by(|a, b| (&a.subject, &a.sid).cmp(&(&b.subject, &b.sid)));
        v
    }
}

/// A connection that has closed.
#[derive(Debug, Clone)]
pub struct ClosedConn {
    pub cid: u64,
    pub ip: String,
    pub port: u16,
    pub start: DateTime<Utc>,
    pub last_activity: DateTime<Utc>,
    pub stop: DateTime<Utc>,
    pub reason: String,
    pub rtt: Duration,
    pub in_msgs: u64,
    pub in_bytes: u64,
    pub out_msgs: u64,
    pub out_bytes: u64,
    pub name: String,
    pub lang: String,
    pub version: String,
    pub user: String,
    pub account: String,
    pub tls: Option<(String, String)>,
    pub subs: Vec<SubSnapshot>,
}

impl ClosedConn {
    /// A snapshot of `client`, which is closing for `reason`. Must be taken before its
    /// subscriptions are dropped.
    pub fn snapshot(client: &ClientHandle, reason: String) -> ClosedConn {
        let start = client.started;
        let now = Instant::now();
        let stop = Utc::now();
        let idle = chrono::Duration::from_std(client.idle_for(now)).unwrap_or_default();
        let (in_msgs, in_bytes) = client.in_stats();
        let (out_msgs, out_bytes) = client.out.stats();
        let described = client.description();
        let text = |f: fn(&crate::system::ClientBlock) -> &String| {
            described
                .as_deref()
                .map(|b| f(b).clone())
                .unwrap_or_default()
        };
        ClosedConn {
            cid: client.id,
            ip: client.addr.map(|a| a.ip().to_string()).unwrap_or_default(),
            port: client.addr.map_or(0, |a| a.port()),
            start,
            last_activity: (stop - idle).max(start),
            stop,
            reason,
            rtt: client.rtt(),
            in_msgs,
            in_bytes,
            out_msgs,
            out_bytes,
            name: text(|b| &b.name),
            lang: text(|b| &b.lang),
            version: text(|b| &b.ver),
            user: client.auth_user(),
            account: client.account_name(),
            tls: client.tls(),
            subs: SubSnapshot::of(client),
        }
    }
}

impl ClosedConn {
    /// Takes the messages and bytes sent from the client's final counts.
    pub fn refresh_sent(&mut self, client: &ClientHandle) {
        (self.out_msgs, self.out_bytes) = client.out.stats();
    }
}

/// A ring of the most recent closed connections, oldest first.
pub struct ClosedRing {
    capacity: usize,
    ring: Mutex<VecDeque<Arc<ClosedConn>>>,
}

impl ClosedRing {
    pub fn new(capacity: usize) -> ClosedRing {
        ClosedRing {
            capacity,
            ring: Mutex::new(VecDeque::new()),
        }
    }

    /// Keeps `conn`, forgetting the oldest record when full.
    pub fn push(&self, conn: ClosedConn) {
        if self.capacity == 0 {
            return;
        }
        let mut ring = self.ring.lock();
        if ring.len() == self.capacity {
            ring.pop_front();
        }
        ring.push_back(Arc::new(conn));
    }

    /// The records, oldest first.
    pub fn list(&self) -> Vec<Arc<ClosedConn>> {
        self.ring.lock().iter().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn(cid: u64) -> ClosedConn {
        let client = ClientHandle::new_for_test(cid);
        ClosedConn::snapshot(&client, "Client Closed".into())
    }

    #[test]
    fn keeps_the_newest_up_to_capacity() {
        let ring = ClosedRing::new(3);
        for cid in 1..=5 {
            ring.push(conn(cid));
        }
        let cids: Vec<u64> = ring.list().iter().map(|c| c.cid).collect();
        assert_eq!(cids, vec![3, 4, 5]);
    }

    #[test]
    fn capacity_zero_keeps_nothing() {
        let ring = ClosedRing::new(0);
        ring.push(conn(1));
        assert!(ring.list().is_empty());
    }
}
