//! Loop-upgrade protection: a device served the same target again and again without ever
//! reporting it (the new image does not take) is stopped until an operator lifts the ban.

use crate::version::Version;

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
}

/// The verdict on one download attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// Send the image; store the new state before answering.
    Serve(DeliveryState),
    /// Refuse; the device is banned for this target.
    Banned,
}

/// Decides a download of `target`. A `fresh` download (from byte 0) counts as a delivery; a
/// resume does not. The delivery that reaches `limit` is still served and bans the device, so a
/// device gets at most `limit` images of one target. A new target starts a new count.
pub fn admit(state: &DeliveryState, target: &str, limit: u32, fresh: bool) -> Admission {
    let same_target = state.target.as_deref() == Some(target);
    if same_target && state.banned {
        return Admission::Banned;
    }
    let count = if same_target { state.count } else { 0 };
    if !fresh {
        return Admission::Serve(DeliveryState { target: Some(target.to_string()), count, banned: false });
    }
    let count = count.saturating_add(1);
    Admission::Serve(DeliveryState { target: Some(target.to_string()), count, banned: count >= limit.max(1) })
}

/// The state after the device reported running `reported` of `firmware_name`: reporting the
/// counted target means the upgrade took, which clears the count and any ban for it.
pub fn after_report(state: &DeliveryState, firmware_name: &str, reported: &Version) -> DeliveryState {
    if state.target.as_deref() == Some(target_key(firmware_name, reported).as_str()) {
        DeliveryState { target: state.target.clone(), count: 0, banned: false }
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
            match admit(&state, &t, 6, true) {
                Admission::Serve(next) => {
                    assert_eq!(next.count, n);
                    assert_eq!(next.banned, n == 6);
                    state = next;
                }
                Admission::Banned => panic!("delivery {n} refused"),
            }
        }
        assert_eq!(admit(&state, &t, 6, true), Admission::Banned);
        assert_eq!(admit(&state, &t, 6, false), Admission::Banned);
    }

    #[test]
    fn resumes_do_not_count() {
        let t = "fw@1.0.1";
        let state = DeliveryState { target: Some(t.into()), count: 5, banned: false };
        assert_eq!(admit(&state, t, 6, false), Admission::Serve(state.clone()));
    }

    #[test]
    fn new_target_starts_a_new_count() {
        let state = DeliveryState { target: Some("fw@1.0.1".into()), count: 6, banned: true };
        assert_eq!(
            admit(&state, "fw@1.0.2", 6, true),
            Admission::Serve(DeliveryState { target: Some("fw@1.0.2".into()), count: 1, banned: false })
        );
    }

    #[test]
    fn reporting_the_target_clears_count_and_ban() {
        let state = DeliveryState { target: Some("fw@1.0.1".into()), count: 6, banned: true };
        assert_eq!(after_report(&state, "fw", &v("V1.0.1")), DeliveryState { target: Some("fw@1.0.1".into()), count: 0, banned: false });
        assert_eq!(after_report(&state, "fw", &v("1.0.0")), state);
        assert_eq!(after_report(&state, "other", &v("1.0.1")), state);
    }

    #[test]
    fn limit_of_one_bans_on_first_delivery() {
        assert_eq!(
            admit(&DeliveryState::default(), "t", 1, true),
            Admission::Serve(DeliveryState { target: Some("t".into()), count: 1, banned: true })
        );
    }
}
