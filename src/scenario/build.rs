//! From the file as written to the world the engine runs: resolves names to ids and
//! checks every value's meaning, collecting all problems with their positions.

use std::collections::BTreeMap;
use std::ops::Range;

use models::breaker::BreakerState;
use models::limits::{
    CAPACITY_MAX, DURATION_MAX_SECS, ITEMS_MAX, REPLICAS_MAX, REPLICAS_TOTAL_MAX,
    TIMELINE_CELLS_MAX, USERS_MAX, WINDOWS_MAX,
};
use models::retry::{Backoff, BudgetSpec, Jitter, RetryOn, RetryPolicy};
use models::spec::{
    Balancer, BreakerId, BulkheadId, BulkheadKind, BulkheadSpec, Call, Capacity, Endpoint,
    EndpointRef, Fallback, FanOut, Fault, FaultKind, Hypothesis, Load, LoadModel, OutlierDetection,
    PolicyOrder, Probe, ProbeKind, RateChange, Repeat, Scenario, Service, ServiceId, Step, Task,
    Think,
};
use sim_core::{Distribution, SimDuration, SimTime};
use toml::Spanned;

use super::raw::{
    RawBudget, RawBulkhead, RawCapacity, RawDistribution, RawDuration, RawFallback, RawFault,
    RawFile, RawHold, RawHypothesis, RawLoad, RawOutlier, RawProbe, RawRateChange, RawRetry,
    RawService, RawStep, RawVariant, RawWait, RawWaitFor,
};
use crate::diagnostic::Diagnostic;

mod breakers;

/// Report windows when the file does not choose one.
const WINDOW_DEFAULT: SimDuration = SimDuration::from_secs(10);
/// gobreaker's defaults, used when a consecutive breaker leaves them out.
const GOBREAKER_FAILURES_DEFAULT: u32 = 6;
const GOBREAKER_TIMEOUT_DEFAULT: SimDuration = SimDuration::from_secs(60);
const GOBREAKER_MAX_REQUESTS_DEFAULT: u32 = 1;
/// Attempts one call may make, first included.
const RETRY_ATTEMPTS_MAX: u64 = 100;
/// The first backoff when `retry.base` is left out (gRPC's initial backoff is 1 s,
/// resilience4j's wait 500 ms; a tenth of a second is the common client default).
const RETRY_BASE_DEFAULT: SimDuration = SimDuration::from_millis(100);
/// resilience4j's `slidingWindowSize` default.
const R4J_WINDOW_DEFAULT: u32 = 100;
/// What a handler answers when a call fails and the step names no fallback.
const STATUS_HANDLER_ERROR: u16 = 500;

pub struct Built {
    pub scenario: Scenario,
    pub description: Option<String>,
    /// Applied by `variants`, which rewrites the document once per variant.
    pub variants: Vec<RawVariant>,
}

pub fn build(raw: RawFile) -> Result<Built, Vec<Diagnostic>> {
    let mut checker = Checker::default();
    let scenario = checker.scenario(raw);
    match scenario {
        Some(built) if checker.errors.is_empty() => Ok(built),
        _ => Err(checker.errors),
    }
}

#[derive(Default)]
struct Checker {
    errors: Vec<Diagnostic>,
}

/// Names of services and their endpoints, to resolve `service/endpoint` before the
/// services themselves are built.
struct Names {
    services: Vec<(String, Vec<String>)>,
    breakers: Vec<String>,
    bulkheads: Vec<String>,
}

impl Names {
    fn service(&self, name: &str) -> Option<ServiceId> {
        self.services
            .iter()
            .position(|(service, _)| service == name)
            .map(|index| ServiceId(index as u32))
    }
}

impl Checker {
    fn error(&mut self, span: Range<usize>, message: impl Into<String>) {
        self.errors.push(Diagnostic::at(span, message));
    }

    fn scenario(&mut self, raw: RawFile) -> Option<Built> {
        let header = raw.scenario;
        let name = header.name.get_ref().trim().to_string();
        if name.is_empty() {
            self.error(
                header.name.span(),
                "scenario.name: expected a non-empty name",
            );
        }
        let seed = self.non_negative(&header.seed, "scenario.seed");
        let duration = self.duration_in(&header.duration, "scenario.duration", true);
        let window = match &header.window {
            Some(window) => self.duration_in(window, "scenario.window", true),
            None => WINDOW_DEFAULT,
        };
        let warmup = match &header.warmup {
            Some(warmup) => {
                let value = self.duration_in(warmup, "scenario.warmup", false);
                if value >= duration {
                    self.error(warmup.span(), format!("scenario.warmup: {value} leaves nothing of the {duration} run to measure"));
                }
                value
            }
            None => SimDuration::ZERO,
        };
        if window > SimDuration::ZERO && duration.as_nanos() / window.as_nanos() > WINDOWS_MAX {
            let span = header
                .window
                .as_ref()
                .map_or(header.duration.span(), Spanned::span);
            self.error(
                span,
                format!("scenario.window: {window} makes more than {WINDOWS_MAX} windows over {duration}; choose a wider window"),
            );
        } else if window > SimDuration::ZERO {
            // Every window holds a busy and a queue mean per service and a state per
            // breaker: many windows of many services fill gigabytes.
            let windows = duration.as_nanos().div_ceil(window.as_nanos()).max(1);
            let columns = 2 * raw.services.len() as u64 + raw.breakers.len() as u64;
            let cells = windows.saturating_mul(columns);
            if cells > TIMELINE_CELLS_MAX {
                let span = header
                    .window
                    .as_ref()
                    .map_or(header.duration.span(), Spanned::span);
                self.error(
                    span,
                    format!("scenario.window: {window} makes {windows} windows over {duration}, each with {columns} numbers for the services and breakers: {cells} in all, over the limit of {TIMELINE_CELLS_MAX}; choose a wider window"),
                );
            }
        }

        self.count_items(raw.services.len(), raw.load.kind.span(), "services");
        let names = Names {
            services: raw
                .services
                .iter()
                .map(|(name, service)| {
                    let endpoints = service.endpoints.keys().cloned().collect();
                    (name.clone(), endpoints)
                })
                .collect(),
            breakers: raw.breakers.keys().cloned().collect(),
            bulkheads: raw.bulkheads.keys().cloned().collect(),
        };
        for (service, raw_service) in &raw.services {
            self.name_is_plain(service, raw_service.workers.span(), "service");
            for (endpoint, raw_endpoint) in &raw_service.endpoints {
                self.name_is_plain(endpoint, raw_endpoint.steps.span(), "endpoint");
            }
        }

        let load = self.load(&raw.load, &names);
        let services: Vec<Service> = raw
            .services
            .iter()
            .map(|(name, service)| self.service(name, service, &names))
            .collect();
        self.replicas_in_all(&raw.services, &services);
        let breakers = raw
            .breakers
            .iter()
            .map(|(name, breaker)| self.breaker(name, breaker))
            .collect();
        let bulkheads = raw
            .bulkheads
            .iter()
            .map(|(name, bulkhead)| self.bulkhead(name, bulkhead))
            .collect();
        self.count_items(raw.faults.len(), raw.load.kind.span(), "faults");
        let faults = raw
            .faults
            .iter()
            .enumerate()
            .filter_map(|(index, fault)| self.fault(index, fault, &names, &services))
            .collect::<Vec<_>>();
        let hypothesis = raw
            .hypothesis
            .as_ref()
            .and_then(|hypothesis| self.hypothesis(hypothesis, &names, &faults, duration));
        let load = load?;
        let scenario = Scenario {
            name,
            seed,
            duration,
            window,
            warmup,
            load,
            services,
            breakers,
            bulkheads,
            faults,
            hypothesis,
        };
        if self.errors.is_empty() {
            self.no_call_cycles(&scenario, &raw.services);
        }
        Some(Built {
            scenario,
            description: header.description,
            variants: raw.variants,
        })
    }

    fn load(&mut self, load: &RawLoad, names: &Names) -> Option<Load> {
        let kind = load.kind.get_ref().as_str();
        let (allowed, model): (&[&str], Option<LoadModel>) = match kind {
            "closed" => (&["users", "spawn_rate", "wait"], self.closed_load(load)),
            "open" => (&["rate", "schedule"], self.open_load(load)),
            other => {
                self.error(
                    load.kind.span(),
                    format!("load.kind: expected \"closed\" (Locust-style users) or \"open\" (Poisson arrivals), got \"{other}\""),
                );
                (&["users", "spawn_rate", "wait", "rate", "schedule"], None)
            }
        };
        let keys = [
            ("users", load.users.as_ref().map(Spanned::span)),
            ("spawn_rate", load.spawn_rate.as_ref().map(Spanned::span)),
            ("rate", load.rate.as_ref().map(Spanned::span)),
            ("schedule", load.schedule.as_ref().map(Spanned::span)),
        ];
        let place = format!("`{kind}` load");
        self.keys_only_of(&keys, allowed, "load", &place);
        if load.wait.is_some() && !allowed.contains(&"wait") {
            self.error(
                load.kind.span(),
                format!("load.wait: does not apply to `{kind}` load"),
            );
        }
        let tasks = self.tasks(load, names);
        let timeout = load
            .timeout
            .as_ref()
            .map(|timeout| self.duration_in(timeout, "load.timeout", true));
        Some(Load {
            model: model?,
            tasks: tasks?,
            timeout,
        })
    }

    /// `target`, or weighted `tasks`: exactly one of them.
    fn tasks(&mut self, load: &RawLoad, names: &Names) -> Option<Vec<Task>> {
        match (&load.target, &load.tasks) {
            (Some(target), None) => {
                let target = self.endpoint_ref(target, names, "load.target")?;
                Some(vec![Task { target, weight: 1 }])
            }
            (None, Some(tasks)) => {
                if tasks.get_ref().is_empty() {
                    self.error(
                        tasks.span(),
                        "load.tasks: expected at least one task, e.g. { target = \"shop/browse\", weight = 3 }",
                    );
                    return None;
                }
                self.count_items(tasks.get_ref().len(), tasks.span(), "tasks");
                let built: Vec<Option<Task>> = tasks
                    .get_ref()
                    .iter()
                    .enumerate()
                    .map(|(index, task)| {
                        let path = format!("load.tasks[{index}]");
                        let weight = task.weight.as_ref().map_or(1, |weight| {
                            self.count_in(weight, &format!("{path}.weight"), 1, 1_000_000) as u32
                        });
                        let target =
                            self.endpoint_ref(&task.target, names, &format!("{path}.target"))?;
                        Some(Task { target, weight })
                    })
                    .collect();
                built.into_iter().collect()
            }
            (Some(target), Some(_)) => {
                self.error(
                    target.span(),
                    "load: give `target` (one endpoint) or `tasks` (several, weighted), not both",
                );
                None
            }
            (None, None) => {
                self.error(
                    load.kind.span(),
                    "load: expected `target = \"service/endpoint\"`, or `tasks = [{ target = ..., weight = ... }, ...]`",
                );
                None
            }
        }
    }

    fn closed_load(&mut self, load: &RawLoad) -> Option<LoadModel> {
        let required = |key: &str| format!("load: closed-loop load needs `{key}`");
        let (Some(users), Some(spawn_rate), Some(wait)) =
            (&load.users, &load.spawn_rate, &load.wait)
        else {
            let missing = [
                ("users", load.users.is_none()),
                ("spawn_rate", load.spawn_rate.is_none()),
                ("wait", load.wait.is_none()),
            ]
            .iter()
            .filter(|(_, missing)| *missing)
            .map(|(key, _)| *key)
            .collect::<Vec<_>>();
            for key in missing {
                self.error(load.kind.span(), required(key));
            }
            return None;
        };
        let users = self.count_in(users, "load.users", 1, u64::from(USERS_MAX)) as u32;
        let rate = *spawn_rate.get_ref();
        if !(rate.is_finite() && rate > 0.0) {
            self.error(
                spawn_rate.span(),
                format!("load.spawn_rate: expected users per second above 0, got {rate}"),
            );
        }
        let wait = match wait {
            RawWait::ConstantPacing(pace) => {
                Think::Pacing(self.duration_in(pace, "load.wait.constant_pacing", true))
            }
            RawWait::ConstantThroughput(rate) => {
                let value = *rate.get_ref();
                if !(value.is_finite() && value > 0.0 && value <= 1e6) {
                    self.error(rate.span(), format!("load.wait.constant_throughput: expected tasks per second above 0, got {value}"));
                    Think::Pacing(SimDuration::from_secs(1))
                } else {
                    Think::Pacing(SimDuration::from_secs_f64(1.0 / value))
                }
            }
            RawWait::Constant(wait) => Think::Sample(Distribution::Constant(wait.get_ref().0)),
            RawWait::Exponential(mean) => match Distribution::exponential(mean.get_ref().0) {
                Ok(wait) => Think::Sample(wait),
                Err(message) => {
                    self.error(mean.span(), format!("load.wait.exponential: {message}"));
                    Think::Sample(Distribution::Constant(mean.get_ref().0))
                }
            },
            RawWait::Between([low, high]) => {
                match Distribution::uniform(low.get_ref().0, high.get_ref().0) {
                    Ok(wait) => Think::Sample(wait),
                    Err(message) => {
                        self.error(high.span(), format!("load.wait.between: {message}"));
                        Think::Sample(Distribution::Constant(low.get_ref().0))
                    }
                }
            }
        };
        Some(LoadModel::Closed {
            users,
            spawn_rate: rate,
            wait,
        })
    }

    fn open_load(&mut self, load: &RawLoad) -> Option<LoadModel> {
        let Some(rate) = &load.rate else {
            self.error(
                load.kind.span(),
                "load: open-loop load needs `rate` (requests per second)",
            );
            return None;
        };
        let value = *rate.get_ref();
        // Below one request a day, or above a billion a second, is a typo.
        if !(value.is_finite() && (1e-5..=1e9).contains(&value)) {
            self.error(
                rate.span(),
                format!("load.rate: expected requests per second from 0.00001 to 1e9, got {value}"),
            );
            return None;
        }
        let schedule = load
            .schedule
            .as_ref()
            .map_or(Vec::new(), |schedule| self.rate_schedule(schedule));
        Some(LoadModel::Open {
            rate: value,
            schedule,
        })
    }

    /// Rate changes in time order, each ramp over before the next change begins.
    fn rate_schedule(&mut self, raw: &Spanned<Vec<RawRateChange>>) -> Vec<RateChange> {
        self.count_items(raw.get_ref().len(), raw.span(), "rate changes");
        let mut previous_end: Option<SimDuration> = None;
        let mut changes = Vec::new();
        for (index, change) in raw.get_ref().iter().enumerate() {
            let path = format!("load.schedule[{index}]");
            let at = self.duration_in(&change.at, &format!("{path}.at"), false);
            let rate = *change.rate.get_ref();
            if !(rate.is_finite() && (0.0..=1e9).contains(&rate)) {
                self.error(
                    change.rate.span(),
                    format!("{path}.rate: expected requests per second from 0 to 1e9, got {rate}"),
                );
            }
            let ramp = change.ramp.as_ref().map_or(SimDuration::ZERO, |ramp| {
                self.duration_in(ramp, &format!("{path}.ramp"), false)
            });
            if let Some(end) = previous_end.filter(|&end| at < end) {
                self.error(
                    change.at.span(),
                    format!("{path}.at: expected {end} or later (the previous change, with its ramp, lasts until then), got {at}"),
                );
            }
            previous_end = Some(at + ramp);
            changes.push(RateChange {
                at: SimTime::ZERO + at,
                rate: if rate.is_finite() {
                    rate.clamp(0.0, 1e9)
                } else {
                    0.0
                },
                ramp,
            });
        }
        changes
    }

    fn service(&mut self, name: &str, service: &RawService, names: &Names) -> Service {
        let workers = self.capacity(&service.workers, &format!("services.{name}.workers"), 1);
        let queue = match &service.queue {
            Some(queue) => self.capacity(queue, &format!("services.{name}.queue"), 0),
            None => Capacity::Unbounded,
        };
        if service.endpoints.is_empty() {
            self.error(
                service.workers.span(),
                format!("services.{name}: expected at least one endpoint, e.g. endpoints.get.steps = [...]"),
            );
        }
        self.count_items(service.endpoints.len(), service.workers.span(), "endpoints");
        let endpoints = service
            .endpoints
            .iter()
            .map(|(endpoint, raw_endpoint)| {
                let path = format!("services.{name}.endpoints.{endpoint}");
                let steps = &raw_endpoint.steps;
                if steps.get_ref().is_empty() {
                    self.error(
                        steps.span(),
                        format!("{path}.steps: expected at least one step"),
                    );
                }
                self.count_items(steps.get_ref().len(), steps.span(), "steps");
                Endpoint {
                    name: endpoint.clone(),
                    steps: steps
                        .get_ref()
                        .iter()
                        .enumerate()
                        .filter_map(|(index, step)| {
                            self.step(&format!("{path}.steps[{index}]"), step, names)
                        })
                        .collect(),
                }
            })
            .collect();
        let replicas = service.replicas.as_ref().map_or(1, |replicas| {
            self.count_in(
                replicas,
                &format!("services.{name}.replicas"),
                1,
                u64::from(REPLICAS_MAX),
            ) as u32
        });
        let balancer = match &service.balancer {
            None => Balancer::RoundRobin,
            Some(raw) => match raw.get_ref().as_str() {
                "round_robin" => Balancer::RoundRobin,
                "random" => Balancer::Random,
                "least_outstanding" => Balancer::LeastOutstanding,
                other => {
                    self.error(
                        raw.span(),
                        format!("services.{name}.balancer: expected \"round_robin\", \"random\" or \"least_outstanding\", got \"{other}\""),
                    );
                    Balancer::RoundRobin
                }
            },
        };
        let outlier = service
            .outlier
            .as_ref()
            .map(|raw| self.outlier(&format!("services.{name}.outlier"), raw));
        Service {
            name: name.to_string(),
            workers,
            queue,
            endpoints,
            replicas,
            balancer,
            outlier,
        }
    }

    /// Envoy's outlier detection with its defaults.
    fn outlier(&mut self, path: &str, raw: &RawOutlier) -> OutlierDetection {
        let defaults = OutlierDetection::envoy_defaults();
        let duration =
            |checker: &mut Self, value: &Option<Spanned<RawDuration>>, key: &str, default| {
                value.as_ref().map_or(default, |value| {
                    checker.duration_in(value, &format!("{path}.{key}"), true)
                })
            };
        let consecutive_5xx = raw
            .consecutive_5xx
            .as_ref()
            .map_or(defaults.consecutive_5xx, |count| {
                self.count_in(count, &format!("{path}.consecutive_5xx"), 1, 1_000_000) as u32
            });
        let interval = duration(self, &raw.interval, "interval", defaults.interval);
        let base_ejection_time = duration(
            self,
            &raw.base_ejection_time,
            "base_ejection_time",
            defaults.base_ejection_time,
        );
        let max_ejection_time = duration(
            self,
            &raw.max_ejection_time,
            "max_ejection_time",
            defaults.max_ejection_time,
        );
        // Envoy refuses an explicit cap below the base; left out, the cap is the
        // larger of its default and the base.
        if let Some(max) = &raw.max_ejection_time {
            if max.get_ref().0 < base_ejection_time {
                self.error(
                    max.span(),
                    format!("{path}.max_ejection_time: expected at least base_ejection_time ({base_ejection_time}), as Envoy requires, got {}", max.get_ref().0),
                );
            }
        }
        let max_ejection_percent = raw.max_ejection_percent.as_ref().map_or(
            defaults.max_ejection_percent,
            |percent| {
                let value = *percent.get_ref();
                if !(value.is_finite() && (0.0..=100.0).contains(&value)) {
                    self.error(
                        percent.span(),
                        format!("{path}.max_ejection_percent: expected a percentage from 0 to 100, got {value}"),
                    );
                }
                value
            },
        );
        OutlierDetection {
            consecutive_5xx,
            interval,
            base_ejection_time,
            max_ejection_time,
            max_ejection_percent,
        }
    }

    fn step(&mut self, path: &str, raw: &Spanned<RawStep>, names: &Names) -> Option<Step> {
        let step = raw.get_ref();
        let kinds = [
            step.work.is_some(),
            step.call.is_some(),
            step.parallel.is_some(),
        ];
        if kinds.iter().filter(|&&given| given).count() != 1 {
            self.error(
                raw.span(),
                format!("{path}: expected exactly one of `work = {{ ... }}`, `call = \"service/endpoint\"` or `parallel = [ calls ]`"),
            );
            return None;
        }
        if let Some(parallel) = &step.parallel {
            return self.fan_out(path, step, parallel, names);
        }
        if let Some(wait_for) = &step.wait_for {
            self.error(
                wait_for.span(),
                format!("{path}.wait_for: applies to a `parallel` step"),
            );
        }
        match (&step.work, &step.call) {
            (Some(_), Some(_)) | (None, None) => unreachable!("exactly one kind was checked"),
            (Some(work), None) => {
                let fallback = ("fallback", step.fallback.as_ref().map(Spanned::span));
                for (key, present) in call_policy_keys(step).into_iter().chain([fallback]) {
                    if let Some(span) = present {
                        self.error(
                            span,
                            format!("{path}: `{key}` applies to a `call` step, not to `work`"),
                        );
                    }
                }
                self.distribution(&format!("{path}.work"), work)
                    .map(Step::Work)
            }
            (None, Some(call)) => {
                let target = self.endpoint_ref(call, names, &format!("{path}.call"));
                let timeout = step
                    .timeout
                    .as_ref()
                    .map(|timeout| self.duration_in(timeout, &format!("{path}.timeout"), true));
                let connect_timeout = step.connect_timeout.as_ref().map(|timeout| {
                    self.duration_in(timeout, &format!("{path}.connect_timeout"), true)
                });
                let breaker = step.breaker.as_ref().and_then(|breaker| {
                    self.breaker_ref(breaker, names, &format!("{path}.breaker"))
                });
                let fallback = self.fallback(path, step);
                let retry = step
                    .retry
                    .as_ref()
                    .map(|retry| self.retry(&format!("{path}.retry"), retry));
                let bulkhead = step.bulkhead.as_ref().and_then(|name| {
                    let found = names.bulkheads.iter().position(|known| known == name.get_ref());
                    if found.is_none() {
                        let hint = did_you_mean(name.get_ref(), names.bulkheads.iter().map(String::as_str));
                        self.error(
                            name.span(),
                            format!("{path}.bulkhead: no bulkhead named \"{}\" is defined under [bulkheads]{hint}", name.get_ref()),
                        );
                    }
                    found.map(|index| BulkheadId(index as u32))
                });
                let order = match step.order.as_ref() {
                    None => PolicyOrder::default(),
                    Some(order) => match order.get_ref().as_str() {
                        "retry_outside_breaker" => PolicyOrder::RetryOutsideBreaker,
                        "breaker_outside_retry" => PolicyOrder::BreakerOutsideRetry,
                        other => {
                            self.error(
                                order.span(),
                                format!("{path}.order: expected \"retry_outside_breaker\" (each attempt asks the breaker) or \"breaker_outside_retry\" (the breaker sees the whole sequence once), got \"{other}\""),
                            );
                            PolicyOrder::default()
                        }
                    },
                };
                let propagate_deadline = step
                    .propagate_deadline
                    .as_ref()
                    .is_some_and(|flag| *flag.get_ref());
                Some(Step::Call(Call {
                    target: target?,
                    timeout,
                    connect_timeout,
                    breaker,
                    retry,
                    bulkhead,
                    fallback,
                    order,
                    propagate_deadline,
                }))
            }
        }
    }

    /// A bad distribution is reported at its last parameter, the one that usually
    /// has to change.
    fn fallback(&mut self, path: &str, step: &RawStep) -> Fallback {
        match step.fallback.as_ref().map(Spanned::get_ref) {
            None | Some(RawFallback::Error) => Fallback::Fail {
                status: STATUS_HANDLER_ERROR,
            },
            Some(RawFallback::Propagate) => Fallback::Propagate,
            Some(RawFallback::Degraded) => Fallback::Degraded,
            Some(RawFallback::Status(status)) => {
                let span = step
                    .fallback
                    .as_ref()
                    .map(Spanned::span)
                    .unwrap_or_default();
                Fallback::Fail {
                    status: self.status_at(*status, span, &format!("{path}.fallback")),
                }
            }
        }
    }

    /// A `parallel` step: calls only, each with its own policies; the group has
    /// `wait_for` and `fallback`.
    fn fan_out(
        &mut self,
        path: &str,
        step: &RawStep,
        parallel: &Spanned<Vec<Spanned<RawStep>>>,
        names: &Names,
    ) -> Option<Step> {
        for (key, present) in call_policy_keys(step) {
            if let Some(span) = present {
                self.error(
                    span,
                    format!("{path}.{key}: goes on each call inside `parallel`, not on the group"),
                );
            }
        }
        let calls = parallel.get_ref();
        if calls.is_empty() {
            self.error(
                parallel.span(),
                format!("{path}.parallel: expected at least one call"),
            );
            return None;
        }
        self.count_items(calls.len(), parallel.span(), "parallel calls");
        let mut built = Vec::with_capacity(calls.len());
        for (index, inner) in calls.iter().enumerate() {
            let inner_path = format!("{path}.parallel[{index}]");
            if inner.get_ref().call.is_none() {
                self.error(
                    inner.span(),
                    format!("{inner_path}: expected a call (`call = \"service/endpoint\"`); a `parallel` group holds calls only"),
                );
                continue;
            }
            if let Some(Step::Call(call)) = self.step(&inner_path, inner, names) {
                built.push(call);
            }
        }
        let count = calls.len() as u32;
        let wait_for = match step.wait_for.as_ref() {
            None => count,
            Some(raw) => match *raw.get_ref() {
                RawWaitFor::All => count,
                RawWaitFor::Count(value) if value >= 1 && value <= i64::from(count) => value as u32,
                RawWaitFor::Count(value) => {
                    self.error(
                        raw.span(),
                        format!("{path}.wait_for: expected from 1 to {count} (the calls in the group), or \"all\"; got {value}"),
                    );
                    count
                }
            },
        };
        let fallback = self.fallback(path, step);
        (built.len() == calls.len()).then_some(Step::Parallel(FanOut {
            calls: built,
            wait_for,
            fallback,
        }))
    }

    /// resilience4j's semaphore bulkhead and its defaults (25 calls, no wait).
    fn bulkhead(&mut self, name: &str, raw: &RawBulkhead) -> BulkheadSpec {
        let path = format!("bulkheads.{name}");
        let kind = raw.kind.get_ref().as_str();
        let own: &[&str] = match kind {
            "semaphore" => &["max_wait"],
            "thread_pool" => &["queue_capacity"],
            other => {
                self.error(
                    raw.kind.span(),
                    format!(
                        "{path}.kind: expected \"semaphore\" or \"thread_pool\", got \"{other}\""
                    ),
                );
                &["max_wait", "queue_capacity"]
            }
        };
        let keys = [
            ("max_wait", raw.max_wait.as_ref().map(Spanned::span)),
            (
                "queue_capacity",
                raw.queue_capacity.as_ref().map(Spanned::span),
            ),
        ];
        self.keys_only_of(&keys, own, &path, &format!("`{kind}` bulkheads"));
        let max_concurrent = raw.max_concurrent.as_ref().map_or(25, |max| {
            self.count_in(
                max,
                &format!("{path}.max_concurrent"),
                1,
                u64::from(CAPACITY_MAX),
            ) as u32
        });
        let kind = if kind == "thread_pool" {
            // resilience4j's ThreadPoolBulkhead queues 100 by default.
            let queue_capacity = raw.queue_capacity.as_ref().map_or(100, |queue| {
                self.count_in(
                    queue,
                    &format!("{path}.queue_capacity"),
                    0,
                    u64::from(CAPACITY_MAX),
                ) as u32
            });
            BulkheadKind::ThreadPool { queue_capacity }
        } else {
            let max_wait = raw.max_wait.as_ref().map_or(SimDuration::ZERO, |wait| {
                self.duration_in(wait, &format!("{path}.max_wait"), false)
            });
            BulkheadKind::Semaphore { max_wait }
        };
        BulkheadSpec {
            name: name.to_string(),
            max_concurrent,
            kind,
        }
    }

    fn retry(&mut self, path: &str, raw: &RawRetry) -> RetryPolicy {
        let max_attempts = self.count_in(
            &raw.attempts,
            &format!("{path}.attempts"),
            1,
            RETRY_ATTEMPTS_MAX,
        ) as u32;
        let base = raw.base.as_ref().map_or(RETRY_BASE_DEFAULT, |base| {
            self.duration_in(base, &format!("{path}.base"), true)
        });
        let cap = raw
            .max
            .as_ref()
            .map(|max| self.duration_in(max, &format!("{path}.max"), true));
        let multiplier = raw.multiplier.as_ref().map_or(2.0, |value| {
            let factor = *value.get_ref();
            if !(factor.is_finite() && (1.0..=100.0).contains(&factor)) {
                self.error(
                    value.span(),
                    format!("{path}.multiplier: expected a factor from 1 to 100, got {factor}"),
                );
            }
            factor
        });
        let backoff = match raw
            .backoff
            .as_ref()
            .map(|b| (b.get_ref().as_str(), b.span()))
        {
            None | Some(("exponential", _)) => Backoff::Exponential {
                base,
                multiplier,
                cap,
            },
            Some(("linear", _)) => Backoff::Linear { base, cap },
            Some(("constant", _)) => Backoff::Constant { base, cap },
            Some((other, span)) => {
                self.error(span, format!("{path}.backoff: expected \"constant\", \"linear\" or \"exponential\", got \"{other}\""));
                Backoff::Constant { base, cap }
            }
        };
        let jitter = match raw
            .jitter
            .as_ref()
            .map(|j| (j.get_ref().as_str(), j.span()))
        {
            None | Some(("none", _)) => Jitter::None,
            Some(("full", _)) => Jitter::Full,
            Some(("equal", _)) => Jitter::Equal,
            Some(("decorrelated", _)) => Jitter::Decorrelated,
            Some((other, span)) => {
                self.error(span, format!("{path}.jitter: expected \"none\", \"full\", \"equal\" or \"decorrelated\", got \"{other}\""));
                Jitter::None
            }
        };
        let mut retry_on = RetryOn::NONE;
        match &raw.on {
            None => retry_on = RetryOn::DEFAULT,
            Some(classes) => {
                for class in classes.get_ref() {
                    match class.as_str() {
                        "5xx" => retry_on.server_errors = true,
                        "408" => retry_on.status_408 = true,
                        "429" => retry_on.status_429 = true,
                        "timeout" => retry_on.timeouts = true,
                        "connection" => retry_on.connection = true,
                        "rejected" => retry_on.rejections = true,
                        other => self.error(
                            classes.span(),
                            format!("{path}.on: unknown failure class \"{other}\"; expected \"5xx\", \"408\", \"429\", \"timeout\", \"connection\" or \"rejected\""),
                        ),
                    }
                }
            }
        }
        let budget = raw
            .budget
            .as_ref()
            .and_then(|budget| self.budget(&format!("{path}.budget"), budget));
        RetryPolicy {
            max_attempts,
            backoff,
            jitter,
            retry_on,
            budget,
        }
    }

    /// Finagle's and gRPC's defaults and validation rules.
    fn budget(&mut self, path: &str, raw: &RawBudget) -> Option<BudgetSpec> {
        let kind = raw.kind.get_ref().as_str();
        let keys = [
            ("ttl", raw.ttl.as_ref().map(Spanned::span)),
            (
                "min_retries_per_sec",
                raw.min_retries_per_sec.as_ref().map(Spanned::span),
            ),
            (
                "percent_can_retry",
                raw.percent_can_retry.as_ref().map(Spanned::span),
            ),
            ("max_tokens", raw.max_tokens.as_ref().map(Spanned::span)),
            ("token_ratio", raw.token_ratio.as_ref().map(Spanned::span)),
        ];
        let own: &[&str] = match kind {
            "finagle" => &["ttl", "min_retries_per_sec", "percent_can_retry"],
            "grpc" => &["max_tokens", "token_ratio"],
            other => {
                self.error(
                    raw.kind.span(),
                    format!("{path}.kind: expected \"finagle\" or \"grpc\", got \"{other}\""),
                );
                return None;
            }
        };
        self.keys_only_of(&keys, own, path, &format!("a `{kind}` budget"));
        if kind == "finagle" {
            let ttl = raw.ttl.as_ref().map_or(SimDuration::from_secs(10), |ttl| {
                let value = ttl.get_ref().0;
                if value < SimDuration::from_secs(1) || value > SimDuration::from_secs(60) {
                    self.error(
                        ttl.span(),
                        format!("{path}.ttl: expected 1s to 60s (Finagle's range), got {value}"),
                    );
                }
                value
            });
            let min_retries_per_sec = raw.min_retries_per_sec.as_ref().map_or(10, |min| {
                self.count_in(min, &format!("{path}.min_retries_per_sec"), 0, 1_000_000) as u32
            });
            let percent_can_retry = raw.percent_can_retry.as_ref().map_or(0.2, |share| {
                let value = *share.get_ref();
                if !(0.0..=1000.0).contains(&value) {
                    self.error(share.span(), format!("{path}.percent_can_retry: expected a fraction of requests from 0 to 1000 (0.2 is 20 %), got {value}"));
                }
                value
            });
            return Some(BudgetSpec::Finagle {
                ttl,
                min_retries_per_sec,
                percent_can_retry,
            });
        }
        let max_tokens = raw.max_tokens.as_ref().map_or(10, |max| {
            self.count_in(max, &format!("{path}.max_tokens"), 1, 1000) as u32
        });
        let token_ratio = raw.token_ratio.as_ref().map_or(0.1, |ratio| {
            let value = *ratio.get_ref();
            // gRPC keeps 3 decimals (by truncation) and wants more than 0 of them.
            if !((value * 1000.0) as i64 >= 1 && value <= f64::from(max_tokens)) {
                self.error(
                    ratio.span(),
                    format!("{path}.token_ratio: expected a ratio from 0.001 (gRPC keeps 3 decimals) to max_tokens ({max_tokens}), got {value}"),
                );
            }
            value
        });
        Some(BudgetSpec::Grpc {
            max_tokens,
            token_ratio,
        })
    }

    fn distribution(&mut self, path: &str, raw: &RawDistribution) -> Option<Distribution> {
        let d = |value: &Spanned<RawDuration>| value.get_ref().0;
        let (result, span) = match raw {
            RawDistribution::Constant(value) => {
                (Ok(Distribution::Constant(d(value))), value.span())
            }
            RawDistribution::Uniform([low, high]) => {
                (Distribution::uniform(d(low), d(high)), high.span())
            }
            RawDistribution::Exponential(mean) => (Distribution::exponential(d(mean)), mean.span()),
            RawDistribution::Normal { mean, std_dev } => (
                Ok(Distribution::normal(d(mean), d(std_dev))),
                std_dev.span(),
            ),
            RawDistribution::Lognormal { median, p99 } => {
                (Distribution::lognormal(d(median), d(p99)), p99.span())
            }
        };
        result
            .map_err(|message| self.error(span, format!("{path}: {message}")))
            .ok()
    }

    fn fault(
        &mut self,
        index: usize,
        fault: &RawFault,
        names: &Names,
        services: &[Service],
    ) -> Option<Fault> {
        let path = format!("faults[{index}]");
        let kind = fault.kind.get_ref().as_str();
        let keys = [
            ("for", fault.hold.as_ref().map(Spanned::span)),
            ("then_status", fault.then_status.as_ref().map(Spanned::span)),
            ("rate", fault.rate.as_ref().map(Spanned::span)),
            ("status", fault.status.as_ref().map(Spanned::span)),
            ("latency", fault.latency.as_ref().map(Spanned::span)),
            ("jitter", fault.jitter.as_ref().map(Spanned::span)),
            ("factor", fault.factor.as_ref().map(Spanned::span)),
            ("down_for", fault.down_for.as_ref().map(Spanned::span)),
            ("cold_start", fault.cold_start.as_ref().map(Spanned::span)),
            ("cold_factor", fault.cold_factor.as_ref().map(Spanned::span)),
            ("duration", fault.duration.as_ref().map(Spanned::span)),
        ];
        let own: &[&str] = match kind {
            "hang" => &["for", "then_status", "duration"],
            "error" => &["rate", "status", "duration"],
            "latency" => &["latency", "jitter", "duration"],
            "slowdown" => &["factor", "duration"],
            "kill" | "blackhole" => &["duration"],
            // A restart's episode is its downtime and cold start.
            "restart" => &["down_for", "cold_start", "cold_factor"],
            other => {
                self.error(
                    fault.kind.span(),
                    format!("{path}.kind: expected \"hang\", \"error\", \"latency\", \"slowdown\", \"kill\", \"blackhole\" or \"restart\", got \"{other}\""),
                );
                return None;
            }
        };
        self.keys_only_of(&keys, own, &path, &format!("`{kind}` faults"));
        let needs = |checker: &mut Self, key: &str, what: &str| {
            checker.error(
                fault.kind.span(),
                format!("{path}: `{kind}` faults need `{key}` ({what})"),
            );
        };
        let factor_at_least_one = |checker: &mut Self, raw: &Spanned<f64>, key: &str| {
            let value = *raw.get_ref();
            if !(value.is_finite() && (1.0..=1000.0).contains(&value)) {
                checker.error(
                    raw.span(),
                    format!("{path}.{key}: expected a factor from 1 to 1000 (how many times longer work takes), got {value}"),
                );
                return 1.0;
            }
            value
        };
        let kind = match kind {
            "hang" => match fault.hold.as_ref().map(|hold| *hold.get_ref()) {
                Some(RawHold::Forever) => {
                    if let Some(status) = &fault.then_status {
                        self.error(
                            status.span(),
                            format!("{path}.then_status: a hang `for = \"forever\"` never answers, so it has no status"),
                        );
                    }
                    FaultKind::HangForever
                }
                hold => {
                    let hold = match hold {
                        Some(RawHold::For(hold)) => hold,
                        _ => {
                            needs(self, "for", "how long each request hangs, or \"forever\"");
                            SimDuration::ZERO
                        }
                    };
                    let status = match &fault.then_status {
                        Some(status) => self.status(status, &format!("{path}.then_status")),
                        None => {
                            needs(self, "then_status", "what it answers after hanging");
                            STATUS_HANDLER_ERROR
                        }
                    };
                    FaultKind::Hang { hold, status }
                }
            },
            "error" => {
                let probability = match &fault.rate {
                    Some(rate) => {
                        let value = *rate.get_ref();
                        if !(value > 0.0 && value <= 1.0) {
                            self.error(rate.span(), format!("{path}.rate: expected a share of requests in (0, 1], got {value}"));
                        }
                        value
                    }
                    None => {
                        needs(self, "rate", "the share of requests that fail, e.g. 0.3");
                        1.0
                    }
                };
                let status = match &fault.status {
                    Some(status) => self.status(status, &format!("{path}.status")),
                    None => {
                        needs(self, "status", "the status they fail with, e.g. 503");
                        STATUS_HANDLER_ERROR
                    }
                };
                FaultKind::Error {
                    probability,
                    status,
                }
            }
            "latency" => {
                let latency = match &fault.latency {
                    Some(latency) => self.duration_in(latency, &format!("{path}.latency"), true),
                    None => {
                        needs(self, "latency", "the added delay, e.g. \"200ms\"");
                        SimDuration::ZERO
                    }
                };
                let jitter = match &fault.jitter {
                    Some(jitter) => self.duration_in(jitter, &format!("{path}.jitter"), false),
                    None => SimDuration::ZERO,
                };
                FaultKind::Latency { latency, jitter }
            }
            "slowdown" => {
                let factor = match &fault.factor {
                    Some(factor) => factor_at_least_one(self, factor, "factor"),
                    None => {
                        needs(self, "factor", "how many times longer work takes, e.g. 3");
                        1.0
                    }
                };
                FaultKind::Slowdown { factor }
            }
            "restart" => {
                let down_for = match &fault.down_for {
                    Some(down) => self.duration_in(down, &format!("{path}.down_for"), true),
                    None => {
                        needs(
                            self,
                            "down_for",
                            "how long the replica is gone, e.g. \"20s\"",
                        );
                        SimDuration::ZERO
                    }
                };
                let cold_start = fault.cold_start.as_ref().map_or(SimDuration::ZERO, |cold| {
                    self.duration_in(cold, &format!("{path}.cold_start"), false)
                });
                let cold_factor = match &fault.cold_factor {
                    Some(factor) => factor_at_least_one(self, factor, "cold_factor"),
                    None if cold_start > SimDuration::ZERO => {
                        needs(
                            self,
                            "cold_factor",
                            "how many times slower work runs while cold, e.g. 3",
                        );
                        1.0
                    }
                    None => 1.0,
                };
                FaultKind::Restart {
                    down_for,
                    cold_start,
                    cold_factor,
                }
            }
            "kill" => FaultKind::Kill,
            _ => FaultKind::Blackhole,
        };
        let (from, until, repeat) = self.fault_window(&path, fault, kind);
        let service = self.service_ref(&fault.target, names, &format!("{path}.target"))?;
        let replicas = services.get(service.0 as usize).map_or(1, |s| s.replicas);
        let replicas_hit = match &fault.replicas_percent {
            None => replicas,
            Some(percent) => {
                let value = *percent.get_ref();
                if !(value > 0.0 && value <= 100.0) {
                    self.error(
                        percent.span(),
                        format!("{path}.replicas_percent: expected a share of replicas in (0, 100], got {value}"),
                    );
                }
                // Litmus' `Adjustment(perc, pods) = perc * pods / 100` in integers:
                // rounded down, and at least one pod.
                ((value * f64::from(replicas) / 100.0).floor() as u32).clamp(1, replicas)
            }
        };
        Some(Fault {
            service,
            kind,
            from: SimTime::ZERO + from,
            until,
            repeat,
            replicas_hit,
        })
    }

    /// When a fault acts: `from`, then `until` or for `duration`, once or `every` so
    /// often. A restart's episode is its downtime and cold start.
    fn fault_window(
        &mut self,
        path: &str,
        fault: &RawFault,
        kind: FaultKind,
    ) -> (SimDuration, Option<SimTime>, Option<Repeat>) {
        let from = fault
            .from
            .as_ref()
            .map_or(SimDuration::ZERO, |from| from.get_ref().0);
        let mut until = fault.until.as_ref().map(|until| {
            if until.get_ref().0 <= from {
                self.error(
                    until.span(),
                    format!(
                        "{path}.until: expected a time after `from` ({from}), got {}",
                        until.get_ref().0
                    ),
                );
            }
            SimTime::ZERO + until.get_ref().0
        });
        let lasting = match kind {
            FaultKind::Restart {
                down_for,
                cold_start,
                ..
            } => Some(down_for + cold_start),
            _ => fault
                .duration
                .as_ref()
                .map(|duration| self.duration_in(duration, &format!("{path}.duration"), true)),
        };
        let Some(every) = &fault.every else {
            if let (Some(duration), Some(raw_until)) = (&fault.duration, &fault.until) {
                self.error(
                    duration.span(),
                    format!(
                        "{path}.duration: give `until` or `duration`, not both (`until` is at {})",
                        raw_until.get_ref().0
                    ),
                );
            }
            if until.is_none() {
                until = lasting.map(|lasting| SimTime::ZERO + from + lasting);
            }
            return (from, until, None);
        };
        let every_value = self.duration_in(every, &format!("{path}.every"), true);
        let Some(lasting) = lasting else {
            self.error(
                every.span(),
                format!(
                    "{path}.every: a repeating fault needs `duration`, how long each episode lasts"
                ),
            );
            return (from, until, None);
        };
        if lasting > every_value {
            self.error(
                every.span(),
                format!("{path}.every: each episode lasts {lasting}, longer than the {every_value} between their starts"),
            );
        }
        let repeat = (every_value > SimDuration::ZERO).then_some(Repeat {
            every: every_value,
            lasting,
        });
        (from, until, repeat)
    }

    fn hypothesis(
        &mut self,
        raw: &RawHypothesis,
        names: &Names,
        faults: &[Fault],
        duration: SimDuration,
    ) -> Option<Hypothesis> {
        let title = raw.title.get_ref().trim().to_string();
        if title.is_empty() {
            self.error(
                raw.title.span(),
                "hypothesis.title: expected a non-empty title",
            );
        }
        let before_at = raw
            .before_at
            .as_ref()
            .map_or(SimDuration::ZERO, |at| at.get_ref().0);
        let last_fault = faults
            .iter()
            .map(|fault| fault.from)
            .max()
            .unwrap_or(SimTime::ZERO);
        let after_at = match (&raw.after_at, &raw.pause_after) {
            (Some(at), Some(pause)) => {
                self.error(
                    pause.span(),
                    format!("hypothesis.pause_after: give either `after_at` ({}) or `pause_after`, not both", at.get_ref().0),
                );
                at.get_ref().0
            }
            (Some(at), None) => at.get_ref().0,
            (None, pause) => {
                let pause = pause
                    .as_ref()
                    .map_or(SimDuration::ZERO, |pause| pause.get_ref().0);
                (last_fault + pause).since(SimTime::ZERO)
            }
        };
        let after_span = raw
            .after_at
            .as_ref()
            .or(raw.pause_after.as_ref())
            .map_or(raw.title.span(), Spanned::span);
        if after_at <= before_at {
            self.error(
                after_span.clone(),
                format!("hypothesis: the after-check ({after_at}) must come after the before-check ({before_at})"),
            );
        }
        if after_at > duration {
            self.error(
                after_span,
                format!("hypothesis: the after-check ({after_at}) is past the end of the run ({duration})"),
            );
        }
        if raw.probes.get_ref().is_empty() {
            self.error(
                raw.probes.span(),
                "hypothesis.probes: expected at least one probe",
            );
        }
        let probes = raw
            .probes
            .get_ref()
            .iter()
            .enumerate()
            .filter_map(|(index, probe)| {
                self.probe(&format!("hypothesis.probes[{index}]"), probe, names)
            })
            .collect();
        Some(Hypothesis {
            title,
            before_at: SimTime::ZERO + before_at,
            after_at: SimTime::ZERO + after_at,
            probes,
        })
    }

    fn probe(&mut self, path: &str, raw: &RawProbe, names: &Names) -> Option<Probe> {
        let kind = raw.kind.get_ref().as_str();
        let allowed: &[&str] = match kind {
            "http" => &["target", "timeout"],
            "success_rate" => &["window"],
            "latency" => &["window", "percentile"],
            "breaker" => &["breaker"],
            other => {
                self.error(
                    raw.kind.span(),
                    format!("{path}.kind: expected \"http\", \"success_rate\", \"latency\" or \"breaker\", got \"{other}\""),
                );
                return None;
            }
        };
        let keys = [
            ("target", raw.target.as_ref().map(Spanned::span)),
            ("timeout", raw.timeout.as_ref().map(Spanned::span)),
            ("window", raw.window.as_ref().map(Spanned::span)),
            ("percentile", raw.percentile.as_ref().map(Spanned::span)),
            ("breaker", raw.breaker.as_ref().map(Spanned::span)),
        ];
        self.keys_only_of(&keys, allowed, path, &format!("a `{kind}` probe"));
        let tolerance = &raw.tolerance;
        let tolerance_path = format!("{path}.tolerance");
        let probe_kind = match kind {
            "http" => {
                let Some(target) = &raw.target else {
                    self.error(
                        raw.kind.span(),
                        format!("{path}: an http probe needs `target = \"service/endpoint\"`"),
                    );
                    return None;
                };
                let target = self.endpoint_ref(target, names, &format!("{path}.target"));
                let statuses = self.status_tolerance(tolerance, &tolerance_path);
                let timeout = raw
                    .timeout
                    .as_ref()
                    .map(|t| self.duration_in(t, &format!("{path}.timeout"), true));
                ProbeKind::Http {
                    target: target?,
                    statuses,
                    timeout,
                }
            }
            "success_rate" => {
                let window = self.probe_window(raw, path)?;
                let (min, max) = self.rate_tolerance(tolerance, &tolerance_path);
                ProbeKind::SuccessRate { window, min, max }
            }
            "latency" => {
                let window = self.probe_window(raw, path)?;
                let percentile = match &raw.percentile {
                    Some(p) if *p.get_ref() > 0.0 && *p.get_ref() <= 100.0 => *p.get_ref(),
                    Some(p) => {
                        self.error(
                            p.span(),
                            format!(
                                "{path}.percentile: expected a number in (0, 100], got {}",
                                p.get_ref()
                            ),
                        );
                        return None;
                    }
                    None => {
                        self.error(
                            raw.kind.span(),
                            format!("{path}: a latency probe needs `percentile`, e.g. 99"),
                        );
                        return None;
                    }
                };
                let max = match tolerance
                    .get_ref()
                    .as_str()
                    .map(super::duration::parse_duration)
                {
                    Some(Ok(max)) => max,
                    Some(Err(message)) => {
                        self.error(tolerance.span(), format!("{tolerance_path}: {message}"));
                        return None;
                    }
                    None => {
                        self.error(tolerance.span(), format!("{tolerance_path}: expected the highest latency allowed, e.g. \"500ms\""));
                        return None;
                    }
                };
                ProbeKind::Latency {
                    window,
                    quantile: percentile / 100.0,
                    max,
                }
            }
            _ => {
                let Some(breaker) = &raw.breaker else {
                    self.error(
                        raw.kind.span(),
                        format!("{path}: a breaker probe needs `breaker = \"name\"`"),
                    );
                    return None;
                };
                let id = self.breaker_ref(breaker, names, &format!("{path}.breaker"));
                let state = match tolerance.get_ref().as_str() {
                    Some("closed") => BreakerState::Closed,
                    Some("open") => BreakerState::Open,
                    Some("half_open") => BreakerState::HalfOpen,
                    _ => {
                        self.error(
                            tolerance.span(),
                            format!(
                                "{tolerance_path}: expected \"closed\", \"open\" or \"half_open\""
                            ),
                        );
                        return None;
                    }
                };
                ProbeKind::BreakerState {
                    breaker: id?,
                    state,
                }
            }
        };
        let name = raw.name.get_ref().trim().to_string();
        if name.is_empty() {
            self.error(
                raw.name.span(),
                format!("{path}.name: expected a non-empty name"),
            );
        }
        Some(Probe {
            name,
            kind: probe_kind,
        })
    }

    fn probe_window(&mut self, raw: &RawProbe, path: &str) -> Option<SimDuration> {
        match &raw.window {
            Some(window) => Some(self.duration_in(window, &format!("{path}.window"), true)),
            None => {
                self.error(raw.kind.span(), format!("{path}: this probe needs `window`, the span it looks back over, e.g. \"10s\""));
                None
            }
        }
    }

    /// Chaos Toolkit: an integer is the one status expected; a list, any of them.
    fn status_tolerance(&mut self, raw: &Spanned<toml::Value>, path: &str) -> Vec<u16> {
        let values: Vec<&toml::Value> = match raw.get_ref() {
            toml::Value::Array(items) => items.iter().collect(),
            single => vec![single],
        };
        let statuses: Vec<u16> = values
            .iter()
            .filter_map(|value| value.as_integer())
            .filter(|status| (100..=599).contains(status))
            .map(|status| status as u16)
            .collect();
        if statuses.is_empty() || statuses.len() != values.len() {
            self.error(raw.span(), format!("{path}: expected an HTTP status (e.g. 200) or a list of them (e.g. [200, 204])"));
        }
        statuses
    }

    /// Chaos Toolkit: a list of two numbers is an inclusive range.
    fn rate_tolerance(&mut self, raw: &Spanned<toml::Value>, path: &str) -> (f64, f64) {
        let number = |value: &toml::Value| {
            value
                .as_float()
                .or_else(|| value.as_integer().map(|i| i as f64))
        };
        if let toml::Value::Array(items) = raw.get_ref() {
            if let [low, high] = items.as_slice() {
                if let (Some(low), Some(high)) = (number(low), number(high)) {
                    if (0.0..=1.0).contains(&low) && (0.0..=1.0).contains(&high) && low <= high {
                        return (low, high);
                    }
                }
            }
        }
        self.error(raw.span(), format!("{path}: expected a range of success rates [low, high] within [0, 1], e.g. [0.99, 1.0]"));
        (0.0, 1.0)
    }

    // --- references ---------------------------------------------------------------

    fn breaker_ref(
        &mut self,
        raw: &Spanned<String>,
        names: &Names,
        path: &str,
    ) -> Option<BreakerId> {
        let name = raw.get_ref();
        let found = names.breakers.iter().position(|known| known == name);
        if found.is_none() {
            let hint = did_you_mean(name, names.breakers.iter().map(String::as_str));
            self.error(
                raw.span(),
                format!("{path}: no breaker named \"{name}\" is defined under [breakers]{hint}"),
            );
        }
        found.map(|index| BreakerId(index as u32))
    }

    fn service_ref(
        &mut self,
        raw: &Spanned<String>,
        names: &Names,
        path: &str,
    ) -> Option<ServiceId> {
        let name = raw.get_ref();
        let found = names.service(name);
        if found.is_none() {
            let hint = did_you_mean(name, names.services.iter().map(|(s, _)| s.as_str()));
            self.error(
                raw.span(),
                format!("{path}: no service named \"{name}\" is defined under [services]{hint}"),
            );
        }
        found
    }

    fn endpoint_ref(
        &mut self,
        raw: &Spanned<String>,
        names: &Names,
        path: &str,
    ) -> Option<EndpointRef> {
        let text = raw.get_ref();
        let Some((service_name, endpoint_name)) = text.split_once('/') else {
            self.error(
                raw.span(),
                format!("{path}: expected \"service/endpoint\", got \"{text}\""),
            );
            return None;
        };
        let Some(service) = names.service(service_name) else {
            let hint = did_you_mean(service_name, names.services.iter().map(|(s, _)| s.as_str()));
            self.error(
                raw.span(),
                format!("{path}: calls \"{text}\", but no service named \"{service_name}\" is defined under [services]{hint}"),
            );
            return None;
        };
        let endpoints = &names.services[service.0 as usize].1;
        let Some(endpoint) = endpoints.iter().position(|e| e == endpoint_name) else {
            let hint = did_you_mean(endpoint_name, endpoints.iter().map(String::as_str));
            self.error(
                raw.span(),
                format!(
                    "{path}: service \"{service_name}\" has no endpoint \"{endpoint_name}\"{hint}"
                ),
            );
            return None;
        };
        Some(EndpointRef {
            service,
            endpoint: endpoint as u32,
        })
    }

    /// Rejects a call graph with a cycle: a request would call itself forever.
    fn no_call_cycles(&mut self, scenario: &Scenario, raw_services: &BTreeMap<String, RawService>) {
        let nodes: Vec<EndpointRef> = scenario
            .services
            .iter()
            .enumerate()
            .flat_map(|(s, service)| {
                (0..service.endpoints.len()).map(move |e| EndpointRef {
                    service: ServiceId(s as u32),
                    endpoint: e as u32,
                })
            })
            .collect();
        // 0 = unvisited, 1 = on the current path, 2 = done.
        let mut mark: BTreeMap<EndpointRef, u8> = BTreeMap::new();
        for &start in &nodes {
            let mut path = Vec::new();
            if let Some(cycle) = find_cycle(scenario, start, &mut mark, &mut path) {
                let span = closing_call_span(scenario, raw_services, &cycle);
                let shown: Vec<String> = cycle.iter().map(|&e| scenario.endpoint_path(e)).collect();
                self.error(
                    span,
                    format!(
                        "call cycle: {} (a request would call itself forever)",
                        shown.join(" -> ")
                    ),
                );
                return;
            }
        }
    }

    // --- values -------------------------------------------------------------------

    fn non_negative(&mut self, raw: &Spanned<i64>, path: &str) -> u64 {
        let value = *raw.get_ref();
        if value < 0 {
            self.error(
                raw.span(),
                format!("{path}: expected a whole number 0 or above, got {value}"),
            );
            return 0;
        }
        value as u64
    }

    fn count_in(&mut self, raw: &Spanned<i64>, path: &str, min: u64, max: u64) -> u64 {
        let value = *raw.get_ref();
        if value < min as i64 || value as u64 > max {
            self.error(
                raw.span(),
                format!("{path}: expected a whole number from {min} to {max}, got {value}"),
            );
            return min;
        }
        value as u64
    }

    fn capacity(&mut self, raw: &Spanned<RawCapacity>, path: &str, min: u64) -> Capacity {
        match *raw.get_ref() {
            RawCapacity::Unbounded => Capacity::Unbounded,
            RawCapacity::Count(value)
                if value >= min as i64 && value <= i64::from(CAPACITY_MAX) =>
            {
                Capacity::Bounded(value as u32)
            }
            RawCapacity::Count(value) => {
                self.error(
                    raw.span(),
                    format!("{path}: expected a whole number from {min} to {CAPACITY_MAX}, or \"unbounded\"; got {value}"),
                );
                Capacity::Unbounded
            }
        }
    }

    fn status(&mut self, raw: &Spanned<i64>, path: &str) -> u16 {
        self.status_at(*raw.get_ref(), raw.span(), path)
    }

    fn status_at(&mut self, value: i64, span: Range<usize>, path: &str) -> u16 {
        if !(100..=599).contains(&value) {
            self.error(
                span,
                format!("{path}: expected an HTTP status from 100 to 599, got {value}"),
            );
            return STATUS_HANDLER_ERROR;
        }
        value as u16
    }

    fn duration_in(
        &mut self,
        raw: &Spanned<RawDuration>,
        path: &str,
        positive: bool,
    ) -> SimDuration {
        let value = raw.get_ref().0;
        if positive && value == SimDuration::ZERO {
            self.error(
                raw.span(),
                format!("{path}: expected a duration above 0, got 0"),
            );
        }
        if value > SimDuration::from_secs(DURATION_MAX_SECS) {
            self.error(
                raw.span(),
                format!(
                    "{path}: {value} is longer than the limit of {}",
                    SimDuration::from_secs(DURATION_MAX_SECS)
                ),
            );
        }
        value
    }

    /// Reports every key given that does not belong to this kind of thing:
    /// `{path}.{key}: does not apply to {place}`.
    fn keys_only_of(
        &mut self,
        keys: &[(&str, Option<Range<usize>>)],
        own: &[&str],
        path: &str,
        place: &str,
    ) {
        for (key, span) in keys {
            if let Some(span) = span.as_ref().filter(|_| !own.contains(key)) {
                self.error(
                    span.clone(),
                    format!("{path}.{key}: does not apply to {place}"),
                );
            }
        }
    }

    /// Each replica has its own pool and queue: many services of many replicas
    /// each would take gigabytes from a file of kilobytes.
    fn replicas_in_all(&mut self, raw: &BTreeMap<String, RawService>, services: &[Service]) {
        let mut total = 0u64;
        for ((name, raw_service), service) in raw.iter().zip(services) {
            total += u64::from(service.replicas);
            if total > REPLICAS_TOTAL_MAX {
                let span = raw_service
                    .replicas
                    .as_ref()
                    .map_or_else(|| raw_service.workers.span(), |replicas| replicas.span());
                self.error(
                    span,
                    format!("services.{name}.replicas: makes {total} replicas in all; a scenario may have at most {REPLICAS_TOTAL_MAX} (Kubernetes' limit on pods in one cluster)"),
                );
                return;
            }
        }
    }

    fn count_items(&mut self, count: usize, span: Range<usize>, what: &str) {
        if count > ITEMS_MAX {
            self.error(
                span,
                format!("too many {what}: {count}, the limit is {ITEMS_MAX}"),
            );
        }
    }

    fn name_is_plain(&mut self, text: &str, span: Range<usize>, what: &str) {
        if text.is_empty() || text.contains('/') || text.chars().any(char::is_whitespace) {
            self.error(
                span,
                format!("{what} name \"{text}\": expected a non-empty name without '/' or spaces"),
            );
        }
    }
}

/// Depth-first search for a cycle through `start`; returns the cycle's endpoints.
/// The keys of a step that only a single call takes, with where they are written.
fn call_policy_keys(step: &RawStep) -> [(&'static str, Option<Range<usize>>); 7] {
    [
        ("timeout", step.timeout.as_ref().map(Spanned::span)),
        (
            "connect_timeout",
            step.connect_timeout.as_ref().map(Spanned::span),
        ),
        ("breaker", step.breaker.as_ref().map(Spanned::span)),
        (
            "retry",
            step.retry.as_ref().map(|retry| retry.attempts.span()),
        ),
        ("bulkhead", step.bulkhead.as_ref().map(Spanned::span)),
        ("order", step.order.as_ref().map(Spanned::span)),
        (
            "propagate_deadline",
            step.propagate_deadline.as_ref().map(Spanned::span),
        ),
    ]
}

fn find_cycle(
    scenario: &Scenario,
    node: EndpointRef,
    mark: &mut BTreeMap<EndpointRef, u8>,
    path: &mut Vec<EndpointRef>,
) -> Option<Vec<EndpointRef>> {
    match mark.get(&node).copied().unwrap_or(0) {
        2 => return None,
        1 => {
            let from = path.iter().position(|&e| e == node).expect("node on path");
            let mut cycle = path[from..].to_vec();
            cycle.push(node);
            return Some(cycle);
        }
        _ => {}
    }
    mark.insert(node, 1);
    path.push(node);
    for step in &scenario.endpoint(node).steps {
        for call in step.calls() {
            if let Some(cycle) = find_cycle(scenario, call.target, mark, path) {
                return Some(cycle);
            }
        }
    }
    path.pop();
    mark.insert(node, 2);
    None
}

/// Where the file writes the call that closes `cycle` (its last edge).
fn closing_call_span(
    scenario: &Scenario,
    raw_services: &BTreeMap<String, RawService>,
    cycle: &[EndpointRef],
) -> Range<usize> {
    let [.., caller, callee] = cycle else {
        return 0..0;
    };
    let service = scenario.service(caller.service);
    let endpoint = &service.endpoints[caller.endpoint as usize];
    let target = scenario.endpoint_path(*callee);
    raw_services[&service.name].endpoints[&endpoint.name]
        .steps
        .get_ref()
        .iter()
        .filter_map(|step| step.get_ref().call.as_ref())
        .find(|call| *call.get_ref() == target)
        .map_or(0..0, Spanned::span)
}

/// `; did you mean "x"?` for the closest known name, if one is close.
fn did_you_mean<'a>(name: &str, known: impl Iterator<Item = &'a str>) -> String {
    known
        .map(|candidate| (strsim::damerau_levenshtein(name, candidate), candidate))
        .filter(|&(distance, candidate)| distance <= 2.max(candidate.len() / 3))
        .min()
        .map(|(_, candidate)| format!("; did you mean \"{candidate}\"?"))
        .unwrap_or_default()
}
