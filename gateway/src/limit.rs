//! Rate limiting: token buckets refilled at `per_second` up to `burst`, one per source address and
//! port and one per source IP address (all its ports together); a datagram passes when both of its
//! buckets hold a token. The clock is an argument, so the rule is tested without waiting.
//!
//! The per-IP limit bounds what a spoofed flood of `Get`s can reflect at one host (a `Get` answer
//! is about 100 times its request); devices behind one carrier NAT share its budget.
//!
//! The tables are bounded: a full bucket is the same as no bucket, so full ones are dropped when a
//! table grows; if a flood of distinct (possibly spoofed) sources still fills it, it is cleared,
//! which lets traffic through for a moment rather than refusing every device.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

/// Datagrams per second with a burst; `per_second == 0` turns the limit off.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    pub per_second: f64,
    pub burst: f64,
}

impl RateLimit {
    pub const OFF: RateLimit = RateLimit {
        per_second: 0.0,
        burst: 0.0,
    };
    /// Per address and port: 50 datagrams/s, 100 at once.
    pub const DEFAULT_PER_SOURCE: RateLimit = RateLimit {
        per_second: 50.0,
        burst: 100.0,
    };
    /// Per IP address: 200 datagrams/s, 400 at once.
    pub const DEFAULT_PER_IP: RateLimit = RateLimit::per_ip(200.0);

    /// The per-IP limit for `per_second`: its burst is two seconds' worth (0 turns it off).
    pub const fn per_ip(per_second: f64) -> RateLimit {
        RateLimit {
            per_second,
            burst: per_second * 2.0,
        }
    }

    fn is_on(self) -> bool {
        self.per_second > 0.0
    }
}

/// Both limits a datagram must pass. The default has both on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimits {
    /// Per source address and port.
    pub per_source: RateLimit,
    /// Per source IP address, all its ports together.
    pub per_ip: RateLimit,
}

impl RateLimits {
    pub const OFF: RateLimits = RateLimits {
        per_source: RateLimit::OFF,
        per_ip: RateLimit::OFF,
    };
}

impl Default for RateLimits {
    fn default() -> RateLimits {
        RateLimits {
            per_source: RateLimit::DEFAULT_PER_SOURCE,
            per_ip: RateLimit::DEFAULT_PER_IP,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    /// The bucket's tokens at `now`, refilled at the limit's rate up to its burst.
    fn refilled(self, limit: RateLimit, now: Instant) -> f64 {
        (self.tokens + now.saturating_duration_since(self.at).as_secs_f64() * limit.per_second)
            .min(limit.burst)
    }
}

/// One limit's buckets, keyed by address and port or by IP address.
#[derive(Debug)]
struct Table<K> {
    limit: RateLimit,
    buckets: HashMap<K, Bucket>,
    max_sources: usize,
}

impl<K: Hash + Eq + Copy> Table<K> {
    fn new(limit: RateLimit, max_sources: usize) -> Table<K> {
        Table {
            limit,
            buckets: HashMap::new(),
            max_sources,
        }
    }

    /// `key`'s tokens at `now` (its bucket made if need be, within the table's bound).
    fn tokens(&mut self, key: K, now: Instant) -> f64 {
        let limit = self.limit;
        if self.buckets.len() >= self.max_sources && !self.buckets.contains_key(&key) {
            self.buckets
                .retain(|_, b| b.refilled(limit, now) < limit.burst);
            if self.buckets.len() >= self.max_sources {
                self.buckets.clear();
            }
        }
        let bucket = self.buckets.entry(key).or_insert(Bucket {
            tokens: limit.burst,
            at: now,
        });
        bucket.tokens = bucket.refilled(limit, now);
        bucket.at = now;
        bucket.tokens
    }

    fn take(&mut self, key: K) {
        if let Some(bucket) = self.buckets.get_mut(&key) {
            bucket.tokens -= 1.0;
        }
    }
}

#[derive(Debug)]
pub struct SourceLimiter {
    per_source: Table<SocketAddr>,
    per_ip: Table<IpAddr>,
}

impl SourceLimiter {
    /// `max_sources` bounds each table (address and port; IP address).
    pub fn new(limits: RateLimits, max_sources: usize) -> SourceLimiter {
        SourceLimiter {
            per_source: Table::new(limits.per_source, max_sources),
            per_ip: Table::new(limits.per_ip, max_sources),
        }
    }

    /// Takes a token for one datagram from `from` at `now` from each limit that is on; `false`
    /// means over a limit (and nothing is taken).
    pub fn admit(&mut self, from: SocketAddr, now: Instant) -> bool {
        let by_source = self.per_source.limit.is_on();
        let by_ip = self.per_ip.limit.is_on();
        if by_source && self.per_source.tokens(from, now) < 1.0 {
            return false;
        }
        if by_ip && self.per_ip.tokens(from.ip(), now) < 1.0 {
            return false;
        }
        if by_source {
            self.per_source.take(from);
        }
        if by_ip {
            self.per_ip.take(from.ip());
        }
        true
    }

    /// Sources with a bucket, per address and port plus per IP address.
    pub fn sources(&self) -> usize {
        self.per_source.buckets.len() + self.per_ip.buckets.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([10, 0, 0, 1], port))
    }

    fn per_source(per_second: f64, burst: f64) -> RateLimits {
        RateLimits {
            per_source: RateLimit { per_second, burst },
            per_ip: RateLimit::OFF,
        }
    }

    fn per_ip(per_second: f64, burst: f64) -> RateLimits {
        RateLimits {
            per_source: RateLimit::OFF,
            per_ip: RateLimit { per_second, burst },
        }
    }

    /// Datagrams at the given millisecond offsets from one source, and which of them pass.
    #[track_caller]
    fn check(limits: RateLimits, at_ms: &[u64], expect: &[bool]) {
        let t0 = Instant::now();
        let mut limiter = SourceLimiter::new(limits, 100);
        let got: Vec<bool> = at_ms
            .iter()
            .map(|ms| limiter.admit(addr(1), t0 + Duration::from_millis(*ms)))
            .collect();
        assert_eq!(got, expect, "{limits:?} at {at_ms:?}");
    }

    #[test]
    fn token_buckets() {
        for two_per_s in [per_source(2.0, 2.0), per_ip(2.0, 2.0)] {
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
        }
        check(RateLimits::OFF, &[0, 0, 0, 0], &[true, true, true, true]);
    }

    #[test]
    fn per_ip_limiting_is_on_by_default() {
        let limits = RateLimits::default();
        assert_eq!(
            limits.per_ip,
            RateLimit {
                per_second: 200.0,
                burst: 400.0
            }
        );
        assert_eq!(limits.per_source, RateLimit::DEFAULT_PER_SOURCE);
        assert_eq!(RateLimit::per_ip(0.0), RateLimit::OFF);
        // 100 ports of one host at once: each is within its own budget, the host is not.
        let t0 = Instant::now();
        let mut limiter = SourceLimiter::new(limits, 1000);
        let passed = (0..100u16)
            .flat_map(|port| std::iter::repeat_n(port, 5))
            .filter(|port| limiter.admit(addr(*port), t0))
            .count();
        assert_eq!(passed, 400);
    }

    #[test]
    fn sources_are_limited_apart() {
        let t0 = Instant::now();
        let mut limiter = SourceLimiter::new(per_source(1.0, 1.0), 100);
        assert!(limiter.admit(addr(1), t0));
        assert!(!limiter.admit(addr(1), t0));
        assert!(limiter.admit(addr(2), t0));
        // Per IP, every port of a host draws from one bucket; another host has its own.
        let mut limiter = SourceLimiter::new(per_ip(1.0, 1.0), 100);
        assert!(limiter.admit(addr(1), t0));
        assert!(!limiter.admit(addr(2), t0));
        assert!(limiter.admit(SocketAddr::from(([10, 0, 0, 2], 1)), t0));
        // Both on: a datagram refused by one limit takes no token from the other.
        let both = RateLimits {
            per_source: RateLimit {
                per_second: 1.0,
                burst: 1.0,
            },
            per_ip: RateLimit {
                per_second: 1.0,
                burst: 2.0,
            },
        };
        let mut limiter = SourceLimiter::new(both, 100);
        assert!(limiter.admit(addr(1), t0));
        assert!(!limiter.admit(addr(1), t0), "port 1's own budget is spent");
        assert!(limiter.admit(addr(2), t0), "the host still had a token");
        assert!(!limiter.admit(addr(3), t0), "the host's budget is spent");
    }

    #[test]
    fn the_table_stays_bounded() {
        let t0 = Instant::now();
        let mut limiter = SourceLimiter::new(per_source(1.0, 5.0), 10);
        for port in 0..1000 {
            assert!(limiter.admit(addr(port), t0));
            assert!(limiter.sources() <= 10);
        }
        let mut limiter = SourceLimiter::new(per_ip(1.0, 5.0), 10);
        for host in 0..1000u32 {
            let ip = std::net::Ipv4Addr::from(0x0a00_0000 + host);
            assert!(limiter.admit(SocketAddr::from((ip, 1)), t0));
            assert!(limiter.sources() <= 10);
        }
        // A refilled bucket is dropped before a busy one.
        let t1 = t0 + Duration::from_secs(60);
        let mut limiter = SourceLimiter::new(per_source(1.0, 2.0), 2);
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
