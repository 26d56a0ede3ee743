//! Rollouts as data: the operator's `RolloutSpec`, the phases of a rollout and of a device in it,
//! the counters, and the records the rollout's coordinator stores (`RolloutState`,
//! `DeviceRollout`). The transitions over them live in `crate::rules::rollout_state`.

use serde::{Deserialize, Serialize};

/// Default for [`RolloutSpec::verify_timeout_s`]: a day for the test devices to report the target.
pub const DEFAULT_VERIFY_TIMEOUT_S: u64 = 86_400;
/// Default for [`RolloutSpec::min_sample`].
pub const DEFAULT_MIN_SAMPLE: u32 = 10;
/// Default for [`RolloutSpec::max_failure_ratio`]: 0.2, in parts per million.
pub const DEFAULT_MAX_FAILURE_PPM: i64 = 200_000;

/// A fraction written as a JSON number (`0.2`), held in parts per million so that specs compare
/// exactly and the health gate decides in integer arithmetic, never on a float rounding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ratio {
    ppm: i64,
}

impl Ratio {
    pub const PPM_PER_ONE: i64 = 1_000_000;

    pub const fn from_ppm(ppm: i64) -> Ratio {
        Ratio { ppm }
    }

    /// Parts per million; 1.0 is [`Ratio::PPM_PER_ONE`]. Out-of-range values are kept so that
    /// validation can name them instead of the parser clamping them silently.
    pub const fn ppm(self) -> i64 {
        self.ppm
    }

    pub fn as_f64(self) -> f64 {
        self.ppm as f64 / Self::PPM_PER_ONE as f64
    }
}

impl Serialize for Ratio {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_f64(self.as_f64())
    }
}

impl<'de> Deserialize<'de> for Ratio {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Ratio, D::Error> {
        // `as` saturates, so absurd values stay out of range rather than wrapping into it.
        let value = f64::deserialize(deserializer)?;
        Ok(Ratio {
            ppm: (value * Self::PPM_PER_ONE as f64).round() as i64,
        })
    }
}

fn default_verify_timeout_s() -> u64 {
    DEFAULT_VERIFY_TIMEOUT_S
}

fn default_min_sample() -> u32 {
    DEFAULT_MIN_SAMPLE
}

fn default_max_failure_ratio() -> Ratio {
    Ratio::from_ppm(DEFAULT_MAX_FAILURE_PPM)
}

/// The `rollout` object of a plan: how the target reaches the fleet, a stage at a time.
///
/// `{"verify_devices":["862419074072389"],"verify_timeout_s":3600,"stages":[1,10,50,100],
/// "max_failure_ratio":0.2,"min_sample":10,"max_per_minute":30,"window_utc":["01:00","05:00"],
/// "auto_advance":false,"soak_s":0}`; only `stages` is required.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RolloutSpec {
    /// Test devices offered the image first; empty skips verification. Stored sorted and unique.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub verify_devices: Vec<String>,
    /// Seconds from the start of the rollout for every test device to report the target.
    #[serde(default = "default_verify_timeout_s")]
    pub verify_timeout_s: u64,
    /// Cumulative percentages of the eligible devices, strictly increasing, each 1..=100.
    pub stages: Vec<u32>,
    /// Failed share of a stage's outcomes above which the rollout pauses itself.
    #[serde(default = "default_max_failure_ratio")]
    pub max_failure_ratio: Ratio,
    /// Outcomes (successes and failures) a stage needs before the failure ratio is judged.
    #[serde(default = "default_min_sample")]
    pub min_sample: u32,
    /// Most first offers across the fleet in one clock minute; absent means no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_per_minute: Option<u32>,
    /// `["HH:MM","HH:MM"]` in UTC, start inclusive, end exclusive; may wrap midnight; equal ends
    /// mean always. Absent means always.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_utc: Option<[String; 2]>,
    /// Advance by itself once a stage is settled, healthy and soaked.
    #[serde(default)]
    pub auto_advance: bool,
    /// Seconds a stage runs before it may auto-advance.
    #[serde(default)]
    pub soak_s: u64,
}

/// Where a rollout stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RolloutPhase {
    /// Only the test devices are offered the image.
    Verifying,
    Running,
    /// No new offers until an operator resumes; devices already offered may finish.
    Paused,
    /// Past the last stage: still offers to late devices within the last stage's share.
    Completed,
    /// Stopped by an operator: offers nothing.
    Cancelled,
    /// Verification failed or timed out: offers nothing.
    Failed,
}

impl RolloutPhase {
    /// Every phase, in the order a rollout usually passes them.
    pub const ALL: [RolloutPhase; 6] = [
        RolloutPhase::Verifying,
        RolloutPhase::Running,
        RolloutPhase::Paused,
        RolloutPhase::Completed,
        RolloutPhase::Cancelled,
        RolloutPhase::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RolloutPhase::Verifying => "verifying",
            RolloutPhase::Running => "running",
            RolloutPhase::Paused => "paused",
            RolloutPhase::Completed => "completed",
            RolloutPhase::Cancelled => "cancelled",
            RolloutPhase::Failed => "failed",
        }
    }
}

impl std::fmt::Display for RolloutPhase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An operator's control of a rollout: `POST .../rollout/{action}` or `{"action":"pause"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RolloutAction {
    Pause,
    Resume,
    Cancel,
    Advance,
}

impl RolloutAction {
    pub fn as_str(self) -> &'static str {
        match self {
            RolloutAction::Pause => "pause",
            RolloutAction::Resume => "resume",
            RolloutAction::Cancel => "cancel",
            RolloutAction::Advance => "advance",
        }
    }
}

/// One device's part in a rollout: `idle -> offered -> succeeded | failed | banned`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum DevicePhase {
    /// Seen and eligible, not offered yet.
    Idle,
    /// Offered the image; no outcome yet.
    Offered,
    /// Reported the target version.
    Succeeded,
    /// No success within the plan's `job_timeout_s` of the offer.
    Failed,
    /// Banned by loop-upgrade protection after repeated deliveries.
    Banned,
}

impl DevicePhase {
    pub fn as_str(self) -> &'static str {
        match self {
            DevicePhase::Idle => "idle",
            DevicePhase::Offered => "offered",
            DevicePhase::Succeeded => "succeeded",
            DevicePhase::Failed => "failed",
            DevicePhase::Banned => "banned",
        }
    }

    pub fn parse(text: &str) -> Option<DevicePhase> {
        [
            DevicePhase::Idle,
            DevicePhase::Offered,
            DevicePhase::Succeeded,
            DevicePhase::Failed,
            DevicePhase::Banned,
        ]
        .into_iter()
        .find(|p| p.as_str() == text)
    }
}

/// Device counts of a rollout or one of its stages. `pending` is offered without an outcome yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RolloutCounts {
    pub eligible: u64,
    pub offered: u64,
    pub succeeded: u64,
    pub failed: u64,
    pub banned: u64,
    pub pending: u64,
    /// Devices that reported the target without this rollout having delivered them the whole
    /// image, and have not succeeded since: their report is not believed (they stay in their
    /// phase) and moves no gate, stage or verification. Not an outcome: it overlaps the others.
    #[serde(default)]
    pub reported_without_delivery: u64,
}

/// Counts added up: shards merged, or stages folded into one.
impl std::ops::AddAssign for RolloutCounts {
    fn add_assign(&mut self, c: RolloutCounts) {
        self.eligible += c.eligible;
        self.offered += c.offered;
        self.succeeded += c.succeeded;
        self.failed += c.failed;
        self.banned += c.banned;
        self.pending += c.pending;
        self.reported_without_delivery += c.reported_without_delivery;
    }
}

/// A rollout's progress, as the edge stores it next to the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RolloutState {
    pub phase: RolloutPhase,
    /// Index into the spec's stages; -1 while verifying.
    pub stage: i32,
    pub paused_reason: Option<String>,
    pub failed_reason: Option<String>,
    pub started_ms: i64,
    pub stage_started_ms: i64,
    /// The test devices' counts.
    pub verification: RolloutCounts,
    /// Each stage's counts: the devices whose bucket falls in that stage's slice.
    pub stages: Vec<RolloutCounts>,
    pub totals: RolloutCounts,
    /// Devices first seen after the rollout started, neither listed nor signed: served by their
    /// bucket, counted here only, and never moving a gate ([`Standing::Unverified`]).
    #[serde(default)]
    pub unverified: RolloutCounts,
    /// The counts are one shard's part of a rollout spread over several coordinators: a
    /// device's outcome does not judge the health gate here (its cohort's counts are partial);
    /// the first shard judges it on the merged counts
    /// ([`crate::rules::rollout_state::judge_merged`]). Verification is judged per device still.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub judged_apart: bool,
}

/// How far a rollout may believe what a device's checks and reports say of it. The Luat check is
/// unauthenticated, so an id anyone could make up moves no gate: only devices the operator can
/// trust decide verification, the health gate, `auto_advance` and most of the offer budget.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Standing {
    /// A provisioned JSON device: every request is signed, so even its ban is its own doing.
    Signed,
    /// An unsigned id the operator listed (a test device or the plan's `devices`), or first seen
    /// before the rollout started. Rows stored before standings existed are trusted.
    #[default]
    Trusted,
    /// An unsigned id first seen after the rollout started: counted apart (`unverified`).
    Unverified,
}

/// One device's part in one rollout: the edge's per-device row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceRollout {
    pub device_id: String,
    /// The counters it is counted under for good: -1 for a test device, else a stage index.
    pub cohort: i32,
    pub phase: DevicePhase,
    /// When it entered `phase`.
    pub since_ms: i64,
    pub offered_ms: Option<i64>,
    /// Why it failed or was banned.
    pub cause: Option<String>,
    #[serde(default)]
    pub standing: Standing,
    /// This rollout handed the device every byte of the image since its last outcome (a 200
    /// stream, or the signed image URL a redirect named, completed): only then does a report of
    /// the target make it succeed. An outcome (success, failure, ban) clears it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub delivered: bool,
    /// It reported the target without such a delivery and has not succeeded since (counted in
    /// [`RolloutCounts::reported_without_delivery`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reported_without_delivery: bool,
}
