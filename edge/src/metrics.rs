//! Per-isolate counters of storage calls, for benchmarks: how many D1 calls, R2 reads and
//! coordinator calls the requests so far cost. Read through `GET /admin/v1/metrics`.

use std::cell::Cell;

thread_local! {
    static D1_CALLS: Cell<u64> = const { Cell::new(0) };
    static D1_ACTIVITY_CALLS: Cell<u64> = const { Cell::new(0) };
}

pub fn count_d1() {
    D1_CALLS.set(D1_CALLS.get() + 1);
}

pub fn d1_calls() -> u64 {
    D1_CALLS.get()
}

/// Of the D1 calls, these were the dashboard's activity flush (one batch per isolate every few
/// seconds, whatever the traffic), not a check's own.
pub fn attribute_to_activity(calls: u64) {
    D1_ACTIVITY_CALLS.set(D1_ACTIVITY_CALLS.get() + calls);
}

/// The counters as JSON.
pub fn snapshot() -> serde_json::Value {
    serde_json::json!({ "d1_calls": D1_CALLS.get(), "d1_activity_calls": D1_ACTIVITY_CALLS.get() })
}
