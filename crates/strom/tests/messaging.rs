//! Core messaging through the real `strom` binary with the `async-nats` client.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use common::ServerProcess;
use futures::StreamExt;

const WAIT: Duration = Duration::from_secs(5);

async fn next(sub: &mut async_nats::Subscriber) -> async_nats::Message {
    common::next_msg(sub).await
}

/// Asserts nothing arrives on `sub` before a round trip to the server completes.
async fn nothing_more(client: &async_nats::Client, sub: &mut async_nats::Subscriber) {
    common::sync(client).await;
    assert!(
        tokio::time::timeout(Duration::from_millis(100), sub.next())
            .await
            .is_err(),
        "no further message expected"
    );
}

#[tokio::test]
async fn publish_reaches_subscriber() {
    let server = ServerProcess::strom(&[]);
    let client = async_nats::connect(server.url()).await.expect("connect");
    let mut sub = client.subscribe("greet.joe").await.expect("subscribe");
    common::sync(&client).await;
    client
        .publish("greet.joe", Bytes::from_static(b"hello"))
        .await
        .expect("publish");
    let msg = next(&mut sub).await;
    assert_eq!(msg.subject.as_str(), "greet.joe");
    assert_eq!(&msg.payload[..], b"hello");
}

#[tokio::test]
async fn wildcards_match_tokens() {
    let server = ServerProcess::strom(&[]);
    let client = async_nats::connect(server.url()).await.expect("connect");
    let mut star = client.subscribe("orders.*.created").await.expect("sub");
    let mut full = client.subscribe("orders.>").await.expect("sub");
    common::sync(&client).await;
    for s in [
        "orders.eu.created",
        "orders.eu.deleted",
        "orders.us.created.v2",
        "orders",
    ] {
        client
            .publish(s, Bytes::from_static(b"x"))
            .await
            .expect("publish");
    }
    assert_eq!(next(&mut star).await.subject.as_str(), "orders.eu.created");
    nothing_more(&client, &mut star).await;
    let got: Vec<String> = vec![
        next(&mut full).await.subject.to_string(),
        next(&mut full).await.subject.to_string(),
        next(&mut full).await.subject.to_string(),
    ];
    assert_eq!(
        got,
        vec![
            "orders.eu.created",
            "orders.eu.deleted",
            "orders.us.created.v2"
        ]
    );
    nothing_more(&client, &mut full).await;
}

#[tokio::test]
async fn queue_group_delivers_each_message_once_spread_across_members() {
    let server = ServerProcess::strom(&[]);
    let mut members = Vec::new();
    for _ in 0..4 {
        let c = async_nats::connect(server.url()).await.expect("connect");
        let s = c
            .queue_subscribe("work", "workers".into())
            .await
            .expect("qsub");
        common::sync(&c).await;
        members.push((c, s));
    }
    // A plain subscriber on the same subject still sees everything.
    let publisher = async_nats::connect(server.url()).await.expect("connect");
    let mut plain = publisher.subscribe("work").await.expect("sub");
    common::sync(&publisher).await;
    const N: usize = 400;
    for i in 0..N {
        publisher
            .publish("work", Bytes::from(i.to_string()))
            .await
            .expect("publish");
    }
    common::sync(&publisher).await;
    for _ in 0..N {
        next(&mut plain).await;
    }
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut per_member = Vec::new();
    for (c, s) in members.iter_mut() {
        common::sync(c).await;
        let mut n = 0;
        while let Ok(Some(m)) = tokio::time::timeout(Duration::from_millis(200), s.next()).await {
            *seen
                .entry(String::from_utf8_lossy(&m.payload).into_owned())
                .or_default() += 1;
            n += 1;
        }
        per_member.push(n);
    }
    assert_eq!(seen.len(), N, "every message delivered: {per_member:?}");
    assert!(seen.values().all(|&c| c == 1), "each message exactly once");
    // Random choice: each of 4 members gets about 100 of 400; far below means no spread.
    assert!(
        per_member.iter().all(|&n| n >= 50),
        "spread: {per_member:?}"
    );
}

#[tokio::test]
async fn request_reply_round_trip() {
    let server = ServerProcess::strom(&[]);
    let responder = async_nats::connect(server.url()).await.expect("connect");
    let mut service = responder.subscribe("svc.echo").await.expect("sub");
    common::sync(&responder).await;
    tokio::spawn(async move {
        while let Some(req) = service.next().await {
            if let Some(reply) = req.reply {
                let mut body = b"echo:".to_vec();
                body.extend_from_slice(&req.payload);
                let _ = responder.publish(reply, body.into()).await;
            }
        }
    });
    let client = async_nats::connect(server.url()).await.expect("connect");
    for i in 0..20 {
        let resp = tokio::time::timeout(
            WAIT,
            client.request("svc.echo", Bytes::from(format!("{i}"))),
        )
        .await
        .expect("in time")
        .expect("reply");
        assert_eq!(resp.payload, Bytes::from(format!("echo:{i}")));
    }
}

#[tokio::test]
async fn request_without_responders_fails_fast() {
    let server = ServerProcess::strom(&[]);
    let client = async_nats::connect(server.url()).await.expect("connect");
    let err = tokio::time::timeout(WAIT, client.request("nobody.home", Bytes::new()))
        .await
        .expect("no-responders answer arrives before any timeout")
        .expect_err("request fails");
    assert_eq!(err.kind(), async_nats::RequestErrorKind::NoResponders);
}

#[tokio::test]
async fn headers_round_trip_untouched() {
    let server = ServerProcess::strom(&[]);
    let client = async_nats::connect(server.url()).await.expect("connect");
    let mut sub = client.subscribe("h").await.expect("sub");
    common::sync(&client).await;
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("X-Id", "abc-123");
    headers.insert("X-Trace", "a b  c");
    headers.append("X-Multi", "1");
    headers.append("X-Multi", "2");
    client
        .publish_with_headers("h", headers, Bytes::from_static(b"body"))
        .await
        .expect("publish");
    let msg = next(&mut sub).await;
    let h = msg.headers.expect("headers arrive");
    assert_eq!(h.get("X-Id").map(|v| v.as_str()), Some("abc-123"));
    assert_eq!(h.get("X-Trace").map(|v| v.as_str()), Some("a b  c"));
    let multi: Vec<&str> = h.get_all("X-Multi").map(|v| v.as_str()).collect();
    assert_eq!(multi, vec!["1", "2"]);
    assert_eq!(&msg.payload[..], b"body");
}

#[tokio::test]
async fn max_payload_is_announced_and_enforced() {
    let server = ServerProcess::strom(&[]);
    let client = async_nats::connect(server.url()).await.expect("connect");
    assert_eq!(client.server_info().max_payload, 1024 * 1024);
    let too_big = Bytes::from(vec![0u8; 1024 * 1024 + 1]);
    let err = client.publish("big", too_big).await.expect_err("refused");
    assert_eq!(
        err.kind(),
        async_nats::client::PublishErrorKind::MaxPayloadExceeded
    );
    // The server's own check, for clients that do not check: see protocol.rs.
}

#[tokio::test]
async fn auto_unsubscribe_after_max_messages() {
    let server = ServerProcess::strom(&[]);
    let client = async_nats::connect(server.url()).await.expect("connect");
    let mut sub = client.subscribe("limited").await.expect("sub");
    sub.unsubscribe_after(3).await.expect("unsubscribe after");
    common::sync(&client).await;
    for i in 0..10 {
        client
            .publish("limited", Bytes::from(i.to_string()))
            .await
            .expect("publish");
    }
    let mut got = Vec::new();
    while let Ok(Some(m)) = tokio::time::timeout(WAIT, sub.next()).await {
        got.push(String::from_utf8_lossy(&m.payload).into_owned());
    }
    assert_eq!(got, vec!["0", "1", "2"]);
}

#[tokio::test]
async fn echo_off_skips_own_messages() {
    let server = ServerProcess::strom(&[]);
    let quiet = async_nats::ConnectOptions::new()
        .no_echo()
        .connect(server.url())
        .await
        .expect("connect");
    let other = async_nats::connect(server.url()).await.expect("connect");
    let mut own = quiet.subscribe("room").await.expect("sub");
    let mut theirs = other.subscribe("room").await.expect("sub");
    common::sync(&quiet).await;
    common::sync(&other).await;
    quiet
        .publish("room", Bytes::from_static(b"from-quiet"))
        .await
        .expect("publish");
    common::sync(&quiet).await;
    other
        .publish("room", Bytes::from_static(b"from-other"))
        .await
        .expect("publish");
    common::sync(&other).await;
    assert_eq!(&next(&mut theirs).await.payload[..], b"from-quiet");
    assert_eq!(&next(&mut theirs).await.payload[..], b"from-other");
    assert_eq!(&next(&mut own).await.payload[..], b"from-other");
    nothing_more(&quiet, &mut own).await;
}

#[tokio::test]
async fn large_payloads_fan_out_intact() {
    let server = ServerProcess::strom(&[]);
    let mut subs = Vec::new();
    for _ in 0..4 {
        let c = async_nats::connect(server.url()).await.expect("connect");
        let s = c.subscribe("big.>").await.expect("sub");
        common::sync(&c).await;
        subs.push((c, s));
    }
    let publisher = async_nats::connect(server.url()).await.expect("connect");
    let bodies: Vec<Bytes> = (0..20u8)
        .map(|i| {
            Bytes::from(
                (0..100_000u32)
                    .map(|j| (j as u8).wrapping_mul(i + 1))
                    .collect::<Vec<u8>>(),
            )
        })
        .collect();
    for (i, body) in bodies.iter().enumerate() {
        if i % 2 == 0 {
            let mut h = async_nats::HeaderMap::new();
            h.insert("X-Index", i.to_string().as_str());
            publisher
                .publish_with_headers(format!("big.{i}"), h, body.clone())
                .await
                .expect("publish");
        } else {
            publisher
                .publish(format!("big.{i}"), body.clone())
                .await
                .expect("publish");
        }
    }
    for (_, sub) in subs.iter_mut() {
        for (i, body) in bodies.iter().enumerate() {
            let m = next(sub).await;
            assert_eq!(m.subject.as_str(), format!("big.{i}"));
            assert_eq!(&m.payload, body, "payload {i} intact");
            if i % 2 == 0 {
                let h = m.headers.expect("headers");
                assert_eq!(
                    h.get("X-Index").map(|v| v.as_str()),
                    Some(i.to_string().as_str())
                );
            }
        }
    }
}
