//! `fanout`: one publisher, several subscriber connections on the same subject. Every subscriber
//! must get every message; the rate reported is messages delivered per second, in total and per
//! subscriber.

use anyhow::{ensure, Result};

use crate::progress::Delivery;
use crate::publisher::Pacing;
use crate::report::{si, Report};
use crate::scenario::throughput::{self, megabytes_per_sec, Setup};

pub async fn run(addr: &str, subs: usize, size: usize, msgs: u64, pacing: Pacing) -> Result<()> {
    ensure!(subs > 0, "--subs must be at least 1");
    let outcome = throughput::run(&Setup {
        addr,
        subject: "bench.fanout",
        subscribers: subs,
        queue: None,
        delivery: Delivery::Each,
        size,
        msgs,
        pacing,
    })
    .await?;
    for (i, received) in outcome.per_subscriber.iter().enumerate() {
        ensure!(
            *received == msgs,
            "subscriber {i} received {received} messages, {msgs} were published"
        );
    }

    let secs = outcome.elapsed.as_secs_f64();
    let delivered = msgs * subs as u64;
    let total_rate = delivered as f64 / secs;
    let per_sub_rate = msgs as f64 / secs;
    let mb = megabytes_per_sec(delivered, size, outcome.elapsed);
    Report::new("fanout")
        .int("size", size as u64)
        .int("msgs", msgs)
        .int("subs", subs as u64)
        .float("secs", secs)
        .float("delivered_msgs_per_sec", total_rate)
        .float("per_sub_msgs_per_sec", per_sub_rate)
        .float("published_msgs_per_sec", per_sub_rate)
        .float("mb_per_sec", mb)
        .print(&format!(
            "fanout {subs}x {size}B: {delivered} deliveries in {secs:.3}s = {} msgs/s total, \
             {} msgs/s per subscriber, {mb:.1} MB/s",
            si(total_rate),
            si(per_sub_rate)
        ));
    Ok(())
}
