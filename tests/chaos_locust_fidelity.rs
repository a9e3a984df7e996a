//! Chaos Toolkit experiment semantics and Locust's statistics, checked against the
//! upstream sources:
//! - chaostoolkit/chaostoolkit-lib `chaoslib/run.py` (`run_gate_hypothesis`,
//!   `run_deviation_validation_hypothesis`, `run_rollback`, the end-of-run status),
//!   `chaoslib/hypothesis.py` (`within_tolerance`, `run_steady_state_hypothesis`,
//!   `ensure_hypothesis_is_valid`), `tests/test_tolerance.py`, `tests/test_run.py`,
//!   `tests/test_experiment.py`; chaostoolkit/chaostoolkit `chaostoolkit/cli.py`
//!   (`run`: exit code).
//! - locustio/locust `locust/stats.py` (`StatsEntry._log_response_time`,
//!   `calculate_response_time_percentile`, `median_from_dict`, `median_response_time`,
//!   `total_rps`, `total_fail_per_sec`, `StatsCSV`) and `locust/test/test_stats.py`.
//!
//! Known differences, kept and documented in the README: cascade's exit codes tell
//! failed (4) from deviated (3), where `chaos run` exits 1 for both; its percentiles
//! are HDR histogram ones at 3 significant digits, not Locust's rounded buckets.

mod common;

use std::collections::BTreeMap;

use models::{Observer, RequestRecord, RunReport};

fn load(source: &str) -> models::Scenario {
    let experiment = cascade::scenario::experiment_from_str("review.toml", source, &[])
        .unwrap_or_else(|e| panic!("{}", e.rendered));
    experiment.variants[0].scenario.clone()
}

fn run(source: &str) -> RunReport {
    models::simulate(&load(source))
}

// --------------------------------------------------------------------------------
// Chaos Toolkit
// --------------------------------------------------------------------------------

/// A consumer answering in 2 ms, light load, a steady-state hypothesis with one
/// probe; `faults` is the method, `probe` the probe's extra keys.
fn ctk(faults: &str, hypothesis: &str, probe: &str) -> String {
    format!(
        r#"
[scenario]
name = "ctk"
seed = 7
duration = "40s"

[load]
kind = "closed"
users = 2
spawn_rate = 2
wait = {{ constant = "1s" }}
target = "consumer/invoke"

[services.consumer]
workers = "unbounded"
endpoints.invoke.steps = [{{ work = {{ constant = "2ms" }} }}]

[services.slow]
workers = "unbounded"
endpoints.get.steps = [{{ work = {{ constant = "8s" }} }}]
{faults}

[hypothesis]
title = "consumer answers"
{hypothesis}

[[hypothesis.probes]]
name = "consumer-must-respond"
{probe}
"#
    )
}

const OUTAGE_AT_10S: &str = r#"
[[faults]]
target = "consumer"
kind = "error"
rate = 1.0
status = 503
from = "10s"
"#;

/// An HTTP probe of `target` whose tolerance is `tolerance` (a TOML value).
fn http_probe(target: &str, tolerance: &str) -> String {
    format!("kind = \"http\"\ntarget = \"{target}\"\ntolerance = {tolerance}")
}

fn hypothesis(report: &RunReport) -> &models::report::HypothesisReport {
    report.hypothesis.as_ref().expect("a hypothesis report")
}

fn journal_text(report: &RunReport) -> Vec<String> {
    hypothesis(report)
        .journal
        .iter()
        .map(|e| format!("{} {} {}", e.at_ms, e.level, e.message))
        .collect()
}

/// tests/test_run.py `test_do_not_ruin_method_on_failing_before_ssh` and
/// tests/test_experiment.py `test_experiment_with_failing_steady_state`: a hypothesis
/// not met before the method makes the run `failed`, not deviated, and the
/// after-check is not run (run.py `run_gate_hypothesis` returns None).
#[test]
fn failing_before_check_is_failed_not_deviated_and_skips_the_after_check() {
    let report = run(&ctk(
        OUTAGE_AT_10S,
        r#"before_at = "5s"
pause_after = "5s""#,
        &http_probe("consumer/invoke", "418"),
    ));
    let h = hypothesis(&report);
    assert_eq!(h.verdict, "failed");
    assert!(!h.met_before);
    assert_eq!(h.met_after, None, "after-check skipped");
    let journal = journal_text(&report);
    assert_eq!(
        journal
            .iter()
            .filter(|l| l.contains("Steady state hypothesis:"))
            .count(),
        1,
        "{journal:#?}"
    );
    assert!(
        !journal.iter().any(|l| l.contains("Action:")),
        "the method is not part of the journal: {journal:#?}"
    );
    assert!(journal
        .last()
        .unwrap()
        .ends_with("Experiment ended with status: failed"));
}

/// tests/test_run.py `test_do_not_ruin_method_on_failing_before_ssh`:
/// `len(journal["run"]) == 0`: when the before-check fails, the method's activities
/// never run, so the system is never perturbed: the load report (Locust's side)
/// shows no outage.
#[test]
fn the_method_is_not_run_when_the_before_check_fails() {
    let report = run(&ctk(
        OUTAGE_AT_10S,
        r#"before_at = "5s"
pause_after = "5s""#,
        &http_probe("consumer/invoke", "418"),
    ));
    assert_eq!(hypothesis(&report).verdict, "failed");
    assert_eq!(
        report.errors_by_status.get("503"),
        None,
        "the method (a 503 outage from 10 s) ran although the before-check failed at 5 s: {:?}",
        report.errors_by_status
    );
}

/// run.py `run_deviation_validation_hypothesis`: after-check not met →
/// `journal["deviated"] = True` and `journal["status"] = "failed"`; the log line
/// says `deviated` (`status = "deviated" if has_deviated else journal["status"]`).
/// tests/test_run.py `test_do_not_exit_when_continuous_ssh_fails_and_no_failfast`:
/// `status == "failed"`, `deviated == True`.
#[test]
fn deviated_run_logs_status_deviated() {
    let report = run(&ctk(
        OUTAGE_AT_10S,
        r#"before_at = "5s"
pause_after = "5s""#,
        &http_probe("consumer/invoke", "200"),
    ));
    let h = hypothesis(&report);
    assert!(h.met_before);
    assert_eq!(h.met_after, Some(false));
    let journal = journal_text(&report);
    assert!(
        journal
            .last()
            .unwrap()
            .ends_with("Experiment ended with status: deviated"),
        "{journal:#?}"
    );
}

/// Same source: the journal's `status` of a deviated run is `failed` (one of
/// completed/failed/aborted/interrupted) and `deviated` is a separate flag, next to
/// cascade's own `verdict`.
#[test]
fn a_deviated_run_has_status_failed_and_a_deviated_flag() {
    let report = run(&ctk(
        OUTAGE_AT_10S,
        r#"before_at = "5s"
pause_after = "5s""#,
        &http_probe("consumer/invoke", "200"),
    ));
    let json = serde_json::to_value(hypothesis(&report)).unwrap();
    assert_eq!(json["status"], "failed", "{json}");
    assert_eq!(json["deviated"], true, "{json}");
}

/// tests/test_tolerance.py `test_tolerance_int_from_http_status` /
/// `..._returns_false_when_different`, and `test_tolerance_list_int_from_http_status`
/// / `test_tolerance_list_int_from_http_status_returns_false_when_different`
/// (`within_tolerance([5, 7], {"status": 6}) is False`): for an HTTP result a list
/// of two statuses is membership, not a range.
#[test]
fn http_status_tolerance_is_equality_or_membership_never_a_range() {
    let probe = |tolerance: &str| http_probe("consumer/invoke", tolerance);
    let outage_from_0 = r#"
[[faults]]
target = "consumer"
kind = "error"
rate = 1.0
status = 503
"#;
    let hyp = r#"before_at = "5s"
after_at = "20s""#;
    // 503 lies between 500 and 504 but is not one of them.
    let report = run(&ctk(outage_from_0, hyp, &probe("[500, 504]")));
    assert_eq!(hypothesis(&report).verdict, "failed");
    let report = run(&ctk(outage_from_0, hyp, &probe("[500, 503]")));
    assert_eq!(hypothesis(&report).verdict, "completed");
    let report = run(&ctk(outage_from_0, hyp, &probe("503")));
    assert_eq!(hypothesis(&report).verdict, "completed");
    let report = run(&ctk(outage_from_0, hyp, &probe("502")));
    assert_eq!(hypothesis(&report).verdict, "failed");
}

/// hypothesis.py `within_tolerance(list)`: for a plain value a list of two is the
/// inclusive range `tol[0] <= value <= tol[1]` (both bounds included).
#[test]
fn success_rate_range_includes_both_bounds() {
    let all_fail = r#"
[[faults]]
target = "consumer"
kind = "error"
rate = 1.0
status = 503
"#;
    let probe = |tol: &str| {
        format!(
            r#"kind = "success_rate"
window = "4s"
tolerance = {tol}"#
        )
    };
    let hyp = r#"before_at = "5s"
after_at = "20s""#;
    let report = run(&ctk(all_fail, hyp, &probe("[0.0, 0.0]")));
    assert_eq!(hypothesis(&report).verdict, "completed", "rate 0 in [0, 0]");
    let report = run(&ctk("", hyp, &probe("[0.99, 1.0]")));
    assert_eq!(
        hypothesis(&report).verdict,
        "completed",
        "rate 1 in [0.99, 1]"
    );
}

/// hypothesis.py `run_steady_state_hypothesis`: an activity that failed (for the HTTP
/// provider: a timeout) is "terminated unexpectedly", `tolerance_met = False`, and the
/// before-check fails the run.
#[test]
fn probe_timeout_fails_the_check() {
    let report = run(&ctk(
        "",
        r#"before_at = "5s"
after_at = "30s""#,
        r#"kind = "http"
target = "slow/get"
timeout = "1s"
tolerance = 200"#,
    ));
    assert_eq!(hypothesis(&report).verdict, "failed");
}

/// run.py `Runner._run`: the method starts only once `run_gate_hypothesis` has
/// returned, so no activity of the method can act before or during the
/// before-check: a fault due at 10 s while the before-check's probe is still waiting
/// (8 s answer from 5 s) acts, and is logged, when the check ends.
#[test]
fn the_method_waits_for_the_before_check_to_finish() {
    let report = run(&ctk(
        OUTAGE_AT_10S,
        r#"before_at = "5s"
after_at = "30s""#,
        &http_probe("slow/get", "200"),
    ));
    let journal = journal_text(&report);
    let met = journal
        .iter()
        .position(|l| l.contains("Steady state hypothesis is met"))
        .unwrap_or_else(|| panic!("{journal:#?}"));
    let action = journal
        .iter()
        .position(|l| l.contains("Action:"))
        .unwrap_or_else(|| panic!("{journal:#?}"));
    assert!(
        met < action,
        "the method acted before the before-check ended:\n{journal:#?}"
    );
}

fn write_scenario(name: &str, source: &str) -> (std::path::PathBuf, String) {
    let dir = common::scratch(name);
    let path = dir.join("scenario.toml");
    std::fs::write(&path, source).unwrap();
    let path_str = path.to_str().unwrap().to_string();
    (dir, path_str)
}

/// chaostoolkit `cli.py` `run`: `has_failed = journal["status"] != "completed"`;
/// `if (has_failed or has_deviated) and not no_exit: ctx.exit(1)`; 0 otherwise. What
/// CI relies on, non-zero for both failed and deviated, holds in cascade.
#[test]
fn exit_code_is_zero_only_for_completed() {
    let (answers, never) = (
        http_probe("consumer/invoke", "200"),
        http_probe("consumer/invoke", "418"),
    );
    let cases = [
        ("completed", "", &answers, 0),
        ("deviated", OUTAGE_AT_10S, &answers, 3),
        ("failed", OUTAGE_AT_10S, &never, 4),
    ];
    for (name, faults, probe, code) in cases {
        let (_dir, path) = write_scenario(
            &format!("exit-{name}"),
            &ctk(faults, "before_at = \"5s\"\nafter_at = \"20s\"", probe),
        );
        let (got, _, stderr) = common::cascade(&["run", &path]);
        assert_eq!(got, code, "{name}: {stderr}");
        assert_eq!(got == 0, name == "completed");
    }
}

// --------------------------------------------------------------------------------
// Locust
// --------------------------------------------------------------------------------

/// An independent model of Locust's `StatsEntry` (our own code), fed with response
/// times in milliseconds as Locust's `HttpSession` measures them (floats).
#[derive(Default)]
struct LocustEntry {
    num_requests: u64,
    num_failures: u64,
    total: f64,
    min: Option<f64>,
    max: f64,
    /// Rounded response time (ms, integer-valued) → count.
    buckets: BTreeMap<i64, u64>,
}

/// Python's `round(x, ndigits)` for ndigits 0, -1, -2, -3: round half to even.
fn py_round(x: f64, ndigits: i32) -> i64 {
    let scale = 10f64.powi(-ndigits);
    let scaled = x / scale;
    let floor = scaled.floor();
    let diff = scaled - floor;
    // Up above one half, and at exactly one half only from an odd floor.
    let up = diff > 0.5 || (diff == 0.5 && floor % 2.0 != 0.0);
    let rounded = if up { floor + 1.0 } else { floor };
    (rounded * scale) as i64
}

impl LocustEntry {
    /// `log` + `_log_response_time` (+ `log_error` when `failed`).
    fn log(&mut self, ms: f64, failed: bool) {
        self.num_requests += 1;
        self.total += ms;
        self.min = Some(self.min.map_or(ms, |m| m.min(ms)));
        self.max = self.max.max(ms);
        let key = if ms < 100.0 {
            py_round(ms, 0)
        } else if ms < 1000.0 {
            py_round(ms, -1)
        } else if ms < 10000.0 {
            py_round(ms, -2)
        } else {
            py_round(ms, -3)
        };
        *self.buckets.entry(key).or_default() += 1;
        self.num_failures += u64::from(failed);
    }

    /// `calculate_response_time_percentile`: walk the keys from the largest down.
    fn percentile(&self, percent: f64) -> i64 {
        let wanted = (self.num_requests as f64 * percent) as u64;
        let mut processed = 0;
        for (&key, &count) in self.buckets.iter().rev() {
            processed += count;
            if self.num_requests - processed <= wanted {
                return key;
            }
        }
        0
    }

    /// `median_response_time`: `median_from_dict`, then clamped to [min, max].
    fn median(&self) -> f64 {
        let mut pos = (self.num_requests as f64 - 1.0) / 2.0;
        let mut median = 0;
        for (&key, &count) in &self.buckets {
            median = key;
            if pos < count as f64 {
                break;
            }
            pos -= count as f64;
        }
        let median = median as f64;
        median.clamp(self.min.unwrap_or(0.0), self.max)
    }

    fn avg(&self) -> f64 {
        self.total / self.num_requests as f64
    }
}

/// locust/test/test_stats.py `TestRequestStats`: the oracle above reproduces the
/// upstream expectations (`setUp` sequence; `test_percentile`; `test_median`;
/// `test_avg`; `test_num_reqs_fails`; `test_aggregation`'s median), so the
/// comparisons below test cascade, not the oracle.
#[test]
fn locust_oracle_reproduces_upstream_test_stats() {
    let mut s = LocustEntry::default();
    for (ms, failed) in [
        (45.0, false),
        (135.0, false),
        (44.0, true),
        (375.0, true),
        (601.0, false),
        (35.0, false),
        (79.0, true),
    ] {
        s.log(ms, failed);
    }
    assert_eq!(s.num_requests, 7);
    assert_eq!(s.num_failures, 3);
    assert_eq!(s.median(), 79.0);
    assert!((s.avg() - 187.714_285_714_285_7).abs() < 1e-9);

    let mut p = LocustEntry::default();
    for x in 0..100 {
        p.log(f64::from(x), false);
    }
    assert_eq!(p.percentile(0.5), 50);
    assert_eq!(p.percentile(0.6), 60);
    assert_eq!(p.percentile(0.95), 95);

    let mut a = LocustEntry::default();
    for ms in [12.0, 12.0, 38.0, 12.0, 99.0, 14.0, 55.0, 38.0, 55.0, 97.0] {
        a.log(ms, false);
    }
    assert_eq!(a.median(), 38.0);
    assert!((a.avg() - 43.2).abs() < 1e-9);

    // The comment in `_log_response_time`: 147 → 150, 3432 → 3400, 58760 → 59000.
    assert_eq!(py_round(147.0, -1), 150);
    assert_eq!(py_round(3432.0, -2), 3400);
    assert_eq!(py_round(58760.0, -3), 59000);
}

#[derive(Default)]
struct Records(Vec<RequestRecord>);

impl Observer for Records {
    fn request_ended(&mut self, record: &RequestRecord) {
        self.0.push(*record);
    }
}

fn locust_from(records: &[RequestRecord]) -> LocustEntry {
    let mut entry = LocustEntry::default();
    for r in records {
        let ms = r.ended.since(r.issued).as_millis_f64();
        let failed = matches!(r.outcome, "error" | "rejected" | "timed_out");
        entry.log(ms, failed);
    }
    entry
}

/// Latencies spread over Locust's three rounding regimes (<100 ms, <1 s, <10 s),
/// with 30 % of requests failing fast with 503.
const SPREAD: &str = r#"
[scenario]
name = "locust-stats"
seed = 11
duration = "120s"

[load]
kind = "closed"
users = 20
spawn_rate = 20
wait = { constant = "100ms" }
target = "s/get"

[services.s]
workers = "unbounded"
endpoints.get.steps = [{ work = { uniform = ["1ms", "3s"] } }]

[[faults]]
target = "s"
kind = "error"
rate = 0.3
status = 503
"#;

fn observed(source: &str) -> (RunReport, Vec<RequestRecord>) {
    let scenario = load(source);
    let mut records = Records::default();
    let report = models::simulate_observed(&scenario, &mut records);
    (report, records.0)
}

/// stats.py `RequestStats.log_request` is called for every request, failed or not,
/// `log_error` in addition for failures: `num_requests` includes failures, and
/// requests still in flight are not counted. `avg_response_time` is exact
/// (`total_response_time / num_requests`), min/max exact.
#[test]
fn locust_counts_mean_min_max() {
    let (report, records) = observed(SPREAD);
    let locust = locust_from(&records);
    assert_eq!(report.completed, locust.num_requests);
    assert_eq!(report.failures, locust.num_failures);
    assert!(report.failures > 0 && report.in_flight > 0);
    let l = &report.latency_ms;
    assert!(
        (l.mean - locust.avg()).abs() < 0.001,
        "{} vs {}",
        l.mean,
        locust.avg()
    );
    assert!((l.min - locust.min.unwrap()).abs() < 0.001);
    assert!((l.max - locust.max).abs() < 0.001);
}

/// stats.py `total_rps = num_requests / (last_request_timestamp - start_time)`, and
/// `total_fail_per_sec = num_failures / (same span)`; start_time is the start of the
/// test (stats reset), last_request_timestamp the time of the last logged request.
#[test]
fn locust_total_rps_and_failures_per_second() {
    let (report, records) = observed(SPREAD);
    let last = records.iter().map(|r| r.ended).max().unwrap();
    let span = last.since(sim_core::SimTime::ZERO).as_secs_f64();
    let rps = records.len() as f64 / span;
    assert!(
        (report.throughput_rps - rps).abs() < 0.001,
        "{} vs {rps}",
        report.throughput_rps
    );

    let (dir, path) = write_scenario("locust-fps", SPREAD);
    let csv_dir = dir.join("csv");
    let (code, _, stderr) = common::cascade(&["run", &path, "--csv", csv_dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    let row = stats_row(&csv_dir);
    let fails: f64 = row["Failures/s"].parse().unwrap();
    let locust = locust_from(&records);
    let want = locust.num_failures as f64 / span;
    assert!((fails - want).abs() < 0.002, "{fails} vs {want}");
    assert_eq!(row["Request Count"], locust.num_requests.to_string());
    assert_eq!(row["Failure Count"], locust.num_failures.to_string());
}

fn stats_row(csv_dir: &std::path::Path) -> BTreeMap<String, String> {
    let mut reader = csv::Reader::from_path(csv_dir.join("stats.csv")).unwrap();
    let headers = reader.headers().unwrap().clone();
    let record = reader.records().next().unwrap().unwrap();
    headers
        .iter()
        .map(String::from)
        .zip(record.iter().map(String::from))
        .collect()
}
