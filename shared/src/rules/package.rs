//! Packages per target version: a version may have one whole image (full or script) and any
//! number of deltas, each built for one source version. Which slot an upload takes in the
//! catalog, which packages a plan resolves to, and which one a device running a given version
//! gets: the delta for exactly its version (compared numerically), else the whole image, else
//! none (code 66). A delta is never offered to any other version.

use crate::leaf::version::Version;
use crate::model::plan::{ImageKind, ImageRef, Package, Plan};

/// The catalog slot of a package within its version: `""` for the whole image, the source
/// version in canonical form for a delta (at least three segments, no trailing zero beyond
/// them: `1`, `1.0`, `V1.0.0` and `1.0.0.0` are all the source `1.0.0`, as versions compare).
/// Two uploads of one version collide only when their slots are equal.
pub fn slot(kind: ImageKind, source_version: Option<&str>) -> String {
    match (kind, source_version) {
        (ImageKind::Delta, Some(source)) => match Version::parse(source) {
            Ok(v) => {
                let mut segments = v.segments().to_vec();
                while segments.len() > 3 && segments.last() == Some(&0) {
                    segments.pop();
                }
                segments.resize(segments.len().max(3), 0);
                let text: Vec<String> = segments.iter().map(u64::to_string).collect();
                text.join(".")
            }
            Err(_) => source.to_string(),
        },
        _ => String::new(),
    }
}

/// Why a plan's target cannot be resolved to packages.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    #[error("no package of version {0} is uploaded")]
    Missing(String),
    #[error("the packages of version {0} are for different modules ({1} and {2})")]
    MixedModules(String, String, String),
}

/// The packages of `target` among a firmware's catalog records (`(version, package)`), in their
/// stored order: the whole image first, then deltas by source version. `Ok` holds the image the
/// plan names (`Plan::image`: the whole one, else the first delta) and the packages.
pub fn resolve<'a>(
    records: impl IntoIterator<Item = (&'a str, Package)>,
    target: &Version,
) -> Result<(ImageRef, Vec<Package>), ResolveError> {
    let mut packages: Vec<Package> = records
        .into_iter()
        .filter(|(v, _)| Version::parse(v).is_ok_and(|v| &v == target))
        .map(|(_, p)| p)
        .collect();
    packages.sort_by(|a, b| {
        let key = |p: &Package| {
            p.source_version
                .as_deref()
                .and_then(|s| Version::parse(s).ok())
        };
        (a.is_delta(), key(a)).cmp(&(b.is_delta(), key(b)))
    });
    let first = packages
        .first()
        .ok_or_else(|| ResolveError::Missing(target.to_string()))?;
    if let Some(other) = packages
        .iter()
        .find(|p| p.image.module != first.image.module)
    {
        return Err(ResolveError::MixedModules(
            target.to_string(),
            first.image.module.clone(),
            other.image.module.clone(),
        ));
    }
    Ok((first.image.clone(), packages))
}

/// The package a device (or module) running `running` gets from `packages`: the delta built
/// for exactly that version when `deltas` allows them, else the whole image; `None` when the
/// target has neither for it (the device hears code 66).
pub fn choose_in<'a>(
    packages: &'a [Package],
    running: &Version,
    deltas: bool,
) -> Option<&'a Package> {
    let delta = deltas
        .then(|| {
            packages.iter().find(|p| {
                p.is_delta()
                    && p.source_version
                        .as_deref()
                        .and_then(|s| Version::parse(s).ok())
                        .is_some_and(|s| &s == running)
            })
        })
        .flatten();
    delta.or_else(|| packages.iter().find(|p| !p.is_delta()))
}

/// The image a device running `running` is served under `plan` (see [`choose_in`]); a plan
/// stored before packages serves its one image.
pub fn choose<'a>(plan: &'a Plan, running: &Version) -> Option<&'a ImageRef> {
    if plan.packages.is_empty() {
        return Some(&plan.image);
    }
    choose_in(&plan.packages, running, plan.spec.uses_deltas()).map(|p| &p.image)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkg(sha: &str, source: Option<&str>) -> Package {
        Package {
            image: ImageRef {
                sha256: sha.into(),
                md5: "m".into(),
                size: if source.is_some() { 10 } else { 1000 },
                module: "default".into(),
            },
            kind: if source.is_some() {
                ImageKind::Delta
            } else {
                ImageKind::Full
            },
            source_version: source.map(str::to_string),
        }
    }

    /// `packages` as `sha[:source]`, the running version, whether deltas are allowed: the
    /// package's sha, or `-` for none.
    #[track_caller]
    fn check(packages: &[&str], running: &str, deltas: bool, expect: &str) {
        let packages: Vec<Package> = packages
            .iter()
            .map(|p| match p.split_once(':') {
                Some((sha, source)) => pkg(sha, Some(source)),
                None => pkg(p, None),
            })
            .collect();
        let got = choose_in(&packages, &Version::parse(running).unwrap(), deltas)
            .map_or("-", |p| p.image.sha256.as_str());
        assert_eq!(got, expect, "{packages:?} running {running}");
    }

    #[test]
    fn a_delta_goes_to_its_source_only() {
        check(&["full", "d1:1.0.0"], "1.0.0", true, "d1");
        check(&["full", "d1:1.0.0"], "1.0", true, "d1");
        check(&["full", "d1:1.0.0"], "V1.0.0", true, "d1");
        check(&["full", "d1:1.0.0"], "1.5.0", true, "full");
        check(&["full", "d1:1.0.0"], "0.9.0", true, "full");
        check(&["full", "d1:1.0.0"], "1.0.0.1", true, "full");
        check(&["d1:1.0.0"], "1.5.0", true, "-");
        check(&["d1:1.0.0"], "0.9.0", true, "-");
        check(&["d1:1.0.0"], "1.0.0", true, "d1");
        check(&["d1:1.0.0", "d2:1.1.0"], "1.1.0", true, "d2");
        check(&["d1:1.0.0", "d2:1.1.0"], "1.0.0", true, "d1");
        check(&["d1:1.0.0", "d2:1.1.0"], "1.2.0", true, "-");
        check(&[], "1.0.0", true, "-");
    }

    #[test]
    fn without_deltas_only_the_whole_image() {
        check(&["full", "d1:1.0.0"], "1.0.0", false, "full");
        check(&["d1:1.0.0"], "1.0.0", false, "-");
    }

    #[test]
    fn slots_are_one_whole_image_and_one_delta_per_source() {
        assert_eq!(slot(ImageKind::Full, None), "");
        assert_eq!(slot(ImageKind::Script, None), "");
        assert_eq!(slot(ImageKind::Delta, Some("1.0")), "1.0.0");
        assert_eq!(slot(ImageKind::Delta, Some("1")), "1.0.0");
        assert_eq!(slot(ImageKind::Delta, Some("1.0.0.0")), "1.0.0");
        assert_eq!(slot(ImageKind::Delta, Some("1.2.3.4")), "1.2.3.4");
        assert_eq!(slot(ImageKind::Delta, Some("2018.1.3")), "2018.1.3");
        assert_eq!(slot(ImageKind::Delta, Some("V1.0.00")), "1.0.0");
        assert_eq!(
            slot(ImageKind::Delta, Some("1.0.0")),
            slot(ImageKind::Delta, Some("v1.0.0"))
        );
    }

    #[test]
    fn resolves_the_target_packages_whole_first() {
        let target = Version::parse("2.0.0").unwrap();
        let records = vec![
            ("2.0.0", pkg("d2", Some("1.1.0"))),
            ("1.0.0", pkg("old", None)),
            ("2.0", pkg("d1", Some("1.0.0"))),
            ("2.0.0", pkg("full", None)),
        ];
        let (image, packages) = resolve(records, &target).unwrap();
        assert_eq!(image.sha256, "full");
        let order: Vec<&str> = packages.iter().map(|p| p.image.sha256.as_str()).collect();
        assert_eq!(order, ["full", "d1", "d2"]);

        let (image, _) = resolve(vec![("2.0.0", pkg("d1", Some("1.0.0")))], &target).unwrap();
        assert_eq!(image.sha256, "d1");
        assert_eq!(
            resolve(vec![("1.0.0", pkg("old", None))], &target),
            Err(ResolveError::Missing("2.0.0".into()))
        );
        let mut wifi = pkg("d1", Some("1.0.0"));
        wifi.image.module = "wifi".into();
        assert!(matches!(
            resolve(vec![("2.0.0", pkg("full", None)), ("2.0.0", wifi)], &target),
            Err(ResolveError::MixedModules(..))
        ));
    }

    #[test]
    fn a_plan_stored_before_packages_serves_its_image() {
        let plan = Plan {
            project_key: "K".into(),
            firmware_name: "F".into(),
            spec: Default::default(),
            image: pkg("legacy", None).image,
            packages: vec![],
            updated_at: String::new(),
            shards: 0,
            cancelled: Vec::new(),
        };
        let v = Version::parse("1.0.0").unwrap();
        assert_eq!(choose(&plan, &v).unwrap().sha256, "legacy");
        let plan = Plan {
            packages: vec![pkg("d1", Some("1.0.0"))],
            ..plan
        };
        assert_eq!(choose(&plan, &v).unwrap().sha256, "d1");
        assert!(choose(&plan, &Version::parse("1.5.0").unwrap()).is_none());
        let plan = Plan {
            spec: crate::model::plan::PlanSpec {
                deltas: Some(false),
                ..Default::default()
            },
            ..plan
        };
        assert!(choose(&plan, &v).is_none());
    }
}
