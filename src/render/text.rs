//! The terminal report: a Locust-like table, outcomes, breakers, services.

use std::fmt::Write as _;

use models::report::BreakerReport;
use models::RunReport;

use super::Report;

/// Transitions listed per breaker before the rest are summarised.
const TRANSITIONS_SHOWN_MAX: usize = 12;

pub fn render(report: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "scenario {} · seed {} · {} s simulated",
        report.scenario, report.seed, report.duration_s
    );
    for variant in &report.variants {
        out.push('\n');
        variant_section(&mut out, variant);
    }
    out
}

fn variant_section(out: &mut String, run: &RunReport) {
    let _ = writeln!(
        out,
        "{:<24} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>8}",
        "variant",
        "requests",
        "failures",
        "degraded",
        "mean ms",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "max ms",
        "req/s"
    );
    let latency = &run.latency_ms;
    let _ = writeln!(
        out,
        "{:<24} {:>9} {:>9} {:>9} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>8.2}",
        run.name,
        run.completed,
        run.failures,
        run.degraded,
        latency.mean,
        latency.p50,
        latency.p95,
        latency.p99,
        latency.max,
        run.throughput_rps
    );
    let statuses: Vec<String> = run
        .errors_by_status
        .iter()
        .map(|(status, count)| format!("{status}: {count}"))
        .collect();
    let statuses = if statuses.is_empty() {
        String::new()
    } else {
        format!(" ({})", statuses.join(", "))
    };
    let _ = writeln!(
        out,
        "  outcomes: {} issued = {} ok + {} degraded + {} errors{} + {} rejected + {} timed out + {} in flight at the end",
        run.requests, run.ok, run.degraded, run.errors, statuses, run.rejected, run.timed_out, run.in_flight
    );
    for breaker in &run.breakers {
        breaker_section(out, breaker);
    }
    let _ = writeln!(
        out,
        "  {:<22} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "service", "arrivals", "rejected", "abandoned", "busy max", "busy avg", "queue max"
    );
    for service in &run.services {
        let _ = writeln!(
            out,
            "  {:<22} {:>9} {:>9} {:>9} {:>9} {:>9.1} {:>9}",
            service.name,
            service.arrivals,
            service.rejected,
            service.abandoned,
            service.busy_max,
            service.busy_mean,
            service.queue_max
        );
    }
    let _ = writeln!(out, "  {} events", run.events);
    if let Some(reason) = &run.stopped_early {
        let _ = writeln!(out, "  warning: {reason}");
    }
}

fn breaker_section(out: &mut String, breaker: &BreakerReport) {
    let _ = writeln!(
        out,
        "  breaker {}: {} transitions, {} calls rejected",
        breaker.name,
        breaker.transitions.len(),
        breaker.rejected
    );
    for transition in breaker.transitions.iter().take(TRANSITIONS_SHOWN_MAX) {
        let _ = writeln!(
            out,
            "    {:>10.3} s  {} -> {}",
            transition.at_ms / 1000.0,
            transition.from,
            transition.to
        );
    }
    let hidden = breaker
        .transitions
        .len()
        .saturating_sub(TRANSITIONS_SHOWN_MAX);
    if hidden > 0 {
        let _ = writeln!(out, "    ... {hidden} more (see --format json)");
    }
}
