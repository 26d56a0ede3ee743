//! The Events tab and the feed behind it: the project's events followed live by a long poll
//! that runs while the dashboard does (whatever tab is open), each arrival told on the status
//! line and kept here, newest first, the latest `KEEP`. The feed is a loop of `FollowEvents`
//! commands: the first asks where the log stands (`latest`), each answer asks for what comes
//! after it; a failure waits `RETRY_TICKS` before the next call, and the loop ends with the app
//! (no answer is asked for after quitting) or moves to another project (older answers dropped).

use std::collections::VecDeque;

use fota_shared::api::events::{Event, EventPage};
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Stylize;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Row, Widget, Wrap};

use super::{Around, Screen};
use crate::api::ApiClient;
use crate::dashboard::app::App;
use crate::dashboard::keymap::Group;
use crate::dashboard::message::{Command, Progress, Reaction, StatusKind, TICKS_PER_SECOND};
use crate::dashboard::remote::{clamp, Outcome};
use crate::dashboard::shell::failure;
use crate::dashboard::tab::Tab;
use crate::dashboard::widgets::{framed, loading_line, render_table, ERROR};
use crate::strings;
use crate::strings::event_line;

/// The tab's title.
pub const TITLE: &str = "Events";
/// The tab has no keys of its own.
pub const KEYS: Group = Group {
    title: TITLE,
    bindings: &[],
};

/// Events kept for the list; older ones drop off the end.
pub const KEEP: usize = 200;
/// Seconds each long poll asks the server to hold its answer (it holds at most 30).
pub const WAIT_S: u32 = 25;
/// Ticks between a failed call and the next one.
pub const RETRY_TICKS: u32 = 5 * TICKS_PER_SECOND;
/// An empty answer sooner than this after its call did not wait as a long poll does (a proxy,
/// a server that ignores `wait`): the next call waits out the rest, so the loop never spins.
pub const MIN_POLL_TICKS: u32 = TICKS_PER_SECOND;

const WHAT_EVENTS: &str = "events";
const EVENTS_NONE: &str = "No events since the dashboard started: they appear here as they \
happen. Webhooks deliver them too (tab 7; add one with `fota webhook add`).";

/// One long poll of the project's events after `after`; `None` asks, without waiting, where the
/// feed stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowEvents {
    pub project: String,
    pub generation: u64,
    pub after: Option<u64>,
}

/// The answer to [`FollowEvents`], with what it asked.
#[derive(Debug)]
pub struct EventsFollowed {
    pub call: FollowEvents,
    pub result: Outcome<EventPage>,
}

/// The tab's commands, by the registry's names.
pub type EventsCommand = FollowEvents;
pub type EventsAnswer = EventsFollowed;

impl FollowEvents {
    /// One call of the feed: the first (`after` `None`) asks where the log stands without
    /// waiting, the others wait up to `WAIT_S` for what comes after `after`.
    pub async fn run(self, api: &ApiClient, _progress: &Progress) -> EventsFollowed {
        let wait = if self.after.is_some() { WAIT_S } else { 0 };
        let result = api
            .events(&self.project, self.after, wait)
            .await
            .map_err(failure);
        EventsFollowed { call: self, result }
    }
}

impl EventsFollowed {
    pub fn reached(&self) -> Option<Outcome<()>> {
        Some(self.result.as_ref().map(|_| ()).map_err(Clone::clone))
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventsScreen {
    /// Newest first, at most [`KEEP`].
    pub events: VecDeque<Event>,
    pub selected: usize,
    pub feed: Feed,
}

/// Where the long-poll loop stands.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Feed {
    /// The project followed; `None` before the first call.
    pub project: Option<String>,
    /// Bumped when the project changes, so answers to the old loop end it.
    pub generation: u64,
    /// The newest event seen: the next call asks for those after it. `None` until the first
    /// answer says where the log stands.
    pub after: Option<u64>,
    pub state: FeedState,
    /// Why the last call failed, until one succeeds.
    pub error: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum FeedState {
    /// Not started.
    #[default]
    Idle,
    /// A call is out; `ticks` since it left.
    Polling { ticks: u32 },
    /// The next call leaves in `ticks`.
    Waiting { ticks: u32 },
}

impl EventsScreen {
    /// Follows `project`'s events: starts the loop, or starts it over for another project (its
    /// events leave the list). A loop that runs or waits for its retry is left alone.
    pub fn follow(&mut self, project: &str) -> Option<Command> {
        if self.feed.project.as_deref() != Some(project) {
            self.events.clear();
            self.selected = 0;
            self.feed = Feed {
                project: Some(project.to_string()),
                generation: self.feed.generation + 1,
                ..Feed::default()
            };
        }
        match self.feed.state {
            FeedState::Idle => self.poll(),
            _ => None,
        }
    }

    fn poll(&mut self) -> Option<Command> {
        let project = self.feed.project.clone()?;
        self.feed.state = FeedState::Polling { ticks: 0 };
        Some(
            FollowEvents {
                project,
                generation: self.feed.generation,
                after: self.feed.after,
            }
            .into(),
        )
    }

    /// A tick: counts the call's time out, or the wait down to the next call.
    pub fn on_tick(&mut self) -> Option<Command> {
        match &mut self.feed.state {
            FeedState::Idle => None,
            FeedState::Polling { ticks } => {
                *ticks = ticks.saturating_add(1);
                None
            }
            FeedState::Waiting { ticks } => {
                *ticks = ticks.saturating_sub(1);
                if *ticks > 0 {
                    return None;
                }
                self.poll()
            }
        }
    }

    /// A call's answer: its events are kept and the newest told on the status line, and the
    /// next call leaves at once (or, after a failure or a reply that did not wait, later).
    pub fn on_answer(&mut self, answer: EventsFollowed, _around: Around<'_>) -> Reaction {
        let EventsFollowed {
            call:
                FollowEvents {
                    project,
                    generation,
                    after,
                },
            result,
        } = answer;
        let feed = &mut self.feed;
        if feed.project.as_deref() != Some(project.as_str()) || feed.generation != generation {
            return Reaction::none();
        }
        let took = match feed.state {
            FeedState::Polling { ticks } => ticks,
            _ => 0,
        };
        let page = match result {
            Ok(page) => page,
            Err(failure) => {
                feed.error = Some(strings::failed(
                    &strings::loading_failed(WHAT_EVENTS),
                    &failure.message,
                ));
                feed.state = FeedState::Waiting { ticks: RETRY_TICKS };
                return Reaction::none();
            }
        };
        feed.error = None;
        let Some(after) = after else {
            // The first call: events from now on are news, those already logged are not.
            feed.after = Some(page.latest);
            return Reaction::commands(self.poll());
        };
        let fresh: Vec<Event> = page.events.into_iter().filter(|e| e.id > after).collect();
        let cursor = page.cursor.parse::<u64>().unwrap_or(after);
        let newest = fresh.iter().map(|e| e.id).max().unwrap_or(after);
        self.feed.after = Some(after.max(cursor).max(newest));
        let status = fresh.last().map(event_line);
        if fresh.is_empty() && took < MIN_POLL_TICKS {
            self.feed.state = FeedState::Waiting {
                ticks: MIN_POLL_TICKS - took,
            };
            return Reaction::none();
        }
        self.keep(fresh);
        let reaction = Reaction::commands(self.poll());
        match status {
            Some(line) => reaction.with_status(StatusKind::Info, line),
            None => reaction,
        }
    }

    /// Puts `fresh` (oldest first) on top, the selection staying on the event it was on.
    fn keep(&mut self, fresh: Vec<Event>) {
        let added = fresh.len();
        for event in fresh {
            self.events.push_front(event);
        }
        self.events.truncate(KEEP);
        if self.selected > 0 {
            self.selected = clamp(self.selected + added, self.events.len());
        }
    }

    pub fn selected_event(&self) -> Option<&Event> {
        self.events.get(self.selected)
    }
}

impl Screen for EventsScreen {
    /// The feed fills the tab by itself.
    fn refresh(&mut self, _project: &str) -> Vec<Command> {
        vec![]
    }

    fn follow(&mut self, project: &str, _shown: Tab) -> Vec<Command> {
        EventsScreen::follow(self, project).into_iter().collect()
    }

    fn on_tick(&mut self, _ctx: super::Ctx<'_>) -> Vec<Command> {
        EventsScreen::on_tick(self).into_iter().collect()
    }

    fn move_selection(
        &mut self,
        to: &dyn Fn(usize, usize) -> usize,
        _project: &str,
    ) -> Vec<Command> {
        let len = self.events.len();
        self.selected = clamp(to(self.selected, len), len);
        vec![]
    }

    /// The feed moves to the new project by itself (`follow`).
    fn start_over(&mut self) {}

    fn draw(&self, app: &App, area: Rect, buf: &mut Buffer) {
        render(self, app.ticks, area, buf);
    }
}

fn render(screen: &EventsScreen, ticks: u64, area: Rect, buf: &mut Buffer) {
    let [list_area, detail_area] =
        Layout::vertical([Constraint::Min(0), Constraint::Length(8)]).areas(area);
    let title = format!(
        " Events · {} kept · {} ",
        screen.events.len(),
        feed_state(&screen.feed)
    );
    let mut inner = framed(Block::bordered().title(title), list_area, buf);
    if let Some(error) = &screen.feed.error {
        let [line, rest] =
            Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(inner);
        Line::from(error.as_str()).fg(ERROR).render(line, buf);
        inner = rest;
    }
    if screen.events.is_empty() {
        if screen.feed.after.is_none() && screen.feed.error.is_none() {
            loading_line(ticks, WHAT_EVENTS).render(inner, buf);
        } else {
            Paragraph::new(EVENTS_NONE)
                .dim()
                .wrap(Wrap { trim: true })
                .render(inner, buf);
        }
    } else {
        let rows = screen
            .events
            .iter()
            .map(|event| Row::new([event_line(event)]));
        render_table(
            rows,
            [Constraint::Min(0)],
            &["event"],
            screen.selected,
            inner,
            buf,
        );
    }
    let detail = framed(Block::bordered().title(" Event "), detail_area, buf);
    if let Some(event) = screen.selected_event() {
        event_detail(event).render(detail, buf);
    }
}

/// The feed in a few words, for the list's title.
fn feed_state(feed: &Feed) -> String {
    match (feed.state, feed.after) {
        (FeedState::Idle, _) => "not following".to_string(),
        (FeedState::Waiting { ticks }, _) if feed.error.is_some() => {
            format!("retrying in {} s", ticks.div_ceil(TICKS_PER_SECOND))
        }
        (_, None) => "connecting".to_string(),
        (_, Some(after)) => format!("following after #{after}"),
    }
}

/// The selected event: its type and time, then each field of its data.
fn event_detail(event: &Event) -> Paragraph<'_> {
    let mut lines = vec![Line::from(vec![
        Span::from(format!("#{} ", event.id)).dim(),
        Span::from(event.event_type.as_str()).bold(),
        Span::from(format!(" · {}", event.at)),
    ])];
    if let Some(data) = event.data.as_object() {
        for (key, value) in data {
            let value = match value {
                serde_json::Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            lines.push(Line::from(vec![
                Span::from(format!("{key:<18}")).dim(),
                Span::from(value),
            ]));
        }
    }
    Paragraph::new(lines)
}

#[cfg(test)]
mod tests;
