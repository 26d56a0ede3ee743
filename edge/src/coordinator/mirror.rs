//! A shard's copy to D1: changed device rows, history entries and (on the first shard) the
//! rollout's row, written in batches by the shard's alarm shortly after a change, or at once
//! when an admin read asks for a settled copy.

use super::{
    count_key, RolloutCoordinator, FLUSH_DELAY_MS, FLUSH_DEVICES, FLUSH_HISTORY, FLUSH_ROUNDS,
};
use crate::coordinator_store::parse;
use crate::error::AppError;
use crate::store::rollouts::{self as mirror, DeviceCopy, HistoryCopy, StateCopy};
use worker::Result;

impl RolloutCoordinator {
    pub(super) async fn arm_alarm(&self) -> Result<()> {
        if self.alarm_armed.get() {
            return Ok(());
        }
        if self.ledger().has_pending()? {
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

    /// Writes every pending change to D1, in batches. One flush runs at a time; a caller that
    /// finds one running waits for it and then writes what is left.
    pub(super) async fn flush(&self) -> Result<()> {
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

    pub(super) async fn flush_rounds(&self) -> Result<()> {
        let ledger = self.ledger();
        for _ in 0..FLUSH_ROUNDS {
            let Some(meta) = ledger.meta()? else {
                return Ok(());
            };
            let devices = ledger.dirty_devices(FLUSH_DEVICES)?;
            let history = ledger.history(FLUSH_HISTORY)?;
            let state_due = meta.version > meta.flushed_version;
            if devices.is_empty() && history.is_empty() && !state_due {
                return Ok(());
            }
            let env = &self.env;
            let err = |e: crate::error::AppError| worker::Error::RustError(format!("{e:?}"));
            let mut batch = Vec::new();
            // The rollout's row is the first shard's: the merged state where there is one.
            if meta.shard == 0 {
                let state_json = meta.merged.as_deref().unwrap_or(&meta.state);
                let phase = parse(state_json)
                    .map(|s| s.phase.as_str())
                    .unwrap_or("running");
                let copy = StateCopy {
                    plan_id: &meta.plan_id,
                    project_key: &meta.project_key,
                    firmware_name: &meta.firmware_name,
                    phase,
                    high_water: meta.high_water as u32,
                    state_json,
                    version: meta.version,
                    updated_at: crate::store::now(),
                    shards: meta.shards.max(1) as u32,
                };
                batch.push(mirror::state_stmt(env, &copy).map_err(err)?);
            }
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
                let copy = HistoryCopy {
                    device_id: &h.device_id,
                    at: h.at,
                    kind: &h.kind,
                    detail: &h.detail,
                };
                batch.push(mirror::history_stmt(env, &meta.project_key, &copy).map_err(err)?);
            }
            crate::store::batch(env, batch).await.map_err(err)?;
            ledger.settled(&devices, history.last().map(|h| h.seq), meta.version)?;
        }
        Ok(())
    }
}
