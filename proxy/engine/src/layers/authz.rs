//! Checks the namespace access policy against the permission of the RPC (from
//! the generated route table) and the caller's identity, before any work is
//! done for the caller. The default policy (`*` for read and write) costs one
//! table read and one flag test.

use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use tower::{Layer, Service};

use super::CallFuture;
use crate::call::{Call, Method, Reply};
use crate::metrics::Metrics;
use crate::policy::permission_name;
use crate::routes_generated::Permission;
use crate::PrismError;

/// The permission an RPC needs, indexed by method (the route table is searched once).
pub fn permission_of(method: Method) -> Permission {
    static TABLE: OnceLock<[Permission; Method::ALL.len()]> = OnceLock::new();
    TABLE.get_or_init(|| Method::ALL.map(|m| m.route().permission))[method as usize]
}

#[derive(Debug, thiserror::Error)]
#[error("principal '{principal}' lacks permission '{permission}' on namespace '{namespace}'")]
pub struct Denied {
    pub principal: String,
    pub permission: &'static str,
    pub namespace: String,
}

impl From<Denied> for PrismError {
    fn from(err: Denied) -> Self {
        PrismError::PermissionDenied(err.to_string())
    }
}

#[derive(Clone, Default)]
pub struct AuthzLayer {
    metrics: Arc<Metrics>,
}

impl AuthzLayer {
    /// Denials are counted in `prism_authz_denied_total` of `metrics`.
    pub fn new(metrics: Arc<Metrics>) -> Self {
        Self { metrics }
    }
}

impl<S> Layer<S> for AuthzLayer {
    type Service = Authorize<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Authorize { inner, metrics: self.metrics.clone() }
    }
}

#[derive(Clone)]
pub struct Authorize<S> {
    inner: S,
    metrics: Arc<Metrics>,
}

impl<S> Service<Call> for Authorize<S>
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
            let permission = permission_of(call.method);
            if !ns.policy.permits(permission, &call.identity) {
                self.metrics.security.authz_denied.fetch_add(1, Ordering::Relaxed);
                let err = Denied {
                    principal: call.identity.principal.clone(),
                    permission: permission_name(permission),
                    namespace: ns.name.clone(),
                };
                return Box::pin(async move { Err(err.into()) });
            }
        }
        self.inner.call(call)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_permission_table_follows_the_routes() {
        for (i, method) in Method::ALL.iter().enumerate() {
            assert_eq!(*method as usize, i, "Method::ALL must list methods in declaration order");
            assert_eq!(permission_of(*method), method.route().permission, "{}", method.name());
        }
    }
}
