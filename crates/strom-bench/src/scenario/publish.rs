//! `pub`: publish-only throughput. Nobody subscribes, so this measures how fast the server reads,
//! parses and routes (to no one). A final `PING`/`PONG` makes sure it has processed every message
//! before the clock stops.

use std::time::Instant;

use anyhow::{Context, Result};

use crate::conn::Conn;
use crate::publisher::{self, Batch, Pacing};
use crate::report::{si, Report};
use crate::scenario::throughput::megabytes_per_sec;

pub async fn run(addr: &str, size: usize, msgs: u64, pacing: Pacing) -> Result<()> {
    let mut conn = Conn::connect(addr, b"")
        .await
        .context("connecting the publisher")?;
    let batch = Batch::new("bench.pub", size, pacing.batch_bytes);
    let start = Instant::now();
    publisher::publish(&mut conn, &batch, msgs, None).await?;
    conn.ping_pong(|_| {}).await?;
    let elapsed = start.elapsed();

    let rate = msgs as f64 / elapsed.as_secs_f64();
    let mb = megabytes_per_sec(msgs, size, elapsed);
    Report::new("pub")
        .int("size", size as u64)
        .int("msgs", msgs)
        .float("secs", elapsed.as_secs_f64())
        .float("msgs_per_sec", rate)
        .float("mb_per_sec", mb)
        .print(&format!(
            "pub {size}B: {msgs} msgs in {:.3}s = {} msgs/s, {mb:.1} MB/s",
            elapsed.as_secs_f64(),
            si(rate)
        ));
    Ok(())
}
