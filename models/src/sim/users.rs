//! The load: Locust-style closed-loop users that send, wait for the answer, think and
//! send again, or an open-loop Poisson stream of requests. Both are *clients*: what
//! they see of each request is counted the same way.

use std::collections::BTreeMap;

use sim_core::{
    Distribution, EventQueue, LatencyHistogram, RngStream, SimDuration, SimTime, TimerId,
};
use slotmap::SlotMap;

use super::{
    Answer, Event, Hop, HopKind, OpenKey, Parent, RequestRecord, Simulation, STATUS_NO_CONNECTION,
};
use crate::spec::{spawn_time, LoadModel, Scenario, Think};

pub(super) struct Outstanding {
    seq: u32,
    id: u64,
    /// Index into the load's tasks.
    task: u32,
    issued: SimTime,
    timer: Option<TimerId>,
}

/// Think times drawn at a time: a user's random stream is several cache lines that
/// are cold whenever it draws (thousands of users take turns), so it draws this
/// many while it is fetched and the user's own lines hold them. 8 ran about 6 %
/// faster than 4 on the 10,000-user gateway.
const THINKS_AHEAD: usize = 8;

/// Laid out with the fields every request touches first, next to each other, and
/// the random stream (most of the struct's size) last.
#[repr(C)]
pub(super) struct User {
    seq: u32,
    /// How many of `thinks` are taken; all of them at the start. The request in
    /// flight took the last one taken.
    thinks_used: u32,
    outstanding: Option<Outstanding>,
    /// The next think times of the user's stream, in the order it drew them.
    thinks: [SimDuration; THINKS_AHEAD],
    /// Locust's constant_pacing state: when the last wait was chosen, and how long.
    paced_at: SimTime,
    paced_wait: SimDuration,
    wait_rng: RngStream,
}

impl User {
    /// Reads the state the user's next request will touch (see `Simulation::warm`).
    /// The fields read lie at most a cache line apart, so every line of the hot
    /// part is fetched whichever way the struct straddles lines.
    pub(super) fn touch(&self) {
        std::hint::black_box((
            self.seq,
            self.outstanding.is_some(),
            self.thinks[0],
            self.thinks[THINKS_AHEAD - 1],
            self.paced_wait,
        ));
        if self.thinks_used as usize == THINKS_AHEAD {
            self.wait_rng.touch();
        }
    }

    pub(super) fn is_waiting(&self) -> bool {
        self.outstanding.is_some()
    }
}

/// The open-loop source: its arrival stream and the requests it has not heard back on.
pub(super) struct OpenSource {
    arrival_rng: RngStream,
    /// Gaps at the highest rate the schedule reaches (the only rate without one).
    gap: Distribution,
    peak_rate: f64,
    base_rate: f64,
    schedule: Vec<crate::spec::RateChange>,
    horizon: SimTime,
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

/// One task's completed requests.
#[derive(Default)]
pub(super) struct TaskStats {
    pub(super) completed: u64,
    pub(super) failures: u64,
    pub(super) latency: LatencyHistogram,
}

impl TaskStats {
    fn record(&mut self, latency: SimDuration, failed: bool) {
        self.completed += 1;
        self.failures += u64::from(failed);
        self.latency.record(latency);
    }
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
                        thinks: [SimDuration::ZERO; THINKS_AHEAD],
                        thinks_used: THINKS_AHEAD as u32,
                        seq: 0,
                        outstanding: None,
                        paced_at: at,
                        paced_wait: SimDuration::ZERO,
                    }
                })
                .collect();
            (users, None)
        }
        LoadModel::Open { rate, schedule } => {
            let peak_rate = schedule
                .iter()
                .map(|change| change.rate)
                .fold(*rate, f64::max);
            let mean_gap = SimDuration::from_secs_f64(1.0 / peak_rate);
            let mut source = OpenSource {
                arrival_rng: RngStream::new(scenario.seed, "load/arrivals"),
                gap: Distribution::exponential(mean_gap)
                    .expect("validated rate gives a gap above 0"),
                peak_rate,
                base_rate: *rate,
                schedule: schedule.clone(),
                horizon,
                outstanding: SlotMap::with_key(),
            };
            if let Some(first) = source.next_arrival(SimTime::ZERO) {
                queue.schedule(first, Event::OpenArrival);
            }
            (Vec::new(), Some(source))
        }
    }
}

impl OpenSource {
    /// The next arrival after `now`, if it falls within the run. Exponential gaps
    /// make a Poisson process; with a schedule, candidates at the peak rate are kept
    /// with probability rate(t) / peak (Lewis and Shedler's thinning), which is
    /// exact for any rate curve below the peak.
    fn next_arrival(&mut self, now: SimTime) -> Option<SimTime> {
        let mut at = now;
        loop {
            at += self.gap.sample(&mut self.arrival_rng);
            if at > self.horizon {
                return None;
            }
            if self.schedule.is_empty() {
                return Some(at);
            }
            let rate = crate::spec::rate_at(self.base_rate, &self.schedule, at);
            if self.arrival_rng.next_f64() * self.peak_rate < rate {
                return Some(at);
            }
        }
    }
}

impl Simulation<'_> {
    pub(super) fn user_issue(&mut self, user: u32) {
        let now = self.now();
        let state = &mut self.users[user as usize];
        state.seq += 1;
        let seq = state.seq;
        // Taken now, while the user's state is being fetched anyway, from think
        // times drawn a few requests ahead (see THINKS_AHEAD). The stream serves
        // think times alone and each request is followed by at most one, so the
        // k-th think time is the same number as if drawn at the answer.
        if let LoadModel::Closed {
            wait: Think::Sample(distribution),
            ..
        } = &self.scenario.load.model
        {
            if state.thinks_used as usize == THINKS_AHEAD {
                for think in &mut state.thinks {
                    *think = distribution.sample(&mut state.wait_rng);
                }
                state.thinks_used = 0;
            }
            state.thinks_used += 1;
        }
        let timer = self.scenario.load.timeout.map(|timeout| {
            self.queue
                .schedule_cancellable(now + timeout, Event::UserTimeout { user, seq })
        });
        let task = self.pick_task();
        let outstanding = self.new_outstanding(now, timer, task);
        self.users[user as usize].outstanding = Some(Outstanding { seq, ..outstanding });
        self.send(Client::User { user, seq }, Parent::User { user, seq }, task);
    }

    pub(super) fn open_arrival(&mut self) {
        let now = self.now();
        let source = self
            .open
            .as_mut()
            .expect("open arrivals come from an open source");
        if let Some(next) = source.next_arrival(now) {
            self.queue.schedule(next, Event::OpenArrival);
        }
        let task = self.pick_task();
        let source = self.open.as_mut().expect("checked above");
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
            task,
            issued: now,
            timer: timeout.map(|t| queue.schedule_cancellable(now + t, Event::OpenTimeout { key })),
        });
        self.send(Client::Open(key), Parent::Open { key }, task);
    }

    fn new_outstanding(&mut self, now: SimTime, timer: Option<TimerId>, task: u32) -> Outstanding {
        self.stats.issued += 1;
        self.stats.waiting += 1;
        Outstanding {
            seq: 0,
            id: self.stats.issued,
            task,
            issued: now,
            timer,
        }
    }

    /// The id of the user request a client's job serves (0 for probes), read from
    /// the client's outstanding request, recorded before it is sent.
    pub(super) fn request_of(&self, parent: Parent) -> u64 {
        match parent {
            Parent::User { user, .. } => self.users[user as usize]
                .outstanding
                .as_ref()
                .map_or(0, |outstanding| outstanding.id),
            Parent::Open { key } => self
                .open
                .as_ref()
                .and_then(|source| source.outstanding.get(key))
                .map_or(0, |outstanding| outstanding.id),
            Parent::Call { job, .. } | Parent::Branch { job, .. } => {
                self.jobs.get(job).map_or(0, |caller| caller.request)
            }
            Parent::Probe { .. } => 0,
        }
    }

    /// Whether the user still waits for the answer to its request number `seq`.
    pub(super) fn user_waits(&self, user: u32, seq: u32) -> bool {
        self.users[user as usize]
            .outstanding
            .as_ref()
            .is_some_and(|outstanding| outstanding.seq == seq)
    }

    /// Which task the next request runs: weighted, as Locust picks among `@task`s.
    /// A single task draws nothing, so adding the feature moved no random stream.
    fn pick_task(&mut self) -> u32 {
        let tasks = &self.scenario.load.tasks;
        if tasks.len() == 1 {
            return 0;
        }
        let total: u64 = tasks.iter().map(|task| u64::from(task.weight)).sum();
        let mut draw = self.task_rng.below(total);
        for (index, task) in tasks.iter().enumerate() {
            let weight = u64::from(task.weight);
            if draw < weight {
                return index as u32;
            }
            draw -= weight;
        }
        unreachable!("the draw is below the total weight")
    }

    /// Connects to the task's target and hands it the request.
    fn send(&mut self, client: Client, parent: Parent, task: u32) {
        let target = self.scenario.load.tasks[task as usize].target;
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
        if let Some(tasks) = &mut self.task_stats {
            tasks[request.task as usize].record(latency, outcome.is_failure());
        }
        self.timeline.record(latency, outcome);
        if let Some(probes) = &mut self.probes {
            probes.record_completion(now, latency, outcome);
        }
        let (name, status) = outcome.name_and_status();
        if self.traced == Some(request.id) {
            self.observer.hop(&Hop {
                at: now,
                endpoint: self.scenario.load.tasks[request.task as usize].target,
                depth: 0,
                replica: 0,
                kind: HopKind::Ended {
                    outcome: name,
                    status,
                },
            });
        }
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
                // The one its request took when it was issued.
                Think::Sample(_) => state.thinks[state.thinks_used as usize - 1],
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

#[cfg(test)]
mod tests {
    use std::mem::offset_of;

    use super::*;

    /// `User::touch` fetches every line of the hot fields only if the fields it
    /// reads are at most a line apart and span them.
    #[test]
    fn touched_fields_cover_the_hot_part() {
        const LINE: usize = 64;
        let read = [
            offset_of!(User, seq),
            offset_of!(User, outstanding),
            offset_of!(User, thinks),
            offset_of!(User, thinks) + (THINKS_AHEAD - 1) * std::mem::size_of::<SimDuration>(),
            offset_of!(User, paced_wait),
        ];
        assert!(
            read.windows(2)
                .all(|pair| pair[0] < pair[1] && pair[1] - pair[0] <= LINE),
            "{read:?}"
        );
        assert_eq!(read[0], 0);
        assert_eq!(
            offset_of!(User, wait_rng),
            read[4] + std::mem::size_of::<SimDuration>(),
            "the random stream follows the hot fields"
        );
    }
}
