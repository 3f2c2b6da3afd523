//! Concurrency limit with load shedding: past `max_concurrency` requests in
//! flight, new ones fail at once with RESOURCE_EXHAUSTED instead of queueing
//! without bound (queues hide overload and turn it into timeouts).

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::Semaphore;
use tower::{Layer, Service};

use super::CallFuture;
use crate::call::{Call, Reply};
use crate::PrismError;

#[derive(Debug, thiserror::Error)]
#[error("server overloaded: {limit} requests already in flight; retry with backoff")]
pub struct Overloaded {
    pub limit: usize,
}

impl From<Overloaded> for PrismError {
    fn from(err: Overloaded) -> Self {
        PrismError::ResourceExhausted {
            message: err.to_string(),
            retry_after: Some(Duration::from_millis(50)),
        }
    }
}

#[derive(Clone)]
pub struct LoadShedLayer {
    permits: Arc<Semaphore>,
    limit: usize,
}

impl LoadShedLayer {
    pub fn new(limit: usize) -> Self {
        Self { permits: Arc::new(Semaphore::new(limit)), limit }
    }

    /// Requests currently holding a permit.
    pub fn in_flight(&self) -> usize {
        self.limit - self.permits.available_permits()
    }
}

impl<S> Layer<S> for LoadShedLayer {
    type Service = LoadShed<S>;

    fn layer(&self, inner: S) -> Self::Service {
        LoadShed { inner, permits: self.permits.clone(), limit: self.limit }
    }
}

#[derive(Clone)]
pub struct LoadShed<S> {
    inner: S,
    permits: Arc<Semaphore>,
    limit: usize,
}

impl<S> Service<Call> for LoadShed<S>
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
        let Ok(permit) = self.permits.clone().try_acquire_owned() else {
            let err = Overloaded { limit: self.limit };
            return Box::pin(async move { Err(err.into()) });
        };
        let fut = self.inner.call(call);
        Box::pin(async move {
            let result = fut.await;
            drop(permit);
            result
        })
    }
}
