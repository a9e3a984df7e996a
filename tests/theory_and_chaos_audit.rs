//! A fourth audit, for what `fidelity.rs`, `src/validate/` and the library audits
//! (`breaker_fidelity.rs`, `retry_fidelity.rs`, `chaos_locust_fidelity.rs`,
//! `outlier_bulkhead_fidelity.rs`, `library_fidelity_audit.rs`) leave out:
//!
//! - Queueing theory: M/M/c/K with a waiting room (blocking, mean number in system,
//!   mean response of admitted jobs, against the closed form written out here), the
//!   same system seen as a client-side pool (a thread-pool bulkhead, Envoy's
//!   `max_connections` + `max_pending_requests` for HTTP/1.1), and the interactive
//!   response-time law R = N / X - Z of a closed loop.
//! - LitmusChaos (litmuschaos/litmus-go): `chaoslib/litmus/pod-delete/lib/pod-delete.go`
//!   (the episode loop), `pkg/utils/common/pods.go` `filterPodsByPercentage` and
//!   `pkg/math/math.go` `Adjustment` (how many pods a percentage hits),
//!   `chaoslib/litmus/network-chaos/lib/latency/latency.go` (`netem delay Lms Jms`)
//!   with the kernel's `net/sched/sch_netem.c` `tabledist` (uniform on
//!   [L - J, L + J) without a distribution table) and `netem_enqueue`
//!   (`time_to_send = now + delay`: a negative draw is sent at once).
//! - Envoy: `source/common/common/backoff_strategy.cc`
//!   (`JitteredExponentialBackOffStrategy::nextBackOffMs`), the route retry policy's
//!   defaults (base 25 ms, max 10 x base).
//!
//! Not here, because cascade does not model them: Envoy's `max_retries` (a gate on
//! concurrent retries, default 3) and `retry_budget` (a share of active + pending
//! requests); `max_requests` as a separate gate from `max_connections` (one
//! bulkhead stands for the pool); Litmus' `SEQUENCE = serial`, `RANDOMNESS`, the
//! random choice of target pods, the wait for replacement pods between rounds, and
//! pod-cpu-hog's `CPU_CORES` / `CPU_LOAD` (cascade's `slowdown` takes the resulting
//! factor directly).

use models::report::SteadyState;
use models::retry::Backoff;
use models::{RunReport, Scenario};
use sim_core::{SimDuration, SimTime};

fn scenario(source: &str) -> Scenario {
    cascade::scenario::experiment_from_str("theory_and_chaos_audit.toml", source, &[])
        .unwrap_or_else(|e| panic!("{}", e.rendered))
        .variants
        .into_iter()
        .next()
        .unwrap()
        .scenario
}

fn run(source: &str) -> RunReport {
    models::simulate(&scenario(source))
}

/// The report lists services by name.
fn service<'a>(report: &'a RunReport, name: &str) -> &'a models::report::ServiceReport {
    report
        .services
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no service {name}"))
}

/// Sample mean and standard error of the mean.
fn mean_and_se(samples: &[f64]) -> (f64, f64) {
    let n = samples.len() as f64;
    let mean = samples.iter().sum::<f64>() / n;
    let variance = samples.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, (variance / n).sqrt())
}

// ---------------------------------------------------------------------------------
// M/M/c/K
// ---------------------------------------------------------------------------------

/// What the closed form says about an M/M/c/K system.
#[derive(Debug, Clone, Copy)]
struct Mmck {
    /// P(an arrival finds K jobs and is turned away) = p_K (PASTA).
    blocking: f64,
    /// L, the time-averaged number of jobs in the system (queued or served).
    in_system: f64,
    /// W = L / (lambda (1 - p_K)), the mean response of admitted jobs (Little).
    response: f64,
}

fn factorial(n: u32) -> f64 {
    (1..=n).map(f64::from).product()
}

/// The textbook closed form (Gross & Harris, "Fundamentals of Queueing Theory",
/// M/M/c/K), with a = lambda / mu and rho = a / c:
///   p0 = [ sum_{n<c} a^n / n! + a^c / c! * sum_{j=0}^{K-c} rho^j ]^-1
///   p_n = p0 a^n / n! (n <= c),  p0 a^c / c! rho^(n-c) (c <= n <= K)
///   Lq = p0 a^c rho / (c! (1-rho)^2) [1 - rho^(K-c+1) - (1-rho)(K-c+1) rho^(K-c)]
///        (rho != 1; p0 a^c / c! (K-c)(K-c+1)/2 at rho = 1)
///   L = Lq + lambda_eff / mu,  lambda_eff = lambda (1 - p_K),  W = L / lambda_eff.
fn mmck(lambda: f64, mu: f64, c: u32, k: u32) -> Mmck {
    assert!(k >= c);
    let a = lambda / mu;
    let rho = a / f64::from(c);
    let m = k - c;
    let head: f64 = (0..c).map(|n| a.powi(n as i32) / factorial(n)).sum();
    let tail: f64 = (0..=m).map(|j| rho.powi(j as i32)).sum();
    let ac = a.powi(c as i32) / factorial(c);
    let p0 = 1.0 / (head + ac * tail);
    let p_k = p0 * ac * rho.powi(m as i32);
    let lq = if (rho - 1.0).abs() < 1e-12 {
        p0 * ac * f64::from(m) * f64::from(m + 1) / 2.0
    } else {
        p0 * ac * rho / (1.0 - rho).powi(2)
            * (1.0 - rho.powi(m as i32 + 1) - (1.0 - rho) * f64::from(m + 1) * rho.powi(m as i32))
    };
    let lambda_eff = lambda * (1.0 - p_k);
    let l = lq + lambda_eff / mu;
    Mmck {
        blocking: p_k,
        in_system: l,
        response: l / lambda_eff,
    }
}

/// The closed form against a plain birth-death sum, so that a slip in the algebra
/// above cannot pass for a simulator bug (or hide one).
#[test]
fn mmck_closed_form_agrees_with_the_birth_death_chain() {
    for &(lambda, c, k) in &[
        (1.8, 2, 5),
        (4.2, 3, 7),
        (2.0, 1, 4),
        (3.0, 3, 6),
        (0.5, 4, 4),
    ] {
        let theory = mmck(lambda, 1.0, c, k);
        let mut weights = vec![1.0f64];
        for n in 1..=k {
            let last = *weights.last().unwrap();
            weights.push(last * lambda / f64::from(n.min(c)));
        }
        let total: f64 = weights.iter().sum();
        let p: Vec<f64> = weights.iter().map(|w| w / total).collect();
        let l: f64 = p.iter().enumerate().map(|(n, p)| n as f64 * p).sum();
        assert!(
            (theory.blocking - p[k as usize]).abs() < 1e-12,
            "{theory:?}"
        );
        assert!((theory.in_system - l).abs() < 1e-12, "{theory:?} vs L {l}");
    }
    // M/M/1/1: blocking a / (1 + a); M/M/c/c: Erlang B(2, 1) = 0.2.
    assert!((mmck(3.0, 1.0, 1, 1).blocking - 0.75).abs() < 1e-12);
    assert!((mmck(1.0, 1.0, 2, 2).blocking - 0.2).abs() < 1e-12);
}

/// One service, `c` workers, `k - c` queue places, Poisson arrivals at `lambda`,
/// exponential work of mean 1 s: the validation scenarios' format.
fn mmck_source(lambda: f64, c: u32, k: u32, seed: u64, customers: f64) -> String {
    let warmup = 50.0;
    let duration = warmup + customers / lambda;
    format!(
        r#"
[scenario]
name = "mmck"
seed = {seed}
duration = "{duration:.0}s"
warmup = "{warmup:.0}s"
window = "{duration:.0}s"

[load]
kind = "open"
rate = {lambda}
target = "server/serve"

[services.server]
workers = {c}
queue = {queue}
endpoints.serve.steps = [{{ work = {{ exponential = "1s" }} }}]
"#,
        queue = k - c
    )
}

const REPLICATIONS: u64 = 8;

/// A quantity's name, its value in theory and in a run.
type Quantity = (&'static str, fn(&Mmck) -> f64, fn(&SteadyState) -> f64);

/// Replications with seeds 1..=R, in two threads (results do not depend on it).
fn replicate(source: impl Fn(u64) -> String + Sync) -> Vec<SteadyState> {
    let seeds: Vec<u64> = (1..=REPLICATIONS).collect();
    cascade::parallel::map_in_order(&seeds, 2, |&seed| {
        models::simulate(&scenario(&source(seed)))
            .services
            .swap_remove(0)
            .steady
    })
}

/// Tolerance: 5 standard errors of the mean of 8 replications. Each replication
/// is independent (its own seed), so the spread between them is an honest
/// standard error, and it shrinks as 1 / sqrt(customers): 8 x 40,000 customers
/// give about 0.5 % on each quantity here. With Student's t at 7 degrees of
/// freedom a correct model lands outside 5 SE with probability about 0.16 % per
/// quantity. The check must also bite: the SE must be below 1 % of the value, and
/// the neighbouring systems (one place more or less, K +- 1) must be outside it.
const STANDARD_ERRORS: f64 = 5.0;

fn check_mmck(lambda: f64, c: u32, k: u32) {
    let customers = 200_000.0;
    let runs = replicate(|seed| mmck_source(lambda, c, k, seed, customers));
    let theory = mmck(lambda, 1.0, c, k);
    let quantities: [Quantity; 3] = [
        ("blocking", |t| t.blocking, |s| s.blocking),
        ("mean in system", |t| t.in_system, |s| s.in_system_mean),
        (
            "mean response (s)",
            |t| t.response,
            |s| s.response_mean_ms / 1000.0,
        ),
    ];
    for (name, expected, measured) in quantities {
        let samples: Vec<f64> = runs.iter().map(measured).collect();
        let (mean, se) = mean_and_se(&samples);
        let want = expected(&theory);
        let label = format!("M/M/{c}/{k} at rho {:.2}: {name}", lambda / f64::from(c));
        eprintln!("{label}: theory {want:.5}, simulated {mean:.5} ± {se:.5} (SE)");
        assert!(se / want < 0.01, "{label}: SE {se} too wide to test");
        assert!(
            (mean - want).abs() <= STANDARD_ERRORS * se,
            "{label}: theory {want:.5}, simulated {mean:.5} ± {se:.5} (SE)"
        );
        for neighbour in [k - 1, k + 1] {
            if neighbour < c.max(1) {
                continue;
            }
            let other = expected(&mmck(lambda, 1.0, c, neighbour));
            assert!(
                (mean - other).abs() > STANDARD_ERRORS * se,
                "{label}: cannot tell K = {k} from K = {neighbour} ({other:.5})"
            );
        }
    }
    // Every run obeys Little's law on its own: L = lambda_eff W, with
    // lambda_eff the measured throughput of admitted jobs.
    for s in &runs {
        let little = s.throughput_rps * s.response_mean_ms / 1000.0;
        assert!(
            (s.in_system_mean - little).abs() / s.in_system_mean < 0.01,
            "Little: {s:?}"
        );
    }
}

#[test]
fn mmck_below_saturation_agrees_with_the_closed_form() {
    // c = 2, K = 5 (3 queue places), rho = 0.9.
    check_mmck(1.8, 2, 5);
}

#[test]
fn mmck_overloaded_agrees_with_the_closed_form() {
    // c = 3, K = 7 (4 queue places), rho = 1.4: a quarter of arrivals are turned away.
    check_mmck(4.2, 3, 7);
    // c = 1, K = 4, rho = 2: more than half are.
    check_mmck(2.0, 1, 4);
}

/// The same M/M/2/5 seen from the caller: a thread-pool bulkhead of 2 threads and
/// 3 queue places in front of an unbounded backend is a client-side pool of 2
/// connections with 3 pending places, Envoy's `max_connections` and
/// `max_pending_requests` for HTTP/1.1 (one request per connection). Its
/// rejections (Envoy's `upstream_rq_pending_overflow`) are the M/M/c/K blocking,
/// and the gateway's time-averaged jobs (calls waiting for or holding a thread;
/// a rejected call leaves at once) are L.
#[test]
fn a_client_side_pool_is_an_mmck_system() {
    let (lambda, c, k) = (1.8, 2u32, 5u32);
    let customers = 200_000.0;
    let source = |seed: u64| {
        let duration = 50.0 + customers / lambda;
        format!(
            r#"
[scenario]
name = "pool"
seed = {seed}
duration = "{duration:.0}s"
warmup = "50s"
window = "{duration:.0}s"

[load]
kind = "open"
rate = {lambda}
target = "gateway/get"

[services.gateway]
workers = "unbounded"
endpoints.get.steps = [{{ call = "backend/get", bulkhead = "pool", fallback = "propagate" }}]

[services.backend]
workers = "unbounded"
endpoints.get.steps = [{{ work = {{ exponential = "1s" }} }}]

[bulkheads.pool]
kind = "thread_pool"
max_concurrent = {c}
queue_capacity = {queue}
"#,
            queue = k - c
        )
    };
    let seeds: Vec<u64> = (1..=REPLICATIONS).collect();
    let runs: Vec<(f64, f64)> = cascade::parallel::map_in_order(&seeds, 2, |&seed| {
        let report = run(&source(seed));
        let pool = &report.bulkheads[0];
        let gateway = service(&report, "gateway");
        assert_eq!(
            (pool.in_use_max, pool.queue_max),
            (u64::from(c), u64::from(k - c))
        );
        (
            pool.rejected as f64 / gateway.arrivals as f64,
            gateway.steady.in_system_mean,
        )
    });
    let theory = mmck(lambda, 1.0, c, k);
    let (blocking, se_b) = mean_and_se(&runs.iter().map(|r| r.0).collect::<Vec<_>>());
    let (l, se_l) = mean_and_se(&runs.iter().map(|r| r.1).collect::<Vec<_>>());
    eprintln!("pool M/M/{c}/{k}: blocking {blocking:.5} ± {se_b:.5} (theory {:.5}), L {l:.5} ± {se_l:.5} (theory {:.5})", theory.blocking, theory.in_system);
    assert!(se_b / theory.blocking < 0.01 && se_l / theory.in_system < 0.01);
    assert!((blocking - theory.blocking).abs() <= STANDARD_ERRORS * se_b);
    assert!((l - theory.in_system).abs() <= STANDARD_ERRORS * se_l);
}

// ---------------------------------------------------------------------------------
// The interactive response-time law
// ---------------------------------------------------------------------------------

/// `users` users, each thinking `wait` between requests, in front of a gateway that
/// works 2 ms and calls a 2-worker backend with lognormal work (mean 32.6 ms): not
/// a product-form network, and no timeouts, so every request ends in an answer.
fn closed_world(users: u32, wait: &str, seed: u64) -> String {
    format!(
        r#"
[scenario]
name = "interactive"
seed = {seed}
duration = "4100s"
warmup = "100s"
window = "4100s"

[load]
kind = "closed"
users = {users}
spawn_rate = 1000
wait = {wait}
target = "gateway/get"

[services.gateway]
workers = "unbounded"
endpoints.get.steps = [
  {{ work = {{ constant = "2ms" }} }},
  {{ call = "backend/get" }},
]

[services.backend]
workers = 2
endpoints.get.steps = [{{ work = {{ lognormal = {{ median = "20ms", p99 = "200ms" }} }} }}]
"#
    )
}

/// The interactive response-time law (Denning & Buzen's operational laws): over a
/// window in which N users cycle between thinking and waiting, R = N / X - Z, for
/// any service model. The only slack is the users' partial cycles at the two ends
/// of the window (at most one cycle each, so 2 N (Z_max + R_max) / C seconds in
/// all over C completions) and, for a random think time, its sample mean: 5
/// standard errors of it, sd(Z) / sqrt(C).
#[test]
fn closed_loop_obeys_the_interactive_response_time_law() {
    let users = 50u32;
    // (wait, mean Z, max Z, sd Z)
    let waits = [
        (r#"{ constant = "1s" }"#, 1.0, 1.0, 0.0),
        (
            r#"{ between = ["0.5s", "1.5s"] }"#,
            1.0,
            1.5,
            1.0 / 12f64.sqrt(),
        ),
    ];
    for (wait, z, z_max, z_sd) in waits {
        let report = run(&closed_world(users, wait, 3));
        let gateway = &service(&report, "gateway").steady;
        let x = gateway.throughput_rps;
        let r = gateway.response_mean_ms / 1000.0;
        let completions = x * gateway.measured_s;
        let r_max = report.latency_ms.max / 1000.0;
        let tolerance = 2.0 * f64::from(users) * (z_max + r_max) / completions
            + STANDARD_ERRORS * z_sd / completions.sqrt();
        let law = f64::from(users) / x - z;
        eprintln!(
            "wait {wait}: X {x:.4}/s, R {r:.5} s, N/X - Z {law:.5} s, tolerance {tolerance:.5} s"
        );
        assert!(
            service(&report, "backend").busy_mean > 1.2,
            "the backend must queue"
        );
        assert!(
            (law - r).abs() <= tolerance,
            "wait {wait}: R = {r} s but N/X - Z = {law} s (X = {x}/s)"
        );
        // The check bites: a think time 2 % off would fail it.
        let wrong = f64::from(users) / x - 1.02 * z;
        assert!(
            (wrong - r).abs() > tolerance,
            "tolerance {tolerance} too loose"
        );
    }
}

// ---------------------------------------------------------------------------------
// LitmusChaos
// ---------------------------------------------------------------------------------

/// A gateway calling `backend` (its replicas given) under open-loop load, with
/// `faults`; refused connections come back as 502 under `propagate`.
fn chaos_world(replicas: u32, faults: &str, duration: &str, rate: u32) -> String {
    format!(
        r#"
[scenario]
name = "litmus"
seed = 7
duration = "{duration}"
window = "1s"

[load]
kind = "open"
rate = {rate}
target = "gateway/get"

[services.gateway]
workers = "unbounded"
endpoints.get.steps = [{{ call = "backend/get", fallback = "propagate" }}]

[services.backend]
replicas = {replicas}
workers = "unbounded"
endpoints.get.steps = [{{ work = {{ constant = "1ms" }} }}]
{faults}
"#
    )
}

/// litmus-go `filterPodsByPercentage`: `newPodListLength = math.Maximum(1,
/// math.Adjustment(math.Minimum(podAffPerc, 100), len(pods)))`, and
/// `pkg/math/math.go` `Adjustment(a, b) = a * b / 100` in Go integers, so the
/// count is rounded down (upstream `math_test.go`: "33 percent of 10 (rounds
/// down)" = 3), and never below one pod.
#[test]
fn pods_affected_perc_rounds_down_and_hits_at_least_one() {
    let litmus = |percent: u32, pods: u32| (percent.min(100) * pods / 100).max(1);
    for (percent, replicas) in [
        (50, 3),
        (70, 4),
        (99, 4),
        (33, 10),
        (33, 3),
        (10, 4),
        (50, 4),
        (100, 4),
        (25, 7),
        (60, 5),
    ] {
        let faults = format!(
            "[[faults]]\ntarget = \"backend\"\nkind = \"kill\"\nreplicas_percent = {percent}\n"
        );
        let spec = scenario(&chaos_world(replicas, &faults, "1s", 1));
        let hit = (0..replicas).filter(|&r| spec.faults[0].hits(r)).count() as u32;
        assert_eq!(
            hit,
            litmus(percent, replicas),
            "{percent} % of {replicas} pods"
        );
    }
}

/// litmus-go `injectChaosInParallelMode` (pod-delete): `for duration <
/// ChaosDuration { delete the targets; WaitForDuration(ChaosInterval); wait for
/// the replacement pods; duration = int(time.Since(start).Seconds()) }`. The first
/// round is at the start of the chaos (after RAMP_TIME), rounds repeat every
/// CHAOS_INTERVAL while the elapsed whole seconds are below TOTAL_CHAOS_DURATION,
/// and an interval longer than the duration gives exactly one round. cascade's
/// `from` / `every = CHAOS_INTERVAL` / `until = from + TOTAL_CHAOS_DURATION` gives
/// the same rounds when the pods come back within the interval (it rejects
/// `down_for` longer than `every`, where Litmus would wait for them).
#[test]
fn pod_delete_rounds_follow_the_litmus_loop() {
    let litmus_rounds = |total: u64, interval: u64| {
        let mut rounds = Vec::new();
        let mut elapsed = 0;
        while elapsed < total {
            rounds.push(elapsed);
            elapsed += interval;
        }
        rounds
    };
    let from = 10;
    for (total, interval) in [
        (15, 5),
        (10, 3),
        (5, 10),
        (60, 7),
        (20, 20),
        (21, 20),
        (30, 10),
    ] {
        let faults = format!(
            "[[faults]]\ntarget = \"backend\"\nkind = \"restart\"\ndown_for = \"2s\"\nfrom = \"{from}s\"\nevery = \"{interval}s\"\nuntil = \"{}s\"\n",
            from + total
        );
        let spec = scenario(&chaos_world(1, &faults, "200s", 1));
        let starts: Vec<u64> = spec.faults[0]
            .episodes(SimTime::ZERO + SimDuration::from_secs(200))
            .iter()
            .map(|(start, _)| start.since(SimTime::ZERO).as_nanos() / 1_000_000_000 - from)
            .collect();
        assert_eq!(
            starts,
            litmus_rounds(total, interval),
            "TOTAL_CHAOS_DURATION {total}, CHAOS_INTERVAL {interval}"
        );
    }
}

/// The same rounds in a run: the chart's defaults (TOTAL_CHAOS_DURATION 15,
/// CHAOS_INTERVAL 5) from 10 s, each pod gone for 2 s: connections are refused
/// in [10, 12), [15, 17) and [20, 22) s and at no other time.
#[test]
fn pod_delete_defaults_refuse_connections_only_in_their_rounds() {
    let faults = "[[faults]]\ntarget = \"backend\"\nkind = \"restart\"\ndown_for = \"2s\"\nfrom = \"10s\"\nevery = \"5s\"\nuntil = \"25s\"\n";
    let report = run(&chaos_world(1, faults, "40s", 200));
    let failing: Vec<u64> = report
        .timeline
        .windows
        .iter()
        .filter(|w| w.failed > 0)
        .map(|w| (w.start_ms / 1000.0) as u64)
        .collect();
    assert_eq!(failing, vec![10, 11, 15, 16, 20, 21]);
    for w in report.timeline.windows.iter().filter(|w| w.failed > 0) {
        assert_eq!(w.failed, w.completed, "the only pod is gone: {w:?}");
    }
    assert_eq!(report.errors_by_status.keys().collect::<Vec<_>>(), ["502"]);
}

/// A latency fault on the load's target, open-loop so that every request is
/// independent; work 1 ms.
fn latency_world(latency: &str, jitter: &str) -> String {
    format!(
        r#"
[scenario]
name = "netem"
seed = 5
duration = "200s"

[load]
kind = "open"
rate = 100
target = "s/get"

[services.s]
workers = "unbounded"
endpoints.get.steps = [{{ work = {{ constant = "1ms" }} }}]

[[faults]]
target = "s"
kind = "latency"
latency = "{latency}"
jitter = "{jitter}"
"#
    )
}

/// litmus-go `PodNetworkLatencyChaos`: `args := "delay " + NETWORK_LATENCY + "ms "
/// + JITTER + "ms"`, i.e. `tc qdisc replace dev eth0 root netem delay Lms Jms`.
/// sch_netem.c `tabledist` without a distribution table returns
/// `((rnd % (2 * sigma)) + mu) - sigma`: uniform on [L - J, L + J), mean L.
#[test]
fn network_latency_with_jitter_is_uniform_around_the_latency() {
    let report = run(&latency_world("100ms", "50ms"));
    let n = report.completed as f64;
    let sd = 100.0 / 12f64.sqrt();
    let lat = &report.latency_ms;
    assert!(
        (lat.mean - 101.0).abs() < STANDARD_ERRORS * sd / n.sqrt(),
        "{lat:?}"
    );
    assert!(lat.min >= 51.0 && lat.max <= 151.0, "{lat:?}");
    // Uniform, not bell-shaped: the quartiles sit at L -+ J/2 (HDR precision).
    assert!((lat.p75 - 126.0).abs() < 1.5, "{lat:?}");
    assert!((lat.p90 - 141.0).abs() < 1.5, "{lat:?}");
}

/// With a jitter larger than the latency, netem still draws from [L - J, L + J);
/// `netem_enqueue` sets `time_to_send = now + delay`, so a negative draw is sent at
/// once: the delay is max(0, U[L - J, L + J)). For L = 20 ms and J = 60 ms a third
/// of the packets go undelayed and the mean delay is 80^2 / (2 * 120) = 26.67 ms,
/// not the 40 ms of a uniform draw on [0, L + J] (which cascade drew before the
/// fault kept its jitter: 41.1 ms here, with the 1 ms of work).
#[test]
fn network_jitter_above_the_latency_is_clipped_at_zero_as_netem_does() {
    let report = run(&latency_world("20ms", "60ms"));
    let n = report.completed as f64;
    let lat = &report.latency_ms;
    // E[d^2] = 80^3 / (3 * 120); sd = sqrt(E[d^2] - E[d]^2) = 26.67 ms.
    let mean = 80.0 * 80.0 / 240.0;
    let sd = (80f64.powi(3) / 360.0 - mean * mean).sqrt();
    assert!(
        (lat.mean - (1.0 + mean)).abs() < STANDARD_ERRORS * sd / n.sqrt(),
        "mean {} vs {}: {lat:?}",
        lat.mean,
        1.0 + mean
    );
    assert!((lat.min - 1.0).abs() < 1e-9, "undelayed requests: {lat:?}");
    // P(delay <= x) = (x + 40) / 120 for x >= 0: the median delay is 20 ms.
    assert!((lat.p50 - 21.0).abs() < 1.0, "{lat:?}");
    assert!(lat.max <= 81.0, "{lat:?}");
}

/// pod-cpu-hog (stress on the target's CPU) is cascade's `slowdown`: work started
/// during the fault takes `factor` times longer, before and after it does not.
/// One user back to back on 10 ms of work for 30 s, 2x slower from 10 s to 20 s:
/// 1000 + 500 + 1000 requests (a slow one starting
/// before 20 s is slow to its end).
#[test]
fn a_cpu_hog_slows_work_only_during_its_window() {
    let source = r#"
[scenario]
name = "cpu-hog"
seed = 1
duration = "30s"
window = "10s"

[load]
kind = "closed"
users = 1
spawn_rate = 1
wait = { constant = "0s" }
target = "s/get"

[services.s]
workers = 1
endpoints.get.steps = [{ work = { constant = "10ms" } }]

[[faults]]
target = "s"
kind = "slowdown"
factor = 2
from = "10s"
duration = "10s"
"#;
    let report = run(source);
    let per_window: Vec<u64> = report
        .timeline
        .windows
        .iter()
        .map(|w| w.completed)
        .collect();
    // The 1000th request ends at 10 s exactly, so it counts in the second window,
    // and the slow one started at 19.98 s ends at 20 s: (999, 500, 1001).
    assert_eq!(per_window, vec![999, 500, 1001], "{per_window:?}");
}

// ---------------------------------------------------------------------------------
// Envoy
// ---------------------------------------------------------------------------------

/// envoy `source/common/common/backoff_strategy.cc`,
/// `JitteredExponentialBackOffStrategy::nextBackOffMs`: `backoff = next_interval_;
/// if (next_interval_ < max_interval_ / 2) next_interval_ *= 2; else next_interval_
/// = max_interval_; return random() % backoff`. So retry n draws below
/// min(base * 2^(n-1), max): cascade's `backoff = "exponential"`, `multiplier = 2`,
/// `max`, `jitter = "full"` (its draw is on [0, d] in nanoseconds, Envoy's on
/// [0, d) in whole milliseconds). The route's defaults, base 25 ms and max 10 x base,
/// are not cascade's (base 100 ms, no max, no jitter): they have to be written out.
/// The older docs' `[0, (2^n - 1) base)` is not expressible.
#[test]
fn envoy_jittered_backoff_intervals_are_exponential_capped_before_the_draw() {
    let envoy = |base: u64, max: u64, retries: usize| {
        let mut next = base;
        let mut out = Vec::new();
        for _ in 0..retries {
            out.push(next);
            next = if next < max / 2 { next * 2 } else { max };
        }
        out
    };
    for (base, max) in [(25, 250), (25, 60), (25, 50), (10, 1000), (7, 61)] {
        let backoff = Backoff::Exponential {
            base: SimDuration::from_millis(base),
            multiplier: 2.0,
            cap: Some(SimDuration::from_millis(max)),
        };
        let cascade: Vec<u64> = (1..=10)
            .map(|n| backoff.nominal(n).as_nanos() / 1_000_000)
            .collect();
        assert_eq!(
            cascade,
            envoy(base, max, 10),
            "base {base} ms, max {max} ms"
        );
    }
    // And the loader builds that policy from the words a user would write.
    let spec = scenario(&chaos_world(
        1,
        "",
        "1s",
        1,
    ).replace(
        r#"{ call = "backend/get", fallback = "propagate" }"#,
        r#"{ call = "backend/get", fallback = "propagate", retry = { attempts = 2, backoff = "exponential", base = "25ms", multiplier = 2, max = "250ms", jitter = "full", on = ["5xx", "timeout", "connection"] } }"#,
    ));
    let gateway = spec.services.iter().find(|s| s.name == "gateway").unwrap();
    let models::spec::Step::Call(call) = &gateway.endpoints[0].steps[0] else {
        panic!("a call step");
    };
    let retry = call.retry.expect("a retry policy");
    assert_eq!(retry.max_attempts, 2, "Envoy's num_retries 1 is 2 attempts");
    assert_eq!(retry.jitter, models::retry::Jitter::Full);
    assert_eq!(
        retry.backoff,
        Backoff::Exponential {
            base: SimDuration::from_millis(25),
            multiplier: 2.0,
            cap: Some(SimDuration::from_millis(250)),
        }
    );
}
