//! Module OTA for signed JSON devices (`shared/docs/device-protocols.md` sections 3-4), driven the
//! way a device drives it: every request signed with the device secret exactly as
//! `fota_shared::rules::device_auth` documents, notices verified with the published Ed25519 key, images
//! checked against md5 and sha256, progress throttled, pushes received over a real WebSocket.
//!
//! Project keys start with `ota-` and device ids with `otaNN-` (NN per test), so that the tests
//! share one server without seeing each other's state.

use crate::contains;
use fota_shared::rules::device_auth::{
    derive_key, device_secret, parse_master_keys, sign, SIGNATURE_HEADER, TIMESTAMP_HEADER,
};
use fota_shared::rules::download_url::signed_url_query;
use fota_shared::rules::notice::{accept_notice, verify_notice, NoticeError, NoticeSubject};
use fota_tests::{image, md5_hex, sha256_hex, shared_server, RawResponse, Server, MASTER_KEYS};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub(crate) const MCU: &str = "MCU";
const WIFI: &str = "WIFI";
pub(crate) const FROM: &str = "1.0.0";
pub(crate) const TARGET: &str = "1.0.1";

// ---------------------------------------------------------------- signing, as a device does it

pub(crate) fn wall_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as i64
}

/// A signing time for a fresh request: the clock, but strictly increasing across the process, so
/// that two body-less requests of one device never share a millisecond (the edge would refuse the
/// second as a replay, as documented).
fn fresh_ms() -> i64 {
    static LAST: AtomicI64 = AtomicI64::new(0);
    let now = wall_ms();
    let prev = LAST.fetch_max(now, Ordering::SeqCst);
    if prev < now {
        return now;
    }
    LAST.fetch_add(1, Ordering::SeqCst) + 1
}

/// A fresh message `id`: decimal, unique per device (here unique per process).
pub(crate) fn next_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1000);
    NEXT.fetch_add(1, Ordering::SeqCst).to_string()
}

/// How a request is signed, for the refusal cases.
#[derive(Debug, Clone)]
pub(crate) enum Signing {
    /// No `X-Fota-*` headers.
    Unsigned,
    /// Signed with `secret` at `timestamp_ms`.
    With { secret: String, timestamp_ms: i64 },
}

/// The exact bytes of a device request: `METHOD target`, Host, Connection: close, and the two
/// signature headers over the canonical request.
pub(crate) fn device_bytes(
    server: &Server,
    method: &str,
    target: &str,
    body: &[u8],
    signing: &Signing,
) -> Vec<u8> {
    let mut head = format!(
        "{method} {target} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
        server.host()
    );
    if method != "GET" || !body.is_empty() {
        head.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    if let Signing::With {
        secret,
        timestamp_ms,
    } = signing
    {
        let signature = sign(secret, method, target, *timestamp_ms, body);
        head.push_str(&format!(
            "{TIMESTAMP_HEADER}: {timestamp_ms}\r\n{SIGNATURE_HEADER}: {signature}\r\n"
        ));
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// Device answers are never 5xx, whatever was sent.
#[track_caller]
pub(crate) fn send(server: &Server, bytes: &[u8]) -> RawResponse {
    let resp = server.request(bytes);
    assert!(
        resp.status < 500,
        "status {} for {}; body: {}",
        resp.status,
        String::from_utf8_lossy(&bytes[..bytes.len().min(300)]),
        String::from_utf8_lossy(&resp.body)
    );
    resp
}

/// The stable code of a refusal. The edge answers device refusals in the admin error shape,
/// `{"error":{"code":"auth_replayed","message":"..."}}`.
#[track_caller]
pub(crate) fn refusal_code(resp: &RawResponse) -> String {
    let body = resp.json();
    body["error"]["code"]
        .as_str()
        .unwrap_or_else(|| {
            panic!(
                "refusal {} without error.code: {}",
                resp.status,
                String::from_utf8_lossy(&resp.body)
            )
        })
        .to_string()
}

#[track_caller]
pub(crate) fn expect_refused(resp: &RawResponse, status: u16, code: &str) {
    assert_eq!(
        resp.status,
        status,
        "body: {}",
        String::from_utf8_lossy(&resp.body)
    );
    assert_eq!(
        refusal_code(resp),
        code,
        "body: {}",
        String::from_utf8_lossy(&resp.body)
    );
    assert!(
        resp.header_exact("Content-Length").is_some(),
        "refusal without Content-Length: {:?}",
        resp.headers
    );
}

/// One provisioned JSON device of one product.
#[derive(Debug, Clone)]
pub(crate) struct Device {
    pub(crate) pk: String,
    pub(crate) name: String,
    pub(crate) secret: String,
}

impl Device {
    pub(crate) fn path(&self, kind: &str) -> String {
        format!("/ota/device/{kind}/{}/{}", self.pk, self.name)
    }

    pub(crate) fn signed(&self) -> Signing {
        Signing::With {
            secret: self.secret.clone(),
            timestamp_ms: fresh_ms(),
        }
    }

    /// The request bytes for `kind` (`inform`, `progress`, `upgrade`, `channel`), freshly signed.
    pub(crate) fn bytes(&self, server: &Server, kind: &str, body: &[u8]) -> Vec<u8> {
        let method = if matches!(kind, "upgrade" | "channel") {
            "GET"
        } else {
            "POST"
        };
        device_bytes(server, method, &self.path(kind), body, &self.signed())
    }

    pub(crate) fn report(&self, server: &Server, module: &str, version: &str) -> RawResponse {
        let body = json!({ "id": next_id(), "params": { "version": version, "module": module } })
            .to_string();
        send(server, &self.bytes(server, "inform", body.as_bytes()))
    }

    #[track_caller]
    pub(crate) fn report_ok(&self, server: &Server, module: &str, version: &str) {
        let id = next_id();
        let body =
            json!({ "id": id, "params": { "version": version, "module": module } }).to_string();
        let resp = send(server, &self.bytes(server, "inform", body.as_bytes()));
        resp.expect_status(200);
        assert_eq!(
            resp.json(),
            json!({ "id": id, "code": 200 }),
            "the ack echoes the id"
        );
    }

    pub(crate) fn progress(
        &self,
        server: &Server,
        module: &str,
        step: Value,
        desc: Option<&str>,
    ) -> RawResponse {
        let mut params = json!({ "step": step, "module": module });
        if let Some(d) = desc {
            params["desc"] = d.into();
        }
        let body = json!({ "id": next_id(), "params": params }).to_string();
        send(server, &self.bytes(server, "progress", body.as_bytes()))
    }

    pub(crate) fn notice(&self, server: &Server) -> RawResponse {
        send(server, &self.bytes(server, "upgrade", b""))
    }

    /// The notice's data when the device has a job in progress; `None` on 204.
    #[track_caller]
    pub(crate) fn notice_data(&self, server: &Server) -> Option<Value> {
        let resp = self.notice(server);
        match resp.status {
            204 => {
                assert!(resp.body.is_empty(), "a 204 with a body");
                None
            }
            200 => {
                let body = resp.json();
                assert_eq!(body["code"], 200, "{body}");
                assert!(
                    body["id"].as_str().is_some_and(|id| !id.is_empty()),
                    "{body}"
                );
                Some(body["data"].clone())
            }
            other => panic!(
                "notice answered {other}: {}",
                String::from_utf8_lossy(&resp.body)
            ),
        }
    }
}

// ---------------------------------------------------------------- admin helpers

pub(crate) fn project(server: &Server, pk: &str) {
    server
        .admin(
            "PUT",
            &format!("/projects/{pk}"),
            json!({ "name": format!("project {pk}") })
                .to_string()
                .as_bytes(),
        )
        .expect_status(200);
}

/// Uploads `img` as `fw`/`version` for `module` and plans it with `plan` (+ `target_version`).
pub(crate) fn module_plan(
    server: &Server,
    pk: &str,
    fw: &str,
    module: &str,
    version: &str,
    img: &[u8],
    plan: Value,
) {
    server
        .admin(
            "PUT",
            &format!("/projects/{pk}/firmware/{fw}/{version}?module={module}"),
            img,
        )
        .expect_one_of(&[200, 201]);
    let mut plan = plan;
    plan["target_version"] = version.into();
    server
        .admin(
            "PUT",
            &format!("/projects/{pk}/plans/{fw}"),
            plan.to_string().as_bytes(),
        )
        .expect_status(200);
}

/// Provisions `ids` in `pk` (none provisioned yet, or all re-keyed with `rekey`) and returns the
/// devices with the secrets the answer showed.
#[track_caller]
pub(crate) fn provision_with(
    server: &Server,
    pk: &str,
    ids: &[String],
    rekey: bool,
) -> Vec<Device> {
    let resp = server.admin(
        "POST",
        &format!("/projects/{pk}/devices"),
        json!({ "devices": ids, "rekey": rekey })
            .to_string()
            .as_bytes(),
    );
    resp.expect_status(201);
    assert_eq!(
        resp.header("Cache-Control"),
        Some("no-store"),
        "an answer with secrets is never cached"
    );
    let shown: BTreeMap<String, String> = resp.json()["devices"]
        .as_array()
        .expect("devices")
        .iter()
        .map(|d| {
            (
                d["id"].as_str().unwrap().to_string(),
                d["secret"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    ids.iter()
        .map(|id| Device {
            pk: pk.into(),
            name: id.clone(),
            secret: shown
                .get(id)
                .unwrap_or_else(|| panic!("{id} not provisioned"))
                .clone(),
        })
        .collect()
}

#[track_caller]
pub(crate) fn provision(server: &Server, pk: &str, ids: &[String]) -> Vec<Device> {
    provision_with(server, pk, ids, false)
}

/// The key generation a device's history says it was last issued (`... key generation N, ...`).
#[track_caller]
pub(crate) fn generation_of(server: &Server, pk: &str, id: &str) -> i64 {
    history(server, pk, id)
        .iter()
        .rev()
        .filter(|(kind, _)| kind == "provisioned" || kind == "rekeyed")
        .find_map(|(_, detail)| {
            detail
                .split("key generation ")
                .nth(1)?
                .split(',')
                .next()?
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("no key generation in the history of {id}"))
}

fn status(server: &Server, pk: &str, fw: &str) -> Value {
    server
        .admin("GET", &format!("/projects/{pk}/plans/{fw}/status"), b"")
        .expect_status(200)
        .json()
}

fn totals(server: &Server, pk: &str, fw: &str) -> (u64, u64, u64, u64) {
    let t = &status(server, pk, fw)["totals"];
    let n = |k: &str| t[k].as_u64().unwrap_or_else(|| panic!("totals.{k}: {t}"));
    (n("eligible"), n("offered"), n("succeeded"), n("failed"))
}

pub(crate) fn history(server: &Server, pk: &str, id: &str) -> Vec<(String, String)> {
    let body = server
        .admin("GET", &format!("/projects/{pk}/devices/{id}/history"), b"")
        .expect_status(200)
        .json();
    body["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| {
            (
                e["kind"].as_str().unwrap_or_default().to_string(),
                e["detail"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn progress_events(server: &Server, pk: &str, id: &str) -> Vec<String> {
    history(server, pk, id)
        .into_iter()
        .filter(|(k, _)| k == "progress")
        .map(|(_, d)| d)
        .collect()
}

/// The project's published keys: (active id, id -> public key hex, in order).
pub(crate) fn signing_keys(server: &Server, pk: &str) -> (String, Vec<(String, String)>) {
    let body = server
        .admin("GET", &format!("/projects/{pk}/signing-keys"), b"")
        .expect_status(200)
        .json();
    let keys = body["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| {
            (
                k["id"].as_str().unwrap().to_string(),
                k["public_key_hex"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    (body["active"].as_str().expect("active").to_string(), keys)
}

fn jobs(server: &Server, pk: &str, phase: &str) -> Vec<(String, Value)> {
    let body = server
        .admin("GET", &format!("/projects/{pk}/jobs?phase={phase}"), b"")
        .expect_status(200)
        .json();
    body["jobs"]
        .as_array()
        .expect("jobs")
        .iter()
        .map(|j| {
            (
                j["device_id"].as_str().unwrap().to_string(),
                j["job"].clone(),
            )
        })
        .collect()
}

fn ids(prefix: &str, n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("{prefix}-{i:04}")).collect()
}

// ---------------------------------------------------------------- what a device checks

/// The signed fields of a notice, as a device reads them: its own product key and device name,
/// the rest from the notice.
pub(crate) fn subject_of<'a>(dev: &'a Device, data: &'a Value) -> NoticeSubject<'a> {
    NoticeSubject {
        product_key: &dev.pk,
        device_name: &dev.name,
        module: data["module"].as_str().expect("module"),
        version: data["version"].as_str().expect("version"),
        size: data["size"].as_u64().expect("size"),
        sha256: data["sha256"].as_str().expect("sha256"),
        expires_ms: data["expires"].as_i64().expect("expires"),
        downgrade: data["downgrade"].as_bool().expect("downgrade"),
    }
}

/// Checks a notice as a device does: the signature with the published key the notice names, over
/// the device's own identity, and the expiry against the device's clock.
#[track_caller]
pub(crate) fn verify_as_device(server: &Server, dev: &Device, data: &Value) {
    let (_, keys) = signing_keys(server, &dev.pk);
    let key_id = data["key_id"].as_str().expect("key_id");
    let public = &keys
        .iter()
        .find(|(id, _)| id == key_id)
        .unwrap_or_else(|| panic!("key {key_id} is not published: {keys:?}"))
        .1;
    assert_eq!(
        accept_notice(
            public,
            &subject_of(dev, data),
            data["sign"].as_str().expect("sign"),
            wall_ms()
        ),
        Ok(()),
        "notice {data}"
    );
}

/// Downloads the notice's URL (a full URL on this edge) and returns the response.
pub(crate) fn download(server: &Server, url: &str, range: Option<&str>) -> RawResponse {
    let target = url
        .strip_prefix(&format!("http://{}", server.host()))
        .unwrap_or_else(|| panic!("url {url} is not on this edge"));
    let mut req = format!(
        "GET {target} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
        server.host()
    );
    if let Some(r) = range {
        req.push_str(&format!("Range: {r}\r\n"));
    }
    req.push_str("\r\n");
    send(server, req.as_bytes())
}

/// A device's whole upgrade of one module: verify the notice, download and check the image,
/// report progress (10, a too-fast 60, then 100), reboot and report the target. Returns how many
/// progress reports were acknowledged with a 2xx.
#[track_caller]
fn upgrade_module(
    server: &Server,
    dev: &Device,
    data: &Value,
    img: &[u8],
    steps: &[&str],
) -> usize {
    verify_as_device(server, dev, data);
    upgrade_verified(server, dev, data, img, steps, true)
}

/// [`upgrade_module`] after the notice's signature was checked; `steps` as sent, where a step
/// between two others may be throttled.
#[track_caller]
fn upgrade_verified(
    server: &Server,
    dev: &Device,
    data: &Value,
    img: &[u8],
    steps: &[&str],
    fetch: bool,
) -> usize {
    let module = data["module"].as_str().unwrap();
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
        )
    );
    if fetch {
        let got = download(server, data["url"].as_str().unwrap(), None);
        got.expect_image(200, img);
        assert_eq!(sha256_hex(&got.body), data["sha256"].as_str().unwrap());
    }
    let mut acked = 0;
    for step in steps {
        // Step 100 is always stored; any other step within 3 s of the device's last stored
        // report (of any module: the limit is per device) may be throttled.
        let may_throttle = *step != "100";
        let resp = dev.progress(server, module, json!(step), Some("ok"));
        match resp.status {
            200 => acked += 1,
            429 if may_throttle => assert_eq!(resp.json()["code"], 429),
            other => panic!(
                "progress {step} of {} answered {other}: {}",
                dev.name,
                String::from_utf8_lossy(&resp.body)
            ),
        }
    }
    dev.report_ok(server, module, data["version"].as_str().unwrap());
    acked
}

// ---------------------------------------------------------------- provisioning

#[test]
fn provisioning_shows_derived_secrets_once_and_refuses_ids_owned_elsewhere() {
    let server = shared_server();
    let (a, b) = ("ota-prov-a", "ota-prov-b");
    project(server, a);
    project(server, b);
    let names = ids("ota01", 3);
    // Duplicates are folded; the answer is sorted by id.
    let mut asked = names.clone();
    asked.push(names[0].clone());
    let resp = server.admin(
        "POST",
        &format!("/projects/{a}/devices"),
        json!({ "devices": asked }).to_string().as_bytes(),
    );
    resp.expect_status(201);
    let shown = resp.json()["devices"].clone();
    let master = &parse_master_keys(MASTER_KEYS).unwrap()[0];
    let listed: Vec<&str> = shown
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, names.iter().map(String::as_str).collect::<Vec<_>>());
    let secrets: Vec<String> = shown
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["secret"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        resp.header("Cache-Control"),
        Some("no-store"),
        "an answer with secrets is never cached"
    );
    for (id, secret) in names.iter().zip(&secrets) {
        assert_eq!(
            secret,
            &device_secret(master, a, id, generation_of(server, a, id)),
            "the secret is the documented derivation"
        );
        assert!(
            secret.len() == 64
                && secret
                    .bytes()
                    .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
    }
    // Provisioning again shows no secret: the ids are listed as provisioned already.
    let again = server.admin(
        "POST",
        &format!("/projects/{a}/devices"),
        json!({ "devices": [names[0].clone()] })
            .to_string()
            .as_bytes(),
    );
    again.expect_status(200);
    assert_eq!(
        again.json(),
        json!({ "devices": [], "already_provisioned": [names[0].clone()] })
    );

    // An id bound to another project: 409, and nothing changes, for it or the other ids named.
    let resp = server.admin(
        "POST",
        &format!("/projects/{b}/devices"),
        json!({ "devices": [names[1].clone(), "ota01-free"] })
            .to_string()
            .as_bytes(),
    );
    resp.expect_status(409);
    assert_eq!(resp.json()["error"]["code"], "device_owned_elsewhere");
    let free = provision(server, b, &["ota01-free".to_string()]);
    assert_eq!(
        free.len(),
        1,
        "the refused call provisioned nothing, so this call shows the secret"
    );
    let elsewhere = Device {
        pk: b.into(),
        name: names[1].clone(),
        secret: device_secret(master, b, &names[1], generation_of(server, a, &names[1])),
    };
    expect_refused(
        &elsewhere.report(server, MCU, FROM),
        401,
        "auth_bad_signature",
    );
    // The device still works in its own project.
    let home = Device {
        pk: a.into(),
        name: names[1].clone(),
        secret: secrets[1].clone(),
    };
    home.report_ok(server, MCU, FROM);

    // Invalid bodies.
    for (body, code) in [
        (json!({ "devices": [] }).to_string(), "invalid_devices"),
        (
            json!({ "devices": ["a/b"] }).to_string(),
            "invalid_device_id",
        ),
        ("not json".to_string(), "invalid_json"),
    ] {
        let resp = server.admin("POST", &format!("/projects/{a}/devices"), body.as_bytes());
        resp.expect_status(400);
        assert_eq!(resp.json()["error"]["code"], code, "{body}");
    }

    // The audit log names the devices, never a secret.
    let page = server
        .admin("GET", &format!("/audit?project={a}&limit=500"), b"")
        .expect_status(200)
        .json();
    let entries = page["entries"].as_array().unwrap();
    let entry = entries
        .iter()
        .find(|e| {
            e["action"] == "POST projects/{key}/devices" && e["target"] == "provision 3 devices"
        })
        .expect("provisioning is audited");
    assert_eq!(
        entry["after"],
        json!({ "issued": names, "already_provisioned": [], "rekey": false, "protocol": "json" }),
        "{entry}"
    );
    let mut cursor: Option<String> = None;
    loop {
        let query = match &cursor {
            Some(c) => format!("/audit?limit=500&cursor={c}"),
            None => "/audit?limit=500".to_string(),
        };
        let resp = server.admin("GET", &query, b"").expect_status(200).clone();
        for secret in &secrets {
            assert!(
                !contains(&resp.body, secret.as_bytes()),
                "a device secret is in the audit log"
            );
        }
        cursor = resp.json()["next_cursor"].as_str().map(str::to_string);
        if cursor.is_none() {
            break;
        }
    }
}

// ---------------------------------------------------------------- authentication

#[test]
fn every_device_route_refuses_unsigned_forged_stale_future_and_replayed_requests() {
    let server = shared_server();
    let pk = "ota-auth";
    project(server, pk);
    let dev = provision(server, pk, &["ota02-dev".to_string()]).remove(0);
    let master = &parse_master_keys(MASTER_KEYS).unwrap()[0];
    // A device of this product that was never provisioned, signing with the secret it would get.
    let stranger = Device {
        pk: pk.into(),
        name: "ota02-stranger".into(),
        secret: device_secret(master, pk, "ota02-stranger", wall_ms()),
    };
    let wrong = "ab".repeat(32);
    for kind in ["inform", "progress", "upgrade", "channel"] {
        let (method, body) = match kind {
            "inform" => (
                "POST",
                json!({ "id": "1", "params": { "version": FROM, "module": MCU } }).to_string(),
            ),
            "progress" => (
                "POST",
                json!({ "id": "2", "params": { "step": "5", "module": MCU } }).to_string(),
            ),
            _ => ("GET", String::new()),
        };
        let path = dev.path(kind);
        let req = |signing: Signing| {
            send(
                server,
                &device_bytes(server, method, &path, body.as_bytes(), &signing),
            )
        };
        let now = wall_ms();
        let cases = [
            ("unsigned", Signing::Unsigned, "auth_missing_header"),
            (
                "wrong secret",
                Signing::With {
                    secret: wrong.clone(),
                    timestamp_ms: now,
                },
                "auth_bad_signature",
            ),
            (
                "stale",
                Signing::With {
                    secret: dev.secret.clone(),
                    timestamp_ms: now - 6 * 60 * 1000,
                },
                "auth_stale_timestamp",
            ),
            (
                "future",
                Signing::With {
                    secret: dev.secret.clone(),
                    timestamp_ms: now + 6 * 60 * 1000,
                },
                "auth_future_timestamp",
            ),
        ];
        for (name, signing, code) in cases {
            let resp = req(signing);
            assert_eq!(
                (resp.status, refusal_code(&resp)),
                (401, code.to_string()),
                "{kind}: {name}"
            );
        }
        // Another device's path with this device's signature, and a device never provisioned.
        let other = device_bytes(
            server,
            method,
            &stranger.path(kind),
            body.as_bytes(),
            &dev.signed(),
        );
        expect_refused(&send(server, &other), 401, "auth_bad_signature");
        let unprovisioned = device_bytes(
            server,
            method,
            &stranger.path(kind),
            body.as_bytes(),
            &stranger.signed(),
        );
        expect_refused(&send(server, &unprovisioned), 401, "auth_bad_signature");
        // The same signed request twice: accepted once.
        let once = device_bytes(server, method, &path, body.as_bytes(), &dev.signed());
        let first = send(server, &once);
        let expected_first = if kind == "channel" {
            400
        } else if kind == "upgrade" {
            204
        } else {
            200
        };
        assert_eq!(
            first.status,
            expected_first,
            "{kind}: first; body {}",
            String::from_utf8_lossy(&first.body)
        );
        if kind == "channel" {
            assert_eq!(refusal_code(&first), "websocket_required");
        }
        expect_refused(&send(server, &once), 401, "auth_replayed");
        // A changed body under the same signature is a forgery.
        if method == "POST" {
            let forged = String::from_utf8(once.clone())
                .unwrap()
                .replace(r#""id":"#, r#""id" :"#);
            let forged = forged.replace(
                &format!("Content-Length: {}", body.len()),
                &format!("Content-Length: {}", body.len() + 1),
            );
            expect_refused(&send(server, forged.as_bytes()), 401, "auth_bad_signature");
        }
    }
}

// ---------------------------------------------------------------- message validation

#[test]
fn device_messages_are_validated_and_desc_is_cut_to_128_characters() {
    let server = shared_server();
    let pk = "ota-msg";
    project(server, pk);
    let dev = provision(server, pk, &["ota03-dev".to_string()]).remove(0);
    let post = |kind: &str, body: &str| send(server, &dev.bytes(server, kind, body.as_bytes()));
    for (kind, body, status, code) in [
        ("inform", "not json".to_string(), 400, "invalid_json"),
        ("inform", "[1]".to_string(), 400, "invalid_json"),
        (
            "inform",
            json!({ "params": { "version": "1" } }).to_string(),
            400,
            "invalid_id",
        ),
        (
            "inform",
            json!({ "id": "12a", "params": { "version": "1" } }).to_string(),
            400,
            "invalid_id",
        ),
        (
            "inform",
            json!({ "id": "1", "params": {} }).to_string(),
            400,
            "missing_field",
        ),
        (
            "inform",
            json!({ "id": "1", "params": { "version": "1.x" } }).to_string(),
            400,
            "invalid_version",
        ),
        (
            "inform",
            json!({ "id": "1", "params": { "version": "1", "module": "a/b" } }).to_string(),
            400,
            "invalid_module",
        ),
        (
            "inform",
            json!({ "id": "1", "params": { "version": "1", "module": "Wi Fi" } }).to_string(),
            400,
            "invalid_module",
        ),
        (
            "inform",
            json!({ "id": "1", "params": { "version": "1", "module": "m".repeat(65) } })
                .to_string(),
            400,
            "invalid_module",
        ),
        (
            "inform",
            json!({ "id": "1", "params": { "version": "1", "pad": "x".repeat(5000) } }).to_string(),
            413,
            "payload_too_large",
        ),
        ("progress", "{".to_string(), 400, "invalid_json"),
        (
            "progress",
            json!({ "id": "1", "params": { "step": "101" } }).to_string(),
            400,
            "invalid_step",
        ),
        (
            "progress",
            json!({ "id": "1", "params": { "step": 101 } }).to_string(),
            400,
            "invalid_step",
        ),
        (
            "progress",
            json!({ "id": "1", "params": { "step": "-5" } }).to_string(),
            400,
            "invalid_step",
        ),
        (
            "progress",
            json!({ "id": "1", "params": { "step": -5 } }).to_string(),
            400,
            "invalid_step",
        ),
        (
            "progress",
            json!({ "id": "1", "params": { "step": "abc" } }).to_string(),
            400,
            "invalid_step",
        ),
        (
            "progress",
            json!({ "id": "1", "params": { "step": "0" } }).to_string(),
            400,
            "invalid_step",
        ),
        (
            "progress",
            json!({ "id": "1", "params": { "step": "45", "module": "MCU\u{0}" } }).to_string(),
            400,
            "invalid_module",
        ),
        (
            "progress",
            json!({ "id": "1", "params": {} }).to_string(),
            400,
            "missing_field",
        ),
        // A 10 KB desc makes the message exceed the 4096-byte limit: refused, nothing stored.
        (
            "progress",
            json!({ "id": "1", "params": { "step": "45", "desc": "d".repeat(10 * 1024) } })
                .to_string(),
            413,
            "payload_too_large",
        ),
    ] {
        let resp = post(kind, &body);
        assert_eq!(
            (resp.status, refusal_code(&resp)),
            (status, code.to_string()),
            "{kind} {}",
            &body[..body.len().min(120)]
        );
    }
    assert!(
        progress_events(server, pk, &dev.name).is_empty(),
        "a refused progress report was stored"
    );

    // A desc under the size limit but over 128 characters is stored cut, control characters blanked.
    let desc = format!("line\nbreak\x1b[2J{}", "升".repeat(300));
    let resp = dev.progress(server, MCU, json!("45"), Some(&desc));
    resp.expect_status(200);
    let stored = progress_events(server, pk, &dev.name);
    assert_eq!(stored.len(), 1, "{stored:?}");
    let shown = stored[0]
        .strip_prefix("MCU step 45: ")
        .unwrap_or_else(|| panic!("detail {:?}", stored[0]));
    assert_eq!(shown.chars().count(), 128, "{shown}");
    assert_eq!(shown, format!("line break [2J{}", "升".repeat(128 - 14)));
    // The id is echoed exactly, module absent means `default`.
    let resp = send(
        server,
        &dev.bytes(
            server,
            "inform",
            br#"{"id":"4294967295","params":{"version":"V2.0"}}"#,
        ),
    );
    resp.expect_status(200);
    assert_eq!(resp.json(), json!({ "id": "4294967295", "code": 200 }));
    assert!(
        history(server, pk, &dev.name)
            .iter()
            .any(|(k, d)| k == "report" && d.starts_with("default V2.0")),
        "{:?}",
        history(server, pk, &dev.name)
    );
    // Wrong methods.
    let wrong = device_bytes(server, "GET", &dev.path("inform"), b"", &dev.signed());
    assert_eq!(send(server, &wrong).status, 405);
}

// ---------------------------------------------------------------- the whole flow of one module

#[test]
fn one_module_is_noticed_verified_downloaded_reported_and_counted() {
    let server = shared_server();
    let (pk, fw) = ("ota-flow", "ota_flow_mcu");
    project(server, pk);
    let img = image(4101, 70_000);
    module_plan(server, pk, fw, MCU, TARGET, &img, json!({}));
    let dev = provision(server, pk, &["ota04-dev".to_string()]).remove(0);
    let mut acked = 0;

    // Before any report the device has nothing to do.
    assert_eq!(
        dev.notice_data(server),
        None,
        "no notice before the module is reported"
    );
    dev.report_ok(server, MCU, FROM);
    let data = dev
        .notice_data(server)
        .expect("a notice after reporting the old version");
    assert_eq!(data["module"], MCU);
    assert_eq!(data["version"], TARGET);
    assert_eq!(data["size"], img.len() as u64);
    assert_eq!(data["sha256"], sha256_hex(&img));
    assert_eq!(data["md5"], md5_hex(&img));
    assert_eq!(data["hash_type"], "sha256");
    assert_eq!(data["sign_method"], "Ed25519");
    assert!(
        data["key_id"].as_str().is_some_and(|k| !k.is_empty()),
        "{data}"
    );
    assert!(
        data["sign"]
            .as_str()
            .is_some_and(|s| s.len() == 128 && s.bytes().all(|c| c.is_ascii_hexdigit())),
        "{data}"
    );
    assert_eq!(data["downgrade"], false);
    let (active, keys) = signing_keys(server, pk);
    assert_eq!(data["key_id"].as_str(), Some(active.as_str()));
    verify_as_device(server, &dev, &data);

    // Every signed field matters; md5 and url are not signed.
    let public = &keys.iter().find(|(id, _)| *id == active).unwrap().1;
    let sig = data["sign"].as_str().unwrap();
    let base = subject_of(&dev, &data);
    let other_sha = sha256_hex(b"other");
    for (name, subject) in [
        (
            "version",
            NoticeSubject {
                version: "1.0.2",
                ..base
            },
        ),
        (
            "size",
            NoticeSubject {
                size: base.size + 1,
                ..base
            },
        ),
        (
            "sha256",
            NoticeSubject {
                sha256: &other_sha,
                ..base
            },
        ),
        (
            "module",
            NoticeSubject {
                module: WIFI,
                ..base
            },
        ),
        (
            "product",
            NoticeSubject {
                product_key: "ota-other",
                ..base
            },
        ),
        (
            "device (another device's notice)",
            NoticeSubject {
                device_name: "ota04-other",
                ..base
            },
        ),
        (
            "expiry (extended)",
            NoticeSubject {
                expires_ms: base.expires_ms + 3_600_000,
                ..base
            },
        ),
        (
            "downgrade",
            NoticeSubject {
                downgrade: true,
                ..base
            },
        ),
    ] {
        assert!(
            verify_notice(public, &subject, sig).is_err(),
            "a tampered {name} passes the signature"
        );
    }
    // The notice expires with its URL, within the hour; a device refuses it from then on.
    let url_expires: i64 = data["url"]
        .as_str()
        .unwrap()
        .split("expires=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(base.expires_ms, url_expires);
    assert!(
        (wall_ms() + 3_500_000..=wall_ms() + 3_600_000).contains(&base.expires_ms),
        "{data}"
    );
    assert_eq!(
        accept_notice(public, &base, sig, base.expires_ms - 1),
        Ok(())
    );
    assert_eq!(
        accept_notice(public, &base, sig, base.expires_ms),
        Err(NoticeError::Expired),
        "an expired notice is refused"
    );
    let mut flipped = sig.as_bytes().to_vec();
    flipped[0] = if flipped[0] == b'0' { b'1' } else { b'0' };
    assert!(verify_notice(public, &base, std::str::from_utf8(&flipped).unwrap()).is_err());

    // The download: exact bytes, a range, and a tampered byte failing both digests.
    let url = data["url"].as_str().unwrap().to_string();
    let got = download(server, &url, None);
    got.expect_image(200, &img);
    assert_eq!(
        (md5_hex(&got.body), sha256_hex(&got.body)),
        (md5_hex(&img), sha256_hex(&img))
    );
    let part = download(server, &url, Some("bytes=1000-"));
    part.expect_image(206, &img[1000..]);
    assert_eq!(
        part.header("Content-Range"),
        Some(format!("bytes 1000-{}/{}", img.len() - 1, img.len()).as_str())
    );
    let mut tampered = got.body.clone();
    tampered[img.len() / 2] ^= 0x01;
    assert_ne!(md5_hex(&tampered), data["md5"].as_str().unwrap());
    assert_ne!(sha256_hex(&tampered), data["sha256"].as_str().unwrap());

    // The URL: a changed signature or expiry, and a truly expired URL, are refused.
    let (path, query) = url.split_once('?').unwrap();
    let sig_at = query.find("sig=").unwrap() + 4;
    let mut bad = query.to_string();
    let c = if &bad[sig_at..sig_at + 1] == "0" {
        "1"
    } else {
        "0"
    };
    bad.replace_range(sig_at..sig_at + 1, c);
    expect_refused(
        &download(server, &format!("{path}?{bad}"), None),
        403,
        "url_bad_signature",
    );
    let expires: i64 = query
        .split('&')
        .find_map(|p| p.strip_prefix("expires="))
        .unwrap()
        .parse()
        .unwrap();
    let longer = query.replace(
        &format!("expires={expires}"),
        &format!("expires={}", expires + 1000),
    );
    expect_refused(
        &download(server, &format!("{path}?{longer}"), None),
        403,
        "url_bad_signature",
    );
    let url_key = derive_key(
        &parse_master_keys(MASTER_KEYS).unwrap()[0],
        "fota-download-url",
    );
    let image_path = path
        .strip_prefix(&format!("http://{}", server.host()))
        .unwrap();
    let expired = signed_url_query(&url_key, image_path, wall_ms() - 1000);
    expect_refused(
        &download(server, &format!("{path}?{expired}"), None),
        403,
        "url_expired",
    );
    let fresh = signed_url_query(&url_key, image_path, wall_ms() + 60_000);
    download(server, &format!("{path}?{fresh}"), None).expect_image(200, &img);
    expect_refused(&download(server, path, None), 403, "url_unsigned");

    // Progress: the first stored, the next within 3 s throttled, 100 always stored.
    dev.progress(server, MCU, json!("1"), Some("downloading"))
        .expect_status(200);
    acked += 1;
    let throttled = dev.progress(server, MCU, json!(2), None);
    throttled.expect_status(429);
    assert_eq!(throttled.json()["code"], 429);
    // The job is still offered while it runs.
    assert_eq!(
        dev.notice_data(server).map(|d| d["version"].clone()),
        Some(json!(TARGET))
    );
    std::thread::sleep(Duration::from_millis(3100));
    dev.progress(server, MCU, json!("50"), None)
        .expect_status(200);
    acked += 1;
    // A few steps in a row (the device's signed requests are limited to 30 a minute).
    for step in 51..=55 {
        if dev
            .progress(server, MCU, json!(step.to_string()), None)
            .status
            == 200
        {
            acked += 1;
        }
    }
    dev.progress(server, MCU, json!("100"), Some("flashed"))
        .expect_status(200);
    acked += 1;
    dev.progress(server, MCU, json!("100"), None)
        .expect_status(200);
    acked += 1;

    // The device reboots onto the target: success, counted once, nothing more offered.
    dev.report_ok(server, MCU, TARGET);
    let (eligible, offered, succeeded, failed) = totals(server, pk, fw);
    assert_eq!(
        (offered, succeeded, failed),
        (1, 1, 0),
        "eligible {eligible}"
    );
    assert_eq!(dev.notice_data(server), None);
    dev.report_ok(server, MCU, TARGET);
    assert_eq!(
        totals(server, pk, fw).2,
        1,
        "a second report counts no second success"
    );

    // Every acknowledged progress report is in the history, in order.
    let stored = progress_events(server, pk, &dev.name);
    assert_eq!(stored.len(), acked, "{stored:?}");
    assert_eq!(
        stored.first().map(String::as_str),
        Some("MCU step 1: downloading")
    );
    assert_eq!(
        stored
            .iter()
            .filter(|d| d.starts_with("MCU step 100"))
            .count(),
        2,
        "{stored:?}"
    );
}

#[test]
fn a_reported_failure_fails_the_job_and_the_target_is_not_offered_again() {
    let server = shared_server();
    let (pk, fw) = ("ota-fail", "ota_fail_mcu");
    project(server, pk);
    let img = image(4201, 20_000);
    module_plan(server, pk, fw, MCU, TARGET, &img, json!({}));
    let devs = provision(server, pk, &ids("ota05", 2));
    for (dev, step, cause) in [
        (&devs[0], "-4", "flashing failed"),
        (&devs[1], "-2", "download failed"),
    ] {
        dev.report_ok(server, MCU, FROM);
        assert!(dev.notice_data(server).is_some());
        dev.progress(server, MCU, json!(step), Some("boom"))
            .expect_status(200);
        assert_eq!(
            dev.notice_data(server),
            None,
            "{}: the failed target is offered again",
            dev.name
        );
        dev.report_ok(server, MCU, FROM);
        assert_eq!(
            dev.notice_data(server),
            None,
            "{}: offered again after a new report",
            dev.name
        );
        let record = server
            .admin("GET", &format!("/projects/{pk}/devices/{}", dev.name), b"")
            .expect_status(200)
            .json();
        assert_eq!(record["state"], "failed", "{record}");
        assert!(
            record["cause"].as_str().is_some_and(|c| c.contains(cause)),
            "{record}"
        );
        assert!(history(server, pk, &dev.name)
            .iter()
            .any(|(k, d)| k == "progress" && d == &format!("MCU step {step}: boom")));
    }
    let (_, offered, succeeded, failed) = totals(server, pk, fw);
    assert_eq!((offered, succeeded, failed), (2, 0, 2));
    assert!(jobs(server, pk, "in_progress").is_empty());
}

/// An operator's cancel of one JSON device: its open job is cancelled, the notice it already
/// fetched is refused on download (`403 job_cancelled`), it is noticed nothing more, and the
/// rest of the fleet is not touched; uncancel brings the notice back.
#[test]
fn a_cancelled_json_device_loses_its_job_and_its_fetched_notice_is_refused() {
    let server = shared_server();
    let (pk, fw) = ("ota-cancel", "ota_cancel_mcu");
    project(server, pk);
    let img = image(4250, 8_000);
    module_plan(server, pk, fw, MCU, TARGET, &img, json!({}));
    let devs = provision(server, pk, &ids("ota30", 2));
    let (dev, other) = (&devs[0], &devs[1]);
    dev.report_ok(server, MCU, FROM);
    let data = dev.notice_data(server).expect("a notice before the cancel");
    let url = data["url"].as_str().unwrap().to_string();
    let has_job = |name: &str| {
        jobs(server, pk, "in_progress")
            .iter()
            .any(|(id, _)| id == name)
    };
    assert!(has_job(&dev.name));

    let cancelled = server
        .admin(
            "POST",
            &format!("/projects/{pk}/devices/{}/cancel", dev.name),
            b"",
        )
        .expect_status(200)
        .json();
    assert_eq!(cancelled["firmware_names"], json!([fw]), "{cancelled}");
    let refused = download(server, &url, None);
    refused.expect_status(403);
    assert_eq!(refused.json()["error"]["code"], "job_cancelled");
    assert!(!has_job(&dev.name), "the job is cancelled");
    dev.report_ok(server, MCU, FROM);
    assert_eq!(dev.notice_data(server), None, "no notice while cancelled");
    other.report_ok(server, MCU, FROM);
    assert!(
        other.notice_data(server).is_some(),
        "the others are untouched"
    );
    assert!(history(server, pk, &dev.name)
        .iter()
        .any(|(k, d)| k == "cancelled" && d.contains(fw)));

    server
        .admin(
            "POST",
            &format!("/projects/{pk}/devices/{}/uncancel", dev.name),
            b"",
        )
        .expect_status(200);
    let again = dev
        .notice_data(server)
        .expect("a notice after the uncancel");
    download(server, again["url"].as_str().unwrap(), None).expect_image(200, &img);
}

// ---------------------------------------------------------------- several modules

#[test]
fn a_devices_second_module_waits_until_the_first_modules_job_ends() {
    let server = shared_server();
    let pk = "ota-multi";
    project(server, pk);
    let (mcu_img, wifi_img) = (image(4301, 30_000), image(4302, 25_000));
    module_plan(
        server,
        pk,
        "ota_multi_wifi",
        WIFI,
        "2.0.0",
        &wifi_img,
        json!({}),
    );
    module_plan(
        server,
        pk,
        "ota_multi_mcu",
        MCU,
        TARGET,
        &mcu_img,
        json!({}),
    );
    let dev = provision(server, pk, &["ota06-dev".to_string()]).remove(0);
    // The Wi-Fi module reports first, then the MCU: the order of reports does not decide.
    dev.report_ok(server, WIFI, "1.0.0");
    dev.report_ok(server, MCU, FROM);
    let first = dev.notice_data(server).expect("a job");
    assert_eq!(
        (first["module"].as_str(), first["version"].as_str()),
        (Some(MCU), Some(TARGET)),
        "MCU < WIFI by name"
    );
    // The same job while it runs, whatever the device reports meanwhile.
    for _ in 0..2 {
        assert_eq!(
            dev.notice_data(server).map(|d| d["module"].clone()),
            Some(json!(MCU))
        );
    }
    dev.report_ok(server, WIFI, "1.0.0");
    assert_eq!(
        dev.notice_data(server).map(|d| d["module"].clone()),
        Some(json!(MCU))
    );
    assert_eq!(jobs(server, pk, "in_progress").len(), 1);
    let acked = upgrade_module(server, &dev, &first, &mcu_img, &["10", "60", "100"]);
    let second = dev
        .notice_data(server)
        .expect("the Wi-Fi job after the MCU's success");
    assert_eq!(
        (second["module"].as_str(), second["version"].as_str()),
        (Some(WIFI), Some("2.0.0"))
    );
    let acked = acked + upgrade_module(server, &dev, &second, &wifi_img, &["10", "60", "100"]);
    assert_eq!(dev.notice_data(server), None);
    for fw in ["ota_multi_mcu", "ota_multi_wifi"] {
        let (_, offered, succeeded, failed) = totals(server, pk, fw);
        assert_eq!((offered, succeeded, failed), (1, 1, 0), "{fw}");
    }
    assert_eq!(progress_events(server, pk, &dev.name).len(), acked);
}

/// The shared doc's `Candidate` is "a plan found due for this device (device set, source
/// versions, rollout gate and ban already passed)": a module whose rollout stage leaves the
/// device out must not keep the device from another module's due job.
#[test]
fn a_module_outside_its_rollout_stage_does_not_block_another_modules_job() {
    let server = shared_server();
    let pk = "ota-gate";
    project(server, pk);
    // MCU goes first by name; its rollout offers nobody yet (the verification device is another).
    module_plan(
        server,
        pk,
        "ota_gate_mcu",
        MCU,
        TARGET,
        &image(4401, 10_000),
        json!({ "rollout": { "verify_devices": ["ota07-tester"], "stages": [100] } }),
    );
    let wifi_img = image(4402, 12_000);
    module_plan(
        server,
        pk,
        "ota_gate_wifi",
        WIFI,
        "2.0.0",
        &wifi_img,
        json!({}),
    );
    let dev = provision(server, pk, &["ota07-dev".to_string()]).remove(0);
    dev.report_ok(server, MCU, FROM);
    dev.report_ok(server, WIFI, "1.0.0");
    let data = dev.notice_data(server);
    assert_eq!(
        data.as_ref().map(|d| d["module"].clone()),
        Some(json!(WIFI)),
        "the MCU plan does not admit the device (verification only), yet it blocks the due Wi-Fi job"
    );
}

/// The plan's source-version and downgrade rules hold for module jobs as for Luat checks (the
/// shared doc's `Candidate` has "source versions ... already passed").
#[test]
fn a_module_job_respects_the_plans_from_versions_and_never_downgrades() {
    let server = shared_server();
    let (pk, pk2) = ("ota-rules", "ota-rules-dg");
    project(server, pk);
    project(server, pk2);
    module_plan(
        server,
        pk,
        "ota_rules_mcu",
        MCU,
        TARGET,
        &image(4451, 6_000),
        json!({ "from_versions": ["0.9.0"] }),
    );
    module_plan(
        server,
        pk2,
        "ota_rules_dg_mcu",
        MCU,
        TARGET,
        &image(4452, 6_000),
        json!({}),
    );
    let dev = provision(server, pk, &["ota13-from".to_string()]).remove(0);
    dev.report_ok(server, MCU, FROM);
    let offered = dev.notice_data(server).map(|d| d["version"].clone());
    // Downgrade check first, on its own device, so that both findings show in one run.
    let newer = provision(server, pk2, &["ota13-newer".to_string()]).remove(0);
    newer.report_ok(server, MCU, "2.0.0");
    let downgrade = newer.notice_data(server).map(|d| d["version"].clone());
    assert_eq!(
        (offered, downgrade),
        (None, None),
        "(a device on {FROM} under from_versions [0.9.0], a device on 2.0.0 without allow_downgrade) were offered {TARGET}"
    );
    let ok = provision(server, pk, &["ota13-old".to_string()]).remove(0);
    ok.report_ok(server, MCU, "0.9.0");
    let upgrade = ok.notice_data(server).expect("an upgrade");
    assert_eq!(
        (&upgrade["version"], &upgrade["downgrade"]),
        (&json!(TARGET), &json!(false))
    );
    verify_as_device(server, &ok, &upgrade);
    // A plan that allows downgrades: the notice says so, signed, and the device can tell.
    let pk3 = "ota-rules-dg-ok";
    project(server, pk3);
    module_plan(
        server,
        pk3,
        "ota_rules_dg_ok_mcu",
        MCU,
        TARGET,
        &image(4453, 6_000),
        json!({ "allow_downgrade": true }),
    );
    let back = provision(server, pk3, &["ota13-back".to_string()]).remove(0);
    back.report_ok(server, MCU, "2.0.0");
    let data = back
        .notice_data(server)
        .expect("a downgrade the plan allows");
    assert_eq!(
        (&data["version"], &data["downgrade"]),
        (&json!(TARGET), &json!(true))
    );
    verify_as_device(server, &back, &data);
}

// ---------------------------------------------------------------- the owner's confirmation

#[test]
fn held_jobs_reach_the_device_only_after_the_owners_confirmation() {
    let server = shared_server();
    let (pk, fw) = ("ota-confirm", "ota_confirm_mcu");
    project(server, pk);
    let img = image(4501, 15_000);
    module_plan(
        server,
        pk,
        fw,
        MCU,
        TARGET,
        &img,
        json!({ "needs_confirm": true }),
    );
    let devs = provision(server, pk, &ids("ota08", 4));
    for dev in &devs[..3] {
        dev.report_ok(server, MCU, FROM);
        assert_eq!(
            dev.notice_data(server),
            None,
            "{}: held, nothing reaches the device",
            dev.name
        );
    }
    let held: Vec<String> = jobs(server, pk, "awaiting_confirmation")
        .into_iter()
        .map(|(id, job)| {
            assert_eq!(
                (
                    job["phase"].as_str(),
                    job["module"].as_str(),
                    job["offered_at"].clone()
                ),
                (Some("awaiting_confirmation"), Some(MCU), Value::Null),
                "{job}"
            );
            id
        })
        .collect();
    assert_eq!(
        held,
        devs[..3].iter().map(|d| d.name.clone()).collect::<Vec<_>>()
    );
    assert!(jobs(server, pk, "in_progress").is_empty());
    let resp = server.admin("GET", &format!("/projects/{pk}/jobs?phase=bogus"), b"");
    resp.expect_status(400);
    assert_eq!(resp.json()["error"]["code"], "invalid_phase");
    // Held jobs are not offers: no timeout runs, nothing counted as offered.
    assert_eq!(totals(server, pk, fw).1, 0);

    // One device confirmed: its notice is served.
    let resp = server.admin(
        "POST",
        &format!("/projects/{pk}/devices/{}/confirm", devs[0].name),
        b"",
    );
    resp.expect_status(200);
    assert_eq!(
        resp.json(),
        json!({ "confirmed": [devs[0].name], "skipped": [] })
    );
    let data = devs[0]
        .notice_data(server)
        .expect("served after confirmation");
    verify_as_device(server, &devs[0], &data);
    let again = server.admin(
        "POST",
        &format!("/projects/{pk}/devices/{}/confirm", devs[0].name),
        b"",
    );
    again.expect_status(409);
    assert_eq!(again.json()["error"]["code"], "not_awaiting_confirmation");
    server
        .admin(
            "POST",
            &format!("/projects/{pk}/devices/{}/confirm", devs[3].name),
            b"",
        )
        .expect_status(404);

    // Many at once, with the reasons for those skipped.
    let body =
        json!({ "devices": [devs[1].name, devs[2].name, devs[0].name, devs[3].name] }).to_string();
    let resp = server.admin("POST", &format!("/projects/{pk}/confirm"), body.as_bytes());
    resp.expect_status(200);
    let result = resp.json();
    assert_eq!(result["confirmed"], json!([devs[1].name, devs[2].name]));
    let skipped: Vec<(&str, &str)> = result["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["id"].as_str().unwrap(), s["reason"].as_str().unwrap()))
        .collect();
    assert_eq!(skipped.len(), 2, "{result}");
    assert_eq!(skipped[0].0, devs[0].name);
    assert!(
        skipped[0].1.contains("not awaiting confirmation"),
        "{result}"
    );
    assert_eq!(skipped[1], (devs[3].name.as_str(), "no job"));
    server
        .admin(
            "POST",
            &format!("/projects/{pk}/confirm"),
            br#"{"devices":[]}"#,
        )
        .expect_status(400);
    for dev in &devs[..3] {
        assert!(dev.notice_data(server).is_some(), "{}", dev.name);
    }
    assert_eq!(jobs(server, pk, "in_progress").len(), 3);
    assert!(jobs(server, pk, "awaiting_confirmation").is_empty());
    assert_eq!(
        totals(server, pk, fw).1,
        3,
        "confirmed jobs count as offers"
    );
}

// ---------------------------------------------------------------- job timeout

#[test]
fn a_job_past_its_timeout_fails_with_its_own_cause() {
    let server = shared_server();
    let (pk, fw) = ("ota-timeout", "ota_timeout_mcu");
    project(server, pk);
    module_plan(
        server,
        pk,
        fw,
        MCU,
        TARGET,
        &image(4601, 9_000),
        json!({ "job_timeout_s": 1 }),
    );
    let devs = provision(server, pk, &ids("ota09", 2));
    for dev in &devs {
        dev.report_ok(server, MCU, FROM);
        assert!(dev.notice_data(server).is_some());
    }
    std::thread::sleep(Duration::from_millis(2200));
    // Device 1 asks again: its job fails at that request, and nothing is offered.
    assert_eq!(devs[0].notice_data(server), None);
    let cause = |id: &str| {
        server
            .admin("GET", &format!("/projects/{pk}/devices/{id}"), b"")
            .expect_status(200)
            .json()
    };
    let rec = cause(&devs[0].name);
    assert_eq!(rec["state"], "failed", "{rec}");
    assert!(
        rec["cause"]
            .as_str()
            .is_some_and(|c| c.contains("job_timeout_s")),
        "{rec}"
    );
    // Device 2 stays silent: the status read fails its job too.
    let (_, offered, succeeded, failed) = totals(server, pk, fw);
    assert_eq!((offered, succeeded, failed), (2, 0, 2));
    let rec = cause(&devs[1].name);
    assert_eq!(rec["state"], "failed", "{rec}");
    assert!(
        rec["cause"]
            .as_str()
            .is_some_and(|c| c.contains("job_timeout_s")),
        "{rec}"
    );
    let stale_jobs = jobs(server, pk, "in_progress");
    // Device 2's next request finds nothing, and the failure is not counted twice.
    assert_eq!(devs[1].notice_data(server), None);
    assert_eq!(totals(server, pk, fw).3, 2, "a timed-out job counted twice");
    // A late success report no longer changes the count.
    devs[1].report_ok(server, MCU, TARGET);
    assert_eq!(totals(server, pk, fw).2, 0);
    assert!(jobs(server, pk, "in_progress").is_empty());
    // The job list agrees with the rollout as soon as the status read failed the job.
    assert!(stale_jobs.is_empty(), "after the status read failed the job in the rollout, the job list still shows it in progress: {stale_jobs:?}");
}

// ---------------------------------------------------------------- push

type Socket = tungstenite::WebSocket<std::net::TcpStream>;

/// Opens the device's push channel with a signed upgrade request, as a device does.
fn connect(server: &Server, dev: &Device, signing: Signing) -> Result<Socket, u16> {
    use tungstenite::client::IntoClientRequest;
    let path = dev.path("channel");
    let mut req = format!("ws://{}{path}", server.host())
        .into_client_request()
        .unwrap();
    if let Signing::With {
        secret,
        timestamp_ms,
    } = &signing
    {
        let sig = sign(secret, "GET", &path, *timestamp_ms, b"");
        req.headers_mut()
            .insert(TIMESTAMP_HEADER, timestamp_ms.to_string().parse().unwrap());
        req.headers_mut()
            .insert(SIGNATURE_HEADER, sig.parse().unwrap());
    }
    let stream = std::net::TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    match tungstenite::client(req, stream) {
        Ok((socket, resp)) => {
            assert_eq!(resp.status().as_u16(), 101);
            Ok(socket)
        }
        Err(tungstenite::HandshakeError::Failure(tungstenite::Error::Http(resp))) => {
            Err(resp.status().as_u16())
        }
        Err(e) => panic!("websocket handshake: {e}"),
    }
}

/// The next text frame, skipping control frames.
fn next_text(socket: &mut Socket) -> String {
    loop {
        match socket.read().expect("a frame within 10 s") {
            tungstenite::Message::Text(text) => return text.to_string(),
            tungstenite::Message::Ping(_) | tungstenite::Message::Pong(_) => continue,
            other => panic!("unexpected frame {other:?}"),
        }
    }
}

#[test]
fn check_now_reaches_a_connected_device_over_its_signed_websocket() {
    let server = shared_server();
    let (pk, fw) = ("ota-push", "ota_push_mcu");
    project(server, pk);
    module_plan(server, pk, fw, MCU, TARGET, &image(4701, 8_000), json!({}));
    let devs = provision(server, pk, &ids("ota10", 3));
    let dev = &devs[0];

    // Unsigned, forged or replayed upgrade requests are refused before any socket opens.
    assert_eq!(connect(server, dev, Signing::Unsigned).err(), Some(401));
    assert_eq!(
        connect(
            server,
            dev,
            Signing::With {
                secret: "cd".repeat(32),
                timestamp_ms: wall_ms()
            }
        )
        .err(),
        Some(401)
    );
    let once = dev.signed();
    let mut socket =
        connect(server, dev, once.clone()).expect("a signed upgrade opens the channel");
    assert_eq!(
        connect(server, dev, once).err(),
        Some(401),
        "a replayed upgrade request"
    );

    socket.send(tungstenite::Message::text("ping")).unwrap();
    assert_eq!(next_text(&mut socket), "pong");

    let resp = server.admin(
        "POST",
        &format!("/projects/{pk}/devices/{}/check-now", dev.name),
        b"",
    );
    resp.expect_status(200);
    assert_eq!(resp.json(), json!({ "devices": 1, "reached": 1 }));
    let pushed: Value = serde_json::from_str(&next_text(&mut socket)).expect("the push is JSON");
    assert_eq!(pushed["fota"], "true", "{pushed}");
    let url = pushed["url"].as_str().expect("url");
    assert!(
        url.ends_with(&format!("/ota/device/upgrade/{pk}/{}", dev.name)),
        "{url}"
    );
    // The device runs the ordinary check the URL names.
    dev.report_ok(server, MCU, FROM);
    assert!(dev.notice_data(server).is_some());

    // A device without a socket: asked, not reached; an unknown device: 404.
    let resp = server.admin(
        "POST",
        &format!("/projects/{pk}/devices/{}/check-now", devs[1].name),
        b"",
    );
    assert_eq!(resp.json(), json!({ "devices": 1, "reached": 0 }));
    server
        .admin(
            "POST",
            &format!("/projects/{pk}/devices/ota10-nobody/check-now"),
            b"",
        )
        .expect_status(404);

    // The plan's check-now asks every provisioned device of its set and reaches the open sockets.
    let mut second = connect(server, &devs[2], devs[2].signed()).expect("second channel");
    let resp = server.admin("POST", &format!("/projects/{pk}/plans/{fw}/check-now"), b"");
    resp.expect_status(200);
    assert_eq!(resp.json(), json!({ "devices": 3, "reached": 2 }));
    assert_eq!(
        serde_json::from_str::<Value>(&next_text(&mut socket)).unwrap()["fota"],
        "true"
    );
    let pushed: Value = serde_json::from_str(&next_text(&mut second)).unwrap();
    assert!(pushed["url"]
        .as_str()
        .unwrap()
        .ends_with(&format!("/ota/device/upgrade/{pk}/{}", devs[2].name)));
    server
        .admin(
            "POST",
            &format!("/projects/{pk}/plans/nothing/check-now"),
            b"",
        )
        .expect_status(404);
    let _ = socket.close(None);
    let _ = second.close(None);
}

// ---------------------------------------------------------------- signing key rotation

#[test]
fn a_rotated_signing_key_signs_new_notices_and_the_old_one_stays_trusted_for_the_overlap() {
    let server = shared_server();
    let (pk, fw) = ("ota-rotate", "ota_rotate_mcu");
    project(server, pk);
    module_plan(server, pk, fw, MCU, TARGET, &image(4801, 8_000), json!({}));
    let dev = provision(server, pk, &["ota11-dev".to_string()]).remove(0);
    dev.report_ok(server, MCU, FROM);
    let before = dev.notice_data(server).expect("notice");
    let (old_active, old_keys) = signing_keys(server, pk);
    assert_eq!(old_keys.len(), 1);
    assert_eq!(before["key_id"].as_str(), Some(old_active.as_str()));
    verify_as_device(server, &dev, &before);

    for (body, code) in [
        (r#"{"overlap_s":-1}"#, "invalid_json"),
        (r#"{"overlap":2}"#, "invalid_json"),
        (r#"{"overlap_s":31536001}"#, "invalid_overlap"),
    ] {
        let resp = server.admin(
            "POST",
            &format!("/projects/{pk}/signing-keys/rotate"),
            body.as_bytes(),
        );
        resp.expect_status(400);
        assert_eq!(resp.json()["error"]["code"], code, "{body}");
    }
    assert_eq!(
        signing_keys(server, pk).1.len(),
        1,
        "a refused rotation changed the keys"
    );

    let resp = server.admin(
        "POST",
        &format!("/projects/{pk}/signing-keys/rotate"),
        br#"{"overlap_s":2}"#,
    );
    resp.expect_status(200);
    let rotated = resp.json();
    let rotated_at = Instant::now();
    let (active, keys) = signing_keys(server, pk);
    assert_eq!(rotated["active"].as_str(), Some(active.as_str()));
    assert_ne!(active, old_active);
    assert_eq!(
        keys.iter().map(|(id, _)| id.clone()).collect::<Vec<_>>(),
        vec![old_active.clone(), active.clone()],
        "oldest first"
    );
    assert!(
        rotated["keys"][0]["retire_after"]
            .as_str()
            .and_then(fota_shared::leaf::time::parse_rfc3339)
            .is_some(),
        "{rotated}"
    );
    let new_public = &keys[1].1;
    let old_public = &keys[0].1;

    // New notices are signed with the new key; the old notice still verifies with the old key.
    let after = dev.notice_data(server).expect("notice");
    assert_eq!(after["key_id"].as_str(), Some(active.as_str()));
    verify_as_device(server, &dev, &after);
    assert!(verify_notice(
        old_public,
        &subject_of(&dev, &after),
        after["sign"].as_str().unwrap()
    )
    .is_err());
    assert_eq!(
        verify_notice(
            old_public,
            &subject_of(&dev, &before),
            before["sign"].as_str().unwrap()
        ),
        Ok(())
    );
    assert!(verify_notice(
        new_public,
        &subject_of(&dev, &before),
        before["sign"].as_str().unwrap()
    )
    .is_err());

    // After the overlap only the new key is listed.
    let wait = Duration::from_millis(2300).saturating_sub(rotated_at.elapsed());
    std::thread::sleep(wait);
    let (active_later, keys_later) = signing_keys(server, pk);
    assert_eq!(active_later, active);
    assert_eq!(
        keys_later
            .iter()
            .map(|(id, _)| id.as_str())
            .collect::<Vec<_>>(),
        vec![active.as_str()]
    );
    assert_eq!(
        dev.notice_data(server).expect("notice")["key_id"].as_str(),
        Some(active.as_str())
    );
    // The rotation is audited with the public keys only.
    let page = server
        .admin("GET", &format!("/audit?project={pk}&limit=50"), b"")
        .expect_status(200)
        .json();
    assert!(
        page["entries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "POST projects/{key}/signing-keys/rotate"),
        "{page}"
    );
}

// ---------------------------------------------------------------- a fleet

/// What one fleet device did: modules upgraded, and progress reports acknowledged with 2xx.
#[derive(Debug, Default, Clone)]
struct FleetLog {
    upgraded: BTreeSet<String>,
    acked: usize,
}

/// The public keys a fleet device pinned (fetched once, as devices are built with them).
type PinnedKeys = BTreeMap<String, String>;

/// One device's turn: ask for notices until there is nothing to do, upgrading each offered
/// module after checking the notice with the pinned key. Every offer must be one of the two
/// plans, never a module already upgraded.
fn fleet_turn(
    server: &Server,
    dev: &Device,
    keys: &PinnedKeys,
    images: &BTreeMap<&str, Vec<u8>>,
    log: &mut FleetLog,
) {
    // Every tenth device downloads and checks its images (the others trust the digests checked there).
    let download = dev.name.ends_with('0');
    for _ in 0..3 {
        let Some(data) = dev.notice_data(server) else {
            return;
        };
        let module = data["module"].as_str().unwrap().to_string();
        assert!(
            !log.upgraded.contains(&module),
            "{} offered {module} again",
            dev.name
        );
        let public = keys
            .get(data["key_id"].as_str().unwrap())
            .unwrap_or_else(|| panic!("unknown key in {data}"));
        assert_eq!(
            accept_notice(
                public,
                &subject_of(dev, &data),
                data["sign"].as_str().unwrap(),
                wall_ms()
            ),
            Ok(()),
            "{data}"
        );
        log.acked += upgrade_verified(
            server,
            dev,
            &data,
            &images[module.as_str()],
            &["10", "100"],
            download,
        );
        log.upgraded.insert(module);
    }
    panic!("{} was offered more than two jobs", dev.name);
}

#[test]
fn a_fleet_of_200_two_module_devices_completes_a_staged_rollout() {
    let server = shared_server();
    let pk = "ota-fleet";
    let plans = [
        (MCU, "ota_fleet_mcu", "1.2.0"),
        (WIFI, "ota_fleet_wifi", "3.1.0"),
    ];
    project(server, pk);
    let mut images = BTreeMap::new();
    for (i, (module, fw, target)) in plans.iter().enumerate() {
        let img = image(4900 + i as u32, 4_096 + i * 100);
        module_plan(
            server,
            pk,
            fw,
            module,
            target,
            &img,
            json!({ "rollout": { "stages": [50, 100], "min_sample": 1000 } }),
        );
        images.insert(*module, img);
    }
    let names = ids("ota12", 200);
    let devices = provision(server, pk, &names);
    let keys: PinnedKeys = signing_keys(server, pk).1.into_iter().collect();
    let started = Instant::now();
    const THREADS: usize = 8;

    // Runs `work` for every device, THREADS at a time, and gathers the logs.
    let run = |logs: &mut Vec<FleetLog>, work: &(dyn Fn(&Device, &mut FleetLog) + Sync)| {
        std::thread::scope(|scope| {
            let chunks: Vec<_> = devices
                .chunks(devices.len().div_ceil(THREADS))
                .zip(logs.chunks_mut(devices.len().div_ceil(THREADS)))
                .collect();
            for (devs, logs) in chunks {
                scope.spawn(move || {
                    for (dev, log) in devs.iter().zip(logs.iter_mut()) {
                        work(dev, log);
                    }
                });
            }
        });
    };
    let mut logs = vec![FleetLog::default(); devices.len()];
    // Stage one: every device boots, reports both modules, and takes what it is offered.
    run(&mut logs, &|dev, log| {
        dev.report_ok(server, MCU, "1.0.0");
        dev.report_ok(server, WIFI, "3.0.0");
        fleet_turn(server, dev, &keys, &images, log);
    });
    let after_first: usize = logs.iter().map(|l| l.upgraded.len()).sum();
    assert!(
        after_first > 0 && after_first < 400,
        "stage 50% upgraded {after_first} of 400 modules"
    );
    for (_, fw, _) in &plans {
        let s = status(server, pk, fw);
        assert_eq!(s["percent"], 50, "{fw}: {s}");
        server
            .admin("POST", &format!("/projects/{pk}/plans/{fw}/advance"), b"")
            .expect_status(200);
    }
    // Stage two: every device checks again on its timer.
    run(&mut logs, &|dev, log| {
        fleet_turn(server, dev, &keys, &images, log)
    });
    for (dev, log) in devices.iter().zip(&logs) {
        assert_eq!(
            log.upgraded.len(),
            2,
            "{} upgraded only {:?}",
            dev.name,
            log.upgraded
        );
    }
    for (_, fw, _) in &plans {
        let s = status(server, pk, fw);
        let t = &s["totals"];
        assert_eq!(t["succeeded"], t["eligible"], "{fw}: {s}");
        assert_eq!(
            (
                t["succeeded"].as_u64(),
                t["failed"].as_u64(),
                t["pending"].as_u64()
            ),
            (Some(200), Some(0), Some(0)),
            "{fw}: {s}"
        );
    }
    assert!(jobs(server, pk, "in_progress").is_empty());
    // Every acknowledged progress report is in the devices' histories.
    let acked: usize = logs.iter().map(|l| l.acked).sum();
    let stored: usize = std::thread::scope(|scope| {
        let handles: Vec<_> = devices
            .chunks(25)
            .map(|devs| {
                scope.spawn(move || {
                    devs.iter()
                        .map(|d| progress_events(server, pk, &d.name).len())
                        .sum::<usize>()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert_eq!(
        stored, acked,
        "acknowledged progress reports vs history entries"
    );
    // Per device: the first module's 10, and 100 of both (the second module's 10 may come
    // within 3 s of the first module's 100: the progress limit is per device).
    assert!(acked >= 600, "at least 10 once and 100 per module: {acked}");
    eprintln!(
        "fleet: 200 devices, 400 module upgrades, {acked} progress reports in {:?}",
        started.elapsed()
    );
}
