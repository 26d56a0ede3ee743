//! Per-device cancel: an operator leaves one device out of a plan (or of every plan that reaches
//! it) until it is uncancelled. The plan records it (`Plan::cancelled`, read by every check with
//! the plan, so it costs the device path nothing): a Luat device hears code 61, a JSON device's
//! open job for it is cancelled and it gets no new one, and a download URL already handed to it
//! for that plan is refused (`images::refuse_cancelled`).

use super::{ok, project, read_capped, Call};
use crate::error::{AppError, AppResult};
use crate::store;
use fota_shared::api::ota::{CancelResult, CancelSpec};
use fota_shared::model::event::EventType;
use fota_shared::model::plan::{Plan, MAX_CANCELLED};
use fota_shared::rules::plan::in_device_set;
use worker::Response;

/// `POST .../devices/{id}/cancel` (`cancel`) and `.../uncancel`.
pub async fn cancel(call: &mut Call<'_>, cancel: bool) -> AppResult<Response> {
    let (key, id) = (call.param(0).to_string(), call.param(1).to_string());
    project(call.env, &key).await?;
    let body = read_capped(&mut call.req, super::MAX_JSON_BYTES).await?;
    let spec: CancelSpec = if body.iter().all(u8::is_ascii_whitespace) {
        CancelSpec::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| AppError::bad("invalid_json", e.to_string()))?
    };
    store::device(call.env, &key, &id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("device {id}")))?;
    let plans = plans_for(call.env, &key, &id, spec.firmware_name.as_deref()).await?;
    let mut changed = Vec::new();
    for mut plan in plans {
        if !mark(&mut plan, &id, cancel)? {
            continue;
        }
        store::put_plan(call.env, &plan).await?;
        if cancel {
            // An offered job goes back to idle: it cannot time out into a failure of the rollout.
            crate::rollout::cancel(call.env, &crate::rollout::Rollout::of(&plan)?, &id).await?;
        }
        changed.push(plan.firmware_name.clone());
    }
    let mut statements = Vec::new();
    if cancel {
        let job = store::jobs::load(call.env, &id).await?;
        if job.is_some_and(|j| changed.contains(&j.firmware_name)) {
            statements.push(store::jobs::clear_stmt(call.env, &id)?);
        }
    }
    let result = CancelResult {
        device_id: id.clone(),
        cancelled: cancel,
        firmware_names: changed,
    };
    if !result.firmware_names.is_empty() {
        let (kind, what) = if cancel {
            ("cancelled", "left out of")
        } else {
            ("uncancelled", "let back into")
        };
        let detail = format!(
            "{what} {} by {}",
            result.firmware_names.join(", "),
            call.actor.name
        );
        statements.push(store::fleet::device_event_stmt(
            call.env, &key, &id, kind, &detail,
        )?);
        statements.push(call.audit_stmt(
            Some(&key),
            format!("device {id}"),
            None::<&()>,
            Some(&result),
        )?);
        store::batch(call.env, statements).await?;
        let event = if cancel {
            EventType::JobCancelled
        } else {
            EventType::JobUncancelled
        };
        let data = serde_json::json!({
            "device_id": id,
            "firmware_names": result.firmware_names,
            "actor": call.actor.name,
        });
        call.tell(&key, event, data);
    }
    ok(200, &result)
}

/// The plans a cancel is about: the one named, else every plan whose device set holds the device.
async fn plans_for(
    env: &worker::Env,
    key: &str,
    id: &str,
    firmware_name: Option<&str>,
) -> AppResult<Vec<Plan>> {
    match firmware_name {
        Some(fw) => {
            let plan = store::fresh_plan(env, key, fw)
                .await?
                .ok_or_else(|| AppError::NotFound(format!("plan {fw}")))?;
            Ok(vec![plan])
        }
        None => Ok(store::list_plans(env, key)
            .await?
            .into_iter()
            .filter(|p| in_device_set(&p.spec, id))
            .collect()),
    }
}

/// Adds the device to (or takes it from) the plan's cancelled list; whether that changed it.
fn mark(plan: &mut Plan, id: &str, cancel: bool) -> AppResult<bool> {
    let at = plan.cancelled.binary_search_by(|d| d.as_str().cmp(id));
    match (at, cancel) {
        (Err(i), true) => {
            if plan.cancelled.len() >= MAX_CANCELLED {
                return Err(AppError::conflict(
                    "too_many_cancelled",
                    format!(
                        "plan {} has {MAX_CANCELLED} devices cancelled: uncancel some first",
                        plan.firmware_name
                    ),
                ));
            }
            plan.cancelled.insert(i, id.to_string());
            Ok(true)
        }
        (Ok(i), false) => {
            plan.cancelled.remove(i);
            Ok(true)
        }
        _ => Ok(false),
    }
}
