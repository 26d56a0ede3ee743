//! Rollout progress: the rollout's phase, stage and per-stage counters, moved only by pure
//! transitions (a device seen, offered, succeeding or failing; an operator's control; time
//! passing), so the edge persists each result as it comes and never scans its device rows.
//!
//! Every counter change goes through [`count`], which updates one cohort and the totals together:
//! `totals` is always `verification` plus the sum of `stages`.

use crate::model::rollout::{
    DevicePhase, DeviceRollout, RolloutCounts, RolloutPhase, RolloutSpec, RolloutState, Standing,
};
use crate::rules::rollout::cohort_of;
use serde::{Deserialize, Serialize};

pub use crate::rules::provenance::Provenance;

/// How a device's upgrade failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeviceFailure {
    /// No success within the plan's `job_timeout_s` of the offer ([`job_timed_out`]).
    JobTimedOut,
    /// Loop-upgrade protection banned it ([`crate::rules::ban`]).
    Banned,
    /// The device reported a failure (a negative progress step, or an image that did not take).
    Reported(String),
}

/// What a transition did to the rollout as a whole, for the edge to log or notify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RolloutEvent {
    /// Every test device reported the target: the rollout moved to its first stage.
    VerificationPassed,
    /// A signed test device failed or verification timed out: the rollout failed.
    VerificationFailed,
    /// A test device that signs nothing failed (banned, or its job timed out): anyone could cause
    /// that by downloading with its id, so the rollout paused for the operator instead of failing.
    VerificationHeld,
    /// A stage's failure ratio went above the maximum: the rollout paused itself.
    GateTripped,
    /// The rollout moved to its next stage by itself.
    Advanced,
    /// The rollout advanced past its last stage.
    Completed,
}

/// The result of a device transition: both records to store, and what happened to the rollout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub rollout: RolloutState,
    pub device: DeviceRollout,
    pub event: Option<RolloutEvent>,
}

pub use crate::rules::rollout_control::{control, ControlError};

/// A new rollout: verifying when it lists test devices, else running its first stage.
pub fn start(spec: &RolloutSpec, now_ms: i64) -> RolloutState {
    let verifying = !spec.verify_devices.is_empty();
    RolloutState {
        phase: if verifying {
            RolloutPhase::Verifying
        } else {
            RolloutPhase::Running
        },
        stage: if verifying { -1 } else { 0 },
        paused_reason: None,
        failed_reason: None,
        started_ms: now_ms,
        stage_started_ms: now_ms,
        verification: RolloutCounts::default(),
        stages: vec![RolloutCounts::default(); spec.stages.len()],
        totals: RolloutCounts::default(),
        unverified: RolloutCounts::default(),
        judged_apart: false,
    }
}

/// The counters of a cohort. A cohort past the end (the stages were shortened) is counted in the
/// last stage, where [`reconcile`] folded its earlier counts.
fn cohort(state: &RolloutState, cohort: i32) -> RolloutCounts {
    match cohort {
        c if c < 0 => state.verification,
        c => state
            .stages
            .get(c as usize)
            .or(state.stages.last())
            .copied()
            .unwrap_or_default(),
    }
}

/// The one way counters change: the same edit to a cohort and to the totals, or for an
/// unverified device to its own counts only.
fn count(state: &mut RolloutState, device: &DeviceRollout, edit: impl Fn(&mut RolloutCounts)) {
    let cohort = device.cohort;
    if device.standing == Standing::Unverified {
        edit(&mut state.unverified);
        return;
    }
    if cohort < 0 {
        edit(&mut state.verification);
    } else {
        if state.stages.is_empty() {
            state.stages.push(RolloutCounts::default());
        }
        let last = state.stages.len() - 1;
        edit(&mut state.stages[(cohort as usize).min(last)]);
    }
    edit(&mut state.totals);
}

fn outcomes(c: &RolloutCounts) -> u64 {
    c.succeeded + c.failed + c.banned
}

/// Is the failed share of the outcomes above the maximum? Exact: `failures/outcomes > ppm/10^6`.
fn failure_ratio_above(spec: &RolloutSpec, c: &RolloutCounts) -> bool {
    let max_ppm = spec.max_failure_ratio.ppm().max(0) as u128;
    u128::from(c.failed + c.banned) * 1_000_000 > max_ppm * u128::from(outcomes(c))
}

/// The device is first seen due for the plan: it joins the rollout as `idle` in its cohort, with
/// its standing fixed for good. `None` when no stage reaches its bucket, so it is not part of the
/// rollout (and gets no row).
pub fn on_eligible_seen(
    spec: &RolloutSpec,
    state: &RolloutState,
    plan_id: &str,
    device_id: &str,
    from: &Provenance,
    now_ms: i64,
) -> Option<Step> {
    let cohort = cohort_of(spec, plan_id, device_id)?;
    let mut rollout = state.clone();
    let standing = from.standing(spec, device_id, state.started_ms);
    let device = DeviceRollout {
        device_id: device_id.to_string(),
        cohort,
        phase: DevicePhase::Idle,
        since_ms: now_ms,
        offered_ms: None,
        cause: None,
        standing,
        delivered: false,
        reported_without_delivery: false,
    };
    count(&mut rollout, &device, |c| c.eligible += 1);
    Some(Step {
        rollout,
        device,
        event: None,
    })
}

/// The device was sent the image for the first time. `None` for a device offered before: only
/// first offers count (and only they count against the rate limit).
pub fn on_offer(state: &RolloutState, device: &DeviceRollout, now_ms: i64) -> Option<Step> {
    (device.phase == DevicePhase::Idle).then(|| {
        offered(state, device.clone(), now_ms, |c| {
            c.offered += 1;
            c.pending += 1;
        })
    })
}

/// `device` offered (again) at `now_ms`, its cause cleared, the counts moved by `edit`.
fn offered(
    state: &RolloutState,
    device: DeviceRollout,
    now_ms: i64,
    edit: impl Fn(&mut RolloutCounts),
) -> Step {
    let mut rollout = state.clone();
    count(&mut rollout, &device, edit);
    Step {
        rollout,
        device: DeviceRollout {
            phase: DevicePhase::Offered,
            since_ms: now_ms,
            offered_ms: Some(now_ms),
            cause: None,
            ..device
        },
        event: None,
    }
}

/// The device reported the target version. A late success after a timeout or a lifted ban moves
/// the device from `failed`/`banned` to `succeeded`. `None` when nothing changes. A Luat device's
/// report reaches this only after a delivery ([`crate::rules::delivery::reached`]).
pub fn on_success(
    spec: &RolloutSpec,
    state: &RolloutState,
    device: &DeviceRollout,
    now_ms: i64,
) -> Option<Step> {
    settle(spec, state, device, DevicePhase::Succeeded, None, now_ms)
}

/// The device reported the target although this rollout has not handed it the whole image since
/// its last outcome: the report is not believed. The device keeps its phase (an offered device
/// stays pending), is flagged and counted once in `reported_without_delivery`, and nothing is
/// judged: no gate, stage or verification moves. `None` for a device that succeeded already or
/// is flagged already.
pub fn on_reported_without_delivery(state: &RolloutState, device: &DeviceRollout) -> Option<Step> {
    if device.phase == DevicePhase::Succeeded || device.reported_without_delivery {
        return None;
    }
    let mut rollout = state.clone();
    count(&mut rollout, device, |c| c.reported_without_delivery += 1);
    Some(Step {
        rollout,
        device: DeviceRollout {
            reported_without_delivery: true,
            ..device.clone()
        },
        event: None,
    })
}

/// The device's upgrade failed. A banned device that had timed out moves to `banned`.
pub fn on_failure(
    spec: &RolloutSpec,
    state: &RolloutState,
    device: &DeviceRollout,
    failure: DeviceFailure,
    now_ms: i64,
) -> Option<Step> {
    let (phase, cause) = match &failure {
        DeviceFailure::JobTimedOut => (
            DevicePhase::Failed,
            "no success within job_timeout_s of the offer",
        ),
        DeviceFailure::Banned => (DevicePhase::Banned, "banned after repeated deliveries"),
        DeviceFailure::Reported(cause) => (DevicePhase::Failed, cause.as_str()),
    };
    settle(spec, state, device, phase, Some(cause), now_ms)
}

/// An operator lifted the device's ban: a banned device is offered again (its job restarts at
/// `now_ms`, its cause cleared, no delivery since), so its row, the counts and the dashboard stop
/// saying banned; a success still needs a new delivery. Any other phase is left as it is.
pub fn on_unban(state: &RolloutState, device: &DeviceRollout, now_ms: i64) -> Option<Step> {
    (device.phase == DevicePhase::Banned).then(|| {
        let device = DeviceRollout {
            delivered: false,
            ..device.clone()
        };
        offered(state, device, now_ms, |c| {
            c.banned = c.banned.saturating_sub(1);
            c.pending += 1;
        })
    })
}

/// An operator cancelled the device's upgrade: an offered device goes back to `idle` (no longer
/// pending nor counted offered, so its job can neither time out into a failure nor move the gate;
/// offered again after an uncancel it counts once). Any other phase is left as it is.
pub fn on_cancel(state: &RolloutState, device: &DeviceRollout, now_ms: i64) -> Option<Step> {
    (device.phase == DevicePhase::Offered).then(|| {
        let mut rollout = state.clone();
        count(&mut rollout, device, |c| {
            c.pending = c.pending.saturating_sub(1);
            c.offered = c.offered.saturating_sub(1);
        });
        Step {
            rollout,
            device: DeviceRollout {
                phase: DevicePhase::Idle,
                since_ms: now_ms,
                offered_ms: None,
                cause: None,
                delivered: false,
                ..device.clone()
            },
            event: None,
        }
    })
}

/// Has an offered device run out of time? Its job times out `job_timeout_s` after the offer.
pub fn job_timed_out(device: &DeviceRollout, job_timeout_s: u64, now_ms: i64) -> bool {
    device.phase == DevicePhase::Offered
        && device.offered_ms.is_some_and(|at| {
            now_ms.saturating_sub(at)
                >= i64::try_from(job_timeout_s)
                    .unwrap_or(i64::MAX)
                    .saturating_mul(1000)
        })
}

fn settle(
    spec: &RolloutSpec,
    state: &RolloutState,
    device: &DeviceRollout,
    to: DevicePhase,
    cause: Option<&str>,
    now_ms: i64,
) -> Option<Step> {
    use DevicePhase::*;
    let from = device.phase;
    if !matches!(
        (from, to),
        (Offered, Succeeded | Failed | Banned) | (Failed, Succeeded | Banned) | (Banned, Succeeded)
    ) {
        return None;
    }
    let mut rollout = state.clone();
    // A flagged device that succeeds (after a delivery) is no longer an unbelieved report.
    let unflagged = to == Succeeded && device.reported_without_delivery;
    count(&mut rollout, device, |c| {
        match from {
            Offered => c.pending = c.pending.saturating_sub(1),
            Failed => c.failed = c.failed.saturating_sub(1),
            _ => c.banned = c.banned.saturating_sub(1),
        }
        match to {
            Succeeded => c.succeeded += 1,
            Failed => c.failed += 1,
            _ => c.banned += 1,
        }
        if unflagged {
            c.reported_without_delivery = c.reported_without_delivery.saturating_sub(1);
        }
    });
    // Every outcome spends the delivery: a failed or banned device succeeds only after a new one.
    let device = DeviceRollout {
        phase: to,
        since_ms: now_ms,
        cause: cause.map(String::from),
        delivered: false,
        reported_without_delivery: device.reported_without_delivery && !unflagged,
        ..device.clone()
    };
    let event = judge(spec, &mut rollout, &device, from, now_ms);
    Some(Step {
        rollout,
        device,
        event,
    })
}

/// What one device's new outcome means for the rollout: verification passes or fails, or the
/// health gate trips. Only a failure can trip the gate, except for the success that completes
/// the sample, so a rollout resumed over an unhealthy stage pauses again on its next failure.
fn judge(
    spec: &RolloutSpec,
    rollout: &mut RolloutState,
    device: &DeviceRollout,
    from: DevicePhase,
    now_ms: i64,
) -> Option<RolloutEvent> {
    if device.standing == Standing::Unverified {
        return None;
    }
    let failed = device.phase != DevicePhase::Succeeded;
    let verifying = rollout.stage < 0
        && matches!(
            rollout.phase,
            RolloutPhase::Verifying | RolloutPhase::Paused
        );
    if verifying && device.cohort < 0 {
        if failed && device.standing != Standing::Signed {
            // Its downloads are unsigned: anyone knowing its id can run up its deliveries to a ban,
            // or take its offer and let the job time out. The operator decides, not the stranger.
            if rollout.phase == RolloutPhase::Paused {
                return None;
            }
            rollout.phase = RolloutPhase::Paused;
            rollout.paused_reason = Some(format!(
                "verification device {} failed ({}), but its downloads are unsigned and anyone could cause that: check the device, unban it and resume, or cancel",
                device.device_id,
                device.cause.as_deref().unwrap_or("")
            ));
            return Some(RolloutEvent::VerificationHeld);
        }
        if failed {
            rollout.phase = RolloutPhase::Failed;
            rollout.failed_reason = Some(format!(
                "verification device {} failed: {}",
                device.device_id,
                device.cause.as_deref().unwrap_or("")
            ));
            return Some(RolloutEvent::VerificationFailed);
        }
        if rollout.verification.succeeded < spec.verify_devices.len() as u64 {
            return None;
        }
        // A paused verification that passes stays paused; resuming then runs the first stage.
        if rollout.phase == RolloutPhase::Verifying {
            rollout.phase = RolloutPhase::Running;
        }
        rollout.stage = 0;
        rollout.stage_started_ms = now_ms;
        return Some(RolloutEvent::VerificationPassed);
    }
    if rollout.judged_apart
        || rollout.phase != RolloutPhase::Running
        || device.cohort < 0
        || from != DevicePhase::Offered
    {
        return None;
    }
    let counts = cohort(rollout, device.cohort);
    let (n, min_sample) = (outcomes(&counts), u64::from(spec.min_sample.max(1)));
    if n < min_sample || !(failed || n == min_sample) || !failure_ratio_above(spec, &counts) {
        return None;
    }
    trip(spec, rollout, device.cohort, &counts);
    Some(RolloutEvent::GateTripped)
}

/// Pauses the rollout for a cohort whose failed share is above the maximum.
fn trip(spec: &RolloutSpec, rollout: &mut RolloutState, cohort: i32, counts: &RolloutCounts) {
    let percent = spec.stages.get(cohort as usize).copied().unwrap_or(100);
    rollout.phase = RolloutPhase::Paused;
    rollout.paused_reason = Some(format!(
        "stage {cohort} ({percent}%): {} of {} outcomes failed, above max_failure_ratio {}",
        counts.failed + counts.banned,
        outcomes(counts),
        spec.max_failure_ratio.as_f64()
    ));
}

/// A rollout spread over several coordinators: the first shard's state (phase, stage, reasons,
/// its own counts) with every other shard's counts added, as the operator sees it.
pub fn merge(first: &RolloutState, others: &[RolloutState]) -> RolloutState {
    let mut merged = first.clone();
    for other in others {
        merged.verification += other.verification;
        merged.totals += other.totals;
        merged.unverified += other.unverified;
        for (i, c) in other.stages.iter().enumerate() {
            match merged.stages.get_mut(i) {
                Some(to) => *to += *c,
                None => match merged.stages.last_mut() {
                    Some(last) => *last += *c,
                    None => merged.stages.push(*c),
                },
            }
        }
    }
    merged
}

/// The health gate on a sharded rollout's merged counts, from the last merge to this one: a
/// cohort that has its sample and a failed share above the maximum pauses the rollout when new
/// failures arrived or this merge completed the sample (as a single coordinator judges each
/// outcome: a rollout resumed over an unhealthy stage pauses again on its next failure).
pub fn judge_merged(
    spec: &RolloutSpec,
    before: &RolloutState,
    after: &RolloutState,
) -> Option<(RolloutState, RolloutEvent)> {
    if after.phase != RolloutPhase::Running {
        return None;
    }
    let min_sample = u64::from(spec.min_sample.max(1));
    let open = (after.stage.max(0) as usize + 1).min(after.stages.len());
    for (i, now) in after.stages.iter().enumerate().take(open) {
        let was = before.stages.get(i).copied().unwrap_or_default();
        let failed_more = now.failed + now.banned > was.failed + was.banned;
        let completes = outcomes(&was) < min_sample && outcomes(now) >= min_sample;
        if outcomes(now) >= min_sample
            && (failed_more || completes)
            && failure_ratio_above(spec, now)
        {
            let mut next = after.clone();
            trip(spec, &mut next, i as i32, now);
            return Some((next, RolloutEvent::GateTripped));
        }
    }
    None
}

pub(crate) fn advance(spec: &RolloutSpec, state: &mut RolloutState, now_ms: i64) -> RolloutEvent {
    state.stage_started_ms = now_ms;
    if state.stage + 1 < spec.stages.len() as i32 {
        state.stage += 1;
        state.phase = RolloutPhase::Running;
        RolloutEvent::Advanced
    } else {
        state.stage = state.stage.max(0);
        state.phase = RolloutPhase::Completed;
        RolloutEvent::Completed
    }
}

/// Time passing: verification times out `verify_timeout_s` after the start, and with
/// `auto_advance` a stage moves on once it has no pending devices, enough outcomes (`min_sample`,
/// or every eligible device of its slice when fewer), a failure ratio not above the maximum,
/// and `soak_s` behind it. The edge calls this on a schedule; `None` when nothing changes.
pub fn on_tick(
    spec: &RolloutSpec,
    state: &RolloutState,
    now_ms: i64,
) -> Option<(RolloutState, RolloutEvent)> {
    let mut next = state.clone();
    match state.phase {
        RolloutPhase::Verifying
            if now_ms - state.started_ms >= (spec.verify_timeout_s as i64).saturating_mul(1000) =>
        {
            next.phase = RolloutPhase::Failed;
            next.failed_reason = Some(format!(
                "verification timed out after {} s: {} of {} test devices reported the target",
                spec.verify_timeout_s,
                state.verification.succeeded,
                spec.verify_devices.len()
            ));
            Some((next, RolloutEvent::VerificationFailed))
        }
        RolloutPhase::Running if spec.auto_advance => {
            let c = cohort(state, state.stage);
            let enough = outcomes(&c) >= u64::from(spec.min_sample).min(c.eligible);
            let soaked =
                now_ms - state.stage_started_ms >= (spec.soak_s as i64).saturating_mul(1000);
            if c.pending > 0 || !enough || failure_ratio_above(spec, &c) || !soaked {
                return None;
            }
            let event = advance(spec, &mut next, now_ms);
            Some((next, event))
        }
        _ => None,
    }
}

/// Fits the counters to edited stages: added stages start at zero, and the counts of removed
/// ones fold into the new last stage, where their devices are counted from now on. The current
/// stage stays within the stages; devices already offered stay offered ([`crate::rules::rollout::rollout_gate`]).
pub fn reconcile(spec: &RolloutSpec, state: &RolloutState) -> RolloutState {
    let mut next = state.clone();
    let len = spec.stages.len().max(1);
    if next.stages.len() > len {
        let folded = next.stages.split_off(len);
        let last = &mut next.stages[len - 1];
        for c in folded {
            *last += c;
        }
    }
    next.stages.resize(len, RolloutCounts::default());
    next.stage = next.stage.min(len as i32 - 1);
    next
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::rollout::RolloutAction;
    use crate::rules::rollout::bucket;
    use std::collections::BTreeMap;
    use DevicePhase as D;
    use RolloutPhase as R;

    /// A rollout driven through its transitions the way the edge drives it, checking the counter
    /// invariants after every step.
    struct Run {
        spec: RolloutSpec,
        state: RolloutState,
        devices: BTreeMap<String, DeviceRollout>,
    }

    impl Run {
        fn new(json: &str) -> Run {
            let spec: RolloutSpec = serde_json::from_str(json).unwrap();
            Run {
                state: start(&spec, 0),
                spec,
                devices: BTreeMap::new(),
            }
        }

        fn apply(&mut self, step: Option<Step>) -> Option<RolloutEvent> {
            let step = step?;
            self.state = step.rollout;
            self.devices
                .insert(step.device.device_id.clone(), step.device);
            check_counters(&self.state);
            step.event
        }

        /// A device bound before the rollout started offered the image.
        fn offer(&mut self, id: &str, now: i64) {
            self.offer_as(id, &KNOWN, now)
        }

        fn offer_as(&mut self, id: &str, from: &Provenance, now: i64) {
            if !self.devices.contains_key(id) {
                let seen = on_eligible_seen(&self.spec, &self.state, "plan", id, from, now)
                    .expect("a stage reaches the device");
                assert_eq!(self.apply(Some(seen)), None, "first sight changes no phase");
            }
            let offered = on_offer(&self.state, &self.devices[id], now);
            self.apply(offered);
        }

        fn succeed(&mut self, id: &str, now: i64) -> Option<RolloutEvent> {
            let step = on_success(&self.spec, &self.state, &self.devices[id], now);
            self.apply(step)
        }

        fn fail(&mut self, id: &str, failure: DeviceFailure, now: i64) -> Option<RolloutEvent> {
            let step = on_failure(&self.spec, &self.state, &self.devices[id], failure, now);
            self.apply(step)
        }

        fn unproven(&mut self, id: &str) -> Option<RolloutEvent> {
            let step = on_reported_without_delivery(&self.state, &self.devices[id]);
            self.apply(step)
        }

        fn tick(&mut self, now: i64) -> Option<RolloutEvent> {
            let (state, event) = on_tick(&self.spec, &self.state, now)?;
            self.state = state;
            Some(event)
        }
    }

    const KNOWN: Provenance = Provenance {
        signed: false,
        listed: false,
        registered: true,
        first_seen_ms: -1,
    };

    const UNVERIFIED: Provenance = Provenance {
        signed: false,
        listed: false,
        registered: false,
        first_seen_ms: -1,
    };

    fn add(a: RolloutCounts, b: &RolloutCounts) -> RolloutCounts {
        RolloutCounts {
            eligible: a.eligible + b.eligible,
            offered: a.offered + b.offered,
            succeeded: a.succeeded + b.succeeded,
            failed: a.failed + b.failed,
            banned: a.banned + b.banned,
            pending: a.pending + b.pending,
            reported_without_delivery: a.reported_without_delivery + b.reported_without_delivery,
        }
    }

    #[track_caller]
    fn check_counters(state: &RolloutState) {
        assert_eq!(
            state.stages.iter().fold(state.verification, add),
            state.totals,
            "totals are verification plus the stages"
        );
        for c in state
            .stages
            .iter()
            .chain([&state.verification, &state.totals, &state.unverified])
        {
            assert_eq!(
                c.pending + c.succeeded + c.failed + c.banned,
                c.offered,
                "every offer is pending or has one outcome: {c:?}"
            );
            assert!(c.offered <= c.eligible, "{c:?}");
            assert!(c.reported_without_delivery <= c.eligible, "{c:?}");
        }
    }

    fn imei(serial: u32) -> String {
        format!("8624190{serial:08}")
    }

    /// Plays `outcomes` (S success, F job timeout, B ban) on fresh devices of the first stage and
    /// returns the outcome index at which the gate tripped.
    #[track_caller]
    fn check_gate_trip(min_sample: u32, max_ratio: f64, outcomes: &str, expect: Option<usize>) {
        let mut run = Run::new(&format!(
            r#"{{"stages":[100],"min_sample":{min_sample},"max_failure_ratio":{max_ratio}}}"#
        ));
        let mut tripped = None;
        for (n, outcome) in outcomes.chars().enumerate() {
            let id = imei(n as u32);
            run.offer(&id, 0);
            let event = match outcome {
                'S' => run.succeed(&id, 1),
                'F' => run.fail(&id, DeviceFailure::JobTimedOut, 1),
                _ => run.fail(&id, DeviceFailure::Banned, 1),
            };
            if event == Some(RolloutEvent::GateTripped) {
                assert_eq!(tripped, None, "the gate trips once");
                tripped = Some(n);
            }
        }
        assert_eq!(
            tripped, expect,
            "min_sample {min_sample}, max {max_ratio}, {outcomes}"
        );
        assert_eq!(
            run.state.phase,
            if expect.is_some() {
                R::Paused
            } else {
                R::Running
            }
        );
    }

    #[test]
    fn gate_trips_at_exactly_the_right_outcome() {
        check_gate_trip(10, 0.2, "SSSSSSSSFF", None); // 2/10 is the maximum, not above it
        check_gate_trip(10, 0.2, "SSSSSSSSFFF", Some(10)); // 3/11 is above
        check_gate_trip(10, 0.2, "FFFFFFFFF", None); // 9 outcomes are below the sample
        check_gate_trip(10, 0.2, "FFFSSSSSSS", Some(9)); // the success that completes the sample
        check_gate_trip(10, 0.2, "FFSSSSSSSSF", Some(10));
        check_gate_trip(10, 0.2, "SSSSSSSSSSSSFFFF", Some(15)); // 3/15 is the maximum, 4/16 is above
        check_gate_trip(10, 0.2, "BBSSSSSSSSB", Some(10)); // bans count as failures
        check_gate_trip(1, 0.0, "SSF", Some(2)); // zero tolerance
        check_gate_trip(0, 0.0, "F", Some(0)); // a sample of zero means one
        check_gate_trip(10, 1.0, "FFFFFFFFFFFF", None); // a ratio can never be above 1
    }

    #[test]
    fn gate_message_and_later_stages() {
        let mut run = Run::new(r#"{"stages":[100],"min_sample":2,"max_failure_ratio":0.25}"#);
        run.offer("A", 0);
        run.offer("B", 0);
        run.succeed("A", 1);
        assert_eq!(
            run.fail("B", DeviceFailure::Banned, 2),
            Some(RolloutEvent::GateTripped)
        );
        assert_eq!(
            run.state.paused_reason.as_deref(),
            Some("stage 0 (100%): 1 of 2 outcomes failed, above max_failure_ratio 0.25")
        );
        assert_eq!(
            run.devices["B"].cause.as_deref(),
            Some("banned after repeated deliveries")
        );
        // Resumed over an unhealthy stage: successes do not pause it again, the next failure does.
        run.state = control(&run.spec, &run.state, RolloutAction::Resume, 3).unwrap();
        for id in ["C", "D"] {
            run.offer(id, 3);
        }
        assert_eq!(run.succeed("C", 4), None);
        assert_eq!(
            run.fail("D", DeviceFailure::JobTimedOut, 5),
            Some(RolloutEvent::GateTripped)
        );
    }

    /// A report of the target that the rollout does not believe: flagged and counted once, in
    /// the device's cohort; no phase, verification, gate or stage moves; a later success (after a
    /// delivery) unflags it; every outcome spends the device's delivery.
    #[test]
    fn reports_without_delivery_move_nothing() {
        let mut run = Run::new(
            r#"{"stages":[100],"verify_devices":["T1"],"min_sample":1,"max_failure_ratio":0.0}"#,
        );
        run.offer("T1", 0);
        assert_eq!(run.unproven("T1"), None, "no event");
        let t1 = &run.devices["T1"];
        assert_eq!((t1.phase, t1.reported_without_delivery), (D::Offered, true));
        assert_eq!(run.state.phase, R::Verifying, "verification does not pass");
        let counts = run.state.verification;
        assert_eq!(
            (
                counts.pending,
                counts.succeeded,
                counts.reported_without_delivery
            ),
            (1, 0, 1)
        );
        assert_eq!(run.state.totals.reported_without_delivery, 1);
        // Again: counted once.
        assert!(on_reported_without_delivery(&run.state, &run.devices["T1"]).is_none());
        // The success that follows a delivery passes verification and unflags the device.
        assert_eq!(run.succeed("T1", 5), Some(RolloutEvent::VerificationPassed));
        assert!(!run.devices["T1"].reported_without_delivery);
        assert_eq!(run.state.totals.reported_without_delivery, 0);
        assert!(on_reported_without_delivery(&run.state, &run.devices["T1"]).is_none());

        // In a stage: the health gate (zero tolerance, a sample of one) does not trip, and a
        // flagged device that fails stays flagged.
        run.offer("A", 10);
        assert_eq!(run.unproven("A"), None);
        assert_eq!(
            (
                run.state.phase,
                run.state.stages[0].reported_without_delivery
            ),
            (R::Running, 1)
        );
        let mut delivered = run.devices["A"].clone();
        delivered.delivered = true;
        run.devices.insert("A".into(), delivered);
        assert_eq!(
            run.fail("A", DeviceFailure::JobTimedOut, 20),
            Some(RolloutEvent::GateTripped),
            "the timeout is the failure, not the report"
        );
        let a = &run.devices["A"];
        assert_eq!(
            (a.phase, a.delivered, a.reported_without_delivery),
            (D::Failed, false, true),
            "a failure spends the delivery and keeps the flag"
        );
        assert_eq!(run.state.stages[0].reported_without_delivery, 1);

        // An unverified device's flag is counted apart.
        run.offer_as("U", &UNVERIFIED, 30);
        run.unproven("U");
        assert_eq!(
            (
                run.state.unverified.reported_without_delivery,
                run.state.totals.reported_without_delivery
            ),
            (1, 1)
        );
    }

    #[test]
    fn verification_success_path() {
        let mut run = Run::new(r#"{"stages":[10,100],"verify_devices":["TEST1","TEST2"]}"#);
        assert_eq!((run.state.phase, run.state.stage), (R::Verifying, -1));
        run.offer("TEST1", 10);
        run.offer("TEST2", 10);
        assert_eq!(run.succeed("TEST1", 20), None);
        assert_eq!(run.state.phase, R::Verifying);
        assert_eq!(
            run.succeed("TEST1", 25),
            None,
            "a repeated report changes nothing"
        );
        assert_eq!(
            run.succeed("TEST2", 30),
            Some(RolloutEvent::VerificationPassed)
        );
        assert_eq!(
            (run.state.phase, run.state.stage, run.state.stage_started_ms),
            (R::Running, 0, 30)
        );
        assert_eq!(run.state.verification.succeeded, 2);
        assert_eq!(run.state.totals.succeeded, 2);
    }

    #[test]
    fn standing_by_provenance() {
        let spec: RolloutSpec =
            serde_json::from_str(r#"{"stages":[100],"verify_devices":["TEST1"]}"#).unwrap();
        let started = 1_000;
        #[track_caller]
        fn check(spec: &RolloutSpec, id: &str, from: Provenance, expect: Standing) {
            assert_eq!(from.standing(spec, id, 1_000), expect, "{id} {from:?}");
        }
        let seen = |at: i64| Provenance {
            signed: false,
            listed: false,
            registered: false,
            first_seen_ms: at,
        };
        // Bound long before the rollout, by any check: not trusted.
        check(
            &spec,
            "862419000000001",
            seen(started - 1),
            Standing::Unverified,
        );
        check(
            &spec,
            "862419000000001",
            seen(started),
            Standing::Unverified,
        );
        check(
            &spec,
            "862419000000001",
            Provenance {
                registered: true,
                ..seen(started + 5)
            },
            Standing::Trusted,
        );
        check(
            &spec,
            "862419000000001",
            Provenance {
                listed: true,
                ..seen(started + 5)
            },
            Standing::Trusted,
        );
        check(&spec, "TEST1", seen(started + 5), Standing::Trusted);
        check(
            &spec,
            "862419000000001",
            Provenance::SIGNED,
            Standing::Signed,
        );
    }

    #[test]
    fn unverified_devices_are_counted_apart_and_move_no_gate() {
        let mut run = Run::new(
            r#"{"stages":[100],"min_sample":2,"max_failure_ratio":0.2,"auto_advance":true}"#,
        );
        let new = Provenance {
            signed: false,
            listed: false,
            registered: false,
            first_seen_ms: 0,
        };
        for n in 0..5 {
            let id = imei(n);
            run.offer_as(&id, &new, 1);
            assert_eq!(
                run.fail(&id, DeviceFailure::Banned, 2),
                None,
                "a made-up id trips nothing"
            );
        }
        assert_eq!(run.state.phase, R::Running);
        assert_eq!(
            (
                run.state.unverified.eligible,
                run.state.unverified.offered,
                run.state.unverified.banned
            ),
            (5, 5, 5)
        );
        assert_eq!(
            run.state.totals,
            RolloutCounts::default(),
            "totals hold trusted devices only"
        );
        // Made-up ids reporting the target do not dilute real failures either.
        for n in 5..50 {
            let id = imei(n);
            run.offer_as(&id, &new, 3);
            run.succeed(&id, 4);
        }
        run.offer(&imei(100), 5);
        assert_eq!(
            run.fail(&imei(100), DeviceFailure::JobTimedOut, 6),
            None,
            "one outcome is below min_sample"
        );
        run.offer(&imei(101), 5);
        assert_eq!(
            run.fail(&imei(101), DeviceFailure::JobTimedOut, 6),
            Some(RolloutEvent::GateTripped)
        );
        assert_eq!(run.state.unverified.succeeded, 45);
        assert_eq!(
            (run.state.totals.failed, run.state.unverified.succeeded),
            (2, 45)
        );
    }

    #[test]
    fn verification_failure_paths() {
        let verify =
            r#"{"stages":[100],"verify_devices":["TEST1","TEST2"],"verify_timeout_s":3600}"#;
        // A signed test device's failure is its own: the rollout fails.
        let mut run = Run::new(verify);
        run.offer_as("TEST1", &Provenance::SIGNED, 0);
        run.offer_as("TEST2", &Provenance::SIGNED, 0);
        run.succeed("TEST1", 1);
        assert_eq!(
            run.fail("TEST2", DeviceFailure::Banned, 2),
            Some(RolloutEvent::VerificationFailed)
        );
        assert_eq!(run.state.phase, R::Failed);
        assert_eq!(
            run.state.failed_reason.as_deref(),
            Some("verification device TEST2 failed: banned after repeated deliveries")
        );

        let mut run = Run::new(verify);
        run.offer_as("TEST1", &Provenance::SIGNED, 1_000);
        assert!(!job_timed_out(&run.devices["TEST1"], 60, 60_999));
        assert!(job_timed_out(&run.devices["TEST1"], 60, 61_000));
        assert_eq!(
            run.fail("TEST1", DeviceFailure::JobTimedOut, 61_000),
            Some(RolloutEvent::VerificationFailed)
        );
        assert_eq!(
            run.state.failed_reason.as_deref(),
            Some("verification device TEST1 failed: no success within job_timeout_s of the offer")
        );

        // An unsigned test device's ban or timeout could be anyone's doing: the rollout pauses
        // once, with the reason, and passes verification when the device then reports the target.
        for failure in [DeviceFailure::Banned, DeviceFailure::JobTimedOut] {
            let mut run = Run::new(verify);
            run.offer("TEST1", 0);
            run.offer("TEST2", 0);
            run.succeed("TEST1", 1);
            assert_eq!(
                run.fail("TEST2", failure.clone(), 2),
                Some(RolloutEvent::VerificationHeld),
                "{failure:?}"
            );
            assert_eq!((run.state.phase, run.state.stage), (R::Paused, -1));
            let reason = run.state.paused_reason.clone().unwrap_or_default();
            assert!(
                reason.starts_with("verification device TEST2 failed (")
                    && reason.contains("unsigned"),
                "{reason}"
            );
            assert_eq!(run.state.failed_reason, None);
            assert_eq!(
                run.succeed("TEST2", 3),
                Some(RolloutEvent::VerificationPassed),
                "a late success after an unban"
            );
            assert_eq!(
                (run.state.phase, run.state.stage),
                (R::Paused, 0),
                "still paused until the operator resumes"
            );
        }

        let mut run = Run::new(verify);
        run.offer("TEST1", 0);
        run.succeed("TEST1", 1);
        assert_eq!(run.tick(3_599_999), None);
        assert_eq!(run.tick(3_600_000), Some(RolloutEvent::VerificationFailed));
        assert_eq!(
            run.state.failed_reason.as_deref(),
            Some("verification timed out after 3600 s: 1 of 2 test devices reported the target")
        );
        assert_eq!(run.tick(9_999_999), None, "a failed rollout stays failed");
    }

    #[test]
    fn verification_passing_while_paused_stays_paused() {
        let mut run = Run::new(r#"{"stages":[100],"verify_devices":["TEST1"]}"#);
        run.offer("TEST1", 0);
        run.state = control(&run.spec, &run.state, RolloutAction::Pause, 1).unwrap();
        assert_eq!(
            run.succeed("TEST1", 2),
            Some(RolloutEvent::VerificationPassed)
        );
        assert_eq!((run.state.phase, run.state.stage), (R::Paused, 0));
        run.state = control(&run.spec, &run.state, RolloutAction::Resume, 3).unwrap();
        assert_eq!((run.state.phase, run.state.stage), (R::Running, 0));
    }

    #[track_caller]
    fn check_control(
        phase: RolloutPhase,
        stage: i32,
        action: RolloutAction,
        expect: Result<(RolloutPhase, i32), &str>,
    ) {
        let spec: RolloutSpec =
            serde_json::from_str(r#"{"stages":[1,10,100],"verify_devices":["TEST1"]}"#).unwrap();
        let state = RolloutState {
            phase,
            stage,
            ..start(&spec, 0)
        };
        let got = control(&spec, &state, action, 5)
            .map(|s| (s.phase, s.stage))
            .map_err(|e| e.to_string());
        assert_eq!(
            got,
            expect.map_err(String::from),
            "{action:?} on {phase:?} at {stage}"
        );
    }

    #[test]
    fn control_transitions() {
        use RolloutAction::*;
        check_control(R::Verifying, -1, Pause, Ok((R::Paused, -1)));
        check_control(R::Running, 1, Pause, Ok((R::Paused, 1)));
        check_control(R::Paused, 1, Pause, Err("the rollout is already paused"));
        check_control(
            R::Completed,
            2,
            Pause,
            Err("a completed rollout has nothing to pause: cancel it to stop offers"),
        );
        check_control(
            R::Cancelled,
            1,
            Pause,
            Err("cannot pause a cancelled rollout: it offers nothing and is over"),
        );
        check_control(R::Paused, -1, Resume, Ok((R::Verifying, -1)));
        check_control(R::Paused, 1, Resume, Ok((R::Running, 1)));
        check_control(
            R::Running,
            1,
            Resume,
            Err("cannot resume a running rollout: only a paused rollout resumes"),
        );
        check_control(
            R::Failed,
            -1,
            Resume,
            Err("cannot resume a failed rollout: only a paused rollout resumes"),
        );
        check_control(R::Verifying, -1, Cancel, Ok((R::Cancelled, -1)));
        check_control(R::Paused, 1, Cancel, Ok((R::Cancelled, 1)));
        check_control(R::Completed, 2, Cancel, Ok((R::Cancelled, 2)));
        check_control(
            R::Cancelled,
            1,
            Cancel,
            Err("the rollout is already cancelled"),
        );
        check_control(
            R::Failed,
            -1,
            Cancel,
            Err("cannot cancel a failed rollout: it offers nothing and is over"),
        );
        check_control(R::Verifying, -1, Advance, Ok((R::Running, 0)));
        check_control(R::Running, 0, Advance, Ok((R::Running, 1)));
        check_control(R::Running, 2, Advance, Ok((R::Completed, 2)));
        check_control(
            R::Paused,
            1,
            Advance,
            Err("cannot advance a paused rollout: resume it first"),
        );
        check_control(
            R::Completed,
            2,
            Advance,
            Err("the rollout is completed: there is no stage after the last"),
        );
        check_control(
            R::Cancelled,
            1,
            Advance,
            Err("cannot advance a cancelled rollout: it offers nothing and is over"),
        );
        check_control(
            R::Failed,
            -1,
            Advance,
            Err("cannot advance a failed rollout: it offers nothing and is over"),
        );
    }

    #[test]
    fn auto_advance_waits_for_a_settled_healthy_soaked_stage() {
        let mut run =
            Run::new(r#"{"stages":[50,100],"auto_advance":true,"soak_s":600,"min_sample":2}"#);
        let ids: Vec<String> = (0..100)
            .map(imei)
            .filter(|id| bucket("plan", id) < 5000)
            .take(3)
            .collect();
        run.offer(&ids[0], 0);
        run.offer(&ids[1], 0);
        run.succeed(&ids[0], 1);
        assert_eq!(run.tick(600_000), None, "a device is still pending");
        run.succeed(&ids[1], 2);
        assert_eq!(run.tick(599_999), None, "not soaked yet");
        assert_eq!(run.tick(600_000), Some(RolloutEvent::Advanced));
        assert_eq!(
            (run.state.phase, run.state.stage, run.state.stage_started_ms),
            (R::Running, 1, 600_000)
        );
        assert_eq!(
            run.tick(1_200_000),
            Some(RolloutEvent::Completed),
            "an empty stage advances once soaked"
        );
        assert_eq!(run.tick(9_999_999), None);

        // One failure in two outcomes is above 0.2 though below the gate's sample: no advance.
        let mut run = Run::new(r#"{"stages":[50,100],"auto_advance":true,"min_sample":3}"#);
        run.offer(&ids[0], 0);
        run.offer(&ids[1], 0);
        run.succeed(&ids[0], 1);
        run.fail(&ids[1], DeviceFailure::JobTimedOut, 1);
        assert_eq!(run.state.phase, R::Running);
        assert_eq!(run.tick(1), None);
        // Without auto_advance, advancing is the operator's.
        let mut run = Run::new(r#"{"stages":[50,100]}"#);
        assert_eq!(run.tick(99_999_999), None);
    }

    #[test]
    fn an_unban_offers_a_banned_device_again_and_leaves_other_phases() {
        let mut run = Run::new(r#"{"stages":[100],"min_sample":100}"#);
        for id in ["banned", "failed", "offered", "succeeded"] {
            run.offer(id, 0);
        }
        run.fail("banned", DeviceFailure::Banned, 3);
        run.fail("failed", DeviceFailure::JobTimedOut, 3);
        run.succeed("succeeded", 3);
        let before = run.state.totals;
        assert_eq!(
            (
                before.banned,
                before.failed,
                before.pending,
                before.succeeded
            ),
            (1, 1, 1, 1)
        );
        let step = on_unban(&run.state, &run.devices["banned"], 9).expect("a banned device moves");
        assert_eq!(
            (
                step.device.phase,
                step.device.cause.as_deref(),
                step.device.offered_ms,
                step.device.since_ms,
                step.device.delivered
            ),
            (D::Offered, None, Some(9), 9, false)
        );
        let after = step.rollout.totals;
        assert_eq!(
            (
                after.banned,
                after.failed,
                after.pending,
                after.succeeded,
                after.offered
            ),
            (0, 1, 2, 1, before.offered),
            "banned to pending; offers are not counted again"
        );
        for id in ["failed", "offered", "succeeded"] {
            assert_eq!(on_unban(&run.state, &run.devices[id], 9), None, "{id}");
        }
    }

    #[test]
    fn a_cancel_returns_an_offered_device_to_idle_and_leaves_other_phases() {
        let mut run = Run::new(r#"{"stages":[100],"min_sample":100}"#);
        for id in ["offered", "failed", "succeeded"] {
            run.offer(id, 0);
        }
        run.fail("failed", DeviceFailure::JobTimedOut, 3);
        run.succeed("succeeded", 3);
        let before = run.state.totals;
        assert_eq!((before.offered, before.pending), (3, 1));
        let step = on_cancel(&run.state, &run.devices["offered"], 9).expect("an offered device");
        assert_eq!(
            (
                step.device.phase,
                step.device.offered_ms,
                step.device.since_ms
            ),
            (D::Idle, None, 9)
        );
        let after = step.rollout.totals;
        assert_eq!(
            (after.offered, after.pending, after.failed, after.succeeded),
            (2, 0, 1, 1)
        );
        // Idle, it can no longer time out into a failure; offered again, it counts once.
        assert!(!job_timed_out(&step.device, 1, 1_000_000));
        let again = on_offer(&step.rollout, &step.device, 20).expect("offered again");
        assert_eq!(
            (again.rollout.totals.offered, again.rollout.totals.pending),
            (3, 1)
        );
        for id in ["failed", "succeeded"] {
            assert_eq!(on_cancel(&run.state, &run.devices[id], 9), None, "{id}");
        }
    }

    #[test]
    fn device_transitions() {
        let mut run = Run::new(r#"{"stages":[100],"min_sample":100}"#);
        run.offer("A", 0);
        assert_eq!(
            on_offer(&run.state, &run.devices["A"], 1),
            None,
            "only the first offer counts"
        );
        assert_eq!(run.fail("A", DeviceFailure::JobTimedOut, 5), None);
        assert_eq!(
            (
                run.devices["A"].phase,
                run.devices["A"].since_ms,
                run.devices["A"].offered_ms
            ),
            (D::Failed, 5, Some(0))
        );
        assert_eq!(run.fail("A", DeviceFailure::JobTimedOut, 6), None);
        assert_eq!(
            run.state.totals.failed, 1,
            "a repeated timeout is counted once"
        );
        run.fail("A", DeviceFailure::Banned, 7);
        assert_eq!((run.state.totals.failed, run.state.totals.banned), (0, 1));
        run.succeed("A", 8);
        assert_eq!(
            (run.devices["A"].phase, run.devices["A"].cause.as_deref()),
            (D::Succeeded, None)
        );
        assert_eq!(
            (
                run.state.totals.banned,
                run.state.totals.succeeded,
                run.state.totals.pending
            ),
            (0, 1, 0)
        );
        assert_eq!(
            on_failure(
                &run.spec,
                &run.state,
                &run.devices["A"],
                DeviceFailure::Banned,
                9
            ),
            None,
            "success is final"
        );
        run.offer("B", 10);
        assert!(
            !job_timed_out(&run.devices["B"], 0, 9),
            "offered in the future"
        );
        assert!(job_timed_out(&run.devices["B"], 0, 10));
    }

    #[test]
    fn counters_stay_consistent_across_a_fleet() {
        let mut run =
            Run::new(r#"{"stages":[5,20,100],"verify_devices":["TEST1"],"min_sample":1000}"#);
        run.offer("TEST1", 0);
        run.succeed("TEST1", 1);
        for n in 0..3_000u32 {
            let id = imei(n);
            // Every third device is new since the rollout started: counted apart, same invariants.
            let from = if n % 3 == 0 {
                Provenance {
                    signed: false,
                    listed: false,
                    registered: false,
                    first_seen_ms: 1,
                }
            } else {
                KNOWN
            };
            let seen = on_eligible_seen(&run.spec, &run.state, "plan", &id, &from, 2);
            run.apply(seen);
            if n % 1000 == 999 {
                run.state = control(&run.spec, &run.state, RolloutAction::Advance, 3).unwrap();
            }
            let device = run.devices[&id].clone();
            if crate::rules::rollout::rollout_gate(
                &run.spec,
                &run.state,
                "plan",
                &id,
                Some(&device),
                4,
                crate::rules::rollout::OfferRate::default(),
            )
            .is_err()
            {
                continue;
            }
            run.offer(&id, 4);
            match n % 7 {
                0 => drop(run.fail(&id, DeviceFailure::JobTimedOut, 5)),
                1 => drop(run.fail(&id, DeviceFailure::Banned, 5)),
                2 | 3 => {}
                _ => drop(run.succeed(&id, 5)),
            }
            if n % 11 == 0 {
                run.succeed(&id, 6);
            }
        }
        let t = run.state.totals;
        assert_eq!(
            (
                t.eligible,
                run.state.verification.eligible,
                run.state.unverified.eligible
            ),
            (2_001, 1, 1_000)
        );
        assert!(
            t.offered > 600 && t.pending > 0 && t.failed > 0 && t.banned > 0,
            "{t:?}"
        );
        assert_eq!(run.state.phase, R::Completed);
        let shortened = RolloutSpec {
            stages: vec![5, 50],
            ..run.spec.clone()
        };
        let folded = reconcile(&shortened, &run.state);
        assert_eq!(
            (folded.stages.len(), folded.stage, folded.totals),
            (2, 1, t)
        );
        check_counters(&folded);
        assert_eq!(
            folded.stages[1],
            add(run.state.stages[1], &run.state.stages[2])
        );
        let longer = reconcile(
            &RolloutSpec {
                stages: vec![5, 20, 50, 100],
                ..run.spec.clone()
            },
            &run.state,
        );
        assert_eq!(
            (longer.stages.len(), longer.stages[3]),
            (4, RolloutCounts::default())
        );
    }

    /// Stage 0 of a sharded rollout whose merged counts hold `outcomes` outcomes, `failed` of them
    /// failures.
    fn merged(phase: RolloutPhase, outcomes: u64, failed: u64) -> RolloutState {
        let spec: RolloutSpec = serde_json::from_str(r#"{"stages":[50,100]}"#).unwrap();
        let mut state = start(&spec, 0);
        state.phase = phase;
        state.stages[0] = RolloutCounts {
            eligible: 20,
            offered: 20,
            succeeded: outcomes - failed,
            failed,
            banned: 0,
            pending: 20 - outcomes,
            reported_without_delivery: 0,
        };
        state.totals = state.stages[0];
        state
    }

    #[test]
    fn the_merged_gate_trips_on_a_new_failure_or_the_sample_it_completes() {
        let spec: RolloutSpec =
            serde_json::from_str(r#"{"stages":[50,100],"min_sample":10,"max_failure_ratio":0.2}"#)
                .unwrap();
        let cases = [
            // (before, after) -> trips
            ((9, 2), (10, 3), true),
            ((9, 2), (10, 2), false),
            ((9, 3), (10, 3), true),
            ((10, 3), (11, 3), false),
            ((11, 3), (12, 4), true),
            ((5, 3), (8, 5), false),
        ];
        for ((n0, f0), (n1, f1), trips) in cases {
            let before = merged(RolloutPhase::Running, n0, f0);
            let after = merged(RolloutPhase::Running, n1, f1);
            let got = judge_merged(&spec, &before, &after);
            assert_eq!(got.is_some(), trips, "{n0}/{f0} -> {n1}/{f1}");
            if let Some((next, event)) = got {
                assert_eq!((next.phase, event), (R::Paused, RolloutEvent::GateTripped));
                let reason = next.paused_reason.unwrap_or_default();
                assert!(
                    reason.contains(&format!("{f1} of {n1} outcomes failed")),
                    "{reason}"
                );
            }
        }
        let paused = merged(RolloutPhase::Paused, 12, 6);
        assert!(judge_merged(&spec, &merged(R::Paused, 9, 2), &paused).is_none());
    }

    #[test]
    fn merged_counts_are_the_sum_of_the_shards_with_the_first_shards_phase() {
        let first = merged(RolloutPhase::Running, 4, 1);
        let mut other = merged(RolloutPhase::Paused, 3, 0);
        other.stages.truncate(1);
        let all = merge(&first, &[other.clone(), other]);
        assert_eq!(all.phase, R::Running);
        assert_eq!(
            (
                all.stages[0].eligible,
                all.stages[0].succeeded,
                all.stages[0].failed
            ),
            (60, 9, 1)
        );
        assert_eq!(all.totals, all.stages[0]);
        assert_eq!(all.stages[1], RolloutCounts::default());
    }
}
