//! `reqrep`: request/reply latency. A responder connection echoes every request to its reply
//! subject; a requester sends one request at a time to the responder's subject with a reply inbox
//! and waits for the answer before sending the next. Each round trip is one sample; the first
//! `warmup` are discarded.

use std::time::Instant;

use anyhow::{bail, ensure, Context, Result};
use tokio::task::JoinHandle;

use crate::conn::Conn;
use crate::latency::Samples;
use crate::proto::{self, ServerOp};
use crate::publisher;
use crate::report::{si, Report};

const SERVICE: &str = "bench.reqrep";

pub async fn run(addr: &str, size: usize, count: u64, warmup: u64) -> Result<()> {
    ensure!(count > 0, "--count must be at least 1");
    let mut echo = Echo::connect(addr, proto::CONNECT, size).await?;
    let (samples, elapsed) = echo.sample(warmup, count, None).await?;
    let s = samples.summary();
    let rate = count as f64 / elapsed;
    Report::new("reqrep")
        .int("size", size as u64)
        .int("count", count)
        .float("secs", elapsed)
        .float("requests_per_sec", rate)
        .float("min_us", s.min)
        .float("mean_us", s.mean)
        .float("p50_us", s.p50)
        .float("p90_us", s.p90)
        .float("p99_us", s.p99)
        .float("p999_us", s.p999)
        .float("max_us", s.max)
        .print(&format!(
            "reqrep {size}B: {count} requests, {} req/s; latency p50 {:.1}us p99 {:.1}us \
             p99.9 {:.1}us max {:.1}us",
            si(rate),
            s.p50,
            s.p99,
            s.p999,
            s.max
        ));
    Ok(())
}

/// A responder echoing requests and a requester timing them, both logged in with `connect`.
pub struct Echo {
    requester: Conn,
    responder: JoinHandle<Result<()>>,
    request: Vec<u8>,
    size: usize,
}

impl Echo {
    pub async fn connect(addr: &str, connect: &[u8], size: usize) -> Result<Echo> {
        let mut sub = Vec::new();
        proto::encode_sub(&mut sub, SERVICE, None, 1);
        let responder = Conn::connect_as(addr, connect, &sub)
            .await
            .context("connecting the responder")?;
        let responder = tokio::spawn(respond(responder));

        let inbox = format!("_INBOX.bench.{}", std::process::id());
        sub.clear();
        proto::encode_sub(&mut sub, &inbox, None, 1);
        let requester = Conn::connect_as(addr, connect, &sub)
            .await
            .context("connecting the requester")?;
        let mut request = Vec::new();
        let payload = publisher::payload(size);
        proto::encode_pub(
            &mut request,
            SERVICE.as_bytes(),
            Some(inbox.as_bytes()),
            &payload,
        );
        Ok(Echo {
            requester,
            responder,
            request,
            size,
        })
    }

    /// Times `count` round trips, one at a time, after `warmup` untimed ones, stopping early
    /// at `until`; the samples and the seconds the timed ones took.
    pub async fn sample(
        &mut self,
        warmup: u64,
        count: u64,
        until: Option<Instant>,
    ) -> Result<(Samples, f64)> {
        let size = self.size;
        let mut samples = Samples::with_capacity(count as usize);
        let mut start = Instant::now();
        for i in 0..warmup + count {
            if i == warmup {
                start = Instant::now();
            }
            let sent = Instant::now();
            self.requester.write_all(&self.request).await?;
            loop {
                let mut reply = None;
                self.requester.drain(|op| {
                    if let ServerOp::Msg(m) = op {
                        reply = Some(m.body.len());
                    }
                    Ok(())
                })?;
                self.requester.flush_out().await?;
                if let Some(len) = reply {
                    ensure!(len == size, "reply of {len} bytes to a {size}-byte request");
                    break;
                }
                tokio::select! {
                    read = self.requester.read_some() => { read.context("requester")?; }
                    ended = &mut self.responder => bail!("the responder stopped: {:?}", ended),
                }
            }
            if i >= warmup {
                samples.record(sent.elapsed());
            }
            if until.is_some_and(|t| Instant::now() >= t) {
                break;
            }
        }
        Ok((samples, start.elapsed().as_secs_f64()))
    }
}

impl Drop for Echo {
    fn drop(&mut self) {
        self.responder.abort();
    }
}

/// Echoes each request's payload to its reply subject; all the replies to one read go out in one
/// write.
async fn respond(mut conn: Conn) -> Result<()> {
    let mut replies = Vec::new();
    loop {
        conn.read_some().await.context("responder")?;
        conn.drain(|op| {
            if let ServerOp::Msg(m) = op {
                if let Some(reply) = m.reply {
                    proto::encode_pub(&mut replies, reply, None, m.payload());
                }
            }
            Ok(())
        })?;
        conn.flush_out().await?;
        if !replies.is_empty() {
            conn.write_all(&replies).await?;
            replies.clear();
        }
    }
}
