//! Which events a rollout's moves produce, and the data each carries: one place, so the
//! coordinator (moves of its own) and the admin API (an operator's controls) say the same.

use crate::model::event::EventType;
use crate::model::rollout::{RolloutAction, RolloutPhase, RolloutState};
use crate::rules::rollout_state::RolloutEvent;
use serde_json::{json, Value};

/// Who moved a rollout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MovedBy<'a> {
    /// Its health gate (a stage's failures, a test device that failed).
    Gate,
    /// Its own rules: verification passed, `auto_advance`, a timeout.
    Rollout,
    /// An operator's control, by token name.
    Operator(&'a str),
}

/// The events a rollout moving by itself produces.
pub fn of_rollout(event: RolloutEvent) -> Vec<(EventType, MovedBy<'static>)> {
    use EventType as T;
    match event {
        RolloutEvent::VerificationPassed => vec![
            (T::VerificationPassed, MovedBy::Rollout),
            (T::RolloutRunning, MovedBy::Rollout),
        ],
        RolloutEvent::VerificationFailed => vec![
            (T::VerificationFailed, MovedBy::Gate),
            (T::RolloutFailed, MovedBy::Gate),
        ],
        RolloutEvent::VerificationHeld | RolloutEvent::GateTripped => {
            vec![(T::RolloutPaused, MovedBy::Gate)]
        }
        RolloutEvent::Advanced => vec![(T::RolloutStageAdvanced, MovedBy::Rollout)],
        RolloutEvent::Completed => vec![(T::RolloutCompleted, MovedBy::Rollout)],
    }
}

/// The event an operator's control produced, judged on the rollout after it.
pub fn of_control(action: RolloutAction, after: &RolloutState) -> EventType {
    match action {
        RolloutAction::Pause => EventType::RolloutPaused,
        RolloutAction::Resume => EventType::RolloutResumed,
        RolloutAction::Cancel => EventType::RolloutCancelled,
        RolloutAction::Advance => match after.phase {
            RolloutPhase::Completed => EventType::RolloutCompleted,
            RolloutPhase::Running if after.stage == 0 => EventType::RolloutRunning,
            _ => EventType::RolloutStageAdvanced,
        },
    }
}

/// The event a new rollout starts with.
pub fn of_start(state: &RolloutState) -> EventType {
    match state.phase {
        RolloutPhase::Verifying => EventType::RolloutVerifying,
        _ => EventType::RolloutRunning,
    }
}

/// A rollout event's data: the plan, the phase and stage it is in, who moved it and why.
pub fn rollout_data(
    firmware_name: &str,
    plan_id: &str,
    by: MovedBy,
    state: &RolloutState,
) -> Value {
    let (by, actor) = match by {
        MovedBy::Gate => ("gate", None),
        MovedBy::Rollout => ("rollout", None),
        MovedBy::Operator(name) => ("operator", Some(name)),
    };
    let mut data = json!({
        "firmware_name": firmware_name,
        "plan_id": plan_id,
        "phase": state.phase,
        "stage": state.stage,
        "by": by,
        "totals": state.totals,
    });
    let reason = state
        .paused_reason
        .as_ref()
        .or(state.failed_reason.as_ref());
    if let Some(reason) = reason {
        data["reason"] = json!(reason);
    }
    if let Some(actor) = actor {
        data["actor"] = json!(actor);
    }
    data
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moves_map_to_events() {
        use EventType as T;
        let table = [
            (
                RolloutEvent::VerificationPassed,
                vec![T::VerificationPassed, T::RolloutRunning],
            ),
            (
                RolloutEvent::VerificationFailed,
                vec![T::VerificationFailed, T::RolloutFailed],
            ),
            (RolloutEvent::VerificationHeld, vec![T::RolloutPaused]),
            (RolloutEvent::GateTripped, vec![T::RolloutPaused]),
            (RolloutEvent::Advanced, vec![T::RolloutStageAdvanced]),
            (RolloutEvent::Completed, vec![T::RolloutCompleted]),
        ];
        for (event, expect) in table {
            let got: Vec<_> = of_rollout(event).into_iter().map(|(t, _)| t).collect();
            assert_eq!(got, expect, "{event:?}");
        }
        assert_eq!(of_rollout(RolloutEvent::GateTripped)[0].1, MovedBy::Gate);
    }
}
