//! fota-tui: the operator's terminal app for fota-edge.
//!
//! Two faces over one admin API client: a full-screen dashboard (`fota`) built as an Elm-style
//! loop — `app::update` is pure, `shell` runs the network work it asks for, `ui` draws — and
//! scriptable `fota <noun> <verb>` commands (`cli`) with tables or JSON and stable exit codes.

pub mod api;
pub mod app;
pub mod cli;
pub mod config;
pub mod event;
#[cfg(test)]
mod fixtures;
pub mod fleet;
pub mod form;
pub mod runner;
pub mod shell;
pub mod text;
pub mod ui;
