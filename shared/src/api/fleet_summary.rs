//! The fleet summary's rules: how the maintained counts the edge reads become a
//! [`FleetSummary`] (its seen-within counts from the clock hours of `rules::seen`), how long an
//! answer may be reused, and the id range a prefix search scans (so that it can use the
//! `(project_key, id)` key).

use crate::api::fleet::{Device, FleetSummary, SeenCounts, StateCount, VersionCount};
use crate::model::rollout::DevicePhase;
use crate::rules::seen;
use std::collections::BTreeMap;

/// How many of the most recently seen devices a summary lists.
pub const LATEST: u32 = seen::LATEST_PER_BUCKET as u32;
/// An isolate reuses a project's summary for this long; the issue allows at most a minute.
pub const CACHE_MS: i64 = 60_000;

/// Devices seen within the last hour, day and week at `now_ms`, from the devices per clock hour
/// of their stored `last_seen` (`(hour start ms, devices)`); see `rules::seen` for what the
/// counts mean at the `last_seen` granularity.
pub fn seen_counts(hours: &[(i64, i64)], now_ms: i64) -> SeenCounts {
    let [hour, day, week] = seen::within(hours, now_ms);
    SeenCounts { hour, day, week }
}

/// What the edge read from D1 for one project, before it is shaped into an answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Aggregates {
    /// `(firmware_name, version, devices)` in any order.
    pub versions: Vec<(Option<String>, Option<String>, u64)>,
    /// `(job_phase, devices)` of the devices that have a job; every other device is idle.
    pub states: Vec<(String, u64)>,
    pub banned: u64,
    pub seen: SeenCounts,
    /// `(clock hour start ms, devices)` whose stored `last_seen` falls in that hour, for the
    /// summary's week (what `seen` was counted from; the metrics count other windows from it).
    pub hours: Vec<(i64, i64)>,
    pub latest: Vec<Device>,
}

/// Shapes the aggregates: the total is the sum over versions (every device has exactly one
/// (firmware, version) pair, possibly null), the devices without a job are counted as idle (so
/// the edge never scans them: at scale most devices have none), and both lists run from the most
/// devices to the fewest, ties in name order so that a screen does not flicker.
pub fn summarize(agg: Aggregates, computed_at: String) -> FleetSummary {
    let total: u64 = agg.versions.iter().map(|(_, _, n)| n).sum();
    let mut versions: Vec<VersionCount> = agg
        .versions
        .into_iter()
        .filter(|(_, _, n)| *n > 0)
        .map(|(firmware_name, version, devices)| VersionCount {
            firmware_name,
            version,
            devices,
        })
        .collect();
    versions.sort_by(|a, b| {
        b.devices
            .cmp(&a.devices)
            .then_with(|| (&a.firmware_name, &a.version).cmp(&(&b.firmware_name, &b.version)))
    });
    let with_job: u64 = agg.states.iter().map(|(_, n)| n).sum();
    // A device without a job (`devices.job_phase` NULL) is idle; the phases are stored as
    // `DevicePhase::as_str` wrote them.
    let mut merged: BTreeMap<&'static str, (DevicePhase, u64)> = BTreeMap::new();
    merged.insert(
        DevicePhase::Idle.as_str(),
        (DevicePhase::Idle, total.saturating_sub(with_job)),
    );
    for (state, n) in agg.states {
        if let Some(phase) = DevicePhase::parse(&state) {
            merged.entry(phase.as_str()).or_insert((phase, 0)).1 += n;
        }
    }
    let mut states: Vec<StateCount> = merged
        .into_values()
        .filter(|(_, n)| *n > 0)
        .map(|(state, devices)| StateCount { state, devices })
        .collect();
    states.sort_by(|a, b| {
        b.devices
            .cmp(&a.devices)
            .then_with(|| a.state.as_str().cmp(b.state.as_str()))
    });
    FleetSummary {
        total,
        banned: agg.banned,
        seen: agg.seen,
        versions,
        states,
        latest: agg.latest,
        computed_at,
    }
}

/// May a summary computed at `computed_ms` still be served at `now_ms`?
pub fn is_fresh(computed_ms: i64, now_ms: i64) -> bool {
    (0..CACHE_MS).contains(&(now_ms - computed_ms))
}

/// The half-open id range `[low, high)` holding exactly the ids that start with `prefix`
/// (byte-wise, SQLite's BINARY collation): `high` is the prefix followed by the largest char,
/// which sorts after every continuation a valid device id (ASCII) can have.
pub fn id_prefix_range(prefix: &str) -> (String, String) {
    (prefix.to_string(), format!("{prefix}{}", char::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(text: &str) -> Option<String> {
        Some(text.to_string())
    }

    #[test]
    fn shapes_aggregates() {
        let agg = Aggregates {
            versions: vec![
                (s("app"), s("1.0"), 3),
                (None, None, 1),
                (s("app"), s("1.1"), 5),
                (s("other"), s("1.0"), 3),
                (s("gone"), s("0.1"), 0),
            ],
            states: vec![
                ("offered".into(), 2),
                ("idle".into(), 1),
                ("failed".into(), 3),
            ],
            banned: 2,
            seen: SeenCounts {
                hour: 1,
                day: 4,
                week: 9,
            },
            hours: vec![],
            latest: vec![],
        };
        let got = summarize(agg, "2026-11-22T00:17:26Z".into());
        assert_eq!(got.total, 12);
        let versions: Vec<(Option<&str>, Option<&str>, u64)> = got
            .versions
            .iter()
            .map(|v| (v.firmware_name.as_deref(), v.version.as_deref(), v.devices))
            .collect();
        assert_eq!(
            versions,
            [
                (Some("app"), Some("1.1"), 5),
                (Some("app"), Some("1.0"), 3),
                (Some("other"), Some("1.0"), 3),
                (None, None, 1)
            ]
        );
        let states: Vec<(&str, u64)> = got
            .states
            .iter()
            .map(|s| (s.state.as_str(), s.devices))
            .collect();
        assert_eq!(states, [("idle", 7), ("failed", 3), ("offered", 2)]);
        assert_eq!((got.banned, got.seen.week), (2, 9));
    }

    #[test]
    fn an_empty_project_sums_to_zero() {
        let got = summarize(Aggregates::default(), String::new());
        assert_eq!((got.total, got.versions.len(), got.states.len()), (0, 0, 0));
    }

    #[test]
    fn freshness_lasts_a_minute() {
        for (computed, now, fresh) in [
            (0, 0, true),
            (0, 59_999, true),
            (0, 60_000, false),
            (10, 5, false),
            (1_000, 61_000, false),
        ] {
            assert_eq!(is_fresh(computed, now), fresh, "{computed} {now}");
        }
    }

    #[test]
    fn seen_counts_name_the_windows() {
        let now = 1_795_306_646_000;
        let this_hour = seen::bucket(now);
        let got = seen_counts(
            &[
                (this_hour, 2),
                (this_hour - 3 * 3_600_000, 3),
                (this_hour - 48 * 3_600_000, 4),
            ],
            now,
        );
        assert_eq!(
            got,
            SeenCounts {
                hour: 2,
                day: 5,
                week: 9
            }
        );
    }

    #[test]
    fn a_prefix_range_holds_exactly_the_ids_with_the_prefix() {
        let ids = [
            "86", "860", "8601", "86019", "861", "87", "85z", "86:0", "86~",
        ];
        for (prefix, want) in [
            (
                "86",
                vec!["86", "860", "8601", "86019", "861", "86:0", "86~"],
            ),
            ("860", vec!["860", "8601", "86019"]),
            ("9", vec![]),
        ] {
            let (low, high) = id_prefix_range(prefix);
            let got: Vec<&str> = ids
                .iter()
                .copied()
                .filter(|id| *id >= low.as_str() && *id < high.as_str())
                .collect();
            assert_eq!(got, want, "{prefix}");
        }
    }
}
