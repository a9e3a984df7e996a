//! The simulation of one scenario: a closed set of events, one dispatch `match`, and
//! handlers that move requests through services.
//!
//! A request to an endpoint becomes a *job* on that endpoint's service. A job waits
//! for a worker (FIFO), then runs its steps while holding the worker; a `call` step
//! creates a child job downstream and waits for its answer, a timeout, or both. A
//! timed-out child keeps running: its answer arrives later and is thrown away
//! (counted as `abandoned`), which is how wasted work builds queues in a cascade.

use std::collections::{BTreeMap, VecDeque};

use sim_core::{
    EventQueue, LatencyHistogram, RngStream, SimDuration, SimTime, TimeWindows, TimerId,
};
use slotmap::{new_key_type, SlotMap};

use crate::breaker::{ConsecutiveBreaker, ConsecutiveSettings, Ticket};
use crate::limits::{EVENTS_AT_ONE_INSTANT_MAX, EVENTS_MAX};
use crate::report::{
    round_to, BreakerReport, LatencySummary, RunReport, ServiceReport, Timeline, TransitionReport,
};
use crate::spec::{Call, EndpointRef, Fallback, FaultKind, Scenario, ServiceId, Step};

new_key_type! { struct JobKey; }

/// Status answered by a full queue, and for open breakers under `Propagate`.
const STATUS_UNAVAILABLE: u16 = 503;
/// Status passed on for a timed-out call under `Propagate`.
const STATUS_GATEWAY_TIMEOUT: u16 = 504;

#[derive(Clone, Copy, Debug)]
enum Event {
    UserIssue { user: u32 },
    UserTimeout { user: u32, seq: u32 },
    Arrive(JobKey),
    WorkDone(JobKey),
    HangDone { job: JobKey, status: u16 },
    CallTimeout { job: JobKey, epoch: u32 },
}

/// Work that happens at the current instant, right after the event that caused it.
/// Kept on a FIFO agenda instead of done by direct calls, so that a long queue of
/// jobs finishing one after another, or a deep call chain answering upward, never
/// grows the stack.
#[derive(Clone, Copy, Debug)]
enum Immediate {
    /// The job has a worker: run its first step (or its fault).
    Begin(JobKey),
    Deliver {
        parent: Parent,
        answer: Answer,
        from: ServiceId,
    },
}

#[derive(Clone, Copy, Debug)]
enum Parent {
    User { user: u32, seq: u32 },
    Call { job: JobKey, epoch: u32 },
}

#[derive(Clone, Copy, Debug)]
struct PendingCall {
    epoch: u32,
    timer: Option<TimerId>,
    ticket: Option<Ticket>,
}

#[derive(Clone, Debug)]
struct Job {
    endpoint: EndpointRef,
    parent: Parent,
    step: u32,
    degraded: bool,
    epoch: u32,
    call: Option<PendingCall>,
}

/// An HTTP-ish answer travelling up the call chain.
#[derive(Clone, Copy, Debug)]
struct Answer {
    status: u16,
    degraded: bool,
    /// Turned away by a full queue before any work was done.
    rejected: bool,
}

impl Answer {
    fn ok(degraded: bool) -> Self {
        Answer {
            status: 200,
            degraded,
            rejected: false,
        }
    }
    fn error(status: u16) -> Self {
        Answer {
            status,
            degraded: false,
            rejected: false,
        }
    }
    fn rejected() -> Self {
        Answer {
            status: STATUS_UNAVAILABLE,
            degraded: false,
            rejected: true,
        }
    }
    fn is_success(self) -> bool {
        self.status < 400
    }
}

#[derive(Clone, Copy, Debug)]
enum CallFailure {
    Answered(u16),
    TimedOut,
    BreakerRejected,
}

impl CallFailure {
    fn propagated_status(self) -> u16 {
        match self {
            CallFailure::Answered(status) => status,
            CallFailure::TimedOut => STATUS_GATEWAY_TIMEOUT,
            CallFailure::BreakerRejected => STATUS_UNAVAILABLE,
        }
    }
}

struct Outstanding {
    seq: u32,
    issued: SimTime,
    timer: Option<TimerId>,
}

struct User {
    wait_rng: RngStream,
    seq: u32,
    outstanding: Option<Outstanding>,
}

#[derive(Default)]
struct ServiceState {
    busy: u64,
    queue: VecDeque<JobKey>,
    arrivals: u64,
    rejected: u64,
    completed: u64,
    abandoned: u64,
    busy_max: u64,
    queue_max: u64,
    busy_area_ns: u128,
    last_change: SimTime,
}

impl ServiceState {
    fn account_busy_until(&mut self, now: SimTime) {
        self.busy_area_ns +=
            u128::from(self.busy) * u128::from(now.since(self.last_change).as_nanos());
        self.last_change = now;
    }
}

#[derive(Default)]
struct UserStats {
    issued: u64,
    ok: u64,
    degraded: u64,
    rejected: u64,
    timed_out: u64,
    errors_by_status: BTreeMap<u16, u64>,
    last_completion: SimTime,
}

struct Windows {
    completed: TimeWindows,
    ok: TimeWindows,
    degraded: TimeWindows,
    failed: TimeWindows,
}

enum UserOutcome {
    Ok,
    Degraded,
    Error(u16),
    Rejected,
    TimedOut,
}

pub struct Simulation<'a> {
    scenario: &'a Scenario,
    horizon: SimTime,
    queue: EventQueue<Event>,
    agenda: VecDeque<Immediate>,
    jobs: SlotMap<JobKey, Job>,
    users: Vec<User>,
    services: Vec<ServiceState>,
    breakers: Vec<ConsecutiveBreaker>,
    /// `[service][endpoint][step]`: one stream per work step, so that changing one
    /// step's distribution leaves every other step's draws where they were.
    work_rngs: Vec<Vec<Vec<RngStream>>>,
    faults_by_service: Vec<Vec<usize>>,
    latency: LatencyHistogram,
    stats: UserStats,
    windows: Windows,
    stopped_early: Option<String>,
}

/// Runs `scenario` with its own seed to the end of its duration.
pub fn simulate(scenario: &Scenario) -> RunReport {
    let mut simulation = Simulation::new(scenario);
    simulation.run();
    simulation.report()
}

impl<'a> Simulation<'a> {
    pub fn new(scenario: &'a Scenario) -> Self {
        let seed = scenario.seed;
        let users = (0..scenario.load.users)
            .map(|user| User {
                wait_rng: RngStream::new(seed, &format!("user/{user}/wait")),
                seq: 0,
                outstanding: None,
            })
            .collect();
        let work_rngs = scenario
            .services
            .iter()
            .map(|service| {
                service
                    .endpoints
                    .iter()
                    .map(|endpoint| {
                        (0..endpoint.steps.len())
                            .map(|step| {
                                let name =
                                    format!("work/{}/{}/{step}", service.name, endpoint.name);
                                RngStream::new(seed, &name)
                            })
                            .collect()
                    })
                    .collect()
            })
            .collect();
        let mut faults_by_service = vec![Vec::new(); scenario.services.len()];
        for (index, fault) in scenario.faults.iter().enumerate() {
            faults_by_service[fault.service.0 as usize].push(index);
        }
        let breakers = scenario
            .breakers
            .iter()
            .map(|spec| {
                ConsecutiveBreaker::new(
                    ConsecutiveSettings {
                        failures: spec.failures,
                        open_for: spec.open_for,
                        max_requests: spec.half_open_calls,
                        interval: spec.interval,
                    },
                    SimTime::ZERO,
                )
            })
            .collect();
        let window = |_| TimeWindows::new(scenario.window, scenario.duration);
        let mut queue = EventQueue::new();
        let horizon = SimTime::ZERO + scenario.duration;
        for user in 0..scenario.load.users {
            let at = scenario.load.spawn_time(user);
            if at <= horizon {
                queue.schedule(at, Event::UserIssue { user });
            }
        }
        Simulation {
            scenario,
            horizon,
            queue,
            agenda: VecDeque::new(),
            jobs: SlotMap::with_key(),
            users,
            services: (0..scenario.services.len())
                .map(|_| ServiceState::default())
                .collect(),
            breakers,
            work_rngs,
            faults_by_service,
            latency: LatencyHistogram::new(),
            stats: UserStats::default(),
            windows: Windows {
                completed: window(()),
                ok: window(()),
                degraded: window(()),
                failed: window(()),
            },
            stopped_early: None,
        }
    }

    pub fn run(&mut self) {
        let mut instant = SimTime::ZERO;
        let mut events_at_instant = 0u64;
        while let Some((now, event)) = self.queue.pop_until(self.horizon) {
            if now == instant {
                events_at_instant += 1;
            } else {
                instant = now;
                events_at_instant = 1;
            }
            if events_at_instant > EVENTS_AT_ONE_INSTANT_MAX {
                self.stopped_early = Some(format!(
                    "stopped at {now}: {EVENTS_AT_ONE_INSTANT_MAX} events without time moving on (users with zero think time calling endpoints with zero work?)"
                ));
                break;
            }
            if self.queue.events_delivered() > EVENTS_MAX {
                self.stopped_early = Some(format!(
                    "stopped at {now} after {EVENTS_MAX} events (the event budget)"
                ));
                break;
            }
            match event {
                Event::UserIssue { user } => self.user_issue(user),
                Event::UserTimeout { user, seq } => self.user_timeout(user, seq),
                Event::Arrive(job) => self.arrive(job),
                Event::WorkDone(job) => {
                    self.jobs[job].step += 1;
                    self.advance(job);
                }
                Event::HangDone { job, status } => self.finish(job, Answer::error(status)),
                Event::CallTimeout { job, epoch } => self.call_timed_out(job, epoch),
            }
            while let Some(immediate) = self.agenda.pop_front() {
                match immediate {
                    Immediate::Begin(job) => self.begin(job),
                    Immediate::Deliver {
                        parent,
                        answer,
                        from,
                    } => self.deliver(parent, answer, from),
                }
            }
        }
    }

    fn now(&self) -> SimTime {
        self.queue.now()
    }

    // --- users -------------------------------------------------------------------

    fn user_issue(&mut self, user: u32) {
        let now = self.now();
        let load = &self.scenario.load;
        let state = &mut self.users[user as usize];
        state.seq += 1;
        let seq = state.seq;
        let timer = load.timeout.map(|timeout| {
            self.queue
                .schedule_cancellable(now + timeout, Event::UserTimeout { user, seq })
        });
        self.users[user as usize].outstanding = Some(Outstanding {
            seq,
            issued: now,
            timer,
        });
        self.stats.issued += 1;
        let job = self
            .jobs
            .insert(Job::new(load.target, Parent::User { user, seq }));
        self.arrive(job);
    }

    fn user_timeout(&mut self, user: u32, seq: u32) {
        if self.take_outstanding(user, seq).is_some() {
            self.user_done(
                user,
                self.scenario.load.timeout.unwrap_or_default(),
                UserOutcome::TimedOut,
            );
        }
    }

    fn user_answered(&mut self, user: u32, seq: u32, answer: Answer) -> bool {
        let Some(outstanding) = self.take_outstanding(user, seq) else {
            return false;
        };
        if let Some(timer) = outstanding.timer {
            self.queue.cancel(timer);
        }
        let outcome = if answer.rejected {
            UserOutcome::Rejected
        } else if !answer.is_success() {
            UserOutcome::Error(answer.status)
        } else if answer.degraded {
            UserOutcome::Degraded
        } else {
            UserOutcome::Ok
        };
        let latency = self.now().since(outstanding.issued);
        self.user_done(user, latency, outcome);
        true
    }

    fn take_outstanding(&mut self, user: u32, seq: u32) -> Option<Outstanding> {
        let slot = &mut self.users[user as usize].outstanding;
        match slot {
            Some(outstanding) if outstanding.seq == seq => slot.take(),
            _ => None,
        }
    }

    fn user_done(&mut self, user: u32, latency: SimDuration, outcome: UserOutcome) {
        let now = self.now();
        self.latency.record(latency);
        self.stats.last_completion = now;
        self.windows.completed.record(now, latency);
        let stats = &mut self.stats;
        let window = match outcome {
            UserOutcome::Ok => {
                stats.ok += 1;
                &mut self.windows.ok
            }
            UserOutcome::Degraded => {
                stats.degraded += 1;
                &mut self.windows.degraded
            }
            UserOutcome::Error(status) => {
                *stats.errors_by_status.entry(status).or_default() += 1;
                &mut self.windows.failed
            }
            UserOutcome::Rejected => {
                stats.rejected += 1;
                &mut self.windows.failed
            }
            UserOutcome::TimedOut => {
                stats.timed_out += 1;
                &mut self.windows.failed
            }
        };
        window.record(now, latency);
        let state = &mut self.users[user as usize];
        let wait = self.scenario.load.wait.sample(&mut state.wait_rng);
        self.queue.schedule(now + wait, Event::UserIssue { user });
    }

    // --- services ----------------------------------------------------------------

    fn arrive(&mut self, key: JobKey) {
        let service_id = self.jobs[key].endpoint.service;
        let spec = self.scenario.service(service_id);
        let state = &mut self.services[service_id.0 as usize];
        state.arrivals += 1;
        if spec.workers.admits(state.busy) {
            self.start(key);
        } else if spec.queue.admits(state.queue.len() as u64) {
            state.queue.push_back(key);
            state.queue_max = state.queue_max.max(state.queue.len() as u64);
        } else {
            state.rejected += 1;
            let job = self.jobs.remove(key).expect("arriving job exists");
            self.agenda.push_back(Immediate::Deliver {
                parent: job.parent,
                answer: Answer::rejected(),
                from: service_id,
            });
        }
    }

    fn start(&mut self, key: JobKey) {
        let now = self.now();
        let service_id = self.jobs[key].endpoint.service;
        let state = &mut self.services[service_id.0 as usize];
        state.account_busy_until(now);
        state.busy += 1;
        state.busy_max = state.busy_max.max(state.busy);
        self.agenda.push_back(Immediate::Begin(key));
    }

    fn begin(&mut self, key: JobKey) {
        let now = self.now();
        let service_id = self.jobs[key].endpoint.service;
        let hang = self.faults_by_service[service_id.0 as usize]
            .iter()
            .map(|&index| &self.scenario.faults[index])
            .find(|fault| fault.active_at(now))
            .map(|fault| fault.kind);
        match hang {
            Some(FaultKind::Hang { hold, status }) => {
                self.queue
                    .schedule(now + hold, Event::HangDone { job: key, status });
            }
            None => self.advance(key),
        }
    }

    /// Runs the job's current step, or answers if there is none left.
    fn advance(&mut self, key: JobKey) {
        let now = self.now();
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
                let rng =
                    &mut self.work_rngs[service.0 as usize][endpoint as usize][job.step as usize];
                let duration = distribution.sample(rng);
                self.queue.schedule(now + duration, Event::WorkDone(key));
            }
            Some(Step::Call(call)) => self.start_call(key, call),
        }
    }

    fn finish(&mut self, key: JobKey, answer: Answer) {
        let now = self.now();
        let job = self.jobs.remove(key).expect("finishing job exists");
        let service_id = job.endpoint.service;
        debug_assert!(job.call.is_none(), "a job finished with a call in flight");
        let state = &mut self.services[service_id.0 as usize];
        state.completed += 1;
        state.account_busy_until(now);
        state.busy -= 1;
        if let Some(next) = state.queue.pop_front() {
            self.start(next);
        }
        self.agenda.push_back(Immediate::Deliver {
            parent: job.parent,
            answer,
            from: service_id,
        });
    }

    fn deliver(&mut self, parent: Parent, answer: Answer, from: ServiceId) {
        let heard = match parent {
            Parent::User { user, seq } => self.user_answered(user, seq, answer),
            Parent::Call { job, epoch } => self.call_answered(job, epoch, answer),
        };
        if !heard {
            self.services[from.0 as usize].abandoned += 1;
        }
    }

    // --- calls -------------------------------------------------------------------

    fn start_call(&mut self, key: JobKey, call: &Call) {
        let now = self.now();
        let ticket = match call.breaker {
            Some(breaker) => match self.breakers[breaker.0 as usize].allow(now) {
                Ok(ticket) => Some(ticket),
                Err(_) => {
                    self.call_failed(key, call, CallFailure::BreakerRejected);
                    return;
                }
            },
            None => None,
        };
        let job = &mut self.jobs[key];
        job.epoch += 1;
        let epoch = job.epoch;
        let timer = call.timeout.map(|timeout| {
            self.queue
                .schedule_cancellable(now + timeout, Event::CallTimeout { job: key, epoch })
        });
        self.jobs[key].call = Some(PendingCall {
            epoch,
            timer,
            ticket,
        });
        let child = self
            .jobs
            .insert(Job::new(call.target, Parent::Call { job: key, epoch }));
        self.queue.schedule(now, Event::Arrive(child));
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

    fn current_call(&self, key: JobKey) -> &'a Call {
        let scenario = self.scenario;
        let job = &self.jobs[key];
        match &scenario.endpoint(job.endpoint).steps[job.step as usize] {
            Step::Call(call) => call,
            Step::Work(_) => unreachable!("a call outcome arrived while the job was working"),
        }
    }

    fn call_answered(&mut self, key: JobKey, epoch: u32, answer: Answer) -> bool {
        let Some(pending) = self.take_call(key, epoch) else {
            return false;
        };
        let now = self.now();
        if let Some(timer) = pending.timer {
            self.queue.cancel(timer);
        }
        let call = self.current_call(key);
        if let (Some(breaker), Some(ticket)) = (call.breaker, pending.ticket) {
            self.breakers[breaker.0 as usize].record(now, ticket, answer.is_success());
        }
        if answer.is_success() {
            let job = &mut self.jobs[key];
            job.degraded |= answer.degraded;
            job.step += 1;
            self.advance(key);
        } else {
            self.call_failed(key, call, CallFailure::Answered(answer.status));
        }
        true
    }

    fn call_timed_out(&mut self, key: JobKey, epoch: u32) {
        let Some(pending) = self.take_call(key, epoch) else {
            return;
        };
        let now = self.now();
        let call = self.current_call(key);
        if let (Some(breaker), Some(ticket)) = (call.breaker, pending.ticket) {
            self.breakers[breaker.0 as usize].record(now, ticket, false);
        }
        self.call_failed(key, call, CallFailure::TimedOut);
    }

    fn call_failed(&mut self, key: JobKey, call: &Call, failure: CallFailure) {
        match call.fallback {
            Fallback::Degraded => {
                let job = &mut self.jobs[key];
                job.degraded = true;
                job.step += 1;
                self.advance(key);
            }
            Fallback::Fail { status } => self.finish(key, Answer::error(status)),
            Fallback::Propagate => self.finish(key, Answer::error(failure.propagated_status())),
        }
    }

    // --- report ------------------------------------------------------------------

    pub fn report(&mut self) -> RunReport {
        let end = match self.stopped_early {
            Some(_) => self.queue.now(),
            None => self.horizon,
        };
        let in_flight = self
            .users
            .iter()
            .filter(|user| user.outstanding.is_some())
            .count() as u64;
        let stats = &self.stats;
        let errors: u64 = stats.errors_by_status.values().sum();
        let completed = stats.ok + stats.degraded + errors + stats.rejected + stats.timed_out;
        assert_eq!(
            completed + in_flight,
            stats.issued,
            "request conservation broken (seed {})",
            self.scenario.seed
        );
        let span = stats.last_completion.as_secs_f64();
        let throughput = if span > 0.0 {
            completed as f64 / span
        } else {
            0.0
        };
        let ms = |d: SimDuration| round_to(d.as_millis_f64(), 3);
        let latency = &self.latency;
        let scenario = self.scenario;
        let duration_ns = scenario.duration.as_nanos().max(1) as f64;
        let services = scenario
            .services
            .iter()
            .zip(self.services.iter_mut())
            .map(|(spec, state)| {
                state.account_busy_until(end);
                ServiceReport {
                    name: spec.name.clone(),
                    arrivals: state.arrivals,
                    rejected: state.rejected,
                    completed: state.completed,
                    abandoned: state.abandoned,
                    busy_max: state.busy_max,
                    busy_mean: round_to(state.busy_area_ns as f64 / duration_ns, 3),
                    queue_max: state.queue_max,
                }
            })
            .collect();
        let breakers = scenario
            .breakers
            .iter()
            .zip(&self.breakers)
            .map(|(spec, breaker)| BreakerReport {
                name: spec.name.clone(),
                rejected: breaker.rejected(),
                transitions: breaker
                    .transitions()
                    .iter()
                    .map(|t| TransitionReport {
                        at_ms: round_to(t.at.as_millis_f64(), 3),
                        from: t.from.as_str(),
                        to: t.to.as_str(),
                    })
                    .collect(),
            })
            .collect();
        let counts = |w: &TimeWindows| w.windows().iter().map(|w| w.count).collect::<Vec<_>>();
        let timeline = Timeline {
            window_ms: round_to(scenario.window.as_millis_f64(), 3),
            completed: counts(&self.windows.completed),
            ok: counts(&self.windows.ok),
            degraded: counts(&self.windows.degraded),
            failed: counts(&self.windows.failed),
            mean_latency_ms: self
                .windows
                .completed
                .windows()
                .iter()
                .map(|w| {
                    if w.count == 0 {
                        0.0
                    } else {
                        round_to(w.sum_ns as f64 / w.count as f64 / 1e6, 3)
                    }
                })
                .collect(),
        };
        RunReport {
            name: scenario.name.clone(),
            requests: stats.issued,
            ok: stats.ok,
            degraded: stats.degraded,
            failures: errors + stats.rejected + stats.timed_out,
            errors,
            rejected: stats.rejected,
            timed_out: stats.timed_out,
            in_flight,
            errors_by_status: stats
                .errors_by_status
                .iter()
                .map(|(status, count)| (status.to_string(), *count))
                .collect(),
            completed,
            throughput_rps: round_to(throughput, 3),
            latency_ms: LatencySummary {
                mean: ms(latency.mean()),
                p50: ms(latency.quantile(0.50)),
                p95: ms(latency.quantile(0.95)),
                p99: ms(latency.quantile(0.99)),
                max: ms(latency.max()),
            },
            breakers,
            services,
            timeline,
            events: self.queue.events_delivered(),
            stopped_early: self.stopped_early.clone(),
        }
    }
}

impl Job {
    fn new(endpoint: EndpointRef, parent: Parent) -> Self {
        Job {
            endpoint,
            parent,
            step: 0,
            degraded: false,
            epoch: 0,
            call: None,
        }
    }
}
