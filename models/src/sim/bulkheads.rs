//! Semaphore bulkheads: permits per attempt, a FIFO of callers waiting for one, and
//! a rejection when the wait runs out.

use std::collections::VecDeque;

use sim_core::TimerId;

use super::{Event, Immediate, JobKey, Simulation};
use crate::breaker::Ticket;
use crate::report::BulkheadReport;
use crate::spec::BulkheadId;

#[derive(Default)]
pub(super) struct BulkheadState {
    in_use: u32,
    in_use_max: u32,
    /// (job, wait number) in arrival order; entries whose job gave up are skipped.
    waiting: VecDeque<(JobKey, u32)>,
    next_wait: u32,
    rejected: u64,
    waited: u64,
}

/// A job waiting for a permit.
#[derive(Clone, Copy, Debug)]
pub(super) struct WaitingPermit {
    bulkhead: BulkheadId,
    number: u32,
    timer: TimerId,
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
        if spec.max_wait.as_nanos() == 0 {
            state.rejected += 1;
            return Permit::Rejected;
        }
        let number = state.next_wait;
        state.next_wait = state.next_wait.wrapping_add(1);
        state.waited += 1;
        state.waiting.push_back((key, number));
        let timer = self.queue.schedule_cancellable(
            now + spec.max_wait,
            Event::PermitWaitOver { job: key, number },
        );
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
                    self.queue.cancel(waiting.timer);
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

    /// The wait for a permit ran out: the call is rejected.
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
        state.rejected += 1;
        let call = self.current_call(key);
        self.bulkhead_rejected(key, call, waiting.ticket);
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
            })
            .collect()
    }
}
