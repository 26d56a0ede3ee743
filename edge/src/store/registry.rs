//! The registry's check-time columns of `devices` (firmware, version, last_seen, the change
//! bounds) and the history row a change writes: what `crate::registry` reads and writes.

use super::{db, n, s, Metered as _};
use crate::error::AppResult;
use serde::Deserialize;
use worker::wasm_bindgen::JsValue;
use worker::Env;

/// What D1 holds of these devices' check-time columns (for the registry's write rule).
#[derive(Deserialize)]
pub struct RegistryRow {
    pub id: String,
    pub project_key: String,
    pub firmware_name: Option<String>,
    pub version: Option<String>,
    #[serde(deserialize_with = "f64_as_i64")]
    pub last_seen: i64,
    #[serde(deserialize_with = "f64_as_i64")]
    pub changed_at: i64,
    #[serde(deserialize_with = "f64_as_i64")]
    pub held: i64,
}

fn f64_as_i64<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    <f64 as Deserialize>::deserialize(d).map(|v| v as i64)
}

pub async fn registry_rows(env: &Env, ids: &[&str]) -> AppResult<Vec<RegistryRow>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let marks = (1..=ids.len())
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ");
    let args: Vec<JsValue> = ids.iter().map(|id| s(id)).collect();
    Ok(db(env)?
        .prepare(format!("SELECT id, project_key, firmware_name, version, last_seen, changed_at, held FROM devices WHERE id IN ({marks})"))
        .bind(&args)?
        .counted_all()
        .await?
        .results()?)
}

/// Records that a device was seen, nothing else having changed. It assigns `last_seen` alone,
/// which no index holds, so D1 writes the one row (an UPDATE that assigned an indexed column
/// would rewrite that index's row too, and D1 bills it).
pub fn last_seen_stmt(
    env: &Env,
    id: &str,
    project: &str,
    at: i64,
) -> AppResult<worker::D1PreparedStatement> {
    Ok(db(env)?
        .prepare(
            "UPDATE devices SET last_seen = MAX(last_seen, ?3) WHERE id = ?1 AND project_key = ?2",
        )
        .bind(&[s(id), s(project), n(at)])?)
}

/// A firmware or version a check reported, for the registry row.
pub struct Change<'a> {
    pub id: &'a str,
    pub project: &'a str,
    pub firmware: &'a str,
    pub version: &'a str,
    pub at: i64,
    /// What the row's `changed_at` becomes: `at`, or for a row's first version (a registered or
    /// provisioned id's first check) the start of an interval already over, so that the device's
    /// next change (its upgrade) is written at once.
    pub since: i64,
}

/// Records what a check changed (firmware, version, `last_seen`) unless the row was rewritten
/// within `rewrite_ms` (by another isolate: this one held the change back itself), and counts the
/// rewrite in its UTC day (`rules::registry::day_of`).
pub fn change_stmt(
    env: &Env,
    c: &Change<'_>,
    rewrite_ms: i64,
) -> AppResult<worker::D1PreparedStatement> {
    let day = fota_shared::rules::registry::day_of(c.at);
    Ok(db(env)?
        .prepare(
            "UPDATE devices SET firmware_name = ?3, version = ?4, last_seen = MAX(last_seen, ?5), changed_at = ?8, held = 0,
               day_changes = CASE WHEN change_day = ?6 THEN day_changes + 1 ELSE 1 END, change_day = ?6
             WHERE id = ?1 AND project_key = ?2 AND (changed_at = 0 OR changed_at <= ?5 - ?7)",
        )
        .bind(&[s(c.id), s(c.project), s(c.firmware), s(c.version), n(c.at), n(day), n(rewrite_ms), n(c.since)])?)
}

/// Marks the row held: a check reported another firmware or version within the rewrite interval.
/// Written once per interval at most (only while unmarked); the column is in no index.
pub fn held_stmt(env: &Env, id: &str, project: &str) -> AppResult<worker::D1PreparedStatement> {
    Ok(db(env)?
        .prepare("UPDATE devices SET held = 1 WHERE id = ?1 AND project_key = ?2 AND held = 0")
        .bind(&[s(id), s(project)])?)
}

/// The history entry of the rewrite `change_stmt` made, when it made it (the row carries this
/// change's time) and it is one of the day's first `HISTORY_CHANGES_PER_DAY`; the last of those
/// says that the day's later changes are not recorded. Runs right after `change_stmt`, in its batch.
pub fn change_event_stmt(
    env: &Env,
    c: &Change<'_>,
    detail: &str,
) -> AppResult<worker::D1PreparedStatement> {
    use fota_shared::rules::registry::{HISTORY_CAP_NOTE, HISTORY_CHANGES_PER_DAY};
    Ok(db(env)?
        .prepare(
            "INSERT INTO device_events (project_key, device_id, at, kind, detail)
             SELECT ?1, ?2, ?3, 'version', ?4 || CASE WHEN day_changes = ?5 THEN ?6 ELSE '' END
             FROM devices WHERE id = ?2 AND project_key = ?1 AND changed_at = ?7 AND day_changes <= ?5",
        )
        .bind(&[
            s(c.project),
            s(c.id),
            n(c.at),
            s(detail),
            n(HISTORY_CHANGES_PER_DAY),
            s(HISTORY_CAP_NOTE),
            n(c.since),
        ])?)
}
