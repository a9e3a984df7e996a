//! Duration distributions, with samplers we own.
//!
//! The normal and the exponential come from our own ziggurat (`crate::ziggurat`),
//! which draws one `u64` in the common case and needs no transcendental function
//! there; the lognormal is `exp` of a normal. All maths is `libm`'s rather than the
//! platform's, so `exp`, `exp2` and `log` give the same bits everywhere and
//! snapshots do not drift between machines.

use std::f64::consts::LOG2_E;

use crate::rng::RngStream;
use crate::time::SimDuration;
use crate::ziggurat::{standard_exponential, standard_normal};

/// z such that P(Z <= z) = 0.99 for a standard normal Z.
const Z_99: f64 = 2.326_347_874_040_841;

/// How many draws a truncated normal may reject before giving up. With a mean at or
/// above zero each draw is accepted with probability at least one half, so reaching
/// the cap has probability 2^-64.
const TRUNCATED_NORMAL_TRIES_MAX: u32 = 64;

#[derive(Clone, Debug, PartialEq)]
pub enum Distribution {
    Constant(SimDuration),
    /// Uniform on [low, high).
    Uniform {
        low: SimDuration,
        high: SimDuration,
    },
    Exponential {
        mean: SimDuration,
        /// `mean` in seconds, kept so that sampling does not divide.
        mean_secs: f64,
    },
    /// A normal distribution conditioned on being non-negative (resampled, not clamped).
    Normal {
        mean: SimDuration,
        std_dev: SimDuration,
    },
    /// Given as people know it: the median and the 99th percentile.
    LogNormal {
        median: SimDuration,
        p99: SimDuration,
        mu: f64,
        sigma: f64,
        /// `mu` and `sigma` in base 2 (times log2 e), for sampling.
        mu_log2: f64,
        sigma_log2: f64,
    },
}

impl Distribution {
    pub fn uniform(low: SimDuration, high: SimDuration) -> Result<Self, String> {
        if high < low {
            return Err(format!(
                "a uniform range needs low <= high, got {low} > {high}"
            ));
        }
        Ok(Distribution::Uniform { low, high })
    }

    pub fn exponential(mean: SimDuration) -> Result<Self, String> {
        if mean == SimDuration::ZERO {
            return Err("an exponential distribution needs a mean above zero".into());
        }
        Ok(Distribution::Exponential {
            mean,
            mean_secs: mean.as_secs_f64(),
        })
    }

    pub fn normal(mean: SimDuration, std_dev: SimDuration) -> Self {
        Distribution::Normal { mean, std_dev }
    }

    pub fn lognormal(median: SimDuration, p99: SimDuration) -> Result<Self, String> {
        if median == SimDuration::ZERO {
            return Err("a lognormal distribution needs a median above zero".into());
        }
        if p99 < median {
            return Err(format!(
                "a lognormal's p99 must be at least its median, got p99 {p99} < median {median}"
            ));
        }
        let mu = libm::log(median.as_secs_f64());
        let sigma = libm::log(p99.as_secs_f64() / median.as_secs_f64()) / Z_99;
        Ok(Distribution::LogNormal {
            median,
            p99,
            mu,
            sigma,
            mu_log2: mu * LOG2_E,
            sigma_log2: sigma * LOG2_E,
        })
    }

    /// One draw from `rng`. The exponential is the mean times a ziggurat draw; the
    /// normal is resampled until it is non-negative; the lognormal is
    /// `exp(mu + sigma z)` for a ziggurat normal `z` (computed as a power of two).
    ///
    /// How many numbers a draw takes from `rng` depends on the values drawn (a
    /// ziggurat rejection, a negative normal), so a stream must serve one
    /// component only: mixing two on one stream would let one shift the other.
    pub fn sample(&self, rng: &mut RngStream) -> SimDuration {
        match *self {
            Distribution::Constant(value) => value,
            Distribution::Uniform { low, high } => {
                let span = high.as_nanos() - low.as_nanos();
                if span == 0 {
                    return low;
                }
                SimDuration(low.as_nanos() + rng.below(span))
            }
            Distribution::Exponential { mean_secs, .. } => {
                SimDuration::from_secs_f64(mean_secs * standard_exponential(rng))
            }
            Distribution::Normal { mean, std_dev } => {
                let (m, s) = (mean.as_secs_f64(), std_dev.as_secs_f64());
                for _ in 0..TRUNCATED_NORMAL_TRIES_MAX {
                    let x = m + s * standard_normal(rng);
                    if x >= 0.0 {
                        return SimDuration::from_secs_f64(x);
                    }
                }
                SimDuration::ZERO
            }
            // 2^(x log2 e) rather than e^x: libm's exp2 is a table and a polynomial,
            // its exp ends in a division. They differ by a few units in the last
            // place, a billionth of a nanosecond for any work time.
            Distribution::LogNormal {
                mu_log2,
                sigma_log2,
                ..
            } => {
                SimDuration::from_secs_f64(libm::exp2(mu_log2 + sigma_log2 * standard_normal(rng)))
            }
        }
    }

    /// The distribution's mean in seconds (for the truncated normal, of the
    /// untruncated one), used by theory checks and reports.
    pub fn mean_secs(&self) -> f64 {
        match *self {
            Distribution::Constant(value) => value.as_secs_f64(),
            Distribution::Uniform { low, high } => (low.as_secs_f64() + high.as_secs_f64()) / 2.0,
            Distribution::Exponential { mean, .. } | Distribution::Normal { mean, .. } => {
                mean.as_secs_f64()
            }
            Distribution::LogNormal { mu, sigma, .. } => libm::exp(mu + sigma * sigma / 2.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_mean(dist: &Distribution, n: usize) -> f64 {
        let mut rng = RngStream::new(3, "dist-test");
        (0..n)
            .map(|_| dist.sample(&mut rng).as_secs_f64())
            .sum::<f64>()
            / n as f64
    }

    fn quantile(dist: &Distribution, n: usize, q: f64) -> f64 {
        let mut rng = RngStream::new(5, "dist-quantile");
        let mut xs: Vec<f64> = (0..n)
            .map(|_| dist.sample(&mut rng).as_secs_f64())
            .collect();
        xs.sort_by(f64::total_cmp);
        xs[(q * n as f64) as usize]
    }

    // Tolerances: with n = 200k draws the standard error of a mean is sd/447, so 1 %
    // is more than four standard errors for every case below (cv <= 1).
    #[test]
    fn exponential_mean_matches() {
        let dist = Distribution::exponential(SimDuration::from_millis(10)).unwrap();
        let mean = sample_mean(&dist, 200_000);
        assert!((mean - 0.010).abs() / 0.010 < 0.01, "mean {mean}");
    }

    #[test]
    fn uniform_mean_and_bounds() {
        let dist =
            Distribution::uniform(SimDuration::from_secs(1), SimDuration::from_secs(2)).unwrap();
        let mut rng = RngStream::new(9, "u");
        for _ in 0..10_000 {
            let x = dist.sample(&mut rng);
            assert!(x >= SimDuration::from_secs(1) && x < SimDuration::from_secs(2));
        }
        let mean = sample_mean(&dist, 200_000);
        assert!((mean - 1.5).abs() / 1.5 < 0.01, "mean {mean}");
    }

    #[test]
    fn lognormal_hits_its_median_and_p99() {
        let dist =
            Distribution::lognormal(SimDuration::from_millis(3), SimDuration::from_millis(20))
                .unwrap();
        // The sample quantile's standard error at p99 with n = 200k is about 1.5 %
        // of the value here; 5 % leaves room without hiding a wrong sigma.
        let median = quantile(&dist, 200_000, 0.5);
        let p99 = quantile(&dist, 200_000, 0.99);
        assert!((median - 0.003).abs() / 0.003 < 0.02, "median {median}");
        assert!((p99 - 0.020).abs() / 0.020 < 0.05, "p99 {p99}");
    }

    #[test]
    fn truncated_normal_is_never_negative_and_shifts_up() {
        let dist = Distribution::normal(SimDuration::from_millis(1), SimDuration::from_millis(1));
        let mut rng = RngStream::new(1, "n");
        for _ in 0..10_000 {
            let _ = dist.sample(&mut rng);
        }
        // Mean of N(1, 1) truncated at 0: 1 + phi(1)/Phi(1) = 1.2876 (ms).
        let mean = sample_mean(&dist, 200_000);
        assert!((mean - 0.0012876).abs() / 0.0012876 < 0.01, "mean {mean}");
    }

    #[test]
    fn invalid_parameters_are_errors() {
        assert!(Distribution::lognormal(SimDuration::ZERO, SimDuration::from_millis(1)).is_err());
        assert!(
            Distribution::lognormal(SimDuration::from_millis(5), SimDuration::from_millis(1))
                .is_err()
        );
        assert!(
            Distribution::uniform(SimDuration::from_secs(2), SimDuration::from_secs(1)).is_err()
        );
        assert!(Distribution::exponential(SimDuration::ZERO).is_err());
    }
}
