//! The HTTP monitoring port, compared with the reference nats-server: the same requests to
//! both, the same status lines, content types and bodies. So far `/healthz` (with its query
//! options) and the 404 for what is not served.

mod common;

use common::http::{get, shape, start};
use common::TempDir;

#[test]
fn healthz_answers_as_nats_server_does() {
    let paths = [
        "/healthz",
        "/healthz?js-enabled-only=true",
        "/healthz?js-server-only=true",
        "/healthz?js-enabled=true",
        "/no-such-endpoint",
    ];
    let dir = TempDir::new("monitor");
    let (_strom, port) = start(None, &dir);
    let ours: Vec<_> = paths.iter().map(|p| get(port, p)).collect();
    assert_eq!(
        ours[0],
        (200, "application/json".into(), r#"{"status":"ok"}"#.into())
    );
    assert_eq!(ours[4].0, 404);
    let Some(reference) = common::reference_or_skip() else {
        return;
    };
    let dir = TempDir::new("monitor-ref");
    let (_nats, port) = start(Some(&reference), &dir);
    let theirs: Vec<_> = paths.iter().map(|p| get(port, p)).collect();
    for ((path, a), b) in paths.iter().zip(&ours).zip(&theirs) {
        assert_eq!(a, b, "{path}: strom vs nats-server");
    }
}

#[test]
fn varz_has_nats_servers_fields_and_types() {
    let dir = TempDir::new("varz");
    let (strom, port) = start(None, &dir);
    let (status, content_type, body) = get(port, "/varz");
    assert_eq!((status, content_type.as_str()), (200, "application/json"));
    let ours: serde_json::Value = serde_json::from_str(&body).expect("varz is JSON");
    assert_eq!(ours["port"].as_u64(), Some(u64::from(strom.port)));
    assert_eq!(ours["http_port"].as_u64(), Some(u64::from(port)));
    assert_eq!(ours["http_req_stats"]["/varz"].as_u64(), Some(1));
    assert!(ours["jetstream"]["config"]["store_dir"].is_string());
    let Some(reference) = common::reference_or_skip() else {
        return;
    };
    let dir = TempDir::new("varz-ref");
    let (_nats, port) = start(Some(&reference), &dir);
    let theirs: serde_json::Value =
        serde_json::from_str(&get(port, "/varz").2).expect("reference varz is JSON");
    // Strom fsyncs before every acknowledgement by default, and says so.
    let skip = ["jetstream.config.sync_always"];
    let (mut a, mut b) = (Vec::new(), Vec::new());
    shape(&ours, "", &skip, &mut a);
    shape(&theirs, "", &skip, &mut b);
    a.sort();
    b.sort();
    assert_eq!(a, b, "/varz fields and types: strom vs nats-server");
}

/// A stream of three messages and a durable consumer, made through the client.
async fn stream_and_consumer(url: &str) {
    let client = async_nats::connect(url).await.expect("connect");
    let js = async_nats::jetstream::new(client.clone());
    let stream = js
        .create_stream(async_nats::jetstream::stream::Config {
            name: "S".into(),
            subjects: vec!["s.>".into()],
            ..Default::default()
        })
        .await
        .expect("stream");
    for _ in 0..3 {
        js.publish("s.a", "x".into())
            .await
            .expect("published")
            .await
            .expect("stored");
    }
    stream
        .create_consumer(async_nats::jetstream::consumer::pull::Config {
            durable_name: Some("C".into()),
            ..Default::default()
        })
        .await
        .expect("consumer");
    client.drain().await.expect("the client leaves");
}

#[tokio::test]
async fn jsz_has_nats_servers_fields_and_types() {
    let queries = [
        "/jsz",
        "/jsz?accounts=true&streams=true&consumers=true&config=true",
    ];
    let dir = TempDir::new("jsz");
    let (strom, port) = start(None, &dir);
    stream_and_consumer(&strom.url()).await;
    let ours: Vec<serde_json::Value> = queries
        .iter()
        .map(|q| serde_json::from_str(&get(port, q).2).expect("jsz is JSON"))
        .collect();
    assert_eq!(ours[0]["messages"].as_u64(), Some(3));
    assert_eq!(
        (ours[0]["streams"].as_u64(), ours[0]["consumers"].as_u64()),
        (Some(1), Some(1))
    );
    let detail = &ours[1]["account_details"][0]["stream_detail"][0];
    assert_eq!(
        detail["consumer_detail"][0]["num_pending"].as_u64(),
        Some(3)
    );
    let Some(reference) = common::reference_or_skip() else {
        return;
    };
    let dir = TempDir::new("jsz-ref");
    let (nats, port) = start(Some(&reference), &dir);
    stream_and_consumer(&nats.url()).await;
    // `api.inflight` is omitted when zero: nats-server shows it only while an API request
    // is being served at that instant, which a test cannot line up.
    let skip = ["config.sync_always", "api.inflight"];
    for (q, ours) in queries.iter().zip(&ours) {
        let theirs: serde_json::Value =
            serde_json::from_str(&get(port, q).2).expect("reference jsz is JSON");
        let (mut a, mut b) = (Vec::new(), Vec::new());
        shape(ours, "", &skip, &mut a);
        shape(&theirs, "", &skip, &mut b);
        a.sort();
        b.sort();
        assert_eq!(a, b, "{q}: fields and types, strom vs nats-server");
        if q.contains("consumers") {
            assert!(
                a.iter()
                    .any(|(p, _)| p.contains("consumer_detail[].config")),
                "the detail is compared: {a:?}"
            );
        }
    }
}

/// `/metrics` parses as Prometheus text and reports what was done: a stream of three
/// messages, a consumer three behind, the messages received.
#[tokio::test]
async fn metrics_parse_and_count_what_happened() {
    if std::env::var("STROM_TEST_AGAINST_REFERENCE").is_ok_and(|v| v == "1") {
        return; // Strom's own metrics: nats-server has none.
    }
    let dir = TempDir::new("metrics");
    let (strom, port) = start(None, &dir);
    stream_and_consumer(&strom.url()).await;
    let (status, content_type, body) = get(port, "/metrics");
    assert_eq!(status, 200);
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    let lines = body.lines().map(|l| Ok(l.to_string()));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("Prometheus text format");
    let value = |name: &str, labels: &[(&str, &str)]| -> f64 {
        let s = scrape
            .samples
            .iter()
            .find(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(v)))
            .unwrap_or_else(|| panic!("{name} {labels:?} in {body}"));
        match s.value {
            prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Untyped(v) => v,
            _ => panic!("{name} is a plain value"),
        }
    };
    let stream = [("account", "$G"), ("stream", "S")];
    assert_eq!(value("strom_stream_messages", &stream), 3.0);
    // Three acknowledged publishes, each timed from capture to PubAck.
    let latency = "strom_jetstream_publish_latency_seconds";
    assert_eq!(value(&format!("{latency}_count"), &stream), 3.0);
    let sum = value(&format!("{latency}_sum"), &stream);
    assert!(sum > 0.0 && sum < 30.0, "latency sum {sum}");
    let buckets = scrape
        .samples
        .iter()
        .find_map(|s| match &s.value {
            prometheus_parse::Value::Histogram(b) if s.metric == latency => Some(b.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("{latency} is a histogram in {body}"));
    assert!(
        buckets
            .windows(2)
            .all(|w| w[0].less_than < w[1].less_than && w[0].count <= w[1].count),
        "cumulative buckets in rising order: {buckets:?}"
    );
    let last = buckets.last().expect("buckets");
    assert_eq!((last.less_than, last.count), (f64::INFINITY, 3.0));
    assert_eq!(value("strom_jetstream_streams", &[]), 1.0);
    assert_eq!(value("strom_jetstream_consumers", &[]), 1.0);
    let consumer = [("account", "$G"), ("stream", "S"), ("consumer", "C")];
    assert_eq!(value("strom_consumer_num_pending", &consumer), 3.0);
    assert_eq!(value("strom_consumer_num_ack_pending", &consumer), 0.0);
    assert!(value("strom_messages_received_total", &[]) >= 3.0);
    assert_eq!(value("strom_server_info", &[("version", "2.15.1")]), 1.0);
    assert_eq!(value("strom_routes", &[]), 0.0);
    let global = [("account", "$G")];
    assert!(value("strom_account_messages_received_total", &global) >= 3.0);
    assert_eq!(value("strom_account_jetstream_streams", &global), 1.0);
    assert!(value("strom_account_jetstream_storage_bytes", &global) > 0.0);
    assert!(
        value("strom_account_jetstream_max_storage_bytes", &global)
            >= value("strom_account_jetstream_storage_bytes", &global)
    );
    assert_eq!(
        value("strom_account_connections", &[("account", "$SYS")]),
        0.0,
        "every account is listed"
    );
    assert!(value("strom_resident_memory_bytes", &[]) > 0.0);

    // The JetStream client is gone (dropped above): what it was sent still counts, so the
    // sent counters never fall (Prometheus would read a fall as a reset).
    let gauges = || {
        let body = get(port, "/metrics").2;
        let s = prometheus_parse::Scrape::parse(body.lines().map(|l| Ok(l.to_string())))
            .expect("Prometheus text format");
        let gauge = |name: &str| {
            s.samples
                .iter()
                .find(|x| x.metric == name)
                .map(|x| match x.value {
                    prometheus_parse::Value::Gauge(v) | prometheus_parse::Value::Counter(v) => v,
                    _ => f64::NAN,
                })
        };
        (
            gauge("strom_connections"),
            gauge("strom_messages_sent_total"),
        )
    };
    // Async: the client's connection task must run to close.
    let (_, sent) = common::poll_async(std::time::Duration::from_secs(5), || async {
        Some(gauges()).filter(|(conns, _)| *conns == Some(0.0))
    })
    .await
    .unwrap_or_else(gauges);
    let after = sent.expect("sent total");
    let before = value("strom_messages_sent_total", &[]);
    assert!(before >= 3.0, "the PubAcks were sent: {before}");
    assert!(after >= before, "sent total fell from {before} to {after}");
}

#[tokio::test]
async fn subsz_has_nats_servers_fields_and_types() {
    let queries = [
        "/subsz",
        "/subsz?subs=1",
        "/subsz?subs=1&test=orders.eu.new",
        "/subsz?subs=1&acc=%24G&limit=1&offset=1",
        "/subscriptionsz?subs=true",
    ];
    async fn clients(url: String) -> Vec<async_nats::Client> {
        let mut out = Vec::new();
        for subject in ["orders.*.new", "orders.>", "billing.new"] {
            let c = async_nats::connect(&url).await.expect("connect");
            std::mem::forget(c.subscribe(subject).await.expect("subscribe"));
            std::mem::forget(
                c.queue_subscribe(subject, "workers".into())
                    .await
                    .expect("queue subscribe"),
            );
            common::sync(&c).await;
            out.push(c);
        }
        out
    }
    let dir = TempDir::new("subsz");
    let (strom, port) = start(None, &dir);
    let _c = clients(strom.url()).await;
    let ours: Vec<serde_json::Value> = queries
        .iter()
        .map(|q| serde_json::from_str(&get(port, q).2).expect("subsz is JSON"))
        .collect();
    let tested = ours[2]["subscriptions_list"].as_array().expect("a list");
    let mut subjects: Vec<&str> = tested
        .iter()
        .filter_map(|s| s["subject"].as_str())
        .collect();
    subjects.sort();
    assert_eq!(
        subjects,
        ["orders.*.new", "orders.*.new", "orders.>", "orders.>"],
        "the subscriptions a message on orders.eu.new reaches"
    );
    assert!(tested.iter().any(|s| s["qgroup"] == "workers"));
    assert_eq!(
        ours[3]["subscriptions_list"].as_array().map(Vec::len),
        Some(1)
    );
    assert!(ours[0]["num_subscriptions"].as_u64() >= Some(6));
    let (status, _, body) = get(port, "/subsz?test=orders.*");
    assert_eq!(
        (status, body.as_str()),
        (
            400,
            "invalid test subject, must be valid publish subject: orders.*"
        )
    );
    let Some(reference) = common::reference_or_skip() else {
        return;
    };
    let dir = TempDir::new("subsz-ref");
    let (nats, port) = start(Some(&reference), &dir);
    let _c = clients(nats.url()).await;
    for (q, ours) in queries.iter().zip(&ours) {
        let theirs: serde_json::Value =
            serde_json::from_str(&get(port, q).2).expect("reference subsz is JSON");
        let (mut a, mut b) = (Vec::new(), Vec::new());
        // Which subscriptions land on a page is each server's own order; queue groups are
        // checked above.
        let skip = ["subscriptions_list[].qgroup"];
        shape(ours, "", &skip, &mut a);
        shape(&theirs, "", &skip, &mut b);
        a.sort();
        b.sort();
        assert_eq!(a, b, "{q}: fields and types, strom vs nats-server");
    }
    assert_eq!(
        get(port, "/subsz?test=orders.*"),
        (
            400,
            "text/plain; charset=utf-8".into(),
            "invalid test subject, must be valid publish subject: orders.*".into()
        )
    );
}

/// A client that never answers PINGs is closed as stale; /varz counts it in
/// `stale_connections` and `stale_connection_stats.clients`, and `cpu` is a percentage.
#[test]
fn varz_counts_stale_connections_as_nats_server_does() {
    let config = "ping_interval: \"100ms\"\nping_max: 1\n";
    let mut seen = Vec::new();
    let bins: Vec<Option<std::path::PathBuf>> = std::iter::once(None)
        .chain(common::reference_or_skip().map(Some))
        .collect();
    for bin in bins {
        let port = common::http::free_port();
        let m = port.to_string();
        let _server = match &bin {
            Some(b) => common::ServerProcess::reference(b, &["-m", &m], Some(config)),
            None => common::ServerProcess::strom_with_config(config, &["-m", &m]),
        };
        let mut raw = common::Raw::connect(&format!("127.0.0.1:{}", _server.port));
        raw.send(common::CONNECT);
        let closed = raw.until_closed();
        assert!(closed.contains("-ERR 'Stale Connection'"), "{closed}");
        let varz_now = || -> serde_json::Value {
            serde_json::from_str(&get(port, "/varz").2).expect("varz is JSON")
        };
        let varz = common::poll(std::time::Duration::from_secs(5), || {
            Some(varz_now()).filter(|v| v["stale_connections"] == 1)
        })
        .unwrap_or_else(varz_now);
        assert!(
            varz["cpu"].is_f64() || varz["cpu"].is_u64(),
            "{}",
            varz["cpu"]
        );
        seen.push((
            varz["stale_connections"].clone(),
            varz["stale_connection_stats"]["clients"].clone(),
        ));
    }
    assert_eq!(seen[0], (1.into(), 1.into()), "strom");
    if let Some(theirs) = seen.get(1) {
        assert_eq!(&seen[0], theirs, "strom vs nats-server");
    }
}

/// Under `http_base_path` only the base's paths answer; bad option values on the cluster
/// endpoints get 400s; without JetStream `/jsz` is nats-server's zero-valued answer and
/// `/varz` has an empty `jetstream`. Status codes and shapes as the reference's.
#[test]
fn base_path_option_errors_and_no_jetstream_as_nats_server() {
    let paths = [
        "/mon/varz",
        "/varz",
        "/mon",
        "/",
        "/mon/healthz",
        "/mon/routez?subs=x",
        "/mon/routez?subs=detail",
        "/mon/leafz?subs=x",
        "/mon/gatewayz?accs=x",
        "/mon/gatewayz?subs=detail&accs=1",
        "/mon/jsz",
    ];
    let run = |bin: Option<&std::path::Path>| {
        let port = common::http::free_port();
        let m = port.to_string();
        let config = "http_base_path: \"/mon\"";
        let _server = match bin {
            Some(b) => common::ServerProcess::reference(b, &["-m", &m], Some(config)),
            None => common::ServerProcess::strom_with_config(config, &["-m", &m]),
        };
        paths.iter().map(|p| get(port, p)).collect::<Vec<_>>()
    };
    let ours = run(None);
    let status: Vec<u16> = ours.iter().map(|a| a.0).collect();
    assert_eq!(
        status,
        [200, 404, 200, 404, 200, 400, 200, 400, 400, 200, 200]
    );
    let jsz: serde_json::Value = serde_json::from_str(&ours[10].2).expect("jsz JSON");
    assert_eq!(jsz["disabled"], true);
    let varz: serde_json::Value = serde_json::from_str(&ours[0].2).expect("varz JSON");
    assert_eq!(varz["jetstream"], serde_json::json!({}));
    let Some(reference) = common::reference_or_skip() else {
        return;
    };
    let theirs = run(Some(&reference));
    for ((path, a), b) in paths.iter().zip(&ours).zip(&theirs) {
        assert_eq!(a.0, b.0, "{path}: status, strom vs nats-server");
        if a.0 == 400 {
            assert_eq!(a.2, b.2, "{path}: the 400's text");
        }
    }
    let (mut a, mut b) = (Vec::new(), Vec::new());
    shape(&jsz, "", &[], &mut a);
    let theirs_jsz: serde_json::Value = serde_json::from_str(&theirs[10].2).expect("jsz JSON");
    shape(&theirs_jsz, "", &[], &mut b);
    a.sort();
    b.sort();
    assert_eq!(a, b, "/jsz without JetStream: fields and types");
}
