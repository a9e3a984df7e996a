//! A third audit against the real libraries, for what the earlier fidelity files
//! (`breaker_fidelity.rs`, `retry_fidelity.rs`, `chaos_locust_fidelity.rs`,
//! `outlier_bulkhead_fidelity.rs`) leave out: Finagle's `RetryBudget` and the
//! `WindowedAdder` under it, the AWS SDKs' retry backoff, and Polly v8's circuit
//! breaker as far as cascade's breakers express it. Each test names the upstream
//! source or test it mirrors; the sequences are re-derived from those sources, with
//! sim time standing in for the libraries' frozen or fake clocks.
//!
//! Not here, because cascade does not model them (see the audit report and
//! ARCHITECTURE.md): gobreaker v2.2's `BucketPeriod` rolling counts, the AWS SDKs'
//! retry quota (500 tokens, 5 a retry, 10 a timeout retry, refunds), and Polly's
//! own rolling health metrics (ten sub-windows started lazily) and non-strict
//! `now >= blockedUntil` boundary.

use models::breaker::{
    BreakerState, CallResult, ConsecutiveBreaker, ConsecutiveSettings, Outcome, Rejection,
    TripRule, WindowBreaker, WindowKind, WindowSettings,
};
use models::retry::{Backoff, Budget, BudgetSpec, Jitter, RetryOn, RetryPolicy};
use sim_core::{RngStream, SimDuration, SimTime};
use BreakerState::*;

fn at_ms(ms: u64) -> SimTime {
    SimTime(ms * 1_000_000)
}

fn ms(v: u64) -> SimDuration {
    SimDuration::from_millis(v)
}

// ---------------------------------------------------------------------------------
// Finagle: finagle-core `service/RetryBudget.scala` (+ `RetryBudgetTest.scala`),
// util-core `WindowedAdder.scala` (+ `WindowedAdderTest.scala`), finagle
// `util/TokenBucket.scala` (`newLeakyBucket`: a WindowedAdder over ttl in 10 slices,
// `count = sum + reserve`, `tryGet(n)` takes n iff `count >= n`).
// ---------------------------------------------------------------------------------

fn finagle(ttl_s: u64, min_retries_per_sec: u32, percent_can_retry: f64) -> Budget {
    Budget::new(BudgetSpec::Finagle {
        ttl: SimDuration::from_secs(ttl_s),
        min_retries_per_sec,
        percent_can_retry,
    })
}

/// How many retries the budget would allow at `now`, without touching it: Finagle's
/// `balance` (`count / withdrawalAmount`) read by spending a copy.
fn balance(budget: &Budget, now: SimTime) -> usize {
    let mut copy = budget.clone();
    (0..1_000_000).take_while(|_| copy.try_retry(now)).count()
}

/// `RetryBudgetTest.testBudget`: with time frozen, 10,000 times deposit then try a
/// withdrawal; the retries granted are `(nReqs * percentCanRetry).toInt +
/// ttl.inSeconds * minRetriesPerSec`, within one (the 1000 scale factor's
/// truncation), and a refused withdrawal leaves a zero balance. Run for every case
/// of the upstream tests "apply minRetriesPerSec=0", "apply with minRetries and
/// maxPercentOver=0" and "apply with minRetries and maxPercentOver".
#[test]
fn finagle_retry_budget_test_budget_cases() {
    let cases: &[(u64, u32, f64)] = &[
        (60, 0, 0.1),
        (60, 0, 0.5),
        (60, 0, 0.25),
        (60, 0, 0.75),
        (60, 0, 0.99),
        (60, 0, 0.999),
        (60, 0, 0.9999),
        (60, 0, 0.01),
        (60, 0, 0.001),
        (60, 0, 0.0001),
        (1, 10, 0.0),
        (2, 5, 0.0),
        (1, 10, 0.1),
        (2, 5, 0.5),
    ];
    let frozen = at_ms(0);
    for &(ttl, min, percent) in cases {
        let mut budget = finagle(ttl, min, percent);
        let min_retries = ttl as usize * min as usize;
        assert_eq!(
            balance(&budget, frozen),
            min_retries,
            "{ttl} {min} {percent}"
        );
        let mut retried = 0usize;
        for i in 0..10_000 {
            budget.on_request(frozen);
            if budget.try_retry(frozen) {
                retried += 1;
            } else {
                assert_eq!(balance(&budget, frozen), 0, "request {i}: {percent}");
            }
        }
        let expected = (10_000.0 * percent) as usize + min_retries;
        assert!(
            retried.abs_diff(expected) <= 1,
            "percentCanRetry={percent}, ttl={ttl}, min={min}: {retried} retries, expected {expected}"
        );
    }
}

/// `RetryBudgetTest` "apply minRetries=0 maxPercentOver greater than 1.0": at 200 %
/// each deposit pays for two retries (withdrawal 500 of 1000); "apply
/// minRetriesPerSec=0 maxPercentOver=0 should be empty": `RetryBudget.Empty` never
/// allows one, whatever is deposited.
#[test]
fn finagle_budget_over_100_percent_and_the_empty_budget() {
    let frozen = at_ms(0);
    let mut budget = finagle(60, 0, 2.0);
    assert_eq!(balance(&budget, frozen), 0);
    for _ in 0..10_000 {
        budget.on_request(frozen);
    }
    assert_eq!(balance(&budget, frozen), 20_000);

    let mut empty = finagle(10, 0, 0.0);
    for _ in 0..1000 {
        empty.on_request(frozen);
    }
    assert!(!empty.try_retry(frozen));
}

/// `WindowedAdderTest` "maintains a sliding window", on the budget's own adder (ttl
/// 10 s: ten 1 s slices, where upstream's test uses three): 1 deposit at 0 s and 2 at
/// 1 s are all counted until 9 s; the first leaves at 10 s, the others at 11 s. With
/// `percentCanRetry = 1.0` a deposit is worth exactly one retry.
#[test]
fn finagle_windowed_adder_sliding_window() {
    let mut budget = finagle(10, 0, 1.0);
    budget.on_request(at_ms(0));
    assert_eq!(balance(&budget, at_ms(1000)), 1);
    budget.on_request(at_ms(1000));
    budget.on_request(at_ms(1000));
    assert_eq!(balance(&budget, at_ms(1000)), 3);
    assert_eq!(balance(&budget, at_ms(9000)), 3);
    assert_eq!(balance(&budget, at_ms(9999)), 3);
    assert_eq!(balance(&budget, at_ms(10_000)), 2);
    assert_eq!(balance(&budget, at_ms(11_000)), 0);
}

/// `WindowedAdderTest` "maintains a sliding window when slices are skipped" and
/// "maintains negative sums": a withdrawal outlives the deposits that paid for it
/// (each expires with its own slice), so after the deposits leave the balance is
/// negative and the reserve has to cover it; long idle gaps clear everything.
#[test]
fn finagle_windowed_adder_skipped_slices_and_negative_sums() {
    // 1 deposit at 0 s, 2 at 1 s, 1 at 2 s; at 4 s (two slices skipped) all count.
    let mut budget = finagle(10, 0, 1.0);
    budget.on_request(at_ms(0));
    budget.on_request(at_ms(1000));
    budget.on_request(at_ms(1000));
    budget.on_request(at_ms(2000));
    assert_eq!(balance(&budget, at_ms(4000)), 4);
    assert_eq!(
        balance(&budget, at_ms(11_000)),
        1,
        "only the 2 s deposit left"
    );
    assert_eq!(balance(&budget, at_ms(104_000)), 0);

    // Negative: the reserve is 1 retry a second over 10 s = 10. At 0 s one deposit
    // and 11 retries (the deposit and the whole reserve); at 1 s one more deposit and
    // one retry. Once the 0 s slice leaves (10 s), its 11 withdrawals and 1 deposit
    // go with it; at 11 s the 1 s slice leaves too.
    let mut budget = finagle(10, 1, 1.0);
    budget.on_request(at_ms(0));
    let taken = (0..100).take_while(|_| budget.try_retry(at_ms(0))).count();
    assert_eq!(taken, 11);
    budget.on_request(at_ms(1000));
    assert!(budget.try_retry(at_ms(1000)));
    assert!(!budget.try_retry(at_ms(1000)), "balance 0");
    assert_eq!(balance(&budget, at_ms(9999)), 0);
    assert_eq!(balance(&budget, at_ms(10_000)), 10, "1 s slice nets 0");
    assert_eq!(balance(&budget, at_ms(11_000)), 10);
}

/// `WindowedAdder.expired()` is lazy: a slice ends at the first read or write at
/// least one slice width after the previous one ended (`now() - old >= window`),
/// and the next slice is measured from that moment (`old = now()`), not from the
/// slice boundary. So a deposit can outlive the ttl: one made at 0.5 s, followed by
/// the next touch of the bucket at 9.999 s, is still counted at 10.5 s (the slice
/// that began at 9.999 s has not ended), and leaves only at 10.999 s.
#[test]
fn finagle_slices_are_measured_from_the_access_that_ended_the_last_one() {
    let mut budget = finagle(10, 0, 1.0);
    budget.on_request(at_ms(500));
    budget.on_request(at_ms(9999));
    assert_eq!(balance(&budget, at_ms(10_500)), 2);
    assert_eq!(balance(&budget, at_ms(10_998)), 2);
    assert_eq!(balance(&budget, at_ms(10_999)), 1);
}

/// The same rule stretches slices when traffic is sparse: with one request every
/// 1.999 s, each touch ends exactly one slice (`(now - old) / window - 1 = 0` slices
/// skipped), so the ten slices span about 20 s and ten deposits are live at once,
/// where a clock-aligned 10 s window would hold five.
#[test]
fn finagle_sparse_traffic_keeps_deposits_about_twice_the_ttl() {
    let mut budget = finagle(10, 0, 1.0);
    for k in 0..=10 {
        budget.on_request(at_ms(k * 1999));
    }
    assert_eq!(balance(&budget, at_ms(10 * 1999)), 10);
}

/// `RetryBudget.apply`: `withdrawalAmount = (ScaleFactor / percentCanRetry).toInt`,
/// and Scala's `Double.toInt` saturates at `Int.MaxValue`; `percentCanRetry` may be
/// any value in [0, 1000], however small. A tiny share makes retries cost more than
/// any deposit brings, but the reserve (`minRetriesPerSec * ttl.inSeconds *
/// withdrawalAmount`) still pays for `minRetriesPerSec * ttl` of them.
#[test]
fn finagle_a_tiny_share_still_leaves_the_reserve() {
    let mut budget = finagle(10, 10, 1e-17);
    let now = at_ms(1);
    for _ in 0..1000 {
        budget.on_request(now);
    }
    assert_eq!(balance(&budget, now), 100);
}

// ---------------------------------------------------------------------------------
// AWS SDKs: aws-sdk-go-v2 `aws/retry/jitter_backoff.go` (+ `jitter_backoff_test.go`)
// and `aws/retry/retry2026_test.go` (the cross-SDK 2026 retry behaviour).
// ---------------------------------------------------------------------------------

fn exponential(base: SimDuration, cap: SimDuration, jitter: Jitter) -> RetryPolicy {
    RetryPolicy {
        max_attempts: 5,
        backoff: Backoff::Exponential {
            base,
            multiplier: 2.0,
            cap: Some(cap),
        },
        jitter,
        retry_on: RetryOn::DEFAULT,
        budget: None,
    }
}

/// `retry2026_test.go` "verifying exponential backoff timing" and "verify max backoff
/// time": the 2026 standard mode waits `rand * min(base * 2^(attempt-1), maxBackoff)`
/// (base 50 ms); the tests pin `rand = 1` and expect 50, 100, 200, 400 ms, and with
/// `maxBackoff` 200 ms 50, 100, 200, 200 ms. `rand = 1` is the top of full jitter, the
/// nominal delay: cascade's `exponential` backoff with `max` and `multiplier = 2`
/// gives the same numbers, and full jitter draws below them.
#[test]
fn aws_2026_backoff_is_exponential_full_jitter_capped_before_the_draw() {
    let uncapped = exponential(ms(50), SimDuration::from_secs(20), Jitter::Full);
    let capped = exponential(ms(50), ms(200), Jitter::Full);
    let nominal = |p: &RetryPolicy| -> Vec<u64> {
        (1..=4)
            .map(|n| p.backoff.nominal(n).as_nanos() / 1_000_000)
            .collect()
    };
    assert_eq!(nominal(&uncapped), [50, 100, 200, 400]);
    assert_eq!(nominal(&capped), [50, 100, 200, 200]);
    let mut rng = RngStream::new(2026, "aws-backoff");
    for retry in 1..=4u32 {
        let top = capped.backoff.nominal(retry);
        let draws: Vec<SimDuration> = (0..20_000)
            .map(|_| capped.delay(retry, SimDuration::ZERO, &mut rng))
            .collect();
        assert!(draws.iter().all(|&d| d <= top), "retry {retry}");
        let mean = draws.iter().map(|d| d.as_millis_f64()).sum::<f64>() / draws.len() as f64;
        let half = top.as_millis_f64() / 2.0;
        assert!(
            (mean - half).abs() / half < 0.03,
            "retry {retry}: mean {mean}"
        );
    }
}

/// `jitter_backoff.go` (`ExponentialJitterBackoff`, the Go SDK v2's default) and its
/// test cases "min delay floor", "min delay ceiling" and "attempt delay": attempt n
/// (1 for the first retry) waits `rand[0,1) * 2^n` seconds while
/// `n <= floor(log2(maxBackoff / 1s))` (4 for the default 20 s). That is cascade's
/// exponential backoff from a 2 s base with full jitter: same range, same mean.
/// (Past attempt 4 the SDK waits exactly `maxBackoff`, not a draw below it; with the
/// default 3 attempts no call gets there.)
#[test]
fn aws_go_v2_jitter_backoff_up_to_the_terminal_attempt() {
    let policy = exponential(
        SimDuration::from_secs(2),
        SimDuration::from_secs(20),
        Jitter::Full,
    );
    let mut rng = RngStream::new(3, "aws-go-v2");
    for attempt in 1..=4u32 {
        let top = SimDuration::from_secs(1 << attempt);
        assert_eq!(policy.backoff.nominal(attempt), top, "attempt {attempt}");
        let draws: Vec<SimDuration> = (0..20_000)
            .map(|_| policy.delay(attempt, SimDuration::ZERO, &mut rng))
            .collect();
        assert!(draws.iter().all(|&d| d <= top));
        let percent = top.as_nanos() / 100;
        assert!(
            draws.iter().any(|&d| d.as_nanos() < percent),
            "the floor is 0"
        );
        assert!(
            draws
                .iter()
                .any(|&d| d.as_nanos() > top.as_nanos() - percent),
            "the ceiling is 2^n s"
        );
        let mean = draws.iter().map(|d| d.as_secs_f64()).sum::<f64>() / draws.len() as f64;
        let half = top.as_secs_f64() / 2.0;
        assert!(
            (mean - half).abs() / half < 0.03,
            "attempt {attempt}: mean {mean}"
        );
    }
}

// ---------------------------------------------------------------------------------
// Polly v8: `CircuitBreakerStrategyOptions`, `Controller/CircuitStateController.cs`,
// `Controller/AdvancedCircuitBehavior.cs`, `Health/HealthInfo.cs`, the docs'
// `strategies/circuit-breaker.md`, and the tests
// `Controller/AdvancedCircuitBehaviorTests.cs`, `Controller/CircuitStateControllerTests.cs`.
// cascade has no Polly breaker of its own; its nearest is gobreaker's ratio rule
// (`trip = { failure_ratio, min_requests }`, `half_open_calls = 1`), which shares
// Polly's decision rule: evaluated after each failure in closed state only, break
// when `requests >= minimum && failures / requests >= ratio`.
// ---------------------------------------------------------------------------------

fn polly_like(ratio: f64, minimum_throughput: u32, break_s: u64) -> ConsecutiveBreaker {
    ConsecutiveBreaker::new(
        ConsecutiveSettings {
            trip: TripRule::FailureRatio {
                ratio,
                min_requests: minimum_throughput,
            },
            open_for: SimDuration::from_secs(break_s),
            max_requests: 1,
            interval: None,
        },
        SimTime::ZERO,
    )
}

fn go(b: &mut ConsecutiveBreaker, at: SimTime, success: bool) -> Result<(), Rejection> {
    let ticket = b.allow(at)?;
    b.record(at, ticket, success);
    Ok(())
}

/// Polly docs (`docs/strategies/circuit-breaker.md`): FailureRatio 0.1,
/// SamplingDuration 1 s, MinimumThroughput 3, BreakDuration 30 s; ten failing calls:
/// the first three fail through to the caller, calls 4 to 10 get
/// `BrokenCircuitException`.
#[test]
fn polly_docs_example_three_failures_then_broken() {
    let mut b = polly_like(0.1, 3, 30);
    let outcomes: Vec<_> = (0..10).map(|i| go(&mut b, at_ms(i * 10), false)).collect();
    assert!(outcomes[..3].iter().all(Result::is_ok));
    assert!(outcomes[3..].iter().all(|o| *o == Err(Rejection::Open)));
    assert_eq!(b.rejected(), 7);
}

/// `AdvancedCircuitBehaviorTests.OnActionFailure_WhenClosed_EnsureCorrectBehavior`
/// (throughput, minimum, failure rate, threshold -> break?): (10, 10, 0.1, 0.1) and
/// (11, 10, 0.2, 0.1) break, (9, 10, 0.1, 0.1) does not: both comparisons are `>=`
/// (`HealthInfo.FailureRate` is `failures / (double) total`). Built here from
/// successes and then the one failure that is evaluated.
#[test]
fn polly_breaks_at_exactly_the_ratio_and_the_minimum_throughput() {
    // (successes before the failure, minimum throughput, ratio, breaks?)
    let cases = [
        (9, 10, 0.1, true),   // 1 of 10 = 0.1 >= 0.1, throughput 10 >= 10
        (8, 10, 0.2, false),  // 1 of 9: throughput 9 < 10
        (10, 10, 0.1, false), // 1 of 11 = 0.0909 < 0.1
        (4, 10, 0.2, false),  // 1 of 5: below the minimum
    ];
    for (successes, minimum, ratio, breaks) in cases {
        let mut b = polly_like(ratio, minimum, 5);
        for i in 0..successes {
            go(&mut b, at_ms(i), true).unwrap();
        }
        go(&mut b, at_ms(100), false).unwrap();
        let state = b.state(at_ms(100));
        assert_eq!(
            state == Open,
            breaks,
            "{successes} successes, min {minimum}, {ratio}"
        );
    }
    // Two failures of ten at ratio 0.2: the 10th call, a failure, breaks it.
    let mut b = polly_like(0.2, 10, 5);
    for i in 0..8 {
        go(&mut b, at_ms(i), i != 3).unwrap();
    }
    go(&mut b, at_ms(8), true).unwrap();
    assert_eq!(b.state(at_ms(8)), Closed);
    go(&mut b, at_ms(9), false).unwrap();
    assert_eq!(b.state(at_ms(9)), Open);
}

/// `AdvancedCircuitBehavior.OnActionSuccess` only counts: a success never breaks
/// the circuit, even one that lifts the throughput to the minimum with the ratio
/// already over it. Polly: F F S S at ratio 0.5, minimum 4 stays closed (the failures
/// came below the minimum); the next failure breaks it (3 of 5). gobreaker's ratio
/// rule behaves the same; resilience4j's window breaker, which evaluates after
/// every recorded call, opens on the second success instead (its own documented
/// rule), so a Polly configuration maps onto the ratio rule, not onto a window.
#[test]
fn polly_successes_never_break_the_circuit() {
    let mut b = polly_like(0.5, 4, 5);
    for (i, success) in [false, false, true, true].into_iter().enumerate() {
        go(&mut b, at_ms(i as u64), success).unwrap();
    }
    assert_eq!(b.state(at_ms(4)), Closed);
    go(&mut b, at_ms(5), false).unwrap();
    assert_eq!(b.state(at_ms(5)), Open);

    let mut r4j = WindowBreaker::new(WindowSettings {
        minimum_calls: 4,
        failure_rate_threshold: 50.0,
        ..WindowSettings::resilience4j_defaults(WindowKind::Count(100))
    });
    for (i, success) in [false, false, true, true].into_iter().enumerate() {
        r4j.allow(at_ms(i as u64)).unwrap();
        r4j.record(
            at_ms(i as u64),
            CallResult {
                success,
                outcome: Outcome::Status(if success { 200 } else { 500 }),
                duration: ms(1),
            },
        );
    }
    assert_eq!(
        r4j.peek_state(at_ms(4)),
        Open,
        "resilience4j's rule, not Polly's"
    );
}

/// `CircuitStateController.OnActionPreExecuteAsync`: after the break, the first call
/// moves the circuit to half-open and is the only one let through; every other call
/// gets `BrokenCircuitException` while it runs, and there is no timer that gives up
/// on it (a probe that never completes keeps the circuit half-open). A handled
/// failure of the probe breaks it again for a whole BreakDuration; a success closes
/// it and resets the metrics (`OnCircuitClosed` -> `Reset`), so the old failures do
/// not count against the closed state.
#[test]
fn polly_half_open_admits_one_probe() {
    let mut b = polly_like(0.5, 2, 5);
    go(&mut b, at_ms(0), false).unwrap();
    go(&mut b, at_ms(0), false).unwrap();
    assert_eq!(b.state(at_ms(0)), Open);

    let probe_at = at_ms(5001);
    let probe = b
        .allow(probe_at)
        .expect("the first call after the break is the probe");
    assert_eq!(b.peek_state(probe_at), HalfOpen);
    for later in [5001, 6000, 60_000, 600_000] {
        assert_eq!(b.allow(at_ms(later)), Err(Rejection::TooManyRequests));
        assert_eq!(b.peek_state(at_ms(later)), HalfOpen, "no re-probe timer");
    }
    b.record(at_ms(600_001), probe, false);
    assert_eq!(
        b.state(at_ms(600_001)),
        Open,
        "a failed probe breaks it again"
    );
    assert_eq!(b.allow(at_ms(605_001)), Err(Rejection::Open));

    let probe = b.allow(at_ms(605_002)).unwrap();
    b.record(at_ms(605_003), probe, true);
    assert_eq!(b.state(at_ms(605_003)), Closed);
    // Metrics start empty: one failure of one call is below the minimum of 2; a
    // success and another failure (2 of 3) break it again.
    go(&mut b, at_ms(605_004), false).unwrap();
    assert_eq!(b.state(at_ms(605_004)), Closed);
    go(&mut b, at_ms(605_005), true).unwrap();
    go(&mut b, at_ms(605_006), false).unwrap();
    assert_eq!(b.state(at_ms(605_006)), Open);
}
