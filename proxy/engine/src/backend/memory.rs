//! Native in-memory backend: the reference implementation of the contract,
//! used for throw-away namespaces and as the cache-hit ceiling in benchmarks.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use bytes::Bytes;
use parking_lot::RwLock;

use super::*;
use crate::time::now_ms;

/// One series' events keyed by (event time ns, event id).
type SeriesEvents = BTreeMap<(i64, String), Event>;

#[derive(Default)]
pub struct MemoryBackend {
    items: RwLock<BTreeMap<Bytes, Item>>,
    series: RwLock<HashMap<String, SeriesEvents>>,
    /// Namespace-wide version counter: versions are never reused.
    version: AtomicU64,
}

fn live(item: &Item, now: i64) -> bool {
    item.expires_at_ms.is_none_or(|at| at > now)
}

impl MemoryBackend {
    pub fn new() -> Self {
        Self::default()
    }

    fn check_put(map: &BTreeMap<Bytes, Item>, e: &PutEntry, now: i64) -> Result<(), PrismError> {
        let current = map.get(&e.key).filter(|i| live(i, now));
        if e.if_absent && current.is_some() {
            return Err(PrismError::AlreadyExists(format!(
                "key '{}' already exists",
                String::from_utf8_lossy(&e.key)
            )));
        }
        check_version(&e.key, e.if_version, current)
    }
}

pub(crate) fn check_version(key: &[u8], expected: u64, current: Option<&Item>) -> Result<(), PrismError> {
    if expected == 0 {
        return Ok(());
    }
    let key = String::from_utf8_lossy(key);
    match current {
        None => Err(PrismError::FailedPrecondition(format!(
            "key '{key}' does not exist (expected version {expected})"
        ))),
        Some(item) if item.version != expected => Err(PrismError::FailedPrecondition(format!(
            "version mismatch on key '{key}': expected {expected}, found {}",
            item.version
        ))),
        Some(_) => Ok(()),
    }
}

#[async_trait]
impl Backend for MemoryBackend {
    fn kind(&self) -> &str {
        "memory"
    }

    async fn kv_get_many(&self, keys: Vec<Bytes>) -> Result<Vec<Option<Item>>, PrismError> {
        let now = now_ms();
        let map = self.items.read();
        Ok(keys.iter().map(|k| map.get(k).filter(|i| live(i, now)).cloned()).collect())
    }

    async fn kv_put(&self, entries: Vec<PutEntry>) -> Result<Vec<Written>, PrismError> {
        let now = now_ms();
        let mut map = self.items.write();
        for entry in &entries {
            Self::check_put(&map, entry, now)?;
        }
        let mut written = Vec::with_capacity(entries.len());
        for e in entries {
            let version = self.version.fetch_add(1, Ordering::Relaxed) + 1;
            let item = Item { key: e.key.clone(), value: e.value, version, expires_at_ms: e.expires_at_ms };
            map.insert(e.key, item);
            written.push(Written { version, expires_at_ms: e.expires_at_ms });
        }
        Ok(written)
    }

    async fn kv_delete(&self, entries: Vec<DeleteEntry>) -> Result<Vec<bool>, PrismError> {
        let now = now_ms();
        let mut map = self.items.write();
        for e in &entries {
            check_version(&e.key, e.if_version, map.get(&e.key).filter(|i| live(i, now)))?;
        }
        Ok(entries.iter().map(|e| map.remove(&e.key).is_some_and(|i| live(&i, now))).collect())
    }

    async fn kv_scan(&self, q: ScanQuery) -> Result<Vec<Item>, PrismError> {
        let now = now_ms();
        let map = self.items.read();
        let lower = match &q.after {
            Some(after) if after >= &q.start => Bound::Excluded(after.clone()),
            _ => Bound::Included(q.start.clone()),
        };
        let upper = q.end.clone().map_or(Bound::Unbounded, Bound::Excluded);
        if let (Bound::Excluded(l) | Bound::Included(l), Bound::Excluded(u)) = (&lower, &upper) {
            if l >= u {
                return Ok(Vec::new());
            }
        }
        Ok(map
            .range((lower, upper))
            .map(|(_, item)| item)
            .filter(|i| live(i, now))
            .take(q.limit)
            .cloned()
            .collect())
    }

    async fn ts_append(&self, events: Vec<Event>) -> Result<AppendOutcome, PrismError> {
        let mut series = self.series.write();
        let mut outcome = AppendOutcome::default();
        for event in events {
            let events = series.entry(event.series_id.clone()).or_default();
            let position = (event.time_ns, event.event_id.clone());
            match events.entry(position) {
                std::collections::btree_map::Entry::Occupied(_) => outcome.duplicates += 1,
                std::collections::btree_map::Entry::Vacant(slot) => {
                    slot.insert(event);
                    outcome.appended += 1;
                }
            }
        }
        Ok(outcome)
    }

    async fn ts_query(&self, q: TsQuery) -> Result<Vec<Event>, PrismError> {
        if q.start_ns >= q.end_ns {
            return Ok(Vec::new());
        }
        let series = self.series.read();
        let Some(events) = series.get(&q.series_id) else { return Ok(Vec::new()) };
        // Resume by narrowing the range to the cursor, so paging stays O(page).
        let mut lower = Bound::Included((q.start_ns, String::new()));
        let mut upper = Bound::Excluded((q.end_ns, String::new()));
        if let Some(after) = q.after.clone() {
            if q.descending {
                if after < (q.end_ns, String::new()) {
                    upper = Bound::Excluded(after);
                }
            } else if after >= (q.start_ns, String::new()) {
                lower = Bound::Excluded(after);
            }
        }
        if let (Bound::Included(l) | Bound::Excluded(l), Bound::Excluded(u)) = (&lower, &upper) {
            if l >= u {
                return Ok(Vec::new());
            }
        }
        let range = events.range((lower, upper)).map(|(_, e)| e);
        let keep = |e: &&Event| e.matches(&q.tag_filter);
        Ok(if q.descending {
            range.rev().filter(keep).take(q.limit).cloned().collect()
        } else {
            range.filter(keep).take(q.limit).cloned().collect()
        })
    }

    async fn ts_aggregate(&self, q: AggQuery) -> Result<Vec<BucketStat>, PrismError> {
        let series = self.series.read();
        let Some(events) = series.get(&q.series_id) else { return Ok(Vec::new()) };
        let mut buckets: BTreeMap<i64, BucketStat> = BTreeMap::new();
        if q.start_ns >= q.end_ns {
            return Ok(Vec::new());
        }
        let range = (q.start_ns, String::new())..(q.end_ns, String::new());
        for ((time, _), event) in events.range(range) {
            if event.matches(&q.tag_filter) {
                let start = q.bucket_of(*time);
                buckets.entry(start).or_insert_with(|| BucketStat::empty(start)).add(event.value);
            }
        }
        Ok(buckets.into_values().collect())
    }
}
