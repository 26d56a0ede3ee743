//! `fota-udp`'s command line, and the [`Config`] it makes (here rather than in the binary, so its
//! defaults are tested).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;

use crate::bridge::Config;
use crate::limit::{RateLimit, RateLimits};

/// UDP upgrade bridge: serves the Luat guide's chunked UDP protocol from a fota-edge.
#[derive(Debug, Parser)]
#[command(name = "fota-udp", version)]
pub struct Args {
    /// The edge's base URL.
    #[arg(long, default_value = "http://127.0.0.1:8787")]
    pub edge: String,
    /// Address and port to receive device datagrams on (the guide's devices use port 2234).
    #[arg(long, default_value = "127.0.0.1:2234")]
    pub listen: SocketAddr,
    /// The map file: which project_key and firmware_name each project_name stands for. Reloaded on SIGHUP.
    #[arg(long)]
    pub map: PathBuf,
    /// Where images are kept (under <DIR>/images, within --cache-max-bytes).
    #[arg(long, default_value = "fota-udp-cache")]
    pub cache_dir: PathBuf,
    /// Name of an environment variable holding a bearer token for the edge (sent only to the edge's origin).
    #[arg(long)]
    pub token_env: Option<String>,
    /// Datagrams per second allowed from one source address and port (0: no limit).
    #[arg(long, default_value_t = RateLimit::DEFAULT_PER_SOURCE.per_second, value_parser = rate)]
    pub rate_limit: f64,
    /// Datagrams one source address and port may send at once before --rate-limit applies.
    #[arg(long, default_value_t = RateLimit::DEFAULT_PER_SOURCE.burst, value_parser = rate)]
    pub rate_burst: f64,
    /// Datagrams per second allowed from one source IP address, all its ports together, on top of
    /// --rate-limit (burst: twice this). It bounds what spoofed `Get`s can reflect at one host;
    /// devices behind one carrier NAT share it. 0 turns it off.
    #[arg(long, value_name = "N", default_value_t = RateLimit::DEFAULT_PER_IP.per_second,
        num_args = 0..=1, default_missing_value = "200", value_parser = rate)]
    pub rate_per_ip: f64,
    /// Seconds an upgrade_id may go unused before it expires (each `Get` it answers renews it).
    /// It serves only the source address and port whose start line got it; once expired, its
    /// `Get`s are answered `error all` (the device starts again).
    #[arg(long, value_name = "SECONDS", default_value_t = Config::DEFAULT_SESSION_TTL.as_secs(),
        value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub session_ttl: u64,
    /// Bytes of images kept in the cache dir and memory; least recently used images are evicted
    /// past it (one image larger than this is still kept, alone, and served).
    #[arg(long, value_name = "BYTES", default_value_t = Config::DEFAULT_CACHE_MAX_BYTES,
        value_parser = clap::value_parser!(u64).range(1..))]
    pub cache_max_bytes: u64,
    /// Seconds a start line's answer is repeated to the same question without asking the edge again.
    #[arg(long, default_value_t = Config::DEFAULT_MEMO_TTL.as_secs())]
    pub memo_seconds: u64,
    /// Log JSON lines instead of text.
    #[arg(long)]
    pub json_logs: bool,
}

impl Args {
    /// The bridge's configuration; reads the token's environment variable when one is named.
    pub fn config(&self) -> anyhow::Result<Config> {
        let token = match &self.token_env {
            Some(name) => Some(
                std::env::var(name)
                    .with_context(|| format!("--token-env {name}: the variable is not set"))?,
            )
            .filter(|t| !t.is_empty()),
            None => None,
        };
        Ok(Config {
            token,
            rate_limits: RateLimits {
                per_source: RateLimit {
                    per_second: self.rate_limit,
                    burst: self.rate_burst.max(1.0),
                },
                per_ip: RateLimit::per_ip(self.rate_per_ip),
            },
            memo_ttl: Duration::from_secs(self.memo_seconds),
            session_ttl: Duration::from_secs(self.session_ttl),
            cache_max_bytes: self.cache_max_bytes,
            ..Config::new(
                self.listen,
                &self.edge,
                self.map.clone(),
                self.cache_dir.clone(),
            )
        })
    }
}

/// A rate or burst: a finite number, 0 or more.
fn rate(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(value) if value.is_finite() && value >= 0.0 => Ok(value),
        _ => Err(format!("{text:?} is not a number of datagrams (0 or more)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(args: &[&str]) -> Result<Config, String> {
        let argv = ["fota-udp", "--map", "map.toml"].iter().chain(args);
        let args = Args::try_parse_from(argv).map_err(|e| e.to_string())?;
        args.config().map_err(|e| e.to_string())
    }

    #[test]
    fn the_defaults_limit_per_ip_and_bound_sessions_and_cache() {
        let config = config(&[]).unwrap();
        assert_eq!(config.rate_limits, RateLimits::default());
        assert_eq!(
            config.rate_limits.per_ip,
            RateLimit {
                per_second: 200.0,
                burst: 400.0
            }
        );
        assert_eq!(
            config.rate_limits.per_source,
            RateLimit {
                per_second: 50.0,
                burst: 100.0
            }
        );
        assert_eq!(config.session_ttl, Duration::from_secs(600));
        assert_eq!(config.cache_max_bytes, 268_435_456);
        assert_eq!(config.memo_ttl, Duration::from_secs(60));
        assert_eq!(config.token, None);
    }

    #[test]
    fn flags_change_them() {
        let off = config(&["--rate-per-ip", "0"]).unwrap();
        assert_eq!(off.rate_limits.per_ip, RateLimit::OFF);
        assert_eq!(off.rate_limits.per_source, RateLimit::DEFAULT_PER_SOURCE);
        // A bare `--rate-per-ip`, as earlier versions took it, is the default rate.
        let bare = config(&["--rate-per-ip", "--json-logs"]).unwrap();
        assert_eq!(bare.rate_limits.per_ip, RateLimit::DEFAULT_PER_IP);
        let set = config(&[
            "--rate-per-ip=500",
            "--rate-limit",
            "0",
            "--session-ttl",
            "1",
            "--cache-max-bytes",
            "7000",
        ])
        .unwrap();
        assert_eq!(set.rate_limits.per_ip, RateLimit::per_ip(500.0));
        assert_eq!(set.rate_limits.per_source.per_second, 0.0);
        assert_eq!(set.session_ttl, Duration::from_secs(1));
        assert_eq!(set.cache_max_bytes, 7000);
        for bad in [
            &["--rate-per-ip", "-1"][..],
            &["--rate-per-ip", "NaN"],
            &["--rate-limit", "inf"],
            &["--session-ttl", "0"],
            &["--session-ttl", "86401"],
            &["--cache-max-bytes", "0"],
        ] {
            assert!(config(bad).is_err(), "{bad:?} accepted");
        }
    }
}
