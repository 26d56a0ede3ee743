//! Formatting helpers: counts, byte sizes, times, hashes, durations, ratios and a rollout's
//! figures as short text for tables and panels. Pure functions of their arguments; wording of
//! labels and messages is in `crate::strings`.

use fota_shared::api::catalog::Firmware;
use fota_shared::api::plans::RolloutStatus;
use fota_shared::model::plan::{Delivery, ImageKind};
use fota_shared::model::rollout::{Ratio, RolloutCounts, RolloutPhase, RolloutSpec};

/// A device set of no ids and no ranges: every device.
pub const ALL_DEVICES: &str = "all";
/// No `from_versions`: any version.
pub const ANY_VERSION: &str = "any";

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

/// Devices whose report of the target the rollout did not believe (no whole image from it),
/// trusted or not.
pub fn reported_without_delivery(status: &RolloutStatus) -> u64 {
    status.totals.reported_without_delivery + status.unverified.reported_without_delivery
}

/// A plan's rollout rules on one line: `stages 1,10,50,100 · verify 1 device (1h) · …`.
pub fn rollout_summary(rollout: Option<&RolloutSpec>) -> String {
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
pub fn verify_summary(r: &RolloutSpec) -> Option<String> {
    match r.verify_devices.as_slice() {
        [] => None,
        [one] => Some(format!(
            "verify {one} within {}",
            format_duration(r.verify_timeout_s)
        )),
        many => Some(format!(
            "verify {} devices within {}",
            many.len(),
            format_duration(r.verify_timeout_s)
        )),
    }
}

/// The health gate, pace and advance of a rollout on one short line:
/// `pause >20% failed (min 10) · 30/min · 01:00-05:00 UTC · manual advance`.
pub fn rollout_rules(r: &RolloutSpec) -> String {
    let percent = r.max_failure_ratio.ppm() as f64 / 10_000.0;
    let mut parts = vec![format!("pause >{percent}% failed (min {})", r.min_sample)];
    if let Some(rate) = r.max_per_minute {
        parts.push(format!("{rate}/min"));
    }
    if let Some([from, to]) = &r.window_utc {
        parts.push(format!("{from}-{to} UTC"));
    }
    parts.push(if r.auto_advance {
        format!("auto-advance after {} soak", format_duration(r.soak_s))
    } else {
        "manual advance".to_string()
    });
    parts.join(" · ")
}

pub fn plural(n: usize, what: &str) -> String {
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

/// `text` in at most `width` characters: cut with `…` when longer.
pub fn cut(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let mut kept: String = text.chars().take(width.saturating_sub(1)).collect();
    if width > 0 {
        kept.push('…');
    }
    kept
}

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

/// The largest whole unit: 3600 → `1h`, 90 → `90s`.
pub fn format_duration(secs: u64) -> String {
    match secs {
        0 => "0s".to_string(),
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// A ratio as a decimal fraction, `0.2`.
pub fn format_ratio(ratio: Ratio) -> String {
    ratio.as_f64().to_string()
}

/// `full`, `script`, or `delta←1.1.0` with the version a delta applies to.
pub fn kind_text(f: &Firmware) -> String {
    package_kind(f.kind, f.source_version.as_deref())
}

/// A package's kind, a delta with its source version: `full`, `delta←1.0.0`.
pub fn package_kind(kind: ImageKind, source_version: Option<&str>) -> String {
    match (kind, source_version) {
        (ImageKind::Delta, Some(source)) => format!("delta←{source}"),
        (kind, _) => kind.as_str().to_string(),
    }
}

pub fn delivery_name(delivery: Delivery) -> &'static str {
    match delivery {
        Delivery::Stream => "stream",
        Delivery::Redirect => "redirect",
    }
}

/// A plan's `from_versions` on one line, or `any`.
pub fn from_versions(versions: &[String], separator: &str) -> String {
    if versions.is_empty() {
        ANY_VERSION.to_string()
    } else {
        versions.join(separator)
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
