//! `queue`: one publisher, several subscribers in one queue group. Each message must be delivered
//! exactly once in total, which is checked after flushing every connection; the spread across
//! members is reported as well.

use anyhow::{ensure, Result};

use crate::progress::Delivery;
use crate::publisher::Pacing;
use crate::report::{si, Report};
use crate::scenario::throughput::{self, megabytes_per_sec, Setup};

pub async fn run(addr: &str, members: usize, size: usize, msgs: u64, pacing: Pacing) -> Result<()> {
    ensure!(members > 0, "--members must be at least 1");
    let outcome = throughput::run(&Setup {
        addr,
        subject: "bench.queue",
        subscribers: members,
        queue: Some("workers"),
        delivery: Delivery::Shared,
        size,
        msgs,
        pacing,
    })
    .await?;
    let total: u64 = outcome.per_subscriber.iter().sum();
    ensure!(
        total == msgs,
        "the queue group received {total} messages in total ({:?}), {msgs} were published",
        outcome.per_subscriber
    );

    let secs = outcome.elapsed.as_secs_f64();
    let rate = msgs as f64 / secs;
    let mb = megabytes_per_sec(msgs, size, outcome.elapsed);
    Report::new("queue")
        .int("size", size as u64)
        .int("msgs", msgs)
        .int("members", members as u64)
        .float("secs", secs)
        .float("msgs_per_sec", rate)
        .float("mb_per_sec", mb)
        .ints("per_member", &outcome.per_subscriber)
        .print(&format!(
            "queue {members} members {size}B: {msgs} msgs in {secs:.3}s = {} msgs/s, \
             {mb:.1} MB/s, per member {:?}",
            si(rate),
            outcome.per_subscriber
        ));
    Ok(())
}
