//! Per-isolate counters of every billed storage operation, by kind: KV reads, writes, lists and
//! deletes; D1 round trips, statements and the rows D1's result meta says they read and wrote
//! (index rows included); Durable Object requests per object and the rows their SQLite storage
//! read and wrote; R2 class A and B operations; Cache API hits, misses and puts. Benchmarks price
//! a check from these (`bench/cost.sh`), read through `GET /admin/v1/metrics` (or `/healthz`
//! with `EXPOSE_METRICS=true`).
//!
//! Work an isolate does on a timer rather than per request (the activity flush) is also counted
//! apart under `background`, since it scales with isolates, not with checks. Counters are isolate
//! memory: a fresh isolate starts at zero, and locally the Durable Objects share the Worker's
//! isolate, so their storage rows land here too.

use std::cell::RefCell;
use std::collections::BTreeMap;

/// Distinct objects counted by name; past it, the rest are counted under one `other` entry.
const MAX_OBJECTS: usize = 1_000;

#[derive(Default)]
struct Counters {
    kv_reads: u64,
    kv_writes: u64,
    kv_lists: u64,
    kv_deletes: u64,
    d1_queries: u64,
    d1_statements: u64,
    d1_rows_read: u64,
    d1_rows_written: u64,
    do_requests: BTreeMap<String, u64>,
    /// Requests one coordinator shard made to another (reports, spreads, gathers).
    do_between: u64,
    do_rows_read: u64,
    do_rows_written: u64,
    r2_class_a: u64,
    r2_class_b: u64,
    cache_hits: u64,
    cache_misses: u64,
    cache_puts: u64,
    bg_d1_queries: u64,
    bg_d1_rows_written: u64,
}

thread_local! {
    static COUNTERS: RefCell<Counters> = RefCell::new(Counters::default());
}

fn add(f: impl FnOnce(&mut Counters)) {
    COUNTERS.with_borrow_mut(f)
}

/// The kinds of KV operation (each billed on its own line).
#[derive(Clone, Copy)]
pub enum Kv {
    Read,
    Write,
    List,
    Delete,
}

pub fn kv(op: Kv) {
    add(|c| match op {
        Kv::Read => c.kv_reads += 1,
        Kv::Write => c.kv_writes += 1,
        Kv::List => c.kv_lists += 1,
        Kv::Delete => c.kv_deletes += 1,
    })
}

/// Whose work a storage operation is: a request's own, or the isolate's timer-driven work.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Work {
    Request,
    Background,
}

/// One D1 round trip of `statements` statements that read and wrote these rows (D1's meta).
pub fn d1(work: Work, statements: u64, rows_read: u64, rows_written: u64) {
    add(|c| {
        c.d1_queries += 1;
        c.d1_statements += statements;
        c.d1_rows_read += rows_read;
        c.d1_rows_written += rows_written;
        if work == Work::Background {
            c.bg_d1_queries += 1;
            c.bg_d1_rows_written += rows_written;
        }
    })
}

/// One request to a Durable Object, named `<binding>/<object name>`.
pub fn durable_object(binding: &str, name: &str) {
    add(|c| {
        let key = if c.do_requests.len() < MAX_OBJECTS {
            format!("{binding}/{name}")
        } else {
            format!("{binding}/other")
        };
        *c.do_requests.entry(key).or_insert(0) += 1;
    })
}

/// One request from a Durable Object to another (billed like any other, counted apart from the
/// Worker's so the spread of a release's calls over objects shows as it is).
pub fn between_objects() {
    add(|c| c.do_between += 1)
}

/// Rows a Durable Object's SQLite statement read and wrote.
pub fn do_rows(read: u64, written: u64) {
    add(|c| {
        c.do_rows_read += read;
        c.do_rows_written += written;
    })
}

/// R2: class A (put, list, multipart) or class B (get, head).
pub fn r2(class_a: bool) {
    add(|c| {
        if class_a {
            c.r2_class_a += 1
        } else {
            c.r2_class_b += 1
        }
    })
}

/// A Cache API lookup: hit or miss.
pub fn cache(hit: bool) {
    add(|c| {
        if hit {
            c.cache_hits += 1
        } else {
            c.cache_misses += 1
        }
    })
}

pub fn cache_put() {
    add(|c| c.cache_puts += 1)
}

/// The counters as JSON.
pub fn snapshot() -> serde_json::Value {
    COUNTERS.with_borrow(|c| {
        serde_json::json!({
            "kv": { "reads": c.kv_reads, "writes": c.kv_writes, "lists": c.kv_lists, "deletes": c.kv_deletes },
            "d1": {
                "queries": c.d1_queries,
                "statements": c.d1_statements,
                "rows_read": c.d1_rows_read,
                "rows_written": c.d1_rows_written,
            },
            "durable_objects": {
                "requests": c.do_requests.values().sum::<u64>() + c.do_between,
                "by_object": c.do_requests,
                "between_objects": c.do_between,
                "rows_read": c.do_rows_read,
                "rows_written": c.do_rows_written,
            },
            "r2": { "class_a": c.r2_class_a, "class_b": c.r2_class_b },
            "cache": { "hits": c.cache_hits, "misses": c.cache_misses, "puts": c.cache_puts },
            "background": {
                "d1_queries": c.bg_d1_queries,
                "d1_rows_written": c.bg_d1_rows_written,
            },
            // bench/run.sh reads these two names.
            "d1_calls": c.d1_queries,
            "d1_activity_calls": c.bg_d1_queries,
        })
    })
}
