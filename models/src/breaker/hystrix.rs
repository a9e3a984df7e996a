//! Netflix Hystrix 1.5's circuit breaker: `HystrixCircuitBreakerImpl` deciding on the
//! snapshots of `HealthCountsStream`.
//!
//! The rules followed:
//! - Completed calls are counted into buckets `health_snapshot_interval` wide (500 ms by
//!   default), aligned to the start of the health stream: the breaker's creation, and
//!   again the moment it closes (Hystrix resets the stream then). The rolling window
//!   is the last `rolling_window / health_snapshot_interval` buckets, by integer
//!   division as Hystrix computes it. `rolling_buckets` (`numBuckets`) slices only the
//!   rolling counters Hystrix reports, not the breaker's health counts, so it changes
//!   nothing here; it is kept so that copied settings load and are validated alike.
//! - At the end of each bucket the stream emits the window's counts, and only then does
//!   the breaker decide: with at least `request_volume_threshold` calls in the window
//!   and an error percentage at or above `error_threshold_percentage`, it opens, at
//!   that boundary. A breaker thus trips on a snapshot up to one interval old. A call
//!   completing exactly on a boundary falls in the bucket that starts there, after
//!   that boundary's snapshot.
//! - The error percentage is Hystrix's `(int) ((double) errors / total * 100)`,
//!   truncated after the double arithmetic: 29 errors in 100 calls is 28 %.
//! - Every completed call the breaker admitted counts in `total` (successes,
//!   failures, timeouts, bulkhead rejections: what the scenario classifies as a
//!   failure is an error); calls the breaker short-circuits are not counted at all.
//! - Open: the first call strictly after `opened + sleep_window` moves the breaker to
//!   half-open and is the single trial (`attemptExecution`); every other call is
//!   short-circuited, in open and in half-open alike.
//! - Half-open: the next result decides, whichever call it comes from: Hystrix has no
//!   generations, and any command's `markSuccess`/`markNonSuccess` acts on the state.
//!   A success closes and restarts the health stream, in which it is the first call
//!   counted (Hystrix publishes a command's completion after `markSuccess` has reset
//!   the stream); a failure reopens and restarts the sleep window. Results arriving while open change nothing. A semaphore
//!   bulkhead's rejection decides nothing: Hystrix's semaphore-rejection path calls
//!   neither, so a trial turned away there leaves the breaker half-open, and with no
//!   other call in flight it stays so. A thread pool's rejection goes through
//!   `markNonSuccess` like any failure.
//! - `force_open` short-circuits everything (recorded as one move to open at the
//!   start); `force_closed` admits everything and never trips. Hystrix still runs its
//!   state machine underneath `force_closed`; nothing observes it, so neither do we.
//!
//! The snapshots are processed lazily, in order, before anything else the breaker is
//! asked, and by a wake-up the engine schedules at the next boundary while the window
//! holds calls; the transition is stamped with the boundary's time either way.

use std::collections::VecDeque;

use sim_core::{SimDuration, SimTime};

use super::{BreakerState, CallResult, Outcome, Rejection, Ticket, Transition};

/// Most health buckets a rolling window may hold (Hystrix's defaults make 20): each
/// snapshot sums the window, so the bound keeps a call's cost bounded too.
pub const HEALTH_BUCKETS_MAX: u64 = 1000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HystrixSettings {
    /// `metrics.rollingStats.timeInMilliseconds`.
    pub rolling_window: SimDuration,
    /// `metrics.rollingStats.numBuckets`: validated, not used by the breaker.
    pub rolling_buckets: u32,
    /// `metrics.healthSnapshot.intervalInMilliseconds`: at most `rolling_window`.
    pub health_snapshot_interval: SimDuration,
    /// `circuitBreaker.requestVolumeThreshold`.
    pub request_volume_threshold: u32,
    /// `circuitBreaker.errorThresholdPercentage`, 1 to 100.
    pub error_threshold_percentage: u32,
    /// `circuitBreaker.sleepWindowInMilliseconds`.
    pub sleep_window: SimDuration,
    /// `circuitBreaker.forceOpen`.
    pub force_open: bool,
    /// `circuitBreaker.forceClosed`.
    pub force_closed: bool,
}

impl Default for HystrixSettings {
    /// Hystrix's defaults.
    fn default() -> Self {
        HystrixSettings {
            rolling_window: SimDuration::from_secs(10),
            rolling_buckets: 10,
            health_snapshot_interval: SimDuration::from_millis(500),
            request_volume_threshold: 20,
            error_threshold_percentage: 50,
            sleep_window: SimDuration::from_secs(5),
            force_open: false,
            force_closed: false,
        }
    }
}

/// Hystrix's `HealthCounts`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HealthCounts {
    pub total: u64,
    pub errors: u64,
}

impl HealthCounts {
    /// `HealthCounts.getErrorPercentage()`.
    pub fn error_percentage(self) -> u32 {
        if self.total == 0 {
            return 0;
        }
        (self.errors as f64 / self.total as f64 * 100.0) as u32
    }
}

#[derive(Clone, Debug)]
pub struct HystrixBreaker {
    settings: HystrixSettings,
    /// Buckets in the rolling window (at least 1).
    window_buckets: u64,
    state: BreakerState,
    /// Hystrix's `circuitOpened`: when the current open period began.
    opened_at: SimTime,
    /// Where the health stream's buckets start.
    anchor: SimTime,
    /// Snapshots `1..=emitted` (the one at `anchor + k * interval` is `k`) are done.
    emitted: u64,
    /// Buckets that hold calls, by index from `anchor`, oldest first.
    buckets: VecDeque<(u64, HealthCounts)>,
    transitions: Vec<Transition>,
    rejected: u64,
}

impl HystrixBreaker {
    pub fn new(settings: HystrixSettings, now: SimTime) -> Self {
        let interval = settings.health_snapshot_interval.as_nanos();
        assert!(interval > 0 && settings.rolling_window.as_nanos() >= interval);
        assert!(settings.rolling_window.as_nanos() / interval <= HEALTH_BUCKETS_MAX);
        assert!((1..=100).contains(&settings.error_threshold_percentage));
        let mut breaker = HystrixBreaker {
            window_buckets: settings.rolling_window.as_nanos() / interval,
            settings,
            state: BreakerState::Closed,
            opened_at: now,
            anchor: now,
            emitted: 0,
            buckets: VecDeque::new(),
            transitions: Vec::new(),
            rejected: 0,
        };
        if settings.force_open {
            breaker.set_state(BreakerState::Open, now);
        }
        breaker
    }

    pub fn transitions(&self) -> &[Transition] {
        &self.transitions
    }

    pub fn rejected(&self) -> u64 {
        self.rejected
    }

    /// The counts of the calls completed in the window that ends at `now`'s bucket
    /// (the current, partial bucket included), for tests and reports.
    pub fn health(&self, now: SimTime) -> HealthCounts {
        let current = self.bucket_index(now);
        self.window_sum(current + 1)
    }

    /// The state as Hystrix would hold it now; snapshots due by `now` are taken
    /// into account without moving the breaker.
    pub fn peek_state(&self, now: SimTime) -> BreakerState {
        match self.due_trip(now) {
            Some(_) => BreakerState::Open,
            None => self.state,
        }
    }

    /// `attemptExecution()`.
    pub fn allow(&mut self, now: SimTime) -> Result<Ticket, Rejection> {
        if self.settings.force_open {
            self.rejected += 1;
            return Err(Rejection::Open);
        }
        self.catch_up(now);
        match self.state {
            BreakerState::Closed => {}
            BreakerState::Open if now > self.opened_at + self.settings.sleep_window => {
                self.set_state(BreakerState::HalfOpen, now);
            }
            BreakerState::Open | BreakerState::HalfOpen => {
                self.rejected += 1;
                return Err(Rejection::Open);
            }
        }
        Ok(Ticket { generation: 0 })
    }

    /// A call the breaker admitted has completed.
    pub fn record(&mut self, now: SimTime, result: CallResult) {
        if self.settings.force_open || self.settings.force_closed {
            return;
        }
        self.catch_up(now);
        let success = result.success;
        match self.state {
            BreakerState::Closed => {
                let index = self.bucket_index(now);
                let counts = match self.buckets.back_mut() {
                    Some((last, counts)) if *last == index => counts,
                    _ => {
                        self.buckets.push_back((index, HealthCounts::default()));
                        &mut self.buckets.back_mut().expect("just pushed").1
                    }
                };
                counts.total += 1;
                counts.errors += u64::from(!success);
            }
            // Hystrix's semaphore rejection is counted in the health stream but
            // never reaches markSuccess/markNonSuccess: the trial it turned away
            // leaves the breaker half-open, waiting for some other result.
            BreakerState::HalfOpen if result.outcome == Outcome::BulkheadRejected => {}
            // `markSuccess` runs as the result is emitted and resets the health
            // stream; the command's completion is published to the stream only as
            // the command ends, afterwards, so the success that closed the breaker
            // is the first call the new window counts.
            BreakerState::HalfOpen if success => {
                self.set_state(BreakerState::Closed, now);
                self.anchor = now;
                self.emitted = 0;
                self.buckets.clear();
                self.buckets.push_back((
                    0,
                    HealthCounts {
                        total: 1,
                        errors: 0,
                    },
                ));
            }
            BreakerState::HalfOpen => {
                self.set_state(BreakerState::Open, now);
                self.opened_at = now;
            }
            // Hystrix's open state ignores markSuccess and markNonSuccess; what the
            // health stream counts meanwhile is thrown away when it is reset on close.
            BreakerState::Open => {}
        }
    }

    /// The next snapshot that could trip the breaker, while it is closed and its
    /// window holds calls.
    pub fn wake_at(&self) -> Option<SimTime> {
        if self.state != BreakerState::Closed || self.settings.force_closed {
            return None;
        }
        let &(first, _) = self.buckets.front()?;
        let next = (self.emitted + 1).max(first + 1);
        Some(self.boundary(next))
    }

    pub fn wake(&mut self, now: SimTime) {
        self.catch_up(now);
    }

    fn interval_ns(&self) -> u64 {
        self.settings.health_snapshot_interval.as_nanos()
    }

    fn bucket_index(&self, now: SimTime) -> u64 {
        now.since(self.anchor).as_nanos() / self.interval_ns()
    }

    fn boundary(&self, snapshot: u64) -> SimTime {
        self.anchor + SimDuration(snapshot.saturating_mul(self.interval_ns()))
    }

    /// The counts snapshot `k` reports: buckets `k - n` to `k - 1`.
    fn window_sum(&self, snapshot: u64) -> HealthCounts {
        let oldest = snapshot.saturating_sub(self.window_buckets);
        // Newest first, so that the walk stops at the window's oldest bucket.
        self.buckets
            .iter()
            .rev()
            .skip_while(|(index, _)| *index >= snapshot)
            .take_while(|(index, _)| *index >= oldest)
            .fold(HealthCounts::default(), |sum, (_, counts)| HealthCounts {
                total: sum.total + counts.total,
                errors: sum.errors + counts.errors,
            })
    }

    fn trips(&self, counts: HealthCounts) -> bool {
        counts.total >= u64::from(self.settings.request_volume_threshold)
            && counts.error_percentage() >= self.settings.error_threshold_percentage
    }

    /// The first snapshot due by `now` that opens the breaker, if any. Only
    /// snapshots whose window holds a bucket with calls can.
    fn due_trip(&self, now: SimTime) -> Option<u64> {
        if self.state != BreakerState::Closed || self.settings.force_closed {
            return None;
        }
        let &(first, _) = self.buckets.front()?;
        let &(last, _) = self.buckets.back()?;
        let due = self.bucket_index(now);
        let from = (self.emitted + 1).max(first + 1);
        let to = due.min(last + self.window_buckets);
        (from..=to).find(|&snapshot| self.trips(self.window_sum(snapshot)))
    }

    /// Takes every snapshot due by `now`, in order.
    fn catch_up(&mut self, now: SimTime) {
        if let Some(snapshot) = self.due_trip(now) {
            let at = self.boundary(snapshot);
            self.set_state(BreakerState::Open, at);
            self.opened_at = at;
        }
        let due = self.bucket_index(now);
        if self.state == BreakerState::Closed {
            self.emitted = self.emitted.max(due);
            // Buckets no later snapshot can reach.
            while let Some(&(index, _)) = self.buckets.front() {
                if index + self.window_buckets <= self.emitted {
                    self.buckets.pop_front();
                } else {
                    break;
                }
            }
        }
    }

    fn set_state(&mut self, to: BreakerState, now: SimTime) {
        let from = self.state;
        self.state = to;
        self.transitions.push(Transition { at: now, from, to });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use BreakerState::*;

    fn ms(ms: u64) -> SimTime {
        SimTime(ms * 1_000_000)
    }

    /// Hystrix's defaults with a volume threshold small enough to write out.
    fn breaker(volume: u32) -> HystrixBreaker {
        HystrixBreaker::new(
            HystrixSettings {
                request_volume_threshold: volume,
                ..HystrixSettings::default()
            },
            SimTime::ZERO,
        )
    }

    fn done(success: bool) -> CallResult {
        CallResult {
            success,
            outcome: Outcome::Status(if success { 200 } else { 503 }),
            duration: SimDuration::from_millis(1),
        }
    }

    fn call(b: &mut HystrixBreaker, at: SimTime, success: bool) -> Result<(), Rejection> {
        b.allow(at)?;
        b.record(at, done(success));
        Ok(())
    }

    /// Trips the default-timed breaker: 4 failures at 100 ms, open at the 500 ms
    /// snapshot.
    fn tripped() -> HystrixBreaker {
        let mut b = breaker(4);
        for _ in 0..4 {
            call(&mut b, ms(100), false).unwrap();
        }
        b.wake(ms(500));
        assert_eq!(b.peek_state(ms(500)), Open);
        b
    }

    #[test]
    fn decides_only_on_the_next_health_snapshot() {
        let mut b = breaker(4);
        for _ in 0..4 {
            call(&mut b, ms(100), false).unwrap();
        }
        // Every call so far failed, but the snapshot that shows it is due at 500 ms.
        assert_eq!(
            b.health(ms(100)),
            HealthCounts {
                total: 4,
                errors: 4
            }
        );
        assert_eq!(b.peek_state(ms(499)), Closed);
        assert!(
            call(&mut b, ms(499), true).is_ok(),
            "still admitted at 499 ms"
        );
        assert_eq!(b.wake_at(), Some(ms(500)));
        assert_eq!(b.peek_state(ms(500)), Open, "4 errors of 5 at the snapshot");
        assert_eq!(b.allow(ms(500)), Err(Rejection::Open));
        assert_eq!(
            b.transitions(),
            &[Transition {
                at: ms(500),
                from: Closed,
                to: Open
            }]
        );
    }

    #[test]
    fn a_lazy_catch_up_stamps_the_trip_at_its_snapshot() {
        // No wake-up and no call until 1.7 s: the trip still happened at 500 ms, so
        // the sleep window ends at 5.5 s, not 6.7 s.
        let mut b = breaker(2);
        call(&mut b, ms(100), false).unwrap();
        call(&mut b, ms(200), false).unwrap();
        assert_eq!(b.allow(ms(1700)), Err(Rejection::Open));
        assert_eq!(b.transitions()[0].at, ms(500));
        assert_eq!(b.allow(ms(5500)), Err(Rejection::Open));
        assert!(b.allow(ms(5501)).is_ok());
    }

    #[test]
    fn below_the_request_volume_nothing_trips() {
        let mut b = breaker(20);
        for _ in 0..19 {
            call(&mut b, ms(100), false).unwrap();
        }
        b.wake(ms(500));
        assert_eq!(
            b.peek_state(ms(500)),
            Closed,
            "19 calls < volume 20, all failed"
        );
        call(&mut b, ms(600), false).unwrap();
        assert_eq!(b.peek_state(ms(999)), Closed);
        assert_eq!(b.peek_state(ms(1000)), Open, "20 calls at the 1 s snapshot");
    }

    #[test]
    fn the_error_percentage_is_truncated_as_hystrix_computes_it() {
        // 29 / 100 * 100 is 28.999999999999996 in doubles: 28 %, under 29 %.
        let counts = HealthCounts {
            total: 100,
            errors: 29,
        };
        assert_eq!(counts.error_percentage(), 28);
        let settings = HystrixSettings {
            request_volume_threshold: 100,
            error_threshold_percentage: 29,
            ..HystrixSettings::default()
        };
        let mut b = HystrixBreaker::new(settings, SimTime::ZERO);
        for n in 0..100 {
            call(&mut b, ms(100), n >= 29).unwrap();
        }
        assert_eq!(b.peek_state(ms(500)), Closed);
        // At exactly the threshold it opens: 50 of 100 is 50 %.
        let mut b = breaker(4);
        for success in [true, false, true, false] {
            call(&mut b, ms(100), success).unwrap();
        }
        assert_eq!(b.peek_state(ms(500)), Open);
    }

    #[test]
    fn old_buckets_roll_off_the_window() {
        // A 1 s window of two 500 ms buckets. Failures at 100 ms and 600 ms make 2
        // calls in the 1 s snapshot (no trip at volume 3); a failure at 1100 ms is
        // in the 1.5 s snapshot, but the 100 ms one has left it.
        let settings = HystrixSettings {
            rolling_window: SimDuration::from_secs(1),
            rolling_buckets: 2,
            request_volume_threshold: 3,
            ..HystrixSettings::default()
        };
        let mut b = HystrixBreaker::new(settings, SimTime::ZERO);
        call(&mut b, ms(100), false).unwrap();
        call(&mut b, ms(600), false).unwrap();
        call(&mut b, ms(1100), false).unwrap();
        assert_eq!(
            b.health(ms(1100)),
            HealthCounts {
                total: 2,
                errors: 2
            }
        );
        b.wake(ms(1500));
        assert_eq!(b.peek_state(ms(1500)), Closed);
        // Three in one window do trip.
        call(&mut b, ms(1200), false).unwrap();
        call(&mut b, ms(1300), false).unwrap();
        assert_eq!(b.peek_state(ms(1999)), Closed);
        assert_eq!(b.peek_state(ms(2000)), Open);
    }

    #[test]
    fn a_call_on_a_boundary_counts_in_the_next_snapshot() {
        let mut b = breaker(1);
        call(&mut b, ms(500), false).unwrap();
        assert_eq!(
            b.peek_state(ms(500)),
            Closed,
            "the 500 ms snapshot came first"
        );
        assert_eq!(b.wake_at(), Some(ms(1000)));
        assert_eq!(b.peek_state(ms(1000)), Open);
    }

    #[test]
    fn one_trial_strictly_after_the_sleep_window() {
        let mut b = tripped(); // opened at 500 ms, sleep window 5 s
        assert_eq!(
            b.allow(ms(5500)),
            Err(Rejection::Open),
            "exactly at the end"
        );
        assert_eq!(b.peek_state(ms(5501)), Open, "only a call moves it");
        assert!(b.allow(SimTime(ms(5500).0 + 1)).is_ok(), "the single trial");
        assert_eq!(b.peek_state(ms(5501)), HalfOpen);
        assert_eq!(b.allow(ms(5501)), Err(Rejection::Open));
        assert_eq!(
            b.allow(ms(9000)),
            Err(Rejection::Open),
            "still waiting on it"
        );
        assert_eq!(b.rejected(), 3);
    }

    #[test]
    fn a_failed_trial_reopens_and_restarts_the_sleep_window() {
        let mut b = tripped();
        b.allow(ms(6000)).unwrap();
        b.record(ms(6200), done(false));
        assert_eq!(b.peek_state(ms(6200)), Open);
        assert_eq!(b.allow(ms(11_200)), Err(Rejection::Open));
        assert!(b.allow(ms(11_201)).is_ok());
        let moves: Vec<_> = b.transitions().iter().map(|t| (t.at, t.to)).collect();
        assert_eq!(
            moves,
            vec![
                (ms(500), Open),
                (ms(6000), HalfOpen),
                (ms(6200), Open),
                (ms(11_201), HalfOpen)
            ]
        );
    }

    #[test]
    fn a_successful_trial_closes_and_restarts_the_health_stream() {
        let mut b = tripped();
        b.allow(ms(6000)).unwrap();
        b.record(ms(6300), done(true));
        assert_eq!(b.peek_state(ms(6300)), Closed);
        // The trial's own success is the new stream's first call.
        assert_eq!(
            b.health(ms(6300)),
            HealthCounts {
                total: 1,
                errors: 0
            }
        );
        assert_eq!(b.wake_at(), Some(ms(6800)));
        // Buckets now start at 6.3 s: the first snapshot is at 6.8 s. With the trial
        // counted, 3 failures make the volume of 4 (75 %); without it they would not.
        for _ in 0..3 {
            call(&mut b, ms(6400), false).unwrap();
        }
        assert_eq!(b.wake_at(), Some(ms(6800)));
        assert_eq!(b.peek_state(ms(6799)), Closed);
        assert_eq!(b.peek_state(ms(6800)), Open);
    }

    #[test]
    fn any_result_decides_half_open_even_from_an_older_call() {
        // No generations in Hystrix: a call admitted before the trip that answers
        // well during the trial closes the breaker.
        let mut b = breaker(4);
        b.allow(ms(50)).unwrap(); // slow, still running
        for _ in 0..4 {
            call(&mut b, ms(100), false).unwrap();
        }
        b.wake(ms(500));
        b.record(ms(1000), done(true));
        assert_eq!(b.peek_state(ms(1000)), Open, "ignored while open");
        b.allow(ms(6000)).unwrap(); // the trial
        b.record(ms(6100), done(true)); // the old call, not the trial
        assert_eq!(b.peek_state(ms(6100)), Closed);
    }

    #[test]
    fn a_trial_turned_away_by_a_semaphore_leaves_the_breaker_half_open() {
        // Hystrix counts SEMAPHORE_REJECTED as an error, but its rejection path never
        // calls markNonSuccess: nothing reopens the breaker, and every other call is
        // short-circuited, until some call's result arrives.
        let mut b = tripped();
        let late = b.allow(ms(6000));
        assert!(late.is_ok());
        let rejected = CallResult {
            success: false,
            outcome: Outcome::BulkheadRejected,
            duration: SimDuration::ZERO,
        };
        b.record(ms(6000), rejected);
        assert_eq!(b.peek_state(ms(6000)), HalfOpen);
        assert_eq!(b.allow(ms(60_000)), Err(Rejection::Open));
        // In closed state the same rejection is an error in the counts.
        let mut b = breaker(2);
        b.allow(ms(100)).unwrap();
        b.record(ms(100), rejected);
        b.allow(ms(100)).unwrap();
        b.record(ms(100), rejected);
        assert_eq!(
            b.health(ms(100)),
            HealthCounts {
                total: 2,
                errors: 2
            }
        );
        assert_eq!(b.peek_state(ms(500)), Open);
    }

    #[test]
    fn a_trial_turned_away_by_a_thread_pool_reopens_the_breaker() {
        // Thread-pool rejections go through Hystrix's handleFallback, which calls
        // markNonSuccess: unlike a semaphore's, they end the trial.
        let mut b = tripped();
        b.allow(ms(6000)).unwrap();
        let rejected = CallResult {
            success: false,
            outcome: Outcome::PoolRejected,
            duration: SimDuration::ZERO,
        };
        b.record(ms(6000), rejected);
        assert_eq!(b.peek_state(ms(6000)), Open);
        assert!(b.allow(ms(11_001)).is_ok());
    }

    #[test]
    fn results_while_open_do_not_count_after_closing() {
        let mut b = tripped();
        b.record(ms(700), done(false));
        b.allow(ms(6000)).unwrap();
        b.record(ms(6000), done(true));
        // Only the trial that closed it is counted, not the failure while open.
        assert_eq!(
            b.health(ms(6000)),
            HealthCounts {
                total: 1,
                errors: 0
            }
        );
    }

    #[test]
    fn forced_states_override_the_counts() {
        let open = HystrixBreaker::new(
            HystrixSettings {
                force_open: true,
                ..HystrixSettings::default()
            },
            SimTime::ZERO,
        );
        let mut open = open;
        assert_eq!(open.allow(ms(1)), Err(Rejection::Open));
        assert_eq!(open.peek_state(ms(60_000)), Open);
        assert_eq!(open.transitions().len(), 1);
        let mut closed = HystrixBreaker::new(
            HystrixSettings {
                force_closed: true,
                request_volume_threshold: 1,
                ..HystrixSettings::default()
            },
            SimTime::ZERO,
        );
        for t in 0..100 {
            call(&mut closed, ms(t * 100), false).unwrap();
        }
        assert_eq!(closed.peek_state(ms(20_000)), Closed);
        assert_eq!(closed.wake_at(), None);
        assert!(closed.transitions().is_empty());
    }

    #[test]
    fn a_window_not_a_multiple_of_the_interval_is_rounded_down() {
        // 1.2 s / 500 ms = 2 buckets, as Hystrix's integer division gives.
        let settings = HystrixSettings {
            rolling_window: SimDuration::from_millis(1200),
            rolling_buckets: 4,
            request_volume_threshold: 2,
            ..HystrixSettings::default()
        };
        let mut b = HystrixBreaker::new(settings, SimTime::ZERO);
        call(&mut b, ms(100), false).unwrap();
        call(&mut b, ms(1100), false).unwrap();
        assert_eq!(b.peek_state(ms(1500)), Closed, "the 100 ms bucket has left");
    }
}
