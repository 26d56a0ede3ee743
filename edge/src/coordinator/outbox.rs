//! What a rollout shard tells its project's event log: its own moves (verification, the gate,
//! `auto_advance`, completion) and the devices it bans. Each event is kept in the shard's
//! `outbox` with a unique source key from the moment it is decided (in the same synchronous step
//! as the change it reports), and sent after the call that made it, or by the alarm when the log
//! could not take it then: at least once, appended once.

use super::RolloutCoordinator;
use crate::rollout::Rollout;
use fota_shared::model::event::{EventType, NewEvent};
use fota_shared::model::rollout::RolloutState;
use fota_shared::rules::events::{of_rollout, rollout_data};
use fota_shared::rules::rollout_state::RolloutEvent;
use worker::Result;

/// Events sent per append.
const SEND_BATCH: u32 = 50;

impl RolloutCoordinator {
    /// Keeps one event for the log.
    pub(super) fn tell(&self, event_type: EventType, data: serde_json::Value) -> Result<()> {
        let mut nonce = [0u8; 16];
        getrandom::fill(&mut nonce).map_err(|e| worker::Error::RustError(e.to_string()))?;
        let event = NewEvent {
            event_type,
            at_ms: crate::store::now(),
            data,
            source: Some(hex::encode(nonce)),
        };
        self.ledger().push_outbox(&serde_json::to_string(&event)?)?;
        self.outbox_waiting.set(true);
        Ok(())
    }

    /// A move of the rollout by itself: logged, and its events kept for the log.
    pub(super) fn moved(
        &self,
        ident: &Rollout,
        event: Option<RolloutEvent>,
        state: &RolloutState,
    ) -> Result<()> {
        let Some(event) = event else {
            return Ok(());
        };
        worker::console_log!("rollout {}: {event:?}", ident.plan_id);
        for (event_type, by) in of_rollout(event) {
            let data = rollout_data(&ident.firmware_name, &ident.plan_id, by, state);
            self.tell(event_type, data)?;
        }
        Ok(())
    }

    /// A device this shard banned in the rollout.
    pub(super) fn banned(&self, ident: &Rollout, device_id: &str, deliveries: u32) -> Result<()> {
        let data = serde_json::json!({
            "device_id": device_id,
            "firmware_name": ident.firmware_name,
            "plan_id": ident.plan_id,
            "deliveries": deliveries,
        });
        self.tell(EventType::DeviceBanned, data)
    }

    /// Sends what the outbox holds; on failure the alarm tries again.
    pub(super) async fn send_outbox(&self) {
        if !self.outbox_waiting.get() {
            return;
        }
        let Some((ident, _)) = self.ident.borrow().clone() else {
            return;
        };
        loop {
            let kept = match self.ledger().outbox(SEND_BATCH) {
                Ok(kept) => kept,
                Err(e) => {
                    crate::logs::once("rollout outbox unreadable", &e.to_string());
                    return;
                }
            };
            let Some(&(last, _)) = kept.last() else {
                self.outbox_waiting.set(false);
                return;
            };
            let events: Vec<NewEvent> = kept
                .iter()
                .filter_map(|(_, body)| serde_json::from_str(body).ok())
                .collect();
            if !crate::events::append(&self.env, &ident.project_key, events).await {
                if let Err(e) = self.arm_alarm().await {
                    crate::error::AppError::from(e).log();
                }
                return;
            }
            if let Err(e) = self.ledger().drop_outbox(last) {
                crate::logs::once("rollout outbox not emptied", &e.to_string());
                return;
            }
        }
    }
}
