//! Drawing the Rollouts tab: the plans with their rollout bars, and the selected plan's rules,
//! offers, times, trust basis and per-stage counts.

use fota_shared::api::plans::{RolloutStatus, TrustBasis};
use fota_shared::model::plan::Plan;
use fota_shared::model::rollout::{RolloutCounts, RolloutPhase};
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Stylize;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Paragraph, Row, Widget};

use super::RolloutsScreen;
use crate::dashboard::widgets::rollout_bar::{bar_spans, count_spans, state_spans, RolloutView};
use crate::dashboard::widgets::{
    field, framed, remote_area, render_table, ACCENT, ERROR, FAILED, PAUSED,
};
use crate::format;
use crate::strings;

/// Cells of the progress bar in the plans list.
pub const LIST_BAR: u16 = 20;
/// Rows of the detail panel, frame included, when the plan's lines need no more.
const DETAIL_ROWS: u16 = 14;

pub(super) fn render(screen: &RolloutsScreen, ticks: u64, area: Rect, buf: &mut Buffer) {
    // The detail panel is as tall as the selected plan's lines (14 rows at least), leaving the
    // plans list five rows and its frame.
    let detail = screen.selected_plan().map_or_else(Vec::new, |plan| {
        plan_detail(
            plan,
            screen.status.get(&plan.firmware_name),
            area.width.saturating_sub(2),
        )
    });
    let height = (detail.len() as u16 + 2)
        .max(DETAIL_ROWS)
        .min(area.height.saturating_sub(7));
    let [list_area, detail_area] =
        Layout::vertical([Constraint::Min(0), Constraint::Length(height)]).areas(area);
    let block = Block::bordered()
        .title(strings::PLANS_TITLE)
        .title_bottom(Line::from(strings::PLANS_KEYS).dim());
    let inner = framed(block, list_area, buf);
    let detail_inner = framed(
        Block::bordered().title(strings::PLAN_DETAIL),
        detail_area,
        buf,
    );

    let Some(inner) = remote_area(ticks, &screen.plans, strings::WHAT_PLANS, inner, buf) else {
        return;
    };
    let plans = screen.plans.data.as_deref().unwrap_or_default();
    if plans.is_empty() {
        Line::from(strings::PLANS_NONE).dim().render(inner, buf);
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
        let view = screen.status.get(&plan.firmware_name);
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
        screen.selected,
        inner,
        buf,
    );

    Paragraph::new(detail).render(detail_inner, buf);
}

/// The selected plan's lines: its state, rules, offers, times, trust basis and counts.
fn plan_detail<'a>(plan: &'a Plan, view: Option<&'a RolloutView>, width: u16) -> Vec<Line<'a>> {
    let status = view.and_then(|v| v.status.data.as_ref());
    let mut lines = vec![head_line(plan, view)];
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
        let unproven = format::reported_without_delivery(status);
        if unproven > 0 {
            let text = format!("{unproven} {}", strings::REPORTED_WITHOUT_DELIVERY);
            lines.push(field("unproven", Span::from(text).fg(PAUSED)));
        }
    }
    match &plan.spec.rollout {
        Some(rollout) => {
            lines.push(field("rules", format::rollout_rules(rollout)));
            if let Some(verify) = format::verify_summary(rollout) {
                lines.push(field("test", verify));
            }
        }
        None => lines.push(field("rules", format::rollout_summary(None))),
    }
    lines.push(field("offers", offers(plan)));
    lines.push(field("packages", packages(plan, status)));
    lines.push(field("times", times(plan, status)));
    if let Some(status) = status {
        if let Some(trust) = &status.trust {
            lines.extend(trust_lines(trust, width));
        }
        lines.extend(count_lines(plan, status, width));
    }
    lines
}

/// `air780 → 1.2.0  paused 2/4 at 10% · stages 1,10,50,100%`.
fn head_line<'a>(plan: &'a Plan, view: Option<&'a RolloutView>) -> Line<'a> {
    let mut head = vec![Span::from(format!(
        "{} → {}  ",
        plan.firmware_name, plan.spec.target_version
    ))
    .bold()];
    head.extend(state_spans(view));
    if let Some(status) = view.and_then(|v| v.status.data.as_ref()) {
        head.push(Span::from(format!(" at {}%", status.percent)));
        if let Some(rollout) = &plan.spec.rollout {
            head.push(
                Span::from(format!(" · stages {}", format::stage_list(&rollout.stages))).dim(),
            );
        }
    }
    Line::from(head)
}

/// What the plan offers to whom, and the image.
fn offers(plan: &Plan) -> String {
    let mut offers = vec![
        format::device_set(plan.spec.devices.len(), plan.spec.imei_ranges.len()),
        format!(
            "from {}",
            format::from_versions(&plan.spec.from_versions, ", ")
        ),
        format::delivery_name(plan.spec.delivery).to_string(),
    ];
    if plan.spec.allow_downgrade {
        offers.push("downgrade allowed".to_string());
    }
    if plan.image.module != fota_shared::model::plan::DEFAULT_MODULE {
        offers.push(format!("module {}", plan.image.module));
    }
    if plan.spec.needs_confirm {
        offers.push(strings::NEEDS_CONFIRM_OFFER.to_string());
    }
    if let Some(timeout) = plan.spec.job_timeout_s {
        offers.push(format!("job timeout {}", format::format_duration(timeout)));
    }
    if !plan.spec.uses_deltas() {
        offers.push(strings::FULL_IMAGE_ONLY.to_string());
    }
    offers.join(" · ")
}

/// The target's packages (full image, deltas by source), each with its digest, size and, once
/// the status is loaded, the devices it was delivered to.
fn packages(plan: &Plan, status: Option<&RolloutStatus>) -> String {
    plan.packages()
        .iter()
        .map(|p| {
            let served = status
                .and_then(|s| s.packages.iter().find(|k| k.sha256 == p.image.sha256))
                .map(|k| format!(" → {} served", k.served))
                .unwrap_or_default();
            format!(
                "{} {} {}{served}",
                format::package_kind(p.kind, p.source_version.as_deref()),
                format::short_hash(&p.image.sha256),
                format::bytes(p.image.size)
            )
        })
        .collect::<Vec<_>>()
        .join(" · ")
}

fn times(plan: &Plan, status: Option<&RolloutStatus>) -> String {
    let mut times = vec![format!(
        "plan updated {}",
        format::short_timestamp(&plan.updated_at)
    )];
    if let Some(status) = status {
        times.insert(
            0,
            format!(
                "started {} · this stage since {}",
                format::short_timestamp(&status.started_at),
                format::short_timestamp(&status.stage_started_at)
            ),
        );
    }
    times.join(" · ")
}

/// Which devices the rollout's gates count: the project's policy and how many devices it
/// trusts, the unverified ones apart (in the paused colour when there are any), and below, the
/// server's sentence for the basis, cut to the panel.
fn trust_lines(trust: &TrustBasis, width: u16) -> [Line<'static>; 2] {
    let unverified = Span::from(strings::unverified(trust.unverified));
    let summary = Line::from(vec![
        Span::from(format!("{:<11}", strings::TRUST_LABEL)).dim(),
        Span::from(strings::policy_name(trust.device_policy)).bold(),
        Span::from(format!(" · {} · ", strings::trusts(trust.trusted))),
        if trust.unverified > 0 {
            unverified.fg(PAUSED)
        } else {
            unverified.dim()
        },
    ]);
    let room = usize::from(width.saturating_sub(11));
    let basis = Line::from(vec![
        Span::from(" ".repeat(11)),
        Span::from(format::cut(&trust.basis, room)).dim(),
    ]);
    [summary, basis]
}

/// A bar and counts per gate: verification (when the plan has test devices), each stage, and
/// the unverified devices counted apart.
fn count_lines(plan: &Plan, status: &RolloutStatus, width: u16) -> Vec<Line<'static>> {
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
    let mut lines = Vec::new();
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
    // Ids the rollout does not trust: served, counted apart, moving no gate.
    if status.unverified.eligible > 0 {
        lines.push(counts_line("unverified".into(), &status.unverified, false));
    }
    lines
}
