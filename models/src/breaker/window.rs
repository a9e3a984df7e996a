//! resilience4j's circuit breaker: failure-rate and slow-call-rate thresholds over a
//! count-based or time-based sliding window.
//!
//! The rules followed (resilience4j `CircuitBreakerStateMachine`,
//! `FixedSizeSlidingWindowMetrics`, `SlidingTimeWindowMetrics`):
//! - Outcomes are recorded when a call completes, with its duration; a call is slow
//!   when its duration is strictly above `slow_call_duration`.
//! - Rates are evaluated after each record, once `minimum_calls` are in the window
//!   (for a count window, the minimum is capped at the window size); the breaker
//!   opens when the failure rate or the slow-call rate is at or above its threshold.
//! - A count window holds the last N outcomes; a time window holds one bucket per
//!   second of completion time: the current second and the N-1 before it.
//! - Open: a call after the wait (strictly after) moves the breaker to half-open and
//!   is the first trial; with `automatic_transition` a timer moves it exactly at the
//!   end of the wait. The wait may grow with each reopening (`open_for_multiplier`,
//!   as an exponential interval function of the number of attempts).
//! - Half-open: `half_open_calls` trials, measured in a fresh count window of that
//!   size with minimum `min(minimum_calls, half_open_calls)`; over threshold reopens,
//!   under it closes, below the minimum waits for more. With `half_open_max_wait`, a
//!   timer reopens a breaker stuck in half-open.
//! - Outcomes arriving in open state are recorded but cannot move the breaker; a
//!   rejected call is never recorded. resilience4j has no generations: an outcome is
//!   recorded in the state current when it completes.

use std::collections::VecDeque;

use sim_core::time::NANOS_PER_SEC;
use sim_core::{SimDuration, SimTime};

use super::{BreakerState, CallResult, Rejection, Ticket, Transition};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WindowKind {
    /// The last N calls.
    Count(u32),
    /// The calls completed in the last N seconds (one-second buckets).
    Time(u32),
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WindowSettings {
    pub window: WindowKind,
    pub minimum_calls: u32,
    /// Percent in (0, 100].
    pub failure_rate_threshold: f64,
    /// Percent in (0, 100].
    pub slow_call_rate_threshold: f64,
    pub slow_call_duration: SimDuration,
    pub half_open_calls: u32,
    pub open_for: SimDuration,
    /// 1.0 keeps the wait constant; 2.0 doubles it on each reopening.
    pub open_for_multiplier: f64,
    pub open_for_max: Option<SimDuration>,
    pub automatic_transition: bool,
    pub half_open_max_wait: Option<SimDuration>,
}

impl WindowSettings {
    /// resilience4j's defaults.
    pub fn resilience4j_defaults(window: WindowKind) -> Self {
        WindowSettings {
            window,
            minimum_calls: 100,
            failure_rate_threshold: 50.0,
            slow_call_rate_threshold: 100.0,
            slow_call_duration: SimDuration::from_secs(60),
            half_open_calls: 10,
            open_for: SimDuration::from_secs(60),
            open_for_multiplier: 1.0,
            open_for_max: None,
            automatic_transition: false,
            half_open_max_wait: None,
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Tally {
    calls: u32,
    failed: u32,
    slow: u32,
}

impl Tally {
    fn add(&mut self, other: Tally) {
        self.calls += other.calls;
        self.failed += other.failed;
        self.slow += other.slow;
    }
    fn subtract(&mut self, other: Tally) {
        self.calls -= other.calls;
        self.failed -= other.failed;
        self.slow -= other.slow;
    }
}

/// The sliding window and its running totals.
#[derive(Clone, Debug)]
struct Metrics {
    kind: WindowKind,
    minimum_calls: u32,
    /// Count window: one entry per call. Time window: (second, tally) per second.
    entries: VecDeque<(u64, Tally)>,
    total: Tally,
}

#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    BelowMinimum,
    BelowThresholds,
    Exceeded,
}

impl Metrics {
    fn new(kind: WindowKind, minimum_calls: u32) -> Self {
        let minimum_calls = match kind {
            WindowKind::Count(size) => minimum_calls.min(size),
            WindowKind::Time(_) => minimum_calls,
        };
        Metrics {
            kind,
            minimum_calls,
            entries: VecDeque::new(),
            total: Tally::default(),
        }
    }

    fn record(&mut self, now: SimTime, one: Tally) {
        match self.kind {
            WindowKind::Count(size) => {
                if self.entries.len() == size as usize {
                    let (_, evicted) = self.entries.pop_front().expect("full window");
                    self.total.subtract(evicted);
                }
                self.entries.push_back((0, one));
            }
            WindowKind::Time(_) => {
                self.evict(now);
                let second = now.as_nanos() / NANOS_PER_SEC;
                match self.entries.back_mut() {
                    Some((bucket, tally)) if *bucket == second => tally.add(one),
                    _ => self.entries.push_back((second, one)),
                }
            }
        }
        self.total.add(one);
    }

    /// Time window: drops the buckets of seconds before the last N.
    fn evict(&mut self, now: SimTime) {
        if let WindowKind::Time(seconds) = self.kind {
            let current = now.as_nanos() / NANOS_PER_SEC;
            while let Some(&(bucket, tally)) = self.entries.front() {
                if bucket + u64::from(seconds) <= current {
                    self.entries.pop_front();
                    self.total.subtract(tally);
                } else {
                    break;
                }
            }
        }
    }

    fn verdict(&self, settings: &WindowSettings) -> Verdict {
        let total = self.total;
        if total.calls == 0 || total.calls < self.minimum_calls {
            return Verdict::BelowMinimum;
        }
        // In f32, as resilience4j computes `failed * 100.0f / total` and compares it
        // with its float threshold: 2 of 3 reach a threshold of 66.666667 there.
        let calls = total.calls as f32;
        let failure_rate = total.failed as f32 * 100.0 / calls;
        let slow_rate = total.slow as f32 * 100.0 / calls;
        if failure_rate >= settings.failure_rate_threshold as f32
            || slow_rate >= settings.slow_call_rate_threshold as f32
        {
            Verdict::Exceeded
        } else {
            Verdict::BelowThresholds
        }
    }
}

#[derive(Clone, Debug)]
pub struct WindowBreaker {
    settings: WindowSettings,
    state: BreakerState,
    metrics: Metrics,
    /// Open: when trials may start. Half-open: when the time limit reopens it.
    until: Option<SimTime>,
    half_open_permits: u32,
    /// With a growing wait, the last one in whole milliseconds since the breaker last
    /// closed (None if it has not opened since).
    last_wait_ms: Option<u64>,
    transitions: Vec<Transition>,
    rejected: u64,
}

impl WindowBreaker {
    pub fn new(settings: WindowSettings) -> Self {
        assert!(settings.half_open_calls >= 1 && settings.minimum_calls >= 1);
        WindowBreaker {
            metrics: Metrics::new(settings.window, settings.minimum_calls),
            settings,
            state: BreakerState::Closed,
            until: None,
            half_open_permits: 0,
            last_wait_ms: None,
            transitions: Vec::new(),
            rejected: 0,
        }
    }

    pub fn transitions(&self) -> &[Transition] {
        &self.transitions
    }

    pub fn rejected(&self) -> u64 {
        self.rejected
    }

    pub fn peek_state(&self, now: SimTime) -> BreakerState {
        match (self.state, self.until) {
            (BreakerState::Open, Some(until))
                if now > until && !self.settings.automatic_transition =>
            {
                BreakerState::HalfOpen
            }
            (state, _) => state,
        }
    }

    /// Failure and slow-call rates in percent over the current window, for tests and
    /// reports; `None` below the minimum number of calls.
    pub fn rates(&self) -> Option<(f64, f64)> {
        let total = self.metrics.total;
        (total.calls >= self.metrics.minimum_calls && total.calls > 0).then(|| {
            let calls = f64::from(total.calls);
            (
                f64::from(total.failed) * 100.0 / calls,
                f64::from(total.slow) * 100.0 / calls,
            )
        })
    }

    pub fn allow(&mut self, now: SimTime) -> Result<Ticket, Rejection> {
        if self.state == BreakerState::Open {
            match self.until {
                Some(until) if now > until => self.enter_half_open(now),
                _ => {
                    self.rejected += 1;
                    return Err(Rejection::Open);
                }
            }
        }
        if self.state == BreakerState::HalfOpen {
            if self.half_open_permits == 0 {
                self.rejected += 1;
                return Err(Rejection::TooManyRequests);
            }
            self.half_open_permits -= 1;
        }
        Ok(Ticket { generation: 0 })
    }

    pub fn record(&mut self, now: SimTime, result: CallResult) {
        let one = Tally {
            calls: 1,
            failed: u32::from(!result.success),
            slow: u32::from(result.duration > self.settings.slow_call_duration),
        };
        self.metrics.record(now, one);
        match (self.state, self.metrics.verdict(&self.settings)) {
            (BreakerState::Closed, Verdict::Exceeded) => self.enter_open(now),
            (BreakerState::HalfOpen, Verdict::Exceeded) => self.enter_open(now),
            (BreakerState::HalfOpen, Verdict::BelowThresholds) => self.enter_closed(now),
            _ => {}
        }
    }

    pub fn wake_at(&self) -> Option<SimTime> {
        match self.state {
            BreakerState::Open if self.settings.automatic_transition => self.until,
            BreakerState::HalfOpen => self.until,
            _ => None,
        }
    }

    /// A timer the simulation set from [`WindowBreaker::wake_at`] has fired.
    pub fn wake(&mut self, now: SimTime) {
        if self.until != Some(now) {
            return;
        }
        match self.state {
            BreakerState::Open if self.settings.automatic_transition => self.enter_half_open(now),
            BreakerState::HalfOpen => self.enter_open(now),
            _ => {}
        }
    }

    /// The wait of the opening about to start. A growing one follows resilience4j's
    /// `IntervalFunction.ofExponentialBackoff`, which works in whole milliseconds and
    /// truncates at every step: the first wait, then `(long) (previous * multiplier)`
    /// at each reopening without a close in between (`as` saturates as Java's cast).
    fn next_open_duration(&mut self) -> SimDuration {
        let settings = &self.settings;
        if settings.open_for_multiplier == 1.0 {
            return settings.open_for;
        }
        let wait_ms = match self.last_wait_ms {
            None => settings.open_for.as_nanos() / 1_000_000,
            Some(previous) => (previous as f64 * settings.open_for_multiplier) as u64,
        };
        self.last_wait_ms = Some(wait_ms);
        let wait = SimDuration(wait_ms.saturating_mul(1_000_000));
        settings.open_for_max.map_or(wait, |max| wait.min(max))
    }

    fn enter_open(&mut self, now: SimTime) {
        self.set_state(BreakerState::Open, now);
        let wait = self.next_open_duration();
        self.until = Some(now + wait);
        // The open state keeps the metrics of the state it came from, as
        // resilience4j's `OpenState` takes them over: outcomes arriving meanwhile go
        // on being counted there, for reports only.
    }

    fn enter_half_open(&mut self, now: SimTime) {
        self.set_state(BreakerState::HalfOpen, now);
        let permitted = self.settings.half_open_calls;
        self.metrics = Metrics::new(
            WindowKind::Count(permitted),
            self.settings.minimum_calls.min(permitted),
        );
        self.half_open_permits = permitted;
        self.until = self.settings.half_open_max_wait.map(|wait| now + wait);
    }

    fn enter_closed(&mut self, now: SimTime) {
        self.set_state(BreakerState::Closed, now);
        self.last_wait_ms = None;
        self.until = None;
        self.metrics = Metrics::new(self.settings.window, self.settings.minimum_calls);
    }

    fn set_state(&mut self, to: BreakerState, now: SimTime) -> BreakerState {
        let from = self.state;
        self.state = to;
        self.transitions.push(Transition { at: now, from, to });
        from
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::breaker::Outcome;
    use BreakerState::*;

    const MS: u64 = 1_000_000;

    fn at_ms(ms: u64) -> SimTime {
        SimTime(ms * MS)
    }

    fn result(success: bool, duration_ms: u64) -> CallResult {
        CallResult {
            success,
            outcome: Outcome::Status(if success { 200 } else { 500 }),
            duration: SimDuration::from_millis(duration_ms),
        }
    }

    fn count_breaker() -> WindowBreaker {
        // resilience4j's CircuitBreakerStateMachineTest shape: window 5, minimum 5,
        // 50 % failures, slow above 1 s at 100 %, 3 trials, 5 s open.
        WindowBreaker::new(WindowSettings {
            minimum_calls: 5,
            half_open_calls: 3,
            slow_call_duration: SimDuration::from_secs(1),
            open_for: SimDuration::from_secs(5),
            ..WindowSettings::resilience4j_defaults(WindowKind::Count(5))
        })
    }

    fn call(
        b: &mut WindowBreaker,
        now: SimTime,
        success: bool,
        duration_ms: u64,
    ) -> Result<(), Rejection> {
        b.allow(now)?;
        b.record(now, result(success, duration_ms));
        Ok(())
    }

    #[test]
    fn stays_closed_below_the_minimum_number_of_calls() {
        let mut b = count_breaker();
        for _ in 0..4 {
            call(&mut b, at_ms(0), false, 1).unwrap();
        }
        assert_eq!(b.peek_state(at_ms(0)), Closed, "4 failures < minimum 5");
        assert_eq!(b.rates(), None);
        call(&mut b, at_ms(0), false, 1).unwrap();
        assert_eq!(b.peek_state(at_ms(0)), Open);
    }

    #[test]
    fn opens_at_exactly_the_failure_rate_threshold() {
        // 50 % is "at or above 50 %". Window 4 of 4: two failures, two successes.
        let mut b = WindowBreaker::new(WindowSettings {
            minimum_calls: 4,
            ..WindowSettings::resilience4j_defaults(WindowKind::Count(4))
        });
        for success in [true, false, true] {
            call(&mut b, at_ms(0), success, 1).unwrap();
        }
        assert_eq!(b.peek_state(at_ms(0)), Closed);
        call(&mut b, at_ms(0), false, 1).unwrap();
        assert_eq!(
            b.rates(),
            Some((50.0, 0.0)),
            "the closed window is carried into open"
        );
        assert_eq!(b.peek_state(at_ms(0)), Open);
    }

    #[test]
    fn the_count_window_forgets_old_outcomes() {
        let mut b = count_breaker();
        for success in [false, false, true, true, true] {
            call(&mut b, at_ms(0), success, 1).unwrap();
        }
        assert_eq!(b.rates(), Some((40.0, 0.0)));
        call(&mut b, at_ms(0), true, 1).unwrap();
        assert_eq!(
            b.rates(),
            Some((20.0, 0.0)),
            "the oldest failure left the window"
        );
        assert_eq!(b.peek_state(at_ms(0)), Closed);
    }

    #[test]
    fn slow_calls_are_strictly_longer_than_the_threshold() {
        let mut b = count_breaker();
        for _ in 0..5 {
            call(&mut b, at_ms(0), true, 1000).unwrap();
        }
        assert_eq!(b.rates(), Some((0.0, 0.0)), "exactly 1 s is not slow");
        assert_eq!(b.peek_state(at_ms(0)), Closed);
        for _ in 0..5 {
            call(&mut b, at_ms(0), true, 1001).unwrap();
        }
        assert_eq!(b.peek_state(at_ms(0)), Open, "100 % slow calls");
    }

    #[test]
    fn open_rejects_until_strictly_after_the_wait_then_the_call_is_a_trial() {
        let mut b = count_breaker();
        for _ in 0..5 {
            call(&mut b, at_ms(1000), false, 1).unwrap();
        }
        assert_eq!(
            b.allow(at_ms(6000)),
            Err(Rejection::Open),
            "at exactly the end of the wait"
        );
        assert_eq!(b.peek_state(at_ms(6000) + SimDuration(1)), HalfOpen);
        assert!(b.allow(at_ms(6000) + SimDuration(1)).is_ok());
        assert_eq!(b.transitions().last().unwrap().to, HalfOpen);
        // That call took one of the three permits.
        assert!(b.allow(at_ms(6001)).is_ok());
        assert!(b.allow(at_ms(6001)).is_ok());
        assert_eq!(b.allow(at_ms(6001)), Err(Rejection::TooManyRequests));
        assert_eq!(b.rejected(), 2);
    }

    fn half_open_breaker() -> WindowBreaker {
        let mut b = count_breaker();
        for _ in 0..5 {
            call(&mut b, at_ms(0), false, 1).unwrap();
        }
        b.allow(at_ms(5001)).unwrap();
        b
    }

    #[test]
    fn half_open_closes_when_the_trials_are_under_the_thresholds() {
        let mut b = half_open_breaker();
        b.allow(at_ms(5001)).unwrap();
        b.allow(at_ms(5001)).unwrap();
        let done = |success| result(success, 1);
        b.record(at_ms(5002), done(true));
        b.record(at_ms(5002), done(false));
        assert_eq!(
            b.peek_state(at_ms(5002)),
            HalfOpen,
            "2 of 3 trials: below the minimum"
        );
        b.record(at_ms(5003), done(true));
        assert_eq!(
            b.peek_state(at_ms(5003)),
            Closed,
            "1 failure in 3 is 33 % < 50 %"
        );
    }

    #[test]
    fn half_open_reopens_when_the_trials_fail() {
        let mut b = half_open_breaker();
        b.allow(at_ms(5001)).unwrap();
        b.allow(at_ms(5001)).unwrap();
        let done = |success| result(success, 1);
        b.record(at_ms(5002), done(false));
        b.record(at_ms(5002), done(true));
        b.record(at_ms(5002), done(false));
        assert_eq!(b.peek_state(at_ms(5002)), Open, "2 failures in 3 is 67 %");
        let states: Vec<_> = b.transitions().iter().map(|t| (t.from, t.to)).collect();
        assert_eq!(
            states,
            vec![(Closed, Open), (Open, HalfOpen), (HalfOpen, Open)]
        );
    }

    #[test]
    fn the_wait_grows_with_each_reopening_and_resets_on_close() {
        let mut b = WindowBreaker::new(WindowSettings {
            minimum_calls: 1,
            half_open_calls: 1,
            open_for: SimDuration::from_secs(5),
            open_for_multiplier: 2.0,
            open_for_max: Some(SimDuration::from_secs(15)),
            ..WindowSettings::resilience4j_defaults(WindowKind::Count(1))
        });
        call(&mut b, at_ms(0), false, 1).unwrap(); // open until 5 s
        call(&mut b, at_ms(5001), false, 1).unwrap(); // trial fails: open 10 s
        assert_eq!(b.allow(at_ms(15_001)), Err(Rejection::Open));
        call(&mut b, at_ms(15_002), false, 1).unwrap(); // open 20 s, capped at 15 s
        assert_eq!(b.allow(at_ms(30_002)), Err(Rejection::Open));
        call(&mut b, at_ms(30_003), true, 1).unwrap(); // trial succeeds: closed
        assert_eq!(b.peek_state(at_ms(30_003)), Closed);
        call(&mut b, at_ms(30_004), false, 1).unwrap(); // open 5 s again
        assert!(b.allow(at_ms(35_005)).is_ok());
    }

    /// resilience4j's exponential interval truncates to whole milliseconds at every
    /// step: 1001 ms, then (long) 1501.5 = 1501 ms, then (long) 2251.5 = 2251 ms.
    #[test]
    fn a_growing_wait_is_truncated_to_milliseconds_at_each_step() {
        let mut b = WindowBreaker::new(WindowSettings {
            minimum_calls: 1,
            half_open_calls: 1,
            open_for: SimDuration::from_millis(1001),
            open_for_multiplier: 1.5,
            ..WindowSettings::resilience4j_defaults(WindowKind::Count(1))
        });
        call(&mut b, at_ms(0), false, 1).unwrap(); // open until 1001 ms
        call(&mut b, at_ms(1002), false, 1).unwrap(); // trial fails: open 1501 ms
        let reopened = at_ms(1002);
        assert_eq!(b.wake_at(), None);
        assert_eq!(
            b.allow(reopened + SimDuration::from_millis(1501)),
            Err(Rejection::Open),
            "strictly after the wait"
        );
        // 1501.5 ms would still be open; 1501 ms truncated is over.
        let after = reopened + SimDuration(1_501_200_000);
        assert!(b.allow(after).is_ok());
        b.record(after, result(false, 1));
        assert_eq!(
            b.allow(after + SimDuration::from_millis(2251)),
            Err(Rejection::Open)
        );
        assert!(b
            .allow(after + SimDuration::from_millis(2251) + SimDuration(1))
            .is_ok());
    }

    /// resilience4j compares `failed * 100.0f / total` in 32-bit floats: 2 failures of
    /// 3 are 66.66667f, which reaches a threshold of 66.666667 (also 66.66667f);
    /// in 64 bits 66.666666... would fall short of it.
    #[test]
    fn rates_are_compared_in_single_precision() {
        let mut b = WindowBreaker::new(WindowSettings {
            minimum_calls: 3,
            failure_rate_threshold: 66.666667,
            ..WindowSettings::resilience4j_defaults(WindowKind::Count(3))
        });
        for success in [false, true, false] {
            call(&mut b, at_ms(100), success, 1).unwrap();
        }
        assert_eq!(b.peek_state(at_ms(100)), Open);
    }

    #[test]
    fn automatic_transition_moves_at_the_end_of_the_wait() {
        let mut b = WindowBreaker::new(WindowSettings {
            automatic_transition: true,
            ..count_breaker().settings
        });
        for _ in 0..5 {
            call(&mut b, at_ms(1000), false, 1).unwrap();
        }
        assert_eq!(b.wake_at(), Some(at_ms(6000)));
        assert_eq!(
            b.peek_state(at_ms(7000)),
            Open,
            "eager mode waits for its timer"
        );
        b.wake(at_ms(6000));
        assert_eq!(b.peek_state(at_ms(6000)), HalfOpen);
        assert_eq!(b.transitions().last().unwrap().at, at_ms(6000));
    }

    #[test]
    fn a_stuck_trial_reopens_after_the_half_open_limit() {
        let mut b = WindowBreaker::new(WindowSettings {
            half_open_max_wait: Some(SimDuration::from_secs(2)),
            ..count_breaker().settings
        });
        for _ in 0..5 {
            call(&mut b, at_ms(0), false, 1).unwrap();
        }
        b.allow(at_ms(5001)).unwrap();
        assert_eq!(b.wake_at(), Some(at_ms(7001)));
        b.wake(at_ms(7001));
        assert_eq!(b.peek_state(at_ms(7001)), Open);
    }

    #[test]
    fn the_time_window_counts_the_current_second_and_the_ones_before() {
        // Window of 2 s, minimum 2: failures at 0.5 s and 1.5 s open it; a failure at
        // 0.5 s and one at 2.5 s do not (the first left the window at 2 s).
        let settings = WindowSettings {
            minimum_calls: 2,
            failure_rate_threshold: 100.0,
            ..WindowSettings::resilience4j_defaults(WindowKind::Time(2))
        };
        let mut b = WindowBreaker::new(settings);
        call(&mut b, at_ms(500), false, 1).unwrap();
        call(&mut b, at_ms(1500), false, 1).unwrap();
        assert_eq!(b.peek_state(at_ms(1500)), Open);
        let mut b = WindowBreaker::new(settings);
        call(&mut b, at_ms(500), false, 1).unwrap();
        call(&mut b, at_ms(2500), false, 1).unwrap();
        assert_eq!(b.peek_state(at_ms(2500)), Closed);
        assert_eq!(
            b.rates(),
            None,
            "one call left in the window, below the minimum"
        );
    }

    #[test]
    fn results_arriving_while_open_are_recorded_but_move_nothing() {
        let mut b = count_breaker();
        for _ in 0..5 {
            call(&mut b, at_ms(0), false, 1).unwrap();
        }
        b.record(at_ms(10), result(true, 1));
        assert_eq!(b.peek_state(at_ms(10)), Open);
        assert_eq!(b.transitions().len(), 1);
    }
}
