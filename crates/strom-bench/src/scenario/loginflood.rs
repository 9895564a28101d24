//! `loginflood`: what a flood of failed logins does to the clients already connected. A
//! requester and a responder log in with good credentials and measure request/reply round
//! trips twice: once on a quiet server, then while `attackers` connections keep logging in
//! with a wrong password (each waits for the server to refuse and close it, then tries
//! again). With bcrypt passwords every refusal costs the server a full hash, so the attack is
//! CPU-heavy; what is measured is how much of that reaches everyone else.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{ensure, Result};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::reqrep::Echo;
use crate::report::Report;

/// The longest the flooded phase runs, however few round trips it timed.
const FLOOD_LIMIT: Duration = Duration::from_secs(30);

/// How long an attacker waits on one login before giving up on it.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// A JSON string.
fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `CONNECT` with credentials.
pub fn connect_line(user: &str, pass: &str) -> Vec<u8> {
    format!(
        "CONNECT {{\"verbose\":false,\"pedantic\":false,\"headers\":true,\"no_responders\":true,\
         \"protocol\":1,\"user\":{},\"pass\":{}}}\r\n",
        quoted(user),
        quoted(pass)
    )
    .into_bytes()
}

pub async fn run(
    addr: &str,
    user: &str,
    pass: &str,
    attackers: usize,
    size: usize,
    count: u64,
    warmup: u64,
) -> Result<()> {
    ensure!(count > 0, "--count must be at least 1");
    let good = connect_line(user, pass);
    let mut echo = Echo::connect(addr, &good, size).await?;
    let (quiet, _) = echo.sample(warmup, count, None).await?;

    let stop = Arc::new(AtomicBool::new(false));
    let refused = Arc::new(AtomicU64::new(0));
    let bad = connect_line(user, &format!("{pass}-wrong"));
    let mut tasks = Vec::new();
    for _ in 0..attackers {
        tasks.push(tokio::spawn(attack(
            addr.to_string(),
            bad.clone(),
            refused.clone(),
            stop.clone(),
        )));
    }
    // The flood is on once the server has refused someone.
    let deadline = Instant::now() + ATTEMPT_TIMEOUT;
    while attackers > 0 && refused.load(Ordering::Relaxed) == 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let before = refused.load(Ordering::Relaxed);
    let started = Instant::now();
    // A server the flood slows to a crawl gets `FLOOD_LIMIT` to show it, not hours.
    let (flooded, _) = echo
        .sample(warmup / 10, count, Some(started + FLOOD_LIMIT))
        .await?;
    let secs = started.elapsed().as_secs_f64();
    let during = refused.load(Ordering::Relaxed) - before;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.abort();
    }

    let flood_count = flooded.len() as u64;
    let (q, f) = (quiet.summary(), flooded.summary());
    let refusals = during as f64 / secs;
    Report::new("loginflood")
        .int("attackers", attackers as u64)
        .int("count", count)
        .int("flood_count", flood_count)
        .float("quiet_p50_us", q.p50)
        .float("quiet_p99_us", q.p99)
        .float("flood_p50_us", f.p50)
        .float("flood_p99_us", f.p99)
        .float("flood_max_us", f.max)
        .float("refusals_per_sec", refusals)
        .print(&format!(
            "loginflood: {attackers} attackers, {refusals:.0} refused logins/s; request/reply \
             p50 {:.1}us -> {:.1}us, p99 {:.1}us -> {:.1}us",
            q.p50, f.p50, q.p99, f.p99
        ));
    Ok(())
}

/// Logs in with `connect` (wrong credentials) again and again until told to stop, counting
/// each refusal: the server closing the connection after its `-ERR`.
async fn attack(addr: String, connect: Vec<u8>, refused: Arc<AtomicU64>, stop: Arc<AtomicBool>) {
    let mut buf = vec![0u8; 4096];
    while !stop.load(Ordering::Relaxed) {
        let attempt = async {
            let mut s = TcpStream::connect(&addr).await.ok()?;
            // INFO first.
            let mut seen = Vec::new();
            while !seen.windows(2).any(|w| w == b"\r\n") {
                let n = s.read(&mut buf).await.ok()?;
                if n == 0 {
                    return None;
                }
                seen.extend_from_slice(&buf[..n]);
            }
            s.write_all(&connect).await.ok()?;
            s.write_all(b"PING\r\n").await.ok()?;
            // Then read until the server closes it.
            loop {
                match s.read(&mut buf).await {
                    Ok(0) | Err(_) => return Some(()),
                    Ok(_) => {}
                }
            }
        };
        match tokio::time::timeout(ATTEMPT_TIMEOUT, attempt).await {
            Ok(Some(())) => {
                refused.fetch_add(1, Ordering::Relaxed);
            }
            _ => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}
