//! The admin API v1: projects, firmware images, plans, and the fleet registry. Every route
//! requires the bearer token (see `auth`); every error leaves through `AppError`.

use crate::error::{json_response, AppError, AppResult};
use crate::store::{self, DeviceFilter};
use fota_shared::api::{DeviceList, Firmware, FirmwareList, ImageRef, Plan, PlanList, PlanSpec, ProjectList, ProjectSpec, UploadReceipt};
use fota_shared::luat::{percent_decode, valid_device_id, valid_name};
use fota_shared::plan::normalize;
use fota_shared::time::rfc3339;
use fota_shared::version::Version;
use futures_util::StreamExt;
use md5::Md5;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use worker::{Env, Method, Request, Response};

/// Largest JSON body (a plan listing 100 000 device ids fits).
pub const MAX_JSON_BYTES: u64 = 8 * 1024 * 1024;
/// Largest image accepted when `MAX_IMAGE_BYTES` is not configured.
pub const DEFAULT_MAX_IMAGE_BYTES: u64 = 32 * 1024 * 1024;

/// Routes `/admin/v1/<rest>`; `rest` holds the raw (still encoded) path segments.
pub async fn route(mut req: Request, env: &Env, rest: &[&str]) -> AppResult<Response> {
    crate::auth::require_admin(&req, env)?;
    let segs: Vec<String> = rest.iter().map(|s| percent_decode(s)).collect();
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    let method = req.method();
    use Method::*;
    match (method, segs.as_slice()) {
        (Get, ["projects"]) => Ok(json_response(200, &ProjectList { projects: store::list_projects(env).await? })),
        (Put, ["projects", key]) => put_project(&mut req, env, key).await,
        (Get, ["projects", key]) => Ok(json_response(200, &project(env, key).await?)),
        (Get, ["projects", key, "firmware"]) => {
            project(env, key).await?;
            Ok(json_response(200, &FirmwareList { firmware: store::list_firmware(env, key, None).await? }))
        }
        (Put, ["projects", key, "firmware", fw, version]) => upload(&mut req, env, key, fw, version).await,
        (Get, ["projects", key, "firmware", fw, version]) => Ok(json_response(200, &firmware(env, key, fw, version).await?)),
        (Delete, ["projects", key, "firmware", fw, version]) => delete_firmware(env, key, fw, version).await,
        (Get, ["projects", key, "plans"]) => {
            project(env, key).await?;
            Ok(json_response(200, &PlanList { plans: store::list_plans(env, key).await? }))
        }
        (Put, ["projects", key, "plans", fw]) => put_plan(&mut req, env, key, fw).await,
        (Get, ["projects", key, "plans", fw]) => {
            project(env, key).await?;
            let plan = store::list_plans(env, key).await?.into_iter().find(|p| p.firmware_name == *fw);
            Ok(json_response(200, &plan.ok_or_else(|| AppError::NotFound(format!("plan for {fw}")))?))
        }
        (Delete, ["projects", key, "plans", fw]) => {
            project(env, key).await?;
            store::delete_plan(env, key, fw).await?;
            Ok(Response::empty()?.with_status(204))
        }
        (Get, ["projects", key, "devices"]) => list_devices(&req, env, key).await,
        (Get, ["projects", key, "devices", id]) => {
            let device = store::device(env, key, id).await?;
            Ok(json_response(200, &device.ok_or_else(|| AppError::NotFound(format!("device {id}")))?))
        }
        (Post, ["projects", key, "devices", id, "unban"]) => {
            let device = store::unban(env, key, id).await?;
            crate::cache::forget_seen(id);
            Ok(json_response(200, &device.ok_or_else(|| AppError::NotFound(format!("device {id}")))?))
        }
        (_, path) if known_shape(path) => Err(AppError::MethodNotAllowed),
        _ => Err(AppError::NotFound("route".into())),
    }
}

fn known_shape(path: &[&str]) -> bool {
    matches!(
        path,
        ["projects"]
            | ["projects", _]
            | ["projects", _, "firmware"]
            | ["projects", _, "firmware", _, _]
            | ["projects", _, "plans"]
            | ["projects", _, "plans", _]
            | ["projects", _, "devices"]
            | ["projects", _, "devices", _]
            | ["projects", _, "devices", _, "unban"]
    )
}

async fn project(env: &Env, key: &str) -> AppResult<fota_shared::api::Project> {
    store::project(env, key).await?.ok_or_else(|| AppError::NotFound(format!("project {key}")))
}

async fn firmware(env: &Env, key: &str, fw: &str, version: &str) -> AppResult<Firmware> {
    store::firmware(env, key, fw, version).await?.ok_or_else(|| AppError::NotFound(format!("firmware {fw} {version}")))
}

/// Reads a body, refusing it with 413 as soon as it passes `limit` bytes.
async fn read_capped(req: &mut Request, limit: u64) -> AppResult<Vec<u8>> {
    if let Some(len) = req.headers().get("Content-Length")?.and_then(|l| l.parse::<u64>().ok()) {
        if len > limit {
            return Err(AppError::PayloadTooLarge(limit));
        }
    }
    let mut body = Vec::new();
    let mut stream = match req.stream() {
        Ok(s) => s,
        // No body at all.
        Err(_) => return Ok(body),
    };
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        if body.len() as u64 + chunk.len() as u64 > limit {
            return Err(AppError::PayloadTooLarge(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

async fn read_json<T: DeserializeOwned>(req: &mut Request) -> AppResult<T> {
    let body = read_capped(req, MAX_JSON_BYTES).await?;
    serde_json::from_slice(&body).map_err(|e| AppError::bad("invalid_json", e.to_string()))
}

async fn put_project(req: &mut Request, env: &Env, key: &str) -> AppResult<Response> {
    if !valid_name(key) || key.len() > 64 {
        return Err(AppError::bad("invalid_project_key", "project key must be 1-64 printable characters without / \\ \""));
    }
    let spec: ProjectSpec = read_json(req).await?;
    let name = spec.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(AppError::bad("invalid_name", "name must be 1-200 characters"));
    }
    if spec.ban_after.is_some_and(|b| !(1..=1000).contains(&b)) {
        return Err(AppError::bad("invalid_ban_after", "ban_after must be 1-1000"));
    }
    Ok(json_response(200, &store::put_project(env, key, name, spec.ban_after).await?))
}

fn check_firmware_path(fw: &str, version: &str) -> AppResult<()> {
    if !valid_name(fw) {
        return Err(AppError::bad("invalid_firmware_name", "firmware name must be 1-128 printable characters without / \\ \""));
    }
    Version::parse(version).map_err(|e| AppError::bad("invalid_version", e.to_string()))?;
    Ok(())
}

async fn upload(req: &mut Request, env: &Env, key: &str, fw: &str, version: &str) -> AppResult<Response> {
    project(env, key).await?;
    check_firmware_path(fw, version)?;
    let limit = env
        .var("MAX_IMAGE_BYTES")
        .ok()
        .and_then(|v| v.to_string().parse().ok())
        .unwrap_or(DEFAULT_MAX_IMAGE_BYTES);
    let claimed = req.headers().get("X-Content-SHA256")?.map(|h| h.trim().to_ascii_lowercase());
    let bytes = read_capped(req, limit).await?;
    if bytes.is_empty() {
        return Err(AppError::bad("empty_image", "the image is empty"));
    }
    let sha256 = hex::encode(Sha256::digest(&bytes));
    let md5 = hex::encode(Md5::digest(&bytes));
    if claimed.as_ref().is_some_and(|c| *c != sha256) {
        return Err(AppError::bad("digest_mismatch", format!("X-Content-SHA256 does not match the received bytes ({sha256})")));
    }
    let receipt = UploadReceipt { sha256: sha256.clone(), md5: md5.clone(), size: bytes.len() as u64 };
    if let Some(existing) = store::firmware(env, key, fw, version).await? {
        return if existing.sha256 == sha256 {
            Ok(json_response(200, &receipt))
        } else {
            Err(AppError::conflict("version_exists", format!("{fw} {version} already exists with other bytes ({})", existing.sha256)))
        };
    }
    let now = store::now();
    let bucket = store::bucket(env)?;
    let r2_key = store::image_key(&sha256);
    if bucket.head(&r2_key).await?.is_none() {
        let meta = HashMap::from([
            ("sha256".to_string(), sha256.clone()),
            ("md5".to_string(), md5.clone()),
            ("size".to_string(), bytes.len().to_string()),
        ]);
        let digest = Sha256::digest(&bytes).to_vec();
        // R2 checks the sha256 itself, so a corrupted write is refused rather than stored.
        bucket.put(&r2_key, bytes).custom_metadata(meta).sha256(digest).execute().await?;
    }
    let record = Firmware {
        firmware_name: fw.to_string(),
        version: version.to_string(),
        sha256: sha256.clone(),
        md5,
        size: receipt.size,
        uploaded_at: rfc3339(now),
    };
    if !store::insert_firmware(env, key, &record, now).await? {
        // Another upload of the same version won the race: same answer as a repeat.
        let existing = firmware(env, key, fw, version).await?;
        if existing.sha256 != sha256 {
            return Err(AppError::conflict("version_exists", format!("{fw} {version} already exists with other bytes")));
        }
        return Ok(json_response(200, &receipt));
    }
    Ok(json_response(201, &receipt))
}

async fn delete_firmware(env: &Env, key: &str, fw: &str, version: &str) -> AppResult<Response> {
    let record = firmware(env, key, fw, version).await?;
    let in_use = store::list_plans(env, key).await?.into_iter().any(|p| p.image.sha256 == record.sha256 && p.firmware_name == fw);
    if in_use {
        return Err(AppError::conflict("in_use", format!("a plan for {fw} targets {version}; change or delete the plan first")));
    }
    store::delete_firmware(env, key, fw, version).await?;
    if store::image_references(env, &record.sha256).await? == 0 {
        store::bucket(env)?.delete(store::image_key(&record.sha256)).await?;
    }
    Ok(Response::empty()?.with_status(204))
}

async fn put_plan(req: &mut Request, env: &Env, key: &str, fw: &str) -> AppResult<Response> {
    project(env, key).await?;
    if !valid_name(fw) {
        return Err(AppError::bad("invalid_firmware_name", "firmware name must be 1-128 printable characters without / \\ \""));
    }
    let spec: PlanSpec = read_json(req).await?;
    let spec = normalize(spec).map_err(|e| AppError::bad("invalid_plan", e.to_string()))?;
    let target = Version::parse(&spec.target_version).map_err(|e| AppError::bad("invalid_plan", e.to_string()))?;
    let image = store::list_firmware(env, key, Some(fw))
        .await?
        .into_iter()
        .find(|f| Version::parse(&f.version).is_ok_and(|v| v == target))
        .ok_or_else(|| {
            AppError::conflict("firmware_missing", format!("upload {fw} version {} before planning it", spec.target_version))
        })?;
    let plan = Plan {
        project_key: key.to_string(),
        firmware_name: fw.to_string(),
        spec,
        image: ImageRef { sha256: image.sha256, md5: image.md5, size: image.size },
        updated_at: rfc3339(store::now()),
    };
    store::put_plan(env, &plan).await?;
    Ok(json_response(200, &plan))
}

async fn list_devices(req: &Request, env: &Env, key: &str) -> AppResult<Response> {
    project(env, key).await?;
    let url = req.url()?;
    let params: HashMap<String, String> = url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    let limit = match params.get("limit") {
        None => 100,
        Some(l) => l.parse::<u32>().ok().filter(|l| (1..=1000).contains(l)).ok_or_else(|| AppError::bad("invalid_limit", "limit must be 1-1000"))?,
    };
    let banned = match params.get("banned").map(String::as_str) {
        None | Some("") => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(_) => return Err(AppError::bad("invalid_banned", "banned must be true or false")),
    };
    let nonempty = |k: &str| params.get(k).filter(|v| !v.is_empty()).cloned();
    let after = nonempty("cursor");
    if after.as_deref().is_some_and(|c| !valid_device_id(c)) {
        return Err(AppError::bad("invalid_cursor", "cursor is not one this API gave out"));
    }
    let filter = DeviceFilter {
        after,
        q: nonempty("q"),
        version: nonempty("version"),
        firmware_name: nonempty("firmware_name"),
        banned,
        limit,
    };
    let (devices, more) = store::list_devices(env, key, &filter).await?;
    let next_cursor = if more { devices.last().map(|d| d.id.clone()) } else { None };
    Ok(json_response(200, &DeviceList { devices, next_cursor }))
}
