//! The model: serde data that is stored and passed between the edge's parts (plans, rollout specs
//! and state, module jobs, signing keys). Plain records with no rules beyond their own encoding;
//! imports only leaves.

pub mod event;
pub mod job;
pub mod keys;
pub mod plan;
pub mod project;
pub mod rollout;
