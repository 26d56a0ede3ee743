//! The Fleet tab's numbers, computed from the device registry and the plans: devices per version,
//! each plan's progress, the most recently seen devices.

use std::collections::BTreeMap;

use fota_shared::api::{Device, Plan};

/// How many devices the Fleet tab lists as "latest seen".
pub const LATEST: usize = 12;

/// What the shell fetched for the Fleet tab.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FleetSnapshot {
    pub devices: Vec<Device>,
    pub plans: Vec<Plan>,
    /// The registry had more devices than the shell was willing to page through.
    pub truncated: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FleetSummary {
    /// `(version, devices)`, most devices first; `None` version is a device that never reported one.
    pub versions: Vec<(Option<String>, u64)>,
    pub plans: Vec<PlanProgress>,
    pub latest: Vec<Device>,
    pub total: usize,
    pub truncated: bool,
}

/// One plan's rollout: devices of its firmware that report the target version, out of all devices
/// of that firmware seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanProgress {
    pub firmware_name: String,
    pub target_version: String,
    pub on_target: usize,
    pub seen: usize,
}

impl PlanProgress {
    pub fn ratio(&self) -> f64 {
        if self.seen == 0 {
            0.0
        } else {
            self.on_target as f64 / self.seen as f64
        }
    }
}

pub fn summarize(snapshot: &FleetSnapshot) -> FleetSummary {
    let mut counts: BTreeMap<Option<&str>, u64> = BTreeMap::new();
    for device in &snapshot.devices {
        *counts.entry(device.version.as_deref()).or_default() += 1;
    }
    let mut versions: Vec<(Option<String>, u64)> = counts
        .into_iter()
        .map(|(version, count)| (version.map(str::to_string), count))
        .collect();
    // Most devices first; equal counts keep the version order from the map, so the chart is stable.
    versions.sort_by_key(|(_, count)| std::cmp::Reverse(*count));

    let plans = snapshot
        .plans
        .iter()
        .map(|plan| {
            let of_firmware = snapshot
                .devices
                .iter()
                .filter(|d| d.firmware_name.as_deref() == Some(plan.firmware_name.as_str()));
            let (mut seen, mut on_target) = (0, 0);
            for device in of_firmware {
                seen += 1;
                if device.version.as_deref() == Some(plan.spec.target_version.as_str()) {
                    on_target += 1;
                }
            }
            PlanProgress {
                firmware_name: plan.firmware_name.clone(),
                target_version: plan.spec.target_version.clone(),
                on_target,
                seen,
            }
        })
        .collect();

    let mut latest = snapshot.devices.clone();
    // RFC 3339 UTC timestamps of one format sort as text; ties break on id for stable screens.
    latest.sort_by(|a, b| b.last_seen.cmp(&a.last_seen).then_with(|| a.id.cmp(&b.id)));
    latest.truncate(LATEST);

    FleetSummary {
        versions,
        plans,
        latest,
        total: snapshot.devices.len(),
        truncated: snapshot.truncated,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fota_shared::api::{ImageRef, PlanSpec};

    fn device(id: &str, fw: &str, version: &str, last_seen: &str) -> Device {
        Device {
            id: id.into(),
            firmware_name: Some(fw.into()),
            version: Some(version.into()),
            first_seen: "2026-01-01T00:00:00Z".into(),
            last_seen: last_seen.into(),
            deliveries: 0,
            banned: false,
            state: None,
            cause: None,
        }
    }

    fn plan(fw: &str, target: &str) -> Plan {
        Plan {
            project_key: "demo".into(),
            firmware_name: fw.into(),
            spec: PlanSpec {
                target_version: target.into(),
                from_versions: vec![],
                devices: vec![],
                imei_ranges: vec![],
                delivery: Default::default(),
                allow_downgrade: false,
                rollout: None,
                job_timeout_s: None,
                needs_confirm: false,
            },
            image: ImageRef {
                sha256: "00".into(),
                md5: "11".into(),
                size: 1,
                module: "default".into(),
            },
            updated_at: "2026-01-01T00:00:00Z".into(),
        }
    }

    #[test]
    fn counts_versions_and_plan_progress() {
        let snapshot = FleetSnapshot {
            devices: vec![
                device("a", "app", "1.0", "2026-01-01T00:00:01Z"),
                device("b", "app", "1.1", "2026-01-01T00:00:03Z"),
                device("c", "app", "1.1", "2026-01-01T00:00:02Z"),
                device("d", "other", "1.1", "2026-01-01T00:00:02Z"),
            ],
            plans: vec![plan("app", "1.1"), plan("none", "9")],
            truncated: false,
        };
        let summary = summarize(&snapshot);
        assert_eq!(
            summary.versions,
            vec![(Some("1.1".into()), 3), (Some("1.0".into()), 1)]
        );
        assert_eq!(summary.plans[0].on_target, 2);
        assert_eq!(summary.plans[0].seen, 3);
        assert_eq!(summary.plans[1].ratio(), 0.0);
        let order: Vec<&str> = summary.latest.iter().map(|d| d.id.as_str()).collect();
        assert_eq!(order, ["b", "c", "d", "a"]);
    }
}
