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
//! Plain events are split by how far ahead they are scheduled: a step of work (a few
//! milliseconds) goes to the *near* heap, a user's think time, a hang or a window's
//! end (seconds) to the *far* one. The many far events (one per waiting user) then
//! no longer deepen every pop of the few near ones. Which heap an event is in
//! changes only the work, never the order (the least top wins).
//!
//! The heaps are 4-ary: half the depth of a binary heap, and four siblings share a
//! cache line or two, so a pop touches about half as many lines. A pop walks the hole
//! from the root down to a leaf along the least children, then sifts the former last
//! entry up from there (Floyd's method): the last entry almost always belongs near
//! the bottom, so this saves a comparison per level.

use std::collections::VecDeque;

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

trait Keyed: Copy {
    /// (time, seq) as one number: one wide comparison, without branches, orders
    /// entries exactly as the pair does.
    fn key(&self) -> u128;
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

const ARITY: usize = 4;

/// A min-heap on (time, seq). Keys are unique (seq is), so the pop order is fully
/// determined by the keys, never by the heap's shape.
struct Heap<T> {
    items: Vec<T>,
}

impl<T: Keyed> Heap<T> {
    fn new() -> Self {
        Heap { items: Vec::new() }
    }

    fn len(&self) -> usize {
        self.items.len()
    }

    #[inline]
    fn peek(&self) -> Option<&T> {
        self.items.first()
    }

    #[inline]
    fn push(&mut self, item: T) {
        let hole = self.items.len();
        self.items.push(item);
        self.sift_up(hole, item);
    }

    /// Moves the hole at `hole` up past every parent above `item`, and fills it.
    #[inline(always)]
    fn sift_up(&mut self, mut hole: usize, item: T) {
        let key = item.key();
        while hole > 0 {
            let parent = (hole - 1) / ARITY;
            let above = self.items[parent];
            if above.key() < key {
                break;
            }
            self.items[hole] = above;
            hole = parent;
        }
        self.items[hole] = item;
    }

    #[inline]
    fn pop(&mut self) -> Option<T> {
        let last = self.items.pop()?;
        let Some(&top) = self.items.first() else {
            return Some(last);
        };
        let len = self.items.len();
        let mut hole = 0;
        loop {
            let first = hole * ARITY + 1;
            let least = if first + ARITY <= len {
                first + least_of_four(&self.items[first..first + ARITY])
            } else if first < len {
                first + least_of(&self.items[first..len])
            } else {
                break;
            };
            self.items[hole] = self.items[least];
            hole = least;
        }
        self.sift_up(hole, last);
        Some(top)
    }
}

/// The least of a full set of siblings, as a tournament of pairs: the two first-round
/// comparisons are independent, and fixed indices need one bounds check, not four.
#[inline(always)]
fn least_of_four<T: Keyed>(children: &[T]) -> usize {
    let children = &children[..ARITY];
    let (a, b, c, d) = (
        children[0].key(),
        children[1].key(),
        children[2].key(),
        children[3].key(),
    );
    let (left, left_key) = if b < a { (1, b) } else { (0, a) };
    let (right, right_key) = if d < c { (3, d) } else { (2, c) };
    if right_key < left_key {
        right
    } else {
        left
    }
}

/// The least of the last, incomplete set of siblings.
#[inline(always)]
fn least_of<T: Keyed>(children: &[T]) -> usize {
    let mut least = (0, children[0].key());
    for (offset, child) in children.iter().enumerate().skip(1) {
        if child.key() < least.1 {
            least = (offset, child.key());
        }
    }
    least.0
}

/// Delays below this (2^26 ns, about 67 ms) count as near. Any constant keeps the
/// order; this one sits between the milliseconds of work and the seconds of think
/// times and timeouts in the scenarios people write.
const NEAR_DELAY_NS: u64 = 1 << 26;

#[derive(Clone, Copy)]
enum Source {
    Near,
    Far,
    TimerHeap,
    Now,
    Lane(usize),
}

/// Distinct timer delays given their own lane; further delays share the timer heap.
const LANES_MAX: usize = 16;

struct Lane<E> {
    delay: u64,
    entries: VecDeque<TimerEntry<E>>,
}

/// The queue holds `Copy` events (small payloads of ids, by design), which lets the
/// heap move entries into a hole instead of swapping them at every level.
pub struct EventQueue<E: Copy> {
    near: Heap<Entry<E>>,
    far: Heap<Entry<E>>,
    timer_heap: Heap<TimerEntry<E>>,
    /// Events scheduled for the instant they were scheduled at.
    now_lane: VecDeque<Entry<E>>,
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
            near: Heap::new(),
            far: Heap::new(),
            timer_heap: Heap::new(),
            now_lane: VecDeque::new(),
            lanes: Vec::new(),
            next_seq: 0,
            now: SimTime::ZERO,
            popped: 0,
            timer_generations: Vec::new(),
            timer_armed: Vec::new(),
            free_timer_slots: Vec::new(),
            dead: 0,
            dead_min: DEAD_ENTRIES_MIN,
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
        self.near.len()
            + self.far.len()
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
        } else if time.0 - self.now.0 < NEAR_DELAY_NS {
            self.near.push(entry);
        } else {
            self.far.push(entry);
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
        match self.lanes.iter().position(|lane| lane.delay == delay) {
            Some(lane) => self.lanes[lane].entries.push_back(entry),
            None if self.lanes.len() < LANES_MAX => self.lanes.push(Lane {
                delay,
                entries: VecDeque::from([entry]),
            }),
            None => self.timer_heap.push(entry),
        }
        timer
    }

    pub fn cancel(&mut self, timer: TimerId) {
        if self.is_live(timer) {
            self.disarm(timer);
            self.dead += 1;
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
        let mut entries = std::mem::replace(&mut self.timer_heap, Heap::new()).items;
        entries.retain(live);
        for entry in entries {
            self.timer_heap.push(entry);
        }
        self.dead = 0;
    }

    /// Pops the next live event if it is due at or before `horizon`.
    pub fn pop_until(&mut self, horizon: SimTime) -> Option<(SimTime, E)> {
        loop {
            // The least (time, seq) of the heaps' tops and the lanes' fronts.
            let mut best = self.near.peek().map(|top| (top.key(), Source::Near));
            let mut consider = |key: u128, source: Source| {
                if best.is_none_or(|(least, _)| key < least) {
                    best = Some((key, source));
                }
            };
            if let Some(top) = self.far.peek() {
                consider(top.key(), Source::Far);
            }
            if let Some(top) = self.timer_heap.peek() {
                consider(top.key(), Source::TimerHeap);
            }
            if let Some(front) = self.now_lane.front() {
                consider(front.key(), Source::Now);
            }
            for index in 0..self.lanes.len() {
                // A cancelled timer at a lane's front would hide the live one behind it.
                while let Some(front) = self.lanes[index].entries.front() {
                    if self.is_live(front.timer) {
                        consider(front.key(), Source::Lane(index));
                        break;
                    }
                    self.lanes[index].entries.pop_front();
                    self.dead -= 1;
                }
            }
            let (key, source) = best?;
            if (key >> 64) as u64 > horizon.0 {
                return None;
            }
            let entry = match source {
                Source::Near => self.near.pop(),
                Source::Far => self.far.pop(),
                Source::Now => self.now_lane.pop_front(),
                Source::TimerHeap | Source::Lane(_) => {
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

    /// Mostly short delays, so that times collide, and some around the near/far
    /// boundary, so that both heaps take part.
    fn delay() -> impl Strategy<Value = u64> {
        prop_oneof![
            3 => 0u64..50,
            1 => (NEAR_DELAY_NS - 20)..(NEAR_DELAY_NS + 20),
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
