//! Fan-out steps: one branch job per call, started together; the handler goes on
//! when enough have succeeded, or falls back when too many have failed.
//!
//! A branch is a job of its own so that each call keeps its own attempt state
//! (retries, breaker ticket, bulkhead permit, timeout), but it holds no worker: the
//! job that fanned out holds one and waits, as a thread joining futures does.

use super::{Answer, HopKind, Immediate, Job, JobKey, Parent, Simulation};
use crate::spec::{FanOut, ServiceId};

/// What a job waiting on a fan-out has heard so far.
#[derive(Clone, Copy, Debug)]
pub(super) struct Gathering {
    epoch: u32,
    succeeded: u32,
    failed: u32,
    /// The first failure's status, passed on under `propagate`.
    first_failure: Option<u16>,
}

impl Simulation<'_> {
    pub(super) fn fan_out(&mut self, key: JobKey, group: &FanOut) {
        let now = self.now();
        let job = &mut self.jobs[key];
        job.epoch += 1;
        let epoch = job.epoch;
        job.fan_out = Some(Gathering {
            epoch,
            succeeded: 0,
            failed: 0,
            first_failure: None,
        });
        let (endpoint, replica, step, deadline) =
            (job.endpoint, job.replica, job.step, job.deadline);
        let (request, depth) = (job.request, job.depth);
        let fan_out = HopKind::FanOut {
            calls: group.calls.len() as u32,
            wait_for: group.wait_for,
        };
        self.hop(key, fan_out);
        for (index, call) in group.calls.iter().enumerate() {
            let mut branch = Job::new(endpoint, replica, Parent::Branch { job: key, epoch }, now)
                .serving(request, depth);
            branch.step = step;
            branch.branch = Some(index as u32);
            branch.deadline = deadline;
            let branch = self.jobs.insert(branch);
            self.start_call(branch, call);
        }
    }

    /// A branch's call is over (succeeded, or failed past its retries and fallback).
    /// `answered_by` is the service whose answer it carries, if any: when the group
    /// no longer waits for it, that answer was work done in vain.
    pub(super) fn finish_branch(
        &mut self,
        key: JobKey,
        answer: Answer,
        answered_by: Option<ServiceId>,
    ) {
        let job = self.jobs.remove(key).expect("finishing branch exists");
        debug_assert!(job.call.is_none() && job.holds_permit.is_none());
        self.agenda.push_back(Immediate::Deliver {
            parent: job.parent,
            answer,
            from: answered_by,
        });
    }

    /// Returns whether the job that fanned out was still waiting for this branch.
    pub(super) fn branch_answered(&mut self, key: JobKey, epoch: u32, answer: Answer) -> bool {
        let Some(job) = self.jobs.get_mut(key) else {
            return false;
        };
        let Some(gathering) = job.fan_out.as_mut().filter(|g| g.epoch == epoch) else {
            return false;
        };
        if answer.is_success() {
            gathering.succeeded += 1;
            job.degraded |= answer.degraded;
        } else {
            gathering.failed += 1;
            gathering.first_failure.get_or_insert(answer.status);
        }
        let gathering = *gathering;
        let scenario = self.scenario;
        let crate::spec::Step::Parallel(group) =
            &scenario.endpoint(job.endpoint).steps[job.step as usize]
        else {
            unreachable!("a fan-out answer arrived while the job was not fanning out")
        };
        let calls = group.calls.len() as u32;
        if gathering.succeeded >= group.wait_for {
            job.fan_out = None;
            job.step += 1;
            self.advance(key);
        } else if calls - gathering.failed < group.wait_for {
            job.fan_out = None;
            let status = gathering.first_failure.unwrap_or(super::STATUS_UNAVAILABLE);
            let fallback = HopKind::Fallback {
                fallback: group.fallback,
            };
            self.hop(key, fallback);
            self.fall_back(key, super::calls::fallback_answer(group.fallback, status));
        }
        true
    }
}
