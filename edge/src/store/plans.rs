//! Plans, stored in KV only (one JSON value per project and firmware), behind the isolate cache.

use super::{kv, kv_json, kv_put_json, now, plan_kv_key, plan_kv_prefix};
use crate::cache;
use crate::error::AppResult;
use fota_shared::model::plan::Plan;
use worker::Env;

pub async fn plan(env: &Env, project: &str, firmware: &str) -> AppResult<Option<Plan>> {
    let now = now();
    if let Some(hit) = cache::plan(project, firmware, now) {
        return Ok(hit);
    }
    let found: Option<Plan> = kv_json(&kv(env)?, &plan_kv_key(project, firmware)).await?;
    cache::put_plan(project, firmware, now, found.clone());
    Ok(found)
}

/// A plan read from KV, past the isolate cache (admin reads must see the latest write).
pub async fn fresh_plan(env: &Env, project: &str, firmware: &str) -> AppResult<Option<Plan>> {
    let found: Option<Plan> = kv_json(&kv(env)?, &plan_kv_key(project, firmware)).await?;
    cache::put_plan(project, firmware, now(), found.clone());
    Ok(found)
}

pub async fn put_plan(env: &Env, plan: &Plan) -> AppResult<()> {
    kv_put_json(
        &kv(env)?,
        &plan_kv_key(&plan.project_key, &plan.firmware_name),
        plan,
    )
    .await?;
    cache::put_plan(
        &plan.project_key,
        &plan.firmware_name,
        now(),
        Some(plan.clone()),
    );
    Ok(())
}

pub async fn delete_plan(env: &Env, project: &str, firmware: &str) -> AppResult<()> {
    crate::metrics::kv(crate::metrics::Kv::Delete);
    kv(env)?.delete(&plan_kv_key(project, firmware)).await?;
    cache::put_plan(project, firmware, now(), None);
    Ok(())
}

/// Every plan of a project, read from KV (always fresh: admin reads bypass the isolate cache).
pub async fn list_plans(env: &Env, project: &str) -> AppResult<Vec<Plan>> {
    let store = kv(env)?;
    let mut plans = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut list = store.list().prefix(plan_kv_prefix(project));
        if let Some(c) = cursor.take() {
            list = list.cursor(c);
        }
        crate::metrics::kv(crate::metrics::Kv::List);
        let page = list.execute().await?;
        for key in &page.keys {
            if let Some(plan) = kv_json::<Plan>(&store, &key.name).await? {
                plans.push(plan);
            }
        }
        match page.cursor {
            Some(c) if !page.list_complete => cursor = Some(c),
            _ => break,
        }
    }
    plans.sort_by(|a, b| a.firmware_name.cmp(&b.firmware_name));
    Ok(plans)
}
