//! A counting subscriber for the throughput scenarios: it reads as fast as it can, counts the
//! messages in every read, and reports the count to [`Progress`]. When told to stop it sends
//! `PING` and keeps counting until the `PONG`, so the final count includes everything the server
//! had queued for it, which is what makes the exactly-once checks meaningful.

use std::sync::Arc;

use anyhow::{Context, Result};
use tokio::sync::watch;

use crate::conn::Conn;
use crate::progress::Progress;
use crate::proto::{self, ServerOp};

/// Connects and subscribes to `subject` (in `queue`, if given); the subscription is in place on
/// the server when this returns.
///
/// # Errors
/// Connection or handshake failures.
pub async fn connect(addr: &str, subject: &str, queue: Option<&str>) -> Result<Conn> {
    let mut sub = Vec::new();
    proto::encode_sub(&mut sub, subject, queue, 1);
    Conn::connect(addr, &sub)
        .await
        .context("connecting a subscriber")
}

/// Counts messages on `conn` until `stop` changes, then drains up to a `PONG` and returns the
/// total. On any error it marks `progress` as failed first, so waiters do not hang.
///
/// # Errors
/// The connection's read, write or protocol errors (a slow-consumer disconnect shows up here as
/// "the server closed the connection").
pub async fn run(
    conn: Conn,
    index: usize,
    progress: Arc<Progress>,
    stop: watch::Receiver<bool>,
) -> Result<u64> {
    let result = count(conn, index, &progress, stop).await;
    if result.is_err() {
        progress.fail();
    }
    result.with_context(|| {
        format!(
            "subscriber {index}, after {} messages",
            progress.received(index)
        )
    })
}

async fn count(
    mut conn: Conn,
    index: usize,
    progress: &Progress,
    mut stop: watch::Receiver<bool>,
) -> Result<u64> {
    let mut total = 0u64;
    loop {
        tokio::select! {
            biased;
            _ = stop.changed() => break,
            read = conn.read_some() => {
                read?;
                let mut n = 0u64;
                conn.drain(|op| {
                    n += u64::from(matches!(op, ServerOp::Msg(_)));
                    Ok(())
                })?;
                conn.flush_out().await?;
                total += n;
                progress.add(index, n);
            }
        }
    }
    let mut tail = 0u64;
    conn.ping_pong(|_| tail += 1).await?;
    progress.add(index, tail);
    Ok(total + tail)
}
