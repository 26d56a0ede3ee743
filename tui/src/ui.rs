//! Drawing: `impl Widget for &App` renders the whole screen from state, nothing else.

use fota_shared::api::{AuditEntry, Delivery, Device, JobPhase, Plan, RolloutCounts, RolloutPhase};
use fota_shared::module_job::ActiveJob;
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Direction, Flex, Layout, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Bar, BarChart, BarGroup, Block, Cell, Clear, Gauge, Paragraph, Row, Sparkline, StatefulWidget,
    Table, TableState, Tabs, Widget, Wrap,
};

use crate::app::{App, Link, Modal, Remote, RolloutView, StatusKind, Tab, Upload};
use crate::form::{FieldValue, Form};
use crate::text;

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
const NOT_OFFERED: Color = Color::DarkGray;
/// The Fleet tab's sparklines: checks per hour, deliveries per hour.
pub const CHECKS: Color = Color::Cyan;
pub const DELIVERIES: Color = Color::Magenta;
/// Rows of the Fleet tab's activity panel: borders, a title and three rows of bars.
const ACTIVITY_ROWS: u16 = 6;
const ACCENT: Color = Color::Cyan;
/// Cells of the progress bar in the Rollouts list.
const LIST_BAR: u16 = 20;

const SPINNER: [&str; 4] = ["◐", "◓", "◑", "◒"];

fn selected_row() -> Style {
    Style::new().add_modifier(Modifier::REVERSED)
}

/// Draws `block` over `area` and returns the area inside it.
fn framed(block: Block, area: Rect, buf: &mut Buffer) -> Rect {
    let inner = block.inner(area);
    block.render(area, buf);
    inner
}

/// Clears a `width` x `height` popup in the middle of `area`, frames it with `title` in
/// `colour` and returns the area inside the frame.
fn popup<'a>(
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

/// The line that says what is loading, with a spinner that turns with the ticks.
fn loading_line(app: &App, what: &str) -> Line<'static> {
    let spinner = SPINNER[app.ticks as usize % SPINNER.len()];
    Line::from(format!("{spinner} {}", text::loading(what))).fg(PENDING)
}

/// A list's filter line: the text being typed, the text applied, or else `hint`, dimmed.
fn filter_line<'a>(filtering: bool, filter: &'a str, hint: Line<'a>) -> Line<'a> {
    if filtering {
        Line::from(vec![
            Span::from(text::FILTER_PROMPT).fg(ACCENT),
            Span::from(format!("{filter}▏")),
        ])
    } else if !filter.is_empty() {
        Line::from(vec![
            Span::from(text::FILTER_PROMPT).fg(ACCENT),
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
fn paged_area(
    app: &App,
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
                loading_line(app, what).render(area, buf);
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

/// Draws rows under a bold `header`, the `selected` one highlighted.
fn render_table<'a>(
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

impl Widget for &App {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let [top, body, bottom] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Min(0),
            Constraint::Length(1),
        ])
        .areas(area);
        render_tab_bar(self, top, buf);
        if self.project.is_none() {
            // Every tab needs the project; until the server names it, its loading or error state
            // is the whole body.
            let block = Block::bordered().title(format!(" {} ", self.tab.title()));
            let inner = framed(block, body, buf);
            remote_area(self, &self.projects, text::WHAT_PROJECTS, inner, buf);
        } else {
            match self.tab {
                Tab::Fleet => render_fleet(self, body, buf),
                Tab::Devices => render_devices(self, body, buf),
                Tab::Firmware => render_firmware(self, body, buf),
                Tab::Rollouts => render_rollouts(self, body, buf),
                Tab::Audit => render_audit(self, body, buf),
            }
        }
        render_status_bar(self, bottom, buf);
        match &self.modal {
            Some(Modal::Help) => render_help(area, buf),
            Some(Modal::Confirm { prompt, .. }) => render_confirm(prompt, area, buf),
            Some(Modal::Form(form)) => render_form(form, area, buf),
            None => {}
        }
    }
}

fn render_tab_bar(app: &App, area: Rect, buf: &mut Buffer) {
    let project = app
        .project
        .as_deref()
        .map_or(text::NO_PROJECT.to_string(), |p| format!("project {p}"));
    let right = format!(" {project} · {} ", app.url);
    let name = format!(" {} ", text::APP_TITLE);
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
    Line::from(right)
        .dim()
        .right_aligned()
        .render(right_area, buf);
}

fn render_status_bar(app: &App, area: Rect, buf: &mut Buffer) {
    let link = match &app.link {
        Link::Online => Span::from(text::ONLINE).fg(ONLINE),
        Link::Connecting => Span::from(text::CONNECTING).fg(PENDING),
        Link::Offline {
            attempt, retry_in, ..
        } => {
            let secs = retry_in.map(|ticks| ticks.div_ceil(crate::app::TICKS_PER_SECOND));
            Span::from(text::offline(*attempt, secs)).fg(OFFLINE)
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
    let hint = text::HELP_HINT;
    let [left, right] = Layout::horizontal([
        Constraint::Min(0),
        Constraint::Length(hint.chars().count() as u16 + 1),
    ])
    .areas(area);
    Line::from(vec![link, Span::from(" │ ").dim(), message]).render(left, buf);
    Line::from(hint).dim().right_aligned().render(right, buf);
}

/// Draws what stands in for data that is not there yet: a loading line or the error. Returns the
/// area left for the data itself, or `None` when there is no data to draw.
fn remote_area<T>(
    app: &App,
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
            loading_line(app, what).render(area, buf);
            None
        }
    }
}

fn render_fleet(app: &App, area: Rect, buf: &mut Buffer) {
    // Versions and rollouts on top, the traffic of the last hours across the middle, the latest
    // devices below; the two outer bands share what the activity panel leaves.
    let [top, activity_area, bottom] = Layout::vertical([
        Constraint::Fill(1),
        Constraint::Length(ACTIVITY_ROWS),
        Constraint::Fill(1),
    ])
    .areas(area);
    render_activity(app, activity_area, buf);
    let [chart_area, plans_area] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(top);
    let summary = app.fleet.data.as_ref();
    // Until the first summary arrives the titles name the panels without numbers.
    let (chart_title, latest_title) = match summary {
        Some(s) => (
            text::fleet_versions_title(s.total, s.banned),
            text::fleet_latest_title(&s.seen),
        ),
        None => (
            text::FLEET_VERSIONS.to_string(),
            text::FLEET_LATEST.to_string(),
        ),
    };
    let chart_inner = framed(Block::bordered().title(chart_title), chart_area, buf);
    let plans_inner = framed(Block::bordered().title(text::FLEET_PLANS), plans_area, buf);
    let latest_inner = framed(Block::bordered().title(latest_title), bottom, buf);

    let Some(chart_inner) = remote_area(app, &app.fleet, text::WHAT_FLEET, chart_inner, buf) else {
        return;
    };
    let Some(summary) = summary else { return };

    if summary.versions.is_empty() {
        Line::from(text::FLEET_NO_DEVICES)
            .dim()
            .render(chart_inner, buf);
    } else {
        let bars: Vec<Bar> = summary
            .versions
            .iter()
            .map(|(version, count)| {
                Bar::default()
                    .value(*count)
                    .label(Line::from(
                        version
                            .clone()
                            .unwrap_or_else(|| text::NO_VERSION.to_string()),
                    ))
                    .text_value(text::count(*count))
                    .style(Style::new().fg(ACCENT))
                    .value_style(Style::new().fg(Color::Black).bg(ACCENT))
            })
            .collect();
        BarChart::default()
            .direction(Direction::Horizontal)
            .bar_width(1)
            .bar_gap(0)
            .data(BarGroup::default().bars(&bars))
            .render(chart_inner, buf);
    }

    if summary.plans.is_empty() {
        Line::from(text::FLEET_NO_PLANS)
            .dim()
            .render(plans_inner, buf);
    } else {
        // Rollouts still offering first: they are what an operator watches.
        let mut plans: Vec<_> = summary.plans.iter().collect();
        plans.sort_by_key(|plan| {
            let phase = app.rollout_status(&plan.firmware_name).map(|s| s.state);
            !matches!(
                phase,
                Some(RolloutPhase::Verifying | RolloutPhase::Running | RolloutPhase::Paused)
            )
        });
        let rows = Layout::vertical(plans.iter().map(|_| Constraint::Length(2))).split(plans_inner);
        for (plan, row) in plans.iter().zip(rows.iter()) {
            let [name, gauge] =
                Layout::vertical([Constraint::Length(1), Constraint::Length(1)]).areas(*row);
            let view = app.rollouts.get(&plan.firmware_name);
            // The state first: a long firmware name must not push it off the panel.
            let mut spans = state_spans(view);
            spans.extend([
                Span::from("  "),
                Span::from(plan.firmware_name.as_str()).bold(),
                Span::from(" → "),
                Span::from(plan.target_version.as_str()),
            ]);
            spans.push(
                Span::from(format!(
                    " · {}",
                    text::plan_gauge_label(plan.on_target, plan.seen)
                ))
                .dim(),
            );
            Line::from(spans).render(name, buf);
            rollout_gauge(view, gauge.width).render(gauge, buf);
        }
    }

    let rows = summary.latest.iter().map(|device| device_row(device));
    let table = Table::new(rows, device_widths()).header(device_header());
    Widget::render(table, latest_inner, buf);
}

/// Checks and deliveries per hour as two sparklines side by side, each titled with its total and
/// the last (current) hour's count.
fn render_activity(app: &App, area: Rect, buf: &mut Buffer) {
    let hours = app.activity.data.as_deref().unwrap_or_default();
    let block = Block::bordered().title(text::activity_title(
        hours.len().max(crate::app::ACTIVITY_HOURS as usize),
        hours.first().map(|h| h.at.as_str()),
    ));
    let inner = framed(block, area, buf);
    let Some(inner) = remote_area(app, &app.activity, text::WHAT_ACTIVITY, inner, buf) else {
        return;
    };
    let [checks_area, deliveries_area] = Layout::horizontal([Constraint::Fill(1); 2])
        .spacing(2)
        .areas(inner);
    let series = [
        (
            text::ACTIVITY_CHECKS,
            hours.iter().map(|h| h.checks).collect::<Vec<u64>>(),
            CHECKS,
            checks_area,
        ),
        (
            text::ACTIVITY_DELIVERIES,
            hours.iter().map(|h| h.deliveries).collect(),
            DELIVERIES,
            deliveries_area,
        ),
    ];
    for (what, values, colour, area) in series {
        let total = values.iter().sum();
        let last = values.last().copied().unwrap_or(0);
        let title = Line::from(text::activity_series(what, total, values.len(), last)).fg(colour);
        Sparkline::default()
            .block(Block::new().title(title))
            .data(stretch(&values, area.width))
            .style(Style::new().fg(colour))
            .render(area, buf);
    }
}

/// Spreads hourly values over `width` columns: each hour gets the same whole number of columns,
/// and when there are more hours than columns the newest ones are kept.
fn stretch(values: &[u64], width: u16) -> Vec<u64> {
    let width = width as usize;
    if values.is_empty() || width == 0 {
        return vec![];
    }
    if values.len() > width {
        return values[values.len() - width..].to_vec();
    }
    let each = width / values.len();
    values
        .iter()
        .flat_map(|v| std::iter::repeat_n(*v, each))
        .collect()
}

fn device_widths() -> [Constraint; 5] {
    [
        Constraint::Min(16),
        Constraint::Length(10),
        Constraint::Length(10),
        Constraint::Length(19),
        Constraint::Length(6),
    ]
}

fn device_header() -> Row<'static> {
    Row::new(["id", "firmware", "version", "last seen", "banned"]).bold()
}

fn device_row(device: &Device) -> Row<'_> {
    let row = Row::new([
        Cell::from(device.id.as_str()),
        Cell::from(device.firmware_name.as_deref().unwrap_or("")),
        Cell::from(device.version.as_deref().unwrap_or(text::NO_VERSION)),
        Cell::from(text::timestamp(&device.last_seen)),
        Cell::from(if device.banned { "yes" } else { "" }),
    ]);
    if device.banned {
        row.fg(BANNED)
    } else {
        row
    }
}

fn render_devices(app: &App, area: Rect, buf: &mut Buffer) {
    let view = &app.devices;
    let [filter_area, body] =
        Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(area);
    let filter_line = filter_line(
        view.filtering,
        &view.filter,
        Line::from(format!("{}  {}", text::FILTER_HINT, text::DEVICES_KEYS)),
    );
    let state = text::state_filter(view.state.map(|s| s.as_str()));
    let [filter_area, state_area] = Layout::horizontal([
        Constraint::Min(0),
        Constraint::Length(state.chars().count() as u16 + 1),
    ])
    .areas(filter_area);
    filter_line.render(filter_area, buf);
    let state_span = if view.state.is_some() {
        Span::from(state).fg(ACCENT).bold()
    } else {
        Span::from(state).dim()
    };
    Line::from(state_span)
        .right_aligned()
        .render(state_area, buf);

    let [list_area, detail_area] =
        Layout::horizontal([Constraint::Percentage(66), Constraint::Percentage(34)]).areas(body);
    let list_block = Block::bordered().title(text::devices_title(
        view.rows.len(),
        view.next_cursor.is_some(),
        view.loading_more,
    ));
    let inner = framed(list_block, list_area, buf);
    if let Some(table_area) = paged_area(
        app,
        view.error.as_deref(),
        view.loaded.then_some(view.rows.len()),
        text::WHAT_DEVICES,
        text::DEVICES_NONE,
        inner,
        buf,
    ) {
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
            let state = if view.is_held(&device.id) {
                Cell::from(Span::from(text::HELD).fg(PENDING).bold())
            } else {
                Cell::from(device.state.as_deref().unwrap_or(""))
            };
            let row = Row::new([
                Cell::from(device.id.as_str()),
                Cell::from(device.version.as_deref().unwrap_or(text::NO_VERSION)),
                state,
                Cell::from(device.cause.as_deref().unwrap_or("")),
                Cell::from(text::short_timestamp(&device.last_seen)),
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

    let detail_inner = framed(
        Block::bordered().title(text::DEVICES_DETAIL),
        detail_area,
        buf,
    );
    match view.selected_device() {
        Some(device) => {
            let mut detail = device_detail(device);
            detail.extend(job_detail(app, &device.id));
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
            render_history(app, history_area, buf);
        }
        None => Line::from(text::DEVICES_NO_SELECTION)
            .dim()
            .render(detail_inner, buf),
    }
}

/// A failed or banned job, or a loop-upgrade ban: the rows an operator looks at first.
fn device_in_trouble(device: &Device) -> bool {
    device.banned || matches!(device.state.as_deref(), Some("failed" | "banned"))
}

/// The selected device's history, newest first, below its fields.
fn render_history(app: &App, area: Rect, buf: &mut Buffer) {
    if area.height < 2 {
        return;
    }
    let [title, rest] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(area);
    Line::from(Span::from(text::HISTORY_TITLE).fg(ACCENT).bold()).render(title, buf);
    let history = &app.devices.history.events;
    let Some(rest) = remote_area(app, history, text::WHAT_HISTORY, rest, buf) else {
        return;
    };
    let events = history.data.as_deref().unwrap_or_default();
    if events.is_empty() {
        Line::from(text::HISTORY_NONE).dim().render(rest, buf);
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
            Span::from(format!("{} ", text::short_timestamp(&event.at))).dim(),
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

fn field<'a>(label: &'a str, value: impl Into<Span<'a>>) -> Line<'a> {
    Line::from(vec![Span::from(format!("{label:<11}")).dim(), value.into()])
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
            device.version.as_deref().unwrap_or(text::NO_VERSION),
        ),
        field("first seen", text::timestamp(&device.first_seen)),
        field("last seen", text::timestamp(&device.last_seen)),
        field("deliveries", device.deliveries.to_string()),
        field("banned", banned),
        field(
            "state",
            match device.state.as_deref() {
                Some(state @ ("failed" | "banned")) => Span::from(state).fg(FAILED).bold(),
                Some(state) => Span::from(state),
                None => Span::from("-").dim(),
            },
        ),
        field("cause", device.cause.as_deref().unwrap_or("-")),
    ]
}

/// The device's module-OTA job below its fields: what it installs, and where it stands.
fn job_detail<'a>(app: &App, id: &str) -> Vec<Line<'a>> {
    let jobs = &app.devices.jobs;
    match app.devices.job_of(id) {
        Some(job) => vec![
            field("job", text::job_target(job)),
            field("", job_state(job)),
        ],
        None if jobs.data.is_some() => vec![field("job", Span::from("-").dim())],
        None if jobs.error.is_some() => vec![field("job", Span::from("?").fg(ERROR))],
        None => vec![field("job", Span::from("…").fg(PENDING))],
    }
}

fn job_state(job: &ActiveJob) -> Span<'static> {
    match job.phase {
        JobPhase::AwaitingConfirmation => Span::from(text::JOB_HELD_DETAIL).fg(PENDING).bold(),
        JobPhase::InProgress => Span::from(text::job_progress(job)).fg(IN_FLIGHT),
    }
}

fn render_firmware(app: &App, area: Rect, buf: &mut Buffer) {
    let upload_height = if app.upload.is_some() { 6 } else { 0 };
    let [list_area, upload_area] =
        Layout::vertical([Constraint::Min(0), Constraint::Length(upload_height)]).areas(area);
    let block = Block::bordered()
        .title(text::FIRMWARE_TITLE)
        .title_bottom(Line::from(" u upload  d delete ").dim());
    let inner = framed(block, list_area, buf);
    if let Some(inner) = remote_area(app, &app.firmware, text::WHAT_FIRMWARE, inner, buf) {
        let images = app.firmware.data.as_deref().unwrap_or_default();
        if images.is_empty() {
            Line::from(text::FIRMWARE_NONE).dim().render(inner, buf);
        } else {
            let widths = [
                Constraint::Length(10),
                Constraint::Length(9),
                Constraint::Length(8),
                Constraint::Length(12),
                Constraint::Length(9),
                Constraint::Length(12),
                Constraint::Length(16),
                Constraint::Min(8),
            ];
            let rows = images.iter().map(|image| {
                Row::new([
                    image.firmware_name.clone(),
                    image.version.clone(),
                    image.module.clone(),
                    crate::cli::kind_text(image),
                    text::bytes(image.size),
                    text::short_hash(&image.sha256).to_string(),
                    text::timestamp(&image.uploaded_at)
                        .chars()
                        .take(16)
                        .collect(),
                    image.notes.clone().unwrap_or_default(),
                ])
            });
            render_table(
                rows,
                widths,
                &[
                    "firmware", "version", "module", "kind", "size", "sha256", "uploaded", "notes",
                ],
                app.firmware_selected,
                inner,
                buf,
            );
        }
    }
    if let Some(upload) = &app.upload {
        render_upload(upload, upload_area, buf);
    }
}

fn render_upload(upload: &Upload, area: Rect, buf: &mut Buffer) {
    let inner = framed(Block::bordered().title(text::UPLOAD_TITLE), area, buf);
    let [what, digest, bar, outcome] = Layout::vertical([Constraint::Length(1); 4]).areas(inner);
    Line::from(format!(
        "{} ← {}",
        text::uploading(&upload.firmware_name, &upload.version),
        upload.path
    ))
    .render(what, buf);
    match &upload.sha256 {
        Some(sha256) => field("sha256", sha256.as_str()).render(digest, buf),
        None => field("sha256", Span::from(text::UPLOAD_HASHING).fg(PENDING)).render(digest, buf),
    }
    let ratio = if upload.total == 0 {
        0.0
    } else {
        (upload.sent as f64 / upload.total as f64).min(1.0)
    };
    Gauge::default()
        .ratio(ratio)
        .label(format!(
            "{} / {}",
            text::bytes(upload.sent),
            text::bytes(upload.total)
        ))
        .gauge_style(Style::new().fg(ACCENT).bg(Color::DarkGray))
        .use_unicode(true)
        .render(bar, buf);
    match &upload.outcome {
        Some(Ok(receipt)) => field(
            "stored",
            format!("{} · md5 {}", text::bytes(receipt.size), receipt.md5),
        )
        .fg(ONLINE)
        .render(outcome, buf),
        Some(Err(error)) => Line::from(error.as_str()).fg(ERROR).render(outcome, buf),
        None => {}
    }
}

fn phase_style(phase: RolloutPhase) -> Style {
    match phase {
        RolloutPhase::Paused => Style::new().fg(PAUSED).bold(),
        RolloutPhase::Failed => Style::new().fg(FAILED).bold(),
        RolloutPhase::Running | RolloutPhase::Verifying => Style::new().fg(ACCENT),
        RolloutPhase::Completed => Style::new().fg(SUCCEEDED),
        RolloutPhase::Cancelled => Style::new().dim(),
    }
}

/// `paused 2/4` in the state's colour, or what stands in while the status is not known.
fn state_spans(view: Option<&RolloutView>) -> Vec<Span<'static>> {
    match view {
        Some(RolloutView {
            status: Remote {
                data: Some(status), ..
            },
            ..
        }) => vec![Span::styled(text::stage(status), phase_style(status.state))],
        Some(RolloutView {
            status: Remote { error: Some(_), .. },
            ..
        }) => vec![Span::from("status unavailable").fg(ERROR)],
        _ => vec![Span::from(text::NO_STATUS).dim()],
    }
}

/// A bar of `width` cells: succeeded, failed (with banned), pending, and the eligible devices
/// not offered yet. Each non-zero share gets at least one cell, so a single failure shows.
fn bar_spans(counts: &RolloutCounts, width: u16) -> Vec<Span<'static>> {
    let width = u64::from(width);
    let shares = [
        (counts.succeeded, SUCCEEDED),
        (counts.failed + counts.banned, FAILED),
        (counts.pending, IN_FLIGHT),
    ];
    let total = counts
        .eligible
        .max(shares.iter().map(|(n, _)| n).sum::<u64>());
    let mut spans = Vec::new();
    // Each share ends where its cumulative count rounds to, so the cells add up exactly: a
    // fully offered stage fills the bar.
    let (mut counted, mut used) = (0, 0);
    for (n, colour) in shares {
        if n == 0 || total == 0 {
            continue;
        }
        counted += n;
        let end = ((counted * width * 2 + total) / (total * 2))
            .max(used + 1)
            .min(width);
        spans.push(Span::from("█".repeat((end - used) as usize)).fg(colour));
        used = end;
    }
    spans.push(Span::from("░".repeat((width - used) as usize)).fg(NOT_OFFERED));
    spans
}

/// `20✓ 5✗ 5… /40` with each number in its bar colour.
fn count_spans(counts: &RolloutCounts) -> Vec<Span<'static>> {
    vec![
        Span::from(format!("{}✓", counts.succeeded)).fg(SUCCEEDED),
        Span::from(" "),
        Span::from(format!("{}✗", counts.failed + counts.banned)).fg(FAILED),
        Span::from(" "),
        Span::from(format!("{}…", counts.pending)).fg(IN_FLIGHT),
        Span::from(format!(" /{}", counts.eligible)),
    ]
}

/// A full-width line: the bar, then its counts.
fn rollout_gauge(view: Option<&RolloutView>, width: u16) -> Line<'static> {
    let Some(status) = view.and_then(|v| v.status.data.as_ref()) else {
        return Line::from(bar_spans(&RolloutCounts::default(), width));
    };
    let label = count_spans(&status.totals);
    let label_width: usize = label.iter().map(Span::width).sum();
    let bar = width.saturating_sub(label_width as u16 + 1);
    let mut spans = bar_spans(&status.totals, bar);
    spans.push(Span::from(" "));
    spans.extend(label);
    Line::from(spans)
}

fn render_rollouts(app: &App, area: Rect, buf: &mut Buffer) {
    let [list_area, detail_area] =
        Layout::vertical([Constraint::Min(0), Constraint::Length(14)]).areas(area);
    let block = Block::bordered()
        .title(text::PLANS_TITLE)
        .title_bottom(Line::from(text::PLANS_KEYS).dim());
    let inner = framed(block, list_area, buf);
    let detail_inner = framed(Block::bordered().title(text::PLAN_DETAIL), detail_area, buf);

    let Some(inner) = remote_area(app, &app.plans, text::WHAT_PLANS, inner, buf) else {
        return;
    };
    let plans = app.plans.data.as_deref().unwrap_or_default();
    if plans.is_empty() {
        Line::from(text::PLANS_NONE).dim().render(inner, buf);
        return;
    }
    let widths = [
        Constraint::Min(10),
        Constraint::Length(10),
        Constraint::Length(13),
        Constraint::Length(4),
        Constraint::Length(LIST_BAR),
        Constraint::Length(20),
    ];
    let rows = plans.iter().map(|plan| {
        let view = app.rollouts.get(&plan.firmware_name);
        let status = view.and_then(|v| v.status.data.as_ref());
        Row::new([
            Cell::from(plan.firmware_name.as_str()),
            Cell::from(plan.spec.target_version.as_str()),
            Cell::from(Line::from(state_spans(view))),
            Cell::from(status.map_or(String::new(), |s| format!("{:>3}%", s.percent))),
            Cell::from(Line::from(bar_spans(
                &status.map(|s| s.totals).unwrap_or_default(),
                LIST_BAR,
            ))),
            Cell::from(Line::from(
                status.map(|s| count_spans(&s.totals)).unwrap_or_default(),
            )),
        ])
    });
    render_table(
        rows,
        widths,
        &[
            "firmware",
            "target",
            "state",
            "  at",
            "progress",
            "✓ ✗ … /eligible",
        ],
        app.plan_selected,
        inner,
        buf,
    );

    if let Some(plan) = app.selected_plan() {
        plan_detail(
            plan,
            app.rollouts.get(&plan.firmware_name),
            detail_inner.width,
        )
        .render(detail_inner, buf);
    }
}

fn delivery(delivery: Delivery) -> &'static str {
    match delivery {
        Delivery::Stream => "stream",
        Delivery::Redirect => "redirect",
    }
}

fn from_versions(plan: &Plan) -> String {
    if plan.spec.from_versions.is_empty() {
        text::ANY_VERSION.to_string()
    } else {
        plan.spec.from_versions.join(", ")
    }
}

fn plan_detail<'a>(plan: &'a Plan, view: Option<&'a RolloutView>, width: u16) -> Paragraph<'a> {
    let status = view.and_then(|v| v.status.data.as_ref());
    let mut head = vec![Span::from(format!(
        "{} → {}  ",
        plan.firmware_name, plan.spec.target_version
    ))
    .bold()];
    head.extend(state_spans(view));
    if let Some(status) = status {
        head.push(Span::from(format!(" at {}%", status.percent)));
        if let Some(rollout) = &plan.spec.rollout {
            head.push(Span::from(format!(" · stages {}", text::stage_list(&rollout.stages))).dim());
        }
    }
    let mut lines = vec![Line::from(head)];
    if let Some(error) = view.and_then(|v| v.control_error.as_deref()) {
        lines.push(Line::from(error).fg(ERROR).bold());
    }
    if let Some(error) = view.and_then(|v| v.status.error.as_deref()) {
        lines.push(Line::from(error).fg(ERROR));
    }
    if let Some(status) = status {
        if let Some(reason) = &status.paused_reason {
            lines.push(field("paused", Span::from(reason.as_str()).fg(PAUSED)));
        }
        if let Some(reason) = &status.failed_reason {
            lines.push(field("failed", Span::from(reason.as_str()).fg(FAILED)));
        }
    }
    match &plan.spec.rollout {
        Some(rollout) => {
            lines.push(field("rules", text::rollout_rules(rollout)));
            if let Some(verify) = text::verify_summary(rollout) {
                lines.push(field("test", verify));
            }
        }
        None => lines.push(field("rules", text::rollout_summary(None))),
    }
    let mut offers = vec![
        text::device_set(plan.spec.devices.len(), plan.spec.imei_ranges.len()),
        format!("from {}", from_versions(plan)),
        delivery(plan.spec.delivery).to_string(),
    ];
    if plan.spec.allow_downgrade {
        offers.push("downgrade allowed".to_string());
    }
    if plan.image.module != fota_shared::api::DEFAULT_MODULE {
        offers.push(format!("module {}", plan.image.module));
    }
    if plan.spec.needs_confirm {
        offers.push(text::NEEDS_CONFIRM_OFFER.to_string());
    }
    if let Some(timeout) = plan.spec.job_timeout_s {
        offers.push(format!(
            "job timeout {}",
            crate::form::format_duration(timeout)
        ));
    }
    offers.push(format!(
        "image {} {}",
        text::short_hash(&plan.image.sha256),
        text::bytes(plan.image.size)
    ));
    lines.push(field("offers", offers.join(" · ")));
    let mut times = vec![format!(
        "plan updated {}",
        text::short_timestamp(&plan.updated_at)
    )];
    if let Some(status) = status {
        times.insert(
            0,
            format!(
                "started {} · this stage since {}",
                text::short_timestamp(&status.started_at),
                text::short_timestamp(&status.stage_started_at)
            ),
        );
    }
    lines.push(field("times", times.join(" · ")));
    if let Some(status) = status {
        // Label (11) + bar + counts; the bar takes what the counts leave.
        let bar = width.saturating_sub(11 + 26).max(10);
        let counts_line = |label: String, counts: &RolloutCounts, current: bool| {
            let mut spans = vec![if current {
                Span::from(format!("{label:<11}")).fg(ACCENT).bold()
            } else {
                Span::from(format!("{label:<11}")).dim()
            }];
            spans.extend(bar_spans(counts, bar));
            spans.push(Span::from(" "));
            spans.extend(count_spans(counts));
            Line::from(spans)
        };
        if plan
            .spec
            .rollout
            .as_ref()
            .is_some_and(|r| !r.verify_devices.is_empty())
        {
            lines.push(counts_line(
                "verify".into(),
                &status.verification,
                status.state == RolloutPhase::Verifying,
            ));
        }
        for (i, stage) in status.stages.iter().enumerate() {
            let current = status.stage == i as i32;
            let marker = if current { "▸" } else { " " };
            lines.push(counts_line(
                format!("{marker}{} {}%", i + 1, stage.percent),
                &stage.counts,
                current,
            ));
        }
    }
    Paragraph::new(lines)
}

fn render_audit(app: &App, area: Rect, buf: &mut Buffer) {
    let view = &app.audit;
    let [filter_area, list_area, detail_area] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(0),
        Constraint::Length(8),
    ])
    .areas(area);
    filter_line(
        view.filtering,
        &view.filter,
        Line::from(text::AUDIT_FILTER_HINT),
    )
    .render(filter_area, buf);

    let visible = view.visible();
    let block = Block::bordered().title(text::audit_title(
        view.rows.len(),
        visible.len(),
        view.next_cursor.is_some(),
        view.loading_more,
    ));
    let inner = framed(block, list_area, buf);
    if let Some(table_area) = paged_area(
        app,
        view.error.as_deref(),
        view.loaded.then_some(visible.len()),
        text::WHAT_AUDIT,
        text::AUDIT_NONE,
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
                text::timestamp(&entry.at)
                    .get(5..)
                    .unwrap_or_default()
                    .to_string(),
                entry.actor.clone(),
                text::short_action(&entry.action),
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
        Block::bordered().title(text::AUDIT_DETAIL),
        detail_area,
        buf,
    );
    if let Some(entry) = view.selected_entry() {
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
            text::timestamp(&entry.at)
        )),
    ])];
    let changes = text::changes(entry.before.as_ref(), entry.after.as_ref());
    if changes.is_empty() {
        lines.push(Line::from(text::AUDIT_NO_CHANGE).dim());
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

/// A rectangle of at most `width` x `height` in the middle of `area`.
fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let [row] = Layout::vertical([Constraint::Length(height.min(area.height))])
        .flex(Flex::Center)
        .areas(area);
    let [cell] = Layout::horizontal([Constraint::Length(width.min(area.width))])
        .flex(Flex::Center)
        .areas(row);
    cell
}

fn render_help(area: Rect, buf: &mut Buffer) {
    type Groups = &'static [(&'static str, &'static [(&'static str, &'static str)])];
    // The first two groups (everywhere, devices) on the left, the rest on the right.
    let (left, right) = text::KEYS.split_at(2.min(text::KEYS.len()));
    let column = |groups: Groups| {
        let key_width = groups
            .iter()
            .flat_map(|(_, keys)| keys.iter())
            .map(|(k, _)| k.chars().count())
            .max()
            .unwrap_or(0);
        let mut lines = Vec::new();
        for (scope, keys) in groups {
            lines.push(Line::from(*scope).fg(ACCENT).bold());
            for (key, what) in keys.iter() {
                lines.push(Line::from(vec![
                    Span::from(format!("  {key:<key_width$} ")).bold(),
                    Span::from(*what),
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
    let inner = popup(area, 98, height, text::HELP_TITLE, ACCENT, buf);
    let [l, r] =
        Layout::horizontal([Constraint::Length(left_width), Constraint::Min(0)]).areas(inner);
    Paragraph::new(left).render(l, buf);
    Paragraph::new(right).render(r, buf);
}

fn render_confirm(prompt: &str, area: Rect, buf: &mut Buffer) {
    let inner = popup(area, 64, 6, text::CONFIRM_TITLE, PENDING, buf);
    let [question, hint] =
        Layout::vertical([Constraint::Min(0), Constraint::Length(1)]).areas(inner);
    Paragraph::new(prompt)
        .wrap(Wrap { trim: true })
        .render(question, buf);
    Line::from(text::CONFIRM_HINT)
        .dim()
        .centered()
        .render(hint, buf);
}

fn render_form(form: &Form, area: Rect, buf: &mut Buffer) {
    let height = form.fields.len() as u16 + 6;
    let inner = popup(area, 90, height, form.title(), ACCENT, buf);
    let mut lines: Vec<Line> = form
        .fields
        .iter()
        .enumerate()
        .map(|(i, field)| {
            let focused = i == form.focus;
            let label_style = if focused {
                Style::new().fg(ACCENT).bold()
            } else {
                Style::new().dim()
            };
            let value = match &field.value {
                FieldValue::Text(value) if focused => format!("{value}▏"),
                FieldValue::Text(value) => value.clone(),
                FieldValue::Toggle(on) => format!("[{}]", if *on { "x" } else { " " }),
                FieldValue::Choice { options, selected } => format!("◀ {} ▶", options[*selected]),
            };
            let marker = if focused { "›" } else { " " };
            Line::from(vec![
                Span::styled(format!("{marker} {:<18}", field.label), label_style),
                Span::from(value),
                Span::from(if field.hint.is_empty() {
                    String::new()
                } else {
                    format!("  ({})", field.hint)
                })
                .dim(),
            ])
        })
        .collect();
    lines.push(Line::from(""));
    lines.push(match (&form.error, form.saving) {
        (Some(error), _) => Line::from(error.as_str()).fg(ERROR),
        (None, true) => Line::from(text::SAVING).fg(PENDING),
        (None, false) => Line::from(""),
    });
    lines.push(Line::from(text::FORM_HINT).dim());
    Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .render(inner, buf);
}

#[cfg(test)]
mod tests {
    use ratatui::backend::TestBackend;
    use ratatui::crossterm::event::KeyCode;
    use ratatui::Terminal;

    use fota_shared::api::{AuditPage, DeviceHistory};

    use super::*;
    use crate::app::{update, Action, App, Status, StatusKind, Upload};
    use crate::fixtures::*;

    /// Every screen is checked at the size the issue names.
    fn draw(app: &App) -> Terminal<TestBackend> {
        let mut terminal = Terminal::new(TestBackend::new(100, 30)).unwrap();
        terminal
            .draw(|frame| frame.render_widget(app, frame.area()))
            .unwrap();
        terminal
    }

    fn on_tab(tab: char) -> App {
        let mut app = loaded_app();
        update(&mut app, ch(tab));
        // The tab switch started a refresh; the fixture data is what it would bring.
        app.firmware.loading = false;
        app.plans.loading = false;
        app.devices.loading = false;
        app.devices.jobs.loading = false;
        for view in app.rollouts.values_mut() {
            view.status.loading = false;
        }
        app
    }

    /// The Devices tab with the second (banned) device selected and its history loaded.
    fn devices_with_history() -> App {
        let mut app = on_tab('2');
        update(&mut app, ch('j'));
        update(&mut app, Action::Tick);
        update(
            &mut app,
            Action::HistoryLoaded {
                id: "862012345678902".into(),
                result: Ok(DeviceHistory { events: history() }),
            },
        );
        app
    }

    fn cell(terminal: &Terminal<TestBackend>, needle: &str) -> ratatui::buffer::Cell {
        let pos = find(terminal, needle);
        terminal.backend().buffer()[pos].clone()
    }

    /// Where `needle` starts on screen, as (x, y).
    fn find(terminal: &Terminal<TestBackend>, needle: &str) -> (u16, u16) {
        let buffer = terminal.backend().buffer();
        for y in 0..buffer.area.height {
            let line: String = (0..buffer.area.width)
                .map(|x| buffer[(x, y)].symbol().to_string())
                .collect();
            if let Some(byte) = line.find(needle) {
                return (line[..byte].chars().count() as u16, y);
            }
        }
        panic!("{needle:?} is not on screen:\n{}", terminal.backend());
    }

    fn fg_at(terminal: &Terminal<TestBackend>, needle: &str) -> Color {
        let pos = find(terminal, needle);
        terminal.backend().buffer()[pos].fg
    }

    #[test]
    fn fleet_tab() {
        let terminal = draw(&loaded_app());
        insta::assert_snapshot!(terminal.backend());
        assert_eq!(
            fg_at(&terminal, "862012345678902"),
            BANNED,
            "a banned device is red in the latest list"
        );
        assert_eq!(fg_at(&terminal, "862012345678901"), Color::Reset);
        assert_eq!(fg_at(&terminal, text::ONLINE), ONLINE);
        // The sparklines: titled with the 24 hours' total and the last hour, in their colours,
        // between the rollouts and the latest devices.
        assert_eq!(fg_at(&terminal, "Checks 596 in 24h · last hour 13"), CHECKS);
        assert_eq!(
            fg_at(&terminal, "Deliveries 26 in 24h · last hour 1"),
            DELIVERIES
        );
        let (_, rollouts_y) = find(&terminal, "running 1/1");
        let (checks_x, checks_y) = find(&terminal, "Checks 596");
        let (deliveries_x, _) = find(&terminal, "Deliveries 26");
        let (_, latest_y) = find(&terminal, "Latest seen");
        assert!(rollouts_y < checks_y && checks_y < latest_y);
        // Each hour takes two columns: the busiest (44 checks, the 12th hour) fills the top row.
        let buffer = terminal.backend().buffer();
        let top = checks_y + 1;
        let full: Vec<u16> = (checks_x..deliveries_x)
            .filter(|&x| buffer[(x, top + 2)].symbol() == "█" && buffer[(x, top)].symbol() == "█")
            .collect();
        assert_eq!(
            full,
            [checks_x + 22, checks_x + 23],
            "{}",
            terminal.backend()
        );
        assert_eq!(buffer[(checks_x + 22, top)].fg, CHECKS);
        assert_eq!(buffer[(deliveries_x + 34, top)].fg, DELIVERIES);
    }

    /// The Fleet tab draws what the server counted, not what a client could page through: a
    /// million devices show as a million, with every plan's progress over all of them.
    #[test]
    fn fleet_tab_from_a_summary_of_a_million_devices() {
        let mut app = loaded_app();
        let mut summary = fleet_summary();
        let version = |fw: &str, version: &str, devices: u64| fota_shared::api::VersionCount {
            firmware_name: Some(fw.into()),
            version: Some(version.into()),
            devices,
        };
        summary.total = 1_000_000;
        summary.banned = 997;
        summary.seen = fota_shared::api::SeenCounts {
            hour: 41_667,
            day: 1_000_000,
            week: 1_000_000,
        };
        summary.versions = vec![
            version("air780", "1.2.0", 600_000),
            version("air780", "1.1.0", 250_000),
            version("esp32", "0.9.1", 100_000),
            version("esp32", "0.9.0", 50_000),
        ];
        update(
            &mut app,
            Action::FleetLoaded(Ok(crate::fleet::FleetSnapshot {
                summary,
                plans: plans(),
            })),
        );
        let terminal = draw(&app);
        insta::assert_snapshot!(terminal.backend());
        find(&terminal, "Versions of 1.0M devices · 997 banned");
        find(&terminal, "600k/850k on target");
        find(&terminal, "100k/150k on target");
        find(&terminal, "41.6k in the last hour · 1.0M in 24h");
    }

    #[test]
    fn fleet_activity_loads_and_fails_in_place() {
        let mut app = loaded_app();
        app.activity = Remote::default();
        app.activity.loading = true;
        let terminal = draw(&app);
        assert_eq!(fg_at(&terminal, "Loading activity…"), PENDING);
        find(&terminal, "Activity per hour · last 24h ");
        find(&terminal, "paused 2/4");
        find(&terminal, "862012345678901");

        // An edge without the route: the error in the panel, the rest of the tab as it was.
        update(
            &mut app,
            Action::ActivityLoaded(Err(refused(404, "not_found", "no route"))),
        );
        let terminal = draw(&app);
        assert_eq!(
            fg_at(
                &terminal,
                "Loading activity failed: 404 not_found: no route"
            ),
            ERROR
        );
        find(&terminal, "paused 2/4");
        find(&terminal, "862012345678901");

        // A failed refresh keeps the old hours under the error.
        update(&mut app, Action::ActivityLoaded(Ok(activity())));
        update(
            &mut app,
            Action::ActivityLoaded(Err(refused(500, "internal", "boom"))),
        );
        let terminal = draw(&app);
        let (_, error_y) = find(&terminal, "Loading activity failed: 500 internal");
        let (_, title_y) = find(&terminal, "Checks 596 in 24h");
        assert_eq!(title_y, error_y + 1);
    }

    #[test]
    fn hours_spread_over_the_columns() {
        assert_eq!(stretch(&[1, 2, 3], 7), [1, 1, 2, 2, 3, 3]);
        assert_eq!(stretch(&[1, 2, 3], 3), [1, 2, 3]);
        assert_eq!(stretch(&[1, 2, 3], 2), [2, 3], "the newest hours stay");
        assert_eq!(stretch(&[1, 2, 3], 0), Vec::<u64>::new());
        assert_eq!(stretch(&[], 10), Vec::<u64>::new());
    }

    #[test]
    fn devices_tab() {
        let app = devices_with_history();
        let terminal = draw(&app);
        insta::assert_snapshot!(terminal.backend());
        let banned_row = find(&terminal, "862012345678902 1.1.0");
        let cell = &terminal.backend().buffer()[banned_row];
        assert_eq!(cell.fg, BANNED, "the banned device's row is red");
        assert!(cell.modifier.contains(Modifier::REVERSED), "and selected");
        assert_eq!(fg_at(&terminal, "862012345678903"), Color::Reset);
        assert_eq!(fg_at(&terminal, "yes · u unbans"), BANNED);
        assert_eq!(
            fg_at(&terminal, "862012345678904"),
            FAILED,
            "a failed job's row is red too"
        );
        assert_eq!(fg_at(&terminal, "sensor-a7"), Color::Reset);
        // The history pane, newest first, the ban in red.
        let (_, ban_y) = find(&terminal, "00:15 banned");
        let (_, bound_y) = find(&terminal, "09:00 bound");
        assert!(ban_y < bound_y, "newest first");
        assert_eq!(fg_at(&terminal, "banned  "), FAILED);
        assert_eq!(fg_at(&terminal, "bound"), Color::Reset);
    }

    #[test]
    fn devices_tab_with_a_state_filter_while_history_loads() {
        let mut app = on_tab('2');
        for _ in 0..4 {
            update(&mut app, ch('s'));
        }
        let generation = app.devices.generation;
        let failed: Vec<_> = devices()
            .into_iter()
            .filter(|d| d.state.as_deref() == Some("failed"))
            .collect();
        update(
            &mut app,
            Action::DevicesLoaded {
                generation,
                cursor: None,
                result: Ok(fota_shared::api::DeviceList {
                    devices: failed,
                    next_cursor: None,
                }),
            },
        );
        update(&mut app, Action::Tick);
        let terminal = draw(&app);
        insta::assert_snapshot!(terminal.backend());
        let state = cell(&terminal, "state: failed");
        assert_eq!(state.fg, ACCENT);
        assert_eq!(fg_at(&terminal, "Loading history"), PENDING);
    }

    #[test]
    fn devices_tab_filtering_with_more_pages() {
        let mut app = on_tab('2');
        update(&mut app, ch('/'));
        type_text(&mut app, "8620");
        app.devices.stale = false;
        app.devices.next_cursor = Some("c1".into());
        app.devices.loading = false;
        insta::assert_snapshot!(draw(&app).backend());
    }

    #[test]
    fn firmware_tab() {
        insta::assert_snapshot!(draw(&on_tab('3')).backend());
    }

    #[test]
    fn firmware_tab_while_uploading() {
        let mut app = on_tab('3');
        app.upload = Some(Upload {
            path: "build/air780-1.3.0.bin".into(),
            firmware_name: "air780".into(),
            version: "1.3.0".into(),
            details: Default::default(),
            sha256: Some("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855".into()),
            total: 2_000_000,
            sent: 500_000,
            outcome: None,
        });
        insta::assert_snapshot!(draw(&app).backend());
    }

    #[test]
    fn rollouts_tab() {
        let terminal = draw(&on_tab('4'));
        insta::assert_snapshot!(terminal.backend());
        // A paused rollout stands out: its state in the paused colour, bold.
        let paused = cell(&terminal, "paused 2/4");
        assert_eq!(paused.fg, PAUSED);
        assert!(paused.modifier.contains(Modifier::BOLD));
        assert_eq!(fg_at(&terminal, "running 1/1"), ACCENT);
        // Counts and bars in their colours: failed red, succeeded green, pending yellow.
        assert_eq!(fg_at(&terminal, "5✗ 5… /40"), FAILED);
        assert_eq!(fg_at(&terminal, "20✓"), SUCCEEDED);
        assert_eq!(fg_at(&terminal, "5… /40"), IN_FLIGHT);
        let (x, y) = find(&terminal, "paused 2/4");
        let bar_x = x + 14 + 5;
        let buffer = terminal.backend().buffer();
        let colours: Vec<Color> = (bar_x..bar_x + LIST_BAR)
            .map(|x| buffer[(x, y)].fg)
            .collect();
        // 40 eligible in 20 cells: 20 succeeded → 10, 5 failed (4 + 1 banned) → 3 (ending at
        // 25/40 → 12.5 → 13), 5 pending → 2 (15), 10 not offered → 5.
        let count = |c: Color| colours.iter().filter(|&&x| x == c).count();
        assert_eq!(
            (
                count(SUCCEEDED),
                count(FAILED),
                count(IN_FLIGHT),
                count(NOT_OFFERED)
            ),
            (10, 3, 2, 5),
            "{colours:?}"
        );
        assert_eq!(colours[10], FAILED, "failed follows succeeded");
        assert_eq!(fg_at(&terminal, "failure ratio 0.25"), PAUSED);
    }

    #[test]
    fn rollout_control_refused_in_place() {
        let mut app = on_tab('4');
        update(&mut app, ch('p'));
        update(&mut app, ch('y'));
        update(&mut app, pause_refused());
        let terminal = draw(&app);
        insta::assert_snapshot!(terminal.backend());
        let (_, detail_y) = find(&terminal, "┌ Rollout ");
        let (_, error_y) = find(&terminal, "│Pausing failed: 409 invalid_transition");
        assert_eq!(error_y, detail_y + 2, "right under the rollout it concerns");
        assert_eq!(
            fg_at(&terminal, "Pausing failed: 409 invalid_transition"),
            ERROR
        );
    }

    #[test]
    fn confirm_cancel_rollout() {
        let mut app = on_tab('4');
        update(&mut app, ch('c'));
        insta::assert_snapshot!(draw(&app).backend());
    }

    #[test]
    fn audit_tab() {
        let mut app = on_tab('5');
        let generation = app.audit.generation;
        update(
            &mut app,
            Action::AuditLoaded {
                generation,
                cursor: None,
                result: Ok(AuditPage {
                    entries: audit(),
                    next_cursor: Some("39".into()),
                }),
            },
        );
        update(&mut app, ch('j'));
        let terminal = draw(&app);
        insta::assert_snapshot!(terminal.backend());
        assert_eq!(fg_at(&terminal, "1.1.0 → "), FAILED);
        let (x, y) = find(&terminal, "1.1.0 → 1.2.0");
        assert_eq!(terminal.backend().buffer()[(x + 8, y)].fg, SUCCEEDED);
    }

    #[test]
    fn audit_tab_filtered() {
        let mut app = on_tab('5');
        let generation = app.audit.generation;
        update(
            &mut app,
            Action::AuditLoaded {
                generation,
                cursor: None,
                result: Ok(AuditPage {
                    entries: audit(),
                    next_cursor: None,
                }),
            },
        );
        update(&mut app, ch('/'));
        type_text(&mut app, "plan");
        insta::assert_snapshot!(draw(&app).backend());
    }

    #[test]
    fn plan_form_with_an_error() {
        let mut app = on_tab('4');
        update(&mut app, ch('e'));
        update(&mut app, key(KeyCode::Tab));
        if let Some(Modal::Form(form)) = &mut app.modal {
            form.error =
                Some("Saving plan air780 failed: 400 unknown_image: no firmware air780 9".into());
        }
        let terminal = draw(&app);
        insta::assert_snapshot!(terminal.backend());
        assert_eq!(fg_at(&terminal, "Saving plan air780 failed"), ERROR);
    }

    #[test]
    fn confirm_unban() {
        let mut app = on_tab('2');
        update(&mut app, ch('j'));
        update(&mut app, ch('u'));
        insta::assert_snapshot!(draw(&app).backend());
    }

    /// The Devices tab on sensor-a7, whose module job waits for confirmation, after a check-now.
    #[test]
    fn devices_tab_with_a_held_job() {
        let mut app = on_tab('2');
        for _ in 0..4 {
            update(&mut app, ch('j'));
        }
        update(&mut app, ch('n'));
        update(
            &mut app,
            Action::CheckedNow {
                target: crate::app::CheckNowTarget::Device("sensor-a7".into()),
                result: Ok(fota_shared::api::CheckNowResult {
                    devices: 1,
                    reached: 1,
                }),
            },
        );
        let terminal = draw(&app);
        insta::assert_snapshot!(terminal.backend());
        let held = cell(&terminal, "held ");
        assert_eq!(held.fg, PENDING, "a held job stands out in the list");
        assert!(held.modifier.contains(Modifier::BOLD));
        assert_eq!(fg_at(&terminal, "app: esp32 → 0.9.2"), Color::Reset);
        assert_eq!(fg_at(&terminal, "held · c confirms"), PENDING);
        find(&terminal, "reached 1 of 1 device.");
    }

    #[test]
    fn device_detail_shows_a_job_in_progress() {
        let mut app = on_tab('2');
        update(&mut app, ch('G'));
        let terminal = draw(&app);
        assert_eq!(fg_at(&terminal, "in progress · step 40"), IN_FLIGHT);
        find(&terminal, "job        esp32 → 0.9.1");
    }

    #[test]
    fn confirm_every_listed_held_job() {
        let mut app = on_tab('2');
        let mut jobs = jobs();
        jobs[1].job.phase = fota_shared::api::JobPhase::AwaitingConfirmation;
        update(&mut app, Action::JobsLoaded(Ok(jobs)));
        update(&mut app, ch('C'));
        insta::assert_snapshot!(draw(&app).backend());
    }

    #[test]
    fn help_lists_every_key() {
        let mut app = loaded_app();
        update(&mut app, ch('?'));
        let terminal = draw(&app);
        insta::assert_snapshot!(terminal.backend());
        for (_, keys) in text::KEYS {
            for (key, _) in keys.iter() {
                find(&terminal, key);
            }
        }
    }

    #[test]
    fn offline_while_nothing_is_loaded() {
        let mut app = App::new("http://127.0.0.1:9", None);
        update(&mut app, Action::Started);
        update(&mut app, Action::ProjectsLoaded(Err(offline())));
        update(&mut app, Action::Tick);
        let terminal = draw(&app);
        insta::assert_snapshot!(terminal.backend());
        assert_eq!(fg_at(&terminal, "○ offline"), OFFLINE);
    }

    #[test]
    fn an_error_keeps_old_data_and_names_what_failed() {
        let mut app = on_tab('3');
        update(
            &mut app,
            Action::FirmwareLoaded(Err(refused(401, "unauthorized", "missing or wrong token"))),
        );
        app.status = Some(Status {
            text: "Deleting air780 1.2.0 failed: 409 in_use: a plan targets it".into(),
            kind: StatusKind::Error,
        });
        let terminal = draw(&app);
        insta::assert_snapshot!(terminal.backend());
        assert_eq!(fg_at(&terminal, "Loading firmware failed"), ERROR);
        assert_eq!(fg_at(&terminal, "Deleting air780"), ERROR);
    }
}
