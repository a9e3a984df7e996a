//! Per-window sampling of the run, in bounded memory: one open window accumulates,
//! and each closed window becomes a row of numbers.

use sim_core::{EventQueue, LatencyHistogram, SimDuration, SimTime};

use super::users::UserOutcome;
use super::{per_window, Event, Simulation};
use crate::report::{round_to, Window};
use crate::spec::Scenario;

pub(super) struct TimelineRecorder {
    start: SimTime,
    completed: u64,
    ok: u64,
    degraded: u64,
    failed: u64,
    rejected: u64,
    latency: LatencyHistogram,
    busy_area_before: Vec<u128>,
    queue_area_before: Vec<u128>,
    pub(super) windows: Vec<Window>,
}

impl TimelineRecorder {
    /// Schedules the end of every window but the last, which closes with the run.
    pub(super) fn new(scenario: &Scenario, queue: &mut EventQueue<Event>) -> Self {
        let width = scenario.window;
        let count = scenario
            .duration
            .as_nanos()
            .div_ceil(width.as_nanos())
            .max(1);
        for index in 1..count {
            queue.schedule(SimTime(index * width.as_nanos()), Event::WindowEnd);
        }
        TimelineRecorder {
            start: SimTime::ZERO,
            completed: 0,
            ok: 0,
            degraded: 0,
            failed: 0,
            rejected: 0,
            latency: LatencyHistogram::new(),
            busy_area_before: vec![0; scenario.services.len()],
            queue_area_before: vec![0; scenario.services.len()],
            windows: Vec::with_capacity(count as usize),
        }
    }

    pub(super) fn record(&mut self, latency: SimDuration, outcome: UserOutcome) {
        self.completed += 1;
        match outcome {
            UserOutcome::Ok => self.ok += 1,
            UserOutcome::Degraded => self.degraded += 1,
            UserOutcome::Rejected => {
                self.failed += 1;
                self.rejected += 1;
            }
            _ => self.failed += 1,
        }
        self.latency.record(latency);
    }
}

impl Simulation<'_> {
    pub(super) fn close_window(&mut self) {
        let now = self.now();
        self.close_window_at(now);
    }

    /// Closes the open window at the end of the run.
    pub(super) fn close_last_window(&mut self, end: SimTime) {
        self.close_window_at(end);
    }

    fn close_window_at(&mut self, end: SimTime) {
        let ms = |d: SimDuration| round_to(d.as_millis_f64(), 3);
        let recorder = &mut self.timeline;
        let width = end.since(recorder.start);
        let mut busy_mean = Vec::with_capacity(self.services.len());
        let mut queue_mean = Vec::with_capacity(self.services.len());
        for (index, service) in self.services.iter_mut().enumerate() {
            service.account_until(end);
            let busy = service.busy_area_ns - recorder.busy_area_before[index];
            let queued = service.queue_area_ns - recorder.queue_area_before[index];
            recorder.busy_area_before[index] = service.busy_area_ns;
            recorder.queue_area_before[index] = service.queue_area_ns;
            busy_mean.push(round_to(per_window(busy, width), 3));
            queue_mean.push(round_to(per_window(queued, width), 3));
        }
        let latency = &recorder.latency;
        recorder.windows.push(Window {
            start_ms: round_to(recorder.start.as_millis_f64(), 3),
            completed: recorder.completed,
            ok: recorder.ok,
            degraded: recorder.degraded,
            failed: recorder.failed,
            rejected: recorder.rejected,
            latency_mean_ms: ms(latency.mean()),
            latency_p50_ms: ms(latency.quantile(0.50)),
            latency_p95_ms: ms(latency.quantile(0.95)),
            latency_p99_ms: ms(latency.quantile(0.99)),
            in_flight: self.stats.waiting,
            busy_mean,
            queue_mean,
            breaker_states: self
                .breakers
                .iter()
                .map(|breaker| breaker.peek_state(end).as_str())
                .collect(),
        });
        recorder.start = end;
        recorder.completed = 0;
        recorder.ok = 0;
        recorder.degraded = 0;
        recorder.failed = 0;
        recorder.rejected = 0;
        recorder.latency.clear();
    }
}
