//! A due Luat device's part in its rollout's deliveries, decided against the rollout in three
//! steps, each applied by the rollout's coordinator (a Durable Object per plan target at the
//! edge) at once, so concurrent steps are ordered by the object and never retried:
//!
//! - [`attempt`]: the device asks and is due. Counted as eligible the first time, the rollout's
//!   gate, loop-upgrade protection (a banned device is refused), the first offer. Nothing is
//!   delivered yet: the answer (a 200 stream, or a `302` to a signed image URL) may never be read.
//! - [`handed`]: a stream of the image to the device ended, whole or not. The bytes it handed out
//!   extend what the device holds from byte 0 (so a download resumed with `Range` completes it);
//!   once every byte went out, that is a delivery: counted for loop-upgrade protection (repeats
//!   within the window count once, the `ban_after`th bans) and the device is marked delivered.
//! - [`reached`]: the device reports the target. Believed only after a delivery: it then
//!   succeeds (and its count and ban are cleared); otherwise it is recorded as
//!   `reported_without_delivery` and moves nothing.

use crate::leaf::code::Refusal;
use crate::model::rollout::{DevicePhase, DeviceRollout, RolloutSpec, RolloutState};
use crate::rules::ban::{admit, after_report, is_banned, Admission, DeliveryState};
use crate::rules::rollout::{rollout_gate, OfferRate};
use crate::rules::rollout_state::{
    on_eligible_seen, on_failure, on_offer, on_reported_without_delivery, on_success,
    DeviceFailure, Provenance, RolloutEvent, Step,
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
    /// First offers already made in the current rate window.
    pub rate: OfferRate,
    pub now_ms: i64,
}

/// The coordinator's verdict: the answer, and every record to store (unchanged when equal).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// `Ok` sends the image (or the redirect to it); `Err` is the device's refusal.
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

impl Verdict {
    fn of(state: &RolloutState, device: Option<&DeviceRollout>, delivery: &DeliveryState) -> Self {
        Verdict {
            answer: Ok(()),
            state: state.clone(),
            device: device.cloned(),
            delivery: delivery.clone(),
            first_offer: false,
            history: Vec::new(),
            events: Vec::new(),
        }
    }

    /// Applies a device transition: the new records, its history entry and its event.
    fn take(&mut self, plan_id: &str, step: Step) {
        self.history
            .extend(phase_entry(plan_id, self.device.as_ref(), &step.device));
        self.state = step.rollout;
        self.device = Some(step.device);
        self.events.extend(step.event);
    }
}

/// Decides one download attempt (see the module doc). The edge counts it only for a `GET` of the
/// whole image or a redirect to it; a `HEAD` or a partial range gets the same answer and stores
/// nothing.
pub fn attempt(a: &Attempt<'_>) -> Verdict {
    let mut v = Verdict::of(a.state, a.device, a.delivery);
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
    if is_banned(a.delivery, a.target) {
        fail_banned(a.spec, a.plan_id, a.now_ms, &mut v);
        v.answer = Err(Refusal::Banned);
        return v;
    }
    if let Some(step) = v
        .device
        .as_ref()
        .and_then(|d| on_offer(&v.state, d, a.now_ms))
    {
        v.take(a.plan_id, step);
        v.first_offer = true;
    }
    v
}

/// A stream of the image to a device ended: what the coordinator knows then.
#[derive(Debug, Clone)]
pub struct Handed<'a> {
    pub spec: &'a RolloutSpec,
    pub state: &'a RolloutState,
    pub plan_id: &'a str,
    pub device: &'a DeviceRollout,
    pub delivery: &'a DeliveryState,
    /// The bytes of the image from byte 0 that streams to the device had handed out before this
    /// one, since its last delivery.
    pub covered: u64,
    pub target: &'a str,
    pub ban_after: u32,
    /// The image's size, the stream's first byte and how many bytes it handed out.
    pub size: u64,
    pub start: u64,
    pub bytes: u64,
    pub now_ms: i64,
    /// Deliveries of the target within this long of the last counted one count once.
    pub window_ms: i64,
}

/// The verdict on an ended stream: the records to store and the device's new coverage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandedVerdict {
    pub verdict: Verdict,
    pub covered: u64,
    /// Every byte went out: a delivery (counted against `ban_after` unless within the window).
    pub delivered: bool,
}

/// What the device holds from byte 0 after a stream handed out `bytes` from `start`: a stream
/// that starts within what it held extends it; one that starts beyond it (a gap) adds nothing.
pub fn coverage(covered: u64, start: u64, bytes: u64, size: u64) -> u64 {
    if start <= covered {
        covered.max(start.saturating_add(bytes)).min(size)
    } else {
        covered
    }
}

/// Decides an ended stream (see the module doc). A device banned meanwhile gets no delivery.
pub fn handed(h: &Handed<'_>) -> HandedVerdict {
    let mut v = Verdict::of(h.state, Some(h.device), h.delivery);
    let covered = coverage(h.covered, h.start, h.bytes, h.size);
    if covered < h.size.max(1) {
        return HandedVerdict {
            verdict: v,
            covered,
            delivered: false,
        };
    }
    let done = |verdict| HandedVerdict {
        verdict,
        covered: 0,
        delivered: true,
    };
    let next = match admit(
        h.delivery,
        h.target,
        h.ban_after,
        true,
        h.now_ms,
        h.window_ms,
    ) {
        Admission::Banned => return done(v),
        Admission::Serve(next) => next,
    };
    if next != *h.delivery {
        v.history.push((
            "delivery",
            format!("{} ({} of {})", h.target, next.count, h.ban_after),
        ));
    }
    let newly_banned = next.banned && !h.delivery.banned;
    v.delivery = next;
    v.device = Some(DeviceRollout {
        delivered: true,
        ..h.device.clone()
    });
    if newly_banned {
        // This delivery was the last one allowed: the device is banned from now on, and its
        // ban is the outcome that spends the delivery.
        v.history.push((
            "banned",
            format!("{} deliveries of {}", v.delivery.count, h.target),
        ));
        fail_banned(h.spec, h.plan_id, h.now_ms, &mut v);
    }
    done(v)
}

/// A Luat device reported the rollout's target ([`crate::rules::ban::target_key`] `target`):
/// a success when this rollout delivered it the whole image since its last outcome (its
/// loop-upgrade count and any ban are cleared), else a report without delivery that changes
/// nothing but its flag and count, leaving a failed or banned device as it is.
pub fn reached(
    spec: &RolloutSpec,
    state: &RolloutState,
    plan_id: &str,
    device: &DeviceRollout,
    delivery: &DeliveryState,
    target: &str,
    now_ms: i64,
) -> Verdict {
    let mut v = Verdict::of(state, Some(device), delivery);
    if device.delivered {
        if let Some(step) = on_success(spec, state, device, now_ms) {
            v.take(plan_id, step);
        }
        v.delivery = after_report(delivery, target);
    } else if let Some(step) = on_reported_without_delivery(state, device) {
        v.history.push((
            "reported_without_delivery",
            format!("{plan_id}: reported {target} without a whole image from this rollout"),
        ));
        v.take(plan_id, step);
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

fn fail_banned(spec: &RolloutSpec, plan_id: &str, now_ms: i64, v: &mut Verdict) {
    let Some(dev) = v.device.as_ref().filter(|d| d.phase != DevicePhase::Banned) else {
        return;
    };
    if let Some(step) = on_failure(spec, &v.state, dev, DeviceFailure::Banned, now_ms) {
        v.take(plan_id, step);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::rollout_state::start;

    const TARGET: &str = "fw@1.0.1";
    const ID: &str = "862419074072389";
    const REGISTERED: Provenance = Provenance {
        signed: false,
        listed: false,
        registered: true,
        first_seen_ms: -1,
    };

    fn spec(json: &str) -> RolloutSpec {
        serde_json::from_str(json).unwrap()
    }

    fn deliveries(count: u32, banned: bool, last_ms: Option<i64>) -> DeliveryState {
        DeliveryState {
            target: Some(TARGET.into()),
            count,
            banned,
            last_ms,
        }
    }

    /// A rollout at 100% and the device in `phase` in it (offered first, then its outcome).
    fn device_in(phase: DevicePhase) -> (RolloutSpec, RolloutState, DeviceRollout) {
        let spec = spec(r#"{"stages":[100]}"#);
        let seen = on_eligible_seen(&spec, &start(&spec, 0), "p", ID, &REGISTERED, 0).unwrap();
        let mut step = seen;
        if phase != DevicePhase::Idle {
            step = on_offer(&step.rollout, &step.device, 1).unwrap();
        }
        let failure = match phase {
            DevicePhase::Failed => Some(DeviceFailure::JobTimedOut),
            DevicePhase::Banned => Some(DeviceFailure::Banned),
            _ => None,
        };
        if let Some(failure) = failure {
            step = on_failure(&spec, &step.rollout, &step.device, failure, 2).unwrap();
        }
        if phase == DevicePhase::Succeeded {
            step = on_success(&spec, &step.rollout, &step.device, 2).unwrap();
        }
        (spec, step.rollout, step.device)
    }

    fn kinds(v: &Verdict) -> Vec<&'static str> {
        v.history.iter().map(|h| h.0).collect()
    }

    struct AttemptCase {
        spec: &'static str,
        delivery: (u32, bool),
        offers: u32,
        answer: Result<(), Refusal>,
        phase: Option<DevicePhase>,
        first_offer: bool,
        history: &'static [&'static str],
    }

    #[track_caller]
    fn check_attempt(c: AttemptCase) {
        let spec = spec(c.spec);
        let state = start(&spec, 0);
        let delivery = deliveries(c.delivery.0, c.delivery.1, None);
        let v = attempt(&Attempt {
            spec: &spec,
            state: &state,
            plan_id: "p",
            device_id: ID,
            device: None,
            delivery: &delivery,
            target: TARGET,
            now_ms: 1_000,
            from: &REGISTERED,
            rate: OfferRate {
                offers: c.offers,
                unverified: 0,
            },
        });
        assert_eq!(v.answer, c.answer, "answer");
        assert_eq!(v.device.as_ref().map(|d| d.phase), c.phase, "device phase");
        assert_eq!(v.delivery, delivery, "an attempt counts no delivery");
        assert!(
            v.device.as_ref().is_none_or(|d| !d.delivered),
            "nor marks one"
        );
        assert_eq!(v.first_offer, c.first_offer, "first offer");
        assert_eq!(kinds(&v), c.history, "history");
        assert_eq!(
            v.state.totals.eligible,
            u64::from(c.phase.is_some()),
            "counted once as eligible"
        );
    }

    #[test]
    fn attempts() {
        use DevicePhase::*;
        // A first attempt at 100%: counted, offered; the image has not gone out yet.
        check_attempt(AttemptCase {
            spec: r#"{"stages":[100]}"#,
            delivery: (0, false),
            offers: 0,
            answer: Ok(()),
            phase: Some(Offered),
            first_offer: true,
            history: &["offered"],
        });
        // Five deliveries so far: served, and still five until a sixth completes.
        check_attempt(AttemptCase {
            spec: r#"{"stages":[100]}"#,
            delivery: (5, false),
            offers: 0,
            answer: Ok(()),
            phase: Some(Offered),
            first_offer: true,
            history: &["offered"],
        });
        // Banned before it was ever offered here: refused; an idle device has no outcome to count.
        check_attempt(AttemptCase {
            spec: r#"{"stages":[100]}"#,
            delivery: (6, true),
            offers: 0,
            answer: Err(Refusal::Banned),
            phase: Some(Idle),
            first_offer: false,
            history: &[],
        });
        // The rate limit is spent: counted as eligible, refused.
        check_attempt(AttemptCase {
            spec: r#"{"stages":[100],"max_per_minute":5}"#,
            delivery: (0, false),
            offers: 5,
            answer: Err(Refusal::NotOfferingNow),
            phase: Some(Idle),
            first_offer: false,
            history: &[],
        });
        // Verifying and not a test device: counted in its cohort, refused.
        check_attempt(AttemptCase {
            spec: r#"{"stages":[100],"verify_devices":["T1"]}"#,
            delivery: (0, false),
            offers: 0,
            answer: Err(Refusal::NotInDeviceSet),
            phase: Some(Idle),
            first_offer: false,
            history: &[],
        });
    }

    #[test]
    fn coverage_from_byte_zero() {
        // (held, stream start, bytes handed, size) -> held after
        for (covered, start, bytes, size, expect) in [
            (0, 0, 1000, 1000, 1000),
            (0, 0, 400, 1000, 400),
            (400, 400, 600, 1000, 1000),
            (400, 100, 900, 1000, 1000),
            (400, 100, 200, 1000, 400),
            (400, 401, 599, 1000, 400),
            (400, 999, 1, 1000, 400),
            (0, 0, 0, 1000, 0),
            (0, 0, 5000, 1000, 1000),
            (0, u64::MAX, u64::MAX, 1000, 0),
        ] {
            assert_eq!(
                coverage(covered, start, bytes, size),
                expect,
                "{covered} + {start}..+{bytes} of {size}"
            );
        }
    }

    struct HandedCase {
        what: &'static str,
        covered: u64,
        start: u64,
        bytes: u64,
        delivery: DeliveryState,
        /// Coverage after, the delivery count and ban after, the device's phase and flag.
        expect: (u64, u32, bool, DevicePhase, bool),
        history: &'static [&'static str],
    }

    #[track_caller]
    fn check_handed(c: HandedCase) {
        let (spec, state, device) = device_in(DevicePhase::Offered);
        let now_ms = 1_000_000;
        let h = handed(&Handed {
            spec: &spec,
            state: &state,
            plan_id: "p",
            device: &device,
            delivery: &c.delivery,
            covered: c.covered,
            target: TARGET,
            ban_after: 6,
            size: 1000,
            start: c.start,
            bytes: c.bytes,
            now_ms,
            window_ms: 600_000,
        });
        let d = h.verdict.device.as_ref().unwrap();
        assert_eq!(
            (
                h.covered,
                h.verdict.delivery.count,
                h.verdict.delivery.banned,
                d.phase,
                d.delivered
            ),
            c.expect,
            "{}",
            c.what
        );
        assert_eq!(kinds(&h.verdict), c.history, "{}", c.what);
    }

    #[test]
    fn streams_that_end() {
        use DevicePhase::*;
        let none = deliveries(0, false, None);
        for c in [
            HandedCase {
                what: "a whole stream is a delivery",
                covered: 0,
                start: 0,
                bytes: 1000,
                delivery: none.clone(),
                expect: (0, 1, false, Offered, true),
                history: &["delivery"],
            },
            HandedCase {
                what: "an abandoned stream is not; what went out is kept",
                covered: 0,
                start: 0,
                bytes: 400,
                delivery: none.clone(),
                expect: (400, 0, false, Offered, false),
                history: &[],
            },
            HandedCase {
                what: "a resume that completes it is",
                covered: 400,
                start: 400,
                bytes: 600,
                delivery: none.clone(),
                expect: (0, 1, false, Offered, true),
                history: &["delivery"],
            },
            HandedCase {
                what: "a tail beyond what went out is not",
                covered: 400,
                start: 900,
                bytes: 100,
                delivery: none.clone(),
                expect: (400, 0, false, Offered, false),
                history: &[],
            },
            HandedCase {
                what: "the sixth delivery bans, and the ban spends it",
                covered: 0,
                start: 0,
                bytes: 1000,
                delivery: deliveries(5, false, None),
                expect: (0, 6, true, Banned, false),
                history: &["delivery", "banned", "banned"],
            },
            HandedCase {
                what: "a device banned meanwhile gets nothing",
                covered: 0,
                start: 0,
                bytes: 1000,
                delivery: deliveries(6, true, Some(1)),
                expect: (0, 6, true, Offered, false),
                history: &[],
            },
            HandedCase {
                what: "within the window: delivered, counted once",
                covered: 0,
                start: 0,
                bytes: 1000,
                delivery: deliveries(1, false, Some(1_000_000 - 599_999)),
                expect: (0, 1, false, Offered, true),
                history: &[],
            },
            HandedCase {
                what: "past the window: counted again",
                covered: 0,
                start: 0,
                bytes: 1000,
                delivery: deliveries(1, false, Some(1_000_000 - 600_000)),
                expect: (0, 2, false, Offered, true),
                history: &["delivery"],
            },
        ] {
            check_handed(c);
        }
    }

    /// (phase before, delivered, ban count and flag) -> (phase, flagged, ban count and flag,
    /// history, succeeded and reported_without_delivery in the totals)
    #[track_caller]
    fn check_reached(
        phase: DevicePhase,
        delivered: bool,
        delivery: (u32, bool),
        expect: (DevicePhase, bool, (u32, bool)),
        history: &[&str],
        totals: (u64, u64),
    ) {
        let (spec, state, device) = device_in(phase);
        let device = DeviceRollout {
            delivered,
            ..device
        };
        let before = deliveries(delivery.0, delivery.1, Some(1));
        let v = reached(&spec, &state, "p", &device, &before, TARGET, 10);
        let d = v.device.as_ref().unwrap();
        assert_eq!(
            (
                d.phase,
                d.reported_without_delivery,
                (v.delivery.count, v.delivery.banned)
            ),
            expect,
            "{phase:?} delivered {delivered}"
        );
        assert_eq!(kinds(&v), history, "{phase:?} delivered {delivered}");
        assert_eq!(
            (
                v.state.totals.succeeded,
                v.state.totals.reported_without_delivery
            ),
            totals,
            "{phase:?} delivered {delivered}"
        );
        assert!(!d.delivered || d.phase != DevicePhase::Succeeded);
    }

    #[test]
    fn a_report_is_a_success_only_after_a_delivery() {
        use DevicePhase::*;
        const RWD: &str = "reported_without_delivery";
        // Delivered, then the report: a success; its count is cleared.
        check_reached(
            Offered,
            true,
            (1, false),
            (Succeeded, false, (0, false)),
            &["succeeded"],
            (1, 0),
        );
        // Offered (a redirect, an abandoned stream) and the report: not believed.
        check_reached(
            Offered,
            false,
            (0, false),
            (Offered, true, (0, false)),
            &[RWD],
            (0, 1),
        );
        // Timed out, then a report with no new delivery: stays failed.
        check_reached(
            Failed,
            false,
            (1, false),
            (Failed, true, (1, false)),
            &[RWD],
            (0, 1),
        );
        // Banned, then a report: stays banned, and the ban stays.
        check_reached(
            Banned,
            false,
            (6, true),
            (Banned, true, (6, true)),
            &[RWD],
            (0, 1),
        );
        // Timed out, delivered again, then the report: a late success.
        check_reached(
            Failed,
            true,
            (2, false),
            (Succeeded, false, (0, false)),
            &["succeeded"],
            (1, 0),
        );
        // Unbanned by an operator (count cleared), delivered again: a success.
        check_reached(
            Banned,
            true,
            (1, false),
            (Succeeded, false, (0, false)),
            &["succeeded"],
            (1, 0),
        );
        // Seen, never offered: nothing to succeed; the report is not believed either.
        check_reached(
            Idle,
            false,
            (0, false),
            (Idle, true, (0, false)),
            &[RWD],
            (0, 1),
        );
        // Succeeded already: nothing changes.
        check_reached(
            Succeeded,
            false,
            (0, false),
            (Succeeded, false, (0, false)),
            &[],
            (1, 0),
        );
    }
}
