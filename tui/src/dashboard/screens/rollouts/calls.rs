//! The Rollouts tab's own calls (loading the plans; a preview of the plan form's values, saving
//! a plan, deleting one; pausing, resuming, advancing or aborting a rollout): each run by the
//! shell with the API client, and answered with what it asked. A rollout's status is loaded
//! app-wide (`Command::LoadPlanStatus`), as the Fleet tab's summary asks for it too.

use fota_shared::api::plans::RolloutStatus;
use fota_shared::api::preview::PlanPreview;
use fota_shared::model::plan::{Plan, PlanSpec};
use fota_shared::model::rollout::RolloutAction;

use crate::api::ApiClient;
use crate::dashboard::message::Progress;
use crate::dashboard::remote::Outcome;
use crate::dashboard::shell::failure;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlanCall {
    /// The project's plans.
    Load { project: String },
    /// Previews a plan before it is saved; nothing changes.
    Preview {
        project: String,
        firmware_name: String,
        spec: PlanSpec,
    },
    Put {
        project: String,
        firmware_name: String,
        spec: PlanSpec,
    },
    Delete {
        project: String,
        firmware_name: String,
    },
    /// Pauses, resumes, advances or aborts the rollout of plan `firmware_name`.
    Control {
        project: String,
        firmware_name: String,
        action: RolloutAction,
    },
}

/// The answers to [`PlanCall`]s.
#[derive(Debug)]
pub enum PlanAnswer {
    Loaded(Outcome<Vec<Plan>>),
    /// What a plan form's values would do (`POST .../preview`), for the form to show.
    Previewed {
        firmware_name: String,
        spec: PlanSpec,
        result: Outcome<PlanPreview>,
    },
    Saved {
        firmware_name: String,
        result: Outcome<Plan>,
    },
    Deleted {
        firmware_name: String,
        result: Outcome<()>,
    },
    /// The rollout's status after the control, or why it was refused.
    Controlled {
        firmware_name: String,
        action: RolloutAction,
        result: Outcome<RolloutStatus>,
    },
}

impl PlanCall {
    /// The shell's part: one call with the API client.
    pub async fn run(self, api: &ApiClient, _progress: &Progress) -> PlanAnswer {
        match self {
            PlanCall::Load { project } => PlanAnswer::Loaded(
                api.plans(&project)
                    .await
                    .map(|list| list.plans)
                    .map_err(failure),
            ),
            PlanCall::Preview {
                project,
                firmware_name,
                spec,
            } => PlanAnswer::Previewed {
                result: api
                    .preview_plan(&project, &firmware_name, &spec)
                    .await
                    .map_err(failure),
                firmware_name,
                spec,
            },
            PlanCall::Put {
                project,
                firmware_name,
                spec,
            } => PlanAnswer::Saved {
                result: api
                    .put_plan(&project, &firmware_name, &spec)
                    .await
                    .map_err(failure),
                firmware_name,
            },
            PlanCall::Delete {
                project,
                firmware_name,
            } => PlanAnswer::Deleted {
                result: api
                    .delete_plan(&project, &firmware_name)
                    .await
                    .map_err(failure),
                firmware_name,
            },
            PlanCall::Control {
                project,
                firmware_name,
                action,
            } => PlanAnswer::Controlled {
                result: api
                    .control_rollout(&project, &firmware_name, action)
                    .await
                    .map_err(failure),
                firmware_name,
                action,
            },
        }
    }
}

impl PlanAnswer {
    /// Whether the call reached the server, for the link state.
    pub fn reached(&self) -> Option<Outcome<()>> {
        let failure = match self {
            PlanAnswer::Loaded(result) => result.as_ref().err(),
            PlanAnswer::Previewed { result, .. } => result.as_ref().err(),
            PlanAnswer::Saved { result, .. } => result.as_ref().err(),
            PlanAnswer::Deleted { result, .. } => result.as_ref().err(),
            PlanAnswer::Controlled { result, .. } => result.as_ref().err(),
        };
        Some(failure.map_or(Ok(()), |failure| Err(failure.clone())))
    }
}
