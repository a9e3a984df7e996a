//! The `cascade` command line as a library: loading scenario files with diagnostics,
//! and rendering reports. The binary in `main.rs` is glue around it; tests use it
//! directly.

pub mod diagnostic;
pub mod render;
pub mod scenario;

/// Loads and runs a scenario file, returning the report as the CLI would print it.
pub fn report_for(built: &scenario::Built, seed: Option<u64>) -> render::Report {
    let mut scenario = built.scenario.clone();
    if let Some(seed) = seed {
        scenario.seed = seed;
    }
    let run = models::simulate(&scenario);
    render::Report {
        scenario: scenario.name.clone(),
        seed: scenario.seed,
        duration_s: scenario.duration.as_secs_f64(),
        variants: vec![run],
    }
}
