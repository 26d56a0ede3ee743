//! Tokens, roles and the audit log: each role may do exactly what the route table says, a secret
//! is shown once and never stored or logged, a revoked token is refused, every successful write
//! is in the append-only audit log under its actor, and the OpenAPI document is served.

use crate::{contains, device_request, imei, luatos_get};
use fota_tests::{image, repo_root, sha256_hex, shared_server, RawResponse, Server, TOKEN};
use serde_json::{json, Value};

const FW: &str = "acc_LuatOS-SoC_Air780E";

/// One call of a role table: who, method, path, body, and the status and error code expected.
type Case<'a> = (
    Option<&'a str>,
    &'a str,
    String,
    &'a [u8],
    (u16, Option<&'a str>),
);

/// One admin call as `token` (`None`: no `Authorization` header).
fn call(
    server: &Server,
    token: Option<&str>,
    method: &str,
    path: &str,
    body: &[u8],
) -> RawResponse {
    server.admin_as(token, method, path, body, &[])
}

/// One admin call and the status and error code it must get (`None` for a success).
#[track_caller]
fn check(
    server: &Server,
    token: Option<&str>,
    (method, path, body): (&str, &str, &[u8]),
    status: u16,
    code: Option<&str>,
) -> RawResponse {
    let resp = call(server, token, method, path, body);
    // Secrets stay out of failure messages too.
    let who = match token {
        Some(TOKEN) => "bootstrap",
        Some(_) => "a created token",
        None => "nobody",
    };
    assert_eq!(
        resp.status,
        status,
        "{method} {path} as {who}: body {}",
        String::from_utf8_lossy(&resp.body)
    );
    if let Some(code) = code {
        assert_eq!(
            resp.json()["error"]["code"],
            code,
            "{method} {path} as {who}: body {}",
            String::from_utf8_lossy(&resp.body)
        );
    }
    resp
}

/// Creates a token with the bootstrap admin and returns its secret.
#[track_caller]
fn create_token(server: &Server, name: &str, role: &str) -> String {
    let body = json!({ "name": name, "role": role }).to_string();
    let resp = check(
        server,
        Some(TOKEN),
        ("POST", "/tokens", body.as_bytes()),
        201,
        None,
    );
    resp.json()["token"]
        .as_str()
        .expect("the secret")
        .to_string()
}

/// Percent-encodes a query value.
fn enc(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// One page of the audit log as the bootstrap admin sees it.
#[track_caller]
fn audit(server: &Server, query: &str) -> Value {
    check(
        server,
        Some(TOKEN),
        ("GET", &format!("/audit?{query}"), b""),
        200,
        None,
    )
    .json()
}

/// The whole audit log, page by page, as raw bodies.
fn whole_audit_log(server: &Server) -> Vec<Vec<u8>> {
    let mut bodies = Vec::new();
    let mut query = "limit=500".to_string();
    loop {
        let resp = check(
            server,
            Some(TOKEN),
            ("GET", &format!("/audit?{query}"), b""),
            200,
            None,
        );
        let next = resp.json()["next_cursor"].as_str().map(str::to_string);
        bodies.push(resp.body);
        match next {
            Some(c) => query = format!("limit=500&cursor={c}"),
            None => return bodies,
        }
    }
}

/// Asserts that a secret (or its sha256) appears nowhere: not in the token list, not in the
/// audit log, not in the server's log.
#[track_caller]
fn assert_secret_kept(server: &Server, secret: &str) {
    let hash = sha256_hex(secret.as_bytes());
    let tokens = check(server, Some(TOKEN), ("GET", "/tokens", b""), 200, None);
    for needle in [secret, hash.as_str()] {
        assert!(
            !contains(&tokens.body, needle.as_bytes()),
            "the token list shows a secret or hash"
        );
        for body in whole_audit_log(server) {
            assert!(
                !contains(&body, needle.as_bytes()),
                "the audit log holds a secret or hash"
            );
        }
        let log = std::fs::read(server.state.join("wrangler.log")).unwrap_or_default();
        assert!(
            !contains(&log, needle.as_bytes()),
            "the server log holds a secret or hash"
        );
    }
}

fn device_check(server: &Server, project: &str, id: &str) {
    device_request(server, &luatos_get(server, &format!("/api/site/firmware_upgrade?imei={id}&project_key={project}&firmware_name={FW}&version=1.0.0")));
}

#[test]
fn each_role_may_do_what_the_route_table_says() {
    let server = shared_server();
    let k = "acc-roles";
    server.setup(
        k,
        None,
        FW,
        "1.0.1",
        &image(6010, 4000),
        json!({ "rollout": { "stages": [50, 100] } }),
    );
    let d = imei(601, 1);
    device_check(server, k, &d);
    let viewer = create_token(server, "acc-roles-viewer", "viewer");
    let operator = create_token(server, "acc-roles-operator", "operator");
    let admin = create_token(server, "acc-roles-admin", "admin");
    let (v, o, a) = (
        Some(viewer.as_str()),
        Some(operator.as_str()),
        Some(admin.as_str()),
    );

    let project = format!("/projects/{k}");
    let plan = format!("/projects/{k}/plans/{FW}");
    let device = format!("/projects/{k}/devices/{d}");
    let rename: &[u8] = br#"{"name":"renamed"}"#;
    let new_plan: &[u8] = br#"{"target_version":"1.0.1","rollout":{"stages":[50,100]}}"#;
    let new_token = |name: &str| {
        json!({ "name": name, "role": "viewer" })
            .to_string()
            .into_bytes()
    };
    let (from_operator, from_admin) = (
        new_token("acc-roles-by-operator"),
        new_token("acc-roles-by-admin"),
    );
    let upload = image(6011, 3000);
    let forbidden = (403, Some("forbidden"));
    #[rustfmt::skip]
    let cases: Vec<Case> = vec![
        // A viewer reads everything but the tokens, and writes nothing.
        (v, "GET", "/projects".into(), b"", (200, None)),
        (v, "GET", project.clone(), b"", (200, None)),
        (v, "GET", format!("{plan}/status"), b"", (200, None)),
        (v, "GET", device.clone(), b"", (200, None)),
        (v, "GET", format!("{device}/history"), b"", (200, None)),
        (v, "GET", format!("/audit?project={k}"), b"", (200, None)),
        (v, "GET", "/openapi.json".into(), b"", (200, None)),
        (v, "PUT", project.clone(), rename, forbidden),
        (v, "POST", format!("{device}/unban"), b"", forbidden),
        (v, "POST", format!("{plan}/pause"), b"", forbidden),
        (v, "PUT", format!("/projects/{k}/firmware/{FW}/1.0.2"), &upload, forbidden),
        (v, "GET", "/tokens".into(), b"", forbidden),
        (v, "POST", "/tokens".into(), &from_operator, forbidden),
        // An operator controls rollouts and lifts bans, and changes no configuration.
        (o, "POST", format!("{plan}/pause"), b"", (200, None)),
        (o, "POST", format!("{plan}/resume"), b"", (200, None)),
        (o, "POST", format!("{device}/unban"), b"", (200, None)),
        (o, "PUT", project.clone(), rename, forbidden),
        (o, "PUT", format!("/projects/{k}/firmware/{FW}/1.0.2"), &upload, forbidden),
        (o, "DELETE", format!("/projects/{k}/firmware/{FW}/1.0.1"), b"", forbidden),
        (o, "PUT", plan.clone(), new_plan, forbidden),
        (o, "DELETE", plan.clone(), b"", forbidden),
        (o, "GET", "/tokens".into(), b"", forbidden),
        (o, "POST", "/tokens".into(), &from_operator, forbidden),
        (o, "DELETE", "/tokens/acc-roles-viewer".into(), b"", forbidden),
        // An admin token does everything.
        (a, "PUT", project.clone(), rename, (200, None)),
        (a, "PUT", format!("/projects/{k}/firmware/{FW}/1.0.2"), &upload, (201, None)),
        (a, "PUT", plan.clone(), new_plan, (200, None)),
        (a, "POST", format!("{plan}/pause"), b"", (200, None)),
        (a, "POST", format!("{device}/unban"), b"", (200, None)),
        (a, "GET", "/tokens".into(), b"", (200, None)),
        (a, "POST", "/tokens".into(), &from_admin, (201, None)),
    ];
    for (token, method, path, body, (status, code)) in cases {
        check(server, token, (method, &path, body), status, code);
    }
    // The operator's pause and resume took effect; the admin's pause is the last word.
    let status = check(
        server,
        v,
        ("GET", &format!("{plan}/status"), b""),
        200,
        None,
    )
    .json();
    assert_eq!(status["state"], "paused", "{status}");
    // Nothing a refused call tried is in the audit log: only the operator's and admin's writes.
    let entries = audit(server, &format!("project={k}&limit=500"))["entries"].clone();
    let by_role = |actor: &str| {
        entries
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["actor"] == actor)
            .count()
    };
    assert_eq!(
        (
            by_role("acc-roles-viewer"),
            by_role("acc-roles-operator"),
            by_role("acc-roles-admin")
        ),
        (0, 3, 5),
        "{entries}"
    );
    for secret in [&viewer, &operator, &admin] {
        assert_secret_kept(server, secret);
    }
}

#[test]
fn a_secret_is_shown_once_and_only_its_hash_is_kept() {
    let server = shared_server();
    let resp = check(
        server,
        Some(TOKEN),
        (
            "POST",
            "/tokens",
            br#"{"name":"acc-once","role":"operator"}"#,
        ),
        201,
        None,
    );
    assert_eq!(
        resp.header("Cache-Control"),
        Some("no-store"),
        "{:?}",
        resp.headers
    );
    let created = resp.json();
    let secret = created["token"].as_str().expect("token").to_string();
    assert!(
        secret.len() == 5 + 64 && secret.starts_with("fota_"),
        "{secret}"
    );
    assert!(
        secret[5..]
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
        "{secret}"
    );
    assert_eq!(
        (created["name"].as_str(), created["role"].as_str()),
        (Some("acc-once"), Some("operator"))
    );
    assert!(
        created["created_at"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z')),
        "{created}"
    );
    // Two tokens never share a secret.
    let other = create_token(server, "acc-once-other", "viewer");
    assert_ne!(secret, other);
    // The secret works.
    check(server, Some(&secret), ("GET", "/projects", b""), 200, None);

    let list = check(server, Some(TOKEN), ("GET", "/tokens", b""), 200, None).json();
    let tokens = list["tokens"].as_array().expect("tokens");
    let mine = tokens
        .iter()
        .find(|t| t["name"] == "acc-once")
        .expect("acc-once is listed");
    assert_eq!(mine["role"], "operator");
    assert_eq!(mine["created_by"], "bootstrap");
    assert_eq!(mine["created_at"], created["created_at"]);
    assert!(mine.get("revoked_at").is_none(), "{mine}");
    for t in tokens {
        let keys: Vec<&str> = t
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect();
        assert!(
            keys.iter()
                .all(|k| ["name", "role", "created_at", "created_by", "revoked_at"].contains(k)),
            "{t}"
        );
    }
    // The creation is audited with the token's description, and nothing of the secret.
    let page = audit(server, &format!("action={}&limit=500", enc("POST tokens")));
    let entry = page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["target"] == "token acc-once")
        .expect("audited")
        .clone();
    assert_eq!(entry["actor"], "bootstrap");
    assert!(
        entry.get("before").is_none() && entry.get("project_key").is_none(),
        "{entry}"
    );
    assert_eq!(entry["after"]["name"], "acc-once");
    assert_eq!(entry["after"]["role"], "operator");
    assert_secret_kept(server, &secret);
}

#[test]
fn a_revoked_token_is_refused_and_its_name_stays_taken() {
    let server = shared_server();
    let secret = create_token(server, "acc-revoke", "admin");
    check(server, Some(&secret), ("GET", "/tokens", b""), 200, None);
    check(
        server,
        Some(TOKEN),
        ("DELETE", "/tokens/acc-revoke", b""),
        204,
        None,
    );
    for (method, path) in [
        ("GET", "/projects"),
        ("GET", "/tokens"),
        ("POST", "/tokens"),
    ] {
        check(
            server,
            Some(&secret),
            (method, path, br#"{"name":"acc-revoke-2","role":"admin"}"#),
            401,
            Some("unauthorized"),
        );
    }
    let list = check(server, Some(TOKEN), ("GET", "/tokens", b""), 200, None).json();
    let row = list["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "acc-revoke")
        .expect("kept")
        .clone();
    assert!(
        row["revoked_at"].as_str().is_some_and(|t| t.ends_with('Z')),
        "{row}"
    );
    // Revoking again changes nothing; an unknown name is 404; the name cannot be reused.
    check(
        server,
        Some(TOKEN),
        ("DELETE", "/tokens/acc-revoke", b""),
        204,
        None,
    );
    check(
        server,
        Some(&secret),
        ("GET", "/projects", b""),
        401,
        Some("unauthorized"),
    );
    check(
        server,
        Some(TOKEN),
        ("DELETE", "/tokens/acc-nobody", b""),
        404,
        Some("not_found"),
    );
    check(
        server,
        Some(TOKEN),
        (
            "POST",
            "/tokens",
            br#"{"name":"acc-revoke","role":"viewer"}"#,
        ),
        409,
        Some("token_exists"),
    );
    // A token may revoke itself (and is refused from then on); the bootstrap name is no row.
    let own = create_token(server, "acc-revoke-self", "admin");
    check(
        server,
        Some(&own),
        ("DELETE", "/tokens/acc-revoke-self", b""),
        204,
        None,
    );
    check(
        server,
        Some(&own),
        ("GET", "/projects", b""),
        401,
        Some("unauthorized"),
    );
    check(
        server,
        Some(TOKEN),
        ("DELETE", "/tokens/bootstrap", b""),
        404,
        Some("not_found"),
    );
    // The revocation is audited, before and after.
    let page = audit(
        server,
        &format!(
            "action={}&actor=bootstrap&limit=500",
            enc("DELETE tokens/{name}")
        ),
    );
    let entry = page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|e| e["target"] == "token acc-revoke")
        .expect("audited")
        .clone();
    assert!(
        entry["before"].get("revoked_at").is_none() && entry["after"]["revoked_at"].is_string(),
        "{entry}"
    );
}

#[test]
fn token_names_are_unique_and_plain() {
    let server = shared_server();
    create_token(server, "acc-dup", "viewer");
    check(
        server,
        Some(TOKEN),
        ("POST", "/tokens", br#"{"name":"acc-dup","role":"viewer"}"#),
        409,
        Some("token_exists"),
    );
    check(
        server,
        Some(TOKEN),
        ("POST", "/tokens", br#"{"name":"acc-dup","role":"admin"}"#),
        409,
        Some("token_exists"),
    );
    let longest = format!("acc-{}", "x".repeat(60));
    create_token(server, &longest, "viewer");
    create_token(server, "acc.Name_2-ok", "operator");
    let too_long = format!("acc-{}", "x".repeat(61));
    #[rustfmt::skip]
    let cases: [(Value, &str); 11] = [
        (json!({ "name": "", "role": "viewer" }), "invalid_token_name"),
        (json!({ "name": "bootstrap", "role": "admin" }), "invalid_token_name"),
        (json!({ "name": "BootStrap", "role": "admin" }), "invalid_token_name"),
        (json!({ "name": "acc space", "role": "viewer" }), "invalid_token_name"),
        (json!({ "name": "acc/slash", "role": "viewer" }), "invalid_token_name"),
        (json!({ "name": "acc-é", "role": "viewer" }), "invalid_token_name"),
        (json!({ "name": too_long, "role": "viewer" }), "invalid_token_name"),
        (json!({ "name": "acc-role", "role": "root" }), "invalid_json"),
        (json!({ "name": "acc-role" }), "invalid_json"),
        (json!({ "name": "acc-extra", "role": "viewer", "token": "fota_chosen" }), "invalid_json"),
        (json!({ "name": "acc-extra", "role": "viewer", "hash": "00" }), "invalid_json"),
    ];
    for (body, code) in cases {
        check(
            server,
            Some(TOKEN),
            ("POST", "/tokens", body.to_string().as_bytes()),
            400,
            Some(code),
        );
    }
    let list = check(server, Some(TOKEN), ("GET", "/tokens", b""), 200, None).json();
    let names: Vec<&str> = list["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert!(
        !names
            .iter()
            .any(|n| ["acc-extra", "acc-role"].contains(n) || n.eq_ignore_ascii_case("bootstrap")),
        "{names:?}"
    );
    assert_eq!(names.iter().filter(|n| **n == "acc-dup").count(), 1);
}

#[test]
fn the_audit_log_records_every_successful_write_with_its_actor() {
    let server = shared_server();
    let k = "acc-audit";
    server.setup(
        k,
        None,
        FW,
        "1.0.1",
        &image(6050, 4000),
        json!({ "rollout": { "stages": [50, 100] } }),
    );
    let d = imei(605, 1);
    device_check(server, k, &d);
    let admin = create_token(server, "acc-audit-admin", "admin");
    let operator = create_token(server, "acc-audit-op", "operator");
    let viewer = create_token(server, "acc-audit-viewer", "viewer");
    let (a, o, v) = (
        Some(admin.as_str()),
        Some(operator.as_str()),
        Some(viewer.as_str()),
    );
    let plan = format!("/projects/{k}/plans/{FW}");
    check(
        server,
        a,
        (
            "PUT",
            &format!("/projects/{k}"),
            br#"{"name":"renamed","ban_after":4}"#,
        ),
        200,
        None,
    );
    check(
        server,
        o,
        ("POST", &format!("/projects/{k}/devices/{d}/unban"), b""),
        200,
        None,
    );
    check(
        server,
        o,
        ("POST", &format!("{plan}/pause"), b""),
        200,
        None,
    );
    // Refused writes and reads leave no trace.
    check(
        server,
        v,
        (
            "PUT",
            &format!("/projects/{k}"),
            br#"{"name":"viewer was here"}"#,
        ),
        403,
        Some("forbidden"),
    );
    check(
        server,
        a,
        ("PUT", &plan, br#"{"target_version":"9.9.9"}"#),
        409,
        Some("firmware_missing"),
    );
    check(
        server,
        a,
        ("PUT", &plan, br#"{"target_version":"#),
        400,
        Some("invalid_json"),
    );
    check(
        server,
        o,
        ("POST", &format!("{plan}/resume"), b""),
        200,
        None,
    );
    check(
        server,
        o,
        ("POST", &format!("{plan}/resume"), b""),
        409,
        Some("invalid_transition"),
    );
    check(server, a, ("GET", &plan, b""), 200, None);

    let page = audit(server, &format!("project={k}"));
    let entries = page["entries"].as_array().expect("entries");
    assert!(page.get("next_cursor").is_none(), "{page}");
    let got: Vec<(&str, &str, &str)> = entries
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap(),
                e["actor"].as_str().unwrap(),
                e["target"].as_str().unwrap(),
            )
        })
        .collect();
    let device_target = format!("device {d}");
    #[rustfmt::skip]
    let want: Vec<(&str, &str, &str)> = vec![
        ("POST projects/{key}/plans/{firmware_name}/resume", "acc-audit-op", "rollout acc_LuatOS-SoC_Air780E resume"),
        ("POST projects/{key}/plans/{firmware_name}/pause", "acc-audit-op", "rollout acc_LuatOS-SoC_Air780E pause"),
        ("POST projects/{key}/devices/{device_id}/unban", "acc-audit-op", &device_target),
        ("PUT projects/{key}", "acc-audit-admin", "project acc-audit"),
        ("PUT projects/{key}/plans/{firmware_name}", "bootstrap", "plan acc_LuatOS-SoC_Air780E"),
        ("PUT projects/{key}/firmware/{firmware_name}/{version}", "bootstrap", "firmware acc_LuatOS-SoC_Air780E 1.0.1"),
        ("PUT projects/{key}", "bootstrap", "project acc-audit"),
    ];
    assert_eq!(got, want, "{page}");
    let ids: Vec<u64> = entries
        .iter()
        .map(|e| e["id"].as_u64().expect("id"))
        .collect();
    assert!(
        ids.windows(2).all(|w| w[0] > w[1]),
        "not newest first: {ids:?}"
    );
    assert!(
        entries
            .iter()
            .all(|e| e["project_key"] == k && e["at"].as_str().is_some_and(|t| t.ends_with('Z'))),
        "{page}"
    );
    // A creation has only an after, a rename both, with the JSON the API showed.
    let (rename, created) = (&entries[3], &entries[6]);
    assert!(
        created.get("before").is_none() && created["after"]["name"] == format!("project {k}"),
        "{created}"
    );
    assert_eq!(
        (&rename["before"]["name"], &rename["after"]["name"]),
        (&json!(format!("project {k}")), &json!("renamed")),
        "{rename}"
    );
    assert_eq!(rename["after"]["ban_after"], 4);
    assert_eq!(
        (
            &entries[1]["before"]["state"],
            &entries[1]["after"]["state"]
        ),
        (&json!("running"), &json!("paused"))
    );

    // Filters combine.
    #[rustfmt::skip]
    let filters: [(String, usize); 7] = [
        (format!("project={k}&actor=acc-audit-op"), 3),
        (format!("project={k}&actor=bootstrap"), 3),
        (format!("project={k}&action={}", enc("PUT projects/{key}")), 2),
        (format!("project={k}&action={}&actor=acc-audit-admin", enc("PUT projects/{key}")), 1),
        (format!("project={k}&since={}", enc("2000-01-01T00:00:00Z")), 7),
        (format!("project={k}&since={}", enc("2999-01-01T00:00:00+01:00")), 0),
        (format!("project={k}&actor=acc-audit-viewer"), 0),
    ];
    for (query, count) in filters {
        let page = audit(server, &query);
        assert_eq!(
            page["entries"].as_array().map(Vec::len),
            Some(count),
            "{query}: {page}"
        );
    }
    // Bad parameters are refused with their code.
    #[rustfmt::skip]
    let bad: [(&str, &str); 9] = [
        ("limit=0", "invalid_limit"),
        ("limit=501", "invalid_limit"),
        ("limit=ten", "invalid_limit"),
        ("cursor=abc", "invalid_cursor"),
        ("cursor=0", "invalid_cursor"),
        ("cursor=-5", "invalid_cursor"),
        ("since=yesterday", "invalid_since"),
        ("since=2026-01-01", "invalid_since"),
        ("project=acc-audit&limit=-1", "invalid_limit"),
    ];
    for (query, code) in bad {
        check(
            server,
            Some(TOKEN),
            ("GET", &format!("/audit?{query}"), b""),
            400,
            Some(code),
        );
    }
    for secret in [&admin, &operator, &viewer] {
        assert_secret_kept(server, secret);
    }
}

#[test]
fn the_audit_log_pages_newest_first_by_cursor() {
    let server = shared_server();
    let k = "acc-page";
    for i in 0..7 {
        check(
            server,
            Some(TOKEN),
            (
                "PUT",
                &format!("/projects/{k}"),
                json!({ "name": format!("name {i}") })
                    .to_string()
                    .as_bytes(),
            ),
            200,
            None,
        );
    }
    let all = audit(server, &format!("project={k}&limit=500"));
    let all_ids: Vec<u64> = all["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_u64().unwrap())
        .collect();
    assert_eq!(all_ids.len(), 7);
    assert_eq!(all["entries"][0]["after"]["name"], "name 6", "{all}");
    let mut paged = Vec::new();
    let mut pages = 0;
    let mut query = format!("project={k}&limit=3");
    loop {
        let page = audit(server, &query);
        pages += 1;
        let entries = page["entries"].as_array().unwrap();
        assert!(entries.len() <= 3, "{page}");
        paged.extend(entries.iter().map(|e| e["id"].as_u64().unwrap()));
        match page["next_cursor"].as_str() {
            Some(c) => query = format!("project={k}&limit=3&cursor={c}"),
            None => break,
        }
        assert!(pages < 10, "the cursor does not end");
    }
    assert_eq!((pages, &paged), (3, &all_ids));
    // A cursor is an entry id: the page after it holds only older entries.
    let after_newest = audit(server, &format!("project={k}&cursor={}", all_ids[0]));
    assert_eq!(after_newest["entries"].as_array().unwrap().len(), 6);
}

#[test]
fn the_audit_log_cannot_be_changed_through_the_api() {
    let server = shared_server();
    check(
        server,
        Some(TOKEN),
        ("PUT", "/projects/acc-append", br#"{"name":"x"}"#),
        200,
        None,
    );
    let before = audit(server, "project=acc-append");
    let id = before["entries"][0]["id"].as_u64().expect("an entry");
    for (method, path) in [
        ("PUT", "/audit"),
        ("DELETE", "/audit"),
        ("POST", "/audit"),
        ("PATCH", "/audit"),
    ] {
        check(
            server,
            Some(TOKEN),
            (method, path, b"{}"),
            405,
            Some("method_not_allowed"),
        );
    }
    for method in ["GET", "PUT", "DELETE", "PATCH"] {
        check(
            server,
            Some(TOKEN),
            (method, &format!("/audit/{id}"), b"{}"),
            404,
            Some("not_found"),
        );
    }
    assert_eq!(audit(server, "project=acc-append"), before);
}

#[test]
fn the_openapi_document_is_served_as_written() {
    let server = shared_server();
    let resp = check(
        server,
        Some(TOKEN),
        ("GET", "/openapi.json", b""),
        200,
        None,
    );
    assert!(
        resp.header("Content-Type")
            .is_some_and(|t| t.starts_with("application/json")),
        "{:?}",
        resp.headers
    );
    let doc = resp.json();
    assert!(
        doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1")),
        "openapi: {}",
        doc["openapi"]
    );
    let file =
        std::fs::read_to_string(repo_root().join("edge/openapi.json")).expect("edge/openapi.json");
    let file: Value = serde_json::from_str(&file).expect("JSON");
    assert!(
        doc == file,
        "the Worker serves another document than edge/openapi.json: rebuild it"
    );
    check(
        server,
        None,
        ("GET", "/openapi.json", b""),
        401,
        Some("unauthorized"),
    );
}

/// One admin call as `token` from the client address `address` (`CF-Connecting-IP`, which
/// `wrangler dev` passes through when the client sends it, as Cloudflare's edge would set it).
fn call_from(server: &Server, address: &str, token: Option<&str>, path: &str) -> RawResponse {
    server.admin_as(token, "GET", path, b"", &[("CF-Connecting-IP", address)])
}

#[track_caller]
fn expect(resp: &RawResponse, status: u16, code: Option<&str>, what: &str) {
    assert_eq!(
        resp.status,
        status,
        "{what}: body {}",
        String::from_utf8_lossy(&resp.body)
    );
    if let Some(code) = code {
        assert_eq!(resp.json()["error"]["code"], code, "{what}");
    }
}

/// Waits until the current UTC minute has at least `needed_s` seconds left: the Rate Limiting
/// binding counts in fixed one-minute windows, and a burst that straddles two would be split.
fn wait_for_room_in_minute(needed_s: u64) {
    let second = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
        % 60;
    if 60 - second < needed_s {
        std::thread::sleep(std::time::Duration::from_secs(60 - second + 1));
    }
}

#[test]
fn failed_authentications_lock_out_their_address_for_a_minute() {
    const LIMIT: usize = 20;
    let server = shared_server();
    let (attacker, neighbour) = ("203.0.113.41", "203.0.113.42");
    wait_for_room_in_minute(30);
    for i in 0..LIMIT {
        let guess = format!("guess-{i}-0123456789abcdef0123456789");
        expect(
            &call_from(server, attacker, Some(&guess), "/projects"),
            401,
            Some("unauthorized"),
            &format!("failure {}", i + 1),
        );
    }
    // The failure past the limit, and then even the valid token, are refused from that address.
    expect(
        &call_from(
            server,
            attacker,
            Some("one-guess-too-many-0123456789abcdef"),
            "/projects",
        ),
        429,
        Some("auth_rate_limited"),
        "failure past the limit",
    );
    expect(
        &call_from(server, attacker, None, "/projects"),
        429,
        Some("auth_rate_limited"),
        "no token while locked out",
    );
    let locked = call_from(server, attacker, Some(TOKEN), "/projects");
    expect(
        &locked,
        429,
        Some("auth_rate_limited"),
        "the valid token while locked out",
    );
    let message = locked.json()["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(message.contains("retry in"), "{message}");
    // Other addresses are not affected: neither one named in the header nor the harness's own
    // requests, which send none (wrangler dev then fills in the loopback address).
    expect(
        &call_from(server, neighbour, Some(TOKEN), "/projects"),
        200,
        None,
        "the valid token from another address",
    );
    expect(
        &call_from(
            server,
            neighbour,
            Some("wrong-0123456789abcdef0123456789ab"),
            "/projects",
        ),
        401,
        Some("unauthorized"),
        "a failure from another address",
    );
    expect(
        &server.admin("GET", "/projects", b""),
        200,
        None,
        "the valid token without CF-Connecting-IP",
    );

    // An IPv6 client is counted by its /64: rotating addresses inside it does not help.
    for i in 0..LIMIT {
        let address = format!("2001:db8:41:1::{:x}", i + 1);
        expect(
            &call_from(
                server,
                &address,
                Some("wrong-0123456789abcdef0123456789ab"),
                "/projects",
            ),
            401,
            Some("unauthorized"),
            &format!("IPv6 failure {}", i + 1),
        );
    }
    expect(
        &call_from(
            server,
            "2001:db8:41:1::ffff",
            Some("wrong-0123456789abcdef0123456789ab"),
            "/projects",
        ),
        429,
        Some("auth_rate_limited"),
        "IPv6 failure past the limit",
    );
    expect(
        &call_from(server, "2001:db8:41:1:1:2:3:4", Some(TOKEN), "/projects"),
        429,
        Some("auth_rate_limited"),
        "valid token from the same /64",
    );
    expect(
        &call_from(server, "2001:db8:41:2::1", Some(TOKEN), "/projects"),
        200,
        None,
        "valid token from the next /64",
    );

    // A minute later the operator's valid token works again from the locked-out address.
    std::thread::sleep(std::time::Duration::from_secs(61));
    expect(
        &call_from(server, attacker, Some(TOKEN), "/projects"),
        200,
        None,
        "the valid token after the lockout",
    );
}

#[test]
fn a_short_admin_token_is_refused_with_its_own_code() {
    let state = fota_tests::temp_state_dir("short-token");
    // A token created while the bootstrap token was long enough...
    let mut server = Server::start(&state);
    let created = create_token(&server, "acc-short-ops", "admin");
    server.stop();
    // ...keeps working after ADMIN_TOKEN was set to something short, which is never accepted.
    let short = "short-token-0123456789";
    let server = Server::start_with(&state, &[("ADMIN_TOKEN", short)]);
    for (what, token) in [
        ("the short token itself", Some(short)),
        ("the old long token", Some(TOKEN)),
        ("no token", None),
    ] {
        let resp = call(&server, token, "GET", "/projects", b"");
        expect(&resp, 503, Some("admin_token_too_short"), what);
        let message = resp.json()["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(message.contains("32 characters"), "{message}");
    }
    expect(
        &call(&server, Some(&created), "GET", "/projects", b""),
        200,
        None,
        "a created token",
    );
    // The server says why in its log, without the token.
    let log_path = server.state.join("wrangler.log");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let log = loop {
        let log = std::fs::read(&log_path).unwrap_or_default();
        if contains(&log, b"admin_token_too_short") || std::time::Instant::now() > deadline {
            break log;
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
    };
    assert!(
        contains(
            &log,
            b"admin_token_too_short: ADMIN_TOKEN is shorter than 32 characters"
        ),
        "no log line in {}",
        log_path.display()
    );
    assert!(!contains(&log, short.as_bytes()), "the log holds the token");
}
