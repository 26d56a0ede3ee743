//! Tests of dashboard::screens::project: the status bar's device policy and the project form.

use fota_shared::api::catalog::ProjectSpec;

use super::*;
use crate::fixtures::*;

/// The loaded app with the shown project's record answered.
fn with_record(policy: DevicePolicy) -> App {
    let mut app = on_tab('1');
    let mut demo_project = project("demo");
    demo_project.device_policy = policy;
    update(
        &mut app,
        Action::ProjectLoaded {
            key: demo(),
            result: Ok(demo_project),
        },
    );
    app
}

fn put(policy: Option<DevicePolicy>) -> Command {
    Command::PutProject {
        project: demo(),
        spec: ProjectSpec {
            name: "demo project".into(),
            ban_after: Some(3),
            device_policy: policy,
            daily_bytes_per_device: Some(0),
        },
    }
}

#[test]
fn the_shown_project_is_loaded_at_start_and_on_a_switch() {
    let mut app = App::new("http://x", Some("demo".into()));
    let commands = update(&mut app, Action::Started);
    assert_eq!(
        commands.last(),
        Some(&Command::LoadProject { project: demo() }),
        "{commands:?}"
    );
    // A switch loads the new project's record, unless the project list brought it.
    let mut app = with_record(DevicePolicy::Open);
    update(&mut app, ch('P'));
    update(
        &mut app,
        Action::ProjectsLoaded(Ok(vec![project("demo"), project("lab")])),
    );
    update(&mut app, ch('j'));
    let commands = update(&mut app, key(KeyCode::Enter));
    assert!(
        !commands
            .iter()
            .any(|c| matches!(c, Command::LoadProject { .. })),
        "listed already: {commands:?}"
    );
    assert_eq!(
        app.project_screen
            .record
            .data
            .as_ref()
            .map(|p| p.key.as_str()),
        Some("lab")
    );
    // An answer for a project no longer shown is dropped.
    update(
        &mut app,
        Action::ProjectLoaded {
            key: demo(),
            result: Ok(project("demo")),
        },
    );
    assert_eq!(
        app.project_screen
            .record
            .data
            .as_ref()
            .map(|p| p.key.as_str()),
        Some("lab")
    );
}

#[test]
fn the_status_bar_names_the_device_policy() {
    let app = with_record(DevicePolicy::Registered);
    let terminal = draw(&app);
    insta::assert_snapshot!(terminal.backend());
    find(&terminal, "● online │ policy registered │ ");
    // At 100 columns seven tabs leave room for the project, not the URL.
    find(&terminal, "7 Webhooks project demo ");
    // Until the record arrives the status bar says nothing of it.
    let terminal = draw(&on_tab('1'));
    assert!(!terminal_text(&terminal).contains("policy"));
}

fn terminal_text(terminal: &Terminal<TestBackend>) -> String {
    terminal
        .backend()
        .buffer()
        .content()
        .iter()
        .map(|cell| cell.symbol())
        .collect()
}

#[test]
fn a_rollout_status_keeps_the_shown_policy_in_step() {
    let mut app = with_record(DevicePolicy::Open);
    let (name, mut status) = statuses().remove(0);
    status.trust = Some(TrustBasis::of(DevicePolicy::Signed, &status));
    update(
        &mut app,
        Action::PlanStatusLoaded {
            firmware_name: name,
            result: Ok(status),
        },
    );
    assert_eq!(app.project_screen.policy(), Some(DevicePolicy::Signed));
}

#[test]
fn a_policy_change_is_confirmed_then_saved() {
    let mut app = with_record(DevicePolicy::Open);
    assert_eq!(update(&mut app, ch('E')), vec![]);
    let Some(Modal::Form(form)) = &app.modal else {
        panic!("the project form expected")
    };
    assert_eq!(form.text(FieldId::ProjectName), "demo project");
    assert_eq!(form.text(FieldId::BanAfter), "3");
    assert_eq!(form.choice(FieldId::DevicePolicy), Some("open"));
    update(&mut app, key(KeyCode::Up));
    update(&mut app, key(KeyCode::Right));
    insta::assert_snapshot!("project_form", draw(&app).backend());

    // Saving asks first, saying what unregistered devices will get.
    assert_eq!(update(&mut app, key(KeyCode::Enter)), vec![]);
    let Some(Modal::Confirm { prompt, .. }) = &app.modal else {
        panic!("a confirmation expected, got {:?}", app.modal)
    };
    assert!(
        prompt.starts_with("Set project demo's device policy to registered (from open)?"),
        "{prompt}"
    );
    assert!(prompt.contains("code 72"), "{prompt}");
    insta::assert_snapshot!("confirm_policy_change", draw(&app).backend());
    assert_eq!(
        update(&mut app, ch('y')),
        vec![put(Some(DevicePolicy::Registered))]
    );
    assert_eq!(status_text(&app), "Saving project demo…");

    let mut saved = project("demo");
    saved.device_policy = DevicePolicy::Registered;
    update(
        &mut app,
        Action::ProjectSaved {
            key: demo(),
            result: Ok(saved),
        },
    );
    assert_eq!(app.project_screen.policy(), Some(DevicePolicy::Registered));
    assert_eq!(
        status_text(&app),
        "Saved project demo: device policy registered (every isolate within 60 s)."
    );
    find(&draw(&app), "│ policy registered │ Saved project demo");
}

#[test]
fn no_means_nothing_is_sent() {
    let mut app = with_record(DevicePolicy::Registered);
    update(&mut app, ch('E'));
    update(&mut app, key(KeyCode::Up));
    update(&mut app, key(KeyCode::Right));
    update(&mut app, key(KeyCode::Enter));
    assert!(
        matches!(&app.modal, Some(Modal::Confirm { prompt, .. }) if prompt.contains("code 73"))
    );
    assert_eq!(update(&mut app, ch('n')), vec![]);
    assert_eq!(app.modal, None);
    assert_eq!(app.project_screen.policy(), Some(DevicePolicy::Registered));
}

#[test]
fn other_changes_are_saved_without_asking() {
    let mut app = with_record(DevicePolicy::Open);
    update(&mut app, ch('E'));
    update(&mut app, key(KeyCode::Tab));
    update(&mut app, key(KeyCode::Backspace));
    type_text(&mut app, "5");
    let commands = update(&mut app, key(KeyCode::Enter));
    let Command::PutProject { spec, .. } = &commands[0] else {
        panic!("a project put expected, got {commands:?}")
    };
    assert_eq!(
        (spec.ban_after, spec.device_policy),
        (Some(5), Some(DevicePolicy::Open))
    );
    assert_eq!(app.modal, None);
    assert_eq!(status_text(&app), "Saving project demo…");
    // A refusal says so in the status line.
    update(
        &mut app,
        Action::ProjectSaved {
            key: demo(),
            result: Err(refused(
                400,
                "invalid_name",
                "name must be 1-200 characters",
            )),
        },
    );
    assert_eq!(
        status_text(&app),
        "Saving project demo failed: 400 invalid_name: name must be 1-200 characters"
    );
    assert_eq!(app.status.as_ref().map(|s| s.kind), Some(StatusKind::Error));
}

#[test]
fn a_form_that_cannot_be_read_stays_open_with_its_error() {
    let mut app = with_record(DevicePolicy::Open);
    update(&mut app, ch('E'));
    update(&mut app, key(KeyCode::Tab));
    type_text(&mut app, "000");
    assert_eq!(update(&mut app, key(KeyCode::Enter)), vec![]);
    let Some(Modal::Form(form)) = &app.modal else {
        panic!("the form stays")
    };
    assert_eq!(
        form.error.as_deref(),
        Some("Ban after must be a whole number from 1 to 1000, not \"3000\".")
    );
    // An empty ban-after keeps the project's own.
    update(&mut app, key(KeyCode::Tab));
    update(&mut app, key(KeyCode::Up));
    update(
        &mut app,
        Action::Key(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL)),
    );
    let commands = update(&mut app, key(KeyCode::Enter));
    let [Command::PutProject { spec, .. }] = commands.as_slice() else {
        panic!("a project put expected, got {commands:?}")
    };
    assert_eq!(spec.ban_after, None);
}

#[test]
fn without_its_record_the_form_waits_for_it() {
    let mut app = on_tab('1');
    app.project_screen.record.loading = false;
    assert_eq!(
        update(&mut app, ch('E')),
        vec![Command::LoadProject { project: demo() }]
    );
    assert_eq!(app.modal, None);
    assert_eq!(
        status_text(&app),
        "Project demo is not loaded yet; try again in a moment."
    );
}
