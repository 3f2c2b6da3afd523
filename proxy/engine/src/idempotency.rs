//! Idempotency tokens for mutations: the first outcome of a token is kept for
//! a window and replayed to retries; concurrent retries wait for the first.
//!
//! Transient failures (backend unavailable, deadline) are not kept: nothing
//! was acknowledged, so the retry runs again. A token reused with a different
//! request is refused. Tokens live in this proxy's memory for `WINDOW`
//! (ADR-002 records the limits of that choice).

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tokio::sync::OnceCell;

use crate::pb::kv;
use crate::PrismError;

pub const WINDOW: Duration = Duration::from_secs(600);
const MAX_TOKENS: usize = 200_000;

/// The replayable outcome of a mutation.
#[derive(Debug, Clone)]
pub enum Mutation {
    Put(kv::PutResponse),
    BatchPut(kv::BatchPutResponse),
    Delete(kv::DeleteResponse),
    BatchDelete(kv::BatchDeleteResponse),
}

struct Slot {
    fingerprint: u64,
    created: Instant,
    outcome: OnceCell<Result<Mutation, PrismError>>,
}

#[derive(Default)]
pub struct IdempotencyStore {
    slots: Mutex<HashMap<(String, String), Arc<Slot>>>,
    inserts: AtomicU64,
}

impl IdempotencyStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs `write` once per (namespace, token id); retries get the first outcome.
    pub async fn run<F, Fut>(
        &self,
        namespace: &str,
        token_id: &str,
        fingerprint: u64,
        write: F,
    ) -> Result<Mutation, PrismError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Mutation, PrismError>>,
    {
        let slot = self.slot(namespace, token_id, fingerprint);
        if slot.fingerprint != fingerprint {
            return Err(PrismError::invalid(
                "idempotency_token.id",
                format!(
                    "idempotency token '{token_id}' was already used with a different request; \
                     generate a new token for a new write"
                ),
            ));
        }
        let outcome = slot
            .outcome
            .get_or_try_init(|| async {
                match write().await {
                    Err(err) if err.is_transient() => Err(err),
                    settled => Ok(settled),
                }
            })
            .await?;
        outcome.clone()
    }

    fn slot(&self, namespace: &str, token_id: &str, fingerprint: u64) -> Arc<Slot> {
        let mut slots = self.slots.lock();
        if self.inserts.fetch_add(1, Ordering::Relaxed) % 1024 == 0 || slots.len() >= MAX_TOKENS {
            slots.retain(|_, slot| slot.created.elapsed() < WINDOW);
        }
        slots
            .entry((namespace.to_string(), token_id.to_string()))
            .or_insert_with(|| {
                Arc::new(Slot { fingerprint, created: Instant::now(), outcome: OnceCell::new() })
            })
            .clone()
    }

    pub fn len(&self) -> usize {
        self.slots.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
