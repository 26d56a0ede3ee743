//! What the UDP tests share: a runtime, a running bridge, a fake edge and its bridge, devices.

pub mod fake_edge;

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use fota_gateway::sim::{self, Device};
use fota_gateway::{Bridge, Config, RateLimits};

pub use fake_edge::FakeEdge;

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
