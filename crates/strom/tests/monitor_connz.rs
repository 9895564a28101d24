//! `/connz` on the monitoring port: open and closed connections, their counters, why they
//! closed, paging, sorting and filters, and nats-server's 400s for queries it cannot read.
//! Where nats-server answers the same, the test asks it too and compares.

mod common;

use std::time::Duration;

use common::http::{free_port, get, shape, start};
use common::{Raw, ServerProcess, TempDir, CONNECT};
use serde_json::Value;

fn connz(port: u16, query: &str) -> Value {
    let (status, _, body) = get(port, query);
    assert_eq!(status, 200, "{query}: {body}");
    serde_json::from_str(&body).expect("connz is JSON")
}

/// Polls `query` until `done` holds for its answer (counters settle after a client leaves).
fn connz_until(port: u16, query: &str, done: impl Fn(&Value) -> bool) -> Value {
    common::poll(Duration::from_secs(5), || {
        Some(connz(port, query)).filter(&done)
    })
    .unwrap_or_else(|| connz(port, query))
}

/// A raw client named `name` that subscribes to `sub` and publishes one message to itself.
fn raw_client(addr: &str, name: &str, sub: &str) -> Raw {
    let mut c = Raw::connect(addr);
    let connect = String::from_utf8_lossy(CONNECT).replace(
        "\"protocol\"",
        &format!("\"name\":\"{name}\",\"lang\":\"raw\",\"version\":\"1.0\",\"protocol\""),
    );
    let got = c.exchange(format!("{connect}SUB {sub} 1\r\nPUB {sub} 2\r\nhi\r\n").as_bytes());
    assert!(got.contains("MSG"), "{got}");
    c
}

/// Leaves cleanly: the server reads end-of-stream, not a reset.
fn quit(mut c: Raw) {
    let _ = c.stream.shutdown(std::net::Shutdown::Write);
    c.until_closed();
}

/// Two async-nats clients named `probe`, subscribed to `a.b`, and one raw client `gone` that
/// subscribed to `x.y` and left. Returns the clients that stay.
async fn scenario(server: &ServerProcess, port: u16) -> Vec<async_nats::Client> {
    let mut stay = Vec::new();
    for _ in 0..2 {
        let c = async_nats::ConnectOptions::new()
            .name("probe")
            .connect(&server.url())
            .await
            .expect("connect");
        let sub = c.subscribe("a.b").await.expect("subscribe");
        c.publish("a.b", "hi".into()).await.expect("publish");
        common::sync(&c).await;
        std::mem::forget(sub);
        stay.push(c);
    }
    quit(raw_client(&server.addr(), "gone", "x.y"));
    connz_until(port, "/connz?state=closed", |v| v["total"] == 1);
    stay
}

#[tokio::test]
async fn connz_has_nats_servers_fields_and_types() {
    let queries = [
        "/connz",
        "/connz?subs=true&auth=true",
        "/connz?subs=detail",
        "/connz?sort=msgs_from&limit=1&offset=0",
        "/connz?state=closed&subs=1&auth=1",
        "/connz?state=all&sort=uptime",
        "/connz?state=closed&sort=stop",
        "/connz?state=closed&subs=detail",
    ];
    let dir = TempDir::new("connz");
    let (strom, port) = start(None, &dir);
    let _stay = scenario(&strom, port).await;
    let ours: Vec<Value> = queries.iter().map(|q| connz(port, q)).collect();
    assert_eq!(ours[0]["num_connections"].as_u64(), Some(2));
    assert_eq!(ours[0]["connections"][0]["name"], "probe");
    let subs = ours[1]["connections"][0]["subscriptions_list"]
        .as_array()
        .expect("subs=true lists subscriptions");
    assert!(subs.iter().any(|s| s == "a.b"), "{subs:?}");
    assert_eq!(
        (
            ours[3]["num_connections"].as_u64(),
            ours[3]["total"].as_u64()
        ),
        (Some(1), Some(2)),
        "a page of one"
    );
    let Some(reference) = common::reference_or_skip() else {
        return;
    };
    let dir = TempDir::new("connz-ref");
    let (nats, port) = start(Some(&reference), &dir);
    let _stay = scenario(&nats, port).await;
    for (q, ours) in queries.iter().zip(&ours) {
        let theirs = connz(port, q);
        let (mut a, mut b) = (Vec::new(), Vec::new());
        // Both servers measure round trips; whether one is in yet is timing.
        shape(ours, "", &[], &mut a);
        shape(&theirs, "", &[], &mut b);
        a.sort();
        b.sort();
        assert_eq!(a, b, "{q}: fields and types, strom vs nats-server");
    }
}

#[tokio::test]
async fn closed_connections_keep_why_and_what_they_did() {
    let dir = TempDir::new("connz-closed");
    let (strom, port) = start(None, &dir);
    let _stay = scenario(&strom, port).await;
    let closed = connz(port, "/connz?state=closed&subs=1");
    let gone = &closed["connections"][0];
    assert_eq!(gone["name"], "gone");
    assert_eq!(gone["lang"], "raw");
    assert_eq!(gone["reason"], "Client Closed");
    assert!(gone["stop"].is_string(), "{gone}");
    assert_eq!(gone["subscriptions"], 1);
    assert_eq!(gone["subscriptions_list"], serde_json::json!(["x.y"]));
    assert_eq!(
        (gone["in_msgs"].as_u64(), gone["out_msgs"].as_u64()),
        (Some(1), Some(1))
    );
    let cid = gone["cid"].as_u64().expect("a cid");

    // The same connection by its cid; every state together; ordering by stop time.
    let by_cid = connz(port, &format!("/connz?state=any&cid={cid}"));
    assert_eq!(by_cid["connections"][0]["name"], "gone");
    assert_eq!(by_cid["num_connections"], 1);
    let all = connz(port, "/connz?state=all");
    assert_eq!(all["total"], 3);
    let open = connz(port, &format!("/connz?cid={cid}"));
    assert_eq!(open["num_connections"], 0, "a closed cid is not open");

    // Details name each subscription with its sid and count.
    let detail = connz(port, "/connz?state=closed&subs=detail");
    let d = &detail["connections"][0]["subscriptions_list_detail"][0];
    assert_eq!(
        (d["subject"].as_str(), d["sid"].as_str()),
        (Some("x.y"), Some("1"))
    );
    assert_eq!(d["msgs"], 1);
    assert_eq!(d["cid"].as_u64(), Some(cid));
}

#[test]
fn reasons_name_what_closed_the_connection_as_nats_server_does() {
    // Each case: a client named for it does something that ends its connection.
    fn provoke(addr: &str) {
        let long_line = format!("PUB {}", "a".repeat(5000));
        let cases: [(&str, &[u8]); 4] = [
            ("quits", b""),
            ("unknown-op", b"FOO BAR\r\n"),
            ("too-big", b"PUB a 99999999\r\n"),
            ("long-line", long_line.as_bytes()),
        ];
        for (name, act) in cases {
            let mut c = raw_client(addr, name, "s");
            if act.is_empty() {
                quit(c);
            } else {
                c.send(act);
                c.until_closed();
            }
        }
    }
    fn reasons(port: u16) -> Vec<(String, String)> {
        let v = connz_until(port, "/connz?state=closed&sort=reason", |v| v["total"] == 4);
        let mut out: Vec<(String, String)> = v["connections"]
            .as_array()
            .expect("connections")
            .iter()
            .map(|c| {
                (
                    c["name"].as_str().unwrap_or("").into(),
                    c["reason"].as_str().unwrap_or("").into(),
                )
            })
            .collect();
        out.sort();
        out
    }
    let dir = TempDir::new("connz-reasons");
    let (strom, port) = start(None, &dir);
    provoke(&strom.addr());
    let ours = reasons(port);
    assert!(
        ours.contains(&("unknown-op".into(), "Protocol Violation".into())),
        "{ours:?}"
    );
    let Some(reference) = common::reference_or_skip() else {
        return;
    };
    let dir = TempDir::new("connz-reasons-ref");
    let (nats, port) = start(Some(&reference), &dir);
    provoke(&nats.addr());
    assert_eq!(ours, reasons(port), "strom vs nats-server");
}

#[test]
fn queries_it_cannot_read_get_nats_servers_400() {
    let queries = [
        "/connz?auth=yes",
        "/connz?subs=maybe",
        "/connz?offset=x",
        "/connz?limit=1.5",
        "/connz?cid=-1",
        "/connz?state=gone",
        "/connz?sort=size",
        "/connz?sort=stop",
        "/connz?sort=reason&state=all",
    ];
    let dir = TempDir::new("connz-400");
    let (_strom, port) = start(None, &dir);
    let ours: Vec<_> = queries.iter().map(|q| get(port, q)).collect();
    assert!(ours.iter().all(|(status, _, _)| *status == 400), "{ours:?}");
    let Some(reference) = common::reference_or_skip() else {
        return;
    };
    let dir = TempDir::new("connz-400-ref");
    let (_nats, port) = start(Some(&reference), &dir);
    for (q, a) in queries.iter().zip(&ours) {
        let b = get(port, q);
        assert_eq!((a.0, &a.2), (b.0, &b.2), "{q}: strom vs nats-server");
    }
}

#[tokio::test]
async fn filters_by_account_and_user() {
    let config = r#"
        accounts {
            A { users: [{user: a, password: a}] }
            B { users: [{user: b, password: b}] }
        }
    "#;
    let m = free_port().to_string();
    let strom = ServerProcess::strom_with_config(config, &["-m", &m]);
    let port: u16 = m.parse().expect("a port");
    let connect = |user: &'static str, subject: &'static str| {
        let url = strom.url();
        async move {
            let c = async_nats::ConnectOptions::with_user_and_password(user.into(), user.into())
                .connect(url)
                .await
                .expect("connect");
            std::mem::forget(c.subscribe(subject).await.expect("subscribe"));
            common::sync(&c).await;
            c
        }
    };
    let _a1 = connect("a", "orders.new").await;
    let _a2 = connect("a", "billing.>").await;
    let _b = connect("b", "orders.new").await;

    let in_a = connz(port, "/connz?acc=A&auth=1");
    assert_eq!(in_a["total"], 2);
    assert!(in_a["connections"]
        .as_array()
        .expect("connections")
        .iter()
        .all(|c| c["account"] == "A" && c["authorized_user"] == "a"));
    assert_eq!(connz(port, "/connz?user=b")["num_connections"], 1);
    let listed = connz(port, "/connz?acc=B&subs=1");
    let subs = listed["connections"][0]["subscriptions_list"]
        .as_array()
        .expect("subscriptions");
    assert!(subs.iter().any(|s| s == "orders.new"), "{subs:?}");
    assert_eq!(connz(port, "/connz?acc=nobody")["total"], 0);
}

// Multi-threaded: the client answers the server's PING while the test blocks on HTTP.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_trip_is_measured_once_asked() {
    let dir = TempDir::new("connz-rtt");
    let (strom, port) = start(None, &dir);
    let _c = async_nats::connect(strom.url()).await.expect("connect");
    common::sync(&_c).await;
    // The first look starts a measurement (a PING async-nats answers); later looks show it.
    let v = connz_until(port, "/connz", |v| v["connections"][0]["rtt"] != "0s");
    let rtt = v["connections"][0]["rtt"].as_str().expect("rtt text");
    assert!(
        rtt.ends_with("µs") || rtt.ends_with("ms") || rtt.ends_with("ns"),
        "{rtt}"
    );
}

#[test]
fn max_closed_clients_bounds_what_is_remembered() {
    let m = free_port().to_string();
    let strom = ServerProcess::strom_with_config("max_closed_clients: 2", &["-m", &m]);
    let port: u16 = m.parse().expect("a port");
    for name in ["one", "two", "three"] {
        quit(raw_client(&strom.addr(), name, "s"));
    }
    let v = connz_until(port, "/connz?state=closed", |v| {
        v["connections"]
            .as_array()
            .is_some_and(|c| c.iter().any(|c| c["name"] == "three"))
    });
    let names: Vec<&str> = v["connections"]
        .as_array()
        .expect("connections")
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(names, vec!["two", "three"]);
}

#[test]
fn sorts_order_and_pages_as_nats_server_does() {
    let dir = TempDir::new("connz-sort");
    let (strom, port) = start(None, &dir);
    // Clients publishing 1, 3 and 2 messages (plus the one raw_client sends).
    let mut held = Vec::new();
    for (name, extra) in [("one", 1), ("three", 3), ("two", 2)] {
        let mut c = raw_client(&strom.addr(), name, &format!("{name}.s"));
        let pubs = format!("PUB {name}.x 1\r\nx\r\n").repeat(extra);
        c.exchange(pubs.as_bytes());
        held.push(c);
    }
    let names = |query: &str| -> Vec<String> {
        connz(port, query)["connections"]
            .as_array()
            .expect("connections")
            .iter()
            .filter_map(|c| c["name"].as_str().map(String::from))
            .collect()
    };
    assert_eq!(names("/connz?sort=msgs_from"), ["three", "two", "one"]);
    assert_eq!(names("/connz?sort=cid"), ["one", "three", "two"]);
    assert_eq!(names("/connz?sort=bytes_from&offset=1&limit=1"), ["two"]);
    // The last to send anything comes first by last activity.
    assert_eq!(names("/connz?sort=last")[0], "two");
    let cids: Vec<u64> = connz(port, "/connz?sort=start")["connections"]
        .as_array()
        .expect("connections")
        .iter()
        .filter_map(|c| c["cid"].as_u64())
        .collect();
    assert!(cids.windows(2).all(|w| w[0] < w[1]), "{cids:?}");
}
