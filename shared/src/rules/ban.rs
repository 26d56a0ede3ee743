//! Loop-upgrade protection: a device served the same target again and again without ever
//! reporting it (the new image does not take) is stopped until an operator lifts the ban.

use crate::leaf::version::Version;

/// The hosted platform's limit, used when a project sets none.
pub const DEFAULT_BAN_AFTER: u32 = 6;

/// The key deliveries are counted under: one firmware at one target version.
pub fn target_key(firmware_name: &str, target: &Version) -> String {
    format!("{firmware_name}@{target}")
}

/// What the registry remembers of a device's deliveries.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeliveryState {
    /// The target the count is for ([`target_key`]).
    pub target: Option<String>,
    pub count: u32,
    pub banned: bool,
    /// When the last counted delivery went out (ms), for the de-duplication window.
    pub last_ms: Option<i64>,
}

/// The verdict on one download attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// Send the image; store the new state before answering.
    Serve(DeliveryState),
    /// Refuse; the device is banned for this target.
    Banned,
}

/// Is the device banned for `target` (served it `limit` times without reporting it)?
pub fn is_banned(state: &DeliveryState, target: &str) -> bool {
    state.banned && state.target.as_deref() == Some(target)
}

/// Decides a download of `target` at `now_ms`. A `fresh` download (every byte of the image handed
/// to the device, see [`crate::rules::delivery::handed`]) counts as a delivery; anything less
/// does not.
/// Deliveries of the same target within `window_ms` of the last counted one count once, so a
/// burst of repeats (a device retrying, or someone replaying its request) is one delivery. The
/// delivery that reaches `limit` is still served and bans the device, so a device gets at most
/// `limit` counted images of one target. A new target starts a new count.
pub fn admit(
    state: &DeliveryState,
    target: &str,
    limit: u32,
    fresh: bool,
    now_ms: i64,
    window_ms: i64,
) -> Admission {
    if is_banned(state, target) {
        return Admission::Banned;
    }
    let same_target = state.target.as_deref() == Some(target);
    let (count, last_ms) = if same_target {
        (state.count, state.last_ms)
    } else {
        (0, None)
    };
    let within_window = last_ms.is_some_and(|last| now_ms.saturating_sub(last) < window_ms);
    if !fresh || within_window {
        return Admission::Serve(DeliveryState {
            target: Some(target.to_string()),
            count,
            banned: false,
            last_ms,
        });
    }
    let count = count.saturating_add(1);
    Admission::Serve(DeliveryState {
        target: Some(target.to_string()),
        count,
        banned: count >= limit.max(1),
        last_ms: Some(now_ms),
    })
}

/// The state after the device reported running the target whose [`target_key`] is `reported`:
/// reporting the counted target means the upgrade took, which clears the count and any ban for it.
pub fn after_report(state: &DeliveryState, reported: &str) -> DeliveryState {
    if state.target.as_deref() == Some(reported) {
        DeliveryState {
            target: state.target.clone(),
            count: 0,
            banned: false,
            last_ms: None,
        }
    } else {
        state.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    #[test]
    fn sixth_delivery_bans_seventh_is_refused() {
        let t = target_key("fw", &v("1.0.1"));
        let mut state = DeliveryState::default();
        for n in 1..=6 {
            match admit(&state, &t, 6, true, i64::from(n) * 1_000, 0) {
                Admission::Serve(next) => {
                    assert_eq!(next.count, n);
                    assert_eq!(next.banned, n == 6);
                    state = next;
                }
                Admission::Banned => panic!("delivery {n} refused"),
            }
        }
        assert_eq!(admit(&state, &t, 6, true, 0, 0), Admission::Banned);
        assert_eq!(admit(&state, &t, 6, false, 0, 0), Admission::Banned);
    }

    #[test]
    fn resumes_do_not_count() {
        let t = "fw@1.0.1";
        let state = DeliveryState {
            target: Some(t.into()),
            count: 5,
            banned: false,
            last_ms: None,
        };
        assert_eq!(
            admit(&state, t, 6, false, 0, 0),
            Admission::Serve(state.clone())
        );
    }

    #[test]
    fn new_target_starts_a_new_count() {
        let state = DeliveryState {
            target: Some("fw@1.0.1".into()),
            count: 6,
            banned: true,
            last_ms: Some(5),
        };
        assert_eq!(
            admit(&state, "fw@1.0.2", 6, true, 0, 0),
            Admission::Serve(DeliveryState {
                target: Some("fw@1.0.2".into()),
                count: 1,
                banned: false,
                last_ms: Some(0)
            })
        );
    }

    #[test]
    fn reporting_the_target_clears_count_and_ban() {
        let state = DeliveryState {
            target: Some("fw@1.0.1".into()),
            count: 6,
            banned: true,
            last_ms: Some(5),
        };
        let reported = |fw: &str, version: &str| target_key(fw, &v(version));
        assert_eq!(
            after_report(&state, &reported("fw", "V1.0.1")),
            DeliveryState {
                target: Some("fw@1.0.1".into()),
                count: 0,
                banned: false,
                last_ms: None
            }
        );
        assert_eq!(after_report(&state, &reported("fw", "1.0.0")), state);
        assert_eq!(after_report(&state, &reported("other", "1.0.1")), state);
    }

    #[test]
    fn limit_of_one_bans_on_first_delivery() {
        assert_eq!(
            admit(&DeliveryState::default(), "t", 1, true, 0, 0),
            Admission::Serve(DeliveryState {
                target: Some("t".into()),
                count: 1,
                banned: true,
                last_ms: Some(0)
            })
        );
    }

    #[test]
    fn repeats_within_the_window_count_once() {
        let t = "fw@1.0.1";
        let window = 600_000;
        let mut state = DeliveryState::default();
        // (time of the download, fresh?, expected count after it)
        let cases: [(i64, bool, u32); 6] = [
            (0, true, 1),
            (1_000, true, 1),
            (599_999, true, 1),
            (600_000, true, 2),
            (600_500, false, 2),
            (1_300_000, true, 3),
        ];
        for (at, fresh, expect) in cases {
            match admit(&state, t, 6, fresh, at, window) {
                Admission::Serve(next) => {
                    assert_eq!(next.count, expect, "at {at}");
                    state = next;
                }
                Admission::Banned => panic!("refused at {at}"),
            }
        }
    }
}
