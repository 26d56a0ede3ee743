//! The Devices tab's own changes of one device (unban, forget, move to another project, cancel
//! or uncancel its upgrade): each call run by the shell with the API client, and answered with
//! what it asked.

use fota_shared::api::fleet::Device;
use fota_shared::api::ota::CancelResult;

use crate::api::ApiClient;
use crate::dashboard::message::Progress;
use crate::dashboard::remote::Outcome;
use crate::dashboard::shell::failure;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceCall {
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
            DeviceAnswer::Unbanned { result, .. } | DeviceAnswer::Moved { result, .. } => {
                result.as_ref().err()
            }
            DeviceAnswer::Forgotten { result, .. } => result.as_ref().err(),
            DeviceAnswer::Cancelled { result, .. } => result.as_ref().err(),
        };
        Some(failure.map_or(Ok(()), |failure| Err(failure.clone())))
    }
}
