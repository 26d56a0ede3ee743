//! The full-screen dashboard, an Elm-style loop: `app::update` is pure (state in, `Command`s
//! out), `shell` runs the commands on tokio and sends their results back as `Action`s, `view`
//! draws. Each tab is a screen (`screens`, behind the `screens::Screen` trait) holding its
//! state, its title and key bindings, its own commands and their answers, its form's fields,
//! its updates and its drawing; the registry in `screens` lists the tabs once. Shared widgets
//! are in `widgets`; `keymap` is the one key table (the bindings of all tabs and of overlays,
//! with each tab's own gathered from its screen) that both dispatch and the help overlay read.
//!
//! Imports point one way: `remote` -> `widgets` -> `message` -> `screens` -> `app` -> `view`,
//! `runner`, `shell`; with two loops through the registry, which is where the tabs are named:
//! `tab` and `keymap` read the `Tab` enum and the tabs' key groups it makes, and `message` wraps
//! the screens' own commands and answers (`Command::Screen`, `Action::Screen`). A screen's
//! command runs with the `shell`'s `failure`, its one way out for errors.

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
