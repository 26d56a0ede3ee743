//! Terminal input and the clock, both turned into `Action`s on the app's one channel.

use std::time::Duration;

use ratatui::crossterm::event::{self, Event, KeyEventKind};
use tokio::sync::mpsc::UnboundedSender;

use super::app::TICKS_PER_SECOND;
use super::message::Action;

/// Reads the terminal on a thread of its own: crossterm's `read` blocks, and the UI must not.
pub fn spawn_input(actions: UnboundedSender<Action>) {
    std::thread::spawn(move || loop {
        let action = match event::read() {
            // Windows terminals also report releases; one press is one action everywhere.
            Ok(Event::Key(key)) if key.kind != KeyEventKind::Release => Action::Key(key),
            Ok(Event::Resize(..)) => Action::Resize,
            Ok(_) => continue,
            Err(_) => return,
        };
        if actions.send(action).is_err() {
            return;
        }
    });
}

/// Sends `Action::Tick` `TICKS_PER_SECOND` times a second; retries, refreshes and the spinner
/// count ticks instead of reading a clock.
pub fn spawn_ticks(actions: UnboundedSender<Action>) {
    tokio::spawn(async move {
        let mut interval =
            tokio::time::interval(Duration::from_millis(1000 / u64::from(TICKS_PER_SECOND)));
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            interval.tick().await;
            if actions.send(Action::Tick).is_err() {
                return;
            }
        }
    });
}
