//! `update` flows, driven by actions as the shell and the terminal would send them.

use fota_shared::api::{Delivery, DeviceList, PlanSpec, RolloutPhase, UploadReceipt};
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::*;
use crate::api::UploadDetails;
use crate::fixtures::*;
use crate::form::Form;

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
        vec![
            Command::LoadFleet {
                project: "p1".into()
            },
            Command::LoadActivity {
                project: "p1".into(),
                hours: ACTIVITY_HOURS
            }
        ]
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
        vec![Command::LoadFleet { project: demo() }, activity_cmd()]
    );
    assert!(app.fleet.loading);
    assert!(app.activity.loading);
}

fn activity_cmd() -> Command {
    Command::LoadActivity {
        project: demo(),
        hours: 24,
    }
}

#[test]
fn the_fleet_tab_loads_the_last_day_of_activity_and_refreshes_it() {
    let mut app = App::new("http://x", Some("demo".into()));
    update(&mut app, Action::Started);
    assert_eq!(
        update(&mut app, Action::ActivityLoaded(Ok(activity()))),
        vec![],
        "nothing follows from it"
    );
    assert!(!app.activity.loading);
    assert_eq!(app.activity.data.as_ref().map(Vec::len), Some(24));
    assert_eq!(app.activity.error, None);
    assert_eq!(app.link, Link::Online);
    // `r` reloads it; while that runs, another refresh sends no second request.
    update(&mut app, Action::FleetLoaded(Ok(FleetSnapshot::default())));
    assert_eq!(
        update(&mut app, ch('r')),
        vec![Command::LoadFleet { project: demo() }, activity_cmd()]
    );
    assert_eq!(update(&mut app, ch('r')), vec![]);
    // The periodic refresh brings it too, and only on the Fleet tab.
    update(&mut app, Action::FleetLoaded(Ok(FleetSnapshot::default())));
    update(&mut app, Action::ActivityLoaded(Ok(activity())));
    assert_eq!(
        ticks(&mut app, REFRESH_TICKS),
        vec![Command::LoadFleet { project: demo() }, activity_cmd()]
    );
    let mut app = loaded_app();
    update(&mut app, ch('3'));
    update(&mut app, Action::FirmwareLoaded(Ok(firmware())));
    let commands = ticks(&mut app, REFRESH_TICKS);
    assert!(
        !commands
            .iter()
            .any(|c| matches!(c, Command::LoadActivity { .. })),
        "{commands:?}"
    );
}

#[test]
fn an_activity_error_is_kept_in_place_with_the_old_hours() {
    let mut app = loaded_app();
    update(&mut app, ch('r'));
    assert!(app.activity.loading);
    // A server without the route yet.
    update(
        &mut app,
        Action::ActivityLoaded(Err(refused(404, "not_found", "no route"))),
    );
    assert!(!app.activity.loading);
    assert_eq!(
        app.activity.error.as_deref(),
        Some("Loading activity failed: 404 not_found: no route")
    );
    assert_eq!(app.activity.data, Some(activity()), "old hours stay");
    assert_eq!(app.link, Link::Online, "the server answered");
    assert!(
        app.fleet.error.is_none(),
        "the rest of the tab is untouched"
    );
    // The next answer clears the error.
    update(&mut app, ch('r'));
    update(&mut app, Action::ActivityLoaded(Ok(vec![])));
    assert_eq!(app.activity.error, None);
    assert_eq!(app.activity.data, Some(vec![]));
    // Unreachable: the link goes offline like for any other load.
    update(&mut app, ch('r'));
    update(&mut app, Action::ActivityLoaded(Err(offline())));
    assert!(matches!(app.link, Link::Offline { attempt: 1, .. }));
}

#[test]
fn tabs_switch_by_tab_number_and_vim_keys_and_load_what_they_show() {
    let mut app = App::new("http://x", Some("demo".into()));
    update(&mut app, Action::Started);
    let cases = [
        (KeyCode::Tab, Tab::Devices),
        (KeyCode::Tab, Tab::Firmware),
        (KeyCode::Char('l'), Tab::Rollouts),
        (KeyCode::Right, Tab::Audit),
        (KeyCode::Right, Tab::Fleet),
        (KeyCode::BackTab, Tab::Audit),
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
    assert_eq!(
        update(&mut app, ch('2')),
        vec![
            devices_cmd(0, None, None),
            Command::LoadJobs { project: demo() }
        ]
    );
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
        (KeyCode::Char('j'), 3),
        (KeyCode::Char('j'), 3),
        (KeyCode::Char('k'), 2),
        (KeyCode::Up, 1),
        (KeyCode::Up, 0),
        (KeyCode::Up, 0),
        (KeyCode::Char('G'), 3),
        (KeyCode::Char('g'), 0),
        (KeyCode::PageDown, 3),
        (KeyCode::Home, 0),
        (KeyCode::End, 3),
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
            details: UploadDetails::default(),
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
        details: UploadDetails::default(),
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
        needs_confirm: false,
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

fn on_rollouts() -> App {
    let mut app = loaded_app();
    update(&mut app, ch('4'));
    // The tab switch reloads plans and statuses; the fixture data is what they bring.
    app.plans.loading = false;
    for view in app.rollouts.values_mut() {
        view.status.loading = false;
    }
    app
}

fn control_cmd(action: RolloutAction) -> Command {
    Command::ControlRollout {
        project: demo(),
        firmware_name: "air780".into(),
        action,
    }
}

fn status_cmd(firmware_name: &str) -> Command {
    Command::LoadPlanStatus {
        project: demo(),
        firmware_name: firmware_name.into(),
    }
}

#[test]
fn the_rollouts_tab_loads_every_plans_status_and_keeps_the_counts_live() {
    let mut app = App::new("http://x", Some("demo".into()));
    update(&mut app, Action::Started);
    assert_eq!(
        update(&mut app, ch('4')),
        vec![Command::LoadPlans { project: demo() }]
    );
    assert_eq!(
        update(&mut app, Action::PlansLoaded(Ok(plans()))),
        vec![status_cmd("air780"), status_cmd("esp32")]
    );
    load_statuses(&mut app);
    assert_eq!(
        app.rollout_status("air780").map(|s| s.state),
        Some(RolloutPhase::Paused)
    );
    // Counts refresh faster than the plan list while the tab is open...
    assert_eq!(ticks(&mut app, STATUS_REFRESH_TICKS - 1), vec![]);
    assert_eq!(
        ticks(&mut app, 1),
        vec![status_cmd("air780"), status_cmd("esp32")]
    );
    // ...and one still loading is not asked for twice.
    assert_eq!(ticks(&mut app, STATUS_REFRESH_TICKS), vec![]);
    // A status that cannot be read is shown for that plan only.
    update(
        &mut app,
        Action::PlanStatusLoaded {
            firmware_name: "esp32".into(),
            result: Err(refused(404, "not_found", "route")),
        },
    );
    assert_eq!(
        app.rollouts["esp32"].status.error.as_deref(),
        Some("Loading rollout status failed: 404 not_found: route")
    );
    assert!(app.rollouts["air780"].status.error.is_none());
    // On another tab the fast refresh stops.
    update(&mut app, ch('3'));
    app.firmware.loading = false;
    assert!(ticks(&mut app, STATUS_REFRESH_TICKS)
        .iter()
        .all(|c| !matches!(c, Command::LoadPlanStatus { .. })));
}

#[test]
fn pause_and_cancel_ask_first_and_only_yes_sends() {
    let mut app = on_rollouts();
    update(&mut app, ch('p'));
    let Some(Modal::Confirm { prompt, .. }) = &app.modal else {
        panic!("pause asks first")
    };
    assert!(
        prompt.starts_with("Pause the rollout of air780 → 1.2.0?"),
        "{prompt}"
    );
    assert_eq!(update(&mut app, ch('x')), vec![], "other keys keep asking");
    assert!(app.modal.is_some());
    assert_eq!(update(&mut app, key(KeyCode::Esc)), vec![]);
    assert_eq!(app.modal, None);

    update(&mut app, ch('c'));
    let Some(Modal::Confirm { prompt, .. }) = &app.modal else {
        panic!("cancel asks first")
    };
    assert!(prompt.contains("cannot be resumed"), "{prompt}");
    assert_eq!(update(&mut app, ch('n')), vec![]);
    update(&mut app, ch('c'));
    assert_eq!(
        update(&mut app, ch('y')),
        vec![control_cmd(RolloutAction::Cancel)]
    );
    assert_eq!(app.status.as_ref().unwrap().kind, StatusKind::Busy);

    // Resume and advance ask too; advance names the stage it goes to.
    update(&mut app, ch('a'));
    let Some(Modal::Confirm { prompt, .. }) = &app.modal else {
        panic!("advance asks first")
    };
    assert!(
        prompt.contains("to stage 3/4 (50% of eligible devices)"),
        "{prompt}"
    );
    assert_eq!(
        update(&mut app, key(KeyCode::Enter)),
        vec![control_cmd(RolloutAction::Advance)]
    );
    update(&mut app, ch('u'));
    assert_eq!(
        update(&mut app, ch('Y')),
        vec![control_cmd(RolloutAction::Resume)]
    );
}

#[test]
fn a_refused_control_is_shown_next_to_the_rollout_and_a_success_updates_it() {
    let mut app = on_rollouts();
    update(&mut app, ch('p'));
    update(&mut app, ch('y'));
    update(&mut app, pause_refused());
    assert_eq!(
        app.rollouts["air780"].control_error.as_deref(),
        Some("Pausing failed: 409 invalid_transition: the rollout is already paused")
    );
    let status = app.status.as_ref().unwrap();
    assert_eq!(status.kind, StatusKind::Error);
    assert_eq!(
        status.text,
        "Pausing rollout air780 failed: 409 invalid_transition: the rollout is already paused"
    );
    assert_eq!(app.link, Link::Online, "a refusal is an answer");

    // Asking again clears the old refusal; the answer replaces the status.
    update(&mut app, ch('u'));
    assert_eq!(app.rollouts["air780"].control_error, None);
    update(&mut app, ch('y'));
    let mut resumed = statuses()[0].1.clone();
    resumed.state = RolloutPhase::Running;
    resumed.paused_reason = None;
    update(
        &mut app,
        Action::RolloutControlled {
            firmware_name: "air780".into(),
            action: RolloutAction::Resume,
            result: Ok(resumed),
        },
    );
    assert_eq!(
        app.rollout_status("air780").map(|s| s.state),
        Some(RolloutPhase::Running)
    );
    assert_eq!(
        app.status.as_ref().unwrap().text,
        "Resumed rollout air780: running 2/4 at 10%."
    );
}

#[test]
fn deleted_plans_drop_their_rollout() {
    let mut app = on_rollouts();
    let mut rest = plans();
    rest.remove(0);
    update(&mut app, Action::PlansLoaded(Ok(rest)));
    assert!(!app.rollouts.contains_key("air780"));
    assert!(app.rollouts.contains_key("esp32"));
}

#[test]
fn the_state_filter_cycles_and_goes_to_the_server() {
    let mut app = loaded_app();
    update(&mut app, ch('2'));
    app.devices.loading = false;
    let query = |commands: Vec<Command>| match commands.as_slice() {
        [Command::LoadDevices { query, .. }] => query.state.clone(),
        other => panic!("one device load expected, got {other:?}"),
    };
    assert_eq!(query(update(&mut app, ch('s'))), Some("idle".into()));
    for expected in ["offered", "succeeded", "failed", "banned"] {
        assert_eq!(query(update(&mut app, ch('s'))), Some(expected.into()));
    }
    assert_eq!(query(update(&mut app, ch('s'))), None, "back to all");
}

#[test]
fn the_selected_devices_history_is_fetched_on_the_next_tick() {
    let mut app = loaded_app();
    let history_cmd = |id: &str| Command::LoadHistory {
        project: demo(),
        id: id.into(),
    };
    // Switching to the tab fetches the selected device's history at once.
    let commands = update(&mut app, ch('2'));
    assert!(
        commands.contains(&history_cmd("862012345678901")),
        "{commands:?}"
    );
    app.devices.loading = false;
    // Scrolling past devices asks for none of them; the next tick asks for where it stopped.
    assert_eq!(update(&mut app, ch('j')), vec![]);
    assert_eq!(update(&mut app, ch('j')), vec![]);
    assert_eq!(update(&mut app, ch('k')), vec![]);
    assert_eq!(
        update(&mut app, Action::Tick),
        vec![history_cmd("862012345678902")]
    );
    assert_eq!(update(&mut app, Action::Tick), vec![]);
    // An answer for a device no longer selected is dropped.
    update(
        &mut app,
        Action::HistoryLoaded {
            id: "862012345678901".into(),
            result: Ok(DeviceHistory { events: vec![] }),
        },
    );
    assert_eq!(app.devices.history.events.data, None);
    update(
        &mut app,
        Action::HistoryLoaded {
            id: "862012345678902".into(),
            result: Ok(DeviceHistory { events: history() }),
        },
    );
    assert_eq!(app.devices.history.events.data, Some(history()));
}

fn audit_cmd(generation: u64, query: AuditQuery) -> Command {
    Command::LoadAudit {
        generation,
        query: AuditQuery {
            limit: Some(AUDIT_PAGE),
            ..query
        },
    }
}

fn audit_page(
    app: &mut App,
    cursor: Option<&str>,
    entries: Vec<AuditEntry>,
    next: Option<&str>,
) -> Vec<Command> {
    let generation = app.audit.generation;
    update(
        app,
        Action::AuditLoaded {
            generation,
            cursor: cursor.map(str::to_string),
            result: Ok(AuditPage {
                entries,
                next_cursor: next.map(str::to_string),
            }),
        },
    )
}

#[test]
fn the_audit_filter_splits_server_fields_from_local_words() {
    let (query, words) = parse_audit_filter("actor:ci pause action: project:demo Plan");
    assert_eq!(
        query,
        AuditQuery {
            actor: Some("ci".into()),
            project: Some("demo".into()),
            ..AuditQuery::default()
        }
    );
    assert_eq!(words, ["pause", "plan"]);
    // The server matches actions exactly; here they match in part, locally.
    let (query, words) = parse_audit_filter("action:POST");
    assert_eq!(query, AuditQuery::default());
    assert_eq!(words, ["action:post"]);
    assert_eq!(
        parse_audit_filter("since:2026-11-20T00:00:00Z")
            .0
            .since
            .as_deref(),
        Some("2026-11-20T00:00:00Z")
    );
}

#[test]
fn audit_filtering_asks_the_server_only_for_server_fields() {
    let mut app = loaded_app();
    assert_eq!(
        update(&mut app, ch('5')),
        vec![audit_cmd(0, AuditQuery::default())]
    );
    audit_page(&mut app, None, audit(), None);
    assert_eq!(app.audit.visible().len(), 4);

    update(&mut app, ch('/'));
    // Local words filter what is loaded, without a request.
    assert_eq!(type_text(&mut app, "pause"), vec![]);
    let shown: Vec<u64> = app.audit.visible().iter().map(|e| e.id).collect();
    assert_eq!(shown, [42]);
    assert!(!app.should_quit, "q and the rest are text while filtering");
    for _ in 0.."pause".len() {
        update(&mut app, key(KeyCode::Backspace));
    }
    assert_eq!(app.audit.visible().len(), 4);
    assert_eq!(type_text(&mut app, "action:put"), vec![]);
    let shown: Vec<u64> = app.audit.visible().iter().map(|e| e.id).collect();
    assert_eq!(shown, [41, 40], "a part of the action, locally");
    for _ in 0.."action:put".len() {
        update(&mut app, key(KeyCode::Backspace));
    }
    // `actor:` asks the server once the value starts, and each change after.
    assert_eq!(type_text(&mut app, "actor:"), vec![]);
    assert_eq!(
        type_text(&mut app, "ci"),
        vec![
            audit_cmd(
                1,
                AuditQuery {
                    actor: Some("c".into()),
                    ..AuditQuery::default()
                }
            ),
            audit_cmd(
                2,
                AuditQuery {
                    actor: Some("ci".into()),
                    ..AuditQuery::default()
                }
            ),
        ]
    );
    // An answer to an older filter is dropped.
    update(
        &mut app,
        Action::AuditLoaded {
            generation: 1,
            cursor: None,
            result: Ok(AuditPage {
                entries: vec![],
                next_cursor: None,
            }),
        },
    );
    assert_eq!(app.audit.rows.len(), 4);
    let by_ci: Vec<AuditEntry> = audit().into_iter().filter(|e| e.actor == "ci").collect();
    audit_page(&mut app, None, by_ci, None);
    assert_eq!(app.audit.rows.len(), 2);
    update(&mut app, key(KeyCode::Enter));
    assert!(!app.audit.filtering);
    assert_eq!(
        update(&mut app, key(KeyCode::Esc)),
        vec![audit_cmd(3, AuditQuery::default())],
        "Esc clears the filter and reloads"
    );
}

#[test]
fn the_audit_log_pages_by_cursor_as_the_selection_nears_the_end() {
    let mut app = loaded_app();
    update(&mut app, ch('5'));
    assert_eq!(
        audit_page(&mut app, None, audit_entries(500, 100), Some("401")),
        vec![],
        "the selection is at the top"
    );
    update(&mut app, key(KeyCode::PageDown));
    assert_eq!(app.audit.selected, 10);
    let next = audit_cmd(
        0,
        AuditQuery {
            cursor: Some("401".into()),
            ..AuditQuery::default()
        },
    );
    assert_eq!(update(&mut app, ch('G')), vec![next]);
    assert_eq!(update(&mut app, ch('k')), vec![], "one page at a time");
    // Older entries go below, without duplicates; the selection stays.
    assert_eq!(
        audit_page(&mut app, Some("401"), audit_entries(401, 50), None),
        vec![]
    );
    assert_eq!(app.audit.rows.len(), 149);
    assert_eq!(app.audit.selected, 98);
    assert_eq!(app.audit.next_cursor, None);
    assert_eq!(
        update(&mut app, ch('G')),
        vec![],
        "no cursor, no more pages"
    );
    // A refresh of the first page puts new entries on top and keeps the selected one.
    update(&mut app, ch('g'));
    let mut fresh = audit_entries(502, 2);
    fresh.extend(audit_entries(500, 98));
    app.audit.loading = true;
    audit_page(&mut app, None, fresh, Some("403"));
    assert_eq!(app.audit.rows.len(), 151);
    assert_eq!(app.audit.rows[0].id, 502);
    assert_eq!(app.audit.selected_entry().unwrap().id, 500);
    assert_eq!(app.audit.next_cursor, None, "the window's own cursor stays");
}

#[test]
fn a_plan_form_with_rollout_fields_puts_a_staged_rollout() {
    let mut app = on_rollouts();
    update(&mut app, ch('j'));
    update(&mut app, ch('e'));
    let Some(Modal::Form(form)) = &mut app.modal else {
        panic!("edit form expected")
    };
    let set = |form: &mut Form, label: &str, value: &str| {
        let field = form.fields.iter_mut().find(|f| f.label == label).unwrap();
        field.value = crate::form::FieldValue::Text(value.into());
    };
    set(form, text::FIELD_STAGES, "5, 50 100%");
    set(form, text::FIELD_MAX_FAILURE, "10%");
    set(form, text::FIELD_WINDOW, "22:00-04:00");
    set(form, text::FIELD_SOAK, "2h");
    set(form, text::FIELD_JOB_TIMEOUT, "30m");
    let commands = update(&mut app, key(KeyCode::Enter));
    let [Command::PutPlan { spec, .. }] = commands.as_slice() else {
        panic!("a plan write expected, got {commands:?}")
    };
    let rollout = spec.rollout.clone().unwrap();
    assert_eq!(rollout.stages, [5, 50, 100]);
    assert_eq!(rollout.max_failure_ratio.ppm(), 100_000);
    assert_eq!(rollout.window_utc, Some(["22:00".into(), "04:00".into()]));
    assert_eq!(rollout.soak_s, 7200);
    assert_eq!(rollout.min_sample, 10, "empty means the default");
    assert_eq!(spec.job_timeout_s, Some(1800));

    // A bad window is refused in the form, naming the field.
    update(
        &mut app,
        Action::PlanSaved {
            firmware_name: "esp32".into(),
            result: Err(refused(400, "invalid_rollout", "x")),
        },
    );
    let Some(Modal::Form(form)) = &mut app.modal else {
        panic!("form stays")
    };
    set(form, text::FIELD_WINDOW, "1:00-5:00");
    assert_eq!(update(&mut app, key(KeyCode::Enter)), vec![]);
    let Some(Modal::Form(form)) = &app.modal else {
        panic!("form stays")
    };
    assert_eq!(
        form.error.as_deref(),
        Some("Window: \"1:00-5:00\" is not HH:MM-HH:MM.")
    );
}

fn on_devices() -> App {
    let mut app = loaded_app();
    update(&mut app, ch('2'));
    app.devices.loading = false;
    app.devices.jobs.loading = false;
    app
}

fn select_device(app: &mut App, id: &str) {
    let at = app.devices.rows.iter().position(|d| d.id == id).unwrap();
    update(app, key(KeyCode::Home));
    for _ in 0..at {
        update(app, ch('j'));
    }
    assert_eq!(app.devices.selected_device().unwrap().id, id);
}

fn status_text(app: &App) -> &str {
    app.status.as_ref().map_or("", |s| s.text.as_str())
}

fn confirm_cmd(ids: &[&str]) -> Command {
    Command::ConfirmJobs {
        project: demo(),
        ids: ids.iter().map(|s| s.to_string()).collect(),
    }
}

#[test]
fn confirm_asks_first_for_a_held_job_and_reloads_the_jobs() {
    let mut app = on_devices();
    select_device(&mut app, "sensor-a7");
    assert_eq!(update(&mut app, ch('c')), vec![]);
    let Some(Modal::Confirm { prompt, .. }) = &app.modal else {
        panic!("a confirmation prompt expected, got {:?}", app.modal);
    };
    assert!(
        prompt.contains("sensor-a7 (app: esp32 → 0.9.2)"),
        "{prompt}"
    );
    assert_eq!(update(&mut app, ch('n')), vec![], "no sends nothing");
    assert_eq!(app.modal, None);

    update(&mut app, ch('c'));
    assert_eq!(update(&mut app, ch('y')), vec![confirm_cmd(&["sensor-a7"])]);
    assert_eq!(app.status.as_ref().unwrap().kind, StatusKind::Busy);
    assert_eq!(status_text(&app), "Confirming the job of sensor-a7…");

    let commands = update(
        &mut app,
        Action::JobsConfirmed {
            ids: vec!["sensor-a7".into()],
            result: Ok(ConfirmResult {
                confirmed: vec!["sensor-a7".into()],
                skipped: vec![],
            }),
        },
    );
    assert_eq!(status_text(&app), "Confirmed the job of sensor-a7.");
    assert_eq!(
        commands,
        vec![Command::LoadJobs { project: demo() }],
        "the job moved on: reload"
    );
}

#[test]
fn confirm_tells_at_once_when_nothing_is_held() {
    let mut app = on_devices();
    select_device(&mut app, "862012345678901");
    assert_eq!(update(&mut app, ch('c')), vec![]);
    assert_eq!(app.modal, None);
    assert_eq!(
        status_text(&app),
        "Device 862012345678901 has no module job awaiting confirmation."
    );
    select_device(&mut app, "new-device");
    update(&mut app, ch('c'));
    assert_eq!(app.modal, None);
    assert_eq!(
        status_text(&app),
        "The job of new-device (esp32 → 0.9.1) is in progress, not awaiting confirmation."
    );
    // Without a jobs list the server decides: ask, and send.
    app.devices.jobs = Remote::default();
    update(&mut app, ch('c'));
    assert!(matches!(app.modal, Some(Modal::Confirm { .. })));
    assert_eq!(
        update(&mut app, ch('y')),
        vec![confirm_cmd(&["new-device"])]
    );
}

#[test]
fn confirm_all_takes_the_held_jobs_of_the_listed_devices() {
    let mut app = on_devices();
    // Nothing held among the listed devices once the filter leaves sensor-a7 out.
    let mut jobs = jobs();
    jobs.push(JobInfo {
        device_id: "862012345678903".into(),
        job: ActiveJob {
            phase: JobPhase::AwaitingConfirmation,
            ..jobs[0].job.clone()
        },
    });
    jobs.push(JobInfo {
        device_id: "not-listed".into(),
        job: jobs[0].job.clone(),
    });
    update(&mut app, Action::JobsLoaded(Ok(jobs)));
    assert_eq!(app.devices.held_rows(), ["862012345678903", "sensor-a7"]);
    update(&mut app, ch('C'));
    let Some(Modal::Confirm { prompt, .. }) = &app.modal else {
        panic!("a confirmation prompt expected");
    };
    assert!(
        prompt
            .starts_with("Confirm the held jobs of 2 listed devices (862012345678903, sensor-a7)?"),
        "{prompt}"
    );
    assert_eq!(
        update(&mut app, key(KeyCode::Enter)),
        vec![confirm_cmd(&["862012345678903", "sensor-a7"])]
    );
    update(
        &mut app,
        Action::JobsConfirmed {
            ids: vec!["862012345678903".into(), "sensor-a7".into()],
            result: Ok(ConfirmResult {
                confirmed: vec!["sensor-a7".into()],
                skipped: vec![fota_shared::api::ConfirmSkipped {
                    id: "862012345678903".into(),
                    reason: "no job".into(),
                }],
            }),
        },
    );
    assert_eq!(
        status_text(&app),
        "Confirmed the job of sensor-a7; skipped 862012345678903 (no job)."
    );

    // One held job among the listed devices: the prompt names it.
    update(
        &mut app,
        Action::JobsLoaded(Ok(crate::fixtures::jobs().into_iter().take(1).collect())),
    );
    update(&mut app, ch('C'));
    let Some(Modal::Confirm { prompt, .. }) = &app.modal else {
        panic!("a confirmation prompt expected");
    };
    assert!(
        prompt.starts_with("Confirm the held job of sensor-a7?"),
        "{prompt}"
    );
    assert_eq!(update(&mut app, ch('y')), vec![confirm_cmd(&["sensor-a7"])]);

    // A list without held jobs: a hint, no prompt.
    update(&mut app, Action::JobsLoaded(Ok(vec![])));
    update(&mut app, ch('C'));
    assert_eq!(app.modal, None);
    assert_eq!(status_text(&app), text::NO_HELD_JOBS);
}

#[test]
fn a_refused_confirmation_names_the_device_and_reloads_the_jobs() {
    let mut app = on_devices();
    let commands = update(
        &mut app,
        Action::JobsConfirmed {
            ids: vec!["sensor-a7".into()],
            result: Err(refused(
                409,
                "not_awaiting_confirmation",
                "job is not awaiting confirmation (or the rollout holds it)",
            )),
        },
    );
    assert_eq!(commands, vec![Command::LoadJobs { project: demo() }]);
    let status = app.status.as_ref().unwrap();
    assert_eq!(status.kind, StatusKind::Error);
    assert_eq!(
        status.text,
        "Confirming the job of sensor-a7 failed: 409 not_awaiting_confirmation: job is not awaiting confirmation (or the rollout holds it)"
    );
}

#[test]
fn check_now_goes_at_once_and_says_how_many_were_reached() {
    let mut app = on_devices();
    select_device(&mut app, "sensor-a7");
    let target = CheckNowTarget::Device("sensor-a7".into());
    assert_eq!(
        update(&mut app, ch('n')),
        vec![Command::CheckNow {
            project: demo(),
            target: target.clone()
        }]
    );
    assert_eq!(app.modal, None, "a check-now changes nothing: no prompt");
    assert_eq!(status_text(&app), "Asking sensor-a7 to check now…");
    update(
        &mut app,
        Action::CheckedNow {
            target: target.clone(),
            result: Ok(CheckNowResult {
                devices: 1,
                reached: 0,
            }),
        },
    );
    assert_eq!(
        status_text(&app),
        "Check-now device sensor-a7: reached 0 of 1 device."
    );
    update(
        &mut app,
        Action::CheckedNow {
            target,
            result: Err(refused(404, "not_found", "device sensor-a7")),
        },
    );
    assert_eq!(app.status.as_ref().unwrap().kind, StatusKind::Error);
    assert_eq!(
        status_text(&app),
        "Asking sensor-a7 to check now failed: 404 not_found: device sensor-a7"
    );
}

#[test]
fn check_now_for_a_plan_asks_first() {
    let mut app = on_rollouts();
    assert_eq!(update(&mut app, ch('N')), vec![]);
    let Some(Modal::Confirm { prompt, .. }) = &app.modal else {
        panic!("a confirmation prompt expected");
    };
    assert!(prompt.contains("plan air780"), "{prompt}");
    let target = CheckNowTarget::Plan("air780".into());
    assert_eq!(
        update(&mut app, ch('y')),
        vec![Command::CheckNow {
            project: demo(),
            target: target.clone()
        }]
    );
    update(
        &mut app,
        Action::CheckedNow {
            target,
            result: Ok(CheckNowResult {
                devices: 12,
                reached: 7,
            }),
        },
    );
    assert_eq!(
        status_text(&app),
        "Check-now plan air780: reached 7 of 12 devices."
    );
}

#[test]
fn the_plan_form_toggles_needs_confirm() {
    let mut app = on_rollouts();
    update(&mut app, ch('e'));
    let Some(Modal::Form(form)) = &mut app.modal else {
        panic!("the plan form expected");
    };
    form.focus = form
        .fields
        .iter()
        .position(|f| f.label == text::FIELD_NEEDS_CONFIRM)
        .unwrap();
    update(&mut app, ch(' '));
    let commands = update(&mut app, key(KeyCode::Enter));
    let [Command::PutPlan { spec, .. }] = commands.as_slice() else {
        panic!("a plan put expected, got {commands:?}");
    };
    assert!(spec.needs_confirm);
}
