//! User-facing input errors: `file:line:col: message`, then the offending line with a
//! caret under the value.
//!
//! The caret is drawn here rather than with a snippet crate because the first line
//! must carry the location in the grep-able `file:line:col` form that editors and CI
//! logs jump to; rustc-style renderers put it on a second line.

use std::fmt::Write as _;
use std::ops::Range;

/// One problem with an input, located by a byte span of the source when it has one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub message: String,
    pub span: Option<Range<usize>>,
}

impl Diagnostic {
    pub fn at(span: Range<usize>, message: impl Into<String>) -> Self {
        Diagnostic {
            message: message.into(),
            span: Some(span),
        }
    }

    pub fn whole_file(message: impl Into<String>) -> Self {
        Diagnostic {
            message: message.into(),
            span: None,
        }
    }
}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let offset = floor_char_boundary(source, offset.min(source.len()));
    let before = &source[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = source[line_start..offset].chars().count() + 1;
    (line, col)
}

fn floor_char_boundary(source: &str, mut offset: usize) -> usize {
    while !source.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// Renders every diagnostic against the file it came from.
pub fn render(path: &str, source: &str, diagnostics: &[Diagnostic]) -> String {
    let mut out = String::new();
    for diagnostic in diagnostics {
        let Some(span) = &diagnostic.span else {
            let _ = writeln!(out, "error: {path}: {}", diagnostic.message);
            continue;
        };
        let (line, col) = line_col(source, span.start);
        let _ = writeln!(out, "error: {path}:{line}:{col}: {}", diagnostic.message);
        let text = source.lines().nth(line - 1).unwrap_or("");
        let start = floor_char_boundary(source, span.start.min(source.len()));
        let end = floor_char_boundary(source, span.end.min(source.len()));
        let width = source[start..end]
            .lines()
            .next()
            .map_or(1, |first| first.chars().count().max(1));
        let gutter = line.to_string().len();
        let _ = writeln!(out, "{:gutter$} |", "");
        let _ = writeln!(out, "{line} | {text}");
        let _ = writeln!(
            out,
            "{:gutter$} | {}{}",
            "",
            " ".repeat(col - 1),
            "^".repeat(width)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_are_one_based_and_count_characters() {
        let source = "a = 1\nbé = 2\n";
        assert_eq!(line_col(source, 0), (1, 1));
        assert_eq!(line_col(source, 6), (2, 1));
        let offset = source.find('2').unwrap();
        assert_eq!(line_col(source, offset), (2, 6));
    }

    #[test]
    fn rendering_puts_the_location_first_and_a_caret_under_the_value() {
        let source = "[x]\nworkers = 0\n";
        let start = source.find('0').unwrap();
        let text = render(
            "f.toml",
            source,
            &[Diagnostic::at(start..start + 1, "bad workers")],
        );
        assert_eq!(
            text,
            "error: f.toml:2:11: bad workers\n  |\n2 | workers = 0\n  |           ^\n"
        );
    }
}
