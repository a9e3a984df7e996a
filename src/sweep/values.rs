//! The values of one swept parameter, as written after `--set PATH=`: a list
//! (`1,3,5`, `"a","b"`), an integer range (`1..10`, `1..10:3`) or a duration range
//! (`500ms..10s:500ms`). Ranges include their end when the steps land on it.

use sim_core::SimDuration;
use toml::Value;

use crate::scenario::duration::parse_duration;
use crate::scenario::overrides::value_from_text;

/// Points in one dimension of a sweep, beyond which a typo is more likely than
/// intent.
const VALUES_MAX: u64 = 100_000;

pub fn parse_values(text: &str) -> Result<Vec<Value>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("expected values: a list (1,3,5), a range (1..10 or 1..10:2) or durations (500ms..5s:500ms)".into());
    }
    if let Some((start, rest)) = text.split_once("..") {
        let (end, step) = match rest.split_once(':') {
            Some((end, step)) => (end, Some(step)),
            None => (rest, None),
        };
        return range(start.trim(), end.trim(), step.map(str::trim));
    }
    text.split(',')
        .map(|item| Ok(value_from_text(item.trim())))
        .collect()
}

fn range(start: &str, end: &str, step: Option<&str>) -> Result<Vec<Value>, String> {
    if let (Ok(start), Ok(end)) = (start.parse::<i64>(), end.parse::<i64>()) {
        let step = match step {
            Some(step) => step
                .parse::<i64>()
                .map_err(|_| format!("step `{step}` is not a whole number"))?,
            None => 1,
        };
        if step <= 0 {
            return Err(format!("the step must be above 0, got {step}"));
        }
        if end < start {
            return Err(format!("the range {start}..{end} is empty"));
        }
        let count = ((end - start) / step) as u64 + 1;
        check_count(count)?;
        return Ok((0..count as i64)
            .map(|i| Value::Integer(start + i * step))
            .collect());
    }
    let start_d = parse_duration(start).map_err(|e| format!("range start: {e}"))?;
    let end_d = parse_duration(end).map_err(|e| format!("range end: {e}"))?;
    let Some(step) = step else {
        return Err(format!(
            "a duration range needs a step, e.g. {start}..{end}:100ms"
        ));
    };
    let step_d = parse_duration(step).map_err(|e| format!("range step: {e}"))?;
    if step_d == SimDuration::ZERO {
        return Err("the step must be above 0".into());
    }
    if end_d < start_d {
        return Err(format!("the range {start}..{end} is empty"));
    }
    let count = (end_d.as_nanos() - start_d.as_nanos()) / step_d.as_nanos() + 1;
    check_count(count)?;
    Ok((0..count)
        .map(|i| Value::String(SimDuration(start_d.as_nanos() + i * step_d.as_nanos()).to_string()))
        .collect())
}

fn check_count(count: u64) -> Result<(), String> {
    if count > VALUES_MAX {
        return Err(format!(
            "{count} values in one range; the limit is {VALUES_MAX}"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(values: Vec<Value>) -> Vec<String> {
        values.iter().map(|v| v.to_string()).collect()
    }

    #[test]
    fn lists_ranges_and_duration_ranges() {
        assert_eq!(texts(parse_values("1,3,5").unwrap()), ["1", "3", "5"]);
        assert_eq!(texts(parse_values("1..4").unwrap()), ["1", "2", "3", "4"]);
        assert_eq!(texts(parse_values("1..10:4").unwrap()), ["1", "5", "9"]);
        assert_eq!(
            texts(parse_values("500ms..2s:500ms").unwrap()),
            ["\"500ms\"", "\"1s\"", "\"1.5s\"", "\"2s\""]
        );
        assert_eq!(
            texts(parse_values("degraded,propagate").unwrap()),
            ["\"degraded\"", "\"propagate\""]
        );
        assert_eq!(texts(parse_values("0.5,0.9").unwrap()), ["0.5", "0.9"]);
    }

    #[test]
    fn bad_values_are_errors() {
        for text in [
            "",
            "5..1",
            "1..5:0",
            "1..5:-1",
            "1s..500ms:100ms",
            "1s..2s",
            "1s..2s:0s",
            "1..1000000000",
        ] {
            assert!(parse_values(text).is_err(), "{text}");
        }
    }
}
