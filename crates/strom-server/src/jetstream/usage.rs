//! An account's JetStream usage — bytes held in memory and file streams — kept as counters
//! that each stream adjusts after it changes, and checked against the account's limits before
//! a message is stored (nats-server's `wouldExceedLimits`).

use std::sync::atomic::{AtomicI64, Ordering};

use super::stream_config::Storage;

#[derive(Debug)]
pub struct Usage {
    mem: AtomicI64,
    file: AtomicI64,
    /// The account's limits in bytes; -1 is none.
    pub max_mem: i64,
    pub max_file: i64,
}

impl Usage {
    pub fn new(max_mem: i64, max_file: i64) -> Usage {
        Usage {
            mem: AtomicI64::new(0),
            file: AtomicI64::new(0),
            max_mem,
            max_file,
        }
    }

    fn counter(&self, storage: Storage) -> &AtomicI64 {
        match storage {
            Storage::Memory => &self.mem,
            Storage::File => &self.file,
        }
    }

    /// Adds `delta` bytes to what `storage` streams hold.
    pub fn add(&self, storage: Storage, delta: i64) {
        self.counter(storage).fetch_add(delta, Ordering::Relaxed);
    }

    /// Bytes held: (memory, file).
    pub fn held(&self) -> (u64, u64) {
        let get = |c: &AtomicI64| c.load(Ordering::Relaxed).max(0) as u64;
        (get(&self.mem), get(&self.file))
    }

    /// Whether storing `size` more bytes (on top of `pending` not yet counted) would pass the
    /// account's limit for `storage`.
    pub fn would_exceed(&self, storage: Storage, pending: i64, size: u64) -> bool {
        let max = match storage {
            Storage::Memory => self.max_mem,
            Storage::File => self.max_file,
        };
        max >= 0 && self.counter(storage).load(Ordering::Relaxed) + pending + size as i64 > max
    }
}
