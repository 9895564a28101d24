//! Exports and imports between accounts: a stream import under a prefix, a service import whose
//! replies find their way back, and an import the exporter does not allow, refused at start.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::{reference_or_skip, ServerProcess, TempDir};
use futures::StreamExt;

const CONFIG: &str = r#"
accounts {
  A {
    users: [ { user: a, password: a } ]
    exports: [ { stream: "events.>" }, { service: "svc.*" } ]
  }
  B {
    users: [ { user: b, password: b } ]
    imports: [
      { stream: { account: A, subject: "events.>" }, prefix: "from_a" }
      { service: { account: A, subject: "svc.echo" }, to: "echo" }
    ]
  }
}
"#;

async fn login(server: &ServerProcess, user: &str) -> async_nats::Client {
    async_nats::ConnectOptions::with_user_and_password(user.into(), user.into())
        .connect(server.url())
        .await
        .expect("login")
}

/// What B sees of A's events, and what B's request to A's service returns.
async fn story(server: &ServerProcess) -> (Vec<String>, String) {
    let a = login(server, "a").await;
    let b = login(server, "b").await;
    let mut events = b.subscribe("from_a.>").await.expect("sub");
    let mut direct = b.subscribe("events.>").await.expect("sub");
    common::sync(&b).await;
    let mut svc = a.subscribe("svc.echo").await.expect("sub");
    common::sync(&a).await;
    let responder = a.clone();
    tokio::spawn(async move {
        while let Some(req) = svc.next().await {
            if let Some(reply) = req.reply {
                let mut body = b"echo:".to_vec();
                body.extend_from_slice(&req.payload);
                let _ = responder.publish(reply, body.into()).await;
            }
        }
    });
    a.publish("events.orders.created", Bytes::from_static(b"1"))
        .await
        .expect("publish");
    a.publish("other.thing", Bytes::from_static(b"2"))
        .await
        .expect("publish");
    common::sync(&a).await;
    let got = tokio::time::timeout(Duration::from_secs(5), events.next())
        .await
        .expect("imported event in time")
        .expect("open");
    common::sync(&b).await;
    assert!(
        tokio::time::timeout(Duration::from_millis(100), direct.next())
            .await
            .is_err(),
        "B's own events.> sees nothing of A's"
    );
    let reply = tokio::time::timeout(
        Duration::from_secs(5),
        b.request("echo", Bytes::from_static(b"hi")),
    )
    .await
    .expect("in time")
    .expect("the service answers across accounts");
    (
        vec![
            got.subject.to_string(),
            String::from_utf8_lossy(&got.payload).into_owned(),
        ],
        String::from_utf8_lossy(&reply.payload).into_owned(),
    )
}

#[tokio::test]
async fn stream_and_service_imports_cross_accounts() {
    let strom = ServerProcess::strom_with_config(CONFIG, &[]);
    let ours = story(&strom).await;
    assert_eq!(ours.0, vec!["from_a.events.orders.created", "1"]);
    assert_eq!(ours.1, "echo:hi");
    if let Some(reference) = reference_or_skip() {
        let nats = ServerProcess::reference(&reference, &[], Some(CONFIG));
        assert_eq!(ours, story(&nats).await);
    }
}

#[test]
fn imports_the_exporter_does_not_allow_are_refused() {
    let dir = TempDir::new("imports");
    let (path, ok, text) = common::check_config_text(
        &dir,
        "accounts {\n  A { users: [ { user: a, password: a } ] }\n  B {\n    users: [ { user: b, password: b } ]\n    imports: [ { stream: { account: A, subject: \"x.>\" }, prefix: a } ]\n  }\n}\n",
    );
    assert!(!ok);
    assert!(text.contains("stream import not authorized"), "{text}");
    assert!(text.contains(&format!("{}:5:", path.display())), "{text}");
}

/// A tenant pulls from another account's stream: the JS account exports its consumer's
/// `MSG.NEXT` (streamed answers) and its acks as services; APP imports both, asks for a batch
/// of two through its own inbox, and acks what it gets. The consumer sees both acked.
const SHARED: &str = r#"
accounts {
  JS: {
    jetstream: enabled
    users: [ { user: js, password: js } ]
    exports: [
      { service: "$JS.API.CONSUMER.MSG.NEXT.ORDERS.C", response_type: stream }
      { service: "$JS.ACK.ORDERS.C.>" }
    ]
  }
  APP: {
    users: [ { user: app, password: app } ]
    imports: [
      { service: { account: JS, subject: "$JS.API.CONSUMER.MSG.NEXT.ORDERS.C" } }
      { service: { account: JS, subject: "$JS.ACK.ORDERS.C.>" } }
    ]
  }
}
"#;

async fn pull_across(server: &ServerProcess) -> (Vec<String>, u64) {
    let js_client = login(server, "js").await;
    let js = async_nats::jetstream::new(js_client);
    let stream = js
        .create_stream(async_nats::jetstream::stream::Config {
            name: "ORDERS".into(),
            subjects: vec!["orders.>".into()],
            ..Default::default()
        })
        .await
        .expect("stream");
    stream
        .create_consumer(async_nats::jetstream::consumer::pull::Config {
            durable_name: Some("C".into()),
            ..Default::default()
        })
        .await
        .expect("consumer");
    for i in 0..3 {
        js.publish(format!("orders.{i}"), "o".into())
            .await
            .expect("publish")
            .await
            .expect("ack");
    }
    let app = login(server, "app").await;
    let inbox = app.new_inbox();
    let mut sub = app.subscribe(inbox.clone()).await.expect("inbox");
    app.publish_with_reply(
        "$JS.API.CONSUMER.MSG.NEXT.ORDERS.C",
        inbox,
        Bytes::from_static(br#"{"batch":2,"expires":2000000000}"#),
    )
    .await
    .expect("pull request");
    let mut got = Vec::new();
    for _ in 0..2 {
        let m = tokio::time::timeout(Duration::from_secs(3), sub.next())
            .await
            .expect("a message in time")
            .expect("subscription open");
        got.push(m.subject.to_string());
        let reply = m.reply.expect("an ack subject");
        app.request(reply, Bytes::new())
            .await
            .expect("ack answered");
    }
    let mut consumer: async_nats::jetstream::consumer::PullConsumer =
        stream.get_consumer("C").await.expect("consumer");
    let floor = consumer
        .info()
        .await
        .expect("info")
        .ack_floor
        .stream_sequence;
    (got, floor)
}

#[tokio::test]
async fn a_tenant_pulls_from_another_accounts_stream_through_service_imports() {
    for bin in std::iter::once(None).chain(reference_or_skip().map(Some)) {
        let dir = TempDir::new("pull-across");
        let store = dir.0.to_str().expect("utf-8 path").to_string();
        let args = ["-js", "-sd", store.as_str()];
        let server = match &bin {
            Some(b) => ServerProcess::reference(b, &args, Some(SHARED)),
            None => ServerProcess::strom_with_config(SHARED, &args),
        };
        let (got, floor) = pull_across(&server).await;
        assert_eq!(got, ["orders.0", "orders.1"], "{bin:?}");
        assert_eq!(floor, 2, "{bin:?}: both acks reached the consumer");
    }
}
