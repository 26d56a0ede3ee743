//! `fota-udp-bench`: `Get` datagrams the bridge serves per second on loopback, beside a minimal
//! tokio UDP echo of 1024-byte datagrams measured in the same run with the same clients.
//!
//! Both servers run in this process on the same runtime; `devices` simulated devices each ask
//! one datagram at a time (as the sample's devices do) for `seconds`. The bridge serves a 300 KB
//! image seeded into a temporary cache, so no edge is involved: this measures the UDP path.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use fota_gateway::cache::Image;
use fota_gateway::protocol::{packages, PACKAGE_SIZE};
use fota_gateway::sim::Device;
use fota_gateway::{Bridge, Config, RateLimit, RateLimits};

#[derive(Debug, Parser)]
struct Args {
    /// Seconds each measurement runs (after one second of warm-up).
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Concurrent simulated devices.
    #[arg(long, default_value_t = 8)]
    devices: usize,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(
        args.seconds > 0 && args.seconds <= 120 && args.devices > 0 && args.devices <= 256,
        "--seconds 1..=120, --devices 1..=256"
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(bench(args))
}

async fn bench(args: Args) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("fota-udp-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("map.toml"), "")?;
    let result = run(&args, &dir).await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn run(args: &Args, dir: &std::path::Path) -> anyhow::Result<()> {
    let duration = Duration::from_secs(args.seconds);

    let echo = echo_server().await?;
    let echo_rate = measure(args.devices, duration, move |_| async move {
        let device = Device::connect(echo, Duration::from_millis(200), 1).await?;
        let ask: Ask = Box::new(|_| (vec![0x55u8; 1024], 1024));
        Ok((device, ask))
    })
    .await?;

    let image: Vec<u8> = (0..300 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let (bridge, seeded) = seeded_bridge(dir, image.clone()).await?;
    let (count, last) = packages(image.len() as u64);
    let addr = bridge.local_addr()?;
    let server = bridge.clone();
    tokio::spawn(async move { server.run().await });
    let opener = bridge.clone();
    let get_rate = measure(args.devices, duration, move |d| {
        let (opener, seeded) = (opener.clone(), seeded.clone());
        async move {
            let device = Device::connect(addr, Duration::from_millis(200), 1).await?;
            // Each device has its own session, as after its own start line.
            let id = opener.open_session(device.local_addr()?, &seeded)?;
            let ask = move |i: u64| {
                // Each device walks the image from its own starting package.
                let n = (i + d as u64 * 37) % count + 1;
                let size = if n == count && last != 0 {
                    last
                } else {
                    PACKAGE_SIZE
                };
                (format!("Get{n},{id}").into_bytes(), 2 + size as usize)
            };
            let ask: Ask = Box::new(ask);
            Ok((device, ask))
        }
    })
    .await?;
    let counts = bridge.counts();
    anyhow::ensure!(
        counts.get_errors == 0 && counts.rate_limited == 0,
        "the bridge refused Gets: {counts:?}"
    );

    println!(
        "devices: {}, {} s each, loopback",
        args.devices, args.seconds
    );
    println!(
        "udp echo, 1024-byte datagrams: {:.0} datagrams/s ({} lost)",
        echo_rate.0, echo_rate.1
    );
    println!(
        "fota-udp Get answers:          {:.0} datagrams/s ({} lost)",
        get_rate.0, get_rate.1
    );
    println!(
        "ratio get/echo: {:.2} (goal >= 0.5)",
        get_rate.0 / echo_rate.0
    );
    Ok(())
}

/// A bridge with no edge (nothing to check), `image` seeded into its cache.
async fn seeded_bridge(
    dir: &std::path::Path,
    image: Vec<u8>,
) -> anyhow::Result<(Bridge, std::sync::Arc<Image>)> {
    let config = Config {
        // On, so their cost is measured, but far above what loopback devices send.
        rate_limits: RateLimits {
            per_source: RateLimit {
                per_second: 1e9,
                burst: 1e9,
            },
            per_ip: RateLimit::per_ip(1e9),
        },
        ..Config::new(
            "127.0.0.1:0".parse()?,
            "http://127.0.0.1:9",
            dir.join("map.toml"),
            dir.join("cache"),
        )
    };
    let bridge = Bridge::bind(config).await?;
    let seeded = bridge
        .cache()
        .insert(image)
        .await
        .context("seeding the cache")?;
    Ok((bridge, seeded))
}

type Ask = Box<dyn Fn(u64) -> (Vec<u8>, usize) + Send>;

/// Runs `devices` clients, each asking one datagram at a time; returns answers per second over
/// `duration` (after a one-second warm-up) and the number of requests that got no answer.
async fn measure<F, Fut>(devices: usize, duration: Duration, make: F) -> anyhow::Result<(f64, u64)>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<(Device, Ask)>>,
{
    let answered = Arc::new(AtomicU64::new(0));
    let lost = Arc::new(AtomicU64::new(0));
    let counting = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for d in 0..devices {
        let (mut device, ask) = make(d).await?;
        let (answered, lost, counting, stop) = (
            answered.clone(),
            lost.clone(),
            counting.clone(),
            stop.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut i = 0u64;
            while !stop.load(Relaxed) {
                let (request, size) = ask(i);
                let ok = device.ask(&request, |d| d.len() == size).await.is_ok();
                if counting.load(Relaxed) {
                    if ok {
                        answered.fetch_add(1, Relaxed);
                    } else {
                        lost.fetch_add(1, Relaxed);
                    }
                }
                i += 1;
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    counting.store(true, Relaxed);
    let started = Instant::now();
    tokio::time::sleep(duration).await;
    counting.store(false, Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    stop.store(true, Relaxed);
    for task in tasks {
        task.await?;
    }
    Ok((answered.load(Relaxed) as f64 / elapsed, lost.load(Relaxed)))
}

/// The baseline: receive a datagram, send it back.
async fn echo_server() -> std::io::Result<SocketAddr> {
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await?;
    let addr = socket.local_addr()?;
    tokio::spawn(async move {
        let mut buf = vec![0u8; 2048];
        while let Ok((len, from)) = socket.recv_from(&mut buf).await {
            let _ = socket.send_to(&buf[..len], from).await;
        }
    });
    Ok(addr)
}
