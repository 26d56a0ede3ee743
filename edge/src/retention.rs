//! Retention, run by the scheduled handler: each table that grows with traffic loses what
//! `fota_shared::rules::retention` says it no longer keeps, at most `BATCH_ROWS` rows per family per
//! run (`SILENT_BATCH` devices, each with a KV delete). Families are purged one after the other
//! and each on its own: a failing family logs one line and the next one still runs. `replay` goes
//! first, since device authentication writes it.

use crate::error::{AppError, AppResult};
use crate::store::retention as sql;
use fota_shared::leaf::version::Version;
use fota_shared::model::rollout::RolloutPhase;
use fota_shared::rules::retention::{
    records_compacted, storage_deletable, Cutoffs, Policy, BATCH_ROWS, SILENT_BATCH, SILENT_SCAN,
};
use std::future::Future;
use worker::Env;

/// How many history events one run looks through for devices over `HISTORY_KEEP`.
const HISTORY_SCAN: u32 = 10_000;

/// One retention run at `now_ms`.
pub async fn run(env: &Env, now_ms: i64) {
    let var = |name: &str| env.var(name).ok().map(|v| v.to_string());
    let policy = Policy::from_vars(var).unwrap_or_else(|e| {
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
    family("rollout_devices", compact_rollouts(env, &cut)).await;
    family(
        "rollout coordinators' storage",
        purge_coordinators(env, &cut),
    )
    .await;
    family("devices that came once", forget_silent(env, &cut)).await;
    family(
        "seen_hours",
        sql::purge_seen_hours(env, cut.seen_hours_before_ms, BATCH_ROWS),
    )
    .await;
    family("fleet_counts", sql::purge_empty_counts(env, BATCH_ROWS)).await;
    // Planner statistics once an hour (the first run of each hour).
    if now_ms.rem_euclid(3_600_000) < 60_000 {
        family("planner statistics", async {
            sql::optimize(env).await.map(|()| 0)
        })
        .await;
    }
}

/// Finished rollouts' per-device records, past `ROLLOUT_RECORDS_DAYS` (their counts stay in
/// `rollouts.state`).
async fn compact_rollouts(env: &Env, cut: &Cutoffs) -> AppResult<u64> {
    let plans: Vec<String> = sql::ended_rollouts(env)
        .await?
        .into_iter()
        .filter(|r| {
            phase(&r.phase).is_some_and(|phase| records_compacted(phase, r.updated_at, cut))
        })
        .map(|r| r.plan_id)
        .collect();
    sql::purge_rollout_records(env, &plans, BATCH_ROWS).await
}

/// Finished rollouts' Durable Objects drop their storage once nothing can reach them again
/// (`rules::retention::storage_deletable`); D1's `rollouts` row keeps the counts. A few
/// rollouts per run, each shard called once.
async fn purge_coordinators(env: &Env, cut: &Cutoffs) -> AppResult<u64> {
    let mut purged = 0;
    for r in sql::unpurged_rollouts(env, PURGE_ROLLOUTS).await? {
        let Some(phase) = phase(&r.phase) else {
            continue;
        };
        let target = r.plan_id.rsplit_once('@').map_or("", |(_, v)| v);
        let still_targeted = crate::store::fresh_plan(env, &r.project_key, &r.firmware_name)
            .await?
            .and_then(|p| Version::parse(&p.spec.target_version).ok())
            .is_some_and(|t| Version::parse(target).is_ok_and(|v| v == t));
        if !storage_deletable(phase, r.updated_at, still_targeted, cut) {
            continue;
        }
        crate::rollout::purge(env, &r.plan_id, &r.project_key, &r.firmware_name, r.shards).await?;
        sql::mark_purged(env, &r.plan_id, r.updated_at).await?;
        purged += 1;
    }
    Ok(purged)
}

/// Finished rollouts whose coordinators one run may purge.
const PURGE_ROLLOUTS: u32 = 20;

fn phase(text: &str) -> Option<RolloutPhase> {
    [
        RolloutPhase::Completed,
        RolloutPhase::Cancelled,
        RolloutPhase::Failed,
    ]
    .into_iter()
    .find(|p| p.as_str() == text)
}

/// Ids that checked in once and never again, past `FORGET_SILENT_DAYS`, with KV's copy of their
/// binding and this location's card (a card elsewhere has long expired: cards live
/// `card::CARD_TTL_S`, far less than `FORGET_SILENT_DAYS`, and are refreshed only by checks).
async fn forget_silent(env: &Env, cut: &Cutoffs) -> AppResult<u64> {
    let gone =
        sql::purge_silent_devices(env, cut.silent_bound_before_ms, SILENT_SCAN, SILENT_BATCH)
            .await?;
    let ids: Vec<String> = gone.into_iter().map(|(_, id)| id).collect();
    for id in &ids {
        crate::cache::forget_owner(id);
        crate::registry::forget(id);
        crate::card::delete(id).await;
    }
    sql::forget_bindings(env, &ids).await?;
    Ok(ids.len() as u64)
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
