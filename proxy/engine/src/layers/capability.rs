//! Refuses calls that need a capability the namespace's backend does not
//! claim (claims come from the plugin's metadata), so an unsupported feature
//! fails loudly with UNIMPLEMENTED instead of being silently ignored (a TTL
//! dropped on the floor, a compare-and-set applied unconditionally).

use std::task::{Context, Poll};

use tower::{Layer, Service};

use super::CallFuture;
use crate::call::{Call, Reply, Request};
use crate::PrismError;

#[derive(Debug, thiserror::Error)]
#[error("namespace '{namespace}' (backend '{backend}') does not support {pattern} capability '{capability}'")]
pub struct Unsupported {
    pub namespace: String,
    pub backend: String,
    pub pattern: &'static str,
    pub capability: &'static str,
}

impl From<Unsupported> for PrismError {
    fn from(err: Unsupported) -> Self {
        PrismError::Unimplemented(err.to_string())
    }
}

fn has_ttl(ttl: Option<&prost_types::Duration>) -> bool {
    ttl.is_some_and(|d| d.seconds > 0 || d.nanos > 0)
}

fn entry_needs(ttl: Option<&prost_types::Duration>, conditional: bool) -> [Option<&'static str>; 2] {
    [has_ttl(ttl).then_some("ttl"), conditional.then_some("cas")]
}

/// The first capability the call needs that `supported` rejects: its method's, then
/// request features (TTL, conditions). Allocation-free: it runs on every request.
pub fn first_missing(call: &Call, supported: impl Fn(&str) -> bool) -> Option<&'static str> {
    let method = call.method.capability();
    if !supported(method) {
        return Some(method);
    }
    let features = |needs: [Option<&'static str>; 2]| needs.into_iter().flatten().find(|c| !supported(c));
    match &call.request {
        Request::Put(r) => features(entry_needs(r.ttl.as_ref(), r.if_absent || r.if_version > 0)),
        Request::BatchPut(r) => r
            .entries
            .iter()
            .find_map(|e| features(entry_needs(e.ttl.as_ref(), e.if_absent || e.if_version > 0))),
        Request::Delete(r) => features([None, (r.if_version > 0).then_some("cas")]),
        _ => None,
    }
}

#[derive(Clone, Default)]
pub struct CapabilityLayer;

impl<S> Layer<S> for CapabilityLayer {
    type Service = CheckCapability<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CheckCapability { inner }
    }
}

#[derive(Clone)]
pub struct CheckCapability<S> {
    inner: S,
}

impl<S> Service<Call> for CheckCapability<S>
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
        if let Some(ns) = call.namespace.as_ref() {
            let pattern = call.method.pattern();
            if let Some(missing) = first_missing(&call, |c| ns.supports(pattern, c)) {
                let err = Unsupported {
                    namespace: ns.name.clone(),
                    backend: ns.backend_kind.clone(),
                    pattern: pattern.name(),
                    capability: missing,
                };
                return Box::pin(async move { Err(err.into()) });
            }
        }
        self.inner.call(call)
    }
}
