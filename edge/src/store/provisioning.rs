//! JSON devices (and registered Luat ids): provisioning, deprovisioning and the row device
//! authentication starts from.

use super::{db, n, s, Metered as _, MeteredBatch as _};
use crate::error::AppResult;
use fota_shared::api::ota::Protocol;
use serde::Deserialize;
use worker::wasm_bindgen::JsValue;
use worker::Env;

use super::devices::KeyColumns;
use super::fleet::ROWS_PER_STATEMENT;

/// What device authentication reads of a device: its project, whether it is provisioned, and
/// which secret it holds (see `fota_shared::rules::device_auth`).
#[derive(Deserialize)]
pub struct AuthRow {
    pub project_key: String,
    #[serde(flatten)]
    pub key: KeyColumns,
}

impl AuthRow {
    /// A provisioned JSON device (a registered Luat device's secret does not open the JSON API).
    pub fn is_json_device(&self) -> bool {
        self.key.provisioned_at.is_some() && self.key.protocol.as_deref() != Some("luat")
    }
}

pub async fn auth_row(env: &Env, id: &str) -> AppResult<Option<AuthRow>> {
    Ok(db(env)?
        .prepare("SELECT project_key, provisioned_at, protocol, key_generation, key_master_version FROM devices WHERE id = ?1")
        .bind(&[s(id)])?
        .counted_first(None)
        .await?)
}

/// Records the master key version a device from before versions were recorded just verified
/// under; from now on it verifies under that version only.
pub async fn record_master_version(
    env: &Env,
    id: &str,
    generation: i64,
    version: u32,
) -> AppResult<()> {
    db(env)?
        .prepare("UPDATE devices SET key_master_version = ?3 WHERE id = ?1 AND key_generation = ?2 AND key_master_version IS NULL")
        .bind(&[s(id), n(generation), n(i64::from(version))])?
        .counted_run()
        .await?;
    Ok(())
}

/// Records a JSON device's report: seen now, and its version when the report is for the whole device.
pub fn reported_stmt(
    env: &Env,
    id: &str,
    at: i64,
    whole_device: bool,
    version: &str,
) -> AppResult<worker::D1PreparedStatement> {
    Ok(db(env)?
        .prepare("UPDATE devices SET last_seen = ?2, version = CASE WHEN ?3 = 1 THEN ?4 ELSE version END WHERE id = ?1")
        .bind(&[s(id), n(at), n(whole_device as i64), s(version)])?)
}

/// Binds each id to the project and marks it provisioned, in one batch, issuing a new key
/// generation (derived from master key `master_version`) to each id not provisioned yet, or to
/// every id when `rekey`. Returns the ids given a generation, with it and whether this call made
/// the device's row (an id no check had bound). An id another project owns,
/// and without `rekey` an id already provisioned, is left as it is.
///
/// The generation issued is `max(now, previous + 1)` (the rule `fota_shared::rules::device_auth`
/// documents), computed in the statement so two concurrent re-keys cannot issue one generation
/// twice; a de-provisioned device keeps its last generation for this.
pub async fn provision(
    env: &Env,
    project: &str,
    ids: &[String],
    at: i64,
    master_version: u32,
    rekey: bool,
    protocol: Protocol,
) -> AppResult<Vec<(String, i64, bool)>> {
    // Many rows per statement (D1 binds at most 100 parameters: 6 shared, then one per id), so
    // 1,000 ids are a dozen statements in one batch. An id provisioned under the other protocol
    // is left as it is (the caller reports it).
    let mut statements = Vec::new();
    for chunk in ids.chunks(ROWS_PER_STATEMENT) {
        let rows = (0..chunk.len())
            .map(|i| format!("(?{}, ?1, ?2, ?2, ?2, ?2, ?3, ?5)", i + 7))
            .collect::<Vec<_>>()
            .join(", ");
        let mut args: Vec<JsValue> = vec![
            s(project),
            n(at),
            n(i64::from(master_version)),
            n(rekey as i64),
            s(protocol.as_str()),
            JsValue::NULL,
        ];
        args.extend(chunk.iter().map(|id| s(id)));
        statements.push(
            db(env)?
                .prepare(format!(
                    "INSERT INTO devices (id, project_key, first_seen, last_seen, provisioned_at, key_generation, key_master_version, protocol)
                     VALUES {rows}
                     ON CONFLICT(id) DO UPDATE SET provisioned_at = COALESCE(devices.provisioned_at, ?2),
                       key_generation = MAX(?2, COALESCE(devices.key_generation, 0) + 1), key_master_version = ?3,
                       protocol = ?5
                     WHERE devices.project_key = ?1
                       AND (devices.provisioned_at IS NULL OR (?4 = 1 AND COALESCE(devices.protocol, 'json') = ?5))
                     RETURNING id, key_generation, first_seen"
                ))
                .bind(&args)?,
        );
    }
    #[derive(Deserialize)]
    struct Issued {
        id: String,
        key_generation: f64,
        first_seen: f64,
    }
    let mut issued = Vec::new();
    for result in db(env)?.counted_batch(statements).await? {
        issued.extend(
            result
                .results::<Issued>()?
                .into_iter()
                .map(|r| (r.id, r.key_generation as i64, r.first_seen as i64 == at)),
        );
    }
    Ok(issued)
}

/// Of `ids`, those provisioned (in any project) under the other protocol than `protocol`.
pub async fn other_protocol(
    env: &Env,
    ids: &[String],
    protocol: Protocol,
) -> AppResult<Vec<String>> {
    let mut found = Vec::new();
    for chunk in ids.chunks(90) {
        let marks = (2..chunk.len() + 2)
            .map(|i| format!("?{i}"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut args: Vec<JsValue> = vec![s(protocol.as_str())];
        args.extend(chunk.iter().map(|id| s(id)));
        #[derive(Deserialize)]
        struct Row {
            id: String,
        }
        let rows: Vec<Row> = db(env)?
            .prepare(format!(
                "SELECT id FROM devices WHERE id IN ({marks}) AND provisioned_at IS NOT NULL AND COALESCE(protocol, 'json') <> ?1"
            ))
            .bind(&args)?
            .counted_all()
            .await?
            .results()?;
        found.extend(rows.into_iter().map(|r| r.id));
    }
    Ok(found)
}

/// Clears a device's provisioning: its signed requests are refused from now on (its key
/// generation stays, so provisioning it again issues a new secret), and KV's copy of its binding
/// no longer marks it signed. `false`: the device is not a provisioned device of this project.
pub async fn deprovision(env: &Env, project: &str, id: &str) -> AppResult<bool> {
    #[derive(Deserialize)]
    struct Row {
        #[allow(dead_code)]
        id: String,
    }
    let row: Option<Row> = db(env)?
        .prepare("UPDATE devices SET provisioned_at = NULL WHERE id = ?1 AND project_key = ?2 AND provisioned_at IS NOT NULL RETURNING id")
        .bind(&[s(id), s(project)])?
        .counted_first(None)
        .await?;
    Ok(row.is_some())
}

/// The ids of a project's provisioned devices, in order (the first 5000).
pub async fn provisioned_ids(env: &Env, project: &str) -> AppResult<Vec<String>> {
    #[derive(Deserialize)]
    struct Row {
        id: String,
    }
    let rows: Vec<Row> = db(env)?
        .prepare("SELECT id FROM devices WHERE project_key = ?1 AND provisioned_at IS NOT NULL AND COALESCE(protocol, 'json') = 'json' ORDER BY id LIMIT 5000")
        .bind(&[s(project)])?
        .counted_all()
        .await?
        .results()?;
    Ok(rows.into_iter().map(|r| r.id).collect())
}
