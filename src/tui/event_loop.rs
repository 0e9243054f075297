//! The console's loop: waits on the keyboard and mouse, the engine's run events, background
//! results, signals and a slow tick, and redraws only when something changed — at most once per
//! frame interval, never in a busy loop. It is the only place that reads the clock.

use std::time::Duration;

use chrono::Utc;
use crossterm::event::{Event, EventStream, KeyEventKind, MouseButton, MouseEventKind};
use futures::StreamExt;
use tokio::sync::mpsc::{self, UnboundedReceiver};
use tokio::time::{Instant, MissedTickBehavior};

use super::action::{Action, Intent};
use super::app::App;
use super::keymap;
use super::runner::Runner;
use super::terminal::{ConsoleTask, TerminalGuard};
use super::theme::Theme;
use super::ui;
use crate::pipeline::{Engine, RunEvent};
use crate::signals::Signals;

/// Redraws at least this often, so lag and elapsed times move.
const TICK: Duration = Duration::from_secs(1);
/// Redraws at most this often, however fast events come.
const FRAME: Duration = Duration::from_millis(33);
/// Run events handled before a redraw, at most (keeps input responsive under a flood).
const EVENT_BATCH: usize = 512;
/// How long quitting waits for cancelled runs to stop (and release their leases).
const QUIT_GRACE: Duration = Duration::from_secs(5);

pub async fn run(engine: Engine, events: UnboundedReceiver<RunEvent>) -> color_eyre::Result<()> {
    ConsoleTask::new(console(engine, events)).await
}

async fn console(engine: Engine, mut events: UnboundedReceiver<RunEvent>) -> color_eyre::Result<()> {
    let theme = Theme::from_env();
    let mut guard = TerminalGuard::enter()?;
    let size = guard.terminal().size()?;
    let mut app = App::new(engine.config(), Utc::now(), size.width, size.height);
    let (messages_tx, mut messages) = mpsc::unbounded_channel();
    let mut runner = Runner::new(engine, messages_tx);
    let mut signals = Signals::new()?;
    let mut input = EventStream::new();
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    runner.dispatch(&mut app, Action::Intent(Intent::Refresh));

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
            Some(event) = events.recv() => {
                runner.dispatch(&mut app, Action::Run(Box::new(event)));
                for _ in 1..EVENT_BATCH {
                    let Ok(event) = events.try_recv() else { break };
                    runner.dispatch(&mut app, Action::Run(Box::new(event)));
                }
                dirty = true;
            }
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
    Ok(())
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
