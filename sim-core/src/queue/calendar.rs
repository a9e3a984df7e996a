//! A calendar of time slots for the plain (uncancellable) events: O(1) to add an
//! event, and a sort of one small slot at a time to take them out in order.
//!
//! Time is cut into slots of 2^`shift` ns. The slot being worked through (the
//! *current* one) is sorted once, when the calendar reaches it, and then popped
//! from its end. The next `SLOTS` slots form a ring: an event for one of them is
//! appended to its slot's list, unsorted. Events beyond the ring wait in a heap and
//! move into the ring as it comes within reach; events for the current slot or
//! earlier (scheduled after the slot was sorted) go to a small heap of their own.
//! The least key of the sorted slot and that small heap is the calendar's next
//! event.
//!
//! Keys are unique and every structure orders by key alone, so the slot width
//! changes only the work, never the order. The width adapts: the calendar counts
//! the events per slot it works through and, when they hold too many to sort
//! cheaply or too few to be worth visiting, narrows or widens the slots by the
//! power of two that brings them back, filing every event anew (no more often
//! than the events handled in between pay for).

use super::heap::{Heap, Keyed};

/// Slots in the ring (a power of two): with a 1 ms slot it reaches 4 s ahead,
/// past a user's think time.
const SLOTS: u64 = 4096;
const WORDS: usize = (SLOTS / 64) as usize;

/// Slot widths between 2^MIN_SHIFT and 2^MAX_SHIFT ns (1 µs to about 1.1 min).
const MIN_SHIFT: u32 = 10;
const MAX_SHIFT: u32 = 36;
/// The width a new calendar starts from (about 1 ms).
const START_SHIFT: u32 = 20;

/// The events per visited slot the width aims at, and the range it tolerates
/// before it changes. Measured on the hold model and the 10,000-user gateway: 64
/// ran faster than 16 or 32, though it takes a few more instructions (fewer slots
/// to visit, and fewer slot lists touched between visits).
const EVENTS_PER_SLOT: u64 = 64;
const BUSY_SLOT: u64 = 4 * EVENTS_PER_SLOT;
const IDLE_SLOT: u64 = EVENTS_PER_SLOT / 4;
/// A refiling moves at most this many pending events per event handled since the
/// last one.
const REFILE_SHARE: u64 = 4;
/// How many slots to visit between decisions on the width.
const VISITS_PER_DECISION: u64 = 64;

pub(super) struct Calendar<T> {
    shift: u32,
    /// The slot number (time >> shift) of the current slot.
    current_slot: u64,
    /// The current slot's events, sorted by descending key: the next is last.
    current: Vec<T>,
    /// Events at or before the current slot's end, scheduled after it was sorted.
    late: Heap<T>,
    /// `ring[slot % SLOTS]` for the slots after the current one, up to SLOTS ahead.
    /// An empty slot has no buffer.
    ring: Vec<Vec<T>>,
    /// Buffers of slots worked through, the latest last: a slot that gets its first
    /// event takes the latest, whose memory is still in the cache, rather than its
    /// own from a whole ring ago (and the ring keeps buffers only for the slots
    /// with events).
    spare: Vec<Vec<T>>,
    /// Bit per ring slot: set when that slot has an event.
    occupied: [u64; WORDS],
    in_ring: usize,
    /// Events beyond the ring's reach.
    beyond: Heap<T>,
    visits: u64,
    visited_events: u64,
    /// Events taken through visited slots since the last refiling: a refiling moves
    /// every pending event, so it waits until that is paid for (see `adapt_width`).
    events_since_refile: u64,
    /// Events moved by refilings, in all (for tests of the bound above).
    refiled: u64,
    /// The current slot was sorted since `take_new_slot` last looked.
    new_slot: bool,
}

#[inline(always)]
fn time_of<T: Keyed>(item: &T) -> u64 {
    (item.key() >> 64) as u64
}

impl<T: Keyed> Calendar<T> {
    pub(super) fn new() -> Self {
        Calendar {
            shift: START_SHIFT,
            current_slot: 0,
            current: Vec::new(),
            late: Heap::new(),
            ring: (0..SLOTS).map(|_| Vec::new()).collect(),
            spare: Vec::new(),
            occupied: [0; WORDS],
            in_ring: 0,
            beyond: Heap::new(),
            visits: 0,
            visited_events: 0,
            events_since_refile: 0,
            refiled: 0,
            new_slot: false,
        }
    }

    pub(super) fn len(&self) -> usize {
        self.current.len() + self.late.len() + self.in_ring + self.beyond.len()
    }

    #[inline]
    pub(super) fn push(&mut self, item: T) {
        self.place(time_of(&item) >> self.shift, item);
    }

    /// Files an event of slot `slot` where it belongs: the late heap, the ring, or
    /// beyond it.
    #[inline(always)]
    fn place(&mut self, slot: u64, item: T) {
        if slot <= self.current_slot {
            // Counted with the slot's own events: a calendar whose events mostly
            // land in the current slot has slots that are too wide.
            self.visited_events += 1;
            self.late.push(item);
        } else if slot - self.current_slot <= SLOTS {
            self.put_in_ring(slot, item);
        } else {
            self.beyond.push(item);
        }
    }

    #[inline(always)]
    fn put_in_ring(&mut self, slot: u64, item: T) {
        let index = (slot % SLOTS) as usize;
        let list = &mut self.ring[index];
        if list.capacity() == 0 {
            if let Some(buffer) = self.spare.pop() {
                *list = buffer;
            }
        }
        list.push(item);
        self.occupied[index / 64] |= 1 << (index % 64);
        self.in_ring += 1;
    }

    /// The least key, moving on to the next slot with events if the current one
    /// is done.
    #[inline]
    pub(super) fn peek_key(&mut self) -> Option<u128> {
        loop {
            let sorted = self.current.last().map(Keyed::key);
            let late = self.late.peek().map(Keyed::key);
            match (sorted, late) {
                (Some(a), Some(b)) => return Some(a.min(b)),
                (Some(a), None) => return Some(a),
                (None, Some(b)) => return Some(b),
                (None, None) => {
                    if !self.visit_next_slot() {
                        return None;
                    }
                }
            }
        }
    }

    /// The events of the slot just sorted, once: the ones that come next.
    #[inline]
    pub(super) fn take_new_slot(&mut self) -> Option<&[T]> {
        if !self.new_slot {
            return None;
        }
        self.new_slot = false;
        Some(&self.current)
    }

    /// Takes the event with the least key; call right after `peek_key` found it.
    #[inline]
    pub(super) fn pop(&mut self) -> Option<T> {
        let sorted = self.current.last().map(Keyed::key);
        let late = self.late.peek().map(Keyed::key);
        match (sorted, late) {
            (Some(a), Some(b)) if b < a => self.late.pop(),
            (Some(_), _) => self.current.pop(),
            (None, _) => self.late.pop(),
        }
    }

    /// Makes the next slot that has events the current one, sorting it. Returns
    /// false when there are no events left.
    #[cold]
    fn visit_next_slot(&mut self) -> bool {
        if self.in_ring == 0 {
            let Some(first) = self.beyond.peek() else {
                return false;
            };
            // Jump over the empty stretch to just before the first far event.
            self.current_slot = (time_of(first) >> self.shift) - 1;
            self.pull_within_reach();
        }
        let next = self.next_occupied_slot();
        self.current_slot = next;
        let index = (next % SLOTS) as usize;
        self.occupied[index / 64] &= !(1 << (index % 64));
        let done = std::mem::replace(&mut self.current, std::mem::take(&mut self.ring[index]));
        if done.capacity() > 0 {
            self.spare.push(done);
        }
        self.in_ring -= self.current.len();
        self.pull_within_reach();
        self.current
            .sort_unstable_by_key(|item| std::cmp::Reverse(item.key()));
        self.new_slot = true;
        self.visits += 1;
        self.visited_events += self.current.len() as u64;
        self.events_since_refile += self.current.len() as u64;
        // A calendar far too coarse for its events decides at once.
        if self.visits == VISITS_PER_DECISION
            || self.visited_events > VISITS_PER_DECISION * BUSY_SLOT
        {
            self.adapt_width();
        }
        true
    }

    /// The first slot after the current one whose ring entry has events (there is one).
    fn next_occupied_slot(&self) -> u64 {
        let start = ((self.current_slot + 1) % SLOTS) as usize;
        let (word, bit) = (start / 64, start % 64);
        let first_word = self.occupied[word] & (u64::MAX << bit);
        let offset = if first_word != 0 {
            u64::from(first_word.trailing_zeros()) + (word * 64) as u64
        } else {
            (1..=WORDS)
                .map(|step| (word + step) % WORDS)
                .find(|&w| self.occupied[w] != 0)
                .map(|w| u64::from(self.occupied[w].trailing_zeros()) + (w * 64) as u64)
                .expect("the ring has an event")
        };
        let ahead = (offset + SLOTS - start as u64) % SLOTS;
        self.current_slot + 1 + ahead
    }

    /// Moves far events into the ring once their slot is within its reach.
    fn pull_within_reach(&mut self) {
        while let Some(first) = self.beyond.peek() {
            let slot = time_of(first) >> self.shift;
            if slot.saturating_sub(self.current_slot) > SLOTS {
                break;
            }
            let item = self.beyond.pop().expect("peeked");
            self.place(slot, item);
        }
    }

    /// Narrows or widens the slots when those visited lately held too many events
    /// or too few, by the power of two that brings them back to the aim, and files
    /// every event anew.
    fn adapt_width(&mut self) {
        let per_visit = self.visited_events / self.visits;
        self.visits = 0;
        self.visited_events = 0;
        let shift = if per_visit > BUSY_SLOT {
            let halvings = (per_visit / EVENTS_PER_SLOT).ilog2();
            self.shift.saturating_sub(halvings).max(MIN_SHIFT)
        } else if per_visit < IDLE_SLOT {
            let doublings = (EVENTS_PER_SLOT / per_visit.max(1)).ilog2();
            (self.shift + doublings).min(MAX_SHIFT)
        } else {
            return;
        };
        // Events whose density swings back and forth could otherwise have every
        // pending event moved again and again; this way the moving costs at most
        // REFILE_SHARE times the events the calendar handled, whatever they do.
        let pending = self.len() as u64;
        if shift != self.shift && pending <= REFILE_SHARE * self.events_since_refile {
            self.events_since_refile = 0;
            self.refiled += pending;
            self.refile(shift);
        }
    }

    /// Files every event of the current slot and the ring again with slots of
    /// 2^`shift` ns. The new current slot is the one holding the old current
    /// slot's last instant, so every event of the late heap is still at or before
    /// it, and the current slot's events join them there.
    #[cold]
    fn refile(&mut self, shift: u32) {
        let mut events = std::mem::take(&mut self.current);
        for slot in &mut self.ring {
            // Slots sized for the old width would keep their capacity for good.
            events.append(&mut std::mem::take(slot));
        }
        self.spare.clear();
        self.occupied = [0; WORDS];
        self.in_ring = 0;
        // In u128: the slot after the last may start past u64's range.
        let current_end = (u128::from(self.current_slot) + 1) << self.shift;
        self.shift = shift;
        self.current_slot = ((current_end - 1) >> shift) as u64;
        for item in events {
            self.push(item);
        }
        // A wider ring reaches further: far events may now belong in it.
        self.pull_within_reach();
        // The events just filed into the late heap are not a slot's worth of new
        // ones: counting them would make the next decision at once, on them.
        self.visits = 0;
        self.visited_events = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    struct Item(u128);

    impl Calendar<Item> {
        fn pop_next(&mut self) -> Option<u128> {
            self.peek_key()?;
            self.pop().map(|item| item.0)
        }
    }

    impl Keyed for Item {
        fn key(&self) -> u128 {
            self.0
        }
    }

    /// Drives a calendar and a sorted reference with the same pushes and pops;
    /// `delays[i]` is the delay of the i-th push after the time popped last. Returns
    /// the slot widths the calendar went through.
    fn run_against_reference(
        initial: &[u64],
        steps: &[(u64, bool)],
    ) -> Result<Vec<u32>, TestCaseError> {
        let mut calendar = Calendar::new();
        let mut reference = std::collections::BTreeSet::new();
        let mut seq = 0u128;
        let mut now = 0u64;
        let mut shifts = vec![calendar.shift];
        let key = |time: u64, seq: u128| (u128::from(time) << 64) | seq;
        for &time in initial {
            calendar.push(Item(key(time, seq)));
            reference.insert(key(time, seq));
            seq += 1;
        }
        for &(delay, pop) in steps {
            if pop {
                let expected = reference.pop_first();
                prop_assert_eq!(calendar.peek_key(), expected);
                prop_assert_eq!(calendar.pop().map(|item| item.0), expected);
                if let Some(popped) = expected {
                    now = (popped >> 64) as u64;
                }
            } else {
                let time = now.saturating_add(delay);
                calendar.push(Item(key(time, seq)));
                reference.insert(key(time, seq));
                seq += 1;
            }
            prop_assert_eq!(calendar.len(), reference.len());
            if shifts.last() != Some(&calendar.shift) {
                shifts.push(calendar.shift);
            }
        }
        while let Some(expected) = reference.pop_first() {
            prop_assert_eq!(calendar.peek_key(), Some(expected));
            prop_assert_eq!(calendar.pop().map(|item| item.0), Some(expected));
        }
        prop_assert_eq!(calendar.peek_key(), None);
        Ok(shifts)
    }

    /// Delays of every scale: the same instant, within a slot, across the ring,
    /// and far beyond it.
    fn delay() -> impl Strategy<Value = u64> {
        prop_oneof![
            2 => 0u64..4,
            3 => 0u64..(1 << 14),
            3 => 0u64..(1 << 22),
            2 => 0u64..(1 << 34),
            1 => 0u64..(1 << 50),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn pops_in_key_order_whatever_the_delays(
            initial in proptest::collection::vec(0u64..(1 << 30), 0..300),
            steps in proptest::collection::vec((delay(), any::<bool>()), 1..4000),
        ) {
            run_against_reference(&initial, &steps)?;
        }
    }

    /// Events whose density swings between dense and sparse, each phase long
    /// enough for the width to follow it, get no more refiling than the events
    /// handled pay for.
    #[test]
    fn refiling_stays_within_its_share_of_the_work() {
        let mut rng = crate::rng::RngStream::new(2, "calendar-swings");
        let mut calendar = Calendar::new();
        let mut seq = 0u64;
        let mut push = |calendar: &mut Calendar<Item>, time: u64| {
            calendar.push(Item((u128::from(time) << 64) | u128::from(seq)));
            seq += 1;
        };
        let mut start = 1u64 << 20;
        for _ in 0..20 {
            // A dense millisecond, then two sparse seconds.
            for _ in 0..12_800 {
                push(&mut calendar, start + rng.below(1 << 20));
            }
            for gap in 1..=200 {
                push(&mut calendar, start + gap * 10_000_000);
            }
            start += 3_000_000_000;
        }
        let mut handled = 0u64;
        while calendar.pop_next().is_some() {
            handled += 1;
        }
        assert_eq!(handled, 20 * (12_800 + 200));
        assert!(calendar.refiled > 0, "the width never changed");
        assert!(
            calendar.refiled <= REFILE_SHARE * handled,
            "{} events refiled for {handled} handled",
            calendar.refiled
        );
    }

    /// A steady population of events, each handled and replaced a little later,
    /// keeps slot buffers for the slots that have events, not for the whole ring.
    #[test]
    fn slot_buffers_follow_the_pending_events() {
        let mut rng = crate::rng::RngStream::new(3, "calendar-buffers");
        let mut calendar = Calendar::new();
        let mut seq = 0u128;
        let pending = 1_000u64;
        for _ in 0..pending {
            calendar.push(Item((u128::from(rng.below(1 << 26)) << 64) | seq));
            seq += 1;
        }
        // Long enough for the ring to go round many times.
        for _ in 0..2_000_000 {
            let now = (calendar.pop_next().expect("steady population") >> 64) as u64;
            calendar.push(Item((u128::from(now + rng.below(1 << 26)) << 64) | seq));
            seq += 1;
        }
        let buffered: usize = calendar
            .ring
            .iter()
            .chain(&calendar.spare)
            .map(Vec::capacity)
            .sum();
        assert!(
            buffered < 8 * pending as usize,
            "{buffered} entries buffered for {pending} pending"
        );
    }

    /// Dense events narrow the slots, then sparse ones widen them again, and the
    /// order is right throughout (the refiling is exercised both ways).
    #[test]
    fn slot_width_follows_the_density_of_events() {
        let mut rng = crate::rng::RngStream::new(1, "calendar");
        let initial: Vec<u64> = (0..5_000).map(|_| rng.below(1 << 20)).collect();
        // A steady population: each pop is followed by a push about 1 ms on.
        let mut steps: Vec<(u64, bool)> = (0..200_000)
            .flat_map(|_| [(0, true), ((1 << 19) + rng.below(1 << 20), false)])
            .collect();
        // Then the population drains to a few events seconds apart.
        steps.extend((0..4_990).map(|_| (0, true)));
        steps
            .extend((0..20_000).flat_map(|_| [(0, true), ((1 << 32) + rng.below(1 << 33), false)]));
        let shifts = run_against_reference(&initial, &steps).expect("same order as the reference");
        let narrowest = *shifts.iter().min().expect("a width");
        assert!(narrowest < START_SHIFT, "never narrowed: {shifts:?}");
        assert!(
            *shifts.last().expect("a width") > narrowest + 4,
            "never widened again: {shifts:?}"
        );
    }
}
