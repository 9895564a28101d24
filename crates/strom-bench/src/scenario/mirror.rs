//! `jsmirror`: fills an origin stream with `msgs` messages, then creates a mirror of it (or,
//! with `--source`, a stream sourcing it) and times until the copy holds every message,
//! reading its STREAM.INFO every 2 ms. Measures how fast a server copies between streams.

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use super::jetstream::{connect, create_stream, fill, request, INBOX, STREAM};
use crate::report::{si, Report};

const COPY: &str = "BENCHCOPY";

/// The `"messages":N` of a stream info answer.
fn messages(info: &[u8]) -> Option<u64> {
    let at = info.windows(11).position(|w| w == b"\"messages\":")? + 11;
    let digits: Vec<u8> = info[at..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .copied()
        .collect();
    std::str::from_utf8(&digits).ok()?.parse().ok()
}

pub async fn run(addr: &str, size: usize, msgs: u64, source: bool) -> Result<()> {
    let mut conn = connect(addr).await.context("connecting")?;
    create_stream(&mut conn, "bench.m.*", false).await?;
    fill(&mut conn, "bench.m", 100, size, msgs).await?;
    let body = if source {
        format!(r#"{{"name":"{COPY}","storage":"file","sources":[{{"name":"{STREAM}"}}]}}"#)
    } else {
        format!(r#"{{"name":"{COPY}","storage":"file","mirror":{{"name":"{STREAM}"}}}}"#)
    };
    let start = Instant::now();
    let reply = request(
        &mut conn,
        &format!("$JS.API.STREAM.CREATE.{COPY}"),
        body.as_bytes(),
        &format!("{INBOX}.copy"),
    )
    .await?;
    if reply.windows(7).any(|w| w == b"\"error\"") {
        bail!("copy create failed: {}", String::from_utf8_lossy(&reply));
    }
    let info_subject = format!("$JS.API.STREAM.INFO.{COPY}");
    let info_reply = format!("{INBOX}.info");
    loop {
        let info = request(&mut conn, &info_subject, b"", &info_reply).await?;
        if messages(&info).is_some_and(|n| n >= msgs) {
            break;
        }
        if start.elapsed() > Duration::from_secs(120) {
            bail!("the copy did not catch up in 120 s");
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let rate = msgs as f64 / elapsed;
    let kind = if source { "source" } else { "mirror" };
    Report::new("jsmirror")
        .text("kind", kind)
        .int("size", size as u64)
        .int("msgs", msgs)
        .float("secs", elapsed)
        .float("msgs_per_sec", rate)
        .print(&format!(
            "jsmirror {kind} {size}B: {msgs} msgs copied in {elapsed:.2}s, {} msgs/s",
            si(rate)
        ));
    Ok(())
}
