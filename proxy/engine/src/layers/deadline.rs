//! Bounds every call by the client's deadline (`grpc-timeout`) or the server
//! default, so a slow backend can never hold a request forever.

use std::task::{Context, Poll};
use std::time::Duration;

use tower::{Layer, Service};

use super::CallFuture;
use crate::call::{Call, Reply};
use crate::PrismError;

#[derive(Debug, thiserror::Error)]
#[error("deadline of {deadline:?} exceeded in {method} on namespace '{namespace}'")]
pub struct Elapsed {
    pub deadline: Duration,
    pub method: &'static str,
    pub namespace: String,
}

impl From<Elapsed> for PrismError {
    fn from(err: Elapsed) -> Self {
        PrismError::DeadlineExceeded(err.to_string())
    }
}

#[derive(Clone)]
pub struct DeadlineLayer {
    default: Duration,
}

impl DeadlineLayer {
    pub fn new(default: Duration) -> Self {
        Self { default }
    }
}

impl<S> Layer<S> for DeadlineLayer {
    type Service = Deadline<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Deadline { inner, default: self.default }
    }
}

#[derive(Clone)]
pub struct Deadline<S> {
    inner: S,
    default: Duration,
}

impl<S> Service<Call> for Deadline<S>
where
    S: Service<Call, Response = Reply, Error = PrismError, Future = CallFuture>,
{
    type Response = Reply;
    type Error = PrismError;
    type Future = CallFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), PrismError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, call: Call) -> CallFuture {
        let deadline = call.deadline.unwrap_or(self.default);
        let method = call.method.name();
        let namespace = call.namespace_name().to_string();
        let fut = self.inner.call(call);
        Box::pin(async move {
            match tokio::time::timeout(deadline, fut).await {
                Ok(result) => result,
                Err(_) => Err(Elapsed { deadline, method, namespace }.into()),
            }
        })
    }
}
