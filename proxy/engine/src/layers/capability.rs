//! Refuses calls that need a capability the namespace's backend does not
//! claim (claims come from the plugin's metadata), so an unsupported feature
//! fails loudly with UNIMPLEMENTED instead of being silently ignored (a TTL
//! dropped on the floor, a compare-and-set applied unconditionally).

use std::task::{Context, Poll};

use tower::{Layer, Service};

use super::CallFuture;
use crate::call::{Call, Reply, Request};
use crate::pb::kv;
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

fn entry_needs(e: &kv::PutEntry, needs: &mut Vec<&'static str>) {
    if has_ttl(e.ttl.as_ref()) {
        needs.push("ttl");
    }
    if e.if_absent || e.if_version > 0 {
        needs.push("cas");
    }
}

/// Every capability a call needs: its method's, plus request features.
pub fn required(call: &Call) -> Vec<&'static str> {
    let mut needs = vec![call.method.capability()];
    match &call.request {
        Request::Put(r) => {
            if has_ttl(r.ttl.as_ref()) {
                needs.push("ttl");
            }
            if r.if_absent || r.if_version > 0 {
                needs.push("cas");
            }
        }
        Request::BatchPut(r) => r.entries.iter().for_each(|e| entry_needs(e, &mut needs)),
        Request::Delete(r) if r.if_version > 0 => needs.push("cas"),
        _ => {}
    }
    needs
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
            if let Some(missing) = required(&call).into_iter().find(|c| !ns.supports(pattern, c)) {
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
