//! `GET /admin/v1/projects/{key}/metrics`: the project in the Prometheus text format, for a
//! scraper polling every 15 s. It reads what the fleet summary reads (the maintained counts,
//! shared with the summary through this isolate's copy of up to 60 s: `crate::summary::counts`),
//! the project's plans from KV, and D1's copy of their rollouts (one row per plan, by key): never
//! the devices, and no call to a rollout's Durable Objects.

use super::{project, query, Call};
use crate::error::{AppError, AppResult};
use crate::rollout::Rollout;
use crate::store;
use fota_shared::api::metrics::{project_metrics, RolloutFacts};
use fota_shared::api::query::MetricsQuery;
use fota_shared::leaf::prometheus::CONTENT_TYPE;
use fota_shared::model::rollout::RolloutState;
use std::collections::HashMap;
use worker::Response;

pub async fn metrics(call: &mut Call<'_>) -> AppResult<Response> {
    let key = call.param(0).to_string();
    project(call.env, &key).await?;
    let MetricsQuery { silent_after } = query(call, MetricsQuery::from_pairs)?;
    let (counts, plans) = futures_util::future::join(
        crate::summary::counts(call.env, &key),
        store::list_plans(call.env, &key),
    )
    .await;
    let ((counted_at, agg), plans) = (counts?, plans?);
    // A plan whose stored target cannot be read has no rollout to show; the others still do.
    let rollouts: Vec<(&str, Rollout)> = plans
        .iter()
        .filter_map(|p| Some((p.spec.target_version.as_str(), Rollout::of(p).ok()?)))
        .collect();
    let ids: Vec<String> = rollouts.iter().map(|(_, r)| r.plan_id.clone()).collect();
    let mut states: HashMap<String, RolloutState> = HashMap::new();
    for (plan_id, json) in store::rollouts::states(call.env, &ids).await? {
        let state = serde_json::from_str(&json).map_err(|e| {
            AppError::Unavailable(format!("rollout {plan_id}: stored state unreadable: {e}"))
        })?;
        states.insert(plan_id, state);
    }
    // A plan written a moment ago may not have its rollout's row yet: it appears next scrape.
    let facts: Vec<RolloutFacts<'_>> = rollouts
        .iter()
        .filter_map(|(target, r)| {
            Some(RolloutFacts {
                firmware: &r.firmware_name,
                target,
                spec: &r.spec,
                state: states.get(&r.plan_id)?,
            })
        })
        .collect();
    let text = project_metrics(&agg, counted_at, silent_after, &facts);
    let mut resp = Response::ok(text)?;
    resp.headers_mut().set("Content-Type", CONTENT_TYPE)?;
    resp.headers_mut().set("Cache-Control", "no-store")?;
    Ok(resp)
}
