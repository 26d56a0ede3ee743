//! Staged rollouts: the checks an operator's rollout spec must pass, the sticky bucket that puts a
//! device in a stage, the UTC offer window, and the gate that says whether a due device is offered now.
//!
//! The rollout's progress (its phase, stage and counters) lives in [`crate::rules::rollout_state`].

use crate::leaf::code::Refusal;
use crate::leaf::ids::valid_device_id;
use crate::model::plan::PlanSpec;
use crate::model::rollout::{
    DevicePhase, DeviceRollout, RolloutPhase, RolloutSpec, RolloutState, Standing,
};
use crate::rules::plan::in_device_set;
use sha2::{Digest, Sha256};

/// Buckets a device id hashes into: basis points, so a stage of `p` percent is buckets `0..p*100`.
pub const BUCKETS: u32 = 10_000;
/// Most stages one rollout may list.
pub const MAX_STAGES: usize = 20;
/// Most test devices one rollout may list.
pub const MAX_VERIFY_DEVICES: usize = 1_000;
/// The plan's `job_timeout_s` when it sets none: a day, since Luat devices check in rarely.
pub const DEFAULT_JOB_TIMEOUT_S: u64 = 86_400;
const MINUTE_MS: i64 = 60_000;
const DAY_MINUTES: i64 = 24 * 60;

/// Why a rollout spec was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RolloutError {
    #[error("stages must list at least one percentage")]
    NoStages,
    #[error("too many {0}: at most {1}")]
    TooMany(&'static str, usize),
    #[error("stage {0}% is not between 1 and 100")]
    StageOutOfRange(u32),
    #[error("stages must strictly increase, but {0}% is followed by {1}%")]
    StagesNotIncreasing(u32, u32),
    #[error("max_failure_ratio must be between 0 and 1")]
    BadFailureRatio,
    #[error("max_per_minute must be at least 1; pause the rollout to stop offers")]
    ZeroRate,
    #[error("{0} must be at least 1 second")]
    ZeroTimeout(&'static str),
    #[error("window_utc time {0:?} is not HH:MM between 00:00 and 23:59")]
    BadWindowTime(String),
    #[error("verify device id {0:?} is not valid")]
    BadVerifyDevice(String),
    #[error("verify device {0:?} is outside the plan's device set, so it could never be offered the image")]
    VerifyDeviceOutsidePlan(String),
}

/// Checks a rollout against its (already normalized) plan and puts it in its stored form: test
/// devices sorted and unique, so membership is a binary search on the hot path.
pub fn normalize(mut spec: RolloutSpec, plan: &PlanSpec) -> Result<RolloutSpec, RolloutError> {
    check_stages(&spec.stages)?;
    if !(0..=crate::model::rollout::Ratio::PPM_PER_ONE).contains(&spec.max_failure_ratio.ppm()) {
        return Err(RolloutError::BadFailureRatio);
    }
    if spec.max_per_minute == Some(0) {
        return Err(RolloutError::ZeroRate);
    }
    if let Some(window) = &spec.window_utc {
        UtcWindow::parse(window)?;
    }
    if spec.verify_devices.len() > MAX_VERIFY_DEVICES {
        return Err(RolloutError::TooMany("verify_devices", MAX_VERIFY_DEVICES));
    }
    if let Some(bad) = spec.verify_devices.iter().find(|d| !valid_device_id(d)) {
        return Err(RolloutError::BadVerifyDevice(bad.clone()));
    }
    if let Some(outside) = spec.verify_devices.iter().find(|d| !in_device_set(plan, d)) {
        return Err(RolloutError::VerifyDeviceOutsidePlan(outside.clone()));
    }
    if !spec.verify_devices.is_empty() && spec.verify_timeout_s == 0 {
        return Err(RolloutError::ZeroTimeout("verify_timeout_s"));
    }
    spec.verify_devices.sort();
    spec.verify_devices.dedup();
    Ok(spec)
}

/// Checks a rollout's stages: 1 to [`MAX_STAGES`] cumulative percentages, each 1-100, strictly
/// increasing. The TUI checks an operator's stage list with it before sending it.
pub fn check_stages(stages: &[u32]) -> Result<(), RolloutError> {
    if stages.is_empty() {
        return Err(RolloutError::NoStages);
    }
    if stages.len() > MAX_STAGES {
        return Err(RolloutError::TooMany("stages", MAX_STAGES));
    }
    if let Some(&bad) = stages.iter().find(|p| !(1..=100).contains(*p)) {
        return Err(RolloutError::StageOutOfRange(bad));
    }
    if let Some(pair) = stages.windows(2).find(|w| w[0] >= w[1]) {
        return Err(RolloutError::StagesNotIncreasing(pair[0], pair[1]));
    }
    Ok(())
}

/// The rollout a plan runs: its own, or for a plan without one a single stage of 100% whose
/// health gate never trips (an operator who wants a gate asks for a rollout).
pub fn effective(plan: &PlanSpec) -> RolloutSpec {
    plan.rollout.clone().unwrap_or_else(|| RolloutSpec {
        verify_devices: vec![],
        verify_timeout_s: crate::model::rollout::DEFAULT_VERIFY_TIMEOUT_S,
        stages: vec![100],
        max_failure_ratio: crate::model::rollout::Ratio::from_ppm(
            crate::model::rollout::Ratio::PPM_PER_ONE,
        ),
        min_sample: crate::model::rollout::DEFAULT_MIN_SAMPLE,
        max_per_minute: None,
        window_utc: None,
        auto_advance: false,
        soak_s: 0,
    })
}

/// The fewest coordinator objects a rollout is spread over: a release of a whole fleet never
/// queues on one object.
pub const MIN_SHARDS: u32 = 8;
/// The most.
pub const MAX_SHARDS: u32 = 256;
/// Devices one coordinator object is sized for. A device's first check of a release is about two
/// calls to its shard (the attempt, then the count of the bytes streamed) and its report of the
/// target one more; at hourly polls 500,000 devices make about 140 checks a second, so a 100 %
/// release keeps each object near 300 requests a second (`bench/cost.sh` measures it).
pub const DEVICES_PER_SHARD: u64 = 500_000;

/// How many coordinator objects (shards) a new rollout is spread over, fixed for its life: from
/// the plan's expected fleet size, at least [`MIN_SHARDS`]. A rollout limited to fewer first
/// offers a minute gets at most one shard per ten of them, so every shard's share of
/// `max_per_minute` ([`shard_budget`]) keeps a share for unverified devices (a tenth) that adds
/// up to the rollout's.
pub fn shards_for(expected_devices: Option<u64>, max_per_minute: Option<u32>) -> u32 {
    let by_size = expected_devices.map_or(MIN_SHARDS, |n| {
        n.div_ceil(DEVICES_PER_SHARD)
            .clamp(u64::from(MIN_SHARDS), u64::from(MAX_SHARDS)) as u32
    });
    max_per_minute.map_or(by_size, |max| by_size.min((max / 10).max(1)))
}

/// The shard that keeps a device's records: the first (which judges verification) for a test
/// device, else by the device's bucket, so each stage's devices spread evenly over the shards.
pub fn shard_of(spec: &RolloutSpec, plan_id: &str, device_id: &str, shards: u32) -> u32 {
    if shards <= 1 || is_verify_device(spec, device_id) {
        return 0;
    }
    bucket(plan_id, device_id) % shards
}

/// A shard's share of `max_per_minute`: the shares add up to it exactly.
pub fn shard_budget(max_per_minute: u32, shard: u32, shards: u32) -> u32 {
    let k = shards.max(1);
    max_per_minute / k + u32::from(shard < max_per_minute % k)
}

/// The rollout's identity: one per plan target, so a new target draws a fresh sample.
pub fn plan_id(
    project_key: &str,
    firmware_name: &str,
    target: &crate::leaf::version::Version,
) -> String {
    format!("{project_key}/{firmware_name}@{target}")
}

/// Checks the plan-level `job_timeout_s` that goes with a rollout.
pub fn check_job_timeout(job_timeout_s: u64) -> Result<(), RolloutError> {
    if job_timeout_s == 0 {
        return Err(RolloutError::ZeroTimeout("job_timeout_s"));
    }
    Ok(())
}

/// The device's bucket in `0..BUCKETS` for one plan: a hash, so it never changes for the pair,
/// needs no stored draw, and spreads evenly; keyed by the plan so each plan picks its own sample.
pub fn bucket(plan_id: &str, device_id: &str) -> u32 {
    let digest = Sha256::new()
        .chain_update(plan_id)
        .chain_update([0u8])
        .chain_update(device_id)
        .finalize();
    let head = u64::from_be_bytes(
        digest[..8]
            .try_into()
            .expect("a sha256 digest has 32 bytes"),
    );
    (head % u64::from(BUCKETS)) as u32
}

/// Is a bucket inside a stage of `percent`? Stages are cumulative, so a bucket inside one stage
/// is inside every larger one: raising a stage never drops a device.
pub fn in_stage(bucket: u32, percent: u32) -> bool {
    bucket < percent.saturating_mul(BUCKETS / 100)
}

pub(crate) fn is_verify_device(spec: &RolloutSpec, device_id: &str) -> bool {
    spec.verify_devices
        .binary_search_by(|d| d.as_str().cmp(device_id))
        .is_ok()
}

/// The counters a device is counted under: -1 for a test device, else the first stage whose
/// share holds its bucket. `None` when no stage reaches it (the last stage is below 100%): such a
/// device is not part of this rollout unless the stages are raised, and is then counted when next seen.
pub fn cohort_of(spec: &RolloutSpec, plan_id: &str, device_id: &str) -> Option<i32> {
    if is_verify_device(spec, device_id) {
        return Some(-1);
    }
    let b = bucket(plan_id, device_id);
    spec.stages
        .iter()
        .position(|&p| in_stage(b, p))
        .map(|i| i as i32)
}

/// The percentage the rollout offers to now: 0 while verifying, the current stage's otherwise
/// (the last one once completed, or when an edit shortened the stages under it).
pub fn current_percent(spec: &RolloutSpec, state: &RolloutState) -> u32 {
    if state.stage < 0 {
        return 0;
    }
    spec.stages
        .get(state.stage as usize)
        .or(spec.stages.last())
        .copied()
        .unwrap_or(0)
}

/// What the hot path remembers of a rollout between checks (the edge caches it for seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RolloutSummary {
    pub phase: RolloutPhase,
    /// [`current_percent`] now.
    pub percent: u32,
    /// The highest share ever offered: a device whose bucket lies above it was never offered.
    pub high_water: u32,
}

/// A check that can be refused from the summary alone, with no storage read: a rollout that
/// offers nothing, or a device (already counted as eligible) whose bucket no stage has reached
/// yet. `None` means "ask the full gate": this is only ever a shortcut to the same answer
/// [`rollout_gate`] would give.
pub fn held_back(
    spec: &RolloutSpec,
    summary: &RolloutSummary,
    plan_id: &str,
    device_id: &str,
) -> Option<Refusal> {
    match summary.phase {
        RolloutPhase::Cancelled | RolloutPhase::Failed => Some(Refusal::NotOfferingNow),
        _ if is_verify_device(spec, device_id) => None,
        RolloutPhase::Verifying => Some(Refusal::NotInDeviceSet),
        _ => {
            let b = bucket(plan_id, device_id);
            let never_offered = !in_stage(b, summary.high_water.max(summary.percent));
            never_offered.then_some(Refusal::NotInDeviceSet)
        }
    }
}

/// A daily UTC window, in minutes after midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UtcWindow {
    start: u16,
    end: u16,
}

impl UtcWindow {
    pub fn parse(window: &[String; 2]) -> Result<UtcWindow, RolloutError> {
        let minute = |text: &String| {
            parse_hhmm(text).ok_or_else(|| RolloutError::BadWindowTime(text.clone()))
        };
        Ok(UtcWindow {
            start: minute(&window[0])?,
            end: minute(&window[1])?,
        })
    }

    /// Start inclusive, end exclusive; a start after the end wraps midnight; equal ends mean always.
    pub fn contains(self, now_ms: i64) -> bool {
        let now = now_ms.div_euclid(MINUTE_MS).rem_euclid(DAY_MINUTES) as u16;
        match self.start.cmp(&self.end) {
            std::cmp::Ordering::Equal => true,
            std::cmp::Ordering::Less => self.start <= now && now < self.end,
            std::cmp::Ordering::Greater => now >= self.start || now < self.end,
        }
    }
}

fn parse_hhmm(text: &str) -> Option<u16> {
    let b = text.as_bytes();
    if b.len() != 5 || b[2] != b':' || ![b[0], b[1], b[3], b[4]].iter().all(u8::is_ascii_digit) {
        return None;
    }
    let (h, m) = (
        u16::from(b[0] - b'0') * 10 + u16::from(b[1] - b'0'),
        u16::from(b[3] - b'0') * 10 + u16::from(b[4] - b'0'),
    );
    (h < 24 && m < 60).then_some(h * 60 + m)
}

/// The rate limit's window for a time: first offers are counted per clock minute under this key.
pub fn rate_window(now_ms: i64) -> i64 {
    now_ms.div_euclid(MINUTE_MS)
}

/// The share of `max_per_minute` that unverified devices (ids first seen after the rollout
/// started) may take, in percent, at least one offer: made-up ids cannot crowd out the fleet.
pub const UNVERIFIED_SHARE_PERCENT: u32 = 10;

/// First offers already made in one [`rate_window`]: all of them, and those to unverified devices.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OfferRate {
    pub offers: u32,
    pub unverified: u32,
}

impl OfferRate {
    /// Is the budget spent for a device of this standing?
    pub fn spent(self, max_per_minute: u32, standing: Standing) -> bool {
        let unverified_max = (max_per_minute.saturating_mul(UNVERIFIED_SHARE_PERCENT) / 100).max(1);
        self.offers >= max_per_minute
            || (standing == Standing::Unverified && self.unverified >= unverified_max)
    }
}

/// May a device that [`crate::rules::decide::decide`] found due be offered the image now?
///
/// `device` is the device's row for this rollout (`None` before its first sight), and
/// `rate` the first offers already made in [`rate_window`]`(now_ms)`. A device already
/// offered keeps its offer through a pause, a closed window, the rate limit and lowered stages, so
/// a download in progress is never cut off; loop-upgrade protection still has its say after this.
/// Test devices are exempt from the window and the rate limit: the operator picked them to be
/// upgraded now, and their time is bounded by `verify_timeout_s`.
pub fn rollout_gate(
    spec: &RolloutSpec,
    state: &RolloutState,
    plan_id: &str,
    device_id: &str,
    device: Option<&DeviceRollout>,
    now_ms: i64,
    rate: OfferRate,
) -> Result<(), Refusal> {
    match state.phase {
        RolloutPhase::Cancelled | RolloutPhase::Failed => return Err(Refusal::NotOfferingNow),
        _ if device.is_some_and(|d| d.phase != DevicePhase::Idle) => return Ok(()),
        RolloutPhase::Verifying => {
            return if is_verify_device(spec, device_id) {
                Ok(())
            } else {
                Err(Refusal::NotInDeviceSet)
            };
        }
        RolloutPhase::Running | RolloutPhase::Completed | RolloutPhase::Paused => {}
    }
    // The stage first, so a device outside it hears the same answer whether or not the rollout
    // is paused (and the same as `held_back` gives it from memory).
    if !in_stage(bucket(plan_id, device_id), current_percent(spec, state)) {
        return Err(Refusal::NotInDeviceSet);
    }
    if state.phase == RolloutPhase::Paused {
        return Err(Refusal::NotOfferingNow);
    }
    // A window that fails to parse was never validated; offering nothing is safer than guessing.
    let in_window = spec
        .window_utc
        .as_ref()
        .is_none_or(|w| UtcWindow::parse(w).is_ok_and(|w| w.contains(now_ms)));
    let standing = device.map_or(Standing::Trusted, |d| d.standing);
    if !in_window
        || spec
            .max_per_minute
            .is_some_and(|max| rate.spent(max, standing))
    {
        return Err(Refusal::NotOfferingNow);
    }
    Ok(())
}

#[cfg(test)]
mod held_back_tests {
    use super::*;

    fn spec() -> RolloutSpec {
        serde_json::from_str(r#"{"stages":[10,50,100],"verify_devices":["T1"]}"#).unwrap()
    }

    #[track_caller]
    fn check(
        phase: RolloutPhase,
        percent: u32,
        high_water: u32,
        device: &str,
        expect: Option<Refusal>,
    ) {
        let summary = RolloutSummary {
            phase,
            percent,
            high_water,
        };
        assert_eq!(
            held_back(&spec(), &summary, "p", device),
            expect,
            "{phase:?} {percent}/{high_water} {device}"
        );
    }

    #[test]
    fn shortcut_agrees_with_the_gate() {
        use RolloutPhase::*;
        // Find one id inside the first 10% and one outside 50%.
        let inside = (0..)
            .map(|i| format!("86{i:013}"))
            .find(|id| bucket("p", id) < 1000)
            .unwrap();
        let outside = (0..)
            .map(|i| format!("86{i:013}"))
            .find(|id| bucket("p", id) >= 5000)
            .unwrap();
        check(Cancelled, 10, 10, &inside, Some(Refusal::NotOfferingNow));
        check(Failed, 0, 0, "T1", Some(Refusal::NotOfferingNow));
        check(Verifying, 0, 0, "T1", None);
        check(Verifying, 0, 0, &inside, Some(Refusal::NotInDeviceSet));
        check(Running, 10, 10, &inside, None);
        check(Running, 10, 10, &outside, Some(Refusal::NotInDeviceSet));
        check(Paused, 10, 10, &outside, Some(Refusal::NotInDeviceSet));
        // Stages lowered after an offer: the device may have been offered, ask the full gate.
        check(Running, 10, 100, &outside, None);
        check(Completed, 100, 100, &outside, None);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn shards_follow_the_fleet_size_and_the_offer_budget() {
        let cases: &[(Option<u64>, Option<u32>, u32)] = &[
            (None, None, 8),
            (Some(1_000), None, 8),
            (Some(4_000_000), None, 8),
            (Some(10_000_000), None, 20),
            (Some(1_000_000_000), None, 256),
            (Some(10_000_000), Some(5), 1),
            (Some(10_000_000), Some(30), 3),
            (Some(10_000_000), Some(1_000), 20),
            (None, Some(1_000), 8),
        ];
        for &(expected, max, want) in cases {
            assert_eq!(shards_for(expected, max), want, "{expected:?} {max:?}");
        }
    }

    #[test]
    fn shard_budgets_add_up_to_the_limit() {
        for (max, k) in [(5, 5), (7, 8), (1000, 8), (30, 20)] {
            let shares: Vec<u32> = (0..k).map(|s| shard_budget(max, s, k)).collect();
            assert_eq!(shares.iter().sum::<u32>(), max, "{max} over {k}");
            assert!(shares.iter().max().unwrap() - shares.iter().min().unwrap() <= 1);
        }
    }

    #[test]
    fn test_devices_live_in_the_first_shard_and_the_rest_spread() {
        let spec = RolloutSpec {
            verify_devices: vec!["862419074072389".into()],
            ..effective(&PlanSpec::default())
        };
        assert_eq!(shard_of(&spec, "p/f@1", "862419074072389", 8), 0);
        let mut per_shard = [0u32; 8];
        for n in 0..8_000u32 {
            per_shard[shard_of(&spec, "p/f@1", &format!("86000000{n:07}"), 8) as usize] += 1;
        }
        assert!(
            per_shard.iter().all(|&c| (800..1200).contains(&c)),
            "{per_shard:?}"
        );
        assert_eq!(shard_of(&spec, "p/f@1", "860000000000001", 1), 0);
    }

    use super::*;
    use crate::model::rollout::Ratio;
    use crate::rules::rollout_state::{on_eligible_seen, on_offer, start, Provenance};

    #[test]
    fn unverified_devices_get_a_bounded_share_of_the_offer_budget() {
        #[track_caller]
        fn check(max: u32, offers: u32, unverified: u32, standing: Standing, spent: bool) {
            assert_eq!(
                OfferRate { offers, unverified }.spent(max, standing),
                spent,
                "max {max}, {offers} offers, {unverified} unverified, {standing:?}"
            );
        }
        check(100, 99, 0, Standing::Trusted, false);
        check(100, 100, 0, Standing::Trusted, true);
        check(100, 50, 9, Standing::Unverified, false);
        check(100, 50, 10, Standing::Unverified, true);
        check(100, 50, 10, Standing::Trusted, false);
        check(100, 50, 10, Standing::Signed, false);
        check(5, 1, 0, Standing::Unverified, false);
        check(5, 1, 1, Standing::Unverified, true); // at least one offer, never none
        check(5, 5, 0, Standing::Unverified, true);
    }

    /// A device bound before any rollout in these tests started.
    const KNOWN: Provenance = Provenance {
        signed: false,
        listed: false,
        registered: true,
        first_seen_ms: -1,
    };

    fn spec(json: &str) -> RolloutSpec {
        serde_json::from_str(json).unwrap()
    }

    fn whole_fleet() -> PlanSpec {
        PlanSpec {
            target_version: "1.0.1".into(),
            ..PlanSpec::default()
        }
    }

    /// 15-digit IMEI-like ids: a fixed TAC-style prefix and a serial.
    fn imei(serial: u32) -> String {
        format!("8624190{serial:08}")
    }

    #[track_caller]
    fn check_spec(json: &str, expect: Result<(), RolloutError>) {
        assert_eq!(
            normalize(spec(json), &whole_fleet()).map(|_| ()),
            expect,
            "{json}"
        );
    }

    #[test]
    fn spec_validation() {
        use RolloutError::*;
        check_spec(r#"{"stages":[1,10,50,100]}"#, Ok(()));
        check_spec(r#"{"stages":[5,20]}"#, Ok(()));
        check_spec(
            r#"{"stages":[100],"max_failure_ratio":0,"window_utc":["22:00","04:00"]}"#,
            Ok(()),
        );
        check_spec(
            r#"{"stages":[100],"max_failure_ratio":1.0,"window_utc":["00:00","23:59"]}"#,
            Ok(()),
        );
        check_spec(r#"{"stages":[]}"#, Err(NoStages));
        check_spec(r#"{"stages":[0,10]}"#, Err(StageOutOfRange(0)));
        check_spec(r#"{"stages":[10,101]}"#, Err(StageOutOfRange(101)));
        check_spec(r#"{"stages":[10,10]}"#, Err(StagesNotIncreasing(10, 10)));
        check_spec(
            r#"{"stages":[50,10,100]}"#,
            Err(StagesNotIncreasing(50, 10)),
        );
        check_spec(
            r#"{"stages":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21]}"#,
            Err(TooMany("stages", MAX_STAGES)),
        );
        check_spec(
            r#"{"stages":[100],"max_failure_ratio":1.01}"#,
            Err(BadFailureRatio),
        );
        check_spec(
            r#"{"stages":[100],"max_failure_ratio":-0.1}"#,
            Err(BadFailureRatio),
        );
        check_spec(r#"{"stages":[100],"max_per_minute":0}"#, Err(ZeroRate));
        check_spec(
            r#"{"stages":[100],"window_utc":["1:00","05:00"]}"#,
            Err(BadWindowTime("1:00".into())),
        );
        check_spec(
            r#"{"stages":[100],"window_utc":["01:00","24:00"]}"#,
            Err(BadWindowTime("24:00".into())),
        );
        check_spec(
            r#"{"stages":[100],"window_utc":["01:60","05:00"]}"#,
            Err(BadWindowTime("01:60".into())),
        );
        check_spec(
            r#"{"stages":[100],"verify_devices":["a b"]}"#,
            Err(BadVerifyDevice("a b".into())),
        );
        check_spec(
            r#"{"stages":[100],"verify_devices":["862419074072389"],"verify_timeout_s":0}"#,
            Err(ZeroTimeout("verify_timeout_s")),
        );
        let mut plan = whole_fleet();
        plan.devices = vec!["862419074072389".into()];
        let outside = normalize(
            spec(r#"{"stages":[100],"verify_devices":["862419074072380"]}"#),
            &plan,
        );
        assert_eq!(
            outside,
            Err(VerifyDeviceOutsidePlan("862419074072380".into()))
        );
        assert_eq!(check_job_timeout(0), Err(ZeroTimeout("job_timeout_s")));
        assert!(
            serde_json::from_str::<RolloutSpec>(r#"{"stages":[100],"stage":[1]}"#).is_err(),
            "unknown fields are refused"
        );
    }

    #[test]
    fn spec_defaults_and_stored_form() {
        let s = normalize(
            spec(r#"{"stages":[10,100],"verify_devices":["3","1","3"]}"#),
            &whole_fleet(),
        )
        .unwrap();
        assert_eq!(s.verify_devices, ["1", "3"]);
        assert_eq!(
            (s.min_sample, s.max_failure_ratio, s.verify_timeout_s),
            (10, Ratio::from_ppm(200_000), 86_400)
        );
        assert_eq!(
            (
                s.max_per_minute,
                s.window_utc.as_ref(),
                s.auto_advance,
                s.soak_s
            ),
            (None, None, false, 0)
        );
        let text = serde_json::to_string(&s).unwrap();
        assert_eq!(
            text,
            r#"{"verify_devices":["1","3"],"verify_timeout_s":86400,"stages":[10,100],"max_failure_ratio":0.2,"min_sample":10,"auto_advance":false,"soak_s":0}"#
        );
        assert_eq!(spec(&text), s, "the stored form reads back unchanged");
    }

    #[track_caller]
    fn check_share(percent: u32, ids: &[u32]) {
        let inside = ids.iter().filter(|&&b| in_stage(b, percent)).count();
        let share = inside as f64 * 100.0 / ids.len() as f64;
        assert!(
            (share - f64::from(percent)).abs() <= 1.0,
            "stage {percent}% took {share:.2}%"
        );
    }

    #[test]
    fn buckets_are_sticky_and_stages_take_their_share() {
        let buckets: Vec<u32> = (0..100_000)
            .map(|n| bucket("K1/fw@1.0.1", &imei(n)))
            .collect();
        for (n, &b) in buckets.iter().enumerate().step_by(997) {
            assert_eq!(
                bucket("K1/fw@1.0.1", &imei(n as u32)),
                b,
                "bucket of {} moved",
                imei(n as u32)
            );
        }
        for percent in [1, 5, 10, 25, 50, 99, 100] {
            check_share(percent, &buckets);
        }
        let other_plan = (0..1000)
            .filter(|&n| bucket("K1/fw@1.0.2", &imei(n)) != buckets[n as usize])
            .count();
        assert!(other_plan > 990, "another plan draws its own sample");
        assert!(buckets.iter().all(|&b| b < BUCKETS));
    }

    #[test]
    fn raising_a_stage_never_drops_a_device() {
        for n in 0..20_000 {
            let b = bucket("plan", &imei(n));
            let first = (1..=100).find(|&p| in_stage(b, p)).unwrap();
            assert!(
                (first..=100).all(|p| in_stage(b, p)),
                "{} left at a larger stage",
                imei(n)
            );
        }
    }

    #[track_caller]
    fn check_window(window: [&str; 2], at: &str, expect: bool) {
        let w = UtcWindow::parse(&window.map(String::from)).unwrap();
        let minute = i64::from(parse_hhmm(at).unwrap());
        for day in [0, 20_000] {
            let ms = (day * DAY_MINUTES + minute) * MINUTE_MS + 59_999;
            assert_eq!(w.contains(ms), expect, "{at} in {window:?}");
        }
    }

    #[test]
    fn window_edges() {
        check_window(["01:00", "05:00"], "00:59", false);
        check_window(["01:00", "05:00"], "01:00", true);
        check_window(["01:00", "05:00"], "04:59", true);
        check_window(["01:00", "05:00"], "05:00", false);
        check_window(["22:00", "04:00"], "21:59", false);
        check_window(["22:00", "04:00"], "22:00", true);
        check_window(["22:00", "04:00"], "23:59", true);
        check_window(["22:00", "04:00"], "00:00", true);
        check_window(["22:00", "04:00"], "03:59", true);
        check_window(["22:00", "04:00"], "04:00", false);
        check_window(["22:00", "04:00"], "12:00", false);
        check_window(["03:00", "03:00"], "02:59", true);
        check_window(["03:00", "03:00"], "03:00", true);
        check_window(["00:00", "00:00"], "12:34", true);
    }

    /// New devices check in a stream; the edge counts first offers per minute as the gate allows them.
    #[test]
    fn rate_limit_boundary() {
        let s = spec(r#"{"stages":[100],"max_per_minute":3}"#);
        let state = start(&s, 0);
        let mut offered_in: std::collections::HashMap<i64, u32> = Default::default();
        let mut allowed = vec![];
        // Five checks in minute 7 (the last one at its final millisecond), then two in minute 8.
        let times = [
            7 * MINUTE_MS,
            7 * MINUTE_MS + 1,
            7 * MINUTE_MS + 2,
            7 * MINUTE_MS + 3,
            8 * MINUTE_MS - 1,
            8 * MINUTE_MS,
            8 * MINUTE_MS + 1,
        ];
        for (n, &now) in times.iter().enumerate() {
            let count = offered_in.entry(rate_window(now)).or_default();
            let verdict = rollout_gate(
                &s,
                &state,
                "plan",
                &imei(n as u32),
                None,
                now,
                OfferRate {
                    offers: *count,
                    unverified: 0,
                },
            );
            if verdict.is_ok() {
                *count += 1;
            }
            allowed.push(verdict);
        }
        let refused = Err(Refusal::NotOfferingNow);
        assert_eq!(
            allowed,
            [Ok(()), Ok(()), Ok(()), refused, refused, Ok(()), Ok(())]
        );
    }

    #[track_caller]
    fn check_gate(
        s: &RolloutSpec,
        state: &RolloutState,
        id: &str,
        device: Option<&DeviceRollout>,
        now: i64,
        expect: Result<(), Refusal>,
    ) {
        assert_eq!(
            rollout_gate(s, state, "plan", id, device, now, OfferRate::default()),
            expect,
            "{id} while {:?} at stage {}",
            state.phase,
            state.stage
        );
    }

    #[test]
    fn gate_table() {
        use Refusal::{NotInDeviceSet, NotOfferingNow};
        let s = normalize(
            spec(r#"{"stages":[10,50],"verify_devices":["TEST1"],"window_utc":["01:00","05:00"]}"#),
            &whole_fleet(),
        )
        .unwrap();
        let b = |n: u32| bucket("plan", &imei(n));
        let low = imei((0..).find(|&n| b(n) < 1000).unwrap());
        let mid = imei((0..).find(|&n| (1000..5000).contains(&b(n))).unwrap());
        let high = imei((0..).find(|&n| b(n) >= 5000).unwrap());
        let (open, closed) = (2 * 60 * MINUTE_MS, 6 * 60 * MINUTE_MS);
        let at = |phase, stage| RolloutState {
            phase,
            stage,
            ..start(&s, 0)
        };
        let verifying = start(&s, 0);
        let offered = |id: &str, st: &RolloutState| {
            let seen = on_eligible_seen(&s, st, "plan", id, &KNOWN, 0).unwrap();
            on_offer(&seen.rollout, &seen.device, 0).unwrap().device
        };
        check_gate(&s, &verifying, "TEST1", None, closed, Ok(()));
        check_gate(&s, &verifying, &low, None, open, Err(NotInDeviceSet));
        let running0 = at(RolloutPhase::Running, 0);
        check_gate(&s, &running0, &low, None, open, Ok(()));
        check_gate(&s, &running0, &low, None, closed, Err(NotOfferingNow));
        check_gate(&s, &running0, &mid, None, open, Err(NotInDeviceSet));
        let running1 = at(RolloutPhase::Running, 1);
        check_gate(&s, &running1, &mid, None, open, Ok(()));
        check_gate(&s, &running1, &high, None, open, Err(NotInDeviceSet));
        // Completed keeps offering late devices within the last stage's share.
        check_gate(
            &s,
            &at(RolloutPhase::Completed, 1),
            &mid,
            None,
            open,
            Ok(()),
        );
        check_gate(
            &s,
            &at(RolloutPhase::Completed, 1),
            &high,
            None,
            open,
            Err(NotInDeviceSet),
        );
        // Paused: no new offers, but a device already offered may finish, even outside the window.
        let paused = at(RolloutPhase::Paused, 0);
        check_gate(&s, &paused, &low, None, open, Err(NotOfferingNow));
        check_gate(
            &s,
            &paused,
            &low,
            Some(&offered(&low, &running0)),
            closed,
            Ok(()),
        );
        // Cancelled and failed rollouts offer nothing, not even to devices already offered.
        for phase in [RolloutPhase::Cancelled, RolloutPhase::Failed] {
            check_gate(
                &s,
                &at(phase, 0),
                &low,
                Some(&offered(&low, &running0)),
                open,
                Err(NotOfferingNow),
            );
        }
        // An operator lowers the stages: a device offered at 50% stays offered at 10%.
        let lowered = RolloutSpec {
            stages: vec![10],
            ..s.clone()
        };
        let mid_offered = offered(&mid, &running1);
        assert_eq!(
            rollout_gate(
                &lowered,
                &running0,
                "plan",
                &mid,
                Some(&mid_offered),
                open,
                OfferRate::default()
            ),
            Ok(())
        );
        assert_eq!(
            rollout_gate(
                &lowered,
                &running0,
                "plan",
                &mid,
                None,
                open,
                OfferRate::default()
            ),
            Err(NotInDeviceSet)
        );
    }

    #[test]
    fn late_devices_join_by_the_same_rule() {
        let s = spec(r#"{"stages":[10,100]}"#);
        let state = RolloutState {
            phase: RolloutPhase::Running,
            stage: 0,
            ..start(&s, 0)
        };
        for n in 0..2_000 {
            let id = imei(n);
            let expect = if bucket("plan", &id) < 1000 {
                Ok(())
            } else {
                Err(Refusal::NotInDeviceSet)
            };
            // The verdict depends on nothing but the id, whenever the device first appears.
            for now in [0, 3_600_000, 86_400_000 * 30] {
                assert_eq!(
                    rollout_gate(&s, &state, "plan", &id, None, now, OfferRate::default()),
                    expect,
                    "{id} at {now}"
                );
            }
            assert_eq!(
                cohort_of(&s, "plan", &id),
                Some(if expect.is_ok() { 0 } else { 1 })
            );
        }
    }
}
