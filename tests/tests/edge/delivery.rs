//! A success follows a delivery, and redirects count where the bytes go (issue 15, items 4 and
//! 5): a Luat device counts as succeeded in a rollout only when the rollout handed it every byte
//! of the image (a 200 stream, or the signed image URL a redirect named, downloaded) and it then
//! reports the target. A `302` counts no delivery and no ban; the URL it names carries the device
//! and the rollout under its signature, and its download is that device's delivery.
//!
//! The shared test server runs with `DELIVERY_WINDOW_S=0`, so every complete download counts:
//! the six redirects below are each "beyond the window", the strongest form of the ban case
//! (with the window, repeats within it count once; `device_path.rs` tests the window itself).

use crate::{device_request, eventually, imei, luatos_get, luatos_get_with};
use fota_shared::api::plans::RolloutStatus;
use fota_shared::model::rollout::RolloutPhase;
use fota_tests::{image, shared_server, RawResponse, Server};
use serde_json::json;

const FW: &str = "dl_LuatOS-SoC_Air780E";
const FROM: &str = "1.0.0";
const TARGET: &str = "1.0.1";

fn url(project: &str, id: &str, version: &str) -> String {
    format!("/api/site/firmware_upgrade?imei={id}&project_key={project}&firmware_name={FW}&version={version}")
}

/// A LuatOS check of `FW`, read whole (as a device that downloads the image).
fn check(server: &Server, project: &str, id: &str, version: &str) -> RawResponse {
    device_request(server, &luatos_get(server, &url(project, id, version)))
}

/// A check asking for the redirect (`need_oss_url=1`): the path and query of the `Location` it
/// was answered with (never followed here).
#[track_caller]
fn redirect(server: &Server, project: &str, id: &str) -> String {
    let target = format!("{}&need_oss_url=1", url(project, id, FROM));
    let resp = device_request(server, &luatos_get(server, &target));
    resp.expect_status(302);
    let location = resp.header_exact("Location").expect("a Location");
    let origin = format!("http://{}", server.host());
    location
        .strip_prefix(&origin)
        .unwrap_or_else(|| panic!("{location} is not on {origin}"))
        .to_string()
}

/// A `GET` of an image URL (path and query), with a `Range` when given, read whole.
fn fetch(server: &Server, target: &str, range: Option<&str>) -> RawResponse {
    let range = range.map(|r| format!("Range: {r}\r\n")).unwrap_or_default();
    server.request(
        format!(
            "GET {target} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n{range}\r\n",
            server.host()
        )
        .as_bytes(),
    )
}

fn status(server: &Server, project: &str) -> RolloutStatus {
    let resp = server.admin(
        "GET",
        &format!("/projects/{project}/plans/{FW}/status"),
        b"",
    );
    resp.expect_status(200);
    serde_json::from_value(resp.json()).expect("a RolloutStatus")
}

fn record(server: &Server, project: &str, id: &str) -> serde_json::Value {
    server
        .admin("GET", &format!("/projects/{project}/devices/{id}"), b"")
        .expect_status(200)
        .json()
}

fn history(server: &Server, project: &str, id: &str) -> Vec<String> {
    server
        .admin(
            "GET",
            &format!("/projects/{project}/devices/{id}/history"),
            b"",
        )
        .expect_status(200)
        .json()["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["kind"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn deliveries(server: &Server, project: &str, id: &str) -> u64 {
    record(server, project, id)["deliveries"]
        .as_u64()
        .unwrap_or_default()
}

/// Polls until `done` holds (what a stream handed out reaches the rollout when the stream
/// ends, a report a moment after its check), for at most 10 s.
#[track_caller]
fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    assert!(eventually(10, &mut done), "{what}: not within 10 s");
}

#[track_caller]
fn wait_status(
    server: &Server,
    project: &str,
    what: &str,
    done: impl Fn(&RolloutStatus) -> bool,
) -> RolloutStatus {
    let mut last = None;
    let reached = eventually(10, || {
        let s = status(server, project);
        let ok = done(&s);
        last = Some(s);
        ok
    });
    assert!(reached, "{what}: not within 10 s; status: {last:#?}");
    last.expect("polled")
}

/// (a) The forged success: a check at an old version with a real test device's IMEI records an
/// offer (asking for the redirect, so not a byte goes out), and a check at the target reports
/// it. Before, that passed verification; now it is a report without delivery: counted apart,
/// verification, stage and gate unmoved. A real full delivery and the report then succeed.
#[test]
fn a_report_of_the_target_without_a_delivery_is_not_a_success() {
    let server = shared_server();
    let p = "dl-forged";
    let img = image(1510, 3000);
    let d = imei(151, 1);
    server.setup_known(
        p,
        None,
        FW,
        TARGET,
        &img,
        json!({ "rollout": { "stages": [100], "verify_devices": [d] } }),
        std::slice::from_ref(&d),
        FROM,
    );
    redirect(server, p, &d);
    let s = status(server, p);
    assert_eq!(
        (
            s.state,
            s.stage,
            s.verification.offered,
            s.verification.pending
        ),
        (RolloutPhase::Verifying, -1, 1, 1),
        "{s:#?}"
    );

    // The forged report: the device "runs" the target.
    check(server, p, &d, TARGET).expect_refusal(404, 60);
    let s = wait_status(server, p, "the report without delivery", |s| {
        s.verification.reported_without_delivery == 1
    });
    assert_eq!(
        (
            s.state,
            s.stage,
            s.verification.succeeded,
            s.verification.pending
        ),
        (RolloutPhase::Verifying, -1, 0, 1),
        "verification, stage and counts unmoved: {s:#?}"
    );
    assert_eq!(s.totals.reported_without_delivery, 1, "{s:#?}");
    assert_eq!(record(server, p, &d)["state"], "offered");
    assert!(
        history(server, p, &d).contains(&"reported_without_delivery".to_string()),
        "{:?}",
        history(server, p, &d)
    );
    assert_eq!(deliveries(server, p, &d), 0);

    // A real delivery: the whole image streamed, then the report.
    check(server, p, &d, FROM).expect_image(200, &img);
    wait_for("the delivery", || deliveries(server, p, &d) == 1);
    check(server, p, &d, TARGET).expect_refusal(404, 60);
    let s = wait_status(server, p, "the success", |s| s.verification.succeeded == 1);
    assert_eq!(
        (s.state, s.stage, s.verification.reported_without_delivery),
        (RolloutPhase::Running, 0, 0),
        "verification passed; the device is no longer an unbelieved report: {s:#?}"
    );
    assert_eq!(record(server, p, &d)["state"], "succeeded");
}

/// (b) A 200 streamed whole, then the report: a success. The image is larger than what the edge
/// keeps in isolate memory, so its bytes come from the Cache API or R2 through the counter. A
/// download through a redirect's URL resumed with `Range` completes a delivery too; a tail
/// alone (bytes the device never got the start of) does not.
#[test]
fn a_whole_stream_then_the_report_is_a_success_and_a_resume_completes_a_delivery() {
    let server = shared_server();
    let p = "dl-stream";
    let img = image(1520, 1_200_000);
    let half = img.len() / 2;
    let ids: Vec<String> = (1..=3).map(|n| imei(152, n)).collect();
    let (streamed, resumed, tail) = (&ids[0], &ids[1], &ids[2]);
    server.setup_known(
        p,
        None,
        FW,
        TARGET,
        &img,
        json!({ "rollout": { "stages": [100] } }),
        &ids,
        FROM,
    );
    check(server, p, streamed, FROM).expect_image(200, &img);
    wait_for("the streamed delivery", || {
        deliveries(server, p, streamed) == 1
    });
    check(server, p, streamed, TARGET).expect_refusal(404, 60);

    let location = redirect(server, p, resumed);
    let first = fetch(server, &location, Some(&format!("bytes=0-{}", half - 1)));
    first.expect_status(206);
    assert_eq!(first.body, img[..half]);
    let rest = fetch(server, &location, Some(&format!("bytes={half}-")));
    rest.expect_status(206);
    assert_eq!(rest.body, img[half..]);
    wait_for("the resumed delivery", || {
        deliveries(server, p, resumed) == 1
    });
    check(server, p, resumed, TARGET).expect_refusal(404, 60);

    let location = redirect(server, p, tail);
    fetch(server, &location, Some(&format!("bytes={half}-"))).expect_status(206);
    check(server, p, tail, TARGET).expect_refusal(404, 60);

    let s = wait_status(server, p, "two successes, one report not believed", |s| {
        s.totals.succeeded == 2 && s.totals.reported_without_delivery == 1
    });
    assert_eq!(
        (s.totals.offered, s.totals.pending),
        (3, 1),
        "the tail-only device is still pending: {s:#?}"
    );
    assert_eq!(record(server, p, streamed)["state"], "succeeded");
    assert_eq!(record(server, p, resumed)["state"], "succeeded");
    assert_eq!(record(server, p, tail)["state"], "offered");
    assert_eq!(deliveries(server, p, tail), 0);
}

/// (c) Six `302`s (as many as `ban_after`) without a download ban nobody and count nothing;
/// complete downloads of the signed URL count as deliveries, and the sixth bans, as streams do.
#[test]
fn redirects_count_nothing_until_their_url_is_downloaded() {
    let server = shared_server();
    let p = "dl-redirects";
    let img = image(1530, 4000);
    let d = imei(153, 1);
    server.setup_known(
        p,
        Some(6),
        FW,
        TARGET,
        &img,
        json!({ "delivery": "redirect", "rollout": { "stages": [100] } }),
        std::slice::from_ref(&d),
        FROM,
    );
    let locations: Vec<String> = (0..7).map(|_| redirect(server, p, &d)).collect();
    let dev = record(server, p, &d);
    assert_eq!(
        (dev["deliveries"].as_u64(), dev["banned"].as_bool()),
        (Some(0), Some(false)),
        "seven redirects, no download: {dev}"
    );
    assert!(!history(server, p, &d).contains(&"delivery".to_string()));
    let s = status(server, p);
    assert_eq!(
        (s.totals.offered, s.totals.banned, s.totals.pending),
        (1, 0, 1),
        "{s:#?}"
    );

    for n in 1..=6u64 {
        fetch(server, &locations[n as usize % 7], None).expect_image(200, &img);
        wait_for(&format!("delivery {n}"), || deliveries(server, p, &d) == n);
    }
    let dev = record(server, p, &d);
    assert_eq!(
        (dev["banned"].as_bool(), dev["state"].as_str()),
        (Some(true), Some("banned")),
        "the sixth download bans: {dev}"
    );
    let target = format!("{}&need_oss_url=1", url(p, &d, FROM));
    device_request(server, &luatos_get(server, &target)).expect_refusal(403, 62);
    assert_eq!(status(server, p).totals.banned, 1);
}

/// (d) The URL a redirect hands out names the device and the rollout under its signature: with
/// either changed, added or dropped it is refused (403), so one device's URL cannot count for
/// another, nor for another rollout.
#[test]
fn the_signed_url_names_the_device_and_the_rollout() {
    let server = shared_server();
    let p = "dl-url";
    let img = image(1540, 2500);
    let (d, other) = (imei(154, 1), imei(154, 2));
    server.setup_known(
        p,
        None,
        FW,
        TARGET,
        &img,
        json!({ "rollout": { "stages": [100] } }),
        &[d.clone(), other.clone()],
        FROM,
    );
    let location = redirect(server, p, &d);
    let plan = format!("{p}/{FW}@{TARGET}");
    let named = format!("?device={d}&plan={plan}&expires=");
    assert!(location.contains(&named), "{location}");
    let (path, query) = location.split_once('?').unwrap();
    let tail = query.split_once("&expires=").unwrap().1;
    for (what, altered) in [
        (
            "another device",
            format!("{path}?device={other}&plan={plan}&expires={tail}"),
        ),
        (
            "another rollout",
            format!("{path}?device={d}&plan={p}/{FW}@1.0.2&expires={tail}"),
        ),
        ("the recipient dropped", format!("{path}?expires={tail}")),
        ("the device twice", format!("{location}&device={other}")),
    ] {
        let resp = fetch(server, &altered, None);
        assert_eq!(resp.status, 403, "{what}: {altered}");
        assert!(
            resp.json()["error"]["code"]
                .as_str()
                .is_some_and(|c| c.starts_with("url_")),
            "{what}: {}",
            String::from_utf8_lossy(&resp.body)
        );
    }
    fetch(server, &location, None).expect_image(200, &img);
    wait_for("the delivery", || deliveries(server, p, &d) == 1);
    assert_eq!(deliveries(server, p, &other), 0);
    // A signed URL is never served for shared caches to keep.
    let resp = fetch(server, &location, Some("bytes=0-9"));
    assert_eq!(resp.header("Cache-Control"), Some("private, max-age=3600"));
}

/// (e) A failed or banned device that reports the target without a new delivery stays failed or
/// banned (before, a report flipped it to succeeded and cleared the ban); a new delivery, then
/// the report, makes the failed one succeed.
#[test]
fn failed_and_banned_devices_succeed_only_through_a_new_delivery() {
    let server = shared_server();
    let img = image(1550, 2000);

    // Banned after two complete downloads (ban_after 2), then the report.
    let p = "dl-banned";
    let b = imei(155, 1);
    server.setup_known(
        p,
        Some(2),
        FW,
        TARGET,
        &img,
        json!({ "rollout": { "stages": [100] } }),
        std::slice::from_ref(&b),
        FROM,
    );
    for n in 1..=2 {
        check(server, p, &b, FROM).expect_image(200, &img);
        wait_for(&format!("delivery {n}"), || deliveries(server, p, &b) == n);
    }
    assert_eq!(record(server, p, &b)["state"], "banned");
    check(server, p, &b, TARGET).expect_refusal(404, 60);
    let s = wait_status(server, p, "the banned device's report", |s| {
        s.totals.reported_without_delivery == 1
    });
    assert_eq!(
        (s.totals.banned, s.totals.succeeded),
        (1, 0),
        "still banned: {s:#?}"
    );
    let dev = record(server, p, &b);
    assert_eq!(
        (dev["state"].as_str(), dev["banned"].as_bool()),
        (Some("banned"), Some(true)),
        "the ban stays: {dev}"
    );
    check(server, p, &b, FROM).expect_refusal(403, 62);

    // Failed (its job timed out after a delivery), then the report; then a new delivery.
    let p = "dl-failed";
    let f = imei(156, 1);
    server.setup_known(
        p,
        None,
        FW,
        TARGET,
        &img,
        json!({ "rollout": { "stages": [100] }, "job_timeout_s": 1 }),
        std::slice::from_ref(&f),
        FROM,
    );
    check(server, p, &f, FROM).expect_image(200, &img);
    wait_for("the delivery", || deliveries(server, p, &f) == 1);
    std::thread::sleep(std::time::Duration::from_millis(1_500));
    let s = wait_status(server, p, "the timeout", |s| s.totals.failed == 1);
    assert_eq!(record(server, p, &f)["state"], "failed", "{s:#?}");
    check(server, p, &f, TARGET).expect_refusal(404, 60);
    let s = wait_status(server, p, "the failed device's report", |s| {
        s.totals.reported_without_delivery == 1
    });
    assert_eq!((s.totals.failed, s.totals.succeeded), (1, 0), "{s:#?}");
    assert_eq!(record(server, p, &f)["state"], "failed");

    check(server, p, &f, FROM).expect_image(200, &img);
    wait_for("the new delivery", || deliveries(server, p, &f) == 2);
    check(server, p, &f, TARGET).expect_refusal(404, 60);
    let s = wait_status(server, p, "the late success", |s| s.totals.succeeded == 1);
    assert_eq!(
        (s.totals.failed, s.totals.reported_without_delivery),
        (0, 0),
        "{s:#?}"
    );
    assert_eq!(record(server, p, &f)["state"], "succeeded");
}

/// A `GET` of the image whose answer the client never reads still goes out through the counter:
/// what it measures here is documented in README's threat model. This checks only that the
/// counter keeps the answer's framing: `Content-Length`, never chunked, exact bytes.
#[test]
fn counted_answers_keep_their_framing() {
    let server = shared_server();
    let p = "dl-framing";
    let img = image(1560, 70_000);
    let d = imei(156, 2);
    server.setup_known(
        p,
        None,
        FW,
        TARGET,
        &img,
        json!({}),
        std::slice::from_ref(&d),
        FROM,
    );
    let resp = device_request(
        server,
        &luatos_get_with(server, &url(p, &d, FROM), "Range: bytes=0-\r\n"),
    );
    resp.expect_status(206);
    assert!(!resp.chunked);
    assert_eq!(resp.header_exact("Content-Length"), Some("70000"));
    assert_eq!(resp.body, img);
    wait_for("the delivery", || deliveries(server, p, &d) == 1);
}
