//! The imperative shell: runs each `Command` on tokio with the API client and reports the result
//! back as an `Action`. It keeps no state of its own.

use std::path::PathBuf;

use sha2::{Digest, Sha256};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

use crate::api::{ApiClient, ApiError, UploadDetails};
use crate::app::{Action, CheckNowTarget, Command, Failure};
use crate::fleet::FleetSnapshot;

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
                let _ = actions.send(action);
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

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// `~/fw.bin` means the home directory's file, as in a shell.
pub fn expand_home(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), dirs::home_dir()) {
        (Some(rest), Some(home)) => home.join(rest),
        _ => PathBuf::from(path),
    }
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
            Action::FleetLoaded(fleet_snapshot(api, &project).await.map_err(failure))
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
                    let spec = fota_shared::api::ConfirmSpec {
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
            let result = match &target {
                CheckNowTarget::Device(id) => api.check_now_device(&project, id).await,
                CheckNowTarget::Plan(name) => api.check_now_plan(&project, name).await,
            };
            Action::CheckedNow {
                target,
                result: result.map_err(failure),
            }
        }
    }
}

/// The Fleet tab's data: the server's summary of the whole project (one request, whatever the
/// fleet's size) and the plans it measures progress against.
async fn fleet_snapshot(api: &ApiClient, project: &str) -> Result<FleetSnapshot, ApiError> {
    let (plans, summary) = tokio::join!(api.plans(project), api.summary(project));
    Ok(FleetSnapshot {
        summary: summary?,
        plans: plans?.plans,
    })
}

async fn upload(
    api: &ApiClient,
    project: &str,
    path: &str,
    (firmware_name, version, details): (&str, &str, &UploadDetails),
    actions: &UnboundedSender<Action>,
) -> Result<fota_shared::api::UploadReceipt, Failure> {
    let file = expand_home(path);
    let bytes = tokio::fs::read(&file).await.map_err(|err| Failure {
        message: format!("cannot read {}: {err}", file.display()),
        connection: false,
    })?;
    // Hashing a large image takes a moment; keep it off the runtime's worker threads.
    let (bytes, sha256) = tokio::task::spawn_blocking(move || {
        let sha256 = sha256_hex(&bytes);
        (bytes, sha256)
    })
    .await
    .map_err(|err| Failure {
        message: err.to_string(),
        connection: false,
    })?;
    let _ = actions.send(Action::UploadHashed {
        sha256: sha256.clone(),
        size: bytes.len() as u64,
    });
    let progress = actions.clone();
    api.upload_firmware(
        project,
        firmware_name,
        version,
        details,
        bytes,
        &sha256,
        move |sent| {
            let _ = progress.send(Action::UploadProgress { sent });
        },
    )
    .await
    .map_err(failure)
}
