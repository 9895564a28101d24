//! `/connz`: the connections open now, or closed lately, in nats-server's JSON, filtered,
//! sorted and paged as its query asks: `state`, `cid`, `acc`, `user`,
//! `sort`, `offset`, `limit`, `subs` (`true` or `detail`) and `auth`. Subscriptions and
//! identities are gathered for the rows of the page only. Like nats-server's HTTP handler,
//! `filter_subject` is not read.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::conn_info::{ConnInfo, Source, SubsView};
use super::query::Query;
use crate::server::Shared;

/// nats-server's `DefaultConnListSize`.
const DEFAULT_LIMIT: usize = 1024;

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Open,
    Closed,
    All,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Sort {
    Cid,
    Subs,
    Pending,
    MsgsTo,
    MsgsFrom,
    BytesTo,
    BytesFrom,
    Last,
    Idle,
    Uptime,
    Stop,
    Reason,
    Rtt,
}

impl Sort {
    fn parse(s: &str) -> Option<Sort> {
        Some(match s {
            "" | "cid" | "start" => Sort::Cid,
            "subs" => Sort::Subs,
            "pending" => Sort::Pending,
            "msgs_to" => Sort::MsgsTo,
            "msgs_from" => Sort::MsgsFrom,
            "bytes_to" => Sort::BytesTo,
            "bytes_from" => Sort::BytesFrom,
            "last" => Sort::Last,
            "idle" => Sort::Idle,
            "uptime" => Sort::Uptime,
            "stop" => Sort::Stop,
            "reason" => Sort::Reason,
            "rtt" => Sort::Rtt,
            _ => return None,
        })
    }
}

/// A `/connz` query.
pub struct Options {
    sort: Sort,
    auth: bool,
    subs: SubsView,
    offset: usize,
    limit: usize,
    cid: u64,
    state: State,
    user: String,
    account: String,
}

/// `/connz` options as a system-account request carries them (nats-server's `ConnzOptions`).
#[derive(Deserialize, Default)]
#[serde(default)]
struct JsonOptions {
    sort: String,
    auth: bool,
    subscriptions: bool,
    subscriptions_detail: bool,
    offset: i64,
    limit: i64,
    cid: u64,
    /// 0 open, 1 closed, 2 all.
    state: u8,
    user: String,
    acc: String,
}

impl Options {
    /// Reads the query; the error is the text nats-server answers with 400.
    pub fn parse(query: Option<&str>) -> Result<Options, String> {
        let q = Query::parse(query);
        let sort = q.get("sort");
        let auth = q.boolean("auth")?;
        let subs = if q.get("subs").eq_ignore_ascii_case("detail") {
            SubsView::Detail
        } else if q.boolean("subs")? {
            SubsView::List
        } else {
            SubsView::None
        };
        let (offset, limit, cid) = (q.int("offset")?, q.int("limit")?, q.uint("cid")?);
        let state = match q.get("state").to_ascii_lowercase().as_str() {
            "" | "open" => State::Open,
            "closed" => State::Closed,
            "any" | "all" => State::All,
            other => return Err(format!("Error decoding state for {other}")),
        };
        Options::new(sort, auth, subs, (offset, limit), cid, state)
            .map(|o| o.only(q.get("user"), q.get("acc")))
    }

    /// Reads a system-account request's JSON (empty: the defaults); `account` narrows it to
    /// one account, as `$SYS.REQ.ACCOUNT.<account>.CONNZ` does. The error carries
    /// nats-server's code: 400 for a body that is not the options' JSON, 500 for options
    /// that make no sense.
    pub fn from_json(body: &[u8], account: Option<&str>) -> Result<Options, (u16, String)> {
        let j: JsonOptions = super::request_options(body).map_err(|e| (400, e))?;
        let subs = match (j.subscriptions_detail, j.subscriptions) {
            (true, _) => SubsView::Detail,
            (false, true) => SubsView::List,
            _ => SubsView::None,
        };
        let state = match j.state {
            1 => State::Closed,
            2 => State::All,
            _ => State::Open,
        };
        Options::new(&j.sort, j.auth, subs, (j.offset, j.limit), j.cid, state)
            .map(|o| o.only(&j.user, account.unwrap_or(&j.acc)))
            .map_err(|e| (500, e))
    }

    fn new(
        sort_text: &str,
        auth: bool,
        subs: SubsView,
        (offset, limit): (i64, i64),
        cid: u64,
        state: State,
    ) -> Result<Options, String> {
        let sort =
            Sort::parse(sort_text).ok_or_else(|| format!("invalid sorting option: {sort_text}"))?;
        if sort == Sort::Stop && state != State::Closed {
            return Err("sort by stop only valid on closed connections".into());
        }
        if sort == Sort::Reason && state != State::Closed {
            return Err("sort by reason only valid on closed connections".into());
        }
        let limit = match limit {
            n if n <= 0 => DEFAULT_LIMIT,
            n => usize::try_from(n).unwrap_or(DEFAULT_LIMIT),
        };
        Ok(Options {
            sort,
            auth,
            subs,
            offset: usize::try_from(offset).unwrap_or(0),
            limit: if cid > 0 { 1 } else { limit },
            cid,
            state,
            user: String::new(),
            account: String::new(),
        })
    }

    /// Narrows to one user and one account (empty: any).
    fn only(mut self, user: &str, account: &str) -> Options {
        self.user = user.to_string();
        self.account = account.to_string();
        self
    }
}

#[derive(Serialize)]
struct Connz<'a> {
    server_id: &'a str,
    now: String,
    num_connections: usize,
    total: usize,
    offset: usize,
    limit: usize,
    connections: Vec<ConnInfo>,
}

/// The connections the query selects, before sorting, and nats-server's `total`: how many
/// there are in the state and account asked for, before the other filters.
fn select(s: &Shared, o: &Options) -> (Vec<Source>, usize) {
    let in_account = |c: &Source| o.account.is_empty() || c.account() == o.account;
    let mut open: Vec<Source> = Vec::new();
    if matches!(o.state, State::Open | State::All) {
        open = s.clients().into_iter().map(Source::Open).collect();
        open.retain(in_account);
    }
    let mut closed: Vec<Source> = Vec::new();
    if matches!(o.state, State::Closed | State::All) {
        closed = s.closed.list().into_iter().map(Source::Closed).collect();
        closed.retain(in_account);
    }
    let total = open.len() + closed.len();
    if o.cid > 0 {
        // A cid found open is not looked for among the closed.
        open.retain(|c| matches!(c, Source::Open(h) if h.id == o.cid));
        closed.retain(|c| open.is_empty() && matches!(c, Source::Closed(r) if r.cid == o.cid));
        closed.truncate(1);
    }
    let rows = open
        .into_iter()
        .chain(closed)
        .filter(|c| o.user.is_empty() || c.user() == o.user)
        .collect();
    (rows, total)
}

/// The `/connz` body, or the text of a 400.
pub fn connz(s: &Shared, o: &Options) -> Result<Vec<u8>, String> {
    let now = Utc::now();
    let (mut rows, total) = select(s, o);
    // Sorted on keys read once per connection; rows are built for the page only, so a server
    // with 10,000 connections builds 1,024 of them. Every order but by cid is descending,
    // except uptime (shortest first) and reason.
    let nanos = |t: DateTime<Utc>| i128::from(t.timestamp_nanos_opt().unwrap_or(0));
    match o.sort {
        Sort::Reason => rows.sort_by(|a, b| reason(a).cmp(reason(b))),
        sort => rows.sort_by_cached_key(|src| {
            let f = src.sort_fields(now);
            let t = f.times;
            let n = |x: u64| i128::from(x);
            let key = match sort {
                Sort::Subs => -(f.subs as i128),
                Sort::Pending => -(f.pending as i128),
                Sort::MsgsTo => -n(f.out_msgs),
                Sort::MsgsFrom => -n(f.in_msgs),
                Sort::BytesTo => -n(f.out_bytes),
                Sort::BytesFrom => -n(f.in_bytes),
                Sort::Last => -nanos(t.last),
                Sort::Idle => nanos(t.last),
                Sort::Uptime => i128::from(t.uptime(now).num_nanoseconds().unwrap_or(i64::MAX)),
                Sort::Stop => -t.stop.map_or(0, nanos),
                Sort::Rtt => -(t.rtt.as_nanos() as i128),
                Sort::Cid | Sort::Reason => n(f.cid),
            };
            (key, f.cid)
        }),
    }
    let offset = o.offset.min(rows.len());
    let connections: Vec<ConnInfo> = rows
        .into_iter()
        .skip(offset)
        .take(o.limit)
        .map(|src| {
            let mut info = src.info(now);
            src.detail(&mut info, o.subs, o.auth);
            info
        })
        .collect();
    let body = Connz {
        server_id: &s.server_id,
        now: crate::system::timestamp(now),
        num_connections: connections.len(),
        total,
        offset: o.offset,
        limit: o.limit,
        connections,
    };
    serde_json::to_vec(&body).map_err(|e| e.to_string())
}

fn reason(s: &Source) -> &str {
    match s {
        Source::Closed(c) => &c.reason,
        Source::Open(_) => "",
    }
}
