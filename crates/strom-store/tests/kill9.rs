//! Durability for real: a writer process appends, syncs and then acknowledges (prints) each
//! batch; it is killed with SIGKILL at a random moment, and every acknowledged message must be
//! in the store afterwards, with the same sequence and contents. Repeated, each run continuing
//! the same store.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use strom_store::{FileStore, Store};

fn writer_bin() -> std::path::PathBuf {
    // Built by `cargo test` as an example of this crate.
    let mut p = std::env::current_exe().expect("test binary path");
    p.pop();
    if p.ends_with("deps") {
        p.pop();
    }
    p.join("examples").join("ack_writer")
}

#[test]
fn acknowledged_appends_survive_kill_9() {
    let bin = writer_bin();
    if !bin.exists() {
        let status = Command::new(env!("CARGO"))
            .args([
                "build",
                "-q",
                "-p",
                "strom-store",
                "--example",
                "ack_writer",
            ])
            .status()
            .expect("cargo builds the writer");
        assert!(status.success());
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let mut acked: u64 = 0;
    for round in 0..8u64 {
        let mut child = Command::new(&bin)
            .arg(dir.path())
            .stdout(Stdio::piped())
            .spawn()
            .expect("writer starts");
        let stdout = child.stdout.take().expect("piped");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Ok(seq) = line.parse::<u64>() {
                    if tx.send(seq).is_err() {
                        break;
                    }
                }
            }
        });
        // Let it write for a while that varies per round, then kill it mid-stride.
        let run_for = Duration::from_millis(30 + (round * 37) % 120);
        let start = Instant::now();
        while start.elapsed() < run_for {
            if let Ok(seq) = rx.recv_timeout(Duration::from_millis(5)) {
                acked = acked.max(seq);
            }
        }
        child.kill().expect("SIGKILL");
        let _ = child.wait();
        while let Ok(seq) = rx.try_recv() {
            acked = acked.max(seq);
        }
        let (store, recovery) = FileStore::open(dir.path()).expect("reopens after kill -9");
        assert!(
            store.state().last_seq >= acked,
            "round {round}: acknowledged up to {acked}, store ends at {} ({recovery:?})",
            store.state().last_seq
        );
        for seq in 1..=acked {
            let m = store
                .get(seq)
                .expect("readable")
                .unwrap_or_else(|| panic!("acked {seq} lost"));
            let want = format!("payload-{seq}-{}", "x".repeat((seq % 300) as usize));
            assert_eq!(&m.payload[..], want.as_bytes(), "seq {seq}");
            assert_eq!(&m.subject[..], format!("dur.{}", seq % 7).as_bytes());
        }
    }
    assert!(acked > 0, "the writer acknowledged something");
}
