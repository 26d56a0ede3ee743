//! Fleet scale: a release's first offers as a burst of distinct devices (every one served, exact
//! counts, no 503), and the steady state (a check that changes nothing writes nothing).

use crate::{device_request, eventually, imei, luatos_get};
use fota_tests::{image, shared_server, temp_state_dir, Server};
use serde_json::json;

const FW: &str = "sc_LuatOS-SoC_Air780EHV";
const FROM: &str = "1.0.0";
const TARGET: &str = "1.0.1";

fn ask(server: &Server, project: &str, id: &str, version: &str) -> fota_tests::RawResponse {
    let url = format!("/api/site/firmware_upgrade?imei={id}&project_key={project}&firmware_name={FW}&version={version}");
    device_request(server, &luatos_get(server, &url))
}

/// `ids` each ask once, `at_once` at a time; the statuses and codes they heard, in `ids` order.
fn burst(
    server: &Server,
    project: &str,
    ids: &[String],
    version: &str,
    img: &[u8],
    clients: usize,
) -> Vec<(u16, u64)> {
    fota_tests::at_once(ids, clients, |id| {
        let resp = ask(server, project, id, version);
        if resp.status == 200 {
            resp.expect_image(200, img);
            (200, 0)
        } else {
            (resp.status, resp.json()["code"].as_u64().unwrap_or(0))
        }
    })
}

fn totals(server: &Server, project: &str) -> serde_json::Value {
    crate::plan_totals(server, project, FW)
}

/// 2,000 known devices make their first check of a fresh `{"stages":[100]}` rollout,
/// 32 at a time: every one gets the image (none hears 503), the rollout counts exactly 2,000
/// offers, and once they all report the target, exactly 2,000 successes.
#[test]
fn a_release_burst_serves_every_device_and_counts_each_once() {
    let server = shared_server();
    let p = "sc-burst";
    let img = image(8080, 1024);
    // A release reaches a fleet that checked in before it: 2,000 devices the project knows, none
    // of them in the rollout yet (their first check of it is the burst).
    let ids: Vec<String> = (0..2_000).map(|i| imei(808, i)).collect();
    server.setup_known(
        p,
        None,
        FW,
        TARGET,
        &img,
        json!({ "rollout": { "stages": [100] } }),
        &ids,
        FROM,
    );

    let first = burst(server, p, &ids, FROM, &img, 32);
    let refused: Vec<_> = first
        .iter()
        .zip(&ids)
        .filter(|(a, _)| a.0 != 200)
        .take(5)
        .collect();
    assert!(refused.is_empty(), "devices not served: {refused:?}");
    let t = totals(server, p);
    assert_eq!(
        (
            t["eligible"].as_u64(),
            t["offered"].as_u64(),
            t["pending"].as_u64()
        ),
        (Some(2_000), Some(2_000), Some(2_000)),
        "{t}"
    );

    let after = burst(server, p, &ids, TARGET, &img, 32);
    assert!(
        after.iter().all(|a| *a == (404, 60)),
        "every device is up to date after its upgrade"
    );
    let settled = eventually(30, || {
        totals(server, p)["succeeded"].as_u64() == Some(2_000)
    });
    let t = totals(server, p);
    assert!(settled, "2,000 successes: {t}");
    assert_eq!(
        (
            t["offered"].as_u64(),
            t["pending"].as_u64(),
            t["failed"].as_u64()
        ),
        (Some(2_000), Some(0), Some(0)),
        "{t}"
    );
    // The fleet registry agrees: every device runs the target and its job succeeded.
    let list = server
        .admin(
            "GET",
            &format!("/projects/{p}/devices?state=succeeded&limit=1000"),
            b"",
        )
        .expect_status(200)
        .json();
    assert_eq!(
        list["devices"].as_array().map(Vec::len),
        Some(1000),
        "{}",
        list["next_cursor"]
    );
}

/// The D1 calls this server's isolate has made so far for anything but the dashboard's activity
/// counts (one batch every few seconds whatever the traffic) (`EXPOSE_METRICS`).
fn d1_calls(server: &Server) -> u64 {
    let resp = server.request(
        format!(
            "GET /healthz HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            server.host()
        )
        .as_bytes(),
    );
    let counters = &resp.json()["isolate"];
    let all = counters["d1_calls"]
        .as_u64()
        .expect("the test server exposes its counters");
    all - counters["d1_activity_calls"].as_u64().unwrap_or(0)
}

/// Devices that check again after 61 s with nothing changed add no history and rewrite no
/// `last_seen`, and the checks cost no D1 call at all, even when a device writes its version
/// differently (`1.0.1` and `1.0.01` are one version).
#[test]
fn a_steady_state_check_writes_nothing() {
    let state = temp_state_dir("steady");
    let mut server = Server::start_with(&state, &[("EXPOSE_METRICS", "true")]);
    let p = "sc-steady";
    let img = image(8181, 512);
    server.setup(p, None, FW, TARGET, &img, json!({}));
    let ids: Vec<String> = (0..40).map(|i| imei(818, i)).collect();
    for id in &ids {
        ask(&server, p, id, TARGET).expect_refusal(404, 60);
    }
    let snapshot = |server: &Server| -> Vec<(String, String, usize)> {
        let list = server
            .admin("GET", &format!("/projects/{p}/devices?limit=1000"), b"")
            .expect_status(200)
            .json();
        list["devices"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                let id = d["id"].as_str().unwrap().to_string();
                let history = server
                    .admin("GET", &format!("/projects/{p}/devices/{id}/history"), b"")
                    .expect_status(200)
                    .json();
                (
                    id,
                    d["last_seen"].as_str().unwrap().to_string(),
                    history["events"].as_array().unwrap().len(),
                )
            })
            .collect()
    };
    let before = snapshot(&server);
    assert_eq!(before.len(), ids.len());
    assert!(
        before.iter().all(|(_, _, events)| *events == 1),
        "only the binding is in the history: {before:?}"
    );

    std::thread::sleep(std::time::Duration::from_secs(61));
    let calls = d1_calls(&server);
    for (i, id) in ids.iter().enumerate() {
        let version = if i % 2 == 0 { TARGET } else { "1.0.01" };
        ask(&server, p, id, version).expect_refusal(404, 60);
    }
    std::thread::sleep(std::time::Duration::from_secs(1));
    assert_eq!(
        d1_calls(&server) - calls,
        0,
        "D1 calls for {} steady-state checks",
        ids.len()
    );
    assert_eq!(
        snapshot(&server),
        before,
        "no last_seen rewritten, no history added"
    );
    server.stop();
}
