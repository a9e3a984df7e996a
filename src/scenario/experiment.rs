//! A scenario file as an experiment: the base scenario, then one scenario per
//! `[[variants]]` entry, each the base with its overrides applied. All variants keep
//! the base's seed, so they see the same random numbers (common random numbers).

use models::Scenario;
use toml::Table;

use super::overrides::{self, Override};
use super::raw::RawVariant;
use super::{load_str, Built, LoadError};
use crate::diagnostic::{self, Diagnostic};

pub struct Experiment {
    pub name: String,
    pub description: Option<String>,
    pub variants: Vec<Variant>,
}

pub struct Variant {
    pub name: String,
    pub description: Option<String>,
    pub scenario: Scenario,
}

/// Loads `path`, applies the command line's `--set`s to the base, then builds each
/// variant. Every problem is reported against the file where it can be located.
pub fn load_experiment(path: &str, sets: &[Override]) -> Result<Experiment, LoadError> {
    let source = std::fs::read_to_string(path).map_err(|error| LoadError {
        rendered: format!("error: {path}: cannot read the scenario file: {error}\n"),
    })?;
    experiment_from_str(path, &source, sets)
}

pub fn experiment_from_str(
    path: &str,
    source: &str,
    sets: &[Override],
) -> Result<Experiment, LoadError> {
    let file = load_str(path, source)?;
    let mut base_document: Table =
        toml::from_str(source).expect("a file that loaded is a TOML table");
    base_document.remove("variants");
    let base = if sets.is_empty() {
        file.scenario.clone()
    } else {
        for change in sets {
            overrides::apply(&mut base_document, change)
                .map_err(|message| cli_error(change, &message))?;
        }
        rebuild(&base_document)
            .map_err(|message| LoadError {
                rendered: format!("error: {}: {message}\n", describe_sets(sets)),
            })?
            .scenario
    };
    let render = |diagnostics: Vec<Diagnostic>| LoadError {
        rendered: diagnostic::render(path, source, &diagnostics),
    };
    if file.variants.is_empty() {
        return Ok(Experiment {
            name: base.name.clone(),
            description: file.description,
            variants: vec![Variant {
                name: base.name.clone(),
                description: None,
                scenario: base,
            }],
        });
    }
    let mut variants: Vec<Variant> = Vec::with_capacity(file.variants.len());
    for (index, raw) in file.variants.iter().enumerate() {
        let variant = build_variant(index, raw, &base_document, &base).map_err(render)?;
        if let Some(previous) = variants.iter().position(|v| v.name == variant.name) {
            return Err(render(vec![Diagnostic::at(
                raw.name.span(),
                format!(
                    "variants[{index}].name: \"{}\" is already the name of variants[{previous}]",
                    variant.name
                ),
            )]));
        }
        variants.push(variant);
    }
    Ok(Experiment {
        name: base.name.clone(),
        description: file.description,
        variants,
    })
}

fn build_variant(
    index: usize,
    raw: &RawVariant,
    base_document: &Table,
    base: &Scenario,
) -> Result<Variant, Vec<Diagnostic>> {
    let name = raw.name.get_ref().trim().to_string();
    let at = |span: std::ops::Range<usize>, message: String| vec![Diagnostic::at(span, message)];
    if name.is_empty() {
        return Err(at(
            raw.name.span(),
            format!("variants[{index}].name: expected a non-empty name"),
        ));
    }
    let mut document = base_document.clone();
    for path in &raw.unset {
        let change = Override {
            path: path.get_ref().clone(),
            value: None,
        };
        overrides::apply(&mut document, &change).map_err(|message| {
            at(
                path.span(),
                format!("variants[{index}].unset \"{}\": {message}", change.path),
            )
        })?;
    }
    for (path, value) in &raw.set {
        if path.trim() == "scenario.seed" {
            return Err(at(
                value.span(),
                format!("variants[{index}].set: variants share the base seed so that they see the same random numbers; change it for all with --seed"),
            ));
        }
        let change = Override {
            path: path.clone(),
            value: Some(value.get_ref().clone()),
        };
        overrides::apply(&mut document, &change).map_err(|message| {
            at(
                value.span(),
                format!("variants[{index}].set \"{path}\": {message}"),
            )
        })?;
    }
    let mut scenario = rebuild(&document)
        .map_err(|message| {
            let span = culprit(raw, &message).unwrap_or_else(|| raw.name.span());
            at(span, format!("variant \"{name}\": {message}"))
        })?
        .scenario;
    scenario.seed = base.seed;
    scenario.name = name.clone();
    Ok(Variant {
        name,
        description: raw.description.clone(),
        scenario,
    })
}

/// The `set` entry a message is most likely about: the one whose last key the
/// message names.
fn culprit(raw: &RawVariant, message: &str) -> Option<std::ops::Range<usize>> {
    raw.set.iter().find_map(|(path, value)| {
        let last = path
            .rsplit('.')
            .next()?
            .split('[')
            .next()?
            .trim_matches('"');
        let named =
            message.contains(&format!("`{last}`")) || message.contains(&format!(".{last}:"));
        named.then(|| value.span())
    })
}

/// Checks an overridden document with the file's own rules. Positions in it mean
/// nothing to the user (it is not their file), so only the first message is kept.
fn rebuild(document: &Table) -> Result<Built, String> {
    let text = toml::to_string(document)
        .map_err(|error| format!("cannot write the overridden scenario: {error}"))?;
    load_str("(overridden)", &text).map_err(|error| {
        let first = error.rendered.lines().next().unwrap_or_default();
        // "error: (overridden):L:C: message" → "message"
        first
            .strip_prefix("error: (overridden):")
            .map(|rest| {
                rest.splitn(3, ':')
                    .nth(2)
                    .unwrap_or(rest)
                    .trim()
                    .to_string()
            })
            .unwrap_or_else(|| first.to_string())
    })
}

fn cli_error(change: &Override, message: &str) -> LoadError {
    LoadError {
        rendered: format!("error: --set {}: {message}\n", change.path),
    }
}

fn describe_sets(sets: &[Override]) -> String {
    let paths: Vec<String> = sets.iter().map(|s| format!("--set {}", s.path)).collect();
    paths.join(", ")
}
