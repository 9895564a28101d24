//! `/jsz`: JetStream's configuration, usage and totals in nats-server's JSON, and with
//! `accounts`, `streams`, `consumers` and `config` the per-account, per-stream and
//! per-consumer detail that exporters read (consumer lag is `num_pending`).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use serde::Serialize;
use serde_json::{json, Value};

use crate::jetstream::consumer::InfoJson;
use crate::jetstream::stream::Stream;
use crate::jetstream::wire::{self, ClusterJson, StateJson};
use crate::jetstream::{JetStream, JsAccount};
use crate::server::Shared;

/// The options of `/jsz`; a system-account request carries them as JSON with nats-server's
/// `JSzOptions` names.
#[derive(Default, serde::Deserialize)]
#[serde(default)]
pub struct Options {
    /// One account's detail, whatever `accounts` says.
    pub account: String,
    pub accounts: bool,
    pub streams: bool,
    #[serde(rename = "consumer")]
    pub consumers: bool,
    pub config: bool,
    /// A single server leads its own JetStream, so this never filters here.
    pub leader_only: bool,
    pub offset: i64,
    pub limit: i64,
}

impl Options {
    /// From a query string (`accounts=true&streams=1`…); the error is nats-server's 400 text.
    pub fn parse(query: Option<&str>) -> Result<Options, String> {
        let q = super::query::Query::parse(query);
        Ok(Options {
            account: q.get("acc").to_string(),
            accounts: q.boolean("accounts")?,
            streams: q.boolean("streams")?,
            consumers: q.boolean("consumers")?,
            config: q.boolean("config")?,
            leader_only: q.boolean("leader-only")?,
            offset: q.int("offset")?,
            limit: q.int("limit")?,
        }
        .implied())
    }

    /// Reads a system-account request's JSON; `account` is the one
    /// `$SYS.REQ.ACCOUNT.<account>.JSZ` names.
    pub fn from_json(body: &[u8], account: Option<&str>) -> Result<Options, String> {
        let mut o: Options = super::request_options(body)?;
        if let Some(a) = account {
            o.account = a.to_string();
        }
        Ok(o.implied())
    }

    /// `consumers` implies `streams`; `streams` implies `accounts` unless one account is
    /// asked for, as in nats-server.
    fn implied(mut self) -> Options {
        self.streams |= self.consumers;
        self.accounts |= self.streams && self.account.is_empty();
        if self.limit == 0 {
            self.limit = 1024;
        }
        self.offset = self.offset.max(0);
        self
    }
}

#[derive(Serialize)]
struct Api {
    level: u32,
    total: u64,
    errors: u64,
}

#[derive(Serialize)]
struct Jsz<'a> {
    memory: u64,
    storage: u64,
    reserved_memory: u64,
    reserved_storage: u64,
    accounts: usize,
    ha_assets: u64,
    api: Api,
    server_id: &'a str,
    now: String,
    config: Value,
    limits: Value,
    streams: usize,
    consumers: usize,
    messages: u64,
    bytes: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    account_details: Option<Vec<AccountDetail>>,
    total: usize,
}

#[derive(Serialize)]
struct AccountDetail {
    name: String,
    id: String,
    memory: u64,
    storage: u64,
    reserved_memory: u64,
    reserved_storage: u64,
    accounts: u64,
    ha_assets: u64,
    api: Api,
    #[serde(skip_serializing_if = "Option::is_none")]
    stream_detail: Option<Vec<StreamDetail>>,
}

#[derive(Serialize)]
struct StreamDetail {
    name: String,
    created: String,
    cluster: ClusterJson,
    #[serde(skip_serializing_if = "Option::is_none")]
    config: Option<Value>,
    state: StateJson,
    #[serde(skip_serializing_if = "Option::is_none")]
    consumer_detail: Option<Vec<InfoJson>>,
}

/// A configuration as nats-server keeps it: metadata without the server's own keys.
fn stored(mut v: Value) -> Value {
    if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        m.remove("_nats.level");
        m.remove("_nats.ver");
    }
    v
}

fn stream_detail(s: &Stream, server: &Shared, o: &Options) -> StreamDetail {
    let info = s.info(None, false);
    // nats-server leaves the list out when there is nothing in it.
    let consumers = (o.consumers && !s.consumers.read().is_empty()).then(|| {
        let all: Vec<_> = s.consumers.read().values().cloned().collect();
        all.iter()
            .map(|c| {
                let mut i = c.info(s, None);
                if let Some(c) = i.config.as_mut() {
                    c.metadata.remove("_nats.level");
                    c.metadata.remove("_nats.ver");
                }
                if !o.config {
                    // nats-server leaves a consumer's config out unless asked.
                    i.config = None;
                }
                i
            })
            .collect()
    });
    StreamDetail {
        name: s.name.clone(),
        created: info.created,
        cluster: ClusterJson {
            leader: server.server_name.clone(),
        },
        config: o
            .config
            .then(|| stored(serde_json::to_value(&info.config).unwrap_or_default())),
        state: info.state,
        consumer_detail: consumers,
    }
}

/// One account's JetStream detail; `api` is the server's API request and error counts.
fn account_detail(
    server: &Shared,
    a: &JsAccount,
    o: &Options,
    (total, errors): (u64, u64),
) -> AccountDetail {
    let (m, f) = a.usage();
    let stream_detail = o.streams.then(|| {
        let all: Vec<_> = a.streams.read().values().cloned().collect();
        all.iter().map(|s| stream_detail(s, server, o)).collect()
    });
    AccountDetail {
        name: a.account.name.clone(),
        id: a.account.name.clone(),
        memory: m,
        storage: f,
        reserved_memory: u64::MAX,
        reserved_storage: u64::MAX,
        accounts: 0,
        ha_assets: 0,
        api: Api {
            level: 0,
            total,
            errors,
        },
        stream_detail,
    }
}

/// `$SYS.REQ.ACCOUNT.<account>.JSZ`: that account's detail alone, or nats-server's error
/// text when it has no JetStream.
pub fn account_jsz(server: &Shared, js: &JetStream, o: &Options) -> Result<Vec<u8>, String> {
    let Some(a) = js.account(&o.account) else {
        return Err(format!("account {:?} not found", o.account));
    };
    let api = (
        js.api_total.load(Ordering::Relaxed),
        js.api_errors.load(Ordering::Relaxed),
    );
    serde_json::to_vec(&account_detail(server, &a, o, api)).map_err(|e| e.to_string())
}

/// The `/jsz` body.
/// `/jsz` of a server without JetStream: nats-server's zero-valued answer, marked disabled.
pub fn disabled(server: &Shared) -> Vec<u8> {
    let v = serde_json::json!({
        "memory": 0,
        "storage": 0,
        "reserved_memory": 0,
        "reserved_storage": 0,
        "accounts": 0,
        "ha_assets": 0,
        "api": {"level": 0, "total": 0, "errors": 0},
        "server_id": server.server_id,
        "now": crate::system::timestamp(chrono::Utc::now()),
        "disabled": true,
        "config": {"max_memory": 0, "max_storage": 0},
        "streams": 0,
        "consumers": 0,
        "messages": 0,
        "bytes": 0,
        "total": 0,
    });
    serde_json::to_vec(&v).unwrap_or_default()
}

pub fn jsz(server: &Shared, js: &JetStream, o: &Options) -> Vec<u8> {
    let accounts = js.accounts();
    let (mut memory, mut storage, mut streams, mut consumers, mut messages, mut bytes) =
        (0, 0, 0, 0, 0, 0);
    for a in &accounts {
        let (m, f) = a.usage();
        memory += m;
        storage += f;
        for s in a.streams.read().values() {
            streams += 1;
            consumers += s.consumer_count();
            let st = s.store.lock().state();
            messages += st.msgs;
            bytes += st.bytes;
        }
    }
    let sync = match js.sync {
        crate::options::SyncPolicy::Always => 0,
        crate::options::SyncPolicy::Every(d) => d.as_nanos() as i64,
    };
    let mut config = json!({
        "max_memory": js.max_memory,
        "max_storage": js.max_file,
        "store_dir": js.root.display().to_string(),
        "sync_interval": sync,
        "strict": true,
    });
    if sync == 0 {
        config["sync_always"] = json!(true);
    }
    let total = js.api_total.load(Ordering::Relaxed);
    let errors = js.api_errors.load(Ordering::Relaxed);
    // One account asked for takes precedence; otherwise a page of them, by name.
    let mut shown: Vec<Arc<JsAccount>> = accounts.clone();
    shown.sort_by(|a, b| a.account.name.cmp(&b.account.name));
    if let Some(one) = shown.iter().find(|a| a.account.name == o.account) {
        shown = vec![one.clone()];
    } else if o.accounts {
        let from = usize::try_from(o.offset).unwrap_or(0).min(shown.len());
        let limit = usize::try_from(o.limit).unwrap_or(usize::MAX);
        shown = shown.into_iter().skip(from).take(limit).collect();
    } else {
        shown.clear();
    }
    let details = (!shown.is_empty()).then(|| {
        shown
            .iter()
            .map(|a| account_detail(server, a, o, (total, errors)))
            .collect()
    });
    let body = Jsz {
        memory,
        storage,
        reserved_memory: 0,
        reserved_storage: 0,
        accounts: accounts.len(),
        ha_assets: 0,
        api: Api {
            level: crate::identity::API_LEVEL,
            total,
            errors,
        },
        server_id: &server.server_id,
        now: wire::format_time(chrono::Utc::now()),
        config,
        limits: json!({"default_max_consumers": 1000}),
        streams,
        consumers,
        messages,
        bytes,
        account_details: details,
        total: accounts.len(),
    };
    serde_json::to_vec(&body).unwrap_or_default()
}
