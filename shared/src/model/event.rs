//! Events: the moments an operator wants to be told about (a rollout paused by its gate, a device
//! banned, a release completed), each with a type from [`EventType`]. The edge appends them to a
//! per-project log, which its feed reads back and its webhooks deliver.

use serde::{Deserialize, Serialize};

/// Every event type, spelt `family.moment` on the wire (`rollout.paused`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventType {
    #[serde(rename = "rollout.verifying")]
    RolloutVerifying,
    #[serde(rename = "rollout.running")]
    RolloutRunning,
    #[serde(rename = "rollout.stage_advanced")]
    RolloutStageAdvanced,
    #[serde(rename = "rollout.paused")]
    RolloutPaused,
    #[serde(rename = "rollout.resumed")]
    RolloutResumed,
    #[serde(rename = "rollout.failed")]
    RolloutFailed,
    #[serde(rename = "rollout.completed")]
    RolloutCompleted,
    #[serde(rename = "rollout.cancelled")]
    RolloutCancelled,
    #[serde(rename = "verification.passed")]
    VerificationPassed,
    #[serde(rename = "verification.failed")]
    VerificationFailed,
    #[serde(rename = "device.banned")]
    DeviceBanned,
    #[serde(rename = "device.unbanned")]
    DeviceUnbanned,
    #[serde(rename = "job.confirmed")]
    JobConfirmed,
    #[serde(rename = "job.cancelled")]
    JobCancelled,
    #[serde(rename = "job.uncancelled")]
    JobUncancelled,
    #[serde(rename = "plan.changed")]
    PlanChanged,
    #[serde(rename = "image.uploaded")]
    ImageUploaded,
    /// A webhook failed for 24 hours and was disabled.
    #[serde(rename = "webhook.disabled")]
    WebhookDisabled,
}

impl EventType {
    pub const ALL: [EventType; 18] = [
        EventType::RolloutVerifying,
        EventType::RolloutRunning,
        EventType::RolloutStageAdvanced,
        EventType::RolloutPaused,
        EventType::RolloutResumed,
        EventType::RolloutFailed,
        EventType::RolloutCompleted,
        EventType::RolloutCancelled,
        EventType::VerificationPassed,
        EventType::VerificationFailed,
        EventType::DeviceBanned,
        EventType::DeviceUnbanned,
        EventType::JobConfirmed,
        EventType::JobCancelled,
        EventType::JobUncancelled,
        EventType::PlanChanged,
        EventType::ImageUploaded,
        EventType::WebhookDisabled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::RolloutVerifying => "rollout.verifying",
            EventType::RolloutRunning => "rollout.running",
            EventType::RolloutStageAdvanced => "rollout.stage_advanced",
            EventType::RolloutPaused => "rollout.paused",
            EventType::RolloutResumed => "rollout.resumed",
            EventType::RolloutFailed => "rollout.failed",
            EventType::RolloutCompleted => "rollout.completed",
            EventType::RolloutCancelled => "rollout.cancelled",
            EventType::VerificationPassed => "verification.passed",
            EventType::VerificationFailed => "verification.failed",
            EventType::DeviceBanned => "device.banned",
            EventType::DeviceUnbanned => "device.unbanned",
            EventType::JobConfirmed => "job.confirmed",
            EventType::JobCancelled => "job.cancelled",
            EventType::JobUncancelled => "job.uncancelled",
            EventType::PlanChanged => "plan.changed",
            EventType::ImageUploaded => "image.uploaded",
            EventType::WebhookDisabled => "webhook.disabled",
        }
    }

    pub fn parse(text: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|t| t.as_str() == text)
    }

    /// The part before the dot: `rollout`, `device`, ...
    pub fn family(self) -> &'static str {
        self.as_str().split('.').next().unwrap_or_default()
    }
}

/// An event on its way into the log: the log gives it its id and keeps `source` unique, so a
/// sender that retries (an outbox sent again after a lost answer) appends it once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewEvent {
    #[serde(rename = "type")]
    pub event_type: EventType,
    pub at_ms: i64,
    pub data: serde_json::Value,
    /// A unique key for this occurrence, when its sender may send it twice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_match_serde() {
        for t in EventType::ALL {
            assert_eq!(EventType::parse(t.as_str()), Some(t));
            assert_eq!(
                serde_json::to_value(t).unwrap(),
                serde_json::Value::String(t.as_str().into())
            );
        }
        assert_eq!(EventType::RolloutPaused.family(), "rollout");
        assert_eq!(EventType::parse("rollout.nope"), None);
    }
}
