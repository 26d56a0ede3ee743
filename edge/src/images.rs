//! Image delivery: exact bytes, always with `Content-Length`, `Range`/206 for resumes, and the
//! content-addressed `GET /images/{sha256}` route that redirects point at. Which copy the bytes
//! come from (isolate memory, the Cache API, R2) is `image_cache`'s business; the framing is
//! decided once, by [`RangeAnswer::head`], whatever the source.

use crate::error::{json_response, AppError, AppResult};
use crate::image_cache::{self, Small};
use crate::store;
use fota_shared::leaf::code::Refusal;
use fota_shared::leaf::range::{answer, RangeAnswer};
use fota_shared::model::plan::ImageRef;
use fota_shared::rules::download_url::{self, Recipient, UrlError};
use worker::{Context, Env, Range, Request, Response};

/// Caching for content-addressed URLs: the bytes behind one never change.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// A device-facing "no" in the platform's shape.
pub fn refusal(r: Refusal) -> Response {
    let mut resp = Response::from_bytes(r.body().into_bytes())
        .unwrap_or_else(|_| Response::empty().expect("empty"));
    let _ = resp.headers_mut().set("Content-Type", "application/json");
    resp.with_status(r.status())
}

/// Answers `range` for the image with these digests, from the nearest copy of its bytes: isolate
/// memory for small images, the Cache API for larger ones, else R2's body handed to the runtime
/// untouched (fixed length, never chunked, no Worker CPU). None when R2 has no such object.
pub async fn serve(env: &Env, image: &ImageRef, range: RangeAnswer) -> AppResult<Option<Response>> {
    let head = range.head(image.size);
    if range == RangeAnswer::Unsatisfiable {
        let mut resp = Response::empty()?.with_status(head.status);
        resp.headers_mut().set(
            "Content-Range",
            head.content_range.as_deref().unwrap_or_default(),
        )?;
        return Ok(Some(resp));
    }
    let (resp, source) = if image_cache::fits_memory(image.size) {
        match image_cache::small_image(env, image).await? {
            Small::Bytes(bytes) => {
                let (start, length) = (head.start as usize, head.length as usize);
                (
                    Response::from_bytes(bytes[start..start + length].to_vec())?,
                    "memory",
                )
            }
            Small::Missing => return Ok(None),
            Small::Busy => match from_r2(env, image, range).await? {
                Some(resp) => (resp, "r2"),
                None => return Ok(None),
            },
        }
    } else {
        match image_cache::large_image(env, image, range).await? {
            Some(body) => (Response::from_body(body)?, "cache"),
            None => match from_r2(env, image, range).await? {
                Some(resp) => (resp, "r2"),
                None => return Ok(None),
            },
        }
    };
    let mut resp = resp.with_status(head.status);
    let headers = resp.headers_mut();
    headers.set("Content-Type", "application/octet-stream")?;
    headers.set("Accept-Ranges", "bytes")?;
    headers.set("ETag", &format!("\"{}\"", image.sha256))?;
    headers.set("X-Content-SHA256", &image.sha256)?;
    headers.set("X-Content-MD5", &image.md5)?;
    if let Some(content_range) = &head.content_range {
        headers.set("Content-Range", content_range)?;
    }
    headers.set("Content-Length", &head.length.to_string())?;
    image_cache::debug_headers(env, headers, &image.sha256, source)?;
    Ok(Some(resp))
}

/// `range` of the image streamed from R2 (one ranged read), for what memory and cache do not hold.
async fn from_r2(env: &Env, image: &ImageRef, range: RangeAnswer) -> AppResult<Option<Response>> {
    let total = image.size;
    let bucket = store::bucket(env)?;
    let mut get = bucket.get(store::image_key(&image.sha256));
    if let RangeAnswer::Partial { start, end } = range {
        get = get.range(Range::OffsetWithLength {
            offset: start,
            length: end - start + 1,
        });
    }
    image_cache::count_r2_read(&image.sha256);
    let Some(object) = get.execute().await? else {
        return Ok(None);
    };
    if object.size() != total {
        // The record and the stored bytes disagree: never send something that is not the image.
        return Err(AppError::Unavailable(format!(
            "image {} has size {} not {total}",
            image.sha256,
            object.size()
        )));
    }
    let Some(body) = object.body() else {
        return Ok(None);
    };
    Ok(Some(Response::from_body(body.response_body()?)?))
}

/// How long a signed image URL (redirects, notices) stays good: a device downloads right after it
/// is handed one, and a device that comes back later checks again and gets a fresh one.
pub const URL_LIFETIME_MS: i64 = 3600 * 1000;

/// Are unsigned `/images/{sha256}` downloads allowed (`PUBLIC_IMAGES=true`)? Off by default: an
/// image is then a capability that only a due device's redirect hands out, for an hour.
pub fn public_images(env: &Env) -> bool {
    crate::vars::is_true(env, "PUBLIC_IMAGES")
}

/// The absolute, signed URL of an image on this edge at `path` handed to one device: the
/// `/images/<sha256>` a redirect hands a Luat device in one rollout, or the `/ota/image/<sha256>`
/// a module-OTA notice hands a JSON device while its project has a daily budget
/// (`?device=..&plan=..&expires=..&sig=..`): always signed, even under `PUBLIC_IMAGES`, since its
/// download is counted for that device.
pub fn device_url(
    req: &Request,
    env: &Env,
    path: &str,
    to: &Recipient,
    now: i64,
) -> AppResult<String> {
    let masters = crate::keys::masters(env).ok_or_else(|| {
        AppError::Unavailable(
            "redirect URLs are signed with DEVICE_MASTER_KEYS, which is not set".into(),
        )
    })?;
    let key = crate::keys::url_key(&masters)
        .ok_or_else(|| AppError::Unavailable("no master key".into()))?;
    Ok(format!(
        "{}{path}?{}",
        self_base(req, env)?,
        download_url::device_url_query(&key, path, to, now + URL_LIFETIME_MS)
    ))
}

/// Lets a download through when its URL carries a valid signature under any listed master-key
/// version (a URL handed out before a rotation stays good until it expires), or, for a bare
/// `/images/` URL, when `PUBLIC_IMAGES=true`. A URL that claims a signature (`sig`, `device` or
/// `plan`) must verify wherever it is used; under `PUBLIC_IMAGES` an expired one is still served,
/// as a public image that counts for nobody. `Some` names the device and rollout a redirect
/// handed the URL to.
pub fn check_signed(req: &Request, env: &Env) -> AppResult<Option<Recipient>> {
    let url = req.url()?;
    let path = url.path().to_string();
    let query = url.query().unwrap_or("");
    let public = path.starts_with("/images/") && public_images(env);
    if !download_url::claims_signature(query) {
        if public {
            return Ok(None);
        }
        return Err(AppError::Status {
            status: 403,
            code: "url_unsigned",
            message:
                "images are served by signed, expiring URL only: ask for an upgrade to get one"
                    .into(),
        });
    }
    let masters = crate::keys::masters(env).ok_or_else(|| AppError::NotFound("image".into()))?;
    let verdict = download_url::verify_signed_url_any(
        &crate::keys::url_keys(&masters),
        &path,
        query,
        store::now(),
    );
    match verdict {
        Ok(to) => Ok(to),
        Err(UrlError::Expired) if public => Ok(None),
        Err(e) => Err(AppError::Status {
            status: e.status(),
            code: e.code(),
            message: e.to_string(),
        }),
    }
}

/// Which signed download a URL is, and so whom its bytes are counted for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Download {
    /// `/images/{sha256}`, the URL redirects point at: a download of a URL handed to a device is
    /// that device's delivery in that rollout (every byte of the image out, in one answer or
    /// resumed; `crate::delivery::handed_to`).
    Redirect,
    /// `/ota/image/{sha256}`, a module-OTA notice's URL: one that names its device (a project
    /// with a daily budget) counts its bytes against that device's budget
    /// (`crate::delivery::notice_bytes`).
    Notice,
}

/// `GET /images/{sha256}` and `GET /ota/image/{sha256}`, signed (see [`check_signed`]): the bytes
/// a URL handed to a device takes are counted for it as they go out (`crate::delivery::counted`),
/// as `kind` says.
pub async fn get_signed_image(
    req: &Request,
    env: &Env,
    ctx: &Context,
    sha256: &str,
    kind: Download,
) -> AppResult<Response> {
    let to = check_signed(req, env)?;
    if let Some(to) = &to {
        refuse_cancelled(env, to).await?;
    }
    let (mut resp, size, range) = image_answer(req, env, sha256).await?;
    if kind == Download::Notice || !public_images(env) || to.is_some() {
        // Each URL is one device's capability for an hour: no shared cache should keep it (nor
        // serve its bytes past the counter).
        resp.headers_mut()
            .set("Cache-Control", "private, max-age=3600")?;
    }
    let Some(to) = to.filter(|_| req.method() == worker::Method::Get) else {
        return Ok(resp);
    };
    if range == RangeAnswer::Unsatisfiable {
        return Ok(resp);
    }
    let head = range.head(size);
    let (env, sha256) = (env.clone(), sha256.to_string());
    crate::delivery::counted(ctx, resp, head.length, move |bytes| async move {
        if bytes == 0 {
            return;
        }
        let told = match kind {
            Download::Redirect => {
                crate::delivery::handed_to(&env, &to, &sha256, size, head.start, bytes).await
            }
            Download::Notice => crate::delivery::notice_bytes(&env, &to, bytes).await,
        };
        if let Err(e) = told {
            e.log();
        }
    })
}

/// A URL handed to a device for a plan it was since cancelled out of is refused (`403
/// job_cancelled`): the cancel reaches a download already under way at its next request.
async fn refuse_cancelled(env: &Env, to: &Recipient) -> AppResult<()> {
    let Some(parts) = to.plan_parts() else {
        return Ok(());
    };
    let plan = store::plan(env, parts.project, parts.firmware).await?;
    if plan.is_some_and(|p| p.cancels(&to.device)) {
        return Err(AppError::Status {
            status: 403,
            code: "job_cancelled",
            message: "an operator cancelled this device's upgrade".into(),
        });
    }
    Ok(())
}

/// The image's bytes for `req`'s range, once the URL was accepted, with the image's size and the
/// range answered. The record comes from isolate memory when this isolate saw the image within
/// [`image_cache::RECORD_TTL_MS`], else from the one R2 read that also fills memory or the Cache API.
async fn image_answer(
    req: &Request,
    env: &Env,
    sha256: &str,
) -> AppResult<(Response, u64, RangeAnswer)> {
    let valid = sha256.len() == 64
        && sha256
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if !valid {
        return Err(AppError::NotFound("image".into()));
    }
    let record = match image_cache::record(sha256, store::now()) {
        Some(record) => record,
        None => image_cache::load(env, sha256)
            .await?
            .ok_or_else(|| AppError::NotFound("image".into()))?,
    };
    let image = ImageRef {
        sha256: sha256.to_string(),
        md5: record.md5,
        size: record.size,
        module: fota_shared::model::plan::DEFAULT_MODULE.into(),
    };
    let range = answer(req.headers().get("Range")?.as_deref(), image.size);
    let Some(mut resp) = serve(env, &image, range).await? else {
        return Err(AppError::NotFound("image".into()));
    };
    resp.headers_mut().set("Cache-Control", IMMUTABLE)?;
    Ok((resp, image.size, range))
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
    (!base.is_empty()).then(|| {
        format!(
            "{}/{}",
            base.trim_end_matches('/'),
            store::image_key(sha256)
        )
    })
}

/// Health answer for load balancers and the bench baseline. With `EXPOSE_METRICS=true` (benches
/// only) it also carries this isolate's storage-call counters.
pub fn healthz(env: &Env) -> Response {
    let expose = env
        .var("EXPOSE_METRICS")
        .is_ok_and(|v| v.to_string() == "true");
    if expose {
        return json_response(
            200,
            &serde_json::json!({ "ok": true, "isolate": crate::metrics::snapshot() }),
        );
    }
    json_response(200, &serde_json::json!({ "ok": true }))
}
