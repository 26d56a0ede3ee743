//! Leaves: the smallest facts everything else is written in (version order, timestamps, HTTP
//! ranges, device-facing codes, identifier rules). Nothing here imports from another layer.

pub mod code;
pub mod ids;
pub mod prometheus;
pub mod range;
pub mod time;
pub mod version;
