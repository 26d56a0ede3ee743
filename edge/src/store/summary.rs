//! The fleet summary's SQL: four indexed aggregates over one project's devices, read in one D1
//! batch (one round trip). Each statement is answered from an index of migration 0005 without
//! reading the table, except the latest few devices.

use super::devices::{DeviceRow, DEVICE_COLUMNS};
use super::{db, n, s, MeteredBatch as _};
use crate::error::AppResult;
use fota_shared::api::fleet::{Device, SeenCounts};
use fota_shared::api::fleet_summary::{seen_cutoffs, Aggregates, LATEST};
use serde::Deserialize;

#[derive(Deserialize)]
struct VersionRow {
    firmware_name: Option<String>,
    version: Option<String>,
    n: f64,
}

#[derive(Deserialize)]
struct StateRow {
    job_phase: String,
    n: f64,
}

#[derive(Deserialize)]
struct CountsRow {
    banned: f64,
    hour: f64,
    day: f64,
    week: f64,
}

/// What the summary needs from D1 for `project` at `now_ms`.
pub async fn aggregates(env: &worker::Env, project: &str, now_ms: i64) -> AppResult<Aggregates> {
    let db = db(env)?;
    let [hour, day, week] = seen_cutoffs(now_ms);
    let statements = vec![
        db.prepare("SELECT firmware_name, version, COUNT(*) AS n FROM devices WHERE project_key = ?1 GROUP BY firmware_name, version")
            .bind(&[s(project)])?,
        // Devices without a job (NULL, most of a fleet) are left out: the caller counts them as
        // the rest of the total.
        db.prepare("SELECT job_phase, COUNT(*) AS n FROM devices WHERE project_key = ?1 AND job_phase IS NOT NULL GROUP BY job_phase")
            .bind(&[s(project)])?,
        db.prepare(
            "SELECT (SELECT COUNT(*) FROM devices WHERE project_key = ?1 AND banned = 1) AS banned,
                    (SELECT COUNT(*) FROM devices WHERE project_key = ?1 AND last_seen >= ?2) AS hour,
                    (SELECT COUNT(*) FROM devices WHERE project_key = ?1 AND last_seen >= ?3) AS day,
                    (SELECT COUNT(*) FROM devices WHERE project_key = ?1 AND last_seen >= ?4) AS week",
        )
        .bind(&[s(project), n(hour), n(day), n(week)])?,
        db.prepare(format!("SELECT {DEVICE_COLUMNS} FROM devices WHERE project_key = ?1 ORDER BY last_seen DESC, id LIMIT ?2"))
            .bind(&[s(project), n(LATEST as i64)])?,
    ];
    let results = db.counted_batch(statements).await?;
    let [versions, states, counts, latest] =
        <[worker::D1Result; 4]>::try_from(results).map_err(|r| {
            crate::error::AppError::Unavailable(format!(
                "summary batch answered {} results, not 4",
                r.len()
            ))
        })?;
    let versions: Vec<VersionRow> = versions.results()?;
    let states: Vec<StateRow> = states.results()?;
    let counts: Option<CountsRow> = counts.results()?.into_iter().next();
    let latest: Vec<DeviceRow> = latest.results()?;
    let counts = counts.unwrap_or(CountsRow {
        banned: 0.0,
        hour: 0.0,
        day: 0.0,
        week: 0.0,
    });
    Ok(Aggregates {
        versions: versions
            .into_iter()
            .map(|r| (r.firmware_name, r.version, r.n as u64))
            .collect(),
        states: states
            .into_iter()
            .map(|r| (r.job_phase, r.n as u64))
            .collect(),
        banned: counts.banned as u64,
        seen: SeenCounts {
            hour: counts.hour as u64,
            day: counts.day as u64,
            week: counts.week as u64,
        },
        latest: latest.into_iter().map(Device::from).collect(),
    })
}
