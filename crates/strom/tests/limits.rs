//! Limits and liveness: max_connections, max_payload, max_control_line, stale connections and
//! slow consumers, set from a configuration file as operators set them.

mod common;

use std::io::Read;
use std::time::Duration;

use bytes::Bytes;
use common::{reference_or_skip, Raw, ServerProcess, CONNECT};
use futures::StreamExt;

/// What the server sent, without INFO lines (they carry per-server identities).
fn without_info(text: String) -> String {
    text.split_inclusive("\r\n")
        .filter(|l| !l.starts_with("INFO "))
        .collect()
}

/// Runs `check` against strom and, when installed, the reference, with the same config.
fn both(config: &str, check: impl Fn(&mut ServerProcess) -> String) {
    let mut strom = ServerProcess::strom_with_config(config, &[]);
    let ours = check(&mut strom);
    if let Some(reference) = reference_or_skip() {
        let mut nats = ServerProcess::reference(&reference, &[], Some(config));
        assert_eq!(ours, check(&mut nats), "strom and nats-server differ");
    }
}

#[test]
fn max_connections_refuses_the_next_client() {
    both("max_connections: 2\n", |server| {
        let mut a = Raw::connect(&server.addr());
        a.exchange(CONNECT);
        let mut b = Raw::connect(&server.addr());
        b.exchange(CONNECT);
        let mut c = Raw::connect(&server.addr());
        assert!(c.info.contains("\"server_id\""));
        without_info(c.until_closed())
    });
}

#[test]
fn configured_max_payload_is_announced_and_enforced() {
    both("max_payload: 1024\n", |server| {
        let mut raw = Raw::connect(&server.addr());
        assert!(raw.info.contains("\"max_payload\":1024"), "{}", raw.info);
        raw.send(CONNECT);
        raw.send(b"PUB ok 1024\r\n");
        raw.send(&[b'x'; 1024]);
        raw.send(b"\r\nPUB big 1025\r\n");
        without_info(raw.until_closed())
    });
}

#[test]
fn configured_max_control_line_is_enforced() {
    both("max_control_line: 128\n", |server| {
        let mut raw = Raw::connect(&server.addr());
        raw.send(CONNECT);
        let ok = raw.exchange(format!("SUB {} 1\r\n", "a".repeat(100)).as_bytes());
        raw.send(format!("SUB {} 1\r\n", "a".repeat(200)).as_bytes());
        ok + &without_info(raw.until_closed())
    });
}

#[test]
fn unanswered_pings_close_a_stale_connection() {
    both("ping_interval: \"100ms\"\nping_max: 2\n", |server| {
        let mut raw = Raw::connect(&server.addr());
        raw.send(CONNECT);
        raw.until_closed()
            .lines()
            .filter(|l| !l.starts_with("INFO"))
            .collect::<Vec<_>>()
            .join("|")
    });
}

#[test]
fn answered_pings_keep_a_connection_open() {
    let server = ServerProcess::strom_with_config("ping_interval: \"50ms\"\nping_max: 1\n", &[]);
    let mut raw = Raw::connect(&server.addr());
    raw.send(CONNECT);
    for _ in 0..6 {
        assert_eq!(raw.read_line(), "PING\r\n");
        raw.send(b"PONG\r\n");
    }
    assert_eq!(raw.exchange(b""), "PONG\r\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_consumer_is_cut_off_while_others_keep_receiving() {
    let config = "max_payload: 64KB\nmax_pending: 4MB\n";
    let mut server = ServerProcess::strom_with_config(config, &[]);
    // A subscriber that never reads: its socket buffers fill, then its outbound queue.
    let mut stalled = Raw::connect(&server.addr());
    stalled.exchange(&[CONNECT, b"SUB feed 1\r\n"].concat());
    let healthy = async_nats::connect(server.url()).await.expect("connect");
    let mut sub = healthy.subscribe("feed").await.expect("sub");
    common::sync(&healthy).await;
    let publisher = async_nats::connect(server.url()).await.expect("connect");
    const N: usize = 20_000;
    let payload = Bytes::from(vec![b'x'; 2048]);
    let (progress, mut seen) = tokio::sync::watch::channel(0usize);
    let receiver = tokio::spawn(async move {
        let mut n = 0;
        while n < N {
            match tokio::time::timeout(Duration::from_secs(10), sub.next()).await {
                Ok(Some(_)) => n += 1,
                _ => break,
            }
            progress.send_replace(n);
        }
        n
    });
    // The publisher stays within a window of what the healthy subscriber has read, as a
    // well-behaved producer does; the stalled subscriber falls behind by the whole stream.
    const WINDOW: usize = 500;
    for i in 0..N {
        publisher
            .publish("feed", payload.clone())
            .await
            .expect("publish never blocks");
        if i % 100 == 99 {
            let behind = tokio::time::timeout(
                Duration::from_secs(10),
                seen.wait_for(|&n| i + 1 - n <= WINDOW),
            )
            .await;
            if !matches!(behind, Ok(Ok(_))) {
                break;
            }
        }
    }
    tokio::time::timeout(Duration::from_secs(10), publisher.flush())
        .await
        .expect("publisher is not held up by the slow consumer")
        .expect("flush");
    let got = receiver.await.expect("receiver task");
    assert_eq!(
        got,
        N,
        "healthy subscriber got everything; server log:\n{}",
        server.logs().join("\n")
    );
    server.wait_for_log("Slow Consumer Detected", Duration::from_secs(5));
    // The stalled client's connection was closed: draining it ends in EOF, short of N messages.
    let received = tokio::task::spawn_blocking(move || {
        let mut all = Vec::new();
        let _ = stalled.stream.read_to_end(&mut all);
        all.len()
    })
    .await
    .expect("drain");
    assert!(
        received < N * 2048,
        "stalled client did not get everything: {received}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_deadline_cuts_off_a_reader_that_stops_reading() {
    // A large max_pending, so only the write deadline can catch the stalled reader.
    let config = "write_deadline: \"200ms\"\nmax_pending: 512MB\n";
    let mut server = ServerProcess::strom_with_config(config, &[]);
    let mut stalled = Raw::connect(&server.addr());
    stalled.exchange(&[CONNECT, b"SUB feed 1\r\n"].concat());
    let publisher = async_nats::connect(server.url()).await.expect("connect");
    let payload = Bytes::from(vec![b'x'; 8192]);
    // Enough to fill the stalled client's socket buffers many times over.
    for _ in 0..4000 {
        publisher
            .publish("feed", payload.clone())
            .await
            .expect("publish");
    }
    common::sync(&publisher).await;
    server.wait_for_log(
        "Slow Consumer Detected: WriteDeadline",
        Duration::from_secs(5),
    );
    let drained = tokio::task::spawn_blocking(move || {
        let mut all = Vec::new();
        let _ = stalled.stream.read_to_end(&mut all);
        all.len()
    })
    .await
    .expect("drain");
    assert!(drained < 4000 * 8192, "connection closed early: {drained}");
}

/// A closed client's subscription may linger in an idle publisher's match cache; its socket must
/// still be closed when the connection ends, or idle publishers would pile up open files.
#[test]
fn closed_connections_release_their_sockets() {
    let server = ServerProcess::strom(&[]);
    let fds = || {
        std::fs::read_dir(format!("/proc/{}/fd", server.pid()))
            .map(|d| d.count())
            .unwrap_or(0)
    };
    let base = fds();
    let mut publishers = Vec::new();
    for i in 0..40 {
        let mut sub = Raw::connect(&server.addr());
        sub.exchange(&[CONNECT, format!("SUB leak.{i} 1\r\n").as_bytes()].concat());
        let mut publisher = Raw::connect(&server.addr());
        publisher.exchange(&[CONNECT, format!("PUB leak.{i} 1\r\nx\r\n").as_bytes()].concat());
        let mut line = sub.read_line();
        while line.starts_with("INFO ") {
            line = sub.read_line();
        }
        assert!(line.starts_with("MSG leak."), "{line}");
        drop(sub);
        publishers.push(publisher);
    }
    // One more round trip per publisher would refresh its cache; they stay idle instead.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let expected = base + 40 + 2; // the publishers, and a little slack
    while fds() > expected && std::time::Instant::now() < deadline {
        std::thread::yield_now();
    }
    assert!(fds() <= expected, "{} open files with 40 clients", fds());
}
