//! A rollout spread over several coordinator objects (shards): a release's calls spread over
//! them by device bucket, the totals are exactly the sum of what devices saw, the gate judges the
//! merged counts, and an operator's pause reaches every shard before the answer.

use crate::{device_request, luatos_get};
use fota_shared::api::plans::RolloutStatus;
use fota_shared::model::rollout::RolloutPhase;
use fota_tests::{image, temp_state_dir, Server};
use serde_json::json;
use std::collections::BTreeMap;

const FW: &str = "sh_LuatOS-SoC_Air780EHV";
const FROM: &str = "1.0.0";
const TARGET: &str = "1.0.1";

fn ids(prefix: u32, count: u32) -> Vec<String> {
    (0..count)
        .map(|n| format!("86{prefix:03}{n:010}"))
        .collect()
}

/// Each device's answer: the HTTP status and, for a refusal, its code.
fn check_all(server: &Server, p: &str, ids: &[String], version: &str) -> Vec<(u16, u64)> {
    fota_tests::at_once(ids, 8, |id| {
        let url = format!("/api/site/firmware_upgrade?imei={id}&project_key={p}&firmware_name={FW}&version={version}");
        let resp = device_request(server, &luatos_get(server, &url));
        let code = if resp.status == 200 {
            0
        } else {
            resp.json()["code"].as_u64().unwrap_or(0)
        };
        (resp.status, code)
    })
}

fn status(server: &Server, p: &str) -> RolloutStatus {
    let resp = server.admin("GET", &format!("/projects/{p}/plans/{FW}/status"), b"");
    resp.expect_status(200);
    serde_json::from_value(resp.json()).expect("a rollout status")
}

/// Coordinator calls per object name so far (the server exposes its counters).
fn calls_per_object(server: &Server) -> BTreeMap<String, u64> {
    let resp = server.request(
        format!(
            "GET /healthz HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            server.host()
        )
        .as_bytes(),
    );
    let by_object = &resp.json()["isolate"]["durable_objects"]["by_object"];
    by_object
        .as_object()
        .expect("the test server exposes its counters")
        .iter()
        .filter(|(name, _)| name.starts_with("ROLLOUT_COORDINATOR/"))
        .map(|(name, n)| (name.clone(), n.as_u64().unwrap_or(0)))
        .collect()
}

fn tally(answers: &[(u16, u64)]) -> BTreeMap<(u16, u64), usize> {
    let mut t = BTreeMap::new();
    for a in answers {
        *t.entry(*a).or_insert(0) += 1;
    }
    t
}

#[test]
fn a_sharded_release_spreads_counts_exactly_and_pauses_every_shard_at_once() {
    let state = temp_state_dir("shards");
    let mut server = Server::start_with(&state, &[("EXPOSE_METRICS", "true")]);
    let p = "sh-release";
    let img = image(4242, 1500);
    let (first, second) = (ids(424, 240), ids(425, 240));
    let fleet: Vec<String> = first.iter().chain(&second).cloned().collect();
    let plan = json!({ "expected_devices": 2_000_000, "rollout": { "stages": [100] } });
    server.setup_known(p, None, FW, TARGET, &img, plan, &fleet, FROM);
    let shown = server
        .admin("GET", &format!("/projects/{p}/plans/{FW}"), b"")
        .expect_status(200)
        .json();
    assert_eq!(
        shown["shards"], 8,
        "2 M devices: at least 8 shards: {shown}"
    );

    // The first half of the fleet asks at once: every device is served, and the calls spread
    // over the eight objects by bucket.
    let before = calls_per_object(&server);
    let answers = check_all(&server, p, &first, FROM);
    assert_eq!(tally(&answers), BTreeMap::from([((200, 0), first.len())]));
    let after = calls_per_object(&server);
    let spread: BTreeMap<&String, u64> = after
        .iter()
        .map(|(name, n)| (name, n - before.get(name).copied().unwrap_or(0)))
        .filter(|(_, n)| *n > 0)
        .collect();
    let total: u64 = spread.values().sum();
    assert_eq!(spread.len(), 8, "one object per shard: {spread:?}");
    // Each device's first check is two calls to its shard: the attempt, then the count of the
    // streamed image once its last byte is out (`edge/src/delivery.rs`). The calls beyond those
    // are the rollout summary's refreshes (one per isolate every few seconds, however many
    // devices ask), which the first shard answers as the leader. They depend on how long the
    // burst took, so the spread is judged on the devices' calls.
    let devices = 2 * first.len() as u64;
    assert!(
        total >= devices,
        "two calls per device at least: {spread:?}"
    );
    let extra = total - devices;
    let per_shard: Vec<u64> = spread
        .iter()
        .map(|(name, n)| {
            if name.contains('#') {
                *n
            } else {
                n.saturating_sub(extra)
            }
        })
        .collect();
    let busiest = *per_shard.iter().max().unwrap() as f64 / devices as f64;
    assert!(
        busiest <= 1.0 / 8.0 + 0.05,
        "busiest shard took {busiest:.3} of the devices' calls ({extra} summary calls): {spread:?}"
    );
    let s = status(&server, p);
    assert_eq!(
        (s.totals.eligible, s.totals.offered, s.totals.pending),
        (240, 240, 240),
        "the totals are the sum of the shards: {s:#?}"
    );

    // The operator pauses: no shard offers to a new device any more.
    server
        .admin("POST", &format!("/projects/{p}/plans/{FW}/pause"), b"")
        .expect_status(200);
    let answers = check_all(&server, p, &second, FROM);
    assert_eq!(
        tally(&answers),
        BTreeMap::from([((404, 67), second.len())]),
        "a pause reaches every shard before its answer"
    );
    // Resumed: every shard offers again; the first half reports the target.
    server
        .admin("POST", &format!("/projects/{p}/plans/{FW}/resume"), b"")
        .expect_status(200);
    let answers = check_all(&server, p, &second, FROM);
    assert_eq!(tally(&answers), BTreeMap::from([((200, 0), second.len())]));
    let answers = check_all(&server, p, &first, TARGET);
    assert_eq!(tally(&answers), BTreeMap::from([((404, 60), first.len())]));
    let mut last = None;
    let settled = crate::eventually(10, || {
        let s = status(&server, p);
        let done = s.totals.succeeded == 240;
        last = Some(s);
        done
    });
    let s = last.expect("polled");
    assert!(settled, "{s:#?}");
    assert_eq!(s.state, RolloutPhase::Running);
    assert_eq!(
        (
            s.totals.eligible,
            s.totals.offered,
            s.totals.succeeded,
            s.totals.pending
        ),
        (480, 480, 240, 240),
        "{s:#?}"
    );
    server.stop();
}

#[test]
fn the_gate_judges_the_merged_counts_of_every_shard() {
    let state = temp_state_dir("shards-gate");
    let mut server = Server::start(&state);
    let p = "sh-gate";
    let img = image(4343, 1500);
    let fleet = ids(434, 40);
    let plan =
        json!({ "rollout": { "stages": [100], "min_sample": 10, "max_failure_ratio": 0.2 } });
    server.setup_known(p, Some(2), FW, TARGET, &img, plan, &fleet, FROM);
    let answers = check_all(&server, p, &fleet[..10], FROM);
    assert_eq!(tally(&answers), BTreeMap::from([((200, 0), 10)]));
    // Three devices download again and are banned (ban_after 2), spread over the shards; seven
    // report the target. Three of ten outcomes failed: above 0.2 on the merged counts, though
    // no shard alone has its sample.
    let (failing, good) = (&fleet[..3], &fleet[3..10]);
    assert_eq!(
        tally(&check_all(&server, p, failing, FROM)),
        BTreeMap::from([((200, 0), 3)])
    );
    assert_eq!(
        tally(&check_all(&server, p, failing, FROM)),
        BTreeMap::from([((403, 62), 3)])
    );
    assert_eq!(
        tally(&check_all(&server, p, good, TARGET)),
        BTreeMap::from([((404, 60), 7)])
    );
    let mut last = None;
    let paused = crate::eventually(10, || {
        let s = status(&server, p);
        let done = s.state == RolloutPhase::Paused;
        last = Some(s);
        done
    });
    let s = last.expect("polled");
    assert!(paused, "the merged gate did not trip: {s:#?}");
    let reason = s.paused_reason.clone().unwrap_or_default();
    assert!(reason.contains("3 of 10 outcomes failed"), "{reason}");
    // Every shard took the pause: the rest of the fleet, never offered, is refused "not now".
    let rest = &fleet[10..];
    let answers = check_all(&server, p, rest, FROM);
    assert_eq!(tally(&answers), BTreeMap::from([((404, 67), rest.len())]));
    server.stop();
}
