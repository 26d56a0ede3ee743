//! Which images an isolate keeps in memory: each at most `max_item` bytes, all together at most
//! `max_total` bytes and `max_items` entries, the least recently used going first. The edge holds
//! the bytes; this is only the bookkeeping, so the policy is tested here without a runtime.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;

/// The bounds of one isolate's image memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_item: u64,
    pub max_total: u64,
    pub max_items: usize,
}

/// The edge's bounds: images up to 1 MiB, 16 MiB in all (an isolate has 128 MB), and few enough
/// entries that the linear scan for the oldest one stays cheap.
pub const EDGE_LIMITS: Limits = Limits {
    max_item: 1 << 20,
    max_total: 16 << 20,
    max_items: 512,
};

struct Entry<V> {
    value: V,
    size: u64,
    used: u64,
}

/// Values with a size, kept within [`Limits`], evicting the least recently used.
pub struct LruBudget<K, V> {
    limits: Limits,
    entries: HashMap<K, Entry<V>>,
    total: u64,
    clock: u64,
}

impl<K: Eq + Hash + Clone, V> LruBudget<K, V> {
    pub fn new(limits: Limits) -> Self {
        LruBudget {
            limits,
            entries: HashMap::new(),
            total: 0,
            clock: 0,
        }
    }

    /// Would a value of `size` bytes be kept at all?
    pub fn admits(&self, size: u64) -> bool {
        size <= self.limits.max_item && size <= self.limits.max_total && self.limits.max_items > 0
    }

    /// The value under `key`, marked as just used.
    pub fn get<Q>(&mut self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.clock += 1;
        let clock = self.clock;
        self.entries.get_mut(key).map(|e| {
            e.used = clock;
            &e.value
        })
    }

    /// Keeps `value` under `key` (replacing what was there), evicting the least recently used
    /// entries until it fits. Returns false, keeping nothing, when `size` is never admitted.
    pub fn insert(&mut self, key: K, value: V, size: u64) -> bool {
        if !self.admits(size) {
            return false;
        }
        self.remove(&key);
        while self.total + size > self.limits.max_total
            || self.entries.len() >= self.limits.max_items
        {
            let Some(oldest) = self
                .entries
                .iter()
                .min_by_key(|(_, e)| e.used)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            self.remove(&oldest);
        }
        self.clock += 1;
        self.total += size;
        self.entries.insert(
            key,
            Entry {
                value,
                size,
                used: self.clock,
            },
        );
        true
    }

    pub fn remove<Q>(&mut self, key: &Q)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        if let Some(e) = self.entries.remove(key) {
            self.total -= e.size;
        }
    }

    /// Bytes kept.
    pub fn total(&self) -> u64 {
        self.total
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn contains<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.entries.contains_key(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One step of a scenario.
    enum Op {
        /// Insert key with size; expect whether it was kept.
        Put(&'static str, u64, bool),
        Get(&'static str),
        Remove(&'static str),
    }
    use Op::*;

    #[track_caller]
    fn check(limits: Limits, ops: &[Op], resident: &[&str], total: u64) {
        let mut lru: LruBudget<String, ()> = LruBudget::new(limits);
        for op in ops {
            match op {
                Put(k, size, kept) => assert_eq!(
                    lru.insert(k.to_string(), (), *size),
                    *kept,
                    "insert {k} ({size} bytes)"
                ),
                Get(k) => {
                    lru.get(*k);
                }
                Remove(k) => lru.remove(*k),
            }
        }
        let mut keys: Vec<&str> = resident.to_vec();
        keys.sort_unstable();
        let mut have: Vec<&str> = keys.iter().copied().filter(|k| lru.contains(*k)).collect();
        have.sort_unstable();
        assert_eq!(have, keys, "resident keys");
        assert_eq!(lru.len(), resident.len(), "entry count");
        assert_eq!(lru.total(), total, "bytes kept");
    }

    const SMALL: Limits = Limits {
        max_item: 10,
        max_total: 25,
        max_items: 3,
    };

    #[test]
    fn lru_budget_table() {
        check(
            SMALL,
            &[Put("a", 10, true), Put("b", 10, true)],
            &["a", "b"],
            20,
        );
        // Over the item size: refused, nothing evicted.
        check(
            SMALL,
            &[Put("a", 10, true), Put("big", 11, false)],
            &["a"],
            10,
        );
        // Over the byte budget: the least recently inserted goes.
        check(
            SMALL,
            &[Put("a", 10, true), Put("b", 10, true), Put("c", 10, true)],
            &["b", "c"],
            20,
        );
        // A read makes an entry recent: the other one goes.
        check(
            SMALL,
            &[
                Put("a", 10, true),
                Put("b", 10, true),
                Get("a"),
                Put("c", 10, true),
            ],
            &["a", "c"],
            20,
        );
        // Over the entry count: the oldest goes although bytes would fit.
        check(
            SMALL,
            &[
                Put("a", 1, true),
                Put("b", 1, true),
                Put("c", 1, true),
                Put("d", 1, true),
            ],
            &["b", "c", "d"],
            3,
        );
        // Replacing a key does not count it twice.
        check(SMALL, &[Put("a", 10, true), Put("a", 5, true)], &["a"], 5);
        // Several small entries leave for one large one.
        check(
            SMALL,
            &[
                Put("a", 8, true),
                Put("b", 8, true),
                Put("c", 8, true),
                Put("d", 10, true),
            ],
            &["c", "d"],
            18,
        );
        check(
            SMALL,
            &[Put("a", 10, true), Remove("a"), Remove("missing")],
            &[],
            0,
        );
        check(SMALL, &[Put("empty", 0, true)], &["empty"], 0);
        let none = Limits {
            max_item: 10,
            max_total: 10,
            max_items: 0,
        };
        check(none, &[Put("a", 1, false)], &[], 0);
    }

    #[test]
    fn edge_limits_hold_sixteen_one_mebibyte_images() {
        let mut lru: LruBudget<u32, ()> = LruBudget::new(EDGE_LIMITS);
        for i in 0..20 {
            assert!(lru.insert(i, (), 1 << 20));
        }
        assert_eq!(lru.len(), 16);
        assert_eq!(lru.total(), 16 << 20);
        assert!(!lru.admits((1 << 20) + 1));
        assert!((4..20).all(|i| lru.contains(&i)));
    }
}
