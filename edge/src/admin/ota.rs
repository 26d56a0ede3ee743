//! Module-OTA administration: provisioning, re-keying and de-provisioning JSON devices (a secret
//! is shown once, in the answer that issues its key generation; derived, never stored), the owner's confirmation of held jobs, check-now pushes, and notice signing keys.

use super::{ok, project, read_json, Call};
use crate::error::{AppError, AppResult};
use crate::keys;
use crate::ota;
use crate::store;
use fota_shared::api::device::push_command;
use fota_shared::api::ota::{
    CheckNowResult, ConfirmResult, ConfirmSkipped, ConfirmSpec, Job, JobInfo, JobList, Protocol,
    ProvisionSpec, Provisioned, ProvisionedDevice, RotateSpec, SigningKeyInfo, SigningKeyList,
};
use fota_shared::api::query::JobsQuery;
use fota_shared::leaf::ids::valid_device_id;
use fota_shared::model::event::EventType;
use fota_shared::model::job::JobPhase;
use fota_shared::rules::decide::Enrolment;
use fota_shared::rules::device_auth::{device_secret, issuing_master};
use fota_shared::rules::luat_sign::LuatKey;
use fota_shared::rules::notice::active_key;
use fota_shared::rules::plan::in_device_set;
use worker::Response;

/// Most devices one provisioning or confirmation call may name.
const MAX_BATCH: usize = 1000;

pub async fn provision(call: &mut Call<'_>) -> AppResult<Response> {
    let key = call.param(0).to_string();
    project(call.env, &key).await?;
    let masters = keys::require_masters(call.env)?;
    let master =
        issuing_master(&masters).ok_or_else(|| AppError::Unavailable("no master key".into()))?;
    let spec: ProvisionSpec = read_json(&mut call.req).await?;
    if spec.devices.is_empty() || spec.devices.len() > MAX_BATCH {
        return Err(AppError::bad(
            "invalid_devices",
            format!("name 1-{MAX_BATCH} devices"),
        ));
    }
    if let Some(bad) = spec.devices.iter().find(|d| !valid_device_id(d)) {
        return Err(AppError::bad(
            "invalid_device_id",
            format!("device id {bad:?} is not valid"),
        ));
    }
    let now = store::now();
    let mut ids = spec.devices.clone();
    ids.sort();
    ids.dedup();
    // Refuse ids another project owns before anything changes: a secret issued by a call that
    // then fails would never be shown.
    let taken = |owners: &std::collections::HashMap<String, String>| -> Vec<String> {
        ids.iter()
            .filter(|id| owners.get(*id).is_some_and(|p| p != &key))
            .cloned()
            .collect()
    };
    let before = taken(&store::devices::owners(call.env, &ids).await?);
    if !before.is_empty() {
        return Err(AppError::conflict(
            "device_owned_elsewhere",
            format!("bound to another project: {before:?}; nothing changed"),
        ));
    }
    // Ids provisioned under the other protocol: refused before any secret is issued.
    let mismatched = store::provisioning::other_protocol(call.env, &ids, spec.protocol).await?;
    if !mismatched.is_empty() {
        return Err(AppError::conflict(
            "device_protocol_differs",
            format!(
                "provisioned already for another protocol (de-provision them first): {mismatched:?}"
            ),
        ));
    }
    // A new key generation for each new id (every id when re-keying); the rest keep theirs.
    let issued = store::provisioning::provision(
        call.env,
        &key,
        &ids,
        now,
        master.version,
        spec.rekey,
        spec.protocol,
    )
    .await?;
    let issued_ids: std::collections::BTreeSet<&String> =
        issued.iter().map(|(id, _, _)| id).collect();
    let kept: Vec<String> = ids
        .iter()
        .filter(|id| !issued_ids.contains(id))
        .cloned()
        .collect();
    if !kept.is_empty() {
        // Not issued: provisioned already, unless another project bound the id meanwhile.
        let raced = taken(&store::devices::owners(call.env, &kept).await?);
        if !raced.is_empty() {
            return Err(AppError::conflict(
                "device_owned_elsewhere",
                format!("bound to another project: {raced:?}"),
            ));
        }
    }

    // Ids that had no row have no copy anywhere: their first check reads D1 (`crate::owner`).
    let owners: Vec<(String, store::devices::Owner)> = issued
        .iter()
        .filter(|(_, _, new)| !new)
        .map(|(id, generation, _)| {
            (
                id.clone(),
                enrolled(&key, spec.protocol, *generation, master.version),
            )
        })
        .collect();
    crate::owner::enrolled(call.env, &owners).await;
    store::touch_bindings(call.env, &key).await?;
    let devices: Vec<ProvisionedDevice> = issued
        .iter()
        .map(|(id, generation, _)| ProvisionedDevice {
            id: id.clone(),
            secret: device_secret(master, &key, id, *generation),
        })
        .collect();
    let kind = match (spec.rekey, spec.protocol) {
        (true, _) => "rekeyed",
        (false, Protocol::Json) => "provisioned",
        (false, Protocol::Luat) => "registered",
    };
    let entries: Vec<(String, String)> = issued
        .iter()
        .map(|(id, generation, _)| {
            let detail = format!(
                "by {}, key generation {generation}, master key {}",
                call.actor.name, master.version
            );
            (id.clone(), detail)
        })
        .collect();
    let events = store::fleet::device_events_stmts(call.env, &key, &entries, kind)?;
    if !events.is_empty() {
        store::batch(call.env, events).await?;
    }
    // The audit entry names the devices, never their secrets.
    let after = serde_json::json!({ "issued": issued.iter().map(|(id, _, _)| id).collect::<Vec<_>>(), "already_provisioned": kept, "rekey": spec.rekey, "protocol": spec.protocol });
    let verb = match (spec.rekey, spec.protocol) {
        (true, _) => "re-key",
        (false, Protocol::Json) => "provision",
        (false, Protocol::Luat) => "register",
    };
    call.changed(
        Some(&key),
        format!("{verb} {} devices", ids.len()),
        None::<&()>,
        Some(&after),
    );
    let status = if devices.is_empty() { 200 } else { 201 };
    let mut resp = ok(
        status,
        &Provisioned {
            devices,
            already_provisioned: kept,
        },
    )?;
    // The answer may carry secrets: no cache on the way may keep it.
    resp.headers_mut().set("Cache-Control", "no-store")?;
    Ok(resp)
}

/// The binding of a device an operator just provisioned (JSON) or registered (Luat).
fn enrolled(
    project: &str,
    protocol: Protocol,
    generation: i64,
    master: u32,
) -> store::devices::Owner {
    let (enrolment, key) = match protocol {
        Protocol::Json => (Enrolment::Json, None),
        Protocol::Luat => (
            Enrolment::Registered,
            Some(LuatKey {
                master_version: master,
                generation,
            }),
        ),
    };
    store::devices::Owner {
        project: project.to_string(),
        enrolment,
        key,
        first_seen: 0,
    }
}

/// Clears a JSON device's provisioning: its signed requests are refused from now on.
pub async fn deprovision(call: &mut Call<'_>) -> AppResult<Response> {
    let (key, id) = (call.param(0).to_string(), call.param(1).to_string());
    project(call.env, &key).await?;
    let device = store::device(call.env, &key, &id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("device {id}")))?;
    if !store::provisioning::deprovision(call.env, &key, &id).await? {
        return Err(AppError::conflict(
            "not_provisioned",
            format!("device {id} is not provisioned"),
        ));
    }
    // KV's copy of the binding no longer marks it provisioned or registered.
    let owner = store::devices::Owner {
        project: key.clone(),
        enrolment: Enrolment::Bound,
        key: None,
        first_seen: 0,
    };
    crate::owner::rebind(call.env, &id, &owner).await;
    store::touch_bindings(call.env, &key).await?;
    store::device_event(
        call.env,
        &key,
        &id,
        "deprovisioned",
        &format!("by {}", call.actor.name),
    )
    .await?;
    call.changed(
        Some(&key),
        format!("deprovision {id}"),
        Some(&device),
        None::<&()>,
    );
    super::no_content()
}

async fn confirm_one(call: &Call<'_>, key: &str, id: &str) -> AppResult<Result<(), String>> {
    Ok(match ota::confirm(call.env, key, id).await? {
        None => Err("no job".into()),
        Some(Err(())) => Err("job is not awaiting confirmation (or the rollout holds it)".into()),
        Some(Ok(_)) => Ok(()),
    })
}

pub async fn confirm_device(call: &mut Call<'_>) -> AppResult<Response> {
    let (key, id) = (call.param(0).to_string(), call.param(1).to_string());
    project(call.env, &key).await?;
    match confirm_one(call, &key, &id).await? {
        Ok(()) => {
            call.changed(Some(&key), format!("confirm {id}"), None::<&()>, Some(&id));
            let data = serde_json::json!({ "device_id": id, "actor": call.actor.name });
            call.tell(&key, EventType::JobConfirmed, data);
            ok(
                200,
                &ConfirmResult {
                    confirmed: vec![id],
                    skipped: vec![],
                },
            )
        }
        Err(reason) if reason == "no job" => Err(AppError::NotFound(format!("job of device {id}"))),
        Err(reason) => Err(AppError::conflict("not_awaiting_confirmation", reason)),
    }
}

pub async fn confirm_many(call: &mut Call<'_>) -> AppResult<Response> {
    let key = call.param(0).to_string();
    project(call.env, &key).await?;
    let spec: ConfirmSpec = read_json(&mut call.req).await?;
    if spec.devices.is_empty() || spec.devices.len() > MAX_BATCH {
        return Err(AppError::bad(
            "invalid_devices",
            format!("name 1-{MAX_BATCH} devices"),
        ));
    }
    let mut result = ConfirmResult {
        confirmed: vec![],
        skipped: vec![],
    };
    for id in &spec.devices {
        match confirm_one(call, &key, id).await? {
            Ok(()) => result.confirmed.push(id.clone()),
            Err(reason) => result.skipped.push(ConfirmSkipped {
                id: id.clone(),
                reason,
            }),
        }
    }
    for id in &result.confirmed {
        let data = serde_json::json!({ "device_id": id, "actor": call.actor.name });
        call.tell(&key, EventType::JobConfirmed, data);
    }
    call.changed(
        Some(&key),
        format!("confirm {} devices", result.confirmed.len()),
        None::<&()>,
        Some(&result),
    );
    ok(200, &result)
}

pub async fn jobs(call: &mut Call<'_>) -> AppResult<Response> {
    let key = call.param(0).to_string();
    project(call.env, &key).await?;
    let JobsQuery { phase } = super::query(call, JobsQuery::from_pairs)?;
    let jobs = store::jobs::list(call.env, &key, phase.map(JobPhase::as_str)).await?;
    ok(
        200,
        &JobList {
            jobs: jobs
                .into_iter()
                .map(|(device_id, job)| JobInfo {
                    device_id,
                    job: Job::from(&job),
                })
                .collect(),
        },
    )
}

fn check_url(call: &Call<'_>, key: &str, id: &str) -> AppResult<String> {
    let origin = crate::images::self_base(&call.req, call.env)?;
    Ok(format!("{origin}/ota/device/upgrade/{key}/{id}"))
}

pub async fn check_now_device(call: &mut Call<'_>) -> AppResult<Response> {
    let (key, id) = (call.param(0).to_string(), call.param(1).to_string());
    project(call.env, &key).await?;
    store::device(call.env, &key, &id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("device {id}")))?;
    let reached = ota::push(
        call.env,
        &key,
        &id,
        &push_command(&check_url(call, &key, &id)?),
    )
    .await?;
    call.changed(
        Some(&key),
        format!("check-now {id}"),
        None::<&()>,
        Some(&reached),
    );
    ok(
        200,
        &CheckNowResult {
            devices: 1,
            reached,
        },
    )
}

pub async fn check_now_plan(call: &mut Call<'_>) -> AppResult<Response> {
    let (key, fw) = (call.param(0).to_string(), call.param(1).to_string());
    project(call.env, &key).await?;
    let plan = store::fresh_plan(call.env, &key, &fw)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("plan for {fw}")))?;
    let ids = store::provisioning::provisioned_ids(call.env, &key).await?;
    let mut result = CheckNowResult {
        devices: 0,
        reached: 0,
    };
    for id in ids.iter().filter(|id| in_device_set(&plan.spec, id)) {
        result.devices += 1;
        result.reached += ota::push(
            call.env,
            &key,
            id,
            &push_command(&check_url(call, &key, id)?),
        )
        .await?;
    }
    call.changed(
        Some(&key),
        format!("check-now plan {fw}"),
        None::<&()>,
        Some(&result),
    );
    ok(200, &result)
}

pub async fn signing_keys(call: &mut Call<'_>) -> AppResult<Response> {
    let key = call.param(0).to_string();
    project(call.env, &key).await?;
    let masters = keys::require_masters(call.env)?;
    let now = store::now();
    // An operator reading the keys learns at once when the active one cannot sign any more.
    if let Err(
        e @ AppError::Status {
            code: "master_key_missing",
            ..
        },
    ) = keys::active(call.env, &masters, &key, now).await
    {
        return Err(e);
    }
    let keys = keys::public_keys(call.env, &masters, &key, now).await?;
    let active = active_key(&keys, now)
        .map(|k| k.id.clone())
        .unwrap_or_default();
    ok(
        200,
        &SigningKeyList {
            active,
            keys: keys.iter().map(SigningKeyInfo::from).collect(),
        },
    )
}

pub async fn rotate_key(call: &mut Call<'_>) -> AppResult<Response> {
    let key = call.param(0).to_string();
    project(call.env, &key).await?;
    let masters = keys::require_masters(call.env)?;
    let body = super::read_capped(&mut call.req, super::MAX_JSON_BYTES).await?;
    let spec: RotateSpec = if body.iter().all(u8::is_ascii_whitespace) {
        RotateSpec::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| AppError::bad("invalid_json", e.to_string()))?
    };
    let overlap = spec.overlap_s.unwrap_or(keys::DEFAULT_OVERLAP_S);
    if overlap > 365 * 24 * 3600 {
        return Err(AppError::bad(
            "invalid_overlap",
            "overlap_s is at most a year",
        ));
    }
    let now = store::now();
    let before: Vec<SigningKeyInfo> = keys::public_keys(call.env, &masters, &key, now)
        .await?
        .iter()
        .map(SigningKeyInfo::from)
        .collect();
    let keys = keys::rotate(call.env, &masters, &key, overlap, now).await?;
    let active = active_key(&keys, now)
        .map(|k| k.id.clone())
        .unwrap_or_default();
    let answer = SigningKeyList {
        active,
        keys: keys.iter().map(SigningKeyInfo::from).collect(),
    };
    call.changed(
        Some(&key),
        "signing keys".to_string(),
        Some(&before),
        Some(&answer),
    );
    ok(200, &answer)
}
