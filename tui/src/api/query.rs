//! The query strings of the admin API as `Serialize` structs, handed to reqwest's `.query()`:
//! a `None` filter is left out, enums go as the API spells them.

use fota_shared::api::{DevicePhase, ImageKind, JobPhase};
use serde::Serialize;

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

/// Filter of `GET /jobs`: all jobs, or those in one phase.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct JobsQuery {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phase: Option<JobPhase>,
}

/// `GET /activity`: how many hours back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ActivityQuery {
    pub hours: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The query string reqwest builds from `query`, as the server receives it.
    #[track_caller]
    fn check(query: &impl Serialize, expect: &str) {
        let request = reqwest::Client::new()
            .get("http://fota.test/x")
            .query(query)
            .build()
            .unwrap();
        assert_eq!(request.url().query().unwrap_or(""), expect);
    }

    #[test]
    fn device_query_leaves_out_unset_filters() {
        check(
            &DeviceQuery {
                limit: Some(50),
                q: Some("86".into()),
                banned: Some(false),
                ..Default::default()
            },
            "limit=50&q=86&banned=false",
        );
        check(&DeviceQuery::default(), "");
    }

    #[test]
    fn new_filters_and_upload_details_go_to_the_query() {
        check(
            &DeviceQuery {
                state: Some(DevicePhase::Failed),
                seen_since: Some("2026-11-01T00:00:00Z".into()),
                ..Default::default()
            },
            "state=failed&seen_since=2026-11-01T00%3A00%3A00Z",
        );
        check(
            &AuditQuery {
                actor: Some("ops".into()),
                cursor: Some("41".into()),
                limit: Some(50),
                ..Default::default()
            },
            "actor=ops&cursor=41&limit=50",
        );
        check(&UploadDetails::default(), "");
        check(
            &UploadDetails {
                module: Some("modem".into()),
                kind: ImageKind::Delta,
                source_version: Some("1.1.0".into()),
                notes: Some("fixes APN".into()),
            },
            "module=modem&kind=delta&source_version=1.1.0&notes=fixes+APN",
        );
    }

    #[test]
    fn values_with_reserved_characters_are_escaped() {
        check(
            &DeviceQuery {
                q: Some("a&b=c #d".into()),
                ..Default::default()
            },
            "q=a%26b%3Dc+%23d",
        );
    }

    #[test]
    fn jobs_and_activity_queries() {
        check(&JobsQuery::default(), "");
        check(
            &JobsQuery {
                phase: Some(JobPhase::AwaitingConfirmation),
            },
            "phase=awaiting_confirmation",
        );
        check(&ActivityQuery { hours: 72 }, "hours=72");
    }
}
