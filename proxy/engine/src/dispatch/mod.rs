//! The innermost service: runs a validated call against its namespace's
//! backend, with the pattern semantics that do not belong to any backend
//! (idempotency tokens, page tokens, byte-bounded pages, tail fan-out).

pub(crate) mod convert;
mod keyvalue;
mod timeseries;

use std::sync::Arc;
use std::task::{Context, Poll};

use tower::Service;

use crate::call::{Call, Reply};
use crate::idempotency::IdempotencyStore;
use crate::layers::CallFuture;
use crate::tail::TailHub;
use crate::PrismError;

#[derive(Clone, Default)]
pub struct Dispatch {
    idempotency: Arc<IdempotencyStore>,
    tails: Arc<TailHub>,
}

impl Dispatch {
    pub fn new(tails: Arc<TailHub>) -> Self {
        Self { idempotency: Arc::default(), tails }
    }
}

impl Service<Call> for Dispatch {
    type Response = Reply;
    type Error = PrismError;
    type Future = CallFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), PrismError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, call: Call) -> CallFuture {
        let this = self.clone();
        Box::pin(async move {
            let namespace = call
                .namespace
                .clone()
                .ok_or_else(|| PrismError::Internal("dispatch reached without a namespace".into()))?;
            match call.method.pattern() {
                crate::call::Pattern::KeyValue => {
                    keyvalue::handle(&namespace, call.request, &this.idempotency).await
                }
                crate::call::Pattern::TimeSeries => {
                    timeseries::handle(&namespace, call.request, &this.tails).await
                }
            }
        })
    }
}
