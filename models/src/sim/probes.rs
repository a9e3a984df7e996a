//! The steady-state hypothesis, run as Chaos Toolkit runs it: at each check the
//! probes go one after another, each waiting for the previous; the first probe out
//! of tolerance ends the check. A failed check before the method makes the
//! experiment `failed`: the method never acts, and the after-check is skipped; a
//! failed check after it makes it `deviated`. The method is the faults from the
//! before-check on: they act only once that check is met, as Chaos Toolkit starts
//! the method only then (faults from earlier are the state the check finds).

use std::collections::VecDeque;

use sim_core::{EventQueue, SimDuration, SimTime, TimerId};

use super::services::Unreachable;
use super::users::UserOutcome;
use super::{Answer, Event, Parent, Simulation, STATUS_NO_CONNECTION};
use crate::report::{round_to, HypothesisReport, JournalEntry};
use crate::spec::{FaultKind, Hypothesis, ProbeKind, Scenario};

struct PendingProbe {
    seq: u32,
    sent: SimTime,
    timer: Option<TimerId>,
}

#[derive(Clone, Copy)]
struct Phase {
    after: bool,
    next_probe: usize,
}

pub(super) struct ProbeRunner {
    phase: Option<Phase>,
    seq: u32,
    pending: Option<PendingProbe>,
    /// Completions still inside the longest look-back window: (end, latency, failed).
    recent: VecDeque<(SimTime, SimDuration, bool)>,
    keep_for: SimDuration,
    journal: Vec<(SimTime, u8, JournalEntry)>,
    met_before: Option<bool>,
    met_after: Option<bool>,
    /// When the verdict was reached; the journal stops there. After a failed
    /// before-check the faults never act; after the after-check they go on acting
    /// in the simulation, but are no longer part of the experiment.
    ended_at: Option<SimTime>,
    /// The after-check came due while the before-check was still waiting for a
    /// probe; as in Chaos Toolkit, it starts when the before-check is done.
    after_deferred: bool,
}

/// Journal entries at the same instant sort probes before faults: the hypothesis is
/// checked before the method acts.
const ORDER_PROBE: u8 = 0;
const ORDER_FAULT: u8 = 1;

impl ProbeRunner {
    pub(super) fn new(
        scenario: &Scenario,
        hypothesis: &Hypothesis,
        queue: &mut EventQueue<Event>,
    ) -> Self {
        queue.schedule(hypothesis.before_at, Event::ProbePhase { after: false });
        queue.schedule(hypothesis.after_at, Event::ProbePhase { after: true });
        let horizon = SimTime::ZERO + scenario.duration;
        let mut journal = scenario
            .faults
            .iter()
            .filter(|fault| fault.from <= horizon)
            .map(|fault| {
                let service = &scenario.service(fault.service).name;
                let action = match fault.kind {
                    FaultKind::Hang { hold, status } => {
                        format!("hang {service} ({hold}, then {status})")
                    }
                    FaultKind::Error {
                        probability,
                        status,
                    } => {
                        format!(
                            "fail {}% of {service}'s requests with {status}",
                            probability * 100.0
                        )
                    }
                    FaultKind::Latency { latency, jitter } => {
                        let (low, high) = FaultKind::latency_range(latency, jitter);
                        format!("add {low}..{high} latency to {service}")
                    }
                    FaultKind::Kill => format!("kill {service} (connections refused)"),
                    FaultKind::Blackhole => format!("blackhole {service} (connections time out)"),
                    FaultKind::HangForever => format!("hang {service} (never answers)"),
                    FaultKind::Restart {
                        down_for,
                        cold_start,
                        cold_factor,
                    } => format!(
                        "restart {service} (down {down_for}, then {cold_factor}x slower for {cold_start})"
                    ),
                    FaultKind::Slowdown { factor } => {
                        format!("slow {service}'s CPU ({factor}x slower work)")
                    }
                };
                let replicas = scenario.service(fault.service).replicas;
                let share = if fault.replicas_hit < replicas {
                    format!(" on {} of {replicas} replicas", fault.replicas_hit)
                } else {
                    String::new()
                };
                let repeat = fault.repeat.map_or(String::new(), |repeat| {
                    format!(", {} every {}", repeat.lasting, repeat.every)
                });
                let until = fault.until.map_or(String::new(), |until| {
                    format!(" until {}", until.since(SimTime::ZERO))
                });
                let until = format!("{share}{repeat}{until}");
                (
                    fault.from,
                    ORDER_FAULT,
                    entry(fault.from, "INFO", format!("Action: {action}{until}")),
                )
            })
            .collect::<Vec<_>>();
        let last_fault = scenario
            .faults
            .iter()
            .map(|fault| fault.from)
            .filter(|&from| from <= horizon)
            .max();
        if let Some(last) = last_fault.filter(|&last| hypothesis.after_at > last) {
            let pause = hypothesis.after_at.since(last);
            let message = format!("Pausing after activity for {pause}...");
            journal.push((last, ORDER_FAULT, entry(last, "INFO", message)));
        }
        ProbeRunner {
            phase: None,
            seq: 0,
            pending: None,
            recent: VecDeque::new(),
            keep_for: hypothesis.window_max(),
            journal,
            met_before: None,
            met_after: None,
            ended_at: None,
            after_deferred: false,
        }
    }

    pub(super) fn record_completion(
        &mut self,
        now: SimTime,
        latency: SimDuration,
        outcome: UserOutcome,
    ) {
        if self.keep_for == SimDuration::ZERO {
            return;
        }
        self.recent.push_back((now, latency, outcome.is_failure()));
        while let Some(&(end, _, _)) = self.recent.front() {
            if now.since(end) > self.keep_for {
                self.recent.pop_front();
            } else {
                break;
            }
        }
    }

    fn log(&mut self, at: SimTime, level: &'static str, message: String) {
        self.journal
            .push((at, ORDER_PROBE, entry(at, level, message)));
    }

    /// Completions that ended within `window` before `now` (inclusive).
    fn within(
        &self,
        now: SimTime,
        window: SimDuration,
    ) -> impl Iterator<Item = &(SimTime, SimDuration, bool)> {
        self.recent
            .iter()
            .filter(move |(end, _, _)| now.since(*end) <= window)
    }

    fn end_experiment(&mut self, now: SimTime) {
        let verdict = self.verdict();
        self.log(
            now,
            "INFO",
            format!("Experiment ended with status: {verdict}"),
        );
        self.ended_at = Some(now);
    }

    fn verdict(&self) -> &'static str {
        match (self.met_before, self.met_after) {
            (Some(true), Some(true)) => "completed",
            (Some(true), _) => "deviated",
            _ => "failed",
        }
    }
}

fn entry(at: SimTime, level: &'static str, message: String) -> JournalEntry {
    JournalEntry {
        at_ms: round_to(at.as_millis_f64(), 3),
        level,
        message,
    }
}

/// `7.3 ms`, `10.001 s`: a measured time, rounded for a log line.
fn readable(duration: SimDuration) -> String {
    let ms = duration.as_millis_f64();
    if ms < 1000.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{:.3} s", ms / 1000.0)
    }
}

/// The result of one probe: the value seen, and whether it was in tolerance.
struct Verdict {
    passed: bool,
    seen: String,
}

impl Simulation<'_> {
    fn hypothesis(&self) -> &Hypothesis {
        self.scenario
            .hypothesis
            .as_ref()
            .expect("probes run only with a hypothesis")
    }

    fn runner(&mut self) -> &mut ProbeRunner {
        self.probes
            .as_mut()
            .expect("probes run only with a hypothesis")
    }

    pub(super) fn start_probe_phase(&mut self, after: bool) {
        let now = self.now();
        let title = self.hypothesis().title.clone();
        let runner = self.runner();
        if after && runner.met_before == Some(false) {
            return;
        }
        if after && runner.phase.is_some() {
            runner.after_deferred = true;
            return;
        }
        runner.log(now, "INFO", format!("Steady state hypothesis: {title}"));
        runner.phase = Some(Phase {
            after,
            next_probe: 0,
        });
        self.run_next_probe();
    }

    /// Runs probes from the current one until one must wait for an answer, one
    /// fails, or none is left.
    fn run_next_probe(&mut self) {
        let now = self.now();
        loop {
            let Some(phase) = self.runner().phase else {
                return;
            };
            let scenario = self.scenario;
            let hypothesis = scenario.hypothesis.as_ref().expect("hypothesis");
            let Some(probe) = hypothesis.probes.get(phase.next_probe) else {
                let message = if phase.after {
                    "Steady state hypothesis is met!"
                } else {
                    "Steady state hypothesis is met, we can carry on!"
                };
                self.end_phase(phase.after, true, message.to_string());
                return;
            };
            self.runner()
                .log(now, "INFO", format!("Probe: {}", probe.name));
            let verdict = match &probe.kind {
                ProbeKind::Http {
                    target, timeout, ..
                } => {
                    let runner = self.runner();
                    runner.seq += 1;
                    let seq = runner.seq;
                    let timer = timeout.map(|t| {
                        self.queue
                            .schedule_cancellable(now + t, Event::ProbeTimeout { seq })
                    });
                    self.runner().pending = Some(PendingProbe {
                        seq,
                        sent: now,
                        timer,
                    });
                    match self.send_request(*target, Parent::Probe { seq }) {
                        Some(Unreachable::Refused) => {
                            self.probe_answered(seq, Answer::error(STATUS_NO_CONNECTION));
                        }
                        Some(Unreachable::Blackholed) | None => {}
                    }
                    return;
                }
                ProbeKind::SuccessRate { window, min, max } => {
                    let runner = self.runner();
                    let (total, failed) = runner
                        .within(now, *window)
                        .fold((0u64, 0u64), |(t, f), &(_, _, failed)| {
                            (t + 1, f + u64::from(failed))
                        });
                    if total == 0 {
                        Verdict {
                            passed: false,
                            seen: format!("no requests completed in the last {window}"),
                        }
                    } else {
                        let rate = (total - failed) as f64 / total as f64;
                        Verdict {
                            passed: rate >= *min && rate <= *max,
                            seen: format!(
                                "success rate {:.4} over {total} requests in the last {window}",
                                rate
                            ),
                        }
                    }
                }
                ProbeKind::Latency {
                    window,
                    quantile,
                    max,
                } => {
                    let mut latencies: Vec<SimDuration> = self
                        .runner()
                        .within(now, *window)
                        .map(|&(_, latency, _)| latency)
                        .collect();
                    if latencies.is_empty() {
                        Verdict {
                            passed: false,
                            seen: format!("no requests completed in the last {window}"),
                        }
                    } else {
                        latencies.sort_unstable();
                        // Nearest rank: the smallest value with at least q of the sample at or below it.
                        let rank = ((quantile * latencies.len() as f64).ceil() as usize)
                            .clamp(1, latencies.len());
                        let value = latencies[rank - 1];
                        Verdict {
                            passed: value <= *max,
                            seen: format!(
                                "p{} latency {value} over {} requests",
                                quantile * 100.0,
                                latencies.len()
                            ),
                        }
                    }
                }
                ProbeKind::BreakerState { breaker, state } => {
                    let seen = self.breakers[breaker.0 as usize].peek_state(now);
                    Verdict {
                        passed: seen == *state,
                        seen: format!("breaker {}", seen.as_str()),
                    }
                }
            };
            if !self.probe_result(verdict) {
                return;
            }
        }
    }

    /// Logs a probe's result; moves to the next probe or ends the phase. Returns
    /// whether the phase goes on.
    fn probe_result(&mut self, verdict: Verdict) -> bool {
        let now = self.now();
        self.probe_result_at(now, verdict)
    }

    fn probe_result_at(&mut self, now: SimTime, verdict: Verdict) -> bool {
        let runner = self.runner();
        let Some(mut phase) = runner.phase else {
            return false;
        };
        if verdict.passed {
            runner.log(now, "INFO", format!("  => succeeded with {}", verdict.seen));
            phase.next_probe += 1;
            runner.phase = Some(phase);
            true
        } else {
            runner.log(now, "ERROR", format!("  => failed: {}", verdict.seen));
            let name = self.hypothesis().probes[phase.next_probe].name.clone();
            self.end_phase_at(
                now,
                phase.after,
                false,
                format!("Steady state probe '{name}' is not in the given tolerance so failing this experiment"),
            );
            false
        }
    }

    fn end_phase(&mut self, after: bool, met: bool, message: String) {
        let now = self.now();
        self.end_phase_at(now, after, met, message);
    }

    fn end_phase_at(&mut self, now: SimTime, after: bool, met: bool, message: String) {
        let before_at = self.hypothesis().before_at;
        let runner = self.runner();
        runner.log(now, if met { "INFO" } else { "CRITICAL" }, message);
        runner.phase = None;
        if after {
            runner.met_after = Some(met);
            runner.end_experiment(now);
        } else if !met {
            runner.met_before = Some(false);
            runner.end_experiment(now);
        } else {
            runner.met_before = Some(met);
            let after_deferred = std::mem::take(&mut runner.after_deferred);
            // The steady state is met: the method may act from now on, and its
            // actions due while the check ran start now.
            for (at, order, entry) in &mut runner.journal {
                if *order == ORDER_FAULT && (before_at..now).contains(at) {
                    *at = now;
                    entry.at_ms = round_to(now.as_millis_f64(), 3);
                }
            }
            if let Some(faults) = self.faults_held.take() {
                self.faults_by_service = faults;
            }
            if after_deferred {
                self.start_probe_phase(true);
            }
        }
    }

    /// Returns whether the probe was still waiting for this answer.
    pub(super) fn probe_answered(&mut self, seq: u32, answer: Answer) -> bool {
        let runner = self.runner();
        let Some(pending) = runner.pending.take_if(|pending| pending.seq == seq) else {
            return false;
        };
        if let Some(timer) = pending.timer {
            self.queue.cancel(timer);
        }
        let Some(phase) = self.runner().phase else {
            return true;
        };
        let hypothesis = self.hypothesis();
        let ProbeKind::Http { statuses, .. } = &hypothesis.probes[phase.next_probe].kind else {
            unreachable!("an HTTP answer for a probe that is not HTTP");
        };
        let took = readable(self.now().since(pending.sent));
        let seen = match answer.status {
            STATUS_NO_CONNECTION => format!("no connection after {took}"),
            status if answer.degraded => format!("status {status} (degraded) after {took}"),
            status => format!("status {status} after {took}"),
        };
        let passed = statuses.contains(&answer.status);
        if self.probe_result(Verdict { passed, seen }) {
            self.run_next_probe();
        }
        true
    }

    pub(super) fn probe_timed_out(&mut self, seq: u32) {
        let runner = self.runner();
        let Some(pending) = runner.pending.take_if(|pending| pending.seq == seq) else {
            return;
        };
        let took = readable(self.now().since(pending.sent));
        self.probe_result(Verdict {
            passed: false,
            seen: format!("no answer within the probe's timeout ({took})"),
        });
    }

    /// At the end of the run: a probe still waiting fails, and the verdict is logged.
    pub(super) fn finish_probes(&mut self) {
        let now = self.end_time();
        let Some(runner) = self.probes.as_mut() else {
            return;
        };
        if runner.pending.take().is_some() {
            self.probe_result_at(
                now,
                Verdict {
                    passed: false,
                    seen: "no answer before the run ended".into(),
                },
            );
        }
        let runner = self.runner();
        if runner.ended_at.is_some() {
            return;
        }
        let message = match runner.met_before {
            Some(true) => "the run ended before the hypothesis was checked after the method",
            _ => "the run ended before the hypothesis was checked before the method",
        };
        runner.log(now, "ERROR", message.into());
        runner.end_experiment(now);
    }

    pub(super) fn hypothesis_report(&mut self) -> Option<HypothesisReport> {
        let title = self.scenario.hypothesis.as_ref()?.title.clone();
        let runner = self.probes.as_mut()?;
        let mut journal = std::mem::take(&mut runner.journal);
        if let Some(ended_at) = runner.ended_at {
            journal.retain(|&(at, order, _)| (at, order) <= (ended_at, ORDER_PROBE));
        }
        journal.sort_by_key(|(at, order, _)| (*at, *order));
        Some(HypothesisReport {
            title,
            verdict: runner.verdict(),
            status: match runner.verdict() {
                "completed" => "completed",
                _ => "failed",
            },
            deviated: runner.verdict() == "deviated",
            met_before: runner.met_before == Some(true),
            met_after: runner.met_after,
            journal: journal.into_iter().map(|(_, _, entry)| entry).collect(),
        })
    }
}
