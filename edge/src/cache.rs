//! Per-isolate memory in front of KV: projects and plans for a few seconds, device ownership for
//! at most a minute (`crate::owner`), and rollout summaries, so the common "up to date" answer
//! costs no storage round trip at all.
//!
//! Admin writes in the same isolate invalidate at once; other isolates see a change within
//! [`TTL_MS`] (KV itself takes up to a minute to spread across Cloudflare's network). Device
//! ownership is also kept per location in the Cache API (`crate::card`).

use fota_shared::api::catalog::Project;
use fota_shared::model::plan::Plan;
use fota_shared::rules::rollout::RolloutSummary;
use std::cell::RefCell;
use std::collections::HashMap;

/// How long a cached project or plan (or its absence) is trusted: each isolate reads them from
/// KV at most this often (KV itself takes up to a minute to spread a change).
pub const TTL_MS: i64 = 30_000;
/// How long a rollout's summary is trusted: the held-back answer follows a stage that opens
/// within this.
const ROLLOUT_TTL_MS: i64 = 5_000;
/// Entries kept per map before it is cleared: memory stays bounded on a busy isolate.
const MAX_ENTRIES: usize = 50_000;

#[derive(Default)]
struct Memory {
    projects: HashMap<String, (i64, Option<Project>)>,
    plans: HashMap<(String, String), (i64, Option<Plan>)>,
    owners: HashMap<String, OwnerCopy>,
    rollouts: HashMap<String, (i64, RolloutSummary)>,
    /// (project, hour) -> (checks, deliveries) not yet flushed to D1.
    activity: HashMap<(String, i64), (u64, u64)>,
    /// A flush of `activity` is scheduled.
    activity_scheduled: bool,
}

thread_local! {
    static MEMORY: RefCell<Memory> = RefCell::new(Memory::default());
}

fn bounded<K, V>(map: &mut HashMap<K, V>) -> &mut HashMap<K, V> {
    if map.len() >= MAX_ENTRIES {
        map.clear();
    }
    map
}

/// A project (or its absence) read less than `ttl_ms` ago (at most [`TTL_MS`]).
pub fn project(key: &str, now: i64, ttl_ms: i64) -> Option<Option<Project>> {
    MEMORY.with_borrow(|m| {
        m.projects
            .get(key)
            .filter(|(at, _)| now - at < ttl_ms.min(TTL_MS))
            .map(|(_, p)| p.clone())
    })
}

pub fn put_project(key: &str, now: i64, value: Option<Project>) {
    MEMORY.with_borrow_mut(|m| {
        bounded(&mut m.projects).insert(key.to_string(), (now, value));
    })
}

pub fn plan(key: &str, firmware: &str, now: i64) -> Option<Option<Plan>> {
    MEMORY.with_borrow(|m| {
        m.plans
            .get(&(key.to_string(), firmware.to_string()))
            .filter(|(at, _)| now - at < TTL_MS)
            .map(|(_, p)| p.clone())
    })
}

pub fn put_plan(key: &str, firmware: &str, now: i64, value: Option<Plan>) {
    MEMORY.with_borrow_mut(|m| {
        bounded(&mut m.plans).insert((key.to_string(), firmware.to_string()), (now, value));
    })
}

/// A device's binding as this isolate holds it: the owner text (`crate::store::devices`), when
/// its source (D1 or KV) was read (`at`), and when this isolate took it in (`kept`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnerCopy {
    pub text: String,
    pub at: i64,
    pub kept: i64,
}

/// The binding this isolate holds for the device, if taken in less than `memory_ms` ago and read
/// at or after `fresh_since` (the project's latest binding change, `crate::owner`).
pub fn owner(device: &str, now: i64, memory_ms: i64, fresh_since: i64) -> Option<OwnerCopy> {
    MEMORY.with_borrow(|m| {
        m.owners
            .get(device)
            .filter(|c| now - c.kept < memory_ms && c.at >= fresh_since)
            .cloned()
    })
}

/// The binding this isolate holds for the device, however old (to copy it into a card).
pub fn owner_copy(device: &str) -> Option<OwnerCopy> {
    MEMORY.with_borrow(|m| m.owners.get(device).cloned())
}

/// Forgets a binding (an operator forgot or moved the device).
pub fn forget_owner(device: &str) {
    MEMORY.with_borrow_mut(|m| {
        m.owners.remove(device);
    })
}

/// Takes a binding in: `text` as read (from D1 or KV) at `at`, kept from `now`.
pub fn put_owner(device: &str, text: &str, at: i64, now: i64) {
    MEMORY.with_borrow_mut(|m| {
        let copy = OwnerCopy {
            text: text.to_string(),
            at,
            kept: now,
        };
        bounded(&mut m.owners).insert(device.to_string(), copy);
    })
}

pub fn rollout(plan_id: &str, now: i64) -> Option<RolloutSummary> {
    MEMORY.with_borrow(|m| {
        m.rollouts
            .get(plan_id)
            .filter(|(at, _)| now - at < ROLLOUT_TTL_MS)
            .map(|(_, s)| *s)
    })
}

pub fn put_rollout(plan_id: &str, now: i64, summary: RolloutSummary) {
    MEMORY.with_borrow_mut(|m| {
        bounded(&mut m.rollouts).insert(plan_id.to_string(), (now, summary));
    })
}

pub fn forget_rollout(plan_id: &str) {
    MEMORY.with_borrow_mut(|m| {
        m.rollouts.remove(plan_id);
    })
}

/// How long counted activity waits in memory before it is flushed to D1: one flush per isolate
/// per this interval whatever the traffic (well inside the 30 s `wait_until` grants a request).
pub const ACTIVITY_FLUSH_MS: u64 = 20_000;

/// Counts a check (and a delivery) for the dashboard. `true` when no flush is scheduled yet: the
/// caller schedules one ([`ACTIVITY_FLUSH_MS`] later), which takes every count made until then.
pub fn count_activity(project: &str, now: i64, delivered: bool) -> bool {
    MEMORY.with_borrow_mut(|m| {
        let hour = now.div_euclid(3_600_000) * 3_600_000;
        let entry = m
            .activity
            .entry((project.to_string(), hour))
            .or_insert((0, 0));
        entry.0 += 1;
        entry.1 += delivered as u64;
        !std::mem::replace(&mut m.activity_scheduled, true)
    })
}

/// The counts to flush now; the next count schedules the next flush.
pub fn take_activity() -> Vec<((String, i64), (u64, u64))> {
    MEMORY.with_borrow_mut(|m| {
        m.activity_scheduled = false;
        m.activity.drain().collect()
    })
}
