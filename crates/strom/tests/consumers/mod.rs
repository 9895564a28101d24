//! Helpers shared by the consumer tests (`js_consumers.rs`, `js_consumers_push.rs`): a
//! server with JetStream and a client of it, stream and consumer shorthands, raw pull
//! requests and their status frames, advisories, and polls with deadlines.

#![allow(dead_code)]

use std::time::{Duration, Instant};

use async_nats::jetstream::consumer::{self, pull, AckPolicy, PullConsumer};
use async_nats::jetstream::stream::Config;
use async_nats::jetstream::{self, Context};
use bytes::Bytes;
use futures::StreamExt;
use serde_json::{json, Value};

use crate::common::{next_msg, sync, ServerProcess, TempDir};

pub type JsStream = jetstream::stream::Stream;

/// A server with JetStream on, storing in its own directory, and a client of it.
pub struct Js {
    pub server: ServerProcess,
    pub client: async_nats::Client,
    pub js: Context,
    pub dir: TempDir,
}

impl Js {
    pub async fn start() -> Js {
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
pub async fn start_in(dir: &TempDir) -> (ServerProcess, async_nats::Client, Context) {
    let store = dir.0.to_str().expect("temp dir path is UTF-8");
    let server = ServerProcess::strom(&["-js", "-sd", store]);
    let client = async_nats::connect(server.url()).await.expect("connect");
    let js = jetstream::new(client.clone());
    (server, client, js)
}

pub fn against_reference() -> bool {
    std::env::var("STROM_TEST_AGAINST_REFERENCE").is_ok_and(|v| v == "1")
}

/// A stream configuration with a name and subjects, the rest left to the server's defaults.
pub fn config(name: &str, subjects: &[&str]) -> Config {
    Config {
        name: name.to_string(),
        subjects: subjects.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

pub async fn add_stream(js: &Context, cfg: Config) -> JsStream {
    let name = cfg.name.clone();
    js.create_stream(cfg)
        .await
        .unwrap_or_else(|e| panic!("stream {name} is created: {e}"))
}

/// Publishes and waits for the PubAck; returns the stream sequence.
pub async fn publish(js: &Context, subject: &str, payload: impl Into<Bytes>) -> u64 {
    js.publish(subject.to_string(), payload.into())
        .await
        .expect("publish is sent")
        .await
        .unwrap_or_else(|e| panic!("publish to {subject} is acknowledged: {e}"))
        .sequence
}

/// Publishes `n` messages `<prefix>1` .. `<prefix>n` to `subject`.
pub async fn publish_n(js: &Context, subject: &str, prefix: &str, n: usize) {
    for i in 1..=n {
        publish(js, subject, format!("{prefix}{i}")).await;
    }
}

/// A durable pull consumer with explicit acks.
pub fn durable(name: &str) -> pull::Config {
    pull::Config {
        durable_name: Some(name.to_string()),
        ack_policy: AckPolicy::Explicit,
        ..Default::default()
    }
}

pub async fn add_pull(stream: &JsStream, cfg: pull::Config) -> PullConsumer {
    stream
        .create_consumer(cfg)
        .await
        .unwrap_or_else(|e| panic!("pull consumer is created: {e}"))
}

pub async fn cinfo(stream: &JsStream, name: &str) -> consumer::Info {
    stream
        .consumer_info(name)
        .await
        .unwrap_or_else(|e| panic!("consumer {name} exists: {e}"))
}

/// Polls a consumer's info until `done` holds (nats-server settles some counts after a plain
/// ack asynchronously), failing after three seconds.
pub async fn wait_consumer(
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
pub async fn wait_messages(js: &Context, stream: &str, count: u64, what: &str) {
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
pub async fn fetch(c: &PullConsumer, n: usize) -> Vec<jetstream::Message> {
    let batch = c
        .fetch()
        .max_messages(n)
        .messages()
        .await
        .expect("fetch request is sent");
    collect(batch, Duration::from_secs(5)).await
}

/// A waiting batch: up to `n` messages, ending when `expires` is up.
pub async fn batch(c: &PullConsumer, n: usize, expires: Duration) -> Vec<jetstream::Message> {
    let batch = c
        .batch()
        .max_messages(n)
        .expires(expires)
        .messages()
        .await
        .expect("batch request is sent");
    collect(batch, expires + Duration::from_secs(3)).await
}

pub async fn collect(mut batch: pull::Batch, within: Duration) -> Vec<jetstream::Message> {
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
pub fn meta(m: &jetstream::Message) -> (u64, u64, i64, u64) {
    let i = m.info().expect("a JetStream message");
    (
        i.stream_sequence,
        i.consumer_sequence,
        i.delivered,
        i.pending,
    )
}

pub fn seqs(msgs: &[jetstream::Message]) -> Vec<u64> {
    msgs.iter().map(|m| meta(m).0).collect()
}

pub fn payload(m: &async_nats::Message) -> &str {
    std::str::from_utf8(&m.payload).expect("payload is UTF-8")
}

pub fn floor(i: &consumer::Info) -> (u64, u64) {
    (i.ack_floor.consumer_sequence, i.ack_floor.stream_sequence)
}

pub fn delivered(i: &consumer::Info) -> (u64, u64) {
    (i.delivered.consumer_sequence, i.delivered.stream_sequence)
}

/// A JetStream API request; the JSON answer.
pub async fn api(client: &async_nats::Client, subject: &str, body: Value) -> Value {
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
pub fn assert_api_error(v: &Value, code: u64, err_code: u64, description: &str) {
    assert_eq!(
        v["error"],
        json!({"code": code, "err_code": err_code, "description": description}),
        "whole answer: {v}"
    );
}

/// Sends a raw pull request (`CONSUMER.MSG.NEXT`) whose answers come to a fresh inbox.
pub async fn raw_pull(
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
pub fn status(m: &async_nats::Message) -> Option<(u16, String)> {
    m.status.map(|s| {
        (
            s.as_u16(),
            m.description.clone().unwrap_or_default().to_string(),
        )
    })
}

pub fn header<'a>(m: &'a async_nats::Message, name: &str) -> Option<&'a str> {
    let name: async_nats::HeaderName = name.parse().expect("a header name");
    m.headers.as_ref()?.get(name).map(|v| v.as_str())
}

/// The next frame on `sub`, which must be a status `code` with `description`.
pub async fn expect_status(sub: &mut async_nats::Subscriber, code: u16, description: &str) {
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
pub async fn advisories(client: &async_nats::Client, subject: &str) -> async_nats::Subscriber {
    let sub = client
        .subscribe(subject.to_string())
        .await
        .expect("subscribes");
    sync(client).await;
    sub
}

pub async fn next_json(sub: &mut async_nats::Subscriber) -> (String, Value) {
    let m = next_msg(sub).await;
    let v = serde_json::from_slice(&m.payload).expect("an advisory is JSON");
    (m.subject.to_string(), v)
}

// ---------------------------------------------------------------------------------------------
// 1. Pull requests
// ---------------------------------------------------------------------------------------------
