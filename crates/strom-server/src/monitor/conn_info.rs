//! One connection as `/connz` shows it (nats-server's `ConnInfo`), made from a live client or
//! from the record of a closed one. Field names, order and omissions follow nats-server.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::account::GLOBAL_ACCOUNT;
use crate::client::{ClientHandle, ClosedConn, SubSnapshot};
use crate::jetstream::wire::go_duration_ns;
use crate::system::timestamp;

#[derive(Serialize)]
pub struct ConnInfo {
    pub cid: u64,
    kind: &'static str,
    #[serde(rename = "type")]
    client_type: &'static str,
    ip: String,
    port: u16,
    start: String,
    last_activity: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    stop: Option<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    reason: String,
    rtt: String,
    uptime: String,
    idle: String,
    pending_bytes: usize,
    in_msgs: u64,
    out_msgs: u64,
    in_bytes: u64,
    out_bytes: u64,
    subscriptions: usize,
    #[serde(skip_serializing_if = "String::is_empty")]
    name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    lang: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    tls_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tls_cipher_suite: Option<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    authorized_user: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    account: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    subscriptions_list: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    subscriptions_list_detail: Option<Vec<SubDetail>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name_tag: Option<String>,
}

/// The instants `/connz` sorts by.
#[derive(Clone, Copy)]
pub struct Times {
    pub start: DateTime<Utc>,
    pub last: DateTime<Utc>,
    pub stop: Option<DateTime<Utc>>,
    pub rtt: Duration,
}

impl Times {
    /// How long the connection lasted, or has lasted so far.
    pub fn uptime(&self, now: DateTime<Utc>) -> chrono::Duration {
        self.stop.unwrap_or(now) - self.start
    }
}

/// nats-server's `SubDetail`: `/subsz` names the account, `/connz` does not.
#[derive(Serialize)]
pub struct SubDetail {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_tag: Option<String>,
    pub subject: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qgroup: Option<String>,
    pub sid: String,
    pub msgs: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub max: u64,
    pub cid: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// What a page asks for beyond the counters.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub enum SubsView {
    #[default]
    None,
    List,
    Detail,
}

/// Where a row comes from: kept so a page can add subscriptions and identities to just the
/// rows it shows.
pub enum Source {
    Open(Arc<ClientHandle>),
    Closed(Arc<ClosedConn>),
}

/// What `/connz` sorts by: a connection's counters and times, read without building its row.
pub struct SortFields {
    pub cid: u64,
    pub subs: usize,
    pub pending: usize,
    pub in_msgs: u64,
    pub out_msgs: u64,
    pub in_bytes: u64,
    pub out_bytes: u64,
    pub times: Times,
}

impl Source {
    /// The fields to sort by, at `now`.
    pub fn sort_fields(&self, now: DateTime<Utc>) -> SortFields {
        match self {
            Source::Open(c) => {
                let (in_msgs, in_bytes) = c.in_stats();
                let (out_msgs, out_bytes) = c.out.stats();
                SortFields {
                    cid: c.id,
                    subs: c.num_subs(),
                    pending: c.out.pending_bytes(),
                    in_msgs,
                    out_msgs,
                    in_bytes,
                    out_bytes,
                    times: open_times(c, now),
                }
            }
            Source::Closed(c) => SortFields {
                cid: c.cid,
                subs: c.subs.len(),
                pending: 0,
                in_msgs: c.in_msgs,
                out_msgs: c.out_msgs,
                in_bytes: c.in_bytes,
                out_bytes: c.out_bytes,
                times: closed_times(c),
            },
        }
    }

    pub fn account(&self) -> String {
        match self {
            Source::Open(c) => c.account_name(),
            Source::Closed(c) => c.account.clone(),
        }
    }

    pub fn user(&self) -> String {
        match self {
            Source::Open(c) => c.auth_user(),
            Source::Closed(c) => c.user.clone(),
        }
    }

    pub fn subs(&self) -> Vec<SubSnapshot> {
        match self {
            Source::Open(c) => SubSnapshot::of(c),
            Source::Closed(c) => c.subs.clone(),
        }
    }

    /// The counters and times of this connection at `now`.
    pub fn info(&self, now: DateTime<Utc>) -> ConnInfo {
        match self {
            Source::Open(c) => open_info(c, now),
            Source::Closed(c) => closed_info(c),
        }
    }

    /// Adds the subscriptions and the identity a page asked for.
    pub fn detail(&self, info: &mut ConnInfo, subs: SubsView, auth: bool) {
        if subs != SubsView::None && info.subscriptions > 0 {
            let list = self.subs();
            // nats-server names the account in a closed connection's subscriptions only.
            let account = matches!(self, Source::Closed(_)).then(|| self.account());
            match subs {
                SubsView::Detail => {
                    info.subscriptions_list_detail = Some(
                        list.into_iter()
                            .map(|s| SubDetail {
                                account: account.clone(),
                                account_tag: account.clone(),
                                subject: s.subject,
                                qgroup: s.queue,
                                sid: s.sid,
                                msgs: s.msgs,
                                max: s.max,
                                cid: info.cid,
                            })
                            .collect(),
                    )
                }
                _ => info.subscriptions_list = Some(list.into_iter().map(|s| s.subject).collect()),
            }
        }
        if auth {
            info.authorized_user = self.user();
            let account = self.account();
            // The name tag of an account without a JWT is its name; nats-server leaves it out
            // for closed connections of the global account.
            let global = account == GLOBAL_ACCOUNT;
            if matches!(self, Source::Open(_)) || !global {
                info.name_tag = Some(account.clone());
            }
            if !global {
                info.account = account;
            }
        }
    }
}

/// Go's `time.Duration` in whole seconds with days and years, as nats-server's `myUptime`.
pub fn uptime(d: chrono::Duration) -> String {
    let secs = d.num_seconds().max(0);
    let (mins, hours, days) = (secs / 60, secs / 3600, secs / 86400);
    let years = days / 365;
    if years > 0 {
        format!(
            "{years}y{}d{}h{}m{}s",
            days % 365,
            hours % 24,
            mins % 60,
            secs % 60
        )
    } else if days > 0 {
        format!("{days}d{}h{}m{}s", hours % 24, mins % 60, secs % 60)
    } else if hours > 0 {
        format!("{hours}h{}m{}s", mins % 60, secs % 60)
    } else if mins > 0 {
        format!("{mins}m{}s", secs % 60)
    } else {
        format!("{secs}s")
    }
}

/// A round trip as nats-server prints it: microseconds between 1 µs and 1 ms, else nanoseconds.
fn rtt_text(rtt: Duration) -> String {
    let ns = rtt.as_nanos() as i64;
    let ns = if (1_000..1_000_000).contains(&ns) {
        ns - ns % 1_000
    } else {
        ns
    };
    go_duration_ns(ns)
}

fn base(times: Times, now: DateTime<Utc>) -> ConnInfo {
    ConnInfo {
        cid: 0,
        kind: "Client",
        client_type: "nats",
        ip: String::new(),
        port: 0,
        start: timestamp(times.start),
        last_activity: timestamp(times.last),
        stop: times.stop.map(timestamp),
        reason: String::new(),
        rtt: rtt_text(times.rtt),
        uptime: uptime(times.uptime(now)),
        idle: uptime(times.stop.unwrap_or(now) - times.last),
        pending_bytes: 0,
        in_msgs: 0,
        out_msgs: 0,
        in_bytes: 0,
        out_bytes: 0,
        subscriptions: 0,
        name: String::new(),
        lang: String::new(),
        version: String::new(),
        tls_version: None,
        tls_cipher_suite: None,
        authorized_user: String::new(),
        account: String::new(),
        subscriptions_list: None,
        subscriptions_list_detail: None,
        name_tag: None,
    }
}

fn open_times(c: &ClientHandle, now: DateTime<Utc>) -> Times {
    let idle =
        chrono::Duration::from_std(c.idle_for(std::time::Instant::now())).unwrap_or_default();
    Times {
        start: c.started,
        last: (now - idle).max(c.started),
        stop: None,
        rtt: c.rtt(),
    }
}

fn closed_times(c: &ClosedConn) -> Times {
    Times {
        start: c.start,
        last: c.last_activity,
        stop: Some(c.stop),
        rtt: c.rtt,
    }
}

fn open_info(c: &ClientHandle, now: DateTime<Utc>) -> ConnInfo {
    let times = open_times(c, now);
    // Like nats-server, asking is what starts a measurement for a client that has none.
    c.request_rtt();
    let (in_msgs, in_bytes) = c.in_stats();
    let (out_msgs, out_bytes) = c.out.stats();
    let described = c.description();
    let text = |f: fn(&crate::system::ClientBlock) -> &String| {
        described
            .as_deref()
            .map(|b| f(b).clone())
            .unwrap_or_default()
    };
    let (tls_version, tls_cipher_suite) = c.tls().unzip();
    ConnInfo {
        cid: c.id,
        ip: c.addr.map(|a| a.ip().to_string()).unwrap_or_default(),
        port: c.addr.map_or(0, |a| a.port()),
        pending_bytes: c.out.pending_bytes(),
        in_msgs,
        out_msgs,
        in_bytes,
        out_bytes,
        subscriptions: c.num_subs(),
        name: text(|b| &b.name),
        lang: text(|b| &b.lang),
        version: text(|b| &b.ver),
        tls_version,
        tls_cipher_suite,
        ..base(times, now)
    }
}

fn closed_info(c: &ClosedConn) -> ConnInfo {
    let times = closed_times(c);
    let (tls_version, tls_cipher_suite) = c.tls.clone().unzip();
    ConnInfo {
        cid: c.cid,
        ip: c.ip.clone(),
        port: c.port,
        reason: c.reason.clone(),
        in_msgs: c.in_msgs,
        out_msgs: c.out_msgs,
        in_bytes: c.in_bytes,
        out_bytes: c.out_bytes,
        subscriptions: c.subs.len(),
        name: c.name.clone(),
        lang: c.lang.clone(),
        version: c.version.clone(),
        tls_version,
        tls_cipher_suite,
        ..base(times, c.stop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uptimes_read_as_nats_servers() {
        let d = chrono::Duration::seconds;
        assert_eq!(uptime(d(0)), "0s");
        assert_eq!(uptime(d(61)), "1m1s");
        assert_eq!(uptime(d(3600 + 2)), "1h0m2s");
        assert_eq!(uptime(d(86400 * 2 + 5)), "2d0h0m5s");
        assert_eq!(uptime(d(86400 * 400)), "1y35d0h0m0s");
    }

    #[test]
    fn round_trips_read_as_nats_servers() {
        assert_eq!(rtt_text(Duration::ZERO), "0s");
        assert_eq!(rtt_text(Duration::from_nanos(1_234_567)), "1.234567ms");
        assert_eq!(rtt_text(Duration::from_nanos(123_456)), "123µs");
        assert_eq!(rtt_text(Duration::from_nanos(999)), "999ns");
    }
}
