//! The monitoring endpoints asked over the system account (`$SYS.REQ.SERVER.PING.<EP>`,
//! `$SYS.REQ.SERVER.<id>.<EP>`, `$SYS.REQ.ACCOUNT.<account>.<EP>`), as `nats server ls`,
//! `report` and `check` ask them: the same envelope and data fields as nats-server's, request
//! options in the body, server filters, and errors for bodies that are not JSON.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::http::shape;
use common::{reference_or_skip, ServerProcess, TempDir};
use serde_json::Value;

const CONFIG: &str = r#"
accounts {
  $SYS { users: [ { user: sys, password: sys } ] }
  APP { jetstream: enabled, users: [ { user: app, password: app } ] }
}
"#;

async fn login(server: &ServerProcess, user: &str) -> async_nats::Client {
    async_nats::ConnectOptions::with_user_and_password(user.into(), user.into())
        .name(user)
        .connect(server.url())
        .await
        .expect("login")
}

/// Asks `subject` with `body`; `None` when nobody answers within a short while.
async fn ask(sys: &async_nats::Client, subject: &str, body: &str) -> Option<Value> {
    let inbox = sys.new_inbox();
    let mut sub = sys.subscribe(inbox.clone()).await.expect("inbox");
    sys.publish_with_reply(subject.to_string(), inbox, Bytes::from(body.to_string()))
        .await
        .expect("request sent");
    let m = tokio::time::timeout(
        Duration::from_millis(500),
        futures::StreamExt::next(&mut sub),
    )
    .await
    .ok()??;
    Some(serde_json::from_slice(&m.payload).unwrap_or_else(|e| {
        panic!(
            "{subject} {body}: the answer is JSON: {e}: {:?} {:?}",
            m.headers, m.status
        )
    }))
}

/// The requests both servers are asked, with what each test looks at.
const REQUESTS: [(&str, &str); 19] = [
    ("$SYS.REQ.SERVER.PING.IDZ", ""),
    ("$SYS.REQ.SERVER.PING.VARZ", ""),
    ("$SYS.REQ.SERVER.PING.HEALTHZ", ""),
    (
        "$SYS.REQ.SERVER.PING.CONNZ",
        r#"{"subscriptions":true,"auth":true}"#,
    ),
    (
        "$SYS.REQ.SERVER.PING.SUBSZ",
        r#"{"subscriptions":true,"test":"orders.new"}"#,
    ),
    (
        "$SYS.REQ.SERVER.PING.JSZ",
        r#"{"streams":true,"config":true}"#,
    ),
    ("$SYS.REQ.ACCOUNT.APP.CONNZ", ""),
    ("$SYS.REQ.ACCOUNT.APP.SUBSZ", ""),
    ("$SYS.REQ.ACCOUNT.APP.JSZ", r#"{"streams":true}"#),
    ("$SYS.REQ.SERVER.PING.CONNZ", "not json"),
    (
        "$SYS.REQ.SERVER.PING.VARZ",
        r#"{"server_name":"no-such-server"}"#,
    ),
    ("$SYS.REQ.SERVER.PING.CONNZ", r#"{"sort":"size"}"#),
    ("$SYS.REQ.SERVER.PING.ROUTEZ", ""),
    ("$SYS.REQ.SERVER.PING.GATEWAYZ", ""),
    ("$SYS.REQ.SERVER.PING.LEAFZ", ""),
    ("$SYS.REQ.SERVER.PING.ACCOUNTZ", r#"{"account":"APP"}"#),
    ("$SYS.REQ.ACCOUNT.APP.STATZ", ""),
    ("$SYS.REQ.ACCOUNT.APP.LEAFZ", ""),
    (
        "$SYS.REQ.SERVER.PING.HEALTHZ",
        r#"{"account":"APP","stream":"NOPE"}"#,
    ),
];

/// Each answer has the reference's fields and types (`skip` aside), and each request is
/// answered by both or neither; `asked` names the requests in failures.
fn same_shapes(
    ours: &[Option<Value>],
    theirs: &[Option<Value>],
    skip: &[&str],
    asked: &[impl std::fmt::Debug],
) {
    for (i, (a, b)) in ours.iter().zip(theirs).enumerate() {
        let (Some(a), Some(b)) = (a, b) else {
            assert_eq!(a.is_some(), b.is_some(), "{:?}: answered?", asked[i]);
            continue;
        };
        let (mut x, mut y) = (Vec::new(), Vec::new());
        shape(a, "", skip, &mut x);
        shape(b, "", skip, &mut y);
        x.sort();
        y.sort();
        assert_eq!(
            x, y,
            "{:?}: fields and types, strom vs nats-server",
            asked[i]
        );
    }
}

/// An APP client with a subscription and a stream, then every request in turn.
async fn observe(server: &ServerProcess) -> Vec<Option<Value>> {
    let app = login(server, "app").await;
    std::mem::forget(app.subscribe("orders.*").await.expect("subscribe"));
    let js = async_nats::jetstream::new(app.clone());
    js.create_stream(async_nats::jetstream::stream::Config {
        name: "ORDERS".into(),
        subjects: vec!["orders.>".into()],
        ..Default::default()
    })
    .await
    .expect("stream");
    js.publish("orders.new", "1".into())
        .await
        .expect("publish")
        .await
        .expect("ack");
    let sys = login(server, "sys").await;
    common::sync(&sys).await;
    let mut out = Vec::new();
    for (subject, body) in REQUESTS {
        out.push(ask(&sys, subject, body).await);
    }
    std::mem::forget(app);
    out
}

fn start(bin: Option<&std::path::Path>, dir: &TempDir) -> ServerProcess {
    let store = dir.0.to_str().expect("utf-8 path");
    let args = ["-js", "-sd", store];
    match bin {
        Some(b) => ServerProcess::reference(b, &args, Some(CONFIG)),
        None => ServerProcess::strom_with_config(CONFIG, &args),
    }
}

#[tokio::test]
async fn monitoring_requests_are_answered_over_the_system_account() {
    let dir = TempDir::new("sysreq");
    let strom = start(None, &dir);
    let ours = observe(&strom).await;
    let get = |i: usize| {
        ours[i]
            .as_ref()
            .unwrap_or_else(|| panic!("{:?} answered", REQUESTS[i]))
    };
    assert!(get(0)["id"].is_string(), "IDZ is bare: {}", get(0));
    assert_eq!(get(1)["server"]["jetstream"], true);
    assert_eq!(get(1)["data"]["server_id"], get(0)["id"]);
    assert_eq!(get(2)["data"]["status"], "ok");
    let conns = get(3)["data"]["connections"]
        .as_array()
        .expect("connections");
    let app = conns
        .iter()
        .find(|c| c["name"] == "app")
        .expect("the APP client");
    assert_eq!(app["account"], "APP");
    assert!(app["subscriptions_list"]
        .as_array()
        .is_some_and(|l| l.iter().any(|s| s == "orders.*")));
    let subs = get(4)["data"]["subscriptions_list"]
        .as_array()
        .expect("a list");
    assert!(subs.iter().all(|s| s["subject"] == "orders.*"), "{subs:?}");
    assert_eq!(get(5)["data"]["streams"], 1);
    assert_eq!(
        get(6)["data"]["num_connections"],
        1,
        "only APP's connections"
    );
    assert!(get(7)["data"]["subscriptions_list"].is_array());
    assert_eq!(get(8)["data"]["stream_detail"][0]["name"], "ORDERS");
    assert_eq!(get(9)["error"]["code"], 400, "{}", get(9));
    assert!(
        ours[10].is_none(),
        "a server filter that leaves this server out"
    );
    assert_eq!(
        get(11)["error"],
        serde_json::json!({"code": 500, "description": "invalid sorting option: size"})
    );

    assert_eq!(get(15)["data"]["account_detail"]["account_name"], "APP");
    let statz = &get(16)["data"]["account_statz"][0];
    assert_eq!(
        (statz["acc"].as_str(), statz["conns"].as_u64()),
        (Some("APP"), Some(1))
    );

    assert_eq!(
        get(18)["data"],
        serde_json::json!({
            "status": "unavailable",
            "status_code": 404,
            "error": "JetStream stream \"NOPE\" not found on account \"APP\""
        })
    );

    // This server by its id answers as PING does.
    let sys = login(&strom, "sys").await;
    let id = get(0)["id"].as_str().expect("an id");
    let by_id = ask(&sys, &format!("$SYS.REQ.SERVER.{id}.HEALTHZ"), "")
        .await
        .expect("answered by id");
    assert_eq!(by_id["data"]["status_code"], 200);

    let Some(reference) = reference_or_skip() else {
        return;
    };
    let dir = TempDir::new("sysreq-ref");
    let nats = start(Some(&reference), &dir);
    let theirs = observe(&nats).await;
    // Fields nats-server has that a single Strom server has no counterpart for.
    let skip = [
        "server.feature_flags",
        "data.feature_flags",
        "data.jetstream.config.sync_always",
        "data.config.sync_always",
        // Omitted when zero: present only while an API request is being served.
        "data.api.inflight",
    ];
    same_shapes(&ours, &theirs, &skip, &REQUESTS);
    let error = |v: &Option<Value>| v.as_ref().map(|v| (v["data"].clone(), v["error"].clone()));
    assert_eq!(
        error(&ours[11]),
        error(&theirs[11]),
        "the same error for a bad sort"
    );
    assert_eq!(
        error(&ours[18]),
        error(&theirs[18]),
        "the same health for a missing stream"
    );
}

/// The system services nats-server imports into every account: an APP user asks for its own
/// connections, its account's statistics and who it is; the system user asks every
/// account's statistics. Same answers' shapes as the reference's.
#[tokio::test]
async fn system_services_are_imported_into_every_account() {
    const ASKED: [(&str, &str, &str); 5] = [
        ("app", "$SYS.REQ.SERVER.PING.CONNZ", ""),
        ("app", "$SYS.REQ.ACCOUNT.PING.CONNZ", ""),
        ("app", "$SYS.REQ.ACCOUNT.PING.STATZ", ""),
        ("app", "$SYS.REQ.USER.INFO", ""),
        (
            "sys",
            "$SYS.REQ.ACCOUNT.PING.STATZ",
            r#"{"accounts":["APP"]}"#,
        ),
    ];
    async fn answers(server: &ServerProcess) -> Vec<Option<Value>> {
        let app = login(server, "app").await;
        let sys = login(server, "sys").await;
        common::sync(&app).await;
        let mut out = Vec::new();
        for (who, subject, body) in ASKED {
            let client = if who == "app" { &app } else { &sys };
            out.push(ask(client, subject, body).await);
        }
        out
    }
    let dir = TempDir::new("sysimports");
    let strom = start(None, &dir);
    let ours = answers(&strom).await;
    let get = |i: usize| {
        ours[i]
            .as_ref()
            .unwrap_or_else(|| panic!("{:?} answered", ASKED[i]))
    };
    for i in [0, 1] {
        let conns = get(i)["data"]["connections"]
            .as_array()
            .expect("connections");
        assert!(
            !conns.is_empty()
                && conns
                    .iter()
                    .all(|c| c["account"] == "APP" || c["account"].is_null()),
            "only APP's connections: {}",
            get(i)
        );
        assert_eq!(get(i)["data"]["num_connections"], 1, "{}", get(i));
    }
    assert_eq!(get(2)["data"]["account_statz"][0]["acc"], "APP");
    assert_eq!(get(3)["data"]["user"], "app");
    assert_eq!(get(3)["data"]["account"], "APP");
    assert_eq!(get(4)["data"]["account_statz"][0]["acc"], "APP");
    let Some(reference) = reference_or_skip() else {
        return;
    };
    let dir = TempDir::new("sysimports-ref");
    let nats = start(Some(&reference), &dir);
    let theirs = answers(&nats).await;
    let skip = ["server.feature_flags"];
    same_shapes(&ours, &theirs, &skip, &ASKED);
}
