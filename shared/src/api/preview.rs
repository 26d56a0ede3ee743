//! `POST .../plans/{firmware_name}/preview`: what a plan would do before it is saved. From the
//! registry's devices per version (the edge reads maintained counts, never a scan of the
//! fleet), the plan's device set and the bans for its target, each version's package (the delta
//! for exactly that version, else the whole image: [`crate::rules::package::choose_in`]), the
//! devices that would get none and why, the bytes the release would send, and each stage's
//! share of them.

use crate::leaf::version::Version;
use crate::model::plan::{ImageKind, Plan};
use crate::rules::package::choose_in;
use crate::rules::plan::upgrade_wanted;
use serde::{Deserialize, Serialize};

/// Devices of the plan's firmware at one version, as the registry counts them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionFacts {
    /// `None`: devices whose version the registry does not know.
    pub version: Option<String>,
    /// Devices at this version inside the plan's device set.
    pub devices: u64,
    /// Of those, devices banned for the plan's target.
    pub banned: u64,
}

/// Why devices at a version would get no package.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoPackage {
    /// They run the target (or a newer version, without a downgrade plan): code 60.
    UpToDate,
    /// The plan's `from_versions` leave their version out: code 66.
    NotASource,
    /// The target has only deltas, none built for their version (or `deltas: false` and no
    /// full image): code 66.
    WrongSource,
    /// The registry does not know their version.
    UnknownVersion,
}

/// One version's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionPreview {
    pub version: Option<String>,
    /// Devices at the version in the device set, banned ones included.
    pub devices: u64,
    /// Banned for the target: they get nothing (code 62).
    pub banned: u64,
    /// The package they get (its sha256), when they get one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<ImageKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub none: Option<NoPackage>,
}

/// One package of the target, with what the release would send of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackagePreview {
    pub kind: ImageKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_version: Option<String>,
    pub sha256: String,
    pub size: u64,
    /// Devices that would be sent it, and the bytes (one whole download each).
    pub devices: u64,
    pub bytes: u64,
}

/// Devices that would get nothing, by reason.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoneCounts {
    pub up_to_date: u64,
    pub not_a_source: u64,
    pub wrong_source: u64,
    pub unknown_version: u64,
    /// Known devices of the firmware outside the plan's device set (code 61).
    pub not_in_device_set: u64,
    /// Banned for the target (code 62).
    pub banned: u64,
}

/// What a stage would reach: its cumulative share of the devices and bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StagePreview {
    pub percent: u32,
    pub devices: u64,
    pub bytes: u64,
}

/// The preview's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanPreview {
    pub target_version: String,
    /// Devices the release would send a package, and the bytes it would send in all.
    pub devices: u64,
    pub bytes: u64,
    pub packages: Vec<PackagePreview>,
    pub versions: Vec<VersionPreview>,
    pub none: NoneCounts,
    /// Cumulative, one per stage (a plan without a rollout: one at 100 %). Below 100 % a stage's
    /// devices are its share of the total: which devices fall in it follows from each id's
    /// bucket, decided as they check in.
    pub stages: Vec<StagePreview>,
}

/// The preview of `plan` (not stored) over the registry's `fleet` (devices in its device set
/// per version) and `outside` (known devices of its firmware outside the set).
pub fn preview(plan: &Plan, fleet: &[VersionFacts], outside: u64) -> PlanPreview {
    let packages = plan.packages();
    let mut out = PlanPreview {
        target_version: plan.spec.target_version.clone(),
        devices: 0,
        bytes: 0,
        packages: packages
            .iter()
            .map(|p| PackagePreview {
                kind: p.kind,
                source_version: p.source_version.clone(),
                sha256: p.image.sha256.clone(),
                size: p.image.size,
                devices: 0,
                bytes: 0,
            })
            .collect(),
        versions: Vec::new(),
        none: NoneCounts {
            not_in_device_set: outside,
            ..NoneCounts::default()
        },
        stages: Vec::new(),
    };
    let mut fleet = fleet.to_vec();
    fleet.sort_by(|a, b| {
        let key = |v: &VersionFacts| v.version.as_deref().and_then(|v| Version::parse(v).ok());
        key(a).cmp(&key(b))
    });
    for facts in fleet {
        let mut row = VersionPreview {
            version: facts.version.clone(),
            devices: facts.devices,
            banned: 0,
            sha256: None,
            kind: None,
            none: None,
        };
        let running = facts
            .version
            .as_deref()
            .and_then(|v| Version::parse(v).ok());
        let verdict = match &running {
            None => Err(NoPackage::UnknownVersion),
            Some(v) => match upgrade_wanted(&plan.spec, v) {
                Err(crate::leaf::code::Refusal::UpToDate) => Err(NoPackage::UpToDate),
                Err(_) => Err(NoPackage::NotASource),
                Ok(_) => {
                    choose_in(&packages, v, plan.spec.uses_deltas()).ok_or(NoPackage::WrongSource)
                }
            },
        };
        match verdict {
            Ok(package) => {
                let served = facts.devices.saturating_sub(facts.banned);
                row.banned = facts.banned.min(facts.devices);
                row.sha256 = Some(package.image.sha256.clone());
                row.kind = Some(package.kind);
                out.none.banned += row.banned;
                out.devices += served;
                out.bytes += served * package.image.size;
                if let Some(p) = out
                    .packages
                    .iter_mut()
                    .find(|p| p.sha256 == package.image.sha256)
                {
                    p.devices += served;
                    p.bytes += served * p.size;
                }
            }
            Err(reason) => {
                let count = match reason {
                    NoPackage::UpToDate => &mut out.none.up_to_date,
                    NoPackage::NotASource => &mut out.none.not_a_source,
                    NoPackage::WrongSource => &mut out.none.wrong_source,
                    NoPackage::UnknownVersion => &mut out.none.unknown_version,
                };
                *count += facts.devices;
                row.none = Some(reason);
            }
        }
        out.versions.push(row);
    }
    let stages: Vec<u32> = plan
        .spec
        .rollout
        .as_ref()
        .map(|r| r.stages.clone())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| vec![100]);
    out.stages = stages
        .into_iter()
        .map(|percent| {
            let share = |n: u64| {
                if percent >= 100 {
                    n
                } else {
                    n * u64::from(percent) / 100
                }
            };
            StagePreview {
                percent,
                devices: share(out.devices),
                bytes: share(out.bytes),
            }
        })
        .collect();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::plan::{ImageRef, Package, PlanSpec};

    fn plan(spec: PlanSpec, packages: &[(&str, Option<&str>, u64)]) -> Plan {
        let packages: Vec<Package> = packages
            .iter()
            .map(|(sha, source, size)| Package {
                image: ImageRef {
                    sha256: sha.to_string(),
                    md5: "m".into(),
                    size: *size,
                    module: "default".into(),
                },
                kind: if source.is_some() {
                    ImageKind::Delta
                } else {
                    ImageKind::Full
                },
                source_version: source.map(str::to_string),
            })
            .collect();
        Plan {
            project_key: "K".into(),
            firmware_name: "F".into(),
            spec: PlanSpec {
                target_version: "2.0.0".into(),
                ..spec
            },
            image: packages[0].image.clone(),
            packages,
            updated_at: String::new(),
            shards: 0,
            cancelled: Vec::new(),
        }
    }

    fn at(version: Option<&str>, devices: u64, banned: u64) -> VersionFacts {
        VersionFacts {
            version: version.map(str::to_string),
            devices,
            banned,
        }
    }

    #[test]
    fn counts_devices_packages_and_bytes_per_version() {
        let p = plan(
            PlanSpec {
                rollout: Some(serde_json::from_str(r#"{"stages":[10,100]}"#).unwrap()),
                ..Default::default()
            },
            &[("full", None, 1000), ("d1", Some("1.0.0"), 10)],
        );
        let fleet = [
            at(Some("1.0.0"), 50, 2),
            at(Some("1.5.0"), 30, 0),
            at(Some("2.0.0"), 7, 0),
            at(None, 3, 0),
        ];
        let got = preview(&p, &fleet, 11);
        assert_eq!((got.devices, got.bytes), (48 + 30, 48 * 10 + 30 * 1000));
        assert_eq!(
            got.none,
            NoneCounts {
                up_to_date: 7,
                unknown_version: 3,
                not_in_device_set: 11,
                banned: 2,
                ..Default::default()
            }
        );
        let served: Vec<(&str, u64, u64)> = got
            .packages
            .iter()
            .map(|p| (p.sha256.as_str(), p.devices, p.bytes))
            .collect();
        assert_eq!(served, [("full", 30, 30_000), ("d1", 48, 480)]);
        assert_eq!(
            got.stages,
            [
                StagePreview {
                    percent: 10,
                    devices: 7,
                    bytes: 3048
                },
                StagePreview {
                    percent: 100,
                    devices: 78,
                    bytes: 30_480
                }
            ]
        );
    }

    #[test]
    fn a_lone_delta_reaches_its_source_only() {
        let p = plan(PlanSpec::default(), &[("d1", Some("1.0.0"), 10)]);
        let got = preview(&p, &[at(Some("1.0"), 4, 0), at(Some("0.9.0"), 6, 0)], 0);
        assert_eq!((got.devices, got.bytes, got.none.wrong_source), (4, 40, 6));
        assert_eq!(got.versions[0].none, Some(NoPackage::WrongSource));
        assert_eq!(got.versions[1].sha256.as_deref(), Some("d1"));
        let only_full = plan(
            PlanSpec {
                deltas: Some(false),
                from_versions: vec!["1.0.0".into()],
                ..Default::default()
            },
            &[("d1", Some("1.0.0"), 10)],
        );
        let got = preview(
            &only_full,
            &[at(Some("1.0.0"), 4, 0), at(Some("0.9.0"), 6, 0)],
            0,
        );
        assert_eq!(
            (got.devices, got.none.wrong_source, got.none.not_a_source),
            (0, 4, 6)
        );
    }
}
