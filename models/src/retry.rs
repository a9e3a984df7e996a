//! Retry policies: how many attempts, which failures are retried, and how long to
//! wait before each retry (backoff and jitter as in the AWS Architecture Blog's
//! "Exponential Backoff And Jitter").
//!
//! Retries wrap the breaker (retry outside, breaker inside, as in resilience4j's
//! default aspect order and the seeds' resilient client): every attempt asks the
//! breaker. A call the breaker (or a bulkhead) turns away is not retried unless the
//! policy asks for it with the `rejected` class: the seeds' resilient client never
//! retries an open breaker, while resilience4j's Retry, retrying every exception by
//! default, retries `CallNotPermittedException` and `BulkheadFullException`.

use sim_core::{RngStream, SimDuration};

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1 means no retry).
    pub max_attempts: u32,
    pub backoff: Backoff,
    pub jitter: Jitter,
    pub retry_on: RetryOn,
    pub budget: Option<BudgetSpec>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Backoff {
    /// `base` before every retry (`cap` bounds decorrelated jitter).
    Constant {
        base: SimDuration,
        cap: Option<SimDuration>,
    },
    /// `base * n` before the n-th retry.
    Linear {
        base: SimDuration,
        cap: Option<SimDuration>,
    },
    /// `base * multiplier^(n-1)` before the n-th retry.
    Exponential {
        base: SimDuration,
        multiplier: f64,
        cap: Option<SimDuration>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Jitter {
    None,
    /// Uniform on [0, d].
    Full,
    /// d/2 plus uniform on [0, d/2].
    Equal,
    /// Uniform on [base, 3 × the previous delay], capped.
    Decorrelated,
}

/// Which failures are worth another attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryOn {
    /// Any 5xx answer (a full queue's 503 included).
    pub server_errors: bool,
    pub status_408: bool,
    pub status_429: bool,
    /// The attempt's own timeout expired.
    pub timeouts: bool,
    /// The connection was refused or timed out.
    pub connection: bool,
    /// The caller's own breaker or bulkhead turned the attempt away.
    pub rejections: bool,
}

/// Why an attempt failed, as far as retrying is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttemptFailure {
    Status(u16),
    TimedOut,
    Connection,
    /// The caller's breaker or bulkhead turned the attempt away.
    Rejected,
}

impl RetryOn {
    /// No class: the start from which a scenario's `on` list is built.
    pub const NONE: RetryOn = RetryOn {
        server_errors: false,
        status_408: false,
        status_429: false,
        timeouts: false,
        connection: false,
        rejections: false,
    };

    /// The classes retried when a scenario names none: 5xx answers, timeouts and
    /// failed connections (Envoy's `5xx` policy; a rejection by the caller's own
    /// breaker or bulkhead is not, as in the seeds' resilient client).
    pub const DEFAULT: RetryOn = RetryOn {
        server_errors: true,
        timeouts: true,
        connection: true,
        ..RetryOn::NONE
    };

    pub fn covers(self, failure: AttemptFailure) -> bool {
        match failure {
            AttemptFailure::Status(status) => {
                (self.server_errors && (500..600).contains(&status))
                    || (self.status_408 && status == 408)
                    || (self.status_429 && status == 429)
            }
            AttemptFailure::TimedOut => self.timeouts,
            AttemptFailure::Connection => self.connection,
            AttemptFailure::Rejected => self.rejections,
        }
    }
}

impl Backoff {
    fn base(self) -> SimDuration {
        match self {
            Backoff::Constant { base, .. }
            | Backoff::Linear { base, .. }
            | Backoff::Exponential { base, .. } => base,
        }
    }

    fn cap(self) -> Option<SimDuration> {
        match self {
            Backoff::Constant { cap, .. }
            | Backoff::Linear { cap, .. }
            | Backoff::Exponential { cap, .. } => cap,
        }
    }

    /// The delay before the `retry`-th retry (1 for the first), before jitter.
    pub fn nominal(self, retry: u32) -> SimDuration {
        let secs = match self {
            Backoff::Constant { base, .. } => base.as_secs_f64(),
            Backoff::Linear { base, .. } => base.as_secs_f64() * f64::from(retry),
            Backoff::Exponential {
                base, multiplier, ..
            } => base.as_secs_f64() * multiplier.powi(retry.saturating_sub(1).min(1000) as i32),
        };
        let delay = SimDuration::from_secs_f64(secs);
        self.cap().map_or(delay, |cap| delay.min(cap))
    }
}

impl RetryPolicy {
    /// The wait before the `retry`-th retry; `previous` is the wait before the last
    /// one (the base before the first), which decorrelated jitter grows from.
    pub fn delay(&self, retry: u32, previous: SimDuration, rng: &mut RngStream) -> SimDuration {
        let uniform = |rng: &mut RngStream, low: u64, high: u64| {
            if high <= low {
                low
            } else {
                // Saturating: an uncapped delay may reach the clock's end.
                low + rng.below((high - low).saturating_add(1))
            }
        };
        let nominal = self.backoff.nominal(retry).as_nanos();
        let nanos = match self.jitter {
            Jitter::None => nominal,
            Jitter::Full => uniform(rng, 0, nominal),
            Jitter::Equal => nominal / 2 + uniform(rng, 0, nominal - nominal / 2),
            Jitter::Decorrelated => {
                let base = self.backoff.base().as_nanos();
                let high = previous.as_nanos().max(base).saturating_mul(3);
                let drawn = uniform(rng, base, high);
                self.backoff
                    .cap()
                    .map_or(drawn, |cap| drawn.min(cap.as_nanos()))
            }
        };
        SimDuration(nanos)
    }
}

/// A limit on retries across all calls of one call site, so that retries cannot
/// multiply an outage without bound.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum BudgetSpec {
    /// Finagle's `RetryBudget(ttl, minRetriesPerSec, percentCanRetry)`: retries may
    /// be `percent_can_retry` of the requests of the last `ttl`, plus a reserve of
    /// `min_retries_per_sec` for quiet times.
    Finagle {
        ttl: SimDuration,
        min_retries_per_sec: u32,
        percent_can_retry: f64,
    },
    /// gRPC retry throttling: tokens start at `max_tokens`; a failed attempt takes one,
    /// a success gives back `token_ratio`; retries only while tokens > max / 2.
    Grpc { max_tokens: u32, token_ratio: f64 },
}

/// Finagle's bucket is a windowed adder over `ttl` in this many slices.
const FINAGLE_SLICES: usize = 10;
/// Finagle's fixed-point scale: a request deposits this many units.
const FINAGLE_SCALE: i64 = 1000;

/// util-core's `WindowedAdder`, as Finagle's leaky token bucket uses it: the slice
/// being written and the `FINAGLE_SLICES - 1` before it, in milliseconds (Finagle's
/// clock). A slice ends lazily, at the first read or write at least one slice width
/// after the last one ended, and the next is measured from that moment, not from a
/// boundary; slices skipped meanwhile are cleared. A deposit therefore lives about a
/// ttl: up to a slice longer under steady traffic, and longer still when the bucket
/// is touched less often than once a slice.
#[derive(Clone, Debug)]
struct WindowedAdder {
    window_ms: u64,
    /// The slice being written (upstream's `writer`).
    current: i64,
    /// The ended slices still in the window (upstream's `buf`), a ring from `next`.
    ended: [i64; FINAGLE_SLICES - 1],
    next: usize,
    /// When the current slice began (upstream's `old`).
    began_ms: u64,
}

impl WindowedAdder {
    /// Created at time 0: the simulation creates its budgets when a run starts.
    fn new(ttl: SimDuration) -> Self {
        WindowedAdder {
            window_ms: (ttl.as_nanos() / 1_000_000 / FINAGLE_SLICES as u64).max(1),
            current: 0,
            ended: [0; FINAGLE_SLICES - 1],
            next: 0,
            began_ms: 0,
        }
    }

    /// Upstream's `expired()`, run when `now - old >= window`.
    fn roll(&mut self, now_ms: u64) {
        let elapsed = now_ms.saturating_sub(self.began_ms);
        if elapsed < self.window_ms {
            return;
        }
        let n = self.ended.len();
        self.ended[self.next] = std::mem::take(&mut self.current);
        self.next = (self.next + 1) % n;
        let skipped = ((elapsed / self.window_ms - 1).min(n as u64)) as usize;
        if skipped > 0 {
            let to_end = skipped.min(n - self.next);
            self.ended[self.next..self.next + to_end].fill(0);
            self.ended[..skipped - to_end].fill(0);
            self.next = (self.next + skipped) % n;
        }
        self.began_ms = now_ms;
    }

    fn add(&mut self, now_ms: u64, amount: i64) {
        self.roll(now_ms);
        self.current += amount;
    }

    fn sum(&mut self, now_ms: u64) -> i64 {
        self.roll(now_ms);
        self.current + self.ended.iter().sum::<i64>()
    }
}

/// The live state of a budget.
#[derive(Clone, Debug)]
pub struct Budget {
    state: BudgetState,
}

/// Each kind's state, with the amounts its setting fixes worked out once.
#[derive(Clone, Debug)]
enum BudgetState {
    /// Finagle's leaky token bucket, in its fixed-point units.
    Finagle {
        adder: WindowedAdder,
        deposit: i64,
        withdrawal: i64,
        /// `minRetriesPerSec * ttl.inSeconds * withdrawalAmount`.
        reserve: i64,
    },
    /// gRPC's throttle, in thousandths of a token (token ratios keep 3 decimals).
    Grpc {
        tokens_milli: i64,
        max_milli: i64,
        /// Truncated to thousandths, as grpc-java's `(int) (tokenRatio * 1000)` and
        /// grpc-core's parser keep 3 decimals.
        gain_milli: i64,
    },
}

impl Budget {
    pub fn new(spec: BudgetSpec) -> Self {
        let state = match spec {
            BudgetSpec::Grpc {
                max_tokens,
                token_ratio,
            } => BudgetState::Grpc {
                tokens_milli: i64::from(max_tokens) * 1000,
                max_milli: i64::from(max_tokens) * 1000,
                gain_milli: (token_ratio * 1000.0) as i64,
            },
            BudgetSpec::Finagle {
                ttl,
                min_retries_per_sec,
                percent_can_retry,
            } => {
                let withdrawal = Self::finagle_withdrawal(percent_can_retry);
                BudgetState::Finagle {
                    adder: WindowedAdder::new(ttl),
                    deposit: if percent_can_retry == 0.0 {
                        0
                    } else {
                        FINAGLE_SCALE
                    },
                    withdrawal,
                    reserve: i64::from(min_retries_per_sec)
                        .saturating_mul((ttl.as_nanos() / 1_000_000_000) as i64)
                        .saturating_mul(withdrawal),
                }
            }
        };
        Budget { state }
    }

    /// `(ScaleFactor / percentCanRetry).toInt`: Scala's `toInt` saturates at
    /// `Int.MaxValue`, as Rust's `as i32` does, so a tiny share cannot overflow
    /// the reserve.
    fn finagle_withdrawal(percent_can_retry: f64) -> i64 {
        if percent_can_retry == 0.0 {
            1
        } else {
            i64::from((FINAGLE_SCALE as f64 / percent_can_retry) as i32)
        }
    }

    fn now_ms(now: sim_core::SimTime) -> u64 {
        now.as_nanos() / 1_000_000
    }

    /// A new request (a first attempt) at `now`.
    pub fn on_request(&mut self, now: sim_core::SimTime) {
        if let BudgetState::Finagle { adder, deposit, .. } = &mut self.state {
            adder.add(Self::now_ms(now), *deposit);
        }
    }

    /// An attempt ended; gRPC counts only failures that could be retried.
    pub fn on_attempt(&mut self, success: bool) {
        if let BudgetState::Grpc {
            tokens_milli,
            max_milli,
            gain_milli,
        } = &mut self.state
        {
            let change = if success { *gain_milli } else { -1000 };
            *tokens_milli = (*tokens_milli + change).clamp(0, *max_milli);
        }
    }

    /// Whether a retry may go now; a Finagle budget is charged for it.
    pub fn try_retry(&mut self, now: sim_core::SimTime) -> bool {
        match &mut self.state {
            BudgetState::Finagle {
                adder,
                withdrawal,
                reserve,
                ..
            } => {
                let now_ms = Self::now_ms(now);
                // The leaky bucket's `tryGet`: `count = sum + reserve >= n`.
                if adder.sum(now_ms).saturating_add(*reserve) >= *withdrawal {
                    adder.add(now_ms, -*withdrawal);
                    true
                } else {
                    false
                }
            }
            BudgetState::Grpc {
                tokens_milli,
                max_milli,
                ..
            } => *tokens_milli * 2 > *max_milli,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> SimDuration {
        SimDuration::from_millis(v)
    }

    fn policy(backoff: Backoff, jitter: Jitter) -> RetryPolicy {
        RetryPolicy {
            max_attempts: 5,
            backoff,
            jitter,
            retry_on: RetryOn::DEFAULT,
            budget: None,
        }
    }

    #[test]
    fn nominal_delays_follow_their_formulas_and_caps() {
        let exponential = Backoff::Exponential {
            base: ms(100),
            multiplier: 2.0,
            cap: Some(ms(500)),
        };
        let got: Vec<u64> = (1..=5)
            .map(|n| exponential.nominal(n).as_nanos() / 1_000_000)
            .collect();
        assert_eq!(got, [100, 200, 400, 500, 500]);
        let linear = Backoff::Linear {
            base: ms(100),
            cap: None,
        };
        assert_eq!(linear.nominal(3), ms(300));
        let constant = |cap| Backoff::Constant { base: ms(70), cap };
        assert_eq!(constant(None).nominal(9), ms(70));
        assert_eq!(constant(Some(ms(50))).nominal(1), ms(50));
    }

    /// Sample means within 2 % of the formula's (n = 100k: the standard error of a
    /// uniform's mean is under 0.2 % of its range).
    #[test]
    fn jitter_stays_in_range_with_the_expected_mean() {
        let backoff = Backoff::Constant {
            base: ms(1000),
            cap: None,
        };
        let cases = [
            (Jitter::None, 1000.0, 1000, 1000),
            (Jitter::Full, 500.0, 0, 1000),
            (Jitter::Equal, 750.0, 500, 1000),
        ];
        for (jitter, mean_ms, low, high) in cases {
            let p = policy(backoff, jitter);
            let mut rng = RngStream::new(1, "jitter");
            let n = 100_000;
            let mut sum = 0.0;
            for _ in 0..n {
                let d = p.delay(1, ms(1000), &mut rng);
                assert!(d >= ms(low) && d <= ms(high), "{jitter:?}: {d}");
                sum += d.as_millis_f64();
            }
            let mean = sum / f64::from(n);
            assert!(
                (mean - mean_ms).abs() / mean_ms < 0.02,
                "{jitter:?}: mean {mean}"
            );
        }
    }

    #[test]
    fn decorrelated_jitter_grows_from_the_previous_delay_within_the_cap() {
        let p = policy(
            Backoff::Exponential {
                base: ms(100),
                multiplier: 2.0,
                cap: Some(ms(2000)),
            },
            Jitter::Decorrelated,
        );
        let mut rng = RngStream::new(2, "decorrelated");
        let mut previous = ms(100);
        for retry in 1..200 {
            let d = p.delay(retry, previous, &mut rng);
            assert!(
                d >= ms(100) && d <= ms(2000).min(previous.saturating_mul(3)).max(ms(100)),
                "{d} after {previous}"
            );
            previous = d;
        }
    }

    #[test]
    fn rejections_are_retried_only_when_asked() {
        let backoff = Backoff::Constant {
            base: ms(1),
            cap: None,
        };
        let on = policy(backoff, Jitter::None).retry_on;
        assert!(on.covers(AttemptFailure::Status(503)));
        assert!(!on.covers(AttemptFailure::Status(404)));
        assert!(!on.covers(AttemptFailure::Status(429)));
        assert!(on.covers(AttemptFailure::TimedOut));
        assert!(!on.covers(AttemptFailure::Rejected));
        let asked = RetryOn {
            rejections: true,
            ..on
        };
        assert!(asked.covers(AttemptFailure::Rejected));
    }

    /// Decorrelated jitter grows three times the last delay, bounded by `max`
    /// whatever the backoff; and with no bound at all, a delay that reached the
    /// clock's end does not overflow the jitter's range.
    #[test]
    fn delays_stay_within_the_cap_and_never_overflow() {
        let capped = policy(
            Backoff::Constant {
                base: ms(100),
                cap: Some(ms(300)),
            },
            Jitter::Decorrelated,
        );
        let mut rng = RngStream::new(4, "capped");
        let mut previous = ms(100);
        for retry in 1..50 {
            previous = capped.delay(retry, previous, &mut rng);
            assert!(previous >= ms(100) && previous <= ms(300), "{previous}");
        }
        let unbounded = policy(
            Backoff::Exponential {
                base: ms(1000),
                multiplier: 100.0,
                cap: None,
            },
            Jitter::Full,
        );
        assert_eq!(unbounded.backoff.nominal(60), SimDuration(u64::MAX));
        let _ = unbounded.delay(60, SimDuration(u64::MAX), &mut rng);
        let decorrelated = RetryPolicy {
            jitter: Jitter::Decorrelated,
            ..unbounded
        };
        let _ = decorrelated.delay(60, SimDuration(u64::MAX), &mut rng);
    }

    /// grpc-java keeps `(int) (tokenRatio * 1000)` thousandths: 0.1239 gives back
    /// 0.123 a success. 100 tokens emptied and 404 successes make 49.692, not above
    /// half of 100 (rounding to 0.124 would make 50.096, and allow retries).
    #[test]
    fn grpc_token_ratios_keep_three_decimals_by_truncation() {
        let mut budget = Budget::new(BudgetSpec::Grpc {
            max_tokens: 100,
            token_ratio: 0.1239,
        });
        for _ in 0..100 {
            budget.on_attempt(false);
        }
        for _ in 0..404 {
            budget.on_attempt(true);
        }
        assert!(!budget.try_retry(sim_core::SimTime::ZERO));
        budget.on_attempt(true);
        budget.on_attempt(true);
        assert!(!budget.try_retry(sim_core::SimTime::ZERO), "49.938");
        budget.on_attempt(true);
        assert!(budget.try_retry(sim_core::SimTime::ZERO), "50.061 > 50");
    }

    #[test]
    fn a_finagle_budget_allows_its_share_plus_the_reserve() {
        // 20 % of requests, and a reserve of 10 retries a second over 10 s = 100.
        let spec = BudgetSpec::Finagle {
            ttl: SimDuration::from_secs(10),
            min_retries_per_sec: 10,
            percent_can_retry: 0.2,
        };
        let mut budget = Budget::new(spec);
        let now = sim_core::SimTime::ZERO + SimDuration::from_secs(1);
        for _ in 0..1000 {
            budget.on_request(now);
        }
        let allowed = (0..10_000).take_while(|_| budget.try_retry(now)).count();
        assert_eq!(allowed, 200 + 100);
        // Ten seconds on, the deposits and withdrawals have expired: the reserve again.
        let later = now + SimDuration::from_secs(11);
        let allowed = (0..10_000).take_while(|_| budget.try_retry(later)).count();
        assert_eq!(allowed, 100);
    }

    #[test]
    fn grpc_throttling_stops_retries_at_half_the_tokens() {
        let mut budget = Budget::new(BudgetSpec::Grpc {
            max_tokens: 10,
            token_ratio: 0.1,
        });
        let now = sim_core::SimTime::ZERO;
        for _ in 0..4 {
            budget.on_attempt(false);
        }
        assert!(budget.try_retry(now), "6 tokens > 5");
        budget.on_attempt(false);
        assert!(!budget.try_retry(now), "5 tokens is not above 5");
        for _ in 0..10 {
            budget.on_attempt(true);
        }
        assert!(budget.try_retry(now), "ten successes give one token back");
    }
}
