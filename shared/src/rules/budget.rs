//! The daily data budget: a project may cap the image bytes sent to one device per UTC day
//! (`daily_bytes_per_device`). Bytes count as sent when the runtime took them for the device
//! (full bodies and ranges alike, `crate::rules::delivery`); a device that was sent its budget
//! today is refused (code 74) until the next UTC day. The count lives beside the device's other
//! delivery records and moves only when bytes went out: a check that sends nothing writes
//! nothing for it.

/// Milliseconds in a day.
const DAY_MS: i64 = 86_400_000;

/// The UTC day (days since the epoch) a time in milliseconds falls on.
pub fn day_of(now_ms: i64) -> i64 {
    now_ms.div_euclid(DAY_MS)
}

/// Bytes sent to one device on one day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Sent {
    pub day: i64,
    pub bytes: u64,
}

impl Sent {
    /// Bytes sent on `today` (an older day's count is spent and forgotten).
    pub fn today(self, today: i64) -> u64 {
        if self.day == today {
            self.bytes
        } else {
            0
        }
    }

    /// The count after `bytes` more went out on `today`.
    pub fn add(self, today: i64, bytes: u64) -> Sent {
        Sent {
            day: today,
            bytes: self.today(today).saturating_add(bytes),
        }
    }
}

/// Is the device's budget for today spent? `None` (or 0): no budget.
pub fn spent(sent: Sent, today: i64, budget: Option<u64>) -> bool {
    budget.is_some_and(|b| b > 0 && sent.today(today) >= b)
}

/// Did adding bytes take the device to its budget (the moment an operator hears of it)?
pub fn reached(before: Sent, after: Sent, today: i64, budget: Option<u64>) -> bool {
    !spent(before, today, budget) && spent(after, today, budget)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(sent: (i64, u64), today: i64, budget: Option<u64>, expect: bool) {
        let sent = Sent {
            day: sent.0,
            bytes: sent.1,
        };
        assert_eq!(spent(sent, today, budget), expect, "{sent:?} on {today}");
    }

    #[test]
    fn spent_per_utc_day() {
        check((10, 600), 10, Some(600), true);
        check((10, 599), 10, Some(600), false);
        check((10, 6000), 11, Some(600), false);
        check((10, 6000), 10, None, false);
        check((10, 6000), 10, Some(0), false);
        check((0, 0), 10, Some(1), false);
    }

    #[test]
    fn counts_restart_each_day() {
        let today = day_of(1_700_000_000_000);
        assert_eq!(day_of(today * DAY_MS + DAY_MS - 1), today);
        assert_eq!(day_of((today + 1) * DAY_MS), today + 1);
        let s = Sent::default().add(today, 100).add(today, 50);
        assert_eq!(
            s,
            Sent {
                day: today,
                bytes: 150
            }
        );
        assert_eq!(
            s.add(today + 1, 7),
            Sent {
                day: today + 1,
                bytes: 7
            }
        );
        assert!(reached(s, s.add(today, 50), today, Some(200)));
        assert!(!reached(
            s.add(today, 50),
            s.add(today, 60),
            today,
            Some(200)
        ));
    }
}
