//! The Luat guide's UDP chunked upgrade protocol (device-protocols.md section 2) as pure functions:
//! what a datagram asks, the answer texts, and the package arithmetic of the guide's Python sample
//! server, which devices in the field were written against and which this module follows exactly.

use fota_shared::leaf::code::Refusal;

/// Bytes of image per `Get` answer (after the 2-byte package number), as in the sample.
pub const PACKAGE_SIZE: u64 = 1022;
/// Longer datagrams are never a request of this protocol (a start line is about 40 bytes).
pub const MAX_DATAGRAM: usize = 512;
/// The package number travels in 2 bytes, so an image may have at most this many packages.
pub const MAX_PACKAGES: u64 = 0xFFFF;

/// What one datagram asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request<'a> {
    /// `IMEI,project_name,x.y.z`: is there an upgrade for this device?
    Start(Start<'a>),
    /// `Get<n>,<upgrade_id>`: package `n` (1-based) of an upgrade. Numbers too long for a `u64`
    /// saturate: they name no package and no upgrade either way.
    Get { n: u64, upgrade_id: u64 },
    /// Matches neither pattern.
    Unknown,
}

/// A start line's fields, as the device sent them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Start<'a> {
    pub imei: &'a str,
    pub project_name: &'a str,
    pub version: &'a str,
}

/// Why a datagram was not read at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unreadable {
    /// Longer than [`MAX_DATAGRAM`].
    Oversize,
    /// Not ASCII: the sample's `decode('ascii')` raises and it answers `error all`.
    NotAscii,
}

/// The answers of the protocol, with the sample server's exact texts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// `LUAUPDATE,<upgrade_id>,<package_count>,<last_package_size>`.
    Upgrade {
        upgrade_id: u32,
        package_count: u64,
        last_package_size: u64,
    },
    VersionError,
    ImeiRangeError,
    NoUpgrade,
    ErrorAll,
    UnknownFunction,
}

impl Answer {
    pub fn to_bytes(self) -> Vec<u8> {
        match self {
            Answer::Upgrade {
                upgrade_id,
                package_count,
                last_package_size,
            } => format!("LUAUPDATE,{upgrade_id},{package_count},{last_package_size}").into_bytes(),
            Answer::VersionError => b"version error".to_vec(),
            Answer::ImeiRangeError => b"imei range error".to_vec(),
            Answer::NoUpgrade => b"no upgrade".to_vec(),
            Answer::ErrorAll => b"error all".to_vec(),
            Answer::UnknownFunction => b"unknown function".to_vec(),
        }
    }

    /// The answer for an image of `size` bytes under `upgrade_id`, or `None` when it has more
    /// packages than a 2-byte package number can name.
    pub fn upgrade(upgrade_id: u32, size: u64) -> Option<Answer> {
        let (package_count, last_package_size) = packages(size);
        (package_count <= MAX_PACKAGES).then_some(Answer::Upgrade {
            upgrade_id,
            package_count,
            last_package_size,
        })
    }

    /// The answer for the edge's refusal `code` (`{"code":N}` of a 4xx check answer).
    pub fn for_refusal(code: u16) -> Answer {
        if code == Refusal::UpToDate.code() || code == Refusal::SourceVersionNotEligible.code() {
            Answer::VersionError
        } else if code == Refusal::NotInDeviceSet.code() {
            Answer::ImeiRangeError
        } else {
            // Unknown project or firmware, banned, not offering now, malformed, image unavailable.
            Answer::NoUpgrade
        }
    }
}

/// Reads one datagram the way the sample's two regular expressions do:
/// `^(\d{15}),(\w+),(\d+\.\d+\.\d+)$` and `^Get(\d+),(\d+)$`. Python's `$` also matches before
/// one final `\n`, so a line ending in a newline is accepted as the sample accepts it.
pub fn parse(datagram: &[u8]) -> Result<Request<'_>, Unreadable> {
    if datagram.len() > MAX_DATAGRAM {
        return Err(Unreadable::Oversize);
    }
    let Ok(text) = std::str::from_utf8(datagram) else {
        return Err(Unreadable::NotAscii);
    };
    if !text.is_ascii() {
        return Err(Unreadable::NotAscii);
    }
    let text = text.strip_suffix('\n').unwrap_or(text);
    if let Some(rest) = text.strip_prefix("Get") {
        return Ok(parse_get(rest).unwrap_or(Request::Unknown));
    }
    Ok(parse_start(text)
        .map(Request::Start)
        .unwrap_or(Request::Unknown))
}

fn parse_get(rest: &str) -> Option<Request<'static>> {
    let (n, id) = rest.split_once(',')?;
    Some(Request::Get {
        n: number(n)?,
        upgrade_id: number(id)?,
    })
}

fn parse_start(text: &str) -> Option<Start<'_>> {
    let mut fields = text.split(',');
    let (imei, project_name, version) = (fields.next()?, fields.next()?, fields.next()?);
    if fields.next().is_some() {
        return None;
    }
    let word = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let mut segments = version.split('.');
    let three_numbers =
        segments.by_ref().take(3).filter(|s| digits(s)).count() == 3 && segments.next().is_none();
    (imei.len() == 15 && digits(imei) && word(project_name) && three_numbers).then_some(Start {
        imei,
        project_name,
        version,
    })
}

/// `\d+` as a number, saturating at `u64::MAX`.
fn number(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(text.bytes().fold(0u64, |acc, b| {
        acc.saturating_mul(10).saturating_add(u64::from(b - b'0'))
    }))
}

/// `(package_count, last_package_size)` for an image of `size` bytes, as the sample computes them:
/// the last size is `size % 1022`, and a size that divides evenly has no extra package (its last
/// package is a full one, and `last_package_size` is 0).
pub fn packages(size: u64) -> (u64, u64) {
    let last = size % PACKAGE_SIZE;
    (size / PACKAGE_SIZE + u64::from(last != 0), last)
}

/// The byte range of package `n` (1-based) of an image of `size` bytes, or `None` when `n` is
/// outside `1..=package_count`.
pub fn package_range(n: u64, size: u64) -> Option<std::ops::Range<u64>> {
    let (count, _) = packages(size);
    if n == 0 || n > count {
        return None;
    }
    let start = (n - 1) * PACKAGE_SIZE;
    Some(start..size.min(start + PACKAGE_SIZE))
}

/// The answer to `Get<n>`: `n` as 2 bytes big-endian, then package `n` of `image`.
pub fn package(n: u64, image: &[u8]) -> Option<Vec<u8>> {
    let range = package_range(n, image.len() as u64)?;
    let n = u16::try_from(n).ok()?;
    let mut out = Vec::with_capacity(2 + (range.end - range.start) as usize);
    out.extend_from_slice(&n.to_be_bytes());
    out.extend_from_slice(&image[range.start as usize..range.end as usize]);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(datagram: &[u8], expect: Result<Request<'_>, Unreadable>) {
        assert_eq!(
            parse(datagram),
            expect,
            "{:?}",
            String::from_utf8_lossy(datagram)
        );
    }

    fn start<'a>(
        imei: &'a str,
        project_name: &'a str,
        version: &'a str,
    ) -> Result<Request<'a>, Unreadable> {
        Ok(Request::Start(Start {
            imei,
            project_name,
            version,
        }))
    }

    fn get(n: u64, upgrade_id: u64) -> Result<Request<'static>, Unreadable> {
        Ok(Request::Get { n, upgrade_id })
    }

    #[test]
    fn datagrams_read_as_the_sample_reads_them() {
        use Unreadable::*;
        let unknown = Ok(Request::Unknown);
        check(
            b"862991443753386,A9335_V1723_B3633_WD1,1.1.8",
            start("862991443753386", "A9335_V1723_B3633_WD1", "1.1.8"),
        );
        check(
            b"862991443753386,A9335_V1723_B3633_WD1,1.1.8\n",
            start("862991443753386", "A9335_V1723_B3633_WD1", "1.1.8"),
        );
        check(
            b"862991443753386,fotademo,2018.1.3",
            start("862991443753386", "fotademo", "2018.1.3"),
        );
        check(
            b"862991443753386,x,0.0.0",
            start("862991443753386", "x", "0.0.0"),
        );
        check(b"862991443753386,A9335,1.1.8\n\n", unknown);
        check(b"862991443753386,A9335,1.1.8\r\n", unknown);
        check(b"86299144375338,A9335,1.1.8", unknown); // 14 digits
        check(b"8629914437533860,A9335,1.1.8", unknown); // 16 digits
        check(b"86299144375338a,A9335,1.1.8", unknown);
        check(b"862991443753386,A9335-X,1.1.8", unknown); // `-` is not \w
        check(b"862991443753386,,1.1.8", unknown);
        check(b"862991443753386,A9335,1.1", unknown);
        check(b"862991443753386,A9335,1.1.8.9", unknown);
        check(b"862991443753386,A9335,1..8", unknown);
        check(b"862991443753386,A9335,1.1.8,", unknown);
        check(b" 862991443753386,A9335,1.1.8", unknown);
        check(b"Get6,12", get(6, 12));
        check(b"Get6,12\n", get(6, 12));
        check(b"Get0006,0012", get(6, 12));
        check(b"Get0,12", get(0, 12));
        check(b"Get99999999999999999999999,1", get(u64::MAX, 1));
        check(b"Get6,", unknown);
        check(b"Get,12", unknown);
        check(b"get6,12", unknown);
        check(b"Get6,12,1", unknown);
        check(b"Get-1,12", unknown);
        check(b"Get6 ,12", unknown);
        check(b"", unknown);
        check(b"hello", unknown);
        check("Get6,12\u{e9}".as_bytes(), Err(NotAscii));
        check(b"Get6,\xff12", Err(NotAscii));
        check(&[b'G'; MAX_DATAGRAM], unknown);
        check(&[b'G'; MAX_DATAGRAM + 1], Err(Oversize));
    }

    #[test]
    fn package_arithmetic_matches_the_sample() {
        // (size, package_count, last_package_size)
        let table: [(u64, u64, u64); 8] = [
            (0, 0, 0),
            (1, 1, 1),
            (1021, 1, 1021),
            (1022, 1, 0),
            (1023, 2, 1),
            (2044, 2, 0),
            (300 * 1024, 301, 600),
            (MAX_PACKAGES * 1022, MAX_PACKAGES, 0),
        ];
        for (size, count, last) in table {
            assert_eq!(packages(size), (count, last), "size {size}");
        }
    }

    #[test]
    fn package_ranges_cover_the_image_exactly() {
        // (n, size, range)
        let table: [(u64, u64, Option<std::ops::Range<u64>>); 9] = [
            (0, 3000, None),
            (1, 3000, Some(0..1022)),
            (2, 3000, Some(1022..2044)),
            (3, 3000, Some(2044..3000)),
            (4, 3000, None),
            (2, 2044, Some(1022..2044)),
            (3, 2044, None),
            (1, 0, None),
            (u64::MAX, 3000, None),
        ];
        for (n, size, range) in table {
            assert_eq!(package_range(n, size), range, "n {n} size {size}");
        }
    }

    #[test]
    fn a_package_starts_with_its_number_big_endian() {
        let image: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        let first = package(1, &image).unwrap();
        assert_eq!(&first[..2], &[0, 1]);
        assert_eq!(&first[2..], &image[..1022]);
        let p = package(257, &image).unwrap();
        assert_eq!(&p[..2], &[1, 1]);
        assert_eq!(&p[2..], &image[256 * 1022..257 * 1022]);
        let (count, last) = packages(image.len() as u64);
        let tail = package(count, &image).unwrap();
        assert_eq!(tail.len() as u64, 2 + last);
        assert_eq!(package(count + 1, &image), None);
        let whole: Vec<u8> = (1..=count)
            .flat_map(|n| package(n, &image).unwrap().split_off(2))
            .collect();
        assert_eq!(whole, image);
    }

    #[test]
    fn answers_carry_the_sample_texts() {
        let table = [
            (
                Answer::Upgrade {
                    upgrade_id: 12,
                    package_count: 301,
                    last_package_size: 5,
                },
                "LUAUPDATE,12,301,5",
            ),
            (Answer::VersionError, "version error"),
            (Answer::ImeiRangeError, "imei range error"),
            (Answer::NoUpgrade, "no upgrade"),
            (Answer::ErrorAll, "error all"),
            (Answer::UnknownFunction, "unknown function"),
        ];
        for (answer, text) in table {
            assert_eq!(answer.to_bytes(), text.as_bytes());
        }
        assert_eq!(
            Answer::upgrade(7, 2044),
            Some(Answer::Upgrade {
                upgrade_id: 7,
                package_count: 2,
                last_package_size: 0
            })
        );
        assert_eq!(Answer::upgrade(7, MAX_PACKAGES * 1022 + 1), None);
    }

    #[test]
    fn edge_refusals_map_to_the_sample_texts() {
        let table = [
            (60, Answer::VersionError),
            (66, Answer::VersionError),
            (61, Answer::ImeiRangeError),
            (25, Answer::NoUpgrade),
            (26, Answer::NoUpgrade),
            (27, Answer::NoUpgrade),
            (62, Answer::NoUpgrade),
            (63, Answer::NoUpgrade),
            (64, Answer::NoUpgrade),
            (67, Answer::NoUpgrade),
            (68, Answer::NoUpgrade),
            (0, Answer::NoUpgrade),
        ];
        for (code, answer) in table {
            assert_eq!(Answer::for_refusal(code), answer, "code {code}");
        }
    }
}
