//! Tests of dashboard::screens::events: the feed's loop (start, follow, retry, no spin, project
//! switch, quit) and the Events tab.

use fota_shared::api::events::{Event, EventPage};
use fota_shared::model::event::EventType;
use serde_json::json;

use super::*;
use crate::dashboard::runner;
use crate::dashboard::screens::{ScreenAnswer, ScreenCommand};
use crate::fixtures::*;

fn event(id: u64, event_type: EventType, data: serde_json::Value) -> Event {
    Event {
        id,
        event_type,
        project_key: demo(),
        at: format!("2026-12-03T08:{:02}:00Z", id % 60),
        data,
    }
}

/// A few events as the edge writes them, oldest first.
fn events() -> Vec<Event> {
    vec![
        event(
            42,
            EventType::RolloutPaused,
            json!({"firmware_name": "air780", "by": "gate", "reason": "failure rate 12% over 10%"}),
        ),
        event(
            43,
            EventType::DeviceBanned,
            json!({"device_id": "862012345678902", "firmware_name": "air780", "version": "1.2.0"}),
        ),
        event(
            44,
            EventType::JobCancelled,
            json!({"device_id": "sensor-a7", "by": "token", "actor": "ops"}),
        ),
    ]
}

fn page(events: Vec<Event>, cursor: u64, latest: u64) -> EventPage {
    EventPage {
        events,
        cursor: cursor.to_string(),
        latest,
    }
}

fn follow(generation: u64, after: Option<u64>) -> Command {
    FollowEvents {
        project: demo(),
        generation,
        after,
    }
    .into()
}

fn followed(generation: u64, after: Option<u64>, result: Outcome<EventPage>) -> Action {
    Action::Screen(ScreenAnswer::Events(EventsFollowed {
        call: FollowEvents {
            project: demo(),
            generation,
            after,
        },
        result,
    }))
}

fn feed_calls(commands: Vec<Command>) -> Vec<Command> {
    commands
        .into_iter()
        .filter(|c| matches!(c, Command::Screen(ScreenCommand::Events(_))))
        .collect()
}

/// The app with the feed following `demo` after #41.
fn following() -> App {
    let mut app = loaded_app();
    let commands = update(&mut app, followed(1, None, Ok(page(vec![], 0, 41))));
    assert_eq!(commands, vec![follow(1, Some(41))]);
    app
}

#[test]
fn the_feed_starts_with_the_app_and_follows_from_the_latest_event() {
    let mut app = App::new("http://x", Some("demo".into()));
    let commands = update(&mut app, Action::Started);
    assert!(commands.contains(&follow(1, None)), "{commands:?}");
    // The first answer only says where the log stands: what it lists is old news.
    let old = page(events(), 44, 44);
    assert_eq!(
        update(&mut app, followed(1, None, Ok(old))),
        vec![follow(1, Some(44))]
    );
    assert!(app.events.events.is_empty());
    assert_eq!(app.status, None);
    // A refresh or another tab does not start a second loop.
    assert!(feed_calls(update(&mut app, ch('r'))).is_empty());
    assert!(feed_calls(update(&mut app, ch('6'))).is_empty());
}

#[test]
fn each_arrival_is_told_and_kept_newest_first_and_the_next_call_asks_after_it() {
    let mut app = following();
    let commands = update(&mut app, followed(1, Some(41), Ok(page(events(), 44, 44))));
    assert_eq!(commands, vec![follow(1, Some(44))]);
    let ids: Vec<u64> = app.events.events.iter().map(|e| e.id).collect();
    assert_eq!(ids, vec![44, 43, 42]);
    assert_eq!(
        status_text(&app),
        "#44 2026-12-03T08:44:00Z job.cancelled sensor-a7 by token ops"
    );
    // An event already kept (the server repeats the cursor's own) is not kept twice.
    let again = page(vec![events()[2].clone()], 44, 44);
    update(&mut app, followed(1, Some(44), Ok(again)));
    assert_eq!(app.events.events.len(), 3);
}

#[test]
fn the_list_keeps_the_newest_200_and_the_selection_stays_on_its_event() {
    let mut app = following();
    let many: Vec<Event> = (42..292)
        .map(|id| {
            event(
                id,
                EventType::PlanChanged,
                json!({"firmware_name": "air780"}),
            )
        })
        .collect();
    update(&mut app, followed(1, Some(41), Ok(page(many, 291, 291))));
    assert_eq!(app.events.events.len(), KEEP);
    assert_eq!(app.events.events.front().map(|e| e.id), Some(291));
    assert_eq!(app.events.events.back().map(|e| e.id), Some(92));
    update(&mut app, ch('6'));
    update(&mut app, ch('j'));
    assert_eq!(app.events.selected_event().map(|e| e.id), Some(290));
    let next = vec![event(292, EventType::PlanChanged, json!({}))];
    update(&mut app, followed(1, Some(291), Ok(page(next, 292, 292))));
    assert_eq!(app.events.selected_event().map(|e| e.id), Some(290));
}

#[test]
fn a_failure_waits_five_seconds_before_the_next_call() {
    let mut app = following();
    let commands = update(&mut app, followed(1, Some(41), Err(offline())));
    assert_eq!(commands, vec![]);
    assert!(app.events.feed.error.is_some());
    assert!(feed_calls(ticks(&mut app, RETRY_TICKS - 1)).is_empty());
    assert_eq!(
        feed_calls(ticks(&mut app, 1)),
        vec![follow(1, Some(41))],
        "after 5 s, from where it stood"
    );
    // A refused call (not a lost connection) backs off the same way.
    update(
        &mut app,
        followed(1, Some(41), Err(refused(403, "forbidden", "no"))),
    );
    assert!(feed_calls(ticks(&mut app, RETRY_TICKS - 1)).is_empty());
    assert_eq!(feed_calls(ticks(&mut app, 1)).len(), 1);
    // Success clears the error.
    update(&mut app, followed(1, Some(41), Ok(page(events(), 44, 44))));
    assert_eq!(app.events.feed.error, None);
}

#[test]
fn an_empty_answer_that_did_not_wait_is_not_asked_again_at_once() {
    let mut app = following();
    assert_eq!(
        update(&mut app, followed(1, Some(41), Ok(page(vec![], 41, 41)))),
        vec![]
    );
    assert!(feed_calls(ticks(&mut app, MIN_POLL_TICKS - 1)).is_empty());
    assert_eq!(feed_calls(ticks(&mut app, 1)), vec![follow(1, Some(41))]);
    // One that held the answer as a long poll does is followed by the next call at once.
    ticks(&mut app, MIN_POLL_TICKS);
    assert_eq!(
        update(&mut app, followed(1, Some(41), Ok(page(vec![], 41, 41)))),
        vec![follow(1, Some(41))]
    );
}

#[test]
fn another_project_starts_the_feed_over_and_ends_the_old_loop() {
    let mut app = following();
    update(&mut app, followed(1, Some(41), Ok(page(events(), 44, 44))));
    update(&mut app, ch('P'));
    update(
        &mut app,
        Action::ProjectsLoaded(Ok(vec![project("demo"), project("lab")])),
    );
    update(&mut app, ch('j'));
    let commands = update(&mut app, key(KeyCode::Enter));
    let lab = Command::from(FollowEvents {
        project: "lab".into(),
        generation: 2,
        after: None,
    });
    assert_eq!(feed_calls(commands), vec![lab]);
    assert!(app.events.events.is_empty(), "demo's events are gone");
    // demo's call still out comes back: it is dropped and asks for nothing more.
    assert_eq!(
        update(&mut app, followed(1, Some(44), Ok(page(events(), 44, 44)))),
        vec![]
    );
    assert!(app.events.events.is_empty());
}

/// The real loop: once `q` is read, no answer is taken and no call is made.
#[tokio::test]
async fn the_feed_stops_when_the_dashboard_quits() {
    let mut terminal = Terminal::new(TestBackend::new(100, 30)).unwrap();
    let mut app = App::new("http://127.0.0.1:8787", Some("demo".into()));
    let (action_tx, mut actions) = tokio::sync::mpsc::unbounded_channel();
    let (command_tx, mut commands) = tokio::sync::mpsc::unbounded_channel();
    for action in [
        followed(1, None, Ok(page(vec![], 41, 41))),
        ch('q'),
        followed(1, Some(41), Ok(page(events(), 44, 44))),
    ] {
        action_tx.send(action).unwrap();
    }
    runner::run(&mut terminal, &mut app, &mut actions, &command_tx)
        .await
        .unwrap();
    let mut sent = Vec::new();
    while let Ok(command) = commands.try_recv() {
        sent.push(command);
    }
    assert_eq!(
        feed_calls(sent),
        vec![follow(1, None), follow(1, Some(41))],
        "the answer after q is never taken"
    );
    assert!(app.events.events.is_empty());
}

#[test]
fn events_tab() {
    let mut app = following();
    update(&mut app, followed(1, Some(41), Ok(page(events(), 44, 44))));
    update(&mut app, ch('6'));
    update(&mut app, ch('j'));
    let terminal = draw(&app);
    insta::assert_snapshot!(terminal.backend());
    find(&terminal, "Events · 3 kept · following after #44");
    find(&terminal, "#43 2026-12-03T08:43:00Z device.banned");
    find(&terminal, "device_id");
}

#[test]
fn events_tab_before_anything_arrived_and_after_a_failure() {
    let mut app = following();
    update(&mut app, ch('6'));
    let terminal = draw(&app);
    find(&terminal, "No events since the dashboard started");
    update(&mut app, followed(1, Some(41), Err(offline())));
    let terminal = draw(&app);
    insta::assert_snapshot!(terminal.backend());
    find(&terminal, "retrying in 5 s");
    assert_eq!(fg_at(&terminal, "Loading events failed"), ERROR);
}
