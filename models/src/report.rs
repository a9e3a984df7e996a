//! What a run tells its user. Plain data with serde derives; the CLI renders it.
//!
//! Floats are rounded to fixed decimals where they are made, so that a report's JSON
//! is the same text on every platform.

use std::collections::BTreeMap;

use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunReport {
    pub name: String,
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
    pub breakers: Vec<BreakerReport>,
    pub services: Vec<ServiceReport>,
    pub timeline: Timeline,
    pub events: u64,
    /// Why the run ended before its duration, if it did.
    pub stopped_early: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LatencySummary {
    pub mean: f64,
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BreakerReport {
    pub name: String,
    /// Calls the breaker refused (open, or half-open with every trial slot taken).
    pub rejected: u64,
    pub transitions: Vec<TransitionReport>,
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
    pub busy_max: u64,
    /// Time-averaged number of busy workers.
    pub busy_mean: f64,
    pub queue_max: u64,
}

/// Completions per fixed window of virtual time, by end time.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Timeline {
    pub window_ms: f64,
    pub completed: Vec<u64>,
    pub ok: Vec<u64>,
    pub degraded: Vec<u64>,
    pub failed: Vec<u64>,
    pub mean_latency_ms: Vec<f64>,
}

/// Rounds to `decimals` places, so printed floats do not carry platform noise.
pub fn round_to(value: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (value * scale).round() / scale
}
