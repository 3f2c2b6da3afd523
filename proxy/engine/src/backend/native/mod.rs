//! Native reads (ADR-003): a namespace's backend whose KeyValue gets the core answers
//! itself, and whose every other call goes to the wrapped backend (the bridge to the
//! plugin). Chooses the reader a plugin's `native_reads` offer asks for.
//!
//! - `coalesce`: the `RowReader` a backend implements, and the coalescing of concurrent
//!   gets into reads of it (queue, batches, dedupe of keys, `ReadStats`);
//! - `wrapper`: `CoalescedReads`, the `Backend` that answers gets with a `RowReader`
//!   and delegates the rest.

mod coalesce;
mod wrapper;

use std::sync::Arc;

pub use coalesce::{ReadStats, RowReader};
pub use wrapper::CoalescedReads;

use super::postgres::PostgresReads;
use super::redis::RedisReads;
use super::Backend;
use crate::config::NativeReads;
use crate::PrismError;

/// `inner` with its gets read natively as `config` says; INVALID_ARGUMENT names the field.
pub fn wrap(
    inner: Arc<dyn Backend>,
    config: &NativeReads,
    namespace: &str,
) -> Result<Arc<dyn Backend>, PrismError> {
    match config.kind.as_str() {
        "redis" => Ok(Arc::new(RedisReads::wrap(inner, config, namespace)?)),
        "postgres" => Ok(Arc::new(PostgresReads::wrap(inner, config, namespace)?)),
        other => Err(PrismError::invalid(
            format!("namespaces[{namespace}].native_reads.kind"),
            format!("native reads of kind '{other}' are not built in (known: redis, postgres)"),
        )),
    }
}
