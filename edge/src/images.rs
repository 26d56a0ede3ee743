//! Image delivery from R2: exact bytes, always with `Content-Length`, `Range`/206 for resumes,
//! and the content-addressed `GET /images/{sha256}` route that redirects point at.

use crate::error::{json_response, AppError, AppResult};
use crate::store;
use fota_shared::api::ImageRef;
use fota_shared::code::Refusal;
use fota_shared::range::{answer, RangeAnswer};
use worker::{Env, Range, Request, Response};

/// Caching for content-addressed URLs: the bytes behind one never change.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// A device-facing "no" in the platform's shape.
pub fn refusal(r: Refusal) -> Response {
    let mut resp = Response::from_bytes(r.body().into_bytes()).unwrap_or_else(|_| Response::empty().expect("empty"));
    let _ = resp.headers_mut().set("Content-Type", "application/json");
    resp.with_status(r.status())
}

/// Answers `range` for the image with these digests. The R2 body is handed to the runtime
/// untouched, which sends it with a `Content-Length` (never chunked) and costs the Worker no CPU.
pub async fn serve(env: &Env, image: &ImageRef, range: RangeAnswer) -> AppResult<Option<Response>> {
    let total = image.size;
    if range == RangeAnswer::Unsatisfiable {
        let mut resp = Response::empty()?.with_status(416);
        resp.headers_mut().set("Content-Range", &format!("bytes */{total}"))?;
        return Ok(Some(resp));
    }
    let bucket = store::bucket(env)?;
    let mut get = bucket.get(store::image_key(&image.sha256));
    if let RangeAnswer::Partial { start, end } = range {
        get = get.range(Range::OffsetWithLength { offset: start, length: end - start + 1 });
    }
    let Some(object) = get.execute().await? else { return Ok(None) };
    if object.size() != total {
        // The record and the stored bytes disagree: never send something that is not the image.
        return Err(AppError::Unavailable(format!("image {} has size {} not {total}", image.sha256, object.size())));
    }
    let Some(body) = object.body() else { return Ok(None) };
    let mut resp = Response::from_body(body.response_body()?)?;
    let headers = resp.headers_mut();
    headers.set("Content-Type", "application/octet-stream")?;
    headers.set("Accept-Ranges", "bytes")?;
    headers.set("ETag", &format!("\"{}\"", image.sha256))?;
    headers.set("X-Content-SHA256", &image.sha256)?;
    headers.set("X-Content-MD5", &image.md5)?;
    let (status, length) = match range {
        RangeAnswer::Partial { start, end } => {
            headers.set("Content-Range", &format!("bytes {start}-{end}/{total}"))?;
            (206, end - start + 1)
        }
        _ => (200, total),
    };
    headers.set("Content-Length", &length.to_string())?;
    Ok(Some(resp.with_status(status)))
}

/// `GET /images/{sha256}`: the immutable URL redirects point at.
pub async fn get_image(req: &Request, env: &Env, sha256: &str) -> AppResult<Response> {
    let valid = sha256.len() == 64 && sha256.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if !valid {
        return Err(AppError::NotFound("image".into()));
    }
    let bucket = store::bucket(env)?;
    let Some(head) = bucket.head(store::image_key(sha256)).await? else {
        return Err(AppError::NotFound("image".into()));
    };
    let md5 = match head.custom_metadata()?.get("md5").cloned() {
        Some(md5) => md5,
        None => store::image_md5(env, sha256).await?.unwrap_or_default(),
    };
    let image = ImageRef { sha256: sha256.to_string(), md5, size: head.size(), module: fota_shared::api::DEFAULT_MODULE.into() };
    let range = answer(req.headers().get("Range")?.as_deref(), image.size);
    let Some(mut resp) = serve(env, &image, range).await? else {
        return Err(AppError::NotFound("image".into()));
    };
    resp.headers_mut().set("Cache-Control", IMMUTABLE)?;
    Ok(resp)
}

/// The base of every absolute URL this edge emits about itself (redirects, notices, check-now):
/// `PUBLIC_URL` when set, else the origin the request arrived at. Set it when devices reach the
/// edge through a port or name the request does not carry: `update.lua` sends `Host` without the
/// port, so an origin taken from it would send the device to port 80.
pub fn self_base(req: &Request, env: &Env) -> AppResult<String> {
    if let Ok(base) = env.var("PUBLIC_URL") {
        let base = base.to_string();
        let base = base.trim().trim_end_matches('/');
        if !base.is_empty() {
            return Ok(base.to_string());
        }
    }
    Ok(req.url()?.origin().ascii_serialization())
}

/// The image at the public R2 base (`IMAGE_BASE_URL`), when one is configured.
pub fn public_url(env: &Env, sha256: &str) -> Option<String> {
    let base = env.var("IMAGE_BASE_URL").ok()?.to_string();
    let base = base.trim();
    (!base.is_empty()).then(|| format!("{}/{}", base.trim_end_matches('/'), store::image_key(sha256)))
}

/// Health answer for load balancers and the bench baseline. With `EXPOSE_METRICS=true` (benches
/// only) it also carries this isolate's storage-call counters.
pub fn healthz(env: &Env) -> Response {
    let expose = env.var("EXPOSE_METRICS").is_ok_and(|v| v.to_string() == "true");
    if expose {
        return json_response(200, &serde_json::json!({ "ok": true, "isolate": crate::metrics::snapshot() }));
    }
    json_response(200, &serde_json::json!({ "ok": true }))
}
