//! How the first shard leads a sharded rollout: the merged view of every shard's counts, the
//! health gate judged on it, an operator's control, gathering counts and spreading the phase.
//! The other shards' side (reporting counts and taking the phase back) is here too.

use super::{adopted, phase_of, RolloutCoordinator};
use crate::coordinator_store::parse;
use crate::error::AppError;
use crate::rollout::{between_shards, Answer, Op, Phase, Rollout};
use fota_shared::model::rollout::{RolloutAction, RolloutState};
use fota_shared::rules::rollout_state as rs;
use worker::Result;

impl RolloutCoordinator {
    /// The rollout as the operator sees it: on the first shard of a sharded rollout its own
    /// state with every other shard's counts added, else the shard's own.
    pub(super) fn view(&self, ident: &Rollout) -> Result<RolloutState> {
        let (own, _, _) = self.memory.borrow().clone().ok_or_else(|| {
            worker::Error::RustError("the coordinator read before loading".into())
        })?;
        if ident.shards <= 1 {
            return Ok(own);
        }
        Ok(rs::merge(&own, &self.ledger().peers()?))
    }

    /// The first shard: the health gate on the merged counts since the last merge.
    pub(super) fn judge(&self, ident: &Rollout) -> Result<()> {
        let merged = self.view(ident)?;
        let before = match self.ledger().meta()?.and_then(|m| m.merged) {
            Some(text) => parse(&text)?,
            // Nothing merged yet: every count is news.
            None => RolloutState {
                verification: Default::default(),
                stages: vec![Default::default(); merged.stages.len()],
                totals: Default::default(),
                unverified: Default::default(),
                ..merged.clone()
            },
        };
        let merged = match rs::judge_merged(&ident.spec, &before, &merged) {
            Some((next, event)) => {
                let (own, _, _) = self.load(ident, 0)?;
                self.save_state(ident, &adopted(&own, &phase_of(&next)))?;
                self.moved(ident, Some(event), &next)?;
                next
            }
            None => merged,
        };
        if merged != before {
            let (own, version, high) = self.load(ident, 0)?;
            self.ledger().save_merged(&merged, version + 1)?;
            *self.memory.borrow_mut() = Some((own, version + 1, high));
        }
        Ok(())
    }

    /// The first shard asks every other shard for its counts (each settles its D1 copy first).
    pub(super) async fn gather(&self, ident: &Rollout) -> Result<()> {
        let asks = (1..ident.shards).map(|s| between_shards(&self.env, ident, s, Op::Counts));
        for (i, answer) in futures_util::future::join_all(asks)
            .await
            .into_iter()
            .enumerate()
        {
            match answer {
                Ok(Answer::State(state)) => self.ledger().put_peer(i as u32 + 1, &state)?,
                Ok(other) => {
                    AppError::Unavailable(format!("shard {} answered {other:?}", i + 1)).log()
                }
                Err(e) => e.log(),
            }
        }
        Ok(())
    }

    /// The first shard's new phase or stage reaches every other shard before the call returns.
    pub(super) async fn spread(&self, ident: &Rollout, phase: &Phase) {
        let tells = (1..ident.shards)
            .map(|s| between_shards(&self.env, ident, s, Op::Adopt(phase.clone())));
        for told in futures_util::future::join_all(tells).await {
            if let Err(e) = told {
                e.log();
            }
        }
    }

    /// Another shard tells the first its counts after they changed, and takes its phase back.
    pub(super) async fn report(&self) -> Result<()> {
        let Some((ident, shard)) = self.ident.borrow().clone() else {
            return Ok(());
        };
        let (state, version, _) = self.load(&ident, shard)?;
        if shard == 0 || ident.shards <= 1 || version <= self.reported.get() {
            return Ok(());
        }
        let answer = between_shards(&self.env, &ident, 0, Op::Report { shard, state })
            .await
            .map_err(|e| worker::Error::RustError(format!("{e:?}")))?;
        self.reported.set(version);
        if let Answer::Phase(phase) = answer {
            self.take_phase(&ident, shard, phase)?;
        }
        Ok(())
    }

    /// Another shard takes the first's phase, unless it already took a newer one.
    pub(super) fn take_phase(&self, ident: &Rollout, shard: u32, phase: Phase) -> Result<()> {
        if phase.seq <= self.phase_seq.get() {
            return Ok(());
        }
        self.phase_seq.set(phase.seq);
        let (own, _, _) = self.load(ident, shard)?;
        if phase_of(&own)
            != (Phase {
                seq: 0,
                ..phase.clone()
            })
        {
            self.save_state(ident, &adopted(&own, &phase))?;
        }
        Ok(())
    }

    /// An operator's control, on the first shard, judged on the merged state.
    pub(super) fn control(
        &self,
        ident: &Rollout,
        action: RolloutAction,
        now: i64,
    ) -> Result<Answer> {
        let merged = self.view(ident)?;
        Ok(match rs::control(&ident.spec, &merged, action, now) {
            Ok(next) => {
                if next != merged {
                    let (own, _, _) = self.load(ident, 0)?;
                    self.save_state(ident, &adopted(&own, &phase_of(&next)))?;
                }
                Answer::State(next)
            }
            Err(e) => Answer::Invalid(e.to_string()),
        })
    }
}
