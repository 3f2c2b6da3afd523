//! Native reads for namespaces of the `redis` plugin (ADR-003, "Built in session 3").
//!
//! The plugin offers, in its namespace entry, where its data lives (`native_reads`);
//! the core then answers KeyValue gets itself, over its own pipelined connection,
//! with the plugin's own `get` script on the plugin's own item hashes, so a get means
//! the same through either path and there is nothing to keep in sync. Writes, deletes,
//! scans and TimeSeries keep going through the plugin.
//!
//! - `resp`: the wire protocol (encoder, incremental parser);
//! - `endpoint`: the `redis://` URL;
//! - `connection`: one multiplexed connection, replies resolved in FIFO order;
//! - `client`: (re)connecting, AUTH/SELECT/SCRIPT LOAD, the script call, timeouts;
//! - `errors`: failures as the plugin's statuses;
//! - `reads`: the `RowReader` (one script call per read, rows as the plugin reads them);
//!   `backend::native` coalesces gets into its reads and wraps the bridged backend.

mod client;
mod connection;
mod endpoint;
mod errors;
mod reads;
mod resp;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

pub use client::GET_SCRIPT;
pub use reads::{RedisReads, RedisRows};

pub use crate::backend::native::ReadStats;
use crate::backend::Backend;
use crate::config::NativeReads;
use crate::PrismError;

impl RedisReads {
    /// Wraps `inner` (the bridged plugin backend of `namespace`) so that gets are read
    /// natively as `config` says; INVALID_ARGUMENT names the field to fix.
    pub fn wrap(inner: Arc<dyn Backend>, config: &NativeReads, namespace: &str) -> Result<Self, PrismError> {
        let path = format!("namespaces[{namespace}].native_reads");
        if config.kind != "redis" {
            return Err(PrismError::invalid(
                format!("{path}.kind"),
                format!("native reads of kind '{}' are not built in (known: redis)", config.kind),
            ));
        }
        let endpoint = endpoint::Endpoint::parse(&config.url)
            .map_err(|why| PrismError::invalid(format!("{path}.url"), why))?;
        for (field, ms) in [
            ("connect_timeout_ms", config.connect_timeout_ms),
            ("socket_timeout_ms", config.socket_timeout_ms),
        ] {
            if ms == 0 {
                return Err(PrismError::invalid(format!("{path}.{field}"), "must be at least 1"));
            }
        }
        let client = client::Client::new(
            endpoint,
            namespace,
            Duration::from_millis(config.connect_timeout_ms),
            Duration::from_millis(config.socket_timeout_ms),
        );
        let prefix = Bytes::copy_from_slice(config.key_prefix.as_bytes());
        Ok(Self::new(inner, RedisRows { client, prefix }))
    }
}
