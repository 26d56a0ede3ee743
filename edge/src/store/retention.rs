//! Retention's SQL: bounded deletes of the tables that grow with traffic. Each function deletes
//! at most `limit` rows of one table family and says how many went; the caller
//! (`crate::retention`) decides the cutoffs and keeps one family's failure from stopping the
//! others.

use super::{db, n, s, Metered as _};
use crate::error::AppResult;
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
