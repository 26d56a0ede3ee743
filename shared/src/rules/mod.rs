//! The rules: every decision the edge carries out, as pure functions over leaves and the model
//! (Luat check parsing and the upgrade decision, loop-upgrade bans, rollout stages, gate and state,
//! a due device's attempt, module jobs, device and admin authentication, notices, download URLs,
//! retention, the registry's write rule, seen-within counts per clock hour, isolate-memory
//! bookkeeping). Nothing here imports `api`.

pub mod admin_auth;
pub mod ban;
pub mod budget;
pub mod decide;
pub mod delivery;
pub mod device_auth;
pub mod download_url;
pub mod events;
pub mod image_memory;
pub mod luat;
pub mod luat_sign;
pub mod module_job;
pub mod module_ota;
pub mod notice;
pub mod package;
pub mod plan;
pub mod provenance;
pub mod registry;
pub mod retention;
pub mod rollout;
pub mod rollout_control;
pub mod rollout_state;
pub mod seen;
pub mod webhook;
