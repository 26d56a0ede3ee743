//! A short list to pick one project from: the project the dashboard shows, or the project a
//! device moves to. It holds the choices it was opened with; the list arrives later when the
//! projects were not loaded yet.

use ratatui::buffer::Buffer;
use ratatui::crossterm::event::KeyEvent;
use ratatui::layout::Rect;
use ratatui::style::{Style, Stylize};
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Widget};

use super::{loading_line, popup, selected_row, ACCENT, ERROR};
use crate::dashboard::keymap::{self, Act, Scope};
use crate::dashboard::remote::Remote;
use crate::strings;
use fota_shared::api::catalog::Project;

/// What the picked project is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PickPurpose {
    /// Show this project in every tab.
    SwitchProject,
    /// Move device `id` to the picked project.
    MoveDevice { id: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Picker {
    pub purpose: PickPurpose,
    /// Project keys to choose from; `None` until the list is loaded.
    pub options: Option<Vec<String>>,
    pub selected: usize,
    /// Why the list could not be loaded.
    pub error: Option<String>,
}

/// What a key did to a picker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PickKey {
    Moved,
    Picked(String),
    Cancel,
}

impl Picker {
    pub fn new(purpose: PickPurpose) -> Picker {
        Picker {
            purpose,
            options: None,
            selected: 0,
            error: None,
        }
    }

    /// Fills the choices: every key but `except` (the project a device is in already), with
    /// the selection on `current` when it is one of them.
    pub fn fill(
        &mut self,
        keys: impl IntoIterator<Item = String>,
        except: Option<&str>,
        current: Option<&str>,
    ) {
        let options: Vec<String> = keys
            .into_iter()
            .filter(|key| Some(key.as_str()) != except)
            .collect();
        self.selected = current
            .and_then(|c| options.iter().position(|k| k == c))
            .unwrap_or(0);
        self.options = Some(options);
        self.error = None;
    }

    /// Fills the choices from the project list as loaded, or shows why it failed. Switching
    /// starts on the `current` project; a move leaves the device's own project out.
    pub fn fill_from(&mut self, projects: &Remote<Vec<Project>>, current: Option<&str>) {
        match (&projects.data, &projects.error) {
            (Some(list), _) => {
                let keys = list.iter().map(|p| p.key.clone());
                match self.purpose {
                    PickPurpose::SwitchProject => self.fill(keys, None, current),
                    PickPurpose::MoveDevice { .. } => self.fill(keys, current, None),
                }
            }
            (None, Some(error)) => self.error = Some(error.clone()),
            (None, None) => {}
        }
    }

    pub fn key(&mut self, key: KeyEvent) -> PickKey {
        let len = self.options.as_ref().map_or(0, Vec::len);
        match keymap::lookup(Scope::Picker, &key) {
            Some(Act::Dismiss) => PickKey::Cancel,
            Some(Act::Down) => {
                self.selected = (self.selected + 1).min(len.saturating_sub(1));
                PickKey::Moved
            }
            Some(Act::Up) => {
                self.selected = self.selected.saturating_sub(1);
                PickKey::Moved
            }
            Some(Act::Pick) => match self.options.as_ref().and_then(|o| o.get(self.selected)) {
                Some(key) => PickKey::Picked(key.clone()),
                None => PickKey::Moved,
            },
            _ => PickKey::Moved,
        }
    }

    pub fn title(&self) -> String {
        match &self.purpose {
            PickPurpose::SwitchProject => strings::PICK_PROJECT_TITLE.to_string(),
            PickPurpose::MoveDevice { id } => strings::pick_move_title(id),
        }
    }
}

pub fn render_picker(picker: &Picker, ticks: u64, area: Rect, buf: &mut Buffer) {
    let rows = picker.options.as_ref().map_or(1, |o| o.len().max(1)) as u16;
    let inner = popup(area, 48, rows.min(16) + 4, picker.title(), ACCENT, buf);
    let mut lines: Vec<Line> = match (&picker.options, &picker.error) {
        (_, Some(error)) => vec![Line::from(error.as_str()).fg(ERROR)],
        (None, None) => vec![loading_line(ticks, strings::WHAT_PROJECTS)],
        (Some(options), None) if options.is_empty() => {
            vec![Line::from(strings::PICK_NONE).dim()]
        }
        (Some(options), None) => options
            .iter()
            .enumerate()
            .map(|(i, key)| {
                let line = Line::from(format!(" {key}"));
                if i == picker.selected {
                    line.style(selected_row())
                } else {
                    line.style(Style::new())
                }
            })
            .collect(),
    };
    lines.push(Line::from(""));
    lines.push(Line::from(strings::PICK_HINT).dim());
    Paragraph::new(lines).render(inner, buf);
}
