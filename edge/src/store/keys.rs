//! Notice signing keys (`signing_keys`): the public half of each project's keys, the master-key
//! version each was derived from, and when it retires. Nothing secret is stored here.

use super::{db, n, s, Metered as _};
use crate::error::AppResult;
use fota_shared::model::keys::SigningKey;
use serde::Deserialize;
use worker::Env;

#[derive(Deserialize)]
pub struct KeyRow {
    pub key_id: f64,
    pub master_version: f64,
    public_key_hex: String,
    created_ms: f64,
    retire_after_ms: Option<f64>,
}

impl KeyRow {
    pub fn public(&self) -> SigningKey {
        SigningKey {
            id: (self.key_id as i64).to_string(),
            public_key_hex: self.public_key_hex.clone(),
            created_ms: self.created_ms as i64,
            retire_after_ms: self.retire_after_ms.map(|r| r as i64),
        }
    }
}

/// A project's keys in id order.
pub async fn rows(env: &Env, project: &str) -> AppResult<Vec<KeyRow>> {
    Ok(db(env)?
        .prepare("SELECT key_id, master_version, public_key_hex, created_ms, retire_after_ms FROM signing_keys WHERE project_key = ?1 ORDER BY key_id")
        .bind(&[s(project)])?
        .counted_all()
        .await?
        .results()?)
}

/// Adds key `key_id` unless the project has it already.
pub async fn insert(
    env: &Env,
    project: &str,
    key_id: i64,
    master_version: u32,
    public_key_hex: &str,
    now: i64,
) -> AppResult<()> {
    db(env)?
        .prepare(
            "INSERT INTO signing_keys (project_key, key_id, master_version, public_key_hex, created_ms) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT DO NOTHING",
        )
        .bind(&[s(project), n(key_id), n(master_version as i64), s(public_key_hex), n(now)])?
        .counted_run()
        .await?;
    Ok(())
}

/// Sets `retire_after_ms` of every key of the project that would otherwise be trusted longer.
pub async fn retire_after(env: &Env, project: &str, retire_after_ms: i64) -> AppResult<()> {
    db(env)?
        .prepare("UPDATE signing_keys SET retire_after_ms = ?2 WHERE project_key = ?1 AND (retire_after_ms IS NULL OR retire_after_ms > ?2)")
        .bind(&[s(project), n(retire_after_ms)])?
        .counted_run()
        .await?;
    Ok(())
}
