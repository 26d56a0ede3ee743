//! Fixed data for tests: a small fleet with stable timestamps and digests.

use fota_shared::api::{Delivery, Device, DeviceList, Firmware, ImageRef, Plan, PlanSpec, Project};
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::app::{update, Action, App, Command, Failure, Link};
use crate::fleet::FleetSnapshot;

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
    }
}

pub fn devices() -> Vec<Device> {
    vec![
        device(
            "862012345678901",
            "air780",
            "1.2.0",
            "2026-11-22T00:17:26Z",
            false,
        ),
        device(
            "862012345678902",
            "air780",
            "1.1.0",
            "2026-11-22T00:15:02Z",
            true,
        ),
        device(
            "862012345678903",
            "air780",
            "1.2.0",
            "2026-11-21T23:59:59Z",
            false,
        ),
        device(
            "862012345678904",
            "air780",
            "1.0.3",
            "2026-11-21T22:10:00Z",
            false,
        ),
        device("sensor-a7", "esp32", "0.9.1", "2026-11-21T21:00:00Z", false),
        Device {
            id: "new-device".into(),
            firmware_name: None,
            version: None,
            first_seen: "2026-11-20T10:00:00Z".into(),
            last_seen: "2026-11-20T10:00:00Z".into(),
            deliveries: 0,
            banned: false,
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
        },
        Firmware {
            firmware_name: "air780".into(),
            version: "1.1.0".into(),
            sha256: "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752".into(),
            md5: "5d41402abc4b2a76b9719d911017c592".into(),
            size: 1_498_112,
            uploaded_at: "2026-10-02T09:30:00Z".into(),
        },
        Firmware {
            firmware_name: "esp32".into(),
            version: "0.9.1".into(),
            sha256: "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae".into(),
            md5: "acbd18db4cc2f85cedef654fccc4a4d8".into(),
            size: 880,
            uploaded_at: "2026-09-15T17:45:00Z".into(),
        },
    ]
}

pub fn plans() -> Vec<Plan> {
    vec![
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
                rollout: None,
                job_timeout_s: None,
            },
            image: ImageRef {
                sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into(),
                md5: "098f6bcd4621d373cade4e832627b4f6".into(),
                size: 1_572_864,
            },
            updated_at: "2026-11-20T12:05:00Z".into(),
        },
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
            },
            image: ImageRef {
                sha256: "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae".into(),
                md5: "acbd18db4cc2f85cedef654fccc4a4d8".into(),
                size: 880,
            },
            updated_at: "2026-11-19T08:00:00Z".into(),
        },
    ]
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

/// An app for project `demo` with every tab's data loaded, as after a few seconds online.
pub fn loaded_app() -> App {
    let mut app = App::new("http://127.0.0.1:8787", Some("demo".into()));
    update(&mut app, Action::Started);
    update(
        &mut app,
        Action::FleetLoaded(Ok(FleetSnapshot {
            devices: devices(),
            plans: plans(),
            truncated: false,
        })),
    );
    let generation = app.devices.generation;
    update(
        &mut app,
        Action::DevicesLoaded {
            generation,
            cursor: None,
            result: Ok(DeviceList {
                devices: devices(),
                next_cursor: None,
            }),
        },
    );
    update(&mut app, Action::FirmwareLoaded(Ok(firmware())));
    update(&mut app, Action::PlansLoaded(Ok(plans())));
    assert_eq!(app.link, Link::Online);
    app
}
