//! `cascade`: the command line. It reads files, parses arguments, prints; the
//! simulation itself lives in `models` and `sim-core`.

use std::path::Path;
use std::process::ExitCode;

use cascade::output::{self, CsvDir};
use cascade::render;
use cascade::scenario::{self, overrides::Override};
use clap::{Parser, Subcommand, ValueEnum};

/// Exit status when the report could not be written.
const EXIT_OUTPUT_ERROR: u8 = 1;
/// Exit status for bad input: a file that cannot be read, parsed or validated, or
/// bad arguments.
const EXIT_INPUT_ERROR: u8 = 2;
/// The steady-state hypothesis held before the method but not after it.
const EXIT_DEVIATED: u8 = 3;
/// The steady-state hypothesis did not even hold before the method.
const EXIT_FAILED: u8 = 4;
/// `validate`: some simulated value is outside its tolerance of the theory.
const EXIT_VALIDATION_FAILED: u8 = 5;

#[derive(Parser)]
#[command(
    name = "cascade",
    version,
    about = "Deterministic simulator of microservices under failure"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Simulate a scenario (every variant, if it has any) and print its report.
    ///
    /// Exit status: 0 ok (or hypothesis completed), 2 bad input, 3 hypothesis
    /// deviated, 4 hypothesis failed before the method, 1 output not written.
    Run {
        /// Scenario file (TOML).
        file: String,
        /// Override the scenario's seed (for every variant).
        #[arg(long)]
        seed: Option<u64>,
        /// Override a value by dotted path, e.g. --set services.gateway.workers=50
        /// (repeatable; applied to the base before each variant's overrides).
        #[arg(long = "set", value_name = "PATH=VALUE")]
        sets: Vec<String>,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Write the report to this file (atomically) instead of standard output.
        #[arg(long)]
        out: Option<String>,
        /// Also write stats.csv, timeseries.csv and transitions.csv into DIR.
        #[arg(long, value_name = "DIR")]
        csv: Option<String>,
        /// With --csv: also write every request to requests.csv.
        #[arg(long, requires = "csv")]
        trace: bool,
        /// With --csv: overwrite the CSV files of a directory that is not empty.
        #[arg(long, requires = "csv")]
        force: bool,
    },
    /// Validate a scenario file (and its variants) without running it.
    Check {
        /// Scenario file (TOML).
        file: String,
    },
    /// Check the simulator against queueing theory (Erlang B/C, Pollaczek-Khinchine,
    /// mean-value analysis) and Little's law. Exit status 5 if a value is outside
    /// its tolerance.
    Validate {
        /// Validation scenarios (default: every file in scenarios/validation/).
        files: Vec<String>,
        /// Independent runs per scenario, with seeds seed, seed+1, ...
        #[arg(long, default_value_t = 10)]
        replications: u32,
        /// Customers per run, roughly (the horizon is set to reach it).
        #[arg(long, default_value_t = 1_000_000)]
        customers: u64,
        /// Threads (default: all cores); results do not depend on it.
        #[arg(long)]
        jobs: Option<usize>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Text,
    Json,
}

struct RunArgs {
    file: String,
    seed: Option<u64>,
    sets: Vec<String>,
    format: Format,
    out: Option<String>,
    csv: Option<String>,
    trace: bool,
    force: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run {
            file,
            seed,
            sets,
            format,
            out,
            csv,
            trace,
            force,
        } => run(RunArgs {
            file,
            seed,
            sets,
            format,
            out,
            csv,
            trace,
            force,
        }),
        Command::Check { file } => check(&file),
        Command::Validate {
            files,
            replications,
            customers,
            jobs,
        } => validate(files, replications, customers, jobs),
    }
}

fn validate(
    files: Vec<String>,
    replications: u32,
    customers: u64,
    jobs: Option<usize>,
) -> ExitCode {
    let files = if files.is_empty() {
        let dir = "scenarios/validation";
        let mut found: Vec<String> = match std::fs::read_dir(dir) {
            Ok(entries) => entries
                .filter_map(|entry| entry.ok().map(|e| e.path()))
                .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
                .map(|path| path.to_string_lossy().into_owned())
                .collect(),
            Err(error) => {
                return input_error(&format!(
                    "error: {dir}: {error} (run from the repository, or name the files)\n"
                ))
            }
        };
        found.sort();
        found
    } else {
        files
    };
    if replications < 2 || customers == 0 {
        return input_error(
            "error: --replications must be at least 2 and --customers at least 1\n",
        );
    }
    let jobs = jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from));
    let options = cascade::validate::Options {
        replications,
        customers,
        jobs,
    };
    match cascade::validate::validate(&files, &options) {
        Ok(validation) => {
            if let Err(message) = output::print(&cascade::validate::render(&validation)) {
                return output_error(&message);
            }
            if validation.all_ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(EXIT_VALIDATION_FAILED)
            }
        }
        Err(message) => input_error(&format!("error: {message}\n")),
    }
}

fn run(args: RunArgs) -> ExitCode {
    let sets: Result<Vec<Override>, String> =
        args.sets.iter().map(|s| Override::from_cli(s)).collect();
    let sets = match sets {
        Ok(sets) => sets,
        Err(message) => return input_error(&format!("error: {message}\n")),
    };
    let experiment = match scenario::load_experiment(&args.file, &sets) {
        Ok(experiment) => experiment,
        Err(error) => return input_error(&error.rendered),
    };
    // Every check of the outputs comes before the first run.
    let csv_dir = match args
        .csv
        .as_deref()
        .map(|dir| CsvDir::prepare(Path::new(dir), args.force))
    {
        None => None,
        Some(Ok(dir)) => Some(dir),
        Some(Err(message)) => return input_error(&format!("error: {message}\n")),
    };
    let mut trace = match (&csv_dir, args.trace) {
        (Some(dir), true) => match dir.trace_writer() {
            Ok(trace) => Some(trace),
            Err(message) => return output_error(&message),
        },
        _ => None,
    };
    let report = cascade::run_experiment(&experiment, args.seed, trace.as_mut());
    if let Some(dir) = &csv_dir {
        if let Err(message) = dir.write(&report, trace) {
            return output_error(&message);
        }
    }
    let text = match args.format {
        Format::Text => render::text::render(&report),
        Format::Json => render::json::render(&report),
    };
    let written = match &args.out {
        None => output::print(&text),
        Some(path) => output::write_atomically(Path::new(path), text.as_bytes())
            .map_err(|error| format!("{path}: cannot write the report: {error}")),
    };
    if let Err(message) = written {
        return output_error(&message);
    }
    match report.verdict {
        Some("deviated") => ExitCode::from(EXIT_DEVIATED),
        Some("failed") => ExitCode::from(EXIT_FAILED),
        _ => ExitCode::SUCCESS,
    }
}

fn check(file: &str) -> ExitCode {
    match scenario::load_experiment(file, &[]) {
        Ok(experiment) => {
            let scenario = &experiment.variants[0].scenario;
            let endpoints: usize = scenario.services.iter().map(|s| s.endpoints.len()).sum();
            let variants = if experiment.variants.len() > 1 {
                let names: Vec<&str> = experiment
                    .variants
                    .iter()
                    .map(|v| v.name.as_str())
                    .collect();
                format!(", variants {}", names.join(", "))
            } else {
                String::new()
            };
            println!(
                "ok: {file}: scenario \"{}\", {} services, {endpoints} endpoints, {} breakers, {} faults{variants}",
                experiment.name,
                scenario.services.len(),
                scenario.breakers.len(),
                scenario.faults.len()
            );
            if let Some(description) = experiment.description {
                println!("  {description}");
            }
            ExitCode::SUCCESS
        }
        Err(error) => input_error(&error.rendered),
    }
}

fn input_error(rendered: &str) -> ExitCode {
    eprint!("{rendered}");
    ExitCode::from(EXIT_INPUT_ERROR)
}

fn output_error(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(EXIT_OUTPUT_ERROR)
}
