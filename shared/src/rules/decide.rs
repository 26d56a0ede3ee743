//! The upgrade decision for one Luat check: given what the edge loaded, offer the image or say why not.

use crate::leaf::code::Refusal;
use crate::model::plan::{Delivery, Plan};
use crate::rules::luat::UpgradeCheck;
use crate::rules::plan::{in_device_set, upgrade_wanted};

/// How an image that is due is handed over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// The bytes in the answer (`200`/`206` with `Content-Length`).
    Stream,
    /// `302` to the immutable, content-addressed image URL.
    Redirect,
}

/// The outcome of [`decide`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offer {
    /// The plan's image is due for this device. Loop-upgrade protection ([`crate::rules::ban`]) still
    /// has its say before a byte is sent.
    Due(Via),
    Refuse(Refusal),
}

/// What the edge knows when it decides.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    /// Does a project with the check's key exist?
    pub project_known: bool,
    /// The project the device id is bound to (after binding it on first sight).
    pub owner: Option<&'a str>,
    /// The plan for (project, firmware_name), if any.
    pub plan: Option<&'a Plan>,
}

pub fn decide(check: &UpgradeCheck, facts: Facts<'_>) -> Offer {
    use Offer::Refuse;
    if !facts.project_known {
        return Refuse(Refusal::UnknownProject);
    }
    if facts.owner.is_some_and(|owner| owner != check.project_key) {
        return Refuse(Refusal::OtherProject);
    }
    let Some(plan) = facts.plan else {
        return Refuse(Refusal::UnknownFirmware);
    };
    if !in_device_set(&plan.spec, &check.device_id) {
        return Refuse(Refusal::NotInDeviceSet);
    }
    if let Err(refusal) = upgrade_wanted(&plan.spec, &check.version) {
        return Refuse(refusal);
    }
    let redirect = check.wants_redirect
        || (plan.spec.delivery == Delivery::Redirect && check.client.follows_redirects());
    Offer::Due(if redirect { Via::Redirect } else { Via::Stream })
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
            },
            image: ImageRef {
                sha256: "00".into(),
                md5: "00".into(),
                size: 1,
                module: "default".into(),
            },
            updated_at: "2026-11-22T00:00:00Z".into(),
            shards: 0,
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

    #[track_caller]
    fn check(
        c: UpgradeCheck,
        project_known: bool,
        owner: Option<&str>,
        p: Option<Plan>,
        expect: Offer,
    ) {
        let got = decide(
            &c,
            Facts {
                project_known,
                owner,
                plan: p.as_ref(),
            },
        );
        assert_eq!(got, expect, "{c:?}");
    }

    #[test]
    fn decision_table() {
        use Delivery::*;
        use Offer::*;
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
}
