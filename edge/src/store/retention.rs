//! Retention's SQL: bounded deletes of the tables that grow with traffic. Each function deletes
//! at most `limit` rows of one table family and says how many went; the caller
//! (`crate::retention`) decides the cutoffs and keeps one family's failure from stopping the
//! others.

use super::{db, kv, n, owner_kv_key, s, Metered as _, MeteredBatch as _};
use crate::error::{AppError, AppResult};
use serde::Deserialize;
use worker::D1Result;

fn changes(result: &D1Result) -> AppResult<u64> {
    Ok(result.meta()?.and_then(|m| m.changes).unwrap_or(0) as u64)
}

/// Signatures whose window ended before `before_ms` (a replay of them is refused by its
/// timestamp already), oldest first.
pub async fn purge_replay(env: &worker::Env, before_ms: i64, limit: u32) -> AppResult<u64> {
    let result = db(env)?
        .prepare("DELETE FROM replay WHERE rowid IN (SELECT rowid FROM replay WHERE until_ms < ?1 ORDER BY until_ms LIMIT ?2)")
        .bind(&[n(before_ms), n(limit as i64)])?
        .counted_run()
        .await?;
    changes(&result)
}

/// History entries older than `before_ms`, oldest first. Entries are appended with the current
/// time, so id order is time order: the run looks at the `limit` lowest ids (the primary key, no
/// other index to keep on every insert) and deletes those past the cutoff.
pub async fn purge_history_by_age(env: &worker::Env, before_ms: i64, limit: u32) -> AppResult<u64> {
    let result = db(env)?
        .prepare("DELETE FROM device_events WHERE id IN (SELECT id FROM (SELECT id, at FROM device_events ORDER BY id LIMIT ?2) WHERE at < ?1)")
        .bind(&[n(before_ms), n(limit as i64)])?
        .counted_run()
        .await?;
    changes(&result)
}

const HISTORY_CAP: &str = "device_events_cap";

/// Trims every device that gained history since the last run to its newest `keep` entries.
///
/// Only a device with an event above the cursor can be over the cap, so one run looks at the
/// next `scan` events after it, collects their devices, and deletes what those devices hold
/// beyond `keep` (at most `limit` rows). When that finishes the window, the cursor moves past it;
/// otherwise the next run takes the same window again. Returns the rows deleted.
pub async fn purge_history_over_cap(
    env: &worker::Env,
    keep: u32,
    scan: u32,
    limit: u32,
) -> AppResult<u64> {
    let db = db(env)?;
    let cursor: f64 = db
        .prepare("SELECT cursor FROM retention_cursor WHERE family = ?1")
        .bind(&[s(HISTORY_CAP)])?
        .counted_first(Some("cursor"))
        .await?
        .unwrap_or(0.0);
    let cursor = cursor as i64;
    let end: Option<f64> = db
        .prepare("SELECT MAX(id) AS end_id FROM (SELECT id FROM device_events WHERE id > ?1 ORDER BY id LIMIT ?2)")
        .bind(&[n(cursor), n(scan as i64)])?
        .counted_first(Some("end_id"))
        .await?;
    let Some(end) = end.map(|e| e as i64) else {
        return Ok(0);
    };
    // `keep_from` is the id of a device's keep-th newest entry (NULL when it has no more than
    // `keep`, which deletes nothing): everything older goes.
    let deleted = changes(
        &db.prepare(
            "WITH dev AS (SELECT DISTINCT device_id FROM device_events WHERE id > ?1 AND id <= ?2),
                  cut AS (SELECT device_id,
                                 (SELECT x.id FROM device_events x WHERE x.device_id = dev.device_id
                                  ORDER BY x.id DESC LIMIT 1 OFFSET ?3) AS keep_from
                          FROM dev)
             DELETE FROM device_events WHERE id IN (
                 SELECT e.id FROM cut JOIN device_events e ON e.device_id = cut.device_id AND e.id < cut.keep_from
                 LIMIT ?4)",
        )
        .bind(&[n(cursor), n(end), n(keep as i64 - 1), n(limit as i64)])?
        .counted_run()
        .await?,
    )?;
    if deleted < limit as u64 {
        db.prepare(
            "INSERT INTO retention_cursor (family, cursor) VALUES (?1, ?2)
             ON CONFLICT(family) DO UPDATE SET cursor = MAX(cursor, excluded.cursor)",
        )
        .bind(&[s(HISTORY_CAP), n(end)])?
        .counted_run()
        .await?;
    }
    Ok(deleted)
}

/// Rate-limit windows (clock minutes) before `before_minute`.
pub async fn purge_rollout_rate(
    env: &worker::Env,
    before_minute: i64,
    limit: u32,
) -> AppResult<u64> {
    let result = db(env)?
        .prepare("DELETE FROM rollout_rate WHERE rowid IN (SELECT rowid FROM rollout_rate WHERE minute < ?1 LIMIT ?2)")
        .bind(&[n(before_minute), n(limit as i64)])?
        .counted_run()
        .await?;
    changes(&result)
}

/// Activity hours that started before `before_hour_ms`.
pub async fn purge_activity(env: &worker::Env, before_hour_ms: i64, limit: u32) -> AppResult<u64> {
    let result = db(env)?
        .prepare("DELETE FROM activity WHERE rowid IN (SELECT rowid FROM activity WHERE hour < ?1 LIMIT ?2)")
        .bind(&[n(before_hour_ms), n(limit as i64)])?
        .counted_run()
        .await?;
    changes(&result)
}

/// The summary's clock hours (`seen_hours`) that started before `before_ms`.
pub async fn purge_seen_hours(env: &worker::Env, before_ms: i64, limit: u32) -> AppResult<u64> {
    let result = db(env)?
        .prepare("DELETE FROM seen_hours WHERE (project_key, hour) IN (SELECT project_key, hour FROM seen_hours WHERE hour < ?1 LIMIT ?2)")
        .bind(&[n(before_ms), n(limit as i64)])?
        .counted_run()
        .await?;
    changes(&result)
}

/// Count rows that fell to zero (a version nobody runs any more, a job state nobody is in).
pub async fn purge_empty_counts(env: &worker::Env, limit: u32) -> AppResult<u64> {
    let result = db(env)?
        .prepare("DELETE FROM fleet_counts WHERE (project_key, facet, name) IN (SELECT project_key, facet, name FROM fleet_counts WHERE devices = 0 LIMIT ?1)")
        .bind(&[n(limit as i64)])?
        .counted_run()
        .await?;
    changes(&result)
}

/// A rollout that may have finished: its target, phase and last change.
#[derive(Deserialize)]
pub struct RolloutAge {
    pub plan_id: String,
    pub phase: String,
    #[serde(deserialize_with = "f64_as_i64")]
    pub updated_at: i64,
}

fn f64_as_i64<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    <f64 as Deserialize>::deserialize(d).map(|v| v as i64)
}

/// Rollouts that offer nothing new (`rollouts` has a row per plan target: a few per release).
pub async fn ended_rollouts(env: &worker::Env) -> AppResult<Vec<RolloutAge>> {
    Ok(db(env)?
        .prepare("SELECT plan_id, phase, updated_at FROM rollouts WHERE phase IN ('completed', 'cancelled', 'failed')")
        .counted_all()
        .await?
        .results()?)
}

/// The per-device records of these rollouts (their counts stay in `rollouts.state`).
pub async fn purge_rollout_records(
    env: &worker::Env,
    plan_ids: &[String],
    limit: u32,
) -> AppResult<u64> {
    if plan_ids.is_empty() {
        return Ok(0);
    }
    let plans = serde_json::to_string(plan_ids)
        .map_err(|e| AppError::Unavailable(format!("rollout records: {e}")))?;
    let result = db(env)?
        .prepare(
            "DELETE FROM rollout_devices WHERE (plan_id, device_id) IN (
                 SELECT plan_id, device_id FROM rollout_devices
                 WHERE plan_id IN (SELECT value FROM json_each(?1)) LIMIT ?2)",
        )
        .bind(&[s(&plans), n(limit as i64)])?
        .counted_run()
        .await?;
    changes(&result)
}

const SILENT: &str = "devices_silent";

/// Removes ids that checked in once and never again: bound before `bound_before_ms`, with
/// `last_seen` still equal to `first_seen` (no later check moved it, at `SEEN_GRANULARITY_S`), and
/// never registered by an operator (`provisioned_at` and `key_generation` both unset: provisioning
/// sets both and de-provisioning keeps the generation). Their history goes with them, and KV's
/// copy of their binding.
///
/// One run looks at the next `scan` devices in key order after where the last run stopped
/// (`retention_cursor`'s mark), so a run reads a bounded window whether or not anything is
/// found, and deletes at most `limit` of them; when that finishes the window the mark moves past
/// it (back to the start after the last device), otherwise the next run takes the same window
/// again. Returns the (project, id) pairs removed.
pub async fn purge_silent_devices(
    env: &worker::Env,
    bound_before_ms: i64,
    scan: u32,
    limit: u32,
) -> AppResult<Vec<(String, String)>> {
    let db = db(env)?;
    let mark: Option<String> = db
        .prepare("SELECT mark FROM retention_cursor WHERE family = ?1")
        .bind(&[s(SILENT)])?
        .counted_first(Some("mark"))
        .await?
        .flatten();
    let (project, id): (String, String) = mark
        .and_then(|m| serde_json::from_str(&m).ok())
        .unwrap_or_default();
    #[derive(Deserialize)]
    struct Key {
        project_key: String,
        id: String,
    }
    // The window's last device, when the window is full; none when it reaches the table's end.
    let results = db
        .counted_batch(vec![
            db.prepare(
                "SELECT project_key, id FROM devices WHERE (project_key, id) > (?1, ?2)
                 ORDER BY project_key, id LIMIT 1 OFFSET ?3",
            )
            .bind(&[s(&project), s(&id), n(scan.saturating_sub(1) as i64)])?,
            db.prepare(
                "DELETE FROM devices WHERE (project_key, id) IN (
                     SELECT project_key, id FROM (
                         SELECT project_key, id, first_seen, last_seen, provisioned_at, key_generation
                         FROM devices WHERE (project_key, id) > (?1, ?2) ORDER BY project_key, id LIMIT ?3)
                     WHERE last_seen = first_seen AND first_seen < ?4
                       AND provisioned_at IS NULL AND key_generation IS NULL
                     LIMIT ?5)
                 RETURNING project_key, id",
            )
            .bind(&[
                s(&project),
                s(&id),
                n(scan as i64),
                n(bound_before_ms),
                n(limit as i64),
            ])?,
        ])
        .await?;
    let mut results = results.into_iter();
    let end: Option<Key> = match results.next() {
        Some(r) => r.results::<Key>()?.into_iter().next(),
        None => None,
    };
    let gone: Vec<Key> = match results.next() {
        Some(r) => r.results()?,
        None => Vec::new(),
    };
    let gone: Vec<(String, String)> = gone.into_iter().map(|k| (k.project_key, k.id)).collect();
    if !gone.is_empty() {
        let pairs = serde_json::to_string(&gone)
            .map_err(|e| AppError::Unavailable(format!("silent devices: {e}")))?;
        db.prepare(
            "DELETE FROM device_events WHERE (device_id, project_key) IN (
                 SELECT json_extract(value, '$[1]'), json_extract(value, '$[0]') FROM json_each(?1))",
        )
        .bind(&[s(&pairs)])?
        .counted_run()
        .await?;
    }
    if (gone.len() as u64) < limit as u64 {
        let next = end.map_or((String::new(), String::new()), |k| (k.project_key, k.id));
        let mark = serde_json::to_string(&next)
            .map_err(|e| AppError::Unavailable(format!("silent devices: {e}")))?;
        db.prepare(
            "INSERT INTO retention_cursor (family, cursor, mark) VALUES (?1, 0, ?2)
             ON CONFLICT(family) DO UPDATE SET mark = excluded.mark",
        )
        .bind(&[s(SILENT), s(&mark)])?
        .counted_run()
        .await?;
    }
    Ok(gone)
}

/// Deletes KV's copy of these devices' bindings (one KV delete each, a few at a time).
pub async fn forget_bindings(env: &worker::Env, ids: &[String]) -> AppResult<()> {
    let store = kv(env)?;
    for chunk in ids.chunks(20) {
        let deletes = chunk.iter().map(|id| {
            crate::metrics::kv(crate::metrics::Kv::Delete);
            let key = owner_kv_key(id);
            let store = &store;
            async move { store.delete(&key).await }
        });
        for result in futures_util::future::join_all(deletes).await {
            result?;
        }
    }
    Ok(())
}

/// Lets SQLite refresh its planner statistics when the tables changed enough (cheap otherwise):
/// without them it prefers walking a project's devices in key order to an index on a filter.
pub async fn optimize(env: &worker::Env) -> AppResult<()> {
    db(env)?.prepare("PRAGMA optimize").counted_run().await?;
    Ok(())
}

/// A finished rollout whose coordinators may still hold storage.
#[derive(Deserialize)]
pub struct Unpurged {
    pub plan_id: String,
    pub project_key: String,
    pub firmware_name: String,
    pub phase: String,
    #[serde(deserialize_with = "f64_as_i64")]
    pub updated_at: i64,
    #[serde(deserialize_with = "f64_as_i64")]
    pub shards: i64,
}

/// Finished rollouts whose Durable Object storage has not been dropped yet, a batch at a time.
pub async fn unpurged_rollouts(env: &worker::Env, limit: u32) -> AppResult<Vec<Unpurged>> {
    Ok(db(env)?
        .prepare(
            "SELECT plan_id, project_key, firmware_name, phase, updated_at, shards FROM rollouts
             WHERE purged = 0 AND phase IN ('completed', 'cancelled', 'failed') ORDER BY updated_at LIMIT ?1",
        )
        .bind(&[n(limit as i64)])?
        .counted_all()
        .await?
        .results()?)
}

/// The rollout's coordinators hold nothing any more, as of the row's `updated_at` (a later change
/// of the row clears the mark).
pub async fn mark_purged(env: &worker::Env, plan_id: &str, updated_at: i64) -> AppResult<()> {
    db(env)?
        .prepare("UPDATE rollouts SET purged = 1 WHERE plan_id = ?1 AND updated_at = ?2")
        .bind(&[s(plan_id), n(updated_at)])?
        .counted_run()
        .await?;
    Ok(())
}
