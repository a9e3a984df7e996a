//! The HTML report: one self-contained page (inline CSS and SVG, no script, no
//! font, nothing fetched), readable offline and printable. Per variant its charts
//! on a shared time axis; then the variants side by side and the hypothesis journal.

use std::fmt::Write as _;

use models::report::HypothesisReport;
use models::RunReport;

use super::charts::{comparison_charts, run_charts, slug, NamedChart, RunContext};
use super::text::{comparison_rows, ratio};
use super::Report;
use crate::chart::svg::escape;
use crate::scenario::Experiment;

/// The page and the charts it shows (the same SVG text, for `--svg DIR`).
pub struct Page {
    pub html: String,
    pub charts: Vec<NamedChart>,
}

/// Print-friendly and legible projected; system fonts only.
pub const STYLE: &str = "body{font-family:sans-serif;max-width:1000px;margin:1.5em auto;padding:0 1em;color:#222;line-height:1.4}
h1{font-size:1.6em;margin-bottom:.2em}h2{margin-top:2em;border-bottom:1px solid #ccc}
figure{margin:1em 0}figure svg{max-width:100%;height:auto;display:block}
table{border-collapse:collapse;margin:.8em 0;font-size:.92em}
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:right}
th:first-child,td:first-child{text-align:left}
td.message{text-align:left;font-family:monospace;white-space:pre-wrap}
.meta{color:#555}.verdict{font-weight:bold}
@media print{h2{break-before:page}figure{break-inside:avoid}}
";

/// Builds the page of a run report; `experiment` supplies what the report does not
/// carry (fault windows, worker limits, descriptions).
pub fn run_page(report: &Report, experiment: &Experiment) -> Page {
    let mut body = String::new();
    let mut charts = Vec::new();
    let mut number = 0;
    let contexts: Vec<RunContext> = experiment
        .variants
        .iter()
        .map(|variant| RunContext::of(&variant.scenario))
        .collect();
    let _ = writeln!(body, "<h1>{}</h1>", escape(&report.scenario));
    if let Some(description) = &experiment.description {
        let _ = writeln!(body, "<p>{}</p>", escape(description));
    }
    let verdict = report.verdict.map_or(String::new(), |v| {
        format!(" · hypothesis: <span class=\"verdict\">{v}</span>")
    });
    let _ = writeln!(
        body,
        "<p class=\"meta\">seed {} · {} s of virtual time · {} variant{}{verdict}</p>",
        report.seed,
        report.duration_s,
        report.variants.len(),
        if report.variants.len() == 1 { "" } else { "s" }
    );
    if report.variants.len() > 1 {
        body.push_str("<p>Variants:");
        for run in &report.variants {
            let _ = write!(
                body,
                " <a href=\"#variant-{}\">{}</a>",
                slug(&run.name),
                escape(&run.name)
            );
        }
        body.push_str(" · <a href=\"#comparison\">side by side</a></p>\n");
    }
    body.push_str("<p class=\"meta\">Every time axis is the same virtual clock; shaded spans are the injected faults. Throughput counts requests in the window where they complete; latency lines break in windows where none completed.</p>\n");
    for ((run, variant), context) in report
        .variants
        .iter()
        .zip(&experiment.variants)
        .zip(&contexts)
    {
        let _ = writeln!(
            body,
            "<h2 id=\"variant-{}\">Variant {}</h2>",
            slug(&run.name),
            escape(&run.name)
        );
        if let Some(description) = &variant.description {
            let _ = writeln!(body, "<p>{}</p>", escape(description));
        }
        summary_table(&mut body, run);
        for chart in run_charts(run, context, &mut number) {
            figure(&mut body, &chart);
            charts.push(chart);
        }
    }
    if report.variants.len() > 1 {
        comparison_table(&mut body, &report.variants);
        for chart in comparison_charts(&report.variants, &contexts, &mut number) {
            figure(&mut body, &chart);
            charts.push(chart);
        }
    }
    let hypotheses: Vec<(&str, &HypothesisReport)> = report
        .variants
        .iter()
        .filter_map(|run| run.hypothesis.as_ref().map(|h| (run.name.as_str(), h)))
        .collect();
    if !hypotheses.is_empty() {
        body.push_str("<h2 id=\"hypothesis\">Steady-state hypothesis</h2>\n");
        for (variant, hypothesis) in hypotheses {
            journal(&mut body, variant, hypothesis);
        }
    }
    let _ = writeln!(
        body,
        "<p class=\"meta\">Made by cascade {}. The same file and seed give the same page.</p>",
        env!("CARGO_PKG_VERSION")
    );
    Page {
        html: page(&format!("cascade: {}", report.scenario), &body),
        charts,
    }
}

/// A chart on a page, labelled for screen readers by its title.
pub(super) fn figure(out: &mut String, chart: &NamedChart) {
    let _ = writeln!(
        out,
        "<figure aria-label=\"{}\">\n{}</figure>",
        escape(&chart.title),
        chart.svg
    );
}

/// A whole HTML document around `body`.
pub fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n{body}</body>\n</html>\n",
        escape(title)
    )
}

fn summary_table(out: &mut String, run: &RunReport) {
    let l = &run.latency_ms;
    out.push_str("<table>\n<tr><th>requests</th><th>ok</th><th>degraded</th><th>errors</th><th>rejected</th><th>timed out</th><th>in flight at end</th><th>mean ms</th><th>p50 ms</th><th>p95 ms</th><th>p99 ms</th><th>max ms</th><th>req/s</th></tr>\n");
    let _ = writeln!(
        out,
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.1}</td><td>{:.1}</td><td>{:.1}</td><td>{:.1}</td><td>{:.1}</td><td>{:.2}</td></tr>\n</table>",
        run.requests,
        run.ok,
        run.degraded,
        run.errors,
        run.rejected,
        run.timed_out,
        run.in_flight,
        l.mean,
        l.p50,
        l.p95,
        l.p99,
        l.max,
        run.throughput_rps
    );
    for breaker in &run.breakers {
        let _ = writeln!(
            out,
            "<p class=\"meta\">breaker {}: {} transitions, {} calls rejected</p>",
            escape(&breaker.name),
            breaker.transitions.len(),
            breaker.rejected
        );
    }
    if let Some(reason) = &run.stopped_early {
        let _ = writeln!(out, "<p><strong>warning:</strong> {}</p>", escape(reason));
    }
}

fn comparison_table(out: &mut String, runs: &[RunReport]) {
    let first = &runs[0].name;
    out.push_str("<h2 id=\"comparison\">Variants side by side</h2>\n<table>\n<tr><th></th>");
    for run in runs {
        let _ = write!(out, "<th>{}</th>", escape(&run.name));
    }
    for run in &runs[1..] {
        let _ = write!(out, "<th>{} / {}</th>", escape(&run.name), escape(first));
    }
    out.push_str("</tr>\n");
    for (label, values) in comparison_rows(runs) {
        let _ = write!(out, "<tr><td>{label}</td>");
        for value in &values {
            let _ = write!(out, "<td>{value:.2}</td>");
        }
        for value in &values[1..] {
            let _ = write!(out, "<td>{}</td>", ratio(values[0], *value));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
}

fn journal(out: &mut String, variant: &str, hypothesis: &HypothesisReport) {
    let _ = writeln!(
        out,
        "<h3>{}: “{}”: <span class=\"verdict\">{}</span></h3>",
        escape(variant),
        escape(&hypothesis.title),
        hypothesis.verdict
    );
    out.push_str("<table>\n<tr><th>virtual time</th><th>level</th><th>message</th></tr>\n");
    for entry in &hypothesis.journal {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td class=\"message\">{}</td></tr>",
            super::text::clock(entry.at_ms),
            escape(entry.level),
            escape(&entry.message)
        );
    }
    out.push_str("</table>\n");
}
