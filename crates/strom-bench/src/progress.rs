//! How far each subscriber has got, shared between the subscriber tasks (which add to it after
//! every read) and the tasks that wait on it: the publisher, to keep a bounded number of messages
//! in flight, and the scenario, to stop the clock when the last message has arrived.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use anyhow::{bail, Result};
use tokio::sync::Notify;

pub struct Progress {
    received: Vec<AtomicU64>,
    failed: AtomicBool,
    changed: Notify,
}

/// What counts as "delivered" when the publisher and the scenario look at the progress.
#[derive(Clone, Copy, Debug)]
pub enum Delivery {
    /// Every subscriber gets every message (fan-out): the slowest subscriber sets the pace.
    Each,
    /// Each message goes to one subscriber (queue group): the sum is what matters.
    Shared,
}

impl Progress {
    pub fn new(subscribers: usize) -> Progress {
        Progress {
            received: (0..subscribers).map(|_| AtomicU64::new(0)).collect(),
            failed: AtomicBool::new(false),
            changed: Notify::new(),
        }
    }

    /// Records `n` more messages at subscriber `index`.
    pub fn add(&self, index: usize, n: u64) {
        self.received[index].fetch_add(n, Ordering::Release);
        self.changed.notify_waiters();
    }

    /// Messages counted so far at subscriber `index`.
    pub fn received(&self, index: usize) -> u64 {
        self.received[index].load(Ordering::Acquire)
    }

    /// Marks the run as failed, waking every waiter so it can give up.
    pub fn fail(&self) {
        self.failed.store(true, Ordering::Release);
        self.changed.notify_waiters();
    }

    /// Messages delivered so far, in the sense of `delivery`.
    pub fn delivered(&self, delivery: Delivery) -> u64 {
        let counts = self.received.iter().map(|c| c.load(Ordering::Acquire));
        match delivery {
            Delivery::Each => counts.min().unwrap_or(0),
            Delivery::Shared => counts.sum(),
        }
    }

    /// Waits until `delivered(delivery) >= target`.
    ///
    /// # Errors
    /// A subscriber failed before the target was reached.
    pub async fn wait_for(&self, delivery: Delivery, target: u64) -> Result<()> {
        loop {
            // Register interest before checking, so an update between the check and the await
            // still wakes us (`notify_waiters` stores no permit).
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.failed.load(Ordering::Acquire) {
                bail!("a subscriber failed");
            }
            if self.delivered(delivery) >= target {
                return Ok(());
            }
            notified.await;
        }
    }
}
