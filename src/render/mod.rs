//! Turning reports into text for people and JSON for machines.

pub mod charts;
pub mod html;
pub mod json;
pub mod sweep;
pub mod text;

use models::RunReport;
use serde::Serialize;

/// The top level of every report: one scenario, one seed, one or more variants.
#[derive(Serialize)]
pub struct Report {
    pub scenario: String,
    pub seed: u64,
    pub duration_s: f64,
    /// The worst steady-state verdict over the variants that have a hypothesis.
    pub verdict: Option<&'static str>,
    pub variants: Vec<RunReport>,
}

impl Report {
    pub fn new(scenario: String, seed: u64, duration_s: f64, variants: Vec<RunReport>) -> Self {
        let verdict = variants
            .iter()
            .filter_map(|run| run.hypothesis.as_ref().map(|h| h.verdict))
            .max_by_key(|verdict| verdict_rank(verdict));
        Report {
            scenario,
            seed,
            duration_s,
            verdict,
            variants,
        }
    }
}

fn verdict_rank(verdict: &str) -> u8 {
    match verdict {
        "completed" => 0,
        "deviated" => 1,
        _ => 2,
    }
}
