//! Bulkheads: permits per attempt, a FIFO of callers waiting for one, and a
//! rejection when the wait runs out (semaphore) or the queue is full (thread pool).

use std::collections::VecDeque;

use sim_core::{SimDuration, TimerId};

use super::{Event, Immediate, JobKey, Simulation};
use crate::breaker::Ticket;
use crate::report::BulkheadReport;
use crate::spec::{BulkheadId, BulkheadKind};

#[derive(Default)]
pub(super) struct BulkheadState {
    in_use: u32,
    in_use_max: u32,
    /// (job, wait number) in arrival order; entries whose job gave up are skipped.
    waiting: VecDeque<(JobKey, u32)>,
    next_wait: u32,
    rejected: u64,
    waited: u64,
    queue_max: u32,
}

/// A job waiting for a permit.
#[derive(Clone, Copy, Debug)]
pub(super) struct WaitingPermit {
    bulkhead: BulkheadId,
    number: u32,
    timer: Option<TimerId>,
    pub(super) ticket: Option<Ticket>,
}

pub(super) enum Permit {
    Granted,
    Waiting,
    Rejected,
}

impl Simulation<'_> {
    pub(super) fn acquire_permit(
        &mut self,
        key: JobKey,
        bulkhead: BulkheadId,
        ticket: Option<Ticket>,
        call_timeout: Option<SimDuration>,
    ) -> Permit {
        let now = self.now();
        let spec = &self.scenario.bulkheads[bulkhead.0 as usize];
        let state = &mut self.bulkheads[bulkhead.0 as usize];
        if state.in_use < spec.max_concurrent {
            state.in_use += 1;
            state.in_use_max = state.in_use_max.max(state.in_use);
            self.jobs[key].holds_permit = Some(bulkhead);
            return Permit::Granted;
        }
        let max_wait = match spec.kind {
            BulkheadKind::Semaphore { max_wait } if max_wait > SimDuration::ZERO => Some(max_wait),
            // A queued call waits as long as its timeout allows.
            BulkheadKind::ThreadPool { queue_capacity }
                if state.waiting.len() < queue_capacity as usize =>
            {
                call_timeout
            }
            _ => {
                state.rejected += 1;
                return Permit::Rejected;
            }
        };
        let number = state.next_wait;
        state.next_wait = state.next_wait.wrapping_add(1);
        state.waited += 1;
        state.waiting.push_back((key, number));
        state.queue_max = state.queue_max.max(state.waiting.len() as u32);
        let timer = max_wait.map(|max_wait| {
            self.queue
                .schedule_cancellable(now + max_wait, Event::PermitWaitOver { job: key, number })
        });
        self.jobs[key].waiting_permit = Some(WaitingPermit {
            bulkhead,
            number,
            timer,
            ticket,
        });
        Permit::Waiting
    }

    /// The attempt is over: its permit goes to the next caller in line, if any.
    pub(super) fn release_permit(&mut self, key: JobKey) {
        let Some(bulkhead) = self.jobs[key].holds_permit.take() else {
            return;
        };
        let state = &mut self.bulkheads[bulkhead.0 as usize];
        state.in_use -= 1;
        while let Some((waiter, number)) = state.waiting.pop_front() {
            let Some(job) = self.jobs.get_mut(waiter) else {
                continue;
            };
            match job.waiting_permit {
                Some(waiting) if waiting.number == number && waiting.bulkhead == bulkhead => {
                    job.waiting_permit = None;
                    job.holds_permit = Some(bulkhead);
                    state.in_use += 1;
                    if let Some(timer) = waiting.timer {
                        self.queue.cancel(timer);
                    }
                    self.agenda.push_back(Immediate::PermitGranted {
                        job: waiter,
                        ticket: waiting.ticket,
                    });
                    return;
                }
                _ => continue,
            }
        }
    }

    /// The wait for a permit ran out: a semaphore rejects the call; a thread-pool
    /// call has used up its timeout in the queue, and times out.
    pub(super) fn permit_wait_over(&mut self, key: JobKey, number: u32) {
        let Some(job) = self.jobs.get_mut(key) else {
            return;
        };
        let Some(waiting) = job.waiting_permit.filter(|w| w.number == number) else {
            return;
        };
        job.waiting_permit = None;
        let state = &mut self.bulkheads[waiting.bulkhead.0 as usize];
        state
            .waiting
            .retain(|&(job, n)| !(job == key && n == number));
        let kind = self.scenario.bulkheads[waiting.bulkhead.0 as usize].kind;
        if let BulkheadKind::Semaphore { .. } = kind {
            state.rejected += 1;
        }
        let call = self.current_call(key);
        match kind {
            BulkheadKind::Semaphore { .. } => self.bulkhead_rejected(key, call, waiting.ticket),
            BulkheadKind::ThreadPool { .. } => {
                self.queued_call_timed_out(key, call, waiting.ticket)
            }
        }
    }

    pub(super) fn bulkhead_reports(&self) -> Vec<BulkheadReport> {
        self.scenario
            .bulkheads
            .iter()
            .zip(&self.bulkheads)
            .map(|(spec, state)| BulkheadReport {
                name: spec.name.clone(),
                rejected: state.rejected,
                waited: state.waited,
                in_use_max: u64::from(state.in_use_max),
                queue_max: u64::from(state.queue_max),
            })
            .collect()
    }
}
