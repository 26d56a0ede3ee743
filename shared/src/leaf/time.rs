//! Timestamps: milliseconds since the Unix epoch in storage, RFC 3339 (UTC, seconds) in the API.

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// `1763770646000` -> `2025-11-22T00:17:26Z`. Out-of-range values clamp to the epoch.
pub fn rfc3339(ms: i64) -> String {
    OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
        .format(&Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_string())
}

/// Parses an RFC 3339 timestamp back to milliseconds.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    OffsetDateTime::parse(text, &Rfc3339)
        .ok()
        .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for (ms, text) in [
            (0, "1970-01-01T00:00:00Z"),
            (1_795_306_646_000, "2026-11-22T00:17:26Z"),
        ] {
            assert_eq!(rfc3339(ms), text);
            assert_eq!(parse_rfc3339(text), Some(ms));
        }
        assert_eq!(parse_rfc3339("yesterday"), None);
    }
}
