//! `objclient`: an object of `mib` MiB put and read back through async-nats's object store,
//! which chunks it, and checks its SHA-256 digest on the way back — the client library's path,
//! end to end. The object is generated while it is put and counted while it is read, so the
//! client holds no more than a chunk of it; the harness watches the server's memory meanwhile.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use anyhow::{ensure, Context as _, Result};
use async_nats::jetstream::{self, object_store};
use tokio::io::{AsyncRead, AsyncReadExt, ReadBuf};

use crate::report::Report;

/// `len` bytes of a repeating pattern, produced as they are read.
struct Generated {
    left: u64,
    at: u8,
}

impl AsyncRead for Generated {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let n = (buf.remaining() as u64).min(self.left) as usize;
        let mut at = self.at;
        let chunk: Vec<u8> = (0..n)
            .map(|_| {
                at = at.wrapping_add(31);
                at
            })
            .collect();
        self.at = at;
        buf.put_slice(&chunk);
        self.left -= n as u64;
        Poll::Ready(Ok(()))
    }
}

pub async fn run(addr: &str, mib: u64) -> Result<()> {
    let client = async_nats::connect(addr).await.context("connecting")?;
    let js = jetstream::new(client);
    let store = js
        .create_object_store(object_store::Config {
            bucket: "BENCHOBJ".into(),
            ..Default::default()
        })
        .await
        .context("creating the bucket")?;
    let size = mib * 1024 * 1024;
    let start = Instant::now();
    let info = store
        .put("big", &mut Generated { left: size, at: 0 })
        .await
        .context("putting the object")?;
    let put_secs = start.elapsed().as_secs_f64();
    ensure!(
        info.size as u64 == size,
        "stored {} bytes of {size}",
        info.size
    );
    let start = Instant::now();
    let mut obj = store.get("big").await.context("getting the object")?;
    let mut buf = vec![0u8; 256 * 1024];
    let mut read = 0u64;
    loop {
        // The client checks the digest when the object ends.
        let n = obj
            .read(&mut buf)
            .await
            .context("reading (digest checked)")?;
        if n == 0 {
            break;
        }
        read += n as u64;
    }
    let get_secs = start.elapsed().as_secs_f64();
    ensure!(read == size, "read {read} bytes of {size}");
    let m = size as f64 / (1024.0 * 1024.0);
    Report::new("objclient")
        .int("mib", mib)
        .int("chunks", info.chunks as u64)
        .float("put_mib_per_sec", m / put_secs)
        .float("get_mib_per_sec", m / get_secs)
        .print(&format!(
            "objclient {mib} MiB through async-nats ({} chunks, digest checked): put {:.0} MiB/s, get {:.0} MiB/s",
            info.chunks,
            m / put_secs,
            m / get_secs
        ));
    Ok(())
}
