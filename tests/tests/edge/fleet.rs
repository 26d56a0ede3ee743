//! The fleet registry as devices see it: a device id belongs to the project of its first check,
//! loop-upgrade bans and their lifting, and both surviving a restart of the server.

use crate::{device_request, eventually, imei, luatos_get, luatos_get_with};
use fota_tests::{image, shared_server, temp_state_dir, RawResponse, Server};
use serde_json::json;

const FW: &str = "fleet_LuatOS-SoC_Air780EHV";

fn check_url(project: &str, id: &str, version: &str) -> String {
    format!("/api/site/firmware_upgrade?imei={id}&project_key={project}&firmware_name={FW}&version={version}")
}

/// A fresh download (no `Range`) or a resume (`Range: bytes=1000-`) of `FW` by `id` in `project`.
fn ask(server: &Server, project: &str, id: &str, version: &str, resume: bool) -> RawResponse {
    let url = check_url(project, id, version);
    let bytes = if resume {
        luatos_get_with(server, &url, "Range: bytes=1000-\r\n")
    } else {
        luatos_get(server, &url)
    };
    device_request(server, &bytes)
}

/// What one check must get: the image (whole or from byte 1000) or a refusal code.
#[derive(Debug, Clone, Copy)]
enum Want {
    Image,
    Resumed,
    Refused(u16, u64),
}

#[track_caller]
fn check(
    server: &Server,
    (project, id, version): (&str, &str, &str),
    resume: bool,
    img: &[u8],
    want: Want,
) {
    let resp = ask(server, project, id, version, resume);
    match want {
        Want::Image => resp.expect_image(200, img),
        Want::Resumed => resp.expect_image(206, &img[1000..]),
        Want::Refused(status, code) => resp.expect_refusal(status, code),
    };
}

fn device_record(server: &Server, project: &str, id: &str) -> serde_json::Value {
    server
        .admin("GET", &format!("/projects/{project}/devices/{id}"), b"")
        .expect_status(200)
        .json()
}

#[test]
fn a_device_belongs_to_the_project_of_its_first_check() {
    let server = shared_server();
    let (a, b) = ("fl-own-a", "fl-own-b");
    let img_a = image(3010, 120_000);
    let img_b = image(3011, 110_000);
    server.setup(a, None, FW, "1.0.1", &img_a, json!({}));
    server.setup(b, None, FW, "1.0.1", &img_b, json!({}));
    let (d1, d2) = (imei(301, 1), imei(301, 2));
    use Want::*;
    let cases: [((&str, &str, &str), Want); 7] = [
        ((a, &d1, "1.0.0"), Image),
        ((b, &d1, "1.0.0"), Refused(403, 25)),
        ((b, &d1, "1.0.1"), Refused(403, 25)),
        ((a, &d1, "1.0.0"), Image),
        ((a, &d1, "1.0.1"), Refused(404, 60)),
        ((b, &d2, "1.0.0"), Image),
        ((a, &d2, "1.0.0"), Refused(403, 25)),
    ];
    for (i, (ask, want)) in cases.into_iter().enumerate() {
        let img = if ask.0 == a { &img_a } else { &img_b };
        eprintln!("case {i}: {ask:?}");
        check(server, ask, false, img, want);
    }
    // The registry lists the device under its own project only.
    assert_eq!(device_record(server, a, &d1)["id"], d1);
    server
        .admin("GET", &format!("/projects/{b}/devices/{d1}"), b"")
        .expect_status(404);
}

#[test]
fn repeated_downloads_ban_a_device_until_unbanned_or_reported() {
    let server = shared_server();
    let p = "fl-ban";
    let img = image(3020, 150_000);
    server.setup(p, Some(3), FW, "1.0.1", &img, json!({}));
    let d = imei(302, 1);
    let me = (p, d.as_str(), "1.0.0");
    use Want::*;
    // Three fresh downloads are served; resumes in between do not count.
    let steps: [(bool, Want); 9] = [
        (false, Image),
        (true, Resumed),
        (true, Resumed),
        (false, Image),
        (true, Resumed),
        (false, Image),
        // The fourth fresh download and any resume of the banned target are refused.
        (false, Refused(403, 62)),
        (true, Refused(403, 62)),
        (false, Refused(403, 62)),
    ];
    for (i, (resume, want)) in steps.into_iter().enumerate() {
        eprintln!("step {i}: resume={resume}");
        check(server, me, resume, &img, want);
    }
    let record = device_record(server, p, &d);
    assert_eq!(
        (record["banned"].as_bool(), record["deliveries"].as_u64()),
        (Some(true), Some(3)),
        "{record}"
    );
    let listed = server
        .admin("GET", &format!("/projects/{p}/devices?banned=true"), b"")
        .expect_status(200)
        .json();
    assert_eq!(
        listed["devices"].as_array().map(|d| d.len()),
        Some(1),
        "{listed}"
    );

    // An operator lifts the ban: served again, and counting restarts.
    let unbanned = server
        .admin("POST", &format!("/projects/{p}/devices/{d}/unban"), b"")
        .expect_status(200)
        .json();
    assert_eq!(
        (
            unbanned["banned"].as_bool(),
            unbanned["deliveries"].as_u64()
        ),
        (Some(false), Some(0)),
        "{unbanned}"
    );
    check(server, me, false, &img, Image);
    // A delivery is counted once its bytes have gone out, a moment after the answer.
    let mut record = serde_json::Value::Null;
    let counted = eventually(5, || {
        record = device_record(server, p, &d);
        record["deliveries"] == 1
    });
    assert!(counted, "{record}");
    assert_eq!(record["banned"].as_bool(), Some(false), "{record}");

    // The device reports the target: the upgrade took, so the count is cleared (in the background).
    check(server, (p, &d, "1.0.1"), false, &img, Refused(404, 60));
    let mut last = serde_json::Value::Null;
    let cleared = eventually(5, || {
        last = device_record(server, p, &d);
        last["deliveries"] == 0 && last["banned"] == false && last["version"] == "1.0.1"
    });
    assert!(
        cleared,
        "count not cleared after the device reported the target: {last}"
    );
}

#[test]
fn reporting_the_target_lifts_a_ban_only_after_a_new_delivery() {
    let server = shared_server();
    let p = "fl-ban-report";
    let img = image(3030, 100_000);
    server.setup(p, Some(2), FW, "1.0.1", &img, json!({}));
    let d = imei(303, 1);
    use Want::*;
    let record_is = |what: &str, banned: bool, deliveries: u64| {
        let mut last = serde_json::Value::Null;
        let reached = eventually(5, || {
            last = device_record(server, p, &d);
            last["banned"] == banned && last["deliveries"] == deliveries
        });
        assert!(reached, "{what}: {last}");
    };
    check(server, (p, &d, "1.0.0"), false, &img, Image);
    record_is("the first delivery", false, 1);
    check(server, (p, &d, "1.0.0"), false, &img, Image);
    record_is("the second delivery bans", true, 2);
    check(server, (p, &d, "1.0.0"), false, &img, Refused(403, 62));
    // The report of the target follows no delivery since the ban: the ban stays.
    check(server, (p, &d, "1.0.1"), false, &img, Refused(404, 60));
    std::thread::sleep(std::time::Duration::from_millis(1_000));
    record_is("a report without delivery", true, 2);
    // An operator lifts it; a new delivery, then the report: the upgrade took, the count clears.
    server
        .admin("POST", &format!("/projects/{p}/devices/{d}/unban"), b"")
        .expect_status(200);
    check(server, (p, &d, "1.0.0"), false, &img, Image);
    record_is("the delivery after the unban", false, 1);
    check(server, (p, &d, "1.0.1"), false, &img, Refused(404, 60));
    record_is("the report after it", false, 0);
}

#[test]
fn bindings_and_bans_survive_a_restart() {
    let state = temp_state_dir("restart");
    let (a, b) = ("rs-a", "rs-b");
    let img = image(3040, 100_000);
    let (bound, banned) = (imei(304, 1), imei(304, 2));
    use Want::*;
    {
        let mut server = Server::start(&state);
        server.setup(a, Some(2), FW, "1.0.1", &img, json!({}));
        server.setup(b, None, FW, "1.0.1", &img, json!({}));
        check(&server, (a, &bound, "1.0.1"), false, &img, Refused(404, 60));
        check(&server, (b, &bound, "1.0.0"), false, &img, Refused(403, 25));
        check(&server, (a, &banned, "1.0.0"), false, &img, Image);
        check(&server, (a, &banned, "1.0.0"), false, &img, Image);
        check(
            &server,
            (a, &banned, "1.0.0"),
            false,
            &img,
            Refused(403, 62),
        );
        server.stop();
    }
    let server = Server::start(&state);
    check(&server, (b, &bound, "1.0.0"), false, &img, Refused(403, 25));
    check(
        &server,
        (a, &banned, "1.0.0"),
        false,
        &img,
        Refused(403, 62),
    );
    check(&server, (a, &bound, "1.0.1"), false, &img, Refused(404, 60));
    let list = server
        .admin("GET", &format!("/projects/{a}/devices"), b"")
        .expect_status(200)
        .json();
    let ids: Vec<&str> = list["devices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [bound.as_str(), banned.as_str()], "{list}");
    assert_eq!(list["devices"][1]["banned"], true, "{list}");
}

#[test]
fn plans_outlive_the_isolate_cache() {
    // The edge keeps plans in isolate memory for 30 s; after that they must still read from KV.
    let server = shared_server();
    let p = "fl-kv";
    let img = image(3050, 100_000);
    server.setup(p, None, FW, "1.0.1", &img, json!({}));
    std::thread::sleep(std::time::Duration::from_secs(31));
    check(
        server,
        (p, &imei(305, 1), "1.0.0"),
        false,
        &img,
        Want::Image,
    );
    let plan = server
        .admin("GET", &format!("/projects/{p}/plans/{FW}"), b"")
        .expect_status(200)
        .json();
    assert_eq!(plan["target_version"], "1.0.1");
    let plans = server
        .admin("GET", &format!("/projects/{p}/plans"), b"")
        .expect_status(200)
        .json();
    assert_eq!(
        plans["plans"].as_array().map(|p| p.len()),
        Some(1),
        "{plans}"
    );
}
