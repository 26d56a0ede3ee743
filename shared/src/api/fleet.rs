//! Admin API types of the fleet registry: devices, their history, activity per hour and the fleet
//! summary.

use crate::model::rollout::DevicePhase;
use serde::{Deserialize, Serialize};

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
    /// The device's job in its current rollout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<DevicePhase>,
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
    /// `bound`, `check`, `report`, `delivery`, `offer`, `succeeded`, `failed`, `banned`, `unban`,
    /// `reported_without_delivery` (a report of the target its rollout did not believe).
    pub kind: String,
    pub detail: Option<String>,
}

/// `GET /admin/v1/projects/{key}/devices/{id}/history`, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceHistory {
    pub events: Vec<DeviceEvent>,
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
    pub state: DevicePhase,
    pub devices: u64,
}

/// Devices seen within the last hour, day and week (each window includes the shorter ones), by
/// their stored `last_seen`: that is kept to `SEEN_GRANULARITY_S` (a day by default, so "hour"
/// counts only devices whose stored `last_seen` moved in the last hour: bindings, new versions and
/// the daily refreshes that fell due), and each window is rounded out to whole clock hours (it
/// may reach up to an hour further back).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SeenCounts {
    pub hour: u64,
    pub day: u64,
    pub week: u64,
}

/// `GET /admin/v1/projects/{key}/summary`: the whole project's fleet in one answer, read by the
/// edge from counts D1 keeps as devices change (never a pass over the devices) and kept for at
/// most a minute (`computed_at` says when).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct FleetSummary {
    pub total: u64,
    pub banned: u64,
    pub seen: SeenCounts,
    /// Most devices first.
    pub versions: Vec<VersionCount>,
    /// Most devices first.
    pub states: Vec<StateCount>,
    /// The devices seen most recently (by stored `last_seen`), newest first (at most
    /// [`crate::api::fleet_summary::LATEST`]), found among the newest that each clock hour of the
    /// last week remembers.
    pub latest: Vec<Device>,
    pub computed_at: String,
}
