//! Who may call the admin API and what they did: API tokens (created with a role, listed without
//! their secrets, revoked but never deleted), the append-only audit log read back with filters
//! and a cursor, and the OpenAPI document of the whole API.
//!
//! A token's secret exists in memory only while its creation is answered: D1 keeps its sha256
//! (see `auth`), the audit log keeps its name and role, and nothing here logs either.

use super::{no_content, ok, query, read_json, Call};
use crate::auth::{token_hash, BOOTSTRAP};
use crate::error::{AppError, AppResult};
use crate::store::access::{self as stored, AuditFilter};
use fota_shared::api::access::{AuditPage, TokenCreated, TokenInfo, TokenList, TokenSpec};
use fota_shared::api::query::{AuditQuery, DEFAULT_AUDIT_LIMIT};
use fota_shared::leaf::time::rfc3339;
use worker::Response;

/// The OpenAPI 3.1 document of every route (`edge/openapi.json`, written by hand and tested
/// against the route table in `shared/tests/openapi.rs`). It is not compiled into the wasm (it was
/// 140 KB of it): `make build` copies it to the Worker's static assets (`[assets]` in
/// `wrangler.toml`, reachable only through this binding since the Worker runs first), and the
/// route reads it from there after the usual authentication.
const ASSETS: &str = "ASSETS";
const OPENAPI_ASSET: &str = "https://assets.invalid/openapi.json";

/// What every secret starts with, so that a leaked one is recognisable (and greppable) as ours.
const SECRET_PREFIX: &str = "fota_";
/// Random bytes in a secret: 256 bits, hex-encoded.
const SECRET_BYTES: usize = 32;
const MAX_TOKEN_NAME_LEN: usize = 64;

// ---------------------------------------------------------------- tokens

/// Token names go into the audit log and into URLs, so they are kept to a plain alphabet;
/// `bootstrap` (any case) is the `ADMIN_TOKEN`'s name and cannot be taken.
fn valid_token_name(name: &str) -> bool {
    (1..=MAX_TOKEN_NAME_LEN).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        && !name.eq_ignore_ascii_case(BOOTSTRAP)
}

/// Random bytes from the Workers runtime's CSPRNG (`crypto.getRandomValues`, through getrandom's
/// `wasm_js` backend). There is no fallback: without it no token is made.
pub(super) fn random_bytes(len: usize) -> AppResult<Vec<u8>> {
    let mut bytes = vec![0u8; len];
    getrandom::fill(&mut bytes)
        .map_err(|e| AppError::Unavailable(format!("no randomness: {e}")))?;
    Ok(bytes)
}

pub async fn list_tokens(call: &mut Call<'_>) -> AppResult<Response> {
    let tokens = stored::tokens(call.env).await?;
    ok(200, &TokenList { tokens })
}

pub async fn create_token(call: &mut Call<'_>) -> AppResult<Response> {
    let spec: TokenSpec = read_json(&mut call.req).await?;
    if !valid_token_name(&spec.name) {
        return Err(AppError::bad(
            "invalid_token_name",
            "token name must be 1-64 characters of A-Z a-z 0-9 . _ - and not \"bootstrap\"",
        ));
    }
    let secret = format!(
        "{SECRET_PREFIX}{}",
        hex::encode(random_bytes(SECRET_BYTES)?)
    );
    let now = crate::store::now();
    // Names stay unique forever, revoked or not, so that an audit entry's actor names one token.
    // The insert is the existence check, so two concurrent creations cannot both succeed.
    if !stored::insert_token(
        call.env,
        &spec.name,
        spec.role,
        &token_hash(&secret),
        now,
        &call.actor.name,
    )
    .await?
    {
        return Err(AppError::conflict(
            "token_exists",
            format!(
                "a token named {} exists (names are never reused)",
                spec.name
            ),
        ));
    }
    let info = TokenInfo {
        name: spec.name.clone(),
        role: spec.role,
        created_at: rfc3339(now),
        created_by: call.actor.name.clone(),
        revoked_at: None,
    };
    // The audit log gets the token's description, never its secret or hash.
    call.changed(
        None,
        format!("token {}", spec.name),
        None::<&TokenInfo>,
        Some(&info),
    );
    let mut resp = ok(
        201,
        &TokenCreated {
            name: spec.name,
            role: spec.role,
            token: secret,
            created_at: info.created_at,
        },
    )?;
    resp.headers_mut().set("Cache-Control", "no-store")?;
    Ok(resp)
}

/// Revoking keeps the row: the name stays taken and the audit log's actors stay explained.
/// Revoking a revoked token changes nothing and answers the same.
pub async fn revoke_token(call: &mut Call<'_>) -> AppResult<Response> {
    let name = call.param(0).to_string();
    let before = stored::token(call.env, &name)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("token {name}")))?;
    stored::revoke_token(call.env, &name, crate::store::now()).await?;
    let after = stored::token(call.env, &name)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("token {name}")))?;
    call.changed(None, format!("token {name}"), Some(&before), Some(&after));
    no_content()
}

// ---------------------------------------------------------------- audit log

/// `GET /audit`: newest first, one page at a time. There is deliberately no route that changes
/// an entry, and the table's triggers refuse updates and deletes from anywhere else.
pub async fn audit(call: &mut Call<'_>) -> AppResult<Response> {
    let q = query(call, AuditQuery::from_pairs)?;
    let q = AuditFilter {
        since: q.since_ms(),
        before_id: q.before_id(),
        limit: q.limit.unwrap_or(DEFAULT_AUDIT_LIMIT),
        project: q.project,
        actor: q.actor,
        action: q.action,
    };
    let (entries, more) = stored::audit_page(call.env, &q).await?;
    let next_cursor = if more {
        entries.last().map(|e| e.id.to_string())
    } else {
        None
    };
    ok(
        200,
        &AuditPage {
            entries,
            next_cursor,
        },
    )
}

// ---------------------------------------------------------------- the API's description

pub async fn openapi(call: &mut Call<'_>) -> AppResult<Response> {
    let mut asset = call.env.assets(ASSETS)?.fetch(OPENAPI_ASSET, None).await?;
    if asset.status_code() != 200 {
        return Err(AppError::Unavailable(format!(
            "static asset openapi.json answered {}: run `make build`",
            asset.status_code()
        )));
    }
    // The same answer as ever: the document's bytes, fixed length, `application/json` only.
    let mut resp = Response::from_bytes(asset.bytes().await?)?;
    resp.headers_mut().set("Content-Type", "application/json")?;
    Ok(resp)
}
