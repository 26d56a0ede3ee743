//! D1's copy of each rollout, written by its coordinator (`crate::coordinator`) in batches: the
//! `rollouts` row the cron and admin listings read, the `rollout_devices` rows, each device's job
//! and delivery columns in `devices`, and the device history the coordinator produced.
//! Nothing here is on a device's critical path.

use super::{db, n, opt, s, Metered as _};
use crate::error::AppResult;
use fota_shared::model::rollout::DeviceRollout;
use serde::Deserialize;
use worker::wasm_bindgen::JsValue;
use worker::{D1PreparedStatement, Env};

/// The rollout as a whole, as the coordinator holds it.
pub struct StateCopy<'a> {
    pub plan_id: &'a str,
    pub project_key: &'a str,
    pub firmware_name: &'a str,
    pub phase: &'a str,
    pub high_water: u32,
    pub state_json: &'a str,
    pub version: i64,
    pub updated_at: i64,
    /// The coordinator objects the rollout is spread over.
    pub shards: u32,
}

/// One device's record in a rollout, with its deliveries of the rollout's target.
pub struct DeviceCopy<'a> {
    pub job: &'a DeviceRollout,
    pub delivery_target: &'a str,
    pub deliveries: u32,
    pub banned: bool,
    pub banned_at: Option<i64>,
}

/// One history entry the coordinator produced.
pub struct HistoryCopy<'a> {
    pub device_id: &'a str,
    pub at: i64,
    pub kind: &'a str,
    pub detail: &'a str,
}

pub fn state_stmt(env: &Env, c: &StateCopy<'_>) -> AppResult<D1PreparedStatement> {
    Ok(db(env)?
        .prepare(
            "INSERT INTO rollouts (plan_id, project_key, firmware_name, phase, high_water, state, version, updated_at, shards)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
             ON CONFLICT(plan_id) DO UPDATE SET phase = excluded.phase, high_water = excluded.high_water,
               state = excluded.state, version = excluded.version, updated_at = excluded.updated_at,
               shards = excluded.shards, purged = 0
             WHERE excluded.version >= rollouts.version",
        )
        .bind(&[
            s(c.plan_id),
            s(c.project_key),
            s(c.firmware_name),
            s(c.phase),
            n(c.high_water as i64),
            s(c.state_json),
            n(c.version),
            n(c.updated_at),
            n(c.shards as i64),
        ])?)
}

pub fn device_stmts(
    env: &Env,
    plan_id: &str,
    d: &DeviceCopy<'_>,
) -> AppResult<[D1PreparedStatement; 2]> {
    let job = d.job;
    let row = db(env)?
        .prepare(
            "INSERT INTO rollout_devices (plan_id, device_id, cohort, phase, since_ms, offered_ms, cause)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT(plan_id, device_id) DO UPDATE SET cohort = excluded.cohort, phase = excluded.phase,
               since_ms = excluded.since_ms, offered_ms = excluded.offered_ms, cause = excluded.cause",
        )
        .bind(&[
            s(plan_id),
            s(&job.device_id),
            n(job.cohort as i64),
            s(job.phase.as_str()),
            n(job.since_ms),
            job.offered_ms.map_or(JsValue::NULL, n),
            opt(job.cause.as_deref()),
        ])?;
    let registry = db(env)?
        .prepare(
            "UPDATE devices SET job_plan = ?1, job_phase = ?2, job_since = ?3, job_cause = ?4,
               delivery_target = ?6, deliveries = ?7, banned = ?8, banned_at = ?9
             WHERE id = ?5",
        )
        .bind(&[
            s(plan_id),
            s(job.phase.as_str()),
            n(job.since_ms),
            opt(job.cause.as_deref()),
            s(&job.device_id),
            s(d.delivery_target),
            n(d.deliveries as i64),
            n(d.banned as i64),
            d.banned_at.map_or(JsValue::NULL, n),
        ])?;
    Ok([row, registry])
}

pub fn history_stmt(
    env: &Env,
    project_key: &str,
    h: &HistoryCopy<'_>,
) -> AppResult<D1PreparedStatement> {
    Ok(db(env)?
        .prepare("INSERT INTO device_events (project_key, device_id, at, kind, detail) VALUES (?1, ?2, ?3, ?4, ?5)")
        .bind(&[s(project_key), s(h.device_id), n(h.at), s(h.kind), s(h.detail)])?)
}

/// The plan targets of rollouts that may still change by time alone.
pub async fn live_plans(env: &Env) -> AppResult<Vec<(String, String)>> {
    #[derive(Deserialize)]
    struct Row {
        project_key: String,
        firmware_name: String,
    }
    let rows: Vec<Row> = db(env)?
        .prepare("SELECT DISTINCT project_key, firmware_name FROM rollouts WHERE phase IN ('verifying', 'running', 'paused', 'completed')")
        .counted_all()
        .await?
        .results()?;
    Ok(rows
        .into_iter()
        .map(|r| (r.project_key, r.firmware_name))
        .collect())
}

/// The stored state (JSON, as the first shard last wrote it) of each of `plan_ids` that has a
/// row: one statement reading one row per plan by its key, whatever the fleet's size.
pub async fn states(env: &Env, plan_ids: &[String]) -> AppResult<Vec<(String, String)>> {
    #[derive(Deserialize)]
    struct Row {
        plan_id: String,
        state: String,
    }
    if plan_ids.is_empty() {
        return Ok(Vec::new());
    }
    let ids = serde_json::to_string(plan_ids)
        .map_err(|e| crate::error::AppError::Unavailable(format!("plan ids: {e}")))?;
    let rows: Vec<Row> = db(env)?
        .prepare("SELECT plan_id, state FROM rollouts WHERE plan_id IN (SELECT value FROM json_each(?1))")
        .bind(&[s(&ids)])?
        .counted_all()
        .await?
        .results()?;
    Ok(rows.into_iter().map(|r| (r.plan_id, r.state)).collect())
}
