//! Coverage from a third client library: nats.js (`@nats-io/kv`, `@nats-io/obj`) drives
//! key-value buckets and the object store against the real binary (`tests/js/kv_objects.mjs`).
//! scripts/test installs the pinned packages into `tests/js/node_modules` with `npm ci`; without
//! node or those packages the test is skipped, unless `STROM_REQUIRE_REFERENCE` demands it.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{ServerProcess, TempDir};

/// The directory holding the nats.js scripts and their `node_modules`.
fn js_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/js")
}

/// A `node` that runs: `STROM_NODE`, then `node` on PATH.
fn node() -> Option<PathBuf> {
    let candidate = std::env::var("STROM_NODE")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from("node"));
    Command::new(&candidate)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
        .then_some(candidate)
}

/// `node` and the installed packages, or why the test cannot run.
fn node_with_packages() -> Result<PathBuf, &'static str> {
    let node = node().ok_or("node not found")?;
    let modules = js_dir().join("node_modules/@nats-io");
    let installed = ["transport-node", "jetstream", "kv", "obj"]
        .iter()
        .all(|p| modules.join(p).join("package.json").exists());
    if !installed {
        return Err("nats.js not installed in crates/strom/tests/js/node_modules (npm ci there)");
    }
    Ok(node)
}

fn run_script(script: &str, url: &str) {
    let node = match node_with_packages() {
        Ok(node) => node,
        Err(why) if std::env::var("STROM_REQUIRE_REFERENCE").is_ok() => {
            panic!("nats.js required (STROM_REQUIRE_REFERENCE) but unavailable: {why}")
        }
        Err(why) => {
            eprintln!("skipping: {why}");
            return;
        }
    };
    let out = Command::new(node)
        .arg(script)
        .arg(url)
        .current_dir(js_dir())
        .output()
        .expect("node runs");
    assert!(
        out.status.success(),
        "{script} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn nats_js_drives_kv_buckets_and_object_store() {
    let dir = TempDir::new("node-kv-obj");
    let store = dir.0.join("store");
    let server = ServerProcess::strom(&["-js", "-sd", store.to_str().expect("utf-8")]);
    run_script("kv_objects.mjs", &server.url());
}
