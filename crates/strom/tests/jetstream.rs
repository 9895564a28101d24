//! JetStream streams through the real `strom` binary with the `async-nats` client: stream
//! configuration, publishing with PubAcks and the publish headers, limits, getting and deleting
//! messages, purges, persistence across a crash, account info and account limits.
//!
//! Every test also runs against nats-server (`STROM_TEST_AGAINST_REFERENCE=1`), which proves
//! it checks what nats-server really does. Consumers are covered by `js_consumers.rs`.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::fmt::Display;
use std::time::{Duration, Instant};

use async_nats::header;
use async_nats::jetstream::context::{CreateStreamErrorKind, Publish};
use async_nats::jetstream::publish::PublishAck;
use async_nats::jetstream::stream::{
    Compression, Config, DirectGetErrorKind, DiscardPolicy, Info, LastRawMessageErrorKind,
    RetentionPolicy, StorageType,
};
use async_nats::jetstream::{self, Context};
use bytes::Bytes;
use common::{ServerProcess, TempDir};
use futures::{StreamExt, TryStreamExt};
use serde_json::json;

/// A server with JetStream on, storing in its own directory, and a client of it.
struct Js {
    server: ServerProcess,
    client: async_nats::Client,
    js: Context,
    dir: TempDir,
}

impl Js {
    async fn start() -> Js {
        let dir = TempDir::new("js");
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

/// A stream configuration with a name and subjects, the rest left to the server's defaults.
fn config(name: &str, subjects: &[&str]) -> Config {
    Config {
        name: name.to_string(),
        subjects: subjects.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

async fn create(js: &Context, cfg: Config) -> jetstream::stream::Stream {
    let name = cfg.name.clone();
    js.create_stream(cfg)
        .await
        .unwrap_or_else(|e| panic!("stream {name} is created: {e}"))
}

async fn info(js: &Context, name: &str) -> Info {
    js.get_stream(name)
        .await
        .unwrap_or_else(|e| panic!("stream {name} exists: {e}"))
        .info()
        .await
        .expect("stream info")
        .clone()
}

/// Publishes and waits for the PubAck (or the error the server answered).
async fn try_publish(
    js: &Context,
    subject: &str,
    publish: Publish,
) -> Result<PublishAck, jetstream::context::PublishError> {
    js.send_publish(subject.to_string(), publish)
        .await
        .expect("publish is sent")
        .await
}

async fn publish(js: &Context, subject: &str, payload: &str) -> PublishAck {
    try_publish(
        js,
        subject,
        Publish::build().payload(Bytes::copy_from_slice(payload.as_bytes())),
    )
    .await
    .unwrap_or_else(|e| panic!("publish to {subject} is acknowledged: {e}"))
}

fn payload(s: &str) -> Publish {
    Publish::build().payload(Bytes::copy_from_slice(s.as_bytes()))
}

/// Asserts an async-nats error carries the JetStream API error `(code, err_code,
/// description)`: async-nats shows it as `<description> (code <code>, error code <err_code>)`.
#[track_caller]
fn assert_api_error(err: impl Display, code: u16, err_code: u32, description: &str) {
    let text = err.to_string();
    let want = format!("{description} (code {code}, error code {err_code})");
    assert!(
        text.ends_with(&want),
        "expected API error {want:?}, got {text:?}"
    );
}

/// Polls the stream's info until `done` holds, failing after `within`.
async fn wait_for_info(
    js: &Context,
    name: &str,
    within: Duration,
    done: impl Fn(&Info) -> bool,
) -> Info {
    let deadline = Instant::now() + within;
    loop {
        let i = info(js, name).await;
        if done(&i) {
            return i;
        }
        assert!(
            Instant::now() < deadline,
            "stream {name} did not reach the expected state within {within:?}: {:?}",
            i.state
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn text(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).expect("payload is UTF-8")
}

// ---------------------------------------------------------------------------------------------
// 1. Stream configuration
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn create_reports_every_option_in_stream_info() {
    let t = Js::start().await;
    let cfg = Config {
        name: "OPTS".into(),
        description: Some("every option".into()),
        subjects: vec!["opts.*.created".into(), "audit.>".into()],
        retention: RetentionPolicy::Limits,
        max_messages: 100,
        max_bytes: 1_000_000,
        max_age: Duration::from_secs(60),
        max_messages_per_subject: 10,
        max_message_size: 1024,
        discard: DiscardPolicy::New,
        discard_new_per_subject: true,
        storage: StorageType::Memory,
        no_ack: true,
        duplicate_window: Duration::from_secs(30),
        deny_delete: true,
        deny_purge: true,
        metadata: HashMap::from([("owner".to_string(), "team-a".to_string())]),
        first_sequence: Some(100),
        ..Default::default()
    };
    create(&t.js, cfg).await;
    let i = info(&t.js, "OPTS").await;
    let c = &i.config;
    assert_eq!(c.name, "OPTS");
    assert_eq!(c.description.as_deref(), Some("every option"));
    assert_eq!(c.subjects, vec!["opts.*.created", "audit.>"]);
    assert_eq!(c.retention, RetentionPolicy::Limits);
    assert_eq!(c.max_messages, 100);
    assert_eq!(c.max_bytes, 1_000_000);
    assert_eq!(c.max_age, Duration::from_secs(60));
    assert_eq!(c.max_messages_per_subject, 10);
    assert_eq!(c.max_message_size, 1024);
    assert_eq!(c.discard, DiscardPolicy::New);
    assert!(c.discard_new_per_subject);
    assert_eq!(c.storage, StorageType::Memory);
    assert!(c.no_ack);
    assert_eq!(c.duplicate_window, Duration::from_secs(30));
    assert!(c.deny_delete);
    assert!(c.deny_purge);
    assert!(!c.allow_rollup);
    assert!(!c.allow_direct);
    assert!(!c.allow_message_ttl);
    assert_eq!(c.num_replicas, 1);
    assert_eq!(c.first_sequence, Some(100));
    assert_eq!(c.metadata.get("owner").map(String::as_str), Some("team-a"));
    assert_eq!(
        c.metadata.get("_nats.req.level").map(String::as_str),
        Some("0")
    );
    // An empty stream that starts at 100.
    assert_eq!(i.state.messages, 0);
    assert_eq!(i.state.first_sequence, 100);
    assert_eq!(i.state.last_sequence, 99);

    // no_ack: a plain publish is stored (at the first sequence), and nothing answers.
    t.client
        .publish("opts.eu.created", Bytes::from_static(b"x"))
        .await
        .expect("publish");
    common::sync(&t.client).await;
    let i = wait_for_info(&t.js, "OPTS", Duration::from_secs(1), |i| {
        i.state.messages == 1
    })
    .await;
    assert_eq!((i.state.first_sequence, i.state.last_sequence), (100, 100));
}

#[tokio::test]
async fn create_reports_rollup_direct_ttl_and_retention_options() {
    let t = Js::start().await;
    create(
        &t.js,
        Config {
            allow_rollup: true,
            allow_direct: true,
            allow_message_ttl: true,
            retention: RetentionPolicy::WorkQueue,
            ..config("FEAT", &["feat.>"])
        },
    )
    .await;
    create(
        &t.js,
        Config {
            retention: RetentionPolicy::Interest,
            ..config("INTEREST", &["interest.>"])
        },
    )
    .await;
    let c = info(&t.js, "FEAT").await.config;
    assert!(c.allow_rollup);
    assert!(c.allow_direct);
    assert!(c.allow_message_ttl);
    assert!(!c.deny_delete && !c.deny_purge);
    assert_eq!(c.retention, RetentionPolicy::WorkQueue);
    // Per-message TTLs need API level 1.
    assert_eq!(
        c.metadata.get("_nats.req.level").map(String::as_str),
        Some("1")
    );
    let c = info(&t.js, "INTEREST").await.config;
    assert_eq!(c.retention, RetentionPolicy::Interest);
}

#[tokio::test]
async fn create_fills_in_the_server_defaults() {
    let t = Js::start().await;
    // async-nats sends zeros for the limits it was not given; the server reads them as unset.
    create(&t.js, config("DEF", &[])).await;
    let i = info(&t.js, "DEF").await;
    let c = &i.config;
    assert_eq!(c.subjects, vec!["DEF"], "subjects default to the name");
    assert_eq!(c.retention, RetentionPolicy::Limits);
    assert_eq!(c.max_consumers, -1);
    assert_eq!(c.max_messages, -1);
    assert_eq!(c.max_bytes, -1);
    assert_eq!(c.max_messages_per_subject, -1);
    assert_eq!(c.max_message_size, -1);
    assert_eq!(c.max_age, Duration::ZERO);
    assert_eq!(c.discard, DiscardPolicy::Old);
    assert_eq!(c.storage, StorageType::File);
    assert_eq!(c.num_replicas, 1);
    assert_eq!(c.duplicate_window, Duration::from_secs(120));
    assert_eq!(c.compression, Some(Compression::None));
    assert_eq!(c.first_sequence, None);
    assert_eq!(i.state.messages, 0);
    assert_eq!((i.state.first_sequence, i.state.last_sequence), (0, 0));
    // A short max_age also caps the duplicate window.
    create(
        &t.js,
        Config {
            max_age: Duration::from_secs(1),
            ..config("AGE", &["age"])
        },
    )
    .await;
    let c = info(&t.js, "AGE").await.config;
    assert_eq!(c.duplicate_window, Duration::from_secs(1));
}

#[tokio::test]
async fn create_again_with_the_same_config_is_idempotent() {
    let t = Js::start().await;
    let first = create(&t.js, config("ORDERS", &["orders.>"])).await;
    publish(&t.js, "orders.a", "one").await;
    let again = create(&t.js, config("ORDERS", &["orders.>"])).await;
    assert_eq!(again.cached_info().created, first.cached_info().created);
    assert_eq!(again.cached_info().state.messages, 1, "the stream is kept");
    let names: Vec<String> =
        t.js.stream_names()
            .try_collect()
            .await
            .expect("stream names");
    assert_eq!(names, vec!["ORDERS"]);
}

#[tokio::test]
async fn create_with_a_different_config_is_refused() {
    let t = Js::start().await;
    create(&t.js, config("ORDERS", &["orders.>"])).await;
    let err =
        t.js.create_stream(Config {
            max_messages: 10,
            ..config("ORDERS", &["orders.>"])
        })
        .await
        .expect_err("a different config under the same name is refused");
    assert_api_error(
        err,
        400,
        10058,
        "stream name already in use with a different configuration",
    );
    assert_eq!(info(&t.js, "ORDERS").await.config.max_messages, -1);
}

#[tokio::test]
async fn create_with_overlapping_subjects_is_refused() {
    let t = Js::start().await;
    create(&t.js, config("ORDERS", &["orders.>"])).await;
    for subjects in [&["orders.new"][..], &["orders.*"], &["other", "orders.*.x"]] {
        let err =
            t.js.create_stream(config("OTHER", subjects))
                .await
                .expect_err("overlapping subjects are refused");
        assert_api_error(err, 400, 10065, "subjects overlap with an existing stream");
    }
    create(&t.js, config("OTHER", &["order.>"])).await;
}

#[tokio::test]
async fn create_with_system_subjects_needs_no_ack() {
    let t = Js::start().await;
    let cases = [
        (
            "*.new",
            "subjects that overlap with jetstream api require no-ack to be true",
        ),
        (
            "$JS.x",
            "subjects that overlap with jetstream api require no-ack to be true",
        ),
        (
            "$JSC.x",
            "subjects that overlap with jetstream api require no-ack to be true",
        ),
        (
            "$SYS.x",
            "subjects that overlap with system api require no-ack to be true",
        ),
        (">", "capturing all subjects requires no-ack to be true"),
    ];
    for (n, (subject, why)) in cases.into_iter().enumerate() {
        let err =
            t.js.create_stream(config(&format!("SYS{n}"), &[subject]))
                .await
                .expect_err(why);
        assert_api_error(err, 500, 10052, why);
    }
    for (n, subject) in ["$JS.x", "$SYS.x", "*.new"].into_iter().enumerate() {
        create(
            &t.js,
            Config {
                no_ack: true,
                ..config(&format!("NOACK{n}"), &[subject])
            },
        )
        .await;
    }
    // Subjects that merely look alike are fine.
    create(&t.js, config("KVLIKE", &["$KV.x", "_INBOX.x"])).await;
}

#[tokio::test]
async fn create_with_three_replicas_is_refused_on_a_single_server() {
    let t = Js::start().await;
    let err =
        t.js.create_stream(Config {
            num_replicas: 3,
            ..config("R3", &["r3"])
        })
        .await
        .expect_err("replicas are refused");
    assert_api_error(
        err,
        500,
        10074,
        "replicas > 1 not supported in non-clustered mode",
    );
}

#[tokio::test]
async fn create_with_an_invalid_config_is_refused() {
    let t = Js::start().await;
    let cases = [
        (
            Config {
                discard: DiscardPolicy::New,
                discard_new_per_subject: true,
                ..config("DNPS", &["dnps.>"])
            },
            "discard new per subject requires max msgs per subject > 0",
        ),
        (
            Config {
                max_age: Duration::from_secs(1),
                duplicate_window: Duration::from_secs(60),
                ..config("DUPW", &["dupw"])
            },
            "duplicates window can not be larger then max age",
        ),
        (config("BADSUBJ", &["a..b"]), "invalid subject"),
        (
            config("DUPSUBJ", &["dup.a", "dup.a"]),
            "subject \"dup.a\" overlaps with \"dup.a\"",
        ),
    ];
    for (cfg, why) in cases {
        let err = t.js.create_stream(cfg).await.expect_err(why);
        assert_api_error(err, 500, 10052, why);
    }
}

#[tokio::test]
async fn update_changes_limits_but_not_the_storage_type() {
    let t = Js::start().await;
    create(&t.js, config("ORDERS", &["orders.>"])).await;
    for i in 0..5 {
        publish(&t.js, "orders.a", &format!("m{i}")).await;
    }
    let updated =
        t.js.update_stream(Config {
            max_messages: 3,
            description: Some("now limited".into()),
            ..config("ORDERS", &["orders.>", "invoices.>"])
        })
        .await
        .expect("update is allowed");
    assert_eq!(updated.config.max_messages, 3);
    let i = info(&t.js, "ORDERS").await;
    assert_eq!(i.config.max_messages, 3);
    assert_eq!(i.config.description.as_deref(), Some("now limited"));
    assert_eq!(i.config.subjects, vec!["orders.>", "invoices.>"]);
    assert_eq!(i.state.messages, 3, "the new limit applies at once");
    assert_eq!(i.state.first_sequence, 3);
    // The added subject is captured.
    assert_eq!(publish(&t.js, "invoices.x", "inv").await.sequence, 6);

    let err =
        t.js.update_stream(Config {
            storage: StorageType::Memory,
            ..config("ORDERS", &["orders.>"])
        })
        .await
        .expect_err("storage cannot change");
    assert_api_error(
        err,
        500,
        10052,
        "stream configuration update can not change storage type",
    );
    let err =
        t.js.update_stream(config("NOPE", &["nope"]))
            .await
            .expect_err("no such stream");
    assert_eq!(err.kind(), CreateStreamErrorKind::NotFound);
    assert_eq!(
        info(&t.js, "ORDERS").await.config.storage,
        StorageType::File
    );
}

#[tokio::test]
async fn update_cannot_take_subjects_of_another_stream() {
    let t = Js::start().await;
    create(&t.js, config("ORDERS", &["orders.>"])).await;
    create(&t.js, config("SHIP", &["ship.>"])).await;
    let err =
        t.js.update_stream(config("ORDERS", &["orders.>", "ship.eu"]))
            .await
            .expect_err("overlap");
    assert_api_error(err, 400, 10065, "subjects overlap with an existing stream");
}

// ---------------------------------------------------------------------------------------------
// 2. Publishing
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn publish_is_acknowledged_with_stream_and_sequence() {
    let t = Js::start().await;
    create(&t.js, config("ORDERS", &["orders.*"])).await;
    for (n, subject) in ["orders.a", "orders.b", "orders.a"].iter().enumerate() {
        let ack = publish(&t.js, subject, "x").await;
        assert_eq!(ack.stream, "ORDERS");
        assert_eq!(ack.sequence, n as u64 + 1);
        assert!(!ack.duplicate);
    }
    let i = info(&t.js, "ORDERS").await;
    assert_eq!(i.state.messages, 3);
    assert_eq!((i.state.first_sequence, i.state.last_sequence), (1, 3));
    assert_eq!(i.state.subjects_count, 2);
    // A subject no stream captures has no responders.
    let err = try_publish(&t.js, "orders.a.deeper", payload("x"))
        .await
        .expect_err("no stream");
    assert_eq!(
        err.kind(),
        jetstream::context::PublishErrorKind::StreamNotFound
    );
}

#[tokio::test]
async fn msg_id_deduplicates_within_the_window_only() {
    let t = Js::start().await;
    create(
        &t.js,
        Config {
            duplicate_window: Duration::from_millis(200),
            ..config("DEDUPE", &["dedupe"])
        },
    )
    .await;
    let first = try_publish(&t.js, "dedupe", payload("a").message_id("id-1"))
        .await
        .expect("first");
    assert_eq!((first.sequence, first.duplicate), (1, false));
    let again = try_publish(&t.js, "dedupe", payload("b").message_id("id-1"))
        .await
        .expect("duplicate is acknowledged");
    assert_eq!((again.sequence, again.duplicate), (1, true));
    let other = try_publish(&t.js, "dedupe", payload("c").message_id("id-2"))
        .await
        .expect("other id");
    assert_eq!((other.sequence, other.duplicate), (2, false));
    assert_eq!(info(&t.js, "DEDUPE").await.state.messages, 2);
    let msg =
        t.js.get_stream("DEDUPE")
            .await
            .expect("stream")
            .get_raw_message(1)
            .await
            .expect("first message");
    assert_eq!(text(&msg.payload), "a", "the duplicate was not stored");

    // Once the window has passed the id is new again (duplicates are not stored, so trying
    // until it is accepted changes nothing else).
    let deadline = Instant::now() + Duration::from_secs(3);
    let later = loop {
        let ack = try_publish(&t.js, "dedupe", payload("d").message_id("id-1"))
            .await
            .expect("acknowledged");
        if !ack.duplicate {
            break ack;
        }
        assert!(Instant::now() < deadline, "the duplicate window passed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!((later.sequence, later.duplicate), (3, false));
}

#[tokio::test]
async fn expected_stream_header() {
    let t = Js::start().await;
    create(&t.js, config("ORDERS", &["orders.>"])).await;
    let err = try_publish(&t.js, "orders.a", payload("x").expected_stream("WRONG"))
        .await
        .expect_err("wrong stream");
    assert_api_error(err, 400, 10060, "expected stream does not match");
    let ack = try_publish(&t.js, "orders.a", payload("x").expected_stream("ORDERS"))
        .await
        .expect("right stream");
    assert_eq!(ack.sequence, 1);
}

#[tokio::test]
async fn expected_last_sequence_header() {
    let t = Js::start().await;
    create(&t.js, config("ORDERS", &["orders.>"])).await;
    let ack = try_publish(&t.js, "orders.a", payload("x").expected_last_sequence(0))
        .await
        .expect("0 on an empty stream");
    assert_eq!(ack.sequence, 1);
    publish(&t.js, "orders.b", "x").await;
    let ack = try_publish(&t.js, "orders.c", payload("x").expected_last_sequence(2))
        .await
        .expect("right last sequence");
    assert_eq!(ack.sequence, 3);
    let err = try_publish(&t.js, "orders.c", payload("x").expected_last_sequence(2))
        .await
        .expect_err("stale last sequence");
    assert_eq!(
        err.kind(),
        jetstream::context::PublishErrorKind::WrongLastSequence
    );
    assert_api_error(err, 400, 10071, "wrong last sequence: 3");
    assert_eq!(info(&t.js, "ORDERS").await.state.messages, 3);
}

#[tokio::test]
async fn expected_last_subject_sequence_header() {
    let t = Js::start().await;
    create(&t.js, config("ORDERS", &["orders.>"])).await;
    publish(&t.js, "orders.a", "x").await;
    publish(&t.js, "orders.b", "x").await;
    let ack = try_publish(
        &t.js,
        "orders.a",
        payload("x").expected_last_subject_sequence(1),
    )
    .await
    .expect("right subject sequence");
    assert_eq!(ack.sequence, 3);
    let err = try_publish(
        &t.js,
        "orders.a",
        payload("x").expected_last_subject_sequence(1),
    )
    .await
    .expect_err("stale subject sequence");
    assert_api_error(err, 400, 10071, "wrong last sequence: 3");
    let err = try_publish(
        &t.js,
        "orders.b",
        payload("x").expected_last_subject_sequence(0),
    )
    .await
    .expect_err("0 on a subject that has messages");
    assert_api_error(err, 400, 10071, "wrong last sequence: 2");
    let ack = try_publish(
        &t.js,
        "orders.new",
        payload("x").expected_last_subject_sequence(0),
    )
    .await
    .expect("0 on a new subject");
    assert_eq!(ack.sequence, 4);
}

#[tokio::test]
async fn expected_last_msg_id_header() {
    let t = Js::start().await;
    create(&t.js, config("ORDERS", &["orders.>"])).await;
    try_publish(&t.js, "orders.a", payload("x").message_id("m1"))
        .await
        .expect("with id");
    let err = try_publish(
        &t.js,
        "orders.a",
        payload("x").expected_last_message_id("nope"),
    )
    .await
    .expect_err("wrong last id");
    assert_eq!(
        err.kind(),
        jetstream::context::PublishErrorKind::WrongLastMessageId
    );
    assert_api_error(err, 400, 10070, "wrong last msg ID: m1");
    let ack = try_publish(
        &t.js,
        "orders.a",
        payload("x").expected_last_message_id("m1"),
    )
    .await
    .expect("right last id");
    assert_eq!(ack.sequence, 2);
    // That message had no id, so the last id is now empty.
    let err = try_publish(
        &t.js,
        "orders.a",
        payload("x").expected_last_message_id("m1"),
    )
    .await
    .expect_err("the last message had no id");
    assert_api_error(err, 400, 10070, "wrong last msg ID: ");
}

#[tokio::test]
async fn rollup_sub_keeps_only_the_newest_of_its_subject() {
    let t = Js::start().await;
    let stream = create(
        &t.js,
        Config {
            allow_rollup: true,
            ..config("ROLL", &["roll.>"])
        },
    )
    .await;
    publish(&t.js, "roll.a", "a1").await;
    publish(&t.js, "roll.a", "a2").await;
    publish(&t.js, "roll.b", "b1").await;
    let ack = try_publish(&t.js, "roll.a", payload("a3").header("Nats-Rollup", "sub"))
        .await
        .expect("rollup sub");
    assert_eq!(ack.sequence, 4);
    let i = info(&t.js, "ROLL").await;
    assert_eq!(i.state.messages, 2);
    assert_eq!((i.state.first_sequence, i.state.last_sequence), (3, 4));
    let last = stream
        .get_last_raw_message_by_subject("roll.a")
        .await
        .expect("roll.a");
    assert_eq!((last.sequence, text(&last.payload)), (4, "a3"));
    assert_eq!(
        stream
            .get_raw_message(3)
            .await
            .expect("roll.b is kept")
            .subject
            .as_str(),
        "roll.b"
    );
}

#[tokio::test]
async fn rollup_all_keeps_only_the_rollup_message() {
    let t = Js::start().await;
    create(
        &t.js,
        Config {
            allow_rollup: true,
            ..config("ROLL", &["roll.>"])
        },
    )
    .await;
    publish(&t.js, "roll.a", "a1").await;
    publish(&t.js, "roll.b", "b1").await;
    let ack = try_publish(&t.js, "roll.c", payload("all").header("Nats-Rollup", "all"))
        .await
        .expect("rollup all");
    assert_eq!(ack.sequence, 3);
    let i = info(&t.js, "ROLL").await;
    assert_eq!(i.state.messages, 1);
    assert_eq!((i.state.first_sequence, i.state.last_sequence), (3, 3));
    let err = try_publish(&t.js, "roll.c", payload("x").header("Nats-Rollup", "bogus"))
        .await
        .expect_err("bad rollup value");
    assert_api_error(err, 500, 10111, "rollup value invalid: \"bogus\"");
}

#[tokio::test]
async fn rollup_is_refused_without_allow_rollup_hdrs() {
    let t = Js::start().await;
    create(&t.js, config("ORDERS", &["orders.>"])).await;
    publish(&t.js, "orders.a", "x").await;
    for kind in ["sub", "all"] {
        let err = try_publish(&t.js, "orders.a", payload("y").header("Nats-Rollup", kind))
            .await
            .expect_err("rollup not permitted");
        assert_api_error(err, 500, 10111, "rollup not permitted");
    }
    assert_eq!(info(&t.js, "ORDERS").await.state.messages, 1);
}

#[tokio::test]
async fn max_msg_size_refuses_larger_messages() {
    let t = Js::start().await;
    create(
        &t.js,
        Config {
            max_message_size: 64,
            ..config("SMALL", &["small"])
        },
    )
    .await;
    let err = try_publish(&t.js, "small", payload(&"x".repeat(100)))
        .await
        .expect_err("too big");
    assert_api_error(err, 400, 10054, "message size exceeds maximum allowed");
    let ack = publish(&t.js, "small", &"x".repeat(64)).await;
    assert_eq!(ack.sequence, 1);
}

#[tokio::test]
async fn discard_new_refuses_messages_at_max_msgs() {
    let t = Js::start().await;
    create(
        &t.js,
        Config {
            max_messages: 3,
            discard: DiscardPolicy::New,
            storage: StorageType::Memory,
            ..config("FULL", &["full.>"])
        },
    )
    .await;
    for n in 1..=3 {
        assert_eq!(publish(&t.js, "full.a", "x").await.sequence, n);
    }
    let err = try_publish(&t.js, "full.b", payload("x"))
        .await
        .expect_err("stream is full");
    assert_api_error(err, 503, 10077, "maximum messages exceeded");
    let i = info(&t.js, "FULL").await;
    assert_eq!(i.state.messages, 3);
    assert_eq!((i.state.first_sequence, i.state.last_sequence), (1, 3));
}

#[tokio::test]
async fn discard_new_per_subject_refuses_messages_on_a_full_subject() {
    let t = Js::start().await;
    create(
        &t.js,
        Config {
            max_messages_per_subject: 1,
            discard: DiscardPolicy::New,
            discard_new_per_subject: true,
            ..config("PERSUBJ", &["persubj.>"])
        },
    )
    .await;
    publish(&t.js, "persubj.a", "a1").await;
    let err = try_publish(&t.js, "persubj.a", payload("a2"))
        .await
        .expect_err("subject is full");
    assert_api_error(err, 503, 10077, "maximum messages per subject exceeded");
    assert_eq!(publish(&t.js, "persubj.b", "b1").await.sequence, 2);
    assert_eq!(info(&t.js, "PERSUBJ").await.state.messages, 2);
}

#[tokio::test]
async fn discard_old_max_msgs_keeps_the_newest() {
    let t = Js::start().await;
    let stream = create(
        &t.js,
        Config {
            max_messages: 3,
            ..config("RING", &["ring"])
        },
    )
    .await;
    for n in 1..=5 {
        assert_eq!(publish(&t.js, "ring", &format!("m{n}")).await.sequence, n);
    }
    let i = info(&t.js, "RING").await;
    assert_eq!(i.state.messages, 3);
    assert_eq!((i.state.first_sequence, i.state.last_sequence), (3, 5));
    assert_eq!(
        text(&stream.get_raw_message(3).await.expect("seq 3").payload),
        "m3"
    );
    let err = stream.get_raw_message(2).await.expect_err("seq 2 is gone");
    assert_eq!(err.kind(), LastRawMessageErrorKind::NoMessageFound);
}

#[tokio::test]
async fn discard_old_max_msgs_per_subject_keeps_the_newest_of_each_subject() {
    let t = Js::start().await;
    let stream = create(
        &t.js,
        Config {
            max_messages_per_subject: 2,
            ..config("KV", &["kv.>"])
        },
    )
    .await;
    for (subject, body) in [
        ("kv.a", "a1"),
        ("kv.b", "b1"),
        ("kv.a", "a2"),
        ("kv.a", "a3"),
        ("kv.a", "a4"),
    ] {
        publish(&t.js, subject, body).await;
    }
    let i = info(&t.js, "KV").await;
    assert_eq!(i.state.messages, 3);
    assert_eq!((i.state.first_sequence, i.state.last_sequence), (2, 5));
    let kept: Vec<String> = {
        let mut v = Vec::new();
        for seq in 1..=5 {
            if let Ok(m) = stream.get_raw_message(seq).await {
                v.push(text(&m.payload).to_string());
            }
        }
        v
    };
    assert_eq!(kept, vec!["b1", "a3", "a4"]);
}

#[tokio::test]
async fn max_bytes_with_discard_old_drops_the_oldest() {
    let t = Js::start().await;
    create(
        &t.js,
        Config {
            max_bytes: 400,
            ..config("BYTES", &["bytes"])
        },
    )
    .await;
    for _ in 0..10 {
        publish(&t.js, "bytes", &"x".repeat(100)).await;
    }
    let i = info(&t.js, "BYTES").await;
    assert!(
        i.state.bytes <= 400,
        "bytes {} over max_bytes",
        i.state.bytes
    );
    assert!(i.state.messages >= 1 && i.state.messages < 4);
    assert_eq!(i.state.last_sequence, 10);
    assert_eq!(
        i.state.first_sequence,
        10 - i.state.messages + 1,
        "the newest messages are kept"
    );
}

#[tokio::test]
async fn max_age_expires_messages() {
    let t = Js::start().await;
    create(
        &t.js,
        Config {
            max_age: Duration::from_millis(300),
            ..config("AGE", &["age.>"])
        },
    )
    .await;
    for n in 0..3 {
        publish(&t.js, "age.a", &format!("m{n}")).await;
    }
    assert_eq!(info(&t.js, "AGE").await.state.messages, 3);
    let i = wait_for_info(&t.js, "AGE", Duration::from_millis(1500), |i| {
        i.state.messages == 0
    })
    .await;
    assert_eq!((i.state.first_sequence, i.state.last_sequence), (4, 3));
    assert_eq!(publish(&t.js, "age.a", "later").await.sequence, 4);
}

#[tokio::test]
async fn nats_ttl_expires_a_message() {
    let t = Js::start().await;
    let stream = create(
        &t.js,
        Config {
            allow_message_ttl: true,
            ..config("TTL", &["ttl.>"])
        },
    )
    .await;
    let short = try_publish(&t.js, "ttl.a", payload("short").ttl(Duration::from_secs(1)))
        .await
        .expect("TTL accepted");
    assert_eq!(short.sequence, 1);
    let kept = publish(&t.js, "ttl.b", "kept").await;
    let long = try_publish(&t.js, "ttl.c", payload("long").header("Nats-TTL", "1h"))
        .await
        .expect("TTL as a duration");
    let msg = stream.get_raw_message(1).await.expect("stored with TTL");
    assert_eq!(
        msg.headers
            .get(header::NATS_MESSAGE_TTL)
            .map(|v| v.as_str()),
        Some("1"),
        "the header is stored as sent"
    );
    let i = wait_for_info(&t.js, "TTL", Duration::from_millis(2500), |i| {
        i.state.messages == 2
    })
    .await;
    assert_eq!((i.state.first_sequence, i.state.last_sequence), (2, 3));
    stream
        .get_raw_message(1)
        .await
        .expect_err("the message expired");
    assert_eq!(
        text(
            &stream
                .get_raw_message(kept.sequence)
                .await
                .expect("kept")
                .payload
        ),
        "kept"
    );
    stream
        .get_raw_message(long.sequence)
        .await
        .expect("the 1h message stays");
}

#[tokio::test]
async fn nats_ttl_is_refused_without_allow_msg_ttl() {
    let t = Js::start().await;
    create(&t.js, config("NOTTL", &["nottl"])).await;
    let err = try_publish(&t.js, "nottl", payload("x").ttl(Duration::from_secs(5)))
        .await
        .expect_err("TTL disabled");
    assert_api_error(err, 400, 10166, "per-message TTL is disabled");
    assert_eq!(info(&t.js, "NOTTL").await.state.messages, 0);
}

#[tokio::test]
async fn nats_ttl_must_be_valid() {
    let t = Js::start().await;
    create(
        &t.js,
        Config {
            allow_message_ttl: true,
            ..config("TTL", &["ttl"])
        },
    )
    .await;
    for bad in ["bogus", "0", "-5"] {
        let err = try_publish(&t.js, "ttl", payload("x").header("Nats-TTL", bad))
            .await
            .expect_err("invalid TTL");
        assert_api_error(err, 400, 10165, "invalid per-message TTL");
    }
    for good in ["30", "never", "2m"] {
        try_publish(&t.js, "ttl", payload("x").header("Nats-TTL", good))
            .await
            .unwrap_or_else(|e| panic!("TTL {good} is valid: {e}"));
    }
    assert_eq!(info(&t.js, "TTL").await.state.messages, 3);
}

// ---------------------------------------------------------------------------------------------
// 3. Reading, deleting and purging
// ---------------------------------------------------------------------------------------------

/// Publishes `g.a one` (with an `X-Trace` header), `g.b two`, `g.a three`.
async fn three_messages(js: &Context) {
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("X-Trace", "t1");
    headers.append("X-Multi", "v1");
    headers.append("X-Multi", "v2");
    try_publish(js, "g.a", payload("one").headers(headers))
        .await
        .expect("with headers");
    publish(js, "g.b", "two").await;
    publish(js, "g.a", "three").await;
}

#[tokio::test]
async fn get_raw_message_by_sequence_and_last_by_subject() {
    let t = Js::start().await;
    let stream = create(&t.js, config("GET", &["g.>"])).await;
    three_messages(&t.js).await;
    let m = stream.get_raw_message(1).await.expect("seq 1");
    assert_eq!(m.subject.as_str(), "g.a");
    assert_eq!(m.sequence, 1);
    assert_eq!(text(&m.payload), "one");
    assert_eq!(m.headers.get("X-Trace").map(|v| v.as_str()), Some("t1"));
    let m = stream.get_raw_message(2).await.expect("seq 2");
    assert_eq!((m.subject.as_str(), text(&m.payload)), ("g.b", "two"));
    let m = stream
        .get_last_raw_message_by_subject("g.a")
        .await
        .expect("last g.a");
    assert_eq!((m.sequence, text(&m.payload)), (3, "three"));
    let m = stream
        .get_next_raw_message_by_subject("g.b")
        .await
        .expect("next g.b");
    assert_eq!(m.sequence, 2);
    let m = stream
        .get_first_raw_message_by_subject("g.a", 2)
        .await
        .expect("first g.a from 2");
    assert_eq!(m.sequence, 3);

    for err in [
        stream.get_raw_message(99).await.expect_err("past the end"),
        stream
            .get_last_raw_message_by_subject("g.zzz")
            .await
            .expect_err("no such subject"),
    ] {
        assert_eq!(err.kind(), LastRawMessageErrorKind::NoMessageFound);
    }
    let missing = t.js.get_stream_no_info("NOPE").await.expect("handle");
    let err = missing.get_raw_message(1).await.expect_err("no stream");
    assert_api_error(err, 404, 10059, "stream not found");
}

#[tokio::test]
async fn direct_get_by_sequence_and_last_for_subject() {
    let t = Js::start().await;
    let stream = create(
        &t.js,
        Config {
            allow_direct: true,
            ..config("DIRECT", &["g.>"])
        },
    )
    .await;
    three_messages(&t.js).await;
    let m = stream.direct_get(1).await.expect("seq 1");
    assert_eq!(m.subject.as_str(), "g.a");
    assert_eq!(m.sequence, 1);
    assert_eq!(text(&m.payload), "one");
    assert_eq!(m.headers.get("X-Trace").map(|v| v.as_str()), Some("t1"));
    let multi: Vec<&str> = m.headers.get_all("X-Multi").map(|v| v.as_str()).collect();
    assert_eq!(multi, vec!["v1", "v2"]);
    assert_eq!(
        m.headers.get(header::NATS_STREAM).map(|v| v.as_str()),
        Some("DIRECT")
    );
    assert_eq!(
        m.headers.get(header::NATS_SEQUENCE).map(|v| v.as_str()),
        Some("1")
    );
    let m = stream
        .direct_get_last_for_subject("g.a")
        .await
        .expect("last g.a");
    assert_eq!((m.sequence, text(&m.payload)), (3, "three"));
    assert!(m.headers.get("X-Trace").is_none());
    let m = stream
        .direct_get_last_for_subject("g.b")
        .await
        .expect("last g.b");
    assert_eq!((m.sequence, text(&m.payload)), (2, "two"));

    let err = stream.direct_get(99).await.expect_err("past the end");
    assert_eq!(err.kind(), DirectGetErrorKind::NotFound);
    let err = stream
        .direct_get_last_for_subject("g.zzz")
        .await
        .expect_err("no such subject");
    assert_eq!(err.kind(), DirectGetErrorKind::NotFound);
    stream.delete_message(2).await.expect("delete seq 2");
    let err = stream.direct_get(2).await.expect_err("deleted");
    assert_eq!(err.kind(), DirectGetErrorKind::NotFound);
}

#[tokio::test]
async fn direct_get_needs_allow_direct() {
    let t = Js::start().await;
    let stream = create(&t.js, config("NODIRECT", &["g.>"])).await;
    three_messages(&t.js).await;
    let err = stream.direct_get(1).await.expect_err("no direct get");
    assert_eq!(
        err.kind(),
        DirectGetErrorKind::ErrorResponse(
            async_nats::StatusCode::NO_RESPONDERS,
            "no responders".into()
        )
    );
    // Turning it on by an update makes it answer.
    t.js.update_stream(Config {
        allow_direct: true,
        ..config("NODIRECT", &["g.>"])
    })
    .await
    .expect("update");
    let m = stream.direct_get(2).await.expect("direct get after update");
    assert_eq!(text(&m.payload), "two");
}

#[tokio::test]
async fn delete_message_removes_one_sequence() {
    let t = Js::start().await;
    let stream = create(&t.js, config("DEL", &["del.>"])).await;
    for n in 1..=3 {
        publish(&t.js, "del.a", &format!("m{n}")).await;
    }
    assert!(stream.delete_message(2).await.expect("delete seq 2"));
    let err = stream.get_raw_message(2).await.expect_err("deleted");
    assert_eq!(err.kind(), LastRawMessageErrorKind::NoMessageFound);
    let i = info(&t.js, "DEL").await;
    assert_eq!(i.state.messages, 2);
    assert_eq!((i.state.first_sequence, i.state.last_sequence), (1, 3));
    assert_eq!(i.state.deleted_count, Some(1));
    let err = stream.delete_message(2).await.expect_err("already deleted");
    assert_api_error(err, 400, 10043, "sequence 2 not found");
    let err = stream.delete_message(99).await.expect_err("past the end");
    assert_api_error(err, 500, 10057, "stream store EOF");
    // Deleting the first message moves first_seq.
    assert!(stream.delete_message(1).await.expect("delete seq 1"));
    let i = info(&t.js, "DEL").await;
    assert_eq!(i.state.messages, 1);
    assert_eq!((i.state.first_sequence, i.state.last_sequence), (3, 3));
}

#[tokio::test]
async fn deny_delete_and_deny_purge_refuse() {
    let t = Js::start().await;
    let stream = create(
        &t.js,
        Config {
            deny_delete: true,
            deny_purge: true,
            ..config("LOCKED", &["locked"])
        },
    )
    .await;
    publish(&t.js, "locked", "x").await;
    let err = stream.delete_message(1).await.expect_err("deny_delete");
    assert_api_error(err, 500, 10057, "message delete not permitted");
    let err = stream.purge().await.expect_err("deny_purge");
    assert_api_error(err, 500, 10110, "stream purge not permitted");
    assert_eq!(info(&t.js, "LOCKED").await.state.messages, 1);
}

#[tokio::test]
async fn purge_by_filter_keep_sequence_and_all() {
    let t = Js::start().await;
    let stream = create(&t.js, config("PUR", &["pur.>"])).await;
    // pur.a: 1-3, pur.b: 4-6, pur.c: 7-8.
    for (subject, n) in [("pur.a", 3), ("pur.b", 3), ("pur.c", 2)] {
        for _ in 0..n {
            publish(&t.js, subject, "x").await;
        }
    }
    let r = stream.purge().filter("pur.a").await.expect("filter");
    assert_eq!((r.success, r.purged), (true, 3));
    let r = stream
        .purge()
        .filter("pur.b")
        .keep(1)
        .await
        .expect("filter and keep");
    assert_eq!(r.purged, 2);
    let i = info(&t.js, "PUR").await;
    assert_eq!(i.state.messages, 3);
    assert_eq!((i.state.first_sequence, i.state.last_sequence), (6, 8));
    // Everything below sequence 8.
    let r = stream.purge().sequence(8).await.expect("up to a sequence");
    assert_eq!(r.purged, 2);
    let i = info(&t.js, "PUR").await;
    assert_eq!((i.state.messages, i.state.first_sequence), (1, 8));
    for _ in 0..3 {
        publish(&t.js, "pur.d", "x").await;
    }
    let r = stream.purge().keep(1).await.expect("keep");
    assert_eq!(r.purged, 3);
    let i = info(&t.js, "PUR").await;
    assert_eq!((i.state.messages, i.state.first_sequence), (1, 11));
    let r = stream.purge().await.expect("all");
    assert_eq!(r.purged, 1);
    let i = info(&t.js, "PUR").await;
    assert_eq!(i.state.messages, 0);
    assert_eq!(i.state.bytes, 0);
    assert_eq!((i.state.first_sequence, i.state.last_sequence), (12, 11));
    // Sequences go on after a purge.
    assert_eq!(publish(&t.js, "pur.a", "x").await.sequence, 12);

    let missing = t.js.get_stream_no_info("NOPE").await.expect("handle");
    let err = missing.purge().await.expect_err("no stream");
    assert_api_error(err, 404, 10059, "stream not found");
}

#[tokio::test]
async fn stream_info_subjects_filter_and_deleted_details() {
    let t = Js::start().await;
    let stream = create(&t.js, config("INF", &["inf.>"])).await;
    for subject in ["inf.a", "inf.a", "inf.b", "inf.c.x", "inf.a"] {
        publish(&t.js, subject, "x").await;
    }
    stream.delete_message(2).await.expect("delete seq 2");
    stream.delete_message(4).await.expect("delete seq 4");

    let subjects = |filter: &'static str| {
        let stream = &stream;
        async move {
            stream
                .info_with_subjects(filter)
                .await
                .expect("info with subjects")
                .try_collect::<BTreeMap<String, usize>>()
                .await
                .expect("subjects")
        }
    };
    assert_eq!(
        subjects("inf.*").await,
        BTreeMap::from([("inf.a".to_string(), 2), ("inf.b".to_string(), 1)])
    );
    assert_eq!(
        subjects(">").await,
        BTreeMap::from([("inf.a".to_string(), 2), ("inf.b".to_string(), 1)])
    );
    assert_eq!(subjects("nomatch").await, BTreeMap::new());

    let detailed = stream
        .info_builder()
        .with_deleted(true)
        .fetch()
        .await
        .expect("info with deleted details");
    assert_eq!(detailed.info.state.deleted, Some(vec![2, 4]));
    assert_eq!(detailed.info.state.deleted_count, Some(2));
    let plain = info(&t.js, "INF").await;
    assert_eq!(plain.state.deleted, None);
    assert_eq!(plain.state.deleted_count, Some(2));
    assert_eq!(plain.state.messages, 3);
    assert_eq!(plain.state.subjects_count, 2);
}

#[tokio::test]
async fn stream_names_and_list_filter_by_subject() {
    let t = Js::start().await;
    create(&t.js, config("ORDERS", &["orders.>"])).await;
    create(
        &t.js,
        Config {
            storage: StorageType::Memory,
            ..config("SHIPPING", &["ship.*"])
        },
    )
    .await;
    create(&t.js, config("AUDIT", &["audit"])).await;

    let mut names: Vec<String> =
        t.js.stream_names()
            .try_collect()
            .await
            .expect("stream names");
    names.sort();
    assert_eq!(names, vec!["AUDIT", "ORDERS", "SHIPPING"]);
    let mut listed: Vec<String> =
        t.js.streams()
            .map_ok(|i| i.config.name)
            .try_collect()
            .await
            .expect("stream list");
    listed.sort();
    assert_eq!(listed, names);

    assert_eq!(
        t.js.stream_by_subject("ship.eu").await.expect("by subject"),
        "SHIPPING"
    );
    t.js.stream_by_subject("nothing.here")
        .await
        .expect_err("no stream for the subject");

    let page: serde_json::Value =
        t.js.request("STREAM.NAMES", &json!({"subject": "orders.*"}))
            .await
            .expect("names with a subject");
    assert_eq!(page["total"], 1);
    assert_eq!(page["streams"], json!(["ORDERS"]));
    let page: serde_json::Value =
        t.js.request("STREAM.NAMES", &json!({"subject": ">"}))
            .await
            .expect("names with >");
    assert_eq!(page["total"], 3);
    let page: serde_json::Value =
        t.js.request("STREAM.NAMES", &json!({"subject": "nomatch"}))
            .await
            .expect("names without a match");
    assert_eq!(page["total"], 0);
    assert_eq!(page["streams"], serde_json::Value::Null);
    let page: serde_json::Value =
        t.js.request("STREAM.LIST", &json!({"subject": "ship.>"}))
            .await
            .expect("list with a subject");
    assert_eq!(page["total"], 1);
    assert_eq!(page["streams"][0]["config"]["name"], "SHIPPING");
    assert_eq!(page["streams"][0]["config"]["storage"], "memory");
}

#[tokio::test]
async fn deleted_stream_is_not_found() {
    let t = Js::start().await;
    create(&t.js, config("GONE", &["gone.>"])).await;
    publish(&t.js, "gone.a", "x").await;
    assert!(
        t.js.delete_stream("GONE")
            .await
            .expect("delete stream")
            .success
    );
    let err = t.js.get_stream("GONE").await.expect_err("deleted");
    assert_api_error(err, 404, 10059, "stream not found");
    let Err(err) = t.js.delete_stream("GONE").await else {
        panic!("deleting twice is refused");
    };
    assert_api_error(err, 404, 10059, "stream not found");
    let err = try_publish(&t.js, "gone.a", payload("x"))
        .await
        .expect_err("nothing captures the subject");
    assert_eq!(
        err.kind(),
        jetstream::context::PublishErrorKind::StreamNotFound
    );
    let names: Vec<String> =
        t.js.stream_names()
            .try_collect()
            .await
            .expect("stream names");
    assert!(names.is_empty());
    // The name can be used again, from sequence 1.
    create(&t.js, config("GONE", &["gone.>"])).await;
    assert_eq!(publish(&t.js, "gone.a", "x").await.sequence, 1);
}

// ---------------------------------------------------------------------------------------------
// 4. Persistence
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn file_stream_survives_a_kill_and_restart() {
    let mut t = Js::start().await;
    const N: u64 = 200;
    create(&t.js, config("DURABLE", &["dur.>"])).await;
    create(
        &t.js,
        Config {
            storage: StorageType::Memory,
            ..config("VOLATILE", &["vol.>"])
        },
    )
    .await;
    let mut acks = Vec::new();
    for i in 1..=N {
        let mut p = payload(&format!("message {i}"));
        if i % 10 == 0 {
            p = p.header("X-Index", i.to_string());
        }
        acks.push(
            t.js.send_publish(format!("dur.{}", i % 7), p)
                .await
                .expect("publish is sent"),
        );
    }
    for (i, ack) in acks.into_iter().enumerate() {
        assert_eq!(ack.await.expect("ack").sequence, i as u64 + 1);
    }
    publish(&t.js, "vol.a", "gone soon").await;
    t.js.get_stream("DURABLE")
        .await
        .expect("stream")
        .delete_message(7)
        .await
        .expect("delete seq 7");
    let before = info(&t.js, "DURABLE").await;

    t.server.child.kill().expect("SIGKILL");
    t.server.child.wait().expect("server exits");
    drop(t.client);
    let (server, _client, js) = start_in(&t.dir).await;
    t.server = server;

    let mut stream = js.get_stream("DURABLE").await.expect("recovered");
    let i = stream.info().await.expect("info").clone();
    assert_eq!(i.state.messages, N - 1);
    assert_eq!((i.state.first_sequence, i.state.last_sequence), (1, N));
    assert_eq!(i.state.bytes, before.state.bytes);
    assert_eq!(i.state.subjects_count, 7);
    assert_eq!(i.config, before.config);
    assert_eq!(i.created, before.created);
    for seq in 1..=N {
        if seq == 7 {
            let err = stream.get_raw_message(seq).await.expect_err("deleted");
            assert_eq!(err.kind(), LastRawMessageErrorKind::NoMessageFound);
            continue;
        }
        let m = stream
            .get_raw_message(seq)
            .await
            .unwrap_or_else(|e| panic!("seq {seq} survived: {e}"));
        assert_eq!(m.subject.as_str(), format!("dur.{}", seq % 7));
        assert_eq!(text(&m.payload), format!("message {seq}"));
        let index = m.headers.get("X-Index").map(|v| v.as_str().to_string());
        assert_eq!(index, (seq % 10 == 0).then(|| seq.to_string()));
    }
    assert_eq!(publish(&js, "dur.x", "after").await.sequence, N + 1);

    let err = js.get_stream("VOLATILE").await.expect_err("memory is lost");
    assert_api_error(err, 404, 10059, "stream not found");
    let names: Vec<String> = js.stream_names().try_collect().await.expect("names");
    assert_eq!(names, vec!["DURABLE"]);
}

#[tokio::test]
async fn purge_and_dedupe_state_survive_a_restart() {
    let mut t = Js::start().await;
    create(&t.js, config("P", &["p.>"])).await;
    for n in 1..=5 {
        try_publish(
            &t.js,
            "p.a",
            payload(&format!("m{n}")).message_id(format!("id-{n}")),
        )
        .await
        .expect("publish");
    }
    let stream = t.js.get_stream("P").await.expect("stream");
    assert_eq!(stream.purge().sequence(4).await.expect("purge").purged, 3);

    t.server.child.kill().expect("SIGKILL");
    t.server.child.wait().expect("server exits");
    let (server, _client, js) = start_in(&t.dir).await;
    t.server = server;

    let i = info(&js, "P").await;
    assert_eq!(i.state.messages, 2);
    assert_eq!((i.state.first_sequence, i.state.last_sequence), (4, 5));
    // The duplicate window is rebuilt from the stored messages.
    let dup = try_publish(&js, "p.a", payload("again").message_id("id-5"))
        .await
        .expect("duplicate");
    assert_eq!((dup.sequence, dup.duplicate), (5, true));
}

// ---------------------------------------------------------------------------------------------
// 5. Account info
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn account_info_counts_streams_and_stored_bytes() {
    let t = Js::start().await;
    let fresh = t.js.query_account().await.expect("account info");
    assert_eq!(
        (fresh.streams, fresh.storage, fresh.memory, fresh.consumers),
        (0, 0, 0, 0)
    );
    assert_eq!(fresh.limits.max_streams, None);
    assert_eq!(fresh.limits.max_memory, None);
    assert_eq!(fresh.limits.max_storage, None);

    create(&t.js, config("FILE", &["file.>"])).await;
    create(
        &t.js,
        Config {
            storage: StorageType::Memory,
            ..config("MEM", &["mem.>"])
        },
    )
    .await;
    for n in 0..10 {
        publish(&t.js, "file.a", &format!("file payload {n}")).await;
    }
    for n in 0..4 {
        publish(&t.js, "mem.a", &format!("memory payload {n}")).await;
    }
    let file = info(&t.js, "FILE").await.state.bytes;
    let mem = info(&t.js, "MEM").await.state.bytes;
    assert!(file > 0 && mem > 0);
    let a = t.js.query_account().await.expect("account info");
    assert_eq!(a.streams, 2);
    assert_eq!(a.storage, file);
    assert_eq!(a.memory, mem);

    t.js.delete_stream("MEM").await.expect("delete");
    let a = t.js.query_account().await.expect("account info");
    assert_eq!((a.streams, a.memory, a.storage), (1, 0, file));
    t.js.get_stream("FILE")
        .await
        .expect("stream")
        .purge()
        .await
        .expect("purge");
    let a = t.js.query_account().await.expect("account info");
    assert_eq!(a.storage, 0);
}

// ---------------------------------------------------------------------------------------------
// 6. Account limits
// ---------------------------------------------------------------------------------------------

/// A server with account A (JetStream: 2 streams, 10 MB of file, 1 MB of memory) and account B
/// (no JetStream).
fn accounts_server(dir: &TempDir) -> ServerProcess {
    let store = dir.0.to_str().expect("temp dir path is UTF-8");
    let config = format!(
        "jetstream {{ store_dir: \"{store}\" }}\n\
         accounts {{\n\
           A: {{ jetstream: {{ max_streams: 2, max_file: 10M, max_mem: 1M }}, \
                 users: [{{user: a, password: a}}] }}\n\
           B: {{ users: [{{user: b, password: b}}] }}\n\
         }}\n"
    );
    ServerProcess::strom_with_config(&config, &[])
}

async fn connect_as(server: &ServerProcess, user: &str) -> Context {
    let client = async_nats::ConnectOptions::with_user_and_password(user.into(), user.into())
        .connect(server.url())
        .await
        .expect("connect");
    jetstream::new(client)
}

#[tokio::test]
async fn account_max_streams_refuses_a_third_stream() {
    let dir = TempDir::new("js-acct");
    let server = accounts_server(&dir);
    let js = connect_as(&server, "a").await;
    let a = js.query_account().await.expect("account info");
    assert_eq!(a.limits.max_streams, Some(2));
    assert_eq!(a.limits.max_storage, Some(10_000_000));
    assert_eq!(a.limits.max_memory, Some(1_000_000));
    create(&js, config("S1", &["s1.>"])).await;
    create(
        &js,
        Config {
            storage: StorageType::Memory,
            ..config("S2", &["s2.>"])
        },
    )
    .await;
    let err = js
        .create_stream(config("S3", &["s3.>"]))
        .await
        .expect_err("third stream");
    assert_api_error(err, 400, 10027, "maximum number of streams reached");
    assert_eq!(js.query_account().await.expect("info").streams, 2);
    // Deleting one makes room again.
    js.delete_stream("S2").await.expect("delete");
    create(&js, config("S3", &["s3.>"])).await;
}

#[tokio::test]
async fn account_storage_limits_refuse_large_max_bytes() {
    let dir = TempDir::new("js-acct");
    let server = accounts_server(&dir);
    let js = connect_as(&server, "a").await;
    let err = js
        .create_stream(Config {
            max_bytes: 20_000_000,
            ..config("BIG", &["big.>"])
        })
        .await
        .expect_err("over max_file");
    assert_api_error(err, 500, 10047, "insufficient storage resources available");
    let err = js
        .create_stream(Config {
            max_bytes: 2_000_000,
            storage: StorageType::Memory,
            ..config("BIGM", &["bigm.>"])
        })
        .await
        .expect_err("over max_mem");
    assert_api_error(err, 500, 10028, "insufficient memory resources available");
    create(
        &js,
        Config {
            max_bytes: 5_000_000,
            ..config("OK", &["ok.>"])
        },
    )
    .await;
    let err = js
        .update_stream(Config {
            max_bytes: 20_000_000,
            ..config("OK", &["ok.>"])
        })
        .await
        .expect_err("update over max_file");
    assert_api_error(err, 500, 10047, "insufficient storage resources available");
}

#[tokio::test]
async fn account_without_jetstream_is_refused() {
    let dir = TempDir::new("js-acct");
    let server = accounts_server(&dir);
    let js = connect_as(&server, "b").await;
    let err = js.query_account().await.expect_err("no JetStream");
    assert_api_error(err, 503, 10039, "JetStream not enabled for account");
    let err = js
        .create_stream(config("X", &["x"]))
        .await
        .expect_err("no JetStream");
    assert_api_error(err, 503, 10039, "JetStream not enabled for account");
    // Account A's streams are not visible to B, nor B's publishes to A.
    let a = connect_as(&server, "a").await;
    create(&a, config("S1", &["s1.>"])).await;
    let err = try_publish(&js, "s1.x", payload("x"))
        .await
        .expect_err("no stream in B");
    assert_eq!(
        err.kind(),
        jetstream::context::PublishErrorKind::StreamNotFound
    );
}

#[tokio::test]
async fn account_storage_limit_refuses_publishes_that_would_pass_it() {
    let dir = TempDir::new("js-acct");
    let server = accounts_server(&dir);
    let js = connect_as(&server, "a").await;
    // No max_bytes on the stream: the account's 1 MB of memory is the limit.
    create(
        &js,
        Config {
            storage: StorageType::Memory,
            ..config("FILL", &["fill.>"])
        },
    )
    .await;
    let big = "m".repeat(100_000);
    let mut stored = 0;
    let err = loop {
        match try_publish(&js, "fill.x", payload(&big)).await {
            Ok(_) => stored += 1,
            Err(e) => break e,
        }
        assert!(stored < 20, "the account limit stops publishes");
    };
    assert_eq!(
        stored, 9,
        "nine 100 kB messages fit in 1 MB, the tenth does not"
    );
    assert_api_error(err, 400, 10002, "resource limits exceeded for account");
    let a = js.query_account().await.expect("account info");
    assert!(a.memory > 900_000 && a.memory <= 1_000_000, "{}", a.memory);
    // Making room lets publishes in again.
    js.get_stream("FILL")
        .await
        .expect("stream")
        .purge()
        .await
        .expect("purged");
    try_publish(&js, "fill.x", payload(&big))
        .await
        .expect("room again");
}

#[tokio::test]
async fn stream_actions_and_api_calls_are_advised() {
    let dir = TempDir::new("js-adv");
    let (_server, client, js) = start_in(&dir).await;
    let mut events = client.subscribe("$JS.EVENT.>").await.expect("subscribed");
    common::sync(&client).await;
    create(&js, config("ADV", &["adv.>"])).await;
    js.update_stream(Config {
        max_messages: 5,
        ..config("ADV", &["adv.>"])
    })
    .await
    .expect("updated");
    js.delete_stream("ADV").await.expect("deleted");
    let mut actions = Vec::new();
    let mut audited = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    while actions.len() < 3 || audited.len() < 3 {
        let msg = tokio::time::timeout_at(deadline, events.next())
            .await
            .expect("advisories arrive")
            .expect("subscription open");
        let body: serde_json::Value = serde_json::from_slice(&msg.payload).expect("JSON");
        if msg.subject.starts_with("$JS.EVENT.ADVISORY.STREAM.") {
            assert_eq!(body["type"], "io.nats.jetstream.advisory.v1.stream_action");
            assert_eq!(body["stream"], "ADV");
            actions.push((msg.subject.to_string(), body["action"].clone()));
        } else if msg.subject.as_str() == "$JS.EVENT.ADVISORY.API" {
            assert_eq!(body["type"], "io.nats.jetstream.advisory.v1.api_audit");
            let response: serde_json::Value =
                serde_json::from_str(body["response"].as_str().expect("response text"))
                    .expect("the response is the API's JSON");
            assert_eq!(
                body["client"]["acc"], "$G",
                "the audit names the client: {body}"
            );
            assert!(body["client"]["id"].as_u64().is_some(), "{body}");
            audited.push((body["subject"].clone(), response["type"].clone()));
        }
    }
    assert_eq!(
        actions,
        vec![
            (
                "$JS.EVENT.ADVISORY.STREAM.CREATED.ADV".to_string(),
                "create".into()
            ),
            (
                "$JS.EVENT.ADVISORY.STREAM.UPDATED.ADV".to_string(),
                "modify".into()
            ),
            (
                "$JS.EVENT.ADVISORY.STREAM.DELETED.ADV".to_string(),
                "delete".into()
            ),
        ]
    );
    let subjects: Vec<_> = audited.iter().map(|(s, _)| s.clone()).collect();
    assert!(
        subjects.contains(&"$JS.API.STREAM.CREATE.ADV".into()),
        "{audited:?}"
    );
    assert!(audited.contains(&(
        "$JS.API.STREAM.DELETE.ADV".into(),
        "io.nats.jetstream.api.v1.stream_delete_response".into()
    )));
}

#[tokio::test]
async fn subject_transform_and_republish() {
    use async_nats::jetstream::stream::{Republish, SubjectTransform};
    let dir = TempDir::new("js-transform");
    let (_server, client, js) = start_in(&dir).await;
    let mut copies = client.subscribe("copy.>").await.expect("subscribed");
    common::sync(&client).await;
    let stream = create(
        &js,
        Config {
            subject_transform: Some(SubjectTransform {
                source: "orders.*.*".into(),
                destination: "stored.{{wildcard(2)}}.{{wildcard(1)}}".into(),
            }),
            republish: Some(Republish {
                source: "stored.>".into(),
                destination: "copy.>".into(),
                headers_only: false,
            }),
            ..config("XF", &["orders.>"])
        },
    )
    .await;
    publish(&js, "orders.eu.new", "one").await;
    publish(&js, "orders.eu.new", "two").await;
    let m = stream.get_raw_message(2).await.expect("stored");
    assert_eq!(m.subject.as_str(), "stored.new.eu");
    for (seq, body, last) in [(1u64, "one", 0u64), (2, "two", 1)] {
        let msg = common::next_msg(&mut copies).await;
        assert_eq!(msg.subject.as_str(), "copy.new.eu");
        assert_eq!(&msg.payload[..], body.as_bytes());
        let h = msg.headers.expect("republish headers");
        assert_eq!(h.get(header::NATS_STREAM).map(|v| v.as_str()), Some("XF"));
        assert_eq!(
            h.get(header::NATS_SEQUENCE).map(|v| v.as_str().to_string()),
            Some(seq.to_string())
        );
        assert_eq!(
            h.get(header::NATS_LAST_SEQUENCE)
                .map(|v| v.as_str().to_string()),
            Some(last.to_string())
        );
        assert_eq!(
            h.get(header::NATS_SUBJECT).map(|v| v.as_str()),
            Some("stored.new.eu")
        );
    }
    // A republish into the stream's own subjects would loop: refused.
    let err = js
        .create_stream(Config {
            republish: Some(Republish {
                source: ">".into(),
                destination: "loop.>".into(),
                headers_only: true,
            }),
            ..config("LOOP", &["loop.>"])
        })
        .await
        .expect_err("cycle");
    assert_api_error(
        err,
        500,
        10052,
        "stream configuration for republish destination forms a cycle",
    );
}

#[tokio::test]
async fn domain_prefix_serves_the_api_and_marks_pub_acks() {
    let dir = TempDir::new("js-domain");
    let store = dir.0.join("store");
    let server = ServerProcess::strom_with_config(
        &format!(
            "jetstream {{ store_dir: \"{}\", domain: hub }}\n",
            store.display()
        ),
        &[],
    );
    let client = async_nats::connect(server.url()).await.expect("connects");
    let hub = jetstream::with_domain(client.clone(), "hub");
    create(&hub, config("D", &["d.>"])).await;
    let ack = publish(&hub, "d.x", "hello").await;
    assert_eq!(ack.domain, "hub");
    let a = hub
        .query_account()
        .await
        .expect("account info via $JS.hub.API");
    assert_eq!(a.streams, 1);
    assert_eq!(a.domain.as_deref(), Some("hub"));
    // The plain prefix is served too.
    let plain = jetstream::new(client);
    assert_eq!(info(&plain, "D").await.state.messages, 1);
}

#[tokio::test]
async fn max_age_leaves_a_subject_delete_marker() {
    let dir = TempDir::new("js-sdm");
    let (_server, _client, js) = start_in(&dir).await;
    let stream = create(
        &js,
        Config {
            max_age: Duration::from_millis(300),
            duplicate_window: Duration::from_millis(300),
            allow_message_ttl: true,
            allow_rollup: true,
            subject_delete_marker_ttl: Some(Duration::from_secs(1)),
            ..config("SDM", &["k.>"])
        },
    )
    .await;
    publish(&js, "k.a", "value").await;
    // Within a second or so the value is gone and a marker says why.
    let deadline = Instant::now() + Duration::from_secs(3);
    let marker = loop {
        let m = stream
            .get_last_raw_message_by_subject("k.a")
            .await
            .expect("the subject has a last message");
        if m.sequence != 1 {
            break m;
        }
        assert!(Instant::now() < deadline, "the value expired");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(marker.payload.is_empty());
    assert_eq!(
        marker
            .headers
            .get(header::NATS_MARKER_REASON)
            .map(|v| v.as_str()),
        Some("MaxAge")
    );
    assert_eq!(
        marker
            .headers
            .get(header::NATS_MESSAGE_TTL)
            .map(|v| v.as_str()),
        Some("1s")
    );
    assert!(
        stream.get_raw_message(1).await.is_err(),
        "the value is gone"
    );
    // The marker itself expires, leaving the subject empty.
    let deadline = Instant::now() + Duration::from_secs(4);
    while stream.get_last_raw_message_by_subject("k.a").await.is_ok() {
        assert!(Instant::now() < deadline, "the marker expired");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn review_fixes_match_nats_server() {
    use async_nats::jetstream::stream::SubjectTransform;
    let dir = TempDir::new("js-review");
    let (_server, client, js) = start_in(&dir).await;
    // Direct get without headers is a plain message (async-nats drops the connection on an
    // empty header block).
    create(
        &js,
        Config {
            allow_direct: true,
            ..config("NOHDR", &["nohdr"])
        },
    )
    .await;
    publish(&js, "nohdr", "bare").await;
    let reply = client
        .request(
            "$JS.API.DIRECT.GET.NOHDR",
            Bytes::from_static(br#"{"seq":1,"no_hdr":true}"#),
        )
        .await
        .expect("direct get answered");
    assert_eq!(&reply.payload[..], b"bare");
    assert!(reply.headers.is_none(), "{:?}", reply.headers);
    common::sync(&client).await;

    // Expected-last-subject-sequence looks at the subject the message is stored under.
    create(
        &js,
        Config {
            subject_transform: Some(SubjectTransform {
                source: "in.*".into(),
                destination: "kept.{{wildcard(1)}}".into(),
            }),
            ..config("XS", &["in.*"])
        },
    )
    .await;
    publish(&js, "in.a", "one").await;
    let ok = try_publish(
        &js,
        "in.a",
        payload("two").expected_last_subject_sequence(1),
    )
    .await
    .expect("the stored subject's last sequence is 1");
    assert_eq!(ok.sequence, 2);

    // Lowering max_msgs_per_subject trims every subject at once.
    create(&js, config("PER", &["per.*"])).await;
    for s in ["per.a", "per.a", "per.a", "per.b", "per.b"] {
        publish(&js, s, "v").await;
    }
    js.update_stream(Config {
        max_messages_per_subject: 1,
        ..config("PER", &["per.*"])
    })
    .await
    .expect("updated");
    let i = wait_for_info(&js, "PER", Duration::from_secs(2), |i| {
        i.state.messages == 2
    })
    .await;
    assert_eq!(i.state.messages, 2);
}
