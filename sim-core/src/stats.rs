//! Statistics in bounded memory: they grow with the range of values and the length of
//! the horizon, never with the number of samples.

use hdrhistogram::Histogram;

use crate::time::{SimDuration, SimTime, NANOS_PER_MICRO};

/// Latencies with percentiles to 3 significant digits (HDR histogram, microsecond
/// resolution), plus the exact count, mean and max.
#[derive(Clone)]
pub struct LatencyHistogram {
    /// 32-bit counts: a run stops at 2*10^9 events (`EVENTS_MAX`), so no bucket of
    /// one run's histogram can reach 2^32 (and hdrhistogram saturates rather than
    /// wraps). Half the bytes to clear at every window and to scan for a quantile.
    histogram: Histogram<u32>,
    count: u64,
    sum_ns: u128,
    min_ns: u64,
    max_ns: u64,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self::new()
    }
}

impl LatencyHistogram {
    pub fn new() -> Self {
        let mut histogram =
            Histogram::new_with_bounds(1, 1_000_000, 3).expect("static histogram bounds are valid");
        histogram.auto(true);
        LatencyHistogram {
            histogram,
            count: 0,
            sum_ns: 0,
            min_ns: u64::MAX,
            max_ns: 0,
        }
    }

    /// Empties the histogram, keeping its buckets allocated.
    pub fn clear(&mut self) {
        self.histogram.reset();
        self.count = 0;
        self.sum_ns = 0;
        self.min_ns = u64::MAX;
        self.max_ns = 0;
    }

    pub fn record(&mut self, latency: SimDuration) {
        let ns = latency.as_nanos();
        self.histogram
            .record(ns / NANOS_PER_MICRO)
            .expect("auto-resizing histogram accepts every u64");
        self.count += 1;
        self.sum_ns += u128::from(ns);
        self.min_ns = self.min_ns.min(ns);
        self.max_ns = self.max_ns.max(ns);
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn mean(&self) -> SimDuration {
        if self.count == 0 {
            return SimDuration::ZERO;
        }
        SimDuration((self.sum_ns / u128::from(self.count)) as u64)
    }

    /// Zero when empty.
    pub fn min(&self) -> SimDuration {
        SimDuration(if self.count == 0 { 0 } else { self.min_ns })
    }

    pub fn max(&self) -> SimDuration {
        SimDuration(self.max_ns)
    }

    /// The value at quantile `q` in [0, 1], to 3 significant digits (never above the
    /// exact max). Zero when empty.
    pub fn quantile(&self, q: f64) -> SimDuration {
        if self.count == 0 {
            return SimDuration::ZERO;
        }
        // The middle of the bucket, not its top edge: unbiased at 3 significant digits.
        let micros = self
            .histogram
            .median_equivalent(self.histogram.value_at_quantile(q));
        SimDuration((micros * NANOS_PER_MICRO).min(self.max_ns))
    }
}

/// Per-window count and latency sum over fixed-width windows of virtual time.
#[derive(Clone, Debug)]
pub struct TimeWindows {
    width: SimDuration,
    windows: Vec<WindowTotals>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WindowTotals {
    pub count: u64,
    pub sum_ns: u128,
}

impl TimeWindows {
    /// `horizon` sizes the buffer up front, so recording never allocates mid-run.
    pub fn new(width: SimDuration, horizon: SimDuration) -> Self {
        assert!(width > SimDuration::ZERO, "window width must be positive");
        let windows = horizon.as_nanos().div_ceil(width.as_nanos()).max(1) as usize;
        TimeWindows {
            width,
            windows: vec![WindowTotals::default(); windows],
        }
    }

    pub fn width(&self) -> SimDuration {
        self.width
    }

    pub fn record(&mut self, at: SimTime, value: SimDuration) {
        let index = (at.as_nanos() / self.width.as_nanos()) as usize;
        let last = self.windows.len() - 1;
        let window = &mut self.windows[index.min(last)];
        window.count += 1;
        window.sum_ns += u128::from(value.as_nanos());
    }

    pub fn windows(&self) -> &[WindowTotals] {
        &self.windows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_within_three_significant_digits() {
        let mut histogram = LatencyHistogram::new();
        for ms in 1..=1000u64 {
            histogram.record(SimDuration::from_millis(ms));
        }
        for (q, expected_ms) in [(0.5, 500.0), (0.95, 950.0), (0.99, 990.0)] {
            let got = histogram.quantile(q).as_millis_f64();
            assert!(
                (got - expected_ms).abs() / expected_ms <= 1e-3,
                "q{q}: {got}"
            );
        }
        assert_eq!(histogram.max(), SimDuration::from_millis(1000));
        assert_eq!(histogram.mean(), SimDuration(500_500_000));
        assert_eq!(histogram.count(), 1000);
        assert_eq!(histogram.min(), SimDuration::from_millis(1));
        histogram.clear();
        assert_eq!(histogram.count(), 0);
        assert_eq!(histogram.quantile(0.5), SimDuration::ZERO);
        assert_eq!(histogram.min(), SimDuration::ZERO);
    }

    #[test]
    fn empty_histogram_reports_zeroes() {
        let histogram = LatencyHistogram::new();
        assert_eq!(histogram.quantile(0.99), SimDuration::ZERO);
        assert_eq!(histogram.mean(), SimDuration::ZERO);
    }

    #[test]
    fn windows_bucket_by_time_and_clamp_the_end() {
        let mut windows = TimeWindows::new(SimDuration::from_secs(10), SimDuration::from_secs(25));
        windows.record(SimTime(0), SimDuration::from_millis(5));
        windows.record(SimTime(9_999_999_999), SimDuration::from_millis(5));
        windows.record(SimTime(10_000_000_000), SimDuration::from_millis(7));
        windows.record(SimTime(25_000_000_000), SimDuration::from_millis(1));
        let counts: Vec<u64> = windows.windows().iter().map(|w| w.count).collect();
        assert_eq!(counts, vec![2, 1, 1]);
    }
}
