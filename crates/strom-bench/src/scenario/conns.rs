//! `conns`: many idle connections with many subscriptions each, to measure what they cost the
//! server in memory. Each connection subscribes to its own subjects (`bench.<conn>.<i>`) and
//! confirms them with `PING`/`PONG`; then the tool prints `ready` and holds them (answering the
//! server's `PING`s) until stdin reaches end of file, or for `--hold-secs` when that is given.
//! The driver reads the server's resident memory while they are held. With `--publish-rate`,
//! each held connection also publishes to its first subject at that rate, so the server is
//! busy while the driver asks its monitoring port.

use std::io::{Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use tokio::sync::{oneshot, Semaphore};
use tokio::task::JoinHandle;

use crate::conn::Conn;
use crate::proto;
use crate::report::Report;

/// Handshakes in progress at once: enough to keep the server busy without overflowing its
/// listen backlog.
const PARALLEL_CONNECTS: usize = 64;

/// How the connections are held.
#[derive(Clone, Copy)]
pub struct Hold {
    /// How long; `None` holds until stdin is closed.
    pub secs: Option<u64>,
    /// Messages each connection publishes per second while held.
    pub publish_rate: u32,
}

pub async fn run(
    addr: &str,
    conns: usize,
    subs: usize,
    hold: Hold,
    timeout: Duration,
) -> Result<()> {
    let start = Instant::now();
    let opened = tokio::time::timeout(timeout, open_all(addr, conns, subs))
        .await
        .with_context(|| format!("connecting took longer than {}s", timeout.as_secs()))??;
    let secs = start.elapsed().as_secs_f64();

    Report::new("conns")
        .int("conns", conns as u64)
        .int("subs", subs as u64)
        .float("connect_secs", secs)
        .float("conns_per_sec", conns as f64 / secs)
        .print(&format!(
            "conns: {conns} connections x {subs} subscriptions open in {secs:.2}s"
        ));
    println!("ready");
    std::io::stdout().flush()?;

    let keepers: Vec<JoinHandle<Result<()>>> = opened
        .into_iter()
        .enumerate()
        .map(|(i, c)| tokio::spawn(keep(c, i, hold.publish_rate)))
        .collect();
    match hold.secs {
        Some(secs) => tokio::time::sleep(Duration::from_secs(secs)).await,
        None => stdin_closed().await,
    }
    let mut dropped = 0;
    for keeper in keepers {
        if keeper.is_finished() {
            dropped += 1;
        } else {
            keeper.abort();
        }
    }
    if dropped > 0 {
        bail!("the server dropped {dropped} of {conns} connections while they were held");
    }
    println!("closed");
    Ok(())
}

async fn open_all(addr: &str, conns: usize, subs: usize) -> Result<Vec<Conn>> {
    let permits = Arc::new(Semaphore::new(PARALLEL_CONNECTS));
    let mut tasks = Vec::with_capacity(conns);
    for c in 0..conns {
        let permits = Arc::clone(&permits);
        let addr = addr.to_owned();
        tasks.push(tokio::spawn(async move {
            let _permit = permits
                .acquire()
                .await
                .expect("the semaphore is never closed");
            let mut frames = Vec::with_capacity(subs * 24);
            for i in 0..subs {
                proto::encode_sub(&mut frames, &format!("bench.{c}.{i}"), None, i as u64 + 1);
            }
            Conn::connect(&addr, &frames)
                .await
                .with_context(|| format!("connection {c}"))
        }));
    }
    let mut opened = Vec::with_capacity(conns);
    for task in tasks {
        opened.push(task.await.context("connect task panicked")??);
    }
    Ok(opened)
}

/// Holds connection `index` open, answering `PING`s and publishing `rate` messages a second
/// to its first subject; returns only when the server closes it.
async fn keep(mut conn: Conn, index: usize, rate: u32) -> Result<()> {
    if rate == 0 {
        loop {
            conn.read_some().await?;
            conn.drain(|_| Ok(()))?;
            conn.flush_out().await?;
        }
    }
    let mut frame = Vec::new();
    proto::encode_pub(
        &mut frame,
        format!("bench.{index}.0").as_bytes(),
        None,
        &[b'x'; 16],
    );
    // Spread the connections' ticks over the first period so they do not publish in step.
    let period = Duration::from_secs(1) / rate;
    let first = period.mul_f64((index % 97) as f64 / 97.0);
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + first, period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                conn.write_all(&frame).await?;
                conn.flush_out().await?;
            }
            read = conn.read_some() => {
                read?;
                conn.drain(|_| Ok(()))?;
                conn.flush_out().await?;
            }
        }
    }
}

/// Resolves when stdin reaches end of file (read on a plain thread: tokio's stdin needs a
/// feature the workspace does not enable).
async fn stdin_closed() {
    let (tx, rx) = oneshot::channel();
    std::thread::spawn(move || {
        let mut sink = [0u8; 4096];
        let mut stdin = std::io::stdin();
        while matches!(stdin.read(&mut sink), Ok(n) if n > 0) {}
        let _ = tx.send(());
    });
    let _ = rx.await;
}
