//! Parallel fan-out steps: wait for all, for the first k, and fall back when too
//! many fail.

use models::RunReport;

fn run(group: &str, faults: &str) -> RunReport {
    let source = format!(
        r#"
[scenario]
name = "fan-out"
seed = 5
duration = "20s"

[load]
kind = "closed"
users = 5
spawn_rate = 5
wait = {{ constant = "100ms" }}
target = "page/get"

[services.page]
workers = "unbounded"
endpoints.get.steps = [{group}]

[services.a]
workers = "unbounded"
endpoints.get.steps = [{{ work = {{ constant = "10ms" }} }}]

[services.b]
workers = "unbounded"
endpoints.get.steps = [{{ work = {{ constant = "30ms" }} }}]

[services.c]
workers = "unbounded"
endpoints.get.steps = [{{ work = {{ constant = "20ms" }} }}]
{faults}
"#
    );
    let experiment = cascade::scenario::experiment_from_str("fan-out.toml", &source, &[])
        .unwrap_or_else(|e| panic!("{}", e.rendered));
    models::simulate(&experiment.variants[0].scenario)
}

const ALL_THREE: &str =
    r#"{ parallel = [{ call = "a/get" }, { call = "b/get" }, { call = "c/get" }] }"#;

#[test]
fn waiting_for_all_takes_as_long_as_the_slowest_call() {
    let report = run(ALL_THREE, "");
    assert_eq!(report.failures, 0);
    assert_eq!(report.latency_ms.min, 30.0);
    assert_eq!(report.latency_ms.max, 30.0);
    // Every page called all three.
    for service in &report.services[..3] {
        assert!(service.arrivals >= report.completed);
    }
}

#[test]
fn waiting_for_the_first_takes_as_long_as_the_fastest() {
    let group = r#"{ parallel = [{ call = "a/get" }, { call = "b/get" }, { call = "c/get" }], wait_for = 1 }"#;
    let report = run(group, "");
    assert_eq!(report.latency_ms.max, 10.0);
    // The slower calls still ran, for nobody.
    let b = report.services.iter().find(|s| s.name == "b").unwrap();
    assert!(b.abandoned > 0);
    let two = r#"{ parallel = [{ call = "a/get" }, { call = "b/get" }, { call = "c/get" }], wait_for = 2 }"#;
    assert_eq!(run(two, "").latency_ms.max, 20.0);
}

const B_AND_C_FAIL: &str = r#"
[[faults]]
target = "b"
kind = "error"
rate = 1.0
status = 503

[[faults]]
target = "c"
kind = "error"
rate = 1.0
status = 500
"#;

#[test]
fn a_quorum_out_of_reach_takes_the_group_fallback() {
    let group = r#"{ parallel = [{ call = "a/get" }, { call = "b/get" }, { call = "c/get" }], wait_for = 2, fallback = "propagate" }"#;
    let report = run(group, B_AND_C_FAIL);
    assert_eq!(report.ok, 0);
    // c fails first (at once, like b), and both are failures before a answers; the
    // first failure heard is passed on.
    assert_eq!(report.failures, report.completed);
    let statuses: Vec<&String> = report.errors_by_status.keys().collect();
    assert_eq!(statuses.len(), 1, "{:?}", report.errors_by_status);
    // One success is enough for a quorum of one.
    let one = r#"{ parallel = [{ call = "a/get" }, { call = "b/get" }, { call = "c/get" }], wait_for = 1, fallback = "propagate" }"#;
    let report = run(one, B_AND_C_FAIL);
    assert_eq!(report.failures, 0);
    assert_eq!(report.latency_ms.max, 10.0);
}

#[test]
fn a_call_that_falls_back_counts_as_an_answer_and_degrades_the_page() {
    let group = r#"{ parallel = [{ call = "a/get" }, { call = "b/get", fallback = "degraded" }, { call = "c/get" }] }"#;
    let report = run(group, B_AND_C_FAIL);
    // c's failure fails the group (it has no fallback); with a fallback on c too,
    // every page is served, degraded.
    assert_eq!(report.ok + report.degraded, 0);
    let both = r#"{ parallel = [{ call = "a/get" }, { call = "b/get", fallback = "degraded" }, { call = "c/get", fallback = "degraded" }] }"#;
    let report = run(both, B_AND_C_FAIL);
    assert_eq!(report.failures, 0);
    assert_eq!(report.degraded, report.completed);
    assert_eq!(report.latency_ms.max, 10.0);
}

#[test]
fn each_call_in_a_group_keeps_its_own_timeout() {
    let group = r#"{ parallel = [{ call = "a/get" }, { call = "b/get", timeout = "15ms", fallback = "degraded" }] }"#;
    let report = run(group, "");
    assert_eq!(report.degraded, report.completed);
    assert_eq!(report.latency_ms.max, 15.0);
}
