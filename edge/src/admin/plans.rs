//! Plans (who gets which version) and their rollouts: status with counts, and the operator's
//! controls. Writing a plan for a new target starts a new rollout; editing the same target
//! reconciles the running one with the new rules.

use super::{no_content, ok, project, read_json, Call};
use crate::error::{AppError, AppResult};
use crate::rollout::{self, Rollout};
use crate::store;
use fota_shared::api::catalog::Firmware;
use fota_shared::api::plans::{rollout_status, PackageServed, PlanList, TrustBasis};
use fota_shared::api::preview::VersionFacts;
use fota_shared::leaf::ids::valid_name;
use fota_shared::leaf::time::rfc3339;
use fota_shared::leaf::version::Version;
use fota_shared::model::event::EventType;
use fota_shared::model::plan::{ImageRef, Package, Plan, PlanSpec};
use fota_shared::model::rollout::RolloutAction;
use fota_shared::rules::events::{of_control, of_start, rollout_data, MovedBy};
use fota_shared::rules::package::{resolve, ResolveError};
use fota_shared::rules::plan::normalize;
use worker::Response;

pub async fn list(call: &mut Call<'_>) -> AppResult<Response> {
    project(call.env, call.param(0)).await?;
    ok(
        200,
        &PlanList {
            plans: store::list_plans(call.env, call.param(0)).await?,
        },
    )
}

async fn plan(call: &Call<'_>) -> AppResult<Plan> {
    let (key, fw) = (call.param(0), call.param(1));
    project(call.env, key).await?;
    store::fresh_plan(call.env, key, fw)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("plan for {fw}")))
}

pub async fn get(call: &mut Call<'_>) -> AppResult<Response> {
    ok(200, &plan(call).await?)
}

pub async fn delete(call: &mut Call<'_>) -> AppResult<Response> {
    let before = plan(call).await?;
    store::delete_plan(call.env, &before.project_key, &before.firmware_name).await?;
    call.changed(
        Some(&before.project_key),
        format!("plan {}", before.firmware_name),
        Some(&before),
        None::<&Plan>,
    );
    no_content()
}

/// The plan a `PUT` (or a preview) body stands for, checked and resolved to the target's
/// packages, and the plan it replaces. Nothing is stored.
async fn planned(call: &mut Call<'_>) -> AppResult<(Plan, Option<Plan>)> {
    let (key, fw) = (call.param(0).to_string(), call.param(1).to_string());
    project(call.env, &key).await?;
    if !valid_name(&fw) {
        return Err(AppError::bad(
            "invalid_firmware_name",
            "firmware name must be 1-128 printable characters without / \\ \"",
        ));
    }
    let spec: PlanSpec = read_json(&mut call.req).await?;
    let mut spec = normalize(spec).map_err(|e| AppError::bad("invalid_plan", e.to_string()))?;
    if let Some(r) = spec.rollout.take() {
        spec.rollout = Some(
            fota_shared::rules::rollout::normalize(r, &spec)
                .map_err(|e| AppError::bad("invalid_rollout", e.to_string()))?,
        );
    }
    if let Some(t) = spec.job_timeout_s {
        fota_shared::rules::rollout::check_job_timeout(t)
            .map_err(|e| AppError::bad("invalid_plan", e.to_string()))?;
    }
    let target = Version::parse(&spec.target_version)
        .map_err(|e| AppError::bad("invalid_plan", e.to_string()))?;
    let (image, packages) = resolve_packages(call.env, &key, &fw, &target)
        .await?
        .map_err(|e| match e {
            ResolveError::Missing(_) => AppError::conflict(
                "firmware_missing",
                format!(
                    "upload {fw} version {} before planning it",
                    spec.target_version
                ),
            ),
            mixed => AppError::conflict("package_modules_differ", mixed.to_string()),
        })?;
    let before = store::fresh_plan(call.env, &key, &fw).await?;
    // A rollout keeps its shards for life (a device's shard follows from their number); a new
    // target is a new rollout, sized for the plan's expected fleet.
    let same_target = before
        .as_ref()
        .filter(|b| Version::parse(&b.spec.target_version).is_ok_and(|v| v == target));
    let shards = match same_target {
        Some(b) => b.shards,
        None => fota_shared::rules::rollout::shards_for(
            spec.expected_devices,
            spec.rollout.as_ref().and_then(|r| r.max_per_minute),
        ),
    };
    let plan = Plan {
        project_key: key,
        firmware_name: fw,
        spec,
        image,
        packages,
        updated_at: rfc3339(store::now()),
        shards,
        // Devices cancelled out of the plan stay out of its next version until uncancelled.
        cancelled: before
            .as_ref()
            .map(|b| b.cancelled.clone())
            .unwrap_or_default(),
    };
    Ok((plan, before))
}

pub async fn put(call: &mut Call<'_>) -> AppResult<Response> {
    let (plan, before) = planned(call).await?;
    // The rollout row first: a plan visible to devices always has its rollout.
    let r = Rollout::of(&plan)?;
    rollout::reconcile(call.env, &r).await?;
    store::put_plan(call.env, &plan).await?;
    call.changed(
        Some(&plan.project_key),
        format!("plan {}", plan.firmware_name),
        before.as_ref(),
        Some(&plan),
    );
    let data = serde_json::json!({
        "firmware_name": plan.firmware_name,
        "target_version": plan.spec.target_version,
        "previous_target": before.as_ref().map(|b| &b.spec.target_version),
        "actor": call.actor.name,
    });
    call.tell(&plan.project_key, EventType::PlanChanged, data);
    let new_rollout = before
        .as_ref()
        .is_none_or(|b| b.spec.target_version != plan.spec.target_version);
    if new_rollout && plan.spec.rollout.is_some() {
        let state = rollout::state(call.env, &r).await?;
        let by = MovedBy::Operator(&call.actor.name);
        let data = rollout_data(&plan.firmware_name, &r.plan_id, by, &state);
        call.tell(&plan.project_key, of_start(&state), data);
    }
    ok(200, &plan)
}

/// `POST .../plans/{firmware_name}/preview`: what the body, saved, would do (per version the
/// package or why none, per stage the devices and bytes), from the registry's counts. Changes
/// nothing.
pub async fn preview(call: &mut Call<'_>) -> AppResult<Response> {
    let (plan, _) = planned(call).await?;
    let (key, fw) = (plan.project_key.as_str(), plan.firmware_name.as_str());
    let target = Version::parse(&plan.spec.target_version)
        .map_err(|e| AppError::bad("invalid_plan", e.to_string()))?;
    let target_key = fota_shared::rules::ban::target_key(fw, &target);
    let whole_fleet = plan.spec.devices.is_empty() && plan.spec.imei_ranges.is_empty();
    let all = store::preview::firmware_versions(call.env, key, fw).await?;
    let in_set = if whole_fleet {
        all.clone()
    } else {
        store::preview::set_versions(call.env, key, fw, &plan.spec).await?
    };
    let banned =
        store::preview::banned_versions(call.env, key, fw, &target_key, &plan.spec).await?;
    let outside = all
        .values()
        .sum::<u64>()
        .saturating_sub(in_set.values().sum::<u64>());
    let fleet: Vec<VersionFacts> = in_set
        .into_iter()
        .map(|(version, devices)| VersionFacts {
            banned: banned.get(&version).copied().unwrap_or(0),
            version,
            devices,
        })
        .collect();
    ok(
        200,
        &fota_shared::api::preview::preview(&plan, &fleet, outside),
    )
}

/// A catalog record as a plan's package.
pub fn package_of(f: &Firmware) -> Package {
    Package {
        image: ImageRef {
            sha256: f.sha256.clone(),
            md5: f.md5.clone(),
            size: f.size,
            module: f.module.clone(),
        },
        kind: f.kind,
        source_version: f.source_version.clone(),
    }
}

/// The packages of `target` in the catalog (`fota_shared::rules::package::resolve`).
async fn resolve_packages(
    env: &worker::Env,
    key: &str,
    fw: &str,
    target: &Version,
) -> AppResult<Result<(ImageRef, Vec<Package>), ResolveError>> {
    let records = store::list_firmware(env, key, Some(fw)).await?;
    Ok(resolve(
        records.iter().map(|f| (f.version.as_str(), package_of(f))),
        target,
    ))
}

/// A package of `version` was uploaded: the plan that targets it (if any) lists it from now
/// on. Its rollout is the same (the target did not change).
pub async fn refresh_packages(
    env: &worker::Env,
    key: &str,
    fw: &str,
    version: &str,
) -> AppResult<()> {
    let Ok(version) = Version::parse(version) else {
        return Ok(());
    };
    let Some(mut plan) = store::fresh_plan(env, key, fw).await? else {
        return Ok(());
    };
    if Version::parse(&plan.spec.target_version).ok().as_ref() != Some(&version) {
        return Ok(());
    }
    // Mixed modules: the plan keeps what it had (its next write names the conflict).
    if let Ok((image, packages)) = resolve_packages(env, key, fw, &version).await? {
        plan.image = image;
        plan.packages = packages;
        plan.updated_at = rfc3339(store::now());
        store::put_plan(env, &plan).await?;
    }
    Ok(())
}

pub async fn status(call: &mut Call<'_>) -> AppResult<Response> {
    let plan = plan(call).await?;
    let r = Rollout::of(&plan)?;
    rollout::sweep(call.env, &r).await?;
    crate::ota::sweep_jobs(call.env).await?;
    let state = rollout::state(call.env, &r).await?;
    let mut status = rollout_status(&r.spec, &state);
    let served = rollout::served(call.env, &r).await?;
    status.packages = plan
        .packages()
        .iter()
        .map(|p| PackageServed {
            kind: p.kind,
            source_version: p.source_version.clone(),
            sha256: p.image.sha256.clone(),
            size: p.image.size,
            served: served.get(&p.image.sha256).copied().unwrap_or(0),
        })
        .collect();
    let policy = store::project(call.env, &plan.project_key)
        .await?
        .map(|p| p.device_policy)
        .unwrap_or_default();
    status.trust = Some(TrustBasis::of(policy, &status));
    ok(200, &status)
}

pub async fn control(call: &mut Call<'_>, action: RolloutAction) -> AppResult<Response> {
    let plan = plan(call).await?;
    let r = Rollout::of(&plan)?;
    rollout::sweep(call.env, &r).await?;
    let before = rollout::state(call.env, &r).await?;
    let after = rollout::control(call.env, &r, action)
        .await?
        .map_err(|message| AppError::conflict("invalid_transition", message))?;
    let status = rollout_status(&r.spec, &after);
    if after.phase != before.phase || after.stage != before.stage {
        let by = MovedBy::Operator(&call.actor.name);
        let data = rollout_data(&plan.firmware_name, &r.plan_id, by, &after);
        call.tell(&plan.project_key, of_control(action, &after), data);
    }
    call.changed(
        Some(&plan.project_key),
        format!("rollout {} {}", plan.firmware_name, action.as_str()),
        Some(&rollout_status(&r.spec, &before)),
        Some(&status),
    );
    ok(200, &status)
}
