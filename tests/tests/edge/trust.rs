//! Trust only what a device proves (issue 15): registered Luat devices and their secrets, signed
//! LuatOS checks (`ts` + `sig`, code 73), a project's device policy (`registered`: code 72 and
//! nothing recorded for other ids; `signed`: code 73 for unsigned checks), rollouts that trust
//! registered, signed and listed devices only, and owner memory that expires.
//!
//! Project keys start with `trust-` and device ids with `8624190800NNxxx`.

use crate::device_request;
use fota_tests::{image, shared_server, temp_state_dir, RawResponse, Server};
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;

const FW: &str = "trust_LuatOS-SoC_Air780E";
const FROM: &str = "1.0.0";
const TARGET: &str = "1.0.1";

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The README's LuatOS snippet, computed as a device does:
/// `crypto.hmac_sha256(imei.."\n"..project_key.."\n"..firmware_name.."\n"..version.."\n"..ts, secret)`,
/// keyed with the secret's text as shown, lowercase hex.
fn luatos_sig(secret: &str, imei: &str, project: &str, version: &str, ts: i64) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{imei}\n{project}\n{FW}\n{version}\n{ts}").as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

fn check(server: &Server, query: &str) -> RawResponse {
    device_request(
        server,
        format!(
            "GET /api/site/firmware_upgrade?{query} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            server.host()
        )
        .as_bytes(),
    )
}

fn plain(server: &Server, project: &str, imei: &str, version: &str) -> RawResponse {
    check(
        server,
        &format!("imei={imei}&project_key={project}&firmware_name={FW}&version={version}"),
    )
}

fn signed(
    server: &Server,
    project: &str,
    imei: &str,
    version: &str,
    secret: &str,
    ts: i64,
) -> RawResponse {
    let sig = luatos_sig(secret, imei, project, version, ts);
    // The signature first: any position the lenient parser accepts.
    check(
        server,
        &format!("ts={ts}&sig={sig}&imei={imei}&project_key={project}&firmware_name={FW}&version={version}"),
    )
}

fn project(server: &Server, key: &str, policy: Option<&str>) {
    let mut spec = json!({ "name": format!("project {key}") });
    if let Some(p) = policy {
        spec["device_policy"] = p.into();
    }
    let resp = server.admin(
        "PUT",
        &format!("/projects/{key}"),
        spec.to_string().as_bytes(),
    );
    resp.expect_status(200);
    assert_eq!(resp.json()["device_policy"], policy.unwrap_or("open"));
}

fn plan(server: &Server, key: &str, body: serde_json::Value) -> Vec<u8> {
    let img = image(key.len() as u32 + 15, 4096);
    server
        .admin(
            "PUT",
            &format!("/projects/{key}/firmware/{FW}/{TARGET}"),
            &img,
        )
        .expect_one_of(&[200, 201]);
    let mut body = body;
    body["target_version"] = TARGET.into();
    server
        .admin(
            "PUT",
            &format!("/projects/{key}/plans/{FW}"),
            body.to_string().as_bytes(),
        )
        .expect_status(200);
    img
}

/// Registers Luat ids; answers each id's secret.
fn register(server: &Server, key: &str, ids: &[String]) -> Vec<(String, String)> {
    let resp = server.admin(
        "POST",
        &format!("/projects/{key}/devices"),
        json!({ "devices": ids, "protocol": "luat" })
            .to_string()
            .as_bytes(),
    );
    resp.expect_status(201);
    assert_eq!(resp.header("Cache-Control"), Some("no-store"));
    resp.json()["devices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["id"].as_str().unwrap().to_string(),
                d["secret"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn status(server: &Server, pk: &str) -> serde_json::Value {
    let resp = server.admin("GET", &format!("/projects/{pk}/plans/{FW}/status"), b"");
    resp.expect_status(200);
    resp.json()
}

fn device_rows(server: &Server, id: &str) -> u64 {
    let rows = server.d1(&format!(
        "SELECT COUNT(*) AS n FROM devices WHERE id = '{id}'"
    ));
    rows[0]["n"].as_u64().unwrap()
}

#[test]
fn registered_luat_devices_sign_their_checks_as_the_readme_snippet_does() {
    let server = shared_server();
    let pk = "trust-signed-checks";
    project(server, pk, None);
    let img = plan(server, pk, json!({}));
    let ids: Vec<String> = (0..2).map(|n| format!("86241908000100{n}")).collect();
    let keys = register(server, pk, &ids);
    assert_eq!(keys.len(), 2);
    // Registering again shows no secret.
    let again = server.admin(
        "POST",
        &format!("/projects/{pk}/devices"),
        json!({ "devices": [ids[0]], "protocol": "luat" })
            .to_string()
            .as_bytes(),
    );
    again.expect_status(200);
    assert_eq!(again.json()["already_provisioned"], json!([ids[0]]));
    assert_eq!(again.json()["devices"], json!([]));
    // A JSON provisioning of a registered Luat id is refused, nothing changed.
    server
        .admin(
            "POST",
            &format!("/projects/{pk}/devices"),
            json!({ "devices": [ids[0]], "rekey": true })
                .to_string()
                .as_bytes(),
        )
        .expect_status(409);

    let (id, secret) = &keys[0];
    let now = unix_now();
    signed(server, pk, id, FROM, secret, now).expect_image(200, &img);
    signed(server, pk, id, FROM, secret, now - 250).expect_image(200, &img);
    // More than 300 s off, wrong, another device's secret: 73.
    signed(server, pk, id, FROM, secret, now - 400).expect_refusal(403, 73);
    signed(server, pk, id, FROM, secret, now + 400).expect_refusal(403, 73);
    signed(server, pk, id, FROM, &keys[1].1, now).expect_refusal(403, 73);
    let sig = luatos_sig(secret, id, pk, FROM, now);
    check(
        server,
        &format!("imei={id}&project_key={pk}&firmware_name={FW}&version=1.0.2&ts={now}&sig={sig}"),
    )
    .expect_refusal(403, 73);
    // The signature in the middle of the query works the same.
    check(
        server,
        &format!("imei={id}&ts={now}&project_key={pk}&sig={sig}&firmware_name={FW}&version={FROM}"),
    )
    .expect_image(200, &img);
    // A signature from an id that is not registered: 73, and nothing bound for it.
    let stranger = "862419080001099";
    signed(server, pk, stranger, FROM, secret, now).expect_refusal(403, 73);
    assert_eq!(
        device_rows(server, stranger),
        0,
        "an unregistered signer is not bound"
    );
    // Unsigned checks of a registered device are served in an open project.
    plain(server, pk, id, FROM).expect_image(200, &img);
    // A rekeyed device's old secret stops verifying at once.
    let rekeyed = server.admin(
        "POST",
        &format!("/projects/{pk}/devices"),
        json!({ "devices": [id], "protocol": "luat", "rekey": true })
            .to_string()
            .as_bytes(),
    );
    rekeyed.expect_status(201);
    let new_secret = rekeyed.json()["devices"][0]["secret"]
        .as_str()
        .unwrap()
        .to_string();
    signed(server, pk, id, FROM, secret, now).expect_refusal(403, 73);
    signed(server, pk, id, FROM, &new_secret, now).expect_image(200, &img);
    // De-provisioned: its signature proves nothing any more; unsigned, it is a bound id again.
    server
        .admin(
            "POST",
            &format!("/projects/{pk}/devices/{id}/deprovision"),
            b"",
        )
        .expect_status(204);
    signed(server, pk, id, FROM, &new_secret, now).expect_refusal(403, 73);
    plain(server, pk, id, FROM).expect_image(200, &img);
}

#[test]
fn a_registered_policy_serves_registered_ids_only_and_records_nothing_else() {
    let server = shared_server();
    let pk = "trust-registered";
    project(server, pk, None);
    let img = plan(server, pk, json!({}));
    let bound_before = "862419080002001";
    plain(server, pk, bound_before, FROM).expect_image(200, &img);
    let registered = register(server, pk, &["862419080002002".to_string()]);
    project(server, pk, Some("registered"));

    let stranger = "862419080002003";
    plain(server, pk, stranger, FROM).expect_refusal(403, 72);
    assert_eq!(device_rows(server, stranger), 0, "no binding, no row");
    let history = server.d1(&format!(
        "SELECT COUNT(*) AS n FROM device_events WHERE device_id = '{stranger}'"
    ));
    assert_eq!(history[0]["n"], 0);
    server
        .admin("GET", &format!("/projects/{pk}/devices/{stranger}"), b"")
        .expect_status(404);
    // An id merely bound while the project was open is not registered.
    plain(server, pk, bound_before, FROM).expect_refusal(403, 72);
    plain(server, pk, &registered[0].0, FROM).expect_image(200, &img);
    // Another project's key is still the platform's code for it.
    plain(server, "trust-registered-none", stranger, FROM).expect_refusal(404, 26);
}

#[test]
fn a_signed_policy_refuses_every_unsigned_check() {
    let server = shared_server();
    let pk = "trust-signed-policy";
    project(server, pk, Some("signed"));
    let img = plan(server, pk, json!({}));
    let keys = register(server, pk, &["862419080003001".to_string()]);
    let (id, secret) = &keys[0];
    plain(server, pk, id, FROM).expect_refusal(403, 73);
    plain(server, pk, "862419080003002", FROM).expect_refusal(403, 73);
    assert_eq!(device_rows(server, "862419080003002"), 0);
    signed(server, pk, id, FROM, secret, unix_now()).expect_image(200, &img);
    // The TUI and CLI read the policy back from the project.
    let shown = server.admin("GET", &format!("/projects/{pk}"), b"");
    assert_eq!(shown.json()["device_policy"], "signed");
    // A policy that is not one of the three is refused.
    server
        .admin(
            "PUT",
            &format!("/projects/{pk}"),
            json!({ "name": "x", "device_policy": "closed" })
                .to_string()
                .as_bytes(),
        )
        .expect_status(400);
}

#[test]
fn a_rollout_trusts_registered_and_listed_devices_not_ids_bound_before_it() {
    let server = shared_server();
    let pk = "trust-rollout";
    project(server, pk, None);
    let bound: Vec<String> = (0..4).map(|n| format!("86241908000400{n}")).collect();
    let registered: Vec<String> = (0..3).map(|n| format!("86241908000401{n}")).collect();
    for id in &bound {
        plain(server, pk, id, FROM).expect_refusal(404, 27);
    }
    register(server, pk, &registered);
    let listed = "862419080004020";
    let img = plan(
        server,
        pk,
        json!({ "rollout": { "stages": [100], "verify_devices": [listed] } }),
    );
    plain(server, pk, listed, FROM).expect_image(200, &img);
    plain(server, pk, listed, TARGET).expect_refusal(404, 60);
    // The test device's success is recorded in the background: verification passes.
    let running = crate::eventually(5, || status(server, pk)["state"] == "running");
    assert!(running, "verification passed: {}", status(server, pk));
    for id in bound.iter().chain(&registered) {
        plain(server, pk, id, FROM).expect_image(200, &img);
    }
    let status = status(server, pk);
    assert_eq!(
        status["totals"]["offered"], 4,
        "the listed device and the registered ones: {status}"
    );
    assert_eq!(
        status["unverified"]["offered"], 4,
        "ids bound before the rollout: {status}"
    );
    assert_eq!(status["trust"]["device_policy"], "open");
    assert_eq!(status["trust"]["trusted"], 4);
    assert_eq!(status["trust"]["unverified"], 4);
    assert!(status["trust"]["basis"]
        .as_str()
        .unwrap()
        .starts_with("registered"));
}

/// An operator's change made in another isolate reaches this one within the owner memory's
/// expiry: here the change is written where another isolate writes it (D1, KV's copy and the
/// project's `bindings_at`), past this isolate, which still holds the old binding.
#[test]
fn owner_memory_expires_and_other_isolates_changes_take_effect() {
    const MEMORY_S: u64 = 15;
    let state = temp_state_dir("trust-expiry");
    let server = Server::start_with(&state, &[("OWNER_MEMORY_S", "15")]);
    let (pk, other) = ("trust-expiry", "trust-expiry-b");
    project(&server, pk, None);
    project(&server, other, None);
    let img = plan(&server, pk, json!({}));
    let id = "862419080005001";
    let bound_at = std::time::Instant::now();
    plain(&server, pk, id, FROM).expect_image(200, &img);
    // Another isolate moves the device to `other`: D1, KV's copy, the project's bindings_at.
    server.d1(&format!(
        "UPDATE devices SET project_key = '{other}' WHERE id = '{id}'"
    ));
    let later = server.d1(&format!(
        "UPDATE projects SET bindings_at = {} WHERE key = '{pk}' RETURNING name, ban_after, bindings_at",
        fota_tests::now_ms()
    ));
    server.kv_put(&format!("owner:{id}"), &format!("{other} 0"));
    let project_copy = json!({
        "key": pk, "name": later[0]["name"], "ban_after": later[0]["ban_after"],
        "device_policy": "open", "bindings_at": later[0]["bindings_at"],
        "created_at": "2026-12-02T00:00:00Z", "updated_at": "2026-12-02T00:00:00Z"
    });
    server.kv_put(&format!("project:{pk}"), &project_copy.to_string());
    // This isolate still remembers the old binding (and its project record) while its memory
    // lasts (15 s here, 60 s by default; a project is kept no longer, 30 s by default). Asserted
    // only when the writes above left time to ask (they start a wrangler process each).
    if bound_at.elapsed() < std::time::Duration::from_secs(MEMORY_S - 3) {
        plain(&server, pk, id, FROM).expect_image(200, &img);
    }
    // Once it expired, the change is seen.
    let expired = std::time::Duration::from_secs(MEMORY_S + 1);
    std::thread::sleep(expired.saturating_sub(bound_at.elapsed()));
    plain(&server, pk, id, FROM).expect_refusal(403, 25);
}
