//! The batched publisher. It encodes one `PUB` frame, repeats it into a buffer of a few hundred
//! KiB, and writes that buffer again and again: one syscall carries thousands of small messages
//! and no per-message work is left on the client's side.
//!
//! With subscribers, it keeps at most `window` messages in flight (published but not yet
//! counted by the subscribers), so a fast publisher does not push a subscriber past the server's
//! pending limit (64 MiB by default in nats-server) and get it cut off as a slow consumer.

use anyhow::Result;

use crate::conn::Conn;
use crate::progress::{Delivery, Progress};
use crate::proto;

/// Tuning shared by every throughput scenario.
#[derive(Clone, Copy, Debug)]
pub struct Pacing {
    /// Target size of one write.
    pub batch_bytes: usize,
    /// Bytes of frames allowed in flight before the publisher waits for the subscribers.
    pub window_bytes: usize,
}

/// A buffer of identical `PUB` frames.
pub struct Batch {
    bytes: Vec<u8>,
    frame_len: usize,
    frames: usize,
}

impl Batch {
    pub fn new(subject: &str, size: usize, batch_bytes: usize) -> Batch {
        let payload = payload(size);
        let mut frame = Vec::new();
        proto::encode_pub(&mut frame, subject.as_bytes(), None, &payload);
        let frames = (batch_bytes / frame.len()).max(1);
        Batch {
            bytes: frame.repeat(frames),
            frame_len: frame.len(),
            frames,
        }
    }

    /// The first `n` frames (`n` at most [`Batch::frames`]).
    fn first(&self, n: usize) -> &[u8] {
        &self.bytes[..n * self.frame_len]
    }
}

/// Publishes `msgs` messages from `batch`. With `pace`, waits before each write until the
/// subscribers have caught up to within the window.
///
/// # Errors
/// Write errors, or a subscriber failing while the publisher waits for it.
pub async fn publish(
    conn: &mut Conn,
    batch: &Batch,
    msgs: u64,
    pace: Option<(&Progress, Delivery, Pacing)>,
) -> Result<()> {
    let window = pace.map(|(_, _, p)| {
        let frames = (p.window_bytes / batch.frame_len) as u64;
        frames.max(2 * batch.frames as u64)
    });
    let mut sent = 0u64;
    while sent < msgs {
        let n = (msgs - sent).min(batch.frames as u64);
        if let (Some((progress, delivery, _)), Some(window)) = (pace, window) {
            let allowed_behind = (sent + n).saturating_sub(window);
            progress.wait_for(delivery, allowed_behind).await?;
        }
        conn.write_all(batch.first(n as usize)).await?;
        sent += n;
    }
    Ok(())
}

/// A payload of `size` printable bytes.
pub fn payload(size: usize) -> Vec<u8> {
    (0..size).map(|i| b'a' + (i % 26) as u8).collect()
}
