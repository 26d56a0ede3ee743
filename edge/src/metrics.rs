//! Per-isolate counters of storage calls, for benchmarks: how many D1 calls, R2 reads and
//! coordinator calls the requests so far cost. Read through `GET /admin/v1/metrics`.

use std::cell::Cell;

thread_local! {
    static D1_CALLS: Cell<u64> = const { Cell::new(0) };
}

pub fn count_d1() {
    D1_CALLS.set(D1_CALLS.get() + 1);
}

/// The counters as JSON.
pub fn snapshot() -> serde_json::Value {
    serde_json::json!({ "d1_calls": D1_CALLS.get() })
}
