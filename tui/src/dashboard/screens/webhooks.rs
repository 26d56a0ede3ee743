//! The Webhooks tab: the project's webhooks (name, state, what waits for them, the events they
//! take, the receiver) and the selected one's latest deliveries, newest first; `Enter` moves
//! the selection between the two lists, `r` delivers the selected delivery's event again (after
//! a confirmation). Webhooks are created, rotated and deleted with the CLI (`fota webhook`): a
//! new one's secret is shown once, which a terminal's scrollback keeps better than a popup.

use fota_shared::api::events::{Redelivery, Webhook, WebhookDelivery, WebhookState};

pub type WebhooksCommand = WebhookCall;
pub type WebhooksAnswer = WebhookAnswer;
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Style, Stylize};
use ratatui::text::Line;
use ratatui::widgets::{Block, Cell, Paragraph, Row, Widget, Wrap};

use super::{Around, Screen};
use crate::api::ApiClient;
use crate::dashboard::app::App;
use crate::dashboard::keymap::{bind, Act, Group, Key, Scope};
use crate::dashboard::message::{Command, Modal, Progress, Reaction, StatusKind};
use crate::dashboard::remote::{clamp, Outcome, Remote};
use crate::dashboard::shell::failure;
use crate::dashboard::tab::Tab;
use crate::dashboard::widgets::{framed, remote_area, render_table, ACCENT, FAILED, PENDING};
use crate::strings;
use crate::strings::{delivery_row, webhook_row};
use ratatui::crossterm::event::KeyCode;

/// The tab's title.
pub const TITLE: &str = "Webhooks";
/// Where the tab's own bindings apply: while it is shown.
const HERE: Scope = Scope::Tab(Tab::Webhooks);
/// The tab's own bindings (its help group).
pub const KEYS: Group = Group {
    title: TITLE,
    bindings: &[
        bind(
            "Enter",
            "webhooks / their deliveries",
            &[(HERE, Key::Code(KeyCode::Enter), Act::SwitchFocus)],
        ),
        bind(
            "r R",
            "redeliver the delivery / refresh",
            &[
                (HERE, Key::Char('r'), Act::Redeliver),
                (HERE, Key::Char('R'), Act::Refresh),
            ],
        ),
    ],
};

const WHAT_WEBHOOKS: &str = "webhooks";
const WHAT_DELIVERIES: &str = "deliveries";
const WEBHOOKS_NONE: &str = "No webhooks. Add one from the command line, which shows its \
signing secret once: fota webhook add NAME --url https://… --events 'rollout.*,device.banned'";
const DELIVERIES_NONE: &str = "Nothing delivered to it yet.";
const WEBHOOKS_HINT: &str = " Enter webhooks/deliveries  r redeliver  R refresh ";

/// The Webhooks tab's calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookCall {
    List {
        project: String,
    },
    Deliveries {
        project: String,
        name: String,
    },
    Redeliver {
        project: String,
        name: String,
        delivery: u64,
    },
}

/// The answers to [`WebhookCall`]s, each naming the project it was asked for.
#[derive(Debug)]
pub enum WebhookAnswer {
    Listed {
        project: String,
        result: Outcome<Vec<Webhook>>,
    },
    Deliveries {
        project: String,
        name: String,
        result: Outcome<Vec<WebhookDelivery>>,
    },
    Redelivered {
        project: String,
        name: String,
        delivery: u64,
        result: Outcome<Redelivery>,
    },
}

impl WebhookAnswer {
    /// Whether the call reached the server, for the link state.
    pub fn reached(&self) -> Option<Outcome<()>> {
        let failure = match self {
            WebhookAnswer::Listed { result, .. } => result.as_ref().err(),
            WebhookAnswer::Deliveries { result, .. } => result.as_ref().err(),
            WebhookAnswer::Redelivered { result, .. } => result.as_ref().err(),
        };
        Some(failure.map_or(Ok(()), |failure| Err(failure.clone())))
    }
}

/// The shell's part: one call with the API client, answered with what it asked.
impl WebhookCall {
    pub async fn run(self, api: &ApiClient, _progress: &Progress) -> WebhookAnswer {
        match self {
            WebhookCall::List { project } => WebhookAnswer::Listed {
                result: api
                    .webhooks(&project)
                    .await
                    .map(|list| list.webhooks)
                    .map_err(failure),
                project,
            },
            WebhookCall::Deliveries { project, name } => WebhookAnswer::Deliveries {
                result: api
                    .webhook_deliveries(&project, &name)
                    .await
                    .map(|list| list.deliveries)
                    .map_err(failure),
                project,
                name,
            },
            WebhookCall::Redeliver {
                project,
                name,
                delivery,
            } => WebhookAnswer::Redelivered {
                result: api
                    .redeliver(&project, &name, delivery)
                    .await
                    .map_err(failure),
                project,
                name,
                delivery,
            },
        }
    }
}

/// Which list `j`/`k` move in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Focus {
    #[default]
    Webhooks,
    Deliveries,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebhooksScreen {
    pub hooks: Remote<Vec<Webhook>>,
    pub selected: usize,
    /// The selected webhook's deliveries.
    pub deliveries: Deliveries,
    pub focus: Focus,
}

/// One webhook's latest deliveries, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Deliveries {
    pub name: Option<String>,
    pub list: Remote<Vec<WebhookDelivery>>,
    pub selected: usize,
}

impl WebhooksScreen {
    pub fn selected_hook(&self) -> Option<&Webhook> {
        self.hooks.data.as_ref()?.get(self.selected)
    }

    pub fn selected_delivery(&self) -> Option<&WebhookDelivery> {
        self.deliveries
            .list
            .data
            .as_ref()?
            .get(self.deliveries.selected)
    }

    /// Loads the selected webhook's deliveries; another webhook's are dropped first.
    fn load_deliveries(&mut self, project: &str) -> Option<Command> {
        let name = self.selected_hook()?.name.clone();
        if self.deliveries.name.as_deref() != Some(name.as_str()) {
            self.deliveries = Deliveries {
                name: Some(name.clone()),
                ..Deliveries::default()
            };
        }
        self.deliveries.list.begin().then(|| {
            Command::from(WebhookCall::Deliveries {
                project: project.to_string(),
                name,
            })
        })
    }

    /// `r`: asks before delivering the selected delivery's event to its webhook again.
    fn confirm_redeliver(&self, project: &str) -> Reaction {
        let (Some(name), Some(delivery)) = (&self.deliveries.name, self.selected_delivery()) else {
            return Reaction::status(
                StatusKind::Info,
                "No delivery selected: Enter moves to the deliveries.".to_string(),
            );
        };
        let prompt = format!(
            "Deliver event #{} ({}) to webhook {name} again? Delivery {} was attempt {} and {}.",
            delivery.event_id,
            delivery.event_type.as_str(),
            delivery.id,
            delivery.attempt,
            if delivery.ok { "succeeded" } else { "failed" },
        );
        Reaction::modal(Modal::confirm(
            prompt,
            redelivering(name, delivery.id),
            Command::from(WebhookCall::Redeliver {
                project: project.to_string(),
                name: name.clone(),
                delivery: delivery.id,
            }),
        ))
    }

    /// An answer of the server; answers for another project than `shown` are dropped.
    pub fn on_answer(&mut self, answer: WebhookAnswer, around: Around<'_>) -> Reaction {
        let shown = around.project;
        match answer {
            WebhookAnswer::Listed { project, result } if shown == Some(project.as_str()) => {
                self.on_listed(result);
                Reaction::commands(self.load_deliveries(&project))
            }
            WebhookAnswer::Deliveries {
                project,
                name,
                result,
            } if shown == Some(project.as_str()) => {
                if self.deliveries.name.as_deref() == Some(name.as_str()) {
                    let deliveries = &mut self.deliveries;
                    deliveries.list.settle(WHAT_DELIVERIES, result);
                    let len = deliveries.list.data.as_ref().map_or(0, Vec::len);
                    deliveries.selected = clamp(deliveries.selected, len);
                }
                Reaction::none()
            }
            WebhookAnswer::Redelivered {
                project,
                name,
                delivery,
                result,
            } => self.on_redelivered(&project, &name, delivery, result),
            _ => Reaction::none(),
        }
    }

    fn on_listed(&mut self, result: Outcome<Vec<Webhook>>) {
        // The selection stays on the webhook it was on, wherever the new list puts it.
        let keep = self.selected_hook().map(|h| h.name.clone());
        self.hooks.settle(WHAT_WEBHOOKS, result);
        let hooks = self.hooks.data.as_deref().unwrap_or_default();
        let at = keep.and_then(|name| hooks.iter().position(|h| h.name == name));
        self.selected = clamp(at.unwrap_or(self.selected), hooks.len());
        if hooks.is_empty() {
            // The last webhook was deleted (with the CLI): its deliveries go with it.
            self.deliveries = Deliveries::default();
        }
    }

    /// The event is queued again: the deliveries are reloaded, where its attempt shows once
    /// the edge has made it.
    fn on_redelivered(
        &mut self,
        project: &str,
        name: &str,
        delivery: u64,
        result: Outcome<Redelivery>,
    ) -> Reaction {
        match result {
            Ok(redelivery) => {
                let text = format!(
                    "Event #{} queued for webhook {} again.",
                    redelivery.event_id, redelivery.webhook
                );
                let reload = if self.deliveries.name.as_deref() == Some(name) {
                    self.load_deliveries(project)
                } else {
                    None
                };
                Reaction::commands(reload).with_status(StatusKind::Info, text)
            }
            Err(failure) => Reaction::status(
                StatusKind::Error,
                strings::failed(&redelivering(name, delivery), &failure.message),
            ),
        }
    }
}

/// The busy status, and what a failure names.
impl Screen for WebhooksScreen {
    /// The commands that (re)load what the tab shows: the webhooks, the selected one's
    /// deliveries.
    fn refresh(&mut self, project: &str) -> Vec<Command> {
        let list = self.hooks.begin().then(|| {
            Command::from(WebhookCall::List {
                project: project.to_string(),
            })
        });
        list.into_iter()
            .chain(self.load_deliveries(project))
            .collect()
    }

    fn move_selection(
        &mut self,
        to: &dyn Fn(usize, usize) -> usize,
        project: &str,
    ) -> Vec<Command> {
        match self.focus {
            Focus::Webhooks => {
                let len = self.hooks.data.as_ref().map_or(0, Vec::len);
                self.selected = clamp(to(self.selected, len), len);
                self.load_deliveries(project).into_iter().collect()
            }
            Focus::Deliveries => {
                let deliveries = &mut self.deliveries;
                let len = deliveries.list.data.as_ref().map_or(0, Vec::len);
                deliveries.selected = clamp(to(deliveries.selected, len), len);
                vec![]
            }
        }
    }

    /// The tab's own keys, as the keymap names them.
    fn on_act(&mut self, act: Act, project: &str) -> Reaction {
        match act {
            Act::SwitchFocus => {
                self.focus = match self.focus {
                    Focus::Webhooks => Focus::Deliveries,
                    Focus::Deliveries => Focus::Webhooks,
                };
                Reaction::none()
            }
            Act::Redeliver => self.confirm_redeliver(project),
            _ => Reaction::none(),
        }
    }

    fn start_over(&mut self) {
        *self = WebhooksScreen::default();
    }

    fn draw(&self, app: &App, area: Rect, buf: &mut Buffer) {
        render(self, app.ticks, area, buf);
    }
}

fn redelivering(name: &str, delivery: u64) -> String {
    format!("Redelivering delivery {delivery} of webhook {name}")
}

fn render(screen: &WebhooksScreen, ticks: u64, area: Rect, buf: &mut Buffer) {
    let [hooks_area, deliveries_area] =
        Layout::vertical([Constraint::Percentage(40), Constraint::Min(0)]).areas(area);
    render_hooks(screen, ticks, hooks_area, buf);
    render_deliveries(screen, ticks, deliveries_area, buf);
}

/// A list's frame, its border in the accent colour while `j`/`k` move in it.
fn frame(title: String, focused: bool) -> Block<'static> {
    let block = Block::bordered().title(title);
    if focused {
        block.border_style(Style::new().fg(ACCENT))
    } else {
        block
    }
}

fn render_hooks(screen: &WebhooksScreen, ticks: u64, area: Rect, buf: &mut Buffer) {
    let count = screen.hooks.data.as_ref().map_or(0, Vec::len);
    let block = frame(
        format!(" Webhooks · {count} "),
        screen.focus == Focus::Webhooks,
    )
    .title_bottom(Line::from(WEBHOOKS_HINT).dim());
    let inner = framed(block, area, buf);
    let Some(inner) = remote_area(ticks, &screen.hooks, WHAT_WEBHOOKS, inner, buf) else {
        return;
    };
    let hooks = screen.hooks.data.as_deref().unwrap_or_default();
    if hooks.is_empty() {
        Paragraph::new(WEBHOOKS_NONE)
            .dim()
            .wrap(Wrap { trim: true })
            .render(inner, buf);
        return;
    }
    let rows = hooks.iter().map(|hook| {
        let colour = match hook.state {
            WebhookState::Active => None,
            WebhookState::Failing => Some(PENDING),
            WebhookState::Disabled => Some(FAILED),
        };
        let cells = webhook_row(hook).into_iter().enumerate().map(|(i, text)| {
            let cell = Cell::from(text);
            match colour {
                Some(colour) if i == 1 => cell.fg(colour),
                _ => cell,
            }
        });
        Row::new(cells)
    });
    let widths = [
        Constraint::Length(14),
        Constraint::Length(9),
        Constraint::Length(8),
        Constraint::Length(28),
        Constraint::Min(10),
    ];
    render_table(
        rows,
        widths,
        &["name", "state", "pending", "events", "url"],
        screen.selected,
        inner,
        buf,
    );
}

fn render_deliveries(screen: &WebhooksScreen, ticks: u64, area: Rect, buf: &mut Buffer) {
    let deliveries = &screen.deliveries;
    let title = match &deliveries.name {
        Some(name) => format!(" Deliveries to {name} · newest first "),
        None => " Deliveries ".to_string(),
    };
    let inner = framed(frame(title, screen.focus == Focus::Deliveries), area, buf);
    if deliveries.name.is_none() {
        return;
    }
    let Some(inner) = remote_area(ticks, &deliveries.list, WHAT_DELIVERIES, inner, buf) else {
        return;
    };
    let list = deliveries.list.data.as_deref().unwrap_or_default();
    if list.is_empty() {
        Line::from(DELIVERIES_NONE).dim().render(inner, buf);
        return;
    }
    let rows = list.iter().map(|delivery| {
        let row = Row::new(delivery_row(delivery));
        if delivery.ok {
            row
        } else {
            row.fg(FAILED)
        }
    });
    let widths = [
        Constraint::Length(6),
        Constraint::Length(21),
        Constraint::Length(28),
        Constraint::Length(11),
        Constraint::Min(12),
        Constraint::Length(8),
    ];
    // Highlighted also while the webhooks have the focus: it is the row `r` takes.
    render_table(
        rows,
        widths,
        &["id", "at", "event", "attempt", "outcome", "latency"],
        deliveries.selected,
        inner,
        buf,
    );
}

#[cfg(test)]
mod tests;
