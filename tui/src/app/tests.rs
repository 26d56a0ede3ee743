//! `update` flows, driven by actions as the shell and the terminal would send them.

use fota_shared::api::{Delivery, DeviceList, PlanSpec, UploadReceipt};
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::*;
use crate::fixtures::*;

fn demo() -> String {
    "demo".to_string()
}

fn devices_cmd(generation: u64, q: Option<&str>, cursor: Option<&str>) -> Command {
    Command::LoadDevices {
        project: demo(),
        generation,
        query: DeviceQuery {
            limit: Some(DEVICE_PAGE),
            cursor: cursor.map(str::to_string),
            q: q.map(str::to_string),
            ..DeviceQuery::default()
        },
    }
}

fn page(
    app: &mut App,
    cursor: Option<&str>,
    devices: Vec<Device>,
    next: Option<&str>,
) -> Vec<Command> {
    let generation = app.devices.generation;
    update(
        app,
        Action::DevicesLoaded {
            generation,
            cursor: cursor.map(str::to_string),
            result: Ok(DeviceList {
                devices,
                next_cursor: next.map(str::to_string),
            }),
        },
    )
}

fn ticks(app: &mut App, n: u32) -> Vec<Command> {
    (0..n).flat_map(|_| update(app, Action::Tick)).collect()
}

#[test]
fn without_a_project_the_only_project_is_chosen() {
    let mut app = App::new("http://x", None);
    assert_eq!(
        update(&mut app, Action::Started),
        vec![Command::LoadProjects]
    );
    let commands = update(&mut app, Action::ProjectsLoaded(Ok(vec![project("p1")])));
    assert_eq!(app.project.as_deref(), Some("p1"));
    assert_eq!(
        commands,
        vec![Command::LoadFleet {
            project: "p1".into()
        }]
    );
}

#[test]
fn without_a_project_several_projects_mean_demo() {
    let mut app = App::new("http://x", None);
    update(&mut app, Action::Started);
    update(
        &mut app,
        Action::ProjectsLoaded(Ok(vec![project("a"), project("b")])),
    );
    assert_eq!(app.project.as_deref(), Some("demo"));
}

#[test]
fn a_named_project_loads_the_fleet_at_once() {
    let mut app = App::new("http://x", Some("demo".into()));
    assert_eq!(
        update(&mut app, Action::Started),
        vec![Command::LoadFleet { project: demo() }]
    );
    assert!(app.fleet.loading);
}

#[test]
fn tabs_switch_by_tab_number_and_vim_keys_and_load_what_they_show() {
    let mut app = App::new("http://x", Some("demo".into()));
    update(&mut app, Action::Started);
    let cases = [
        (KeyCode::Tab, Tab::Devices),
        (KeyCode::Tab, Tab::Firmware),
        (KeyCode::Char('l'), Tab::Rollouts),
        (KeyCode::Right, Tab::Fleet),
        (KeyCode::BackTab, Tab::Rollouts),
        (KeyCode::Char('h'), Tab::Firmware),
        (KeyCode::Left, Tab::Devices),
        (KeyCode::Char('1'), Tab::Fleet),
        (KeyCode::Char('4'), Tab::Rollouts),
        (KeyCode::Char('2'), Tab::Devices),
        (KeyCode::Char('3'), Tab::Firmware),
    ];
    for (code, tab) in cases {
        update(&mut app, key(code));
        assert_eq!(app.tab, tab, "{code:?}");
    }
    // A tab with nothing loaded yet asks for its data; the fleet load of Started still runs.
    let mut app = App::new("http://x", Some("demo".into()));
    update(&mut app, Action::Started);
    assert_eq!(
        update(&mut app, ch('3')),
        vec![Command::LoadFirmware { project: demo() }]
    );
    assert_eq!(
        update(&mut app, ch('4')),
        vec![Command::LoadPlans { project: demo() }]
    );
    assert_eq!(update(&mut app, ch('2')), vec![devices_cmd(0, None, None)]);
    assert_eq!(
        update(&mut app, ch('1')),
        vec![],
        "the fleet is still loading"
    );
    assert_eq!(update(&mut app, ch('9')), vec![]);
    assert_eq!(app.tab, Tab::Fleet);
}

#[test]
fn selection_moves_with_arrows_and_vim_keys_and_stays_in_bounds() {
    let mut app = loaded_app();
    update(&mut app, ch('3'));
    app.firmware.loading = false;
    let cases = [
        (KeyCode::Char('j'), 1),
        (KeyCode::Down, 2),
        (KeyCode::Char('j'), 2),
        (KeyCode::Char('k'), 1),
        (KeyCode::Up, 0),
        (KeyCode::Up, 0),
        (KeyCode::Char('G'), 2),
        (KeyCode::Char('g'), 0),
        (KeyCode::PageDown, 2),
        (KeyCode::Home, 0),
        (KeyCode::End, 2),
    ];
    for (i, (code, expected)) in cases.into_iter().enumerate() {
        update(&mut app, key(code));
        assert_eq!(app.firmware_selected, expected, "step {i}: {code:?}");
    }
}

#[test]
fn devices_page_in_before_the_selection_reaches_the_end() {
    let mut app = App::new("http://x", Some("demo".into()));
    update(&mut app, Action::Started);
    update(&mut app, ch('2'));
    assert!(page(&mut app, None, numbered_devices(0, 100), Some("c1")).is_empty());
    // Moving within the page is free; nearing its end asks for the next one, exactly once.
    update(&mut app, key(KeyCode::PageDown));
    assert_eq!(app.devices.selected, 10);
    assert_eq!(
        update(&mut app, ch('G')),
        vec![devices_cmd(0, None, Some("c1"))]
    );
    assert_eq!(update(&mut app, ch('k')), vec![]);
    assert!(app.devices.loading_more);
    // The next page is appended (duplicates dropped); the selection stays where it was.
    let mut next = numbered_devices(99, 101);
    next[0].id = "dev-0099".into();
    assert_eq!(page(&mut app, Some("c1"), next, Some("c2")), vec![]);
    assert_eq!(app.devices.rows.len(), 200);
    assert_eq!(app.devices.selected, 98);
    assert_eq!(app.devices.next_cursor.as_deref(), Some("c2"));
    assert_eq!(
        update(&mut app, ch('G')),
        vec![devices_cmd(0, None, Some("c2"))]
    );
    assert!(page(&mut app, Some("c2"), numbered_devices(200, 3), None).is_empty());
    assert_eq!(
        update(&mut app, ch('G')),
        vec![],
        "no cursor, no more pages"
    );
    assert_eq!(app.devices.selected, 202);
}

#[test]
fn filter_as_you_type_sends_q_and_drops_answers_to_old_filters() {
    let mut app = loaded_app();
    update(&mut app, ch('2'));
    app.devices.loading = false;
    update(&mut app, ch('/'));
    assert!(app.devices.filtering);
    let commands = type_text(&mut app, "86q");
    assert_eq!(
        commands,
        vec![
            devices_cmd(1, Some("8"), None),
            devices_cmd(2, Some("86"), None),
            devices_cmd(3, Some("86q"), None)
        ]
    );
    assert!(!app.should_quit, "q is text while filtering");
    assert_eq!(
        update(&mut app, key(KeyCode::Backspace)),
        vec![devices_cmd(4, Some("86"), None)]
    );
    // An answer for an older filter changes nothing.
    update(
        &mut app,
        Action::DevicesLoaded {
            generation: 2,
            cursor: None,
            result: Ok(DeviceList {
                devices: vec![],
                next_cursor: None,
            }),
        },
    );
    assert_eq!(app.devices.rows.len(), devices().len());
    // The current one replaces the rows and starts at the top.
    app.devices.selected = 3;
    let matching: Vec<_> = devices()
        .into_iter()
        .filter(|d| d.id.starts_with("86"))
        .collect();
    page(&mut app, None, matching, None);
    assert_eq!(app.devices.rows.len(), 4);
    assert_eq!(app.devices.selected, 0);
    // Enter keeps the filter and leaves typing mode; then keys are commands again.
    update(&mut app, key(KeyCode::Enter));
    assert!(!app.devices.filtering);
    assert_eq!(app.devices.filter, "86");
    // Esc clears the filter and reloads everything.
    assert_eq!(
        update(&mut app, key(KeyCode::Esc)),
        vec![devices_cmd(5, None, None)]
    );
    assert_eq!(app.devices.filter, "");
}

#[test]
fn esc_while_typing_a_filter_clears_it() {
    let mut app = loaded_app();
    update(&mut app, ch('2'));
    app.devices.loading = false;
    update(&mut app, ch('/'));
    type_text(&mut app, "ab");
    app.devices.loading = false;
    assert_eq!(
        update(&mut app, key(KeyCode::Esc)),
        vec![devices_cmd(3, None, None)]
    );
    assert!(!app.devices.filtering);
}

#[test]
fn a_refresh_keeps_the_selected_device() {
    let mut app = loaded_app();
    update(&mut app, ch('2'));
    update(&mut app, ch('j'));
    update(&mut app, ch('j'));
    let mut reordered = devices();
    reordered.rotate_left(1);
    page(&mut app, None, reordered, None);
    assert_eq!(app.devices.selected_device().unwrap().id, "862012345678903");
}

#[test]
fn unban_asks_first_and_updates_the_row() {
    let mut app = loaded_app();
    update(&mut app, ch('2'));
    // Not banned: nothing to confirm, a hint instead.
    assert_eq!(update(&mut app, ch('u')), vec![]);
    assert_eq!(app.modal, None);
    assert_eq!(
        app.status.as_ref().unwrap().text,
        "Device 862012345678901 is not banned."
    );

    update(&mut app, ch('j'));
    update(&mut app, ch('u'));
    assert!(
        matches!(&app.modal, Some(Modal::Confirm { prompt, .. }) if prompt.contains("862012345678902"))
    );
    assert_eq!(update(&mut app, ch('x')), vec![], "other keys keep asking");
    assert!(app.modal.is_some());
    assert_eq!(update(&mut app, ch('n')), vec![]);
    assert_eq!(app.modal, None);

    update(&mut app, ch('u'));
    let commands = update(&mut app, ch('y'));
    assert_eq!(
        commands,
        vec![Command::UnbanDevice {
            project: demo(),
            id: "862012345678902".into()
        }]
    );
    assert_eq!(app.status.as_ref().unwrap().kind, StatusKind::Busy);

    let mut unbanned = devices()[1].clone();
    unbanned.banned = false;
    update(
        &mut app,
        Action::DeviceUnbanned {
            id: unbanned.id.clone(),
            result: Ok(unbanned),
        },
    );
    assert!(!app.devices.rows[1].banned);
    assert_eq!(
        app.status.as_ref().unwrap().text,
        "Unbanned device 862012345678902."
    );
}

#[test]
fn deleting_firmware_in_use_shows_the_servers_reason() {
    let mut app = loaded_app();
    update(&mut app, ch('3'));
    app.firmware.loading = false;
    update(&mut app, ch('d'));
    assert!(matches!(&app.modal, Some(Modal::Confirm { .. })));
    let commands = update(&mut app, key(KeyCode::Enter));
    assert_eq!(
        commands,
        vec![Command::DeleteFirmware {
            project: demo(),
            firmware_name: "air780".into(),
            version: "1.2.0".into()
        }]
    );
    update(
        &mut app,
        Action::FirmwareDeleted {
            firmware_name: "air780".into(),
            version: "1.2.0".into(),
            result: Err(refused(409, "in_use", "plan air780 targets this image")),
        },
    );
    let status = app.status.clone().unwrap();
    assert_eq!(status.kind, StatusKind::Error);
    assert_eq!(
        status.text,
        "Deleting air780 1.2.0 failed: 409 in_use: plan air780 targets this image"
    );

    update(&mut app, ch('d'));
    update(&mut app, ch('y'));
    let commands = update(
        &mut app,
        Action::FirmwareDeleted {
            firmware_name: "air780".into(),
            version: "1.2.0".into(),
            result: Ok(()),
        },
    );
    assert_eq!(commands, vec![Command::LoadFirmware { project: demo() }]);
}

#[test]
fn upload_form_checks_fields_then_tracks_hash_and_progress() {
    let mut app = loaded_app();
    update(&mut app, ch('3'));
    app.firmware.loading = false;
    update(&mut app, ch('u'));
    let Some(Modal::Form(form)) = &app.modal else {
        panic!("upload form expected")
    };
    assert_eq!(form.purpose, FormPurpose::Upload);
    type_text(&mut app, "/tmp/fw.bin");
    assert_eq!(update(&mut app, key(KeyCode::Enter)), vec![]);
    let Some(Modal::Form(form)) = &app.modal else {
        panic!("form stays open")
    };
    assert_eq!(form.error.as_deref(), Some("Version is required."));

    update(&mut app, key(KeyCode::Tab));
    update(&mut app, key(KeyCode::Tab));
    type_text(&mut app, "1.3.0");
    let commands = update(&mut app, key(KeyCode::Enter));
    assert_eq!(
        commands,
        vec![Command::UploadFirmware {
            project: demo(),
            path: "/tmp/fw.bin".into(),
            firmware_name: "air780".into(),
            version: "1.3.0".into(),
        }]
    );
    assert_eq!(app.modal, None);

    update(
        &mut app,
        Action::UploadHashed {
            sha256: "ab".repeat(32),
            size: 1000,
        },
    );
    update(&mut app, Action::UploadProgress { sent: 400 });
    let upload = app.upload.clone().unwrap();
    assert_eq!(
        (upload.sent, upload.total, upload.sha256.as_deref()),
        (400, 1000, Some("ab".repeat(32).as_str()))
    );
    // A second upload waits for the first.
    update(&mut app, ch('u'));
    assert_eq!(app.modal, None);
    assert_eq!(app.status.as_ref().unwrap().text, text::UPLOAD_BUSY);

    let receipt = UploadReceipt {
        sha256: "ab".repeat(32),
        md5: "cd".repeat(16),
        size: 1000,
    };
    let commands = update(&mut app, Action::UploadFinished(Ok(receipt)));
    assert_eq!(commands, vec![Command::LoadFirmware { project: demo() }]);
    assert_eq!(
        app.status.as_ref().unwrap().text,
        "Uploaded air780 1.3.0 (sha256 abababababab)"
    );
}

#[test]
fn a_failed_upload_names_the_image_and_the_reason() {
    let mut app = loaded_app();
    app.upload = Some(Upload {
        path: "fw.bin".into(),
        firmware_name: "air780".into(),
        version: "1.2.0".into(),
        sha256: Some("00".repeat(32)),
        total: 10,
        sent: 10,
        outcome: None,
    });
    update(
        &mut app,
        Action::UploadFinished(Err(refused(
            409,
            "conflict",
            "different bytes exist for air780 1.2.0",
        ))),
    );
    let upload = app.upload.as_ref().unwrap();
    assert_eq!(
        upload.outcome,
        Some(Err(
            "Uploading air780 1.2.0 failed: 409 conflict: different bytes exist for air780 1.2.0"
                .into()
        ))
    );
}

#[test]
fn a_plan_form_puts_a_spec_and_stays_open_when_refused() {
    let mut app = loaded_app();
    update(&mut app, ch('4'));
    app.plans.loading = false;
    update(&mut app, ch('n'));
    // The firmware name starts as the selected plan's; replace it.
    for _ in 0.."air780".len() {
        update(&mut app, key(KeyCode::Backspace));
    }
    type_text(&mut app, "ec20");
    update(&mut app, key(KeyCode::Tab));
    type_text(&mut app, "2.0.0");
    update(&mut app, key(KeyCode::Tab));
    type_text(&mut app, "1.9.0");
    for _ in 0..3 {
        update(&mut app, key(KeyCode::Tab));
    }
    update(&mut app, key(KeyCode::Right));
    let commands = update(&mut app, key(KeyCode::Enter));
    let spec = PlanSpec {
        target_version: "2.0.0".into(),
        from_versions: vec!["1.9.0".into()],
        devices: vec![],
        imei_ranges: vec![],
        delivery: Delivery::Redirect,
        allow_downgrade: false,
        rollout: None,
        job_timeout_s: None,
    };
    assert_eq!(
        commands,
        vec![Command::PutPlan {
            project: demo(),
            firmware_name: "ec20".into(),
            spec: spec.clone()
        }]
    );
    let Some(Modal::Form(form)) = &app.modal else {
        panic!("form stays while saving")
    };
    assert!(form.saving);
    assert_eq!(
        update(&mut app, ch('x')),
        vec![],
        "typing is ignored while saving"
    );

    update(
        &mut app,
        Action::PlanSaved {
            firmware_name: "ec20".into(),
            result: Err(refused(400, "unknown_image", "no firmware ec20 2.0.0")),
        },
    );
    let Some(Modal::Form(form)) = &app.modal else {
        panic!("form stays after a refusal")
    };
    assert!(!form.saving);
    assert_eq!(
        form.error.as_deref(),
        Some("Saving plan ec20 failed: 400 unknown_image: no firmware ec20 2.0.0")
    );

    update(&mut app, key(KeyCode::Enter));
    let mut plan = plans()[0].clone();
    plan.firmware_name = "ec20".into();
    plan.spec = spec;
    let commands = update(
        &mut app,
        Action::PlanSaved {
            firmware_name: "ec20".into(),
            result: Ok(plan),
        },
    );
    assert_eq!(app.modal, None);
    assert_eq!(commands, vec![Command::LoadPlans { project: demo() }]);
}

#[test]
fn editing_a_plan_keeps_its_firmware_name() {
    let mut app = loaded_app();
    update(&mut app, ch('4'));
    update(&mut app, ch('j'));
    update(&mut app, ch('e'));
    let Some(Modal::Form(form)) = &app.modal else {
        panic!("edit form expected")
    };
    assert_eq!(
        form.purpose,
        FormPurpose::Plan {
            firmware_name: Some("esp32".into())
        }
    );
    assert_eq!(update(&mut app, key(KeyCode::Esc)), vec![]);
    assert_eq!(app.modal, None);
}

#[test]
fn deleting_a_plan_asks_first() {
    let mut app = loaded_app();
    update(&mut app, ch('4'));
    update(&mut app, ch('d'));
    assert_eq!(update(&mut app, key(KeyCode::Esc)), vec![]);
    update(&mut app, ch('d'));
    assert_eq!(
        update(&mut app, ch('Y')),
        vec![Command::DeletePlan {
            project: demo(),
            firmware_name: "air780".into()
        }]
    );
}

#[test]
fn a_lost_connection_is_retried_with_growing_backoff() {
    let mut app = App::new("http://x", Some("demo".into()));
    update(&mut app, Action::Started);
    update(&mut app, Action::FleetLoaded(Err(offline())));
    assert!(matches!(
        app.link,
        Link::Offline {
            attempt: 1,
            retry_in: Some(4),
            ..
        }
    ));
    assert_eq!(ticks(&mut app, 3), vec![]);
    assert_eq!(
        ticks(&mut app, 1),
        vec![Command::LoadFleet { project: demo() }]
    );
    assert!(matches!(
        app.link,
        Link::Offline {
            attempt: 1,
            retry_in: None,
            ..
        }
    ));

    update(&mut app, Action::FleetLoaded(Err(offline())));
    assert!(matches!(
        app.link,
        Link::Offline {
            attempt: 2,
            retry_in: Some(8),
            ..
        }
    ));
    // A second failure in the same round does not add a step.
    update(&mut app, Action::PlansLoaded(Err(offline())));
    assert!(matches!(
        app.link,
        Link::Offline {
            attempt: 2,
            retry_in: Some(8),
            ..
        }
    ));
    assert_eq!(
        ticks(&mut app, 8),
        vec![Command::LoadFleet { project: demo() }]
    );

    update(&mut app, Action::FleetLoaded(Ok(FleetSnapshot::default())));
    assert_eq!(app.link, Link::Online);
}

#[test]
fn backoff_stops_growing_at_thirty_seconds() {
    let mut app = App::new("http://x", Some("demo".into()));
    for _ in 0..10 {
        app.link = match app.link {
            Link::Offline {
                attempt, reason, ..
            } => Link::Offline {
                attempt,
                retry_in: None,
                reason,
            },
            other => other,
        };
        update(&mut app, Action::FleetLoaded(Err(offline())));
    }
    assert!(matches!(
        app.link,
        Link::Offline {
            attempt: 10,
            retry_in: Some(120),
            ..
        }
    ));
}

#[test]
fn the_visible_tab_refreshes_every_few_seconds() {
    let mut app = loaded_app();
    update(&mut app, ch('3'));
    update(&mut app, Action::FirmwareLoaded(Ok(firmware())));
    assert_eq!(ticks(&mut app, REFRESH_TICKS - 1), vec![]);
    assert_eq!(
        ticks(&mut app, 1),
        vec![Command::LoadFirmware { project: demo() }]
    );
    // Still loading at the next round: no second request.
    assert_eq!(ticks(&mut app, REFRESH_TICKS), vec![]);
}

#[test]
fn errors_are_shown_in_place_with_the_apis_message() {
    let mut app = loaded_app();
    update(&mut app, ch('3'));
    update(
        &mut app,
        Action::FirmwareLoaded(Err(refused(401, "unauthorized", "missing or wrong token"))),
    );
    assert_eq!(
        app.firmware.error.as_deref(),
        Some("Loading firmware failed: 401 unauthorized: missing or wrong token")
    );
    assert!(app.firmware.data.is_some(), "old data stays");
    assert_eq!(app.link, Link::Online, "the server answered");
}

#[test]
fn help_opens_and_closes_and_q_in_help_does_not_quit() {
    let mut app = loaded_app();
    update(&mut app, ch('?'));
    assert_eq!(app.modal, Some(Modal::Help));
    update(&mut app, ch('j'));
    assert_eq!(app.modal, Some(Modal::Help));
    update(&mut app, ch('q'));
    assert_eq!(app.modal, None);
    assert!(!app.should_quit);
    update(&mut app, ch('q'));
    assert!(app.should_quit);
}

#[test]
fn ctrl_c_quits_from_anywhere() {
    let mut app = loaded_app();
    update(&mut app, ch('4'));
    update(&mut app, ch('n'));
    update(
        &mut app,
        Action::Key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)),
    );
    assert!(app.should_quit);
}
