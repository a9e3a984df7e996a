//! Virtual time as integer nanoseconds.
//!
//! The clock never holds a float: floats are rounded once, in
//! [`SimDuration::from_secs_f64`], so that two runs that sample the same numbers land
//! on the same nanosecond on every machine.

use std::fmt;
use std::ops::{Add, AddAssign, Sub};

/// A point on the virtual clock, in nanoseconds since the start of the run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimTime(pub u64);

/// A span of virtual time, in nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimDuration(pub u64);

pub const NANOS_PER_MICRO: u64 = 1_000;
pub const NANOS_PER_MILLI: u64 = 1_000_000;
pub const NANOS_PER_SEC: u64 = 1_000_000_000;

impl SimTime {
    pub const ZERO: SimTime = SimTime(0);

    pub fn as_nanos(self) -> u64 {
        self.0
    }

    pub fn as_millis_f64(self) -> f64 {
        self.0 as f64 / NANOS_PER_MILLI as f64
    }

    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / NANOS_PER_SEC as f64
    }

    /// Time elapsed since `earlier`. Panics if `earlier` is later: that is a bug in
    /// the caller, never a consequence of input.
    pub fn since(self, earlier: SimTime) -> SimDuration {
        SimDuration(
            self.0
                .checked_sub(earlier.0)
                .expect("SimTime::since called with a later time"),
        )
    }
}

impl SimDuration {
    pub const ZERO: SimDuration = SimDuration(0);

    pub const fn from_nanos(ns: u64) -> Self {
        SimDuration(ns)
    }

    pub const fn from_millis(ms: u64) -> Self {
        SimDuration(ms * NANOS_PER_MILLI)
    }

    pub const fn from_secs(s: u64) -> Self {
        SimDuration(s * NANOS_PER_SEC)
    }

    /// The one place where a sampled float becomes clock time: rounded to the nearest
    /// nanosecond, negative values clamp to zero, values past the clock's range
    /// saturate. NaN is a programmer error (distributions never produce it).
    pub fn from_secs_f64(secs: f64) -> Self {
        assert!(!secs.is_nan(), "a sampled duration was NaN");
        let ns = secs * NANOS_PER_SEC as f64;
        if ns <= 0.0 {
            SimDuration(0)
        } else if ns >= u64::MAX as f64 {
            SimDuration(u64::MAX)
        } else {
            SimDuration(round_positive(ns))
        }
    }

    pub fn as_nanos(self) -> u64 {
        self.0
    }

    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / NANOS_PER_SEC as f64
    }

    pub fn as_millis_f64(self) -> f64 {
        self.0 as f64 / NANOS_PER_MILLI as f64
    }

    pub fn saturating_mul(self, factor: u64) -> Self {
        SimDuration(self.0.saturating_mul(factor))
    }
}

/// Rounds `x` (0 < x < 2^64) half away from zero, exactly as `round` does, without
/// a library call (which was a measurable share of every sample): the cast truncates,
/// and `x - whole` is the exact fraction, since `whole` has no more significant bits
/// than `x`.
fn round_positive(x: f64) -> u64 {
    let whole = x as u64;
    let fraction = x - whole as f64;
    whole + u64::from(fraction >= 0.5)
}

impl Add<SimDuration> for SimTime {
    type Output = SimTime;
    /// Saturates: a timer set past the end of the clock simply never fires within a run.
    fn add(self, rhs: SimDuration) -> SimTime {
        SimTime(self.0.saturating_add(rhs.0))
    }
}

impl AddAssign<SimDuration> for SimTime {
    fn add_assign(&mut self, rhs: SimDuration) {
        *self = *self + rhs;
    }
}

impl Add for SimDuration {
    type Output = SimDuration;
    fn add(self, rhs: SimDuration) -> SimDuration {
        SimDuration(self.0.saturating_add(rhs.0))
    }
}

impl Sub for SimTime {
    type Output = SimDuration;
    fn sub(self, rhs: SimTime) -> SimDuration {
        self.since(rhs)
    }
}

/// Prints the shortest exact form people write in scenario files: `30s`, `1.5s`,
/// `250ms`, `17us`, `3ns`.
impl fmt::Display for SimDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ns = self.0;
        let units = [
            (NANOS_PER_SEC, "s"),
            (NANOS_PER_MILLI, "ms"),
            (NANOS_PER_MICRO, "us"),
        ];
        for (scale, unit) in units {
            if ns >= scale {
                let whole = ns / scale;
                let frac = ns % scale;
                if frac == 0 {
                    return write!(f, "{whole}{unit}");
                }
                let digits = scale.ilog10() as usize;
                let frac = format!("{frac:0digits$}");
                return write!(f, "{whole}.{}{unit}", frac.trim_end_matches('0'));
            }
        }
        write!(f, "{ns}ns")
    }
}

impl fmt::Display for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "t={}", SimDuration(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_conversion_rounds_to_nearest_nanosecond() {
        assert_eq!(SimDuration::from_secs_f64(1.5), SimDuration(1_500_000_000));
        assert_eq!(SimDuration::from_secs_f64(1e-9 * 0.4), SimDuration(0));
        assert_eq!(SimDuration::from_secs_f64(1e-9 * 0.6), SimDuration(1));
        assert_eq!(SimDuration::from_secs_f64(-3.0), SimDuration(0));
        assert_eq!(SimDuration::from_secs_f64(1e300), SimDuration(u64::MAX));
    }

    #[test]
    fn float_conversion_agrees_with_round() {
        let mut x = 1e-10_f64;
        while x < 2e10 {
            for value in [
                x,
                x * 1.000_000_7,
                x + 5e-10,
                (x * 1e9).floor() / 1e9 + 5e-10,
            ] {
                let expected = libm::round(value * 1e9) as u64;
                assert_eq!(SimDuration::from_secs_f64(value).0, expected, "{value}");
            }
            x *= 1.37;
        }
    }

    #[test]
    fn rounding_matches_round_at_the_edges() {
        let just_below_half = f64::from_bits(0.5f64.to_bits() - 1);
        let two_52 = 4_503_599_627_370_496.0;
        for x in [
            2.5,
            3.5,
            0.5,
            just_below_half,
            1.0 + just_below_half,
            two_52 - 0.5,
            two_52 + 1.0,
            2.0 * two_52 + 2.0,
            1.8e19,
        ] {
            assert_eq!(round_positive(x), libm::round(x) as u64, "{x}");
        }
        assert_eq!(round_positive(2.5), 3);
        assert_eq!(round_positive(just_below_half), 0);
    }

    #[test]
    fn display_uses_the_largest_exact_unit() {
        assert_eq!(SimDuration::from_secs(30).to_string(), "30s");
        assert_eq!(SimDuration::from_millis(1500).to_string(), "1.5s");
        assert_eq!(SimDuration::from_millis(5).to_string(), "5ms");
        assert_eq!(SimDuration(2_500).to_string(), "2.5us");
        assert_eq!(SimDuration(7).to_string(), "7ns");
    }

    #[test]
    fn time_arithmetic_saturates_instead_of_wrapping() {
        assert_eq!(SimTime(u64::MAX - 1) + SimDuration(10), SimTime(u64::MAX));
    }
}
