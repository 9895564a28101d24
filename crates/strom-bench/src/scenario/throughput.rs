//! The driver shared by `pubsub`, `fanout` and `queue`: connect the subscribers (their
//! subscriptions confirmed by `PONG` before anything is published), publish with pacing, stop the
//! clock when the last message has arrived, then flush every connection so the final counts are
//! exact.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::conn::Conn;
use crate::progress::{Delivery, Progress};
use crate::publisher::{self, Batch, Pacing};
use crate::subscriber;

/// What to run.
pub struct Setup<'a> {
    pub addr: &'a str,
    pub subject: &'a str,
    pub subscribers: usize,
    pub queue: Option<&'a str>,
    pub delivery: Delivery,
    pub size: usize,
    pub msgs: u64,
    pub pacing: Pacing,
}

/// What happened: the time from the first publish to the last delivery, and how many messages
/// each subscriber received in total (after the final flush).
pub struct Outcome {
    pub elapsed: Duration,
    pub per_subscriber: Vec<u64>,
}

/// Runs one throughput measurement.
///
/// # Errors
/// Connection failures, a subscriber cut off by the server, or protocol errors.
pub async fn run(setup: &Setup<'_>) -> Result<Outcome> {
    let mut subscribers = Vec::with_capacity(setup.subscribers);
    for _ in 0..setup.subscribers {
        subscribers.push(subscriber::connect(setup.addr, setup.subject, setup.queue).await?);
    }
    let mut publisher = Conn::connect(setup.addr, b"")
        .await
        .context("connecting the publisher")?;

    let progress = Arc::new(Progress::new(setup.subscribers));
    let (stop, stopped) = watch::channel(false);
    let tasks: Vec<JoinHandle<Result<u64>>> = subscribers
        .into_iter()
        .enumerate()
        .map(|(i, conn)| {
            tokio::spawn(subscriber::run(
                conn,
                i,
                Arc::clone(&progress),
                stopped.clone(),
            ))
        })
        .collect();

    let batch = Batch::new(setup.subject, setup.size, setup.pacing.batch_bytes);
    let pace = Some((&*progress, setup.delivery, setup.pacing));
    let start = Instant::now();
    let delivered = async {
        publisher::publish(&mut publisher, &batch, setup.msgs, pace).await?;
        progress.wait_for(setup.delivery, setup.msgs).await
    }
    .await;
    let elapsed = start.elapsed();
    if let Err(e) = delivered {
        return Err(first_subscriber_error(tasks).await.unwrap_or(e));
    }

    // Everything the server had routed by the time of this PONG has been queued to the
    // subscribers; their own PING/PONG then flushes it to them.
    publisher.ping_pong(|_| {}).await?;
    let _ = stop.send(true);
    let mut per_subscriber = Vec::with_capacity(tasks.len());
    for task in tasks {
        per_subscriber.push(task.await.context("subscriber task panicked")??);
    }
    Ok(Outcome {
        elapsed,
        per_subscriber,
    })
}

/// After a failure: the error of a subscriber that ended (it is more specific than "a subscriber
/// failed"); the others are stopped.
async fn first_subscriber_error(tasks: Vec<JoinHandle<Result<u64>>>) -> Option<anyhow::Error> {
    let mut found = None;
    for task in tasks {
        if task.is_finished() {
            if let Ok(Err(e)) = task.await {
                found.get_or_insert(e);
            }
        } else {
            task.abort();
        }
    }
    found
}

/// Payload megabytes (10^6 bytes) per second.
pub fn megabytes_per_sec(msgs: u64, size: usize, elapsed: Duration) -> f64 {
    msgs as f64 * size as f64 / 1e6 / elapsed.as_secs_f64()
}
