//! The popup that is open, if any: what it shows and how far it is scrolled. Its text is built
//! by [`super::popup_content`] from the state each time, so a popup over a live run stays live.

use super::layout::PopupSize;
use super::run_view::RunView;

/// A yes/no question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Question {
    /// A full sync replaces the target: ask first.
    FullSync { table: String },
    /// An incremental sync was asked of a table never synced, which needs a full sync first:
    /// offer it rather than start a run that can only refuse.
    FirstSync { table: String },
    /// Quitting cancels the runs still going: ask first.
    Quit { active: usize },
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum PopupKind {
    Help,
    Confirm(Question),
    /// One statement of a table's shown run: full SQL and error.
    Statement {
        table: String,
        run_id: String,
        position: usize,
    },
    /// The console's dry run: plan and SQL.
    DryRun,
    /// Stage, cause and what to do, for a table's failed run.
    Failure {
        table: String,
    },
    /// Everything about one run (from the history, or the shown run).
    RunDetail(Box<RunView>),
    /// The log lines of a table's shown run.
    Log {
        table: String,
    },
    /// The selected row of the rows view, whole.
    Row,
    /// A table's effective settings, column mapping and trends.
    TableDetail {
        table: String,
    },
    /// The schema drift of a table's shown run.
    Drift {
        table: String,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Popup {
    pub kind: PopupKind,
    /// First line shown.
    pub scroll: usize,
}

impl Popup {
    pub(super) fn new(kind: PopupKind) -> Popup {
        Popup { kind, scroll: 0 }
    }

    pub(super) fn is_question(&self) -> bool {
        matches!(self.kind, PopupKind::Confirm(_))
    }

    pub(super) fn size(&self) -> PopupSize {
        if self.is_question() { PopupSize::Small } else { PopupSize::Large }
    }

    pub(super) fn title(&self) -> String {
        match &self.kind {
            PopupKind::Help => "Keys".into(),
            PopupKind::Confirm(Question::FullSync { .. }) => "Full sync?".into(),
            PopupKind::Confirm(Question::FirstSync { .. }) => "Never synced: full sync first?".into(),
            PopupKind::Confirm(Question::Quit { .. }) => "Quit?".into(),
            PopupKind::Statement { table, .. } => format!("Statement · {table}"),
            PopupKind::DryRun => "Dry run · plan and SQL".into(),
            PopupKind::Failure { table } => format!("Failure · {table}"),
            PopupKind::RunDetail(run) => format!("Run {} · {}", run.run_id, run.table),
            PopupKind::Log { table } => format!("Log · {table}"),
            PopupKind::Row => "Row".into(),
            PopupKind::TableDetail { table } => format!("Table · {table}"),
            PopupKind::Drift { table } => format!("Schema drift · {table}"),
        }
    }
}
