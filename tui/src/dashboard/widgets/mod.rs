//! Pieces the screens draw with: the palette, frames and popups, loading and error stand-ins,
//! tables; and the widgets with state of their own (`paged`, `form`, `picker`), the rollout bar
//! and the overlays (`modal`).

pub mod form;
pub mod modal;
pub mod paged;
pub mod picker;
pub mod rollout_bar;

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Block, Clear, Paragraph, Row, StatefulWidget, Table, TableState, Widget, Wrap,
};

use super::remote::Remote;
use crate::strings;

/// Colours that carry meaning; tests assert them cell by cell.
pub const BANNED: Color = Color::Red;
pub const ERROR: Color = Color::Red;
pub const ONLINE: Color = Color::Green;
pub const OFFLINE: Color = Color::Red;
pub const PENDING: Color = Color::Yellow;
/// Rollout bars and counts: succeeded, failed (banned included), offered without an outcome.
pub const SUCCEEDED: Color = Color::Green;
pub const FAILED: Color = Color::Red;
pub const IN_FLIGHT: Color = Color::Yellow;
/// A paused rollout's state is drawn in this colour, bold, so it stands out in the list.
pub const PAUSED: Color = Color::Yellow;
pub const NOT_OFFERED: Color = Color::DarkGray;
/// The Fleet tab's sparklines: checks per hour, deliveries per hour.
pub const CHECKS: Color = Color::Cyan;
pub const DELIVERIES: Color = Color::Magenta;
pub const ACCENT: Color = Color::Cyan;

const SPINNER: [&str; 4] = ["◐", "◓", "◑", "◒"];

pub fn selected_row() -> Style {
    Style::new().add_modifier(Modifier::REVERSED)
}

/// Draws `block` over `area` and returns the area inside it.
pub fn framed(block: Block, area: Rect, buf: &mut Buffer) -> Rect {
    let inner = block.inner(area);
    block.render(area, buf);
    inner
}

/// Clears a `width` x `height` popup in the middle of `area`, frames it with `title` in
/// `colour` and returns the area inside the frame.
pub fn popup<'a>(
    area: Rect,
    width: u16,
    height: u16,
    title: impl Into<Line<'a>>,
    colour: Color,
    buf: &mut Buffer,
) -> Rect {
    let popup = centered(area, width, height);
    Clear.render(popup, buf);
    let block = Block::bordered()
        .title(title)
        .border_style(Style::new().fg(colour));
    framed(block, popup, buf)
}

/// A rectangle of at most `width` x `height` in the middle of `area`.
pub fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let [row] = Layout::vertical([Constraint::Length(height.min(area.height))])
        .flex(Flex::Center)
        .areas(area);
    let [cell] = Layout::horizontal([Constraint::Length(width.min(area.width))])
        .flex(Flex::Center)
        .areas(row);
    cell
}

/// The line that says what is loading, with a spinner that turns with the ticks.
pub fn loading_line(ticks: u64, what: &str) -> Line<'static> {
    let spinner = SPINNER[ticks as usize % SPINNER.len()];
    Line::from(format!("{spinner} {}", strings::loading(what))).fg(PENDING)
}

/// Draws what stands in for data that is not there yet: a loading line or the error. Returns the
/// area left for the data itself, or `None` when there is no data to draw.
pub fn remote_area<T>(
    ticks: u64,
    remote: &Remote<T>,
    what: &str,
    area: Rect,
    buf: &mut Buffer,
) -> Option<Rect> {
    match (&remote.data, &remote.error) {
        (Some(_), None) => Some(area),
        (Some(_), Some(error)) => {
            let [line, rest] =
                Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(area);
            Line::from(error.as_str()).fg(ERROR).render(line, buf);
            Some(rest)
        }
        (None, Some(error)) => {
            Paragraph::new(error.as_str())
                .fg(ERROR)
                .wrap(Wrap { trim: true })
                .render(area, buf);
            None
        }
        (None, None) => {
            loading_line(ticks, what).render(area, buf);
            None
        }
    }
}

/// Draws rows under a bold `header`, the `selected` one highlighted.
pub fn render_table<'a>(
    rows: impl IntoIterator<Item = Row<'a>>,
    widths: impl IntoIterator<Item = Constraint>,
    header: &[&'a str],
    selected: usize,
    area: Rect,
    buf: &mut Buffer,
) {
    let table = Table::new(rows, widths)
        .header(Row::new(header.iter().copied()).bold())
        .row_highlight_style(selected_row());
    let mut state = TableState::default().with_selected(Some(selected));
    StatefulWidget::render(table, area, buf, &mut state);
}

/// A detail line: the label dimmed in a column of 11, then the value.
pub fn field<'a>(label: &'a str, value: impl Into<Span<'a>>) -> Line<'a> {
    Line::from(vec![Span::from(format!("{label:<11}")).dim(), value.into()])
}
