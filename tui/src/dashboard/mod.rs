//! The full-screen dashboard, an Elm-style loop: `app::update` is pure (state in, `Command`s
//! out), `shell` runs the commands on tokio and sends their results back as `Action`s, `view`
//! draws. Each tab is a screen (`screens`) holding its state, its keys and its drawing; shared
//! widgets are in `widgets`, and every key binding is in the one `keymap` that both dispatch and
//! the help overlay read.
//!
//! Imports point one way: `tab`, `remote`, `keymap` -> `widgets` -> `message` -> `screens` ->
//! `app` -> `view`, `runner`, `shell`.

pub mod app;
pub mod event;
pub mod keymap;
pub mod link;
pub mod message;
pub mod remote;
pub mod runner;
pub mod screens;
pub mod shell;
pub mod tab;
pub mod view;
pub mod widgets;

pub use app::{update, App};
pub use message::{Action, Command};
