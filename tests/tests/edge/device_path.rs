//! The public device path (issue 9): what someone who knows a project key, a firmware name and a
//! victim's IMEI can do with unauthenticated requests, and that it no longer bans the victim,
//! moves its rollout, or lets the requests through unbounded, while the real device's own flow
//! (its upgrade, its ban after six real full deliveries) still works.

use crate::{device_request, luatos_get, luatos_get_with};
use fota_tests::{image, shared_server, temp_state_dir, RawResponse, Server};
use serde_json::json;

const FW: &str = "dp_LuatOS-SoC_Air780EHV";
const FROM: &str = "1.0.0";
const TARGET: &str = "1.0.1";

fn url(project: &str, id: &str, version: &str) -> String {
    format!("/api/site/firmware_upgrade?imei={id}&project_key={project}&firmware_name={FW}&version={version}")
}

fn head(server: &Server, target: &str) -> RawResponse {
    // `HEAD` has no body to read: ask the server to close, and read the head only.
    let bytes = format!(
        "HEAD {target} HTTP/1.1\r\nConnection: close\r\nHost: {}\r\n\r\n",
        server.host()
    );
    server.request(bytes.as_bytes())
}

fn history_kinds(server: &Server, project: &str, id: &str) -> Vec<String> {
    let h = server
        .admin(
            "GET",
            &format!("/projects/{project}/devices/{id}/history"),
            b"",
        )
        .expect_status(200)
        .json();
    h["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_string())
        .collect()
}

fn totals(server: &Server, project: &str) -> serde_json::Value {
    crate::plan_totals(server, project, FW)
}

/// Six `HEAD`s and six one-byte ranges with the victim's IMEI: nothing is counted, the victim is
/// not banned, and its own download then gets the image; six real full downloads still ban it.
#[test]
fn heads_and_partial_ranges_never_ban_a_device_or_move_its_rollout() {
    let server = shared_server();
    let p = "dp-head";
    let img = image(9090, 3000);
    let victim = crate::imei(909, 1);
    // The victim is part of the fleet: it checked in before the release.
    server.setup_known(
        p,
        Some(6),
        FW,
        TARGET,
        &img,
        json!({ "rollout": { "stages": [100] } }),
        std::slice::from_ref(&victim),
        FROM,
    );
    device_request(server, &luatos_get(server, &url(p, &victim, TARGET))).expect_refusal(404, 60);
    for _ in 0..6 {
        let resp = head(server, &url(p, &victim, FROM));
        assert_eq!(resp.status, 200, "a HEAD gets the image's head");
        device_request(
            server,
            &luatos_get_with(server, &url(p, &victim, FROM), "Range: bytes=0-0\r\n"),
        )
        .expect_status(206);
    }
    let t = totals(server, p);
    assert_eq!(
        (t["eligible"].as_u64(), t["offered"].as_u64()),
        (Some(0), Some(0)),
        "nothing counted: {t}"
    );
    let kinds = history_kinds(server, p, &victim);
    assert!(
        !kinds
            .iter()
            .any(|k| ["offered", "delivery", "banned"].contains(&k.as_str())),
        "no offer, delivery or ban: {kinds:?}"
    );

    // The real device: six full downloads, the sixth bans (this server counts every one).
    for n in 1..=6 {
        device_request(server, &luatos_get(server, &url(p, &victim, FROM))).expect_image(200, &img);
        assert_eq!(
            totals(server, p)["offered"].as_u64(),
            Some(1),
            "download {n}: one offer"
        );
    }
    device_request(server, &luatos_get(server, &url(p, &victim, FROM))).expect_refusal(403, 62);
}

/// Ids first seen after the rollout started (anyone can make up IMEIs) are served by their
/// bucket, but within a tenth of `max_per_minute`, and their outcomes are counted apart: their
/// bans neither trip the health gate nor show in `totals`, and the fleet known before the release
/// still gets its offers; without a budget, their reported successes do not dilute real failures.
#[test]
fn made_up_ids_move_no_gate_and_take_a_bounded_share_of_offers() {
    let server = shared_server();
    let p = "dp-madeup";
    let img = image(9595, 800);
    let fleet: Vec<String> = (0..5).map(|n| crate::imei(979, n)).collect();
    let made_up: Vec<String> = (100..110).map(|n| crate::imei(979, n)).collect();
    let plan = json!({ "rollout": { "stages": [100], "min_sample": 2, "max_failure_ratio": 0.2, "max_per_minute": 20 } });
    // Start early in a clock minute, so every first offer below falls in one rate window.
    let second = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        % 60;
    if second > 40 {
        std::thread::sleep(std::time::Duration::from_secs(61 - second));
    }
    server.setup_known(p, Some(2), FW, TARGET, &img, plan, &fleet, FROM);
    // Ten made-up ids: two first offers (a tenth of 20), the rest hear "not now".
    let answers: Vec<u16> = made_up
        .iter()
        .map(|id| device_request(server, &luatos_get(server, &url(p, id, FROM))).status)
        .collect();
    let served: Vec<&String> = made_up
        .iter()
        .zip(&answers)
        .filter(|(_, s)| **s == 200)
        .map(|(id, _)| id)
        .collect();
    assert_eq!(served.len(), 2, "answers: {answers:?}");
    for (id, status) in made_up.iter().zip(&answers).filter(|(_, s)| **s != 200) {
        assert_eq!(*status, 404, "{id}");
        device_request(server, &luatos_get(server, &url(p, id, FROM))).expect_refusal(404, 67);
    }
    // The two download again until banned: far above the failure ratio, yet the gate holds.
    for id in &served {
        device_request(server, &luatos_get(server, &url(p, id, FROM))).expect_image(200, &img);
        device_request(server, &luatos_get(server, &url(p, id, FROM))).expect_refusal(403, 62);
    }
    let status = server
        .admin("GET", &format!("/projects/{p}/plans/{FW}/status"), b"")
        .expect_status(200)
        .json();
    assert_eq!(status["state"], "running", "{status}");
    let u = &status["unverified"];
    assert_eq!(
        (
            u["eligible"].as_u64(),
            u["offered"].as_u64(),
            u["banned"].as_u64()
        ),
        (Some(10), Some(2), Some(2)),
        "{status}"
    );
    assert_eq!(
        (
            status["totals"]["eligible"].as_u64(),
            status["totals"]["banned"].as_u64()
        ),
        (Some(0), Some(0)),
        "{status}"
    );
    // The fleet known before the release is served within the same minute's budget.
    for id in &fleet {
        device_request(server, &luatos_get(server, &url(p, id, FROM))).expect_image(200, &img);
    }
    let t = totals(server, p);
    assert_eq!(
        (t["eligible"].as_u64(), t["offered"].as_u64()),
        (Some(5), Some(5)),
        "{t}"
    );
    // Two known devices fail the same way: now the gate trips on real evidence.
    for id in &fleet[..2] {
        device_request(server, &luatos_get(server, &url(p, id, FROM))).expect_image(200, &img);
    }
    let status = server
        .admin("GET", &format!("/projects/{p}/plans/{FW}/status"), b"")
        .expect_status(200)
        .json();
    assert_eq!(status["state"], "paused", "{status}");

    // Without a budget, made-up ids that download and "report" the target do not dilute real
    // failures either: twenty of their successes beside two real failures still trip the gate.
    let q = "dp-dilute";
    let known: Vec<String> = (0..2).map(|n| crate::imei(989, n)).collect();
    let fakes: Vec<String> = (100..120).map(|n| crate::imei(989, n)).collect();
    let plan = json!({ "rollout": { "stages": [100], "min_sample": 2, "max_failure_ratio": 0.2 } });
    server.setup_known(q, Some(2), FW, TARGET, &img, plan, &known, FROM);
    for id in &fakes {
        device_request(server, &luatos_get(server, &url(q, id, FROM))).expect_image(200, &img);
        device_request(server, &luatos_get(server, &url(q, id, TARGET))).expect_refusal(404, 60);
    }
    for id in &known {
        for _ in 0..2 {
            device_request(server, &luatos_get(server, &url(q, id, FROM))).expect_image(200, &img);
        }
    }
    let settled = crate::eventually(15, || {
        let s = server
            .admin("GET", &format!("/projects/{q}/plans/{FW}/status"), b"")
            .expect_status(200)
            .json();
        s["unverified"]["succeeded"].as_u64() == Some(20)
    });
    let status = server
        .admin("GET", &format!("/projects/{q}/plans/{FW}/status"), b"")
        .expect_status(200)
        .json();
    assert!(settled, "{status}");
    assert_eq!(
        status["state"], "paused",
        "2 of 2 trusted outcomes failed: {status}"
    );
    assert_eq!(
        (
            status["totals"]["banned"].as_u64(),
            status["totals"]["succeeded"].as_u64()
        ),
        (Some(2), Some(0)),
        "{status}"
    );
}

/// A parameter given twice with two values is pollution: 400, code 63, whichever comes first.
/// A `version` longer than any real one is malformed too.
#[test]
fn polluted_or_oversized_checks_are_malformed() {
    let server = shared_server();
    let p = "dp-pollute";
    let img = image(9191, 500);
    server.setup(p, None, FW, TARGET, &img, json!({}));
    let id = crate::imei(919, 1);
    for target in [
        format!("/api/site/firmware_upgrade?imei={id}&project_key={p}&project_key=other&firmware_name={FW}&version={FROM}"),
        format!("/api/site/firmware_upgrade?imei={id}&imei=862419074072389&project_key={p}&firmware_name={FW}&version={FROM}"),
        format!("/api/site/firmware_upgrade?imei={id}&project_key={p}&firmware_name={FW}&version={}", "1.".repeat(20) + "1"),
    ] {
        device_request(server, &luatos_get(server, &target)).expect_refusal(400, 63);
    }
    // The same value twice is only sloppy, and served.
    let twice = format!("/api/site/firmware_upgrade?imei={id}&project_key={p}&project_key={p}&firmware_name={FW}&version={FROM}");
    device_request(server, &luatos_get(server, &twice)).expect_image(200, &img);
}

/// More than 30 checks a minute by one device id: 429 with code 69 (no client reads it as an
/// upgrade); another device of the same project is not affected.
#[test]
fn one_device_id_is_rate_limited_and_others_are_not() {
    let server = shared_server();
    let p = "dp-rate";
    let img = image(9292, 500);
    server.setup(p, None, FW, TARGET, &img, json!({}));
    let (busy, other) = (crate::imei(929, 1), crate::imei(929, 2));
    let mut limited = 0;
    for _ in 0..40 {
        let resp = device_request(server, &luatos_get(server, &url(p, &busy, TARGET)));
        if resp.status == 429 {
            resp.expect_refusal(429, 69);
            limited += 1;
        } else {
            resp.expect_refusal(404, 60);
        }
    }
    assert!(
        (10..=40).contains(&limited),
        "{limited} of 40 checks within a minute limited (limit 30)"
    );
    device_request(server, &luatos_get(server, &url(p, &other, TARGET))).expect_refusal(404, 60);
}

/// Full downloads of one target by one device within `DELIVERY_WINDOW_S` count once: repeats
/// cannot ban it. Redirects name the edge by `PUBLIC_URL`, not by the `Host` the device sent
/// (`update.lua` sends it without the port), and are signed capabilities: with `PUBLIC_IMAGES`
/// off (the default) `/images/` answers only a valid, unexpired signature.
#[test]
fn repeats_within_the_delivery_window_count_once_and_redirects_use_public_url() {
    let state = temp_state_dir("window");
    let vars = [
        ("DELIVERY_WINDOW_S", "600"),
        ("PUBLIC_URL", "http://fota.example.test:8080"),
        ("PUBLIC_IMAGES", "false"),
    ];
    let mut server = Server::start_with(&state, &vars);
    let p = "dp-window";
    let img = image(9393, 700);
    server.setup(p, Some(6), FW, TARGET, &img, json!({}));
    let id = crate::imei(939, 1);
    for _ in 0..8 {
        device_request(&server, &luatos_get(&server, &url(p, &id, FROM))).expect_image(200, &img);
    }
    let device = server
        .admin("GET", &format!("/projects/{p}/devices/{id}"), b"")
        .expect_status(200)
        .json();
    assert_eq!(
        (device["deliveries"].as_u64(), device["banned"].as_bool()),
        (Some(1), Some(false)),
        "{device}"
    );

    let oss = format!("{}&need_oss_url=1", url(p, &crate::imei(939, 2), FROM));
    let bytes = format!("GET {oss} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: short\r\n\r\n");
    let resp = device_request(&server, bytes.as_bytes());
    resp.expect_status(302);
    let sha = fota_tests::sha256_hex(&img);
    let location = resp
        .header_exact("Location")
        .unwrap_or_default()
        .to_string();
    let prefix = format!(
        "http://fota.example.test:8080/images/{sha}?device={}&plan={p}/{FW}@{TARGET}&expires=",
        crate::imei(939, 2)
    );
    assert!(
        location.starts_with(&prefix) && location.contains("&sig="),
        "{location}"
    );
    let signed = location.trim_start_matches("http://fota.example.test:8080");
    let get = |target: &str| {
        server.request(
            format!(
                "GET {target} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
                server.host()
            )
            .as_bytes(),
        )
    };
    get(signed).expect_image(200, &img);
    // Unsigned, or with the signature or the expiry changed: refused, nothing sent.
    let (path, query) = signed.split_once('?').unwrap();
    let expect_refused = |target: &str, code: &str| {
        let resp = get(target);
        assert_eq!(
            (
                resp.status,
                resp.json()["error"]["code"].as_str().map(String::from)
            ),
            (403, Some(code.to_string())),
            "{target}"
        );
    };
    expect_refused(path, "url_unsigned");
    let expires: i64 = query
        .split('&')
        .find_map(|kv| kv.strip_prefix("expires="))
        .unwrap()
        .parse()
        .unwrap();
    expect_refused(
        &signed.replace(
            &format!("expires={expires}"),
            &format!("expires={}", expires + 86_400_000),
        ),
        "url_bad_signature",
    );
    let sig = query
        .split('&')
        .find_map(|kv| kv.strip_prefix("sig="))
        .unwrap();
    let flipped: String = sig.chars().rev().collect();
    expect_refused(&signed.replace(sig, &flipped), "url_bad_signature");
    server.stop();
}

/// A Luat check with a provisioned JSON device's id is refused (403, code 70) and changes
/// nothing: its version, history and rollout record stay as the signed device left them. This
/// holds for a device provisioned first and for one that was a Luat device before.
#[test]
fn a_luat_check_cannot_speak_for_a_signed_device() {
    let server = shared_server();
    let p = "dp-signed";
    let img = image(9494, 500);
    server.setup(p, None, FW, TARGET, &img, json!({}));
    let (signed, converted) = (crate::imei(949, 1), crate::imei(949, 2));
    device_request(server, &luatos_get(server, &url(p, &converted, TARGET)))
        .expect_refusal(404, 60);
    let body = json!({ "devices": [signed, converted] }).to_string();
    server
        .admin("POST", &format!("/projects/{p}/devices"), body.as_bytes())
        .expect_status(201);
    for id in [&signed, &converted] {
        let before = server
            .admin("GET", &format!("/projects/{p}/devices/{id}"), b"")
            .expect_status(200)
            .json();
        let kinds_before = history_kinds(server, p, id);
        for version in [FROM, TARGET, "1.0.9"] {
            device_request(server, &luatos_get(server, &url(p, id, version)))
                .expect_refusal(403, 70);
        }
        let after = server
            .admin("GET", &format!("/projects/{p}/devices/{id}"), b"")
            .expect_status(200)
            .json();
        assert_eq!(
            after["version"], before["version"],
            "{id}: version unchanged"
        );
        assert_eq!(
            history_kinds(server, p, id),
            kinds_before,
            "{id}: history unchanged"
        );
    }
    assert_eq!(
        totals(server, p)["eligible"].as_u64(),
        Some(0),
        "nothing counted in the rollout"
    );
}

/// An operator can undo a binding: forgetting a device drops its row and history (audited), and
/// its next check binds it afresh; moving it rebinds it to another project with its history.
#[test]
fn an_operator_forgets_or_moves_a_binding() {
    let server = shared_server();
    let (p, q) = ("dp-forget", "dp-forget-to");
    let img = image(9595, 500);
    server.setup(p, None, FW, TARGET, &img, json!({}));
    server.setup(q, None, FW, TARGET, &img, json!({}));
    let (gone, moved) = (crate::imei(959, 1), crate::imei(959, 2));
    for id in [&gone, &moved] {
        device_request(server, &luatos_get(server, &url(p, id, FROM))).expect_image(200, &img);
    }

    server
        .admin("DELETE", &format!("/projects/{p}/devices/{gone}"), b"")
        .expect_status(204);
    server
        .admin("GET", &format!("/projects/{p}/devices/{gone}"), b"")
        .expect_status(404);
    let audit = server
        .admin("GET", &format!("/audit?project={p}"), b"")
        .expect_status(200)
        .json();
    assert!(
        audit["entries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["target"] == format!("forget device {gone}")),
        "{audit}"
    );
    // Its next check binds it again, in any project, as a new device.
    device_request(server, &luatos_get(server, &url(q, &gone, TARGET))).expect_refusal(404, 60);
    assert_eq!(history_kinds(server, q, &gone), ["bound"]);

    let resp = server.admin(
        "POST",
        &format!("/projects/{p}/devices/{moved}/move"),
        json!({ "project": q }).to_string().as_bytes(),
    );
    resp.expect_status(200);
    server
        .admin("GET", &format!("/projects/{p}/devices/{moved}"), b"")
        .expect_status(404);
    let kinds = history_kinds(server, q, &moved);
    assert_eq!(
        kinds.first().map(String::as_str),
        Some("bound"),
        "its history moved with it: {kinds:?}"
    );
    assert_eq!(kinds.last().map(String::as_str), Some("moved"), "{kinds:?}");
    device_request(server, &luatos_get(server, &url(q, &moved, TARGET))).expect_refusal(404, 60);
    device_request(server, &luatos_get(server, &url(p, &moved, TARGET))).expect_refusal(403, 25);
    // Refused: an unknown target project, the same project, an unknown device.
    server
        .admin(
            "POST",
            &format!("/projects/{q}/devices/{moved}/move"),
            br#"{"project":"dp-nowhere"}"#,
        )
        .expect_status(404);
    server
        .admin(
            "POST",
            &format!("/projects/{q}/devices/{moved}/move"),
            json!({ "project": q }).to_string().as_bytes(),
        )
        .expect_status(400);
    server
        .admin(
            "DELETE",
            &format!("/projects/{p}/devices/{}", crate::imei(959, 9)),
            b"",
        )
        .expect_status(404);
}

/// Registration is bounded: past `NEW_DEVICES_PER_MINUTE` new ids in a minute, an id never seen
/// before hears 429 code 71 and is not bound; devices already bound are served as always.
#[test]
fn new_ids_past_the_per_minute_cap_are_not_bound() {
    let state = temp_state_dir("registrar");
    let mut server = Server::start_with(&state, &[("NEW_DEVICES_PER_MINUTE", "5")]);
    let p = "dp-cap";
    let img = image(9696, 500);
    server.setup(p, None, FW, TARGET, &img, json!({}));
    let ids: Vec<String> = (0..8).map(|i| crate::imei(969, i)).collect();
    let mut answers = Vec::new();
    for id in &ids {
        let resp = device_request(&server, &luatos_get(&server, &url(p, id, TARGET)));
        answers.push((resp.status, resp.json()["code"].as_u64()));
    }
    // The minute may turn during the loop and grant a few more: at least 5 bound, and every
    // refusal is code 71 with nothing bound.
    let bound = answers.iter().filter(|a| **a == (404, Some(60))).count();
    assert!(
        bound >= 5
            && answers
                .iter()
                .all(|a| *a == (404, Some(60)) || *a == (429, Some(71))),
        "{answers:?}"
    );
    for (id, answer) in ids.iter().zip(&answers) {
        let status = server
            .admin("GET", &format!("/projects/{p}/devices/{id}"), b"")
            .status;
        assert_eq!(
            status == 200,
            answer.0 == 404,
            "{id}: bound exactly when served"
        );
    }
    // A bound device keeps being served while the cap is spent.
    device_request(&server, &luatos_get(&server, &url(p, &ids[0], TARGET))).expect_refusal(404, 60);
    server.stop();
}
