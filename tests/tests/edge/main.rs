//! Integration tests of the Worker: a real `wrangler dev` (workerd with KV, R2 and D1 on disk)
//! driven over raw TCP with the exact bytes each Luat client sends (see
//! `shared/docs/device-protocols.md` section 1), plus the admin API it is operated through.
//!
//! One test binary, so one shared server; every test uses its own project keys and device ids
//! (device ids start with a per-test number) so that tests never see each other's state.

mod access;
mod admin;
mod bounds;
mod clients;
mod delivery;
mod device_keys;
mod device_path;
mod fleet;
mod images;
mod metrics;
mod ota;
mod packages;
mod refusals;
mod retention;
mod rollouts;
mod scale;
mod shards;
mod summary;
mod trust;

use fota_tests::{RawResponse, Server};

/// Sends a device's request and checks what every device-facing answer must satisfy, whatever
/// the request: never a 5xx, never `"code":43` (it makes `update.lua` retry every 30 s forever).
#[track_caller]
pub fn device_request(server: &Server, bytes: &[u8]) -> RawResponse {
    let resp = server.request(bytes);
    assert!(
        resp.status >= 200 && resp.status < 500,
        "status {} for {}; body: {}",
        resp.status,
        String::from_utf8_lossy(&bytes[..bytes.len().min(300)]),
        String::from_utf8_lossy(&resp.body)
    );
    assert!(
        !contains(&resp.body, b"\"code\":43"),
        "code 43 in {}",
        String::from_utf8_lossy(&resp.body)
    );
    resp
}

/// A LuatOS `libfota2` request (2025-12 on) for `target` (path and query as the device glues them).
pub fn luatos_get(server: &Server, target: &str) -> Vec<u8> {
    format!(
        "GET {target} HTTP/1.1\r\nConnection: Close\r\nHost: {}\r\n\r\n",
        server.host()
    )
    .into_bytes()
}

/// The same with extra header lines (each ending in `\r\n`), e.g. a `Range` when resuming.
pub fn luatos_get_with(server: &Server, target: &str, extra: &str) -> Vec<u8> {
    format!(
        "GET {target} HTTP/1.1\r\nConnection: Close\r\nHost: {}\r\n{extra}\r\n",
        server.host()
    )
    .into_bytes()
}

pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// A 15-digit IMEI unique to test `test` (000-999), row `row`.
pub fn imei(test: u32, row: u32) -> String {
    format!("86{test:03}{row:010}")
}

/// The `totals` of a plan's rollout status.
pub fn plan_totals(server: &Server, project: &str, firmware: &str) -> serde_json::Value {
    server
        .admin(
            "GET",
            &format!("/projects/{project}/plans/{firmware}/status"),
            b"",
        )
        .expect_status(200)
        .json()["totals"]
        .clone()
}

/// Polls `probe` until it returns true, for at most `seconds`; background registry writes
/// (`waitUntil`) land a moment after the answer that caused them.
pub fn eventually(seconds: u64, mut probe: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    loop {
        if probe() {
            return true;
        }
        if std::time::Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}
