//! The streams real deployments create (fixtures/seed-assets/assets.json, a copy of ../shared/fixtures), created on
//! strom and on the reference nats-server with the same requests: the create responses and
//! the stream infos must say the same thing, apart from times.

mod common;

use std::path::PathBuf;

use common::{reference_or_skip, ServerProcess, TempDir};
use serde_json::Value;

fn assets() -> Value {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/seed-assets/assets.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("assets.json is JSON")
}

/// The same server settings for both: a store of its own, and a file store limit large
/// enough for the fixtures' max_bytes reservations on a small disk.
fn config(store: &std::path::Path) -> String {
    format!(
        "jetstream {{ store_dir: \"{}\", max_file_store: 1T }}\n",
        store.display()
    )
}

/// Removes what differs between any two runs: times and the server's name.
fn normalize(mut v: Value) -> Value {
    if let Some(o) = v.as_object_mut() {
        for k in ["created", "ts"] {
            o.remove(k);
        }
        if let Some(c) = o.get_mut("cluster").and_then(Value::as_object_mut) {
            c.remove("leader");
        }
    }
    v
}

async fn request(client: &async_nats::Client, subject: String, body: String) -> Value {
    let reply = client
        .request(subject, body.into())
        .await
        .expect("the API answers");
    serde_json::from_slice(&reply.payload).expect("the answer is JSON")
}

/// Creates every fixture stream (replicas 1) and returns (create response, info response) per
/// stream. The mirrors of another domain's streams (`external` API prefix) are created too:
/// nobody serves that prefix here, so each reports a mirror that was never active.
async fn create_all(server: &ServerProcess) -> Vec<(String, Value, Value)> {
    let client = async_nats::connect(server.url()).await.expect("connects");
    let mut out = Vec::new();
    for s in assets()["streams"].as_array().expect("streams") {
        let mut cfg = s.clone();
        cfg["num_replicas"] = Value::from(1);
        let name = cfg["name"].as_str().expect("name").to_string();
        let created = request(
            &client,
            format!("$JS.API.STREAM.CREATE.{name}"),
            cfg.to_string(),
        )
        .await;
        let info = request(
            &client,
            format!("$JS.API.STREAM.INFO.{name}"),
            String::new(),
        )
        .await;
        out.push((name, normalize(created), normalize(info)));
    }
    out
}

#[tokio::test]
async fn fixture_streams_match_the_reference() {
    let Some(reference) = reference_or_skip() else {
        return;
    };
    let dir = TempDir::new("js-fixtures");
    let ours = {
        let server = ServerProcess::start(
            &common::strom_bin(),
            &[],
            Some(&config(&dir.0.join("strom"))),
        );
        create_all(&server).await
    };
    let theirs = {
        let server = ServerProcess::reference(&reference, &[], Some(&config(&dir.0.join("nats"))));
        create_all(&server).await
    };
    assert_eq!(ours.len(), theirs.len());
    assert!(ours.len() >= 10, "the fixtures hold at least ten streams");
    for ((name, c1, i1), (_, c2, i2)) in ours.iter().zip(&theirs) {
        assert!(
            c2.get("error").is_none(),
            "the reference refused {name}: {c2}"
        );
        assert_eq!(c1, c2, "create response of {name}");
        assert_eq!(i1, i2, "stream info of {name}");
    }
}
