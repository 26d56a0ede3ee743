//! The overlays drawn over a screen: the confirmation prompt and the help, which renders the
//! keymap table as it is.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Stylize;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget, Wrap};

use super::{popup, ACCENT, PENDING};
use crate::dashboard::keymap::{Group, KEYMAP};
use crate::strings;

pub fn render_confirm(prompt: &str, area: Rect, buf: &mut Buffer) {
    let inner = popup(area, 64, 6, strings::CONFIRM_TITLE, PENDING, buf);
    let [question, hint] =
        Layout::vertical([Constraint::Min(0), Constraint::Length(1)]).areas(inner);
    Paragraph::new(prompt)
        .wrap(Wrap { trim: true })
        .render(question, buf);
    Line::from(strings::CONFIRM_HINT)
        .dim()
        .centered()
        .render(hint, buf);
}

pub fn render_help(area: Rect, buf: &mut Buffer) {
    // The first two groups (everywhere, devices) on the left, the rest on the right.
    let (left, right) = KEYMAP.split_at(2.min(KEYMAP.len()));
    let column = |groups: &[Group]| {
        let key_width = groups
            .iter()
            .flat_map(|group| group.bindings)
            .map(|binding| binding.keys.chars().count())
            .max()
            .unwrap_or(0);
        let mut lines = Vec::new();
        for group in groups {
            lines.push(Line::from(group.title).fg(ACCENT).bold());
            for binding in group.bindings {
                lines.push(Line::from(vec![
                    Span::from(format!("  {:<key_width$} ", binding.keys)).bold(),
                    Span::from(binding.about),
                ]));
            }
            lines.push(Line::from(""));
        }
        lines.pop();
        lines
    };
    let (left, right) = (column(left), column(right));
    let left_width = left.iter().map(Line::width).max().unwrap_or(0) as u16 + 2;
    let height = left.len().max(right.len()) as u16 + 2;
    let inner = popup(area, 98, height, strings::HELP_TITLE, ACCENT, buf);
    let [l, r] =
        Layout::horizontal([Constraint::Length(left_width), Constraint::Min(0)]).areas(inner);
    Paragraph::new(left).render(l, buf);
    Paragraph::new(right).render(r, buf);
}
