//! Images served from the edge's copies (isolate memory for small images, the Cache API for
//! large ones) are byte for byte the upload, framed exactly as before: full answers, ranges,
//! suffixes, unsatisfiable and ignored ranges, through the device check (`update.lua` sends
//! `Range: bytes=0-`) and `GET /images/{sha256}`. One isolate reads R2 at most once per image,
//! however often and however concurrently it is downloaded (the test server runs with
//! `DEBUG_COUNTERS`, so answers say how many R2 reads their image has cost this isolate).

use crate::{device_request, imei};
use fota_tests::{image, md5_hex, sha256_hex, shared_server, RawResponse, Server};
use serde_json::json;

const FW: &str = "img_Luat_RDA8910";

/// What one `Range` header must be answered with over an image of `n` bytes: the status, the
/// bytes sent (`start..end`) and the `Content-Range`. Written out by hand, independently of
/// `fota_shared::leaf::range`, so the edge is checked against the HTTP rules rather than against itself.
fn cases(n: usize) -> Vec<(Option<String>, u16, std::ops::Range<usize>, Option<String>)> {
    let last = n - 1;
    let partial = |start: usize, end: usize| {
        (
            206,
            start..end + 1,
            Some(format!("bytes {start}-{end}/{n}")),
        )
    };
    let rows: Vec<(
        Option<String>,
        (u16, std::ops::Range<usize>, Option<String>),
    )> = vec![
        (None, (200, 0..n, None)),
        (Some("bytes=0-".into()), partial(0, last)),
        (Some("bytes=10-19".into()), partial(10, 19)),
        (Some("bytes=1000-".into()), partial(1000, last)),
        (Some(format!("bytes={last}-")), partial(last, last)),
        (Some(format!("bytes=5-{}", n + 1000)), partial(5, last)),
        (Some("bytes=-100".into()), partial(n - 100, last)),
        (Some(format!("bytes=-{}", n + 5)), partial(0, last)),
        (
            Some(format!("bytes={n}-")),
            (416, 0..0, Some(format!("bytes */{n}"))),
        ),
        (
            Some("bytes=-0".into()),
            (416, 0..0, Some(format!("bytes */{n}"))),
        ),
        // Several ranges and a reversed range are not honoured: the whole image.
        (Some("bytes=0-1,5-6".into()), (200, 0..n, None)),
        (Some("bytes=5-2".into()), (200, 0..n, None)),
    ];
    rows.into_iter()
        .map(|(h, (s, r, c))| (h, s, r, c))
        .collect()
}

/// Checks one answer against the upload: status, exact bytes, exact framing, the digests.
#[track_caller]
fn expect_answer(
    resp: &RawResponse,
    img: &[u8],
    status: u16,
    bytes: &std::ops::Range<usize>,
    content_range: Option<&str>,
    what: &str,
) {
    assert_eq!(
        resp.status,
        status,
        "{what}: body {}",
        String::from_utf8_lossy(&resp.body[..resp.body.len().min(200)])
    );
    assert_eq!(
        resp.header_exact("Content-Range"),
        content_range,
        "{what}: {:?}",
        resp.headers
    );
    assert!(!resp.chunked, "{what}: chunked: {:?}", resp.headers);
    if status == 416 {
        assert!(resp.body.is_empty(), "{what}: a 416 with a body");
        return;
    }
    assert_eq!(
        resp.header_exact("Content-Length"),
        Some(bytes.len().to_string().as_str()),
        "{what}: {:?}",
        resp.headers
    );
    assert!(
        resp.body == img[bytes.clone()],
        "{what}: body differs from the upload's bytes {bytes:?} ({} bytes)",
        resp.body.len()
    );
    assert_eq!(
        resp.header_exact("Content-Type"),
        Some("application/octet-stream"),
        "{what}"
    );
    assert_eq!(resp.header_exact("Accept-Ranges"), Some("bytes"), "{what}");
    assert_eq!(
        resp.header("ETag"),
        Some(format!("\"{}\"", sha256_hex(img)).as_str()),
        "{what}"
    );
    assert_eq!(
        resp.header("X-Content-SHA256"),
        Some(sha256_hex(img).as_str()),
        "{what}"
    );
    assert_eq!(
        resp.header("X-Content-MD5"),
        Some(md5_hex(img).as_str()),
        "{what}"
    );
}

fn r2_reads(resp: &RawResponse) -> u64 {
    resp.header("X-Debug-R2-Reads")
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no X-Debug-R2-Reads: {:?}", resp.headers))
}

fn image_route(server: &Server, img: &[u8], range: Option<&str>) -> RawResponse {
    let range = range.map(|r| format!("Range: {r}\r\n")).unwrap_or_default();
    let req = format!(
        "GET /images/{} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n{range}\r\n",
        sha256_hex(img),
        server.host()
    );
    server.request(req.as_bytes())
}

/// `update.lua` on Air724 (a `Range` on every request, `bytes=0-` on a first download).
fn air724_check(server: &Server, project: &str, id: &str, range: &str) -> RawResponse {
    let req = format!(
        "GET /api/site/firmware_upgrade?project_key={project}&imei={id}&firmware_name={FW}&core_version=3&dfota=1&version=1.0.0 HTTP/1.1\r\nHost: 127.0.0.1\r\nRange: {range}\r\nConnection: short\r\n\r\n"
    );
    device_request(server, req.as_bytes())
}

/// Downloads `img` through the check and `/images/`: every range case through the check, every
/// case `rounds` times through `/images/`, then `full_downloads` whole downloads. Returns the
/// sources the answers named and the R2 reads of the bytes (gets) the last answer reported.
fn download_everything(
    server: &Server,
    project: &str,
    test: u32,
    img: &[u8],
    rounds: u32,
    full_downloads: u32,
) -> (Vec<String>, u64) {
    let started = std::time::Instant::now();
    let n = img.len();
    let mut sources = Vec::new();
    let (mut last_reads, mut last_heads) = (0, 0);
    let mut note = |resp: &RawResponse, sources: &mut Vec<String>| {
        if resp.status != 416 {
            sources.push(resp.header("X-Debug-Source").unwrap_or("none").to_string());
            last_reads = r2_reads(resp);
            last_heads = resp
                .header("X-Debug-R2-Heads")
                .and_then(|v| v.parse().ok())
                .expect("X-Debug-R2-Heads");
        }
    };
    // The device check first (its plan names the image, so no record lookup): a fresh download
    // as update.lua asks for it, by a few devices, then resumes by one of them.
    for row in 0..3 {
        let resp = air724_check(server, project, &imei(test, row), "bytes=0-");
        expect_answer(
            &resp,
            img,
            206,
            &(0..n),
            Some(&format!("bytes 0-{}/{n}", n - 1)),
            "check bytes=0-",
        );
        note(&resp, &mut sources);
    }
    for (header, status, bytes, content_range) in cases(n) {
        // Resumes (not from byte 0) and unsatisfiable ranges are no delivery, so one device may
        // ask as often as it likes.
        let Some(header) = header else { continue };
        if !(status == 416 || (status == 206 && bytes.start > 0)) {
            continue;
        }
        let resp = air724_check(server, project, &imei(test, 0), &header);
        expect_answer(
            &resp,
            img,
            status,
            &bytes,
            content_range.as_deref(),
            &format!("check {header}"),
        );
        note(&resp, &mut sources);
    }
    // The content-addressed route: every case `rounds` times, then many full downloads.
    for round in 0..rounds {
        for (header, status, bytes, content_range) in cases(n) {
            let resp = image_route(server, img, header.as_deref());
            expect_answer(
                &resp,
                img,
                status,
                &bytes,
                content_range.as_deref(),
                &format!("/images/ {header:?} round {round}"),
            );
            assert_eq!(
                resp.header_exact("Cache-Control"),
                Some("public, max-age=31536000, immutable")
            );
            note(&resp, &mut sources);
        }
    }
    for i in 0..full_downloads {
        let resp = image_route(server, img, None);
        expect_answer(
            &resp,
            img,
            200,
            &(0..n),
            None,
            &format!("/images/ download {i}"),
        );
        note(&resp, &mut sources);
    }
    // `GET /images/` asks R2 whether an image still exists once its record is a minute old
    // (`RECORD_TTL_MS`), wherever its bytes are kept: at most one `head` per minute of the test.
    let heads = last_heads;
    let minutes = started.elapsed().as_secs() / 60;
    assert!(
        heads <= minutes,
        "{heads} R2 heads in {minutes} whole minutes"
    );
    (sources, last_reads - heads)
}

#[test]
fn small_images_come_from_isolate_memory_byte_identical() {
    let server = shared_server();
    let project = "img-memory";
    let img = image(801, 150_000);
    server.setup(project, Some(50), FW, "1.0.1", &img, json!({}));
    let (sources, reads) = download_everything(server, project, 801, &img, 3, 100);
    assert!(
        sources.iter().all(|s| s == "memory"),
        "sources: {sources:?}"
    );
    assert!(
        reads <= 1,
        "{reads} R2 reads for {} downloads of one image",
        sources.len()
    );
}

#[test]
fn large_images_come_from_the_cache_api_byte_identical() {
    let server = shared_server();
    let project = "img-cache";
    // Just over the 1 MiB memory limit (the test server accepts up to 2 MiB): big answers through
    // miniflare's cache are slow, and the test server is shared.
    let img = image(802, 1_100_000);
    server.setup(project, Some(50), FW, "1.0.1", &img, json!({}));
    let (sources, reads) = download_everything(server, project, 802, &img, 1, 10);
    assert!(sources.iter().all(|s| s == "cache"), "sources: {sources:?}");
    assert!(
        reads <= 1,
        "{reads} R2 reads for {} downloads of one image",
        sources.len()
    );
}

/// A burst of first downloads of one image in one isolate (a fleet told to upgrade) shares one
/// R2 read: the others wait for the first request's fill instead of each reading R2.
#[test]
fn concurrent_first_downloads_share_one_r2_read() {
    let server = shared_server();
    let project = "img-burst";
    let small = image(803, 200_000);
    let large = image(804, 1_100_000);
    server.setup(project, None, FW, "1.0.1", &small, json!({}));
    server
        .admin(
            "PUT",
            &format!("/projects/{project}/firmware/{FW}_big/1.0.1"),
            &large,
        )
        .expect_one_of(&[200, 201]);
    for img in [&small, &large] {
        let answers: Vec<RawResponse> = std::thread::scope(|s| {
            let threads: Vec<_> = (0..12)
                .map(|_| s.spawn(|| image_route(server, img, None)))
                .collect();
            threads
                .into_iter()
                .map(|t| t.join().expect("download thread"))
                .collect()
        });
        for (i, resp) in answers.iter().enumerate() {
            expect_answer(
                resp,
                img,
                200,
                &(0..img.len()),
                None,
                &format!("concurrent download {i} of {} bytes", img.len()),
            );
        }
        let reads = answers.iter().map(r2_reads).max().unwrap_or(0);
        assert!(
            reads <= 1,
            "{reads} R2 reads for 12 concurrent first downloads of {} bytes",
            img.len()
        );
    }
}

/// A deleted image is gone from the isolate that deleted it, memory and cache alike.
#[test]
fn a_deleted_image_is_no_longer_served_from_memory() {
    let server = shared_server();
    let project = "img-delete";
    let img = image(805, 50_000);
    server
        .admin(
            "PUT",
            &format!("/projects/{project}"),
            br#"{"name":"img-delete"}"#,
        )
        .expect_status(200);
    let fw = format!("/projects/{project}/firmware/{FW}/1.0.1");
    server.admin("PUT", &fw, &img).expect_one_of(&[200, 201]);
    for _ in 0..3 {
        let resp = image_route(server, &img, None);
        expect_answer(&resp, &img, 200, &(0..img.len()), None, "before the delete");
    }
    server.admin("DELETE", &fw, b"").expect_status(204);
    image_route(server, &img, None).expect_status(404);
    image_route(server, &img, Some("bytes=0-")).expect_status(404);
}
