//! Every user-facing string of the terminal app and the CLI, so wording lives in one place.

use fota_shared::api::{
    CheckNowResult, ConfirmResult, JobPhase, RolloutAction, RolloutCounts, RolloutPhase,
    RolloutStatus,
};
use fota_shared::module_job::ActiveJob;

use crate::app::CheckNowTarget;

/// The tab titles, in tab order.
pub const TAB_FLEET: &str = "Fleet";
pub const TAB_DEVICES: &str = "Devices";
pub const TAB_FIRMWARE: &str = "Firmware";
pub const TAB_ROLLOUTS: &str = "Rollouts";
pub const TAB_AUDIT: &str = "Audit";

pub const APP_TITLE: &str = "fota";
pub const HELP_HINT: &str = "? help  q quit";
pub const NO_PROJECT: &str = "resolving project…";

pub const ONLINE: &str = "● online";
pub const CONNECTING: &str = "◌ connecting";

pub fn offline(attempt: u32, retry_in_secs: Option<u32>) -> String {
    match retry_in_secs {
        Some(secs) => format!("○ offline · retry {attempt} in {secs}s"),
        None => format!("○ offline · retrying (attempt {attempt})"),
    }
}

pub fn loading(what: &str) -> String {
    format!("Loading {what}…")
}

/// An error shown in place: what failed and the reason (which carries the API's message).
pub fn failed(what: &str, reason: &str) -> String {
    format!("{what} failed: {reason}")
}

// Names of the things the app loads or changes, used in loading and error lines.
pub const WHAT_PROJECTS: &str = "projects";
pub const WHAT_FLEET: &str = "fleet";
pub const WHAT_ACTIVITY: &str = "activity";
pub const WHAT_DEVICES: &str = "devices";
pub const WHAT_FIRMWARE: &str = "firmware";
pub const WHAT_PLANS: &str = "plans";
pub const WHAT_ROLLOUT: &str = "rollout status";
pub const WHAT_HISTORY: &str = "history";
pub const WHAT_AUDIT: &str = "audit log";
pub const WHAT_JOBS: &str = "jobs";

pub fn loading_failed(what: &str) -> String {
    format!("Loading {what}")
}

// Fleet tab.
pub const FLEET_VERSIONS: &str = " Devices per version ";
pub const FLEET_PLANS: &str = " Rollouts ";
pub const FLEET_LATEST: &str = " Latest seen ";
pub const FLEET_NO_DEVICES: &str = "No devices have checked in yet.";
pub const FLEET_NO_PLANS: &str = "No plans. Create one on the Rollouts tab.";
pub const NO_VERSION: &str = "(none)";

/// The version chart's title: the whole project's device count and how many are banned.
pub fn fleet_versions_title(total: u64, banned: u64) -> String {
    format!(
        " Versions of {} devices · {} banned ",
        count(total),
        count(banned)
    )
}

/// The latest devices' title: how many devices were seen within the last hour, day and week.
pub fn fleet_latest_title(seen: &fota_shared::api::SeenCounts) -> String {
    format!(
        " Latest seen · {} in the last hour · {} in 24h · {} in 7 days ",
        count(seen.hour),
        count(seen.day),
        count(seen.week)
    )
}

/// A device count short enough for a panel title or a bar: exact below 10 000, then `41.6k`,
/// `600k`, `1.2M`, rounded down (a count never shows more than there is).
pub fn count(n: u64) -> String {
    match n {
        0..=9_999 => n.to_string(),
        10_000..=99_999 => format!("{}.{}k", n / 1_000, n / 100 % 10),
        100_000..=999_999 => format!("{}k", n / 1_000),
        1_000_000..=99_999_999 => format!("{}.{}M", n / 1_000_000, n / 100_000 % 10),
        _ => format!("{}M", n / 1_000_000),
    }
}

/// The activity panel's title: the hours it covers, from the start of the first (UTC).
pub fn activity_title(hours: usize, since: Option<&str>) -> String {
    match since {
        Some(at) => format!(
            " Activity per hour · last {hours}h since {} UTC ",
            short_timestamp(at)
        ),
        None => format!(" Activity per hour · last {hours}h "),
    }
}

/// A sparkline's title: `Checks 1234 in 24h · last hour 56`.
pub fn activity_series(what: &str, total: u64, hours: usize, last_hour: u64) -> String {
    format!("{what} {total} in {hours}h · last hour {last_hour}")
}

pub const ACTIVITY_CHECKS: &str = "Checks";
pub const ACTIVITY_DELIVERIES: &str = "Deliveries";

pub fn plan_gauge_label(on_target: u64, seen: u64) -> String {
    format!("{}/{} on target", count(on_target), count(seen))
}

// Devices tab.
pub const DEVICES_DETAIL: &str = " Device ";
pub const DEVICES_NONE: &str = "No devices match.";
pub const DEVICES_NO_SELECTION: &str = "Select a device to see its details.";
pub const FILTER_HINT: &str = "/ filter";
pub const FILTER_PROMPT: &str = "Filter: ";
pub const DEVICES_KEYS: &str = "s state  u unban  c/C confirm  n check now";
pub const HISTORY_TITLE: &str = "History (newest first)";
pub const HISTORY_NONE: &str = "No events yet.";
pub const ALL_STATES: &str = "all";

pub fn state_filter(state: Option<&str>) -> String {
    format!("state: {}", state.unwrap_or(ALL_STATES))
}

pub fn devices_title(loaded: usize, more: bool, loading_more: bool) -> String {
    match (more, loading_more) {
        (_, true) => format!(" Devices ({loaded}, loading more…) "),
        (true, false) => format!(" Devices ({loaded}+) "),
        (false, false) => format!(" Devices ({loaded}) "),
    }
}

pub fn device_is_not_banned(id: &str) -> String {
    format!("Device {id} is not banned.")
}

pub fn confirm_unban(id: &str) -> String {
    format!("Unban device {id}? It will be offered upgrades again.")
}

pub fn unbanned(id: &str) -> String {
    format!("Unbanned device {id}.")
}

pub fn unbanning(id: &str) -> String {
    format!("Unbanning {id}")
}

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
pub fn job_target(job: &ActiveJob) -> String {
    if job.module == fota_shared::api::DEFAULT_MODULE {
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
pub fn job_progress(job: &ActiveJob) -> String {
    match (job.phase, job.last_step) {
        (JobPhase::InProgress, Some(step)) => format!("in progress · step {step}"),
        (phase, _) => job_phase(phase).to_string(),
    }
}

pub fn confirm_job(id: &str, job: &ActiveJob) -> String {
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

pub fn job_not_held(id: &str, job: &ActiveJob) -> String {
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
    format!("already provisioned, secret kept (--rekey issues a new one): {}\n", ids.join(", "))
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

// Firmware tab.
pub const FIRMWARE_TITLE: &str = " Firmware images ";
pub const FIRMWARE_NONE: &str = "No firmware uploaded yet. Press u to upload a file.";
pub const UPLOAD_TITLE: &str = " Upload ";
pub const UPLOAD_FORM_TITLE: &str = " Upload firmware ";
pub const UPLOAD_BUSY: &str = "An upload is already running.";
pub const UPLOAD_HASHING: &str = "computing sha256…";
pub const FIELD_PATH: &str = "File path";
pub const FIELD_FIRMWARE_NAME: &str = "Firmware name";
pub const FIELD_VERSION: &str = "Version";
pub const FIELD_MODULE: &str = "Module";
pub const FIELD_KIND: &str = "Kind";
pub const FIELD_SOURCE_VERSION: &str = "Source version";
pub const FIELD_NOTES: &str = "Notes";
pub const MODULE_HINT: &str = "empty: default";
pub const SOURCE_HINT: &str = "the version a delta applies to";
pub const DELTA_NEEDS_SOURCE: &str = "A delta needs its source version.";
pub const SOURCE_ONLY_FOR_DELTA: &str = "Source version is only for a delta.";

pub fn uploading(firmware_name: &str, version: &str) -> String {
    format!("Uploading {firmware_name} {version}")
}

pub fn uploaded(firmware_name: &str, version: &str, sha256: &str) -> String {
    format!(
        "Uploaded {firmware_name} {version} (sha256 {})",
        short_hash(sha256)
    )
}

pub fn confirm_delete_firmware(firmware_name: &str, version: &str) -> String {
    format!("Delete firmware {firmware_name} {version}? This cannot be undone.")
}

pub fn deleting_firmware(firmware_name: &str, version: &str) -> String {
    format!("Deleting {firmware_name} {version}")
}

pub fn deleted_firmware(firmware_name: &str, version: &str) -> String {
    format!("Deleted firmware {firmware_name} {version}.")
}

// Rollouts tab.
pub const PLANS_TITLE: &str = " Plans ";
pub const PLAN_DETAIL: &str = " Rollout ";
pub const PLANS_KEYS: &str =
    " n new  e edit  d delete  p pause  u resume  a advance  c cancel  N check now ";
pub const NO_STATUS: &str = "…";
pub const PLANS_NONE: &str = "No plans yet. Press n to create one.";
pub const PLAN_FORM_NEW: &str = " New plan ";
pub const PLAN_FORM_EDIT: &str = " Edit plan ";
pub const FIELD_TARGET: &str = "Target version";
pub const FIELD_FROM: &str = "From versions";
pub const FIELD_DEVICES: &str = "Devices";
pub const FIELD_IMEI_RANGES: &str = "IMEI ranges";
pub const FIELD_DELIVERY: &str = "Delivery";
pub const FIELD_DOWNGRADE: &str = "Allow downgrade";
pub const FIELD_STAGES: &str = "Stages %";
pub const FIELD_VERIFY_DEVICES: &str = "Verify devices";
pub const FIELD_VERIFY_TIMEOUT: &str = "Verify timeout";
pub const FIELD_MAX_FAILURE: &str = "Max failure ratio";
pub const FIELD_MIN_SAMPLE: &str = "Min sample";
pub const FIELD_MAX_PER_MINUTE: &str = "Max per minute";
pub const FIELD_WINDOW: &str = "Window UTC";
pub const FIELD_AUTO_ADVANCE: &str = "Auto advance";
pub const FIELD_SOAK: &str = "Soak";
pub const FIELD_JOB_TIMEOUT: &str = "Job timeout";
pub const FIELD_NEEDS_CONFIRM: &str = "Needs confirm";
pub const NEEDS_CONFIRM_OFFER: &str = "held until confirmed";
pub const NEEDS_CONFIRM_HINT: &str = "module OTA: hold each job until confirmed";
pub const STAGES_HINT: &str = "1,10,50,100; empty: everyone at once";
pub const RATIO_HINT: &str = "0.2 or 20%; empty: 0.2";
pub const MIN_SAMPLE_HINT: &str = "empty: 10";
pub const RATE_HINT: &str = "first offers; empty: no limit";
pub const WINDOW_HINT: &str = "HH:MM-HH:MM; empty: always";
pub const DURATION_HINT: &str = "30s, 15m, 2h, 1d";
pub const VERIFY_TIMEOUT_HINT: &str = "empty: 1d";
pub const NEEDS_STAGES: &str = "Rollout settings need stages.";
pub const ALL_DEVICES: &str = "all";
pub const ALL_AT_ONCE: &str = "all at once";
pub const ANY_VERSION: &str = "any";
pub const SAVING: &str = "saving…";
pub const FORM_HINT: &str =
    "Tab/↓ next  Shift-Tab/↑ previous  Space toggle  Enter save  Esc cancel";
pub const LIST_HINT: &str = "comma-separated";
pub const RANGE_HINT: &str = "LO-HI, comma-separated";

pub fn saved_plan(firmware_name: &str, target: &str) -> String {
    format!("Saved plan {firmware_name} → {target}.")
}

pub fn saving_plan(firmware_name: &str) -> String {
    format!("Saving plan {firmware_name}")
}

pub fn confirm_delete_plan(firmware_name: &str) -> String {
    format!("Delete the plan for {firmware_name}? Devices stop being offered its target.")
}

pub fn deleting_plan(firmware_name: &str) -> String {
    format!("Deleting plan {firmware_name}")
}

pub fn deleted_plan(firmware_name: &str) -> String {
    format!("Deleted plan {firmware_name}.")
}

pub fn device_set(devices: usize, ranges: usize) -> String {
    match (devices, ranges) {
        (0, 0) => ALL_DEVICES.to_string(),
        (d, 0) => plural(d, "id"),
        (0, r) => plural(r, "range"),
        (d, r) => format!("{} + {}", plural(d, "id"), plural(r, "range")),
    }
}

/// A rollout state with its stage: `running 2/4`, `verifying`.
pub fn stage(status: &RolloutStatus) -> String {
    match (status.state, status.stage) {
        (RolloutPhase::Verifying, _) | (_, ..=-1) => status.state.as_str().to_string(),
        (_, stage) => format!("{} {}/{}", status.state, stage + 1, status.stages.len()),
    }
}

/// `20✓ 5✗ 5… /40`: succeeded, failed (banned included), pending, of eligible.
pub fn counts(counts: &RolloutCounts) -> String {
    format!(
        "{}✓ {}✗ {}… /{}",
        counts.succeeded,
        counts.failed + counts.banned,
        counts.pending,
        counts.eligible
    )
}

fn action_verb(action: RolloutAction) -> (&'static str, &'static str) {
    match action {
        RolloutAction::Pause => ("Pause", "Paused"),
        RolloutAction::Resume => ("Resume", "Resumed"),
        RolloutAction::Advance => ("Advance", "Advanced"),
        RolloutAction::Cancel => ("Cancel", "Cancelled"),
    }
}

pub fn confirm_control(
    action: RolloutAction,
    firmware_name: &str,
    target: &str,
    status: Option<&RolloutStatus>,
) -> String {
    let next = status.and_then(|s| {
        let next = usize::try_from(s.stage + 1).ok()?;
        s.stages
            .get(next)
            .map(|stage| (next + 1, s.stages.len(), stage.percent))
    });
    match action {
        RolloutAction::Pause => format!(
            "Pause the rollout of {firmware_name} → {target}? No new offers until it is resumed; devices already offered may finish."
        ),
        RolloutAction::Resume => format!(
            "Resume the rollout of {firmware_name} → {target}? Offers start again."
        ),
        RolloutAction::Advance => match next {
            Some((n, of, percent)) => format!(
                "Advance the rollout of {firmware_name} → {target} to stage {n}/{of} ({percent}% of eligible devices)?"
            ),
            None => format!("Advance the rollout of {firmware_name} → {target} to its next stage?"),
        },
        RolloutAction::Cancel => format!(
            "Cancel the rollout of {firmware_name} → {target}? It stops offering for good; a cancelled rollout cannot be resumed."
        ),
    }
}

pub fn control_gerund(action: RolloutAction) -> &'static str {
    match action {
        RolloutAction::Pause => "Pausing",
        RolloutAction::Resume => "Resuming",
        RolloutAction::Advance => "Advancing",
        RolloutAction::Cancel => "Cancelling",
    }
}

pub fn controlling(action: RolloutAction, firmware_name: &str) -> String {
    format!("{} rollout {firmware_name}", control_gerund(action))
}

pub fn controlled(action: RolloutAction, firmware_name: &str, status: &RolloutStatus) -> String {
    format!(
        "{} rollout {firmware_name}: {} at {}%.",
        action_verb(action).1,
        stage(status),
        status.percent
    )
}

/// A plan's rollout rules on one line: `stages 1,10,50,100 · verify 1 device (1h) · …`.
pub fn rollout_summary(rollout: Option<&fota_shared::api::RolloutSpec>) -> String {
    let Some(r) = rollout else {
        return "all eligible devices at once".to_string();
    };
    let mut parts = vec![format!("stages {}", stage_list(&r.stages))];
    if let Some(verify) = verify_summary(r) {
        parts.push(verify);
    }
    parts.push(rollout_rules(r));
    parts.join(" · ")
}

/// `1,10,50,100%`.
pub fn stage_list(stages: &[u32]) -> String {
    let list: Vec<String> = stages.iter().map(u32::to_string).collect();
    format!("{}%", list.join(","))
}

/// `verify 862012345678901 within 1h`, when the rollout has test devices.
pub fn verify_summary(r: &fota_shared::api::RolloutSpec) -> Option<String> {
    match r.verify_devices.as_slice() {
        [] => None,
        [one] => Some(format!(
            "verify {one} within {}",
            crate::form::format_duration(r.verify_timeout_s)
        )),
        many => Some(format!(
            "verify {} devices within {}",
            many.len(),
            crate::form::format_duration(r.verify_timeout_s)
        )),
    }
}

/// The health gate, pace and advance of a rollout on one short line:
/// `pause >20% failed (min 10) · 30/min · 01:00-05:00 UTC · manual advance`.
pub fn rollout_rules(r: &fota_shared::api::RolloutSpec) -> String {
    let percent = r.max_failure_ratio.ppm() as f64 / 10_000.0;
    let mut parts = vec![format!("pause >{percent}% failed (min {})", r.min_sample)];
    if let Some(rate) = r.max_per_minute {
        parts.push(format!("{rate}/min"));
    }
    if let Some([from, to]) = &r.window_utc {
        parts.push(format!("{from}-{to} UTC"));
    }
    parts.push(if r.auto_advance {
        format!(
            "auto-advance after {} soak",
            crate::form::format_duration(r.soak_s)
        )
    } else {
        "manual advance".to_string()
    });
    parts.join(" · ")
}

// Audit tab.
pub const AUDIT_TITLE: &str = " Audit log ";
pub const AUDIT_DETAIL: &str = " Change ";
pub const AUDIT_NONE: &str = "No audit entries match.";
pub const AUDIT_FILTER_HINT: &str =
    "/ filter: actor:NAME project:KEY since:TIME (server) · action:TEXT and other words (loaded)";
pub const AUDIT_NO_CHANGE: &str = "(no before/after recorded)";

pub fn audit_title(loaded: usize, shown: usize, more: bool, loading_more: bool) -> String {
    let count = if shown == loaded {
        loaded.to_string()
    } else {
        format!("{shown} of {loaded}")
    };
    match (more, loading_more) {
        (_, true) => format!(" Audit log ({count}, loading more…) "),
        (true, false) => format!(" Audit log ({count}+) "),
        (false, false) => format!(" Audit log ({count}) "),
    }
}

fn plural(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

/// An audit action without the parts every project route shares:
/// `POST projects/{key}/plans/{firmware_name}/pause` → `POST plans/{fw}/pause`.
pub fn short_action(action: &str) -> String {
    action
        .replacen("projects/{key}/", "", 1)
        .replace("{firmware_name}", "{fw}")
        .replace("{device_id}", "{id}")
}

// Form validation.
pub fn required(field: &str) -> String {
    format!("{field} is required.")
}

pub fn bad_range(text: &str) -> String {
    format!("IMEI range {text:?} is not LO-HI.")
}

pub fn bad_number(field: &str, text: &str) -> String {
    format!("{field}: {text:?} is not a whole number.")
}

pub fn bad_duration(field: &str, text: &str) -> String {
    format!("{field}: {text:?} is not a duration like 90, 30s, 15m, 2h or 1d.")
}

pub fn bad_stages(text: &str) -> String {
    format!("Stages: {text:?} must be percentages 1-100, each above the one before.")
}

pub fn bad_ratio(text: &str) -> String {
    format!("Max failure ratio: {text:?} must be between 0 and 1 (or 0% and 100%).")
}

pub fn bad_window(text: &str) -> String {
    format!("Window: {text:?} is not HH:MM-HH:MM.")
}

pub fn must_be_positive(field: &str) -> String {
    format!("{field} must be above 0.")
}

// Confirmation and help overlays.
pub const CONFIRM_TITLE: &str = " Confirm ";
pub const CONFIRM_HINT: &str = "y / Enter: yes    n / Esc: no";
pub const HELP_TITLE: &str = " Keys ";

/// Every key binding, grouped by where it applies; the help overlay renders exactly this table.
pub const KEYS: &[(&str, &[(&str, &str)])] = &[
    (
        "Everywhere",
        &[
            ("?", "show or hide this help"),
            ("q, Ctrl-C", "quit"),
            ("Tab, Shift-Tab", "next / previous tab"),
            ("1 … 5", "go to a tab by its number"),
            ("h l, ← →", "previous / next tab"),
            ("j k, ↓ ↑", "move the selection"),
            ("g G, Home End", "first / last row"),
            ("PgUp PgDn", "move by a page"),
            ("r", "refresh now"),
        ],
    ),
    (
        "Devices",
        &[
            ("/", "filter as you type"),
            ("Enter, Esc", "keep / clear the filter"),
            ("s", "cycle the rollout state filter"),
            ("u", "unban the selected device"),
            ("c", "confirm its held module job"),
            ("C", "confirm every listed held job"),
            ("n", "tell it to check now"),
        ],
    ),
    (
        "Firmware",
        &[("u", "upload a file"), ("d", "delete the selected image")],
    ),
    (
        "Rollouts",
        &[
            ("n", "new plan"),
            ("e, Enter", "edit the selected plan"),
            ("d", "delete the selected plan"),
            ("p u", "pause / resume its rollout"),
            ("a c", "advance / cancel its rollout"),
            ("N", "tell its devices to check now"),
        ],
    ),
    (
        "Audit",
        &[
            ("/", "filter: actor: project: action: since:"),
            ("Esc", "clear the filter"),
        ],
    ),
    (
        "Forms and prompts",
        &[
            ("Tab, ↓", "next field"),
            ("Shift-Tab, ↑", "previous field"),
            ("Space, ← →", "toggle a choice"),
            ("Enter", "save"),
            ("Esc", "cancel"),
            ("y / n", "answer a confirmation"),
        ],
    ),
];

/// The first 12 hex digits of a digest, enough to tell images apart on screen.
pub fn short_hash(hex: &str) -> &str {
    hex.get(..12).unwrap_or(hex)
}

/// `2026-11-22T00:17:26Z` shown as `2026-11-22 00:17:26`.
pub fn timestamp(rfc3339: &str) -> String {
    rfc3339.trim_end_matches('Z').replacen('T', " ", 1)
}

/// `2026-11-22T00:17:26Z` shown as `11-22 00:17`, for narrow columns.
pub fn short_timestamp(rfc3339: &str) -> String {
    let full = timestamp(rfc3339);
    full.get(5..16).map_or(full.clone(), str::to_string)
}

/// A JSON value on one line, strings without quotes, cut at 40 characters.
fn compact(value: &serde_json::Value) -> String {
    let text = match value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if text.chars().count() > 40 {
        format!("{}…", text.chars().take(39).collect::<String>())
    } else {
        text
    }
}

/// What an audit entry changed: `(field, before, after)` for each top-level field that differs,
/// `-` where it is absent. Values that are not objects compare as one field, `value`.
pub fn changes(
    before: Option<&serde_json::Value>,
    after: Option<&serde_json::Value>,
) -> Vec<(String, String, String)> {
    use serde_json::{Map, Value};
    let as_object = |v: Option<&Value>| -> Map<String, Value> {
        match v {
            Some(Value::Object(map)) => map.clone(),
            Some(other) => Map::from_iter([("value".to_string(), other.clone())]),
            None => Map::new(),
        }
    };
    let (before, after) = (as_object(before), as_object(after));
    let mut keys: Vec<&String> = before.keys().chain(after.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| before.get(*k) != after.get(*k))
        .map(|k| {
            let show = |v: Option<&Value>| v.map_or("-".to_string(), compact);
            (k.clone(), show(before.get(k)), show(after.get(k)))
        })
        .collect()
}

/// A byte count in binary units, `1.5 MiB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

pub fn yes_no(value: bool) -> &'static str {
    if value {
        "yes"
    } else {
        "no"
    }
}

/// Sending the admin token unencrypted.
pub fn warn_plain_http(host: &str) -> String {
    format!("the token is sent over plain http:// to {host}, readable by anyone on the way; use https://")
}

/// A config file (which may hold tokens) that others can read or change.
pub fn warn_config_readable(path: &str, mode: u32) -> String {
    format!("{path} is readable or writable by others (mode {mode:o}); run `chmod 600 {path}`")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_uses_binary_units() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(1023), "1023 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(3 * 1024 * 1024), "3.0 MiB");
    }

    #[test]
    fn counts_shorten_without_rounding_up() {
        for (n, want) in [
            (0, "0"),
            (9_999, "9999"),
            (10_000, "10.0k"),
            (41_667, "41.6k"),
            (99_999, "99.9k"),
            (600_000, "600k"),
            (999_999, "999k"),
            (1_000_000, "1.0M"),
            (12_345_678, "12.3M"),
            (99_999_999, "99.9M"),
            (250_000_000, "250M"),
        ] {
            assert_eq!(count(n), want, "{n}");
        }
    }

    #[test]
    fn timestamps_drop_the_t_and_z() {
        assert_eq!(timestamp("2026-11-22T00:17:26Z"), "2026-11-22 00:17:26");
    }

    #[test]
    fn short_hash_keeps_short_input() {
        assert_eq!(short_hash("abc"), "abc");
        assert_eq!(short_hash("0123456789abcdef"), "0123456789ab");
    }
}
