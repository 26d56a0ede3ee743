//! The fleet registry's write rule: a check is news to D1 only when it changes the device's
//! firmware or version, or when the stored `last_seen` is older than the granularity it is kept
//! to. Everything else a check says is already known, and costs no write.
//!
//! Changes are bounded per device: a firmware or version change rewrites the row at most once per
//! rewrite interval (a minute by default), and at most [`HISTORY_CHANGES_PER_DAY`] rewrites a UTC
//! day leave a history entry. A change held back by the interval is not lost: a device reports
//! its version on every check, so its next check after the interval carries it again.

use serde::{Deserialize, Serialize};

/// What D1 holds for a device, as far as this isolate knows (and as a location's device card
/// keeps it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Known {
    pub firmware: String,
    /// The version, normalized (`1.00` and `1.0` are one version).
    pub version: String,
    pub last_seen: i64,
    /// When a check last rewrote the firmware or version (ms; 0 when none did since the binding).
    #[serde(default)]
    pub changed_at: i64,
    /// A check reported another firmware or version since that rewrite (held back): the row is
    /// rewritten once the interval has passed, even with what it holds (the device may have left
    /// it and come back, which its rollout must hear).
    #[serde(default)]
    pub held: bool,
}

/// The registry row's firmware and version are rewritten at most once in this interval (ms)
/// when the Worker sets no `REGISTRY_REWRITE_S`.
pub const DEFAULT_REWRITE_INTERVAL_MS: i64 = 60_000;

/// Rewrites per device and UTC day that leave a history entry; the last of them says so.
pub const HISTORY_CHANGES_PER_DAY: i64 = 24;

/// The UTC day holding `at_ms` (days since the epoch), the day [`HISTORY_CHANGES_PER_DAY`] counts.
pub fn day_of(at_ms: i64) -> i64 {
    at_ms.div_euclid(86_400_000)
}

/// What the last history entry a day allows adds to its detail.
pub const HISTORY_CAP_NOTE: &str = " (24 changes today: later ones today are not in the history)";

/// May a change at `at` rewrite a row last rewritten at `changed_at` (0: never)? A `changed_at`
/// ahead of `at` (another location's clock) holds it back until `at` passes it by the interval.
pub fn may_rewrite(changed_at: i64, at: i64, interval_ms: i64) -> bool {
    changed_at == 0 || at - changed_at >= interval_ms
}

/// When the rewrite interval of a change at `at` starts (the row's next `changed_at`): then, or
/// for a row's first version (a registered or provisioned id that never checked: nothing to bound
/// yet) one interval earlier, so the device's upgrade right after its first check is written at
/// once ([`may_rewrite`]).
pub fn interval_start(known: &Known, at: i64, interval_ms: i64) -> i64 {
    if known.version.is_empty() {
        at - interval_ms
    } else {
        at
    }
}

/// What a check tells D1 about a known device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum News {
    /// Nothing D1 does not hold: no write.
    Nothing,
    /// Only that it was seen, D1's `last_seen` being older than the granularity: a write that
    /// can wait to join a batch.
    Seen,
    /// A new firmware or version: a write and a history entry, without delay.
    Changed,
    /// The device is away from what D1 holds (another version, or back to it after one) within
    /// the rewrite interval: the row is marked held (one write, the first time), and a report of a
    /// plan's target still reaches its rollout at once.
    Held,
}

/// The intervals the write rule keeps (ms).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Intervals {
    /// `last_seen` is kept to this granularity.
    pub seen_ms: i64,
    /// The firmware and version are rewritten at most once in this interval.
    pub rewrite_ms: i64,
}

/// What this check tells D1 of the device. `None` when this isolate does not know the device yet.
/// A change within the rewrite interval of the last one is held back: it is news only as far as
/// `last_seen` goes.
pub fn news(
    known: Option<&Known>,
    firmware: &str,
    version: &str,
    at: i64,
    intervals: Intervals,
) -> Option<News> {
    known.map(|k| {
        let differs = k.firmware != firmware || k.version != version;
        if (differs || k.held) && may_rewrite(k.changed_at, at, intervals.rewrite_ms) {
            News::Changed
        } else if differs || k.held {
            News::Held
        } else if at - k.last_seen >= intervals.seen_ms {
            News::Seen
        } else {
            News::Nothing
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000;

    #[test]
    fn a_first_version_starts_no_interval() {
        let interval = 60_000;
        // (the version D1 holds, the change's time, where its interval starts, may the next
        // change a second later rewrite the row?)
        let table = [
            ("", 1_000_000, 940_000, true),
            ("1.0.0", 1_000_000, 1_000_000, false),
        ];
        for (version, at, start, next) in table {
            let known = Known {
                firmware: "fw".into(),
                version: version.into(),
                last_seen: at,
                changed_at: 0,
                held: false,
            };
            let got = interval_start(&known, at, interval);
            assert_eq!(got, start, "{version:?}");
            assert_eq!(may_rewrite(got, at + 1_000, interval), next, "{version:?}");
        }
    }
    const DAY: i64 = 86_400_000;
    const MINUTE: i64 = 60_000;

    fn known(last_seen: i64, changed_at: i64) -> Known {
        Known {
            firmware: "fw".into(),
            version: "1.0.0".into(),
            last_seen,
            changed_at,
            held: false,
        }
    }

    #[track_caller]
    fn check(
        k: Option<&Known>,
        fw: &str,
        version: &str,
        at: i64,
        seen_ms: i64,
        want: Option<News>,
    ) {
        let intervals = Intervals {
            seen_ms,
            rewrite_ms: MINUTE,
        };
        assert_eq!(
            news(k, fw, version, at, intervals),
            want,
            "{k:?} {fw} {version} {at}"
        );
    }

    #[test]
    fn only_news_is_due() {
        use News::*;
        let k = known(1_000, 0);
        check(None, "fw", "1.0.0", 2_000, HOUR, None); // unknown: read first
        check(Some(&k), "fw", "1.0.0", 62_000, HOUR, Some(Nothing)); // the same a minute later
        check(Some(&k), "fw", "1.0.1", 2_000, HOUR, Some(Changed)); // a new version
        check(Some(&k), "fw2", "1.0.0", 2_000, HOUR, Some(Changed)); // a new firmware
        check(Some(&k), "fw", "1.0.0", 1_000 + HOUR, HOUR, Some(Seen)); // last_seen an hour old
    }

    #[test]
    fn news_tells_a_refresh_from_a_change() {
        use News::*;
        let k = known(0, 0);
        check(None, "fw", "1.0.0", 5, DAY, None);
        check(Some(&k), "fw", "1.0.0", DAY - 1, DAY, Some(Nothing));
        check(Some(&k), "fw", "1.0.0", DAY, DAY, Some(Seen));
        check(Some(&k), "fw", "1.0.1", 5, DAY, Some(Changed));
        check(Some(&k), "fw2", "1.0.0", DAY, DAY, Some(Changed));
    }

    #[test]
    fn a_change_within_a_minute_of_the_last_is_held_back() {
        use News::*;
        let t = 10 * DAY;
        // Rewritten at t: another version within the minute is held back ...
        let k = known(t, t);
        check(Some(&k), "fw", "1.0.1", t + 1, DAY, Some(Held));
        check(Some(&k), "fw2", "1.0.0", t + MINUTE - 1, DAY, Some(Held));
        check(Some(&k), "fw", "1.0.0", t + 1, DAY, Some(Nothing));
        // ... a minute on it is a change again.
        check(Some(&k), "fw", "1.0.1", t + MINUTE, DAY, Some(Changed));
        // Once held, the stored version itself is held back, then rewritten: the device left
        // it and came back.
        let held = Known { held: true, ..k };
        check(Some(&held), "fw", "1.0.0", t + 1, DAY, Some(Held));
        check(Some(&held), "fw", "1.0.0", t + MINUTE, DAY, Some(Changed));
        // A rewrite stamped ahead of this clock holds until this clock is a minute past it.
        let ahead = known(t, t + 5_000);
        check(Some(&ahead), "fw", "1.0.1", t + MINUTE, DAY, Some(Held));
        check(
            Some(&ahead),
            "fw",
            "1.0.1",
            t + 5_000 + MINUTE,
            DAY,
            Some(Changed),
        );
    }

    #[test]
    fn days_are_utc_days() {
        for (at, want) in [(0, 0), (DAY - 1, 0), (DAY, 1), (-1, -1)] {
            assert_eq!(day_of(at), want, "{at}");
        }
        assert!(HISTORY_CAP_NOTE.contains(&HISTORY_CHANGES_PER_DAY.to_string()));
    }
}
