//! Retention, run by the scheduled handler: each table that grows with traffic loses what
//! `fota_shared::rules::retention` says it no longer keeps, at most `BATCH_ROWS` rows per family per
//! run. Families are purged one after the other and each on its own: a failing family logs one
//! line and the next one still runs. `replay` goes first, since device authentication writes it.

use crate::error::{AppError, AppResult};
use crate::store::retention as sql;
use fota_shared::rules::retention::{Policy, BATCH_ROWS};
use std::future::Future;
use worker::Env;

/// How many history events one run looks through for devices over `HISTORY_KEEP`.
const HISTORY_SCAN: u32 = 10_000;

/// One retention run at `now_ms`.
pub async fn run(env: &Env, now_ms: i64) {
    let var = |name: &str| env.var(name).ok().map(|v| v.to_string());
    let policy = Policy::from_vars(
        var("HISTORY_KEEP").as_deref(),
        var("HISTORY_DAYS").as_deref(),
    )
    .unwrap_or_else(|e| {
        AppError::bad(
            "retention_policy",
            format!("retention: {e}; using the defaults"),
        )
        .log();
        Policy::default()
    });
    let cut = policy.cutoffs(now_ms);
    family(
        "replay",
        sql::purge_replay(env, cut.replay_before_ms, BATCH_ROWS),
    )
    .await;
    family(
        "device_events by age",
        sql::purge_history_by_age(env, cut.history_before_ms, BATCH_ROWS),
    )
    .await;
    family(
        "device_events over HISTORY_KEEP",
        sql::purge_history_over_cap(env, policy.history_keep, HISTORY_SCAN, BATCH_ROWS),
    )
    .await;
    family(
        "rollout_rate",
        sql::purge_rollout_rate(env, cut.rate_before_minute, BATCH_ROWS),
    )
    .await;
    family(
        "activity",
        sql::purge_activity(env, cut.activity_before_hour_ms, BATCH_ROWS),
    )
    .await;
}

/// Runs one family's purge; a failure is logged (one line per family per run, a minute apart)
/// and does not reach the other families.
async fn family(name: &str, purge: impl Future<Output = AppResult<u64>>) {
    if let Err(e) = purge.await {
        // D1's causes span lines (a JS stack): one line, bounded, says enough.
        let cause: String = format!("{e:?}")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .chars()
            .take(200)
            .collect();
        AppError::Unavailable(format!("retention: purging {name} failed: {cause}")).log();
    }
}
