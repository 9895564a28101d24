//! Encryption at rest: `jetstream { cipher, key }` keeps every message, subject and stream
//! configuration out of the files in clear; the same key reads them back; a wrong key, or no
//! key, stops start-up with a clear error and leaves the files as they were.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use async_nats::jetstream;
use common::{ServerProcess, TempDir};

const SECRET: &str = "TOP-SECRET-PAYLOAD";
const SUBJECT: &str = "classified.subject";

fn config(store: &Path, cipher: Option<&str>, key: Option<&str>) -> String {
    let mut c = format!("jetstream {{ store_dir: \"{}\"", store.display());
    if let Some(x) = cipher {
        c.push_str(&format!(", cipher: {x}"));
    }
    if let Some(k) = key {
        c.push_str(&format!(", key: \"{k}\""));
    }
    c.push_str(" }\n");
    c
}

/// Every file under `dir` with its contents.
fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d)
            .expect("readable")
            .filter_map(Result::ok)
        {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(p.clone(), std::fs::read(&p).expect("readable"));
            }
        }
    }
    out
}

/// Runs strom with `config` expecting it to refuse to start; returns what it said.
fn refused(dir: &TempDir, config: &str) -> String {
    let path = dir.0.join("refused.conf");
    std::fs::write(&path, config).expect("config written");
    let out = Command::new(common::strom_bin())
        .args(["-a", "127.0.0.1", "-p", "-1", "-c"])
        .arg(&path)
        .output()
        .expect("strom runs");
    assert!(!out.status.success(), "strom must not start");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

async fn fill(server: &ServerProcess) {
    let js = jetstream::new(async_nats::connect(server.url()).await.expect("connects"));
    js.create_stream(jetstream::stream::Config {
        name: "VAULT".into(),
        subjects: vec!["classified.>".into()],
        description: Some("the vault stream".into()),
        ..Default::default()
    })
    .await
    .expect("stream created");
    for i in 0..50 {
        js.publish(SUBJECT, format!("{SECRET} {i}").into())
            .await
            .expect("published")
            .await
            .expect("acknowledged");
    }
    // A durable consumer with acked state: its metadata and journal are sealed too.
    let stream = js.get_stream("VAULT").await.expect("stream");
    let c = stream
        .create_consumer(jetstream::consumer::pull::Config {
            durable_name: Some("vault-reader".into()),
            description: Some("the vault reader".into()),
            filter_subject: SUBJECT.into(),
            ..Default::default()
        })
        .await
        .expect("consumer created");
    let mut msgs = c.fetch().max_messages(10).messages().await.expect("fetch");
    while let Some(Ok(m)) = futures::StreamExt::next(&mut msgs).await {
        m.double_ack().await.expect("acked");
    }
}

async fn check_all(server: &ServerProcess) {
    let js = jetstream::new(async_nats::connect(server.url()).await.expect("connects"));
    let stream = js.get_stream("VAULT").await.expect("stream recovered");
    for seq in 1..=50u64 {
        let m = stream.get_raw_message(seq).await.expect("message served");
        assert_eq!(m.payload, format!("{SECRET} {}", seq - 1).into_bytes());
        assert_eq!(m.subject.as_str(), SUBJECT);
    }
    let info = stream
        .get_consumer::<jetstream::consumer::pull::Config>("vault-reader")
        .await
        .expect("consumer recovered")
        .info()
        .await
        .expect("consumer info")
        .clone();
    assert_eq!(info.ack_floor.stream_sequence, 10, "acks recovered");
}

#[tokio::test]
async fn encrypted_store_keeps_nothing_in_clear_and_needs_its_key() {
    if std::env::var("STROM_TEST_AGAINST_REFERENCE").is_ok_and(|v| v == "1") {
        return; // Strom's own files and messages.
    }
    for cipher in ["aes", "chachapoly"] {
        let dir = TempDir::new("js-crypt");
        let store = dir.0.join("store");
        let good = config(&store, Some(cipher), Some("correct horse battery staple"));
        {
            let mut server = ServerProcess::strom_with_config(&good, &[]);
            fill(&server).await;
            check_all(&server).await;
            // Stop cleanly, so the index snapshot is written (and must be sealed too).
            server.signal("TERM");
            server.wait_exit(Duration::from_secs(10));
        }
        let before = files(&store);
        for (path, bytes) in &before {
            for needle in [SECRET, SUBJECT, "the vault stream", "the vault reader"] {
                assert!(
                    !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
                    "{needle:?} in clear in {}",
                    path.display()
                );
            }
        }

        let said = refused(&dir, &config(&store, Some(cipher), Some("wrong key")));
        assert!(said.contains("does not match"), "{said}");
        let other = if cipher == "aes" { "chachapoly" } else { "aes" };
        let said = refused(
            &dir,
            &config(&store, Some(other), Some("correct horse battery staple")),
        );
        assert!(said.contains("does not match"), "{said}");
        let said = refused(&dir, &config(&store, None, None));
        assert!(said.contains("is encrypted"), "{said}");
        assert_eq!(files(&store), before, "a refused start changes nothing");

        let server = ServerProcess::strom_with_config(&good, &[]);
        check_all(&server).await;
    }
}

#[tokio::test]
async fn encryption_cannot_be_turned_on_over_clear_streams() {
    if std::env::var("STROM_TEST_AGAINST_REFERENCE").is_ok_and(|v| v == "1") {
        return;
    }
    let dir = TempDir::new("js-crypt-clear");
    let store = dir.0.join("store");
    {
        let server = ServerProcess::strom_with_config(&config(&store, None, None), &[]);
        fill(&server).await;
    }
    let before = files(&store);
    // Without encryption the payload is on disk as sent: the check above would see it.
    assert!(before
        .values()
        .any(|b| b.windows(SECRET.len()).any(|w| w == SECRET.as_bytes())));
    let said = refused(&dir, &config(&store, Some("aes"), Some("k")));
    assert!(said.contains("unencrypted streams"), "{said}");
    assert_eq!(files(&store), before);
}
