//! Which ways a call can end count as failures for a breaker.
//!
//! Every library lets users choose: gobreaker's `IsSuccessful(err)`, resilience4j's
//! `recordExceptions`/`recordResult`, Hystrix's exceptions versus
//! `HystrixBadRequestException`. A scenario gives the choice per breaker as classes of
//! outcome. An outcome that is not a failure counts as a success, as in gobreaker and
//! resilience4j (a result that is not recorded as an error is a success there); calls
//! the breaker itself rejected never reach it.

/// How a call the breaker admitted ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The callee answered with this status.
    Status(u16),
    /// The call's own timeout expired.
    TimedOut,
    /// The connection was refused, or its connect timeout expired.
    Connection,
    /// A semaphore bulkhead inside the breaker turned the call away.
    BulkheadRejected,
    /// A thread-pool bulkhead inside the breaker turned the call away (its queue was
    /// full). A failure when `BulkheadRejected` is; Hystrix treats the two apart.
    PoolRejected,
}

/// Statuses are 100..=599; one bit each keeps the set `Copy` and the lookup exact.
const STATUS_WORDS: usize = 10;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FailureOn {
    statuses: [u64; STATUS_WORDS],
    pub timeouts: bool,
    pub connection: bool,
    pub bulkhead: bool,
}

impl Default for FailureOn {
    /// Everything but a 2xx or 3xx answer: what an HTTP client that turns other
    /// statuses into errors gives gobreaker (`err != nil`), resilience4j (every
    /// exception recorded, `BulkheadFullException` included) and Hystrix (timeouts and
    /// rejections are errors).
    fn default() -> Self {
        let mut failures = FailureOn::nothing();
        for class in [1, 4, 5] {
            failures.add_class(class);
        }
        failures.timeouts = true;
        failures.connection = true;
        failures.bulkhead = true;
        failures
    }
}

impl FailureOn {
    /// No outcome is a failure; add classes to it.
    pub fn nothing() -> Self {
        FailureOn {
            statuses: [0; STATUS_WORDS],
            timeouts: false,
            connection: false,
            bulkhead: false,
        }
    }

    /// A status from 100 to 599.
    pub fn add_status(&mut self, status: u16) {
        assert!((100..600).contains(&status), "status {status} out of range");
        self.statuses[usize::from(status / 64)] |= 1 << (status % 64);
    }

    /// `class` 1 to 5: every status from `class`00 to `class`99.
    pub fn add_class(&mut self, class: u16) {
        assert!((1..=5).contains(&class), "status class {class}xx");
        for status in class * 100..class * 100 + 100 {
            self.add_status(status);
        }
    }

    pub fn is_failure(&self, outcome: Outcome) -> bool {
        match outcome {
            Outcome::Status(status) => self
                .statuses
                .get(usize::from(status / 64))
                .is_some_and(|word| word & (1 << (status % 64)) != 0),
            Outcome::TimedOut => self.timeouts,
            Outcome::Connection => self.connection,
            Outcome::BulkheadRejected | Outcome::PoolRejected => self.bulkhead,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_fails_everything_but_2xx_and_3xx() {
        let failures = FailureOn::default();
        for status in 100..600 {
            let expected = !(200..400).contains(&status);
            assert_eq!(
                failures.is_failure(Outcome::Status(status)),
                expected,
                "{status}"
            );
        }
        assert!(failures.is_failure(Outcome::TimedOut));
        assert!(failures.is_failure(Outcome::Connection));
        assert!(failures.is_failure(Outcome::BulkheadRejected));
        assert!(failures.is_failure(Outcome::PoolRejected));
    }

    #[test]
    fn classes_and_single_statuses_combine() {
        // `failure_on = ["5xx", "408", "timeout"]`: a 404 or a refused connection is
        // a success for this breaker.
        let mut failures = FailureOn::nothing();
        failures.add_class(5);
        failures.add_status(408);
        failures.timeouts = true;
        assert!(failures.is_failure(Outcome::Status(500)));
        assert!(failures.is_failure(Outcome::Status(599)));
        assert!(failures.is_failure(Outcome::Status(408)));
        assert!(!failures.is_failure(Outcome::Status(404)));
        assert!(!failures.is_failure(Outcome::Status(409)));
        assert!(!failures.is_failure(Outcome::Status(200)));
        assert!(failures.is_failure(Outcome::TimedOut));
        assert!(!failures.is_failure(Outcome::Connection));
        assert!(!failures.is_failure(Outcome::BulkheadRejected));
    }

    #[test]
    fn statuses_out_of_range_are_never_failures() {
        let failures = FailureOn::default();
        assert!(!failures.is_failure(Outcome::Status(640)));
        assert!(!failures.is_failure(Outcome::Status(u16::MAX)));
    }
}
