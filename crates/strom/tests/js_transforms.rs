//! A stream's `subject_transform` with nats-server's mapping functions: each message is
//! stored under the subject the destination makes of it, and a destination nats-server
//! refuses is refused with the same error. Compared with the reference for the same streams.

mod common;

use common::{reference_or_skip, ServerProcess, TempDir};
use serde_json::{json, Value};

/// (source, destination, subject published): the destinations nats-server's mapping
/// functions allow in a stream transform.
const CASES: &[(&str, &str, &str)] = &[
    ("t1.*.*", "x1.{{wildcard(2)}}.{{wildcard(1)}}", "t1.a.b"),
    (
        "t2.*.*",
        "x2.{{partition(10,1,2)}}.{{wildcard(1)}}",
        "t2.alpha.beta",
    ),
    ("t3.*", "x3.{{partition(7)}}", "t3.some-key"),
    ("t4.*", "x4.{{splitFromLeft(1,3)}}", "t4.abcdef"),
    ("t5.*", "x5.{{SplitFromRight(1,2)}}", "t5.abcdef"),
    ("t6.*", "x6.{{sliceFromLeft(1,2)}}", "t6.abcde"),
    ("t7.*", "x7.{{sliceFromRight(1,2)}}", "t7.abcde"),
    ("t8.*", "x8.{{split(1,-)}}", "t8.a-b--c-"),
    (
        "t9.*.*",
        "x9.{{left(1,2)}}.{{right(2,3)}}",
        "t9.abcdef.uvwxyz",
    ),
    ("t10.*", "x10.{{splitFromLeft(1,20)}}", "t10.short"),
];

/// A destination nats-server refuses for each reason.
const REFUSED: &[(&str, &str)] = &[
    ("r1.*", "y1.{{unknown(1)}}"),
    ("r2.*", "y2.{{left(1)}}"),
    ("r3.*", "y3.{{split(1,a b)}}"),
    ("r4.*", "y4.{{wildcard(2)}}"),
];

async fn api(nc: &async_nats::Client, subject: String, body: Value) -> Value {
    let reply = nc
        .request(subject, body.to_string().into())
        .await
        .expect("API answer");
    serde_json::from_slice(&reply.payload).expect("API JSON")
}

/// For each case, the subject the stored message has; for each refusal, the error.
async fn observe(server: &ServerProcess) -> (Vec<String>, Vec<Value>) {
    let nc = async_nats::connect(server.url()).await.expect("connect");
    let mut stored = Vec::new();
    for (i, (src, dest, subject)) in CASES.iter().enumerate() {
        let name = format!("T{i}");
        let created = api(
            &nc,
            format!("$JS.API.STREAM.CREATE.{name}"),
            json!({"name": name, "subjects": [src],
                   "subject_transform": {"src": src, "dest": dest}}),
        )
        .await;
        assert!(created["error"].is_null(), "{dest}: {created}");
        let ack = nc
            .request(subject.to_string(), "x".into())
            .await
            .expect("PubAck");
        let ack: Value = serde_json::from_slice(&ack.payload).expect("PubAck JSON");
        assert_eq!(ack["seq"], 1, "{dest}: {ack}");
        let msg = api(
            &nc,
            format!("$JS.API.STREAM.MSG.GET.{name}"),
            json!({"seq": 1}),
        )
        .await;
        stored.push(
            msg["message"]["subject"]
                .as_str()
                .unwrap_or_else(|| panic!("{dest}: {msg}"))
                .to_string(),
        );
    }
    let mut errors = Vec::new();
    for (i, (src, dest)) in REFUSED.iter().enumerate() {
        let name = format!("R{i}");
        let answer = api(
            &nc,
            format!("$JS.API.STREAM.CREATE.{name}"),
            json!({"name": name, "subjects": [src],
                   "subject_transform": {"src": src, "dest": dest}}),
        )
        .await;
        errors.push(answer["error"].clone());
    }
    (stored, errors)
}

fn start(bin: Option<&std::path::Path>, dir: &TempDir) -> ServerProcess {
    let store = dir.0.to_str().expect("utf-8 path");
    let args = ["-js", "-sd", store];
    match bin {
        Some(b) => ServerProcess::reference(b, &args, None),
        None => ServerProcess::strom(&args),
    }
}

#[tokio::test]
async fn mapping_functions_store_messages_where_nats_server_does() {
    let dir = TempDir::new("transforms");
    let strom = start(None, &dir);
    let (stored, errors) = observe(&strom).await;
    assert_eq!(stored[0], "x1.b.a");
    assert_eq!(stored[3], "x4.abc.def");
    assert_eq!(stored[7], "x8.a.b.c");
    assert_eq!(stored[9], "x10.short");
    for e in &errors {
        assert_eq!(e["code"], 400, "{errors:?}");
    }
    let Some(reference) = reference_or_skip() else {
        return;
    };
    let dir = TempDir::new("transforms-ref");
    let nats = start(Some(&reference), &dir);
    let (theirs_stored, theirs_errors) = observe(&nats).await;
    for ((case, a), b) in CASES.iter().zip(&stored).zip(&theirs_stored) {
        assert_eq!(a, b, "{case:?}: stored subject, strom vs nats-server");
    }
    for ((case, a), b) in REFUSED.iter().zip(&errors).zip(&theirs_errors) {
        assert_eq!(
            a["err_code"], b["err_code"],
            "{case:?}: error code, strom vs nats-server: {a} vs {b}"
        );
    }
}
