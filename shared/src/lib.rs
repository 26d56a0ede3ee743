//! fota-shared: the pure core of fota-edge.
//!
//! Every decision lives here as a function over plain data: request parsing for each device
//! protocol, version order, eligibility, loop-upgrade bans, staged rollouts and a due device's
//! attempt, HTTP ranges, which images stay in isolate memory, the registry's write rule,
//! retention, the fleet summary, the module-OTA rules (device request signatures, reports and
//! progress, per-module jobs, signed notices, expiring download URLs), the admin authentication
//! rules (the bootstrap token's length, per-client lockouts) and the admin API types.
//! This crate does no I/O and reads no clock: callers pass the time in.
//! It draws no randomness either: keys and seeds are arguments.
//!
//! Layers, imports pointing down only: `leaf` (versions, time, ranges, codes, ids) -> `model`
//! (serde data) -> `rules` (every decision) -> `api` (the JSON the edge serves and the TUI reads).

pub mod api;
pub mod leaf;
pub mod model;
pub mod rules;
