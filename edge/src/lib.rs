//! fota-edge: the Cloudflare Worker. It answers Luat upgrade checks from KV plans, delivers
//! images from R2, keeps the fleet registry in D1, and serves the admin API.
//!
//! This crate is the imperative shell: it parses, loads facts, calls `fota_shared` to decide,
//! and carries out the result. Routing is a plain `match`, since device URLs are too irregular
//! for a pattern router (parameters glued onto the path).

mod admin;
mod auth;
mod cache;
mod check;
mod error;
mod images;
mod rollout;
mod store;

use error::{AppError, AppResult};
use worker::{event, Context, Env, Method, Request, Response};

#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: Context) -> worker::Result<Response> {
    Ok(match dispatch(req, &env, &ctx).await {
        Ok(resp) => resp,
        Err(e) => e.into_response(),
    })
}

async fn dispatch(req: Request, env: &Env, ctx: &Context) -> AppResult<Response> {
    let url = req.url()?;
    let path = url.path().to_string();
    if let Some(query) = fota_shared::luat::check_query(&path, url.query()) {
        return match req.method() {
            Method::Get | Method::Head => check::luat_check(&req, env, ctx, &query).await,
            _ => Err(AppError::MethodNotAllowed),
        };
    }
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (req.method(), segs.as_slice()) {
        (Method::Get, ["healthz"]) => Ok(images::healthz()),
        (Method::Get | Method::Head, ["images", sha256]) => images::get_image(&req, env, sha256).await,
        (_, ["admin", "v1", rest @ ..]) => admin::route(req, env, rest).await,
        _ => Err(AppError::NotFound("route".into())),
    }
}
