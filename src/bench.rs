//! `cascade bench`: speed and memory of the engine and of whole scenarios. Each case
//! runs in a child process of its own, so that its peak memory is its own.

use std::time::Instant;

use crate::scenario::overrides::Override;

/// (name, what it measures)
pub const CASES: [(&str, &str); 6] = [
    ("engine", "hold model, 10,000 pending events, 2*10^7 events"),
    (
        "gateway",
        "gateway-with-breaker as in the seed: 100 users, 2 min",
    ),
    (
        "gateway-10k-5m",
        "the same with 10,000 users, 5 simulated minutes",
    ),
    (
        "gateway-10k-10m",
        "the same with 10,000 users, 10 simulated minutes",
    ),
    ("mmc-1e6", "M/M/10 at rho 0.9, 10^6 customers"),
    ("mmc-1e7", "M/M/10 at rho 0.9, 10^7 customers"),
];

pub struct Measurement {
    pub wall_s: f64,
    pub events: u64,
    /// Requests completed (customers, for M/M/c); 0 for the engine alone.
    pub requests: u64,
}

fn scenario_with(path: &str, sets: &[(&str, &str)]) -> Result<models::Scenario, String> {
    let sets: Vec<Override> = sets
        .iter()
        .map(|(path, value)| Override::from_cli(&format!("{path}={value}")))
        .collect::<Result<_, _>>()?;
    let experiment = crate::scenario::load_experiment(path, &sets).map_err(|e| e.rendered)?;
    Ok(experiment
        .variants
        .into_iter()
        .next()
        .expect("one variant")
        .scenario)
}

fn time_scenario(scenario: &models::Scenario) -> Measurement {
    let start = Instant::now();
    let report = models::simulate(scenario);
    Measurement {
        wall_s: start.elapsed().as_secs_f64(),
        events: report.events,
        requests: report.completed,
    }
}

pub fn run_case(name: &str) -> Result<Measurement, String> {
    let gateway = "scenarios/gateway-with-breaker.toml";
    let big = |duration: &str| {
        scenario_with(
            gateway,
            &[
                ("load.users", "10000"),
                ("load.spawn_rate", "1000"),
                ("scenario.duration", duration),
            ],
        )
    };
    let mmc = |customers: u64| {
        // 9 arrivals a second; the horizon is set to reach the customers.
        let seconds = customers / 9;
        let duration = format!("{seconds}s");
        scenario_with(
            "scenarios/validation/mmc.toml",
            &[("scenario.duration", &duration), ("scenario.warmup", "0s")],
        )
    };
    match name {
        "engine" => {
            let events = 20_000_000;
            let start = Instant::now();
            let checksum = sim_core::hold::hold_model(10_000, events, 1);
            std::hint::black_box(checksum);
            Ok(Measurement {
                wall_s: start.elapsed().as_secs_f64(),
                events,
                requests: 0,
            })
        }
        "gateway" => Ok(time_scenario(&scenario_with(gateway, &[])?)),
        "gateway-10k-5m" => Ok(time_scenario(&big("5m")?)),
        "gateway-10k-10m" => Ok(time_scenario(&big("10m")?)),
        "mmc-1e6" => Ok(time_scenario(&mmc(1_000_000)?)),
        "mmc-1e7" => Ok(time_scenario(&mmc(10_000_000)?)),
        other => Err(format!(
            "no bench case `{other}`; cases: {}",
            CASES.map(|(n, _)| n).join(", ")
        )),
    }
}

/// Peak resident memory of this process, from Linux's /proc (None elsewhere).
pub fn peak_memory_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}
