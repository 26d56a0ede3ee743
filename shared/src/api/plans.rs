//! Admin API types of plans and their rollouts: the plan list and a rollout's status, shaped from
//! the stored rollout state (RFC 3339 times, never milliseconds).

use crate::leaf::time::rfc3339;
use crate::model::plan::Plan;
use crate::model::project::DevicePolicy;
use crate::model::rollout::{RolloutCounts, RolloutPhase, RolloutSpec, RolloutState};
use crate::rules::rollout::current_percent;
use serde::{Deserialize, Serialize};

/// `GET /admin/v1/projects/{project_key}/plans`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanList {
    pub plans: Vec<Plan>,
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
    /// Devices the rollout does not trust (neither registered, signed nor listed by the plan or
    /// the rollout): served within the unverified share of `max_per_minute`, counted here only,
    /// never in `totals`, and never moving verification, the health gate or `auto_advance`.
    #[serde(default)]
    pub unverified: RolloutCounts,
    /// Which devices the rollout trusts, under the project's device policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust: Option<TrustBasis>,
    pub totals: RolloutCounts,
    pub verification: RolloutCounts,
    pub stages: Vec<RolloutStageStatus>,
    /// The target's packages (full image, then deltas by source version) with the devices each
    /// was delivered to (a device counts once per package it received whole).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub packages: Vec<PackageServed>,
}

/// One package of a rollout's target and the devices it was delivered to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageServed {
    pub kind: crate::model::plan::ImageKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_version: Option<String>,
    pub sha256: String,
    pub size: u64,
    pub served: u64,
}

/// What a rollout's gates count, said to the operator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustBasis {
    pub device_policy: DevicePolicy,
    /// One line: which devices count in gates and `totals`.
    pub basis: String,
    /// Devices counted in `totals` (eligible), and those counted apart in `unverified`.
    pub trusted: u64,
    pub unverified: u64,
}

impl TrustBasis {
    pub fn of(policy: DevicePolicy, status: &RolloutStatus) -> TrustBasis {
        let basis = match policy {
            DevicePolicy::Open => {
                "registered, signed and listed devices; other ids are served within the unverified share and counted apart"
            }
            DevicePolicy::Registered => "registered devices (the project serves no other)",
            DevicePolicy::Signed => "registered devices that sign every check",
        };
        TrustBasis {
            device_policy: policy,
            basis: basis.to_string(),
            trusted: status.totals.eligible,
            unverified: status.unverified.eligible,
        }
    }
}

/// The API's view of a rollout.
pub fn rollout_status(spec: &RolloutSpec, state: &RolloutState) -> RolloutStatus {
    RolloutStatus {
        state: state.phase,
        stage: state.stage,
        percent: current_percent(spec, state),
        paused_reason: state.paused_reason.clone(),
        failed_reason: state.failed_reason.clone(),
        started_at: rfc3339(state.started_ms),
        stage_started_at: rfc3339(state.stage_started_ms),
        totals: state.totals,
        verification: state.verification,
        unverified: state.unverified,
        trust: None,
        stages: state
            .stages
            .iter()
            .enumerate()
            .map(|(i, &counts)| RolloutStageStatus {
                percent: spec.stages.get(i).copied().unwrap_or(100),
                counts,
            })
            .collect(),
        packages: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::rollout_state::{on_eligible_seen, on_offer, start, Provenance};

    #[test]
    fn status_json_shape() {
        let spec: RolloutSpec =
            serde_json::from_str(r#"{"stages":[10,100],"verify_devices":["TEST1"]}"#).unwrap();
        let known = Provenance {
            signed: false,
            listed: false,
            registered: false,
            first_seen_ms: -1,
        };
        let now = 1_795_306_646_000;
        let seen = on_eligible_seen(&spec, &start(&spec, 0), "plan", "TEST1", &known, now).unwrap();
        let state = on_offer(&seen.rollout, &seen.device, now).unwrap().rollout;
        let status = serde_json::to_value(rollout_status(&spec, &state)).unwrap();
        let zero = serde_json::json!({"eligible":0,"offered":0,"succeeded":0,"failed":0,"banned":0,"pending":0,"reported_without_delivery":0});
        let one = serde_json::json!({"eligible":1,"offered":1,"succeeded":0,"failed":0,"banned":0,"pending":1,"reported_without_delivery":0});
        assert_eq!(
            status,
            serde_json::json!({
                "state": "verifying", "stage": -1, "percent": 0, "paused_reason": null, "failed_reason": null,
                "started_at": "1970-01-01T00:00:00Z", "stage_started_at": "1970-01-01T00:00:00Z",
                "totals": one, "verification": one, "unverified": zero,
                "stages": [{"percent": 10, "eligible":0,"offered":0,"succeeded":0,"failed":0,"banned":0,"pending":0,"reported_without_delivery":0},
                           {"percent": 100, "eligible":0,"offered":0,"succeeded":0,"failed":0,"banned":0,"pending":0,"reported_without_delivery":0}],
            })
        );
        assert_eq!(
            zero,
            serde_json::to_value(RolloutCounts::default()).unwrap()
        );
        let back: RolloutStatus = serde_json::from_value(status).unwrap();
        assert_eq!(back.stages[1].percent, 100);
        let stored: RolloutState =
            serde_json::from_str(&serde_json::to_string(&state).unwrap()).unwrap();
        assert_eq!(stored, state, "the stored state reads back unchanged");
    }
}
