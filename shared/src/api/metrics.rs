//! A project's Prometheus metrics (`GET /admin/v1/projects/{key}/metrics`): the fleet summary's
//! maintained counts (devices per firmware and version, banned, silent) and, per plan, its
//! rollout's phase, stage and counts, as metric families in the text format
//! (`leaf::prometheus`). Every figure comes from counts kept as devices change, so an answer
//! costs the same for ten devices or ten million.

use crate::api::fleet_summary::Aggregates;
use crate::leaf::prometheus::{render, Family};
use crate::model::rollout::{RolloutCounts, RolloutPhase, RolloutSpec, RolloutState};
use crate::rules::rollout::current_percent;
use crate::rules::seen;

/// A device is silent when its stored `last_seen` is older than this, unless the scrape says
/// otherwise (`?silent_after=`). Two days, not one: the stored `last_seen` is rewritten at most
/// once per `SEEN_GRANULARITY_S` (a day by default), so a device polling every hour may show a
/// `last_seen` a day and an hour old, and a one-day threshold would call it silent.
pub const DEFAULT_SILENT_AFTER_S: u32 = 2 * 86_400;
/// The shortest threshold: one clock hour, the counts' own granularity.
pub const MIN_SILENT_AFTER_S: u32 = 3_600;
/// The longest threshold: the week of clock hours the fleet summary reads.
pub const MAX_SILENT_AFTER_S: u32 = 7 * 86_400;

/// One plan's rollout as the metrics show it.
pub struct RolloutFacts<'a> {
    pub firmware: &'a str,
    pub target: &'a str,
    pub spec: &'a RolloutSpec,
    pub state: &'a RolloutState,
}

/// The outcomes a rollout counts, in the order they are written, with their label values.
fn outcomes(c: &RolloutCounts) -> [(&'static str, u64); 7] {
    [
        ("eligible", c.eligible),
        ("offered", c.offered),
        ("succeeded", c.succeeded),
        ("failed", c.failed),
        ("banned", c.banned),
        ("pending", c.pending),
        ("reported_without_delivery", c.reported_without_delivery),
    ]
}

fn count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The project's metrics in the text format. `agg` is what the fleet summary read at
/// `counted_ms` (its clock hours give the silent count); a device is silent when its stored
/// `last_seen` is older than `silent_after_s` (rounded out to whole clock hours, as the
/// summary's windows are).
pub fn project_metrics(
    agg: &Aggregates,
    counted_ms: i64,
    silent_after_s: u32,
    rollouts: &[RolloutFacts<'_>],
) -> String {
    let total: u64 = agg.versions.iter().map(|(_, _, n)| n).sum();
    let mut versions: Vec<(&str, &str, u64)> = agg
        .versions
        .iter()
        .filter(|(_, _, n)| *n > 0)
        .map(|(f, v, n)| (f.as_deref().unwrap_or(""), v.as_deref().unwrap_or(""), *n))
        .collect();
    versions.sort();
    let mut devices = Family::gauge(
        "fota_devices",
        "Devices per firmware name and version they last reported (empty when never reported).",
    );
    for (firmware, version, n) in versions {
        devices.push(&[("firmware", firmware), ("version", version)], count(n));
    }
    let seen = seen::seen_within(&agg.hours, counted_ms, i64::from(silent_after_s) * 1_000);
    let after = silent_after_s.to_string();
    let mut families = vec![
        devices,
        Family::gauge("fota_devices_total", "Devices bound to the project.").with(&[], count(total)),
        Family::gauge(
            "fota_devices_banned",
            "Devices banned by loop-upgrade protection, in any rollout.",
        )
        .with(&[], count(agg.banned)),
        Family::gauge(
            "fota_devices_silent",
            "Devices whose stored last_seen is older than after_seconds (kept to SEEN_GRANULARITY_S, a day by default; windows rounded out to clock hours).",
        )
        .with(&[("after_seconds", &after)], count(total.saturating_sub(seen))),
        Family::gauge(
            "fota_fleet_counts_timestamp_seconds",
            "When the device counts were read (an edge isolate reuses them for up to 60 s).",
        )
        .with(&[], counted_ms.div_euclid(1_000)),
    ];
    let mut state = Family::gauge(
        "fota_rollout_state",
        "1 for the phase each plan's rollout is in, 0 for the others.",
    );
    let mut stage = Family::gauge(
        "fota_rollout_stage",
        "Index of the rollout's current stage in the plan's stages; -1 while verifying.",
    );
    let mut percent = Family::gauge(
        "fota_rollout_percent",
        "Share of eligible devices the rollout offers now (0 while verifying).",
    );
    let mut trusted = Family::gauge(
        "fota_rollout_devices",
        "Devices the rollout trusts, by outcome (its status totals).",
    );
    let mut unverified = Family::gauge(
        "fota_rollout_unverified_devices",
        "Devices the rollout counts apart because it does not trust them, by outcome.",
    );
    for r in rollouts {
        let at = [("firmware", r.firmware), ("target", r.target)];
        for phase in RolloutPhase::ALL {
            let labels = [at[0], at[1], ("state", phase.as_str())];
            state.push(&labels, i64::from(r.state.phase == phase));
        }
        stage.push(&at, i64::from(r.state.stage));
        percent.push(&at, i64::from(current_percent(r.spec, r.state)));
        for (counts, family) in [
            (&r.state.totals, &mut trusted),
            (&r.state.unverified, &mut unverified),
        ] {
            for (outcome, n) in outcomes(counts) {
                family.push(&[at[0], at[1], ("outcome", outcome)], count(n));
            }
        }
    }
    families.extend([state, stage, percent, trusted, unverified]);
    render(&families)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::seen::{bucket, BUCKET_MS};

    const NOW: i64 = 1_795_306_646_000;

    fn s(text: &str) -> Option<String> {
        Some(text.to_string())
    }

    /// The sample lines of `text` that start with `prefix`.
    fn lines<'a>(text: &'a str, prefix: &str) -> Vec<&'a str> {
        text.lines().filter(|l| l.starts_with(prefix)).collect()
    }

    fn fleet() -> Aggregates {
        let hour = bucket(NOW);
        Aggregates {
            versions: vec![
                (s("app"), s("1.1"), 5),
                (s("app"), s("1.0"), 3),
                (None, None, 1),
                (s("gone"), s("0.1"), 0),
                (s("we\"ird\\fw\n"), s("2"), 1),
            ],
            banned: 2,
            // 4 devices seen this hour, 3 a day and a half ago, 2 five days ago; 1 older.
            hours: vec![
                (hour, 4),
                (hour - 36 * BUCKET_MS, 3),
                (hour - 120 * BUCKET_MS, 2),
            ],
            ..Aggregates::default()
        }
    }

    #[test]
    fn the_fleet_in_metrics() {
        let text = project_metrics(&fleet(), NOW, DEFAULT_SILENT_AFTER_S, &[]);
        assert_eq!(
            lines(&text, "fota_devices{"),
            [
                "fota_devices{firmware=\"\",version=\"\"} 1",
                "fota_devices{firmware=\"app\",version=\"1.0\"} 3",
                "fota_devices{firmware=\"app\",version=\"1.1\"} 5",
                "fota_devices{firmware=\"we\\\"ird\\\\fw\\n\",version=\"2\"} 1",
            ]
        );
        assert_eq!(
            lines(&text, "fota_devices_total "),
            ["fota_devices_total 10"]
        );
        assert_eq!(
            lines(&text, "fota_devices_banned "),
            ["fota_devices_banned 2"]
        );
        assert_eq!(
            lines(&text, "fota_devices_silent{"),
            ["fota_devices_silent{after_seconds=\"172800\"} 3"]
        );
        assert!(
            text.contains("# TYPE fota_devices_silent gauge\n"),
            "{text}"
        );
        assert_eq!(
            lines(&text, "fota_fleet_counts_timestamp_seconds "),
            ["fota_fleet_counts_timestamp_seconds 1795306646"]
        );
        assert!(lines(&text, "fota_rollout").is_empty(), "{text}");
    }

    #[test]
    fn silent_follows_the_threshold() {
        for (after, silent) in [
            (MIN_SILENT_AFTER_S, 6),
            (86_400, 6),
            (2 * 86_400, 3),
            (6 * 86_400, 1),
            (MAX_SILENT_AFTER_S, 1),
        ] {
            let text = project_metrics(&fleet(), NOW, after, &[]);
            assert_eq!(
                lines(&text, "fota_devices_silent{"),
                [format!(
                    "fota_devices_silent{{after_seconds=\"{after}\"}} {silent}"
                )],
                "{after}"
            );
        }
    }

    #[test]
    fn each_rollout_has_its_state_stage_and_counts() {
        let spec: RolloutSpec = serde_json::from_str(r#"{"stages":[10,50,100]}"#).unwrap();
        let state = RolloutState {
            phase: RolloutPhase::Paused,
            stage: 1,
            totals: RolloutCounts {
                eligible: 9,
                offered: 7,
                succeeded: 4,
                failed: 1,
                banned: 1,
                pending: 2,
                reported_without_delivery: 1,
            },
            unverified: RolloutCounts {
                eligible: 3,
                ..RolloutCounts::default()
            },
            ..crate::rules::rollout_state::start(&spec, 0)
        };
        let facts = [RolloutFacts {
            firmware: "app",
            target: "2.0.0",
            spec: &spec,
            state: &state,
        }];
        let text = project_metrics(&Aggregates::default(), NOW, 3_600, &facts);
        let at = "firmware=\"app\",target=\"2.0.0\"";
        assert_eq!(
            lines(&text, "fota_rollout_state{"),
            [
                "verifying",
                "running",
                "paused",
                "completed",
                "cancelled",
                "failed"
            ]
            .map(|p| format!(
                "fota_rollout_state{{{at},state=\"{p}\"}} {}",
                u8::from(p == "paused")
            ))
        );
        assert_eq!(
            lines(&text, "fota_rollout_stage{"),
            [format!("fota_rollout_stage{{{at}}} 1")]
        );
        assert_eq!(
            lines(&text, "fota_rollout_percent{"),
            [format!("fota_rollout_percent{{{at}}} 50")]
        );
        assert_eq!(
            lines(&text, "fota_rollout_devices{"),
            [
                ("eligible", 9),
                ("offered", 7),
                ("succeeded", 4),
                ("failed", 1),
                ("banned", 1),
                ("pending", 2),
                ("reported_without_delivery", 1)
            ]
            .map(|(o, n)| format!("fota_rollout_devices{{{at},outcome=\"{o}\"}} {n}"))
        );
        assert_eq!(
            lines(&text, "fota_rollout_unverified_devices{")[0],
            format!("fota_rollout_unverified_devices{{{at},outcome=\"eligible\"}} 3")
        );
        // An empty fleet is all zeros, never a missing family.
        assert_eq!(
            lines(&text, "fota_devices_total "),
            ["fota_devices_total 0"]
        );
        assert_eq!(
            lines(&text, "fota_devices_silent{"),
            ["fota_devices_silent{after_seconds=\"3600\"} 0"]
        );
    }
}
