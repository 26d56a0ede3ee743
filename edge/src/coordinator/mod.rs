//! The rollout coordinator: Cloudflare's single writer for a rollout's hot state, spread over
//! the rollout's shards (Durable Objects named `project/firmware@version`, then `...#1` to
//! `...#K-1`; `fota_shared::rules::rollout::shards_for`). Each shard holds its devices (by
//! bucket; the test devices in the first) with their jobs and deliveries of the target
//! (loop-upgrade protection), its part of the counters and its share of the first offers per
//! minute, in its own SQLite (`crate::coordinator_store`). Every operation runs to completion
//! without an await between reading and writing, so concurrent offers are ordered by the
//! object: no compare-and-swap, no retry, no lost count.
//!
//! The first shard leads: its phase and stage are the rollout's. It judges verification per
//! device (the test devices are its own) and the health gate and `auto_advance` on the merged
//! counts: every other shard reports its counts a fraction of a second after they change (its
//! alarm), and status reads gather them afresh. A change of phase or stage (gate, operator,
//! verification, advance) is spread to every shard before the call that made it returns.
//!
//! D1 keeps the copy the admin API lists and the cron reads (`crate::store::rollouts`): changed
//! rows are marked dirty and written in batches by each shard's alarm shortly after, or at once
//! when an admin read asks for a settled copy (`Op::Flush`); the rollout's row (the merged
//! state) is the first shard's to write. A device never waits on D1 here.

mod lead;
mod luat;
mod mirror;
mod outbox;

use crate::coordinator_store::{parse, Ledger, Row};
use crate::error::AppError;
use crate::rollout::{Answer, Call, Op, Phase, Rollout};
use fota_shared::model::rollout::{DevicePhase, RolloutSpec, RolloutState};
use fota_shared::rules::ban::{after_report, DeliveryState};
use fota_shared::rules::delivery::phase_entry;
use fota_shared::rules::rollout::{self as rules, rollout_gate, shard_budget, RolloutSummary};
use fota_shared::rules::rollout_state::{self as rs, DeviceFailure, Step};
use std::cell::{Cell, RefCell};
use worker::{durable_object, DurableObject, Env, Request, Response, Result, State};

/// The loop-upgrade count's key (`fota_shared::rules::ban::target_key`), `firmware@target`, from
/// the plan id (`project/firmware@target`) the coordinator is named by.
fn count_key(firmware_name: &str, plan_id: &str) -> String {
    format!(
        "{firmware_name}@{}",
        plan_id.rsplit_once('@').map_or("", |(_, v)| v)
    )
}

/// Devices and history entries written to D1 per batch (a D1 batch stays well under its limits).
const FLUSH_DEVICES: u32 = 40;
const FLUSH_HISTORY: u32 = 40;
/// Batches per flush before the rest is left to the next alarm.
const FLUSH_ROUNDS: u32 = 50;
/// How soon after a change the alarm writes D1's copy (and reports to the first shard).
const FLUSH_DELAY_MS: i64 = 200;
/// Timed-out jobs one sweep fails (the next sweep takes the rest).
const SWEEP_BATCH: u32 = 200;

#[durable_object]
pub struct RolloutCoordinator {
    state: State,
    env: Env,
    /// The shard's state, version and highest share ever offered, read once per object lifetime.
    memory: RefCell<Option<(RolloutState, i64, u32)>>,
    /// The last call's rollout and this object's shard, for the alarm's report.
    ident: RefCell<Option<(Rollout, u32)>>,
    /// The state version last reported to the first shard.
    reported: Cell<i64>,
    /// The `seq` of the last phase taken from the first shard.
    phase_seq: Cell<i64>,
    /// Its storage was dropped (`Op::Purge`).
    purged: Cell<bool>,
    alarm_armed: Cell<bool>,
    flushing: Cell<bool>,
    /// The outbox holds events the project's log has not taken yet.
    outbox_waiting: Cell<bool>,
}

impl DurableObject for RolloutCoordinator {
    fn new(state: State, env: Env) -> Self {
        Ledger(state.storage().sql()).init();
        Self {
            state,
            env,
            memory: RefCell::new(None),
            ident: RefCell::new(None),
            reported: Cell::new(0),
            phase_seq: Cell::new(0),
            purged: Cell::new(false),
            alarm_armed: Cell::new(false),
            flushing: Cell::new(false),
            // Events kept by an earlier lifetime are sent by the first call or alarm.
            outbox_waiting: Cell::new(true),
        }
    }

    async fn fetch(&self, req: Request) -> Result<Response> {
        // A failure is answered, not thrown: the runtime logs every uncaught error, and under a
        // burst that is a log storm. Ours is logged once per cause per interval.
        match self.serve(req).await {
            Ok(resp) => {
                self.send_outbox().await;
                Ok(resp)
            }
            Err(e) => {
                crate::logs::once("rollout coordinator failed", &e.to_string());
                Response::error("rollout coordinator failed", 500)
            }
        }
    }

    async fn alarm(&self) -> Result<Response> {
        self.alarm_armed.set(false);
        if let Err(e) = self.flush().await {
            // The alarm is set again by `flush`; its retry writes what is left.
            AppError::from(e).log();
        }
        if let Err(e) = self.report().await {
            AppError::from(e).log();
        }
        self.send_outbox().await;
        Response::ok("flushed")
    }
}

/// A state's phase, stage and reasons: what the first shard decides for every shard.
fn phase_of(state: &RolloutState) -> Phase {
    Phase {
        phase: state.phase,
        stage: state.stage,
        stage_started_ms: state.stage_started_ms,
        paused_reason: state.paused_reason.clone(),
        failed_reason: state.failed_reason.clone(),
        seq: 0,
    }
}

fn adopted(state: &RolloutState, phase: &Phase) -> RolloutState {
    RolloutState {
        phase: phase.phase,
        stage: phase.stage,
        stage_started_ms: phase.stage_started_ms,
        paused_reason: phase.paused_reason.clone(),
        failed_reason: phase.failed_reason.clone(),
        ..state.clone()
    }
}

impl RolloutCoordinator {
    async fn serve(&self, mut req: Request) -> Result<Response> {
        let call: Call = req.json().await?;
        if let Op::Purge = call.op {
            return self.purge().await;
        }
        if self.purged.replace(false) {
            // Called again after its storage went: the tables come back, empty.
            self.ledger().init();
        }
        let (ident, shard) = (call.ident, call.shard);
        *self.ident.borrow_mut() = Some((ident.clone(), shard));
        let leads = shard == 0 && ident.shards > 1;
        let (state, version, _) = self.load(&ident, shard)?;
        let before = phase_of(&state);
        let sweeps = matches!(call.op, Op::Sweep { .. });
        if leads && sweeps {
            // Auto-advance and the gate judge the counts of every shard as they are now.
            self.gather(&ident).await?;
        }
        let answer = match call.op {
            Op::Status => {
                self.flush().await?;
                if leads {
                    self.gather(&ident).await?;
                    self.judge(&ident)?;
                }
                Answer::State(self.view(&ident)?)
            }
            Op::Flush => {
                self.flush().await?;
                Answer::Done
            }
            Op::Counts => {
                self.flush().await?;
                Answer::State(self.load(&ident, shard)?.0)
            }
            Op::Report { shard: from, state } => {
                self.ledger().put_peer(from, &state)?;
                self.judge(&ident)?;
                let (own, seq, _) = self.load(&ident, 0)?;
                Answer::Phase(Phase {
                    seq,
                    ..phase_of(&own)
                })
            }
            Op::Adopt(phase) => {
                self.take_phase(&ident, shard, phase)?;
                Answer::Done
            }
            Op::Control { action, now } => self.control(&ident, action, now)?,
            op => self.apply(&ident, shard, op)?,
        };
        if leads {
            if self.load(&ident, shard)?.1 != version {
                // Its own counts moved: the gate judges the merged counts again.
                self.judge(&ident)?;
            }
            let (own, seq, _) = self.load(&ident, shard)?;
            let after = phase_of(&own);
            // A change reaches every shard at once; each sweep (every minute) tells them
            // again, so a shard that missed a change catches up.
            if after != before || sweeps {
                self.spread(&ident, &Phase { seq, ..after }).await;
            }
        }
        self.arm_alarm().await?;
        Response::from_json(&answer)
    }

    /// Drops every row and the alarm: the rollout is over and nothing reaches it again.
    async fn purge(&self) -> Result<Response> {
        let storage = self.state.storage();
        storage.delete_alarm().await?;
        storage.delete_all().await?;
        *self.memory.borrow_mut() = None;
        *self.ident.borrow_mut() = None;
        self.alarm_armed.set(false);
        self.purged.set(true);
        Response::from_json(&Answer::Done)
    }

    fn ledger(&self) -> Ledger {
        Ledger(self.state.storage().sql())
    }

    /// The shard's state, its version and the highest share ever offered; started now when new.
    fn load(&self, ident: &Rollout, shard: u32) -> Result<(RolloutState, i64, u32)> {
        if let Some(hit) = self.memory.borrow().clone() {
            return Ok(hit);
        }
        let loaded = match self.ledger().meta()? {
            Some(m) => (parse(&m.state)?, m.version, m.high_water as u32),
            None => {
                let mut state = rs::start(&ident.spec, crate::store::now());
                state.judged_apart = ident.shards > 1;
                let high = rules::current_percent(&ident.spec, &state);
                self.ledger().insert_meta(ident, shard, &state, high)?;
                (state, 1, high)
            }
        };
        *self.memory.borrow_mut() = Some(loaded.clone());
        Ok(loaded)
    }

    fn save_state(&self, ident: &Rollout, state: &RolloutState) -> Result<()> {
        let (_, version, high) = self.memory.borrow().clone().ok_or_else(|| {
            worker::Error::RustError("the coordinator saved before loading".into())
        })?;
        let high = high.max(rules::current_percent(&ident.spec, state));
        self.ledger().save_state(state, version + 1, high)?;
        *self.memory.borrow_mut() = Some((state.clone(), version + 1, high));
        Ok(())
    }

    /// The rules a shard applies: its share of `max_per_minute`.
    fn spec_for(ident: &Rollout, shard: u32) -> RolloutSpec {
        let mut spec = ident.spec.clone();
        spec.max_per_minute = spec
            .max_per_minute
            .map(|max| shard_budget(max, shard, ident.shards));
        spec
    }

    fn apply(&self, ident: &Rollout, shard: u32, op: Op) -> Result<Answer> {
        let (state, _, high_water) = self.load(ident, shard)?;
        let spec = Self::spec_for(ident, shard);
        let summary = RolloutSummary {
            phase: state.phase,
            percent: rules::current_percent(&spec, &state),
            high_water,
        };
        // A device whose stage has not opened is answered as the edge's shortcut answers it, and
        // is not counted: a held-back device costs no write (the edge rarely asks, only when
        // its summary is older than the rollout's).
        if let Op::Attempt { device_id, .. } | Op::Admit { device_id, .. } = &op {
            let held = rules::held_back(&spec, &summary, &ident.plan_id, device_id);
            if let Some(refused) = held {
                if self.ledger().row(device_id)?.is_none() {
                    return Ok(Answer::Refused(refused.code()));
                }
            }
        }
        let ledger = self.ledger();
        Ok(match op {
            Op::Attempt { .. } => self.attempt(ident, &spec, state, op)?,
            Op::Handed { .. } => self.handed(ident, &spec, state, op)?,
            Op::Reached { device_id, now } => self.reached(ident, &state, &device_id, now)?,
            Op::Admit {
                device_id,
                from,
                now,
            } => self.admit(ident, &spec, state, &device_id, &from, now)?,
            Op::Offer { device_id, now } => self.offer(ident, &spec, &state, &device_id, now)?,
            Op::Device { device_id } => Answer::Job(ledger.row(&device_id)?.as_ref().map(Row::job)),
            Op::Succeed { device_id, now } => self.succeed(ident, &state, &device_id, now)?,
            Op::Fail {
                device_id,
                failure,
                now,
            } => {
                if let Some(before) = ledger.row(&device_id)? {
                    if let Some(step) = rs::on_failure(&spec, &state, &before.job(), failure, now) {
                        self.store_step(ident, Some(&before), step, now)?;
                    }
                }
                Answer::Done
            }
            Op::Sweep { now } => self.sweep(ident, shard, state, now)?,
            Op::Reconcile => {
                let next = rs::reconcile(&spec, &state);
                // Saved even when equal: D1's copy of a new rollout is written by the next flush.
                self.save_state(ident, &next)?;
                Answer::State(next)
            }
            Op::Summary => Answer::Summary {
                phase: summary.phase,
                percent: summary.percent,
                high_water: summary.high_water,
            },
            Op::Unban { device_id } => {
                if let Some(row) = ledger.row(&device_id)? {
                    self.unban(ident, &state, &row)?;
                }
                Answer::Done
            }
            Op::Cancel { device_id } => {
                if let Some(row) = ledger.row(&device_id)? {
                    let now = crate::store::now();
                    if let Some(step) = rs::on_cancel(&state, &row.job(), now) {
                        self.store_step(ident, Some(&row), step, now)?;
                    }
                }
                Answer::Done
            }
            Op::Forget { device_id } => {
                ledger.forget_device(&device_id)?;
                Answer::Done
            }
            Op::Counts => Answer::State(state),
            Op::Served => Answer::Served(ledger.served()?),
            Op::Status
            | Op::Flush
            | Op::Report { .. }
            | Op::Adopt(_)
            | Op::Control { .. }
            | Op::Purge => Answer::Done,
        })
    }

    /// A JSON device an upgrade is due for: counted as eligible the first time, then the gate.
    fn admit(
        &self,
        ident: &Rollout,
        spec: &RolloutSpec,
        state: RolloutState,
        device_id: &str,
        from: &fota_shared::rules::rollout_state::Provenance,
        now: i64,
    ) -> Result<Answer> {
        let ledger = self.ledger();
        let before = ledger.row(device_id)?;
        let mut job = before.as_ref().map(Row::job);
        let mut state = state;
        if job.is_none() {
            if let Some(step) =
                rs::on_eligible_seen(spec, &state, &ident.plan_id, device_id, from, now)
            {
                state = step.rollout.clone();
                job = Some(step.device.clone());
                self.store_step(ident, None, step, now)?;
            }
        }
        let rate = ledger.offers_this_minute(now)?;
        Ok(
            match rollout_gate(
                spec,
                &state,
                &ident.plan_id,
                device_id,
                job.as_ref(),
                now,
                rate,
            ) {
                Ok(()) => Answer::Job(job),
                Err(refused) => Answer::Refused(refused.code()),
            },
        )
    }

    /// A JSON device's first offer, within the shard's share of `max_per_minute`.
    fn offer(
        &self,
        ident: &Rollout,
        spec: &RolloutSpec,
        state: &RolloutState,
        device_id: &str,
        now: i64,
    ) -> Result<Answer> {
        let ledger = self.ledger();
        let before = ledger.row(device_id)?;
        let Some(job) = before
            .as_ref()
            .map(Row::job)
            .filter(|j| j.phase == DevicePhase::Idle)
        else {
            return Ok(Answer::Done);
        };
        if spec.max_per_minute.is_some_and(|max| {
            ledger
                .offers_this_minute(now)
                .is_ok_and(|rate| rate.spent(max, job.standing))
        }) {
            return Ok(Answer::Refused(
                fota_shared::leaf::code::Refusal::NotOfferingNow.code(),
            ));
        }
        if let Some(step) = rs::on_offer(state, &job, now) {
            self.store_step(ident, before.as_ref(), step, now)?;
            if spec.max_per_minute.is_some() {
                ledger.count_offer(now, job.standing)?;
            }
        }
        Ok(Answer::Done)
    }

    fn succeed(
        &self,
        ident: &Rollout,
        state: &RolloutState,
        device_id: &str,
        now: i64,
    ) -> Result<Answer> {
        let ledger = self.ledger();
        let Some(before) = ledger.row(device_id)? else {
            return Ok(Answer::Done);
        };
        if let Some(step) = rs::on_success(&ident.spec, state, &before.job(), now) {
            self.store_step(ident, Some(&before), step, now)?;
        }
        // Reporting the target means the upgrade took: its count and any ban are cleared.
        if before.deliveries != 0 || before.banned != 0 {
            let target = count_key(&ident.firmware_name, &ident.plan_id);
            let delivery = after_report(&Row::delivery(Some(&before), &target), &target);
            let job = ledger
                .row(device_id)?
                .map(|r| r.job())
                .unwrap_or_else(|| before.job());
            ledger.save_device(&job, &delivery, None)?;
        }
        Ok(Answer::Done)
    }

    /// Time-driven work: on the first shard, verification timeout and `auto_advance` on the
    /// merged counts; on every shard, its jobs past `job_timeout_s`.
    fn sweep(&self, ident: &Rollout, shard: u32, state: RolloutState, now: i64) -> Result<Answer> {
        let mut state = state;
        if shard == 0 {
            let merged = self.view(ident)?;
            if let Some((next, event)) = rs::on_tick(&ident.spec, &merged, now) {
                state = adopted(&state, &phase_of(&next));
                self.save_state(ident, &state)?;
                self.moved(ident, Some(event), &next)?;
            }
        }
        let deadline = now - (ident.job_timeout_s as i64).saturating_mul(1000);
        for row in self.ledger().offered_before(deadline, SWEEP_BATCH)? {
            if rs::job_timed_out(&row.job(), ident.job_timeout_s, now) {
                let failure = DeviceFailure::JobTimedOut;
                if let Some(step) = rs::on_failure(&ident.spec, &state, &row.job(), failure, now) {
                    state = step.rollout.clone();
                    self.store_step(ident, Some(&row), step, now)?;
                }
            }
        }
        Ok(Answer::Done)
    }

    /// Lifts a device's ban in this rollout: its deliveries start again from none, and a banned
    /// job is offered again (`rs::on_unban`), with the counts and its history following.
    fn unban(&self, ident: &Rollout, state: &RolloutState, row: &Row) -> Result<()> {
        let ledger = self.ledger();
        let job = row.job();
        let now = crate::store::now();
        let Some(step) = rs::on_unban(state, &job, now) else {
            return ledger.save_device(&job, &DeliveryState::default(), None);
        };
        if let Some((kind, detail)) = phase_entry(&ident.plan_id, Some(&job), &step.device) {
            ledger.record(&step.device.device_id, kind, &detail, now)?;
        }
        ledger.save_device(&step.device, &DeliveryState::default(), None)?;
        self.save_state(ident, &step.rollout)
    }

    /// Stores a device transition (the rollout, the job, its history entry), keeping deliveries.
    fn store_step(
        &self,
        ident: &Rollout,
        before: Option<&Row>,
        step: Step,
        now: i64,
    ) -> Result<()> {
        let job_before = before.map(Row::job);
        let ledger = self.ledger();
        if let Some((kind, detail)) = phase_entry(&ident.plan_id, job_before.as_ref(), &step.device)
        {
            ledger.record(&step.device.device_id, kind, &detail, now)?;
        }
        let delivery = Row::delivery(before, "");
        ledger.save_device(&step.device, &delivery, before.and_then(|r| r.banned_at))?;
        self.save_state(ident, &step.rollout)?;
        self.moved(ident, step.event, &step.rollout)?;
        Ok(())
    }
}

pub(super) fn answer_of(
    answer: std::result::Result<(), fota_shared::leaf::code::Refusal>,
) -> Answer {
    match answer {
        Ok(()) => Answer::Done,
        Err(refused) => Answer::Refused(refused.code()),
    }
}
