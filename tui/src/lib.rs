//! fota-tui: the operator's terminal app for fota-edge.
//!
//! Two faces over one admin API client (`api`): a full-screen dashboard (`fota`, in `dashboard`)
//! built as an Elm-style loop, and scriptable `fota <noun> <verb>` commands (`cli`) with tables
//! or JSON and stable exit codes. Below both: where to connect (`config`), labels and messages
//! (`strings`), formatting (`format`), operator input (`input`), local image files
//! (`image_file`) and device id lists (`id_file`). Imports point one way: `cli` and `dashboard` use the rest, never each other.

pub mod api;
pub mod cli;
pub mod config;
pub mod dashboard;
#[cfg(test)]
mod fixtures;
pub mod format;
pub mod id_file;
pub mod image_file;
pub mod input;
pub mod strings;
