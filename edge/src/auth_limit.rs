//! Failed admin authentications are rate limited per client address (`CF-Connecting-IP`, an
//! IPv6 address by its /64). Only failures are counted, by the `ADMIN_AUTH_FAILURES` Rate
//! Limiting binding (20 a minute, `wrangler.toml`); the failure that passes the limit locks the
//! address out for a minute in this isolate's memory, during which every admin request from it
//! is answered `429 auth_rate_limited` without its token being looked at, valid or not. A
//! binding cannot be read without counting, hence the lockout table: a valid operator's requests
//! are never counted, and an attacker gets at most one more guess per isolate per minute.

use crate::auth::{authenticate, Actor, ADMIN_TOKEN_TOO_SHORT};
use crate::error::{AppError, AppResult};
use fota_shared::rules::admin_auth::{client_key, Lockouts, FAILURES_PER_MINUTE, LOCKOUT_MS};
use std::cell::RefCell;
use worker::{Env, Request};

/// The Rate Limiting binding that counts failed admin authentications per client.
const LIMITER: &str = "ADMIN_AUTH_FAILURES";
/// The stable code of the refusal while a client is locked out.
pub const AUTH_RATE_LIMITED: &str = "auth_rate_limited";

thread_local! {
    static LOCKOUTS: RefCell<Lockouts> = RefCell::new(Lockouts::default());
}

/// [`authenticate`], refused outright for a locked-out client, with each failure counted.
pub async fn authenticate_limited(req: &Request, env: &Env) -> AppResult<Actor> {
    let key = client_key(
        req.headers()
            .get("CF-Connecting-IP")
            .ok()
            .flatten()
            .as_deref(),
    );
    if let Some(left) = LOCKOUTS.with_borrow(|l| l.remaining(&key, crate::store::now())) {
        return Err(rate_limited(left));
    }
    let outcome = authenticate(req, env).await;
    let failed = matches!(&outcome, Err(e) if is_failure(e));
    if failed && over_limit(env, &key).await {
        LOCKOUTS.with_borrow_mut(|l| l.lock(&key, crate::store::now()));
        crate::logs::once(AUTH_RATE_LIMITED, &format!("a client passed {FAILURES_PER_MINUTE} failed admin authentications in a minute; locked out for {} s", LOCKOUT_MS / 1000));
        return Err(rate_limited(LOCKOUT_MS));
    }
    outcome
}

/// A refused token, as opposed to storage failing while it was looked up (not the client's fault).
fn is_failure(e: &AppError) -> bool {
    matches!(e, AppError::Unauthorized) || e.code() == ADMIN_TOKEN_TOO_SHORT
}

/// Counts one failure for `key`; true once the minute's budget is spent. A missing or failing
/// binding counts nothing (logged): the request is refused anyway, only the limit is lost.
async fn over_limit(env: &Env, key: &str) -> bool {
    let outcome = match env.rate_limiter(LIMITER) {
        Ok(limiter) => limiter.limit(key.to_string()).await,
        Err(e) => Err(e),
    };
    match outcome {
        Ok(outcome) => !outcome.success,
        Err(e) => {
            crate::logs::once(
                "auth_limiter_failed",
                &format!("the {LIMITER} rate limiter failed: {e}"),
            );
            false
        }
    }
}

fn rate_limited(left_ms: i64) -> AppError {
    let seconds = (left_ms + 999) / 1000;
    AppError::Status {
        status: 429,
        code: AUTH_RATE_LIMITED,
        message: format!("too many failed authentications from this address; retry in {seconds} s"),
    }
}
