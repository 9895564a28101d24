//! A client's TCP socket, shared by its reader, its writer, and publishers that write to it
//! directly.
//!
//! Every operation takes `&self` (tokio's readiness API plus non-blocking reads and writes), so
//! a publisher that finds the receiver's writer idle can hand the bytes to the kernel itself,
//! saving a task wake-up — which, on a small VM, is most of a round trip's latency. Who may write
//! when is decided by the outbound queue's lock (see [`super::Outbound::flush_inline`]).

use std::io;
use std::net::Shutdown;

use std::io::IoSlice;

use bytes::{Bytes, BytesMut};
use tokio::net::TcpStream;

/// Pieces per vectored write; Linux accepts up to 1024.
const MAX_IOV: usize = 512;

pub struct Socket {
    stream: TcpStream,
}

impl Socket {
    pub fn new(stream: TcpStream) -> Self {
        Socket { stream }
    }

    /// Reads what is available into `buf`; 0 means the peer closed.
    pub async fn read_buf(&self, buf: &mut BytesMut) -> io::Result<usize> {
        loop {
            match self.stream.try_read_buf(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.stream.readable().await?,
                Err(e) => return Err(e),
            }
        }
    }

    /// Writes all of `buf`, waiting for the socket when it is full.
    pub async fn write_all(&self, mut buf: &[u8]) -> io::Result<()> {
        while !buf.is_empty() {
            match self.stream.try_write(buf) {
                Ok(n) => buf = &buf[n..],
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.stream.writable().await?,
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Writes `buf` with each shared payload of `inserts` spliced in before `buf[offset..]`, in
    /// vectored writes, waiting for the socket when it is full.
    pub async fn write_all_with(&self, buf: &[u8], inserts: &[(usize, Bytes)]) -> io::Result<()> {
        let mut pieces: Vec<&[u8]> = Vec::with_capacity(inserts.len() * 2 + 1);
        let mut at = 0;
        for (offset, payload) in inserts {
            if *offset > at {
                pieces.push(&buf[at..*offset]);
            }
            pieces.push(payload);
            at = *offset;
        }
        if at < buf.len() {
            pieces.push(&buf[at..]);
        }
        let mut first = 0;
        let mut skip = 0;
        while first < pieces.len() {
            let slices: Vec<IoSlice<'_>> = pieces[first..]
                .iter()
                .take(MAX_IOV)
                .enumerate()
                .map(|(i, p)| IoSlice::new(if i == 0 { &p[skip..] } else { p }))
                .collect();
            let mut n = match self.stream.try_write_vectored(&slices) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.stream.writable().await?;
                    continue;
                }
                Err(e) => return Err(e),
            };
            while n > 0 && first < pieces.len() {
                let left = pieces[first].len() - skip;
                if n >= left {
                    n -= left;
                    first += 1;
                    skip = 0;
                } else {
                    skip += n;
                    n = 0;
                }
            }
        }
        Ok(())
    }

    /// Writes what the socket takes now, without waiting.
    pub fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        self.stream.try_write(buf)
    }

    /// Closes both directions, waking a reader blocked on this socket.
    pub fn shutdown(&self) {
        let _ = socket2::SockRef::from(&self.stream).shutdown(Shutdown::Both);
    }
}
