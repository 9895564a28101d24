//! A client's socket, shared by its reader, its writer, and publishers that write to it
//! directly.
//!
//! Every operation takes `&self`. Over plain TCP, reads and writes go through tokio's readiness
//! API with non-blocking calls, so a publisher that finds the receiver's writer idle can hand
//! the bytes to the kernel itself, saving a task wake-up — which, on a small VM, is most of a
//! round trip's latency. Who may write when is decided by the outbound queue's lock (see
//! [`super::Outbound::flush_inline`]). Over TLS, the halves of the rustls stream are each used
//! by one task (the reader reads, the writer writes) and publishers always wake the writer.

use std::io::{self, IoSlice};
use std::net::Shutdown;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::net::TcpStream;
use tokio::sync::Mutex;
use tokio_rustls::server::TlsStream;

/// Pieces per vectored write; Linux accepts up to 1024.
const MAX_IOV: usize = 512;

pub enum Socket {
    Tcp(TcpStream),
    Tls {
        rd: Mutex<ReadHalf<TlsStream<TcpStream>>>,
        wr: Mutex<WriteHalf<TlsStream<TcpStream>>>,
        /// The TCP socket under the TLS stream, to shut it down from `&self`.
        fd: RawFd,
    },
}

impl Socket {
    pub fn tcp(stream: TcpStream) -> Self {
        Socket::Tcp(stream)
    }

    pub fn tls(stream: TlsStream<TcpStream>) -> Self {
        let fd = stream.get_ref().0.as_raw_fd();
        let (rd, wr) = tokio::io::split(stream);
        Socket::Tls {
            rd: Mutex::new(rd),
            wr: Mutex::new(wr),
            fd,
        }
    }

    /// Reads what is available into `buf`; 0 means the peer closed.
    pub async fn read_buf(&self, buf: &mut BytesMut) -> io::Result<usize> {
        match self {
            Socket::Tcp(stream) => loop {
                match stream.try_read_buf(buf) {
                    Ok(n) => return Ok(n),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => stream.readable().await?,
                    Err(e) => return Err(e),
                }
            },
            Socket::Tls { rd, .. } => rd.lock().await.read_buf(buf).await,
        }
    }

    /// Writes all of `buf`, waiting for the socket when it is full.
    pub async fn write_all(&self, buf: &[u8]) -> io::Result<()> {
        self.write_all_with(buf, &[]).await
    }

    /// Writes `buf` with each shared payload of `inserts` spliced in before `buf[offset..]`,
    /// waiting for the socket when it is full.
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
        match self {
            Socket::Tcp(stream) => write_pieces(stream, &pieces).await,
            Socket::Tls { wr, .. } => {
                let mut wr = wr.lock().await;
                for p in pieces {
                    wr.write_all(p).await?;
                }
                wr.flush().await
            }
        }
    }

    /// Writes what the socket takes now, without waiting. Over TLS this always reports
    /// `WouldBlock`: only the writer task writes there.
    pub fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Socket::Tcp(stream) => stream.try_write(buf),
            Socket::Tls { .. } => Err(io::ErrorKind::WouldBlock.into()),
        }
    }

    /// Closes both directions, waking a reader blocked on this socket.
    pub fn shutdown(&self) {
        match self {
            Socket::Tcp(stream) => {
                let _ = socket2::SockRef::from(stream).shutdown(Shutdown::Both);
            }
            Socket::Tls { fd, .. } => {
                // SAFETY: `fd` belongs to the TcpStream inside the TLS stream this Socket owns,
                // so it stays open for as long as `self` is borrowed here.
                let fd = unsafe { BorrowedFd::borrow_raw(*fd) };
                let _ = socket2::SockRef::from(&fd).shutdown(Shutdown::Both);
            }
        }
    }
}

/// Vectored writes over plain TCP until every piece is out.
async fn write_pieces(stream: &TcpStream, pieces: &[&[u8]]) -> io::Result<()> {
    let mut first = 0;
    let mut skip = 0;
    while first < pieces.len() {
        let slices: Vec<IoSlice<'_>> = pieces[first..]
            .iter()
            .take(MAX_IOV)
            .enumerate()
            .map(|(i, p)| IoSlice::new(if i == 0 { &p[skip..] } else { p }))
            .collect();
        let mut n = match stream.try_write_vectored(&slices) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                stream.writable().await?;
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
