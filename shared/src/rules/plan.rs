//! Plans: which devices of a project get which version of a firmware, and the checks an operator's
//! plan must pass before it is stored.

use crate::leaf::code::Refusal;
use crate::leaf::ids::valid_device_id;
use crate::leaf::version::Version;
use crate::model::plan::PlanSpec;
use std::cmp::Ordering;

/// Most explicit device ids one plan may list (the KV value stays far below its 25 MiB limit).
pub const MAX_PLAN_DEVICES: usize = 100_000;
/// Most id ranges one plan may list.
pub const MAX_PLAN_RANGES: usize = 1_000;
/// Most source versions one plan may list.
pub const MAX_FROM_VERSIONS: usize = 100;

/// Why a plan was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("target_version {0:?} is not a dotted number")]
    BadTarget(String),
    #[error("from_versions entry {0:?} is not a dotted number")]
    BadFromVersion(String),
    #[error("device id {0:?} is not valid")]
    BadDevice(String),
    #[error("imei range {0:?}..{1:?} is not valid: both ends must be ids of the same kind and length, low <= high")]
    BadRange(String, String),
    #[error("too many {0}: at most {1}")]
    TooMany(&'static str, usize),
}

/// Checks a spec and puts it in its stored form: device ids sorted and unique (so membership is
/// a binary search on the hot path), versions as sent.
pub fn normalize(mut spec: PlanSpec) -> Result<PlanSpec, PlanError> {
    Version::parse(&spec.target_version)
        .map_err(|_| PlanError::BadTarget(spec.target_version.clone()))?;
    if spec.from_versions.len() > MAX_FROM_VERSIONS {
        return Err(PlanError::TooMany("from_versions", MAX_FROM_VERSIONS));
    }
    for v in &spec.from_versions {
        Version::parse(v).map_err(|_| PlanError::BadFromVersion(v.clone()))?;
    }
    if spec.devices.len() > MAX_PLAN_DEVICES {
        return Err(PlanError::TooMany("devices", MAX_PLAN_DEVICES));
    }
    if let Some(bad) = spec.devices.iter().find(|d| !valid_device_id(d)) {
        return Err(PlanError::BadDevice(bad.clone()));
    }
    spec.devices.sort();
    spec.devices.dedup();
    if spec.imei_ranges.len() > MAX_PLAN_RANGES {
        return Err(PlanError::TooMany("imei_ranges", MAX_PLAN_RANGES));
    }
    for [lo, hi] in &spec.imei_ranges {
        let ok = match (id_key(lo), id_key(hi)) {
            (Some(a), Some(b)) => {
                a.0 == b.0 && a.1.len() == b.1.len() && compare_keys(&a, &b) != Ordering::Greater
            }
            _ => false,
        };
        if !ok {
            return Err(PlanError::BadRange(lo.clone(), hi.clone()));
        }
    }
    Ok(spec)
}

/// Ids compare as numbers when they are all digits (IMEIs) and as hex otherwise (MACs); the
/// first field says which, so an IMEI never falls inside a MAC range.
fn id_key(id: &str) -> Option<(bool, String)> {
    if id.is_empty() || id.len() > 64 {
        return None;
    }
    if id.bytes().all(|b| b.is_ascii_digit()) {
        Some((true, id.to_string()))
    } else {
        let hex: String = id
            .chars()
            .filter(|c| !matches!(c, ':' | '-'))
            .collect::<String>()
            .to_ascii_uppercase();
        (!hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit())).then_some((false, hex))
    }
}

fn compare_keys(a: &(bool, String), b: &(bool, String)) -> Ordering {
    let strip = |s: &str| s.trim_start_matches('0').to_string();
    let (x, y) = (strip(&a.1), strip(&b.1));
    x.len().cmp(&y.len()).then_with(|| x.cmp(&y))
}

/// Is `id` inside the inclusive range `lo..=hi`?
pub fn in_range(id: &str, lo: &str, hi: &str) -> bool {
    match (id_key(id), id_key(lo), id_key(hi)) {
        (Some(i), Some(l), Some(h)) if i.0 == l.0 && l.0 == h.0 => {
            compare_keys(&l, &i) != Ordering::Greater && compare_keys(&i, &h) != Ordering::Greater
        }
        _ => false,
    }
}

/// Is the device in the plan's device set? No ids and no ranges means the whole fleet.
pub fn in_device_set(spec: &PlanSpec, id: &str) -> bool {
    if spec.devices.is_empty() && spec.imei_ranges.is_empty() {
        return true;
    }
    spec.devices
        .binary_search_by(|d| d.as_str().cmp(id))
        .is_ok()
        || spec.imei_ranges.iter().any(|[lo, hi]| in_range(id, lo, hi))
}

/// Is a device reporting `version` a source the plan upgrades from?
pub fn from_version_eligible(spec: &PlanSpec, version: &Version) -> bool {
    spec.from_versions.is_empty()
        || spec
            .from_versions
            .iter()
            .any(|v| Version::parse(v).is_ok_and(|v| &v == version))
}

/// Does the plan upgrade a device (or a module) running `running`? Not when it runs the target
/// already, nor a newer version unless the plan allows downgrades, nor a version the plan's
/// `from_versions` leaves out. The one rule for Luat checks ([`crate::rules::decide`]) and module
/// jobs ([`crate::rules::module_job`]). `Ok` holds the target.
pub fn upgrade_wanted(spec: &PlanSpec, running: &Version) -> Result<Version, Refusal> {
    let Ok(target) = Version::parse(&spec.target_version) else {
        // Plans are validated when written; an unreadable one offers nothing rather than guessing.
        return Err(Refusal::NotOfferingNow);
    };
    if *running == target || (*running > target && !spec.allow_downgrade) {
        return Err(Refusal::UpToDate);
    }
    if !from_version_eligible(spec, running) {
        return Err(Refusal::SourceVersionNotEligible);
    }
    Ok(target)
}

/// Is the id in the plan's explicit `devices` list (an id the operator named, so trusted by a
/// rollout)? IMEI ranges and the whole fleet are not a listing.
pub fn listed(spec: &PlanSpec, id: &str) -> bool {
    spec.devices
        .binary_search_by(|d| d.as_str().cmp(id))
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::plan::Delivery;

    fn spec(devices: &[&str], ranges: &[(&str, &str)]) -> PlanSpec {
        PlanSpec {
            target_version: "1.0.1".into(),
            from_versions: vec![],
            devices: devices.iter().map(|s| s.to_string()).collect(),
            imei_ranges: ranges
                .iter()
                .map(|(a, b)| [a.to_string(), b.to_string()])
                .collect(),
            delivery: Delivery::Stream,
            allow_downgrade: false,
            rollout: None,
            job_timeout_s: None,
            needs_confirm: false,
            expected_devices: None,
            deltas: None,
        }
    }

    #[test]
    fn device_set_membership() {
        let cases: &[(&[&str], &[(&str, &str)], &str, bool)] = &[
            (&[], &[], "862419074072389", true),
            (&["862419074072389"], &[], "862419074072389", true),
            (&["862419074072389"], &[], "862419074072380", false),
            (
                &[],
                &[("862419074070000", "862419074079999")],
                "862419074072389",
                true,
            ),
            (
                &[],
                &[("862419074070000", "862419074079999")],
                "862419074080000",
                false,
            ),
            (
                &[],
                &[("862419074070000", "862419074079999")],
                "862419074070000",
                true,
            ),
            (
                &[],
                &[("862419074070000", "862419074079999")],
                "862419074079999",
                true,
            ),
            (
                &[],
                &[("862419074070000", "862419074079999")],
                "86241907407",
                false,
            ),
            (
                &[],
                &[("C8C2C68A0000", "C8C2C68AFFFF")],
                "c8c2c68a1b2c",
                true,
            ),
            (
                &[],
                &[("C8C2C68A0000", "C8C2C68AFFFF")],
                "C8:C2:C6:8A:1B:2C",
                true,
            ),
            (
                &[],
                &[("C8C2C68A0000", "C8C2C68AFFFF")],
                "C8C2C68B0000",
                false,
            ),
            (
                &[],
                &[("100000000000000", "999999999999999")],
                "C8C2C68A1B2C",
                false,
            ),
            (&["A"], &[("100", "200")], "150", true),
        ];
        for (devices, ranges, id, expect) in cases {
            let s = normalize(spec(devices, ranges)).unwrap();
            assert_eq!(
                in_device_set(&s, id),
                *expect,
                "{id} in {devices:?} {ranges:?}"
            );
        }
    }

    #[test]
    fn refuses_bad_plans() {
        let mut s = spec(&[], &[]);
        s.target_version = "one".into();
        assert_eq!(normalize(s), Err(PlanError::BadTarget("one".into())));
        let mut s = spec(&[], &[]);
        s.from_versions = vec!["1.0".into(), "x".into()];
        assert_eq!(normalize(s), Err(PlanError::BadFromVersion("x".into())));
        assert!(matches!(
            normalize(spec(&["a b"], &[])),
            Err(PlanError::BadDevice(_))
        ));
        assert!(matches!(
            normalize(spec(&[], &[("200", "100")])),
            Err(PlanError::BadRange(..))
        ));
        assert!(matches!(
            normalize(spec(&[], &[("100", "C8C2")])),
            Err(PlanError::BadRange(..))
        ));
        assert!(matches!(
            normalize(spec(&[], &[("zz", "zz")])),
            Err(PlanError::BadRange(..))
        ));
    }

    #[test]
    fn stores_device_ids_sorted_and_unique() {
        let s = normalize(spec(&["3", "1", "3", "2"], &[])).unwrap();
        assert_eq!(s.devices, ["1", "2", "3"]);
    }

    #[track_caller]
    fn check_wanted(
        target: &str,
        from: &[&str],
        downgrade: bool,
        running: &str,
        expect: Result<(), Refusal>,
    ) {
        let mut s = spec(&[], &[]);
        s.target_version = target.into();
        s.from_versions = from.iter().map(|v| v.to_string()).collect();
        s.allow_downgrade = downgrade;
        assert_eq!(
            upgrade_wanted(&s, &Version::parse(running).unwrap()).map(drop),
            expect,
            "{target} from {from:?} downgrade {downgrade}, running {running}"
        );
    }

    #[test]
    fn upgrade_wanted_table() {
        use Refusal::*;
        check_wanted("1.0.1", &[], false, "1.0.0", Ok(()));
        check_wanted("1.0.1", &[], false, "V1.0.1", Err(UpToDate));
        check_wanted("1.0.1", &[], false, "2.0.0", Err(UpToDate));
        check_wanted("1.0.1", &[], true, "2.0.0", Ok(()));
        check_wanted("1.0.1", &[], true, "1.0.1", Err(UpToDate));
        check_wanted(
            "1.0.1",
            &["0.9.0"],
            false,
            "1.0.0",
            Err(SourceVersionNotEligible),
        );
        check_wanted("1.0.1", &["0.9.0", "1.0.0"], false, "1.0.0", Ok(()));
        check_wanted(
            "1.0.1",
            &["0.9.0"],
            true,
            "2.0.0",
            Err(SourceVersionNotEligible),
        );
        check_wanted("one", &[], false, "1.0.0", Err(NotOfferingNow));
    }

    #[test]
    fn from_versions_compare_numerically() {
        let mut s = spec(&[], &[]);
        assert!(from_version_eligible(&s, &Version::parse("0.9").unwrap()));
        s.from_versions = vec!["1.0.0".into(), "1.0.2".into()];
        assert!(from_version_eligible(&s, &Version::parse("V1.0").unwrap()));
        assert!(!from_version_eligible(
            &s,
            &Version::parse("1.0.1").unwrap()
        ));
    }
}
