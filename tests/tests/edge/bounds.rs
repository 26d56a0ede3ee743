//! Bounded writes per device and operator writes that leave their trace (issue 15, items 7
//! and 9), against `wrangler dev` on the shared server:
//!
//! - a device alternating versions rewrites its registry row at most once a minute and keeps at
//!   most 24 version entries a day in its history (the 24th says so);
//! - the signed device routes answer 429 `device_rate_limited` past the per-device limit, and
//!   rotating module names does not pass the 3 s progress limit;
//! - one unban lifts a device's ban in every plan of the project that banned it;
//! - an admin write and its audit entry commit together: both appear, and a write whose audit
//!   entry D1 refuses is rolled back (a D1 write) or not acknowledged (any other write).
//!
//! Project keys start with `bd-` and device ids with `8694N` (N per test).

use crate::ota::{project as ota_project, provision};
use crate::{device_request, eventually, imei, luatos_get};
use fota_shared::leaf::time::parse_rfc3339;
use fota_tests::{image, now_ms, shared_server, RawResponse, Server};
use serde_json::{json, Value};
use std::time::Instant;

const FW: &str = "BD_LuatOS-SoC_EC618";
const FW_B: &str = "BD_LuatOS-SoC_EC718";

fn check_url(project: &str, firmware: &str, version: &str, id: &str) -> String {
    format!("/api/site/firmware_upgrade?imei={id}&project_key={project}&firmware_name={firmware}&version={version}")
}

fn ask(server: &Server, project: &str, firmware: &str, version: &str, id: &str) -> RawResponse {
    device_request(
        server,
        &luatos_get(server, &check_url(project, firmware, version, id)),
    )
}

fn code(resp: &RawResponse) -> u64 {
    resp.json()["code"].as_u64().unwrap_or_default()
}

/// The device's history as (at in ms, kind, detail), oldest first.
fn history(server: &Server, project: &str, id: &str) -> Vec<(i64, String, String)> {
    let body = server
        .admin(
            "GET",
            &format!("/projects/{project}/devices/{id}/history"),
            b"",
        )
        .expect_status(200)
        .json();
    body["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| {
            (
                parse_rfc3339(e["at"].as_str().unwrap_or_default()).expect("an RFC 3339 time"),
                e["kind"].as_str().unwrap_or_default().to_string(),
                e["detail"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn versions_in_history(server: &Server, project: &str, id: &str) -> Vec<(i64, String)> {
    history(server, project, id)
        .into_iter()
        .filter(|(_, kind, _)| kind == "version")
        .map(|(at, _, detail)| (at, detail))
        .collect()
}

fn record(server: &Server, project: &str, id: &str) -> Value {
    server
        .admin("GET", &format!("/projects/{project}/devices/{id}"), b"")
        .expect_status(200)
        .json()
}

fn put_project(server: &Server, project: &str, ban_after: Option<u32>) -> RawResponse {
    let mut spec = json!({ "name": format!("project {project}") });
    if let Some(b) = ban_after {
        spec["ban_after"] = b.into();
    }
    server.admin(
        "PUT",
        &format!("/projects/{project}"),
        spec.to_string().as_bytes(),
    )
}

// ---------------------------------------------------------------- the registry's bounds

#[test]
fn a_device_alternating_versions_rewrites_its_row_at_most_once_a_minute() {
    let server = shared_server();
    let p = "bd-alternate";
    put_project(server, p, None).expect_status(200);
    let id = imei(941, 1);
    let started = Instant::now();
    // No plan: every answer is 27, 69 past the device's check limit; none is a 5xx.
    let mut limited = 0;
    for i in 0..100 {
        let version = if i % 2 == 0 { "1.0.0" } else { "1.0.1" };
        let resp = ask(server, p, FW, version, &id);
        match (resp.status, code(&resp)) {
            (404, 27) => {}
            (429, 69) => limited += 1,
            other => panic!(
                "check {i}: {other:?} {}",
                String::from_utf8_lossy(&resp.body)
            ),
        }
    }
    let elapsed_minutes = started.elapsed().as_secs() as i64 / 60;
    assert!(
        limited > 0,
        "100 checks in a row pass the 30-a-minute limit"
    );
    let versions = versions_in_history(server, p, &id);
    // The first change (1.0.0 -> 1.0.1) is written at once; every later one waits a minute
    // after the rewrite before it, so the row changed at most once per minute of the run.
    assert!(!versions.is_empty(), "the first change is recorded");
    assert!(
        versions.len() as i64 <= 1 + elapsed_minutes + 1 && versions.len() <= 24,
        "{} rewrites in {elapsed_minutes} whole minutes: {versions:?}",
        versions.len()
    );
    for pair in versions.windows(2) {
        assert!(
            pair[1].0 - pair[0].0 >= 60_000,
            "two rewrites less than a minute apart: {versions:?}"
        );
    }
    let version = record(server, p, &id)["version"].clone();
    assert!(version == "1.0.0" || version == "1.0.1", "{version}");
}

#[test]
fn a_device_keeps_at_most_24_version_entries_a_day() {
    // Its own server: the test seeds rows through `wrangler d1 execute` beside the running edge.
    let state = fota_tests::temp_state_dir("bounds-day");
    let own = Server::start_with(&state, &[]);
    let server = &own;
    // The seeded day must still be the day of the checks: never start within a minute of UTC
    // midnight (a bounded wait, at most a minute).
    let into_day = now_ms().rem_euclid(86_400_000);
    if into_day > 86_400_000 - 60_000 {
        std::thread::sleep(std::time::Duration::from_millis(
            (86_400_000 - into_day + 1_000) as u64,
        ));
    }
    let p = "bd-day";
    put_project(server, p, None).expect_status(200);
    // Two registered devices whose rows say they changed 23 and 24 times today (a day of
    // rewrites a minute apart, seeded: the test cannot wait 24 minutes).
    let (at_23, at_24) = (imei(942, 1), imei(942, 2));
    server.register_luat(p, &[at_23.clone(), at_24.clone()]);
    let today = now_ms().div_euclid(86_400_000);
    for (id, count) in [(&at_23, 23), (&at_24, 24)] {
        server.d1(&format!(
            "UPDATE devices SET firmware_name = '{FW}', version = '1.0.0', change_day = {today}, day_changes = {count} WHERE id = '{id}'"
        ));
    }
    for id in [&at_23, &at_24] {
        ask(server, p, FW, "1.0.1", id).expect_refusal(404, 27);
    }
    // Both rows are rewritten (their last rewrite was not within the minute) ...
    for id in [&at_23, &at_24] {
        let mut last = Value::Null;
        let written = eventually(10, || {
            last = record(server, p, id);
            last["version"] == "1.0.1"
        });
        assert!(written, "{last}");
    }
    // ... the 24th change of the day is in the history and says that later ones are not ...
    let versions = versions_in_history(server, p, &at_23);
    assert_eq!(versions.len(), 1, "{versions:?}");
    assert!(
        versions[0].1.starts_with(&format!("{FW} 1.0.0 -> 1.0.1"))
            && versions[0].1.contains("24 changes today"),
        "{versions:?}"
    );
    // ... and the 25th leaves none.
    assert_eq!(versions_in_history(server, p, &at_24), vec![]);
    // A check that changes nothing writes nothing: the history stays as it is.
    ask(server, p, FW, "1.0.1", &at_23).expect_refusal(404, 27);
    assert_eq!(versions_in_history(server, p, &at_23).len(), 1);
}

// ---------------------------------------------------------------- signed device routes

/// `ota::provision`, tried again when the local D1 was busy: the tests here that write D1
/// directly (`Server::d1`) can make a write of the server's fail with `SQLITE_BUSY` (503).
fn provisioned(server: &Server, pk: &str, names: &[String]) -> Vec<crate::ota::Device> {
    for _ in 0..3 {
        let tried = std::panic::catch_unwind(|| provision(server, pk, names));
        if let Ok(devices) = tried {
            return devices;
        }
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
    provision(server, pk, names)
}

#[test]
fn signed_device_requests_are_limited_per_device() {
    let server = shared_server();
    let pk = "bd-signed-rate";
    ota_project(server, pk);
    let names: Vec<String> = (1..=2).map(|i| format!("bd43-{i}")).collect();
    let devices = provisioned(server, pk, &names);
    let (busy, other) = (&devices[0], &devices[1]);
    // Luat checks in the JSON device's name (answered 70) spend none of its budget.
    for _ in 0..5 {
        ask(server, pk, FW, "1.0.0", &busy.name).expect_refusal(403, 70);
    }
    let mut answered = 0;
    let mut limited = None;
    // Past 30 a minute the device is refused; a run of 70 fills one minute's window whatever
    // the windows' boundaries.
    for i in 0..70 {
        let resp = busy.report(server, "MCU", "1.0.0");
        match resp.status {
            200 => answered += 1,
            429 => {
                limited = Some((i, resp));
                break;
            }
            other => panic!(
                "report {i}: {other} {}",
                String::from_utf8_lossy(&resp.body)
            ),
        }
    }
    let (i, resp) = limited.expect("the per-device limit refuses a device sending 70 requests");
    assert!(answered >= 30, "refused after {i} requests");
    crate::ota::expect_refused(&resp, 429, "device_rate_limited");
    // Every signed route is limited alike; another device of the product is not.
    crate::ota::expect_refused(&busy.notice(server), 429, "device_rate_limited");
    other.report(server, "MCU", "1.0.0").expect_status(200);
}

#[test]
fn rotating_module_names_does_not_pass_the_progress_limit() {
    let server = shared_server();
    let pk = "bd-progress";
    ota_project(server, pk);
    let dev = provisioned(server, pk, &["bd44-1".to_string()]).remove(0);
    // A step is stored; the next steps within 3 s are refused whatever module they name. The
    // 3 s are measured from the stored one's answer, and the round is run again when slower.
    for round in 0..5 {
        let stored = dev.progress(server, "M0", json!("10"), None);
        if stored.status != 200 {
            // Still within 3 s of the previous round's stored step.
            std::thread::sleep(std::time::Duration::from_secs(3));
            continue;
        }
        let at = Instant::now();
        let answers: Vec<(u16, Value)> = (1..=3)
            .map(|m| {
                let r = dev.progress(server, &format!("M{round}{m}"), json!("20"), None);
                let body = r.json();
                (r.status, body)
            })
            .collect();
        if at.elapsed().as_millis() >= 2_500 {
            continue;
        }
        for (status, body) in &answers {
            assert_eq!(*status, 429, "{body}");
            assert_eq!(body["code"], 429, "{body}");
        }
        let stored: Vec<String> = history(server, pk, &dev.name)
            .into_iter()
            .filter(|(_, kind, _)| kind == "progress")
            .map(|(_, _, d)| d)
            .collect();
        assert!(
            stored.iter().all(|d| d.starts_with("M0 step 10")),
            "{stored:?}"
        );
        // Final steps are still always stored.
        dev.progress(server, "M9", json!("-2"), None)
            .expect_status(200);
        return;
    }
    panic!("five rounds each slower than 2.5 s");
}

// ---------------------------------------------------------------- unban

/// Downloads `firmware`'s image as `id` until the edge answers 62 (banned).
fn download_until_banned(server: &Server, p: &str, firmware: &str, id: &str, img: &[u8]) {
    let banned = eventually(20, || {
        let resp = ask(server, p, firmware, "1.0.0", id);
        match resp.status {
            200 => {
                resp.expect_image(200, img);
                false
            }
            _ => {
                resp.expect_refusal(403, 62);
                true
            }
        }
    });
    assert!(banned, "{id} was never banned for {firmware}");
}

#[test]
fn one_unban_lifts_the_ban_in_every_plan_that_banned_the_device() {
    let server = shared_server();
    let p = "bd-unban";
    let (img_a, img_b) = (image(9430, 40_000), image(9431, 50_000));
    server.setup(p, Some(1), FW, "1.0.1", &img_a, json!({}));
    server
        .admin(
            "PUT",
            &format!("/projects/{p}/firmware/{FW_B}/1.0.1"),
            &img_b,
        )
        .expect_one_of(&[200, 201]);
    server
        .admin(
            "PUT",
            &format!("/projects/{p}/plans/{FW_B}"),
            json!({ "target_version": "1.0.1" }).to_string().as_bytes(),
        )
        .expect_status(200);
    let id = imei(943, 1);
    // Banned by both plans: one under each firmware name the device sends.
    download_until_banned(server, p, FW, &id, &img_a);
    download_until_banned(server, p, FW_B, &id, &img_b);

    let unbanned = server
        .admin("POST", &format!("/projects/{p}/devices/{id}/unban"), b"")
        .expect_status(200)
        .json();
    assert_eq!(unbanned["banned"], false, "{unbanned}");
    // Both plans serve it again, whichever firmware name the registry holds.
    ask(server, p, FW, "1.0.0", &id).expect_image(200, &img_a);
    ask(server, p, FW_B, "1.0.0", &id).expect_image(200, &img_b);

    // The write and its audit entry went together.
    let audit = server
        .admin("GET", &format!("/audit?project={p}"), b"")
        .expect_status(200)
        .json();
    let entries = audit["entries"].as_array().expect("entries");
    assert!(
        entries.iter().any(|e| e["target"] == format!("device {id}")
            && e["before"]["banned"] == true
            && e["after"]["banned"] == false),
        "{audit}"
    );
    assert!(history(server, p, &id)
        .iter()
        .any(|(_, kind, _)| kind == "unban"));
}

/// An unban reaches the device's rollout row too: a banned job is offered again (its cause
/// cleared, the counts moved from banned to pending), so neither the device record nor the
/// dashboard keeps saying "banned after repeated deliveries"; a new delivery and the report then
/// make it a success.
#[test]
fn an_unbanned_device_s_rollout_row_is_offered_again() {
    let server = shared_server();
    let p = "bd-unban-row";
    let img = image(9440, 30_000);
    let id = imei(944, 1);
    // Banned at its second delivery: after the unban, one delivery leaves it served.
    server.setup_known(
        p,
        Some(2),
        FW,
        "1.0.1",
        &img,
        json!({ "rollout": { "stages": [100] } }),
        std::slice::from_ref(&id),
        "1.0.0",
    );
    download_until_banned(server, p, FW, &id, &img);
    let status = |server: &Server| {
        server
            .admin("GET", &format!("/projects/{p}/plans/{FW}/status"), b"")
            .expect_status(200)
            .json()
    };
    assert!(
        eventually(10, || record(server, p, &id)["state"] == "banned"),
        "{}",
        record(server, p, &id)
    );
    assert_eq!(status(server)["totals"]["banned"], 1, "{}", status(server));

    server
        .admin("POST", &format!("/projects/{p}/devices/{id}/unban"), b"")
        .expect_status(200);
    let s = status(server);
    assert_eq!(
        (&s["totals"]["banned"], &s["totals"]["pending"]),
        (&json!(0), &json!(1)),
        "{s}"
    );
    assert!(
        eventually(10, || record(server, p, &id)["state"] == "offered"),
        "{}",
        record(server, p, &id)
    );
    assert_eq!(record(server, p, &id)["cause"], Value::Null);

    // A delivery, then the report: succeeded.
    ask(server, p, FW, "1.0.0", &id).expect_image(200, &img);
    assert!(eventually(10, || record(server, p, &id)["deliveries"] == 1));
    ask(server, p, FW, "1.0.1", &id).expect_refusal(404, 60);
    assert!(
        eventually(10, || record(server, p, &id)["state"] == "succeeded"),
        "{}",
        record(server, p, &id)
    );
}

// ---------------------------------------------------------------- audit

#[test]
fn an_admin_write_whose_audit_entry_fails_is_not_acknowledged() {
    // Its own server: the test writes to D1 beside the running edge (`wrangler d1 execute`),
    // which would race the shared server's other tests for the database file.
    let state = fota_tests::temp_state_dir("bounds-audit");
    let own = Server::start_with(&state, &[]);
    let server = &own;
    let p = "bd-audit-fail";
    let img = image(9450, 30_000);
    server.setup(p, Some(1), FW, "1.0.1", &img, json!({}));
    let id = imei(945, 1);
    download_until_banned(server, p, FW, &id, &img);

    // D1 refuses this project's audit entries from now on (as a full or failing D1 would).
    server.d1(&format!(
        "CREATE TRIGGER IF NOT EXISTS bounds_audit_refused BEFORE INSERT ON audit \
         WHEN NEW.project_key = '{p}' BEGIN SELECT RAISE(ABORT, 'bounds test: audit refused'); END"
    ));
    // A D1 write batched with its entry is rolled back with it: still banned, no history entry.
    let refused = server.admin("POST", &format!("/projects/{p}/devices/{id}/unban"), b"");
    assert_eq!(
        refused.status,
        503,
        "{}",
        String::from_utf8_lossy(&refused.body)
    );
    assert_eq!(refused.json()["error"]["code"], "unavailable");
    assert_eq!(record(server, p, &id)["banned"], true);
    assert!(!history(server, p, &id)
        .iter()
        .any(|(_, kind, _)| kind == "unban"));
    ask(server, p, FW, "1.0.0", &id).expect_refusal(403, 62);
    // Any other write is not acknowledged when its entry cannot be written.
    let renamed = put_project(server, p, Some(1));
    assert_eq!(
        renamed.status,
        503,
        "{}",
        String::from_utf8_lossy(&renamed.body)
    );
    assert_eq!(renamed.json()["error"]["code"], "audit_unavailable");

    server.d1("DROP TRIGGER IF EXISTS bounds_audit_refused");
    server
        .admin("POST", &format!("/projects/{p}/devices/{id}/unban"), b"")
        .expect_status(200);
    ask(server, p, FW, "1.0.0", &id).expect_image(200, &img);
    let audit = server
        .admin("GET", &format!("/audit?project={p}"), b"")
        .expect_status(200)
        .json();
    let unbans = audit["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| e["target"] == format!("device {id}"))
        .count();
    assert_eq!(unbans, 1, "only the acknowledged unban is audited: {audit}");
}
