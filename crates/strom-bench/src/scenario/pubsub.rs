//! `pubsub`: one publisher, one subscriber on the same subject; the rate is measured at the
//! subscriber, from the first publish until it has received every message.

use anyhow::{ensure, Result};

use crate::progress::Delivery;
use crate::publisher::Pacing;
use crate::report::{si, Report};
use crate::scenario::throughput::{self, megabytes_per_sec, Setup};

pub async fn run(addr: &str, size: usize, msgs: u64, pacing: Pacing) -> Result<()> {
    let outcome = throughput::run(&Setup {
        addr,
        subject: "bench.pubsub",
        subscribers: 1,
        queue: None,
        delivery: Delivery::Each,
        size,
        msgs,
        pacing,
    })
    .await?;
    let received = outcome.per_subscriber[0];
    ensure!(
        received == msgs,
        "the subscriber received {received} messages, {msgs} were published"
    );

    let secs = outcome.elapsed.as_secs_f64();
    let rate = msgs as f64 / secs;
    let mb = megabytes_per_sec(msgs, size, outcome.elapsed);
    Report::new("pubsub")
        .int("size", size as u64)
        .int("msgs", msgs)
        .float("secs", secs)
        .float("msgs_per_sec", rate)
        .float("mb_per_sec", mb)
        .print(&format!(
            "pubsub {size}B: {msgs} msgs in {secs:.3}s = {} msgs/s, {mb:.1} MB/s at the subscriber",
            si(rate)
        ));
    Ok(())
}
