//! The Fleet tab: the project in numbers from the server's fleet summary (devices per version,
//! each plan's progress and rollout, the latest devices) and the checks and deliveries per hour.
//! The server counts the whole project (`GET .../summary`), so the tab costs two requests however
//! large the fleet.

use std::collections::BTreeMap;

use fota_shared::api::fleet::{ActivityHour, Device, SeenCounts};
use fota_shared::model::rollout::RolloutPhase;
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Direction, Layout, Rect};
use ratatui::style::{Color, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Bar, BarChart, BarGroup, Block, Cell, Row, Sparkline, Table, Widget};

mod calls;

pub use calls::{ActivityLoaded, FleetAnswer, FleetCommand, LoadActivity};

use super::{Around, Screen};
use crate::api::FleetSnapshot;
use crate::dashboard::app::App;
use crate::dashboard::keymap::Group;
use crate::dashboard::message::{Command, Reaction};
use crate::dashboard::remote::{Outcome, Remote};
use crate::dashboard::widgets::rollout_bar::{rollout_gauge, state_spans, RolloutView};
use crate::dashboard::widgets::{framed, remote_area, ACCENT, BANNED, CHECKS, DELIVERIES};
use crate::format;
use crate::strings;

/// The tab's title.
pub const TITLE: &str = strings::TAB_FLEET;
/// The tab has no keys of its own.
pub const KEYS: Group = Group {
    title: TITLE,
    bindings: &[],
};

/// Hours of checks and deliveries the sparklines cover.
pub const ACTIVITY_HOURS: u32 = 24;
/// Rows of the activity panel: borders, a title and three rows of bars.
const ACTIVITY_ROWS: u16 = 6;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FleetScreen {
    pub summary: Remote<FleetSummary>,
    /// Checks and deliveries per hour, oldest first.
    pub activity: Remote<Vec<ActivityHour>>,
}

impl FleetScreen {
    /// The names of the plans the summary measures, whose rollout status the tab shows.
    pub fn plan_names(&self) -> Vec<String> {
        self.summary
            .data
            .iter()
            .flat_map(|summary| summary.plans.iter().map(|p| p.firmware_name.clone()))
            .collect()
    }

    pub fn on_summary(&mut self, result: Outcome<FleetSnapshot>) {
        self.summary.settle(
            strings::WHAT_FLEET,
            result.map(|snapshot| summarize(&snapshot)),
        );
    }

    fn on_activity(&mut self, result: Outcome<Vec<ActivityHour>>) {
        self.activity.settle(strings::WHAT_ACTIVITY, result);
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FleetSummary {
    /// `(version, devices)`, most devices first; `None` version is a device that never reported one.
    pub versions: Vec<(Option<String>, u64)>,
    pub plans: Vec<PlanProgress>,
    pub latest: Vec<Device>,
    pub total: u64,
    pub banned: u64,
    pub seen: SeenCounts,
}

/// One plan's rollout: devices of its firmware that report the target version, out of all devices
/// of that firmware seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanProgress {
    pub firmware_name: String,
    pub target_version: String,
    pub on_target: u64,
    pub seen: u64,
}

impl PlanProgress {
    pub fn ratio(&self) -> f64 {
        if self.seen == 0 {
            0.0
        } else {
            self.on_target as f64 / self.seen as f64
        }
    }
}

pub fn summarize(snapshot: &FleetSnapshot) -> FleetSummary {
    let server = &snapshot.summary;
    // The chart is per version across firmware, as an operator reads a release number.
    let mut counts: BTreeMap<Option<&str>, u64> = BTreeMap::new();
    for row in &server.versions {
        *counts.entry(row.version.as_deref()).or_default() += row.devices;
    }
    let mut versions: Vec<(Option<String>, u64)> = counts
        .into_iter()
        .map(|(version, count)| (version.map(str::to_string), count))
        .collect();
    // Most devices first; equal counts keep the version order from the map, so the chart is stable.
    versions.sort_by_key(|(_, count)| std::cmp::Reverse(*count));

    let plans = snapshot
        .plans
        .iter()
        .map(|plan| {
            let of_firmware = server
                .versions
                .iter()
                .filter(|v| v.firmware_name.as_deref() == Some(plan.firmware_name.as_str()));
            let (mut seen, mut on_target) = (0, 0);
            for row in of_firmware {
                seen += row.devices;
                if row.version.as_deref() == Some(plan.spec.target_version.as_str()) {
                    on_target += row.devices;
                }
            }
            PlanProgress {
                firmware_name: plan.firmware_name.clone(),
                target_version: plan.spec.target_version.clone(),
                on_target,
                seen,
            }
        })
        .collect();

    FleetSummary {
        versions,
        plans,
        latest: server.latest.clone(),
        total: server.total,
        banned: server.banned,
        seen: server.seen,
    }
}

impl FleetScreen {
    /// The activity per hour arrived: the tab's one answer of its own.
    pub fn on_answer(&mut self, answer: ActivityLoaded, _around: Around<'_>) -> Reaction {
        self.on_activity(answer.0);
        Reaction::none()
    }
}

impl Screen for FleetScreen {
    /// The summary and the activity, unless they load already.
    fn refresh(&mut self, project: &str) -> Vec<Command> {
        let mut commands: Vec<Command> = self
            .summary
            .begin()
            .then(|| Command::LoadFleet {
                project: project.to_string(),
            })
            .into_iter()
            .collect();
        commands.extend(self.activity.begin().then(|| {
            Command::from(LoadActivity {
                project: project.to_string(),
                hours: ACTIVITY_HOURS,
            })
        }));
        commands
    }

    /// Nothing to select: the tab is read at a glance.
    fn move_selection(
        &mut self,
        _to: &dyn Fn(usize, usize) -> usize,
        _project: &str,
    ) -> Vec<Command> {
        vec![]
    }

    fn start_over(&mut self) {
        *self = FleetScreen::default();
    }

    fn draw(&self, app: &App, area: Rect, buf: &mut Buffer) {
        render(self, &app.rollouts.status, app.ticks, area, buf);
    }
}

fn render(
    screen: &FleetScreen,
    rollouts: &BTreeMap<String, RolloutView>,
    ticks: u64,
    area: Rect,
    buf: &mut Buffer,
) {
    // Versions and rollouts on top, the traffic of the last hours across the middle, the latest
    // devices below; the two outer bands share what the activity panel leaves.
    let [top, activity_area, bottom] = Layout::vertical([
        Constraint::Fill(1),
        Constraint::Length(ACTIVITY_ROWS),
        Constraint::Fill(1),
    ])
    .areas(area);
    render_activity(screen, ticks, activity_area, buf);
    let [chart_area, plans_area] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(top);
    let summary = screen.summary.data.as_ref();
    // Until the first summary arrives the titles name the panels without numbers.
    let (chart_title, latest_title) = match summary {
        Some(s) => (
            strings::fleet_versions_title(s.total, s.banned),
            strings::fleet_latest_title(&s.seen),
        ),
        None => (
            strings::FLEET_VERSIONS.to_string(),
            strings::FLEET_LATEST.to_string(),
        ),
    };
    let chart_inner = framed(Block::bordered().title(chart_title), chart_area, buf);
    let plans_inner = framed(
        Block::bordered().title(strings::FLEET_PLANS),
        plans_area,
        buf,
    );
    let latest_inner = framed(Block::bordered().title(latest_title), bottom, buf);

    let Some(chart_inner) = remote_area(
        ticks,
        &screen.summary,
        strings::WHAT_FLEET,
        chart_inner,
        buf,
    ) else {
        return;
    };
    let Some(summary) = summary else { return };

    render_versions(summary, chart_inner, buf);
    render_plans(summary, rollouts, plans_inner, buf);

    let rows = summary.latest.iter().map(|device| device_row(device));
    let table = Table::new(rows, device_widths(&summary.latest)).header(device_header());
    Widget::render(table, latest_inner, buf);
}

/// Devices per version as horizontal bars, most devices first.
fn render_versions(summary: &FleetSummary, area: Rect, buf: &mut Buffer) {
    if summary.versions.is_empty() {
        Line::from(strings::FLEET_NO_DEVICES)
            .dim()
            .render(area, buf);
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
                            .unwrap_or_else(|| strings::NO_VERSION.to_string()),
                    ))
                    .text_value(format::count(*count))
                    .style(Style::new().fg(ACCENT))
                    .value_style(Style::new().fg(Color::Black).bg(ACCENT))
            })
            .collect();
        BarChart::default()
            .direction(Direction::Horizontal)
            .bar_width(1)
            .bar_gap(0)
            .data(BarGroup::default().bars(&bars))
            .render(area, buf);
    }
}

/// Each plan's state, target and progress gauge; rollouts still offering first.
fn render_plans(
    summary: &FleetSummary,
    rollouts: &BTreeMap<String, RolloutView>,
    area: Rect,
    buf: &mut Buffer,
) {
    if summary.plans.is_empty() {
        Line::from(strings::FLEET_NO_PLANS).dim().render(area, buf);
    } else {
        // Rollouts still offering first: they are what an operator watches.
        let mut plans: Vec<_> = summary.plans.iter().collect();
        plans.sort_by_key(|plan| {
            let phase = rollouts
                .get(&plan.firmware_name)
                .and_then(|v| v.status.data.as_ref())
                .map(|s| s.state);
            !matches!(
                phase,
                Some(RolloutPhase::Verifying | RolloutPhase::Running | RolloutPhase::Paused)
            )
        });
        let rows = Layout::vertical(plans.iter().map(|_| Constraint::Length(2))).split(area);
        for (plan, row) in plans.iter().zip(rows.iter()) {
            let [name, gauge] =
                Layout::vertical([Constraint::Length(1), Constraint::Length(1)]).areas(*row);
            let view = rollouts.get(&plan.firmware_name);
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
                    strings::plan_gauge_label(plan.on_target, plan.seen)
                ))
                .dim(),
            );
            Line::from(spans).render(name, buf);
            rollout_gauge(view, gauge.width).render(gauge, buf);
        }
    }
}

/// Checks and deliveries per hour as two sparklines side by side, each titled with its total and
/// the last (current) hour's count.
fn render_activity(screen: &FleetScreen, ticks: u64, area: Rect, buf: &mut Buffer) {
    let hours = screen.activity.data.as_deref().unwrap_or_default();
    let block = Block::bordered().title(strings::activity_title(
        hours.len().max(ACTIVITY_HOURS as usize),
        hours.first().map(|h| h.at.as_str()),
    ));
    let inner = framed(block, area, buf);
    let Some(inner) = remote_area(ticks, &screen.activity, strings::WHAT_ACTIVITY, inner, buf)
    else {
        return;
    };
    let [checks_area, deliveries_area] = Layout::horizontal([Constraint::Fill(1); 2])
        .spacing(2)
        .areas(inner);
    let series = [
        (
            strings::ACTIVITY_CHECKS,
            hours.iter().map(|h| h.checks).collect::<Vec<u64>>(),
            CHECKS,
            checks_area,
        ),
        (
            strings::ACTIVITY_DELIVERIES,
            hours.iter().map(|h| h.deliveries).collect(),
            DELIVERIES,
            deliveries_area,
        ),
    ];
    for (what, values, colour, area) in series {
        let total = values.iter().sum();
        let last = values.last().copied().unwrap_or(0);
        let title =
            Line::from(strings::activity_series(what, total, values.len(), last)).fg(colour);
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

/// The latest devices' columns sized to what they hold: ids and versions at their longest (never
/// cut), the time and the ban flag at theirs, and the firmware name in the rest of the width, in
/// full where the terminal allows.
fn device_widths(devices: &[Device]) -> [Constraint; 5] {
    let longest = |header: &str, texts: &mut dyn Iterator<Item = usize>| {
        texts.fold(header.chars().count(), usize::max) as u16
    };
    let id = longest("id", &mut devices.iter().map(|d| d.id.chars().count()));
    let version = longest(
        "version",
        &mut devices.iter().map(|d| {
            d.version
                .as_deref()
                .unwrap_or(strings::NO_VERSION)
                .chars()
                .count()
        }),
    );
    [
        Constraint::Length(id),
        Constraint::Fill(1),
        Constraint::Length(version),
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
        Cell::from(device.version.as_deref().unwrap_or(strings::NO_VERSION)),
        Cell::from(format::timestamp(&device.last_seen)),
        Cell::from(if device.banned { "yes" } else { "" }),
    ]);
    if device.banned {
        row.fg(BANNED)
    } else {
        row
    }
}
#[cfg(test)]
mod tests;
