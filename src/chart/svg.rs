//! A small SVG writer: elements appended to a string in the order drawn, numbers in
//! one fixed format, text escaped. Nothing here reads the clock, the locale or the
//! system's fonts, so the same chart is the same bytes everywhere.

use std::fmt::Write as _;

/// Fills that stay apart in black-and-white print: each is a colour *and* a texture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fill {
    /// Plain colour, no texture.
    Solid(&'static str),
    /// Thin diagonal lines (`/`) over a light ground.
    Diagonal(&'static str),
    /// Crossed diagonal lines over a light ground.
    Cross(&'static str),
    /// A grid of dots over a light ground.
    Dots(&'static str),
    /// Horizontal lines over a light ground.
    Horizontal(&'static str),
}

/// Patterns are defined once per chart; the list fixes their ids and order.
const PATTERNS: [&str; 4] = ["diagonal", "cross", "dots", "horizontal"];

/// The light ground under every textured fill.
const PATTERN_GROUND: &str = "#ffffff";

pub struct Svg {
    out: String,
    /// Prefix of this chart's pattern ids, so charts inlined into one page never
    /// share an id.
    id: String,
    /// Colours each pattern is used in, in first-use order: one `<pattern>` each.
    patterns: Vec<(usize, &'static str)>,
    body: String,
}

/// Formats a coordinate or length: at most one decimal, no `-0`, no exponent.
pub fn num(value: f64) -> String {
    debug_assert!(value.is_finite(), "a chart coordinate is {value}");
    let value = if value.is_finite() { value } else { 0.0 };
    let tenths = (value * 10.0).round();
    if tenths == 0.0 {
        return "0".into();
    }
    if tenths % 10.0 == 0.0 {
        format!("{:.0}", tenths / 10.0)
    } else {
        format!("{:.1}", tenths / 10.0)
    }
}

/// Escapes text for an element's content or an attribute value.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Anchor {
    Start,
    Middle,
    End,
}

impl Anchor {
    fn as_str(self) -> &'static str {
        match self {
            Anchor::Start => "start",
            Anchor::Middle => "middle",
            Anchor::End => "end",
        }
    }
}

/// How a line is drawn; the dash tells series apart without colour.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stroke {
    pub colour: &'static str,
    pub width: f64,
    /// SVG `stroke-dasharray`, e.g. `"6 3"`; `None` for a solid line.
    pub dash: Option<&'static str>,
}

impl Stroke {
    pub fn solid(colour: &'static str, width: f64) -> Stroke {
        Stroke {
            colour,
            width,
            dash: None,
        }
    }

    pub fn dashed(colour: &'static str, width: f64, dash: &'static str) -> Stroke {
        Stroke {
            colour,
            width,
            dash: Some(dash),
        }
    }

    fn attributes(self) -> String {
        let mut attributes = format!(
            r#"fill="none" stroke="{}" stroke-width="{}""#,
            self.colour,
            num(self.width)
        );
        if let Some(dash) = self.dash {
            let _ = write!(attributes, r#" stroke-dasharray="{dash}""#);
        }
        attributes
    }
}

impl Svg {
    /// A chart `width` × `height` pixels; `id` must be unique within a page (it
    /// prefixes pattern ids); `title` becomes the SVG's accessible `<title>`.
    pub fn new(id: &str, title: &str) -> Svg {
        Svg {
            out: String::new(),
            id: id
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                .collect(),
            patterns: Vec::new(),
            body: format!("<title>{}</title>\n", escape(title)),
        }
    }

    /// The `fill` attribute value for `fill`, defining its pattern on first use.
    pub fn paint(&mut self, fill: Fill) -> String {
        let (pattern, colour) = match fill {
            Fill::Solid(colour) => return colour.to_string(),
            Fill::Diagonal(colour) => (0, colour),
            Fill::Cross(colour) => (1, colour),
            Fill::Dots(colour) => (2, colour),
            Fill::Horizontal(colour) => (3, colour),
        };
        let index = match self.patterns.iter().position(|&p| p == (pattern, colour)) {
            Some(index) => index,
            None => {
                self.patterns.push((pattern, colour));
                self.patterns.len() - 1
            }
        };
        format!("url(#{}-p{index})", self.id)
    }

    pub fn rect(&mut self, x: f64, y: f64, width: f64, height: f64, fill: &str, extra: &str) {
        let _ = writeln!(
            self.body,
            r#"<rect x="{}" y="{}" width="{}" height="{}" fill="{fill}"{}{extra}/>"#,
            num(x),
            num(y),
            num(width.max(0.0)),
            num(height.max(0.0)),
            if extra.is_empty() { "" } else { " " }
        );
    }

    pub fn line(&mut self, from: (f64, f64), to: (f64, f64), stroke: Stroke) {
        let _ = writeln!(
            self.body,
            r#"<line x1="{}" y1="{}" x2="{}" y2="{}" {}/>"#,
            num(from.0),
            num(from.1),
            num(to.0),
            num(to.1),
            stroke.attributes()
        );
    }

    /// A polyline through `points`; nothing for fewer than two points.
    pub fn polyline(&mut self, points: &[(f64, f64)], stroke: Stroke) {
        if points.len() < 2 {
            return;
        }
        let _ = writeln!(
            self.body,
            r#"<polyline points="{}" {}/>"#,
            points_attribute(points),
            stroke.attributes()
        );
    }

    /// A closed shape, for bands such as confidence intervals.
    pub fn polygon(&mut self, points: &[(f64, f64)], fill: &str, extra: &str) {
        if points.len() < 3 {
            return;
        }
        let _ = writeln!(
            self.body,
            r#"<polygon points="{}" fill="{fill}" {extra}/>"#,
            points_attribute(points),
        );
    }

    pub fn circle(&mut self, centre: (f64, f64), radius: f64, fill: &str, extra: &str) {
        let _ = writeln!(
            self.body,
            r#"<circle cx="{}" cy="{}" r="{}" fill="{fill}" {extra}/>"#,
            num(centre.0),
            num(centre.1),
            num(radius)
        );
    }

    /// Text with its baseline at `y`; `extra` adds attributes (e.g. a rotation).
    pub fn text(&mut self, at: (f64, f64), anchor: Anchor, size: f64, text: &str, extra: &str) {
        let _ = writeln!(
            self.body,
            r#"<text x="{}" y="{}" text-anchor="{}" font-size="{}"{}{extra}>{}</text>"#,
            num(at.0),
            num(at.1),
            anchor.as_str(),
            num(size),
            if extra.is_empty() { "" } else { " " },
            escape(text)
        );
    }

    /// Opens a group carrying a tooltip-free label for screen readers.
    pub fn group(&mut self, label: &str) {
        let _ = writeln!(self.body, r#"<g aria-label="{}">"#, escape(label));
    }

    pub fn end_group(&mut self) {
        self.body.push_str("</g>\n");
    }

    /// The finished document, `width` × `height` pixels.
    pub fn finish(mut self, width: f64, height: f64) -> String {
        let _ = writeln!(
            self.out,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img" font-family="sans-serif">"#,
            w = num(width),
            h = num(height)
        );
        if !self.patterns.is_empty() {
            self.out.push_str("<defs>\n");
            for (index, &(pattern, colour)) in self.patterns.iter().enumerate() {
                let id = format!("{}-p{index}", self.id);
                self.out
                    .push_str(&pattern_definition(&id, PATTERNS[pattern], colour));
            }
            self.out.push_str("</defs>\n");
        }
        self.out.push_str(&self.body);
        self.out.push_str("</svg>\n");
        self.out
    }
}

/// One 8 × 8 tile: a light ground and strokes in the series' colour.
fn pattern_definition(id: &str, kind: &str, colour: &str) -> String {
    let strokes = match kind {
        "diagonal" => format!(
            r#"<path d="M-2,2 l4,-4 M0,8 l8,-8 M6,10 l4,-4" stroke="{colour}" stroke-width="1.5"/>"#
        ),
        "cross" => format!(
            r#"<path d="M-2,2 l4,-4 M0,8 l8,-8 M6,10 l4,-4 M-2,6 l4,4 M0,0 l8,8 M6,-2 l4,4" stroke="{colour}" stroke-width="1.2"/>"#
        ),
        "dots" => format!(
            r#"<circle cx="2" cy="2" r="1.4" fill="{colour}"/><circle cx="6" cy="6" r="1.4" fill="{colour}"/>"#
        ),
        _ => format!(r#"<path d="M0,2 h8 M0,6 h8" stroke="{colour}" stroke-width="1.2"/>"#),
    };
    format!(
        r#"<pattern id="{id}" width="8" height="8" patternUnits="userSpaceOnUse"><rect width="8" height="8" fill="{PATTERN_GROUND}"/>{strokes}</pattern>
"#
    )
}

/// `x,y x,y ...`, the value of a `points` attribute.
fn points_attribute(points: &[(f64, f64)]) -> String {
    points
        .iter()
        .map(|&(x, y)| format!("{},{}", num(x), num(y)))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_have_one_fixed_format() {
        assert_eq!(num(0.0), "0");
        assert_eq!(num(-0.01), "0");
        assert_eq!(num(12.0), "12");
        assert_eq!(num(12.04), "12");
        assert_eq!(num(12.06), "12.1");
        assert_eq!(num(-3.25), "-3.3");
        assert_eq!(num(1e7), "10000000");
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(escape(r#"a<b & "c"'"#), "a&lt;b &amp; &quot;c&quot;&#39;");
    }

    #[test]
    fn each_pattern_is_defined_once_per_colour() {
        let mut svg = Svg::new("t", "t");
        let a = svg.paint(Fill::Diagonal("#000"));
        let b = svg.paint(Fill::Diagonal("#000"));
        let c = svg.paint(Fill::Diagonal("#111"));
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(svg.paint(Fill::Solid("#abc")), "#abc");
        let text = svg.finish(10.0, 10.0);
        assert_eq!(text.matches("<pattern ").count(), 2);
    }
}
