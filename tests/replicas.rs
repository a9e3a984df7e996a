//! Replicas, balancers, outlier ejection, and faults that hit a share of replicas or
//! come back in episodes.

use models::RunReport;

fn run(source: &str) -> RunReport {
    let experiment = cascade::scenario::experiment_from_str("replicas.toml", source, &[])
        .unwrap_or_else(|e| panic!("{}", e.rendered));
    models::simulate(&experiment.variants[0].scenario)
}

/// Open-loop calls from a gateway to `backend`, which has the given service block
/// and faults.
fn world(backend: &str, faults: &str, duration: &str) -> String {
    format!(
        r#"
[scenario]
name = "replicas"
seed = 7
duration = "{duration}"

[load]
kind = "open"
rate = 200
target = "gateway/get"

[services.gateway]
workers = "unbounded"
endpoints.get.steps = [{{ call = "backend/get", timeout = "1s", fallback = "propagate" }}]

[services.backend]
{backend}
endpoints.get.steps = [{{ work = {{ constant = "10ms" }} }}]

{faults}
"#
    )
}

fn arrivals(report: &RunReport) -> Vec<u64> {
    report.services[0]
        .replicas
        .iter()
        .map(|r| r.arrivals)
        .collect()
}

#[test]
fn round_robin_splits_calls_evenly() {
    let report = run(&world("replicas = 3\nworkers = \"unbounded\"", "", "60s"));
    let split = arrivals(&report);
    assert_eq!(split.len(), 3);
    let (min, max) = (split.iter().min().unwrap(), split.iter().max().unwrap());
    assert!(max - min <= 1, "{split:?}");
    assert_eq!(split.iter().sum::<u64>(), report.services[0].arrivals);
}

#[test]
fn random_balancing_is_even_within_noise() {
    let report = run(&world(
        "replicas = 4\nbalancer = \"random\"\nworkers = \"unbounded\"",
        "",
        "120s",
    ));
    let split = arrivals(&report);
    let total: u64 = split.iter().sum();
    // Each count is binomial(n, 1/4): 4 standard deviations either way.
    let n = total as f64;
    let sd = (n * 0.25 * 0.75).sqrt();
    for count in &split {
        assert!((*count as f64 - n / 4.0).abs() < 4.0 * sd, "{split:?}");
    }
    // Not a round-robin in disguise.
    let (min, max) = (split.iter().min().unwrap(), split.iter().max().unwrap());
    assert!(max - min > 1, "{split:?}");
}

const SLOW_FIRST_REPLICA: &str = r#"
[[faults]]
target = "backend"
kind = "latency"
latency = "200ms"
replicas_percent = 34
"#;

#[test]
fn least_outstanding_steers_away_from_a_slow_replica() {
    let round_robin = run(&world(
        "replicas = 3\nworkers = \"unbounded\"",
        SLOW_FIRST_REPLICA,
        "60s",
    ));
    let least = run(&world(
        "replicas = 3\nbalancer = \"least_outstanding\"\nworkers = \"unbounded\"",
        SLOW_FIRST_REPLICA,
        "60s",
    ));
    let share = |report: &RunReport| {
        let split = arrivals(report);
        split[0] as f64 / split.iter().sum::<u64>() as f64
    };
    assert!((share(&round_robin) - 1.0 / 3.0).abs() < 0.01);
    // The slow replica holds each request 21x longer, so it is the least loaded far
    // less often.
    assert!(share(&least) < 0.15, "{}", share(&least));
    assert!(least.latency_ms.mean < round_robin.latency_ms.mean / 2.0);
}

#[test]
fn a_share_of_replicas_rounds_as_litmus_does_and_hits_at_least_one() {
    // 50 % of 4 is 2 replicas; 10 % of 4 still hits one.
    for (percent, slow) in [(50, 2), (10, 1), (100, 4)] {
        let faults = format!(
            "[[faults]]\ntarget = \"backend\"\nkind = \"latency\"\nlatency = \"100ms\"\nreplicas_percent = {percent}\n"
        );
        let report = run(&world(
            "replicas = 4\nworkers = \"unbounded\"",
            &faults,
            "20s",
        ));
        let busy: Vec<u64> = report.services[0]
            .replicas
            .iter()
            .map(|r| r.busy_max)
            .collect();
        // A slow replica holds ~5.5 requests on average (50 a second for 110 ms), with
        // peaks near 10; a fast one 0.5, with peaks near 3.
        let hit = busy.iter().filter(|&&b| b >= 7).count();
        assert_eq!(hit, slow, "{percent} %: {busy:?}");
    }
}

#[test]
fn outlier_ejection_follows_envoy_timing() {
    // Replica 0 of 2 refuses every connection. With consecutive_5xx = 3 it is ejected
    // at its third refusal (just after 0 s). Sweeps run every 10 s; it returns at
    // the first sweep at least base x multiplier after its ejection: at 40 s
    // (30 s), then at 110 s (60 s), and its third ejection (90 s) outlasts the run.
    let faults = "[[faults]]\ntarget = \"backend\"\nkind = \"kill\"\nreplicas_percent = 50\n";
    let backend = "replicas = 2\nworkers = \"unbounded\"\noutlier = { consecutive_5xx = 3, interval = \"10s\", base_ejection_time = \"30s\", max_ejection_percent = 50 }";
    let report = run(&world(backend, faults, "200s"));
    let rows = &report.services[0].replicas;
    assert_eq!(rows[0].ejections, 3, "{rows:?}");
    assert_eq!(rows[1].ejections, 0);
    // Three refused calls per ejection, and nothing else fails.
    let failed: u64 = report.errors_by_status.values().sum();
    assert_eq!(failed, 9, "{:?}", report.errors_by_status);
}

#[test]
fn max_ejection_percent_still_ejects_one_replica() {
    // Both replicas refuse; 10 % of 2 is below one replica, but Envoy always lets
    // one be ejected, and never the second while the first is out.
    let faults = "[[faults]]\ntarget = \"backend\"\nkind = \"kill\"\n";
    let backend = "replicas = 2\nworkers = \"unbounded\"\noutlier = { consecutive_5xx = 3, interval = \"10s\", base_ejection_time = \"1000s\", max_ejection_time = \"1000s\", max_ejection_percent = 10 }";
    let report = run(&world(backend, faults, "30s"));
    let ejections: Vec<u64> = report.services[0]
        .replicas
        .iter()
        .map(|r| r.ejections)
        .collect();
    assert_eq!(ejections.iter().sum::<u64>(), 1, "{ejections:?}");
}

#[test]
fn a_repeating_fault_acts_only_in_its_episodes() {
    // Every 10 s from 5 s, 2 s of errors.
    let faults = "[[faults]]\ntarget = \"backend\"\nkind = \"error\"\nrate = 1.0\nstatus = 503\nfrom = \"5s\"\nevery = \"10s\"\nduration = \"2s\"\n";
    let report = run(&world("workers = \"unbounded\"", faults, "105s"));
    let share = report.failures as f64 / report.completed as f64;
    // Episodes start at 5, 15, ..., 95 s: ten of 2 s in 105 s.
    let expected = 20.0 / 105.0;
    assert!((share - expected).abs() < 0.01, "{share} vs {expected}");
    let windows = &report.timeline.windows;
    // The first window (0-10 s) holds one episode (5-7 s); nothing fails before 5 s.
    assert!(windows[0].failed > 0 && windows[0].failed < windows[0].completed / 3);
}

#[test]
fn a_cpu_slowdown_stretches_work_by_its_factor() {
    let closed = |faults: &str| {
        run(&format!(
            r#"
[scenario]
name = "slowdown"
seed = 1
duration = "100s"

[load]
kind = "closed"
users = 1
spawn_rate = 1
wait = {{ constant = "0s" }}
target = "s/get"

[services.s]
workers = 1
endpoints.get.steps = [{{ work = {{ constant = "10ms" }} }}]
{faults}
"#
        ))
    };
    let normal = closed("");
    let slowed = closed("[[faults]]\ntarget = \"s\"\nkind = \"slowdown\"\nfactor = 2.5\n");
    assert!((normal.throughput_rps - 100.0).abs() < 0.1);
    assert!(
        (slowed.throughput_rps - 40.0).abs() < 0.1,
        "{}",
        slowed.throughput_rps
    );
    assert!((slowed.latency_ms.mean - 25.0).abs() < 1e-6);
}

#[test]
fn a_restart_refuses_connections_then_runs_cold() {
    // One replica: down from 10 s to 15 s, then 4x slower until 25 s.
    let faults = "[[faults]]\ntarget = \"backend\"\nkind = \"restart\"\nfrom = \"10s\"\ndown_for = \"5s\"\ncold_start = \"10s\"\ncold_factor = 4\n";
    let report = run(&world("workers = \"unbounded\"", faults, "40s"));
    let refused = report.errors_by_status.get("502").copied().unwrap_or(0);
    // 5 s of 200 calls a second.
    assert!(
        (refused as f64 - 1000.0).abs() < 4.0 * 1000f64.sqrt(),
        "{refused}"
    );
    let windows = &report.timeline.windows;
    // 10 s windows: 0-10 normal (10 ms), 10-20 half down and half cold (40 ms),
    // 20-30 half cold, 30-40 normal again.
    assert!((windows[0].latency_p50_ms - 10.0).abs() < 0.1);
    assert!(
        (windows[2].latency_p95_ms - 40.0).abs() < 0.5,
        "{:?}",
        windows[2]
    );
    assert!((windows[3].latency_p95_ms - 10.0).abs() < 0.1);
}

#[test]
fn a_hang_forever_never_answers_and_keeps_its_workers() {
    let faults = "[[faults]]\ntarget = \"backend\"\nkind = \"hang\"\nfor = \"forever\"\nfrom = \"10s\"\nuntil = \"20s\"\n";
    let report = run(&world("workers = 5\nqueue = 0", faults, "30s"));
    let backend = &report.services[0];
    // The five workers taken during the hang stay taken: after it, every call is
    // turned away by the full pool.
    assert_eq!(backend.busy_max, 5);
    let served_after = report.timeline.windows[2].ok;
    assert_eq!(served_after, 0, "{:?}", report.timeline.windows[2]);
    assert_eq!(report.errors_by_status.get("504").copied(), Some(5));
}
