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

use crate::error::AppResult;
use crate::images::{refusal, serve};
use crate::rollout::{self, Rollout};
use crate::store;
use crate::store::devices::Owner;
use fota_shared::leaf::code::Refusal;
use fota_shared::leaf::range::{answer, RangeAnswer};
use fota_shared::rules::ban::target_key;
use fota_shared::rules::decide::{decide, Binding, Due, Facts, Offer, Via};
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
    let ban_after = project.as_ref().map_or(0, |p| p.ban_after);
    let (answer, delivered) = match verdict.offer {
        Offer::Due(due) => deliver(req, env, &check, ban_after, due, now).await?,
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

/// An upgrade is due: the rollout's coordinator decides (gate, loop-upgrade protection, first
/// offer) in one call, then the image. The flag says whether a fresh image (or a redirect to
/// one) went out: a resume or a refusal is no delivery.
async fn deliver(
    req: &Request,
    env: &Env,
    check: &UpgradeCheck,
    ban_after: u32,
    due: Due<'_>,
    now: i64,
) -> AppResult<(Response, bool)> {
    let plan = due.plan;
    let range = match due.via {
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
    let key = target_key(&plan.firmware_name, &due.target);
    let r = Rollout::of_target(plan, due.target);
    let attempt = rollout::Attempt {
        from: due.from,
        target: key,
        ban_after,
        counts: fresh,
        now,
    };
    if let Err(refused) = rollout::attempt(env, &r, &check.device_id, attempt).await? {
        return Ok((refusal(refused), false));
    }
    match due.via {
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
