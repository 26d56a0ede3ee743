//! The verdict on one Luat check, decided once: given what the edge loaded (the project, the
//! device id's binding, the plan), offer the image (how, which target, and what the rollout may
//! believe of the device) or say why not.

use crate::leaf::code::Refusal;
use crate::leaf::version::Version;
use crate::model::plan::{Delivery, ImageRef, Plan};
use crate::model::project::DevicePolicy;
use crate::rules::luat::UpgradeCheck;
use crate::rules::luat_sign::Proof;
use crate::rules::package::choose;
use crate::rules::plan::{in_device_set, listed, upgrade_wanted};
use crate::rules::rollout_state::Provenance;

/// How an image that is due is handed over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// The bytes in the answer (`200`/`206` with `Content-Length`).
    Stream,
    /// `302` to the immutable, content-addressed image URL.
    Redirect,
}

/// An upgrade that is due. Loop-upgrade protection ([`crate::rules::ban`]) and the plan's rollout
/// still have their say before a byte is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due<'a> {
    pub plan: &'a Plan,
    pub target: Version,
    /// The package this device gets: the delta built for its version, else the whole image
    /// ([`crate::rules::package::choose`]).
    pub image: &'a ImageRef,
    pub via: Via,
    /// What the rollout may believe of the device when it first sees it.
    pub from: Provenance,
}

/// The outcome of [`decide`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Offer<'a> {
    Due(Due<'a>),
    Refuse(Refusal),
}

/// How an id came to its project.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enrolment {
    /// Bound by its own first check (an `open` project): served, not trusted by rollouts.
    Bound,
    /// Registered by an operator as a Luat device: it holds a secret and may sign its checks;
    /// rollouts trust it.
    Registered,
    /// A provisioned JSON device, which speaks only the signed device API.
    Json,
}

/// The device id's binding, as the edge found or made it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binding<'a> {
    /// Bound (before, or by this check) to `project`.
    Bound {
        project: &'a str,
        enrolment: Enrolment,
        first_seen_ms: i64,
    },
    /// Not known, and the project's new ids for this minute are spent: nothing was bound.
    Spent,
    /// Not known, and not bound: the project's policy serves registered ids only, or the check
    /// carried a signature (which an id with no secret cannot make).
    Unbound,
}

/// What the edge knows when it decides.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    /// Does a project with the check's key exist? (When not, nothing else was loaded.)
    pub project_known: bool,
    pub policy: DevicePolicy,
    pub binding: Binding<'a>,
    /// What the check's signature proves (checked by the edge against the id's secret, when the
    /// id is a registered device of the check's project; `Invalid` for any other signed check).
    pub proof: Proof,
    /// The plan for (project, firmware_name), if any.
    pub plan: Option<&'a Plan>,
}

/// The verdict: the offer; whether the check is its own project's, from an id it serves, so
/// that the registry and the activity counts hear it (`heard`); and whether the device now runs
/// the plan's target (a report its rollout hears of).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict<'a> {
    pub offer: Offer<'a>,
    pub heard: bool,
    pub reached: bool,
}

pub fn decide<'a>(check: &UpgradeCheck, facts: Facts<'a>) -> Verdict<'a> {
    let admitted = admit(check, &facts);
    let heard = admitted.is_ok();
    let reached = heard
        && facts.plan.is_some_and(|p| {
            Version::parse(&p.spec.target_version).is_ok_and(|t| t == check.version)
        });
    let offer = match admitted {
        Ok(enrolment) => offer(check, facts.plan, enrolment, facts.binding),
        Err(refusal) => Offer::Refuse(refusal),
    };
    Verdict {
        offer,
        heard,
        reached,
    }
}

/// Is this a check the project serves, from this id? Its enrolment when so.
fn admit(check: &UpgradeCheck, facts: &Facts<'_>) -> Result<Enrolment, Refusal> {
    if !facts.project_known {
        return Err(Refusal::UnknownProject);
    }
    let (project, enrolment) = match facts.binding {
        Binding::Spent => return Err(Refusal::RegistrationsSpent),
        Binding::Unbound if check.signature.is_some() || facts.policy == DevicePolicy::Signed => {
            return Err(Refusal::BadSignature)
        }
        Binding::Unbound => return Err(Refusal::Unregistered),
        Binding::Bound {
            project, enrolment, ..
        } => (project, enrolment),
    };
    if project != check.project_key {
        return Err(Refusal::OtherProject);
    }
    if enrolment == Enrolment::Json {
        // A provisioned JSON device speaks only the signed API: an unsigned Luat check with its
        // id must not touch its registry state or its rollout outcome.
        return Err(Refusal::SignedDevice);
    }
    if facts.proof == Proof::Invalid
        || (facts.policy == DevicePolicy::Signed && facts.proof != Proof::Valid)
    {
        return Err(Refusal::BadSignature);
    }
    if facts.policy == DevicePolicy::Registered && enrolment == Enrolment::Bound {
        return Err(Refusal::Unregistered);
    }
    Ok(enrolment)
}

fn offer<'a>(
    check: &UpgradeCheck,
    plan: Option<&'a Plan>,
    enrolment: Enrolment,
    binding: Binding<'_>,
) -> Offer<'a> {
    use Offer::Refuse;
    let Some(plan) = plan else {
        return Refuse(Refusal::UnknownFirmware);
    };
    if !in_device_set(&plan.spec, &check.device_id) || plan.cancels(&check.device_id) {
        return Refuse(Refusal::NotInDeviceSet);
    }
    let target = match upgrade_wanted(&plan.spec, &check.version) {
        Ok(target) => target,
        Err(refusal) => return Refuse(refusal),
    };
    // A delta applies to one source version only: any other version gets the whole image, or
    // nothing when the target has none.
    let Some(image) = choose(plan, &check.version) else {
        return Refuse(Refusal::SourceVersionNotEligible);
    };
    let redirect = check.wants_redirect
        || (plan.spec.delivery == Delivery::Redirect && check.client.follows_redirects());
    let first_seen_ms = match binding {
        Binding::Bound { first_seen_ms, .. } => first_seen_ms,
        _ => 0,
    };
    Offer::Due(Due {
        plan,
        target,
        image,
        via: if redirect { Via::Redirect } else { Via::Stream },
        from: Provenance {
            signed: false,
            listed: listed(&plan.spec, &check.device_id),
            registered: enrolment == Enrolment::Registered,
            first_seen_ms,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::plan::{ImageRef, PlanSpec};
    use crate::rules::luat::{check_query, parse_check};

    fn plan(
        target: &str,
        from: &[&str],
        devices: &[&str],
        delivery: Delivery,
        downgrade: bool,
    ) -> Plan {
        Plan {
            project_key: "K1".into(),
            firmware_name: "ignored".into(),
            spec: PlanSpec {
                target_version: target.into(),
                from_versions: from.iter().map(|s| s.to_string()).collect(),
                devices: devices.iter().map(|s| s.to_string()).collect(),
                imei_ranges: vec![],
                delivery,
                allow_downgrade: downgrade,
                rollout: None,
                job_timeout_s: None,
                needs_confirm: false,
                expected_devices: None,
                deltas: None,
            },
            image: ImageRef {
                sha256: "00".into(),
                md5: "00".into(),
                size: 1,
                module: "default".into(),
            },
            packages: vec![],
            updated_at: "2026-11-22T00:00:00Z".into(),
            shards: 0,
            cancelled: Vec::new(),
        }
    }

    fn luatos(version: &str) -> UpgradeCheck {
        parse_check(&format!("imei=862419074072389&project_key=K1&firmware_name=p_LuatOS-SoC_Air780E&version={version}")).unwrap()
    }

    fn air724(version: &str, oss: bool) -> UpgradeCheck {
        let q = format!(
            "project_key=K1&imei=866714043075333&firmware_name=p_Luat_RDA8910&core_version=V2.4.4&dfota=1&version={version}{}",
            if oss { "&need_oss_url=1" } else { "" }
        );
        parse_check(&check_query("/api/site/firmware_upgrade", Some(&q)).unwrap()).unwrap()
    }

    /// An expected offer: how a due image goes out, or the refusal.
    #[derive(Debug, PartialEq)]
    enum Want {
        Due(Via),
        Refuse(Refusal),
    }

    fn bound(project: &str) -> Binding<'_> {
        Binding::Bound {
            project,
            enrolment: Enrolment::Bound,
            first_seen_ms: 0,
        }
    }

    fn open<'a>(binding: Binding<'a>, plan: Option<&'a Plan>) -> Facts<'a> {
        Facts {
            project_known: true,
            policy: DevicePolicy::Open,
            binding,
            proof: Proof::Unsigned,
            plan,
        }
    }

    /// `owner`: the project the id is bound to (`None`: the check's own).
    #[track_caller]
    fn check(
        c: UpgradeCheck,
        project_known: bool,
        owner: Option<&str>,
        p: Option<Plan>,
        expect: Want,
    ) {
        let binding = bound(owner.unwrap_or(&c.project_key));
        let facts = Facts {
            project_known,
            ..open(binding, p.as_ref())
        };
        let got = match decide(&c, facts).offer {
            Offer::Due(due) => Want::Due(due.via),
            Offer::Refuse(r) => Want::Refuse(r),
        };
        assert_eq!(got, expect, "{c:?}");
    }

    #[test]
    fn decision_table() {
        use Delivery::*;
        use Want::*;
        let stream = || Some(plan("2018.1.10", &[], &[], Stream, false));
        let redirect = || Some(plan("2018.1.10", &[], &[], Redirect, false));
        check(
            luatos("2018.1.3"),
            false,
            None,
            stream(),
            Refuse(Refusal::UnknownProject),
        );
        check(
            luatos("2018.1.3"),
            true,
            Some("K2"),
            stream(),
            Refuse(Refusal::OtherProject),
        );
        check(
            luatos("2018.1.3"),
            true,
            Some("K1"),
            None,
            Refuse(Refusal::UnknownFirmware),
        );
        check(
            luatos("2018.1.3"),
            true,
            Some("K1"),
            stream(),
            Due(Via::Stream),
        );
        check(
            luatos("2018.1.10"),
            true,
            Some("K1"),
            stream(),
            Refuse(Refusal::UpToDate),
        );
        check(
            luatos("2018.1.11"),
            true,
            Some("K1"),
            stream(),
            Refuse(Refusal::UpToDate),
        );
        check(
            luatos("2018.1.11"),
            true,
            Some("K1"),
            Some(plan("2018.1.10", &[], &[], Stream, true)),
            Due(Via::Stream),
        );
        // LuatOS never follows a redirect, whatever the plan says.
        check(
            luatos("2018.1.3"),
            true,
            Some("K1"),
            redirect(),
            Due(Via::Stream),
        );
        check(
            air724("1.0.0", false),
            true,
            Some("K1"),
            redirect(),
            Due(Via::Redirect),
        );
        check(
            air724("1.0.0", false),
            true,
            Some("K1"),
            stream(),
            Due(Via::Stream),
        );
        check(
            air724("1.0.0", true),
            true,
            Some("K1"),
            stream(),
            Due(Via::Redirect),
        );
        check(
            luatos("2018.1.3"),
            true,
            Some("K1"),
            Some(plan("2018.1.10", &["2018.1.2"], &[], Stream, false)),
            Refuse(Refusal::SourceVersionNotEligible),
        );
        check(
            luatos("2018.1.3"),
            true,
            Some("K1"),
            Some(plan("2018.1.10", &["2018.1.3"], &[], Stream, false)),
            Due(Via::Stream),
        );
        check(
            luatos("2018.1.3"),
            true,
            Some("K1"),
            Some(plan("2018.1.10", &[], &["1"], Stream, false)),
            Refuse(Refusal::NotInDeviceSet),
        );
        check(
            luatos("2018.1.3"),
            true,
            Some("K1"),
            Some(plan("2018.1.10", &[], &["862419074072389"], Stream, false)),
            Due(Via::Stream),
        );
    }

    #[test]
    fn the_binding_decides_before_the_plan() {
        let p = plan(
            "2018.1.10",
            &[],
            &["862419074072389"],
            Delivery::Stream,
            false,
        );
        let c = luatos("2018.1.3");
        let facts = |binding| open(binding, Some(&p));
        let signed = Binding::Bound {
            project: "K1",
            enrolment: Enrolment::Json,
            first_seen_ms: 0,
        };
        let cases: &[(Binding<'_>, Option<Refusal>)] = &[
            (Binding::Spent, Some(Refusal::RegistrationsSpent)),
            (signed, Some(Refusal::SignedDevice)),
            (bound("K2"), Some(Refusal::OtherProject)),
            (bound("K1"), None),
        ];
        for (binding, want) in cases {
            let got = match decide(&c, facts(*binding)).offer {
                Offer::Due(_) => None,
                Offer::Refuse(r) => Some(r),
            };
            assert_eq!(got, *want, "{binding:?}");
        }
        // A device the plan lists is trusted by its rollout, and its first sight travels along.
        let first = Binding::Bound {
            project: "K1",
            enrolment: Enrolment::Bound,
            first_seen_ms: 7,
        };
        let Offer::Due(due) = decide(&c, facts(first)).offer else {
            panic!("due");
        };
        assert_eq!((due.from.listed, due.from.first_seen_ms), (true, 7));
        assert_eq!(due.target, Version::parse("2018.1.10").unwrap());
    }

    #[test]
    fn only_its_own_device_running_the_target_has_reached_it() {
        let p = plan("2018.1.10", &[], &[], Delivery::Stream, false);
        let reached =
            |version: &str, binding| decide(&luatos(version), open(binding, Some(&p))).reached;
        assert!(reached("2018.1.10", bound("K1")));
        assert!(!reached("2018.1.3", bound("K1")));
        assert!(!reached("2018.1.10", bound("K2")));
        assert!(!reached("2018.1.10", Binding::Spent));
    }

    /// Policy, enrolment and signature: what each combination is answered, whether the registry
    /// hears it, and whether a rollout trusts the device.
    #[test]
    fn the_policy_table() {
        use DevicePolicy::{Open, Registered, Signed};
        use Enrolment::{Bound as B, Json, Registered as R};
        use Proof::{Invalid, Unsigned, Valid};
        let p = plan("2018.1.10", &[], &[], Delivery::Stream, false);
        let as_bound = |enrolment| Binding::Bound {
            project: "K1",
            enrolment,
            first_seen_ms: 0,
        };
        // (policy, binding, proof, signature sent) -> (refusal or trusted?, heard)
        type Row<'a> = (
            DevicePolicy,
            Binding<'a>,
            Proof,
            bool,
            Result<bool, Refusal>,
            bool,
        );
        let rows: Vec<Row<'_>> = vec![
            (Open, as_bound(B), Unsigned, false, Ok(false), true),
            (Open, as_bound(R), Unsigned, false, Ok(true), true),
            (Open, as_bound(R), Valid, true, Ok(true), true),
            (
                Open,
                as_bound(R),
                Invalid,
                true,
                Err(Refusal::BadSignature),
                false,
            ),
            (
                Open,
                as_bound(B),
                Invalid,
                true,
                Err(Refusal::BadSignature),
                false,
            ),
            (
                Open,
                Binding::Unbound,
                Unsigned,
                true,
                Err(Refusal::BadSignature),
                false,
            ),
            (
                Open,
                as_bound(Json),
                Unsigned,
                false,
                Err(Refusal::SignedDevice),
                false,
            ),
            (
                Registered,
                as_bound(B),
                Unsigned,
                false,
                Err(Refusal::Unregistered),
                false,
            ),
            (
                Registered,
                Binding::Unbound,
                Unsigned,
                false,
                Err(Refusal::Unregistered),
                false,
            ),
            (Registered, as_bound(R), Unsigned, false, Ok(true), true),
            (
                Registered,
                as_bound(R),
                Invalid,
                true,
                Err(Refusal::BadSignature),
                false,
            ),
            (
                Signed,
                as_bound(R),
                Unsigned,
                false,
                Err(Refusal::BadSignature),
                false,
            ),
            (Signed, as_bound(R), Valid, true, Ok(true), true),
            (
                Signed,
                as_bound(B),
                Unsigned,
                false,
                Err(Refusal::BadSignature),
                false,
            ),
            (
                Signed,
                Binding::Unbound,
                Unsigned,
                false,
                Err(Refusal::BadSignature),
                false,
            ),
            (
                Signed,
                bound("K2"),
                Unsigned,
                false,
                Err(Refusal::OtherProject),
                false,
            ),
        ];
        for (policy, binding, proof, sent, want, heard) in rows {
            let c = if sent {
                parse_check("imei=862419074072389&project_key=K1&firmware_name=p_LuatOS-SoC_Air780E&version=2018.1.3&ts=1&sig=00").unwrap()
            } else {
                luatos("2018.1.3")
            };
            let facts = Facts {
                policy,
                proof,
                ..open(binding, Some(&p))
            };
            let verdict = decide(&c, facts);
            let got = match verdict.offer {
                Offer::Due(due) => Ok(due.from.registered),
                Offer::Refuse(r) => Err(r),
            };
            let what = format!("{policy:?} {binding:?} {proof:?}");
            assert_eq!(got, want, "{what}");
            assert_eq!(verdict.heard, heard, "{what}: heard");
        }
    }
}

#[cfg(test)]
mod package_tests {
    use super::*;
    use crate::model::plan::{ImageKind, Package};
    use crate::rules::luat::parse_check;

    fn delta_plan(with_full: bool, deltas: Option<bool>) -> Plan {
        let image = |sha: &str| ImageRef {
            sha256: sha.into(),
            md5: "m".into(),
            size: 1,
            module: "default".into(),
        };
        let mut packages = vec![Package {
            image: image("delta"),
            kind: ImageKind::Delta,
            source_version: Some("1.0.0".into()),
        }];
        if with_full {
            packages.insert(0, Package::full(image("full")));
        }
        Plan {
            project_key: "K1".into(),
            firmware_name: "F".into(),
            spec: crate::model::plan::PlanSpec {
                target_version: "2.0.0".into(),
                deltas,
                ..Default::default()
            },
            image: packages[0].image.clone(),
            packages,
            updated_at: String::new(),
            shards: 0,
            cancelled: Vec::new(),
        }
    }

    /// The package a device at `version` is offered (its sha256), or the refusal's code.
    #[track_caller]
    fn check(plan: &Plan, version: &str, expect: &str) {
        let c = parse_check(&format!(
            "imei=862419074072389&project_key=K1&firmware_name=F&version={version}"
        ))
        .unwrap();
        let facts = Facts {
            project_known: true,
            policy: DevicePolicy::Open,
            binding: Binding::Bound {
                project: "K1",
                enrolment: Enrolment::Bound,
                first_seen_ms: 0,
            },
            proof: Proof::Unsigned,
            plan: Some(plan),
        };
        let got = match decide(&c, facts).offer {
            Offer::Due(due) => due.image.sha256.clone(),
            Offer::Refuse(r) => r.code().to_string(),
        };
        assert_eq!(got, expect, "version {version}");
    }

    #[test]
    fn each_version_gets_its_package() {
        let only_delta = delta_plan(false, None);
        check(&only_delta, "1.0.0", "delta");
        check(&only_delta, "1.0", "delta");
        check(&only_delta, "1.5.0", "66");
        check(&only_delta, "0.9.0", "66");
        check(&only_delta, "2.0.0", "60");
        let both = delta_plan(true, None);
        check(&both, "1.0.0", "delta");
        check(&both, "1.5.0", "full");
        check(&both, "0.9.0", "full");
        let no_deltas = delta_plan(true, Some(false));
        check(&no_deltas, "1.0.0", "full");
        check(&delta_plan(false, Some(false)), "1.0.0", "66");
    }
}
