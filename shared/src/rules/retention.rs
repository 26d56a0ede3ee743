//! Retention: how long each table that grows with traffic keeps its rows, and how much one
//! scheduled run may delete. The edge's scheduled handler turns these cutoffs into bounded
//! `DELETE`s, one table family at a time.

/// Default of `HISTORY_KEEP`: entries of a device's history kept, newest first.
pub const DEFAULT_HISTORY_KEEP: u32 = 200;
/// Default of `HISTORY_DAYS`: no history entry is kept longer than this.
pub const DEFAULT_HISTORY_DAYS: u32 = 90;
/// Dashboard activity (checks and deliveries per hour) is kept this long.
pub const ACTIVITY_DAYS: u32 = 90;
/// Rate-limit windows are one clock minute; an hour of them is more than any reader looks at.
pub const RATE_KEEP_MINUTES: i64 = 60;
/// Rows one run deletes per table family at most, so a run stays well inside the Worker's
/// limits even when a backlog (a first run over a year of history) has built up; the next
/// run, a minute later, takes the next batch.
pub const BATCH_ROWS: u32 = 2_000;

const DAY_MS: i64 = 86_400_000;
const HOUR_MS: i64 = 3_600_000;
const MINUTE_MS: i64 = 60_000;

/// What the operator configured (`HISTORY_KEEP`, `HISTORY_DAYS` in `wrangler.toml` [vars]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub history_keep: u32,
    pub history_days: u32,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            history_keep: DEFAULT_HISTORY_KEEP,
            history_days: DEFAULT_HISTORY_DAYS,
        }
    }
}

impl Policy {
    /// The policy from the two vars as text (absent when unset). A value that is not a positive
    /// whole number is refused rather than read as zero: zero would purge every device's history.
    pub fn from_vars(keep: Option<&str>, days: Option<&str>) -> Result<Policy, String> {
        let parse = |name: &str, text: Option<&str>, default: u32| match text.map(str::trim) {
            None | Some("") => Ok(default),
            Some(t) => t
                .parse::<u32>()
                .ok()
                .filter(|v| *v > 0)
                .ok_or_else(|| format!("{name} must be a positive whole number, not {t:?}")),
        };
        Ok(Policy {
            history_keep: parse("HISTORY_KEEP", keep, DEFAULT_HISTORY_KEEP)?,
            history_days: parse("HISTORY_DAYS", days, DEFAULT_HISTORY_DAYS)?,
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
        }
    }
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(keep: Option<&str>, days: Option<&str>, expect: Result<(u32, u32), &str>) {
        let got = Policy::from_vars(keep, days).map(|p| (p.history_keep, p.history_days));
        match expect {
            Ok(want) => assert_eq!(got, Ok(want), "{keep:?} {days:?}"),
            Err(fragment) => assert!(
                got.as_ref().is_err_and(|e| e.contains(fragment)),
                "{keep:?} {days:?}: {got:?}"
            ),
        }
    }

    #[test]
    fn reads_the_vars_with_defaults() {
        check(None, None, Ok((200, 90)));
        check(Some(""), Some(" "), Ok((200, 90)));
        check(Some("50"), None, Ok((50, 90)));
        check(Some(" 7 "), Some("30"), Ok((7, 30)));
        check(Some("0"), None, Err("HISTORY_KEEP"));
        check(None, Some("-1"), Err("HISTORY_DAYS"));
        check(Some("many"), None, Err("HISTORY_KEEP"));
        check(None, Some("1.5"), Err("HISTORY_DAYS"));
    }

    #[test]
    fn cutoffs_follow_the_policy() {
        // 2026-11-22T00:17:26Z.
        let now = 1_795_306_646_000;
        let c = Policy {
            history_keep: 200,
            history_days: 90,
        }
        .cutoffs(now);
        assert_eq!(c.history_before_ms, now - 90 * DAY_MS);
        assert_eq!(c.replay_before_ms, now);
        assert_eq!(c.rate_before_minute, now / MINUTE_MS - 60);
        // 90 days before 00:17:26 falls in the hour starting at 00:00:00 that day: kept.
        assert_eq!(
            c.activity_before_hour_ms,
            now - 90 * DAY_MS - 17 * MINUTE_MS - 26_000
        );
        assert_eq!(
            Policy {
                history_keep: 1,
                history_days: 1
            }
            .cutoffs(now)
            .history_before_ms,
            now - DAY_MS
        );
    }
}
