//! The pictures of a sweep: a heatmap of the objective when two parameters vary
//! (the value printed in each cell), line charts with 95 % confidence bands when
//! one does, and the best and worst points, on one self-contained page.

use std::fmt::Write as _;

use crate::chart::plot::{Axis, AxisKind, Chart, LegendItem, Swatch};
use crate::chart::svg::{escape, num, Anchor, Fill, Stroke};
use crate::sweep::{higher_is_better, ranked, Dimension, Row, SweepResult, METRICS};

use super::charts::{slug, NamedChart, VARIANT_STROKES};
use super::html::{figure, page, Page};

/// Cells in a heatmap above which values are no longer printed in them.
const HEATMAP_CELL_TEXT_MIN_WIDTH: f64 = 34.0;
const HEATMAP_CELL_TEXT_MIN_HEIGHT: f64 = 15.0;
/// Best and worst points listed on the page.
const RANKED_SHOWN: usize = 5;

/// The swept parameters that take more than one value: what the charts' axes show.
pub fn varying(dimensions: &[Dimension]) -> Vec<usize> {
    (0..dimensions.len())
        .filter(|&i| dimensions[i].values.len() > 1)
        .collect()
}

/// Refuses, before any run, a sweep whose pictures cannot be drawn: a heatmap has
/// two axes.
pub fn check_drawable(dimensions: &[Dimension], option: &str) -> Result<(), String> {
    let varying = varying(dimensions);
    if varying.len() <= 2 {
        return Ok(());
    }
    let names: Vec<&str> = varying
        .iter()
        .map(|&i| dimensions[i].path.as_str())
        .collect();
    Err(format!(
        "{option}: the heatmap shows two swept parameters, but {} vary here ({}); \
         keep two of them (give the others a single value, e.g. --set {}=VALUE), \
         or drop {option} and read the CSV",
        names.len(),
        names.join(", "),
        names[2]
    ))
}

/// What the page says about the sweep besides its rows.
pub struct SweepInfo<'a> {
    pub scenario: &'a str,
    pub dimensions: &'a [Dimension],
    pub objective: usize,
    pub replications: u32,
}

pub fn sweep_page(result: &SweepResult, info: &SweepInfo) -> Page {
    let mut body = String::new();
    let mut charts = Vec::new();
    let metric = METRICS[info.objective];
    let _ = writeln!(body, "<h1>Sweep of {}</h1>", escape(info.scenario));
    let _ = writeln!(
        body,
        "<p class=\"meta\">{} rows (one per point and variant) · {} runs · {} replication{} per point · objective <strong>{metric}</strong> ({})</p>",
        result.rows.len(),
        result.runs,
        info.replications,
        if info.replications == 1 { "" } else { "s" },
        if higher_is_better(metric) {
            "higher is better"
        } else {
            "lower is better"
        }
    );
    body.push_str("<ul>\n");
    for dimension in info.dimensions {
        let _ = writeln!(
            body,
            "<li><code>{}</code>: {} value{}</li>",
            escape(&dimension.path),
            dimension.values.len(),
            if dimension.values.len() == 1 { "" } else { "s" }
        );
    }
    body.push_str("</ul>\n");
    let varying = varying(info.dimensions);
    let variants = variant_names(&result.rows);
    let mut number = 0;
    match varying[..] {
        [rows, columns] => {
            for variant in &variants {
                number += 1;
                charts.push(heatmap(result, info, variant, (rows, columns), number));
            }
        }
        [x] => {
            let mut metrics = vec![info.objective];
            for extra in ["failure_pct", "p99_ms"] {
                let column = METRICS.iter().position(|m| *m == extra).expect("a metric");
                if !metrics.contains(&column) {
                    metrics.push(column);
                }
            }
            for column in metrics {
                number += 1;
                charts.push(line_chart(result, info, &variants, x, column, number));
            }
        }
        _ => body.push_str("<p>No parameter takes more than one value: nothing to chart.</p>\n"),
    }
    for chart in &charts {
        figure(&mut body, chart);
    }
    ranked_tables(&mut body, result, info);
    let _ = writeln!(
        body,
        "<p class=\"meta\">Made by cascade {}. The same file, values and seed give the same page.</p>",
        env!("CARGO_PKG_VERSION")
    );
    Page {
        html: page(&format!("cascade sweep: {}", info.scenario), &body),
        charts,
    }
}

fn variant_names(rows: &[Row]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for row in rows {
        if !names.contains(&row.variant) {
            names.push(row.variant.clone());
        }
    }
    names
}

/// The values parameter `index` takes in `rows`, as printed, in sweep order.
fn labels<'a>(rows: impl IntoIterator<Item = &'a Row>, index: usize) -> Vec<String> {
    let mut labels: Vec<String> = Vec::new();
    for row in rows {
        if !labels.contains(&row.values[index]) {
            labels.push(row.values[index].clone());
        }
    }
    labels
}

/// A value printed in a cell or a table: few digits, no exponent.
fn short(value: f64) -> String {
    let magnitude = value.abs();
    if magnitude >= 100.0 {
        format!("{value:.0}")
    } else if magnitude >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

/// A light-to-dark ramp: darker is a larger value, in colour and in grey alike.
const RAMP: [&str; 5] = ["#fff7ec", "#fdd49e", "#fc8d59", "#d7301f", "#7f0000"];

fn rgb(hex: &str) -> [f64; 3] {
    let channel =
        |i: usize| f64::from(u8::from_str_radix(&hex[i..i + 2], 16).expect("a hex colour"));
    [channel(1), channel(3), channel(5)]
}

/// The ramp's colour at `share` (0 to 1), mixed between its stops.
fn ramp(share: f64) -> String {
    let share = share.clamp(0.0, 1.0) * (RAMP.len() - 1) as f64;
    let index = (share.floor() as usize).min(RAMP.len() - 2);
    let t = share - index as f64;
    let (a, b) = (rgb(RAMP[index]), rgb(RAMP[index + 1]));
    let mix = |c: usize| (a[c] + (b[c] - a[c]) * t).round() as u8;
    format!("#{:02x}{:02x}{:02x}", mix(0), mix(1), mix(2))
}

const BEST: Stroke = Stroke {
    colour: "#000000",
    width: 3.0,
    dash: None,
};
const WORST: Stroke = Stroke {
    colour: "#000000",
    width: 3.0,
    dash: Some("5 3"),
};

fn heatmap(
    result: &SweepResult,
    info: &SweepInfo,
    variant: &str,
    (row_dim, column_dim): (usize, usize),
    number: usize,
) -> NamedChart {
    let of_variant = || result.rows.iter().filter(|r| r.variant == variant);
    let row_labels = labels(of_variant(), row_dim);
    let column_labels = labels(of_variant(), column_dim);
    let metric = METRICS[info.objective];
    let low = of_variant()
        .map(|r| r.means[info.objective])
        .fold(f64::INFINITY, f64::min);
    let high = of_variant()
        .map(|r| r.means[info.objective])
        .fold(f64::NEG_INFINITY, f64::max);
    let order: Vec<usize> = ranked(&result.rows, info.objective)
        .into_iter()
        .filter(|&i| result.rows[i].variant == variant)
        .collect();
    let (best, worst) = (order[0], order[order.len() - 1]);
    // The axes name the parameters, which can be long paths.
    let title = format!("Heatmap of {metric} — {variant}");
    let legend = vec![
        LegendItem::new(
            &format!("lowest {metric}: {}", short(low)),
            Swatch::Fill(Fill::Solid(RAMP[0])),
        ),
        LegendItem::new(
            &format!("highest {metric}: {}", short(high)),
            Swatch::Fill(Fill::Solid(RAMP[RAMP.len() - 1])),
        ),
        LegendItem::new("best point", Swatch::Line(BEST)),
        LegendItem::new("worst point", Swatch::Line(WORST)),
    ];
    let cell_height = 30.0_f64.min(420.0 / row_labels.len() as f64).max(6.0);
    let mut chart = Chart::new(
        &format!("s{number}-{}-heatmap", slug(variant)),
        &title,
        cell_height * row_labels.len() as f64,
        Axis {
            kind: AxisKind::Bands(column_labels.clone()),
            label: info.dimensions[column_dim].path.clone(),
        },
        Axis {
            kind: AxisKind::Bands(Vec::new()),
            label: info.dimensions[row_dim].path.clone(),
        },
        &legend,
    );
    // The frame may have grown the plot to fit its axis label.
    let band = (chart.bottom - chart.top) / row_labels.len() as f64;
    let cell_width = chart.x_band();
    for (index, row) in result.rows.iter().enumerate() {
        if row.variant != variant {
            continue;
        }
        let (Some(r), Some(c)) = (
            row_labels.iter().position(|l| *l == row.values[row_dim]),
            column_labels
                .iter()
                .position(|l| *l == row.values[column_dim]),
        ) else {
            continue;
        };
        let value = row.means[info.objective];
        let share = if high > low {
            (value - low) / (high - low)
        } else {
            0.0
        };
        let (x, y) = (
            chart.left + cell_width * c as f64,
            chart.top + band * r as f64,
        );
        let colour = ramp(share);
        chart.svg.rect(
            x,
            y,
            cell_width,
            band,
            &colour,
            r##"stroke="#ffffff" stroke-width="1""##,
        );
        if cell_width >= HEATMAP_CELL_TEXT_MIN_WIDTH && band >= HEATMAP_CELL_TEXT_MIN_HEIGHT {
            let ink = if share > 0.55 { "#ffffff" } else { "#000000" };
            chart.svg.text(
                (x + cell_width / 2.0, y + band / 2.0 + 4.0),
                Anchor::Middle,
                11.0,
                &short(value),
                &format!(r#"fill="{ink}""#),
            );
        }
        for (marked, stroke) in [(best, BEST), (worst, WORST)] {
            if marked == index && low < high {
                let inset = stroke.width / 2.0;
                chart.svg.rect(
                    x + inset,
                    y + inset,
                    cell_width - 2.0 * inset,
                    band - 2.0 * inset,
                    "none",
                    &format!(
                        r#"stroke="{}" stroke-width="{}"{}"#,
                        stroke.colour,
                        num(stroke.width),
                        stroke
                            .dash
                            .map_or(String::new(), |d| format!(r#" stroke-dasharray="{d}""#))
                    ),
                );
            }
        }
    }
    // Row labels in the left margin, right-aligned against the plot.
    for (r, label) in row_labels.iter().enumerate() {
        let y = chart.top + band * (r as f64 + 0.5) + 4.0;
        chart
            .svg
            .text((chart.left - 6.0, y), Anchor::End, 11.0, label, "");
    }
    let svg = chart.finish();
    NamedChart {
        file_name: format!("{number:02}-{}-heatmap-{metric}.svg", slug(variant)),
        title,
        svg,
    }
}

const BAND_FILLS: [Fill; 4] = [
    Fill::Solid("#c6dbef"),
    Fill::Diagonal("#e7a3a3"),
    Fill::Dots("#8fc79a"),
    Fill::Cross("#b9a6d6"),
];

fn line_chart(
    result: &SweepResult,
    info: &SweepInfo,
    variants: &[String],
    x_dim: usize,
    column: usize,
    number: usize,
) -> NamedChart {
    let metric = METRICS[column];
    let x_labels = labels(&result.rows, x_dim);
    let high = result
        .rows
        .iter()
        .map(|r| r.means[column] + r.half_widths[column])
        .fold(0.0, f64::max);
    let order = ranked(&result.rows, column);
    let (best, worst) = (order[0], order[order.len() - 1]);
    let title = format!("{metric} by {}", info.dimensions[x_dim].path);
    let mut legend = Vec::new();
    for (i, variant) in variants.iter().enumerate() {
        legend.push(LegendItem::new(
            &format!("{variant}: mean"),
            Swatch::Line(VARIANT_STROKES[i % VARIANT_STROKES.len()]),
        ));
        if info.replications > 1 {
            legend.push(LegendItem::new(
                &format!("{variant}: 95% confidence"),
                Swatch::Fill(BAND_FILLS[i % BAND_FILLS.len()]),
            ));
        }
    }
    legend.push(LegendItem::new("best", Swatch::Mark(BEST)));
    legend.push(LegendItem::new("worst", Swatch::Mark(WORST)));
    let mut chart = Chart::new(
        &format!("s{number}-{metric}"),
        &title,
        220.0,
        Axis {
            kind: AxisKind::Bands(x_labels.clone()),
            label: format!("{} (points in sweep order)", info.dimensions[x_dim].path),
        },
        Axis {
            kind: AxisKind::ZeroTo(high),
            label: metric_label(metric).into(),
        },
        &legend,
    );
    let band = chart.x_band();
    let x_of = |row: &Row| {
        x_labels
            .iter()
            .position(|l| *l == row.values[x_dim])
            .map(|i| chart.left + band * (i as f64 + 0.5))
    };
    for (i, variant) in variants.iter().enumerate() {
        let points: Vec<(f64, f64, f64)> = result
            .rows
            .iter()
            .filter(|r| r.variant == *variant)
            .filter_map(|r| Some((x_of(r)?, r.means[column], r.half_widths[column])))
            .collect();
        chart.svg.group(&format!("{variant}: {metric}"));
        if info.replications > 1 {
            let paint = chart.svg.paint(BAND_FILLS[i % BAND_FILLS.len()]);
            let mut outline: Vec<(f64, f64)> = points
                .iter()
                .map(|&(x, mean, half)| (x, chart.y.pixel(mean + half)))
                .collect();
            outline.extend(
                points
                    .iter()
                    .rev()
                    .map(|&(x, mean, half)| (x, chart.y.pixel((mean - half).max(0.0)))),
            );
            chart.svg.polygon(&outline, &paint, r#"opacity="0.7""#);
        }
        let line: Vec<(f64, f64)> = points
            .iter()
            .map(|&(x, mean, _)| (x, chart.y.pixel(mean)))
            .collect();
        let stroke = VARIANT_STROKES[i % VARIANT_STROKES.len()];
        chart.svg.polyline(&line, stroke);
        for &point in &line {
            chart.svg.circle(point, 2.5, stroke.colour, "");
        }
        chart.svg.end_group();
    }
    let spread = result.rows[best].means[column] != result.rows[worst].means[column];
    for (marked, stroke) in [(best, BEST), (worst, WORST)]
        .into_iter()
        .filter(|_| spread)
    {
        let row = &result.rows[marked];
        if let Some(x) = x_of(row) {
            let y = chart.y.pixel(row.means[column]);
            chart.svg.line((x, y - 12.0), (x, y + 12.0), stroke);
        }
    }
    let svg = chart.finish();
    NamedChart {
        file_name: format!("{number:02}-line-{metric}.svg"),
        title,
        svg,
    }
}

fn metric_label(metric: &str) -> &'static str {
    match metric {
        "requests" => "completed requests",
        "failure_pct" => "failed requests (%)",
        "degraded_pct" => "degraded answers (%)",
        "mean_ms" => "mean latency (ms)",
        "p50_ms" => "p50 latency (ms)",
        "p95_ms" => "p95 latency (ms)",
        "p99_ms" => "p99 latency (ms)",
        "max_ms" => "max latency (ms)",
        _ => "throughput (requests / s)",
    }
}

fn ranked_tables(out: &mut String, result: &SweepResult, info: &SweepInfo) {
    let metric = METRICS[info.objective];
    let order = ranked(&result.rows, info.objective);
    let shown = RANKED_SHOWN.min(order.len());
    for (title, rows) in [
        (format!("Best {shown} by {metric}"), order[..shown].to_vec()),
        (
            format!("Worst {shown} by {metric}"),
            order.iter().rev().take(shown).copied().collect(),
        ),
    ] {
        let _ = writeln!(
            out,
            "<h2>{}</h2>\n<table>\n<tr><th>point</th><th>variant</th>",
            escape(&title)
        );
        for dimension in info.dimensions {
            let _ = write!(out, "<th>{}</th>", escape(&dimension.path));
        }
        let _ = write!(out, "<th>{metric}</th>");
        if info.replications > 1 {
            out.push_str("<th>± 95%</th>");
        }
        out.push_str("</tr>\n");
        for index in rows {
            let row = &result.rows[index];
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td>",
                row.point,
                escape(&row.variant)
            );
            for value in &row.values {
                let _ = write!(out, "<td>{}</td>", escape(value));
            }
            let _ = write!(out, "<td>{:.3}</td>", row.means[info.objective]);
            if info.replications > 1 {
                let _ = write!(out, "<td>{:.3}</td>", row.half_widths[info.objective]);
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</table>\n");
    }
}
