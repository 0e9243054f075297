//! The panes that can take focus. Export and manifest panes only display, so Tab skips them.

use super::keymap::Context;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Pane {
    Tables,
    Statements,
    History,
}

impl Pane {
    const ORDER: [Pane; 3] = [Pane::Tables, Pane::Statements, Pane::History];

    pub(super) fn next(self) -> Pane {
        let i = Pane::ORDER.iter().position(|&p| p == self).unwrap_or(0);
        Pane::ORDER[(i + 1) % Pane::ORDER.len()]
    }

    pub(super) fn prev(self) -> Pane {
        let i = Pane::ORDER.iter().position(|&p| p == self).unwrap_or(0);
        Pane::ORDER[(i + Pane::ORDER.len() - 1) % Pane::ORDER.len()]
    }

    /// The keymap context of this pane's own keys.
    pub(super) fn context(self) -> Context {
        match self {
            Pane::Tables => Context::Tables,
            Pane::Statements => Context::Statements,
            Pane::History => Context::History,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tab_cycles_through_every_pane_and_back() {
        assert_eq!(Pane::Tables.next(), Pane::Statements);
        assert_eq!(Pane::History.next(), Pane::Tables);
        assert_eq!(Pane::Tables.prev(), Pane::History);
        for pane in Pane::ORDER {
            assert_eq!(pane.next().prev(), pane);
        }
    }
}
