//! Who may call the admin API and what they did: API tokens (`tokens`, only the sha256 of each
//! secret) and the append-only audit log (`audit`, whose triggers refuse UPDATE and DELETE).

use super::{db, n, now, s, Metered as _};
use crate::error::{AppError, AppResult};
use fota_shared::api::access::{AuditEntry, TokenInfo};
use fota_shared::api::routes::Role;
use fota_shared::leaf::time::rfc3339;
use serde::Deserialize;
use worker::wasm_bindgen::JsValue;
use worker::Env;

// ---------------------------------------------------------------- tokens

/// A token that is not revoked, as authentication finds it by its hash.
#[derive(Deserialize)]
pub struct LiveToken {
    pub name: String,
    pub role: String,
}

/// The unrevoked token whose secret has this sha256 (hex).
pub async fn live_token(env: &Env, hash: &str) -> AppResult<Option<LiveToken>> {
    Ok(db(env)?
        .prepare("SELECT name, role FROM tokens WHERE hash = ?1 AND revoked_at IS NULL")
        .bind(&[s(hash)])?
        .counted_first(None)
        .await?)
}

#[derive(Deserialize)]
struct TokenRow {
    name: String,
    role: String,
    created_at: f64,
    created_by: String,
    revoked_at: Option<f64>,
}

impl TokenRow {
    fn info(self) -> AppResult<TokenInfo> {
        // Only `insert_token` writes rows, with a valid role; anything else is a damaged table.
        let role = Role::parse(&self.role).ok_or_else(|| {
            AppError::Unavailable(format!(
                "token {} has unknown role {:?}",
                self.name, self.role
            ))
        })?;
        Ok(TokenInfo {
            name: self.name,
            role,
            created_at: rfc3339(self.created_at as i64),
            created_by: self.created_by,
            revoked_at: self.revoked_at.map(|t| rfc3339(t as i64)),
        })
    }
}

const TOKEN_COLUMNS: &str = "name, role, created_at, created_by, revoked_at";

pub async fn token(env: &Env, name: &str) -> AppResult<Option<TokenInfo>> {
    let row: Option<TokenRow> = db(env)?
        .prepare(format!(
            "SELECT {TOKEN_COLUMNS} FROM tokens WHERE name = ?1"
        ))
        .bind(&[s(name)])?
        .counted_first(None)
        .await?;
    row.map(TokenRow::info).transpose()
}

/// Every token, revoked or not, in name order.
pub async fn tokens(env: &Env) -> AppResult<Vec<TokenInfo>> {
    let rows: Vec<TokenRow> = db(env)?
        .prepare(format!("SELECT {TOKEN_COLUMNS} FROM tokens ORDER BY name"))
        .counted_all()
        .await?
        .results()?;
    rows.into_iter().map(TokenRow::info).collect()
}

/// Stores a new token by the sha256 of its secret. Returns false when the name is taken
/// (nothing written): the insert is the existence check.
pub async fn insert_token(
    env: &Env,
    name: &str,
    role: Role,
    hash: &str,
    created_at: i64,
    created_by: &str,
) -> AppResult<bool> {
    let result = db(env)?
        .prepare("INSERT INTO tokens (name, role, hash, created_at, created_by) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING")
        .bind(&[s(name), s(role.as_str()), s(hash), n(created_at), s(created_by)])?
        .counted_run()
        .await?;
    Ok(result.meta()?.and_then(|m| m.changes).unwrap_or(0) > 0)
}

/// Marks the token revoked at `at`, unless it already is; the row stays.
pub async fn revoke_token(env: &Env, name: &str, at: i64) -> AppResult<()> {
    db(env)?
        .prepare("UPDATE tokens SET revoked_at = ?2 WHERE name = ?1 AND revoked_at IS NULL")
        .bind(&[s(name), n(at)])?
        .counted_run()
        .await?;
    Ok(())
}

// ---------------------------------------------------------------- audit log

/// One entry to append; `before` and `after` are JSON text.
pub struct NewAuditEntry<'a> {
    pub actor: &'a str,
    /// The route, e.g. `PUT projects/{key}`.
    pub action: String,
    pub project_key: Option<&'a str>,
    pub target: &'a str,
    pub before: Option<String>,
    pub after: Option<String>,
}

/// Appends an entry, stamped now.
pub async fn append_audit(env: &Env, entry: NewAuditEntry<'_>) -> AppResult<()> {
    audit_stmt(env, entry)?.counted_run().await?;
    Ok(())
}

/// The statement that appends an entry, stamped now: batched with the statements of a write
/// made in D1, the write and its audit entry commit together or not at all.
pub fn audit_stmt(env: &Env, entry: NewAuditEntry<'_>) -> AppResult<worker::D1PreparedStatement> {
    Ok(db(env)?
        .prepare("INSERT INTO audit (at, actor, action, project_key, target, before, after) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")
        .bind(&[
            n(now()),
            s(entry.actor),
            s(&entry.action),
            entry.project_key.map_or(JsValue::NULL, s),
            s(entry.target),
            entry.before.as_deref().map_or(JsValue::NULL, s),
            entry.after.as_deref().map_or(JsValue::NULL, s),
        ])?)
}

/// The filters of an audit log read, validated by the caller.
#[derive(Debug, Default, PartialEq)]
pub struct AuditFilter {
    pub project: Option<String>,
    pub actor: Option<String>,
    /// Exact, e.g. `PUT projects/{key}`.
    pub action: Option<String>,
    /// Entries at or after this time (ms).
    pub since: Option<i64>,
    /// Entries with a smaller id: the `next_cursor` of the previous page.
    pub before_id: Option<i64>,
    pub limit: u32,
}

#[derive(Deserialize)]
struct AuditRow {
    id: f64,
    at: f64,
    actor: String,
    action: String,
    project_key: Option<String>,
    target: String,
    before: Option<String>,
    after: Option<String>,
}

/// A stored `before`/`after` back to the JSON it was written from (kept as a string if it is not).
fn stored_json(text: Option<String>) -> Option<serde_json::Value> {
    text.map(|t| serde_json::from_str(&t).unwrap_or(serde_json::Value::String(t)))
}

impl From<AuditRow> for AuditEntry {
    fn from(r: AuditRow) -> Self {
        AuditEntry {
            id: r.id as u64,
            at: rfc3339(r.at as i64),
            actor: r.actor,
            action: r.action,
            project_key: r.project_key,
            target: r.target,
            before: stored_json(r.before),
            after: stored_json(r.after),
        }
    }
}

/// One page of the audit log, newest first, and whether more follow.
pub async fn audit_page(env: &Env, q: &AuditFilter) -> AppResult<(Vec<AuditEntry>, bool)> {
    let mut sql = String::from(
        "SELECT id, at, actor, action, project_key, target, before, after FROM audit WHERE 1 = 1",
    );
    let mut args: Vec<JsValue> = Vec::new();
    let mut push = |clause: &str, value: JsValue, sql: &mut String| {
        args.push(value);
        sql.push_str(&clause.replace('?', &format!("?{}", args.len())));
    };
    if let Some(p) = &q.project {
        push(" AND project_key = ?", s(p), &mut sql);
    }
    if let Some(a) = &q.actor {
        push(" AND actor = ?", s(a), &mut sql);
    }
    if let Some(a) = &q.action {
        push(" AND action = ?", s(a), &mut sql);
    }
    if let Some(t) = q.since {
        push(" AND at >= ?", n(t), &mut sql);
    }
    if let Some(id) = q.before_id {
        push(" AND id < ?", n(id), &mut sql);
    }
    push(" ORDER BY id DESC LIMIT ?", n(q.limit as i64 + 1), &mut sql);
    let mut rows: Vec<AuditRow> = db(env)?
        .prepare(sql)
        .bind(&args)?
        .counted_all()
        .await?
        .results()?;
    let more = rows.len() > q.limit as usize;
    rows.truncate(q.limit as usize);
    Ok((rows.into_iter().map(AuditEntry::from).collect(), more))
}
