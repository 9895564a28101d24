//! One client connection: the handshake (`INFO` in, `CONNECT` + `PING` out, wait for `PONG`) and
//! a read buffer that hands out every complete operation it holds, so that one read of many
//! messages costs one syscall and no allocation.
//!
//! `PING` from the server is answered automatically and `-ERR` ends the connection with an error:
//! every scenario treats a server error as a failed run.

use std::time::Duration;

use anyhow::{bail, Context, Result};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::proto::{self, Parsed, ServerOp};

/// Initial read buffer; it grows when a single frame (a large payload) needs more.
const READ_BUFFER: usize = 1 << 20;
/// Below this much free space at the end of the buffer, move the unread bytes to the front.
const MIN_FREE: usize = 64 * 1024;

pub struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Bytes the next complete frame needs, when the parser could tell.
    needed: usize,
    out: Vec<u8>,
}

impl Conn {
    /// Connects, reads `INFO`, sends `CONNECT`, then `extra` (subscriptions, say), then `PING`,
    /// and waits for the `PONG`: once this returns, the server has processed `extra`.
    ///
    /// # Errors
    /// Connection failures, a server that does not speak NATS, or a `-ERR` during the handshake.
    pub async fn connect(addr: &str, extra: &[u8]) -> Result<Conn> {
        Self::connect_as(addr, proto::CONNECT, extra).await
    }

    /// As [`Conn::connect`], with `connect` (a whole `CONNECT` line, credentials say) sent
    /// instead of the default one.
    ///
    /// # Errors
    /// As [`Conn::connect`].
    pub async fn connect_as(addr: &str, connect: &[u8], extra: &[u8]) -> Result<Conn> {
        let stream = TcpStream::connect(addr).await.map_err(|e| {
            let hint = if e.raw_os_error() == Some(24) {
                " (out of file descriptors: raise `ulimit -n`)"
            } else {
                ""
            };
            anyhow::anyhow!("connecting to {addr}: {e}{hint}")
        })?;
        stream.set_nodelay(true)?;
        let mut conn = Conn {
            stream,
            buf: vec![0; READ_BUFFER],
            start: 0,
            end: 0,
            needed: 0,
            out: Vec::new(),
        };
        let mut info = false;
        while !info {
            conn.read_some().await.context("waiting for INFO")?;
            conn.drain(|op| {
                info |= matches!(op, ServerOp::Info(_));
                Ok(())
            })?;
        }
        let mut hello = Vec::with_capacity(connect.len() + extra.len() + 6);
        hello.extend_from_slice(connect);
        hello.extend_from_slice(extra);
        hello.extend_from_slice(proto::PING);
        conn.write_all(&hello).await?;
        conn.wait_pong(|_| {}).await?;
        Ok(conn)
    }

    /// Writes all of `bytes`.
    ///
    /// # Errors
    /// The socket's write error.
    pub async fn write_all(&mut self, bytes: &[u8]) -> Result<()> {
        self.stream
            .write_all(bytes)
            .await
            .context("writing to the server")
    }

    /// Sends the `PONG`s that [`Conn::drain`] queued in answer to the server's `PING`s.
    ///
    /// # Errors
    /// The socket's write error.
    pub async fn flush_out(&mut self) -> Result<()> {
        if self.out.is_empty() {
            return Ok(());
        }
        let out = std::mem::take(&mut self.out);
        let result = self.write_all(&out).await;
        self.out = out;
        self.out.clear();
        result
    }

    /// Reads once from the socket, returning how many bytes arrived. Cancel-safe: nothing is lost
    /// if the future is dropped before it completes.
    ///
    /// # Errors
    /// A read error, or the server closing the connection.
    pub async fn read_some(&mut self) -> Result<usize> {
        self.make_room();
        let n = self
            .stream
            .read(&mut self.buf[self.end..])
            .await
            .context("reading from the server")?;
        if n == 0 {
            bail!("the server closed the connection");
        }
        self.end += n;
        Ok(n)
    }

    /// Hands every complete buffered operation to `each`, except `PING` (answered by queueing a
    /// `PONG`) and `-ERR` (returned as an error).
    ///
    /// # Errors
    /// A protocol error, a `-ERR` from the server, or whatever `each` returns.
    pub fn drain(&mut self, mut each: impl FnMut(ServerOp<'_>) -> Result<()>) -> Result<()> {
        let mut pong = false;
        loop {
            match proto::parse(&self.buf[self.start..self.end])? {
                Parsed::Op(op, used) => {
                    match op {
                        ServerOp::Ping => pong = true,
                        ServerOp::Err(text) => {
                            bail!("server error: {}", String::from_utf8_lossy(text))
                        }
                        op => each(op)?,
                    }
                    self.start += used;
                }
                Parsed::Incomplete { needed } => {
                    self.needed = needed.unwrap_or(0);
                    break;
                }
            }
        }
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
        if pong {
            self.out.extend_from_slice(proto::PONG);
        }
        Ok(())
    }

    /// Sends `PING` and reads until the matching `PONG`, handing every message that arrives
    /// meanwhile to `each`. Because the server answers in order, everything it had queued for this
    /// connection before the `PING` has arrived when this returns.
    ///
    /// # Errors
    /// As [`Conn::read_some`] and [`Conn::drain`].
    pub async fn ping_pong(&mut self, each: impl FnMut(&proto::Msg<'_>)) -> Result<()> {
        self.write_all(proto::PING).await?;
        self.wait_pong(each).await
    }

    async fn wait_pong(&mut self, mut each: impl FnMut(&proto::Msg<'_>)) -> Result<()> {
        let mut pong = false;
        loop {
            self.drain(|op| {
                match op {
                    ServerOp::Pong => pong = true,
                    ServerOp::Msg(m) => each(&m),
                    _ => {}
                }
                Ok(())
            })?;
            self.flush_out().await?;
            if pong {
                return Ok(());
            }
            tokio::time::timeout(Duration::from_secs(30), self.read_some())
                .await
                .context("no PONG from the server within 30s")??;
        }
    }

    /// Makes sure there is free space after the unread bytes, and room for the whole of the next
    /// frame when it is larger than the buffer.
    fn make_room(&mut self) {
        let unread = self.end - self.start;
        let want = self.needed.max(unread + MIN_FREE);
        if self.buf.len() - self.start < want {
            self.buf.copy_within(self.start..self.end, 0);
            self.start = 0;
            self.end = unread;
            if self.buf.len() < want {
                self.buf.resize(want.next_power_of_two(), 0);
            }
        }
    }
}
