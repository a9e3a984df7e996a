//! Arbitrary bytes as a scenario file: loading must return a scenario or a
//! diagnostic, never panic; a scenario that loads is run (within a small event
//! budget) and its report must satisfy what every run satisfies.
//!
//! Lines of the form `#set PATH=VALUE` are TOML comments to the loader and `--set`
//! overrides to `experiment_from_str`, so one input also exercises the overrides
//! and the variants.

#![no_main]

use cascade::scenario::{self, overrides::Override};
use libfuzzer_sys::fuzz_target;
use models::spec::{Capacity, LoadModel, Scenario};
use models::{RunLimits, RunReport};

/// Enough events for a few thousand requests through a small topology: most inputs
/// run in well under a millisecond, so the fuzzer keeps its pace, while the budget
/// itself (stopping mid-run) is exercised all the time.
const EVENTS_MAX: u64 = 60_000;
/// A run allocates per user and per window up front; keep that small too.
const USERS_MAX: u32 = 2_000;
const WINDOWS_MAX: u64 = 2_000;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let loaded = scenario::load_str("fuzz.toml", text);
    let sets: Vec<Override> = text
        .lines()
        .filter_map(|line| line.strip_prefix("#set "))
        .filter_map(|argument| Override::from_cli(argument).ok())
        .collect();
    let experiment = scenario::experiment_from_str("fuzz.toml", text, &sets);
    if loaded.is_err() {
        assert!(
            experiment.is_err(),
            "the experiment loaded a file that does not"
        );
    }
    let (Ok(loaded), Ok(experiment)) = (loaded, experiment) else {
        return;
    };
    assert_eq!(
        experiment.variants.len(),
        loaded.variants.len().max(1),
        "one scenario per variant"
    );
    let mut runs = Vec::new();
    for variant in &experiment.variants {
        let scenario = &variant.scenario;
        if !cheap(scenario) {
            continue;
        }
        let limits = RunLimits {
            events_max: EVENTS_MAX,
            in_flight_max: 20_000,
        };
        let report = models::simulate_with_limits(scenario, limits);
        check(scenario, &report);
        let again = models::simulate_with_limits(scenario, limits);
        assert!(report == again, "same scenario and seed, different report");
        runs.push(report);
    }
    if !runs.is_empty() {
        let first = &experiment.variants[0].scenario;
        let report = cascade::render::Report::new(
            experiment.name.clone(),
            first.seed,
            first.duration.as_secs_f64(),
            runs,
        );
        let _ = cascade::render::text::render(&report);
        let json = cascade::render::json::render(&report);
        serde_json::from_str::<serde_json::Value>(&json).expect("the JSON report parses");
    }
});

/// Whether setting the run up is cheap: its up-front allocations are per user and
/// per window, which the event budget does not bound.
fn cheap(scenario: &Scenario) -> bool {
    let windows = scenario
        .duration
        .as_nanos()
        .div_ceil(scenario.window.as_nanos().max(1));
    let users_ok = match scenario.load.model {
        LoadModel::Closed { users, .. } => users <= USERS_MAX,
        LoadModel::Open { .. } => true,
    };
    users_ok && windows <= WINDOWS_MAX
}

/// What holds for every run, stopped early or not.
fn check(scenario: &Scenario, report: &RunReport) {
    let errors: u64 = report.errors_by_status.values().sum();
    assert_eq!(report.errors, errors, "errors are the sum by status");
    assert_eq!(
        report.failures,
        report.errors + report.rejected + report.timed_out,
        "failures = errors + rejected + timed out"
    );
    assert_eq!(
        report.completed,
        report.ok + report.degraded + report.failures,
        "completed = ok + degraded + failures"
    );
    assert_eq!(
        report.requests,
        report.completed + report.in_flight,
        "request conservation"
    );
    let windows = &report.timeline.windows;
    assert!(!windows.is_empty(), "a run has at least one window");
    let sum = |f: fn(&models::report::Window) -> u64| windows.iter().map(f).sum::<u64>();
    assert_eq!(sum(|w| w.completed), report.completed, "windows add up");
    assert_eq!(sum(|w| w.ok), report.ok, "windows' ok add up");
    assert_eq!(
        sum(|w| w.degraded),
        report.degraded,
        "windows' degraded add up"
    );
    assert_eq!(
        sum(|w| w.failed),
        report.failures,
        "windows' failures add up"
    );
    assert_eq!(
        windows.last().map(|w| w.in_flight),
        Some(report.in_flight),
        "the last window ends with the run's in-flight requests"
    );
    assert!(
        windows
            .windows(2)
            .all(|pair| pair[0].start_ms <= pair[1].start_ms),
        "windows in time order"
    );
    let latency = &report.latency_ms;
    let percentiles = [
        latency.p50,
        latency.p66,
        latency.p75,
        latency.p80,
        latency.p90,
        latency.p95,
        latency.p98,
        latency.p99,
        latency.p99_9,
        latency.p99_99,
        latency.max,
    ];
    assert!(
        percentiles.windows(2).all(|pair| pair[0] <= pair[1]),
        "percentiles rise: {latency:?}"
    );
    if report.completed > 0 {
        assert!(
            latency.min <= latency.mean && latency.mean <= latency.max,
            "min <= mean <= max: {latency:?}"
        );
    }
    let duration_ms = scenario.duration.as_secs_f64() * 1000.0;
    for breaker in &report.breakers {
        let mut state = "closed";
        let mut at = 0.0;
        for transition in &breaker.transitions {
            assert_eq!(
                transition.from, state,
                "{}: transitions chain",
                breaker.name
            );
            assert_ne!(
                transition.from, transition.to,
                "{}: a transition moves",
                breaker.name
            );
            assert!(
                !(transition.from == "closed" && transition.to == "half_open"),
                "{}: closed never goes to half-open directly",
                breaker.name
            );
            assert!(
                at <= transition.at_ms && transition.at_ms <= duration_ms + 0.001,
                "{}: transitions in time order within the run",
                breaker.name
            );
            state = transition.to;
            at = transition.at_ms;
        }
    }
    for (spec, service) in scenario.services.iter().zip(&report.services) {
        assert!(
            service.completed + service.rejected <= service.arrivals,
            "{}: more answers than arrivals",
            service.name
        );
        let replicas = u64::from(spec.replicas);
        if let Capacity::Bounded(workers) = spec.workers {
            assert!(
                service.busy_max <= u64::from(workers) * replicas,
                "{}: busy workers beyond capacity",
                service.name
            );
            for replica in &service.replicas {
                assert!(
                    replica.busy_max <= u64::from(workers),
                    "{}: a replica's busy workers beyond capacity",
                    service.name
                );
            }
        }
        if let Capacity::Bounded(queue) = spec.queue {
            for replica in &service.replicas {
                assert!(
                    replica.queue_max <= u64::from(queue),
                    "{}: a replica's queue beyond its capacity",
                    service.name
                );
            }
        }
        if !service.replicas.is_empty() {
            let arrivals: u64 = service.replicas.iter().map(|r| r.arrivals).sum();
            assert_eq!(
                arrivals, service.arrivals,
                "{}: replicas add up",
                service.name
            );
        }
    }
}
