//! Every Luat client variant of device-protocols.md section 1, with its exact request bytes:
//! image delivery (`Content-Length`, exact header case, 206 to `Range`), "up to date",
//! redirects only where the client follows them, and resumed downloads.

use crate::{contains, device_request};
use fota_tests::{image, sha256_hex, shared_server, RawResponse, Server};
use serde_json::json;

/// The client variants seen in the field.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Client {
    /// LuatOS `libfota2`, `imei=` first, `Connection: Close` (2025-12 on).
    Libfota2Imei,
    /// Wi-Fi parts (Air8101): `mac=`.
    Libfota2Mac,
    /// 2025-01..2026-06 builds: `uid=`.
    Libfota2Uid,
    /// Older LuatOS firmware: no `Connection` header at all.
    Libfota2NoConnection,
    /// A configured base without a trailing `?`: `/api/site/firmware_upgradeimei=...`.
    Libfota2Glued,
    /// 2024-04..2024-11 builds: `??imei=...&model=Air780E_A11`.
    Libfota2DoubleQuery,
    /// LuatOS `libfota` v1: the id last.
    LibfotaV1,
    /// `update.lua` on Air724: `Range` on every request, `Connection: short`, `Host` without port.
    Air724,
    /// The same asking for a redirect with `need_oss_url=1`.
    Air724Oss,
    /// `update.lua` on Air800: `device_key`, no `Range`.
    Air800,
    /// The same on the old sample path `/luat/update`.
    Air800LuatUpdate,
}

use Client::*;

pub const ALL: [Client; 11] = [
    Libfota2Imei,
    Libfota2Mac,
    Libfota2Uid,
    Libfota2NoConnection,
    Libfota2Glued,
    Libfota2DoubleQuery,
    LibfotaV1,
    Air724,
    Air724Oss,
    Air800,
    Air800LuatUpdate,
];

impl Client {
    fn index(self) -> u32 {
        ALL.iter().position(|c| *c == self).unwrap() as u32
    }

    fn is_luatos(self) -> bool {
        matches!(
            self,
            Libfota2Imei
                | Libfota2Mac
                | Libfota2Uid
                | Libfota2NoConnection
                | Libfota2Glued
                | Libfota2DoubleQuery
                | LibfotaV1
        )
    }

    fn is_air724(self) -> bool {
        matches!(self, Air724 | Air724Oss)
    }

    /// A firmware name of the client's kind, distinct per test and variant so plans never collide.
    pub fn firmware(self, test: u32) -> String {
        let i = self.index();
        if self.is_luatos() {
            format!("t{test}c{i}_LuatOS-SoC_Air780EHV")
        } else if self.is_air724() {
            format!("t{test}c{i}_Luat_RDA8910")
        } else {
            format!("t{test}c{i}_Luat_Air800")
        }
    }

    /// (version the device runs, version the plan targets). LuatOS versions compare numerically:
    /// `2018.1.3` < `2018.1.10` although it sorts after it as text.
    pub fn versions(self) -> (&'static str, &'static str) {
        if self.is_luatos() {
            ("2018.1.3", "2018.1.10")
        } else {
            ("1.0.0", "1.0.1")
        }
    }

    /// A device id of the kind the client sends, unique to (test, variant, n).
    pub fn device(self, test: u32, n: u32) -> String {
        let i = self.index();
        match self {
            Libfota2Mac => format!("C8{test:03}{i:02}{n:05}"),
            Libfota2Uid => format!("U{test:03}{i:02}{n:06}"),
            _ => format!("86{test:03}{i:02}{n:08}"),
        }
    }

    /// The exact request bytes. `range` is the value of a `Range` header; Air724 always sends
    /// one (`bytes=0-` on a first download).
    pub fn request(
        self,
        server: &Server,
        project: &str,
        id: &str,
        fw: &str,
        version: &str,
        range: Option<&str>,
    ) -> Vec<u8> {
        let base = "/api/site/firmware_upgrade";
        let range_line = |r: Option<&str>| r.map(|r| format!("Range: {r}\r\n")).unwrap_or_default();
        let host = server.host();
        let luatos = |target: String, connection: bool| {
            let conn = if connection {
                "Connection: Close\r\n"
            } else {
                ""
            };
            format!(
                "GET {target} HTTP/1.1\r\n{conn}Host: {host}\r\n{}\r\n",
                range_line(range)
            )
        };
        let update_lua = |target: String, r: Option<&str>| {
            format!(
                "GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n{}Connection: short\r\n\r\n",
                range_line(r)
            )
        };
        let text = match self {
            Libfota2Imei => luatos(format!("{base}?imei={id}&project_key={project}&firmware_name={fw}&version={version}"), true),
            Libfota2Mac => luatos(format!("{base}?mac={id}&project_key={project}&firmware_name={fw}&version={version}"), true),
            Libfota2Uid => luatos(format!("{base}?uid={id}&project_key={project}&firmware_name={fw}&version={version}"), true),
            Libfota2NoConnection => luatos(format!("{base}?imei={id}&project_key={project}&firmware_name={fw}&version={version}"), false),
            Libfota2Glued => luatos(format!("{base}imei={id}&project_key={project}&firmware_name={fw}&version={version}"), true),
            Libfota2DoubleQuery => {
                luatos(format!("{base}??imei={id}&project_key={project}&firmware_name={fw}&version={version}&model=Air780E_A11"), true)
            }
            LibfotaV1 => luatos(format!("{base}?project_key={project}&firmware_name={fw}&version={version}&imei={id}"), true),
            Air724 | Air724Oss => {
                let oss = if self == Air724Oss { "&need_oss_url=1" } else { "" };
                update_lua(
                    format!("{base}?project_key={project}&imei={id}&firmware_name={fw}&core_version=3&dfota=1&version={version}{oss}"),
                    Some(range.unwrap_or("bytes=0-")),
                )
            }
            Air800 => update_lua(format!("{base}?project_key={project}&imei={id}&device_key=SN{id}&firmware_name={fw}&version={version}"), range),
            Air800LuatUpdate => {
                update_lua(format!("/luat/update?project_key={project}&imei={id}&device_key=SN{id}&firmware_name={fw}&version={version}"), range)
            }
        };
        text.into_bytes()
    }

    /// Does the client follow a `302` when the plan asks for redirects?
    fn follows_redirects(self) -> bool {
        !self.is_luatos()
    }
}

/// Sets up one project with a plan per variant (images of 100-300 KB) and returns the images.
fn setup_all(server: &Server, project: &str, test: u32, plan: serde_json::Value) -> Vec<Vec<u8>> {
    server
        .admin(
            "PUT",
            &format!("/projects/{project}"),
            json!({ "name": project }).to_string().as_bytes(),
        )
        .expect_status(200);
    ALL.iter()
        .map(|c| {
            let img = image(
                test * 100 + c.index(),
                100_000 + 19_000 * c.index() as usize,
            );
            let (_, target) = c.versions();
            server
                .admin(
                    "PUT",
                    &format!("/projects/{project}/firmware/{}/{target}", c.firmware(test)),
                    &img,
                )
                .expect_one_of(&[200, 201]);
            let mut p = plan.clone();
            p["target_version"] = target.into();
            server
                .admin(
                    "PUT",
                    &format!("/projects/{project}/plans/{}", c.firmware(test)),
                    p.to_string().as_bytes(),
                )
                .expect_status(200);
            img
        })
        .collect()
}

/// The whole image as the client expects it: 200 with `Content-Length`, or for Air724 (which
/// always sends `Range: bytes=0-`) 206 with `Content-Range: bytes 0-(n-1)/n`.
#[track_caller]
fn expect_full_image(client: Client, resp: &RawResponse, img: &[u8]) {
    // LuatOS on Air101/103 drops answers whose headers pass 2047 bytes.
    let head: usize = resp
        .headers
        .iter()
        .map(|(k, v)| k.len() + v.len() + 4)
        .sum();
    assert!(
        head < 2047,
        "{client:?}: {head} bytes of headers: {:?}",
        resp.headers
    );
    if client.is_air724() {
        resp.expect_image(206, img);
        let want = format!("bytes 0-{}/{}", img.len() - 1, img.len());
        assert_eq!(
            resp.header_exact("Content-Range"),
            Some(want.as_str()),
            "{client:?}: {:?}",
            resp.headers
        );
    } else {
        resp.expect_image(200, img);
    }
}

/// A `302` to the content-addressed image: absolute `Location` (exact header case) whose path is
/// `/images/<sha256>`, signed for the device and its rollout (`device`, `plan`, `expires`,
/// `sig`). Returns the path and query, for a download of it.
#[track_caller]
fn expect_redirect(client: Client, resp: &RawResponse, img: &[u8]) -> String {
    resp.expect_status(302);
    let location = resp
        .header_exact("Location")
        .unwrap_or_else(|| panic!("{client:?}: no `Location` header: {:?}", resp.headers));
    let rest = location
        .strip_prefix("http://")
        .or_else(|| location.strip_prefix("https://"))
        .unwrap_or_else(|| panic!("{client:?}: relative Location {location}"));
    let target = &rest[rest.find('/').unwrap_or(rest.len())..];
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    assert_eq!(
        path,
        format!("/images/{}", sha256_hex(img)),
        "{client:?}: Location {location}"
    );
    for part in ["device=", "&plan=", "&expires=", "&sig="] {
        assert!(query.contains(part), "{client:?}: Location {location}");
    }
    target.to_string()
}

#[test]
fn every_client_gets_the_exact_image_when_an_upgrade_is_due() {
    const TEST: u32 = 101;
    let server = shared_server();
    let images = setup_all(server, "cl-due", TEST, json!({}));
    for (client, img) in ALL.iter().zip(&images) {
        let (old, _) = client.versions();
        let bytes = client.request(
            server,
            "cl-due",
            &client.device(TEST, 0),
            &client.firmware(TEST),
            old,
            None,
        );
        let resp = device_request(server, &bytes);
        if *client == Air724Oss {
            // It asks for a redirect: it is due, and gets it even from this stream plan.
            let path = expect_redirect(*client, &resp, img);
            check_image_route(server, &path, img);
        } else {
            expect_full_image(*client, &resp, img);
        }
    }
}

#[test]
fn every_client_hears_up_to_date_as_404_code_60() {
    const TEST: u32 = 102;
    let server = shared_server();
    setup_all(server, "cl-current", TEST, json!({}));
    for client in ALL {
        let (_, target) = client.versions();
        let bytes = client.request(
            server,
            "cl-current",
            &client.device(TEST, 0),
            &client.firmware(TEST),
            target,
            None,
        );
        let resp = device_request(server, &bytes);
        resp.expect_refusal(404, 60);
        assert!(!contains(&resp.body, b"\"code\":43"));
    }
}

#[test]
fn redirects_go_only_to_clients_that_follow_them() {
    const TEST: u32 = 103;
    let server = shared_server();
    let images = setup_all(
        server,
        "cl-redirect",
        TEST,
        json!({ "delivery": "redirect" }),
    );
    for (client, img) in ALL.iter().zip(&images) {
        let (old, _) = client.versions();
        let bytes = client.request(
            server,
            "cl-redirect",
            &client.device(TEST, 0),
            &client.firmware(TEST),
            old,
            None,
        );
        let resp = device_request(server, &bytes);
        if client.follows_redirects() {
            let path = expect_redirect(*client, &resp, img);
            check_image_route(server, &path, img);
        } else {
            // LuatOS reads any 3xx as "no upgrade": it must get the bytes whatever the plan says.
            expect_full_image(*client, &resp, img);
        }
    }
}

#[test]
fn need_oss_url_gets_a_redirect_even_from_a_stream_plan() {
    const TEST: u32 = 104;
    let server = shared_server();
    let images = setup_all(server, "cl-oss", TEST, json!({ "delivery": "stream" }));
    let img = &images[Air724Oss.index() as usize];
    let (old, _) = Air724Oss.versions();
    let bytes = Air724Oss.request(
        server,
        "cl-oss",
        &Air724Oss.device(TEST, 0),
        &Air724Oss.firmware(TEST),
        old,
        None,
    );
    let path = expect_redirect(Air724Oss, &device_request(server, &bytes), img);
    check_image_route(server, &path, img);
    // The same device without the flag is streamed the image.
    let bytes = Air724.request(
        server,
        "cl-oss",
        &Air724.device(TEST, 0),
        &Air724.firmware(TEST),
        old,
        None,
    );
    expect_full_image(
        Air724,
        &device_request(server, &bytes),
        &images[Air724.index() as usize],
    );
}

/// The redirect target: exact bytes, an `ETag`, `Range` honoured, and kept by no shared cache
/// (a device's URL: its download is that device's delivery).
#[track_caller]
fn check_image_route(server: &Server, path: &str, img: &[u8]) {
    let sha = sha256_hex(img);
    let get = |range: Option<&str>| {
        let range = range.map(|r| format!("Range: {r}\r\n")).unwrap_or_default();
        device_request(
            server,
            format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{range}Connection: short\r\n\r\n")
                .as_bytes(),
        )
    };
    let resp = get(None);
    resp.expect_image(200, img);
    assert_eq!(
        resp.header("ETag"),
        Some(format!("\"{sha}\"").as_str()),
        "{:?}",
        resp.headers
    );
    assert_eq!(
        resp.header("Cache-Control"),
        Some("private, max-age=3600"),
        "{:?}",
        resp.headers
    );
    let resp = get(Some("bytes=1000-"));
    resp.expect_image(206, &img[1000..]);
    let want = format!("bytes 1000-{}/{}", img.len() - 1, img.len());
    assert_eq!(resp.header_exact("Content-Range"), Some(want.as_str()));
}

/// One resume case: the `Range` a device sends and what must come back.
#[derive(Debug, Clone, Copy)]
enum Resume {
    /// 206 with bytes `start..end` (end exclusive; `None` = to the end).
    Part(usize, Option<usize>),
    /// 416 with `Content-Range: bytes */n`.
    Unsatisfiable,
}

#[track_caller]
fn check_resume(
    server: &Server,
    client: Client,
    (project, fw): (&str, &str),
    id: &str,
    img: &[u8],
    range: &str,
    want: Resume,
) {
    let (old, _) = client.versions();
    let bytes = client.request(server, project, id, fw, old, Some(range));
    let resp = device_request(server, &bytes);
    let n = img.len();
    match want {
        Resume::Part(start, end) => {
            let end = end.unwrap_or(n);
            resp.expect_image(206, &img[start..end]);
            let want = format!("bytes {start}-{}/{n}", end - 1);
            assert_eq!(
                resp.header_exact("Content-Range"),
                Some(want.as_str()),
                "{client:?} {range}: {:?}",
                resp.headers
            );
        }
        Resume::Unsatisfiable => {
            resp.expect_status(416);
            let want = format!("bytes */{n}");
            assert_eq!(
                resp.header_exact("Content-Range"),
                Some(want.as_str()),
                "{client:?} {range}: {:?}",
                resp.headers
            );
        }
    }
}

#[test]
fn every_client_can_resume_a_broken_download() {
    const TEST: u32 = 105;
    let server = shared_server();
    let images = setup_all(server, "cl-resume", TEST, json!({}));
    for (client, img) in ALL.iter().zip(&images) {
        if *client == Air724Oss {
            // Asks for a redirect, so it resumes on the image route (checked above), not here.
            continue;
        }
        let n = img.len();
        let id = client.device(TEST, 0);
        let cases: [(String, Resume); 5] = [
            ("bytes=1000-".into(), Resume::Part(1000, None)),
            ("bytes=10-19".into(), Resume::Part(10, Some(20))),
            (format!("bytes={}-", n - 1), Resume::Part(n - 1, None)),
            (format!("bytes={n}-"), Resume::Unsatisfiable),
            (format!("bytes={}-", n + 1000), Resume::Unsatisfiable),
        ];
        for (range, want) in cases {
            check_resume(
                server,
                *client,
                ("cl-resume", &client.firmware(TEST)),
                &id,
                img,
                &range,
                want,
            );
        }
    }
}
