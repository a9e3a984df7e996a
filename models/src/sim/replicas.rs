//! Replicas behind a service's address: the balancer that picks one for each
//! request, and Envoy-style outlier ejection that takes failing ones out of the
//! rotation for a while.
//!
//! Ejection is decided per service, as if every caller shared one view of the
//! service's hosts (one Envoy cluster); real sidecars each keep their own, so with
//! many callers a replica is ejected by some of them sooner than by others.

use std::collections::VecDeque;

use sim_core::{RngStream, SimDuration, SimTime};

use super::{Event, JobKey, Simulation};
use crate::report::ReplicaReport;
use crate::spec::{Balancer, ServiceId};

#[derive(Default)]
pub(super) struct ReplicaState {
    pub(super) busy: u64,
    pub(super) queue: VecDeque<JobKey>,
    /// Requests routed here and not yet answered: what least-outstanding balancing
    /// compares.
    pub(super) outstanding: u64,
    pub(super) arrivals: u64,
    pub(super) rejected: u64,
    pub(super) completed: u64,
    pub(super) busy_max: u64,
    pub(super) queue_max: u64,
    /// Failed calls in a row, as the outlier detector counts them.
    consecutive_failures: u32,
    /// When ejected, the time it was.
    ejected_at: Option<SimTime>,
    /// Envoy's ejection multiplier: grows with each ejection, shrinks in each sweep
    /// the replica spends healthy.
    multiplier: u32,
    pub(super) ejections: u64,
}

/// Envoy's default `healthy_panic_threshold`, in percent of a service's replicas.
const HEALTHY_PANIC_THRESHOLD_PERCENT: usize = 50;

/// A service's balancer: where round-robin stands, and a stream for random picks.
pub(super) struct Router {
    next: u32,
    rng: RngStream,
}

impl Router {
    pub(super) fn new(seed: u64, service: &str) -> Self {
        Router {
            next: 0,
            rng: RngStream::new(seed, &format!("balancer/{service}")),
        }
    }
}

impl Simulation<'_> {
    /// Picks the replica of `service` that the next request goes to, and counts the
    /// request as outstanding there.
    pub(super) fn route(&mut self, service: ServiceId) -> u32 {
        let spec = self.scenario.service(service);
        let index = service.0 as usize;
        let count = spec.replicas;
        let picked = if count == 1 {
            0
        } else {
            let replicas = &self.services[index].replicas;
            // Once fewer than half the replicas are healthy, Envoy balances over all
            // of them, ejected or not (its panic mode, at the default
            // `healthy_panic_threshold` of 50 %), rather than piling every request
            // on the few left.
            let healthy = replicas.iter().filter(|r| r.ejected_at.is_none()).count();
            let panic = 100 * healthy < HEALTHY_PANIC_THRESHOLD_PERCENT * replicas.len();
            let eligible = |r: u32| panic || replicas[r as usize].ejected_at.is_none();
            let router = &mut self.routers[index];
            match spec.balancer {
                Balancer::RoundRobin => {
                    let start = router.next;
                    let picked = (0..count)
                        .map(|step| (start + step) % count)
                        .find(|&r| eligible(r))
                        .expect("some replica is eligible");
                    router.next = (picked + 1) % count;
                    picked
                }
                Balancer::Random => {
                    let eligible_count = (0..count).filter(|&r| eligible(r)).count() as u64;
                    let nth = router.rng.below(eligible_count) as usize;
                    (0..count)
                        .filter(|&r| eligible(r))
                        .nth(nth)
                        .expect("the draw is below the eligible count")
                }
                Balancer::LeastOutstanding => {
                    let start = router.next;
                    let picked = (0..count)
                        .map(|step| (start + step) % count)
                        .filter(|&r| eligible(r))
                        .min_by_key(|&r| replicas[r as usize].outstanding)
                        .expect("some replica is eligible");
                    router.next = (picked + 1) % count;
                    picked
                }
            }
        };
        self.services[index].replicas[picked as usize].outstanding += 1;
        picked
    }

    /// A request routed to a replica never reached it (the connection failed).
    pub(super) fn unroute(&mut self, service: ServiceId, replica: u32) {
        self.services[service.0 as usize].replicas[replica as usize].outstanding -= 1;
    }

    /// What a caller saw from one replica, for the outlier detector.
    pub(super) fn observe_replica(&mut self, service: ServiceId, replica: u32, failed: bool) {
        let Some(outlier) = self.scenario.service(service).outlier else {
            return;
        };
        let now = self.now();
        let replicas = &mut self.services[service.0 as usize].replicas;
        let ejected_now = replicas.iter().filter(|r| r.ejected_at.is_some()).count();
        let total = replicas.len();
        let state = &mut replicas[replica as usize];
        if !failed {
            state.consecutive_failures = 0;
            return;
        }
        state.consecutive_failures += 1;
        if state.consecutive_failures < outlier.consecutive_5xx || state.ejected_at.is_some() {
            return;
        }
        state.consecutive_failures = 0;
        let share = 100.0 * (ejected_now + 1) as f64 / total as f64;
        if share <= outlier.max_ejection_percent || ejected_now == 0 {
            state.ejected_at = Some(now);
            // Envoy's `ejectHost` grows the multiplier only while the ejection
            // time it gives is short of the cap plus one base: a long outage does
            // not pile up steps that healthy sweeps would have to pay back.
            let base = outlier.base_ejection_time.as_nanos();
            let cap = outlier.ejection_cap().as_nanos();
            if base.saturating_mul(u64::from(state.multiplier)) < cap.saturating_add(base) {
                state.multiplier += 1;
            }
            state.ejections += 1;
        }
    }

    /// Envoy's interval timer: replicas whose ejection time has passed return, and
    /// healthy ones earn back a step of their multiplier.
    pub(super) fn outlier_sweep(&mut self, service: ServiceId) {
        let outlier = self
            .scenario
            .service(service)
            .outlier
            .expect("sweeps run only for services with outlier detection");
        let now = self.now();
        for state in &mut self.services[service.0 as usize].replicas {
            match state.ejected_at {
                Some(at) => {
                    let base = outlier.base_ejection_time.as_nanos();
                    let cap = outlier.ejection_cap().as_nanos();
                    let time = (base.saturating_mul(u64::from(state.multiplier))).min(cap);
                    if now.since(at) >= SimDuration(time) {
                        state.ejected_at = None;
                        state.consecutive_failures = 0;
                    }
                }
                None => state.multiplier = state.multiplier.saturating_sub(1),
            }
        }
        self.queue
            .schedule(now + outlier.interval, Event::OutlierSweep { service });
    }

    pub(super) fn replica_reports(&self, service: ServiceId) -> Vec<ReplicaReport> {
        let replicas = &self.services[service.0 as usize].replicas;
        if replicas.len() == 1 {
            return Vec::new();
        }
        replicas
            .iter()
            .map(|r| ReplicaReport {
                arrivals: r.arrivals,
                rejected: r.rejected,
                completed: r.completed,
                busy_max: r.busy_max,
                queue_max: r.queue_max,
                ejections: r.ejections,
            })
            .collect()
    }
}
