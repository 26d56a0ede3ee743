//! A plan's rollout as the rest of the edge sees it: calls into its coordinator, the Durable
//! Object per plan target that holds the rollout's hot state (`crate::coordinator`), plus the
//! isolate-memory summary that answers held-back devices without any call at all. The calls'
//! shape (`Call`, `Op`, `Answer`) is defined here, on the caller's side; the coordinator
//! implements it, so imports point one way (coordinator -> rollout).

use crate::error::{AppError, AppResult};
use crate::store;
use fota_shared::leaf::code::Refusal;
use fota_shared::leaf::version::Version;
use fota_shared::model::plan::Plan;
use fota_shared::model::rollout::{DeviceRollout, RolloutAction, RolloutSpec, RolloutState};
use fota_shared::rules::rollout::{self, RolloutSummary, DEFAULT_JOB_TIMEOUT_S};
use fota_shared::rules::rollout_state::{DeviceFailure, Provenance};
use serde::{Deserialize, Serialize};
use worker::{Env, Method, Request, RequestInit};

/// The Durable Object binding of the coordinators (`wrangler.toml`).
const BINDING: &str = "ROLLOUT_COORDINATOR";

/// A plan's rollout identity and rules, sent with every call to its coordinator (the plan lives
/// in KV, so an edited plan reaches the object with the next call).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Rollout {
    pub project_key: String,
    pub firmware_name: String,
    pub plan_id: String,
    pub spec: RolloutSpec,
    pub job_timeout_s: u64,
    /// The coordinator objects the rollout is spread over (`Plan::shards`, at least 1).
    #[serde(default = "one")]
    pub shards: u32,
}

fn one() -> u32 {
    1
}

impl Rollout {
    pub fn of(plan: &Plan) -> AppResult<Rollout> {
        let target = Version::parse(&plan.spec.target_version)
            .map_err(|e| AppError::Unavailable(format!("stored plan unreadable: {e}")))?;
        Ok(Rollout::of_target(plan, target))
    }

    /// The rollout of a plan whose target the caller has parsed already.
    pub fn of_target(plan: &Plan, target: Version) -> Rollout {
        Rollout {
            project_key: plan.project_key.clone(),
            firmware_name: plan.firmware_name.clone(),
            plan_id: rollout::plan_id(&plan.project_key, &plan.firmware_name, &target),
            spec: rollout::effective(&plan.spec),
            job_timeout_s: plan.spec.job_timeout_s.unwrap_or(DEFAULT_JOB_TIMEOUT_S),
            shards: plan.shards.max(1),
        }
    }

    /// The shard that keeps the device's records.
    fn shard_of(&self, device_id: &str) -> u32 {
        rollout::shard_of(&self.spec, &self.plan_id, device_id, self.shards)
    }
}

/// A call to the rollout's first shard, which leads it.
async fn call(env: &Env, r: &Rollout, op: Op) -> AppResult<Answer> {
    call_shard(env, r, 0, op).await
}

/// A call to the shard that keeps the device's records.
pub(crate) async fn call_device(env: &Env, r: &Rollout, id: &str, op: Op) -> AppResult<Answer> {
    call_shard(env, r, r.shard_of(id), op).await
}

/// The same call to every shard, the first last (so it judges what the others just did).
async fn call_all(env: &Env, r: &Rollout, op: impl Fn() -> Op) -> AppResult<()> {
    let others = (1..r.shards).map(|s| call_shard(env, r, s, op()));
    for answer in futures_util::future::join_all(others).await {
        answer?;
    }
    call(env, r, op()).await.map(drop)
}

/// The name of a shard's Durable Object: the plan id for the first (as before rollouts were
/// sharded), `<plan id>#<n>` for the others.
fn object_name(plan_id: &str, shard: u32) -> String {
    if shard == 0 {
        plan_id.to_string()
    } else {
        format!("{plan_id}#{shard}")
    }
}

/// One call from the Worker to one shard of the rollout.
async fn call_shard(env: &Env, r: &Rollout, shard: u32, op: Op) -> AppResult<Answer> {
    crate::metrics::durable_object(BINDING, &object_name(&r.plan_id, shard));
    // A call that may move the rollout's phase or stage (an outcome, a sweep, a control, a
    // status read that sweeps) makes this isolate ask for its summary again, so held-back
    // answers here follow at once; other isolates follow within the summary's few seconds. A
    // device's attempt and its ended streams (a ban at most, as the attempt that counted
    // deliveries was before) do not: every download would cost the next check a summary call.
    let moves = !matches!(
        op,
        Op::Summary
            | Op::Attempt { .. }
            | Op::Handed { .. }
            | Op::Admit { .. }
            | Op::Offer { .. }
            | Op::Device { .. }
    );
    let answer = send(env, r, shard, op).await;
    if moves {
        crate::cache::forget_rollout(&r.plan_id);
    }
    answer
}

/// One call from a coordinator shard to another (reports, spreads, gathers).
pub async fn between_shards(env: &Env, r: &Rollout, shard: u32, op: Op) -> AppResult<Answer> {
    crate::metrics::between_objects();
    send(env, r, shard, op).await
}

async fn send(env: &Env, r: &Rollout, shard: u32, op: Op) -> AppResult<Answer> {
    let body = serde_json::to_string(&Call {
        ident: r.clone(),
        shard,
        op,
    })
    .map_err(|e| AppError::Unavailable(format!("cannot encode a rollout call: {e}")))?;
    let name = object_name(&r.plan_id, shard);
    let stub = env
        .durable_object(BINDING)?
        .id_from_name(&name)?
        .get_stub()?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post).with_body(Some(body.into()));
    let mut resp = stub
        .fetch_with_request(Request::new_with_init("https://rollout/call", &init)?)
        .await?;
    if resp.status_code() != 200 {
        return Err(AppError::Unavailable(format!(
            "rollout {} answered {}",
            r.plan_id,
            resp.status_code()
        )));
    }
    Ok(resp.json().await?)
}

/// The refusals a rollout gives, back from their device codes.
pub(crate) fn refusal(code: u16) -> Refusal {
    match code {
        61 => Refusal::NotInDeviceSet,
        62 => Refusal::Banned,
        74 => Refusal::DailyBudgetSpent,
        _ => Refusal::NotOfferingNow,
    }
}

pub(crate) fn unexpected(r: &Rollout, answer: Answer) -> AppError {
    AppError::Unavailable(format!(
        "rollout {} gave an unexpected answer: {answer:?}",
        r.plan_id
    ))
}

/// The shortcut for a device whose stage has not opened (or a rollout that offers nothing): the
/// answer from the rollout's summary, with no call to its object and nothing written. Such a
/// device is counted only when its stage opens and it asks again.
pub(crate) async fn held_back(env: &Env, r: &Rollout, id: &str) -> AppResult<Option<Refusal>> {
    Ok(summary(env, r)
        .await?
        .and_then(|summary| rollout::held_back(&r.spec, &summary, &r.plan_id, id)))
}

/// The rollout as the hot path needs it, from isolate memory for a few seconds.
pub async fn summary(env: &Env, r: &Rollout) -> AppResult<Option<RolloutSummary>> {
    let now = store::now();
    if let Some(hit) = crate::cache::rollout(&r.plan_id, now) {
        return Ok(Some(hit));
    }
    let summary = summary_of(call(env, r, Op::Summary).await?);
    if let Some(summary) = summary {
        crate::cache::put_rollout(&r.plan_id, now, summary);
    }
    Ok(summary)
}

/// The rollout's verdict on a JSON device an upgrade is due for: counted as eligible the first
/// time, then the gate. `Ok(job)` is the device's row. JSON devices sign every request.
pub async fn admit_device(
    env: &Env,
    r: &Rollout,
    id: &str,
    now: i64,
) -> AppResult<Result<Option<DeviceRollout>, Refusal>> {
    if let Some(refused) = held_back(env, r, id).await? {
        return Ok(Err(refused));
    }
    let answer = call_device(
        env,
        r,
        id,
        Op::Admit {
            device_id: id.into(),
            from: Provenance::SIGNED,
            now,
        },
    )
    .await?;
    match answer {
        Answer::Job(job) => Ok(Ok(job)),
        Answer::Refused(code) => Ok(Err(refusal(code))),
        other => Err(unexpected(r, other)),
    }
}

/// Counts the device's first offer (within `max_per_minute`); later deliveries count nothing.
pub async fn record_offer(
    env: &Env,
    r: &Rollout,
    id: &str,
    now: i64,
) -> AppResult<Result<(), Refusal>> {
    match call_device(
        env,
        r,
        id,
        Op::Offer {
            device_id: id.into(),
            now,
        },
    )
    .await?
    {
        Answer::Done => Ok(Ok(())),
        Answer::Refused(code) => Ok(Err(refusal(code))),
        other => Err(unexpected(r, other)),
    }
}

pub async fn device(env: &Env, r: &Rollout, id: &str) -> AppResult<Option<DeviceRollout>> {
    match call_device(
        env,
        r,
        id,
        Op::Device {
            device_id: id.into(),
        },
    )
    .await?
    {
        Answer::Job(job) => Ok(job),
        other => Err(unexpected(r, other)),
    }
}

/// Records a device's failure (ban, timeout or its own report) in the rollout.
pub async fn fail(env: &Env, r: &Rollout, id: &str, failure: DeviceFailure) -> AppResult<()> {
    call_device(
        env,
        r,
        id,
        Op::Fail {
            device_id: id.into(),
            failure,
            now: store::now(),
        },
    )
    .await
    .map(drop)
}

/// Records that a JSON device reported the target in its signed report (which also clears its
/// loop-upgrade count). A Luat device's report goes through `crate::delivery::reached`.
pub async fn succeed(env: &Env, r: &Rollout, id: &str) -> AppResult<()> {
    call_device(
        env,
        r,
        id,
        Op::Succeed {
            device_id: id.into(),
            now: store::now(),
        },
    )
    .await
    .map(drop)
}

/// An operator lifted the device's ban.
pub async fn unban(env: &Env, r: &Rollout, id: &str) -> AppResult<()> {
    call_device(
        env,
        r,
        id,
        Op::Unban {
            device_id: id.into(),
        },
    )
    .await
    .map(drop)
}

/// An operator cancelled the device's upgrade in this rollout (`rs::on_cancel`).
pub async fn cancel(env: &Env, r: &Rollout, id: &str) -> AppResult<()> {
    call_device(
        env,
        r,
        id,
        Op::Cancel {
            device_id: id.into(),
        },
    )
    .await
    .map(drop)
}

/// An operator forgot or moved the device: the rollout drops its record (and any pending copy).
pub async fn forget(env: &Env, r: &Rollout, id: &str) -> AppResult<()> {
    call_device(
        env,
        r,
        id,
        Op::Forget {
            device_id: id.into(),
        },
    )
    .await
    .map(drop)
}

/// Time-driven work: verification timeout, auto-advance, and jobs past `job_timeout_s`.
pub async fn sweep(env: &Env, r: &Rollout) -> AppResult<()> {
    let now = store::now();
    call_all(env, r, || Op::Sweep { now }).await
}

/// The plan's stages were (re)written: the rollout exists and its counters fit the stages.
pub async fn reconcile(env: &Env, r: &Rollout) -> AppResult<()> {
    call_all(env, r, || Op::Reconcile).await
}

/// The rollout's state, with D1's copy (devices, history) settled first, for admin reads.
pub async fn state(env: &Env, r: &Rollout) -> AppResult<RolloutState> {
    match call(env, r, Op::Status).await? {
        Answer::State(state) => Ok(state),
        other => Err(unexpected(r, other)),
    }
}

/// Devices each package of the rollout was delivered to (sha256 -> devices), summed over its
/// shards.
pub async fn served(env: &Env, r: &Rollout) -> AppResult<std::collections::BTreeMap<String, u64>> {
    let asks = (0..r.shards.max(1)).map(|s| call_shard(env, r, s, Op::Served));
    let mut out = std::collections::BTreeMap::new();
    for answer in futures_util::future::join_all(asks).await {
        match answer? {
            Answer::Served(counts) => {
                for (sha, n) in counts {
                    *out.entry(sha).or_default() += n;
                }
            }
            other => return Err(unexpected(r, other)),
        }
    }
    Ok(out)
}

/// Writes the coordinator's pending changes to D1 now, so an admin read sees every device.
pub async fn settle(env: &Env, r: &Rollout) -> AppResult<()> {
    call_all(env, r, || Op::Flush).await
}

/// An operator's control: the new state, or why the phase does not allow it.
pub async fn control(
    env: &Env,
    r: &Rollout,
    action: RolloutAction,
) -> AppResult<Result<RolloutState, String>> {
    let answer = call(
        env,
        r,
        Op::Control {
            action,
            now: store::now(),
        },
    )
    .await?;
    crate::cache::forget_rollout(&r.plan_id);
    match answer {
        Answer::State(state) => Ok(Ok(state)),
        Answer::Invalid(message) => Ok(Err(message)),
        other => Err(unexpected(r, other)),
    }
}

/// A finished rollout's coordinators drop their storage (retention: nothing can reach them again).
pub async fn purge(
    env: &Env,
    plan_id: &str,
    project_key: &str,
    firmware_name: &str,
    shards: i64,
) -> AppResult<()> {
    let r = Rollout {
        project_key: project_key.to_string(),
        firmware_name: firmware_name.to_string(),
        plan_id: plan_id.to_string(),
        spec: rollout::effective(&Default::default()),
        job_timeout_s: DEFAULT_JOB_TIMEOUT_S,
        shards: shards.clamp(1, i64::from(rollout::MAX_SHARDS)) as u32,
    };
    call_all(env, &r, || Op::Purge).await
}

/// The plan targets of rollouts that may still change by time alone.
pub async fn live_plans(env: &Env) -> AppResult<Vec<(String, String)>> {
    store::rollouts::live_plans(env).await
}

// ---------------------------------------------------------------- the calls, as they travel

#[derive(Debug, Serialize, Deserialize)]
pub enum Op {
    /// A Luat device an upgrade is due for wants the image (`crate::delivery::attempt`).
    /// `counts` is false for a `HEAD` or a partial range: the same answer, and nothing stored.
    /// `from` fixes the device's standing at its first sight (trusted, signed or unverified).
    Attempt {
        device_id: String,
        from: Provenance,
        target: String,
        counts: bool,
        /// The project's `daily_bytes_per_device`: refused (74) once today's bytes reach it.
        #[serde(default)]
        budget: Option<u64>,
        now: i64,
    },
    /// A stream of the image to a Luat device ended, having handed out `bytes` from `start`
    /// (`crate::delivery::handed`): every byte of the image out is a delivery.
    Handed {
        device_id: String,
        target: String,
        ban_after: u32,
        size: u64,
        start: u64,
        bytes: u64,
        window_ms: i64,
        #[serde(default)]
        budget: Option<u64>,
        /// The package that went out (its sha256): counted once per device it was served to.
        #[serde(default)]
        sha256: String,
        now: i64,
    },
    /// A Luat device reported the target: a success after a delivery, else a report without one.
    Reached {
        device_id: String,
        now: i64,
    },
    /// Counted as eligible the first time, then the gate (JSON devices).
    Admit {
        device_id: String,
        from: Provenance,
        now: i64,
    },
    /// The device's first offer, within `max_per_minute`.
    Offer {
        device_id: String,
        now: i64,
    },
    Device {
        device_id: String,
    },
    Succeed {
        device_id: String,
        now: i64,
    },
    Fail {
        device_id: String,
        failure: DeviceFailure,
        now: i64,
    },
    /// Time-driven work: verification timeout, auto-advance, jobs past `job_timeout_s`.
    Sweep {
        now: i64,
    },
    Control {
        action: RolloutAction,
        now: i64,
    },
    /// The plan's stages were edited: fit the counters.
    Reconcile,
    Summary,
    /// The state, with D1's copy settled first.
    Status,
    /// Devices each package (by sha256) was delivered to, in this shard.
    Served,
    /// An operator lifted the device's ban: its count starts again.
    Unban {
        device_id: String,
    },
    /// An operator cancelled the device's upgrade: an offered job goes back to idle.
    Cancel {
        device_id: String,
    },
    /// Writes every pending change to D1 now.
    Flush,
    /// An operator forgot the device or moved it to another project: its record here goes (the
    /// rollout's counters keep what it did).
    Forget {
        device_id: String,
    },
    /// The first shard asks another for its state (its D1 copy settled first).
    Counts,
    /// Another shard tells the first its state after its counts changed; the answer is the
    /// rollout's phase.
    Report {
        shard: u32,
        state: RolloutState,
    },
    /// The first shard's phase and stage, for another shard to take.
    Adopt(Phase),
    /// The rollout is over for good: the shard drops its storage.
    Purge,
}

/// What the first shard decides for every shard: phase, stage and the reasons.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Phase {
    pub phase: fota_shared::model::rollout::RolloutPhase,
    pub stage: i32,
    pub stage_started_ms: i64,
    pub paused_reason: Option<String>,
    pub failed_reason: Option<String>,
    /// The first shard's state version when it said so: a shard takes a phase only newer than
    /// the last it took (a report's answer can cross a newer spread).
    #[serde(default)]
    pub seq: i64,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Call {
    pub ident: Rollout,
    /// The shard called (0, the first, for calls made before rollouts were sharded).
    #[serde(default)]
    pub shard: u32,
    pub op: Op,
}

/// Refusals travel as their device code (the only ones a rollout gives: 61, 62, 67).
#[derive(Debug, Serialize, Deserialize)]
pub enum Answer {
    Done,
    Refused(u16),
    Job(Option<DeviceRollout>),
    Summary {
        phase: fota_shared::model::rollout::RolloutPhase,
        percent: u32,
        high_water: u32,
    },
    State(RolloutState),
    /// An operator's control the phase does not allow: the message.
    Invalid(String),
    /// The rollout's phase, as the first shard answers a report.
    Phase(Phase),
    /// Devices served per package (sha256, devices).
    Served(Vec<(String, u64)>),
}

/// Parses the coordinator's summary answer into the hot path's type.
pub fn summary_of(answer: Answer) -> Option<RolloutSummary> {
    match answer {
        Answer::Summary {
            phase,
            percent,
            high_water,
        } => Some(RolloutSummary {
            phase,
            percent,
            high_water,
        }),
        _ => None,
    }
}
