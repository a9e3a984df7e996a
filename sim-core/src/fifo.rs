//! A first-in, first-out queue for the event loop's hot paths.
//!
//! The agenda of same-instant work and the event queue's lanes are pushed at the
//! back and popped at the front many times per event, and most of them run empty
//! again and again. A vector with a read position does each of those in a few
//! instructions, without the wrap-around arithmetic of a ring buffer: when the
//! reader catches up, both ends go back to the start. A queue that never drains (a
//! timer lane of a busy run) is compacted once its consumed prefix is as long as
//! what is left, so its memory follows its length, at O(1) amortised per pop.

/// Entries popped before compaction is worth a move.
const COMPACT_AFTER: usize = 1024;

#[derive(Clone, Debug)]
pub struct Fifo<T> {
    items: Vec<T>,
    head: usize,
}

impl<T> Default for Fifo<T> {
    fn default() -> Self {
        Fifo {
            items: Vec::new(),
            head: 0,
        }
    }
}

impl<T: Copy> Fifo<T> {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.items.len() - self.head
    }

    pub fn is_empty(&self) -> bool {
        self.head == self.items.len()
    }

    #[inline]
    pub fn push_back(&mut self, item: T) {
        self.items.push(item);
    }

    #[inline]
    pub fn front(&self) -> Option<&T> {
        self.items.get(self.head)
    }

    #[inline]
    pub fn pop_front(&mut self) -> Option<T> {
        let item = *self.items.get(self.head)?;
        self.head += 1;
        if self.head == self.items.len() {
            self.items.clear();
            self.head = 0;
        } else if self.head >= COMPACT_AFTER && self.head * 2 >= self.items.len() {
            self.items.drain(..self.head);
            self.head = 0;
        }
        Some(item)
    }

    /// Keeps the entries `keep` accepts, in their order.
    pub fn retain(&mut self, keep: impl FnMut(&T) -> bool) {
        self.items.drain(..self.head);
        self.head = 0;
        self.items.retain(keep);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Behaves as the standard library's ring buffer under any mix of pushes,
        /// pops and filtering, through resets and compactions.
        #[test]
        fn behaves_as_a_ring_buffer(ops in proptest::collection::vec(0u8..10, 0..5000)) {
            let mut fifo = Fifo::new();
            let mut reference = std::collections::VecDeque::new();
            for (index, op) in ops.into_iter().enumerate() {
                match op {
                    0..=4 => {
                        fifo.push_back(index);
                        reference.push_back(index);
                    }
                    5..=8 => prop_assert_eq!(fifo.pop_front(), reference.pop_front()),
                    _ => {
                        fifo.retain(|&item| item % 3 != 0);
                        reference.retain(|&item| item % 3 != 0);
                    }
                }
                prop_assert_eq!(fifo.len(), reference.len());
                prop_assert_eq!(fifo.front(), reference.front());
                prop_assert!(fifo.items[fifo.head..].iter().eq(reference.iter()));
            }
        }
    }

    /// A queue that never runs empty keeps its memory near its length.
    #[test]
    fn a_queue_that_never_drains_stays_small() {
        let mut fifo = Fifo::new();
        fifo.push_back(0u64);
        for item in 1..1_000_000u64 {
            fifo.push_back(item);
            assert_eq!(fifo.pop_front(), Some(item - 1));
        }
        assert_eq!(fifo.len(), 1);
        assert!(
            fifo.items.capacity() <= 4 * COMPACT_AFTER,
            "{}",
            fifo.items.capacity()
        );
    }
}
