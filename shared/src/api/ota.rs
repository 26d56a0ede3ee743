//! Admin API types of module OTA: provisioning JSON devices, confirming held jobs, listing jobs,
//! check-now pushes and the notice signing keys. Times are RFC 3339; the stored records with
//! milliseconds (`crate::model::job::ActiveJob`, `crate::model::keys::SigningKey`) stay below.

use serde::{Deserialize, Serialize};

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
    pub job: crate::model::job::ActiveJob,
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
    pub keys: Vec<crate::model::keys::SigningKey>,
}

/// `POST /admin/v1/projects/{key}/signing-keys/rotate` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RotateSpec {
    /// Seconds the old keys stay trusted beside the new one (default 7 days).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overlap_s: Option<u64>,
}
