//! The project's Prometheus metrics (`GET /admin/v1/projects/{key}/metrics`): parsed by a real
//! parser of the text format (`openmetrics-parser`), they say what the fleet summary and the
//! rollout status say, with label values escaped so that they read back exactly; a viewer
//! token reads them, no token does not.

use crate::{device_request, eventually, imei, luatos_get};
use fota_tests::{image, now_ms, shared_server, Server, TOKEN};
use openmetrics_parser::{prometheus::parse_prometheus, PrometheusValue};
use serde_json::{json, Value};
use std::collections::BTreeMap;

const FW: &str = "met_LuatOS-SoC_Air780EHV";
/// A firmware name no check could report (the edge refuses such names), seeded straight into
/// D1 to carry a quote, a backslash and a newline through the labels.
const ODD_FW: &str = "met \"odd\" \\fw\nline";
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Every sample: (metric name, its labels) -> value.
type Samples = BTreeMap<(String, BTreeMap<String, String>), f64>;

/// Parses an answer with the text-format parser (which refuses anything malformed: a bad
/// escape, a sample outside its family, a duplicate series) and lists its samples.
#[track_caller]
fn parse(text: &str) -> Samples {
    let exposition =
        parse_prometheus(text).unwrap_or_else(|e| panic!("not Prometheus text: {e:?}\n{text}"));
    let mut samples = Samples::new();
    for (name, family) in &exposition.families {
        let names = family.get_label_names().to_vec();
        for sample in family.iter_samples() {
            let set = sample.get_labelset().expect("labels");
            let labels = names
                .iter()
                .map(|n| (n.clone(), set.get_label_value(n).unwrap_or("").to_string()))
                .collect();
            let value = match &sample.value {
                PrometheusValue::Gauge(n) => n.as_f64(),
                other => panic!("{name}: not a gauge: {other:?}"),
            };
            samples.insert((name.clone(), labels), value);
        }
    }
    samples
}

fn metric(samples: &Samples, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let labels = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    samples.get(&(name.to_string(), labels)).copied()
}

/// The samples of one metric, by their labels.
fn family(samples: &Samples, name: &str) -> Vec<(BTreeMap<String, String>, f64)> {
    samples
        .iter()
        .filter(|((n, _), _)| n == name)
        .map(|((_, l), v)| (l.clone(), *v))
        .collect()
}

fn scrape(server: &Server, token: Option<&str>, path: &str) -> fota_tests::RawResponse {
    server.admin_as(token, "GET", path, b"", &[])
}

fn get_json(server: &Server, path: &str) -> Value {
    server.admin("GET", path, b"").expect_status(200).json()
}

fn devices_listed(server: &Server, project: &str, query: &str) -> usize {
    get_json(
        server,
        &format!("/projects/{project}/devices?limit=1000&{query}"),
    )["devices"]
        .as_array()
        .map_or(0, Vec::len)
}

#[test]
fn the_metrics_say_what_the_summary_and_the_rollout_status_say() {
    // Its own server: the test writes D1 beside the running edge (`wrangler d1 execute`),
    // which would race the shared server's other tests for the database file.
    let state = fota_tests::temp_state_dir("metrics");
    let own = Server::start_with(&state, &[]);
    let server = &own;
    let p = "met-fleet";
    // Four registered devices on 1.0.0 that checked in before the release, then a release of
    // 2.0.0 to all of them; one asks twice and is banned (ban_after 2).
    let known: Vec<String> = (1..=4).map(|row| imei(171, row)).collect();
    server.setup_known(
        p,
        Some(2),
        FW,
        "2.0.0",
        &image(1710, 8_000),
        json!({ "rollout": { "stages": [100] } }),
        &known,
        "1.0.0",
    );
    let check = |id: &str, version: &str| {
        let url = format!("/api/site/firmware_upgrade?imei={id}&project_key={p}&firmware_name={FW}&version={version}");
        device_request(server, &luatos_get(server, &url)).status
    };
    let statuses: Vec<u16> = [
        (&known[0], "1.0.0"),
        (&known[1], "1.0.0"),
        (&known[2], "1.0.0"),
        (&known[2], "1.0.0"),
        (&imei(171, 9), "2.0.0"),
    ]
    .iter()
    .map(|(id, v)| check(id, v))
    .collect();
    assert_eq!(statuses, [200, 200, 200, 200, 404]);
    // Devices seeded straight into D1 (the triggers count them as any INSERT): three seen three
    // days ago under the odd firmware name, two seen ten days ago.
    let (day, now) = (86_400_000_i64, now_ms());
    let odd_sql = ODD_FW
        .replace('\'', "''")
        .replace('\n', "' || char(10) || '");
    server.d1(&format!(
        "INSERT INTO devices (id, project_key, firmware_name, version, first_seen, last_seen)
         WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i < 4)
         SELECT printf('86171%010d', 100 + i), '{p}',
                CASE WHEN i < 3 THEN '{odd_sql}' ELSE '{FW}' END, CASE WHEN i < 3 THEN '0.9' ELSE '1.0.0' END,
                {first}, CASE WHEN i < 3 THEN {three} ELSE {ten} END
         FROM c;",
        first = now - 20 * day,
        three = now - 3 * day,
        ten = now - 10 * day,
    ));

    // Registry writes of a check may land just after its answer, and the counts are kept for a
    // minute once read: wait until the device list shows them all before the first read.
    let settled = eventually(10, || {
        devices_listed(server, p, "") == 10 && devices_listed(server, p, "banned=true") == 1
    });
    assert!(
        settled,
        "{}",
        get_json(server, &format!("/projects/{p}/devices"))
    );

    // The status first: it settles the rollout's copy in D1, which the metrics read.
    let status = get_json(server, &format!("/projects/{p}/plans/{FW}/status"));
    let resp = scrape(server, Some(TOKEN), &format!("/projects/{p}/metrics"));
    resp.expect_status(200);
    assert_eq!(resp.header("Content-Type"), Some(CONTENT_TYPE));
    let text = String::from_utf8(resp.body.clone()).expect("UTF-8");
    let got = parse(&text);
    let summary = get_json(server, &format!("/projects/{p}/summary"));

    // The fleet, as the summary counts it.
    assert_eq!(summary["total"], 10, "{summary}");
    assert_eq!(
        metric(&got, "fota_devices_total", &[]),
        summary["total"].as_f64(),
        "{text}"
    );
    assert_eq!(
        metric(&got, "fota_devices_banned", &[]),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        metric(&got, "fota_devices_banned", &[]),
        summary["banned"].as_f64()
    );
    let versions: Vec<(String, String, f64)> = summary["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["firmware_name"].as_str().unwrap().to_string(),
                v["version"].as_str().unwrap().to_string(),
                v["devices"].as_f64().unwrap(),
            )
        })
        .collect();
    let mut by_version: Vec<(String, String, f64)> = family(&got, "fota_devices")
        .into_iter()
        .map(|(l, v)| (l["firmware"].clone(), l["version"].clone(), v))
        .collect();
    by_version.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    let mut want = versions.clone();
    want.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    assert_eq!(by_version, want, "{text}");
    assert!(
        by_version.contains(&(ODD_FW.to_string(), "0.9".to_string(), 3.0)),
        "the odd firmware name reads back exactly: {text}"
    );
    // Silent: by default older than two days (the five seeded devices); a day and a week say
    // what the summary's seen-within counts leave out.
    assert_eq!(
        metric(&got, "fota_devices_silent", &[("after_seconds", "172800")]),
        Some(5.0),
        "{text}"
    );
    for (after, window) in [("86400", "day"), ("604800", "week")] {
        let text = scrape(
            server,
            Some(TOKEN),
            &format!("/projects/{p}/metrics?silent_after={after}"),
        )
        .expect_status(200)
        .body
        .clone();
        let got = parse(&String::from_utf8(text).unwrap());
        let want = summary["total"].as_f64().unwrap() - summary["seen"][window].as_f64().unwrap();
        assert_eq!(
            metric(&got, "fota_devices_silent", &[("after_seconds", after)]),
            Some(want),
            "{after}: {summary}"
        );
    }
    assert_eq!(summary["seen"]["week"], 8, "{summary}");

    // The rollout, as its status says.
    let at = [("firmware", FW), ("target", "2.0.0")];
    for phase in [
        "verifying",
        "running",
        "paused",
        "completed",
        "cancelled",
        "failed",
    ] {
        let current = status["state"].as_str() == Some(phase);
        assert_eq!(
            metric(
                &got,
                "fota_rollout_state",
                &[at[0], at[1], ("state", phase)]
            ),
            Some(if current { 1.0 } else { 0.0 }),
            "{phase}: {status}"
        );
    }
    assert_eq!(
        metric(&got, "fota_rollout_stage", &at),
        status["stage"].as_f64()
    );
    assert_eq!(
        metric(&got, "fota_rollout_percent", &at),
        status["percent"].as_f64()
    );
    for outcome in [
        "eligible",
        "offered",
        "succeeded",
        "failed",
        "banned",
        "pending",
        "reported_without_delivery",
    ] {
        let labels = [at[0], at[1], ("outcome", outcome)];
        assert_eq!(
            metric(&got, "fota_rollout_devices", &labels),
            status["totals"][outcome].as_f64(),
            "{outcome}: {status}\n{text}"
        );
        assert_eq!(
            metric(&got, "fota_rollout_unverified_devices", &labels),
            status["unverified"][outcome].as_f64(),
            "{outcome}: {status}\n{text}"
        );
    }
    assert_eq!(status["totals"]["offered"], 3, "{status}");
    assert_eq!(status["totals"]["banned"], 1, "{status}");
}

#[test]
fn a_viewer_reads_the_metrics_and_nobody_else() {
    let server = shared_server();
    let p = "met-access";
    server
        .admin(
            "PUT",
            &format!("/projects/{p}"),
            br#"{"name":"metrics access"}"#,
        )
        .expect_status(200);
    let viewer = server
        .admin(
            "POST",
            "/tokens",
            json!({ "name": "met-viewer", "role": "viewer" })
                .to_string()
                .as_bytes(),
        )
        .expect_status(201)
        .json()["token"]
        .as_str()
        .expect("the secret")
        .to_string();
    let path = format!("/projects/{p}/metrics");
    let resp = scrape(server, Some(&viewer), &path);
    resp.expect_status(200);
    // An empty project: every family is there, at zero.
    let got = parse(&String::from_utf8(resp.body.clone()).unwrap());
    assert_eq!(metric(&got, "fota_devices_total", &[]), Some(0.0));
    assert_eq!(
        metric(&got, "fota_devices_silent", &[("after_seconds", "172800")]),
        Some(0.0)
    );
    // Failures from an address of this test's own, so that they spend no other test's
    // failed-authentication budget (20 a minute per address).
    let away = [("CF-Connecting-IP", "198.51.100.171")];
    for token in [None, Some("not-a-token-of-this-edge-at-all-000000")] {
        server
            .admin_as(token, "GET", &path, b"", &away)
            .expect_status(401);
    }
    for bad in ["59", "3599", "604801", "two"] {
        let resp = scrape(server, Some(&viewer), &format!("{path}?silent_after={bad}"));
        resp.expect_status(400);
        assert_eq!(
            resp.json()["error"]["code"],
            "invalid_silent_after",
            "{bad}"
        );
    }
    scrape(server, Some(&viewer), "/projects/met-nothing/metrics").expect_status(404);
}
