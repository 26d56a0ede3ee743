//! The right package for each device (issue 16): a target version holds a full image and
//! deltas, each built for one source version, shaped as real ones are (a small package for one
//! source beside a large full image). A device gets the delta for exactly its version
//! (compared numerically), else the full image, else code 66: a delta is never served to any
//! other version (before, a delta plan served its bytes to every version, and a device it
//! could not apply to was banned after six rounds). The same holds for module-OTA notices.
//!
//! Project keys start with `pkg-`, device ids with `86<16N>` (tests 161-169).

use crate::ota::{project, provision, MCU};
use crate::{device_request, imei, luatos_get};
use fota_tests::{image, md5_hex, sha256_hex, shared_server, RawResponse, Server};
use serde_json::{json, Value};

const FW: &str = "pkg_LuatOS-SoC_Air780E";
const TARGET: &str = "2.0.0";

fn url(p: &str, id: &str, version: &str) -> String {
    format!(
        "/api/site/firmware_upgrade?imei={id}&project_key={p}&firmware_name={FW}&version={version}"
    )
}

/// A LuatOS check, read whole.
fn check(server: &Server, p: &str, id: &str, version: &str) -> RawResponse {
    device_request(server, &luatos_get(server, &url(p, id, version)))
}

/// Uploads `img` as a package of `TARGET`: the full image (`source` None) or a delta.
#[track_caller]
fn upload(server: &Server, p: &str, img: &[u8], source: Option<&str>) -> RawResponse {
    let query = match source {
        Some(s) => format!("?kind=delta&source_version={s}"),
        None => String::new(),
    };
    server.admin(
        "PUT",
        &format!("/projects/{p}/firmware/{FW}/{TARGET}{query}"),
        img,
    )
}

#[track_caller]
fn plan(server: &Server, p: &str, extra: Value) -> Value {
    let mut spec = extra;
    spec["target_version"] = TARGET.into();
    let resp = server.admin(
        "PUT",
        &format!("/projects/{p}/plans/{FW}"),
        spec.to_string().as_bytes(),
    );
    resp.expect_status(200);
    resp.json()
}

fn new_project(server: &Server, p: &str) {
    server
        .admin(
            "PUT",
            &format!("/projects/{p}"),
            json!({ "name": p }).to_string().as_bytes(),
        )
        .expect_status(200);
}

/// A delta beside a full image (and a second delta for another source): every version gets its
/// own package, the one delta only its exact source (numerically: `1.0` and `V1.0.0` too), the
/// full image every other version; each upload keeps its own slot.
#[test]
fn each_version_gets_its_package() {
    let server = shared_server();
    let p = "pkg-each";
    new_project(server, p);
    let full = image(1610, 300_000);
    let delta_100 = image(1611, 3_000);
    let delta_110 = image(1612, 4_000);
    upload(server, p, &full, None).expect_status(201);
    upload(server, p, &delta_100, Some("1.0.0")).expect_status(201);
    upload(server, p, &delta_110, Some("1.1.0")).expect_status(201);
    // Same bytes again: 200; other bytes in a taken slot: 409; the full image is still there.
    upload(server, p, &delta_100, Some("1.0")).expect_status(200);
    let resp = upload(server, p, &image(1613, 10), Some("1.0.0"));
    resp.expect_status(409);
    assert_eq!(resp.json()["error"]["code"], "version_exists");
    let shown = |query: &str| {
        server
            .admin(
                "GET",
                &format!("/projects/{p}/firmware/{FW}/{TARGET}{query}"),
                b"",
            )
            .expect_status(200)
            .json()
    };
    assert_eq!(shown("")["sha256"], sha256_hex(&full));
    assert_eq!(
        shown("?source_version=1.0.0")["sha256"],
        sha256_hex(&delta_100)
    );
    assert_eq!(shown("?source_version=1.1.0")["kind"], "delta");

    let stored = plan(server, p, json!({}));
    let packages: Vec<(Value, Value, Value)> = stored["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|k| {
            (
                k["kind"].clone(),
                k["source_version"].clone(),
                k["size"].clone(),
            )
        })
        .collect();
    assert_eq!(
        packages,
        vec![
            (json!("full"), Value::Null, json!(300_000)),
            (json!("delta"), json!("1.0.0"), json!(3_000)),
            (json!("delta"), json!("1.1.0"), json!(4_000)),
        ],
        "{stored:#}"
    );

    let cases: [(&str, &[u8]); 7] = [
        ("1.0.0", &delta_100),
        ("1.0", &delta_100),
        ("V1.0.0", &delta_100),
        ("1.1.0", &delta_110),
        ("1.5.0", &full),
        ("0.9.0", &full),
        ("1.0.0.1", &full),
    ];
    for (row, (version, want)) in cases.iter().enumerate() {
        let id = imei(161, row as u32);
        check(server, p, &id, version).expect_image(200, want);
    }
    // A redirect names the chosen package too.
    let target = format!("{}&need_oss_url=1", url(p, &imei(161, 20), "1.1.0"));
    let resp = device_request(server, &luatos_get(server, &target));
    resp.expect_status(302);
    let location = resp.header_exact("Location").expect("a Location");
    assert!(
        location.contains(&format!("/images/{}?", sha256_hex(&delta_110))),
        "{location}"
    );
}

/// The issue's case: a plan whose target has only a delta built from 1.0.0. Before, devices at
/// 1.5.0 and 0.9.0 got it (200, all bytes), failed to apply it, asked again and were banned
/// after six rounds. Now they hear 66 every time (never 62: nothing was delivered) and the
/// device at 1.0.0 gets the delta.
#[test]
fn a_delta_is_refused_to_every_other_version() {
    let server = shared_server();
    let p = "pkg-wrong";
    new_project(server, p);
    let delta = image(1620, 2_000);
    upload(server, p, &delta, Some("1.0.0")).expect_status(201);
    plan(server, p, json!({}));
    for (row, version) in ["1.5.0", "0.9.0", "1.0.1", "1.0.0.1"].iter().enumerate() {
        let id = imei(162, row as u32);
        for _ in 0..8 {
            check(server, p, &id, version).expect_refusal(404, 66);
        }
    }
    check(server, p, &imei(162, 9), "1.0.0").expect_image(200, &delta);
}

/// `"deltas": false` serves the full image only: without one, nobody is served (66); once a
/// full image is uploaded the plan serves it (an upload of the target's package reaches the
/// plan that targets it), and with deltas allowed again the source version gets its delta.
#[test]
fn deltas_false_uses_the_full_image_only() {
    let server = shared_server();
    let p = "pkg-nodeltas";
    new_project(server, p);
    let delta = image(1630, 2_000);
    let full = image(1631, 200_000);
    upload(server, p, &delta, Some("1.0.0")).expect_status(201);
    plan(server, p, json!({ "deltas": false }));
    check(server, p, &imei(163, 1), "1.0.0").expect_refusal(404, 66);
    upload(server, p, &full, None).expect_status(201);
    check(server, p, &imei(163, 2), "1.0.0").expect_image(200, &full);
    plan(server, p, json!({}));
    check(server, p, &imei(163, 3), "1.0.0").expect_image(200, &delta);
    check(server, p, &imei(163, 4), "1.2.0").expect_image(200, &full);
    // A package a plan serves cannot be deleted; another version's can.
    let resp = server.admin(
        "DELETE",
        &format!("/projects/{p}/firmware/{FW}/{TARGET}?source_version=1.0.0"),
        b"",
    );
    resp.expect_status(409);
    assert_eq!(resp.json()["error"]["code"], "in_use");
    let resp = server.admin(
        "GET",
        &format!("/projects/{p}/firmware/{FW}/{TARGET}?source_version=abc"),
        b"",
    );
    resp.expect_status(400);
    assert_eq!(resp.json()["error"]["code"], "invalid_version");
}

/// Module OTA: the notice carries the package for the module's reported version, its size and
/// digests (signed as before); a module at another version gets the full image.
#[test]
fn module_notices_carry_the_chosen_package() {
    let server = shared_server();
    let pk = "pkg-ota";
    project(server, pk);
    let full = image(1640, 100_000);
    let delta = image(1641, 1_500);
    let fw = "pkg_mcu";
    for (img, query) in [
        (&full, format!("?module={MCU}")),
        (
            &delta,
            format!("?module={MCU}&kind=delta&source_version=1.0.0"),
        ),
    ] {
        server
            .admin(
                "PUT",
                &format!("/projects/{pk}/firmware/{fw}/{TARGET}{query}"),
                img,
            )
            .expect_status(201);
    }
    server
        .admin(
            "PUT",
            &format!("/projects/{pk}/plans/{fw}"),
            json!({ "target_version": TARGET }).to_string().as_bytes(),
        )
        .expect_status(200);
    let devices = provision(server, pk, &["pkg64-a".to_string(), "pkg64-b".to_string()]);
    for (device, version, img) in [
        (&devices[0], "1.0.0", &delta),
        (&devices[1], "1.5.0", &full),
    ] {
        device.report_ok(server, MCU, version);
        let data = device.notice_data(server).expect("a notice");
        assert_eq!(
            (
                data["size"].as_u64(),
                data["sha256"].as_str(),
                data["md5"].as_str()
            ),
            (
                Some(img.len() as u64),
                Some(sha256_hex(img).as_str()),
                Some(md5_hex(img).as_str())
            ),
            "{} at {version}: {data:#}",
            device.name
        );
    }
}

fn history(server: &Server, p: &str, id: &str) -> Vec<String> {
    server
        .admin("GET", &format!("/projects/{p}/devices/{id}/history"), b"")
        .expect_status(200)
        .json()["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["kind"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn deliveries(server: &Server, p: &str, id: &str) -> u64 {
    server
        .admin("GET", &format!("/projects/{p}/devices/{id}"), b"")
        .expect_status(200)
        .json()["deliveries"]
        .as_u64()
        .unwrap_or_default()
}

/// The daily data budget (item 4): with a budget of six deltas, the seventh delivery of the
/// day is refused with 429 code 74 (the shared server counts every complete download:
/// `DELIVERY_WINDOW_S=0`); the device's history says it reached the budget. A full image
/// larger than the budget goes out once (the budget was not spent before it), then 74.
#[test]
fn the_budget_stops_the_seventh_delivery_of_a_day() {
    let server = shared_server();
    let p = "pkg-budget";
    let delta = image(1650, 2_000);
    let full = image(1651, 50_000);
    server
        .admin(
            "PUT",
            &format!("/projects/{p}"),
            json!({ "name": p, "ban_after": 20, "daily_bytes_per_device": 6 * delta.len() })
                .to_string()
                .as_bytes(),
        )
        .expect_status(200);
    let shown = server
        .admin("GET", &format!("/projects/{p}"), b"")
        .expect_status(200)
        .json();
    assert_eq!(shown["daily_bytes_per_device"], 6 * delta.len(), "{shown}");
    upload(server, p, &full, None).expect_status(201);
    upload(server, p, &delta, Some("1.0.0")).expect_status(201);
    plan(server, p, json!({}));

    let id = imei(165, 1);
    for n in 1..=6 {
        check(server, p, &id, "1.0.0").expect_image(200, &delta);
        assert!(
            crate::eventually(10, || deliveries(server, p, &id) == n),
            "delivery {n} counted"
        );
    }
    check(server, p, &id, "1.0.0").expect_refusal(429, 74);
    check(server, p, &id, "1.0.0").expect_refusal(429, 74);
    assert!(
        history(server, p, &id).contains(&"daily_budget_reached".to_string()),
        "{:?}",
        history(server, p, &id)
    );

    let big = imei(165, 2);
    check(server, p, &big, "1.5.0").expect_image(200, &full);
    assert!(crate::eventually(10, || deliveries(server, p, &big) == 1));
    check(server, p, &big, "1.5.0").expect_refusal(429, 74);
    // A device with bytes left is served as before.
    check(server, p, &imei(165, 3), "1.0.0").expect_image(200, &delta);
    // The operator's list of the devices that reached the budget today.
    let over: Vec<String> = server
        .admin(
            "GET",
            &format!("/projects/{p}/devices?over_budget=true"),
            b"",
        )
        .expect_status(200)
        .json()["devices"]
        .as_array()
        .expect("devices")
        .iter()
        .map(|d| d["id"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(over, [id.clone(), big.clone()]);

    // 0 removes the budget.
    server
        .admin(
            "PUT",
            &format!("/projects/{p}"),
            json!({ "name": p, "daily_bytes_per_device": 0 })
                .to_string()
                .as_bytes(),
        )
        .expect_status(200);
    let shown = server
        .admin("GET", &format!("/projects/{p}"), b"")
        .expect_status(200)
        .json();
    assert!(shown.get("daily_bytes_per_device").is_none(), "{shown}");
}

#[track_caller]
fn preview(server: &Server, p: &str, extra: Value) -> Value {
    let mut spec = extra;
    spec["target_version"] = TARGET.into();
    let resp = server.admin(
        "POST",
        &format!("/projects/{p}/plans/{FW}/preview"),
        spec.to_string().as_bytes(),
    );
    resp.expect_status(200);
    resp.json()
}

/// The preview (item 3) before a release, next to what the release then delivered: per
/// version of the registry the package it would get, who gets none and why, the bytes in all
/// and per package; then the plan is saved, every device checks, and what they received (and
/// the status's per-package served counts) matches it. The preview itself changes nothing.
#[test]
fn the_preview_matches_what_devices_then_receive() {
    let server = shared_server();
    let p = "pkg-preview";
    new_project(server, p);
    let full = image(1660, 100_000);
    let d100 = image(1661, 2_500);
    let d110 = image(1662, 3_500);
    upload(server, p, &full, None).expect_status(201);
    upload(server, p, &d100, Some("1.0.0")).expect_status(201);
    upload(server, p, &d110, Some("1.1.0")).expect_status(201);
    let fleet: Vec<(String, &str)> = [
        ("1.0.0", 4u32, 0u32),
        ("1.1.0", 3, 10),
        ("1.5.0", 2, 20),
        (TARGET, 1, 30),
    ]
    .iter()
    .flat_map(|(v, n, base)| (0..*n).map(move |i| (imei(166, base + i), *v)))
    .collect();
    for (id, version) in &fleet {
        server.bind_fleet(p, FW, version, std::slice::from_ref(id));
    }
    // The registry writes versions in its background batches: wait until it counts them all.
    let mut shown = Value::Null;
    let counted = crate::eventually(10, || {
        shown = preview(server, p, json!({}));
        shown["versions"].as_array().is_some_and(|v| {
            v.iter()
                .map(|r| r["devices"].as_u64().unwrap_or(0))
                .sum::<u64>()
                == 10
        })
    });
    assert!(counted, "the registry's counts: {shown:#}");
    let expected_bytes = 4 * d100.len() + 3 * d110.len() + 2 * full.len();
    assert_eq!(shown["devices"], 9, "{shown:#}");
    assert_eq!(shown["bytes"], expected_bytes, "{shown:#}");
    assert_eq!(shown["none"]["up_to_date"], 1, "{shown:#}");
    assert_eq!(shown["none"]["not_in_device_set"], 0, "{shown:#}");
    let per_package: Vec<(Value, Value, Value)> = shown["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["sha256"].clone(),
                k["devices"].clone(),
                k["bytes"].clone(),
            )
        })
        .collect();
    assert_eq!(
        per_package,
        vec![
            (json!(sha256_hex(&full)), json!(2), json!(2 * full.len())),
            (json!(sha256_hex(&d100)), json!(4), json!(4 * d100.len())),
            (json!(sha256_hex(&d110)), json!(3), json!(3 * d110.len())),
        ]
    );
    assert_eq!(
        shown["stages"],
        json!([{ "percent": 100, "devices": 9, "bytes": expected_bytes }])
    );
    // A device set: the others are counted outside it.
    let subset = json!({ "devices": [fleet[0].0, fleet[1].0] });
    let narrowed = preview(server, p, subset);
    assert_eq!(
        (
            narrowed["devices"].clone(),
            narrowed["none"]["not_in_device_set"].clone()
        ),
        (json!(2), json!(8)),
        "{narrowed:#}"
    );
    // Nothing was saved; bad bodies are refused with stable codes.
    server
        .admin("GET", &format!("/projects/{p}/plans/{FW}"), b"")
        .expect_status(404);
    let resp = server.admin(
        "POST",
        &format!("/projects/{p}/plans/{FW}/preview"),
        br#"{"target_version":"9.9.9"}"#,
    );
    resp.expect_status(409);
    assert_eq!(resp.json()["error"]["code"], "firmware_missing");
    let resp = server.admin(
        "POST",
        &format!("/projects/{p}/plans/{FW}/preview"),
        b"{not json",
    );
    resp.expect_status(400);
    assert_eq!(resp.json()["error"]["code"], "invalid_json");

    // The release: every device checks once, and gets what the preview said.
    plan(server, p, json!({}));
    let mut received = 0usize;
    let mut per_sha: std::collections::BTreeMap<String, u64> = Default::default();
    for (id, version) in &fleet {
        let resp = check(server, p, id, version);
        if *version == TARGET {
            resp.expect_refusal(404, 60);
            continue;
        }
        resp.expect_status(200);
        received += resp.body.len();
        *per_sha.entry(sha256_hex(&resp.body)).or_default() += 1;
    }
    assert_eq!(received, expected_bytes);
    for k in shown["packages"].as_array().unwrap() {
        assert_eq!(
            per_sha
                .get(k["sha256"].as_str().unwrap())
                .copied()
                .unwrap_or(0),
            k["devices"].as_u64().unwrap(),
            "{k}"
        );
    }
    // The rollout's status counts the devices each package was delivered to.
    let mut status = Value::Null;
    let served = crate::eventually(10, || {
        status = server
            .admin("GET", &format!("/projects/{p}/plans/{FW}/status"), b"")
            .expect_status(200)
            .json();
        status["packages"].as_array().is_some_and(|ps| {
            ps.iter()
                .map(|k| k["served"].as_u64().unwrap_or(0))
                .collect::<Vec<_>>()
                == [2, 4, 3]
        })
    });
    assert!(served, "served per package: {status:#}");
    eprintln!("preview:\n{shown:#}\nreceived: {received} bytes, per package {per_sha:?}");
}

/// A plan stored before packages (no `packages`: its one `image` served as a full image, here
/// a delta, as the issue's plans were) lists its target's packages from the catalog when the
/// minute cron sweeps its live rollout; from then on the delta goes to its source only.
#[test]
fn a_plan_stored_before_packages_lists_them_at_the_next_sweep() {
    let server = shared_server();
    let p = "pkg-legacy";
    new_project(server, p);
    let delta = image(1670, 2_000);
    upload(server, p, &delta, Some("1.0.0")).expect_status(201);
    let mut stored = plan(server, p, json!({}));
    // The plan as an edge before packages stored it.
    stored.as_object_mut().unwrap().remove("packages");
    server.kv_put(&format!("plan:{p}:{FW}"), &stored.to_string());
    let shown = |server: &Server| {
        server
            .admin("GET", &format!("/projects/{p}/plans/{FW}"), b"")
            .expect_status(200)
            .json()
    };
    assert!(shown(server).get("packages").is_none(), "the legacy plan");
    let listed = crate::eventually(15, || {
        server.run_scheduled();
        shown(server)["packages"]
            .as_array()
            .is_some_and(|ps| ps.len() == 1 && ps[0]["source_version"] == "1.0.0")
    });
    assert!(listed, "{:#}", shown(server));
    check(server, p, &imei(167, 1), "1.5.0").expect_refusal(404, 66);
    check(server, p, &imei(167, 2), "1.0.0").expect_image(200, &delta);
}

/// A JSON device's module-OTA downloads count against its project's daily budget too: with a
/// budget, the notice's URL names the device and the edge counts the bytes its downloads take;
/// the notice after the budget is spent is refused (429 `daily_budget_reached`) and the device
/// is on the operator's over-budget list.
#[test]
fn module_downloads_count_against_the_daily_budget() {
    let server = shared_server();
    let pk = "pkg-ota-budget";
    let full = image(1660, 40_000);
    let fw = "pkgb_mcu";
    server
        .admin(
            "PUT",
            &format!("/projects/{pk}"),
            json!({ "name": pk, "daily_bytes_per_device": 2 * full.len() + 1 })
                .to_string()
                .as_bytes(),
        )
        .expect_status(200);
    crate::ota::module_plan(server, pk, fw, MCU, TARGET, &full, json!({}));
    let devices = provision(server, pk, &["pkgb-a".to_string(), "pkgb-b".to_string()]);
    let (dev, other) = (&devices[0], &devices[1]);
    dev.report_ok(server, MCU, "1.5.0");
    // Three whole downloads: the first two stay under the budget (2 x size + 1), the third
    // reaches it.
    for n in 1..=3 {
        let data = dev.notice_data(server).expect("a notice");
        let url = data["url"].as_str().expect("url").to_string();
        assert!(
            url.contains("/ota/image/") && url.contains("device=pkgb-a"),
            "the URL names the device: {url}"
        );
        let got = crate::ota::download(server, &url, None);
        assert_eq!(
            (got.status, got.body.len()),
            (200, full.len()),
            "download {n}"
        );
        assert_eq!(got.body, full);
    }
    // The count follows the last byte out: the refusal comes once it is in.
    let mut refused = None;
    for _ in 0..100 {
        let resp = dev.notice(server);
        if resp.status == 429 {
            refused = Some(resp);
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let refused = refused.expect("the notice after the budget is refused");
    assert_eq!(refused.json()["error"]["code"], "daily_budget_reached");
    assert!(
        history(server, pk, &dev.name).contains(&"daily_budget_reached".to_string()),
        "{:?}",
        history(server, pk, &dev.name)
    );
    let listed = server
        .admin(
            "GET",
            &format!("/projects/{pk}/devices?over_budget=true"),
            b"",
        )
        .expect_status(200)
        .json();
    let ids: Vec<&str> = listed["devices"]
        .as_array()
        .expect("devices")
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [dev.name.as_str()], "{listed}");
    // Another device of the project has its own budget.
    other.report_ok(server, MCU, "1.5.0");
    assert!(other.notice_data(server).is_some());
}
