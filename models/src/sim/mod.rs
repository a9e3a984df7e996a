//! The simulation of one scenario: a closed set of events, one dispatch `match`, and
//! handlers that move requests through services.
//!
//! A request to an endpoint becomes a *job* on that endpoint's service. A job waits
//! for a worker (FIFO), then runs its steps while holding the worker; a `call` step
//! creates a child job downstream and waits for its answer, a timeout, or both. A
//! timed-out child keeps running: its answer arrives later and is thrown away
//! (counted as `abandoned`), which is how wasted work builds queues in a cascade.
//!
//! Submodules by job: `users` (the closed-loop load), `services` (pools, queues,
//! steps, faults), `calls` (timeouts, breakers, fallbacks), `probes` (the
//! steady-state hypothesis), `timeline` (per-window sampling), `summary` (the report).

mod bulkheads;
mod calls;
mod fanout;
mod probes;
mod replicas;
mod services;
mod summary;
mod timeline;
mod users;

use sim_core::{EventQueue, Fifo, LatencyHistogram, RngStream, SimDuration, SimTime, TimerId};
use slotmap::{new_key_type, SlotMap};

use crate::breaker::{Breaker, Ticket};
use crate::limits::{EVENTS_AT_ONE_INSTANT_MAX, EVENTS_MAX, IN_FLIGHT_MAX, TRANSITIONS_MAX};
use crate::report::RunReport;
use crate::retry::Budget;
use crate::spec::{BreakerId, BulkheadId, EndpointRef, Scenario, ServiceId};

use probes::ProbeRunner;
use services::{ServiceState, Unreachable};
use timeline::TimelineRecorder;
use users::{Client, OpenSource, User, UserStats};

new_key_type! {
    struct JobKey;
    struct OpenKey;
}

/// Status answered by a full queue, and for open breakers under `Propagate`.
const STATUS_UNAVAILABLE: u16 = 503;
/// Status passed on for a refused connection under `Propagate`.
const STATUS_BAD_GATEWAY: u16 = 502;
/// Status passed on for a timed-out call under `Propagate`.
const STATUS_GATEWAY_TIMEOUT: u16 = 504;
/// What a client records when it cannot connect at all (Locust's convention).
const STATUS_NO_CONNECTION: u16 = 0;

#[derive(Clone, Copy, Debug)]
enum Event {
    UserIssue {
        user: u32,
    },
    UserTimeout {
        user: u32,
        seq: u32,
    },
    OpenArrival,
    OpenTimeout {
        key: OpenKey,
    },
    WarmupEnd,
    Arrive(JobKey),
    WorkDone(JobKey),
    /// A latency fault's extra wait is over: the job's steps begin.
    DelayDone(JobKey),
    /// A retry's backoff is over: the job's current call is attempted again.
    RetryDue(JobKey),
    /// A caller waited for a bulkhead permit as long as it may.
    PermitWaitOver {
        job: JobKey,
        number: u32,
    },
    HangDone {
        job: JobKey,
        status: u16,
    },
    CallTimeout {
        job: JobKey,
        epoch: u32,
        connecting: bool,
    },
    WindowEnd,
    /// Envoy's outlier-detection interval timer for a service.
    OutlierSweep {
        service: ServiceId,
    },
    BreakerWake {
        breaker: BreakerId,
    },
    ProbePhase {
        after: bool,
    },
    ProbeTimeout {
        seq: u32,
    },
}

/// Work that happens at the current instant, right after the event that caused it.
/// Kept on a FIFO agenda instead of done by direct calls, so that a long queue of
/// jobs finishing one after another, or a deep call chain answering upward, never
/// grows the stack.
#[derive(Clone, Copy, Debug)]
enum Immediate {
    /// The job has a worker: run its first step (or its fault).
    Begin(JobKey),
    /// A waiting call got its bulkhead permit: it connects now.
    PermitGranted { job: JobKey, ticket: Option<Ticket> },
    Deliver {
        parent: Parent,
        answer: Answer,
        /// The service that answered; `None` for a job dropped at its deadline,
        /// whose unheard answer is not work done in vain.
        from: Option<ServiceId>,
    },
}

#[derive(Clone, Copy, Debug)]
enum Parent {
    User {
        user: u32,
        seq: u32,
    },
    Open {
        key: OpenKey,
    },
    Call {
        job: JobKey,
        epoch: u32,
    },
    /// One call of a fan-out, answering the job that fanned out.
    Branch {
        job: JobKey,
        epoch: u32,
    },
    Probe {
        seq: u32,
    },
}

#[derive(Clone, Copy, Debug)]
struct PendingCall {
    epoch: u32,
    /// The replica of the target that the attempt went to.
    replica: u32,
    started: SimTime,
    timer: Option<TimerId>,
    ticket: Option<Ticket>,
}

#[derive(Clone, Debug)]
struct Job {
    endpoint: EndpointRef,
    /// Which replica of the endpoint's service runs the job.
    replica: u32,
    parent: Parent,
    arrived: SimTime,
    step: u32,
    degraded: bool,
    epoch: u32,
    call: Option<PendingCall>,
    /// Retries made so far for the current call step, and the last backoff.
    retries: u32,
    last_backoff: SimDuration,
    /// The bulkhead whose permit the current attempt holds.
    holds_permit: Option<BulkheadId>,
    waiting_permit: Option<bulkheads::WaitingPermit>,
    /// The user request this job works for (its `RequestRecord::id`; 0 for probes),
    /// and how many calls deep: what a trace of one request follows.
    request: u64,
    depth: u32,
    /// With the breaker outside the retries: its admission of the whole sequence of
    /// attempts, and when the sequence began.
    sequence_ticket: Option<Ticket>,
    sequence_started: SimTime,
    /// When the caller stops waiting, if it told us (deadline propagation).
    deadline: Option<SimTime>,
    /// When the current attempt began, before any wait for a bulkhead permit.
    attempt_started: SimTime,
    /// A branch job runs call `branch` of its step's fan-out for the job in its
    /// parent; it holds no worker of its own.
    branch: Option<u32>,
    /// Waiting for a fan-out's calls.
    fan_out: Option<fanout::Gathering>,
}

impl Job {
    fn new(endpoint: EndpointRef, replica: u32, parent: Parent, arrived: SimTime) -> Self {
        Job {
            endpoint,
            replica,
            parent,
            arrived,
            step: 0,
            degraded: false,
            epoch: 0,
            call: None,
            retries: 0,
            last_backoff: SimDuration::ZERO,
            holds_permit: None,
            waiting_permit: None,
            request: 0,
            depth: 0,
            sequence_ticket: None,
            sequence_started: arrived,
            deadline: None,
            attempt_started: arrived,
            branch: None,
            fan_out: None,
        }
    }

    /// Marks the job as working for `request`, `depth` calls below the user.
    fn serving(mut self, request: u64, depth: u32) -> Self {
        self.request = request;
        self.depth = depth;
        self
    }
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
        (200..400).contains(&self.status)
    }
}

/// One finished user request, for observers that want every request (traces).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestRecord {
    /// Numbered in the order requests were issued, from 1.
    pub id: u64,
    /// The closed-loop user who sent it; `None` for open-loop arrivals.
    pub user: Option<u32>,
    pub issued: SimTime,
    pub ended: SimTime,
    /// `ok`, `degraded`, `error`, `rejected` or `timed_out`.
    pub outcome: &'static str,
    /// The HTTP status the user saw; 0 for no answer (timed out, no connection).
    pub status: u16,
}

/// One moment in the life of a traced request, at one endpoint.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Hop {
    pub at: SimTime,
    /// Where it happens: the user's target at depth 0, a callee below.
    pub endpoint: EndpointRef,
    /// Calls between the user and this endpoint.
    pub depth: u32,
    /// The replica of the endpoint's service that serves it.
    pub replica: u32,
    pub kind: HopKind,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum HopKind {
    /// Every worker is busy: the job waits, `ahead` jobs before it.
    Queued {
        ahead: u64,
    },
    /// Every worker busy and the queue full: turned away (503).
    QueueFull,
    /// A worker took the job.
    Started,
    /// A hang fault holds the worker until `until`, then answers `status`.
    Hung {
        until: SimTime,
        status: u16,
    },
    /// A hang fault without an end holds the worker; only the caller's timeout
    /// ends its wait.
    HungForever,
    /// An error-rate fault fails the job at once.
    FaultError {
        status: u16,
    },
    /// A latency fault delays the job's steps.
    Delayed {
        by: SimDuration,
    },
    /// A work step holds the worker until `until`.
    Work {
        until: SimTime,
    },
    /// A call attempt (1 for the first) to `target`, with its timeout if any.
    Called {
        target: EndpointRef,
        attempt: u32,
        timeout: Option<SimDuration>,
        /// Nothing answers at the target's address (a blackhole fault).
        blackholed: bool,
    },
    /// The target refused the connection (a kill fault).
    Refused {
        target: EndpointRef,
    },
    BreakerRejected {
        breaker: BreakerId,
    },
    /// The call's bulkhead has no permit free; the call waits for one.
    BulkheadWait {
        bulkhead: BulkheadId,
    },
    BulkheadRejected {
        bulkhead: BulkheadId,
    },
    /// The caller stopped waiting for `target` (the callee may still be working).
    TimedOut {
        target: EndpointRef,
        connecting: bool,
    },
    /// The callee answered an error.
    CallFailed {
        target: EndpointRef,
        status: u16,
    },
    /// A fan-out step sends `calls` calls at once and goes on when `wait_for` of
    /// them succeed.
    FanOut {
        calls: u32,
        wait_for: u32,
    },
    /// Another attempt is due at `at`.
    RetryScheduled {
        at: SimTime,
    },
    /// The call failed for good; the fallback decides what the job does.
    Fallback {
        fallback: crate::spec::Fallback,
    },
    /// Deadline propagation: the caller stopped waiting, so the job is dropped
    /// before its next step.
    DeadlineDropped,
    /// The job answered; `heard` is false when nobody waits any more (work in vain).
    Answered {
        status: u16,
        degraded: bool,
        heard: bool,
    },
    /// What the user saw, as in [`RequestRecord::outcome`].
    Ended {
        outcome: &'static str,
        status: u16,
    },
}

/// Sees each request as it ends, and every hop of one request if it asks. The
/// simulation does no I/O itself; the CLI's trace writers are observers.
pub trait Observer {
    fn request_ended(&mut self, record: &RequestRecord);
    /// The request (a [`RequestRecord::id`]) whose hops to report; asked once, so
    /// that following one request costs every other job one comparison.
    fn traced_request(&self) -> Option<u64> {
        None
    }
    fn hop(&mut self, _hop: &Hop) {}
}

struct NoObserver;
impl Observer for NoObserver {
    fn request_ended(&mut self, _: &RequestRecord) {}
}

pub struct Simulation<'a> {
    scenario: &'a Scenario,
    horizon: SimTime,
    queue: EventQueue<Event>,
    agenda: Fifo<Immediate>,
    jobs: SlotMap<JobKey, Job>,
    users: Vec<User>,
    open: Option<OpenSource>,
    services: Vec<ServiceState>,
    routers: Vec<replicas::Router>,
    breakers: Vec<Breaker>,
    bulkheads: Vec<bulkheads::BulkheadState>,
    /// The wake-up time last scheduled for each breaker (resilience4j's timers).
    breaker_wakes: Vec<Option<SimTime>>,
    /// `[service][endpoint][step]`: one stream per work step, so that changing one
    /// step's distribution leaves every other step's draws where they were.
    work_rngs: Vec<Vec<Vec<RngStream>>>,
    /// The faults that act on each service, by index into the scenario's faults.
    faults_by_service: Vec<Vec<usize>>,
    /// With a hypothesis, every fault, until the check before the method is met
    /// (until then only those that start before the check act).
    faults_held: Option<Vec<Vec<usize>>>,
    /// One stream per fault, for its error draws and latency samples.
    fault_rngs: Vec<RngStream>,
    /// `[service][endpoint][step][call]`: one stream per call, for retry jitter.
    retry_rngs: Vec<Vec<Vec<Vec<RngStream>>>>,
    /// Retry budgets, one per calling service, target service and budget setting:
    /// gRPC throttles per server name and a Finagle budget belongs to its client,
    /// so every call from one service to another that gives the same budget draws
    /// on one bucket.
    budgets: Vec<Budget>,
    /// `[service][endpoint][step][call]`: which of `budgets` the call draws on.
    budget_of_call: Vec<Vec<Vec<Vec<Option<u32>>>>>,
    /// Whether any call has a budget: most scenarios have none, and every call asks.
    any_budget: bool,
    /// Whether any call propagates its deadline: most scenarios have none, and every
    /// step of every job asks.
    any_deadline: bool,
    stats: UserStats,
    /// Which task each request runs, when the load has several.
    task_rng: RngStream,
    /// Per task, when the load has several (Locust's per-name rows).
    task_stats: Option<Vec<users::TaskStats>>,
    /// Every completed user request, failures included (as Locust counts them).
    latency: LatencyHistogram,
    timeline: TimelineRecorder,
    probes: Option<ProbeRunner>,
    observer: &'a mut dyn Observer,
    /// `observer.traced_request()`, asked once.
    traced: Option<u64>,
    limits: RunLimits,
    stopped_early: Option<String>,
}

/// The budgets one run may spend before it stops and says why
/// (`RunReport::stopped_early`). [`simulate`] uses the named limits of
/// [`crate::limits`]; a caller that needs cheap runs (the fuzzer, tests) lowers them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunLimits {
    pub events_max: u64,
    pub in_flight_max: u64,
}

impl Default for RunLimits {
    fn default() -> Self {
        RunLimits {
            events_max: EVENTS_MAX,
            in_flight_max: IN_FLIGHT_MAX,
        }
    }
}

/// Runs `scenario` with its own seed to the end of its duration.
pub fn simulate(scenario: &Scenario) -> RunReport {
    simulate_observed(scenario, &mut NoObserver)
}

/// As [`simulate`], telling `observer` about every request as it ends.
pub fn simulate_observed(scenario: &Scenario, observer: &mut dyn Observer) -> RunReport {
    let mut simulation = Simulation::new(scenario, observer);
    simulation.run();
    simulation.report()
}

/// As [`simulate`], within `limits` instead of the default ones.
pub fn simulate_with_limits(scenario: &Scenario, limits: RunLimits) -> RunReport {
    let mut observer = NoObserver;
    let mut simulation = Simulation::new(scenario, &mut observer);
    simulation.limits = limits;
    simulation.run();
    simulation.report()
}

impl<'a> Simulation<'a> {
    fn new(scenario: &'a Scenario, observer: &'a mut dyn Observer) -> Self {
        let seed = scenario.seed;
        let horizon = SimTime::ZERO + scenario.duration;
        let mut queue = EventQueue::new();
        let (users, open) = users::spawn(scenario, &mut queue, horizon);
        if scenario.warmup > SimDuration::ZERO && scenario.warmup < scenario.duration {
            queue.schedule(SimTime::ZERO + scenario.warmup, Event::WarmupEnd);
        }
        let work_rngs = per_step_streams(scenario, "work");
        let retry_rngs = per_step(scenario, |service, endpoint, index, step| {
            let name = format!("retry/{}/{}/{index}", service.name, endpoint.name);
            match step {
                // A lone call keeps the stream name it always had.
                crate::spec::Step::Parallel(group) => (0..group.calls.len())
                    .map(|branch| RngStream::new(seed, &format!("{name}/{branch}")))
                    .collect(),
                _ => vec![RngStream::new(seed, &name)],
            }
        });
        let mut budget_keys: Vec<(&str, ServiceId, crate::retry::BudgetSpec)> = Vec::new();
        let budget_of_call = per_step(scenario, |service, _, _, step| {
            step.calls()
                .iter()
                .map(|call| {
                    let spec = call.retry.and_then(|r| r.budget)?;
                    let key = (service.name.as_str(), call.target.service, spec);
                    let index = budget_keys
                        .iter()
                        .position(|known| *known == key)
                        .unwrap_or_else(|| {
                            budget_keys.push(key);
                            budget_keys.len() - 1
                        });
                    Some(index as u32)
                })
                .collect()
        });
        let budgets: Vec<Budget> = budget_keys
            .iter()
            .map(|&(_, _, spec)| Budget::new(spec))
            .collect();
        let fault_rngs = scenario
            .faults
            .iter()
            .enumerate()
            .map(|(index, fault)| {
                let service = &scenario.service(fault.service).name;
                RngStream::new(seed, &format!("fault/{index}/{service}"))
            })
            .collect();
        let mut faults_by_service = vec![Vec::new(); scenario.services.len()];
        for (index, fault) in scenario.faults.iter().enumerate() {
            faults_by_service[fault.service.0 as usize].push(index);
        }
        // Chaos Toolkit runs the method only once the steady state is met before it
        // (`run_gate_hypothesis`). With a hypothesis, the faults from the
        // before-check on are the method: they wait for the check to be met, and
        // never act if it fails. Faults from earlier are the state the system is in
        // when the experiment starts, and the check sees them.
        let faults_held = scenario.hypothesis.as_ref().map(|hypothesis| {
            let before_method = faults_by_service
                .iter()
                .map(|faults| {
                    faults
                        .iter()
                        .copied()
                        .filter(|&index| scenario.faults[index].from < hypothesis.before_at)
                        .collect()
                })
                .collect();
            std::mem::replace(&mut faults_by_service, before_method)
        });
        let breakers: Vec<Breaker> = scenario
            .breakers
            .iter()
            .map(|spec| Breaker::new(&spec.kind, SimTime::ZERO))
            .collect();
        let breaker_wakes = vec![None; breakers.len()];
        for (index, service) in scenario.services.iter().enumerate() {
            if let Some(outlier) = service.outlier {
                queue.schedule(
                    SimTime::ZERO + outlier.interval,
                    Event::OutlierSweep {
                        service: ServiceId(index as u32),
                    },
                );
            }
        }
        let timeline = TimelineRecorder::new(scenario, &mut queue);
        let probes = scenario
            .hypothesis
            .as_ref()
            .map(|hypothesis| ProbeRunner::new(scenario, hypothesis, &mut queue));
        Simulation {
            scenario,
            horizon,
            queue,
            agenda: Fifo::new(),
            jobs: SlotMap::with_key(),
            users,
            open,
            services: scenario
                .services
                .iter()
                .map(|service| ServiceState::new(service.replicas))
                .collect(),
            routers: scenario
                .services
                .iter()
                .map(|service| replicas::Router::new(seed, &service.name))
                .collect(),
            breakers,
            bulkheads: scenario
                .bulkheads
                .iter()
                .map(|_| Default::default())
                .collect(),
            breaker_wakes,
            work_rngs,
            faults_by_service,
            faults_held,
            fault_rngs,
            retry_rngs,
            any_budget: !budgets.is_empty(),
            budgets,
            budget_of_call,
            any_deadline: scenario.services.iter().any(|service| {
                service.endpoints.iter().any(|endpoint| {
                    endpoint
                        .steps
                        .iter()
                        .any(|step| step.calls().iter().any(|call| call.propagate_deadline))
                })
            }),
            stats: UserStats::default(),
            task_rng: RngStream::new(seed, "load/tasks"),
            task_stats: (scenario.load.tasks.len() > 1).then(|| {
                scenario
                    .load
                    .tasks
                    .iter()
                    .map(|_| users::TaskStats::default())
                    .collect()
            }),
            latency: LatencyHistogram::new(),
            timeline,
            probes,
            traced: observer.traced_request(),
            observer,
            limits: RunLimits::default(),
            stopped_early: None,
        }
    }

    fn run(&mut self) {
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
            if self.queue.events_delivered() > self.limits.events_max {
                self.stopped_early = Some(format!(
                    "stopped at {now} after {} events (the event budget)",
                    self.limits.events_max
                ));
                break;
            }
            // Every transition is kept for the report: a breaker that flaps on every
            // call would otherwise grow it with the run. Counted now and then, as
            // the sum walks every breaker.
            if self.queue.events_delivered().is_multiple_of(4096) {
                let transitions: usize = self
                    .breakers
                    .iter()
                    .map(|breaker| breaker.transitions().len())
                    .sum();
                if transitions as u64 > TRANSITIONS_MAX {
                    self.stopped_early = Some(format!(
                        "stopped at {now}: breakers changed state more than {TRANSITIONS_MAX} times (the transitions limit; a breaker that opens and closes on every call?)"
                    ));
                    break;
                }
            }
            if let Some(upcoming) = self.queue.take_new_slot() {
                warm(&self.users, upcoming);
            }
            self.dispatch(event);
            while let Some(immediate) = self.agenda.pop_front() {
                match immediate {
                    Immediate::Begin(job) => self.begin(job),
                    Immediate::PermitGranted { job, ticket } => {
                        let call = self.current_call(job);
                        self.connect_call(job, call, ticket);
                    }
                    Immediate::Deliver {
                        parent,
                        answer,
                        from,
                    } => self.deliver(parent, answer, from),
                }
            }
            // Memory grows with what is in flight: arrivals far beyond what the
            // services serve, or calls left hanging forever, would grow it until the
            // machine runs out.
            if let Some((what, hint)) = self.over_in_flight_limit() {
                self.stopped_early = Some(format!(
                    "stopped at {now}: more than {} {what} at once (the in-flight limit; {hint})",
                    self.limits.in_flight_max
                ));
                break;
            }
        }
        let end = self.end_time();
        self.close_last_window(end);
        self.finish_probes();
    }

    fn dispatch(&mut self, event: Event) {
        match event {
            Event::UserIssue { user } => self.user_issue(user),
            Event::UserTimeout { user, seq } => self.client_timed_out(Client::User { user, seq }),
            Event::OpenArrival => self.open_arrival(),
            Event::OpenTimeout { key } => self.client_timed_out(Client::Open(key)),
            Event::WarmupEnd => self.end_warmup(),
            Event::Arrive(job) => self.arrive(job),
            Event::WorkDone(job) => {
                self.jobs[job].step += 1;
                self.advance(job);
            }
            Event::HangDone { job, status } => self.finish(job, Answer::error(status)),
            Event::DelayDone(job) => self.advance(job),
            Event::PermitWaitOver { job, number } => self.permit_wait_over(job, number),
            Event::RetryDue(job) => self.retry_due(job),
            Event::CallTimeout {
                job,
                epoch,
                connecting,
            } => self.call_timed_out(job, epoch, connecting),
            Event::WindowEnd => self.close_window(),
            Event::OutlierSweep { service } => self.outlier_sweep(service),
            Event::BreakerWake { breaker } => self.breaker_woke(breaker),
            Event::ProbePhase { after } => self.start_probe_phase(after),
            Event::ProbeTimeout { seq } => self.probe_timed_out(seq),
        }
    }

    fn now(&self) -> SimTime {
        self.queue.now()
    }

    /// Whether the job works for the request being traced.
    fn traced(&self, key: JobKey) -> bool {
        self.traced
            .is_some_and(|request| self.jobs[key].request == request)
    }

    /// Reports a hop of the traced request; a no-op for every other job.
    fn hop(&mut self, key: JobKey, kind: HopKind) {
        if self.traced(key) {
            let job = &self.jobs[key];
            let hop = Hop {
                at: self.now(),
                endpoint: job.endpoint,
                depth: job.depth,
                replica: job.replica,
                kind,
            };
            self.observer.hop(&hop);
        }
    }

    /// What is over the in-flight limit, if anything: jobs in the services
    /// (abandoned ones included), or open-loop requests waiting for an answer, which
    /// may have no job at all (sent into a blackhole). Closed-loop users wait for
    /// one request each, so USERS_MAX bounds them.
    fn over_in_flight_limit(&self) -> Option<(&'static str, &'static str)> {
        let max = self.limits.in_flight_max;
        let open_waiting = self
            .open
            .as_ref()
            .map_or(0, |source| source.outstanding.len());
        if self.jobs.len() as u64 > max {
            Some((
                "requests in the services, calls between them included",
                "arrivals far beyond what the services can serve, or calls that never end?",
            ))
        } else if open_waiting as u64 > max {
            Some((
                "open-loop requests waiting for an answer",
                "arrivals far beyond what the services can serve, or sent where nothing answers?",
            ))
        } else {
            None
        }
    }

    /// The end of the run: its horizon, or where it stopped early.
    fn end_time(&self) -> SimTime {
        match self.stopped_early {
            Some(_) => self.queue.now(),
            None => self.horizon,
        }
    }

    /// Sends a request from outside the services (a user, a probe) to `target`,
    /// through its balancer. Returns why it could not connect, if it could not.
    fn send_request(&mut self, target: EndpointRef, parent: Parent) -> Option<Unreachable> {
        let replica = self.route(target.service);
        if let Some(unreachable) = self.connection_fault(target.service, replica) {
            self.unroute(target.service, replica);
            return Some(unreachable);
        }
        let request = self.request_of(parent);
        let job = Job::new(target, replica, parent, self.now()).serving(request, 0);
        let job = self.jobs.insert(job);
        self.arrive(job);
        None
    }

    /// Sends the answer of a finished (or rejected) job to whoever waits for it.
    fn deliver(&mut self, parent: Parent, answer: Answer, from: Option<ServiceId>) {
        let heard = match parent {
            Parent::User { user, seq } => self.client_answered(Client::User { user, seq }, answer),
            Parent::Open { key } => self.client_answered(Client::Open(key), answer),
            Parent::Call { job, epoch } => self.call_answered(job, epoch, answer),
            Parent::Branch { job, epoch } => self.branch_answered(job, epoch, answer),
            Parent::Probe { seq } => self.probe_answered(seq, answer),
        };
        if let (false, Some(from)) = (heard, from) {
            self.services[from.0 as usize].abandoned += 1;
        }
    }
}

/// Reads the state of the users about to issue among the `upcoming` events. With
/// thousands of users taking turns, each one's state has left the cache by its next
/// turn: fetched one event at a time, every fetch stalls its event, but fetched
/// together for a slot of events the fetches overlap. (Jobs, fewer and reused
/// often, gained nothing from it.)
fn warm<'e>(users: &[User], upcoming: impl Iterator<Item = &'e Event>) {
    for event in upcoming {
        if let Event::UserIssue { user } = *event {
            if let Some(user) = users.get(user as usize) {
                user.touch();
            }
        }
    }
}

/// A value for every step of every endpoint of every service, `[service][endpoint][step]`.
fn per_step<'s, T>(
    scenario: &'s Scenario,
    mut make: impl FnMut(
        &'s crate::spec::Service,
        &'s crate::spec::Endpoint,
        usize,
        &'s crate::spec::Step,
    ) -> T,
) -> Vec<Vec<Vec<T>>> {
    scenario
        .services
        .iter()
        .map(|service| {
            service
                .endpoints
                .iter()
                .map(|endpoint| {
                    endpoint
                        .steps
                        .iter()
                        .enumerate()
                        .map(|(index, step)| make(service, endpoint, index, step))
                        .collect()
                })
                .collect()
        })
        .collect()
}

/// One stream per step, named `{purpose}/{service}/{endpoint}/{step}`, so that
/// changing one step leaves every other step's draws where they were.
fn per_step_streams(scenario: &Scenario, purpose: &str) -> Vec<Vec<Vec<RngStream>>> {
    per_step(scenario, |service, endpoint, index, _| {
        RngStream::new(
            scenario.seed,
            &format!("{purpose}/{}/{}/{index}", service.name, endpoint.name),
        )
    })
}

/// A duration that is a share of a window, for time averages.
fn per_window(area_ns: u128, width: SimDuration) -> f64 {
    area_ns as f64 / width.as_nanos().max(1) as f64
}
