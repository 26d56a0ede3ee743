//! Admin authentication: the bearer token is either the `ADMIN_TOKEN` secret (the bootstrap
//! admin, compared in constant time) or a token created through the API, found by the sha256 of
//! the secret (only hashes are stored). A missing or empty secret refuses the bootstrap path;
//! nothing here logs a token.

use crate::error::{AppError, AppResult};
use crate::store;
use fota_shared::routes::Role;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use worker::{Env, Request};

/// Who is calling, for role checks and the audit log.
#[derive(Debug, Clone)]
pub struct Actor {
    pub name: String,
    pub role: Role,
}

/// The name the bootstrap token acts under in the audit log.
pub const BOOTSTRAP: &str = "bootstrap";

pub fn token_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

pub async fn authenticate(req: &Request, env: &Env) -> AppResult<Actor> {
    let presented = req
        .headers()
        .get("Authorization")
        .ok()
        .flatten()
        .and_then(|h| h.strip_prefix("Bearer ").map(|t| t.trim().to_string()))
        .unwrap_or_default();
    if presented.is_empty() || presented.len() > 256 {
        return Err(AppError::Unauthorized);
    }
    let expected = env.secret("ADMIN_TOKEN").map(|s| s.to_string()).unwrap_or_default();
    if !expected.is_empty() {
        // Comparing digests keeps the comparison constant-time even when the lengths differ.
        let a = Sha256::digest(expected.as_bytes());
        let b = Sha256::digest(presented.as_bytes());
        if bool::from(a.ct_eq(&b)) {
            return Ok(Actor { name: BOOTSTRAP.into(), role: Role::Admin });
        }
    }
    // Looking up by the hash reveals nothing through timing: the secret itself is never compared.
    let row = store::access::live_token(env, &token_hash(&presented)).await?;
    let row = row.ok_or(AppError::Unauthorized)?;
    let role = Role::parse(&row.role).ok_or(AppError::Unauthorized)?;
    Ok(Actor { name: row.name, role })
}
