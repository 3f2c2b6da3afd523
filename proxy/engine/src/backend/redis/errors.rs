//! Redis failures as Prism errors, status for status what the plugin's `map_error`
//! (patterns/redis/prism_redis/errors.py) gives for the same failure, so a get fails
//! the same way through either path. Every message starts with "redis:".

use crate::PrismError;

/// Error replies meaning "not now, try again": the server is sane but cannot serve
/// (busy script, loading, failing over, read-only replica).
const TRANSIENT: [&str; 7] =
    ["BUSY", "LOADING", "MISCONF", "TRYAGAIN", "CLUSTERDOWN", "MASTERDOWN", "READONLY"];

/// The server unreachable, the connection lost or a reply late: the client may retry.
pub fn unavailable(cause: impl std::fmt::Display) -> PrismError {
    PrismError::Unavailable(format!("redis: {cause}"))
}

/// The error for an error reply (`-KIND message`).
pub fn reply_error(text: &str) -> PrismError {
    let message = format!("redis: {text}");
    let kind = text.split(' ').next().unwrap_or("");
    // redis-py raises AuthenticationError / NoPermissionError for these: bad credentials,
    // retrying cannot help.
    let auth = matches!(kind, "WRONGPASS" | "NOAUTH" | "NOPERM")
        || text.contains("invalid password")
        || text.contains("called without any password configured");
    if auth {
        PrismError::PermissionDenied(message)
    } else if kind == "OOM" {
        PrismError::ResourceExhausted { message, retry_after: None }
    } else if TRANSIENT.contains(&kind) {
        PrismError::Unavailable(message)
    } else {
        PrismError::Internal(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_replies_as_the_plugin_does() {
        let code = |text: &str| reply_error(text).code_name();
        assert_eq!(
            code("WRONGPASS invalid username-password pair or user is disabled."),
            "permission_denied"
        );
        assert_eq!(code("NOAUTH Authentication required."), "permission_denied");
        assert_eq!(
            code("NOPERM User app has no permissions to run the 'evalsha' command"),
            "permission_denied"
        );
        assert_eq!(code("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?"), "permission_denied");
        assert_eq!(code("OOM command not allowed when used memory > 'maxmemory'."), "resource_exhausted");
        assert_eq!(code("BUSY Redis is busy running a script."), "unavailable");
        assert_eq!(code("LOADING Redis is loading the dataset in memory"), "unavailable");
        assert_eq!(code("READONLY You can't write against a read only replica."), "unavailable");
        assert_eq!(code("ERR Error running script"), "internal");
        let err = reply_error("BUSY x");
        assert!(err.to_string().starts_with("redis: BUSY"), "{err}");
        assert!(unavailable("connection refused").to_string().contains("redis"));
    }
}
