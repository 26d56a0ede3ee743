//! The fleet registry: device list with filters and cursor pagination, one device, its history,
//! and lifting a loop-upgrade ban.

use super::{ok, project, query_params, Call};
use crate::error::{AppError, AppResult};
use crate::store::{self, DeviceFilter};
use fota_shared::api::fleet::{Device, DeviceList};
use fota_shared::leaf::ids::valid_device_id;
use worker::Response;

pub async fn list(call: &mut Call<'_>) -> AppResult<Response> {
    let key = call.param(0).to_string();
    project(call.env, &key).await?;
    let params = query_params(call)?;
    let limit = match params.get("limit") {
        None => 100,
        Some(l) => l
            .parse::<u32>()
            .ok()
            .filter(|l| (1..=1000).contains(l))
            .ok_or_else(|| AppError::bad("invalid_limit", "limit must be 1-1000"))?,
    };
    let banned = match params.get("banned").map(String::as_str) {
        None | Some("") => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(_) => return Err(AppError::bad("invalid_banned", "banned must be true or false")),
    };
    let nonempty = |k: &str| params.get(k).filter(|v| !v.is_empty()).cloned();
    let after = nonempty("cursor");
    if after.as_deref().is_some_and(|c| !valid_device_id(c)) {
        return Err(AppError::bad("invalid_cursor", "cursor is not one this API gave out"));
    }
    let state = nonempty("state");
    if state.as_deref().is_some_and(|s| !matches!(s, "idle" | "offered" | "succeeded" | "failed" | "banned")) {
        return Err(AppError::bad("invalid_state", "state must be idle, offered, succeeded, failed or banned"));
    }
    let seen_since = match nonempty("seen_since") {
        None => None,
        Some(t) => Some(
            fota_shared::leaf::time::parse_rfc3339(&t).ok_or_else(|| AppError::bad("invalid_seen_since", "seen_since must be an RFC 3339 time"))?,
        ),
    };
    let filter = DeviceFilter {
        after,
        q: nonempty("q"),
        version: nonempty("version"),
        firmware_name: nonempty("firmware_name"),
        banned,
        state,
        seen_since,
        limit,
    };
    settle(call.env, &key).await?;
    let (devices, more) = store::list_devices(call.env, &key, &filter).await?;
    let next_cursor = if more { devices.last().map(|d| d.id.clone()) } else { None };
    ok(200, &DeviceList { devices, next_cursor })
}

/// Admin reads see every check and offer made before them: this isolate's queued registry writes
/// and the project's rollout coordinators' pending copies are written first.
async fn settle(env: &worker::Env, key: &str) -> AppResult<()> {
    crate::registry::drain().await;
    for plan in store::list_plans(env, key).await? {
        crate::rollout::settle(env, &crate::rollout::Rollout::of(&plan)?).await?;
    }
    Ok(())
}

async fn device(call: &Call<'_>) -> AppResult<Device> {
    let id = call.param(1);
    settle(call.env, call.param(0)).await?;
    store::device(call.env, call.param(0), id).await?.ok_or_else(|| AppError::NotFound(format!("device {id}")))
}

pub async fn get(call: &mut Call<'_>) -> AppResult<Response> {
    ok(200, &device(call).await?)
}

pub async fn history(call: &mut Call<'_>) -> AppResult<Response> {
    device(call).await?;
    let events = store::device_events(call.env, call.param(0), call.param(1)).await?;
    ok(200, &fota_shared::api::fleet::DeviceHistory { events })
}

pub async fn activity(call: &mut Call<'_>) -> AppResult<Response> {
    let key = call.param(0).to_string();
    project(call.env, &key).await?;
    let hours = match query_params(call)?.remove("hours") {
        None => 24,
        Some(h) => h.parse::<u32>().ok().filter(|h| (1..=720).contains(h)).ok_or_else(|| AppError::bad("invalid_hours", "hours must be 1-720"))?,
    };
    let hours = store::activity(call.env, &key, hours, store::now()).await?;
    ok(200, &fota_shared::api::fleet::Activity { hours })
}

/// The whole project's fleet in numbers (see `crate::summary`).
pub async fn summary(call: &mut Call<'_>) -> AppResult<Response> {
    let key = call.param(0).to_string();
    project(call.env, &key).await?;
    ok(200, &crate::summary::get(call.env, &key).await?)
}

pub async fn unban(call: &mut Call<'_>) -> AppResult<Response> {
    let (key, id) = (call.param(0).to_string(), call.param(1).to_string());
    let before = device(call).await?;
    let after = store::unban(call.env, &key, &id).await?.ok_or_else(|| AppError::NotFound(format!("device {id}")))?;
    // The count lives with the rollout's coordinator: it starts again there too.
    if let Some(fw) = &after.firmware_name {
        if let Some(plan) = store::fresh_plan(call.env, &key, fw).await? {
            crate::rollout::unban(call.env, &crate::rollout::Rollout::of(&plan)?, &id).await?;
        }
    }
    crate::registry::forget(&id);
    store::device_event(call.env, &key, &id, "unban", &format!("by {}", call.actor.name)).await?;
    call.changed(Some(&key), format!("device {id}"), Some(&before), Some(&after));
    ok(200, &after)
}

/// The device's record in every rollout of the project goes first (see `store::devices::forget`).
async fn forget_in_rollouts(env: &worker::Env, key: &str, id: &str) -> AppResult<()> {
    for plan in store::list_plans(env, key).await? {
        let r = crate::rollout::Rollout::of(&plan)?;
        crate::rollout::forget(env, &r, id).await?;
        crate::rollout::settle(env, &r).await?;
    }
    Ok(())
}

/// `DELETE .../devices/{id}`: unbinds the device and drops its registry row and history (audited
/// with the record it had). Its next check binds it again as a new device.
pub async fn forget(call: &mut Call<'_>) -> AppResult<Response> {
    let (key, id) = (call.param(0).to_string(), call.param(1).to_string());
    let before = device(call).await?;
    forget_in_rollouts(call.env, &key, &id).await?;
    store::devices::forget(call.env, &key, &id).await?;
    call.changed(Some(&key), format!("forget device {id}"), Some(&before), None::<&()>);
    super::no_content()
}

/// `POST .../devices/{id}/move {"project": "other"}`: rebinds the device to another project,
/// with its history; its rollout records in this project go.
pub async fn move_device(call: &mut Call<'_>) -> AppResult<Response> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct MoveSpec {
        project: String,
    }
    let (key, id) = (call.param(0).to_string(), call.param(1).to_string());
    let spec: MoveSpec = super::read_json(&mut call.req).await?;
    if spec.project == key {
        return Err(AppError::bad("same_project", "the device is already in this project"));
    }
    project(call.env, &spec.project).await?;
    let before = device(call).await?;
    forget_in_rollouts(call.env, &key, &id).await?;
    let after = store::devices::move_to(call.env, &key, &spec.project, &id).await?.ok_or_else(|| AppError::NotFound(format!("device {id}")))?;
    store::device_event(call.env, &spec.project, &id, "moved", &format!("from {key} by {}", call.actor.name)).await?;
    call.changed(Some(&key), format!("move device {id} to {}", spec.project), Some(&before), Some(&after));
    ok(200, &after)
}
