//! JetStream consumers through the real `strom` binary with the `async-nats` client, part
//! two: push consumers (deliver groups, flow control, idle heartbeats, replay), ordered
//! consumers, interest and work-queue retention, pause, priority groups, the create and update
//! rules, listing and advisories, deliver policies, the consumers of the seed fixtures, and
//! consumer state across a graceful restart and a kill -9. Part one is `js_consumers.rs`.
//!
//! Every test also runs against nats-server (`STROM_TEST_AGAINST_REFERENCE=1`).

mod common;
mod consumers;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use async_nats::jetstream::consumer::{
    self, pull, push, AckPolicy, DeliverPolicy, PriorityPolicy, ReplayPolicy,
};
use async_nats::jetstream::stream::{Config, RetentionPolicy};
use async_nats::jetstream::{AckKind, Context};
use common::{next_msg, sync};
use futures::StreamExt;
use serde_json::{json, Value};

use consumers::*;

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

/// A `pinned_client` consumer serves one requester: the first gets a pin (in `Nats-Pin-Id`
/// and a PINNED advisory), others wait; a wrong pin id is refused with 423; the pin goes after
/// `priority_timeout` without requests from its holder (UNPINNED, `timeout`) or by UNPIN
/// (`admin`), and the next requester gets a new one.
#[tokio::test]
async fn pinned_client_serves_one_requester_until_it_lets_go() {
    let t = Js::start().await;
    add_stream(&t.js, config("PIN", &["pin.>"])).await;
    let name = "P";
    let body = json!({"stream_name": "PIN", "config": {
        "durable_name": name, "ack_policy": "none",
        "priority_policy": "pinned_client", "priority_groups": ["jobs"],
        "priority_timeout": 400_000_000u64,
    }});
    let created = api(&t.client, "$JS.API.CONSUMER.CREATE.PIN.P", body).await;
    assert_eq!(
        created["config"]["priority_timeout"], 400_000_000u64,
        "{created}"
    );
    let mut adv = advisories(&t.client, "$JS.EVENT.ADVISORY.CONSUMER.*.PIN.P").await;
    publish_n(&t.js, "pin.x", "m", 3).await;

    // The first requester gets the pin.
    let mut a = raw_pull(&t.client, "PIN", name, json!({"batch": 1, "group": "jobs"})).await;
    let m = next_msg(&mut a).await;
    assert_eq!(payload(&m), "m1");
    let pin = header(&m, "Nats-Pin-Id").expect("a pin id").to_string();
    let (subject, v) = next_json(&mut adv).await;
    assert_eq!(subject, "$JS.EVENT.ADVISORY.CONSUMER.PINNED.PIN.P");
    assert_eq!(
        v["type"],
        "io.nats.jetstream.advisory.v1.consumer_group_pinned"
    );
    assert_eq!(
        (v["group"].as_str(), v["pinned_id"].as_str()),
        (Some("jobs"), Some(&pin[..]))
    );
    let i = api(&t.client, "$JS.API.CONSUMER.INFO.PIN.P", json!({})).await;
    assert_eq!(i["priority_groups"][0]["group"], "jobs", "{i}");
    assert_eq!(
        i["priority_groups"][0]["pinned_client_id"].as_str(),
        Some(&pin[..]),
        "{i}"
    );

    // Another requester without the pin is passed over until its request expires.
    let mut b = raw_pull(
        &t.client,
        "PIN",
        name,
        json!({"batch": 1, "group": "jobs", "expires": 150_000_000}),
    )
    .await;
    let m = next_msg(&mut b).await;
    assert_eq!(status(&m).map(|s| s.0), Some(408), "{:?}", m.headers);
    // A wrong pin is refused.
    let mut w = raw_pull(
        &t.client,
        "PIN",
        name,
        json!({"batch": 1, "group": "jobs", "id": "nope"}),
    )
    .await;
    expect_status(&mut w, 423, "Nats-Pin-Id mismatch").await;
    // The holder goes on.
    let mut a = raw_pull(
        &t.client,
        "PIN",
        name,
        json!({"batch": 1, "group": "jobs", "id": pin}),
    )
    .await;
    let m = next_msg(&mut a).await;
    assert_eq!(payload(&m), "m2");
    assert_eq!(header(&m, "Nats-Pin-Id"), Some(&pin[..]));

    // Without requests from its holder the pin goes.
    let (subject, v) = next_json(&mut adv).await;
    assert_eq!(subject, "$JS.EVENT.ADVISORY.CONSUMER.UNPINNED.PIN.P");
    assert_eq!(v["reason"], "timeout", "{v}");
    let mut c = raw_pull(&t.client, "PIN", name, json!({"batch": 1, "group": "jobs"})).await;
    let m = next_msg(&mut c).await;
    assert_eq!(payload(&m), "m3");
    let second = header(&m, "Nats-Pin-Id").expect("a new pin").to_string();
    assert_ne!(second, pin);
    let (_, v) = next_json(&mut adv).await;
    assert_eq!(v["pinned_id"].as_str(), Some(&second[..]));
    // UNPIN takes it away at once.
    let r = api(
        &t.client,
        "$JS.API.CONSUMER.UNPIN.PIN.P",
        json!({"group": "jobs"}),
    )
    .await;
    assert_eq!(
        r["type"], "io.nats.jetstream.api.v1.consumer_unpin_response",
        "{r}"
    );
    let (_, v) = next_json(&mut adv).await;
    assert_eq!(v["reason"], "admin", "{v}");
}

/// An `overflow` consumer serves a request with `min_pending` only while at least that many
/// messages wait.
#[tokio::test]
async fn overflow_requests_wait_for_their_minimum() {
    let t = Js::start().await;
    add_stream(&t.js, config("OVER", &["over.>"])).await;
    let body = json!({"stream_name": "OVER", "config": {
        "durable_name": "O", "ack_policy": "explicit",
        "priority_policy": "overflow", "priority_groups": ["jobs"],
    }});
    api(&t.client, "$JS.API.CONSUMER.CREATE.OVER.O", body).await;
    publish_n(&t.js, "over.x", "m", 2).await;
    let mut sub = raw_pull(
        &t.client,
        "OVER",
        "O",
        json!({"batch": 1, "group": "jobs", "min_pending": 5, "expires": 150_000_000}),
    )
    .await;
    let m = next_msg(&mut sub).await;
    assert_eq!(
        status(&m).map(|s| s.0),
        Some(408),
        "passed over: {:?}",
        m.headers
    );
    publish_n(&t.js, "over.y", "n", 4).await;
    let mut sub = raw_pull(
        &t.client,
        "OVER",
        "O",
        json!({"batch": 1, "group": "jobs", "min_pending": 5, "expires": 2_000_000_000u64}),
    )
    .await;
    let m = next_msg(&mut sub).await;
    assert_eq!(payload(&m), "m1");
    // Priority fields the policy does not use are refused.
    let mut sub = raw_pull(
        &t.client,
        "OVER",
        "O",
        json!({"batch": 1, "group": "jobs", "id": "x"}),
    )
    .await;
    expect_status(
        &mut sub,
        400,
        "Bad Request - Not a Pinned Client Priority consumer",
    )
    .await;
}

/// `rate_limit_bps` spaces a push consumer's deliveries once its burst (the stream's
/// `max_msg_size`) is spent.
#[tokio::test]
async fn rate_limit_spaces_push_deliveries() {
    let t = Js::start().await;
    let mut cfg = config("RATE", &["rate.>"]);
    cfg.max_message_size = 1000;
    add_stream(&t.js, cfg).await;
    for _ in 0..6 {
        publish(&t.js, "rate.x", vec![b'x'; 900]).await;
    }
    let mut sub = t
        .client
        .subscribe("deliver.rate")
        .await
        .expect("subscribes");
    sync(&t.client).await;
    let body = json!({"stream_name": "RATE", "config": {
        "durable_name": "R", "ack_policy": "none", "deliver_subject": "deliver.rate",
        "rate_limit_bps": 80_000,
    }});
    let started = Instant::now();
    api(&t.client, "$JS.API.CONSUMER.CREATE.RATE.R", body).await;
    for _ in 0..6 {
        let m = next_msg(&mut sub).await;
        assert_eq!(m.payload.len(), 900);
    }
    // 10 kB/s: the first message goes at once, the other five take about 0.45 s.
    assert!(
        started.elapsed() >= Duration::from_millis(350),
        "{:?}",
        started.elapsed()
    );
}

// ---------------------------------------------------------------------------------------------
// 8. Managing consumers
// ---------------------------------------------------------------------------------------------

/// Purges move consumers as nats-server moves them: a purge of some subjects only changes
/// what is pending; a purge up to a sequence, or of everything, moves the ack floor over
/// what went, deliveries awaiting acks included.
#[tokio::test]
async fn purges_move_consumers_as_nats_server_does() {
    let t = Js::start().await;
    let stream = add_stream(&t.js, config("PP", &["pp.>"])).await;
    for i in 0..5 {
        publish(&t.js, if i % 2 == 0 { "pp.a" } else { "pp.b" }, "x").await;
    }
    let c = add_pull(&stream, durable("C")).await;
    let got = fetch(&c, 3).await;
    got[0].double_ack().await.expect("ack");
    let state = |i: &consumer::Info| {
        (
            delivered(i),
            floor(i),
            i.num_ack_pending as u64,
            i.num_pending,
        )
    };
    stream.purge().filter("pp.b").await.expect("purge pp.b");
    let i = wait_consumer(&stream, "C", "filtered purge", |i| i.num_pending == 1).await;
    assert_eq!(state(&i), ((3, 3), (1, 1), 2, 1));
    stream.purge().sequence(4).await.expect("purge below 4");
    let i = wait_consumer(&stream, "C", "purge to 4", |i| i.num_ack_pending == 0).await;
    assert_eq!(state(&i), ((3, 4), (3, 4), 0, 1));
    publish_n(&t.js, "pp.a", "y", 2).await;
    stream.purge().await.expect("purge");
    let i = wait_consumer(&stream, "C", "full purge", |i| i.num_pending == 0).await;
    assert_eq!(state(&i), ((3, 7), (3, 7), 0, 0));
    publish(&t.js, "pp.a", "z").await;
    let i = wait_consumer(&stream, "C", "after purge", |i| i.num_pending == 1).await;
    assert_eq!(state(&i), ((3, 7), (3, 7), 0, 1));
    let got = fetch(&c, 1).await;
    assert_eq!(meta(&got[0]).0, 8);
}

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

/// A consumer keeps where it started across a restart: messages stored after it was created
/// (deliver policy new) and not yet delivered are delivered after the restart, and an
/// interest stream keeps them for it.
#[tokio::test]
async fn a_restart_keeps_a_consumers_start() {
    let mut t = Js::start().await;
    let mut cfg = config("START", &["start.>"]);
    cfg.retention = RetentionPolicy::Interest;
    let stream = add_stream(&t.js, cfg).await;
    add_pull(
        &stream,
        pull::Config {
            deliver_policy: DeliverPolicy::New,
            ..durable("N")
        },
    )
    .await;
    publish_n(&t.js, "start.x", "m", 5).await;
    t.server.signal("TERM");
    t.server.wait_exit(Duration::from_secs(10));
    let (_server, _client, js) = start_in(&t.dir).await;
    let stream = js.get_stream("START").await.expect("stream");
    let c = stream
        .get_consumer::<pull::Config>("N")
        .await
        .expect("consumer");
    let got = fetch(&c, 5).await;
    assert_eq!(
        seqs(&got),
        [1, 2, 3, 4, 5],
        "nothing skipped, nothing dropped"
    );
}

/// A request for no messages does not hold up the requests behind it.
#[tokio::test]
async fn a_request_for_nothing_does_not_block_others() {
    let t = Js::start().await;
    let stream = add_stream(&t.js, config("ZERO", &["zero.>"])).await;
    let c = add_pull(&stream, durable("Z")).await;
    let _zero = raw_pull(&t.client, "ZERO", "Z", json!({"batch": 0})).await;
    sync(&t.client).await;
    publish_n(&t.js, "zero.x", "m", 3).await;
    let got = batch(&c, 3, Duration::from_millis(1500)).await;
    assert!(!got.is_empty(), "a later request is served");
}

/// NAKs count towards max_deliver: a message NAKed on every delivery is given up after
/// max_deliver deliveries, with the advisory.
#[tokio::test]
async fn naks_count_towards_max_deliver() {
    let t = Js::start().await;
    let stream = add_stream(&t.js, config("POISON", &["poison.>"])).await;
    let c = add_pull(
        &stream,
        pull::Config {
            max_deliver: 2,
            ack_wait: Duration::from_secs(30),
            ..durable("P")
        },
    )
    .await;
    let mut adv = advisories(
        &t.client,
        "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.POISON.P",
    )
    .await;
    publish(&t.js, "poison.x", "bad").await;
    let mut deliveries = 0;
    for _ in 0..3 {
        let got = batch(&c, 1, Duration::from_millis(400)).await;
        for m in got {
            deliveries += 1;
            m.ack_with(AckKind::Nak(None)).await.expect("nak");
        }
    }
    assert_eq!(deliveries, 2, "delivered max_deliver times, no more");
    let (_, v) = next_json(&mut adv).await;
    assert_eq!(v["deliveries"].as_u64(), Some(2), "{v}");
}
