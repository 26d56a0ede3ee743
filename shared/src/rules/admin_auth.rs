//! Rules around admin authentication that need no I/O: whether the `ADMIN_TOKEN` secret is
//! long enough to be used, which client a failed attempt is counted against, and the lockout
//! table that refuses an address for a while once it has failed too often.

use std::collections::HashMap;
use std::net::IpAddr;

/// `ADMIN_TOKEN` must be at least this many characters; a shorter one is never accepted.
pub const MIN_ADMIN_TOKEN_CHARS: usize = 32;
/// Failed admin authentications one client may make per minute before it is locked out. The
/// Workers Rate Limiting binding enforces it (`ADMIN_AUTH_FAILURES` in `wrangler.toml`, whose
/// `limit` must say the same); this constant is what the documentation and tests refer to.
pub const FAILURES_PER_MINUTE: u32 = 20;
/// How long a client that passed the limit is refused outright, valid token or not.
pub const LOCKOUT_MS: i64 = 60_000;
/// The key every request without a usable client address shares.
pub const UNKNOWN_CLIENT: &str = "unknown";
/// Lockouts remembered at once; beyond it the expired ones go, then the earliest-ending.
const MAX_LOCKOUTS: usize = 4096;

/// What the configured `ADMIN_TOKEN` secret allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BootstrapSecret {
    /// Not set (or empty): only tokens created through the API authenticate.
    Missing,
    /// Set but shorter than [`MIN_ADMIN_TOKEN_CHARS`]: refused, and every request that is not
    /// authenticated by a created token is told why.
    TooShort,
    /// Long enough to be compared with what a request presents.
    Usable,
}

impl BootstrapSecret {
    pub fn classify(secret: &str) -> BootstrapSecret {
        match secret.chars().count() {
            0 => BootstrapSecret::Missing,
            n if n < MIN_ADMIN_TOKEN_CHARS => BootstrapSecret::TooShort,
            _ => BootstrapSecret::Usable,
        }
    }
}

/// The key failed attempts are counted under, from the `CF-Connecting-IP` header: an IPv4
/// address as it is, an IPv6 address by its /64 (one subscriber usually holds a whole /64, so
/// counting single IPv6 addresses would let one attacker rotate through billions of keys), and
/// [`UNKNOWN_CLIENT`] for a missing or unparsable header.
pub fn client_key(cf_connecting_ip: Option<&str>) -> String {
    match cf_connecting_ip
        .map(str::trim)
        .and_then(|ip| ip.parse::<IpAddr>().ok())
    {
        Some(IpAddr::V4(v4)) => v4.to_string(),
        Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
        None => UNKNOWN_CLIENT.to_string(),
    }
}

/// Clients locked out until a time (unix ms). Bounded: it never holds more than a few thousand
/// entries, so a flood of addresses cannot grow it without limit.
#[derive(Debug, Default)]
pub struct Lockouts {
    until: HashMap<String, i64>,
}

impl Lockouts {
    /// Milliseconds left of `key`'s lockout at `now`, if it is locked out.
    pub fn remaining(&self, key: &str, now: i64) -> Option<i64> {
        self.until
            .get(key)
            .map(|until| until - now)
            .filter(|left| *left > 0)
    }

    /// Locks `key` out for [`LOCKOUT_MS`] from `now`.
    pub fn lock(&mut self, key: &str, now: i64) {
        if self.until.len() >= MAX_LOCKOUTS && !self.until.contains_key(key) {
            self.until.retain(|_, until| *until > now);
            if self.until.len() >= MAX_LOCKOUTS {
                if let Some(first) = self
                    .until
                    .iter()
                    .min_by_key(|(_, until)| **until)
                    .map(|(k, _)| k.clone())
                {
                    self.until.remove(&first);
                }
            }
        }
        self.until.insert(key.to_string(), now + LOCKOUT_MS);
    }

    pub fn len(&self) -> usize {
        self.until.len()
    }

    pub fn is_empty(&self) -> bool {
        self.until.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check_secret(secret: &str, expect: BootstrapSecret) {
        assert_eq!(BootstrapSecret::classify(secret), expect, "{secret:?}");
    }

    #[test]
    fn admin_token_needs_32_characters() {
        check_secret("", BootstrapSecret::Missing);
        check_secret("change-me", BootstrapSecret::TooShort);
        check_secret("test-admin-token-0123456789", BootstrapSecret::TooShort);
        check_secret(&"a".repeat(31), BootstrapSecret::TooShort);
        check_secret(&"a".repeat(32), BootstrapSecret::Usable);
        // Characters, not bytes: 31 two-byte characters are still too short.
        check_secret(&"é".repeat(31), BootstrapSecret::TooShort);
        check_secret(&"0123456789abcdef".repeat(3), BootstrapSecret::Usable);
    }

    #[track_caller]
    fn check_key(header: Option<&str>, expect: &str) {
        assert_eq!(client_key(header), expect, "{header:?}");
    }

    #[test]
    fn failures_are_counted_per_ipv4_address_and_ipv6_64() {
        check_key(Some("203.0.113.7"), "203.0.113.7");
        check_key(Some(" 203.0.113.7 "), "203.0.113.7");
        check_key(Some("2001:db8:1:2::1"), "2001:db8:1:2::/64");
        check_key(
            Some("2001:db8:1:2:ffff:ffff:ffff:ffff"),
            "2001:db8:1:2::/64",
        );
        check_key(Some("2001:db8:1:3::1"), "2001:db8:1:3::/64");
        check_key(Some("::ffff:198.51.100.1"), "198.51.100.1");
        check_key(Some("::1"), "0:0:0:0::/64");
        check_key(None, UNKNOWN_CLIENT);
        check_key(Some(""), UNKNOWN_CLIENT);
        check_key(Some("not-an-address"), UNKNOWN_CLIENT);
        check_key(Some("203.0.113.7, 10.0.0.1"), UNKNOWN_CLIENT);
    }

    #[test]
    fn a_lockout_lasts_one_minute_for_its_key_only() {
        let mut lockouts = Lockouts::default();
        assert_eq!(lockouts.remaining("a", 1_000), None);
        lockouts.lock("a", 1_000);
        assert_eq!(lockouts.remaining("a", 1_000), Some(LOCKOUT_MS));
        assert_eq!(lockouts.remaining("a", 1_000 + LOCKOUT_MS - 1), Some(1));
        assert_eq!(lockouts.remaining("a", 1_000 + LOCKOUT_MS), None);
        assert_eq!(lockouts.remaining("b", 1_000), None);
        // Locking again starts a new minute.
        lockouts.lock("a", 50_000);
        assert_eq!(
            lockouts.remaining("a", 1_000 + LOCKOUT_MS),
            Some(50_000 - 1_000)
        );
    }

    #[test]
    fn the_lockout_table_stays_bounded() {
        let mut lockouts = Lockouts::default();
        for i in 0..MAX_LOCKOUTS as i64 {
            lockouts.lock(&format!("k{i}"), i);
        }
        assert_eq!(lockouts.len(), MAX_LOCKOUTS);
        // All still running: the earliest-ending one makes room.
        lockouts.lock("new", MAX_LOCKOUTS as i64);
        assert_eq!(lockouts.len(), MAX_LOCKOUTS);
        assert_eq!(lockouts.remaining("k0", MAX_LOCKOUTS as i64), None);
        assert!(lockouts.remaining("new", MAX_LOCKOUTS as i64).is_some());
        assert!(lockouts.remaining("k1", MAX_LOCKOUTS as i64).is_some());
        // Once they have ended, the expired ones go together.
        let later = MAX_LOCKOUTS as i64 + LOCKOUT_MS - 1;
        lockouts.lock("after", later);
        assert_eq!(
            lockouts.len(),
            2,
            "only `new` (still running) and `after` stay"
        );
    }
}
