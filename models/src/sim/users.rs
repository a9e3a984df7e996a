//! The closed-loop load: Locust-style users that send, wait for the answer, think,
//! and send again.

use std::collections::BTreeMap;

use sim_core::{EventQueue, RngStream, SimDuration, SimTime, TimerId};

use super::{Answer, Event, Job, Parent, RequestRecord, Simulation, STATUS_NO_CONNECTION};
use crate::spec::Scenario;

pub(super) struct Outstanding {
    seq: u32,
    id: u64,
    issued: SimTime,
    timer: Option<TimerId>,
}

pub(super) struct User {
    wait_rng: RngStream,
    seq: u32,
    outstanding: Option<Outstanding>,
}

impl User {
    pub(super) fn is_waiting(&self) -> bool {
        self.outstanding.is_some()
    }
}

#[derive(Default)]
pub(super) struct UserStats {
    pub(super) issued: u64,
    pub(super) ok: u64,
    pub(super) degraded: u64,
    pub(super) rejected: u64,
    pub(super) timed_out: u64,
    pub(super) errors_by_status: BTreeMap<u16, u64>,
    pub(super) last_completion: SimTime,
    pub(super) waiting: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum UserOutcome {
    Ok,
    Degraded,
    Error(u16),
    Rejected,
    TimedOut,
}

impl UserOutcome {
    pub(super) fn from_answer(answer: Answer) -> Self {
        if answer.rejected {
            UserOutcome::Rejected
        } else if !answer.is_success() {
            UserOutcome::Error(answer.status)
        } else if answer.degraded {
            UserOutcome::Degraded
        } else {
            UserOutcome::Ok
        }
    }

    pub(super) fn is_failure(self) -> bool {
        !matches!(self, UserOutcome::Ok | UserOutcome::Degraded)
    }

    fn name_and_status(self) -> (&'static str, u16) {
        match self {
            UserOutcome::Ok => ("ok", 200),
            UserOutcome::Degraded => ("degraded", 200),
            UserOutcome::Error(status) => ("error", status),
            UserOutcome::Rejected => ("rejected", super::STATUS_UNAVAILABLE),
            UserOutcome::TimedOut => ("timed_out", 0),
        }
    }
}

/// Creates the users and schedules each one's first request at its spawn time.
pub(super) fn spawn(
    scenario: &Scenario,
    queue: &mut EventQueue<Event>,
    horizon: SimTime,
) -> Vec<User> {
    (0..scenario.load.users)
        .map(|user| {
            let at = scenario.load.spawn_time(user);
            if at <= horizon {
                queue.schedule(at, Event::UserIssue { user });
            }
            User {
                wait_rng: RngStream::new(scenario.seed, &format!("user/{user}/wait")),
                seq: 0,
                outstanding: None,
            }
        })
        .collect()
}

impl Simulation<'_> {
    pub(super) fn user_issue(&mut self, user: u32) {
        let now = self.now();
        let load = &self.scenario.load;
        let state = &mut self.users[user as usize];
        state.seq += 1;
        let seq = state.seq;
        let timer = load.timeout.map(|timeout| {
            self.queue
                .schedule_cancellable(now + timeout, Event::UserTimeout { user, seq })
        });
        self.stats.issued += 1;
        self.stats.waiting += 1;
        self.users[user as usize].outstanding = Some(Outstanding {
            seq,
            id: self.stats.issued,
            issued: now,
            timer,
        });
        let parent = Parent::User { user, seq };
        match self.connection_fault(load.target.service) {
            // A client that cannot connect gets no status at all.
            Some(super::services::Unreachable::Refused) => {
                self.user_answered(user, seq, Answer::error(STATUS_NO_CONNECTION));
            }
            // Nothing answers: the user waits for its own timeout, if it has one.
            Some(super::services::Unreachable::Blackholed) => {}
            None => {
                let job = self.jobs.insert(Job::new(load.target, parent));
                self.arrive(job);
            }
        }
    }

    pub(super) fn user_timeout(&mut self, user: u32, seq: u32) {
        if let Some(outstanding) = self.take_outstanding(user, seq) {
            let latency = self.now().since(outstanding.issued);
            self.user_done(user, &outstanding, latency, UserOutcome::TimedOut);
        }
    }

    /// Returns whether the user was still waiting for this answer.
    pub(super) fn user_answered(&mut self, user: u32, seq: u32, answer: Answer) -> bool {
        let Some(outstanding) = self.take_outstanding(user, seq) else {
            return false;
        };
        if let Some(timer) = outstanding.timer {
            self.queue.cancel(timer);
        }
        let latency = self.now().since(outstanding.issued);
        self.user_done(
            user,
            &outstanding,
            latency,
            UserOutcome::from_answer(answer),
        );
        true
    }

    fn take_outstanding(&mut self, user: u32, seq: u32) -> Option<Outstanding> {
        let slot = &mut self.users[user as usize].outstanding;
        match slot {
            Some(outstanding) if outstanding.seq == seq => {
                self.stats.waiting -= 1;
                slot.take()
            }
            _ => None,
        }
    }

    fn user_done(
        &mut self,
        user: u32,
        request: &Outstanding,
        latency: SimDuration,
        outcome: UserOutcome,
    ) {
        let now = self.now();
        let stats = &mut self.stats;
        stats.last_completion = now;
        match outcome {
            UserOutcome::Ok => stats.ok += 1,
            UserOutcome::Degraded => stats.degraded += 1,
            UserOutcome::Error(status) => *stats.errors_by_status.entry(status).or_default() += 1,
            UserOutcome::Rejected => stats.rejected += 1,
            UserOutcome::TimedOut => stats.timed_out += 1,
        }
        self.latency.record(latency);
        self.timeline.record(latency, outcome);
        if let Some(probes) = &mut self.probes {
            probes.record_completion(now, latency, outcome);
        }
        let (name, status) = outcome.name_and_status();
        self.observer.request_ended(&RequestRecord {
            id: request.id,
            user,
            issued: request.issued,
            ended: now,
            outcome: name,
            status,
        });
        let state = &mut self.users[user as usize];
        let wait = self.scenario.load.wait.sample(&mut state.wait_rng);
        self.queue.schedule(now + wait, Event::UserIssue { user });
    }
}
