//! Drawing the Devices tab: the filter line, the list, and the selected device's fields, module
//! job and history.

use fota_shared::api::fleet::Device;
use fota_shared::api::ota::Job;
use fota_shared::model::job::JobPhase;
use fota_shared::model::rollout::DevicePhase;
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Paragraph, Row, Widget, Wrap};

use super::DevicesScreen;
use crate::dashboard::widgets::paged::{filter_line, paged_area};
use crate::dashboard::widgets::{
    field, framed, remote_area, render_table, ACCENT, BANNED, ERROR, FAILED, IN_FLIGHT, PENDING,
    SUCCEEDED,
};
use crate::format;
use crate::strings;

/// The cancel keys, beside the others of `strings::DEVICES_KEYS`.
const CANCEL_KEYS: &str = "a/A cancel";

pub(super) fn render(screen: &DevicesScreen, ticks: u64, area: Rect, buf: &mut Buffer) {
    let [filter_area, body] =
        Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(area);
    render_filter_bar(screen, filter_area, buf);
    let [list_area, detail_area] =
        Layout::horizontal([Constraint::Percentage(66), Constraint::Percentage(34)]).areas(body);
    render_list(screen, ticks, list_area, buf);
    let detail_inner = framed(
        Block::bordered().title(strings::DEVICES_DETAIL),
        detail_area,
        buf,
    );
    match screen.selected_device() {
        Some(device) => {
            let mut detail = device_detail(device);
            detail.extend(job_detail(screen, &device.id));
            // Long fields (the cause, a job's module and firmware) wrap.
            let width = detail_inner.width.max(1) as usize;
            let height: usize = detail
                .iter()
                .map(|line| line.width().max(1).div_ceil(width))
                .sum();
            let height = height as u16;
            let [fields_area, history_area] =
                Layout::vertical([Constraint::Length(height), Constraint::Min(0)])
                    .areas(detail_inner);
            Paragraph::new(detail)
                .wrap(Wrap { trim: false })
                .render(fields_area, buf);
            render_history(screen, ticks, history_area, buf);
        }
        None => Line::from(strings::DEVICES_NO_SELECTION)
            .dim()
            .render(detail_inner, buf),
    }
}

/// The filter (or the keys) on the left, the rollout state filter on the right.
fn render_filter_bar(screen: &DevicesScreen, area: Rect, buf: &mut Buffer) {
    let view = &screen.list;
    let filter_line = filter_line(
        view.filtering,
        &view.filter,
        Line::from(format!(
            "{}  {}  {CANCEL_KEYS}",
            strings::FILTER_HINT,
            strings::DEVICES_KEYS
        )),
    );
    let state = strings::state_filter(screen.state.map(|s| s.as_str()));
    let [filter_area, state_area] = Layout::horizontal([
        Constraint::Min(0),
        Constraint::Length(state.chars().count() as u16 + 1),
    ])
    .areas(area);
    filter_line.render(filter_area, buf);
    let state_span = if screen.state.is_some() {
        Span::from(state).fg(ACCENT).bold()
    } else {
        Span::from(state).dim()
    };
    Line::from(state_span)
        .right_aligned()
        .render(state_area, buf);
}

/// The devices loaded so far, in their frame.
fn render_list(screen: &DevicesScreen, ticks: u64, area: Rect, buf: &mut Buffer) {
    let view = &screen.list;
    let list_block = Block::bordered().title(strings::devices_title(
        view.rows.len(),
        view.next_cursor.is_some(),
        view.loading_more,
    ));
    let inner = framed(list_block, area, buf);
    let Some(table_area) = paged_area(
        ticks,
        view.error.as_deref(),
        view.loaded.then_some(view.rows.len()),
        strings::WHAT_DEVICES,
        strings::DEVICES_NONE,
        inner,
        buf,
    ) else {
        return;
    };
    // The firmware name is in the detail pane: at 100 columns the list keeps what tells
    // devices apart in a rollout (version, state, cause) instead.
    let widths = [
        Constraint::Length(15),
        Constraint::Length(10),
        Constraint::Length(9),
        Constraint::Min(8),
        Constraint::Length(11),
    ];
    let rows = view.rows.iter().map(|device| {
        // A held module job is what the operator must act on: it shows in place of the
        // rollout state.
        let state = if screen.is_held(&device.id) {
            Cell::from(Span::from(strings::HELD).fg(PENDING).bold())
        } else {
            Cell::from(device.state.map_or("", DevicePhase::as_str))
        };
        let row = Row::new([
            Cell::from(device.id.as_str()),
            Cell::from(device.version.as_deref().unwrap_or(strings::NO_VERSION)),
            state,
            Cell::from(device.cause.as_deref().unwrap_or("")),
            Cell::from(format::short_timestamp(&device.last_seen)),
        ]);
        if device_in_trouble(device) {
            row.fg(BANNED)
        } else {
            row
        }
    });
    render_table(
        rows,
        widths,
        &["id", "version", "state", "cause", "last seen"],
        view.selected,
        table_area,
        buf,
    );
}

/// A failed or banned job, or a loop-upgrade ban: the rows an operator looks at first.
fn device_in_trouble(device: &Device) -> bool {
    device.banned
        || matches!(
            device.state,
            Some(DevicePhase::Failed | DevicePhase::Banned)
        )
}

/// The selected device's history, newest first, below its fields.
fn render_history(screen: &DevicesScreen, ticks: u64, area: Rect, buf: &mut Buffer) {
    if area.height < 2 {
        return;
    }
    let [title, rest] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(area);
    Line::from(Span::from(strings::HISTORY_TITLE).fg(ACCENT).bold()).render(title, buf);
    let history = &screen.history.events;
    let Some(rest) = remote_area(ticks, history, strings::WHAT_HISTORY, rest, buf) else {
        return;
    };
    let events = history.data.as_deref().unwrap_or_default();
    if events.is_empty() {
        Line::from(strings::HISTORY_NONE).dim().render(rest, buf);
        return;
    }
    // Two lines an event, newest first: when and what, then its detail indented below, so
    // long details (plan ids, firmware names) wrap without running into the next event.
    let mut lines: Vec<Line> = Vec::new();
    for event in events.iter().rev() {
        let style = match event.kind.as_str() {
            "failed" | "banned" => Style::new().fg(FAILED),
            "succeeded" | "unban" => Style::new().fg(SUCCEEDED),
            _ => Style::new(),
        };
        lines.push(Line::from(vec![
            Span::from(format!("{} ", format::short_timestamp(&event.at))).dim(),
            Span::styled(event.kind.clone(), style),
        ]));
        if let Some(detail) = &event.detail {
            lines.push(Line::from(format!("  {detail}")).dim());
        }
    }
    Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .render(rest, buf);
}

fn device_detail(device: &Device) -> Vec<Line<'_>> {
    let banned = if device.banned {
        Span::from("yes · u unbans").fg(BANNED).bold()
    } else {
        Span::from("no")
    };
    vec![
        field("id", device.id.as_str()),
        field("firmware", device.firmware_name.as_deref().unwrap_or("")),
        field(
            "version",
            device.version.as_deref().unwrap_or(strings::NO_VERSION),
        ),
        field("first seen", format::timestamp(&device.first_seen)),
        field("last seen", format::timestamp(&device.last_seen)),
        field("deliveries", device.deliveries.to_string()),
        field("banned", banned),
        field(
            "state",
            match device.state {
                Some(state @ (DevicePhase::Failed | DevicePhase::Banned)) => {
                    Span::from(state.as_str()).fg(FAILED).bold()
                }
                Some(state) => Span::from(state.as_str()),
                None => Span::from("-").dim(),
            },
        ),
        field("cause", device.cause.as_deref().unwrap_or("-")),
    ]
}

/// The device's module-OTA job below its fields: what it installs, and where it stands.
fn job_detail<'a>(screen: &DevicesScreen, id: &str) -> Vec<Line<'a>> {
    let jobs = &screen.jobs;
    match screen.job_of(id) {
        Some(job) => vec![
            field("job", strings::job_target(job)),
            field("", job_state(job)),
        ],
        None if jobs.data.is_some() => vec![field("job", Span::from("-").dim())],
        None if jobs.error.is_some() => vec![field("job", Span::from("?").fg(ERROR))],
        None => vec![field("job", Span::from("…").fg(PENDING))],
    }
}

fn job_state(job: &Job) -> Span<'static> {
    match job.phase {
        JobPhase::AwaitingConfirmation => Span::from(strings::JOB_HELD_DETAIL).fg(PENDING).bold(),
        JobPhase::InProgress => Span::from(strings::job_progress(job)).fg(IN_FLIGHT),
    }
}
