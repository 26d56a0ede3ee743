//! fota-edge: the Cloudflare Worker. It answers Luat upgrade checks from KV plans, delivers
//! images from R2, keeps the fleet registry in D1, and serves the admin API.
//!
//! This crate is the imperative shell: it parses, loads facts, calls `fota_shared` to decide,
//! and carries out the result. Routing is a plain `match`, since device URLs are too irregular
//! for a pattern router (parameters glued onto the path).

mod admin;
mod auth;
mod auth_limit;
mod body;
mod cache;
mod card;
mod channel;
mod check;
mod coordinator;
mod coordinator_store;
mod delivery;
mod error;
mod events;
mod image_cache;
mod images;
mod keys;
mod logs;
mod metrics;
mod ota;
mod owner;
mod registrar;
mod registry;
mod retention;
mod rollout;
mod store;
mod summary;
mod vars;

use error::{AppError, AppResult};
use fota_shared::rules::luat::percent_decode;
use worker::{event, Context, Env, Method, Request, Response, ScheduleContext, ScheduledEvent};

#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: Context) -> worker::Result<Response> {
    Ok(match dispatch(req, &env, &ctx).await {
        Ok(resp) => resp,
        Err(e) => e.into_response(),
    })
}

/// Every minute (see `wrangler.toml` triggers): retention (see `retention`), then the
/// time-driven part of every live rollout (verification timeouts, auto-advance, jobs past
/// `job_timeout_s`). Status reads do the same for their own plan, so nothing depends on the
/// schedule firing (it does not under `wrangler dev`, except through `--test-scheduled`).
#[event(scheduled)]
async fn scheduled(_event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    retention::run(&env, store::now()).await;
    // Each plan's sweep on its own: one failing rollout does not stop the others.
    match rollout::live_plans(&env).await {
        Ok(plans) => {
            for (project, firmware) in plans {
                let swept = async {
                    if let Some(plan) = store::fresh_plan(&env, &project, &firmware).await? {
                        if plan.packages.is_empty() {
                            // A plan stored before packages serves its one image as a full
                            // image: it lists its target's packages from the catalog, once, so
                            // a delta among them goes to its source version only.
                            let target = &plan.spec.target_version;
                            admin::refresh_packages(&env, &project, &firmware, target).await?;
                        }
                        rollout::sweep(&env, &rollout::Rollout::of(&plan)?).await?;
                    }
                    AppResult::Ok(())
                };
                if let Err(e) = swept.await {
                    e.log();
                }
            }
        }
        Err(e) => e.log(),
    }
    if let Err(e) = ota::sweep_jobs(&env).await {
        e.log();
    }
}

async fn dispatch(req: Request, env: &Env, ctx: &Context) -> AppResult<Response> {
    let url = req.url()?;
    let path = url.path().to_string();
    if let Some(query) = fota_shared::rules::luat::check_query(&path, url.query()) {
        return match req.method() {
            Method::Get | Method::Head => check::luat_check(&req, env, ctx, &query).await,
            _ => Err(AppError::MethodNotAllowed),
        };
    }
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (req.method(), segs.as_slice()) {
        (Method::Get, ["healthz"]) => Ok(images::healthz(env)),
        (Method::Get | Method::Head, ["images", sha256]) => {
            images::get_signed_image(&req, env, ctx, sha256, images::Download::Redirect).await
        }
        (Method::Get | Method::Head, ["ota", "image", sha256]) => {
            images::get_signed_image(&req, env, ctx, sha256, images::Download::Notice).await
        }
        (_, ["ota", "device", kind, product_key, device_name]) => {
            let (kind, pk, dn) = (
                kind.to_string(),
                percent_decode(product_key),
                percent_decode(device_name),
            );
            ota::route(req, env, &kind, &pk, &dn).await
        }
        (_, ["admin", "v1", rest @ ..]) => admin::route(req, env, rest).await,
        _ => Err(AppError::NotFound("route".into())),
    }
}
