//! Files the CLI writes: reports and CSV tables. Nothing is ever left half written:
//! each file is written under a temporary name beside its target and renamed into
//! place, and a set of CSV files appears together or not at all.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use models::{Observer, RequestRecord};

use crate::render::Report;

/// Writes beside the target and renames, so a reader never sees half a file.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let temporary = temporary_path(path)?;
    let written =
        std::fs::write(&temporary, bytes).and_then(|()| std::fs::rename(&temporary, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written
}

/// Fails now, before any run, if a file cannot be created where `path` would go
/// (leaving nothing there).
pub fn check_writable(path: &Path) -> std::io::Result<()> {
    let temporary = temporary_path(path)?;
    std::fs::write(&temporary, b"")?;
    std::fs::remove_file(&temporary)
}

/// Writes every file under its temporary name, then renames them all: a reader
/// finds all of them new or none (a failed write removes what it had staged).
pub fn write_together(files: Vec<(PathBuf, Vec<u8>)>) -> Result<(), String> {
    let staged = stage(files)?;
    commit(&staged)
}

/// Writes each file beside its target; on failure, removes those already written.
fn stage(files: Vec<(PathBuf, Vec<u8>)>) -> Result<Vec<(PathBuf, PathBuf)>, String> {
    let mut staged: Vec<(PathBuf, PathBuf)> = Vec::new();
    for (target, bytes) in files {
        let written = temporary_path(&target)
            .and_then(|staging| std::fs::write(&staging, bytes).map(|()| staging));
        match written {
            Ok(staging) => staged.push((staging, target)),
            Err(error) => {
                discard(&staged);
                return Err(format!("{}: {error}", target.display()));
            }
        }
    }
    Ok(staged)
}

fn discard(staged: &[(PathBuf, PathBuf)]) {
    for (staging, _) in staged {
        let _ = std::fs::remove_file(staging);
    }
}

fn commit(staged: &[(PathBuf, PathBuf)]) -> Result<(), String> {
    for (staging, target) in staged {
        std::fs::rename(staging, target).map_err(|e| format!("{}: {e}", target.display()))?;
    }
    Ok(())
}

/// Creates the directory `path` for an option's files if needed and checks that
/// files can be written in it, before any run; refuses a non-empty one unless
/// `non_empty_ok`.
pub fn prepare_dir(option: &str, path: &Path, non_empty_ok: bool) -> Result<(), String> {
    let shown = path.display();
    if path.exists() {
        if !path.is_dir() {
            return Err(format!("{option} {shown}: exists and is not a directory"));
        }
        let mut entries = std::fs::read_dir(path)
            .map_err(|e| format!("{option} {shown}: cannot read it: {e}"))?;
        if entries.next().is_some() && !non_empty_ok {
            return Err(format!(
                "{option} {shown}: the directory is not empty; pass --force to overwrite its files"
            ));
        }
    } else {
        std::fs::create_dir_all(path)
            .map_err(|e| format!("{option} {shown}: cannot create it: {e}"))?;
    }
    // Fail now, not after the runs, if nothing can be written here.
    let probe = path.join(".cascade-write-check");
    std::fs::write(&probe, b"")
        .map_err(|e| format!("{option} {shown}: cannot write in it: {e}"))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

fn temporary_path(path: &Path) -> std::io::Result<PathBuf> {
    let file_name = path
        .file_name()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file path"))?;
    let mut name = std::ffi::OsString::from(".");
    name.push(file_name);
    name.push(".partial");
    Ok(path.with_file_name(name))
}

/// A directory for CSV output, checked before any run starts.
pub struct CsvDir {
    path: PathBuf,
}

impl CsvDir {
    /// Creates `path` if needed; refuses a non-empty one unless `force`.
    pub fn prepare(path: &Path, force: bool) -> Result<CsvDir, String> {
        prepare_dir("--csv", path, force)?;
        Ok(CsvDir {
            path: path.to_path_buf(),
        })
    }

    pub fn trace_writer(&self) -> Result<TraceWriter, String> {
        TraceWriter::create(&self.path.join("requests.csv"))
    }

    /// Writes stats.csv, timeseries.csv and transitions.csv (and moves a finished
    /// trace into place), all or none.
    pub fn write(&self, report: &Report, trace: Option<TraceWriter>) -> Result<(), String> {
        let files = vec![
            (self.path.join("stats.csv"), stats_csv(report)),
            (self.path.join("timeseries.csv"), timeseries_csv(report)),
            (self.path.join("transitions.csv"), transitions_csv(report)),
        ];
        // A trace not handed over removes its own staging file when dropped.
        let mut staged = stage(files).map_err(|e| format!("cannot write the CSV files: {e}"))?;
        if let Some(trace) = trace {
            match trace.finish() {
                Ok(pair) => staged.push(pair),
                Err(error) => {
                    discard(&staged);
                    return Err(format!("cannot write the CSV files: {error}"));
                }
            }
        }
        commit(&staged)
    }
}

fn csv_bytes(header: &[String], rows: Vec<Vec<String>>) -> Vec<u8> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(header).expect("writing to memory");
    for row in rows {
        writer.write_record(&row).expect("writing to memory");
    }
    writer.into_inner().expect("writing to memory")
}

/// Locust's stats columns where they apply, plus the degraded count.
fn stats_csv(report: &Report) -> Vec<u8> {
    let header = [
        "Variant",
        "Type",
        "Name",
        "Request Count",
        "Failure Count",
        "Degraded Count",
        "Median Response Time",
        "Average Response Time",
        "Min Response Time",
        "Max Response Time",
        "Requests/s",
        "Failures/s",
        "50%",
        "66%",
        "75%",
        "80%",
        "90%",
        "95%",
        "98%",
        "99%",
        "99.9%",
        "99.99%",
        "100%",
    ];
    let rows = report
        .variants
        .iter()
        .map(|run| {
            let l = &run.latency_ms;
            let failures_per_s = if run.completed == 0 {
                0.0
            } else {
                models::report::round_to(
                    run.throughput_rps * run.failures as f64 / run.completed as f64,
                    3,
                )
            };
            let mut row = vec![
                run.name.clone(),
                "GET".into(),
                run.target.clone(),
                run.completed.to_string(),
                run.failures.to_string(),
                run.degraded.to_string(),
            ];
            row.extend(
                [
                    l.p50,
                    l.mean,
                    l.min,
                    l.max,
                    run.throughput_rps,
                    failures_per_s,
                    l.p50,
                    l.p66,
                    l.p75,
                    l.p80,
                    l.p90,
                    l.p95,
                    l.p98,
                    l.p99,
                    l.p99_9,
                    l.p99_99,
                    l.max,
                ]
                .iter()
                .map(f64::to_string),
            );
            row
        })
        .collect();
    csv_bytes(&header.map(String::from), rows)
}

/// Services and breakers become columns; a name missing from a variant is blank.
fn timeseries_csv(report: &Report) -> Vec<u8> {
    let mut service_names: Vec<String> = Vec::new();
    let mut breaker_names: Vec<String> = Vec::new();
    for run in &report.variants {
        for service in &run.services {
            if !service_names.contains(&service.name) {
                service_names.push(service.name.clone());
            }
        }
        for breaker in &run.breakers {
            if !breaker_names.contains(&breaker.name) {
                breaker_names.push(breaker.name.clone());
            }
        }
    }
    let mut header: Vec<String> = [
        "variant",
        "start_s",
        "end_s",
        "requests",
        "ok",
        "degraded",
        "failures",
        "rejected",
        "latency_mean_ms",
        "latency_p50_ms",
        "latency_p95_ms",
        "latency_p99_ms",
        "in_flight",
    ]
    .map(String::from)
    .to_vec();
    header.extend(service_names.iter().map(|name| format!("busy:{name}")));
    header.extend(service_names.iter().map(|name| format!("queue:{name}")));
    header.extend(breaker_names.iter().map(|name| format!("breaker:{name}")));
    let mut rows = Vec::new();
    for run in &report.variants {
        let windows = &run.timeline.windows;
        for (index, window) in windows.iter().enumerate() {
            let end_ms = windows
                .get(index + 1)
                .map_or(report.duration_s * 1000.0, |next| next.start_ms);
            let mut row = vec![
                run.name.clone(),
                (window.start_ms / 1000.0).to_string(),
                (end_ms / 1000.0).to_string(),
                window.completed.to_string(),
                window.ok.to_string(),
                window.degraded.to_string(),
                window.failed.to_string(),
                window.rejected.to_string(),
                window.latency_mean_ms.to_string(),
                window.latency_p50_ms.to_string(),
                window.latency_p95_ms.to_string(),
                window.latency_p99_ms.to_string(),
                window.in_flight.to_string(),
            ];
            let column = |values: &[f64], name: &String| {
                run.services
                    .iter()
                    .position(|s| &s.name == name)
                    .map_or(String::new(), |i| values[i].to_string())
            };
            row.extend(
                service_names
                    .iter()
                    .map(|name| column(&window.busy_mean, name)),
            );
            row.extend(
                service_names
                    .iter()
                    .map(|name| column(&window.queue_mean, name)),
            );
            row.extend(breaker_names.iter().map(|name| {
                run.breakers
                    .iter()
                    .position(|b| &b.name == name)
                    .map_or(String::new(), |i| window.breaker_states[i].to_string())
            }));
            rows.push(row);
        }
    }
    csv_bytes(&header, rows)
}

fn transitions_csv(report: &Report) -> Vec<u8> {
    let header = ["variant", "breaker", "at_ms", "from", "to"].map(String::from);
    let rows = report
        .variants
        .iter()
        .flat_map(|run| {
            run.breakers.iter().flat_map(move |breaker| {
                breaker.transitions.iter().map(move |t| {
                    vec![
                        run.name.clone(),
                        breaker.name.clone(),
                        t.at_ms.to_string(),
                        t.from.into(),
                        t.to.into(),
                    ]
                })
            })
        })
        .collect();
    csv_bytes(&header, rows)
}

/// Streams one row per finished request to `requests.csv` (under a temporary name
/// until the runs are done), so a trace costs no memory however long the run.
pub struct TraceWriter {
    writer: csv::Writer<BufWriter<File>>,
    staging: PathBuf,
    target: PathBuf,
    variant: String,
    error: Option<String>,
    /// Set once the staging file is handed over to be renamed into place.
    handed_over: bool,
}

impl TraceWriter {
    fn create(target: &Path) -> Result<TraceWriter, String> {
        let staging = temporary_path(target).map_err(|e| e.to_string())?;
        let file = File::create(&staging).map_err(|e| format!("{}: {e}", staging.display()))?;
        let mut writer = csv::Writer::from_writer(BufWriter::new(file));
        writer
            .write_record([
                "variant",
                "request",
                "user",
                "issued_ms",
                "ended_ms",
                "latency_ms",
                "outcome",
                "status",
            ])
            .map_err(|e| e.to_string())?;
        Ok(TraceWriter {
            writer,
            staging,
            target: target.to_path_buf(),
            variant: String::new(),
            error: None,
            handed_over: false,
        })
    }

    pub fn start_variant(&mut self, name: &str) {
        self.variant = name.to_string();
    }

    fn finish(mut self) -> Result<(PathBuf, PathBuf), String> {
        let flushed = self.writer.flush().map_err(|e| e.to_string());
        match (self.error.take(), flushed) {
            (Some(error), _) | (None, Err(error)) => {
                Err(format!("{}: {error}", self.target.display()))
            }
            (None, Ok(())) => {
                self.handed_over = true;
                Ok((self.staging.clone(), self.target.clone()))
            }
        }
    }
}

impl Observer for TraceWriter {
    fn request_ended(&mut self, record: &RequestRecord) {
        if self.error.is_some() {
            return;
        }
        let ms = |t: sim_core::SimTime| models::report::round_to(t.as_millis_f64(), 3).to_string();
        let latency =
            models::report::round_to(record.ended.since(record.issued).as_millis_f64(), 3);
        let row = [
            self.variant.clone(),
            record.id.to_string(),
            record.user.map_or(String::new(), |user| user.to_string()),
            ms(record.issued),
            ms(record.ended),
            latency.to_string(),
            record.outcome.to_string(),
            record.status.to_string(),
        ];
        if let Err(error) = self.writer.write_record(&row) {
            self.error = Some(error.to_string());
        }
    }
}

/// A trace that is not handed over (its runs failed, or writing it did) leaves no
/// staging file behind.
impl Drop for TraceWriter {
    fn drop(&mut self) {
        if !self.handed_over {
            let _ = std::fs::remove_file(&self.staging);
        }
    }
}

/// Flushes standard output, mapping a closed pipe to an error message.
pub fn print(text: &str) -> Result<(), String> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(|e| format!("cannot write to standard output: {e}"))
}
