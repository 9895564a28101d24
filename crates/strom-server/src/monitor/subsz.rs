//! `/subsz`: subscription counts over every account (or one, `acc`), and with `subs=1` the
//! subscriptions themselves, paged, optionally only those a message on the literal subject
//! `test` would reach. The server's own subscriptions (JetStream's API) are counted but not
//! listed, since no client holds them.
//!
//! nats-server's match cache figures have no counterpart: publishers here keep their own
//! caches, so `num_cache`, `cache_hit_rate` and the fanouts are 0, and `num_matches` counts
//! lookups in the subject tree.

use chrono::Utc;
use serde::Serialize;

use super::conn_info::SubDetail;
use super::query::Query;
use crate::server::Shared;
use crate::subscription::Owner;

/// nats-server's `DefaultSubListSize`.
const DEFAULT_LIMIT: usize = 1024;

/// A `/subsz` query; a system-account request carries the same fields as JSON
/// (`subscriptions`, `account`).
#[derive(Default, serde::Deserialize)]
#[serde(default)]
pub struct Options {
    #[serde(rename = "subscriptions")]
    pub subs: bool,
    pub offset: usize,
    pub limit: usize,
    pub account: String,
    pub test: String,
}

impl Options {
    /// Reads the query; the error is the text nats-server answers with 400.
    pub fn parse(query: Option<&str>) -> Result<Options, String> {
        let q = Query::parse(query);
        Ok(Options {
            subs: q.boolean("subs")?,
            offset: usize::try_from(q.int("offset")?).unwrap_or(0),
            limit: usize::try_from(q.int("limit")?).unwrap_or(0),
            account: q.get("acc").to_string(),
            test: q.get("test").to_string(),
        })
    }

    /// Reads a system-account request's JSON; `account` (from
    /// `$SYS.REQ.ACCOUNT.<account>.SUBSZ`) narrows it to that account's list.
    pub fn from_json(body: &[u8], account: Option<&str>) -> Result<Options, String> {
        let mut o: Options = super::request_options(body)?;
        if let Some(a) = account {
            o.account = a.to_string();
            o.subs = true;
        }
        Ok(o)
    }
}

#[derive(Serialize)]
struct Subsz<'a> {
    server_id: &'a str,
    now: String,
    num_subscriptions: u64,
    num_cache: u32,
    num_inserts: u64,
    num_removes: u64,
    num_matches: u64,
    cache_hit_rate: f64,
    max_fanout: u32,
    avg_fanout: f64,
    total: usize,
    offset: usize,
    limit: usize,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    subscriptions_list: Vec<SubDetail>,
}

/// The `/subsz` body, or the text of a 400.
pub fn subsz(s: &Shared, o: &Options) -> Result<Vec<u8>, String> {
    let test = (!o.test.is_empty()).then_some(o.test.as_bytes());
    if test.is_some_and(|t| !strom_proto::subject::is_valid_literal_subject(t)) {
        return Err(format!(
            "invalid test subject, must be valid publish subject: {}",
            o.test
        ));
    }
    let limit = if o.limit == 0 { DEFAULT_LIMIT } else { o.limit };
    let accounts: Vec<_> = s
        .all_accounts()
        .into_iter()
        .filter(|a| o.account.is_empty() || a.name == o.account)
        .collect();
    let mut body = Subsz {
        server_id: &s.server_id,
        now: crate::system::timestamp(Utc::now()),
        num_subscriptions: 0,
        num_cache: 0,
        num_inserts: 0,
        num_removes: 0,
        num_matches: 0,
        cache_hit_rate: 0.0,
        max_fanout: 0,
        avg_fanout: 0.0,
        total: 0,
        offset: o.offset,
        limit,
        subscriptions_list: Vec::new(),
    };
    let mut details = Vec::new();
    for account in &accounts {
        let st = account.sublist.stats();
        body.num_subscriptions += st.subscriptions;
        body.num_inserts += st.inserts;
        body.num_removes += st.removes;
        body.num_matches += st.matches;
        if !o.subs {
            continue;
        }
        for sub in account.sublist.subscriptions() {
            let Owner::Client(client) = &sub.owner else {
                continue;
            };
            if test.is_some_and(|t| !strom_proto::subject::matches(&sub.subject, t)) {
                continue;
            }
            details.push(SubDetail {
                account: Some(account.name.clone()),
                account_tag: Some(account.name.clone()),
                subject: String::from_utf8_lossy(&sub.subject).into_owned(),
                qgroup: sub
                    .queue
                    .as_ref()
                    .map(|q| String::from_utf8_lossy(q).into_owned()),
                sid: String::from_utf8_lossy(&sub.sid).into_owned(),
                msgs: sub.delivered(),
                max: sub.max(),
                cid: client.id,
            });
        }
    }
    if o.subs {
        body.total = details.len();
        let from = o.offset.min(details.len());
        let to = from + limit.min(details.len() - from);
        body.subscriptions_list = details.drain(from..to).collect();
    }
    serde_json::to_vec(&body).map_err(|e| e.to_string())
}
