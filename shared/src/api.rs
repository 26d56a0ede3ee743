//! The admin API's JSON types, shared by the edge (which serves them) and the TUI (which reads them).
//!
//! Timestamps are RFC 3339 strings in UTC (`2026-11-22T00:17:26Z`); digests are lowercase hex.

use serde::{Deserialize, Serialize};

/// `PUT /admin/v1/projects/{project_key}` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectSpec {
    pub name: String,
    /// Deliveries of one target to one device before it is banned (loop-upgrade protection).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ban_after: Option<u32>,
}

/// A project as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Project {
    pub key: String,
    pub name: String,
    pub ban_after: u32,
    pub created_at: String,
    pub updated_at: String,
}

/// `GET /admin/v1/projects`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectList {
    pub projects: Vec<Project>,
}

/// The answer to a firmware upload: what the edge stored, digests computed over the received bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadReceipt {
    pub sha256: String,
    pub md5: String,
    pub size: u64,
}

/// What an image contains; a delta applies to one source version only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum ImageKind {
    /// Script-only package.
    Script,
    /// Core + script, or any whole image.
    #[default]
    Full,
    /// Differential package (EC618/EC718 SoC deltas): needs `source_version`.
    Delta,
}

impl ImageKind {
    pub fn parse(text: &str) -> Option<ImageKind> {
        match text {
            "script" => Some(ImageKind::Script),
            "full" => Some(ImageKind::Full),
            "delta" => Some(ImageKind::Delta),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ImageKind::Script => "script",
            ImageKind::Full => "full",
            ImageKind::Delta => "delta",
        }
    }
}

/// The module a device image is for when none is named: the whole device.
pub const DEFAULT_MODULE: &str = "default";

fn default_module() -> String {
    DEFAULT_MODULE.to_string()
}

/// One firmware image as the registry lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Firmware {
    pub firmware_name: String,
    pub version: String,
    pub sha256: String,
    pub md5: String,
    pub size: u64,
    pub uploaded_at: String,
    #[serde(default = "default_module")]
    pub module: String,
    #[serde(default)]
    pub kind: ImageKind,
    /// For a delta: the version it applies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    /// The token name that uploaded it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uploader: Option<String>,
}

/// `GET /admin/v1/projects/{project_key}/firmware`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirmwareList {
    pub firmware: Vec<Firmware>,
}

/// How an upgrade is handed to a device that may follow redirects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Delivery {
    /// Always answer with the image bytes (200/206).
    #[default]
    Stream,
    /// Answer clients that follow redirects with a 302 to the content-addressed image URL.
    Redirect,
}

/// `PUT /admin/v1/projects/{project_key}/plans/{firmware_name}` body: who gets which version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct PlanSpec {
    pub target_version: String,
    /// When non-empty, only devices reporting one of these versions are offered the target.
    #[serde(default)]
    pub from_versions: Vec<String>,
    /// Explicit device ids. With `imei_ranges`, the device set; both empty means every device.
    #[serde(default)]
    pub devices: Vec<String>,
    /// Inclusive id ranges, `[["860000000000000","860000000000999"]]`.
    #[serde(default)]
    pub imei_ranges: Vec<[String; 2]>,
    #[serde(default)]
    pub delivery: Delivery,
    #[serde(default)]
    pub allow_downgrade: bool,
    /// A staged release; absent means every eligible device at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout: Option<RolloutSpec>,
    /// Seconds from an offer to the device reporting the target before its job fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_timeout_s: Option<u64>,
    /// JSON (module OTA) devices: hold each device's job until the owner confirms it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub needs_confirm: bool,
}

/// The image a plan points at, resolved when the plan is written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageRef {
    pub sha256: String,
    pub md5: String,
    pub size: u64,
    /// The module the image is for (`default`: the whole device).
    #[serde(default = "default_module")]
    pub module: String,
}

/// A stored plan: the operator's spec plus what the edge resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub project_key: String,
    pub firmware_name: String,
    #[serde(flatten)]
    pub spec: PlanSpec,
    pub image: ImageRef,
    pub updated_at: String,
}

/// `GET /admin/v1/projects/{project_key}/plans`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanList {
    pub plans: Vec<Plan>,
}

/// One device of the fleet registry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    pub id: String,
    pub firmware_name: Option<String>,
    pub version: Option<String>,
    pub first_seen: String,
    pub last_seen: String,
    /// Deliveries of the current target since the device last reported it.
    pub deliveries: u32,
    pub banned: bool,
    /// The device's job in its current rollout: idle, offered, succeeded, failed, banned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Why the job failed, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
}

/// `GET /admin/v1/projects/{project_key}/devices`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceList {
    pub devices: Vec<Device>,
    /// Present when more devices follow: pass it back as `?cursor=`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// One entry of a device's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceEvent {
    pub at: String,
    /// `bound`, `check`, `report`, `delivery`, `offer`, `succeeded`, `failed`, `banned`, `unban`.
    pub kind: String,
    pub detail: Option<String>,
}

/// `GET /admin/v1/projects/{key}/devices/{id}/history`, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceHistory {
    pub events: Vec<DeviceEvent>,
}

/// Every admin error: `{"error":{"code":"not_found","message":"..."}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiErrorBody {
    pub error: ApiErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiErrorDetail {
    /// Stable machine code, e.g. `unauthorized`, `not_found`, `invalid_json`, `payload_too_large`.
    pub code: String,
    pub message: String,
}

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
        Ok(Ratio { ppm: (value * Self::PPM_PER_ONE as f64).round() as i64 })
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
        [DevicePhase::Idle, DevicePhase::Offered, DevicePhase::Succeeded, DevicePhase::Failed, DevicePhase::Banned]
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
}

/// One stage of a [`RolloutStatus`]: its cumulative percentage and the counts of its slice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RolloutStageStatus {
    pub percent: u32,
    #[serde(flatten)]
    pub counts: RolloutCounts,
}

/// `GET .../plans/{firmware_name}/rollout`. `totals` is `verification` plus every stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RolloutStatus {
    pub state: RolloutPhase,
    /// Index into `stages`; -1 while verifying.
    pub stage: i32,
    /// The share of eligible devices offered now (0 while verifying).
    pub percent: u32,
    pub paused_reason: Option<String>,
    pub failed_reason: Option<String>,
    pub started_at: String,
    pub stage_started_at: String,
    /// Devices first seen after the rollout started (neither listed nor signed): counted here
    /// only, never in `totals`, and never moving verification, the health gate or `auto_advance`.
    #[serde(default)]
    pub unverified: RolloutCounts,
    pub totals: RolloutCounts,
    pub verification: RolloutCounts,
    pub stages: Vec<RolloutStageStatus>,
}

/// `POST /admin/v1/tokens` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenSpec {
    /// Unique; names the token's holder in the audit log.
    pub name: String,
    pub role: crate::routes::Role,
}

/// A token as listed: never the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenInfo {
    pub name: String,
    pub role: crate::routes::Role,
    pub created_at: String,
    pub created_by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
}

/// `201` answer to a token creation: the only time the secret is shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenCreated {
    pub name: String,
    pub role: crate::routes::Role,
    pub token: String,
    pub created_at: String,
}

/// `GET /admin/v1/tokens`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenList {
    pub tokens: Vec<TokenInfo>,
}

/// One audit log entry: who did what to what, and how it looked before and after.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: u64,
    pub at: String,
    /// The token name (`bootstrap` for `ADMIN_TOKEN`).
    pub actor: String,
    /// `METHOD route-pattern`, e.g. `PUT projects/{key}/plans/{firmware_name}`.
    pub action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_key: Option<String>,
    pub target: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<serde_json::Value>,
}

/// `GET /admin/v1/audit?project=&actor=&action=&since=&cursor=&limit=`, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

// Aliyun/HaaS-style module OTA: the JSON a device reads (the rules are in `crate::module_ota`,
// `crate::module_job`, `crate::notice` and `crate::device_auth`).

/// The answer to a device's report or progress message: `{"id":"123","code":200}`; a progress
/// report throttled away is `429` with `message`. Refusals (bad signature, malformed message, too
/// large) use the admin error shape `{"error":{"code":"auth_replayed","message":"..."}}` with their
/// HTTP status. `id` echoes the request's `id` exactly as sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceAck {
    pub id: String,
    pub code: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// The upgrade notice: `GET /ota/device/upgrade/{productKey}/{deviceName}` answers
/// `{"id":"123","code":200,"data":{...}}` when the device has a job in progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpgradeNotice {
    pub id: String,
    pub code: u16,
    pub data: NoticeData,
}

/// What the device downloads and how it checks it. The device downloads `url`, checks the bytes
/// against `sha256` (`hash_type`), and before that checks `sign` over the fields listed in
/// [`crate::notice::notice_canonical_bytes`] with the public key `key_id`. `url` and `md5` are not
/// signed: the URL expires and changes, and the signed `sha256` already binds the bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoticeData {
    pub module: String,
    pub version: String,
    pub size: u64,
    pub url: String,
    pub md5: String,
    pub sha256: String,
    /// The digest the device must verify the download with: always `sha256`.
    pub hash_type: String,
    /// Milliseconds since the epoch: the device refuses the notice at and after this instant.
    pub expires: i64,
    /// The job installs an older version than the device reported (the plan allows downgrades).
    pub downgrade: bool,
    /// Lowercase hex Ed25519 signature (128 characters).
    pub sign: String,
    /// Always `Ed25519`.
    pub sign_method: String,
    /// The signing key's id, so a device holding two public keys during a rotation tries the right one.
    pub key_id: String,
}

/// The command pushed over a device's standing connection (TCP or MQTT) to make it check now:
/// `{"fota":"true","url":"<check url>"}`. `fota` is the string `"true"`, as devices compare text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushCommand {
    pub fota: String,
    pub url: String,
}

/// Where a device's module job stands while it occupies the device's one job slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum JobPhase {
    /// The plan needs the owner's confirmation: nothing reaches the device until it comes.
    #[cfg_attr(feature = "clap", value(alias = "awaiting_confirmation"))]
    AwaitingConfirmation,
    /// Offered to the device (the notice is served); the job timeout runs from the offer.
    #[cfg_attr(feature = "clap", value(alias = "in_progress"))]
    InProgress,
}

impl JobPhase {
    pub fn as_str(self) -> &'static str {
        match self {
            JobPhase::AwaitingConfirmation => "awaiting_confirmation",
            JobPhase::InProgress => "in_progress",
        }
    }
}

/// `POST /admin/v1/projects/{key}/devices`: provision JSON devices by id. Without `rekey`, an id
/// already provisioned keeps its secret and the answer shows none for it; with `"rekey": true`
/// every named id gets a new secret (a new key generation) and its old one stops verifying.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProvisionSpec {
    pub devices: Vec<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub rekey: bool,
}

/// One device given a new secret: shown in this answer only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProvisionedDevice {
    pub id: String,
    pub secret: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provisioned {
    /// The devices given a secret by this call (newly provisioned, or re-keyed), sorted by id.
    pub devices: Vec<ProvisionedDevice>,
    /// Named ids that were provisioned already and kept their secret (none shown), sorted.
    #[serde(default)]
    pub already_provisioned: Vec<String>,
}

/// `POST /admin/v1/projects/{key}/confirm`: the owner confirms held jobs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfirmSpec {
    pub devices: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfirmSkipped {
    pub id: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfirmResult {
    pub confirmed: Vec<String>,
    pub skipped: Vec<ConfirmSkipped>,
}

/// One device's module-OTA job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobInfo {
    pub device_id: String,
    pub job: crate::module_job::ActiveJob,
}

/// `GET /admin/v1/projects/{key}/jobs?phase=awaiting_confirmation|in_progress`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobList {
    pub jobs: Vec<JobInfo>,
}

/// The answer to a check-now push: devices asked, and sockets reached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckNowResult {
    pub devices: u32,
    pub reached: u32,
}

/// `GET /admin/v1/projects/{key}/signing-keys`: the public keys devices may pin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigningKeyList {
    /// The key that signs notices now.
    pub active: String,
    /// Every key still trusted (the active one and those in their overlap period), oldest first.
    pub keys: Vec<crate::notice::SigningKey>,
}

/// `POST /admin/v1/projects/{key}/signing-keys/rotate` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RotateSpec {
    /// Seconds the old keys stay trusted beside the new one (default 7 days).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overlap_s: Option<u64>,
}

/// One hour of a project's device traffic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityHour {
    /// The start of the hour.
    pub at: String,
    pub checks: u64,
    pub deliveries: u64,
}

/// `GET /admin/v1/projects/{key}/activity?hours=N`: the last N hours, oldest first, every hour
/// present (zeros included).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Activity {
    pub hours: Vec<ActivityHour>,
}

/// Devices that report one (firmware, version) pair; `None` is a device that never reported it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionCount {
    pub firmware_name: Option<String>,
    pub version: Option<String>,
    pub devices: u64,
}

/// Devices whose job in their current rollout is in `state` (`idle` when they have none).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateCount {
    pub state: String,
    pub devices: u64,
}

/// Devices seen within the last hour, day and week (each window includes the shorter ones).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SeenCounts {
    pub hour: u64,
    pub day: u64,
    pub week: u64,
}

/// `GET /admin/v1/projects/{key}/summary`: the whole project's fleet in one answer, computed by
/// the edge from indexed aggregates and kept for at most a minute (`computed_at` says when).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct FleetSummary {
    pub total: u64,
    pub banned: u64,
    pub seen: SeenCounts,
    /// Most devices first.
    pub versions: Vec<VersionCount>,
    /// Most devices first.
    pub states: Vec<StateCount>,
    /// The devices seen most recently, newest first (at most [`crate::fleet_summary::LATEST`]).
    pub latest: Vec<Device>,
    pub computed_at: String,
}
