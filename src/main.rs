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
    Run(RunArgs),
    /// List the scenarios in a directory, each with its one-line description.
    List {
        /// Directory of scenario files.
        #[arg(default_value = "scenarios")]
        dir: String,
    },
    /// Validate a scenario file (and its variants) without running it.
    Check {
        /// Scenario file (TOML).
        file: String,
    },
    /// Run a scenario over the cartesian product of parameter values, with
    /// replications, and write one CSV row per point (and variant).
    Sweep(SweepArgs),
    /// Follow one user request hop by hop on the virtual clock: queued, started,
    /// calls, timeouts, breaker rejections, retries, fallbacks, answers.
    Trace(TraceArgs),
    /// Join the CSV files of a sharded sweep into the file the whole sweep writes.
    Merge {
        /// Shard CSV files.
        #[arg(required = true)]
        files: Vec<String>,
        /// Write the merged CSV here instead of standard output.
        #[arg(long)]
        out: Option<String>,
    },
    /// Measure speed and memory: the engine alone, and whole scenarios (run from
    /// the repository; each case runs in its own process).
    Bench {
        /// Cases to run (default: all): engine, gateway, gateway-10k-5m,
        /// gateway-10k-10m, mmc-1e6, mmc-1e7.
        only: Vec<String>,
        /// Run each case this many times and report the fastest run.
        #[arg(long, default_value_t = 1)]
        repeat: u32,
        /// Run one case in this process and print its line (used by `bench` itself).
        #[arg(long, hide = true)]
        case: Option<String>,
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

#[derive(clap::Args)]
struct RunArgs {
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
    /// Threads for the variants (default: all cores); the report does not depend on it.
    #[arg(long)]
    jobs: Option<usize>,
    /// Also write a self-contained HTML report with charts to FILE (atomically).
    #[arg(long, value_name = "FILE")]
    html: Option<String>,
    /// Also write each chart as an SVG file into DIR (created if needed; files of
    /// the same names are replaced, all together).
    #[arg(long, value_name = "DIR")]
    svg: Option<String>,
}

#[derive(clap::Args)]
struct TraceArgs {
    /// Scenario file (TOML).
    file: String,
    /// The request to follow: the N-th issued, from 1 (the `request` column of
    /// requests.csv).
    #[arg(long, value_name = "N")]
    request: u64,
    /// The variant to run (default: the first, or the scenario itself).
    #[arg(long, value_name = "NAME")]
    variant: Option<String>,
    /// Override the scenario's seed.
    #[arg(long)]
    seed: Option<u64>,
    /// Override a value by dotted path, as for `run` (repeatable).
    #[arg(long = "set", value_name = "PATH=VALUE")]
    sets: Vec<String>,
}

#[derive(clap::Args)]
struct SweepArgs {
    /// Scenario file (TOML).
    file: String,
    /// A swept parameter: PATH=VALUES, with VALUES a list (1,3,5), an integer
    /// range (1..10, 1..10:2) or a duration range (500ms..10s:500ms). Repeatable.
    #[arg(long = "set", value_name = "PATH=VALUES", required = true)]
    sets: Vec<String>,
    /// Runs per point, with seeds seed, seed+1, ...
    #[arg(long, default_value_t = 1)]
    replications: u32,
    /// Override the scenario's seed.
    #[arg(long)]
    seed: Option<u64>,
    /// Write the CSV here (atomically) instead of standard output.
    #[arg(long)]
    out: Option<String>,
    /// Metric for the best/worst summary: mean, p50, p95, p99, max, failure,
    /// degraded, throughput, requests.
    #[arg(long, default_value = "p99")]
    objective: String,
    /// Threads (default: all cores); the output does not depend on it.
    #[arg(long)]
    jobs: Option<usize>,
    /// Run only the K-th of N disjoint slices of the points (1-based), e.g. 2/4.
    #[arg(long, value_name = "K/N")]
    shard: Option<String>,
    /// Also write an HTML page (atomically): a heatmap of the objective for two
    /// swept parameters, line charts with confidence bands for one, best and worst.
    #[arg(long, value_name = "FILE")]
    html: Option<String>,
    /// Also write those charts as SVG files into DIR.
    #[arg(long, value_name = "DIR")]
    svg: Option<String>,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Text,
    Json,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run(args) => run(args),
        Command::Check { file } => check(&file),
        Command::List { dir } => list(&dir),
        Command::Validate {
            files,
            replications,
            customers,
            jobs,
        } => validate(files, replications, customers, jobs),
        Command::Sweep(args) => sweep(args),
        Command::Merge { files, out } => merge(&files, out.as_deref()),
        Command::Trace(args) => trace(args),
        Command::Bench { only, repeat, case } => bench(case.as_deref(), &only, repeat),
    }
}

fn sweep(args: SweepArgs) -> ExitCode {
    use cascade::sweep::{self, Dimension, Shard};
    let dimensions: Result<Vec<Dimension>, String> =
        args.sets.iter().map(|s| Dimension::parse(s)).collect();
    let dimensions = match dimensions {
        Ok(dimensions) => dimensions,
        Err(message) => return input_error(&format!("error: {message}\n")),
    };
    let shard = match args.shard.as_deref().map(Shard::parse).transpose() {
        Ok(shard) => shard,
        Err(message) => return input_error(&format!("error: {message}\n")),
    };
    let objective = match sweep::objective_column(&args.objective) {
        Ok(column) => column,
        Err(message) => return input_error(&format!("error: {message}\n")),
    };
    if let Some(option) = picture_option(args.html.as_deref(), args.svg.as_deref()) {
        if let Err(message) = render::sweep::check_drawable(&dimensions, option) {
            return input_error(&format!("error: {message}\n"));
        }
        if shard.is_some() {
            return input_error(&format!(
                "error: {option} draws the whole sweep, and --shard runs only part of it; \
                 drop one of them (or merge the shards' CSV files)\n"
            ));
        }
    }
    if let Err(message) = check_pictures(args.html.as_deref(), args.svg.as_deref()) {
        return picture_error(message);
    }
    let source = match std::fs::read_to_string(&args.file) {
        Ok(source) => source,
        Err(error) => {
            return input_error(&format!(
                "error: {}: cannot read the scenario file: {error}\n",
                args.file
            ))
        }
    };
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from));
    let spec = sweep::Sweep {
        dimensions,
        replications: args.replications,
        seed: args.seed,
        shard,
        jobs,
    };
    // indicatif draws only on a terminal, so pipes and CI logs stay clean.
    let progress = indicatif::ProgressBar::new(0).with_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} runs, {eta} left")
            .expect("a valid template"),
    );
    let result = match sweep::run(&args.file, &source, &spec, &progress) {
        Ok(result) => result,
        Err(message) => return input_error(&format!("error: {message}\n")),
    };
    progress.finish_and_clear();
    let summary = sweep::summary(&result, &spec.dimensions, &args.objective, 3)
        .expect("objective checked above");
    if args.html.is_some() || args.svg.is_some() {
        let info = render::sweep::SweepInfo {
            scenario: &args.file,
            dimensions: &spec.dimensions,
            objective,
            replications: spec.replications,
        };
        let page = render::sweep::sweep_page(&result, &info);
        if let Err(message) = write_pictures(args.html.as_deref(), args.svg.as_deref(), page) {
            return output_error(&message);
        }
    }
    match &args.out {
        Some(path) => {
            if let Err(error) = output::write_atomically(Path::new(path), &result.csv) {
                return output_error(&format!("{path}: cannot write the sweep: {error}"));
            }
            if let Err(message) = output::print(&summary) {
                return output_error(&message);
            }
        }
        None => {
            if let Err(message) = output::print(&String::from_utf8_lossy(&result.csv)) {
                return output_error(&message);
            }
            eprint!("{summary}");
        }
    }
    ExitCode::SUCCESS
}

/// The file with `--set` overrides applied; a bad override or file is reported as
/// an input error.
fn load_with_sets(file: &str, sets: &[String]) -> Result<scenario::Experiment, ExitCode> {
    let sets: Vec<Override> = sets
        .iter()
        .map(|s| Override::from_cli(s))
        .collect::<Result<_, _>>()
        .map_err(|message| input_error(&format!("error: {message}\n")))?;
    scenario::load_experiment(file, &sets).map_err(|error| input_error(&error.rendered))
}

fn trace(args: TraceArgs) -> ExitCode {
    let experiment = match load_with_sets(&args.file, &args.sets) {
        Ok(experiment) => experiment,
        Err(code) => return code,
    };
    let variant = match &args.variant {
        None => &experiment.variants[0],
        Some(name) => match experiment.variants.iter().find(|v| &v.name == name) {
            Some(variant) => variant,
            None => {
                let names: Vec<&str> = experiment
                    .variants
                    .iter()
                    .map(|v| v.name.as_str())
                    .collect();
                return input_error(&format!(
                    "error: --variant {name}: {} has the variants {}\n",
                    args.file,
                    names.join(", ")
                ));
            }
        },
    };
    let mut scenario = variant.scenario.clone();
    if let Some(seed) = args.seed {
        scenario.seed = seed;
    }
    match cascade::trace::trace(&scenario, args.request) {
        Ok((trace, issued)) => {
            let text = cascade::trace::render(&scenario, &variant.name, &trace, issued);
            match output::print(&text) {
                Ok(()) => ExitCode::SUCCESS,
                Err(message) => output_error(&message),
            }
        }
        Err(message) => input_error(&format!("error: {message}\n")),
    }
}

fn merge(files: &[String], out: Option<&str>) -> ExitCode {
    let merged = match cascade::sweep::merge(files) {
        Ok(merged) => merged,
        Err(message) => return input_error(&format!("error: {message}\n")),
    };
    let written = match out {
        Some(path) => {
            output::write_atomically(Path::new(path), &merged).map_err(|e| format!("{path}: {e}"))
        }
        None => output::print(&String::from_utf8_lossy(&merged)),
    };
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => output_error(&message),
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
        match toml_files(dir) {
            Ok(found) => found,
            Err(error) => {
                return input_error(&format!(
                    "error: {dir}: {error} (run from the repository, or name the files)\n"
                ))
            }
        }
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
    let experiment = match load_with_sets(&args.file, &args.sets) {
        Ok(experiment) => experiment,
        Err(code) => return code,
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
    if let Err(message) = check_pictures(args.html.as_deref(), args.svg.as_deref()) {
        return picture_error(message);
    }
    let mut trace = match (&csv_dir, args.trace) {
        (Some(dir), true) => match dir.trace_writer() {
            Ok(trace) => Some(trace),
            Err(message) => return output_error(&message),
        },
        _ => None,
    };
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from));
    let report = cascade::run_experiment(&experiment, args.seed, jobs, trace.as_mut());
    if let Some(dir) = &csv_dir {
        if let Err(message) = dir.write(&report, trace) {
            return output_error(&message);
        }
    }
    if args.html.is_some() || args.svg.is_some() {
        let page = render::html::run_page(&report, &experiment);
        if let Err(message) = write_pictures(args.html.as_deref(), args.svg.as_deref(), page) {
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

/// Why a picture output cannot be written, found before any run.
enum PictureError {
    /// The HTML file's place takes no file: an output error (exit 1), as for --out.
    Html(String),
    /// The SVG directory is unusable: a bad argument (exit 2), as for --csv.
    SvgDir(String),
}

/// The first picture option given, to name in messages.
fn picture_option(html: Option<&str>, svg: Option<&str>) -> Option<&'static str> {
    match (html, svg) {
        (Some(_), _) => Some("--html"),
        (None, Some(_)) => Some("--svg"),
        (None, None) => None,
    }
}

fn check_pictures(html: Option<&str>, svg: Option<&str>) -> Result<(), PictureError> {
    if let Some(path) = html {
        output::check_writable(Path::new(path))
            .map_err(|e| PictureError::Html(format!("--html {path}: cannot write there: {e}")))?;
    }
    if let Some(dir) = svg {
        output::prepare_dir("--svg", Path::new(dir), true).map_err(PictureError::SvgDir)?;
    }
    Ok(())
}

fn picture_error(error: PictureError) -> ExitCode {
    match error {
        PictureError::Html(message) => output_error(&message),
        PictureError::SvgDir(message) => input_error(&format!("error: {message}\n")),
    }
}

/// Writes the HTML page (atomically) and the SVG files (all or none).
fn write_pictures(
    html: Option<&str>,
    svg: Option<&str>,
    page: render::html::Page,
) -> Result<(), String> {
    if let Some(dir) = svg {
        let files = page
            .charts
            .into_iter()
            .map(|chart| (Path::new(dir).join(chart.file_name), chart.svg.into_bytes()))
            .collect();
        output::write_together(files).map_err(|e| format!("cannot write the SVG files: {e}"))?;
    }
    if let Some(path) = html {
        output::write_atomically(Path::new(path), page.html.as_bytes())
            .map_err(|e| format!("{path}: cannot write the HTML report: {e}"))?;
    }
    Ok(())
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

fn bench(case: Option<&str>, only: &[String], repeat: u32) -> ExitCode {
    use cascade::bench;
    if let Some(name) = case {
        return match bench::child(name) {
            Ok(()) => ExitCode::SUCCESS,
            Err(message) => input_error(&format!("error: {message}\n")),
        };
    }
    if let Err(message) = bench::check_names(only) {
        return input_error(&format!("error: {message}\n"));
    }
    match bench::table(only, repeat) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => output_error(&message),
    }
}

fn list(dir: &str) -> ExitCode {
    let paths = match toml_files(dir) {
        Ok(paths) => paths,
        Err(error) => return input_error(&format!("error: {dir}: {error}\n")),
    };
    let mut out = String::new();
    for path in paths {
        let shown = path.as_str();
        let line = match scenario::load_experiment(shown, &[]) {
            Ok(experiment) => experiment
                .description
                .unwrap_or_else(|| "(no description)".into()),
            Err(_) => "(does not load: see cascade check)".into(),
        };
        out.push_str(&format!("{shown:<52} {line}\n"));
    }
    match output::print(&out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => output_error(&message),
    }
}

/// The scenario files of a directory, sorted by name.
fn toml_files(dir: &str) -> std::io::Result<Vec<String>> {
    let mut paths: Vec<String> = std::fs::read_dir(dir)?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
        .map(|path| path.to_string_lossy().into_owned())
        .collect();
    paths.sort();
    Ok(paths)
}
