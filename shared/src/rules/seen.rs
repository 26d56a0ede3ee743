//! Seen-within counts kept per clock hour: the fleet summary counts the devices whose stored
//! `last_seen` falls in each hour (D1's `seen_hours`, moved along as `last_seen` is written) and
//! sums the hours a window overlaps. The counts are exact for the stored `last_seen`, which is
//! itself kept to `SEEN_GRANULARITY_S` (a day by default: a device polling hourly has a stored
//! `last_seen` up to a day older than its latest check), and each window is rounded out to
//! whole clock hours (it may reach up to an hour further back than it says).

/// The width of one bucket: a clock hour, in ms.
pub const BUCKET_MS: i64 = 3_600_000;
const DAY_MS: i64 = 86_400_000;
/// The windows the summary counts: an hour, a day, a week.
pub const WINDOWS_MS: [i64; 3] = [BUCKET_MS, DAY_MS, 7 * DAY_MS];
/// Buckets are kept this long (the longest window and a day): older ones are never read, and a
/// device whose `last_seen` is older is not taken out of one when it is seen again.
pub const KEEP_MS: i64 = 8 * DAY_MS;
/// Newest devices each bucket remembers (`seen_hours.latest`), as many as the summary lists.
pub const LATEST_PER_BUCKET: usize = 12;
/// The newest clock hours (with any device) whose remembered devices the summary's latest list
/// is chosen from: reading every hour's list of the week would read over 2,000 rows.
pub const LATEST_HOURS: usize = 4;
/// Candidates the summary reads for its latest devices: twice as many as it lists, since a
/// bucket may still name a device whose `last_seen` moved on or that was removed.
pub const LATEST_CANDIDATES: usize = 2 * LATEST_PER_BUCKET;

/// The start of the clock hour holding `at_ms`.
pub fn bucket(at_ms: i64) -> i64 {
    at_ms.div_euclid(BUCKET_MS) * BUCKET_MS
}

/// The first bucket a window of `window_ms` ending at `now_ms` overlaps.
pub fn window_start(now_ms: i64, window_ms: i64) -> i64 {
    bucket(now_ms - window_ms)
}

/// Buckets starting before this are no longer kept (retention removes them; a device moving out
/// of one is not subtracted from it).
pub fn keep_from(now_ms: i64) -> i64 {
    bucket(now_ms - KEEP_MS)
}

/// Devices seen within each of [`WINDOWS_MS`] at `now_ms`, from `(bucket start, devices)`
/// pairs. Buckets ahead of `now_ms` (a clock slightly ahead elsewhere) count in every window;
/// a negative count (a bucket whose devices moved on after it stopped being kept) counts as none.
pub fn within(buckets: &[(i64, i64)], now_ms: i64) -> [u64; 3] {
    WINDOWS_MS.map(|window| seen_within(buckets, now_ms, window))
}

/// Devices seen within one window of `window_ms` ending at `now_ms` (rounded out to whole clock
/// hours, as [`within`]), from `(bucket start, devices)` pairs. Exact for any window up to the
/// week the summary reads (`KEEP_MS` is longer).
pub fn seen_within(buckets: &[(i64, i64)], now_ms: i64, window_ms: i64) -> u64 {
    let start = window_start(now_ms, window_ms);
    let sum: i64 = buckets
        .iter()
        .filter(|(hour, _)| *hour >= start)
        .map(|(_, n)| (*n).max(0))
        .sum();
    sum as u64
}

/// The newest `limit` distinct device ids among `(id, last_seen)` entries, newest first (ties
/// in id order), each at its newest time.
pub fn newest(entries: &[(String, i64)], limit: usize) -> Vec<(String, i64)> {
    let mut best: std::collections::BTreeMap<&str, i64> = std::collections::BTreeMap::new();
    for (id, at) in entries {
        let slot = best.entry(id.as_str()).or_insert(*at);
        *slot = (*slot).max(*at);
    }
    let mut list: Vec<(String, i64)> = best
        .into_iter()
        .map(|(id, at)| (id.to_string(), at))
        .collect();
    list.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    list.truncate(limit);
    list
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = BUCKET_MS;
    // 2026-11-22T00:17:26Z.
    const NOW: i64 = 1_795_306_646_000;

    #[test]
    fn buckets_are_clock_hours() {
        for (at, want) in [
            (0, 0),
            (H - 1, 0),
            (H, H),
            (NOW, NOW - 17 * 60_000 - 26_000),
            (-1, -H),
        ] {
            assert_eq!(bucket(at), want, "{at}");
        }
        assert_eq!(keep_from(NOW), bucket(NOW) - 8 * 24 * H);
    }

    #[track_caller]
    fn check(buckets: &[(i64, i64)], want: [u64; 3]) {
        assert_eq!(within(buckets, NOW), want, "{buckets:?}");
    }

    #[test]
    fn windows_sum_the_hours_they_overlap() {
        let this_hour = bucket(NOW);
        check(&[], [0, 0, 0]);
        // This hour and the previous one are both within the last hour (rounded out).
        check(&[(this_hour, 5), (this_hour - H, 2)], [7, 7, 7]);
        check(&[(this_hour - 2 * H, 3)], [0, 3, 3]);
        // The day reaches the hour that was 24 h ago, not the one before.
        check(
            &[(this_hour - 24 * H, 4), (this_hour - 25 * H, 1)],
            [0, 4, 5],
        );
        check(
            &[(this_hour - 7 * 24 * H, 6), (this_hour - 7 * 24 * H - H, 9)],
            [0, 0, 6],
        );
        // A bucket ahead of the clock counts everywhere; a negative one counts as none.
        check(&[(this_hour + H, 2), (this_hour, -3)], [2, 2, 2]);
    }

    #[test]
    fn any_window_sums_the_hours_it_overlaps() {
        let this_hour = bucket(NOW);
        let buckets = [
            (this_hour, 1),
            (this_hour - 5 * H, 2),
            (this_hour - 47 * H, 4),
        ];
        for (window, want) in [(H, 1), (5 * H, 3), (6 * H, 3), (47 * H, 7), (2 * 24 * H, 7)] {
            assert_eq!(seen_within(&buckets, NOW, window), want, "{window}");
        }
    }

    #[test]
    fn newest_devices_are_distinct_and_ordered() {
        let e = |id: &str, at: i64| (id.to_string(), at);
        let got = newest(&[e("b", 5), e("a", 9), e("b", 11), e("c", 9), e("d", 1)], 3);
        assert_eq!(got, [e("b", 11), e("a", 9), e("c", 9)]);
        assert!(newest(&[], 3).is_empty());
    }
}
