//! The status line above the footer: what the console is doing (quitting, filtering), the latest
//! notice, or else the selected run's newest log line.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::Paragraph;

use super::{fit_line, span};
use crate::tui::app::App;
use crate::tui::connection;
use crate::tui::run_log::LogLevel;
use crate::tui::theme::{Theme, Tone};

pub(super) fn draw(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    frame.render_widget(Paragraph::new(fit_line(line(app, theme), usize::from(area.width))), area);
}

fn line(app: &App, theme: &Theme) -> Line<'static> {
    if app.is_quitting() {
        let runs = app.active_runs();
        return Line::from(span(
            theme,
            Tone::Warn,
            format!(" cancelling {} before quitting…", crate::human::counted(runs as u64, "run")),
        ));
    }
    if app.list().editing {
        return Line::from(vec![
            span(theme, Tone::Accent, format!(" filter: {}▏", app.list().filter)),
            span(theme, Tone::Dim, "  Enter keeps it · Esc clears it"),
        ]);
    }
    if !app.connection().is_connected() && app.notice().is_none() {
        let (tone, text) = connection::status_line(app.connection(), app.now());
        return Line::from(span(theme, tone, format!(" {text}")));
    }
    if let Some(notice) = app.notice() {
        return Line::from(span(theme, notice.tone, format!(" {}", notice.text)));
    }
    let last = app.selected().and_then(|t| t.shown_run()).and_then(|run| run.log.last());
    match last {
        Some(log) => {
            let tone = match log.level {
                LogLevel::Info => Tone::Plain,
                LogLevel::Warn => Tone::Warn,
                LogLevel::Error => Tone::Bad,
            };
            Line::from(vec![
                span(theme, Tone::Dim, format!(" {} ", log.at.format("%H:%M:%S"))),
                span(theme, tone, log.text.clone()),
            ])
        }
        None => Line::from(span(theme, Tone::Dim, format!(" log: {}", app.log_file().display()))),
    }
}
