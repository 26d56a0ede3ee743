//! The API: the JSON the edge serves and the TUI reads. Admin DTOs (RFC 3339 times, typed enums,
//! never a stored record with milliseconds), what JSON devices read, the query strings the TUI
//! serialises and the edge parses, and the route table with its route ids. The top layer: it may
//! import every other; nothing imports it.
//!
//! Timestamps are RFC 3339 strings in UTC (`2026-11-22T00:17:26Z`); digests are lowercase hex.

pub mod access;
pub mod catalog;
pub mod device;
pub mod events;
pub mod fleet;
pub mod fleet_summary;
pub mod metrics;
pub mod ota;
pub mod plans;
pub mod preview;
pub mod query;
pub mod routes;
