//! The charts of one run, on a shared virtual-time axis with the fault windows
//! shaded: throughput stacked by outcome, latency percentiles on a log scale, the
//! breakers' states as bands with their transitions, and each service's busy
//! workers and queue length.

use models::report::{BreakerReport, Window};
use models::spec::{Capacity, FaultKind};
use models::{RunReport, Scenario};

use crate::chart::plot::{
    Axis, AxisKind, Chart, LegendItem, Swatch, AXIS_COLOUR, BAND_LABEL_SPACE, SHADE,
};
use crate::chart::svg::{Fill, Stroke};

/// One chart, with the file name it gets under `--svg DIR`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamedChart {
    pub file_name: String,
    pub title: String,
    pub svg: String,
}

/// A fault's active span, in seconds of virtual time.
#[derive(Clone, Debug, PartialEq)]
pub struct FaultSpan {
    pub from_s: f64,
    pub until_s: f64,
    pub label: String,
}

/// What the charts need of a scenario beyond its report: the run's length, the
/// fault windows to shade and each service's worker limit.
#[derive(Clone, Debug, PartialEq)]
pub struct RunContext {
    pub duration_s: f64,
    pub faults: Vec<FaultSpan>,
    /// (service name, workers over all its replicas) for bounded pools.
    pub workers: Vec<(String, u32)>,
    /// When the steady-state hypothesis is checked, in seconds, and which check.
    pub checks: Vec<(f64, &'static str)>,
}

impl RunContext {
    pub fn of(scenario: &Scenario) -> RunContext {
        let duration_s = scenario.duration.as_secs_f64();
        let horizon = sim_core::SimTime::ZERO + scenario.duration;
        let seconds = |t: sim_core::SimTime| t.since(sim_core::SimTime::ZERO).as_secs_f64();
        let mut faults = Vec::new();
        for fault in &scenario.faults {
            let label = fault_label(scenario, fault);
            // A repeating fault is named once, at its first episode.
            for (index, (from, until)) in fault.episodes(horizon).into_iter().enumerate() {
                faults.push(FaultSpan {
                    from_s: seconds(from),
                    until_s: seconds(until),
                    label: if index == 0 {
                        label.clone()
                    } else {
                        String::new()
                    },
                });
            }
        }
        let workers = scenario
            .services
            .iter()
            .filter_map(|service| match service.workers {
                Capacity::Bounded(limit) => {
                    Some((service.name.clone(), limit.saturating_mul(service.replicas)))
                }
                Capacity::Unbounded => None,
            })
            .collect();
        let checks = scenario.hypothesis.as_ref().map_or(Vec::new(), |h| {
            vec![
                (seconds(h.before_at), "before-check"),
                (seconds(h.after_at), "after-check"),
            ]
        });
        RunContext {
            duration_s,
            faults,
            workers,
            checks,
        }
    }
}

/// What a fault does and where, in a few words.
fn fault_label(scenario: &Scenario, fault: &models::spec::Fault) -> String {
    let service = scenario.service(fault.service);
    let what = match fault.kind {
        FaultKind::Hang { hold, status } => format!("hang {hold} then {status}"),
        FaultKind::HangForever => "hang forever".to_string(),
        FaultKind::Error {
            probability,
            status,
        } => format!(
            "{}% errors {status}",
            models::report::round_to(probability * 100.0, 3)
        ),
        FaultKind::Latency { latency, jitter } => {
            let (low, high) = FaultKind::latency_range(latency, jitter);
            format!("latency {low}..{high}")
        }
        FaultKind::Kill => "killed".to_string(),
        FaultKind::Blackhole => "blackholed".to_string(),
        FaultKind::Restart { down_for, .. } => format!("restart, down {down_for}"),
        FaultKind::Slowdown { factor } => format!("work {factor}× slower"),
    };
    let share = if fault.replicas_hit < service.replicas {
        format!(" ({} of {} replicas)", fault.replicas_hit, service.replicas)
    } else {
        String::new()
    };
    format!("fault: {} {what}{share}", service.name)
}

const PLOT_HEIGHT: f64 = 200.0;
const POOL_PLOT_HEIGHT: f64 = 160.0;
const BAND_HEIGHT: f64 = 40.0;

const OK: Fill = Fill::Solid("#8fb8de");
const DEGRADED: Fill = Fill::Diagonal("#d08c00");
const FAILED: Fill = Fill::Cross("#b2182b");
const REJECTED: Fill = Fill::Dots("#5e3c99");

const CLOSED: Fill = Fill::Solid("#f2f7f2");
const OPEN: Fill = Fill::Solid("#7a0f1d");
const HALF_OPEN: Fill = Fill::Diagonal("#d08c00");

const P50: Stroke = Stroke {
    colour: "#1f4e79",
    width: 2.0,
    dash: None,
};
const P95: Stroke = Stroke {
    colour: "#d08c00",
    width: 2.0,
    dash: Some("7 4"),
};
const P99: Stroke = Stroke {
    colour: "#b2182b",
    width: 2.2,
    dash: Some("2 3"),
};
const BUSY: Stroke = Stroke {
    colour: "#1f4e79",
    width: 2.0,
    dash: None,
};
const QUEUE: Stroke = Stroke {
    colour: "#b2182b",
    width: 2.0,
    dash: Some("7 4"),
};
const LIMIT: Stroke = Stroke {
    colour: "#555555",
    width: 1.2,
    dash: Some("2 3"),
};
const CHECK: Stroke = Stroke {
    colour: "#000000",
    width: 1.2,
    dash: Some("4 2 1 2"),
};
const TRANSITION: Stroke = Stroke {
    colour: "#000000",
    width: 1.2,
    dash: None,
};

/// Every chart of one variant, in page order; `number` keeps file names unique and
/// sorted in that order.
pub fn run_charts(run: &RunReport, context: &RunContext, number: &mut usize) -> Vec<NamedChart> {
    let mut charts = vec![
        throughput(run, context, number),
        latency(run, context, number),
    ];
    if !run.breakers.is_empty() {
        charts.push(breakers(run, context, number));
    }
    for index in 0..run.services.len() {
        charts.push(pool(run, index, context, number));
    }
    charts
}

/// A name safe in a file name and an element id.
pub fn slug(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

fn named(number: &mut usize, variant: &str, what: &str, title: String, svg: String) -> NamedChart {
    *number += 1;
    NamedChart {
        file_name: format!("{:02}-{}-{what}.svg", *number, slug(variant)),
        title,
        svg,
    }
}

/// The element id of the chart that `named` is about to number `number + 1`.
fn chart_id(number: usize, variant: &str, what: &str) -> String {
    format!("c{}-{}-{what}", number + 1, slug(variant))
}

fn time_axis(context: &RunContext) -> Axis {
    Axis {
        kind: AxisKind::Linear {
            low: 0.0,
            high: context.duration_s,
        },
        label: "virtual time (s)".into(),
    }
}

/// Legend entries for what every time axis carries: fault windows and hypothesis
/// checks, when there are any.
fn timeline_legend(context: &RunContext) -> Vec<LegendItem> {
    let mut legend = Vec::new();
    if !context.faults.is_empty() {
        legend.push(LegendItem::new("fault window", Swatch::Fill(SHADE)));
    }
    if !context.checks.is_empty() {
        legend.push(LegendItem::new("hypothesis check", Swatch::Mark(CHECK)));
    }
    legend
}

/// Outlined in white, so that a label stays readable over bars and lines.
const HALO: &str = r##"stroke="#ffffff" stroke-width="3" paint-order="stroke""##;

/// Marks the hypothesis checks and names the fault windows over the data, then
/// finishes a time chart; `labelled` is false where the plot has no room for names
/// (the breaker bands carry their own).
fn finish_time_chart(mut chart: Chart, context: &RunContext, labelled: bool) -> String {
    if labelled {
        let named = context.faults.iter().filter(|f| !f.label.is_empty());
        for (index, fault) in named.enumerate() {
            let x = chart.x.pixel(fault.from_s) + 3.0;
            let y = chart.top + 12.0 + 11.0 * index as f64;
            let at = (x, y);
            chart.svg.text(
                at,
                crate::chart::svg::Anchor::Start,
                10.0,
                &fault.label,
                HALO,
            );
        }
    }
    for &(at_s, name) in &context.checks {
        let x = chart.x.pixel(at_s);
        chart.svg.line((x, chart.top), (x, chart.bottom), CHECK);
        if labelled {
            chart.svg.text(
                (x + 3.0, chart.bottom - 4.0),
                crate::chart::svg::Anchor::Start,
                10.0,
                name,
                HALO,
            );
        }
    }
    chart.finish()
}

/// Shades every fault window, under the data (`finish_time_chart` names them).
fn shade_faults(chart: &mut Chart, context: &RunContext) {
    for fault in &context.faults {
        chart.shade(fault.from_s, fault.until_s);
    }
}

/// Each window's span in seconds: from its start to the next one's (or the end).
fn window_spans(windows: &[Window], context: &RunContext) -> Vec<(f64, f64)> {
    windows
        .iter()
        .enumerate()
        .map(|(i, window)| {
            let start = window.start_ms / 1000.0;
            let end = windows
                .get(i + 1)
                .map_or(context.duration_s, |next| next.start_ms / 1000.0);
            (start, end.max(start))
        })
        .collect()
}

fn throughput(run: &RunReport, context: &RunContext, number: &mut usize) -> NamedChart {
    let windows = &run.timeline.windows;
    let spans = window_spans(windows, context);
    // Per window: ok, degraded, failed other than rejected, rejected (req/s).
    let layers: Vec<[f64; 4]> = windows
        .iter()
        .zip(&spans)
        .map(|(w, &(start, end))| {
            let seconds = (end - start).max(1e-9);
            let counts = [w.ok, w.degraded, w.failed - w.rejected, w.rejected];
            counts.map(|count| count as f64 / seconds)
        })
        .collect();
    let max = layers
        .iter()
        .map(|l| l.iter().sum::<f64>())
        .fold(0.0, f64::max);
    let title = format!("Throughput by outcome — {}", run.name);
    let fills = [OK, DEGRADED, FAILED, REJECTED];
    let names = ["ok", "degraded", "failed (error or timeout)", "rejected"];
    let mut legend: Vec<LegendItem> = names
        .iter()
        .zip(fills)
        .map(|(name, fill)| LegendItem::new(name, Swatch::Fill(fill)))
        .collect();
    legend.extend(timeline_legend(context));
    let mut chart = Chart::new(
        &chart_id(*number, &run.name, "throughput"),
        &title,
        PLOT_HEIGHT,
        time_axis(context),
        Axis {
            kind: AxisKind::ZeroTo(max),
            label: "completed requests / s".into(),
        },
        &legend,
    );
    shade_faults(&mut chart, context);
    let paints: Vec<String> = fills.iter().map(|&fill| chart.svg.paint(fill)).collect();
    chart.svg.group("throughput bars");
    for (layer, &(start, end)) in layers.iter().zip(&spans) {
        let (x0, x1) = (chart.x.pixel(start), chart.x.pixel(end));
        let mut base = 0.0;
        for (value, paint) in layer.iter().zip(&paints) {
            if *value <= 0.0 {
                continue;
            }
            let (y0, y1) = (chart.y.pixel(base), chart.y.pixel(base + value));
            chart.svg.rect(
                x0,
                y1,
                x1 - x0,
                y0 - y1,
                paint,
                &format!(r#"stroke="{AXIS_COLOUR}" stroke-width="0.3""#),
            );
            base += value;
        }
    }
    chart.svg.end_group();
    let svg = finish_time_chart(chart, context, true);
    named(number, &run.name, "throughput", title, svg)
}

/// A window's start and end (seconds) and its value.
type WindowPoint = (f64, f64, f64);

/// A line through the windows' middles, broken at windows without a value; a
/// window alone between two gaps is drawn flat across its width, so it shows.
fn draw_series(chart: &mut Chart, points: &[Option<WindowPoint>], stroke: Stroke) {
    for run in points.split(Option::is_none) {
        let run: Vec<WindowPoint> = run.iter().flatten().copied().collect();
        match run[..] {
            [] => {}
            [(start, end, value)] => {
                let y = chart.y.pixel(value);
                let (x0, x1) = (chart.x.pixel(start), chart.x.pixel(end));
                chart.svg.polyline(&[(x0, y), (x1, y)], stroke);
            }
            _ => {
                let line: Vec<(f64, f64)> = run
                    .iter()
                    .map(|&(start, end, value)| {
                        (chart.x.pixel((start + end) / 2.0), chart.y.pixel(value))
                    })
                    .collect();
                chart.svg.polyline(&line, stroke);
            }
        }
    }
}

/// Reads one number off a window.
type WindowValue = fn(&Window) -> f64;

fn latency(run: &RunReport, context: &RunContext, number: &mut usize) -> NamedChart {
    let windows = &run.timeline.windows;
    let spans = window_spans(windows, context);
    let served: Vec<&Window> = windows.iter().filter(|w| w.completed > 0).collect();
    let low = served
        .iter()
        .map(|w| w.latency_p50_ms)
        .filter(|&v| v > 0.0)
        .fold(f64::INFINITY, f64::min);
    let high = served.iter().map(|w| w.latency_p99_ms).fold(0.0, f64::max);
    let (low, high) = if low.is_finite() && high > 0.0 {
        (low, high)
    } else {
        (1.0, 10.0)
    };
    let title = format!("Latency percentiles per window — {}", run.name);
    let series: [(&str, Stroke, WindowValue); 3] = [
        ("p50", P50, |w| w.latency_p50_ms),
        ("p95", P95, |w| w.latency_p95_ms),
        ("p99", P99, |w| w.latency_p99_ms),
    ];
    let mut legend: Vec<LegendItem> = series
        .iter()
        .map(|(name, stroke, _)| LegendItem::new(name, Swatch::Line(*stroke)))
        .collect();
    legend.extend(timeline_legend(context));
    let mut chart = Chart::new(
        &chart_id(*number, &run.name, "latency"),
        &title,
        PLOT_HEIGHT,
        time_axis(context),
        Axis {
            kind: AxisKind::Log { low, high },
            label: "latency (ms, log scale)".into(),
        },
        &legend,
    );
    shade_faults(&mut chart, context);
    if served.is_empty() {
        let centre = (
            (chart.left + chart.right) / 2.0,
            (chart.top + chart.bottom) / 2.0,
        );
        chart.svg.text(
            centre,
            crate::chart::svg::Anchor::Middle,
            13.0,
            "no request completed",
            "",
        );
    }
    for (name, stroke, value) in series {
        // A window with no completion has no percentile: the line breaks there.
        let points: Vec<Option<WindowPoint>> = windows
            .iter()
            .zip(&spans)
            .map(|(window, &(start, end))| {
                (window.completed > 0).then(|| (start, end, value(window)))
            })
            .collect();
        chart.svg.group(name);
        draw_series(&mut chart, &points, stroke);
        chart.svg.end_group();
    }
    let svg = finish_time_chart(chart, context, true);
    named(number, &run.name, "latency", title, svg)
}

/// The breaker's state from `from` to `to` seconds, from its transitions.
fn state_segments(
    breaker: &BreakerReport,
    first_state: &str,
    end_s: f64,
) -> Vec<(f64, f64, String)> {
    let mut segments = Vec::new();
    let mut state = breaker
        .transitions
        .first()
        .map_or(first_state.to_string(), |t| t.from.to_string());
    let mut since = 0.0;
    for transition in &breaker.transitions {
        let at = transition.at_ms / 1000.0;
        segments.push((since, at, state.clone()));
        state = transition.to.to_string();
        since = at;
    }
    segments.push((since, end_s, state));
    segments
}

fn state_fill(state: &str) -> Fill {
    match state {
        "open" => OPEN,
        "half_open" => HALF_OPEN,
        _ => CLOSED,
    }
}

fn breakers(run: &RunReport, context: &RunContext, number: &mut usize) -> NamedChart {
    let names: Vec<String> = run.breakers.iter().map(|b| b.name.clone()).collect();
    let title = format!("Breaker state — {}", run.name);
    let mut legend = vec![
        LegendItem::new("closed", Swatch::Fill(CLOSED)),
        LegendItem::new("open", Swatch::Fill(OPEN)),
        LegendItem::new("half-open", Swatch::Fill(HALF_OPEN)),
        LegendItem::new("transition", Swatch::Mark(TRANSITION)),
    ];
    legend.extend(timeline_legend(context));
    let mut chart = Chart::new(
        &chart_id(*number, &run.name, "breakers"),
        &title,
        BAND_HEIGHT * names.len() as f64,
        time_axis(context),
        Axis {
            kind: AxisKind::Bands(names),
            label: "breaker".into(),
        },
        &legend,
    );
    shade_faults(&mut chart, context);
    let band = chart.y_band();
    for (index, breaker) in run.breakers.iter().enumerate() {
        chart.svg.group(&format!("breaker {}", breaker.name));
        let first = run
            .timeline
            .windows
            .first()
            .and_then(|w| w.breaker_states.get(index))
            .copied()
            .unwrap_or("closed");
        let top = chart.top + band * index as f64 + BAND_LABEL_SPACE;
        let height = band - BAND_LABEL_SPACE - 6.0;
        for (from, to, state) in state_segments(breaker, first, context.duration_s) {
            let (x0, x1) = (chart.x.pixel(from), chart.x.pixel(to));
            let paint = chart.svg.paint(state_fill(&state));
            chart.svg.rect(x0, top, x1 - x0, height, &paint, "");
        }
        chart.svg.rect(
            chart.left,
            top,
            chart.right - chart.left,
            height,
            "none",
            &format!(r#"stroke="{AXIS_COLOUR}" stroke-width="0.8""#),
        );
        for transition in &breaker.transitions {
            let x = chart.x.pixel(transition.at_ms / 1000.0);
            chart
                .svg
                .line((x, top - 3.0), (x, top + height + 3.0), TRANSITION);
        }
        chart.svg.end_group();
    }
    let svg = finish_time_chart(chart, context, false);
    named(number, &run.name, "breakers", title, svg)
}

fn pool(run: &RunReport, index: usize, context: &RunContext, number: &mut usize) -> NamedChart {
    let service = &run.services[index];
    let windows = &run.timeline.windows;
    let spans = window_spans(windows, context);
    let limit = context
        .workers
        .iter()
        .find(|(name, _)| *name == service.name)
        .map(|&(_, limit)| f64::from(limit));
    let busy: Vec<f64> = windows.iter().map(|w| w.busy_mean[index]).collect();
    let queue: Vec<f64> = windows.iter().map(|w| w.queue_mean[index]).collect();
    let max = busy
        .iter()
        .chain(&queue)
        .copied()
        .chain(limit)
        .fold(0.0, f64::max);
    let title = format!("Workers and queue — {} — {}", service.name, run.name);
    let mut legend = vec![
        LegendItem::new("busy workers (mean)", Swatch::Line(BUSY)),
        LegendItem::new("queue length (mean)", Swatch::Line(QUEUE)),
    ];
    if let Some(limit) = limit {
        legend.push(LegendItem::new(
            &format!("worker limit ({limit})"),
            Swatch::Line(LIMIT),
        ));
    }
    legend.extend(timeline_legend(context));
    let what = format!("pool-{}", slug(&service.name));
    let mut chart = Chart::new(
        &chart_id(*number, &run.name, &what),
        &title,
        POOL_PLOT_HEIGHT,
        time_axis(context),
        Axis {
            kind: AxisKind::ZeroTo(max),
            label: "requests (window mean)".into(),
        },
        &legend,
    );
    shade_faults(&mut chart, context);
    if let Some(limit) = limit {
        let y = chart.y.pixel(limit);
        chart.svg.line((chart.left, y), (chart.right, y), LIMIT);
    }
    for (values, stroke, name) in [(&busy, BUSY, "busy"), (&queue, QUEUE, "queue")] {
        // Each window's mean drawn flat across the window: a step line.
        let mut points = Vec::with_capacity(values.len() * 2);
        for (value, &(start, end)) in values.iter().zip(&spans) {
            let y = chart.y.pixel(*value);
            points.push((chart.x.pixel(start), y));
            points.push((chart.x.pixel(end), y));
        }
        chart.svg.group(name);
        chart.svg.polyline(&points, stroke);
        chart.svg.end_group();
    }
    let svg = finish_time_chart(chart, context, true);
    named(number, &run.name, &what, title, svg)
}

/// Line styles for variants drawn on one chart: dash and colour both differ.
pub const VARIANT_STROKES: [Stroke; 4] = [
    Stroke {
        colour: "#1f4e79",
        width: 2.2,
        dash: None,
    },
    Stroke {
        colour: "#b2182b",
        width: 2.2,
        dash: Some("8 4"),
    },
    Stroke {
        colour: "#1b7837",
        width: 2.2,
        dash: Some("2 3"),
    },
    Stroke {
        colour: "#5e3c99",
        width: 2.2,
        dash: Some("8 3 2 3"),
    },
];

/// Charts that put every variant on the same axes (for two variants or more): the
/// p99 latency and the throughput of answered requests (ok and degraded).
pub fn comparison_charts(
    runs: &[RunReport],
    contexts: &[RunContext],
    number: &mut usize,
) -> Vec<NamedChart> {
    // Faults are shaded only when every variant has the same ones.
    let mut context = contexts[0].clone();
    if contexts.iter().any(|c| c.faults != context.faults) {
        context.faults.clear();
    }
    if contexts.iter().any(|c| c.checks != context.checks) {
        context.checks.clear();
    }
    context.duration_s = contexts.iter().map(|c| c.duration_s).fold(0.0, f64::max);
    let p99 = compare(
        runs,
        &context,
        number,
        ComparedMetric {
            what: "compare-p99",
            title: "p99 latency by variant",
            y_label: "p99 latency (ms, log scale)",
            log: true,
            value: |w, _| (w.completed > 0).then_some(w.latency_p99_ms),
        },
    );
    let good = compare(
        runs,
        &context,
        number,
        ComparedMetric {
            what: "compare-answered",
            title: "Answered requests (ok + degraded) by variant",
            y_label: "answered requests / s",
            log: false,
            value: |w, seconds| Some((w.ok + w.degraded) as f64 / seconds),
        },
    );
    vec![p99, good]
}

struct ComparedMetric {
    what: &'static str,
    title: &'static str,
    y_label: &'static str,
    log: bool,
    /// The window's value given its length in seconds; `None` breaks the line.
    value: fn(&Window, f64) -> Option<f64>,
}

fn compare(
    runs: &[RunReport],
    context: &RunContext,
    number: &mut usize,
    metric: ComparedMetric,
) -> NamedChart {
    let series: Vec<Vec<Option<WindowPoint>>> = runs
        .iter()
        .map(|run| {
            let windows = &run.timeline.windows;
            window_spans(windows, context)
                .iter()
                .zip(windows)
                .map(|(&(start, end), w)| {
                    let value = (metric.value)(w, (end - start).max(1e-9))?;
                    Some((start, end, value))
                })
                .collect()
        })
        .collect();
    let values = || series.iter().flatten().flatten().map(|&(_, _, v)| v);
    let high = values().fold(0.0, f64::max);
    let y_kind = if metric.log {
        let low = values().filter(|&v| v > 0.0).fold(f64::INFINITY, f64::min);
        if low.is_finite() {
            AxisKind::Log { low, high }
        } else {
            AxisKind::Log {
                low: 1.0,
                high: 10.0,
            }
        }
    } else {
        AxisKind::ZeroTo(high)
    };
    let mut legend: Vec<LegendItem> = runs
        .iter()
        .enumerate()
        .map(|(i, run)| {
            let stroke = VARIANT_STROKES[i % VARIANT_STROKES.len()];
            LegendItem::new(&run.name, Swatch::Line(stroke))
        })
        .collect();
    legend.extend(timeline_legend(context));
    let mut chart = Chart::new(
        &chart_id(*number, "all", metric.what),
        metric.title,
        PLOT_HEIGHT,
        time_axis(context),
        Axis {
            kind: y_kind,
            label: metric.y_label.into(),
        },
        &legend,
    );
    shade_faults(&mut chart, context);
    for (i, (run, points)) in runs.iter().zip(&series).enumerate() {
        let stroke = VARIANT_STROKES[i % VARIANT_STROKES.len()];
        chart.svg.group(&run.name);
        draw_series(&mut chart, points, stroke);
        chart.svg.end_group();
    }
    let svg = finish_time_chart(chart, context, true);
    named(number, "all", metric.what, metric.title.to_string(), svg)
}
