//! Key material for module OTA, all derived from the `DEVICE_MASTER_KEYS` Worker secret
//! (`1:<hex>,2:<hex>`): device secrets, the download-URL key, and each project's notice signing
//! seeds. D1 keeps only the public halves of signing keys (and, per device, the master version
//! and generation its secret derives from); nothing secret is stored.
//!
//! Rotating `DEVICE_MASTER_KEYS`: add the new version first. New device secrets, signing keys and
//! URLs come from the highest version; URLs from every listed version stay good until they expire;
//! each device verifies under its own version until it is re-keyed. A version may be dropped once
//! no device and no active signing key derives from it: a Worker secret cannot refuse an edit, so
//! the edge refuses to sign notices with a key whose version is gone (503 `master_key_missing`,
//! logged, also on `GET .../signing-keys`) until the version is listed again or the key rotated.

use crate::error::{AppError, AppResult};
use crate::store::keys::{self as stored, KeyRow};
use fota_shared::model::keys::SigningKey;
use fota_shared::rules::device_auth::{derive_key, issuing_master, parse_master_keys, MasterKey};
use fota_shared::rules::notice::{self};
use worker::Env;

/// How long a new signing key and the one it replaces are both trusted, unless the rotation says.
pub const DEFAULT_OVERLAP_S: u64 = 7 * 24 * 3600;

/// The master keys; module OTA is unavailable (401 to devices, 503 to admins) without them.
pub fn masters(env: &Env) -> Option<Vec<MasterKey>> {
    let text = env.secret("DEVICE_MASTER_KEYS").ok()?.to_string();
    parse_master_keys(&text).ok()
}

pub fn require_masters(env: &Env) -> AppResult<Vec<MasterKey>> {
    masters(env).ok_or_else(|| AppError::Unavailable("DEVICE_MASTER_KEYS is not configured".into()))
}

/// The key download URLs are signed with.
pub fn url_key(masters: &[MasterKey]) -> Option<[u8; 32]> {
    issuing_master(masters).map(url_key_of)
}

/// The URL key of every listed version, newest first: any of them verifies a download URL.
pub fn url_keys(masters: &[MasterKey]) -> Vec<[u8; 32]> {
    masters.iter().map(url_key_of).collect()
}

fn url_key_of(master: &MasterKey) -> [u8; 32] {
    derive_key(master, "fota-download-url")
}

/// A signing key whose master version is no longer listed: logged, and a stable admin code.
fn master_key_missing(project: &str, key_id: &str, version: u32) -> AppError {
    let message = format!(
        "signing key {key_id} of project {project} derives from master key version {version}, which DEVICE_MASTER_KEYS does not list; \
         list that version again, or rotate the project's signing key"
    );
    crate::logs::once("master_key_missing", &message);
    AppError::Status {
        status: 503,
        code: "master_key_missing",
        message,
    }
}

fn seed(
    masters: &[MasterKey],
    master_version: u32,
    project: &str,
    key_id: &str,
) -> Option<[u8; 32]> {
    let master = masters.iter().find(|m| m.version == master_version)?;
    Some(derive_key(
        master,
        &format!("fota-notice-key\n{project}\n{key_id}"),
    ))
}

/// Adds key `key_id` for the project, derived from the issuing master key.
async fn insert(
    env: &Env,
    masters: &[MasterKey],
    project: &str,
    key_id: i64,
    now: i64,
) -> AppResult<()> {
    let master =
        issuing_master(masters).ok_or_else(|| AppError::Unavailable("no master key".into()))?;
    let seed = seed(masters, master.version, project, &key_id.to_string())
        .ok_or_else(|| AppError::Unavailable("no master key".into()))?;
    stored::insert(
        env,
        project,
        key_id,
        master.version,
        &notice::public_key_hex(&seed),
        now,
    )
    .await
}

/// The project's keys devices should trust now, creating the first key on first use.
pub async fn public_keys(
    env: &Env,
    masters: &[MasterKey],
    project: &str,
    now: i64,
) -> AppResult<Vec<SigningKey>> {
    let mut rows = stored::rows(env, project).await?;
    if rows.is_empty() {
        insert(env, masters, project, 1, now).await?;
        rows = stored::rows(env, project).await?;
    }
    let all: Vec<SigningKey> = rows.iter().map(KeyRow::public).collect();
    Ok(notice::valid_keys(&all, now).into_iter().cloned().collect())
}

/// The key that signs now, with its seed.
pub async fn active(
    env: &Env,
    masters: &[MasterKey],
    project: &str,
    now: i64,
) -> AppResult<(String, [u8; 32])> {
    public_keys(env, masters, project, now).await?;
    let rows = stored::rows(env, project).await?;
    let all: Vec<SigningKey> = rows.iter().map(KeyRow::public).collect();
    let key = notice::active_key(&all, now)
        .ok_or_else(|| AppError::Unavailable("no active signing key".into()))?;
    let row = rows
        .iter()
        .find(|r| (r.key_id as i64).to_string() == key.id)
        .ok_or_else(|| AppError::Unavailable("signing key vanished".into()))?;
    let seed = seed(masters, row.master_version as u32, project, &key.id)
        .ok_or_else(|| master_key_missing(project, &key.id, row.master_version as u32))?;
    Ok((key.id.clone(), seed))
}

/// Starts a new key now; the keys still trusted retire after `overlap_s`.
pub async fn rotate(
    env: &Env,
    masters: &[MasterKey],
    project: &str,
    overlap_s: u64,
    now: i64,
) -> AppResult<Vec<SigningKey>> {
    public_keys(env, masters, project, now).await?;
    let next = stored::rows(env, project)
        .await?
        .iter()
        .map(|r| r.key_id as i64)
        .max()
        .unwrap_or(0)
        + 1;
    let retire = now.saturating_add(
        i64::try_from(overlap_s)
            .unwrap_or(i64::MAX / 2)
            .saturating_mul(1000),
    );
    stored::retire_after(env, project, retire).await?;
    insert(env, masters, project, next, now).await?;
    public_keys(env, masters, project, now).await
}
