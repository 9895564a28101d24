//! Latency samples and their percentiles. The sample counts here are small (tens of thousands),
//! so sorting them is simpler and exact where a histogram would round.

use std::time::Duration;

pub struct Samples {
    nanos: Vec<u64>,
}

impl Samples {
    pub fn with_capacity(n: usize) -> Samples {
        Samples {
            nanos: Vec::with_capacity(n),
        }
    }

    pub fn record(&mut self, d: Duration) {
        self.nanos
            .push(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    }

    pub fn len(&self) -> usize {
        self.nanos.len()
    }

    /// Sorts the samples and returns their summary, in microseconds.
    pub fn summary(mut self) -> Summary {
        self.nanos.sort_unstable();
        let n = self.nanos.len();
        let at = |q: f64| -> f64 {
            if n == 0 {
                return f64::NAN;
            }
            // Nearest rank: the smallest sample with at least q of the samples at or below it.
            let rank = ((q * n as f64).ceil() as usize).clamp(1, n);
            self.nanos[rank - 1] as f64 / 1e3
        };
        let mean = if n == 0 {
            f64::NAN
        } else {
            self.nanos.iter().map(|v| *v as f64).sum::<f64>() / n as f64 / 1e3
        };
        Summary {
            min: at(0.0),
            p50: at(0.50),
            p90: at(0.90),
            p99: at(0.99),
            p999: at(0.999),
            max: at(1.0),
            mean,
        }
    }
}

/// Percentiles in microseconds.
#[derive(Debug, Clone, Copy)]
pub struct Summary {
    pub min: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
    pub mean: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let mut s = Samples::with_capacity(1000);
        for us in (1..=1000).rev() {
            s.record(Duration::from_micros(us));
        }
        let sum = s.summary();
        assert_eq!(
            (sum.min, sum.p50, sum.p99, sum.p999, sum.max),
            (1.0, 500.0, 990.0, 999.0, 1000.0)
        );
        assert!((sum.mean - 500.5).abs() < 1e-9);
    }
}
