//! The fleet summary (`GET /admin/v1/projects/{key}/summary`) counts what the device list lists:
//! devices registered by real Luat checks, per (firmware, version), job state, ban and last seen,
//! from counts D1 keeps as devices change (it never reads the devices themselves).

use crate::{device_request, eventually, imei, luatos_get};
use fota_tests::{image, shared_server, Server};
use serde_json::{json, Value};

const FW: &str = "sum_LuatOS-SoC_Air780EHV";
const FW_ROLLOUT: &str = "sum2_LuatOS-SoC_Air780EHV";

fn device_check(server: &Server, project: &str, firmware: &str, id: &str, version: &str) -> u16 {
    let url = format!("/api/site/firmware_upgrade?imei={id}&project_key={project}&firmware_name={firmware}&version={version}");
    device_request(server, &luatos_get(server, &url)).status
}

/// How many devices the device list gives for `query`, paging through it.
fn listed(server: &Server, project: &str, query: &str) -> u64 {
    let mut count = 0;
    let mut cursor = String::new();
    for _ in 0..100 {
        let page = server
            .admin(
                "GET",
                &format!("/projects/{project}/devices?limit=1000&{query}{cursor}"),
                b"",
            )
            .expect_status(200)
            .json();
        count += page["devices"].as_array().map_or(0, |d| d.len() as u64);
        match page["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => return count,
        }
    }
    panic!("more than 100 pages for {query}");
}

fn summary(server: &Server, project: &str) -> Value {
    server
        .admin("GET", &format!("/projects/{project}/summary"), b"")
        .expect_status(200)
        .json()
}

#[test]
fn the_summary_matches_the_device_list() {
    let server = shared_server();
    let p = "sum-match";
    server.setup(p, Some(2), FW, "1.0.1", &image(9010, 20_000), json!({}));
    server
        .admin(
            "PUT",
            &format!("/projects/{p}/firmware/{FW_ROLLOUT}/2.0.0"),
            &image(9011, 20_000),
        )
        .expect_one_of(&[200, 201]);
    server
        .admin(
            "PUT",
            &format!("/projects/{p}/plans/{FW_ROLLOUT}"),
            br#"{"target_version":"2.0.0","rollout":{"stages":[100]}}"#,
        )
        .expect_status(200);

    // 4 devices up to date; 3 served an upgrade, one of them twice (banned: ban_after is 2);
    // 2 offered the staged rollout's image.
    let statuses: Vec<u16> = [
        (FW, 1, "1.0.1"),
        (FW, 2, "1.0.1"),
        (FW, 3, "1.0.1"),
        (FW, 4, "1.0.1"),
        (FW, 5, "1.0.0"),
        (FW, 6, "1.0.0"),
        (FW, 7, "1.0.0"),
        (FW, 7, "1.0.0"),
        (FW_ROLLOUT, 8, "1.9.0"),
        (FW_ROLLOUT, 9, "1.9.0"),
    ]
    .iter()
    .map(|(fw, row, version)| device_check(server, p, fw, &imei(901, *row), version))
    .collect();
    assert_eq!(statuses, [404, 404, 404, 404, 200, 200, 200, 200, 200, 200]);

    // Registry writes of a check may land just after its answer: wait until the list shows them.
    let mut last = (0, 0);
    let settled = eventually(10, || {
        last = (
            listed(server, p, "banned=true"),
            listed(server, p, "state=offered"),
        );
        last == (1, 4)
    });
    let all = server
        .admin("GET", &format!("/projects/{p}/devices"), b"")
        .json();
    assert!(settled, "(banned, offered) = {last:?}, not (1, 4): {all}");

    let got = summary(server, p);
    assert_eq!(got["total"], 9, "{got}");
    assert_eq!(got["total"], listed(server, p, ""), "{got}");
    assert_eq!(got["banned"], 1, "{got}");
    assert_eq!(got["banned"], listed(server, p, "banned=true"), "{got}");
    let versions: Vec<(String, String, u64)> = got["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["firmware_name"].as_str().unwrap().into(),
                v["version"].as_str().unwrap().into(),
                v["devices"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        versions,
        [
            (FW.into(), "1.0.1".into(), 4),
            (FW.into(), "1.0.0".into(), 3),
            (FW_ROLLOUT.into(), "1.9.0".into(), 2)
        ],
        "{got}"
    );
    for (fw, version, devices) in &versions {
        assert_eq!(
            *devices,
            listed(server, p, &format!("firmware_name={fw}&version={version}")),
            "{fw} {version}"
        );
    }
    let states: Vec<(String, u64)> = got["states"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["state"].as_str().unwrap().into(),
                s["devices"].as_u64().unwrap(),
            )
        })
        .collect();
    // A plan without a rollout is a single 100% stage: its deliveries are offers too, and the
    // device banned after two of them is banned in it.
    assert_eq!(
        states,
        [
            ("idle".into(), 4),
            ("offered".into(), 4),
            ("banned".into(), 1)
        ],
        "{got}"
    );
    for (state, devices) in &states {
        assert_eq!(
            *devices,
            listed(server, p, &format!("state={state}")),
            "state {state}"
        );
    }
    // Everyone checked just now.
    assert_eq!(
        got["seen"],
        json!({ "hour": 9, "day": 9, "week": 9 }),
        "{got}"
    );
    let hour_ago = fota_shared::leaf::time::rfc3339(now_ms() - 3_600_000);
    assert_eq!(
        got["seen"]["hour"],
        listed(server, p, &format!("seen_since={hour_ago}"))
    );
    let latest: Vec<&str> = got["latest"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    assert_eq!(latest.len(), 9, "{got}");

    // The answer is kept for a while: a second read is the same computation.
    let again = summary(server, p);
    assert_eq!(again["computed_at"], got["computed_at"]);
    // An unknown project is a 404; an empty one sums to zero.
    server
        .admin("GET", "/projects/sum-nothing/summary", b"")
        .expect_status(404);
    server
        .admin("PUT", "/projects/sum-empty", br#"{"name":"empty"}"#)
        .expect_status(200);
    let empty = summary(server, "sum-empty");
    assert_eq!(
        (
            empty["total"].as_u64(),
            empty["versions"].as_array().map(Vec::len)
        ),
        (Some(0), Some(0)),
        "{empty}"
    );
}

#[test]
fn id_search_is_a_prefix_or_an_exact_version() {
    let server = shared_server();
    let p = "sum-search";
    server.setup(p, None, FW, "1.0.1", &image(9020, 10_000), json!({}));
    let ids: Vec<String> = (0..6).map(|i| imei(902, 10 + i)).collect();
    for (i, id) in ids.iter().enumerate() {
        let version = if i % 2 == 0 { "1.0.1" } else { "1.0.0" };
        device_check(server, p, FW, id, version);
    }
    let search = |q: &str| -> Vec<String> {
        let page = server
            .admin("GET", &format!("/projects/{p}/devices?q={q}&limit=4"), b"")
            .expect_status(200)
            .json();
        page["devices"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["id"].as_str().unwrap().to_string())
            .collect()
    };
    // Prefixes match from the start of the id only, in id order, a page at a time.
    assert_eq!(search(&ids[0][..14]), ids[..4].to_vec());
    assert_eq!(search(&ids[3]), [ids[3].clone()]);
    assert_eq!(
        search(&ids[3][2..]),
        Vec::<String>::new(),
        "a substring that is not a prefix"
    );
    // An exact version lists its devices.
    assert_eq!(
        search("1.0.0"),
        [ids[1].clone(), ids[3].clone(), ids[5].clone()]
    );
    assert_eq!(
        search("1.0"),
        Vec::<String>::new(),
        "a version matches exactly"
    );
}

/// D1 rows the edge's isolate has read so far (`GET /admin/v1/metrics`).
fn rows_read(server: &Server) -> u64 {
    server
        .admin("GET", "/metrics", b"")
        .expect_status(200)
        .json()["d1"]["rows_read"]
        .as_u64()
        .unwrap_or_else(|| panic!("no d1.rows_read in the metrics"))
}

#[test]
fn the_summary_reads_maintained_counts_not_the_devices() {
    // Its own server: the test reads or writes D1 beside the running edge (`wrangler d1
    // execute`), which would race the shared server's other tests for the database file.
    let state = fota_tests::temp_state_dir("summary-counts");
    let own = fota_tests::Server::start_with(&state, &[("EXPOSE_METRICS", "true")]);
    let server = &own;
    let p = "sum-counts";
    server.setup(p, None, FW, "1.0.1", &image(9030, 10_000), json!({}));
    // 3,000 devices seeded straight into D1 (the triggers count them as any INSERT): seen 2 to 6
    // days ago (2,000, one clock hour in 100 each; 1,000 of them on 1.0.0) and 10 to 12 days ago
    // (1,000: past the week); two banned and three offered a rollout among the recent ones.
    let (day, now) = (86_400_000, now_ms());
    server.d1(&format!(
        "INSERT INTO devices (id, project_key, firmware_name, version, first_seen, last_seen, banned, job_phase)
         WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i < 2999)
         SELECT printf('86903%010d', i), '{p}', '{FW}', CASE WHEN i < 1000 THEN '1.0.0' ELSE '1.0.1' END,
                {first}, CASE WHEN i < 2000 THEN {recent} ELSE {old} END - (i % 100) * 3600000, (i IN (5, 6)),
                CASE WHEN i IN (7, 8, 9) THEN 'offered' END
         FROM c;",
        first = now - 20 * day,
        recent = now - 2 * day,
        old = now - 10 * day,
    ));
    // And one device bound by a real check just now.
    assert_eq!(
        device_check(server, p, FW, &imei(903, 99_999), "1.0.1"),
        404
    );

    let before = rows_read(server);
    let got = summary(server, p);
    let read = rows_read(server) - before;
    assert!(read <= 1_000, "the summary read {read} rows: {got}");
    assert!(read < 3_000, "the summary read every device ({read} rows)");
    assert_eq!(
        (got["total"].as_u64(), got["banned"].as_u64()),
        (Some(3_001), Some(2)),
        "{got}"
    );
    assert_eq!(
        got["seen"],
        json!({ "hour": 1, "day": 1, "week": 2_001 }),
        "{got}"
    );
    let versions: Vec<(String, u64)> = got["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["version"].as_str().unwrap().into(),
                v["devices"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        versions,
        [("1.0.1".into(), 2_001), ("1.0.0".into(), 1_000)],
        "{got}"
    );
    assert_eq!(
        got["states"],
        json!([{ "state": "idle", "devices": 2_998 }, { "state": "offered", "devices": 3 }]),
        "{got}"
    );
    // The latest devices: the one checked just now first, then the newest seeded ones (each
    // clock hour remembers its 12 newest).
    let latest: Vec<&str> = got["latest"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    assert_eq!(latest.len(), 12, "{got}");
    assert_eq!(latest[0], imei(903, 99_999), "{got}");

    // The counts follow changes other than a check: an operator unbans a device, forgets another.
    server
        .admin(
            "POST",
            &format!("/projects/{p}/devices/869030000000005/unban"),
            b"",
        )
        .expect_status(200);
    server
        .admin(
            "DELETE",
            &format!("/projects/{p}/devices/869030000000006"),
            b"",
        )
        .expect_one_of(&[200, 204]);
    let counts = server.d1(&format!(
        "SELECT (SELECT devices FROM fleet_counts WHERE project_key = '{p}' AND facet = 'banned') AS banned,
                (SELECT SUM(devices) FROM fleet_counts WHERE project_key = '{p}' AND facet = 'version') AS total,
                (SELECT SUM(devices) FROM seen_hours WHERE project_key = '{p}' AND hour >= {week}) AS week",
        week = (now - 8 * day) / 3_600_000 * 3_600_000
    ));
    assert_eq!(
        counts.first().cloned(),
        Some(json!({ "banned": 0, "total": 3_000, "week": 2_000 })),
        "after an unban and a forget"
    );
}

/// The hot write (a `last_seen` refresh assigns that column alone) must cost D1 exactly one row:
/// no index holds `last_seen` and no trigger on `devices` fires when an UPDATE assigns it alone.
#[test]
fn nothing_but_the_row_follows_a_last_seen_refresh() {
    // Its own server: the test reads or writes D1 beside the running edge (`wrangler d1
    // execute`), which would race the shared server's other tests for the database file.
    let state = fota_tests::temp_state_dir("summary-schema");
    let own = fota_tests::Server::start_with(&state, &[("EXPOSE_METRICS", "true")]);
    let server = &own;
    let schema = server.d1(
        "SELECT type, name, sql FROM sqlite_master WHERE tbl_name = 'devices' AND sql IS NOT NULL",
    );
    let mut triggers = 0;
    for entry in &schema {
        let (kind, name) = (
            entry["type"].as_str().unwrap(),
            entry["name"].as_str().unwrap(),
        );
        let sql = entry["sql"].as_str().unwrap().to_ascii_lowercase();
        match kind {
            "index" => assert!(
                !sql.contains("last_seen"),
                "index {name} holds last_seen: {sql}"
            ),
            "trigger" => {
                triggers += 1;
                let head = sql.split(" on devices").next().unwrap_or_default();
                assert!(
                    head.contains(" after insert")
                        || head.contains(" after delete")
                        || head.contains(" after update of "),
                    "trigger {name} may fire on any UPDATE: {sql}"
                );
                assert!(
                    !head.contains("last_seen"),
                    "trigger {name} fires on last_seen: {sql}"
                );
            }
            _ => {}
        }
    }
    assert!(
        triggers >= 5,
        "the counts' triggers are missing: {schema:?}"
    );
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
