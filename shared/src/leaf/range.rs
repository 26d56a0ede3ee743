//! HTTP `Range` requests on an image of known size, as devices resume downloads.

/// What to send for a `Range` header over an image of `total` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeAnswer {
    /// `200` with the whole image: no header, or one we do not honour (several ranges, bad syntax).
    Full,
    /// `206` with bytes `start..=end` and `Content-Range: bytes start-end/total`.
    Partial { start: u64, end: u64 },
    /// `416` with `Content-Range: bytes */total`.
    Unsatisfiable,
}

/// How an answer is framed: its status, which bytes of the image it carries, and its
/// `Content-Range`. Every way the edge sends an image (isolate memory, the Cache API, R2) frames
/// it from this one value, so the header contract cannot drift between them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeHead {
    pub status: u16,
    /// Offset of the first byte sent.
    pub start: u64,
    /// Bytes sent: the exact `Content-Length` (0 for a 416).
    pub length: u64,
    pub content_range: Option<String>,
}

impl RangeAnswer {
    /// Does this answer send the whole image of `total` bytes from byte 0 (no `Range`,
    /// `bytes=0-`, `bytes=0-(total-1)`)? Only such a download counts as a delivery: a resume or
    /// any other partial range costs nothing to ask for and proves nothing.
    pub fn is_whole(self, total: u64) -> bool {
        match self {
            RangeAnswer::Full => true,
            RangeAnswer::Partial { start, end } => start == 0 && end.saturating_add(1) == total,
            RangeAnswer::Unsatisfiable => false,
        }
    }

    /// The framing of this answer over an image of `total` bytes.
    pub fn head(self, total: u64) -> RangeHead {
        match self {
            RangeAnswer::Full => RangeHead {
                status: 200,
                start: 0,
                length: total,
                content_range: None,
            },
            RangeAnswer::Partial { start, end } => RangeHead {
                status: 206,
                start,
                length: end - start + 1,
                content_range: Some(format!("bytes {start}-{end}/{total}")),
            },
            RangeAnswer::Unsatisfiable => RangeHead {
                status: 416,
                start: 0,
                length: 0,
                content_range: Some(format!("bytes */{total}")),
            },
        }
    }

    /// The canonical `Range` header asking another cache for exactly these bytes, so that its own
    /// reading of the device's header (several ranges, `5-2`) never decides what we send.
    pub fn request_header(self) -> Option<String> {
        match self {
            RangeAnswer::Partial { start, end } => Some(format!("bytes={start}-{end}")),
            RangeAnswer::Full | RangeAnswer::Unsatisfiable => None,
        }
    }
}

/// Interprets a `Range` header. `bytes=0-` (sent by Air724 on its first request) is a partial
/// answer covering the whole image, which is still a fresh download.
pub fn answer(header: Option<&str>, total: u64) -> RangeAnswer {
    let Some(header) = header else {
        return RangeAnswer::Full;
    };
    let Some(spec) = header.trim().strip_prefix("bytes=") else {
        return RangeAnswer::Full;
    };
    if spec.contains(',') {
        return RangeAnswer::Full;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeAnswer::Full;
    };
    let (first, last) = (first.trim(), last.trim());
    let number = |s: &str| -> Option<u64> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            None
        } else {
            s.parse().ok()
        }
    };
    match (first.is_empty(), last.is_empty()) {
        // `bytes=-N`: the last N bytes.
        (true, false) => match number(last) {
            None => RangeAnswer::Full,
            Some(0) => RangeAnswer::Unsatisfiable,
            Some(_) if total == 0 => RangeAnswer::Unsatisfiable,
            Some(n) => RangeAnswer::Partial {
                start: total.saturating_sub(n),
                end: total - 1,
            },
        },
        // `bytes=a-` or `bytes=a-b`.
        (false, _) => {
            let Some(start) = number(first) else {
                return RangeAnswer::Full;
            };
            let end = if last.is_empty() {
                None
            } else {
                match number(last) {
                    Some(e) if e >= start => Some(e),
                    // `a-b` with b < a is syntactically invalid: ignore the header.
                    Some(_) => return RangeAnswer::Full,
                    None => return RangeAnswer::Full,
                }
            };
            if start >= total {
                return RangeAnswer::Unsatisfiable;
            }
            let end = end.map_or(total - 1, |e| e.min(total - 1));
            RangeAnswer::Partial { start, end }
        }
        (true, true) => RangeAnswer::Full,
    }
}

#[cfg(test)]
mod tests {
    use super::RangeAnswer::*;
    use super::*;

    #[track_caller]
    fn check(header: Option<&str>, total: u64, expect: RangeAnswer) {
        assert_eq!(answer(header, total), expect, "{header:?} over {total}");
    }

    #[test]
    fn range_table() {
        check(None, 100, Full);
        check(Some("bytes=0-"), 100, Partial { start: 0, end: 99 });
        check(Some("bytes=10-"), 100, Partial { start: 10, end: 99 });
        check(Some("bytes=10-19"), 100, Partial { start: 10, end: 19 });
        check(Some("bytes=10-1000"), 100, Partial { start: 10, end: 99 });
        check(Some("bytes=99-"), 100, Partial { start: 99, end: 99 });
        check(Some("bytes=100-"), 100, Unsatisfiable);
        check(Some("bytes=500-600"), 100, Unsatisfiable);
        check(Some("bytes=-10"), 100, Partial { start: 90, end: 99 });
        check(Some("bytes=-1000"), 100, Partial { start: 0, end: 99 });
        check(Some("bytes=-0"), 100, Unsatisfiable);
        check(Some("bytes=0-"), 0, Unsatisfiable);
        check(Some("bytes=5-2"), 100, Full);
        check(Some("bytes=0-1,5-6"), 100, Full);
        check(Some("items=0-1"), 100, Full);
        check(Some("bytes=x-"), 100, Full);
        check(Some("bytes=-"), 100, Full);
        check(Some("bytes=+1-"), 100, Full);
        check(Some("bytes=99999999999999999999999-"), 100, Full);
        check(Some(" bytes= 3 - 4 "), 100, Partial { start: 3, end: 4 });
    }

    #[track_caller]
    fn check_head(
        header: Option<&str>,
        total: u64,
        status: u16,
        start: u64,
        length: u64,
        content_range: Option<&str>,
    ) {
        let head = answer(header, total).head(total);
        let want = RangeHead {
            status,
            start,
            length,
            content_range: content_range.map(str::to_string),
        };
        assert_eq!(head, want, "{header:?} over {total}");
    }

    #[test]
    fn head_table() {
        check_head(None, 100, 200, 0, 100, None);
        check_head(Some("bytes=0-"), 100, 206, 0, 100, Some("bytes 0-99/100"));
        check_head(
            Some("bytes=10-19"),
            100,
            206,
            10,
            10,
            Some("bytes 10-19/100"),
        );
        check_head(Some("bytes=-10"), 100, 206, 90, 10, Some("bytes 90-99/100"));
        check_head(
            Some("bytes=99-500"),
            100,
            206,
            99,
            1,
            Some("bytes 99-99/100"),
        );
        check_head(Some("bytes=100-"), 100, 416, 0, 0, Some("bytes */100"));
        check_head(Some("bytes=0-1,5-6"), 100, 200, 0, 100, None);
        check_head(None, 0, 200, 0, 0, None);
    }

    #[test]
    fn request_header_asks_for_exactly_the_answered_bytes() {
        assert_eq!(
            Partial { start: 0, end: 99 }.request_header().as_deref(),
            Some("bytes=0-99")
        );
        assert_eq!(
            Partial { start: 90, end: 99 }.request_header().as_deref(),
            Some("bytes=90-99")
        );
        assert_eq!(Full.request_header(), None);
        assert_eq!(Unsatisfiable.request_header(), None);
    }

    #[test]
    fn only_downloads_from_zero_are_fresh() {
        for (answer, total, whole) in [
            (Full, 10, true),
            (Partial { start: 0, end: 9 }, 10, true),
            (Partial { start: 0, end: 0 }, 10, false),
            (Partial { start: 0, end: 8 }, 10, false),
            (Partial { start: 1, end: 9 }, 10, false),
            (Unsatisfiable, 10, false),
        ] {
            assert_eq!(answer.is_whole(total), whole, "{answer:?} of {total}");
        }
    }
}
