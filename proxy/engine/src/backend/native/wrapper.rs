//! `CoalescedReads`: a namespace's backend whose gets are answered natively by a
//! `RowReader` (coalesced), and whose every other call goes to the wrapped backend
//! (the bridge to the plugin).

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;

use super::coalesce::{Coalescer, ReadStats, RowReader};
use crate::backend::{
    AggQuery, AppendOutcome, Backend, BucketStat, DeleteEntry, Event, Item, PutEntry, ScanQuery, TsQuery,
    Written,
};
use crate::PrismError;

pub struct CoalescedReads<R> {
    inner: Arc<dyn Backend>,
    shared: Arc<Coalescer<R>>,
}

impl<R: RowReader> CoalescedReads<R> {
    /// `inner` with its gets read by `reader`.
    pub fn new(inner: Arc<dyn Backend>, reader: R) -> Self {
        Self { inner, shared: Arc::new(Coalescer::new(reader)) }
    }

    pub fn stats(&self) -> ReadStats {
        self.shared.stats()
    }
}

#[async_trait]
impl<R: RowReader> Backend for CoalescedReads<R> {
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
