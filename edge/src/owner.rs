//! Which project a device id belongs to, as a check needs it: from isolate memory, else the
//! location's device card (`crate::card`), else KV's copy, else (a device never seen before) a
//! binding made durable in D1 before any answer goes out. Also what every change of a binding
//! must update besides D1: this isolate's memory, the card and KV's copy.

use crate::error::AppResult;
use crate::store::devices::{self, owner_text, parse_owner, Owner};
use fota_shared::rules::luat::UpgradeCheck;
use fota_shared::rules::registry::Known;
use worker::{Context, Env};

/// The project a device is bound to, binding it to the check's project on first sight.
///
/// A device seen before costs no storage read in an isolate or location that knows it, and one
/// KV read where none does. `None`: the id is not known and the project's registrations for this
/// minute are spent (`crate::registrar`); nothing was bound.
pub async fn lookup(env: &Env, ctx: &Context, check: &UpgradeCheck) -> AppResult<Option<Owner>> {
    let id = &check.device_id;
    if let Some(owner) = crate::cache::owner(id) {
        return Ok(Some(parse_owner(&owner)));
    }
    if let Some(card) = crate::card::get(id).await {
        let owner = parse_owner(&card.owner);
        crate::card::recall(id, card);
        return Ok(Some(owner));
    }
    if let Some(text) = devices::kv_owner(env, id).await? {
        crate::cache::put_owner(id, &text);
        let owner = parse_owner(&text);
        crate::card::keep(ctx, id, text, None);
        return Ok(Some(owner));
    }
    let now = crate::store::now();
    if !crate::registrar::claim(env, &check.project_key, now).await {
        return Ok(None);
    }
    let owner = devices::bind(env, check, now).await?;
    // What D1 now holds for the device, when this check's binding wrote it.
    let known = (owner.project == check.project_key && !owner.signed).then(|| Known {
        firmware: check.firmware_name.clone(),
        version: check.version.to_string(),
        last_seen: now,
    });
    ctx.wait_until(remember(env, id, &owner, known.clone()));
    if let Some(known) = known {
        crate::registry::remember(id, known);
    }
    Ok(Some(owner))
}

/// Keeps a binding in this isolate's memory at once, and returns the writes of this location's
/// card (with what D1 holds of the device, when the caller knows it) and of KV's copy, for the
/// caller to await or hand to `wait_until` (a failure is logged: the binding is D1's).
pub fn remember(
    env: &Env,
    device: &str,
    owner: &Owner,
    known: Option<Known>,
) -> impl std::future::Future<Output = ()> {
    let text = owner_text(owner);
    crate::cache::put_owner(device, &text);
    let (env, device, owner) = (env.clone(), device.to_string(), owner.clone());
    async move {
        let card = crate::card::Card { owner: text, known };
        crate::card::put(&device, &card).await;
        if let Err(e) = devices::put_kv_owner(&env, &device, &owner).await {
            e.log();
        }
    }
}

/// A binding this isolate and location must forget (an operator forgot the device).
pub async fn forget(device: &str) {
    crate::card::delete(device).await;
    crate::cache::forget_owner(device);
    crate::registry::forget(device);
}

/// An operator moved the device or changed its provisioning: the new binding everywhere, and
/// what D1 holds of it read afresh.
pub async fn rebind(env: &Env, device: &str, owner: &Owner) {
    remember(env, device, owner, None).await;
    crate::registry::forget(device);
}

/// Marks provisioned devices as signed in the copies of their binding, so a Luat check with one
/// of their ids is refused without a D1 read.
pub async fn mark_signed(env: &Env, project: &str, ids: &[String]) {
    for id in ids {
        let owner = Owner {
            project: project.to_string(),
            signed: true,
            first_seen: 0,
        };
        remember(env, id, &owner, None).await;
    }
}
