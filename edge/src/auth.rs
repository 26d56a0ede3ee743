//! Admin authentication: the bearer token is either the `ADMIN_TOKEN` secret (the bootstrap
//! admin, compared in constant time) or a token created through the API, found by the sha256 of
//! the secret (only hashes are stored). A missing or empty secret refuses the bootstrap path;
//! nothing here logs a token.

use crate::error::{AppError, AppResult};
use crate::store;
use fota_shared::api::routes::Role;
use fota_shared::rules::admin_auth::{BootstrapSecret, MIN_ADMIN_TOKEN_CHARS};
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
/// The stable code of the refusal while `ADMIN_TOKEN` is too short to be used.
pub const ADMIN_TOKEN_TOO_SHORT: &str = "admin_token_too_short";

/// What a request that no token authenticates is told: with a short `ADMIN_TOKEN`, that the
/// secret must be replaced (the operator's own token cannot work until then), else `401`.
fn refusal(bootstrap: BootstrapSecret) -> AppError {
    match bootstrap {
        BootstrapSecret::TooShort => AppError::Status {
            status: 503,
            code: ADMIN_TOKEN_TOO_SHORT,
            message: format!(
                "ADMIN_TOKEN is shorter than {MIN_ADMIN_TOKEN_CHARS} characters and is refused; set a longer secret (tokens created through the API still work)"
            ),
        },
        BootstrapSecret::Missing | BootstrapSecret::Usable => AppError::Unauthorized,
    }
}

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
    let expected = env
        .secret("ADMIN_TOKEN")
        .map(|s| s.to_string())
        .unwrap_or_default();
    let bootstrap = BootstrapSecret::classify(&expected);
    if bootstrap == BootstrapSecret::TooShort {
        crate::logs::once(ADMIN_TOKEN_TOO_SHORT, "ADMIN_TOKEN is shorter than 32 characters: the bootstrap token is refused until it is replaced");
    }
    if presented.is_empty() || presented.len() > 256 {
        return Err(refusal(bootstrap));
    }
    if bootstrap == BootstrapSecret::Usable {
        // Comparing digests keeps the comparison constant-time even when the lengths differ.
        let a = Sha256::digest(expected.as_bytes());
        let b = Sha256::digest(presented.as_bytes());
        if bool::from(a.ct_eq(&b)) {
            return Ok(Actor {
                name: BOOTSTRAP.into(),
                role: Role::Admin,
            });
        }
    }
    // Looking up by the hash reveals nothing through timing: the secret itself is never compared.
    let row = store::access::live_token(env, &token_hash(&presented)).await?;
    let row = row.ok_or_else(|| refusal(bootstrap))?;
    let role = Role::parse(&row.role).ok_or(AppError::Unauthorized)?;
    Ok(Actor {
        name: row.name,
        role,
    })
}
