//! The dashboard's state and its pure `update`: every key press, tick and API result arrives as
//! an `Action`; `update` changes the state and returns the `Command`s (network work) for the
//! shell. Each tab's state, keys and answers live in its screen (`screens`); this module routes
//! to them, owns what all tabs share (project, connection, overlays, status line) and does no
//! I/O and reads no clock, so every flow is tested by feeding actions.

use fota_shared::api::catalog::Project;
use ratatui::crossterm::event::KeyEvent;

use super::keymap::{self, Act, Scope};
pub use super::link::Link;
pub use super::message::TICKS_PER_SECOND;
use super::message::{Action, Command, Modal, Reaction, Status, StatusKind};
use super::remote::{Outcome, Remote};
use super::screens::audit::AuditScreen;
use super::screens::devices::DevicesScreen;
use super::screens::events::EventsScreen;
use super::screens::firmware::FirmwareScreen;
use super::screens::fleet::FleetScreen;
use super::screens::project::ProjectScreen;
use super::screens::rollouts::RolloutsScreen;
use super::screens::webhooks::WebhooksScreen;
use super::screens::Ctx;
use super::tab::Tab;
use super::widgets::form::{Form, FormKey, FormPurpose};
use super::widgets::picker::{PickKey, PickPurpose, Picker};
use crate::strings;

/// The visible tab is reloaded this often while the server answers.
pub const REFRESH_TICKS: u32 = 5 * TICKS_PER_SECOND;
pub use super::screens::rollouts::STATUS_REFRESH_TICKS;
/// Rows moved by PgUp/PgDn.
const PAGE_JUMP: usize = 10;

/// The dashboard's state; each tab's screen is a field (the registry in `screens` says which).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct App {
    pub url: String,
    /// `None` until the project list says which one to show.
    pub project: Option<String>,
    pub tab: Tab,
    pub link: Link,
    pub projects: Remote<Vec<Project>>,
    /// The record of the project shown (the header's device policy, the project form).
    pub project_screen: ProjectScreen,
    pub fleet: FleetScreen,
    pub devices: DevicesScreen,
    pub firmware: FirmwareScreen,
    pub rollouts: RolloutsScreen,
    pub audit: AuditScreen,
    /// The events feed (followed whatever tab is shown) and the Events tab.
    pub events: EventsScreen,
    pub webhooks: WebhooksScreen,
    pub modal: Option<Modal>,
    pub status: Option<Status>,
    /// Ticks since start; drives the spinner.
    pub ticks: u64,
    ticks_since_refresh: u32,
    pub should_quit: bool,
}

impl App {
    pub fn new(url: impl Into<String>, project: Option<String>) -> App {
        // Connecting, on the first tab, every screen empty.
        App {
            url: url.into(),
            project,
            ..App::default()
        }
    }

    /// The first loads: what the visible tab shows, and the shown project's record.
    fn start(&mut self) -> Vec<Command> {
        let mut commands = self.load_visible();
        if let Some(project) = self.project.clone() {
            commands.extend(self.project_screen.load(&project));
        }
        commands
    }

    /// Takes the shown project's record from the project list, when it is listed.
    fn note_listed_project(&mut self) {
        let listed = self
            .projects
            .data
            .iter()
            .flatten()
            .find(|p| Some(p.key.as_str()) == self.project.as_deref());
        if let Some(project) = listed {
            self.project_screen.seen(project);
        }
    }

    fn set_status(&mut self, kind: StatusKind, text: String) {
        self.status = Some(Status { text, kind });
    }

    /// Carries out what a screen asked for: its status line, its overlay; returns its commands
    /// and those the overlay needs.
    fn apply(&mut self, reaction: Reaction) -> Vec<Command> {
        let mut commands = reaction.commands;
        if let Some(status) = reaction.status {
            self.status = Some(status);
        }
        if let Some(modal) = reaction.modal {
            commands.extend(self.open(modal));
        }
        commands
    }

    /// Opens an overlay. A project picker is filled from the loaded projects and asks the server
    /// for the current list.
    fn open(&mut self, modal: Modal) -> Vec<Command> {
        let picker = matches!(modal, Modal::Pick(_));
        self.modal = Some(modal);
        if !picker {
            return vec![];
        }
        self.fill_picker();
        self.projects
            .begin()
            .then_some(Command::LoadProjects)
            .into_iter()
            .collect()
    }

    fn fill_picker(&mut self) {
        if let Some(Modal::Pick(picker)) = &mut self.modal {
            picker.fill_from(&self.projects, self.project.as_deref());
        }
    }

    /// Shows another project: every tab starts over (an upload that runs keeps its panel).
    fn switch_project(&mut self, project: String) -> Vec<Command> {
        if self.project.as_deref() == Some(project.as_str()) {
            return vec![];
        }
        self.project_screen = ProjectScreen::default();
        for (_, screen) in self.screens_mut() {
            screen.start_over();
        }
        self.set_status(StatusKind::Info, strings::switched_project(&project));
        self.project = Some(project.clone());
        self.ticks_since_refresh = 0;
        // The picker's list has just brought the record, unless the project is not listed.
        self.note_listed_project();
        let mut commands = self.load_visible();
        if self.project_screen.record.data.is_none() {
            commands.extend(self.project_screen.load(&project));
        }
        commands
    }

    fn observe<T>(&mut self, result: &Outcome<T>) {
        self.link.observe(result);
    }

    /// The commands that (re)load what the visible tab shows, and what each screen does for it
    /// (`Screen::follow`): the events feed runs whatever the tab, so this starts it or moves it
    /// to the project now shown.
    fn load_visible(&mut self) -> Vec<Command> {
        let Some(project) = self.project.clone() else {
            return if self.projects.begin() {
                vec![Command::LoadProjects]
            } else {
                vec![]
            };
        };
        let shown = self.tab;
        let mut commands = self.screen_mut(shown).refresh(&project);
        for (_, screen) in self.screens_mut() {
            commands.extend(screen.follow(&project, shown));
        }
        commands
    }
}

/// Applies one action; returns the network work it calls for.
pub fn update(app: &mut App, action: Action) -> Vec<Command> {
    match action {
        Action::Started => app.start(),
        Action::Resize => vec![],
        Action::Key(key) => on_key(app, key),
        Action::Tick => on_tick(app),
        answer => answers::on_answer(app, answer),
    }
}

fn on_tick(app: &mut App) -> Vec<Command> {
    let mut commands = on_tick_refresh(app);
    let (project, online, shown) = (app.project.clone(), app.link == Link::Online, app.tab);
    // Each tick counts one, and a reload of the shown tab starts the count over.
    let refreshed = app.ticks_since_refresh == 0;
    for (tab, screen) in app.screens_mut() {
        commands.extend(screen.on_tick(Ctx {
            project: project.as_deref(),
            online,
            visible: tab == shown,
            refreshed,
        }));
    }
    commands
}

fn on_tick_refresh(app: &mut App) -> Vec<Command> {
    app.ticks += 1;
    app.ticks_since_refresh += 1;
    match &mut app.link {
        Link::Offline {
            retry_in: Some(ticks),
            ..
        } => {
            *ticks = ticks.saturating_sub(1);
            if *ticks > 0 {
                return vec![];
            }
            if let Link::Offline { retry_in, .. } = &mut app.link {
                *retry_in = None;
            }
            app.ticks_since_refresh = 0;
            app.load_visible()
        }
        Link::Offline { retry_in: None, .. } | Link::Connecting => vec![],
        Link::Online if app.ticks_since_refresh >= REFRESH_TICKS => {
            app.ticks_since_refresh = 0;
            app.load_visible()
        }
        Link::Online => vec![],
    }
}

fn on_key(app: &mut App, key: KeyEvent) -> Vec<Command> {
    if keymap::lookup(Scope::Anywhere, &key) == Some(Act::Quit) {
        app.should_quit = true;
        return vec![];
    }
    if app.modal.is_some() {
        return on_modal_key(app, key);
    }
    let project = app.project.clone();
    let screen = app.screen_mut(app.tab);
    if let (Some(project), true) = (project, screen.filtering()) {
        return screen.on_filter_key(key, &project);
    }
    let Some(act) = keymap::lookup_on_tab(app.tab, &key) else {
        return vec![];
    };
    match act {
        Act::Quit => {
            app.should_quit = true;
            vec![]
        }
        Act::Help => {
            app.modal = Some(Modal::Help);
            vec![]
        }
        Act::NextTab => switch_tab(app, app.tab.step(1)),
        Act::PreviousTab => switch_tab(app, app.tab.step(-1)),
        Act::GoToTab => match Tab::numbered(&key) {
            Some(tab) => switch_tab(app, tab),
            None => vec![],
        },
        Act::Refresh => {
            app.ticks_since_refresh = 0;
            app.load_visible()
        }
        Act::Down => move_selection(app, |i, _| i.saturating_add(1)),
        Act::Up => move_selection(app, |i, _| i.saturating_sub(1)),
        Act::PageDown => move_selection(app, |i, _| i.saturating_add(PAGE_JUMP)),
        Act::PageUp => move_selection(app, |i, _| i.saturating_sub(PAGE_JUMP)),
        Act::First => move_selection(app, |_, _| 0),
        Act::Last => move_selection(app, |_, len| len.saturating_sub(1)),
        Act::SwitchProject => app.open(Modal::Pick(Picker::new(PickPurpose::SwitchProject))),
        Act::EditProject => match app.project.clone() {
            Some(project) => {
                let reaction = app.project_screen.edit(&project);
                app.apply(reaction)
            }
            None => vec![],
        },
        act => on_tab_act(app, act),
    }
}

/// An act of the visible tab's own; every tab's actions need the project.
fn on_tab_act(app: &mut App, act: Act) -> Vec<Command> {
    let Some(project) = app.project.clone() else {
        return vec![];
    };
    let reaction = app.screen_mut(app.tab).on_act(act, &project);
    app.apply(reaction)
}

fn switch_tab(app: &mut App, tab: Tab) -> Vec<Command> {
    if app.tab == tab {
        return vec![];
    }
    app.tab = tab;
    app.ticks_since_refresh = 0;
    app.load_visible()
}

fn move_selection(app: &mut App, to: impl Fn(usize, usize) -> usize) -> Vec<Command> {
    let project = app.project.clone().unwrap_or_default();
    app.screen_mut(app.tab).move_selection(&to, &project)
}

fn on_modal_key(app: &mut App, key: KeyEvent) -> Vec<Command> {
    let Some(modal) = app.modal.take() else {
        return vec![];
    };
    match modal {
        Modal::Help => {
            if keymap::lookup(Scope::Help, &key) != Some(Act::CloseHelp) {
                app.modal = Some(Modal::Help);
            }
            vec![]
        }
        Modal::Confirm {
            prompt,
            command,
            busy,
        } => match keymap::lookup(Scope::Confirm, &key) {
            Some(Act::Yes) => {
                app.set_status(StatusKind::Busy, format!("{busy}…"));
                vec![*command]
            }
            Some(Act::No) => vec![],
            _ => {
                app.modal = Some(Modal::Confirm {
                    prompt,
                    command,
                    busy,
                });
                vec![]
            }
        },
        Modal::Form(mut form) => match form.key(key) {
            FormKey::Cancel => vec![],
            FormKey::Edited => {
                app.modal = Some(Modal::Form(form));
                vec![]
            }
            FormKey::Submit => submit(app, form),
        },
        Modal::Pick(mut picker) => match picker.key(key) {
            PickKey::Cancel => vec![],
            PickKey::Moved => {
                app.modal = Some(Modal::Pick(picker));
                vec![]
            }
            PickKey::Picked(key) => match picker.purpose {
                PickPurpose::SwitchProject => app.switch_project(key),
                // Any other pick was asked by the shown tab.
                purpose => match app.project.clone() {
                    Some(project) => {
                        let reaction = app.screen_mut(app.tab).on_pick(purpose, &key, &project);
                        app.apply(reaction)
                    }
                    None => vec![],
                },
            },
        },
    }
}

fn submit(app: &mut App, form: Form) -> Vec<Command> {
    let Some(project) = app.project.clone() else {
        app.modal = Some(Modal::Form(form));
        return vec![];
    };
    // The project form opens on any tab; every other form is the shown tab's own.
    let (form, reaction) = match form.purpose.clone() {
        FormPurpose::Project { key } => match app.project_screen.submit(form, &key) {
            Ok(reaction) => (None, reaction),
            Err(form) => (Some(form), Reaction::none()),
        },
        _ => app.screen_mut(app.tab).submit(form, &project),
    };
    app.modal = form.map(Modal::Form);
    app.apply(reaction)
}

mod answers;
#[cfg(test)]
mod tests;
