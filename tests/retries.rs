//! Retries: how many attempts a failing dependency receives, and that a breaker's
//! rejection is never retried.

use models::RunReport;

fn run(path: &str, sets: &[&str]) -> RunReport {
    let sets: Vec<_> = sets
        .iter()
        .map(|s| cascade::scenario::overrides::Override::from_cli(s).unwrap())
        .collect();
    let experiment = cascade::scenario::load_experiment(path, &sets)
        .unwrap_or_else(|e| panic!("{}", e.rendered));
    models::simulate(&experiment.variants[0].scenario)
}

const FILE: &str = "scenarios/retries-amplify-an-outage.toml";

#[test]
fn a_total_outage_gets_exactly_max_attempts_per_call() {
    // Fail every request for the whole run: every call makes all 3 attempts.
    let report = run(FILE, &["faults[0].from=0s", "faults[0].until=90s"]);
    let gateway = &report.services[0];
    let payments = &report.services[1];
    assert_eq!(report.failures, report.completed, "every page fails");
    // Each finished page made 3 attempts; pages still running may be mid-retry.
    let calls = gateway.completed;
    assert!(
        payments.arrivals >= 3 * calls && payments.arrivals <= 3 * (calls + report.in_flight),
        "{} attempts for {calls} calls",
        payments.arrivals
    );
    assert!(
        gateway.retries >= 2 * calls && gateway.retries <= 2 * (calls + report.in_flight),
        "{} retries",
        gateway.retries
    );
}

#[test]
fn no_retry_policy_means_one_attempt() {
    let step = "services.gateway.endpoints.pay.steps[1]";
    let report = run(FILE, &[&format!("{step}.retry.attempts=1")]);
    assert_eq!(report.services[0].retries, 0);
    // One attempt per page (a page still in its first step at the end has made none).
    let (pages, attempts) = (report.services[0].arrivals, report.services[1].arrivals);
    assert!(
        attempts <= pages && attempts + report.in_flight >= pages,
        "{attempts} attempts for {pages} pages"
    );
}

#[test]
fn a_breaker_rejection_is_never_retried() {
    // With a breaker that opens at once and stays open, only the first attempt
    // reaches payments; every later call is rejected and not retried.
    let path = "/tmp/cascade-retries-breaker.toml";
    let source = std::fs::read_to_string(FILE)
        .unwrap()
        .replace("retry = {", "breaker = \"payments\", retry = {")
        + "\n[breakers.payments]\nkind = \"consecutive\"\nfailures = 1\nopen_for = \"10m\"\n";
    std::fs::write(path, source).unwrap();
    let report = run(path, &["faults[0].from=0s", "faults[0].until=90s"]);
    std::fs::remove_file(path).unwrap();
    assert_eq!(
        report.services[1].arrivals, 1,
        "one attempt fails, the breaker opens, nothing else gets through"
    );
    // That first failure schedules one retry, which the now-open breaker rejects; a
    // rejection is not retried, and every later call is rejected at its first try.
    assert_eq!(report.services[0].retries, 1);
    assert_eq!(report.breakers[0].rejected, report.completed);
}

#[test]
fn a_finagle_budget_caps_retries_at_its_share_in_a_full_outage() {
    let step = "services.gateway.endpoints.pay.steps[1]";
    let budget = format!("{step}.retry.budget={{ kind = \"finagle\", ttl = \"10s\", min_retries_per_sec = 0, percent_can_retry = 0.2 }}");
    let report = run(FILE, &["faults[0].from=0s", "faults[0].until=90s", &budget]);
    let gateway = &report.services[0];
    let requests = gateway.completed + report.in_flight;
    // 20 % of the requests of any 10 s window: over the run, at most 20 % of all.
    assert!(
        gateway.retries as f64 <= 0.2 * requests as f64 + 1.0,
        "{} retries for {requests} requests",
        gateway.retries
    );
    assert!(
        gateway.retries as f64 >= 0.15 * requests as f64,
        "the budget is used: {} retries",
        gateway.retries
    );
    assert!(gateway.retries_denied > 0);
    // Without the budget every request retries twice.
    let unlimited = run(FILE, &["faults[0].from=0s", "faults[0].until=90s"]);
    assert!(unlimited.services[0].retries > 5 * gateway.retries);
}

#[test]
fn grpc_throttling_stops_retrying_once_half_the_tokens_are_gone() {
    let step = "services.gateway.endpoints.pay.steps[1]";
    let budget =
        format!("{step}.retry.budget={{ kind = \"grpc\", max_tokens = 10, token_ratio = 0.1 }}");
    let report = run(FILE, &["faults[0].from=0s", "faults[0].until=90s", &budget]);
    // Every attempt fails, so tokens only fall: 10 -> 5 allows at most 5 retries.
    assert!(
        report.services[0].retries <= 5,
        "{} retries",
        report.services[0].retries
    );
    assert!(report.services[0].retries_denied > 0);
}
