//! Services: worker pools with a FIFO queue, endpoints as steps, and the faults that
//! act on a service.

use sim_core::{SimDuration, SimTime};

use super::replicas::ReplicaState;
use super::{Answer, Event, HopKind, Immediate, JobKey, Parent, Simulation};
use crate::spec::{EndpointRef, FaultKind, ServiceId, Step};

#[derive(Default)]
pub(super) struct ServiceState {
    /// Busy workers and queued jobs over all replicas.
    pub(super) busy: u64,
    pub(super) queued: u64,
    pub(super) replicas: Vec<ReplicaState>,
    pub(super) arrivals: u64,
    pub(super) rejected: u64,
    pub(super) completed: u64,
    pub(super) abandoned: u64,
    /// Jobs dropped because their caller's propagated deadline had passed.
    pub(super) dropped: u64,
    /// Retries made by this service's calls (attempts after the first).
    pub(super) retries: u64,
    /// Retries a budget refused.
    pub(super) retries_denied: u64,
    pub(super) busy_max: u64,
    pub(super) queue_max: u64,
    /// Integrals over time of busy workers and queue length, for time averages.
    pub(super) busy_area_ns: u128,
    pub(super) queue_area_ns: u128,
    last_change: SimTime,
    /// Steady-state statistics: jobs that arrived after the warm-up only.
    pub(super) measured: Measured,
}

/// What queueing theory predicts, measured over jobs that arrive after the warm-up.
#[derive(Default)]
pub(super) struct Measured {
    pub(super) arrivals: u64,
    pub(super) rejected: u64,
    pub(super) started: u64,
    /// Started jobs that had to wait in the queue first.
    pub(super) waited: u64,
    pub(super) wait_ns: u128,
    pub(super) completed: u64,
    pub(super) response_ns: u128,
    /// The time integrals at the end of the warm-up, subtracted from the totals.
    pub(super) busy_area_before_ns: u128,
    pub(super) queue_area_before_ns: u128,
}

impl ServiceState {
    pub(super) fn new(replicas: u32) -> Self {
        ServiceState {
            replicas: (0..replicas).map(|_| ReplicaState::default()).collect(),
            ..ServiceState::default()
        }
    }

    /// Brings the time integrals up to `now`; call before every change of `busy` or
    /// of the queue's length.
    pub(super) fn account_until(&mut self, now: SimTime) {
        let elapsed = u128::from(now.since(self.last_change).as_nanos());
        self.busy_area_ns += u128::from(self.busy) * elapsed;
        self.queue_area_ns += u128::from(self.queued) * elapsed;
        self.last_change = now;
    }
}

/// Why a connection to a service cannot be made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Unreachable {
    Refused,
    Blackholed,
}

impl Simulation<'_> {
    /// The fault, if any, that stops connections to this replica of `service` now.
    pub(super) fn connection_fault(&self, service: ServiceId, replica: u32) -> Option<Unreachable> {
        let now = self.now();
        self.faults_by_service[service.0 as usize]
            .iter()
            .map(|&index| &self.scenario.faults[index])
            .filter(|fault| fault.hits(replica))
            .find_map(|fault| {
                let into = fault.into_episode(now)?;
                match fault.kind {
                    FaultKind::Kill => Some(Unreachable::Refused),
                    FaultKind::Restart { down_for, .. } if into < down_for => {
                        Some(Unreachable::Refused)
                    }
                    FaultKind::Blackhole => Some(Unreachable::Blackholed),
                    _ => None,
                }
            })
    }

    /// How many times slower work runs on this replica now (CPU slowdown, cold start).
    fn work_factor(&self, service: ServiceId, replica: u32) -> f64 {
        let now = self.now();
        self.faults_by_service[service.0 as usize]
            .iter()
            .map(|&index| &self.scenario.faults[index])
            .filter(|fault| fault.hits(replica))
            .filter_map(|fault| Some(fault.kind.work_factor(fault.into_episode(now)?)))
            .product()
    }

    /// Whether a job that arrived at `arrived` counts in steady-state statistics.
    fn measured(&self, arrived: SimTime) -> bool {
        arrived.since(SimTime::ZERO) >= self.scenario.warmup
    }

    /// The warm-up is over: steady-state time integrals start from here.
    pub(super) fn end_warmup(&mut self) {
        let now = self.now();
        for state in &mut self.services {
            state.account_until(now);
            state.measured.busy_area_before_ns = state.busy_area_ns;
            state.measured.queue_area_before_ns = state.queue_area_ns;
        }
    }

    pub(super) fn arrive(&mut self, key: JobKey) {
        let now = self.now();
        let service_id = self.jobs[key].endpoint.service;
        let replica_index = self.jobs[key].replica as usize;
        let measured = self.measured(self.jobs[key].arrived);
        let spec = self.scenario.service(service_id);
        let state = &mut self.services[service_id.0 as usize];
        state.arrivals += 1;
        state.measured.arrivals += u64::from(measured);
        let replica = &mut state.replicas[replica_index];
        replica.arrivals += 1;
        if spec.workers.admits(replica.busy) {
            self.start(key);
        } else if spec.queue.admits(replica.queue.len() as u64) {
            let ahead = replica.queue.len() as u64;
            replica.queue.push_back(key);
            replica.queue_max = replica.queue_max.max(replica.queue.len() as u64);
            state.account_until(now);
            state.queued += 1;
            state.queue_max = state.queue_max.max(state.queued);
            self.hop(key, HopKind::Queued { ahead });
        } else {
            replica.rejected += 1;
            replica.outstanding -= 1;
            state.rejected += 1;
            state.measured.rejected += u64::from(measured);
            self.hop(key, HopKind::QueueFull);
            let job = self.jobs.remove(key).expect("arriving job exists");
            self.agenda.push_back(Immediate::Deliver {
                parent: job.parent,
                answer: Answer::rejected(),
                from: Some(service_id),
            });
        }
    }

    /// Gives the job a worker; its first step runs from the agenda.
    fn start(&mut self, key: JobKey) {
        let now = self.now();
        let arrived = self.jobs[key].arrived;
        let measured = self.measured(arrived);
        let service_id = self.jobs[key].endpoint.service;
        let replica_index = self.jobs[key].replica as usize;
        let state = &mut self.services[service_id.0 as usize];
        if measured {
            let wait = now.since(arrived);
            state.measured.started += 1;
            state.measured.waited += u64::from(wait > SimDuration::ZERO);
            state.measured.wait_ns += u128::from(wait.as_nanos());
        }
        state.account_until(now);
        state.busy += 1;
        state.busy_max = state.busy_max.max(state.busy);
        let replica = &mut state.replicas[replica_index];
        replica.busy += 1;
        replica.busy_max = replica.busy_max.max(replica.busy);
        self.hop(key, HopKind::Started);
        self.agenda.push_back(Immediate::Begin(key));
    }

    /// A hang fault active when the handler starts takes the place of its steps.
    /// A hang fault active when the handler starts takes the place of its steps; an
    /// error-rate fault may fail it at once; latency faults delay its first step.
    pub(super) fn begin(&mut self, key: JobKey) {
        let now = self.now();
        if self.past_deadline(key) {
            return;
        }
        let service_id = self.jobs[key].endpoint.service;
        let replica = self.jobs[key].replica;
        let scenario = self.scenario;
        let faults = &self.faults_by_service[service_id.0 as usize];
        if faults.is_empty() {
            self.advance(key);
            return;
        }
        let active = |index: usize| {
            let fault = &scenario.faults[index];
            fault.hits(replica) && fault.active_at(now)
        };
        let kind = |index: usize| scenario.faults[index].kind;
        let hang = faults
            .iter()
            .copied()
            .filter(|&i| active(i))
            .find_map(|i| match kind(i) {
                FaultKind::Hang { hold, status } => Some(Some((hold, status))),
                FaultKind::HangForever => Some(None),
                _ => None,
            });
        match hang {
            Some(Some((hold, status))) => {
                let until = now + hold;
                self.hop(key, HopKind::Hung { until, status });
                self.queue
                    .schedule(until, Event::HangDone { job: key, status });
                return;
            }
            // The worker stays taken and nothing is scheduled: only the caller's
            // timeout ends the wait.
            Some(None) => {
                self.hop(key, HopKind::HungForever);
                return;
            }
            None => {}
        }
        let count = faults.len();
        let mut delay = SimDuration::ZERO;
        for position in 0..count {
            let index = self.faults_by_service[service_id.0 as usize][position];
            if !active(index) {
                continue;
            }
            match kind(index) {
                FaultKind::Error {
                    probability,
                    status,
                } => {
                    if self.fault_rngs[index].next_f64() < probability {
                        self.hop(key, HopKind::FaultError { status });
                        self.finish(key, Answer::error(status));
                        return;
                    }
                }
                FaultKind::Latency { latency, jitter } => {
                    let span = 2 * jitter.as_nanos();
                    let extra = if span == 0 {
                        0
                    } else {
                        self.fault_rngs[index].below(span + 1)
                    };
                    // A draw below zero is no delay, as netem sends a packet
                    // whose draw lands in the past at once.
                    let drawn = (latency.as_nanos() + extra).saturating_sub(jitter.as_nanos());
                    delay = delay + SimDuration(drawn);
                }
                FaultKind::Hang { .. }
                | FaultKind::HangForever
                | FaultKind::Kill
                | FaultKind::Blackhole
                | FaultKind::Restart { .. }
                | FaultKind::Slowdown { .. } => {}
            }
        }
        if delay > SimDuration::ZERO {
            self.hop(key, HopKind::Delayed { by: delay });
            self.queue.schedule(now + delay, Event::DelayDone(key));
        } else {
            self.advance(key);
        }
    }

    /// A job whose caller has stopped waiting is dropped before its next step, and
    /// its worker goes to the next in line. Returns whether it was.
    #[inline]
    pub(super) fn past_deadline(&mut self, key: JobKey) -> bool {
        let passed = self.deadline_passed(key);
        if passed {
            self.drop_past_deadline(key);
        }
        passed
    }

    /// Whether the caller's propagated deadline for the job has come.
    #[inline]
    pub(super) fn deadline_passed(&self, key: JobKey) -> bool {
        self.any_deadline
            && self.jobs[key]
                .deadline
                .is_some_and(|deadline| self.now() >= deadline)
    }

    #[cold]
    fn drop_past_deadline(&mut self, key: JobKey) {
        let service = self.jobs[key].endpoint.service;
        self.services[service.0 as usize].dropped += 1;
        self.hop(key, HopKind::DeadlineDropped);
        let parent = self.jobs[key].parent;
        self.release_worker(key);
        // As gRPC answers DEADLINE_EXCEEDED: a caller that still waits (one that set
        // no timeout of its own) is not left hanging.
        self.agenda.push_back(Immediate::Deliver {
            parent,
            answer: Answer::error(super::STATUS_GATEWAY_TIMEOUT),
            from: None,
        });
    }

    /// Runs the job's current step, or answers if there is none left.
    pub(super) fn advance(&mut self, key: JobKey) {
        let now = self.now();
        if self.past_deadline(key) {
            return;
        }
        let scenario = self.scenario;
        let job = &self.jobs[key];
        let endpoint = scenario.endpoint(job.endpoint);
        match endpoint.steps.get(job.step as usize) {
            None => {
                let answer = Answer::ok(job.degraded);
                self.finish(key, answer);
            }
            Some(Step::Work(distribution)) => {
                let EndpointRef { service, endpoint } = job.endpoint;
                let replica = job.replica;
                let rng =
                    &mut self.work_rngs[service.0 as usize][endpoint as usize][job.step as usize];
                let mut duration = distribution.sample(rng);
                if !self.faults_by_service[service.0 as usize].is_empty() {
                    let factor = self.work_factor(service, replica);
                    if factor != 1.0 {
                        duration = SimDuration::from_secs_f64(duration.as_secs_f64() * factor);
                    }
                }
                self.hop(
                    key,
                    HopKind::Work {
                        until: now + duration,
                    },
                );
                self.queue.schedule(now + duration, Event::WorkDone(key));
            }
            Some(Step::Call(call)) => self.start_call(key, call),
            Some(Step::Parallel(group)) => self.fan_out(key, group),
        }
    }

    /// The handler is done: free the worker for the next in line, send the answer.
    pub(super) fn finish(&mut self, key: JobKey, answer: Answer) {
        if self.traced(key) {
            let heard = self.still_waited_for(self.jobs[key].parent);
            let kind = HopKind::Answered {
                status: answer.status,
                degraded: answer.degraded,
                heard,
            };
            self.hop(key, kind);
        }
        let parent = self.jobs[key].parent;
        let service_id = self.release_worker(key);
        self.agenda.push_back(Immediate::Deliver {
            parent,
            answer,
            from: Some(service_id),
        });
    }

    /// Ends the job on its service: counts it, frees its worker for the next in line.
    fn release_worker(&mut self, key: JobKey) -> ServiceId {
        let now = self.now();
        let job = self.jobs.remove(key).expect("finishing job exists");
        debug_assert!(job.call.is_none(), "a job finished with a call in flight");
        let service_id = job.endpoint.service;
        let measured = self.measured(job.arrived);
        let state = &mut self.services[service_id.0 as usize];
        state.completed += 1;
        if measured {
            state.measured.completed += 1;
            state.measured.response_ns += u128::from(now.since(job.arrived).as_nanos());
        }
        state.account_until(now);
        state.busy -= 1;
        let replica = &mut state.replicas[job.replica as usize];
        replica.busy -= 1;
        replica.completed += 1;
        replica.outstanding -= 1;
        if let Some(next) = replica.queue.pop_front() {
            state.queued -= 1;
            self.start(next);
        }
        service_id
    }
}

impl Simulation<'_> {
    /// Whether whoever sent a job still waits for its answer (for traces only: the
    /// answer's delivery decides it for real).
    fn still_waited_for(&self, parent: Parent) -> bool {
        match parent {
            Parent::Call { job, epoch } => self
                .jobs
                .get(job)
                .and_then(|caller| caller.call)
                .is_some_and(|call| call.epoch == epoch),
            Parent::User { user, seq } => self.user_waits(user, seq),
            Parent::Open { key } => self
                .open
                .as_ref()
                .is_some_and(|source| source.outstanding.contains_key(key)),
            // Branch jobs end through their fan-out, never by answering here.
            Parent::Probe { .. } | Parent::Branch { .. } => true,
        }
    }
}
