//! Firmware versions: dotted numbers compared segment by segment (`2018.1.3` < `2018.1.10`).

use std::cmp::Ordering;
use std::fmt;

/// A parsed version. Missing trailing segments count as zero, so `1.2` == `1.2.0`.
#[derive(Debug, Clone, Eq)]
pub struct Version {
    segments: Vec<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VersionError {
    #[error("version is empty")]
    Empty,
    #[error("version segment {0:?} is not a number")]
    NotNumeric(String),
    #[error("version has more than {MAX_SEGMENTS} segments")]
    TooLong,
}

const MAX_SEGMENTS: usize = 8;

impl Version {
    /// Parses `V1.2.3`, `v1.2.3`, `2018.1.3` or `1`. A single leading `V`/`v` is accepted because
    /// Luat cores and scripts write versions that way; anything else non-numeric is refused.
    pub fn parse(text: &str) -> Result<Version, VersionError> {
        let text = text.trim();
        let text = text.strip_prefix(['V', 'v']).unwrap_or(text);
        if text.is_empty() {
            return Err(VersionError::Empty);
        }
        let mut segments = Vec::new();
        for part in text.split('.') {
            if segments.len() == MAX_SEGMENTS {
                return Err(VersionError::TooLong);
            }
            if part.is_empty() || part.len() > 18 || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(VersionError::NotNumeric(part.to_string()));
            }
            segments.push(
                part.parse()
                    .map_err(|_| VersionError::NotNumeric(part.to_string()))?,
            );
        }
        Ok(Version { segments })
    }

    pub fn segments(&self) -> &[u64] {
        &self.segments
    }

    fn segment(&self, i: usize) -> u64 {
        self.segments.get(i).copied().unwrap_or(0)
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        let len = self.segments.len().max(other.segments.len());
        (0..len)
            .map(|i| self.segment(i).cmp(&other.segment(i)))
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal)
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.segments.iter().map(u64::to_string).collect();
        f.write_str(&parts.join("."))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(a: &str, b: &str, expect: Ordering) {
        let (va, vb) = (Version::parse(a).unwrap(), Version::parse(b).unwrap());
        assert_eq!(va.cmp(&vb), expect, "{a} vs {b}");
        assert_eq!(vb.cmp(&va), expect.reverse(), "{b} vs {a}");
    }

    #[test]
    fn orders_numerically_per_segment() {
        use Ordering::*;
        check("2018.1.3", "2018.1.10", Less);
        check("2018.1.3", "2018.1.3", Equal);
        check("1.2", "1.2.0", Equal);
        check("V1.2.3", "1.2.3", Equal);
        check("v2.0.0", "1.999.999", Greater);
        check("2018.2.0", "2018.1.99", Greater);
        check("1.0.9", "1.0.10", Less);
        check("10", "9.9.9", Greater);
        check("001.002", "1.2", Equal);
    }

    #[test]
    fn refuses_malformed_versions() {
        for bad in [
            "",
            "V",
            "1..2",
            "1.2.",
            "1.2.x",
            "abc",
            "1.2.3-beta",
            "1,2",
            "-1",
            "1.2.3.4.5.6.7.8.9",
            "1234567890123456789",
        ] {
            assert!(Version::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn displays_canonical_form() {
        assert_eq!(Version::parse("V001.2.30").unwrap().to_string(), "1.2.30");
    }
}
