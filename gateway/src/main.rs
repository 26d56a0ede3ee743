//! The `fota-udp` binary: arguments (`fota_gateway::cli`), logging, SIGHUP reloads of the map; the
//! bridge itself is the library's [`fota_gateway::Bridge`].

use anyhow::Context;
use clap::Parser;
use fota_gateway::cli::Args;
use fota_gateway::Bridge;

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
    let bridge = Bridge::bind(args.config()?).await?;
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
