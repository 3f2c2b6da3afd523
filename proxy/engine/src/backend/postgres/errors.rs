//! Failures of the native PostgreSQL reads as the statuses the plugin gives them
//! (`patterns/postgres/prism_postgres/errors.py`), every message starting `postgres:`.
//!
//! Decided by SQLSTATE class, as the plugin does: connection exceptions, operator
//! intervention, statement timeouts, serialization failures and the like are
//! UNAVAILABLE (retriable); class 53 (out of resources) RESOURCE_EXHAUSTED, class 22
//! INVALID_ARGUMENT, anything else (e.g. 42P01, a table not provisioned) INTERNAL.
//! Failing to connect at all, also on bad credentials, is UNAVAILABLE: the plugin's
//! pool reports it so too. Messages carry the server's primary line only (a DETAIL may
//! quote row values) and never the URL.

use crate::PrismError;

/// SQLSTATEs that are UNAVAILABLE although their class is not.
const UNAVAILABLE_STATES: [&str; 6] = [
    "40001", // serialization_failure
    "40P01", // deadlock_detected
    "55P03", // lock_not_available
    "57014", // query_canceled (statement_timeout)
    "53300", // too_many_connections: other clients may leave
    "25006", // read_only_sql_transaction: a standby, e.g. during a failover
];
/// 08: connection exception; 57P: operator intervention; 58: system error.
const UNAVAILABLE_CLASSES: [&str; 3] = ["08", "57P", "58"];

/// A failure to connect (refused, reset, timed out, rejected credentials).
pub fn connect_failed(err: &tokio_postgres::Error) -> PrismError {
    PrismError::Unavailable(format!("postgres: cannot connect: {}", first_line(err)))
}

/// A failure of a statement on an established connection.
pub fn statement_failed(err: &tokio_postgres::Error) -> PrismError {
    if let Some(db) = err.as_db_error() {
        return by_state(db.code().code(), db.message());
    }
    if is_connection_error(err) {
        return PrismError::Unavailable(format!("postgres: {}", first_line(err)));
    }
    PrismError::Internal(format!("postgres: {}", first_line(err)))
}

/// The status of a server error with SQLSTATE `state`.
pub fn by_state(state: &str, message: &str) -> PrismError {
    let text = format!("postgres: {state}: {}", message.lines().next().unwrap_or(""));
    if UNAVAILABLE_STATES.contains(&state) || UNAVAILABLE_CLASSES.iter().any(|c| state.starts_with(c)) {
        PrismError::Unavailable(text)
    } else if state.starts_with("53") {
        PrismError::ResourceExhausted { message: text, retry_after: None }
    } else if state.starts_with("22") {
        PrismError::invalid("", text)
    } else {
        PrismError::Internal(text)
    }
}

/// True when the connection itself is gone: it is dropped and the next call reconnects.
pub fn is_connection_error(err: &tokio_postgres::Error) -> bool {
    if let Some(db) = err.as_db_error() {
        let state = db.code().code();
        return state.starts_with("08") || state.starts_with("57P");
    }
    err.is_closed() || io_source(err)
}

fn io_source(err: &tokio_postgres::Error) -> bool {
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        if cause.is::<std::io::Error>() {
            return true;
        }
        source = cause.source();
    }
    false
}

fn first_line(err: &tokio_postgres::Error) -> String {
    err.to_string().lines().next().unwrap_or("").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_map_as_in_the_plugin() {
        let code = |state| by_state(state, "msg\nDETAIL: Key (k)=(secret)").code_name();
        assert_eq!(code("57014"), "unavailable");
        assert_eq!(code("08006"), "unavailable");
        assert_eq!(code("57P01"), "unavailable");
        assert_eq!(code("53300"), "unavailable");
        assert_eq!(code("53100"), "resource_exhausted");
        assert_eq!(code("22021"), "invalid_argument");
        assert_eq!(code("42P01"), "internal");
        assert_eq!(code("28P01"), "internal");
        let text = by_state("42P01", "relation \"kv_x\" does not exist\nDETAIL: secret").to_string();
        assert!(text.starts_with("postgres: 42P01: relation") && !text.contains("secret"), "{text}");
    }
}
