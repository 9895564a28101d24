//! `/metrics`: Prometheus text format (0.0.4), no exporter needed. Families, all prefixed
//! `strom_`:
//! - server: `server_info` (labels server_id, server_name, version), `connections`,
//!   `connections_total`, `subscriptions`, `slow_consumers_total`, `messages_received_total`,
//!   `bytes_received_total`, `messages_sent_total`, `bytes_sent_total`,
//!   `resident_memory_bytes`, `uptime_seconds`;
//! - cluster: `routes`, `gateways`, `leafnodes` (0: Strom runs alone);
//! - per account (label account): `account_connections`, `account_subscriptions`,
//!   `account_messages_received_total`, `account_bytes_received_total`,
//!   `account_messages_sent_total`, `account_bytes_sent_total`,
//!   `account_slow_consumers_total`, and with JetStream `account_jetstream_memory_bytes`,
//!   `account_jetstream_storage_bytes`, `account_jetstream_max_memory_bytes`,
//!   `account_jetstream_max_storage_bytes`, `account_jetstream_streams`;
//! - JetStream: `jetstream_streams`, `jetstream_consumers`, `jetstream_messages`,
//!   `jetstream_bytes`, `jetstream_memory_bytes`, `jetstream_storage_bytes`,
//!   `jetstream_api_requests_total`, `jetstream_api_errors_total`;
//! - per stream (labels account, stream): `stream_messages`, `stream_bytes`,
//!   `stream_first_seq`, `stream_last_seq`, `stream_subjects`, `stream_consumers`, and the
//!   histogram `jetstream_publish_latency_seconds` (capture to PubAck);
//! - per consumer (labels account, stream, consumer): `consumer_num_pending` (lag),
//!   `consumer_num_ack_pending`, `consumer_num_redelivered`, `consumer_num_waiting`,
//!   `consumer_delivered_stream_seq`, `consumer_ack_floor_stream_seq`.

use std::fmt::Write;
use std::sync::atomic::Ordering;

use crate::server::Shared;

/// Builds the exposition text family by family.
struct Text(String);

impl Text {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP strom_{name} {help}");
        let _ = writeln!(self.0, "# TYPE strom_{name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        let _ = write!(self.0, "strom_{name}");
        if !labels.is_empty() {
            self.0.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.0.push(',');
                }
                let _ = write!(self.0, "{k}=\"");
                for c in v.chars() {
                    match c {
                        '\\' => self.0.push_str("\\\\"),
                        '"' => self.0.push_str("\\\""),
                        '\n' => self.0.push_str("\\n"),
                        c => self.0.push(c),
                    }
                }
                self.0.push('"');
            }
            self.0.push('}');
        }
        let _ = writeln!(self.0, " {value}");
    }

    fn one(&mut self, name: &str, kind: &str, help: &str, value: f64) {
        self.family(name, kind, help);
        self.sample(name, &[], value);
    }
}

/// The `/metrics` body.
pub fn metrics(s: &Shared) -> String {
    let mut t = Text(String::with_capacity(4096));
    let (out_msgs, out_bytes) = s.sent_totals();
    let (in_msgs, in_bytes) = s.received_totals();
    t.family(
        "server_info",
        "gauge",
        "The server: its id, name and NATS version.",
    );
    t.sample(
        "server_info",
        &[
            ("server_id", &s.server_id),
            ("server_name", &s.server_name),
            ("version", crate::identity::NATS_VERSION),
        ],
        1.0,
    );
    t.one(
        "connections",
        "gauge",
        "Client connections open now.",
        s.num_clients() as f64,
    );
    t.one(
        "connections_total",
        "counter",
        "Client connections accepted since start.",
        s.total_connections() as f64,
    );
    t.one(
        "subscriptions",
        "gauge",
        "Subscriptions held now.",
        s.total_subscriptions() as f64,
    );
    t.one(
        "slow_consumers_total",
        "counter",
        "Clients closed as slow consumers since start.",
        s.slow_consumers() as f64,
    );
    t.one(
        "messages_received_total",
        "counter",
        "Messages received from clients.",
        in_msgs as f64,
    );
    t.one(
        "bytes_received_total",
        "counter",
        "Payload bytes received from clients.",
        in_bytes as f64,
    );
    t.one(
        "messages_sent_total",
        "counter",
        "Messages sent to clients.",
        out_msgs as f64,
    );
    t.one(
        "bytes_sent_total",
        "counter",
        "Payload bytes sent to clients.",
        out_bytes as f64,
    );
    t.one(
        "resident_memory_bytes",
        "gauge",
        "Resident memory of the server process.",
        crate::system::resident_bytes() as f64,
    );
    t.one(
        "uptime_seconds",
        "gauge",
        "Seconds since the server started.",
        (chrono::Utc::now() - s.started).num_milliseconds() as f64 / 1000.0,
    );
    // prometheus-nats-exporter users alert on these; a Strom server runs alone.
    for (name, help) in [
        (
            "routes",
            "Cluster routes to other servers (none: Strom runs alone).",
        ),
        (
            "gateways",
            "Gateway connections to other clusters (none yet).",
        ),
        ("leafnodes", "Leafnode connections (none yet)."),
    ] {
        t.one(name, "gauge", help, 0.0);
    }
    accounts(&mut t, s);
    if let Some(js) = s.jetstream() {
        jetstream(&mut t, js);
    }
    t.0
}

/// Per account (label account): connections, subscriptions, traffic, slow consumers, and
/// JetStream use against its limits.
fn accounts(t: &mut Text, s: &Shared) {
    let rows = s.account_traffic();
    type Value = fn(&crate::account::Account, &crate::server::AccountTraffic) -> f64;
    let families: [(&str, &str, &str, Value); 7] = [
        (
            "account_connections",
            "gauge",
            "Client connections open in the account.",
            |_, t| t.conns as f64,
        ),
        (
            "account_subscriptions",
            "gauge",
            "Subscriptions held in the account.",
            |a, _| a.sublist.count() as f64,
        ),
        (
            "account_messages_received_total",
            "counter",
            "Messages received from the account's clients.",
            |_, t| t.received.0 as f64,
        ),
        (
            "account_bytes_received_total",
            "counter",
            "Payload bytes received from the account's clients.",
            |_, t| t.received.1 as f64,
        ),
        (
            "account_messages_sent_total",
            "counter",
            "Messages sent to the account's clients.",
            |_, t| t.sent.0 as f64,
        ),
        (
            "account_bytes_sent_total",
            "counter",
            "Payload bytes sent to the account's clients.",
            |_, t| t.sent.1 as f64,
        ),
        (
            "account_slow_consumers_total",
            "counter",
            "The account's clients closed as slow consumers.",
            |_, t| t.slow_consumers as f64,
        ),
    ];
    for (name, kind, help, value) in families {
        t.family(name, kind, help);
        for (account, traffic) in &rows {
            t.sample(name, &[("account", &account.name)], value(account, traffic));
        }
    }
    let Some(js) = s.jetstream() else {
        return;
    };
    let accounts = js.accounts();
    // An account limit of -1 means the server's own.
    let limit = |own: i64, server: i64| if own < 0 { server } else { own } as f64;
    type JsValue = fn(&crate::jetstream::JsAccount, &dyn Fn(i64, i64) -> f64, (i64, i64)) -> f64;
    let js_families: [(&str, &str, JsValue); 5] = [
        (
            "account_jetstream_memory_bytes",
            "Bytes the account's memory streams hold.",
            |a, _, _| a.usage().0 as f64,
        ),
        (
            "account_jetstream_storage_bytes",
            "Bytes the account's file streams hold.",
            |a, _, _| a.usage().1 as f64,
        ),
        (
            "account_jetstream_max_memory_bytes",
            "The account's memory limit (the server's when it has none of its own).",
            |a, limit, (mem, _)| limit(a.limits.max_memory, mem),
        ),
        (
            "account_jetstream_max_storage_bytes",
            "The account's file storage limit (the server's when it has none of its own).",
            |a, limit, (_, file)| limit(a.limits.max_file, file),
        ),
        (
            "account_jetstream_streams",
            "The account's streams.",
            |a, _, _| a.streams.read().len() as f64,
        ),
    ];
    for (name, help, value) in js_families {
        t.family(name, "gauge", help);
        for a in &accounts {
            t.sample(
                name,
                &[("account", &a.account.name)],
                value(a, &limit, (js.max_memory, js.max_file)),
            );
        }
    }
}

/// `jetstream_publish_latency_seconds`: a histogram per stream, from capture to PubAck.
fn publish_latency(t: &mut Text, rows: &[(String, String, crate::jetstream::latency::Snapshot)]) {
    let name = "jetstream_publish_latency_seconds";
    t.family(
        name,
        "histogram",
        "Time from a stream capturing a message to its PubAck being sent (after the fsync).",
    );
    let bucket = format!("{name}_bucket");
    let bounds: Vec<String> = crate::jetstream::latency::BUCKETS
        .iter()
        .map(f64::to_string)
        .chain(std::iter::once("+Inf".to_string()))
        .collect();
    for (account, stream, h) in rows {
        for (le, n) in bounds.iter().zip(&h.cumulative) {
            t.sample(
                &bucket,
                &[("account", account), ("stream", stream), ("le", le)],
                *n as f64,
            );
        }
        let labels = [("account", account.as_str()), ("stream", stream.as_str())];
        t.sample(&format!("{name}_sum"), &labels, h.sum_secs);
        t.sample(&format!("{name}_count"), &labels, h.count as f64);
    }
}

fn jetstream(t: &mut Text, js: &crate::jetstream::JetStream) {
    let accounts = js.accounts();
    let mut streams = Vec::new();
    let (mut memory, mut storage) = (0u64, 0u64);
    for a in &accounts {
        let (m, f) = a.usage();
        memory += m;
        storage += f;
        for s in a.streams.read().values() {
            streams.push((a.account.name.clone(), s.clone()));
        }
    }
    let mut stream_rows = Vec::new();
    let mut consumer_rows = Vec::new();
    let mut latencies = Vec::new();
    for (account, s) in &streams {
        let st = s.state(None, false);
        stream_rows.push((account.clone(), s.name.clone(), st));
        latencies.push((
            account.clone(),
            s.name.clone(),
            s.publish_latency.snapshot(),
        ));
        let consumers: Vec<_> = s.consumers.read().values().cloned().collect();
        for c in consumers {
            let i = c.info(s, None);
            consumer_rows.push((account.clone(), s.name.clone(), c.name.clone(), i));
        }
    }
    t.one(
        "jetstream_streams",
        "gauge",
        "JetStream streams.",
        stream_rows.len() as f64,
    );
    t.one(
        "jetstream_consumers",
        "gauge",
        "JetStream consumers.",
        consumer_rows.len() as f64,
    );
    t.one(
        "jetstream_messages",
        "gauge",
        "Messages held by every stream.",
        stream_rows.iter().map(|r| r.2.messages).sum::<u64>() as f64,
    );
    t.one(
        "jetstream_bytes",
        "gauge",
        "Bytes held by every stream.",
        stream_rows.iter().map(|r| r.2.bytes).sum::<u64>() as f64,
    );
    t.one(
        "jetstream_memory_bytes",
        "gauge",
        "Bytes held in memory streams.",
        memory as f64,
    );
    t.one(
        "jetstream_storage_bytes",
        "gauge",
        "Bytes held in file streams.",
        storage as f64,
    );
    t.one(
        "jetstream_api_requests_total",
        "counter",
        "JetStream API requests answered.",
        js.api_total.load(Ordering::Relaxed) as f64,
    );
    t.one(
        "jetstream_api_errors_total",
        "counter",
        "JetStream API requests answered with an error.",
        js.api_errors.load(Ordering::Relaxed) as f64,
    );
    type StreamValue = fn(&crate::jetstream::wire::StateJson) -> u64;
    let per_stream: [(&str, &str, StreamValue); 6] = [
        ("stream_messages", "Messages the stream holds.", |s| {
            s.messages
        }),
        ("stream_bytes", "Bytes the stream holds.", |s| s.bytes),
        ("stream_first_seq", "The stream's first sequence.", |s| {
            s.first_seq
        }),
        ("stream_last_seq", "The stream's last sequence.", |s| {
            s.last_seq
        }),
        ("stream_subjects", "Subjects the stream holds.", |s| {
            s.num_subjects
        }),
        ("stream_consumers", "The stream's consumers.", |s| {
            s.consumer_count
        }),
    ];
    for (name, help, value) in per_stream {
        t.family(name, "gauge", help);
        for (account, stream, st) in &stream_rows {
            t.sample(
                name,
                &[("account", account), ("stream", stream)],
                value(st) as f64,
            );
        }
    }
    publish_latency(t, &latencies);
    type ConsumerValue = fn(&crate::jetstream::consumer::InfoJson) -> u64;
    let per_consumer: [(&str, &str, ConsumerValue); 6] = [
        (
            "consumer_num_pending",
            "Messages the consumer has yet to deliver (its lag).",
            |i| i.num_pending,
        ),
        (
            "consumer_num_ack_pending",
            "Deliveries awaiting an acknowledgement.",
            |i| i.num_ack_pending,
        ),
        (
            "consumer_num_redelivered",
            "Messages delivered more than once and not yet acknowledged.",
            |i| i.num_redelivered,
        ),
        ("consumer_num_waiting", "Pull requests waiting.", |i| {
            i.num_waiting
        }),
        (
            "consumer_delivered_stream_seq",
            "The last stream sequence delivered.",
            |i| i.delivered.stream_seq,
        ),
        (
            "consumer_ack_floor_stream_seq",
            "The stream sequence everything up to which is acknowledged.",
            |i| i.ack_floor.stream_seq,
        ),
    ];
    for (name, help, value) in per_consumer {
        t.family(name, "gauge", help);
        for (account, stream, consumer, i) in &consumer_rows {
            t.sample(
                name,
                &[
                    ("account", account),
                    ("stream", stream),
                    ("consumer", consumer),
                ],
                value(i) as f64,
            );
        }
    }
}
