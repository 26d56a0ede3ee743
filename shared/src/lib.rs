//! fota-shared: the pure core of fota-edge.
//!
//! Every decision lives here as a function over plain data: request parsing for each device
//! protocol, version order, eligibility, loop-upgrade bans, staged rollouts and a due device's
//! attempt, HTTP ranges, which images stay in isolate memory, the registry's write rule,
//! retention, the fleet summary, the module-OTA rules (device request signatures, reports and
//! progress, per-module jobs, signed notices, expiring download URLs), the admin authentication
//! rules (the bootstrap token's length, per-client lockouts) and the admin API types.
//! This crate does no I/O and reads no clock: callers pass the time in.

pub mod admin_auth;
pub mod api;
pub mod ban;
pub mod code;
pub mod decide;
pub mod delivery;
pub mod device_auth;
pub mod download_url;
pub mod fleet_summary;
pub mod image_memory;
pub mod luat;
pub mod module_job;
pub mod module_ota;
pub mod notice;
pub mod plan;
pub mod range;
pub mod registry;
pub mod retention;
pub mod routes;
pub mod rollout;
pub mod rollout_state;
pub mod time;
pub mod version;
