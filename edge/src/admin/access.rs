//! Who may call the admin API and what they did: API tokens (created with a role, listed without
//! their secrets, revoked but never deleted), the append-only audit log read back with filters
//! and a cursor, and the OpenAPI document of the whole API.
//!
//! A token's secret exists in memory only while its creation is answered: D1 keeps its sha256
//! (see `auth`), the audit log keeps its name and role, and nothing here logs either.

use super::{no_content, ok, read_json, Call};
use crate::auth::{token_hash, BOOTSTRAP};
use crate::error::{AppError, AppResult};
use crate::store::access::{self as stored, AuditFilter};
use fota_shared::api::{AuditPage, TokenCreated, TokenInfo, TokenList, TokenSpec};
use fota_shared::time::{parse_rfc3339, rfc3339};
use worker::wasm_bindgen::JsValue;
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
    let tokens = stored::tokens(call.env).await?;
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
    if !stored::insert_token(call.env, &spec.name, spec.role, &token_hash(&secret), now, &call.actor.name).await? {
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
    let before = stored::token(call.env, &name).await?.ok_or_else(|| AppError::NotFound(format!("token {name}")))?;
    stored::revoke_token(call.env, &name, crate::store::now()).await?;
    let after = stored::token(call.env, &name).await?.ok_or_else(|| AppError::NotFound(format!("token {name}")))?;
    call.changed(None, format!("token {name}"), Some(&before), Some(&after));
    no_content()
}

// ---------------------------------------------------------------- audit log

/// The filters of `GET /audit`, validated.
fn audit_filter(pairs: impl IntoIterator<Item = (String, String)>) -> AppResult<AuditFilter> {
    let mut q = AuditFilter { limit: DEFAULT_AUDIT_LIMIT, ..AuditFilter::default() };
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

/// `GET /audit`: newest first, one page at a time. There is deliberately no route that changes
/// an entry, and the table's triggers refuse updates and deletes from anywhere else.
pub async fn audit(call: &mut Call<'_>) -> AppResult<Response> {
    let url = call.req.url()?;
    let q = audit_filter(url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())))?;
    let (entries, more) = stored::audit_page(call.env, &q).await?;
    let next_cursor = if more { entries.last().map(|e| e.id.to_string()) } else { None };
    ok(200, &AuditPage { entries, next_cursor })
}

// ---------------------------------------------------------------- the API's description

pub async fn openapi(call: &mut Call<'_>) -> AppResult<Response> {
    let mut asset = call.env.assets(ASSETS)?.fetch(OPENAPI_ASSET, None).await?;
    if asset.status_code() != 200 {
        return Err(AppError::Unavailable(format!("static asset openapi.json answered {}: run `make build`", asset.status_code())));
    }
    // The same answer as ever: the document's bytes, fixed length, `application/json` only.
    let mut resp = Response::from_bytes(asset.bytes().await?)?;
    resp.headers_mut().set("Content-Type", "application/json")?;
    Ok(resp)
}
