//! `/accountz`, `/accstatz`, `/routez`, `/gatewayz` and `/leafz` on the monitoring port,
//! compared with nats-server for the same accounts and traffic.

mod common;

use std::time::Duration;

use common::http::{free_port, get, shape};
use common::{reference_or_skip, ServerProcess};
use serde_json::Value;

const CONFIG: &str = r#"
accounts {
  $SYS { users: [ { user: sys, password: sys } ] }
  APP {
    users: [ { user: app, password: app } ]
    imports: [
      { stream: { account: DATA, subject: "feed.>" }, prefix: "in" }
      { service: { account: DATA, subject: "help.me" }, to: "ask" }
    ]
  }
  DATA {
    users: [ { user: data, password: data } ]
    exports: [ { stream: "feed.>" }, { service: "help.>" } ]
  }
}
system_account: "$SYS"
"#;

const PATHS: [&str; 9] = [
    "/accountz",
    "/accountz?acc=APP",
    "/accountz?acc=DATA",
    "/accstatz",
    "/accstatz?unused=1",
    "/routez",
    "/gatewayz",
    "/leafz",
    "/accountz?acc=NOPE",
];

fn json(port: u16, path: &str) -> Value {
    let (status, _, body) = get(port, path);
    assert_eq!(status, 200, "{path}: {body}");
    serde_json::from_str(&body).expect("JSON")
}

/// An APP client that publishes 3 messages to itself, a DATA client that stays; then the APP
/// client leaves. Returns the monitoring answers once APP's connection is gone.
async fn observe(server: &ServerProcess, port: u16) -> Vec<(u16, Value)> {
    let login = |user: &'static str| {
        async_nats::ConnectOptions::with_user_and_password(user.into(), user.into())
            .connect(server.url())
    };
    let app = login("app").await.expect("app");
    let mut sub = app.subscribe("x").await.expect("subscribe");
    for _ in 0..3 {
        app.publish("x", "hello".into()).await.expect("publish");
    }
    for _ in 0..3 {
        futures::StreamExt::next(&mut sub).await.expect("delivered");
    }
    let data = login("data").await.expect("data");
    common::sync(&data).await;
    drop(sub);
    app.drain().await.expect("app leaves");
    drop(app);
    // APP's client leaves asynchronously; the answers are read once it is gone.
    common::poll_async(Duration::from_secs(5), || async {
        let gone = !json(port, "/accstatz")["account_statz"]
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x["acc"] == "APP"));
        gone.then_some(())
    })
    .await;
    let out = PATHS
        .iter()
        .map(|p| {
            let (status, _, body) = get(port, p);
            let v = serde_json::from_str(&body).unwrap_or(Value::String(body));
            (status, v)
        })
        .collect();
    drop(data);
    out
}

fn start(bin: Option<&std::path::Path>) -> (ServerProcess, u16) {
    let port = free_port();
    let m = port.to_string();
    let server = match bin {
        Some(b) => ServerProcess::reference(b, &["-m", &m], Some(CONFIG)),
        None => ServerProcess::strom_with_config(CONFIG, &["-m", &m]),
    };
    (server, port)
}

#[tokio::test]
async fn accounts_and_their_traffic_as_nats_server_reports_them() {
    let (strom, port) = start(None);
    let ours = observe(&strom, port).await;
    let mut names: Vec<&str> = ours[0].1["accounts"]
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    names.sort();
    assert_eq!(names, ["$G", "$SYS", "APP", "DATA"]);
    assert_eq!(ours[0].1["system_account"], "$SYS");
    let app = &ours[1].1["account_detail"];
    assert_eq!(app["account_name"], "APP");
    assert_eq!(app["client_connections"], 0, "the APP client left");
    assert_eq!(app["imports"][0]["local_subject"], "in.feed.>");
    assert_eq!(ours[2].1["account_detail"]["client_connections"], 1);

    let by_name = |v: &Value, name: &str| {
        v["account_statz"]
            .as_array()
            .and_then(|a| a.iter().find(|x| x["acc"] == name).cloned())
    };
    assert!(
        by_name(&ours[3].1, "APP").is_none(),
        "no connections: not listed"
    );
    let data = by_name(&ours[3].1, "DATA").expect("DATA has a connection");
    assert_eq!(data["conns"], 1);
    let app = by_name(&ours[4].1, "APP").expect("unused=1 lists APP");
    assert_eq!(app["received"]["msgs"], 3, "{app}");
    assert_eq!(app["received"]["bytes"], 15);
    assert_eq!(
        app["sent"]["msgs"], 3,
        "what the departed client was sent still counts"
    );
    assert_eq!(ours[5].1["num_routes"], 0);
    assert_eq!(
        ours[8],
        (400, Value::String("Account NOPE does not exist".into()))
    );

    let Some(reference) = reference_or_skip() else {
        return;
    };
    let (nats, port) = start(Some(&reference));
    let theirs = observe(&nats, port).await;
    // nats-server wires system services into every account as imports; Strom answers those
    // requests directly.
    let skip = ["account_detail.imports", "account_detail.imports[]"];
    for ((path, a), b) in PATHS.iter().zip(&ours).zip(&theirs) {
        assert_eq!(a.0, b.0, "{path}: status");
        let (mut x, mut y) = (Vec::new(), Vec::new());
        shape(&a.1, "", &skip, &mut x);
        shape(&b.1, "", &skip, &mut y);
        x.sort();
        y.sort();
        assert_eq!(x, y, "{path}: fields and types, strom vs nats-server");
    }
    let their_app = by_name(&theirs[4].1, "APP").expect("APP");
    for field in ["received", "sent"] {
        assert_eq!(
            app[field]["msgs"], their_app[field]["msgs"],
            "{field} msgs, strom vs nats-server"
        );
    }
}
