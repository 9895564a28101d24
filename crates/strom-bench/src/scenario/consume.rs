//! JetStream consumer scenarios. Each fills a stream first (PubAcks checked), then times the
//! consumer side only.
//!
//! `jspull`: a durable pull consumer read in batches (two requests outstanding), ack none or
//! ack explicit (every message acked; the run ends when the consumer reports no ack pending).
//!
//! `jspush`: a push consumer with flow control and idle heartbeats; flow-control requests are
//! answered as clients do.
//!
//! `jsredeliver`: every message is delivered and left unacknowledged; the run times how long
//! after the first ack wait runs out the whole lot is back (the redelivery storm).
//!
//! `jsidle`: creates many durable consumers on one stream and leaves them idle (the harness
//! measures the server's memory and CPU).

use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};

use crate::conn::Conn;
use crate::proto::{self, ServerOp};
use crate::publisher;
use crate::report::{si, Report};

const STREAM: &str = "BENCHC";
const SUBJECT: &str = "bench.c";
const INBOX: &str = "_INBOX.bench.c";
const DELIVER: &str = "_DELIVER.bench.c";

async fn connect(addr: &str) -> Result<Conn> {
    let mut sub = Vec::new();
    proto::encode_sub(&mut sub, &format!("{INBOX}.>"), None, 1);
    proto::encode_sub(&mut sub, DELIVER, None, 2);
    Conn::connect(addr, &sub).await
}

/// Sends one API request and waits for its reply; fails on an error reply.
async fn api(conn: &mut Conn, subject: &str, body: &str) -> Result<Vec<u8>> {
    let reply = format!("{INBOX}.api");
    let b = super::jetstream::request(conn, subject, body.as_bytes(), &reply).await?;
    if b.windows(8).any(|w| w == b"\"error\":") {
        bail!("{subject} failed: {}", String::from_utf8_lossy(&b));
    }
    Ok(b)
}

/// Creates the stream and stores `msgs` messages of `size` bytes.
async fn fill(conn: &mut Conn, size: usize, msgs: u64) -> Result<()> {
    api(
        conn,
        &format!("$JS.API.STREAM.CREATE.{STREAM}"),
        &format!(r#"{{"name":"{STREAM}","subjects":["{SUBJECT}"],"storage":"file"}}"#),
    )
    .await
    .context("creating the stream")?;
    let payload = publisher::payload(size);
    let reply = format!("{INBOX}.fill");
    let mut frame = Vec::new();
    let (mut sent, mut acked) = (0u64, 0u64);
    while acked < msgs {
        frame.clear();
        while sent < msgs && sent - acked < 1000 {
            sent += 1;
            proto::encode_pub(
                &mut frame,
                SUBJECT.as_bytes(),
                Some(reply.as_bytes()),
                &payload,
            );
        }
        if !frame.is_empty() {
            conn.write_all(&frame).await?;
        }
        conn.read_some().await?;
        let mut error = None;
        conn.drain(|op| {
            if let ServerOp::Msg(m) = op {
                if m.payload().windows(8).any(|w| w == b"\"error\":") {
                    error = Some(String::from_utf8_lossy(m.payload()).into_owned());
                }
                acked += 1;
            }
            Ok(())
        })?;
        conn.flush_out().await?;
        if let Some(e) = error {
            bail!("publish refused: {e}");
        }
    }
    Ok(())
}

async fn create_consumer(conn: &mut Conn, name: &str, config: &str) -> Result<()> {
    api(
        conn,
        &format!("$JS.API.CONSUMER.CREATE.{STREAM}.{name}"),
        &format!(r#"{{"stream_name":"{STREAM}","config":{{"durable_name":"{name}",{config}}}}}"#),
    )
    .await
    .with_context(|| format!("creating consumer {name}"))?;
    Ok(())
}

/// The delivery count token of an ack subject (`$JS.ACK.<s>.<c>.<dc>.…`).
fn delivery_count(reply: &[u8]) -> u64 {
    reply
        .split(|b| *b == b'.')
        .nth(4)
        .and_then(|t| std::str::from_utf8(t).ok())
        .and_then(|t| t.parse().ok())
        .unwrap_or(0)
}

/// Polls consumer info until `num_ack_pending` is 0.
async fn wait_acked(conn: &mut Conn, name: &str) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let info = api(conn, &format!("$JS.API.CONSUMER.INFO.{STREAM}.{name}"), "").await?;
        if info.windows(20).any(|w| w == b"\"num_ack_pending\":0,") {
            return Ok(());
        }
        ensure!(Instant::now() < deadline, "acks not processed in 60s");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

pub async fn pull(addr: &str, size: usize, msgs: u64, batch: u64, ack: bool) -> Result<()> {
    ensure!(batch > 0, "--batch must be at least 1");
    let mut conn = connect(addr).await.context("connecting")?;
    fill(&mut conn, size, msgs).await?;
    let policy = if ack { "explicit" } else { "none" };
    let extra = if ack {
        format!(r#","max_ack_pending":{}"#, batch * 2)
    } else {
        String::new()
    };
    create_consumer(
        &mut conn,
        "C",
        &format!(r#""ack_policy":"{policy}"{extra}"#),
    )
    .await?;
    let next = format!("$JS.API.CONSUMER.MSG.NEXT.{STREAM}.C");
    let reply = format!("{INBOX}.pull");
    let request = format!(r#"{{"batch":{batch},"expires":60000000000}}"#);
    let start = Instant::now();
    let mut out = Vec::new();
    let mut requested = 0u64;
    for _ in 0..2 {
        if requested < msgs {
            proto::encode_pub(
                &mut out,
                next.as_bytes(),
                Some(reply.as_bytes()),
                request.as_bytes(),
            );
            requested += batch;
        }
    }
    conn.write_all(&out).await?;
    let mut got = 0u64;
    let mut in_batch = 0u64;
    while got < msgs {
        conn.read_some().await?;
        out.clear();
        conn.drain(|op| {
            if let ServerOp::Msg(m) = op {
                if m.subject != SUBJECT.as_bytes() {
                    return Ok(());
                }
                got += 1;
                in_batch += 1;
                if ack {
                    if let Some(r) = m.reply {
                        proto::encode_pub(&mut out, r, None, b"+ACK");
                    }
                }
                if in_batch == batch {
                    in_batch = 0;
                    if requested < msgs {
                        proto::encode_pub(
                            &mut out,
                            next.as_bytes(),
                            Some(reply.as_bytes()),
                            request.as_bytes(),
                        );
                        requested += batch;
                    }
                }
            }
            Ok(())
        })?;
        if !out.is_empty() {
            conn.write_all(&out).await?;
        }
        conn.flush_out().await?;
    }
    if ack {
        wait_acked(&mut conn, "C").await?;
    }
    let secs = start.elapsed().as_secs_f64();
    let rate = msgs as f64 / secs;
    Report::new("jspull")
        .int("size", size as u64)
        .int("msgs", msgs)
        .int("batch", batch)
        .int("ack", u64::from(ack))
        .float("secs", secs)
        .float("msgs_per_sec", rate)
        .print(&format!(
            "jspull {size}B batch {batch} ack {policy}: {msgs} msgs, {} msgs/s",
            si(rate)
        ));
    Ok(())
}

pub async fn push(addr: &str, size: usize, msgs: u64) -> Result<()> {
    let mut conn = connect(addr).await.context("connecting")?;
    fill(&mut conn, size, msgs).await?;
    let start = Instant::now();
    // Deliveries may arrive before the create request is answered: they count too.
    let mut got = 0u64;
    let mut out = Vec::new();
    let mut fc = 0u64;
    let body = format!(
        r#"{{"stream_name":"{STREAM}","config":{{"durable_name":"P","ack_policy":"none","deliver_subject":"{DELIVER}","flow_control":true,"idle_heartbeat":1000000000}}}}"#
    );
    let reply = format!("{INBOX}.api");
    let answer = super::jetstream::request_seeing(
        &mut conn,
        &format!("$JS.API.CONSUMER.CREATE.{STREAM}.P"),
        body.as_bytes(),
        &reply,
        |m| {
            if m.subject == SUBJECT.as_bytes() {
                got += 1;
            } else if let (true, Some(r)) = (m.subject == DELIVER.as_bytes(), m.reply) {
                proto::encode_pub(&mut out, r, None, b"");
                fc += 1;
            }
        },
    )
    .await?;
    if answer.windows(8).any(|w| w == b"\"error\":") {
        bail!(
            "creating the consumer failed: {}",
            String::from_utf8_lossy(&answer)
        );
    }
    if !out.is_empty() {
        conn.write_all(&out).await?;
    }
    while got < msgs {
        conn.read_some().await?;
        out.clear();
        conn.drain(|op| {
            if let ServerOp::Msg(m) = op {
                if m.subject == SUBJECT.as_bytes() {
                    got += 1;
                } else if m.subject == DELIVER.as_bytes() {
                    // A flow-control request: answered on its reply subject.
                    if let Some(r) = m.reply {
                        proto::encode_pub(&mut out, r, None, b"");
                        fc += 1;
                    }
                }
            }
            Ok(())
        })?;
        if !out.is_empty() {
            conn.write_all(&out).await?;
        }
        conn.flush_out().await?;
    }
    let secs = start.elapsed().as_secs_f64();
    let rate = msgs as f64 / secs;
    Report::new("jspush")
        .int("size", size as u64)
        .int("msgs", msgs)
        .int("flow_control_replies", fc)
        .float("secs", secs)
        .float("msgs_per_sec", rate)
        .print(&format!(
            "jspush {size}B flow control: {msgs} msgs, {} msgs/s ({fc} flow-control replies)",
            si(rate)
        ));
    Ok(())
}

pub async fn redeliver(addr: &str, size: usize, msgs: u64, ack_wait_ms: u64) -> Result<()> {
    let mut conn = connect(addr).await.context("connecting")?;
    fill(&mut conn, size, msgs).await?;
    create_consumer(
        &mut conn,
        "R",
        &format!(
            r#""ack_policy":"explicit","max_ack_pending":-1,"ack_wait":{}"#,
            ack_wait_ms * 1_000_000
        ),
    )
    .await?;
    let next = format!("$JS.API.CONSUMER.MSG.NEXT.{STREAM}.R");
    let reply = format!("{INBOX}.pull");
    // Two requests for everything: the first deliveries, then the redeliveries.
    let request = format!(r#"{{"batch":{msgs},"expires":120000000000}}"#);
    let mut out = Vec::new();
    for _ in 0..2 {
        proto::encode_pub(
            &mut out,
            next.as_bytes(),
            Some(reply.as_bytes()),
            request.as_bytes(),
        );
    }
    conn.write_all(&out).await?;
    let (mut first, mut again) = (0u64, 0u64);
    let mut started_at = None;
    let mut first_again = None;
    while again < msgs {
        conn.read_some().await?;
        conn.drain(|op| {
            if let ServerOp::Msg(m) = op {
                if m.subject != SUBJECT.as_bytes() {
                    return Ok(());
                }
                match m.reply.map(delivery_count) {
                    Some(1) => {
                        first += 1;
                        started_at.get_or_insert_with(Instant::now);
                    }
                    Some(_) => {
                        again += 1;
                        first_again.get_or_insert_with(Instant::now);
                    }
                    None => {}
                }
            }
            Ok(())
        })?;
        conn.flush_out().await?;
    }
    let done = Instant::now();
    ensure!(first == msgs, "{first} of {msgs} first deliveries");
    let started_at = started_at.context("no first deliveries")?;
    let wait = Duration::from_millis(ack_wait_ms);
    // From when the first delivery's ack wait ran out to the last redelivery: the storm's
    // length, however the first deliveries were spread.
    let storm = done
        .saturating_duration_since(started_at + wait)
        .as_secs_f64();
    let spread = first_again
        .map(|t| done.duration_since(t).as_secs_f64())
        .unwrap_or(0.0);
    Report::new("jsredeliver")
        .int("size", size as u64)
        .int("msgs", msgs)
        .int("ack_wait_ms", ack_wait_ms)
        .float("storm_secs", storm)
        .float("spread_secs", spread)
        .print(&format!(
            "jsredeliver {msgs} msgs: all redelivered {:.3}s after the first ack wait ran out (first to last redelivery {spread:.3}s)",
            storm
        ));
    Ok(())
}

pub async fn idle(addr: &str, consumers: u64) -> Result<()> {
    let mut conn = connect(addr).await.context("connecting")?;
    fill(&mut conn, 128, 100).await?;
    let start = Instant::now();
    for i in 0..consumers {
        create_consumer(&mut conn, &format!("IDLE{i}"), r#""ack_policy":"explicit""#).await?;
    }
    let secs = start.elapsed().as_secs_f64();
    Report::new("jsidle")
        .int("consumers", consumers)
        .float("create_secs", secs)
        .print(&format!(
            "jsidle: {consumers} durable consumers created in {secs:.2}s"
        ));
    Ok(())
}
