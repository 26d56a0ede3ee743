//! The Devices tab's changes of one device (confirm a held job or every listed one, cancel or
//! uncancel its upgrade, unban, forget, move to another project): the confirmation each asks
//! for before it runs, and how the tab takes its answer.

use fota_shared::api::fleet::Device;
use fota_shared::api::ota::{CancelResult, ConfirmResult};
use fota_shared::model::job::JobPhase;

use super::{DeviceCall, DevicesScreen};
use crate::dashboard::message::{Command, Modal, Reaction, StatusKind};
use crate::dashboard::remote::{clamp, Outcome};
use crate::dashboard::screens::Screen;
use crate::strings;

impl DevicesScreen {
    /// `c`: asks before confirming the selected device's held job. Without a loaded jobs list
    /// the server decides; with one, a device with nothing held is told so at once.
    pub(super) fn confirm_selected(&self, project: String) -> Reaction {
        let Some(device) = self.selected_device() else {
            return Reaction::none();
        };
        let id = device.id.clone();
        let known = self.jobs.data.is_some();
        match self.job_of(&id) {
            Some(job) if job.phase == JobPhase::AwaitingConfirmation => {
                let prompt = strings::confirm_job(&id, job);
                let ids = vec![id];
                Reaction::modal(Modal::confirm(
                    prompt,
                    strings::confirming(&ids),
                    DeviceCall::ConfirmJobs { project, ids }.into(),
                ))
            }
            Some(job) => Reaction::status(StatusKind::Info, strings::job_not_held(&id, job)),
            None if known => Reaction::status(StatusKind::Info, strings::no_held_job(&id)),
            None => {
                let ids = vec![id.clone()];
                Reaction::modal(Modal::confirm(
                    strings::confirm_unknown_job(&id),
                    strings::confirming(&ids),
                    DeviceCall::ConfirmJobs { project, ids }.into(),
                ))
            }
        }
    }

    /// `C`: asks before confirming the held jobs of every listed device.
    pub(super) fn confirm_listed(&self, project: String) -> Reaction {
        let ids = self.held_rows();
        if ids.is_empty() {
            return Reaction::status(StatusKind::Info, strings::NO_HELD_JOBS.to_string());
        }
        Reaction::modal(Modal::confirm(
            strings::confirm_jobs(&ids),
            strings::confirming(&ids),
            DeviceCall::ConfirmJobs { project, ids }.into(),
        ))
    }

    /// `a` / `A`: asks before leaving the selected device out of every plan's upgrade (its
    /// open module job cancelled), or letting it back in.
    pub(super) fn confirm_cancel(&self, project: String, cancel: bool) -> Reaction {
        let Some(device) = self.selected_device() else {
            return Reaction::none();
        };
        let id = device.id.clone();
        let prompt = if cancel {
            format!(
                "Cancel the upgrade of {id}? Every plan that reaches it leaves it out, and its \
                 open module job is cancelled, until it is uncancelled (A)."
            )
        } else {
            format!("Let {id} be offered its upgrade again by every plan that left it out?")
        };
        Reaction::modal(Modal::confirm(
            prompt,
            cancelling(&id, cancel),
            DeviceCall::Cancel {
                project,
                id,
                cancel,
            }
            .into(),
        ))
    }

    /// `u`: asks before unbanning the selected device; one that is not banned is told so.
    pub(super) fn confirm_unban(&self, project: String) -> Reaction {
        match self.selected_device() {
            Some(device) if device.banned => {
                let id = device.id.clone();
                Reaction::modal(Modal::confirm(
                    strings::confirm_unban(&id),
                    strings::unbanning(&id),
                    DeviceCall::Unban { project, id }.into(),
                ))
            }
            Some(device) => {
                Reaction::status(StatusKind::Info, strings::device_is_not_banned(&device.id))
            }
            None => Reaction::none(),
        }
    }

    /// `x`: asks before forgetting the selected device.
    pub(super) fn confirm_forget(&self, project: String) -> Reaction {
        match self.selected_device() {
            Some(device) => {
                let id = device.id.clone();
                Reaction::modal(Modal::confirm(
                    strings::confirm_forget(&id),
                    strings::forgetting(&id),
                    DeviceCall::Forget { project, id }.into(),
                ))
            }
            None => Reaction::none(),
        }
    }

    /// Confirmed or refused, the jobs are reloaded: a refusal often means the job moved on,
    /// and the list shows where it stands now.
    pub(super) fn on_confirmed(
        &mut self,
        ids: &[String],
        result: Outcome<ConfirmResult>,
        project: Option<&str>,
    ) -> Reaction {
        let status = match result {
            Ok(outcome) => (StatusKind::Info, strings::confirmed(&outcome)),
            Err(failure) => (
                StatusKind::Error,
                strings::failed(&strings::confirming(ids), &failure.message),
            ),
        };
        let commands = project.and_then(|p| self.refresh_jobs(p));
        Reaction::commands(commands).with_status(status.0, status.1)
    }

    /// A cancel or uncancel is answered: what changed on the status line, and the list, jobs
    /// and history reloaded to show it.
    pub(super) fn on_cancelled(
        &mut self,
        id: &str,
        cancel: bool,
        result: Outcome<CancelResult>,
        project: Option<&str>,
    ) -> Reaction {
        match result {
            Ok(outcome) => {
                let commands = project.map(|p| self.refresh(p)).unwrap_or_default();
                Reaction::commands(commands).with_status(
                    StatusKind::Info,
                    strings::cancelled(&outcome).trim_end().to_string(),
                )
            }
            Err(failure) => Reaction::status(
                StatusKind::Error,
                strings::failed(&cancelling(id, cancel), &failure.message),
            ),
        }
    }

    pub(super) fn on_unbanned(&mut self, id: &str, result: Outcome<Device>) -> Reaction {
        match result {
            Ok(device) => {
                if let Some(row) = self.list.rows.iter_mut().find(|d| d.id == device.id) {
                    *row = device;
                }
                Reaction::status(StatusKind::Info, strings::unbanned(id))
            }
            Err(failure) => Reaction::status(
                StatusKind::Error,
                strings::failed(&strings::unbanning(id), &failure.message),
            ),
        }
    }

    /// A forgotten or moved device leaves this project's list at once; the selection stays
    /// where it was, on the next device.
    fn drop_row(&mut self, id: &str, project: Option<&str>) -> Vec<Command> {
        self.list.rows.retain(|d| d.id != id);
        self.list.selected = clamp(self.list.selected, self.list.rows.len());
        project
            .and_then(|p| self.sync_history(p, false))
            .into_iter()
            .collect()
    }

    pub(super) fn on_forgotten(
        &mut self,
        id: &str,
        result: Outcome<()>,
        project: Option<&str>,
    ) -> Reaction {
        match result {
            Ok(()) => Reaction::commands(self.drop_row(id, project))
                .with_status(StatusKind::Info, strings::forgot(id)),
            Err(failure) => Reaction::status(
                StatusKind::Error,
                strings::failed(&strings::forgetting(id), &failure.message),
            ),
        }
    }

    pub(super) fn on_moved(
        &mut self,
        id: &str,
        to: &str,
        result: Outcome<Device>,
        project: Option<&str>,
    ) -> Reaction {
        match result {
            Ok(_) => Reaction::commands(self.drop_row(id, project))
                .with_status(StatusKind::Info, strings::moved(id, to)),
            Err(failure) => Reaction::status(
                StatusKind::Error,
                strings::failed(&strings::moving(id, to), &failure.message),
            ),
        }
    }
}

/// The busy status of a cancel (or uncancel), and what its failure names.
fn cancelling(id: &str, cancel: bool) -> String {
    if cancel {
        format!("Cancelling the upgrade of {id}")
    } else {
        format!("Uncancelling {id}")
    }
}

/// The prompt before a move, once the target project is picked.
pub(super) fn confirm_move(project: &str, id: &str, to: &str) -> Modal {
    Modal::confirm(
        strings::confirm_move(id, project, to),
        strings::moving(id, to),
        DeviceCall::Move {
            project: project.to_string(),
            id: id.to_string(),
            to: to.to_string(),
        }
        .into(),
    )
}
