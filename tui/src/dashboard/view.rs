//! Drawing the whole dashboard: `impl Widget for &App` renders the tab bar (with the project
//! shown), the visible screen, the status bar (with the project's device policy) and any overlay, from state and nothing else.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Tabs, Widget};

use super::app::{App, Link, TICKS_PER_SECOND};
use super::message::{Modal, StatusKind};
use super::tab::Tab;
use super::widgets::form::render_form;
use super::widgets::modal::{render_confirm, render_help};
use super::widgets::picker::render_picker;
use super::widgets::{framed, remote_area, ACCENT, ERROR, OFFLINE, ONLINE, PENDING};
use crate::strings;

impl Widget for &App {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let [top, body, bottom] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Min(0),
            Constraint::Length(1),
        ])
        .areas(area);
        render_tab_bar(self, top, buf);
        let ticks = self.ticks;
        if self.project.is_none() {
            // Every tab needs the project; until the server names it, its loading or error state
            // is the whole body.
            let block = Block::bordered().title(format!(" {} ", self.tab.title()));
            let inner = framed(block, body, buf);
            remote_area(ticks, &self.projects, strings::WHAT_PROJECTS, inner, buf);
        } else {
            self.screen(self.tab).draw(self, body, buf);
        }
        render_status_bar(self, bottom, buf);
        match &self.modal {
            Some(Modal::Help) => render_help(area, buf),
            Some(Modal::Confirm { prompt, .. }) => render_confirm(prompt, area, buf),
            Some(Modal::Form(form)) => render_form(form, area, buf),
            Some(Modal::Pick(picker)) => render_picker(picker, ticks, area, buf),
            None => {}
        }
    }
}

fn render_tab_bar(app: &App, area: Rect, buf: &mut Buffer) {
    let project = app
        .project
        .as_deref()
        .map_or(strings::NO_PROJECT.to_string(), |p| format!("project {p}"));
    let name = format!(" {} ", strings::APP_TITLE);
    // The tabs keep their width; the project and URL take what is left, cut at the end.
    let tabs_width: usize = Tab::ALL
        .iter()
        .enumerate()
        .map(|(i, tab)| format!("{} {}", i + 1, tab.title()).chars().count() + 3)
        .sum::<usize>()
        - 1;
    let [name_area, tabs_area, right_area] = Layout::horizontal([
        Constraint::Length(name.chars().count() as u16),
        Constraint::Length(tabs_width as u16),
        Constraint::Min(0),
    ])
    .areas(area);
    Span::from(name).bold().render(name_area, buf);
    let titles = Tab::ALL
        .iter()
        .enumerate()
        .map(|(i, tab)| format!("{} {}", i + 1, tab.title()));
    Tabs::new(titles)
        .select(app.tab.index())
        .highlight_style(
            Style::new()
                .fg(ACCENT)
                .add_modifier(Modifier::BOLD | Modifier::REVERSED),
        )
        .divider("│")
        .render(tabs_area, buf);
    // The project matters more than the URL: without room for both the URL goes, and a project
    // that still does not fit is cut at its end.
    let room = usize::from(right_area.width);
    let fitting = [format!(" {project} · {} ", app.url), format!(" {project} ")]
        .into_iter()
        .find(|text| text.chars().count() <= room);
    let line = match fitting {
        Some(text) => Line::from(text).right_aligned(),
        None => Line::from(project),
    };
    line.dim().render(right_area, buf);
}

fn render_status_bar(app: &App, area: Rect, buf: &mut Buffer) {
    let link = match &app.link {
        Link::Online => Span::from(strings::ONLINE).fg(ONLINE),
        Link::Connecting => Span::from(strings::CONNECTING).fg(PENDING),
        Link::Offline {
            attempt, retry_in, ..
        } => {
            let secs = retry_in.map(|ticks| ticks.div_ceil(TICKS_PER_SECOND));
            Span::from(strings::offline(*attempt, secs)).fg(OFFLINE)
        }
    };
    let message = match (&app.status, &app.link) {
        (Some(status), _) => {
            let style = match status.kind {
                StatusKind::Info => Style::new(),
                StatusKind::Busy => Style::new().fg(PENDING),
                StatusKind::Error => Style::new().fg(ERROR),
            };
            Span::styled(status.text.clone(), style)
        }
        (None, Link::Offline { reason, .. }) => Span::from(reason.clone()).fg(OFFLINE),
        (None, _) => Span::from(""),
    };
    let hint = strings::HELP_HINT;
    let [left, right] = Layout::horizontal([
        Constraint::Min(0),
        Constraint::Length(hint.chars().count() as u16 + 1),
    ])
    .areas(area);
    // The shown project's device policy, next to the link: both say how things stand now.
    let mut spans = vec![link, Span::from(" │ ").dim()];
    if let Some(policy) = app.project_screen.policy() {
        spans.extend([
            Span::from(strings::policy_status(policy)),
            Span::from(" │ ").dim(),
        ]);
    }
    spans.push(message);
    Line::from(spans).render(left, buf);
    Line::from(hint).dim().right_aligned().render(right, buf);
}

#[cfg(test)]
mod tests;
