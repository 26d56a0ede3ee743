//! What operators read about module-OTA jobs, provisioning, signing keys and check-now, in the
//! CLI and on the Devices tab.

use crate::api::CheckNowTarget;
use crate::format::plural;
use fota_shared::api::ota::{CheckNowResult, ConfirmResult, Job};
use fota_shared::model::job::JobPhase;

// Module-OTA jobs on the Devices tab.
pub const NO_HELD_JOBS: &str = "No listed device has a job awaiting confirmation.";
/// The list's state cell of a device whose module job waits for confirmation.
pub const HELD: &str = "held";

/// A job's phase in a few words.
pub fn job_phase(phase: JobPhase) -> &'static str {
    match phase {
        JobPhase::AwaitingConfirmation => "awaiting confirmation",
        JobPhase::InProgress => "in progress",
    }
}

/// `app: esp32 → 0.9.2`: the module (unless it is the whole device), the firmware, its target.
pub fn job_target(job: &Job) -> String {
    if job.module == fota_shared::model::plan::DEFAULT_MODULE {
        format!("{} → {}", job.firmware_name, job.target_version)
    } else {
        format!(
            "{}: {} → {}",
            job.module, job.firmware_name, job.target_version
        )
    }
}

/// The detail pane's line for a held job, with the key that confirms it.
pub const JOB_HELD_DETAIL: &str = "held · c confirms";

/// The job's phase with its last progress step, if any: `in progress · step 40`.
pub fn job_progress(job: &Job) -> String {
    match (job.phase, job.last_step) {
        (JobPhase::InProgress, Some(step)) => format!("in progress · step {step}"),
        (phase, _) => job_phase(phase).to_string(),
    }
}

pub fn confirm_job(id: &str, job: &Job) -> String {
    format!(
        "Confirm the held job of {id} ({})? The device is offered the image at its next check.",
        job_target(job)
    )
}

pub fn confirm_unknown_job(id: &str) -> String {
    format!("Confirm the held job of {id}? The device is offered the image at its next check.")
}

pub fn confirm_jobs(ids: &[String]) -> String {
    if let [one] = ids {
        return confirm_unknown_job(one);
    }
    format!(
        "Confirm the held jobs of {} listed devices ({})? Each is offered its image at its next check.",
        ids.len(),
        id_list(ids)
    )
}

pub fn job_not_held(id: &str, job: &Job) -> String {
    format!(
        "The job of {id} ({}) is {}, not awaiting confirmation.",
        job_target(job),
        job_phase(job.phase)
    )
}

pub fn no_held_job(id: &str) -> String {
    format!("Device {id} has no module job awaiting confirmation.")
}

pub fn confirming(ids: &[String]) -> String {
    match ids {
        [one] => format!("Confirming the job of {one}"),
        many => format!("Confirming {} jobs", many.len()),
    }
}

/// The answer to a confirmation: who was confirmed, who was skipped and why.
pub fn confirmed(result: &ConfirmResult) -> String {
    let done = match result.confirmed.as_slice() {
        [] => "Confirmed no job".to_string(),
        [one] => format!("Confirmed the job of {one}"),
        many => format!("Confirmed {} jobs", many.len()),
    };
    match result.skipped.as_slice() {
        [] => format!("{done}."),
        [one] => format!("{done}; skipped {} ({}).", one.id, one.reason),
        many => format!(
            "{done}; skipped {} (first: {}, {}).",
            many.len(),
            many[0].id,
            many[0].reason
        ),
    }
}

/// Up to three ids, then how many more.
fn id_list(ids: &[String]) -> String {
    match ids.len() {
        0..=3 => ids.join(", "),
        n => format!("{}, … and {} more", ids[..2].join(", "), n - 2),
    }
}

/// Printed with `device provision`'s answer, on stderr.
pub const SECRETS_SHOWN_ONCE: &str =
    "Device secrets are shown this once and never again (the server keeps none): store them now.";

/// `device provision` of ids that were provisioned already.
pub fn already_provisioned(ids: &[String]) -> String {
    format!(
        "already provisioned, secret kept (--rekey issues a new one): {}\n",
        ids.join(", ")
    )
}

/// `device deprovision`.
pub fn deprovisioned(id: &str) -> String {
    format!("deprovisioned device {id}: its signed requests are refused from now on\n")
}

/// `device confirm` of several devices when some were skipped.
pub fn skipped(skipped: usize, of: usize) -> String {
    format!("skipped {skipped} of {of} devices (see above)")
}

pub fn rotated(active: &str) -> String {
    format!("Rotated: new notices are signed with key {active}; the old keys stay trusted until their retire_after.")
}

// Check-now pushes.
pub fn checking_now(target: &CheckNowTarget) -> String {
    match target {
        CheckNowTarget::Device(id) => format!("Asking {id} to check now"),
        CheckNowTarget::Plan(name) => format!("Asking the devices of plan {name} to check now"),
    }
}

pub fn confirm_check_now_plan(firmware_name: &str) -> String {
    format!("Tell every connected device of plan {firmware_name} to check for its upgrade now?")
}

/// `Check-now 862…: reached 1 of 1 device.` Unreached devices hold no connection; they check
/// on their own schedule.
pub fn checked_now(target: &CheckNowTarget, result: &CheckNowResult) -> String {
    let what = match target {
        CheckNowTarget::Device(id) => format!("device {id}"),
        CheckNowTarget::Plan(name) => format!("plan {name}"),
    };
    format!(
        "Check-now {what}: reached {} of {}.",
        result.reached,
        plural(result.devices as usize, "device")
    )
}
