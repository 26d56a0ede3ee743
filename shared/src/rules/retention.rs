//! Retention: how long each table that grows with traffic keeps its rows, and how much one
//! scheduled run may delete. The edge's scheduled handler turns these cutoffs into bounded
//! `DELETE`s, one table family at a time. Also when a finished rollout's per-device records are
//! compacted to its counts, and when its coordinator's storage may go.

use crate::model::rollout::RolloutPhase;

/// Default of `HISTORY_KEEP`: entries of a device's history kept, newest first.
pub const DEFAULT_HISTORY_KEEP: u32 = 200;
/// Default of `HISTORY_DAYS`: no history entry is kept longer than this.
pub const DEFAULT_HISTORY_DAYS: u32 = 90;
/// Dashboard activity (checks and deliveries per hour) is kept this long.
pub const ACTIVITY_DAYS: u32 = 90;
/// Rate-limit windows are one clock minute; an hour of them is more than any reader looks at.
pub const RATE_KEEP_MINUTES: i64 = 60;
/// Default of `FORGET_SILENT_DAYS`: an id that checked in once (its binding) and never again is
/// removed this long after that check, unless an operator registered it.
pub const DEFAULT_FORGET_SILENT_DAYS: u32 = 90;
/// Default of `ROLLOUT_RECORDS_DAYS`: a finished rollout's per-device records are kept this long
/// after its last change; its counts stay with the rollout.
pub const DEFAULT_ROLLOUT_RECORDS_DAYS: u32 = 30;
/// Devices one run removes at most (each also costs a KV delete of its binding, and a Worker
/// invocation may make at most 1,000 KV operations).
pub const SILENT_BATCH: u32 = 500;
/// Devices one run looks through for ids that came once, from where the last run stopped: a
/// sweep of 10 M devices takes about 8 hours of runs and reads 20,000 rows a minute.
pub const SILENT_SCAN: u32 = 20_000;
/// Rows one run deletes per table family at most, so a run stays well inside the Worker's
/// limits even when a backlog (a first run over a year of history) has built up; the next
/// run, a minute later, takes the next batch.
pub const BATCH_ROWS: u32 = 2_000;

const DAY_MS: i64 = 86_400_000;
const HOUR_MS: i64 = 3_600_000;
const MINUTE_MS: i64 = 60_000;

/// What the operator configured (`HISTORY_KEEP`, `HISTORY_DAYS`, `FORGET_SILENT_DAYS`,
/// `ROLLOUT_RECORDS_DAYS` in `wrangler.toml` [vars]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub history_keep: u32,
    pub history_days: u32,
    pub forget_silent_days: u32,
    pub rollout_records_days: u32,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            history_keep: DEFAULT_HISTORY_KEEP,
            history_days: DEFAULT_HISTORY_DAYS,
            forget_silent_days: DEFAULT_FORGET_SILENT_DAYS,
            rollout_records_days: DEFAULT_ROLLOUT_RECORDS_DAYS,
        }
    }
}

impl Policy {
    /// The policy from the vars as text (`var(name)`: absent when unset). A value that is not a
    /// positive whole number is refused rather than read as zero: zero would purge every
    /// device's history (or every silent device, or every finished rollout's records) at once.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Policy, String> {
        let parse = |name: &str, default: u32| match var(name).as_deref().map(str::trim) {
            None | Some("") => Ok(default),
            Some(t) => t
                .parse::<u32>()
                .ok()
                .filter(|v| *v > 0)
                .ok_or_else(|| format!("{name} must be a positive whole number, not {t:?}")),
        };
        Ok(Policy {
            history_keep: parse("HISTORY_KEEP", DEFAULT_HISTORY_KEEP)?,
            history_days: parse("HISTORY_DAYS", DEFAULT_HISTORY_DAYS)?,
            forget_silent_days: parse("FORGET_SILENT_DAYS", DEFAULT_FORGET_SILENT_DAYS)?,
            rollout_records_days: parse("ROLLOUT_RECORDS_DAYS", DEFAULT_ROLLOUT_RECORDS_DAYS)?,
        })
    }

    /// Each table's cutoff at `now_ms`: rows strictly older than it go.
    pub fn cutoffs(&self, now_ms: i64) -> Cutoffs {
        Cutoffs {
            history_before_ms: now_ms - self.history_days as i64 * DAY_MS,
            replay_before_ms: now_ms,
            rate_before_minute: now_ms.div_euclid(MINUTE_MS) - RATE_KEEP_MINUTES,
            // `activity.hour` is the hour's start in ms: keep every hour that overlaps the window.
            activity_before_hour_ms: (now_ms - ACTIVITY_DAYS as i64 * DAY_MS).div_euclid(HOUR_MS)
                * HOUR_MS,
            silent_bound_before_ms: now_ms - self.forget_silent_days as i64 * DAY_MS,
            rollout_quiet_before_ms: now_ms - self.rollout_records_days as i64 * DAY_MS,
            seen_hours_before_ms: crate::rules::seen::keep_from(now_ms),
        }
    }
}

/// A rollout that offers nothing more, whatever happens: cancelled or failed. A completed
/// rollout still offers its image to late devices while its plan targets it.
pub fn is_finished(phase: RolloutPhase) -> bool {
    matches!(phase, RolloutPhase::Cancelled | RolloutPhase::Failed)
}

/// Are a rollout's per-device records (D1's `rollout_devices`) compacted away? When it is
/// completed, cancelled or failed and has not changed since `cut.rollout_quiet_before_ms`
/// (`updated_at_ms`: its last change). Its counts stay in the rollout's state; a late device of a
/// completed rollout writes its record again (and moves `updated_at`).
pub fn records_compacted(phase: RolloutPhase, updated_at_ms: i64, cut: &Cutoffs) -> bool {
    (is_finished(phase) || phase == RolloutPhase::Completed)
        && updated_at_ms < cut.rollout_quiet_before_ms
}

/// May a rollout's coordinators (its Durable Objects) drop their storage? Only when nothing can
/// reach them again: completed, cancelled or failed, no longer its plan's target
/// (`still_targeted`: the plan of its project and firmware still names its version; a check of
/// that plan would find a coordinator with no state and start the rollout afresh), and quiet for
/// as long as its records are kept. The counts and state in D1's `rollouts` row stay.
pub fn storage_deletable(
    phase: RolloutPhase,
    updated_at_ms: i64,
    still_targeted: bool,
    cut: &Cutoffs,
) -> bool {
    let done = is_finished(phase) || phase == RolloutPhase::Completed;
    done && !still_targeted && updated_at_ms < cut.rollout_quiet_before_ms
}

/// Rows older than these go (each compared with `<`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cutoffs {
    /// `device_events.at`.
    pub history_before_ms: i64,
    /// `replay.until_ms`: a signature past its window can no longer be replayed anyway.
    pub replay_before_ms: i64,
    /// `rollout_rate.minute` (minutes since the epoch, as `rollout::rate_window` keys them).
    pub rate_before_minute: i64,
    /// `activity.hour`.
    pub activity_before_hour_ms: i64,
    /// `devices.first_seen` of an id never seen again after its binding (`last_seen =
    /// first_seen`: no later check moved it, at `SEEN_GRANULARITY_S`) and that no operator
    /// registered (never provisioned, so no key generation either): such a device goes.
    pub silent_bound_before_ms: i64,
    /// `rollouts.updated_at` of a finished rollout whose records go ([`records_compacted`]).
    pub rollout_quiet_before_ms: i64,
    /// `seen_hours.hour` (the summary's clock hours).
    pub seen_hours_before_ms: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(vars: &[(&str, &str)], expect: Result<(u32, u32, u32, u32), &str>) {
        let var = |name: &str| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string())
        };
        let got = Policy::from_vars(var).map(|p| {
            (
                p.history_keep,
                p.history_days,
                p.forget_silent_days,
                p.rollout_records_days,
            )
        });
        match expect {
            Ok(want) => assert_eq!(got, Ok(want), "{vars:?}"),
            Err(fragment) => assert!(
                got.as_ref().is_err_and(|e| e.contains(fragment)),
                "{vars:?}: {got:?}"
            ),
        }
    }

    #[test]
    fn reads_the_vars_with_defaults() {
        check(&[], Ok((200, 90, 90, 30)));
        check(
            &[("HISTORY_KEEP", ""), ("HISTORY_DAYS", " ")],
            Ok((200, 90, 90, 30)),
        );
        check(&[("HISTORY_KEEP", "50")], Ok((50, 90, 90, 30)));
        check(
            &[("HISTORY_KEEP", " 7 "), ("HISTORY_DAYS", "30")],
            Ok((7, 30, 90, 30)),
        );
        check(
            &[("FORGET_SILENT_DAYS", "365"), ("ROLLOUT_RECORDS_DAYS", "7")],
            Ok((200, 90, 365, 7)),
        );
        check(&[("HISTORY_KEEP", "0")], Err("HISTORY_KEEP"));
        check(&[("HISTORY_DAYS", "-1")], Err("HISTORY_DAYS"));
        check(&[("HISTORY_KEEP", "many")], Err("HISTORY_KEEP"));
        check(&[("HISTORY_DAYS", "1.5")], Err("HISTORY_DAYS"));
        check(&[("FORGET_SILENT_DAYS", "0")], Err("FORGET_SILENT_DAYS"));
        check(
            &[("ROLLOUT_RECORDS_DAYS", "soon")],
            Err("ROLLOUT_RECORDS_DAYS"),
        );
    }

    // 2026-11-22T00:17:26Z.
    const NOW: i64 = 1_795_306_646_000;

    #[test]
    fn cutoffs_follow_the_policy() {
        let now = NOW;
        let c = Policy::default().cutoffs(now);
        assert_eq!(c.history_before_ms, now - 90 * DAY_MS);
        assert_eq!(c.replay_before_ms, now);
        assert_eq!(c.rate_before_minute, now / MINUTE_MS - 60);
        // 90 days before 00:17:26 falls in the hour starting at 00:00:00 that day: kept.
        assert_eq!(
            c.activity_before_hour_ms,
            now - 90 * DAY_MS - 17 * MINUTE_MS - 26_000
        );
        assert_eq!(c.silent_bound_before_ms, now - 90 * DAY_MS);
        assert_eq!(c.rollout_quiet_before_ms, now - 30 * DAY_MS);
        // The summary's clock hours: a week and a day, whole hours.
        assert_eq!(
            c.seen_hours_before_ms,
            now - 8 * DAY_MS - 17 * MINUTE_MS - 26_000
        );
        let short = Policy {
            history_keep: 1,
            history_days: 1,
            forget_silent_days: 2,
            rollout_records_days: 3,
        }
        .cutoffs(now);
        assert_eq!(
            (
                short.history_before_ms,
                short.silent_bound_before_ms,
                short.rollout_quiet_before_ms
            ),
            (now - DAY_MS, now - 2 * DAY_MS, now - 3 * DAY_MS)
        );
    }

    #[test]
    fn finished_rollouts_lose_their_records_then_their_storage() {
        use RolloutPhase::*;
        let cut = Policy::default().cutoffs(NOW);
        let quiet = NOW - 31 * DAY_MS;
        let recent = NOW - 29 * DAY_MS;
        // (phase, last change, still the plan's target) -> (records compacted, storage deletable)
        for (phase, at, targeted, want) in [
            (Verifying, quiet, true, (false, false)),
            (Running, quiet, true, (false, false)),
            (Paused, quiet, true, (false, false)),
            (Completed, quiet, true, (true, false)),
            (Completed, quiet, false, (true, true)),
            (Completed, recent, false, (false, false)),
            (Cancelled, quiet, true, (true, false)),
            (Cancelled, quiet, false, (true, true)),
            (Cancelled, recent, false, (false, false)),
            (Failed, quiet, false, (true, true)),
            (Failed, quiet, true, (true, false)),
            (Failed, NOW - 30 * DAY_MS, false, (false, false)),
        ] {
            let got = (
                records_compacted(phase, at, &cut),
                storage_deletable(phase, at, targeted, &cut),
            );
            assert_eq!(got, want, "{phase} at {at} targeted {targeted}");
        }
    }
}
