//! What a plan preview reads from the registry: devices of one firmware per version (the
//! maintained `fleet_counts`, one row per version, whatever the fleet's size), the same within
//! a plan's device set (its listed ids and id ranges, through the id index), and the devices
//! banned for a target (the partial index on banned devices). Nothing is written.

use super::{db, n, s, Metered as _};
use crate::error::AppResult;
use fota_shared::model::plan::PlanSpec;
use fota_shared::rules::plan::in_device_set;
use serde::Deserialize;
use std::collections::BTreeMap;
use worker::Env;

/// Listed ids per query (one JSON parameter, well under D1's limits).
const IDS_PER_QUERY: usize = 5_000;

#[derive(Deserialize)]
struct Count {
    version: Option<String>,
    n: f64,
}

/// Devices per version: `None` is a device whose version the registry does not know.
pub type PerVersion = BTreeMap<Option<String>, u64>;

fn add(into: &mut PerVersion, rows: Vec<Count>) {
    for r in rows {
        *into.entry(r.version).or_default() += r.n as u64;
    }
}

/// Every known device of `firmware` in `project`, per version (`fleet_counts`).
pub async fn firmware_versions(env: &Env, project: &str, firmware: &str) -> AppResult<PerVersion> {
    let rows: Vec<Count> = db(env)?
        .prepare(
            "SELECT json_extract(name, '$[1]') AS version, devices AS n FROM fleet_counts
             WHERE project_key = ?1 AND facet = 'version' AND devices <> 0
               AND json_extract(name, '$[0]') = ?2",
        )
        .bind(&[s(project), s(firmware)])?
        .counted_all()
        .await?
        .results()?;
    let mut out = PerVersion::new();
    add(&mut out, rows);
    Ok(out)
}

/// The devices of `firmware` inside a plan's device set (listed ids and id ranges), per
/// version. Ranges of digits compare as numbers of one length (IMEIs), others (MACs) by their
/// hex digits; a listed id inside a range is counted once.
pub async fn set_versions(
    env: &Env,
    project: &str,
    firmware: &str,
    spec: &PlanSpec,
) -> AppResult<PerVersion> {
    let mut out = PerVersion::new();
    for chunk in spec.devices.chunks(IDS_PER_QUERY) {
        let ids = serde_json::to_string(chunk).unwrap_or_default();
        let rows: Vec<Count> = db(env)?
            // The listed ids drive the join (CROSS JOIN keeps that order): one primary-key
            // lookup per id, never a scan of the project's devices.
            .prepare(
                "SELECT d.version AS version, COUNT(*) AS n
                 FROM json_each(?3) AS j CROSS JOIN devices AS d ON d.id = j.value
                 WHERE d.project_key = ?1 AND d.firmware_name = ?2
                 GROUP BY d.version",
            )
            .bind(&[s(project), s(firmware), s(&ids)])?
            .counted_all()
            .await?
            .results()?;
        add(&mut out, rows);
    }
    // Listed ids are left out of the ranges' counts (they were counted above) when the list is
    // small enough to pass as one parameter.
    let listed = if spec.devices.len() <= IDS_PER_QUERY {
        serde_json::to_string(&spec.devices).unwrap_or_default()
    } else {
        "[]".into()
    };
    for [lo, hi] in &spec.imei_ranges {
        let digits = lo.bytes().all(|b| b.is_ascii_digit());
        let sql = if digits {
            "SELECT version, COUNT(*) AS n FROM devices
             WHERE project_key = ?1 AND firmware_name = ?2 AND id BETWEEN ?3 AND ?4 AND length(id) = ?5
               AND id NOT IN (SELECT value FROM json_each(?6))
             GROUP BY version"
        } else {
            "SELECT version, COUNT(*) AS n FROM devices
             WHERE project_key = ?1 AND firmware_name = ?2
               AND upper(replace(replace(id, ':', ''), '-', '')) BETWEEN ?3 AND ?4
               AND length(replace(replace(id, ':', ''), '-', '')) = ?5
               AND id NOT IN (SELECT value FROM json_each(?6))
             GROUP BY version"
        };
        let norm = |id: &str| -> String {
            if digits {
                id.to_string()
            } else {
                id.chars()
                    .filter(|c| !matches!(c, ':' | '-'))
                    .collect::<String>()
                    .to_ascii_uppercase()
            }
        };
        let (lo, hi) = (norm(lo), norm(hi));
        let rows: Vec<Count> = db(env)?
            .prepare(sql)
            .bind(&[
                s(project),
                s(firmware),
                s(&lo),
                s(&hi),
                n(lo.len() as i64),
                s(&listed),
            ])?
            .counted_all()
            .await?
            .results()?;
        add(&mut out, rows);
    }
    Ok(out)
}

#[derive(Deserialize)]
struct Banned {
    id: String,
    version: Option<String>,
}

/// Devices of the plan's device set banned for `target_key` (`firmware@version`), per version.
pub async fn banned_versions(
    env: &Env,
    project: &str,
    firmware: &str,
    target_key: &str,
    spec: &PlanSpec,
) -> AppResult<PerVersion> {
    let rows: Vec<Banned> = db(env)?
        .prepare(
            "SELECT id, version FROM devices INDEXED BY devices_banned
             WHERE project_key = ?1 AND banned = 1 AND firmware_name = ?2 AND delivery_target = ?3",
        )
        .bind(&[s(project), s(firmware), s(target_key)])?
        .counted_all()
        .await?
        .results()?;
    let mut out = PerVersion::new();
    for r in rows.into_iter().filter(|r| in_device_set(spec, &r.id)) {
        *out.entry(r.version).or_default() += 1;
    }
    Ok(out)
}
