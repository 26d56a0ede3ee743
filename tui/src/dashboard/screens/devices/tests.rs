//! Tests of dashboard::screens::devices.

use fota_shared::api::fleet::*;
use fota_shared::api::ota::*;
use fota_shared::model::job::*;
use fota_shared::model::rollout::*;

use super::*;
use crate::fixtures::*;

#[test]
fn devices_page_in_before_the_selection_reaches_the_end() {
    let mut app = App::new("http://x", Some("demo".into()));
    update(&mut app, Action::Started);
    update(&mut app, ch('2'));
    assert!(page(&mut app, None, numbered_devices(0, 100), Some("c1")).is_empty());
    // Moving within the page is free; nearing its end asks for the next one, exactly once.
    update(&mut app, key(KeyCode::PageDown));
    assert_eq!(app.devices.list.selected, 10);
    assert_eq!(
        update(&mut app, ch('G')),
        vec![devices_cmd(0, None, Some("c1"))]
    );
    assert_eq!(update(&mut app, ch('k')), vec![]);
    assert!(app.devices.list.loading_more);
    // The next page is appended (duplicates dropped); the selection stays where it was.
    let mut next = numbered_devices(99, 101);
    next[0].id = "dev-0099".into();
    assert_eq!(page(&mut app, Some("c1"), next, Some("c2")), vec![]);
    assert_eq!(app.devices.list.rows.len(), 200);
    assert_eq!(app.devices.list.selected, 98);
    assert_eq!(app.devices.list.next_cursor.as_deref(), Some("c2"));
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
    assert_eq!(app.devices.list.selected, 202);
}

#[test]
fn filter_as_you_type_sends_q_and_drops_answers_to_old_filters() {
    let mut app = loaded_app();
    update(&mut app, ch('2'));
    app.devices.list.loading = false;
    update(&mut app, ch('/'));
    assert!(app.devices.list.filtering);
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
        Action::from(DeviceAnswer::PageLoaded {
            generation: 2,
            cursor: None,
            result: Ok(DeviceList {
                devices: vec![],
                next_cursor: None,
            }),
        }),
    );
    assert_eq!(app.devices.list.rows.len(), devices().len());
    // The current one replaces the rows and starts at the top.
    app.devices.list.selected = 3;
    let matching: Vec<_> = devices()
        .into_iter()
        .filter(|d| d.id.starts_with("86"))
        .collect();
    page(&mut app, None, matching, None);
    assert_eq!(app.devices.list.rows.len(), 4);
    assert_eq!(app.devices.list.selected, 0);
    // Enter keeps the filter and leaves typing mode; then keys are commands again.
    update(&mut app, key(KeyCode::Enter));
    assert!(!app.devices.list.filtering);
    assert_eq!(app.devices.list.filter, "86");
    // Esc clears the filter and reloads everything.
    assert_eq!(
        update(&mut app, key(KeyCode::Esc)),
        vec![devices_cmd(5, None, None)]
    );
    assert_eq!(app.devices.list.filter, "");
}

#[test]
fn esc_while_typing_a_filter_clears_it() {
    let mut app = loaded_app();
    update(&mut app, ch('2'));
    app.devices.list.loading = false;
    update(&mut app, ch('/'));
    type_text(&mut app, "ab");
    app.devices.list.loading = false;
    assert_eq!(
        update(&mut app, key(KeyCode::Esc)),
        vec![devices_cmd(3, None, None)]
    );
    assert!(!app.devices.list.filtering);
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
        vec![Command::from(DeviceCall::Unban {
            project: demo(),
            id: "862012345678902".into()
        })]
    );
    assert_eq!(app.status.as_ref().unwrap().kind, StatusKind::Busy);

    let mut unbanned = devices()[1].clone();
    unbanned.banned = false;
    update(
        &mut app,
        Action::from(DeviceAnswer::Unbanned {
            id: unbanned.id.clone(),
            result: Ok(unbanned),
        }),
    );
    assert!(!app.devices.list.rows[1].banned);
    assert_eq!(
        app.status.as_ref().unwrap().text,
        "Unbanned device 862012345678902."
    );
}

#[test]
fn the_state_filter_cycles_and_goes_to_the_server() {
    let mut app = loaded_app();
    update(&mut app, ch('2'));
    app.devices.list.loading = false;
    let query = |commands: Vec<Command>| match commands.as_slice() {
        [Command::Screen(ScreenCommand::Devices(DeviceCall::LoadPage { query, .. }))] => {
            query.state
        }
        other => panic!("one device load expected, got {other:?}"),
    };
    assert_eq!(query(update(&mut app, ch('s'))), Some(DevicePhase::Idle));
    for expected in [
        DevicePhase::Offered,
        DevicePhase::Succeeded,
        DevicePhase::Failed,
        DevicePhase::Banned,
    ] {
        assert_eq!(query(update(&mut app, ch('s'))), Some(expected));
    }
    assert_eq!(query(update(&mut app, ch('s'))), None, "back to all");
}

#[test]
fn the_selected_devices_history_is_fetched_on_the_next_tick() {
    let mut app = loaded_app();
    let history_cmd = |id: &str| {
        Command::from(DeviceCall::LoadHistory {
            project: demo(),
            id: id.into(),
        })
    };
    // Switching to the tab fetches the selected device's history at once.
    let commands = update(&mut app, ch('2'));
    assert!(
        commands.contains(&history_cmd("862012345678901")),
        "{commands:?}"
    );
    app.devices.list.loading = false;
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
        Action::from(DeviceAnswer::HistoryLoaded {
            id: "862012345678901".into(),
            result: Ok(DeviceHistory { events: vec![] }),
        }),
    );
    assert_eq!(app.devices.history.events.data, None);
    update(
        &mut app,
        Action::from(DeviceAnswer::HistoryLoaded {
            id: "862012345678902".into(),
            result: Ok(DeviceHistory { events: history() }),
        }),
    );
    assert_eq!(app.devices.history.events.data, Some(history()));
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
        Action::from(DeviceAnswer::JobsConfirmed {
            ids: vec!["sensor-a7".into()],
            result: Ok(ConfirmResult {
                confirmed: vec!["sensor-a7".into()],
                skipped: vec![],
            }),
        }),
    );
    assert_eq!(status_text(&app), "Confirmed the job of sensor-a7.");
    assert_eq!(
        commands,
        vec![Command::from(DeviceCall::LoadJobs { project: demo() })],
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
        job: Job {
            phase: JobPhase::AwaitingConfirmation,
            ..jobs[0].job.clone()
        },
    });
    jobs.push(JobInfo {
        device_id: "not-listed".into(),
        job: jobs[0].job.clone(),
    });
    update(&mut app, Action::from(DeviceAnswer::JobsLoaded(Ok(jobs))));
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
        Action::from(DeviceAnswer::JobsConfirmed {
            ids: vec!["862012345678903".into(), "sensor-a7".into()],
            result: Ok(ConfirmResult {
                confirmed: vec!["sensor-a7".into()],
                skipped: vec![fota_shared::api::ota::ConfirmSkipped {
                    id: "862012345678903".into(),
                    reason: "no job".into(),
                }],
            }),
        }),
    );
    assert_eq!(
        status_text(&app),
        "Confirmed the job of sensor-a7; skipped 862012345678903 (no job)."
    );

    // One held job among the listed devices: the prompt names it.
    update(
        &mut app,
        Action::from(DeviceAnswer::JobsLoaded(Ok(crate::fixtures::jobs()
            .into_iter()
            .take(1)
            .collect()))),
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
    update(&mut app, Action::from(DeviceAnswer::JobsLoaded(Ok(vec![]))));
    update(&mut app, ch('C'));
    assert_eq!(app.modal, None);
    assert_eq!(status_text(&app), strings::NO_HELD_JOBS);
}

#[test]
fn a_refused_confirmation_names_the_device_and_reloads_the_jobs() {
    let mut app = on_devices();
    let commands = update(
        &mut app,
        Action::from(DeviceAnswer::JobsConfirmed {
            ids: vec!["sensor-a7".into()],
            result: Err(refused(
                409,
                "not_awaiting_confirmation",
                "job is not awaiting confirmation (or the rollout holds it)",
            )),
        }),
    );
    assert_eq!(
        commands,
        vec![Command::from(DeviceCall::LoadJobs { project: demo() })]
    );
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
fn devices_tab() {
    let app = devices_with_history();
    let terminal = draw(&app);
    insta::assert_snapshot!(terminal.backend());
    let banned_row = find(&terminal, "862012345678902 1.1.0");
    let cell = &terminal.backend().buffer()[banned_row];
    assert_eq!(cell.fg, BANNED, "the banned device's row is red");
    assert!(cell.modifier.contains(Modifier::REVERSED), "and selected");
    assert_eq!(fg_at(&terminal, "862012345678903"), Color::Reset);
    assert_eq!(fg_at(&terminal, "yes · u unbans"), BANNED);
    assert_eq!(
        fg_at(&terminal, "862012345678904"),
        FAILED,
        "a failed job's row is red too"
    );
    assert_eq!(fg_at(&terminal, "sensor-a7"), Color::Reset);
    // The history pane, newest first, the ban in red.
    let (_, ban_y) = find(&terminal, "00:15 banned");
    let (_, bound_y) = find(&terminal, "09:00 bound");
    assert!(ban_y < bound_y, "newest first");
    assert_eq!(fg_at(&terminal, "banned  "), FAILED);
    assert_eq!(fg_at(&terminal, "bound"), Color::Reset);
}

#[test]
fn devices_tab_with_a_state_filter_while_history_loads() {
    let mut app = on_tab('2');
    for _ in 0..4 {
        update(&mut app, ch('s'));
    }
    let generation = app.devices.list.generation;
    let failed: Vec<_> = devices()
        .into_iter()
        .filter(|d| d.state == Some(DevicePhase::Failed))
        .collect();
    update(
        &mut app,
        Action::from(DeviceAnswer::PageLoaded {
            generation,
            cursor: None,
            result: Ok(fota_shared::api::fleet::DeviceList {
                devices: failed,
                next_cursor: None,
            }),
        }),
    );
    update(&mut app, Action::Tick);
    let terminal = draw(&app);
    insta::assert_snapshot!(terminal.backend());
    let state = cell(&terminal, "state: failed");
    assert_eq!(state.fg, ACCENT);
    assert_eq!(fg_at(&terminal, "Loading history"), PENDING);
}

#[test]
fn devices_tab_filtering_with_more_pages() {
    let mut app = on_tab('2');
    update(&mut app, ch('/'));
    type_text(&mut app, "8620");
    app.devices.list.stale = false;
    app.devices.list.next_cursor = Some("c1".into());
    app.devices.list.loading = false;
    insta::assert_snapshot!(draw(&app).backend());
}

#[test]
fn confirm_unban() {
    let mut app = on_tab('2');
    update(&mut app, ch('j'));
    update(&mut app, ch('u'));
    insta::assert_snapshot!(draw(&app).backend());
}

/// The Devices tab on sensor-a7, whose module job waits for confirmation, after a check-now.
#[test]
fn devices_tab_with_a_held_job() {
    let mut app = on_tab('2');
    for _ in 0..4 {
        update(&mut app, ch('j'));
    }
    update(&mut app, ch('n'));
    update(
        &mut app,
        Action::CheckedNow {
            target: crate::api::CheckNowTarget::Device("sensor-a7".into()),
            result: Ok(fota_shared::api::ota::CheckNowResult {
                devices: 1,
                reached: 1,
            }),
        },
    );
    let terminal = draw(&app);
    insta::assert_snapshot!(terminal.backend());
    let held = cell(&terminal, "held ");
    assert_eq!(held.fg, PENDING, "a held job stands out in the list");
    assert!(held.modifier.contains(Modifier::BOLD));
    assert_eq!(fg_at(&terminal, "app: esp32 → 0.9.2"), Color::Reset);
    assert_eq!(fg_at(&terminal, "held · c confirms"), PENDING);
    find(&terminal, "reached 1 of 1 device.");
}

#[test]
fn device_detail_shows_a_job_in_progress() {
    let mut app = on_tab('2');
    update(&mut app, ch('G'));
    let terminal = draw(&app);
    assert_eq!(fg_at(&terminal, "in progress · step 40"), IN_FLIGHT);
    find(&terminal, "job        esp32 → 0.9.1");
}

#[test]
fn confirm_every_listed_held_job() {
    let mut app = on_tab('2');
    let mut jobs = jobs();
    jobs[1].job.phase = fota_shared::model::job::JobPhase::AwaitingConfirmation;
    update(&mut app, Action::from(DeviceAnswer::JobsLoaded(Ok(jobs))));
    update(&mut app, ch('C'));
    insta::assert_snapshot!(draw(&app).backend());
}

#[test]
fn forget_asks_first_then_drops_the_row() {
    let mut app = on_devices();
    select_device(&mut app, "862012345678902");
    assert_eq!(update(&mut app, ch('x')), vec![]);
    assert!(matches!(app.modal, Some(Modal::Confirm { .. })));
    assert_eq!(update(&mut app, ch('n')), vec![], "no sends nothing");
    update(&mut app, ch('x'));
    assert_eq!(
        update(&mut app, ch('y')),
        vec![Command::from(DeviceCall::Forget {
            project: demo(),
            id: "862012345678902".into()
        })]
    );
    update(
        &mut app,
        Action::from(DeviceAnswer::Forgotten {
            id: "862012345678902".into(),
            result: Ok(()),
        }),
    );
    assert!(!app
        .devices
        .list
        .rows
        .iter()
        .any(|d| d.id == "862012345678902"));
    assert_eq!(status_text(&app), "Forgot device 862012345678902.");
    update(
        &mut app,
        Action::from(DeviceAnswer::Forgotten {
            id: "862012345678903".into(),
            result: Err(refused(404, "not_found", "no such device")),
        }),
    );
    assert_eq!(
        status_text(&app),
        "Forgetting 862012345678903 failed: 404 not_found: no such device"
    );
}

#[test]
fn move_picks_another_project_then_asks_first() {
    let mut app = on_devices();
    select_device(&mut app, "862012345678902");
    // The projects are not loaded yet: the picker asks for them.
    assert_eq!(update(&mut app, ch('m')), vec![Command::LoadProjects]);
    update(
        &mut app,
        Action::ProjectsLoaded(Ok(vec![project("demo"), project("lab"), project("field")])),
    );
    let Some(Modal::Pick(picker)) = &app.modal else {
        panic!("a project picker expected")
    };
    assert_eq!(
        picker.options,
        Some(vec!["lab".to_string(), "field".to_string()]),
        "the device's own project is not offered"
    );
    update(&mut app, ch('j'));
    assert_eq!(update(&mut app, key(KeyCode::Enter)), vec![]);
    assert!(matches!(app.modal, Some(Modal::Confirm { .. })));
    assert_eq!(
        update(&mut app, ch('y')),
        vec![Command::from(DeviceCall::Move {
            project: demo(),
            id: "862012345678902".into(),
            to: "field".into()
        })]
    );
    let moved = app.devices.selected_device().cloned().unwrap();
    update(
        &mut app,
        Action::from(DeviceAnswer::Moved {
            id: "862012345678902".into(),
            to: "field".into(),
            result: Ok(moved),
        }),
    );
    assert!(!app
        .devices
        .list
        .rows
        .iter()
        .any(|d| d.id == "862012345678902"));
    assert_eq!(
        status_text(&app),
        "Moved device 862012345678902 to project field."
    );
}

#[test]
fn confirm_forget() {
    let mut app = on_tab('2');
    update(&mut app, ch('j'));
    update(&mut app, ch('x'));
    insta::assert_snapshot!(draw(&app).backend());
}

#[test]
fn confirm_move() {
    let mut app = on_tab('2');
    update(&mut app, ch('j'));
    update(&mut app, ch('m'));
    update(
        &mut app,
        Action::ProjectsLoaded(Ok(vec![project("demo"), project("field")])),
    );
    insta::assert_snapshot!("move_picker", draw(&app).backend());
    update(&mut app, key(KeyCode::Enter));
    insta::assert_snapshot!(draw(&app).backend());
}

#[test]
fn a_asks_before_cancelling_the_upgrade_then_tells_what_changed_and_refreshes() {
    let mut app = on_devices();
    select_device(&mut app, "862012345678902");
    assert_eq!(update(&mut app, ch('a')), vec![]);
    assert!(matches!(app.modal, Some(Modal::Confirm { .. })));
    assert_eq!(update(&mut app, ch('n')), vec![], "no sends nothing");
    update(&mut app, ch('a'));
    assert_eq!(
        update(&mut app, ch('y')),
        vec![Command::from(DeviceCall::Cancel {
            project: demo(),
            id: "862012345678902".into(),
            cancel: true,
        })]
    );
    assert_eq!(
        status_text(&app),
        "Cancelling the upgrade of 862012345678902…"
    );
    let commands = update(
        &mut app,
        Action::from(DeviceAnswer::Cancelled {
            id: "862012345678902".into(),
            cancel: true,
            result: Ok(CancelResult {
                device_id: "862012345678902".into(),
                cancelled: true,
                firmware_names: vec!["air780".into()],
            }),
        }),
    );
    assert_eq!(status_text(&app), "cancelled 862012345678902 in air780");
    assert_eq!(
        commands,
        vec![
            devices_cmd(0, None, None),
            Command::from(DeviceCall::LoadJobs { project: demo() }),
            Command::from(DeviceCall::LoadHistory {
                project: demo(),
                id: "862012345678902".into()
            }),
        ]
    );
}

#[test]
fn big_a_uncancels_and_a_refusal_is_told() {
    let mut app = on_devices();
    select_device(&mut app, "sensor-a7");
    update(&mut app, key_shift('A'));
    let Some(Modal::Confirm { prompt, .. }) = &app.modal else {
        panic!("a confirmation expected")
    };
    assert!(prompt.starts_with("Let sensor-a7 be offered its upgrade again"));
    assert_eq!(
        update(&mut app, ch('y')),
        vec![Command::from(DeviceCall::Cancel {
            project: demo(),
            id: "sensor-a7".into(),
            cancel: false,
        })]
    );
    update(
        &mut app,
        Action::from(DeviceAnswer::Cancelled {
            id: "sensor-a7".into(),
            cancel: false,
            result: Ok(CancelResult {
                device_id: "sensor-a7".into(),
                cancelled: false,
                firmware_names: vec![],
            }),
        }),
    );
    assert_eq!(
        status_text(&app),
        "sensor-a7 was already uncancelled (or no plan reaches it): nothing changed"
    );
    update(
        &mut app,
        Action::from(DeviceAnswer::Cancelled {
            id: "sensor-a7".into(),
            cancel: false,
            result: Err(refused(403, "forbidden", "operator role required")),
        }),
    );
    assert_eq!(
        status_text(&app),
        "Uncancelling sensor-a7 failed: 403 forbidden: operator role required"
    );
}

fn key_shift(c: char) -> Action {
    Action::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::SHIFT))
}

#[test]
fn confirm_cancel() {
    let mut app = on_tab('2');
    update(&mut app, ch('j'));
    update(&mut app, ch('a'));
    insta::assert_snapshot!(draw(&app).backend());
}
