//! JetStream consumers through the real `strom` binary with the `async-nats` client, part
//! one: pull requests and their status frames, every ack kind, and redelivery (ack wait,
//! backoff, max deliver). Part two is `js_consumers_push.rs`.
//!
//! Every test also runs against nats-server (`STROM_TEST_AGAINST_REFERENCE=1`), which proves
//! it checks what nats-server really does. Waits are sub-second ack waits and request expiries,
//! or polls with a deadline; timings are asserted as lower bounds and orderings, never exactly.

mod common;
mod consumers;

use std::time::{Duration, Instant};

use async_nats::jetstream::consumer::{pull, push, AckPolicy};
use async_nats::jetstream::AckKind;
use common::{next_msg, sync};
use futures::StreamExt;
use serde_json::json;

use consumers::*;

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

/// The pending count each delivery carries follows messages stored after the consumer was
/// created, as well as deliveries (KV watchers rely on it to know they are caught up).
#[tokio::test]
async fn pending_counts_follow_new_messages() {
    let t = Js::start().await;
    let stream = add_stream(&t.js, config("PEND", &["pend.>"])).await;
    let c = add_pull(&stream, durable("D")).await;
    publish_n(&t.js, "pend.a", "m", 3).await;
    let got = fetch(&c, 3).await;
    let pending: Vec<u64> = got.iter().map(|m| meta(m).3).collect();
    assert_eq!(pending, [2, 1, 0]);
    publish_n(&t.js, "pend.b", "n", 2).await;
    let got = fetch(&c, 1).await;
    assert_eq!(meta(&got[0]).3, 1);
    assert_eq!(cinfo(&stream, "D").await.num_pending, 1);
}

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

/// Waiting requests from several clients are served in turn, one message each, as nats-server
/// serves them.
#[tokio::test]
async fn waiting_requests_are_served_in_turn() {
    let t = Js::start().await;
    let stream = add_stream(&t.js, config("FAIR", &["fair.>"])).await;
    add_pull(&stream, durable("F")).await;
    let mut subs = Vec::new();
    for _ in 0..3 {
        let client = async_nats::connect(t.server.url()).await.expect("connect");
        let sub = raw_pull(
            &client,
            "FAIR",
            "F",
            json!({"batch": 10, "expires": 2_000_000_000u64}),
        )
        .await;
        sync(&client).await;
        subs.push((client, sub));
    }
    wait_consumer(&stream, "F", "three requests waiting", |i| {
        i.num_waiting == 3
    })
    .await;
    publish_n(&t.js, "fair.x", "m", 9).await;
    for (_, sub) in &mut subs {
        let mut got = Vec::new();
        for _ in 0..3 {
            got.push(payload(&next_msg(sub).await).to_string());
        }
        assert_eq!(got.len(), 3, "each requester gets its turn: {got:?}");
    }
}

/// `sample_freq` sends `$JS.EVENT.METRIC.CONSUMER.ACK` for acks (not for naks), with the
/// delivery's sequences and how long the ack took.
#[tokio::test]
async fn sampled_acks_send_metrics() {
    let t = Js::start().await;
    let stream = add_stream(&t.js, config("MET", &["met.>"])).await;
    let c = add_pull(
        &stream,
        pull::Config {
            sample_frequency: 100,
            ..durable("C")
        },
    )
    .await;
    let mut metrics = advisories(&t.client, "$JS.EVENT.METRIC.CONSUMER.ACK.MET.C").await;
    publish_n(&t.js, "met.x", "m", 2).await;
    let got = fetch(&c, 2).await;
    got[0].ack_with(AckKind::Nak(None)).await.expect("nak sent");
    got[1].double_ack().await.expect("ack");
    let (subject, v) = next_json(&mut metrics).await;
    assert_eq!(subject, "$JS.EVENT.METRIC.CONSUMER.ACK.MET.C");
    assert_eq!(v["type"], "io.nats.jetstream.metric.v1.consumer_ack", "{v}");
    assert_eq!(
        (v["stream"].as_str(), v["consumer"].as_str()),
        (Some("MET"), Some("C"))
    );
    assert_eq!(
        (v["stream_seq"].as_u64(), v["consumer_seq"].as_u64()),
        (Some(2), Some(2))
    );
    assert_eq!(v["deliveries"].as_u64(), Some(1), "{v}");
    assert!(v["ack_time"].as_u64().is_some_and(|n| n > 0), "{v}");
}
