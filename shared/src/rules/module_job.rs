//! Module-OTA jobs on one device: which module's job the device gets next, the owner's
//! confirmation, progress and reports moving the job to success or failure, and its timeout.
//!
//! A device holds at most one job at a time (its *active* job), across all its modules. Another
//! module's job waits and is chosen when the device reports its versions again after the active
//! job ended: a device that updates its Wi-Fi module and then its MCU reports the new Wi-Fi
//! version after rebooting, which ends the Wi-Fi job with success, and the same report's
//! [`next_job`] offers the MCU job.
//!
//! Order: candidates are taken by ([`Candidate::order`], module, firmware_name), ascending. `order`
//! is the operator's say (the plan written for the module that must go first gets the lower
//! number); with equal orders the module name decides, so the choice never depends on the order
//! storage listed the plans in.
//!
//! A plan that needs the owner's confirmation makes its job [`JobPhase::AwaitingConfirmation`]:
//! it takes the device's slot (a later module cannot overtake it, since the order may be a
//! dependency) but nothing reaches the device, and its timeout does not run, until [`confirm`].
//! The owner declining, or an operator cancelling, ends it and frees the slot.

use crate::leaf::version::Version;
use crate::model::job::{ActiveJob, JobPhase};
use crate::model::plan::Plan;
use crate::model::rollout::DevicePhase;
use crate::rules::module_ota::{ProgressReport, Step, VersionReport};
use crate::rules::plan::{in_device_set, upgrade_wanted};

/// A plan found due for this device (device set, source versions, rollout gate and ban already
/// passed), with the image's module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub module: String,
    pub firmware_name: String,
    pub target_version: String,
    /// Lower goes first; see the module doc.
    pub order: u32,
    pub needs_confirm: bool,
    /// The plan's `job_timeout_s` (or [`crate::rules::rollout::DEFAULT_JOB_TIMEOUT_S`]).
    pub job_timeout_s: u64,
}

/// The plans that would upgrade one of the device's reported modules: the device is in the
/// plan's device set and the module's reported version is one the plan upgrades
/// ([`upgrade_wanted`], the same rule as for Luat checks) with a package for it (a delta for
/// exactly that version, or the whole image: `crate::rules::package::choose`). A plan for a module the device never
/// reported is left out (its source version is unknown).
pub fn wanted_plans<'a>(
    plans: &'a [Plan],
    device_id: &str,
    device_modules: &[(String, String)],
) -> Vec<&'a Plan> {
    let reported = |module: &str| {
        device_modules
            .iter()
            .find(|(m, _)| m == module)
            .and_then(|(_, v)| Version::parse(v).ok())
    };
    plans
        .iter()
        .filter(|p| {
            in_device_set(&p.spec, device_id)
                && !p.cancels(device_id)
                && reported(&p.image.module).is_some_and(|v| {
                    upgrade_wanted(&p.spec, &v).is_ok()
                        && crate::rules::package::choose(p, &v).is_some()
                })
        })
        .collect()
}

/// The candidate a wanted plan makes. `phase` is the device's phase in the plan's rollout, if it
/// has one: a device whose job for this target failed or was banned is not offered it again by
/// itself (an operator retries it). `job_timeout_s` is the plan's, or the default.
pub fn candidate(plan: &Plan, job_timeout_s: u64, phase: Option<DevicePhase>) -> Option<Candidate> {
    if matches!(phase, Some(DevicePhase::Failed | DevicePhase::Banned)) {
        return None;
    }
    Some(Candidate {
        module: plan.image.module.clone(),
        firmware_name: plan.firmware_name.clone(),
        target_version: plan.spec.target_version.clone(),
        order: 0,
        needs_confirm: plan.spec.needs_confirm,
        job_timeout_s,
    })
}

/// What [`next_job`] decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobDecision {
    /// Start this job now: store [`start_job`]'s record and serve the notice.
    Offer(Candidate),
    /// Start this job held for the owner: store [`start_job`]'s record and ask the owner.
    AwaitConfirmation(Candidate),
    /// The device already has a job; the others wait.
    Busy(ActiveJob),
    /// Nothing to do.
    Nothing,
}

/// Chooses the device's next job among `candidates` (made by [`wanted_plans`] and
/// [`candidate`], so each one is due): the active job keeps the slot, else the first by order.
pub fn next_job(candidates: &[Candidate], active: Option<&ActiveJob>) -> JobDecision {
    if let Some(active) = active {
        return JobDecision::Busy(active.clone());
    }
    match candidates.iter().min_by(|a, b| {
        (a.order, &a.module, &a.firmware_name).cmp(&(b.order, &b.module, &b.firmware_name))
    }) {
        Some(c) if c.needs_confirm => JobDecision::AwaitConfirmation(c.clone()),
        Some(c) => JobDecision::Offer(c.clone()),
        None => JobDecision::Nothing,
    }
}

/// The record for a job [`next_job`] chose.
pub fn start_job(candidate: &Candidate, now_ms: i64) -> ActiveJob {
    let held = candidate.needs_confirm;
    ActiveJob {
        module: candidate.module.clone(),
        firmware_name: candidate.firmware_name.clone(),
        target_version: candidate.target_version.clone(),
        phase: if held {
            JobPhase::AwaitingConfirmation
        } else {
            JobPhase::InProgress
        },
        created_ms: now_ms,
        offered_ms: if held { None } else { Some(now_ms) },
        job_timeout_s: candidate.job_timeout_s,
        last_step: None,
    }
}

/// Confirmation of a job that is not waiting for one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the job is not awaiting confirmation")]
pub struct NotAwaitingConfirmation;

/// The owner confirmed: the job reaches the device now, and its timeout starts.
pub fn confirm(job: &ActiveJob, now_ms: i64) -> Result<ActiveJob, NotAwaitingConfirmation> {
    if job.phase != JobPhase::AwaitingConfirmation {
        return Err(NotAwaitingConfirmation);
    }
    Ok(ActiveJob {
        phase: JobPhase::InProgress,
        offered_ms: Some(now_ms),
        ..job.clone()
    })
}

/// Has a job offered at `offered_ms` run out of time? It fails `timeout_s` after the offer
/// (the same instant [`crate::rules::rollout_state::job_timed_out`] uses for Luat devices).
pub fn job_expired(offered_ms: i64, timeout_s: u64, now_ms: i64) -> bool {
    // `try_from`, not `as`: a huge timeout must mean "never", not wrap to a negative one.
    let timeout_ms = i64::try_from(timeout_s)
        .unwrap_or(i64::MAX)
        .saturating_mul(1000);
    now_ms.saturating_sub(offered_ms) >= timeout_ms
}

/// The failure cause of an expired job.
pub const EXPIRED_CAUSE: &str = "no success within job_timeout_s of the offer";

/// What a message or time did to the active job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobOutcome {
    /// Nothing changed (another module, an awaiting job, or a step already stored).
    Unchanged,
    /// Store this record in place of the old one.
    Updated(ActiveJob),
    /// The device runs the target: the slot is free; count a success.
    Succeeded,
    /// The slot is free; count a failure with this cause.
    Failed(String),
}

/// A progress report for the device. A failure step fails the job; a percentage is remembered
/// (the edge stores it when [`crate::rules::module_ota::should_store`] says so).
pub fn on_progress(job: &ActiveJob, progress: &ProgressReport) -> JobOutcome {
    if progress.module != job.module || job.phase != JobPhase::InProgress {
        return JobOutcome::Unchanged;
    }
    match progress.step {
        Step::Failed(failure) => JobOutcome::Failed(failure.cause().to_string()),
        step if job.last_step == Some(step.value()) => JobOutcome::Unchanged,
        step => JobOutcome::Updated(ActiveJob {
            last_step: Some(step.value()),
            ..job.clone()
        }),
    }
}

/// A version report for the device. Reporting the target ends the job with success (with or
/// without a step 100 before: the running version is the ground truth). Reporting another version
/// after step 100 means the device installed the image and came back on the old one: the image did
/// not take. Any other report leaves the job running (a reboot mid-download, say).
pub fn on_report(job: &ActiveJob, report: &VersionReport) -> JobOutcome {
    if report.module != job.module || job.phase != JobPhase::InProgress {
        return JobOutcome::Unchanged;
    }
    if Version::parse(&job.target_version).is_ok_and(|target| target == report.version) {
        return JobOutcome::Succeeded;
    }
    if job.last_step == Some(100) {
        return JobOutcome::Failed(format!(
            "device reported {} after step 100: the new image did not take",
            report.version
        ));
    }
    JobOutcome::Unchanged
}

/// Time passing: an offered job with no success within its timeout fails with [`EXPIRED_CAUSE`].
pub fn on_tick(job: &ActiveJob, now_ms: i64) -> JobOutcome {
    match job.offered_ms {
        Some(offered) if job_expired(offered, job.job_timeout_s, now_ms) => {
            JobOutcome::Failed(EXPIRED_CAUSE.to_string())
        }
        _ => JobOutcome::Unchanged,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::module_ota::{parse_progress, parse_report};

    fn plan(module: &str, firmware: &str, target: &str, needs_confirm: bool) -> Plan {
        let spec = format!(r#"{{"target_version":"{target}","needs_confirm":{needs_confirm}}}"#);
        let image = format!(r#"{{"sha256":"00","md5":"00","size":1,"module":"{module}"}}"#);
        Plan {
            project_key: "pk".into(),
            firmware_name: firmware.into(),
            spec: serde_json::from_str(&spec).unwrap(),
            image: serde_json::from_str(&image).unwrap(),
            packages: vec![],
            updated_at: "2026-11-22T00:00:00Z".into(),
            shards: 0,
            cancelled: Vec::new(),
        }
    }

    fn modules(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(m, v)| (m.to_string(), v.to_string()))
            .collect()
    }

    /// The candidates a device reporting `device` has among `plans`, ordered as the plans are.
    fn due(plans: &[Plan], device: &[(String, String)]) -> Vec<Candidate> {
        let wanted = wanted_plans(plans, "dev1", device);
        wanted
            .into_iter()
            .filter_map(|p| candidate(p, 3600, None))
            .enumerate()
            .map(|(i, c)| Candidate {
                order: i as u32,
                ..c
            })
            .collect()
    }

    fn wifi_and_mcu() -> Vec<Plan> {
        vec![
            plan("Wi-Fi", "wifi_fw", "2.0", false),
            plan("MCU", "mcu_fw", "1.1", false),
        ]
    }

    fn report(module: &str, version: &str) -> VersionReport {
        parse_report(
            format!(r#"{{"id":"1","params":{{"module":"{module}","version":"{version}"}}}}"#)
                .as_bytes(),
        )
        .unwrap()
    }

    fn progress(module: &str, step: &str) -> ProgressReport {
        parse_progress(
            format!(r#"{{"id":"1","params":{{"module":"{module}","step":"{step}"}}}}"#).as_bytes(),
        )
        .unwrap()
    }

    fn chosen(decision: &JobDecision) -> String {
        match decision {
            JobDecision::Offer(c) => format!("offer {}", c.module),
            JobDecision::AwaitConfirmation(c) => format!("await {}", c.module),
            JobDecision::Busy(j) => format!("busy {}", j.module),
            JobDecision::Nothing => "nothing".into(),
        }
    }

    #[track_caller]
    fn check_wanted(device: &[(&str, &str)], phase: Option<DevicePhase>, expect: &[&str]) {
        let mut plans = wifi_and_mcu();
        plans.push(Plan {
            spec: crate::model::plan::PlanSpec {
                devices: vec!["other".into()],
                ..plans[1].spec.clone()
            },
            ..plan("MCU", "mcu_other", "1.2", false)
        });
        let got: Vec<String> = wanted_plans(&plans, "dev1", &modules(device))
            .into_iter()
            .filter_map(|p| candidate(p, 3600, phase))
            .map(|c| c.firmware_name)
            .collect();
        assert_eq!(got, expect, "{device:?} {phase:?}");
    }

    #[test]
    fn wanted_table() {
        check_wanted(
            &[("Wi-Fi", "1.0"), ("MCU", "1.0")],
            None,
            &["wifi_fw", "mcu_fw"],
        );
        check_wanted(&[("MCU", "1.0")], None, &["mcu_fw"]);
        check_wanted(&[("Wi-Fi", "V2.0.0"), ("MCU", "1.0")], None, &["mcu_fw"]);
        check_wanted(&[("Wi-Fi", "2.0"), ("MCU", "1.1")], None, &[]);
        check_wanted(&[("Wi-Fi", "3.0"), ("MCU", "garbage")], None, &[]);
        check_wanted(
            &[("Wi-Fi", "1.0")],
            Some(DevicePhase::Offered),
            &["wifi_fw"],
        );
        check_wanted(&[("Wi-Fi", "1.0")], Some(DevicePhase::Failed), &[]);
        check_wanted(&[("Wi-Fi", "1.0")], Some(DevicePhase::Banned), &[]);
    }

    #[track_caller]
    fn check(candidates: &[Candidate], active: Option<&ActiveJob>, expect: &str) {
        assert_eq!(chosen(&next_job(candidates, active)), expect);
    }

    #[test]
    fn choice_table() {
        let [wifi, mcu] = [0, 1].map(|i| {
            due(
                &wifi_and_mcu(),
                &modules(&[("Wi-Fi", "1.0"), ("MCU", "1.0")]),
            )[i]
                .clone()
        });
        let busy = start_job(&mcu, 0);
        check(&[mcu.clone(), wifi.clone()], None, "offer Wi-Fi");
        check(
            &[
                Candidate {
                    order: 0,
                    ..mcu.clone()
                },
                wifi.clone(),
            ],
            None,
            "offer MCU",
        );
        check(std::slice::from_ref(&wifi), Some(&busy), "busy MCU");
        check(&[], None, "nothing");
        check(
            &[
                Candidate {
                    needs_confirm: true,
                    ..wifi.clone()
                },
                mcu.clone(),
            ],
            None,
            "await Wi-Fi",
        );
    }

    #[test]
    fn wifi_then_mcu() {
        let plans = wifi_and_mcu();
        let mut device = modules(&[("Wi-Fi", "1.0"), ("MCU", "1.0")]);
        let JobDecision::Offer(first) = next_job(&due(&plans, &device), None) else {
            panic!("Wi-Fi first")
        };
        let mut job = start_job(&first, 0);
        assert_eq!(
            (job.module.as_str(), job.phase, job.offered_ms),
            ("Wi-Fi", JobPhase::InProgress, Some(0))
        );
        // While the Wi-Fi job runs, the MCU waits, whatever the device reports meanwhile.
        assert_eq!(
            chosen(&next_job(&due(&plans, &device), Some(&job))),
            "busy Wi-Fi"
        );
        assert_eq!(
            on_progress(&job, &progress("MCU", "-2")),
            JobOutcome::Unchanged,
            "another module's progress"
        );
        for step in ["10", "55", "100"] {
            let JobOutcome::Updated(next) = on_progress(&job, &progress("Wi-Fi", step)) else {
                panic!("{step}")
            };
            job = next;
        }
        assert_eq!(
            on_progress(&job, &progress("Wi-Fi", "100")),
            JobOutcome::Unchanged,
            "repeated step"
        );
        assert_eq!(
            on_report(&job, &report("MCU", "1.0")),
            JobOutcome::Unchanged
        );
        // The device reboots onto the new Wi-Fi firmware and reports: success, then the MCU.
        assert_eq!(
            on_report(&job, &report("Wi-Fi", "2.0")),
            JobOutcome::Succeeded
        );
        device[0].1 = "2.0".into();
        let JobDecision::Offer(second) = next_job(&due(&plans, &device), None) else {
            panic!("MCU next")
        };
        assert_eq!(second.module, "MCU");
        device[1].1 = "1.1".into();
        assert_eq!(next_job(&due(&plans, &device), None), JobDecision::Nothing);
    }

    #[test]
    fn needs_confirm_holds_the_job_until_confirmed() {
        let plans = [
            plan("Wi-Fi", "wifi_fw", "2.0", true),
            plan("MCU", "mcu_fw", "1.1", false),
        ];
        let cands = due(&plans, &modules(&[("Wi-Fi", "1.0"), ("MCU", "1.0")]));
        let JobDecision::AwaitConfirmation(c) = next_job(&cands, None) else {
            panic!()
        };
        let job = start_job(&c, 1_000);
        assert_eq!(
            (job.phase, job.offered_ms),
            (JobPhase::AwaitingConfirmation, None)
        );
        assert_eq!(
            chosen(&next_job(&cands, Some(&job))),
            "busy Wi-Fi",
            "the MCU does not overtake"
        );
        assert_eq!(
            on_tick(&job, i64::MAX),
            JobOutcome::Unchanged,
            "no timeout before the offer"
        );
        assert_eq!(
            on_progress(&job, &progress("Wi-Fi", "-1")),
            JobOutcome::Unchanged
        );
        assert_eq!(
            on_report(&job, &report("Wi-Fi", "2.0")),
            JobOutcome::Unchanged
        );
        let confirmed = confirm(&job, 5_000).unwrap();
        assert_eq!(
            (confirmed.phase, confirmed.offered_ms, confirmed.created_ms),
            (JobPhase::InProgress, Some(5_000), 1_000)
        );
        assert_eq!(confirm(&confirmed, 6_000), Err(NotAwaitingConfirmation));
        assert_eq!(
            on_tick(&confirmed, 5_000 + 3_599_999),
            JobOutcome::Unchanged
        );
        assert_eq!(
            on_tick(&confirmed, 5_000 + 3_600_000),
            JobOutcome::Failed(EXPIRED_CAUSE.into())
        );
        assert_eq!(
            serde_json::to_value(JobPhase::AwaitingConfirmation).unwrap(),
            "awaiting_confirmation"
        );
    }

    #[test]
    fn outcomes_of_progress_and_reports() {
        let job = start_job(
            &due(
                &[plan("MCU", "mcu_fw", "1.1", false)],
                &modules(&[("MCU", "1.0")]),
            )[0],
            0,
        );
        for (step, cause) in [
            ("-1", "device reported step -1: upgrade failed"),
            ("-2", "device reported step -2: download failed"),
            ("-3", "device reported step -3: verification failed"),
            ("-4", "device reported step -4: flashing failed"),
        ] {
            assert_eq!(
                on_progress(&job, &progress("MCU", step)),
                JobOutcome::Failed(cause.into()),
                "{step}"
            );
        }
        assert_eq!(
            on_report(&job, &report("MCU", "1.0")),
            JobOutcome::Unchanged,
            "old version before step 100"
        );
        let done = ActiveJob {
            last_step: Some(100),
            ..job.clone()
        };
        assert_eq!(
            on_report(&done, &report("MCU", "1.0")),
            JobOutcome::Failed(
                "device reported 1.0 after step 100: the new image did not take".into()
            )
        );
        assert_eq!(
            on_report(&job, &report("MCU", "V1.1.0")),
            JobOutcome::Succeeded,
            "target without a step 100"
        );
        let stored: ActiveJob =
            serde_json::from_str(&serde_json::to_string(&done).unwrap()).unwrap();
        assert_eq!(stored, done);
    }

    #[test]
    fn expiry_edges() {
        for (offered, timeout_s, now, expect) in [
            (0, 60, 59_999, false),
            (0, 60, 60_000, true),
            (1_000, 1, 1_999, false),
            (1_000, 1, 2_000, true),
            (10_000, 60, 0, false),
            (0, u64::MAX, i64::MAX - 1, false),
            (i64::MIN, 1, i64::MAX, true),
        ] {
            assert_eq!(
                job_expired(offered, timeout_s, now),
                expect,
                "{offered} {timeout_s} {now}"
            );
        }
    }
}
