//! What flows through the dashboard's loop: `Action`s in (keys, ticks, API results), `Command`s
//! out (network work for the shell), and the `Reaction` a screen hands back to the app (commands,
//! an overlay to open, a status line).

use fota_shared::api::catalog::{Project, ProjectSpec};
use fota_shared::api::ota::CheckNowResult;
use fota_shared::api::plans::RolloutStatus;
use ratatui::crossterm::event::KeyEvent;
use tokio::sync::mpsc::UnboundedSender;

use super::remote::Outcome;
use super::screens::{ScreenAnswer, ScreenCommand};
use super::widgets::form::Form;
use super::widgets::picker::Picker;
use crate::api::{CheckNowTarget, FleetSnapshot};

/// Where a command tells the app how it goes before its answer (an upload's digest and bytes
/// sent). The app's end is gone only when it quits, and then nobody is left to tell, so what is
/// told too late is dropped here, in one place.
#[derive(Debug, Clone)]
pub struct Progress(pub UnboundedSender<Action>);

impl Progress {
    pub fn tell(&self, news: impl Into<Action>) {
        self.0.send(news.into()).ok();
    }
}

/// The clock sends `Action::Tick` this often; retries, refreshes and the spinner count ticks.
pub const TICKS_PER_SECOND: u32 = 4;

#[derive(Debug)]
pub enum Action {
    Started,
    Key(KeyEvent),
    Tick,
    /// The terminal changed size; nothing to update, the next frame redraws.
    Resize,
    ProjectsLoaded(Outcome<Vec<Project>>),
    /// The record of project `key` (the one shown, unless the operator switched meanwhile).
    ProjectLoaded {
        key: String,
        result: Outcome<Project>,
    },
    ProjectSaved {
        key: String,
        result: Outcome<Project>,
    },
    FleetLoaded(Outcome<FleetSnapshot>),
    PlanStatusLoaded {
        firmware_name: String,
        result: Outcome<RolloutStatus>,
    },
    CheckedNow {
        target: CheckNowTarget,
        result: Outcome<CheckNowResult>,
    },
    /// The answer to a screen's own command.
    Screen(ScreenAnswer),
}

impl Action {
    /// Whether the call an answer answers reached the server, for the link state; `None` for
    /// input and for news of a call that runs.
    pub fn reached(&self) -> Option<Outcome<()>> {
        fn of<T>(result: &Outcome<T>) -> Option<Outcome<()>> {
            Some(result.as_ref().map(|_| ()).map_err(Clone::clone))
        }
        match self {
            Action::Started | Action::Key(_) | Action::Tick | Action::Resize => None,
            Action::ProjectsLoaded(result) => of(result),
            Action::ProjectLoaded { result, .. } | Action::ProjectSaved { result, .. } => {
                of(result)
            }
            Action::FleetLoaded(result) => of(result),
            Action::PlanStatusLoaded { result, .. } => of(result),
            Action::CheckedNow { result, .. } => of(result),
            Action::Screen(answer) => answer.reached(),
        }
    }
}

/// Network work for the shell. Each carries everything it needs, so the shell keeps no state.
/// Its size is the largest screen command's (a plan's spec, a device query), as it was when
/// those were commands of their own: each command crosses the channel once, so boxing would
/// buy nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)]
pub enum Command {
    LoadProjects,
    /// The shown project's record: its name, ban-after and device policy.
    LoadProject {
        project: String,
    },
    /// Creates or updates a project (the project form).
    PutProject {
        project: String,
        spec: ProjectSpec,
    },
    LoadFleet {
        project: String,
    },
    LoadPlanStatus {
        project: String,
        firmware_name: String,
    },
    CheckNow {
        project: String,
        target: CheckNowTarget,
    },
    /// A screen's own command (`screens::ScreenCommand`), run by its `run`.
    Screen(ScreenCommand),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Modal {
    Help,
    /// Asks before `command` runs; `busy` is the status shown while it does.
    Confirm {
        prompt: String,
        command: Box<Command>,
        busy: String,
    },
    Form(Form),
    /// A project to pick: the one to show, or the one a device moves to.
    Pick(Picker),
}

impl Modal {
    pub fn confirm(prompt: String, busy: String, command: Command) -> Modal {
        Modal::Confirm {
            prompt,
            command: Box::new(command),
            busy,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusKind {
    Info,
    Busy,
    Error,
}

/// The last message of the status bar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub text: String,
    pub kind: StatusKind,
}

/// What a screen's handling of a key or an answer asks of the app around it.
#[derive(Debug, Default)]
pub struct Reaction {
    pub commands: Vec<Command>,
    pub modal: Option<Modal>,
    pub status: Option<Status>,
}

impl Reaction {
    pub fn none() -> Reaction {
        Reaction::default()
    }

    pub fn commands(commands: impl IntoIterator<Item = Command>) -> Reaction {
        Reaction {
            commands: commands.into_iter().collect(),
            ..Reaction::default()
        }
    }

    pub fn modal(modal: Modal) -> Reaction {
        Reaction {
            modal: Some(modal),
            ..Reaction::default()
        }
    }

    pub fn status(kind: StatusKind, text: String) -> Reaction {
        Reaction {
            status: Some(Status { text, kind }),
            ..Reaction::default()
        }
    }

    /// Adds a status line to what is asked already.
    pub fn with_status(mut self, kind: StatusKind, text: String) -> Reaction {
        self.status = Some(Status { text, kind });
        self
    }
}
