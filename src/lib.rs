//! The `cascade` command line as a library: loading scenario files with diagnostics,
//! running their variants, and rendering reports. The binary in `main.rs` is glue
//! around it; tests use it directly.

pub mod bench;
pub mod chart;
pub mod diagnostic;
pub mod output;
pub mod render;
pub mod scenario;
pub mod sweep;
pub mod trace;
pub mod validate;

use models::Observer;

/// Runs every variant of `experiment` in order, with `seed` in place of the file's
/// when given. `observer` (if any) sees every request of every variant.
pub fn run_experiment(
    experiment: &scenario::Experiment,
    seed: Option<u64>,
    mut observer: Option<&mut output::TraceWriter>,
) -> render::Report {
    let runs = experiment
        .variants
        .iter()
        .map(|variant| {
            let mut scenario = variant.scenario.clone();
            if let Some(seed) = seed {
                scenario.seed = seed;
            }
            match observer.as_deref_mut() {
                Some(trace) => {
                    trace.start_variant(&variant.name);
                    models::simulate_observed(&scenario, trace as &mut dyn Observer)
                }
                None => models::simulate(&scenario),
            }
        })
        .collect();
    let first = &experiment.variants[0].scenario;
    render::Report::new(
        experiment.name.clone(),
        seed.unwrap_or(first.seed),
        first.duration.as_secs_f64(),
        runs,
    )
}

/// Loads and runs a plain scenario file: the report as `cascade run` prints it.
pub fn report_for_file(
    path: &str,
    seed: Option<u64>,
) -> Result<render::Report, scenario::LoadError> {
    let experiment = scenario::load_experiment(path, &[])?;
    Ok(run_experiment(&experiment, seed, None))
}
