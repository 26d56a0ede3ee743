//! Every user-facing string of the terminal app and the CLI, so wording lives in one place.

/// The tab titles, in tab order.
pub const TAB_FLEET: &str = "Fleet";
pub const TAB_DEVICES: &str = "Devices";
pub const TAB_FIRMWARE: &str = "Firmware";
pub const TAB_ROLLOUTS: &str = "Rollouts";

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
pub const WHAT_DEVICES: &str = "devices";
pub const WHAT_FIRMWARE: &str = "firmware";
pub const WHAT_PLANS: &str = "plans";

pub fn loading_failed(what: &str) -> String {
    format!("Loading {what}")
}

// Fleet tab.
pub const FLEET_VERSIONS: &str = " Devices per version ";
pub const FLEET_PLANS: &str = " Active plans ";
pub const FLEET_LATEST: &str = " Latest seen ";
pub const FLEET_NO_DEVICES: &str = "No devices have checked in yet.";
pub const FLEET_NO_PLANS: &str = "No plans. Create one on the Rollouts tab.";
pub const NO_VERSION: &str = "(none)";

pub fn fleet_truncated(count: usize) -> String {
    format!(" Devices per version (first {count}) ")
}

pub fn plan_gauge_label(on_target: usize, seen: usize) -> String {
    format!("{on_target}/{seen} on target")
}

// Devices tab.
pub const DEVICES_DETAIL: &str = " Device ";
pub const DEVICES_NONE: &str = "No devices match.";
pub const DEVICES_NO_SELECTION: &str = "Select a device to see its details.";
pub const FILTER_HINT: &str = "/ filter";
pub const FILTER_PROMPT: &str = "Filter: ";

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
pub const PLAN_DETAIL: &str = " Plan ";
pub const PLANS_NONE: &str = "No plans yet. Press n to create one.";
pub const PLAN_FORM_NEW: &str = " New plan ";
pub const PLAN_FORM_EDIT: &str = " Edit plan ";
pub const FIELD_TARGET: &str = "Target version";
pub const FIELD_FROM: &str = "From versions";
pub const FIELD_DEVICES: &str = "Devices";
pub const FIELD_IMEI_RANGES: &str = "IMEI ranges";
pub const FIELD_DELIVERY: &str = "Delivery";
pub const FIELD_DOWNGRADE: &str = "Allow downgrade";
pub const ALL_DEVICES: &str = "all";
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
        (d, 0) => format!("{d} ids"),
        (0, r) => format!("{r} ranges"),
        (d, r) => format!("{d} ids + {r} ranges"),
    }
}

// Form validation.
pub fn required(field: &str) -> String {
    format!("{field} is required.")
}

pub fn bad_range(text: &str) -> String {
    format!("IMEI range {text:?} is not LO-HI.")
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
            ("1 2 3 4", "go to a tab by its number"),
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
            ("u", "unban the selected device"),
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
    fn timestamps_drop_the_t_and_z() {
        assert_eq!(timestamp("2026-11-22T00:17:26Z"), "2026-11-22 00:17:26");
    }

    #[test]
    fn short_hash_keeps_short_input() {
        assert_eq!(short_hash("abc"), "abc");
        assert_eq!(short_hash("0123456789abcdef"), "0123456789ab");
    }
}
