//! Validates values against the namespace schema, encrypts PII fields on write,
//! decrypts or masks them on read.
//! STUB: filled in by the PII work (ADR-011); passes calls through for now.

use std::task::{Context, Poll};

use tower::{Layer, Service};

use super::CallFuture;
use crate::call::{Call, Reply};
use crate::PrismError;

#[derive(Clone, Default)]
pub struct PiiLayer;

impl<S> Layer<S> for PiiLayer {
    type Service = ProtectPii<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ProtectPii { inner }
    }
}

#[derive(Clone)]
pub struct ProtectPii<S> {
    inner: S,
}

impl<S> Service<Call> for ProtectPii<S>
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
