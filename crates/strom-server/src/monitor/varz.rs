//! `/varz`: the server's configuration and counters in nats-server's JSON — every field
//! nats-server 2.15 reports, with its name and type, so dashboards and exporters that read
//! it keep working. Clustering, gateways, leaf nodes, MQTT and websockets are not served, so
//! their blocks are empty as on a server without them.

use serde::Serialize;
use serde_json::{json, Value};

use crate::server::Shared;

#[derive(Serialize)]
struct Varz<'a> {
    server_id: &'a str,
    server_name: &'a str,
    version: &'static str,
    proto: u32,
    git_commit: &'static str,
    go: &'static str,
    host: &'a str,
    port: u16,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    auth_required: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    tls_required: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    tls_verify: bool,
    max_connections: usize,
    ping_interval: i64,
    ping_max: u32,
    http_host: &'a str,
    http_port: u16,
    http_base_path: &'a str,
    https_port: u16,
    auth_timeout: f64,
    max_control_line: usize,
    max_payload: usize,
    max_pending: usize,
    cluster: Value,
    gateway: Value,
    leaf: Value,
    mqtt: Value,
    websocket: Value,
    /// `{}` without JetStream, as nats-server.
    jetstream: Value,
    tls_timeout: f64,
    write_deadline: i64,
    start: String,
    now: String,
    uptime: String,
    mem: u64,
    cores: usize,
    gomaxprocs: usize,
    cpu: f64,
    connections: usize,
    total_connections: u64,
    routes: u64,
    remotes: u64,
    leafnodes: u64,
    in_msgs: u64,
    in_bytes: u64,
    in_client_msgs: u64,
    in_client_bytes: u64,
    out_msgs: u64,
    out_bytes: u64,
    out_client_msgs: u64,
    out_client_bytes: u64,
    slow_consumers: u64,
    stale_connections: u64,
    stalled_clients: u64,
    subscriptions: u64,
    http_req_stats: Value,
    config_load_time: String,
    config_digest: &'static str,
    feature_flags: Value,
    system_account: &'a str,
    slow_consumer_stats: Value,
    stale_connection_stats: Value,
    disk_io_wait_stats: Value,
}

/// Go's `time.Duration.String()` for whole seconds and more, as nats-server's `uptime`
/// prints it (`0s`, `1m5s`, `2h3m4s`, `1d2h3m4s`).
fn uptime(secs: i64) -> String {
    let (d, h, m, s) = (
        secs / 86400,
        secs % 86400 / 3600,
        secs % 3600 / 60,
        secs % 60,
    );
    if d > 0 {
        format!("{d}d{h}h{m}m{s}s")
    } else if h > 0 {
        format!("{h}h{m}m{s}s")
    } else if m > 0 {
        format!("{m}m{s}s")
    } else {
        format!("{s}s")
    }
}

/// The `jetstream` block of `/varz` and of the STATSZ event (which leaves out the store
/// directory, as nats-server's does); `None` without JetStream.
pub fn jetstream_block(s: &Shared, with_store_dir: bool) -> Option<Value> {
    s.jetstream().map(|js| {
        let (mut memory, mut storage) = (0, 0);
        let accounts = js.accounts();
        for a in &accounts {
            let (m, f) = a.usage();
            memory += m;
            storage += f;
        }
        let sync = match js.sync {
            crate::options::SyncPolicy::Always => 0,
            crate::options::SyncPolicy::Every(d) => d.as_nanos() as i64,
        };
        let mut config = json!({
            "max_memory": js.max_memory,
            "max_storage": js.max_file,
            "sync_interval": sync,
            "strict": true,
        });
        if with_store_dir {
            config["store_dir"] = json!(js.root.display().to_string());
        }
        if sync == 0 {
            // Strom's default: an fsync before every acknowledgement.
            config["sync_always"] = json!(true);
        }
        json!({
            "config": config,
            "stats": {
                "memory": memory,
                "storage": storage,
                "reserved_memory": 0,
                "reserved_storage": 0,
                "accounts": accounts.len(),
                "ha_assets": 0,
                "api": {
                    "level": crate::identity::API_LEVEL,
                    "total": js.api_total.load(std::sync::atomic::Ordering::Relaxed),
                    "errors": js.api_errors.load(std::sync::atomic::Ordering::Relaxed),
                },
            },
            "limits": {"default_max_consumers": 1000},
        })
    })
}

/// The `/varz` body.
pub fn varz(s: &Shared) -> Vec<u8> {
    let http_port = s.http_stats.http_port();
    let requests = s.http_stats.requests();
    let now = chrono::Utc::now();
    let (out_msgs, out_bytes) = s.sent_totals();
    let (in_msgs, in_bytes) = s.received_totals();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let opts = &s.opts;
    let jetstream = jetstream_block(s, true).unwrap_or_else(|| json!({}));
    let counts = |clients: u64| json!({"clients": clients, "routes": 0, "gateways": 0, "leafs": 0});
    let v = Varz {
        server_id: &s.server_id,
        server_name: &s.server_name,
        version: crate::identity::NATS_VERSION,
        proto: 1,
        git_commit: "",
        go: "",
        host: &opts.host,
        port: s.port(),
        auth_required: s.auth_required(),
        tls_required: s.tls().is_some(),
        tls_verify: s.tls().is_some_and(|(_, t)| t.verify),
        max_connections: opts.max_connections,
        ping_interval: opts.ping_interval.as_nanos() as i64,
        ping_max: opts.ping_max,
        http_host: opts.http_host.as_deref().unwrap_or(&opts.host),
        http_port,
        http_base_path: opts.http_base_path.as_deref().unwrap_or(""),
        https_port: s.http_stats.https_port(),
        auth_timeout: opts.auth_timeout.as_secs_f64(),
        max_control_line: opts.max_control_line,
        max_payload: opts.max_payload,
        max_pending: opts.max_pending,
        cluster: json!({}),
        gateway: json!({}),
        leaf: json!({}),
        mqtt: json!({}),
        websocket: json!({}),
        jetstream,
        tls_timeout: 2.0,
        write_deadline: opts.write_deadline.as_nanos() as i64,
        start: crate::system::timestamp(s.started),
        now: crate::system::timestamp(now),
        uptime: uptime((now - s.started).num_seconds()),
        mem: crate::system::resident_bytes(),
        cores,
        gomaxprocs: cores,
        cpu: crate::system::cpu_percent(),
        connections: s.num_clients(),
        total_connections: s.total_connections(),
        routes: 0,
        remotes: 0,
        leafnodes: 0,
        in_msgs,
        in_bytes,
        in_client_msgs: in_msgs,
        in_client_bytes: in_bytes,
        out_msgs,
        out_bytes,
        out_client_msgs: out_msgs,
        out_client_bytes: out_bytes,
        slow_consumers: s.slow_consumers(),
        stale_connections: s.stale_connections(),
        stalled_clients: 0,
        subscriptions: s.total_subscriptions(),
        http_req_stats: requests,
        config_load_time: crate::system::timestamp(s.started),
        config_digest: "",
        feature_flags: json!({
            "js_ack_fc_v2": false,
            "js_api_reply_v2": false,
            "js_raft_delete_range": true,
            "js_snapshot_sources": false,
        }),
        system_account: s.system().map_or("", |sys| sys.account.name.as_str()),
        slow_consumer_stats: counts(s.slow_consumers()),
        stale_connection_stats: counts(s.stale_connections()),
        disk_io_wait_stats: json!({"waiters": 0, "waits": 0, "wait_time": 0, "max_wait_time": 0}),
    };
    serde_json::to_vec(&v).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #[test]
    fn uptime_reads_like_nats_server() {
        assert_eq!(super::uptime(0), "0s");
        assert_eq!(super::uptime(65), "1m5s");
        assert_eq!(super::uptime(3 * 3600 + 4), "3h0m4s");
        assert_eq!(super::uptime(86400 + 3661), "1d1h1m1s");
    }
}
