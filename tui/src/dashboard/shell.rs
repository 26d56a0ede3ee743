//! The imperative shell: runs each `Command` on tokio with the API client and reports the result
//! back as an `Action`. It keeps no state of its own.
//!
//! Errors in its tasks have one way out: each becomes the `Failure` of the action it answers
//! (`failure` for the API's, `Failure::local` for reading a file or a failed task), which the
//! app shows in place and in the status line. Nothing is printed: stderr is the dashboard's
//! screen.

use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

use super::message::{Action, Command};
use super::remote::Failure;
use crate::api::{ApiClient, ApiError};
use crate::image_file::{expand_home, sha256_hex};
use fota_shared::api::query::UploadDetails;

/// Runs commands as they come, each in its own task so a slow upload never holds up a refresh.
pub fn spawn(
    api: ApiClient,
    mut commands: UnboundedReceiver<Command>,
    actions: UnboundedSender<Action>,
) {
    tokio::spawn(async move {
        while let Some(command) = commands.recv().await {
            let (api, actions) = (api.clone(), actions.clone());
            tokio::spawn(async move {
                let action = execute(&api, command, &actions).await;
                deliver(&actions, action);
            });
        }
    });
}

pub fn failure(err: ApiError) -> Failure {
    Failure {
        connection: err.is_connection_problem(),
        message: err.to_string(),
    }
}

impl Failure {
    /// A failure on this machine (a file, a task), not the server's.
    fn local(message: String) -> Failure {
        Failure {
            message,
            connection: false,
        }
    }
}

/// Hands an action to the app. The app's end is gone only when it quits, and then nobody is
/// left to tell, so an action sent too late is dropped here, in one place.
fn deliver(actions: &UnboundedSender<Action>, action: Action) {
    actions.send(action).ok();
}

async fn execute(api: &ApiClient, command: Command, actions: &UnboundedSender<Action>) -> Action {
    match command {
        Command::LoadProjects => Action::ProjectsLoaded(
            api.projects()
                .await
                .map(|list| list.projects)
                .map_err(failure),
        ),
        Command::LoadFleet { project } => {
            Action::FleetLoaded(api.fleet_snapshot(&project).await.map_err(failure))
        }
        Command::LoadActivity { project, hours } => Action::ActivityLoaded(
            api.activity(&project, hours)
                .await
                .map(|activity| activity.hours)
                .map_err(failure),
        ),
        Command::LoadDevices {
            project,
            generation,
            query,
        } => Action::DevicesLoaded {
            generation,
            cursor: query.cursor.clone(),
            result: api.devices(&project, &query).await.map_err(failure),
        },
        Command::LoadFirmware { project } => Action::FirmwareLoaded(
            api.firmware_list(&project)
                .await
                .map(|list| list.firmware)
                .map_err(failure),
        ),
        Command::LoadPlans { project } => Action::PlansLoaded(
            api.plans(&project)
                .await
                .map(|list| list.plans)
                .map_err(failure),
        ),
        Command::UploadFirmware {
            project,
            path,
            firmware_name,
            version,
            details,
        } => Action::UploadFinished(
            upload(
                api,
                &project,
                &path,
                (&firmware_name, &version, &details),
                actions,
            )
            .await,
        ),
        Command::DeleteFirmware {
            project,
            firmware_name,
            version,
        } => {
            let result = api
                .delete_firmware(&project, &firmware_name, &version)
                .await
                .map_err(failure);
            Action::FirmwareDeleted {
                firmware_name,
                version,
                result,
            }
        }
        Command::PutPlan {
            project,
            firmware_name,
            spec,
        } => {
            let result = api
                .put_plan(&project, &firmware_name, &spec)
                .await
                .map_err(failure);
            Action::PlanSaved {
                firmware_name,
                result,
            }
        }
        Command::DeletePlan {
            project,
            firmware_name,
        } => {
            let result = api
                .delete_plan(&project, &firmware_name)
                .await
                .map_err(failure);
            Action::PlanDeleted {
                firmware_name,
                result,
            }
        }
        Command::UnbanDevice { project, id } => {
            let result = api.unban_device(&project, &id).await.map_err(failure);
            Action::DeviceUnbanned { id, result }
        }
        Command::ForgetDevice { project, id } => {
            let result = api.forget_device(&project, &id).await.map_err(failure);
            Action::DeviceForgotten { id, result }
        }
        Command::MoveDevice { project, id, to } => {
            let result = api.move_device(&project, &id, &to).await.map_err(failure);
            Action::DeviceMoved { id, to, result }
        }
        Command::LoadPlanStatus {
            project,
            firmware_name,
        } => {
            let result = api
                .plan_status(&project, &firmware_name)
                .await
                .map_err(failure);
            Action::PlanStatusLoaded {
                firmware_name,
                result,
            }
        }
        Command::ControlRollout {
            project,
            firmware_name,
            action,
        } => {
            let result = api
                .control_rollout(&project, &firmware_name, action)
                .await
                .map_err(failure);
            Action::RolloutControlled {
                firmware_name,
                action,
                result,
            }
        }
        Command::LoadHistory { project, id } => {
            let result = api.device_history(&project, &id).await.map_err(failure);
            Action::HistoryLoaded { id, result }
        }
        Command::LoadAudit { generation, query } => Action::AuditLoaded {
            generation,
            cursor: query.cursor.clone(),
            result: api.audit(&query).await.map_err(failure),
        },
        Command::LoadJobs { project } => Action::JobsLoaded(
            api.jobs(&project, None)
                .await
                .map(|list| list.jobs)
                .map_err(failure),
        ),
        Command::ConfirmJobs { project, ids } => {
            let result = match ids.as_slice() {
                [one] => api.confirm_device(&project, one).await,
                many => {
                    let spec = fota_shared::api::ota::ConfirmSpec {
                        devices: many.to_vec(),
                    };
                    api.confirm_devices(&project, &spec).await
                }
            };
            Action::JobsConfirmed {
                ids,
                result: result.map_err(failure),
            }
        }
        Command::CheckNow { project, target } => {
            let result = api.check_now(&project, &target).await;
            Action::CheckedNow {
                target,
                result: result.map_err(failure),
            }
        }
    }
}

async fn upload(
    api: &ApiClient,
    project: &str,
    path: &str,
    (firmware_name, version, details): (&str, &str, &UploadDetails),
    actions: &UnboundedSender<Action>,
) -> Result<fota_shared::api::catalog::UploadReceipt, Failure> {
    let file = expand_home(path);
    let bytes = tokio::fs::read(&file)
        .await
        .map_err(|err| Failure::local(format!("cannot read {}: {err}", file.display())))?;
    // Hashing a large image takes a moment; keep it off the runtime's worker threads.
    let (bytes, sha256) = tokio::task::spawn_blocking(move || {
        let sha256 = sha256_hex(&bytes);
        (bytes, sha256)
    })
    .await
    .map_err(|err| Failure::local(err.to_string()))?;
    deliver(
        actions,
        Action::UploadHashed {
            sha256: sha256.clone(),
            size: bytes.len() as u64,
        },
    );
    let progress = actions.clone();
    api.upload_firmware(
        project,
        firmware_name,
        version,
        details,
        bytes,
        &sha256,
        move |sent| {
            deliver(&progress, Action::UploadProgress { sent });
        },
    )
    .await
    .map_err(failure)
}
