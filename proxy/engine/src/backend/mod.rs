//! The `Backend` contract shared by native Rust backends and the bridge to
//! Python plugins. Methods are batch-first: one call carries many keys or
//! events so a backend can pipeline them. A backend instance serves one
//! namespace.

mod memory;
pub mod native;
pub mod postgres;
pub mod redis;
mod types;

pub use memory::MemoryBackend;
pub use types::*;

use async_trait::async_trait;
use bytes::Bytes;

use crate::PrismError;

#[async_trait]
pub trait Backend: Send + Sync + 'static {
    /// The backend kind, e.g. "memory" or "sqlite".
    fn kind(&self) -> &str;

    /// Items for `keys` in order; expired or missing keys are `None`.
    async fn kv_get_many(&self, keys: Vec<Bytes>) -> Result<Vec<Option<Item>>, PrismError> {
        let _ = keys;
        Err(self.unimplemented("kv.get"))
    }

    /// Applies every entry or none (conditions checked first).
    async fn kv_put(&self, entries: Vec<PutEntry>) -> Result<Vec<Written>, PrismError> {
        let _ = entries;
        Err(self.unimplemented("kv.put"))
    }

    /// Deletes atomically; `true` where a live item was removed.
    async fn kv_delete(&self, entries: Vec<DeleteEntry>) -> Result<Vec<bool>, PrismError> {
        let _ = entries;
        Err(self.unimplemented("kv.delete"))
    }

    /// Live items in key order within the query's range, after its cursor.
    async fn kv_scan(&self, query: ScanQuery) -> Result<Vec<Item>, PrismError> {
        let _ = query;
        Err(self.unimplemented("kv.scan"))
    }

    /// Stores new events durably; existing (series, time, id) are duplicates.
    async fn ts_append(&self, events: Vec<Event>) -> Result<AppendOutcome, PrismError> {
        let _ = events;
        Err(self.unimplemented("ts.append"))
    }

    async fn ts_query(&self, query: TsQuery) -> Result<Vec<Event>, PrismError> {
        let _ = query;
        Err(self.unimplemented("ts.query"))
    }

    async fn ts_aggregate(&self, query: AggQuery) -> Result<Vec<BucketStat>, PrismError> {
        let _ = query;
        Err(self.unimplemented("ts.aggregate"))
    }

    fn unimplemented(&self, op: &str) -> PrismError {
        PrismError::Unimplemented(format!("backend '{}' does not implement {op}", self.kind()))
    }
}
