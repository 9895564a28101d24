//! The writer: drains a client's outbound queue into its socket, sends server PINGs, and closes.
//!
//! Each pass swaps the whole queue out under the lock and writes it with one `write_all`, so frames
//! queued by many publishers go out in large writes. A write that does not finish within
//! `write_deadline` makes the client a slow consumer.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::time::{sleep_until, timeout, Instant};

use super::close::CloseReason;
use super::handle::ClientHandle;
use super::socket::Socket;
use strom_proto::ErrText;

/// Buffer capacity always kept between writes.
const KEEP_CAPACITY: usize = 64 * 1024;
/// A larger buffer is kept only while writes still fill a good part of it, so a busy receiver
/// reuses its buffers (no page faults, no regrowth) and an idle one gives the memory back.
const KEEP_FRACTION: usize = 4;

pub(super) struct WriterConfig {
    pub ping_interval: Duration,
    pub ping_max: u32,
    pub write_deadline: Duration,
}

/// Runs until the connection closes; returns why it closed.
pub(super) async fn run(
    client: Arc<ClientHandle>,
    socket: Arc<Socket>,
    cfg: WriterConfig,
) -> CloseReason {
    let mut spare = BytesMut::new();
    let mut spare_inserts: Vec<(usize, Bytes)> = Vec::new();
    let mut next_ping = Instant::now() + cfg.ping_interval;
    let mut last_write = 0;
    let reason = loop {
        let close = {
            let mut st = client.out.state.lock();
            if !st.buf.is_empty() || !st.inserts.is_empty() {
                std::mem::swap(&mut st.buf, &mut spare);
                std::mem::swap(&mut st.inserts, &mut spare_inserts);
                st.in_flight = spare.len() + st.shared;
                st.shared = 0;
            }
            st.close
        };
        if let Some(reason) = close {
            if !reason.flushes() {
                break reason;
            }
        }
        if !spare.is_empty() || !spare_inserts.is_empty() {
            let written = if spare_inserts.is_empty() {
                timeout(cfg.write_deadline, socket.write_all(&spare)).await
            } else {
                timeout(
                    cfg.write_deadline,
                    socket.write_all_with(&spare, &spare_inserts),
                )
                .await
            };
            let n = spare.len() + spare_inserts.iter().map(|(_, b)| b.len()).sum::<usize>();
            spare_inserts.clear();
            last_write = n;
            spare.clear();
            if spare.capacity() > KEEP_CAPACITY && spare.capacity() > n * KEEP_FRACTION {
                spare = BytesMut::new();
            }
            client.out.state.lock().in_flight = 0;
            match written {
                Ok(Ok(())) => continue,
                Ok(Err(_)) => break CloseReason::WriteError,
                Err(_) => {
                    crate::client_log!(
                        Info,
                        client,
                        "Slow Consumer Detected: WriteDeadline of {:?} exceeded with {} total bytes",
                        cfg.write_deadline,
                        n
                    );
                    break CloseReason::SlowConsumerWriteDeadline;
                }
            }
        }
        if let Some(reason) = close {
            break reason;
        }
        // Going idle: give back what a burst grew beyond what recent writes need.
        trim(&client, &mut spare, last_write * KEEP_FRACTION);
        tokio::select! {
            _ = client.out.wake.notified() => {}
            _ = sleep_until(next_ping) => {
                next_ping = Instant::now() + cfg.ping_interval;
                // Quiet for a whole ping interval: keep only the small buffers.
                trim(&client, &mut spare, 0);
                last_write = 0;
                ping_tick(&client, &cfg);
            }
        }
    };
    client.out.close(reason);
    socket.shutdown();
    client.out.detach();
    client.stop_reader.notify_one();
    reason
}

/// Drops buffers whose capacity is above both [`KEEP_CAPACITY`] and `keep`.
fn trim(client: &ClientHandle, spare: &mut BytesMut, keep: usize) {
    let limit = keep.max(KEEP_CAPACITY);
    if spare.capacity() > limit {
        *spare = BytesMut::new();
    }
    let mut st = client.out.state.lock();
    if st.buf.is_empty() && st.buf.capacity() > limit {
        st.buf = BytesMut::new();
    }
}

/// One tick of the ping timer, as nats-server's `processPingTimer`.
fn ping_tick(client: &ClientHandle, cfg: &WriterConfig) {
    let now = std::time::Instant::now();
    // Once the round trip is known, a client that has sent something within the interval is
    // alive: nats-server delays its PING then.
    if client.rtt_known.load(Ordering::Relaxed) && client.idle_for(now) < cfg.ping_interval {
        return;
    }
    let out = client.pings_out.load(Ordering::Relaxed);
    if out + 1 > cfg.ping_max {
        crate::client_log!(Debug, client, "Stale Client Connection - Closing");
        client.trace_proto_out(&ErrText::StaleConnection.line());
        client.out.push_and_close(
            &ErrText::StaleConnection.line(),
            CloseReason::StaleConnection,
        );
        return;
    }
    client.push_ping();
}
