//! Fixed data for tests: a small fleet with stable timestamps and digests, the helpers the
//! dashboard tests share, and the names they use (re-exported here as one prelude; each test
//! file uses part of it, hence the allow below).
#![allow(unused_imports)]

pub use fota_shared::api::access::AuditEntry;
pub use fota_shared::api::catalog::{Firmware, Project};
pub use fota_shared::api::fleet::{
    ActivityHour, Device, DeviceEvent, DeviceList, FleetSummary, SeenCounts, StateCount,
    VersionCount,
};
pub use fota_shared::api::ota::{Job, JobInfo};
pub use fota_shared::api::plans::{PackageServed, RolloutStageStatus, RolloutStatus, TrustBasis};
pub use fota_shared::model::job::JobPhase;
pub use fota_shared::model::plan::{Delivery, ImageKind, ImageRef, Package, Plan, PlanSpec};
pub use fota_shared::model::project::DevicePolicy;
pub use fota_shared::model::rollout::{
    Ratio, RolloutAction, RolloutCounts, RolloutPhase, RolloutSpec,
};
pub use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use serde_json::json;

pub use fota_shared::api::access::AuditPage;
pub use fota_shared::api::fleet::DeviceHistory;
pub use fota_shared::model::rollout::DevicePhase;
pub use ratatui::backend::TestBackend;
pub use ratatui::style::{Color, Modifier};
pub use ratatui::Terminal;

pub use crate::api::{CheckNowTarget, FleetSnapshot};
pub use crate::dashboard::app::{Link, REFRESH_TICKS, STATUS_REFRESH_TICKS, TICKS_PER_SECOND};
pub use crate::dashboard::message::{Modal, Status, StatusKind};
pub use crate::dashboard::remote::{Failure, Remote};
pub use crate::dashboard::screens::audit::{
    parse_audit_filter, AuditLoaded, LoadAudit, AUDIT_PAGE,
};
pub use crate::dashboard::screens::devices::{
    DeviceAnswer, DeviceCall, DEVICE_PAGE, PREFETCH_ROWS,
};
pub use crate::dashboard::screens::firmware::{
    upload_form, upload_request, FirmwareAnswer, FirmwareCall, Upload,
};
pub use crate::dashboard::screens::fleet::{ActivityLoaded, LoadActivity, ACTIVITY_HOURS};
pub use crate::dashboard::screens::rollouts::plan_form::{edit_plan, new_plan, plan_request};
pub use crate::dashboard::screens::rollouts::{PlanAnswer, PlanCall};
pub use crate::dashboard::screens::ScreenCommand;
pub use crate::dashboard::tab::Tab;
pub use crate::dashboard::widgets::form::{FieldId, FieldValue, Form, FormKey, FormPurpose};
pub use crate::dashboard::widgets::*;
pub use crate::dashboard::{update, Action, App, Command};
pub use crate::{format, strings};
pub use fota_shared::api::query::{AuditQuery, DeviceQuery, UploadDetails};

pub fn key(code: KeyCode) -> Action {
    Action::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

pub fn ch(c: char) -> Action {
    key(KeyCode::Char(c))
}

/// Presses each character of `text` in turn and collects the commands.
pub fn type_text(app: &mut App, text: &str) -> Vec<Command> {
    text.chars().flat_map(|c| update(app, ch(c))).collect()
}

pub fn project(key: &str) -> Project {
    Project {
        key: key.into(),
        name: format!("{key} project"),
        ban_after: 3,
        device_policy: Default::default(),
        bindings_at: 0,
        daily_bytes_per_device: None,
        created_at: "2026-11-01T08:00:00Z".into(),
        updated_at: "2026-11-02T08:00:00Z".into(),
    }
}

pub fn device(id: &str, firmware: &str, version: &str, last_seen: &str, banned: bool) -> Device {
    Device {
        id: id.into(),
        firmware_name: Some(firmware.into()),
        version: Some(version.into()),
        first_seen: "2026-11-01T09:00:00Z".into(),
        last_seen: last_seen.into(),
        deliveries: if banned { 3 } else { 0 },
        banned,
        state: None,
        cause: None,
    }
}

fn with_state(mut device: Device, state: DevicePhase, cause: Option<&str>) -> Device {
    device.state = Some(state);
    device.cause = cause.map(str::to_string);
    device
}

pub fn devices() -> Vec<Device> {
    vec![
        with_state(
            device(
                "862012345678901",
                "air780",
                "1.2.0",
                "2026-11-22T00:17:26Z",
                false,
            ),
            DevicePhase::Succeeded,
            None,
        ),
        with_state(
            device(
                "862012345678902",
                "air780",
                "1.1.0",
                "2026-11-22T00:15:02Z",
                true,
            ),
            DevicePhase::Banned,
            Some("3 deliveries without an upgrade"),
        ),
        with_state(
            device(
                "862012345678903",
                "air780",
                "1.2.0",
                "2026-11-21T23:59:59Z",
                false,
            ),
            DevicePhase::Succeeded,
            None,
        ),
        with_state(
            device(
                "862012345678904",
                "air780",
                "1.0.3",
                "2026-11-21T22:10:00Z",
                false,
            ),
            DevicePhase::Failed,
            Some("job timed out"),
        ),
        with_state(
            device("sensor-a7", "esp32", "0.9.1", "2026-11-21T21:00:00Z", false),
            DevicePhase::Idle,
            None,
        ),
        Device {
            id: "new-device".into(),
            firmware_name: None,
            version: None,
            first_seen: "2026-11-20T10:00:00Z".into(),
            last_seen: "2026-11-20T10:00:00Z".into(),
            deliveries: 0,
            banned: false,
            state: None,
            cause: None,
        },
    ]
}

/// `count` devices `dev-0000`…, for paging tests.
pub fn numbered_devices(from: usize, count: usize) -> Vec<Device> {
    (from..from + count)
        .map(|i| {
            device(
                &format!("dev-{i:04}"),
                "air780",
                "1.0.0",
                "2026-11-21T00:00:00Z",
                false,
            )
        })
        .collect()
}

pub fn firmware() -> Vec<Firmware> {
    vec![
        Firmware {
            firmware_name: "air780".into(),
            version: "1.2.0".into(),
            sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into(),
            md5: "098f6bcd4621d373cade4e832627b4f6".into(),
            size: 1_572_864,
            uploaded_at: "2026-11-20T12:00:00Z".into(),
            module: "default".into(),
            kind: ImageKind::Full,
            source_version: None,
            notes: Some("fixes APN fallback".into()),
            uploader: Some("ci".into()),
        },
        Firmware {
            firmware_name: "air780".into(),
            // A delta beside the full image of the same version, for devices at 1.1.0.
            version: "1.2.0".into(),
            sha256: "3a6eb0790f39ac87c94f3856b2dd2c5d110e6811602261a9a923d3bb23adc8b7".into(),
            md5: "5d41402abc4b2a76b9719d911017c592".into(),
            size: 98_304,
            uploaded_at: "2026-11-20T12:01:00Z".into(),
            module: "default".into(),
            kind: ImageKind::Delta,
            source_version: Some("1.1.0".into()),
            notes: None,
            uploader: Some("ci".into()),
        },
        Firmware {
            firmware_name: "air780".into(),
            version: "1.1.0".into(),
            sha256: "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752".into(),
            md5: "5d41402abc4b2a76b9719d911017c592".into(),
            size: 1_498_112,
            uploaded_at: "2026-10-02T09:30:00Z".into(),
            module: "default".into(),
            kind: ImageKind::Full,
            source_version: None,
            notes: None,
            uploader: None,
        },
        Firmware {
            firmware_name: "esp32".into(),
            version: "0.9.1".into(),
            sha256: "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae".into(),
            md5: "acbd18db4cc2f85cedef654fccc4a4d8".into(),
            size: 880,
            uploaded_at: "2026-09-15T17:45:00Z".into(),
            module: "app".into(),
            kind: ImageKind::Script,
            source_version: None,
            notes: None,
            uploader: Some("bootstrap".into()),
        },
    ]
}

pub fn plans() -> Vec<Plan> {
    vec![air780_plan(), esp32_plan()]
}

/// air780's plan: from two versions and an IMEI range, redirected, rolled out in stages.
fn air780_plan() -> Plan {
    Plan {
        project_key: "demo".into(),
        firmware_name: "air780".into(),
        spec: PlanSpec {
            target_version: "1.2.0".into(),
            from_versions: vec!["1.1.0".into(), "1.0.3".into()],
            devices: vec![],
            imei_ranges: vec![["862012345678900".into(), "862012345678999".into()]],
            delivery: Delivery::Redirect,
            allow_downgrade: false,
            rollout: Some(RolloutSpec {
                verify_devices: vec!["862012345678901".into()],
                verify_timeout_s: 3600,
                stages: vec![1, 10, 50, 100],
                max_failure_ratio: Ratio::from_ppm(200_000),
                min_sample: 10,
                max_per_minute: Some(30),
                window_utc: Some(["01:00".into(), "05:00".into()]),
                auto_advance: false,
                soak_s: 0,
            }),
            job_timeout_s: Some(3600),
            needs_confirm: false,
            expected_devices: None,
            deltas: None,
        },
        image: ImageRef {
            sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into(),
            md5: "098f6bcd4621d373cade4e832627b4f6".into(),
            size: 1_572_864,
            module: "default".into(),
        },
        // A full image beside a delta for one source, as Luatools builds them.
        packages: vec![
            Package::full(ImageRef {
                sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into(),
                md5: "098f6bcd4621d373cade4e832627b4f6".into(),
                size: 1_572_864,
                module: "default".into(),
            }),
            Package {
                image: ImageRef {
                    sha256: "3a6eb0790f39ac87c94f3856b2dd2c5d110e6811602261a9a923d3bb23adc8b7"
                        .into(),
                    md5: "5d41402abc4b2a76b9719d911017c592".into(),
                    size: 98_304,
                    module: "default".into(),
                },
                kind: ImageKind::Delta,
                source_version: Some("1.1.0".into()),
            },
        ],
        updated_at: "2026-11-20T12:05:00Z".into(),
        shards: 0,
        cancelled: Vec::new(),
    }
}

/// esp32's plan: two named devices, streamed, with no rollout.
fn esp32_plan() -> Plan {
    Plan {
        project_key: "demo".into(),
        firmware_name: "esp32".into(),
        spec: PlanSpec {
            target_version: "0.9.1".into(),
            from_versions: vec![],
            devices: vec!["sensor-a7".into(), "sensor-b2".into()],
            imei_ranges: vec![],
            delivery: Delivery::Stream,
            allow_downgrade: true,
            rollout: None,
            job_timeout_s: None,
            needs_confirm: false,
            expected_devices: None,
            deltas: None,
        },
        image: ImageRef {
            sha256: "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae".into(),
            md5: "acbd18db4cc2f85cedef654fccc4a4d8".into(),
            size: 880,
            module: "default".into(),
        },
        packages: vec![],
        updated_at: "2026-11-19T08:00:00Z".into(),
        shards: 0,
        cancelled: Vec::new(),
    }
}

fn counts(eligible: u64, succeeded: u64, failed: u64, banned: u64, pending: u64) -> RolloutCounts {
    RolloutCounts {
        eligible,
        offered: succeeded + failed + banned + pending,
        succeeded,
        failed,
        banned,
        pending,
        reported_without_delivery: 0,
    }
}

/// air780's rollout, paused by the health gate in its second stage; esp32's, running at once.
/// Both say their trust basis under the open policy, as the edge does.
pub fn statuses() -> Vec<(String, RolloutStatus)> {
    let trusted = |(name, mut status): (String, RolloutStatus)| {
        status.trust = Some(TrustBasis::of(DevicePolicy::Open, &status));
        (name, status)
    };
    let statuses = vec![
        ("air780".into(), air780_status()),
        ("esp32".into(), esp32_status()),
    ];
    statuses.into_iter().map(trusted).collect()
}

/// air780's rollout, paused by the health gate in its second stage, with a full image and a
/// delta served.
fn air780_status() -> RolloutStatus {
    RolloutStatus {
        state: RolloutPhase::Paused,
        stage: 1,
        percent: 10,
        paused_reason: Some("failure ratio 0.25 above 0.2 in stage 2".into()),
        failed_reason: None,
        started_at: "2026-11-20T12:05:00Z".into(),
        stage_started_at: "2026-11-21T08:00:00Z".into(),
        totals: counts(40, 20, 4, 1, 5),
        verification: counts(1, 1, 0, 0, 0),
        unverified: counts(0, 0, 0, 0, 0),
        trust: None,
        stages: vec![
            RolloutStageStatus {
                percent: 1,
                counts: counts(1, 1, 0, 0, 0),
            },
            RolloutStageStatus {
                percent: 10,
                counts: counts(39, 18, 4, 1, 5),
            },
            RolloutStageStatus {
                percent: 50,
                counts: counts(0, 0, 0, 0, 0),
            },
            RolloutStageStatus {
                percent: 100,
                counts: counts(0, 0, 0, 0, 0),
            },
        ],
        packages: vec![
            PackageServed {
                kind: ImageKind::Full,
                source_version: None,
                sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into(),
                size: 1_572_864,
                served: 6,
            },
            PackageServed {
                kind: ImageKind::Delta,
                source_version: Some("1.1.0".into()),
                sha256: "3a6eb0790f39ac87c94f3856b2dd2c5d110e6811602261a9a923d3bb23adc8b7".into(),
                size: 98_304,
                served: 14,
            },
        ],
    }
}

/// esp32's rollout, running at once in its one stage.
fn esp32_status() -> RolloutStatus {
    RolloutStatus {
        state: RolloutPhase::Running,
        stage: 0,
        percent: 100,
        paused_reason: None,
        failed_reason: None,
        started_at: "2026-11-19T08:00:00Z".into(),
        stage_started_at: "2026-11-19T08:00:00Z".into(),
        totals: counts(2, 1, 0, 0, 1),
        verification: counts(0, 0, 0, 0, 0),
        unverified: counts(0, 0, 0, 0, 0),
        trust: None,
        stages: vec![RolloutStageStatus {
            percent: 100,
            counts: counts(2, 1, 0, 0, 1),
        }],
        packages: vec![],
    }
}

/// Module-OTA jobs: sensor-a7's held for confirmation, new-device's in progress.
pub fn jobs() -> Vec<JobInfo> {
    let job = |module: &str, target: &str, phase: JobPhase, last_step: Option<i8>| Job {
        module: module.into(),
        firmware_name: "esp32".into(),
        target_version: target.into(),
        phase,
        created_at: "2026-11-18T11:06:40Z".into(),
        offered_at: (phase == JobPhase::InProgress).then(|| "2026-11-18T11:07:40Z".into()),
        job_timeout_s: 3600,
        last_step,
    };
    vec![
        JobInfo {
            device_id: "sensor-a7".into(),
            job: job("app", "0.9.2", JobPhase::AwaitingConfirmation, None),
        },
        JobInfo {
            device_id: "new-device".into(),
            job: job("default", "0.9.1", JobPhase::InProgress, Some(40)),
        },
    ]
}

pub fn history() -> Vec<DeviceEvent> {
    let event = |at: &str, kind: &str, detail: Option<&str>| DeviceEvent {
        at: at.into(),
        kind: kind.into(),
        detail: detail.map(str::to_string),
    };
    vec![
        event("2026-11-01T09:00:00Z", "bound", Some("air780 1.1.0")),
        event("2026-11-21T08:02:00Z", "offer", Some("1.2.0")),
        event("2026-11-21T08:02:05Z", "delivery", Some("1.2.0 (1/3)")),
        event("2026-11-21T09:10:00Z", "delivery", Some("1.2.0 (2/3)")),
        event("2026-11-22T00:15:02Z", "banned", Some("3 deliveries")),
    ]
}

/// `count` audit entries, newest first, ids counting down from `top`.
pub fn audit_entries(top: u64, count: u64) -> Vec<AuditEntry> {
    (0..count)
        .map(|i| {
            let id = top - i;
            AuditEntry {
                id,
                at: format!("2026-11-21T{:02}:{:02}:00Z", 10 + id / 60 % 12, id % 60),
                actor: "ops".into(),
                action: "POST projects/{key}/devices/{device_id}/unban".into(),
                project_key: Some("demo".into()),
                target: format!("device dev-{id:04}"),
                before: None,
                after: None,
            }
        })
        .collect()
}

pub fn audit() -> Vec<AuditEntry> {
    vec![
        AuditEntry {
            id: 42,
            at: "2026-11-22T00:20:00Z".into(),
            actor: "alice".into(),
            action: "POST projects/{key}/plans/{firmware_name}/pause".into(),
            project_key: Some("demo".into()),
            target: "rollout air780 pause".into(),
            before: Some(json!({"state": "running", "stage": 1, "percent": 10})),
            after: Some(json!({"state": "paused", "stage": 1, "percent": 10})),
        },
        AuditEntry {
            id: 41,
            at: "2026-11-21T08:00:00Z".into(),
            actor: "ci".into(),
            action: "PUT projects/{key}/plans/{firmware_name}".into(),
            project_key: Some("demo".into()),
            target: "plan air780".into(),
            before: Some(json!({"target_version": "1.1.0", "allow_downgrade": false})),
            after: Some(json!({"target_version": "1.2.0", "allow_downgrade": false})),
        },
        AuditEntry {
            id: 40,
            at: "2026-11-20T12:00:00Z".into(),
            actor: "ci".into(),
            action: "PUT projects/{key}/firmware/{firmware_name}/{version}".into(),
            project_key: Some("demo".into()),
            target: "firmware air780 1.2.0".into(),
            before: None,
            after: Some(json!({"size": 1572864})),
        },
        AuditEntry {
            id: 39,
            at: "2026-11-19T07:00:00Z".into(),
            actor: "bootstrap".into(),
            action: "POST tokens".into(),
            project_key: None,
            target: "token alice".into(),
            before: None,
            after: Some(json!({"name": "alice", "role": "operator"})),
        },
    ]
}

/// 24 hours of traffic ending with the hour of 2026-11-22 00:00 (the latest devices' last
/// check): checks follow the day, deliveries come in two bursts.
pub fn activity() -> Vec<ActivityHour> {
    const CHECKS: [u64; 24] = [
        12, 10, 9, 8, 8, 9, 14, 22, 31, 38, 41, 44, 43, 40, 39, 37, 35, 33, 30, 26, 21, 18, 15, 13,
    ];
    const DELIVERIES: [u64; 24] = [
        0, 0, 0, 0, 0, 0, 1, 2, 5, 3, 1, 0, 0, 0, 0, 0, 4, 6, 2, 1, 0, 0, 0, 1,
    ];
    (0..24)
        .map(|i| ActivityHour {
            at: if i < 23 {
                format!("2026-11-21T{:02}:00:00Z", i + 1)
            } else {
                "2026-11-22T00:00:00Z".into()
            },
            checks: CHECKS[i],
            deliveries: DELIVERIES[i],
        })
        .collect()
}

pub fn offline() -> Failure {
    Failure {
        message: "cannot reach http://127.0.0.1:9: Connection refused (os error 111)".into(),
        connection: true,
    }
}

pub fn refused(status: u16, code: &str, message: &str) -> Failure {
    Failure {
        message: format!("{status} {code}: {message}"),
        connection: false,
    }
}

/// Every plan's rollout status answered, as `statuses()` has them.
pub fn load_statuses(app: &mut App) {
    for (firmware_name, status) in statuses() {
        update(
            app,
            Action::PlanStatusLoaded {
                firmware_name,
                result: Ok(status),
            },
        );
    }
}

/// The server's answer to pausing `air780`'s rollout when it is already paused.
pub fn pause_refused() -> Action {
    Action::from(PlanAnswer::Controlled {
        firmware_name: "air780".into(),
        action: RolloutAction::Pause,
        result: Err(refused(
            409,
            "invalid_transition",
            "the rollout is already paused",
        )),
    })
}

/// The server's summary of [`devices`]: what `GET .../summary` answers for them (counted here by
/// hand, as the edge counts them in SQL).
pub fn fleet_summary() -> FleetSummary {
    let version = |fw: Option<&str>, version: Option<&str>, devices: u64| VersionCount {
        firmware_name: fw.map(str::to_string),
        version: version.map(str::to_string),
        devices,
    };
    FleetSummary {
        total: 6,
        banned: 1,
        seen: SeenCounts {
            hour: 2,
            day: 5,
            week: 6,
        },
        versions: vec![
            version(Some("air780"), Some("1.2.0"), 2),
            version(None, None, 1),
            version(Some("air780"), Some("1.0.3"), 1),
            version(Some("air780"), Some("1.1.0"), 1),
            version(Some("esp32"), Some("0.9.1"), 1),
        ],
        states: vec![
            StateCount {
                state: DevicePhase::Idle,
                devices: 3,
            },
            StateCount {
                state: DevicePhase::Succeeded,
                devices: 2,
            },
            StateCount {
                state: DevicePhase::Banned,
                devices: 1,
            },
        ],
        // Newest first, as the fixture's devices already are.
        latest: devices(),
        computed_at: "2026-11-22T00:17:30Z".into(),
    }
}

/// An app for project `demo` with every tab's data loaded, as after a few seconds online.
pub fn loaded_app() -> App {
    let mut app = App::new("http://127.0.0.1:8787", Some("demo".into()));
    update(&mut app, Action::Started);
    update(
        &mut app,
        Action::FleetLoaded(Ok(FleetSnapshot {
            summary: fleet_summary(),
            plans: plans(),
        })),
    );
    update(&mut app, Action::from(ActivityLoaded(Ok(activity()))));
    let generation = app.devices.list.generation;
    update(
        &mut app,
        Action::from(DeviceAnswer::PageLoaded {
            generation,
            cursor: None,
            result: Ok(DeviceList {
                devices: devices(),
                next_cursor: None,
            }),
        }),
    );
    update(&mut app, Action::from(DeviceAnswer::JobsLoaded(Ok(jobs()))));
    update(
        &mut app,
        Action::from(FirmwareAnswer::Loaded(Ok(firmware()))),
    );
    update(&mut app, Action::from(PlanAnswer::Loaded(Ok(plans()))));
    load_statuses(&mut app);
    assert_eq!(app.link, Link::Online);
    app
}

// Helpers shared by the dashboard tests.

pub fn demo() -> String {
    "demo".to_string()
}

pub fn devices_cmd(generation: u64, q: Option<&str>, cursor: Option<&str>) -> Command {
    Command::from(DeviceCall::LoadPage {
        project: demo(),
        generation,
        query: DeviceQuery {
            limit: Some(DEVICE_PAGE),
            cursor: cursor.map(str::to_string),
            q: q.map(str::to_string),
            ..DeviceQuery::default()
        },
    })
}

pub fn page(
    app: &mut App,
    cursor: Option<&str>,
    devices: Vec<Device>,
    next: Option<&str>,
) -> Vec<Command> {
    let generation = app.devices.list.generation;
    update(
        app,
        Action::from(DeviceAnswer::PageLoaded {
            generation,
            cursor: cursor.map(str::to_string),
            result: Ok(DeviceList {
                devices,
                next_cursor: next.map(str::to_string),
            }),
        }),
    )
}

pub fn ticks(app: &mut App, n: u32) -> Vec<Command> {
    (0..n).flat_map(|_| update(app, Action::Tick)).collect()
}

pub fn activity_cmd() -> Command {
    Command::from(LoadActivity {
        project: demo(),
        hours: 24,
    })
}

pub fn on_rollouts() -> App {
    let mut app = loaded_app();
    update(&mut app, ch('4'));
    // The tab switch reloads plans and statuses; the fixture data is what they bring.
    app.rollouts.plans.loading = false;
    for view in app.rollouts.status.values_mut() {
        view.status.loading = false;
    }
    app
}

pub fn plans_cmd() -> Command {
    Command::from(PlanCall::Load { project: demo() })
}

pub fn control_cmd(action: RolloutAction) -> Command {
    Command::from(PlanCall::Control {
        project: demo(),
        firmware_name: "air780".into(),
        action,
    })
}

pub fn status_cmd(firmware_name: &str) -> Command {
    Command::LoadPlanStatus {
        project: demo(),
        firmware_name: firmware_name.into(),
    }
}

pub fn audit_cmd(generation: u64, query: AuditQuery) -> Command {
    Command::from(LoadAudit {
        generation,
        query: AuditQuery {
            limit: Some(AUDIT_PAGE),
            ..query
        },
    })
}

pub fn audit_page(
    app: &mut App,
    cursor: Option<&str>,
    entries: Vec<AuditEntry>,
    next: Option<&str>,
) -> Vec<Command> {
    let generation = app.audit.list.generation;
    update(
        app,
        Action::from(AuditLoaded {
            generation,
            cursor: cursor.map(str::to_string),
            result: Ok(AuditPage {
                entries,
                next_cursor: next.map(str::to_string),
            }),
        }),
    )
}

pub fn on_devices() -> App {
    let mut app = loaded_app();
    update(&mut app, ch('2'));
    app.devices.list.loading = false;
    app.devices.jobs.loading = false;
    app
}

pub fn select_device(app: &mut App, id: &str) {
    let at = app
        .devices
        .list
        .rows
        .iter()
        .position(|d| d.id == id)
        .unwrap();
    update(app, key(KeyCode::Home));
    for _ in 0..at {
        update(app, ch('j'));
    }
    assert_eq!(app.devices.selected_device().unwrap().id, id);
}

pub fn status_text(app: &App) -> &str {
    app.status.as_ref().map_or("", |s| s.text.as_str())
}

pub fn confirm_cmd(ids: &[&str]) -> Command {
    Command::from(DeviceCall::ConfirmJobs {
        project: demo(),
        ids: ids.iter().map(|s| s.to_string()).collect(),
    })
}

/// Every screen is checked at the size the issue names.
pub fn draw(app: &App) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(100, 30)).unwrap();
    terminal
        .draw(|frame| frame.render_widget(app, frame.area()))
        .unwrap();
    terminal
}

pub fn on_tab(tab: char) -> App {
    let mut app = loaded_app();
    update(&mut app, ch(tab));
    // The tab switch started a refresh; the fixture data is what it would bring.
    app.firmware.images.loading = false;
    app.rollouts.plans.loading = false;
    app.devices.list.loading = false;
    app.devices.jobs.loading = false;
    for view in app.rollouts.status.values_mut() {
        view.status.loading = false;
    }
    app
}

/// The Devices tab with the second (banned) device selected and its history loaded.
pub fn devices_with_history() -> App {
    let mut app = on_tab('2');
    update(&mut app, ch('j'));
    update(&mut app, Action::Tick);
    update(
        &mut app,
        Action::from(DeviceAnswer::HistoryLoaded {
            id: "862012345678902".into(),
            result: Ok(DeviceHistory { events: history() }),
        }),
    );
    app
}

pub fn cell(terminal: &Terminal<TestBackend>, needle: &str) -> ratatui::buffer::Cell {
    let pos = find(terminal, needle);
    terminal.backend().buffer()[pos].clone()
}

/// Where `needle` starts on screen, as (x, y).
pub fn find(terminal: &Terminal<TestBackend>, needle: &str) -> (u16, u16) {
    let buffer = terminal.backend().buffer();
    for y in 0..buffer.area.height {
        let line: String = (0..buffer.area.width)
            .map(|x| buffer[(x, y)].symbol().to_string())
            .collect();
        if let Some(byte) = line.find(needle) {
            return (line[..byte].chars().count() as u16, y);
        }
    }
    panic!("{needle:?} is not on screen:\n{}", terminal.backend());
}

pub fn fg_at(terminal: &Terminal<TestBackend>, needle: &str) -> Color {
    let pos = find(terminal, needle);
    terminal.backend().buffer()[pos].fg
}

/// A plan preview: a delta for 1.1.0 beside the full image, devices that get nothing by reason.
pub fn preview() -> fota_shared::api::preview::PlanPreview {
    use fota_shared::api::preview::*;
    PlanPreview {
        target_version: "1.2.0".into(),
        devices: 44,
        bytes: 30 * 98_304 + 14 * 1_572_864,
        packages: vec![
            PackagePreview {
                kind: ImageKind::Full,
                source_version: None,
                sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into(),
                size: 1_572_864,
                devices: 14,
                bytes: 14 * 1_572_864,
            },
            PackagePreview {
                kind: ImageKind::Delta,
                source_version: Some("1.1.0".into()),
                sha256: "3a6eb0790f39ac87c94f3856b2dd2c5d110e6811602261a9a923d3bb23adc8b7".into(),
                size: 98_304,
                devices: 30,
                bytes: 30 * 98_304,
            },
        ],
        versions: vec![],
        none: NoneCounts {
            up_to_date: 5,
            not_in_device_set: 12,
            banned: 1,
            ..Default::default()
        },
        stages: vec![],
    }
}
