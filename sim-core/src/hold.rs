//! The classic "hold" model for timing an event list: keep `pending` events in the
//! queue; each pop schedules one new event a random (exponential) time later. It
//! measures the engine alone, without any model around it.

use crate::dist::Distribution;
use crate::queue::EventQueue;
use crate::rng::RngStream;
use crate::time::{SimDuration, SimTime};

/// Runs the hold model for `events` pops with `pending` events in flight; returns
/// a checksum of the popped times so the work cannot be optimised away.
pub fn hold_model(pending: usize, events: u64, seed: u64) -> u64 {
    let mut queue: EventQueue<u32> = EventQueue::new();
    let mut rng = RngStream::new(seed, "hold");
    let gap = Distribution::exponential(SimDuration::from_millis(1)).expect("positive mean");
    for index in 0..pending {
        queue.schedule(SimTime::ZERO + gap.sample(&mut rng), index as u32);
    }
    let mut checksum = 0u64;
    for _ in 0..events {
        let (time, payload) = queue.pop().expect("the hold model never runs dry");
        checksum = checksum.wrapping_add(time.as_nanos()) ^ u64::from(payload);
        queue.schedule(time + gap.sample(&mut rng), payload);
    }
    checksum
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hold_model_is_deterministic_and_keeps_its_population() {
        assert_eq!(hold_model(100, 10_000, 1), hold_model(100, 10_000, 1));
        assert_ne!(hold_model(100, 10_000, 1), hold_model(100, 10_000, 2));
    }
}
