//! The query strings reqwest builds from shared's query structs (`fota_shared::api::query`),
//! as the server receives them.

use fota_shared::api::query::{ActivityQuery, AuditQuery, DeviceQuery, JobsQuery, UploadDetails};
use fota_shared::model::job::JobPhase;
use fota_shared::model::plan::ImageKind;
use fota_shared::model::rollout::DevicePhase;
use serde::Serialize;

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
