//! What checks tell the fleet registry, written only when something changed: a new version or
//! firmware, or a `last_seen` older than `SEEN_GRANULARITY_S`. A steady-state check writes
//! nothing. Due writes are queued in isolate memory and flushed as one D1 batch per round in the
//! background (`wait_until`), never one round trip per device; a device this isolate has not
//! seen yet costs one batched read first, so it is rewritten only when D1's copy is out of date.
//!
//! A device whose firmware or version keeps changing is bounded (`rules::registry`): its row is
//! rewritten at most once per `REGISTRY_REWRITE_S` (a minute by default), held back both here
//! and by the UPDATE's own guard (another isolate may have rewritten it), and at most 24 rewrites
//! a UTC day leave a history entry, counted in the row itself.

use crate::rollout::Rollout;
use crate::store;
use fota_shared::leaf::version::Version;
use fota_shared::rules::luat::UpgradeCheck;
use fota_shared::rules::registry::{
    interval_start, news, Intervals, Known, News, DEFAULT_REWRITE_INTERVAL_MS,
};
use std::cell::RefCell;
use std::collections::HashMap;
use worker::{Context, Env};

/// `last_seen` is kept to this granularity when the Worker sets no `SEEN_GRANULARITY_S`.
pub const DEFAULT_SEEN_GRANULARITY_S: i64 = 86_400;
/// Devices per flush round (one batched read, one batched write).
const ROUND: usize = 100;
/// How long the first queued write waits for others to join its batch: per isolate and time,
/// not per check, so that an isolate seeing a few checks a second still writes many devices
/// per D1 round trip. An admin read that must see every check cuts the wait short (`drain`).
const GATHER_MS: u64 = 5_000;
/// How long queued news waits when it is more than a `last_seen` refresh (a new version or
/// firmware, or a device this isolate has no copy of): a success report reaches its rollout
/// within a fraction of a second.
const URGENT_GATHER_MS: u64 = 250;
/// The gathering wait's step, at which it looks whether a drain asked to hurry.
const GATHER_STEP_MS: u64 = 50;
/// Devices remembered per isolate; beyond it the memory starts again (bounded).
const MAX_KNOWN: usize = 100_000;

/// A check's news, waiting to be written.
struct Seen {
    project: String,
    firmware: String,
    version_text: String,
    version: String,
    at: i64,
    reached: Option<Rollout>,
}

#[derive(Default)]
struct Registry {
    known: HashMap<String, Known>,
    pending: HashMap<String, Seen>,
    flushing: bool,
    /// A drain is waiting: write what is queued now.
    hurry: bool,
    /// Something queued is more than a `last_seen` refresh.
    urgent: bool,
}

thread_local! {
    static REGISTRY: RefCell<Registry> = RefCell::new(Registry::default());
}

pub fn granularity_ms(env: &Env) -> i64 {
    crate::vars::positive(env, "SEEN_GRANULARITY_S").unwrap_or(DEFAULT_SEEN_GRANULARITY_S) * 1000
}

/// The registry's intervals: `SEEN_GRANULARITY_S` and `REGISTRY_REWRITE_S` (a minute).
pub fn intervals(env: &Env) -> Intervals {
    Intervals {
        seen_ms: granularity_ms(env),
        rewrite_ms: crate::vars::positive(env, "REGISTRY_REWRITE_S")
            .map_or(DEFAULT_REWRITE_INTERVAL_MS, |s| s * 1000),
    }
}

/// The normalized text of a version as stored (unparsable text stands for itself).
fn normalized(text: &str) -> String {
    Version::parse(text).map_or_else(|_| text.to_string(), |v| v.to_string())
}

/// Records what D1 now holds for a device (after its binding or a write).
pub fn remember(device: &str, known: Known) {
    REGISTRY.with_borrow_mut(|r| {
        if r.known.len() >= MAX_KNOWN {
            r.known.clear();
        }
        r.known.insert(device.to_string(), known);
    })
}

/// What this isolate knows D1 holds for the device.
pub fn known(device: &str) -> Option<Known> {
    REGISTRY.with_borrow(|r| r.known.get(device).cloned())
}

/// Forgets a device (an admin changed or removed its row): the next check reads D1 again.
pub fn forget(device: &str) {
    REGISTRY.with_borrow_mut(|r| {
        r.known.remove(device);
    })
}

/// A check by the device's own project: queue what changed, and start a flush if none runs.
///
/// A `last_seen` refresh also rewrites this location's card at once, from the check's own
/// request, as if the write were done: its next check here, in any isolate, then finds it
/// fresh. (Cards rewritten in a burst from the flush itself stalled the local Cache API for a
/// minute at a time under `wrangler dev`; a failed write only costs a refresh up to a day late.)
pub fn seen(env: &Env, ctx: &Context, check: &UpgradeCheck, reached: Option<Rollout>, now: i64) {
    let intervals = intervals(env);
    let version = check.version.to_string();
    let mut refreshed = None;
    let start = REGISTRY.with_borrow_mut(|r| {
        let known = r.known.get(&check.device_id);
        match news(known, &check.firmware_name, &version, now, intervals) {
            Some(News::Nothing) => return false,
            Some(News::Seen) => {
                refreshed = known.map(|k| Known {
                    last_seen: now,
                    ..k.clone()
                });
            }
            // Held back: the row is marked once, and a report of a plan's target still goes to
            // its rollout at once; otherwise there is nothing to write or tell.
            Some(News::Held) => {
                let marked = known.is_some_and(|k| k.held);
                if marked && reached.is_none() {
                    return false;
                }
                r.urgent |= reached.is_some();
            }
            // A change, or a device this isolate has no copy of: written without delay.
            Some(News::Changed) | None => r.urgent = true,
        }
        r.pending.insert(
            check.device_id.clone(),
            Seen {
                project: check.project_key.clone(),
                firmware: check.firmware_name.clone(),
                version_text: check.version_text.clone(),
                version,
                at: now,
                reached,
            },
        );
        !std::mem::replace(&mut r.flushing, true)
    });
    if start {
        ctx.wait_until(flush(env.clone(), intervals));
    }
    if let Some(known) = refreshed {
        if let Some(owner) = crate::cache::owner_copy(&check.device_id) {
            crate::card::keep(ctx, &check.device_id, &owner, Some(known));
        }
    }
}

/// Waits (at most a few seconds) until this isolate's queued writes are in D1.
pub async fn drain() {
    REGISTRY.with_borrow_mut(|r| r.hurry = r.flushing);
    for _ in 0..300 {
        if !REGISTRY.with_borrow(|r| r.flushing) {
            return;
        }
        worker::Delay::from(std::time::Duration::from_millis(10)).await;
    }
}

async fn flush(env: Env, intervals: Intervals) {
    for step in 0..GATHER_MS / GATHER_STEP_MS {
        let waited = step * GATHER_STEP_MS;
        if REGISTRY.with_borrow(|r| r.hurry || (r.urgent && waited >= URGENT_GATHER_MS)) {
            break;
        }
        worker::Delay::from(std::time::Duration::from_millis(GATHER_STEP_MS)).await;
    }
    loop {
        let round: Vec<(String, Seen)> = REGISTRY.with_borrow_mut(|r| {
            let ids: Vec<String> = r.pending.keys().take(ROUND).cloned().collect();
            let round: Vec<(String, Seen)> = ids
                .into_iter()
                .filter_map(|id| r.pending.remove(&id).map(|s| (id, s)))
                .collect();
            if round.is_empty() {
                r.flushing = false;
                r.hurry = false;
                r.urgent = false;
            }
            round
        });
        if round.is_empty() {
            return;
        }
        if let Err(e) = write_round(&env, round, intervals).await {
            e.log();
        }
    }
}

async fn write_round(
    env: &Env,
    round: Vec<(String, Seen)>,
    intervals: Intervals,
) -> crate::error::AppResult<()> {
    let unknown: Vec<&str> = REGISTRY.with_borrow(|r| {
        round
            .iter()
            .filter(|(id, _)| !r.known.contains_key(id))
            .map(|(id, _)| id.as_str())
            .collect()
    });
    let stored = store::registry_rows(env, &unknown).await?;
    let mut writes = Vec::new();
    let mut cards = Vec::new();
    // Devices whose stored `last_seen` moves: the summary's seen hours follow them.
    let mut moved: Vec<(&str, &str, i64)> = Vec::new();
    for (id, seen) in &round {
        // Not in D1 under this project (forgotten or moved meanwhile): nothing to write.
        let Some(known) = known_of(id, seen, &stored) else {
            continue;
        };
        let told = news(
            Some(&known),
            &seen.firmware,
            &seen.version,
            seen.at,
            intervals,
        );
        if let (Some(News::Changed | News::Held), Some(r)) = (told, &seen.reached) {
            // The rollout hears of the report before D1's copy moves on: if it cannot, the
            // version is left as it was and the device's next check tries again. It is a
            // success only after a delivery (`crate::delivery::reached`).
            if let Err(e) = crate::delivery::reached(env, r, id).await {
                e.log();
                continue;
            }
        }
        if matches!(told, Some(News::Changed | News::Seen)) {
            moved.push((id.as_str(), seen.project.as_str(), seen.at));
        }
        let (next, carded) = device_writes(env, (id, seen), known, told, intervals, &mut writes)?;
        remember(id, next);
        if carded || unknown.contains(&id.as_str()) {
            cards.push(id.clone());
        }
    }
    if !moved.is_empty() {
        // It reads the stored `last_seen` the updates below replace, so it goes first.
        writes.insert(0, store::summary::seen_hours_stmt(env, &moved)?);
    }
    if !writes.is_empty() {
        if let Err(e) = store::batch(env, writes).await {
            for (id, _) in &round {
                forget(id);
            }
            return Err(e);
        }
    }
    // This location's cards now say what D1 holds after a change (or once D1 was read), so the
    // devices' next checks here need neither KV nor D1, whichever isolate answers them (a
    // refresh's card was written by its check).
    for id in cards {
        crate::card::refresh(&id).await;
    }
    Ok(())
}

/// What D1 holds of `id` under `seen.project`: this isolate's memory, else the row this round read.
fn known_of(id: &str, seen: &Seen, stored: &[store::registry::RegistryRow]) -> Option<Known> {
    REGISTRY
        .with_borrow(|r| r.known.get(id).cloned())
        .or_else(|| {
            stored
                .iter()
                .find(|row| row.id == id && row.project_key == seen.project)
                .map(|row| Known {
                    firmware: row.firmware_name.clone().unwrap_or_default(),
                    version: normalized(row.version.as_deref().unwrap_or_default()),
                    last_seen: row.last_seen,
                    changed_at: row.changed_at,
                    held: row.held != 0,
                })
        })
}

/// One device's writes for what `told` says of its check, added to `writes`: the new row and
/// its history (a change), `last_seen` (the window passed), or the held-back mark. Returns what
/// D1 then holds of it, and whether its card must follow (a change, or a newly held one).
fn device_writes(
    env: &Env,
    (id, seen): (&str, &Seen),
    known: Known,
    told: Option<News>,
    intervals: Intervals,
    writes: &mut Vec<worker::D1PreparedStatement>,
) -> crate::error::AppResult<(Known, bool)> {
    Ok(match told {
        Some(News::Changed) => {
            writes.extend(change_stmts(env, id, seen, &known, intervals.rewrite_ms)?);
            let next = Known {
                firmware: seen.firmware.clone(),
                version: seen.version.clone(),
                last_seen: seen.at,
                changed_at: interval_start(&known, seen.at, intervals.rewrite_ms),
                held: false,
            };
            (next, true)
        }
        Some(News::Seen) => {
            writes.push(store::last_seen_stmt(env, id, &seen.project, seen.at)?);
            let next = Known {
                last_seen: seen.at,
                ..known
            };
            (next, false)
        }
        // A change held back keeps what D1 holds, marked: the device's next check after the
        // interval rewrites the row, whatever it reports then.
        Some(News::Held) if !known.held => {
            writes.push(store::registry::held_stmt(env, id, &seen.project)?);
            (
                Known {
                    held: true,
                    ..known
                },
                true,
            )
        }
        _ => (known, false),
    })
}

/// A new version or firmware: the registry row (unless another isolate rewrote it within the
/// interval) and, while the day allows, the history entry that says so.
fn change_stmts(
    env: &Env,
    id: &str,
    seen: &Seen,
    known: &Known,
    rewrite_ms: i64,
) -> crate::error::AppResult<[worker::D1PreparedStatement; 2]> {
    let detail = format!(
        "{} {} -> {}",
        seen.firmware, known.version, seen.version_text
    );
    let change = store::registry::Change {
        id,
        project: &seen.project,
        firmware: &seen.firmware,
        version: &seen.version_text,
        at: seen.at,
        since: interval_start(known, seen.at, rewrite_ms),
    };
    Ok([
        store::registry::change_stmt(env, &change, rewrite_ms)?,
        store::registry::change_event_stmt(env, &change, &detail)?,
    ])
}
