//! Taking over the terminal (raw mode, alternate screen, mouse capture) and giving it back on
//! every path: when the guard drops (normal exit or `?`), and from the panic hook when the
//! console itself panics.
//!
//! Panics of pipeline tasks are different: tokio catches them and the console reports the run as
//! failed. Printing them would scribble over the screen, so while the console owns the terminal
//! they go to the log file instead. The hook tells the two apart by a thread-local flag that is
//! set only while the console's future is being polled ([`ConsoleTask`]).

use std::cell::Cell;
use std::future::Future;
use std::io::{self, Stdout};
use std::pin::Pin;
use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use crossterm::cursor::{Hide, Show};
use crossterm::event::{DisableMouseCapture, EnableMouseCapture};
use crossterm::execute;
use crossterm::terminal::{EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

/// Whether the console currently holds the terminal.
static HELD: AtomicBool = AtomicBool::new(false);

thread_local! {
    /// Set while this thread polls the console's own future.
    static POLLING_CONSOLE: Cell<bool> = const { Cell::new(false) };
}

pub(super) type ConsoleTerminal = Terminal<CrosstermBackend<Stdout>>;

/// Holds the terminal; dropping it gives the terminal back.
pub(super) struct TerminalGuard {
    terminal: ConsoleTerminal,
}

impl TerminalGuard {
    pub(super) fn enter() -> io::Result<TerminalGuard> {
        install_panic_hook();
        enable_raw_mode()?;
        HELD.store(true, Ordering::SeqCst);
        let setup = execute!(io::stdout(), EnterAlternateScreen, EnableMouseCapture, Hide)
            .and_then(|()| Terminal::new(CrosstermBackend::new(io::stdout())));
        match setup {
            Ok(mut terminal) => {
                terminal.clear()?;
                Ok(TerminalGuard { terminal })
            }
            Err(err) => {
                restore();
                Err(err)
            }
        }
    }

    pub(super) fn terminal(&mut self) -> &mut ConsoleTerminal {
        &mut self.terminal
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore();
    }
}

/// Leaves raw mode and the alternate screen, shows the cursor. Safe to call more than once:
/// only the first call after [`TerminalGuard::enter`] does anything.
pub(super) fn restore() {
    if HELD.swap(false, Ordering::SeqCst) {
        let _ = execute!(io::stdout(), DisableMouseCapture, LeaveAlternateScreen, Show);
        let _ = disable_raw_mode();
    }
}

fn install_panic_hook() {
    static INSTALLED: Once = Once::new();
    INSTALLED.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !HELD.load(Ordering::SeqCst) {
                previous(info);
            } else if POLLING_CONSOLE.with(Cell::get) {
                restore();
                previous(info);
            } else {
                tracing::error!(panic = %info, "a background task panicked");
            }
        }));
    });
}

/// Wraps the console's future so panics inside it are recognised as the console's own.
pub(super) struct ConsoleTask<F> {
    inner: Pin<Box<F>>,
}

impl<F: Future> ConsoleTask<F> {
    pub(super) fn new(inner: F) -> ConsoleTask<F> {
        ConsoleTask { inner: Box::pin(inner) }
    }
}

impl<F: Future> Future for ConsoleTask<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let previous = POLLING_CONSOLE.with(|flag| flag.replace(true));
        let result = self.inner.as_mut().poll(cx);
        POLLING_CONSOLE.with(|flag| flag.set(previous));
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restoring_twice_is_harmless() {
        restore();
        restore();
        assert!(!HELD.load(Ordering::SeqCst));
    }

    #[tokio::test]
    async fn the_console_flag_is_set_only_while_polling_it() {
        assert!(!POLLING_CONSOLE.with(Cell::get));
        let inside = ConsoleTask::new(async { POLLING_CONSOLE.with(Cell::get) }).await;
        assert!(inside);
        assert!(!POLLING_CONSOLE.with(Cell::get));
    }
}
