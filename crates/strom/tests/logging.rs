//! Logs: size-limited rotation and pruning named as nats-server names them, reopening on
//! SIGUSR1, the JSON format, and protocol traces (secrets redacted, payloads quoted and cut)
//! compared line by line with the reference nats-server's.
//!
//! Rotation tests run the same scenario against strom and, when it is installed, the
//! reference, and check both the same way.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{reference_or_skip, strom_bin, Raw, ServerProcess, TempDir};

const WAIT: Duration = Duration::from_secs(10);

/// A server logging to a file, killed when dropped.
struct FileLogged {
    child: Child,
    log: PathBuf,
    port: u16,
}

impl FileLogged {
    /// Starts `bin` on a free port with `args`, and with `config` written next to the log
    /// when given; waits until it is ready.
    fn start(bin: &Path, dir: &TempDir, args: &[&str], config: Option<&str>) -> FileLogged {
        let log = dir.0.join("server.log");
        let mut cmd = Command::new(bin);
        cmd.args(["-a", "127.0.0.1", "-p", "-1"]);
        match config {
            Some(text) => {
                let path = dir.0.join("server.conf");
                let text = text.replace("LOGFILE", &log.display().to_string());
                std::fs::write(&path, text).expect("config written");
                cmd.arg("-c").arg(path);
            }
            None => {
                cmd.arg("-l").arg(&log);
            }
        }
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = cmd.spawn().expect("server starts");
        let mut server = FileLogged {
            child,
            log,
            port: 0,
        };
        let text = server.wait_for("Server is ready");
        server.port = listening_port(&text).expect("the log names the client port");
        server
    }

    fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Every log file's text (the current one and its backups, oldest first).
    fn all_text(&self) -> String {
        log_files(&self.log)
            .iter()
            .map(|p| std::fs::read_to_string(p).unwrap_or_default())
            .collect()
    }

    /// Waits until some log file holds `needle`; returns all the text.
    fn wait_for(&self, needle: &str) -> String {
        common::poll(WAIT, || {
            Some(self.all_text()).filter(|t| t.contains(needle))
        })
        .unwrap_or_else(|| panic!("{needle:?} not logged in {WAIT:?}:\n{}", self.all_text()))
    }

    fn signal(&self, sig: &str) {
        let status = Command::new("kill")
            .args([&format!("-{sig}"), &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
    }
}

impl Drop for FileLogged {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The port in "Listening for client connections on host:port", text or JSON.
fn listening_port(text: &str) -> Option<u16> {
    let at = text.find("Listening for client connections on ")?;
    let rest = &text[at + "Listening for client connections on ".len()..];
    let addr: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == ':')
        .collect();
    addr.rsplit(':').next()?.parse().ok()
}

/// `log` and its rotated backups, oldest first (backup names sort by time).
fn log_files(log: &Path) -> Vec<PathBuf> {
    let mut files = backups(log);
    files.push(log.to_path_buf());
    files
}

/// The files nats-server's rotation made of `log`: `<name>.YYYY.MM.DD.HH.MM.SS.NNNNNNNNN`.
fn backups(log: &Path) -> Vec<PathBuf> {
    let name = log
        .file_name()
        .and_then(|n| n.to_str())
        .expect("log has a name");
    let dir = log.parent().expect("log has a folder");
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("folder lists")
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.len() > name.len() && n.starts_with(name))
        .map(|n| dir.join(n))
        .collect();
    found.sort();
    found
}

/// Waits until the log files stop changing (the last line written may still rotate).
fn settle(log: &Path) {
    let snapshot = || -> Vec<(PathBuf, u64)> {
        log_files(log)
            .into_iter()
            .map(|p| {
                let len = std::fs::metadata(&p).map_or(0, |m| m.len());
                (p, len)
            })
            .collect()
    };
    let deadline = Instant::now() + WAIT;
    let mut last = snapshot();
    loop {
        std::thread::sleep(Duration::from_millis(50));
        let now = snapshot();
        if now == last {
            return;
        }
        assert!(Instant::now() < deadline, "the log never settled");
        last = now;
    }
}

/// Whether `suffix` is `.YYYY.MM.DD.HH.MM.SS.NNNNNNNNN`.
fn is_stamp(suffix: &str) -> bool {
    let parts: Vec<&str> = suffix.split('.').collect();
    let widths = [0, 4, 2, 2, 2, 2, 2, 9];
    parts.len() == widths.len()
        && parts
            .iter()
            .zip(widths)
            .all(|(p, w)| p.len() == w && p.bytes().all(|b| b.is_ascii_digit()))
}

/// A chatty traced workload: `n` published messages echoed back to a subscriber.
fn chatter(addr: &str, n: usize) {
    let mut raw = Raw::connect(addr);
    let mut bytes =
        b"CONNECT {\"verbose\":false,\"pedantic\":false,\"pass\":\"secret\"}\r\nSUB chat 1\r\n"
            .to_vec();
    for i in 0..n {
        bytes.extend_from_slice(format!("PUB chat 9\r\nmessage{i:02}\r\n").as_bytes());
    }
    let got = raw.exchange(&bytes);
    assert!(got.ends_with("PONG\r\n"), "{got}");
}

/// The rotation scenario, checked the same way for any server: a 1KB limit and three files
/// kept, then a traced workload that rotates the file several times.
fn rotation_scenario(bin: &Path) {
    let dir = TempDir::new("rotate");
    let config = "logfile: \"LOGFILE\"\nlogfile_size_limit: 1KB\nlogfile_max_num: 3\ndebug: true\ntrace: true\n";
    let server = FileLogged::start(bin, &dir, &[], Some(config));
    chatter(&server.addr(), 60);
    server.wait_for("<-> [DELSUB 1]");
    settle(&server.log);
    let text = server.wait_for("Purged log file");
    assert!(!text.contains("not yet"), "rotation is served:\n{text}");
    assert!(!text.contains("secret"), "the password was traced:\n{text}");

    let kept = backups(&server.log);
    assert_eq!(
        kept.len(),
        2,
        "three files kept: the log and two backups: {kept:?}"
    );
    let log_name = server
        .log
        .file_name()
        .and_then(|n| n.to_str())
        .expect("named");
    for b in &kept {
        let name = b.file_name().and_then(|n| n.to_str()).expect("named");
        assert!(is_stamp(&name[log_name.len()..]), "backup name {name}");
        let size = std::fs::metadata(b).expect("backup exists").len();
        assert!(
            size > 1024,
            "{name} was rotated past the limit: {size} bytes"
        );
    }
    let other: Vec<String> = std::fs::read_dir(&dir.0)
        .expect("lists")
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n != "server.conf" && !n.starts_with(log_name))
        .collect();
    assert!(other.is_empty(), "nothing else written: {other:?}");

    // The newest file opens with the rotation notice naming the newest backup, then the
    // purge; the rotation's own lines end in CRLF, as nats-server's logDirect writes them.
    let current = std::fs::read_to_string(&server.log).expect("log reads");
    let mut lines = current.split('\n');
    let first = lines.next().expect("a first line");
    let newest = kept.last().expect("a backup").display().to_string();
    let want = format!("[INF] Rotated log, backup saved as \"{newest}\"\r");
    assert!(
        first.starts_with(&format!("[{}] ", server.child.id())) && first.ends_with(&want),
        "first line {first:?}, want it to end with {want:?}"
    );
    let second = lines.next().expect("a second line");
    assert!(
        second.contains(&format!("[INF] Purged log file \"{log_name}."))
            && second.ends_with("\"\r"),
        "{second:?}"
    );
}

#[test]
fn size_limit_rotates_and_prunes_as_nats_server() {
    rotation_scenario(&strom_bin());
}

#[test]
fn rotation_scenario_holds_for_the_reference() {
    if let Some(reference) = reference_or_skip() {
        rotation_scenario(&reference);
    }
}

#[test]
fn log_size_limit_flag_rotates() {
    let dir = TempDir::new("sizeflag");
    let server = FileLogged::start(
        &strom_bin(),
        &dir,
        &["-DV", "--log_size_limit", "700"],
        None,
    );
    chatter(&server.addr(), 20);
    server.wait_for("Rotated log, backup saved as");
    assert!(!backups(&server.log).is_empty());
    assert!(
        backups(&server.log)
            .iter()
            .all(|b| std::fs::metadata(b).is_ok_and(|m| m.len() > 700)),
        "each backup went past the limit"
    );
}

#[test]
fn log_size_limit_flag_refuses_sizes_as_go_does() {
    let out = Command::new(strom_bin())
        .args(["--log_size_limit", "1KB"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let ours = String::from_utf8_lossy(&out.stderr);
    let want = "invalid value \"1KB\" for flag -log_size_limit: parse error";
    assert_eq!(ours.lines().next(), Some(want));
    if let Some(reference) = reference_or_skip() {
        let out = Command::new(reference)
            .args(["--log_size_limit", "1KB"])
            .output()
            .expect("runs");
        let theirs = String::from_utf8_lossy(&out.stderr);
        assert_eq!(theirs.lines().next(), Some(want));
    }
}

/// A log rotator moves the file away and sends SIGUSR1: the server goes on in a fresh file at
/// the configured path, and size rotation goes on there.
fn reopen_scenario(bin: &Path) {
    let dir = TempDir::new("reopen");
    let server = FileLogged::start(bin, &dir, &["-DV", "--log_size_limit", "4000"], None);
    let moved = dir.0.join("moved.log");
    std::fs::rename(&server.log, &moved).expect("moved away");
    server.signal("USR1");
    server.wait_for("File log re-opened");
    let old = std::fs::read_to_string(&moved).expect("moved file reads");
    assert!(old.contains("Server is ready"), "{old}");
    assert!(
        old.contains("Trapped \"user defined signal 1\" signal"),
        "the signal is noted before reopening: {old}"
    );
    assert!(!old.contains("File log re-opened"), "{old}");
    let fresh = std::fs::read_to_string(&server.log).expect("a fresh file");
    assert!(
        fresh.starts_with(&format!("[{}] ", server.child.id()))
            && fresh.contains("[INF] File log re-opened"),
        "{fresh}"
    );
    chatter(&server.addr(), 40);
    server.wait_for("Rotated log, backup saved as");
    let kept = backups(&server.log);
    assert!(!kept.is_empty(), "rotation continues after reopening");
    let after = std::fs::read_to_string(&moved).expect("moved file reads");
    assert_eq!(after, old, "nothing more is written to the moved file");
}

#[test]
fn sigusr1_reopens_at_the_configured_path_and_rotation_continues() {
    reopen_scenario(&strom_bin());
}

#[test]
fn reopen_scenario_holds_for_the_reference() {
    if let Some(reference) = reference_or_skip() {
        reopen_scenario(&reference);
    }
}

#[test]
fn sigusr1_without_a_file_is_noted_as_nats_server_does() {
    let mut server = ServerProcess::strom(&[]);
    server.signal("USR1");
    server.wait_for_log(
        "[INF] File log re-open ignored, not a file logger",
        Duration::from_secs(5),
    );
}

/// Checks a JSON log line; returns it parsed.
fn json_line(line: &str, pid: u32) -> serde_json::Value {
    let v: serde_json::Value =
        serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}"));
    let time = v["time"]
        .as_str()
        .unwrap_or_else(|| panic!("no time: {line}"));
    // RFC 3339 with nanoseconds: 2026-01-02T03:04:05.123456789 then Z or ±hh:mm.
    let b = time.as_bytes();
    assert!(
        b.len() >= 30
            && b[4] == b'-'
            && b[10] == b'T'
            && b[19] == b'.'
            && b[20..29].iter().all(u8::is_ascii_digit)
            && (b[29] == b'Z' || b[29] == b'+' || b[29] == b'-'),
        "time {time:?}"
    );
    let level = v["level"].as_str().unwrap_or_default();
    assert!(
        ["info", "warn", "error", "debug", "trace", "fatal"].contains(&level),
        "level {level:?}"
    );
    assert_eq!(v["pid"].as_u64(), Some(u64::from(pid)), "{line}");
    assert!(v["msg"].is_string(), "{line}");
    v
}

#[test]
fn json_format_writes_one_object_per_line() {
    let dir = TempDir::new("json");
    let server = FileLogged::start(&strom_bin(), &dir, &["-DV", "--log_format", "json"], None);
    let mut raw = Raw::connect(&server.addr());
    raw.exchange(b"CONNECT {\"verbose\":false,\"pedantic\":false,\"user\":\"u\",\"pass\":\"secret\",\"name\":\"app\"}\r\nSUB a 1\r\nPUB a 5\r\nhello\r\n");
    drop(raw);
    let text = server.wait_for("DELSUB 1");
    assert!(!text.contains("secret"), "{text}");
    let pid = server.child.id();
    let lines: Vec<serde_json::Value> = text.lines().map(|l| json_line(l, pid)).collect();
    let msg = |v: &serde_json::Value| v["msg"].as_str().unwrap_or_default().to_string();
    assert!(lines
        .iter()
        .any(|v| msg(v) == "Server is ready" && v["level"] == "info"));
    let connect = lines
        .iter()
        .find(|v| msg(v).starts_with("<<- [CONNECT "))
        .expect("CONNECT traced");
    assert!(
        msg(connect).contains("\"pass\":\"[REDACTED]\""),
        "{connect}"
    );
    assert_eq!(connect["level"], "trace");
    // Every line about the client carries it; once connected, with its name and user.
    for v in lines
        .iter()
        .filter(|v| msg(v).starts_with("<<-") || msg(v).starts_with("->>"))
    {
        assert!(v["cid"].is_u64(), "{v}");
        assert!(
            v["client"]
                .as_str()
                .is_some_and(|c| c.starts_with("127.0.0.1:")),
            "{v}"
        );
    }
    let payload = lines
        .iter()
        .find(|v| msg(v) == "->> MSG_PAYLOAD: [\"hello\"]")
        .expect("delivery traced");
    assert_eq!(payload["name"], "app");
    assert_eq!(payload["account"], "$G");
    assert_eq!(payload["user"], "user:u");
    assert!(lines
        .iter()
        .any(|v| msg(v) == "Client connection closed: Client Closed" && v["level"] == "debug"));
}

#[test]
fn json_format_from_the_config_covers_rotation_notices() {
    let dir = TempDir::new("jsonrot");
    let config = "logfile: \"LOGFILE\"\nlog_format: json\nlogfile_size_limit: 2KB\nlogfile_max_num: 2\ntrace: true\n";
    let server = FileLogged::start(&strom_bin(), &dir, &[], Some(config));
    chatter(&server.addr(), 40);
    server.wait_for("<-> [DELSUB 1]");
    settle(&server.log);
    let text = server.wait_for("Purged log file");
    let pid = server.child.id();
    for line in text.lines() {
        json_line(line, pid);
    }
    assert!(text.lines().any(|l| {
        let v = json_line(l, pid);
        v["level"] == "info"
            && v["msg"]
                .as_str()
                .is_some_and(|m| m.starts_with("Rotated log, backup saved as \""))
    }));
    assert_eq!(backups(&server.log).len(), 1, "two files kept");
}

#[test]
fn unknown_log_format_is_refused() {
    let out = Command::new(strom_bin())
        .args(["--log_format", "yaml"])
        .output()
        .expect("runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown log format \"yaml\""), "{err}");
}

/// The client lines of a log, with what differs between runs taken out: the pid and time,
/// and the client's address and id (`ADDR`). Lines of the server's internal clients go.
fn client_lines(logs: &[String]) -> Vec<String> {
    logs.iter()
        .filter_map(|l| {
            let at = ["[TRC] ", "[DBG] ", "[INF] ", "[WRN] ", "[ERR] "]
                .iter()
                .filter_map(|t| l.find(t))
                .min()?;
            let (label, rest) = l[at..].split_at(6);
            let rest = rest.strip_prefix("127.0.0.1:")?;
            let cid = rest.find(" - cid:")?;
            let tail = &rest[cid + " - cid:".len()..];
            let digits = tail.bytes().take_while(u8::is_ascii_digit).count();
            Some(format!("{label}ADDR{}", &tail[digits..]))
        })
        .collect()
}

/// Runs one raw conversation against a server started with `args` (and `config`), closes
/// it, and returns its client log lines once the close is logged.
fn traced(
    bin: &Path,
    args: &[&str],
    config: Option<&str>,
    conversation: &[u8],
    last: &str,
) -> Vec<String> {
    let mut server = ServerProcess::start(bin, args, config);
    let mut raw = Raw::connect(&server.addr());
    let got = raw.exchange(conversation);
    assert!(got.ends_with("PONG\r\n"), "{got}");
    drop(raw);
    server.wait_for_log(last, WAIT);
    client_lines(&server.logs())
}

/// Compares strom's trace of `conversation` with the reference's, line for line; returns
/// strom's.
fn same_trace(args: &[&str], config: Option<&str>, conversation: &[u8], last: &str) -> String {
    let ours = traced(&strom_bin(), args, config, conversation, last);
    assert!(
        ours.iter().any(|l| l.starts_with("[TRC] ")),
        "strom traced nothing: {ours:#?}"
    );
    if let Some(reference) = reference_or_skip() {
        let theirs = traced(&reference, args, config, conversation, last);
        assert_eq!(
            ours, theirs,
            "strom's trace (left) differs from nats-server's (right)"
        );
    }
    ours.join("\n")
}

#[test]
fn trace_redacts_connect_and_quotes_payloads_as_nats_server() {
    let conversation = concat!(
        "CONNECT {\"verbose\":true,\"pedantic\":false,\"headers\":true,\"user\":\"a\",",
        "\"pass\":\"secret\",\"auth_token\":\"tok\",\"sig\":\"sss\",\"jwt\":\"eyJ0\",",
        "\"proxy_sig\":\"ps\",\"name\":\"app\",\"lang\":\"go\",\"version\":\"1.2\"}\r\n",
        "SUB foo 1\r\n",
        "pub foo 5\r\nhello\r\n",
        "PUB\tfoo  reply 4\r\na\x00\"\x7f\r\n",
        "HPUB foo 12 17\r\nNATS/1.0\r\n\r\nhello\r\n",
        "PUB foo 0\r\n\r\n",
        "SUB bar 2\r\nUNSUB 2 1\r\nPUB bar 2\r\nab\r\n",
        "SUB baz 3\r\nUNSUB 1\r\n",
    );
    let all = same_trace(&["-DV"], None, conversation.as_bytes(), "<-> [DELSUB 3]");
    for secret in ["\"secret\"", "\"tok\"", "\"sss\"", "\"ps\""] {
        assert!(!all.contains(secret), "{secret} traced:\n{all}");
    }
    assert!(
        all.contains("<<- MSG_PAYLOAD: [\"a\\x00\\\"\\x7f\"]"),
        "{all}"
    );
}

#[test]
fn max_traced_msg_len_cuts_payloads_as_nats_server() {
    let conversation = concat!(
        "CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true,\"nkey\":\"UABC\"}\r\n",
        "SUB foo 1\r\n",
        "PUB foo 12\r\nhello world!\r\n",
        "PUB foo 3\r\nabc\r\n",
        "PUB foo 5\r\nx\u{e9}\u{e9}\r\n",
        "HPUB foo 21 26\r\nNATS/1.0\r\nA: \u{e9}\u{e9}\r\n\r\nhello\r\n",
    );
    let ours = same_trace(
        &["-DV", "--max_traced_msg_len", "4"],
        None,
        conversation.as_bytes(),
        "<-> [DELSUB 1]",
    );
    assert!(ours.contains("<<- MSG_PAYLOAD: [\"hell...\"]"), "{ours}");
    assert!(ours.contains("<<- MSG_PAYLOAD: [\"abc\"]"), "{ours}");
}

#[test]
fn permission_violations_and_auth_errors_log_as_nats_server() {
    let config = "authorization {\n  users = [\n    {user: a, password: pw, permissions: {publish: {deny: \"secret.>\"}, subscribe: {deny: \"hidden.>\"}}}\n  ]\n}\n";
    same_trace(
        &["-DV"],
        Some(config),
        b"CONNECT {\"verbose\":false,\"pedantic\":false,\"user\":\"a\",\"pass\":\"pw\",\"name\":\"x y\"}\r\nPUB secret.a 1\r\nx\r\nSUB hidden.a 1\r\nSUB hidden.b q 2\r\n",
        "Client connection closed",
    );
    let bin = strom_bin();
    let mut server = ServerProcess::start(&bin, &["-D"], Some(config));
    let mut raw = Raw::connect(&server.addr());
    raw.send(b"CONNECT {\"verbose\":false,\"pedantic\":false,\"user\":\"a\",\"pass\":\"bad\"}\r\nPING\r\n");
    let line = server.wait_for_log("authentication error", WAIT);
    assert!(
        line.ends_with(" - authentication error - User \"a\""),
        "{line}"
    );
}
