//! tonic service implementations: each RPC becomes a `Call` sent through the
//! stack, and the reply is unwrapped back into its response type.

mod keyvalue;
mod timeseries;

pub use keyvalue::KeyValueService;
pub use timeseries::TimeSeriesService;

use std::time::Duration;

use tower::ServiceExt;

use crate::call::{Call, Reply, Request};
use crate::identity::Credentials;
use crate::stack::CallStack;

/// Parses `grpc-timeout` (e.g. "100m", "5S"): the client's deadline.
pub fn grpc_timeout(metadata: &tonic::metadata::MetadataMap) -> Option<Duration> {
    let value = metadata.get("grpc-timeout")?.to_str().ok()?;
    if value.len() < 2 {
        return None;
    }
    let (digits, unit) = value.split_at(value.len() - 1);
    let amount: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(amount.saturating_mul(3600)),
        "M" => Duration::from_secs(amount.saturating_mul(60)),
        "S" => Duration::from_secs(amount),
        "m" => Duration::from_millis(amount),
        "u" => Duration::from_micros(amount),
        "n" => Duration::from_nanos(amount),
        _ => return None,
    })
}

pub(crate) async fn run<T>(
    stack: &CallStack,
    request: tonic::Request<T>,
    wrap: fn(T) -> Request,
) -> Result<Reply, tonic::Status> {
    let deadline = grpc_timeout(request.metadata());
    let credentials = Credentials {
        authorization: request.metadata().get("authorization").cloned(),
        peer_certs: request.peer_certs(),
        peer: request.remote_addr(),
    };
    let call = Call::with_credentials(wrap(request.into_inner()), deadline, credentials);
    stack.clone().oneshot(call).await.map_err(tonic::Status::from)
}

pub(crate) fn mismatch() -> tonic::Status {
    tonic::Status::internal("the stack answered with a reply of another method")
}
