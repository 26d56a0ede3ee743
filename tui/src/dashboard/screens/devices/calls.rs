//! The Devices tab's own calls: its loads (a page of the registry, a device's history, the
//! project's module-OTA jobs), confirming held jobs, and its changes of one device (unban,
//! forget, move to another project, cancel or uncancel its upgrade): each run by the shell with
//! the API client, and answered with what it asked. A check-now is app-wide
//! (`Command::CheckNow`), as the Rollouts tab asks for it too.

use fota_shared::api::fleet::{Device, DeviceHistory, DeviceList};
use fota_shared::api::ota::{CancelResult, ConfirmResult, ConfirmSpec, JobInfo};
use fota_shared::api::query::DeviceQuery;

use crate::api::ApiClient;
use crate::dashboard::message::Progress;
use crate::dashboard::remote::Outcome;
use crate::dashboard::shell::failure;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceCall {
    /// A page of the registry under `query`, for the list of `generation` (a page of a list
    /// the filter has since replaced is dropped).
    LoadPage {
        project: String,
        generation: u64,
        query: DeviceQuery,
    },
    LoadHistory {
        project: String,
        id: String,
    },
    /// Every module-OTA job of the project, held or in progress.
    LoadJobs {
        project: String,
    },
    /// Confirms held jobs: one device through its own route, several in one call.
    ConfirmJobs {
        project: String,
        ids: Vec<String>,
    },
    Unban {
        project: String,
        id: String,
    },
    /// Unbinds a device and drops its registry row and history.
    Forget {
        project: String,
        id: String,
    },
    /// Moves a device, with its history, to project `to`.
    Move {
        project: String,
        id: String,
        to: String,
    },
    /// Cancels (`cancel`) or uncancels a device's upgrade in every plan that reaches it.
    Cancel {
        project: String,
        id: String,
        cancel: bool,
    },
}

/// The answers to [`DeviceCall`]s.
#[derive(Debug)]
pub enum DeviceAnswer {
    /// A page of the registry; `cursor` is the page's (`None`: the first page).
    PageLoaded {
        generation: u64,
        cursor: Option<String>,
        result: Outcome<DeviceList>,
    },
    HistoryLoaded {
        id: String,
        result: Outcome<DeviceHistory>,
    },
    JobsLoaded(Outcome<Vec<JobInfo>>),
    JobsConfirmed {
        ids: Vec<String>,
        result: Outcome<ConfirmResult>,
    },
    Unbanned {
        id: String,
        result: Outcome<Device>,
    },
    Forgotten {
        id: String,
        result: Outcome<()>,
    },
    Moved {
        id: String,
        to: String,
        result: Outcome<Device>,
    },
    Cancelled {
        id: String,
        cancel: bool,
        result: Outcome<CancelResult>,
    },
}

impl DeviceCall {
    /// The shell's part: one call with the API client.
    pub async fn run(self, api: &ApiClient, _progress: &Progress) -> DeviceAnswer {
        match self {
            DeviceCall::LoadPage {
                project,
                generation,
                query,
            } => DeviceAnswer::PageLoaded {
                generation,
                cursor: query.cursor.clone(),
                result: api.devices(&project, &query).await.map_err(failure),
            },
            DeviceCall::LoadHistory { project, id } => DeviceAnswer::HistoryLoaded {
                result: api.device_history(&project, &id).await.map_err(failure),
                id,
            },
            DeviceCall::LoadJobs { project } => DeviceAnswer::JobsLoaded(
                api.jobs(&project, None)
                    .await
                    .map(|list| list.jobs)
                    .map_err(failure),
            ),
            DeviceCall::ConfirmJobs { project, ids } => {
                let result = match ids.as_slice() {
                    [one] => api.confirm_device(&project, one).await,
                    many => {
                        let spec = ConfirmSpec {
                            devices: many.to_vec(),
                        };
                        api.confirm_devices(&project, &spec).await
                    }
                };
                DeviceAnswer::JobsConfirmed {
                    ids,
                    result: result.map_err(failure),
                }
            }
            DeviceCall::Unban { project, id } => DeviceAnswer::Unbanned {
                result: api.unban_device(&project, &id).await.map_err(failure),
                id,
            },
            DeviceCall::Forget { project, id } => DeviceAnswer::Forgotten {
                result: api.forget_device(&project, &id).await.map_err(failure),
                id,
            },
            DeviceCall::Move { project, id, to } => DeviceAnswer::Moved {
                result: api.move_device(&project, &id, &to).await.map_err(failure),
                id,
                to,
            },
            DeviceCall::Cancel {
                project,
                id,
                cancel,
            } => DeviceAnswer::Cancelled {
                result: api
                    .cancel_device(&project, &id, None, cancel)
                    .await
                    .map_err(failure),
                id,
                cancel,
            },
        }
    }
}

impl DeviceAnswer {
    /// Whether the call reached the server, for the link state.
    pub fn reached(&self) -> Option<Outcome<()>> {
        let failure = match self {
            DeviceAnswer::PageLoaded { result, .. } => result.as_ref().err(),
            DeviceAnswer::HistoryLoaded { result, .. } => result.as_ref().err(),
            DeviceAnswer::JobsLoaded(result) => result.as_ref().err(),
            DeviceAnswer::JobsConfirmed { result, .. } => result.as_ref().err(),
            DeviceAnswer::Unbanned { result, .. } | DeviceAnswer::Moved { result, .. } => {
                result.as_ref().err()
            }
            DeviceAnswer::Forgotten { result, .. } => result.as_ref().err(),
            DeviceAnswer::Cancelled { result, .. } => result.as_ref().err(),
        };
        Some(failure.map_or(Ok(()), |failure| Err(failure.clone())))
    }
}
