//! Turning reports into text for people and JSON for machines.

pub mod json;
pub mod text;

use models::RunReport;
use serde::Serialize;

/// The top level of every report: one scenario, one seed, one or more variants.
#[derive(Serialize)]
pub struct Report {
    pub scenario: String,
    pub seed: u64,
    pub duration_s: f64,
    pub variants: Vec<RunReport>,
}
