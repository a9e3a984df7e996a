//! The simulator against queueing theory, in CI: every validation scenario, with
//! tolerances taken from the runs' own confidence intervals, and a demonstration
//! that a wrong model fails the same check.

use cascade::validate::{self, Options, Row};
use models::spec::Step;
use models::Scenario;
use sim_core::{Distribution, SimDuration};

const REPLICATIONS: u32 = 8;

/// Five standard errors: with Student's t at 7 degrees of freedom a correct model
/// lands outside with probability about 0.2 % per row.
const STANDARD_ERRORS: f64 = 5.0;

fn options(customers: u64) -> Options {
    Options {
        replications: REPLICATIONS,
        customers,
        jobs: 2,
    }
}

fn scenario(path: &str) -> Scenario {
    let experiment =
        cascade::scenario::load_experiment(path, &[]).unwrap_or_else(|e| panic!("{}", e.rendered));
    experiment.variants.into_iter().next().unwrap().scenario
}

fn agrees(row: &Row) -> bool {
    (row.mean - row.theory).abs() <= STANDARD_ERRORS * row.standard_error(REPLICATIONS) + 1e-9
}

fn check_file(path: &str, customers: u64) {
    let scenario = scenario(path);
    let (rows, little) =
        validate::validate_model(path, &scenario, &scenario, &options(customers)).unwrap();
    for row in &rows {
        // The interval must be narrow enough for the check to mean something.
        let scale = if row.theory == 0.0 { 1.0 } else { row.theory };
        assert!(
            row.half_width / scale <= 0.05,
            "{} {}: interval too wide to test ({row:?})",
            row.model,
            row.quantity
        );
        assert!(
            agrees(row),
            "{} {}: theory {} but simulated {} ± {}",
            row.model,
            row.quantity,
            row.theory,
            row.mean,
            row.half_width
        );
    }
    for check in little {
        assert!(check.ok(), "Little's law: {check:?}");
    }
}

#[test]
fn mm1_agrees_with_theory() {
    check_file("scenarios/validation/mm1.toml", 100_000);
}

#[test]
fn mmc_agrees_with_erlang_c() {
    check_file("scenarios/validation/mmc.toml", 500_000);
}

#[test]
fn md1_agrees_with_pollaczek_khinchine() {
    check_file("scenarios/validation/md1.toml", 100_000);
}

#[test]
fn mg1_lognormal_agrees_with_pollaczek_khinchine() {
    check_file("scenarios/validation/mg1-lognormal.toml", 100_000);
}

#[test]
fn loss_system_agrees_with_erlang_b() {
    check_file("scenarios/validation/mmcc-erlang-b.toml", 100_000);
}

#[test]
fn closed_network_agrees_with_mean_value_analysis() {
    check_file("scenarios/validation/closed-mva.toml", 100_000);
}

/// The issue's yardstick: M/M/c at rho = 0.9, 10^6 customers in all, mean response
/// within 2 % of Erlang C.
#[test]
fn mmc_mean_response_within_two_percent_on_a_million_customers() {
    let scenario = scenario("scenarios/validation/mmc.toml");
    let options = Options {
        replications: 4,
        customers: 250_000,
        jobs: 2,
    };
    let (rows, _) = validate::validate_model("mmc", &scenario, &scenario, &options).unwrap();
    let response = rows
        .iter()
        .find(|r| r.quantity == "mean response (s)")
        .unwrap();
    assert!(response.error() <= 0.02, "{response:?}");
}

/// The same check catches a model that is 5 % off: the service mean is 1.05 s
/// where the theory assumes 1 s.
#[test]
fn a_wrong_service_mean_fails_the_check() {
    let reference = scenario("scenarios/validation/mmc.toml");
    let mut wrong = reference.clone();
    let Step::Work(work) = &mut wrong.services[0].endpoints[0].steps[0] else {
        unreachable!()
    };
    *work = Distribution::exponential(SimDuration::from_millis(1050)).unwrap();
    let (rows, _) =
        validate::validate_model("mmc-wrong", &reference, &wrong, &options(100_000)).unwrap();
    let failing: Vec<&str> = rows
        .iter()
        .filter(|row| !agrees(row))
        .map(|row| row.quantity)
        .collect();
    for quantity in ["mean response (s)", "utilisation", "P(wait)"] {
        assert!(
            failing.contains(&quantity),
            "{quantity} should fail; failing: {failing:?}"
        );
    }
}

#[test]
fn models_without_a_closed_form_are_refused() {
    let mut scenario = scenario("scenarios/validation/mmc.toml");
    scenario.services[0].workers = models::spec::Capacity::Unbounded;
    assert!(validate::model_of(&scenario).is_err());
    let gateway =
        cascade::scenario::load_experiment("scenarios/gateway-with-breaker.toml", &[]).unwrap();
    assert!(validate::model_of(&gateway.variants[0].scenario).is_err());
}

/// Four single-worker replicas behind one balancer, Poisson arrivals at 32/s,
/// exponential service at 10/s per replica: each replica runs at 80 %.
fn balanced(balancer: &str, seed: u64) -> f64 {
    let source = format!(
        r#"
[scenario]
name = "balanced"
seed = {seed}
duration = "6000s"
warmup = "100s"

[load]
kind = "open"
rate = 32
target = "front/get"

[services.front]
workers = "unbounded"
endpoints.get.steps = [{{ call = "pool/get" }}]

[services.pool]
replicas = 4
balancer = "{balancer}"
workers = 1
endpoints.get.steps = [{{ work = {{ exponential = "100ms" }} }}]
"#
    );
    let experiment = cascade::scenario::experiment_from_str("balanced.toml", &source, &[])
        .unwrap_or_else(|e| panic!("{}", e.rendered));
    let report = models::simulate(&experiment.variants[0].scenario);
    let pool = report.services.iter().find(|s| s.name == "pool").unwrap();
    pool.steady.response_mean_ms / 1000.0
}

fn replicated(balancer: &str) -> (f64, f64) {
    let seeds: Vec<u64> = (0..u64::from(REPLICATIONS)).map(|r| 100 + r).collect();
    let samples = cascade::parallel::map_in_order(&seeds, 2, |&seed| balanced(balancer, seed));
    validate::mean_and_half_width(&samples)
}

#[test]
fn random_balancing_splits_poisson_into_independent_mm1_queues() {
    // Random routing of a Poisson stream gives each replica a Poisson stream of a
    // quarter of the rate: M/M/1 at rho 0.8, mean response 1 / (mu - lambda) = 0.5 s.
    let (mean, half_width) = replicated("random");
    let theory = 1.0 / (10.0 - 8.0);
    assert!(half_width / theory < 0.05, "{mean} ± {half_width}");
    assert!(
        (mean - theory).abs() < STANDARD_ERRORS / 2.0 * half_width,
        "{mean} ± {half_width} vs {theory}"
    );
}

#[test]
fn round_robin_gives_each_replica_erlang_arrivals() {
    // Every fourth arrival of a Poisson stream: gaps are Erlang-4, so each replica is
    // an E4/M/1 queue. GI/M/1: the mean response is 1 / (mu (1 - s)), s the root in
    // (0, 1) of s = A*(mu (1 - s)), with A*(x) = (k lambda / (k lambda + x))^k for the
    // Erlang-k gaps of rate lambda per replica.
    let theory = erlang_4_m_1_response();
    let (mean, half_width) = replicated("round_robin");
    assert!(half_width / theory < 0.05, "{mean} ± {half_width}");
    assert!(
        (mean - theory).abs() < STANDARD_ERRORS / 2.0 * half_width,
        "{mean} ± {half_width} vs {theory}"
    );
    // Regular arrivals queue less than Poisson ones.
    assert!(theory < 0.5 * 0.8, "{theory}");
}

fn erlang_4_m_1_response() -> f64 {
    let (mu, lambda, k) = (10.0f64, 8.0f64, 4i32);
    let mut s = 0.5;
    for _ in 0..200 {
        s = (f64::from(k) * lambda / (f64::from(k) * lambda + mu * (1.0 - s))).powi(k);
    }
    1.0 / (mu * (1.0 - s))
}

#[test]
fn least_outstanding_beats_both_blind_balancers() {
    // Joining the shortest queue has no closed form; it must beat round-robin's
    // E4/M/1, which beats random's M/M/1.
    let (least, half_width) = replicated("least_outstanding");
    assert!(
        least + half_width < 0.8 * erlang_4_m_1_response(),
        "{least} ± {half_width}"
    );
}
