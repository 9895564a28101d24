//! Durability, tested by killing for real: publish with acknowledgements while the server is
//! killed with SIGKILL at a random moment, restart it on the same store, and check that every
//! acknowledged message is there with its sequence and contents; likewise consume with acks
//! and check that no answered ack is forgotten and no message lost. Then damage the files
//! (truncate a segment, flip a bit) and check that the server starts, reports the damage, and
//! serves nothing wrong.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_nats::jetstream;
use common::{ServerProcess, TempDir};
use futures::stream::{FuturesUnordered, StreamExt};

const ROUNDS: u32 = 6;
/// Publishes in flight at once, so that batches share fsyncs.
const WINDOW: usize = 64;

/// A small pseudo-random generator (xorshift), seeded from the clock; the seed is printed so
/// that a failing run can be repeated with STROM_TEST_SEED.
struct Rng(u64);

impl Rng {
    fn new() -> Rng {
        let seed = std::env::var("STROM_TEST_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(1, |d| d.as_nanos() as u64)
                    | 1
            });
        eprintln!("STROM_TEST_SEED={seed}");
        Rng(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

type Acked = Arc<Mutex<BTreeMap<u64, Vec<u8>>>>;

fn start(store: &Path) -> ServerProcess {
    ServerProcess::strom(&["-js", "-sd", store.to_str().expect("utf-8 path")])
}

/// Publishes until the connection fails, recording every acknowledged (sequence, payload);
/// signals `ready` once `kill_after` acknowledgements have come in this round.
async fn publish_until_killed(
    url: String,
    round: u32,
    acked: Acked,
    kill_after: u64,
    ready: tokio::sync::oneshot::Sender<()>,
) {
    let Ok(client) = async_nats::connect(url).await else {
        return;
    };
    let mut js = jetstream::new(client);
    // Publishes outstanding at the kill fail quickly instead of waiting 5 s each.
    js.set_timeout(Duration::from_millis(300));
    let mut ready = Some(ready);
    let mut count = 0u64;
    let mut inflight = FuturesUnordered::new();
    let mut n = 0u64;
    loop {
        while inflight.len() < WINDOW {
            n += 1;
            let payload = format!(
                "round {round} message {n} {}",
                "x".repeat((n % 200) as usize)
            );
            match js.publish("dur.data", payload.clone().into()).await {
                Ok(ack) => inflight.push(async move { (ack.await, payload) }),
                Err(_) => return,
            }
        }
        match inflight.next().await {
            Some((Ok(ack), payload)) => {
                acked
                    .lock()
                    .expect("not poisoned")
                    .insert(ack.sequence, payload.into_bytes());
                count += 1;
                if count >= kill_after {
                    if let Some(r) = ready.take() {
                        let _ = r.send(());
                    }
                }
            }
            Some((Err(_), _)) | None => return,
        }
    }
}

/// Checks that every acknowledged message is served with its contents, reading the stream
/// with batched direct gets.
async fn verify(server: &ServerProcess, acked: &BTreeMap<u64, Vec<u8>>) {
    let client = async_nats::connect(server.url()).await.expect("connects");
    let mut stored: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
    let mut from = 1u64;
    loop {
        let inbox = client.new_inbox();
        let mut sub = client.subscribe(inbox.clone()).await.expect("subscribes");
        let body = format!(r#"{{"seq":{from},"batch":5000}}"#);
        client
            .publish_with_reply("$JS.API.DIRECT.GET.DUR", inbox, body.into())
            .await
            .expect("request sent");
        let mut got_any = false;
        loop {
            let msg = tokio::time::timeout(Duration::from_secs(10), sub.next())
                .await
                .expect("direct get answers")
                .expect("subscription open");
            let headers = msg.headers.clone().unwrap_or_default();
            if msg.status.is_some() {
                break; // 204 EOB, or 404 when nothing is left
            }
            let seq: u64 = headers
                .get(async_nats::header::NATS_SEQUENCE)
                .unwrap_or_else(|| {
                    panic!(
                        "no Nats-Sequence: {headers:?} {:?} {:?}",
                        msg.status, msg.payload
                    )
                })
                .as_str()
                .parse()
                .expect("numeric sequence");
            stored.insert(seq, msg.payload.to_vec());
            from = seq + 1;
            got_any = true;
        }
        if !got_any {
            break;
        }
    }
    for (seq, payload) in acked {
        let got = stored
            .get(seq)
            .unwrap_or_else(|| panic!("acknowledged message {seq} is lost"));
        assert_eq!(got, payload, "message {seq} changed");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_messages_survive_kill_9() {
    let dir = TempDir::new("js-kill9");
    let store = dir.0.join("store");
    let mut rng = Rng::new();
    let acked: Acked = Arc::new(Mutex::new(BTreeMap::new()));
    {
        let server = start(&store);
        let client = async_nats::connect(server.url()).await.expect("connects");
        jetstream::new(client)
            .create_stream(jetstream::stream::Config {
                name: "DUR".into(),
                subjects: vec!["dur.>".into()],
                allow_direct: true,
                ..Default::default()
            })
            .await
            .expect("stream created");
    }
    for round in 1..=ROUNDS {
        let mut server = start(&store);
        if round > 1 {
            let so_far = acked.lock().expect("not poisoned").clone();
            verify(&server, &so_far).await;
        }
        let before = acked.lock().expect("not poisoned").len();
        // The kill comes after a random number of acknowledgements, mid-stream.
        let (ready, killed_at) = tokio::sync::oneshot::channel();
        let publisher = tokio::spawn(publish_until_killed(
            server.url(),
            round,
            acked.clone(),
            200 + rng.below(3000),
            ready,
        ));
        tokio::time::timeout(Duration::from_secs(30), killed_at)
            .await
            .expect("the publisher gets acknowledgements")
            .expect("the publisher signals");
        server.child.kill().expect("SIGKILL delivered");
        let _ = server.child.wait();
        // The publisher ends on its own once its outstanding publishes fail.
        tokio::time::timeout(Duration::from_secs(20), publisher)
            .await
            .expect("the publisher notices the kill")
            .expect("publisher task");
        let after = acked.lock().expect("not poisoned").len();
        assert!(after > before, "round {round} acknowledged nothing");
    }
    let server = start(&store);
    let all = acked.lock().expect("not poisoned").clone();
    verify(&server, &all).await;
    eprintln!(
        "{} acknowledged messages over {ROUNDS} kills, all present",
        all.len()
    );
}

/// The segment files of the stream, in order.
fn segments(store: &Path) -> Vec<PathBuf> {
    let dir = store.join("jetstream/$G/streams/DMG/msgs");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("segment directory")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "seg"))
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn damaged_segments_are_detected_and_never_served() {
    if std::env::var("STROM_TEST_AGAINST_REFERENCE").is_ok_and(|v| v == "1") {
        return; // Strom's own file layout.
    }
    let dir = TempDir::new("js-damage");
    let store = dir.0.join("store");
    let mut rng = Rng::new();
    let mut sent = BTreeMap::new();
    {
        let server = start(&store);
        let client = async_nats::connect(server.url()).await.expect("connects");
        let js = jetstream::new(client);
        js.create_stream(jetstream::stream::Config {
            name: "DMG".into(),
            subjects: vec!["dmg".into()],
            ..Default::default()
        })
        .await
        .expect("stream created");
        for i in 0..300u64 {
            let payload = format!("payload {i} {}", "y".repeat((i % 50) as usize));
            let ack = js
                .publish("dmg", payload.clone().into())
                .await
                .expect("published")
                .await
                .expect("acknowledged");
            sent.insert(ack.sequence, payload.into_bytes());
        }
    }
    let files = segments(&store);
    let seg = files.last().expect("a segment");
    let mut bytes = std::fs::read(seg).expect("read segment");
    // Flip one bit somewhere in the middle of the records, and cut the tail at a random byte
    // after it. (Segments are allocated ahead: the records end where the zeros begin.)
    let len = bytes.iter().rposition(|&b| b != 0).map_or(0, |p| p + 1) as u64;
    let flip = (len / 4 + rng.below(len / 4)) as usize;
    bytes[flip] ^= 1 << rng.below(8);
    let cut = (len / 2 + rng.below(len / 2)) as usize;
    bytes.truncate(cut);
    std::fs::write(seg, &bytes).expect("write damaged segment");

    let started = Instant::now();
    let mut server = start(&store);
    let logs = server.logs().join("\n");
    assert!(
        logs.contains("damaged data"),
        "the damage is reported at start-up:\n{logs}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    let client = async_nats::connect(server.url()).await.expect("connects");
    let stream = jetstream::new(client)
        .get_stream("DMG")
        .await
        .expect("stream recovered");
    let mut served = 0;
    let mut gap_seen = false;
    for (seq, payload) in &sent {
        match stream.get_raw_message(*seq).await {
            Ok(msg) => {
                assert!(!gap_seen, "message {seq} served after the damage");
                assert_eq!(&msg.payload[..], &payload[..], "message {seq} changed");
                served += 1;
            }
            Err(_) => gap_seen = true,
        }
    }
    assert!(served > 0, "messages before the damage are kept");
    assert!(gap_seen, "messages at and after the damage are not served");
    // The stream goes on after the damage: new messages are stored and served.
    let js = jetstream::new(async_nats::connect(server.url()).await.expect("connects"));
    let ack = js
        .publish("dmg", "after".into())
        .await
        .expect("published")
        .await
        .expect("acknowledged");
    let msg = stream
        .get_raw_message(ack.sequence)
        .await
        .expect("new message served");
    assert_eq!(&msg.payload[..], b"after");
}

/// `STREAM.MSG.DELETE` erases the message from the files unless `no_erase` is set.
#[tokio::test]
async fn deleted_messages_are_erased_from_the_files() {
    if std::env::var("STROM_TEST_AGAINST_REFERENCE").is_ok_and(|v| v == "1") {
        return; // Strom's own files.
    }
    let dir = TempDir::new("js-erase");
    let store = dir.0.join("store");
    let server = start(&store);
    let client = async_nats::connect(server.url()).await.expect("connects");
    let js = jetstream::new(client.clone());
    js.create_stream(jetstream::stream::Config {
        name: "ER".into(),
        subjects: vec!["er".into()],
        ..Default::default()
    })
    .await
    .expect("stream created");
    for p in ["ERASE-ME", "KEEP-BYTES", "plain"] {
        js.publish("er", p.into())
            .await
            .expect("published")
            .await
            .expect("acknowledged");
    }
    for body in [r#"{"seq":1}"#, r#"{"seq":2,"no_erase":true}"#] {
        let reply = client
            .request("$JS.API.STREAM.MSG.DELETE.ER", body.into())
            .await
            .expect("answered");
        assert!(
            std::str::from_utf8(&reply.payload)
                .expect("text")
                .contains("\"success\":true"),
            "{:?}",
            reply.payload
        );
    }
    let on_disk = |needle: &str| {
        segments_of(&store, "ER").iter().any(|p| {
            std::fs::read(p)
                .expect("read")
                .windows(needle.len())
                .any(|w| w == needle.as_bytes())
        })
    };
    assert!(
        !on_disk("ERASE-ME"),
        "an erased message is gone from the files"
    );
    assert!(
        on_disk("KEEP-BYTES"),
        "no_erase leaves the bytes until the segment goes"
    );
    let stream = js.get_stream("ER").await.expect("stream");
    assert!(stream.get_raw_message(1).await.is_err());
    assert!(stream.get_raw_message(2).await.is_err());
    assert_eq!(
        &stream.get_raw_message(3).await.expect("kept").payload[..],
        b"plain"
    );
}

fn segments_of(store: &Path, stream: &str) -> Vec<PathBuf> {
    let dir = store.join(format!("jetstream/$G/streams/{stream}/msgs"));
    std::fs::read_dir(&dir)
        .expect("segment directory")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "seg"))
        .collect()
}

/// `compression: s2` stores compressible payloads in less room and serves them unchanged.
#[tokio::test]
async fn compressed_streams_store_less_and_serve_the_same() {
    if std::env::var("STROM_TEST_AGAINST_REFERENCE").is_ok_and(|v| v == "1") {
        return; // Strom's own files.
    }
    let dir = TempDir::new("js-compress");
    let store = dir.0.join("store");
    let server = start(&store);
    let js = jetstream::new(async_nats::connect(server.url()).await.expect("connects"));
    let stream = js
        .create_stream(jetstream::stream::Config {
            name: "CZ".into(),
            subjects: vec!["cz".into()],
            compression: Some(jetstream::stream::Compression::S2),
            ..Default::default()
        })
        .await
        .expect("stream created");
    let body = "compressible text, ".repeat(3000);
    for _ in 0..10 {
        js.publish("cz", body.clone().into())
            .await
            .expect("published")
            .await
            .expect("acknowledged");
    }
    let used: usize = segments_of(&store, "CZ")
        .iter()
        .map(|p| {
            let b = std::fs::read(p).expect("read");
            b.iter().rposition(|&x| x != 0).map_or(0, |i| i + 1)
        })
        .sum();
    assert!(
        used < body.len(),
        "{used} bytes for ten {}-byte messages",
        body.len()
    );
    for seq in 1..=10 {
        let m = stream.get_raw_message(seq).await.expect("served");
        assert_eq!(m.payload.len(), body.len());
        assert_eq!(&m.payload[..], body.as_bytes());
    }
}

/// Takes messages from a work-queue stream with a pull consumer, acking each with a reply,
/// until the connection fails: records every sequence whose ack was answered, every delivery
/// of a sequence already recorded (which must never happen), and the ack in flight when the
/// connection failed. Signals `ready` after `kill_after` answered acks.
async fn consume_until_killed(
    url: String,
    acked: Arc<Mutex<std::collections::BTreeSet<u64>>>,
    again: Arc<Mutex<Vec<u64>>>,
    doubt: Arc<Mutex<Vec<u64>>>,
    kill_after: u64,
    ready: tokio::sync::oneshot::Sender<()>,
) {
    let Ok(client) = async_nats::ConnectOptions::new()
        .request_timeout(Some(Duration::from_millis(300)))
        .connect(url)
        .await
    else {
        return;
    };
    let mut js = jetstream::new(client);
    // Acks and pulls outstanding at the kill fail quickly instead of waiting 5 s each.
    js.set_timeout(Duration::from_millis(300));
    let Ok(stream) = js.get_stream("WQDUR").await else {
        return;
    };
    let Ok(consumer) = stream
        .get_consumer::<jetstream::consumer::pull::Config>("W")
        .await
    else {
        return;
    };
    let mut ready = Some(ready);
    let mut count = 0u64;
    loop {
        let Ok(mut batch) = consumer
            .batch()
            .max_messages(100)
            .expires(Duration::from_millis(500))
            .messages()
            .await
        else {
            return;
        };
        let mut got_any = false;
        while let Some(Ok(m)) = batch.next().await {
            got_any = true;
            let Ok(info) = m.info() else {
                return;
            };
            let seq = info.stream_sequence;
            if acked.lock().expect("not poisoned").contains(&seq) {
                again.lock().expect("not poisoned").push(seq);
            }
            if m.double_ack().await.is_err() {
                // The kill came with this ack in flight: the server may have made it durable
                // and answered, the answer lost with the connection.
                doubt.lock().expect("not poisoned").push(seq);
                return;
            }
            acked.lock().expect("not poisoned").insert(seq);
            count += 1;
            if count >= kill_after {
                if let Some(r) = ready.take() {
                    let _ = r.send(());
                }
            }
        }
        // Done when nothing more comes (after the signal, or when none is wanted).
        if !got_any && (ready.is_none() || kill_after == u64::MAX) {
            return;
        }
    }
}

/// Kill -9 while a consumer acks: after each restart no message whose ack was answered comes
/// again, none is lost (the unacknowledged ones come back; one whose ack was in flight at the
/// kill may be gone, its ack durable), and the work-queue stream ends empty — removals for durable acks are redone at start-up if the kill came before they
/// reached the disk.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answered_acks_survive_kill_9() {
    const MSGS: u64 = 3000;
    let dir = TempDir::new("js-kill9-acks");
    let store = dir.0.join("store");
    let mut rng = Rng::new();
    {
        let server = start(&store);
        let client = async_nats::connect(server.url()).await.expect("connects");
        let js = jetstream::new(client);
        let stream = js
            .create_stream(jetstream::stream::Config {
                name: "WQDUR".into(),
                subjects: vec!["wq.>".into()],
                retention: jetstream::stream::RetentionPolicy::WorkQueue,
                ..Default::default()
            })
            .await
            .expect("stream created");
        stream
            .create_consumer(jetstream::consumer::pull::Config {
                durable_name: Some("W".into()),
                ack_policy: jetstream::consumer::AckPolicy::Explicit,
                ack_wait: Duration::from_millis(500),
                max_ack_pending: 10_000,
                ..Default::default()
            })
            .await
            .expect("consumer created");
        let mut acks = FuturesUnordered::new();
        for i in 0..MSGS {
            let ack = js
                .publish(format!("wq.{}", i % 7), format!("m{i}").into())
                .await
                .expect("published");
            acks.push(async move { ack.await });
            while acks.len() >= WINDOW {
                acks.next().await.expect("ack").expect("stored");
            }
        }
        while let Some(a) = acks.next().await {
            a.expect("stored");
        }
    }
    let acked = Arc::new(Mutex::new(std::collections::BTreeSet::new()));
    let again = Arc::new(Mutex::new(Vec::new()));
    let doubt = Arc::new(Mutex::new(Vec::new()));
    for round in 1..=4u32 {
        let mut server = start(&store);
        let before = acked.lock().expect("not poisoned").len();
        let (ready, killed_at) = tokio::sync::oneshot::channel();
        let consumer = tokio::spawn(consume_until_killed(
            server.url(),
            acked.clone(),
            again.clone(),
            doubt.clone(),
            50 + rng.below(400),
            ready,
        ));
        tokio::time::timeout(Duration::from_secs(30), killed_at)
            .await
            .expect("the consumer gets messages")
            .expect("the consumer signals");
        server.child.kill().expect("SIGKILL delivered");
        let _ = server.child.wait();
        tokio::time::timeout(Duration::from_secs(20), consumer)
            .await
            .expect("the consumer notices the kill")
            .expect("consumer task");
        let after = acked.lock().expect("not poisoned").len();
        assert!(after > before, "round {round} acked nothing");
    }
    // The rest, without a kill: messages delivered before the last kill come again only after
    // their ack wait, so keep taking until all are acked (or a deadline passes).
    let server = start(&store);
    let deadline = Instant::now() + Duration::from_secs(30);
    while (acked.lock().expect("not poisoned").len() as u64) < MSGS && Instant::now() < deadline {
        let (ready, _) = tokio::sync::oneshot::channel();
        tokio::time::timeout(
            Duration::from_secs(30),
            consume_until_killed(
                server.url(),
                acked.clone(),
                again.clone(),
                doubt.clone(),
                u64::MAX,
                ready,
            ),
        )
        .await
        .expect("the rest is consumed");
    }
    let again = again.lock().expect("not poisoned").clone();
    assert!(
        again.is_empty(),
        "{} answered acks came again, first {:?}",
        again.len(),
        &again[..again.len().min(20)]
    );
    let acked = acked.lock().expect("not poisoned").clone();
    let doubt = doubt.lock().expect("not poisoned").clone();
    assert!(
        doubt.len() <= 4,
        "one ack in flight per kill at most: {doubt:?}"
    );
    // A message whose ack was in flight at a kill may be gone (its ack was durable) or come
    // again; every other one must have been acked.
    let missing: Vec<u64> = (1..=MSGS)
        .filter(|s| !acked.contains(s) && !doubt.contains(s))
        .collect();
    assert!(
        missing.is_empty(),
        "{} never delivered, first {:?}",
        missing.len(),
        &missing[..missing.len().min(20)]
    );
    let client = async_nats::connect(server.url()).await.expect("connects");
    let mut stream = jetstream::new(client)
        .get_stream("WQDUR")
        .await
        .expect("stream");
    let info = stream.info().await.expect("info");
    assert_eq!(
        info.state.messages, 0,
        "acked work is removed: {:?}",
        info.state
    );
}
