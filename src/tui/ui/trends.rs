//! The trends pane above the history (on terminals tall enough): one sparkline per series over
//! the selected table's last runs, oldest left, with the newest run's value.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Widget};

use super::{pane_block, span};
use crate::tui::app::App;
use crate::tui::theme::{Theme, Tone};
use crate::tui::trends::{self, TrendContext};

/// Cells of the label on the left and of the newest value on the right.
const LABEL: u16 = 5;
const VALUE: u16 = 8;

pub(super) fn draw(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let table = app.selected().filter(|t| !t.history.is_empty());
    let title = match table {
        Some(table) => {
            format!(" Trends · last {} ", crate::human::counted(table.history.len() as u64, "run"))
        }
        None => " Trends ".to_owned(),
    };
    let block = pane_block(title, false, theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let Some(table) = table else {
        frame.render_widget(Paragraph::new(span(theme, Tone::Dim, "No runs to chart yet.")), inner);
        return;
    };
    let context = TrendContext { demo: table.demo, safety_lag: table.config.safety_lag };
    let trends = trends::trends(&table.history, &context);
    let rows = Layout::vertical(trends.iter().map(|_| Constraint::Length(1))).split(inner);
    for (trend, row) in trends.iter().zip(rows.iter()) {
        let [label, chart, value] = row.layout(&Layout::horizontal([
            Constraint::Length(LABEL),
            Constraint::Fill(1),
            Constraint::Length(VALUE),
        ]));
        frame.render_widget(Paragraph::new(span(theme, Tone::Dim, trend.label)), label);
        trends::sparkline(trend.newest(usize::from(chart.width)))
            .style(theme.style(Tone::Accent))
            .absent_value_style(theme.style(Tone::Dim))
            .render(chart, frame.buffer_mut());
        let last = trend.last.clone().unwrap_or_else(|| "–".to_owned());
        frame
            .render_widget(Paragraph::new(Line::from(span(theme, Tone::Plain, last)).right_aligned()), value);
    }
}
