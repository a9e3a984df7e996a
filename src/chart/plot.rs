//! The frame every chart shares: title, legend, axes with ticks and labels, grid,
//! and shaded spans of the x axis. Charts of one report use the same width and
//! margins, so their time axes line up when stacked on a page.

use super::scale::Scale;
use super::svg::{Anchor, Fill, Stroke, Svg};

/// Width of every chart, in pixels.
pub const WIDTH: f64 = 960.0;
const MARGIN_LEFT: f64 = 84.0;
const MARGIN_RIGHT: f64 = 24.0;
const MARGIN_BOTTOM: f64 = 50.0;
const TITLE_BASELINE: f64 = 22.0;
const LEGEND_TOP: f64 = 34.0;
const LEGEND_ROW: f64 = 18.0;
const FONT: f64 = 12.0;
/// Where a band's name sits, from the band's top; what the band draws goes below
/// `BAND_LABEL_SPACE`.
const BAND_LABEL_BASELINE: f64 = 12.0;
pub const BAND_LABEL_SPACE: f64 = 16.0;
/// Rough width of one character at `FONT` (no font is measured, so that layout
/// never depends on the fonts a machine has).
const CHAR_WIDTH: f64 = 6.8;

pub const AXIS_COLOUR: &str = "#333333";
const GRID_COLOUR: &str = "#dddddd";
/// Fault windows: a grey band that stays visible, and distinct, in print.
pub const SHADE: Fill = Fill::Solid("#e4e4e4");

/// What an axis measures.
#[derive(Clone, Debug, PartialEq)]
pub enum AxisKind {
    Linear {
        low: f64,
        high: f64,
    },
    /// From 0 to a round number at or above the maximum.
    ZeroTo(f64),
    /// Whole decades covering the range (values above 0).
    Log {
        low: f64,
        high: f64,
    },
    /// Equal bands, one per label, in order (left to right, or top to bottom).
    Bands(Vec<String>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Axis {
    pub kind: AxisKind,
    /// Says what and in which unit, e.g. "virtual time (s)".
    pub label: String,
}

/// How a legend entry shows its series.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Swatch {
    Fill(Fill),
    Line(Stroke),
    /// A short vertical mark, as transitions are drawn.
    Mark(Stroke),
}

#[derive(Clone, Debug, PartialEq)]
pub struct LegendItem {
    pub label: String,
    pub swatch: Swatch,
}

impl LegendItem {
    pub fn new(label: &str, swatch: Swatch) -> LegendItem {
        LegendItem {
            label: label.to_string(),
            swatch,
        }
    }
}

/// A chart being drawn: draw data with `svg` through the `x` and `y` scales, inside
/// `left..right` × `top..bottom`, then `finish`.
pub struct Chart {
    pub svg: Svg,
    pub x: Scale,
    pub y: Scale,
    pub left: f64,
    pub right: f64,
    pub top: f64,
    pub bottom: f64,
    height: f64,
    x_axis: Axis,
    y_axis: Axis,
}

impl Chart {
    /// Draws the frame of a chart whose plot area is `plot_height` tall; the grid
    /// and shaded spans go under whatever is drawn next.
    pub fn new(
        id: &str,
        title: &str,
        plot_height: f64,
        x_axis: Axis,
        y_axis: Axis,
        legend: &[LegendItem],
    ) -> Chart {
        let mut svg = Svg::new(id, title);
        let left = MARGIN_LEFT;
        let right = WIDTH - MARGIN_RIGHT;
        let rows = legend_rows(legend, right - left);
        let top = LEGEND_TOP + rows.len() as f64 * LEGEND_ROW + 8.0;
        // The y label runs along the axis: a short plot grows to hold it.
        let y_label_length = y_axis.label.chars().count() as f64 * CHAR_WIDTH;
        let bottom = top + plot_height.max(y_label_length + 12.0);
        let height = bottom + MARGIN_BOTTOM;
        svg.rect(0.0, 0.0, WIDTH, height, "#ffffff", "");
        svg.text(
            (left, TITLE_BASELINE),
            Anchor::Start,
            15.0,
            title,
            r#"font-weight="bold""#,
        );
        draw_legend(&mut svg, legend, &rows, left);
        let x = scale_for(&x_axis.kind, left, right);
        let y = scale_for(&y_axis.kind, bottom, top);
        let mut chart = Chart {
            svg,
            x,
            y,
            left,
            right,
            top,
            bottom,
            height,
            x_axis,
            y_axis,
        };
        chart.grid();
        chart
    }

    /// Shades the x span `from..to` (clamped to the axis), under what is drawn next.
    pub fn shade(&mut self, from: f64, to: f64) {
        let (a, b) = (self.x.pixel(from), self.x.pixel(to));
        if b - a <= 0.0 {
            return;
        }
        let paint = self.svg.paint(SHADE);
        self.svg
            .rect(a, self.top, b - a, self.bottom - self.top, &paint, "");
    }

    /// The width of one band of a `Bands` x axis, in pixels.
    pub fn x_band(&self) -> f64 {
        band_width(&self.x_axis.kind, self.right - self.left)
    }

    /// The height of one band of a `Bands` y axis, in pixels.
    pub fn y_band(&self) -> f64 {
        band_width(&self.y_axis.kind, self.bottom - self.top)
    }

    fn grid(&mut self) {
        if !matches!(self.y_axis.kind, AxisKind::Bands(_)) {
            let grid = Stroke::solid(GRID_COLOUR, 1.0);
            for value in self.y.minor_ticks() {
                let y = self.y.pixel(value);
                let faint = Stroke::dashed(GRID_COLOUR, 0.5, "2 3");
                self.svg.line((self.left, y), (self.right, y), faint);
            }
            for (value, _) in self.y.ticks() {
                let y = self.y.pixel(value);
                self.svg.line((self.left, y), (self.right, y), grid);
            }
        }
    }

    /// Axes, ticks and labels on top of the data; the finished SVG.
    pub fn finish(mut self) -> String {
        let axis = Stroke::solid(AXIS_COLOUR, 1.0);
        let (left, right, top, bottom) = (self.left, self.right, self.top, self.bottom);
        self.svg.line((left, bottom), (right, bottom), axis);
        self.svg.line((left, top), (left, bottom), axis);
        match &self.x_axis.kind {
            AxisKind::Bands(labels) => {
                let band = self.x_band();
                for (i, label) in labels.iter().enumerate() {
                    let x = left + band * (i as f64 + 0.5);
                    self.svg.line((x, bottom), (x, bottom + 4.0), axis);
                    self.svg
                        .text((x, bottom + 17.0), Anchor::Middle, FONT, label, "");
                }
            }
            _ => {
                for (value, label) in self.x.ticks() {
                    let x = self.x.pixel(value);
                    self.svg.line((x, bottom), (x, bottom + 4.0), axis);
                    self.svg
                        .text((x, bottom + 17.0), Anchor::Middle, FONT, &label, "");
                }
            }
        }
        match &self.y_axis.kind {
            AxisKind::Bands(labels) => {
                // Inside the plot, above each band: names may be longer than the
                // margin that keeps every chart's time axis aligned.
                let band = self.y_band();
                for (i, label) in labels.iter().enumerate() {
                    let y = top + band * i as f64 + BAND_LABEL_BASELINE;
                    self.svg
                        .text((left + 4.0, y), Anchor::Start, FONT, label, "");
                }
            }
            _ => {
                for (value, label) in self.y.ticks() {
                    let y = self.y.pixel(value);
                    self.svg.line((left - 4.0, y), (left, y), axis);
                    self.svg
                        .text((left - 7.0, y + 4.0), Anchor::End, FONT, &label, "");
                }
            }
        }
        let x_label = self.x_axis.label.clone();
        self.svg.text(
            ((left + right) / 2.0, bottom + 38.0),
            Anchor::Middle,
            FONT,
            &x_label,
            "",
        );
        let y_label = self.y_axis.label.clone();
        let (cx, cy) = (16.0, (top + bottom) / 2.0);
        let rotate = format!(
            r#"transform="rotate(-90 {} {})""#,
            super::svg::num(cx),
            super::svg::num(cy)
        );
        self.svg
            .text((cx, cy), Anchor::Middle, FONT, &y_label, &rotate);
        self.svg.finish(WIDTH, self.height)
    }
}

fn band_width(kind: &AxisKind, span: f64) -> f64 {
    match kind {
        AxisKind::Bands(labels) => span / labels.len().max(1) as f64,
        _ => 0.0,
    }
}

fn scale_for(kind: &AxisKind, from: f64, to: f64) -> Scale {
    match kind {
        AxisKind::Linear { low, high } => Scale::linear(*low, *high, from, to),
        AxisKind::ZeroTo(max) => Scale::zero_to(*max, from, to),
        AxisKind::Log { low, high } => Scale::log(*low, *high, from, to),
        AxisKind::Bands(labels) => Scale::linear(0.0, labels.len().max(1) as f64, from, to),
    }
}

fn item_width(item: &LegendItem) -> f64 {
    28.0 + item.label.chars().count() as f64 * CHAR_WIDTH + 18.0
}

/// Legend items per row, wrapping at `width`.
fn legend_rows(legend: &[LegendItem], width: f64) -> Vec<Vec<usize>> {
    let mut rows: Vec<Vec<usize>> = Vec::new();
    let mut used = f64::INFINITY;
    for (index, item) in legend.iter().enumerate() {
        let w = item_width(item);
        if used + w > width {
            rows.push(Vec::new());
            used = 0.0;
        }
        rows.last_mut().expect("a row was pushed").push(index);
        used += w;
    }
    rows
}

fn draw_legend(svg: &mut Svg, legend: &[LegendItem], rows: &[Vec<usize>], left: f64) {
    for (row, items) in rows.iter().enumerate() {
        let y = LEGEND_TOP + row as f64 * LEGEND_ROW;
        let mut x = left;
        for &index in items {
            let item = &legend[index];
            match item.swatch {
                Swatch::Fill(fill) => {
                    let paint = svg.paint(fill);
                    svg.rect(
                        x,
                        y,
                        22.0,
                        12.0,
                        &paint,
                        &format!(r#"stroke="{AXIS_COLOUR}" stroke-width="0.8""#),
                    );
                }
                Swatch::Line(stroke) => svg.line((x, y + 6.0), (x + 22.0, y + 6.0), stroke),
                Swatch::Mark(stroke) => svg.line((x + 11.0, y), (x + 11.0, y + 12.0), stroke),
            }
            svg.text((x + 28.0, y + 10.5), Anchor::Start, FONT, &item.label, "");
            x += item_width(item);
        }
    }
}
