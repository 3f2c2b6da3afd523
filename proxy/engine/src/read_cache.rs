//! The per-namespace read cache (opt-in in the namespace config). A hit is
//! answered in Rust without touching the backend or Python.
//!
//! Consistency: writes through this proxy invalidate the keys they touch,
//! before and after the backend call, and a read may only fill the cache if no
//! write started since the read began (the write epoch), so a slow read can
//! never re-insert a value a concurrent write replaced. Writes made outside
//! this proxy (another proxy, the database directly) are seen after at most
//! the cache TTL: that is the staleness bound.

use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::Mutex;

use crate::backend::Item;
use crate::config::CachePolicy;

const SHARDS: usize = 16;
const DEFAULT_MAX_ENTRIES: usize = 10_000;
const DEFAULT_MAX_BYTES: usize = 64 << 20;
const DEFAULT_TTL: Duration = Duration::from_secs(60);

struct Entry {
    item: Item,
    cached_at: Instant,
    /// Matches the eviction queue's record of this insertion.
    seq: u64,
}

#[derive(Default)]
struct Shard {
    map: HashMap<Bytes, Entry>,
    /// Insertion order for FIFO eviction; stale records are skipped by `seq`.
    order: VecDeque<(Bytes, u64)>,
    bytes: usize,
    next_seq: u64,
}

pub struct ReadCache {
    shards: Vec<Mutex<Shard>>,
    hasher: std::collections::hash_map::RandomState,
    max_entries_per_shard: usize,
    max_bytes_per_shard: usize,
    ttl: Duration,
    epoch: AtomicU64,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl ReadCache {
    /// A cache for the policy, or `None` when the namespace does not enable one.
    pub fn new(policy: &CachePolicy) -> Option<Self> {
        if !policy.enabled {
            return None;
        }
        let max_entries = if policy.max_entries == 0 { DEFAULT_MAX_ENTRIES } else { policy.max_entries };
        let max_bytes = if policy.max_bytes == 0 { DEFAULT_MAX_BYTES } else { policy.max_bytes };
        let ttl =
            if policy.ttl_seconds > 0.0 { Duration::from_secs_f64(policy.ttl_seconds) } else { DEFAULT_TTL };
        Some(Self {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            hasher: Default::default(),
            max_entries_per_shard: max_entries.div_ceil(SHARDS),
            max_bytes_per_shard: max_bytes.div_ceil(SHARDS),
            ttl,
            epoch: AtomicU64::new(0),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        })
    }

    fn shard(&self, key: &[u8]) -> &Mutex<Shard> {
        &self.shards[(self.hasher.hash_one(key) as usize) % SHARDS]
    }

    /// A live cached item; expired entries (cache TTL or item TTL) are dropped.
    pub fn get(&self, key: &[u8], now_ms: i64) -> Option<Item> {
        let mut shard = self.shard(key).lock();
        let fresh = shard
            .map
            .get(key)
            .map(|e| e.cached_at.elapsed() < self.ttl && e.item.expires_at_ms.is_none_or(|at| at > now_ms));
        match fresh {
            Some(true) => {
                self.hits.fetch_add(1, Ordering::Relaxed);
                shard.map.get(key).map(|e| e.item.clone())
            }
            Some(false) => {
                if let Some(old) = shard.map.remove(key) {
                    shard.bytes -= old.item.size();
                }
                self.misses.fetch_add(1, Ordering::Relaxed);
                None
            }
            None => {
                self.misses.fetch_add(1, Ordering::Relaxed);
                None
            }
        }
    }

    /// The write epoch a read must capture before it goes to the backend.
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Fills the cache unless a write started since `epoch` was read.
    pub fn insert_if_current(&self, item: Item, epoch: u64) {
        let size = item.size();
        if size > self.max_bytes_per_shard {
            return;
        }
        let mut shard = self.shard(&item.key).lock();
        // Checked under the shard lock: `invalidate` bumps the epoch before it locks.
        if self.epoch.load(Ordering::Acquire) != epoch {
            return;
        }
        let seq = shard.next_seq;
        shard.next_seq += 1;
        let key = item.key.clone();
        if let Some(old) = shard.map.insert(key.clone(), Entry { item, cached_at: Instant::now(), seq }) {
            shard.bytes -= old.item.size();
        }
        shard.bytes += size;
        shard.order.push_back((key, seq));
        while shard.map.len() > self.max_entries_per_shard || shard.bytes > self.max_bytes_per_shard {
            let Some((key, seq)) = shard.order.pop_front() else { break };
            if shard.map.get(&key).is_some_and(|e| e.seq == seq) {
                if let Some(old) = shard.map.remove(&key) {
                    shard.bytes -= old.item.size();
                }
            }
        }
        // Bound the queue when the same keys are re-inserted over and over.
        if shard.order.len() > 4 * self.max_entries_per_shard.max(16) {
            let live: Vec<(Bytes, u64)> = shard
                .order
                .iter()
                .filter(|(k, s)| shard.map.get(k).is_some_and(|e| e.seq == *s))
                .cloned()
                .collect();
            shard.order = live.into();
        }
    }

    /// Drops `keys` and makes every read in flight unable to fill the cache.
    pub fn invalidate<'a>(&self, keys: impl IntoIterator<Item = &'a [u8]>) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        for key in keys {
            let mut shard = self.shard(key).lock();
            if let Some(old) = shard.map.remove(key) {
                shard.bytes -= old.item.size();
            }
        }
    }

    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    pub fn misses(&self) -> u64 {
        self.misses.load(Ordering::Relaxed)
    }

    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().map.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
