//! The API's answers as `update` takes them: each marks the link online or offline, then goes to
//! the screen it concerns. Loads first (`on_loaded`), then the answers to changes (`on_changed`).

use super::{App, Reaction, StatusKind};
use crate::config::FALLBACK_PROJECT;
use crate::dashboard::message::{Action, Command};
use crate::strings;

/// Applies one answer of the shell; input actions never come here.
pub(super) fn on_answer(app: &mut App, action: Action) -> Vec<Command> {
    match on_loaded(app, action) {
        Ok(commands) => commands,
        Err(action) => on_changed(app, *action),
    }
}

/// A load's answer; any other action is handed back (boxed: an action is large).
fn on_loaded(app: &mut App, action: Action) -> Result<Vec<Command>, Box<Action>> {
    let project = app.project.clone();
    let project = project.as_deref();
    Ok(match action {
        Action::ProjectsLoaded(result) => on_projects(app, result),
        Action::ProjectLoaded { key, result } => {
            app.observe(&result);
            if project == Some(key.as_str()) {
                app.project_screen.on_loaded(result);
            }
            vec![]
        }
        Action::FleetLoaded(result) => {
            app.observe(&result);
            app.fleet.on_summary(result);
            let names = app.fleet.plan_names();
            app.rollouts.fleet_plans.clone_from(&names);
            match project {
                Some(project) => app
                    .rollouts
                    .load_statuses(project, names.iter().map(String::as_str)),
                None => vec![],
            }
        }
        Action::ActivityLoaded(result) => {
            app.observe(&result);
            app.fleet.on_activity(result);
            vec![]
        }
        Action::DevicesLoaded {
            generation,
            cursor,
            result,
        } => {
            app.observe(&result);
            let visible = app.tab == crate::dashboard::tab::Tab::Devices;
            app.devices
                .on_page(generation, cursor, result, project, visible)
        }
        Action::FirmwareLoaded(result) => {
            app.observe(&result);
            app.firmware.on_loaded(result);
            vec![]
        }
        Action::PlansLoaded(result) => {
            app.observe(&result);
            app.rollouts.on_plans(result, project)
        }
        Action::PlanStatusLoaded {
            firmware_name,
            result,
        } => {
            app.observe(&result);
            if let Some(trust) = result.as_ref().ok().and_then(|s| s.trust.as_ref()) {
                app.project_screen.policy_seen(trust.device_policy);
            }
            app.rollouts.on_status(firmware_name, result);
            vec![]
        }
        Action::HistoryLoaded { id, result } => {
            app.observe(&result);
            app.devices.on_history(&id, result.map(|h| h.events));
            vec![]
        }
        Action::AuditLoaded {
            generation,
            cursor,
            result,
        } => {
            app.observe(&result);
            app.audit.on_page(generation, cursor, result)
        }
        Action::JobsLoaded(result) => {
            app.observe(&result);
            app.devices.on_jobs(result);
            vec![]
        }
        other => return Err(Box::new(other)),
    })
}

/// The project list: the picker's choices, the shown project's record, and the project to show
/// when none was named (the only one, else `demo`).
fn on_projects(
    app: &mut App,
    result: crate::dashboard::remote::Outcome<Vec<fota_shared::api::catalog::Project>>,
) -> Vec<Command> {
    app.observe(&result);
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

/// The answer to a change (or to an upload's progress).
fn on_changed(app: &mut App, action: Action) -> Vec<Command> {
    let project = app.project.clone();
    let project = project.as_deref();
    let reaction = match action {
        Action::ProjectSaved { key, result } => {
            app.observe(&result);
            if project != Some(key.as_str()) {
                return vec![];
            }
            app.project_screen.on_saved(&key, result)
        }
        Action::RolloutControlled {
            firmware_name,
            action,
            result,
        } => {
            app.observe(&result);
            app.rollouts.on_controlled(firmware_name, action, result)
        }
        other => on_device_changed(app, other),
    };
    app.apply(reaction)
}

/// The answers to changes of devices and their jobs.
fn on_device_changed(app: &mut App, action: Action) -> Reaction {
    let project = app.project.clone();
    let project = project.as_deref();
    match action {
        Action::JobsConfirmed { ids, result } => {
            app.observe(&result);
            app.devices.on_confirmed(&ids, result, project)
        }
        Action::CheckedNow { target, result } => {
            app.observe(&result);
            match result {
                Ok(outcome) => {
                    Reaction::status(StatusKind::Info, strings::checked_now(&target, &outcome))
                }
                Err(failure) => Reaction::status(
                    StatusKind::Error,
                    strings::failed(&strings::checking_now(&target), &failure.message),
                ),
            }
        }
        other => on_news(app, other),
    }
}

/// The events feed's answers and the Webhooks tab's.
fn on_news(app: &mut App, action: Action) -> Reaction {
    match action {
        Action::Screen(answer) => {
            if let Some(reached) = answer.reached() {
                app.observe(&reached);
            }
            answer.deliver(app)
        }
        // Input (keys, ticks) is `update`'s own and never reaches the answers.
        _ => Reaction::none(),
    }
}
