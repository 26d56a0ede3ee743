//! The overlays drawn over a screen: the confirmation prompt and the help, which renders the
//! keymap's groups as they are.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Stylize;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget, Wrap};

use super::{popup, ACCENT, PENDING};
use crate::dashboard::keymap::{groups, Group};
use crate::strings;

/// Width of the confirmation popup, frame included.
const CONFIRM_WIDTH: u16 = 64;

pub fn render_confirm(prompt: &str, area: Rect, buf: &mut Buffer) {
    // Three lines of question at least, more when the prompt wraps to more.
    let lines = wrapped_lines(prompt, usize::from(CONFIRM_WIDTH - 2)).max(3);
    let inner = popup(
        area,
        CONFIRM_WIDTH,
        lines + 3,
        strings::CONFIRM_TITLE,
        PENDING,
        buf,
    );
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

/// How many lines `text` takes wrapped at word boundaries into `width` columns (a word longer
/// than a line is broken, as the paragraph does).
fn wrapped_lines(text: &str, width: usize) -> u16 {
    let mut lines = 1;
    let mut used = 0;
    for word in text.split_whitespace() {
        let len = word.chars().count();
        if used > 0 && used + 1 + len <= width {
            used += 1 + len;
            continue;
        }
        if used > 0 {
            lines += 1;
        }
        lines += (len.saturating_sub(1) / width.max(1)) as u16;
        used = len % width.max(1);
        if used == 0 && len > 0 {
            used = width;
        }
    }
    lines
}

pub fn render_help(area: Rect, buf: &mut Buffer) {
    // The first two groups (everywhere, devices) on the left, the rest on the right.
    let all = groups();
    let (left, right) = all.split_at(2.min(all.len()));
    let column = |groups: &[&Group]| {
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

#[cfg(test)]
mod tests {
    use super::wrapped_lines;

    #[test]
    fn prompts_wrap_at_words() {
        assert_eq!(wrapped_lines("", 10), 1);
        assert_eq!(wrapped_lines("one two", 10), 1);
        assert_eq!(wrapped_lines("one two three", 10), 2);
        assert_eq!(wrapped_lines("0123456789 x", 10), 2);
        assert_eq!(wrapped_lines("0123456789012 x", 10), 2);
        assert_eq!(wrapped_lines("0123456789012 abcdefghi", 10), 3);
    }
}
