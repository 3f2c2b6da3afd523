//! Records every data access to the audit log, off the hot path.
//! STUB: filled in by the audit work (ADR-010); passes calls through for now.

use std::task::{Context, Poll};

use tower::{Layer, Service};

use super::CallFuture;
use crate::call::{Call, Reply};
use crate::PrismError;

#[derive(Clone, Default)]
pub struct AuditLayer;

impl<S> Layer<S> for AuditLayer {
    type Service = Audit<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Audit { inner }
    }
}

#[derive(Clone)]
pub struct Audit<S> {
    inner: S,
}

impl<S> Service<Call> for Audit<S>
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
        self.inner.call(call)
    }
}
