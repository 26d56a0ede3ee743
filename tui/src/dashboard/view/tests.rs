//! Tests of dashboard::view.

use super::*;
use crate::fixtures::*;

#[test]
fn help_lists_every_key() {
    let mut app = loaded_app();
    update(&mut app, ch('?'));
    let terminal = draw(&app);
    insta::assert_snapshot!(terminal.backend());
    for group in crate::dashboard::keymap::groups() {
        for binding in group.bindings {
            find(&terminal, binding.keys);
        }
    }
}

#[test]
fn offline_while_nothing_is_loaded() {
    let mut app = App::new("http://127.0.0.1:9", None);
    update(&mut app, Action::Started);
    update(&mut app, Action::ProjectsLoaded(Err(offline())));
    update(&mut app, Action::Tick);
    let terminal = draw(&app);
    insta::assert_snapshot!(terminal.backend());
    assert_eq!(fg_at(&terminal, "○ offline"), OFFLINE);
}

#[test]
fn project_switcher() {
    let mut app = loaded_app();
    update(&mut app, ch('P'));
    update(
        &mut app,
        Action::ProjectsLoaded(Ok(vec![project("demo"), project("lab"), project("field")])),
    );
    update(&mut app, ch('j'));
    let terminal = draw(&app);
    insta::assert_snapshot!(terminal.backend());
    // The header names the project shown (with seven tabs, 100 columns leave no room for the
    // URL, which goes first).
    find(&terminal, "7 Webhooks project demo ");
}

#[test]
fn the_header_shows_the_url_where_there_is_room_and_the_project_always() {
    let app = loaded_app();
    let draw_at = |width: u16| {
        let mut terminal = Terminal::new(TestBackend::new(width, 30)).unwrap();
        terminal
            .draw(|frame| frame.render_widget(&app, frame.area()))
            .unwrap();
        terminal
    };
    find(&draw_at(140), "project demo · http://127.0.0.1:8787 ");
    find(&draw_at(100), "7 Webhooks project demo ");
    // Narrower still, the project is cut at its end, never at its start.
    find(&draw_at(93), "7 Webhooks projec");
}
