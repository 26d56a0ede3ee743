//! Webhooks as pure rules: which events a webhook asked for, where it may point, how a delivery
//! is signed (and verified by a receiver), and when a failing one is retried or given up.

use crate::model::event::EventType;
use crate::rules::device_auth::hmac_sha256;
use hmac::Mac;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Most webhooks a project may have.
pub const MAX_WEBHOOKS: usize = 10;
/// Most event patterns one webhook may list.
pub const MAX_PATTERNS: usize = 32;
/// Longest receiver URL, in bytes.
pub const MAX_URL_LEN: usize = 2048;
/// A failing delivery is retried for this long from its first failure, then the webhook is
/// disabled (`webhook.disabled`).
pub const RETRY_FOR_MS: i64 = 24 * 3600 * 1000;
/// The longest wait between two attempts.
pub const MAX_BACKOFF_MS: i64 = 3600 * 1000;
/// The first retry's wait when the edge sets none (`WEBHOOK_BACKOFF_MS`).
pub const DEFAULT_BACKOFF_MS: i64 = 10_000;
/// Deliveries kept per webhook.
pub const DELIVERIES_KEPT: usize = 100;
/// A receiver has this long to answer before the attempt counts as failed.
pub const TIMEOUT_MS: i64 = 10_000;
/// How far a receiver should accept a signature's time from its own clock.
pub const SIGNATURE_TOLERANCE_S: i64 = 300;

/// Does a webhook listing `patterns` want an event of this type? A pattern is an exact type
/// (`device.banned`), a family (`rollout.*`) or `*`.
pub fn wants(patterns: &[String], event_type: EventType) -> bool {
    patterns.iter().any(|p| {
        p == "*"
            || p == event_type.as_str()
            || p.strip_suffix(".*")
                .is_some_and(|family| family == event_type.family())
    })
}

/// Checks a webhook's event list: not empty, not too long, each pattern naming a known type or
/// family.
pub fn check_patterns(patterns: &[String]) -> Result<(), String> {
    if patterns.is_empty() {
        return Err("events must list at least one type or pattern (e.g. \"rollout.*\")".into());
    }
    if patterns.len() > MAX_PATTERNS {
        return Err(format!("events lists more than {MAX_PATTERNS} patterns"));
    }
    for p in patterns {
        let known = p == "*"
            || EventType::parse(p).is_some()
            || p.strip_suffix(".*")
                .is_some_and(|f| EventType::ALL.iter().any(|t| t.family() == f));
        if !known {
            return Err(format!("unknown event type or pattern {p:?}"));
        }
    }
    Ok(())
}

/// The wait before attempt `attempt + 1` after `attempt` failed ones (1, 2, ...): `base`
/// doubled each time, at most [`MAX_BACKOFF_MS`].
pub fn backoff_ms(failed_attempts: u32, base_ms: i64) -> i64 {
    let doublings = failed_attempts.saturating_sub(1).min(30);
    base_ms
        .max(1)
        .saturating_mul(1i64 << doublings)
        .min(MAX_BACKOFF_MS)
}

/// Has a delivery failing since `first_failure_ms` been retried for `retry_for_ms` (by default
/// [`RETRY_FOR_MS`])?
pub fn gives_up(first_failure_ms: i64, now_ms: i64, retry_for_ms: i64) -> bool {
    now_ms - first_failure_ms >= retry_for_ms
}

/// `X-Fota-Signature`: `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, t "." body)>`.
pub fn signature(secret: &str, unix_s: i64, body: &[u8]) -> String {
    let mut message = format!("{unix_s}.").into_bytes();
    message.extend_from_slice(body);
    let mac = hmac_sha256(secret.as_bytes(), &message)
        .finalize()
        .into_bytes();
    format!("t={unix_s},v1={}", hex::encode(mac))
}

/// A receiver's check of `X-Fota-Signature` (constant time), with its time within
/// [`SIGNATURE_TOLERANCE_S`] of `now_s`.
pub fn verify(secret: &str, header: &str, body: &[u8], now_s: i64) -> bool {
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = v.parse::<i64>().ok(),
            Some(("v1", v)) => v1 = hex::decode(v).ok(),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else {
        return false;
    };
    if (now_s - t).abs() > SIGNATURE_TOLERANCE_S {
        return false;
    }
    let mut message = format!("{t}.").into_bytes();
    message.extend_from_slice(body);
    hmac_sha256(secret.as_bytes(), &message)
        .verify_slice(&v1)
        .is_ok()
}

/// Why a receiver URL is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrlRefusal {
    /// Not `http(s)://host[:port][/path]`, or carries credentials or a fragment.
    Malformed(String),
    /// Plain `http` to a public address: deliveries carry fleet data, so they go over TLS.
    NotHttps,
    /// Loopback, private, link-local or otherwise internal (allowed only where
    /// `ALLOW_PRIVATE_WEBHOOKS=true`).
    Private(String),
}

impl std::fmt::Display for UrlRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UrlRefusal::Malformed(why) => write!(f, "url is not a plain http(s) URL: {why}"),
            UrlRefusal::NotHttps => write!(f, "url must be https"),
            UrlRefusal::Private(host) => write!(
                f,
                "url points at the internal address {host} (set ALLOW_PRIVATE_WEBHOOKS=true to allow)"
            ),
        }
    }
}

/// Checks a receiver URL. With `allow_private`, internal addresses and plain `http` are taken
/// (local receivers in development and tests).
pub fn check_url(url: &str, allow_private: bool) -> Result<(), UrlRefusal> {
    let bad = |why: &str| Err(UrlRefusal::Malformed(why.into()));
    if url.len() > MAX_URL_LEN {
        return bad("too long");
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return bad("contains whitespace");
    }
    let (https, rest) = if let Some(rest) = url.strip_prefix("https://") {
        (true, rest)
    } else if let Some(rest) = url.strip_prefix("http://") {
        (false, rest)
    } else {
        return bad("scheme must be http or https");
    };
    if url.contains('#') {
        return bad("has a fragment");
    }
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    if authority.contains('@') {
        return bad("carries credentials");
    }
    let host =
        host_of(authority).ok_or_else(|| UrlRefusal::Malformed("bad host or port".into()))?;
    if host.is_empty() {
        return bad("has no host");
    }
    if allow_private {
        return Ok(());
    }
    if internal_host(&host) {
        return Err(UrlRefusal::Private(host));
    }
    if !https {
        return Err(UrlRefusal::NotHttps);
    }
    Ok(())
}

/// The host of `host[:port]` or `[v6][:port]`, lowercased; `None` when the port is not a number.
fn host_of(authority: &str) -> Option<String> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (v6, after) = rest.split_once(']')?;
        (v6, after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if let Some(port) = port {
        port.parse::<u16>().ok()?;
    }
    Some(host.trim_end_matches('.').to_ascii_lowercase())
}

fn internal_host(host: &str) -> bool {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return internal_ip(ip);
    }
    // Names that only resolve inside a network; a public name resolving to an internal address
    // is the platform's to refuse (Workers cannot reach private networks).
    let name = host;
    name == "localhost"
        || [".localhost", ".local", ".internal", ".lan", ".home.arpa"]
            .iter()
            .any(|suffix| name.ends_with(suffix))
        || !name.contains('.')
        || name
            .chars()
            .all(|c| c.is_ascii_digit() || c == '.' || c == 'x')
}

fn internal_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => internal_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return internal_v4(v4);
            }
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00 // unique local
                || (first & 0xffc0) == 0xfe80 // link local
                || v6 == Ipv6Addr::LOCALHOST
        }
    }
}

fn internal_v4(v4: Ipv4Addr) -> bool {
    let [a, b, ..] = v4.octets();
    v4.is_loopback()
        || v4.is_private()
        || v4.is_link_local()
        || v4.is_unspecified()
        || v4.is_broadcast()
        || v4.is_multicast()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // carrier-grade NAT
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pats(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn patterns_select_types_and_families() {
        let cases: &[(&[&str], EventType, bool)] = &[
            (&["*"], EventType::DeviceBanned, true),
            (&["rollout.*"], EventType::RolloutPaused, true),
            (&["rollout.*"], EventType::DeviceBanned, false),
            (&["device.banned"], EventType::DeviceBanned, true),
            (&["device.banned"], EventType::DeviceUnbanned, false),
            (
                &["rollout.*", "device.banned"],
                EventType::DeviceBanned,
                true,
            ),
            (&["roll*"], EventType::RolloutPaused, false),
        ];
        for (list, t, expect) in cases {
            assert_eq!(wants(&pats(list), *t), *expect, "{list:?} {t:?}");
        }
    }

    #[test]
    fn pattern_lists_are_checked() {
        assert!(check_patterns(&pats(&["rollout.*", "device.banned", "*"])).is_ok());
        assert!(check_patterns(&[]).is_err());
        assert!(check_patterns(&pats(&["rollout.nope"])).is_err());
        assert!(check_patterns(&pats(&["nope.*"])).is_err());
        assert!(check_patterns(&pats(&["rollout"])).is_err());
        assert!(check_patterns(&vec!["*".to_string(); MAX_PATTERNS + 1]).is_err());
    }

    #[test]
    fn backoff_doubles_up_to_an_hour() {
        let table = [
            (1, 1_000, 1_000),
            (2, 1_000, 2_000),
            (3, 1_000, 4_000),
            (10, 10_000, 3_600_000),
            (64, 10_000, 3_600_000),
            (0, 500, 500),
        ];
        for (attempts, base, expect) in table {
            assert_eq!(backoff_ms(attempts, base), expect, "{attempts} {base}");
        }
        assert!(!gives_up(0, RETRY_FOR_MS - 1, RETRY_FOR_MS));
        assert!(gives_up(0, RETRY_FOR_MS, RETRY_FOR_MS));
        assert!(gives_up(1_000, 11_000, 10_000));
    }

    #[test]
    fn signatures_verify_and_refuse_tampering() {
        let body = br#"{"type":"rollout.paused"}"#;
        let sig = signature("whsec_1", 1_795_000_000, body);
        assert!(sig.starts_with("t=1795000000,v1="));
        assert_eq!(sig.len(), "t=1795000000,v1=".len() + 64);
        assert!(verify("whsec_1", &sig, body, 1_795_000_010));
        assert!(!verify("whsec_2", &sig, body, 1_795_000_010));
        assert!(!verify("whsec_1", &sig, b"{}", 1_795_000_010));
        assert!(!verify("whsec_1", &sig, body, 1_795_000_000 + 301));
        assert!(!verify("whsec_1", "v1=00", body, 1_795_000_000));
    }

    #[test]
    fn urls_are_checked() {
        let table: &[(&str, bool, Result<(), &str>)] = &[
            ("https://hooks.example.com/fota", false, Ok(())),
            ("https://hooks.example.com:8443/x?y=1", false, Ok(())),
            ("http://hooks.example.com/fota", false, Err("https")),
            ("http://127.0.0.1:9000/hook", false, Err("internal")),
            ("http://127.0.0.1:9000/hook", true, Ok(())),
            ("https://10.1.2.3/", false, Err("internal")),
            ("https://192.168.0.9/", false, Err("internal")),
            ("https://172.16.0.1/", false, Err("internal")),
            ("https://169.254.169.254/latest", false, Err("internal")),
            ("https://100.64.0.1/", false, Err("internal")),
            ("https://[::1]:8080/", false, Err("internal")),
            ("https://[fd00::1]/", false, Err("internal")),
            ("https://[::ffff:10.0.0.1]/", false, Err("internal")),
            ("https://localhost/", false, Err("internal")),
            ("https://printer.local/", false, Err("internal")),
            ("https://intranet/", false, Err("internal")),
            ("https://0x7f000001/", false, Err("internal")),
            ("https://8.8.8.8/", false, Ok(())),
            ("ftp://hooks.example.com/", false, Err("url is not")),
            (
                "https://user:pw@hooks.example.com/",
                false,
                Err("url is not"),
            ),
            ("https://hooks.example.com:99999/", false, Err("url is not")),
            ("https:///path", false, Err("url is not")),
            ("https://hooks.example.com/#x", false, Err("url is not")),
            ("https://hooks.example.com/ x", false, Err("url is not")),
        ];
        for (url, allow, expect) in table {
            let got = check_url(url, *allow).map_err(|e| e.to_string());
            match (got, expect) {
                (Ok(()), Ok(())) => {}
                (Err(msg), Err(part)) => assert!(msg.contains(part), "{url}: {msg}"),
                (got, _) => panic!("{url} (allow {allow}): {got:?}, expected {expect:?}"),
            }
        }
    }
}
