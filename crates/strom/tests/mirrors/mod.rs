//! Helpers for the mirror and source tests (`js_mirrors.rs`): a server with JetStream that can
//! be stopped and restarted on its store, raw JetStream API requests answered as JSON, stored
//! messages read back with STREAM.MSG.GET and their headers decoded, and polls with deadlines.
//!
//! The tests go through the raw API for most stream work because async-nats 0.42's
//! `SourceInfo` lacks `seq` and `error`, and its `HeaderMap` does not keep the header order that
//! the `Nats-Stream-Source` checks depend on.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use async_nats::jetstream::consumer::PullConsumer;
use async_nats::jetstream::{self, Context};
use async_nats::HeaderMap;
use bytes::Bytes;
use futures::StreamExt;
use serde_json::{json, Value};

use crate::common::{poll_async, ServerProcess, TempDir};

/// How long a mirror or source has to catch up on a healthy origin. nats-server starts them
/// 100-200 ms after the create and delivers everything at once.
pub const CATCH_UP: Duration = Duration::from_secs(5);

/// A server with JetStream storing in its own directory, and a client of it.
pub struct Js {
    pub server: ServerProcess,
    pub client: async_nats::Client,
    pub js: Context,
    pub dir: TempDir,
}

impl Js {
    pub async fn start() -> Js {
        let dir = TempDir::new("js-mirrors");
        let server = start_server(&dir);
        let (client, js) = connect(&server).await;
        Js {
            server,
            client,
            js,
            dir,
        }
    }

    /// Stops the server with `signal` (TERM for a clean shutdown, KILL for a crash), starts it
    /// again on the same store and reconnects.
    pub async fn restart(&mut self, signal: &str) {
        self.server.signal(signal);
        self.server
            .wait_exit(Duration::from_secs(10))
            .unwrap_or_else(|| panic!("the server exits on SIG{signal}"));
        self.server = start_server(&self.dir);
        let (client, js) = connect(&self.server).await;
        self.client = client;
        self.js = js;
    }
}

fn start_server(dir: &TempDir) -> ServerProcess {
    let store = dir.0.to_str().expect("temp dir path is UTF-8");
    ServerProcess::strom(&["-js", "-sd", store])
}

async fn connect(server: &ServerProcess) -> (async_nats::Client, Context) {
    let client = async_nats::connect(server.url()).await.expect("connect");
    let js = jetstream::new(client.clone());
    (client, js)
}

/// A JetStream API request; the JSON answer.
///
/// A `Value::Null` body is sent as an empty payload (STREAM.DELETE insists on one).
pub async fn api(client: &async_nats::Client, subject: &str, body: Value) -> Value {
    let payload = if body.is_null() {
        Bytes::new()
    } else {
        body.to_string().into()
    };
    let reply = tokio::time::timeout(
        Duration::from_secs(5),
        client.request(subject.to_string(), payload),
    )
    .await
    .unwrap_or_else(|_| panic!("{subject} answers in time"))
    .unwrap_or_else(|e| panic!("{subject} answers: {e}"));
    serde_json::from_slice(&reply.payload).expect("the answer is JSON")
}

/// STREAM.CREATE with a raw configuration; the whole answer, which must not be an error.
pub async fn create(client: &async_nats::Client, cfg: Value) -> Value {
    let name = cfg["name"].as_str().expect("config has a name").to_string();
    let v = api(client, &format!("$JS.API.STREAM.CREATE.{name}"), cfg).await;
    assert!(v["error"].is_null(), "stream {name} is created: {v}");
    v
}

/// STREAM.UPDATE with a raw configuration; the whole answer, error or not.
pub async fn update(client: &async_nats::Client, cfg: Value) -> Value {
    let name = cfg["name"].as_str().expect("config has a name").to_string();
    api(client, &format!("$JS.API.STREAM.UPDATE.{name}"), cfg).await
}

/// STREAM.INFO; the whole answer, which must not be an error.
pub async fn info(client: &async_nats::Client, stream: &str) -> Value {
    let v = api(
        client,
        &format!("$JS.API.STREAM.INFO.{stream}"),
        Value::Null,
    )
    .await;
    assert!(v["error"].is_null(), "info of {stream}: {v}");
    v
}

/// Polls STREAM.INFO until `done` holds, failing with `what` and the last answer after `within`.
pub async fn wait_info(
    client: &async_nats::Client,
    stream: &str,
    within: Duration,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let v = info(client, stream).await;
        if done(&v) {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "{what} (within {within:?}); last info of {stream}: {v}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until `stream` holds `n` messages and its last sequence is `last_seq`.
pub async fn wait_caught_up(client: &async_nats::Client, stream: &str, n: u64, last_seq: u64) {
    wait_info(
        client,
        stream,
        CATCH_UP,
        &format!("{stream} holds {n} messages up to seq {last_seq}"),
        |v| v["state"]["messages"] == n && v["state"]["last_seq"] == last_seq,
    )
    .await;
}

/// Waits until `stream` holds `n` messages.
pub async fn wait_count(client: &async_nats::Client, stream: &str, n: u64) -> Value {
    wait_info(
        client,
        stream,
        CATCH_UP,
        &format!("{stream} holds {n} messages"),
        |v| v["state"]["messages"] == n,
    )
    .await
}

/// Publishes with `headers` (in no particular order: async-nats keeps them in a hash map) and
/// waits for the PubAck; returns the sequence.
pub async fn publish(js: &Context, subject: &str, headers: &[(&str, &str)], payload: &str) -> u64 {
    let mut map = HeaderMap::new();
    for (k, v) in headers {
        map.append(*k, *v);
    }
    let publish = jetstream::context::Publish::build()
        .payload(Bytes::copy_from_slice(payload.as_bytes()))
        .headers(map);
    js.send_publish(subject.to_string(), publish)
        .await
        .expect("publish is sent")
        .await
        .unwrap_or_else(|e| panic!("publish to {subject} is acknowledged: {e}"))
        .sequence
}

/// Publishes a plain message; returns the sequence.
pub async fn put(js: &Context, subject: &str, payload: &str) -> u64 {
    publish(js, subject, &[], payload).await
}

/// A message as STREAM.MSG.GET returns it, headers and payload decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    pub seq: u64,
    pub subject: String,
    /// The header block as stored (`NATS/1.0\r\n...\r\n\r\n`), or empty.
    pub hdrs: String,
    pub data: String,
    pub time: String,
    /// The `message` object of the answer, verbatim.
    pub raw: Value,
}

impl Stored {
    /// The value of the `Nats-Stream-Source` header line, if there is one.
    pub fn stream_source(&self) -> Option<&str> {
        header_line(&self.hdrs, "Nats-Stream-Source")
    }

    /// The fields of `Nats-Stream-Source`: `<origin> <seq> <src> <dest> <subject> <identity>`.
    pub fn source_fields(&self) -> Vec<&str> {
        self.stream_source()
            .unwrap_or_else(|| panic!("seq {} has a Nats-Stream-Source: {self:?}", self.seq))
            .split(' ')
            .collect()
    }

    /// The origin sequence named by `Nats-Stream-Source`.
    pub fn origin_seq(&self) -> u64 {
        self.source_fields()[1]
            .parse()
            .expect("the origin sequence is a number")
    }
}

/// The value of header `name` in a raw header block.
pub fn header_line<'a>(hdrs: &'a str, name: &str) -> Option<&'a str> {
    hdrs.split("\r\n")
        .skip(1)
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(": "))
}

/// STREAM.MSG.GET of one sequence; the whole answer (a message or an error).
pub async fn raw_get(client: &async_nats::Client, stream: &str, seq: u64) -> Value {
    api(
        client,
        &format!("$JS.API.STREAM.MSG.GET.{stream}"),
        json!({ "seq": seq }),
    )
    .await
}

/// STREAM.MSG.GET of one sequence, which must be there.
pub async fn get(client: &async_nats::Client, stream: &str, seq: u64) -> Stored {
    let v = raw_get(client, stream, seq).await;
    assert!(v["error"].is_null(), "{stream} holds seq {seq}: {v}");
    decode(&v["message"])
}

pub fn decode(m: &Value) -> Stored {
    let text = |key: &str| {
        m[key]
            .as_str()
            .map(|s| String::from_utf8(b64(s)).expect("UTF-8 in the test's messages"))
            .unwrap_or_default()
    };
    Stored {
        seq: m["seq"].as_u64().expect("seq"),
        subject: m["subject"].as_str().expect("subject").to_string(),
        hdrs: text("hdrs"),
        data: text("data"),
        time: m["time"].as_str().expect("time").to_string(),
        raw: m.clone(),
    }
}

/// Every message `stream` holds, in sequence order, read one by one with STREAM.MSG.GET.
pub async fn messages(client: &async_nats::Client, stream: &str) -> Vec<Stored> {
    let state = info(client, stream).await["state"].clone();
    let (first, last) = (
        state["first_seq"].as_u64().expect("first_seq"),
        state["last_seq"].as_u64().expect("last_seq"),
    );
    let mut out = Vec::new();
    for seq in first.max(1)..=last {
        let v = raw_get(client, stream, seq).await;
        if v["error"]["err_code"] == 10037 {
            continue; // deleted
        }
        assert!(v["error"].is_null(), "{stream} seq {seq}: {v}");
        out.push(decode(&v["message"]));
    }
    out
}

/// Standard base64 (with padding), as the JetStream API encodes `hdrs` and `data`.
pub fn b64(s: &str) -> Vec<u8> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes().filter(|&c| c != b'=') {
        let v = ALPHABET
            .iter()
            .position(|&a| a == c)
            .unwrap_or_else(|| panic!("{c:?} is a base64 character in {s:?}"));
        acc = (acc << 6) | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

/// The header block with every line starting with `prefix` left out (as a sourcing stream
/// strips `Nats-Expected-*`).
pub fn without_lines(hdrs: &str, prefix: &str) -> String {
    hdrs.split_inclusive("\r\n")
        .filter(|l| !l.starts_with(prefix))
        .collect()
}

/// The header block with `line` appended as its last header (as `Nats-Stream-Source` is).
pub fn with_last_line(hdrs: &str, line: &str) -> String {
    let head = if hdrs.is_empty() {
        "NATS/1.0\r\n\r\n"
    } else {
        hdrs
    };
    let body = head
        .strip_suffix("\r\n")
        .expect("a header block ends with an empty line");
    format!("{body}{line}\r\n\r\n")
}

/// Asserts that `ident` looks like a stream identity: 8 base62 characters (a hash of the
/// origin's creation time, which a test cannot predict).
#[track_caller]
pub fn assert_identity(ident: &str) {
    assert!(
        ident.len() == 8 && ident.bytes().all(|b| b.is_ascii_alphanumeric()),
        "a stream identity is 8 base62 characters: {ident:?}"
    );
}

/// An RFC 3339 timestamp with its fraction padded to nanoseconds, so that two can be compared
/// as strings (both in UTC, as the API writes them).
pub fn nanos_time(t: &str) -> String {
    let t = t.strip_suffix('Z').expect("a UTC timestamp");
    let (whole, frac) = t.split_once('.').unwrap_or((t, ""));
    format!("{whole}.{frac:0<9}Z")
}

/// `active` of a mirror or source block, in nanoseconds (-1 before anything was received).
pub fn active(block: &Value) -> i64 {
    block["active"]
        .as_i64()
        .unwrap_or_else(|| panic!("active is a number: {block}"))
}

/// The `sources` blocks of an info, sorted by origin name and then filter, since nats-server
/// lists them in random order.
pub fn sources(info: &Value) -> Vec<Value> {
    let mut s = info["sources"]
        .as_array()
        .unwrap_or_else(|| panic!("info has sources: {info}"))
        .clone();
    s.sort_by_key(|b| (b["name"].to_string(), b["filter_subject"].to_string()));
    s
}

/// `block` without its `active` field, which changes with every look.
pub fn without_active(block: &Value) -> Value {
    let mut b = block.clone();
    b.as_object_mut()
        .expect("a source block is an object")
        .remove("active");
    b
}

/// Asserts that `copy` holds exactly what `origin` holds: the same STREAM.MSG.GET answers
/// (sequence, subject, headers byte for byte, payload and time).
pub async fn assert_same_messages(client: &async_nats::Client, origin: &str, copy: &str) {
    let o = messages(client, origin).await;
    let m = messages(client, copy).await;
    assert_eq!(
        m.iter().map(|s| s.seq).collect::<Vec<_>>(),
        o.iter().map(|s| s.seq).collect::<Vec<_>>(),
        "{copy} holds the sequences of {origin}"
    );
    for (a, b) in o.iter().zip(&m) {
        assert_eq!(b.raw, a.raw, "{copy} seq {} is {origin}'s verbatim", a.seq);
        assert!(
            b.stream_source().is_none(),
            "a mirror adds no Nats-Stream-Source: {b:?}"
        );
    }
}

/// The stream config part of an info.
pub fn config_of(v: &Value) -> &serde_json::Map<String, Value> {
    v["config"].as_object().expect("info has a config")
}

/// Asserts that a JetStream API answer is the error `(code, err_code, description)`.
#[track_caller]
pub fn assert_api_error(v: &Value, code: u64, err_code: u64, description: &str) {
    assert_eq!(
        v["error"],
        json!({"code": code, "err_code": err_code, "description": description}),
        "whole answer: {v}"
    );
}

/// STREAM.DELETE, which must succeed.
pub async fn delete_stream(client: &async_nats::Client, name: &str) {
    let v = api(
        client,
        &format!("$JS.API.STREAM.DELETE.{name}"),
        Value::Null,
    )
    .await;
    assert_eq!(v["success"], true, "stream {name} is deleted: {v}");
}

/// The sourced copy of `orig` must be the same message on `subject` with its Nats-Expected-*
/// headers dropped and `Nats-Stream-Source: <prefix> <subject of orig> <identity>` appended,
/// stored later; returns the identity.
#[track_caller]
pub fn assert_sourced(copy: &Stored, orig: &Stored, subject: &str, prefix: &str) -> String {
    let fields = copy.source_fields();
    assert_eq!(fields.len(), 6, "six fields in {:?}", copy.stream_source());
    let ident = fields[5].to_string();
    assert_identity(&ident);
    let line = format!("Nats-Stream-Source: {prefix} {} {ident}", orig.subject);
    assert_eq!(
        copy.hdrs,
        with_last_line(&without_lines(&orig.hdrs, "Nats-Expected-"), &line),
        "headers of the copy of {orig:?}"
    );
    assert_eq!(copy.subject, subject, "subject of the copy of {orig:?}");
    assert_eq!(copy.data, orig.data, "payload of the copy of {orig:?}");
    assert!(
        nanos_time(&copy.time) > nanos_time(&orig.time),
        "a sourced message gets a new, later time: {} vs {}",
        copy.time,
        orig.time
    );
    ident
}

/// `m` as if it had no `Nats-Stream-Source` header.
pub fn without_source(m: &Stored) -> Stored {
    Stored {
        hdrs: without_lines(&m.hdrs, "Nats-Stream-Source:"),
        ..m.clone()
    }
}

/// STREAM.MSG.GET of the last message on `subject`; the whole answer (a message or an error).
pub async fn raw_get_last(client: &async_nats::Client, stream: &str, subject: &str) -> Value {
    api(
        client,
        &format!("$JS.API.STREAM.MSG.GET.{stream}"),
        json!({ "last_by_subj": subject }),
    )
    .await
}

/// Waits until `stream` holds a message on `subject`.
pub async fn wait_subject(client: &async_nats::Client, stream: &str, subject: &str) {
    poll_async(CATCH_UP, || async {
        raw_get_last(client, stream, subject).await["error"]
            .is_null()
            .then_some(())
    })
    .await
    .unwrap_or_else(|| panic!("{stream} gets a message on {subject}"));
}

/// Publishes with a window of acknowledgements in flight until the connection fails; signals
/// `ready` after `kill_after` acknowledgements; returns the acknowledged sequences.
pub async fn publish_until_killed(
    url: String,
    kill_after: usize,
    ready: tokio::sync::oneshot::Sender<()>,
) -> BTreeMap<u64, String> {
    let client = async_nats::connect(url).await.expect("connects");
    let mut js = async_nats::jetstream::new(client);
    js.set_timeout(Duration::from_millis(300));
    let mut ready = Some(ready);
    let mut acked = BTreeMap::new();
    let mut inflight = futures::stream::FuturesUnordered::new();
    for n in 0u64.. {
        while inflight.len() < 32 {
            let payload = format!("message {n} {}", "x".repeat((n % 100) as usize));
            match js
                .publish(format!("o.{}", n % 7), payload.clone().into())
                .await
            {
                Ok(ack) => inflight.push(async move { (ack.await, payload) }),
                Err(_) => return acked,
            }
        }
        match inflight.next().await {
            Some((Ok(ack), payload)) => {
                acked.insert(ack.sequence, payload);
                if acked.len() >= kill_after {
                    if let Some(r) = ready.take() {
                        let _ = r.send(());
                    }
                }
            }
            _ => return acked,
        }
    }
    acked
}

/// (origin, origin seq) of every sourced message in `stream`, in stored order.
pub async fn sourced_from(client: &async_nats::Client, stream: &str) -> Vec<(String, u64)> {
    messages(client, stream)
        .await
        .iter()
        .map(|m| (m.source_fields()[0].to_string(), m.origin_seq()))
        .collect()
}

/// The origin sequences sourced from `origin`, in stored order.
pub fn only(from: &[(String, u64)], origin: &str) -> Vec<u64> {
    from.iter()
        .filter(|(o, _)| o == origin)
        .map(|(_, s)| *s)
        .collect()
}

/// A pull of up to `n` messages that waits up to three seconds for the first one.
pub async fn pull_batch(c: &PullConsumer, n: usize) -> Vec<async_nats::jetstream::Message> {
    let mut batch = c
        .batch()
        .max_messages(n)
        .expires(Duration::from_secs(3))
        .messages()
        .await
        .expect("pull request");
    let mut out = Vec::new();
    while let Some(m) = tokio::time::timeout(Duration::from_secs(6), batch.next())
        .await
        .expect("the pull ends in time")
    {
        out.push(m.expect("a message"));
        if out.len() == n {
            break;
        }
    }
    out
}
