//! The Fleet tab's numbers, computed from the server's fleet summary and the plans: devices per
//! version, each plan's progress, the most recently seen devices. The server counts the whole
//! project (`GET .../summary`), so the tab costs two requests however large the fleet.

use std::collections::BTreeMap;

use fota_shared::api::{self, Device, Plan, SeenCounts};

/// What the shell fetched for the Fleet tab.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FleetSnapshot {
    pub summary: api::FleetSummary,
    pub plans: Vec<Plan>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FleetSummary {
    /// `(version, devices)`, most devices first; `None` version is a device that never reported one.
    pub versions: Vec<(Option<String>, u64)>,
    pub plans: Vec<PlanProgress>,
    pub latest: Vec<Device>,
    pub total: u64,
    pub banned: u64,
    pub seen: SeenCounts,
}

/// One plan's rollout: devices of its firmware that report the target version, out of all devices
/// of that firmware seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanProgress {
    pub firmware_name: String,
    pub target_version: String,
    pub on_target: u64,
    pub seen: u64,
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
    let server = &snapshot.summary;
    // The chart is per version across firmware, as an operator reads a release number.
    let mut counts: BTreeMap<Option<&str>, u64> = BTreeMap::new();
    for row in &server.versions {
        *counts.entry(row.version.as_deref()).or_default() += row.devices;
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
            let of_firmware = server
                .versions
                .iter()
                .filter(|v| v.firmware_name.as_deref() == Some(plan.firmware_name.as_str()));
            let (mut seen, mut on_target) = (0, 0);
            for row in of_firmware {
                seen += row.devices;
                if row.version.as_deref() == Some(plan.spec.target_version.as_str()) {
                    on_target += row.devices;
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

    FleetSummary {
        versions,
        plans,
        latest: server.latest.clone(),
        total: server.total,
        banned: server.banned,
        seen: server.seen,
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

    fn row(fw: Option<&str>, version: Option<&str>, devices: u64) -> api::VersionCount {
        api::VersionCount {
            firmware_name: fw.map(str::to_string),
            version: version.map(str::to_string),
            devices,
        }
    }

    #[test]
    fn counts_versions_and_plan_progress() {
        let latest = vec![device("b", "app", "1.1", "2026-01-01T00:00:03Z")];
        let snapshot = FleetSnapshot {
            summary: api::FleetSummary {
                total: 1_000_006,
                banned: 2,
                seen: SeenCounts {
                    hour: 1,
                    day: 2,
                    week: 3,
                },
                versions: vec![
                    row(Some("app"), Some("1.1"), 1_000_000),
                    row(Some("app"), Some("1.0"), 2),
                    row(Some("other"), Some("1.1"), 3),
                    row(None, None, 1),
                ],
                states: vec![],
                latest: latest.clone(),
                computed_at: "2026-01-01T00:00:04Z".into(),
            },
            plans: vec![plan("app", "1.1"), plan("none", "9")],
        };
        let summary = summarize(&snapshot);
        assert_eq!(
            summary.versions,
            vec![
                (Some("1.1".into()), 1_000_003),
                (Some("1.0".into()), 2),
                (None, 1)
            ]
        );
        assert_eq!(
            (summary.plans[0].on_target, summary.plans[0].seen),
            (1_000_000, 1_000_002)
        );
        assert_eq!(summary.plans[1].ratio(), 0.0);
        assert_eq!(
            (summary.total, summary.banned, summary.seen.week),
            (1_000_006, 2, 3)
        );
        assert_eq!(summary.latest, latest);
    }
}
