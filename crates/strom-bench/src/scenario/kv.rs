//! Key-value and object store scenarios, speaking the conventions the clients build on
//! streams (`KV_<bucket>` with subjects `$KV.<bucket>.<key>`, `OBJ_<bucket>` with chunks on
//! `$O.<bucket>.C.<id>`), so that the server, not a client library, is what is measured.
//!
//! `kvput`: puts over `keys` keys, `window` acknowledgements outstanding.
//! `kvget`: fills `keys` keys, then direct gets of the latest value, `window` outstanding.
//! `kvwatch`: fills `keys` keys, then times a watch (push consumer, last per subject, flow
//! control) receiving every key's latest value.
//! `object`: an object of `mib` MiB in 128 KiB chunks, put with `window` chunk
//! acknowledgements outstanding, then read back through a push consumer with flow control.
//! `kvscale`: a bucket of many keys filled, then its keys listed.

use std::time::Instant;

use anyhow::{bail, ensure, Context, Result};

use crate::conn::Conn;
use crate::proto::{self, ServerOp};
use crate::publisher;
use crate::report::{si, Report};

const BUCKET: &str = "BENCH";
const INBOX: &str = "_INBOX.bench.kv";
const DELIVER: &str = "_DELIVER.bench.kv";
const CHUNK: usize = 128 * 1024;

async fn connect(addr: &str) -> Result<Conn> {
    let mut sub = Vec::new();
    proto::encode_sub(&mut sub, &format!("{INBOX}.>"), None, 1);
    proto::encode_sub(&mut sub, DELIVER, None, 2);
    Conn::connect(addr, &sub).await
}

async fn api(conn: &mut Conn, subject: &str, body: &str) -> Result<Vec<u8>> {
    let reply = format!("{INBOX}.api");
    let b = super::jetstream::request(conn, subject, body.as_bytes(), &reply).await?;
    if b.windows(8).any(|w| w == b"\"error\":") {
        bail!("{subject} failed: {}", String::from_utf8_lossy(&b));
    }
    Ok(b)
}

/// The stream of a bucket with history 1, as the clients create it.
async fn create_bucket(conn: &mut Conn) -> Result<()> {
    api(
        conn,
        &format!("$JS.API.STREAM.CREATE.KV_{BUCKET}"),
        &format!(
            r#"{{"name":"KV_{BUCKET}","subjects":["$KV.{BUCKET}.>"],"max_msgs_per_subject":1,"discard":"new","allow_rollup_hdrs":true,"deny_delete":true,"allow_direct":true,"storage":"file","duplicate_window":120000000000}}"#
        ),
    )
    .await
    .context("creating the bucket")?;
    Ok(())
}

/// Publishes `msgs` messages on `subject(i)` with `window` acknowledgements outstanding;
/// every acknowledgement is checked.
async fn publish_acked(
    conn: &mut Conn,
    msgs: u64,
    window: u64,
    subject: impl Fn(u64) -> String,
    payload: &[u8],
) -> Result<()> {
    let reply = format!("{INBOX}.ack");
    let (mut sent, mut acked) = (0u64, 0u64);
    let mut frame = Vec::new();
    while acked < msgs {
        frame.clear();
        while sent < msgs && sent - acked < window {
            proto::encode_pub(
                &mut frame,
                subject(sent).as_bytes(),
                Some(reply.as_bytes()),
                payload,
            );
            sent += 1;
        }
        if !frame.is_empty() {
            conn.write_all(&frame).await?;
        }
        conn.read_some().await?;
        let mut error = None;
        conn.drain(|op| {
            if let ServerOp::Msg(m) = op {
                if m.subject == reply.as_bytes() {
                    if m.payload().windows(8).any(|w| w == b"\"error\":") {
                        error = Some(String::from_utf8_lossy(m.payload()).into_owned());
                    }
                    acked += 1;
                }
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

fn key(i: u64, keys: u64) -> String {
    format!("$KV.{BUCKET}.key{}", i % keys)
}

pub async fn put(addr: &str, size: usize, keys: u64, msgs: u64, window: u64) -> Result<()> {
    let mut conn = connect(addr).await.context("connecting")?;
    create_bucket(&mut conn).await?;
    let payload = publisher::payload(size);
    let start = Instant::now();
    publish_acked(&mut conn, msgs, window, |i| key(i, keys), &payload).await?;
    let secs = start.elapsed().as_secs_f64();
    let rate = msgs as f64 / secs;
    Report::new("kvput")
        .int("size", size as u64)
        .int("keys", keys)
        .int("msgs", msgs)
        .int("window", window)
        .float("ops_per_sec", rate)
        .print(&format!(
            "kvput {size}B over {keys} keys, window {window}: {} puts/s",
            si(rate)
        ));
    Ok(())
}

pub async fn get(addr: &str, size: usize, keys: u64, count: u64, window: u64) -> Result<()> {
    let mut conn = connect(addr).await.context("connecting")?;
    create_bucket(&mut conn).await?;
    let payload = publisher::payload(size);
    publish_acked(&mut conn, keys, 1000, |i| key(i, keys), &payload).await?;
    let reply = format!("{INBOX}.get");
    let start = Instant::now();
    let (mut sent, mut got) = (0u64, 0u64);
    let mut frame = Vec::new();
    while got < count {
        frame.clear();
        while sent < count && sent - got < window {
            let subject = format!(
                "$JS.API.DIRECT.GET.KV_{BUCKET}.{}",
                key((sent * 7919) % keys, keys)
            );
            proto::encode_pub(&mut frame, subject.as_bytes(), Some(reply.as_bytes()), b"");
            sent += 1;
        }
        if !frame.is_empty() {
            conn.write_all(&frame).await?;
        }
        conn.read_some().await?;
        let mut bad = None;
        conn.drain(|op| {
            if let ServerOp::Msg(m) = op {
                if m.subject == reply.as_bytes() {
                    if m.payload().len() != size {
                        bad = Some(m.payload().len());
                    }
                    got += 1;
                }
            }
            Ok(())
        })?;
        conn.flush_out().await?;
        if let Some(n) = bad {
            bail!("a get returned {n} bytes, not {size}");
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let rate = count as f64 / secs;
    Report::new("kvget")
        .int("size", size as u64)
        .int("keys", keys)
        .int("count", count)
        .int("window", window)
        .float("ops_per_sec", rate)
        .print(&format!(
            "kvget {size}B from {keys} keys, window {window}: {} gets/s",
            si(rate)
        ));
    Ok(())
}

/// What arrives on the deliver subject: counts deliveries (and their bytes) and collects
/// the flow-control subjects to answer, as the clients answer them.
#[derive(Default)]
struct Deliveries {
    got: u64,
    bytes: u64,
    answers: Vec<Vec<u8>>,
}

impl Deliveries {
    fn see(&mut self, m: &proto::Msg<'_>) {
        if m.sid != b"2" {
            return;
        }
        if m.subject == DELIVER.as_bytes() {
            // A flow-control request, or a heartbeat saying delivery is stalled on one (its
            // subject in Nats-Consumer-Stalled).
            if let Some(r) = m.reply {
                self.answers.push(r.to_vec());
            } else if let Some(fc) = stalled_on(&m.body[..m.header_len]) {
                self.answers.push(fc.to_vec());
            }
        } else {
            self.got += 1;
            self.bytes += m.payload().len() as u64;
        }
    }

    async fn answer(&mut self, conn: &mut Conn) -> Result<()> {
        if self.answers.is_empty() {
            return Ok(());
        }
        let mut out = Vec::new();
        for a in self.answers.drain(..) {
            proto::encode_pub(&mut out, &a, None, b"");
        }
        conn.write_all(&out).await
    }
}

/// Reads until `want` deliveries arrived, answering flow control.
async fn receive(conn: &mut Conn, seen: &mut Deliveries, want: u64) -> Result<()> {
    seen.answer(conn).await?;
    while seen.got < want {
        conn.read_some().await?;
        conn.drain(|op| {
            if let ServerOp::Msg(m) = op {
                seen.see(&m);
            }
            Ok(())
        })?;
        seen.answer(conn).await?;
        conn.flush_out().await?;
    }
    Ok(())
}

/// The flow-control subject a heartbeat names in `Nats-Consumer-Stalled`.
fn stalled_on(headers: &[u8]) -> Option<&[u8]> {
    const NAME: &[u8] = b"Nats-Consumer-Stalled:";
    let at = headers.windows(NAME.len()).position(|w| w == NAME)? + NAME.len();
    let rest = &headers[at..];
    let end = rest.iter().position(|b| *b == b'\r').unwrap_or(rest.len());
    Some(rest[..end].trim_ascii())
}

/// Creates a push consumer delivering to [`DELIVER`]; deliveries that arrive before the
/// answer are counted in `seen`.
async fn push_consumer(
    conn: &mut Conn,
    stream: &str,
    config: &str,
    seen: &mut Deliveries,
) -> Result<()> {
    let body = format!(
        r#"{{"stream_name":"{stream}","config":{{"deliver_subject":"{DELIVER}","ack_policy":"none","flow_control":true,"idle_heartbeat":5000000000,"mem_storage":true,{config}}}}}"#
    );
    let reply = format!("{INBOX}.api");
    let b = super::jetstream::request_seeing(
        conn,
        &format!("$JS.API.CONSUMER.CREATE.{stream}"),
        body.as_bytes(),
        &reply,
        |m| seen.see(m),
    )
    .await?;
    if b.windows(8).any(|w| w == b"\"error\":") {
        bail!("creating the watch failed: {}", String::from_utf8_lossy(&b));
    }
    Ok(())
}

pub async fn watch(addr: &str, size: usize, keys: u64) -> Result<()> {
    let mut conn = connect(addr).await.context("connecting")?;
    create_bucket(&mut conn).await?;
    let payload = publisher::payload(size);
    publish_acked(&mut conn, keys, 1000, |i| key(i, keys), &payload).await?;
    let start = Instant::now();
    let mut seen = Deliveries::default();
    push_consumer(
        &mut conn,
        &format!("KV_{BUCKET}"),
        &format!(r#""deliver_policy":"last_per_subject","filter_subject":"$KV.{BUCKET}.>""#),
        &mut seen,
    )
    .await?;
    receive(&mut conn, &mut seen, keys).await?;
    let got = seen.got;
    let secs = start.elapsed().as_secs_f64();
    let rate = got as f64 / secs;
    Report::new("kvwatch")
        .int("size", size as u64)
        .int("keys", keys)
        .float("secs", secs)
        .float("ops_per_sec", rate)
        .print(&format!(
            "kvwatch {keys} keys of {size}B: all in {secs:.3}s, {} entries/s",
            si(rate)
        ));
    Ok(())
}

async fn create_object_bucket(conn: &mut Conn) -> Result<()> {
    api(
        conn,
        &format!("$JS.API.STREAM.CREATE.OBJ_{BUCKET}"),
        &format!(
            r#"{{"name":"OBJ_{BUCKET}","subjects":["$O.{BUCKET}.C.>","$O.{BUCKET}.M.>"],"discard":"new","allow_rollup_hdrs":true,"allow_direct":true,"storage":"file"}}"#
        ),
    )
    .await
    .context("creating the object bucket")?;
    Ok(())
}

/// Puts then gets one object of `mib` MiB; reports both rates in MiB/s.
pub async fn object(addr: &str, mib: u64, window: u64) -> Result<()> {
    ensure!(mib > 0, "--mib must be at least 1");
    let mut conn = connect(addr).await.context("connecting")?;
    create_object_bucket(&mut conn).await?;
    let chunk = publisher::payload(CHUNK);
    let chunks = mib * 1024 * 1024 / CHUNK as u64;
    let subject = format!("$O.{BUCKET}.C.object1");
    let start = Instant::now();
    publish_acked(&mut conn, chunks, window, |_| subject.clone(), &chunk).await?;
    let meta = format!(
        r#"{{"name":"big","bucket":"{BUCKET}","nuid":"object1","size":{},"chunks":{chunks}}}"#,
        chunks * CHUNK as u64
    );
    publish_acked(
        &mut conn,
        1,
        1,
        |_| format!("$O.{BUCKET}.M.Ymln"),
        meta.as_bytes(),
    )
    .await?;
    let put_secs = start.elapsed().as_secs_f64();
    let start = Instant::now();
    let mut seen = Deliveries::default();
    push_consumer(
        &mut conn,
        &format!("OBJ_{BUCKET}"),
        &format!(r#""deliver_policy":"all","filter_subject":"{subject}""#),
        &mut seen,
    )
    .await?;
    receive(&mut conn, &mut seen, chunks).await?;
    let bytes = seen.bytes;
    let get_secs = start.elapsed().as_secs_f64();
    ensure!(
        bytes == chunks * CHUNK as u64,
        "read {bytes} bytes back, not {}",
        chunks * CHUNK as u64
    );
    let mb = (chunks * CHUNK as u64) as f64 / (1024.0 * 1024.0);
    Report::new("object")
        .int("mib", mib)
        .int("window", window)
        .float("put_mib_per_sec", mb / put_secs)
        .float("get_mib_per_sec", mb / get_secs)
        .print(&format!(
            "object {mib} MiB: put {:.0} MiB/s, get {:.0} MiB/s",
            mb / put_secs,
            mb / get_secs
        ));
    Ok(())
}

/// A bucket of `keys` keys (small values): the time to fill it, then the time to list its
/// keys (a headers-only watch of every key's latest value, as the clients list keys).
pub async fn scale(addr: &str, keys: u64) -> Result<()> {
    let mut conn = connect(addr).await.context("connecting")?;
    create_bucket(&mut conn).await?;
    let payload = publisher::payload(32);
    let start = Instant::now();
    publish_acked(&mut conn, keys, 512, |i| key(i, keys), &payload).await?;
    let fill_secs = start.elapsed().as_secs_f64();
    let start = Instant::now();
    let mut seen = Deliveries::default();
    push_consumer(
        &mut conn,
        &format!("KV_{BUCKET}"),
        &format!(
            r#""headers_only":true,"deliver_policy":"last_per_subject","filter_subject":"$KV.{BUCKET}.>""#
        ),
        &mut seen,
    )
    .await?;
    receive(&mut conn, &mut seen, keys).await?;
    let got = seen.got;
    let list_secs = start.elapsed().as_secs_f64();
    Report::new("kvscale")
        .int("keys", got)
        .float("fill_secs", fill_secs)
        .float("list_secs", list_secs)
        .print(&format!(
            "kvscale {keys} keys: filled in {fill_secs:.2}s, keys listed in {list_secs:.2}s"
        ));
    Ok(())
}
