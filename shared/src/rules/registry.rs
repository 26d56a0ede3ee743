//! The fleet registry's write rule: a check is news to D1 only when it changes the device's
//! firmware or version, or when the stored `last_seen` is older than the granularity it is kept
//! to. Everything else a check says is already known, and costs no write.

use serde::{Deserialize, Serialize};

/// What D1 holds for a device, as far as this isolate knows (and as a location's device card
/// keeps it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Known {
    pub firmware: String,
    /// The version, normalized (`1.00` and `1.0` are one version).
    pub version: String,
    pub last_seen: i64,
}

/// What a check tells D1 about a known device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum News {
    /// Nothing D1 does not hold: no write.
    Nothing,
    /// Only that it was seen, D1's `last_seen` being older than the granularity: a write that
    /// can wait to join a batch.
    Seen,
    /// A new firmware or version: a write and a history entry, without delay.
    Changed,
}

/// What this check tells D1 of the device. `None` when this isolate does not know the device yet.
pub fn news(
    known: Option<&Known>,
    firmware: &str,
    version: &str,
    at: i64,
    granularity_ms: i64,
) -> Option<News> {
    known.map(|k| {
        if k.firmware != firmware || k.version != version {
            News::Changed
        } else if at - k.last_seen >= granularity_ms {
            News::Seen
        } else {
            News::Nothing
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Does this news change what D1 holds? `None` when the device is not known.
    fn due(
        known: Option<&Known>,
        firmware: &str,
        version: &str,
        at: i64,
        granularity_ms: i64,
    ) -> Option<bool> {
        news(known, firmware, version, at, granularity_ms).map(|n| n != News::Nothing)
    }

    #[test]
    fn only_news_is_due() {
        let k = Known {
            firmware: "fw".into(),
            version: "1.0.0".into(),
            last_seen: 1_000,
        };
        let hour = 3_600_000;
        assert_eq!(
            due(None, "fw", "1.0.0", 2_000, hour),
            None,
            "unknown: read first"
        );
        assert_eq!(
            due(Some(&k), "fw", "1.0.0", 62_000, hour),
            Some(false),
            "the same a minute later"
        );
        assert_eq!(
            due(Some(&k), "fw", "1.0.1", 2_000, hour),
            Some(true),
            "a new version"
        );
        assert_eq!(
            due(Some(&k), "fw2", "1.0.0", 2_000, hour),
            Some(true),
            "a new firmware"
        );
        assert_eq!(
            due(Some(&k), "fw", "1.0.0", 1_000 + hour, hour),
            Some(true),
            "last_seen is an hour old"
        );
    }

    #[test]
    fn news_tells_a_refresh_from_a_change() {
        let k = Known {
            firmware: "fw".into(),
            version: "1.0.0".into(),
            last_seen: 0,
        };
        let day = 86_400_000;
        let cases: &[(Option<&Known>, &str, &str, i64, Option<News>)] = &[
            (None, "fw", "1.0.0", 5, None),
            (Some(&k), "fw", "1.0.0", day - 1, Some(News::Nothing)),
            (Some(&k), "fw", "1.0.0", day, Some(News::Seen)),
            (Some(&k), "fw", "1.0.1", 5, Some(News::Changed)),
            (Some(&k), "fw2", "1.0.0", day, Some(News::Changed)),
        ];
        for (known, fw, version, at, want) in cases {
            assert_eq!(
                news(*known, fw, version, *at, day),
                *want,
                "{fw} {version} {at}"
            );
        }
    }
}
