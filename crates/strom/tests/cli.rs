//! The command line: nats-server's flags, version and help, pid files, signals.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{strom_bin, Raw, ServerProcess, TempDir, CONNECT};

fn strom(args: &[&str]) -> std::process::Output {
    Command::new(strom_bin())
        .args(args)
        .output()
        .expect("strom runs")
}

#[test]
fn version_flag_prints_version() {
    for flag in ["-v", "--version", "-version"] {
        let out = strom(&[flag]);
        assert!(out.status.success());
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.starts_with("strom: v"), "{text}");
        assert!(text.contains("nats-server v2.15.1 compatible"), "{text}");
    }
}

#[test]
fn help_lists_nats_server_flags() {
    let out = strom(&["-h"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "-a, --addr, --net",
        "-js, --jetstream",
        "-sd, --store_dir",
        "-DV",
        "--signal",
        "-P, --pid",
    ] {
        assert!(text.contains(flag), "help mentions {flag}");
    }
}

#[test]
fn unknown_flag_is_refused_like_go_flag() {
    let out = strom(&["--bogus"]);
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(
        text.starts_with("flag provided but not defined: -bogus"),
        "{text}"
    );
}

#[test]
fn flag_forms_single_and_double_dash_with_equals() {
    let server = ServerProcess::strom(&["-name=alpha", "--DV=false"]);
    let raw = Raw::connect(&server.addr());
    assert!(
        raw.info.contains("\"server_name\":\"alpha\""),
        "{}",
        raw.info
    );
    let server = ServerProcess::strom(&["server", "--server_name", "beta"]);
    let raw = Raw::connect(&server.addr());
    assert!(
        raw.info.contains("\"server_name\":\"beta\""),
        "{}",
        raw.info
    );
}

#[test]
fn flags_for_later_features_warn_instead_of_being_ignored() {
    let mut server = ServerProcess::strom(&["--syslog", "--routes", "nats://x:1"]);
    server.wait_for_log(
        "Flag --syslog is accepted but not yet supported",
        Duration::from_secs(5),
    );
    server.wait_for_log(
        "Flag --routes is accepted but not yet supported",
        Duration::from_secs(5),
    );
}

#[test]
fn sigterm_exits_cleanly_and_removes_pid_file() {
    let dir = TempDir::new("pid");
    let pid_file = dir.0.join("strom.pid");
    let mut server = ServerProcess::strom(&["-P", pid_file.to_str().expect("utf-8 path")]);
    let written = std::fs::read_to_string(&pid_file).expect("pid file written");
    assert_eq!(written.trim(), server.pid().to_string());
    let mut raw = Raw::connect(&server.addr());
    raw.exchange(CONNECT);
    server.signal("TERM");
    let status = server.wait_exit(Duration::from_secs(5)).expect("exits");
    assert!(status.success(), "{status:?}");
    let rest = raw.until_closed();
    assert!(
        rest.lines().all(|l| l.starts_with("INFO ")),
        "closed without error: {rest:?}"
    );
    assert!(!pid_file.exists(), "pid file removed");
}

/// Accounts without JetStream beside one with it: their API subscriptions (which answer "not
/// enabled") once kept JetStream's API thread alive, and SIGTERM never finished.
#[test]
fn sigterm_exits_with_accounts_that_have_no_jetstream() {
    let dir = TempDir::new("term-accounts");
    let store = dir.0.to_str().expect("utf-8 path");
    let config = "accounts { APP { jetstream: enabled, users [{user: a, password: a}] } }";
    let mut server = ServerProcess::strom_with_config(config, &["-js", "-sd", store]);
    server.signal("TERM");
    let status = server.wait_exit(Duration::from_secs(5)).expect("exits");
    assert!(status.success(), "{status:?}");
}

#[test]
fn debug_flag_logs_connections() {
    let mut server = ServerProcess::strom(&["-D"]);
    let mut raw = Raw::connect(&server.addr());
    raw.exchange(CONNECT);
    server.wait_for_log("- cid:", Duration::from_secs(5));
    server.wait_for_log("Client connection created", Duration::from_secs(5));
}

/// Starts strom logging to `log`.
fn strom_logging_to(log: &std::path::Path) -> std::process::Child {
    Command::new(strom_bin())
        .args(["-a", "127.0.0.1", "-p", "-1", "-l"])
        .arg(log)
        .spawn()
        .expect("starts")
}

/// Waits until the file at `path` contains `needle`.
fn wait_for_file(path: &std::path::Path, needle: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if text.contains(needle) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{needle:?} not in {}: {text}",
            path.display()
        );
        std::thread::yield_now();
    }
}

#[test]
fn log_file_flag_redirects_logs() {
    let dir = TempDir::new("log");
    let log = dir.0.join("strom.log");
    let mut child = strom_logging_to(&log);
    wait_for_file(&log, "[INF] Server is ready");
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn signal_flag_sends_lame_duck_to_pid_file() {
    let dir = TempDir::new("sig");
    let pid_file = dir.0.join("strom.pid");
    let mut server = ServerProcess::strom(&["-P", pid_file.to_str().expect("utf-8 path")]);
    let mut raw = Raw::connect(&server.addr());
    raw.exchange(CONNECT);
    let spec = format!("ldm={}", pid_file.display());
    let out = strom(&["--signal", &spec]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    server.wait_for_log("Entering lame duck mode", Duration::from_secs(5));
    let info = loop {
        let line = raw.read_line();
        assert!(line.starts_with("INFO "), "only INFO lines arrive: {line}");
        if line.contains("\"ldm\":true") {
            break line;
        }
    };
    assert!(info.ends_with(" \r\n"));
    let out = strom(&["--signal", &format!("quit={}", server.pid())]);
    assert!(out.status.success());
    assert!(server.wait_exit(Duration::from_secs(5)).is_some());
}

#[test]
fn signal_flag_rejects_unknown_commands() {
    let out = strom(&["--signal", "explode=1"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown signal \"explode\""));
}

#[test]
fn logtime_off_drops_timestamps() {
    let mut server = ServerProcess::strom(&["-T=false"]);
    let line = server.wait_for_log("Server is ready", Duration::from_secs(5));
    assert_eq!(line, format!("[{}] [INF] Server is ready", server.pid()));
    let mut server = ServerProcess::strom_with_config("logtime: false\n", &[]);
    let line = server.wait_for_log("Server is ready", Duration::from_secs(5));
    assert_eq!(line, format!("[{}] [INF] Server is ready", server.pid()));
}

#[test]
fn sigusr1_reopens_a_rotated_log_file() {
    let dir = TempDir::new("rotate");
    let log = dir.0.join("strom.log");
    let mut child = strom_logging_to(&log);
    wait_for_file(&log, "Server is ready");
    // A log rotator moves the file away, then signals.
    std::fs::rename(&log, dir.0.join("strom.log.1")).expect("rotated");
    let status = Command::new("kill")
        .args(["-USR1", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    wait_for_file(&log, "File log re-opened");
    let _ = child.kill();
    let _ = child.wait();
}
