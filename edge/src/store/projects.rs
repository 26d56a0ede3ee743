//! Projects: the D1 record (`projects`) and the KV copy the hot path reads, behind the isolate cache.

use super::{db, kv, kv_json, kv_put_json, n, now, project_kv_key, s, Metered as _};
use crate::cache;
use crate::error::{AppError, AppResult};
use fota_shared::api::catalog::Project;
use fota_shared::leaf::time::rfc3339;
use fota_shared::model::project::DevicePolicy;
use serde::Deserialize;
use worker::wasm_bindgen::JsValue;
use worker::Env;

pub async fn project(env: &Env, key: &str) -> AppResult<Option<Project>> {
    let now = now();
    if let Some(hit) = cache::project(key, now, crate::owner::memory_ms(env)) {
        return Ok(hit);
    }
    let found: Option<Project> = kv_json(&kv(env)?, &project_kv_key(key)).await?;
    cache::put_project(key, now, found.clone());
    Ok(found)
}

#[derive(Deserialize)]
struct ProjectRow {
    key: String,
    name: String,
    ban_after: f64,
    device_policy: String,
    bindings_at: f64,
    daily_bytes_per_device: Option<f64>,
    created_at: f64,
    updated_at: f64,
}

const PROJECT_COLUMNS: &str =
    "key, name, ban_after, device_policy, bindings_at, daily_bytes_per_device, created_at, updated_at";

impl From<ProjectRow> for Project {
    fn from(r: ProjectRow) -> Self {
        Project {
            key: r.key,
            name: r.name,
            ban_after: r.ban_after as u32,
            device_policy: DevicePolicy::parse(&r.device_policy).unwrap_or_default(),
            bindings_at: r.bindings_at as i64,
            daily_bytes_per_device: r
                .daily_bytes_per_device
                .map(|b| b as u64)
                .filter(|b| *b > 0),
            created_at: rfc3339(r.created_at as i64),
            updated_at: rfc3339(r.updated_at as i64),
        }
    }
}

/// Creates or renames a project: D1 is the record, KV the copy the hot path reads.
pub async fn put_project(
    env: &Env,
    key: &str,
    name: &str,
    ban_after: Option<u32>,
    policy: Option<DevicePolicy>,
    daily_bytes_per_device: Option<u64>,
) -> AppResult<Project> {
    let now = now();
    let policy = policy.map_or(JsValue::NULL, |p| s(p.as_str()));
    // 0 removes the budget (stored as NULL); absent keeps it.
    let (budget_given, budget) = match daily_bytes_per_device {
        None => (n(0), JsValue::NULL),
        Some(0) => (n(1), JsValue::NULL),
        Some(b) => (n(1), n(b as i64)),
    };
    let row: Option<ProjectRow> = db(env)?
        .prepare(format!(
            "INSERT INTO projects (key, name, ban_after, device_policy, daily_bytes_per_device, created_at, updated_at)
             VALUES (?1, ?2, COALESCE(?3, 6), COALESCE(?5, 'open'), ?7, ?4, ?4)
             ON CONFLICT(key) DO UPDATE SET name = excluded.name, ban_after = COALESCE(?3, projects.ban_after),
               device_policy = COALESCE(?5, projects.device_policy),
               daily_bytes_per_device = CASE WHEN ?6 = 1 THEN ?7 ELSE projects.daily_bytes_per_device END,
               updated_at = ?4
             RETURNING {PROJECT_COLUMNS}"
        ))
        .bind(&[s(key), s(name), ban_after.map_or(JsValue::NULL, |b| n(b as i64)), n(now), policy, budget_given, budget])?
        .counted_first(None)
        .await?;
    publish(env, row).await
}

/// An operator changed bindings of the project's devices (provisioned, registered, forgot,
/// moved, de-provisioned): copies of bindings made before now are read again
/// ([`crate::owner`]).
pub async fn touch_bindings(env: &Env, key: &str) -> AppResult<()> {
    let row: Option<ProjectRow> = db(env)?
        .prepare(format!(
            "UPDATE projects SET bindings_at = MAX(bindings_at + 1, ?2) WHERE key = ?1 RETURNING {PROJECT_COLUMNS}"
        ))
        .bind(&[s(key), n(now())])?
        .counted_first(None)
        .await?;
    if row.is_some() {
        publish(env, row).await?;
    }
    Ok(())
}

/// Writes the project's KV copy (what checks read) and this isolate's memory of it.
async fn publish(env: &Env, row: Option<ProjectRow>) -> AppResult<Project> {
    let project: Project = row
        .ok_or_else(|| AppError::Unavailable("project upsert returned nothing".into()))?
        .into();
    kv_put_json(&kv(env)?, &project_kv_key(&project.key), &project).await?;
    cache::put_project(&project.key, now(), Some(project.clone()));
    Ok(project)
}

pub async fn list_projects(env: &Env) -> AppResult<Vec<Project>> {
    let rows: Vec<ProjectRow> = db(env)?
        .prepare(format!(
            "SELECT {PROJECT_COLUMNS} FROM projects ORDER BY key"
        ))
        .counted_all()
        .await?
        .results()?;
    Ok(rows.into_iter().map(Project::from).collect())
}
