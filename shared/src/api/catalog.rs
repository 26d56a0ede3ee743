//! Admin API types of the catalog: projects and firmware images.

use crate::model::plan::{default_module, ImageKind};
use crate::model::project::DevicePolicy;
use serde::{Deserialize, Serialize};

/// `PUT /admin/v1/projects/{project_key}` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectSpec {
    pub name: String,
    /// Deliveries of one target to one device before it is banned (loop-upgrade protection).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ban_after: Option<u32>,
    /// Which ids the project serves (`open`, `registered`, `signed`); unchanged when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_policy: Option<DevicePolicy>,
    /// Image bytes one device may be sent per UTC day (code 74 past it); `0` removes the
    /// budget, absent leaves it as it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daily_bytes_per_device: Option<u64>,
}

/// A project as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Project {
    pub key: String,
    pub name: String,
    pub ban_after: u32,
    #[serde(default)]
    pub device_policy: DevicePolicy,
    /// When an operator last changed a binding in this project (provisioned, registered, forgot,
    /// moved a device; ms): copies of bindings made before it are read again.
    #[serde(default)]
    pub bindings_at: i64,
    /// Image bytes one device may be sent per UTC day; past it the device hears code 74 until
    /// the next day. Absent: no budget.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daily_bytes_per_device: Option<u64>,
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
