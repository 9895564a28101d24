//! Coverage from a second client library: nats-py drives JetStream streams against the real
//! binary (`tests/py/*.py`, one process per script). scripts/test installs nats-py into
//! `.venv`; without it the test is skipped, unless `STROM_REQUIRE_REFERENCE` demands it.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{ServerProcess, TempDir};

/// A Python with nats-py: `STROM_PYTHON`, then the repository's `.venv`.
fn python() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let candidates = [
        std::env::var("STROM_PYTHON").ok().map(PathBuf::from),
        Some(root.join(".venv/bin/python")),
    ];
    candidates.into_iter().flatten().find(|p| {
        Command::new(p)
            .args(["-c", "import nats"])
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

fn run_script(script: &str, url: &str) {
    let Some(py) = python() else {
        if std::env::var("STROM_REQUIRE_REFERENCE").is_ok() {
            panic!("nats-py required (STROM_REQUIRE_REFERENCE) but not installed in .venv");
        }
        eprintln!("skipping: nats-py not installed");
        return;
    };
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/py")
        .join(script);
    let out = Command::new(py)
        .arg(&path)
        .arg(url)
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "{script} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn nats_py_drives_jetstream_streams() {
    let dir = TempDir::new("py-js");
    let store = dir.0.join("store");
    let server = ServerProcess::strom(&["-js", "-sd", store.to_str().expect("utf-8")]);
    run_script("jetstream_streams.py", &server.url());
}

#[test]
fn nats_py_drives_jetstream_consumers() {
    let dir = TempDir::new("py-js-consumers");
    let store = dir.0.join("store");
    let server = ServerProcess::strom(&["-js", "-sd", store.to_str().expect("utf-8")]);
    run_script("jetstream_consumers.py", &server.url());
}

#[test]
fn nats_py_drives_kv_and_object_store() {
    let dir = TempDir::new("py-kv-objects");
    let store = dir.0.join("store");
    let server = ServerProcess::strom(&["-js", "-sd", store.to_str().expect("utf-8")]);
    run_script("kv_objects.py", &server.url());
}
