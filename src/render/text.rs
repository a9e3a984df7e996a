//! The terminal report: a Locust-like table, outcomes, breakers, services.

use std::fmt::Write as _;

use models::report::{BreakerReport, HypothesisReport};
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
    if report.variants.len() > 1 {
        out.push('\n');
        comparison(&mut out, &report.variants);
    }
    if let Some(verdict) = report.verdict {
        let _ = writeln!(out, "\nverdict: {verdict}");
    }
    out
}

/// Reads one number off a run, for the comparison table.
type Metric = fn(&RunReport) -> f64;

/// One column per variant and, for each variant after the first, its ratio to the
/// first: the seed's v1-vs-v2 table.
fn comparison(out: &mut String, runs: &[RunReport]) {
    let first = &runs[0];
    let _ = write!(out, "{:<14}", "comparison");
    for run in runs {
        let _ = write!(out, " {:>14}", truncate(&run.name, 14));
    }
    for run in &runs[1..] {
        let _ = write!(
            out,
            " {:>14}",
            truncate(&format!("{}/{}", run.name, first.name), 14)
        );
    }
    out.push('\n');
    for (label, values) in comparison_rows(runs) {
        let _ = write!(out, "{label:<14}");
        for value in &values {
            let _ = write!(out, " {value:>14.2}");
        }
        for value in &values[1..] {
            let _ = write!(out, " {:>14}", ratio(values[0], *value));
        }
        out.push('\n');
    }
}

/// The rows of the side-by-side comparison: a label and one value per variant.
pub(super) fn comparison_rows(runs: &[RunReport]) -> Vec<(&'static str, Vec<f64>)> {
    let rows: [(&str, Metric); 7] = [
        ("mean ms", |r| r.latency_ms.mean),
        ("p50 ms", |r| r.latency_ms.p50),
        ("p95 ms", |r| r.latency_ms.p95),
        ("p99 ms", |r| r.latency_ms.p99),
        ("req/s", |r| r.throughput_rps),
        ("failure %", |r| percent(r.failures, r)),
        ("degraded %", |r| percent(r.degraded, r)),
    ];
    rows.iter()
        .map(|(label, metric)| (*label, runs.iter().map(metric).collect()))
        .collect()
}

/// `part` as a share of the run's completed requests, in percent.
fn percent(part: u64, run: &RunReport) -> f64 {
    if run.completed == 0 {
        0.0
    } else {
        100.0 * part as f64 / run.completed as f64
    }
}

/// A variant's value over the first variant's, as the comparison prints it.
pub(super) fn ratio(first: f64, value: f64) -> String {
    if first == 0.0 {
        if value == 0.0 {
            "1.000".to_string()
        } else {
            "n/a".to_string()
        }
    } else {
        format!("{:.3}", value / first)
    }
}

fn truncate(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        text.to_string()
    } else {
        let cut: String = text.chars().take(width - 1).collect();
        format!("{cut}…")
    }
}

/// The experiment's log, shaped like Chaos Toolkit's, on the virtual clock.
fn journal(out: &mut String, hypothesis: &HypothesisReport) {
    let _ = writeln!(
        out,
        "  steady-state hypothesis \"{}\": {}",
        hypothesis.title, hypothesis.verdict
    );
    for entry in &hypothesis.journal {
        let _ = writeln!(
            out,
            "  [{} {}] {}",
            clock(entry.at_ms),
            entry.level,
            entry.message
        );
    }
}

/// Virtual time as a clock, `hh:mm:ss.mmm`, as Chaos Toolkit's logs show it.
pub(super) fn clock(at_ms: f64) -> String {
    let total_ms = at_ms.round() as u64;
    let (hours, minutes) = (total_ms / 3_600_000, total_ms / 60_000 % 60);
    let (seconds, millis) = (total_ms / 1000 % 60, total_ms % 1000);
    format!("{hours:02}:{minutes:02}:{seconds:02}.{millis:03}")
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
    if !run.tasks.is_empty() {
        let _ = writeln!(
            out,
            "  {:<22} {:>6} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
            "task", "weight", "requests", "failures", "mean ms", "p50 ms", "p95 ms", "p99 ms"
        );
        for task in &run.tasks {
            let _ = writeln!(
                out,
                "  {:<22} {:>6} {:>9} {:>9} {:>9.1} {:>9.1} {:>9.1} {:>9.1}",
                task.target,
                task.weight,
                task.completed,
                task.failures,
                task.latency_mean_ms,
                task.latency_p50_ms,
                task.latency_p95_ms,
                task.latency_p99_ms
            );
        }
    }
    for breaker in &run.breakers {
        breaker_section(out, breaker);
    }
    let _ = writeln!(
        out,
        "  {:<22} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "service", "arrivals", "rejected", "abandoned", "busy max", "busy avg", "queue max"
    );
    for service in &run.services {
        // Only deadline propagation drops work; say so where it happened.
        let dropped = if service.dropped > 0 {
            format!("  dropped {} past their deadline", service.dropped)
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "  {:<22} {:>9} {:>9} {:>9} {:>9} {:>9.1} {:>9}{dropped}",
            service.name,
            service.arrivals,
            service.rejected,
            service.abandoned,
            service.busy_max,
            service.busy_mean,
            service.queue_max
        );
        for (index, replica) in service.replicas.iter().enumerate() {
            let ejected = if replica.ejections > 0 {
                format!("  ejected {}x", replica.ejections)
            } else {
                String::new()
            };
            let _ = writeln!(
                out,
                "    {:<20} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}{ejected}",
                format!("replica {index}"),
                replica.arrivals,
                replica.rejected,
                "",
                replica.busy_max,
                "",
                replica.queue_max
            );
        }
    }
    if let Some(hypothesis) = &run.hypothesis {
        journal(out, hypothesis);
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
