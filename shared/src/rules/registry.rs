//! The fleet registry's write rule: a check is news to D1 only when it changes the device's
//! firmware or version, or when the stored `last_seen` is older than the granularity it is kept
//! to. Everything else a check says is already known, and costs no write.

/// What D1 holds for a device, as far as this isolate knows.
#[derive(Debug, Clone, PartialEq)]
pub struct Known {
    pub firmware: String,
    /// The version, normalized (`1.00` and `1.0` are one version).
    pub version: String,
    pub last_seen: i64,
}

/// Does this news change what D1 holds? `None` when this isolate does not know the device yet.
pub fn due(
    known: Option<&Known>,
    firmware: &str,
    version: &str,
    at: i64,
    granularity_ms: i64,
) -> Option<bool> {
    known.map(|k| {
        k.firmware != firmware || k.version != version || at - k.last_seen >= granularity_ms
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
