//! The fleet summary's SQL: counts D1 keeps as devices change, read in one D1 batch (one round
//! trip) whose rows do not grow with the fleet, and the one statement per registry flush that
//! keeps the seen-within counts (migration 0008 has the tables and the triggers):
//! - `fleet_counts`: devices per (firmware, version), per job state and banned, per project,
//!   kept by triggers on `devices` in the transaction that changes a device;
//! - `seen_hours`: devices per clock hour of their stored `last_seen` and the newest devices
//!   written into each hour, kept by the INSERT/DELETE/move triggers and by
//!   [`seen_hours_stmt`] for `last_seen` refreshes (no trigger fires on those).
//!
//! A summary reads the project's counts rows (one per version, state and the banned count), its
//! clock hours of the last week (at most 170 rows), the newest `LATEST_HOURS` of them again with
//! the devices they remember, and at most `LATEST_CANDIDATES` devices.

use super::fleet::{DeviceRow, DEVICE_COLUMNS};
use super::{db, n, s, MeteredBatch as _};
use crate::error::{AppError, AppResult};
use fota_shared::api::fleet::Device;
use fota_shared::api::fleet_summary::{seen_counts, Aggregates, LATEST};
use fota_shared::rules::seen;
use serde::Deserialize;
use worker::{D1PreparedStatement, Env};

#[derive(Deserialize)]
struct CountRow {
    facet: String,
    name: String,
    devices: f64,
}

#[derive(Deserialize)]
struct HourRow {
    hour: f64,
    devices: f64,
}

/// What the summary needs from D1 for `project` at `now_ms`.
pub async fn aggregates(env: &Env, project: &str, now_ms: i64) -> AppResult<Aggregates> {
    let db = db(env)?;
    let week = seen::window_start(now_ms, seen::WINDOWS_MS[2]);
    let statements = vec![
        db.prepare(
            "SELECT facet, name, devices FROM fleet_counts WHERE project_key = ?1 AND devices <> 0",
        )
        .bind(&[s(project)])?,
        db.prepare("SELECT hour, devices FROM seen_hours WHERE project_key = ?1 AND hour >= ?2")
            .bind(&[s(project), n(week)])?,
        // The newest devices the latest hours of the week remember, looked up by key: a device
        // that moved on to a later hour or went is found there or not at all.
        db.prepare(format!(
            "SELECT {DEVICE_COLUMNS} FROM devices WHERE project_key = ?1 AND id IN (
                 SELECT json_extract(e.value, '$[0]')
                 FROM (SELECT latest FROM seen_hours WHERE project_key = ?1 AND hour >= ?2
                       ORDER BY hour DESC LIMIT ?3) AS h, json_each(h.latest) AS e
                 ORDER BY json_extract(e.value, '$[1]') DESC LIMIT ?4)
             ORDER BY last_seen DESC, id LIMIT ?5"
        ))
        .bind(&[
            s(project),
            n(week),
            n(seen::LATEST_HOURS as i64),
            n(seen::LATEST_CANDIDATES as i64),
            n(LATEST as i64),
        ])?,
    ];
    let results = db.counted_batch(statements).await?;
    let [counts, hours, latest] = <[worker::D1Result; 3]>::try_from(results).map_err(|r| {
        AppError::Unavailable(format!("summary batch answered {} results, not 3", r.len()))
    })?;
    let counts: Vec<CountRow> = counts.results()?;
    let hours: Vec<HourRow> = hours.results()?;
    let latest: Vec<DeviceRow> = latest.results()?;
    let hours: Vec<(i64, i64)> = hours
        .iter()
        .map(|h| (h.hour as i64, h.devices as i64))
        .collect();
    let mut agg = Aggregates {
        seen: seen_counts(&hours, now_ms),
        hours,
        latest: latest.into_iter().map(Device::from).collect(),
        ..Aggregates::default()
    };
    for row in counts {
        let devices = row.devices.max(0.0) as u64;
        match row.facet.as_str() {
            "version" => {
                let (firmware, version): (Option<String>, Option<String>) =
                    serde_json::from_str(&row.name).map_err(|e| {
                        AppError::Unavailable(format!("fleet_counts name {:?}: {e}", row.name))
                    })?;
                agg.versions.push((firmware, version, devices));
            }
            "phase" => agg.states.push((row.name, devices)),
            "banned" => agg.banned += devices,
            _ => {}
        }
    }
    Ok(agg)
}

/// The statement that moves refreshed devices between the clock hours of `seen_hours`: for each
/// `(device id, project, seen at ms)` whose stored `last_seen` is older, one device out of the
/// hour of the stored value (when that hour is still kept) and into the hour of the new one,
/// which also remembers it among its newest devices. One statement per registry flush, however
/// many devices: it writes one row per (project, hour) touched, about three per flush.
///
/// It reads the stored `last_seen`, so it must run BEFORE the flush's UPDATEs of those devices,
/// in the same batch (one transaction). Ids not bound to that project are left out, and the new
/// value is `MAX(stored, at)`, as the UPDATEs write it.
pub fn seen_hours_stmt(env: &Env, seen: &[(&str, &str, i64)]) -> AppResult<D1PreparedStatement> {
    let moves: Vec<(&str, &str, i64)> = seen.to_vec();
    let moves = serde_json::to_string(&moves)
        .map_err(|e| AppError::Unavailable(format!("seen hours: {e}")))?;
    let keep_from = seen::keep_from(super::now());
    Ok(db(env)?
        .prepare(
            "WITH given AS (
                 SELECT json_extract(value, '$[0]') AS id, json_extract(value, '$[1]') AS project,
                        json_extract(value, '$[2]') AS at
                 FROM json_each(?1)),
             moved AS (
                 SELECT d.project_key AS p, d.id AS id, d.last_seen AS old, g.at AS new
                 FROM given AS g JOIN devices AS d ON d.project_key = g.project AND d.id = g.id
                 WHERE g.at > d.last_seen),
             parts AS (
                 SELECT p, new - new % ?3 AS hour, (old - old % ?3 <> new - new % ?3) AS delta,
                        json_array(id, new) AS entry
                 FROM moved
                 UNION ALL
                 SELECT p, old - old % ?3, -1, NULL FROM moved
                 WHERE old - old % ?3 <> new - new % ?3 AND old >= ?2)
             INSERT INTO seen_hours (project_key, hour, devices, latest)
             SELECT p, hour, SUM(delta), json_group_array(json(entry)) FROM parts WHERE true GROUP BY p, hour
             ON CONFLICT (project_key, hour) DO UPDATE SET devices = devices + excluded.devices,
                 latest = (SELECT json_group_array(json_array(d, a)) FROM (
                     SELECT d, MAX(a) AS a FROM (
                         SELECT json_extract(value, '$[0]') AS d, json_extract(value, '$[1]') AS a
                         FROM json_each(seen_hours.latest)
                         UNION ALL
                         SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]')
                         FROM json_each(excluded.latest))
                     WHERE d IS NOT NULL GROUP BY d ORDER BY a DESC, d LIMIT ?4))",
        )
        .bind(&[
            s(&moves),
            n(keep_from),
            n(seen::BUCKET_MS),
            n(seen::LATEST_PER_BUCKET as i64),
        ])?)
}
