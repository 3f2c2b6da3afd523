//! `PostgresReads`: a namespace's backend whose gets are answered here, natively, and
//! whose every other call goes to the wrapped backend (the bridge to the plugin).
//!
//! Gets are coalesced as the plugin host (and `backend::redis`) coalesces them: at most
//! `MAX_IN_FLIGHT` get statements of the namespace are in flight; gets arriving
//! meanwhile wait and leave together, as one statement, when one finishes. A lone get
//! leaves at once, on its caller's task. Batches formed from waiting gets run on their
//! own task, so a caller that gives up (deadline, cancel) never fails the others.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::oneshot;
use tokio_postgres::Row;

use super::client::Client;
use crate::backend::{
    AggQuery, AppendOutcome, Backend, BucketStat, DeleteEntry, Event, Item, PutEntry, ScanQuery, TsQuery,
    Written,
};
use crate::PrismError;

/// Most get statements of one namespace in flight (the plugin host's `max_read_batches`).
const MAX_IN_FLIGHT: usize = 2;
/// Waiting gets joined into one statement until it has this many keys (a single larger
/// request still goes alone).
const MAX_BATCH_KEYS: usize = 512;

type Answer = Result<Vec<Option<Item>>, PrismError>;

struct Waiter {
    keys: Vec<Bytes>,
    answer: oneshot::Sender<Answer>,
}

#[derive(Default)]
struct Queue {
    in_flight: usize,
    waiting: VecDeque<Waiter>,
}

/// What the native path has sent, for tests and diagnosis.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct ReadStats {
    /// Get statements run.
    pub batches: u64,
    /// Keys they carried (duplicates within a statement counted once).
    pub keys: u64,
}

struct Shared {
    client: Client,
    queue: Mutex<Queue>,
    batches: AtomicU64,
    keys: AtomicU64,
}

pub struct PostgresReads {
    inner: Arc<dyn Backend>,
    shared: Arc<Shared>,
}

impl PostgresReads {
    pub fn new(inner: Arc<dyn Backend>, client: Client) -> Self {
        let shared = Shared {
            client,
            queue: Mutex::new(Queue::default()),
            batches: AtomicU64::new(0),
            keys: AtomicU64::new(0),
        };
        Self { inner, shared: Arc::new(shared) }
    }

    pub fn stats(&self) -> ReadStats {
        ReadStats {
            batches: self.shared.batches.load(Ordering::Relaxed),
            keys: self.shared.keys.load(Ordering::Relaxed),
        }
    }
}

impl Shared {
    async fn get(self: &Arc<Self>, keys: Vec<Bytes>) -> Answer {
        match self.enter(keys) {
            Ok(keys) => {
                let _slot = Slot(self.clone());
                self.fetch(&keys).await
            }
            Err(wait) => wait.await.unwrap_or_else(|_| {
                Err(PrismError::Unavailable("postgres: the read batch was dropped (shutting down)".into()))
            }),
        }
    }

    /// `Ok(keys)`: a slot is taken, the caller fetches them now; `Err`: they wait for a batch.
    fn enter(self: &Arc<Self>, keys: Vec<Bytes>) -> Result<Vec<Bytes>, oneshot::Receiver<Answer>> {
        let mut queue = self.queue.lock();
        if queue.in_flight < MAX_IN_FLIGHT && queue.waiting.is_empty() {
            queue.in_flight += 1;
            return Ok(keys);
        }
        let (answer, rx) = oneshot::channel();
        queue.waiting.push_back(Waiter { keys, answer });
        // Only between a batch ending and the next leaving can a slot be free while
        // gets wait: start the next batch right away.
        if queue.in_flight < MAX_IN_FLIGHT {
            queue.in_flight += 1;
            let batch = take_batch(&mut queue.waiting);
            drop(queue);
            self.spawn_batch(batch);
        }
        Err(rx)
    }

    /// Runs one batch of waiting gets to the end on its own task, then the next.
    fn spawn_batch(self: &Arc<Self>, batch: Vec<Waiter>) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            self.queue.lock().in_flight -= 1; // no runtime: the waiters' senders drop
            return;
        };
        let shared = self.clone();
        runtime.spawn(async move {
            let _slot = Slot(shared.clone());
            let keys: Vec<Bytes> = batch.iter().flat_map(|w| w.keys.iter().cloned()).collect();
            if keys.is_empty() {
                return; // every caller gave up meanwhile
            }
            let mut answer = shared.fetch(&keys).await.map(|items| items.into_iter());
            for waiter in batch {
                let mine = match &mut answer {
                    Ok(items) => Ok(items.by_ref().take(waiter.keys.len()).collect()),
                    Err(err) => Err(err.clone()),
                };
                let _ = waiter.answer.send(mine);
            }
        });
    }

    /// Items of `keys` in order, in one get statement (duplicates asked once).
    async fn fetch(&self, keys: &[Bytes]) -> Answer {
        let mut position: HashMap<&Bytes, usize> = HashMap::with_capacity(keys.len());
        let mut unique: Vec<&Bytes> = Vec::with_capacity(keys.len());
        let slots: Vec<usize> = keys
            .iter()
            .map(|key| {
                *position.entry(key).or_insert_with(|| {
                    unique.push(key);
                    unique.len() - 1
                })
            })
            .collect();
        self.batches.fetch_add(1, Ordering::Relaxed);
        self.keys.fetch_add(unique.len() as u64, Ordering::Relaxed);
        let rows = self.client.get_rows(&unique, crate::time::now_ms()).await?;
        let mut found: Vec<Option<Item>> = vec![None; unique.len()];
        for row in rows {
            let item = item(&row)?;
            if let Some(&i) = position.get(&item.key) {
                found[i] = Some(item);
            }
        }
        Ok(slots.into_iter().map(|i| found[i].clone()).collect())
    }

    /// A batch ended: hand its slot to the waiting gets, or free it.
    fn finish(self: &Arc<Self>) {
        let mut queue = self.queue.lock();
        if queue.waiting.iter().any(|w| !w.answer.is_closed()) {
            let batch = take_batch(&mut queue.waiting);
            drop(queue);
            self.spawn_batch(batch);
        } else {
            queue.waiting.clear();
            queue.in_flight -= 1;
        }
    }
}

/// The oldest waiting gets, up to `MAX_BATCH_KEYS` keys (at least one get); gets whose
/// caller gave up are dropped.
fn take_batch(waiting: &mut VecDeque<Waiter>) -> Vec<Waiter> {
    let mut batch = Vec::new();
    let mut keys = 0;
    while let Some(next) = waiting.front() {
        if next.answer.is_closed() {
            waiting.pop_front();
            continue;
        }
        if !batch.is_empty() && keys + next.keys.len() > MAX_BATCH_KEYS {
            break;
        }
        keys += next.keys.len();
        batch.extend(waiting.pop_front());
    }
    batch
}

/// Holds one of the namespace's in-flight slots; released (or passed on) when the
/// batch ends, also when its caller is cancelled mid-call.
struct Slot(Arc<Shared>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.finish();
    }
}

/// A `(key, value, version, expires_at_ms)` row as the plugin returns it: the live
/// filter is the statement's, the fields are taken as stored.
fn item(row: &Row) -> Result<Item, PrismError> {
    let bad = |err: tokio_postgres::Error| PrismError::Internal(format!("postgres: a get row: {err}"));
    let key: &[u8] = row.try_get(0).map_err(bad)?;
    let value: &[u8] = row.try_get(1).map_err(bad)?;
    let version: i64 = row.try_get(2).map_err(bad)?;
    let expires_at_ms: Option<i64> = row.try_get(3).map_err(bad)?;
    let version = u64::try_from(version)
        .map_err(|_| PrismError::Internal(format!("postgres: a stored item has the version {version}")))?;
    Ok(Item {
        key: Bytes::copy_from_slice(key),
        value: Bytes::copy_from_slice(value),
        version,
        expires_at_ms,
    })
}

#[async_trait]
impl Backend for PostgresReads {
    fn kind(&self) -> &str {
        self.inner.kind()
    }

    async fn kv_get_many(&self, keys: Vec<Bytes>) -> Result<Vec<Option<Item>>, PrismError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        self.shared.get(keys).await
    }

    async fn kv_put(&self, entries: Vec<PutEntry>) -> Result<Vec<Written>, PrismError> {
        self.inner.kv_put(entries).await
    }

    async fn kv_delete(&self, entries: Vec<DeleteEntry>) -> Result<Vec<bool>, PrismError> {
        self.inner.kv_delete(entries).await
    }

    async fn kv_scan(&self, query: ScanQuery) -> Result<Vec<Item>, PrismError> {
        self.inner.kv_scan(query).await
    }

    async fn ts_append(&self, events: Vec<Event>) -> Result<AppendOutcome, PrismError> {
        self.inner.ts_append(events).await
    }

    async fn ts_query(&self, query: TsQuery) -> Result<Vec<Event>, PrismError> {
        self.inner.ts_query(query).await
    }

    async fn ts_aggregate(&self, query: AggQuery) -> Result<Vec<BucketStat>, PrismError> {
        self.inner.ts_aggregate(query).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_take_waiting_gets_up_to_the_key_cap() {
        let mut waiting = VecDeque::new();
        let mut receivers = Vec::new();
        for n in [300, 200, 100, 600] {
            let (answer, rx) = oneshot::channel();
            waiting.push_back(Waiter { keys: vec![Bytes::new(); n], answer });
            receivers.push(rx);
        }
        let sizes = |b: Vec<Waiter>| b.iter().map(|w| w.keys.len()).collect::<Vec<_>>();
        assert_eq!(sizes(take_batch(&mut waiting)), vec![300, 200]);
        drop(receivers.remove(2)); // a get whose caller gave up is skipped
        assert_eq!(sizes(take_batch(&mut waiting)), vec![600]); // alone, over the cap
        assert!(waiting.is_empty());
    }
}
