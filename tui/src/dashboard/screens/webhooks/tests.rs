//! Tests of dashboard::screens::webhooks.

use fota_shared::api::events::{Redelivery, Webhook, WebhookDelivery, WebhookState};
use fota_shared::model::event::EventType;

use super::*;
use crate::fixtures::*;

fn hook(name: &str, state: WebhookState, pending: u64, url: &str) -> Webhook {
    Webhook {
        name: name.into(),
        url: url.into(),
        events: vec!["rollout.*".into(), "device.banned".into()],
        state,
        created_at: "2026-12-01T08:00:00Z".into(),
        pending,
        failing_since: None,
        next_attempt_at: None,
    }
}

fn hooks() -> Vec<Webhook> {
    vec![
        hook(
            "ops",
            WebhookState::Active,
            0,
            "https://ops.example.com/fota",
        ),
        hook(
            "pager",
            WebhookState::Failing,
            3,
            "https://pager.example.net/hook",
        ),
    ]
}

/// The latest deliveries to `pager`, newest first: a failing retry, then one that went through.
fn deliveries() -> Vec<WebhookDelivery> {
    vec![
        WebhookDelivery {
            id: 18,
            event_id: 44,
            event_type: EventType::DeviceBanned,
            attempt: 3,
            at: "2026-12-03T08:44:10Z".into(),
            status: Some(502),
            latency: 1204,
            ok: false,
            error: None,
            redelivery: false,
        },
        WebhookDelivery {
            id: 17,
            event_id: 43,
            event_type: EventType::RolloutPaused,
            attempt: 1,
            at: "2026-12-03T08:43:02Z".into(),
            status: Some(200),
            latency: 87,
            ok: true,
            error: None,
            redelivery: false,
        },
    ]
}

fn call(call: WebhookCall) -> Command {
    Command::from(call)
}

fn list_cmd() -> Command {
    call(WebhookCall::List { project: demo() })
}

fn deliveries_cmd(name: &str) -> Command {
    call(WebhookCall::Deliveries {
        project: demo(),
        name: name.into(),
    })
}

fn listed(result: Outcome<Vec<Webhook>>) -> Action {
    Action::from(WebhookAnswer::Listed {
        project: demo(),
        result,
    })
}

fn delivered(name: &str, result: Outcome<Vec<WebhookDelivery>>) -> Action {
    Action::from(WebhookAnswer::Deliveries {
        project: demo(),
        name: name.into(),
        result,
    })
}

/// The Webhooks tab with `pager` selected and its deliveries loaded.
fn on_pager() -> App {
    let mut app = loaded_app();
    assert_eq!(update(&mut app, ch('7')), vec![list_cmd()]);
    assert_eq!(
        update(&mut app, listed(Ok(hooks()))),
        vec![deliveries_cmd("ops")]
    );
    update(&mut app, delivered("ops", Ok(vec![])));
    assert_eq!(update(&mut app, ch('j')), vec![deliveries_cmd("pager")]);
    update(&mut app, delivered("pager", Ok(deliveries())));
    app
}

#[test]
fn the_tab_lists_the_webhooks_then_the_selected_ones_deliveries() {
    let app = on_pager();
    assert_eq!(app.webhooks.selected_hook().unwrap().name, "pager");
    assert_eq!(app.webhooks.selected_delivery().unwrap().id, 18);
    // Another project's late answer changes nothing.
    let mut app = app;
    update(
        &mut app,
        Action::from(WebhookAnswer::Listed {
            project: "lab".into(),
            result: Ok(vec![]),
        }),
    );
    assert_eq!(app.webhooks.hooks.data.as_ref().map(Vec::len), Some(2));
    // pager deleted: the selection moves to ops and asks for its deliveries; with no webhook
    // left, no deliveries are shown.
    let ops = vec![hooks()[0].clone()];
    assert_eq!(
        update(&mut app, listed(Ok(ops))),
        vec![deliveries_cmd("ops")]
    );
    assert_eq!(app.webhooks.deliveries.name.as_deref(), Some("ops"));
    assert_eq!(update(&mut app, listed(Ok(vec![]))), vec![]);
    assert_eq!(app.webhooks.deliveries, Deliveries::default());
}

#[test]
fn enter_moves_the_selection_to_the_deliveries_and_back() {
    let mut app = on_pager();
    update(&mut app, key(KeyCode::Enter));
    assert_eq!(app.webhooks.focus, Focus::Deliveries);
    assert_eq!(update(&mut app, ch('j')), vec![]);
    assert_eq!(app.webhooks.selected_delivery().unwrap().id, 17);
    assert_eq!(app.webhooks.selected_hook().unwrap().name, "pager");
    update(&mut app, key(KeyCode::Enter));
    assert_eq!(app.webhooks.focus, Focus::Webhooks);
}

#[test]
fn r_asks_before_redelivering_and_big_r_refreshes() {
    let mut app = on_pager();
    // r is the tab's here, not the global refresh.
    assert_eq!(update(&mut app, ch('r')), vec![]);
    let Some(Modal::Confirm { prompt, .. }) = &app.modal else {
        panic!("a confirmation expected, got {:?}", app.modal);
    };
    assert!(prompt.contains("event #44 (device.banned) to webhook pager"));
    assert_eq!(update(&mut app, ch('n')), vec![]);
    update(&mut app, ch('r'));
    let redeliver = call(WebhookCall::Redeliver {
        project: demo(),
        name: "pager".into(),
        delivery: 18,
    });
    assert_eq!(update(&mut app, ch('y')), vec![redeliver]);
    assert_eq!(
        status_text(&app),
        "Redelivering delivery 18 of webhook pager…"
    );
    let answer = Action::from(WebhookAnswer::Redelivered {
        project: demo(),
        name: "pager".into(),
        delivery: 18,
        result: Ok(Redelivery {
            webhook: "pager".into(),
            event_id: 44,
        }),
    });
    assert_eq!(update(&mut app, answer), vec![deliveries_cmd("pager")]);
    assert_eq!(
        status_text(&app),
        "Event #44 queued for webhook pager again."
    );
    let refused_answer = Action::from(WebhookAnswer::Redelivered {
        project: demo(),
        name: "pager".into(),
        delivery: 18,
        result: Err(refused(404, "not_found", "no such delivery")),
    });
    update(&mut app, refused_answer);
    assert_eq!(
        status_text(&app),
        "Redelivering delivery 18 of webhook pager failed: 404 not_found: no such delivery"
    );
    // R reloads the list; the deliveries reload is still out.
    app.webhooks.hooks.loading = false;
    update(&mut app, delivered("pager", Ok(deliveries())));
    assert_eq!(
        update(&mut app, key_shift('R')),
        vec![list_cmd(), deliveries_cmd("pager")]
    );
}

#[test]
fn r_without_a_delivery_says_so() {
    let mut app = loaded_app();
    update(&mut app, ch('7'));
    update(&mut app, listed(Ok(hooks())));
    update(&mut app, delivered("ops", Ok(vec![])));
    assert_eq!(update(&mut app, ch('r')), vec![]);
    assert_eq!(app.modal, None);
    assert!(status_text(&app).starts_with("No delivery selected"));
}

fn key_shift(c: char) -> Action {
    Action::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::SHIFT))
}

#[test]
fn webhooks_tab() {
    let app = on_pager();
    let terminal = draw(&app);
    insta::assert_snapshot!(terminal.backend());
    find(&terminal, "pager");
    assert_eq!(fg_at(&terminal, "failing"), PENDING);
    assert_eq!(fg_at(&terminal, "failed 502"), FAILED);
    find(&terminal, "ok 200");
}

#[test]
fn webhooks_tab_without_webhooks_points_to_the_cli() {
    let mut app = loaded_app();
    update(&mut app, ch('7'));
    update(&mut app, listed(Ok(vec![])));
    let terminal = draw(&app);
    insta::assert_snapshot!(terminal.backend());
    find(&terminal, "fota webhook add");
}

#[test]
fn confirm_redeliver() {
    let mut app = on_pager();
    update(&mut app, ch('r'));
    insta::assert_snapshot!(draw(&app).backend());
}
