//! Labels and messages of registered fleets: the project's device policy (the dashboard's status
//! bar and project form), the rollout's trust basis (the Rollouts tab and `fota plan status`) and
//! `fota device import`.

use fota_shared::api::plans::TrustBasis;
use fota_shared::model::project::DevicePolicy;

use crate::format::plural;
use crate::id_file::Cell;

// The device policy.
pub const POLICY_NAMES: &[&str] = &["open", "registered", "signed"];

/// The status bar's word on the shown project: `policy registered`.
pub fn policy_status(policy: DevicePolicy) -> String {
    format!("policy {}", policy.as_str())
}

pub const FIELD_PROJECT_NAME: &str = "Name";
pub const FIELD_BAN_AFTER: &str = "Ban after";
pub const FIELD_DEVICE_POLICY: &str = "Device policy";
pub const HINT_BAN_AFTER: &str = "deliveries of one target, 1-1000";
pub const HINT_DEVICE_POLICY: &str = "which ids are served; confirmed before saving";

pub fn project_form_title(key: &str) -> String {
    format!(" Project {key} ")
}

pub const FIELD_DAILY_BYTES: &str = "Daily budget";
pub const HINT_DAILY_BYTES: &str = "image bytes per device per UTC day (74 past it); empty: none";

pub fn bad_daily_bytes(text: &str) -> String {
    format!(
        "Daily bytes per device must be a whole number of bytes, or empty for none, not {text:?}."
    )
}

pub fn bad_ban_after(text: &str) -> String {
    format!("Ban after must be a whole number from 1 to 1000, not {text:?}.")
}

pub fn project_not_loaded(key: &str) -> String {
    format!("Project {key} is not loaded yet; try again in a moment.")
}

/// Asks before a policy change; says what the devices will notice, and when.
pub fn confirm_policy(key: &str, from: DevicePolicy, to: DevicePolicy) -> String {
    let effect = match to {
        DevicePolicy::Open => {
            "Any id is served within 60 s; rollouts still trust only registered, signed and listed ids."
        }
        DevicePolicy::Registered => {
            "Ids nobody registered get code 72 within 60 s: register the fleet first (fota device import)."
        }
        DevicePolicy::Signed => {
            "Unsigned checks get code 73 within 60 s, registered devices on old update.lua too."
        }
    };
    format!(
        "Set project {key}'s device policy to {} (from {})? {effect}",
        to.as_str(),
        from.as_str()
    )
}

pub fn saving_project(key: &str) -> String {
    format!("Saving project {key}")
}

pub fn saved_project(key: &str, policy: DevicePolicy) -> String {
    format!(
        "Saved project {key}: device policy {} (every isolate within 60 s).",
        policy.as_str()
    )
}

// The rollout's trust basis.
pub const TRUST_LABEL: &str = "trust";

/// `open policy · trusts 40 devices · 3 unverified, counted apart`: the same words as the
/// Rollouts tab's trust line.
pub fn trust_summary(trust: &TrustBasis) -> String {
    format!(
        "{} · {} · {}",
        policy_name(trust.device_policy),
        trusts(trust.trusted),
        unverified(trust.unverified)
    )
}

pub fn policy_name(policy: DevicePolicy) -> String {
    format!("{} policy", policy.as_str())
}

pub fn trusts(n: u64) -> String {
    format!("trusts {}", plural(n as usize, "device"))
}

pub fn unverified(n: u64) -> String {
    format!("{n} unverified, counted apart")
}

// `fota device import`.
/// Invalid ids listed on stderr before `… and N more`.
pub const INVALID_SHOWN: usize = 20;

pub fn header_skipped(header: &Cell) -> String {
    format!(
        "line {} read as a header and skipped (first cell {:?})",
        header.line, header.text
    )
}

pub fn invalid_id(invalid: &Cell) -> String {
    format!(
        "line {}: {:?} is not a device id (1-64 letters, digits, : - _ .)",
        invalid.line, invalid.text
    )
}

pub fn more_invalid(n: usize) -> String {
    format!("… and {n} more invalid ids")
}

pub fn invalid_refused(n: usize) -> String {
    format!(
        "{} not valid (listed above); nothing was sent: fix the file, or pass --skip-invalid to register the others",
        plural(n, "id")
    )
}

pub fn invalid_skipped(n: usize) -> String {
    format!("{} not valid, skipped (--skip-invalid)", plural(n, "id"))
}

pub fn duplicates(n: usize) -> String {
    format!("{} listed more than once, registered once", plural(n, "id"))
}

pub fn no_ids(file: &str) -> String {
    format!("{file} lists no device id")
}

fn batches(n: usize) -> String {
    match n {
        1 => "1 batch".to_string(),
        n => format!("{n} batches"),
    }
}

pub fn import_start(ids: usize, batch_count: usize, protocol: &str) -> String {
    format!(
        "registering {} as {protocol} devices in {}",
        plural(ids, "id"),
        batches(batch_count)
    )
}

/// One line per batch when stderr is not a terminal (no bar).
pub fn batch_done(
    (batch, batch_count): (usize, usize),
    issued: usize,
    kept: usize,
    (sent, ids): (usize, usize),
) -> String {
    format!("batch {batch}/{batch_count}: {issued} registered, {kept} already registered ({sent}/{ids} ids)")
}

pub fn batch_retry(batch: usize, secs: u64, reason: &str) -> String {
    format!("batch {batch}: {reason}; sending it again in {secs} s")
}

/// The secrets of a batch the server registered could not be written (stdout closed, disk full).
pub fn secrets_lost(
    batch: usize,
    (first, last): (&str, &str),
    reason: &str,
    protocol: &str,
) -> String {
    format!("import stopped: {reason}. Batch {batch} ({first} … {last}) is registered but its secrets are lost: `fota device provision ID --protocol {protocol} --rekey` issues new ones.")
}

/// The bar's message after a batch: `batch 3 · 27 ids/s · about 58 min left`.
pub fn batch_pace(batch: usize, ids_per_s: f64, left_s: f64) -> String {
    let left = match left_s.round() as u64 {
        0 => "done".to_string(),
        s @ 1..=90 => format!("about {s} s left"),
        s => format!("about {} min left", s.div_ceil(60)),
    };
    format!("batch {batch} · {ids_per_s:.0} ids/s · {left}")
}

pub fn batch_retry_short(batch: usize) -> String {
    format!("batch {batch} (sent again after a 503)")
}

pub fn out_exists(path: &str) -> String {
    format!("{path} exists: --out never overwrites a file (secrets in it would be lost)")
}

pub fn import_done(issued: usize, kept: usize, batch_count: usize) -> String {
    format!(
        "registered {} in {}; {kept} already registered, skipped",
        plural(issued, "id"),
        batches(batch_count)
    )
}

pub fn already_registered(kept: usize, protocol: &str) -> String {
    format!("{} registered already: secret kept, none shown (--json lists them; `fota device provision ID --protocol {protocol} --rekey` issues a new one)", plural(kept, "id"))
}

pub fn secrets_written(path: &str, n: usize) -> String {
    format!("{} written to {path} (mode 0600)", plural(n, "secret"))
}

/// The message of an import a batch failed in.
pub fn import_stopped(
    (batch, batch_count): (usize, usize),
    registered: usize,
    protocol: &str,
    reason: &str,
) -> String {
    format!(
        "import stopped: batch {batch} of {batch_count} failed: {reason}\n{} registered by the batches before it (their secrets are out already). Fix the cause and run the same command again: ids registered already are skipped. A batch that got no answer may have been registered without its secrets shown: a rerun lists such ids as already registered, and `fota device provision ID --protocol {protocol} --rekey` issues them new secrets.",
        plural(registered, "id")
    )
}
