//! `cascade bench`: speed and memory of the engine and of whole scenarios. Each case
//! runs in a child process of its own, so that its peak memory is its own.
//!
//! The time measured is the simulation's own (building the model and running it),
//! not parsing the scenario or starting the process. Besides wall time each case
//! reports the CPU time of its thread: on a shared machine the wall time of a run
//! includes waiting for a core, its CPU time does not. With `--repeat N` each case
//! runs N times and the fastest run (by wall time) is reported, the usual way to
//! take out interference that can only ever slow a run down.

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
    /// CPU time of the measuring thread over the same span (0 where unknown).
    pub cpu_s: f64,
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

/// Runs `work` once, timing it by the wall clock and by this thread's CPU clock.
fn timed(work: impl FnOnce() -> (u64, u64)) -> Measurement {
    let cpu_start = thread_cpu_s();
    let start = Instant::now();
    let (events, requests) = work();
    let wall_s = start.elapsed().as_secs_f64();
    let cpu_s = match (cpu_start, thread_cpu_s()) {
        (Some(before), Some(after)) => after - before,
        _ => 0.0,
    };
    Measurement {
        wall_s,
        cpu_s,
        events,
        requests,
    }
}

fn time_scenario(scenario: &models::Scenario) -> Measurement {
    timed(|| {
        let report = models::simulate(scenario);
        (report.events, report.completed)
    })
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
        "engine" => Ok(timed(|| {
            let events = 20_000_000;
            let checksum = sim_core::hold::hold_model(10_000, events, 1);
            std::hint::black_box(checksum);
            (events, 0)
        })),
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

/// CPU time this thread has run, in seconds (None off Linux). The thread's CPU clock
/// is exact to the nanosecond; the scheduler's statistics in /proc advance only at
/// the timer tick (4 ms here), which is the whole length of the seed's case.
#[cfg(target_os = "linux")]
fn thread_cpu_s() -> Option<f64> {
    let now = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    Some(now.tv_sec as f64 + now.tv_nsec as f64 / 1e9)
}

#[cfg(not(target_os = "linux"))]
fn thread_cpu_s() -> Option<f64> {
    None
}

/// Runs one case in this process and prints its line for the parent to read.
pub fn child(name: &str) -> Result<(), String> {
    let m = run_case(name)?;
    let peak = peak_memory_kb().unwrap_or(0);
    println!(
        "{name} {} {} {} {} {peak}",
        m.wall_s, m.cpu_s, m.events, m.requests
    );
    Ok(())
}

/// An error naming the first of `names` that is not a case.
pub fn check_names(names: &[String]) -> Result<(), String> {
    match names.iter().find(|n| !CASES.iter().any(|(c, _)| c == n)) {
        Some(unknown) => Err(format!(
            "no bench case `{unknown}`; cases: {}",
            CASES.map(|(n, _)| n).join(", ")
        )),
        None => Ok(()),
    }
}

/// Runs every case (or those named) `repeat` times, each in a child process, and
/// prints the table, one line per case as it completes.
pub fn table(only: &[String], repeat: u32) -> Result<(), String> {
    let me = std::env::current_exe()
        .map_err(|error| format!("cannot find this program to run the cases: {error}"))?;
    println!(
        "{:<16} {:>8} {:>8} {:>10} {:>12} {:>12} {:>8}  what",
        "case", "wall s", "cpu s", "events", "events/s", "requests/s", "peak MB"
    );
    for (name, what) in CASES {
        if !only.is_empty() && !only.iter().any(|n| n == name) {
            continue;
        }
        let mut best: Option<[f64; 5]> = None;
        for _ in 0..repeat.max(1) {
            let run = run_child(&me, name)?;
            if best.is_none_or(|b| run[0] < b[0]) {
                best = Some(run);
            }
        }
        let [wall, cpu, events, requests, peak_kb] = best.expect("at least one run");
        let requests_per_s = if requests > 0.0 {
            format!("{:.0}", requests / wall)
        } else {
            "-".into()
        };
        println!(
            "{name:<16} {wall:>8.3} {cpu:>8.3} {events:>10.0} {:>12.0} {requests_per_s:>12} {:>8.1}  {what}",
            events / wall,
            peak_kb / 1024.0
        );
    }
    Ok(())
}

/// (wall s, cpu s, events, requests, peak kB) of one run of `name` in a child.
fn run_child(me: &std::path::Path, name: &str) -> Result<[f64; 5], String> {
    let output = std::process::Command::new(me)
        .args(["bench", "--case", name])
        .output()
        .map_err(|error| format!("bench case {name}: {error}"))?;
    if !output.status.success() {
        return Err(format!(
            "bench case {name} failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    let line = String::from_utf8_lossy(&output.stdout);
    let fields: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    fields
        .try_into()
        .map_err(|_| format!("bench case {name} printed `{}`", line.trim()))
}

/// Peak resident memory of this process, from Linux's /proc (None elsewhere).
pub fn peak_memory_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}
