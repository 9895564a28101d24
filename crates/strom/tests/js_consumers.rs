//! JetStream consumers through the real `strom` binary with the `async-nats` client: pull
//! requests and their status frames, every ack kind, redelivery (ack wait, backoff, max
//! deliver), push consumers (deliver groups, flow control, idle heartbeats), ordered consumers,
//! interest and work-queue retention, pause, priority groups, the create and update rules,
//! listing and advisories, the consumers of the seed fixtures, and consumer state across a
//! graceful restart and a kill -9.
//!
//! Every test also runs against nats-server (`STROM_TEST_AGAINST_REFERENCE=1`), which proves
//! it checks what nats-server really does. Waits are sub-second ack waits and request expiries,
//! or polls with a deadline; timings are asserted as lower bounds and orderings, never exactly.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use async_nats::jetstream::consumer::{
    self, pull, push, AckPolicy, DeliverPolicy, PriorityPolicy, PullConsumer, ReplayPolicy,
};
use async_nats::jetstream::stream::{Config, RetentionPolicy};
use async_nats::jetstream::{self, AckKind, Context};
use bytes::Bytes;
use common::{next_msg, sync, ServerProcess, TempDir};
use futures::StreamExt;
use serde_json::{json, Value};

type JsStream = jetstream::stream::Stream;

/// A server with JetStream on, storing in its own directory, and a client of it.
struct Js {
    server: ServerProcess,
    client: async_nats::Client,
    js: Context,
    dir: TempDir,
}

impl Js {
    async fn start() -> Js {
        let dir = TempDir::new("js-consumers");
        let (server, client, js) = start_in(&dir).await;
        Js {
            server,
            client,
            js,
            dir,
        }
    }
}

/// Starts the server under test with JetStream storing in `dir`, and connects to it.
async fn start_in(dir: &TempDir) -> (ServerProcess, async_nats::Client, Context) {
    let store = dir.0.to_str().expect("temp dir path is UTF-8");
    let server = ServerProcess::strom(&["-js", "-sd", store]);
    let client = async_nats::connect(server.url()).await.expect("connect");
    let js = jetstream::new(client.clone());
    (server, client, js)
}

fn against_reference() -> bool {
    std::env::var("STROM_TEST_AGAINST_REFERENCE").is_ok_and(|v| v == "1")
}

/// A stream configuration with a name and subjects, the rest left to the server's defaults.
fn config(name: &str, subjects: &[&str]) -> Config {
    Config {
        name: name.to_string(),
        subjects: subjects.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

async fn add_stream(js: &Context, cfg: Config) -> JsStream {
    let name = cfg.name.clone();
    js.create_stream(cfg)
        .await
        .unwrap_or_else(|e| panic!("stream {name} is created: {e}"))
}

/// Publishes and waits for the PubAck; returns the stream sequence.
async fn publish(js: &Context, subject: &str, payload: impl Into<Bytes>) -> u64 {
    js.publish(subject.to_string(), payload.into())
        .await
        .expect("publish is sent")
        .await
        .unwrap_or_else(|e| panic!("publish to {subject} is acknowledged: {e}"))
        .sequence
}

/// Publishes `n` messages `<prefix>1` .. `<prefix>n` to `subject`.
async fn publish_n(js: &Context, subject: &str, prefix: &str, n: usize) {
    for i in 1..=n {
        publish(js, subject, format!("{prefix}{i}")).await;
    }
}

/// A durable pull consumer with explicit acks.
fn durable(name: &str) -> pull::Config {
    pull::Config {
        durable_name: Some(name.to_string()),
        ack_policy: AckPolicy::Explicit,
        ..Default::default()
    }
}

async fn add_pull(stream: &JsStream, cfg: pull::Config) -> PullConsumer {
    stream
        .create_consumer(cfg)
        .await
        .unwrap_or_else(|e| panic!("pull consumer is created: {e}"))
}

async fn cinfo(stream: &JsStream, name: &str) -> consumer::Info {
    stream
        .consumer_info(name)
        .await
        .unwrap_or_else(|e| panic!("consumer {name} exists: {e}"))
}

/// Polls a consumer's info until `done` holds (nats-server settles some counts after a plain
/// ack asynchronously), failing after three seconds.
async fn wait_consumer(
    stream: &JsStream,
    name: &str,
    what: &str,
    done: impl Fn(&consumer::Info) -> bool,
) -> consumer::Info {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let i = cinfo(stream, name).await;
        if done(&i) {
            return i;
        }
        assert!(Instant::now() < deadline, "{what}: last seen {i:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Polls the stream's message count until it is `count`.
async fn wait_messages(js: &Context, stream: &str, count: u64, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let info = js
            .get_stream(stream)
            .await
            .expect("stream exists")
            .info()
            .await
            .expect("stream info")
            .clone();
        if info.state.messages == count {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: {} messages, expected {count}: {:?}",
            info.state.messages,
            info.state
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A no-wait fetch: what there is now, up to `n`.
async fn fetch(c: &PullConsumer, n: usize) -> Vec<jetstream::Message> {
    let batch = c
        .fetch()
        .max_messages(n)
        .messages()
        .await
        .expect("fetch request is sent");
    collect(batch, Duration::from_secs(5)).await
}

/// A waiting batch: up to `n` messages, ending when `expires` is up.
async fn batch(c: &PullConsumer, n: usize, expires: Duration) -> Vec<jetstream::Message> {
    let batch = c
        .batch()
        .max_messages(n)
        .expires(expires)
        .messages()
        .await
        .expect("batch request is sent");
    collect(batch, expires + Duration::from_secs(3)).await
}

async fn collect(mut batch: pull::Batch, within: Duration) -> Vec<jetstream::Message> {
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + within;
    while let Some(m) = tokio::time::timeout_at(deadline, batch.next())
        .await
        .expect("the pull request ends in time")
    {
        out.push(m.expect("a message, not an error"));
    }
    out
}

/// (stream sequence, consumer sequence, delivery count, pending) of a message.
fn meta(m: &jetstream::Message) -> (u64, u64, i64, u64) {
    let i = m.info().expect("a JetStream message");
    (
        i.stream_sequence,
        i.consumer_sequence,
        i.delivered,
        i.pending,
    )
}

fn seqs(msgs: &[jetstream::Message]) -> Vec<u64> {
    msgs.iter().map(|m| meta(m).0).collect()
}

fn payload(m: &async_nats::Message) -> &str {
    std::str::from_utf8(&m.payload).expect("payload is UTF-8")
}

fn floor(i: &consumer::Info) -> (u64, u64) {
    (i.ack_floor.consumer_sequence, i.ack_floor.stream_sequence)
}

fn delivered(i: &consumer::Info) -> (u64, u64) {
    (i.delivered.consumer_sequence, i.delivered.stream_sequence)
}

/// A JetStream API request; the JSON answer.
async fn api(client: &async_nats::Client, subject: &str, body: Value) -> Value {
    let reply = tokio::time::timeout(
        Duration::from_secs(5),
        client.request(subject.to_string(), body.to_string().into()),
    )
    .await
    .expect("the API answers in time")
    .expect("the API answers");
    serde_json::from_slice(&reply.payload).expect("the answer is JSON")
}

#[track_caller]
fn assert_api_error(v: &Value, code: u64, err_code: u64, description: &str) {
    assert_eq!(
        v["error"],
        json!({"code": code, "err_code": err_code, "description": description}),
        "whole answer: {v}"
    );
}

/// Sends a raw pull request (`CONSUMER.MSG.NEXT`) whose answers come to a fresh inbox.
async fn raw_pull(
    client: &async_nats::Client,
    stream: &str,
    consumer: &str,
    body: Value,
) -> async_nats::Subscriber {
    let inbox = client.new_inbox();
    let sub = client.subscribe(inbox.clone()).await.expect("subscribes");
    client
        .publish_with_reply(
            format!("$JS.API.CONSUMER.MSG.NEXT.{stream}.{consumer}"),
            inbox,
            body.to_string().into(),
        )
        .await
        .expect("request is sent");
    sub
}

/// The status code and description of a status frame (`None` for a message).
fn status(m: &async_nats::Message) -> Option<(u16, String)> {
    m.status.map(|s| {
        (
            s.as_u16(),
            m.description.clone().unwrap_or_default().to_string(),
        )
    })
}

fn header<'a>(m: &'a async_nats::Message, name: &str) -> Option<&'a str> {
    let name: async_nats::HeaderName = name.parse().expect("a header name");
    m.headers.as_ref()?.get(name).map(|v| v.as_str())
}

/// The next frame on `sub`, which must be a status `code` with `description`.
async fn expect_status(sub: &mut async_nats::Subscriber, code: u16, description: &str) {
    let m = next_msg(sub).await;
    assert_eq!(
        status(&m),
        Some((code, description.to_string())),
        "frame {:?} {:?}",
        m.headers,
        m.payload
    );
    assert!(m.payload.is_empty(), "a status frame has no payload");
}

/// Subscribes to advisories and makes sure the server has the subscription.
async fn advisories(client: &async_nats::Client, subject: &str) -> async_nats::Subscriber {
    let sub = client
        .subscribe(subject.to_string())
        .await
        .expect("subscribes");
    sync(client).await;
    sub
}

async fn next_json(sub: &mut async_nats::Subscriber) -> (String, Value) {
    let m = next_msg(sub).await;
    let v = serde_json::from_slice(&m.payload).expect("an advisory is JSON");
    (m.subject.to_string(), v)
}

// ---------------------------------------------------------------------------------------------
// 1. Pull requests
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn fetch_returns_what_there_is_with_its_metadata() {
    let t = Js::start().await;
    let stream = add_stream(&t.js, config("FETCH", &["fetch.*"])).await;
    for (i, s) in ["a", "b", "a", "b", "a"].iter().enumerate() {
        publish(&t.js, &format!("fetch.{s}"), format!("m{}", i + 1)).await;
    }
    let c = add_pull(&stream, durable("C")).await;
    let i = cinfo(&stream, "C").await;
    assert_eq!(i.num_pending, 5);
    assert_eq!((i.num_ack_pending, i.num_waiting), (0, 0));
    assert_eq!(
        i.config.ack_wait,
        Duration::from_secs(30),
        "default ack wait"
    );
    assert_eq!(i.config.max_deliver, -1);
    assert_eq!(i.config.max_waiting, 512);
    assert_eq!(i.config.max_ack_pending, 1000);

    let msgs = fetch(&c, 3).await;
    assert_eq!(seqs(&msgs), [1, 2, 3]);
    for (k, m) in msgs.iter().enumerate() {
        let info = m.info().expect("JetStream metadata");
        assert_eq!((info.stream, info.consumer), ("FETCH", "C"));
        let k = k as u64;
        assert_eq!(meta(m), (k + 1, k + 1, 1, 4 - k));
        assert_eq!(payload(m), format!("m{}", k + 1));
        assert!(m
            .reply
            .as_deref()
            .is_some_and(|r| r.starts_with("$JS.ACK.FETCH.C.1.")));
    }
    assert_eq!(
        [msgs[0].subject.as_str(), msgs[1].subject.as_str()],
        ["fetch.a", "fetch.b"]
    );
    let i = cinfo(&stream, "C").await;
    assert_eq!(delivered(&i), (3, 3));
    assert_eq!((i.num_ack_pending, i.num_pending), (3, 2));

    // More than there is: what there is, at once (the server ends a no-wait request with 404).
    let start = Instant::now();
    let rest = fetch(&c, 10).await;
    assert_eq!(seqs(&rest), [4, 5]);
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
    // Nothing left: an empty batch, at once.
    let start = Instant::now();
    assert!(fetch(&c, 10).await.is_empty());
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );

    for m in msgs.iter().chain(&rest) {
        m.ack().await.expect("ack sent");
    }
    let i = wait_consumer(&stream, "C", "all acked", |i| i.num_ack_pending == 0).await;
    assert_eq!(floor(&i), (5, 5));
    assert_eq!(i.num_pending, 0);
}

#[tokio::test]
async fn batch_waits_for_messages_until_it_expires() {
    let t = Js::start().await;
    let stream = add_stream(&t.js, config("BATCH", &["batch.>"])).await;
    publish_n(&t.js, "batch.x", "m", 2).await;
    let c = add_pull(&stream, durable("C")).await;

    let start = Instant::now();
    let mut b = c
        .batch()
        .max_messages(5)
        .expires(Duration::from_millis(400))
        .messages()
        .await
        .expect("batch request");
    let mut got = Vec::new();
    for _ in 0..2 {
        got.push(b.next().await.expect("message").expect("not an error"));
    }
    // The request is still waiting: a message published now goes to it.
    publish(&t.js, "batch.x", "late").await;
    got.push(b.next().await.expect("message").expect("not an error"));
    assert_eq!(payload(&got[2]), "late");
    let end = tokio::time::timeout(Duration::from_secs(3), b.next())
        .await
        .expect("the batch ends");
    assert!(end.is_none(), "the batch ends on the 408, with no error");
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(350),
        "ended at expiry: {took:?}"
    );
    assert_eq!(seqs(&got), [1, 2, 3]);
}

#[tokio::test]
async fn pull_requests_end_with_404_and_408_status_frames() {
    let t = Js::start().await;
    add_stream(&t.js, config("RAW", &["raw.>"])).await;
    let stream = t.js.get_stream("RAW").await.expect("stream");
    add_pull(&stream, durable("C")).await;

    // no_wait with nothing there: 404 at once.
    let mut sub = raw_pull(&t.client, "RAW", "C", json!({"batch": 1, "no_wait": true})).await;
    expect_status(&mut sub, 404, "No Messages").await;

    // expires with nothing there: 408 at expiry, with what was left of the request.
    let start = Instant::now();
    let mut sub = raw_pull(
        &t.client,
        "RAW",
        "C",
        json!({"batch": 2, "expires": 150_000_000}),
    )
    .await;
    let m = next_msg(&mut sub).await;
    assert_eq!(status(&m), Some((408, "Request Timeout".into())));
    assert_eq!(header(&m, "Nats-Pending-Messages"), Some("2"));
    assert_eq!(header(&m, "Nats-Pending-Bytes"), Some("0"));
    assert!(start.elapsed() >= Duration::from_millis(120));

    // no_wait with an expiry waits for it when nothing is there.
    let start = Instant::now();
    let mut sub = raw_pull(
        &t.client,
        "RAW",
        "C",
        json!({"batch": 1, "no_wait": true, "expires": 150_000_000}),
    )
    .await;
    let m = next_msg(&mut sub).await;
    assert_eq!(status(&m), Some((408, "Request Timeout".into())));
    assert_eq!(header(&m, "Nats-Pending-Messages"), Some("1"));
    assert!(start.elapsed() >= Duration::from_millis(120));

    // A message, then the 404 that ends a no_wait batch early.
    publish(&t.js, "raw.x", "one").await;
    let mut sub = raw_pull(&t.client, "RAW", "C", json!({"batch": 3, "no_wait": true})).await;
    let m = next_msg(&mut sub).await;
    assert_eq!(status(&m), None);
    assert_eq!((m.subject.as_str(), payload(&m)), ("raw.x", "one"));
    assert!(m
        .reply
        .as_deref()
        .is_some_and(|r| r.starts_with("$JS.ACK.RAW.C.1.1.1.")));
    expect_status(&mut sub, 404, "No Messages").await;

    // A bare number is a batch size.
    publish(&t.js, "raw.x", "two").await;
    let mut sub = raw_pull(&t.client, "RAW", "C", json!(1)).await;
    let m = next_msg(&mut sub).await;
    assert_eq!(payload(&m), "two");

    // Pull requests to a push consumer are refused.
    let push = push::Config {
        durable_name: Some("P".into()),
        deliver_subject: "deliver.raw".into(),
        ..Default::default()
    };
    stream.create_consumer(push).await.expect("push consumer");
    let mut sub = raw_pull(&t.client, "RAW", "P", json!({"batch": 1})).await;
    expect_status(&mut sub, 409, "Consumer is push based").await;

    // Deleting a consumer ends the requests waiting on it.
    let mut sub = raw_pull(
        &t.client,
        "RAW",
        "C",
        json!({"batch": 5, "expires": 5_000_000_000u64}),
    )
    .await;
    wait_consumer(&stream, "C", "the request waits", |i| i.num_waiting == 1).await;
    stream.delete_consumer("C").await.expect("deleted");
    expect_status(&mut sub, 409, "Consumer Deleted").await;
}

#[tokio::test]
async fn pull_request_limits_are_refused_with_409() {
    let t = Js::start().await;
    let stream = add_stream(&t.js, config("LIM", &["lim.>"])).await;
    add_pull(
        &stream,
        pull::Config {
            max_batch: 5,
            max_waiting: 1,
            max_expires: Duration::from_secs(1),
            max_bytes: 1000,
            filter_subject: "lim.none".into(),
            ..durable("L")
        },
    )
    .await;

    let mut sub = raw_pull(&t.client, "LIM", "L", json!({"batch": 6})).await;
    expect_status(&mut sub, 409, "Exceeded MaxRequestBatch of 5").await;
    let mut sub = raw_pull(
        &t.client,
        "LIM",
        "L",
        json!({"batch": 1, "expires": 2_000_000_000u64}),
    )
    .await;
    expect_status(&mut sub, 409, "Exceeded MaxRequestExpires of 1s").await;
    let mut sub = raw_pull(
        &t.client,
        "LIM",
        "L",
        json!({"batch": 1, "max_bytes": 2000, "expires": 500_000_000}),
    )
    .await;
    expect_status(&mut sub, 409, "Exceeded MaxRequestMaxBytes of 1000").await;

    // One request may wait; a second is refused while the first does.
    let _waiting = raw_pull(
        &t.client,
        "LIM",
        "L",
        json!({"batch": 1, "expires": 900_000_000}),
    )
    .await;
    let mut sub = raw_pull(
        &t.client,
        "LIM",
        "L",
        json!({"batch": 1, "expires": 900_000_000}),
    )
    .await;
    expect_status(&mut sub, 409, "Exceeded MaxWaiting").await;
    let i = cinfo(&stream, "L").await;
    assert_eq!(i.num_waiting, 1);
}

#[tokio::test]
async fn max_bytes_limits_what_a_request_gets() {
    let t = Js::start().await;
    let stream = add_stream(&t.js, config("BYTES", &["bytes.>"])).await;
    for i in 1..=5 {
        publish(&t.js, "bytes.x", format!("{i}{}", "x".repeat(99))).await;
    }
    let c = add_pull(&stream, durable("C")).await;

    // A message larger than the whole request: 409, and the message stays for the next one.
    let mut sub = raw_pull(
        &t.client,
        "BYTES",
        "C",
        json!({"batch": 1, "max_bytes": 50, "expires": 500_000_000}),
    )
    .await;
    let m = next_msg(&mut sub).await;
    assert_eq!(
        status(&m),
        Some((409, "Message Size Exceeds MaxBytes".into()))
    );

    // Each message is about 150 bytes with its subject and reply: 350 bytes take two.
    let mut got = Vec::new();
    let mut b = c
        .fetch()
        .max_messages(5)
        .max_bytes(350)
        .messages()
        .await
        .expect("fetch");
    while let Some(m) = tokio::time::timeout(Duration::from_secs(3), b.next())
        .await
        .expect("the fetch ends")
    {
        match m {
            Ok(m) => got.push(m),
            // nats-server ends a request that has no room for the next message with a 409.
            Err(e) => assert!(
                e.to_string().contains("Message Size Exceeds MaxBytes"),
                "{e}"
            ),
        }
    }
    assert_eq!(seqs(&got), [1, 2]);
    assert_eq!(meta(&got[0]).2, 1, "the refused message was not delivered");
    let i = cinfo(&stream, "C").await;
    assert_eq!(delivered(&i), (2, 2));
    assert_eq!(i.num_pending, 3);
}

#[tokio::test]
async fn pull_requests_get_idle_heartbeats() {
    let t = Js::start().await;
    let stream = add_stream(&t.js, config("HB", &["hb.>"])).await;
    let c = add_pull(&stream, durable("C")).await;

    // A heartbeat more than half the expiry is refused.
    let mut sub = raw_pull(
        &t.client,
        "HB",
        "C",
        json!({"batch": 1, "expires": 100_000_000, "idle_heartbeat": 80_000_000}),
    )
    .await;
    expect_status(&mut sub, 400, "Bad Request - heartbeat value too large").await;

    let start = Instant::now();
    let mut sub = raw_pull(
        &t.client,
        "HB",
        "C",
        json!({"batch": 1, "expires": 400_000_000, "idle_heartbeat": 60_000_000}),
    )
    .await;
    let mut beats = 0;
    loop {
        let m = next_msg(&mut sub).await;
        match status(&m) {
            Some((100, d)) if d == "Idle Heartbeat" => {
                assert_eq!(header(&m, "Nats-Last-Consumer"), Some("0"));
                assert_eq!(header(&m, "Nats-Last-Stream"), Some("0"));
                beats += 1;
            }
            Some((408, _)) => break,
            other => panic!("unexpected frame {other:?}"),
        }
    }
    assert!(start.elapsed() >= Duration::from_millis(350));
    assert!(beats >= 2, "heartbeats while the request waited: {beats}");

    // async-nats's continuous pull with heartbeats: heartbeats keep it from reporting them
    // missing (after two intervals), and are not messages.
    publish(&t.js, "hb.x", "one").await;
    let mut msgs = c
        .stream()
        .max_messages_per_batch(2)
        .expires(Duration::from_millis(400))
        .heartbeat(Duration::from_millis(50))
        .messages()
        .await
        .expect("messages");
    let m = tokio::time::timeout(Duration::from_secs(3), msgs.next())
        .await
        .expect("in time")
        .expect("open")
        .expect("a message");
    assert_eq!(meta(&m).0, 1);
    let idle = tokio::time::timeout(Duration::from_millis(300), msgs.next()).await;
    assert!(
        idle.is_err(),
        "nothing, not even a missed heartbeat: {:?}",
        idle.map(|m| m.map(|m| m.map(|m| meta(&m))))
    );
}

#[tokio::test]
async fn messages_stream_keeps_pulling() {
    let t = Js::start().await;
    let stream = add_stream(&t.js, config("CONT", &["cont.>"])).await;
    publish_n(&t.js, "cont.x", "m", 30).await;
    let c = add_pull(&stream, durable("C")).await;
    let mut msgs = c
        .stream()
        .max_messages_per_batch(7)
        .expires(Duration::from_secs(1))
        .messages()
        .await
        .expect("messages");
    let mut got = Vec::new();
    for n in 0..60 {
        if n == 30 {
            publish_n(&t.js, "cont.y", "n", 30).await;
        }
        let m = tokio::time::timeout(Duration::from_secs(5), msgs.next())
            .await
            .expect("a message in time")
            .expect("the stream goes on")
            .expect("not an error");
        m.ack().await.expect("ack");
        got.push(meta(&m).0);
    }
    assert_eq!(got, (1..=60).collect::<Vec<u64>>());
    wait_consumer(&stream, "C", "all acked", |i| {
        i.num_ack_pending == 0 && floor(i) == (60, 60)
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// 2. Acknowledgements
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn explicit_acks_move_the_floor_over_gaps() {
    let t = Js::start().await;
    let stream = add_stream(&t.js, config("EXP", &["exp.>"])).await;
    publish_n(&t.js, "exp.x", "m", 4).await;
    let c = add_pull(&stream, durable("C")).await;
    let msgs = fetch(&c, 4).await;
    assert_eq!(seqs(&msgs), [1, 2, 3, 4]);

    msgs[1].double_ack().await.expect("ack 2 answered");
    let i = cinfo(&stream, "C").await;
    assert_eq!(i.num_ack_pending, 3, "the ack is applied before its reply");
    assert_eq!(floor(&i), (0, 0), "an ack past a gap leaves the floor");

    msgs[0].double_ack().await.expect("ack 1 answered");
    let i = cinfo(&stream, "C").await;
    assert_eq!(i.num_ack_pending, 2);
    assert_eq!(
        floor(&i),
        (2, 2),
        "filling the gap moves the floor over both"
    );

    // A repeated ack is answered too.
    let again = t
        .client
        .request(
            msgs[0].reply.clone().expect("reply").to_string(),
            "+ACK".into(),
        )
        .await
        .expect("a repeated ack is answered");
    assert!(again.payload.is_empty());

    msgs[3].ack().await.expect("ack");
    msgs[2].ack_with(AckKind::Ack).await.expect("ack");
    let i = wait_consumer(&stream, "C", "plain acks settle", |i| {
        i.num_ack_pending == 0
    })
    .await;
    assert_eq!(floor(&i), (4, 4));
    assert!(i.ack_floor.last_active.is_some());
}

#[tokio::test]
async fn ack_all_acknowledges_everything_below() {
    let t = Js::start().await;
    let stream = add_stream(&t.js, config("ALL", &["all.>"])).await;
    publish_n(&t.js, "all.x", "m", 5).await;
    let c = add_pull(
        &stream,
        pull::Config {
            ack_policy: AckPolicy::All,
            ..durable("C")
        },
    )
    .await;
    let msgs = fetch(&c, 5).await;
    assert_eq!(seqs(&msgs), [1, 2, 3, 4, 5]);
    msgs[2].double_ack().await.expect("ack 3 answered");
    let i = cinfo(&stream, "C").await;
    assert_eq!(i.num_ack_pending, 2);
    assert_eq!(floor(&i), (3, 3));
    // Below the floor: nothing changes.
    msgs[0].double_ack().await.expect("ack 1 answered");
    assert_eq!(floor(&cinfo(&stream, "C").await), (3, 3));
    msgs[4].double_ack().await.expect("ack 5 answered");
    let i = cinfo(&stream, "C").await;
    assert_eq!(i.num_ack_pending, 0);
    assert_eq!(floor(&i), (5, 5));
}

#[tokio::test]
async fn ack_none_needs_no_acks() {
    let t = Js::start().await;
    let stream = add_stream(&t.js, config("NONE", &["none.>"])).await;
    publish_n(&t.js, "none.x", "m", 3).await;
    let c = add_pull(
        &stream,
        pull::Config {
            ack_policy: AckPolicy::None,
            ..durable("C")
        },
    )
    .await;
    let msgs = fetch(&c, 3).await;
    assert_eq!(seqs(&msgs), [1, 2, 3]);
    assert_eq!(meta(&msgs[2]), (3, 3, 1, 0), "metadata without acks too");
    let i = cinfo(&stream, "C").await;
    assert_eq!(i.num_ack_pending, 0);
    assert_eq!(delivered(&i), (3, 3));
    assert_eq!(floor(&i), (3, 3), "delivered is acknowledged");
    assert!(fetch(&c, 3).await.is_empty(), "nothing is redelivered");
}

#[tokio::test]
async fn nak_redelivers_now_or_after_its_delay() {
    let t = Js::start().await;
    let stream = add_stream(&t.js, config("NAK", &["nak.>"])).await;
    publish(&t.js, "nak.x", "one").await;
    let c = add_pull(&stream, durable("C")).await;
    let mut naks = advisories(&t.client, "$JS.EVENT.ADVISORY.CONSUMER.MSG_NAKED.NAK.C").await;

    let m = fetch(&c, 1).await.pop().expect("first delivery");
    assert_eq!(meta(&m), (1, 1, 1, 0));
    m.ack_with(AckKind::Nak(None)).await.expect("nak");
    let start = Instant::now();
    let m = batch(&c, 1, Duration::from_secs(2))
        .await
        .pop()
        .expect("redelivery");
    assert!(
        start.elapsed() < Duration::from_millis(500),
        "a nak redelivers at once"
    );
    assert_eq!(meta(&m), (1, 2, 2, 0));
    let (subject, adv) = next_json(&mut naks).await;
    assert_eq!(subject, "$JS.EVENT.ADVISORY.CONSUMER.MSG_NAKED.NAK.C");
    assert_eq!(adv["type"], "io.nats.jetstream.advisory.v1.nak");
    assert_eq!(
        (adv["stream"].as_str(), adv["consumer"].as_str()),
        (Some("NAK"), Some("C"))
    );
    assert_eq!(
        (adv["stream_seq"].as_u64(), adv["consumer_seq"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(adv["deliveries"], 1);
    let i = cinfo(&stream, "C").await;
    assert_eq!((i.num_ack_pending, i.num_redelivered), (1, 1));
    assert_eq!(delivered(&i), (2, 1));

    // A nak with a delay: not redelivered before it is up.
    let start = Instant::now();
    m.ack_with(AckKind::Nak(Some(Duration::from_millis(300))))
        .await
        .expect("nak with delay");
    assert!(
        batch(&c, 1, Duration::from_millis(150)).await.is_empty(),
        "nothing within the delay"
    );
    let m = batch(&c, 1, Duration::from_secs(2))
        .await
        .pop()
        .expect("redelivery");
    assert!(
        start.elapsed() >= Duration::from_millis(250),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(meta(&m), (1, 3, 3, 0));
    m.double_ack().await.expect("ack");
}

#[tokio::test]
async fn progress_holds_off_redelivery_and_term_ends_it() {
    let t = Js::start().await;
    let stream = add_stream(&t.js, config("TERM", &["term.>"])).await;
    publish(&t.js, "term.x", "one").await;
    let c = add_pull(
        &stream,
        pull::Config {
            ack_wait: Duration::from_millis(300),
            ..durable("C")
        },
    )
    .await;
    let mut terms = advisories(
        &t.client,
        "$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.TERM.C",
    )
    .await;

    let m = fetch(&c, 1).await.pop().expect("first delivery");
    // Work in progress every 100 ms keeps it for twice the ack wait.
    for _ in 0..6 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        m.ack_with(AckKind::Progress).await.expect("progress");
    }
    assert!(
        batch(&c, 1, Duration::from_millis(150)).await.is_empty(),
        "no redelivery while in progress"
    );
    let m = batch(&c, 1, Duration::from_secs(2))
        .await
        .pop()
        .expect("redelivery");
    assert_eq!(meta(&m).2, 2, "redelivered once progress stopped");

    // Term with a reason: an advisory, and never again.
    let reply = m.reply.clone().expect("reply").to_string();
    let answer = t
        .client
        .request(reply, "+TERM bad input".into())
        .await
        .expect("term is answered");
    assert!(answer.payload.is_empty());
    let (_, adv) = next_json(&mut terms).await;
    assert_eq!(adv["type"], "io.nats.jetstream.advisory.v1.terminated");
    assert_eq!(
        (adv["stream_seq"].as_u64(), adv["consumer_seq"].as_u64()),
        (Some(1), Some(2))
    );
    assert_eq!(adv["deliveries"], 2);
    assert_eq!(adv["reason"], "bad input");
    let i = cinfo(&stream, "C").await;
    assert_eq!(i.num_ack_pending, 0);
    assert_eq!(floor(&i), (2, 1));
    assert!(
        batch(&c, 1, Duration::from_millis(450)).await.is_empty(),
        "no redelivery after term (ack wait 300 ms)"
    );
}

#[tokio::test]
async fn ack_next_delivers_to_the_ack_reply() {
    let t = Js::start().await;
    let stream = add_stream(&t.js, config("NXT", &["nxt.>"])).await;
    publish_n(&t.js, "nxt.x", "m", 4).await;
    let c = add_pull(&stream, durable("C")).await;
    let m1 = fetch(&c, 1).await.pop().expect("first");

    let inbox = t.client.new_inbox();
    let mut sub = t.client.subscribe(inbox.clone()).await.expect("subscribes");
    t.client
        .publish_with_reply(
            m1.reply.clone().expect("reply"),
            inbox.clone(),
            "+NXT".into(),
        )
        .await
        .expect("ack next");
    let m2 = next_msg(&mut sub).await;
    assert_eq!(payload(&m2), "m2");
    // `+NXT` with a request body.
    t.client
        .publish_with_reply(
            m2.reply.clone().expect("reply"),
            inbox.clone(),
            r#"+NXT {"batch":2}"#.into(),
        )
        .await
        .expect("ack next with a batch");
    let m3 = next_msg(&mut sub).await;
    let m4 = next_msg(&mut sub).await;
    assert_eq!([payload(&m3), payload(&m4)], ["m3", "m4"]);
    let i = wait_consumer(&stream, "C", "two acked", |i| i.num_ack_pending == 2).await;
    assert_eq!(floor(&i), (2, 2));
    assert_eq!(delivered(&i), (4, 4));
}

#[tokio::test]
async fn max_ack_pending_holds_back_deliveries() {
    let t = Js::start().await;
    let stream = add_stream(&t.js, config("MAP", &["map.>"])).await;
    publish_n(&t.js, "map.x", "m", 5).await;
    let c = add_pull(
        &stream,
        pull::Config {
            max_ack_pending: 2,
            ..durable("C")
        },
    )
    .await;
    let first = batch(&c, 5, Duration::from_millis(300)).await;
    assert_eq!(seqs(&first), [1, 2], "two unacknowledged at most");
    first[0].double_ack().await.expect("ack");
    let next = batch(&c, 5, Duration::from_millis(300)).await;
    assert_eq!(seqs(&next), [3], "one more once one is acknowledged");
    let i = cinfo(&stream, "C").await;
    assert_eq!((i.num_ack_pending, i.num_pending), (2, 2));
}

// ---------------------------------------------------------------------------------------------
// 3. Redelivery
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn ack_wait_redelivers_in_order() {
    let t = Js::start().await;
    let stream = add_stream(&t.js, config("WAIT", &["wait.>"])).await;
    publish_n(&t.js, "wait.x", "m", 3).await;
    let c = add_pull(
        &stream,
        pull::Config {
            ack_wait: Duration::from_millis(200),
            ..durable("C")
        },
    )
    .await;
    let start = Instant::now();
    let first = fetch(&c, 3).await;
    assert_eq!(seqs(&first), [1, 2, 3]);
    let again = batch(&c, 3, Duration::from_secs(2)).await;
    assert!(
        start.elapsed() >= Duration::from_millis(180),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(seqs(&again), [1, 2, 3], "redelivered in order");
    let m: Vec<_> = again.iter().map(meta).collect();
    assert_eq!(m, [(1, 4, 2, 0), (2, 5, 2, 0), (3, 6, 2, 0)]);
    let i = cinfo(&stream, "C").await;
    assert_eq!((i.num_ack_pending, i.num_redelivered), (3, 3));
    for m in &again {
        m.double_ack().await.expect("ack");
    }
    let i = cinfo(&stream, "C").await;
    assert_eq!((i.num_ack_pending, i.num_redelivered), (0, 0));
    assert_eq!(floor(&i), (6, 3));
}

#[tokio::test]
async fn backoff_spaces_redeliveries() {
    let t = Js::start().await;
    let stream = add_stream(&t.js, config("BACK", &["back.>"])).await;
    publish(&t.js, "back.x", "one").await;

    // max_deliver must exceed the number of backoff steps.
    let bad = api(
        &t.client,
        "$JS.API.CONSUMER.CREATE.BACK.BAD",
        json!({"stream_name": "BACK", "config": {"durable_name": "BAD", "ack_policy": "explicit",
            "max_deliver": 2, "backoff": [100_000_000, 200_000_000, 300_000_000]}}),
    )
    .await;
    assert_api_error(
        &bad,
        400,
        10116,
        "max deliver is required to be > length of backoff values",
    );

    let c = add_pull(
        &stream,
        pull::Config {
            backoff: vec![Duration::from_millis(100), Duration::from_millis(400)],
            max_deliver: 4,
            ..durable("C")
        },
    )
    .await;
    let i = cinfo(&stream, "C").await;
    assert_eq!(
        i.config.ack_wait,
        Duration::from_millis(100),
        "ack wait is the first step"
    );

    let mut at = Vec::new();
    for dc in 1..=4 {
        let m = batch(&c, 1, Duration::from_secs(2))
            .await
            .pop()
            .expect("a delivery");
        at.push(Instant::now());
        assert_eq!(meta(&m).2, dc);
    }
    let gaps: Vec<Duration> = at.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(
        gaps[0] >= Duration::from_millis(80),
        "first step 100 ms: {gaps:?}"
    );
    assert!(
        gaps[1] >= Duration::from_millis(350),
        "second step 400 ms: {gaps:?}"
    );
    assert!(
        gaps[2] >= Duration::from_millis(350),
        "the last step repeats: {gaps:?}"
    );
    assert!(gaps[1] > gaps[0], "{gaps:?}");
    assert!(
        batch(&c, 1, Duration::from_millis(500)).await.is_empty(),
        "no fifth delivery past max_deliver"
    );
}

#[tokio::test]
async fn max_deliver_gives_up_with_an_advisory() {
    let t = Js::start().await;
    let stream = add_stream(&t.js, config("MAXD", &["maxd.>"])).await;
    publish(&t.js, "maxd.x", "one").await;
    let c = add_pull(
        &stream,
        pull::Config {
            ack_wait: Duration::from_millis(100),
            max_deliver: 2,
            ..durable("C")
        },
    )
    .await;
    let mut adv = advisories(
        &t.client,
        "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.MAXD.C",
    )
    .await;
    let a = batch(&c, 1, Duration::from_secs(2))
        .await
        .pop()
        .expect("first");
    let b = batch(&c, 1, Duration::from_secs(2))
        .await
        .pop()
        .expect("second");
    assert_eq!((meta(&a).2, meta(&b).2), (1, 2));
    // nats-server gives up when the redelivery would go out: with a request waiting.
    assert!(
        batch(&c, 1, Duration::from_millis(300)).await.is_empty(),
        "no third delivery"
    );
    let (subject, v) = next_json(&mut adv).await;
    assert_eq!(subject, "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.MAXD.C");
    assert_eq!(v["type"], "io.nats.jetstream.advisory.v1.max_deliver");
    assert_eq!(
        (v["stream"].as_str(), v["consumer"].as_str()),
        (Some("MAXD"), Some("C"))
    );
    assert_eq!(v["stream_seq"], 1);
    assert_eq!(v["deliveries"], 2);
    let i = wait_consumer(&stream, "C", "given up", |i| i.num_ack_pending == 0).await;
    assert_eq!(delivered(&i), (2, 1));
    // The next message flows; acking it moves the floor over the one given up on.
    publish(&t.js, "maxd.x", "two").await;
    let m = fetch(&c, 1).await.pop().expect("the next message");
    assert_eq!(meta(&m), (2, 3, 1, 0));
    m.double_ack().await.expect("ack");
    assert_eq!(floor(&cinfo(&stream, "C").await), (3, 2));
}

// ---------------------------------------------------------------------------------------------
// 4. Push consumers
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn push_consumer_delivers_to_its_subject() {
    let t = Js::start().await;
    let stream = add_stream(&t.js, config("PUSH", &["push.*"])).await;
    publish_n(&t.js, "push.a", "m", 3).await;
    let c = stream
        .create_consumer(push::Config {
            durable_name: Some("P".into()),
            deliver_subject: "deliver.push.p".into(),
            ack_policy: AckPolicy::Explicit,
            ..Default::default()
        })
        .await
        .expect("push consumer");
    let i = cinfo(&stream, "P").await;
    assert!(!i.push_bound, "nobody listens yet");
    let mut msgs = c.messages().await.expect("subscribed");
    for k in 1..=3u64 {
        let m = tokio::time::timeout(Duration::from_secs(3), msgs.next())
            .await
            .expect("in time")
            .expect("open")
            .expect("a message");
        assert_eq!(meta(&m), (k, k, 1, 3 - k));
        assert_eq!(payload(&m), format!("m{k}"));
        m.double_ack().await.expect("ack");
    }
    let i = cinfo(&stream, "P").await;
    assert!(i.push_bound);
    assert_eq!(floor(&i), (3, 3));

    // Headers only: the size instead of the payload.
    let h = stream
        .create_consumer(push::Config {
            name: Some("H".into()),
            deliver_subject: "deliver.push.h".into(),
            headers_only: true,
            ack_policy: AckPolicy::None,
            ..Default::default()
        })
        .await
        .expect("headers-only consumer");
    let mut msgs = h.messages().await.expect("subscribed");
    let m = tokio::time::timeout(Duration::from_secs(3), msgs.next())
        .await
        .expect("in time")
        .expect("open")
        .expect("a message");
    assert!(m.payload.is_empty());
    assert_eq!(header(&m, "Nats-Msg-Size"), Some("2"));
}

#[tokio::test]
async fn deliver_group_gives_each_message_to_one_member() {
    let t = Js::start().await;
    let stream = add_stream(&t.js, config("GRP", &["grp.>"])).await;
    let c = stream
        .create_consumer(push::Config {
            durable_name: Some("Q".into()),
            deliver_subject: "deliver.grp".into(),
            deliver_group: Some("workers".into()),
            ack_policy: AckPolicy::Explicit,
            ..Default::default()
        })
        .await
        .expect("push consumer with a deliver group");
    let mut a = c.messages().await.expect("member a");
    let mut b = c.messages().await.expect("member b");
    sync(&t.client).await;
    wait_consumer(&stream, "Q", "bound", |i| i.push_bound).await;
    publish_n(&t.js, "grp.x", "m", 40).await;
    let mut seen = BTreeMap::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while seen.len() < 40 {
        let m = tokio::select! {
            m = a.next() => m,
            m = b.next() => m,
            _ = tokio::time::sleep_until(deadline) => panic!("only {} of 40 arrived", seen.len()),
        }
        .expect("open")
        .expect("a message");
        let seq = meta(&m).0;
        assert!(seen.insert(seq, ()).is_none(), "{seq} delivered twice");
        m.ack().await.expect("ack");
    }
    assert_eq!(
        seen.keys().copied().collect::<Vec<_>>(),
        (1..=40).collect::<Vec<_>>()
    );
    wait_consumer(&stream, "Q", "all acked", |i| floor(i) == (40, 40)).await;
}

#[tokio::test]
async fn push_flow_control_and_idle_heartbeats() {
    let t = Js::start().await;
    let stream = add_stream(&t.js, config("FLOW", &["flow.>"])).await;
    let big = "x".repeat(32 * 1024);
    for i in 0..96 {
        publish(&t.js, "flow.x", format!("{i:04}{big}")).await;
    }
    let deliver = t.client.new_inbox();
    let c = stream
        .create_consumer(push::Config {
            durable_name: Some("F".into()),
            deliver_subject: deliver.clone(),
            ack_policy: AckPolicy::Explicit,
            flow_control: true,
            idle_heartbeat: Duration::from_millis(200),
            ..Default::default()
        })
        .await
        .expect("push consumer with flow control");
    // Nothing goes out before async-nats subscribes (it answers the flow control requests);
    // a plain subscriber right after it sees the status frames async-nats hides.
    let mut msgs = c.messages().await.expect("subscribed");
    let mut watch = t
        .client
        .subscribe(deliver.clone())
        .await
        .expect("subscribes");
    for k in 1..=96u64 {
        let m = tokio::time::timeout(Duration::from_secs(5), msgs.next())
            .await
            .expect("in time")
            .expect("open")
            .expect("a message, no missed heartbeat");
        assert_eq!(meta(&m).0, k);
        assert_eq!(m.payload.len(), 4 + big.len());
        m.ack().await.expect("ack");
    }
    let (mut flow, mut data) = (0, 0);
    loop {
        let m = next_msg(&mut watch).await;
        match status(&m) {
            None => data += 1,
            Some((100, d)) if d == "FlowControl Request" => {
                assert!(
                    m.reply.is_some(),
                    "a flow control request has a reply subject"
                );
                flow += 1;
            }
            Some((100, d)) if d == "Idle Heartbeat" => {
                assert!(data > 90, "the heartbeat comes once all went out: {data}");
                assert_eq!(header(&m, "Nats-Last-Consumer"), Some("96"));
                assert_eq!(header(&m, "Nats-Last-Stream"), Some("96"));
                break;
            }
            other => panic!("unexpected frame {other:?}"),
        }
    }
    assert!(
        flow >= 1,
        "3 MiB pushed with flow control asks for flow control"
    );
    // Idle: heartbeats go on, and the consumer stream sees no missed heartbeat.
    let m = next_msg(&mut watch).await;
    assert_eq!(status(&m), Some((100, "Idle Heartbeat".into())));
    wait_consumer(&stream, "F", "all acked", |i| floor(i) == (96, 96)).await;
}

#[tokio::test]
async fn replay_original_paces_deliveries_as_published() {
    let t = Js::start().await;
    let stream = add_stream(&t.js, config("REPLAY", &["replay.>"])).await;
    for i in 1..=3 {
        if i > 1 {
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        publish(&t.js, "replay.x", format!("m{i}")).await;
    }
    let c = stream
        .create_consumer(push::Config {
            durable_name: Some("R".into()),
            deliver_subject: "deliver.replay".into(),
            replay_policy: ReplayPolicy::Original,
            ack_policy: AckPolicy::None,
            ..Default::default()
        })
        .await
        .expect("push consumer replaying at the original pace");
    let mut msgs = c.messages().await.expect("subscribed");
    let mut at = Vec::new();
    for k in 1..=3u64 {
        let m = tokio::time::timeout(Duration::from_secs(3), msgs.next())
            .await
            .expect("in time")
            .expect("open")
            .expect("a message");
        assert_eq!(meta(&m).0, k);
        at.push(Instant::now());
    }
    let gaps: Vec<Duration> = at.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(
        gaps.iter().all(|g| *g >= Duration::from_millis(180)),
        "delivered as far apart as published (250 ms): {gaps:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// 5. Ordered consumers (client-side: ephemeral consumers recreated as needed)
// ---------------------------------------------------------------------------------------------

async fn publish_mixed(js: &Context, prefix: &str, from: usize, to: usize) {
    for i in from..=to {
        let subject = format!("{prefix}.{}", ["a", "b", "c"][i % 3]);
        publish(js, &subject, format!("m{i}")).await;
    }
}

#[tokio::test]
async fn ordered_push_consumer_reads_the_whole_stream() {
    let t = Js::start().await;
    let stream = add_stream(&t.js, config("OPUSH", &["opush.*"])).await;
    publish_mixed(&t.js, "opush", 1, 300).await;
    let c = stream
        .create_consumer(push::OrderedConfig {
            deliver_subject: t.client.new_inbox(),
            ..Default::default()
        })
        .await
        .expect("ordered push consumer");
    let mut msgs = c.messages().await.expect("messages");
    for i in 1..=400usize {
        if i == 301 {
            publish_mixed(&t.js, "opush", 301, 400).await;
        }
        let m = tokio::time::timeout(Duration::from_secs(5), msgs.next())
            .await
            .expect("in time")
            .expect("open")
            .expect("a message");
        assert_eq!(meta(&m).0, i as u64);
        assert_eq!(payload(&m), format!("m{i}"));
    }
}

#[tokio::test]
async fn ordered_pull_consumer_reads_the_whole_stream_and_survives_a_delete() {
    let t = Js::start().await;
    let stream = add_stream(&t.js, config("OPULL", &["opull.*"])).await;
    publish_mixed(&t.js, "opull", 1, 300).await;
    let c = stream
        .create_consumer(pull::OrderedConfig::default())
        .await
        .expect("ordered pull consumer");
    let mut msgs = c.messages().await.expect("messages");
    for i in 1..=400usize {
        if i == 301 {
            publish_mixed(&t.js, "opull", 301, 400).await;
        }
        if i == 200 {
            // The consumer is deleted under it: the client creates a new one from where it was.
            let mut names = stream.consumer_names();
            let name = names.next().await.expect("one consumer").expect("a name");
            stream.delete_consumer(&name).await.expect("deleted");
        }
        let m = tokio::time::timeout(Duration::from_secs(5), msgs.next())
            .await
            .expect("in time")
            .expect("open")
            .expect("a message");
        assert_eq!(meta(&m).0, i as u64);
        assert_eq!(payload(&m), format!("m{i}"));
    }
}

// ---------------------------------------------------------------------------------------------
// 6. Retention
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn interest_retention_keeps_a_message_until_every_consumer_acked() {
    let t = Js::start().await;
    let stream = add_stream(
        &t.js,
        Config {
            retention: RetentionPolicy::Interest,
            ..config("INT", &["int.*"])
        },
    )
    .await;
    publish(&t.js, "int.a", "nobody").await;
    wait_messages(&t.js, "INT", 0, "no consumer, no interest").await;

    let all = add_pull(&stream, durable("ALL")).await;
    let only_a = add_pull(
        &stream,
        pull::Config {
            filter_subject: "int.a".into(),
            ..durable("A")
        },
    )
    .await;
    publish(&t.js, "int.a", "a").await;
    publish(&t.js, "int.b", "b").await;
    wait_messages(&t.js, "INT", 2, "both kept").await;

    let m_all = fetch(&all, 2).await;
    let m_a = fetch(&only_a, 1).await;
    assert_eq!((seqs(&m_all), seqs(&m_a)), (vec![2, 3], vec![2]));
    m_all[0].double_ack().await.expect("ack");
    wait_messages(&t.js, "INT", 2, "A has not acked int.a").await;
    m_a[0].double_ack().await.expect("ack");
    wait_messages(&t.js, "INT", 1, "both acked int.a").await;
    m_all[1].double_ack().await.expect("ack");
    wait_messages(&t.js, "INT", 0, "int.b wanted by ALL alone").await;

    // A nak keeps it; deleting the last consumer that wants it drops it.
    publish(&t.js, "int.b", "b2").await;
    let m = fetch(&all, 1).await.pop().expect("b2");
    m.ack_with(AckKind::Nak(None)).await.expect("nak");
    wait_messages(&t.js, "INT", 1, "naked is kept").await;
    stream.delete_consumer("ALL").await.expect("deleted");
    wait_messages(&t.js, "INT", 0, "nobody wants int.b").await;
}

#[tokio::test]
async fn work_queue_removes_on_ack_and_refuses_overlaps() {
    let t = Js::start().await;
    let stream = add_stream(
        &t.js,
        Config {
            retention: RetentionPolicy::WorkQueue,
            ..config("WQ", &["wq.*"])
        },
    )
    .await;
    publish_n(&t.js, "wq.a", "a", 3).await;
    publish(&t.js, "wq.b", "b1").await;
    let c = add_pull(
        &stream,
        pull::Config {
            filter_subject: "wq.a".into(),
            ..durable("WA")
        },
    )
    .await;
    let msgs = fetch(&c, 3).await;
    assert_eq!(seqs(&msgs), [1, 2, 3]);
    wait_messages(&t.js, "WQ", 4, "delivered is not removed").await;
    msgs[1].double_ack().await.expect("ack");
    wait_messages(&t.js, "WQ", 3, "acked is removed").await;
    msgs[0].ack_with(AckKind::Term).await.expect("term");
    wait_messages(&t.js, "WQ", 2, "termed is removed").await;
    msgs[2].ack_with(AckKind::Nak(None)).await.expect("nak");
    let again = batch(&c, 1, Duration::from_secs(2)).await;
    assert_eq!(seqs(&again), [3], "naked is redelivered");

    for (name, filter, code, desc) in [
        (
            "WALL",
            "wq.>",
            10100,
            "filtered consumer not unique on workqueue stream",
        ),
        (
            "WSAME",
            "wq.a",
            10100,
            "filtered consumer not unique on workqueue stream",
        ),
        (
            "WNONE",
            "",
            10099,
            "multiple non-filtered consumers not allowed on workqueue stream",
        ),
    ] {
        let v = api(
            &t.client,
            &format!("$JS.API.CONSUMER.CREATE.WQ.{name}"),
            json!({"stream_name": "WQ", "config": {"durable_name": name, "ack_policy": "explicit",
                "filter_subject": filter}}),
        )
        .await;
        assert_api_error(&v, 400, code, desc);
    }
    let b = add_pull(
        &stream,
        pull::Config {
            filter_subject: "wq.b".into(),
            ..durable("WB")
        },
    )
    .await;
    let m = fetch(&b, 5).await;
    assert_eq!(seqs(&m), [4]);
    m[0].double_ack().await.expect("ack");
    again[0].double_ack().await.expect("ack");
    wait_messages(&t.js, "WQ", 0, "all done").await;
}

// ---------------------------------------------------------------------------------------------
// 7. Pause and priority groups
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn pause_holds_deliveries_until_its_time() {
    let t = Js::start().await;
    let stream = add_stream(&t.js, config("PAUSE", &["pause.>"])).await;
    let c = add_pull(&stream, durable("C")).await;
    publish(&t.js, "pause.x", "one").await;
    let mut adv = advisories(&t.client, "$JS.EVENT.ADVISORY.CONSUMER.PAUSE.PAUSE.C").await;

    let until = time::OffsetDateTime::now_utc() + Duration::from_millis(700);
    let resumes_at = Instant::now() + Duration::from_millis(700);
    let r = stream.pause_consumer("C", until).await.expect("paused");
    assert!(r.paused);
    assert_eq!(
        r.pause_until.unix_timestamp_nanos() / 1000,
        until.unix_timestamp_nanos() / 1000
    );
    let left = r.pause_remaining.expect("time left");
    assert!(
        left > Duration::ZERO && left <= Duration::from_millis(700),
        "{left:?}"
    );
    let (_, v) = next_json(&mut adv).await;
    assert_eq!(v["type"], "io.nats.jetstream.advisory.v1.consumer_pause");
    assert_eq!(v["paused"], true);
    let i = cinfo(&stream, "C").await;
    assert!(i.paused);
    assert!(i.pause_remaining.is_some_and(|d| d > Duration::ZERO));
    assert!(i.config.pause_until.is_some());

    assert!(
        batch(&c, 1, Duration::from_millis(200)).await.is_empty(),
        "nothing while paused"
    );
    let m = batch(&c, 1, Duration::from_secs(3))
        .await
        .pop()
        .expect("delivered after the pause");
    assert!(
        Instant::now() + Duration::from_millis(50) >= resumes_at,
        "not before the pause is over"
    );
    assert_eq!(payload(&m), "one");
    let (_, v) = next_json(&mut adv).await;
    assert_eq!(v["paused"], false, "the end of a pause is advised too: {v}");
    assert!(v["pause_until"].is_string(), "{v}");
    let i = cinfo(&stream, "C").await;
    assert!(!i.paused);

    // Paused again, then resumed by hand.
    let until = time::OffsetDateTime::now_utc() + Duration::from_secs(60);
    stream.pause_consumer("C", until).await.expect("paused");
    let (_, v) = next_json(&mut adv).await;
    assert_eq!(v["paused"], true);
    publish(&t.js, "pause.x", "two").await;
    let r = stream.resume_consumer("C").await.expect("resumed");
    assert!(!r.paused);
    let (_, v) = next_json(&mut adv).await;
    assert_eq!(v["paused"], false);
    assert_eq!(v["pause_until"], "0001-01-01T00:00:00Z");
    let m = batch(&c, 1, Duration::from_secs(2))
        .await
        .pop()
        .expect("delivered once resumed");
    assert_eq!(payload(&m), "two");

    // A consumer created paused.
    let until = time::OffsetDateTime::now_utc() + Duration::from_secs(60);
    stream
        .create_consumer(pull::Config {
            pause_until: Some(until),
            ..durable("LATER")
        })
        .await
        .expect("created paused");
    let i = cinfo(&stream, "LATER").await;
    assert!(i.paused);
}

#[tokio::test]
async fn priority_groups_are_checked_in_the_config_and_in_requests() {
    let t = Js::start().await;
    let stream = add_stream(&t.js, config("PRIO", &["prio.>"])).await;
    let create = |name: &str, cfg: Value| {
        let mut cfg = cfg;
        cfg["durable_name"] = json!(name);
        let subject = format!("$JS.API.CONSUMER.CREATE.PRIO.{name}");
        let client = t.client.clone();
        async move {
            api(
                &client,
                &subject,
                json!({"stream_name": "PRIO", "config": cfg}),
            )
            .await
        }
    };
    assert_api_error(
        &create("A", json!({"priority_policy": "overflow"})).await,
        400,
        10159,
        "Setting PriorityPolicy requires at least one PriorityGroup to be set",
    );
    assert_api_error(
        &create("B", json!({"priority_groups": ["g"]})).await,
        400,
        10196,
        "consumer can not have priority groups when policy is none",
    );
    let bad_name = "Valid priority group name must match A-Z, a-z, 0-9, -_/=)+ and may not exceed 16 characters";
    assert_api_error(
        &create(
            "C",
            json!({"priority_policy": "overflow", "priority_groups": ["bad group!"]}),
        )
        .await,
        400,
        10162,
        bad_name,
    );
    assert_api_error(
        &create(
            "D",
            json!({"priority_policy": "overflow", "priority_groups": ["01234567890123456"]}),
        )
        .await,
        400,
        10162,
        bad_name,
    );
    assert_api_error(
        &create(
            "E",
            json!({"priority_policy": "overflow", "priority_groups": ["g"],
                "deliver_subject": "deliver.prio"}),
        )
        .await,
        400,
        10178,
        "priority groups can not be used with push consumers",
    );

    let c = add_pull(
        &stream,
        pull::Config {
            priority_policy: PriorityPolicy::Overflow,
            priority_groups: vec!["jobs".into()],
            ..durable("G")
        },
    )
    .await;
    let i = cinfo(&stream, "G").await;
    assert_eq!(i.config.priority_policy, PriorityPolicy::Overflow);
    assert_eq!(i.config.priority_groups, ["jobs"]);
    publish(&t.js, "prio.x", "one").await;

    let mut sub = raw_pull(&t.client, "PRIO", "G", json!({"batch": 1})).await;
    expect_status(&mut sub, 400, "Bad Request - Priority Group missing").await;
    let mut sub = raw_pull(
        &t.client,
        "PRIO",
        "G",
        json!({"batch": 1, "group": "other"}),
    )
    .await;
    expect_status(&mut sub, 400, "Bad Request - Invalid Priority Group").await;

    let b = c
        .fetch()
        .max_messages(1)
        .group("jobs")
        .messages()
        .await
        .expect("fetch with the group");
    let got = collect(b, Duration::from_secs(3)).await;
    assert_eq!(seqs(&got), [1]);
}

// ---------------------------------------------------------------------------------------------
// 8. Managing consumers
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn create_and_update_follow_the_rules() {
    let t = Js::start().await;
    let stream = add_stream(&t.js, config("RULES", &["rules.>"])).await;
    let req = |name: &str, cfg: Value, action: Option<&str>| {
        let mut body = json!({"stream_name": "RULES", "config": cfg});
        if let Some(a) = action {
            body["action"] = json!(a);
        }
        let subject = format!("$JS.API.CONSUMER.CREATE.RULES.{name}");
        let client = t.client.clone();
        async move { api(&client, &subject, body).await }
    };
    let base = json!({"durable_name": "U", "ack_policy": "explicit"});
    let created = req("U", base.clone(), Some("create")).await;
    assert_eq!(
        created["type"],
        "io.nats.jetstream.api.v1.consumer_create_response"
    );
    assert_eq!(created["name"], "U");
    // The same configuration again is no change, even with action create.
    let again = req("U", base.clone(), Some("create")).await;
    assert_eq!(again["created"], created["created"], "{again}");
    // A different one with action create: the consumer exists.
    let mut changed = base.clone();
    changed["description"] = json!("changed");
    assert_api_error(
        &req("U", changed.clone(), Some("create")).await,
        400,
        10148,
        "consumer already exists",
    );
    // Update of a consumer that does not exist.
    assert_api_error(
        &req("NOPE", json!({"durable_name": "NOPE"}), Some("update")).await,
        400,
        10149,
        "consumer does not exist",
    );
    // Updatable fields change; others are refused.
    let updated = req("U", changed, Some("update")).await;
    assert_eq!(updated["config"]["description"], "changed", "{updated}");
    assert_api_error(
        &req("U", json!({"durable_name": "U", "ack_policy": "all"}), None).await,
        500,
        10012,
        "ack policy can not be updated",
    );
    assert_api_error(
        &req(
            "U",
            json!({"durable_name": "U", "ack_policy": "explicit", "deliver_policy": "new"}),
            None,
        )
        .await,
        500,
        10012,
        "deliver policy can not be updated",
    );
    assert_api_error(
        &req(
            "U",
            json!({"durable_name": "U", "ack_policy": "explicit", "deliver_subject": "deliver.rules"}),
            None,
        )
        .await,
        500,
        10012,
        "can not update pull consumer to push based",
    );
    // Backoff can change, and sets the ack wait to its first step.
    let v = req(
        "U",
        json!({"durable_name": "U", "ack_policy": "explicit", "max_deliver": 5,
            "backoff": [100_000_000, 200_000_000]}),
        Some("update"),
    )
    .await;
    assert_eq!(v["config"]["ack_wait"], 100_000_000, "{v}");

    // The typed client: create_consumer_strict and update_consumer.
    let strict = stream
        .create_consumer_strict(pull::Config {
            description: Some("x".into()),
            ..durable("U")
        })
        .await;
    assert!(strict.is_err(), "create_consumer_strict refuses a change");
    let upd = stream
        .update_consumer(pull::Config {
            description: Some("typed".into()),
            max_deliver: 5,
            backoff: vec![Duration::from_millis(100), Duration::from_millis(200)],
            ..durable("U")
        })
        .await
        .expect("update");
    assert_eq!(
        upd.cached_info().config.description.as_deref(),
        Some("typed")
    );
    let missing = stream.update_consumer(durable("MISSING")).await;
    assert!(missing.is_err(), "update of a missing consumer fails");
    // The name in the subject and the durable name must agree.
    assert_api_error(
        &req("X", json!({"durable_name": "Y"}), None).await,
        400,
        10017,
        "consumer name in subject does not match durable name in request",
    );
}

#[tokio::test]
async fn names_list_delete_and_their_advisories() {
    let t = Js::start().await;
    let stream = add_stream(&t.js, config("LIST", &["list.>"])).await;
    let mut adv = advisories(&t.client, "$JS.EVENT.ADVISORY.CONSUMER.*.LIST.*").await;
    add_pull(&stream, durable("B")).await;
    add_pull(
        &stream,
        pull::Config {
            filter_subject: "list.a".into(),
            ..durable("A")
        },
    )
    .await;
    for name in ["B", "A"] {
        let (subject, v) = next_json(&mut adv).await;
        assert_eq!(
            subject,
            format!("$JS.EVENT.ADVISORY.CONSUMER.CREATED.LIST.{name}")
        );
        assert_eq!(v["type"], "io.nats.jetstream.advisory.v1.consumer_action");
        assert_eq!(v["stream"], "LIST");
        assert_eq!(v["consumer"], name);
        assert_eq!(v["action"], "create");
    }

    let mut names: Vec<String> = stream
        .consumer_names()
        .map(|n| n.expect("a name"))
        .collect()
        .await;
    names.sort();
    assert_eq!(names, ["A", "B"]);
    let infos: Vec<consumer::Info> = stream
        .consumers()
        .map(|i| i.expect("an info"))
        .collect()
        .await;
    assert_eq!(infos.len(), 2);
    let a = infos.iter().find(|i| i.name == "A").expect("A listed");
    assert_eq!(
        (a.stream_name.as_str(), a.config.filter_subject.as_str()),
        ("LIST", "list.a")
    );
    let si =
        t.js.get_stream("LIST")
            .await
            .expect("stream")
            .info()
            .await
            .expect("info")
            .clone();
    assert_eq!(si.state.consumer_count, 2);

    assert!(stream.delete_consumer("B").await.expect("deleted").success);
    let (subject, v) = next_json(&mut adv).await;
    assert_eq!(subject, "$JS.EVENT.ADVISORY.CONSUMER.DELETED.LIST.B");
    assert_eq!(v["action"], "delete");
    let gone = api(&t.client, "$JS.API.CONSUMER.INFO.LIST.B", json!({})).await;
    assert_api_error(&gone, 404, 10014, "consumer not found");
    let gone = api(&t.client, "$JS.API.CONSUMER.DELETE.LIST.B", json!({})).await;
    assert_api_error(&gone, 404, 10014, "consumer not found");
    let names = api(&t.client, "$JS.API.CONSUMER.NAMES.LIST", json!({})).await;
    assert_eq!(names["consumers"], json!(["A"]));
    assert_eq!(names["total"], 1);
    let v = api(&t.client, "$JS.API.CONSUMER.NAMES.NOSUCH", json!({})).await;
    assert_api_error(&v, 404, 10059, "stream not found");
}

#[tokio::test]
async fn deliver_policies_pick_the_first_message() {
    let t = Js::start().await;
    let stream = add_stream(&t.js, config("POL", &["pol.*"])).await;
    for (i, s) in ["a", "b", "a", "b", "a"].iter().enumerate() {
        publish(&t.js, &format!("pol.{s}"), format!("{s}{}", i / 2 + 1)).await;
    }
    // The third message's time, as the stream stored it.
    let third = {
        let c = add_pull(
            &stream,
            pull::Config {
                deliver_policy: DeliverPolicy::ByStartSequence { start_sequence: 3 },
                ..durable("SEQ")
            },
        )
        .await;
        let msgs = fetch(&c, 10).await;
        assert_eq!(seqs(&msgs), [3, 4, 5]);
        msgs[0].info().expect("metadata").published
    };
    let cases: Vec<(&str, DeliverPolicy, &str, Vec<u64>)> = vec![
        ("ALL", DeliverPolicy::All, "", vec![1, 2, 3, 4, 5]),
        ("FA", DeliverPolicy::All, "pol.a", vec![1, 3, 5]),
        ("LAST", DeliverPolicy::Last, "", vec![5]),
        ("LASTB", DeliverPolicy::Last, "pol.b", vec![4]),
        ("LPS", DeliverPolicy::LastPerSubject, "pol.*", vec![4, 5]),
        (
            "TIME",
            DeliverPolicy::ByStartTime { start_time: third },
            "",
            vec![3, 4, 5],
        ),
        ("NEW", DeliverPolicy::New, "", vec![]),
    ];
    for (name, policy, filter, want) in cases {
        let c = add_pull(
            &stream,
            pull::Config {
                deliver_policy: policy,
                filter_subject: filter.into(),
                ..durable(name)
            },
        )
        .await;
        let i = cinfo(&stream, name).await;
        assert_eq!(i.num_pending, want.len() as u64, "{name}");
        assert_eq!(seqs(&fetch(&c, 10).await), want, "{name}");
    }
    publish(&t.js, "pol.b", "b3").await;
    let c = stream
        .get_consumer::<pull::Config>("NEW")
        .await
        .expect("NEW");
    let m = fetch(&c, 10).await;
    assert_eq!(seqs(&m), [6]);
    assert_eq!(meta(&m[0]).1, 1);
}

// ---------------------------------------------------------------------------------------------
// 9. The seed fixtures' consumers
// ---------------------------------------------------------------------------------------------

fn assets() -> Value {
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/seed-assets/assets.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("assets.json is JSON")
}

#[tokio::test]
async fn seed_consumers_are_created_and_consume() {
    let t = Js::start().await;
    let assets = assets();
    let consumers = assets["consumers"].as_array().expect("consumers");
    assert!(consumers.len() >= 4, "the fixtures hold consumers");
    let wanted: BTreeSet<&str> = consumers
        .iter()
        .map(|c| c["stream"].as_str().expect("stream"))
        .collect();
    let mut subjects_of: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for s in assets["streams"].as_array().expect("streams") {
        let name = s["name"].as_str().expect("name");
        if !wanted.contains(name) {
            continue;
        }
        let mut cfg = s.clone();
        cfg["num_replicas"] = json!(1);
        let v = api(&t.client, &format!("$JS.API.STREAM.CREATE.{name}"), cfg).await;
        assert!(v.get("error").is_none(), "stream {name}: {v}");
        subjects_of.insert(
            name.to_string(),
            s["subjects"]
                .as_array()
                .expect("subjects")
                .iter()
                .map(|s| s.as_str().expect("subject").to_string())
                .collect(),
        );
    }

    // Create every consumer as the fixture says, and subscribe the push ones.
    let mut pushes = Vec::new();
    for c in consumers {
        let stream = c["stream"].as_str().expect("stream");
        let name = c["config"]["durable_name"].as_str().expect("durable");
        let v = api(
            &t.client,
            &format!("$JS.API.CONSUMER.CREATE.{stream}.{name}"),
            json!({"stream_name": stream, "config": c["config"]}),
        )
        .await;
        assert!(v.get("error").is_none(), "consumer {name}: {v}");
        assert_eq!(v["config"]["durable_name"], name);
        if let Some(deliver) = c["config"]["deliver_subject"].as_str() {
            assert_eq!(v["config"]["deliver_subject"], deliver);
            let pc =
                t.js.get_stream(stream)
                    .await
                    .expect("stream")
                    .get_consumer::<push::Config>(name)
                    .await
                    .expect("push consumer");
            pushes.push((stream, name, pc.messages().await.expect("subscribed")));
        }
    }
    sync(&t.client).await;

    // A message on every subject of every stream.
    let mut published: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (stream, subjects) in &subjects_of {
        for s in subjects {
            let s = s.replace('>', "x");
            publish(&t.js, &s, format!("{stream} {s}")).await;
            published.entry(stream.as_str()).or_default().push(s);
        }
    }

    let matches = |filters: &[String], subject: &str| {
        filters.is_empty()
            || filters.iter().any(|f| {
                let (f, s): (Vec<&str>, Vec<&str>) =
                    (f.split('.').collect(), subject.split('.').collect());
                f.iter()
                    .enumerate()
                    .all(|(i, t)| *t == ">" || s.get(i).is_some_and(|x| *t == "*" || x == t))
                    && (f.last() == Some(&">") || f.len() == s.len())
            })
    };
    let filters_of = |c: &Value| -> Vec<String> {
        let mut f: Vec<String> = c["filter_subjects"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|s| s.as_str().expect("filter").to_string())
                    .collect()
            })
            .unwrap_or_default();
        if let Some(one) = c["filter_subject"].as_str() {
            f.push(one.to_string());
        }
        f
    };

    for c in consumers {
        let stream = c["stream"].as_str().expect("stream");
        let name = c["config"]["durable_name"].as_str().expect("durable");
        let filters = filters_of(&c["config"]);
        let want: Vec<&String> = published[stream]
            .iter()
            .filter(|s| matches(&filters, s))
            .collect();
        assert!(!want.is_empty(), "{name} gets something");
        let got: Vec<String> = if c["config"]["deliver_subject"].is_string() {
            let (_, _, msgs) = pushes
                .iter_mut()
                .find(|(s, n, _)| *s == stream && *n == name)
                .expect("subscribed");
            let mut got = Vec::new();
            for _ in 0..want.len() {
                let m = tokio::time::timeout(Duration::from_secs(5), msgs.next())
                    .await
                    .expect("in time")
                    .expect("open")
                    .expect("a message");
                m.double_ack().await.expect("ack");
                got.push(m.subject.to_string());
            }
            got
        } else {
            let pc =
                t.js.get_stream(stream)
                    .await
                    .expect("stream")
                    .get_consumer::<pull::Config>(name)
                    .await
                    .expect("pull consumer");
            let msgs = fetch(&pc, 100).await;
            for m in &msgs {
                m.double_ack().await.expect("ack");
            }
            msgs.iter().map(|m| m.subject.to_string()).collect()
        };
        assert_eq!(
            got.iter().collect::<Vec<_>>(),
            want,
            "{stream}/{name} with filters {filters:?}"
        );
        let s = t.js.get_stream(stream).await.expect("stream");
        let i = wait_consumer(&s, name, "all acked", |i| i.num_ack_pending == 0).await;
        assert_eq!(i.num_pending, 0, "{name}");
    }
    // Interest retention: what every consumer acked is gone.
    for (stream, _) in subjects_of {
        let s =
            t.js.get_stream(&stream)
                .await
                .expect("stream")
                .info()
                .await
                .expect("info")
                .clone();
        if s.config.retention == RetentionPolicy::Interest {
            wait_messages(&t.js, &stream, 0, "acked by every consumer").await;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 10. Restarts
// ---------------------------------------------------------------------------------------------

/// Publishes 10 messages, fetches 6, acks (with replies) 1, 2, 3 and 5; returns the consumer
/// info as it stands.
async fn prepare_restart(t: &Js) -> consumer::Info {
    let stream = add_stream(&t.js, config("DUR", &["dur.>"])).await;
    publish_n(&t.js, "dur.x", "m", 10).await;
    let c = add_pull(
        &stream,
        pull::Config {
            ack_wait: Duration::from_millis(300),
            ..durable("C")
        },
    )
    .await;
    let msgs = fetch(&c, 6).await;
    assert_eq!(seqs(&msgs), [1, 2, 3, 4, 5, 6]);
    for k in [0, 1, 2, 4] {
        msgs[k].double_ack().await.expect("ack answered");
    }
    let i = cinfo(&stream, "C").await;
    assert_eq!(delivered(&i), (6, 6));
    assert_eq!(floor(&i), (3, 3));
    assert_eq!((i.num_ack_pending, i.num_pending), (2, 4));
    i
}

/// After the restart: the same counts, 4 and 6 redelivered, then 7 to 10.
async fn check_after_restart(js: &Context, before: &consumer::Info) {
    let stream = js.get_stream("DUR").await.expect("the stream is back");
    let i = cinfo(&stream, "C").await;
    assert_eq!(delivered(&i), delivered(before));
    assert_eq!(floor(&i), floor(before));
    assert_eq!(i.num_ack_pending, before.num_ack_pending);
    assert_eq!(i.num_pending, before.num_pending);
    let c = stream
        .get_consumer::<pull::Config>("C")
        .await
        .expect("consumer");
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while got.len() < 6 && Instant::now() < deadline {
        for m in batch(&c, 6 - got.len(), Duration::from_millis(500)).await {
            m.double_ack().await.expect("ack");
            got.push((meta(&m).0, meta(&m).2));
        }
    }
    got.sort();
    assert_eq!(got, [(4, 2), (6, 2), (7, 1), (8, 1), (9, 1), (10, 1)]);
    let i = cinfo(&stream, "C").await;
    assert_eq!(floor(&i).1, 10);
    assert_eq!((i.num_ack_pending, i.num_pending), (0, 0));
}

#[tokio::test]
async fn consumer_state_survives_a_graceful_restart() {
    let mut t = Js::start().await;
    let before = prepare_restart(&t).await;
    t.server.signal("TERM");
    assert!(
        t.server.wait_exit(Duration::from_secs(10)).is_some(),
        "the server stops"
    );
    let (_server, _client, js) = start_in(&t.dir).await;
    check_after_restart(&js, &before).await;
}

#[tokio::test]
async fn consumer_state_survives_kill_9() {
    if against_reference() {
        // nats-server writes consumer state behind its acks, from a flusher: after a kill -9 it
        // forgets acks it answered and deliveries it made. Strom answers no ack before it is
        // journaled and synced.
        eprintln!("skipping: nats-server does not keep consumer state across a kill -9");
        return;
    }
    let mut t = Js::start().await;
    let before = prepare_restart(&t).await;
    t.server.child.kill().expect("SIGKILL");
    t.server.child.wait().expect("the server is gone");
    let (_server, _client, js) = start_in(&t.dir).await;
    check_after_restart(&js, &before).await;
}

#[tokio::test]
async fn a_double_acked_message_is_never_redelivered_after_kill_9() {
    if against_reference() {
        // nats-server writes consumer state behind its acks, from a flusher: after a kill -9 it
        // forgets acks it answered and deliveries it made. Strom answers no ack before it is
        // journaled and synced.
        eprintln!("skipping: nats-server does not keep consumer state across a kill -9");
        return;
    }
    let mut t = Js::start().await;
    let stream = add_stream(&t.js, config("K9", &["k9.>"])).await;
    publish_n(&t.js, "k9.x", "m", 40).await;
    let c = add_pull(
        &stream,
        pull::Config {
            ack_wait: Duration::from_millis(200),
            ..durable("C")
        },
    )
    .await;
    let msgs = fetch(&c, 40).await;
    assert_eq!(msgs.len(), 40);
    // Acks with replies, interleaved with acks without: kill right after the last reply.
    let mut acked = BTreeSet::new();
    for (k, m) in msgs.iter().enumerate() {
        match k % 3 {
            0 => {
                m.double_ack().await.expect("ack answered");
                acked.insert(meta(m).0);
            }
            1 => m.ack().await.expect("ack sent"),
            _ => {}
        }
    }
    t.server.child.kill().expect("SIGKILL");
    t.server.child.wait().expect("the server is gone");

    let (_server, _client, js) = start_in(&t.dir).await;
    let stream = js.get_stream("K9").await.expect("the stream is back");
    let c = stream
        .get_consumer::<pull::Config>("C")
        .await
        .expect("consumer");
    let unacked: BTreeSet<u64> = (1..=40u64).filter(|s| (s - 1) % 3 == 2).collect();
    let mut redelivered = BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(3);
    while !unacked.is_subset(&redelivered) && Instant::now() < deadline {
        for m in batch(&c, 40, Duration::from_millis(400)).await {
            let seq = meta(&m).0;
            assert!(
                !acked.contains(&seq),
                "{seq} was acked with a reply, and came again"
            );
            redelivered.insert(seq);
            m.double_ack().await.expect("ack");
        }
    }
    assert!(
        unacked.is_subset(&redelivered),
        "every unacked message comes again: {unacked:?} vs {redelivered:?}"
    );
}
