//! The bridge end to end: devices (`fota_gateway::sim`) speak the Luat guide's UDP protocol to an
//! in-process bridge, through a lossy relay, and the bridge asks a real `wrangler dev` edge (the
//! tests that call `shared_server`) or an in-process fake edge (`support`), for what is the
//! bridge's own: sessions and the cache's bound.

mod support;

use std::path::Path;
use std::time::Duration;

use fota_gateway::sim::{self, Device, Loss};
use fota_gateway::{Config, RateLimit, RateLimits};
use fota_tests::{image, sha256_hex, shared_server, temp_state_dir, Server};
use serde_json::json;
use support::{
    bridge, config, device, fake_bridge, runtime, start, upgrade, FakeEdge, ELSEWHERE, FIRMWARE,
    NAME, NO_LIMIT,
};

const TARGET: &str = "2018.1.10";
/// The plan's IMEI range; devices outside it hear `imei range error`.
const RANGE: [&str; 2] = ["862991443750000", "862991443759999"];

fn device_record(server: &Server, project: &str, id: &str) -> serde_json::Value {
    server
        .admin("GET", &format!("/projects/{project}/devices/{id}"), b"")
        .expect_status(200)
        .json()
}

#[test]
fn a_device_downloads_through_a_lossy_link_and_the_edge_counts_one_delivery() {
    let server = shared_server();
    let project = "udp-lossy";
    let img = image(1010, 300 * 1024);
    server.setup(
        project,
        None,
        FIRMWARE,
        TARGET,
        &img,
        json!({ "imei_ranges": [RANGE] }),
    );
    let dir = temp_state_dir("udp-bridge");
    runtime().block_on(async {
        let (bridge, addr) = bridge(
            &format!("http://{}", server.host()),
            &dir,
            project,
            NO_LIMIT,
        )
        .await;
        let loss = Loss {
            drop: 0.05,
            duplicate: 0.05,
            reorder: 0.05,
        };
        let (relay, relayed) = sim::start_relay(addr, loss, 0x5eed).await.unwrap();

        let imei = "862991443750001";
        let mut device = Device::connect(relay, Duration::from_millis(150), 25)
            .await
            .unwrap();
        let download = device
            .download(imei, NAME, "2018.1.3")
            .await
            .expect("download through the relay");
        assert_eq!(
            (download.package_count, download.last_package_size),
            (301, 600)
        );
        assert_eq!(download.image.len(), img.len());
        assert_eq!(download.sha256, sha256_hex(&img));
        let relayed = *relayed.lock().unwrap();
        eprintln!(
            "relay: {relayed:?}; device resent {} datagrams",
            device.resends
        );
        assert!(
            relayed.dropped > 0 && relayed.duplicated > 0 && relayed.reordered > 0,
            "{relayed:?}"
        );

        // The start line again (a retry, or a device that restarts its download) gets the same
        // answer without a second check: the edge counted one delivery.
        let again = device.start(imei, NAME, "2018.1.3").await.unwrap();
        assert_eq!(again, format!("LUAUPDATE,{},301,600", download.upgrade_id));
        let counts = bridge.counts();
        assert_eq!(
            (counts.starts, counts.upgrades_offered),
            (1, 1),
            "{counts:?}"
        );
        assert!(counts.start_repeats >= 1, "{counts:?}");
        assert_eq!(counts.downloads_finished, 1, "{counts:?}");
        let record = device_record(server, project, imei);
        assert_eq!(record["deliveries"].as_u64(), Some(1), "{record}");

        // Another device of the same fleet gets the same image under its own upgrade_id (a
        // session serves one source), and the image is not fetched again.
        let mut direct = Device::connect(addr, Duration::from_millis(500), 4)
            .await
            .unwrap();
        let other = direct
            .start("862991443750002", NAME, "2018.1.3")
            .await
            .unwrap();
        let (other_id, count, last) = sim::parse_luaupdate(&other).expect("an upgrade");
        assert_eq!((count, last), (301, 600), "{other}");
        assert_ne!(other_id, download.upgrade_id);
        assert_eq!(bridge.counts().images_fetched, 1, "{:?}", bridge.counts());

        refusals_in_the_sample_s_words(&mut direct).await;
        a_restarted_bridge_serves_from_disk(server, &dir, project, &img, download.upgrade_id).await;
    });
}

/// The edge's refusals, in the sample's words.
async fn refusals_in_the_sample_s_words(direct: &mut Device) {
    assert_eq!(
        direct.start("862991443750003", NAME, TARGET).await.unwrap(),
        "version error"
    );
    assert_eq!(
        direct
            .start("862991443750003", NAME, "2018.1.11")
            .await
            .unwrap(),
        "version error"
    );
    assert_eq!(
        direct
            .start("862991443760000", NAME, "2018.1.3")
            .await
            .unwrap(),
        "imei range error"
    );
    assert_eq!(
        direct
            .start("862991443750004", "SomeOtherProduct", "2018.1.3")
            .await
            .unwrap(),
        "no upgrade"
    );
}

/// A bridge restarted on the same cache has no sessions (the old upgrade_id hears `error all`;
/// the device starts again), and serves the image from disk, not the edge.
async fn a_restarted_bridge_serves_from_disk(
    server: &Server,
    dir: &Path,
    project: &str,
    img: &[u8],
    old_id: u64,
) {
    let (restarted, addr2) =
        bridge(&format!("http://{}", server.host()), dir, project, NO_LIMIT).await;
    let mut device = Device::connect(addr2, Duration::from_millis(500), 4)
        .await
        .unwrap();
    let old = format!("Get1,{old_id}");
    let refused = device.ask(old.as_bytes(), |_| true).await.unwrap();
    assert_eq!(refused, b"error all");
    let fresh = device
        .start("862991443750005", NAME, "2018.1.3")
        .await
        .unwrap();
    let (id, count, last) = sim::parse_luaupdate(&fresh).expect("an upgrade");
    assert_eq!((count, last), (301, 600), "{fresh}");
    let first = device.get(1, id, 1022).await.unwrap();
    assert_eq!(first, img[..1022]);
    assert_eq!(
        restarted.counts().images_fetched,
        0,
        "{:?}",
        restarted.counts()
    );
}

#[test]
fn a_banned_or_unplanned_device_hears_no_upgrade() {
    let server = shared_server();
    let project = "udp-ban";
    let img = image(1011, 5000);
    server.setup(project, Some(1), FIRMWARE, TARGET, &img, json!({}));
    let dir = temp_state_dir("udp-ban");
    runtime().block_on(async {
        let config_ttl_zero = Config {
            // No memo: every start line is a new check, as after the memo's time has passed.
            memo_ttl: Duration::ZERO,
            ..config(&format!("http://{}", server.host()), &dir, project)
        };
        let (bridge, addr) = start(config_ttl_zero).await;
        let mut device = Device::connect(addr, Duration::from_millis(1000), 3)
            .await
            .unwrap();
        let imei = "862991443750010";
        let first = device.start(imei, NAME, "2018.1.3").await.unwrap();
        assert_eq!(
            sim::parse_luaupdate(&first).map(|(_, count, last)| (count, last)),
            Some((5, 912)),
            "{first}"
        );
        // ban_after 1: the second fresh check is refused with 62, which devices hear as `no upgrade`.
        assert_eq!(
            device.start(imei, NAME, "2018.1.3").await.unwrap(),
            "no upgrade"
        );
        let record = device_record(server, project, imei);
        assert_eq!(record["banned"].as_bool(), Some(true), "{record}");
        // A product whose project the edge does not know (26): `no upgrade` too.
        assert_eq!(
            device
                .start("862991443750011", ELSEWHERE, "2018.1.3")
                .await
                .unwrap(),
            "no upgrade"
        );
        assert_eq!(bridge.counts().edge_errors, 0, "{:?}", bridge.counts());
    });
}

/// These need no edge: malformed datagrams, unknown upgrades, an unreachable edge, rate limits.
#[test]
fn malformed_datagrams_get_the_sample_error_texts() {
    let dir = temp_state_dir("udp-malformed");
    runtime().block_on(async {
        // Port 9 on loopback: nothing listens, so every check fails to connect.
        let (bridge, addr) = bridge("http://127.0.0.1:9", &dir, "nothing", NO_LIMIT).await;
        let img = image(1012, 3000);
        let seeded = bridge.cache().insert(img.clone()).await.unwrap();
        let mut device = Device::connect(addr, Duration::from_millis(500), 2)
            .await
            .unwrap();
        let id = bridge
            .open_session(device.local_addr().unwrap(), &seeded)
            .unwrap();
        let unknown = if id == 424_242 { 424_243 } else { 424_242 };
        let any = |_: &[u8]| true;
        let table: Vec<(Vec<u8>, &[u8])> = vec![
            (b"hello".to_vec(), b"unknown function"),
            (
                b"862991443750001,A9335-V1,1.1.8".to_vec(),
                b"unknown function",
            ),
            (b"86299144375000,A9335,1.1.8".to_vec(), b"unknown function"),
            (b"Get1,".to_vec(), b"unknown function"),
            (vec![b'x'; 600], b"unknown function"),
            ("Get1,1\u{e9}".as_bytes().to_vec(), b"error all"),
            (format!("Get0,{id}").into_bytes(), b"error all"),
            (format!("Get4,{id}").into_bytes(), b"error all"),
            (
                format!("Get99999999999999999999,{id}").into_bytes(),
                b"error all",
            ),
            (format!("Get1,{unknown}").into_bytes(), b"error all"),
            (b"Get1,99999999999999999999".to_vec(), b"error all"),
            // The edge cannot be reached: `no upgrade` (and it is logged).
            (
                format!("862991443750001,{NAME},1.1.8").into_bytes(),
                b"no upgrade",
            ),
        ];
        for (datagram, expect) in &table {
            let got = device.ask(datagram, any).await.unwrap();
            assert_eq!(
                String::from_utf8_lossy(&got),
                String::from_utf8_lossy(expect),
                "for {:?}",
                String::from_utf8_lossy(datagram)
            );
        }
        let last = device
            .ask(format!("Get3,{id}").as_bytes(), any)
            .await
            .unwrap();
        assert_eq!((&last[..2], &last[2..]), (&[0u8, 3][..], &img[2044..]));
        let counts = bridge.counts();
        assert_eq!(
            (
                counts.unknown,
                counts.oversize,
                counts.not_ascii,
                counts.get_errors,
                counts.edge_errors
            ),
            (4, 1, 1, 5, 1),
            "{counts:?}"
        );
        // The last package alone is served, but finishes no download (packages 1 and 2 were
        // never taken).
        assert_eq!(
            (counts.packages_sent, counts.downloads_finished),
            (1, 0),
            "{counts:?}"
        );
    });
}

#[test]
fn a_source_over_its_rate_limit_is_dropped_and_counted() {
    let dir = temp_state_dir("udp-limit");
    runtime().block_on(async {
        let (bridge, addr) = bridge(
            "http://127.0.0.1:9",
            &dir,
            "nothing",
            RateLimits {
                per_source: RateLimit {
                    per_second: 1.0,
                    burst: 5.0,
                },
                per_ip: RateLimit::OFF,
            },
        )
        .await;
        let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        for _ in 0..20 {
            socket.send_to(b"hello", addr).await.unwrap();
        }
        let mut answers = 0;
        let mut buf = [0u8; 64];
        while let Ok(Ok(_)) =
            tokio::time::timeout(Duration::from_millis(300), socket.recv_from(&mut buf)).await
        {
            answers += 1;
        }
        assert_eq!(answers, 5);
        let counts = bridge.counts();
        assert_eq!(
            (counts.datagrams, counts.rate_limited, counts.unknown),
            (20, 15, 5),
            "{counts:?}"
        );
        // Another source has its own budget.
        let mut other = Device::connect(addr, Duration::from_millis(300), 1)
            .await
            .unwrap();
        assert_eq!(
            other.ask(b"hello", |_| true).await.unwrap(),
            b"unknown function"
        );
    });
}

#[test]
fn the_per_ip_limit_counts_every_port_of_a_host() {
    let dir = temp_state_dir("udp-limit-ip");
    runtime().block_on(async {
        // Per IP (the default is on, 200/s): every port of the host draws from one budget.
        assert_eq!(
            Config::new(
                "127.0.0.1:0".parse().unwrap(),
                "http://127.0.0.1:9",
                dir.join("m"),
                dir.join("c")
            )
            .rate_limits
            .per_ip,
            RateLimit::DEFAULT_PER_IP
        );
        let per_ip = RateLimits {
            per_source: RateLimit::OFF,
            per_ip: RateLimit {
                per_second: 0.01,
                burst: 5.0,
            },
        };
        let (bridge, addr) = bridge("http://127.0.0.1:9", &dir, "nothing", per_ip).await;
        let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        for _ in 0..20 {
            socket.send_to(b"hello", addr).await.unwrap();
        }
        let mut answers = 0;
        let mut buf = [0u8; 64];
        while let Ok(Ok(_)) =
            tokio::time::timeout(Duration::from_millis(300), socket.recv_from(&mut buf)).await
        {
            answers += 1;
        }
        assert_eq!(answers, 5);
        let another_port = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        another_port.send_to(b"hello", addr).await.unwrap();
        let heard =
            tokio::time::timeout(Duration::from_millis(300), another_port.recv_from(&mut buf))
                .await;
        assert!(heard.is_err(), "another port of the same host was answered");
        let counts = bridge.counts();
        assert_eq!(
            (counts.datagrams, counts.rate_limited),
            (21, 16),
            "{counts:?}"
        );
    });
}

#[test]
fn a_reloaded_map_takes_effect_and_a_broken_one_is_refused() {
    let dir = temp_state_dir("udp-reload");
    runtime().block_on(async {
        let (bridge, addr) = bridge("http://127.0.0.1:9", &dir, "nothing", NO_LIMIT).await;
        let mut device = Device::connect(addr, Duration::from_millis(500), 2).await.unwrap();
        // Not in the map: refused by the bridge itself, the edge is not asked.
        assert_eq!(device.start("862991443750001", "LaterProduct", "1.0.0").await.unwrap(), "no upgrade");
        assert_eq!((bridge.counts().refusals, bridge.counts().edge_errors), (1, 0));

        let map = dir.join("map.toml");
        let text = std::fs::read_to_string(&map).unwrap();
        std::fs::write(&map, format!("{text}\n[[product]]\nname = \"LaterProduct\"\nproject_key = \"p\"\nfirmware_name = \"f\"\n")).unwrap();
        assert_eq!(bridge.reload_map().unwrap(), 3);
        // Now the edge is asked (and cannot be reached here): the remembered answer was dropped.
        assert_eq!(device.start("862991443750001", "LaterProduct", "1.0.0").await.unwrap(), "no upgrade");
        assert_eq!((bridge.counts().refusals, bridge.counts().edge_errors), (1, 1));

        std::fs::write(&map, "[[product]]\nname = \"broken\"\n").unwrap();
        assert!(bridge.reload_map().is_err());
        assert_eq!(device.start("862991443750002", "LaterProduct", "1.0.0").await.unwrap(), "no upgrade");
        assert_eq!((bridge.counts().refusals, bridge.counts().edge_errors), (1, 2), "the previous map stays");
    });
}

#[test]
fn upgrade_ids_are_random_and_serve_only_the_source_that_started_them() {
    let dir = temp_state_dir("udp-sessions");
    runtime().block_on(async {
        let img = image(1020, 3000);
        let edge = FakeEdge::start(&[("fw_a", &img)]);
        let (bridge, addr) = fake_bridge(&edge, &dir, |_| {}).await;

        // (a) Six devices, six start lines: six random ids of at most nine digits.
        let mut devices = Vec::new();
        let mut ids = Vec::new();
        for i in 0..6 {
            let mut device = device(addr).await;
            let (id, count, last) =
                upgrade(&mut device, &format!("86299144375010{i}"), "ProductA").await;
            assert_eq!((count, last), (3, 956));
            ids.push(id);
            devices.push(device);
        }
        assert!(
            ids.iter()
                .all(|id| (1..=999_999_999).contains(id) && id.to_string().len() <= 9),
            "{ids:?}"
        );
        assert!(
            ids.windows(2).all(|w| w[1] != w[0] + 1),
            "sequential: {ids:?}"
        );
        let mut distinct = ids.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), ids.len(), "{ids:?}");
        assert_eq!((edge.checks(), edge.fetches(&img)), (6, 1));

        // (b) The first device's id from another socket (another source port): `error all`, and
        // no package follows.
        let stranger = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        stranger
            .send_to(format!("Get1,{}", ids[0]).as_bytes(), addr)
            .await
            .unwrap();
        let mut buf = [0u8; 2048];
        let (len, _) = stranger.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..len], b"error all");
        let more =
            tokio::time::timeout(Duration::from_millis(200), stranger.recv_from(&mut buf)).await;
        assert!(more.is_err(), "the stranger got another datagram");
        // Its own source downloads it whole.
        let own = devices[0].download_from(ids[0], 3, 956).await.unwrap();
        assert_eq!(own, img);

        let counts = bridge.counts();
        assert_eq!(
            (
                counts.sessions_opened,
                counts.foreign_gets,
                counts.get_errors
            ),
            (6, 1, 1),
            "{counts:?}"
        );
        assert_eq!(counts.downloads_finished, 1, "{counts:?}");
    });
}

#[test]
fn unknown_ids_are_refused_and_each_source_gets_its_own() {
    let dir = temp_state_dir("udp-sessions-unknown");
    runtime().block_on(async {
        let img = image(1025, 3000);
        let edge = FakeEdge::start(&[("fw_a", &img)]);
        let (bridge, addr) = fake_bridge(&edge, &dir, |_| {}).await;
        let mut first = device(addr).await;
        let imei = "862991443750100";
        let (id, _, _) = upgrade(&mut first, imei, "ProductA").await;

        // (c) An id no session has, and ids out of range: `error all`.
        let unknown = if id == 123_456_789 {
            123_456_788
        } else {
            123_456_789
        };
        for id in [unknown, 0, 1_000_000_000] {
            let got = first
                .ask(format!("Get1,{id}").as_bytes(), |_| true)
                .await
                .unwrap();
            assert_eq!(got, b"error all", "Get1,{id}");
        }

        // The same start line again from the same source keeps its id; from a new source (a
        // restarted device, say) it gets its own, without a second check at the edge.
        assert_eq!(upgrade(&mut first, imei, "ProductA").await.0, id);
        let mut restarted = device(addr).await;
        let (other, _, _) = upgrade(&mut restarted, imei, "ProductA").await;
        assert_ne!(other, id);
        assert_eq!(restarted.get(1, other, 1022).await.unwrap(), img[..1022]);
        assert_eq!(edge.checks(), 1);
        let counts = bridge.counts();
        assert_eq!(
            (
                counts.sessions_opened,
                counts.foreign_gets,
                counts.get_errors
            ),
            (2, 0, 3),
            "{counts:?}"
        );
    });
}

#[test]
fn an_upgrade_id_expires_after_the_session_ttl() {
    let dir = temp_state_dir("udp-session-ttl");
    runtime().block_on(async {
        let img = image(1021, 3000);
        let edge = FakeEdge::start(&[("fw_a", &img)]);
        let ttl = Duration::from_secs(1);
        let (bridge, addr) = fake_bridge(&edge, &dir, |c| c.session_ttl = ttl).await;
        let mut device = device(addr).await;
        let (id, _, _) = upgrade(&mut device, "862991443750200", "ProductA").await;
        assert_eq!(bridge.sessions(), 1);
        tokio::time::sleep(ttl + Duration::from_millis(100)).await;
        let got = device
            .ask(format!("Get1,{id}").as_bytes(), |_| true)
            .await
            .unwrap();
        assert_eq!(got, b"error all");
        assert_eq!(
            bridge.sessions(),
            0,
            "the expired session is gone from memory"
        );
        // The device starts again: a new session (the check is remembered, not asked again).
        let (again, _, _) = upgrade(&mut device, "862991443750200", "ProductA").await;
        assert_ne!(again, id);
        assert_eq!(edge.checks(), 1);
    });
}

#[test]
fn a_bounded_cache_evicts_the_least_recently_used_image() {
    let dir = temp_state_dir("udp-cache-lru");
    runtime().block_on(async {
        let (a, b, c) = (image(1022, 3000), image(1023, 3000), image(1024, 3000));
        let edge = FakeEdge::start(&[("fw_a", &a), ("fw_b", &b), ("fw_c", &c)]);
        // Room for two of the three images.
        let (bridge, addr) = fake_bridge(&edge, &dir, |c| c.cache_max_bytes = 7000).await;
        let mut device = device(addr).await;
        let imei = "862991443750300";
        let (id_a, _, _) = upgrade(&mut device, imei, "ProductA").await;
        let (id_b, _, _) = upgrade(&mut device, imei, "ProductB").await;
        assert_eq!(device.get(1, id_a, 1022).await.unwrap(), a[..1022]);
        let (id_c, _, _) = upgrade(&mut device, imei, "ProductC").await;
        let cache = bridge.cache();
        let on_disk = |img: &[u8]| cache.path_of(&sha256_hex(img)).exists();
        assert!(
            on_disk(&a) && on_disk(&c) && !on_disk(&b),
            "b was the least recently used"
        );
        assert!(!cache.holds(&sha256_hex(&b)));
        assert_eq!(cache.bytes(), 6000);
        // b's session still downloads it: fetched again from the edge, which evicts a now.
        assert_eq!(device.download_from(id_b, 3, 956).await.unwrap(), b);
        assert_eq!(
            [edge.fetches(&a), edge.fetches(&b), edge.fetches(&c)],
            [1, 2, 1]
        );
        assert!(on_disk(&b) && on_disk(&c) && !on_disk(&a));
        assert_eq!(device.get(1, id_c, 1022).await.unwrap(), c[..1022]);
        assert_eq!(bridge.counts().images_fetched, 4, "{:?}", bridge.counts());
    });
}

/// Every device's delivery is its own: the bridge fills its cache once (with the first device's
/// URL, which the edge counts for that device), and when another device has taken every package
/// of its session the bridge fetches that device's own signed URL, so the edge counts its
/// delivery too. Both devices' reports of the target are then successes, not reports without
/// delivery; a device that took only some packages has no delivery.
#[test]
fn each_finished_udp_download_counts_that_device_s_delivery() {
    let server = shared_server();
    let project = "udp-each";
    let img = image(1030, 20 * 1024);
    server.setup(
        project,
        None,
        FIRMWARE,
        TARGET,
        &img,
        json!({ "imei_ranges": [RANGE], "rollout": { "stages": [100] } }),
    );
    let dir = temp_state_dir("udp-each");
    runtime().block_on(async {
        let (bridge, addr) = bridge(
            &format!("http://{}", server.host()),
            &dir,
            project,
            NO_LIMIT,
        )
        .await;
        let (first, second, partial) = ("862991443750101", "862991443750102", "862991443750103");
        let mut devices = Vec::new();
        for imei in [first, second] {
            let mut device = Device::connect(addr, Duration::from_millis(500), 4)
                .await
                .unwrap();
            let download = device.download(imei, NAME, "2018.1.3").await.unwrap();
            assert_eq!(download.sha256, sha256_hex(&img));
            devices.push(device);
        }
        // The third takes the first package only.
        let mut third = Device::connect(addr, Duration::from_millis(500), 4)
            .await
            .unwrap();
        let (id, count, _) =
            sim::parse_luaupdate(&third.start(partial, NAME, "2018.1.3").await.unwrap())
                .expect("an upgrade");
        assert_eq!(count, 21);
        assert_eq!(third.get(1, id, 1022).await.unwrap(), img[..1022]);

        let mut told = false;
        for _ in 0..100 {
            if bridge.counts().deliveries_told == 1 {
                told = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let counts = bridge.counts();
        assert!(told, "the second device's delivery was told: {counts:?}");
        assert_eq!(
            (
                counts.images_fetched,
                counts.downloads_finished,
                counts.edge_errors
            ),
            (1, 2, 0),
            "{counts:?}"
        );
        for imei in [first, second] {
            let record = device_record(server, project, imei);
            assert_eq!(record["deliveries"].as_u64(), Some(1), "{imei}: {record}");
        }
        assert_eq!(
            device_record(server, project, partial)["deliveries"].as_u64(),
            Some(0)
        );

        // Both report the target (a start line at it): two successes, no report without one.
        for (device, imei) in devices.iter_mut().zip([first, second]) {
            assert_eq!(
                device.start(imei, NAME, TARGET).await.unwrap(),
                "version error"
            );
        }
        // Their ids were bound by these checks in an open project, so the rollout serves them as
        // unverified devices: each one's record says what its report became.
        for imei in [first, second] {
            let mut record = serde_json::Value::Null;
            for _ in 0..100 {
                record = device_record(server, project, imei);
                if record["state"] == "succeeded" {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            assert_eq!(record["state"], "succeeded", "{imei}: {record}");
        }
    });
}
