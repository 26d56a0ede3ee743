//! The Luat IoT-platform upgrade check as one descent: parse, load (project, the id's binding,
//! the plan), decide (`fota_shared::rules::decide`, every refusal in one place), act (the
//! registry's news, the rollout's verdict on a due device), render.
//!
//! A steady-state check (nothing changed: same version, same firmware, already bound) reads
//! isolate memory or KV and writes nothing; what it did change in the registry is queued and
//! written in batches off the critical path (`crate::registry`). Only a device never seen before
//! waits on D1 (its project binding must be durable before we answer), and an upgrade that is due
//! waits on its rollout's coordinator (the gate, the counters and the loop-upgrade count are
//! stored there before the image goes out).

use crate::delivery;
use crate::error::AppResult;
use crate::images::{refusal, serve};
use crate::rollout::Rollout;
use crate::store;
use crate::store::devices::Owner;
use fota_shared::api::catalog::Project;
use fota_shared::leaf::code::Refusal;
use fota_shared::leaf::range::{answer, RangeAnswer};
use fota_shared::rules::ban::target_key;
use fota_shared::rules::decide::{decide, Binding, Due, Facts, Offer, Via};
use fota_shared::rules::download_url::Recipient;
use fota_shared::rules::luat::{parse_check, UpgradeCheck};
use fota_shared::rules::luat_sign::{verify_registered, Proof};
use worker::{Context, Env, Request, Response};

pub async fn luat_check(
    req: &Request,
    env: &Env,
    ctx: &Context,
    query: &str,
) -> AppResult<Response> {
    // Parse.
    let check = match parse_check(query) {
        Ok(check) => check,
        Err(r) => return Ok(refusal(r)),
    };
    if !within_rate(env, &check).await {
        return Ok(refusal(Refusal::TooManyChecks));
    }
    // Load: nothing is looked up (or bound) for a project that does not exist, and a new id is
    // bound only where the project's policy lets it and the check does not claim a secret.
    let project = store::project(env, &check.project_key).await?;
    let policy = project
        .as_ref()
        .map_or_else(Default::default, |p| p.device_policy);
    let may_bind = policy.binds_new_ids() && check.signature.is_none();
    let (owner, plan) = match &project {
        Some(p) => {
            let (owner, plan) = futures_util::future::join(
                crate::owner::lookup(env, ctx, &check, p, may_bind),
                store::plan(env, &check.project_key, &check.firmware_name),
            )
            .await;
            (owner?, plan?)
        }
        None => (None, None),
    };
    let binding = match &owner {
        Some(o) => Binding::Bound {
            project: &o.project,
            enrolment: o.enrolment,
            first_seen_ms: o.first_seen,
        },
        None if may_bind => Binding::Spent,
        None => Binding::Unbound,
    };
    let now = store::now();
    // Decide (shared), then act and render.
    let verdict = decide(
        &check,
        Facts {
            project_known: project.is_some(),
            policy,
            binding,
            proof: proof(env, &check, owner.as_ref(), now),
            plan: plan.as_ref(),
        },
    );
    if verdict.heard {
        let reached = match (verdict.reached, plan.as_ref()) {
            (true, Some(p)) => Some(Rollout::of_target(p, check.version.clone())),
            _ => None,
        };
        crate::registry::seen(env, ctx, &check, reached, now);
    }
    let (answer, delivered) = match verdict.offer {
        Offer::Due(due) => deliver(req, env, ctx, &check, project.as_ref(), due, now).await?,
        Offer::Refuse(r) => (refusal(r), false),
    };
    if verdict.heard {
        count_activity(env, ctx, &check, now, delivered);
    }
    Ok(answer)
}

/// What the check's signature proves: verified against the secret of a device registered in the
/// check's project; any other signed check proves nothing (`Invalid`).
fn proof(env: &Env, check: &UpgradeCheck, owner: Option<&Owner>, now_ms: i64) -> Proof {
    if check.signature.is_none() {
        return Proof::Unsigned;
    }
    let key = owner
        .filter(|o| o.project == check.project_key)
        .and_then(|o| o.key);
    match (key, crate::keys::masters(env)) {
        (Some(key), Some(masters)) => verify_registered(&masters, key, check, now_ms / 1000),
        _ => Proof::Invalid,
    }
}

/// The dashboard's checks and deliveries per hour, flushed once per isolate per interval.
fn count_activity(env: &Env, ctx: &Context, check: &UpgradeCheck, now: i64, delivered: bool) {
    if crate::cache::count_activity(&check.project_key, now, delivered) {
        let env = env.clone();
        ctx.wait_until(async move {
            let wait = std::time::Duration::from_millis(crate::cache::ACTIVITY_FLUSH_MS);
            worker::Delay::from(wait).await;
            store::flush_activity(env, crate::cache::take_activity()).await;
        });
    }
}

/// The per-device-id limit on checks (the `DEVICE_CHECKS` Rate Limiting binding, 30 a minute by
/// default: generous for real firmware, which checks every few hours). Keyed by project and id,
/// never by address: devices behind carrier NAT share one. A limiter that cannot answer lets the
/// check through (logged): the limit protects the registry, it must not stop a fleet.
async fn within_rate(env: &Env, check: &UpgradeCheck) -> bool {
    within_device_rate(env, format!("{}/{}", check.project_key, check.device_id)).await
}

/// One request against the `DEVICE_CHECKS` limit under `key` (a device's own key: Luat checks
/// use `project/id`, signed JSON device requests `ota/project/id`).
pub async fn within_device_rate(env: &Env, key: String) -> bool {
    let outcome = async { env.rate_limiter("DEVICE_CHECKS")?.limit(key).await };
    match outcome.await {
        Ok(o) => o.success,
        Err(e) => {
            crate::logs::once("device check rate limiter unavailable", &e.to_string());
            true
        }
    }
}

/// An upgrade is due: the rollout's coordinator decides (gate, loop-upgrade protection, first
/// offer) in one call, then the image or the redirect to it. Nothing is a delivery yet: a
/// streamed image is counted as its bytes go out (`crate::delivery::counted`), a redirect when
/// its signed URL is downloaded (`crate::images::get_signed_image`). The flag says whether the
/// whole image started streaming (the dashboard's deliveries per hour).
async fn deliver(
    req: &Request,
    env: &Env,
    ctx: &Context,
    check: &UpgradeCheck,
    project: Option<&Project>,
    due: Due<'_>,
    now: i64,
) -> AppResult<(Response, bool)> {
    let (plan, image) = (due.plan, due.image);
    let ban_after = project.map_or(0, |p| p.ban_after);
    let budget = project.and_then(|p| p.daily_bytes_per_device);
    let range = match due.via {
        Via::Redirect => RangeAnswer::Full,
        Via::Stream => answer(req.headers().get("Range")?.as_deref(), image.size),
    };
    if range == RangeAnswer::Unsatisfiable {
        return Ok((
            serve(env, image, range)
                .await?
                .unwrap_or_else(|| refusal(Refusal::ImageUnavailable)),
            false,
        ));
    }
    // Only a `GET` of the whole image (or the redirect to it) counts the device as offered: a
    // `HEAD`, a resume or another partial range costs nothing to ask for and must not move a
    // rollout. What a `GET` hands out is counted either way, so a resume can complete a delivery.
    let get = req.method() == worker::Method::Get;
    let whole = get && range.is_whole(image.size);
    let key = target_key(&plan.firmware_name, &due.target);
    let r = Rollout::of_target(plan, due.target);
    let attempt = delivery::Attempt {
        from: due.from,
        target: key.clone(),
        counts: whole,
        budget,
        now,
    };
    if let Err(refused) = delivery::attempt(env, &r, &check.device_id, attempt).await? {
        return Ok((refusal(refused), false));
    }
    if due.via == Via::Redirect {
        // Without a key to sign the device's URL there is nothing to redirect to: retry later.
        let answer =
            redirect(req, env, &image.sha256, &r.plan_id, check, now).unwrap_or_else(|e| {
                e.log();
                refusal(Refusal::ImageUnavailable)
            });
        return Ok((answer, false));
    }
    let Some(body) = serve(env, image, range).await? else {
        return Ok((refusal(Refusal::ImageUnavailable), false));
    };
    if !get {
        return Ok((body, false));
    }
    let (size, head, sha256) = (image.size, range.head(image.size), image.sha256.clone());
    let (env, id) = (env.clone(), check.device_id.clone());
    let handout = move |bytes| delivery::Handout {
        target: key,
        ban_after,
        budget,
        sha256,
        size,
        start: head.start,
        bytes,
    };
    let body = delivery::counted(ctx, body, head.length, move |bytes| async move {
        if bytes > 0 {
            if let Err(e) = delivery::handed(&env, &r, &id, handout(bytes)).await {
                e.log();
            }
        }
    })?;
    Ok((body, whole))
}

/// `302` with an absolute `Location` (`update.lua` cannot resolve a relative one) to this edge's
/// `/images/<sha256>` under `PUBLIC_URL` (or the request's origin), signed for this device in
/// this rollout and good for an hour: a complete download of it is the device's delivery. Never
/// the public R2 base (`IMAGE_BASE_URL`): bytes fetched there pass no counter, so a device would
/// never succeed in its rollout.
fn redirect(
    req: &Request,
    env: &Env,
    sha256: &str,
    plan_id: &str,
    check: &UpgradeCheck,
    now: i64,
) -> AppResult<Response> {
    let to = Recipient {
        device: check.device_id.clone(),
        plan: plan_id.to_string(),
    };
    let location = crate::images::device_url(req, env, &format!("/images/{sha256}"), &to, now)?;
    let mut resp = Response::empty()?.with_status(302);
    resp.headers_mut().set("Location", &location)?;
    resp.headers_mut().set("Content-Length", "0")?;
    Ok(resp)
}
