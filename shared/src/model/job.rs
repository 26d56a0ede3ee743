//! Module-OTA jobs as data: the phase of a device's one job and the record the edge stores for it
//! (milliseconds, as stored). The admin API shows it as `crate::api::ota::Job`.

use serde::{Deserialize, Serialize};

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

    pub fn parse(text: &str) -> Option<JobPhase> {
        [JobPhase::AwaitingConfirmation, JobPhase::InProgress]
            .into_iter()
            .find(|p| p.as_str() == text)
    }
}

/// The device's one job in progress or waiting for confirmation: the edge's per-device record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActiveJob {
    pub module: String,
    pub firmware_name: String,
    pub target_version: String,
    pub phase: JobPhase,
    pub created_ms: i64,
    /// When the job reached the device: at creation, or at confirmation. The timeout runs from here.
    pub offered_ms: Option<i64>,
    pub job_timeout_s: u64,
    /// The last progress step stored, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_step: Option<i8>,
}
