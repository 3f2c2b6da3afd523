//! Native reads for namespaces of the `postgres` plugin (ADR-003, "Built in session 3:
//! native PostgreSQL reads").
//!
//! The plugin offers, in its namespace entry, its URL and the quoted name of the
//! namespace's KeyValue table (`native_reads`); the core then answers KeyValue gets
//! itself, with exactly the plugin's get statement on the plugin's table, so a get means
//! the same through either path. Writes, deletes, scans and TimeSeries keep going
//! through the plugin. Plain TCP only (no TLS): the plugin offers nothing else.
//!
//! - `client`: the connections, the prepared get, reconnects and timeouts;
//! - `errors`: failures as the plugin's statuses;
//! - `reads`: the `RowReader` (one get statement per read, rows placed by key);
//!   `backend::native` coalesces gets into its reads and wraps the bridged backend.

mod client;
mod errors;
mod reads;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

pub use reads::{PostgresReads, PostgresRows};
use tokio_postgres::config::SslMode;

pub use crate::backend::native::ReadStats;
use crate::backend::Backend;
use crate::config::NativeReads;
use crate::PrismError;

/// The name the core's connections carry (`pg_stat_activity.application_name`).
pub fn application_name(namespace: &str) -> String {
    let mut name = format!("prism-core-reads:{namespace}");
    // PostgreSQL keeps 63 bytes; cut on a character boundary.
    while name.len() > 63 {
        name.pop();
    }
    name
}

impl PostgresReads {
    /// Wraps `inner` (the bridged plugin backend of `namespace`) so that gets are read
    /// natively as `config` says; INVALID_ARGUMENT names the field to fix.
    pub fn wrap(inner: Arc<dyn Backend>, config: &NativeReads, namespace: &str) -> Result<Self, PrismError> {
        let path = format!("namespaces[{namespace}].native_reads");
        if config.kind != "postgres" {
            return Err(PrismError::invalid(
                format!("{path}.kind"),
                format!("this reader reads kind 'postgres', not '{}'", config.kind),
            ));
        }
        for (field, ms) in [
            ("connect_timeout_ms", config.connect_timeout_ms),
            ("socket_timeout_ms", config.socket_timeout_ms),
        ] {
            if ms == 0 {
                return Err(PrismError::invalid(format!("{path}.{field}"), "must be at least 1"));
            }
        }
        let table = config.table.as_deref().unwrap_or("");
        if !is_quoted_name(table) {
            return Err(PrismError::invalid(
                format!("{path}.table"),
                format!("must be a quoted identifier such as \"kv_orders\", got {table:?}"),
            ));
        }
        // The parser's messages name the option, never its value (the URL may hold a password).
        let mut pg = tokio_postgres::Config::from_str(&config.url).map_err(|err| {
            PrismError::invalid(format!("{path}.url"), format!("not a URL the core can read: {err}"))
        })?;
        if pg.get_ssl_mode() == SslMode::Require {
            return Err(PrismError::invalid(
                format!("{path}.url"),
                "sslmode=require: the core's reads have no TLS (the plugin does not offer such URLs)",
            ));
        }
        pg.application_name(application_name(namespace));
        // The plugin's sessions bound every statement; so do the core's, with its socket timeout.
        pg.options(format!("-c statement_timeout={}", config.socket_timeout_ms));
        let client = client::Client::new(
            pg,
            table,
            Duration::from_millis(config.connect_timeout_ms),
            Duration::from_millis(config.socket_timeout_ms),
        );
        Ok(Self::new(inner, PostgresRows { client }))
    }
}

/// One or more dot-separated `"..."` identifiers (inner quotes doubled), nothing else:
/// the name goes into SQL text.
fn is_quoted_name(name: &str) -> bool {
    let mut chars = name.chars().peekable();
    loop {
        if chars.next() != Some('"') {
            return false;
        }
        let mut empty = true;
        loop {
            match chars.next() {
                None | Some('\0') => return false,
                Some('"') if chars.peek() == Some(&'"') => {
                    chars.next();
                    empty = false;
                }
                Some('"') => break,
                Some(_) => empty = false,
            }
        }
        if empty {
            return false;
        }
        match chars.next() {
            None => return true,
            Some('.') => continue,
            Some(_) => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_quoted_identifiers_are_table_names() {
        for good in ["\"kv_a\"", "\"public\".\"kv_a\"", "\"a\"\"b\"", "\"Ä b\""] {
            assert!(is_quoted_name(good), "{good}");
        }
        for bad in ["", "kv_a", "\"kv_a", "\"\"", "\"a\" ; DROP", "\"a\".", "\"a\"\"", "\"a\0\""] {
            assert!(!is_quoted_name(bad), "{bad}");
        }
    }

    #[test]
    fn application_names_fit_postgres() {
        assert_eq!(application_name("ns"), "prism-core-reads:ns");
        let long = application_name(&"é".repeat(60));
        assert!(long.len() <= 63 && long.starts_with("prism-core-reads:é"), "{long}");
    }
}
