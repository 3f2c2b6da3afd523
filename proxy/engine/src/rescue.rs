//! The single rescue point: every typed error becomes exactly one gRPC status
//! here, with `google.rpc` details where they help the caller fix the request.

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::PrismError;

impl From<PrismError> for Status {
    fn from(err: PrismError) -> Self {
        let message = err.to_string();
        match err {
            PrismError::NotFound(_) => Status::new(Code::NotFound, message),
            PrismError::AlreadyExists(_) => Status::new(Code::AlreadyExists, message),
            PrismError::FailedPrecondition(_) => Status::new(Code::FailedPrecondition, message),
            PrismError::InvalidArgument { field, message } => {
                if field.is_empty() {
                    return Status::new(Code::InvalidArgument, message);
                }
                let details = ErrorDetails::with_bad_request_violation(field, message.clone());
                Status::with_error_details(Code::InvalidArgument, message, details)
            }
            PrismError::ResourceExhausted { retry_after, .. } => match retry_after {
                Some(delay) => {
                    let details = ErrorDetails::with_retry_info(Some(delay));
                    Status::with_error_details(Code::ResourceExhausted, message, details)
                }
                None => Status::new(Code::ResourceExhausted, message),
            },
            PrismError::DeadlineExceeded(_) => Status::new(Code::DeadlineExceeded, message),
            PrismError::Unavailable(_) => Status::new(Code::Unavailable, message),
            PrismError::Unimplemented(_) => Status::new(Code::Unimplemented, message),
            PrismError::Unauthenticated(_) => Status::new(Code::Unauthenticated, message),
            PrismError::PermissionDenied(_) => Status::new(Code::PermissionDenied, message),
            PrismError::Internal(_) => Status::new(Code::Internal, message),
        }
    }
}

/// The gRPC code a result maps to, for metrics and audit without building a Status.
pub fn code_of<T>(result: &Result<T, PrismError>) -> Code {
    match result {
        Ok(_) => Code::Ok,
        Err(err) => match err {
            PrismError::NotFound(_) => Code::NotFound,
            PrismError::AlreadyExists(_) => Code::AlreadyExists,
            PrismError::FailedPrecondition(_) => Code::FailedPrecondition,
            PrismError::InvalidArgument { .. } => Code::InvalidArgument,
            PrismError::ResourceExhausted { .. } => Code::ResourceExhausted,
            PrismError::DeadlineExceeded(_) => Code::DeadlineExceeded,
            PrismError::Unavailable(_) => Code::Unavailable,
            PrismError::Unimplemented(_) => Code::Unimplemented,
            PrismError::Unauthenticated(_) => Code::Unauthenticated,
            PrismError::PermissionDenied(_) => Code::PermissionDenied,
            PrismError::Internal(_) => Code::Internal,
        },
    }
}
