//! Tests of dashboard::view.

use super::*;
use crate::fixtures::*;

#[test]
fn help_lists_every_key() {
    let mut app = loaded_app();
    update(&mut app, ch('?'));
    let terminal = draw(&app);
    insta::assert_snapshot!(terminal.backend());
    for group in crate::dashboard::keymap::KEYMAP {
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
    // The header names the project shown.
    find(&terminal, "project demo · http://127.0.0.1:8787");
}
