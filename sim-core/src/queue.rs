//! The future event list.
//!
//! Ordering guarantee: events pop in increasing time; events scheduled for the same
//! time pop in the order they were scheduled (FIFO by an insertion counter). Nothing
//! else, no address or hash, takes part in the order, so a run is a pure function of
//! its inputs.
//!
//! Cancellation is lazy: a cancellable event carries a [`TimerId`] (slot + generation
//! in a small slab); cancelling bumps the slot's generation, and the stale entry is
//! dropped when it reaches the front. Cancelling is O(1) and the slab holds only
//! timers that are still armed. A live timer at a lane's front (a hung call's) would
//! keep every cancelled timer behind it, so once cancelled entries outnumber the live
//! ones they are swept out: memory follows the armed timers, not every timer a run
//! has cancelled.
//!
//! Timers usually come in a few fixed delays (a call's 5 s timeout, a client's 30 s),
//! and most are cancelled long before they are due. Kept in the heap they would make
//! it deep and every pop slow. So each distinct delay gets a *lane*, a FIFO that is
//! ordered by construction (same delay, non-decreasing now): pushing and popping a
//! lane is O(1). Events for the current instant have a lane of their own. Timers of
//! further delays go to a heap of their own, so the main heap's entries carry no
//! timer fields. The next event is the least (time, sequence) among the heaps' tops
//! and the lanes' fronts, which keeps the order exactly the same as one heap's.
//!
//! Plain events go to a calendar of time slots (see [`calendar`]): adding one is
//! O(1), and taking them out costs a sort of one small slot at a time, however
//! many are pending, such as one think time for each of ten thousand users.

mod calendar;
mod heap;

use calendar::Calendar;
use heap::{Heap, Keyed};

use crate::fifo::Fifo;
use crate::time::SimTime;

/// Handle to a cancellable event. Cancelling a handle whose event already fired, or
/// was already cancelled, does nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimerId {
    slot: u32,
    generation: u32,
}

#[derive(Clone, Copy)]
struct Entry<E> {
    time: SimTime,
    seq: u64,
    event: E,
}

#[derive(Clone, Copy)]
struct TimerEntry<E> {
    entry: Entry<E>,
    timer: TimerId,
}

impl<E: Copy> Keyed for Entry<E> {
    #[inline(always)]
    fn key(&self) -> u128 {
        (u128::from(self.time.0) << 64) | u128::from(self.seq)
    }
}

impl<E: Copy> Keyed for TimerEntry<E> {
    #[inline(always)]
    fn key(&self) -> u128 {
        self.entry.key()
    }
}

#[derive(Clone, Copy)]
enum Source {
    Calendar,
    TimerHeap,
    Now,
    Lane(usize),
}

/// Makes `best` the entry of least key among itself and (`key`, `source`).
#[inline(always)]
fn keep_least(best: &mut Option<(u128, Source)>, key: u128, source: Source) {
    if best.is_none_or(|(least, _)| key < least) {
        *best = Some((key, source));
    }
}

/// Distinct timer delays given their own lane; further delays share the timer heap.
const LANES_MAX: usize = 16;

struct Lane<E> {
    delay: u64,
    entries: Fifo<TimerEntry<E>>,
}

/// The queue holds `Copy` events (small payloads of ids, by design), which lets the
/// heap move entries into a hole instead of swapping them at every level.
pub struct EventQueue<E: Copy> {
    calendar: Calendar<Entry<E>>,
    timer_heap: Heap<TimerEntry<E>>,
    /// Events scheduled for the instant they were scheduled at.
    now_lane: Fifo<Entry<E>>,
    lanes: Vec<Lane<E>>,
    next_seq: u64,
    now: SimTime,
    popped: u64,
    timer_generations: Vec<u32>,
    timer_armed: Vec<bool>,
    free_timer_slots: Vec<u32>,
    /// Cancelled entries still in a lane or the timer heap.
    dead: usize,
    /// Cancelled entries tolerated before a sweep is considered: sweeping a small
    /// queue costs more than the memory it frees.
    dead_min: usize,
    /// The least key among the timer heap's top and the lanes' first live entries,
    /// kept between pops so that each pop need not walk every lane. Valid unless
    /// `timers_stale`: a cancellation or a timer's pop may change it, a new timer
    /// only lowers it.
    timers_least: Option<(u128, Source)>,
    timers_stale: bool,
}

/// The default of `EventQueue::dead_min`.
const DEAD_ENTRIES_MIN: usize = 4096;

impl<E: Copy> Default for EventQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E: Copy> EventQueue<E> {
    pub fn new() -> Self {
        EventQueue {
            calendar: Calendar::new(),
            timer_heap: Heap::new(),
            now_lane: Fifo::new(),
            lanes: Vec::new(),
            next_seq: 0,
            now: SimTime::ZERO,
            popped: 0,
            timer_generations: Vec::new(),
            timer_armed: Vec::new(),
            free_timer_slots: Vec::new(),
            dead: 0,
            dead_min: DEAD_ENTRIES_MIN,
            timers_least: None,
            timers_stale: false,
        }
    }

    /// The time of the event popped last (zero before the first).
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// Events delivered so far (cancelled ones are not counted).
    pub fn events_delivered(&self) -> u64 {
        self.popped
    }

    /// Entries waiting, including cancelled ones not yet discarded.
    pub fn pending(&self) -> usize {
        self.calendar.len()
            + self.timer_heap.len()
            + self.now_lane.len()
            + self
                .lanes
                .iter()
                .map(|lane| lane.entries.len())
                .sum::<usize>()
    }

    #[inline]
    pub fn schedule(&mut self, time: SimTime, event: E) {
        let entry = self.entry(time, event);
        if time == self.now {
            // Work for this very instant (a request handed to the next service) is
            // ordered by arrival alone, never through the heap.
            self.now_lane.push_back(entry);
        } else {
            self.calendar.push(entry);
        }
    }

    pub fn schedule_cancellable(&mut self, time: SimTime, event: E) -> TimerId {
        let slot = match self.free_timer_slots.pop() {
            Some(slot) => slot,
            None => {
                self.timer_generations.push(0);
                self.timer_armed.push(false);
                u32::try_from(self.timer_generations.len() - 1).expect("too many armed timers")
            }
        };
        let index = slot as usize;
        self.timer_armed[index] = true;
        let timer = TimerId {
            slot,
            generation: self.timer_generations[index],
        };
        let delay = time.since(self.now).as_nanos();
        let entry = TimerEntry {
            entry: self.entry(time, event),
            timer,
        };
        let lane = match self.lanes.iter().position(|lane| lane.delay == delay) {
            Some(lane) => Some(lane),
            None if self.lanes.len() < LANES_MAX => {
                self.lanes.push(Lane {
                    delay,
                    entries: Fifo::new(),
                });
                Some(self.lanes.len() - 1)
            }
            None => None,
        };
        let key = entry.key();
        let source = match lane {
            Some(lane) => {
                self.lanes[lane].entries.push_back(entry);
                Source::Lane(lane)
            }
            None => {
                self.timer_heap.push(entry);
                Source::TimerHeap
            }
        };
        // Behind a live entry of its lane the new one cannot be the least; in front
        // of none it is its lane's first live one.
        keep_least(&mut self.timers_least, key, source);
        timer
    }

    pub fn cancel(&mut self, timer: TimerId) {
        if self.is_live(timer) {
            self.disarm(timer);
            self.dead += 1;
            self.timers_stale = true;
            // Amortised O(1): a sweep costs O(pending) and follows at least
            // pending / 2 cancellations.
            if self.dead > self.dead_min && self.dead > self.pending() / 2 {
                self.sweep_dead();
            }
        }
    }

    /// Drops every cancelled entry. Entries are totally ordered by (time, seq), so
    /// the rebuilt heap pops in exactly the order the old one would have.
    #[cold]
    fn sweep_dead(&mut self) {
        let (armed, generations) = (&self.timer_armed, &self.timer_generations);
        let live = |entry: &TimerEntry<E>| {
            let index = entry.timer.slot as usize;
            armed[index] && generations[index] == entry.timer.generation
        };
        for lane in &mut self.lanes {
            lane.entries.retain(live);
        }
        self.timer_heap.retain(live);
        self.dead = 0;
        self.timers_stale = true;
    }

    /// Finds the least timer anew, dropping cancelled entries from the lanes' fronts
    /// on the way (a cancelled one there would hide the live one behind it).
    fn refresh_timers_least(&mut self) {
        let mut best = self
            .timer_heap
            .peek()
            .map(|top| (top.key(), Source::TimerHeap));
        for index in 0..self.lanes.len() {
            while let Some(front) = self.lanes[index].entries.front() {
                if self.is_live(front.timer) {
                    keep_least(&mut best, front.key(), Source::Lane(index));
                    break;
                }
                self.lanes[index].entries.pop_front();
                self.dead -= 1;
            }
        }
        self.timers_least = best;
        self.timers_stale = false;
    }

    /// Pops the next live event if it is due at or before `horizon`.
    pub fn pop_until(&mut self, horizon: SimTime) -> Option<(SimTime, E)> {
        loop {
            // The least (time, seq) of the heaps' tops and the lanes' fronts.
            let mut best = self.calendar.peek_key().map(|key| (key, Source::Calendar));
            if let Some(front) = self.now_lane.front() {
                keep_least(&mut best, front.key(), Source::Now);
            }
            if self.timers_stale {
                self.refresh_timers_least();
            }
            if let Some((key, source)) = self.timers_least {
                keep_least(&mut best, key, source);
            }
            let (key, source) = best?;
            if (key >> 64) as u64 > horizon.0 {
                return None;
            }
            let entry = match source {
                Source::Calendar => self.calendar.pop(),
                Source::Now => self.now_lane.pop_front(),
                Source::TimerHeap | Source::Lane(_) => {
                    self.timers_stale = true;
                    let timed = match source {
                        Source::Lane(lane) => self.lanes[lane].entries.pop_front(),
                        _ => self.timer_heap.pop(),
                    }
                    .expect("the chosen source has an entry");
                    if !self.is_live(timed.timer) {
                        self.dead -= 1;
                        continue;
                    }
                    self.disarm(timed.timer);
                    Some(timed.entry)
                }
            }
            .expect("the chosen source has an entry");
            assert!(entry.time >= self.now, "event queue went back in time");
            self.now = entry.time;
            self.popped += 1;
            return Some((entry.time, entry.event));
        }
    }

    /// The plain events of the calendar slot the queue has just moved on to, once
    /// per slot: they come next, in some order, between timers and same-instant
    /// events. A model can fetch the state they will touch in one sweep, so that
    /// the memory fetches overlap instead of each one stalling its own event.
    /// Looking changes nothing.
    #[inline]
    pub fn take_new_slot(&mut self) -> Option<impl Iterator<Item = &E> + '_> {
        self.calendar
            .take_new_slot()
            .map(|entries| entries.iter().map(|entry| &entry.event))
    }

    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        self.pop_until(SimTime(u64::MAX))
    }

    /// A new entry with the next sequence number.
    #[inline(always)]
    fn entry(&mut self, time: SimTime, event: E) -> Entry<E> {
        assert!(
            time >= self.now,
            "scheduled an event at {time} before now ({})",
            self.now
        );
        let seq = self.next_seq;
        self.next_seq += 1;
        Entry { time, seq, event }
    }

    #[inline]
    fn is_live(&self, timer: TimerId) -> bool {
        let index = timer.slot as usize;
        self.timer_armed[index] && self.timer_generations[index] == timer.generation
    }

    fn disarm(&mut self, timer: TimerId) {
        let index = timer.slot as usize;
        self.timer_armed[index] = false;
        self.timer_generations[index] = self.timer_generations[index].wrapping_add(1);
        self.free_timer_slots.push(timer.slot);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn cancelled_timer_never_fires_and_its_slot_is_reused() {
        let mut queue = EventQueue::new();
        let first = queue.schedule_cancellable(SimTime(10), "timeout");
        queue.schedule(SimTime(20), "answer");
        queue.cancel(first);
        let second = queue.schedule_cancellable(SimTime(30), "second");
        queue.cancel(first); // stale handle: must not cancel `second`
        assert_eq!(queue.pop(), Some((SimTime(20), "answer")));
        assert_eq!(queue.pop(), Some((SimTime(30), "second")));
        assert_eq!(queue.pop(), None);
        queue.cancel(second); // already fired: no effect, no panic
        assert_eq!(queue.events_delivered(), 2);
    }

    /// Every event scheduled ahead is shown once, in the slot it will pop from,
    /// before it pops; showing it changes no pop.
    #[test]
    fn new_slots_show_each_event_once_before_it_pops() {
        let mut queue = EventQueue::new();
        let mut reference = EventQueue::new();
        let times: Vec<u64> = (0..5000u64).map(|i| (i * 7919) % 100_003 * 1000).collect();
        for (id, &t) in times.iter().enumerate() {
            queue.schedule(SimTime(t), id);
            reference.schedule(SimTime(t), id);
        }
        let mut shown = vec![0u32; times.len()];
        let mut popped = vec![false; times.len()];
        while let Some((time, id)) = queue.pop() {
            assert_eq!(reference.pop(), Some((time, id)));
            popped[id] = true;
            if let Some(upcoming) = queue.take_new_slot() {
                for &next in upcoming {
                    assert!(!popped[next], "event {next} shown after it popped");
                    shown[next] += 1;
                }
            }
            assert!(queue.take_new_slot().is_none(), "a slot is shown once");
        }
        // Events filed at or before the slot in hand (the first ones, and any a
        // change of slot width puts there) pop from a heap and go unseen.
        let unseen = shown.iter().filter(|&&n| n == 0).count();
        assert!(unseen < times.len() / 20, "{unseen} never shown");
        assert!(shown.iter().all(|&n| n <= 1));
    }

    #[test]
    fn pop_until_leaves_later_events_in_place() {
        let mut queue = EventQueue::new();
        queue.schedule(SimTime(5), 1);
        queue.schedule(SimTime(50), 2);
        assert_eq!(queue.pop_until(SimTime(10)), Some((SimTime(5), 1)));
        assert_eq!(queue.pop_until(SimTime(10)), None);
        assert_eq!(queue.pop_until(SimTime(50)), Some((SimTime(50), 2)));
    }

    #[derive(Debug, Clone)]
    enum Op {
        Schedule(u64),
        ScheduleTimer(u64),
        CancelOne(usize),
        Pop,
    }

    /// Mostly short delays, so that times collide, and some far longer ones, so
    /// that events go to the calendar's ring and beyond it.
    fn delay() -> impl Strategy<Value = u64> {
        prop_oneof![
            3 => 0u64..50,
            1 => 0u64..(1 << 24),
            1 => 0u64..(1 << 40),
        ]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            delay().prop_map(Op::Schedule),
            (0u64..50).prop_map(Op::ScheduleTimer),
            any::<usize>().prop_map(Op::CancelOne),
            Just(Op::Pop),
        ]
    }

    /// Events come out in (time, insertion) order, never before `now`, and exactly
    /// the uncancelled ones come out.
    fn check_order(ops: Vec<Op>, dead_min: usize) -> Result<(), TestCaseError> {
        {
            let mut queue = EventQueue::new();
            queue.dead_min = dead_min;
            let mut next_id = 0u64;
            let mut timers: Vec<(TimerId, u64)> = Vec::new();
            let mut cancelled = std::collections::BTreeSet::new();
            let mut scheduled = std::collections::BTreeSet::new();
            let mut delivered: Vec<(SimTime, u64)> = Vec::new();
            for op in ops {
                let now = queue.now().0;
                match op {
                    Op::Schedule(delay) => {
                        queue.schedule(SimTime(now + delay), next_id);
                        scheduled.insert(next_id);
                        next_id += 1;
                    }
                    Op::ScheduleTimer(delay) => {
                        let timer = queue.schedule_cancellable(SimTime(now + delay), next_id);
                        timers.push((timer, next_id));
                        scheduled.insert(next_id);
                        next_id += 1;
                    }
                    Op::CancelOne(pick) => {
                        if !timers.is_empty() {
                            let (timer, id) = timers[pick % timers.len()];
                            let already = delivered.iter().any(|&(_, d)| d == id);
                            queue.cancel(timer);
                            if !already {
                                cancelled.insert(id);
                            }
                        }
                    }
                    Op::Pop => {
                        if let Some((time, id)) = queue.pop() {
                            prop_assert!(time.0 >= now);
                            delivered.push((time, id));
                        }
                    }
                }
            }
            while let Some((time, id)) = queue.pop() {
                delivered.push((time, id));
            }
            // Ids grow with insertion, so within equal times they must increase.
            for pair in delivered.windows(2) {
                let (t0, a) = pair[0];
                let (t1, b) = pair[1];
                prop_assert!(
                    t0 < t1 || (t0 == t1 && a < b),
                    "{:?} then {:?}",
                    pair[0],
                    pair[1]
                );
            }
            let delivered_ids: std::collections::BTreeSet<u64> =
                delivered.iter().map(|&(_, id)| id).collect();
            let expected: std::collections::BTreeSet<u64> =
                scheduled.difference(&cancelled).copied().collect();
            prop_assert_eq!(delivered_ids, expected);
        }
        Ok(())
    }

    proptest! {
        #[test]
        fn events_pop_in_time_then_insertion_order(ops in proptest::collection::vec(op(), 1..200)) {
            check_order(ops, DEAD_ENTRIES_MIN)?;
        }

        /// The same with a sweep of cancelled entries at nearly every cancellation.
        #[test]
        fn sweeping_cancelled_timers_changes_no_order(ops in proptest::collection::vec(op(), 1..200)) {
            check_order(ops, 0)?;
        }
    }

    /// A hung call's timer at the front of its lane kept every later cancelled
    /// timer of the same delay behind it: memory grew with requests made, not with
    /// requests in flight (a scenario with one early hang and a long timeout).
    #[test]
    fn cancelled_timers_behind_a_live_one_do_not_pile_up() {
        let mut queue = EventQueue::new();
        let delay = 100_000_000;
        queue.schedule_cancellable(SimTime(delay), u64::MAX);
        for i in 1..=200_000u64 {
            let timer = queue.schedule_cancellable(SimTime(i + delay), i);
            queue.schedule(SimTime(i), i);
            assert_eq!(queue.pop(), Some((SimTime(i), i)));
            queue.cancel(timer);
            assert!(
                queue.pending() <= 2 * DEAD_ENTRIES_MIN + 4,
                "{} pending",
                queue.pending()
            );
        }
        assert_eq!(queue.pop(), Some((SimTime(delay), u64::MAX)));
        assert_eq!(queue.pop(), None);
    }
}
