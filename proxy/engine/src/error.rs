//! The one typed error of the data plane. Layers and backends produce it (often
//! through their own small error types); `rescue` turns it into a gRPC status.

use std::time::Duration;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PrismError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    AlreadyExists(String),
    /// A condition of the request does not hold (version mismatch, wrong pattern).
    #[error("{0}")]
    FailedPrecondition(String),
    /// `field` is the request field to fix, in proto path form (`entries[2].key`);
    /// `message` names it too (see `invalid`), so the status text stands alone.
    #[error("{message}")]
    InvalidArgument { field: String, message: String },
    #[error("{message}")]
    ResourceExhausted { message: String, retry_after: Option<Duration> },
    #[error("{0}")]
    DeadlineExceeded(String),
    /// The backend cannot be reached; the client may retry.
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    Unimplemented(String),
    #[error("{0}")]
    Unauthenticated(String),
    #[error("{0}")]
    PermissionDenied(String),
    #[error("{0}")]
    Internal(String),
}

impl PrismError {
    /// An INVALID_ARGUMENT whose message is prefixed with the field unless it names it.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        let (field, message) = (field.into(), message.into());
        let message = if field.is_empty() || message.contains(field.as_str()) {
            message
        } else {
            format!("{field}: {message}")
        };
        Self::InvalidArgument { field, message }
    }

    /// Canonical lower-case code, shared with the Python side (`prism.errors`).
    pub fn code_name(&self) -> &'static str {
        match self {
            Self::NotFound(_) => "not_found",
            Self::AlreadyExists(_) => "already_exists",
            Self::FailedPrecondition(_) => "failed_precondition",
            Self::InvalidArgument { .. } => "invalid_argument",
            Self::ResourceExhausted { .. } => "resource_exhausted",
            Self::DeadlineExceeded(_) => "deadline_exceeded",
            Self::Unavailable(_) => "unavailable",
            Self::Unimplemented(_) => "unimplemented",
            Self::Unauthenticated(_) => "unauthenticated",
            Self::PermissionDenied(_) => "permission_denied",
            Self::Internal(_) => "internal",
        }
    }

    /// Inverse of `code_name`, used for errors that crossed the Python bridge.
    pub fn from_code(code: &str, message: String) -> Self {
        match code {
            "not_found" => Self::NotFound(message),
            "already_exists" => Self::AlreadyExists(message),
            "failed_precondition" => Self::FailedPrecondition(message),
            "invalid_argument" => Self::invalid("", message),
            "resource_exhausted" => Self::ResourceExhausted { message, retry_after: None },
            "deadline_exceeded" => Self::DeadlineExceeded(message),
            "unavailable" => Self::Unavailable(message),
            "unimplemented" => Self::Unimplemented(message),
            "unauthenticated" => Self::Unauthenticated(message),
            "permission_denied" => Self::PermissionDenied(message),
            _ => Self::Internal(message),
        }
    }

    /// Outcomes that depend on timing rather than on the request itself.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Unavailable(_)
                | Self::DeadlineExceeded(_)
                | Self::ResourceExhausted { .. }
                | Self::Internal(_)
        )
    }
}
