//! Module OTA's per-device state in D1: the one active job of each JSON device (`device_jobs`,
//! the job itself kept as JSON), the modules and versions it reported (`device_modules`), when
//! it last had a progress report stored (`devices.progress_at`), and the signatures already
//! accepted (`replay`).
//!
//! A stored job that no longer parses is treated as absent, as it always was.

use super::{db, n, opt, s, Metered as _};
use crate::error::{AppError, AppResult};
use fota_shared::model::job::ActiveJob;
use serde::Deserialize;
use worker::wasm_bindgen::JsValue;
use worker::{D1PreparedStatement, Env};

// ---------------------------------------------------------------- replay

/// Records a signature's replay key until `until_ms`; false when it was already recorded.
pub async fn accept_once(env: &Env, key: &str, until_ms: i64) -> AppResult<bool> {
    let fresh = db(env)?
        .prepare("INSERT INTO replay (key, until_ms) VALUES (?1, ?2) ON CONFLICT(key) DO NOTHING")
        .bind(&[s(key), n(until_ms)])?
        .counted_run()
        .await?
        .meta()?
        .and_then(|m| m.changes)
        .unwrap_or(0);
    Ok(fresh != 0)
}

// ---------------------------------------------------------------- jobs

#[derive(Deserialize)]
struct JobRow {
    job: String,
}

/// The device's job, if it has one.
pub async fn load(env: &Env, device: &str) -> AppResult<Option<ActiveJob>> {
    let row: Option<JobRow> = db(env)?
        .prepare("SELECT job FROM device_jobs WHERE device_id = ?1")
        .bind(&[s(device)])?
        .counted_first(None)
        .await?;
    Ok(row.and_then(|r| serde_json::from_str(&r.job).ok()))
}

/// Writes the device's job; `plan_id` and `timeout_ms` are the caller's reading of it.
pub async fn save(
    env: &Env,
    project: &str,
    device: &str,
    plan_id: &str,
    job: &ActiveJob,
    timeout_ms: Option<i64>,
) -> AppResult<()> {
    db(env)?
        .prepare(
            "INSERT INTO device_jobs (device_id, project_key, plan_id, phase, job, offered_ms, timeout_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT(device_id) DO UPDATE SET project_key = excluded.project_key, plan_id = excluded.plan_id, phase = excluded.phase,
               job = excluded.job, offered_ms = excluded.offered_ms, timeout_ms = excluded.timeout_ms",
        )
        .bind(&[
            s(device),
            s(project),
            s(plan_id),
            s(job.phase.as_str()),
            s(&serde_json::to_string(job).map_err(|e| AppError::Unavailable(e.to_string()))?),
            job.offered_ms.map_or(JsValue::NULL, n),
            timeout_ms.map_or(JsValue::NULL, n),
        ])?
        .counted_run()
        .await?;
    Ok(())
}

/// Removes the device's job (the slot is free again).
pub async fn clear(env: &Env, device: &str) -> AppResult<()> {
    clear_stmt(env, device)?.counted_run().await?;
    Ok(())
}

/// [`clear`] as a statement, to batch with others.
pub fn clear_stmt(env: &Env, device: &str) -> AppResult<D1PreparedStatement> {
    Ok(db(env)?
        .prepare("DELETE FROM device_jobs WHERE device_id = ?1")
        .bind(&[s(device)])?)
}

/// A job in progress whose timeout has passed, with where it belongs.
pub struct OverdueJob {
    pub project_key: String,
    pub device_id: String,
    pub job: ActiveJob,
}

/// Up to 200 jobs in progress whose timeout is at or before `now`.
pub async fn overdue(env: &Env, now: i64) -> AppResult<Vec<OverdueJob>> {
    #[derive(Deserialize)]
    struct Row {
        device_id: String,
        project_key: String,
        job: String,
    }
    let rows: Vec<Row> = db(env)?
        .prepare("SELECT device_id, project_key, job FROM device_jobs WHERE phase = 'in_progress' AND timeout_ms <= ?1 LIMIT 200")
        .bind(&[n(now)])?
        .counted_all()
        .await?
        .results()?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            serde_json::from_str(&r.job).ok().map(|job| OverdueJob {
                project_key: r.project_key,
                device_id: r.device_id,
                job,
            })
        })
        .collect())
}

/// A project's jobs in device order (the first 1000), optionally only those in `phase`.
pub async fn list(
    env: &Env,
    project: &str,
    phase: Option<&str>,
) -> AppResult<Vec<(String, ActiveJob)>> {
    #[derive(Deserialize)]
    struct Row {
        device_id: String,
        job: String,
    }
    let rows: Vec<Row> = db(env)?
        .prepare("SELECT device_id, job FROM device_jobs WHERE project_key = ?1 AND (?2 IS NULL OR phase = ?2) ORDER BY device_id LIMIT 1000")
        .bind(&[s(project), opt(phase)])?
        .counted_all()
        .await?
        .results()?;
    Ok(rows
        .into_iter()
        .filter_map(|r| serde_json::from_str(&r.job).ok().map(|j| (r.device_id, j)))
        .collect())
}

// ---------------------------------------------------------------- modules

/// Records the version a device reports for a module.
pub fn report_stmt(
    env: &Env,
    device: &str,
    module: &str,
    version: &str,
    at: i64,
) -> AppResult<D1PreparedStatement> {
    Ok(db(env)?
        .prepare(
            "INSERT INTO device_modules (device_id, module, version, reported_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(device_id, module) DO UPDATE SET version = excluded.version, reported_at = excluded.reported_at",
        )
        .bind(&[s(device), s(module), s(version), n(at)])?)
}

/// When the device's last progress report was stored (ms), if ever, whatever its module: the
/// progress limit is per device, so that rotating module names does not pass it.
pub async fn last_progress_ms(env: &Env, device: &str) -> AppResult<Option<i64>> {
    let last: Option<f64> = db(env)?
        .prepare("SELECT progress_at FROM devices WHERE id = ?1")
        .bind(&[s(device)])?
        .counted_first(Some("progress_at"))
        .await?;
    Ok(last.map(|l| l as i64))
}

/// Records that a progress report of the device was stored at `at` (a column no index holds:
/// one row written). No module row is made for it: a progress report names a module, it does
/// not make one.
pub fn progress_stmt(env: &Env, device: &str, at: i64) -> AppResult<D1PreparedStatement> {
    Ok(db(env)?
        .prepare("UPDATE devices SET progress_at = ?2 WHERE id = ?1")
        .bind(&[s(device), n(at)])?)
}

/// The modules the device has reported a version for, as (module, version).
pub async fn reported_modules(env: &Env, device: &str) -> AppResult<Vec<(String, String)>> {
    #[derive(Deserialize)]
    struct ModuleRow {
        module: String,
        version: String,
    }
    let modules: Vec<ModuleRow> = db(env)?
        .prepare(
            "SELECT module, version FROM device_modules WHERE device_id = ?1 AND version != ''",
        )
        .bind(&[s(device)])?
        .counted_all()
        .await?
        .results()?;
    Ok(modules.into_iter().map(|m| (m.module, m.version)).collect())
}

/// A device's `ota_bytes` row.
#[derive(Deserialize)]
struct SentRow {
    day: f64,
    sent: f64,
}

impl SentRow {
    fn sent(self) -> fota_shared::rules::budget::Sent {
        fota_shared::rules::budget::Sent {
            day: self.day as i64,
            bytes: self.sent as u64,
        }
    }
}

/// Image bytes the device's module-OTA downloads took, and the UTC day they count for
/// (`fota_shared::rules::budget`).
pub async fn ota_sent(
    env: &Env,
    project: &str,
    device: &str,
) -> AppResult<fota_shared::rules::budget::Sent> {
    let row: Option<SentRow> = db(env)?
        .prepare("SELECT day, sent FROM ota_bytes WHERE project_key = ?1 AND device_id = ?2")
        .bind(&[s(project), s(device)])?
        .counted_first(None)
        .await?;
    Ok(row.map_or_else(Default::default, SentRow::sent))
}

/// Adds `bytes` a module-OTA download took on `today` (an older day's count starts again);
/// returns the count after.
pub async fn add_ota_sent(
    env: &Env,
    project: &str,
    device: &str,
    today: i64,
    bytes: u64,
) -> AppResult<fota_shared::rules::budget::Sent> {
    let row: Option<SentRow> = db(env)?
        .prepare(
            "INSERT INTO ota_bytes (project_key, device_id, day, sent) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (project_key, device_id) DO UPDATE SET
               sent = CASE WHEN day = excluded.day THEN sent + excluded.sent ELSE excluded.sent END,
               day = excluded.day
             RETURNING day, sent",
        )
        .bind(&[s(project), s(device), n(today), n(bytes as i64)])?
        .counted_first(None)
        .await?;
    Ok(row.map_or_else(Default::default, SentRow::sent))
}
