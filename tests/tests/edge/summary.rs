//! The fleet summary (`GET /admin/v1/projects/{key}/summary`) counts what the device list lists:
//! devices registered by real Luat checks, per (firmware, version), job state, ban and last seen.

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

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
