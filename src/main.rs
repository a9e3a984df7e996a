//! `cascade`: the command line. It reads files, parses arguments, prints; the
//! simulation itself lives in `models` and `sim-core`.

use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;

use cascade::{render, scenario};
use clap::{Parser, Subcommand, ValueEnum};

/// Exit status for bad input: a file that cannot be read, parsed or validated.
const EXIT_INPUT_ERROR: u8 = 2;
/// Exit status when the report could not be written.
const EXIT_OUTPUT_ERROR: u8 = 1;

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
    /// Simulate a scenario and print its report.
    Run {
        /// Scenario file (TOML).
        file: String,
        /// Override the scenario's seed.
        #[arg(long)]
        seed: Option<u64>,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Write the report to this file (atomically) instead of standard output.
        #[arg(long)]
        out: Option<String>,
    },
    /// Validate a scenario file without running it.
    Check {
        /// Scenario file (TOML).
        file: String,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Text,
    Json,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run {
            file,
            seed,
            format,
            out,
        } => run(&file, seed, format, out.as_deref()),
        Command::Check { file } => check(&file),
    }
}

fn run(file: &str, seed: Option<u64>, format: Format, out: Option<&str>) -> ExitCode {
    let built = match scenario::load_file(file) {
        Ok(built) => built,
        Err(error) => return input_error(&error.rendered),
    };
    let report = cascade::report_for(&built, seed);
    let text = match format {
        Format::Text => render::text::render(&report),
        Format::Json => render::json::render(&report),
    };
    match out {
        None => {
            let mut stdout = std::io::stdout().lock();
            if stdout
                .write_all(text.as_bytes())
                .and_then(|()| stdout.flush())
                .is_err()
            {
                return ExitCode::from(EXIT_OUTPUT_ERROR);
            }
        }
        Some(path) => {
            if let Err(error) = write_atomically(Path::new(path), text.as_bytes()) {
                eprintln!("error: {path}: cannot write the report: {error}");
                return ExitCode::from(EXIT_OUTPUT_ERROR);
            }
        }
    }
    ExitCode::SUCCESS
}

fn check(file: &str) -> ExitCode {
    match scenario::load_file(file) {
        Ok(built) => {
            let scenario = &built.scenario;
            let endpoints: usize = scenario.services.iter().map(|s| s.endpoints.len()).sum();
            println!(
                "ok: {file}: scenario \"{}\", {} services, {endpoints} endpoints, {} breakers, {} faults",
                scenario.name,
                scenario.services.len(),
                scenario.breakers.len(),
                scenario.faults.len()
            );
            if let Some(description) = built.description {
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

/// Writes beside the target and renames, so a reader never sees half a report.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let file_name = path
        .file_name()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file path"))?;
    let mut temporary_name = std::ffi::OsString::from(".");
    temporary_name.push(file_name);
    temporary_name.push(".partial");
    let temporary = path.with_file_name(temporary_name);
    std::fs::write(&temporary, bytes)?;
    std::fs::rename(&temporary, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&temporary);
    })
}
