//! Invariants over generated worlds: random call graphs (acyclic by construction),
//! pool and queue sizes, timeouts, breakers, fallbacks, hang faults and loads.

use models::breaker::{
    BreakerState, FailureOn, HystrixSettings, TripRule, WindowKind, WindowSettings,
};
use models::retry::{Backoff, BudgetSpec, Jitter, RetryOn, RetryPolicy};
use models::spec::{
    Balancer, BreakerId, BreakerKind, BreakerSpec, BulkheadId, BulkheadKind, BulkheadSpec, Call,
    Capacity, Endpoint, EndpointRef, Fallback, FanOut, Fault, FaultKind, Hypothesis, Load,
    LoadModel, OutlierDetection, PolicyOrder, Probe, ProbeKind, RateChange, Repeat, Scenario,
    Service, ServiceId, Step, Task, Think,
};
use models::{simulate, RunReport};
use proptest::prelude::*;
use sim_core::{Distribution, SimDuration, SimTime};

fn ms(value: u64) -> SimDuration {
    SimDuration::from_millis(value)
}

fn distribution() -> impl Strategy<Value = Distribution> {
    prop_oneof![
        (0u64..20).prop_map(|v| Distribution::Constant(ms(v))),
        (1u64..20).prop_map(|v| Distribution::exponential(ms(v)).unwrap()),
        (0u64..10, 0u64..10).prop_map(|(a, b)| Distribution::uniform(ms(a), ms(a + b)).unwrap()),
        (1u64..10, 0u64..30)
            .prop_map(|(m, extra)| Distribution::lognormal(ms(m), ms(m + extra)).unwrap()),
        (0u64..10, 0u64..10).prop_map(|(m, s)| Distribution::normal(ms(m), ms(s))),
    ]
}

fn capacity(min: u32) -> impl Strategy<Value = Capacity> {
    prop_oneof![
        3 => (min..6).prop_map(Capacity::Bounded),
        1 => Just(Capacity::Unbounded),
    ]
}

fn fallback() -> impl Strategy<Value = Fallback> {
    prop_oneof![
        Just(Fallback::Degraded),
        Just(Fallback::Propagate),
        (400u16..600).prop_map(|status| Fallback::Fail { status }),
    ]
}

/// A step of service `index`: work, or a call to a later service (so no cycles).
fn step(index: usize, services: usize, breakers: usize) -> BoxedStrategy<Step> {
    let work = distribution().prop_map(Step::Work);
    if index + 1 >= services {
        return work.boxed();
    }
    let call = (
        (index + 1)..services,
        proptest::option::of(1u64..300),
        proptest::option::of(1u64..300),
        proptest::option::of(0..breakers),
        fallback(),
        proptest::option::of(retry()),
        (any::<bool>(), any::<bool>()),
    )
        .prop_map(
            |(target, timeout, connect_timeout, breaker, fallback, retry, (outer, propagate))| {
                Call {
                    target: EndpointRef {
                        service: ServiceId(target as u32),
                        endpoint: 0,
                    },
                    timeout: timeout.map(ms),
                    connect_timeout: connect_timeout.map(ms),
                    breaker: breaker.map(|b| BreakerId(b as u32)),
                    retry,
                    // Worlds have as many bulkheads as breakers; a call guarded by
                    // breaker b goes through bulkhead b when its timeout is odd.
                    bulkhead: breaker
                        .filter(|_| timeout.is_some_and(|t| t % 2 == 1))
                        .map(|b| BulkheadId(b as u32)),
                    fallback,
                    order: if outer {
                        PolicyOrder::BreakerOutsideRetry
                    } else {
                        PolicyOrder::RetryOutsideBreaker
                    },
                    propagate_deadline: propagate,
                }
            },
        )
        .boxed();
    let fan_out = (
        proptest::collection::vec(call.clone(), 1..4),
        0u32..3,
        fallback(),
    )
        .prop_map(|(calls, wait, fallback)| {
            let wait_for = 1 + wait % calls.len() as u32;
            Step::Parallel(FanOut {
                calls,
                wait_for,
                fallback,
            })
        });
    prop_oneof![3 => work, 3 => call.prop_map(Step::Call), 1 => fan_out].boxed()
}

fn retry() -> impl Strategy<Value = RetryPolicy> {
    let backoff = prop_oneof![
        (0u64..50, proptest::option::of(1u64..200)).prop_map(|(base, cap)| Backoff::Constant {
            base: ms(base),
            cap: cap.map(ms)
        }),
        (0u64..50, proptest::option::of(1u64..200)).prop_map(|(base, cap)| Backoff::Linear {
            base: ms(base),
            cap: cap.map(ms)
        }),
        (0u64..50, 1.0f64..3.0, proptest::option::of(1u64..200)).prop_map(
            |(base, multiplier, cap)| Backoff::Exponential {
                base: ms(base),
                multiplier,
                cap: cap.map(ms)
            }
        ),
    ];
    let jitter = prop_oneof![
        Just(Jitter::None),
        Just(Jitter::Full),
        Just(Jitter::Equal),
        Just(Jitter::Decorrelated)
    ];
    let budget = proptest::option::of(prop_oneof![
        (1u64..60, 0u32..20, 0.0f64..2.0).prop_map(|(ttl, min, percent)| BudgetSpec::Finagle {
            ttl: SimDuration::from_secs(ttl),
            min_retries_per_sec: min,
            percent_can_retry: percent,
        }),
        (1u32..20, 0.01f64..1.0).prop_map(|(max_tokens, token_ratio)| BudgetSpec::Grpc {
            max_tokens,
            token_ratio
        }),
    ]);
    (1u32..5, backoff, jitter, any::<[bool; 6]>(), budget).prop_map(
        |(max_attempts, backoff, jitter, on, budget)| RetryPolicy {
            max_attempts,
            backoff,
            jitter,
            retry_on: RetryOn {
                server_errors: on[0],
                status_408: on[1],
                status_429: on[2],
                timeouts: on[3],
                connection: on[4],
                rejections: on[5],
            },
            budget,
        },
    )
}

fn breaker(index: usize) -> impl Strategy<Value = BreakerSpec> {
    let name = format!("b{index}");
    let consecutive = (
        1u32..5,
        1u64..500,
        1u32..3,
        proptest::option::of(100u64..2000),
        proptest::option::of((0.05f64..1.0, 1u32..6)),
        failure_on(),
    )
        .prop_map({
            let name = name.clone();
            move |(failures, open_for, half_open_calls, interval, ratio, failure_on)| {
                let mut spec = BreakerSpec::consecutive(
                    &name,
                    failures,
                    ms(open_for),
                    half_open_calls,
                    interval.map(ms),
                );
                if let (BreakerKind::Consecutive(settings), Some((ratio, min_requests))) =
                    (&mut spec.kind, ratio)
                {
                    settings.trip = TripRule::FailureRatio {
                        ratio,
                        min_requests,
                    };
                }
                spec.failure_on = failure_on;
                spec
            }
        });
    let hystrix = (
        (1u64..40, 1u64..8),
        (0u32..6, 1u32..=100),
        (
            0u64..500,
            // Rarely forced, so that most runs exercise the state machine.
            prop_oneof![8 => Just((false, false)), 1 => Just((true, false)), 1 => Just((false, true))],
        ),
        failure_on(),
    )
        .prop_map({
            let name = name.clone();
            move |(
                (interval_ms, buckets),
                (volume, threshold),
                (sleep_ms, (force_open, force_closed)),
                failure_on,
            )| BreakerSpec {
                name: name.clone(),
                kind: BreakerKind::Hystrix(HystrixSettings {
                    rolling_window: ms(interval_ms * buckets),
                    rolling_buckets: 1,
                    health_snapshot_interval: ms(interval_ms),
                    request_volume_threshold: volume,
                    error_threshold_percentage: threshold,
                    sleep_window: ms(sleep_ms),
                    force_open,
                    force_closed,
                }),
                failure_on,
            }
        });
    let window = (
        any::<bool>(),
        1u32..8,
        1u32..8,
        (1.0f64..100.0, 1.0f64..100.0),
        (1u64..200, 1u32..4, 1u64..500),
        (1.0f64..3.0, any::<bool>(), proptest::option::of(1u64..300)),
    )
        .prop_map(
            move |(
                time_based,
                size,
                minimum_calls,
                (failure_rate, slow_rate),
                (slow_ms, half_open_calls, open_ms),
                (multiplier, automatic, half_open_max),
            )| {
                let window = if time_based {
                    WindowKind::Time(size)
                } else {
                    WindowKind::Count(size)
                };
                BreakerSpec {
                    name: name.clone(),
                    kind: BreakerKind::Window(WindowSettings {
                        window,
                        minimum_calls,
                        failure_rate_threshold: failure_rate,
                        slow_call_rate_threshold: slow_rate,
                        slow_call_duration: ms(slow_ms),
                        half_open_calls,
                        open_for: ms(open_ms),
                        open_for_multiplier: multiplier,
                        open_for_max: None,
                        automatic_transition: automatic,
                        half_open_max_wait: half_open_max.map(ms),
                    }),
                    failure_on: FailureOn::default(),
                }
            },
        );
    prop_oneof![consecutive, window, hystrix]
}

/// The default classification most of the time, otherwise a random one.
fn failure_on() -> impl Strategy<Value = FailureOn> {
    prop_oneof![
        3 => Just(FailureOn::default()),
        1 => (any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>()).prop_map(
            |(server, client, timeouts, connection, bulkhead)| {
                let mut failures = FailureOn::nothing();
                if server {
                    failures.add_class(5);
                }
                if client {
                    failures.add_status(408);
                }
                failures.timeouts = timeouts;
                failures.connection = connection;
                failures.bulkhead = bulkhead;
                failures
            }
        ),
    ]
}

fn scenario() -> impl Strategy<Value = Scenario> {
    (1usize..5, 1usize..3).prop_flat_map(|(services, breakers)| {
        let service_strategies: Vec<_> = (0..services)
            .map(|index| {
                (
                    capacity(1),
                    capacity(0),
                    proptest::collection::vec(step(index, services, breakers), 1..4),
                    (1u32..4, 0usize..3, proptest::option::of((1u32..4, 1u64..500, 0.0f64..100.0))),
                )
                    .prop_map(move |(workers, queue, steps, (replicas, balancer, outlier))| Service {
                        name: format!("s{index}"),
                        workers,
                        queue,
                        endpoints: vec![Endpoint {
                            name: "e".into(),
                            steps,
                        }],
                        replicas,
                        balancer: [Balancer::RoundRobin, Balancer::Random, Balancer::LeastOutstanding][balancer],
                        outlier: outlier.map(|(consecutive_5xx, base, max_ejection_percent)| OutlierDetection {
                            consecutive_5xx,
                            interval: ms(base),
                            base_ejection_time: ms(base * 2),
                            max_ejection_time: ms(base * 5),
                            max_ejection_percent,
                        }),
                    })
            })
            .collect();
        let breaker_strategies: Vec<_> = (0..breakers).map(breaker).collect();
        let bulkhead_strategies: Vec<_> = (0..breakers)
            .map(|index| {
                (1u32..4, 0u64..100).prop_map(move |(max_concurrent, wait)| BulkheadSpec {
                    name: format!("k{index}"),
                    max_concurrent,
                    // Odd waits make thread pools, queueing up to `wait % 4` calls.
                    kind: if wait % 2 == 1 {
                        BulkheadKind::ThreadPool {
                            queue_capacity: (wait % 4) as u32,
                        }
                    } else {
                        BulkheadKind::Semaphore { max_wait: ms(wait) }
                    },
                })
            })
            .collect();
        let fault_kind = prop_oneof![
            2 => (1u64..2000, 200u16..600).prop_map(|(hold, status)| FaultKind::Hang { hold: ms(hold), status }),
            1 => (0.01f64..1.0, 400u16..600).prop_map(|(probability, status)| FaultKind::Error { probability, status }),
            1 => (0u64..100, 0u64..100).prop_map(|(low, extra)| FaultKind::Latency { latency: ms(low), jitter: ms(extra) }),
            1 => Just(FaultKind::Kill),
            1 => Just(FaultKind::Blackhole),
            1 => Just(FaultKind::HangForever),
            1 => (1u64..500, 0u64..500, 1.0f64..5.0).prop_map(|(down, cold, cold_factor)| FaultKind::Restart {
                down_for: ms(down),
                cold_start: ms(cold),
                cold_factor,
            }),
            1 => (1.0f64..5.0).prop_map(|factor| FaultKind::Slowdown { factor }),
        ];
        let fault = (
            0..services,
            0u64..2000,
            1u64..3000,
            fault_kind,
            proptest::option::of((1u64..400, 1u64..400)),
            1u32..4,
        )
            .prop_map(
                |(service, from, length, kind, repeat, replicas_hit)| Fault {
                    service: ServiceId(service as u32),
                    kind,
                    from: SimTime::ZERO + ms(from),
                    until: Some(SimTime::ZERO + ms(from + length)),
                    repeat: repeat.map(|(lasting, gap)| Repeat {
                        every: ms(lasting + gap),
                        lasting: ms(lasting),
                    }),
                    replicas_hit,
                },
            );
        (
            service_strategies,
            (breaker_strategies, bulkhead_strategies),
            proptest::collection::vec(fault, 0..3),
            (
                1u32..40,
                proptest::option::weighted(0.3, 1u32..400),
                proptest::collection::vec((0u64..3000, 0u32..400, 0u64..500), 0..3),
                proptest::option::of((0..services, 1u32..4)),
            ),
            1u32..30,
            0u64..200,
            proptest::option::of(1u64..500),
            500u64..5000,
            any::<u64>(),
            proptest::option::of(hypothesis(breakers)),
        )
            .prop_map(
                |(
                    services,
                    (breakers, bulkheads),
                    faults,
                    (users, open_rate, rate_changes, second_task),
                    spawn_rate,
                    wait_max,
                    timeout,
                    duration,
                    seed,
                    hypothesis,
                )| Scenario {
                    name: "generated".into(),
                    seed,
                    duration: ms(duration),
                    window: ms(250),
                    warmup: ms(duration / 4),
                    load: Load {
                        model: match open_rate {
                            Some(rate) => LoadModel::Open {
                                rate: f64::from(rate),
                                schedule: {
                                    // In time order, each ramp over before the next change.
                                    let mut at = 0;
                                    rate_changes
                                        .iter()
                                        .map(|&(gap, rate, ramp)| {
                                            at += gap;
                                            let change = RateChange {
                                                at: SimTime::ZERO + ms(at),
                                                rate: f64::from(rate),
                                                ramp: ms(ramp),
                                            };
                                            at += ramp;
                                            change
                                        })
                                        .collect()
                                },
                            },
                            None => LoadModel::Closed {
                                users,
                                spawn_rate: f64::from(spawn_rate),
                                // Every fifth world paces its users instead of sampling.
                                wait: if wait_max % 5 == 0 {
                                    Think::Pacing(ms(wait_max))
                                } else {
                                    Think::Sample(Distribution::uniform(SimDuration::ZERO, ms(wait_max)).unwrap())
                                },
                            },
                        },
                        tasks: std::iter::once(Task {
                            target: EndpointRef {
                                service: ServiceId(0),
                                endpoint: 0,
                            },
                            weight: 1,
                        })
                        .chain(second_task.map(|(service, weight)| Task {
                            target: EndpointRef {
                                service: ServiceId(service as u32),
                                endpoint: 0,
                            },
                            weight,
                        }))
                        .collect(),
                        timeout: timeout.map(ms),
                    },
                    services,
                    breakers,
                    bulkheads,
                    faults,
                    hypothesis: hypothesis.map(|mut hypothesis| {
                        // Keep both checks inside the run.
                        let end = SimTime::ZERO + ms(duration);
                        hypothesis.after_at = hypothesis.after_at.min(end);
                        hypothesis.before_at = hypothesis.before_at.min(hypothesis.after_at);
                        hypothesis
                    }),
                },
            )
    })
}

fn hypothesis(breakers: usize) -> impl Strategy<Value = Hypothesis> {
    let probe = prop_oneof![
        (
            proptest::collection::vec(100u16..600, 1..3),
            proptest::option::of(1u64..500)
        )
            .prop_map(|(statuses, timeout)| ProbeKind::Http {
                target: EndpointRef {
                    service: ServiceId(0),
                    endpoint: 0
                },
                statuses,
                timeout: timeout.map(ms),
            }),
        (1u64..2000, 0.0f64..1.0).prop_map(|(window, min)| ProbeKind::SuccessRate {
            window: ms(window),
            min,
            max: 1.0
        }),
        (1u64..2000, 0.5f64..1.0, 1u64..500).prop_map(|(window, quantile, max)| {
            ProbeKind::Latency {
                window: ms(window),
                quantile,
                max: ms(max),
            }
        }),
        (0..breakers, 0usize..3).prop_map(|(breaker, state)| ProbeKind::BreakerState {
            breaker: BreakerId(breaker as u32),
            state: [
                BreakerState::Closed,
                BreakerState::Open,
                BreakerState::HalfOpen
            ][state],
        }),
    ];
    (
        0u64..2000,
        1u64..3000,
        proptest::collection::vec(probe, 1..4),
    )
        .prop_map(|(before, gap, kinds)| Hypothesis {
            title: "generated".into(),
            before_at: SimTime::ZERO + ms(before),
            after_at: SimTime::ZERO + ms(before + gap),
            probes: kinds
                .into_iter()
                .enumerate()
                .map(|(index, kind)| Probe {
                    name: format!("p{index}"),
                    kind,
                })
                .collect(),
        })
}

fn outcome_total(report: &RunReport) -> u64 {
    report.ok
        + report.degraded
        + report.errors
        + report.rejected
        + report.timed_out
        + report.in_flight
}

fn legal(from: &str, to: &str) -> bool {
    matches!(
        (from, to),
        ("closed", "open")
            | ("open", "half_open")
            | ("half_open", "open")
            | ("half_open", "closed")
    )
}

/// CI runs a fixed number of cases; `PROPTEST_CASES=20000 cargo test --release`
/// runs a longer search.
fn cases_or(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The fastest ok answer seen.
struct Fastest(Option<SimDuration>);

impl models::Observer for Fastest {
    fn request_ended(&mut self, record: &models::RequestRecord) {
        if record.outcome == "ok" {
            let latency = record.ended.since(record.issued);
            self.0 = Some(self.0.map_or(latency, |fastest| fastest.min(latency)));
        }
    }
}

/// The least time an ok answer from `target` can take.
fn path_floor(scenario: &Scenario, target: EndpointRef) -> SimDuration {
    let service = scenario.service(target.service);
    // A hang that answers a success skips the steps: it only holds the worker.
    let short_cut = scenario.faults.iter().any(|fault| {
        fault.service == target.service
            && matches!(fault.kind, FaultKind::Hang { status, .. } if status < 400)
    });
    if short_cut {
        return SimDuration::ZERO;
    }
    let steps = &service.endpoints[target.endpoint as usize].steps;
    let mut total = SimDuration::ZERO;
    for step in steps {
        total = total
            + match step {
                Step::Work(Distribution::Constant(d)) => *d,
                Step::Work(Distribution::Uniform { low, .. }) => *low,
                Step::Work(_) => SimDuration::ZERO,
                Step::Call(call) => path_floor(scenario, call.target),
                Step::Parallel(group) => {
                    let mut floors: Vec<SimDuration> = group
                        .calls
                        .iter()
                        .map(|call| path_floor(scenario, call.target))
                        .collect();
                    floors.sort();
                    floors[group.wait_for as usize - 1]
                }
            };
    }
    total
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases_or(200)))]

    /// Every request issued ends exactly once (or is still in flight), and the
    /// per-status errors add up to the errors.
    #[test]
    fn requests_are_conserved(scenario in scenario()) {
        let report = simulate(&scenario);
        prop_assert_eq!(outcome_total(&report), report.requests);
        prop_assert_eq!(report.errors, report.errors_by_status.values().sum::<u64>());
        prop_assert_eq!(report.failures, report.errors + report.rejected + report.timed_out);
        prop_assert_eq!(report.completed + report.in_flight, report.requests);
        let windows = &report.timeline.windows;
        prop_assert_eq!(windows.iter().map(|w| w.completed).sum::<u64>(), report.completed);
        prop_assert_eq!(windows.iter().map(|w| w.ok).sum::<u64>(), report.ok);
        prop_assert_eq!(windows.iter().map(|w| w.degraded).sum::<u64>(), report.degraded);
        prop_assert_eq!(windows.iter().map(|w| w.failed).sum::<u64>(), report.failures);
        for window in windows {
            prop_assert_eq!(window.completed, window.ok + window.degraded + window.failed);
        }
        if let LoadModel::Closed { users, .. } = scenario.load.model {
            prop_assert!(report.in_flight <= u64::from(users));
        }
    }

    /// An answer that is ok (neither degraded nor failed) did every step on its path,
    /// so it took at least the least time those steps can take: the work steps'
    /// lower bounds, through every call, and through the fastest `wait_for` calls
    /// of a fan-out. Faults, queues, retries and backoff only add to it.
    #[test]
    fn ok_answers_are_never_faster_than_the_work_on_their_path(scenario in scenario()) {
        let floor = scenario
            .load
            .tasks
            .iter()
            .map(|task| path_floor(&scenario, task.target))
            .min()
            .expect("at least one task");
        let mut fastest = Fastest(None);
        models::simulate_observed(&scenario, &mut fastest);
        if let Some(fastest) = fastest.0 {
            prop_assert!(fastest >= floor, "an ok answer in {fastest} below the floor {floor}");
        }
    }

    /// Same scenario and seed, same report.
    #[test]
    fn runs_are_deterministic(scenario in scenario()) {
        prop_assert_eq!(simulate(&scenario), simulate(&scenario));
    }

    /// Busy workers never exceed the pool, and a service never completes more jobs
    /// than arrived.
    #[test]
    fn pools_respect_their_capacity(scenario in scenario()) {
        let report = simulate(&scenario);
        for (spec, service) in scenario.services.iter().zip(&report.services) {
            let replicas = u64::from(spec.replicas);
            // Capacity is per replica; the service's figures add its replicas up.
            if let Capacity::Bounded(workers) = spec.workers {
                let all = u64::from(workers) * replicas;
                prop_assert!(service.busy_max <= all, "{} busy {}", spec.name, service.busy_max);
                prop_assert!(service.busy_mean <= all as f64 + 1e-9);
                for replica in &service.replicas {
                    prop_assert!(replica.busy_max <= u64::from(workers));
                }
            }
            if let Capacity::Bounded(queue) = spec.queue {
                prop_assert!(service.queue_max <= u64::from(queue) * replicas);
                for replica in &service.replicas {
                    prop_assert!(replica.queue_max <= u64::from(queue));
                }
            }
            prop_assert!(service.completed + service.rejected <= service.arrivals);
            prop_assert!(service.abandoned <= service.completed + service.rejected);
            if spec.replicas > 1 {
                prop_assert_eq!(service.replicas.len() as u64, replicas);
                let arrivals: u64 = service.replicas.iter().map(|r| r.arrivals).sum();
                let completed: u64 = service.replicas.iter().map(|r| r.completed).sum();
                prop_assert_eq!(arrivals, service.arrivals);
                prop_assert_eq!(completed, service.completed);
            }
        }
    }

    /// Breakers only make the moves of their state machine (never closed to
    /// half-open), each transition leaves the state the previous one entered, and
    /// transitions are in time order within the run.
    #[test]
    fn breaker_transitions_are_legal(scenario in scenario()) {
        let report = simulate(&scenario);
        for breaker in &report.breakers {
            let mut state = "closed";
            let mut last_ms = 0.0;
            for t in &breaker.transitions {
                prop_assert_eq!(t.from, state);
                prop_assert!(legal(t.from, t.to), "{} -> {}", t.from, t.to);
                prop_assert!(t.at_ms >= last_ms);
                prop_assert!(t.at_ms <= scenario.duration.as_millis_f64());
                state = t.to;
                last_ms = t.at_ms;
            }
        }
    }

    /// A Hystrix breaker opens from closed only on a health snapshot: a whole number
    /// of snapshot intervals after its stream started (the run's start, or the
    /// breaker's last close), never at the failure itself.
    #[test]
    fn hystrix_breakers_open_from_closed_only_on_snapshots(scenario in scenario()) {
        let report = simulate(&scenario);
        for (spec, breaker) in scenario.breakers.iter().zip(&report.breakers) {
            let BreakerKind::Hystrix(settings) = spec.kind else { continue };
            if settings.force_open {
                continue;
            }
            let interval_ms = settings.health_snapshot_interval.as_millis_f64();
            let mut stream_start_ms = 0.0;
            for t in &breaker.transitions {
                match (t.from, t.to) {
                    ("half_open", "closed") => stream_start_ms = t.at_ms,
                    ("closed", "open") => {
                        let steps = (t.at_ms - stream_start_ms) / interval_ms;
                        prop_assert!(
                            steps.round() >= 1.0 && (steps - steps.round()).abs() < 0.005,
                            "opened at {} ms, stream from {} ms, snapshots every {} ms",
                            t.at_ms, stream_start_ms, interval_ms
                        );
                    }
                    _ => {}
                }
            }
        }
    }

    /// Latencies are ordered and bounded by the run.
    #[test]
    fn latency_summary_is_ordered(scenario in scenario()) {
        let report = simulate(&scenario);
        let l = &report.latency_ms;
        prop_assert!(l.p50 <= l.p95 && l.p95 <= l.p99 && l.p99 <= l.max);
        prop_assert!(l.mean <= l.max);
        prop_assert!(l.max <= scenario.duration.as_millis_f64());
    }

    /// A hypothesis always reaches a verdict consistent with its checks, and the
    /// journal is in time order within the run.
    #[test]
    fn hypotheses_reach_a_consistent_verdict(scenario in scenario()) {
        let report = simulate(&scenario);
        if let Some(hypothesis) = &report.hypothesis {
            let expected = match (hypothesis.met_before, hypothesis.met_after) {
                (false, _) => "failed",
                (true, Some(true)) => "completed",
                (true, _) => "deviated",
            };
            prop_assert_eq!(hypothesis.verdict, expected);
            if !hypothesis.met_before {
                prop_assert!(hypothesis.met_after.is_none(), "the after-check is skipped when the before-check fails");
            }
            let times: Vec<f64> = hypothesis.journal.iter().map(|e| e.at_ms).collect();
            prop_assert!(times.windows(2).all(|w| w[0] <= w[1]), "{:?}", times);
            prop_assert!(times.iter().all(|&t| t <= scenario.duration.as_millis_f64()));
            let last = &hypothesis.journal.last().unwrap().message;
            prop_assert!(last.ends_with(hypothesis.verdict), "{}", last);
        } else {
            prop_assert!(scenario.hypothesis.is_none());
        }
    }

    /// Changing a breaker does not change the think times users draw: with no
    /// calls at all, the breaker list is irrelevant and the reports must agree.
    #[test]
    fn unrelated_breakers_do_not_shift_random_streams(scenario in scenario(), extra in breaker(9)) {
        let mut with_extra = scenario.clone();
        with_extra.breakers.push(extra);
        let a = simulate(&scenario);
        let mut b = simulate(&with_extra);
        b.breakers.pop();
        for window in &mut b.timeline.windows {
            window.breaker_states.pop();
        }
        prop_assert_eq!(a, b);
    }
}

/// A request can never be faster than the work on its path: one service with a
/// constant 7 ms of work gives every answer at least 7 ms.
#[test]
fn latency_is_never_below_the_work_on_the_path() {
    let scenario = Scenario {
        name: "floor".into(),
        seed: 3,
        duration: SimDuration::from_secs(5),
        window: SimDuration::from_secs(1),
        warmup: SimDuration::ZERO,
        load: Load {
            model: LoadModel::Closed {
                users: 20,
                spawn_rate: 20.0,
                wait: Think::Sample(Distribution::exponential(ms(5)).unwrap()),
            },
            tasks: vec![Task {
                target: EndpointRef {
                    service: ServiceId(0),
                    endpoint: 0,
                },
                weight: 1,
            }],
            timeout: None,
        },
        services: vec![
            Service {
                replicas: 1,
                balancer: Balancer::RoundRobin,
                outlier: None,
                name: "a".into(),
                workers: Capacity::Bounded(2),
                queue: Capacity::Unbounded,
                endpoints: vec![Endpoint {
                    name: "e".into(),
                    steps: vec![
                        Step::Work(Distribution::Constant(ms(3))),
                        Step::Call(Call {
                            order: PolicyOrder::RetryOutsideBreaker,
                            propagate_deadline: false,
                            target: EndpointRef {
                                service: ServiceId(1),
                                endpoint: 0,
                            },
                            timeout: None,
                            connect_timeout: None,
                            retry: None,
                            bulkhead: None,
                            breaker: None,
                            fallback: Fallback::Propagate,
                        }),
                    ],
                }],
            },
            Service {
                replicas: 1,
                balancer: Balancer::RoundRobin,
                outlier: None,
                name: "b".into(),
                workers: Capacity::Unbounded,
                queue: Capacity::Unbounded,
                endpoints: vec![Endpoint {
                    name: "e".into(),
                    steps: vec![Step::Work(Distribution::Constant(ms(4)))],
                }],
            },
        ],
        breakers: vec![],
        bulkheads: vec![],
        faults: vec![],
        hypothesis: None,
    };
    let report = simulate(&scenario);
    assert!(report.completed > 100);
    assert!(
        report.latency_ms.p50 >= 7.0 - 0.01,
        "{:?}",
        report.latency_ms
    );
    // With 2 workers, 20 users and 7 ms of service each, the pool is the bottleneck:
    // throughput cannot exceed 2 / 7 ms = 285.7 req/s.
    assert!(
        report.throughput_rps <= 2.0 / 0.007 + 1.0,
        "{}",
        report.throughput_rps
    );
    assert!(
        report.throughput_rps >= 0.9 * 2.0 / 0.007,
        "{}",
        report.throughput_rps
    );
}

/// Regression (found by `latency_summary_is_ordered` overflowing the stack): jobs
/// that finish at the instant they start, one after another from a long queue, used
/// to recurse once per queued job.
#[test]
fn draining_a_long_queue_at_one_instant_does_not_recurse() {
    let users = 200_000;
    let scenario = Scenario {
        name: "long-queue".into(),
        seed: 1,
        duration: SimDuration::from_secs(1),
        window: SimDuration::from_secs(1),
        warmup: SimDuration::ZERO,
        load: Load {
            model: LoadModel::Closed {
                users,
                spawn_rate: f64::from(users),
                wait: Think::Sample(Distribution::Constant(SimDuration::from_secs(10))),
            },
            tasks: vec![Task {
                target: EndpointRef {
                    service: ServiceId(0),
                    endpoint: 0,
                },
                weight: 1,
            }],
            timeout: None,
        },
        services: vec![
            Service {
                replicas: 1,
                balancer: Balancer::RoundRobin,
                outlier: None,
                name: "front".into(),
                workers: Capacity::Bounded(1),
                queue: Capacity::Unbounded,
                endpoints: vec![Endpoint {
                    name: "e".into(),
                    steps: vec![Step::Call(Call {
                        order: PolicyOrder::RetryOutsideBreaker,
                        propagate_deadline: false,
                        target: EndpointRef {
                            service: ServiceId(1),
                            endpoint: 0,
                        },
                        timeout: None,
                        connect_timeout: None,
                        retry: None,
                        bulkhead: None,
                        breaker: Some(BreakerId(0)),
                        fallback: Fallback::Fail { status: 500 },
                    })],
                }],
            },
            Service {
                replicas: 1,
                balancer: Balancer::RoundRobin,
                outlier: None,
                name: "back".into(),
                workers: Capacity::Unbounded,
                queue: Capacity::Unbounded,
                endpoints: vec![Endpoint {
                    name: "e".into(),
                    steps: vec![Step::Work(Distribution::Constant(ms(1)))],
                }],
            },
        ],
        // The first failure opens the breaker for longer than the run, so every
        // queued job is rejected by it at once.
        breakers: vec![BreakerSpec::consecutive(
            "b",
            1,
            SimDuration::from_secs(60),
            1,
            None,
        )],
        bulkheads: vec![],
        faults: vec![Fault {
            repeat: None,
            replicas_hit: 1,
            service: ServiceId(1),
            kind: FaultKind::Hang {
                hold: ms(1),
                status: 500,
            },
            from: SimTime::ZERO,
            until: None,
        }],
        hypothesis: None,
    };
    let report = simulate(&scenario);
    assert_eq!(report.completed, u64::from(users));
    assert_eq!(report.errors_by_status.get("500"), Some(&u64::from(users)));
}
