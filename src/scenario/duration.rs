//! Durations as people write them: `"30s"`, `"5ms"`, `"1.5s"`, `"2m"`.
//!
//! Parsed exactly in decimal (no float on the way), so `"0.1s"` is 100,000,000 ns.

use sim_core::SimDuration;

const UNITS: [(&str, u64); 7] = [
    ("ns", 1),
    ("us", 1_000),
    ("µs", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60 * 1_000_000_000),
    ("h", 3600 * 1_000_000_000),
];

const EXPECTED: &str =
    "expected a duration: a number and a unit (ns, us, ms, s, m, h), e.g. \"30s\" or \"1.5s\"";

pub fn parse_duration(text: &str) -> Result<SimDuration, String> {
    let trimmed = text.trim();
    if trimmed.starts_with('-') {
        return Err(format!("durations cannot be negative, got \"{text}\""));
    }
    let split = trimmed
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    let unit = unit.trim_start();
    let Some(&(_, scale)) = UNITS.iter().find(|(name, _)| *name == unit) else {
        return Err(format!("{EXPECTED}; got \"{text}\""));
    };
    let (whole, fraction) = match number.split_once('.') {
        Some((whole, fraction)) => (whole, fraction),
        None => (number, ""),
    };
    let digits_ok = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    if (whole.is_empty() && fraction.is_empty()) || !digits_ok(whole) || !digits_ok(fraction) {
        return Err(format!("{EXPECTED}; got \"{text}\""));
    }
    let too_long = || format!("duration \"{text}\" is too long for the clock (about 584 years)");
    let whole_ns = if whole.is_empty() {
        0
    } else {
        whole
            .parse::<u64>()
            .ok()
            .and_then(|w| w.checked_mul(scale))
            .ok_or_else(too_long)?
    };
    let fraction = fraction.trim_end_matches('0');
    let fraction_ns = if fraction.is_empty() {
        0
    } else {
        if fraction.len() > 18 {
            return Err(format!("duration \"{text}\" is finer than a nanosecond"));
        }
        let value: u128 = fraction.parse().expect("checked digits");
        let denominator = 10u128.pow(fraction.len() as u32);
        let scaled = value * u128::from(scale);
        if !scaled.is_multiple_of(denominator) {
            return Err(format!("duration \"{text}\" is finer than a nanosecond"));
        }
        (scaled / denominator) as u64
    };
    whole_ns
        .checked_add(fraction_ns)
        .map(SimDuration)
        .ok_or_else(too_long)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_what_people_write() {
        let cases = [
            ("30s", 30_000_000_000),
            ("5ms", 5_000_000),
            ("1.5s", 1_500_000_000),
            ("2m", 120_000_000_000),
            ("1h", 3_600_000_000_000),
            ("250us", 250_000),
            ("7ns", 7),
            ("0s", 0),
            (".5s", 500_000_000),
            ("0.100s", 100_000_000),
            (" 10 ms ", 10_000_000),
        ];
        for (text, ns) in cases {
            assert_eq!(parse_duration(text), Ok(SimDuration(ns)), "{text}");
        }
    }

    #[test]
    fn rejects_what_is_not_a_duration() {
        for text in [
            "",
            "s",
            "30",
            "5 sec",
            "1..5s",
            "-1s",
            "nan s",
            "1e3ms",
            "0.5ns",
            "99999999999h",
        ] {
            assert!(parse_duration(text).is_err(), "{text} should fail");
        }
        assert!(parse_duration("-5s").unwrap_err().contains("negative"));
    }
}
