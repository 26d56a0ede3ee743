//! Admin API types of module OTA: provisioning JSON devices, confirming held jobs, listing jobs,
//! check-now pushes and the notice signing keys. Times are RFC 3339; the stored records with
//! milliseconds (`crate::model::job::ActiveJob`, `crate::model::keys::SigningKey`) stay below.

use crate::leaf::time::rfc3339;
use crate::model::job::{ActiveJob, JobPhase};
use crate::model::keys::SigningKey;
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
    /// Which API the devices speak: `json` (the signed device API, the default) or `luat` (the
    /// Luat check; registered ids may sign their checks, and rollouts trust them).
    #[serde(default, skip_serializing_if = "Protocol::is_json")]
    pub protocol: Protocol,
}

/// The protocol a registered device speaks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    #[default]
    Json,
    Luat,
}

impl Protocol {
    pub fn is_json(&self) -> bool {
        *self == Protocol::Json
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Json => "json",
            Protocol::Luat => "luat",
        }
    }
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
    pub job: Job,
}

/// A device's one module-OTA job as the API shows it: the stored [`ActiveJob`] with RFC 3339
/// times.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    pub module: String,
    pub firmware_name: String,
    pub target_version: String,
    pub phase: JobPhase,
    pub created_at: String,
    /// When the job reached the device (its creation, or the confirmation); the timeout runs
    /// from here. `null` while it awaits confirmation.
    pub offered_at: Option<String>,
    pub job_timeout_s: u64,
    /// The last progress step stored, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_step: Option<i8>,
}

impl From<&ActiveJob> for Job {
    fn from(job: &ActiveJob) -> Job {
        Job {
            module: job.module.clone(),
            firmware_name: job.firmware_name.clone(),
            target_version: job.target_version.clone(),
            phase: job.phase,
            created_at: rfc3339(job.created_ms),
            offered_at: job.offered_ms.map(rfc3339),
            job_timeout_s: job.job_timeout_s,
            last_step: job.last_step,
        }
    }
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
    pub keys: Vec<SigningKeyInfo>,
}

/// A notice signing key as the API shows it: the stored [`SigningKey`] with RFC 3339 times.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigningKeyInfo {
    /// The `key_id` notices name.
    pub id: String,
    pub public_key_hex: String,
    /// From this instant the key may sign.
    pub created_at: String,
    /// From this instant the key neither signs nor is trusted; absent until a rotation sets it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retire_after: Option<String>,
}

impl From<&SigningKey> for SigningKeyInfo {
    fn from(key: &SigningKey) -> SigningKeyInfo {
        SigningKeyInfo {
            id: key.id.clone(),
            public_key_hex: key.public_key_hex.clone(),
            created_at: rfc3339(key.created_ms),
            retire_after: key.retire_after_ms.map(rfc3339),
        }
    }
}

/// `POST /admin/v1/projects/{key}/signing-keys/rotate` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RotateSpec {
    /// Seconds the old keys stay trusted beside the new one (default 7 days).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overlap_s: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_milliseconds_become_rfc3339() {
        let job = ActiveJob {
            module: "MCU".into(),
            firmware_name: "mcu_fw".into(),
            target_version: "1.1".into(),
            phase: JobPhase::AwaitingConfirmation,
            created_ms: 1_795_306_646_000,
            offered_ms: None,
            job_timeout_s: 3600,
            last_step: None,
        };
        let shown = serde_json::to_value(JobInfo {
            device_id: "d1".into(),
            job: Job::from(&job),
        })
        .unwrap();
        assert_eq!(
            shown,
            serde_json::json!({"device_id": "d1", "job": {"module": "MCU", "firmware_name": "mcu_fw", "target_version": "1.1",
                "phase": "awaiting_confirmation", "created_at": "2026-11-22T00:17:26Z", "offered_at": null, "job_timeout_s": 3600}})
        );
        let key = SigningKey {
            id: "k1".into(),
            public_key_hex: "ab".into(),
            created_ms: 0,
            retire_after_ms: Some(86_400_000),
        };
        let shown = serde_json::to_value(SigningKeyInfo::from(&key)).unwrap();
        assert_eq!(
            shown,
            serde_json::json!({"id": "k1", "public_key_hex": "ab", "created_at": "1970-01-01T00:00:00Z", "retire_after": "1970-01-02T00:00:00Z"})
        );
    }
}

/// `POST .../devices/{id}/cancel` and `.../uncancel` body (optional): one plan's firmware name,
/// or (absent) every plan the device is in.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CancelSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub firmware_name: Option<String>,
}

/// What a cancel or uncancel changed: the plans (by firmware name) the device is now left out
/// of, or let back into.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancelResult {
    pub device_id: String,
    pub cancelled: bool,
    pub firmware_names: Vec<String>,
}
