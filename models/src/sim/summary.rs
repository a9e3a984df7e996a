//! The end of a run: counts, percentiles and states turned into a [`RunReport`].

use sim_core::SimDuration;

use super::{per_window, Simulation};
use crate::report::{
    round_to, BreakerReport, LatencySummary, RunReport, ServiceReport, Timeline, TransitionReport,
};

impl Simulation<'_> {
    pub(super) fn report(&mut self) -> RunReport {
        let end = self.end_time();
        let in_flight = self.users.iter().filter(|user| user.is_waiting()).count() as u64;
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
        let services = scenario
            .services
            .iter()
            .zip(self.services.iter_mut())
            .map(|(spec, state)| {
                state.account_until(end);
                ServiceReport {
                    name: spec.name.clone(),
                    arrivals: state.arrivals,
                    rejected: state.rejected,
                    completed: state.completed,
                    abandoned: state.abandoned,
                    busy_max: state.busy_max,
                    busy_mean: round_to(per_window(state.busy_area_ns, run_length), 3),
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
        let latency = self.latency_summary();
        let hypothesis = self.hypothesis_report();
        let stats = &self.stats;
        RunReport {
            name: scenario.name.clone(),
            target: scenario.endpoint_path(scenario.load.target),
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
