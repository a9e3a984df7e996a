//! A 4-ary min-heap on unique keys, for the events that fit no faster structure.
//!
//! 4-ary: half the depth of a binary heap, and four siblings share a cache line or
//! two, so a pop touches about half as many lines. A pop walks the hole from the
//! root down to a leaf along the least children, then sifts the former last entry
//! up from there (Floyd's method): the last entry almost always belongs near the
//! bottom, so this saves a comparison per level.

pub(super) trait Keyed: Copy {
    /// (time, seq) as one number: one wide comparison, without branches, orders
    /// entries exactly as the pair does.
    fn key(&self) -> u128;
}

const ARITY: usize = 4;

/// A min-heap on (time, seq). Keys are unique (seq is), so the pop order is fully
/// determined by the keys, never by the heap's shape.
pub(super) struct Heap<T> {
    items: Vec<T>,
}

impl<T: Keyed> Heap<T> {
    pub(super) fn new() -> Self {
        Heap { items: Vec::new() }
    }

    pub(super) fn len(&self) -> usize {
        self.items.len()
    }

    #[inline]
    pub(super) fn peek(&self) -> Option<&T> {
        self.items.first()
    }

    #[inline]
    pub(super) fn push(&mut self, item: T) {
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
    pub(super) fn pop(&mut self) -> Option<T> {
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

impl<T: Keyed> Heap<T> {
    /// Keeps the entries `keep` accepts. Keys are unique, so the rebuilt heap pops
    /// the kept entries in exactly the order the old one would have.
    pub(super) fn retain(&mut self, keep: impl FnMut(&T) -> bool) {
        let mut entries = std::mem::take(&mut self.items);
        entries.retain(keep);
        for entry in entries {
            self.push(entry);
        }
    }
}
