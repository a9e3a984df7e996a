//! Retries, retry budgets, bulkheads and Locust-style load checked against the real
//! libraries' sources (resilience4j, Polly, gRPC A6 and grpc-core, Envoy, the AWS
//! backoff simulator, Locust). Each test names the upstream file or test it mirrors,
//! and says where cascade's vocabulary differs from it on purpose.

use models::retry::{Backoff, Budget, BudgetSpec, Jitter, RetryOn, RetryPolicy};
use models::spec::{spawn_time, Step};
use models::{Observer, RequestRecord, RunReport};
use sim_core::{RngStream, SimDuration, SimTime};

fn ms(v: u64) -> SimDuration {
    SimDuration::from_millis(v)
}

fn load(source: &str) -> models::Scenario {
    let experiment = cascade::scenario::experiment_from_str("review.toml", source, &[])
        .unwrap_or_else(|e| panic!("{}", e.rendered));
    experiment.variants[0].scenario.clone()
}

fn run(source: &str) -> RunReport {
    models::simulate(&load(source))
}

fn service<'a>(report: &'a RunReport, name: &str) -> &'a models::report::ServiceReport {
    report.services.iter().find(|s| s.name == name).unwrap()
}

/// One closed-loop user (so attempts never interleave), a gateway whose `pay`
/// endpoint runs `steps`, and payments; `extra` adds faults, breakers, bulkheads.
fn one_user(users: u32, steps: &str, extra: &str) -> String {
    format!(
        r#"
[scenario]
name = "review"
seed = 7
duration = "60s"

[load]
kind = "closed"
users = {users}
spawn_rate = 100
wait = {{ constant = "1s" }}
target = "gateway/pay"

[services.gateway]
workers = "unbounded"
endpoints.pay.steps = [{steps}]

[services.payments]
workers = "unbounded"
endpoints.charge.steps = [{{ work = {{ constant = "10ms" }} }}]
{extra}
"#
    )
}

const OUTAGE: &str = r#"
[[faults]]
target = "payments"
kind = "error"
rate = 1.0
status = 503
"#;

/// Every page the gateway served made its 3 attempts.
fn assert_every_page_retried_twice(report: &RunReport) {
    let gateway = service(report, "gateway");
    assert!(
        gateway.retries >= 2 * gateway.completed,
        "{} retries for {} pages",
        gateway.retries,
        gateway.completed
    );
}

/// Mirrors grpc/grpc `test/core/client_channel/retry_throttle_test.cc`,
/// `TEST(RetryThrottler, Basic)`: max 4 tokens (threshold 2), ratio 1.6; a failure
/// is recorded, then the retry decision is `tokens > max/2`; clamped at 0 and max.
#[test]
fn grpc_throttle_matches_grpc_core_basic_test() {
    let mut budget = Budget::new(BudgetSpec::Grpc {
        max_tokens: 4,
        token_ratio: 1.6,
    });
    let now = SimTime::ZERO;
    let fail = |b: &mut Budget| {
        b.on_attempt(false);
        b.try_retry(now)
    };
    assert!(fail(&mut budget), "3 > 2");
    budget.on_attempt(true); // back to 4, not beyond
    assert!(fail(&mut budget), "3");
    assert!(!fail(&mut budget), "2 is at the threshold");
    assert!(!fail(&mut budget), "1");
    assert!(!fail(&mut budget), "0");
    assert!(!fail(&mut budget), "still 0, not below");
    budget.on_attempt(true); // 1.6
    budget.on_attempt(true); // 3.2
    assert!(fail(&mut budget), "2.2");
    assert!(!fail(&mut budget), "1.2");
    budget.on_attempt(true); // 2.8
    assert!(!fail(&mut budget), "1.8");
    budget.on_attempt(true); // 3.4
    assert!(fail(&mut budget), "2.4");
}

/// grpc/proposal `A6-client-retries.md` ("Exponential Backoff") and grpc-java
/// `RetriableStream.makeRetryDecision`: the n-th retry waits
/// `random(0, min(initialBackoff * multiplier^(n-1), maxBackoff))`; the cap applies
/// before the jitter.
#[test]
fn exponential_full_jitter_is_grpc_a6_backoff() {
    let policy = RetryPolicy {
        max_attempts: 10,
        backoff: Backoff::Exponential {
            base: ms(100),
            multiplier: 2.0,
            cap: Some(ms(1000)),
        },
        jitter: Jitter::Full,
        retry_on: RetryOn::DEFAULT,
        budget: None,
    };
    let mut rng = RngStream::new(3, "review/a6");
    for n in 1..=6u32 {
        let bound = (100.0 * 2f64.powi(n as i32 - 1)).min(1000.0);
        let draws = 20_000;
        let mut sum = 0.0;
        for _ in 0..draws {
            let d = policy.delay(n, SimDuration::ZERO, &mut rng).as_millis_f64();
            assert!((0.0..=bound).contains(&d), "retry {n}: {d} ms");
            sum += d;
        }
        let mean = sum / f64::from(draws);
        assert!(
            (mean - bound / 2.0).abs() < 0.03 * bound,
            "retry {n}: mean {mean}"
        );
    }
}

/// locustio/locust `locust/dispatch.py` (`UsersDispatcher.new_dispatch`): each
/// iteration adds `max(1, floor(spawn_rate))` users, iterations
/// `batch / spawn_rate` seconds apart, the first at once.
#[test]
fn spawn_times_batch_like_locusts_dispatcher() {
    let secs = |rate: f64, user: u32| spawn_time(rate, user).since(SimTime::ZERO).as_secs_f64();
    for (rate, expected) in [
        (
            10.0,
            vec![0.0; 10]
                .into_iter()
                .chain(vec![1.0; 10])
                .collect::<Vec<_>>(),
        ),
        (0.5, vec![0.0, 2.0, 4.0]),
        (2.5, vec![0.0, 0.0, 0.8, 0.8, 1.6]),
    ] {
        for (user, want) in expected.iter().enumerate() {
            let got = secs(rate, user as u32);
            assert!((got - want).abs() < 1e-9, "rate {rate}, user {user}: {got}");
        }
    }
}

#[derive(Default)]
struct Records(Vec<RequestRecord>);

impl Observer for Records {
    fn request_ended(&mut self, record: &RequestRecord) {
        self.0.push(*record);
    }
}

/// locustio/locust `locust/user/wait_time.py` (`constant_pacing`) and
/// `locust/user/users.py` (`_cp_last_run` set at user creation):
/// `run_time = now - last_run - last_wait; wait = max(0, pace - run_time)`, i.e. the
/// next task starts at `max(started + pace, ended)`: no catch-up after a long task.
#[test]
fn constant_pacing_follows_locusts_formula_request_by_request() {
    let source = r#"
[scenario]
name = "pacing"
seed = 5
duration = "60s"

[load]
kind = "closed"
users = 3
spawn_rate = 2.5
wait = { constant_pacing = "1s" }
target = "s/get"

[services.s]
workers = "unbounded"
endpoints.get.steps = [{ work = { uniform = ["300ms", "1700ms"] } }]
"#;
    let scenario = load(source);
    let mut records = Records::default();
    models::simulate_observed(&scenario, &mut records);
    let pace = ms(1000);
    let mut long_tasks = 0;
    for user in 0..3u32 {
        let mine: Vec<_> = records.0.iter().filter(|r| r.user == Some(user)).collect();
        assert!(mine.len() > 30, "user {user}: {}", mine.len());
        assert_eq!(mine[0].issued, spawn_time(2.5, user), "first task at spawn");
        for pair in mine.windows(2) {
            let (done, next) = (pair[0], pair[1]);
            let expected = (done.issued + pace).max(done.ended);
            assert_eq!(next.issued, expected, "user {user}");
            long_tasks += usize::from(done.ended > done.issued + pace);
        }
    }
    assert!(
        long_tasks > 10,
        "the case of a task longer than the pace is covered"
    );
}

/// resilience4j `RetryConfig` (`maxAttempts` 3 includes the first call) and gRPC
/// A6 ("maxAttempts ... including the original request"): in a total outage each
/// call makes exactly `attempts` attempts.
#[test]
fn attempts_count_the_first_call() {
    let call = r#"{ call = "payments/charge", timeout = "1s", fallback = "propagate", retry = { attempts = 3, backoff = "constant", base = "100ms" } }"#;
    let report = run(&one_user(1, call, OUTAGE));
    let (gateway, payments) = (service(&report, "gateway"), service(&report, "payments"));
    let pages = gateway.completed;
    assert!(pages > 40);
    assert!(
        payments.arrivals >= 3 * pages && payments.arrivals <= 3 * (pages + report.in_flight),
        "{} attempts for {pages} pages",
        payments.arrivals
    );
    assert!(gateway.retries >= 2 * pages && gateway.retries <= 2 * (pages + report.in_flight));
}

/// grpc-java `RetriableStream.makeRetryDecision` + `Throttle`: a qualified failure
/// takes a token even when no attempt is left, and a retry needs the decremented
/// count above max/2. Tokens 10 -> 9, 8 (retries), 7 (attempts used up), 6
/// (retry), 5 (throttled), then only denials: exactly 3 retries in the run.
#[test]
fn grpc_throttling_allows_exactly_three_retries_from_ten_tokens() {
    let call = r#"{ call = "payments/charge", timeout = "1s", fallback = "propagate", retry = { attempts = 3, backoff = "constant", base = "100ms", budget = { kind = "grpc", max_tokens = 10, token_ratio = 0.1 } } }"#;
    let report = run(&one_user(1, call, OUTAGE));
    let gateway = service(&report, "gateway");
    assert_eq!(gateway.retries, 3);
    assert_eq!(
        gateway.retries_denied,
        gateway.completed + report.in_flight - 1
    );
}

/// resilience4j `RetryConfig`: `DEFAULT_RECORD_FAILURE_PREDICATE = throwable ->
/// true`, so with the default aspect order Retry(CircuitBreaker(..)) a
/// `CallNotPermittedException` is retried until maxAttempts. Polly v8
/// `RetryStrategyOptions.ShouldHandle` defaults to every exception but
/// `OperationCanceledException`, so `BrokenCircuitException` is retried too.
/// cascade's default follows the seeds' resilient client instead, which never
/// retries an open breaker; the `rejected` class asks for resilience4j's behaviour.
#[test]
fn a_breaker_rejection_is_retried_when_asked_as_in_resilience4j() {
    let retry = |on: &str| {
        format!(
            r#"{{ call = "payments/charge", timeout = "1s", fallback = "propagate", breaker = "payments", retry = {{ attempts = 3, backoff = "constant", base = "100ms"{on} }} }}"#
        )
    };
    let extra = format!(
        "{OUTAGE}\n[breakers.payments]\nkind = \"consecutive\"\nfailures = 1\nopen_for = \"10m\"\n"
    );
    let by_default = run(&one_user(1, &retry(""), &extra));
    assert_eq!(
        service(&by_default, "gateway").retries,
        1,
        "the first attempt's 503 trips the breaker and is retried once; the breaker rejects that retry, which ends them"
    );
    let on = r#", on = ["5xx", "timeout", "connection", "rejected"]"#;
    let report = run(&one_user(1, &retry(on), &extra));
    assert_eq!(service(&report, "payments").arrivals, 1);
    // resilience4j: every page still makes 3 attempts (2 retries), all but the
    // first page's first one rejected by the open breaker.
    assert_every_page_retried_twice(&report);
}

/// resilience4j: `BulkheadFullException` from the innermost Bulkhead is an
/// exception like any other to the Retry outside it (same default predicate as
/// above); in cascade the `rejected` class asks for it.
#[test]
fn a_bulkhead_rejection_is_retried_when_asked_as_in_resilience4j() {
    let call = r#"{ call = "payments/charge", timeout = "5s", fallback = "propagate", bulkhead = "payments", retry = { attempts = 3, backoff = "constant", base = "100ms", on = ["rejected"] } }"#;
    let extra =
        "\n[bulkheads.payments]\nkind = \"semaphore\"\nmax_concurrent = 1\nmax_wait = \"0s\"\n";
    let source = one_user(2, call, extra).replace(
        r#"endpoints.charge.steps = [{ work = { constant = "10ms" } }]"#,
        r#"endpoints.charge.steps = [{ work = { constant = "1s" } }]"#,
    );
    let report = run(&source);
    assert!(
        report.bulkheads[0].rejected > 0,
        "the second user is turned away"
    );
    assert!(
        service(&report, "gateway").retries > 0,
        "a rejected call is retried after its backoff"
    );
}

/// Envoy `docs/root/configuration/http/http_filters/router_filter.rst`
/// (x-envoy-retry-on: `5xx` = any 5xx "or does not respond at all
/// (disconnect/reset/read timeout)", including connect-failure and
/// refused-stream; a hit `per_try_timeout` is retried under it). cascade's `5xx`
/// class covers answered 5xx only, as its classes name one kind of failure each:
/// Envoy's `5xx` is `["5xx", "timeout", "connection"]` here.
#[test]
fn envoys_5xx_is_three_classes_here() {
    let call = |on: &str| {
        format!(
            r#"{{ call = "payments/charge", timeout = "100ms", fallback = "propagate", retry = {{ attempts = 3, backoff = "constant", base = "25ms", on = {on} }} }}"#
        )
    };
    let extra = "\n[[faults]]\ntarget = \"payments\"\nkind = \"hang\"\nfor = \"forever\"\n";
    let answers_only = run(&one_user(1, &call(r#"["5xx"]"#), extra));
    assert_eq!(service(&answers_only, "gateway").retries, 0);
    let report = run(&one_user(
        1,
        &call(r#"["5xx", "timeout", "connection"]"#),
        extra,
    ));
    assert_every_page_retried_twice(&report);
}

/// grpc/proposal `A6-client-retries.md`: "gRPC's call deadline applies across all
/// attempts"; no attempt starts after it (Envoy: the route timeout "includes all
/// retries"). Here `api` is given the gateway's 1 s deadline and retries payments
/// every 400 ms: attempts at 0, 0.4 and 0.8 s fit, those at 1.2 and 1.6 s do not.
#[test]
fn a_propagated_deadline_bounds_the_retries() {
    let source = r#"
[scenario]
name = "deadline"
seed = 7
duration = "60s"

[load]
kind = "closed"
users = 1
spawn_rate = 1
wait = { constant = "1s" }
target = "gateway/pay"

[services.gateway]
workers = "unbounded"
endpoints.pay.steps = [{ call = "api/pay", timeout = "1s", fallback = "propagate", propagate_deadline = true }]

[services.api]
workers = "unbounded"
endpoints.pay.steps = [{ call = "payments/charge", fallback = "propagate", retry = { attempts = 5, backoff = "constant", base = "400ms" } }]

[services.payments]
workers = "unbounded"
endpoints.charge.steps = [{ work = { constant = "0s" } }]

[[faults]]
target = "payments"
kind = "error"
rate = 1.0
status = 503
"#;
    let report = run(source);
    let pages = service(&report, "gateway").arrivals;
    let retries = service(&report, "api").retries;
    assert!(pages > 20);
    assert!(retries <= 2 * pages, "{retries} retries for {pages} pages");
}

/// grpc/proposal A6 ("Throttling Retry Attempts and Hedged RPCs"): "The throttling
/// is done per server name ... Every outgoing RPC (regardless of service or method
/// invoked)" counts; grpc-core keeps one `RetryThrottler` per server name
/// (`ServerRetryThrottleMap`). Two call steps to the same server share one bucket,
/// so a total outage allows the same 3 retries as one step (a bucket per step would
/// allow 6).
#[test]
fn grpc_throttling_is_shared_per_server() {
    let retry = r#"retry = { attempts = 3, backoff = "constant", base = "100ms", budget = { kind = "grpc", max_tokens = 10, token_ratio = 0.1 } }"#;
    let steps = format!(
        r#"{{ call = "payments/charge", timeout = "1s", fallback = "degraded", {retry} }}, {{ call = "payments/charge", timeout = "1s", fallback = "propagate", {retry} }}"#
    );
    let report = run(&one_user(1, &steps, OUTAGE));
    assert_eq!(service(&report, "gateway").retries, 3);
}

/// Same grpc-core parser: a ratio whose first 3 decimals are 0 is a config error
/// ("must be greater than 0"): 0.0004 would be 0 thousandths, a bucket that never
/// refills.
#[test]
fn a_token_ratio_below_a_thousandth_is_rejected() {
    let call = r#"{ call = "payments/charge", retry = { attempts = 3, budget = { kind = "grpc", max_tokens = 10, token_ratio = 0.0004 } } }"#;
    let result = cascade::scenario::experiment_from_str("review.toml", &one_user(1, call, ""), &[]);
    assert!(result.is_err(), "accepted a ratio that is 0 milli-tokens");
}

/// AWS Architecture Blog / aws-samples `aws-arch-backoff-simulator`
/// `ExpoBackoffDecorr`: `sleep = min(cap, uniform(base, sleep * 3))`; Polly's
/// `MaxDelay` likewise caps every backoff type, a constant one included.
#[test]
fn max_caps_decorrelated_jitter_on_a_constant_backoff() {
    let call = r#"{ call = "payments/charge", retry = { attempts = 20, backoff = "constant", base = "100ms", max = "300ms", jitter = "decorrelated" } }"#;
    let scenario = load(&one_user(1, call, ""));
    let Step::Call(call) = &scenario.services[0].endpoints[0].steps[0] else {
        panic!("a call step")
    };
    let policy = call.retry.expect("a retry policy");
    let mut rng = RngStream::new(1, "review/decorrelated");
    let mut previous = SimDuration::ZERO;
    for retry in 1..20 {
        let d = policy.delay(retry, previous, &mut rng);
        assert!(d <= ms(300), "retry {retry}: {d}");
        previous = d;
    }
}
