//! `fota-udp`: a bridge between devices that speak the Luat guide's UDP chunked upgrade protocol
//! (device-protocols.md section 2) and the edge, which Workers cannot reach over UDP.
//!
//! The edge stays the one source of truth: every start line becomes the edge's own Luat check
//! for that device (plans, IMEI ranges, bans, rollout stages and counters all apply there), and
//! the bridge only carries the answer over UDP and the image in 1022-byte packages, to the one
//! source whose start line opened the session (a random `upgrade_id` that expires).
//!
//! `protocol` (pure: datagrams, texts, package arithmetic), `map` (product names to edge names),
//! `limit` (per-source and per-IP token buckets), `edge` (HTTP client), `cache` (images on disk
//! and in memory, least recently used out past a byte bound), `session` (random `upgrade_id`s
//! bound to a source, expiring), `start` (start lines: one edge check, a session per source),
//! `bridge` (the socket loop and `Get`s), `counts` (counters), `cli` (the binary's flags).

pub mod bridge;
pub mod cache;
pub mod cli;
pub mod counts;
pub mod edge;
pub mod limit;
pub mod map;
pub mod protocol;
pub mod session;
pub mod sim;
mod start;

pub use bridge::{Bridge, Config, StartError};
pub use counts::Counts;
pub use limit::{RateLimit, RateLimits};
