//! Per-source rate limiting: a token bucket per source address, refilled at `per_second` up to
//! `burst`. The clock is an argument, so the rule is tested without waiting.
//!
//! The table is bounded: a full bucket is the same as no bucket, so full ones are dropped when the
//! table grows; if a flood of distinct (possibly spoofed) sources still fills it, it is cleared,
//! which lets traffic through for a moment rather than refusing every device.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Instant;

/// Datagrams per second per source, with a burst; `per_second == 0` turns the limit off.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    pub per_second: f64,
    pub burst: f64,
    /// A source is an IP address (all its ports share a bucket) rather than an address and port.
    /// That bounds what a spoofed flood can reflect at one host, at the cost of devices behind
    /// one carrier NAT sharing a budget.
    pub per_ip: bool,
}

impl RateLimit {
    pub const OFF: RateLimit = RateLimit {
        per_second: 0.0,
        burst: 0.0,
        per_ip: false,
    };
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

#[derive(Debug)]
pub struct SourceLimiter {
    limit: RateLimit,
    buckets: HashMap<SocketAddr, Bucket>,
    max_sources: usize,
}

impl SourceLimiter {
    pub fn new(limit: RateLimit, max_sources: usize) -> SourceLimiter {
        SourceLimiter {
            limit,
            buckets: HashMap::new(),
            max_sources,
        }
    }

    /// Takes a token for one datagram from `from` at `now`; `false` means over the limit.
    pub fn admit(&mut self, from: SocketAddr, now: Instant) -> bool {
        let RateLimit {
            per_second,
            burst,
            per_ip,
        } = self.limit;
        if per_second <= 0.0 {
            return true;
        }
        let from = if per_ip {
            SocketAddr::new(from.ip(), 0)
        } else {
            from
        };
        if self.buckets.len() >= self.max_sources && !self.buckets.contains_key(&from) {
            self.buckets.retain(|_, b| {
                b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * per_second < burst
            });
            if self.buckets.len() >= self.max_sources {
                self.buckets.clear();
            }
        }
        let bucket = self.buckets.entry(from).or_insert(Bucket {
            tokens: burst,
            at: now,
        });
        bucket.tokens = (bucket.tokens
            + now.saturating_duration_since(bucket.at).as_secs_f64() * per_second)
            .min(burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    pub fn sources(&self) -> usize {
        self.buckets.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([10, 0, 0, 1], port))
    }

    /// Datagrams at the given millisecond offsets from one source, and which of them pass.
    #[track_caller]
    fn check(limit: RateLimit, at_ms: &[u64], expect: &[bool]) {
        let t0 = Instant::now();
        let mut limiter = SourceLimiter::new(limit, 100);
        let got: Vec<bool> = at_ms
            .iter()
            .map(|ms| limiter.admit(addr(1), t0 + Duration::from_millis(*ms)))
            .collect();
        assert_eq!(got, expect, "{limit:?} at {at_ms:?}");
    }

    #[test]
    fn token_buckets() {
        let two_per_s = RateLimit {
            per_second: 2.0,
            burst: 2.0,
            per_ip: false,
        };
        check(two_per_s, &[0, 0, 0], &[true, true, false]);
        check(
            two_per_s,
            &[0, 0, 0, 499, 500, 1000, 1000],
            &[true, true, false, false, true, true, false],
        );
        check(
            two_per_s,
            &[0, 10_000, 10_000, 10_000],
            &[true, true, true, false],
        );
        let off = RateLimit::OFF;
        check(off, &[0, 0, 0, 0], &[true, true, true, true]);
    }

    #[test]
    fn sources_are_limited_apart() {
        let t0 = Instant::now();
        let mut limiter = SourceLimiter::new(
            RateLimit {
                per_second: 1.0,
                burst: 1.0,
                per_ip: false,
            },
            100,
        );
        assert!(limiter.admit(addr(1), t0));
        assert!(!limiter.admit(addr(1), t0));
        assert!(limiter.admit(addr(2), t0));
        // Per IP, every port of a host draws from one bucket; another host has its own.
        let mut limiter = SourceLimiter::new(
            RateLimit {
                per_second: 1.0,
                burst: 1.0,
                per_ip: true,
            },
            100,
        );
        assert!(limiter.admit(addr(1), t0));
        assert!(!limiter.admit(addr(2), t0));
        assert!(limiter.admit(SocketAddr::from(([10, 0, 0, 2], 1)), t0));
    }

    #[test]
    fn the_table_stays_bounded() {
        let t0 = Instant::now();
        let mut limiter = SourceLimiter::new(
            RateLimit {
                per_second: 1.0,
                burst: 5.0,
                per_ip: false,
            },
            10,
        );
        for port in 0..1000 {
            assert!(limiter.admit(addr(port), t0));
            assert!(limiter.sources() <= 10);
        }
        // A refilled bucket is dropped before a busy one.
        let t1 = t0 + Duration::from_secs(60);
        let mut limiter = SourceLimiter::new(
            RateLimit {
                per_second: 1.0,
                burst: 2.0,
                per_ip: false,
            },
            2,
        );
        assert!(limiter.admit(addr(1), t0));
        assert!(limiter.admit(addr(2), t1));
        assert!(limiter.admit(addr(2), t1));
        assert!(limiter.admit(addr(3), t1));
        assert!(
            !limiter.admit(addr(2), t1),
            "source 2 kept its empty bucket"
        );
    }
}
