//! Who may call the admin API and what they did: API tokens (created with a role, listed without
//! their secrets, revoked but never deleted), the append-only audit log read back with filters
//! and a cursor, and the OpenAPI document of the whole API.
//!
//! A token's secret exists in memory only while its creation is answered: D1 keeps its sha256
//! (see `auth`), the audit log keeps its name and role, and nothing here logs either.

use super::{no_content, ok, read_json, Call};
use crate::auth::{token_hash, BOOTSTRAP};
use crate::error::{AppError, AppResult};
use crate::store::{db, n, s};
use fota_shared::api::{AuditEntry, AuditPage, TokenCreated, TokenInfo, TokenList, TokenSpec};
use fota_shared::routes::Role;
use fota_shared::time::{parse_rfc3339, rfc3339};
use serde::Deserialize;
use worker::wasm_bindgen::JsValue;
use worker::Response;

/// The OpenAPI 3.1 document of every route, written by hand and tested against the route table
/// (`shared/tests/openapi.rs`).
const OPENAPI: &str = include_str!("../../openapi.json");

/// What every secret starts with, so that a leaked one is recognisable (and greppable) as ours.
const SECRET_PREFIX: &str = "fota_";
/// Random bytes in a secret: 256 bits, hex-encoded.
const SECRET_BYTES: u32 = 32;
const MAX_TOKEN_NAME_LEN: usize = 64;
const DEFAULT_AUDIT_LIMIT: u32 = 100;
const MAX_AUDIT_LIMIT: u32 = 500;
/// Longest `project`, `actor` or `action` filter; nothing stored is longer.
const MAX_FILTER_LEN: usize = 256;

// ---------------------------------------------------------------- tokens

/// Token names go into the audit log and into URLs, so they are kept to a plain alphabet;
/// `bootstrap` (any case) is the `ADMIN_TOKEN`'s name and cannot be taken.
fn valid_token_name(name: &str) -> bool {
    (1..=MAX_TOKEN_NAME_LEN).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        && !name.eq_ignore_ascii_case(BOOTSTRAP)
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
        // Only `create_token` writes rows, with a valid role; anything else is a damaged table.
        let role = Role::parse(&self.role).ok_or_else(|| AppError::Unavailable(format!("token {} has unknown role {:?}", self.name, self.role)))?;
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

async fn token(call: &Call<'_>, name: &str) -> AppResult<Option<TokenInfo>> {
    let row: Option<TokenRow> = db(call.env)?
        .prepare(format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE name = ?1"))
        .bind(&[s(name)])?
        .first(None)
        .await?;
    row.map(TokenRow::info).transpose()
}

/// `crypto.getRandomValues` of the Workers runtime (Web Crypto, a CSPRNG). There is no fallback:
/// without it no token is made.
fn random_bytes(len: u32) -> AppResult<Vec<u8>> {
    use worker::js_sys::{global, Function, Reflect, Uint8Array};
    use worker::wasm_bindgen::JsCast;
    let unavailable = |_: JsValue| AppError::Unavailable("crypto.getRandomValues is unavailable".into());
    let crypto = Reflect::get(&global(), &JsValue::from_str("crypto")).map_err(unavailable)?;
    let fill = Reflect::get(&crypto, &JsValue::from_str("getRandomValues"))
        .map_err(unavailable)?
        .dyn_into::<Function>()
        .map_err(unavailable)?;
    let buf = Uint8Array::new_with_length(len);
    fill.call1(&crypto, &buf).map_err(unavailable)?;
    let bytes = buf.to_vec();
    // All zeros means the buffer was never filled: refuse rather than hand out a guessable secret.
    if bytes.iter().all(|&b| b == 0) {
        return Err(AppError::Unavailable("crypto.getRandomValues returned zeros".into()));
    }
    Ok(bytes)
}

pub async fn list_tokens(call: &mut Call<'_>) -> AppResult<Response> {
    let rows: Vec<TokenRow> = db(call.env)?.prepare(format!("SELECT {TOKEN_COLUMNS} FROM tokens ORDER BY name")).all().await?.results()?;
    let tokens = rows.into_iter().map(TokenRow::info).collect::<AppResult<Vec<_>>>()?;
    ok(200, &TokenList { tokens })
}

pub async fn create_token(call: &mut Call<'_>) -> AppResult<Response> {
    let spec: TokenSpec = read_json(&mut call.req).await?;
    if !valid_token_name(&spec.name) {
        return Err(AppError::bad("invalid_token_name", "token name must be 1-64 characters of A-Z a-z 0-9 . _ - and not \"bootstrap\""));
    }
    let secret = format!("{SECRET_PREFIX}{}", hex::encode(random_bytes(SECRET_BYTES)?));
    let now = crate::store::now();
    // Names stay unique forever, revoked or not, so that an audit entry's actor names one token.
    // The insert is the existence check, so two concurrent creations cannot both succeed.
    let result = db(call.env)?
        .prepare("INSERT INTO tokens (name, role, hash, created_at, created_by) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING")
        .bind(&[s(&spec.name), s(spec.role.as_str()), s(&token_hash(&secret)), n(now), s(&call.actor.name)])?
        .run()
        .await?;
    if result.meta()?.and_then(|m| m.changes).unwrap_or(0) == 0 {
        return Err(AppError::conflict("token_exists", format!("a token named {} exists (names are never reused)", spec.name)));
    }
    let info = TokenInfo {
        name: spec.name.clone(),
        role: spec.role,
        created_at: rfc3339(now),
        created_by: call.actor.name.clone(),
        revoked_at: None,
    };
    // The audit log gets the token's description, never its secret or hash.
    call.changed(None, format!("token {}", spec.name), None::<&TokenInfo>, Some(&info));
    let mut resp = ok(201, &TokenCreated { name: spec.name, role: spec.role, token: secret, created_at: info.created_at })?;
    resp.headers_mut().set("Cache-Control", "no-store")?;
    Ok(resp)
}

/// Revoking keeps the row: the name stays taken and the audit log's actors stay explained.
/// Revoking a revoked token changes nothing and answers the same.
pub async fn revoke_token(call: &mut Call<'_>) -> AppResult<Response> {
    let name = call.param(0).to_string();
    let before = token(call, &name).await?.ok_or_else(|| AppError::NotFound(format!("token {name}")))?;
    db(call.env)?
        .prepare("UPDATE tokens SET revoked_at = ?2 WHERE name = ?1 AND revoked_at IS NULL")
        .bind(&[s(&name), n(crate::store::now())])?
        .run()
        .await?;
    let after = token(call, &name).await?.ok_or_else(|| AppError::NotFound(format!("token {name}")))?;
    call.changed(None, format!("token {name}"), Some(&before), Some(&after));
    no_content()
}

// ---------------------------------------------------------------- audit log

/// The filters of `GET /audit`, validated.
#[derive(Debug, Default, PartialEq)]
struct AuditQuery {
    project: Option<String>,
    actor: Option<String>,
    /// Exact, e.g. `PUT projects/{key}`.
    action: Option<String>,
    /// Entries at or after this time (ms).
    since: Option<i64>,
    /// Entries with a smaller id: the `next_cursor` of the previous page.
    before_id: Option<i64>,
    limit: u32,
}

impl AuditQuery {
    fn parse(pairs: impl IntoIterator<Item = (String, String)>) -> AppResult<AuditQuery> {
        let mut q = AuditQuery { limit: DEFAULT_AUDIT_LIMIT, ..AuditQuery::default() };
        for (key, value) in pairs {
            // An empty parameter is the same as an absent one, as a filter box left empty sends.
            if value.is_empty() {
                continue;
            }
            let text = |code: &'static str| {
                if value.len() > MAX_FILTER_LEN {
                    Err(AppError::bad(code, format!("{key} is longer than {MAX_FILTER_LEN} bytes")))
                } else {
                    Ok(Some(value.clone()))
                }
            };
            match key.as_str() {
                "project" => q.project = text("invalid_project")?,
                "actor" => q.actor = text("invalid_actor")?,
                "action" => q.action = text("invalid_action")?,
                "since" => q.since = Some(parse_rfc3339(&value).ok_or_else(|| AppError::bad("invalid_since", "since must be an RFC 3339 time"))?),
                "cursor" => {
                    let id = value.parse::<i64>().ok().filter(|&id| id > 0);
                    q.before_id = Some(id.ok_or_else(|| AppError::bad("invalid_cursor", "cursor is not one this API gave out"))?);
                }
                "limit" => {
                    q.limit = value
                        .parse::<u32>()
                        .ok()
                        .filter(|l| (1..=MAX_AUDIT_LIMIT).contains(l))
                        .ok_or_else(|| AppError::bad("invalid_limit", format!("limit must be 1-{MAX_AUDIT_LIMIT}")))?;
                }
                // Unknown parameters are ignored, as on every other list.
                _ => {}
            }
        }
        Ok(q)
    }
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

/// `GET /audit`: newest first, one page at a time. There is deliberately no route that changes
/// an entry, and the table's triggers refuse updates and deletes from anywhere else.
pub async fn audit(call: &mut Call<'_>) -> AppResult<Response> {
    let url = call.req.url()?;
    let q = AuditQuery::parse(url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())))?;
    let mut sql = String::from("SELECT id, at, actor, action, project_key, target, before, after FROM audit WHERE 1 = 1");
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
    let mut rows: Vec<AuditRow> = db(call.env)?.prepare(sql).bind(&args)?.all().await?.results()?;
    let more = rows.len() > q.limit as usize;
    rows.truncate(q.limit as usize);
    let entries: Vec<AuditEntry> = rows.into_iter().map(AuditEntry::from).collect();
    let next_cursor = if more { entries.last().map(|e| e.id.to_string()) } else { None };
    ok(200, &AuditPage { entries, next_cursor })
}

// ---------------------------------------------------------------- the API's description

pub async fn openapi(_call: &mut Call<'_>) -> AppResult<Response> {
    let mut resp = Response::from_bytes(OPENAPI.as_bytes().to_vec())?;
    resp.headers_mut().set("Content-Type", "application/json")?;
    Ok(resp)
}
