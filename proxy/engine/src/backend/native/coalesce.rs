//! Coalescing of a namespace's concurrent gets into reads of its `RowReader`.
//!
//! Gets are coalesced the way the plugin host coalesces them: at most `MAX_IN_FLIGHT`
//! reads (a Redis `get` script call, a PostgreSQL get statement) of the namespace are
//! in flight; gets arriving meanwhile wait and leave together, as one read, when one
//! finishes. A lone get leaves at once, on its caller's task. Batches formed from
//! waiting gets run on their own task, so a caller that gives up (deadline, cancel)
//! never fails the others. Keys asked twice within one read are read once.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::oneshot;

use crate::backend::Item;
use crate::PrismError;

/// Most reads of one namespace in flight (the plugin host's `max_read_batches`).
const MAX_IN_FLIGHT: usize = 2;
/// Waiting gets joined into one read until it has this many keys (a single larger
/// request still goes alone): keeps one read short (a Redis script blocks the server).
const MAX_BATCH_KEYS: usize = 512;

/// Where a namespace's items are read natively: one read per batch of gets.
#[async_trait]
pub trait RowReader: Send + Sync + 'static {
    /// "redis" / "postgres": the prefix of this reader's error messages.
    fn name(&self) -> &'static str;
    /// Items of `unique` keys (no duplicates), in the same order (None = missing/expired).
    async fn read(&self, unique: &[&Bytes]) -> Result<Vec<Option<Item>>, PrismError>;
}

/// What the native path has sent, for tests and diagnosis.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct ReadStats {
    /// Reads made (`get` script calls, get statements).
    pub batches: u64,
    /// Keys they carried (duplicates within a read counted once).
    pub keys: u64,
}

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

/// The reader of one namespace with its queue of gets; shared with batch tasks.
pub(super) struct Coalescer<R> {
    reader: R,
    queue: Mutex<Queue>,
    batches: AtomicU64,
    keys: AtomicU64,
}

impl<R: RowReader> Coalescer<R> {
    pub(super) fn new(reader: R) -> Self {
        Self {
            reader,
            queue: Mutex::new(Queue::default()),
            batches: AtomicU64::new(0),
            keys: AtomicU64::new(0),
        }
    }

    pub(super) fn stats(&self) -> ReadStats {
        ReadStats { batches: self.batches.load(Ordering::Relaxed), keys: self.keys.load(Ordering::Relaxed) }
    }

    /// Items of `keys` in order, read alone or with other waiting gets.
    pub(super) async fn get(self: &Arc<Self>, keys: Vec<Bytes>) -> Answer {
        match self.enter(keys) {
            Ok(keys) => {
                let _slot = Slot(self.clone());
                self.fetch(&keys).await
            }
            Err(wait) => wait.await.unwrap_or_else(|_| {
                Err(PrismError::Unavailable(format!(
                    "{}: the read batch was dropped (shutting down)",
                    self.reader.name()
                )))
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

    /// Items of `keys` in order, in one read (duplicates asked once).
    async fn fetch(&self, keys: &[Bytes]) -> Answer {
        if let [key] = keys {
            // The common lone Get: nothing to deduplicate, so no map and no slot table.
            return self.read_unique(&[key]).await;
        }
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
        let items = self.read_unique(&unique).await?;
        Ok(slots.into_iter().map(|i| items[i].clone()).collect())
    }

    /// One read of distinct keys, counted in the stats; an answer of the wrong length is
    /// INTERNAL (readers check their own answers; this keeps a wrong one from panicking).
    async fn read_unique(&self, unique: &[&Bytes]) -> Answer {
        self.batches.fetch_add(1, Ordering::Relaxed);
        self.keys.fetch_add(unique.len() as u64, Ordering::Relaxed);
        let items = self.reader.read(unique).await?;
        if items.len() != unique.len() {
            return Err(PrismError::Internal(format!(
                "{}: the read answered {} items for {} keys",
                self.reader.name(),
                items.len(),
                unique.len()
            )));
        }
        Ok(items)
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
struct Slot<R: RowReader>(Arc<Coalescer<R>>);

impl<R: RowReader> Drop for Slot<R> {
    fn drop(&mut self) {
        self.0.finish();
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
