//! The `fota-udp` binary: arguments, logging, SIGHUP reloads of the map; the bridge itself is the
//! library's [`fota_gateway::Bridge`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use fota_gateway::{Bridge, Config, RateLimit};

/// UDP upgrade bridge: serves the Luat guide's chunked UDP protocol from a fota-edge.
#[derive(Debug, Parser)]
#[command(name = "fota-udp", version)]
struct Args {
    /// The edge's base URL.
    #[arg(long, default_value = "http://127.0.0.1:8787")]
    edge: String,
    /// Address and port to receive device datagrams on (the guide's devices use port 2234).
    #[arg(long, default_value = "127.0.0.1:2234")]
    listen: SocketAddr,
    /// The map file: which project_key and firmware_name each project_name stands for. Reloaded on SIGHUP.
    #[arg(long)]
    map: PathBuf,
    /// Where images and their upgrade ids are kept.
    #[arg(long, default_value = "fota-udp-cache")]
    cache_dir: PathBuf,
    /// Name of an environment variable holding a bearer token for the edge (sent only to the edge's origin).
    #[arg(long)]
    token_env: Option<String>,
    /// Datagrams per second allowed from one source address (0: no limit).
    #[arg(long, default_value_t = 50.0)]
    rate_limit: f64,
    /// Datagrams one source may send at once before its rate applies.
    #[arg(long, default_value_t = 100.0)]
    rate_burst: f64,
    /// Count a source per IP address (all its ports together) instead of per address and port:
    /// bounds what spoofed `Get`s can reflect at one host; devices behind one NAT then share a budget.
    #[arg(long)]
    rate_per_ip: bool,
    /// Seconds a start line's answer is repeated to the same question without asking the edge again.
    #[arg(long, default_value_t = 60)]
    memo_seconds: u64,
    /// Log JSON lines instead of text.
    #[arg(long)]
    json_logs: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let logs = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_target(false);
    if args.json_logs {
        logs.json().init();
    } else {
        logs.init();
    }
    let token = match &args.token_env {
        Some(name) => Some(
            std::env::var(name)
                .with_context(|| format!("--token-env {name}: the variable is not set"))?,
        )
        .filter(|t| !t.is_empty()),
        None => None,
    };
    let config = Config {
        listen: args.listen,
        edge_url: args.edge.clone(),
        map_path: args.map.clone(),
        cache_dir: args.cache_dir.clone(),
        token,
        rate_limit: RateLimit {
            per_second: args.rate_limit,
            burst: args.rate_burst.max(1.0),
            per_ip: args.rate_per_ip,
        },
        memo_ttl: Duration::from_secs(args.memo_seconds),
    };
    let bridge = Bridge::bind(config).await?;
    let reloader = bridge.clone();
    let mut hangups = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        .context("SIGHUP handler")?;
    tokio::spawn(async move {
        while hangups.recv().await.is_some() {
            match reloader.reload_map() {
                Ok(products) => tracing::info!(products, "map reloaded"),
                Err(e) => tracing::warn!(error = %e, "map not reloaded; the previous one stays"),
            }
        }
    });
    tokio::select! {
        result = bridge.run() => result.context("socket failed")?,
        _ = tokio::signal::ctrl_c() => tracing::info!(counts = ?bridge.counts(), "stopping"),
    }
    Ok(())
}
