//! The Luat IoT-platform upgrade check: parse, load facts, decide, carry out.
//!
//! Only two things ever wait on D1 here: the first check of a device never seen before (its
//! project binding must be durable before we answer) and a delivery (the loop-upgrade count must
//! be stored before the image goes out). The common "up to date" answer reads isolate memory or
//! KV and leaves its registry update to `wait_until`.

use crate::error::AppResult;
use crate::images::{refusal, serve};
use crate::store;
use fota_shared::ban::{admit, target_key, Admission};
use fota_shared::code::Refusal;
use fota_shared::decide::{decide, Facts, Offer, Via};
use fota_shared::luat::parse_check;
use fota_shared::range::{answer, RangeAnswer};
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
        ctx.wait_until(store::record_seen(env.clone(), check.clone(), now));
    }

    let (via, plan) = match (offer, plan) {
        (Offer::Due(via), Some(plan)) => (via, plan),
        (Offer::Refuse(r), _) => return Ok(refusal(r)),
        (Offer::Due(_), None) => return Ok(refusal(Refusal::UnknownFirmware)),
    };

    let range = match via {
        Via::Redirect => RangeAnswer::Full,
        Via::Stream => answer(req.headers().get("Range")?.as_deref(), plan.image.size),
    };
    if range == RangeAnswer::Unsatisfiable {
        return Ok(serve(env, &plan.image, range).await?.unwrap_or_else(|| refusal(Refusal::ImageUnavailable)));
    }

    // Loop-upgrade protection, stored before a byte goes out.
    let Ok(target) = Version::parse(&plan.spec.target_version) else {
        return Ok(refusal(Refusal::NotOfferingNow));
    };
    let target = target_key(&plan.firmware_name, &target);
    let state = store::delivery_state(env, &check.device_id).await?;
    match admit(&state, &target, project.ban_after, range.starts_fresh()) {
        Admission::Banned => return Ok(refusal(Refusal::Banned)),
        Admission::Serve(next) => {
            if next != state {
                store::save_delivery(env, &check.device_id, &next, now).await?;
            }
        }
    }

    match via {
        Via::Redirect => redirect(req, env, &plan.image.sha256),
        Via::Stream => Ok(serve(env, &plan.image, range).await?.unwrap_or_else(|| refusal(Refusal::ImageUnavailable))),
    }
}

/// `302` with an absolute `Location` (`update.lua` cannot resolve a relative one) to the
/// content-addressed image: the public R2 base when configured, else this edge's `/images/`.
fn redirect(req: &Request, env: &Env, sha256: &str) -> AppResult<Response> {
    let base = env
        .var("IMAGE_BASE_URL")
        .map(|v| v.to_string())
        .ok()
        .filter(|b| !b.trim().is_empty())
        .map(|b| format!("{}/images/{sha256}", b.trim_end_matches('/')));
    let location = match base {
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
