//! Key-value and object store scenarios, speaking the conventions the clients build on
//! streams (`KV_<bucket>` with subjects `$KV.<bucket>.<key>`, `OBJ_<bucket>` with chunks on
//! `$O.<bucket>.C.<id>`), so that the server, not a client library, is what is measured.
//!
//! `kvput`: puts over `keys` keys, `window` acknowledgements outstanding.
//! `kvget`: fills `keys` keys, then direct gets of the latest value, `window` outstanding.
//! `kvwatch`: fills `keys` keys, then times a watch (push consumer, last per subject, flow
//! control) receiving every key's latest value.
//! `objput` / `objget`: an object of `mib` MiB in 128 KiB chunks, put with `window` chunk
//! acknowledgements outstanding, then read back through a push consumer with flow control.

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

/// Counts deliveries to the deliver subject (answering flow control) until `want` arrived.
async fn receive(conn: &mut Conn, want: u64, mut each: impl FnMut(&[u8])) -> Result<u64> {
    let mut got = 0u64;
    let mut out = Vec::new();
    while got < want {
        conn.read_some().await?;
        out.clear();
        conn.drain(|op| {
            if let ServerOp::Msg(m) = op {
                if m.sid == b"2" {
                    if m.subject == DELIVER.as_bytes() {
                        if let Some(r) = m.reply {
                            proto::encode_pub(&mut out, r, None, b"");
                        }
                    } else {
                        got += 1;
                        each(m.payload());
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
    Ok(got)
}

async fn push_consumer(conn: &mut Conn, stream: &str, config: &str) -> Result<()> {
    api(
        conn,
        &format!("$JS.API.CONSUMER.CREATE.{stream}"),
        &format!(
            r#"{{"stream_name":"{stream}","config":{{"deliver_subject":"{DELIVER}","ack_policy":"none","flow_control":true,"idle_heartbeat":5000000000,"mem_storage":true,{config}}}}}"#
        ),
    )
    .await
    .context("creating the watch")?;
    Ok(())
}

pub async fn watch(addr: &str, size: usize, keys: u64) -> Result<()> {
    let mut conn = connect(addr).await.context("connecting")?;
    create_bucket(&mut conn).await?;
    let payload = publisher::payload(size);
    publish_acked(&mut conn, keys, 1000, |i| key(i, keys), &payload).await?;
    let start = Instant::now();
    push_consumer(
        &mut conn,
        &format!("KV_{BUCKET}"),
        &format!(r#""deliver_policy":"last_per_subject","filter_subject":"$KV.{BUCKET}.>""#),
    )
    .await?;
    let got = receive(&mut conn, keys, |_| {}).await?;
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
    push_consumer(
        &mut conn,
        &format!("OBJ_{BUCKET}"),
        &format!(r#""deliver_policy":"all","filter_subject":"{subject}""#),
    )
    .await?;
    let mut bytes = 0u64;
    receive(&mut conn, chunks, |p| bytes += p.len() as u64).await?;
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
