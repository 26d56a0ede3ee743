//! One module per tab, each holding the tab's state, its key handling (on the keymap's acts),
//! its own commands and how it takes their answers, and its drawing; their tests and snapshots
//! sit beside them. `project` is the one that is not a tab: the project every tab shows, and its
//! form.
//!
//! A tab is a [`Screen`]; the registry below is the one place that lists them (`tabs!`: its
//! `Tab`, its module with its `TITLE` and `KEYS`, the app's field holding it), and the screens
//! that bring commands of their own (`messages!`: wrapped in [`ScreenCommand`], run by the shell
//! through their `run`, answered as [`ScreenAnswer`] and handed to the screen's `on_answer`).
//!
//! A new tab is its module here (state, `TITLE`, `KEYS`, `impl Screen`, its calls and answers,
//! its form's `impl FieldId`), a `pub mod` line and a line in `tabs!` (and in `messages!` if it
//! has calls of its own), and its field in `App`. The acts its keys name are the keymap's
//! `Act`, one enum for all tabs.

use ratatui::buffer::Buffer;
use ratatui::crossterm::event::KeyEvent;
use ratatui::layout::Rect;

use super::app::App;
use super::keymap::{Act, Group};
use super::message::{Command, Modal, Progress, Reaction, Status};
use super::remote::Outcome;
use super::widgets::form::Form;
use super::widgets::picker::PickPurpose;
use crate::api::ApiClient;

pub mod audit;
pub mod devices;
pub mod events;
pub mod firmware;
pub mod fleet;
pub mod project;
pub mod rollouts;
pub mod webhooks;

/// What a screen is told about the app around it on a tick.
#[derive(Debug, Clone, Copy)]
pub struct Ctx<'a> {
    /// The project shown, once the server named it.
    pub project: Option<&'a str>,
    /// Whether the server answers.
    pub online: bool,
    /// Whether this screen is the visible tab.
    pub visible: bool,
    /// Whether the visible tab was reloaded on this tick.
    pub refreshed: bool,
}

/// What a screen's answer may touch of the app around it: the project shown, the overlay
/// (a form shows what its call answered) and the status line (a refusal shown in its form
/// clears the line that said it was on its way).
pub struct Around<'a> {
    pub project: Option<&'a str>,
    pub modal: &'a mut Option<Modal>,
    pub status: &'a mut Option<Status>,
    /// Whether the screen is the visible tab.
    pub shown: bool,
}

/// A tab of the dashboard: its state, its keys, its updates and its drawing, behind the few
/// calls the app makes of every tab. Each call that can lead to network work returns the
/// commands for it; nothing here does I/O.
pub trait Screen {
    /// The commands that (re)load what the tab shows: when it opens, on `r`, at each refresh.
    fn refresh(&mut self, project: &str) -> Vec<Command>;

    /// Work a screen does for whatever tab is `shown` (the events feed; the rollouts' statuses
    /// the Fleet tab shows): started, or moved to `project`, with every load of the shown tab.
    fn follow(&mut self, _project: &str, _shown: Tab) -> Vec<Command> {
        vec![]
    }

    /// A tick of the clock, told to every tab, visible or not.
    fn on_tick(&mut self, _ctx: Ctx<'_>) -> Vec<Command> {
        vec![]
    }

    /// An act of the tab's own keys (the keymap's `Scope::Tab`), with no overlay open.
    fn on_act(&mut self, _act: Act, _project: &str) -> Reaction {
        Reaction::none()
    }

    /// Moves the selection: `to` takes the selected row and the number of rows.
    fn move_selection(&mut self, to: &dyn Fn(usize, usize) -> usize, project: &str)
        -> Vec<Command>;

    /// Whether a filter is being typed, which then gets every key.
    fn filtering(&self) -> bool {
        false
    }

    /// A key while the filter is typed.
    fn on_filter_key(&mut self, _key: KeyEvent, _project: &str) -> Vec<Command> {
        vec![]
    }

    /// A project picked in a picker the tab opened (`purpose` says what for).
    fn on_pick(&mut self, _purpose: PickPurpose, _key: &str, _project: &str) -> Reaction {
        Reaction::none()
    }

    /// A form the tab opened was submitted (a tab's form is open only while the tab is shown):
    /// the form stays open (`Some`, with what it says now) or closes, and what the app is asked.
    fn submit(&mut self, form: Form, _project: &str) -> (Option<Form>, Reaction) {
        (Some(form), Reaction::none())
    }

    /// Another project is shown: the tab starts over (keeping what outlives a project).
    fn start_over(&mut self);

    /// Draws the tab; `app` is read for the spinner's ticks and for what a tab shows of
    /// another's (the Fleet tab shows the rollouts' statuses).
    fn draw(&self, app: &App, area: Rect, buf: &mut Buffer);
}

/// The registry of tabs: `Tab => field`, in the tab bar's order, where `field` names both the
/// screen's module (with its `TITLE` and its `KEYS`) and the app's field holding its state. It
/// makes the `Tab` enum, the tabs' key groups and the app's way to each tab's screen.
macro_rules! tabs {
    ($($tab:ident => $field:ident),* $(,)?) => {
        /// The dashboard's tabs, in the order the tab bar shows them and digits select them.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Tab {
            $($tab,)*
        }

        /// The first tab is shown first.
        impl Default for Tab {
            fn default() -> Tab {
                Tab::ALL[0]
            }
        }

        impl Tab {
            /// Tab order.
            pub const ALL: &'static [Tab] = &[$(Tab::$tab,)*];

            pub fn title(self) -> &'static str {
                match self {
                    $(Tab::$tab => $field::TITLE,)*
                }
            }
        }

        /// Each tab's own key bindings, in tab order.
        pub const TAB_KEYS: &[&Group] = &[$(&$field::KEYS,)*];

        impl App {
            /// The screen of `tab`.
            pub fn screen(&self, tab: Tab) -> &dyn Screen {
                match tab {
                    $(Tab::$tab => &self.$field,)*
                }
            }

            pub fn screen_mut(&mut self, tab: Tab) -> &mut dyn Screen {
                match tab {
                    $(Tab::$tab => &mut self.$field,)*
                }
            }

            /// Every screen, with its tab, in the tab bar's order.
            pub fn screens_mut(&mut self) -> Vec<(Tab, &mut dyn Screen)> {
                vec![$((Tab::$tab, &mut self.$field as &mut dyn Screen)),*]
            }
        }
    };
}

tabs! {
    Fleet => fleet,
    Devices => devices,
    Firmware => firmware,
    Rollouts => rollouts,
    Audit => audit,
    Events => events,
    Webhooks => webhooks,
}

/// The registry of the screens' own messages: `Variant(field): command type => answer type`,
/// where `Variant` is the screen's `Tab`.
/// Each command type has `async fn run(self, &ApiClient, &Progress) -> answer`, each answer type
/// `fn reached(&self) -> Option<Outcome<()>>`, and the screen `fn on_answer(&mut self, answer,
/// Around) -> Reaction`.
macro_rules! messages {
    ($($screen:ident($field:ident): $command:ty => $answer:ty),* $(,)?) => {
        /// A screen's own command, wrapped by `Command::Screen`.
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum ScreenCommand {
            $($screen($command),)*
        }

        /// The answer to a [`ScreenCommand`], wrapped by `Action::Screen`. Its size is the
        /// largest answer's (a plan preview), as it was when each was an `Action` of its own:
        /// each answer crosses the channel once, so boxing would buy nothing.
        #[derive(Debug)]
        #[allow(clippy::large_enum_variant)]
        pub enum ScreenAnswer {
            $($screen($answer),)*
        }

        $(impl From<$answer> for super::message::Action {
            fn from(answer: $answer) -> super::message::Action {
                super::message::Action::Screen(ScreenAnswer::$screen(answer))
            }
        })*

        $(impl From<$command> for Command {
            fn from(command: $command) -> Command {
                Command::Screen(ScreenCommand::$screen(command))
            }
        })*

        impl ScreenCommand {
            /// Runs the command with the API client: the shell's part.
            pub async fn run(self, api: &ApiClient, progress: &Progress) -> ScreenAnswer {
                match self {
                    $(ScreenCommand::$screen(command) => ScreenAnswer::$screen(command.run(api, progress).await),)*
                }
            }
        }

        impl ScreenAnswer {
            /// Whether the call reached the server, for the link state (`None`: news of a
            /// call that runs, which says nothing of the server).
            pub fn reached(&self) -> Option<Outcome<()>> {
                match self {
                    $(ScreenAnswer::$screen(answer) => answer.reached(),)*
                }
            }

            /// Hands the answer to the screen it belongs to.
            pub fn deliver(self, app: &mut App) -> Reaction {
                match self {
                    $(ScreenAnswer::$screen(answer) => {
                        let shown = app.tab == Tab::$screen;
                        let around = Around {
                            project: app.project.as_deref(),
                            modal: &mut app.modal,
                            status: &mut app.status,
                            shown,
                        };
                        app.$field.on_answer(answer, around)
                    })*
                }
            }
        }
    };
}

messages! {
    Audit(audit): audit::AuditCommand => audit::AuditAnswer,
    Devices(devices): devices::DeviceCall => devices::DeviceAnswer,
    Events(events): events::EventsCommand => events::EventsAnswer,
    Firmware(firmware): firmware::FirmwareCall => firmware::FirmwareAnswer,
    Fleet(fleet): fleet::FleetCommand => fleet::FleetAnswer,
    Rollouts(rollouts): rollouts::PlanCall => rollouts::PlanAnswer,
    Webhooks(webhooks): webhooks::WebhooksCommand => webhooks::WebhooksAnswer,
}
