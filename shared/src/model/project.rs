//! What a project decides for all its devices.

use serde::{Deserialize, Serialize};

/// Which device ids a project serves on the Luat check (`PUT /admin/v1/projects/{key}`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum DevicePolicy {
    /// Any id binds to the project on its first check (unregistered ids are served, but a
    /// rollout does not trust them).
    #[default]
    Open,
    /// Only ids an operator registered are served; any other gets code 72 and nothing is
    /// recorded for it.
    Registered,
    /// Every Luat check must carry a valid signature (code 73 otherwise).
    Signed,
}

impl DevicePolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            DevicePolicy::Open => "open",
            DevicePolicy::Registered => "registered",
            DevicePolicy::Signed => "signed",
        }
    }

    /// May a Luat check with an id never seen before bind it to the project?
    pub fn binds_new_ids(self) -> bool {
        self == DevicePolicy::Open
    }

    pub fn parse(text: &str) -> Option<DevicePolicy> {
        match text {
            "open" => Some(DevicePolicy::Open),
            "registered" => Some(DevicePolicy::Registered),
            "signed" => Some(DevicePolicy::Signed),
            _ => None,
        }
    }
}
