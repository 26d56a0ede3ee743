//! Module OTA for JSON (Aliyun/HaaS-style) devices: report, notice, progress, push channel, and
//! the expiring download URL. Every device call is signed (see `fota_shared::rules::device_auth`) with
//! the one secret D1 says the provisioned device holds (its master key version and key
//! generation); a signature is accepted once.
//!
//! `productKey` is the project key and `deviceName` the device id. A device has one job at a time
//! (`fota_shared::rules::module_job`): the first module's job is offered, the next waits until the
//! device reports again. Offers, successes and failures go through the plan's rollout exactly as
//! Luat deliveries do.

use crate::error::{json_response, AppError, AppResult};
use crate::keys;
use crate::rollout::{self, Rollout};
use crate::store::{self, jobs};
use fota_shared::api::device::{build_notice, DeviceAck, NoticeImage};
use fota_shared::leaf::version::Version;
use fota_shared::model::job::{ActiveJob, JobPhase};
use fota_shared::model::plan::{ImageRef, Plan, DEFAULT_MODULE};
use fota_shared::rules::device_auth::{
    issuing_master, verify_device, DeviceKey, DeviceRequest, SIGNATURE_HEADER, TIMESTAMP_HEADER,
};
use fota_shared::rules::download_url::Recipient;
use fota_shared::rules::module_job::{self, JobDecision, JobOutcome};
use fota_shared::rules::module_ota::{self, MAX_MESSAGE_BYTES};
use fota_shared::rules::notice::{is_downgrade, NoticeSubject};
use fota_shared::rules::rollout_state::DeviceFailure;
use serde::Deserialize;
use worker::{Env, Method, Request, Response};

/// `/ota/device/{kind}/{productKey}/{deviceName}`.
pub async fn route(
    mut req: Request,
    env: &Env,
    kind: &str,
    product_key: &str,
    device_name: &str,
) -> AppResult<Response> {
    let method = req.method();
    let allowed = match kind {
        "inform" | "progress" => method == Method::Post,
        "upgrade" | "channel" => method == Method::Get,
        _ => return Err(AppError::NotFound("route".into())),
    };
    if !allowed {
        return Err(AppError::MethodNotAllowed);
    }
    let body = crate::body::read_capped(&mut req, MAX_MESSAGE_BYTES as u64).await?;
    authenticate(&req, env, &body, product_key, device_name).await?;
    // Counted once the signature holds, so only the device itself spends its budget; under its
    // own key, so Luat checks sent in its name (answered 70) spend none of it.
    let key = format!("ota/{product_key}/{device_name}");
    if !crate::check::within_device_rate(env, key).await {
        return Err(AppError::Status {
            status: 429,
            code: "device_rate_limited",
            message: "more than 30 requests from this device this minute; retry later".into(),
        });
    }
    match kind {
        "inform" => inform(env, product_key, device_name, &body).await,
        "progress" => progress(env, product_key, device_name, &body).await,
        "upgrade" => notice(&req, env, product_key, device_name).await,
        _ => channel(req, env, product_key, device_name).await,
    }
}

/// A refusal before the signature is checked says nothing about whether the device exists.
fn unauthorized(code: &'static str) -> AppError {
    AppError::Status {
        status: 401,
        code,
        message: "request not authenticated".into(),
    }
}

async fn authenticate(
    req: &Request,
    env: &Env,
    body: &[u8],
    product_key: &str,
    device_name: &str,
) -> AppResult<()> {
    let masters = keys::masters(env).ok_or(unauthorized("auth_unavailable"))?;
    let row = store::provisioning::auth_row(env, device_name).await?;
    let url = req.url()?;
    let target = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_string(),
    };
    let (timestamp, signature) = (
        req.headers().get(TIMESTAMP_HEADER)?,
        req.headers().get(SIGNATURE_HEADER)?,
    );
    let method = req.method();
    let request = DeviceRequest {
        method: method.as_ref(),
        path: &target,
        body,
        timestamp: timestamp.as_deref(),
        signature: signature.as_deref(),
    };
    let now = store::now();
    // The one secret the device holds now; an unknown or de-provisioned device is still verified
    // (against a secret nobody was given), so timing does not tell which names are provisioned.
    let recorded = row
        .as_ref()
        .filter(|r| r.project_key == product_key && r.is_json_device())
        .map(|r| DeviceKey {
            master_version: r.key.key_master_version.map(|v| v as u32),
            generation: r.key.key_generation.map_or(0, |g| g as i64),
        });
    let key = recorded.unwrap_or(DeviceKey {
        master_version: issuing_master(&masters).map(|m| m.version),
        generation: -1,
    });
    if let Some(v) = key
        .master_version
        .filter(|v| !masters.iter().any(|m| m.version == *v))
    {
        crate::logs::once("device_master_key_missing", &format!("a device's secret derives from master key version {v}, which DEVICE_MASTER_KEYS no longer lists; re-key it"));
    }
    let authorized = match (
        verify_device(&masters, product_key, device_name, key, &request, now),
        recorded,
    ) {
        (Ok(a), Some(_)) => a,
        (Err(e), _) => return Err(unauthorized(e.code())),
        (Ok(_), None) => return Err(unauthorized("auth_bad_signature")),
    };
    if !jobs::accept_once(env, &authorized.replay_key, authorized.replay_until_ms).await? {
        return Err(unauthorized("auth_replayed"));
    }
    if key.master_version.is_none() {
        // Provisioned before versions were recorded: from now on, this version only.
        store::provisioning::record_master_version(
            env,
            device_name,
            key.generation,
            authorized.master_version,
        )
        .await?;
    }
    Ok(())
}

fn ack(id: &str) -> AppResult<Response> {
    Ok(json_response(
        200,
        &DeviceAck {
            id: id.to_string(),
            code: 200,
            message: None,
        },
    ))
}

fn bad_message(body: &[u8], e: module_ota::MessageError) -> AppError {
    let id = module_ota::message_id(body).unwrap_or_default();
    AppError::Status {
        status: e.status(),
        code: e.code(),
        message: if id.is_empty() {
            e.to_string()
        } else {
            format!("{e} (id {id})")
        },
    }
}

// ---------------------------------------------------------------- jobs

async fn save_job(env: &Env, project: &str, device: &str, job: &ActiveJob) -> AppResult<()> {
    let timeout = job.offered_ms.map(|o| {
        o.saturating_add(
            i64::try_from(job.job_timeout_s)
                .unwrap_or(i64::MAX / 2)
                .saturating_mul(1000),
        )
    });
    let plan_id = plan_id_of(project, job);
    jobs::save(env, project, device, &plan_id, job, timeout).await
}

fn plan_id_of(project: &str, job: &ActiveJob) -> String {
    match Version::parse(&job.target_version) {
        Ok(v) => fota_shared::rules::rollout::plan_id(project, &job.firmware_name, &v),
        Err(_) => format!("{project}/{}@{}", job.firmware_name, job.target_version),
    }
}

/// The rollout a job counts in, when its plan still targets the job's version.
async fn job_rollout(env: &Env, project: &str, job: &ActiveJob) -> AppResult<Option<Rollout>> {
    let Some(plan) = store::fresh_plan(env, project, &job.firmware_name).await? else {
        return Ok(None);
    };
    let same =
        Version::parse(&plan.spec.target_version).ok() == Version::parse(&job.target_version).ok();
    Ok(if same {
        Some(Rollout::of(&plan)?)
    } else {
        None
    })
}

/// Carries out what a report or progress did to the device's job.
async fn settle_job(
    env: &Env,
    project: &str,
    device: &str,
    job: &ActiveJob,
    outcome: JobOutcome,
) -> AppResult<()> {
    match outcome {
        JobOutcome::Unchanged => Ok(()),
        JobOutcome::Updated(next) => save_job(env, project, device, &next).await,
        JobOutcome::Succeeded => {
            jobs::clear(env, device).await?;
            if let Some(r) = job_rollout(env, project, job).await? {
                rollout::succeed(env, &r, device).await?;
            }
            Ok(())
        }
        JobOutcome::Failed(cause) => {
            jobs::clear(env, device).await?;
            if let Some(r) = job_rollout(env, project, job).await? {
                rollout::fail(env, &r, device, DeviceFailure::Reported(cause)).await?;
            }
            Ok(())
        }
    }
}

// ---------------------------------------------------------------- report

async fn inform(env: &Env, project: &str, device: &str, body: &[u8]) -> AppResult<Response> {
    let report = module_ota::parse_report(body).map_err(|e| bad_message(body, e))?;
    let now = store::now();
    let mut batch = vec![jobs::report_stmt(
        env,
        device,
        &report.module,
        &report.version_text,
        now,
    )?];
    let whole_device = report.module == DEFAULT_MODULE;
    // The summary's seen hours follow the `last_seen` the report writes (read before it).
    batch.push(store::summary::seen_hours_stmt(
        env,
        &[(device, project, now)],
    )?);
    batch.push(store::provisioning::reported_stmt(
        env,
        device,
        now,
        whole_device,
        &report.version_text,
    )?);
    batch.push(store::device_event_stmt(
        env,
        project,
        device,
        "report",
        &format!(
            "{} {} (id {})",
            report.module, report.version_text, report.id
        ),
    )?);
    store::batch(env, batch).await?;
    if let Some(job) = jobs::load(env, device).await? {
        let outcome = module_job::on_report(&job, &report);
        settle_job(env, project, device, &job, outcome).await?;
    }
    ack(&report.id)
}

// ---------------------------------------------------------------- progress

async fn progress(env: &Env, project: &str, device: &str, body: &[u8]) -> AppResult<Response> {
    let report = module_ota::parse_progress(body).map_err(|e| bad_message(body, e))?;
    let now = store::now();
    let last = jobs::last_progress_ms(env, device).await?;
    if !module_ota::should_store(last, now, report.step) {
        // Not stored, so not acknowledged: every 2xx progress is in the device's history.
        return Ok(json_response(
            429,
            &DeviceAck {
                id: report.id,
                code: 429,
                message: Some("progress is stored at most every 3 s per device".into()),
            },
        ));
    }
    let detail = if report.desc.is_empty() {
        format!("{} step {}", report.module, report.step.value())
    } else {
        format!(
            "{} step {}: {}",
            report.module,
            report.step.value(),
            report.desc
        )
    };
    store::batch(
        env,
        vec![
            jobs::progress_stmt(env, device, now)?,
            store::device_event_stmt(env, project, device, "progress", &detail)?,
        ],
    )
    .await?;
    if let Some(job) = jobs::load(env, device).await? {
        let outcome = module_job::on_progress(&job, &report);
        settle_job(env, project, device, &job, outcome).await?;
    }
    ack(&report.id)
}

// ---------------------------------------------------------------- notice

async fn notice(req: &Request, env: &Env, project: &str, device: &str) -> AppResult<Response> {
    let now = store::now();
    let modules = jobs::reported_modules(env, device).await?;

    let mut active = jobs::load(env, device).await?;
    // A job past its timeout fails here as well as in the sweep, so the slot frees at once.
    if let Some(job) = &active {
        if let JobOutcome::Failed(cause) = module_job::on_tick(job, now) {
            settle_job(env, project, device, job, JobOutcome::Failed(cause)).await?;
            active = None;
        }
    }

    let plans = store::list_plans(env, project).await?;
    let mut candidates = Vec::new();
    for plan in module_job::wanted_plans(&plans, device, &modules) {
        let r = Rollout::of(plan)?;
        let phase = rollout::device(env, &r, device).await?.map(|d| d.phase);
        candidates.extend(module_job::candidate(plan, r.job_timeout_s, phase));
    }

    // The first candidate whose rollout admits the device gets the slot; one held back by its
    // rollout (stage not open, paused, outside its window) does not block the next module.
    loop {
        let plan = match module_job::next_job(&candidates, active.as_ref()) {
            JobDecision::Nothing => return no_job(),
            JobDecision::Busy(job) => {
                if job.phase != JobPhase::InProgress {
                    return no_job();
                }
                let Some(plan) = plans.iter().find(|p| p.firmware_name == job.firmware_name) else {
                    return no_job();
                };
                plan
            }
            JobDecision::Offer(c) | JobDecision::AwaitConfirmation(c) => {
                let Some(plan) = plans.iter().find(|p| p.firmware_name == c.firmware_name) else {
                    return no_job();
                };
                let r = Rollout::of(plan)?;
                let admitted = match rollout::admit_device(env, &r, device, now).await? {
                    Ok(_) => {
                        let job = module_job::start_job(&c, now);
                        if job.phase != JobPhase::InProgress {
                            store::device_event(
                                env,
                                project,
                                device,
                                "awaiting_confirmation",
                                &format!("{} {}", c.firmware_name, c.target_version),
                            )
                            .await?;
                            save_job(env, project, device, &job).await?;
                            return no_job();
                        }
                        match rollout::record_offer(env, &r, device, now).await? {
                            Ok(()) => {
                                save_job(env, project, device, &job).await?;
                                true
                            }
                            Err(_) => false,
                        }
                    }
                    Err(_) => false,
                };
                if !admitted {
                    candidates.retain(|k| k.firmware_name != c.firmware_name);
                    continue;
                }
                plan
            }
        };
        let reported = modules
            .iter()
            .find(|(module, _)| *module == plan.image.module)
            .map(|(_, version)| version.as_str());
        let downgrade = is_downgrade(reported, &plan.spec.target_version);
        // The package for the module's reported version: its delta, else the whole image.
        let image = reported
            .and_then(|v| Version::parse(v).ok())
            .and_then(|v| fota_shared::rules::package::choose(plan, &v));
        let Some(image) = image else {
            return no_job();
        };
        return serve_notice(req, env, project, device, plan, image, downgrade, now).await;
    }
}

fn no_job() -> AppResult<Response> {
    Ok(Response::empty()?.with_status(204))
}

/// The signed notice for `device`'s job under `plan`; it expires with its download URL.
#[allow(clippy::too_many_arguments)]
async fn serve_notice(
    req: &Request,
    env: &Env,
    project: &str,
    device: &str,
    plan: &Plan,
    image: &ImageRef,
    downgrade: bool,
    now: i64,
) -> AppResult<Response> {
    let masters = keys::require_masters(env)?;
    let (key_id, seed) = keys::active(env, &masters, project, now).await?;
    let expires_ms = now + crate::images::URL_LIFETIME_MS;
    // With a daily budget the bytes must be counted for this device: the URL names it, and is
    // always this edge's (a public image base would not count them).
    let budget = store::project(env, project)
        .await?
        .and_then(|p| p.daily_bytes_per_device)
        .filter(|b| *b > 0);
    let url = match (budget, crate::images::public_url(env, &image.sha256)) {
        (Some(limit), _) => {
            let sent = store::jobs::ota_sent(env, project, device).await?;
            let today = fota_shared::rules::budget::day_of(now);
            if fota_shared::rules::budget::spent(sent, today, Some(limit)) {
                return Err(AppError::Status {
                    status: 429,
                    code: "daily_budget_reached",
                    message: "this device was sent its project's daily_bytes_per_device today; its notice comes back after 00:00 UTC".into(),
                });
            }
            let to = Recipient {
                device: device.to_string(),
                plan: Rollout::of(plan)?.plan_id,
            };
            crate::images::device_url(req, env, &format!("/ota/image/{}", image.sha256), &to, now)?
        }
        (None, Some(url)) => url,
        // This edge's URL names the device and the plan, so a cancel refuses it on download.
        (None, None) => {
            let to = Recipient {
                device: device.to_string(),
                plan: Rollout::of(plan)?.plan_id,
            };
            crate::images::device_url(req, env, &format!("/ota/image/{}", image.sha256), &to, now)?
        }
    };
    let subject = NoticeSubject {
        product_key: project,
        device_name: device,
        module: &image.module,
        version: &plan.spec.target_version,
        size: image.size,
        sha256: &image.sha256,
        expires_ms,
        downgrade,
    };
    let id = (now as u64 % 4_294_967_296).to_string();
    let notice = build_notice(
        &id,
        &subject,
        NoticeImage {
            url: &url,
            md5: &image.md5,
        },
        &key_id,
        &seed,
    );
    Ok(json_response(200, &notice))
}

// ---------------------------------------------------------------- push

async fn channel(req: Request, env: &Env, project: &str, device: &str) -> AppResult<Response> {
    if req
        .headers()
        .get("Upgrade")?
        .is_none_or(|u| !u.eq_ignore_ascii_case("websocket"))
    {
        return Err(AppError::bad(
            "websocket_required",
            "this route upgrades to a WebSocket",
        ));
    }
    let stub = channel_stub(env, project, device)?;
    let mut init = worker::RequestInit::new();
    init.with_method(Method::Get)
        .with_headers(req.headers().clone());
    let inner = Request::new_with_init("https://device-channel/connect", &init)?;
    Ok(stub.fetch_with_request(inner).await?)
}

/// The device's push channel: one Durable Object per (product, device).
fn channel_stub(env: &Env, project: &str, device: &str) -> AppResult<worker::Stub> {
    crate::metrics::durable_object("DEVICE_CHANNEL", &format!("{project}/{device}"));
    Ok(env
        .durable_object("DEVICE_CHANNEL")?
        .id_from_name(&format!("{project}/{device}"))?
        .get_stub()?)
}

/// Sends `command` to every socket the device holds; how many were reached.
pub async fn push(env: &Env, project: &str, device: &str, command: &str) -> AppResult<u32> {
    let stub = channel_stub(env, project, device)?;
    let mut init = worker::RequestInit::new();
    init.with_method(Method::Post)
        .with_body(Some(command.into()));
    let mut resp = stub
        .fetch_with_request(Request::new_with_init(
            "https://device-channel/push",
            &init,
        )?)
        .await?;
    #[derive(Deserialize)]
    struct Reached {
        reached: u32,
    }
    Ok(resp.json::<Reached>().await.map(|r| r.reached).unwrap_or(0))
}

/// Fails JSON jobs past their timeout (called by the scheduled sweep).
pub async fn sweep_jobs(env: &Env) -> AppResult<()> {
    let now = store::now();
    for overdue in jobs::overdue(env, now).await? {
        let outcome = module_job::on_tick(&overdue.job, now);
        settle_job(
            env,
            &overdue.project_key,
            &overdue.device_id,
            &overdue.job,
            outcome,
        )
        .await?;
    }
    // Expired replay keys are purged by retention (`crate::retention`), in bounded batches.
    Ok(())
}

/// The owner's confirmation: the held job reaches the device on its next notice request.
pub async fn confirm(
    env: &Env,
    project: &str,
    device: &str,
) -> AppResult<Option<Result<ActiveJob, ()>>> {
    let Some(job) = jobs::load(env, device).await? else {
        return Ok(None);
    };
    let now = store::now();
    let Ok(next) = module_job::confirm(&job, now) else {
        return Ok(Some(Err(())));
    };
    let plans = store::list_plans(env, project).await?;
    if let Some(plan) = plans.iter().find(|p| p.firmware_name == next.firmware_name) {
        let r = Rollout::of(plan)?;
        if rollout::record_offer(env, &r, device, now).await?.is_err() {
            return Ok(Some(Err(())));
        }
    }
    save_job(env, project, device, &next).await?;
    store::device_event(
        env,
        project,
        device,
        "confirmed",
        &format!("{} {}", next.firmware_name, next.target_version),
    )
    .await?;
    Ok(Some(Ok(next)))
}
