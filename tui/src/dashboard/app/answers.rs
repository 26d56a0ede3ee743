//! The API's answers as `update` takes them: each marks the link online or offline, then goes
//! where it belongs. The project list and records are the app's, as are the answers that feed
//! more than one place (the fleet summary, a rollout's status, a check-now); every other answer
//! is a screen's own, handed to it through the registry (`Action::Screen`).

use super::{App, Reaction, StatusKind};
use crate::config::FALLBACK_PROJECT;
use crate::dashboard::message::{Action, Command};
use crate::dashboard::remote::Outcome;
use crate::strings;
use fota_shared::api::catalog::Project;

/// Applies one answer of the shell; input actions never come here.
pub(super) fn on_answer(app: &mut App, action: Action) -> Vec<Command> {
    if let Some(reached) = action.reached() {
        app.observe(&reached);
    }
    let project = app.project.clone();
    let project = project.as_deref();
    let reaction = match action {
        Action::ProjectsLoaded(result) => return on_projects(app, result),
        Action::ProjectLoaded { key, result } => {
            if project == Some(key.as_str()) {
                app.project_screen.on_loaded(result);
            }
            return vec![];
        }
        Action::ProjectSaved { key, result } => {
            if project != Some(key.as_str()) {
                return vec![];
            }
            app.project_screen.on_saved(&key, result)
        }
        Action::FleetLoaded(result) => on_fleet(app, result),
        Action::PlanStatusLoaded {
            firmware_name,
            result,
        } => {
            if let Some(trust) = result.as_ref().ok().and_then(|s| s.trust.as_ref()) {
                app.project_screen.policy_seen(trust.device_policy);
            }
            app.rollouts.on_status(firmware_name, result);
            Reaction::none()
        }
        Action::CheckedNow { target, result } => match result {
            Ok(outcome) => {
                Reaction::status(StatusKind::Info, strings::checked_now(&target, &outcome))
            }
            Err(failure) => Reaction::status(
                StatusKind::Error,
                strings::failed(&strings::checking_now(&target), &failure.message),
            ),
        },
        Action::Screen(answer) => answer.deliver(app),
        // Input is `update`'s own and never comes here.
        Action::Started | Action::Key(_) | Action::Tick | Action::Resize => return vec![],
    };
    app.apply(reaction)
}

/// The fleet summary: the Fleet tab's numbers, and the plans whose rollout statuses load.
fn on_fleet(app: &mut App, result: Outcome<crate::api::FleetSnapshot>) -> Reaction {
    app.fleet.on_summary(result);
    let names = app.fleet.plan_names();
    app.rollouts.fleet_plans.clone_from(&names);
    let commands = match app.project.clone() {
        Some(project) => app
            .rollouts
            .load_statuses(&project, names.iter().map(String::as_str)),
        None => vec![],
    };
    Reaction::commands(commands)
}

/// The project list: the picker's choices, the shown project's record, and the project to show
/// when none was named (the only one, else `demo`).
fn on_projects(app: &mut App, result: Outcome<Vec<Project>>) -> Vec<Command> {
    app.projects.settle(strings::WHAT_PROJECTS, result);
    app.fill_picker();
    if app.project.is_none() {
        match app.projects.data.as_deref() {
            Some([only]) => app.project = Some(only.key.clone()),
            Some(_) => app.project = Some(FALLBACK_PROJECT.to_string()),
            None => return vec![],
        }
        app.note_listed_project();
        return app.load_visible();
    }
    app.note_listed_project();
    vec![]
}
