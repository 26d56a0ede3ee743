//! What the UDP tests share: a runtime, a running bridge, a fake edge and its bridge, devices.

pub mod fake_edge;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use fota_gateway::sim::{self, Device};
use fota_gateway::{Bridge, Config, RateLimits};

pub use fake_edge::FakeEdge;

/// The product the tests against `wrangler dev` ask for, and its firmware there.
pub const NAME: &str = "A9335_V1723_B3633_WD1";
pub const FIRMWARE: &str = "udpdemo_LuatOS-SoC_Air780EHV";
/// A product the map sends to a project the edge does not know (code 26).
pub const ELSEWHERE: &str = "NotOnTheEdge";

/// No rate limits: the tests' devices share one host and send as fast as they like.
pub const NO_LIMIT: RateLimits = RateLimits::OFF;

/// The map of the tests against `wrangler dev`: [`NAME`] to `project_key`, [`ELSEWHERE`] to a
/// project the edge does not know.
pub fn write_map(dir: &Path, project_key: &str) -> PathBuf {
    let path = dir.join("map.toml");
    let text = format!(
        "[[product]]\nname = \"{NAME}\"\nproject_key = \"{project_key}\"\nfirmware_name = \"{FIRMWARE}\"\n\n\
         [[product]]\nname = \"{ELSEWHERE}\"\nproject_key = \"udp-no-such-project\"\nfirmware_name = \"{FIRMWARE}\"\n"
    );
    std::fs::write(&path, text).expect("map file");
    path
}

/// The configuration the tests start from: no rate limits, every other default.
pub fn config(edge_url: &str, dir: &Path, project_key: &str) -> Config {
    Config {
        rate_limits: NO_LIMIT,
        ..Config::new(
            "127.0.0.1:0".parse().expect("an address"),
            edge_url,
            write_map(dir, project_key),
            dir.join("cache"),
        )
    }
}

/// A bridge in front of `edge_url` with [`config`] and `rate_limits`.
pub async fn bridge(
    edge_url: &str,
    dir: &Path,
    project_key: &str,
    rate_limits: RateLimits,
) -> (Bridge, SocketAddr) {
    start(Config {
        rate_limits,
        ..config(edge_url, dir, project_key)
    })
    .await
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Binds `config`'s bridge and serves it in a task.
pub async fn start(config: Config) -> (Bridge, SocketAddr) {
    let bridge = Bridge::bind(config).await.expect("bridge binds");
    let addr = bridge.local_addr().expect("bridge address");
    let running = bridge.clone();
    tokio::spawn(async move { running.run().await });
    (bridge, addr)
}

/// The fake edge's products: the name devices send -> the `firmware_name` it offers an image for.
pub const PRODUCTS: [(&str, &str); 3] = [
    ("ProductA", "fw_a"),
    ("ProductB", "fw_b"),
    ("ProductC", "fw_c"),
];

/// A bridge in front of `edge` with [`PRODUCTS`] in its map, no rate limits and every other
/// default but what `tweak` changes.
pub async fn fake_bridge(
    edge: &FakeEdge,
    dir: &Path,
    tweak: impl FnOnce(&mut Config),
) -> (Bridge, SocketAddr) {
    let map_path = dir.join("map.toml");
    let map: String = PRODUCTS
        .iter()
        .map(|(name, firmware)| {
            format!("[[product]]\nname = \"{name}\"\nproject_key = \"fake\"\nfirmware_name = \"{firmware}\"\n")
        })
        .collect();
    std::fs::write(&map_path, map).expect("map file");
    let mut config = Config {
        rate_limits: RateLimits::OFF,
        ..Config::new(
            "127.0.0.1:0".parse().expect("an address"),
            &edge.url,
            map_path,
            dir.join("cache"),
        )
    };
    tweak(&mut config);
    start(config).await
}

/// A device on its own socket (its own source port).
pub async fn device(addr: SocketAddr) -> Device {
    Device::connect(addr, Duration::from_millis(500), 4)
        .await
        .expect("device socket")
}

/// `device`'s start line for `product` at 1.0.0, which must be an upgrade: its upgrade_id,
/// package count and last package size.
pub async fn upgrade(device: &mut Device, imei: &str, product: &str) -> (u64, u64, u64) {
    let answer = device
        .start(imei, product, "1.0.0")
        .await
        .expect("an answer");
    sim::parse_luaupdate(&answer).unwrap_or_else(|| panic!("not an upgrade: {answer}"))
}
