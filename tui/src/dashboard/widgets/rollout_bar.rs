//! One plan's rollout as the Rollouts and Fleet screens show it: its status as loaded, its state
//! in colour, and the progress bar of succeeded, failed, pending and not yet offered devices.

use fota_shared::api::plans::RolloutStatus;
use fota_shared::model::rollout::{RolloutCounts, RolloutPhase};
use ratatui::style::{Style, Stylize};
use ratatui::text::{Line, Span};

use super::{ACCENT, ERROR, FAILED, IN_FLIGHT, NOT_OFFERED, PAUSED, SUCCEEDED};
use crate::dashboard::remote::Remote;
use crate::format;
use crate::strings;

/// One plan's rollout as the Rollouts and Fleet tabs show it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RolloutView {
    pub status: Remote<RolloutStatus>,
    /// Why the last pause/resume/advance/cancel was refused, shown next to the rollout.
    pub control_error: Option<String>,
}

pub fn phase_style(phase: RolloutPhase) -> Style {
    match phase {
        RolloutPhase::Paused => Style::new().fg(PAUSED).bold(),
        RolloutPhase::Failed => Style::new().fg(FAILED).bold(),
        RolloutPhase::Running | RolloutPhase::Verifying => Style::new().fg(ACCENT),
        RolloutPhase::Completed => Style::new().fg(SUCCEEDED),
        RolloutPhase::Cancelled => Style::new().dim(),
    }
}

/// `paused 2/4` in the state's colour, or what stands in while the status is not known.
pub fn state_spans(view: Option<&RolloutView>) -> Vec<Span<'static>> {
    match view {
        Some(RolloutView {
            status: Remote {
                data: Some(status), ..
            },
            ..
        }) => vec![Span::styled(
            format::stage(status),
            phase_style(status.state),
        )],
        Some(RolloutView {
            status: Remote { error: Some(_), .. },
            ..
        }) => vec![Span::from("status unavailable").fg(ERROR)],
        _ => vec![Span::from(strings::NO_STATUS).dim()],
    }
}

/// A bar of `width` cells: succeeded, failed (with banned), pending, and the eligible devices
/// not offered yet. Each non-zero share gets at least one cell, so a single failure shows.
pub fn bar_spans(counts: &RolloutCounts, width: u16) -> Vec<Span<'static>> {
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
pub fn count_spans(counts: &RolloutCounts) -> Vec<Span<'static>> {
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
pub fn rollout_gauge(view: Option<&RolloutView>, width: u16) -> Line<'static> {
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
