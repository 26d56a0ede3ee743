//! The fleet registry: device list with filters and cursor pagination, one device, its history,
//! and lifting a loop-upgrade ban.

use super::{ok, project, query, Call};
use crate::error::{AppError, AppResult};
use crate::store::{self, DeviceFilter};
use fota_shared::api::fleet::{Device, DeviceList};
use fota_shared::api::query::{ActivityQuery, DeviceQuery, DEFAULT_DEVICE_LIMIT};
use worker::Response;

pub async fn list(call: &mut Call<'_>) -> AppResult<Response> {
    let key = call.param(0).to_string();
    project(call.env, &key).await?;
    let q = query(call, DeviceQuery::from_pairs)?;
    let filter = DeviceFilter {
        after: q.cursor.clone(),
        seen_since: q.seen_since_ms(),
        state: q.state.map(|s| s.as_str().to_string()),
        q: q.q,
        version: q.version,
        firmware_name: q.firmware_name,
        banned: q.banned,
        over_budget_since: q
            .over_budget
            .map(|_| fota_shared::rules::budget::day_of(store::now()) * 86_400_000),
        limit: q.limit.unwrap_or(DEFAULT_DEVICE_LIMIT),
    };
    settle(call.env, &key).await?;
    let (devices, more) = store::list_devices(call.env, &key, &filter).await?;
    let next_cursor = if more {
        devices.last().map(|d| d.id.clone())
    } else {
        None
    };
    ok(
        200,
        &DeviceList {
            devices,
            next_cursor,
        },
    )
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
    store::device(call.env, call.param(0), id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("device {id}")))
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
    let ActivityQuery { hours } = query(call, ActivityQuery::from_pairs)?;
    let hours = store::activity(call.env, &key, hours, store::now()).await?;
    ok(200, &fota_shared::api::fleet::Activity { hours })
}

/// The whole project's fleet in numbers (see `crate::summary`).
pub async fn summary(call: &mut Call<'_>) -> AppResult<Response> {
    let key = call.param(0).to_string();
    project(call.env, &key).await?;
    ok(200, &crate::summary::get(call.env, &key).await?)
}

/// `POST .../devices/{id}/unban`: lifts the device's loop-upgrade ban in the registry and in
/// every rollout of the project. Bans live with each plan's rollout, and the registry's
/// `firmware_name` (which any check rewrites) does not say which plans banned it, so every plan
/// is told (a rollout that does not know the device does nothing). The registry row, its history
/// entry and the audit entry are one D1 batch, made first: if it fails nothing changed; a
/// rollout that cannot be reached after it fails the call, and the unban is simply made again.
pub async fn unban(call: &mut Call<'_>) -> AppResult<Response> {
    let (key, id) = (call.param(0).to_string(), call.param(1).to_string());
    let before = device(call).await?;
    let after = Device {
        banned: false,
        deliveries: 0,
        ..before.clone()
    };
    let mut statements = store::fleet::unban_stmts(call.env, &key, &id, &call.actor.name)?;
    statements.push(call.audit_stmt(
        Some(&key),
        format!("device {id}"),
        Some(&before),
        Some(&after),
    )?);
    store::batch(call.env, statements).await?;
    // The count lives with each rollout's coordinator: it starts again there too.
    for plan in store::list_plans(call.env, &key).await? {
        crate::rollout::unban(call.env, &crate::rollout::Rollout::of(&plan)?, &id).await?;
    }
    crate::registry::forget(&id);
    let data = serde_json::json!({ "device_id": id, "actor": call.actor.name });
    call.tell(
        &key,
        fota_shared::model::event::EventType::DeviceUnbanned,
        data,
    );
    ok(200, &after)
}

/// The device's record in every rollout of the project goes first (see `store::fleet::forget`).
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
    let audit = call.audit_stmt(
        Some(&key),
        format!("forget device {id}"),
        Some(&before),
        None::<&()>,
    )?;
    store::fleet::forget(call.env, &key, &id, audit).await?;
    crate::owner::forget(&id).await;
    store::touch_bindings(call.env, &key).await?;
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
        return Err(AppError::bad(
            "same_project",
            "the device is already in this project",
        ));
    }
    project(call.env, &spec.project).await?;
    let before = device(call).await?;
    forget_in_rollouts(call.env, &key, &id).await?;
    // What the move leaves of the record (`store::fleet::move_to` clears these), for the audit.
    let moved = Device {
        deliveries: 0,
        banned: false,
        state: None,
        cause: None,
        ..before.clone()
    };
    let mut extra = vec![store::device_event_stmt(
        call.env,
        &spec.project,
        &id,
        "moved",
        &format!("from {key} by {}", call.actor.name),
    )?];
    extra.push(call.audit_stmt(
        Some(&key),
        format!("move device {id} to {}", spec.project),
        Some(&before),
        Some(&moved),
    )?);
    let (after, owner) = store::fleet::move_to(call.env, &key, &spec.project, &id, extra)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("device {id}")))?;
    crate::owner::rebind(call.env, &id, &owner).await;
    store::touch_bindings(call.env, &key).await?;
    store::touch_bindings(call.env, &spec.project).await?;
    ok(200, &after)
}
