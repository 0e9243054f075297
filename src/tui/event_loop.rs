//! The console's loop: waits on the keyboard and mouse, the engine's run events, background
//! results, signals and a slow tick, and redraws only when something changed — at most once per
//! frame interval, never in a busy loop. It is the only place that reads the clock.
//!
//! It draws before anything is connected: connecting runs in the background (its state shown),
//! and the engine's events flow once it succeeds. A watch timer has the state look for runs of
//! other processes every few seconds.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use crossterm::event::{Event, EventStream, KeyEventKind, MouseButton, MouseEventKind};
use futures::StreamExt;
use tokio::sync::mpsc::{self, UnboundedReceiver};
use tokio::time::{Instant, MissedTickBehavior};

use super::action::Action;
use super::app::App;
use super::connection::Connection;
use super::keymap;
use super::runner::Runner;
use super::terminal::{ConsoleTask, TerminalGuard};
use super::theme::Theme;
use super::ui;
use crate::config::Config;
use crate::pipeline::RunEvent;
use crate::pipeline::RunObserver;
use crate::signals::Signals;

/// Redraws at least this often, so lag and elapsed times move.
const TICK: Duration = Duration::from_secs(1);
/// Redraws at most this often, however fast events come.
const FRAME: Duration = Duration::from_millis(33);
/// Run events handled before a redraw, at most (keeps input responsive under a flood).
const EVENT_BATCH: usize = 512;
/// How long quitting waits for cancelled runs to stop (and release their leases).
const QUIT_GRACE: Duration = Duration::from_secs(5);
/// How often the console looks for runs of other processes (lease files, watermarks).
const WATCH: Duration = Duration::from_secs(2);

/// Runs the console on `config` until the user quits; returns the exit code: 0, or the
/// connection failure's when the user quits without ever connecting.
pub(super) async fn run(config: Config, observer: Option<Arc<dyn RunObserver>>) -> color_eyre::Result<u8> {
    ConsoleTask::new(console(config, observer)).await
}

async fn console(config: Config, observer: Option<Arc<dyn RunObserver>>) -> color_eyre::Result<u8> {
    let theme = Theme::from_env();
    let mut guard = TerminalGuard::enter()?;
    let size = guard.terminal().size()?;
    let mut app = App::new(&config, Utc::now(), size.width, size.height);
    let (messages_tx, mut messages) = mpsc::unbounded_channel();
    let (connections_tx, mut connections) = mpsc::unbounded_channel();
    let mut runner = Runner::new(config, observer, messages_tx, connections_tx);
    let mut signals = Signals::new()?;
    let mut input = EventStream::new();
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut watch = tokio::time::interval(WATCH);
    watch.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut events: Option<UnboundedReceiver<RunEvent>> = None;
    runner.connect();

    let mut dirty = true;
    let mut last_frame = Instant::now() - FRAME;
    let mut quit_by: Option<Instant> = None;
    loop {
        if dirty && last_frame.elapsed() >= FRAME {
            // A tick may start the tables whose schedule is due.
            runner.dispatch(&mut app, Action::Tick(Utc::now()));
            guard.terminal().draw(|frame| ui::draw(frame, &app, &theme))?;
            last_frame = Instant::now();
            dirty = false;
        }
        if app.is_quitting() {
            let deadline = *quit_by.get_or_insert_with(|| Instant::now() + QUIT_GRACE);
            if runner.is_idle() || Instant::now() >= deadline {
                break;
            }
        }
        tokio::select! {
            input_event = input.next() => match input_event {
                Some(Ok(event)) => {
                    if let Some(action) = translate(&app, event) {
                        runner.dispatch(&mut app, action);
                        dirty = true;
                    }
                }
                Some(Err(err)) => return Err(err.into()),
                None => break,
            },
            Some(event) = next_event(&mut events) => {
                runner.dispatch(&mut app, Action::Run(Box::new(event)));
                for _ in 1..EVENT_BATCH {
                    let Some(Ok(event)) = events.as_mut().map(UnboundedReceiver::try_recv) else { break };
                    runner.dispatch(&mut app, Action::Run(Box::new(event)));
                }
                dirty = true;
            }
            Some(result) = connections.recv() => {
                if let Some(receiver) = runner.connection_ended(&mut app, result) {
                    events = Some(receiver);
                }
                dirty = true;
            }
            _ = watch.tick() => runner.dispatch(&mut app, Action::Watch),
            Some(message) = messages.recv() => {
                runner.dispatch(&mut app, message);
                dirty = true;
            }
            () = signals.recv() => {
                runner.dispatch(&mut app, Action::Shutdown);
                dirty = true;
            }
            _ = tick.tick() => dirty = true,
            () = tokio::time::sleep_until(last_frame + FRAME), if dirty => {}
            () = tokio::time::sleep_until(quit_by.unwrap_or_else(Instant::now)), if quit_by.is_some() => {}
        }
    }
    drop(guard);
    // Quitting without ever connecting: the reason stays on the terminal, and the exit code
    // says the run did not happen (2 for a configuration error).
    if let Connection::Failed { message, exit_code } = app.connection() {
        eprintln!("{message}");
        return Ok(*exit_code);
    }
    Ok(0)
}

/// The next run event, once the engine exists (until then, never).
async fn next_event(events: &mut Option<UnboundedReceiver<RunEvent>>) -> Option<RunEvent> {
    match events {
        Some(receiver) => receiver.recv().await,
        None => std::future::pending().await,
    }
}

/// The action a terminal event stands for, if any.
fn translate(app: &App, event: Event) -> Option<Action> {
    match event {
        Event::Key(key) if key.kind != KeyEventKind::Release => keymap::action_for(&app.key_contexts(), &key),
        Event::Mouse(mouse) => match mouse.kind {
            MouseEventKind::ScrollDown => {
                Some(Action::Scroll { column: mouse.column, row: mouse.row, down: true })
            }
            MouseEventKind::ScrollUp => {
                Some(Action::Scroll { column: mouse.column, row: mouse.row, down: false })
            }
            MouseEventKind::Down(MouseButton::Left) => {
                Some(Action::Click { column: mouse.column, row: mouse.row })
            }
            _ => None,
        },
        Event::Resize(width, height) => Some(Action::Resize { width, height }),
        _ => None,
    }
}
