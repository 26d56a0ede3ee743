//! A list grown page by page through the API's cursor under a filter: the rows, the selection,
//! the filter text and the paging state, for any row type. The Devices and Audit screens are two
//! of these with their own rows and merge rules.

use ratatui::buffer::Buffer;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Stylize;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use super::{loading_line, ACCENT, ERROR};
use crate::dashboard::keymap::Act;
use crate::dashboard::remote::Outcome;
use crate::strings;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paged<T> {
    pub rows: Vec<T>,
    pub next_cursor: Option<String>,
    pub selected: usize,
    pub filter: String,
    /// Keys go to the filter text.
    pub filtering: bool,
    /// Bumped when the filter changes, so answers to older filters are dropped.
    pub generation: u64,
    /// The rows belong to an older filter and the next first page replaces them.
    pub stale: bool,
    pub loaded: bool,
    pub loading: bool,
    pub loading_more: bool,
    pub error: Option<String>,
}

impl<T> Default for Paged<T> {
    fn default() -> Self {
        Paged {
            rows: Vec::new(),
            next_cursor: None,
            selected: 0,
            filter: String::new(),
            filtering: false,
            generation: 0,
            stale: false,
            loaded: false,
            loading: false,
            loading_more: false,
            error: None,
        }
    }
}

impl<T> Paged<T> {
    /// Marks a first-page load as started; false while any load of the list runs.
    pub fn begin(&mut self) -> bool {
        if self.loading || self.loading_more {
            return false;
        }
        self.loading = true;
        true
    }

    /// The filter changed: what is loaded and loading belongs to the old one.
    pub fn restart(&mut self) {
        self.generation += 1;
        self.stale = true;
        self.loading = false;
        self.loading_more = false;
    }

    /// Marks the next page's load as started and returns its cursor, when the selection is
    /// `near_end`, there is a next page and nothing else loads.
    pub fn begin_more(&mut self, near_end: bool) -> Option<String> {
        if self.loading || self.loading_more || self.stale || !near_end {
            return None;
        }
        let cursor = self.next_cursor.clone()?;
        self.loading_more = true;
        Some(cursor)
    }

    /// Ends the load a page answers and records its failure. Returns the page to merge, or
    /// `None` when it failed or answers an older filter `generation`.
    pub fn settle<P>(
        &mut self,
        generation: u64,
        first_page: bool,
        what: &str,
        result: Outcome<P>,
    ) -> Option<P> {
        if generation != self.generation {
            return None;
        }
        if first_page {
            self.loading = false;
        } else {
            self.loading_more = false;
        }
        match result {
            Ok(page) => {
                self.error = None;
                self.loaded = true;
                Some(page)
            }
            Err(failure) => {
                self.error = Some(strings::failed(
                    &strings::loading_failed(what),
                    &failure.message,
                ));
                None
            }
        }
    }

    /// Applies a key to the filter text while it is typed: the keymap's keep and clear end
    /// filtering (clear also empties the text), Backspace and characters edit it. Returns
    /// whether the text changed.
    pub fn edit_filter(&mut self, act: Option<Act>, key: KeyEvent) -> bool {
        match act {
            Some(Act::KeepFilter) => {
                self.filtering = false;
                return false;
            }
            Some(Act::ClearFilter) => {
                self.filtering = false;
                if self.filter.is_empty() {
                    return false;
                }
                self.filter.clear();
                return true;
            }
            _ => {}
        }
        match key.code {
            KeyCode::Backspace => self.filter.pop().is_some(),
            KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
                self.filter.push(c);
                true
            }
            _ => false,
        }
    }
}

/// A list's filter line: the text being typed, the text applied, or else `hint`, dimmed.
pub fn filter_line<'a>(filtering: bool, filter: &'a str, hint: Line<'a>) -> Line<'a> {
    if filtering {
        Line::from(vec![
            Span::from(strings::FILTER_PROMPT).fg(ACCENT),
            Span::from(format!("{filter}▏")),
        ])
    } else if !filter.is_empty() {
        Line::from(vec![
            Span::from(strings::FILTER_PROMPT).fg(ACCENT),
            Span::from(filter),
            " (Esc clears)".dim(),
        ])
    } else {
        hint.dim()
    }
}

/// Draws what stands in for a paged list's rows: its error on the first line, then a loading
/// line until the first page is in (`loaded_rows` is `None`), or `none` when it has no rows.
/// Returns the area left for the rows, or `None` when there are none to draw.
pub fn paged_area(
    ticks: u64,
    error: Option<&str>,
    loaded_rows: Option<usize>,
    what: &str,
    none: &str,
    area: Rect,
    buf: &mut Buffer,
) -> Option<Rect> {
    let mut area = area;
    if let Some(error) = error {
        let [line, rest] =
            Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(area);
        Line::from(error).fg(ERROR).render(line, buf);
        area = rest;
    }
    match loaded_rows {
        None => {
            if error.is_none() {
                loading_line(ticks, what).render(area, buf);
            }
            None
        }
        Some(0) => {
            Line::from(none).dim().render(area, buf);
            None
        }
        Some(_) => Some(area),
    }
}
