//! The system account: `$SYS.REQ.SERVER.PING` answered with the server's identity and stats,
//! and client connect/disconnect advisories, in nats-server's JSON shapes.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::{reference_or_skip, ServerProcess};
use futures::StreamExt;
use serde_json::Value;

const CONFIG: &str = r#"
accounts {
  $SYS { users: [ { user: sys, password: sys } ] }
  APP { users: [ { user: app, password: app } ] }
}
"#;

async fn login(server: &ServerProcess, user: &str) -> async_nats::Client {
    async_nats::ConnectOptions::with_user_and_password(user.into(), user.into())
        .name("tester")
        .connect(server.url())
        .await
        .expect("login")
}

async fn next_json(sub: &mut async_nats::Subscriber) -> (String, Value) {
    let m = tokio::time::timeout(Duration::from_secs(5), sub.next())
        .await
        .expect("advisory in time")
        .expect("subscription open");
    let v = serde_json::from_slice(&m.payload).expect("advisory is JSON");
    (m.subject.to_string(), v)
}

/// What a server says about connects and disconnects, and to a PING.
async fn observe(server: &ServerProcess) -> (Value, Value, Value) {
    let sys = login(server, "sys").await;
    let mut events = sys.subscribe("$SYS.ACCOUNT.APP.>").await.expect("sub");
    common::sync(&sys).await;
    let app = login(server, "app").await;
    common::sync(&app).await;
    let connect = loop {
        let (subject, v) = next_json(&mut events).await;
        if subject == "$SYS.ACCOUNT.APP.CONNECT" {
            break v;
        }
    };
    drop(app);
    let disconnect = loop {
        let (subject, v) = next_json(&mut events).await;
        if subject == "$SYS.ACCOUNT.APP.DISCONNECT" {
            break v;
        }
    };
    let reply = tokio::time::timeout(
        Duration::from_secs(5),
        sys.request("$SYS.REQ.SERVER.PING", Bytes::new()),
    )
    .await
    .expect("in time")
    .expect("the server answers PING");
    let ping: Value = serde_json::from_slice(&reply.payload).expect("PING reply is JSON");
    (connect, disconnect, ping)
}

#[tokio::test]
async fn advisories_and_ping_describe_server_and_client() {
    let server = ServerProcess::strom_with_config(CONFIG, &[]);
    let (connect, disconnect, ping) = observe(&server).await;
    assert_eq!(connect["type"], "io.nats.server.advisory.v1.client_connect");
    assert_eq!(connect["client"]["acc"], "APP");
    assert_eq!(connect["client"]["user"], "app");
    assert_eq!(connect["client"]["name"], "tester");
    assert_eq!(connect["client"]["lang"], "rust");
    assert_eq!(
        disconnect["type"],
        "io.nats.server.advisory.v1.client_disconnect"
    );
    assert_eq!(disconnect["client"]["id"], connect["client"]["id"]);
    assert!(disconnect["client"]["stop"].is_string());
    assert!(disconnect["reason"].is_string());
    let raw = common::Raw::connect(&server.addr());
    let info: Value =
        serde_json::from_str(raw.info.trim_start_matches("INFO ").trim_end()).expect("INFO");
    assert_eq!(ping["server"]["id"], info["server_id"]);
    assert_eq!(connect["server"]["id"], info["server_id"]);
    assert_eq!(ping["server"]["ver"], "2.15.1");
    assert!(ping["statsz"]["connections"].as_u64().unwrap_or(0) >= 1);
    // The sys client's own SUBs and request count as received messages while it is connected.
    assert!(
        ping["statsz"]["received"]["msgs"].as_u64().unwrap_or(0) >= 1,
        "{ping}"
    );
}

#[tokio::test]
async fn only_system_account_clients_are_answered() {
    let server = ServerProcess::strom_with_config(CONFIG, &[]);
    let app = login(&server, "app").await;
    let err = app
        .request("$SYS.REQ.SERVER.PING", Bytes::new())
        .await
        .expect_err("not answered outside the system account");
    assert_eq!(err.kind(), async_nats::RequestErrorKind::NoResponders);
}

/// Every field strom sends exists in nats-server's message, with the same JSON type.
#[tokio::test]
async fn shapes_are_a_subset_of_nats_servers() {
    let Some(reference) = reference_or_skip() else {
        return;
    };
    let strom = ServerProcess::strom_with_config(CONFIG, &[]);
    let nats = ServerProcess::reference(&reference, &[], Some(CONFIG));
    let ours = observe(&strom).await;
    let theirs = observe(&nats).await;
    fn check(path: &str, ours: &Value, theirs: &Value) {
        match (ours, theirs) {
            (Value::Object(a), Value::Object(b)) => {
                for (k, v) in a {
                    let t = b
                        .get(k)
                        .unwrap_or_else(|| panic!("{path}.{k} not in nats-server's"));
                    check(&format!("{path}.{k}"), v, t);
                }
            }
            (a, b) => assert_eq!(
                std::mem::discriminant(a),
                std::mem::discriminant(b),
                "{path}: {a} vs {b}"
            ),
        }
    }
    check("connect", &ours.0, &theirs.0);
    check("disconnect", &ours.1, &theirs.1);
    check("ping", &ours.2, &theirs.2);
}

/// The statistics heartbeat a monitoring system listens for: `$SYS.SERVER.<id>.STATSZ`,
/// soon after start and again shortly after, in nats-server's shape.
#[tokio::test]
async fn statsz_events_are_published_periodically() {
    async fn two_events(server: &ServerProcess) -> (String, Value, Value) {
        let sys = login(server, "sys").await;
        let mut events = sys.subscribe("$SYS.SERVER.*.STATSZ").await.expect("sub");
        common::sync(&sys).await;
        let (subject, first) = next_json(&mut events).await;
        let (_, second) = next_json(&mut events).await;
        (subject, first, second)
    }
    let strom = ServerProcess::strom_with_config(CONFIG, &[]);
    let (subject, first, second) = two_events(&strom).await;
    let id = first["server"]["id"].as_str().expect("server id");
    assert_eq!(subject, format!("$SYS.SERVER.{id}.STATSZ"));
    assert!(first["statsz"]["connections"].as_u64() >= Some(1));
    assert!(second["server"]["seq"].as_u64() > first["server"]["seq"].as_u64());
    let Some(reference) = reference_or_skip() else {
        return;
    };
    let nats = ServerProcess::reference(&reference, &[], Some(CONFIG));
    let (_, theirs, _) = two_events(&nats).await;
    fn check(path: &str, ours: &Value, theirs: &Value) {
        if let (Value::Object(a), Value::Object(b)) = (ours, theirs) {
            for (k, v) in a {
                let t = b
                    .get(k)
                    .unwrap_or_else(|| panic!("{path}.{k} not in nats-server's"));
                check(&format!("{path}.{k}"), v, t);
            }
        } else {
            assert_eq!(
                std::mem::discriminant(ours),
                std::mem::discriminant(theirs),
                "{path}"
            );
        }
    }
    check("statsz", &first, &theirs);
    // And the other way: every statistic nats-server sends, Strom sends too (gomemlimit
    // only appears when Go's memory limit is set).
    let ours = first["statsz"].as_object().expect("statsz object");
    let missing: Vec<&String> = theirs["statsz"]
        .as_object()
        .expect("their statsz object")
        .keys()
        .filter(|k| !ours.contains_key(*k) && *k != "gomemlimit")
        .collect();
    assert!(missing.is_empty(), "statsz lacks {missing:?}");
}

/// A PING whose server filter leaves this server out is not answered; a body that is not
/// JSON gets nats-server's 400.
#[tokio::test]
async fn ping_filters_select_the_server() {
    let bins: Vec<Option<std::path::PathBuf>> = std::iter::once(None)
        .chain(reference_or_skip().map(Some))
        .collect();
    for bin in bins {
        let server = match &bin {
            Some(b) => ServerProcess::reference(b, &[], Some(CONFIG)),
            None => ServerProcess::strom_with_config(CONFIG, &[]),
        };
        let sys = login(&server, "sys").await;
        let ask = |body: &str| {
            let sys = sys.clone();
            let body = Bytes::from(body.to_string());
            async move {
                tokio::time::timeout(
                    Duration::from_millis(300),
                    sys.request("$SYS.REQ.SERVER.PING", body),
                )
                .await
                .ok()
                .and_then(Result::ok)
                .map(|m| serde_json::from_slice::<Value>(&m.payload).expect("JSON"))
            }
        };
        let name = ask("").await.expect("an unfiltered PING is answered")["server"]["name"]
            .as_str()
            .expect("a name")
            .to_string();
        assert!(ask(r#"{"server_name":"no-such-server"}"#).await.is_none());
        let body = format!(r#"{{"server_name":"{name}"}}"#);
        assert!(ask(&body).await.is_some(), "its own name selects it");
        let bad = ask("not json").await.expect("answered");
        assert_eq!(bad["error"]["code"], 400, "{bad}");
    }
}

/// `$SYS.ACCOUNT.<acc>.SERVER.CONNS` after a client of the account comes and goes, as
/// `nats server watch accounts` hears it; the same fields as nats-server's.
#[tokio::test]
async fn account_connection_events_follow_clients() {
    async fn two_events(server: &ServerProcess) -> (Value, Value) {
        let sys = login(server, "sys").await;
        let mut events = sys
            .subscribe("$SYS.ACCOUNT.APP.SERVER.CONNS")
            .await
            .expect("sub");
        common::sync(&sys).await;
        let app = login(server, "app").await;
        common::sync(&app).await;
        let (_, came) = next_json(&mut events).await;
        drop(app);
        let (_, went) = next_json(&mut events).await;
        (came, went)
    }
    let strom = ServerProcess::strom_with_config(CONFIG, &[]);
    let (came, went) = two_events(&strom).await;
    assert_eq!(
        came["type"],
        "io.nats.server.advisory.v1.account_connections"
    );
    assert_eq!(
        (came["acc"].as_str(), came["conns"].as_u64()),
        (Some("APP"), Some(1))
    );
    assert_eq!(went["conns"], 0, "{went}");
    let Some(reference) = reference_or_skip() else {
        return;
    };
    let nats = ServerProcess::reference(&reference, &[], Some(CONFIG));
    let (theirs, _) = two_events(&nats).await;
    let keys = |v: &Value| -> Vec<String> {
        let mut k: Vec<String> = v.as_object().expect("object").keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(
        keys(&came),
        keys(&theirs),
        "event fields, strom vs nats-server"
    );
    assert_eq!(keys(&came["sent"]), keys(&theirs["sent"]));
}
