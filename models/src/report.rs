//! What a run tells its user. Plain data with serde derives; the CLI renders it.
//!
//! Floats are rounded to fixed decimals where they are made, so that a report's JSON
//! is the same text on every platform.

use std::collections::BTreeMap;

use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunReport {
    pub name: String,
    /// The endpoint the load calls, `service/endpoint`.
    pub target: String,
    /// User requests issued; every one ends in exactly one of the counts below.
    pub requests: u64,
    pub ok: u64,
    pub degraded: u64,
    /// `errors + rejected + timed_out`: what a user would call a failed request.
    pub failures: u64,
    pub errors: u64,
    pub rejected: u64,
    pub timed_out: u64,
    pub in_flight: u64,
    /// Error answers by HTTP status.
    pub errors_by_status: BTreeMap<String, u64>,
    /// Requests that completed (all but `in_flight`).
    pub completed: u64,
    /// As Locust computes it: completed requests over the time from the start of the
    /// load to the last completion.
    pub throughput_rps: f64,
    /// Over all completed requests, failures included (as Locust does).
    pub latency_ms: LatencySummary,
    /// Per task, when the load has more than one (Locust's per-name rows).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tasks: Vec<TaskReport>,
    pub breakers: Vec<BreakerReport>,
    pub bulkheads: Vec<BulkheadReport>,
    pub services: Vec<ServiceReport>,
    pub timeline: Timeline,
    /// The steady-state hypothesis, when the scenario has one.
    pub hypothesis: Option<HypothesisReport>,
    pub events: u64,
    /// Why the run ended before its duration, if it did.
    pub stopped_early: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LatencySummary {
    pub mean: f64,
    pub min: f64,
    pub p50: f64,
    pub p66: f64,
    pub p75: f64,
    pub p80: f64,
    pub p90: f64,
    pub p95: f64,
    pub p98: f64,
    pub p99: f64,
    pub p99_9: f64,
    pub p99_99: f64,
    pub max: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TaskReport {
    pub target: String,
    pub weight: u32,
    pub completed: u64,
    pub failures: u64,
    pub latency_mean_ms: f64,
    pub latency_p50_ms: f64,
    pub latency_p95_ms: f64,
    pub latency_p99_ms: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BreakerReport {
    pub name: String,
    /// Calls the breaker refused (open, or half-open with every trial slot taken).
    pub rejected: u64,
    pub transitions: Vec<TransitionReport>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BulkheadReport {
    pub name: String,
    /// Calls turned away: every permit was taken and stayed taken for `max_wait`
    /// (semaphore), or the queue was full (thread pool).
    pub rejected: u64,
    /// Calls that had to wait for a permit.
    pub waited: u64,
    pub in_use_max: u64,
    /// The most calls waiting for a permit at once.
    pub queue_max: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TransitionReport {
    pub at_ms: f64,
    pub from: &'static str,
    pub to: &'static str,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ServiceReport {
    pub name: String,
    pub arrivals: u64,
    /// Turned away because every worker was busy and the queue was full.
    pub rejected: u64,
    pub completed: u64,
    /// Answers that nobody was waiting for any more (the caller had timed out):
    /// work done in vain.
    pub abandoned: u64,
    /// Jobs dropped unfinished, without an answer, because the caller's propagated
    /// deadline had passed (included in `completed`).
    pub dropped: u64,
    /// Retries this service's calls made (attempts beyond the first).
    pub retries: u64,
    /// Retries that a retry budget refused.
    pub retries_denied: u64,
    pub busy_max: u64,
    /// Time-averaged number of busy workers.
    pub busy_mean: f64,
    pub queue_max: u64,
    /// Steady-state estimates over jobs arriving after the warm-up.
    pub steady: SteadyState,
    /// One row per replica, when there is more than one.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub replicas: Vec<ReplicaReport>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReplicaReport {
    pub arrivals: u64,
    pub rejected: u64,
    pub completed: u64,
    pub busy_max: u64,
    pub queue_max: u64,
    /// Times outlier detection took it out of balancing.
    pub ejections: u64,
}

/// The quantities queueing theory predicts, measured over `measured_s` seconds
/// after the warm-up (jobs that arrived during the warm-up are left out).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SteadyState {
    pub measured_s: f64,
    pub arrivals: u64,
    pub throughput_rps: f64,
    /// Share of arrivals turned away by a full queue.
    pub blocking: f64,
    /// Share of admitted jobs that waited for a worker.
    pub waited_share: f64,
    pub wait_mean_ms: f64,
    pub response_mean_ms: f64,
    /// Busy workers over workers, time-averaged; `None` for unbounded pools.
    pub utilisation: Option<f64>,
    /// Time-averaged jobs in the service (working or queued): Little's L.
    pub in_system_mean: f64,
}

/// The run cut into fixed windows of virtual time. Completions are counted in the
/// window where they end; `in_flight` and breaker states are taken at the window's
/// end; busy workers and queue lengths are time averages over the window.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Timeline {
    pub window_ms: f64,
    pub windows: Vec<Window>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Window {
    pub start_ms: f64,
    pub completed: u64,
    pub ok: u64,
    pub degraded: u64,
    /// Errors, rejections and timeouts: what a user calls a failure.
    pub failed: u64,
    /// The part of `failed` turned away unserved (a full queue), drawn apart in the
    /// charts because it fails fast where the rest of `failed` may wait.
    pub rejected: u64,
    pub latency_mean_ms: f64,
    pub latency_p50_ms: f64,
    pub latency_p95_ms: f64,
    pub latency_p99_ms: f64,
    pub in_flight: u64,
    /// In the order of the report's `services`.
    pub busy_mean: Vec<f64>,
    pub queue_mean: Vec<f64>,
    /// In the order of the report's `breakers`.
    pub breaker_states: Vec<&'static str>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HypothesisReport {
    pub title: String,
    /// `completed`, `deviated` (met before the method, not after) or `failed` (not
    /// met before).
    pub verdict: &'static str,
    /// As Chaos Toolkit's journal has it: `status` is `completed` or `failed` (a
    /// deviated run is `failed` with `deviated` set).
    pub status: &'static str,
    pub deviated: bool,
    pub met_before: bool,
    /// `None` when the after-check did not run (the before-check failed).
    pub met_after: Option<bool>,
    pub journal: Vec<JournalEntry>,
}

/// One line of the experiment's log, in the manner of Chaos Toolkit's.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct JournalEntry {
    pub at_ms: f64,
    pub level: &'static str,
    pub message: String,
}

/// Rounds to `decimals` places, so printed floats do not carry platform noise.
pub fn round_to(value: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (value * scale).round() / scale
}
