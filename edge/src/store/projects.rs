//! Projects: the D1 record (`projects`) and the KV copy the hot path reads, behind the isolate cache.

use super::{db, kv, kv_json, kv_put_json, n, now, project_kv_key, s, Metered as _};
use crate::cache;
use crate::error::{AppError, AppResult};
use fota_shared::api::catalog::Project;
use fota_shared::leaf::time::rfc3339;
use serde::Deserialize;
use worker::wasm_bindgen::JsValue;
use worker::Env;

pub async fn project(env: &Env, key: &str) -> AppResult<Option<Project>> {
    let now = now();
    if let Some(hit) = cache::project(key, now) {
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
    created_at: f64,
    updated_at: f64,
}

impl From<ProjectRow> for Project {
    fn from(r: ProjectRow) -> Self {
        Project {
            key: r.key,
            name: r.name,
            ban_after: r.ban_after as u32,
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
) -> AppResult<Project> {
    let now = now();
    let row: Option<ProjectRow> = db(env)?
        .prepare(
            "INSERT INTO projects (key, name, ban_after, created_at, updated_at) VALUES (?1, ?2, COALESCE(?3, 6), ?4, ?4)
             ON CONFLICT(key) DO UPDATE SET name = excluded.name, ban_after = COALESCE(?3, projects.ban_after), updated_at = ?4
             RETURNING key, name, ban_after, created_at, updated_at",
        )
        .bind(&[s(key), s(name), ban_after.map_or(JsValue::NULL, |b| n(b as i64)), n(now)])?
        .counted_first(None)
        .await?;
    let project: Project = row
        .ok_or_else(|| AppError::Unavailable("project upsert returned nothing".into()))?
        .into();
    kv_put_json(&kv(env)?, &project_kv_key(key), &project).await?;
    cache::put_project(key, now, Some(project.clone()));
    Ok(project)
}

pub async fn list_projects(env: &Env) -> AppResult<Vec<Project>> {
    let rows: Vec<ProjectRow> = db(env)?
        .prepare("SELECT key, name, ban_after, created_at, updated_at FROM projects ORDER BY key")
        .counted_all()
        .await?
        .results()?;
    Ok(rows.into_iter().map(Project::from).collect())
}
