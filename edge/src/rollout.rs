//! Rollout state in D1: one row per plan target holding `fota_shared::rollout_state::RolloutState`
//! as JSON, and one row per device in it. Every change is a pure transition from
//! `fota_shared::rollout_state`, written by compare-and-swap on the row's `version` (a D1 batch
//! is one transaction), retried on conflict, so concurrent checks never lose a count.

use crate::error::{AppError, AppResult};
use crate::store::{self, db, n, opt, s};
use fota_shared::api::{DevicePhase, Plan, RolloutSpec};
use fota_shared::code::Refusal;
use fota_shared::rollout::{self, RolloutSummary, DEFAULT_JOB_TIMEOUT_S};
use fota_shared::rollout_state::{self as rs, DeviceFailure, DeviceRollout, RolloutEvent, RolloutState, Step};
use fota_shared::version::Version;
use serde::Deserialize;
use worker::Env;

/// Attempts at a compare-and-swap before giving up with 503; between attempts a short random
/// pause spreads writers that collided (a busy rollout row sees many at once).
const CAS_ATTEMPTS: u32 = 40;
/// Most timed-out jobs one sweep fails (the next sweep takes the rest).
const SWEEP_BATCH: u32 = 200;

/// A plan's rollout identity and rules.
pub struct Rollout {
    pub project_key: String,
    pub firmware_name: String,
    pub plan_id: String,
    pub spec: RolloutSpec,
    pub job_timeout_s: u64,
}

impl Rollout {
    pub fn of(plan: &Plan) -> AppResult<Rollout> {
        let target = Version::parse(&plan.spec.target_version).map_err(|e| AppError::Unavailable(format!("stored plan unreadable: {e}")))?;
        Ok(Rollout {
            project_key: plan.project_key.clone(),
            firmware_name: plan.firmware_name.clone(),
            plan_id: rollout::plan_id(&plan.project_key, &plan.firmware_name, &target),
            spec: rollout::effective(&plan.spec),
            job_timeout_s: plan.spec.job_timeout_s.unwrap_or(DEFAULT_JOB_TIMEOUT_S),
        })
    }
}

/// The stored state and the version a compare-and-swap must match.
#[derive(Debug, Clone)]
pub struct Stored {
    pub state: RolloutState,
    pub version: i64,
}

#[derive(Deserialize)]
struct StateRow {
    state: String,
    version: f64,
}

pub async fn load(env: &Env, plan_id: &str) -> AppResult<Option<Stored>> {
    let row: Option<StateRow> =
        db(env)?.prepare("SELECT state, version FROM rollouts WHERE plan_id = ?1").bind(&[s(plan_id)])?.first(None).await?;
    row.map(|r| {
        serde_json::from_str(&r.state)
            .map(|state| Stored { state, version: r.version as i64 })
            .map_err(|e| AppError::Unavailable(format!("rollout {plan_id} unreadable: {e}")))
    })
    .transpose()
}

fn state_json(state: &RolloutState) -> AppResult<String> {
    serde_json::to_string(state).map_err(|e| AppError::Unavailable(format!("cannot encode rollout: {e}")))
}

/// The rollout's state, started now when the plan target has none yet.
pub async fn ensure(env: &Env, r: &Rollout) -> AppResult<Stored> {
    if let Some(stored) = load(env, &r.plan_id).await? {
        return Ok(stored);
    }
    let now = store::now();
    let state = rs::start(&r.spec, now);
    db(env)?
        .prepare(
            "INSERT INTO rollouts (plan_id, project_key, firmware_name, phase, high_water, state, version, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1, ?7) ON CONFLICT(plan_id) DO NOTHING",
        )
        .bind(&[
            s(&r.plan_id),
            s(&r.project_key),
            s(&r.firmware_name),
            s(state.phase.as_str()),
            n(rollout::current_percent(&r.spec, &state) as i64),
            s(&state_json(&state)?),
            n(now),
        ])?
        .run()
        .await?;
    load(env, &r.plan_id).await?.ok_or_else(|| AppError::Unavailable("rollout vanished".into()))
}

#[derive(Deserialize)]
struct DeviceRow {
    device_id: String,
    cohort: f64,
    phase: String,
    since_ms: f64,
    offered_ms: Option<f64>,
    cause: Option<String>,
}

impl DeviceRow {
    fn into_rollout(self) -> DeviceRollout {
        DeviceRollout {
            device_id: self.device_id,
            cohort: self.cohort as i32,
            phase: DevicePhase::parse(&self.phase).unwrap_or(DevicePhase::Idle),
            since_ms: self.since_ms as i64,
            offered_ms: self.offered_ms.map(|o| o as i64),
            cause: self.cause,
        }
    }
}

const DEVICE_COLUMNS: &str = "device_id, cohort, phase, since_ms, offered_ms, cause";

pub async fn device(env: &Env, plan_id: &str, device_id: &str) -> AppResult<Option<DeviceRollout>> {
    let row: Option<DeviceRow> = db(env)?
        .prepare(format!("SELECT {DEVICE_COLUMNS} FROM rollout_devices WHERE plan_id = ?1 AND device_id = ?2"))
        .bind(&[s(plan_id), s(device_id)])?
        .first(None)
        .await?;
    Ok(row.map(DeviceRow::into_rollout))
}

/// What a transition produced: the new state, maybe a device row, maybe an event.
pub struct Change {
    pub state: RolloutState,
    pub device: Option<DeviceRollout>,
    pub event: Option<RolloutEvent>,
}

impl From<Step> for Change {
    fn from(step: Step) -> Self {
        Change { state: step.rollout, device: Some(step.device), event: step.event }
    }
}

/// Applies `transition` to the current state (and the device's row, when `device_id` is given)
/// by compare-and-swap, retrying on conflict. Returns the change written, or `None` when the
/// transition changed nothing.
pub async fn apply<F>(env: &Env, r: &Rollout, device_id: Option<&str>, transition: F) -> AppResult<Option<Change>>
where
    F: Fn(&RolloutState, Option<&DeviceRollout>) -> Option<Change>,
{
    for attempt in 0..CAS_ATTEMPTS {
        if attempt > 0 {
            let ceiling = 5.0 * f64::from(attempt.min(10));
            let pause = (worker::js_sys::Math::random() * ceiling) as u64 + 1;
            worker::Delay::from(std::time::Duration::from_millis(pause)).await;
        }
        let stored = ensure(env, r).await?;
        let current = match device_id {
            Some(id) => device(env, &r.plan_id, id).await?,
            None => None,
        };
        let Some(change) = transition(&stored.state, current.as_ref()) else { return Ok(None) };
        let now = store::now();
        // The dependent writes run first, guarded by the version this transition was computed
        // from; the state update then bumps the version. In one batch (one transaction) either
        // all of them apply or, when another writer got there first, none does.
        let won = format!("(SELECT version FROM rollouts WHERE plan_id = ?{{p}}) = {}", stored.version);
        let update = db(env)?
            .prepare(
                "UPDATE rollouts SET state = ?1, phase = ?2, version = version + 1, updated_at = ?3, high_water = MAX(high_water, ?6)
                 WHERE plan_id = ?4 AND version = ?5",
            )
            .bind(&[
                s(&state_json(&change.state)?),
                s(change.state.phase.as_str()),
                n(now),
                s(&r.plan_id),
                n(stored.version),
                n(rollout::current_percent(&r.spec, &change.state) as i64),
            ])?;
        let mut batch = Vec::new();
        if let Some(dev) = &change.device {
            batch.push(
                db(env)?
                    .prepare(format!(
                        "INSERT INTO rollout_devices (plan_id, device_id, cohort, phase, since_ms, offered_ms, cause)
                         SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7 WHERE {}
                         ON CONFLICT(plan_id, device_id) DO UPDATE SET cohort = excluded.cohort, phase = excluded.phase,
                           since_ms = excluded.since_ms, offered_ms = excluded.offered_ms, cause = excluded.cause",
                        won.replace("{p}", "1")
                    ))
                    .bind(&[
                        s(&r.plan_id),
                        s(&dev.device_id),
                        n(dev.cohort as i64),
                        s(dev.phase.as_str()),
                        n(dev.since_ms),
                        dev.offered_ms.map_or(worker::wasm_bindgen::JsValue::NULL, n),
                        opt(dev.cause.as_deref()),
                    ])?,
            );
            batch.push(
                db(env)?
                    .prepare(format!(
                        "UPDATE devices SET job_plan = ?1, job_phase = ?2, job_since = ?3, job_cause = ?4 WHERE id = ?5 AND {}",
                        won.replace("{p}", "1")
                    ))
                    .bind(&[s(&r.plan_id), s(dev.phase.as_str()), n(dev.since_ms), opt(dev.cause.as_deref()), s(&dev.device_id)])?,
            );
            if current.as_ref().map(|c| c.phase) != Some(dev.phase) && dev.phase != DevicePhase::Idle {
                let detail = match &dev.cause {
                    Some(cause) => format!("{}: {cause}", r.plan_id),
                    None => r.plan_id.clone(),
                };
                batch.push(
                    db(env)?
                        .prepare(format!(
                            "INSERT INTO device_events (project_key, device_id, at, kind, detail) SELECT ?1, ?2, ?3, ?4, ?5 WHERE {}",
                            won.replace("{p}", "6")
                        ))
                        .bind(&[s(&r.project_key), s(&dev.device_id), n(now), s(dev.phase.as_str()), s(&detail), s(&r.plan_id)])?,
                );
            }
        }
        let at = batch.len();
        batch.push(update);
        let results = db(env)?.batch(batch).await?;
        let changed = results.get(at).and_then(|r| r.meta().ok().flatten()).and_then(|m| m.changes).unwrap_or(0);
        if changed == 1 {
            crate::cache::forget_rollout(&r.plan_id);
            if let Some(event) = change.event {
                worker::console_log!("rollout {}: {:?}", r.plan_id, event);
            }
            return Ok(Some(change));
        }
        // Lost the race: nothing ran; read again and re-apply.
    }
    Err(AppError::Unavailable(format!("rollout {} is busy", r.plan_id)))
}

/// The rollout as the hot path needs it, from isolate memory for a few seconds.
pub async fn summary(env: &Env, r: &Rollout) -> AppResult<Option<RolloutSummary>> {
    let now = store::now();
    if let Some(hit) = crate::cache::rollout(&r.plan_id, now) {
        return Ok(Some(hit));
    }
    #[derive(Deserialize)]
    struct Row {
        state: String,
        high_water: f64,
    }
    let row: Option<Row> =
        db(env)?.prepare("SELECT state, high_water FROM rollouts WHERE plan_id = ?1").bind(&[s(&r.plan_id)])?.first(None).await?;
    let Some(row) = row else { return Ok(None) };
    let Ok(state) = serde_json::from_str::<RolloutState>(&row.state) else { return Ok(None) };
    let summary = RolloutSummary { phase: state.phase, percent: rollout::current_percent(&r.spec, &state), high_water: row.high_water as u32 };
    crate::cache::put_rollout(&r.plan_id, now, summary);
    Ok(Some(summary))
}

/// The rollout's verdict on a device an upgrade is due for: counted as eligible the first time,
/// then the gate (verification, stage, pause, window, rate). `Ok(job)` is the device's row.
pub async fn admit_device(env: &Env, r: &Rollout, id: &str, now: i64) -> AppResult<Result<Option<DeviceRollout>, Refusal>> {
    // Most due checks during a staged rollout come from devices whose stage has not opened:
    // once a device is counted, they are answered from memory.
    if crate::cache::counted(&r.plan_id, id) {
        if let Some(summary) = summary(env, r).await? {
            if let Some(refused) = rollout::held_back(&r.spec, &summary, &r.plan_id, id) {
                return Ok(Err(refused));
            }
        }
    }
    let stored = ensure(env, r).await?;
    let mut job = device(env, &r.plan_id, id).await?;
    if job.is_none() {
        let seen = apply(env, r, Some(id), |state, dev| match dev {
            Some(_) => None,
            None => rs::on_eligible_seen(&r.spec, state, &r.plan_id, id, now).map(Change::from),
        })
        .await?;
        job = match seen {
            Some(change) => change.device,
            None => device(env, &r.plan_id, id).await?,
        };
    }
    crate::cache::mark_counted(&r.plan_id, id);
    let state = match load(env, &r.plan_id).await? {
        Some(s) => s.state,
        None => stored.state,
    };
    let offers = offers_this_minute(env, r, now).await?;
    Ok(rollout::rollout_gate(&r.spec, &state, &r.plan_id, id, job.as_ref(), now, offers).map(|()| job))
}

/// Counts the device's first offer (within `max_per_minute`); later deliveries count nothing.
pub async fn record_offer(env: &Env, r: &Rollout, id: &str, job: Option<&DeviceRollout>, now: i64) -> AppResult<Result<(), Refusal>> {
    if !job.is_some_and(|j| j.phase == DevicePhase::Idle) {
        return Ok(Ok(()));
    }
    if !claim_offer_slot(env, r, now).await? {
        return Ok(Err(Refusal::NotOfferingNow));
    }
    apply(env, r, Some(id), |state, dev| dev.and_then(|d| rs::on_offer(state, d, now)).map(Change::from)).await?;
    Ok(Ok(()))
}

/// Claims one of this minute's first offers; false when `max_per_minute` is spent.
async fn claim_offer_slot(env: &Env, r: &Rollout, now: i64) -> AppResult<bool> {
    let Some(max) = r.spec.max_per_minute else { return Ok(true) };
    let count: Option<f64> = db(env)?
        .prepare(
            "INSERT INTO rollout_rate (plan_id, minute, count) VALUES (?1, ?2, 1)
             ON CONFLICT(plan_id, minute) DO UPDATE SET count = count + 1 WHERE count < ?3
             RETURNING count",
        )
        .bind(&[s(&r.plan_id), n(rollout::rate_window(now)), n(max as i64)])?
        .first(Some("count"))
        .await?;
    Ok(count.is_some())
}

/// First offers already made this minute.
async fn offers_this_minute(env: &Env, r: &Rollout, now: i64) -> AppResult<u32> {
    if r.spec.max_per_minute.is_none() {
        return Ok(0);
    }
    let count: Option<f64> = db(env)?
        .prepare("SELECT count FROM rollout_rate WHERE plan_id = ?1 AND minute = ?2")
        .bind(&[s(&r.plan_id), n(rollout::rate_window(now))])?
        .first(Some("count"))
        .await?;
    Ok(count.unwrap_or(0.0) as u32)
}

/// Records a device's failure (ban or timeout) in the rollout.
pub async fn fail(env: &Env, r: &Rollout, device_id: &str, failure: DeviceFailure) -> AppResult<()> {
    let now = store::now();
    apply(env, r, Some(device_id), |state, dev| {
        dev.and_then(|d| rs::on_failure(&r.spec, state, d, failure.clone(), now)).map(Change::from)
    })
    .await?;
    Ok(())
}

/// Records that a device reported the target.
pub async fn succeed(env: &Env, r: &Rollout, device_id: &str) -> AppResult<()> {
    let now = store::now();
    apply(env, r, Some(device_id), |state, dev| dev.and_then(|d| rs::on_success(&r.spec, state, d, now)).map(Change::from)).await?;
    Ok(())
}

/// Time-driven work: verification timeout, auto-advance, and jobs past `job_timeout_s`.
pub async fn sweep(env: &Env, r: &Rollout) -> AppResult<()> {
    let now = store::now();
    apply(env, r, None, |state, _| {
        rs::on_tick(&r.spec, state, now).map(|(state, event)| Change { state, device: None, event: Some(event) })
    })
    .await?;
    let deadline = now - (r.job_timeout_s as i64).saturating_mul(1000);
    let rows: Vec<DeviceRow> = db(env)?
        .prepare(format!(
            "SELECT {DEVICE_COLUMNS} FROM rollout_devices WHERE plan_id = ?1 AND phase = 'offered' AND offered_ms <= ?2 LIMIT {SWEEP_BATCH}"
        ))
        .bind(&[s(&r.plan_id), n(deadline)])?
        .all()
        .await?
        .results()?;
    for row in rows {
        let dev = row.into_rollout();
        if rs::job_timed_out(&dev, r.job_timeout_s, now) {
            fail(env, r, &dev.device_id, DeviceFailure::JobTimedOut).await?;
        }
    }
    Ok(())
}

/// The plan ids of rollouts that may still change by time alone.
pub async fn live_plans(env: &Env) -> AppResult<Vec<(String, String)>> {
    #[derive(Deserialize)]
    struct Row {
        project_key: String,
        firmware_name: String,
    }
    let rows: Vec<Row> = db(env)?
        .prepare("SELECT DISTINCT project_key, firmware_name FROM rollouts WHERE phase IN ('verifying', 'running', 'paused', 'completed')")
        .all()
        .await?
        .results()?;
    Ok(rows.into_iter().map(|r| (r.project_key, r.firmware_name)).collect())
}
