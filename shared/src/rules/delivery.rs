//! One download attempt by a device an upgrade is due for, decided at once against its rollout:
//! counted as eligible the first time, the rollout's gate, loop-upgrade protection, the first
//! offer. The rollout's coordinator (a Durable Object per plan target at the edge) applies the
//! verdict in one step, so concurrent attempts are ordered by the object and never retried.

use crate::leaf::code::Refusal;
use crate::model::rollout::{DevicePhase, DeviceRollout, RolloutSpec, RolloutState};
use crate::rules::ban::{admit, Admission, DeliveryState};
use crate::rules::rollout::{rollout_gate, OfferRate};
use crate::rules::rollout_state::{
    on_eligible_seen, on_failure, on_offer, DeviceFailure, Provenance, RolloutEvent,
};

/// What the coordinator knows when a due device asks.
#[derive(Debug, Clone)]
pub struct Attempt<'a> {
    pub spec: &'a RolloutSpec,
    pub state: &'a RolloutState,
    pub plan_id: &'a str,
    pub device_id: &'a str,
    /// What the edge knows of the device, for its standing at first sight.
    pub from: &'a Provenance,
    /// The device's row in this rollout, `None` before its first sight.
    pub device: Option<&'a DeviceRollout>,
    /// Its deliveries of this target so far.
    pub delivery: &'a DeliveryState,
    /// [`crate::rules::ban::target_key`] of the plan's target.
    pub target: &'a str,
    pub ban_after: u32,
    /// The whole image from byte 0 by `GET` (or a redirect to it): counts as a delivery; a
    /// resume, another partial range or a `HEAD` does not.
    pub fresh: bool,
    pub now_ms: i64,
    /// Deliveries of the target within this long of the last counted one count once.
    pub window_ms: i64,
    /// First offers already made in the current rate window.
    pub rate: OfferRate,
}

/// The coordinator's verdict: the answer, and every record to store (unchanged when equal).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// `Ok` sends the image; `Err` is the device's refusal.
    pub answer: Result<(), Refusal>,
    pub state: RolloutState,
    pub device: Option<DeviceRollout>,
    pub delivery: DeliveryState,
    /// The device's first offer in this rollout (one more against `max_per_minute`).
    pub first_offer: bool,
    /// History entries for the device: (kind, detail).
    pub history: Vec<(&'static str, String)>,
    pub events: Vec<RolloutEvent>,
}

/// Decides one download attempt (see the module doc).
pub fn attempt(a: &Attempt<'_>) -> Verdict {
    let mut v = Verdict {
        answer: Ok(()),
        state: a.state.clone(),
        device: a.device.cloned(),
        delivery: a.delivery.clone(),
        first_offer: false,
        history: Vec::new(),
        events: Vec::new(),
    };
    if v.device.is_none() {
        if let Some(step) =
            on_eligible_seen(a.spec, &v.state, a.plan_id, a.device_id, a.from, a.now_ms)
        {
            v.state = step.rollout;
            v.device = Some(step.device);
        }
    }
    if let Err(refused) = rollout_gate(
        a.spec,
        &v.state,
        a.plan_id,
        a.device_id,
        v.device.as_ref(),
        a.now_ms,
        a.rate,
    ) {
        v.answer = Err(refused);
        return v;
    }
    let next = match admit(
        a.delivery,
        a.target,
        a.ban_after,
        a.fresh,
        a.now_ms,
        a.window_ms,
    ) {
        Admission::Banned => {
            fail_banned(a, &mut v);
            v.answer = Err(Refusal::Banned);
            return v;
        }
        Admission::Serve(next) => next,
    };
    if let Some(step) = v
        .device
        .as_ref()
        .and_then(|d| on_offer(&v.state, d, a.now_ms))
    {
        v.history
            .extend(phase_entry(a.plan_id, v.device.as_ref(), &step.device));
        v.state = step.rollout;
        v.first_offer = true;
        v.device = Some(step.device);
    }
    if a.fresh && next != *a.delivery {
        v.history.push((
            "delivery",
            format!("{} ({} of {})", a.target, next.count, a.ban_after),
        ));
    }
    let newly_banned = next.banned && !a.delivery.banned;
    v.delivery = next;
    if newly_banned {
        // This delivery was the last one allowed: the device is banned from now on.
        v.history.push((
            "banned",
            format!("{} deliveries of {}", v.delivery.count, a.target),
        ));
        fail_banned(a, &mut v);
    }
    v
}

/// The history entry a device's move to a new phase in rollout `plan_id` leaves: the phase, and
/// the plan with the cause. `None` when the phase did not change, or for `idle`.
pub fn phase_entry(
    plan_id: &str,
    before: Option<&DeviceRollout>,
    after: &DeviceRollout,
) -> Option<(&'static str, String)> {
    if before.map(|b| b.phase) == Some(after.phase) || after.phase == DevicePhase::Idle {
        return None;
    }
    let detail = match &after.cause {
        Some(cause) => format!("{plan_id}: {cause}"),
        None => plan_id.to_string(),
    };
    Some((after.phase.as_str(), detail))
}

fn fail_banned(a: &Attempt<'_>, v: &mut Verdict) {
    let Some(dev) = v.device.as_ref().filter(|d| d.phase != DevicePhase::Banned) else {
        return;
    };
    if let Some(step) = on_failure(a.spec, &v.state, dev, DeviceFailure::Banned, a.now_ms) {
        v.history
            .extend(phase_entry(a.plan_id, Some(dev), &step.device));
        v.state = step.rollout;
        v.device = Some(step.device);
        v.events.extend(step.event);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::rollout_state::start;

    fn spec(json: &str) -> RolloutSpec {
        serde_json::from_str(json).unwrap()
    }

    struct Case {
        spec: &'static str,
        delivery: (u32, bool),
        fresh: bool,
        offers: u32,
        answer: Result<(), Refusal>,
        phase: Option<DevicePhase>,
        count: u32,
        first_offer: bool,
        history: &'static [&'static str],
    }

    #[track_caller]
    fn check(c: Case) {
        let spec = spec(c.spec);
        let state = start(&spec, 0);
        let delivery = DeliveryState {
            target: Some("fw@1.0.1".into()),
            count: c.delivery.0,
            banned: c.delivery.1,
            last_ms: None,
        };
        let v = attempt(&Attempt {
            spec: &spec,
            state: &state,
            plan_id: "p",
            device_id: "862419074072389",
            device: None,
            delivery: &delivery,
            target: "fw@1.0.1",
            ban_after: 6,
            fresh: c.fresh,
            now_ms: 1_000,
            window_ms: 600_000,
            from: &Provenance {
                signed: false,
                listed: false,
                registered: true,
                first_seen_ms: -1,
            },
            rate: OfferRate {
                offers: c.offers,
                unverified: 0,
            },
        });
        assert_eq!(v.answer, c.answer, "answer");
        assert_eq!(v.device.as_ref().map(|d| d.phase), c.phase, "device phase");
        assert_eq!(v.delivery.count, c.count, "delivery count");
        assert_eq!(v.first_offer, c.first_offer, "first offer");
        assert_eq!(
            v.history.iter().map(|h| h.0).collect::<Vec<_>>(),
            c.history,
            "history"
        );
        assert_eq!(
            v.state.totals.eligible,
            u64::from(c.phase.is_some()),
            "counted once as eligible"
        );
    }

    #[test]
    fn attempts() {
        use DevicePhase::*;
        // A first fresh download at 100%: counted, offered, one delivery.
        check(Case {
            spec: r#"{"stages":[100]}"#,
            delivery: (0, false),
            fresh: true,
            offers: 0,
            answer: Ok(()),
            phase: Some(Offered),
            count: 1,
            first_offer: true,
            history: &["offered", "delivery"],
        });
        // A resume counts no delivery but is still the first offer.
        check(Case {
            spec: r#"{"stages":[100]}"#,
            delivery: (0, false),
            fresh: false,
            offers: 0,
            answer: Ok(()),
            phase: Some(Offered),
            count: 0,
            first_offer: true,
            history: &["offered"],
        });
        // The sixth delivery is served and bans.
        check(Case {
            spec: r#"{"stages":[100]}"#,
            delivery: (5, false),
            fresh: true,
            offers: 0,
            answer: Ok(()),
            phase: Some(Banned),
            count: 6,
            first_offer: true,
            history: &["offered", "delivery", "banned", "banned"],
        });
        // Banned before it was ever offered here: refused; an idle device has no outcome to count.
        check(Case {
            spec: r#"{"stages":[100]}"#,
            delivery: (6, true),
            fresh: true,
            offers: 0,
            answer: Err(Refusal::Banned),
            phase: Some(Idle),
            count: 6,
            first_offer: false,
            history: &[],
        });
        // The rate limit is spent: counted as eligible, refused, nothing delivered.
        check(Case {
            spec: r#"{"stages":[100],"max_per_minute":5}"#,
            delivery: (0, false),
            fresh: true,
            offers: 5,
            answer: Err(Refusal::NotOfferingNow),
            phase: Some(Idle),
            count: 0,
            first_offer: false,
            history: &[],
        });
        // Verifying and not a test device: counted in its cohort, refused.
        check(Case {
            spec: r#"{"stages":[100],"verify_devices":["T1"]}"#,
            delivery: (0, false),
            fresh: true,
            offers: 0,
            answer: Err(Refusal::NotInDeviceSet),
            phase: Some(Idle),
            count: 0,
            first_offer: false,
            history: &[],
        });
    }
}
