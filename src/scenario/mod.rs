//! Reading scenario files: TOML → raw shapes (serde) → validated [`models::Scenario`].

mod build;
pub mod duration;
mod experiment;
pub mod overrides;
mod raw;

use crate::diagnostic::{self, Diagnostic};

pub use build::Built;
pub use experiment::{experiment_from_str, load_experiment, Experiment, Variant};

/// A scenario that could not be loaded, already rendered for a terminal.
#[derive(Debug)]
pub struct LoadError {
    pub rendered: String,
}

pub fn load_file(path: &str) -> Result<Built, LoadError> {
    let source = std::fs::read_to_string(path).map_err(|error| LoadError {
        rendered: format!("error: {path}: cannot read the scenario file: {error}\n"),
    })?;
    load_str(path, &source)
}

/// Loads a scenario from text; `path` is used only in messages.
pub fn load_str(path: &str, source: &str) -> Result<Built, LoadError> {
    parse(source).map_err(|diagnostics| LoadError {
        rendered: diagnostic::render(path, source, &diagnostics),
    })
}

fn parse(source: &str) -> Result<Built, Vec<Diagnostic>> {
    let raw: raw::RawFile =
        toml::from_str(source).map_err(|error| vec![toml_diagnostic(source, &error)])?;
    build::build(raw)
}

/// Turns a toml/serde error into our form, naming the key at the error's position
/// when serde's message does not.
fn toml_diagnostic(source: &str, error: &toml::de::Error) -> Diagnostic {
    let message = plain_message(error.message());
    let Some(span) = error.span() else {
        return Diagnostic::whole_file(message);
    };
    let message = match key_before(source, span.start) {
        Some(key) if !message.contains(&format!("`{key}`")) => format!("`{key}`: {message}"),
        _ => message,
    };
    Diagnostic::at(span, message)
}

/// serde speaks Rust (`i64`, `f64`) and toml may break a message over lines; users
/// get one line in their own terms.
fn plain_message(message: &str) -> String {
    let joined: Vec<&str> = message
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect();
    joined
        .join("; ")
        .replace("expected i64", "expected a whole number")
        .replace("expected f64", "expected a number")
        .replace("expected a borrowed string", "expected a string")
}

/// The last `key =` on the same line before `offset`, if any.
fn key_before(source: &str, offset: usize) -> Option<String> {
    let offset = offset.min(source.len());
    let line_start = source[..offset].rfind('\n').map_or(0, |i| i + 1);
    let before = &source[line_start..offset];
    let equals = before.rfind('=')?;
    let key = before[..equals]
        .trim_end()
        .rsplit(|c: char| c == '{' || c == ',' || c.is_whitespace())
        .next()?
        .trim_matches('"');
    (!key.is_empty()).then(|| key.to_string())
}
