//! The query strings of the admin API, one struct per route that takes one: the TUI serialises
//! them (reqwest's `.query()`: a `None` filter is left out, enums go as the API spells them) and
//! the edge reads them back with `from_pairs`, which checks every value and names what it
//! refuses with a stable code. An empty value is the same as an absent one (a filter box left
//! empty sends one), except for the devices' `limit`, which must be a number when given.

use crate::leaf::ids::{valid_device_id, valid_name};
use crate::leaf::time::parse_rfc3339;
use crate::leaf::version::Version;
use crate::model::job::JobPhase;
use crate::model::plan::{ImageKind, DEFAULT_MODULE};
use crate::model::rollout::DevicePhase;
use serde::Serialize;
use std::collections::HashMap;

/// A query parameter refused: a stable machine code (`invalid_limit`) and a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct QueryError {
    pub code: &'static str,
    pub message: String,
}

fn refuse(code: &'static str, message: impl Into<String>) -> QueryError {
    QueryError {
        code,
        message: message.into(),
    }
}

/// Decoded `(name, value)` pairs as a map: the last of a repeated name wins.
fn last_wins(pairs: impl IntoIterator<Item = (String, String)>) -> HashMap<String, String> {
    pairs.into_iter().collect()
}

/// A parameter with a non-empty value.
fn given(params: &HashMap<String, String>, name: &str) -> Option<String> {
    params.get(name).filter(|v| !v.is_empty()).cloned()
}

/// Devices per page when `limit` is absent.
pub const DEFAULT_DEVICE_LIMIT: u32 = 100;
/// Most devices per page.
pub const MAX_DEVICE_LIMIT: u32 = 1000;
/// Audit entries per page when `limit` is absent.
pub const DEFAULT_AUDIT_LIMIT: u32 = 100;
/// Most audit entries per page.
pub const MAX_AUDIT_LIMIT: u32 = 500;
/// Longest audit text filter, in bytes.
pub const MAX_FILTER_LEN: usize = 256;
/// Longest firmware notes, in characters.
pub const MAX_NOTES_CHARS: usize = 2000;
/// Longest module name, in bytes.
pub const MAX_MODULE_LEN: usize = 64;
/// Hours of activity when `hours` is absent.
pub const DEFAULT_ACTIVITY_HOURS: u32 = 24;
/// Most hours of activity.
pub const MAX_ACTIVITY_HOURS: u32 = 720;

/// Filters of `GET /devices`; `None` fields are left out of the query string.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DeviceQuery {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub q: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub firmware_name: Option<String>,
    /// The device's job in its rollout: idle, offered, succeeded, failed, banned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<DevicePhase>,
    /// RFC 3339: only devices seen at or after it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seen_since: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub banned: Option<bool>,
    /// `true`: only devices that reached their project's daily data budget today (UTC).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub over_budget: Option<bool>,
}

/// Filters of `GET /audit`; `None` fields are left out of the query string.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AuditQuery {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// `GET /events`: the events after `after` (an event id; absent: from the oldest kept), waiting
/// up to `wait` seconds for one when there is none yet.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct EventQuery {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wait: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

impl EventQuery {
    pub fn from_pairs(
        pairs: impl IntoIterator<Item = (String, String)>,
    ) -> Result<EventQuery, QueryError> {
        use crate::api::events::{DEFAULT_EVENT_LIMIT, MAX_EVENT_LIMIT, MAX_WAIT_S};
        let params = last_wins(pairs);
        let number = |name: &'static str, code: &'static str| -> Result<Option<u64>, QueryError> {
            given(&params, name)
                .map(|v| {
                    v.parse::<u64>().map_err(|_| {
                        refuse(code, format!("{name} must be a whole number, not {v:?}"))
                    })
                })
                .transpose()
        };
        let after = number("after", "invalid_cursor")?;
        let wait = number("wait", "invalid_wait")?;
        if wait.is_some_and(|w| w > u64::from(MAX_WAIT_S)) {
            return Err(refuse(
                "invalid_wait",
                format!("wait is at most {MAX_WAIT_S} seconds"),
            ));
        }
        let limit = number("limit", "invalid_limit")?.unwrap_or(u64::from(DEFAULT_EVENT_LIMIT));
        if limit == 0 || limit > u64::from(MAX_EVENT_LIMIT) {
            return Err(refuse(
                "invalid_limit",
                format!("limit must be 1..={MAX_EVENT_LIMIT}"),
            ));
        }
        Ok(EventQuery {
            after,
            wait: wait.map(|w| w as u32),
            limit: Some(limit as u32),
        })
    }
}

/// Which package of a version `GET`/`DELETE .../firmware/{name}/{version}` means: the delta
/// for `source_version`, or (absent) the whole image.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PackageQuery {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_version: Option<String>,
}

impl PackageQuery {
    pub fn from_pairs(
        pairs: impl IntoIterator<Item = (String, String)>,
    ) -> Result<PackageQuery, QueryError> {
        let params = last_wins(pairs);
        let source_version = given(&params, "source_version");
        if let Some(v) = &source_version {
            Version::parse(v)
                .map_err(|e| refuse("invalid_version", format!("source_version: {e}")))?;
        }
        Ok(PackageQuery { source_version })
    }

    /// The package's slot in its version (`crate::rules::package::slot`).
    pub fn slot(&self) -> String {
        match &self.source_version {
            Some(v) => crate::rules::package::slot(ImageKind::Delta, Some(v)),
            None => String::new(),
        }
    }
}

/// The optional details of an upload, sent as its query string.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct UploadDetails {
    /// `None` means the server's default module.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub module: Option<String>,
    /// Left out when it is the server's default, a full image.
    #[serde(skip_serializing_if = "is_default_kind")]
    pub kind: ImageKind,
    /// The version a delta applies to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
}

fn is_default_kind(kind: &ImageKind) -> bool {
    *kind == ImageKind::default()
}

impl DeviceQuery {
    pub fn from_pairs(
        pairs: impl IntoIterator<Item = (String, String)>,
    ) -> Result<DeviceQuery, QueryError> {
        let params = last_wins(pairs);
        let limit = match params.get("limit") {
            None => None,
            Some(l) => Some(
                l.parse::<u32>()
                    .ok()
                    .filter(|l| (1..=MAX_DEVICE_LIMIT).contains(l))
                    .ok_or_else(|| {
                        refuse(
                            "invalid_limit",
                            format!("limit must be 1-{MAX_DEVICE_LIMIT}"),
                        )
                    })?,
            ),
        };
        let banned = match params.get("banned").map(String::as_str) {
            None | Some("") => None,
            Some("true") => Some(true),
            Some("false") => Some(false),
            Some(_) => return Err(refuse("invalid_banned", "banned must be true or false")),
        };
        let cursor = given(&params, "cursor");
        if cursor.as_deref().is_some_and(|c| !valid_device_id(c)) {
            return Err(refuse(
                "invalid_cursor",
                "cursor is not one this API gave out",
            ));
        }
        let state = match given(&params, "state") {
            None => None,
            Some(s) => Some(DevicePhase::parse(&s).ok_or_else(|| {
                refuse(
                    "invalid_state",
                    "state must be idle, offered, succeeded, failed or banned",
                )
            })?),
        };
        let seen_since = given(&params, "seen_since");
        if seen_since
            .as_deref()
            .is_some_and(|t| parse_rfc3339(t).is_none())
        {
            return Err(refuse(
                "invalid_seen_since",
                "seen_since must be an RFC 3339 time",
            ));
        }
        let over_budget = match params.get("over_budget").map(String::as_str) {
            None | Some("") | Some("false") => None,
            Some("true") => Some(true),
            Some(_) => {
                return Err(refuse(
                    "invalid_over_budget",
                    "over_budget must be true or false",
                ))
            }
        };
        let (q, version, firmware_name) = (
            given(&params, "q"),
            given(&params, "version"),
            given(&params, "firmware_name"),
        );
        Ok(DeviceQuery {
            limit,
            cursor,
            q,
            version,
            firmware_name,
            state,
            seen_since,
            banned,
            over_budget,
        })
    }

    /// `seen_since` in milliseconds (checked by [`DeviceQuery::from_pairs`]).
    pub fn seen_since_ms(&self) -> Option<i64> {
        self.seen_since.as_deref().and_then(parse_rfc3339)
    }
}

impl AuditQuery {
    /// Parameters are read in order; unknown ones are ignored, as on every other list.
    pub fn from_pairs(
        pairs: impl IntoIterator<Item = (String, String)>,
    ) -> Result<AuditQuery, QueryError> {
        let mut q = AuditQuery::default();
        for (key, value) in pairs {
            if value.is_empty() {
                continue;
            }
            let text = |code: &'static str| {
                if value.len() > MAX_FILTER_LEN {
                    Err(refuse(
                        code,
                        format!("{key} is longer than {MAX_FILTER_LEN} bytes"),
                    ))
                } else {
                    Ok(Some(value.clone()))
                }
            };
            match key.as_str() {
                "project" => q.project = text("invalid_project")?,
                "actor" => q.actor = text("invalid_actor")?,
                "action" => q.action = text("invalid_action")?,
                "since" => {
                    parse_rfc3339(&value)
                        .ok_or_else(|| refuse("invalid_since", "since must be an RFC 3339 time"))?;
                    q.since = Some(value);
                }
                "cursor" => {
                    value
                        .parse::<i64>()
                        .ok()
                        .filter(|&id| id > 0)
                        .ok_or_else(|| {
                            refuse("invalid_cursor", "cursor is not one this API gave out")
                        })?;
                    q.cursor = Some(value);
                }
                "limit" => {
                    let limit = value
                        .parse::<u32>()
                        .ok()
                        .filter(|l| (1..=MAX_AUDIT_LIMIT).contains(l));
                    q.limit = Some(limit.ok_or_else(|| {
                        refuse(
                            "invalid_limit",
                            format!("limit must be 1-{MAX_AUDIT_LIMIT}"),
                        )
                    })?);
                }
                _ => {}
            }
        }
        Ok(q)
    }

    /// `since` in milliseconds (checked by [`AuditQuery::from_pairs`]).
    pub fn since_ms(&self) -> Option<i64> {
        self.since.as_deref().and_then(parse_rfc3339)
    }

    /// The cursor as the entry id it names (checked by [`AuditQuery::from_pairs`]).
    pub fn before_id(&self) -> Option<i64> {
        self.cursor.as_deref().and_then(|c| c.parse().ok())
    }
}

impl UploadDetails {
    pub fn from_pairs(
        pairs: impl IntoIterator<Item = (String, String)>,
    ) -> Result<UploadDetails, QueryError> {
        let params = last_wins(pairs);
        let module = given(&params, "module").unwrap_or_else(|| DEFAULT_MODULE.into());
        if !valid_name(&module) || module.len() > MAX_MODULE_LEN {
            return Err(refuse(
                "invalid_module",
                format!("module must be 1-{MAX_MODULE_LEN} printable characters"),
            ));
        }
        let kind = match given(&params, "kind") {
            None => ImageKind::Full,
            Some(k) => ImageKind::parse(&k)
                .ok_or_else(|| refuse("invalid_kind", "kind must be script, full or delta"))?,
        };
        let source_version = given(&params, "source_version");
        match (kind, &source_version) {
            (ImageKind::Delta, None) => {
                return Err(refuse("invalid_kind", "a delta needs source_version"))
            }
            (ImageKind::Delta, Some(v)) => {
                Version::parse(v)
                    .map_err(|e| refuse("invalid_version", format!("source_version: {e}")))?;
            }
            (_, Some(_)) => {
                return Err(refuse("invalid_kind", "source_version is only for a delta"))
            }
            _ => {}
        }
        let notes = given(&params, "notes");
        if notes
            .as_ref()
            .is_some_and(|n| n.chars().count() > MAX_NOTES_CHARS)
        {
            return Err(refuse(
                "invalid_notes",
                format!("notes are limited to {MAX_NOTES_CHARS} characters"),
            ));
        }
        Ok(UploadDetails {
            module: Some(module),
            kind,
            source_version,
            notes,
        })
    }
}

/// Filter of `GET /jobs`: all jobs, or those in one phase.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct JobsQuery {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phase: Option<JobPhase>,
}

impl JobsQuery {
    pub fn from_pairs(
        pairs: impl IntoIterator<Item = (String, String)>,
    ) -> Result<JobsQuery, QueryError> {
        let phase = match given(&last_wins(pairs), "phase") {
            None => None,
            Some(p) => Some(JobPhase::parse(&p).ok_or_else(|| {
                refuse(
                    "invalid_phase",
                    "phase must be awaiting_confirmation or in_progress",
                )
            })?),
        };
        Ok(JobsQuery { phase })
    }
}

/// `GET /activity`: how many hours back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ActivityQuery {
    pub hours: u32,
}

impl ActivityQuery {
    pub fn from_pairs(
        pairs: impl IntoIterator<Item = (String, String)>,
    ) -> Result<ActivityQuery, QueryError> {
        let hours = match last_wins(pairs).remove("hours") {
            None => DEFAULT_ACTIVITY_HOURS,
            Some(h) => h
                .parse::<u32>()
                .ok()
                .filter(|h| (1..=MAX_ACTIVITY_HOURS).contains(h))
                .ok_or_else(|| {
                    refuse(
                        "invalid_hours",
                        format!("hours must be 1-{MAX_ACTIVITY_HOURS}"),
                    )
                })?,
        };
        Ok(ActivityQuery { hours })
    }
}

/// `GET /metrics` (a project's Prometheus metrics): after how long without a check a device is
/// silent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MetricsQuery {
    pub silent_after: u32,
}

impl MetricsQuery {
    pub fn from_pairs(
        pairs: impl IntoIterator<Item = (String, String)>,
    ) -> Result<MetricsQuery, QueryError> {
        use crate::api::metrics::{DEFAULT_SILENT_AFTER_S, MAX_SILENT_AFTER_S, MIN_SILENT_AFTER_S};
        let silent_after = match given(&last_wins(pairs), "silent_after") {
            None => DEFAULT_SILENT_AFTER_S,
            Some(s) => s
                .parse::<u32>()
                .ok()
                .filter(|s| (MIN_SILENT_AFTER_S..=MAX_SILENT_AFTER_S).contains(s))
                .ok_or_else(|| {
                    refuse(
                        "invalid_silent_after",
                        format!(
                            "silent_after must be {MIN_SILENT_AFTER_S}-{MAX_SILENT_AFTER_S} seconds"
                        ),
                    )
                })?,
        };
        Ok(MetricsQuery { silent_after })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(query: &str) -> Vec<(String, String)> {
        crate::rules::luat::query_pairs(query)
    }

    /// What the edge reads from a query string: the parsed value's debug form, or the refusal's code.
    #[track_caller]
    fn check<T: std::fmt::Debug>(
        parse: fn(Vec<(String, String)>) -> Result<T, QueryError>,
        query: &str,
        expect: &str,
    ) {
        let got = match parse(pairs(query)) {
            Ok(v) => format!("{v:?}"),
            Err(e) => e.code.to_string(),
        };
        assert!(got.contains(expect), "{query:?}: {got}");
    }

    #[test]
    fn device_filters() {
        let devices = DeviceQuery::from_pairs;
        check(devices, "", "limit: None, cursor: None, q: None");
        check(devices, "limit=1000&banned=true", "limit: Some(1000)");
        check(devices, "banned=", "banned: None");
        check(devices, "over_budget=true", "over_budget: Some(true)");
        check(devices, "over_budget=false", "over_budget: None");
        check(devices, "over_budget=yes", "invalid_over_budget");
        check(
            devices,
            "state=failed&q=86",
            "q: Some(\"86\"), version: None, firmware_name: None, state: Some(Failed)",
        );
        check(
            devices,
            "seen_since=2026-11-01T00:00:00Z",
            "seen_since: Some(\"2026-11-01T00:00:00Z\")",
        );
        check(devices, "limit=", "invalid_limit");
        check(devices, "limit=0", "invalid_limit");
        check(devices, "limit=1001", "invalid_limit");
        check(devices, "banned=yes", "invalid_banned");
        check(devices, "cursor=a%2Fb", "invalid_cursor");
        check(devices, "state=gone", "invalid_state");
        check(devices, "seen_since=yesterday", "invalid_seen_since");
        let q = DeviceQuery::from_pairs(pairs("seen_since=1970-01-01T00:00:01Z")).unwrap();
        assert_eq!(q.seen_since_ms(), Some(1000));
    }

    #[test]
    fn audit_filters() {
        let audit = AuditQuery::from_pairs;
        check(audit, "actor=ops&cursor=41&limit=50&other=1&since=", "actor: Some(\"ops\"), action: None, since: None, cursor: Some(\"41\"), limit: Some(50)");
        check(
            audit,
            &format!("project={}", "p".repeat(257)),
            "invalid_project",
        );
        check(audit, "since=never", "invalid_since");
        check(audit, "cursor=0", "invalid_cursor");
        check(audit, "limit=501", "invalid_limit");
        let q = AuditQuery::from_pairs(pairs("cursor=41&since=1970-01-01T00:00:02Z")).unwrap();
        assert_eq!((q.before_id(), q.since_ms()), (Some(41), Some(2000)));
    }

    #[test]
    fn package_of_a_version() {
        let package = PackageQuery::from_pairs;
        check(package, "", "source_version: None");
        check(package, "source_version=", "source_version: None");
        check(
            package,
            "source_version=1.0",
            "source_version: Some(\"1.0\")",
        );
        check(package, "source_version=abc", "invalid_version");
        let slot = |q: &str| PackageQuery::from_pairs(pairs(q)).unwrap().slot();
        assert_eq!(slot(""), "");
        assert_eq!(slot("source_version=1.0"), "1.0.0");
    }

    #[test]
    fn upload_details() {
        let upload = UploadDetails::from_pairs;
        check(
            upload,
            "",
            "module: Some(\"default\"), kind: Full, source_version: None, notes: None",
        );
        check(
            upload,
            "module=modem&kind=delta&source_version=1.1.0&notes=fixes%20APN",
            "kind: Delta, source_version: Some(\"1.1.0\"), notes: Some(\"fixes APN\")",
        );
        check(
            upload,
            &format!("module={}", "m".repeat(65)),
            "invalid_module",
        );
        check(upload, "kind=patch", "invalid_kind");
        check(upload, "kind=delta", "invalid_kind");
        check(upload, "source_version=1.0", "invalid_kind");
        check(upload, "kind=delta&source_version=x", "invalid_version");
        check(
            upload,
            &format!("notes={}", "n".repeat(2001)),
            "invalid_notes",
        );
    }

    #[test]
    fn jobs_and_activity() {
        check(
            JobsQuery::from_pairs,
            "phase=in_progress",
            "Some(InProgress)",
        );
        check(JobsQuery::from_pairs, "phase=", "phase: None");
        check(JobsQuery::from_pairs, "phase=done", "invalid_phase");
        check(ActivityQuery::from_pairs, "", "hours: 24");
        check(ActivityQuery::from_pairs, "hours=720", "hours: 720");
        check(ActivityQuery::from_pairs, "hours=721", "invalid_hours");
    }

    #[test]
    fn metrics_silent_after() {
        let metrics = MetricsQuery::from_pairs;
        check(metrics, "", "silent_after: 172800");
        check(metrics, "silent_after=", "silent_after: 172800");
        check(metrics, "silent_after=3600", "silent_after: 3600");
        check(metrics, "silent_after=604800", "silent_after: 604800");
        check(metrics, "silent_after=3599", "invalid_silent_after");
        check(metrics, "silent_after=604801", "invalid_silent_after");
        check(metrics, "silent_after=1d", "invalid_silent_after");
        check(metrics, "silent_after=-1", "invalid_silent_after");
    }
}
