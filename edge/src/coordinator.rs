//! The rollout coordinator: one Durable Object per plan target (`project/firmware@version`),
//! Cloudflare's single writer for a rollout's hot state. It holds the rollout's phase, stage and
//! counters, each device's job and its deliveries of the target (loop-upgrade protection), and the
//! first offers per minute, in its own SQLite. Every operation runs to completion without an
//! await between reading and writing, so concurrent offers are ordered by the object: no
//! compare-and-swap, no retry, no lost count.
//!
//! D1 keeps the copy the admin API lists and the cron reads (`crate::store::rollouts`): changed
//! rows are marked dirty and written in batches by the object's alarm shortly after, or at once
//! when an admin read asks for a settled copy (`crate::rollout::Op::Flush`). A device never waits on D1 here.

use crate::error::AppError;
use crate::rollout::{Answer, Call, Op, Rollout};
use crate::store::rollouts::{self as mirror, DeviceCopy, HistoryCopy, StateCopy};
use fota_shared::model::rollout::{DevicePhase, DeviceRollout, RolloutState, Standing};
use fota_shared::rules::ban::{after_report, DeliveryState};
use fota_shared::rules::delivery::{attempt, phase_entry, Attempt};
use fota_shared::rules::rollout::{
    self as rules, rate_window, rollout_gate, OfferRate, RolloutSummary,
};
use fota_shared::rules::rollout_state::{self as rs, DeviceFailure, RolloutEvent, Step};
use serde::Deserialize;
use std::cell::{Cell, RefCell};
use worker::{
    durable_object, DurableObject, Env, Request, Response, Result, SqlCursor, SqlStorage,
    SqlStorageValue as V, State,
};

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
/// How soon after a change the alarm writes D1's copy.
const FLUSH_DELAY_MS: i64 = 200;
/// Timed-out jobs one sweep fails (the next sweep takes the rest).
const SWEEP_BATCH: u32 = 200;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (
  id INTEGER PRIMARY KEY CHECK (id = 1), plan_id TEXT NOT NULL, project_key TEXT NOT NULL, firmware_name TEXT NOT NULL,
  state TEXT NOT NULL, version INTEGER NOT NULL, high_water INTEGER NOT NULL, flushed_version INTEGER NOT NULL DEFAULT 0, gen INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS devices (
  device_id TEXT PRIMARY KEY, cohort INTEGER NOT NULL, phase TEXT NOT NULL, since_ms INTEGER NOT NULL, offered_ms INTEGER, cause TEXT,
  deliveries INTEGER NOT NULL DEFAULT 0, banned INTEGER NOT NULL DEFAULT 0, banned_at INTEGER, dirty INTEGER NOT NULL DEFAULT 0,
  last_delivery_ms INTEGER, standing TEXT);
CREATE INDEX IF NOT EXISTS devices_dirty ON devices (dirty) WHERE dirty > 0;
CREATE INDEX IF NOT EXISTS devices_offered ON devices (phase, offered_ms);
CREATE TABLE IF NOT EXISTS history (seq INTEGER PRIMARY KEY AUTOINCREMENT, device_id TEXT NOT NULL, at INTEGER NOT NULL, kind TEXT NOT NULL, detail TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS rate (minute INTEGER PRIMARY KEY, count INTEGER NOT NULL, unverified INTEGER NOT NULL DEFAULT 0);";

/// Columns added after the first objects were created: each `ALTER` fails harmlessly where the
/// column is already there.
const ADDED_COLUMNS: [&str; 3] = [
    "ALTER TABLE devices ADD COLUMN last_delivery_ms INTEGER",
    "ALTER TABLE devices ADD COLUMN standing TEXT",
    "ALTER TABLE rate ADD COLUMN unverified INTEGER NOT NULL DEFAULT 0",
];

#[durable_object]
pub struct RolloutCoordinator {
    state: State,
    env: Env,
    /// The rollout's state and version, read from SQLite once per object lifetime.
    memory: RefCell<Option<(RolloutState, i64, u32)>>,
    alarm_armed: Cell<bool>,
    flushing: Cell<bool>,
}

/// A device row as stored here.
#[derive(Deserialize)]
struct Row {
    device_id: String,
    cohort: i64,
    phase: String,
    since_ms: i64,
    offered_ms: Option<i64>,
    cause: Option<String>,
    deliveries: i64,
    banned: i64,
    banned_at: Option<i64>,
    #[serde(default)]
    dirty: i64,
    last_delivery_ms: Option<i64>,
    standing: Option<String>,
}

fn standing_text(standing: Standing) -> &'static str {
    match standing {
        Standing::Signed => "signed",
        Standing::Trusted => "trusted",
        Standing::Unverified => "unverified",
    }
}

impl Row {
    fn job(&self) -> DeviceRollout {
        DeviceRollout {
            device_id: self.device_id.clone(),
            cohort: self.cohort as i32,
            phase: DevicePhase::parse(&self.phase).unwrap_or(DevicePhase::Idle),
            since_ms: self.since_ms,
            offered_ms: self.offered_ms,
            cause: self.cause.clone(),
            standing: match self.standing.as_deref() {
                Some("signed") => Standing::Signed,
                Some("unverified") => Standing::Unverified,
                // Rows from before standings existed belong to devices the rollout always trusted.
                _ => Standing::Trusted,
            },
        }
    }
}

/// The object's SQLite storage, counting the rows each statement read and wrote
/// (`crate::metrics`: Durable Object storage is billed per row like D1). A write runs when it
/// is executed, so its rows are known on return; a read's rows are those of its first step.
struct Sql(SqlStorage);

impl Sql {
    fn exec(&self, query: &str, bindings: impl Into<Option<Vec<V>>>) -> Result<SqlCursor> {
        let cursor = self.0.exec(query, bindings)?;
        crate::metrics::do_rows(cursor.rows_read() as u64, cursor.rows_written() as u64);
        Ok(cursor)
    }
}

const ROW_COLUMNS: &str = "device_id, cohort, phase, since_ms, offered_ms, cause, deliveries, banned, banned_at, dirty, last_delivery_ms, standing";

impl DurableObject for RolloutCoordinator {
    fn new(state: State, env: Env) -> Self {
        let sql = state.storage().sql();
        if let Err(e) = sql.exec(SCHEMA, None) {
            crate::logs::once("coordinator schema", &e.to_string());
        }
        for alter in ADDED_COLUMNS {
            let _ = sql.exec(alter, None);
        }
        Self {
            state,
            env,
            memory: RefCell::new(None),
            alarm_armed: Cell::new(false),
            flushing: Cell::new(false),
        }
    }

    async fn fetch(&self, req: Request) -> Result<Response> {
        // A failure is answered, not thrown: the runtime logs every uncaught error, and under a
        // burst that is a log storm. Ours is logged once per cause per interval.
        match self.serve(req).await {
            Ok(resp) => Ok(resp),
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
        Response::ok("flushed")
    }
}

impl RolloutCoordinator {
    async fn serve(&self, mut req: Request) -> Result<Response> {
        let call: Call = req.json().await?;
        let answer = match call.op {
            Op::Status => {
                self.flush().await?;
                Answer::State(self.load(&call.ident)?.0)
            }
            Op::Flush => {
                self.flush().await?;
                Answer::Done
            }
            op => {
                let answer = self.apply(&call.ident, op)?;
                self.arm_alarm().await?;
                answer
            }
        };
        Response::from_json(&answer)
    }

    fn sql(&self) -> Sql {
        Sql(self.state.storage().sql())
    }

    /// The rollout's state, its version and the highest share ever offered; started now when new.
    fn load(&self, ident: &Rollout) -> Result<(RolloutState, i64, u32)> {
        if let Some(hit) = self.memory.borrow().clone() {
            return Ok(hit);
        }
        #[derive(Deserialize)]
        struct Meta {
            state: String,
            version: i64,
            high_water: i64,
        }
        let rows: Vec<Meta> = self
            .sql()
            .exec(
                "SELECT state, version, high_water FROM meta WHERE id = 1",
                None,
            )?
            .to_array()?;
        let loaded = match rows.into_iter().next() {
            Some(m) => (
                serde_json::from_str(&m.state)
                    .map_err(|e| worker::Error::RustError(e.to_string()))?,
                m.version,
                m.high_water as u32,
            ),
            None => {
                let state = rs::start(&ident.spec, crate::store::now());
                let high = rules::current_percent(&ident.spec, &state);
                self.sql().exec(
                    "INSERT INTO meta (id, plan_id, project_key, firmware_name, state, version, high_water) VALUES (1, ?, ?, ?, ?, 1, ?)",
                    vec![V::from(ident.plan_id.as_str()), V::from(ident.project_key.as_str()), V::from(ident.firmware_name.as_str()), V::from(json(&state)?), V::from(high as i64)],
                )?;
                (state, 1, high)
            }
        };
        *self.memory.borrow_mut() = Some(loaded.clone());
        Ok(loaded)
    }

    fn save_state(&self, ident: &Rollout, state: &RolloutState) -> Result<()> {
        let (_, version, high) = self.load(ident)?;
        let high = high.max(rules::current_percent(&ident.spec, state));
        self.sql().exec(
            "UPDATE meta SET state = ?, version = ?, high_water = ? WHERE id = 1",
            vec![
                V::from(json(state)?),
                V::from(version + 1),
                V::from(high as i64),
            ],
        )?;
        *self.memory.borrow_mut() = Some((state.clone(), version + 1, high));
        Ok(())
    }

    fn row(&self, device_id: &str) -> Result<Option<Row>> {
        let rows: Vec<Row> = self
            .sql()
            .exec(
                &format!("SELECT {ROW_COLUMNS} FROM devices WHERE device_id = ?"),
                vec![V::from(device_id)],
            )?
            .to_array()?;
        Ok(rows.into_iter().next())
    }

    /// Stores a device's job and deliveries, marked for D1's copy.
    fn save_device(
        &self,
        job: &DeviceRollout,
        delivery: &DeliveryState,
        banned_at: Option<i64>,
    ) -> Result<()> {
        self.sql().exec(
            "INSERT INTO devices (device_id, cohort, phase, since_ms, offered_ms, cause, deliveries, banned, banned_at, dirty, last_delivery_ms, standing)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, (SELECT gen + 1 FROM meta WHERE id = 1), ?, ?)
             ON CONFLICT(device_id) DO UPDATE SET cohort = excluded.cohort, phase = excluded.phase, since_ms = excluded.since_ms,
               offered_ms = excluded.offered_ms, cause = excluded.cause, deliveries = excluded.deliveries, banned = excluded.banned,
               banned_at = excluded.banned_at, dirty = excluded.dirty, last_delivery_ms = excluded.last_delivery_ms, standing = excluded.standing",
            vec![
                V::from(job.device_id.as_str()),
                V::from(job.cohort as i64),
                V::from(job.phase.as_str()),
                V::from(job.since_ms),
                V::from(job.offered_ms),
                V::from(job.cause.clone()),
                V::from(delivery.count as i64),
                V::from(delivery.banned as i64),
                V::from(banned_at),
                V::from(delivery.last_ms),
                V::from(standing_text(job.standing)),
            ],
        )?;
        self.sql()
            .exec("UPDATE meta SET gen = gen + 1 WHERE id = 1", None)?;
        Ok(())
    }

    fn record(&self, device_id: &str, kind: &str, detail: &str, now: i64) -> Result<()> {
        self.sql().exec(
            "INSERT INTO history (device_id, at, kind, detail) VALUES (?, ?, ?, ?)",
            vec![
                V::from(device_id),
                V::from(now),
                V::from(kind),
                V::from(detail),
            ],
        )?;
        Ok(())
    }

    fn offers_this_minute(&self, now: i64) -> Result<OfferRate> {
        #[derive(Deserialize)]
        struct C {
            count: i64,
            unverified: i64,
        }
        let rows: Vec<C> = self
            .sql()
            .exec(
                "SELECT count, unverified FROM rate WHERE minute = ?",
                vec![V::from(rate_window(now))],
            )?
            .to_array()?;
        Ok(rows.first().map_or(OfferRate::default(), |c| OfferRate {
            offers: c.count as u32,
            unverified: c.unverified as u32,
        }))
    }

    fn count_offer(&self, now: i64, standing: Standing) -> Result<()> {
        let unverified = i64::from(standing == Standing::Unverified);
        self.sql().exec(
            "INSERT INTO rate (minute, count, unverified) VALUES (?, 1, ?)
             ON CONFLICT(minute) DO UPDATE SET count = count + 1, unverified = unverified + excluded.unverified",
            vec![V::from(rate_window(now)), V::from(unverified)],
        )?;
        // Older windows are never read again.
        self.sql().exec(
            "DELETE FROM rate WHERE minute < ?",
            vec![V::from(rate_window(now) - 3_600_000)],
        )?;
        Ok(())
    }

    fn delivery_of(row: Option<&Row>, target: &str) -> DeliveryState {
        DeliveryState {
            target: Some(target.to_string()),
            count: row.map_or(0, |r| r.deliveries as u32),
            banned: row.is_some_and(|r| r.banned != 0),
            last_ms: row.and_then(|r| r.last_delivery_ms),
        }
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
        if let Some((kind, detail)) = phase_entry(&ident.plan_id, job_before.as_ref(), &step.device)
        {
            self.record(&step.device.device_id, kind, &detail, now)?;
        }
        let delivery = Self::delivery_of(before, "");
        self.save_device(&step.device, &delivery, before.and_then(|r| r.banned_at))?;
        self.save_state(ident, &step.rollout)?;
        log_event(&ident.plan_id, step.event);
        Ok(())
    }

    fn apply(&self, ident: &Rollout, op: Op) -> Result<Answer> {
        let (state, _, high_water) = self.load(ident)?;
        let summary = RolloutSummary {
            phase: state.phase,
            percent: rules::current_percent(&ident.spec, &state),
            high_water,
        };
        // A device whose stage has not opened is answered as the edge's shortcut answers it, and
        // is not counted: a held-back device costs no write (the edge rarely asks, only when
        // its summary is older than the rollout's).
        let asking = match &op {
            Op::Attempt { device_id, .. } | Op::Admit { device_id, .. } => Some(device_id),
            _ => None,
        };
        if let Some(device_id) = asking {
            let held = rules::held_back(&ident.spec, &summary, &ident.plan_id, device_id);
            if let Some(refused) = held {
                if self.row(device_id)?.is_none() {
                    return Ok(Answer::Refused(refused.code()));
                }
            }
        }
        Ok(match op {
            Op::Attempt {
                device_id,
                from,
                target,
                ban_after,
                counts,
                window_ms,
                now,
            } => {
                let before = self.row(&device_id)?;
                let job = before.as_ref().map(Row::job);
                let delivery = Self::delivery_of(before.as_ref(), &target);
                let v = attempt(&Attempt {
                    spec: &ident.spec,
                    state: &state,
                    plan_id: &ident.plan_id,
                    device_id: &device_id,
                    from: &from,
                    device: job.as_ref(),
                    delivery: &delivery,
                    target: &target,
                    ban_after,
                    fresh: counts,
                    now_ms: now,
                    window_ms,
                    rate: self.offers_this_minute(now)?,
                });
                if !counts {
                    // A `HEAD` or a partial range: the answer a download would get, and nothing
                    // counted (no eligibility, offer, delivery or ban).
                    return Ok(match v.answer {
                        Ok(()) => Answer::Done,
                        Err(refused) => Answer::Refused(refused.code()),
                    });
                }
                for (kind, detail) in &v.history {
                    self.record(&device_id, kind, detail, now)?;
                }
                if let Some(dev) = &v.device {
                    if v.device != job || v.delivery != delivery {
                        let banned_at = match before.as_ref().and_then(|r| r.banned_at) {
                            Some(at) if v.delivery.banned => Some(at),
                            _ => v.delivery.banned.then_some(now),
                        };
                        self.save_device(dev, &v.delivery, banned_at)?;
                    }
                }
                if v.first_offer && ident.spec.max_per_minute.is_some() {
                    // The device's standing says which share of the budget the offer counts against.
                    let standing = v.device.as_ref().map_or(Standing::Trusted, |d| d.standing);
                    self.count_offer(now, standing)?;
                }
                if v.state != state {
                    self.save_state(ident, &v.state)?;
                }
                for event in v.events {
                    log_event(&ident.plan_id, Some(event));
                }
                match v.answer {
                    Ok(()) => Answer::Done,
                    Err(refused) => Answer::Refused(refused.code()),
                }
            }
            Op::Admit {
                device_id,
                from,
                now,
            } => {
                let before = self.row(&device_id)?;
                let mut job = before.as_ref().map(Row::job);
                let mut state = state;
                if job.is_none() {
                    if let Some(step) = rs::on_eligible_seen(
                        &ident.spec,
                        &state,
                        &ident.plan_id,
                        &device_id,
                        &from,
                        now,
                    ) {
                        state = step.rollout.clone();
                        job = Some(step.device.clone());
                        self.store_step(ident, None, step, now)?;
                    }
                }
                match rollout_gate(
                    &ident.spec,
                    &state,
                    &ident.plan_id,
                    &device_id,
                    job.as_ref(),
                    now,
                    self.offers_this_minute(now)?,
                ) {
                    Ok(()) => Answer::Job(job),
                    Err(refused) => Answer::Refused(refused.code()),
                }
            }
            Op::Offer { device_id, now } => {
                let before = self.row(&device_id)?;
                let Some(job) = before
                    .as_ref()
                    .map(Row::job)
                    .filter(|j| j.phase == DevicePhase::Idle)
                else {
                    return Ok(Answer::Done);
                };
                if ident.spec.max_per_minute.is_some_and(|max| {
                    self.offers_this_minute(now)
                        .is_ok_and(|rate| rate.spent(max, job.standing))
                }) {
                    return Ok(Answer::Refused(
                        fota_shared::leaf::code::Refusal::NotOfferingNow.code(),
                    ));
                }
                if let Some(step) = rs::on_offer(&state, &job, now) {
                    self.store_step(ident, before.as_ref(), step, now)?;
                    if ident.spec.max_per_minute.is_some() {
                        self.count_offer(now, job.standing)?;
                    }
                }
                Answer::Done
            }
            Op::Device { device_id } => Answer::Job(self.row(&device_id)?.as_ref().map(Row::job)),
            Op::Succeed { device_id, now } => {
                let Some(before) = self.row(&device_id)? else {
                    return Ok(Answer::Done);
                };
                if let Some(step) = rs::on_success(&ident.spec, &state, &before.job(), now) {
                    self.store_step(ident, Some(&before), step, now)?;
                }
                // Reporting the target means the upgrade took: its count and any ban are cleared.
                if before.deliveries != 0 || before.banned != 0 {
                    let target = count_key(&ident.firmware_name, &ident.plan_id);
                    let delivery =
                        after_report(&Self::delivery_of(Some(&before), &target), &target);
                    let job = self
                        .row(&device_id)?
                        .map(|r| r.job())
                        .unwrap_or_else(|| before.job());
                    self.save_device(&job, &delivery, None)?;
                }
                Answer::Done
            }
            Op::Fail {
                device_id,
                failure,
                now,
            } => {
                if let Some(before) = self.row(&device_id)? {
                    if let Some(step) =
                        rs::on_failure(&ident.spec, &state, &before.job(), failure, now)
                    {
                        self.store_step(ident, Some(&before), step, now)?;
                    }
                }
                Answer::Done
            }
            Op::Sweep { now } => {
                let mut state = state;
                if let Some((next, event)) = rs::on_tick(&ident.spec, &state, now) {
                    self.save_state(ident, &next)?;
                    log_event(&ident.plan_id, Some(event));
                    state = next;
                }
                let deadline = now - (ident.job_timeout_s as i64).saturating_mul(1000);
                let rows: Vec<Row> = self
                    .sql()
                    .exec(
                        &format!("SELECT {ROW_COLUMNS} FROM devices WHERE phase = 'offered' AND offered_ms <= ? LIMIT {SWEEP_BATCH}"),
                        vec![V::from(deadline)],
                    )?
                    .to_array()?;
                for row in rows {
                    if rs::job_timed_out(&row.job(), ident.job_timeout_s, now) {
                        if let Some(step) = rs::on_failure(
                            &ident.spec,
                            &state,
                            &row.job(),
                            DeviceFailure::JobTimedOut,
                            now,
                        ) {
                            state = step.rollout.clone();
                            self.store_step(ident, Some(&row), step, now)?;
                        }
                    }
                }
                Answer::Done
            }
            Op::Control { action, now } => match rs::control(&ident.spec, &state, action, now) {
                Ok(next) => {
                    if next != state {
                        self.save_state(ident, &next)?;
                    }
                    Answer::State(next)
                }
                Err(e) => Answer::Invalid(e.to_string()),
            },
            Op::Reconcile => {
                let next = rs::reconcile(&ident.spec, &state);
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
                if let Some(row) = self.row(&device_id)? {
                    self.save_device(&row.job(), &DeliveryState::default(), None)?;
                }
                Answer::Done
            }
            Op::Forget { device_id } => {
                self.sql().exec(
                    "DELETE FROM devices WHERE device_id = ?",
                    vec![V::from(device_id.as_str())],
                )?;
                self.sql().exec(
                    "DELETE FROM history WHERE device_id = ?",
                    vec![V::from(device_id.as_str())],
                )?;
                Answer::Done
            }
            Op::Status | Op::Flush => Answer::Done,
        })
    }

    async fn arm_alarm(&self) -> Result<()> {
        if self.alarm_armed.get() {
            return Ok(());
        }
        let dirty = self.has_pending()?;
        if dirty {
            let storage = self.state.storage();
            if storage.get_alarm().await?.is_none() {
                storage
                    .set_alarm(std::time::Duration::from_millis(FLUSH_DELAY_MS as u64))
                    .await?;
            }
            self.alarm_armed.set(true);
        }
        Ok(())
    }

    fn has_pending(&self) -> Result<bool> {
        #[derive(Deserialize)]
        struct P {
            pending: i64,
        }
        let rows: Vec<P> = self
            .sql()
            .exec(
                "SELECT (SELECT version > flushed_version FROM meta WHERE id = 1)
                      + EXISTS (SELECT 1 FROM devices WHERE dirty > 0) + EXISTS (SELECT 1 FROM history) AS pending",
                None,
            )?
            .to_array()?;
        Ok(rows.first().is_some_and(|p| p.pending > 0))
    }

    /// Writes every pending change to D1, in batches. One flush runs at a time; a caller that
    /// finds one running waits for it and then writes what is left.
    async fn flush(&self) -> Result<()> {
        for _ in 0..200 {
            if !self.flushing.get() {
                break;
            }
            worker::Delay::from(std::time::Duration::from_millis(5)).await;
        }
        self.flushing.set(true);
        let result = self.flush_rounds().await;
        self.flushing.set(false);
        if let Err(e) = &result {
            AppError::Unavailable(format!("rollout copy to D1 failed: {e}")).log();
            // The alarm retries.
            self.alarm_armed.set(false);
            if let Err(e) = self.arm_alarm().await {
                AppError::from(e).log();
            }
        }
        result
    }

    async fn flush_rounds(&self) -> Result<()> {
        #[derive(Deserialize)]
        struct Meta {
            plan_id: String,
            project_key: String,
            firmware_name: String,
            state: String,
            version: i64,
            high_water: i64,
            flushed_version: i64,
        }
        #[derive(Deserialize)]
        struct Hist {
            seq: i64,
            device_id: String,
            at: i64,
            kind: String,
            detail: String,
        }
        for _ in 0..FLUSH_ROUNDS {
            let Some(meta) = self
                .sql()
                .exec("SELECT * FROM meta WHERE id = 1", None)?
                .to_array::<Meta>()?
                .into_iter()
                .next()
            else {
                return Ok(());
            };
            let devices: Vec<Row> = self
                .sql()
                .exec(
                    &format!(
                        "SELECT {ROW_COLUMNS} FROM devices WHERE dirty > 0 LIMIT {FLUSH_DEVICES}"
                    ),
                    None,
                )?
                .to_array()?;
            let history: Vec<Hist> =
                self.sql().exec(&format!("SELECT seq, device_id, at, kind, detail FROM history ORDER BY seq LIMIT {FLUSH_HISTORY}"), None)?.to_array()?;
            let state_due = meta.version > meta.flushed_version;
            if devices.is_empty() && history.is_empty() && !state_due {
                return Ok(());
            }
            let env = &self.env;
            let err = |e: crate::error::AppError| worker::Error::RustError(format!("{e:?}"));
            let mut batch = Vec::new();
            let phase = serde_json::from_str::<RolloutState>(&meta.state)
                .map(|s| s.phase.as_str())
                .unwrap_or("running");
            batch.push(
                mirror::state_stmt(
                    env,
                    &StateCopy {
                        plan_id: &meta.plan_id,
                        project_key: &meta.project_key,
                        firmware_name: &meta.firmware_name,
                        phase,
                        high_water: meta.high_water as u32,
                        state_json: &meta.state,
                        version: meta.version,
                        updated_at: crate::store::now(),
                    },
                )
                .map_err(err)?,
            );
            let target = count_key(&meta.firmware_name, &meta.plan_id);
            for d in &devices {
                let job = d.job();
                let copy = DeviceCopy {
                    job: &job,
                    delivery_target: &target,
                    deliveries: d.deliveries as u32,
                    banned: d.banned != 0,
                    banned_at: d.banned_at,
                };
                batch.extend(mirror::device_stmts(env, &meta.plan_id, &copy).map_err(err)?);
            }
            for h in &history {
                batch.push(
                    mirror::history_stmt(
                        env,
                        &meta.project_key,
                        &HistoryCopy {
                            device_id: &h.device_id,
                            at: h.at,
                            kind: &h.kind,
                            detail: &h.detail,
                        },
                    )
                    .map_err(err)?,
                );
            }
            crate::store::batch(env, batch).await.map_err(err)?;
            // Only what was written is settled: a row changed meanwhile carries a newer mark.
            for d in &devices {
                self.sql().exec(
                    "UPDATE devices SET dirty = 0 WHERE device_id = ? AND dirty = ?",
                    vec![V::from(d.device_id.as_str()), V::from(d.dirty)],
                )?;
            }
            if let Some(last) = history.last() {
                self.sql().exec(
                    "DELETE FROM history WHERE seq <= ?",
                    vec![V::from(last.seq)],
                )?;
            }
            self.sql().exec(
                "UPDATE meta SET flushed_version = MAX(flushed_version, ?) WHERE id = 1",
                vec![V::from(meta.version)],
            )?;
        }
        Ok(())
    }
}

fn json(state: &RolloutState) -> Result<String> {
    serde_json::to_string(state).map_err(|e| worker::Error::RustError(e.to_string()))
}

/// A rollout moving by itself (verification, gate, advance) is worth one log line.
fn log_event(plan_id: &str, event: Option<RolloutEvent>) {
    if let Some(event) = event {
        worker::console_log!("rollout {plan_id}: {event:?}");
    }
}
