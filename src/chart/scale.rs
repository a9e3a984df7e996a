//! Axes: mapping values to pixels, and tick positions people read easily (steps of
//! 1, 2 or 5 times a power of ten; decades on a log scale).

/// A value axis, linear or logarithmic, mapped onto a pixel range.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Scale {
    pub low: f64,
    pub high: f64,
    pub log: bool,
    /// Pixels of `low` and `high` (`from` may be larger, for a y axis).
    pub from: f64,
    pub to: f64,
}

impl Scale {
    /// A linear scale over `[low, high]`, widened to nice tick bounds.
    pub fn linear(low: f64, high: f64, from: f64, to: f64) -> Scale {
        let (low, high) = if high > low {
            (low, high)
        } else {
            (low, low + 1.0)
        };
        Scale {
            low,
            high,
            log: false,
            from,
            to,
        }
    }

    /// A linear scale from 0 to a nice number at or above `max`.
    pub fn zero_to(max: f64, from: f64, to: f64) -> Scale {
        let step = nice_step(max.max(f64::MIN_POSITIVE), 5);
        let high = if max > 0.0 {
            (max / step).ceil() * step
        } else {
            1.0
        };
        Scale::linear(0.0, high, from, to)
    }

    /// A log scale over whole decades covering `[low, high]` (both above 0).
    pub fn log(low: f64, high: f64, from: f64, to: f64) -> Scale {
        let low = 10f64.powf(low.max(1e-9).log10().floor());
        let mut high = 10f64.powf(high.max(low).log10().ceil());
        if high <= low {
            high = low * 10.0;
        }
        Scale {
            low,
            high,
            log: true,
            from,
            to,
        }
    }

    /// The pixel of `value`, clamped to the axis.
    pub fn pixel(&self, value: f64) -> f64 {
        let share = if self.log {
            let value = value.max(self.low);
            (value.log10() - self.low.log10()) / (self.high.log10() - self.low.log10())
        } else {
            (value - self.low) / (self.high - self.low)
        };
        self.from + share.clamp(0.0, 1.0) * (self.to - self.from)
    }

    /// Tick values with their labels, from low to high.
    pub fn ticks(&self) -> Vec<(f64, String)> {
        if self.log {
            // Over one or two decades, 2 and 5 get labels too.
            let decades = (self.high / self.low).log10().round();
            let multiples: &[f64] = if decades <= 2.0 {
                &[1.0, 2.0, 5.0]
            } else {
                &[1.0]
            };
            let mut ticks = Vec::new();
            let mut decade = self.low;
            while decade <= self.high * 1.000_001 {
                for &m in multiples {
                    let value = decade * m;
                    if value <= self.high * 1.000_001 {
                        ticks.push((value, label(value, decade)));
                    }
                }
                decade *= 10.0;
            }
            return ticks;
        }
        let step = nice_step(self.high - self.low, 5);
        let first = (self.low / step).ceil() as i64;
        let last = (self.high / step + 1e-9).floor() as i64;
        (first..=last)
            .map(|i| {
                let value = i as f64 * step;
                (value, label(value, step))
            })
            .collect()
    }

    /// Unlabelled minor ticks: 2..9 of each decade, on a log scale only.
    pub fn minor_ticks(&self) -> Vec<f64> {
        if !self.log {
            return Vec::new();
        }
        let mut ticks = Vec::new();
        let mut decade = self.low;
        while decade < self.high {
            ticks.extend((2..10).map(|m| decade * f64::from(m)));
            decade *= 10.0;
        }
        ticks
    }
}

/// A step of 1, 2 or 5 × 10^k giving about `count` intervals over `span`.
pub fn nice_step(span: f64, count: u32) -> f64 {
    let raw = span / f64::from(count.max(1));
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|&step| step >= raw * 0.999)
        .unwrap_or(10.0 * magnitude);
    if step > 0.0 && step.is_finite() {
        step
    } else {
        1.0
    }
}

/// A tick label with as many decimals as the step needs, thousands unseparated.
pub fn label(value: f64, step: f64) -> String {
    let decimals = if step >= 1.0 {
        0
    } else {
        (-step.log10().floor()) as usize
    };
    let text = format!("{value:.decimals$}");
    if text.starts_with('-') && text[1..].chars().all(|c| c == '0' || c == '.') {
        text[1..].to_string()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_ticks_are_round_numbers() {
        let scale = Scale::zero_to(87.0, 0.0, 100.0);
        assert_eq!(scale.high, 100.0);
        let labels: Vec<String> = scale.ticks().into_iter().map(|(_, l)| l).collect();
        assert_eq!(labels, ["0", "20", "40", "60", "80", "100"]);
        let small = Scale::zero_to(0.7, 0.0, 100.0);
        let labels: Vec<String> = small.ticks().into_iter().map(|(_, l)| l).collect();
        assert_eq!(labels, ["0.0", "0.2", "0.4", "0.6", "0.8"]);
    }

    #[test]
    fn log_scales_span_whole_decades() {
        let scale = Scale::log(3.2, 30_000.0, 200.0, 0.0);
        assert_eq!((scale.low, scale.high), (1.0, 100_000.0));
        let labels: Vec<String> = scale.ticks().into_iter().map(|(_, l)| l).collect();
        assert_eq!(labels, ["1", "10", "100", "1000", "10000", "100000"]);
        assert_eq!(scale.pixel(1.0), 200.0);
        assert_eq!(scale.pixel(100_000.0), 0.0);
        assert_eq!(scale.pixel(0.0), 200.0, "values below the axis sit on it");
        let fine = Scale::log(0.05, 2.0, 0.0, 1.0);
        let labels: Vec<String> = fine.ticks().into_iter().map(|(_, l)| l).collect();
        assert_eq!(labels, ["0.01", "0.1", "1", "10"]);
        let narrow = Scale::log(20.0, 300.0, 0.0, 1.0);
        let labels: Vec<String> = narrow.ticks().into_iter().map(|(_, l)| l).collect();
        assert_eq!(labels, ["10", "20", "50", "100", "200", "500", "1000"]);
    }

    #[test]
    fn an_empty_range_still_has_an_axis() {
        let scale = Scale::zero_to(0.0, 0.0, 100.0);
        assert_eq!((scale.low, scale.high), (0.0, 1.0));
        assert!(!scale.ticks().is_empty());
    }
}
