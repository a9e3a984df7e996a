//! The end of a run: counts, percentiles and states turned into a [`RunReport`].

use sim_core::SimDuration;

use super::services::ServiceState;
use super::{per_window, Simulation};
use crate::report::{
    round_to, BreakerReport, LatencySummary, RunReport, ServiceReport, SteadyState, TaskReport,
    Timeline, TransitionReport,
};
use crate::spec::{Capacity, Service, ServiceId};

impl Simulation<'_> {
    pub(super) fn report(&mut self) -> RunReport {
        let end = self.end_time();
        let open_waiting = self
            .open
            .as_ref()
            .map_or(0, |source| source.outstanding.len());
        let in_flight =
            (self.users.iter().filter(|user| user.is_waiting()).count() + open_waiting) as u64;
        let stats = &self.stats;
        let errors: u64 = stats.errors_by_status.values().sum();
        let completed = stats.ok + stats.degraded + errors + stats.rejected + stats.timed_out;
        assert_eq!(
            completed + in_flight,
            stats.issued,
            "request conservation broken (seed {})",
            self.scenario.seed
        );
        assert_eq!(in_flight, stats.waiting, "waiting-user count drifted");
        let span = stats.last_completion.as_secs_f64();
        let throughput = if span > 0.0 {
            completed as f64 / span
        } else {
            0.0
        };
        let scenario = self.scenario;
        let run_length = end.since(sim_core::SimTime::ZERO);
        let measured_length = SimDuration(
            run_length
                .as_nanos()
                .saturating_sub(scenario.warmup.as_nanos()),
        );
        let replicas: Vec<_> = (0..scenario.services.len())
            .map(|index| self.replica_reports(ServiceId(index as u32)))
            .collect();
        let services = scenario
            .services
            .iter()
            .zip(self.services.iter_mut())
            .zip(replicas)
            .map(|((spec, state), replicas)| {
                state.account_until(end);
                ServiceReport {
                    name: spec.name.clone(),
                    arrivals: state.arrivals,
                    rejected: state.rejected,
                    completed: state.completed,
                    abandoned: state.abandoned,
                    dropped: state.dropped,
                    retries: state.retries,
                    retries_denied: state.retries_denied,
                    busy_max: state.busy_max,
                    busy_mean: round_to(per_window(state.busy_area_ns, run_length), 3),
                    queue_max: state.queue_max,
                    steady: steady_state(spec, state, measured_length),
                    replicas,
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
        let latency = self.latency_summary();
        let hypothesis = self.hypothesis_report();
        let ms = |d: SimDuration| round_to(d.as_millis_f64(), 3);
        let tasks = self.task_stats.as_ref().map_or(Vec::new(), |stats| {
            scenario
                .load
                .tasks
                .iter()
                .zip(stats)
                .map(|(task, stats)| TaskReport {
                    target: scenario.endpoint_path(task.target),
                    weight: task.weight,
                    completed: stats.completed,
                    failures: stats.failures,
                    latency_mean_ms: ms(stats.latency.mean()),
                    latency_p50_ms: ms(stats.latency.quantile(0.50)),
                    latency_p95_ms: ms(stats.latency.quantile(0.95)),
                    latency_p99_ms: ms(stats.latency.quantile(0.99)),
                })
                .collect()
        });
        let stats = &self.stats;
        RunReport {
            name: scenario.name.clone(),
            target: scenario
                .load
                .tasks
                .iter()
                .map(|task| scenario.endpoint_path(task.target))
                .collect::<Vec<_>>()
                .join(", "),
            tasks,
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
            latency_ms: latency,
            breakers,
            bulkheads: self.bulkhead_reports(),
            services,
            timeline: Timeline {
                window_ms: round_to(scenario.window.as_millis_f64(), 3),
                windows: std::mem::take(&mut self.timeline.windows),
            },
            hypothesis,
            events: self.queue.events_delivered(),
            stopped_early: self.stopped_early.clone(),
        }
    }

    fn latency_summary(&self) -> LatencySummary {
        let histogram = &self.latency;
        let ms = |d: SimDuration| round_to(d.as_millis_f64(), 3);
        let q = |quantile: f64| ms(histogram.quantile(quantile));
        LatencySummary {
            mean: ms(histogram.mean()),
            min: ms(histogram.min()),
            p50: q(0.50),
            p66: q(0.66),
            p75: q(0.75),
            p80: q(0.80),
            p90: q(0.90),
            p95: q(0.95),
            p98: q(0.98),
            p99: q(0.99),
            p99_9: q(0.999),
            p99_99: q(0.9999),
            max: ms(histogram.max()),
        }
    }
}

fn steady_state(spec: &Service, state: &ServiceState, length: SimDuration) -> SteadyState {
    let m = &state.measured;
    let share = |part: u64, whole: u64| {
        if whole == 0 {
            0.0
        } else {
            part as f64 / whole as f64
        }
    };
    let mean_ms = |sum_ns: u128, count: u64| {
        if count == 0 {
            0.0
        } else {
            sum_ns as f64 / count as f64 / 1e6
        }
    };
    let seconds = length.as_secs_f64();
    let busy = state.busy_area_ns - m.busy_area_before_ns;
    let queued = state.queue_area_ns - m.queue_area_before_ns;
    SteadyState {
        measured_s: round_to(seconds, 6),
        arrivals: m.arrivals,
        throughput_rps: round_to(
            if seconds > 0.0 {
                m.completed as f64 / seconds
            } else {
                0.0
            },
            6,
        ),
        blocking: round_to(share(m.rejected, m.arrivals), 6),
        waited_share: round_to(share(m.waited, m.started), 6),
        wait_mean_ms: round_to(mean_ms(m.wait_ns, m.started), 6),
        response_mean_ms: round_to(mean_ms(m.response_ns, m.completed), 6),
        utilisation: match spec.workers {
            Capacity::Bounded(workers) => {
                Some(round_to(per_window(busy, length) / f64::from(workers), 6))
            }
            Capacity::Unbounded => None,
        },
        in_system_mean: round_to(per_window(busy + queued, length), 6),
    }
}
