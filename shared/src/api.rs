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

/// One firmware image as the registry lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Firmware {
    pub firmware_name: String,
    pub version: String,
    pub sha256: String,
    pub md5: String,
    pub size: u64,
    pub uploaded_at: String,
}

/// `GET /admin/v1/projects/{project_key}/firmware`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirmwareList {
    pub firmware: Vec<Firmware>,
}

/// How an upgrade is handed to a device that may follow redirects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Delivery {
    /// Always answer with the image bytes (200/206).
    #[default]
    Stream,
    /// Answer clients that follow redirects with a 302 to the content-addressed image URL.
    Redirect,
}

/// `PUT /admin/v1/projects/{project_key}/plans/{firmware_name}` body: who gets which version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
}

/// The image a plan points at, resolved when the plan is written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageRef {
    pub sha256: String,
    pub md5: String,
    pub size: u64,
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
}

/// `GET /admin/v1/projects/{project_key}/devices`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceList {
    pub devices: Vec<Device>,
    /// Present when more devices follow: pass it back as `?cursor=`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
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
