//! The system account: server identity and statistics on `$SYS.REQ.SERVER.PING` (and
//! `…PING.STATSZ`, `$SYS.REQ.SERVER.<id>.STATSZ`), and client connect/disconnect advisories on
//! `$SYS.ACCOUNT.<account>.CONNECT` / `DISCONNECT`, in nats-server's JSON shapes, so that
//! `nats server ls` style tools and audit consumers work.
//!
//! Requests are answered only for clients bound to the system account, as nats-server does.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use rand::Rng;
use serde::Serialize;

use crate::account::Account;
use crate::client::publish_from_server;
use crate::identity::NATS_VERSION;
use crate::monitor::requests::Reply;
use crate::server::Shared;

/// nats-server's default system account name.
pub const DEFAULT_SYSTEM_ACCOUNT: &str = "$SYS";

/// The system account and the sequence its messages carry.
pub struct System {
    pub account: Arc<Account>,
    seq: AtomicU64,
    start: DateTime<Utc>,
}

impl System {
    pub fn new(account: Arc<Account>) -> Self {
        System {
            account,
            seq: AtomicU64::new(0),
            start: Utc::now(),
        }
    }
}

/// What the server said about itself in every system message.
#[derive(Serialize)]
struct ServerBlock<'a> {
    name: &'a str,
    host: &'a str,
    id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    domain: Option<&'a str>,
    ver: &'a str,
    jetstream: bool,
    flags: u64,
    seq: u64,
    time: String,
}

/// A client in connect and disconnect advisories.
#[derive(Serialize, Clone, Debug)]
pub struct ClientBlock {
    pub start: String,
    pub host: String,
    pub id: u64,
    pub acc: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub user: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub lang: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub ver: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop: Option<String>,
    pub kind: &'static str,
    pub client_type: &'static str,
}

#[derive(Serialize)]
struct Counts {
    msgs: u64,
    bytes: u64,
}

#[derive(Serialize)]
struct Advisory<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: String,
    timestamp: String,
    server: ServerBlock<'a>,
    client: &'a ClientBlock,
    #[serde(skip_serializing_if = "Option::is_none")]
    sent: Option<Counts>,
    #[serde(skip_serializing_if = "Option::is_none")]
    received: Option<Counts>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

#[derive(Serialize)]
struct Statsz {
    start: String,
    mem: u64,
    cores: usize,
    cpu: f64,
    connections: usize,
    total_connections: u64,
    active_accounts: usize,
    subscriptions: u64,
    sent: Counts,
    sent_to_clients: Counts,
    received: Counts,
    received_from_clients: Counts,
    slow_consumers: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    slow_consumer_stats: Option<ByKind>,
    #[serde(skip_serializing_if = "is_zero")]
    stale_connections: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    stale_connection_stats: Option<ByKind>,
    active_servers: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    jetstream: Option<serde_json::Value>,
    gomaxprocs: usize,
}

/// Counts by connection kind; a single server has only clients.
#[derive(Serialize)]
struct ByKind {
    clients: u64,
    routes: u64,
    gateways: u64,
    leafs: u64,
}

impl ByKind {
    /// nats-server sends the block only when a count is not zero.
    fn clients(n: u64) -> Option<ByKind> {
        (n > 0).then_some(ByKind {
            clients: n,
            routes: 0,
            gateways: 0,
            leafs: 0,
        })
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[derive(Serialize)]
struct StatszResponse<'a> {
    server: ServerBlock<'a>,
    statsz: Statsz,
}

/// RFC 3339 with nanoseconds, as Go's time encodes in JSON.
pub fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

/// A 22-character id in the alphabet of nats-server's NUIDs.
pub fn event_id() -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut rng = rand::thread_rng();
    (0..22)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

fn server_block<'a>(shared: &'a Shared, sys: &System) -> ServerBlock<'a> {
    ServerBlock {
        name: &shared.server_name,
        host: &shared.opts.host,
        id: &shared.server_id,
        domain: shared.opts.js_domain.as_deref(),
        ver: NATS_VERSION,
        jetstream: shared.jetstream().is_some(),
        // nats-server's capability bit for JetStream; the others are cluster protocols.
        flags: u64::from(shared.jetstream().is_some()),
        seq: sys.seq.fetch_add(1, Ordering::Relaxed) + 1,
        time: timestamp(Utc::now()),
    }
}

/// Publishes a message from the server into the system account.
fn publish(shared: &Shared, sys: &System, subject: &str, payload: &[u8]) {
    publish_from_server(
        shared,
        &sys.account,
        subject.as_bytes(),
        None,
        None,
        payload,
    );
}

/// Whether anyone could hear an advisory: skips building JSON nobody reads.
fn listened(sys: &System) -> bool {
    sys.account.sublist.count() > 0
}

/// `$SYS.ACCOUNT.<acc>.CONNECT`.
pub fn client_connected(shared: &Shared, client: &ClientBlock) {
    let Some(sys) = shared.system() else { return };
    if !listened(sys) {
        return;
    }
    let adv = Advisory {
        kind: "io.nats.server.advisory.v1.client_connect",
        id: event_id(),
        timestamp: timestamp(Utc::now()),
        server: server_block(shared, sys),
        client,
        sent: None,
        received: None,
        reason: None,
    };
    if let Ok(json) = serde_json::to_vec(&adv) {
        publish(
            shared,
            sys,
            &format!("$SYS.ACCOUNT.{}.CONNECT", client.acc),
            &json,
        );
    }
}

/// How long account connections events wait to coalesce: a storm of connects to one account
/// costs one event (and one pass over the clients) per this period, off the clients' tasks.
const CONNS_EVENT_DELAY: std::time::Duration = std::time::Duration::from_millis(100);

/// nats-server's account connections event (`$SYS.ACCOUNT.<acc>.SERVER.CONNS`, and the older
/// `$SYS.SERVER.ACCOUNT.<acc>.CONNS`), shortly after a client of `account` came or went;
/// never for the global account, as nats-server. Built only when someone listens, at most
/// once per [`CONNS_EVENT_DELAY`] per account.
pub fn account_conns_changed(shared: &std::sync::Arc<Shared>, account: &str) {
    let Some(sys) = shared.system() else { return };
    if account == shared.global.name {
        return;
    }
    let Some(acc) = shared.account_named(account) else {
        return;
    };
    if acc
        .conns_event_due
        .swap(true, std::sync::atomic::Ordering::AcqRel)
    {
        return;
    }
    if sys.account.sublist.count() == 0 {
        acc.conns_event_due
            .store(false, std::sync::atomic::Ordering::Release);
        return;
    }
    let weak = std::sync::Arc::downgrade(shared);
    let name = account.to_string();
    tokio::spawn(async move {
        tokio::time::sleep(CONNS_EVENT_DELAY).await;
        acc.conns_event_due
            .store(false, std::sync::atomic::Ordering::Release);
        if let Some(shared) = weak.upgrade() {
            send_account_conns(&shared, &name);
        }
    });
}

/// Builds and sends the account connections event now, if anyone listens.
fn send_account_conns(shared: &Shared, account: &str) {
    let Some(sys) = shared.system() else { return };
    let subjects = [
        format!("$SYS.ACCOUNT.{account}.SERVER.CONNS"),
        format!("$SYS.SERVER.ACCOUNT.{account}.CONNS"),
    ];
    let heard: Vec<&String> = subjects
        .iter()
        .filter(|s| !sys.account.sublist.matches(s.as_bytes()).is_empty())
        .collect();
    if heard.is_empty() {
        return;
    }
    let Some((acc, traffic)) = shared.account_traffic_of(account) else {
        return;
    };
    let mut event = serde_json::json!({
        "type": "io.nats.server.advisory.v1.account_connections",
        "id": event_id(),
        "timestamp": timestamp(Utc::now()),
        "server": server_block(shared, sys),
    });
    if let (Some(e), serde_json::Value::Object(stat)) = (
        event.as_object_mut(),
        crate::monitor::accountz::account_stat(&acc, &traffic),
    ) {
        e.extend(stat);
    }
    let json = serde_json::to_vec(&event).unwrap_or_default();
    for subject in heard {
        publish(shared, sys, subject, &json);
    }
}

/// `$SYS.ACCOUNT.<acc>.DISCONNECT`, with what the client sent and received and why it left.
pub fn client_disconnected(
    shared: &Shared,
    client: &ClientBlock,
    sent: (u64, u64),
    received: (u64, u64),
    reason: String,
) {
    let Some(sys) = shared.system() else { return };
    if !listened(sys) {
        return;
    }
    let adv = Advisory {
        kind: "io.nats.server.advisory.v1.client_disconnect",
        id: event_id(),
        timestamp: timestamp(Utc::now()),
        server: server_block(shared, sys),
        client,
        sent: Some(Counts {
            msgs: sent.0,
            bytes: sent.1,
        }),
        received: Some(Counts {
            msgs: received.0,
            bytes: received.1,
        }),
        reason: Some(reason),
    };
    if let Ok(json) = serde_json::to_vec(&adv) {
        publish(
            shared,
            sys,
            &format!("$SYS.ACCOUNT.{}.DISCONNECT", client.acc),
            &json,
        );
    }
}

/// Answers a request a system-account client published, if it is one the server serves;
/// returns whether it was.
pub fn answer(shared: &Shared, subject: &[u8], reply: &[u8], body: &[u8]) -> bool {
    let Some(sys) = shared.system() else {
        return false;
    };
    let (Ok(subject), Ok(reply)) = (std::str::from_utf8(subject), std::str::from_utf8(reply))
    else {
        return false;
    };
    if let Some(r) = crate::monitor::requests::answer(shared, subject, body) {
        let server = serde_json::to_vec(&server_block(shared, sys)).unwrap_or_default();
        let payload = match r {
            Reply::Silent => return true,
            Reply::Bare(b) => b,
            Reply::Data(d) => envelope(&[("server", &server), ("data", &d)]),
            Reply::Error(code, text) => {
                let e = serde_json::json!({"code": code, "description": text});
                let e = serde_json::to_vec(&e).unwrap_or_default();
                // An endpoint that ran and failed leaves nats-server a null `data`; a body it
                // could not read leaves none.
                if code == 500 {
                    envelope(&[("server", &server), ("data", b"null"), ("error", &e)])
                } else {
                    envelope(&[("server", &server), ("error", &e)])
                }
            }
        };
        publish(shared, sys, reply, &payload);
        return true;
    }
    let own = format!("$SYS.REQ.SERVER.{}.STATSZ", shared.server_id);
    let statsz = matches!(
        subject,
        "$SYS.REQ.SERVER.PING" | "$SYS.REQ.SERVER.PING.STATSZ"
    ) || subject == own;
    if !statsz {
        return false;
    }
    // nats-server reads the body as its server filter: a server it leaves out stays silent.
    match crate::monitor::requests::selected_by(shared, body) {
        Ok(true) => publish(shared, sys, reply, &statsz_json(shared, sys)),
        Ok(false) => {}
        Err(text) => {
            let server = serde_json::to_vec(&server_block(shared, sys)).unwrap_or_default();
            let e = serde_json::json!({"code": 400, "description": text});
            let e = serde_json::to_vec(&e).unwrap_or_default();
            publish(
                shared,
                sys,
                reply,
                &envelope(&[("server", &server), ("error", &e)]),
            );
        }
    }
    true
}

/// The system services nats-server imports into every other account, answered for a client
/// of `account` (`who` as its user, `perms` its permissions): its own connections
/// (`$SYS.REQ.SERVER.PING.CONNZ`, `$SYS.REQ.ACCOUNT.PING.CONNZ`), its account's statistics
/// (`$SYS.REQ.ACCOUNT.PING.STATZ`) and who it is (`$SYS.REQ.USER.INFO`). The answer goes to
/// `reply` in the client's own account. Returns whether the subject was one of them.
pub fn answer_imported(
    shared: &Shared,
    account: &crate::account::Account,
    who: &str,
    perms: Option<&crate::permissions::Permissions>,
    subject: &[u8],
    reply: &[u8],
    body: &[u8],
) -> bool {
    let Some(sys) = shared.system() else {
        return false;
    };
    let mapped = match subject {
        b"$SYS.REQ.SERVER.PING.CONNZ" | b"$SYS.REQ.ACCOUNT.PING.CONNZ" => {
            format!("$SYS.REQ.ACCOUNT.{}.CONNZ", account.name)
        }
        b"$SYS.REQ.ACCOUNT.PING.STATZ" => format!("$SYS.REQ.ACCOUNT.{}.STATZ", account.name),
        b"$SYS.REQ.USER.INFO" => {
            let data = serde_json::json!({
                "user": who.split_once(':').map_or(who, |(_, name)| name),
                "account": account.name,
                // nats-server's name tag, which is the account's name without JWTs.
                "account_name": account.name,
                "permissions": perms.map(crate::permissions::Permissions::public_json),
            });
            let data = strip_null_permissions(data);
            let server = serde_json::to_vec(&server_block(shared, sys)).unwrap_or_default();
            let payload = envelope(&[
                ("server", &server),
                ("data", &serde_json::to_vec(&data).unwrap_or_default()),
            ]);
            publish_from_server(shared, account, reply, None, None, &payload);
            return true;
        }
        _ => return false,
    };
    let server = serde_json::to_vec(&server_block(shared, sys)).unwrap_or_default();
    let payload = match crate::monitor::requests::answer(shared, &mapped, body) {
        None | Some(Reply::Silent) => return true,
        Some(Reply::Bare(b)) => b,
        Some(Reply::Data(d)) => envelope(&[("server", &server), ("data", &d)]),
        Some(Reply::Error(code, text)) => {
            let e = serde_json::json!({"code": code, "description": text});
            let e = serde_json::to_vec(&e).unwrap_or_default();
            envelope(&[("server", &server), ("error", &e)])
        }
    };
    publish_from_server(shared, account, reply, None, None, &payload);
    true
}

/// `permissions` is left out when the user has none, as nats-server's omitempty does.
fn strip_null_permissions(mut v: serde_json::Value) -> serde_json::Value {
    if let Some(m) = v.as_object_mut() {
        if m.get("permissions").is_some_and(serde_json::Value::is_null) {
            m.remove("permissions");
        }
    }
    v
}

/// The server's statistics message, for `…STATSZ` requests and the periodic event.
fn statsz_json(shared: &Shared, sys: &System) -> Vec<u8> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (sent_msgs, sent_bytes) = shared.sent_totals();
    let (in_msgs, in_bytes) = shared.received_totals();
    let response = StatszResponse {
        server: server_block(shared, sys),
        statsz: Statsz {
            start: timestamp(sys.start),
            mem: resident_bytes(),
            cores,
            cpu: cpu_percent(),
            connections: shared.num_clients(),
            total_connections: shared.total_connections(),
            active_accounts: shared.active_accounts(),
            subscriptions: shared.total_subscriptions(),
            sent: Counts {
                msgs: sent_msgs,
                bytes: sent_bytes,
            },
            // Every connection is a client's.
            sent_to_clients: Counts {
                msgs: sent_msgs,
                bytes: sent_bytes,
            },
            received: Counts {
                msgs: in_msgs,
                bytes: in_bytes,
            },
            received_from_clients: Counts {
                msgs: in_msgs,
                bytes: in_bytes,
            },
            slow_consumers: shared.slow_consumers(),
            slow_consumer_stats: ByKind::clients(shared.slow_consumers()),
            stale_connections: shared.stale_connections(),
            stale_connection_stats: ByKind::clients(shared.stale_connections()),
            active_servers: 1,
            jetstream: crate::monitor::varz::jetstream_block(shared, false),
            gomaxprocs: cores,
        },
    };
    serde_json::to_vec(&response).unwrap_or_default()
}

/// nats-server's statistics heartbeat: `$SYS.SERVER.<id>.STATSZ` 250 ms after start, then at
/// doubling intervals up to every 10 s, sent only when someone listens (a single server's
/// rule). Ends when the server goes.
pub async fn statsz_heartbeat(shared: std::sync::Weak<Shared>) {
    const MAX: std::time::Duration = std::time::Duration::from_secs(10);
    let mut every = std::time::Duration::from_millis(250);
    loop {
        tokio::time::sleep(every).await;
        every = (every * 2).min(MAX);
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let Some(sys) = shared.system() else {
            return;
        };
        let subject = format!("$SYS.SERVER.{}.STATSZ", shared.server_id);
        if !sys.account.sublist.matches(subject.as_bytes()).is_empty() {
            publish(&shared, sys, &subject, &statsz_json(&shared, sys));
        }
    }
}

/// A JSON object of fields whose values are JSON already made, in order.
fn envelope(fields: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::with_capacity(fields.iter().map(|(k, v)| k.len() + v.len() + 4).sum());
    for (i, (key, value)) in fields.iter().enumerate() {
        out.push(if i == 0 { b'{' } else { b',' });
        out.extend_from_slice(format!("\"{key}\":").as_bytes());
        out.extend_from_slice(value);
    }
    out.push(b'}');
    out
}

/// CPU time this process has used, from /proc (0 where there is none).
fn cpu_time() -> std::time::Duration {
    // utime and stime, in clock ticks (100 a second on Linux), after the command name.
    let ticks: u64 = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let rest = s.rsplit_once(')')?.1.to_string();
            let fields: Vec<&str> = rest.split_whitespace().collect();
            // Fields 14 and 15 of stat(5); `rest` starts at field 3.
            Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
        })
        .unwrap_or(0);
    std::time::Duration::from_millis(ticks * 10)
}

/// The process's CPU use in percent of one core (above 100 on several), over the last
/// second or more, as nats-server's `/varz` `cpu` (which it samples every second).
pub fn cpu_percent() -> f64 {
    static LAST: parking_lot::Mutex<Option<(std::time::Instant, std::time::Duration, f64)>> =
        parking_lot::Mutex::new(None);
    let mut last = LAST.lock();
    let now = std::time::Instant::now();
    let used = cpu_time();
    match *last {
        Some((at, _, pct)) if now.duration_since(at) < std::time::Duration::from_secs(1) => pct,
        Some((at, before, _)) => {
            let wall = now.duration_since(at).as_secs_f64();
            let pct = (used.saturating_sub(before).as_secs_f64() / wall * 1000.0).round() / 10.0;
            *last = Some((now, used, pct));
            pct
        }
        None => {
            // The first sample: the average since start, as nats-server's first is.
            let since_start = PROCESS_START.get_or_init(std::time::Instant::now).elapsed();
            let pct = if since_start.as_secs_f64() > 0.0 {
                (used.as_secs_f64() / since_start.as_secs_f64() * 1000.0).round() / 10.0
            } else {
                0.0
            };
            *last = Some((now, used, pct));
            pct
        }
    }
}

/// When the process started, as far as [`cpu_percent`] knows (set by [`mark_start`]).
static PROCESS_START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();

/// Notes the process's start, for the first CPU sample.
pub fn mark_start() {
    let _ = PROCESS_START.set(std::time::Instant::now());
}

/// Resident memory of this process, from /proc (0 where there is none).
pub fn resident_bytes() -> u64 {
    let pages = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<u64>().ok())
        })
        .unwrap_or(0);
    pages * 4096
}
