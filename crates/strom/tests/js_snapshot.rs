//! Stream snapshot and restore over the JetStream API, as the `nats` CLI drives them: the
//! snapshot arrives as acknowledged chunks on a deliver subject and ends with a 204 status;
//! the restore takes the same bytes as acknowledged chunks and an empty final one, and answers
//! with the stream's info. The archive is opaque to the client, so the same test runs against
//! nats-server.

mod common;

use std::time::Duration;

use async_nats::jetstream;
use bytes::Bytes;
use common::{ServerProcess, TempDir};
use futures::StreamExt;
use serde_json::Value;

async fn request(client: &async_nats::Client, subject: String, body: Bytes) -> Value {
    let reply = tokio::time::timeout(Duration::from_secs(5), client.request(subject, body))
        .await
        .expect("answered in time")
        .expect("answered");
    serde_json::from_slice(&reply.payload).expect("JSON")
}

/// Takes a snapshot of `stream` in chunks of `chunk` bytes, acknowledging each.
async fn snapshot(client: &async_nats::Client, stream: &str, chunk: usize) -> (Value, Vec<u8>) {
    let inbox = client.new_inbox();
    let mut sub = client.subscribe(inbox.clone()).await.expect("subscribed");
    let body = serde_json::json!({"deliver_subject": inbox, "chunk_size": chunk}).to_string();
    let resp = request(
        client,
        format!("$JS.API.STREAM.SNAPSHOT.{stream}"),
        body.into(),
    )
    .await;
    assert_eq!(
        resp["type"], "io.nats.jetstream.api.v1.stream_snapshot_response",
        "{resp}"
    );
    let mut data = Vec::new();
    let mut chunks = 0;
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(5), sub.next())
            .await
            .expect("chunks keep coming")
            .expect("subscription open");
        if msg.payload.is_empty() && msg.headers.is_some() {
            assert_eq!(
                msg.status.map(u16::from),
                Some(204),
                "the snapshot ends with a 204"
            );
            break;
        }
        assert!(msg.payload.len() <= chunk);
        data.extend_from_slice(&msg.payload);
        chunks += 1;
        if let Some(reply) = msg.reply {
            client.publish(reply, Bytes::new()).await.expect("ack sent");
        }
    }
    assert!(chunks > 1, "a {} byte snapshot comes in chunks", data.len());
    (resp, data)
}

#[tokio::test]
async fn snapshot_and_restore_round_trip() {
    let dir = TempDir::new("js-snap");
    let store = dir.0.join("store");
    let server = ServerProcess::strom(&["-js", "-sd", store.to_str().expect("utf-8")]);
    let client = async_nats::connect(server.url()).await.expect("connects");
    let js = jetstream::new(client.clone());
    let stream = js
        .create_stream(jetstream::stream::Config {
            name: "SNAP".into(),
            subjects: vec!["snap.>".into()],
            ..Default::default()
        })
        .await
        .expect("created");
    for i in 0..300u32 {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("X-Index", i.to_string().as_str());
        js.publish_with_headers(
            format!("snap.{}", i % 7),
            headers,
            format!("payload {i} {}", "z".repeat(i as usize % 40)).into(),
        )
        .await
        .expect("published")
        .await
        .expect("acknowledged");
    }
    for seq in [10, 20, 300] {
        stream.delete_message(seq).await.expect("deleted");
    }
    let before = request(&client, "$JS.API.STREAM.INFO.SNAP".into(), Bytes::new()).await;
    let mut originals = Vec::new();
    for seq in 1..=300u64 {
        originals.push(stream.get_raw_message(seq).await.ok());
    }

    let (resp, archive) = snapshot(&client, "SNAP", 1024).await;
    assert_eq!(resp["config"]["name"], "SNAP");
    assert_eq!(resp["state"]["messages"], 297);

    js.delete_stream("SNAP").await.expect("deleted");
    let config = before["config"].clone();
    let body = serde_json::json!({"config": config, "state": before["state"]}).to_string();
    let resp = request(
        &client,
        "$JS.API.STREAM.RESTORE.SNAP".into(),
        body.clone().into(),
    )
    .await;
    assert_eq!(
        resp["type"], "io.nats.jetstream.api.v1.stream_restore_response",
        "{resp}"
    );
    let deliver = resp["deliver_subject"]
        .as_str()
        .expect("deliver subject")
        .to_string();
    for piece in archive.chunks(4096) {
        let ack = tokio::time::timeout(
            Duration::from_secs(5),
            client.request(deliver.clone(), Bytes::copy_from_slice(piece)),
        )
        .await
        .expect("acknowledged in time")
        .expect("acknowledged");
        assert!(ack.payload.is_empty());
    }
    let done = request(&client, deliver, Bytes::new()).await;
    assert!(done.get("error").is_none(), "{done}");
    assert_eq!(done["state"]["messages"], 297, "{done}");
    assert_eq!(done["state"]["last_seq"], before["state"]["last_seq"]);

    // Every message is back with its sequence, subject, headers and payload; the deleted
    // ones stay deleted.
    let stream = js.get_stream("SNAP").await.expect("restored");
    for (i, original) in originals.iter().enumerate() {
        let seq = i as u64 + 1;
        match (original, stream.get_raw_message(seq).await.ok()) {
            (Some(a), Some(b)) => {
                assert_eq!((&a.subject, &a.payload), (&b.subject, &b.payload), "{seq}");
                assert_eq!(a.headers.get("X-Index"), b.headers.get("X-Index"), "{seq}");
                assert_eq!(a.time, b.time, "{seq}");
            }
            (None, None) => {}
            (a, b) => panic!(
                "seq {seq}: before {:?}, after {:?}",
                a.is_some(),
                b.is_some()
            ),
        }
    }
    // Numbering continues after the restored last sequence.
    let ack = js
        .publish("snap.new", "after".into())
        .await
        .expect("published")
        .await
        .expect("acknowledged");
    assert_eq!(ack.sequence, 301);

    // Restoring over an existing stream is refused.
    let resp = request(&client, "$JS.API.STREAM.RESTORE.SNAP".into(), body.into()).await;
    assert_eq!(resp["error"]["err_code"], 10130, "{resp}");
    // A snapshot needs a request, and a deliver subject one can publish to.
    let resp = request(
        &client,
        "$JS.API.STREAM.SNAPSHOT.SNAP".into(),
        Bytes::from_static(b"{}"),
    )
    .await;
    assert_eq!(resp["error"]["err_code"], 10003, "{resp}");
    let resp = request(
        &client,
        "$JS.API.STREAM.SNAPSHOT.SNAP".into(),
        Bytes::from_static(br#"{"deliver_subject":"to.*"}"#),
    )
    .await;
    assert_eq!(resp["error"]["err_code"], 10015, "{resp}");
}
