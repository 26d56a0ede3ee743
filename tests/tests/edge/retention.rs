//! Retention: the scheduled handler purges expired replay rows, history past `HISTORY_DAYS` or
//! beyond `HISTORY_KEEP` per device, old rate-limit windows and old activity, ids that checked in
//! once and never again (past `FORGET_SILENT_DAYS`), finished rollouts' per-device records (past
//! `ROLLOUT_RECORDS_DAYS`), the summary's old clock hours and empty counts, a bounded batch per
//! table family per run, each family on its own. Old rows are seeded straight into the server's
//! local D1, since nothing in the API writes the past.

use fota_tests::{temp_state_dir, Server};

const DAY_MS: i64 = 86_400_000;

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// What the purged tables hold: replay rows, history of device A, of device B, history older
/// than 30 days, rate-limit windows, activity hours (one `wrangler d1 execute`).
fn tables(server: &Server) -> [u64; 6] {
    let old = now_ms() - 30 * DAY_MS;
    let rows = server.d1(&format!(
        "SELECT (SELECT COUNT(*) FROM replay) AS a,
                (SELECT COUNT(*) FROM device_events WHERE device_id = 'ret-a') AS b,
                (SELECT COUNT(*) FROM device_events WHERE device_id = 'ret-b') AS c,
                (SELECT COUNT(*) FROM device_events WHERE at < {old}) AS d,
                (SELECT COUNT(*) FROM rollout_rate) AS e,
                (SELECT COUNT(*) FROM activity) AS f"
    ));
    let row = rows.first().unwrap_or_else(|| panic!("no row: {rows:?}"));
    ["a", "b", "c", "d", "e", "f"]
        .map(|k| row[k].as_u64().unwrap_or_else(|| panic!("{k} in {row}")))
}

fn history_of_a(server: &Server) -> Vec<String> {
    server
        .d1("SELECT detail FROM device_events WHERE device_id = 'ret-a' ORDER BY id")
        .iter()
        .map(|r| r["detail"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// `n` history entries of `device` at `at`, numbered from `first` in `detail`.
fn events(device: &str, at: i64, first: u32, n: u32) -> String {
    format!(
        "INSERT INTO device_events (project_key, device_id, at, kind, detail)
         WITH RECURSIVE c(i) AS (SELECT {first} UNION ALL SELECT i + 1 FROM c WHERE i < {last})
         SELECT 'ret', '{device}', {at}, 'check', 'n' || i FROM c;",
        last = first + n - 1
    )
}

#[test]
fn the_scheduled_handler_purges_in_bounded_batches() {
    // A server of its own: the purge is global, and the counts below are exact.
    let server = Server::start_with(
        &temp_state_dir("retention"),
        &[("HISTORY_KEEP", "5"), ("HISTORY_DAYS", "30")],
    );
    let now = now_ms();
    let (minute, hour) = (now / 60_000, now / 3_600_000 * 3_600_000);
    let old = now - 40 * DAY_MS;
    // 2,500 entries past HISTORY_DAYS, one per device (so only their age removes them): more than
    // one run's batch of 2,000. Written first, as history is: the oldest entries have the lowest ids.
    let mut seed = vec![format!(
        "INSERT INTO device_events (project_key, device_id, at, kind, detail)
         WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 2500)
         SELECT 'ret', 'ret-old-' || i, {old}, 'check', 'old' FROM c;"
    )];
    seed.extend([
        // Three signatures past their window, two still inside it.
        format!("INSERT INTO replay (key, until_ms) VALUES ('r1', {e}), ('r2', {e}), ('r3', {e}), ('r4', {l}), ('r5', {l});", e = now - 1_000, l = now + 3_600_000),
        // Device A has 12 recent entries (over the cap of 5), B has 3.
        events("ret-a", now - 60_000, 1, 12),
        events("ret-b", now - 60_000, 1, 3),
        // Rate-limit windows two hours old and current; activity 100 days old and current.
        format!("INSERT INTO rollout_rate (plan_id, minute, count) VALUES ('p1', {o}, 1), ('p2', {o}, 1), ('p3', {o}, 1), ('p1', {minute}, 1), ('p2', {minute}, 1);", o = minute - 120),
        format!("INSERT INTO activity (project_key, hour, checks, deliveries) VALUES ('ret', {o}, 1, 0), ('ret-2', {o}, 1, 0), ('ret', {hour}, 5, 1);", o = hour - 100 * DAY_MS),
    ]);
    server.d1(&seed.join("\n"));
    assert_eq!(tables(&server), [5, 12, 3, 2500, 5, 3]);

    server.run_scheduled();
    assert_eq!(tables(&server), [2, 5, 3, 500, 2, 1], "after the first run");
    // The newest entries are the ones kept.
    assert_eq!(history_of_a(&server), ["n8", "n9", "n10", "n11", "n12"]);

    server.run_scheduled();
    assert_eq!(tables(&server), [2, 5, 3, 0, 2, 1], "after the second run");

    // New history over the cap is found again (past the retention cursor), and a family that
    // fails (its table gone) does not stop the others.
    server.d1(&format!(
        "{} INSERT INTO activity (project_key, hour, checks, deliveries) VALUES ('ret-3', {o}, 1, 0); DROP TABLE rollout_rate;",
        events("ret-a", now - 30_000, 13, 3),
        o = hour - 100 * DAY_MS
    ));
    server.run_scheduled();
    assert_eq!(history_of_a(&server), ["n11", "n12", "n13", "n14", "n15"]);
    let activity = server.d1("SELECT COUNT(*) AS n FROM activity");
    assert_eq!(
        activity.first().map(|r| r["n"].clone()),
        Some(1.into()),
        "old activity left"
    );
    let log = std::fs::read_to_string(server.state.join("wrangler.log")).unwrap_or_default();
    assert!(
        log.contains("retention: purging rollout_rate failed"),
        "no log line for the failing family:\n{log}"
    );
}

/// What is left of the silent-device fixture: devices of project `ret-s`, those among them named
/// `ret-s-once-*`, the history of `ret-s-once-0`, and the records of rollouts `ret-s/fw@1..4`.
fn silent_tables(server: &Server) -> serde_json::Value {
    let rows = server.d1(
        "SELECT (SELECT COUNT(*) FROM devices WHERE project_key = 'ret-s') AS devices,
                (SELECT COUNT(*) FROM devices WHERE id LIKE 'ret-s-once-%') AS once,
                (SELECT group_concat(id) FROM (SELECT id FROM devices WHERE project_key = 'ret-s'
                   AND id NOT LIKE 'ret-s-once-%' ORDER BY id)) AS kept,
                (SELECT COUNT(*) FROM device_events WHERE device_id = 'ret-s-once-0') AS history,
                (SELECT group_concat(plan_id || ':' || n) FROM (SELECT plan_id, COUNT(*) AS n
                   FROM rollout_devices WHERE plan_id LIKE 'ret-s/%' GROUP BY plan_id ORDER BY plan_id)) AS records,
                (SELECT SUM(devices) FROM fleet_counts WHERE project_key = 'ret-s' AND facet = 'version') AS counted,
                (SELECT COUNT(*) FROM seen_hours WHERE project_key = 'ret-s') AS hours,
                (SELECT COUNT(*) FROM fleet_counts WHERE project_key = 'ret-s' AND devices = 0) AS empty",
    );
    rows.first().cloned().unwrap_or_default()
}

#[test]
fn ids_that_came_once_and_finished_rollouts_records_go() {
    let server = Server::start_with(
        &temp_state_dir("retention-silent"),
        &[("FORGET_SILENT_DAYS", "30"), ("ROLLOUT_RECORDS_DAYS", "10")],
    );
    let now = now_ms();
    let (old, recent) = (now - 40 * DAY_MS, now - 5 * DAY_MS);
    let seed = [
        // 700 ids bound 40 days ago and never seen again: more than one run's 500.
        format!(
            "INSERT INTO devices (id, project_key, firmware_name, version, first_seen, last_seen)
             WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i < 699)
             SELECT 'ret-s-once-' || i, 'ret-s', 'fw', '1.0.0', {old}, {old} FROM c;"
        ),
        format!("INSERT INTO device_events (project_key, device_id, at, kind, detail) VALUES ('ret-s', 'ret-s-once-0', {old}, 'bound', 'first check');"),
        // Kept: seen again after its binding; bound within FORGET_SILENT_DAYS; provisioned; once
        // provisioned (de-provisioned since: its key generation stays).
        format!(
            "INSERT INTO devices (id, project_key, firmware_name, version, first_seen, last_seen, provisioned_at, key_generation) VALUES
             ('ret-s-back', 'ret-s', 'fw', '1.0.0', {old}, {recent}, NULL, NULL),
             ('ret-s-new', 'ret-s', 'fw', '1.0.0', {recent}, {recent}, NULL, NULL),
             ('ret-s-prov', 'ret-s', NULL, NULL, {old}, {old}, {old}, {old}),
             ('ret-s-deprov', 'ret-s', NULL, NULL, {old}, {old}, NULL, {old});"
        ),
        // Rollouts: cancelled and completed, quiet for 20 days (records go); failed and completed
        // 5 days ago (kept); three records each.
        ["1:cancelled:20", "2:completed:20", "3:failed:5", "4:completed:5"]
            .iter()
            .map(|r| {
                let [n, phase, days]: [&str; 3] = r.split(':').collect::<Vec<_>>().try_into().unwrap();
                let at = now - days.parse::<i64>().unwrap() * DAY_MS;
                format!(
                    "INSERT INTO rollouts (plan_id, project_key, firmware_name, phase, state, version, updated_at)
                     VALUES ('ret-s/fw@{n}', 'ret-s', 'fw{n}', '{phase}', '{{}}', 1, {at});
                     INSERT INTO rollout_devices (plan_id, device_id, cohort, phase, since_ms)
                     VALUES ('ret-s/fw@{n}', 'a', 0, 'succeeded', {at}), ('ret-s/fw@{n}', 'b', 0, 'failed', {at}),
                            ('ret-s/fw@{n}', 'c', 0, 'offered', {at});"
                )
            })
            .collect::<Vec<_>>()
            .join("\n"),
        // A summary hour 10 days old (past the week and a day) and an empty count row.
        format!(
            "INSERT INTO seen_hours (project_key, hour, devices) VALUES ('ret-s', {h}, 3);
             INSERT INTO fleet_counts (project_key, facet, name, devices) VALUES ('ret-s', 'version', '[\"fw\",\"0.9\"]', 0);",
            h = (now - 10 * DAY_MS) / 3_600_000 * 3_600_000
        ),
    ];
    server.d1(&seed.join("\n"));
    let before = silent_tables(&server);
    assert_eq!(
        (
            &before["devices"],
            &before["once"],
            &before["counted"],
            &before["empty"]
        ),
        (&704.into(), &700.into(), &704.into(), &1.into()),
        "{before}"
    );

    server.run_scheduled();
    let first = silent_tables(&server);
    assert_eq!(first["once"], 200, "one run removes at most 500: {first}");
    assert_eq!(
        first["history"], 0,
        "the history of a removed id goes too: {first}"
    );
    assert_eq!(
        first["records"], "ret-s/fw@3:3,ret-s/fw@4:3",
        "finished rollouts quiet for ROLLOUT_RECORDS_DAYS lose their records: {first}"
    );
    assert_eq!(first["empty"], 0, "{first}");

    server.run_scheduled();
    let second = silent_tables(&server);
    assert_eq!(
        (&second["once"], &second["kept"]),
        (
            &0.into(),
            &"ret-s-back,ret-s-deprov,ret-s-new,ret-s-prov".into()
        ),
        "{second}"
    );
    // The counts followed the deletions (the triggers), and the summary's hours older than a week
    // and a day went: only the hour the two recent devices were seen in is left.
    assert_eq!(
        (&second["counted"], &second["hours"]),
        (&4.into(), &1.into()),
        "{second}"
    );
    let log = std::fs::read_to_string(server.state.join("wrangler.log")).unwrap_or_default();
    assert!(
        !log.contains("retention: purging"),
        "a family failed:\n{log}"
    );
}

/// A device removed as silent is bound again, as a new device, when it comes back: KV's copy of
/// its binding went with its row.
#[test]
fn a_removed_silent_device_is_bound_again_when_it_comes_back() {
    use crate::{device_request, luatos_get};
    let server = Server::start_with(
        &temp_state_dir("retention-back"),
        &[("FORGET_SILENT_DAYS", "30")],
    );
    let fw = "ret_LuatOS-SoC_Air780EHV";
    server.setup(
        "ret-b",
        None,
        fw,
        "1.0.1",
        &fota_tests::image(9040, 10_000),
        serde_json::json!({}),
    );
    let id = crate::imei(904, 1);
    let check = || {
        let url = format!("/api/site/firmware_upgrade?imei={id}&project_key=ret-b&firmware_name={fw}&version=1.0.1");
        device_request(&server, &luatos_get(&server, &url)).status
    };
    assert_eq!(check(), 404);
    let old = now_ms() - 40 * DAY_MS;
    let bound = |server: &Server| -> Vec<serde_json::Value> {
        server.d1(&format!("SELECT first_seen FROM devices WHERE id = '{id}'"))
    };
    assert!(
        crate::eventually(10, || bound(&server).len() == 1),
        "not bound"
    );
    server.d1(&format!(
        "UPDATE devices SET first_seen = {old}, last_seen = {old} WHERE id = '{id}'"
    ));
    server.run_scheduled();
    assert!(
        bound(&server).is_empty(),
        "the silent device is still there"
    );
    assert_eq!(check(), 404);
    assert!(
        crate::eventually(10, || bound(&server)
            .first()
            .and_then(|r| r["first_seen"].as_i64())
            .is_some_and(|at| at > old)),
        "not bound again: {:?}",
        bound(&server)
    );
}

/// A finished rollout that its plan no longer targets drops its coordinators' storage once
/// quiet for `ROLLOUT_RECORDS_DAYS` (D1's row keeps its counts): planning that target again
/// then starts a fresh rollout, where before the purge it found the cancelled one.
#[test]
fn a_finished_rollouts_coordinators_drop_their_storage() {
    let server = Server::start_with(
        &temp_state_dir("retention-coordinators"),
        &[("ROLLOUT_RECORDS_DAYS", "10")],
    );
    let (p, fw) = ("ret-c", "retc_LuatOS-SoC_Air780EHV");
    let img = fota_tests::image(6161, 700);
    let fleet: Vec<String> = (0..6).map(|n| format!("8616{n:011}")).collect();
    let staged = serde_json::json!({ "rollout": { "stages": [100] } });
    server.setup_known(p, None, fw, "1.0.1", &img, staged.clone(), &fleet, "1.0.0");
    server
        .admin(
            "PUT",
            &format!("/projects/{p}/firmware/{fw}/1.0.2"),
            &fota_tests::image(6162, 700),
        )
        .expect_one_of(&[200, 201]);
    let status = |server: &Server| {
        server
            .admin("GET", &format!("/projects/{p}/plans/{fw}/status"), b"")
            .expect_status(200)
            .json()
    };
    server
        .admin("POST", &format!("/projects/{p}/plans/{fw}/cancel"), b"")
        .expect_status(200);
    assert_eq!(status(&server)["state"], "cancelled");
    let plan_of = |target: &str| {
        let mut plan = staged.clone();
        plan["target_version"] = target.into();
        plan.to_string()
    };
    // While its plan targets it, the cancelled rollout keeps its storage, quiet or not.
    let backdate = format!(
        "UPDATE rollouts SET updated_at = {} WHERE plan_id = '{p}/{fw}@1.0.1'",
        now_ms() - 20 * DAY_MS
    );
    server.d1(&backdate);
    server.run_scheduled();
    let purged = |server: &Server| {
        server.d1(&format!(
            "SELECT purged FROM rollouts WHERE plan_id = '{p}/{fw}@1.0.1'"
        ))[0]["purged"]
            .clone()
    };
    assert_eq!(purged(&server), 0);
    // The plan moves on to 1.0.2: the cancelled rollout is no one's target any more.
    server
        .admin(
            "PUT",
            &format!("/projects/{p}/plans/{fw}"),
            plan_of("1.0.2").as_bytes(),
        )
        .expect_status(200);
    server.d1(&backdate);
    server.run_scheduled();
    assert_eq!(purged(&server), 1, "its coordinators were purged");
    // Planning 1.0.1 again finds no state: a fresh rollout, not the cancelled one.
    server
        .admin(
            "PUT",
            &format!("/projects/{p}/plans/{fw}"),
            plan_of("1.0.1").as_bytes(),
        )
        .expect_status(200);
    let fresh = status(&server);
    assert_eq!(fresh["state"], "running", "{fresh}");
    assert_eq!(fresh["totals"]["eligible"], 0, "{fresh}");
}
