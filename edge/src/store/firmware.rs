//! Firmware metadata (`firmware`): one row per uploaded package (a version's whole image, and
//! its deltas by source version: `fota_shared::rules::package::slot`), and the questions about an
//! image's bytes that the rows answer (its md5, how many records still point at it).

use super::{db, n, opt, s, Metered as _};
use crate::error::AppResult;
use fota_shared::api::catalog::Firmware;
use fota_shared::leaf::time::rfc3339;
use fota_shared::rules::package::slot;
use serde::Deserialize;
use worker::Env;

#[derive(Deserialize)]
struct FirmwareRow {
    firmware_name: String,
    version: String,
    sha256: String,
    md5: String,
    size: f64,
    uploaded_at: f64,
    module: String,
    kind: String,
    source_version: Option<String>,
    notes: Option<String>,
    uploader: Option<String>,
}

impl From<FirmwareRow> for Firmware {
    fn from(r: FirmwareRow) -> Self {
        Firmware {
            firmware_name: r.firmware_name,
            version: r.version,
            sha256: r.sha256,
            md5: r.md5,
            size: r.size as u64,
            uploaded_at: rfc3339(r.uploaded_at as i64),
            module: r.module,
            kind: fota_shared::model::plan::ImageKind::parse(&r.kind).unwrap_or_default(),
            source_version: r.source_version,
            notes: r.notes,
            uploader: r.uploader,
        }
    }
}

const FIRMWARE_COLUMNS: &str = "firmware_name, version, sha256, md5, size, uploaded_at, module, kind, source_version, notes, uploader";

pub async fn list_firmware(
    env: &Env,
    project: &str,
    firmware: Option<&str>,
) -> AppResult<Vec<Firmware>> {
    let stmt = match firmware {
        Some(fw) => db(env)?
            .prepare(format!("SELECT {FIRMWARE_COLUMNS} FROM firmware WHERE project_key = ?1 AND firmware_name = ?2 ORDER BY firmware_name, uploaded_at"))
            .bind(&[s(project), s(fw)])?,
        None => db(env)?
            .prepare(format!("SELECT {FIRMWARE_COLUMNS} FROM firmware WHERE project_key = ?1 ORDER BY firmware_name, uploaded_at"))
            .bind(&[s(project)])?,
    };
    let rows: Vec<FirmwareRow> = stmt.counted_all().await?.results()?;
    Ok(rows.into_iter().map(Firmware::from).collect())
}

/// One package of a version: its whole image (`slot` ""), or its delta for a source version.
pub async fn firmware(
    env: &Env,
    project: &str,
    firmware: &str,
    version: &str,
    slot: &str,
) -> AppResult<Option<Firmware>> {
    let row: Option<FirmwareRow> = db(env)?
        .prepare(format!("SELECT {FIRMWARE_COLUMNS} FROM firmware WHERE project_key = ?1 AND firmware_name = ?2 AND version = ?3 AND slot = ?4"))
        .bind(&[s(project), s(firmware), s(version), s(slot)])?
        .counted_first(None)
        .await?;
    Ok(row.map(Firmware::from))
}

/// Records an uploaded package. Returns false when its slot of the version is taken (nothing
/// written).
pub async fn insert_firmware(
    env: &Env,
    project: &str,
    fw: &Firmware,
    uploaded_at: i64,
) -> AppResult<bool> {
    let result = db(env)?
        .prepare(
            "INSERT INTO firmware (project_key, firmware_name, version, sha256, md5, size, uploaded_at, module, kind, source_version, notes, uploader, slot)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13) ON CONFLICT DO NOTHING",
        )
        .bind(&[
            s(project),
            s(&fw.firmware_name),
            s(&fw.version),
            s(&fw.sha256),
            s(&fw.md5),
            n(fw.size as i64),
            n(uploaded_at),
            s(&fw.module),
            s(fw.kind.as_str()),
            opt(fw.source_version.as_deref()),
            opt(fw.notes.as_deref()),
            opt(fw.uploader.as_deref()),
            s(&slot(fw.kind, fw.source_version.as_deref())),
        ])?
        .counted_run()
        .await?;
    Ok(result.meta()?.and_then(|m| m.changes).unwrap_or(0) > 0)
}

pub async fn delete_firmware(
    env: &Env,
    project: &str,
    firmware: &str,
    version: &str,
    slot: &str,
) -> AppResult<()> {
    db(env)?
        .prepare(
            "DELETE FROM firmware WHERE project_key = ?1 AND firmware_name = ?2 AND version = ?3 AND slot = ?4",
        )
        .bind(&[s(project), s(firmware), s(version), s(slot)])?
        .counted_run()
        .await?;
    Ok(())
}

/// The md5 of an image, from any firmware record of it.
pub async fn image_md5(env: &Env, sha256: &str) -> AppResult<Option<String>> {
    Ok(db(env)?
        .prepare("SELECT md5 FROM firmware WHERE sha256 = ?1 LIMIT 1")
        .bind(&[s(sha256)])?
        .counted_first(Some("md5"))
        .await?)
}

/// How many firmware records (in any project) still point at these bytes.
pub async fn image_references(env: &Env, sha256: &str) -> AppResult<u32> {
    let count: Option<f64> = db(env)?
        .prepare("SELECT COUNT(*) AS n FROM firmware WHERE sha256 = ?1")
        .bind(&[s(sha256)])?
        .counted_first(Some("n"))
        .await?;
    Ok(count.unwrap_or(0.0) as u32)
}
