//! Tests of dashboard::app.

use super::*;
use crate::fixtures::*;

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
            Command::from(LoadActivity {
                project: "p1".into(),
                hours: ACTIVITY_HOURS
            }),
            // The events feed's first call: where the log stands.
            Command::from(crate::dashboard::screens::events::FollowEvents {
                project: "p1".into(),
                generation: 1,
                after: None
            })
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
        vec![
            Command::LoadFleet { project: demo() },
            activity_cmd(),
            Command::from(crate::dashboard::screens::events::FollowEvents {
                project: demo(),
                generation: 1,
                after: None
            }),
            Command::LoadProject { project: demo() }
        ]
    );
    assert!(app.fleet.summary.loading);
    assert!(app.fleet.activity.loading);
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
        (KeyCode::Right, Tab::Events),
        (KeyCode::Right, Tab::Webhooks),
        (KeyCode::Right, Tab::Fleet),
        (KeyCode::BackTab, Tab::Webhooks),
        (KeyCode::BackTab, Tab::Events),
        (KeyCode::Char('h'), Tab::Audit),
        (KeyCode::Left, Tab::Rollouts),
        (KeyCode::Char('3'), Tab::Firmware),
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
        vec![Command::from(FirmwareCall::Load { project: demo() })]
    );
    assert_eq!(update(&mut app, ch('4')), vec![plans_cmd()]);
    assert_eq!(
        update(&mut app, ch('2')),
        vec![
            devices_cmd(0, None, None),
            Command::from(DeviceCall::LoadJobs { project: demo() })
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
    app.firmware.images.loading = false;
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
        assert_eq!(app.firmware.selected, expected, "step {i}: {code:?}");
    }
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
    update(&mut app, Action::from(PlanAnswer::Loaded(Err(offline()))));
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
    update(
        &mut app,
        Action::from(FirmwareAnswer::Loaded(Ok(firmware()))),
    );
    assert_eq!(ticks(&mut app, REFRESH_TICKS - 1), vec![]);
    assert_eq!(
        ticks(&mut app, 1),
        vec![Command::from(FirmwareCall::Load { project: demo() })]
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
        Action::from(FirmwareAnswer::Loaded(Err(refused(
            401,
            "unauthorized",
            "missing or wrong token",
        )))),
    );
    assert_eq!(
        app.firmware.images.error.as_deref(),
        Some("Loading firmware failed: 401 unauthorized: missing or wrong token")
    );
    assert!(app.firmware.images.data.is_some(), "old data stays");
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

#[test]
fn p_switches_the_project_and_every_tab_starts_over() {
    let mut app = loaded_app();
    update(&mut app, ch('2'));
    // The picker asks for the current list and shows what is known meanwhile.
    assert_eq!(update(&mut app, ch('P')), vec![Command::LoadProjects]);
    let Some(Modal::Pick(picker)) = &app.modal else {
        panic!("a project picker expected")
    };
    assert_eq!(picker.options, None);
    update(
        &mut app,
        Action::ProjectsLoaded(Ok(vec![project("demo"), project("lab")])),
    );
    let Some(Modal::Pick(picker)) = &app.modal else {
        panic!("the picker stays open")
    };
    assert_eq!(picker.selected, 0, "on the current project");
    // Esc keeps the project.
    update(&mut app, key(KeyCode::Esc));
    assert_eq!(app.modal, None);
    assert_eq!(app.project.as_deref(), Some("demo"));

    update(&mut app, ch('P'));
    update(&mut app, ch('j'));
    let commands = update(&mut app, key(KeyCode::Enter));
    assert_eq!(app.project.as_deref(), Some("lab"));
    assert_eq!(app.modal, None);
    assert!(
        app.devices.list.rows.is_empty(),
        "the old project's devices are gone"
    );
    assert!(
        matches!(&commands[0], Command::Screen(ScreenCommand::Devices(DeviceCall::LoadPage { project, .. })) if project == "lab"),
        "{commands:?}"
    );
    assert_eq!(status_text(&app), "Showing project lab.");
    // Picking the project shown changes nothing.
    update(&mut app, ch('P'));
    assert_eq!(update(&mut app, key(KeyCode::Enter)), vec![]);
    assert_eq!(app.project.as_deref(), Some("lab"));
}
