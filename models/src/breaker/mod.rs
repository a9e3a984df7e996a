//! Circuit breakers, each faithful to the library people configure: gobreaker's
//! consecutive-failures or failure-ratio breaker, resilience4j's sliding-window
//! breakers and Hystrix's rolling-health breaker. The simulation talks to them
//! through [`Breaker`]; which outcomes are failures is decided before, by
//! [`FailureOn`].

mod classify;
mod consecutive;
mod hystrix;
mod window;

use serde::Serialize;
use sim_core::{SimDuration, SimTime};

use crate::spec::BreakerKind;

pub use classify::{FailureOn, Outcome};
pub use consecutive::{ConsecutiveBreaker, ConsecutiveSettings, Counts, TripRule};
pub use hystrix::{HealthCounts, HystrixBreaker, HystrixSettings, HEALTH_BUCKETS_MAX};
pub use window::{WindowBreaker, WindowKind, WindowSettings};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

impl BreakerState {
    pub fn as_str(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half_open",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transition {
    pub at: SimTime,
    pub from: BreakerState,
    pub to: BreakerState,
}

/// Proof of admission: the generation the call was admitted in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ticket {
    pub(super) generation: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rejection {
    /// gobreaker's `ErrOpenState`.
    Open,
    /// gobreaker's `ErrTooManyRequests`: half-open and all trial slots taken.
    TooManyRequests,
}

/// How a call that the breaker admitted ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CallResult {
    /// Not a failure, as the breaker's [`FailureOn`] classifies `outcome`.
    pub success: bool,
    pub outcome: Outcome,
    pub duration: SimDuration,
}

#[derive(Clone, Debug)]
pub enum Breaker {
    Consecutive(ConsecutiveBreaker),
    Window(WindowBreaker),
    Hystrix(HystrixBreaker),
}

impl Breaker {
    /// A breaker as the scenario describes it, created at `now`.
    pub fn new(kind: &BreakerKind, now: SimTime) -> Self {
        match kind {
            BreakerKind::Consecutive(settings) => {
                Breaker::Consecutive(ConsecutiveBreaker::new(*settings, now))
            }
            BreakerKind::Window(settings) => Breaker::Window(WindowBreaker::new(*settings)),
            BreakerKind::Hystrix(settings) => Breaker::Hystrix(HystrixBreaker::new(*settings, now)),
        }
    }

    pub fn allow(&mut self, now: SimTime) -> Result<Ticket, Rejection> {
        match self {
            Breaker::Consecutive(b) => b.allow(now),
            Breaker::Window(b) => b.allow(now),
            Breaker::Hystrix(b) => b.allow(now),
        }
    }

    pub fn record(&mut self, now: SimTime, ticket: Ticket, result: CallResult) {
        match self {
            Breaker::Consecutive(b) => b.record(now, ticket, result.success),
            Breaker::Window(b) => b.record(now, result),
            Breaker::Hystrix(b) => b.record(now, result),
        }
    }

    /// The state a status endpoint would report now, without moving the breaker.
    pub fn peek_state(&self, now: SimTime) -> BreakerState {
        match self {
            Breaker::Consecutive(b) => b.peek_state(now),
            Breaker::Window(b) => b.peek_state(now),
            Breaker::Hystrix(b) => b.peek_state(now),
        }
    }

    pub fn transitions(&self) -> &[Transition] {
        match self {
            Breaker::Consecutive(b) => b.transitions(),
            Breaker::Window(b) => b.transitions(),
            Breaker::Hystrix(b) => b.transitions(),
        }
    }

    pub fn rejected(&self) -> u64 {
        match self {
            Breaker::Consecutive(b) => b.rejected(),
            Breaker::Window(b) => b.rejected(),
            Breaker::Hystrix(b) => b.rejected(),
        }
    }

    /// When the breaker wants to act on its own (an eager open-to-half-open move, a
    /// half-open time limit, a health snapshot); the simulation calls
    /// [`Breaker::wake`] then.
    pub fn wake_at(&self) -> Option<SimTime> {
        match self {
            Breaker::Consecutive(_) => None,
            Breaker::Window(b) => b.wake_at(),
            Breaker::Hystrix(b) => b.wake_at(),
        }
    }

    pub fn wake(&mut self, now: SimTime) {
        match self {
            Breaker::Consecutive(_) => {}
            Breaker::Window(b) => b.wake(now),
            Breaker::Hystrix(b) => b.wake(now),
        }
    }
}
