//! JetStream scenarios.
//!
//! `jspub`: creates a file stream and publishes to it with acknowledgements, keeping up to
//! `window` publishes outstanding (1 is a synchronous publish: each waits for its PubAck, and
//! its round trip is a latency sample). Every PubAck is checked: an error fails the run.
//!
//! `jsget`: fills a stream with `msgs` messages over `subjects` subjects, then times direct
//! gets one at a time, by sequence or last-by-subject.

use std::collections::HashMap;
use std::time::Instant;

use anyhow::{bail, ensure, Context, Result};

use crate::conn::Conn;
use crate::latency::Samples;
use crate::proto::{self, ServerOp};
use crate::publisher;
use crate::report::{si, Report};

pub(crate) const STREAM: &str = "BENCH";
pub(crate) const INBOX: &str = "_INBOX.bench.js";

/// Sends one request and waits for its reply body.
pub(crate) async fn request(
    conn: &mut Conn,
    subject: &str,
    body: &[u8],
    reply: &str,
) -> Result<Vec<u8>> {
    request_seeing(conn, subject, body, reply, |_| {}).await
}

/// Sends one request and waits for its reply body, handing every other message that arrives
/// meanwhile to `other` (a consumer may deliver before its create request is answered).
pub(crate) async fn request_seeing(
    conn: &mut Conn,
    subject: &str,
    body: &[u8],
    reply: &str,
    mut other: impl FnMut(&proto::Msg<'_>),
) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    proto::encode_pub(&mut out, subject.as_bytes(), Some(reply.as_bytes()), body);
    conn.write_all(&out).await?;
    loop {
        let mut got = None;
        conn.drain(|op| {
            if let ServerOp::Msg(m) = op {
                if m.subject == reply.as_bytes() {
                    got = Some(m.payload().to_vec());
                } else {
                    other(&m);
                }
            }
            Ok(())
        })?;
        conn.flush_out().await?;
        if let Some(b) = got {
            return Ok(b);
        }
        conn.read_some().await?;
    }
}

pub(crate) async fn connect(addr: &str) -> Result<Conn> {
    let mut sub = Vec::new();
    proto::encode_sub(&mut sub, &format!("{INBOX}.>"), None, 1);
    Conn::connect(addr, &sub).await
}

pub(crate) async fn create_stream(conn: &mut Conn, subjects: &str, direct: bool) -> Result<()> {
    let body = format!(
        r#"{{"name":"{STREAM}","subjects":["{subjects}"],"storage":"file","allow_direct":{direct}}}"#
    );
    let reply = request(
        conn,
        &format!("$JS.API.STREAM.CREATE.{STREAM}"),
        body.as_bytes(),
        &format!("{INBOX}.create"),
    )
    .await
    .context("creating the stream")?;
    if reply.windows(7).any(|w| w == b"\"error\"") {
        bail!("stream create failed: {}", String::from_utf8_lossy(&reply));
    }
    Ok(())
}

pub async fn publish(addr: &str, size: usize, msgs: u64, window: u64) -> Result<()> {
    ensure!(window > 0, "--window must be at least 1");
    let mut conn = connect(addr).await.context("connecting")?;
    create_stream(&mut conn, "bench.js", false).await?;
    let payload = publisher::payload(size);
    let mut frame = Vec::new();
    let mut samples = Samples::with_capacity(if window == 1 { msgs as usize } else { 0 });
    let mut sent_at: HashMap<u64, Instant> = HashMap::new();
    let mut sent = 0u64;
    let mut acked = 0u64;
    let mut first_seq = 0u64;
    let mut last_seq = 0u64;
    let start = Instant::now();
    while acked < msgs {
        frame.clear();
        while sent < msgs && sent - acked < window {
            sent += 1;
            let reply = format!("{INBOX}.{sent}");
            proto::encode_pub(&mut frame, b"bench.js", Some(reply.as_bytes()), &payload);
            if window == 1 {
                sent_at.insert(sent, Instant::now());
            }
        }
        if !frame.is_empty() {
            conn.write_all(&frame).await?;
        }
        conn.read_some().await?;
        let mut error = None;
        conn.drain(|op| {
            if let ServerOp::Msg(m) = op {
                let body = m.payload();
                if body.windows(7).any(|w| w == b"\"error\"") {
                    error = Some(String::from_utf8_lossy(body).into_owned());
                }
                acked += 1;
                if let Some(seq) = parse_seq(body) {
                    if first_seq == 0 {
                        first_seq = seq;
                    }
                    last_seq = last_seq.max(seq);
                }
                if let Some(id) = m
                    .subject
                    .rsplit(|&b| b == b'.')
                    .next()
                    .and_then(|t| std::str::from_utf8(t).ok())
                    .and_then(|t| t.parse::<u64>().ok())
                {
                    if let Some(t) = sent_at.remove(&id) {
                        samples.record(t.elapsed());
                    }
                }
            }
            Ok(())
        })?;
        conn.flush_out().await?;
        if let Some(e) = error {
            bail!("publish refused: {e}");
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    ensure!(
        last_seq + 1 - first_seq == msgs,
        "PubAcks covered sequences {first_seq}..={last_seq} for {msgs} messages"
    );
    let rate = msgs as f64 / elapsed;
    let mut report = Report::new("jspub")
        .int("size", size as u64)
        .int("msgs", msgs)
        .int("window", window)
        .float("secs", elapsed)
        .float("msgs_per_sec", rate);
    let mut human = format!(
        "jspub {size}B window {window}: {msgs} msgs, {} msgs/s",
        si(rate)
    );
    if window == 1 {
        let s = samples.summary();
        report = report
            .float("p50_us", s.p50)
            .float("p99_us", s.p99)
            .float("p999_us", s.p999);
        human.push_str(&format!(
            "; ack latency p50 {:.1}us p99 {:.1}us",
            s.p50, s.p99
        ));
    }
    report.print(&human);
    Ok(())
}

fn parse_seq(body: &[u8]) -> Option<u64> {
    let at = body.windows(6).position(|w| w == b"\"seq\":")? + 6;
    let digits: Vec<u8> = body[at..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .copied()
        .collect();
    std::str::from_utf8(&digits).ok()?.parse().ok()
}

/// Publishes `msgs` messages of `size` bytes over `<prefix>.0` … `<prefix>.<subjects-1>`,
/// with up to 1,000 acknowledgements outstanding, and waits for every PubAck.
pub(crate) async fn fill(
    conn: &mut Conn,
    prefix: &str,
    subjects: u64,
    size: usize,
    msgs: u64,
) -> Result<()> {
    let payload = publisher::payload(size);
    let mut frame = Vec::new();
    let (mut sent, mut acked) = (0u64, 0u64);
    while acked < msgs {
        frame.clear();
        while sent < msgs && sent - acked < 1000 {
            let subject = format!("{prefix}.{}", sent % subjects);
            sent += 1;
            proto::encode_pub(
                &mut frame,
                subject.as_bytes(),
                Some(format!("{INBOX}.fill").as_bytes()),
                &payload,
            );
        }
        if !frame.is_empty() {
            conn.write_all(&frame).await?;
        }
        conn.read_some().await?;
        conn.drain(|op| {
            if let ServerOp::Msg(_) = op {
                acked += 1;
            }
            Ok(())
        })?;
        conn.flush_out().await?;
    }
    Ok(())
}

pub async fn get(
    addr: &str,
    size: usize,
    msgs: u64,
    subjects: u64,
    by_last: bool,
    count: u64,
) -> Result<()> {
    ensure!(
        msgs > 0 && subjects > 0,
        "--msgs and --subjects must be at least 1"
    );
    let mut conn = connect(addr).await.context("connecting")?;
    create_stream(&mut conn, "bench.get.*", true).await?;
    fill(&mut conn, "bench.get", subjects, size, msgs).await?;
    let reply = format!("{INBOX}.get");
    let mut samples = Samples::with_capacity(count as usize);
    let start = Instant::now();
    for i in 0..count {
        let (subject, body) = if by_last {
            (
                format!("$JS.API.DIRECT.GET.{STREAM}.bench.get.{}", i % subjects),
                Vec::new(),
            )
        } else {
            (
                format!("$JS.API.DIRECT.GET.{STREAM}"),
                format!(r#"{{"seq":{}}}"#, 1 + (i * 7919) % msgs).into_bytes(),
            )
        };
        let t = Instant::now();
        let got = request(&mut conn, &subject, &body, &reply).await?;
        ensure!(got.len() == size, "direct get returned {} bytes", got.len());
        samples.record(t.elapsed());
    }
    let elapsed = start.elapsed().as_secs_f64();
    let s = samples.summary();
    let rate = count as f64 / elapsed;
    let mode = if by_last { "last" } else { "seq" };
    Report::new("jsget")
        .text("mode", mode)
        .int("size", size as u64)
        .int("count", count)
        .float("gets_per_sec", rate)
        .float("p50_us", s.p50)
        .float("p99_us", s.p99)
        .print(&format!(
            "jsget by {mode}: {count} gets, {} gets/s; p50 {:.1}us p99 {:.1}us",
            si(rate),
            s.p50,
            s.p99
        ));
    Ok(())
}
