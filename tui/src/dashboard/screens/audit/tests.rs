//! Tests of dashboard::screens::audit.

use fota_shared::api::access::*;
use fota_shared::api::query::*;

use super::*;
use crate::fixtures::*;

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
        Action::from(AuditLoaded {
            generation: 1,
            cursor: None,
            result: Ok(AuditPage {
                entries: vec![],
                next_cursor: None,
            }),
        }),
    );
    assert_eq!(app.audit.list.rows.len(), 4);
    let by_ci: Vec<AuditEntry> = audit().into_iter().filter(|e| e.actor == "ci").collect();
    audit_page(&mut app, None, by_ci, None);
    assert_eq!(app.audit.list.rows.len(), 2);
    update(&mut app, key(KeyCode::Enter));
    assert!(!app.audit.list.filtering);
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
    assert_eq!(app.audit.list.selected, 10);
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
    assert_eq!(app.audit.list.rows.len(), 149);
    assert_eq!(app.audit.list.selected, 98);
    assert_eq!(app.audit.list.next_cursor, None);
    assert_eq!(
        update(&mut app, ch('G')),
        vec![],
        "no cursor, no more pages"
    );
    // A refresh of the first page puts new entries on top and keeps the selected one.
    update(&mut app, ch('g'));
    let mut fresh = audit_entries(502, 2);
    fresh.extend(audit_entries(500, 98));
    app.audit.list.loading = true;
    audit_page(&mut app, None, fresh, Some("403"));
    assert_eq!(app.audit.list.rows.len(), 151);
    assert_eq!(app.audit.list.rows[0].id, 502);
    assert_eq!(app.audit.selected_entry().unwrap().id, 500);
    assert_eq!(
        app.audit.list.next_cursor, None,
        "the window's own cursor stays"
    );
}

#[test]
fn audit_tab() {
    let mut app = on_tab('5');
    let generation = app.audit.list.generation;
    update(
        &mut app,
        Action::from(AuditLoaded {
            generation,
            cursor: None,
            result: Ok(AuditPage {
                entries: audit(),
                next_cursor: Some("39".into()),
            }),
        }),
    );
    update(&mut app, ch('j'));
    let terminal = draw(&app);
    insta::assert_snapshot!(terminal.backend());
    assert_eq!(fg_at(&terminal, "1.1.0 → "), FAILED);
    let (x, y) = find(&terminal, "1.1.0 → 1.2.0");
    assert_eq!(terminal.backend().buffer()[(x + 8, y)].fg, SUCCEEDED);
}

#[test]
fn audit_tab_filtered() {
    let mut app = on_tab('5');
    let generation = app.audit.list.generation;
    update(
        &mut app,
        Action::from(AuditLoaded {
            generation,
            cursor: None,
            result: Ok(AuditPage {
                entries: audit(),
                next_cursor: None,
            }),
        }),
    );
    update(&mut app, ch('/'));
    type_text(&mut app, "plan");
    insta::assert_snapshot!(draw(&app).backend());
}
