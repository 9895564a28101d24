//! Key-value buckets through the real `strom` binary with async-nats: bucket options, put and
//! get (latest and by revision), create and update with their expectations, delete and purge
//! markers, keys, history, watches (all, with history, from a revision, on an empty bucket),
//! status, per-key TTLs and limit markers, the lease race, and the seed buckets of the
//! fixtures. Every test also runs against nats-server (`STROM_TEST_AGAINST_REFERENCE=1`).

mod common;

use std::time::{Duration, Instant};

use async_nats::jetstream::kv::{self, Operation};
use async_nats::jetstream::{self, Context};
use bytes::Bytes;
use common::{ServerProcess, TempDir};
use futures::StreamExt;

struct Kv {
    _server: ServerProcess,
    _dir: TempDir,
    client: async_nats::Client,
    js: Context,
}

async fn start() -> Kv {
    let dir = TempDir::new("kv");
    let store = dir.0.to_str().expect("utf-8 path").to_string();
    let server = ServerProcess::strom(&["-js", "-sd", &store]);
    let client = async_nats::connect(server.url()).await.expect("connect");
    let js = jetstream::new(client.clone());
    Kv {
        _server: server,
        _dir: dir,
        client,
        js,
    }
}

async fn bucket(js: &Context, cfg: kv::Config) -> kv::Store {
    js.create_key_value(cfg).await.expect("bucket created")
}

fn cfg(name: &str) -> kv::Config {
    kv::Config {
        bucket: name.into(),
        num_replicas: 1,
        ..Default::default()
    }
}

/// Values held by a bucket, history included (from its stream's info, asked afresh).
async fn values(js: &Context, bucket: &str) -> u64 {
    let mut s = js
        .get_stream(format!("KV_{bucket}"))
        .await
        .expect("the bucket's stream");
    s.info().await.expect("stream info").state.messages
}

/// The next watch entry, within two seconds.
async fn next_entry(w: &mut kv::Watch) -> kv::Entry {
    tokio::time::timeout(Duration::from_secs(2), w.next())
        .await
        .expect("an entry in time")
        .expect("the watch goes on")
        .expect("an entry")
}

#[tokio::test]
async fn put_get_create_update_delete_purge() {
    let t = start().await;
    let kv = bucket(
        &t.js,
        kv::Config {
            history: 5,
            description: "settings".into(),
            ..cfg("SETTINGS")
        },
    )
    .await;
    let r1 = kv.put("color", "red".into()).await.expect("put");
    let r2 = kv.put("color", "blue".into()).await.expect("put");
    assert_eq!((r1, r2), (1, 2));
    assert_eq!(
        kv.get("color").await.expect("get"),
        Some(Bytes::from("blue"))
    );
    let old = kv
        .entry_for_revision("color", 1)
        .await
        .expect("entry")
        .expect("revision 1");
    assert_eq!((old.value, old.revision), (Bytes::from("red"), 1));
    assert_eq!(kv.get("missing").await.expect("get"), None);

    // create: only while absent.
    assert_eq!(kv.create("lock", "a".into()).await.expect("created"), 3);
    let err = kv.create("lock", "b".into()).await.expect_err("exists");
    assert_eq!(err.kind(), kv::CreateErrorKind::AlreadyExists);
    // update: only at the last revision.
    assert_eq!(kv.update("lock", "c".into(), 3).await.expect("updated"), 4);
    assert!(
        kv.update("lock", "d".into(), 3).await.is_err(),
        "stale revision"
    );

    // delete leaves a marker; get sees nothing; create works again after a delete.
    kv.delete("lock").await.expect("delete");
    assert_eq!(kv.get("lock").await.expect("get"), None);
    let e = kv
        .entry("lock")
        .await
        .expect("entry")
        .expect("the delete marker");
    assert_eq!((e.operation, e.revision), (Operation::Delete, 5));
    let mut h = kv.history("lock").await.expect("history");
    let mut ops = Vec::new();
    while let Some(e) = h.next().await {
        ops.push(e.expect("entry").operation);
    }
    assert_eq!(ops, [Operation::Put, Operation::Put, Operation::Delete]);
    assert!(kv.create("lock", "again".into()).await.is_ok());

    // purge keeps only its marker.
    kv.put("color", "green".into()).await.expect("put");
    kv.purge("color").await.expect("purge");
    let mut h = kv.history("color").await.expect("history");
    let mut ops = Vec::new();
    while let Some(e) = h.next().await {
        ops.push(e.expect("entry").operation);
    }
    assert_eq!(ops, [Operation::Purge]);

    let status = kv.status().await.expect("status");
    assert_eq!(status.bucket(), "SETTINGS");
    assert_eq!(status.history(), 5);
    // lock: put, put, del, put; color: purge.
    assert_eq!(values(&t.js, "SETTINGS").await, 5);
}

#[tokio::test]
async fn keys_and_watches() {
    let t = start().await;
    let kv = bucket(
        &t.js,
        kv::Config {
            history: 3,
            ..cfg("WATCH")
        },
    )
    .await;
    // A watch on the empty bucket is told at once that there is nothing yet, then sees puts.
    let mut all = kv.watch_all().await.expect("watch");
    kv.put("a.one", "1".into()).await.expect("put");
    let e = next_entry(&mut all).await;
    assert_eq!((e.key.as_str(), e.revision), ("a.one", 1));
    kv.put("a.two", "2".into()).await.expect("put");
    kv.put("b.one", "3".into()).await.expect("put");
    kv.put("a.one", "4".into()).await.expect("put");
    kv.delete("b.one").await.expect("delete");
    for (key, rev, op) in [
        ("a.two", 2, Operation::Put),
        ("b.one", 3, Operation::Put),
        ("a.one", 4, Operation::Put),
        ("b.one", 5, Operation::Delete),
    ] {
        let e = next_entry(&mut all).await;
        assert_eq!((e.key.as_str(), e.revision, e.operation), (key, rev, op));
    }

    // Keys: the live ones only.
    let mut keys: Vec<String> = kv
        .keys()
        .await
        .expect("keys")
        .map(|k| k.expect("key"))
        .collect()
        .await;
    keys.sort();
    assert_eq!(keys, ["a.one", "a.two"]);

    // A watch (async-nats: updates only) of some keys sees only new values of those keys.
    let mut w = kv.watch("a.>").await.expect("watch a.>");
    kv.put("b.two", "x".into()).await.expect("put");
    kv.put("a.two", "5".into()).await.expect("put");
    let e = next_entry(&mut w).await;
    assert_eq!((e.key.as_str(), e.revision), ("a.two", 7));

    // "With history" (async-nats: the last value of each key first, then updates).
    let mut h = kv.watch_with_history("a.one").await.expect("watch");
    assert_eq!(next_entry(&mut h).await.revision, 4);
    kv.put("a.one", "8".into()).await.expect("put");
    assert_eq!(next_entry(&mut h).await.revision, 8);
    // From a revision on.
    let mut from = kv.watch_all_from_revision(5).await.expect("watch");
    let e = next_entry(&mut from).await;
    assert_eq!((e.revision, e.operation), (5, Operation::Delete));
    let e = next_entry(&mut from).await;
    assert_eq!((e.key.as_str(), e.revision), ("b.two", 6));
}

#[tokio::test]
async fn entries_expire_with_the_bucket_ttl_and_their_own() {
    let t = start().await;
    let kv = bucket(
        &t.js,
        kv::Config {
            max_age: Duration::from_secs(1),
            limit_markers: Some(Duration::from_secs(1)),
            ..cfg("TTL")
        },
    )
    .await;
    kv.put("session", "s".into()).await.expect("put");
    kv.create_with_ttl("short", "x".into(), Duration::from_secs(1))
        .await
        .expect("create with a ttl");
    assert!(kv.get("session").await.expect("get").is_some());
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let gone = kv.get("session").await.expect("get").is_none()
            && kv.get("short").await.expect("get").is_none();
        if gone {
            break;
        }
        assert!(Instant::now() < deadline, "entries outlive their TTL");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The key is free again.
    kv.create("short", "y".into()).await.expect("created again");
}

/// A lease: many clients race create-if-absent on one key; exactly one wins; the key frees
/// itself after the bucket's TTL.
#[tokio::test]
async fn exactly_one_client_takes_a_lease() {
    let t = start().await;
    bucket(
        &t.js,
        kv::Config {
            max_age: Duration::from_secs(1),
            history: 1,
            ..cfg("LEASES")
        },
    )
    .await;
    let url = t._server.url();
    let mut racers = Vec::new();
    for i in 0..20 {
        let url = url.clone();
        racers.push(tokio::spawn(async move {
            let client = async_nats::connect(url).await.expect("connect");
            let kv = jetstream::new(client)
                .get_key_value("LEASES")
                .await
                .expect("bucket");
            kv.create("leader", format!("client-{i}").into())
                .await
                .is_ok()
        }));
    }
    let mut winners = 0;
    for r in racers {
        if r.await.expect("racer") {
            winners += 1;
        }
    }
    assert_eq!(winners, 1, "exactly one client holds the lease");
    let kv = t.js.get_key_value("LEASES").await.expect("bucket");
    let deadline = Instant::now() + Duration::from_secs(5);
    while kv.create("leader", "next".into()).await.is_err() {
        assert!(
            Instant::now() < deadline,
            "the lease frees itself after its TTL"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn value_and_bucket_size_limits_are_enforced() {
    let t = start().await;
    let kv = bucket(
        &t.js,
        kv::Config {
            max_value_size: 64,
            max_bytes: 4096,
            ..cfg("SMALL")
        },
    )
    .await;
    kv.put("ok", vec![b'x'; 64].into()).await.expect("fits");
    assert!(
        kv.put("big", vec![b'x'; 65].into()).await.is_err(),
        "a value past max_value_size is refused"
    );
    // The bucket discards new writes once full.
    let mut refused = false;
    for i in 0..200 {
        if kv
            .put(format!("k{i}"), vec![b'y'; 60].into())
            .await
            .is_err()
        {
            refused = true;
            break;
        }
    }
    assert!(refused, "a full bucket refuses new values");
    let _ = &t.client;
}

/// The buckets of the seed fixtures, created as their owners create them (one replica here).
#[tokio::test]
async fn seed_buckets_behave() {
    let t = start().await;
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/seed-assets/assets.json");
    let assets: serde_json::Value =
        serde_json::from_slice(&std::fs::read(path).expect("fixtures")).expect("json");
    for b in assets["kv"].as_array().expect("kv buckets") {
        let name = b["bucket"].as_str().expect("name");
        let kv = bucket(
            &t.js,
            kv::Config {
                history: b["history"].as_i64().unwrap_or(1),
                max_age: Duration::from_nanos(b["ttl"].as_u64().unwrap_or(0)),
                max_bytes: b["max_bytes"].as_i64().unwrap_or(-1),
                ..cfg(name)
            },
        )
        .await;
        let status = kv.status().await.expect("status");
        assert_eq!(
            status.max_age(),
            Duration::from_nanos(b["ttl"].as_u64().unwrap_or(0))
        );
        kv.put("probe", "v1".into()).await.expect("put");
        kv.put("probe", "v2".into()).await.expect("put");
        assert_eq!(kv.get("probe").await.expect("get"), Some("v2".into()));
        // history 1: only the latest value is kept.
        assert_eq!(values(&t.js, name).await, 1, "{name}");
        assert!(
            kv.create("probe", "v3".into()).await.is_err(),
            "{name}: create over a value"
        );
    }
}

/// A compressed bucket that republishes its changes: values (a large compressible one among
/// them) read back whole, the bucket's stream says `s2`, and each put and delete goes out
/// again on the republish subject with its KV-Operation.
#[tokio::test]
async fn compressed_bucket_republishes_changes() {
    let t = start().await;
    let kv = bucket(
        &t.js,
        kv::Config {
            compression: true,
            republish: Some(async_nats::jetstream::stream::Republish {
                source: "$KV.FEED.>".into(),
                destination: "changes.>".into(),
                headers_only: false,
            }),
            ..cfg("FEED")
        },
    )
    .await;
    let mut changes = t.client.subscribe("changes.>").await.expect("sub");
    common::sync(&t.client).await;
    let big: Bytes = "compressible ".repeat(10_000).into();
    kv.put("big", big.clone()).await.expect("put big");
    kv.put("small", "x".into()).await.expect("put small");
    kv.delete("small").await.expect("delete");
    assert_eq!(kv.get("big").await.expect("get"), Some(big.clone()));
    assert_eq!(kv.get("small").await.expect("get"), None);
    let info =
        t.js.get_stream("KV_FEED")
            .await
            .expect("stream")
            .info()
            .await
            .expect("info")
            .clone();
    assert_eq!(
        info.config.compression,
        Some(async_nats::jetstream::stream::Compression::S2)
    );
    let mut seen = Vec::new();
    for _ in 0..3 {
        let m = tokio::time::timeout(Duration::from_secs(2), changes.next())
            .await
            .expect("a republished change in time")
            .expect("subscription open");
        let op = m
            .headers
            .as_ref()
            .and_then(|h| h.get("KV-Operation"))
            .map(|v| v.to_string());
        seen.push((m.subject.to_string(), op, m.payload.len()));
    }
    assert_eq!(
        seen,
        vec![
            ("changes.big".to_string(), None, big.len()),
            ("changes.small".to_string(), None, 1),
            ("changes.small".to_string(), Some("DEL".to_string()), 0),
        ]
    );
}
