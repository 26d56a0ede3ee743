//! Tests of dashboard::screens::rollouts.

use fota_shared::api::ota::*;
use fota_shared::model::plan::*;
use fota_shared::model::rollout::*;

use super::*;
use crate::dashboard::screens::ScreenCommand;
use crate::fixtures::*;

/// Submits the open plan form as an operator does: Enter shows the server's preview in the
/// form, Enter again (the same values) saves.
fn preview_then_submit(app: &mut App) -> Vec<Command> {
    let commands = update(app, key(KeyCode::Enter));
    let [Command::Screen(ScreenCommand::Rollouts(PlanCall::Preview {
        firmware_name,
        spec,
        ..
    }))] = commands.as_slice()
    else {
        return commands;
    };
    update(
        app,
        Action::from(PlanAnswer::Previewed {
            firmware_name: firmware_name.clone(),
            spec: spec.clone(),
            result: Ok(preview()),
        }),
    );
    update(app, key(KeyCode::Enter))
}

#[test]
fn the_plan_form_shows_the_preview_before_it_saves() {
    let mut app = on_tab('4');
    update(&mut app, ch('e'));
    let commands = update(&mut app, key(KeyCode::Enter));
    let [Command::Screen(ScreenCommand::Rollouts(PlanCall::Preview {
        firmware_name,
        spec,
        ..
    }))] = commands.as_slice()
    else {
        panic!("a preview first, got {commands:?}")
    };
    assert_eq!(firmware_name, "air780");
    let spec = spec.clone();
    update(
        &mut app,
        Action::from(PlanAnswer::Previewed {
            firmware_name: "air780".into(),
            spec: spec.clone(),
            result: Ok(preview()),
        }),
    );
    let terminal = draw(&app);
    insta::assert_snapshot!(terminal.backend());
    find(&terminal, "Preview: 44 devices");
    // Any edit drops the preview: the next Enter previews again.
    update(&mut app, ch('9'));
    let commands = update(&mut app, key(KeyCode::Enter));
    let [Command::Screen(ScreenCommand::Rollouts(PlanCall::Preview { spec: edited, .. }))] =
        commands.as_slice()
    else {
        panic!("a new preview, got {commands:?}")
    };
    assert_eq!(edited.target_version, "1.2.09");
    update(
        &mut app,
        Action::from(PlanAnswer::Previewed {
            firmware_name: "air780".into(),
            spec: edited.clone(),
            result: Err(refused(
                409,
                "firmware_missing",
                "upload air780 version 1.2.09",
            )),
        }),
    );
    let Some(Modal::Form(form)) = &app.modal else {
        panic!("the form stays")
    };
    assert_eq!(
        form.error.as_deref(),
        Some("Previewing plan air780 failed: 409 firmware_missing: upload air780 version 1.2.09")
    );
    update(&mut app, key(KeyCode::Backspace));
    assert_eq!(
        preview_then_submit(&mut app),
        vec![Command::from(PlanCall::Put {
            project: demo(),
            firmware_name: "air780".into(),
            spec,
        })]
    );
}

#[test]
fn a_plan_form_puts_a_spec_and_stays_open_when_refused() {
    let mut app = loaded_app();
    update(&mut app, ch('4'));
    app.rollouts.plans.loading = false;
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
    let commands = preview_then_submit(&mut app);
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
        expected_devices: None,
        deltas: None,
    };
    assert_eq!(
        commands,
        vec![Command::from(PlanCall::Put {
            project: demo(),
            firmware_name: "ec20".into(),
            spec: spec.clone()
        })]
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
        Action::from(PlanAnswer::Saved {
            firmware_name: "ec20".into(),
            result: Err(refused(400, "unknown_image", "no firmware ec20 2.0.0")),
        }),
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
        Action::from(PlanAnswer::Saved {
            firmware_name: "ec20".into(),
            result: Ok(plan),
        }),
    );
    assert_eq!(app.modal, None);
    assert_eq!(commands, vec![plans_cmd()]);
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
        vec![Command::from(PlanCall::Delete {
            project: demo(),
            firmware_name: "air780".into()
        })]
    );
}

#[test]
fn the_rollouts_tab_loads_every_plans_status_and_keeps_the_counts_live() {
    let mut app = App::new("http://x", Some("demo".into()));
    update(&mut app, Action::Started);
    assert_eq!(update(&mut app, ch('4')), vec![plans_cmd()]);
    assert_eq!(
        update(&mut app, Action::from(PlanAnswer::Loaded(Ok(plans())))),
        vec![status_cmd("air780"), status_cmd("esp32")]
    );
    load_statuses(&mut app);
    assert_eq!(
        app.rollouts.rollout_status("air780").map(|s| s.state),
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
        app.rollouts.status["esp32"].status.error.as_deref(),
        Some("Loading rollout status failed: 404 not_found: route")
    );
    assert!(app.rollouts.status["air780"].status.error.is_none());
    // On another tab the fast refresh stops.
    update(&mut app, ch('3'));
    app.firmware.images.loading = false;
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
        app.rollouts.status["air780"].control_error.as_deref(),
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
    assert_eq!(app.rollouts.status["air780"].control_error, None);
    update(&mut app, ch('y'));
    let mut resumed = statuses()[0].1.clone();
    resumed.state = RolloutPhase::Running;
    resumed.paused_reason = None;
    update(
        &mut app,
        Action::from(PlanAnswer::Controlled {
            firmware_name: "air780".into(),
            action: RolloutAction::Resume,
            result: Ok(resumed),
        }),
    );
    assert_eq!(
        app.rollouts.rollout_status("air780").map(|s| s.state),
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
    update(&mut app, Action::from(PlanAnswer::Loaded(Ok(rest))));
    assert!(!app.rollouts.status.contains_key("air780"));
    assert!(app.rollouts.status.contains_key("esp32"));
}

#[test]
fn a_plan_form_with_rollout_fields_puts_a_staged_rollout() {
    let mut app = on_rollouts();
    update(&mut app, ch('j'));
    update(&mut app, ch('e'));
    let Some(Modal::Form(form)) = &mut app.modal else {
        panic!("edit form expected")
    };
    let set = |form: &mut Form, label: FieldId, value: &str| {
        let field = form.fields.iter_mut().find(|f| f.id == label).unwrap();
        field.value = FieldValue::Text(value.into());
    };
    set(form, FieldId::Stages, "5, 50 100%");
    set(form, FieldId::MaxFailure, "10%");
    set(form, FieldId::Window, "22:00-04:00");
    set(form, FieldId::Soak, "2h");
    set(form, FieldId::JobTimeout, "30m");
    let commands = preview_then_submit(&mut app);
    let [Command::Screen(ScreenCommand::Rollouts(PlanCall::Put { spec, .. }))] =
        commands.as_slice()
    else {
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
        Action::from(PlanAnswer::Saved {
            firmware_name: "esp32".into(),
            result: Err(refused(400, "invalid_rollout", "x")),
        }),
    );
    let Some(Modal::Form(form)) = &mut app.modal else {
        panic!("form stays")
    };
    set(form, FieldId::Window, "1:00-5:00");
    assert_eq!(update(&mut app, key(KeyCode::Enter)), vec![]);
    let Some(Modal::Form(form)) = &app.modal else {
        panic!("form stays")
    };
    assert_eq!(
        form.error.as_deref(),
        Some("Window: \"1:00-5:00\" is not HH:MM-HH:MM.")
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
        .position(|f| f.id == FieldId::NeedsConfirm)
        .unwrap();
    update(&mut app, ch(' '));
    let commands = preview_then_submit(&mut app);
    let [Command::Screen(ScreenCommand::Rollouts(PlanCall::Put { spec, .. }))] =
        commands.as_slice()
    else {
        panic!("a plan put expected, got {commands:?}");
    };
    assert!(spec.needs_confirm);
}

#[test]
fn unverified_devices_get_their_own_line_under_the_stages() {
    let mut app = on_tab('4');
    for view in app.rollouts.status.values_mut() {
        if let Some(status) = view.status.data.as_mut() {
            status.unverified = RolloutCounts {
                eligible: 7,
                offered: 2,
                succeeded: 0,
                failed: 0,
                banned: 2,
                pending: 0,
                reported_without_delivery: 0,
            };
        }
    }
    let terminal = draw(&app);
    let (_, unverified) = find(&terminal, "│unverified");
    let (_, last_stage) = find(&terminal, "4 100%");
    assert_eq!(unverified, last_stage + 1, "right under the last stage");
}

#[test]
fn reports_without_delivery_get_a_line_when_there_are_any() {
    let terminal = draw(&on_tab('4'));
    assert!(!format!("{:?}", terminal.backend()).contains("unproven"));
    let mut app = on_tab('4');
    for view in app.rollouts.status.values_mut() {
        if let Some(status) = view.status.data.as_mut() {
            status.totals.reported_without_delivery = 3;
        }
    }
    let terminal = draw(&app);
    let (x, _) = find(&terminal, "unproven");
    assert_eq!(
        fg_at(&terminal, "3 reported the target without a whole image"),
        PAUSED,
        "said in the paused colour, beside its label at column {x}"
    );
}

#[test]
fn rollouts_tab() {
    let terminal = draw(&on_tab('4'));
    insta::assert_snapshot!(terminal.backend());
    // A paused rollout stands out: its state in the paused colour, bold.
    let paused = cell(&terminal, "paused 2/4");
    assert_eq!(paused.fg, PAUSED);
    assert!(paused.modifier.contains(Modifier::BOLD));
    assert_eq!(fg_at(&terminal, "running 1/1"), ACCENT);
    // Counts and bars in their colours: failed red, succeeded green, pending yellow.
    assert_eq!(fg_at(&terminal, "5✗ 5… /40"), FAILED);
    assert_eq!(fg_at(&terminal, "20✓"), SUCCEEDED);
    assert_eq!(fg_at(&terminal, "5… /40"), IN_FLIGHT);
    let (x, y) = find(&terminal, "paused 2/4");
    let bar_x = x + 14 + 5;
    let buffer = terminal.backend().buffer();
    let colours: Vec<Color> = (bar_x..bar_x + LIST_BAR)
        .map(|x| buffer[(x, y)].fg)
        .collect();
    // 40 eligible in 20 cells: 20 succeeded → 10, 5 failed (4 + 1 banned) → 3 (ending at
    // 25/40 → 12.5 → 13), 5 pending → 2 (15), 10 not offered → 5.
    let count = |c: Color| colours.iter().filter(|&&x| x == c).count();
    assert_eq!(
        (
            count(SUCCEEDED),
            count(FAILED),
            count(IN_FLIGHT),
            count(NOT_OFFERED)
        ),
        (10, 3, 2, 5),
        "{colours:?}"
    );
    assert_eq!(colours[10], FAILED, "failed follows succeeded");
    assert_eq!(fg_at(&terminal, "failure ratio 0.25"), PAUSED);
}

#[test]
fn rollout_control_refused_in_place() {
    let mut app = on_tab('4');
    update(&mut app, ch('p'));
    update(&mut app, ch('y'));
    update(&mut app, pause_refused());
    let terminal = draw(&app);
    insta::assert_snapshot!(terminal.backend());
    let (_, detail_y) = find(&terminal, "┌ Rollout ");
    let (_, error_y) = find(&terminal, "│Pausing failed: 409 invalid_transition");
    assert_eq!(error_y, detail_y + 2, "right under the rollout it concerns");
    assert_eq!(
        fg_at(&terminal, "Pausing failed: 409 invalid_transition"),
        ERROR
    );
}

#[test]
fn confirm_cancel_rollout() {
    let mut app = on_tab('4');
    update(&mut app, ch('c'));
    insta::assert_snapshot!(draw(&app).backend());
}

#[test]
fn plan_form_with_an_error() {
    let mut app = on_tab('4');
    update(&mut app, ch('e'));
    update(&mut app, key(KeyCode::Tab));
    if let Some(Modal::Form(form)) = &mut app.modal {
        form.error =
            Some("Saving plan air780 failed: 400 unknown_image: no firmware air780 9".into());
    }
    let terminal = draw(&app);
    insta::assert_snapshot!(terminal.backend());
    assert_eq!(fg_at(&terminal, "Saving plan air780 failed"), ERROR);
}

#[test]
fn the_trust_basis_shows_the_policy_and_the_unverified_apart() {
    let mut app = on_tab('4');
    for view in app.rollouts.status.values_mut() {
        if let Some(status) = view.status.data.as_mut() {
            status.unverified = RolloutCounts {
                eligible: 7,
                offered: 3,
                succeeded: 1,
                failed: 0,
                banned: 0,
                pending: 2,
                reported_without_delivery: 0,
            };
            status.trust = Some(TrustBasis::of(DevicePolicy::Registered, status));
        }
    }
    let terminal = draw(&app);
    insta::assert_snapshot!(terminal.backend());
    let (x, trust_y) = find(
        &terminal,
        "│trust      registered policy · trusts 40 devices · 7 unverified, counted apart",
    );
    assert!(cell(&terminal, "registered policy")
        .modifier
        .contains(Modifier::BOLD));
    // The unverified count stands apart in the paused colour, and the basis follows below.
    assert_eq!(fg_at(&terminal, "7 unverified, counted apart"), PAUSED);
    assert_eq!(
        find(
            &terminal,
            "registered devices (the project serves no other)"
        ),
        (x + 12, trust_y + 1)
    );
    // No trust line from an edge that does not say its basis.
    for view in app.rollouts.status.values_mut() {
        if let Some(status) = view.status.data.as_mut() {
            status.trust = None;
        }
    }
    let terminal = draw(&app);
    let text: String = terminal
        .backend()
        .buffer()
        .content()
        .iter()
        .map(|c| c.symbol())
        .collect();
    assert!(!text.contains("│trust "), "{text}");
}
