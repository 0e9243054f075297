//! A list that keeps only its newest rows. A run's statements and log lines are kept in these so
//! a long run (or a chatty one) cannot grow the console's memory or its redraw cost.

use std::collections::VecDeque;

/// At most `capacity` items; pushing onto a full list forgets the oldest and counts it.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Bounded<T> {
    items: VecDeque<T>,
    capacity: usize,
    dropped: u64,
}

impl<T> Bounded<T> {
    pub(super) fn new(capacity: usize) -> Bounded<T> {
        Bounded { items: VecDeque::new(), capacity: capacity.max(1), dropped: 0 }
    }

    pub(super) fn push(&mut self, item: T) {
        if self.items.len() == self.capacity {
            self.items.pop_front();
            self.dropped += 1;
        }
        self.items.push_back(item);
    }

    pub(super) fn len(&self) -> usize {
        self.items.len()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// How many items were forgotten to stay within capacity.
    pub(super) fn dropped(&self) -> u64 {
        self.dropped
    }

    pub(super) fn get(&self, position: usize) -> Option<&T> {
        self.items.get(position)
    }

    pub(super) fn last(&self) -> Option<&T> {
        self.items.back()
    }

    pub(super) fn iter(&self) -> impl DoubleEndedIterator<Item = &T> + ExactSizeIterator {
        self.items.iter()
    }

    /// The newest item matching `pred` (searching from the newest end, where updates land).
    pub(super) fn find_newest_mut(&mut self, pred: impl Fn(&T) -> bool) -> Option<&mut T> {
        self.items.iter_mut().rev().find(|item| pred(item))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_newest_items() {
        let mut b = Bounded::new(3);
        for i in 0..5 {
            b.push(i);
        }
        assert_eq!(b.iter().copied().collect::<Vec<_>>(), [2, 3, 4]);
        assert_eq!(b.dropped(), 2);
        assert_eq!(b.len(), 3);
        assert_eq!(b.last(), Some(&4));
    }

    #[test]
    fn finds_the_newest_match() {
        let mut b = Bounded::new(10);
        for (k, v) in [(1, 'a'), (2, 'b'), (1, 'c')] {
            b.push((k, v));
        }
        b.find_newest_mut(|(k, _)| *k == 1).unwrap().1 = 'z';
        assert_eq!(b.iter().map(|(_, v)| *v).collect::<String>(), "abz");
        assert!(b.find_newest_mut(|(k, _)| *k == 9).is_none());
    }
}
