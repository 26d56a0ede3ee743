//! Every user-facing label and message of the terminal app and the CLI, so wording lives in one
//! place. Numbers, times and rollout figures inside messages are formatted by `crate::format`.

use crate::format::{count, short_hash, short_timestamp, stage};
use fota_shared::api::plans::RolloutStatus;
use fota_shared::model::rollout::RolloutAction;

mod events;
mod ota;
mod trust;
pub use events::*;
pub use ota::*;
pub use trust::*;

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
pub const WHAT_PROJECT: &str = "project";
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
pub fn fleet_latest_title(seen: &fota_shared::api::fleet::SeenCounts) -> String {
    format!(
        " Latest seen · {} in the last hour · {} in 24h · {} in 7 days ",
        count(seen.hour),
        count(seen.day),
        count(seen.week)
    )
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
pub const DEVICES_KEYS: &str = "s state  u unban  x forget  m move  c/C confirm  n check now";
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
/// A rollout's devices that reported the target without a whole image from it (not believed).
pub const REPORTED_WITHOUT_DELIVERY: &str =
    "reported the target without a whole image from this rollout: not counted as succeeded";
pub const NEEDS_CONFIRM_HINT: &str = "module OTA: hold each job until confirmed";
pub const STAGES_HINT: &str = "1,10,50,100; empty: everyone at once";
pub const RATIO_HINT: &str = "0.2 or 20%; empty: 0.2";
pub const MIN_SAMPLE_HINT: &str = "empty: 10";
pub const RATE_HINT: &str = "first offers; empty: no limit";
pub const WINDOW_HINT: &str = "HH:MM-HH:MM; empty: always";
pub const DURATION_HINT: &str = "30s, 15m, 2h, 1d";
pub const VERIFY_TIMEOUT_HINT: &str = "empty: 1d";
pub const NEEDS_STAGES: &str = "Rollout settings need stages.";
pub const ALL_AT_ONCE: &str = "all at once";
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

/// Sending the admin token unencrypted.
pub fn warn_plain_http(host: &str) -> String {
    format!("the token is sent over plain http:// to {host}, readable by anyone on the way; use https://")
}

/// A config file (which may hold tokens) that others can read or change.
pub fn warn_config_readable(path: &str, mode: u32) -> String {
    format!("{path} is readable or writable by others (mode {mode:o}); run `chmod 600 {path}`")
}

// Project switcher and device moves.
pub const PICK_PROJECT_TITLE: &str = " Switch project ";
pub const PICK_NONE: &str = "No other project.";
pub const PICK_HINT: &str = "↓ ↑ choose  Enter pick  Esc cancel";

pub fn pick_move_title(id: &str) -> String {
    format!(" Move {id} to ")
}

pub fn switched_project(project: &str) -> String {
    format!("Showing project {project}.")
}

pub fn confirm_forget(id: &str) -> String {
    format!("Forget device {id}? Its binding, registry row and history are dropped; its next check binds it again as a new device.")
}

pub fn forgetting(id: &str) -> String {
    format!("Forgetting {id}")
}

pub fn forgot(id: &str) -> String {
    format!("Forgot device {id}.")
}

pub fn confirm_move(id: &str, from: &str, to: &str) -> String {
    format!("Move device {id} from project {from} to {to}, with its history? Its next check is answered by {to}'s plans.")
}

pub fn moving(id: &str, to: &str) -> String {
    format!("Moving {id} to {to}")
}

pub fn moved(id: &str, to: &str) -> String {
    format!("Moved device {id} to project {to}.")
}

// `fota login`.
pub const TOKEN_PROMPT: &str = "token (not shown): ";
pub const LOGIN_NO_TOKEN: &str = "no token: set FOTA_TOKEN or type it on stdin";
pub const NO_CONFIG_DIR: &str = "no config directory: set XDG_CONFIG_HOME or HOME";

pub fn logged_in(profile: &str, url: &str, path: &str) -> String {
    format!("saved profile {profile} ({url}) to {path}")
}

/// Why devices at a version would get no package (`plan preview`, the plan form).
pub fn no_package(none: fota_shared::api::preview::NoPackage) -> &'static str {
    use fota_shared::api::preview::NoPackage;
    match none {
        NoPackage::UpToDate => "nothing: up to date (60)",
        NoPackage::NotASource => "nothing: not a source version (66)",
        NoPackage::WrongSource => "nothing: no package for this version (66)",
        NoPackage::UnknownVersion => "nothing: version unknown",
    }
}

/// The Rollouts screen's offers line for a plan with `"deltas": false`.
pub const FULL_IMAGE_ONLY: &str = "full image only";

pub fn previewing_plan(firmware_name: &str) -> String {
    format!("Previewing plan {firmware_name}")
}

pub fn previewed_plan(firmware_name: &str) -> String {
    format!("Preview of plan {firmware_name} shown in the form: Enter saves it, any edit previews again.")
}

/// The plan form's preview: who the plan would reach, with which package, and who not.
pub fn preview_note(p: &fota_shared::api::preview::PlanPreview) -> String {
    let packages: Vec<String> = p
        .packages
        .iter()
        .map(|k| {
            format!(
                "{} {} × {}",
                crate::format::package_kind(k.kind, k.source_version.as_deref()),
                crate::format::bytes(k.size),
                k.devices
            )
        })
        .collect();
    let n = &p.none;
    format!(
        "Preview: {} devices, {} in all · {}\nNothing for: {} up to date · {} wrong source · {} not a source · {} outside the set · {} banned. Enter saves.",
        p.devices,
        crate::format::bytes(p.bytes),
        packages.join(" · "),
        n.up_to_date,
        n.wrong_source,
        n.not_a_source,
        n.not_in_device_set,
        n.banned
    )
}
