//! A coordinator shard's part in a Luat device's deliveries (`fota_shared::rules::delivery`):
//! the check's attempt, each stream that ended, and the device's report of the target, each
//! decided in shared and stored here in one step.

use super::{answer_of, count_key, RolloutCoordinator};
use crate::coordinator_store::Row;
use crate::rollout::{Answer, Op, Rollout};
use fota_shared::leaf::code::Refusal;
use fota_shared::model::rollout::{DeviceRollout, RolloutSpec, RolloutState, Standing};
use fota_shared::rules::ban::DeliveryState;
use fota_shared::rules::budget;
use fota_shared::rules::delivery::{attempt, handed, reached, Attempt, Handed, Verdict};
use worker::Result;

impl RolloutCoordinator {
    /// A due Luat device's download attempt: counted (for a `GET` of the whole image or a
    /// redirect), gated, refused when banned, offered. Nothing is delivered yet.
    pub(super) fn attempt(
        &self,
        ident: &Rollout,
        spec: &RolloutSpec,
        state: RolloutState,
        op: Op,
    ) -> Result<Answer> {
        let Op::Attempt {
            device_id,
            from,
            target,
            counts,
            budget,
            now,
        } = op
        else {
            return Ok(Answer::Done);
        };
        let ledger = self.ledger();
        let before = ledger.row(&device_id)?;
        // The daily data budget: a device sent its bytes for today hears 74 until tomorrow;
        // nothing is counted or stored for it.
        if before
            .as_ref()
            .is_some_and(|r| budget::spent(r.sent(), budget::day_of(now), budget))
        {
            return Ok(answer_of(Err(Refusal::DailyBudgetSpent)));
        }
        let delivery = Row::delivery(before.as_ref(), &target);
        let v = attempt(&Attempt {
            spec,
            state: &state,
            plan_id: &ident.plan_id,
            device_id: &device_id,
            from: &from,
            device: before.as_ref().map(Row::job).as_ref(),
            delivery: &delivery,
            target: &target,
            rate: ledger.offers_this_minute(now)?,
            now_ms: now,
        });
        if !counts {
            // A `HEAD` or a partial range: the answer an attempt would get, and nothing
            // counted (no eligibility, offer or ban).
            return Ok(answer_of(v.answer));
        }
        if v.first_offer && spec.max_per_minute.is_some() {
            // The device's standing says which share of the budget the offer counts against.
            let standing = v.device.as_ref().map_or(Standing::Trusted, |d| d.standing);
            ledger.count_offer(now, standing)?;
        }
        let answer = answer_of(v.answer);
        self.store_verdict(ident, before.as_ref(), &delivery, &state, v, now)?;
        Ok(answer)
    }

    /// A stream of the image to a device ended: what it handed out extends what the device
    /// holds, and every byte out is a delivery (counted against `ban_after`).
    pub(super) fn handed(
        &self,
        ident: &Rollout,
        spec: &RolloutSpec,
        state: RolloutState,
        op: Op,
    ) -> Result<Answer> {
        let Op::Handed {
            device_id,
            target,
            ban_after,
            size,
            start,
            bytes,
            window_ms,
            budget,
            sha256,
            now,
        } = op
        else {
            return Ok(Answer::Done);
        };
        let ledger = self.ledger();
        // A device the rollout never offered the image to (no row) has nothing to complete.
        let Some(row) = ledger.row(&device_id)? else {
            return Ok(Answer::Done);
        };
        let job = row.job();
        let delivery = Row::delivery(Some(&row), &target);
        let held = u64::try_from(row.covered).unwrap_or(0);
        let h = handed(&Handed {
            spec,
            state: &state,
            plan_id: &ident.plan_id,
            device: &job,
            delivery: &delivery,
            covered: held,
            target: &target,
            ban_after,
            size,
            start,
            bytes,
            now_ms: now,
            window_ms,
        });
        self.store_verdict(ident, Some(&row), &delivery, &state, h.verdict, now)?;
        // A package delivered whole counts once per device it reached.
        let newly_served =
            h.delivered && !sha256.is_empty() && row.served_sha.as_deref() != Some(sha256.as_str());
        if newly_served {
            ledger.count_served(&sha256)?;
        }
        let served_sha = if newly_served {
            Some(sha256.as_str())
        } else {
            row.served_sha.as_deref()
        };
        // Every byte out counts against the daily budget, whatever the package or range, while
        // the project has one (without one, a stream writes the row only when its coverage or
        // the package served changed, as before budgets: no row written for nothing).
        let today = budget::day_of(now);
        let sent = if budget.is_some() {
            row.sent().add(today, bytes)
        } else {
            row.sent()
        };
        if budget.is_some() || newly_served || h.covered != held {
            ledger.save_stream(&device_id, h.covered, sent, served_sha)?;
        }
        if budget::reached(row.sent(), sent, today, budget) {
            let detail = format!(
                "sent {} image bytes today, the daily budget of {} (refused with code 74 until 00:00 UTC)",
                sent.bytes,
                budget.unwrap_or_default()
            );
            ledger.record(&device_id, "daily_budget_reached", &detail, now)?;
        }
        Ok(Answer::Done)
    }

    /// A Luat device reported the target: a success after a delivery (its count and ban
    /// cleared), else a report without delivery that moves nothing.
    pub(super) fn reached(
        &self,
        ident: &Rollout,
        state: &RolloutState,
        device_id: &str,
        now: i64,
    ) -> Result<Answer> {
        let Some(row) = self.ledger().row(device_id)? else {
            return Ok(Answer::Done);
        };
        let target = count_key(&ident.firmware_name, &ident.plan_id);
        let delivery = Row::delivery(Some(&row), &target);
        let v = reached(
            &ident.spec,
            state,
            &ident.plan_id,
            &row.job(),
            &delivery,
            &target,
            now,
        );
        self.store_verdict(ident, Some(&row), &delivery, state, v, now)?;
        Ok(Answer::Done)
    }

    /// Stores what a delivery step decided: its history entries, the device's row when it or
    /// its deliveries changed, the shard's state when it changed, and logs its events.
    fn store_verdict(
        &self,
        ident: &Rollout,
        before: Option<&Row>,
        delivery: &DeliveryState,
        state: &RolloutState,
        v: Verdict,
        now: i64,
    ) -> Result<()> {
        let ledger = self.ledger();
        let job: Option<DeviceRollout> = before.map(Row::job);
        if let Some(dev) = &v.device {
            for (kind, detail) in &v.history {
                ledger.record(&dev.device_id, kind, detail, now)?;
            }
            if v.device != job || v.delivery != *delivery {
                let banned_at = match before.and_then(|r| r.banned_at) {
                    Some(at) if v.delivery.banned => Some(at),
                    _ => v.delivery.banned.then_some(now),
                };
                ledger.save_device(dev, &v.delivery, banned_at)?;
                if v.delivery.banned && before.is_none_or(|r| r.banned == 0) {
                    self.banned(ident, &dev.device_id, v.delivery.count)?;
                }
            }
        }
        if v.state != *state {
            self.save_state(ident, &v.state)?;
        }
        for event in v.events {
            self.moved(ident, Some(event), &v.state)?;
        }
        Ok(())
    }
}
