//! JSON device secrets are shown once and revocable per device: provisioning an id again shows no
//! secret, `"rekey": true` issues a new key generation (the old secret is refused at once), a
//! de-provisioned device is refused, and each device verifies only under the master key version
//! it was given its secret from. Master key rotation keeps outstanding download URLs good, and the
//! edge refuses to sign with a key whose master version was dropped.
//!
//! Project keys start with `keys-` and device ids with `keysNN-`.

use crate::contains;
use crate::ota::{
    download, expect_refused, generation_of, history, module_plan, project, provision,
    provision_with, signing_keys, verify_as_device, Device, FROM, MCU, TARGET,
};
use fota_shared::rules::device_auth::{device_secret, parse_master_keys};
use fota_tests::{image, shared_server, temp_state_dir, Server, MASTER_KEYS};
use serde_json::json;

fn provision_answer(
    server: &Server,
    pk: &str,
    ids: &[&str],
    rekey: bool,
) -> fota_tests::RawResponse {
    server.admin(
        "POST",
        &format!("/projects/{pk}/devices"),
        json!({ "devices": ids, "rekey": rekey })
            .to_string()
            .as_bytes(),
    )
}

#[test]
fn a_secret_is_shown_once_rekey_replaces_it_and_deprovision_refuses_the_device() {
    let server = shared_server();
    let pk = "keys-once";
    project(server, pk);
    let a = provision(server, pk, &["keys01-a".to_string()]).remove(0);
    a.report_ok(server, MCU, FROM);

    // Provisioning it again, alone or with a new id: no secret for it, only for the new id.
    let resp = provision_answer(server, pk, &["keys01-a"], false);
    resp.expect_status(200);
    assert_eq!(
        resp.json(),
        json!({ "devices": [], "already_provisioned": ["keys01-a"] })
    );
    assert!(!contains(&resp.body, a.secret.as_bytes()));
    let resp = provision_answer(server, pk, &["keys01-b", "keys01-a"], false);
    resp.expect_status(201);
    assert_eq!(resp.header("Cache-Control"), Some("no-store"));
    let body = resp.json();
    assert_eq!(body["already_provisioned"], json!(["keys01-a"]));
    let shown: Vec<&str> = body["devices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    assert_eq!(shown, ["keys01-b"]);
    assert!(
        !contains(&resp.body, a.secret.as_bytes()),
        "a's secret is never shown again"
    );
    a.report_ok(server, MCU, FROM);

    // Re-key: a new secret; the old one is refused at once (even a request signed before), the new one works.
    let signed_before = a.bytes(
        server,
        "inform",
        json!({ "id": "77", "params": { "version": FROM, "module": MCU } })
            .to_string()
            .as_bytes(),
    );
    let generation = generation_of(server, pk, &a.name);
    let rekeyed = provision_with(server, pk, std::slice::from_ref(&a.name), true).remove(0);
    assert_ne!(rekeyed.secret, a.secret);
    assert!(
        generation_of(server, pk, &a.name) > generation,
        "a re-key issues a later generation"
    );
    expect_refused(&a.report(server, MCU, FROM), 401, "auth_bad_signature");
    expect_refused(&server.request(&signed_before), 401, "auth_bad_signature");
    expect_refused(&a.notice(server), 401, "auth_bad_signature");
    rekeyed.report_ok(server, MCU, FROM);
    let master = &parse_master_keys(MASTER_KEYS).unwrap()[0];
    assert_eq!(
        rekeyed.secret,
        device_secret(master, pk, &a.name, generation_of(server, pk, &a.name)),
        "the documented derivation"
    );
    assert!(history(server, pk, &a.name)
        .iter()
        .any(|(kind, detail)| kind == "rekeyed" && !detail.contains(&rekeyed.secret)));

    // De-provision: every signed request of the device is refused, with the code of a wrong secret.
    server
        .admin(
            "POST",
            &format!("/projects/{pk}/devices/{}/deprovision", a.name),
            b"",
        )
        .expect_status(204);
    expect_refused(
        &rekeyed.report(server, MCU, FROM),
        401,
        "auth_bad_signature",
    );
    expect_refused(&rekeyed.notice(server), 401, "auth_bad_signature");
    let again = server.admin(
        "POST",
        &format!("/projects/{pk}/devices/{}/deprovision", a.name),
        b"",
    );
    again.expect_status(409);
    assert_eq!(again.json()["error"]["code"], "not_provisioned");
    server
        .admin(
            "POST",
            &format!("/projects/{pk}/devices/keys01-nobody/deprovision"),
            b"",
        )
        .expect_status(404);
    // The other device is untouched.
    let b_secret = body["devices"][0]["secret"].as_str().unwrap().to_string();
    Device {
        pk: pk.into(),
        name: "keys01-b".into(),
        secret: b_secret,
    }
    .report_ok(server, MCU, FROM);

    // Provisioning it again issues a third secret; neither earlier one comes back.
    let back = provision(server, pk, std::slice::from_ref(&a.name)).remove(0);
    assert!(back.secret != a.secret && back.secret != rekeyed.secret);
    expect_refused(
        &rekeyed.report(server, MCU, FROM),
        401,
        "auth_bad_signature",
    );
    back.report_ok(server, MCU, FROM);

    // Audited, never with a secret.
    let audit = server
        .admin("GET", &format!("/audit?project={pk}&limit=500"), b"")
        .expect_status(200)
        .clone();
    for secret in [&a.secret, &rekeyed.secret, &back.secret] {
        assert!(
            !contains(&audit.body, secret.as_bytes()),
            "a device secret is in the audit log"
        );
    }
    let entries = audit.json()["entries"].as_array().unwrap().clone();
    let targets: Vec<&str> = entries
        .iter()
        .map(|e| e["target"].as_str().unwrap_or_default())
        .collect();
    assert!(targets.contains(&"re-key 1 devices"), "{targets:?}");
    let deprovisioned = entries
        .iter()
        .find(|e| e["target"] == "deprovision keys01-a")
        .expect("de-provisioning is audited");
    assert_eq!(
        deprovisioned["action"],
        "POST projects/{key}/devices/{device_id}/deprovision"
    );
}

/// Master key rotation over three restarts of one edge: `1` only, then `1,2`, then `2` only.
#[test]
fn master_key_rotation_keeps_urls_pins_each_device_to_its_version_and_refuses_a_dropped_signing_version(
) {
    let (k1, k2) = (
        MASTER_KEYS.strip_prefix("1:").unwrap(),
        "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f",
    );
    let both = format!("1:{k1},2:{k2}");
    let only_v2 = format!("2:{k2}");
    let masters = parse_master_keys(&both).unwrap();
    let v2 = masters.iter().find(|m| m.version == 2).unwrap();
    let (pk, fw) = ("keys-rotate", "keys_rotate_mcu");
    let img = image(5101, 7_000);
    let state = temp_state_dir("master-rotation");

    // Version 1 only: two devices, and a notice whose URL is signed with version 1's key.
    let mut server = Server::start(&state);
    project(&server, pk);
    module_plan(&server, pk, fw, MCU, TARGET, &img, json!({}));
    let mut devices = provision(
        &server,
        pk,
        &["keys02-a".to_string(), "keys02-b".to_string()],
    );
    let (a, b) = (devices.remove(0), devices.remove(0));
    a.report_ok(&server, MCU, FROM);
    let url = a.notice_data(&server).expect("a job")["url"]
        .as_str()
        .unwrap()
        .to_string();
    server.stop();

    // Versions 1 and 2: the old URL still downloads; old devices verify under 1, new secrets come from 2.
    let mut server = Server::start_with(&state, &[("DEVICE_MASTER_KEYS", &both)]);
    let rebase = |server: &Server, url: &str| {
        format!(
            "http://{}/{}",
            server.host(),
            url.splitn(4, '/').nth(3).unwrap()
        )
    };
    download(&server, &rebase(&server, &url), None).expect_image(200, &img);
    a.report_ok(&server, MCU, FROM);
    b.report_ok(&server, MCU, FROM);
    let c = provision(&server, pk, &["keys02-c".to_string()]).remove(0);
    assert_eq!(
        c.secret,
        device_secret(v2, pk, &c.name, generation_of(&server, pk, &c.name)),
        "new secrets derive from the highest version"
    );
    c.report_ok(&server, MCU, FROM);
    let a2 = provision_with(&server, pk, std::slice::from_ref(&a.name), true).remove(0);
    assert_eq!(
        a2.secret,
        device_secret(v2, pk, &a.name, generation_of(&server, pk, &a.name))
    );
    expect_refused(&a.report(&server, MCU, FROM), 401, "auth_bad_signature");
    a2.report_ok(&server, MCU, FROM);
    // A device verifies only under its own version: b's name signed with a version-2 secret is refused.
    let b_as_v2 = Device {
        secret: device_secret(v2, pk, &b.name, generation_of(&server, pk, &b.name)),
        ..b.clone()
    };
    expect_refused(
        &b_as_v2.report(&server, MCU, FROM),
        401,
        "auth_bad_signature",
    );
    server.stop();

    // Version 2 only: b (version 1) is refused, a and c work; the signing key (version 1) may not sign.
    let mut server = Server::start_with(&state, &[("DEVICE_MASTER_KEYS", &only_v2)]);
    expect_refused(&b.report(&server, MCU, FROM), 401, "auth_bad_signature");
    c.report_ok(&server, MCU, FROM);
    a2.report_ok(&server, MCU, FROM);
    let refused = server.request(&a2.bytes(&server, "upgrade", b""));
    assert_eq!(
        refused.status,
        503,
        "{}",
        String::from_utf8_lossy(&refused.body)
    );
    assert_eq!(refused.json()["error"]["code"], "master_key_missing");
    let listed = server.admin("GET", &format!("/projects/{pk}/signing-keys"), b"");
    listed.expect_status(503);
    assert_eq!(listed.json()["error"]["code"], "master_key_missing");
    assert!(
        listed.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("version 1"),
        "{}",
        listed.json()
    );
    let logged = crate::eventually(10, || {
        std::fs::read_to_string(state.join("wrangler.log"))
            .unwrap_or_default()
            .contains("master_key_missing")
    });
    assert!(logged, "the refusal is logged");
    // Rotating the signing key moves it to version 2: notices are signed again.
    server
        .admin(
            "POST",
            &format!("/projects/{pk}/signing-keys/rotate"),
            br#"{"overlap_s":0}"#,
        )
        .expect_status(200);
    let (active, _) = signing_keys(&server, pk);
    let data = a2.notice_data(&server).expect("the job is still offered");
    assert_eq!(data["key_id"].as_str(), Some(active.as_str()));
    verify_as_device(&server, &a2, &data);
    server.stop();
}
