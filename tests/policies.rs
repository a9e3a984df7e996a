//! How retry and breaker nest on a call, and deadline propagation.

use models::RunReport;

fn service<'a>(report: &'a RunReport, name: &str) -> &'a models::report::ServiceReport {
    report
        .services
        .iter()
        .find(|service| service.name == name)
        .expect("the service exists")
}

fn run(source: &str) -> RunReport {
    let experiment = cascade::scenario::experiment_from_str("policies.toml", source, &[])
        .unwrap_or_else(|e| panic!("{}", e.rendered));
    models::simulate(&experiment.variants[0].scenario)
}

/// One user calling once a second through a breaker that trips on 3 consecutive
/// failures; backend fails everything; each call tries 3 times.
fn failing_backend(order: &str) -> RunReport {
    run(&format!(
        r#"
[scenario]
name = "order"
seed = 1
duration = "20s"

[load]
kind = "closed"
users = 1
spawn_rate = 1
wait = {{ constant = "1s" }}
target = "gateway/get"

[services.gateway]
workers = "unbounded"
endpoints.get.steps = [
  {{ call = "backend/get", breaker = "b", order = "{order}", fallback = "propagate", retry = {{ attempts = 3, backoff = "constant", base = "10ms", on = ["5xx"] }} }},
]

[services.backend]
workers = "unbounded"
endpoints.get.steps = [{{ work = {{ constant = "1ms" }} }}]

[breakers.b]
kind = "consecutive"
failures = 3
open_for = "1h"

[[faults]]
target = "backend"
kind = "error"
rate = 1.0
status = 503
"#
    ))
}

#[test]
fn with_retries_outside_the_breaker_each_attempt_counts() {
    let report = failing_backend("retry_outside_breaker");
    // The first call's three attempts are three failures: the breaker opens, and
    // every later call is rejected without reaching backend.
    assert_eq!(service(&report, "backend").arrivals, 3);
    let transitions = &report.breakers[0].transitions;
    assert_eq!(transitions.len(), 1);
    assert!(transitions[0].at_ms < 100.0, "{transitions:?}");
}

#[test]
fn with_the_breaker_outside_the_retries_a_call_counts_once() {
    let report = failing_backend("breaker_outside_retry");
    // Three calls of three attempts each before the third recorded failure.
    assert_eq!(service(&report, "backend").arrivals, 9);
    let transitions = &report.breakers[0].transitions;
    assert_eq!(transitions.len(), 1);
    // The third call starts at about 2 s (each call takes ~23 ms, then 1 s of wait).
    assert!(
        (2000.0..2200.0).contains(&transitions[0].at_ms),
        "{transitions:?}"
    );
}

/// Open-loop arrivals at twice what `slow` can serve; the gateway waits 200 ms.
fn overloaded(propagate: bool) -> RunReport {
    run(&format!(
        r#"
[scenario]
name = "deadlines"
seed = 2
duration = "60s"

[load]
kind = "open"
rate = 40
target = "gateway/get"

[services.gateway]
workers = "unbounded"
endpoints.get.steps = [{{ call = "slow/get", timeout = "200ms", fallback = "propagate", propagate_deadline = {propagate} }}]

[services.slow]
workers = 1
endpoints.get.steps = [{{ work = {{ constant = "50ms" }} }}]
"#
    ))
}

#[test]
fn a_propagated_deadline_keeps_an_overloaded_service_doing_useful_work() {
    let without = overloaded(false);
    let with = overloaded(true);
    // Without: the queue grows without end, every answer comes after the caller gave
    // up, and nearly nothing succeeds.
    let slow = service(&without, "slow");
    assert!(without.ok < 20, "{}", without.ok);
    assert!(slow.queue_max > 1000 && slow.abandoned > 1000 && slow.dropped == 0);
    // With: expired requests are dropped, so the queue stays as short as the
    // deadline allows (200 ms of waiting) and some requests get through in time.
    // Not most of them: in FIFO order the head of a queue of 200 ms is always about
    // to expire, which is why servers under deadlines also shed load or serve LIFO.
    let slow = service(&with, "slow");
    assert!(with.ok > 200, "{}", with.ok);
    assert!(slow.queue_max < 30, "{}", slow.queue_max);
    assert!(slow.dropped > 1000 && slow.abandoned == 0);
    assert_eq!(with.requests, with.completed + with.in_flight);
}

#[test]
fn a_dropped_job_answers_a_caller_that_set_no_timeout() {
    // A -> B with a deadline from the gateway's 100 ms timeout; A itself waits on B
    // with no timeout. B drops expired work and A hears 504 instead of hanging.
    let report = run(r#"
[scenario]
name = "chain"
seed = 3
duration = "30s"

[load]
kind = "open"
rate = 40
target = "gateway/get"

[services.gateway]
workers = "unbounded"
endpoints.get.steps = [{ call = "a/get", timeout = "100ms", fallback = "propagate", propagate_deadline = true }]

[services.a]
workers = "unbounded"
endpoints.get.steps = [{ call = "b/get", fallback = "propagate", propagate_deadline = true }]

[services.b]
workers = 1
endpoints.get.steps = [{ work = { constant = "50ms" } }]
"#);
    let a = service(&report, "a");
    // A's jobs end when B drops their calls: none waits forever on a dropped child,
    // so A never holds more than the few calls of the last 100 ms or so.
    assert!(service(&report, "b").dropped > 100);
    assert!(a.busy_max < 30, "{}", a.busy_max);
    assert!(
        a.arrivals - a.completed < 30,
        "{} of {}",
        a.completed,
        a.arrivals
    );
}
