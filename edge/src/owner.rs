//! Which project a device id belongs to, as a check needs it: from isolate memory, else the
//! location's device card (`crate::card`), else KV's copy, else D1's row (an id an operator
//! registered, whose copies its first check makes), else (a device never seen before, in a
//! project whose policy lets new ids bind) a binding made durable in D1 before any answer goes
//! out. Also what every change of a binding must update besides D1: this isolate's memory, the
//! card, KV's copy, and the project's `bindings_at`.
//!
//! # Freshness
//! An operator's change (provision, register, forget, move, de-provision) reaches every isolate
//! within [`OWNER_MEMORY_MS`] (60 s, `OWNER_MEMORY_S`): isolate memory of a binding expires
//! after it, and every copy (memory or card) read before the project's `bindings_at` plus KV's
//! own spread ([`KV_SPREAD_MS`]) is read again from KV. A policy change travels with the project
//! record, which isolates keep for 30 s.

use crate::cache::OwnerCopy;
use crate::error::AppResult;
use crate::store::devices::{self, owner_text, parse_owner, Owner};
use fota_shared::api::catalog::Project;
use fota_shared::rules::decide::Enrolment;
use fota_shared::rules::luat::UpgradeCheck;
use fota_shared::rules::registry::Known;
use worker::{Context, Env};

/// How long an isolate trusts its memory of a binding, by default.
pub const OWNER_MEMORY_MS: i64 = 60_000;
/// How long a KV write may take to reach every location: a copy read from KV within this of a
/// binding change may predate it.
pub const KV_SPREAD_MS: i64 = 60_000;

thread_local! {
    static MEMORY_MS: std::cell::OnceCell<i64> = const { std::cell::OnceCell::new() };
}

/// `OWNER_MEMORY_S` (seconds, at most 60) in ms; tests shorten it (projects are then kept no
/// longer either, `crate::cache::project`).
pub fn memory_ms(env: &Env) -> i64 {
    MEMORY_MS.with(|m| {
        *m.get_or_init(|| {
            env.var("OWNER_MEMORY_S")
                .ok()
                .and_then(|v| v.to_string().parse::<i64>().ok())
                .filter(|s| (1..=60).contains(s))
                .map_or(OWNER_MEMORY_MS, |s| s * 1000)
        })
    })
}

/// The earliest read time of a copy still good for checks of `project`.
fn fresh_since(project: &Project) -> i64 {
    if project.bindings_at == 0 {
        0
    } else {
        project.bindings_at + KV_SPREAD_MS
    }
}

/// The project a device is bound to, binding it to the check's project on first sight when the
/// project's policy lets new ids bind and the check carries no signature (`may_bind`).
///
/// A device seen before costs no storage read in an isolate or location that knows it, and one
/// KV read where none does. `None`: the id is not known and nothing was bound (the project's
/// registrations for this minute are spent (`crate::registrar`), or `may_bind` is false).
pub async fn lookup(
    env: &Env,
    ctx: &Context,
    check: &UpgradeCheck,
    project: &Project,
    may_bind: bool,
) -> AppResult<Option<Owner>> {
    let id = &check.device_id;
    let now = crate::store::now();
    let since = fresh_since(project);
    if let Some(copy) = crate::cache::owner(id, now, memory_ms(env), since) {
        return Ok(Some(parse_owner(&copy.text)));
    }
    if let Some(card) = crate::card::get(id).await.filter(|c| c.owner_at >= since) {
        let owner = parse_owner(&card.owner);
        crate::card::recall(id, card, now);
        return Ok(Some(owner));
    }
    if let Some(text) = devices::kv_owner(env, id).await? {
        crate::cache::put_owner(id, &text, now, now);
        let owner = parse_owner(&text);
        let copy = OwnerCopy {
            text,
            at: now,
            kept: now,
        };
        crate::card::keep(ctx, id, &copy, crate::registry::known(id));
        return Ok(Some(owner));
    }
    // No copy: an id an operator registered or provisioned (copies are made by its first
    // check), or one never seen.
    if let Some(owner) = devices::owner_row(env, id).await? {
        ctx.wait_until(remember(env, id, &owner, None));
        return Ok(Some(owner));
    }
    if !may_bind || !crate::registrar::claim(env, &check.project_key, now).await {
        return Ok(None);
    }
    let owner = devices::bind(env, check, now).await?;
    // What D1 now holds for the device, when this check's binding wrote it.
    let known =
        (owner.project == check.project_key && owner.enrolment != Enrolment::Json).then(|| Known {
            firmware: check.firmware_name.clone(),
            version: check.version.to_string(),
            last_seen: now,
            changed_at: 0,
            held: false,
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
    let now = crate::store::now();
    crate::cache::put_owner(device, &text, now, now);
    let (env, device, owner) = (env.clone(), device.to_string(), owner.clone());
    async move {
        let card = crate::card::Card {
            owner: text,
            owner_at: now,
            known,
        };
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

/// Writes KV's copy of the bindings an operator just provisioned or registered (50 at a time),
/// so a check with one of their ids is answered by its enrolment without a D1 read. The caller
/// moves the project's `bindings_at` on, which makes every isolate's memory and every location's
/// card of these ids read KV again.
pub async fn enrolled(env: &Env, owners: &[(String, Owner)]) {
    for chunk in owners.chunks(50) {
        let writes = chunk.iter().map(|(id, owner)| async move {
            crate::cache::forget_owner(id);
            if let Err(e) = devices::put_kv_owner(env, id, owner).await {
                e.log();
            }
        });
        futures_util::future::join_all(writes).await;
    }
}
