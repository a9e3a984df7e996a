//! `cascade sweep`: the cartesian product of parameter values, each point run
//! `replications` times (seeds `seed`, `seed+1`, ...), reported as one CSV row per
//! point and variant with the mean and 95 % confidence half-width of every metric.
//!
//! Runs spread over threads; each result lands in the slot of its (point, variant,
//! replication), and rows are written in point order, so the bytes never depend on
//! the number of threads or the order runs finish in. `--shard K/N` keeps the points
//! whose index is K-1 modulo N; `cascade merge` puts shards back into exactly the
//! file an unsharded sweep writes. Only the metrics of each run are kept, never the
//! run's history, so memory grows with points × replications, not with run length.

pub mod values;

use models::RunReport;
use toml::Value;

use crate::scenario::overrides::Override;
use crate::scenario::{experiment_from_str, Variant};
use crate::validate::mean_and_half_width;

/// One swept parameter.
#[derive(Clone, Debug)]
pub struct Dimension {
    pub path: String,
    pub values: Vec<Value>,
}

impl Dimension {
    /// Parses `PATH=VALUES`.
    pub fn parse(argument: &str) -> Result<Dimension, String> {
        let Some((path, values)) = argument.split_once('=') else {
            return Err(format!(
                "--set {argument}: expected PATH=VALUES, e.g. --set breakers.recs.failures=1..10"
            ));
        };
        let values = values::parse_values(values).map_err(|e| format!("--set {argument}: {e}"))?;
        Ok(Dimension {
            path: path.trim().to_string(),
            values,
        })
    }
}

/// `K/N`, 1-based.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl Shard {
    pub fn parse(text: &str) -> Result<Shard, String> {
        let parsed = text.split_once('/').and_then(|(k, n)| {
            Some((k.trim().parse::<u64>().ok()?, n.trim().parse::<u64>().ok()?))
        });
        match parsed {
            Some((index, count)) if count >= 1 && (1..=count).contains(&index) => {
                Ok(Shard { index, count })
            }
            Some((index, count)) => Err(format!(
                "--shard {text}: K must be from 1 to N, got {index}/{count}"
            )),
            None => Err(format!("--shard {text}: expected K/N, e.g. --shard 2/4")),
        }
    }

    fn keeps(self, point: u64) -> bool {
        point % self.count == self.index - 1
    }
}

/// What each run contributes to its row.
pub const METRICS: [&str; 9] = [
    "requests",
    "failure_pct",
    "degraded_pct",
    "mean_ms",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "max_ms",
    "throughput_rps",
];

fn metrics_of(run: &RunReport) -> [f64; 9] {
    let percent = |part: u64| {
        if run.completed == 0 {
            0.0
        } else {
            100.0 * part as f64 / run.completed as f64
        }
    };
    let l = &run.latency_ms;
    [
        run.completed as f64,
        percent(run.failures),
        percent(run.degraded),
        l.mean,
        l.p50,
        l.p95,
        l.p99,
        l.max,
        run.throughput_rps,
    ]
}

/// Whether a higher value of the metric is better (throughput) or worse (the rest).
fn higher_is_better(metric: &str) -> bool {
    metric == "throughput_rps"
}

pub struct Sweep {
    pub dimensions: Vec<Dimension>,
    pub replications: u32,
    pub seed: Option<u64>,
    pub shard: Option<Shard>,
    pub jobs: usize,
}

/// One point of the sweep, built and checked.
struct Point {
    index: u64,
    values: Vec<String>,
    variants: Vec<Variant>,
}

pub struct SweepResult {
    pub csv: Vec<u8>,
    /// (point index, variant, parameter values, metric means)
    pub rows: Vec<(u64, String, Vec<String>, [f64; 9])>,
    pub runs: usize,
}

pub fn point_count(dimensions: &[Dimension]) -> Result<u64, String> {
    dimensions.iter().try_fold(1u64, |count, dimension| {
        count
            .checked_mul(dimension.values.len() as u64)
            .filter(|&count| count <= POINTS_MAX)
            .ok_or_else(|| format!("the sweep has more than {POINTS_MAX} points"))
    })
}

/// Points in one sweep.
const POINTS_MAX: u64 = 1_000_000;

/// The values of point `index`: the first dimension varies slowest.
fn values_of(dimensions: &[Dimension], mut index: u64) -> Vec<&Value> {
    let mut values = Vec::with_capacity(dimensions.len());
    for dimension in dimensions.iter().rev() {
        let n = dimension.values.len() as u64;
        values.push(&dimension.values[(index % n) as usize]);
        index /= n;
    }
    values.reverse();
    values
}

fn value_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// Builds every point of the sweep (so that a bad value fails before any run),
/// keeping those of this shard.
fn build_points(path: &str, source: &str, sweep: &Sweep) -> Result<Vec<Point>, String> {
    let count = point_count(&sweep.dimensions)?;
    let mut points = Vec::new();
    for index in 0..count {
        let values = values_of(&sweep.dimensions, index);
        let sets: Vec<Override> = sweep
            .dimensions
            .iter()
            .zip(&values)
            .map(|(dimension, value)| Override {
                path: dimension.path.clone(),
                value: Some((*value).clone()),
            })
            .collect();
        let experiment = experiment_from_str(path, source, &sets).map_err(|error| {
            let shown: Vec<String> = sets
                .iter()
                .zip(&values)
                .map(|(s, v)| format!("{}={}", s.path, value_text(v)))
                .collect();
            format!(
                "point {index} ({}): {}",
                shown.join(", "),
                error.rendered.trim_end().trim_start_matches("error: ")
            )
        })?;
        if sweep.shard.is_none_or(|shard| shard.keeps(index)) {
            points.push(Point {
                index,
                values: values.iter().map(|v| value_text(v)).collect(),
                variants: experiment.variants,
            });
        }
    }
    Ok(points)
}

pub fn run(
    path: &str,
    source: &str,
    sweep: &Sweep,
    progress: &indicatif::ProgressBar,
) -> Result<SweepResult, String> {
    if sweep.replications == 0 {
        return Err("--replications must be at least 1".into());
    }
    let points = build_points(path, source, sweep)?;
    // Every run: (point position, variant, replication).
    let tasks: Vec<(usize, usize, u32)> = points
        .iter()
        .enumerate()
        .flat_map(|(p, point)| {
            (0..point.variants.len())
                .flat_map(move |v| (0..sweep.replications).map(move |r| (p, v, r)))
        })
        .collect();
    progress.set_length(tasks.len() as u64);
    let results: Vec<Option<[f64; 9]>> =
        crate::parallel::map_in_order(&tasks, sweep.jobs, |&(p, v, r)| {
            let mut scenario = points[p].variants[v].scenario.clone();
            scenario.seed = sweep
                .seed
                .unwrap_or(scenario.seed)
                .wrapping_add(u64::from(r));
            let metrics = metrics_of(&models::simulate(&scenario));
            progress.inc(1);
            Some(metrics)
        });
    let mut header: Vec<String> = vec!["point".into(), "variant".into()];
    header.extend(sweep.dimensions.iter().map(|d| d.path.clone()));
    for metric in METRICS {
        header.push(metric.to_string());
        if sweep.replications > 1 {
            header.push(format!("{metric}_ci95"));
        }
    }
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(&header).map_err(|e| e.to_string())?;
    let mut rows = Vec::new();
    let mut task = 0;
    for point in &points {
        for variant in &point.variants {
            let runs: Vec<[f64; 9]> = (0..sweep.replications)
                .map(|_| {
                    task += 1;
                    results[task - 1].expect("every run finished")
                })
                .collect();
            let mut record = vec![point.index.to_string(), variant.name.clone()];
            record.extend(point.values.iter().cloned());
            let mut means = [0.0; 9];
            for (m, mean_slot) in means.iter_mut().enumerate() {
                let samples: Vec<f64> = runs.iter().map(|run| run[m]).collect();
                let (mean, half_width) = mean_and_half_width(&samples);
                *mean_slot = mean;
                record.push(format!("{mean:.6}"));
                if sweep.replications > 1 {
                    record.push(format!("{half_width:.6}"));
                }
            }
            writer.write_record(&record).map_err(|e| e.to_string())?;
            rows.push((
                point.index,
                variant.name.clone(),
                point.values.clone(),
                means,
            ));
        }
    }
    let csv = writer.into_inner().map_err(|e| e.to_string())?;
    Ok(SweepResult {
        csv,
        rows,
        runs: tasks.len(),
    })
}

/// The metric an `--objective` names: `p99` or `p99_ms`, `failure` or
/// `failure_pct`, `throughput` or `throughput_rps`.
pub fn objective_column(objective: &str) -> Result<usize, String> {
    METRICS
        .iter()
        .position(|m| *m == objective || m.split('_').next() == Some(objective))
        .ok_or_else(|| {
            format!(
                "--objective {objective}: expected one of {}",
                METRICS.join(", ")
            )
        })
}

/// The best and worst rows for `objective`, for the terminal.
pub fn summary(
    result: &SweepResult,
    dimensions: &[Dimension],
    objective: &str,
    shown: usize,
) -> Result<String, String> {
    let column = objective_column(objective)?;
    let metric = METRICS[column];
    let mut order: Vec<usize> = (0..result.rows.len()).collect();
    order.sort_by(|&a, &b| {
        let (x, y) = (result.rows[a].3[column], result.rows[b].3[column]);
        let ordering = x.total_cmp(&y);
        if higher_is_better(metric) {
            ordering.reverse()
        } else {
            ordering
        }
        .then(a.cmp(&b))
    });
    let describe = |row: usize| {
        let (point, variant, values, means) = &result.rows[row];
        let parameters: Vec<String> = dimensions
            .iter()
            .zip(values)
            .map(|(d, v)| format!("{}={v}", d.path))
            .collect();
        format!(
            "  {metric} {:>12.3}  point {point} ({variant}): {}",
            means[column],
            parameters.join(", ")
        )
    };
    let mut out = format!(
        "{} points × variants, {} runs; best {metric}:\n",
        result.rows.len(),
        result.runs
    );
    for &row in order.iter().take(shown) {
        out.push_str(&describe(row));
        out.push('\n');
    }
    out.push_str(&format!("worst {metric}:\n"));
    for &row in order.iter().rev().take(shown) {
        out.push_str(&describe(row));
        out.push('\n');
    }
    Ok(out)
}

/// Joins shard files into the file the whole sweep would have written.
pub fn merge(paths: &[String]) -> Result<Vec<u8>, String> {
    let mut header: Option<csv::StringRecord> = None;
    let mut rows: Vec<(u64, usize, csv::StringRecord)> = Vec::new();
    for path in paths {
        let mut reader = csv::Reader::from_path(path).map_err(|e| format!("{path}: {e}"))?;
        let this = reader
            .headers()
            .map_err(|e| format!("{path}: {e}"))?
            .clone();
        match &header {
            None => header = Some(this),
            Some(first) if *first != this => {
                return Err(format!(
                    "{path}: its columns differ from {}'s: not a shard of the same sweep",
                    paths[0]
                ));
            }
            Some(_) => {}
        }
        for (line, record) in reader.records().enumerate() {
            let record = record.map_err(|e| format!("{path}: {e}"))?;
            let point = record
                .get(0)
                .and_then(|p| p.parse::<u64>().ok())
                .ok_or_else(|| {
                    format!(
                        "{path}:{}: the first column is not a point number",
                        line + 2
                    )
                })?;
            rows.push((point, rows.len(), record));
        }
    }
    let header = header.ok_or("merge needs at least one shard file")?;
    // Stable by point: a point's variants keep their order.
    rows.sort_by_key(|&(point, arrival, _)| (point, arrival));
    let mut points: Vec<u64> = rows.iter().map(|(p, _, _)| *p).collect();
    points.dedup();
    if let Some(missing) = (0..points.len() as u64).find(|p| points.binary_search(p).is_err()) {
        return Err(format!(
            "point {missing} is in none of the files: is a shard missing?"
        ));
    }
    let mut seen_twice = rows
        .windows(2)
        .filter(|w| w[0].0 == w[1].0 && w[0].2 == w[1].2);
    if let Some(pair) = seen_twice.next() {
        return Err(format!(
            "point {} appears twice: was a shard given twice?",
            pair[0].0
        ));
    }
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(&header).map_err(|e| e.to_string())?;
    for (_, _, record) in rows {
        writer.write_record(&record).map_err(|e| e.to_string())?;
    }
    writer.into_inner().map_err(|e| e.to_string())
}
