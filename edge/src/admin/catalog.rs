//! Projects and the firmware registry: images stored once in R2 under their sha256, their
//! metadata (module, kind, digests, uploader) in D1. Uploads are hashed as they arrive; with an
//! `X-Content-SHA256` header they stream to R2 in parts (up to `MAX_IMAGE_BYTES`, 100 MiB by
//! default), without one they are buffered (up to 32 MiB).

use super::{no_content, ok, project, query, read_capped, read_json, Call};
use crate::error::{AppError, AppResult};
use crate::store;
use fota_shared::api::catalog::{Firmware, FirmwareList, ProjectList, ProjectSpec, UploadReceipt};
use fota_shared::api::query::{PackageQuery, UploadDetails};
use fota_shared::leaf::ids::valid_name;
use fota_shared::leaf::time::rfc3339;
use fota_shared::leaf::version::Version;
use fota_shared::model::plan::DEFAULT_MODULE;
use fota_shared::rules::package;
use futures_util::StreamExt;
use md5::Md5;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use worker::{Env, Response};

/// Largest image accepted when `MAX_IMAGE_BYTES` is not configured.
pub const DEFAULT_MAX_IMAGE_BYTES: u64 = 100 * 1024 * 1024;
/// Largest image accepted without `X-Content-SHA256` (it is held in memory to be hashed first).
pub const MAX_BUFFERED_IMAGE_BYTES: u64 = 32 * 1024 * 1024;
/// Largest daily data budget per device (1 TiB; D1 stores it as a JavaScript number).
const MAX_DAILY_BYTES: u64 = 1 << 40;
/// R2 multipart part size: every part but the last has this size.
const PART_BYTES: usize = 8 * 1024 * 1024;

pub async fn list_projects(_call: &mut Call<'_>) -> AppResult<Response> {
    ok(
        200,
        &ProjectList {
            projects: store::list_projects(_call.env).await?,
        },
    )
}

pub async fn get_project(call: &mut Call<'_>) -> AppResult<Response> {
    ok(200, &project(call.env, call.param(0)).await?)
}

pub async fn put_project(call: &mut Call<'_>) -> AppResult<Response> {
    let key = call.param(0).to_string();
    if !valid_name(&key) || key.len() > 64 {
        return Err(AppError::bad(
            "invalid_project_key",
            "project key must be 1-64 printable characters without / \\ \"",
        ));
    }
    let spec: ProjectSpec = read_json(&mut call.req).await?;
    let name = spec.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(AppError::bad(
            "invalid_name",
            "name must be 1-200 characters",
        ));
    }
    if spec.ban_after.is_some_and(|b| !(1..=1000).contains(&b)) {
        return Err(AppError::bad(
            "invalid_ban_after",
            "ban_after must be 1-1000",
        ));
    }
    let before = store::project(call.env, &key).await?;
    if spec
        .daily_bytes_per_device
        .is_some_and(|b| b > MAX_DAILY_BYTES)
    {
        return Err(AppError::bad(
            "invalid_daily_bytes",
            format!("daily_bytes_per_device must be 0 (none) to {MAX_DAILY_BYTES}"),
        ));
    }
    let after = store::put_project(
        call.env,
        &key,
        name,
        spec.ban_after,
        spec.device_policy,
        spec.daily_bytes_per_device,
    )
    .await?;
    call.changed(
        Some(&key),
        format!("project {key}"),
        before.as_ref(),
        Some(&after),
    );
    ok(200, &after)
}

pub async fn list_firmware(call: &mut Call<'_>) -> AppResult<Response> {
    project(call.env, call.param(0)).await?;
    ok(
        200,
        &FirmwareList {
            firmware: store::list_firmware(call.env, call.param(0), None).await?,
        },
    )
}

async fn firmware(
    env: &Env,
    key: &str,
    fw: &str,
    version: &str,
    slot: &str,
) -> AppResult<Firmware> {
    store::firmware(env, key, fw, version, slot)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("firmware {fw} {version}{}", of_source(slot))))
}

/// How a package's slot reads in messages: nothing for the whole image.
fn of_source(slot: &str) -> String {
    if slot.is_empty() {
        String::new()
    } else {
        format!(" (delta from {slot})")
    }
}

/// `GET .../firmware/{name}/{version}[?source_version=]`: the whole image, or the delta for a
/// source version.
pub async fn get_firmware(call: &mut Call<'_>) -> AppResult<Response> {
    let slot = query(call, PackageQuery::from_pairs)?.slot();
    ok(
        200,
        &firmware(call.env, call.param(0), call.param(1), call.param(2), &slot).await?,
    )
}

fn is_sha256_hex(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

pub async fn upload(call: &mut Call<'_>) -> AppResult<Response> {
    let (key, fw, version) = (
        call.param(0).to_string(),
        call.param(1).to_string(),
        call.param(2).to_string(),
    );
    project(call.env, &key).await?;
    if !valid_name(&fw) {
        return Err(AppError::bad(
            "invalid_firmware_name",
            "firmware name must be 1-128 printable characters without / \\ \"",
        ));
    }
    Version::parse(&version).map_err(|e| AppError::bad("invalid_version", e.to_string()))?;
    let details = query(call, UploadDetails::from_pairs)?;
    let limit = call
        .env
        .var("MAX_IMAGE_BYTES")
        .ok()
        .and_then(|v| v.to_string().parse().ok())
        .unwrap_or(DEFAULT_MAX_IMAGE_BYTES);
    let claimed = call
        .req
        .headers()
        .get("X-Content-SHA256")?
        .map(|h| h.trim().to_ascii_lowercase());
    if claimed.as_deref().is_some_and(|c| !is_sha256_hex(c)) {
        return Err(AppError::bad(
            "invalid_digest",
            "X-Content-SHA256 must be 64 lowercase hex digits",
        ));
    }
    // A version holds one whole image and one delta per source version: an upload collides
    // only with the package in its own slot.
    let slot = package::slot(details.kind, details.source_version.as_deref());
    let existing = store::firmware(call.env, &key, &fw, &version, &slot).await?;
    if let (Some(existing), Some(claimed)) = (&existing, &claimed) {
        if existing.sha256 != *claimed {
            return Err(AppError::conflict(
                "version_exists",
                format!(
                    "{fw} {version}{} already exists with other bytes ({})",
                    of_source(&slot),
                    existing.sha256
                ),
            ));
        }
    }

    let receipt = match &claimed {
        Some(claimed) => stream_to_r2(call, claimed, limit).await?,
        None => buffer_to_r2(call, limit.min(MAX_BUFFERED_IMAGE_BYTES)).await.map_err(|e| match e {
            AppError::PayloadTooLarge(buffered) if buffered < limit => AppError::Status {
                status: 413,
                code: "payload_too_large",
                message: format!("body larger than {buffered} bytes: send X-Content-SHA256 to stream images up to {limit} bytes"),
            },
            other => other,
        })?,
    };
    if let Some(existing) = existing {
        return if existing.sha256 == receipt.sha256 {
            ok(200, &receipt)
        } else {
            Err(AppError::conflict(
                "version_exists",
                format!(
                    "{fw} {version}{} already exists with other bytes ({})",
                    of_source(&slot),
                    existing.sha256
                ),
            ))
        };
    }
    let now = store::now();
    let record = Firmware {
        firmware_name: fw.clone(),
        version: version.clone(),
        sha256: receipt.sha256.clone(),
        md5: receipt.md5.clone(),
        size: receipt.size,
        uploaded_at: rfc3339(now),
        module: details.module.unwrap_or_else(|| DEFAULT_MODULE.into()),
        kind: details.kind,
        source_version: details.source_version,
        notes: details.notes,
        uploader: Some(call.actor.name.clone()),
    };
    if !store::insert_firmware(call.env, &key, &record, now).await? {
        // Another upload of the same version won the race: same answer as a repeat.
        let existing = firmware(call.env, &key, &fw, &version, &slot).await?;
        if existing.sha256 != receipt.sha256 {
            return Err(AppError::conflict(
                "version_exists",
                format!("{fw} {version} already exists with other bytes"),
            ));
        }
        return ok(200, &receipt);
    }
    call.changed(
        Some(&key),
        format!("firmware {fw} {version}{}", of_source(&slot)),
        None::<&Firmware>,
        Some(&record),
    );
    // A plan that targets this version serves the new package from now on.
    super::plans::refresh_packages(call.env, &key, &fw, &version).await?;
    let data = serde_json::json!({
        "firmware_name": fw,
        "version": version,
        "source_version": record.source_version,
        "size": record.size,
        "sha256": record.sha256,
        "actor": call.actor.name,
    });
    call.tell(
        &key,
        fota_shared::model::event::EventType::ImageUploaded,
        data,
    );
    ok(201, &receipt)
}

/// Buffers the body (no digest was announced), hashes it, stores it if new.
async fn buffer_to_r2(call: &mut Call<'_>, limit: u64) -> AppResult<UploadReceipt> {
    let bytes = read_capped(&mut call.req, limit).await?;
    if bytes.is_empty() {
        return Err(AppError::bad("empty_image", "the image is empty"));
    }
    let digest = Sha256::digest(&bytes).to_vec();
    let receipt = UploadReceipt {
        sha256: hex::encode(&digest),
        md5: hex::encode(Md5::digest(&bytes)),
        size: bytes.len() as u64,
    };
    let bucket = store::bucket(call.env)?;
    let r2_key = store::image_key(&receipt.sha256);
    crate::metrics::r2(false);
    if bucket.head(&r2_key).await?.is_none() {
        // R2 checks the sha256 itself, so a corrupted write is refused rather than stored.
        crate::metrics::r2(true);
        bucket
            .put(&r2_key, bytes)
            .custom_metadata(image_metadata(&receipt))
            .sha256(digest)
            .execute()
            .await?;
    }
    Ok(receipt)
}

fn image_metadata(receipt: &UploadReceipt) -> HashMap<String, String> {
    HashMap::from([
        ("sha256".to_string(), receipt.sha256.clone()),
        ("md5".to_string(), receipt.md5.clone()),
        ("size".to_string(), receipt.size.to_string()),
    ])
}

/// Streams the body to R2 in parts while hashing it; the upload completes only when the bytes
/// match the announced sha256, so a wrong or broken upload never becomes visible.
async fn stream_to_r2(call: &mut Call<'_>, claimed: &str, limit: u64) -> AppResult<UploadReceipt> {
    if let Some(len) = call
        .req
        .headers()
        .get("Content-Length")?
        .and_then(|l| l.parse::<u64>().ok())
    {
        if len > limit {
            return Err(AppError::PayloadTooLarge(limit));
        }
    }
    let bucket = store::bucket(call.env)?;
    let r2_key = store::image_key(claimed);
    // Identical bytes already stored: hash the body to prove the claim, store nothing.
    crate::metrics::r2(false);
    let store_it = bucket.head(&r2_key).await?.is_none();
    let upload = if store_it {
        crate::metrics::r2(true);
        Some(bucket.create_multipart_upload(&r2_key).execute().await?)
    } else {
        None
    };
    let result = async {
        let mut sha = Sha256::new();
        let mut md5 = Md5::new();
        let mut size: u64 = 0;
        let mut pending: Vec<u8> = Vec::with_capacity(PART_BYTES);
        let mut parts = Vec::new();
        let mut stream = call
            .req
            .stream()
            .map_err(|_| AppError::bad("empty_image", "the image is empty"))?;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            size += chunk.len() as u64;
            if size > limit {
                return Err(AppError::PayloadTooLarge(limit));
            }
            sha.update(&chunk);
            md5.update(&chunk);
            if let Some(up) = &upload {
                pending.extend_from_slice(&chunk);
                while pending.len() >= PART_BYTES {
                    let rest = pending.split_off(PART_BYTES);
                    let part = std::mem::replace(&mut pending, rest);
                    crate::metrics::r2(true);
                    parts.push(up.upload_part(parts.len() as u16 + 1, part).await?);
                }
            }
        }
        if size == 0 {
            return Err(AppError::bad("empty_image", "the image is empty"));
        }
        let sha256 = hex::encode(sha.finalize());
        if sha256 != claimed {
            return Err(AppError::bad(
                "digest_mismatch",
                format!("X-Content-SHA256 does not match the received bytes ({sha256})"),
            ));
        }
        let receipt = UploadReceipt {
            sha256,
            md5: hex::encode(md5.finalize()),
            size,
        };
        if let Some(up) = &upload {
            if !pending.is_empty() {
                crate::metrics::r2(true);
                parts.push(
                    up.upload_part(parts.len() as u16 + 1, std::mem::take(&mut pending))
                        .await?,
                );
            }
        }
        Ok((receipt, parts))
    }
    .await;
    // A multipart object carries no md5 metadata (it is known only at the end); the image
    // route falls back to the firmware record for it.
    match (result, upload) {
        (Ok((receipt, parts)), Some(up)) => {
            crate::metrics::r2(true);
            up.complete(parts).await?;
            Ok(receipt)
        }
        (Ok((receipt, _)), None) => Ok(receipt),
        (Err(e), Some(up)) => {
            let _ = up.abort().await;
            Err(e)
        }
        (Err(e), None) => Err(e),
    }
}

pub async fn delete_firmware(call: &mut Call<'_>) -> AppResult<Response> {
    let (key, fw, version) = (
        call.param(0).to_string(),
        call.param(1).to_string(),
        call.param(2).to_string(),
    );
    let slot = query(call, PackageQuery::from_pairs)?.slot();
    let record = firmware(call.env, &key, &fw, &version, &slot).await?;
    let in_use = store::list_plans(call.env, &key)
        .await?
        .into_iter()
        .any(|p| {
            p.firmware_name == fw && p.packages().iter().any(|k| k.image.sha256 == record.sha256)
        });
    if in_use {
        return Err(AppError::conflict(
            "in_use",
            format!("a plan for {fw} targets {version}; change or delete the plan first"),
        ));
    }
    store::delete_firmware(call.env, &key, &fw, &version, &slot).await?;
    if store::image_references(call.env, &record.sha256).await? == 0 {
        store::bucket(call.env)?
            .delete(store::image_key(&record.sha256))
            .await?;
        crate::image_cache::forget(&record.sha256).await;
    }
    call.changed(
        Some(&key),
        format!("firmware {fw} {version}{}", of_source(&slot)),
        Some(&record),
        None::<&Firmware>,
    );
    no_content()
}
