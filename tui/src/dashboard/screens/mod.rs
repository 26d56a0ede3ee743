//! One module per tab, each holding the tab's state, its key handling (on the keymap's acts),
//! how it takes the API's answers, and its drawing; their tests and snapshots sit beside them.
//! `project` is the one that is not a tab: the project every tab shows, and its form.

pub mod audit;
pub mod devices;
pub mod events;
pub mod firmware;
pub mod fleet;
pub mod project;
pub mod rollouts;
pub mod webhooks;
