//! Tests of dashboard::screens::fleet.

use fota_shared::api::fleet::*;
use fota_shared::model::plan::*;

use super::*;
use crate::fixtures::*;

#[test]
fn the_fleet_tab_loads_the_last_day_of_activity_and_refreshes_it() {
    let mut app = App::new("http://x", Some("demo".into()));
    update(&mut app, Action::Started);
    assert_eq!(
        update(&mut app, Action::from(ActivityLoaded(Ok(activity())))),
        vec![],
        "nothing follows from it"
    );
    assert!(!app.fleet.activity.loading);
    assert_eq!(app.fleet.activity.data.as_ref().map(Vec::len), Some(24));
    assert_eq!(app.fleet.activity.error, None);
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
    update(&mut app, Action::from(ActivityLoaded(Ok(activity()))));
    assert_eq!(
        ticks(&mut app, REFRESH_TICKS),
        vec![Command::LoadFleet { project: demo() }, activity_cmd()]
    );
    let mut app = loaded_app();
    update(&mut app, ch('3'));
    update(
        &mut app,
        Action::from(FirmwareAnswer::Loaded(Ok(firmware()))),
    );
    let commands = ticks(&mut app, REFRESH_TICKS);
    assert!(
        !commands.iter().any(|c| matches!(
            c,
            Command::Screen(ScreenCommand::Fleet(LoadActivity { .. }))
        )),
        "{commands:?}"
    );
}

#[test]
fn an_activity_error_is_kept_in_place_with_the_old_hours() {
    let mut app = loaded_app();
    update(&mut app, ch('r'));
    assert!(app.fleet.activity.loading);
    // A server without the route yet.
    update(
        &mut app,
        Action::from(ActivityLoaded(Err(refused(404, "not_found", "no route")))),
    );
    assert!(!app.fleet.activity.loading);
    assert_eq!(
        app.fleet.activity.error.as_deref(),
        Some("Loading activity failed: 404 not_found: no route")
    );
    assert_eq!(app.fleet.activity.data, Some(activity()), "old hours stay");
    assert_eq!(app.link, Link::Online, "the server answered");
    assert!(
        app.fleet.summary.error.is_none(),
        "the rest of the tab is untouched"
    );
    // The next answer clears the error.
    update(&mut app, ch('r'));
    update(&mut app, Action::from(ActivityLoaded(Ok(vec![]))));
    assert_eq!(app.fleet.activity.error, None);
    assert_eq!(app.fleet.activity.data, Some(vec![]));
    // Unreachable: the link goes offline like for any other load.
    update(&mut app, ch('r'));
    update(&mut app, Action::from(ActivityLoaded(Err(offline()))));
    assert!(matches!(app.link, Link::Offline { attempt: 1, .. }));
}

#[test]
fn fleet_tab() {
    let terminal = draw(&loaded_app());
    insta::assert_snapshot!(terminal.backend());
    assert_eq!(
        fg_at(&terminal, "862012345678902"),
        BANNED,
        "a banned device is red in the latest list"
    );
    assert_eq!(fg_at(&terminal, "862012345678901"), Color::Reset);
    assert_eq!(fg_at(&terminal, strings::ONLINE), ONLINE);
    // The sparklines: titled with the 24 hours' total and the last hour, in their colours,
    // between the rollouts and the latest devices.
    assert_eq!(fg_at(&terminal, "Checks 596 in 24h · last hour 13"), CHECKS);
    assert_eq!(
        fg_at(&terminal, "Deliveries 26 in 24h · last hour 1"),
        DELIVERIES
    );
    let (_, rollouts_y) = find(&terminal, "running 1/1");
    let (checks_x, checks_y) = find(&terminal, "Checks 596");
    let (deliveries_x, _) = find(&terminal, "Deliveries 26");
    let (_, latest_y) = find(&terminal, "Latest seen");
    assert!(rollouts_y < checks_y && checks_y < latest_y);
    // Each hour takes two columns: the busiest (44 checks, the 12th hour) fills the top row.
    let buffer = terminal.backend().buffer();
    let top = checks_y + 1;
    let full: Vec<u16> = (checks_x..deliveries_x)
        .filter(|&x| buffer[(x, top + 2)].symbol() == "█" && buffer[(x, top)].symbol() == "█")
        .collect();
    assert_eq!(
        full,
        [checks_x + 22, checks_x + 23],
        "{}",
        terminal.backend()
    );
    assert_eq!(buffer[(checks_x + 22, top)].fg, CHECKS);
    assert_eq!(buffer[(deliveries_x + 34, top)].fg, DELIVERIES);
}

/// The Fleet tab draws what the server counted, not what a client could page through: a
/// million devices show as a million, with every plan's progress over all of them.
#[test]
fn fleet_tab_from_a_summary_of_a_million_devices() {
    let mut app = loaded_app();
    let mut summary = fleet_summary();
    let version = |fw: &str, version: &str, devices: u64| fota_shared::api::fleet::VersionCount {
        firmware_name: Some(fw.into()),
        version: Some(version.into()),
        devices,
    };
    summary.total = 1_000_000;
    summary.banned = 997;
    summary.seen = fota_shared::api::fleet::SeenCounts {
        hour: 41_667,
        day: 1_000_000,
        week: 1_000_000,
    };
    summary.versions = vec![
        version("air780", "1.2.0", 600_000),
        version("air780", "1.1.0", 250_000),
        version("esp32", "0.9.1", 100_000),
        version("esp32", "0.9.0", 50_000),
    ];
    update(
        &mut app,
        Action::FleetLoaded(Ok(crate::api::FleetSnapshot {
            summary,
            plans: plans(),
        })),
    );
    let terminal = draw(&app);
    insta::assert_snapshot!(terminal.backend());
    find(&terminal, "Versions of 1.0M devices · 997 banned");
    find(&terminal, "600k/850k on target");
    find(&terminal, "100k/150k on target");
    find(&terminal, "41.6k in the last hour · 1.0M in 24h");
}

#[test]
fn fleet_activity_loads_and_fails_in_place() {
    let mut app = loaded_app();
    app.fleet.activity = Remote::default();
    app.fleet.activity.loading = true;
    let terminal = draw(&app);
    assert_eq!(fg_at(&terminal, "Loading activity…"), PENDING);
    find(&terminal, "Activity per hour · last 24h ");
    find(&terminal, "paused 2/4");
    find(&terminal, "862012345678901");

    // An edge without the route: the error in the panel, the rest of the tab as it was.
    update(
        &mut app,
        Action::from(ActivityLoaded(Err(refused(404, "not_found", "no route")))),
    );
    let terminal = draw(&app);
    assert_eq!(
        fg_at(
            &terminal,
            "Loading activity failed: 404 not_found: no route"
        ),
        ERROR
    );
    find(&terminal, "paused 2/4");
    find(&terminal, "862012345678901");

    // A failed refresh keeps the old hours under the error.
    update(&mut app, Action::from(ActivityLoaded(Ok(activity()))));
    update(
        &mut app,
        Action::from(ActivityLoaded(Err(refused(500, "internal", "boom")))),
    );
    let terminal = draw(&app);
    let (_, error_y) = find(&terminal, "Loading activity failed: 500 internal");
    let (_, title_y) = find(&terminal, "Checks 596 in 24h");
    assert_eq!(title_y, error_y + 1);
}

#[test]
fn hours_spread_over_the_columns() {
    assert_eq!(stretch(&[1, 2, 3], 7), [1, 1, 2, 2, 3, 3]);
    assert_eq!(stretch(&[1, 2, 3], 3), [1, 2, 3]);
    assert_eq!(stretch(&[1, 2, 3], 2), [2, 3], "the newest hours stay");
    assert_eq!(stretch(&[1, 2, 3], 0), Vec::<u64>::new());
    assert_eq!(stretch(&[], 10), Vec::<u64>::new());
}

fn device(id: &str, fw: &str, version: &str, last_seen: &str) -> Device {
    Device {
        id: id.into(),
        firmware_name: Some(fw.into()),
        version: Some(version.into()),
        first_seen: "2026-01-01T00:00:00Z".into(),
        last_seen: last_seen.into(),
        deliveries: 0,
        banned: false,
        state: None,
        cause: None,
    }
}

fn plan(fw: &str, target: &str) -> Plan {
    Plan {
        project_key: "demo".into(),
        firmware_name: fw.into(),
        spec: PlanSpec {
            target_version: target.into(),
            from_versions: vec![],
            devices: vec![],
            imei_ranges: vec![],
            delivery: Default::default(),
            allow_downgrade: false,
            rollout: None,
            job_timeout_s: None,
            needs_confirm: false,
            expected_devices: None,
            deltas: None,
        },
        image: ImageRef {
            sha256: "00".into(),
            md5: "11".into(),
            size: 1,
            module: "default".into(),
        },
        packages: vec![],
        updated_at: "2026-01-01T00:00:00Z".into(),
        shards: 0,
        cancelled: Vec::new(),
    }
}

fn row(
    fw: Option<&str>,
    version: Option<&str>,
    devices: u64,
) -> fota_shared::api::fleet::VersionCount {
    fota_shared::api::fleet::VersionCount {
        firmware_name: fw.map(str::to_string),
        version: version.map(str::to_string),
        devices,
    }
}

#[test]
fn counts_versions_and_plan_progress() {
    let latest = vec![device("b", "app", "1.1", "2026-01-01T00:00:03Z")];
    let snapshot = FleetSnapshot {
        summary: fota_shared::api::fleet::FleetSummary {
            total: 1_000_006,
            banned: 2,
            seen: SeenCounts {
                hour: 1,
                day: 2,
                week: 3,
            },
            versions: vec![
                row(Some("app"), Some("1.1"), 1_000_000),
                row(Some("app"), Some("1.0"), 2),
                row(Some("other"), Some("1.1"), 3),
                row(None, None, 1),
            ],
            states: vec![],
            latest: latest.clone(),
            computed_at: "2026-01-01T00:00:04Z".into(),
        },
        plans: vec![plan("app", "1.1"), plan("none", "9")],
    };
    let summary = summarize(&snapshot);
    assert_eq!(
        summary.versions,
        vec![
            (Some("1.1".into()), 1_000_003),
            (Some("1.0".into()), 2),
            (None, 1)
        ]
    );
    assert_eq!(
        (summary.plans[0].on_target, summary.plans[0].seen),
        (1_000_000, 1_000_002)
    );
    assert_eq!(summary.plans[1].ratio(), 0.0);
    assert_eq!(
        (summary.total, summary.banned, summary.seen.week),
        (1_000_006, 2, 3)
    );
    assert_eq!(summary.latest, latest);
}

/// The latest devices' columns follow their content: a long id and a long firmware name are shown
/// whole (the firmware column takes the width the others leave).
#[test]
fn latest_seen_columns_fit_long_ids_and_firmware_names() {
    let mut app = loaded_app();
    let mut summary = fleet_summary();
    let (id, fw) = (
        "aliyun-gateway-device-000001",
        "fotademo_LuatOS-SoC_Air780EHV",
    );
    summary.latest = vec![device(id, fw, "2018.1.10", "2026-11-22T00:17:26Z")];
    update(
        &mut app,
        Action::FleetLoaded(Ok(crate::api::FleetSnapshot {
            summary,
            plans: plans(),
        })),
    );
    let terminal = draw(&app);
    let (id_x, y) = find(&terminal, id);
    let (fw_x, fw_y) = find(&terminal, fw);
    assert_eq!(fw_y, y, "one row");
    assert!(
        fw_x > id_x + id.len() as u16,
        "the id is whole before the name"
    );
    find(&terminal, "2018.1.10");
}
