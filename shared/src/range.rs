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
}

/// Interprets a `Range` header. `bytes=0-` (sent by Air724 on its first request) is a partial
/// answer covering the whole image, which is still a fresh download.
pub fn answer(header: Option<&str>, total: u64) -> RangeAnswer {
    let Some(header) = header else { return RangeAnswer::Full };
    let Some(spec) = header.trim().strip_prefix("bytes=") else { return RangeAnswer::Full };
    if spec.contains(',') {
        return RangeAnswer::Full;
    }
    let Some((first, last)) = spec.trim().split_once('-') else { return RangeAnswer::Full };
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
            Some(n) => RangeAnswer::Partial { start: total.saturating_sub(n), end: total - 1 },
        },
        // `bytes=a-` or `bytes=a-b`.
        (false, _) => {
            let Some(start) = number(first) else { return RangeAnswer::Full };
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
