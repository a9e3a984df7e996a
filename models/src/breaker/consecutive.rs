//! A consecutive-failures circuit breaker with gobreaker's state machine.
//!
//! The rules followed (sony/gobreaker, `gobreaker.go`):
//! - Transitions are lazy: Open becomes HalfOpen only when someone asks after the
//!   open period, and the check is strict (`expiry < now`).
//! - Every state change starts a new generation and clears the counts; a result
//!   admitted under an older generation is ignored.
//! - Closed: each failure updates the counts, then the trip rule is consulted.
//!   With an `interval`, counts are cleared at the first observation strictly after
//!   the expiry, and the next expiry is anchored at that observation.
//! - HalfOpen admits at most `max_requests` calls; one failure reopens at once, and
//!   `max_requests` consecutive successes close it.
//! - A rejected call is not counted at all.
//! - The trip rule (gobreaker's `ReadyToTrip`, consulted after each failure in closed
//!   state) is either `failures` consecutive failures, or a failure ratio over a
//!   minimum number of requests, gobreaker's documented example
//!   `counts.Requests >= 3 && failureRatio >= 0.6`. As there, the ratio is
//!   `TotalFailures / Requests`, and `Requests` counts admissions: calls still in
//!   flight lower the ratio.
//!
//! gobreaker's default rule, `ConsecutiveFailures > 5`, is six consecutive failures;
//! the loader uses that when a scenario states no rule.

use sim_core::{SimDuration, SimTime};

use super::{BreakerState, Rejection, Ticket, Transition};

/// gobreaker's `Counts`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub requests: u32,
    pub total_successes: u32,
    pub total_failures: u32,
    pub consecutive_successes: u32,
    pub consecutive_failures: u32,
}

/// gobreaker's `ReadyToTrip`, as the two rules people write.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum TripRule {
    /// `counts.ConsecutiveFailures >= n` (at least 1).
    ConsecutiveFailures(u32),
    /// `counts.Requests >= min_requests && TotalFailures / Requests >= ratio`, with
    /// the ratio in (0, 1] and `min_requests` at least 1.
    FailureRatio { ratio: f64, min_requests: u32 },
}

impl TripRule {
    fn ready_to_trip(self, counts: &Counts) -> bool {
        match self {
            TripRule::ConsecutiveFailures(failures) => counts.consecutive_failures >= failures,
            TripRule::FailureRatio {
                ratio,
                min_requests,
            } => {
                counts.requests >= min_requests
                    && f64::from(counts.total_failures) / f64::from(counts.requests) >= ratio
            }
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ConsecutiveSettings {
    /// When closed state trips.
    pub trip: TripRule,
    /// gobreaker's `Timeout`.
    pub open_for: SimDuration,
    /// gobreaker's `MaxRequests` (at least 1).
    pub max_requests: u32,
    /// gobreaker's `Interval`; `None` is its zero: never clear in closed state.
    pub interval: Option<SimDuration>,
}

#[derive(Clone, Debug)]
pub struct ConsecutiveBreaker {
    settings: ConsecutiveSettings,
    state: BreakerState,
    generation: u64,
    counts: Counts,
    /// Closed: when counts are next cleared (if an interval is set). Open: when the
    /// open period ends. HalfOpen: unused.
    expiry: Option<SimTime>,
    transitions: Vec<Transition>,
    rejected: u64,
}

impl ConsecutiveBreaker {
    pub fn new(settings: ConsecutiveSettings, now: SimTime) -> Self {
        assert!(settings.max_requests >= 1);
        match settings.trip {
            TripRule::ConsecutiveFailures(failures) => assert!(failures >= 1),
            TripRule::FailureRatio {
                ratio,
                min_requests,
            } => assert!(ratio > 0.0 && ratio <= 1.0 && min_requests >= 1),
        }
        let mut breaker = ConsecutiveBreaker {
            settings,
            state: BreakerState::Closed,
            generation: 0,
            counts: Counts::default(),
            expiry: None,
            transitions: Vec::new(),
            rejected: 0,
        };
        breaker.new_generation(now);
        breaker
    }

    /// gobreaker's `State()`: like the library, asking may move the breaker on.
    pub fn state(&mut self, now: SimTime) -> BreakerState {
        self.observe(now);
        self.state
    }

    /// The state `state(now)` would report, without moving the breaker: metrics and
    /// probes must not change when transitions happen.
    pub fn peek_state(&self, now: SimTime) -> BreakerState {
        let expired = self.expiry.is_some_and(|expiry| expiry < now);
        match self.state {
            BreakerState::Open if expired => BreakerState::HalfOpen,
            state => state,
        }
    }

    pub fn counts(&self) -> Counts {
        self.counts
    }

    pub fn transitions(&self) -> &[Transition] {
        &self.transitions
    }

    pub fn rejected(&self) -> u64 {
        self.rejected
    }

    /// gobreaker's `beforeRequest`.
    pub fn allow(&mut self, now: SimTime) -> Result<Ticket, Rejection> {
        self.observe(now);
        match self.state {
            BreakerState::Open => {
                self.rejected += 1;
                Err(Rejection::Open)
            }
            BreakerState::HalfOpen if self.counts.requests >= self.settings.max_requests => {
                self.rejected += 1;
                Err(Rejection::TooManyRequests)
            }
            _ => {
                self.counts.requests = self.counts.requests.saturating_add(1);
                Ok(Ticket {
                    generation: self.generation,
                })
            }
        }
    }

    /// gobreaker's `afterRequest`.
    pub fn record(&mut self, now: SimTime, ticket: Ticket, success: bool) {
        self.observe(now);
        if ticket.generation != self.generation {
            return;
        }
        if success {
            self.on_success(now);
        } else {
            self.on_failure(now);
        }
    }

    fn on_success(&mut self, now: SimTime) {
        let counts = &mut self.counts;
        counts.total_successes = counts.total_successes.saturating_add(1);
        counts.consecutive_successes = counts.consecutive_successes.saturating_add(1);
        counts.consecutive_failures = 0;
        if self.state == BreakerState::HalfOpen
            && self.counts.consecutive_successes >= self.settings.max_requests
        {
            self.set_state(BreakerState::Closed, now);
        }
    }

    fn on_failure(&mut self, now: SimTime) {
        let counts = &mut self.counts;
        counts.total_failures = counts.total_failures.saturating_add(1);
        counts.consecutive_failures = counts.consecutive_failures.saturating_add(1);
        counts.consecutive_successes = 0;
        match self.state {
            BreakerState::Closed if self.settings.trip.ready_to_trip(&self.counts) => {
                self.set_state(BreakerState::Open, now)
            }
            BreakerState::HalfOpen => self.set_state(BreakerState::Open, now),
            _ => {}
        }
    }

    /// gobreaker's `currentState`: the lazy, strict-time transitions.
    fn observe(&mut self, now: SimTime) {
        let expired = self.expiry.is_some_and(|expiry| expiry < now);
        match self.state {
            BreakerState::Closed if expired => self.new_generation(now),
            BreakerState::Open if expired => self.set_state(BreakerState::HalfOpen, now),
            _ => {}
        }
    }

    fn set_state(&mut self, to: BreakerState, now: SimTime) {
        if self.state == to {
            return;
        }
        let from = self.state;
        self.state = to;
        self.new_generation(now);
        self.transitions.push(Transition { at: now, from, to });
    }

    fn new_generation(&mut self, now: SimTime) {
        self.generation += 1;
        self.counts = Counts::default();
        self.expiry = match self.state {
            BreakerState::Closed => self.settings.interval.map(|interval| now + interval),
            BreakerState::Open => Some(now + self.settings.open_for),
            BreakerState::HalfOpen => None,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use BreakerState::*;

    fn secs(s: u64) -> SimTime {
        SimTime(s * 1_000_000_000)
    }

    fn breaker(failures: u32, max_requests: u32, interval: Option<u64>) -> ConsecutiveBreaker {
        ConsecutiveBreaker::new(
            ConsecutiveSettings {
                trip: TripRule::ConsecutiveFailures(failures),
                open_for: SimDuration::from_secs(5),
                max_requests,
                interval: interval.map(SimDuration::from_secs),
            },
            SimTime::ZERO,
        )
    }

    fn fail(b: &mut ConsecutiveBreaker, at: SimTime) {
        let ticket = b.allow(at).expect("admitted");
        b.record(at, ticket, false);
    }

    fn succeed(b: &mut ConsecutiveBreaker, at: SimTime) {
        let ticket = b.allow(at).expect("admitted");
        b.record(at, ticket, true);
    }

    #[test]
    fn trips_on_the_nth_consecutive_failure_and_a_success_resets_the_run() {
        let mut b = breaker(3, 1, None);
        fail(&mut b, secs(1));
        fail(&mut b, secs(1));
        succeed(&mut b, secs(1));
        fail(&mut b, secs(1));
        fail(&mut b, secs(1));
        assert_eq!(b.state(secs(1)), Closed);
        fail(&mut b, secs(1));
        assert_eq!(b.state(secs(1)), Open);
        assert_eq!(b.allow(secs(2)), Err(Rejection::Open));
    }

    #[test]
    fn open_period_ends_strictly_after_the_timeout() {
        let mut b = breaker(1, 1, None);
        fail(&mut b, secs(10));
        assert_eq!(b.peek_state(secs(15)), Open);
        assert_eq!(b.peek_state(SimTime(secs(15).0 + 1)), HalfOpen);
        assert_eq!(b.transitions().len(), 1, "peeking moves nothing");
        assert_eq!(b.state(secs(15)), Open, "exactly at expiry: still open");
        assert_eq!(b.state(SimTime(secs(15).0 + 1)), HalfOpen);
    }

    #[test]
    fn half_open_admits_max_requests_and_closes_after_that_many_successes() {
        let mut b = breaker(1, 2, None);
        fail(&mut b, secs(0));
        let t = secs(6);
        let first = b.allow(t).unwrap();
        let second = b.allow(t).unwrap();
        assert_eq!(b.allow(t), Err(Rejection::TooManyRequests));
        b.record(t, first, true);
        assert_eq!(b.state(t), HalfOpen);
        b.record(t, second, true);
        assert_eq!(b.state(t), Closed);
        assert_eq!(b.rejected(), 1);
    }

    #[test]
    fn one_half_open_failure_reopens_and_late_results_are_ignored() {
        let mut b = breaker(1, 2, None);
        fail(&mut b, secs(0));
        let t = secs(6);
        let first = b.allow(t).unwrap();
        let second = b.allow(t).unwrap();
        b.record(t, first, false);
        assert_eq!(b.state(t), Open);
        // The other probe answers well, but it belongs to the old generation.
        b.record(t, second, true);
        assert_eq!(b.state(t), Open);
        assert_eq!(b.counts(), Counts::default());
    }

    #[test]
    fn results_from_before_a_trip_do_not_touch_the_new_generation() {
        let mut b = breaker(2, 1, None);
        let slow = b.allow(secs(0)).unwrap();
        fail(&mut b, secs(1));
        fail(&mut b, secs(1));
        assert_eq!(b.state(secs(1)), Open);
        b.record(secs(2), slow, false);
        assert_eq!(b.counts().total_failures, 0);
        assert_eq!(b.transitions().len(), 1);
    }

    #[test]
    fn interval_reset_is_lazy_and_reanchored_at_the_observation() {
        // Created at 0 with a 30 s interval; first look at 45 s clears and re-anchors,
        // so the next clearing happens only strictly after 75 s.
        let mut b = breaker(3, 1, Some(30));
        fail(&mut b, secs(1));
        fail(&mut b, secs(45)); // counts cleared first, then this failure counted
        assert_eq!(b.counts().consecutive_failures, 1);
        fail(&mut b, secs(75));
        assert_eq!(b.counts().consecutive_failures, 2, "75 s is not after 75 s");
        fail(&mut b, SimTime(secs(75).0 + 1));
        assert_eq!(b.counts().consecutive_failures, 1);
        assert_eq!(b.state(secs(76)), Closed);
    }

    #[test]
    fn every_transition_is_recorded_with_its_time() {
        let mut b = breaker(1, 1, None);
        fail(&mut b, secs(1));
        succeed(&mut b, secs(7));
        let got: Vec<(u64, BreakerState, BreakerState)> = b
            .transitions()
            .iter()
            .map(|t| (t.at.0 / 1_000_000_000, t.from, t.to))
            .collect();
        assert_eq!(
            got,
            vec![
                (1, Closed, Open),
                (7, Open, HalfOpen),
                (7, HalfOpen, Closed)
            ]
        );
    }

    fn ratio_breaker(ratio: f64, min_requests: u32) -> ConsecutiveBreaker {
        ConsecutiveBreaker::new(
            ConsecutiveSettings {
                trip: TripRule::FailureRatio {
                    ratio,
                    min_requests,
                },
                open_for: SimDuration::from_secs(5),
                max_requests: 1,
                interval: None,
            },
            SimTime::ZERO,
        )
    }

    #[test]
    fn the_ratio_rule_waits_for_the_minimum_requests() {
        // gobreaker's README rule: Requests >= 3 && failures / requests >= 0.6.
        let mut b = ratio_breaker(0.6, 3);
        fail(&mut b, secs(1));
        fail(&mut b, secs(1));
        assert_eq!(
            b.state(secs(1)),
            Closed,
            "2 of 2 failed, but 2 < 3 requests"
        );
        fail(&mut b, secs(1));
        assert_eq!(b.state(secs(1)), Open);
    }

    #[test]
    fn the_ratio_rule_trips_at_exactly_the_ratio_and_not_below() {
        // 3 failures in 5 requests is 0.6: trips. 2 in 4 (0.5) and then a success
        // never do, whatever the run of failures.
        let mut b = ratio_breaker(0.6, 3);
        for success in [true, false, true, false] {
            if success {
                succeed(&mut b, secs(1));
            } else {
                fail(&mut b, secs(1));
            }
        }
        assert_eq!(b.counts().total_failures, 2);
        assert_eq!(b.state(secs(1)), Closed, "2 / 4 = 0.5");
        fail(&mut b, secs(1));
        assert_eq!(b.state(secs(1)), Open, "3 / 5 = 0.6");
    }

    #[test]
    fn the_ratio_rule_is_consulted_only_after_a_failure() {
        let mut b = ratio_breaker(0.5, 4);
        fail(&mut b, secs(1));
        fail(&mut b, secs(1));
        fail(&mut b, secs(1));
        // 3 / 3 but below the minimum; a success brings Requests to 4 with a
        // ratio of 0.75, yet successes never trip.
        succeed(&mut b, secs(1));
        assert_eq!(b.state(secs(1)), Closed);
        fail(&mut b, secs(1));
        assert_eq!(b.state(secs(1)), Open, "4 / 5 after a failure");
    }

    #[test]
    fn calls_in_flight_count_as_requests_in_the_ratio() {
        // gobreaker counts Requests at admission: with two calls still running,
        // 3 failures are 3 / 5 = 0.6 < 0.7.
        let mut b = ratio_breaker(0.7, 3);
        let _running = (b.allow(secs(1)).unwrap(), b.allow(secs(1)).unwrap());
        for _ in 0..3 {
            fail(&mut b, secs(1));
        }
        assert_eq!(b.counts().requests, 5);
        assert_eq!(b.state(secs(1)), Closed);
        fail(&mut b, secs(1));
        assert_eq!(b.state(secs(1)), Closed, "4 / 6 = 0.67");
        fail(&mut b, secs(1));
        assert_eq!(b.state(secs(1)), Open, "5 / 7 = 0.71");
        // Without the running calls, 3 failures of 3 would have tripped at once.
        let mut b = ratio_breaker(0.7, 3);
        for _ in 0..3 {
            fail(&mut b, secs(1));
        }
        assert_eq!(b.state(secs(1)), Open);
    }
}
