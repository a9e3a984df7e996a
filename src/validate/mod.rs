//! `cascade validate`: the simulator against queueing theory. Each validation
//! scenario is one service under open-loop Poisson load (M/M/1, M/M/c, M/D/1, M/G/1,
//! M/M/c/c) or a closed loop of users (checked by mean-value analysis). The theory is
//! computed from the scenario's own parameters, so the file is the single source of
//! truth; each scenario is run several times with different seeds, and every
//! quantity gets a mean, a 95 % confidence interval and a verdict against its
//! stated tolerance. Little's law is checked on every run.

pub mod theory;

use std::fmt::Write as _;

use models::report::SteadyState;
use models::spec::{Capacity, LoadModel};
use models::Scenario;
use sim_core::{Distribution, SimDuration};

use theory::Prediction;

pub struct Options {
    pub replications: u32,
    /// Customers per replication, roughly: the horizon is set to reach it.
    pub customers: u64,
    /// Threads to spread replications over; results do not depend on it.
    pub jobs: usize,
}

#[derive(Clone, Debug)]
pub struct Row {
    pub model: String,
    pub quantity: &'static str,
    pub theory: f64,
    pub mean: f64,
    pub half_width: f64,
    /// Allowed relative error (absolute when the theory value is 0).
    pub tolerance: f64,
}

impl Row {
    pub fn error(&self) -> f64 {
        let scale = if self.theory == 0.0 {
            1.0
        } else {
            self.theory.abs()
        };
        (self.mean - self.theory).abs() / scale
    }

    pub fn ok(&self) -> bool {
        self.error() <= self.tolerance
    }

    pub fn covered(&self) -> bool {
        (self.mean - self.theory).abs() <= self.half_width
    }

    /// Standard error of the mean, from the 95 % half-width.
    pub fn standard_error(&self, replications: u32) -> f64 {
        self.half_width / student_t_975(replications.saturating_sub(1))
    }
}

/// Little's law on one run: L (time-averaged jobs in the service) against lambda W.
#[derive(Clone, Debug)]
pub struct LittleCheck {
    pub model: String,
    pub l: f64,
    pub lambda_w: f64,
}

impl LittleCheck {
    pub fn error(&self) -> f64 {
        (self.l - self.lambda_w).abs() / self.l.max(1e-9)
    }

    pub fn ok(&self) -> bool {
        self.error() <= LITTLE_TOLERANCE
    }
}

pub struct Validation {
    pub rows: Vec<Row>,
    /// One per replication of every model.
    pub little: Vec<LittleCheck>,
    pub replications: u32,
    pub customers: u64,
}

impl Validation {
    pub fn all_ok(&self) -> bool {
        self.rows.iter().all(Row::ok) && self.little.iter().all(LittleCheck::ok)
    }
}

/// Edge effects at the ends of a finite run keep L and lambda W from being equal;
/// over long runs they differ by far less than this.
const LITTLE_TOLERANCE: f64 = 0.01;

/// What theory says about a scenario's one service, and which quantities apply.
pub struct Model {
    pub prediction: Prediction,
    pub kind: &'static str,
}

/// Identifies the queueing model of a validation scenario from its parameters.
pub fn model_of(scenario: &Scenario) -> Result<Model, String> {
    let [service] = scenario.services.as_slice() else {
        return Err("a validation scenario has exactly one service".into());
    };
    let [endpoint] = service.endpoints.as_slice() else {
        return Err("a validation scenario's service has exactly one endpoint".into());
    };
    let [models::spec::Step::Work(work)] = endpoint.steps.as_slice() else {
        return Err("a validation endpoint has exactly one `work` step".into());
    };
    if !scenario.faults.is_empty() {
        return Err("a validation scenario has no faults".into());
    }
    if service.replicas != 1 {
        return Err("a validation service has one replica".into());
    }
    if matches!(&scenario.load.model, LoadModel::Open { schedule, .. } if !schedule.is_empty()) {
        return Err("a validation scenario's arrival rate is constant (no `schedule`)".into());
    }
    let mean = work.mean_secs();
    let Capacity::Bounded(c) = service.workers else {
        return Err("a validation service has a bounded number of workers".into());
    };
    match (&scenario.load.model, work, service.queue) {
        (LoadModel::Open { rate, .. }, Distribution::Exponential { .. }, Capacity::Unbounded) => {
            check_stable(*rate * mean, c)?;
            Ok(Model { prediction: theory::mmc(*rate, mean, c), kind: if c == 1 { "M/M/1" } else { "M/M/c" } })
        }
        (LoadModel::Open { rate, .. }, Distribution::Exponential { .. }, Capacity::Bounded(queue)) => Ok(Model {
            prediction: theory::mmck(*rate, mean, c, queue),
            kind: if queue == 0 { "M/M/c/c" } else { "M/M/c/K" },
        }),
        (LoadModel::Open { rate, .. }, _, Capacity::Unbounded) if c == 1 => {
            check_stable(*rate * mean, 1)?;
            let second = second_moment(work).ok_or("no closed form for this service distribution")?;
            let kind = if matches!(work, Distribution::Constant(_)) { "M/D/1" } else { "M/G/1" };
            Ok(Model { prediction: theory::mg1(*rate, mean, second), kind })
        }
        (LoadModel::Closed { users, wait: models::spec::Think::Sample(Distribution::Exponential { mean: think, .. }), .. }, Distribution::Exponential { .. }, Capacity::Unbounded)
            if c == 1 =>
        {
            Ok(Model { prediction: theory::mva(*users, think.as_secs_f64(), mean), kind: "closed MVA" })
        }
        _ => Err("no closed form: use M/M/c (any queue), M/G/1, or closed users with exponential think time in front of one exponential server".into()),
    }
}

fn check_stable(offered: f64, c: u32) -> Result<(), String> {
    if offered >= f64::from(c) {
        return Err(format!(
            "unstable: offered load {offered:.3} is not below {c} workers"
        ));
    }
    Ok(())
}

fn second_moment(work: &Distribution) -> Option<f64> {
    match *work {
        Distribution::Constant(value) => Some(value.as_secs_f64().powi(2)),
        Distribution::Exponential { mean, .. } => Some(2.0 * mean.as_secs_f64().powi(2)),
        Distribution::Uniform { low, high } => {
            let (a, b) = (low.as_secs_f64(), high.as_secs_f64());
            Some((a * a + a * b + b * b) / 3.0)
        }
        Distribution::LogNormal { mu, sigma, .. } => Some((2.0 * mu + 2.0 * sigma * sigma).exp()),
        Distribution::Normal { .. } => None,
    }
}

/// Runs `simulated` (whose parameters may differ from `reference`, to show that a
/// wrong model is caught) and compares it with the theory of `reference`.
pub fn validate_model(
    name: &str,
    reference: &Scenario,
    simulated: &Scenario,
    options: &Options,
) -> Result<(Vec<Row>, Vec<LittleCheck>), String> {
    let model = model_of(reference)?;
    let p = model.prediction;
    let measured = SimDuration::from_secs_f64(options.customers as f64 / p.throughput);
    let mut base = simulated.clone();
    base.duration = base.warmup + measured;
    base.window = SimDuration(base.duration.as_nanos().div_ceil(20).max(1));
    base.name = name.to_string();
    let results = run_replications(&base, options);
    let model_name = format!("{name} ({})", model.kind);
    let mut rows = Vec::new();
    let mut row =
        |quantity: &'static str, theory: f64, tolerance: f64, value: fn(&SteadyState) -> f64| {
            let samples: Vec<f64> = results.iter().map(value).collect();
            let (mean, half_width) = mean_and_half_width(&samples);
            rows.push(Row {
                model: model_name.clone(),
                quantity,
                theory,
                mean,
                half_width,
                tolerance,
            });
        };
    if !p.waited_share.is_nan() {
        row("P(wait)", p.waited_share, 0.01, |s| s.waited_share);
    }
    if p.wait_mean_s > 0.0 {
        row("mean wait (s)", p.wait_mean_s, 0.02, |s| {
            s.wait_mean_ms / 1000.0
        });
    }
    row("mean response (s)", p.response_mean_s, 0.02, |s| {
        s.response_mean_ms / 1000.0
    });
    row("utilisation", p.utilisation, 0.01, |s| {
        s.utilisation.unwrap_or(f64::NAN)
    });
    if p.blocking > 0.0 {
        row("blocking", p.blocking, 0.02, |s| s.blocking);
    }
    row("throughput (1/s)", p.throughput, 0.01, |s| s.throughput_rps);
    let little = results
        .iter()
        .map(|s| LittleCheck {
            model: model_name.clone(),
            l: s.in_system_mean,
            lambda_w: s.throughput_rps * s.response_mean_ms / 1000.0,
        })
        .collect();
    Ok((rows, little))
}

/// Replication `r` runs with seed `base + r`; the results come back in replication
/// order whatever the number of threads.
fn run_replications(base: &Scenario, options: &Options) -> Vec<SteadyState> {
    let replications: Vec<u32> = (0..options.replications).collect();
    crate::parallel::map_in_order(&replications, options.jobs, |&r| {
        let mut scenario = base.clone();
        scenario.seed = base.seed.wrapping_add(u64::from(r));
        models::simulate(&scenario).services.swap_remove(0).steady
    })
}

/// Sample mean and the half-width of its 95 % confidence interval (Student's t).
pub fn mean_and_half_width(samples: &[f64]) -> (f64, f64) {
    let n = samples.len();
    let mean = samples.iter().sum::<f64>() / n as f64;
    if n < 2 {
        return (mean, f64::INFINITY);
    }
    let variance = samples.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    (
        mean,
        student_t_975((n - 1) as u32) * (variance / n as f64).sqrt(),
    )
}

/// The 97.5 % quantile of Student's t with `df` degrees of freedom.
pub fn student_t_975(df: u32) -> f64 {
    const TABLE: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
        2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
        2.052, 2.048, 2.045, 2.042,
    ];
    match df {
        0 => f64::INFINITY,
        1..=30 => TABLE[df as usize - 1],
        _ => 1.96,
    }
}

/// Validates every scenario file in `paths`.
pub fn validate(paths: &[String], options: &Options) -> Result<Validation, String> {
    let mut rows = Vec::new();
    let mut little = Vec::new();
    for path in paths {
        let experiment = crate::scenario::load_experiment(path, &[])
            .map_err(|e| e.rendered.trim_end().to_string())?;
        let scenario = &experiment.variants[0].scenario;
        let (mut model_rows, mut model_little) =
            validate_model(&experiment.name, scenario, scenario, options)
                .map_err(|e| format!("{path}: {e}"))?;
        rows.append(&mut model_rows);
        little.append(&mut model_little);
    }
    Ok(Validation {
        rows,
        little,
        replications: options.replications,
        customers: options.customers,
    })
}

pub fn render(validation: &Validation) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} replications of about {} customers each; 95 % confidence intervals\n",
        validation.replications, validation.customers
    );
    let _ = writeln!(
        out,
        "{:<28} {:<18} {:>11} {:>11} {:>10} {:>8} {:>6}  verdict",
        "model", "quantity", "theory", "simulated", "± 95 %", "error", "limit"
    );
    for row in &validation.rows {
        let verdict = match (row.ok(), row.covered()) {
            (true, true) => "ok",
            (true, false) => "ok (outside CI)",
            (false, _) => "FAIL",
        };
        let _ = writeln!(
            out,
            "{:<28} {:<18} {:>11.5} {:>11.5} {:>10.5} {:>7.2}% {:>5.1}%  {verdict}",
            row.model,
            row.quantity,
            row.theory,
            row.mean,
            row.half_width,
            100.0 * row.error(),
            100.0 * row.tolerance
        );
    }
    let _ = writeln!(
        out,
        "\nLittle's law (L = lambda W) on every run, limit {:.1}%:",
        100.0 * LITTLE_TOLERANCE
    );
    let mut models: Vec<&str> = validation
        .little
        .iter()
        .map(|check| check.model.as_str())
        .collect();
    models.dedup();
    for model in models {
        let runs: Vec<&LittleCheck> = validation
            .little
            .iter()
            .filter(|check| check.model == model)
            .collect();
        let worst = runs.iter().map(|check| check.error()).fold(0.0, f64::max);
        let verdict = if runs.iter().all(|check| check.ok()) {
            "ok"
        } else {
            "FAIL"
        };
        let _ = writeln!(
            out,
            "  {model:<28} {} runs, worst |L - lambda W| / L = {:.4}%  {verdict}",
            runs.len(),
            100.0 * worst
        );
    }
    let verdict = if validation.all_ok() {
        "all within tolerance"
    } else {
        "SOME OUTSIDE TOLERANCE"
    };
    let _ = writeln!(out, "\n{verdict}");
    out
}
