//! Breakers inside whole runs: Hystrix deciding on health snapshots, gobreaker's ratio
//! rule against a run of failures, and per-breaker failure classification.

use models::breaker::{FailureOn, HystrixSettings, TripRule};
use models::report::TransitionReport;
use models::spec::BreakerKind;
use models::RunReport;

/// Runs every variant of a scenario file, edited by `(from, to)` text replacements
/// (each must apply) and `--set` overrides.
fn run(path: &str, edits: &[(&str, &str)], sets: &[&str]) -> Vec<RunReport> {
    let mut source = std::fs::read_to_string(path).unwrap();
    for (from, to) in edits {
        assert!(source.contains(from), "{path} lacks {from:?}");
        source = source.replacen(from, to, 1);
    }
    let sets: Vec<_> = sets
        .iter()
        .map(|s| cascade::scenario::overrides::Override::from_cli(s).unwrap())
        .collect();
    let experiment = cascade::scenario::experiment_from_str(path, &source, &sets)
        .unwrap_or_else(|e| panic!("{}", e.rendered));
    experiment
        .variants
        .iter()
        .map(|v| models::simulate(&v.scenario))
        .collect()
}

fn transitions(report: &RunReport) -> &[TransitionReport] {
    &report.breakers[0].transitions
}

/// Each move to open, with the time the health stream last (re)started: the start
/// of the run, or the close before it.
fn trips_with_stream_start(report: &RunReport) -> Vec<(f64, f64)> {
    let mut start = 0.0;
    let mut trips = Vec::new();
    for t in transitions(report) {
        match (t.from, t.to) {
            ("half_open", "closed") => start = t.at_ms,
            ("closed", "open") => trips.push((t.at_ms, start)),
            _ => {}
        }
    }
    trips
}

fn on_grid(at_ms: f64, start_ms: f64, step_ms: f64) -> bool {
    let steps = (at_ms - start_ms) / step_ms;
    (steps - steps.round()).abs() < 1e-5 && steps.round() >= 1.0
}

const HYSTRIX: &str = "scenarios/hystrix-breaker.toml";

#[test]
fn hystrix_opens_only_on_health_snapshots() {
    let runs = run(HYSTRIX, &[], &[]);
    let trips = trips_with_stream_start(&runs[0]);
    assert!(trips.len() >= 2, "{trips:?}");
    for (at, start) in &trips {
        assert!(
            on_grid(*at, *start, 500.0),
            "trip at {at} ms, stream from {start} ms"
        );
    }
}

#[test]
fn a_slower_health_snapshot_delays_the_trip() {
    let fast = run(HYSTRIX, &[], &[]);
    let slow = run(
        HYSTRIX,
        &[],
        &["breakers.inventory.health_snapshot_interval=2500ms"],
    );
    let (fast_trip, _) = trips_with_stream_start(&fast[0])[0];
    let (slow_trip, start) = trips_with_stream_start(&slow[0])[0];
    assert!(on_grid(slow_trip, start, 2500.0), "{slow_trip}");
    assert!(
        slow_trip >= fast_trip && slow_trip < fast_trip + 2500.0,
        "{fast_trip} then {slow_trip}"
    );
}

#[test]
fn hystrix_never_opens_below_the_request_volume() {
    // About 65 calls a second reach the breaker: 20 s hold ~1300, fewer than 2000.
    let runs = run(
        HYSTRIX,
        &[],
        &[
            "breakers.inventory.request_volume_threshold=2000",
            "breakers.inventory.rolling_window=20s",
        ],
    );
    assert!(transitions(&runs[0]).is_empty());
    assert_eq!(runs[0].breakers[0].rejected, 0);
}

#[test]
fn hystrix_trials_come_strictly_after_the_sleep_window_one_at_a_time() {
    let runs = run(HYSTRIX, &[], &[]);
    let moves = transitions(&runs[0]);
    for pair in moves.windows(2) {
        if pair[0].to == "open" {
            assert_eq!(pair[1].to, "half_open");
            assert!(pair[1].at_ms > pair[0].at_ms + 5000.0, "{pair:?}");
        }
    }
    // One trial: a half-open breaker short-circuits everything else, so nothing
    // but the trial's own answer ends it.
    assert!(moves
        .iter()
        .any(|t| t.from == "half_open" && t.to == "closed"));
}

/// The inventory fault as a hang: answers 200, but after 3 s, past the 1 s timeout.
const HANG: (&str, &str) = (
    "kind = \"error\"\nrate = 0.6\nstatus = 503",
    "kind = \"hang\"\nfor = \"3s\"\nthen_status = 200",
);

#[test]
fn timeouts_are_hystrix_errors_by_default() {
    let runs = run(HYSTRIX, &[HANG], &[]);
    let trips = trips_with_stream_start(&runs[0]);
    assert!(!trips.is_empty());
    let (first, _) = trips[0];
    assert!((20_000.0..30_000.0).contains(&first), "{first}");
}

#[test]
fn a_breaker_that_does_not_count_timeouts_never_opens_on_them() {
    let runs = run(
        HYSTRIX,
        &[
            HANG,
            (
                "# failure_on = [\"5xx\", \"timeout\", \"connection\", \"bulkhead\"]",
                "failure_on = [\"5xx\", \"connection\"]",
            ),
        ],
        &[],
    );
    assert!(transitions(&runs[0]).is_empty());
}

#[test]
fn the_ratio_rule_rides_out_flakiness_and_trips_on_the_outage() {
    let runs = run("scenarios/failure-ratio-breaker.toml", &[], &[]);
    let (ratio, in_a_row) = (&runs[0], &runs[1]);
    let first = transitions(ratio)[0].at_ms;
    assert!(
        (60_000.0..61_000.0).contains(&first),
        "first trip at {first} ms"
    );
    assert!(
        transitions(in_a_row)[0].at_ms < 10_000.0,
        "3 in a row trips on 20 % errors"
    );
    assert!(in_a_row.failures > ratio.failures);
}

#[test]
fn which_outcomes_are_failures_is_the_breakers_choice() {
    let runs = run("scenarios/breaker-failure-classification.toml", &[], &[]);
    let (everything, server_errors) = (&runs[0], &runs[1]);
    let before_hang = |r: &RunReport| transitions(r).iter().filter(|t| t.at_ms < 60_000.0).count();
    assert!(before_hang(everything) > 5, "404s trip the default breaker");
    assert_eq!(before_hang(server_errors), 0, "404s are successes here");
    let first = transitions(server_errors)[0].at_ms;
    assert!(
        (60_000.0..62_000.0).contains(&first),
        "the hang's timeouts trip it at {first} ms"
    );
}

#[test]
fn a_bare_hystrix_breaker_takes_hystrixs_defaults() {
    let source = std::fs::read_to_string(HYSTRIX).unwrap();
    let keys = [
        "request_volume_threshold",
        "error_threshold_percentage",
        "sleep_window",
        "rolling_window",
        "rolling_buckets",
        "health_snapshot_interval",
    ];
    let bare: String = source
        .lines()
        .filter(|line| !keys.iter().any(|key| line.starts_with(key)))
        .map(|line| format!("{line}\n"))
        .collect();
    assert!(bare.len() < source.len());
    let built =
        cascade::scenario::load_str(HYSTRIX, &bare).unwrap_or_else(|e| panic!("{}", e.rendered));
    let breaker = &built.scenario.breakers[0];
    assert_eq!(
        breaker.kind,
        BreakerKind::Hystrix(HystrixSettings::default())
    );
    assert_eq!(breaker.failure_on, FailureOn::default());
    let defaults = HystrixSettings::default();
    assert_eq!(defaults.request_volume_threshold, 20);
    assert_eq!(defaults.error_threshold_percentage, 50);
    assert_eq!(defaults.sleep_window.as_millis_f64(), 5000.0);
    assert_eq!(defaults.rolling_window.as_millis_f64(), 10_000.0);
    assert_eq!(defaults.health_snapshot_interval.as_millis_f64(), 500.0);
}

#[test]
fn trip_rules_and_failure_classes_load_as_written() {
    let built = cascade::scenario::load_file("scenarios/failure-ratio-breaker.toml")
        .unwrap_or_else(|e| panic!("{}", e.rendered));
    match &built.scenario.breakers[0].kind {
        BreakerKind::Consecutive(settings) => assert_eq!(
            settings.trip,
            TripRule::FailureRatio {
                ratio: 0.6,
                min_requests: 3
            }
        ),
        other => panic!("{other:?}"),
    }
    let source = std::fs::read_to_string("scenarios/breaker-failure-classification.toml")
        .unwrap()
        .replacen(
            "failure_rate = 30\n",
            "failure_rate = 30\nfailure_on = [\"5xx\", 404, \"408\", \"timeout\"]\n",
            1,
        );
    let built = cascade::scenario::load_str("classification.toml", &source)
        .unwrap_or_else(|e| panic!("{}", e.rendered));
    let mut expected = FailureOn::nothing();
    expected.add_class(5);
    expected.add_status(404);
    expected.add_status(408);
    expected.timeouts = true;
    assert_eq!(built.scenario.breakers[0].failure_on, expected);
}

/// The bulkhead demo with a gobreaker breaker outside the bulkhead, counting only
/// the given outcomes.
fn bulkhead_behind_breaker(failure_on: &str) -> RunReport {
    let breaker = format!(
        "[breakers.reviews]\nkind = \"consecutive\"\nfailures = 3\nopen_for = \"5s\"\nfailure_on = {failure_on}\n\n[bulkheads.reviews]"
    );
    let runs = run(
        "scenarios/bulkhead-protects-the-pool.toml",
        &[
            (
                "bulkhead = \"reviews\", fallback",
                "bulkhead = \"reviews\", breaker = \"reviews\", fallback",
            ),
            ("[bulkheads.reviews]", &breaker),
        ],
        &[],
    );
    runs.into_iter().next().unwrap()
}

#[test]
fn bulkhead_rejections_count_for_the_breaker_only_if_classified_so() {
    // reviews hangs from 20 s, each request 10 s then 504. Counting rejections, the
    // breaker opens as soon as the 8 permits are taken (and on bursts of rejections
    // before that); counting only 5xx, it waits for the first 504, at 30 s.
    let rejections = bulkhead_behind_breaker("[\"bulkhead\"]");
    let statuses = bulkhead_behind_breaker("[\"5xx\"]");
    let opened = |r: &RunReport| -> Vec<f64> {
        transitions(r)
            .iter()
            .filter(|t| t.to == "open")
            .map(|t| t.at_ms)
            .collect()
    };
    assert!(rejections.bulkheads[0].rejected > 0);
    assert!(
        opened(&rejections)
            .iter()
            .any(|at| (20_000.0..21_000.0).contains(at)),
        "{:?}",
        opened(&rejections)
    );
    assert!(opened(&statuses)[0] >= 30_000.0, "{:?}", opened(&statuses));
}
