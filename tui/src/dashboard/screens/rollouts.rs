//! The Rollouts tab: the project's plans with each rollout's live status, the plan form (`plan_form`),
//! deleting a plan, the rollout controls (pause, resume, advance, cancel) and a check-now for a
//! plan's devices. The rollout statuses are kept here for the Fleet tab too. Drawing is in `view`.

mod calls;
pub mod plan_form;
mod view;

use std::collections::BTreeMap;

use fota_shared::api::plans::RolloutStatus;
use fota_shared::model::plan::{Plan, PlanSpec};
use fota_shared::model::rollout::RolloutAction;

pub use calls::{PlanAnswer, PlanCall};
use view::render;
pub use view::LIST_BAR;

use crate::api::CheckNowTarget;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;

use super::{Around, Ctx, Screen};
use crate::dashboard::app::App;
use crate::dashboard::keymap::{bind, Act, Group, Key, Scope};
use crate::dashboard::message::{Command, Modal, Reaction, StatusKind, TICKS_PER_SECOND};
use crate::dashboard::remote::{clamp, Outcome, Remote};
use crate::dashboard::tab::Tab;
use crate::dashboard::widgets::form::{Form, FormPurpose};
use crate::dashboard::widgets::rollout_bar::RolloutView;
use crate::strings;
use ratatui::crossterm::event::KeyCode;

/// Rollout counts are reloaded this often while the Rollouts tab is shown.
pub const STATUS_REFRESH_TICKS: u32 = 2 * TICKS_PER_SECOND;
/// The tab's title.
pub const TITLE: &str = strings::TAB_ROLLOUTS;
/// Where the tab's own bindings apply: while it is shown.
const HERE: Scope = Scope::Tab(Tab::Rollouts);
/// The tab's own bindings (its help group).
pub const KEYS: Group = Group {
    title: TITLE,
    bindings: &[
        bind("n", "new plan", &[(HERE, Key::Char('n'), Act::NewPlan)]),
        bind(
            "e, Enter",
            "edit the selected plan",
            &[
                (HERE, Key::Char('e'), Act::EditPlan),
                (HERE, Key::Code(KeyCode::Enter), Act::EditPlan),
            ],
        ),
        bind(
            "d",
            "delete the selected plan",
            &[(HERE, Key::Char('d'), Act::Delete)],
        ),
        bind(
            "p u",
            "pause / resume its rollout",
            &[
                (HERE, Key::Char('p'), Act::Pause),
                (HERE, Key::Char('u'), Act::Resume),
            ],
        ),
        bind(
            "a c",
            "advance / cancel its rollout",
            &[
                (HERE, Key::Char('a'), Act::Advance),
                (HERE, Key::Char('c'), Act::Cancel),
            ],
        ),
        bind(
            "N",
            "tell its devices to check now",
            &[(HERE, Key::Char('N'), Act::CheckNowPlan)],
        ),
    ],
};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RolloutsScreen {
    pub plans: Remote<Vec<Plan>>,
    pub selected: usize,
    /// Rollout status by firmware name, for this tab and the Fleet tab.
    pub status: BTreeMap<String, RolloutView>,
    /// The plan the open form's preview shows: a submit of exactly it saves.
    pub previewed: Option<(String, PlanSpec)>,
    /// The plans the fleet summary measures, whose statuses load before this tab's list has.
    pub fleet_plans: Vec<String>,
    /// Ticks since the statuses last loaded while the tab is shown.
    ticks_since_status: u32,
}

impl RolloutsScreen {
    pub fn selected_plan(&self) -> Option<&Plan> {
        self.plans.data.as_ref()?.get(self.selected)
    }

    pub fn rollout_status(&self, firmware_name: &str) -> Option<&RolloutStatus> {
        self.status.get(firmware_name)?.status.data.as_ref()
    }

    /// The plans and every plan's status.
    fn load(&mut self, project: &str, fleet_plans: &[String]) -> Vec<Command> {
        let mut commands: Vec<Command> = self
            .plans
            .begin()
            .then(|| {
                Command::from(PlanCall::Load {
                    project: project.to_string(),
                })
            })
            .into_iter()
            .collect();
        commands.extend(self.refresh_statuses(project, fleet_plans));
        commands
    }

    /// Starts a status load for each named plan that is not loading one already.
    pub fn load_statuses<'a>(
        &mut self,
        project: &str,
        names: impl IntoIterator<Item = &'a str>,
    ) -> Vec<Command> {
        names
            .into_iter()
            .filter_map(|name| {
                let view = self.status.entry(name.to_string()).or_default();
                view.status.begin().then(|| Command::LoadPlanStatus {
                    project: project.to_string(),
                    firmware_name: name.to_string(),
                })
            })
            .collect()
    }

    /// Status loads for the plans the app knows of: from this tab's list, else from the fleet
    /// summary's (`fleet_plans`).
    pub fn refresh_statuses(&mut self, project: &str, fleet_plans: &[String]) -> Vec<Command> {
        let names: Vec<String> = match &self.plans.data {
            Some(plans) => plans.iter().map(|p| p.firmware_name.clone()).collect(),
            None => fleet_plans.to_vec(),
        };
        self.load_statuses(project, names.iter().map(String::as_str))
    }

    /// Asks before a rollout control; the server decides whether the transition is allowed.
    fn confirm_control(&mut self, project: String, action: RolloutAction) -> Reaction {
        let Some(plan) = self.selected_plan() else {
            return Reaction::none();
        };
        let firmware_name = plan.firmware_name.clone();
        let prompt = strings::confirm_control(
            action,
            &firmware_name,
            &plan.spec.target_version,
            self.rollout_status(&firmware_name),
        );
        if let Some(view) = self.status.get_mut(&firmware_name) {
            view.control_error = None;
        }
        Reaction::modal(Modal::confirm(
            prompt,
            strings::controlling(action, &firmware_name),
            PlanCall::Control {
                project,
                firmware_name,
                action,
            }
            .into(),
        ))
    }

    /// A submitted plan form: it stays open, saving, until the server answers; a form the
    /// plan cannot be read from comes back with its error.
    /// A submitted plan form: first the server's preview of it (shown in the form), then, on a
    /// second submit of the same values, the plan is saved.
    fn submit_plan(&mut self, mut form: Form, project: &str) -> (Form, Reaction) {
        match plan_form::plan_request(&form) {
            Ok((firmware_name, spec)) => {
                form.saving = true;
                form.error = None;
                let previewed = form.note.is_some()
                    && self.previewed.as_ref() == Some(&(firmware_name.clone(), spec.clone()));
                let (busy, command) = if previewed {
                    (
                        format!("{}…", strings::saving_plan(&firmware_name)),
                        PlanCall::Put {
                            project: project.to_string(),
                            firmware_name,
                            spec,
                        }
                        .into(),
                    )
                } else {
                    (
                        format!("{}…", strings::previewing_plan(&firmware_name)),
                        PlanCall::Preview {
                            project: project.to_string(),
                            firmware_name,
                            spec,
                        }
                        .into(),
                    )
                };
                (
                    form,
                    Reaction::commands([command]).with_status(StatusKind::Busy, busy),
                )
            }
            Err(error) => {
                form.error = Some(error);
                (form, Reaction::none())
            }
        }
    }

    fn on_plans(&mut self, result: Outcome<Vec<Plan>>, project: Option<&str>) -> Vec<Command> {
        self.plans.settle(strings::WHAT_PLANS, result);
        self.selected = clamp(self.selected, self.plans.data.as_ref().map_or(0, Vec::len));
        let names: Vec<String> = self
            .plans
            .data
            .iter()
            .flatten()
            .map(|p| p.firmware_name.clone())
            .collect();
        // A deleted plan's rollout is gone with it.
        self.status.retain(|name, _| names.contains(name));
        match project {
            Some(project) => self.load_statuses(project, names.iter().map(String::as_str)),
            None => vec![],
        }
    }

    pub fn on_status(&mut self, firmware_name: String, result: Outcome<RolloutStatus>) {
        let view = self.status.entry(firmware_name).or_default();
        view.status.settle(strings::WHAT_ROLLOUT, result);
    }

    fn on_controlled(
        &mut self,
        firmware_name: String,
        action: RolloutAction,
        result: Outcome<RolloutStatus>,
    ) -> Reaction {
        let view = self.status.entry(firmware_name.clone()).or_default();
        match result {
            Ok(status) => {
                let message = strings::controlled(action, &firmware_name, &status);
                view.status.data = Some(status);
                view.status.error = None;
                view.control_error = None;
                Reaction::status(StatusKind::Info, message)
            }
            Err(failure) => {
                // In place, next to the rollout it concerns, the plan need not be named.
                view.control_error = Some(strings::failed(
                    strings::control_gerund(action),
                    &failure.message,
                ));
                let what = strings::controlling(action, &firmware_name);
                Reaction::status(StatusKind::Error, strings::failed(&what, &failure.message))
            }
        }
    }

    /// The answer to one of the tab's own calls.
    pub fn on_answer(&mut self, answer: PlanAnswer, around: Around<'_>) -> Reaction {
        match answer {
            PlanAnswer::Loaded(result) => Reaction::commands(self.on_plans(result, around.project)),
            PlanAnswer::Controlled {
                firmware_name,
                action,
                result,
            } => self.on_controlled(firmware_name, action, result),
            PlanAnswer::Previewed {
                firmware_name,
                spec,
                result,
            } => self.on_previewed(firmware_name, spec, result, around.modal),
            PlanAnswer::Saved {
                firmware_name,
                result,
            } => {
                // A refusal shown in the form replaces the "saving" status line.
                let in_form = result.is_err()
                    && matches!(&around.modal, Some(Modal::Form(f)) if matches!(f.purpose, FormPurpose::Plan { .. }));
                let reaction = self.on_saved(&firmware_name, result, around.modal, around.project);
                if in_form {
                    *around.status = None;
                }
                reaction
            }
            PlanAnswer::Deleted {
                firmware_name,
                result,
            } => self.on_deleted(&firmware_name, result, around.project),
        }
    }

    /// The answer to a saved plan: the plan form (when open) closes and the list reloads, or
    /// the refusal goes into the form, which takes saving again.
    /// The server's preview of the open plan form: shown in the form, and the next submit of
    /// the same values saves it.
    fn on_previewed(
        &mut self,
        firmware_name: String,
        spec: PlanSpec,
        result: Outcome<fota_shared::api::preview::PlanPreview>,
        modal: &mut Option<Modal>,
    ) -> Reaction {
        let Some(Modal::Form(form)) = modal else {
            return Reaction::none();
        };
        if !matches!(form.purpose, FormPurpose::Plan { .. }) {
            return Reaction::none();
        }
        form.saving = false;
        match result {
            Ok(preview) => {
                form.note = Some(strings::preview_note(&preview));
                self.previewed = Some((firmware_name.clone(), spec));
                Reaction::status(StatusKind::Info, strings::previewed_plan(&firmware_name))
            }
            Err(failure) => {
                form.error = Some(strings::failed(
                    &strings::previewing_plan(&firmware_name),
                    &failure.message,
                ));
                Reaction::none()
            }
        }
    }

    fn on_saved(
        &mut self,
        firmware_name: &str,
        result: Outcome<Plan>,
        modal: &mut Option<Modal>,
        project: Option<&str>,
    ) -> Reaction {
        let plan_form = match modal {
            Some(Modal::Form(form)) if matches!(form.purpose, FormPurpose::Plan { .. }) => {
                Some(form)
            }
            _ => None,
        };
        match result {
            Ok(plan) => {
                if plan_form.is_some() {
                    *modal = None;
                }
                Reaction::commands(self.reload(project)).with_status(
                    StatusKind::Info,
                    strings::saved_plan(&plan.firmware_name, &plan.spec.target_version),
                )
            }
            Err(failure) => {
                let message =
                    strings::failed(&strings::saving_plan(firmware_name), &failure.message);
                match plan_form {
                    Some(form) => {
                        form.saving = false;
                        form.error = Some(message);
                        Reaction::none()
                    }
                    None => Reaction::status(StatusKind::Error, message),
                }
            }
        }
    }

    fn on_deleted(
        &mut self,
        firmware_name: &str,
        result: Outcome<()>,
        project: Option<&str>,
    ) -> Reaction {
        match result {
            Ok(()) => Reaction::commands(self.reload(project))
                .with_status(StatusKind::Info, strings::deleted_plan(firmware_name)),
            Err(failure) => Reaction::status(
                StatusKind::Error,
                strings::failed(&strings::deleting_plan(firmware_name), &failure.message),
            ),
        }
    }

    fn reload(&mut self, project: Option<&str>) -> Vec<Command> {
        match project {
            Some(project) if self.plans.begin() => vec![PlanCall::Load {
                project: project.to_string(),
            }
            .into()],
            _ => vec![],
        }
    }
}

impl Screen for RolloutsScreen {
    fn move_selection(
        &mut self,
        to: &dyn Fn(usize, usize) -> usize,
        _project: &str,
    ) -> Vec<Command> {
        let len = self.plans.data.as_ref().map_or(0, Vec::len);
        self.selected = clamp(to(self.selected, len), len);
        vec![]
    }

    fn on_act(&mut self, act: Act, project: &str) -> Reaction {
        let project = project.to_string();
        match act {
            Act::CheckNowPlan => match self.selected_plan() {
                Some(plan) => {
                    let target = CheckNowTarget::Plan(plan.firmware_name.clone());
                    Reaction::modal(Modal::confirm(
                        strings::confirm_check_now_plan(&plan.firmware_name),
                        strings::checking_now(&target),
                        Command::CheckNow { project, target },
                    ))
                }
                None => Reaction::none(),
            },
            Act::Pause => self.confirm_control(project, RolloutAction::Pause),
            Act::Resume => self.confirm_control(project, RolloutAction::Resume),
            Act::Advance => self.confirm_control(project, RolloutAction::Advance),
            Act::Cancel => self.confirm_control(project, RolloutAction::Cancel),
            Act::NewPlan => {
                let name = self
                    .selected_plan()
                    .map_or("", |p| p.firmware_name.as_str());
                Reaction::modal(Modal::Form(plan_form::new_plan(name)))
            }
            Act::EditPlan => match self.selected_plan() {
                Some(plan) => Reaction::modal(Modal::Form(plan_form::edit_plan(plan))),
                None => Reaction::none(),
            },
            Act::Delete => match self.selected_plan() {
                Some(plan) => {
                    let firmware_name = plan.firmware_name.clone();
                    Reaction::modal(Modal::confirm(
                        strings::confirm_delete_plan(&firmware_name),
                        strings::deleting_plan(&firmware_name),
                        PlanCall::Delete {
                            project,
                            firmware_name,
                        }
                        .into(),
                    ))
                }
                None => Reaction::none(),
            },
            _ => Reaction::none(),
        }
    }

    fn refresh(&mut self, project: &str) -> Vec<Command> {
        // A full load of the tab counts as the statuses' refresh too.
        self.ticks_since_status = 0;
        let fleet_plans = self.fleet_plans.clone();
        self.load(project, &fleet_plans)
    }

    /// The counts move while a rollout runs: while the tab is shown and the server answers,
    /// they reload more often than the plans.
    fn on_tick(&mut self, ctx: Ctx<'_>) -> Vec<Command> {
        if !ctx.online || !ctx.visible || ctx.refreshed {
            return vec![];
        }
        self.ticks_since_status += 1;
        if self.ticks_since_status < STATUS_REFRESH_TICKS {
            return vec![];
        }
        self.ticks_since_status = 0;
        let Some(project) = ctx.project else {
            return vec![];
        };
        let fleet_plans = self.fleet_plans.clone();
        self.refresh_statuses(project, &fleet_plans)
    }

    /// The Fleet tab shows the rollouts' statuses: they load with it.
    fn follow(&mut self, project: &str, shown: Tab) -> Vec<Command> {
        if shown != Tab::Fleet {
            return vec![];
        }
        let fleet_plans = self.fleet_plans.clone();
        self.refresh_statuses(project, &fleet_plans)
    }

    /// The plan form stays open while its preview and its save are on their way.
    fn submit(&mut self, form: Form, project: &str) -> (Option<Form>, Reaction) {
        let (form, reaction) = self.submit_plan(form, project);
        (Some(form), reaction)
    }

    fn start_over(&mut self) {
        *self = RolloutsScreen::default();
    }

    fn draw(&self, app: &App, area: Rect, buf: &mut Buffer) {
        render(self, app.ticks, area, buf);
    }
}

#[cfg(test)]
mod tests;
