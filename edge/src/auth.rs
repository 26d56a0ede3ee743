//! Admin authentication: a bearer token compared in constant time with the `ADMIN_TOKEN` secret.
//! A missing or empty secret refuses everything; nothing here logs a token.

use crate::error::{AppError, AppResult};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use worker::{Env, Request};

pub fn require_admin(req: &Request, env: &Env) -> AppResult<()> {
    let expected = env.secret("ADMIN_TOKEN").map(|s| s.to_string()).unwrap_or_default();
    let presented = req
        .headers()
        .get("Authorization")
        .ok()
        .flatten()
        .and_then(|h| h.strip_prefix("Bearer ").map(|t| t.trim().to_string()))
        .unwrap_or_default();
    if expected.is_empty() || presented.is_empty() {
        return Err(AppError::Unauthorized);
    }
    // Comparing digests keeps the comparison constant-time even when the lengths differ.
    let a = Sha256::digest(expected.as_bytes());
    let b = Sha256::digest(presented.as_bytes());
    if bool::from(a.ct_eq(&b)) {
        Ok(())
    } else {
        Err(AppError::Unauthorized)
    }
}
