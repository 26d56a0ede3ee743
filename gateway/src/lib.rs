//! `fota-udp`: a bridge between devices that speak the Luat guide's UDP chunked upgrade protocol
//! (device-protocols.md section 2) and the edge, which Workers cannot reach over UDP.
//!
//! The edge stays the one source of truth: every start line becomes the edge's own Luat check
//! for that device (plans, IMEI ranges, bans, rollout stages and counters all apply there), and
//! the bridge only carries the answer over UDP and the image in 1022-byte packages.
//!
//! `protocol` (pure: datagrams, texts, package arithmetic), `map` (product names to edge names),
//! `limit` (per-source token buckets), `edge` (HTTP client), `cache` (images and their ids on
//! disk), `bridge` (the socket loop).

pub mod bridge;
pub mod cache;
pub mod edge;
pub mod limit;
pub mod map;
pub mod protocol;
pub mod sim;

pub use bridge::{Bridge, Config, Counts, StartError};
pub use limit::RateLimit;
