//! Not a tab: the project every tab shows. Its record (name, ban-after, device policy) for the
//! status bar, and the project form that changes it; a change of device policy is confirmed first,
//! with what the devices will notice, since a stricter policy refuses devices at once.

use fota_shared::api::catalog::{Project, ProjectSpec};
use fota_shared::model::project::DevicePolicy;

use crate::dashboard::message::{Command, Modal, Reaction, StatusKind};
use crate::dashboard::remote::{Outcome, Remote};
use crate::dashboard::widgets::form::{Field, FieldId, Form, FormPurpose};
use crate::strings;

/// The project form's fields.
#[allow(non_upper_case_globals)]
impl FieldId {
    pub const ProjectName: FieldId = FieldId::labelled(strings::FIELD_PROJECT_NAME);
    pub const BanAfter: FieldId = FieldId::labelled(strings::FIELD_BAN_AFTER);
    pub const DevicePolicy: FieldId = FieldId::labelled(strings::FIELD_DEVICE_POLICY);
    pub const DailyBytes: FieldId = FieldId::labelled(strings::FIELD_DAILY_BYTES);
}

/// What the app knows of the project it shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProjectScreen {
    pub record: Remote<Project>,
}

impl ProjectScreen {
    /// Loads the record of `key`, unless a load runs already.
    pub fn load(&mut self, key: &str) -> Vec<Command> {
        self.record
            .begin()
            .then(|| Command::LoadProject {
                project: key.to_string(),
            })
            .into_iter()
            .collect()
    }

    pub fn policy(&self) -> Option<DevicePolicy> {
        self.record.data.as_ref().map(|p| p.device_policy)
    }

    pub fn on_loaded(&mut self, result: Outcome<Project>) {
        self.record.settle(strings::WHAT_PROJECT, result);
    }

    /// The project as another answer showed it (the project list).
    pub fn seen(&mut self, project: &Project) {
        self.record.data = Some(project.clone());
    }

    /// A rollout status names the project's policy as the server applies it now: the status bar
    /// follows, should it have changed elsewhere (another operator, the CLI).
    pub fn policy_seen(&mut self, policy: DevicePolicy) {
        if let Some(project) = &mut self.record.data {
            project.device_policy = policy;
        }
    }

    /// `E`: the project form, filled from the record; without a record, a reload and a word.
    pub fn edit(&mut self, key: &str) -> Reaction {
        match &self.record.data {
            Some(project) => Reaction::modal(Modal::Form(project_form(project))),
            None => Reaction::commands(self.load(key))
                .with_status(StatusKind::Error, strings::project_not_loaded(key)),
        }
    }

    /// A submitted project form: a policy change asks first, anything else is saved at once.
    /// A form the spec cannot be read from comes back with its error.
    pub fn submit(&self, mut form: Form, key: &str) -> Result<Reaction, Form> {
        let spec = match project_request(&form) {
            Ok(spec) => spec,
            Err(error) => {
                form.error = Some(error);
                return Err(form);
            }
        };
        let busy = strings::saving_project(key);
        let command = Command::PutProject {
            project: key.to_string(),
            spec: spec.clone(),
        };
        match (self.policy(), spec.device_policy) {
            (Some(from), Some(to)) if from != to => Ok(Reaction::modal(Modal::confirm(
                strings::confirm_policy(key, from, to),
                busy,
                command,
            ))),
            _ => {
                Ok(Reaction::commands([command]).with_status(StatusKind::Busy, format!("{busy}…")))
            }
        }
    }

    pub fn on_saved(&mut self, key: &str, result: Outcome<Project>) -> Reaction {
        match result {
            Ok(project) => {
                let message = strings::saved_project(key, project.device_policy);
                self.record.data = Some(project);
                self.record.error = None;
                Reaction::status(StatusKind::Info, message)
            }
            Err(failure) => Reaction::status(
                StatusKind::Error,
                strings::failed(&strings::saving_project(key), &failure.message),
            ),
        }
    }
}

/// The project form: name, ban-after, the daily data budget and the device policy as a choice.
pub fn project_form(project: &Project) -> Form {
    let policy = strings::POLICY_NAMES
        .iter()
        .position(|name| *name == project.device_policy.as_str())
        .unwrap_or(0);
    let mut policy_field = Field::choice(FieldId::DevicePolicy, strings::POLICY_NAMES, policy);
    policy_field.hint = strings::HINT_DEVICE_POLICY;
    Form::new(
        FormPurpose::Project {
            key: project.key.clone(),
        },
        vec![
            Field::text(FieldId::ProjectName, "", project.name.as_str()),
            Field::text(
                FieldId::BanAfter,
                strings::HINT_BAN_AFTER,
                project.ban_after.to_string(),
            ),
            Field::text(
                FieldId::DailyBytes,
                strings::HINT_DAILY_BYTES,
                project
                    .daily_bytes_per_device
                    .map(|b| b.to_string())
                    .unwrap_or_default(),
            ),
            policy_field,
        ],
    )
}

/// The spec a filled project form stands for.
pub fn project_request(form: &Form) -> Result<ProjectSpec, String> {
    let name = form.required(FieldId::ProjectName)?;
    let ban_after = match form.optional(FieldId::BanAfter) {
        None => None,
        Some(text) => Some(
            text.parse::<u32>()
                .ok()
                .filter(|n| (1..=1000).contains(n))
                .ok_or_else(|| strings::bad_ban_after(&text))?,
        ),
    };
    let device_policy = form
        .choice(FieldId::DevicePolicy)
        .and_then(DevicePolicy::parse);
    // An empty field removes the budget (0), so clearing it does what it shows.
    let daily_bytes_per_device = match form.optional(FieldId::DailyBytes) {
        None => Some(0),
        Some(text) => Some(
            text.parse::<u64>()
                .map_err(|_| strings::bad_daily_bytes(&text))?,
        ),
    };
    Ok(ProjectSpec {
        name,
        ban_after,
        device_policy,
        daily_bytes_per_device,
    })
}

#[cfg(test)]
mod tests;
