//! The validated description of a world: what the engine runs.
//!
//! Everything here has already been checked (ids resolve, counts are positive,
//! durations are finite), so the engine asserts rather than reports. Building these
//! values from a file, with diagnostics, is the CLI's job.

use sim_core::{Distribution, SimDuration, SimTime};

/// Index into [`Scenario::services`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServiceId(pub u32);

/// Index into [`Scenario::breakers`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BreakerId(pub u32);

/// Index into [`Scenario::bulkheads`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BulkheadId(pub u32);

/// A bulkhead: at most `max_concurrent` calls through it at once (per attempt).
#[derive(Clone, Debug, PartialEq)]
pub struct BulkheadSpec {
    pub name: String,
    pub max_concurrent: u32,
    pub kind: BulkheadKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BulkheadKind {
    /// resilience4j's `Bulkhead`: a call that finds every permit taken waits up to
    /// `max_wait` for one, then is rejected.
    Semaphore { max_wait: SimDuration },
    /// resilience4j's `ThreadPoolBulkhead` (and Hystrix's thread pools): a dedicated
    /// pool of `max_concurrent` threads for the dependency, with a queue of
    /// `queue_capacity` calls; a call that finds the queue full is rejected at once,
    /// and a queued call waits as long as it takes.
    ThreadPool { queue_capacity: u32 },
}

/// One endpoint of one service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EndpointRef {
    pub service: ServiceId,
    pub endpoint: u32,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    pub name: String,
    pub seed: u64,
    pub duration: SimDuration,
    /// Width of the report's time windows.
    pub window: SimDuration,
    /// Service statistics count only jobs that arrive from this time on, so that
    /// steady-state estimates are not biased by the empty start.
    pub warmup: SimDuration,
    pub load: Load,
    pub services: Vec<Service>,
    pub breakers: Vec<BreakerSpec>,
    pub bulkheads: Vec<BulkheadSpec>,
    pub faults: Vec<Fault>,
    pub hypothesis: Option<Hypothesis>,
}

impl Scenario {
    pub fn service(&self, id: ServiceId) -> &Service {
        &self.services[id.0 as usize]
    }

    pub fn endpoint(&self, target: EndpointRef) -> &Endpoint {
        &self.service(target.service).endpoints[target.endpoint as usize]
    }

    /// `service/endpoint`, as scenario files spell it.
    pub fn endpoint_path(&self, target: EndpointRef) -> String {
        let service = self.service(target.service);
        format!(
            "{}/{}",
            service.name, service.endpoints[target.endpoint as usize].name
        )
    }
}

/// Where requests come from, and what they ask for.
#[derive(Clone, Debug, PartialEq)]
pub struct Load {
    pub model: LoadModel,
    /// What each request asks for: one task is picked per request, in proportion to
    /// the weights (Locust's weighted `@task`s). At least one.
    pub tasks: Vec<Task>,
    /// Client-side timeout; `None` waits forever, as Locust's HttpSession does.
    pub timeout: Option<SimDuration>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Task {
    pub target: EndpointRef,
    /// At least 1.
    pub weight: u32,
}

impl Load {
    /// A load whose every request asks for `target`.
    pub fn single(model: LoadModel, target: EndpointRef, timeout: Option<SimDuration>) -> Self {
        Load {
            model,
            tasks: vec![Task { target, weight: 1 }],
            timeout,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum LoadModel {
    /// Closed-loop users in the manner of Locust: each user sends a request, waits
    /// for the answer, waits its think time, and starts again; no wait before the
    /// first request.
    Closed {
        users: u32,
        /// Users started per second, in Locust's batches (see [`spawn_time`]).
        spawn_rate: f64,
        /// Think time after each answer.
        wait: Think,
    },
    /// Open-loop arrivals: a Poisson process at `rate` requests per second,
    /// whatever the answers; with a `schedule`, the rate changes over time (a
    /// non-homogeneous Poisson process).
    Open {
        rate: f64,
        schedule: Vec<RateChange>,
    },
}

/// At `at`, the arrival rate starts moving to `rate`, in a straight line over `ramp`
/// (at once when `ramp` is zero). Changes are in time order and do not overlap.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateChange {
    pub at: SimTime,
    pub rate: f64,
    pub ramp: SimDuration,
}

/// The arrival rate at `now`: `base` until the first change, then each change in turn.
pub fn rate_at(base: f64, schedule: &[RateChange], now: SimTime) -> f64 {
    let mut rate = base;
    for change in schedule {
        if now < change.at {
            break;
        }
        let into = now.since(change.at);
        rate = if change.ramp == SimDuration::ZERO || into >= change.ramp {
            change.rate
        } else {
            let done = into.as_nanos() as f64 / change.ramp.as_nanos() as f64;
            rate + (change.rate - rate) * done
        };
    }
    rate
}

/// Locust's wait times.
#[derive(Clone, Debug, PartialEq)]
pub enum Think {
    /// A sampled think time: Locust's `between(low, high)` is
    /// [`Distribution::Uniform`], its `constant(w)` is [`Distribution::Constant`].
    Sample(Distribution),
    /// Locust's `constant_pacing(w)` (and `constant_throughput(r)` = pacing 1/r): wait
    /// what is left of `w` after the task that just ran, so that tasks start every
    /// `w` at most.
    Pacing(SimDuration),
}

impl Load {
    /// Closed-loop users, or zero for open-loop load.
    pub fn users(&self) -> u32 {
        match self.model {
            LoadModel::Closed { users, .. } => users,
            LoadModel::Open { .. } => 0,
        }
    }
}

/// Locust's dispatcher adds `max(1, floor(rate))` users per step, the steps spaced
/// `batch / rate` seconds apart: rate 10 starts 10 users every second, rate 0.5 one
/// user every two seconds.
pub fn spawn_time(spawn_rate: f64, user: u32) -> SimTime {
    let batch = spawn_rate.floor().max(1.0);
    let step_secs = batch / spawn_rate;
    let step = (f64::from(user) / batch).floor();
    SimTime::ZERO + SimDuration::from_secs_f64(step * step_secs)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Capacity {
    Bounded(u32),
    /// As many as arrive: goroutine-per-request servers, or a queue with no limit.
    Unbounded,
}

impl Capacity {
    pub fn admits(self, occupied: u64) -> bool {
        match self {
            Capacity::Bounded(limit) => occupied < u64::from(limit),
            Capacity::Unbounded => true,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Service {
    pub name: String,
    /// Per replica: each replica is a pod with its own pool and queue.
    pub workers: Capacity,
    /// Requests that may wait for a worker; when full, new ones are rejected (503).
    pub queue: Capacity,
    pub endpoints: Vec<Endpoint>,
    /// Pods behind the service's address (at least 1).
    pub replicas: u32,
    /// How a request to the service picks a replica.
    pub balancer: Balancer,
    pub outlier: Option<OutlierDetection>,
}

/// Load-balancing policies, as Envoy and kube-proxy offer them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Balancer {
    RoundRobin,
    Random,
    /// The replica with the fewest requests sent to it and not yet answered; ties go
    /// to the first such replica after the last one picked.
    LeastOutstanding,
}

impl Balancer {
    pub fn as_str(self) -> &'static str {
        match self {
            Balancer::RoundRobin => "round_robin",
            Balancer::Random => "random",
            Balancer::LeastOutstanding => "least_outstanding",
        }
    }
}

/// Envoy's passive outlier detection, consecutive-5xx detector: a replica that fails
/// `consecutive_5xx` calls in a row (5xx answers, timeouts, refused connections) is
/// taken out of balancing at once, for `base_ejection_time` times the number of
/// times it has been ejected (capped at `max_ejection_time`); it returns at the first
/// `interval` sweep after that time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OutlierDetection {
    pub consecutive_5xx: u32,
    pub interval: SimDuration,
    pub base_ejection_time: SimDuration,
    pub max_ejection_time: SimDuration,
    /// At most this share of replicas ejected at once, except that one replica may
    /// always be ejected (as Envoy does).
    pub max_ejection_percent: f64,
}

impl OutlierDetection {
    /// The longest an ejection lasts: `max_ejection_time`, or the base if that is
    /// longer (Envoy's default cap is 300 s "or base, whichever larger"; an explicit
    /// cap below the base is refused when the scenario loads).
    pub fn ejection_cap(&self) -> SimDuration {
        self.max_ejection_time.max(self.base_ejection_time)
    }

    /// Envoy's defaults.
    pub fn envoy_defaults() -> Self {
        OutlierDetection {
            consecutive_5xx: 5,
            interval: SimDuration::from_secs(10),
            base_ejection_time: SimDuration::from_secs(30),
            max_ejection_time: SimDuration::from_secs(300),
            max_ejection_percent: 10.0,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Endpoint {
    pub name: String,
    pub steps: Vec<Step>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    /// Hold the worker for a sampled time.
    Work(Distribution),
    /// Call another endpoint; the worker is held while waiting (thread per request).
    Call(Call),
    /// Call several endpoints at once and go on when enough have answered.
    Parallel(FanOut),
}

impl Step {
    /// The calls this step makes: none, one, or a fan-out's.
    pub fn calls(&self) -> &[Call] {
        match self {
            Step::Work(_) => &[],
            Step::Call(call) => std::slice::from_ref(call),
            Step::Parallel(group) => &group.calls,
        }
    }
}

/// A fan-out: every call starts at once, each with its own timeout, retries,
/// breaker and fallback; the handler goes on when `wait_for` of them have succeeded
/// (a call that fell back to `degraded` counts, and marks the answer degraded). The
/// calls still running then are left to finish, unheard. When so many have failed
/// that `wait_for` successes are out of reach, the group's `fallback` decides.
#[derive(Clone, Debug, PartialEq)]
pub struct FanOut {
    pub calls: Vec<Call>,
    /// From 1 to the number of calls.
    pub wait_for: u32,
    pub fallback: Fallback,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Call {
    pub target: EndpointRef,
    /// Per-attempt timeout; `None` waits for the answer however long it takes.
    pub timeout: Option<SimDuration>,
    /// How long a connection attempt to an unreachable (blackholed) target waits
    /// before failing; `None` leaves it to `timeout`.
    pub connect_timeout: Option<SimDuration>,
    pub breaker: Option<BreakerId>,
    /// Further attempts after a failed one; each attempt asks the breaker.
    pub retry: Option<crate::retry::RetryPolicy>,
    /// Each attempt holds a permit of this bulkhead (inside the breaker).
    pub bulkhead: Option<BulkheadId>,
    pub fallback: Fallback,
    /// Whether the retries run inside the breaker or outside it.
    pub order: PolicyOrder,
    /// The callee learns the caller's deadline (as gRPC propagates it) and drops the
    /// work once the caller has stopped waiting, instead of finishing it for nobody.
    pub propagate_deadline: bool,
}

/// How retry and breaker nest on a call. The bulkhead is always per attempt, inside.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum PolicyOrder {
    /// Each attempt asks the breaker and is recorded by it (resilience4j's default
    /// aspect order, and the seeds' resilient client); a rejection ends the retries,
    /// as in that client, unless the retry policy names the `rejected` class.
    #[default]
    RetryOutsideBreaker,
    /// The breaker admits the whole sequence of attempts once and records one result:
    /// success if any attempt succeeded, its duration the whole sequence's.
    BreakerOutsideRetry,
}

/// What a handler does when a call fails (error status, timeout, rejection, open breaker).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fallback {
    /// Abort the handler and answer this status (the seeds' v1 gateway answers 500).
    Fail { status: u16 },
    /// Abort the handler and pass the failure on: the callee's status, 504 for a
    /// timeout, 503 for a rejection or an open breaker.
    Propagate,
    /// Carry on without the answer; the final answer is 200 but marked degraded.
    Degraded,
}

#[derive(Clone, Debug, PartialEq)]
pub struct BreakerSpec {
    pub name: String,
    pub kind: BreakerKind,
    /// Which outcomes of the calls it admits count as failures.
    pub failure_on: crate::breaker::FailureOn,
}

#[derive(Clone, Debug, PartialEq)]
pub enum BreakerKind {
    /// gobreaker: trips after consecutive failures, a number of half-open trials.
    Consecutive(crate::breaker::ConsecutiveSettings),
    /// resilience4j: failure and slow-call rates over a count or time window.
    Window(crate::breaker::WindowSettings),
    /// Hystrix 1.5: error percentage over a rolling window, decided on health
    /// snapshots, a sleep window and a single trial.
    Hystrix(crate::breaker::HystrixSettings),
}

impl BreakerSpec {
    /// A gobreaker-style breaker: trips after `failures` consecutive failures in
    /// closed state, stays open `open_for`, then admits `half_open_calls` trials, all
    /// of which must succeed for it to close.
    pub fn consecutive(
        name: &str,
        failures: u32,
        open_for: SimDuration,
        half_open_calls: u32,
        interval: Option<SimDuration>,
    ) -> Self {
        BreakerSpec {
            name: name.to_string(),
            kind: BreakerKind::Consecutive(crate::breaker::ConsecutiveSettings {
                trip: crate::breaker::TripRule::ConsecutiveFailures(failures),
                open_for,
                max_requests: half_open_calls,
                interval,
            }),
            failure_on: crate::breaker::FailureOn::default(),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Fault {
    pub service: ServiceId,
    pub kind: FaultKind,
    pub from: SimTime,
    /// `None`: until the end of the run.
    pub until: Option<SimTime>,
    /// Repeating faults (Litmus' chaos interval): an episode starts at `from` and
    /// every `every` after it, and lasts `lasting`, until `until`.
    pub repeat: Option<Repeat>,
    /// The fault hits replicas `0..replicas_hit` of its service (Litmus'
    /// `PODS_AFFECTED_PERC`, resolved to a count).
    pub replicas_hit: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Repeat {
    pub every: SimDuration,
    pub lasting: SimDuration,
}

impl Fault {
    pub fn active_at(&self, now: SimTime) -> bool {
        self.into_episode(now).is_some()
    }

    /// Whether the fault acts on this replica of its service at all.
    pub fn hits(&self, replica: u32) -> bool {
        replica < self.replicas_hit
    }

    /// How long ago the current episode began, or `None` outside every episode.
    pub fn into_episode(&self, now: SimTime) -> Option<SimDuration> {
        if now < self.from || self.until.is_some_and(|until| now >= until) {
            return None;
        }
        let since = now.since(self.from);
        match self.repeat {
            None => Some(since),
            Some(Repeat { every, lasting }) => {
                let into = SimDuration(since.as_nanos() % every.as_nanos());
                (into < lasting).then_some(into)
            }
        }
    }

    /// The episodes that begin before `horizon`, as `[start, end)` (ends clipped to
    /// `until` and to `horizon`), for charts and reports.
    pub fn episodes(&self, horizon: SimTime) -> Vec<(SimTime, SimTime)> {
        let end = self.until.map_or(horizon, |until| until.min(horizon));
        match self.repeat {
            None => {
                if self.from < end {
                    vec![(self.from, end)]
                } else {
                    Vec::new()
                }
            }
            Some(Repeat { every, lasting }) => {
                let mut episodes = Vec::new();
                let mut start = self.from;
                while start < end {
                    episodes.push((start, (start + lasting).min(end)));
                    start += every;
                }
                episodes
            }
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum FaultKind {
    /// Every request that starts while the fault is active holds its worker for
    /// `hold`, then answers `status` (the seeds' `SIMULATE_FAILURE`: 30 s, then 408).
    Hang { hold: SimDuration, status: u16 },
    /// Each request that starts while the fault is active fails at once with
    /// `status`, with probability `probability` (an error-rate injection).
    Error { probability: f64, status: u16 },
    /// Each request that starts while the fault is active waits an extra time drawn
    /// uniformly from [latency - jitter, latency + jitter] before its steps, none
    /// when the draw is below zero (Litmus pod-network-latency is netem's `delay L
    /// J`: a packet whose draw lands in the past goes at once).
    Latency {
        latency: SimDuration,
        jitter: SimDuration,
    },
    /// The service is gone and its address refuses connections: calls fail at once.
    Kill,
    /// The service is gone and nothing answers at its address (a Kubernetes Service
    /// with no endpoints): calls fail only when the caller's connect timeout, or
    /// failing that its timeout, expires.
    Blackhole,
    /// Requests that start while the fault is active hold their worker and never
    /// answer: only the callers' timeouts end them.
    HangForever,
    /// The replica is restarted at the start of each episode: it refuses connections
    /// for `down_for` (requests already inside finish, as with a graceful shutdown),
    /// then runs cold, its work `cold_factor` times slower, for `cold_start`.
    Restart {
        down_for: SimDuration,
        cold_start: SimDuration,
        cold_factor: f64,
    },
    /// CPU starvation: work steps take `factor` times longer.
    Slowdown { factor: f64 },
}

impl FaultKind {
    /// The range a latency fault's delay lies in, as people read it: the low end
    /// is zero when the jitter exceeds the latency.
    pub fn latency_range(latency: SimDuration, jitter: SimDuration) -> (SimDuration, SimDuration) {
        (
            SimDuration(latency.as_nanos().saturating_sub(jitter.as_nanos())),
            latency + jitter,
        )
    }

    /// The factor by which work slows `into` an episode of this fault.
    pub fn work_factor(self, into: SimDuration) -> f64 {
        match self {
            FaultKind::Slowdown { factor } => factor,
            FaultKind::Restart {
                down_for,
                cold_start,
                cold_factor,
            } if into >= down_for && into < down_for + cold_start => cold_factor,
            _ => 1.0,
        }
    }
}

/// A Chaos Toolkit steady-state hypothesis: probes checked before the method (the
/// fault timeline) and after it.
#[derive(Clone, Debug, PartialEq)]
pub struct Hypothesis {
    pub title: String,
    pub before_at: SimTime,
    pub after_at: SimTime,
    pub probes: Vec<Probe>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Probe {
    pub name: String,
    pub kind: ProbeKind,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ProbeKind {
    /// One request from outside the load; its status must be one of `statuses`
    /// (a degraded answer is a 200).
    Http {
        target: EndpointRef,
        statuses: Vec<u16>,
        timeout: Option<SimDuration>,
    },
    /// Share of user requests completed in the last `window` that did not fail
    /// (ok or degraded), within [min, max].
    SuccessRate {
        window: SimDuration,
        min: f64,
        max: f64,
    },
    /// The `quantile` of user latency over the last `window` is at most `max`.
    Latency {
        window: SimDuration,
        quantile: f64,
        max: SimDuration,
    },
    /// The breaker is in this state (as a status endpoint would report it).
    BreakerState {
        breaker: BreakerId,
        state: crate::breaker::BreakerState,
    },
}

impl Hypothesis {
    /// The longest look-back of any statistics probe.
    pub fn window_max(&self) -> SimDuration {
        self.probes
            .iter()
            .map(|probe| match probe.kind {
                ProbeKind::SuccessRate { window, .. } | ProbeKind::Latency { window, .. } => window,
                _ => SimDuration::ZERO,
            })
            .max()
            .unwrap_or(SimDuration::ZERO)
    }
}
