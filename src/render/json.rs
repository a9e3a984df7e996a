use super::Report;

/// Pretty JSON with a trailing newline; field order is the structs' order, so the
/// text is stable.
pub fn render(report: &Report) -> String {
    let mut text = serde_json::to_string_pretty(report).expect("reports serialize");
    text.push('\n');
    text
}
