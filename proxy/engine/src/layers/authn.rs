//! Authenticates the caller (mTLS identity, bearer JWT) and sets `call.identity`.
//! STUB: filled in by the authn work (ADR-010); passes calls through for now.

use std::task::{Context, Poll};

use tower::{Layer, Service};

use super::CallFuture;
use crate::call::{Call, Reply};
use crate::PrismError;

#[derive(Clone, Default)]
pub struct AuthnLayer;

impl<S> Layer<S> for AuthnLayer {
    type Service = Authenticate<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Authenticate { inner }
    }
}

#[derive(Clone)]
pub struct Authenticate<S> {
    inner: S,
}

impl<S> Service<Call> for Authenticate<S>
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
