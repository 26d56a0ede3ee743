//! The Audit tab: every change, newest first, grown page by page through the cursor; a filter
//! whose `actor:`, `project:` and `since:` words go to the server and whose other words match
//! the loaded entries; the selected entry's before and after. Its one call, a page of the log,
//! is in `calls`.

use fota_shared::api::access::{AuditEntry, AuditPage};
use ratatui::buffer::Buffer;
use ratatui::crossterm::event::KeyEvent;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Stylize;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Row, Widget};

mod calls;

pub use calls::{AuditAnswer, AuditCommand, AuditLoaded, LoadAudit};

use super::{Around, Screen};
use crate::dashboard::app::App;
use crate::dashboard::keymap::{self, bind, Act, Group, Key, Scope};
use crate::dashboard::message::{Command, Reaction};
use crate::dashboard::remote::{clamp, Outcome};
use crate::dashboard::tab::Tab;
use crate::dashboard::widgets::paged::{filter_line, paged_area, Paged};
use crate::dashboard::widgets::{framed, render_table, FAILED, SUCCEEDED};
use crate::format;
use crate::strings;
use fota_shared::api::query::AuditQuery;
use ratatui::crossterm::event::KeyCode;

/// The tab's title.
pub const TITLE: &str = strings::TAB_AUDIT;
/// Where the tab's own bindings apply: while it is shown.
const HERE: Scope = Scope::Tab(Tab::Audit);
/// The tab's own bindings (its help group).
pub const KEYS: Group = Group {
    title: TITLE,
    bindings: &[
        bind(
            "/",
            "filter: actor: project: action: since:",
            &[(HERE, Key::Char('/'), Act::StartFilter)],
        ),
        bind(
            "Esc",
            "clear the filter",
            &[(HERE, Key::Code(KeyCode::Esc), Act::ClearFilter)],
        ),
    ],
};

/// Audit entries fetched per page.
pub const AUDIT_PAGE: u32 = 100;
/// The next page is fetched when the selection comes this close to the last shown entry.
const PREFETCH_ROWS: usize = 20;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuditScreen {
    /// `selected` indexes `visible()`. The filter: `actor:NAME project:KEY since:TIME` go to the
    /// server (which matches them exactly); `action:TEXT` and other words are matched locally,
    /// as parts of the action or of any of actor, action, project and target.
    pub list: Paged<AuditEntry>,
}

/// The audit filter split into what the server filters and the words matched locally, in
/// lower case; `action:TEXT` stays a word with its prefix, matched against the action only.
/// (The server matches `action` exactly, against the full route pattern, which nobody types.)
pub fn parse_audit_filter(filter: &str) -> (AuditQuery, Vec<String>) {
    let mut query = AuditQuery::default();
    let mut words = Vec::new();
    for word in filter.split_whitespace() {
        let slot = match word.split_once(':') {
            Some(("actor", v)) => Some((&mut query.actor, v)),
            Some(("project", v)) => Some((&mut query.project, v)),
            Some(("since", v)) => Some((&mut query.since, v)),
            Some(("action", "")) => continue,
            _ => None,
        };
        match slot {
            Some((slot, value)) if !value.is_empty() => *slot = Some(value.to_string()),
            // `actor:` with nothing after it yet filters nothing.
            Some(_) => {}
            None => words.push(word.to_lowercase()),
        }
    }
    (query, words)
}

impl AuditScreen {
    fn query(&self, cursor: Option<String>) -> AuditQuery {
        AuditQuery {
            cursor,
            limit: Some(AUDIT_PAGE),
            ..parse_audit_filter(&self.list.filter).0
        }
    }

    /// The loaded entries that match the local words of the filter.
    pub fn visible(&self) -> Vec<&AuditEntry> {
        let (_, words) = parse_audit_filter(&self.list.filter);
        self.list
            .rows
            .iter()
            .filter(|entry| {
                let haystack = format!(
                    "{} {} {} {}",
                    entry.actor,
                    entry.action,
                    entry.project_key.as_deref().unwrap_or(""),
                    entry.target
                )
                .to_lowercase();
                let action = entry.action.to_lowercase();
                words.iter().all(|w| match w.strip_prefix("action:") {
                    Some(part) => action.contains(part),
                    None => haystack.contains(w.as_str()),
                })
            })
            .collect()
    }

    pub fn selected_entry(&self) -> Option<&AuditEntry> {
        self.visible().get(self.list.selected).copied()
    }

    /// The first page, unless a load of the list runs.
    fn load(&mut self) -> Vec<Command> {
        self.list
            .begin()
            .then(|| {
                Command::from(LoadAudit {
                    generation: self.list.generation,
                    query: self.query(None),
                })
            })
            .into_iter()
            .collect()
    }

    /// The filter changed. A change of the server-side part starts over from the first page; a
    /// change of the local words only re-filters what is loaded.
    fn refilter(&mut self, before: AuditQuery) -> Vec<Command> {
        self.list.selected = 0;
        if parse_audit_filter(&self.list.filter).0 == before {
            return self.prefetch().into_iter().collect();
        }
        self.list.restart();
        self.load()
    }

    /// Asks for the next page when the selection nears the end of what is shown.
    fn prefetch(&mut self) -> Option<Command> {
        let near_end = self.list.selected + PREFETCH_ROWS >= self.visible().len();
        let cursor = self.list.begin_more(near_end)?;
        Some(Command::from(LoadAudit {
            generation: self.list.generation,
            query: self.query(Some(cursor)),
        }))
    }

    fn on_page(
        &mut self,
        generation: u64,
        cursor: Option<String>,
        result: Outcome<AuditPage>,
    ) -> Vec<Command> {
        let first_page = cursor.is_none();
        let keep = if self.list.stale {
            None
        } else {
            self.selected_entry().map(|e| e.id)
        };
        let view = &mut self.list;
        let Some(page) = view.settle(generation, first_page, strings::WHAT_AUDIT, result) else {
            return vec![];
        };
        if first_page && (view.stale || view.rows.len() <= AUDIT_PAGE as usize) {
            view.rows = page.entries;
            view.next_cursor = page.next_cursor;
            view.stale = false;
        } else if first_page {
            // Several pages are loaded: put what is new on top, keep the window and its cursor.
            let newest = view.rows.first().map_or(0, |e| e.id);
            let mut fresh: Vec<AuditEntry> =
                page.entries.into_iter().filter(|e| e.id > newest).collect();
            fresh.append(&mut view.rows);
            view.rows = fresh;
        } else {
            let oldest = view.rows.last().map_or(u64::MAX, |e| e.id);
            view.rows
                .extend(page.entries.into_iter().filter(|e| e.id < oldest));
            view.next_cursor = page.next_cursor;
        }
        let (position, len) = {
            let visible = self.visible();
            let position = keep.and_then(|id| visible.iter().position(|e| e.id == id));
            (position, visible.len())
        };
        let fallback = if keep.is_none() {
            0
        } else {
            self.list.selected
        };
        self.list.selected = clamp(position.unwrap_or(fallback), len);
        self.prefetch().into_iter().collect()
    }
}

impl AuditScreen {
    /// A page of the log arrived: the tab's one answer.
    pub fn on_answer(&mut self, answer: AuditLoaded, _around: Around<'_>) -> Reaction {
        let AuditLoaded {
            generation,
            cursor,
            result,
        } = answer;
        Reaction::commands(self.on_page(generation, cursor, result))
    }
}

impl Screen for AuditScreen {
    fn move_selection(
        &mut self,
        to: &dyn Fn(usize, usize) -> usize,
        _project: &str,
    ) -> Vec<Command> {
        let len = self.visible().len();
        self.list.selected = clamp(to(self.list.selected, len), len);
        self.prefetch().into_iter().collect()
    }

    /// A key while the filter is typed.
    fn on_filter_key(&mut self, key: KeyEvent, _project: &str) -> Vec<Command> {
        let before = parse_audit_filter(&self.list.filter).0;
        let act = keymap::lookup(Scope::Filter, &key);
        if !self.list.edit_filter(act, key) {
            return vec![];
        }
        self.refilter(before)
    }

    /// The tab's own keys, as the keymap names them.
    fn on_act(&mut self, act: Act, _project: &str) -> Reaction {
        match act {
            Act::StartFilter => {
                self.list.filtering = true;
                Reaction::none()
            }
            Act::ClearFilter if !self.list.filter.is_empty() => {
                let before = parse_audit_filter(&self.list.filter).0;
                self.list.filter.clear();
                Reaction::commands(self.refilter(before))
            }
            _ => Reaction::none(),
        }
    }

    fn refresh(&mut self, _project: &str) -> Vec<Command> {
        self.load()
    }

    fn filtering(&self) -> bool {
        self.list.filtering
    }

    fn start_over(&mut self) {
        *self = AuditScreen::default();
    }

    fn draw(&self, app: &App, area: Rect, buf: &mut Buffer) {
        render(self, app.ticks, area, buf);
    }
}

fn render(screen: &AuditScreen, ticks: u64, area: Rect, buf: &mut Buffer) {
    let view = &screen.list;
    let [filter_area, list_area, detail_area] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(0),
        Constraint::Length(8),
    ])
    .areas(area);
    filter_line(
        view.filtering,
        &view.filter,
        Line::from(strings::AUDIT_FILTER_HINT),
    )
    .render(filter_area, buf);

    let visible = screen.visible();
    let block = Block::bordered().title(strings::audit_title(
        view.rows.len(),
        visible.len(),
        view.next_cursor.is_some(),
        view.loading_more,
    ));
    let inner = framed(block, list_area, buf);
    if let Some(table_area) = paged_area(
        ticks,
        view.error.as_deref(),
        view.loaded.then_some(visible.len()),
        strings::WHAT_AUDIT,
        strings::AUDIT_NONE,
        inner,
        buf,
    ) {
        let widths = [
            Constraint::Length(14),
            Constraint::Length(12),
            Constraint::Length(30),
            Constraint::Length(10),
            Constraint::Min(20),
        ];
        let rows = visible.iter().map(|entry| {
            Row::new([
                format::timestamp(&entry.at)
                    .get(5..)
                    .unwrap_or_default()
                    .to_string(),
                entry.actor.clone(),
                format::short_action(&entry.action),
                entry.project_key.clone().unwrap_or_default(),
                entry.target.clone(),
            ])
        });
        render_table(
            rows,
            widths,
            &["at", "actor", "action", "project", "target"],
            view.selected,
            table_area,
            buf,
        );
    }

    let detail_inner = framed(
        Block::bordered().title(strings::AUDIT_DETAIL),
        detail_area,
        buf,
    );
    if let Some(entry) = screen.selected_entry() {
        audit_detail(entry).render(detail_inner, buf);
    }
}

/// The selected entry: who and when, then each field that changed as `before → after`.
fn audit_detail(entry: &AuditEntry) -> Paragraph<'_> {
    let mut lines = vec![Line::from(vec![
        Span::from(format!("#{} ", entry.id)).dim(),
        Span::from(entry.actor.as_str()).bold(),
        Span::from(format!(
            " · {} · {}",
            entry.action,
            format::timestamp(&entry.at)
        )),
    ])];
    let changes = format::changes(entry.before.as_ref(), entry.after.as_ref());
    if changes.is_empty() {
        lines.push(Line::from(strings::AUDIT_NO_CHANGE).dim());
    }
    for (key, before, after) in changes {
        lines.push(Line::from(vec![
            Span::from(format!("{key:<18}")).dim(),
            Span::from(before).fg(FAILED),
            Span::from(" → "),
            Span::from(after).fg(SUCCEEDED),
        ]));
    }
    Paragraph::new(lines)
}
#[cfg(test)]
mod tests;
