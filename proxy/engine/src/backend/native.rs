//! Chooses the native reader a plugin's `native_reads` offer asks for (ADR-003): each
//! reader wraps the namespace's bridged backend and answers its KeyValue gets itself.

use std::sync::Arc;

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
