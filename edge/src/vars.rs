//! The Worker's vars (`wrangler.toml` `[vars]`, `--var`) read as the edge reads them: a
//! positive whole number, or a flag that is on only when it says `true`.

use worker::Env;

/// A positive whole-number var (`SEEN_GRANULARITY_S`, `WEBHOOK_BACKOFF_MS`, ...); `None` when
/// it is absent, not a number, or not above zero.
pub fn positive(env: &Env, name: &str) -> Option<i64> {
    env.var(name)
        .ok()
        .and_then(|v| v.to_string().trim().parse::<i64>().ok())
        .filter(|n| *n > 0)
}

/// A flag var (`PUBLIC_IMAGES`, `ALLOW_PRIVATE_WEBHOOKS`): on only when it says `true`.
pub fn is_true(env: &Env, name: &str) -> bool {
    env.var(name).is_ok_and(|v| v.to_string().trim() == "true")
}
