//! `/jsz`: JetStream's configuration, usage and totals in nats-server's JSON, and with
//! `accounts`, `streams`, `consumers` and `config` the per-account, per-stream and
//! per-consumer detail that exporters read (consumer lag is `num_pending`).

use std::sync::atomic::Ordering;

use serde::Serialize;
use serde_json::{json, Value};

use crate::jetstream::consumer::InfoJson;
use crate::jetstream::stream::Stream;
use crate::jetstream::wire::{self, ClusterJson, StateJson};
use crate::jetstream::JetStream;
use crate::server::Shared;

/// The query options of `/jsz`.
#[derive(Default)]
pub struct Options {
    pub accounts: bool,
    pub streams: bool,
    pub consumers: bool,
    pub config: bool,
}

impl Options {
    /// From a query string (`accounts=true&streams=1`…); `streams` implies `accounts`,
    /// `consumers` implies `streams`, as in nats-server.
    pub fn parse(query: Option<&str>) -> Options {
        let mut o = Options::default();
        for pair in query.unwrap_or("").split('&') {
            let (k, v) = pair.split_once('=').unwrap_or((pair, "true"));
            let on = matches!(v, "true" | "1");
            match k {
                "accounts" => o.accounts |= on,
                "streams" => o.streams |= on,
                "consumers" => o.consumers |= on,
                "config" => o.config |= on,
                _ => {}
            }
        }
        o.streams |= o.consumers;
        o.accounts |= o.streams;
        o
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
    let consumers = o.consumers.then(|| {
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

/// The `/jsz` body.
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
    let details = o.accounts.then(|| {
        accounts
            .iter()
            .map(|a| {
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
            })
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
