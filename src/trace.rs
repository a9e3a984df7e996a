//! `cascade trace`: the life of one user request, hop by hop, on the virtual clock.
//!
//! Requests are numbered from 1 in the order they are issued, as in `requests.csv`.
//! The run is the ordinary one (same seed, same events); an observer asks the
//! engine for the hops of that one request and keeps them. Hops continue after the
//! user has its answer: a callee that was timed out goes on working, and its
//! late answer, thrown away, is part of the story.

use std::fmt::Write as _;

use models::spec::Fallback;
use models::{Hop, HopKind, Observer, RequestRecord, Scenario};
use sim_core::{SimDuration, SimTime};

/// Hops kept for one request; past it the trace says it was cut. Retries and deep
/// fan-out stay far below; the bound only keeps a pathological file from filling
/// memory.
pub const HOPS_MAX: usize = 100_000;

/// Collects what the engine reports about one request.
pub struct RequestTrace {
    request: u64,
    pub hops: Vec<Hop>,
    pub record: Option<RequestRecord>,
    pub cut: bool,
}

impl RequestTrace {
    pub fn new(request: u64) -> RequestTrace {
        RequestTrace {
            request,
            hops: Vec::new(),
            record: None,
            cut: false,
        }
    }
}

impl Observer for RequestTrace {
    fn request_ended(&mut self, record: &RequestRecord) {
        if record.id == self.request {
            self.record = Some(*record);
        }
    }

    fn traced_request(&self) -> Option<u64> {
        Some(self.request)
    }

    fn hop(&mut self, hop: &Hop) {
        if self.hops.len() < HOPS_MAX {
            self.hops.push(*hop);
        } else {
            self.cut = true;
        }
    }
}

/// Runs `scenario` and follows request `request` (1-based); an error names the
/// range when the run issued fewer.
pub fn trace(scenario: &Scenario, request: u64) -> Result<(RequestTrace, u64), String> {
    if request == 0 {
        return Err(
            "--request 0: requests are numbered from 1, in the order they are issued".into(),
        );
    }
    let mut trace = RequestTrace::new(request);
    let report = models::simulate_observed(scenario, &mut trace);
    if request > report.requests {
        return Err(format!(
            "--request {request}: the run issued {} requests (numbered from 1)",
            report.requests
        ));
    }
    Ok((trace, report.requests))
}

/// Seconds with microseconds, from integer nanoseconds (no float rounding).
fn seconds(at: SimTime) -> String {
    let ns = at.as_nanos();
    format!("{}.{:06}", ns / 1_000_000_000, ns % 1_000_000_000 / 1_000)
}

fn timeout_text(timeout: Option<SimDuration>) -> String {
    timeout.map_or("no timeout".into(), |t| format!("timeout {t}"))
}

/// One line per hop: time, the endpoint indented by call depth, what happened.
pub fn render(scenario: &Scenario, variant: &str, trace: &RequestTrace, issued: u64) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "request {} of {issued} · variant {variant} · seed {} · times are virtual seconds",
        trace.request, scenario.seed
    );
    match &trace.record {
        Some(record) => {
            let who = record
                .user
                .map_or("an open-loop arrival".to_string(), |u| format!("user {u}"));
            let _ = writeln!(
                out,
                "sent by {who} at {} s; {} (status {}) after {}",
                seconds(record.issued),
                record.outcome,
                record.status,
                record.ended.since(record.issued)
            );
        }
        None => {
            let _ = writeln!(out, "still in flight when the run ended");
        }
    }
    let path = |target| scenario.endpoint_path(target);
    for hop in &trace.hops {
        let indent = "  ".repeat(hop.depth as usize);
        let what = match hop.kind {
            HopKind::Queued { ahead } => {
                format!("queued: every worker busy, {ahead} waiting ahead")
            }
            HopKind::QueueFull => "rejected: every worker busy and the queue full (503)".into(),
            HopKind::Started => "started: a worker takes it".into(),
            HopKind::Hung { until, status } => format!(
                "hang fault: holds the worker until {} s, then answers {status}",
                seconds(until)
            ),
            HopKind::HungForever => {
                "hang fault without an end: holds the worker until the caller gives up".into()
            }
            HopKind::FaultError { status } => format!("error fault: fails at once with {status}"),
            HopKind::Delayed { by } => format!("latency fault: waits {by} before its steps"),
            HopKind::Work { until } => format!("works until {} s", seconds(until)),
            HopKind::Called {
                target,
                attempt,
                timeout,
                blackholed,
            } => {
                let attempt = if attempt > 1 {
                    format!(", attempt {attempt}")
                } else {
                    String::new()
                };
                let nothing = if blackholed {
                    "; nothing answers at its address (blackholed)"
                } else {
                    ""
                };
                format!(
                    "calls {} ({}{attempt}){nothing}",
                    path(target),
                    timeout_text(timeout)
                )
            }
            HopKind::Refused { target } => {
                format!("connection to {} refused (service down)", path(target))
            }
            HopKind::BreakerRejected { breaker } => format!(
                "breaker {} rejects the call (open, or no half-open trial free)",
                scenario.breakers[breaker.0 as usize].name
            ),
            HopKind::BulkheadWait { bulkhead } => format!(
                "waits for a permit of bulkhead {}",
                scenario.bulkheads[bulkhead.0 as usize].name
            ),
            HopKind::BulkheadRejected { bulkhead } => format!(
                "bulkhead {} is full: call rejected",
                scenario.bulkheads[bulkhead.0 as usize].name
            ),
            HopKind::TimedOut { target, connecting } => format!(
                "timed out waiting for {}{}",
                path(target),
                if connecting { " to connect" } else { "" }
            ),
            HopKind::CallFailed { target, status } => {
                format!("{} answered {status}: the call failed", path(target))
            }
            HopKind::DeadlineDropped => {
                "dropped: its caller's deadline has passed (deadline propagation)".into()
            }
            HopKind::FanOut { calls, wait_for } => {
                format!("fans out {calls} calls at once, goes on when {wait_for} succeed")
            }
            HopKind::RetryScheduled { at } => format!("retries at {} s", seconds(at)),
            HopKind::Fallback { fallback } => match fallback {
                Fallback::Degraded => "fallback: carries on without it (degraded answer)".into(),
                Fallback::Fail { status } => format!("fallback: gives up, answers {status}"),
                Fallback::Propagate => "fallback: passes the failure on".into(),
            },
            HopKind::Answered {
                status,
                degraded,
                heard,
            } => {
                let degraded = if degraded { " (degraded)" } else { "" };
                let heard = if heard {
                    ""
                } else {
                    "; nobody waits for it any more: work in vain"
                };
                format!("answers {status}{degraded}{heard}")
            }
            HopKind::Ended { outcome, status } => {
                format!("the user sees: {outcome} (status {status})")
            }
        };
        let place = match hop.kind {
            HopKind::Ended { .. } => "user".to_string(),
            // Which pod, when there is more than one to choose from.
            _ if scenario.service(hop.endpoint.service).replicas > 1 => {
                format!("{indent}{} #{}", path(hop.endpoint), hop.replica)
            }
            _ => format!("{indent}{}", path(hop.endpoint)),
        };
        let _ = writeln!(out, "{:>12}  {place:<34} {what}", seconds(hop.at));
    }
    if trace.cut {
        let _ = writeln!(out, "(cut after {HOPS_MAX} hops)");
    }
    out
}
