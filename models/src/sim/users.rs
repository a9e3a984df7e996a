//! The load: Locust-style closed-loop users that send, wait for the answer, think and
//! send again, or an open-loop Poisson stream of requests. Both are *clients*: what
//! they see of each request is counted the same way.

use std::collections::BTreeMap;

use sim_core::{Distribution, EventQueue, RngStream, SimDuration, SimTime, TimerId};
use slotmap::SlotMap;

use super::{Answer, Event, OpenKey, Parent, RequestRecord, Simulation, STATUS_NO_CONNECTION};
use crate::spec::{spawn_time, LoadModel, Scenario, Think};

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
    /// Locust's constant_pacing state: when the last wait was chosen, and how long.
    paced_at: SimTime,
    paced_wait: SimDuration,
}

impl User {
    pub(super) fn is_waiting(&self) -> bool {
        self.outstanding.is_some()
    }
}

/// The open-loop source: its arrival stream and the requests it has not heard back on.
pub(super) struct OpenSource {
    arrival_rng: RngStream,
    gap: Distribution,
    pub(super) outstanding: SlotMap<OpenKey, Outstanding>,
}

/// Who is waiting for an answer.
#[derive(Clone, Copy, Debug)]
pub(super) enum Client {
    User { user: u32, seq: u32 },
    Open(OpenKey),
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

/// Creates the users (closed loop) or the arrival stream (open loop) and schedules
/// the first requests.
pub(super) fn spawn(
    scenario: &Scenario,
    queue: &mut EventQueue<Event>,
    horizon: SimTime,
) -> (Vec<User>, Option<OpenSource>) {
    match &scenario.load.model {
        LoadModel::Closed {
            users, spawn_rate, ..
        } => {
            let users = (0..*users)
                .map(|user| {
                    let at = spawn_time(*spawn_rate, user);
                    if at <= horizon {
                        queue.schedule(at, Event::UserIssue { user });
                    }
                    User {
                        wait_rng: RngStream::new(scenario.seed, &format!("user/{user}/wait")),
                        seq: 0,
                        outstanding: None,
                        paced_at: at,
                        paced_wait: SimDuration::ZERO,
                    }
                })
                .collect();
            (users, None)
        }
        LoadModel::Open { rate } => {
            let mean_gap = SimDuration::from_secs_f64(1.0 / rate);
            let mut source = OpenSource {
                arrival_rng: RngStream::new(scenario.seed, "load/arrivals"),
                gap: Distribution::exponential(mean_gap)
                    .expect("validated rate gives a gap above 0"),
                outstanding: SlotMap::with_key(),
            };
            queue.schedule(SimTime::ZERO + source.next_gap(), Event::OpenArrival);
            (Vec::new(), Some(source))
        }
    }
}

impl OpenSource {
    /// Exponential gaps: a Poisson process.
    fn next_gap(&mut self) -> SimDuration {
        self.gap.sample(&mut self.arrival_rng)
    }
}

impl Simulation<'_> {
    pub(super) fn user_issue(&mut self, user: u32) {
        let now = self.now();
        let state = &mut self.users[user as usize];
        state.seq += 1;
        let seq = state.seq;
        let timer = self.scenario.load.timeout.map(|timeout| {
            self.queue
                .schedule_cancellable(now + timeout, Event::UserTimeout { user, seq })
        });
        let outstanding = self.new_outstanding(now, timer);
        self.users[user as usize].outstanding = Some(Outstanding { seq, ..outstanding });
        self.send(Client::User { user, seq }, Parent::User { user, seq });
    }

    pub(super) fn open_arrival(&mut self) {
        let now = self.now();
        let source = self
            .open
            .as_mut()
            .expect("open arrivals come from an open source");
        let gap = source.next_gap();
        self.queue.schedule(now + gap, Event::OpenArrival);
        self.stats.issued += 1;
        self.stats.waiting += 1;
        let (queue, id, timeout) = (
            &mut self.queue,
            self.stats.issued,
            self.scenario.load.timeout,
        );
        // The timeout event names the request, so the key is needed to build it.
        let key = source.outstanding.insert_with_key(|key| Outstanding {
            seq: 0,
            id,
            issued: now,
            timer: timeout.map(|t| queue.schedule_cancellable(now + t, Event::OpenTimeout { key })),
        });
        self.send(Client::Open(key), Parent::Open { key });
    }

    fn new_outstanding(&mut self, now: SimTime, timer: Option<TimerId>) -> Outstanding {
        self.stats.issued += 1;
        self.stats.waiting += 1;
        Outstanding {
            seq: 0,
            id: self.stats.issued,
            issued: now,
            timer,
        }
    }

    /// Connects to the load's target and hands it the request.
    fn send(&mut self, client: Client, parent: Parent) {
        let target = self.scenario.load.target;
        match self.send_request(target, parent) {
            // A client that cannot connect gets no status at all.
            Some(super::services::Unreachable::Refused) => {
                self.client_answered(client, Answer::error(STATUS_NO_CONNECTION));
            }
            // Nothing answers: the client waits for its own timeout, if it has one.
            Some(super::services::Unreachable::Blackholed) | None => {}
        }
    }

    pub(super) fn client_timed_out(&mut self, client: Client) {
        if let Some(outstanding) = self.take_outstanding(client) {
            let latency = self.now().since(outstanding.issued);
            self.client_done(client, &outstanding, latency, UserOutcome::TimedOut);
        }
    }

    /// Returns whether the client was still waiting for this answer.
    pub(super) fn client_answered(&mut self, client: Client, answer: Answer) -> bool {
        let Some(outstanding) = self.take_outstanding(client) else {
            return false;
        };
        if let Some(timer) = outstanding.timer {
            self.queue.cancel(timer);
        }
        let latency = self.now().since(outstanding.issued);
        self.client_done(
            client,
            &outstanding,
            latency,
            UserOutcome::from_answer(answer),
        );
        true
    }

    fn take_outstanding(&mut self, client: Client) -> Option<Outstanding> {
        let taken = match client {
            Client::User { user, seq } => {
                let slot = &mut self.users[user as usize].outstanding;
                match slot {
                    Some(outstanding) if outstanding.seq == seq => slot.take(),
                    _ => None,
                }
            }
            Client::Open(key) => self
                .open
                .as_mut()
                .and_then(|source| source.outstanding.remove(key)),
        };
        if taken.is_some() {
            self.stats.waiting -= 1;
        }
        taken
    }

    fn client_done(
        &mut self,
        client: Client,
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
            user: match client {
                Client::User { user, .. } => Some(user),
                Client::Open(_) => None,
            },
            issued: request.issued,
            ended: now,
            outcome: name,
            status,
        });
        if let (Client::User { user, .. }, LoadModel::Closed { wait, .. }) =
            (client, &self.scenario.load.model)
        {
            let state = &mut self.users[user as usize];
            let think = match wait {
                Think::Sample(distribution) => distribution.sample(&mut state.wait_rng),
                Think::Pacing(pace) => {
                    // Locust: run_time = now - last_run - last_wait; wait = max(0, pace - run_time).
                    let run_time = now
                        .since(state.paced_at)
                        .as_nanos()
                        .saturating_sub(state.paced_wait.as_nanos());
                    let wait = SimDuration(pace.as_nanos().saturating_sub(run_time));
                    state.paced_at = now;
                    state.paced_wait = wait;
                    wait
                }
            };
            self.queue.schedule(now + think, Event::UserIssue { user });
        }
    }
}
