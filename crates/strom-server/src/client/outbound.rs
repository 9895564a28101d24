//! The bytes queued for one client, shared by every publisher that delivers to it.
//!
//! Publishers append whole frames under a short lock and never wait for the socket; the writer
//! task swaps the buffer out and writes it. When queued plus in-flight bytes pass `max_pending`,
//! the client is a slow consumer: the frame is not queued and the connection is closed, so one
//! stalled reader never slows the publisher or anyone else.

use bytes::{Buf, Bytes, BytesMut};
use parking_lot::Mutex;
use tokio::sync::Notify;

use super::close::CloseReason;
use std::sync::Arc;

use super::socket::Socket;

pub(super) struct OutState {
    pub(super) buf: BytesMut,
    /// Large payloads shared with other receivers instead of copied: each goes out right
    /// before `buf[offset..]`, in order.
    pub(super) inserts: Vec<(usize, Bytes)>,
    /// Bytes held in `inserts`.
    pub(super) shared: usize,
    /// Bytes the writer has taken and not finished writing.
    pub(super) in_flight: usize,
    pub(super) close: Option<CloseReason>,
    pub(super) msgs: u64,
    pub(super) bytes: u64,
    /// The socket publishers may write to directly; dropped when the connection ends, so that
    /// a subscription still held in some publisher's match cache does not keep the file open.
    direct: Option<Arc<Socket>>,
}

/// A client's outbound queue.
pub struct Outbound {
    pub(super) state: Mutex<OutState>,
    pub(super) wake: Notify,
    max_pending: usize,
}

/// The outcome of queueing a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Push {
    /// Queued. `first` is true when the buffer was empty, i.e. the writer needs a wake-up.
    Queued { first: bool },
    /// The connection is closing; nothing was queued.
    Closed,
    /// This frame made the client a slow consumer; the connection is now closing.
    SlowConsumer,
}

impl Outbound {
    pub fn new(max_pending: usize, socket: Option<Arc<Socket>>) -> Self {
        Outbound {
            state: Mutex::new(OutState {
                buf: BytesMut::new(),
                inserts: Vec::new(),
                shared: 0,
                in_flight: 0,
                close: None,
                msgs: 0,
                bytes: 0,
                direct: socket,
            }),
            wake: Notify::new(),
            max_pending,
        }
    }

    /// Appends one message frame written by `frame`, counting it as a delivered message.
    #[inline]
    pub fn push_msg(&self, payload_len: usize, frame: impl FnOnce(&mut BytesMut)) -> Push {
        let mut st = self.state.lock();
        if st.close.is_some() {
            return Push::Closed;
        }
        let before = st.buf.len();
        frame(&mut st.buf);
        if st.buf.len() + st.shared + st.in_flight > self.max_pending {
            st.buf.truncate(before);
            st.close = Some(CloseReason::SlowConsumerPendingBytes);
            return Push::SlowConsumer;
        }
        st.msgs += 1;
        st.bytes += payload_len as u64;
        Push::Queued {
            first: before == 0 && st.inserts.is_empty(),
        }
    }

    /// Appends one message whose payload is shared, not copied: `head` writes the control line
    /// (and header block), then the payload is referenced, then CRLF.
    pub fn push_shared(
        &self,
        payload_len: usize,
        head: impl FnOnce(&mut BytesMut),
        payload: &Bytes,
    ) -> Push {
        let mut st = self.state.lock();
        if st.close.is_some() {
            return Push::Closed;
        }
        let first = st.buf.is_empty() && st.inserts.is_empty();
        let before = st.buf.len();
        head(&mut st.buf);
        if st.buf.len() + st.shared + payload.len() + 2 + st.in_flight > self.max_pending {
            st.buf.truncate(before);
            st.close = Some(CloseReason::SlowConsumerPendingBytes);
            return Push::SlowConsumer;
        }
        let at = st.buf.len();
        st.inserts.push((at, payload.clone()));
        st.shared += payload.len();
        st.buf.extend_from_slice(b"\r\n");
        st.msgs += 1;
        st.bytes += payload_len as u64;
        Push::Queued { first }
    }

    /// Appends protocol bytes (PONG, +OK, -ERR, INFO) that are not counted as messages.
    pub fn push_proto(&self, bytes: &[u8]) -> Push {
        let mut st = self.state.lock();
        if st.close.is_some() {
            return Push::Closed;
        }
        let first = st.buf.is_empty() && st.inserts.is_empty();
        st.buf.extend_from_slice(bytes);
        Push::Queued { first }
    }

    /// Writes the queue straight to `socket` when the writer is not in the middle of a write
    /// (so bytes stay in order) and the queue is at most `max` bytes. Returns true when nothing
    /// is left for the writer; false means the caller must wake it.
    ///
    /// The lock is held across one non-blocking `write(2)`: publishers to this client wait that
    /// long, which is what nats-server's inline flush costs too, and far less than a wake-up.
    pub fn flush_inline(&self, max: usize) -> bool {
        let mut guard = self.state.lock();
        let st = &mut *guard;
        let Some(socket) = st.direct.as_ref() else {
            return false;
        };
        // Shared payloads go out with one vectored write by the writer.
        if st.close.is_some() || st.in_flight > 0 || st.buf.len() > max || !st.inserts.is_empty() {
            return st.buf.is_empty() && st.inserts.is_empty() && st.close.is_none();
        }
        if st.buf.is_empty() {
            return true;
        }
        match socket.try_write(&st.buf) {
            Ok(n) if n == st.buf.len() => {
                st.buf.clear();
                true
            }
            Ok(n) => {
                st.buf.advance(n);
                false
            }
            // Full socket or an error: the writer waits for room or reports the error.
            Err(_) => false,
        }
    }

    /// Lets publishers write to `socket` directly.
    pub fn attach(&self, socket: Arc<Socket>) {
        self.state.lock().direct = Some(socket);
    }

    /// Forgets the socket: the connection is over.
    pub fn detach(&self) {
        self.state.lock().direct = None;
    }

    /// Wakes the writer.
    #[inline]
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Starts closing for `reason` (the first reason wins) and wakes the writer.
    pub fn close(&self, reason: CloseReason) {
        {
            let mut st = self.state.lock();
            if st.close.is_none() {
                st.close = Some(reason);
            }
        }
        self.wake.notify_one();
    }

    /// Queues `bytes` and then closes, so they are the last thing the client reads.
    pub fn push_and_close(&self, bytes: &[u8], reason: CloseReason) {
        {
            let mut st = self.state.lock();
            if st.close.is_none() {
                st.buf.extend_from_slice(bytes);
                st.close = Some(reason);
            }
        }
        self.wake.notify_one();
    }

    /// Why the connection is closing, if it is.
    pub fn close_reason(&self) -> Option<CloseReason> {
        self.state.lock().close
    }

    /// Messages and payload bytes delivered to this client.
    pub fn stats(&self) -> (u64, u64) {
        let st = self.state.lock();
        (st.msgs, st.bytes)
    }

    /// Bytes queued or being written.
    pub fn pending_bytes(&self) -> usize {
        let st = self.state.lock();
        st.buf.len() + st.shared + st.in_flight
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slow_consumer_refuses_the_frame_that_passes_the_limit() {
        let out = Outbound::new(10, None);
        assert_eq!(
            out.push_msg(4, |b| b.extend_from_slice(b"12345678")),
            Push::Queued { first: true }
        );
        assert_eq!(
            out.push_msg(4, |b| b.extend_from_slice(b"abcd")),
            Push::SlowConsumer
        );
        assert_eq!(out.pending_bytes(), 8);
        assert_eq!(
            out.close_reason(),
            Some(CloseReason::SlowConsumerPendingBytes)
        );
        assert_eq!(out.push_msg(1, |b| b.extend_from_slice(b"x")), Push::Closed);
        assert_eq!(out.stats(), (1, 4));
    }

    #[test]
    fn first_reason_wins() {
        let out = Outbound::new(100, None);
        out.push_and_close(b"-ERR 'x'\r\n", CloseReason::ProtocolViolation);
        out.close(CloseReason::ServerShutdown);
        assert_eq!(out.close_reason(), Some(CloseReason::ProtocolViolation));
    }
}
