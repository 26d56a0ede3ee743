//! Logging that a burst cannot turn into a storm: a cause is logged at most once per
//! [`INTERVAL_MS`] per isolate, with how many times it happened since its last line. Under
//! `wrangler dev` every line crosses from workerd to Node; one line per failing request is what
//! took the local edge down under load.

use std::cell::RefCell;
use std::collections::HashMap;

/// At most one line per cause in this interval.
pub const INTERVAL_MS: i64 = 10_000;
/// Causes remembered at once; beyond it the table starts again (memory stays bounded).
const MAX_CAUSES: usize = 256;

thread_local! {
    /// cause -> (time of its last line, occurrences since)
    static SEEN: RefCell<HashMap<String, (i64, u64)>> = RefCell::new(HashMap::new());
}

/// The part of a message that names its cause: digits (ids, counts, times) do not make a new one.
fn cause_key(cause: &str) -> String {
    cause
        .chars()
        .filter(|c| !c.is_ascii_digit())
        .take(48)
        .collect()
}

/// Should a line for `cause` go out now? Returns the occurrences it stands for (itself included).
pub fn admit(cause: &str, now: i64) -> Option<u64> {
    let key = cause_key(cause);
    SEEN.with_borrow_mut(|seen| {
        if seen.len() >= MAX_CAUSES && !seen.contains_key(&key) {
            seen.clear();
        }
        let entry = seen.entry(key).or_insert((i64::MIN / 2, 0));
        entry.1 += 1;
        if now - entry.0 < INTERVAL_MS {
            return None;
        }
        let count = entry.1;
        *entry = (now, 0);
        Some(count)
    })
}

/// Logs `detail` under `cause` as an error, at most once per interval (see the module doc).
pub fn once(cause: &str, detail: &str) {
    // The clock straight from the runtime: logging sits below the storage layer, which logs.
    if let Some(count) = admit(cause, worker::Date::now().as_millis() as i64) {
        if count > 1 {
            worker::console_error!("{cause}: {detail} ({count} times since the last line)");
        } else {
            worker::console_error!("{cause}: {detail}");
        }
    }
}
