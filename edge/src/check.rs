//! The Luat IoT-platform upgrade check: parse, load facts, decide, carry out.
//!
//! Only two things ever wait on D1 here: the first check of a device never seen before (its
//! project binding must be durable before we answer) and an upgrade that is due (the rollout's
//! gate and counters and the loop-upgrade count must be stored before the image goes out). The
//! common "up to date" answer reads isolate memory or KV and leaves its registry update, and the
//! rollout's success count, to `wait_until`.

use crate::error::AppResult;
use crate::images::{refusal, serve};
use crate::rollout::{self, Rollout};
use crate::store;
use fota_shared::api::{DevicePhase, Plan, Project};
use fota_shared::ban::{admit, target_key, Admission};
use fota_shared::code::Refusal;
use fota_shared::decide::{decide, Facts, Offer, Via};
use fota_shared::luat::{parse_check, UpgradeCheck};
use fota_shared::range::{answer, RangeAnswer};
use fota_shared::rollout_state::DeviceFailure;
use fota_shared::version::Version;
use worker::{Context, Env, Request, Response};

pub async fn luat_check(req: &Request, env: &Env, ctx: &Context, query: &str) -> AppResult<Response> {
    let check = match parse_check(query) {
        Ok(check) => check,
        Err(r) => return Ok(refusal(r)),
    };
    let Some(project) = store::project(env, &check.project_key).await? else {
        return Ok(refusal(Refusal::UnknownProject));
    };
    let (owner, plan) = futures_util::future::join(
        store::owner(env, &check),
        store::plan(env, &check.project_key, &check.firmware_name),
    )
    .await;
    let (owner, plan) = (owner?, plan?);
    let offer = decide(&check, Facts { project_known: true, owner: Some(&owner), plan: plan.as_ref() });

    let now = store::now();
    if owner == check.project_key && crate::cache::claim_seen_write(&check.device_id, &check.version_text, now) {
        ctx.wait_until(record_seen(env.clone(), check.clone(), plan.clone(), now));
    }

    let (answer, delivered) = match (offer, plan) {
        (Offer::Due(via), Some(plan)) => deliver(req, env, &check, &project, &plan, via, now).await?,
        (Offer::Refuse(r), _) => (refusal(r), false),
        (Offer::Due(_), None) => (refusal(Refusal::UnknownFirmware), false),
    };
    if let Some(counts) = crate::cache::count_activity(&check.project_key, now, delivered) {
        ctx.wait_until(store::flush_activity(env.clone(), counts));
    }
    Ok(answer)
}

/// The registry update after a check, off the answer's critical path: version, firmware, last
/// seen; and when the device now runs the plan's target, its success in the rollout.
async fn record_seen(env: Env, check: UpgradeCheck, plan: Option<Plan>, now: i64) {
    let result = async {
        store::record_seen(&env, &check, now).await?;
        if let Some(plan) = plan {
            let reached = Version::parse(&plan.spec.target_version).is_ok_and(|t| t == check.version);
            if reached {
                rollout::succeed(&env, &Rollout::of(&plan)?, &check.device_id).await?;
            }
        }
        AppResult::Ok(())
    }
    .await;
    if let Err(e) = result {
        crate::cache::forget_seen(&check.device_id);
        let _ = e.into_response();
    }
}

/// An upgrade is due: the rollout's gate, loop-upgrade protection, then the image. The flag says
/// whether a fresh image (or a redirect to one) went out: a resume or a refusal is no delivery.
async fn deliver(req: &Request, env: &Env, check: &UpgradeCheck, project: &Project, plan: &Plan, via: Via, now: i64) -> AppResult<(Response, bool)> {
    let range = match via {
        Via::Redirect => RangeAnswer::Full,
        Via::Stream => answer(req.headers().get("Range")?.as_deref(), plan.image.size),
    };
    if range == RangeAnswer::Unsatisfiable {
        return Ok((serve(env, &plan.image, range).await?.unwrap_or_else(|| refusal(Refusal::ImageUnavailable)), false));
    }
    // A download from byte 0 (or a redirect) is a new delivery; a resume is not.
    let fresh = range.starts_fresh();
    let Ok(target) = Version::parse(&plan.spec.target_version) else {
        return Ok((refusal(Refusal::NotOfferingNow), false));
    };
    let r = Rollout::of(plan)?;
    let id = check.device_id.as_str();
    let job = match rollout::admit_device(env, &r, id, now).await? {
        Ok(job) => job,
        Err(refused) => return Ok((refusal(refused), false)),
    };

    // Loop-upgrade protection, stored before a byte goes out.
    let delivery = store::delivery_state(env, id).await?;
    let next = match admit(&delivery, &target_key(&plan.firmware_name, &target), project.ban_after, fresh) {
        Admission::Banned => {
            if job.as_ref().is_some_and(|j| j.phase != DevicePhase::Banned) {
                rollout::fail(env, &r, id, DeviceFailure::Banned).await?;
            }
            return Ok((refusal(Refusal::Banned), false));
        }
        Admission::Serve(next) => next,
    };
    if let Err(refused) = rollout::record_offer(env, &r, id, job.as_ref(), now).await? {
        return Ok((refusal(refused), false));
    }
    if next != delivery {
        store::save_delivery(env, id, &next, now).await?;
        if fresh {
            store::device_event(env, &check.project_key, id, "delivery", &format!("{} {} ({} of {})", plan.firmware_name, plan.spec.target_version, next.count, project.ban_after)).await?;
        }
    }
    if next.banned && !delivery.banned {
        // This delivery was the last one allowed: the device is banned from now on.
        store::device_event(env, &check.project_key, id, "banned", &format!("{} deliveries of {}", next.count, plan.spec.target_version)).await?;
        rollout::fail(env, &r, id, DeviceFailure::Banned).await?;
    }

    match via {
        Via::Redirect => Ok((redirect(req, env, &plan.image.sha256)?, true)),
        Via::Stream => Ok(match serve(env, &plan.image, range).await? {
            Some(image) => (image, fresh),
            None => (refusal(Refusal::ImageUnavailable), false),
        }),
    }
}

/// `302` with an absolute `Location` (`update.lua` cannot resolve a relative one) to the
/// content-addressed image: the public R2 base when configured, else this edge's `/images/`.
fn redirect(req: &Request, env: &Env, sha256: &str) -> AppResult<Response> {
    let location = match crate::images::public_url(env, sha256) {
        Some(url) => url,
        None => {
            let url = req.url()?;
            format!("{}/images/{sha256}", url.origin().ascii_serialization())
        }
    };
    let mut resp = Response::empty()?.with_status(302);
    resp.headers_mut().set("Location", &location)?;
    resp.headers_mut().set("Content-Length", "0")?;
    Ok(resp)
}
