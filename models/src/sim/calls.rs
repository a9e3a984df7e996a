//! Calls between services: connection faults, timeouts, the breaker, the fallback.

use super::bulkheads::Permit;
use super::services::Unreachable;
use super::{
    Answer, Event, HopKind, Job, JobKey, Parent, PendingCall, Simulation, STATUS_BAD_GATEWAY,
    STATUS_GATEWAY_TIMEOUT, STATUS_UNAVAILABLE,
};
use crate::breaker::{CallResult, Outcome, Ticket};
use crate::retry::{AttemptFailure, Budget};
use crate::spec::BreakerId;
use crate::spec::EndpointRef;
use crate::spec::{BulkheadKind, Call, Fallback, PolicyOrder, Step};
use sim_core::SimDuration;
use sim_core::SimTime;

#[derive(Clone, Copy, Debug)]
enum CallFailure {
    Answered(u16),
    TimedOut,
    ConnectTimedOut,
    Refused,
    BreakerRejected,
    BulkheadRejected,
}

impl CallFailure {
    /// What the breaker hears of it; `None` for its own rejection, which it never
    /// records, and for a bulkhead's (see `rejection_outcome`).
    fn outcome(self) -> Option<Outcome> {
        match self {
            CallFailure::Answered(status) => Some(Outcome::Status(status)),
            CallFailure::TimedOut => Some(Outcome::TimedOut),
            CallFailure::ConnectTimedOut | CallFailure::Refused => Some(Outcome::Connection),
            // Which bulkhead rejected it is known only to the simulation.
            CallFailure::BulkheadRejected | CallFailure::BreakerRejected => None,
        }
    }

    fn propagated_status(self) -> u16 {
        match self {
            CallFailure::Answered(status) => status,
            CallFailure::TimedOut | CallFailure::ConnectTimedOut => STATUS_GATEWAY_TIMEOUT,
            CallFailure::Refused => STATUS_BAD_GATEWAY,
            CallFailure::BreakerRejected | CallFailure::BulkheadRejected => STATUS_UNAVAILABLE,
        }
    }
}

/// What a fallback answers for a failure whose status, passed on, would be `failed`;
/// `None` for carrying on degraded.
pub(super) fn fallback_answer(fallback: Fallback, failed: u16) -> Option<Answer> {
    match fallback {
        Fallback::Degraded => None,
        Fallback::Fail { status } => Some(Answer::error(status)),
        Fallback::Propagate => Some(Answer::error(failed)),
    }
}

impl<'a> Simulation<'a> {
    pub(super) fn start_call(&mut self, key: JobKey, call: &Call) {
        let now = self.now();
        let first_attempt = self.jobs[key].retries == 0;
        let outer = call.order == PolicyOrder::BreakerOutsideRetry;
        // With the breaker outside the retries only the first attempt asks it, and no
        // attempt carries a ticket of its own.
        let breaker = call.breaker.filter(|_| first_attempt || !outer);
        let ticket = match breaker {
            Some(breaker) => {
                let allowed = self.breakers[breaker.0 as usize].allow(now);
                self.schedule_breaker_wake(breaker);
                match allowed {
                    Ok(ticket) => Some(ticket),
                    Err(_) => {
                        self.hop(key, HopKind::BreakerRejected { breaker });
                        self.call_failed(key, call, CallFailure::BreakerRejected);
                        return;
                    }
                }
            }
            None => None,
        };
        let ticket = if outer && first_attempt {
            let job = &mut self.jobs[key];
            job.sequence_ticket = ticket;
            job.sequence_started = now;
            None
        } else {
            ticket
        };
        if first_attempt {
            if let Some(budget) = self.budget_of(key) {
                budget.on_request(now);
            }
        }
        self.jobs[key].attempt_started = now;
        if let Some(bulkhead) = call.bulkhead {
            match self.acquire_permit(key, bulkhead, ticket, call.timeout) {
                Permit::Granted => {}
                Permit::Waiting => {
                    self.hop(key, HopKind::BulkheadWait { bulkhead });
                    return;
                }
                Permit::Rejected => {
                    self.bulkhead_rejected(key, call, ticket);
                    return;
                }
            }
        }
        self.connect_call(key, call, ticket);
    }

    /// A bulkhead turned the call away: the breaker outside it records the outcome
    /// (a failure by default, as resilience4j counts `BulkheadFullException`), and a
    /// retry follows only if the policy asks for rejections.
    pub(super) fn bulkhead_rejected(&mut self, key: JobKey, call: &Call, ticket: Option<Ticket>) {
        let now = self.now();
        if let Some(bulkhead) = call.bulkhead {
            self.hop(key, HopKind::BulkheadRejected { bulkhead });
        }
        let outcome = self.rejection_outcome(call);
        self.record_breaker(call, ticket, now, outcome);
        self.call_failed(key, call, CallFailure::BulkheadRejected);
    }

    /// Hystrix tells a semaphore's rejection from a thread pool's; so do we.
    fn rejection_outcome(&self, call: &Call) -> Outcome {
        match call
            .bulkhead
            .map(|b| self.scenario.bulkheads[b.0 as usize].kind)
        {
            Some(BulkheadKind::ThreadPool { .. }) => Outcome::PoolRejected,
            _ => Outcome::BulkheadRejected,
        }
    }

    /// A call spent its whole timeout in a thread pool's queue.
    pub(super) fn queued_call_timed_out(
        &mut self,
        key: JobKey,
        call: &Call,
        ticket: Option<Ticket>,
    ) {
        let started = self.jobs[key].attempt_started;
        self.record_breaker(call, ticket, started, Outcome::TimedOut);
        self.call_failed(key, call, CallFailure::TimedOut);
    }

    /// Connects to the target (with its permit, if the call has a bulkhead).
    pub(super) fn connect_call(&mut self, key: JobKey, call: &Call, ticket: Option<Ticket>) {
        let now = self.now();
        let target = call.target.service;
        let replica = self.route(target);
        let unreachable = self.connection_fault(target, replica);
        if unreachable.is_some() {
            self.unroute(target, replica);
        }
        if unreachable == Some(Unreachable::Refused) {
            self.hop(
                key,
                HopKind::Refused {
                    target: call.target,
                },
            );
            self.release_permit(key);
            self.observe_replica(target, replica, true);
            self.record_breaker(call, ticket, now, Outcome::Connection);
            self.call_failed(key, call, CallFailure::Refused);
            return;
        }
        let job = &mut self.jobs[key];
        job.epoch += 1;
        let epoch = job.epoch;
        let connecting = unreachable == Some(Unreachable::Blackholed);
        // A thread-pool bulkhead's queue time counts against the timeout (Hystrix
        // times a command from its submission).
        let queued = match call
            .bulkhead
            .map(|b| self.scenario.bulkheads[b.0 as usize].kind)
        {
            Some(BulkheadKind::ThreadPool { .. }) => now.since(job.attempt_started),
            _ => SimDuration::ZERO,
        };
        let timeout = call
            .timeout
            .map(|timeout| SimDuration(timeout.as_nanos().saturating_sub(queued.as_nanos())));
        // Against a blackhole the connect timeout (if shorter) decides; otherwise the
        // connection is made at once and only the call timeout runs.
        let deadline = match (connecting, call.connect_timeout, timeout) {
            (true, Some(connect), Some(total)) => Some((connect.min(total), connect <= total)),
            (true, Some(connect), None) => Some((connect, true)),
            (_, _, Some(total)) => Some((total, false)),
            (_, _, None) => None,
        };
        let timer = deadline.map(|(after, connect_expired)| {
            self.queue.schedule_cancellable(
                now + after,
                Event::CallTimeout {
                    job: key,
                    epoch,
                    connecting: connect_expired,
                },
            )
        });
        self.jobs[key].call = Some(PendingCall {
            epoch,
            replica,
            started: now,
            timer,
            ticket,
        });
        let called = HopKind::Called {
            target: call.target,
            attempt: self.jobs[key].retries + 1,
            timeout: call.timeout,
            blackholed: connecting,
        };
        self.hop(key, called);
        if !connecting {
            let (request, depth) = (self.jobs[key].request, self.jobs[key].depth);
            let mut child = Job::new(call.target, replica, Parent::Call { job: key, epoch }, now)
                .serving(request, depth + 1);
            if call.propagate_deadline {
                let own = call.timeout.map(|timeout| now + timeout);
                child.deadline = match (own, self.jobs[key].deadline) {
                    (Some(own), Some(inherited)) => Some(own.min(inherited)),
                    (own, inherited) => own.or(inherited),
                };
            }
            let child = self.jobs.insert(child);
            self.queue.schedule(now, Event::Arrive(child));
        }
    }

    /// Takes the job's pending call if `epoch` names it; `None` means the answer or
    /// timeout is stale.
    fn take_call(&mut self, key: JobKey, epoch: u32) -> Option<PendingCall> {
        let job = self.jobs.get_mut(key)?;
        match job.call {
            Some(pending) if pending.epoch == epoch => job.call.take(),
            _ => None,
        }
    }

    pub(super) fn current_call(&self, key: JobKey) -> &'a Call {
        let scenario = self.scenario;
        let job = &self.jobs[key];
        match &scenario.endpoint(job.endpoint).steps[job.step as usize] {
            Step::Call(call) => call,
            Step::Parallel(group) => {
                &group.calls[job.branch.expect("fan-out calls run on branch jobs") as usize]
            }
            Step::Work(_) => unreachable!("a call outcome arrived while the job was working"),
        }
    }

    fn record_breaker(
        &mut self,
        call: &Call,
        ticket: Option<Ticket>,
        started: SimTime,
        outcome: Outcome,
    ) {
        if let (Some(breaker), Some(ticket)) = (call.breaker, ticket) {
            let now = self.now();
            let spec = &self.scenario.breakers[breaker.0 as usize];
            let result = CallResult {
                success: !spec.failure_on.is_failure(outcome),
                outcome,
                duration: now.since(started),
            };
            self.breakers[breaker.0 as usize].record(now, ticket, result);
            self.schedule_breaker_wake(breaker);
        }
    }

    /// With the breaker outside the retries, the sequence of attempts is over: the
    /// breaker records its one result.
    fn record_sequence(&mut self, key: JobKey, call: &Call, outcome: Outcome) {
        let job = &mut self.jobs[key];
        if let Some(ticket) = job.sequence_ticket.take() {
            let started = job.sequence_started;
            self.record_breaker(call, Some(ticket), started, outcome);
        }
    }

    /// Keeps one wake-up scheduled for the time the breaker asks for, if any.
    fn schedule_breaker_wake(&mut self, breaker: BreakerId) {
        let index = breaker.0 as usize;
        let wanted = self.breakers[index].wake_at();
        if wanted != self.breaker_wakes[index] {
            self.breaker_wakes[index] = wanted;
            if let Some(at) = wanted.filter(|&at| at >= self.now()) {
                self.queue.schedule(at, Event::BreakerWake { breaker });
            }
        }
    }

    pub(super) fn breaker_woke(&mut self, breaker: BreakerId) {
        let now = self.now();
        let index = breaker.0 as usize;
        if self.breaker_wakes[index] == Some(now) {
            self.breaker_wakes[index] = None;
            self.breakers[index].wake(now);
            self.schedule_breaker_wake(breaker);
        }
    }

    /// Returns whether the caller was still waiting for this answer.
    pub(super) fn call_answered(&mut self, key: JobKey, epoch: u32, answer: Answer) -> bool {
        let Some(pending) = self.take_call(key, epoch) else {
            return false;
        };
        self.release_permit(key);
        if let Some(timer) = pending.timer {
            self.queue.cancel(timer);
        }
        let call = self.current_call(key);
        self.observe_replica(call.target.service, pending.replica, answer.status >= 500);
        let outcome = Outcome::Status(answer.status);
        self.record_breaker(call, pending.ticket, pending.started, outcome);
        if answer.is_success() {
            if let Some(budget) = self.budget_of(key) {
                budget.on_attempt(true);
            }
            self.record_sequence(key, call, outcome);
            let job = &mut self.jobs[key];
            job.degraded |= answer.degraded;
            job.retries = 0;
            if job.branch.is_some() {
                let degraded = job.degraded;
                self.finish_branch(key, Answer::ok(degraded), Some(call.target.service));
                return true;
            }
            job.step += 1;
            self.advance(key);
        } else {
            let failed = HopKind::CallFailed {
                target: call.target,
                status: answer.status,
            };
            self.hop(key, failed);
            self.call_failed(key, call, CallFailure::Answered(answer.status));
        }
        true
    }

    pub(super) fn call_timed_out(&mut self, key: JobKey, epoch: u32, connecting: bool) {
        let Some(pending) = self.take_call(key, epoch) else {
            return;
        };
        self.release_permit(key);
        let call = self.current_call(key);
        self.observe_replica(call.target.service, pending.replica, true);
        let outcome = if connecting {
            Outcome::Connection
        } else {
            Outcome::TimedOut
        };
        self.record_breaker(call, pending.ticket, pending.started, outcome);
        let failure = if connecting {
            CallFailure::ConnectTimedOut
        } else {
            CallFailure::TimedOut
        };
        let timed_out = HopKind::TimedOut {
            target: call.target,
            connecting,
        };
        self.hop(key, timed_out);
        self.call_failed(key, call, failure);
    }

    fn call_failed(&mut self, key: JobKey, call: &Call, failure: CallFailure) {
        if self.retry_later(key, call, failure) {
            return;
        }
        let outcome = match failure {
            CallFailure::BulkheadRejected => Some(self.rejection_outcome(call)),
            other => other.outcome(),
        };
        if let Some(outcome) = outcome {
            self.record_sequence(key, call, outcome);
        }
        self.jobs[key].retries = 0;
        let fallback = HopKind::Fallback {
            fallback: call.fallback,
        };
        self.hop(key, fallback);
        let answer = fallback_answer(call.fallback, failure.propagated_status());
        if self.jobs[key].branch.is_some() {
            self.finish_branch(key, answer.unwrap_or(Answer::ok(true)), None);
        } else {
            self.fall_back(key, answer);
        }
    }

    /// A handler whose call (or fan-out) failed answers `answer`, or with none
    /// carries on degraded.
    pub(super) fn fall_back(&mut self, key: JobKey, answer: Option<Answer>) {
        match answer {
            Some(answer) => self.finish(key, answer),
            None => {
                let job = &mut self.jobs[key];
                job.degraded = true;
                job.step += 1;
                self.advance(key);
            }
        }
    }

    /// A retry's backoff is over. Past a propagated deadline no attempt is made: the
    /// job is dropped (see `past_deadline`), and a fan-out's branch, which holds no
    /// worker, ends failed as gRPC's call would with DEADLINE_EXCEEDED.
    pub(super) fn retry_due(&mut self, key: JobKey) {
        if self.jobs[key].branch.is_none() {
            if self.past_deadline(key) {
                return;
            }
        } else if self.deadline_passed(key) {
            self.finish_branch(key, Answer::error(STATUS_GATEWAY_TIMEOUT), None);
            return;
        }
        let call = self.current_call(key);
        self.start_call(key, call);
    }

    /// Schedules another attempt if the call's retry policy covers this failure and
    /// has attempts left; returns whether it did.
    fn retry_later(&mut self, key: JobKey, call: &Call, failure: CallFailure) -> bool {
        let Some(policy) = call.retry else {
            return false;
        };
        let attempt_failure = match failure {
            CallFailure::Answered(status) => AttemptFailure::Status(status),
            CallFailure::TimedOut => AttemptFailure::TimedOut,
            CallFailure::ConnectTimedOut | CallFailure::Refused => AttemptFailure::Connection,
            // A breaker outside the retries turned the whole sequence away: there
            // is no attempt of it to make again.
            CallFailure::BreakerRejected if call.order == PolicyOrder::BreakerOutsideRetry => {
                return false;
            }
            CallFailure::BreakerRejected | CallFailure::BulkheadRejected => {
                AttemptFailure::Rejected
            }
        };
        if !policy.retry_on.covers(attempt_failure) {
            return false;
        }
        let now = self.now();
        // gRPC throttling counts the failures a retry could follow.
        if let Some(budget) = self.budget_of(key) {
            budget.on_attempt(false);
        }
        let job = &self.jobs[key];
        if job.retries + 1 >= policy.max_attempts {
            return false;
        }
        let service_index = job.endpoint.service.0 as usize;
        if let Some(budget) = self.budget_of(key) {
            if !budget.try_retry(now) {
                self.services[service_index].retries_denied += 1;
                return false;
            }
        }
        let job = &self.jobs[key];
        let retry = job.retries + 1;
        let previous = if job.retries == 0 {
            SimDuration::ZERO
        } else {
            job.last_backoff
        };
        let EndpointRef { service, endpoint } = job.endpoint;
        let branch = job.branch.unwrap_or(0) as usize;
        let rng =
            &mut self.retry_rngs[service.0 as usize][endpoint as usize][job.step as usize][branch];
        let backoff = policy.delay(retry, previous, rng);
        let due = now + backoff;
        // A propagated deadline spans every attempt (gRPC's call deadline, Envoy's
        // route timeout): a retry that could start only at or after it is never
        // made, and the job is dropped at the deadline instead.
        if let Some(deadline) = self.jobs[key]
            .deadline
            .filter(|&deadline| self.any_deadline && due >= deadline)
        {
            self.queue.schedule(deadline.max(now), Event::RetryDue(key));
            return true;
        }
        let job = &mut self.jobs[key];
        job.retries = retry;
        job.last_backoff = backoff;
        self.services[service.0 as usize].retries += 1;
        self.hop(key, HopKind::RetryScheduled { at: due });
        self.queue.schedule(due, Event::RetryDue(key));
        true
    }

    /// The retry budget the job's current call draws on, if it has one.
    fn budget_of(&mut self, key: JobKey) -> Option<&mut Budget> {
        if !self.any_budget {
            return None;
        }
        let job = &self.jobs[key];
        let EndpointRef { service, endpoint } = job.endpoint;
        let branch = job.branch.unwrap_or(0) as usize;
        let index =
            self.budget_of_call[service.0 as usize][endpoint as usize][job.step as usize][branch]?;
        Some(&mut self.budgets[index as usize])
    }
}
