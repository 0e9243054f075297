//! Selection and scroll offset of a list pane. Kept in the state (not recomputed while drawing)
//! so scrolling feels stable: the view moves only when the selection would leave it. Only the
//! visible slice is ever drawn, so a long list costs no more to draw than a short one.

use std::ops::Range;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct ListCursor {
    selected: usize,
    offset: usize,
    /// Keep the last row selected as rows arrive (until the user moves).
    follow: bool,
}

impl ListCursor {
    /// A cursor that sticks to the newest row, for lists that grow while you watch.
    pub(super) fn following() -> ListCursor {
        ListCursor { follow: true, ..ListCursor::default() }
    }

    pub(super) fn selected(&self) -> usize {
        self.selected
    }

    /// Moves by `delta` rows within `len`, scrolling a view of `visible` rows as needed.
    pub(super) fn move_by(&mut self, delta: isize, len: usize, visible: usize) {
        self.follow = false;
        let target = self.selected.saturating_add_signed(delta);
        self.select(target, len, visible);
    }

    /// Selects row `index` (clamped to the list).
    pub(super) fn select(&mut self, index: usize, len: usize, visible: usize) {
        self.selected = index.min(len.saturating_sub(1));
        self.scroll_into_view(visible);
    }

    /// Selects the last row and keeps following new ones.
    pub(super) fn follow_last(&mut self, len: usize, visible: usize) {
        self.select(len.saturating_sub(1), len, visible);
        self.follow = true;
    }

    /// Re-establishes the invariants after the list changed length or the view changed height.
    pub(super) fn clamp(&mut self, len: usize, visible: usize) {
        let target = if self.follow { len.saturating_sub(1) } else { self.selected };
        self.select(target, len, visible);
        self.offset = self.offset.min(len.saturating_sub(visible.max(1)));
        self.scroll_into_view(visible);
    }

    /// The rows a view of `visible` rows shows.
    pub(super) fn visible_range(&self, len: usize, visible: usize) -> Range<usize> {
        let start = self.offset.min(len);
        start..(start + visible).min(len)
    }

    fn scroll_into_view(&mut self, visible: usize) {
        let visible = visible.max(1);
        if self.selected < self.offset {
            self.offset = self.selected;
        } else if self.selected >= self.offset + visible {
            self.offset = self.selected + 1 - visible;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moving_scrolls_only_at_the_edges() {
        let mut c = ListCursor::default();
        c.move_by(3, 10, 4);
        assert_eq!((c.selected(), c.visible_range(10, 4)), (3, 0..4));
        c.move_by(1, 10, 4);
        assert_eq!((c.selected(), c.visible_range(10, 4)), (4, 1..5));
        c.move_by(-2, 10, 4);
        assert_eq!((c.selected(), c.visible_range(10, 4)), (2, 1..5));
        c.move_by(-5, 10, 4);
        assert_eq!((c.selected(), c.visible_range(10, 4)), (0, 0..4));
    }

    #[test]
    fn never_leaves_the_list() {
        let mut c = ListCursor::default();
        c.move_by(100, 5, 3);
        assert_eq!(c.selected(), 4);
        c.move_by(-100, 5, 3);
        assert_eq!(c.selected(), 0);
        c.move_by(1, 0, 3);
        assert_eq!((c.selected(), c.visible_range(0, 3)), (0, 0..0));
    }

    #[test]
    fn following_tracks_new_rows_until_the_user_moves() {
        let mut c = ListCursor::following();
        c.clamp(3, 2);
        assert_eq!((c.selected(), c.visible_range(3, 2)), (2, 1..3));
        c.clamp(6, 2);
        assert_eq!(c.selected(), 5);
        c.move_by(-1, 6, 2);
        c.clamp(9, 2);
        assert_eq!(c.selected(), 4, "no longer following");
        c.follow_last(9, 2);
        c.clamp(10, 2);
        assert_eq!(c.selected(), 9);
    }

    #[test]
    fn shrinking_lists_pull_the_selection_back() {
        let mut c = ListCursor::default();
        c.select(8, 10, 3);
        c.clamp(4, 3);
        assert_eq!((c.selected(), c.visible_range(4, 3)), (3, 1..4));
    }
}
