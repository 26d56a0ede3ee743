//! Device-facing refusals: every "no upgrade" is a 4xx with `{"code":N,...}` (never 43, never a
//! 5xx), for malformed checks, unknown projects and firmware, plans that exclude the device, and
//! a table of hostile requests.

use crate::{device_request, imei, luatos_get};
use fota_tests::{image, shared_server, Server};
use serde_json::json;

const P: &str = "ref-main";
const BASE: &str = "/api/site/firmware_upgrade";

/// What a check must get.
#[derive(Debug, Clone, Copy)]
enum Want<'a> {
    Image(&'a [u8]),
    Refusal(u16, u64),
}

/// One LuatOS check, `target` as the device glues it (path and query).
#[track_caller]
fn check(server: &Server, target: &str, want: Want<'_>) {
    let resp = device_request(server, &luatos_get(server, target));
    match want {
        Want::Image(img) => {
            assert_eq!(
                resp.status,
                200,
                "{target}: body {}",
                String::from_utf8_lossy(&resp.body)
            );
            resp.expect_image(200, img);
        }
        Want::Refusal(status, code) => {
            assert_eq!(
                (resp.status, resp.json()["code"].as_u64()),
                (status, Some(code)),
                "{target}: body {}",
                String::from_utf8_lossy(&resp.body)
            );
            resp.expect_refusal(status, code);
        }
    }
}

/// Project `P` with one plan per refusal area; returns the images by firmware name.
fn setup(server: &Server) -> Vec<(&'static str, Vec<u8>)> {
    let plans: [(&str, &str, serde_json::Value); 5] = [
        ("all_LuatOS-SoC_Air780E", "1.0.1", json!({})),
        (
            "set_LuatOS-SoC_Air780E",
            "1.0.1",
            json!({ "devices": [imei(201, 1)], "imei_ranges": [[imei(201, 1000), imei(201, 1999)]] }),
        ),
        (
            "from_LuatOS-SoC_Air780E",
            "1.0.2",
            json!({ "from_versions": ["1.0.0"] }),
        ),
        ("down_LuatOS-SoC_Air780E", "1.0.1", json!({})),
        (
            "downok_LuatOS-SoC_Air780E",
            "1.0.1",
            json!({ "allow_downgrade": true }),
        ),
    ];
    server
        .admin("PUT", &format!("/projects/{P}"), br#"{"name":"refusals"}"#)
        .expect_status(200);
    plans
        .into_iter()
        .enumerate()
        .map(|(i, (fw, version, plan))| {
            let img = image(2010 + i as u32, 2000 + 100 * i);
            server
                .admin(
                    "PUT",
                    &format!("/projects/{P}/firmware/{fw}/{version}"),
                    &img,
                )
                .expect_one_of(&[200, 201]);
            let mut plan = plan;
            plan["target_version"] = version.into();
            server
                .admin(
                    "PUT",
                    &format!("/projects/{P}/plans/{fw}"),
                    plan.to_string().as_bytes(),
                )
                .expect_status(200);
            (fw, img)
        })
        .collect()
}

#[test]
fn checks_that_cannot_be_served_are_refused_with_their_code() {
    let server = shared_server();
    let images = setup(server);
    let img = |fw: &str| {
        images
            .iter()
            .find(|(f, _)| *f == fw)
            .map(|(_, i)| i.as_slice())
            .unwrap()
    };
    let all = "all_LuatOS-SoC_Air780E";
    let id = |row| imei(201, row);
    use Want::*;
    let cases: Vec<(String, Want)> = vec![
        // No id: LuatOS on a model its library does not know sends the bare word `nil`.
        (format!("{BASE}?nil&project_key={P}&firmware_name={all}&version=1.0.0"), Refusal(400, 64)),
        (format!("{BASE}nil&project_key={P}&firmware_name={all}&version=1.0.0"), Refusal(400, 64)),
        (format!("{BASE}?imei=&project_key={P}&firmware_name={all}&version=1.0.0"), Refusal(400, 64)),
        (format!("{BASE}?imei=nil&project_key={P}&firmware_name={all}&version=1.0.0"), Refusal(400, 64)),
        // Malformed.
        (format!("{BASE}?imei={}&firmware_name={all}&version=1.0.0", id(2)), Refusal(400, 63)),
        (format!("{BASE}?imei={}&project_key={P}&version=1.0.0", id(2)), Refusal(400, 63)),
        (format!("{BASE}?imei={}&project_key={P}&firmware_name={all}", id(2)), Refusal(400, 63)),
        (format!("{BASE}?imei={}&project_key={P}&firmware_name={all}&version=1.x", id(2)), Refusal(400, 63)),
        (format!("{BASE}?imei={}&project_key={P}&firmware_name={all}&version=", id(2)), Refusal(400, 63)),
        (format!("{BASE}?imei={}&project_key={P}&firmware_name={all}&version=1.0.0-beta", id(2)), Refusal(400, 63)),
        (format!("{BASE}?imei=a%20b&project_key={P}&firmware_name={all}&version=1.0.0"), Refusal(400, 63)),
        // Unknown project, unknown firmware.
        (format!("{BASE}?imei={}&project_key=ref-nosuch&firmware_name={all}&version=1.0.0", id(3)), Refusal(404, 26)),
        (format!("{BASE}?imei={}&project_key={P}&firmware_name=nosuch_LuatOS-SoC_Air780E&version=1.0.0", id(4)), Refusal(404, 27)),
        // The device set: explicit ids and an inclusive IMEI range.
        (format!("{BASE}?imei={}&project_key={P}&firmware_name=set_LuatOS-SoC_Air780E&version=1.0.0", id(5)), Refusal(404, 61)),
        (format!("{BASE}?imei={}&project_key={P}&firmware_name=set_LuatOS-SoC_Air780E&version=1.0.0", id(999)), Refusal(404, 61)),
        (format!("{BASE}?imei={}&project_key={P}&firmware_name=set_LuatOS-SoC_Air780E&version=1.0.0", id(2000)), Refusal(404, 61)),
        (format!("{BASE}?imei={}&project_key={P}&firmware_name=set_LuatOS-SoC_Air780E&version=1.0.0", id(1)), Image(img("set_LuatOS-SoC_Air780E"))),
        (format!("{BASE}?imei={}&project_key={P}&firmware_name=set_LuatOS-SoC_Air780E&version=1.0.0", id(1000)), Image(img("set_LuatOS-SoC_Air780E"))),
        (format!("{BASE}?imei={}&project_key={P}&firmware_name=set_LuatOS-SoC_Air780E&version=1.0.0", id(1500)), Image(img("set_LuatOS-SoC_Air780E"))),
        (format!("{BASE}?imei={}&project_key={P}&firmware_name=set_LuatOS-SoC_Air780E&version=1.0.0", id(1999)), Image(img("set_LuatOS-SoC_Air780E"))),
        // Source versions, compared numerically.
        (format!("{BASE}?imei={}&project_key={P}&firmware_name=from_LuatOS-SoC_Air780E&version=1.0.1", id(6)), Refusal(404, 66)),
        (format!("{BASE}?imei={}&project_key={P}&firmware_name=from_LuatOS-SoC_Air780E&version=0.9.9", id(7)), Refusal(404, 66)),
        (format!("{BASE}?imei={}&project_key={P}&firmware_name=from_LuatOS-SoC_Air780E&version=1.0.0", id(8)), Image(img("from_LuatOS-SoC_Air780E"))),
        (format!("{BASE}?imei={}&project_key={P}&firmware_name=from_LuatOS-SoC_Air780E&version=V1.0", id(9)), Image(img("from_LuatOS-SoC_Air780E"))),
        // Downgrades only when the plan allows them; the target itself is always "up to date".
        (format!("{BASE}?imei={}&project_key={P}&firmware_name=down_LuatOS-SoC_Air780E&version=1.0.5", id(10)), Refusal(404, 60)),
        (format!("{BASE}?imei={}&project_key={P}&firmware_name=down_LuatOS-SoC_Air780E&version=1.0.1", id(11)), Refusal(404, 60)),
        (format!("{BASE}?imei={}&project_key={P}&firmware_name=down_LuatOS-SoC_Air780E&version=1.0.0", id(12)), Image(img("down_LuatOS-SoC_Air780E"))),
        (format!("{BASE}?imei={}&project_key={P}&firmware_name=downok_LuatOS-SoC_Air780E&version=1.0.5", id(13)), Image(img("downok_LuatOS-SoC_Air780E"))),
        (format!("{BASE}?imei={}&project_key={P}&firmware_name=downok_LuatOS-SoC_Air780E&version=1.0.1", id(14)), Refusal(404, 60)),
    ];
    for (target, want) in &cases {
        check(server, target, *want);
    }
}

#[test]
fn hostile_requests_never_get_a_5xx_or_code_43() {
    let server = shared_server();
    server
        .admin("PUT", "/projects/ref-hostile", br#"{"name":"hostile"}"#)
        .expect_status(200);
    let img = image(2099, 3000);
    server
        .admin(
            "PUT",
            "/projects/ref-hostile/firmware/h_LuatOS-SoC_Air780E/1.0.1",
            &img,
        )
        .expect_one_of(&[200, 201]);
    server
        .admin(
            "PUT",
            "/projects/ref-hostile/plans/h_LuatOS-SoC_Air780E",
            br#"{"target_version":"1.0.1"}"#,
        )
        .expect_status(200);
    let big = "9".repeat(10 * 1024);
    let ok = "project_key=ref-hostile&firmware_name=h_LuatOS-SoC_Air780E";
    let targets: Vec<String> = vec![
        format!("{BASE}?"),
        format!("{BASE}??"),
        format!("{BASE}?&&&"),
        format!("{BASE}?="),
        format!("{BASE}?==&=&=="),
        format!("{BASE}?%"),
        format!("{BASE}?%zz%4"),
        format!("{BASE}?%ff%fe=%zz&&&=="),
        format!("{BASE}?imei=%00&{ok}&version=1.0.0"),
        format!(
            "{BASE}?imei={}&project_key=%00&firmware_name=x&version=1.0.0",
            imei(202, 1)
        ),
        format!("{BASE}?imei={}&{ok}&version=%00", imei(202, 2)),
        format!("{BASE}?imei={big}&{ok}&version=1.0.0"),
        format!(
            "{BASE}?imei={}&project_key={big}&firmware_name=x&version=1.0.0",
            imei(202, 3)
        ),
        format!(
            "{BASE}?imei={}&project_key=ref-hostile&firmware_name={big}&version=1.0.0",
            imei(202, 4)
        ),
        format!("{BASE}?imei={}&{ok}&version={big}", imei(202, 5)),
        format!(
            "{BASE}?imei={}&{ok}&version={}1",
            imei(202, 6),
            "1.".repeat(3000)
        ),
        format!(
            "{BASE}?imei={}&{ok}&version=99999999999999999999",
            imei(202, 7)
        ),
        format!("{BASE}?imei=é中文&{ok}&version=1.0.0"),
        format!(
            "{BASE}?imei={}&project_key=中文&firmware_name=x&version=1.0.0",
            imei(202, 8)
        ),
        format!(
            "{BASE}?imei={}&project_key=ref-hostile&firmware_name=h%E4%B8%AD&version=1.0.0",
            imei(202, 9)
        ),
        format!(
            "{BASE}?imei={}&imei={}&{ok}&project_key=other&version=1.0.0&version=x",
            imei(202, 10),
            imei(202, 11)
        ),
        format!("{BASE}?imei=..&{ok}&version=1.0.0"),
        format!(
            "{BASE}?imei={}&project_key=..&firmware_name=..&version=1.0.0",
            imei(202, 12)
        ),
        format!(
            "{BASE}?imei={}&project_key=ref-hostile&firmware_name=%2F..%2F..%2Fadmin&version=1.0.0",
            imei(202, 13)
        ),
        format!(
            "{BASE}?imei={}&project_key=ref-hostile%0d%0aX-Evil:%201&firmware_name=x&version=1.0.0",
            imei(202, 14)
        ),
        format!("{BASE}?imei=1%26project_key%3Dref-hostile&firmware_name=x&version=1"),
        format!("{BASE}nil&nil&nil"),
        format!("{BASE}/"),
        format!("{BASE}/../../admin/v1/projects"),
        format!("{BASE}%2e%2e/%2e%2e/admin/v1/projects"),
        format!("/luat/update%00?imei={}&{ok}&version=1.0.0", imei(202, 15)),
        format!("/images/{}", "0".repeat(64)),
        "/images/..%2F..%2Fadmin".to_string(),
        format!("/images/{}", "Z".repeat(64)),
        format!(
            "{BASE}?imei={}&{ok}&version=1.0.0&need_oss_url=%ff%00",
            imei(202, 16)
        ),
    ];
    for target in &targets {
        // `device_request` asserts no 5xx and no code 43.
        device_request(server, &luatos_get(server, target));
    }
}
