//! An operator's controls of a rollout (pause, resume, cancel, advance) as a pure transition,
//! and the refusal of one its phase does not allow.

use crate::model::rollout::{RolloutAction, RolloutPhase, RolloutSpec, RolloutState};
use crate::rules::rollout_state::advance;

/// An operator's control that the rollout's phase does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ControlError {
    pub action: RolloutAction,
    pub phase: RolloutPhase,
}

impl std::fmt::Display for ControlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use RolloutAction::*;
        use RolloutPhase::*;
        match (self.action, self.phase) {
            (Pause, Paused) => f.write_str("the rollout is already paused"),
            (Cancel, Cancelled) => f.write_str("the rollout is already cancelled"),
            (Advance, Paused) => f.write_str("cannot advance a paused rollout: resume it first"),
            (Advance, Completed) => {
                f.write_str("the rollout is completed: there is no stage after the last")
            }
            (Pause, Completed) => {
                f.write_str("a completed rollout has nothing to pause: cancel it to stop offers")
            }
            (Resume, phase) => write!(
                f,
                "cannot resume a {phase} rollout: only a paused rollout resumes"
            ),
            (action, phase @ (Cancelled | Failed)) => write!(
                f,
                "cannot {} a {phase} rollout: it offers nothing and is over",
                action.as_str()
            ),
            (action, phase) => write!(f, "cannot {} a {phase} rollout", action.as_str()),
        }
    }
}

impl std::error::Error for ControlError {}

/// An operator's pause, resume, cancel or advance. Advancing while verifying skips the rest of
/// verification; advancing past the last stage completes the rollout.
pub fn control(
    spec: &RolloutSpec,
    state: &RolloutState,
    action: RolloutAction,
    now_ms: i64,
) -> Result<RolloutState, ControlError> {
    use RolloutAction::*;
    use RolloutPhase::*;
    let mut next = state.clone();
    match (action, state.phase) {
        (Pause, Verifying | Running) => {
            next.phase = Paused;
            next.paused_reason = Some("paused by an operator".into());
        }
        (Resume, Paused) => {
            next.phase = if state.stage < 0 { Verifying } else { Running };
            next.paused_reason = None;
        }
        (Cancel, Verifying | Running | Paused | Completed) => next.phase = Cancelled,
        (Advance, Verifying | Running) => {
            advance(spec, &mut next, now_ms);
        }
        (action, phase) => return Err(ControlError { action, phase }),
    }
    Ok(next)
}
