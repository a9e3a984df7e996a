//! The breakers against the real libraries' own test sequences and sources
//! (gobreaker, resilience4j, Hystrix 1.5). Each test names the upstream test or
//! source it mirrors.

use models::breaker::{
    BreakerState, CallResult, ConsecutiveBreaker, ConsecutiveSettings, Counts, HystrixBreaker,
    HystrixSettings, Outcome, Rejection, TripRule, WindowBreaker, WindowKind, WindowSettings,
};
use sim_core::{SimDuration, SimTime};
use BreakerState::*;

fn ms(ms: u64) -> SimTime {
    SimTime(ms * 1_000_000)
}

fn secs(s: u64) -> SimTime {
    SimTime(s * 1_000_000_000)
}

fn plus_ns(t: SimTime, ns: u64) -> SimTime {
    t + SimDuration(ns)
}

// ---------------------------------------------------------------------------------
// sony/gobreaker (gobreaker.go, gobreaker_test.go)
// ---------------------------------------------------------------------------------

fn counts(r: u32, ts: u32, tf: u32, cs: u32, cf: u32) -> Counts {
    Counts {
        requests: r,
        total_successes: ts,
        total_failures: tf,
        consecutive_successes: cs,
        consecutive_failures: cf,
    }
}

fn go_succeed(b: &mut ConsecutiveBreaker, at: SimTime) -> Result<(), Rejection> {
    let t = b.allow(at)?;
    b.record(at, t, true);
    Ok(())
}

fn go_fail(b: &mut ConsecutiveBreaker, at: SimTime) -> Result<(), Rejection> {
    let t = b.allow(at)?;
    b.record(at, t, false);
    Ok(())
}

/// gobreaker_test.go `TestDefaultCircuitBreaker`: default settings (MaxRequests 1,
/// Timeout 60 s, ReadyToTrip `ConsecutiveFailures > 5`). `pseudoSleep` becomes sim time;
/// "over Timeout" is 1 ns past the expiry (gobreaker compares `expiry.Before(now)`).
#[test]
fn gobreaker_default_breaker_sequence() {
    let mut b = ConsecutiveBreaker::new(
        ConsecutiveSettings {
            trip: TripRule::ConsecutiveFailures(6),
            open_for: SimDuration::from_secs(60),
            max_requests: 1,
            interval: None,
        },
        SimTime::ZERO,
    );
    let t = secs(1);
    for _ in 0..5 {
        go_fail(&mut b, t).unwrap();
    }
    assert_eq!(b.state(t), Closed);
    assert_eq!(b.counts(), counts(5, 0, 5, 0, 5));
    go_succeed(&mut b, t).unwrap();
    assert_eq!(b.counts(), counts(6, 1, 5, 1, 0));
    go_fail(&mut b, t).unwrap();
    assert_eq!(b.counts(), counts(7, 1, 6, 0, 1));
    for _ in 0..5 {
        go_fail(&mut b, t).unwrap(); // 6 consecutive failures
    }
    assert_eq!(b.state(t), Open);
    assert_eq!(b.counts(), Counts::default());
    assert_eq!(go_succeed(&mut b, t), Err(Rejection::Open));
    assert_eq!(go_fail(&mut b, t), Err(Rejection::Open));
    assert_eq!(b.counts(), Counts::default(), "rejections are not counted");
    assert_eq!(b.state(secs(60)), Open, "59 s later");
    assert_eq!(b.state(secs(61)), Open, "exactly at expiry (strict Before)");
    let ho = plus_ns(secs(61), 1);
    assert_eq!(b.state(ho), HalfOpen);
    go_fail(&mut b, ho).unwrap(); // HalfOpen -> Open
    assert_eq!(b.state(ho), Open);
    assert_eq!(b.counts(), Counts::default());
    let ho2 = plus_ns(ho + SimDuration::from_secs(60), 1);
    assert_eq!(b.state(ho2), HalfOpen);
    go_succeed(&mut b, ho2).unwrap(); // HalfOpen -> Closed
    assert_eq!(b.state(ho2), Closed);
    assert_eq!(b.counts(), Counts::default());
}

fn go_custom() -> ConsecutiveBreaker {
    // customSt: MaxRequests 3, Interval 30 s, Timeout 90 s,
    // ReadyToTrip: Requests >= 3 && TotalFailures/Requests >= 0.6.
    ConsecutiveBreaker::new(
        ConsecutiveSettings {
            trip: TripRule::FailureRatio {
                ratio: 0.6,
                min_requests: 3,
            },
            open_for: SimDuration::from_secs(90),
            max_requests: 3,
            interval: Some(SimDuration::from_secs(30)),
        },
        SimTime::ZERO,
    )
}

/// gobreaker_test.go `TestCustomCircuitBreaker`.
#[test]
fn gobreaker_custom_breaker_sequence() {
    let mut b = go_custom();
    for _ in 0..5 {
        go_succeed(&mut b, secs(1)).unwrap();
        go_fail(&mut b, secs(1)).unwrap();
    }
    assert_eq!(b.state(secs(1)), Closed);
    assert_eq!(b.counts(), counts(10, 5, 5, 0, 1));
    go_succeed(&mut b, secs(29)).unwrap(); // pseudoSleep 29 s
    assert_eq!(b.counts(), counts(11, 6, 5, 1, 0));
    let over = plus_ns(secs(30), 1); // pseudoSleep 1 s: over Interval
    go_fail(&mut b, over).unwrap();
    assert_eq!(b.state(over), Closed);
    assert_eq!(b.counts(), counts(1, 0, 1, 0, 1));
    go_succeed(&mut b, over).unwrap();
    go_fail(&mut b, over).unwrap(); // 2/3 >= 0.6
    assert_eq!(b.state(over), Open);
    assert_eq!(b.counts(), Counts::default());
    let ho = plus_ns(over + SimDuration::from_secs(90), 1);
    assert_eq!(b.state(ho), HalfOpen);
    go_succeed(&mut b, ho).unwrap();
    go_succeed(&mut b, ho).unwrap();
    assert_eq!(b.state(ho), HalfOpen);
    assert_eq!(b.counts(), counts(2, 2, 0, 2, 0));
    let slow = b.allow(ho).unwrap(); // succeedLater: 3rd admitted, in flight
    assert_eq!(b.counts(), counts(3, 2, 0, 2, 0));
    assert_eq!(
        b.allow(ho),
        Err(Rejection::TooManyRequests),
        "over MaxRequests"
    );
    b.record(ho + SimDuration::from_millis(100), slow, true);
    assert_eq!(b.state(ho + SimDuration::from_millis(100)), Closed);
    assert_eq!(b.counts(), Counts::default());
}

/// gobreaker_test.go `TestGeneration`: a request admitted before the closed-state
/// interval reset does not count after it.
#[test]
fn gobreaker_generation_ignores_result_from_before_interval_reset() {
    let mut b = go_custom();
    go_succeed(&mut b, secs(29)).unwrap();
    let late = b.allow(secs(29)).unwrap(); // succeedLater(1.5 s)
    assert_eq!(b.counts(), counts(2, 1, 0, 1, 0));
    let over = plus_ns(secs(30), 1);
    assert_eq!(b.state(over), Closed);
    assert_eq!(b.counts(), Counts::default());
    b.record(ms(30_500), late, true);
    assert_eq!(b.counts(), Counts::default());
}

// ---------------------------------------------------------------------------------
// resilience4j (CircuitBreakerStateMachine, CircuitBreakerMetrics,
// SlidingTimeWindowMetrics, IntervalFunction; CircuitBreakerStateMachineTest)
// ---------------------------------------------------------------------------------

fn r(success: bool, duration_ms: u64) -> CallResult {
    CallResult {
        success,
        outcome: Outcome::Status(if success { 200 } else { 500 }),
        duration: SimDuration::from_millis(duration_ms),
    }
}

/// CircuitBreakerStateMachineTest `setUp`: failureRateThreshold 50,
/// permittedNumberOfCallsInHalfOpenState 4, slowCallDurationThreshold 4 s,
/// slowCallRateThreshold 50, slidingWindow(5, 5, TIME_BASED), waitDurationInOpenState 5 s.
fn r4j_setup() -> WindowSettings {
    WindowSettings {
        minimum_calls: 5,
        failure_rate_threshold: 50.0,
        slow_call_rate_threshold: 50.0,
        slow_call_duration: SimDuration::from_secs(4),
        half_open_calls: 4,
        open_for: SimDuration::from_secs(5),
        ..WindowSettings::resilience4j_defaults(WindowKind::Time(5))
    }
}

fn call(b: &mut WindowBreaker, at: SimTime, result: CallResult) -> Result<(), Rejection> {
    b.allow(at)?;
    b.record(at, result);
    Ok(())
}

fn open_r4j(settings: WindowSettings, at: SimTime) -> WindowBreaker {
    let mut b = WindowBreaker::new(settings);
    for _ in 0..5 {
        call(&mut b, at, r(false, 0)).unwrap();
    }
    assert_eq!(b.peek_state(at), Open);
    b
}

/// `shouldOpenAfterFailureRateThresholdExceeded`: F F F S S in a 5 s time window
/// (minimum 5) opens at 60 %; the next call is not permitted. Plus OpenState.onSuccess:
/// a late result is still recorded into the carried closed metrics.
#[test]
fn r4j_opens_after_failure_rate_threshold_exceeded() {
    let mut b = WindowBreaker::new(r4j_setup());
    let t = ms(0);
    for _ in 0..3 {
        call(&mut b, t, r(false, 0)).unwrap();
        assert_eq!(b.peek_state(t), Closed);
        assert_eq!(b.rates(), None, "below minimum: -1");
    }
    call(&mut b, t, r(true, 0)).unwrap();
    assert_eq!(b.peek_state(t), Closed);
    call(&mut b, t, r(true, 0)).unwrap();
    assert_eq!(b.peek_state(t), Open);
    assert_eq!(b.rates(), Some((60.0, 0.0)));
    assert_eq!(b.allow(t), Err(Rejection::Open));
    // A call admitted in CLOSED completing in OPEN is recorded (6 calls, 3 failed).
    b.record(t, r(true, 0));
    assert_eq!(b.rates(), Some((50.0, 0.0)));
    assert_eq!(b.peek_state(t), Open);
}

/// `shouldOpenAfterSlowCallRateThresholdExceeded`: 3 of 5 calls above 4 s.
#[test]
fn r4j_opens_after_slow_call_rate_threshold_exceeded() {
    let mut b = WindowBreaker::new(r4j_setup());
    let t = ms(0);
    for (ok, d) in [(false, 5000), (true, 5000), (false, 100), (true, 100)] {
        call(&mut b, t, r(ok, d)).unwrap();
        assert_eq!(b.peek_state(t), Closed);
    }
    call(&mut b, t, r(true, 5000)).unwrap();
    assert_eq!(b.peek_state(t), Open);
    assert_eq!(b.rates(), Some((40.0, 60.0)));
}

/// `shouldTransitionToHalfOpenAfterWaitDuration`, plus OpenState.tryAcquirePermission's
/// strict `clock.instant().isAfter(retryAfterWaitDuration)` at exactly 5 s.
#[test]
fn r4j_transitions_to_half_open_after_wait_duration() {
    let mut b = open_r4j(r4j_setup(), ms(0));
    assert_eq!(b.allow(ms(0)), Err(Rejection::Open));
    assert_eq!(b.allow(secs(3)), Err(Rejection::Open));
    assert_eq!(b.allow(secs(5)), Err(Rejection::Open), "not after the wait");
    assert!(b.allow(secs(6)).is_ok());
    assert_eq!(b.peek_state(secs(6)), HalfOpen);
    assert_eq!(b.rates(), None, "half-open metrics are fresh");
    assert_eq!(b.rejected(), 3);
}

/// `shouldTransitionToHalfOpenAfterWaitInterval`: IntervalFunction.ofExponentialBackoff
/// (5000 ms, default multiplier 1.5): 5 s, then 7.5 s after reopening. (Upstream reopens
/// with transitionToOpenState(); here the four trials fail.)
#[test]
fn r4j_exponential_wait_interval_in_open_state() {
    let settings = WindowSettings {
        failure_rate_threshold: 50.0,
        minimum_calls: 5,
        half_open_calls: 4,
        open_for: SimDuration::from_secs(5),
        open_for_multiplier: 1.5,
        ..WindowSettings::resilience4j_defaults(WindowKind::Count(5))
    };
    let mut b = open_r4j(settings, ms(0));
    assert_eq!(b.allow(secs(3)), Err(Rejection::Open));
    for _ in 0..4 {
        b.allow(secs(6)).unwrap();
    }
    for _ in 0..4 {
        b.record(secs(6), r(false, 0));
    }
    assert_eq!(b.peek_state(secs(6)), Open);
    assert_eq!(b.allow(secs(12)), Err(Rejection::Open), "7.5 s not elapsed");
    assert_eq!(b.allow(ms(13_500)), Err(Rejection::Open), "exactly 7.5 s");
    assert!(b.allow(secs(17)).is_ok());
    assert_eq!(b.peek_state(secs(17)), HalfOpen);
}

fn half_open_r4j() -> WindowBreaker {
    let mut b = open_r4j(r4j_setup(), ms(0));
    b.allow(secs(6)).unwrap(); // first trial, consumed on the move to half-open
    b
}

/// `shouldOnlyPermitFourCallsInHalfOpenState` / `shouldThrowCallNotPermittedException
/// WhenNotFurtherTestCallsArePermitted`.
#[test]
fn r4j_half_open_permits_exactly_the_permitted_calls() {
    let mut b = half_open_r4j();
    for _ in 0..3 {
        assert!(b.allow(secs(6)).is_ok());
    }
    assert_eq!(b.allow(secs(6)), Err(Rejection::TooManyRequests));
    assert_eq!(b.allow(secs(7)), Err(Rejection::TooManyRequests));
}

/// `shouldTransitionBackToOpenStateWhenFailureRateIsAboveThreshold`: F F S F = 75 %.
#[test]
fn r4j_half_open_back_to_open_on_failure_rate() {
    let mut b = half_open_r4j();
    for _ in 0..3 {
        b.allow(secs(6)).unwrap();
    }
    for ok in [false, false, true] {
        b.record(secs(6), r(ok, 0));
        assert_eq!(b.peek_state(secs(6)), HalfOpen);
    }
    b.record(secs(6), r(false, 0));
    assert_eq!(b.peek_state(secs(6)), Open);
}

/// `shouldTransitionBackToOpenStateWhenSlowCallRateIsAboveThreshold`: 3 of 4 slow.
#[test]
fn r4j_half_open_back_to_open_on_slow_call_rate() {
    let mut b = half_open_r4j();
    for _ in 0..3 {
        b.allow(secs(6)).unwrap();
    }
    for d in [5000, 5000, 5000, 1000] {
        b.record(secs(6), r(true, d));
    }
    assert_eq!(b.peek_state(secs(6)), Open);
}

/// `shouldTransitionBackToClosedStateWhenFailureIsBelowThreshold`: F S S S = 25 %
/// closes; closed metrics start empty; further calls are permitted.
#[test]
fn r4j_half_open_back_to_closed_below_threshold() {
    let mut b = half_open_r4j();
    for _ in 0..3 {
        b.allow(secs(6)).unwrap();
    }
    for ok in [false, true, true] {
        b.record(secs(6), r(ok, 0));
        assert_eq!(b.peek_state(secs(6)), HalfOpen);
    }
    b.record(secs(6), r(true, 0));
    assert_eq!(b.peek_state(secs(6)), Closed);
    assert!(b.allow(secs(6)).is_ok());
    b.record(secs(6), r(true, 0));
    assert_eq!(b.rates(), None, "1 call in a fresh window, minimum 5");
}

/// CircuitBreakerMetrics: half-open metrics are COUNT_BASED of size permitted, minimum
/// `Math.min(minimumNumberOfCalls, permitted)`: with minimum 2 and 4 permits the
/// half-open state decides after 2 results.
#[test]
fn r4j_half_open_minimum_is_min_of_minimum_and_permitted() {
    let settings = WindowSettings {
        minimum_calls: 2,
        half_open_calls: 4,
        open_for: SimDuration::from_secs(5),
        ..WindowSettings::resilience4j_defaults(WindowKind::Count(10))
    };
    let mut b = WindowBreaker::new(settings);
    call(&mut b, ms(0), r(false, 0)).unwrap();
    call(&mut b, ms(0), r(false, 0)).unwrap();
    assert_eq!(b.peek_state(ms(0)), Open);
    b.allow(secs(6)).unwrap();
    b.allow(secs(6)).unwrap();
    b.record(secs(6), r(false, 0));
    assert_eq!(b.peek_state(secs(6)), HalfOpen);
    b.record(secs(6), r(true, 0));
    assert_eq!(b.peek_state(secs(6)), Open, "50 % of 2 >= 50 %");
}

/// SlidingTimeWindowMetricsTest `testSlidingTimeWindowMetrics` (window 5 s). Observed
/// through the slow-call rate (minimum 2, threshold 100 % so nothing trips): upstream's
/// ERROR calls are slow successes here.
#[test]
fn r4j_sliding_time_window_sequence() {
    let mut b = WindowBreaker::new(WindowSettings {
        minimum_calls: 2,
        failure_rate_threshold: 100.0,
        slow_call_rate_threshold: 100.0,
        slow_call_duration: SimDuration::from_millis(500),
        ..WindowSettings::resilience4j_defaults(WindowKind::Time(5))
    });
    let marked = |b: &mut WindowBreaker, at: SimTime, error: bool| {
        call(b, at, r(true, if error { 1000 } else { 100 })).unwrap();
    };
    let slow_pct = |b: &WindowBreaker| b.rates().map(|(_, s)| s);
    marked(&mut b, ms(0), true);
    assert_eq!(slow_pct(&b), None); // 1 call
    marked(&mut b, ms(100), false);
    assert_eq!(slow_pct(&b), Some(50.0)); // 2 calls, 1 error
    marked(&mut b, ms(200), false);
    marked(&mut b, ms(1200), false);
    marked(&mut b, ms(2200), false); // 5 calls, 1 error
    assert_eq!(slow_pct(&b), Some(20.0));
    marked(&mut b, ms(3200), true);
    marked(&mut b, ms(4200), false); // 7 calls, 2 errors
    assert!((slow_pct(&b).unwrap() - 200.0 / 7.0).abs() < 1e-9);
    marked(&mut b, ms(5200), false); // 5 calls (1.2 .. 5.2 s), 1 error
    assert_eq!(slow_pct(&b), Some(20.0));
    marked(&mut b, ms(6200), false); // 5 calls, 1 error
    assert_eq!(slow_pct(&b), Some(20.0));
    marked(&mut b, ms(11_200), false); // 1 call
    assert_eq!(slow_pct(&b), None);
    assert_eq!(b.peek_state(ms(11_200)), Closed);
}

/// transitionToOpenState() builds `new OpenState(attempts + 1,
/// currentState.getMetrics())`: after HALF_OPEN -> OPEN the reported metrics are the
/// half-open ones (F S F = 66.7 %). Reports only; no transition depends on it.
#[test]
fn r4j_reopened_breaker_reports_the_half_open_metrics() {
    let mut b = open_r4j(
        WindowSettings {
            half_open_calls: 3,
            ..r4j_setup()
        },
        ms(0),
    );
    for _ in 0..3 {
        b.allow(secs(6)).unwrap();
    }
    for ok in [false, true, false] {
        b.record(secs(6), r(ok, 0));
    }
    assert_eq!(b.peek_state(secs(6)), Open);
    let (failure, _) = b.rates().expect("resilience4j reports the carried metrics");
    assert!((failure - 200.0 / 3.0).abs() < 1e-3);
}

// ---------------------------------------------------------------------------------
// Netflix Hystrix 1.5 (HystrixCircuitBreaker.java, AbstractCommand.java,
// HystrixCircuitBreakerTest.java with HystrixCommandPropertiesTest's unit-test
// properties: errorThreshold 40 %, rolling window 5000 ms, health snapshot 100 ms,
// request volume 1 (Command's default), sleep window 200 ms)
// ---------------------------------------------------------------------------------

fn hystrix_unit(volume: u32) -> HystrixBreaker {
    HystrixBreaker::new(
        HystrixSettings {
            rolling_window: SimDuration::from_millis(5000),
            rolling_buckets: 5,
            health_snapshot_interval: SimDuration::from_millis(100),
            request_volume_threshold: volume,
            error_threshold_percentage: 40,
            sleep_window: SimDuration::from_millis(200),
            force_open: false,
            force_closed: false,
        },
        SimTime::ZERO,
    )
}

#[derive(Clone, Copy)]
enum H {
    S,
    F,
    T,
}

fn hresult(kind: H) -> CallResult {
    match kind {
        H::S => CallResult {
            success: true,
            outcome: Outcome::Status(200),
            duration: SimDuration::from_millis(1),
        },
        H::F => CallResult {
            success: false,
            outcome: Outcome::Status(500),
            duration: SimDuration::from_millis(1),
        },
        H::T => CallResult {
            success: false,
            outcome: Outcome::TimedOut,
            duration: SimDuration::from_millis(500),
        },
    }
}

fn hrun(b: &mut HystrixBreaker, at: SimTime, kinds: &[H]) {
    for &k in kinds {
        b.allow(at).expect("admitted");
        b.record(at, hresult(k));
    }
}

/// `testTripCircuit`: 4 successes keep it closed; 4 more failures (50 %) trip it.
#[test]
fn hystrix_trip_circuit() {
    use H::*;
    let mut b = hystrix_unit(1);
    hrun(&mut b, ms(10), &[S, S, S, S]);
    assert_eq!(b.peek_state(ms(110)), Closed);
    hrun(&mut b, ms(110), &[F, F, F, F]);
    assert_eq!(b.peek_state(ms(210)), Open);
    assert_eq!(b.allow(ms(210)), Err(Rejection::Open));
}

/// `testTripCircuitOnFailuresAboveThreshold` (4/8) and
/// `testCircuitDoesNotTripOnFailuresBelowThreshold` (3/8 = 37 % < 40 %).
#[test]
fn hystrix_trips_above_and_not_below_the_error_threshold() {
    use H::*;
    let mut above = hystrix_unit(1);
    hrun(&mut above, ms(10), &[S, S, F, S, F, S, F, F]);
    assert_eq!(above.peek_state(ms(110)), Open);
    let mut below = hystrix_unit(1);
    hrun(&mut below, ms(10), &[S, S, F, S, S, F, S, F]);
    assert_eq!(below.peek_state(ms(110)), Closed);
    assert!(below.allow(ms(110)).is_ok());
}

/// `testTripCircuitOnTimeouts` and `testTripCircuitOnTimeoutsAboveThreshold` (5/9).
#[test]
fn hystrix_timeouts_trip_the_circuit() {
    use H::*;
    let mut all = hystrix_unit(1);
    hrun(&mut all, ms(10), &[T, T, T, T]);
    assert_eq!(all.peek_state(ms(110)), Open);
    let mut some = hystrix_unit(1);
    hrun(&mut some, ms(10), &[S, S, T, S, T, T, S, T, T]);
    assert_eq!(some.peek_state(ms(110)), Open);
}

/// `testSingleTestOnOpenCircuitAfterTimeWindow`.
#[test]
fn hystrix_single_test_after_sleep_window() {
    use H::*;
    let mut b = hystrix_unit(1);
    hrun(&mut b, ms(10), &[F, F, F, F]);
    assert_eq!(b.allow(ms(110)), Err(Rejection::Open));
    assert_eq!(
        b.allow(ms(300)),
        Err(Rejection::Open),
        "opened at 100 ms: not after 300"
    );
    assert!(b.allow(ms(360)).is_ok(), "one attempt");
    assert_eq!(b.peek_state(ms(360)), HalfOpen, "isOpen() still true");
    assert_eq!(
        b.allow(ms(360)),
        Err(Rejection::Open),
        "further attempts blocked"
    );
}

/// `testCircuitClosedAfterSuccess`: a successful trial closes, and the reset stream
/// keeps the old failures from reopening it on the next snapshot.
#[test]
fn hystrix_circuit_closed_after_success() {
    use H::*;
    let mut b = hystrix_unit(1);
    hrun(&mut b, ms(10), &[F, F, F, T]);
    assert_eq!(b.peek_state(ms(110)), Open);
    assert_eq!(b.peek_state(ms(360)), Open);
    b.allow(ms(360)).unwrap();
    assert_eq!(b.allow(ms(361)), Err(Rejection::Open), "trial in flight");
    b.record(ms(420), hresult(S));
    for _ in 0..3 {
        assert!(b.allow(ms(520)).is_ok());
    }
    assert_eq!(b.peek_state(ms(520)), Closed);
}

/// `testMultipleTimeWindowRetriesBeforeClosingCircuit`.
#[test]
fn hystrix_multiple_sleep_windows_before_closing() {
    use H::*;
    let mut b = hystrix_unit(1);
    hrun(&mut b, ms(10), &[F, F, F, T]);
    assert_eq!(b.peek_state(ms(110)), Open);
    b.allow(ms(360)).unwrap();
    assert_eq!(b.allow(ms(361)), Err(Rejection::Open));
    b.record(ms(420), hresult(F)); // reopens, new sleep window from 420
    for _ in 0..3 {
        assert_eq!(b.allow(ms(420)), Err(Rejection::Open));
    }
    assert_eq!(b.allow(ms(620)), Err(Rejection::Open));
    b.allow(ms(670)).unwrap();
    assert_eq!(b.allow(ms(671)), Err(Rejection::Open));
    b.record(ms(730), hresult(F));
    for _ in 0..3 {
        assert_eq!(b.allow(ms(730)), Err(Rejection::Open));
    }
    assert_eq!(b.peek_state(ms(980)), Open);
    b.allow(ms(980)).unwrap();
    assert_eq!(b.allow(ms(981)), Err(Rejection::Open));
    b.record(ms(1040), hresult(S));
    for _ in 0..3 {
        assert!(b.allow(ms(1040)).is_ok());
    }
    assert_eq!(b.peek_state(ms(1040)), Closed);
}

/// `testLowVolumeDoesNotTripCircuit`: volume 5, 4 failures.
#[test]
fn hystrix_low_volume_does_not_trip() {
    use H::*;
    let mut b = hystrix_unit(5);
    hrun(&mut b, ms(10), &[F, F, F, F]);
    assert_eq!(b.peek_state(ms(110)), Closed);
    assert!(b.allow(ms(110)).is_ok());
}
