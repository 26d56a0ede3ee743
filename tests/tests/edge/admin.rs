//! The admin API v1: bearer-token authentication on every route, firmware uploads checked
//! against their digests and limits, plan validation, deletion guarded by plans, the device list
//! with its cursor and filters, and percent-encoded path segments.

use crate::{device_request, imei, luatos_get};
use fota_tests::{
    image, md5_hex, sha256_hex, shared_server, RawResponse, Server, TEST_MAX_IMAGE_BYTES, TOKEN,
};
use serde_json::{json, Value};

const FW: &str = "adm_LuatOS-SoC_Air780E";

/// One admin call and the status and error code (`{"error":{"code":...}}`) it must get;
/// `None` for a success, whose body the caller may still inspect.
#[track_caller]
fn check(
    server: &Server,
    (method, path, body): (&str, &str, &[u8]),
    status: u16,
    code: Option<&str>,
) -> RawResponse {
    let resp = server.admin(method, path, body);
    assert_eq!(
        resp.status,
        status,
        "{method} {path}: body {}",
        String::from_utf8_lossy(&resp.body)
    );
    if let Some(code) = code {
        assert_eq!(
            resp.json()["error"]["code"],
            code,
            "{method} {path}: body {}",
            String::from_utf8_lossy(&resp.body)
        );
    }
    resp
}

fn project(server: &Server, key: &str, spec: Value) {
    server
        .admin(
            "PUT",
            &format!("/projects/{key}"),
            spec.to_string().as_bytes(),
        )
        .expect_status(200);
}

fn firmware_list(server: &Server, key: &str) -> Value {
    server
        .admin("GET", &format!("/projects/{key}/firmware"), b"")
        .expect_status(200)
        .json()["firmware"]
        .clone()
}

#[test]
fn every_admin_route_requires_the_token() {
    let server = shared_server();
    let k = "adm-auth";
    let img = image(4010, 5000);
    server.setup(k, None, FW, "1.0.1", &img, json!({}));
    let d = imei(401, 1);
    device_request(server, &luatos_get(server, &format!("/api/site/firmware_upgrade?imei={d}&project_key={k}&firmware_name={FW}&version=1.0.0")));
    let other = image(4011, 100);
    let routes: Vec<(&str, String, &[u8])> = vec![
        ("GET", "/projects".into(), b""),
        ("GET", format!("/projects/{k}"), b""),
        ("PUT", format!("/projects/{k}"), br#"{"name":"stolen"}"#),
        ("GET", format!("/projects/{k}/firmware"), b""),
        ("PUT", format!("/projects/{k}/firmware/{FW}/2.0.0"), &other),
        ("GET", format!("/projects/{k}/firmware/{FW}/1.0.1"), b""),
        ("DELETE", format!("/projects/{k}/firmware/{FW}/1.0.1"), b""),
        ("GET", format!("/projects/{k}/plans"), b""),
        ("GET", format!("/projects/{k}/plans/{FW}"), b""),
        (
            "PUT",
            format!("/projects/{k}/plans/{FW}"),
            br#"{"target_version":"1.0.1","devices":["1"]}"#,
        ),
        ("DELETE", format!("/projects/{k}/plans/{FW}"), b""),
        ("GET", format!("/projects/{k}/devices"), b""),
        ("GET", format!("/projects/{k}/devices/{d}"), b""),
        ("POST", format!("/projects/{k}/devices/{d}/unban"), b""),
        ("GET", "/no/such/route".into(), b""),
    ];
    let wrong_basic = format!("Basic {TOKEN}");
    let wrong_prefix = format!("Bearer {TOKEN}x");
    let credentials: [(Option<&str>, &[(&str, &str)]); 5] = [
        (None, &[]),
        (Some("wrong-token"), &[]),
        (Some(""), &[]),
        (Some(&wrong_prefix[7..]), &[]),
        (None, &[("Authorization", wrong_basic.as_str())]),
    ];
    // 75 refusals would pass the failed-authentication limit (20 a minute per client address)
    // and lock out the address every other test shares: each route's five come from its own
    // address instead (the limit itself is tested in access.rs).
    for (i, (method, path, body)) in routes.iter().enumerate() {
        let address = format!("198.51.100.{}", i + 1);
        for (token, extra) in credentials {
            let extra: Vec<(&str, &str)> = extra
                .iter()
                .copied()
                .chain([("CF-Connecting-IP", address.as_str())])
                .collect();
            let resp = server.admin_as(token, method, path, body, &extra);
            assert_eq!(
                resp.status,
                401,
                "{method} {path} with {token:?} {extra:?}: {}",
                String::from_utf8_lossy(&resp.body)
            );
            assert_eq!(
                resp.json()["error"]["code"],
                "unauthorized",
                "{method} {path}"
            );
        }
    }
    // Nothing was changed by the refused calls.
    let p = server
        .admin("GET", &format!("/projects/{k}"), b"")
        .expect_status(200)
        .json();
    assert_eq!(p["name"], format!("project {k}"));
    let plan = server
        .admin("GET", &format!("/projects/{k}/plans/{FW}"), b"")
        .expect_status(200)
        .json();
    assert_eq!(plan["devices"], json!([]));
    assert_eq!(
        firmware_list(server, k).as_array().map(|f| f.len()),
        Some(1)
    );
    // Health needs no token.
    let health = server.request(
        format!(
            "GET /healthz HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            server.host()
        )
        .as_bytes(),
    );
    health.expect_status(200);
}

#[test]
fn uploads_are_checked_against_digest_and_limits() {
    let server = shared_server();
    let k = "adm-upload";
    project(server, k, json!({ "name": "uploads" }));
    let img = image(4020, 200_000);
    let other = image(4021, 200_000);
    let (sha, md5) = (sha256_hex(&img), md5_hex(&img));
    let url = |v: &str| format!("/projects/{k}/firmware/{FW}/{v}");
    let upload = |v: &str, body: &[u8], digest: Option<&str>| {
        let extra: Vec<(&str, &str)> = digest
            .map(|d| ("X-Content-SHA256", d))
            .into_iter()
            .collect();
        server.admin_as(Some(TOKEN), "PUT", &url(v), body, &extra)
    };

    // A wrong digest stores nothing.
    let resp = upload("1.0.0", &img, Some(&sha256_hex(&other)));
    assert_eq!(
        (resp.status, resp.json()["error"]["code"].as_str()),
        (400, Some("digest_mismatch")),
        "{}",
        String::from_utf8_lossy(&resp.body)
    );
    assert_eq!(firmware_list(server, k), json!([]));
    check(server, ("GET", &url("1.0.0"), b""), 404, Some("not_found"));

    // The right digest: 201 and a receipt computed over the received bytes.
    let receipt = upload("1.0.0", &img, Some(&sha)).expect_status(201).json();
    assert_eq!(
        receipt,
        json!({ "sha256": sha, "md5": md5, "size": img.len() })
    );
    // The same bytes again: 200, same receipt (an upload may be retried). Upper-case digests are fine.
    assert_eq!(
        upload("1.0.0", &img, Some(&sha.to_uppercase()))
            .expect_status(200)
            .json(),
        receipt
    );
    assert_eq!(
        upload("1.0.0", &img, None).expect_status(200).json(),
        receipt
    );
    // Other bytes under the same version never replace it.
    let resp = upload("1.0.0", &other, None);
    assert_eq!(
        (resp.status, resp.json()["error"]["code"].as_str()),
        (409, Some("version_exists"))
    );
    let stored = check(server, ("GET", &url("1.0.0"), b""), 200, None).json();
    assert_eq!(
        (&stored["sha256"], &stored["md5"], &stored["size"]),
        (&json!(sha), &json!(md5), &json!(img.len()))
    );

    let too_big = image(4022, TEST_MAX_IMAGE_BYTES + 1);
    let at_limit = image(4023, TEST_MAX_IMAGE_BYTES);
    let cases: [(&str, &[u8], u16, Option<&str>); 5] = [
        ("1.0.1", b"", 400, Some("empty_image")),
        ("1.0.2", &too_big, 413, Some("payload_too_large")),
        ("1.x", &img, 400, Some("invalid_version")),
        // An empty version segment names no route at all.
        ("", &img, 404, Some("not_found")),
        ("1.0.3", &at_limit, 201, None),
    ];
    for (version, body, status, code) in cases {
        check(server, ("PUT", &url(version), body), status, code);
    }
    let versions: Vec<Value> = firmware_list(server, k)
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["version"].clone())
        .collect();
    assert_eq!(versions, [json!("1.0.0"), json!("1.0.3")]);
}

#[test]
fn plans_are_validated_before_they_are_stored() {
    let server = shared_server();
    let k = "adm-plans";
    project(server, k, json!({ "name": "plans" }));
    let img = image(4030, 4000);
    server
        .admin("PUT", &format!("/projects/{k}/firmware/{FW}/1.0.0"), &img)
        .expect_status(201);
    let plan = format!("/projects/{k}/plans/{FW}");
    let mut huge = br#"{"target_version":"1.0.0","devices":["#.to_vec();
    while huge.len() <= 8 * 1024 * 1024 {
        huge.extend_from_slice(br#""862419074072389","#);
    }
    huge.extend_from_slice(br#""1"]}"#);
    let cases: Vec<(&str, String, Vec<u8>, u16, Option<&str>)> = vec![
        (
            "PUT",
            plan.clone(),
            br#"{"target_version":"1.0.0""#.to_vec(),
            400,
            Some("invalid_json"),
        ),
        (
            "PUT",
            plan.clone(),
            b"not json".to_vec(),
            400,
            Some("invalid_json"),
        ),
        (
            "PUT",
            plan.clone(),
            br#"{"target_version":"1.0.0","bogus":1}"#.to_vec(),
            400,
            Some("invalid_json"),
        ),
        (
            "PUT",
            plan.clone(),
            br#"{"target_version":"1.0.0","delivery":"carrier-pigeon"}"#.to_vec(),
            400,
            Some("invalid_json"),
        ),
        (
            "PUT",
            plan.clone(),
            br#"{"target_version":"one"}"#.to_vec(),
            400,
            Some("invalid_plan"),
        ),
        (
            "PUT",
            plan.clone(),
            br#"{"target_version":"1.0.0","from_versions":["x"]}"#.to_vec(),
            400,
            Some("invalid_plan"),
        ),
        (
            "PUT",
            plan.clone(),
            br#"{"target_version":"1.0.0","imei_ranges":[["200","100"]]}"#.to_vec(),
            400,
            Some("invalid_plan"),
        ),
        (
            "PUT",
            plan.clone(),
            br#"{"target_version":"1.0.0","imei_ranges":[["100","C8C2"]]}"#.to_vec(),
            400,
            Some("invalid_plan"),
        ),
        (
            "PUT",
            plan.clone(),
            br#"{"target_version":"1.0.0","devices":["a b"]}"#.to_vec(),
            400,
            Some("invalid_plan"),
        ),
        (
            "PUT",
            plan.clone(),
            br#"{"target_version":"9.9.9"}"#.to_vec(),
            409,
            Some("firmware_missing"),
        ),
        ("PUT", plan.clone(), huge, 413, Some("payload_too_large")),
        (
            "PUT",
            format!("/projects/{k}"),
            b"{".to_vec(),
            400,
            Some("invalid_json"),
        ),
        (
            "PUT",
            format!("/projects/{k}"),
            br#"{"name":"x","ban_after":0}"#.to_vec(),
            400,
            Some("invalid_ban_after"),
        ),
        (
            "PUT",
            "/projects/adm-nosuch/plans/x".into(),
            br#"{"target_version":"1.0.0"}"#.to_vec(),
            404,
            Some("not_found"),
        ),
        (
            "GET",
            "/projects/adm-nosuch".into(),
            vec![],
            404,
            Some("not_found"),
        ),
        (
            "GET",
            "/projects/adm-nosuch/firmware".into(),
            vec![],
            404,
            Some("not_found"),
        ),
        (
            "GET",
            "/projects/adm-nosuch/plans".into(),
            vec![],
            404,
            Some("not_found"),
        ),
        (
            "GET",
            "/projects/adm-nosuch/devices".into(),
            vec![],
            404,
            Some("not_found"),
        ),
        (
            "PUT",
            "/projects/adm-nosuch/firmware/x/1.0.0".into(),
            b"abc".to_vec(),
            404,
            Some("not_found"),
        ),
        ("GET", plan.clone(), vec![], 404, Some("not_found")),
        (
            "POST",
            plan.clone(),
            br#"{"target_version":"1.0.0"}"#.to_vec(),
            405,
            Some("method_not_allowed"),
        ),
        (
            "POST",
            format!("/projects/{k}"),
            vec![],
            405,
            Some("method_not_allowed"),
        ),
        (
            "DELETE",
            "/projects".into(),
            vec![],
            405,
            Some("method_not_allowed"),
        ),
        (
            "GET",
            format!("/projects/{k}/devices/x/unban"),
            vec![],
            405,
            Some("method_not_allowed"),
        ),
        (
            "PATCH",
            format!("/projects/{k}/firmware/{FW}/1.0.0"),
            vec![],
            405,
            Some("method_not_allowed"),
        ),
        (
            "GET",
            format!("/projects/{k}/nothing"),
            vec![],
            404,
            Some("not_found"),
        ),
    ];
    for (method, path, body, status, code) in &cases {
        check(server, (method, path, body), *status, *code);
    }
    // Nothing invalid was stored; a valid plan is, with the image it resolved to.
    assert_eq!(
        server
            .admin("GET", &format!("/projects/{k}/plans"), b"")
            .expect_status(200)
            .json(),
        json!({ "plans": [] })
    );
    let stored = check(
        server,
        ("PUT", &plan, br#"{"target_version":"V1.0"}"#),
        200,
        None,
    )
    .json();
    assert_eq!(
        stored["image"],
        json!({ "sha256": sha256_hex(&img), "md5": md5_hex(&img), "size": img.len(), "module": "default" })
    );
    assert_eq!(check(server, ("GET", &plan, b""), 200, None).json(), stored);
}

#[test]
fn firmware_targeted_by_a_plan_cannot_be_deleted() {
    let server = shared_server();
    let k = "adm-delete";
    let img = image(4040, 6000);
    server.setup(k, None, FW, "1.0.1", &img, json!({}));
    let fw = format!("/projects/{k}/firmware/{FW}/1.0.1");
    let plan = format!("/projects/{k}/plans/{FW}");
    let image_route = format!(
        "GET /images/{} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        sha256_hex(&img),
        server.host()
    );
    server
        .request(image_route.as_bytes())
        .expect_image(200, &img);
    let steps: [(&str, &str, u16, Option<&str>); 7] = [
        ("DELETE", &fw, 409, Some("in_use")),
        ("GET", &fw, 200, None),
        ("DELETE", &plan, 204, None),
        ("GET", &plan, 404, Some("not_found")),
        ("DELETE", &fw, 204, None),
        ("GET", &fw, 404, Some("not_found")),
        ("DELETE", &fw, 404, Some("not_found")),
    ];
    for (method, path, status, code) in steps {
        check(server, (method, path, b""), status, code);
    }
    assert_eq!(firmware_list(server, k), json!([]));
    // The bytes are gone too: no firmware record references them any more.
    server.request(image_route.as_bytes()).expect_status(404);
}

#[test]
fn device_list_pages_by_cursor_and_filters() {
    let server = shared_server();
    let k = "adm-devices";
    let img = image(4050, 1000);
    // ban_after 1: every device that downloads is banned at once.
    server.setup(k, Some(1), FW, "1.0.1", &img, json!({}));
    let ids: Vec<String> = (0..25).map(|i| imei(405, i)).collect();
    for (i, id) in ids.iter().enumerate() {
        let version = if i % 3 == 0 { "1.0.1" } else { "1.0.0" };
        let resp = device_request(server, &luatos_get(server, &format!("/api/site/firmware_upgrade?imei={id}&project_key={k}&firmware_name={FW}&version={version}")));
        resp.expect_status(if i % 3 == 0 { 404 } else { 200 });
    }
    let list = |query: &str| server.admin("GET", &format!("/projects/{k}/devices?{query}"), b"");
    let ids_of = |v: &Value| -> Vec<String> {
        v["devices"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["id"].as_str().unwrap().to_string())
            .collect()
    };

    // Three pages of 10, 10 and 5, in id order, each id once.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = Vec::new();
    loop {
        let q = match &cursor {
            Some(c) => format!("limit=10&cursor={c}"),
            None => "limit=10".into(),
        };
        let page = list(&q).expect_status(200).json();
        pages.push(ids_of(&page).len());
        seen.extend(ids_of(&page));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
        assert!(pages.len() <= 3, "more than 3 pages: {pages:?}");
    }
    assert_eq!(pages, [10, 10, 5]);
    assert_eq!(seen, ids);

    let expect = |pred: &dyn Fn(usize) -> bool| -> Vec<String> {
        ids.iter()
            .enumerate()
            .filter(|(i, _)| pred(*i))
            .map(|(_, id)| id.clone())
            .collect()
    };
    let by_prefix = format!("q={}", &imei(405, 10)[..14]);
    let cases: Vec<(&str, Vec<String>)> = vec![
        ("version=1.0.1", expect(&|i| i % 3 == 0)),
        ("version=1.0.0", expect(&|i| i % 3 != 0)),
        ("version=9.9.9", vec![]),
        ("banned=true", expect(&|i| i % 3 != 0)),
        ("banned=false", expect(&|i| i % 3 == 0)),
        ("banned=true&version=1.0.1", vec![]),
        (&by_prefix, expect(&|i| (10..20).contains(&i))),
        ("q=1.0.1", expect(&|i| i % 3 == 0)),
        ("q=nothing-like-it", vec![]),
        ("limit=1000", ids.clone()),
    ];
    for (query, want) in &cases {
        let got = list(query).expect_status(200).json();
        assert_eq!(&ids_of(&got), want, "?{query}");
    }
    let bad: [(&str, &str); 6] = [
        ("limit=0", "invalid_limit"),
        ("limit=1001", "invalid_limit"),
        ("limit=ten", "invalid_limit"),
        ("limit=-1", "invalid_limit"),
        ("banned=maybe", "invalid_banned"),
        ("cursor=a%20b", "invalid_cursor"),
    ];
    for (query, code) in bad {
        check(
            server,
            ("GET", &format!("/projects/{k}/devices?{query}"), b""),
            400,
            Some(code),
        );
    }
}

#[test]
fn percent_encoded_path_segments_are_decoded() {
    let server = shared_server();
    let (k, fw) = ("adm-pct", "pct+plus_LuatOS-SoC_Air780E");
    let enc = "pct%2Bplus_LuatOS-SoC_Air780E";
    let img = image(4060, 7000);
    check(
        server,
        ("PUT", "/projects/adm%2Dpct", br#"{"name":"percent"}"#),
        200,
        None,
    );
    let receipt = check(
        server,
        ("PUT", &format!("/projects/{k}/firmware/{enc}/1.0.1"), &img),
        201,
        None,
    )
    .json();
    assert_eq!(receipt["sha256"], sha256_hex(&img));
    assert_eq!(firmware_list(server, k)[0]["firmware_name"], fw);
    check(
        server,
        ("GET", &format!("/projects/{k}/firmware/{fw}/1.0.1"), b""),
        200,
        None,
    );
    check(
        server,
        (
            "PUT",
            &format!("/projects/{k}/plans/{enc}"),
            br#"{"target_version":"1.0.1"}"#,
        ),
        200,
        None,
    );
    assert_eq!(
        check(
            server,
            ("GET", &format!("/projects/{k}/plans/{fw}"), b""),
            200,
            None
        )
        .json()["firmware_name"],
        fw
    );
    // A device sends the name unencoded; it is the same firmware.
    let mac = "C8:C2:C6:40:60:01";
    let q = format!(
        "/api/site/firmware_upgrade?mac={mac}&project_key={k}&firmware_name={fw}&version=1.0.0"
    );
    device_request(server, &luatos_get(server, &q)).expect_image(200, &img);
    let device = check(
        server,
        (
            "GET",
            &format!("/projects/{k}/devices/C8%3AC2%3AC6%3A40%3A60%3A01"),
            b"",
        ),
        200,
        None,
    )
    .json();
    assert_eq!(device["id"], mac);
    // An encoded slash is a character of the name (refused), never a path separator.
    check(
        server,
        ("PUT", &format!("/projects/{k}/firmware/a%2Fb/1.0.0"), &img),
        400,
        Some("invalid_firmware_name"),
    );
    check(
        server,
        ("GET", &format!("/projects/{k}/firmware/{enc}%2F1.0.1"), b""),
        404,
        None,
    );
}

#[test]
fn plans_never_cross_projects_through_colons_in_keys() {
    // Project keys and firmware names may contain `:`; the plan of project `X:a` for firmware `b`
    // must never be seen as project `X`'s plan for firmware `a:b`.
    let server = shared_server();
    let (x, xa) = ("adm-colon", "adm-colon:a");
    project(server, x, json!({ "name": "colon" }));
    let img = image(4070, 3000);
    server.setup(xa, None, "b", "1.0.1", &img, json!({}));
    let resp = device_request(server, &luatos_get(server, &format!("/api/site/firmware_upgrade?imei={}&project_key={x}&firmware_name=a:b&version=1.0.0", imei(407, 1))));
    assert!(
        resp.status == 404,
        "project {x} was answered {} with project {xa}'s plan ({} bytes)",
        resp.status,
        resp.body.len()
    );
    resp.expect_refusal(404, 27);
    assert_eq!(
        server
            .admin("GET", &format!("/projects/{x}/plans"), b"")
            .expect_status(200)
            .json(),
        json!({ "plans": [] })
    );
    check(
        server,
        ("GET", &format!("/projects/{x}/plans/b"), b""),
        404,
        Some("not_found"),
    );
    // Deleting project X's (absent) plan for `a:b` finds nothing and leaves project X:a's plan alone.
    check(
        server,
        ("DELETE", &format!("/projects/{x}/plans/a:b"), b""),
        404,
        Some("not_found"),
    );
    check(
        server,
        ("GET", &format!("/projects/{xa}/plans/b"), b""),
        200,
        None,
    );
}

/// Without `ALLOW_PRIVATE_WEBHOOKS` (the default) a webhook may not point inside a network.
#[test]
fn webhooks_to_private_addresses_are_refused_by_default() {
    let server = fota_tests::shared_server();
    let p = "adm-hooks";
    server
        .admin("PUT", &format!("/projects/{p}"), br#"{"name":"hooks"}"#)
        .expect_status(200);
    for url in [
        "http://127.0.0.1:9/hook",
        "https://10.0.0.8/hook",
        "https://169.254.169.254/latest",
        "https://localhost/hook",
        "http://hooks.example.com/plain",
    ] {
        let body = serde_json::json!({ "url": url, "events": ["*"] }).to_string();
        let resp = server.admin("PUT", &format!("/projects/{p}/webhooks/w"), body.as_bytes());
        resp.expect_status(400);
        assert_eq!(resp.json()["error"]["code"], "invalid_webhook_url", "{url}");
    }
}
