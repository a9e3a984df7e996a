//! The seeds' gateway demo (seed 004) must come out with the published shape.
//!
//! Tolerances are about the model, not tuned to pass: v1's mean is the 30 s timeout
//! plus a few ms of product work; its rate follows from 100 users each finishing about
//! 3 requests of ~31.5 s (30 s + think) before the 2-minute run ends, divided as
//! Locust does by the time up to the last completion. v2's mean is ~60 requests that
//! wait the full 5 s (those sent before the third timeout, and one half-open trial
//! every 10 s) spread over ~7,500 requests.

use models::RunReport;

fn run(path: &str) -> RunReport {
    let report =
        cascade::report_for_file(path, None).unwrap_or_else(|error| panic!("{}", error.rendered));
    report.variants.into_iter().next().unwrap()
}

#[test]
fn v1_without_breaker_waits_the_full_timeout_and_fails_everything() {
    let v1 = run("scenarios/gateway-without-breaker.toml");
    assert!(
        (29_990.0..30_100.0).contains(&v1.latency_ms.mean),
        "mean {}",
        v1.latency_ms.mean
    );
    assert_eq!(v1.failures, v1.completed, "every completed request fails");
    assert_eq!(v1.errors_by_status.get("500"), Some(&v1.completed));
    assert!(
        (2.7..3.1).contains(&v1.throughput_rps),
        "rps {}",
        v1.throughput_rps
    );
    // Each of the 100 users is still waiting on its 4th request when the run stops.
    assert_eq!(v1.in_flight, 100);
    assert!(v1.breakers.is_empty());
}

#[test]
fn v2_with_breaker_degrades_instead_of_failing() {
    let v2 = run("scenarios/gateway-with-breaker.toml");
    assert_eq!(v2.failures, 0);
    assert_eq!(
        v2.ok, 0,
        "recommendations never answer well, so no page is complete"
    );
    assert_eq!(v2.degraded, v2.completed);
    assert!(
        (35.0..60.0).contains(&v2.latency_ms.mean),
        "mean {}",
        v2.latency_ms.mean
    );
    assert!(
        (60.0..66.0).contains(&v2.throughput_rps),
        "rps {}",
        v2.throughput_rps
    );
    assert!(v2.latency_ms.p50 < 20.0, "most requests take the fast path");
    let breaker = &v2.breakers[0];
    let first = &breaker.transitions[0];
    assert_eq!((first.from, first.to), ("closed", "open"));
    // The first 5 s timeouts land just after t = 5 s.
    assert!(
        (5_000.0..5_100.0).contains(&first.at_ms),
        "tripped at {}",
        first.at_ms
    );
    // Open 5 s, then one trial that waits its full 5 s timeout, and again.
    let reopenings = breaker
        .transitions
        .iter()
        .filter(|t| t.from == "half_open" && t.to == "open")
        .count();
    assert!(
        (10..=12).contains(&reopenings),
        "{reopenings} half-open trials failed"
    );
    let slow = v2
        .services
        .iter()
        .find(|s| s.name == "recommendations")
        .unwrap()
        .arrivals;
    assert!(
        (50..=75).contains(&slow),
        "{slow} calls reached the hanging service"
    );
}
