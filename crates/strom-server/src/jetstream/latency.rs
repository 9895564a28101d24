//! Publish latency: from the moment a stream captured a message that asked for a PubAck to
//! the moment that PubAck went to the publisher (after the fsync covering it, under the
//! default sync policy). A Prometheus histogram per stream, `/metrics`'
//! `strom_jetstream_publish_latency_seconds`.
//!
//! The commit thread is the only writer: it adds a batch's observations once per batch, so
//! the cost per message is one clock read at capture and one bucket search at commit.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Upper bounds of the buckets, in seconds: 50 µs to 5 s, about ×2.5 apart, which covers an
/// fsync on a fast NVMe disk and a stalled one alike.
pub const BUCKETS: [f64; 15] = [
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 5.0,
];

/// Counts by bucket (the last one is above every bound), the sum and the count.
pub struct PublishLatency {
    buckets: [AtomicU64; BUCKETS.len() + 1],
    sum_ns: AtomicU64,
    count: AtomicU64,
}

/// A histogram as `/metrics` shows it: cumulative counts per bound (`+Inf` last), the sum
/// in seconds, and the count.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub cumulative: Vec<u64>,
    pub sum_secs: f64,
    pub count: u64,
}

impl Default for PublishLatency {
    fn default() -> Self {
        PublishLatency {
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            sum_ns: AtomicU64::new(0),
            count: AtomicU64::new(0),
        }
    }
}

/// The bucket a latency falls in.
fn bucket(latency: Duration) -> usize {
    let secs = latency.as_secs_f64();
    BUCKETS.partition_point(|&bound| bound < secs)
}

impl PublishLatency {
    /// Records every PubAck of a batch, sent at `sent`, whose messages were captured at
    /// `captured`.
    pub fn observe(&self, captured: impl Iterator<Item = Instant>, sent: Instant) {
        let mut local = [0u64; BUCKETS.len() + 1];
        let (mut sum_ns, mut count) = (0u64, 0u64);
        for at in captured {
            let latency = sent.saturating_duration_since(at);
            local[bucket(latency)] += 1;
            sum_ns = sum_ns.saturating_add(u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX));
            count += 1;
        }
        if count == 0 {
            return;
        }
        for (b, n) in self.buckets.iter().zip(local) {
            if n > 0 {
                b.fetch_add(n, Ordering::Relaxed);
            }
        }
        self.sum_ns.fetch_add(sum_ns, Ordering::Relaxed);
        self.count.fetch_add(count, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> Snapshot {
        let mut running = 0;
        let cumulative = self
            .buckets
            .iter()
            .map(|b| {
                running += b.load(Ordering::Relaxed);
                running
            })
            .collect();
        Snapshot {
            cumulative,
            sum_secs: self.sum_ns.load(Ordering::Relaxed) as f64 / 1e9,
            count: self.count.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latencies_land_in_the_first_bucket_that_holds_them() {
        assert_eq!(bucket(Duration::from_micros(10)), 0);
        assert_eq!(bucket(Duration::from_micros(50)), 0, "bounds are inclusive");
        assert_eq!(bucket(Duration::from_micros(51)), 1);
        assert_eq!(bucket(Duration::from_millis(3)), 6, "within 5 ms");
        assert_eq!(bucket(Duration::from_secs(60)), BUCKETS.len());
    }

    #[test]
    fn snapshots_are_cumulative() {
        let h = PublishLatency::default();
        let sent = Instant::now() + Duration::from_secs(1);
        let captured = [
            sent - Duration::from_micros(20),
            sent - Duration::from_micros(700),
            sent - Duration::from_millis(700),
        ];
        h.observe(captured.into_iter(), sent);
        let s = h.snapshot();
        assert_eq!(s.count, 3);
        assert_eq!(s.cumulative.len(), BUCKETS.len() + 1);
        assert_eq!(s.cumulative[0], 1);
        assert_eq!(s.cumulative[4], 2, "700 µs is within 1 ms");
        assert_eq!(s.cumulative[13], 3, "700 ms is within 1 s");
        assert_eq!(s.cumulative.last(), Some(&3));
        assert!((s.sum_secs - 0.70072).abs() < 1e-9, "{}", s.sum_secs);
    }
}
