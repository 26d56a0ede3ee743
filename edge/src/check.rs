//! The Luat IoT-platform upgrade check: parse, load facts, decide, carry out.
//!
//! A steady-state check (nothing changed: same version, same firmware, already bound) reads
//! isolate memory or KV and writes nothing; what it did change in the registry is queued and
//! written in batches off the critical path (`crate::registry`). Only a device never seen before
//! waits on D1 (its project binding must be durable before we answer), and an upgrade that is due
//! waits on its rollout's coordinator (the gate, the counters and the loop-upgrade count are
//! stored there before the image goes out).

use crate::error::AppResult;
use crate::images::{refusal, serve};
use crate::rollout::{self, Rollout};
use crate::store;
use fota_shared::api::catalog::Project;
use fota_shared::leaf::code::Refusal;
use fota_shared::leaf::range::{answer, RangeAnswer};
use fota_shared::leaf::version::Version;
use fota_shared::model::plan::Plan;
use fota_shared::rules::ban::target_key;
use fota_shared::rules::decide::{decide, Facts, Offer, Via};
use fota_shared::rules::luat::{parse_check, UpgradeCheck};
use fota_shared::rules::rollout_state::Provenance;
use worker::{Context, Env, Request, Response};

pub async fn luat_check(
    req: &Request,
    env: &Env,
    ctx: &Context,
    query: &str,
) -> AppResult<Response> {
    let check = match parse_check(query) {
        Ok(check) => check,
        Err(r) => return Ok(refusal(r)),
    };
    if !within_rate(env, &check).await {
        return Ok(refusal(Refusal::TooManyChecks));
    }
    let Some(project) = store::project(env, &check.project_key).await? else {
        return Ok(refusal(Refusal::UnknownProject));
    };
    let (owner, plan) = futures_util::future::join(
        crate::owner::lookup(env, ctx, &check),
        store::plan(env, &check.project_key, &check.firmware_name),
    )
    .await;
    let (owner, plan) = (owner?, plan?);
    let Some(owner) = owner else {
        return Ok(refusal(Refusal::RegistrationsSpent));
    };
    if owner.signed && owner.project == check.project_key {
        // A provisioned JSON device speaks only the signed API: an unsigned Luat check with its
        // id must not touch its registry state or its rollout outcome.
        return Ok(refusal(Refusal::SignedDevice));
    }
    let from = Provenance {
        signed: false,
        listed: false,
        first_seen_ms: owner.first_seen,
    };
    let owner = owner.project;
    let offer = decide(
        &check,
        Facts {
            project_known: true,
            owner: Some(&owner),
            plan: plan.as_ref(),
        },
    );

    let now = store::now();
    if owner == check.project_key {
        crate::registry::seen(
            env,
            ctx,
            &check,
            reached_rollout(plan.as_ref(), &check),
            now,
        );
    }

    let (answer, delivered) = match (offer, plan) {
        (Offer::Due(via), Some(plan)) => {
            let from = Provenance {
                listed: plan.spec.devices.binary_search(&check.device_id).is_ok(),
                ..from
            };
            deliver(req, env, &check, &project, &plan, via, from, now).await?
        }
        (Offer::Refuse(r), _) => (refusal(r), false),
        (Offer::Due(_), None) => (refusal(Refusal::UnknownFirmware), false),
    };
    if crate::cache::count_activity(&check.project_key, now, delivered) {
        let env = env.clone();
        ctx.wait_until(async move {
            let wait = std::time::Duration::from_millis(crate::cache::ACTIVITY_FLUSH_MS);
            worker::Delay::from(wait).await;
            store::flush_activity(env, crate::cache::take_activity()).await;
        });
    }
    Ok(answer)
}

/// The per-device-id limit on checks (the `DEVICE_CHECKS` Rate Limiting binding, 30 a minute by
/// default: generous for real firmware, which checks every few hours). Keyed by project and id,
/// never by address: devices behind carrier NAT share one. A limiter that cannot answer lets the
/// check through (logged): the limit protects the registry, it must not stop a fleet.
async fn within_rate(env: &Env, check: &UpgradeCheck) -> bool {
    let outcome = async {
        env.rate_limiter("DEVICE_CHECKS")?
            .limit(format!("{}/{}", check.project_key, check.device_id))
            .await
    };
    match outcome.await {
        Ok(o) => o.success,
        Err(e) => {
            crate::logs::once("device check rate limiter unavailable", &e.to_string());
            true
        }
    }
}

/// The rollout the device now counts as a success in, when it runs the plan's target.
fn reached_rollout(plan: Option<&Plan>, check: &UpgradeCheck) -> Option<Rollout> {
    let plan = plan?;
    let reached = Version::parse(&plan.spec.target_version).is_ok_and(|t| t == check.version);
    reached.then(|| Rollout::of(plan).ok()).flatten()
}

/// An upgrade is due: the rollout's coordinator decides (gate, loop-upgrade protection, first
/// offer) in one call, then the image. The flag says whether a fresh image (or a redirect to
/// one) went out: a resume or a refusal is no delivery.
#[allow(clippy::too_many_arguments)]
async fn deliver(
    req: &Request,
    env: &Env,
    check: &UpgradeCheck,
    project: &Project,
    plan: &Plan,
    via: Via,
    from: Provenance,
    now: i64,
) -> AppResult<(Response, bool)> {
    let range = match via {
        Via::Redirect => RangeAnswer::Full,
        Via::Stream => answer(req.headers().get("Range")?.as_deref(), plan.image.size),
    };
    if range == RangeAnswer::Unsatisfiable {
        return Ok((
            serve(env, &plan.image, range)
                .await?
                .unwrap_or_else(|| refusal(Refusal::ImageUnavailable)),
            false,
        ));
    }
    // Only a `GET` of the whole image (or the redirect to it) is a delivery: a `HEAD`, a resume
    // or another partial range costs nothing to ask for and must not move a ban or a rollout.
    let fresh = req.method() == worker::Method::Get && range.is_whole(plan.image.size);
    let Ok(target) = Version::parse(&plan.spec.target_version) else {
        return Ok((refusal(Refusal::NotOfferingNow), false));
    };
    let r = Rollout::of(plan)?;
    let key = target_key(&plan.firmware_name, &target);
    if let Err(refused) = rollout::attempt(
        env,
        &r,
        &check.device_id,
        from,
        &key,
        project.ban_after,
        fresh,
        now,
    )
    .await?
    {
        return Ok((refusal(refused), false));
    }
    match via {
        Via::Redirect => Ok((redirect(req, env, &plan.image.sha256, now)?, true)),
        Via::Stream => Ok(match serve(env, &plan.image, range).await? {
            Some(image) => (image, fresh),
            None => (refusal(Refusal::ImageUnavailable), false),
        }),
    }
}

/// `302` with an absolute `Location` (`update.lua` cannot resolve a relative one) to the
/// content-addressed image: the public R2 base when configured, else this edge's `/images/` under
/// `PUBLIC_URL` (or the request's origin), signed and good for an hour unless `PUBLIC_IMAGES`.
fn redirect(req: &Request, env: &Env, sha256: &str, now: i64) -> AppResult<Response> {
    let location = match crate::images::public_url(env, sha256) {
        Some(url) => url,
        None => crate::images::edge_image_url(req, env, &format!("/images/{sha256}"), now)?,
    };
    let mut resp = Response::empty()?.with_status(302);
    resp.headers_mut().set("Location", &location)?;
    resp.headers_mut().set("Content-Length", "0")?;
    Ok(resp)
}
